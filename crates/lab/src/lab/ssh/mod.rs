//! The SSH CLI server of a simulated GAM, on russh.
//!
//! Each simulated device gets its own listener (its own port) and its own [`serve`] call. A
//! login opens a [`Shell`](crate::lab::terminal::Shell) from the device's
//! [`ShellFactory`]; the terminal discipline in [`crate::lab::terminal`] runs it on the
//! channel. The server enforces the device's session limit and idle timeout and applies the
//! run-time [`SshFaults`].
//!
//! ```no_run
//! # async fn demo(factory: std::sync::Arc<dyn gamops::lab::terminal::ShellFactory>)
//! # -> Result<(), gamops::lab::ssh::SshError> {
//! use gamops::lab::ssh::{HostKey, SshServerConfig, serve};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = serve(listener, SshServerConfig::gam_default(HostKey::generate()?), factory)?;
//! println!("ssh -p {} admin@127.0.0.1", server.local_addr().port());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod channel;
mod config;
mod faults;
mod handler;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::SshId;
use russh::server::Config;
use russh::{Disconnect, MethodKind, MethodSet};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use channel::session_limit_message;
pub use config::{
    DEFAULT_AUTH_REJECTION_TIME, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS, DEFAULT_USER, HostKey,
    SshServerConfig, SshUser,
};
pub use faults::SshFaults;

use crate::lab::terminal::ShellFactory;
use channel::SessionCounter;
use handler::Connection;

/// The identification string the lab's SSH servers send.
pub const SERVER_ID: &str = "SSH-2.0-gamops_lab";

/// How long russh keeps a connection with no traffic beyond the session idle timeout; this
/// only matters for connections that never open a session, since the terminal closes idle
/// sessions itself (with a message) first.
const CONNECTION_IDLE_MARGIN: Duration = Duration::from_secs(10);

/// How long shutdown waits for a disconnected client's session to wind down.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);

/// An SSH server of the lab failed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The operating system's random generator failed.
    #[error("cannot generate an SSH host key: {0}")]
    KeyGeneration(String),
    /// A key could not be parsed or encoded.
    #[error("invalid SSH key: {0}")]
    Key(String),
    /// The listening socket failed.
    #[error("SSH listener: {0}")]
    Io(#[from] std::io::Error),
}

/// What every connection of one server shares.
struct Shared {
    config: SshServerConfig,
    factory: Arc<dyn ShellFactory>,
    sessions: SessionCounter,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// A running SSH server. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct SshServerHandle {
    local_addr: SocketAddr,
    host_key: HostKey,
    sessions: SessionCounter,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl SshServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's host key (public key, fingerprint, known_hosts line).
    pub fn host_key(&self) -> &HostKey {
        &self.host_key
    }

    /// The number of CLI sessions open now.
    pub fn active_sessions(&self) -> usize {
        self.sessions.active()
    }

    /// Stop accepting, disconnect every client and wait until all sessions have ended.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for SshServerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Serve SSH on `listener` until the returned handle is shut down or dropped.
///
/// Must be called within a tokio runtime: the accept loop and each connection run as tasks.
pub fn serve(
    listener: TcpListener,
    config: SshServerConfig,
    factory: Arc<dyn ShellFactory>,
) -> Result<SshServerHandle, SshError> {
    let local_addr = listener.local_addr()?;
    let russh_config = Arc::new(russh_config(&config));
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let sessions = SessionCounter::default();
    let host_key = config.host_key.clone();
    let shared = Arc::new(Shared {
        config,
        factory,
        sessions: sessions.clone(),
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    tracker.spawn(accept_loop(listener, russh_config, shared));
    tracing::info!(%local_addr, fingerprint = %host_key.fingerprint_sha256(), "lab ssh server listening");
    Ok(SshServerHandle {
        local_addr,
        host_key,
        sessions,
        shutdown,
        tracker,
    })
}

fn russh_config(config: &SshServerConfig) -> Config {
    Config {
        server_id: SshId::Standard(Cow::Borrowed(SERVER_ID)),
        methods: MethodSet::from(
            &[
                MethodKind::PublicKey,
                MethodKind::KeyboardInteractive,
                MethodKind::Password,
            ][..],
        ),
        auth_rejection_time: config.auth_rejection_time,
        // OpenSSH probes with "none" first; answer it at once.
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![config.host_key.private_key().clone()],
        inactivity_timeout: config
            .idle_timeout
            .map(|t| t.saturating_add(CONNECTION_IDLE_MARGIN)),
        nodelay: true,
        ..Config::default()
    }
}

async fn accept_loop(listener: TcpListener, config: Arc<Config>, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // russh applies `Config::nodelay` only to connections it accepts itself.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "lab ssh: cannot set TCP_NODELAY");
                }
                shared
                    .tracker
                    .spawn(connection(stream, peer, config.clone(), shared.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "lab ssh accept failed");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, config: Arc<Config>, shared: Arc<Shared>) {
    let handler = Connection::new(shared.clone(), Some(peer));
    let started = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        started = russh::server::run_stream(config, stream, handler) => started,
    };
    let session = match started {
        Ok(session) => session,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "ssh connection setup failed");
            return;
        }
    };
    let handle = session.handle();
    tokio::pin!(session);
    tokio::select! {
        _ = shared.shutdown.cancelled() => {
            let _ = handle
                .disconnect(
                    Disconnect::ByApplication,
                    "the simulated device is shutting down".into(),
                    "en".into(),
                )
                .await;
            let _ = tokio::time::timeout(DISCONNECT_GRACE, &mut session).await;
        }
        ended = &mut session => {
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "ssh connection ended with an error");
            }
        }
    }
}
