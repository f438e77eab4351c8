//! Generates a valid inventory for a fleet of simulated GAMs: for the lab, benchmarks and tests.
//!
//! Deterministic: the same sizes give the same files. Every generated file is in canonical form,
//! so `gamops fmt --check` passes on the output.

use std::collections::BTreeMap;
use std::path::Path;

use crate::inventory::canonical::{CanonicalError, render};
use crate::inventory::layout::FileKind;
use crate::model::device::{SnmpSettings, SshSettings};
use crate::model::fleet::Defaults;
use crate::model::{
    BandwidthPlan, Credential, Device, Endpoint, Fleet, GamModel, Ident, Located, Mac, ManagedBy,
    Mbps, Plans, PortNumber, Subscriber, SubscriberModel, SubscriberStatus, Uplink, Vlan,
};

/// What to generate.
#[derive(Clone, Debug)]
pub struct FleetSpec {
    pub devices: usize,
    pub subscribers_per_device: usize,
    /// The first device's SNMP port; device i listens on `base_port + 2i` (SNMP),
    /// `base_port + 2i + 1` (SSH) and `base_port + 2n + i` (JSON-RPC, n devices), all on
    /// 127.0.0.1.
    pub base_port: u16,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("{0} subscribers per device is more than a GAM holds (384)")]
    TooManySubscribers(usize),
    #[error("{devices} devices need ports up to {last}, past 65535; lower --base-port")]
    Ports { devices: usize, last: usize },
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Render(#[from] CanonicalError),
}

/// The four plans of the real GAM-12-C walk (rates 6-8 % above the advertised speed).
pub fn walk_plans() -> Plans {
    // The rates and names below are constants within the GAM's ranges.
    let plan = |down: u32, up: u32, desc: &str| BandwidthPlan {
        down_mbps: Located::bare(Mbps::new(down).expect("constant rate in range")),
        up_mbps: Located::bare(Mbps::new(up).expect("constant rate in range")),
        description: desc.parse().ok().map(Located::bare),
    };
    let mut map = BTreeMap::new();
    for (name, down, up, desc) in [
        ("1G", 1000, 1000, "1G/1G"),
        ("500M", 545, 545, "500M/500M"),
        ("250M", 270, 270, "250M/250M"),
        ("100M", 118, 118, "100M/100M"),
    ] {
        if let Ok(n) = name.parse::<Ident>() {
            map.insert(n, plan(down, up, desc));
        }
    }
    Plans(map)
}

/// Generated names are built from `[a-z0-9-]` and stay under 31 characters.
fn ident(s: &str) -> Located<Ident> {
    Located::bare(s.parse().expect("generated names are valid idents"))
}

/// Picks a model with room for `subs` subscribers, varying by device index.
fn model_for(i: usize, subs: usize) -> GamModel {
    const CHOICES: [GamModel; 4] = [
        GamModel::Gam24C,
        GamModel::Gam12C,
        GamModel::Gam24M,
        GamModel::Gam4Cx,
    ];
    for k in 0..CHOICES.len() {
        let m = CHOICES[(i + k) % CHOICES.len()];
        let capacity = usize::from(m.ghn_ports()) * m.medium().endpoints_per_port();
        if capacity >= subs {
            return m;
        }
    }
    GamModel::Gam24C
}

pub fn device_name(i: usize) -> String {
    format!("gam-{i:04}")
}

/// Writes the fleet described by `spec` into `out` (created if needed).
pub fn write_fleet(spec: &FleetSpec, out: &Path) -> Result<GenSummary, GenError> {
    write_fleet_with(spec, out, crate::model::Driver::Cli)
}

