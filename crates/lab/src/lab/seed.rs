//! What a lab device holds when it starts (`gamops lab up --seed`):
//!
//! - [`Seed::Empty`]: the factory configuration, no CPEs (a GAM out of the box);
//! - [`Seed::Random`]: a plausible random configuration (bandwidth profiles, endpoints,
//!   subscribers) and detected CPEs, the same for the same `--rng-seed`;
//! - [`Seed::Converged`]: exactly what the inventory asks for, with each subscriber's CPE
//!   detected on its port, so `gamops plan` finds nothing to do. The lab reads the inventory
//!   itself, as an engineer configuring the GAM by hand would, and never asks the plan (its
//!   target projection, diff or ids; outside its tests the lab crate does not import
//!   `gamops_core::plan`) or the CLI dialect: a converged lab is an independent witness, so a
//!   wrong projection in the planner shows up as a non-empty plan.

use crate::device::live::{
    EndpointBinding, LiveDevice, LiveEndpoint, LiveGlobal, LivePort, LivePortMode, LiveProfile,
    LiveSubscriber, ProfileRef,
};
use crate::lab::device::rules::{EndpointEdit, GlobalEdit, PortEdit, ProfileEdit, SubscriberEdit};
use crate::lab::device::state::{
    self as lab, DetectedCpe, EndpointPort, MAX_NAME_LEN, SubscriberModel,
};
use crate::lab::device::{DeviceState, Mac};
use crate::model::{
    Desired, GamModel, Medium, Plans, SubscriberStatus, SuspensionMode, UNTHROTTLED,
};

/// How to seed a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// Factory defaults.
    Empty,
    /// A random configuration, deterministic by `rng_seed`.
    Random { rng_seed: u64 },
    /// What the inventory asks for.
    Converged,
}

/// A device could not be seeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("device {0} is not in the inventory")]
    NoDevice(String),
    #[error("device {device}: the lab refused `{line}`: {error}")]
    Refused {
        device: String,
        line: String,
        error: String,
    },
}

