//! One SSH CLI session with a GAM: connect with a pinned host key, log in, open a shell on a
//! PTY, find the prompt, turn the pager off, then send one command at a time and read up to the
//! next prompt, catching the device's `%` error lines.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, client};

use super::dialect;
use crate::secret::Secret;

/// How to log in.
#[derive(Clone, Debug)]
pub enum CliAuth {
    Password(Secret),
    Key(Arc<PrivateKey>),
}

/// What to accept as the device's host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Only this key: an OpenSSH public key line, or its `SHA256:...` fingerprint.
    Pinned(String),
    /// First contact: accept any key (the session reports it, to be recorded).
    AcceptNew,
}

impl HostKeyPolicy {
    /// The policy for a device: the key pinned in its file, else the key recorded in the store
    /// on first contact (a changed key is refused even with `--accept-new-host-keys`), else any
    /// key when `accept_new` (first contact: the session's key is then to be recorded, see
    /// [`openssh_line`]), else an error saying how to pin one.
    pub fn for_device(
        pinned: Option<&str>,
        recorded: Option<&str>,
        accept_new: bool,
    ) -> Result<HostKeyPolicy, &'static str> {
        match (pinned, recorded, accept_new) {
            (Some(pin), _, _) => Ok(HostKeyPolicy::Pinned(pin.to_string())),
            (None, Some(known), _) => Ok(HostKeyPolicy::Pinned(known.to_string())),
            (None, None, true) => Ok(HostKeyPolicy::AcceptNew),
            (None, None, false) => Err(
                "pins no SSH host key; set ssh.host_key (SHA256:...), or run with --accept-new-host-keys on first contact",
            ),
        }
    }

    /// This policy once the store is asked: accepting any key becomes pinning the key recorded
    /// on first contact, when there is one.
    pub fn with_recorded(self, recorded: Option<String>) -> HostKeyPolicy {
        match (self, recorded) {
            (HostKeyPolicy::AcceptNew, Some(known)) => HostKeyPolicy::Pinned(known),
            (policy, _) => policy,
        }
    }
}

/// A host key as one OpenSSH public key line (`ssh-ed25519 AAAA...`), as the store records it
/// and as `ssh.host_key` takes it.
pub fn openssh_line(key: &PublicKey) -> String {
    key.to_openssh().unwrap_or_else(|_| fingerprint(key))
}

#[derive(Clone, Debug)]
pub struct CliTarget {
    pub addr: SocketAddr,
    pub username: String,
    pub auth: CliAuth,
    pub host_key: HostKeyPolicy,
    /// For connecting and logging in.
    pub connect_timeout: Duration,
    /// For each command's answer.
    pub command_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("the host key of {addr} changed: expected {expected}, got {got}")]
    HostKeyChanged {
        addr: SocketAddr,
        expected: String,
        got: String,
    },
    #[error("{addr} has no pinned host key (it offers {got})")]
    HostKeyUnknown { addr: SocketAddr, got: String },
    #[error("login as {user} refused")]
    AuthFailed { user: String },
    #[error("the device refused the session: {0}")]
    Refused(String),
    #[error("no answer within {seconds} s while waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    #[error("the session closed while waiting for {what}")]
    Closed { what: String },
    #[error("the device rejected `{command}`: {message}")]
    Rejected { command: String, message: String },
    #[error("ssh: {0}")]
    Ssh(String),
    /// A line holding a control character (a newline would send a second command): never sent.
    #[error("refusing to send {0}: it holds a control character")]
    UnsafeLine(String),
}

impl CliError {
    /// Whether the session itself was lost (closed, silent, broken) rather than a command
    /// refused: the device rebooted, or the network or the device went away.
    pub fn is_session_lost(&self) -> bool {
        matches!(
            self,
            CliError::Closed { .. } | CliError::Timeout { .. } | CliError::Ssh(_)
        )
    }

    /// A hint for the person reading the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CliError::HostKeyChanged { .. } => Some(
                "if the device was replaced or reset, check its key and update ssh.host_key; otherwise someone may be in the middle",
            ),
            CliError::HostKeyUnknown { .. } => {
                Some("record the key in ssh.host_key, or run once with --accept-new-host-keys")
            }
            CliError::AuthFailed { .. } => {
                Some("check ssh.username and the password or key it refers to")
            }
            CliError::Refused(_) => {
                Some("the device's CLI sessions may all be in use; try again later")
            }
            _ => None,
        }
    }
}

