//! Property tests of the diff: for random desired and live states, applying the planned
//! changes to the live state (in memory) gives the desired state, and planning again gives no
//! changes.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::diff::{DiffOptions, diff};
use super::simulate::apply_changes;
use super::target::{Target, TargetEndpoint, TargetProfile, TargetSubscriber};
use crate::device::live::{
    EndpointBinding, LiveDevice, LiveEndpoint, LiveGlobal, LivePort, LivePortMode, LiveProfile,
    LiveSubscriber, ProfileRef,
};
use crate::model::{Mac, SubscriberModel};

fn mac(i: u8) -> Mac {
    Mac([0, 0x0e, 0xd8, 0, 0, i])
}

fn plan_name(i: u8) -> String {
    format!("p{i}")
}

prop_compose! {
    fn target_subscriber(endpoint_aware: bool)(
        vlan in 3u16..60, tagged in any::<bool>(), remapped in proptest::option::of(3u16..60),
        allowed in proptest::collection::btree_set(3u16..60, 0..3), profile in proptest::option::of(0u8..5),
        outer in proptest::option::of(100u16..103), nni in proptest::option::of(1u32..3), port in 1u8..13,
        desc in "[a-z ]{0,6}",
    ) -> (TargetSubscriber, u8) {
        (TargetSubscriber {
            name: String::new(),
            description: desc,
            endpoint: None,
            port: (!endpoint_aware).then_some(port),
            vlan, tagged, remapped_vlan: remapped,
            allowed_vlans: allowed.into_iter().collect(),
            profile: profile.map(plan_name),
            outer_vlan: outer,
            nni_if_index: nni.map(|n| 1_000_012 + n),
        }, port)
    }
}

fn target_strategy() -> impl Strategy<Value = Target> {
    any::<bool>().prop_flat_map(|endpoint_aware| {
        (
            proptest::collection::btree_map(0u8..10, target_subscriber(endpoint_aware), 0..8),
            proptest::collection::vec((10u16..100, 10u16..100, "[a-z]{0,3}"), 5),
            proptest::collection::btree_set(10u8..14, 0..3),
            proptest::collection::vec(any::<u8>(), 10),
            (
                proptest::option::of(1u32..3),
                proptest::option::of(any::<bool>()),
            ),
        )
            .prop_map(
                move |(subs, rates, extra_owned, mac_perm, (nni, auto_fw))| {
                    let mut t = Target {
                        subscriber_model: if endpoint_aware {
                            SubscriberModel::EndpointAware
                        } else {
                            SubscriberModel::PortAware
                        },
                        default_nni_if_index: nni.map(|n| 1_000_012 + n),
                        endpoint_auto_fw_upgrade: auto_fw,
                        ..Target::default()
                    };
                    let mut used_profiles = BTreeSet::new();
                    for (i, (mut s, port)) in subs {
                        s.name = format!("s{i}");
                        if endpoint_aware {
                            // A MAC chosen from a small pool, unique per subscriber.
                            let m = mac(i.wrapping_add(mac_perm[usize::from(i)] % 3 * 10));
                            s.endpoint = Some(m);
                            t.endpoints.push(TargetEndpoint {
                                mac: m,
                                name: format!("ep{i}"),
                                description: String::new(),
                                port,
                                subscriber: s.name.clone(),
                            });
                        }
                        if let Some(p) = &s.profile {
                            used_profiles.insert(p.clone());
                        }
                        t.owned.insert(s.name.clone());
                        t.subscribers.push(s);
                    }
                    for i in extra_owned {
                        t.owned.insert(format!("s{i}"));
                    }
                    for (i, (down, up, desc)) in rates.into_iter().enumerate() {
                        let name = plan_name(i as u8);
                        if used_profiles.contains(&name) {
                            t.profiles.push(TargetProfile {
                                name,
                                description: desc,
                                down_mbps: down,
                                up_mbps: up,
                            });
                        }
                    }
                    t.endpoints.sort_by_key(|e| e.mac);
                    t
                },
            )
    })
}

