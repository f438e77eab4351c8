//! `gamops controller`: keeps the fleet converged with git, level-triggered in kube-rs's style.
//!
//! A trigger only says "look again": a new commit (the checkout's `.git` changed, or a billing
//! webhook's sync committed, see [`billing`]), the drift scan every `controller.interval`, a
//! manual request (`POST /api/v1/reconcile`), or a device's retry after a failed apply (backoff
//! from 10 s, doubling, at most 10 minutes). Each pass reads
//! the target (the newest commit that validates, see [`source`]), reads the devices it covers,
//! plans them, and applies through [`reconcile::apply`](crate::reconcile::apply), the same
//! operation `gamops apply` runs, every device whose policy is `auto` while applies are not
//! paused. Passes never overlap, and triggers that arrive during one are coalesced into the
//! next, so a flood of events costs one pass. One failing device never delays the others: it is
//! retried on its own backoff while the rest converge.
//!
//! One controller applies to a store at a time: the leader holds a leadership lease in the
//! store, renewed while it runs. Against a SQLite store a second controller refuses to start,
//! naming the first; against PostgreSQL it follows: it serves the API and waits, and takes the
//! lease over when the leader stops renewing it (stopped, killed, cut off). Before every
//! device change the apply checks that this controller still holds the lease (the fence), and
//! a leader that finds its lease taken goes back to following.
//!
//! The HTTP side ([`http`]) shows the state ([`status`]) and metrics ([`metrics`]) and takes
//! requests; it shares the state with the loop and never blocks it.

pub mod billing;
pub mod delivery;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod monitoring;
pub mod pulls;
pub mod search;
pub mod source;
pub mod status;
pub mod windows;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::{ControllerSettings, Desired, Policy};
use crate::plan::change::{Action, Disruption};
use crate::plan::{Change, Outcome, Plan, PlanOptions};
use crate::reconcile::{self, ApplyOptions};
use crate::store::{LeaseError, Store, Timestamp};

use metrics::Metrics;
use source::{Checkout, short};
use status::{DeviceState, FleetState, SyncState};

/// The store key of the controllers' leadership lease (no device can have a name with a space).
const LEADER_KEY: &str = "controller leader";

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// The inventory folder: in a local git checkout, or in the clone of `remote`.
    pub inventory: PathBuf,
    /// Where commits come from: the checkout's `HEAD`, or a remote branch fetched into a
    /// clone (see [`source::Origin`]).
    pub origin: source::Origin,
    /// Where the HTTP API listens (port 0: any free one).
    pub listen: SocketAddr,
    /// Start with applies paused.
    pub paused: bool,
    /// The drift scan's interval, over `controller.interval` in gamops.yaml.
    pub interval: Option<Duration>,
    /// Devices read and changed at once.
    pub concurrency: usize,
    /// The devices' leases (and the leadership lease) last this long without renewal.
    pub lease_ttl: Duration,
    /// Trust a device's SSH host key on first contact when its file pins none.
    pub accept_new_host_keys: bool,
    /// Who the controller is in runs and leases: `controller@host`.
    pub actor: String,
    /// Wait as a follower while another controller leads (a shared PostgreSQL store), instead
    /// of refusing to start (a SQLite store, which one controller owns).
    pub follow: bool,
}

/// Why the controller could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("another controller leads this store ({owner}, until {until})")]
    AnotherLeader { owner: String, until: Timestamp },
    #[error("cannot take the leadership lease: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Source(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
}

