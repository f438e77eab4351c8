//! Import: the live state of a device written as desired state (the inverse of
//! [`super::target_for`]), so that planning right after an import finds nothing to change.
//!
//! What the inventory cannot express is reported as a warning instead of being guessed: an
//! endpoint no subscriber uses, a name the GAM accepted that the inventory's rules refuse, a
//! subscriber whose endpoint is not bound to a port.

use std::collections::BTreeMap;

use crate::device::live::{EndpointBinding, LiveDevice, LivePortMode, ProfileRef};
use crate::model::device::{SnmpSettings, SshSettings};
use crate::model::{
    BandwidthPlan, Description, Device, Endpoint, GamModel, Ident, Located, ManagedBy, Mbps, Plans,
    PortMode, PortNumber, PortSettings, Status, Subscriber, Vlan,
};

/// A device's live state as inventory documents.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub device: Device,
    pub plans: Plans,
    pub subscribers: Vec<Subscriber>,
    /// What could not be imported, one line each.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the device is not a GAM gamops knows (sysObjectID ends in {0:?})")]
    UnknownModel(Option<u32>),
}

/// Where and how to reach the device, for its device file.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    pub address: String,
    pub snmp: Option<SnmpSettings>,
    pub ssh: Option<SshSettings>,
}

fn vlan(v: u16, what: &str, owner: &str, warnings: &mut Vec<String>) -> Option<Located<Vlan>> {
    match Vlan::new(v) {
        Ok(v) => Some(Located::bare(v)),
        Err(_) => {
            warnings.push(format!("{owner}: {what} {v} is not a VLAN id; left out"));
            None
        }
    }
}

fn description(
    text: &str,
    owner: &str,
    warnings: &mut Vec<String>,
) -> Option<Located<Description>> {
    if text.is_empty() {
        return None;
    }
    match text.parse::<Description>() {
        Ok(d) => Some(Located::bare(d)),
        Err(e) => {
            warnings.push(format!("{owner}: description left out: {e}"));
            None
        }
    }
}

