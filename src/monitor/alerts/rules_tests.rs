//! Each built-in rule fires once and resolves once, through the engine, with its hysteresis
//! and the suppression of an unreachable GAM's endpoints.

use super::*;
use crate::device::status::Alarm;
use crate::model::{AlertSettings, Interval, RuleSettings};
use crate::monitor::alerts::Engine;
use crate::notifications::{AlertStatus, Notification};
use std::time::Duration;

const MIN: i64 = 60_000;
const MAC: &str = "00:0e:d8:00:00:01";

fn endpoint(state: EndpointState) -> EndpointReport {
    EndpointReport {
        subscriber: Some("alice".into()),
        name: Some("Alice".into()),
        subscriber_status: Some(SubscriberStatus::Active),
        mac: Some(MAC.parse().unwrap()),
        state,
        port: Some(3),
        plan: Some("p100".into()),
        plan_down_mbps: Some(100),
        plan_up_mbps: Some(100),
        phy_down_mbps: Some(1000),
        phy_up_mbps: Some(1000),
        usable_down_mbps: Some(500),
        usable_up_mbps: Some(500),
        wire_length_m: Some(50),
        model: Some("G1001-C".into()),
        firmware: Some("1.5.4".into()),
        firmware_mismatch: false,
        uptime: None,
        problems: Vec::new(),
    }
}

fn device(endpoint: EndpointReport) -> DeviceReport {
    DeviceReport {
        device: "gam".into(),
        reachable: true,
        reason: None,
        model: Some("GAM-12-C".into()),
        firmware: Some("1.5.4".into()),
        uptime_s: Some(86_400),
        temperature_c: Some(40.0),
        alarms: Vec::new(),
        problems: Vec::new(),
        endpoints: vec![endpoint],
    }
}

fn fleet(d: DeviceReport) -> FleetStatus {
    FleetStatus {
        format_version: 1,
        devices: vec![d],
    }
}

fn config(settings: AlertSettings) -> Config {
    Config::new(&settings)
}

fn at_once() -> RuleSettings {
    RuleSettings {
        for_: Some(Interval(Duration::ZERO)),
        ..RuleSettings::default()
    }
}

/// Feeds one poll a minute through the engine; every notification with its minute.
fn run(config: Config, polls: &[FleetStatus]) -> Vec<(usize, Notification)> {
    let mut engine = Engine::new(config);
    let desired = Desired::default();
    let mut out = Vec::new();
    for (i, p) in polls.iter().enumerate() {
        let o = from_status(engine.config(), &engine, &desired, p);
        for n in engine.evaluate(i as i64 * MIN, o) {
            out.push((i, n));
        }
    }
    out
}

/// The (minute, status) of every notification of one key.
fn of(got: &[(usize, Notification)], key: &str) -> Vec<(usize, AlertStatus)> {
    got.iter()
        .filter(|(_, n)| n.key == key)
        .map(|(i, n)| (*i, n.status))
        .collect()
}

fn with(f: impl Fn(&mut DeviceReport)) -> FleetStatus {
    let mut d = device(endpoint(EndpointState::Ok));
    f(&mut d);
    fleet(d)
}

#[test]
fn a_healthy_fleet_raises_nothing() {
    let polls = vec![with(|_| {}); 30];
    assert!(run(Config::default(), &polls).is_empty());
}

#[test]
fn device_unreachable_fires_after_its_for_and_suppresses_the_endpoints() {
    let down = with(|d| {
        d.reachable = false;
        d.reason = Some("timeout after 2 tries".into());
        d.endpoints.clear();
        d.uptime_s = None;
    });
    let offline = with(|d| d.endpoints[0].state = EndpointState::NotDetected);
    // Offline while the GAM answers for 3 minutes (fires at 5 with its default for), then the
    // GAM goes away for 10 minutes (no resolve), then back with the CPE online.
    let mut polls = vec![with(|_| {})];
    polls.extend(vec![offline.clone(); 7]);
    polls.extend(vec![down.clone(); 10]);
    polls.extend(vec![with(|_| {}); 3]);
    let got = run(Config::default(), &polls);
    let unreachable = of(&got, "device-unreachable/gam");
    assert_eq!(
        unreachable,
        [(10, AlertStatus::Firing), (18, AlertStatus::Resolved)]
    );
    let off = of(&got, &format!("endpoint-offline/gam/{MAC}"));
    assert_eq!(off, [(6, AlertStatus::Firing), (18, AlertStatus::Resolved)]);
    let n = &got
        .iter()
        .find(|(_, n)| n.key == "device-unreachable/gam")
        .unwrap()
        .1;
    assert_eq!(n.severity, Severity::Critical);
    assert!(
        n.description.contains("timeout after 2 tries"),
        "{}",
        n.description
    );

    // Offline only while the GAM is unreachable: never pending, so nothing when it is back
    // and the CPE is online again.
    let mut polls = vec![with(|_| {})];
    polls.extend(vec![down; 10]);
    polls.extend(vec![with(|_| {}); 3]);
    let got = run(Config::default(), &polls);
    assert!(of(&got, &format!("endpoint-offline/gam/{MAC}")).is_empty());
}

