//! Alerts: the built-in rules, evaluated on what monitoring saw, with no I/O.
//!
//! - [`rules`] turns what was seen (the fleet's status, the controller's view of each device's
//!   sync, the billing syncs' health) into [`Observed`]: the conditions that hold now, and what
//!   the observation covers (so an alert of a covered rule and subject whose condition is not
//!   there is clear) or leaves unknown (suppressed: an unreachable GAM's endpoints are neither
//!   offline nor fine).
//! - [`engine`] keeps each alert's state across evaluations: `for` (pending before firing),
//!   `clear_for` and thresholds with hysteresis (resolving), flap suppression, and dedup by key;
//!   it returns each firing and resolving transition once, as a
//!   [`Notification`](crate::notifications::Notification).
//!
//! The controller ([`crate::controller`]) feeds it after every status poll, keeps active alerts
//! and their history in the store, and hands each transition to delivery.

pub mod engine;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::model::{AlarmLevel, AlertSettings, Desired, RuleSettings};
use crate::notifications::{Notification, Severity};

pub use engine::{AlertView, Engine};
pub use rules::{BillingHealth, DeviceSync};

/// A built-in rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    DeviceUnreachable,
    DeviceRebooted,
    EndpointOffline,
    EndpointQuarantined,
    PhyAsymmetry,
    CapacityBelowPlan,
    FirmwareMismatch,
    Temperature,
    DeviceAlarm,
    Drift,
    ApplyFailed,
    BillingSync,
}

impl RuleKind {
    pub const ALL: [RuleKind; 12] = [
        RuleKind::DeviceUnreachable,
        RuleKind::DeviceRebooted,
        RuleKind::EndpointOffline,
        RuleKind::EndpointQuarantined,
        RuleKind::PhyAsymmetry,
        RuleKind::CapacityBelowPlan,
        RuleKind::FirmwareMismatch,
        RuleKind::Temperature,
        RuleKind::DeviceAlarm,
        RuleKind::Drift,
        RuleKind::ApplyFailed,
        RuleKind::BillingSync,
    ];

    /// The rules the status poll decides, per device.
    pub const STATUS: [RuleKind; 9] = [
        RuleKind::DeviceUnreachable,
        RuleKind::DeviceRebooted,
        RuleKind::EndpointOffline,
        RuleKind::EndpointQuarantined,
        RuleKind::PhyAsymmetry,
        RuleKind::CapacityBelowPlan,
        RuleKind::FirmwareMismatch,
        RuleKind::Temperature,
        RuleKind::DeviceAlarm,
    ];

    /// Its name in snake case, as in gamops.yaml and notifications: `endpoint_offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::DeviceUnreachable => "device_unreachable",
            RuleKind::DeviceRebooted => "device_rebooted",
            RuleKind::EndpointOffline => "endpoint_offline",
            RuleKind::EndpointQuarantined => "endpoint_quarantined",
            RuleKind::PhyAsymmetry => "phy_asymmetry",
            RuleKind::CapacityBelowPlan => "capacity_below_plan",
            RuleKind::FirmwareMismatch => "firmware_mismatch",
            RuleKind::Temperature => "temperature",
            RuleKind::DeviceAlarm => "device_alarm",
            RuleKind::Drift => "drift",
            RuleKind::ApplyFailed => "apply_failed",
            RuleKind::BillingSync => "billing_sync",
        }
    }

    /// The first part of its alerts' keys: `endpoint-offline`.
    pub fn key_prefix(self) -> String {
        self.as_str().replace('_', "-")
    }

    /// The rule named `name` (snake case).
    pub fn parse(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Its defaults: `for`, and severity.
    pub fn defaults(self) -> (Duration, Severity) {
        let m = |minutes: u64| Duration::from_secs(minutes * 60);
        match self {
            RuleKind::DeviceUnreachable => (m(2), Severity::Critical),
            RuleKind::DeviceRebooted => (m(0), Severity::Warning),
            RuleKind::EndpointOffline => (m(5), Severity::Warning),
            RuleKind::EndpointQuarantined => (m(0), Severity::Warning),
            RuleKind::PhyAsymmetry => (m(15), Severity::Warning),
            RuleKind::CapacityBelowPlan => (m(15), Severity::Warning),
            RuleKind::FirmwareMismatch => (m(60), Severity::Info),
            RuleKind::Temperature => (m(5), Severity::Critical),
            RuleKind::DeviceAlarm => (m(0), Severity::Warning),
            RuleKind::Drift => (m(15), Severity::Warning),
            RuleKind::ApplyFailed => (m(0), Severity::Critical),
            RuleKind::BillingSync => (m(10), Severity::Warning),
        }
    }
}

/// One rule's effective settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleConfig {
    pub enabled: bool,
    pub for_: Duration,
    pub clear_for: Duration,
    /// The severity gamops.yaml sets, over the rule's own (`None`: the rule decides).
    pub severity: Option<Severity>,
}

/// Every rule's effective settings: gamops.yaml's `monitoring.alerts` over the defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    rules: BTreeMap<RuleKind, RuleConfig>,
    pub asymmetry_percent: u32,
    pub asymmetry_clear_percent: u32,
    pub below_plan_clear_percent: u32,
    pub temperature_c: f64,
    pub temperature_clear_c: f64,
    pub alarm_min_severity: crate::device::status::AlarmSeverity,
    pub reboot_window: Duration,
    pub flap_changes: usize,
    pub flap_window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config::new(&AlertSettings::default())
    }
}

