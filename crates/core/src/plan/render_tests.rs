//! Snapshot tests of the three renderers for a plan that has every kind of change.

use crate::device::live::{
    EndpointBinding, LiveDevice, LiveEndpoint, LivePort, LivePortMode, LiveProfile, LiveSubscriber,
    Observation, ProfileRef,
};
use crate::model::{Desired, Doc, SourceId};

use super::render::{Colour, json, markdown, text};
use super::{Plan, PlanOptions};

fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> T {
    serde_saphyr::from_str(s).unwrap()
}

fn mac(last: u8) -> crate::model::Mac {
    crate::model::Mac([0, 0x0e, 0xd8, 0x19, 0x97, last])
}

fn sub(id: u16, name: &str, ep: u16, vlan: u16, profile: ProfileRef) -> LiveSubscriber {
    LiveSubscriber {
        id,
        name: name.into(),
        description: String::new(),
        endpoint_id: Some(ep),
        port: None,
        vlan,
        tagged: false,
        remapped_vlan: None,
        allowed_vlans: vec![],
        profile,
        outer_vlan: Some(120),
        nni_if_index: None,
    }
}

fn ep(id: u16, last: u8, port: u8) -> LiveEndpoint {
    LiveEndpoint {
        id,
        mac: mac(last),
        name: format!("Positron_1997{last:02X}"),
        description: String::new(),
        binding: EndpointBinding::Port(port),
    }
}