#[test]
fn a_suspended_subscriber_offline_is_no_alert() {
    let polls = vec![
        with(|d| {
            d.endpoints[0].state = EndpointState::NotDetected;
            d.endpoints[0].subscriber_status = Some(SubscriberStatus::Suspended);
        });
        20
    ];
    assert!(run(Config::default(), &polls).is_empty());
}

#[test]
fn device_rebooted_fires_on_a_fresh_uptime_and_resolves_after_the_window() {
    let mut polls = vec![with(|_| {})];
    for m in 0..20u64 {
        polls.push(with(|d| d.uptime_s = Some(30 + m * 60)));
    }
    let got = run(Config::default(), &polls);
    // Up 30 s at minute 1; up 930 s at minute 16, past the 15-minute window.
    assert_eq!(
        of(&got, "device-rebooted/gam"),
        [(1, AlertStatus::Firing), (16, AlertStatus::Resolved)]
    );
}

#[test]
fn endpoint_quarantined_names_its_mac_and_port() {
    let wrong = with(|d| {
        d.endpoints[0].state = EndpointState::QuarantinedWrongPort;
        d.endpoints[0].port = Some(7);
    });
    let polls = [with(|_| {}), wrong.clone(), wrong, with(|_| {})];
    let got = run(Config::default(), &polls);
    let key = format!("endpoint-quarantined/gam/{MAC}");
    assert_eq!(
        of(&got, &key),
        [(1, AlertStatus::Firing), (3, AlertStatus::Resolved)]
    );
    let n = &got[0].1;
    assert_eq!(
        n.summary,
        format!("CPE {MAC} quarantined on gam port 7 (moved)")
    );
    assert_eq!(n.labels["port"], "7");
    assert_eq!(n.labels["mac"], MAC);

    let unknown = with(|d| {
        let e = &mut d.endpoints[0];
        e.state = EndpointState::QuarantinedUnknownMac;
        e.subscriber = None;
        e.name = None;
        e.subscriber_status = None;
        e.port = Some(2);
    });
    let got = run(Config::default(), &[unknown]);
    assert_eq!(
        got[0].1.summary,
        format!("unknown CPE {MAC} quarantined on gam port 2")
    );
}

#[test]
fn phy_asymmetry_has_hysteresis() {
    let phy = |down: u32, up: u32| {
        with(move |d| {
            d.endpoints[0].phy_down_mbps = Some(down);
            d.endpoints[0].phy_up_mbps = Some(up);
        })
    };
    let c = config(AlertSettings {
        phy_asymmetry: at_once(),
        ..AlertSettings::default()
    });
    // 30 % apart fires (over 25); 22 % stays (over the clear 20); 24 % never fires from
    // rest; 15 % resolves.
    let polls = [
        phy(1000, 760),
        phy(1000, 700),
        phy(1000, 780),
        phy(1000, 780),
        phy(1000, 850),
        phy(1000, 760),
        phy(1000, 1000),
    ];
    let got = run(c, &polls);
    assert_eq!(
        of(&got, &format!("phy-asymmetry/gam/{MAC}")),
        [(1, AlertStatus::Firing), (4, AlertStatus::Resolved)]
    );
}

#[test]
fn capacity_below_plan_has_hysteresis() {
    let usable = |down: u32| {
        with(move |d| {
            d.endpoints[0].usable_down_mbps = Some(down);
        })
    };
    let c = config(AlertSettings {
        capacity_below_plan: at_once(),
        ..AlertSettings::default()
    });
    // The plan sells 100: 90 fires; 102 stays (under 105); 106 resolves.
    let polls = [
        usable(100),
        usable(90),
        usable(102),
        usable(106),
        usable(100),
    ];
    let got = run(c, &polls);
    assert_eq!(
        of(&got, &format!("capacity-below-plan/gam/{MAC}")),
        [(1, AlertStatus::Firing), (3, AlertStatus::Resolved)]
    );
    assert!(
        got[0]
            .1
            .summary
            .contains("the link carries 90/500 Mbps, the plan sells 100/100")
    );
}