impl ControllerError {
    /// What to do about it, without naming command-line flags.
    pub fn hint(&self) -> Option<String> {
        match self {
            ControllerError::AnotherLeader { .. } => Some(
                "stop the other controller, or give this one its own store; a killed controller's lease expires by itself"
                    .into(),
            ),
            ControllerError::Listen { .. } => {
                Some("another process may hold the port; listen on another address".into())
            }
            ControllerError::Source(_) => Some(
                "the controller applies commits of a git checkout: run `git init` and commit the inventory"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Why a pass runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The checkout's `.git` changed: maybe a new commit.
    Commit,
    /// The interval's drift scan.
    Drift,
    /// Someone asked: every device, or one.
    Manual(Option<String>),
    /// A device's retry after a failure is due.
    Requeue,
    /// A billing webhook's sync made a commit.
    Billing,
}

impl Trigger {
    /// Whether the trigger only says that a new commit may be there.
    fn is_commit(&self) -> bool {
        matches!(self, Trigger::Commit | Trigger::Billing)
    }
}

/// What happened, for `GET /api/v1/events` (Server-Sent Events, one JSON object each).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A pass ended.
    Reconciled {
        commit: String,
        devices: usize,
        seconds: f64,
    },
    /// A device's sync state changed.
    Device {
        device: String,
        sync: SyncState,
        message: String,
    },
    /// An apply was recorded as a run.
    Run {
        run: i64,
        status: String,
        devices: Vec<String>,
    },
    /// The newest commit was not taken as the target.
    Refused { commit: String, reason: String },
    /// Applies were paused or resumed.
    Paused { paused: bool },
    /// A billing webhook's sync committed a change of subscribers.
    BillingCommit {
        system: String,
        commit: String,
        summary: String,
    },
    /// An alert fired or resolved (see [`monitoring`]).
    Alert {
        key: String,
        rule: String,
        status: crate::notifications::AlertStatus,
        severity: crate::notifications::Severity,
        summary: String,
    },
}

/// What the loop and the HTTP side share.
pub struct Shared {
    pub state: RwLock<FleetState>,
    pub metrics: Metrics,
    /// The status poll's latest reads and alerts ([`monitoring`]).
    pub monitor: Arc<monitoring::Monitor>,
    pub store: Store,
    /// Every [`Event`], to whoever listens (slow listeners miss the oldest).
    pub events: tokio::sync::broadcast::Sender<Event>,
    /// This controller's name in the leadership lease.
    pub owner: String,
    /// The remote branch followed, when commits come from a remote.
    pub branch: Option<String>,
    /// `controller.git_webhook_secret` of the target commit.
    hook_secret: RwLock<Option<crate::model::Credential>>,
    /// `controller.public` of the target commit: the endpoints that need no token.
    public: RwLock<Vec<crate::model::PublicEndpoint>>,
    /// The target commit's subscribers, ready to search (built once per target, off the
    /// pass: until a new commit's index is ready, the previous one answers, and says which
    /// commit it is of).
    pub subscribers: RwLock<Arc<search::Subscribers>>,
    /// The commit whose index was last asked for: a slower build of an older one is dropped.
    index_wanted: std::sync::Mutex<String>,
    /// Tokens the store vouched for lately: their hash, scopes, and when that was.
    tokens: std::sync::Mutex<HashMap<String, (Vec<String>, Instant)>>,
    /// Bumped by every change of `state`: what the API's cached answers are keyed by.
    version: std::sync::atomic::AtomicU64,
    /// `GET /api/v1/devices` as last rendered, and the state version it shows.
    devices_json: std::sync::Mutex<(u64, axum::body::Bytes)>,
    wake: mpsc::UnboundedSender<Trigger>,
    /// Plans on pull requests: their settings, reviews and queue.
    pub pulls: pulls::Pulls,
    /// `notifications:` of the target commit, which delivery follows.
    notification_settings:
        tokio::sync::watch::Sender<Option<Arc<crate::model::notifications::NotificationSettings>>>,
}

impl Shared {
    /// Whether this controller holds the leadership lease, as far as it knows.
    pub fn leading(&self) -> bool {
        self.read(|s| s.leader.as_deref() == Some(self.owner.as_str()))
            .unwrap_or(false)
    }

    /// The subscriber search index of the target commit.
    pub fn search_index(&self) -> Arc<search::Subscribers> {
        self.subscribers
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Index `target`'s subscribers for the search on a blocking thread (100,000 take a few
    /// hundred milliseconds, which a commit's pass should not wait for) and show the index
    /// when it is ready, unless a newer commit's was asked for meanwhile.
    fn index_subscribers(self: &Arc<Self>, target: &source::Target) {
        match self.index_wanted.lock() {
            Ok(mut wanted) if *wanted != target.commit => *wanted = target.commit.clone(),
            _ => return,
        }
        let (shared, target) = (self.clone(), target.clone());
        tokio::task::spawn_blocking(move || {
            let index = search::Subscribers::new(&target.commit, &target.inventory.desired);
            let wanted = shared.index_wanted.lock();
            if wanted.is_ok_and(|w| *w == target.commit)
                && let Ok(mut shown) = shared.subscribers.write()
            {
                *shown = Arc::new(index);
            }
        });
    }

    /// The scopes of an API token: asked of the store at most every 10 s per token, so a
    /// revoked token stops working within 10 s and a busy API does not query per request.
    pub async fn token_scopes(
        &self,
        token: &str,
    ) -> Result<Option<Vec<String>>, crate::store::StoreError> {
        const FRESH: Duration = Duration::from_secs(10);
        let key = token.to_string();
        if let Ok(cache) = self.tokens.lock()
            && let Some((scopes, at)) = cache.get(&key)
            && at.elapsed() < FRESH
        {
            return Ok(Some(scopes.clone()));
        }
        let found = self.store.check_token(token).await?;
        if let Ok(mut cache) = self.tokens.lock() {
            match &found {
                Some(info) => {
                    cache.insert(key, (info.scopes.clone(), Instant::now()));
                }
                None => {
                    cache.remove(&key);
                }
            }
        }
        Ok(found.map(|i| i.scopes))
    }

    /// Every device's state as JSON, rendered once per change of the state: a dashboard and
    /// twenty clients polling a thousand devices cost one serialisation, not one each.
    pub fn devices_json(&self) -> Result<axum::body::Bytes, String> {
        let version = self.version.load(std::sync::atomic::Ordering::Acquire);
        if let Ok(cached) = self.devices_json.lock()
            && cached.0 == version
        {
            return Ok(cached.1.clone());
        }
        let body = self
            .read(|s| serde_json::to_vec(&s.devices.values().collect::<Vec<_>>()))
            .ok_or("the state is unreadable")?
            .map_err(|e| e.to_string())?;
        let body = axum::body::Bytes::from(body);
        if let Ok(mut cached) = self.devices_json.lock() {
            *cached = (version, body.clone());
        }
        Ok(body)
    }

    /// Runs `f` on the state under its read lock (for the API: no copy of the whole state).
    pub fn read<T>(&self, f: impl FnOnce(&FleetState) -> T) -> Option<T> {
        self.state.read().ok().map(|s| f(&s))
    }

    /// The push webhook's secret, resolved now; `None` when unset or unresolvable.
    pub fn hook_secret(&self) -> Option<crate::secret::Secret> {
        let reference = self.hook_secret.read().ok()?.clone()?;
        match crate::secret::resolve(&reference) {
            Ok(s) if !s.expose().is_empty() => Some(s),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("controller.git_webhook_secret: {e}");
                None
            }
        }
    }

    /// Whether `path` answers without an API token (`controller.public`).
    pub fn is_public(&self, path: &str) -> bool {
        self.public
            .read()
            .map(|p| p.iter().any(|e| e.path() == path))
            .unwrap_or(false)
    }

    /// Asks the loop to look again.
    pub fn trigger(&self, t: Trigger) {
        let _ = self.wake.send(t);
    }

    /// Changes the state, updates the metrics, and tells listeners of devices whose sync
    /// state changed and of a newly refused commit.
    fn update(&self, f: impl FnOnce(&mut FleetState)) {
        let mut events = Vec::new();
        if let Ok(mut s) = self.state.write() {
            let before: HashMap<String, SyncState> =
                s.devices.iter().map(|(n, d)| (n.clone(), d.sync)).collect();
            let refused_before = s.refused.as_ref().map(|r| r.commit.clone());
            f(&mut s);
            self.version
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            self.metrics.observe(&s);
            for (name, d) in &s.devices {
                if before.get(name) != Some(&d.sync) {
                    events.push(Event::Device {
                        device: name.clone(),
                        sync: d.sync,
                        message: d.message.clone(),
                    });
                }
            }
            if let Some(r) = &s.refused
                && refused_before.as_deref() != Some(r.commit.as_str())
            {
                events.push(Event::Refused {
                    commit: r.commit.clone(),
                    reason: r.reason.clone(),
                });
            }
        }
        for e in events {
            self.emit(e);
        }
    }

    /// Tells listeners (none listening is fine).
    pub fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Stops or restarts applies (reads and reports go on).
    pub fn set_paused(&self, paused: bool) {
        self.update(|s| s.paused = paused);
        self.emit(Event::Paused { paused });
        if !paused {
            self.trigger(Trigger::Manual(None));
        }
    }
}

/// Runs the controller until `cancel` fires: serves the HTTP API (`listening` is told its
/// address), takes the leadership lease (or, with `options.follow`, waits for it as a
/// follower serving reads), watches the checkout, and reconciles while it leads. A pass in
/// flight when `cancel` fires finishes or rolls back its devices (as an interrupted apply does).
pub async fn run(
    options: ControllerOptions,
    store: Store,
    cancel: CancellationToken,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), ControllerError> {
    let owner = format!("{} pid {}", options.actor, std::process::id());
    let (wake, mut triggers) = mpsc::unbounded_channel();
    let (pull_requests, pull_jobs) = pulls::Pulls::new();
    let monitor = Arc::new(monitoring::Monitor::default());
    let shared = Arc::new(Shared {
        state: RwLock::new(FleetState {
            paused: options.paused,
            ..FleetState::default()
        }),
        metrics: Metrics::new().with_collector(Box::new(monitoring::metrics::MonitorCollector(
            monitor.clone(),
        ))),
        monitor,
        store: store.clone(),
        events: tokio::sync::broadcast::channel(1024).0,
        owner: owner.clone(),
        branch: match &options.origin {
            source::Origin::Remote { branch, .. } => Some(branch.clone()),
            source::Origin::Head => None,
        },
        hook_secret: RwLock::new(None),
        public: RwLock::new(crate::model::PublicEndpoint::ALL.to_vec()),
        subscribers: RwLock::new(Arc::new(search::Subscribers::default())),
        index_wanted: std::sync::Mutex::new(String::new()),
        tokens: std::sync::Mutex::new(HashMap::new()),
        version: std::sync::atomic::AtomicU64::new(0),
        devices_json: std::sync::Mutex::new((u64::MAX, axum::body::Bytes::new())),
        wake,
        pulls: pull_requests,
        notification_settings: tokio::sync::watch::Sender::new(None),
    });
    shared.update(|_| {});

    // What can fail for lack of set-up fails before the leadership lease is taken, so a
    // corrected restart is not refused by our own lease.
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ControllerError::Listen {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ControllerError::Server)?;
    // A local checkout is watched; a remote is fetched on each scan and push webhook (its
    // clone's .git changes with every fetch, so watching it would only wake us up again).
    let watcher = match &options.origin {
        source::Origin::Head => {
            let shared = shared.clone();
            Some(
                source::watch(&options.inventory, move || shared.trigger(Trigger::Commit))
                    .map_err(ControllerError::Source)?,
            )
        }
        source::Origin::Remote { .. } => None,
    };

    // A store one controller owns (SQLite) refuses a second at once; on a shared one the
    // second follows.
    let first = match store
        .acquire_lease(LEADER_KEY, &owner, options.lease_ttl)
        .await
    {
        Ok(lease) => Some(lease),
        Err(LeaseError::Held {
            owner, expires_at, ..
        }) if !options.follow => {
            return Err(ControllerError::AnotherLeader {
                owner,
                until: expires_at,
            });
        }
        Err(LeaseError::Held { .. }) => None,
        Err(LeaseError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ControllerError::Source(e.to_string())),
    };

    // The target now, for the billing receivers it configures (the first pass starts from it).
    let mut checkout = Checkout::new(&options.inventory, options.origin.clone());
    checkout.refresh(None).await;
    let receivers = match checkout.target() {
        Some(target) => {
            let fleet = target.inventory.desired.fleet();
            billing::start(&fleet, &options, &store, &shared).await
        }
        None => {
            tracing::warn!(
                "no valid commit at start: billing webhooks are not received until a restart"
            );
            Vec::new()
        }
    };
    let mut routes = http::router(shared.clone());
    for r in &receivers {
        routes = routes.merge(r.router());
    }

    // The shared HTTP limits (issue 16), with connections that may live an hour: event
    // streams (SSE) stay open, and their clients reconnect after.
    let server = tokio::spawn(crate::http_server::serve(
        listener,
        routes,
        crate::http_server::Limits {
            connection_lifetime: Duration::from_secs(3600),
            ..crate::http_server::Limits::default()
        },
        cancel.clone(),
    ));
    listening(addr);
    // Pull requests are planned from the clone of a remote, beside the loop.
    if let source::Origin::Remote { clone, .. } = &options.origin {
        let context = pulls::Context {
            clone: clone.clone(),
            inventory: options.inventory.clone(),
            concurrency: options.concurrency,
        };
        tokio::spawn(pulls::work(
            shared.clone(),
            pull_jobs,
            context,
            cancel.clone(),
        ));
    } else {
        // Nothing plans pull requests: what passes tell them is dropped, not queued.
        drop(pull_jobs);
    }
    // The status poll, on its own task; its notifications go to delivery.
    let (notify, notifications) = mpsc::channel(monitoring::CHANNEL);
    let delivery = tokio::spawn(delivery::run(
        store.clone(),
        shared.notification_settings.subscribe(),
        notifications,
        cancel.clone(),
    ));
    let poll = monitoring::spawn(shared.clone(), options.concurrency, notify, cancel.clone());

    let mut looper = Loop {
        shared: shared.clone(),
        checkout,
        settings: ControllerSettings::default(),
        cancel: cancel.clone(),
        fence: (LEADER_KEY.to_string(), owner.clone()),
        options,
    };
    let mut lease = first;
    'lead: while !cancel.is_cancelled() {
        // Follow until the leader's lease expires (it stopped, or was killed).
        let held = match lease.take() {
            Some(l) => l,
            None => {
                match follow(&store, &shared, &owner, looper.options.lease_ttl, &cancel).await {
                    Some(l) => l,
                    None => break 'lead,
                }
            }
        };
        tracing::info!(%owner, "leading: reconciling the fleet");
        shared.update(|s| s.leader = Some(owner.clone()));
        let leadership = store.keep_leases(vec![held], looper.options.lease_ttl);
        // The first pass reads everything.
        shared.trigger(Trigger::Drift);
        let mut next_scan = Instant::now();
        loop {
            let interval = looper
                .options
                .interval
                .unwrap_or(looper.settings.interval.0)
                .max(Duration::from_secs(1));
            let retry = shared
                .read(|s| {
                    s.devices
                        .values()
                        .filter_map(|d| d.retry_at.filter(|_| d.sync == SyncState::Failed))
                        .min()
                })
                .flatten();
            let wake_at = retry.map_or(next_scan, |r| r.min(next_scan));
            let first = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                t = triggers.recv() => match t {
                    Some(t) => t,
                    None => break,
                },
                () = tokio::time::sleep_until(wake_at.into()) => {
                    if Instant::now() >= next_scan { Trigger::Drift } else { Trigger::Requeue }
                }
            };
            // Everything that arrived meanwhile is one more reason for the same pass.
            let mut batch = vec![first];
            while let Ok(t) = triggers.try_recv() {
                batch.push(t);
            }
            if batch.contains(&Trigger::Drift) {
                next_scan = Instant::now() + interval;
            }
            if !still_leading(&store, &owner).await {
                tracing::error!(%owner, "lost the leadership lease; following again");
                let _ = leadership.stop().await;
                continue 'lead;
            }
            shared.update(|s| s.passing = true);
            looper.pass(&batch).await;
            shared.update(|s| s.passing = false);
        }
        let kept = leadership.stop().await;
        for lease in kept.leases {
            let _ = store.release_lease(lease).await;
        }
        break;
    }

