//! `POST /hooks/git`: a forge's push webhook asks the controller to fetch now.
//!
//! Each forge proves the sender its own way, and each is checked against
//! `controller.git_webhook_secret`: GitHub signs the raw body (`X-Hub-Signature-256:
//! sha256=<hex HMAC-SHA256>`), Gitea and Forgejo likewise without the prefix
//! (`X-Gitea-Signature`, `X-Forgejo-Signature`), GitLab sends the secret itself
//! (`X-Gitlab-Token`, compared in constant time). The payload is not trusted beyond its `ref`:
//! a push to another branch is ignored; a push to ours only triggers a fetch, and the fetched
//! commit is what counts.

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::billing::webhook::constant_time_eq;

/// What a verified delivery asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Push {
    /// A push to the branch the controller follows: fetch now.
    Ours,
    /// A push elsewhere (another branch, a tag) or another event (a ping): nothing to do.
    Other(String),
}

/// Why a delivery was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("no signature: send X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token")]
    Unsigned,
    #[error("the signature does not match the body and controller.git_webhook_secret")]
    BadSignature,
}

/// Verifies a push delivery and says whether it concerns `branch`.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &[u8],
    branch: &str,
) -> Result<Push, HookError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = if let Some(sig) = header("x-hub-signature-256") {
        let hex_sig = sig.strip_prefix("sha256=").ok_or(HookError::BadSignature)?;
        hmac_matches(secret, body, hex_sig)
    } else if let Some(sig) = header("x-gitea-signature").or(header("x-forgejo-signature")) {
        hmac_matches(secret, body, sig)
    } else if let Some(token) = header("x-gitlab-token") {
        !secret.is_empty() && constant_time_eq(token.as_bytes(), secret)
    } else {
        return Err(HookError::Unsigned);
    };
    if !signed {
        return Err(HookError::BadSignature);
    }
    let payload: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let wanted = format!("refs/heads/{branch}");
    match payload.get("ref").and_then(|r| r.as_str()) {
        Some(r) if r == wanted => Ok(Push::Ours),
        Some(r) => Ok(Push::Other(format!("a push to {r}, not {wanted}"))),
        None => Ok(Push::Other("not a push event".into())),
    }
}

fn hmac_matches(secret: &[u8], body: &[u8], hex_sig: &str) -> bool {
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    !secret.is_empty() && mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"hook-secret";
    const BODY: &[u8] = br#"{"ref":"refs/heads/main","after":"abc"}"#;

    fn sign(body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn each_forge_is_verified_its_own_way() {
        let github = headers(&[("x-hub-signature-256", format!("sha256={}", sign(BODY)))]);
        let gitea = headers(&[("x-gitea-signature", sign(BODY))]);
        let forgejo = headers(&[("x-forgejo-signature", sign(BODY))]);
        let gitlab = headers(&[("x-gitlab-token", "hook-secret".to_string())]);
        for h in [&github, &gitea, &forgejo, &gitlab] {
            assert_eq!(verify(h, BODY, SECRET, "main"), Ok(Push::Ours));
        }
        // The same deliveries with a changed body, another secret, or no proof.
        let tampered = br#"{"ref":"refs/heads/main","after":"abd"}"#;
        for h in [&github, &gitea, &forgejo] {
            assert_eq!(
                verify(h, tampered, SECRET, "main"),
                Err(HookError::BadSignature)
            );
        }
        assert_eq!(
            verify(&gitlab, BODY, b"other", "main"),
            Err(HookError::BadSignature)
        );
        assert_eq!(
            verify(&HeaderMap::new(), BODY, SECRET, "main"),
            Err(HookError::Unsigned)
        );
        let unprefixed = headers(&[("x-hub-signature-256", sign(BODY))]);
        assert_eq!(
            verify(&unprefixed, BODY, SECRET, "main"),
            Err(HookError::BadSignature)
        );
        // An empty secret never verifies anything.
        let empty = headers(&[("x-gitlab-token", String::new())]);
        assert_eq!(
            verify(&empty, BODY, b"", "main"),
            Err(HookError::BadSignature)
        );
    }

    #[test]
    fn a_push_to_another_branch_is_ignored() {
        let body = br#"{"ref":"refs/heads/feature"}"#;
        let h = headers(&[("x-gitea-signature", sign(body))]);
        assert!(matches!(
            verify(&h, body, SECRET, "main"),
            Ok(Push::Other(_))
        ));
        let ping = br#"{"zen":"Keep it logically awesome."}"#;
        let h = headers(&[("x-hub-signature-256", format!("sha256={}", sign(ping)))]);
        assert!(matches!(
            verify(&h, ping, SECRET, "main"),
            Ok(Push::Other(_))
        ));
    }
}