#[test]
fn firmware_mismatch_fires_after_an_hour() {
    let mut polls = vec![with(|d| d.endpoints[0].firmware_mismatch = true); 70];
    polls.push(with(|_| {}));
    let got = run(Config::default(), &polls);
    let key = format!("firmware-mismatch/gam/{MAC}");
    assert_eq!(
        of(&got, &key),
        [(60, AlertStatus::Firing), (70, AlertStatus::Resolved)]
    );
    assert_eq!(got[0].1.severity, Severity::Info);
}

#[test]
fn temperature_has_hysteresis_and_a_configured_severity() {
    let t = |c: f64| with(move |d| d.temperature_c = Some(c));
    let c = config(AlertSettings {
        temperature: RuleSettings {
            for_: Some(Interval(Duration::ZERO)),
            severity: Some(crate::model::AlertSeverity::Warning),
            ..RuleSettings::default()
        },
        temperature_c: Some(75.0),
        temperature_clear_c: Some(70.0),
        ..AlertSettings::default()
    });
    let polls = [t(74.0), t(75.0), t(72.0), t(71.0), t(69.5), t(74.0)];
    let got = run(c, &polls);
    assert_eq!(
        of(&got, "temperature/gam"),
        [(1, AlertStatus::Firing), (4, AlertStatus::Resolved)]
    );
    assert_eq!(got[0].1.severity, Severity::Warning);
}

#[test]
fn device_alarms_by_severity() {
    let alarm = |severity: AlarmSeverity, index: u32| Alarm {
        index,
        if_index: 0,
        interface: "System".into(),
        condition: "fanflt".into(),
        severity,
        service_affecting: true,
        occurred: None,
    };
    let raised = |s: AlarmSeverity, index: u32| with(move |d| d.alarms = vec![alarm(s, index)]);
    // Cleared and raised again under a new index: the same alert (condition and interface),
    // which stays firing through one poll without it when clear_for allows.
    let c = config(AlertSettings {
        device_alarm: RuleSettings {
            clear_for: Some(Interval(Duration::from_secs(120))),
            ..RuleSettings::default()
        },
        ..AlertSettings::default()
    });
    let polls = [
        with(|_| {}),
        raised(AlarmSeverity::Major, 1),
        with(|_| {}),
        raised(AlarmSeverity::Major, 2),
        with(|_| {}),
        with(|_| {}),
        with(|_| {}),
    ];
    let got = run(c, &polls);
    assert_eq!(
        of(&got, "device-alarm/gam/fanflt/0"),
        [(1, AlertStatus::Firing), (6, AlertStatus::Resolved)]
    );
    assert_eq!(got[0].1.severity, Severity::Critical);
    // A minor alarm is a warning; under `alarm_min_severity: major` none at all.
    let got = run(Config::default(), &[raised(AlarmSeverity::Minor, 1)]);
    assert_eq!(got[0].1.severity, Severity::Warning);
    let c = config(AlertSettings {
        alarm_min_severity: Some(crate::model::AlarmLevel::Major),
        ..AlertSettings::default()
    });
    assert!(run(c, &[raised(AlarmSeverity::Minor, 1)]).is_empty());
}

#[test]
fn drift_and_failed_applies() {
    let mut engine = Engine::new(config(AlertSettings {
        drift: RuleSettings {
            for_: Some(Interval(Duration::from_secs(120))),
            ..RuleSettings::default()
        },
        ..AlertSettings::default()
    }));
    let sync = |drifted: bool, failed: bool| {
        vec![DeviceSync {
            device: "gam".into(),
            drifted,
            changes: 3,
            failed: failed.then(|| "rolled back: verification failed".to_string()),
            unknown: false,
        }]
    };
    let steps = [
        sync(true, false),
        sync(true, false),
        sync(true, false),
        sync(false, true),
        sync(false, true),
        sync(false, false),
        // A device that drifts and converges within `for` raises nothing.
        sync(true, false),
        sync(false, false),
    ];
    let mut got = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let o = from_sync(engine.config(), &engine, s);
        for n in engine.evaluate(i as i64 * MIN, o) {
            got.push((i, n));
        }
    }
    assert_eq!(
        of(&got, "drift/gam"),
        [(2, AlertStatus::Firing), (3, AlertStatus::Resolved)]
    );
    assert_eq!(
        of(&got, "apply-failed/gam"),
        [(3, AlertStatus::Firing), (5, AlertStatus::Resolved)]
    );
    let failed = &got
        .iter()
        .find(|(_, n)| n.key == "apply-failed/gam")
        .unwrap()
        .1;
    assert!(failed.description.contains("verification failed"));
    assert_eq!(failed.severity, Severity::Critical);
}