/// The lab's running configuration in the live model's terms (what gamops would observe).
pub fn live_of(state: &DeviceState) -> LiveDevice {
    let cfg = &state.running;
    LiveDevice {
        global: LiveGlobal {
            subscriber_model: match cfg.global.subscriber_model {
                SubscriberModel::EndpointAware => crate::model::SubscriberModel::EndpointAware,
                SubscriberModel::PortAware => crate::model::SubscriberModel::PortAware,
            },
            default_nni_if_index: cfg.global.default_nni_ifindex,
            endpoint_auto_fw_upgrade: cfg.global.endpoint_auto_fw_upgrade,
        },
        ports: cfg
            .ports
            .iter()
            .zip(1u8..)
            .map(|(p, n)| LivePort {
                port: n,
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
                mac: crate::model::Mac(e.mac.0),
                name: e.name.clone(),
                description: e.description.clone(),
                binding: match e.port {
                    EndpointPort::Port(n) => EndpointBinding::Port(n),
                    EndpointPort::Auto => EndpointBinding::Auto,
                    EndpointPort::Unassigned => EndpointBinding::Unassigned,
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

/// A small deterministic generator (SplitMix64); not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`, mixed with `salt` (a device's index or name).
    pub fn new(seed: u64, salt: &str) -> Self {
        let mut r = Rng(seed);
        for b in salt.bytes() {
            r.0 ^= u64::from(b);
            r.next_u64();
        }
        r
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi.saturating_sub(lo).saturating_add(1)).max(1)
    }

    /// A Positron CPE MAC (OUI 00:0e:d8).
    pub fn cpe_mac(&mut self) -> Mac {
        let b = self.next_u64().to_be_bytes();
        Mac([0x00, 0x0e, 0xd8, b[0], b[1], b[2]])
    }
}

/// A plausible CPE for `mac` on `port`: a cable drawn from `rng`, PHY rates from the link model
/// ([`crate::lab::device::link`]) for the device's medium, an uptime and a peak usage.
pub fn cpe(model: GamModel, mac: Mac, port: u8, rng: &mut Rng) -> DetectedCpe {
    let mut c = DetectedCpe::walk_example();
    c.mac = mac;
    c.port = port;
    let mode = if model.medium() == Medium::Copper {
        c.model = "G1000-M".to_string();
        c.hw_product = "DCP962M".to_string();
        c.firmware = "G1000M-CPE-P2P SPIRIT.v7_10_r713+7_positron_24260".to_string();
        lab::PortMode::Mimo
    } else {
        lab::PortMode::Coax
    };
    c.serial = format!(
        "ASY-2103-20,R12,{:08},{:05}",
        rng.range(0, 99_999_999),
        rng.range(0, 99_999)
    );
    c.uptime_secs = rng.range(60, 90 * 86_400);
    c.wire_length_m = u32::try_from(rng.range(5, 250)).unwrap_or(50);
    (c.rx_phy_mbps, c.tx_phy_mbps) =
        crate::lab::device::link::phy_rates(mode, c.wire_length_m, rng);
    c.usage_peak_percent = u8::try_from(rng.range(5, 60)).unwrap_or(20);
    c
}

/// A factory device with a random but valid configuration, saved, and CPEs detected for most
/// endpoints (plus, sometimes, an unknown CPE in quarantine).
pub fn random_state(model: GamModel, hostname: &str, rng_seed: u64) -> DeviceState {
    let mut rng = Rng::new(rng_seed, hostname);
    let mut dev = DeviceState::factory(model, hostname);
    let plans: [(&str, u16); 5] = [
        ("1G", 1000),
        ("500M", 545),
        ("250M", 270),
        ("100M", 118),
        ("50M", 55),
    ];
    let profiles = rng.range(1, plans.len() as u64) as usize;
    for (i, (name, rate)) in plans.iter().take(profiles).enumerate() {
        let id = u8::try_from(i + 2).unwrap_or(2);
        let _ = dev.running.set_profile(
            id,
            ProfileEdit {
                name: Some((*name).to_string()),
                description: Some(format!("{name}/{name}")),
                downstream_mbps: Some(*rate),
                upstream_mbps: Some(*rate),
            },
        );
    }
    let ports = model.ghn_ports();
    let capacity = u64::from(ports) * model.medium().endpoints_per_port() as u64;
    let count = rng.range(0, capacity.min(48));
    for id in 1..=u16::try_from(count).unwrap_or(0) {
        let mac = rng.cpe_mac();
        let port = match model.medium() {
            Medium::Copper => u8::try_from(id).unwrap_or(1),
            Medium::Coax => u8::try_from(rng.range(1, u64::from(ports))).unwrap_or(1),
        };
        let added = dev.running.set_endpoint(
            id,
            EndpointEdit {
                mac: Some(mac),
                port: Some(EndpointPort::Port(port)),
                ..EndpointEdit::default()
            },
        );
        if added.is_err() {
            continue;
        }
        let profile_id = u8::try_from(rng.range(1, profiles as u64 + 1)).unwrap_or(1);
        let mut name = format!(
            "Unit {}{}",
            rng.range(1, 40),
            ['A', 'B', 'C', 'D'][(id % 4) as usize]
        );
        name.truncate(MAX_NAME_LEN);
        let vid = 100 + id;
        let mut edit = SubscriberEdit {
            name: Some(format!("{name} #{id}")),
            endpoint: Some(Some(id)),
            vid: Some(vid),
            ..SubscriberEdit::default()
        };
        if rng.range(0, 9) == 0 {
            edit.bw_profile = Some(lab::BwRef::Unthrottled);
        } else {
            edit.bw_profile = Some(lab::BwRef::Profile(profile_id));
        }
        let _ = dev.running.set_subscriber(id, edit);
        if rng.range(0, 9) != 0 {
            let c = cpe(model, mac, port, &mut rng);
            dev.detect_cpe(c);
        }
    }
    if rng.range(0, 3) == 0 {
        let port = u8::try_from(rng.range(1, u64::from(ports))).unwrap_or(1);
        let mac = rng.cpe_mac();
        let c = cpe(model, mac, port, &mut rng);
        dev.detect_cpe(c);
    }
    dev.save();
    dev
}

/// The device `name` of `desired`, configured exactly as the inventory asks and saved, with
/// every subscriber's CPE detected on its port.
///
/// This is the lab's own reading of the inventory (see the module's doc): global settings, port
/// settings, one bandwidth profile per plan in use (ids 2.. by plan name), one endpoint per
/// subscriber's CPE (endpoint-aware) and one subscriber per inventory subscriber on the device
/// (ids 1.. by subscriber id), with the fleet's suspension policy applied.
pub fn converged_state(
    desired: &Desired,
    name: &str,
    rng_seed: u64,
) -> Result<DeviceState, SeedError> {
    let device = desired
        .device(name)
        .ok_or_else(|| SeedError::NoDevice(name.to_string()))?;
    let model = *device.model;
    let mut subs = desired.subscribers_of(name);
    subs.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let empty = Plans::default();
    let plans = desired.plans().unwrap_or(&empty);
    let fleet = desired.fleet();
    let refused = |what: String| {
        move |e: crate::lab::device::GhnError| SeedError::Refused {
            device: name.to_string(),
            line: what,
            error: e.to_string(),
        }
    };

    let mut state = DeviceState::factory(model, name);
    let port_aware = *device.subscriber_model == crate::model::SubscriberModel::PortAware;
    let cfg = &mut state.running;
    cfg.set_global(GlobalEdit {
        subscriber_model: Some(if port_aware {
            SubscriberModel::PortAware
        } else {
            SubscriberModel::EndpointAware
        }),
        default_nni_ifindex: device
            .default_nni
            .as_ref()
            .map(|u| lab::PORT_IFINDEX_BASE + u32::from(model.ghn_ports()) + u32::from(u.get())),
        endpoint_auto_fw_upgrade: device.endpoint_auto_fw_upgrade.as_ref().map(|b| **b),
        shelf_seed: None,
    })
    .map_err(refused("the global settings".into()))?;
    for p in &device.ports {
        let n = p.port.get();
        cfg.set_port(
            n,
            PortEdit {
                mode: p.mode.as_ref().map(|m| match **m {
                    crate::model::PortMode::Mimo => lab::PortMode::Mimo,
                    crate::model::PortMode::Siso => lab::PortMode::Siso,
                }),
                name: p.name.as_ref().map(|d| d.to_string()),
                shutdown: Some(!p.enabled),
            },
        )
        .map_err(refused(format!("port {n}")))?;
    }

    // What each subscriber puts on the device under the suspension policy: (plan, VLAN), or
    // nothing when suspension removes it.
    let on_device = |s: &crate::model::Subscriber| -> Option<(String, u16)> {
        let mut plan = s.plan.as_str().to_string();
        let mut vlan = s.vlan.get();
        if *s.status == SubscriberStatus::Suspended {
            match *fleet.suspension.mode {
                SuspensionMode::Remove => return None,
                SuspensionMode::Plan => {
                    if let Some(p) = &fleet.suspension.plan {
                        plan = p.to_string();
                    }
                }
                SuspensionMode::Vlan => {
                    if let Some(v) = &fleet.suspension.vlan {
                        vlan = v.get();
                    }
                }
            }
        }
        Some((plan, vlan))
    };

    // Profiles: the plans in use, by name.
    let used: std::collections::BTreeSet<String> = subs
        .iter()
        .filter_map(|s| on_device(s))
        .map(|(plan, _)| plan)
        .filter(|p| p != UNTHROTTLED && plans.get(p).is_some())
        .collect();
    let mut profile_ids = std::collections::BTreeMap::new();
    for (plan_name, id) in used.iter().zip(2u8..) {
        let Some(plan) = plans.get(plan_name) else {
            continue;
        };
        cfg.set_profile(
            id,
            ProfileEdit {
                name: Some(plan_name.clone()),
                description: Some(
                    plan.description
                        .as_ref()
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                ),
                downstream_mbps: Some(plan.down_mbps.get()),
                upstream_mbps: Some(plan.up_mbps.get()),
            },
        )
        .map_err(refused(format!("bandwidth profile {plan_name}")))?;
        profile_ids.insert(plan_name.clone(), id);
    }

    // Endpoints (endpoint-aware): every subscriber's CPE, suspended ones included (the captive
    // portal serves them).
    let mut endpoint_ids = std::collections::BTreeMap::new();
    if !port_aware {
        let mut next = 1u16;
        for s in &subs {
            let Some(e) = &s.endpoint else { continue };
            cfg.set_endpoint(
                next,
                EndpointEdit {
                    name: Some(e.gam_name()),
                    mac: Some(Mac(e.mac.0)),
                    description: Some(
                        e.description
                            .as_ref()
                            .map(|d| d.to_string())
                            .unwrap_or_default(),
                    ),
                    port: Some(EndpointPort::Port(s.port.get())),
                    allow_management_access: None,
                },
            )
            .map_err(refused(format!("endpoint {}", *e.mac)))?;
            endpoint_ids.insert(s.id.as_str().to_string(), next);
            next += 1;
        }
    }

    let mut next = 1u16;
    for s in &subs {
        let Some((plan, vlan)) = on_device(s) else {
            continue;
        };
        let mut allowed: Vec<u16> = s.allowed_vlans.iter().map(|v| v.get()).collect();
        allowed.sort_unstable();
        allowed.dedup();
        let edit = SubscriberEdit {
            name: Some(s.id.to_string()),
            description: Some(s.name.as_ref().map(|n| n.to_string()).unwrap_or_default()),
            endpoint: Some(endpoint_ids.get(s.id.as_str()).copied()),
            port: Some(port_aware.then(|| s.port.get())),
            vid: Some(vlan),
            tagged: Some(s.tagged),
            remapped_vid: Some(s.remapped_vlan.as_ref().map(|v| v.get())),
            bw_profile: Some(
                profile_ids
                    .get(&plan)
                    .map_or(lab::BwRef::Unthrottled, |id| lab::BwRef::Profile(*id)),
            ),
            allowed_vlans: Some(allowed),
            outer_vid: Some(s.outer_vlan.as_ref().map(|v| v.get())),
            nni_ifindex: Some(s.nni.as_ref().map(|u| {
                lab::PORT_IFINDEX_BASE + u32::from(model.ghn_ports()) + u32::from(u.get())
            })),
            ..SubscriberEdit::default()
        };
        cfg.set_subscriber(next, edit)
            .map_err(refused(format!("subscriber {}", s.id)))?;
        next += 1;
    }

    // Every CPE is seen on its port: the endpoints' MACs, and one CPE per port-aware
    // subscriber's port.
    let mut rng = Rng::new(rng_seed, name);
    if port_aware {
        for s in subs.iter().filter(|s| on_device(s).is_some()) {
            let mac = rng.cpe_mac();
            let c = cpe(model, mac, s.port.get(), &mut rng);
            state.detect_cpe(c);
        }
    } else {
        for s in &subs {
            if let Some(e) = &s.endpoint {
                let c = cpe(model, Mac(e.mac.0), s.port.get(), &mut rng);
                state.detect_cpe(c);
            }
        }
    }
    state.save();
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::plan::diff::{DiffOptions, diff};
    use crate::plan::target_for;

    fn example() -> (tempfile::TempDir, Desired) {
        let dir = tempfile::tempdir().unwrap();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../inventory");
        for entry in walkdir::WalkDir::new(&src) {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(&src).unwrap();
            let to = dir.path().join(rel);
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else {
                std::fs::copy(entry.path(), &to).unwrap();
            }
        }
        let inv = Inventory::load_dir(dir.path()).unwrap();
        (dir, inv.desired)
    }

    #[test]
    fn converged_devices_plan_nothing() {
        let (_dir, desired) = example();
        for d in &desired.devices {
            let name = d.name.as_str();
            let state = converged_state(&desired, name, 1).unwrap();
            assert!(!state.is_dirty(), "{name}: saved");
            let subs = desired.subscribers_of(name);
            let target = target_for(d, &subs, desired.plans().unwrap(), &desired.fleet());
            let again = diff(&target, &live_of(&state), DiffOptions { prune: false }).unwrap();
            assert!(again.changes.is_empty(), "{name}: {:#?}", again.changes);
            assert!(!state.running.subscribers.is_empty(), "{name}");
            assert!(!state.cpes.is_empty(), "{name}: CPEs detected");
        }
    }

    #[test]
    fn random_is_deterministic_and_valid() {
        let a = random_state(GamModel::Gam12C, "gam-0001", 7);
        let b = random_state(GamModel::Gam12C, "gam-0001", 7);
        let c = random_state(GamModel::Gam12C, "gam-0001", 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for model in [GamModel::Gam24M, GamModel::Gam4Cx, GamModel::Gam24C] {
            for seed in 0..20 {
                let d = random_state(model, "x", seed);
                assert!(!d.is_dirty());
                // The saved text applies back to the same configuration.
                let mut back = d.clone();
                back.reload().unwrap();
                assert_eq!(back.running, d.running);
            }
        }
    }
}
