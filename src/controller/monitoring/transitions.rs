//! The state transitions between two polls, as the store records them: a device that became
//! reachable or unreachable, a device that rebooted (its uptime went back), an endpoint whose
//! state changed (or that appeared or went away). A device's first poll is its baseline: it
//! records nothing but itself becoming reachable or not.

use std::collections::BTreeMap;

use crate::monitor::status::{DeviceReport, EndpointReport, FleetStatus};
use crate::store::{Timestamp, TransitionRecord};

/// The kinds recorded.
pub const REACHABILITY: &str = "reachability";
pub const REBOOT: &str = "reboot";
pub const ENDPOINT_STATE: &str = "endpoint-state";

fn reach(d: &DeviceReport) -> &'static str {
    if d.reachable {
        "reachable"
    } else {
        "unreachable"
    }
}

/// An endpoint's identity across polls: its MAC, else its subscriber.
fn endpoint_id(e: &EndpointReport) -> Option<String> {
    e.mac
        .map(|m| m.to_string())
        .or_else(|| e.subscriber.clone())
}

/// How long sysUpTime (TimeTicks, hundredths of a second in 32 bits) runs before it wraps to
/// zero: about 497 days, in milliseconds.
pub const UPTIME_WRAP_MS: i64 = (1i64 << 32) * 10;

/// Each device's boot time (unix ms) as of the poll `after` that ended at `at` and took
/// `poll_ms`, from `known` (kept for a device not read now), and the reboots since: a boot time
/// later than the one known, also when polls in between found the device unreachable. Each
/// device was read at some moment of the poll and its uptime is in whole seconds, so a boot
/// time is later only by more than the poll's duration and two seconds.
pub fn reboots(
    known: &BTreeMap<String, i64>,
    after: &FleetStatus,
    at: Timestamp,
    poll_ms: i64,
) -> (BTreeMap<String, i64>, Vec<TransitionRecord>) {
    let slack = poll_ms.max(0).saturating_add(2000);
    let mut booted = BTreeMap::new();
    let mut out = Vec::new();
    for d in &after.devices {
        let name = d.device.clone();
        let was = known.get(&name).copied();
        let Some(up) = d.uptime_s.filter(|_| d.reachable) else {
            if let Some(was) = was {
                booted.insert(name, was);
            }
            continue;
        };
        let now = at
            .as_millis()
            .saturating_sub(i64::try_from(up).unwrap_or(i64::MAX).saturating_mul(1000));
        match was {
            // sysUpTime wrapped: the same boot, 2^32 ticks later, not a reboot.
            Some(was) if (now - was - UPTIME_WRAP_MS).abs() <= slack => {
                booted.insert(name, was);
            }
            Some(was) if now > was.saturating_add(slack) => {
                out.push(TransitionRecord {
                    at,
                    device: name.clone(),
                    subject: name.clone(),
                    kind: REBOOT.to_string(),
                    from: Some(format!("booted {}", Timestamp::from_millis(was))),
                    to: format!("booted {}", Timestamp::from_millis(now)),
                    detail: format!("{name} rebooted: up {up} s"),
                });
                booted.insert(name, now);
            }
            // The same boot: keep the earliest estimate.
            Some(was) => {
                booted.insert(name, was.min(now));
            }
            None => {
                booted.insert(name, now);
            }
        }
    }
    (booted, out)
}

