//! Configuration of one simulated device's SSH server: host key, users, limits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PublicKey};

use super::SshError;
use super::faults::SshFaults;

/// The GAM's factory-default user (CLI guide §1.1: `admin` with an empty password).
pub const DEFAULT_USER: &str = "admin";

/// Concurrent CLI sessions per device: ICLI has 16 vty sessions (`ICLI_SESSION_CNT` 17 minus
/// the console).
pub const DEFAULT_MAX_SESSIONS: usize = 16;

/// The ICLI default exec-timeout: idle sessions close after 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a failed authentication takes to answer. Short, since the lab is local; russh
/// keeps rejections at this constant time.
pub const DEFAULT_AUTH_REJECTION_TIME: Duration = Duration::from_millis(100);

/// The SSH host key of a simulated device (Ed25519).
///
/// Tests pin it with [`HostKey::from_seed`]; the lab can persist it with
/// [`HostKey::to_openssh_private`] and reload it with [`HostKey::from_openssh_private`] so a
/// device keeps its identity across restarts.
#[derive(Clone)]
pub struct HostKey {
    key: PrivateKey,
    public_openssh: String,
}

impl HostKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, SshError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SshError::KeyGeneration(e.to_string()))?;
        Self::from_seed(seed)
    }

    /// The key derived from a fixed 32-byte Ed25519 seed (deterministic; for tests and demos).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, SshError> {
        Self::from_private(PrivateKey::from(Ed25519Keypair::from_seed(&seed)))
    }

    /// Load a key from OpenSSH private key text (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    /// Only unencrypted Ed25519 keys are accepted.
    pub fn from_openssh_private(pem: &str) -> Result<Self, SshError> {
        let key = PrivateKey::from_openssh(pem).map_err(|e| SshError::Key(e.to_string()))?;
        if key.is_encrypted() || key.algorithm() != russh::keys::Algorithm::Ed25519 {
            return Err(SshError::Key(
                "the host key must be an unencrypted Ed25519 key".into(),
            ));
        }
        Self::from_private(key)
    }

    fn from_private(key: PrivateKey) -> Result<Self, SshError> {
        let public_openssh = key
            .public_key()
            .to_openssh()
            .map_err(|e| SshError::Key(e.to_string()))?;
        Ok(Self {
            key,
            public_openssh,
        })
    }

    /// The private key as OpenSSH text, for saving it.
    pub fn to_openssh_private(&self) -> Result<String, SshError> {
        self.key
            .to_openssh(LineEnding::LF)
            .map(|s| s.to_string())
            .map_err(|e| SshError::Key(e.to_string()))
    }

    /// The public key in OpenSSH format, e.g. `ssh-ed25519 AAAAC3Nz...`.
    pub fn public_key_openssh(&self) -> &str {
        &self.public_openssh
    }

    /// The SHA-256 fingerprint as OpenSSH prints it, e.g. `SHA256:uO2Z...`.
    pub fn fingerprint_sha256(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// A `known_hosts` line for this key at `host`:`port` (the `[host]:port` form when the
    /// port is not 22), for `StrictHostKeyChecking=yes`.
    pub fn known_hosts_line(&self, host: &str, port: u16) -> String {
        if port == 22 {
            format!("{host} {}", self.public_openssh)
        } else {
            format!("[{host}]:{port} {}", self.public_openssh)
        }
    }

    pub(super) fn private_key(&self) -> &PrivateKey {
        &self.key
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the private half.
        f.debug_struct("HostKey")
            .field("public", &self.public_openssh)
            .finish()
    }
}

/// A user who may log in, by password, by public key, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshUser {
    /// The login name.
    pub name: String,
    /// The password; `Some("")` is an empty password (the GAM's factory default), `None`
    /// disables password and keyboard-interactive logins for this user.
    pub password: Option<String>,
    /// Public keys accepted for this user.
    pub authorized_keys: Vec<PublicKey>,
}

