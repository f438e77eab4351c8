//! Monitoring in the controller: the status poll, its metrics, and the alerts.
//!
//! A task of its own reads every device's status ([`crate::monitor::status::read_fleet`], at
//! most `concurrency` devices at once) every `monitoring.interval` of the target commit's
//! gamops.yaml, while this controller leads. It never takes part in a reconcile pass: passes
//! go on while it reads, and a slow or silent GAM only makes its own read end with a reason
//! (the status read's deadline), retried at the next poll.
//!
//! After each poll: the latest status of every device and endpoint replaces the last one in
//! memory ([`Monitor`], which `/metrics` and `GET /api/v1/monitoring` read); the state
//! transitions since the last poll go to the store ([`transitions`]); the alert rules
//! ([`crate::monitor::alerts`]) are evaluated on it, on the controller's view of each
//! device's sync and on the billing syncs' health, and each alert that fires or resolves is
//! recorded in the store, logged, sent to the event stream and handed to delivery over a
//! bounded channel (waiting when it is full: a notification is never dropped).

pub mod api;
pub mod metrics;
pub mod transitions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::device::status::StatusObservation;
use crate::model::Desired;
use crate::model::MonitoringSettings;
use crate::monitor::alerts::{
    self, AlertView, BillingHealth, Condition, Config, DeviceSync, Engine, RuleKind,
};
use crate::monitor::status::FleetStatus;
use crate::notifications::{AlertStatus, Notification, Severity};
use crate::store::{AlertRecord, Timestamp, TransitionRecord};

use super::source::Target;
use super::status::SyncState;
use super::{Event, Shared};

/// How many notifications may wait for delivery before the poll waits for it.
pub const CHANNEL: usize = 1024;

/// How long state transitions are kept in the store (pruned about once an hour).
pub const TRANSITIONS_KEPT: Duration = Duration::from_secs(30 * 86_400);

/// One uplink's counters at a poll, and its rates since the one before.
#[derive(Clone, Debug, PartialEq)]
pub struct Uplink {
    pub if_index: u32,
    pub name: String,
    pub in_octets: u64,
    pub out_octets: u64,
    pub speed_mbps: u32,
    /// Bytes per second since the previous poll (none at the first).
    pub in_bytes_per_s: Option<f64>,
    pub out_bytes_per_s: Option<f64>,
}

/// The latest poll: what `/metrics` shows.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// When the poll ended (none before the first).
    pub at: Option<Timestamp>,
    /// How long it took.
    pub seconds: f64,
    /// Whether per-endpoint series are exported.
    pub endpoint_metrics: bool,
    pub report: FleetStatus,
    /// Each device's uplinks.
    pub uplinks: BTreeMap<String, Vec<Uplink>>,
    /// Each device's endpoints' usage (Mbps down, up), by MAC.
    pub usage: BTreeMap<String, BTreeMap<String, (u32, u32)>>,
    /// The plans' rates (Mbps down, up).
    pub plans: Vec<(String, u32, u32)>,
    /// Alerts firing, by rule.
    pub firing: BTreeMap<&'static str, usize>,
    /// Each device's boot time (unix ms), kept across polls that cannot read it.
    pub booted: BTreeMap<String, i64>,
}

/// What the poll shares with the HTTP side and the loop.
#[derive(Default)]
pub struct Monitor {
    latest: RwLock<Arc<Snapshot>>,
    target: RwLock<Option<Target>>,
    views: RwLock<Vec<AlertView>>,
    /// Each billing system's last sync: `Some(error)` when it failed.
    billing: Mutex<BTreeMap<String, Option<String>>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Monitor")
    }
}