/// What changed from `before` to `after` (reboots apart: see [`reboots`]).
pub fn between(before: &FleetStatus, after: &FleetStatus, at: Timestamp) -> Vec<TransitionRecord> {
    let old: BTreeMap<&str, &DeviceReport> = before
        .devices
        .iter()
        .map(|d| (d.device.as_str(), d))
        .collect();
    let mut out = Vec::new();
    let mut push = |device: &str,
                    subject: String,
                    kind: &str,
                    from: Option<String>,
                    to: String,
                    detail: String| {
        out.push(TransitionRecord {
            at,
            device: device.to_string(),
            subject,
            kind: kind.to_string(),
            from,
            to,
            detail,
        });
    };
    for d in &after.devices {
        let name = d.device.as_str();
        let prev = old.get(name);
        if prev.is_none_or(|p| p.reachable != d.reachable) {
            push(
                name,
                name.to_string(),
                REACHABILITY,
                prev.map(|p| reach(p).to_string()),
                reach(d).to_string(),
                d.reason.clone().unwrap_or_else(|| "status read".into()),
            );
        }
        let Some(prev) = prev.filter(|p| p.reachable && d.reachable) else {
            continue;
        };
        let was: BTreeMap<String, &EndpointReport> = prev
            .endpoints
            .iter()
            .filter_map(|e| endpoint_id(e).map(|id| (id, e)))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for e in &d.endpoints {
            let Some(id) = endpoint_id(e) else { continue };
            seen.insert(id.clone());
            let from = was.get(&id).map(|p| p.state);
            if from != Some(e.state) {
                push(
                    name,
                    id.clone(),
                    ENDPOINT_STATE,
                    from.map(|s| s.as_str().to_string()),
                    e.state.as_str().to_string(),
                    format!(
                        "{}{} is {}{}",
                        e.subscriber
                            .as_ref()
                            .map(|s| format!("subscriber {s}, CPE "))
                            .unwrap_or_else(|| "CPE ".into()),
                        id,
                        e.state.as_str(),
                        e.port.map(|p| format!(" on port {p}")).unwrap_or_default()
                    ),
                );
            }
        }
        for (id, e) in &was {
            if !seen.contains(id) {
                push(
                    name,
                    id.clone(),
                    ENDPOINT_STATE,
                    Some(e.state.as_str().to_string()),
                    "absent".into(),
                    format!("{id} is no longer listed by {name}"),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::status::EndpointState;

    fn device(
        name: &str,
        reachable: bool,
        uptime: u64,
        eps: &[(&str, EndpointState)],
    ) -> DeviceReport {
        DeviceReport {
            device: name.into(),
            reachable,
            reason: (!reachable).then(|| "timeout".to_string()),
            model: None,
            firmware: None,
            uptime_s: reachable.then_some(uptime),
            temperature_c: None,
            alarms: Vec::new(),
            problems: Vec::new(),
            endpoints: eps
                .iter()
                .map(|(mac, state)| EndpointReport {
                    subscriber: None,
                    name: None,
                    subscriber_status: None,
                    mac: Some(mac.parse().unwrap()),
                    state: *state,
                    port: Some(1),
                    plan: None,
                    plan_down_mbps: None,
                    plan_up_mbps: None,
                    phy_down_mbps: None,
                    phy_up_mbps: None,
                    usable_down_mbps: None,
                    usable_up_mbps: None,
                    wire_length_m: None,
                    model: None,
                    firmware: None,
                    firmware_mismatch: false,
                    uptime: None,
                    problems: Vec::new(),
                })
                .collect(),
        }
    }

    fn fleet(devices: Vec<DeviceReport>) -> FleetStatus {
        FleetStatus {
            format_version: 1,
            devices,
        }
    }

    #[test]
    fn transitions_between_polls() {
        const A: &str = "00:0e:d8:00:00:01";
        const B: &str = "00:0e:d8:00:00:02";
        let at = Timestamp::from_millis(1);
        let first = fleet(vec![device(
            "g",
            true,
            100,
            &[(A, EndpointState::Ok), (B, EndpointState::Ok)],
        )]);
        // The first poll is the baseline: only the device's reachability.
        let t = between(&FleetStatus::default(), &first, at);
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].kind.as_str(), t[0].to.as_str()),
            (REACHABILITY, "reachable")
        );
        // Nothing changed: nothing recorded.
        assert!(between(&first, &first, at).is_empty());
        // A goes offline, B goes away.
        let second = fleet(vec![device(
            "g",
            true,
            5,
            &[(A, EndpointState::NotDetected)],
        )]);
        let t = between(&first, &second, at);
        let kinds: Vec<(&str, &str, Option<&str>, &str)> = t
            .iter()
            .map(|r| {
                (
                    r.kind.as_str(),
                    r.subject.as_str(),
                    r.from.as_deref(),
                    r.to.as_str(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (ENDPOINT_STATE, A, Some("ok"), "offline"),
                (ENDPOINT_STATE, B, Some("ok"), "absent"),
            ]
        );
        // Unreachable: one transition, not one per endpoint.
        let third = fleet(vec![device("g", false, 0, &[])]);
        let t = between(&second, &third, at);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].to, "unreachable");
        assert_eq!(t[0].detail, "timeout");
    }

    #[test]
    fn a_reboot_is_found_by_its_boot_time_also_across_an_unreachable_poll() {
        let min = |m: i64| Timestamp::from_millis(1_000_000_000 + m * 60_000);
        let up = |s: u64| fleet(vec![device("g", true, s, &[])]);
        let down = fleet(vec![device("g", false, 0, &[])]);
        // Up an hour at minute 0; a minute later, up an hour and a minute: the same boot.
        let (known, t) = reboots(&BTreeMap::new(), &up(3600), min(0), 500);
        assert!(t.is_empty());
        let (known, t) = reboots(&known, &up(3660), min(1), 500);
        assert!(t.is_empty());
        // Unreachable (rebooting), then up 30 s: a reboot.
        let (known, t) = reboots(&known, &down, min(2), 500);
        assert!(t.is_empty());
        assert_eq!(known.len(), 1);
        let (known, t) = reboots(&known, &up(30), min(3), 500);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].kind, REBOOT);
        assert_eq!(t[0].detail, "g rebooted: up 30 s");
        let (_, t) = reboots(&known, &up(90), min(4), 500);
        assert!(t.is_empty());
    }

    #[test]
    fn a_wrapped_uptime_is_the_same_boot_not_a_reboot() {
        let at = |ms: i64| Timestamp::from_millis(1_000_000_000_000 + ms);
        let up = |s: u64| fleet(vec![device("g", true, s, &[])]);
        // Just before sysUpTime wraps (2^32 hundredths of a second), then just after it.
        let last = (UPTIME_WRAP_MS / 1000 - 30) as u64;
        let (known, t) = reboots(&BTreeMap::new(), &up(last), at(0), 500);
        assert!(t.is_empty());
        let (known, t) = reboots(&known, &up(30), at(60_000), 500);
        assert!(t.is_empty(), "{t:?}");
        assert_eq!(known["g"], at(0).as_millis() - last as i64 * 1000);
        // A real reboot later is still one.
        let (_, t) = reboots(&known, &up(5), at(120_000), 500);
        assert_eq!(t.len(), 1);
    }
}