/// Converts `live` into inventory documents for a device called `name`.
pub fn import_device(
    name: &Ident,
    live: &LiveDevice,
    reach: Reach,
) -> Result<Imported, ImportError> {
    let model: GamModel = live
        .system
        .model()
        .ok_or(ImportError::UnknownModel(live.system.model_id))?;
    let mut warnings = Vec::new();

    // Plans: every custom profile, used or not (they are the ISP's plans).
    let mut plans = BTreeMap::new();
    for p in live.profiles.iter().filter(|p| p.id >= 2) {
        let owner = format!("bandwidth profile {} ({:?})", p.id, p.name);
        let Ok(pname) = p.name.parse::<Ident>() else {
            warnings.push(format!(
                "{owner}: its name is not a valid plan name; not imported"
            ));
            continue;
        };
        if pname.as_str() == crate::model::UNTHROTTLED {
            warnings.push(format!(
                "{owner}: a plan cannot be called unthrottled; not imported"
            ));
            continue;
        }
        match (
            Mbps::new(u32::from(p.down_mbps)),
            Mbps::new(u32::from(p.up_mbps)),
        ) {
            (Ok(down), Ok(up)) => {
                plans.insert(
                    pname,
                    BandwidthPlan {
                        down_mbps: Located::bare(down),
                        up_mbps: Located::bare(up),
                        description: description(&p.description, &owner, &mut warnings),
                    },
                );
            }
            _ => warnings.push(format!(
                "{owner}: rates {}/{} are outside 10..1999 Mbps; not imported",
                p.down_mbps, p.up_mbps
            )),
        }
    }

    let uplink_of = |if_index: u32| model.uplink_of_if_index(if_index);

    let mut used_endpoints = std::collections::BTreeSet::new();
    let mut subscribers = Vec::new();
    let endpoint_aware =
        live.global.subscriber_model == crate::model::SubscriberModel::EndpointAware;
    for s in &live.subscribers {
        let owner = format!("subscriber {} ({:?})", s.id, s.name);
        let Ok(id) = s.name.parse::<Ident>() else {
            warnings.push(format!(
                "{owner}: its name is not a valid subscriber id; not imported"
            ));
            continue;
        };
        let (port, endpoint) = if endpoint_aware {
            let Some(e) = s.endpoint_id.and_then(|eid| live.endpoint(eid)) else {
                warnings.push(format!("{owner}: it has no endpoint; not imported"));
                continue;
            };
            let EndpointBinding::Port(port) = e.binding else {
                warnings.push(format!(
                    "{owner}: its endpoint {} is not bound to a port; not imported",
                    e.mac
                ));
                continue;
            };
            used_endpoints.insert(e.id);
            let mut ep = Endpoint {
                mac: Located::bare(e.mac),
                name: None,
                description: description(&e.description, &owner, &mut warnings),
            };
            if e.name != ep.gam_name() {
                match e.name.parse::<Ident>() {
                    Ok(n) => ep.name = Some(Located::bare(n)),
                    Err(_) => {
                        warnings.push(format!("{owner}: endpoint name {:?} left out", e.name))
                    }
                }
            }
            (port, Some(ep))
        } else {
            let Some(port) = s.port else {
                warnings.push(format!("{owner}: it has no port; not imported"));
                continue;
            };
            (port, None)
        };
        let Ok(port) = PortNumber::new(u32::from(port)) else {
            warnings.push(format!(
                "{owner}: port {port} is not a G.hn port; not imported"
            ));
            continue;
        };
        let plan = match s.profile {
            ProfileRef::Unthrottled => crate::model::UNTHROTTLED.to_string(),
            ProfileRef::Id(pid) => match live.profile(pid) {
                Some(p) => p.name.clone(),
                None => {
                    warnings.push(format!(
                        "{owner}: its bandwidth profile {pid} does not exist; not imported"
                    ));
                    continue;
                }
            },
        };
        let Ok(plan) = plan.parse::<Ident>() else {
            warnings.push(format!("{owner}: its plan name is not valid; not imported"));
            continue;
        };
        let Some(c_vlan) = vlan(s.vlan, "VLAN", &owner, &mut warnings) else {
            continue;
        };
        let allowed: Vec<Vlan> = s
            .allowed_vlans
            .iter()
            .filter_map(|v| {
                vlan(*v, "allowed VLAN", &owner, &mut warnings).map(Located::into_inner)
            })
            .collect();
        subscribers.push(Subscriber {
            id: Located::bare(id),
            name: description(&s.description, &owner, &mut warnings),
            device: Located::bare(name.clone()),
            port: Located::bare(port),
            endpoint,
            vlan: c_vlan,
            tagged: s.tagged,
            remapped_vlan: s
                .remapped_vlan
                .and_then(|v| vlan(v, "remapped VLAN", &owner, &mut warnings)),
            allowed_vlans: Located::bare(allowed),
            outer_vlan: s
                .outer_vlan
                .and_then(|v| vlan(v, "outer VLAN", &owner, &mut warnings)),
            nni: s.nni_if_index.and_then(uplink_of).map(Located::bare),
            plan: Located::bare(plan),
            status: Located::bare(Status::Active),
            protect: false,
            managed_by: ManagedBy::Manual,
        });
    }
    if endpoint_aware {
        for e in live
            .endpoints
            .iter()
            .filter(|e| !used_endpoints.contains(&e.id))
        {
            warnings.push(format!(
                "endpoint {} ({}) serves no subscriber; the inventory has no place for it, so plans will report it as an orphan",
                e.id, e.mac
            ));
        }
    }

    let ports = live
        .ports
        .iter()
        .filter(|p| !p.name.is_empty() || p.mode == LivePortMode::Siso)
        .filter_map(|p| {
            Some(PortSettings {
                port: Located::bare(PortNumber::new(u32::from(p.port)).ok()?),
                name: description(&p.name, &format!("port {}", p.port), &mut warnings),
                enabled: true,
                mode: match p.mode {
                    LivePortMode::Siso => Some(Located::bare(PortMode::Siso)),
                    LivePortMode::Mimo | LivePortMode::Coax => None,
                },
            })
        })
        .collect();

    let device = Device {
        name: Located::bare(name.clone()),
        model: Located::bare(model),
        address: Located::bare(reach.address),
        description: None,
        subscriber_model: Located::bare(live.global.subscriber_model),
        default_nni: uplink_of(live.global.default_nni_if_index).map(Located::bare),
        endpoint_auto_fw_upgrade: Some(Located::bare(live.global.endpoint_auto_fw_upgrade)),
        snmp: reach.snmp,
        ssh: reach.ssh,
        ports,
        safety: Default::default(),
        prune: None,
    };
    Ok(Imported {
        device,
        plans: Plans(plans),
        subscribers,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fleet;
    use crate::plan::diff::{DiffOptions, diff};
    use crate::plan::target_for;

    fn walk_device() -> LiveDevice {
        crate::device::live::walk_example()
    }

    #[test]
    fn the_real_walk_imports_and_plans_no_changes() {
        let live = walk_device();
        let name: Ident = "gam12c".parse().unwrap();
        let imp = import_device(
            &name,
            &live,
            Reach {
                address: "127.0.0.1".into(),
                ..Reach::default()
            },
        )
        .unwrap();
        assert_eq!(imp.warnings, Vec::<String>::new());
        let names: Vec<&str> = imp.plans.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["100M", "1G", "250M", "500M"]);
        assert_eq!(imp.plans.get("500M").unwrap().down_mbps.get(), 545);
        let s = &imp.subscribers[0];
        assert_eq!(
            (s.id.as_str(), s.vlan.get(), s.tagged, s.plan.as_str()),
            ("C#", 1409, false, "500M")
        );
        assert_eq!(s.outer_vlan.as_ref().map(|v| v.get()), Some(120));
        assert_eq!(s.port.get(), 12);
        assert_eq!(
            s.endpoint.as_ref().unwrap().mac.to_string(),
            "00:0e:d8:19:97:e6"
        );
        assert_eq!(imp.device.model.name(), "GAM-12-C");
        assert_eq!(
            imp.device.default_nni.as_ref().map(|u| u.to_string()),
            Some("10G 1/1".to_string())
        );

        let subs: Vec<&Subscriber> = imp.subscribers.iter().collect();
        let target = target_for(&imp.device, &subs, &imp.plans, &Fleet::default());
        let d = diff(&target, &live, DiffOptions { prune: false }).unwrap();
        assert!(d.changes.is_empty(), "{:#?}", d.changes);
        // The three profiles no subscriber uses stay as orphans.
        assert_eq!(d.orphans.len(), 3);
    }

    #[test]
    fn what_the_inventory_cannot_hold_is_a_warning() {
        let mut live = walk_device();
        live.subscribers[0].name = "has space".into();
        live.profiles[1].down_mbps = 5;
        let imp = import_device(&"g".parse().unwrap(), &live, Reach::default()).unwrap();
        assert!(imp.subscribers.is_empty());
        assert_eq!(imp.plans.len(), 3);
        assert_eq!(imp.warnings.len(), 3, "{:#?}", imp.warnings);
        assert!(
            imp.warnings
                .iter()
                .any(|w| w.contains("serves no subscriber"))
        );
    }

    #[test]
    fn a_device_that_is_not_a_gam_is_refused() {
        let mut live = walk_device();
        live.system.model_id = Some(9999);
        assert_eq!(
            import_device(&"g".parse().unwrap(), &live, Reach::default()),
            Err(ImportError::UnknownModel(Some(9999)))
        );
    }
}
