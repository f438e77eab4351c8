//! `monitoring:` in gamops.yaml: how `gamops controller` watches the fleet's health (the status
//! poll, its metrics) and when it raises alerts.
//!
//! Every field is optional; what is left out takes the default documented on it (the rules'
//! own defaults are in `monitor::alerts::RuleKind::defaults`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::controller::Interval;
use super::located::Located;

/// How the controller polls every device's status and alerts on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringSettings {
    /// How often every device's status (links, temperatures, alarms, counters) is read:
    /// `60s` by default.
    #[serde(default = "MonitoringSettings::default_interval")]
    pub interval: Located<Interval>,
    /// How many devices one poll reads at once (default 32): bounds the poll's sockets and
    /// work beside the reconcile passes, which read with their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u16>,
    /// Export the per-endpoint series on `/metrics` (one set per CPE). `false` keeps the
    /// device and fleet series only, for a Prometheus that should not hold 20,000 endpoints.
    #[serde(default = "MonitoringSettings::default_true")]
    pub endpoint_metrics: bool,
    /// The alert rules' thresholds and durations.
    #[serde(default)]
    pub alerts: AlertSettings,
}

impl MonitoringSettings {
    fn default_interval() -> Located<Interval> {
        Located::bare(Interval(std::time::Duration::from_secs(60)))
    }

    fn default_true() -> bool {
        true
    }
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            interval: Self::default_interval(),
            concurrency: None,
            endpoint_metrics: true,
            alerts: AlertSettings::default(),
        }
    }
}

/// The built-in alert rules: each can be turned off, and has a `for` (how long its condition
/// must hold before it fires), a `clear_for` (how long it must be gone before it resolves) and a
/// severity; some have thresholds of their own, below.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// A GAM whose status cannot be read over SNMP (default: for 2m, critical).
    #[serde(default)]
    pub device_unreachable: RuleSettings,
    /// A GAM that booted within `reboot_window` (default: for 0s, warning).
    #[serde(default)]
    pub device_rebooted: RuleSettings,
    /// An active subscriber's CPE not detected (default: for 5m, warning); never raised while
    /// its GAM is unreachable.
    #[serde(default)]
    pub endpoint_offline: RuleSettings,
    /// A CPE in quarantine: moved to another port, or unknown to the GAM (default: for 0s,
    /// warning).
    #[serde(default)]
    pub endpoint_quarantined: RuleSettings,
    /// A link whose PHY rates differ by more than `asymmetry_percent` between directions: a
    /// wiring fault (default: for 15m, warning).
    #[serde(default)]
    pub phy_asymmetry: RuleSettings,
    /// A link whose maximum usable throughput is under the rate its subscriber's plan sells
    /// (default: for 15m, warning).
    #[serde(default)]
    pub capacity_below_plan: RuleSettings,
    /// A CPE running other firmware than its GAM's (default: for 1h, info).
    #[serde(default)]
    pub firmware_mismatch: RuleSettings,
    /// A GAM sensor at or above `temperature_c` (default: for 5m, critical).
    #[serde(default)]
    pub temperature: RuleSettings,
    /// An active alarm of the GAM's own at `alarm_min_severity` or worse (default: for 0s;
    /// severity from the alarm's: minor is a warning, major and critical are critical).
    #[serde(default)]
    pub device_alarm: RuleSettings,
    /// A device that differs from the target commit and stays so (default: for 15m, warning).
    #[serde(default)]
    pub drift: RuleSettings,
    /// A device whose last apply failed or was rolled back (default: for 0s, critical).
    #[serde(default)]
    pub apply_failed: RuleSettings,
    /// A billing system whose syncs keep failing (default: for 10m, warning).
    #[serde(default)]
    pub billing_sync: RuleSettings,
    /// PHY asymmetry fires above this share of the faster direction (default 25)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asymmetry_percent: Option<u8>,
    /// ...and resolves only at or below this one (default 20): hysteresis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asymmetry_clear_percent: Option<u8>,
    /// Capacity below plan resolves only when the link carries this much more than the plan
    /// (default 5 %): hysteresis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_plan_clear_percent: Option<u8>,
    /// A sensor at or above this fires (default 70 °C)...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// ...and it resolves only under this (default 65 °C).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_clear_c: Option<f64>,
    /// The least severity of a GAM alarm that raises an alert (default `minor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_min_severity: Option<AlarmLevel>,
    /// How long after a boot a GAM counts as rebooted (default 15m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_window: Option<Interval>,
    /// Flap suppression: an alert whose condition comes and goes `flap_changes` times within
    /// `flap_window` is flapping, and neither fires nor resolves again until it is steady for
    /// a whole window (defaults: 6 changes in 30m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap_changes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flap_window: Option<Interval>,
}

/// One rule's settings; what is left out takes the rule's default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSettings {
    /// `false` turns the rule off (on by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// How long the condition must hold before the alert fires: `0s`, `5m`.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<Interval>,
    /// How long the condition must be gone before a firing alert resolves (default `0s`: at
    /// the first poll that finds it gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_for: Option<Interval>,
    /// The alert's severity, over the rule's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
}

/// How bad an alert is, ordered `info < warning < critical`: a rule's severity, a route's
/// least, and a notification's (the one type all three use).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    Info,
    Warning,
    Critical,
}

impl AlertSeverity {
    /// As gamops.yaml, the store and the notifications write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for AlertSeverity {
    type Err = String;

    fn from_str(s: &str) -> Result<AlertSeverity, String> {
        match s {
            "info" => Ok(AlertSeverity::Info),
            "warning" => Ok(AlertSeverity::Warning),
            "critical" => Ok(AlertSeverity::Critical),
            other => Err(format!(
                "{other:?} is not a severity (info, warning, critical)"
            )),
        }
    }
}

/// A GAM alarm's severity (GAM-ALARM-MIB), for `alarm_min_severity`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AlarmLevel {
    Minor,
    Major,
    Critical,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitoring_settings_default_and_parse() {
        let s: MonitoringSettings = serde_saphyr::from_str("{}").unwrap();
        assert_eq!(s, MonitoringSettings::default());
        assert_eq!(s.interval.0.as_secs(), 60);
        assert!(s.endpoint_metrics);
        let yaml = "interval: 30s\nendpoint_metrics: false\nalerts:\n  endpoint_offline:\n    for: 2m\n    severity: critical\n  temperature_c: 75\n  drift:\n    enabled: false\n";
        let s: MonitoringSettings = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(s.interval.0.as_secs(), 30);
        assert!(!s.endpoint_metrics);
        assert_eq!(
            s.alerts.endpoint_offline.for_.map(|i| i.0.as_secs()),
            Some(120)
        );
        assert_eq!(
            s.alerts.endpoint_offline.severity,
            Some(AlertSeverity::Critical)
        );
        assert_eq!(s.alerts.temperature_c, Some(75.0));
        assert_eq!(s.alerts.drift.enabled, Some(false));
        for bad in [
            "alerts:\n  endpoint_ofline: {}\n",
            "alerts:\n  drift:\n    for: soon\n",
            "alerts:\n  alarm_min_severity: nasty\n",
        ] {
            assert!(
                serde_saphyr::from_str::<MonitoringSettings>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