impl SshUser {
    /// A user who logs in with `password`.
    pub fn with_password(name: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            password: Some(password.into()),
            authorized_keys: Vec::new(),
        }
    }

    /// A user who logs in with a public key only.
    pub fn with_key(name: impl Into<String>, key: PublicKey) -> Self {
        Self {
            name: name.into(),
            password: None,
            authorized_keys: vec![key],
        }
    }

    /// This user, also accepting `key`.
    #[must_use]
    pub fn and_key(mut self, key: PublicKey) -> Self {
        self.authorized_keys.push(key);
        self
    }

    /// This user, also accepting the key of an `authorized_keys` line
    /// (`ssh-ed25519 AAAA... comment`).
    pub fn and_key_openssh(self, line: &str) -> Result<Self, SshError> {
        let key = PublicKey::from_openssh(line.trim()).map_err(|e| SshError::Key(e.to_string()))?;
        Ok(self.and_key(key))
    }

    pub(super) fn accepts_password(&self, password: &str) -> bool {
        self.password.as_deref() == Some(password)
    }

    pub(super) fn accepts_key(&self, key: &PublicKey) -> bool {
        self.authorized_keys
            .iter()
            .any(|k| k.key_data() == key.key_data())
    }
}

/// The SSH server of one simulated device.
#[derive(Clone, Debug)]
pub struct SshServerConfig {
    /// The host key clients pin.
    pub host_key: HostKey,
    /// Who may log in.
    pub users: Vec<SshUser>,
    /// Concurrent CLI sessions (shell or exec channels); the next one is refused with a
    /// message on its channel.
    pub max_sessions: usize,
    /// Close a session that receives no input for this long; `None` never does.
    pub idle_timeout: Option<Duration>,
    /// How long a failed authentication takes to answer.
    pub auth_rejection_time: Duration,
    /// Run-time faults, shared with the lab which changes them while the server runs.
    pub faults: Arc<SshFaults>,
}

impl SshServerConfig {
    /// The GAM's factory defaults: user `admin` with an empty password, 16 sessions, a
    /// 600 s idle timeout, and the given host key.
    pub fn gam_default(host_key: HostKey) -> Self {
        Self {
            host_key,
            users: vec![SshUser::with_password(DEFAULT_USER, "")],
            max_sessions: DEFAULT_MAX_SESSIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            auth_rejection_time: DEFAULT_AUTH_REJECTION_TIME,
            faults: Arc::new(SshFaults::default()),
        }
    }

    pub(super) fn user(&self, name: &str) -> Option<&SshUser> {
        self.users.iter().find(|u| u.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seeded_key_is_stable_and_round_trips() {
        let a = HostKey::from_seed([7; 32]).unwrap();
        let b = HostKey::from_seed([7; 32]).unwrap();
        assert_eq!(a.public_key_openssh(), b.public_key_openssh());
        assert!(a.public_key_openssh().starts_with("ssh-ed25519 AAAA"));
        assert!(a.fingerprint_sha256().starts_with("SHA256:"));
        let pem = a.to_openssh_private().unwrap();
        let c = HostKey::from_openssh_private(&pem).unwrap();
        assert_eq!(a.public_key_openssh(), c.public_key_openssh());
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn generated_keys_differ() {
        let a = HostKey::generate().unwrap();
        let b = HostKey::generate().unwrap();
        assert_ne!(a.public_key_openssh(), b.public_key_openssh());
    }

    #[test]
    fn known_hosts_line_uses_brackets_off_port_22() {
        let k = HostKey::from_seed([1; 32]).unwrap();
        assert!(
            k.known_hosts_line("127.0.0.1", 2201)
                .starts_with("[127.0.0.1]:2201 ssh-ed25519 ")
        );
        assert!(
            k.known_hosts_line("gam1", 22)
                .starts_with("gam1 ssh-ed25519 ")
        );
    }

    #[test]
    fn garbage_keys_are_errors() {
        assert!(HostKey::from_openssh_private("nope").is_err());
        assert!(
            SshUser::with_password("a", "")
                .and_key_openssh("ssh-ed25519 !!")
                .is_err()
        );
    }

    #[test]
    fn empty_password_is_a_password() {
        let u = SshUser::with_password("admin", "");
        assert!(u.accepts_password(""));
        assert!(!u.accepts_password("x"));
        let k = HostKey::from_seed([2; 32]).unwrap();
        let pk = k.private_key().public_key().clone();
        let u = SshUser::with_key("ops", pk.clone());
        assert!(!u.accepts_password(""));
        assert!(u.accepts_key(&pk));
    }
}