impl Config {
    /// The settings of gamops.yaml over the defaults; clear thresholds past their firing ones
    /// are brought back to them (no hysteresis rather than an alert that never resolves).
    pub fn new(s: &AlertSettings) -> Config {
        use crate::device::status::AlarmSeverity;
        let rule = |kind: RuleKind, r: &RuleSettings| {
            let (for_, _) = kind.defaults();
            (
                kind,
                RuleConfig {
                    enabled: r.enabled.unwrap_or(true),
                    for_: r.for_.map_or(for_, |i| i.0),
                    clear_for: r.clear_for.map_or(Duration::ZERO, |i| i.0),
                    severity: r.severity,
                },
            )
        };
        let rules = [
            rule(RuleKind::DeviceUnreachable, &s.device_unreachable),
            rule(RuleKind::DeviceRebooted, &s.device_rebooted),
            rule(RuleKind::EndpointOffline, &s.endpoint_offline),
            rule(RuleKind::EndpointQuarantined, &s.endpoint_quarantined),
            rule(RuleKind::PhyAsymmetry, &s.phy_asymmetry),
            rule(RuleKind::CapacityBelowPlan, &s.capacity_below_plan),
            rule(RuleKind::FirmwareMismatch, &s.firmware_mismatch),
            rule(RuleKind::Temperature, &s.temperature),
            rule(RuleKind::DeviceAlarm, &s.device_alarm),
            rule(RuleKind::Drift, &s.drift),
            rule(RuleKind::ApplyFailed, &s.apply_failed),
            rule(RuleKind::BillingSync, &s.billing_sync),
        ]
        .into_iter()
        .collect();
        let asymmetry_percent = u32::from(s.asymmetry_percent.unwrap_or(25).min(100));
        let temperature_c = s.temperature_c.filter(|t| t.is_finite()).unwrap_or(70.0);
        Config {
            rules,
            asymmetry_percent,
            asymmetry_clear_percent: u32::from(s.asymmetry_clear_percent.unwrap_or(20))
                .min(asymmetry_percent),
            below_plan_clear_percent: u32::from(s.below_plan_clear_percent.unwrap_or(5)),
            temperature_c,
            temperature_clear_c: s
                .temperature_clear_c
                .filter(|t| t.is_finite())
                .unwrap_or(temperature_c - 5.0)
                .min(temperature_c),
            alarm_min_severity: match s.alarm_min_severity.unwrap_or(AlarmLevel::Minor) {
                AlarmLevel::Minor => AlarmSeverity::Minor,
                AlarmLevel::Major => AlarmSeverity::Major,
                AlarmLevel::Critical => AlarmSeverity::Critical,
            },
            reboot_window: s
                .reboot_window
                .map_or(Duration::from_secs(15 * 60), |i| i.0),
            flap_changes: s.flap_changes.map_or(6, |n| n.max(2) as usize),
            flap_window: s.flap_window.map_or(Duration::from_secs(30 * 60), |i| i.0),
        }
    }

    pub fn rule(&self, kind: RuleKind) -> RuleConfig {
        self.rules
            .get(&kind)
            .cloned()
            .unwrap_or_else(|| RuleConfig {
                enabled: true,
                for_: kind.defaults().0,
                clear_for: Duration::ZERO,
                severity: None,
            })
    }

    /// The severity of an alert of `kind` whose rule suggests `suggested`.
    pub fn severity(&self, kind: RuleKind, suggested: Severity) -> Severity {
        self.rule(kind).severity.unwrap_or(suggested)
    }
}

/// A condition that holds now, as a rule sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// The dedup key: `endpoint-offline/gam-0001/00:0e:d8:00:01:80`.
    pub key: String,
    pub rule: RuleKind,
    /// What the rule decides per: a device's name, or a billing system's.
    pub subject: String,
    pub device: Option<String>,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub description: String,
    /// The one line said when it resolves.
    pub resolved: String,
}

/// What one observation saw: the conditions that hold, and which rules it decided for which
/// subjects.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// (rule, subject) pairs decided: an alert of one of them with no condition here is clear.
    pub covered: BTreeSet<(RuleKind, String)>,
    /// (rule, subject) pairs that could not be decided (an unreachable GAM's endpoints): their
    /// alerts neither start nor resolve, and a pending one starts over.
    pub suppressed: BTreeSet<(RuleKind, String)>,
    pub conditions: Vec<Condition>,
}

impl Observed {
    /// Both observations at once.
    pub fn merge(mut self, other: Observed) -> Observed {
        self.covered.extend(other.covered);
        self.suppressed.extend(other.suppressed);
        self.conditions.extend(other.conditions);
        self
    }
}

/// Gives each notification its device's labels from the inventory (`site: north`), which
/// routes match on; the rule's own labels (port, MAC, subscriber) win a clash.
pub fn with_device_labels(notifications: &mut [Notification], desired: &Desired) {
    for n in notifications {
        let Some(device) = n.device.as_deref().and_then(|d| desired.device(d)) else {
            continue;
        };
        for (name, value) in &device.labels {
            n.labels
                .entry(name.to_string())
                .or_insert_with(|| value.clone());
        }
    }
}
