//! The plan's commands, rendered by the CLI dialect, run against the lab's simulated GAM: the
//! device ends up exactly where the plan said, and planning again finds nothing to do.
//!
//! This reads the lab's state directly (the SNMP path is tested elsewhere): it checks the dialect
//! and the plan's ordering and ids against the simulator's rules and error strings.

use gamops::device::cli::dialect;
use gamops::device::live::{
    EndpointBinding, LiveDevice, LiveEndpoint, LiveGlobal, LivePort, LivePortMode, LiveProfile,
    LiveSubscriber, ProfileRef,
};
use gamops::inventory::Inventory;
use gamops::lab::device::state::{self as lab, DeviceState};
use gamops::lab::device::{Session, share};
use gamops::model::{Desired, GamModel, Mac, Subscriber};
use gamops::plan::diff::{DiffOptions, diff};
use gamops::plan::simulate::apply_changes;
use gamops::plan::{Action, Change, Object, target_for};

use crate::support::temp_inventory;

/// The lab's running config in the live model's terms.
fn live_of(state: &DeviceState) -> LiveDevice {
    let cfg = &state.running;
    LiveDevice {
        global: LiveGlobal {
            subscriber_model: match cfg.global.subscriber_model {
                lab::SubscriberModel::EndpointAware => {
                    gamops::model::SubscriberModel::EndpointAware
                }
                lab::SubscriberModel::PortAware => gamops::model::SubscriberModel::PortAware,
            },
            default_nni_if_index: cfg.global.default_nni_ifindex,
            endpoint_auto_fw_upgrade: cfg.global.endpoint_auto_fw_upgrade,
        },
        ports: cfg
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| LivePort {
                port: i as u8 + 1,
                name: p.name.clone(),
                mode: match p.mode {
                    lab::PortMode::Coax => LivePortMode::Coax,
                    lab::PortMode::Mimo => LivePortMode::Mimo,
                    lab::PortMode::Siso => LivePortMode::Siso,
                },
            })
            .collect(),
        profiles: cfg
            .profiles
            .iter()
            .map(|(id, p)| LiveProfile {
                id: *id,
                name: p.name.clone(),
                description: p.description.clone(),
                down_mbps: p.downstream_mbps,
                up_mbps: p.upstream_mbps,
            })
            .collect(),
        endpoints: cfg
            .endpoints
            .iter()
            .map(|(id, e)| LiveEndpoint {
                id: *id,
                mac: Mac(e.mac.0),
                name: e.name.clone(),
                description: e.description.clone(),
                binding: match e.port {
                    lab::EndpointPort::Port(n) => EndpointBinding::Port(n),
                    lab::EndpointPort::Auto => EndpointBinding::Auto,
                    lab::EndpointPort::Unassigned => EndpointBinding::Unassigned,
                },
            })
            .collect(),
        subscribers: cfg
            .subscribers
            .iter()
            .map(|(id, s)| LiveSubscriber {
                id: *id,
                name: s.name.clone(),
                description: s.description.clone(),
                endpoint_id: s.endpoint,
                port: s.port,
                vlan: s.vid,
                tagged: s.tagged,
                remapped_vlan: s.remapped_vid,
                allowed_vlans: s.allowed_vlans.clone(),
                profile: match s.bw_profile {
                    lab::BwRef::Unthrottled => ProfileRef::Unthrottled,
                    lab::BwRef::Profile(p) => ProfileRef::Id(p),
                },
                outer_vlan: s.outer_vid,
                nni_if_index: s.nni_ifindex,
            })
            .collect(),
        ..LiveDevice::default()
    }
}

/// The lines that carry out `c`.
fn commands(c: &Change, uplink_base: u32) -> String {
    match (c.action, &c.after) {
        (Action::Delete, _) => match c.kind {
            gamops::plan::ObjectKind::Subscriber => dialect::delete_subscriber(c.id),
            gamops::plan::ObjectKind::Endpoint => dialect::delete_endpoint(c.id),
            gamops::plan::ObjectKind::Profile => dialect::delete_profile(c.id as u8),
            gamops::plan::ObjectKind::Port => unreachable!("ports are never deleted"),
        },
        (_, Some(Object::Port(p))) => dialect::set_port(p),
        (_, Some(Object::Profile(p))) => dialect::set_profile(p),
        (_, Some(Object::Endpoint(e))) => dialect::set_endpoint(e),
        (_, Some(Object::Subscriber(s))) => dialect::set_subscriber(s, uplink_base),
        (_, None) => unreachable!("creates and updates carry the new state"),
    }
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
