//! A lab fleet ready to manage: a generated inventory whose device files point at lab devices
//! on free loopback ports, with their SSH host keys pinned. Tests, benchmarks and walkthroughs
//! start one in a line instead of repeating the set-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::inventory::Inventory;
use crate::model::Located;

use super::fleetgen::{FleetSpec, write_fleet_with};
use super::prepare::from_inventory;
use super::runtime::{Lab, LabOptions};
use super::seed::Seed;

/// The fleet generator's first port: only written, then replaced by the lab's own.
const GENERATED_BASE_PORT: u16 = 20000;

/// What to serve.
#[derive(Clone, Debug)]
pub struct TestbedSpec {
    pub devices: usize,
    pub subscribers_per_device: usize,
    /// Every subscriber `active` (the generator suspends some).
    pub all_active: bool,
    /// What the devices hold at start.
    pub seed: Seed,
    /// The SNMP timeout and retries written into the device files.
    pub snmp_timeout_ms: u32,
    pub snmp_retries: u32,
    pub options: LabOptions,
    /// The fleet's driver (`defaults.driver`).
    pub driver: crate::model::Driver,
}

impl Default for TestbedSpec {
    fn default() -> Self {
        TestbedSpec {
            devices: 2,
            subscribers_per_device: 3,
            all_active: true,
            seed: Seed::Empty,
            snmp_timeout_ms: 1000,
            snmp_retries: 1,
            options: LabOptions::default(),
            driver: crate::model::Driver::Cli,
        }
    }
}

/// A running lab and the inventory folder that points at it.
pub struct Testbed {
    pub lab: Arc<Lab>,
    /// The inventory folder (`gamops.yaml`, `devices/`, `subscribers/`).
    pub dir: PathBuf,
}

/// Why a testbed could not be made.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TestbedError(String);

fn fail(e: impl std::fmt::Display) -> TestbedError {
    TestbedError(e.to_string())
}

impl Testbed {
    /// Writes the fleet into `dir` (the inventory folder), starts its devices, and points the
    /// device files at them.
    pub async fn start(spec: &TestbedSpec, dir: &Path) -> Result<Testbed, TestbedError> {
        write_fleet_with(
            &FleetSpec {
                devices: spec.devices,
                subscribers_per_device: spec.subscribers_per_device,
                base_port: GENERATED_BASE_PORT,
            },
            dir,
            spec.driver,
        )
        .map_err(fail)?;
        if spec.all_active {
            for entry in walkdir::WalkDir::new(dir.join("subscribers")) {
                let path = entry.map_err(fail)?.into_path();
                if path.is_file() {
                    let text = std::fs::read_to_string(&path).map_err(fail)?;
                    std::fs::write(&path, text.replace("status: suspended", "status: active"))
                        .map_err(fail)?;
                }
            }
        }
        let mut desired = Inventory::load_dir(dir).map_err(fail)?.desired;
        for dev in &mut desired.devices {
            for port in [
                dev.value.snmp.as_mut().map(|s| &mut s.port),
                dev.value.ssh.as_mut().map(|s| &mut s.port),
                dev.value.jsonrpc.as_mut().map(|s| &mut s.port),
            ]
            .into_iter()
            .flatten()
            {
                *port = Some(Located::bare(0));
            }
        }
        let prepared = from_inventory(&desired, spec.seed).map_err(fail)?;
        let lab = Lab::start(prepared.devices, spec.options.clone())
            .await
            .map_err(fail)?;
        for (i, d) in lab.devices().iter().enumerate() {
            let snmp = GENERATED_BASE_PORT + 2 * u16::try_from(i).map_err(fail)?;
            let path = dir.join(format!("devices/{}.yaml", d.name()));
            let written = std::fs::read_to_string(&path).map_err(fail)?;
            let generated = format!("snmp:\n  port: {snmp}\nssh:\n  port: {}\n", snmp + 1);
            if !written.contains(&generated) {
                return Err(TestbedError(format!(
                    "{} does not hold the generated ports",
                    path.display()
                )));
            }
            let text = written.replace(
                &generated,
                &format!(
                    "snmp:\n  port: {}\n  timeout_ms: {}\n  retries: {}\nssh:\n  port: {}\n  host_key: {}\n",
                    d.snmp_addr().port(),
                    spec.snmp_timeout_ms,
                    spec.snmp_retries,
                    d.ssh_addr().port(),
                    d.host_key().fingerprint_sha256()
                ),
            );
            let n = u16::try_from(lab.devices().len()).map_err(fail)?;
            let jsonrpc = GENERATED_BASE_PORT + 2 * n + u16::try_from(i).map_err(fail)?;
            let generated = format!("jsonrpc:\n  port: {jsonrpc}\n");
            if !text.contains(&generated) {
                return Err(TestbedError(format!(
                    "{} does not hold the generated JSON-RPC port",
                    path.display()
                )));
            }
            let text = text.replace(
                &generated,
                &format!("jsonrpc:\n  port: {}\n", d.jsonrpc_addr().port()),
            );
            std::fs::write(&path, text).map_err(fail)?;
        }
        Ok(Testbed {
            lab,
            dir: dir.to_path_buf(),
        })
    }
}
