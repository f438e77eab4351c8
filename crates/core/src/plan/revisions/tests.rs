use crate::model::{Desired, Doc, SourceId};
use crate::plan::change::Disruption;
use crate::plan::render::Colour;

use super::render::{Labels, fenced, markdown, text};
use super::{DeviceStatus, SubscriberAction, compare, converged, target_for};

fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_saphyr::from_str(s).unwrap()
}

/// A fleet of `devices` (`name`, extra device YAML) with `subs` subscribers each on `gam-a`.
fn desired(fleet: &str, devices: &[(&str, &str)], subs: &[String]) -> Desired {
    let mut d = Desired {
        fleet: Some(Doc {
            source: SourceId(0),
            value: yaml(fleet),
        }),
        plans: Some(Doc {
            source: SourceId(1),
            value: yaml(
                "500M: {down_mbps: 545, up_mbps: 545}\n100M: {down_mbps: 118, up_mbps: 118}\n",
            ),
        }),
        devices: vec![],
        subscribers: vec![],
    };
    for (name, extra) in devices {
        d.devices.push(Doc {
            source: SourceId(2),
            value: yaml(&format!(
                "name: {name}\nmodel: GAM-24-C\naddress: 127.0.0.1\n{extra}"
            )),
        });
    }
    for (i, s) in subs.iter().enumerate() {
        d.subscribers.push(Doc {
            source: SourceId(10 + i as u32),
            value: yaml(s),
        });
    }
    d
}

fn sub(i: u8, vlan: u16, plan: &str) -> String {
    format!(
        "id: s{i:02}\ndevice: gam-a\nport: {}\nendpoint: {{mac: \"00:0e:d8:00:00:{i:02x}\"}}\nvlan: {vlan}\nplan: {plan}\n",
        i % 24 + 1
    )
}

fn fleet_subs(n: u8) -> Vec<String> {
    (0..n).map(|i| sub(i, 100 + u16::from(i), "500M")).collect()
}

const FLEET: &str = "safety: {max_change_percent: 30, min_existing: 10}\n";

#[test]
fn the_same_state_differs_in_nothing() {
    let a = desired(FLEET, &[("gam-a", "")], &fleet_subs(12));
    let diff = compare(&a, &a.clone());
    assert!(!diff.has_changes(), "{diff:?}");
    assert!(diff.devices.is_empty());
}

#[test]
fn a_converged_base_plans_no_changes_against_itself() {
    // The projection of the base is what apply leaves: planning the base against it is empty.
    let a = desired(
        FLEET,
        &[("gam-a", "default_nni: 10G 1/2\n")],
        &fleet_subs(5),
    );
    let dev = a.device("gam-a").unwrap();
    let subs: Vec<_> = a.subscribers.iter().map(|s| &s.value).collect();
    let target = target_for(dev, &subs, a.plans().unwrap(), &a.fleet());
    let live = converged(&target, *dev.model).unwrap();
    let again = crate::plan::diff::diff(&target, &live, Default::default()).unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
}

#[test]
fn each_change_is_classed_as_plan_classes_it() {
    let base = desired(FLEET, &[("gam-a", "")], &fleet_subs(12));
    let mut subs = fleet_subs(12);
    subs[1] = sub(1, 999, "500M"); // a VLAN: interrupts
    subs[2] = sub(2, 102, "100M"); // a plan: rate only
    subs[3] = sub(3, 103, "500M").replace("plan:", "name: Unit 3\nplan:"); // a label
    subs[4] = sub(4, 104, "500M") + "managed_by: sonar\n"; // not on the device
    subs.push(sub(40, 140, "500M")); // created
    let head = desired(FLEET, &[("gam-a", "")], &subs);
    let diff = compare(&base, &head);
    let dev = &diff.devices[0];
    assert_eq!(dev.status, DeviceStatus::Changed);
    let get = |id: &str| dev.subscribers.iter().find(|s| s.subscriber == id).unwrap();
    assert_eq!(get("s01").action, SubscriberAction::Changed);
    assert_eq!(get("s01").disruption, Disruption::Interrupt);
    assert_eq!(get("s02").disruption, Disruption::Rate);
    assert_eq!(get("s03").disruption, Disruption::None);
    assert_eq!(get("s03").fields[0].field, "description");
    assert_eq!(get("s04").disruption, Disruption::None);
    assert!(get("s04").fields.is_empty());
    assert_eq!(get("s04").inventory_only[0].field, "managed_by");
    assert_eq!(get("s40").action, SubscriberAction::Created);
    assert_eq!(dev.subscribers.len(), 5);
    let s = diff.summary;
    assert_eq!(
        (
            s.subscribers_created,
            s.subscribers_changed,
            s.subscribers_interrupted,
            s.subscribers_rate_changed
        ),
        (1, 4, 1, 1)
    );
    assert!(dev.violations.is_empty(), "{:?}", dev.violations);
}

