//! Import: the live state of a device written as desired state (the inverse of
//! [`super::target_for`]), so that planning right after an import finds nothing to change.
//!
//! What the inventory cannot express is reported as a warning instead of being guessed: an
//! endpoint no subscriber uses, a name the GAM accepted that the inventory's rules refuse, a
//! subscriber whose endpoint is not bound to a port.

use std::collections::BTreeMap;

use crate::device::live::{EndpointBinding, LiveDevice, LivePortMode, LiveSubscriber, ProfileRef};
use crate::model::device::{SnmpSettings, SshSettings};
use crate::model::{
    BandwidthPlan, Description, Device, Endpoint, GamModel, Ident, Located, ManagedBy, Mbps, Plans,
    PortMode, PortNumber, PortSettings, Subscriber, SubscriberStatus, Vlan,
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
    let mut im = Importer {
        live,
        name,
        model,
        warnings: Vec::new(),
    };
    let plans = im.plans();
    let subscribers = im.subscribers();
    let ports = im.ports();
    let device = Device {
        name: Located::bare(name.clone()),
        model: Located::bare(model),
        address: Located::bare(reach.address),
        description: None,
        subscriber_model: Located::bare(live.global.subscriber_model),
        default_nni: model
            .uplink_of_if_index(live.global.default_nni_if_index)
            .map(Located::bare),
        endpoint_auto_fw_upgrade: Some(Located::bare(live.global.endpoint_auto_fw_upgrade)),
        snmp: reach.snmp,
        ssh: reach.ssh,
        driver: None,
        jsonrpc: None,
        ports,
        safety: Default::default(),
        prune: None,
        labels: Default::default(),
    };
    Ok(Imported {
        device,
        plans: Plans(plans),
        subscribers,
        warnings: im.warnings,
    })
}

/// One device's import: what it reads, and the warnings for what it leaves out, in the order
/// found (plans, subscribers, endpoints no subscriber uses, ports).
struct Importer<'a> {
    live: &'a LiveDevice,
    name: &'a Ident,
    model: GamModel,
    warnings: Vec<String>,
}