fn live_strategy() -> impl Strategy<Value = LiveDevice> {
    (
        proptest::collection::btree_map(2u8..16, (0u8..8, 10u16..100, 10u16..100), 0..7),
        proptest::collection::btree_map(1u16..30, (0u8..40, 1u8..13, 0u8..12), 0..8),
        proptest::collection::btree_map(
            1u16..30,
            (
                0u8..16,
                0u16..35,
                3u16..60,
                any::<bool>(),
                proptest::option::of(0u8..16),
                proptest::option::of(100u16..103),
            ),
            0..10,
        ),
        (any::<bool>(), 1u32..3, any::<bool>()),
    )
        .prop_map(
            |(profiles, endpoints, subscribers, (port_aware, nni, auto_fw))| {
                // Global settings that may differ from the desired ones. A port-aware device's
                // subscribers are bound to ports, an endpoint-aware one's to endpoints.
                let global = LiveGlobal {
                    subscriber_model: if port_aware {
                        SubscriberModel::PortAware
                    } else {
                        SubscriberModel::EndpointAware
                    },
                    default_nni_if_index: 1_000_012 + nni,
                    endpoint_auto_fw_upgrade: auto_fw,
                };
                let mut dev = LiveDevice {
                    global,
                    ports: (1..=12)
                        .map(|n| LivePort {
                            port: n,
                            name: String::new(),
                            mode: LivePortMode::Coax,
                        })
                        .collect(),
                    ..LiveDevice::default()
                };
                dev.profiles.push(LiveProfile {
                    id: 1,
                    name: "Default BW Profile".into(),
                    description: String::new(),
                    down_mbps: 10,
                    up_mbps: 10,
                });
                let mut names = BTreeSet::new();
                for (id, (n, down, up)) in profiles {
                    let name = plan_name(n);
                    if names.insert(name.clone()) {
                        dev.profiles.push(LiveProfile {
                            id,
                            name,
                            description: String::new(),
                            down_mbps: down,
                            up_mbps: up,
                        });
                    }
                }
                let mut macs = BTreeSet::new();
                for (id, (m, port, name)) in endpoints {
                    if macs.insert(m) {
                        dev.endpoints.push(LiveEndpoint {
                            id,
                            mac: mac(m),
                            name: format!("ep{name}"),
                            description: String::new(),
                            binding: EndpointBinding::Port(port),
                        });
                    }
                }
                let mut subs = BTreeSet::new();
                for (id, (n, ep, vlan, tagged, profile, outer)) in subscribers {
                    let name = format!("s{n}");
                    if subs.insert(name.clone()) {
                        dev.subscribers.push(LiveSubscriber {
                            id,
                            name,
                            description: String::new(),
                            endpoint_id: (ep > 0 && !port_aware).then_some(ep),
                            port: (ep > 0 && port_aware)
                                .then(|| u8::try_from(ep % 12 + 1).unwrap_or(1)),
                            vlan,
                            tagged,
                            remapped_vlan: None,
                            allowed_vlans: vec![],
                            profile: profile.map_or(ProfileRef::Unthrottled, ProfileRef::Id),
                            outer_vlan: outer,
                            nni_if_index: None,
                        });
                    }
                }
                dev
            },
        )
}

/// The device's subscribers in the inventory's terms, keyed by name.
fn resolved_subscribers(dev: &LiveDevice) -> BTreeMap<String, TargetSubscriber> {
    dev.subscribers
        .iter()
        .map(|s| {
            let t = TargetSubscriber {
                name: s.name.clone(),
                description: s.description.clone(),
                endpoint: s.endpoint_id.and_then(|id| dev.endpoint(id)).map(|e| e.mac),
                port: s.port,
                vlan: s.vlan,
                tagged: s.tagged,
                remapped_vlan: s.remapped_vlan,
                allowed_vlans: s.allowed_vlans.clone(),
                profile: match s.profile {
                    ProfileRef::Unthrottled => None,
                    ProfileRef::Id(id) => dev.profile(id).map(|p| p.name.clone()),
                },
                outer_vlan: s.outer_vlan,
                nni_if_index: s.nni_if_index,
            };
            (s.name.clone(), t)
        })
        .collect()
}

