//! `gamops import`: write a live device's state as inventory YAML.

use std::path::{Path, PathBuf};

use crate::device::live::Observation;
use crate::device::snmp;
use crate::inventory::Inventory;
use crate::inventory::canonical::render;
use crate::inventory::layout::FileKind;
use crate::model::device::{SnmpSettings, SnmpVersion};
use crate::model::{Credential, Fleet, Ident, Located, Plans};
use crate::plan::import::{Imported, Reach, import_device};
use crate::secret::Secret;

use super::CommandError;

/// Read a GAM over SNMP and write its state as inventory YAML (device, plans, subscribers).
///
/// Planning right after an import finds no changes. Either name one device by address, or
/// import every device an inventory already lists. Secrets are never written: the device file
/// refers to them (`env:NAME`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops import --address 10.20.0.5 --community env:GAM_COMMUNITY --name bldg-12-gam1 --out inventory
  gamops import --address 127.0.0.1:16101 --community public --name lab1 --out /tmp/inv
  gamops import --inventory inventory     # refresh the subscribers of every listed device")]
pub struct Args {
    /// The device to read, HOST or HOST:PORT (SNMP port, default 161).
    #[arg(long, requires = "name", conflicts_with = "inventory")]
    pub address: Option<String>,
    /// Its name in the inventory (and hostname).
    #[arg(long)]
    pub name: Option<String>,
    /// SNMPv2c community: a reference (env:NAME, file:PATH) or the community itself (used to
    /// read only; the device file then refers to env:GAMOPS_SNMP_COMMUNITY).
    #[arg(long)]
    pub community: Option<String>,
    /// SNMPv3 user (with --auth-password and --priv-password; SHA and AES).
    #[arg(long)]
    pub user: Option<String>,
    /// SNMPv3 authentication password, as a reference (env:NAME or file:PATH).
    #[arg(long)]
    pub auth_password: Option<String>,
    /// SNMPv3 privacy password, as a reference (env:NAME or file:PATH).
    #[arg(long)]
    pub priv_password: Option<String>,
    /// The inventory folder to write into (created when missing).
    #[arg(long, default_value = "inventory")]
    pub out: PathBuf,
    /// Import every device this inventory lists (reading each as the inventory says).
    #[arg(long)]
    pub inventory: Option<PathBuf>,
}

fn credential(flag: &str, value: &str) -> Result<Credential, CommandError> {
    value
        .parse::<Credential>()
        .map_err(|e| CommandError::user(format!("{flag}: {e}")).hint(e.hint))
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let runtime = super::runtime()?;
    let jobs: Vec<(Ident, String, SnmpSettings, Option<SnmpSettings>)> =
        match (&args.inventory, &args.address) {
            (Some(dir), _) => {
                let inv = Inventory::load_dir(dir)?;
                let fleet = inv.desired.fleet();
                inv.desired
                    .devices
                    .iter()
                    .map(|d| {
                        let read =
                            snmp::target::merge(d.snmp.as_ref(), fleet.defaults.snmp.as_ref());
                        (
                            (*d.name).clone(),
                            d.address.to_string(),
                            read,
                            d.snmp.clone(),
                        )
                    })
                    .collect()
            }
            (None, Some(address)) => {
                let name = args.name.as_deref().unwrap_or_default();
                let name: Ident = name.parse().map_err(|e: crate::model::ValueError| {
                    CommandError::user(format!("--name: {e}")).hint(e.hint)
                })?;
                let (host, port) = split_port(address)?;
                let (read, written) = settings_from_flags(&args, port)?;
                vec![(name, host, read, Some(written))]
            }
            (None, None) => {
                return Err(CommandError::user(
                    "name a device with --address and --name, or an inventory with --inventory",
                ));
            }
        };
    let out = args.inventory.clone().unwrap_or(args.out.clone());
    let literal_community = match (&args.address, &args.user, &args.community) {
        (Some(_), None, Some(c)) if c.parse::<Credential>().is_ok_and(|c| c.is_literal()) => {
            Some(c.clone())
        }
        (Some(_), None, None) => Some("public".to_string()),
        _ => None,
    };
    let mut failures = 0;
    for (name, host, read, written) in jobs {
        let observation = runtime.block_on(async {
            let target = match &literal_community {
                // A community typed on the command line is used to read, never written.
                Some(c) => literal_target(&host, &read, c).await,
                None => snmp::target::target(&host, &read)
                    .await
                    .map_err(|e| e.to_string()),
            };
            match target {
                Ok(t) => snmp::observe(&t).await,
                Err(reason) => Observation::Unknown { reason },
            }
        });
        let live = match observation {
            Observation::Live(l) => l,
            Observation::Unknown { reason } => {
                eprintln!("{name}: could not be read: {reason}");
                failures += 1;
                continue;
            }
        };
        let imported = import_device(
            &name,
            &live,
            Reach {
                address: host.clone(),
                snmp: written,
                ssh: None,
            },
        )
        .map_err(|e| CommandError::user(format!("{name}: {e}")))?;
        for w in &imported.warnings {
            eprintln!("{name}: warning: {w}");
        }
        write_imported(&out, &imported)?;
        println!(
            "{name}: wrote devices/{name}.yaml and {} subscriber(s); {} plan(s) in plans.yaml",
            imported.subscribers.len(),
            imported.plans.len()
        );
    }
    if failures > 0 {
        return Err(CommandError::new(
            super::ErrorKind::Device,
            format!("{failures} device(s) could not be read"),
        )
        .hint("check the address, the SNMP settings and that the device answers (`snmpget`)"));
    }
    Ok(0)
}