impl Monitor {
    /// The latest poll.
    pub fn latest(&self) -> Arc<Snapshot> {
        self.latest.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Replaces the latest poll (what a poll does; benchmarks and tests set their own).
    pub fn set_latest(&self, snapshot: Snapshot) {
        if let Ok(mut latest) = self.latest.write() {
            *latest = Arc::new(snapshot);
        }
    }

    /// The target commit the loop works on: what the poll reads against.
    pub fn set_target(&self, target: &Target) {
        if let Ok(mut t) = self.target.write() {
            *t = Some(target.clone());
        }
    }

    fn target(&self) -> Option<Target> {
        self.target.read().ok().and_then(|t| t.clone())
    }

    /// The pending and firing alerts as the engine holds them (flapping, suppressed).
    pub fn views(&self) -> Vec<AlertView> {
        self.views.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// A billing sync of `system` ended: `error` when it failed.
    pub fn billing_synced(&self, system: &str, error: Option<String>) {
        if let Ok(mut b) = self.billing.lock() {
            b.insert(system.to_string(), error);
        }
    }

    fn billing(&self) -> Vec<BillingHealth> {
        self.billing
            .lock()
            .map(|b| {
                b.iter()
                    .map(|(system, failing)| BillingHealth {
                        system: system.clone(),
                        failing: failing.clone(),
                        unknown: false,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The bytes per second between two readings of a 64-bit octet counter `seconds` apart. A
/// counter that went backwards was reset (a reboot, a cleared counter): what it counts now
/// is what was counted since, never a negative rate.
pub fn rate(before: u64, now: u64, seconds: f64) -> Option<f64> {
    if seconds <= 0.0 || !seconds.is_finite() {
        return None;
    }
    let delta = if now >= before { now - before } else { now };
    Some(delta as f64 / seconds)
}

/// Builds the snapshot of a poll from its reads and report, with rates against `previous`.
pub fn snapshot(
    desired: &Desired,
    observations: &[(String, StatusObservation)],
    report: FleetStatus,
    previous: &Snapshot,
    endpoint_metrics: bool,
    at: Timestamp,
    seconds: f64,
) -> Snapshot {
    let since = previous
        .at
        .map(|p| at.since(p).as_secs_f64())
        .unwrap_or(0.0);
    let mut uplinks = BTreeMap::new();
    let mut usage = BTreeMap::new();
    for (name, o) in observations {
        let StatusObservation::Live(s) = o else {
            continue;
        };
        let before = previous.uplinks.get(name);
        let list: Vec<Uplink> = s
            .uplinks
            .iter()
            .map(|u| {
                let prev = before.and_then(|b| b.iter().find(|p| p.if_index == u.if_index));
                Uplink {
                    if_index: u.if_index,
                    name: u.name.clone(),
                    in_octets: u.in_octets,
                    out_octets: u.out_octets,
                    speed_mbps: u.speed_mbps,
                    in_bytes_per_s: prev.and_then(|p| rate(p.in_octets, u.in_octets, since)),
                    out_bytes_per_s: prev.and_then(|p| rate(p.out_octets, u.out_octets, since)),
                }
            })
            .collect();
        uplinks.insert(name.clone(), list);
        let per: BTreeMap<String, (u32, u32)> = s
            .endpoints
            .iter()
            .filter_map(|e| {
                e.link
                    .as_ref()
                    .map(|l| (e.mac.to_string(), (l.rx_usage_mbps, l.tx_usage_mbps)))
            })
            .collect();
        usage.insert(name.clone(), per);
    }
    let plans = desired
        .plans()
        .map(|p| {
            p.iter()
                .map(|(name, plan)| {
                    (
                        name.to_string(),
                        u32::from(plan.down_mbps.get()),
                        u32::from(plan.up_mbps.get()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Snapshot {
        at: Some(at),
        seconds,
        endpoint_metrics,
        report,
        uplinks,
        usage,
        plans,
        firing: BTreeMap::new(),
        booted: BTreeMap::new(),
    }
}

/// One poll of every device of `desired`, at most `concurrency` at once: its snapshot (with
/// rates against `previous`) and the state transitions since `previous`.
pub async fn poll(
    desired: &Desired,
    concurrency: usize,
    previous: &Snapshot,
    endpoint_metrics: bool,
) -> (Snapshot, Vec<TransitionRecord>) {
    let names: Vec<String> = desired.devices.iter().map(|d| d.name.to_string()).collect();
    let started = Instant::now();
    let observations =
        crate::monitor::status::read_fleet(desired, &names, concurrency, |_, _, _| {}).await;
    let report =
        super::off_the_workers(|| crate::monitor::status::report(desired, &observations, false));
    let seconds = started.elapsed().as_secs_f64();
    let now = Timestamp::now();
    super::off_the_workers(|| {
        let snap = snapshot(
            desired,
            &observations,
            report,
            previous,
            endpoint_metrics,
            now,
            seconds,
        );
        let mut snap = snap;
        let mut changes = transitions::between(&previous.report, &snap.report, now);
        let (booted, rebooted) = transitions::reboots(
            &previous.booted,
            &snap.report,
            now,
            (seconds * 1000.0) as i64,
        );
        // A device whose sysUpTime wrapped (after some 497 days) is up since its known boot.
        for d in &mut snap.report.devices {
            if let (Some(up), Some(boot)) = (d.uptime_s, booted.get(&d.device)) {
                let since_boot = u64::try_from((now.as_millis() - boot) / 1000).unwrap_or(0);
                if since_boot > up.saturating_add(86_400) {
                    d.uptime_s = Some(since_boot);
                }
            }
        }
        snap.booted = booted;
        changes.extend(rebooted);
        (snap, changes)
    })
}

/// The alerts that fire or resolve after a poll: the status rules on `report`, the
/// controller's on `sync`, billing's on `billing`; alerts of devices and systems no longer
/// there resolve.
pub fn evaluate(
    engine: &mut Engine,
    desired: &Desired,
    report: &FleetStatus,
    sync: &[DeviceSync],
    billing: &[BillingHealth],
    now_ms: i64,
) -> Vec<Notification> {
    let observed = alerts::rules::from_status(engine.config(), engine, desired, report)
        .merge(alerts::rules::from_sync(engine.config(), engine, sync))
        .merge(alerts::rules::from_billing(
            engine.config(),
            engine,
            billing,
        ));
    let mut out = engine.evaluate(now_ms, observed);
    let devices: BTreeSet<&str> = desired.devices.iter().map(|d| d.name.as_str()).collect();
    let systems: BTreeSet<&str> = billing.iter().map(|b| b.system.as_str()).collect();
    out.extend(engine.retain_subjects(now_ms, |rule, subject| {
        if rule == RuleKind::BillingSync {
            systems.contains(subject)
        } else {
            devices.contains(subject)
        }
    }));
    alerts::with_device_labels(&mut out, desired);
    out
}

/// Starts the poll: returns its task. It stops when `cancel` fires.
pub fn spawn(
    shared: Arc<Shared>,
    concurrency: usize,
    notifications: mpsc::Sender<Notification>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut poll = Poll {
            shared,
            concurrency: concurrency.max(crate::device::snmp::DEFAULT_CONCURRENCY),
            notifications,
            engine: None,
            pruned: None,
            cancel: cancel.clone(),
        };
        let mut next = Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep_until(next.into()) => {}
            }
            let started = Instant::now();
            let interval = match poll.once().await {
                Some(interval) => interval,
                // Not leading, or no target yet: look again soon.
                None => Duration::from_secs(1),
            };
            next = started + interval.max(Duration::from_millis(200));
        }
    })
}

struct Poll {
    shared: Arc<Shared>,
    concurrency: usize,
    notifications: mpsc::Sender<Notification>,
    engine: Option<Engine>,
    /// When transitions were last pruned.
    pruned: Option<Instant>,
    /// Stops a poll's reads (a stopping controller does not wait for a slow fleet).
    cancel: CancellationToken,
}

impl Poll {
    /// One poll when leading with a target; the interval to wait before the next.
    async fn once(&mut self) -> Option<Duration> {
        let shared = self.shared.clone();
        let leading = shared.leading();
        if !leading {
            // Another controller leads and fires the alerts meanwhile: when this one leads
            // again, its engine starts from what the store says is firing, not from its own
            // memory of an older time (which would fire those alerts a second time).
            self.engine = None;
            return None;
        }
        let target = shared.monitor.target()?;
        let desired = &target.inventory.desired;
        let settings: MonitoringSettings =
            desired.fleet().monitoring.map(|m| *m).unwrap_or_default();
        let interval = settings.interval.0;
        let previous = shared.monitor.latest();
        let concurrency = settings
            .concurrency
            .map_or(self.concurrency, |c| usize::from(c).max(1));
        let (mut snap, changes) = tokio::select! {
            done = poll(desired, concurrency, &previous, settings.endpoint_metrics) => done,
            () = self.cancel.cancelled() => return None,
        };
        let now = snap.at.unwrap_or_else(Timestamp::now);
        if let Err(e) = shared.store.record_transitions(&changes).await {
            tracing::warn!(
                "monitoring: {} state transition(s) not recorded: {e}",
                changes.len()
            );
        }
        if self
            .pruned
            .is_none_or(|t| t.elapsed() > Duration::from_secs(3600))
        {
            self.pruned = Some(Instant::now());
            let before = Timestamp::from_millis(
                now.as_millis()
                    .saturating_sub(TRANSITIONS_KEPT.as_millis() as i64),
            );
            if let Err(e) = shared.store.prune_transitions(before).await {
                tracing::warn!("monitoring: old state transitions not pruned: {e}");
            }
        }
        for c in &changes {
            tracing::debug!(device = %c.device, subject = %c.subject, kind = %c.kind, "{}", c.detail);
        }

        // The alerts.
        let config = Config::new(&settings.alerts);
        if self.engine.is_none() {
            let mut engine = Engine::new(config.clone());
            match shared.store.active_alerts().await {
                Ok(active) => engine.restore(active.into_iter().filter_map(restored).collect()),
                Err(e) => tracing::warn!(
                    "monitoring: the alerts firing before this start could not be read ({e}); a condition still there fires again"
                ),
            }
            self.engine = Some(engine);
        }
        let Some(engine) = self.engine.as_mut() else {
            return Some(interval);
        };
        engine.set_config(config);
        let sync: Vec<DeviceSync> = shared
            .read(|s| {
                s.devices
                    .values()
                    .map(|d| DeviceSync {
                        device: d.device.clone(),
                        drifted: d.sync == SyncState::Drifted,
                        changes: d.changes,
                        failed: (d.sync == SyncState::Failed).then(|| d.message.clone()),
                        unknown: matches!(d.sync, SyncState::Unknown | SyncState::Applying),
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The billing systems the target configures: one not synced since the start holds its
        // alert as the store has it; one no longer configured resolves.
        let configured: Vec<&str> = desired
            .fleet()
            .billing
            .as_deref()
            .map(|b| {
                [
                    b.sonar.is_some().then_some("sonar"),
                    b.splynx.is_some().then_some("splynx"),
                ]
                .into_iter()
                .flatten()
                .collect()
            })
            .unwrap_or_default();
        let mut billing = shared.monitor.billing();
        billing.retain(|b| configured.contains(&b.system.as_str()));
        for system in &configured {
            if !billing.iter().any(|b| b.system == *system) {
                billing.push(BillingHealth {
                    system: system.to_string(),
                    failing: None,
                    unknown: true,
                });
            }
        }
        let out = evaluate(
            engine,
            desired,
            &snap.report,
            &sync,
            &billing,
            now.as_millis(),
        );
        let views = engine.views();
        snap.firing = RuleKind::ALL.iter().map(|r| (r.as_str(), 0)).collect();
        for v in views.iter().filter(|v| v.state == "firing") {
            *snap.firing.entry(v.rule.as_str()).or_default() += 1;
        }
        if let Ok(mut shown) = shared.monitor.views.write() {
            *shown = views;
        }
        shared.monitor.set_latest(snap);
        let out: Vec<(Notification, String)> = out
            .into_iter()
            .map(|n| {
                let resolved = engine
                    .condition(&n.key)
                    .map_or_else(|| n.summary.clone(), |c| c.resolved.clone());
                (n, resolved)
            })
            .collect();
        for (n, resolved) in out {
            self.hand_over(n, resolved).await;
        }
        Some(interval)
    }

    /// Records, logs, tells listeners and hands one transition to delivery.
    async fn hand_over(&self, n: Notification, resolved: String) {
        let store = &self.shared.store;
        match n.status {
            AlertStatus::Firing => {
                tracing::warn!(key = %n.key, severity = n.severity.as_str(), "alert firing: {}", n.summary);
                if let Err(e) = store.alert_fired(&record(&n, resolved)).await {
                    tracing::warn!(key = %n.key, "the alert is not recorded in the store: {e}");
                }
            }
            AlertStatus::Resolved => {
                tracing::info!(key = %n.key, "alert resolved: {}", n.summary);
                let at = Timestamp::from_millis(
                    n.ends_at_ms.unwrap_or_else(|| Timestamp::now().as_millis()),
                );
                if let Err(e) = store.alert_resolved(&n.key, at, &n.summary).await {
                    tracing::warn!(key = %n.key, "the alert's end is not recorded in the store: {e}");
                }
            }
        }
        self.shared.emit(Event::Alert {
            key: n.key.clone(),
            rule: n.rule.clone(),
            status: n.status,
            severity: n.severity,
            summary: n.summary.clone(),
        });
        // Bounded, and waited on: delivery that falls behind slows the poll, never loses one.
        if self.notifications.send(n).await.is_err() {
            tracing::warn!("monitoring: delivery has stopped; the notification is only logged");
        }
    }
}

/// A firing notification as the store keeps it.
fn record(n: &Notification, resolved_text: String) -> AlertRecord {
    let subject = n.key.split('/').nth(1).unwrap_or_default().to_string();
    AlertRecord {
        key: n.key.clone(),
        rule: n.rule.clone(),
        subject,
        severity: n.severity.as_str().to_string(),
        device: n.device.clone(),
        labels: serde_json::to_string(&n.labels).unwrap_or_else(|_| "{}".into()),
        summary: n.summary.clone(),
        description: n.description.clone(),
        resolved_text,
        started_at: Timestamp::from_millis(n.starts_at_ms),
        acked_by: None,
        acked_at: None,
    }
}

/// An alert the store says was firing, as the engine takes it back.
fn restored(a: AlertRecord) -> Option<(Condition, i64)> {
    let rule = RuleKind::parse(&a.rule)?;
    Some((
        Condition {
            key: a.key,
            rule,
            subject: a.subject,
            device: a.device,
            // The store holds what gamops wrote; anything else is read as a warning.
            severity: a.severity.parse().unwrap_or(Severity::Warning),
            labels: serde_json::from_str(&a.labels).unwrap_or_default(),
            summary: a.summary,
            description: a.description,
            resolved: a.resolved_text,
        },
        a.started_at.as_millis(),
    ))
}

/// The API's view of an alert from the store: labels as an object, with the engine's flags.
pub fn alert_json(a: &AlertRecord, views: &[AlertView]) -> serde_json::Value {
    let view = views.iter().find(|v| v.key == a.key);
    let labels: serde_json::Value =
        serde_json::from_str(&a.labels).unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "key": a.key,
        "rule": a.rule,
        "severity": a.severity,
        "device": a.device,
        "labels": labels,
        "summary": a.summary,
        "description": a.description,
        "started_at": a.started_at,
        "acked_by": a.acked_by,
        "acked_at": a.acked_at,
        "flapping": view.is_some_and(|v| v.flapping),
        "suppressed": view.is_some_and(|v| v.suppressed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_that_goes_backwards_is_a_reset_not_a_negative_rate() {
        assert_eq!(rate(1000, 2000, 8.0), Some(125.0));
        // Near the top of 64 bits, then reset to a small value.
        assert_eq!(rate(u64::MAX - 10, 500, 4.0), Some(125.0));
        assert_eq!(rate(u64::MAX - 1000, u64::MAX, 8.0), Some(125.0));
        assert_eq!(rate(5, 5, 1.0), Some(0.0));
        assert_eq!(rate(1, 2, 0.0), None);
    }
}