/// The SHA-256 fingerprint of a key, as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

fn matches_pin(pin: &str, key: &PublicKey) -> bool {
    if pin.starts_with("SHA256:") {
        return pin == fingerprint(key);
    }
    PublicKey::from_openssh(pin.trim()).is_ok_and(|p| p.key_data() == key.key_data())
}

struct Handler {
    policy: HostKeyPolicy,
    seen: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Handler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Host certificates are not used by GAMs; only plain keys can be pinned.
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(key.clone());
        }
        Ok(match &self.policy {
            HostKeyPolicy::AcceptNew => true,
            HostKeyPolicy::Pinned(pin) => matches_pin(pin, key),
        })
    }
}

/// A logged-in CLI session.
pub struct CliSession {
    handle: client::Handle<Handler>,
    channel: russh::Channel<client::Msg>,
    /// Output not consumed yet.
    buf: String,
    /// The device's name as its prompt shows it (`gam1` for `gam1#`).
    hostname: String,
    host_key: PublicKey,
    timeout: Duration,
}

/// What a command printed, from the device's raw text up to and including the next prompt:
/// line endings normalised, the echo of the command and the prompt removed, and the device's
/// `%` complaint as an error. Pure, so it is fuzzed (`fuzz/fuzz_targets/cli_output.rs`).
pub fn answer_of(raw: &str, command: &str) -> Result<String, CliError> {
    let text = raw.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop(); // the prompt
    if lines
        .first()
        .is_some_and(|l| l.trim_end().ends_with(command.trim()))
    {
        lines.remove(0); // the echo
    }
    let output = lines.join("\n");
    match dialect::error_in(&output) {
        Some(message) => Err(CliError::Rejected {
            command: command.to_string(),
            message,
        }),
        None => Ok(output),
    }
}

/// The prompt at the end of `text`, if the device is waiting for a command: `NAME#` or
/// `NAME(config...)#`, after the last line break.
pub fn prompt_at_end(text: &str) -> Option<&str> {
    let last = text.rsplit(['\n', '\r']).next()?.trim_end();
    let name = last.strip_suffix('#')?;
    let base = name.split('(').next()?;
    (!base.is_empty() && !base.contains(char::is_whitespace)).then_some(base)
}

