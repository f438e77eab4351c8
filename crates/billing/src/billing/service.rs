//! The webhook service's lifecycle, shared by `gamops sync serve` and the controller: forget
//! old deliveries, start the debouncer, serve the receivers until stopped, then stop taking
//! deliveries (answering those in flight) and sync once what is still pending.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::debounce::{self, DebounceConfig, Notify};
use super::serve::{Dedupe, SONAR_PATH, SPLYNX_PATH, SyncRunner, WebhookNotify, Webhooks};
use super::sync::{Source, SyncOptions};
use super::{BillingError, Secret, resolve_secret};
use crate::model::Fleet;
use crate::store::{Store, Timestamp};

/// How long received delivery ids are kept: billing retries for hours (Sonar: 4 h).
const KEEP_EVENTS: Duration = Duration::from_secs(7 * 86_400);

/// How often old delivery ids are forgotten while the service runs.
const PRUNE_EVERY: Duration = Duration::from_secs(86_400);

/// One billing system's receiver: whose webhooks, and how to sync.
pub struct ReceiverConfig {
    /// Whose webhooks.
    pub source: Source,
    /// The Splynx signing secret, or the Sonar URL token.
    pub secret: Secret,
    /// How each sync runs (inventory, commit, branch, push).
    pub sync: SyncOptions,
    /// How long to wait for more events before syncing; a burst is held at most ten times as
    /// long (and at least 2 s).
    pub debounce: Duration,
    /// Also run a full sync this often.
    pub full_sync_every: Option<Duration>,
    /// Told of every delivery (accepted, replayed, refused, ping).
    pub on_webhook: Option<WebhookNotify>,
    /// Told of every sync (started, done, failed).
    pub on_sync: Option<Notify>,
}

/// What to serve, and where.
pub struct ServiceConfig {
    /// Where to listen (port 0: any free one, see [`WebhookService::addr`]).
    pub listen: SocketAddr,
    pub receiver: ReceiverConfig,
}