    drop(watcher);
    let _ = poll.await;
    let _ = delivery.await;
    let served = server
        .await
        .map_err(|e| ControllerError::Server(std::io::Error::other(e)));
    // No more deliveries come in: sync what is pending once.
    for r in receivers {
        r.stop().await;
    }
    served
}

/// Waits as a follower until the leadership lease is free, then takes it; `None` when
/// cancelled first. The state shows who leads meanwhile; reads are served as usual.
async fn follow(
    store: &Store,
    shared: &Shared,
    owner: &str,
    ttl: Duration,
    cancel: &CancellationToken,
) -> Option<crate::store::Lease> {
    let every = (ttl / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut shown = String::new();
    loop {
        match store.acquire_lease(LEADER_KEY, owner, ttl).await {
            Ok(lease) => return Some(lease),
            Err(LeaseError::Held { owner: leader, .. }) => {
                if leader != shown {
                    tracing::info!(%leader, "following: another controller leads");
                    shown = leader.clone();
                }
                shared.update(|s| s.leader = Some(leader));
            }
            Err(e) => tracing::warn!("cannot reach the leadership lease, will retry: {e}"),
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Whether this controller still holds the leadership lease.
async fn still_leading(store: &Store, owner: &str) -> bool {
    match store.lease_holder(LEADER_KEY).await {
        Ok(Some((holder, _))) => holder == owner,
        Ok(None) => false,
        // An unreachable store: no apply can take a device lease anyway; keep going.
        Err(_) => true,
    }
}

/// The reconcile loop's own state.
struct Loop {
    options: ControllerOptions,
    shared: Arc<Shared>,
    checkout: Checkout,
    settings: ControllerSettings,
    cancel: CancellationToken,
    /// The leadership lease's key and this controller's owner name, checked before every
    /// device change.
    fence: (String, String),
}

impl Loop {
    /// One pass: refresh the target, read and plan the devices the triggers cover, apply what
    /// policy allows.
    async fn pass(&mut self, triggers: &[Trigger]) {
        let started = Instant::now();
        let checkout = &mut self.checkout;
        let previous = checkout.target().cloned();
        let applied = self.shared.read(|s| s.applied.clone()).flatten();
        let new_target = checkout.refresh(applied.as_deref()).await;
        let refused = checkout.refused().cloned();
        let Some(target) = checkout.target().cloned() else {
            self.shared.update(|s| {
                s.refused = refused.clone();
                s.problem = Some(match &refused {
                    Some(r) => format!("no valid commit to apply: {}", r.reason),
                    None => "no valid commit to apply yet".into(),
                });
            });
            return;
        };
        let commit_moved = new_target.is_some();
        // A commit trigger with no new commit has nothing to look at again.
        let only_commit = triggers.iter().all(Trigger::is_commit);
        if only_commit && !commit_moved {
            self.shared.update(|s| s.refused = refused.clone());
            self.shared.pulls.passed(&target.commit, refused);
            return;
        }
        let desired = &target.inventory.desired;
        self.settings = desired.fleet().controller.unwrap_or_default();
        self.shared.index_subscribers(&target);
        self.shared
            .pulls
            .configure(self.settings.pull_requests.clone());
        self.shared.monitor.set_target(&target);
        let notifications = desired.fleet().notifications.map(Arc::new);
        self.shared.notification_settings.send_if_modified(|shown| {
            let changed = *shown != notifications;
            if changed {
                *shown = notifications;
            }
            changed
        });
        if let Ok(mut public) = self.shared.public.write() {
            *public = self.settings.public.clone();
        }
        if let Ok(mut secret) = self.shared.hook_secret.write() {
            *secret = self
                .settings
                .git_webhook_secret
                .as_ref()
                .map(|c| c.value.clone());
        }

        // Which devices: every one for a commit, a scan or a general request; else the ones
        // asked for or due for a retry. A new commit's touched devices go first.
        let all: Vec<String> = desired.devices.iter().map(|d| d.name.to_string()).collect();
        let wanted = self.selection(triggers, commit_moved, &all);
        let names: Vec<String> = all
            .iter()
            .filter(|n| wanted.as_ref().is_none_or(|w| w.contains(*n)))
            .cloned()
            .collect();
        let forced_retry: BTreeSet<String> = triggers
            .iter()
            .filter_map(|t| match t {
                Trigger::Manual(d) => Some(d.clone().map_or_else(|| all.clone(), |d| vec![d])),
                _ => None,
            })
            .flatten()
            .collect();

        let why = reason(triggers, commit_moved);
        let covered = match (commit_moved, &previous) {
            // A new commit: the devices it touches are read, planned and changed first, so a
            // commit reaches its devices without waiting for the whole fleet to be read. The
            // others' desired state did not change: they are read only when another trigger of
            // the batch asks for them (the drift scan, a request, a retry), so the next commit
            // does not wait behind a read of the whole fleet.
            (true, Some(prev)) => {
                let touched = touched(&prev.inventory.desired, desired);
                let others = self.selection(triggers, false, &all);
                let (first, rest): (Vec<String>, Vec<String>) = names
                    .iter()
                    .filter(|n| {
                        touched.contains(*n) || others.as_ref().is_none_or(|o| o.contains(*n))
                    })
                    .cloned()
                    .partition(|n| touched.contains(n));
                let covered = first.len() + rest.len();
                for group in [first, rest] {
                    if !group.is_empty() {
                        self.converge(&target, &group, &all, &refused, &forced_retry, why)
                            .await;
                    }
                }
                covered
            }
            _ => {
                self.converge(&target, &names, &all, &refused, &forced_retry, why)
                    .await;
                names.len()
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        self.shared.metrics.pass_took(seconds);
        self.shared.update(|s| {
            s.passes += 1;
            s.last_pass = Some(Timestamp::now());
            let converged = s.devices.values().all(|d| d.sync == SyncState::InSync);
            if converged {
                s.applied = Some(target.commit.clone());
            }
        });
        tracing::info!(
            commit = %short(&target.commit),
            devices = covered,
            seconds,
            "reconciled"
        );
        self.shared.emit(Event::Reconciled {
            commit: target.commit.clone(),
            devices: covered,
            seconds,
        });
        self.shared.pulls.passed(&target.commit, refused);
    }

    /// Reads and plans `names` against the target, records what each device holds, and
    /// applies what policy allows; `all` is every device of the target.
    async fn converge(
        &mut self,
        target: &source::Target,
        names: &[String],
        all: &[String],
        refused: &Option<source::Refused>,
        forced_retry: &BTreeSet<String>,
        why: &'static str,
    ) {
        let desired = &target.inventory.desired;
        let observations = reconcile::observe(
            desired,
            names,
            self.options.concurrency.max(1),
            |_, _, _| {},
        )
        .await;
        let plan = off_the_workers(|| {
            Plan::build(
                desired,
                &observations,
                Some(target.commit.clone()),
                PlanOptions { force: false },
            )
        });
        let now = Instant::now();
        let settings = self.settings.clone();
        let mut to_apply = Vec::new();
        // Devices on `hold` outside a window: only the changes that keep service go now.
        let mut held: HashMap<String, Vec<Change>> = HashMap::new();
        let paused = self.shared.read(|s| s.paused).unwrap_or(false);
        let (window_open, window_problem) = match windows::parse_all(&settings.windows) {
            Ok(w) => (windows::any_open(&w), None),
            Err(e) => (false, Some(e)),
        };
        self.shared.update(|s| {
            s.target = Some(target.commit.clone());
            s.refused = refused.clone();
            s.problem = window_problem.clone();
            s.devices.retain(|name, _| all.contains(name));
            for d in &plan.devices {
                let policy = settings.policy_of(&d.device);
                let state = s
                    .devices
                    .entry(d.device.clone())
                    .or_insert_with(|| DeviceState::new(&d.device, policy));
                state.policy = policy;
                state.last_reconcile = Some(Timestamp::now());
                state.last_commit = Some(target.commit.clone());
                state.plan = Some(d.clone());
                match &d.outcome {
                    Outcome::Unknown { reason } => {
                        state.sync = SyncState::Unknown;
                        state.reachable = Some(false);
                        state.changes = 0;
                        state.message = format!("could not be read: {reason}");
                    }
                    Outcome::Error { message, .. } => {
                        state.sync = SyncState::Failed;
                        state.reachable = Some(true);
                        state.changes = 0;
                        state.message = format!("not planned: {message}");
                    }
                    Outcome::Planned { changes, .. } if changes.is_empty() => {
                        state.sync = SyncState::InSync;
                        state.reachable = Some(true);
                        state.changes = 0;
                        state.message = "matches the target".into();
                        state.last_in_sync = Some(Timestamp::now());
                        state.failures = 0;
                        state.retry_at = None;
                    }
                    Outcome::Planned { changes, .. } => {
                        state.reachable = Some(true);
                        state.changes = changes.len();
                        let retry_wait = !state.may_retry(now) && !forced_retry.contains(&d.device);
                        if state.sync != SyncState::Failed || !retry_wait {
                            state.sync = SyncState::Drifted;
                        }
                        state.message = if policy == Policy::Report {
                            format!(
                                "{} change(s) to make; policy `report`: not applied",
                                changes.len()
                            )
                        } else if paused {
                            format!("{} change(s) to make; applies are paused", changes.len())
                        } else if retry_wait {
                            format!(
                                "{} change(s) to make; retrying after the last failure",
                                changes.len()
                            )
                        } else if policy == Policy::Hold && !window_open {
                            let now: Vec<Change> =
                                changes.iter().filter(|c| keeps_service(c)).cloned().collect();
                            let waiting = changes.len() - now.len();
                            if now.is_empty() {
                                format!(
                                    "{waiting} change(s) interrupt service and wait for a maintenance window"
                                )
                            } else {
                                let message = format!(
                                    "applying {} change(s) that keep service; {waiting} wait for a maintenance window",
                                    now.len()
                                );
                                to_apply.push(d.device.clone());
                                held.insert(d.device.clone(), now);
                                state.sync = SyncState::Applying;
                                message
                            }
                        } else {
                            to_apply.push(d.device.clone());
                            state.sync = SyncState::Applying;
                            format!("applying {} change(s)", changes.len())
                        };
                    }
                }
            }
        });

        if !to_apply.is_empty() {
            let plan = if held.is_empty() {
                plan
            } else {
                only_these_changes(plan, &held)
            };
            self.apply(&plan, desired, to_apply, why, &target.commit)
                .await;
        }
    }

    /// The devices a pass covers, `None` for all.
    fn selection(
        &self,
        triggers: &[Trigger],
        commit_moved: bool,
        all: &[String],
    ) -> Option<BTreeSet<String>> {
        let mut some = BTreeSet::new();
        for t in triggers {
            match t {
                Trigger::Drift | Trigger::Manual(None) => return None,
                Trigger::Commit | Trigger::Billing if commit_moved => return None,
                Trigger::Commit | Trigger::Billing => {}
                Trigger::Manual(Some(d)) => {
                    some.insert(d.clone());
                }
                Trigger::Requeue => {
                    let now = Instant::now();
                    self.shared.read(|s| {
                        for d in s.devices.values() {
                            if d.sync == SyncState::Failed && d.may_retry(now) {
                                some.insert(d.device.clone());
                            }
                        }
                    });
                }
            }
        }
        some.retain(|d| all.contains(d));
        Some(some)
    }

    async fn apply(
        &mut self,
        plan: &Plan,
        desired: &Desired,
        devices: Vec<String>,
        why: &str,
        commit: &str,
    ) {
        let options = ApplyOptions {
            force: false,
            accept_new_host_keys: self.options.accept_new_host_keys,
            concurrency: self.options.concurrency.max(1),
            lease_ttl: self.options.lease_ttl,
            devices: devices.clone(),
            actor: self.options.actor.clone(),
            trigger: format!("controller: {why} at {}", short(commit)),
            fence: Some(self.fence.clone()),
        };
        let started = Instant::now();
        let report = reconcile::apply(
            plan,
            desired,
            &self.shared.store,
            &options,
            &self.cancel,
            |_, _, _| {},
        )
        .await;
        self.shared
            .metrics
            .apply_took(started.elapsed().as_secs_f64());
        let now = Instant::now();
        match report {
            Ok(report) => {
                let run = report.run.map(|r| r.0);
                if let Some(run) = run {
                    self.shared.emit(Event::Run {
                        run,
                        status: report.status.to_string(),
                        devices: report.results.iter().map(|r| r.device.clone()).collect(),
                    });
                }
                let results: HashMap<&str, _> = report
                    .results
                    .iter()
                    .map(|r| (r.device.as_str(), r))
                    .collect();
                for r in &report.results {
                    self.shared.metrics.applied(r.status.as_str());
                    if r.status.is_success() {
                        tracing::info!(device = %r.device, "{}", r.message);
                    } else {
                        tracing::warn!(device = %r.device, status = r.status.as_str(), "{}", r.message);
                    }
                }
                for w in &report.warnings {
                    tracing::warn!("{w}");
                }
                self.shared.update(|s| {
                    for name in &devices {
                        let Some(state) = s.devices.get_mut(name) else {
                            continue;
                        };
                        let Some(r) = results.get(name.as_str()) else {
                            state.sync = SyncState::Drifted;
                            continue;
                        };
                        state.last_outcome = Some(r.status.as_str().to_string());
                        state.last_run = run;
                        state.message = r.message.clone();
                        if r.status.is_success() {
                            state.sync = SyncState::InSync;
                            state.changes = 0;
                            state.failures = 0;
                            state.retry_at = None;
                            state.last_in_sync = Some(Timestamp::now());
                        } else if matches!(
                            r.status,
                            crate::apply::ApplyStatus::Interrupted
                                | crate::apply::ApplyStatus::LeaseHeld
                                | crate::apply::ApplyStatus::Stale
                        ) {
                            // Nothing was sent: not a failure of the device's; the next
                            // pass tries again without a backoff.
                            state.sync = SyncState::Drifted;
                        } else {
                            state.sync = SyncState::Failed;
                            let wait = state.failed(now);
                            state.message =
                                format!("{}; retrying in {} s", r.message, wait.as_secs());
                        }
                    }
                });
            }
            Err(e) => {
                tracing::error!("nothing was applied: {e}");
                self.shared.update(|s| {
                    s.problem = Some(format!("nothing was applied: {e}"));
                    for name in &devices {
                        if let Some(state) = s.devices.get_mut(name) {
                            state.sync = SyncState::Failed;
                            let wait = state.failed(now);
                            state.message = format!(
                                "not applied: the store could not record a run ({e}); retrying in {} s",
                                wait.as_secs()
                            );
                        }
                    }
                });
            }
        }
    }
}

/// Runs CPU-bound work (planning a fleet, indexing its subscribers, reading a commit) so that
/// the runtime's other tasks, the API above all, move to another worker meanwhile.
pub(crate) fn off_the_workers<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// What a pass that applies is recorded as having been started by: a billing event's commit,
/// a new commit (whichever trigger noticed it), a manual request, a retry, or drift.
fn reason(triggers: &[Trigger], commit_moved: bool) -> &'static str {
    if commit_moved && triggers.contains(&Trigger::Billing) {
        "billing event"
    } else if commit_moved {
        "commit"
    } else if triggers.iter().any(|t| matches!(t, Trigger::Manual(_))) {
        "manual request"
    } else if triggers.contains(&Trigger::Requeue) {
        "retry"
    } else {
        "drift"
    }
}

/// Whether a change may go ahead outside a maintenance window: it interrupts nobody's service
/// and deletes nothing (a delete can still be needed by a change that waits).
fn keeps_service(c: &Change) -> bool {
    c.action != Action::Delete && c.disruption != Disruption::Interrupt
}

/// The plan with some devices' changes replaced by a subset of them.
fn only_these_changes(mut plan: Plan, subsets: &HashMap<String, Vec<Change>>) -> Plan {
    for d in &mut plan.devices {
        if let (Some(subset), Outcome::Planned { changes, .. }) =
            (subsets.get(&d.device), &mut d.outcome)
        {
            *changes = subset.clone();
        }
    }
    plan
}

/// The devices a change of desired state touches: their file, their subscribers, or (when
/// gamops.yaml or plans.yaml changed) every device.
pub(crate) fn touched(old: &Desired, new: &Desired) -> BTreeSet<String> {
    let all = || new.devices.iter().map(|d| d.name.to_string()).collect();
    if old.fleet.as_ref().map(|d| &d.value) != new.fleet.as_ref().map(|d| &d.value)
        || old.plans.as_ref().map(|d| &d.value) != new.plans.as_ref().map(|d| &d.value)
    {
        return all();
    }
    let mut out = BTreeSet::new();
    for d in &new.devices {
        if old.device(d.name.as_str()).map(|o| &o.value) != Some(&d.value) {
            out.insert(d.name.to_string());
        }
    }
    let by_id = |desired: &Desired| -> HashMap<String, crate::model::Subscriber> {
        desired
            .subscribers
            .iter()
            .map(|s| (s.id.to_string(), s.value.clone()))
            .collect()
    };
    let (before, after) = (by_id(old), by_id(new));
    for (id, s) in &after {
        if before.get(id) != Some(s) {
            out.insert(s.device.to_string());
        }
    }
    for (id, s) in &before {
        if after.get(id) != Some(s) {
            out.insert(s.device.to_string());
        }
    }
    out
}