impl CliSession {
    /// Connects, checks the host key, logs in, opens the shell and turns paging off.
    pub async fn connect(target: &CliTarget) -> Result<CliSession, CliError> {
        let addr = target.addr;
        let seen = Arc::new(Mutex::new(None));
        let handler = Handler {
            policy: target.host_key.clone(),
            seen: seen.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(target.command_timeout * 4),
            // One short command at a time: Nagle's algorithm would hold each one back until
            // the previous segment is acknowledged (a delayed ACK later), as OpenSSH avoids for
            // interactive sessions.
            nodelay: true,
            ..client::Config::default()
        });
        let connect = tokio::time::timeout(
            target.connect_timeout,
            client::connect(config, addr, handler),
        )
        .await;
        let seen_key = || seen.lock().ok().and_then(|s| s.clone());
        let mut handle = match connect {
            Err(_) => {
                return Err(CliError::Timeout {
                    what: format!("the SSH handshake with {addr}"),
                    seconds: target.connect_timeout.as_secs(),
                });
            }
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                if let (Some(key), HostKeyPolicy::Pinned(pin)) = (seen_key(), &target.host_key)
                    && !matches_pin(pin, &key)
                {
                    return Err(CliError::HostKeyChanged {
                        addr,
                        // A recorded key is a whole OpenSSH line: show its fingerprint.
                        expected: PublicKey::from_openssh(pin.trim())
                            .map_or_else(|_| pin.clone(), |k| fingerprint(&k)),
                        got: fingerprint(&key),
                    });
                }
                return Err(CliError::Connect {
                    addr,
                    reason: e.to_string(),
                });
            }
        };
        let host_key =
            seen_key().ok_or_else(|| CliError::Ssh("the server showed no host key".into()))?;

        let auth = async {
            match &target.auth {
                CliAuth::Password(p) => {
                    handle
                        .authenticate_password(&target.username, p.expose())
                        .await
                }
                CliAuth::Key(k) => {
                    let hash = handle.best_supported_rsa_hash().await?.flatten();
                    handle
                        .authenticate_publickey(
                            &target.username,
                            PrivateKeyWithHashAlg::new(k.clone(), hash),
                        )
                        .await
                }
            }
        };
        let ok = tokio::time::timeout(target.connect_timeout, auth)
            .await
            .map_err(|_| CliError::Timeout {
                what: "the login".into(),
                seconds: target.connect_timeout.as_secs(),
            })?
            .map_err(|e| CliError::Ssh(e.to_string()))?;
        if !ok.success() {
            return Err(CliError::AuthFailed {
                user: target.username.clone(),
            });
        }
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| CliError::Ssh(e.to_string()))?;
        channel
            .request_pty(true, "vt100", 200, 24, 0, 0, &[])
            .await
            .map_err(|e| CliError::Ssh(e.to_string()))?;
        channel
            .request_shell(true)
            .await
            .map_err(|e| CliError::Ssh(e.to_string()))?;
        let mut session = CliSession {
            handle,
            channel,
            buf: String::new(),
            hostname: String::new(),
            host_key,
            timeout: target.command_timeout,
        };
        let banner = session.read_to_prompt("the first prompt").await?;
        if let Some(name) = prompt_at_end(&banner) {
            session.hostname = name.to_string();
        }
        session.run(dialect::TERMINAL_LENGTH_0).await?;
        Ok(session)
    }

    /// The host key the device showed.
    pub fn host_key(&self) -> &PublicKey {
        &self.host_key
    }

    /// The device's name as its prompt shows it.
    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    /// Reads until the device shows its prompt; returns everything read, prompt included.
    async fn read_to_prompt(&mut self, what: &str) -> Result<String, CliError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if prompt_at_end(&self.buf).is_some() {
                return Ok(std::mem::take(&mut self.buf));
            }
            if self
                .buf
                .trim_end()
                .ends_with("-- more --, next page: Space, continue: g, quit: ^C")
            {
                // Paging should be off; if it is not, ask for the rest.
                self.send(b"g").await?;
            }
            let msg = tokio::time::timeout_at(deadline, self.channel.wait())
                .await
                .map_err(|_| CliError::Timeout {
                    what: what.to_string(),
                    seconds: self.timeout.as_secs(),
                })?;
            match msg {
                Some(ChannelMsg::Data { data }) => {
                    self.buf.push_str(&String::from_utf8_lossy(&data))
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => {
                    self.buf.push_str(&String::from_utf8_lossy(&data))
                }
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    let said = self.buf.trim();
                    if said.starts_with('%') {
                        return Err(CliError::Refused(said.to_string()));
                    }
                    return Err(CliError::Closed {
                        what: what.to_string(),
                    });
                }
                Some(_) => {}
            }
        }
    }

    async fn send(&self, bytes: &[u8]) -> Result<(), CliError> {
        self.channel
            .data(bytes)
            .await
            .map_err(|e| CliError::Ssh(e.to_string()))
    }

    /// Sends one command line and returns its output (without the echo and the next prompt).
    /// A `%` line in the output is the device refusing the command.
    pub async fn run(&mut self, command: &str) -> Result<String, CliError> {
        // The dialect refuses such values already; this guards every other path to the wire.
        if command.chars().any(char::is_control) {
            return Err(CliError::UnsafeLine(dialect::escape_debug(command)));
        }
        self.send(format!("{command}\r").as_bytes()).await?;
        let raw = self
            .read_to_prompt(&format!("the answer to `{command}`"))
            .await?;
        answer_of(&raw, command)
    }

    /// `copy running-config startup-config`, retried while another save runs.
    pub async fn save(&mut self, attempts: u32, pause: Duration) -> Result<(), CliError> {
        let mut last = None;
        for _ in 0..attempts.max(1) {
            match self.run(dialect::SAVE).await {
                Ok(_) => return Ok(()),
                Err(CliError::Rejected { message, command })
                    if message.contains(dialect::SAVE_BUSY) =>
                {
                    last = Some(CliError::Rejected { message, command });
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(CliError::Closed {
            what: "a save".into(),
        }))
    }

    /// Logs out and closes the connection.
    pub async fn close(mut self) {
        let _ = self.run(dialect::END).await;
        let _ = self.send(b"exit\r").await;
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_found_at_the_end_only() {
        assert_eq!(prompt_at_end("\r\ngam1# "), Some("gam1"));
        assert_eq!(prompt_at_end("x\r\ngam1(config)#"), Some("gam1"));
        assert_eq!(prompt_at_end("gam1# show x\r\nsome output"), None);
        assert_eq!(prompt_at_end("% Invalid word #"), None);
        assert_eq!(prompt_at_end(""), None);
    }
}
