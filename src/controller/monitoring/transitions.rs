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

/// What changed from `before` to `after`.
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
        if let (Some(was), Some(now)) = (prev.uptime_s, d.uptime_s)
            && now < was
        {
            push(
                name,
                name.to_string(),
                REBOOT,
                Some(format!("up {was} s")),
                format!("up {now} s"),
                format!("{name} rebooted: uptime went from {was} s to {now} s"),
            );
        }
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
        // A goes offline, B goes away, a reboot.
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
                (REBOOT, "g", Some("up 100 s"), "up 5 s"),
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
}