/// [`write_fleet`], with `driver` as the fleet's default driver (`defaults.driver`).
pub fn write_fleet_with(
    spec: &FleetSpec,
    out: &Path,
    driver: crate::model::Driver,
) -> Result<GenSummary, GenError> {
    if spec.subscribers_per_device > 384 {
        return Err(GenError::TooManySubscribers(spec.subscribers_per_device));
    }
    let last = usize::from(spec.base_port) + 3 * spec.devices;
    if last > 65535 {
        return Err(GenError::Ports {
            devices: spec.devices,
            last,
        });
    }
    let write = |rel: String, text: String| -> Result<(), GenError> {
        let path = out.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| GenError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        crate::atomic_write::write(&path, text.as_bytes()).map_err(|source| GenError::Io {
            path: path.display().to_string(),
            source,
        })
    };

    let fleet = Fleet {
        defaults: Defaults {
            snmp: Some(SnmpSettings {
                community: Some(Located::bare(Credential::Env(
                    "GAMOPS_SNMP_COMMUNITY".into(),
                ))),
                ..SnmpSettings::default()
            }),
            ssh: Some(SshSettings {
                username: Some(Located::bare("admin".to_string())),
                password: Some(Located::bare(Credential::Env("GAMOPS_SSH_PASSWORD".into()))),
                ..SshSettings::default()
            }),
            driver: (driver != crate::model::Driver::Cli).then_some(Located::bare(driver)),
            jsonrpc: None,
        },
        ..Fleet::default()
    };
    write("gamops.yaml".into(), render(FileKind::Fleet, &fleet, None)?)?;
    let plans = walk_plans();
    write("plans.yaml".into(), render(FileKind::Plans, &plans, None)?)?;
    let plan_names = ["500M", "250M", "100M", "unthrottled"];

    let mut subscribers = 0;
    for i in 0..spec.devices {
        let name = device_name(i);
        let model = model_for(i, spec.subscribers_per_device);
        let snmp_port = spec.base_port + (2 * i) as u16;
        let device = Device {
            name: ident(&name),
            model: Located::bare(model),
            address: Located::bare("127.0.0.1".to_string()),
            description: None,
            subscriber_model: Located::bare(SubscriberModel::EndpointAware),
            default_nni: Uplink::new(1).map(Located::bare),
            endpoint_auto_fw_upgrade: None,
            snmp: Some(SnmpSettings {
                port: Some(Located::bare(snmp_port)),
                ..SnmpSettings::default()
            }),
            ssh: Some(SshSettings {
                port: Some(Located::bare(snmp_port + 1)),
                ..SshSettings::default()
            }),
            driver: None,
            jsonrpc: Some(crate::model::JsonRpcSettings {
                port: Some(Located::bare(
                    spec.base_port + (2 * spec.devices + i) as u16,
                )),
                ..Default::default()
            }),
            ports: Vec::new(),
            safety: Default::default(),
            prune: None,
            labels: Default::default(),
        };
        write(
            format!("devices/{name}.yaml"),
            render(FileKind::Device, &device, None)?,
        )?;

        let ports = usize::from(model.ghn_ports());
        let q_in_q = i % 2 == 0;
        for j in 0..spec.subscribers_per_device {
            let serial = i * 384 + j;
            let id = format!("sub-{i:04}-{j:03}");
            let mac = Mac([
                0x00,
                0x0e,
                0xd8,
                (serial >> 16) as u8,
                (serial >> 8) as u8,
                serial as u8,
            ]);
            let plan = plan_names[j % plan_names.len()];
            let sub = Subscriber {
                id: ident(&id),
                name: format!("Unit {}", j + 1).parse().ok().map(Located::bare),
                device: ident(&name),
                port: Located::bare(PortNumber::new((j % ports + 1) as u32).expect("1..=ports")),
                endpoint: Some(Endpoint {
                    mac: Located::bare(mac),
                    name: None,
                    description: None,
                }),
                // j < 384, so 100..=483: never a reserved VLAN.
                vlan: Located::bare(Vlan::new(100 + j as u16).expect("100..=483")),
                tagged: j % 7 == 3,
                remapped_vlan: None,
                allowed_vlans: Located::default(),
                outer_vlan: q_in_q
                    .then(|| Vlan::new(100 + (i % 3000) as u16).ok())
                    .flatten()
                    .map(Located::bare),
                nni: None,
                plan: ident(plan),
                status: Located::bare(if j % 50 == 49 {
                    SubscriberStatus::Suspended
                } else {
                    SubscriberStatus::Active
                }),
                protect: false,
                managed_by: ManagedBy::Manual,
            };
            write(
                format!("subscribers/{name}/{id}.yaml"),
                render(FileKind::Subscriber, &sub, None)?,
            )?;
            subscribers += 1;
        }
    }
    Ok(GenSummary {
        devices: spec.devices,
        subscribers,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenSummary {
    pub devices: usize,
    pub subscribers: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    #[test]
    fn generated_fleets_validate() {
        let dir = tempfile::tempdir().unwrap();
        let spec = FleetSpec {
            devices: 5,
            subscribers_per_device: 40,
            base_port: 30000,
        };
        let summary = write_fleet(&spec, dir.path()).unwrap();
        assert_eq!(summary.subscribers, 200);
        let inv = Inventory::load_dir(dir.path()).unwrap();
        let diags = inv.validate();
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(inv.desired.devices.len(), 5);
        assert_eq!(inv.desired.subscribers.len(), 200);
    }

    #[test]
    fn refuses_impossible_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let spec = FleetSpec {
            devices: 1,
            subscribers_per_device: 385,
            base_port: 30000,
        };
        assert!(matches!(
            write_fleet(&spec, dir.path()),
            Err(GenError::TooManySubscribers(385))
        ));
    }
}