fn unique<T: Ord>(ids: impl Iterator<Item = T>) -> bool {
    let v: Vec<T> = ids.collect();
    let n = v.len();
    v.into_iter().collect::<BTreeSet<_>>().len() == n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn applying_the_plan_converges_and_replanning_is_empty(target in target_strategy(), live in live_strategy(), prune in any::<bool>()) {
        let opts = DiffOptions { prune };
        let d = diff(&target, &live, opts).expect("small states always have free ids");
        let after = apply_changes(&live, &d.changes);

        // The global settings are as desired (those the inventory leaves out stay as they were).
        prop_assert_eq!(after.global.subscriber_model, target.subscriber_model);
        prop_assert_eq!(
            after.global.default_nni_if_index,
            target.default_nni_if_index.unwrap_or(live.global.default_nni_if_index)
        );
        prop_assert_eq!(
            after.global.endpoint_auto_fw_upgrade,
            target.endpoint_auto_fw_upgrade.unwrap_or(live.global.endpoint_auto_fw_upgrade)
        );
        // A new subscriber model interrupts every subscriber the device had.
        if live.global.subscriber_model != target.subscriber_model {
            let c = d.changes.first().expect("a global change first");
            prop_assert_eq!((c.kind, c.key.as_str()), (super::change::ObjectKind::Global, "subscriber_model"));
            prop_assert_eq!(c.disruption, super::change::Disruption::Interrupt);
            prop_assert_eq!(c.affects.len(), live.subscribers.len());
        }
        // Every desired subscriber is there, as desired.
        let got = resolved_subscribers(&after);
        for t in &target.subscribers {
            prop_assert_eq!(got.get(&t.name), Some(t), "subscriber {}", t.name);
        }
        // Desired profiles and endpoints are there, as desired.
        for p in &target.profiles {
            let l = after.profile_by_name(&p.name).expect("profile created");
            prop_assert_eq!((&l.description, l.down_mbps, l.up_mbps), (&p.description, p.down_mbps, p.up_mbps));
        }
        for e in &target.endpoints {
            let l = after.endpoint_by_mac(e.mac).expect("endpoint created");
            prop_assert_eq!((&l.name, l.binding), (&e.name, EndpointBinding::Port(e.port)));
        }
        // Owned subscribers that are not desired are gone; with prune, so is everything else.
        for s in &after.subscribers {
            let desired = target.subscribers.iter().any(|t| t.name == s.name);
            prop_assert!(desired || (!prune && !target.owned.contains(&s.name)), "{} should be gone", s.name);
        }
        if prune {
            prop_assert_eq!(after.subscribers.len(), target.subscribers.len());
            prop_assert_eq!(after.profiles.iter().filter(|p| p.id >= 2).count(), target.profiles.len());
            if target.subscriber_model == SubscriberModel::EndpointAware {
                prop_assert_eq!(after.endpoints.len(), target.endpoints.len());
            }
        }
        // Ids stay unique and in the device's ranges; profile 1 is never touched.
        prop_assert!(unique(after.subscribers.iter().map(|s| s.id)));
        prop_assert!(unique(after.endpoints.iter().map(|e| e.id)));
        prop_assert!(unique(after.profiles.iter().map(|p| p.id)));
        prop_assert!(after.profiles.iter().all(|p| (1..=15).contains(&p.id)));
        prop_assert_eq!(after.profile(1), live.profile(1));

        // Planning again changes nothing.
        let again = diff(&target, &after, opts).expect("replan");
        prop_assert!(again.changes.is_empty(), "second plan: {:#?}", again.changes);
    }

    #[test]
    fn changes_come_in_dependency_order(target in target_strategy(), live in live_strategy()) {
        let d = diff(&target, &live, DiffOptions { prune: true }).expect("plan");
        use super::change::{Action, ObjectKind};
        let rank = |c: &super::change::Change| match (c.action, c.kind) {
            (Action::Delete, ObjectKind::Subscriber) => 5,
            (Action::Delete, ObjectKind::Endpoint) => 6,
            (Action::Delete, ObjectKind::Profile) => 7,
            (Action::Delete, _) => 8,
            (_, ObjectKind::Global) => 0,
            (_, ObjectKind::Port) => 1,
            (_, ObjectKind::Profile) => 2,
            (_, ObjectKind::Endpoint) => 3,
            (_, ObjectKind::Subscriber) => 4,
        };
        let ranks: Vec<u8> = d.changes.iter().map(rank).collect();
        prop_assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{:?}", ranks);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Drift of one field on a converged device gives exactly one change, naming that field,
    /// with the right disruption class; applying it converges again.
    #[test]
    fn one_drifted_field_gives_one_change(target in target_strategy(), live in live_strategy(), pick in any::<usize>(), which in 0usize..8) {
        use super::change::{Action, Disruption, ObjectKind};
        let opts = DiffOptions { prune: true };
        let converged = apply_changes(&live, &diff(&target, &live, opts).expect("plan").changes);
        prop_assume!(!converged.subscribers.is_empty());
        let mut drifted = converged.clone();
        let i = pick % drifted.subscribers.len();
        let s = &mut drifted.subscribers[i];
        let (field, class) = match which {
            0 => { s.vlan = if s.vlan == 3 { 4 } else { 3 }; ("vlan", Disruption::Interrupt) }
            1 => { s.tagged = !s.tagged; ("tagged", Disruption::Interrupt) }
            2 => { s.remapped_vlan = if s.remapped_vlan.is_some() { None } else { Some(99) }; ("remapped_vlan", Disruption::Interrupt) }
            3 => { s.allowed_vlans = if s.allowed_vlans.is_empty() { vec![77] } else { vec![] }; ("allowed_vlans", Disruption::Interrupt) }
            4 => { s.outer_vlan = if s.outer_vlan.is_some() { None } else { Some(555) }; ("outer_vlan", Disruption::Interrupt) }
            5 => { s.nni_if_index = if s.nni_if_index.is_some() { None } else { Some(1_000_014) }; ("nni", Disruption::Interrupt) }
            6 => { s.description.push('x'); ("description", Disruption::None) }
            _ => {
                // Unthrottled <-> a profile the device has.
                use crate::device::live::ProfileRef;
                let other = converged.profiles.iter().find(|p| p.id >= 2).map(|p| p.id);
                match (s.profile, other) {
                    (ProfileRef::Id(_), _) => { s.profile = ProfileRef::Unthrottled; ("plan", Disruption::Rate) }
                    (ProfileRef::Unthrottled, Some(id)) => { s.profile = ProfileRef::Id(id); ("plan", Disruption::Rate) }
                    (ProfileRef::Unthrottled, None) => { s.vlan = if s.vlan == 3 { 4 } else { 3 }; ("vlan", Disruption::Interrupt) }
                }
            }
        };
        let name = drifted.subscribers[i].name.clone();
        let d = diff(&target, &drifted, opts).expect("replan");
        prop_assert_eq!(d.changes.len(), 1, "{:#?}", d.changes);
        let c = &d.changes[0];
        prop_assert_eq!((c.action, c.kind, c.key.as_str()), (Action::Update, ObjectKind::Subscriber, name.as_str()));
        prop_assert_eq!(c.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), vec![field]);
        prop_assert_eq!(c.disruption, class);
        let fixed = apply_changes(&drifted, &d.changes);
        prop_assert!(diff(&target, &fixed, opts).expect("plan").changes.is_empty());
    }
}

