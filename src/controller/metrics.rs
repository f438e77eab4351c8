//! The controller's Prometheus metrics (prometheus-client, OpenMetrics text), named by
//! Prometheus conventions: base units, `_total` counters, and the applied commit as an `_info`
//! metric rather than a label on every series. Per-device series are one gauge per device.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::status::FleetState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeviceLabels {
    device: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SystemLabels {
    system: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    system: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommitLabels {
    commit: String,
}

/// Every metric, registered once.
pub struct Metrics {
    registry: Registry,
    pass_seconds: Histogram,
    apply_seconds: Histogram,
    devices: Family<StateLabels, Gauge>,
    last_in_sync: Family<DeviceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    applies: Family<OutcomeLabels, Counter>,
    commit: Family<CommitLabels, Gauge>,
    paused: Gauge,
    billing_lag: Family<SystemLabels, Histogram>,
    billing_syncs: Family<SyncLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        // The controller's own metrics under `gamops_controller_`; collectors added with
        // `with_collector` name their own (the status poll's are `gamops_device_...`).
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("gamops_controller");
        let pass_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        let apply_seconds = Histogram::new(exponential_buckets(0.1, 2.0, 14));
        let devices = Family::<StateLabels, Gauge>::default();
        let last_in_sync = Family::default();
        let applies = Family::<OutcomeLabels, Counter>::default();
        let commit = Family::<CommitLabels, Gauge>::default();
        let paused = Gauge::default();
        let billing_lag = Family::<SystemLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.05, 2.0, 14))) as fn() -> Histogram,
        );
        let billing_syncs = Family::<SyncLabels, Counter>::default();
        registry.register(
            "reconcile_duration_seconds",
            "How long one pass (read, plan, apply) took",
            pass_seconds.clone(),
        );
        registry.register(
            "apply_duration_seconds",
            "How long the apply of one pass took",
            apply_seconds.clone(),
        );
        registry.register("devices", "Devices by sync state", devices.clone());
        registry.register(
            "device_last_in_sync_timestamp_seconds",
            "When each device was last seen matching the target commit (unix time)",
            last_in_sync.clone(),
        );
        registry.register(
            "applies",
            "Device applies by outcome (applied, rolled-back, failed, ...)",
            applies.clone(),
        );
        registry.register(
            "applied_commit_info",
            "The commit the fleet is converged to",
            commit.clone(),
        );
        registry.register("paused", "1 while applies are paused", paused.clone());
        registry.register(
            "billing_sync_lag_seconds",
            "From a billing webhook received to its sync committed (the oldest event of a batch)",
            billing_lag.clone(),
        );
        registry.register(
            "billing_syncs",
            "Billing syncs by system and outcome (committed, unchanged, failed)",
            billing_syncs.clone(),
        );
        Metrics {
            registry: root,
            pass_seconds,
            apply_seconds,
            devices,
            last_in_sync,
            applies,
            commit,
            paused,
            billing_lag,
            billing_syncs,
        }
    }

    /// The metrics with `collector`'s too, encoded at each scrape.
    pub fn with_collector(
        mut self,
        collector: Box<dyn prometheus_client::collector::Collector>,
    ) -> Metrics {
        self.registry.register_collector(collector);
        self
    }

    /// A billing sync of `system` ended with `outcome`; `lag` is how long its oldest event
    /// waited to be committed (none for a failure or a sync no event asked for).
    pub fn billing_synced(&self, system: &str, outcome: &str, lag: Option<f64>) {
        self.billing_syncs
            .get_or_create(&SyncLabels {
                system: system.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        if let Some(lag) = lag {
            self.billing_lag
                .get_or_create(&SystemLabels {
                    system: system.to_string(),
                })
                .observe(lag);
        }
    }

    pub fn pass_took(&self, seconds: f64) {
        self.pass_seconds.observe(seconds);
    }

    pub fn apply_took(&self, seconds: f64) {
        self.apply_seconds.observe(seconds);
    }

    pub fn applied(&self, outcome: &str) {
        self.applies
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Sets the gauges from the controller's state.
    pub fn observe(&self, state: &FleetState) {
        for (state_name, n) in state.counts() {
            self.devices
                .get_or_create(&StateLabels {
                    state: state_name.to_string(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        for d in state.devices.values() {
            if let Some(t) = d.last_in_sync {
                self.last_in_sync
                    .get_or_create(&DeviceLabels {
                        device: d.device.clone(),
                    })
                    .set(t.as_millis() as f64 / 1000.0);
            }
        }
        self.commit.clear();
        if let Some(c) = &state.applied {
            self.commit
                .get_or_create(&CommitLabels { commit: c.clone() })
                .set(1);
        }
        self.paused.set(i64::from(state.paused));
    }

    /// The OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
