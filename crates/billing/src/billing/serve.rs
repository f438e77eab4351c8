//! The webhook receivers, as an axum [`Router`] that `gamops sync serve` serves and the
//! controller can mount:
//!
//! - `POST /webhooks/splynx`: Splynx hooks, JSON or form-encoded, signed with
//!   `X-Splynx-Signature` (HMAC-SHA1 of the raw body). A missing signature is answered 401, a
//!   wrong one 403, a `ping` 200 `ok`.
//! - `HEAD` and `POST /webhooks/sonar/{token}`: Sonar webhooks, which are unsigned: the secret
//!   token in the path authenticates them (a wrong one is answered 403), and HEAD answers 200 as
//!   Sonar requires. The payload is not trusted: the event only names the account, and the sync
//!   re-reads it through the API.
//!
//! Each accepted delivery is recorded by id (the store's `webhook_events`, or memory when there
//! is no store): a replayed or retried one is answered 200 and not processed again. New events
//! go to the debouncer ([`super::debounce`]), which runs the incremental syncs.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use futures_util::future::BoxFuture;

use super::Secret;
use super::debounce::{
    EventQueue, ReceivedEvent, Source, SyncBatch, SyncDone, SyncFailure, SyncScope, SyncTrigger,
};
use super::sync::{self, ChangeKind, EventRef, Scope, SyncOptions, SyncReport};
use super::webhook::{
    ReplayGuard, SPLYNX_SIGNATURE_HEADER, SplynxHook, WebhookError, verify_sonar, verify_splynx,
};
use crate::store::{Store, Timestamp};

/// The Splynx hook's path.
pub const SPLYNX_PATH: &str = "/webhooks/splynx";
/// The Sonar webhook's path, before the token.
pub const SONAR_PATH: &str = "/webhooks/sonar";

/// Where deliveries already seen are remembered.
#[derive(Debug)]
pub enum Dedupe {
    /// In the store: survives restarts and is shared by replicas.
    Store(Store),
    /// In memory (the last so many ids): for tests and a receiver without a store.
    Memory(Mutex<ReplayGuard>),
}

impl Dedupe {
    /// An in-memory guard remembering `capacity` ids.
    pub fn memory(capacity: usize) -> Dedupe {
        Dedupe::Memory(Mutex::new(ReplayGuard::new(capacity)))
    }

    /// Records the id; `Ok(true)` when it is new.
    async fn record(&self, source: Source, id: &str) -> Result<bool, String> {
        match self {
            Dedupe::Store(store) => store
                .record_event(source.as_str(), id, Timestamp::now())
                .await
                .map_err(|e| e.to_string()),
            Dedupe::Memory(guard) => {
                let mut g = guard.lock().unwrap_or_else(|e| e.into_inner());
                Ok(g.check(&format!("{source}:{id}")).is_ok())
            }
        }
    }

    /// Forgets an id recorded for an event that could not be queued, so a retry is processed.
    async fn forget(&self, source: Source, id: &str) {
        if let Dedupe::Store(store) = self
            && let Err(e) = store.forget_event(source.as_str(), id).await
        {
            tracing::warn!(%source, id, error = %e, "cannot forget an event that was not queued");
        }
        // The in-memory guard cannot forget one id; a closed queue means we are stopping.
    }
}

/// What the receivers report (for the command's log).
#[derive(Debug)]
pub enum WebhookNotice<'a> {
    /// A new event, queued for a sync.
    Accepted(&'a ReceivedEvent),
    /// A delivery already received: answered, not processed.
    Replayed {
        source: Source,
        id: &'a str,
    },
    Ping {
        source: Source,
    },
    /// Refused (signature, token or body).
    Refused {
        source: Source,
        reason: &'a WebhookError,
    },
}

/// A sink for notices.
pub type WebhookNotify = Arc<dyn Fn(WebhookNotice<'_>) + Send + Sync>;

struct Receiver {
    secret: Secret,
    queue: EventQueue,
}

/// The receivers' shared state. Build it, then take its [`Webhooks::router`].
pub struct Webhooks {
    dedupe: Dedupe,
    splynx: Option<Receiver>,
    sonar: Option<Receiver>,
    notify: Option<WebhookNotify>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("dedupe", &self.dedupe)
            .field("splynx", &self.splynx.is_some())
            .field("sonar", &self.sonar.is_some())
            .finish()
    }
}