/// gam-a: prune on, a bit of everything. gam-b: prune off, a protected subscriber changed and an
/// orphan kept. gam-c: could not be read.
fn every_kind_of_change() -> Plan {
    let mut desired = Desired {
        fleet: Some(Doc {
            source: SourceId(0),
            value: yaml("suspension: {mode: remove}\n"),
        }),
        plans: Some(Doc {
            source: SourceId(1),
            value: yaml(
                "1G: {down_mbps: 1000, up_mbps: 1000, description: 1G/1G}\n500M: {down_mbps: 545, up_mbps: 545, description: 500M/500M}\n100M: {down_mbps: 118, up_mbps: 118}\n",
            ),
        }),
        devices: vec![],
        subscribers: vec![],
    };
    for (name, extra) in [
        (
            "gam-a",
            "prune: true\nports:\n  - {port: 3, name: Riser B}\n",
        ),
        ("gam-b", ""),
        ("gam-c", ""),
    ] {
        desired.devices.push(Doc {
            source: SourceId(2),
            value: yaml(&format!(
                "name: {name}\nmodel: GAM-12-M\naddress: 127.0.0.1\n{extra}"
            )),
        });
    }
    let subs = [
        // gam-a
        "id: keep\ndevice: gam-a\nport: 1\nendpoint: {mac: \"00:0e:d8:19:97:01\"}\nvlan: 101\nouter_vlan: 120\nplan: 500M\n",
        "id: faster\ndevice: gam-a\nport: 2\nendpoint: {mac: \"00:0e:d8:19:97:02\"}\nvlan: 102\nouter_vlan: 120\nplan: 1G\n",
        "id: moved\ndevice: gam-a\nport: 4\nendpoint: {mac: \"00:0e:d8:19:97:03\"}\nvlan: 113\nouter_vlan: 120\nplan: 500M\nname: Unit 3C\n",
        "id: swapped\ndevice: gam-a\nport: 5\nendpoint: {mac: \"00:0e:d8:19:97:aa\"}\nvlan: 104\nouter_vlan: 120\nplan: 500M\n",
        "id: newbie\ndevice: gam-a\nport: 6\nendpoint: {mac: \"00:0e:d8:19:97:06\"}\nvlan: 106\nouter_vlan: 120\nplan: 100M\n",
        "id: away\ndevice: gam-a\nport: 7\nendpoint: {mac: \"00:0e:d8:19:97:07\"}\nvlan: 107\nouter_vlan: 120\nplan: 500M\nstatus: suspended\n",
        // gam-b
        "id: vip\ndevice: gam-b\nport: 1\nendpoint: {mac: \"00:0e:d8:19:97:11\"}\nvlan: 201\nplan: 100M\nprotect: true\n",
    ];
    for (i, s) in subs.iter().enumerate() {
        desired.subscribers.push(Doc {
            source: SourceId(10 + i as u32),
            value: yaml(s),
        });
    }

    let ports = (1..=12)
        .map(|n| LivePort {
            port: n,
            name: String::new(),
            mode: LivePortMode::Mimo,
        })
        .collect::<Vec<_>>();
    let default_profile = LiveProfile {
        id: 1,
        name: "Default BW Profile".into(),
        description: String::new(),
        down_mbps: 10,
        up_mbps: 10,
    };
    let gam_a = LiveDevice {
        ports: ports.clone(),
        profiles: vec![
            default_profile.clone(),
            LiveProfile {
                id: 2,
                name: "500M".into(),
                description: "500M/500M".into(),
                down_mbps: 540,
                up_mbps: 540,
            },
            LiveProfile {
                id: 3,
                name: "old-250M".into(),
                description: String::new(),
                down_mbps: 270,
                up_mbps: 270,
            },
            LiveProfile {
                id: 4,
                name: "1G".into(),
                description: "1G/1G".into(),
                down_mbps: 1000,
                up_mbps: 1000,
            },
        ],
        endpoints: vec![
            ep(1, 0x01, 1),
            ep(2, 0x02, 2),
            ep(3, 0x03, 3),
            ep(4, 0x04, 5),
            ep(5, 0x07, 7),
            ep(6, 0x99, 9),
        ],
        subscribers: vec![
            sub(1, "keep", 1, 101, ProfileRef::Id(2)),
            sub(2, "faster", 2, 102, ProfileRef::Id(2)),
            sub(3, "moved", 3, 103, ProfileRef::Id(2)),
            sub(4, "swapped", 4, 104, ProfileRef::Id(2)),
            sub(5, "away", 5, 107, ProfileRef::Id(2)),
            sub(6, "stray", 6, 109, ProfileRef::Id(3)),
        ],
        ..LiveDevice::default()
    };
    let gam_b = LiveDevice {
        ports,
        profiles: vec![
            default_profile,
            LiveProfile {
                id: 2,
                name: "100M".into(),
                description: String::new(),
                down_mbps: 118,
                up_mbps: 118,
            },
        ],
        endpoints: vec![ep(1, 0x11, 1), ep(2, 0x12, 2)],
        subscribers: vec![
            sub(1, "vip", 1, 200, ProfileRef::Id(2)),
            sub(2, "legacy", 2, 202, ProfileRef::Unthrottled),
        ],
        ..LiveDevice::default()
    };
    let observations = vec![
        ("gam-a".to_string(), Observation::Live(Box::new(gam_a))),
        ("gam-b".to_string(), Observation::Live(Box::new(gam_b))),
        (
            "gam-c".to_string(),
            Observation::Unknown {
                reason:
                    "timeout after 3 tries reading 1.3.6.1.4.1.20095.2001.143.1.2.40 (subscribers)"
                        .into(),
            },
        ),
    ];
    Plan::build(
        &desired,
        &observations,
        Some("0123456789abcdef0123456789abcdef01234567".into()),
        PlanOptions::default(),
    )
}

#[test]
fn text_rendering() {
    insta::assert_snapshot!(text(&every_kind_of_change(), Colour::Never));
}

#[test]
fn markdown_rendering() {
    insta::assert_snapshot!(markdown(&every_kind_of_change()));
}

#[test]
fn json_rendering_round_trips() {
    let plan = every_kind_of_change();
    let text = json(&plan);
    let back: Plan = serde_json::from_str(&text).unwrap();
    assert_eq!(back, plan);
    insta::assert_snapshot!(text);
}

