//! Billing customers that fit a lab fleet: each is wired (custom fields `gam`, `gam_port`,
//! `vlan`, the billing MAC) to a free slot of a device the lab serves, on a plan of the
//! inventory's plans.yaml, so a sync against the fake adds them as valid subscribers.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::FakeCustomer;
use crate::model::{Desired, Mac, Medium, SubscriberModel};

/// Why no customers could be made.
#[derive(Debug, thiserror::Error)]
pub enum FleetBillingError {
    #[error("the inventory has no bandwidth plans to put billing customers on")]
    NoPlans,
    #[error("the inventory has no devices to wire billing customers to")]
    NoDevices,
}

/// Up to `per_device` customers per device of `desired`, in free slots only: a port with room
/// (one endpoint per copper port, sixteen per coax port), a C-VLAN the device does not use, a
/// MAC no subscriber uses, and an id no subscriber has. Customer ids count from 1; rates are
/// exactly a plan's (in kbps, as billing writes them; on coax, only plans up to 800 Mbps). Every fifth customer is suspended
/// (Splynx: `blocked`; Sonar: active but delinquent) so a sync shows both states.
pub fn customers_for(
    desired: &Desired,
    per_device: usize,
    splynx: bool,
) -> Result<Vec<FakeCustomer>, FleetBillingError> {
    let rates: Vec<(u64, u64)> = desired
        .plans()
        .map(|p| {
            p.0.values()
                .map(|plan| {
                    (
                        u64::from(plan.down_mbps.get()) * 1000,
                        u64::from(plan.up_mbps.get()) * 1000,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if rates.is_empty() {
        return Err(FleetBillingError::NoPlans);
    }
    if desired.devices.is_empty() {
        return Err(FleetBillingError::NoDevices);
    }
    let prefix = if splynx { "splynx-" } else { "sonar-" };
    let ids: HashSet<&str> = desired.subscribers.iter().map(|s| s.id.as_str()).collect();
    // The last three bytes of the MACs in use: a GAM names an endpoint after them
    // (`Positron_XXXXXX`), and the names must be unique, so a new MAC may not end like one in
    // use (issue 16: `02:0e:d8:00:00:01` beside `00:0e:d8:00:00:01`).
    let suffixes: HashSet<[u8; 3]> = desired
        .subscribers
        .iter()
        .filter_map(|s| s.endpoint.as_ref().map(|e| e.mac.octets()))
        .map(|[.., d, e, f]| [d, e, f])
        .collect();
    // Per device: subscribers per port, VLANs in use, subscriber count.
    let mut per_port: HashMap<(&str, u8), usize> = HashMap::new();
    let mut vlans: HashMap<&str, HashSet<u16>> = HashMap::new();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for s in &desired.subscribers {
        let d = s.device.as_str();
        *per_port.entry((d, s.port.get())).or_default() += 1;
        let v = vlans.entry(d).or_default();
        v.insert(s.vlan.get());
        if let Some(o) = &s.outer_vlan {
            v.insert(o.get());
        }
        *counts.entry(d).or_default() += 1;
    }

    let mut out = Vec::new();
    let mut next_id: u64 = 1;
    let mut next_mac: u32 = 1;
    for device in &desired.devices {
        let name = device.name.as_str();
        let model = *device.model;
        let capacity = match model.medium() {
            Medium::Copper => 1,
            Medium::Coax => 16,
        };
        // Coax ports shape at most 800 Mbps: faster plans only run unthrottled there.
        let fitting: Vec<(u64, u64)> = rates
            .iter()
            .copied()
            .filter(|(down, up)| model.medium() == Medium::Copper || (*down).max(*up) <= 800_000)
            .collect();
        if fitting.is_empty() {
            continue;
        }
        let endpoint_aware = *device.subscriber_model == SubscriberModel::EndpointAware;
        let used_vlans = vlans.get(name).cloned().unwrap_or_default();
        let mut vlan_candidates = (1000u16..3000).filter(|v| !used_vlans.contains(v));
        let mut room = 384usize.saturating_sub(counts.get(name).copied().unwrap_or(0));
        let mut made = 0;
        'ports: for port in 1..=model.ghn_ports() {
            let mut used = per_port.get(&(name, port)).copied().unwrap_or(0);
            while used < capacity {
                if made == per_device || room == 0 {
                    break 'ports;
                }
                let Some(vlan) = vlan_candidates.next() else {
                    break 'ports;
                };
                while ids.contains(format!("{prefix}{next_id}").as_str()) {
                    next_id += 1;
                }
                let mac = endpoint_aware.then(|| {
                    loop {
                        let b = next_mac.to_be_bytes();
                        next_mac += 1;
                        // A locally administered unicast range the generated fleets do not use.
                        let mac = Mac([0x02, 0x0e, 0xd8, b[1], b[2], b[3]]);
                        if !suffixes.contains(&[b[1], b[2], b[3]]) {
                            break mac;
                        }
                    }
                });
                let (down, up) = fitting[out.len() % fitting.len()];
                let suspended = out.len() % 5 == 4;
                let status = match (splynx, suspended) {
                    (true, true) => "blocked",
                    (true, false) => "active",
                    (false, _) => "Active",
                };
                let mut fields = BTreeMap::new();
                fields.insert("gam".to_string(), name.to_string());
                fields.insert("gam_port".to_string(), port.to_string());
                fields.insert("vlan".to_string(), vlan.to_string());
                out.push(FakeCustomer {
                    id: next_id,
                    name: format!("Unit {next_id}"),
                    status: status.into(),
                    delinquent: !splynx && suspended,
                    service_id: 100_000 + next_id,
                    service_active: true,
                    down_kbps: down,
                    up_kbps: up,
                    mac: mac.map(|m| m.to_string()),
                    fields,
                });
                next_id += 1;
                used += 1;
                made += 1;
                room -= 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::{BillingCustomer, BillingService, CustomerStatus};
    use crate::billing::{MapContext, map_customers};
    use crate::inventory::Inventory;
    use crate::lab::fleetgen::{FleetSpec, write_fleet};
    use crate::model::billing::{SplynxAuthSettings, SplynxMapping};
    use crate::model::{Credential, Located, ManagedBy, PlanMatching};

    /// The customers map to valid subscribers under the default mapping, with nothing skipped.
    #[test]
    fn customers_fit_a_generated_fleet() {
        let dir = tempfile::tempdir().unwrap();
        let spec = FleetSpec {
            devices: 3,
            subscribers_per_device: 10,
            base_port: 30000,
        };
        write_fleet(&spec, dir.path()).unwrap();
        let inv = Inventory::load_dir(dir.path()).unwrap();
        let customers = customers_for(&inv.desired, 4, true).unwrap();
        assert_eq!(customers.len(), 12);
        // No plan above 800 Mbps on a coax device (validation refuses it there).
        for c in &customers {
            let device = inv.desired.device(&c.fields["gam"]).unwrap();
            if device.model.medium() == Medium::Coax {
                assert!(c.down_kbps.max(c.up_kbps) <= 800_000, "{c:?}");
            }
        }
        let billing: Vec<BillingCustomer> = customers
            .iter()
            .map(|c| BillingCustomer {
                source: ManagedBy::Splynx,
                key: c.id.to_string(),
                name: c.name.clone(),
                status: CustomerStatus::Splynx {
                    status: c.status.clone(),
                },
                services: vec![BillingService {
                    id: c.service_id.to_string(),
                    plan_name: "plan".into(),
                    active: true,
                    down_kbps: c.down_kbps,
                    up_kbps: c.up_kbps,
                    fields: c.fields.clone(),
                    macs: c.mac.iter().cloned().collect(),
                }],
                fields: BTreeMap::new(),
                macs: Vec::new(),
            })
            .collect();
        let mapping = SplynxMapping {
            url: Located::bare("http://127.0.0.1:1".into()),
            auth: SplynxAuthSettings {
                mode: Default::default(),
                key: Located::bare(Credential::Env("K".into())),
                secret: Located::bare(Credential::Env("S".into())),
            },
            statuses: Default::default(),
            fields: Default::default(),
            webhook_secret: None,
        };
        let devices: Vec<_> = inv
            .desired
            .devices
            .iter()
            .map(|d| d.value.clone())
            .collect();
        let others: Vec<_> = inv
            .desired
            .subscribers
            .iter()
            .map(|s| s.value.clone())
            .collect();
        let plans = inv.desired.plans().unwrap().clone();
        let matching = PlanMatching::default();
        let ctx = MapContext {
            devices: &devices,
            plans: &plans,
            matching: &matching,
            others: &others,
        };
        let out = map_customers(
            &billing,
            crate::billing::mapping::SystemRules::Splynx(&mapping),
            &ctx,
        );
        assert!(out.skipped.is_empty(), "{:#?}", out.skipped);
        assert_eq!(out.subscribers.len(), 12);
        let suspended = out
            .subscribers
            .iter()
            .filter(|s| *s.status == crate::model::SubscriberStatus::Suspended)
            .count();
        assert_eq!(suspended, 2);
    }
}
