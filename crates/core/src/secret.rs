//! Secrets: resolving credential references (`env:NAME`, `file:PATH`) to the text they name,
//! for devices (SNMP communities and keys, SSH passwords), billing APIs and webhooks alike.
//!
//! One rule for all: an environment variable's value as it is; a file's contents less one
//! trailing newline (`\n` or `\r\n`, as `echo` and editors leave it; anything before it is
//! kept). Whether empty is allowed depends on what the secret is for, and is said where it is
//! resolved: an empty SSH password is legitimate (a factory GAM's `admin` has none), so
//! [`resolve`] takes it; an empty API secret or webhook secret would authenticate nothing, so
//! [`resolve_required`] refuses it. Errors name the reference, never the secret. A [`Secret`]
//! prints as `<redacted>`.

use std::fmt;

use crate::model::Credential;

/// A resolved secret (a community, a password). Its `Debug` never shows the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret known in code (a test's lab password, say).
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret's text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a credential reference could not be resolved. The messages name the reference only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("environment variable {name} (from env:{name}) is not set")]
    EnvMissing { name: String },
    #[error("environment variable {name} (from env:{name}) is not valid UTF-8")]
    EnvNotUnicode { name: String },
    #[error("cannot read file:{path}: {reason}")]
    File { path: String, reason: String },
    #[error("file:{path} is not valid UTF-8")]
    FileNotUnicode { path: String },
    #[error("a secret is written literally in the inventory; write env:NAME or file:PATH instead")]
    Literal,
    #[error("{reference} is empty, and this secret cannot be")]
    Empty { reference: String },
}

/// Resolves one reference: the variable's value, or the file's contents less one trailing
/// newline (`\n` or `\r\n`). [`Credential::Empty`] is the empty secret.
pub fn resolve(credential: &Credential) -> Result<Secret, CredentialError> {
    match credential {
        Credential::Empty => Ok(Secret::new("")),
        Credential::Literal(_) => Err(CredentialError::Literal),
        Credential::Env(name) => match std::env::var(name) {
            Ok(value) => Ok(Secret(value)),
            Err(std::env::VarError::NotPresent) => {
                Err(CredentialError::EnvMissing { name: name.clone() })
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(CredentialError::EnvNotUnicode { name: name.clone() })
            }
        },
        Credential::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| CredentialError::File {
                path: path.clone(),
                reason: io_reason(&e),
            })?;
            let mut text = String::from_utf8(bytes)
                .map_err(|_| CredentialError::FileNotUnicode { path: path.clone() })?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            Ok(Secret(text))
        }
    }
}

/// Resolves a reference that must not be empty (an API key or secret, a webhook secret):
/// as [`resolve`], and an empty value is an error.
pub fn resolve_required(credential: &Credential) -> Result<Secret, CredentialError> {
    let secret = resolve(credential)?;
    if secret.is_empty() {
        return Err(CredentialError::Empty {
            reference: match credential {
                Credential::Env(name) => format!("env:{name}"),
                Credential::File(path) => format!("file:{path}"),
                _ => "the secret".to_string(),
            },
        });
    }
    Ok(secret)
}

/// An I/O error's kind in words, without the OS's message (which may quote a path, never the
/// contents, but keep it short).
fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        kind => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secret_loses_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("community");
        std::fs::write(&path, "s3cret\n").unwrap();
        let cred = Credential::File(path.display().to_string());
        assert_eq!(resolve(&cred).unwrap().expose(), "s3cret");
        std::fs::write(&path, "s3cret\r\n").unwrap();
        assert_eq!(resolve(&cred).unwrap().expose(), "s3cret");
        std::fs::write(&path, "two\n\n").unwrap();
        assert_eq!(resolve(&cred).unwrap().expose(), "two\n");
    }

    #[test]
    fn errors_name_the_reference_not_the_secret() {
        let missing = Credential::Env("GAMOPS_TEST_SURELY_UNSET_VARIABLE".into());
        let err = resolve(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable GAMOPS_TEST_SURELY_UNSET_VARIABLE \
             (from env:GAMOPS_TEST_SURELY_UNSET_VARIABLE) is not set"
        );
        let err = resolve(&Credential::File("/nonexistent/gamops/secret".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read file:/nonexistent/gamops/secret: no such file"
        );
        let err = resolve(&Credential::Literal("hunter2".into())).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(resolve(&Credential::Empty).unwrap().expose(), "");
        let err = resolve_required(&Credential::Empty).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the secret is empty, and this secret cannot be"
        );
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }
}