/// Why the service could not start or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("gamops.yaml has no `billing: {system}:` section")]
    NotConfigured { system: Source },
    #[error("gamops.yaml sets no `billing.{system}.{field}`")]
    NoSecret { system: Source, field: &'static str },
    #[error("billing.{system}.{field}: {source}")]
    Secret {
        system: Source,
        field: &'static str,
        source: BillingError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the webhook server failed: {0}")]
    Server(std::io::Error),
    #[error("the webhook server stopped abnormally: {0}")]
    Crashed(tokio::task::JoinError),
}

impl ServiceError {
    /// What to do about it, without naming command-line flags.
    pub fn hint(&self) -> Option<String> {
        match self {
            ServiceError::NotConfigured { system } => Some(format!(
                "configure {system} under `billing:` in gamops.yaml (README: Billing sync)"
            )),
            ServiceError::NoSecret { system, field } => Some(format!(
                "add `{field}: env:NAME` (or file:PATH) under billing.{system}, and give {system} the same secret"
            )),
            ServiceError::Secret {
                system,
                field,
                source: BillingError::Config(_),
            } => Some(format!("set what billing.{system}.{field} refers to")),
            ServiceError::Listen { .. } => {
                Some("another process may hold the port; listen on another address".into())
            }
            _ => None,
        }
    }
}

/// The webhook secret of `source` from the fleet's billing section: Splynx's signing secret,
/// or Sonar's URL token.
pub fn webhook_secret(fleet: &Fleet, source: Source) -> Result<Secret, ServiceError> {
    let billing = fleet.billing.as_ref();
    let (field, reference) = match source {
        Source::Splynx => (
            "webhook_secret",
            billing
                .and_then(|b| b.splynx.as_ref())
                .map(|s| s.webhook_secret.clone()),
        ),
        Source::Sonar => (
            "webhook_token",
            billing
                .and_then(|b| b.sonar.as_ref())
                .map(|s| s.webhook_token.clone()),
        ),
    };
    let reference = reference.ok_or(ServiceError::NotConfigured { system: source })?;
    let reference = reference.ok_or(ServiceError::NoSecret {
        system: source,
        field,
    })?;
    resolve_secret(&reference).map_err(|e| ServiceError::Secret {
        system: source,
        field,
        source: e,
    })
}

/// The path a billing system posts to (Sonar's ends in the token, shown as a placeholder).
pub fn hook_path(source: Source) -> String {
    match source {
        Source::Splynx => SPLYNX_PATH.to_string(),
        Source::Sonar => format!("{SONAR_PATH}/<webhook_token>"),
    }
}

/// A billing system's webhook receivers and the syncs they start, not bound to a listener:
/// `gamops sync serve` serves [`Receiver::router`] on a listener of its own
/// ([`WebhookService`]); the controller mounts it beside its API. [`Receiver::stop`] it.
pub struct Receiver {
    router: axum::Router,
    stop_syncs: CancellationToken,
    stop_pruner: CancellationToken,
    debouncer: JoinHandle<()>,
    pruner: JoinHandle<()>,
}

impl Receiver {
    /// Forgets old deliveries, starts the debouncer and the pruner, and builds the routes
    /// (deliveries are recorded in `store`).
    pub async fn start(config: ReceiverConfig, store: Store) -> Receiver {
        prune(&store).await;
        let stop_syncs = CancellationToken::new();
        let stop_pruner = CancellationToken::new();
        let debounce = DebounceConfig {
            quiet: config.debounce,
            max_wait: (config.debounce * 10).max(Duration::from_secs(2)),
            full_every: config.full_sync_every,
            ..DebounceConfig::default()
        };
        let (queue, debouncer) = debounce::start(
            config.source,
            Arc::new(SyncRunner::new(config.sync).forget_abandoned_in(store.clone())),
            debounce,
            config.on_sync,
            stop_syncs.clone(),
        );
        let mut hooks = Webhooks::new(Dedupe::Store(store.clone()));
        if let Some(notify) = config.on_webhook {
            hooks = hooks.notify(notify);
        }
        let hooks = match config.source {
            Source::Splynx => hooks.splynx(config.secret, queue),
            Source::Sonar => hooks.sonar(config.secret, queue),
        };
        let pruner = {
            let stop = stop_pruner.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(PRUNE_EVERY) => prune(&store).await,
                    }
                }
            })
        };
        Receiver {
            router: hooks.router(),
            stop_syncs,
            stop_pruner,
            debouncer,
            pruner,
        }
    }

    /// The webhook routes ([`SPLYNX_PATH`], [`SONAR_PATH`]), to serve or merge into a router.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Syncs what is pending once, then returns. Stop serving the routes first, so that no
    /// delivery is accepted that would not be synced.
    pub async fn stop(self) {
        self.stop_pruner.cancel();
        let _ = self.pruner.await;
        self.stop_syncs.cancel();
        let _ = self.debouncer.await;
    }
}

/// A running webhook service: a [`Receiver`] on a listener of its own.
/// [`WebhookService::stop`] it.
pub struct WebhookService {
    addr: SocketAddr,
    stop_server: CancellationToken,
    server: JoinHandle<()>,
    receiver: Receiver,
}

impl WebhookService {
    /// Starts serving on `config.listen`, recording deliveries in `store`.
    pub async fn start(
        config: ServiceConfig,
        store: Store,
    ) -> Result<WebhookService, ServiceError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServiceError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServiceError::Server)?;
        let receiver = Receiver::start(config.receiver, store).await;
        let stop_server = CancellationToken::new();
        // Header-read and idle timeouts and a connection cap (issue 16): slow clients cannot
        // starve deliveries.
        let server = tokio::spawn(crate::http_server::serve(
            listener,
            receiver.router(),
            crate::http_server::Limits::default(),
            stop_server.clone(),
        ));
        Ok(WebhookService {
            addr,
            stop_server,
            server,
            receiver,
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking deliveries (those in flight are answered), then syncs what is pending
    /// once, and returns when both are done.
    pub async fn stop(self) -> Result<(), ServiceError> {
        self.stop_server.cancel();
        let served = self.server.await;
        self.receiver.stop().await;
        served.map_err(ServiceError::Crashed)
    }
}

/// Forgets deliveries older than [`KEEP_EVENTS`]; a failure is logged and tried again later.
async fn prune(store: &Store) {
    let keep = i64::try_from(KEEP_EVENTS.as_millis()).unwrap_or(i64::MAX);
    let before = Timestamp::from_millis(Timestamp::now().as_millis().saturating_sub(keep));
    match store.prune_events(before).await {
        Ok(n) if n > 0 => tracing::info!(n, "forgot old webhook events"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune old webhook events"),
    }
}