#[test]
fn a_rate_change_in_plans_yaml_reaches_each_subscriber_on_the_plan() {
    let base = desired(FLEET, &[("gam-a", "")], &fleet_subs(3));
    let mut head = base.clone();
    head.plans = Some(Doc {
        source: SourceId(1),
        value: yaml("500M: {down_mbps: 600, up_mbps: 545}\n100M: {down_mbps: 118, up_mbps: 118}\n"),
    });
    let diff = compare(&base, &head);
    let dev = &diff.devices[0];
    assert_eq!(dev.subscribers.len(), 3);
    for s in &dev.subscribers {
        assert_eq!(s.disruption, Disruption::Rate, "{s:?}");
        assert!(s.causes[0].contains("down_mbps 545 -> 600"), "{s:?}");
    }
    assert_eq!(diff.summary.subscribers_rate_changed, 3);
}

#[test]
fn a_removed_subscriber_is_deleted_with_prune_and_left_alone_without() {
    let base = desired(FLEET, &[("gam-a", "")], &fleet_subs(3));
    let head = desired(FLEET, &[("gam-a", "")], &fleet_subs(2));
    let diff = compare(&base, &head);
    assert_eq!(
        diff.devices[0].subscribers[0].action,
        SubscriberAction::Unmanaged
    );
    assert_eq!(diff.summary.subscribers_unmanaged, 1);

    let base = desired(FLEET, &[("gam-a", "prune: true\n")], &fleet_subs(3));
    let head = desired(FLEET, &[("gam-a", "prune: true\n")], &fleet_subs(2));
    let diff = compare(&base, &head);
    let s = &diff.devices[0].subscribers[0];
    assert_eq!(
        (s.action, s.disruption),
        (SubscriberAction::Deleted, Disruption::Interrupt)
    );
    assert_eq!(diff.summary.subscribers_deleted, 1);
}

#[test]
fn the_safety_limits_are_counted_against_the_base() {
    let base = desired(FLEET, &[("gam-a", "")], &fleet_subs(10));
    let subs: Vec<String> = (0..10)
        .map(|i| sub(i, 300 + u16::from(i), "500M"))
        .collect();
    let head = desired(FLEET, &[("gam-a", "")], &subs);
    let diff = compare(&base, &head);
    assert_eq!(diff.summary.devices_blocked, 1);
    assert!(diff.devices[0].violations[0].message.contains("10 of 10"));
    // Under the floor of existing subscribers, the share does not count.
    let base = desired(FLEET, &[("gam-a", "")], &fleet_subs(9));
    let head = desired(FLEET, &[("gam-a", "")], &subs[..9]);
    assert_eq!(compare(&base, &head).summary.devices_blocked, 0);
}

#[test]
fn devices_added_and_removed() {
    let base = desired(FLEET, &[("gam-a", ""), ("gam-old", "")], &fleet_subs(2));
    let head = desired(FLEET, &[("gam-a", ""), ("gam-new", "")], &fleet_subs(2));
    let diff = compare(&base, &head);
    let status: Vec<_> = diff
        .devices
        .iter()
        .map(|d| (d.device.as_str(), d.status))
        .collect();
    assert_eq!(
        status,
        [
            ("gam-new", DeviceStatus::Added),
            ("gam-old", DeviceStatus::Removed)
        ]
    );
    assert_eq!(
        (diff.summary.devices_added, diff.summary.devices_removed),
        (1, 1)
    );
}

#[test]
fn renderers_put_the_summary_first_and_cannot_be_broken_by_a_value() {
    let base = desired(FLEET, &[("gam-a", "")], &fleet_subs(2));
    let mut subs = fleet_subs(2);
    subs[0] = sub(0, 100, "500M").replace("plan:", "name: \"```</details> <b>x\"\nplan:");
    let head = desired(FLEET, &[("gam-a", "")], &subs);
    let diff = compare(&base, &head);
    let labels = Labels {
        base: "main (1234abcd)".into(),
        head: "the work tree".into(),
    };
    let t = text(&diff, &labels, Colour::Never);
    assert!(
        t.starts_with("Diff: 0 subscriber(s) created, 1 changed"),
        "{t}"
    );
    assert!(!t.contains('\x1b'));
    let m = markdown(&diff, &labels);
    assert!(
        m.starts_with("### gamops diff: 0 subscriber(s) created, 1 changed"),
        "{m}"
    );
    // The description sits in a fence longer than its backticks, so `</details>` stays text.
    assert!(m.contains("````diff\n"), "{m}");
    assert_eq!(m.matches("</details>").count(), 2, "{m}");
}

#[test]
fn a_fence_is_longer_than_any_backtick_run_inside() {
    assert_eq!(fenced("", "a\n"), "```\na\n```\n");
    assert_eq!(fenced("diff", "``````x"), "```````diff\n``````x\n```````\n");
}
