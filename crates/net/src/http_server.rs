//! Serving HTTP: the one accept loop every HTTP server gamops runs goes through (the webhook
//! receivers of `sync serve`, the lab's admin API and fake billing APIs, and the controller's
//! API to come), so each gets the same protection against slow or numerous clients.
//!
//! - at most [`Limits::max_connections`] connections at once: the next client waits in the
//!   kernel's backlog instead of taking a file descriptor (300 slow clients under a 256 file
//!   limit once starved legitimate deliveries);
//! - a client must send a request's headers within [`Limits::header_timeout`], which is also how
//!   long an idle keep-alive connection is kept (hyper's header-read timer runs while it waits
//!   for the next request);
//! - a request (its body read and its answer) must finish within [`Limits::request_timeout`]
//!   (408 otherwise), and a connection lives at most [`Limits::connection_lifetime`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How much an HTTP server lets its clients take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub connection_lifetime: Duration,
    /// How long in-flight requests may run on after shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` with `limits` until `shutdown` fires, then lets in-flight
/// requests finish (for at most [`Limits::shutdown_grace`]).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        ::http::StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // pause rather than spin, and go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            serve_connection(stream, peer, service, limits, shutdown).await;
        });
    }
    connections.close();
    let _ = tokio::time::timeout(limits.shutdown_grace, connections.wait()).await;
}

async fn serve_connection<S>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    service: S,
    limits: Limits,
    shutdown: CancellationToken,
) where
    S: hyper::service::Service<
            ::http::Request<hyper::body::Incoming>,
            Response = ::http::Response<axum::body::Body>,
        > + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let lifetime = tokio::time::sleep(limits.connection_lifetime);
    tokio::pin!(lifetime);
    tokio::select! {
        done = conn.as_mut() => {
            if let Err(e) = done {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            return;
        }
        _ = &mut lifetime => {
            tracing::debug!(%peer, "connection closed: it lived too long");
        }
        _ = shutdown.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.shutdown_grace, conn).await;
}