impl Webhooks {
    pub fn new(dedupe: Dedupe) -> Webhooks {
        Webhooks {
            dedupe,
            splynx: None,
            sonar: None,
            notify: None,
        }
    }

    /// Receives Splynx hooks signed with `secret`, queueing events on `queue`.
    pub fn splynx(mut self, secret: Secret, queue: EventQueue) -> Webhooks {
        self.splynx = Some(Receiver { secret, queue });
        self
    }

    /// Receives Sonar webhooks at `/webhooks/sonar/<token>`, queueing events on `queue`.
    pub fn sonar(mut self, token: Secret, queue: EventQueue) -> Webhooks {
        self.sonar = Some(Receiver {
            secret: token,
            queue,
        });
        self
    }

    pub fn notify(mut self, notify: WebhookNotify) -> Webhooks {
        self.notify = Some(notify);
        self
    }

    /// The routes of the configured receivers (a system that is not configured has none).
    pub fn router(self) -> Router {
        let has_splynx = self.splynx.is_some();
        let has_sonar = self.sonar.is_some();
        let state = Arc::new(self);
        let mut router = Router::new();
        if has_splynx {
            router = router.route(SPLYNX_PATH, axum::routing::post(splynx_hook));
        }
        if has_sonar {
            router = router.route(
                &format!("{SONAR_PATH}/{{token}}"),
                axum::routing::head(sonar_head).post(sonar_hook),
            );
        }
        router.with_state(state)
    }

    fn tell(&self, notice: WebhookNotice<'_>) {
        if let Some(n) = &self.notify {
            n(notice);
        }
    }

    fn refuse(&self, source: Source, reason: WebhookError) -> Response {
        tracing::warn!(%source, %reason, "webhook refused");
        self.tell(WebhookNotice::Refused {
            source,
            reason: &reason,
        });
        let status = match reason {
            WebhookError::MissingSignature => StatusCode::UNAUTHORIZED,
            WebhookError::BadSignature | WebhookError::BadToken => StatusCode::FORBIDDEN,
            WebhookError::BadBody(_) => StatusCode::BAD_REQUEST,
            // Replays are answered 200 before they get here.
            WebhookError::Replayed(_) => StatusCode::OK,
        };
        (status, format!("{reason}\n")).into_response()
    }

    /// Records the event and queues it when new. Always 200 unless it could not be recorded
    /// or queued (503: the sender retries later).
    async fn accept(&self, queue: &EventQueue, event: ReceivedEvent) -> Response {
        match self.dedupe.record(event.source, &event.id).await {
            Err(e) => {
                tracing::error!(source = %event.source, error = %e, "cannot record a webhook event");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cannot record the event; retry later\n",
                )
                    .into_response();
            }
            Ok(false) => {
                tracing::info!(source = %event.source, id = %event.id, "webhook replayed: already received");
                self.tell(WebhookNotice::Replayed {
                    source: event.source,
                    id: &event.id,
                });
                return (StatusCode::OK, "ok (already received)\n").into_response();
            }
            Ok(true) => {}
        }
        tracing::info!(
            source = %event.source,
            id = %event.id,
            kind = %event.kind,
            customer = event.customer.as_deref().unwrap_or("(all)"),
            "webhook event accepted"
        );
        self.tell(WebhookNotice::Accepted(&event));
        let (source, id) = (event.source, event.id.clone());
        if queue.submit(event).is_err() {
            self.dedupe.forget(source, &id).await;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the receiver is stopping; retry later\n",
            )
                .into_response();
        }
        (StatusCode::OK, "ok\n").into_response()
    }
}