/// A v2c target for a community given on the command line.
async fn literal_target(
    host: &str,
    settings: &SnmpSettings,
    community: &str,
) -> Result<snmp::SnmpTarget, String> {
    let port = settings.port.as_ref().map_or(161, |p| p.value);
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve address {host:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve address {host:?}"))?;
    Ok(snmp::SnmpTarget::new(
        addr,
        snmp::Security::V2c {
            community: Secret::new(community),
        },
    ))
}

fn split_port(address: &str) -> Result<(String, Option<u16>), CommandError> {
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port.parse::<u16>().map_err(|_| {
                CommandError::user(format!("--address: {port:?} is not a port number"))
            })?;
            Ok((host.to_string(), Some(port)))
        }
        _ => Ok((address.to_string(), None)),
    }
}

/// The settings used to read, and the ones written to the device file (references only).
fn settings_from_flags(
    args: &Args,
    port: Option<u16>,
) -> Result<(SnmpSettings, SnmpSettings), CommandError> {
    let mut read = SnmpSettings {
        port: port.map(Located::bare),
        ..SnmpSettings::default()
    };
    let mut written = read.clone();
    if let Some(user) = &args.user {
        let auth = args
            .auth_password
            .as_deref()
            .ok_or_else(|| CommandError::user("--user needs --auth-password"))?;
        let auth = credential("--auth-password", auth)?;
        if auth.is_literal() {
            return Err(CommandError::user("--auth-password takes a reference")
                .hint("pass env:NAME or file:PATH, so the device file can refer to it"));
        }
        let private = match &args.priv_password {
            Some(p) => Some(credential("--priv-password", p)?),
            None => None,
        };
        if private.as_ref().is_some_and(Credential::is_literal) {
            return Err(CommandError::user("--priv-password takes a reference")
                .hint("pass env:NAME or file:PATH"));
        }
        read.version = Some(Located::bare(SnmpVersion::V3));
        read.user = Some(Located::bare(user.clone()));
        read.auth_password = Some(Located::bare(auth));
        read.priv_password = private.map(Located::bare);
        written = read.clone();
    } else {
        let community = credential("--community", args.community.as_deref().unwrap_or("public"))?;
        if community.is_literal() {
            written.community = Some(Located::bare(Credential::Env(
                "GAMOPS_SNMP_COMMUNITY".to_string(),
            )));
            eprintln!(
                "note: the device file refers to env:GAMOPS_SNMP_COMMUNITY for the community"
            );
        } else {
            read.community = Some(Located::bare(community.clone()));
            written.community = Some(Located::bare(community));
        }
    }
    Ok((read, written))
}

/// Writes the device file, the subscribers, and adds the device's plans to plans.yaml (keeping
/// the plans already there). Writes gamops.yaml with defaults when the folder has none.
fn write_imported(out: &Path, imp: &Imported) -> Result<(), CommandError> {
    let write = |rel: String, text: String| super::write_atomically(&out.join(rel), &text);

    if !out.join("gamops.yaml").exists() {
        write(
            "gamops.yaml".into(),
            yaml(FileKind::Fleet, &Fleet::default())?,
        )?;
    }
    let plans_path = out.join("plans.yaml");
    let mut plans = match std::fs::read(&plans_path) {
        Ok(bytes) => {
            match crate::inventory::parse::parse(FileKind::Plans, crate::model::SourceId(0), &bytes)
            {
                Ok(crate::inventory::parse::Parsed::Plans(p)) => p,
                _ => {
                    return Err(CommandError::user(format!(
                        "{} does not parse; not touching it",
                        plans_path.display()
                    ))
                    .hint("run `gamops validate` and fix it first"));
                }
            }
        }
        Err(_) => Plans::default(),
    };
    for (name, plan) in imp.plans.iter() {
        match plans.0.get(name) {
            Some(existing)
                if existing.down_mbps != plan.down_mbps || existing.up_mbps != plan.up_mbps =>
            {
                eprintln!(
                    "warning: plan {name} differs on the device; plans.yaml keeps its own rates"
                );
            }
            Some(_) => {}
            None => {
                plans.0.insert(name.clone(), plan.clone());
            }
        }
    }
    write("plans.yaml".into(), yaml(FileKind::Plans, &plans)?)?;
    let name = imp.device.name.as_str();
    write(
        format!("devices/{name}.yaml"),
        yaml(FileKind::Device, &imp.device)?,
    )?;
    for s in &imp.subscribers {
        write(
            format!("subscribers/{name}/{}.yaml", s.id),
            yaml(FileKind::Subscriber, s)?,
        )?;
    }
    Ok(())
}

/// A document in canonical form.
fn yaml<T: serde::Serialize>(kind: FileKind, value: &T) -> Result<String, CommandError> {
    render(kind, value, None).map_err(|e| CommandError::internal(e.to_string()))
}
