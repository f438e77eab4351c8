//! The built-in rules: what monitoring saw, turned into the conditions that hold now.
//!
//! Thresholds with hysteresis judge an alert that is already pending or firing against their
//! clear threshold (a hot GAM at 68 °C stays hot until under 65 °C), so a value hovering on
//! the line does not fire and resolve at every poll.

use std::collections::BTreeMap;

use super::{Condition, Config, Engine, Observed, RuleKind};
use crate::device::status::AlarmSeverity;
use crate::model::{Desired, SubscriberStatus};
use crate::monitor::status::{DeviceReport, EndpointReport, EndpointState, FleetStatus};
use crate::notifications::Severity;

/// A device as the controller sees its sync with the target commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceSync {
    pub device: String,
    /// It differs from the target, and is not being changed now.
    pub drifted: bool,
    /// Changes planned for it.
    pub changes: usize,
    /// Its last apply failed or was rolled back: the controller's message.
    pub failed: Option<String>,
    /// The controller cannot tell now (the device is unread, or being changed): its drift and
    /// failure alerts stay as they are rather than resolve.
    pub unknown: bool,
}

/// A billing system's syncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingHealth {
    pub system: String,
    /// The last sync failed: its error.
    pub failing: Option<String>,
    /// No sync has ended since the controller started: its alert stays as the store has it.
    pub unknown: bool,
}

struct Builder<'a> {
    config: &'a Config,
    engine: &'a Engine,
    out: Observed,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: RuleKind,
        subject: &str,
        device: Option<&str>,
        id: Option<&str>,
        severity: Severity,
        labels: BTreeMap<String, String>,
        summary: String,
        description: String,
        resolved: String,
    ) {
        let key = Self::key(rule, subject, id);
        self.out.conditions.push(Condition {
            key,
            rule,
            subject: subject.to_string(),
            device: device.map(str::to_string),
            severity: self.config.severity(rule, severity),
            labels,
            summary,
            description,
            resolved,
        });
    }

    fn key(rule: RuleKind, subject: &str, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{}/{subject}/{id}", rule.key_prefix()),
            None => format!("{}/{subject}", rule.key_prefix()),
        }
    }

    fn active(&self, rule: RuleKind, subject: &str, id: Option<&str>) -> bool {
        self.engine.is_active(&Self::key(rule, subject, id))
    }
}