#[test]
fn billing_sync_failing_for_ten_minutes() {
    let mut engine = Engine::new(Config::default());
    let health = |failing: bool| {
        vec![BillingHealth {
            system: "splynx".into(),
            failing: failing.then(|| "HTTP 500".to_string()),
            unknown: false,
        }]
    };
    let mut got = Vec::new();
    for i in 0..15usize {
        let o = from_billing(engine.config(), &engine, &health(i < 12));
        for n in engine.evaluate(i as i64 * MIN, o) {
            got.push((i, n));
        }
    }
    assert_eq!(
        of(&got, "billing-sync/splynx"),
        [(10, AlertStatus::Firing), (12, AlertStatus::Resolved)]
    );
    assert_eq!(got[0].1.device, None);
    assert_eq!(got[0].1.labels["system"], "splynx");
}

#[test]
fn notifications_carry_their_device_labels_under_the_rules_own() {
    let gam: crate::model::Device = serde_saphyr::from_str(
        "name: gam\nmodel: GAM-12-C\naddress: 127.0.0.1\nlabels: {site: north, port: not-this}\n",
    )
    .unwrap();
    let mut desired = Desired::default();
    desired.devices.push(crate::model::Doc {
        source: crate::model::SourceId(0),
        value: gam,
    });
    let mut engine = Engine::new(Config::default());
    let mut got = Vec::new();
    for i in 0..8usize {
        let state = if i < 1 {
            EndpointState::Ok
        } else {
            EndpointState::NotDetected
        };
        let o = from_status(
            engine.config(),
            &engine,
            &desired,
            &fleet(device(endpoint(state))),
        );
        got.extend(engine.evaluate(i as i64 * MIN, o));
    }
    let mut billing = engine.evaluate(
        9 * MIN,
        from_billing(
            engine.config(),
            &engine,
            &[BillingHealth {
                system: "splynx".into(),
                failing: None,
                unknown: false,
            }],
        ),
    );
    assert!(!got.is_empty(), "the offline endpoint fired");
    crate::monitor::alerts::with_device_labels(&mut got, &desired);
    crate::monitor::alerts::with_device_labels(&mut billing, &desired);
    let offline = &got[0];
    assert_eq!(offline.labels["site"], "north");
    assert_eq!(offline.labels["port"], "3", "the rule's own label wins");
    assert!(billing.iter().all(|n| !n.labels.contains_key("site")));
}

#[test]
fn drift_stays_firing_while_the_device_is_unread() {
    let mut engine = Engine::new(config(AlertSettings {
        drift: RuleSettings {
            for_: Some(Interval(Duration::from_secs(0))),
            ..RuleSettings::default()
        },
        ..AlertSettings::default()
    }));
    let sync = |drifted: bool, unknown: bool| {
        vec![DeviceSync {
            device: "gam".into(),
            drifted,
            changes: 3,
            failed: None,
            unknown,
        }]
    };
    let mut got = Vec::new();
    // Drifted; then unreadable for a while (no resolve); then read again, still drifted.
    let steps = [
        sync(true, false),
        sync(false, true),
        sync(false, true),
        sync(true, false),
        sync(false, false),
    ];
    for (i, o) in steps.iter().enumerate() {
        let o = from_sync(engine.config(), &engine, o);
        for n in engine.evaluate(i as i64 * MIN, o) {
            got.push((i, n));
        }
    }
    assert_eq!(
        of(&got, "drift/gam"),
        [(0, AlertStatus::Firing), (4, AlertStatus::Resolved)]
    );
}

#[test]
fn a_billing_alert_holds_until_its_system_has_synced_again() {
    let mut engine = Engine::new(Config::default());
    let health = |failing: bool, unknown: bool| {
        vec![BillingHealth {
            system: "splynx".into(),
            failing: failing.then(|| "HTTP 500".to_string()),
            unknown,
        }]
    };
    let mut got = Vec::new();
    // Failing long enough to fire; then (a restarted controller) no sync yet; then it works.
    for i in 0..20usize {
        let h = match i {
            0..12 => health(true, false),
            12..16 => health(false, true),
            _ => health(false, false),
        };
        let o = from_billing(engine.config(), &engine, &h);
        for n in engine.evaluate(i as i64 * MIN, o) {
            got.push((i, n));
        }
    }
    assert_eq!(
        of(&got, "billing-sync/splynx"),
        [(10, AlertStatus::Firing), (16, AlertStatus::Resolved)]
    );
}
