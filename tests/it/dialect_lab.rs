//! The plan's commands, rendered by the CLI dialect, run against the lab's simulated GAM: the
//! device ends up exactly where the plan said, and planning again finds nothing to do.
//!
//! This reads the lab's state directly (the SNMP path is tested elsewhere): it checks the dialect
//! and the plan's ordering and ids against the simulator's rules and error strings.

use gamops::device::live::LiveDevice;
use gamops::device::ssh::dialect;
use gamops::inventory::Inventory;
use gamops::lab::device::state::{self as lab, DeviceState};
use gamops::lab::device::{Session, share};
use gamops::model::{Desired, GamModel, Subscriber};
use gamops::plan::diff::{DiffOptions, diff};
use gamops::plan::simulate::apply_changes;
use gamops::plan::{Change, target_for};

use crate::support::temp_inventory;

/// The lab's running config in the live model's terms.
fn live_of(state: &DeviceState) -> LiveDevice {
    gamops::lab::seed::live_of(state)
}

/// The line that carries out `c`.
fn commands(c: &Change, uplink_base: u32) -> String {
    gamops::apply::commands::forward(c, uplink_base)
        .expect("every value renders")
        .expect("every change has a line")
}

/// Plans `device` of `desired` against the lab, runs the commands, and checks the result.
fn converge(desired: &Desired, device: &str, shared: &gamops::lab::device::SharedDevice) -> usize {
    let dev = desired.device(device).expect("device in inventory");
    let subs: Vec<&Subscriber> = desired
        .subscribers
        .iter()
        .filter(|s| s.device.as_str() == device)
        .map(|s| &s.value)
        .collect();
    let plans = desired.plans().expect("plans");
    let target = target_for(dev, &subs, plans, &desired.fleet());
    let live = live_of(&shared.lock().unwrap());
    let d = diff(&target, &live, DiffOptions { prune: true }).expect("plan");
    let uplink_base = 1_000_000 + u32::from(dev.model.ghn_ports());

    let mut session = Session::new(shared.clone());
    let reply = session.execute("configure terminal");
    assert!(dialect::error_in(&reply.text).is_none(), "{}", reply.text);
    for c in &d.changes {
        let line = commands(c, uplink_base);
        let reply = session.execute(&line);
        assert!(
            dialect::error_in(&reply.text).is_none(),
            "the lab refused `{line}`: {}",
            reply.text
        );
    }
    session.execute("end");

    let after = live_of(&shared.lock().unwrap());
    let expected = apply_changes(&live, &d.changes);
    assert_eq!(after.profiles, expected.profiles);
    assert_eq!(after.endpoints, expected.endpoints);
    assert_eq!(after.subscribers, expected.subscribers);
    assert_eq!(after.ports, expected.ports);
    let again = diff(&target, &after, DiffOptions { prune: true }).expect("replan");
    assert!(
        again.changes.is_empty(),
        "second plan: {:#?}",
        again.changes
    );
    d.changes.len()
}

fn edit(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_example_inventory_converges_on_lab_devices_of_each_kind() {
    for (device, model) in [
        ("bldg-12-gam1", GamModel::Gam12C),
        ("bldg-7-gam1", GamModel::Gam24M),
        ("campus-gam2", GamModel::Gam4Cx),
    ] {
        let (_tmp, inv) = temp_inventory();
        let mut state = DeviceState::factory(model, device);
        if device == "bldg-7-gam1" {
            state.running.global.subscriber_model = lab::SubscriberModel::PortAware;
        }
        let shared = share(state);

        let inventory = Inventory::load_dir(&inv).unwrap();
        assert_eq!(inventory.validate(), vec![]);
        let desired = inventory.desired;
        let first = converge(&desired, device, &shared);
        assert!(
            first > 5,
            "{device}: the first apply creates the fleet ({first} changes)"
        );

        // Edit the inventory as an engineer would: a new VLAN, a plan change, a suspension.
        let dir = inv.join("subscribers").join(device);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let vlan_line = std::fs::read_to_string(&files[0])
            .unwrap()
            .lines()
            .find(|l| l.starts_with("vlan: "))
            .unwrap()
            .to_string();
        edit(&files[0], &vlan_line, "vlan: 3999");
        let plan_line = std::fs::read_to_string(&files[1])
            .unwrap()
            .lines()
            .find(|l| l.starts_with("plan: "))
            .unwrap()
            .to_string();
        let new_plan = if plan_line == "plan: 100M" {
            "plan: 250M"
        } else {
            "plan: 100M"
        };
        edit(&files[1], &plan_line, new_plan);
        edit(&files[2], "status: active", "status: suspended");
        std::fs::remove_file(&files[3]).unwrap();
        let inventory = Inventory::load_dir(&inv).unwrap();
        assert_eq!(
            inventory.validate(),
            vec![],
            "{device}: the edited inventory must stay valid"
        );
        let desired = inventory.desired;
        let second = converge(&desired, device, &shared);
        assert!(second >= 4, "{device}: {second} changes");
    }
}