fn labels(pairs: &[(&str, Option<String>)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect()
}

/// The status rules' conditions for every device of a status poll. An unreachable device's
/// other rules are suppressed: its endpoints are neither offline nor fine while it cannot be
/// read.
pub fn from_status(
    config: &Config,
    engine: &Engine,
    desired: &Desired,
    status: &FleetStatus,
) -> Observed {
    let mut b = Builder {
        config,
        engine,
        out: Observed::default(),
    };
    for d in &status.devices {
        let name = d.device.as_str();
        if !d.reachable {
            b.out
                .covered
                .insert((RuleKind::DeviceUnreachable, name.to_string()));
            for r in RuleKind::STATUS {
                if r != RuleKind::DeviceUnreachable {
                    b.out.suppressed.insert((r, name.to_string()));
                }
            }
            let reason = d.reason.clone().unwrap_or_default();
            b.push(
                RuleKind::DeviceUnreachable,
                name,
                Some(name),
                None,
                Severity::Critical,
                BTreeMap::new(),
                format!("{name} does not answer SNMP"),
                format!(
                    "The status of {name} could not be read: {reason}\nIts endpoints' alerts are held until it answers. Check its power, its management network and its SNMP settings."
                ),
                format!("{name} answers SNMP again"),
            );
            continue;
        }
        for r in RuleKind::STATUS {
            b.out.covered.insert((r, name.to_string()));
        }
        device_rules(&mut b, d);
        for e in &d.endpoints {
            endpoint_rules(&mut b, desired, name, e);
        }
    }
    b.out
}

fn device_rules(b: &mut Builder<'_>, d: &DeviceReport) {
    let name = d.device.as_str();
    if let Some(up) = d.uptime_s
        && up < b.config.reboot_window.as_secs()
    {
        b.push(
            RuleKind::DeviceRebooted,
            name,
            Some(name),
            None,
            Severity::Warning,
            BTreeMap::new(),
            format!("{name} rebooted {up} s ago"),
            format!(
                "{name} has been up for {up} s: it rebooted (power, a crash, or someone). Its subscribers' links restarted with it."
            ),
            format!(
                "{name} has been up for more than {} s",
                b.config.reboot_window.as_secs()
            ),
        );
    }
    if let Some(t) = d.temperature_c {
        let threshold = if b.active(RuleKind::Temperature, name, None) {
            b.config.temperature_clear_c
        } else {
            b.config.temperature_c
        };
        if t >= threshold {
            b.push(
                RuleKind::Temperature,
                name,
                Some(name),
                None,
                Severity::Critical,
                labels(&[("celsius", Some(format!("{t:.1}")))]),
                format!("{name} is at {t:.1} °C"),
                format!(
                    "The hottest sensor of {name} reads {t:.1} °C (alert at {:.1} °C, cleared under {:.1} °C). Check its fans and the cabinet's cooling.",
                    b.config.temperature_c, b.config.temperature_clear_c
                ),
                format!("{name} is back under {:.1} °C", b.config.temperature_clear_c),
            );
        }
    }
    for a in &d.alarms {
        if a.severity < b.config.alarm_min_severity {
            continue;
        }
        let id = format!("{}/{}", a.condition, a.if_index);
        let severity = if a.severity >= AlarmSeverity::Major {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let interface = crate::device::printable(&a.interface).into_owned();
        let affecting = if a.service_affecting {
            ", service-affecting"
        } else {
            ""
        };
        b.push(
            RuleKind::DeviceAlarm,
            name,
            Some(name),
            Some(&id),
            severity,
            labels(&[
                ("condition", Some(a.condition.clone())),
                ("alarm_severity", Some(a.severity.as_str().to_string())),
                ("interface", Some(interface.clone())),
            ]),
            format!(
                "{name}: alarm {} ({}{affecting}) on {interface}",
                a.condition,
                a.severity.as_str()
            ),
            format!(
                "{name} raised alarm {} ({}{affecting}) on {interface}{}.",
                a.condition,
                a.severity.as_str(),
                a.occurred
                    .as_ref()
                    .map(|o| format!(" at {o}"))
                    .unwrap_or_default()
            ),
            format!("{name}: alarm {} on {interface} cleared", a.condition),
        );
    }
}

fn endpoint_rules(b: &mut Builder<'_>, desired: &Desired, device: &str, e: &EndpointReport) {
    let mac = e.mac.map(|m| m.to_string());
    let id = mac.clone().or_else(|| e.subscriber.clone());
    let Some(id) = id else { return };
    let who = match (&e.subscriber, &e.name) {
        (Some(s), Some(n)) => format!("subscriber {s} ({n})"),
        (Some(s), None) => format!("subscriber {s}"),
        _ => format!("CPE {id}"),
    };
    let port = e.port.map(|p| p.to_string());
    let base = labels(&[
        ("subscriber", e.subscriber.clone()),
        ("mac", mac.clone()),
        ("port", port.clone()),
    ]);
    let active = e.subscriber_status == Some(SubscriberStatus::Active);
    if e.state == EndpointState::NotDetected && active && e.subscriber.is_some() {
        b.push(
            RuleKind::EndpointOffline,
            device,
            Some(device),
            Some(&id),
            Severity::Warning,
            base.clone(),
            format!("{who} is offline on {device}"),
            format!(
                "The CPE of {who} ({}) is not detected on {device}{}. Power at the subscriber's, or the wire.",
                mac.as_deref().unwrap_or("no MAC"),
                port.as_ref()
                    .map(|p| format!(" port {p}"))
                    .unwrap_or_default()
            ),
            format!("{who} is back online on {device}"),
        );
    }
    if matches!(
        e.state,
        EndpointState::QuarantinedWrongPort | EndpointState::QuarantinedUnknownMac
    ) {
        let here = port.clone().unwrap_or_else(|| "?".into());
        let mac_text = mac.clone().unwrap_or_else(|| "?".into());
        let (summary, description) = if e.state == EndpointState::QuarantinedWrongPort {
            let bound = e.subscriber.as_deref().and_then(|s| {
                desired
                    .subscribers
                    .iter()
                    .find(|x| x.id.as_str() == s)
                    .map(|x| x.port.get().to_string())
            });
            (
                format!("CPE {mac_text} quarantined on {device} port {here} (moved)"),
                format!(
                    "The CPE {mac_text} of {who} is now on port {here} of {device}{}: it was moved or swapped, and sits in the quarantine VLAN. Move it back, or change the subscriber's port in the inventory.",
                    bound
                        .map(|p| format!(", but bound to port {p}"))
                        .unwrap_or_default()
                ),
            )
        } else {
            (
                format!("unknown CPE {mac_text} quarantined on {device} port {here}"),
                format!(
                    "{device} sees CPE {mac_text} on port {here} and has no endpoint for it: it sits in the quarantine VLAN. A new or swapped CPE: add it to the subscriber's endpoint in the inventory."
                ),
            )
        };
        b.push(
            RuleKind::EndpointQuarantined,
            device,
            Some(device),
            Some(&id),
            Severity::Warning,
            base.clone(),
            summary,
            description,
            format!("CPE {mac_text} is out of quarantine on {device}"),
        );
    }
    if let (Some(down), Some(up)) = (e.phy_down_mbps, e.phy_up_mbps) {
        let (hi, lo) = (down.max(up), down.min(up));
        let threshold = if b.active(RuleKind::PhyAsymmetry, device, Some(&id)) {
            b.config.asymmetry_clear_percent
        } else {
            b.config.asymmetry_percent
        };
        if hi > 0 && u64::from(hi - lo) * 100 > u64::from(threshold) * u64::from(hi) {
            let apart = u64::from(hi - lo) * 100 / u64::from(hi);
            b.push(
                RuleKind::PhyAsymmetry,
                device,
                Some(device),
                Some(&id),
                Severity::Warning,
                base.clone(),
                format!("{who} on {device}: PHY rates {down}/{up} Mbps ({apart} % apart)"),
                format!(
                    "The link of {who} on {device} runs {down} Mbps down and {up} Mbps up, {apart} % apart (alert above {} %): a wiring fault, such as a split pair or a bad splitter.",
                    b.config.asymmetry_percent
                ),
                format!("{who} on {device}: PHY rates are balanced again"),
            );
        }
    }
    if let (Some(pd), Some(pu), Some(ud), Some(uu)) = (
        e.plan_down_mbps,
        e.plan_up_mbps,
        e.usable_down_mbps,
        e.usable_up_mbps,
    ) {
        let firing = b.active(RuleKind::CapacityBelowPlan, device, Some(&id));
        let need = |plan: u32| {
            if firing {
                u64::from(plan) * (100 + u64::from(b.config.below_plan_clear_percent)) / 100
            } else {
                u64::from(plan)
            }
        };
        if u64::from(ud) < need(pd) || u64::from(uu) < need(pu) {
            b.push(
                RuleKind::CapacityBelowPlan,
                device,
                Some(device),
                Some(&id),
                Severity::Warning,
                {
                    let mut l = base.clone();
                    if let Some(p) = &e.plan {
                        l.insert("plan".into(), p.clone());
                    }
                    l
                },
                format!(
                    "{who} on {device}: the link carries {ud}/{uu} Mbps, the plan sells {pd}/{pu}"
                ),
                format!(
                    "The maximum usable throughput of the link of {who} on {device} is {ud} Mbps down and {uu} Mbps up, under the {pd}/{pu} Mbps its plan {} sells. The wire cannot carry what was sold: look at its length and medium, or sell a lower plan.",
                    e.plan.as_deref().unwrap_or("?")
                ),
                format!("{who} on {device}: the link carries the plan's rates again"),
            );
        }
    }
    if e.firmware_mismatch {
        b.push(
            RuleKind::FirmwareMismatch,
            device,
            Some(device),
            Some(&id),
            Severity::Info,
            base,
            format!("{who} on {device}: CPE firmware differs from the GAM's"),
            format!(
                "The CPE of {who} on {device} runs firmware {}, not the one bundled with the GAM. Upgrade it (endpoint_auto_fw_upgrade) or check the GAM's bundle.",
                e.firmware.as_deref().unwrap_or("?")
            ),
            format!("{who} on {device}: CPE firmware matches the GAM's again"),
        );
    }
}

/// The controller's rules: drift that stays, and failed applies, for every device it knows.
pub fn from_sync(config: &Config, engine: &Engine, devices: &[DeviceSync]) -> Observed {
    let mut b = Builder {
        config,
        engine,
        out: Observed::default(),
    };
    for d in devices {
        let name = d.device.as_str();
        let seen = if d.unknown {
            &mut b.out.suppressed
        } else {
            &mut b.out.covered
        };
        seen.insert((RuleKind::Drift, name.to_string()));
        seen.insert((RuleKind::ApplyFailed, name.to_string()));
        if d.unknown {
            continue;
        }
        if d.drifted {
            b.push(
                RuleKind::Drift,
                name,
                Some(name),
                None,
                Severity::Warning,
                labels(&[("changes", Some(d.changes.to_string()))]),
                format!("{name} differs from the target commit ({} change(s))", d.changes),
                format!(
                    "{name} does not match the inventory's target commit: {} change(s) wait (its policy, a maintenance window, applies paused, or a change made on the device by hand). See GET /api/v1/devices/{name}.",
                    d.changes
                ),
                format!("{name} matches the target commit again"),
            );
        }
        if let Some(message) = &d.failed {
            b.push(
                RuleKind::ApplyFailed,
                name,
                Some(name),
                None,
                Severity::Critical,
                BTreeMap::new(),
                format!("applying to {name} failed"),
                format!("The last apply to {name} failed or was rolled back: {message}"),
                format!("{name} applied without failure"),
            );
        }
    }
    b.out
}

/// The billing syncs' rule, for every system the controller receives.
pub fn from_billing(config: &Config, engine: &Engine, systems: &[BillingHealth]) -> Observed {
    let mut b = Builder {
        config,
        engine,
        out: Observed::default(),
    };
    for s in systems {
        let name = s.system.as_str();
        if s.unknown {
            b.out
                .suppressed
                .insert((RuleKind::BillingSync, name.to_string()));
            continue;
        }
        b.out
            .covered
            .insert((RuleKind::BillingSync, name.to_string()));
        if let Some(error) = &s.failing {
            b.push(
                RuleKind::BillingSync,
                name,
                None,
                None,
                Severity::Warning,
                labels(&[("system", Some(name.to_string()))]),
                format!("{name} billing sync failing"),
                format!(
                    "Syncing subscribers from {name} fails: {error}. Subscribers changed there do not reach the GAMs."
                ),
                format!("{name} billing sync works again"),
            );
        }
    }
    b.out
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