impl Importer<'_> {
    /// Every custom profile as a plan, used or not (they are the ISP's plans).
    fn plans(&mut self) -> BTreeMap<Ident, BandwidthPlan> {
        let mut plans = BTreeMap::new();
        for p in self.live.profiles.iter().filter(|p| p.id >= 2) {
            let owner = format!("bandwidth profile {} ({:?})", p.id, p.name);
            let Ok(pname) = p.name.parse::<Ident>() else {
                self.warnings.push(format!(
                    "{owner}: its name is not a valid plan name; not imported"
                ));
                continue;
            };
            if pname.as_str() == crate::model::UNTHROTTLED {
                self.warnings.push(format!(
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
                            description: description(&p.description, &owner, &mut self.warnings),
                        },
                    );
                }
                _ => self.warnings.push(format!(
                    "{owner}: rates {}/{} are outside 10..1999 Mbps; not imported",
                    p.down_mbps, p.up_mbps
                )),
            }
        }
        plans
    }

    /// Every subscriber the inventory can express; on an endpoint-aware GAM, a warning for
    /// each endpoint none of them uses.
    fn subscribers(&mut self) -> Vec<Subscriber> {
        let endpoint_aware =
            self.live.global.subscriber_model == crate::model::SubscriberModel::EndpointAware;
        let mut used_endpoints = std::collections::BTreeSet::new();
        let mut subscribers = Vec::new();
        for s in &self.live.subscribers {
            if let Some(sub) = self.subscriber(s, endpoint_aware, &mut used_endpoints) {
                subscribers.push(sub);
            }
        }
        if endpoint_aware {
            for e in self
                .live
                .endpoints
                .iter()
                .filter(|e| !used_endpoints.contains(&e.id))
            {
                self.warnings.push(format!(
                    "endpoint {} ({}) serves no subscriber; the inventory has no place for it, so plans will report it as an orphan",
                    e.id, e.mac
                ));
            }
        }
        subscribers
    }

    /// One subscriber, or `None` (with a warning) when the inventory cannot express it.
    fn subscriber(
        &mut self,
        s: &LiveSubscriber,
        endpoint_aware: bool,
        used_endpoints: &mut std::collections::BTreeSet<u16>,
    ) -> Option<Subscriber> {
        let owner = format!("subscriber {} ({:?})", s.id, s.name);
        let warnings = &mut self.warnings;
        let Ok(id) = s.name.parse::<Ident>() else {
            warnings.push(format!(
                "{owner}: its name is not a valid subscriber id; not imported"
            ));
            return None;
        };
        let (port, endpoint) = if endpoint_aware {
            let Some(e) = s.endpoint_id.and_then(|eid| self.live.endpoint(eid)) else {
                warnings.push(format!("{owner}: it has no endpoint; not imported"));
                return None;
            };
            let EndpointBinding::Port(port) = e.binding else {
                warnings.push(format!(
                    "{owner}: its endpoint {} is not bound to a port; not imported",
                    e.mac
                ));
                return None;
            };
            used_endpoints.insert(e.id);
            let mut ep = Endpoint {
                mac: Located::bare(e.mac),
                name: None,
                description: description(&e.description, &owner, warnings),
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
                return None;
            };
            (port, None)
        };
        let Ok(port) = PortNumber::new(u32::from(port)) else {
            warnings.push(format!(
                "{owner}: port {port} is not a G.hn port; not imported"
            ));
            return None;
        };
        let plan = match s.profile {
            ProfileRef::Unthrottled => crate::model::UNTHROTTLED.to_string(),
            ProfileRef::Id(pid) => match self.live.profile(pid) {
                Some(p) => p.name.clone(),
                None => {
                    warnings.push(format!(
                        "{owner}: its bandwidth profile {pid} does not exist; not imported"
                    ));
                    return None;
                }
            },
        };
        let Ok(plan) = plan.parse::<Ident>() else {
            warnings.push(format!("{owner}: its plan name is not valid; not imported"));
            return None;
        };
        let c_vlan = vlan(s.vlan, "VLAN", &owner, warnings)?;
        let allowed: Vec<Vlan> = s
            .allowed_vlans
            .iter()
            .filter_map(|v| vlan(*v, "allowed VLAN", &owner, warnings).map(Located::into_inner))
            .collect();
        Some(Subscriber {
            id: Located::bare(id),
            name: description(&s.description, &owner, warnings),
            device: Located::bare(self.name.clone()),
            port: Located::bare(port),
            endpoint,
            vlan: c_vlan,
            tagged: s.tagged,
            remapped_vlan: s
                .remapped_vlan
                .and_then(|v| vlan(v, "remapped VLAN", &owner, warnings)),
            allowed_vlans: Located::bare(allowed),
            outer_vlan: s
                .outer_vlan
                .and_then(|v| vlan(v, "outer VLAN", &owner, warnings)),
            nni: s
                .nni_if_index
                .and_then(|i| self.model.uplink_of_if_index(i))
                .map(Located::bare),
            plan: Located::bare(plan),
            status: Located::bare(SubscriberStatus::Active),
            protect: false,
            managed_by: ManagedBy::Manual,
        })
    }

    /// The ports whose settings differ from the factory's (a name, or SISO).
    fn ports(&mut self) -> Vec<PortSettings> {
        self.live
            .ports
            .iter()
            .filter(|p| !p.name.is_empty() || p.mode == LivePortMode::Siso)
            .filter_map(|p| {
                Some(PortSettings {
                    port: Located::bare(PortNumber::new(u32::from(p.port)).ok()?),
                    name: description(&p.name, &format!("port {}", p.port), &mut self.warnings),
                    enabled: true,
                    mode: match p.mode {
                        LivePortMode::Siso => Some(Located::bare(PortMode::Siso)),
                        LivePortMode::Mimo | LivePortMode::Coax => None,
                    },
                })
            })
            .collect()
    }
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