#[test]
fn summary_counts_each_subscriber_once() {
    let s = every_kind_of_change().summary;
    // gam-a: keep (rate via profile 500M), faster (rate), moved (interrupt), swapped
    // (interrupt), newbie (created), away (deleted), stray (deleted); gam-b: vip (interrupt).
    assert_eq!(s.subscribers_created, 1);
    assert_eq!(s.subscribers_deleted, 2);
    assert_eq!(s.subscribers_interrupted, 3);
    assert_eq!(s.subscribers_rate_changed, 2);
    assert_eq!(s.devices_unknown, 1);
    assert_eq!(s.devices_blocked, 1);
}

/// Issue 16, item 1: strings from a device (an orphan's name, an unreadable device's reason)
/// print escaped: a newline cannot forge a plan line or close the Markdown code fence, and a
/// terminal escape cannot reach the terminal.
#[test]
fn device_strings_print_escaped() {
    let mut plan = every_kind_of_change();
    let evil = "x\n```\n</details>| `y` \u{1b}[2J";
    for d in &mut plan.devices {
        match &mut d.outcome {
            super::Outcome::Planned {
                changes, orphans, ..
            } => {
                for o in orphans.iter_mut() {
                    o.key = evil.into();
                }
                for c in changes.iter_mut() {
                    c.key = evil.into();
                    for f in c.fields.iter_mut() {
                        f.after = Some(evil.into());
                    }
                }
            }
            super::Outcome::Unknown { reason } => *reason = evil.into(),
            super::Outcome::Error { .. } => {}
        }
    }
    let t = text(&plan, Colour::Never);
    assert!(!t.contains('\u{1b}'), "{t}");
    assert!(
        !t.lines().any(|l| l == "```" || l.starts_with("</details>")),
        "{t}"
    );
    let m = markdown(&plan);
    assert!(!m.contains('\u{1b}'), "{m}");
    // The only fences and closing tags are gamops's own, each on a line of its own.
    let fences: Vec<&str> = m.lines().filter(|l| l.starts_with("```")).collect();
    assert!(fences.chunks(2).all(|p| p == ["```diff", "```"]), "{m}");
    let mut in_fence = false;
    for l in m.lines() {
        if l.starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            assert!(l == "</details>" || !l.contains("</details>"), "{l}");
            assert!(!l.contains("| `y`"), "{l}");
        }
    }
}

/// Issue 11 (3): with every device unknown, no renderer claims the devices match.
#[test]
fn unknown_devices_lead_and_no_match_is_claimed() {
    let desired = Desired {
        fleet: None,
        plans: None,
        devices: ["gam-x", "gam-y"]
            .iter()
            .map(|name| Doc {
                source: SourceId(2),
                value: yaml(&format!(
                    "name: {name}\nmodel: GAM-12-C\naddress: 127.0.0.1\n"
                )),
            })
            .collect(),
        subscribers: vec![],
    };
    let observations: Vec<(String, Observation)> = ["gam-x", "gam-y"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                Observation::Unknown {
                    reason: "no answer from 127.0.0.1:161 (wrong community?)".into(),
                },
            )
        })
        .collect();
    let plan = Plan::build(&desired, &observations, None, PlanOptions::default());
    let out = text(&plan, Colour::Never);
    assert!(!out.contains("No changes"), "{out}");
    assert!(!out.contains("match the inventory"), "{out}");
    let summary: Vec<&str> = out.split("\n\n").nth(1).unwrap().lines().collect();
    assert_eq!(
        summary[0], "Unknown: 2 device(s) could not be read and were not planned: gam-x, gam-y.",
        "{out}"
    );
    let md = markdown(&plan);
    assert!(!md.contains("no changes"), "{md}");
    assert!(
        md.starts_with("### gamops plan: 2 device(s) not read"),
        "{md}"
    );
}