/// Issue 11 (1): a port-aware device that is still endpoint-aware (a factory GAM) gets its
/// subscriber model first, classed as interrupting every subscriber it has, counted by the
/// safety limits; the default NNI and endpoint auto-upgrade are planned too.
#[test]
fn global_settings_come_first_and_a_new_subscriber_model_interrupts_everyone() {
    use super::change::{Action, Disruption, ObjectKind};
    use super::safety::{Limit, check};
    use crate::model::Safety;

    let mut live = LiveDevice {
        ports: (1..=24)
            .map(|n| LivePort {
                port: n,
                name: String::new(),
                mode: LivePortMode::Mimo,
            })
            .collect(),
        global: LiveGlobal {
            subscriber_model: SubscriberModel::EndpointAware,
            default_nni_if_index: 1_000_025,
            endpoint_auto_fw_upgrade: true,
        },
        ..LiveDevice::default()
    };
    let mut target = Target {
        subscriber_model: SubscriberModel::PortAware,
        default_nni_if_index: Some(1_000_026),
        endpoint_auto_fw_upgrade: Some(false),
        ..Target::default()
    };
    for i in 1..=12u8 {
        let name = format!("s{i}");
        live.endpoints.push(LiveEndpoint {
            id: u16::from(i),
            mac: mac(i),
            name: format!("ep{i}"),
            description: String::new(),
            binding: EndpointBinding::Port(i),
        });
        live.subscribers.push(LiveSubscriber {
            id: u16::from(i),
            name: name.clone(),
            description: String::new(),
            endpoint_id: Some(u16::from(i)),
            port: None,
            vlan: 100 + u16::from(i),
            tagged: false,
            remapped_vlan: None,
            allowed_vlans: vec![],
            profile: ProfileRef::Unthrottled,
            outer_vlan: (i == 1).then_some(120),
            nni_if_index: None,
        });
        target.owned.insert(name.clone());
        target.subscribers.push(TargetSubscriber {
            name,
            description: String::new(),
            endpoint: None,
            port: Some(i),
            vlan: 100 + u16::from(i),
            tagged: false,
            remapped_vlan: None,
            allowed_vlans: vec![],
            profile: None,
            outer_vlan: (i == 1).then_some(120),
            nni_if_index: None,
        });
    }
    let d = diff(&target, &live, DiffOptions::default()).unwrap();
    let globals: Vec<(&str, Disruption, usize)> = d
        .changes
        .iter()
        .take_while(|c| c.kind == ObjectKind::Global)
        .map(|c| (c.key.as_str(), c.disruption, c.affects.len()))
        .collect();
    assert_eq!(
        globals,
        [
            ("subscriber_model", Disruption::Interrupt, 12),
            // s1 is Q-in-Q on the default NNI.
            ("default_nni", Disruption::Interrupt, 1),
            ("endpoint_auto_fw_upgrade", Disruption::None, 0),
        ]
    );
    assert!(d.changes.iter().all(|c| c.action == Action::Update));
    // The device converts each subscriber to its endpoint's port: nothing else to do.
    assert_eq!(d.changes.len(), 3, "{:#?}", d.changes);
    let after = apply_changes(&live, &d.changes);
    assert_eq!(after.global.subscriber_model, SubscriberModel::PortAware);
    assert_eq!(after.subscribers[3].port, Some(4));
    assert!(
        diff(&target, &after, DiffOptions::default())
            .unwrap()
            .changes
            .is_empty()
    );

    // Changing every subscriber goes past a 30% limit.
    let safety: Safety =
        serde_saphyr::from_str("max_change_percent: 30\nmin_existing: 10\n").unwrap();
    let v = check(&d.changes, &live, &target, &safety);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].limit, Limit::ChangeShare);
    assert!(v[0].message.contains("12 of 12"), "{}", v[0].message);

    // From a factory device (no subscribers yet), the same switch is planned before the
    // subscribers it allows, and blocks nothing.
    let empty = LiveDevice {
        subscribers: vec![],
        endpoints: vec![],
        ..live.clone()
    };
    let d = diff(&target, &empty, DiffOptions::default()).unwrap();
    assert_eq!(
        (d.changes[0].kind, d.changes[0].key.as_str()),
        (ObjectKind::Global, "subscriber_model")
    );
    assert!(
        d.changes[3..]
            .iter()
            .all(|c| c.kind == ObjectKind::Subscriber)
    );
    assert!(check(&d.changes, &empty, &target, &safety).is_empty());
}