fn ok_text(text: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

async fn splynx_hook(
    State(hooks): State<Arc<Webhooks>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(rx) = &hooks.splynx else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let hook = match verify_splynx(
        rx.secret.expose().as_bytes(),
        text(SPLYNX_SIGNATURE_HEADER),
        text(header::CONTENT_TYPE.as_str()),
        &body,
    ) {
        Ok(h) => h,
        Err(e) => return hooks.refuse(Source::Splynx, e),
    };
    let event = match hook {
        SplynxHook::Ping => {
            hooks.tell(WebhookNotice::Ping {
                source: Source::Splynx,
            });
            return ok_text("ok");
        }
        SplynxHook::Event(e) => e,
    };
    // `models\admin\customers\Customer` -> `Customer`.
    let model = event.model.rsplit('\\').next().unwrap_or_default();
    let kind = format!("{model} {}", event.action).trim().to_string();
    let received = ReceivedEvent {
        source: Source::Splynx,
        id: event.id,
        kind,
        customer: event.customer_id.map(|c| c.to_string()),
        at: Instant::now(),
    };
    hooks.accept(&rx.queue, received).await
}

async fn sonar_head(State(hooks): State<Arc<Webhooks>>, Path(token): Path<String>) -> Response {
    let Some(rx) = &hooks.sonar else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match verify_sonar(rx.secret.expose(), &token, b"{}") {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => hooks.refuse(Source::Sonar, e),
    }
}

async fn sonar_hook(
    State(hooks): State<Arc<Webhooks>>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let Some(rx) = &hooks.sonar else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let event = match verify_sonar(rx.secret.expose(), &token, &body) {
        Ok(e) => e,
        Err(e) => return hooks.refuse(Source::Sonar, e),
    };
    let received = ReceivedEvent {
        source: Source::Sonar,
        customer: event.account().map(|a| a.to_string()),
        id: event.id,
        kind: event.event,
        at: Instant::now(),
    };
    hooks.accept(&rx.queue, received).await
}

/// The real trigger: an incremental sync ([`super::sync::sync`]) of the batch's customers, with
/// the events' ids as the commit's `Billing-Event-Id:` trailers.
#[derive(Debug)]
pub struct SyncRunner {
    opts: SyncOptions,
    /// Where deliveries were recorded as received: a given-up batch's are forgotten there.
    store: Option<Store>,
}

impl SyncRunner {
    /// `opts.source` must be the system whose events the runner gets.
    /// The runner keeps one billing client for all its syncs (see
    /// [`super::sync::BillingClients`]) and the inventory between them (see
    /// [`super::sync::KeptInventory`]).
    pub fn new(mut opts: SyncOptions) -> SyncRunner {
        if opts.clients.is_none() {
            opts.clients = Some(Default::default());
        }
        if opts.kept.is_none() {
            opts.kept = Some(Default::default());
        }
        SyncRunner { opts, store: None }
    }

    /// The store the receivers record deliveries in (`Dedupe::Store`): when a batch is given
    /// up, its deliveries are forgotten there, so the billing system's redelivery is processed
    /// instead of answered "already received" and lost.
    pub fn forget_abandoned_in(mut self, store: Store) -> SyncRunner {
        self.store = Some(store);
        self
    }
}

impl SyncTrigger for SyncRunner {
    fn sync<'a>(&'a self, batch: &'a SyncBatch) -> BoxFuture<'a, Result<SyncDone, SyncFailure>> {
        Box::pin(async move {
            let scope = match &batch.scope {
                SyncScope::All => Scope::All,
                SyncScope::Customers(set) => Scope::Customers(set.iter().cloned().collect()),
            };
            let events: Vec<EventRef> = batch
                .events
                .iter()
                .map(|e| EventRef { id: e.id.clone() })
                .collect();
            // The sync's future is not `Send` (it holds a git2 repository across awaits): it
            // runs on a blocking thread of its own, driven by this runtime.
            let opts = self.opts.clone();
            let handle = tokio::runtime::Handle::current();
            let report = tokio::task::spawn_blocking(move || {
                handle.block_on(sync::sync(&opts, scope, &events))
            })
            .await??;
            Ok(SyncDone {
                summary: summary(&report),
                commit: report.commit,
            })
        })
    }

    fn abandoned<'a>(&'a self, batch: &'a SyncBatch) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(store) = &self.store else { return };
            for e in &batch.events {
                if let Err(err) = store.forget_event(e.source.as_str(), &e.id).await {
                    tracing::warn!(source = %e.source, id = %e.id, error = %err, "cannot forget an event that was never synced; its redelivery will be ignored");
                }
            }
        })
    }
}

/// One line: what changed and what was skipped.
fn summary(r: &SyncReport) -> String {
    let mut parts = Vec::new();
    for (kind, word) in [
        (ChangeKind::Created, "created"),
        (ChangeKind::Updated, "updated"),
        (ChangeKind::Suspended, "suspended"),
        (ChangeKind::Deleted, "deleted"),
    ] {
        let n = r.count(kind);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    if parts.is_empty() {
        parts.push("no change".to_string());
    }
    if !r.skipped.is_empty() {
        parts.push(format!("{} skipped", r.skipped.len()));
    }
    parts.join(", ")
}
