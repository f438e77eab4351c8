//! What the desired state asks of one GAM, in the device's own terms (names, MACs, rates), before
//! any numeric id is chosen.

use std::collections::BTreeSet;

use crate::model::{
    Device, Fleet, Plans, Subscriber, SubscriberModel, SubscriberStatus, SuspensionMode,
    UNTHROTTLED,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetProfile {
    pub name: String,
    pub description: String,
    pub down_mbps: u16,
    pub up_mbps: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetEndpoint {
    pub mac: crate::model::Mac,
    pub name: String,
    pub description: String,
    pub port: u8,
    /// The subscriber served through this endpoint.
    pub subscriber: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetSubscriber {
    pub name: String,
    pub description: String,
    pub endpoint: Option<crate::model::Mac>,
    pub port: Option<u8>,
    pub vlan: u16,
    pub tagged: bool,
    pub remapped_vlan: Option<u16>,
    /// Sorted, without duplicates.
    pub allowed_vlans: Vec<u16>,
    /// A profile name; None for unthrottled.
    pub profile: Option<String>,
    pub outer_vlan: Option<u16>,
    pub nni_if_index: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetPort {
    pub port: u8,
    pub name: Option<String>,
    pub mode: Option<crate::device::live::LivePortMode>,
}

/// Everything the inventory wants on one device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    /// Device-global settings. The subscriber model is always stated (the inventory's default
    /// is endpoint-aware); the others only when the device file sets them.
    pub subscriber_model: SubscriberModel,
    /// ifIndex of the default NNI.
    pub default_nni_if_index: Option<u32>,
    pub endpoint_auto_fw_upgrade: Option<bool>,
    pub profiles: Vec<TargetProfile>,
    pub endpoints: Vec<TargetEndpoint>,
    pub subscribers: Vec<TargetSubscriber>,
    pub ports: Vec<TargetPort>,
    /// Subscriber names the inventory owns on this device, including suspended ones that the
    /// suspension policy removes: a live subscriber with one of these names is never an orphan.
    pub owned: BTreeSet<String>,
    /// Subscribers marked `protect: true`.
    pub protected: BTreeSet<String>,
}

/// Projects a valid desired state for `device` onto the device's objects.
///
/// `subscribers` are the device's subscribers. The inventory is assumed valid (see
/// `model::validate`): a plan that names no plan in `plans` is taken as unthrottled.
pub fn target_for(
    device: &Device,
    subscribers: &[&Subscriber],
    plans: &Plans,
    fleet: &Fleet,
) -> Target {
    let model = *device.model;
    let mut t = Target {
        subscriber_model: *device.subscriber_model,
        default_nni_if_index: device.default_nni.as_ref().map(|u| u.if_index(model)),
        endpoint_auto_fw_upgrade: device.endpoint_auto_fw_upgrade.as_ref().map(|b| **b),
        ..Target::default()
    };
    let mut profile_names = BTreeSet::new();
    let suspension = &fleet.suspension;

    for s in subscribers {
        t.owned.insert(s.id.to_string());
        if s.protect {
            t.protected.insert(s.id.to_string());
        }
        let endpoint_aware = t.subscriber_model == SubscriberModel::EndpointAware;
        if endpoint_aware && let Some(e) = &s.endpoint {
            t.endpoints.push(TargetEndpoint {
                mac: *e.mac,
                name: e.gam_name(),
                description: e
                    .description
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                port: s.port.get(),
                subscriber: s.id.to_string(),
            });
        }
        let suspended = *s.status == SubscriberStatus::Suspended;
        if suspended && *suspension.mode == SuspensionMode::Remove {
            continue;
        }
        let mut plan = s.plan.as_str().to_string();
        let mut vlan = s.vlan.get();
        if suspended {
            match *suspension.mode {
                SuspensionMode::Plan => {
                    if let Some(p) = &suspension.plan {
                        plan = p.to_string();
                    }
                }
                SuspensionMode::Vlan => {
                    if let Some(v) = &suspension.vlan {
                        vlan = v.get();
                    }
                }
                SuspensionMode::Remove => {}
            }
        }
        let profile = (plan != UNTHROTTLED && plans.get(&plan).is_some()).then(|| plan.clone());
        if let Some(p) = &profile {
            profile_names.insert(p.clone());
        }
        let mut allowed: Vec<u16> = s.allowed_vlans.iter().map(|v| v.get()).collect();
        allowed.sort_unstable();
        allowed.dedup();
        t.subscribers.push(TargetSubscriber {
            name: s.id.to_string(),
            description: s.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
            endpoint: if endpoint_aware {
                s.endpoint.as_ref().map(|e| *e.mac)
            } else {
                None
            },
            port: (!endpoint_aware).then(|| s.port.get()),
            vlan,
            tagged: s.tagged,
            remapped_vlan: s.remapped_vlan.as_ref().map(|v| v.get()),
            allowed_vlans: allowed,
            profile,
            outer_vlan: s.outer_vlan.as_ref().map(|v| v.get()),
            nni_if_index: s.nni.as_ref().map(|u| u.if_index(model)),
        });
    }
    for name in profile_names {
        if let Some(p) = plans.get(&name) {
            t.profiles.push(TargetProfile {
                description: p
                    .description
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                down_mbps: p.down_mbps.get(),
                up_mbps: p.up_mbps.get(),
                name,
            });
        }
    }
    for p in &device.ports {
        t.ports.push(TargetPort {
            port: p.port.get(),
            name: p.name.as_ref().map(|n| n.to_string()),
            mode: p.mode.as_ref().map(|m| match **m {
                crate::model::PortMode::Mimo => crate::device::live::LivePortMode::Mimo,
                crate::model::PortMode::Siso => crate::device::live::LivePortMode::Siso,
            }),
        });
    }
    t.endpoints.sort_by_key(|e| e.mac);
    t.subscribers.sort_by(|a, b| a.name.cmp(&b.name));
    t.ports.sort_by_key(|p| p.port);
    t
}
