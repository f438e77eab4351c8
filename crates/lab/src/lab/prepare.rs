//! Which devices a lab serves, and how: from an inventory (each device at the loopback address
//! and ports its YAML names, with its credentials), generated (through [`crate::lab::fleetgen`]),
//! or one device from a recorded walk.
//!
//! Credentials come from the inventory when its references resolve (the environment variable is
//! set, the file exists); otherwise the GAM's factory defaults apply: SSH user `admin` with an
//! empty password, SNMP communities `public` (read) and `private` (write), and the lab's SNMPv3
//! user `gamops`. Each fallback is reported as a note so the user knows what to type.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::device::snmp::target::{Security, merge, security};
use crate::lab::device::DeviceState;
use crate::lab::mib::state_from_walk;
use crate::lab::runtime::DeviceConfig;
use crate::lab::seed::{Seed, SeedError, converged_state, random_state};
use crate::lab::snmp::{AuthProtocol, PrivProtocol, SnmpAgentConfig, SnmpV3User, snmprec};
use crate::lab::ssh::{DEFAULT_USER, HostKey, SshError, SshUser};
use crate::model::device::{self as model_device, SshSettings};
use crate::model::{Desired, Device, Fleet};
use crate::secret::resolve;

/// The devices could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DevicesError {
    /// The lab serves on loopback only.
    #[error(
        "device {device}: address {address:?} is not a loopback address; the lab serves on 127.0.0.1 (or ::1) only"
    )]
    NotLoopback { device: String, address: String },
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("cannot make an SSH host key: {0}")]
    HostKey(#[from] SshError),
    #[error("the walk is not valid: {0}")]
    Walk(String),
}

/// The devices to serve, and notes for the user (credential fallbacks and the like).
#[derive(Debug)]
pub struct Prepared {
    pub devices: Vec<DeviceConfig>,
    pub notes: Vec<String>,
}

/// The loopback address a device's `address` names.
pub fn loopback_address(device: &Device) -> Result<IpAddr, DevicesError> {
    let text = device.address.value.trim();
    let ip = if text.eq_ignore_ascii_case("localhost") {
        Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        text.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok()
    };
    match ip {
        Some(ip) if ip.is_loopback() => Ok(ip),
        _ => Err(DevicesError::NotLoopback {
            device: device.name.as_str().to_string(),
            address: text.to_string(),
        }),
    }
}

/// Applies the inventory's credentials for `device` to `cfg`, noting each fallback to the
/// factory defaults.
fn apply_credentials(
    cfg: &mut DeviceConfig,
    device: &Device,
    fleet: &Fleet,
    notes: &mut Vec<String>,
) {
    let name = device.name.as_str();
    let snmp = merge(device.snmp.as_ref(), fleet.defaults.snmp.as_ref());
    match security(&snmp) {
        Ok(Security::V2c { community }) => {
            cfg.communities = vec![community.expose().to_string()];
        }
        Ok(Security::V3 {
            user,
            auth_protocol,
            auth_password,
            privacy,
        }) => {
            cfg.snmp_users = vec![SnmpV3User {
                name: user,
                auth_protocol: match auth_protocol {
                    model_device::AuthProtocol::Md5 => AuthProtocol::Md5,
                    model_device::AuthProtocol::Sha => AuthProtocol::Sha1,
                },
                auth_password: auth_password.expose().to_string(),
                privacy: privacy.map(|(p, s)| {
                    let p = match p {
                        model_device::PrivProtocol::Des => PrivProtocol::Des,
                        model_device::PrivProtocol::Aes => PrivProtocol::Aes128,
                    };
                    (p, s.expose().to_string())
                }),
            }];
        }
        Err(e) => notes.push(format!(
            "{name}: {e}; serving SNMP with the factory communities public and private (and the lab v3 user gamops, SHA authpass123, AES privpass123)"
        )),
    }
    let ssh = SshSettings::merged(device.ssh.as_ref(), fleet.defaults.ssh.as_ref());
    let user = ssh
        .username
        .as_ref()
        .map_or_else(|| DEFAULT_USER.to_string(), |u| u.value.clone());
    let password = match &ssh.password {
        None => String::new(),
        Some(p) => match resolve(&p.value) {
            Ok(s) => s.expose().to_string(),
            Err(e) => {
                notes.push(format!(
                    "{name}: SSH password: {e}; user {user} logs in with an empty password"
                ));
                String::new()
            }
        },
    };
    let mut ssh_user = SshUser::with_password(user, password);
    if let Some(key) = &ssh.private_key
        && let Ok(secret) = resolve(&key.value)
        && let Ok(k) = russh::keys::PrivateKey::from_openssh(secret.expose())
    {
        ssh_user = ssh_user.and_key(k.public_key().clone());
    }
    cfg.ssh_users = vec![ssh_user];
}

/// Every device of `desired`, seeded with `seed`, at its loopback address and ports (a port the
/// inventory leaves out is picked free).
pub fn from_inventory(desired: &Desired, seed: Seed) -> Result<Prepared, DevicesError> {
    let fleet = desired.fleet();
    let mut notes = Vec::new();
    let mut devices = Vec::with_capacity(desired.devices.len());
    for device in &desired.devices {
        let name = device.name.as_str();
        let ip = loopback_address(device)?;
        let model = *device.model;
        let state = match seed {
            Seed::Empty => DeviceState::factory(model, name),
            Seed::Random { rng_seed } => random_state(model, name, rng_seed),
            Seed::Converged => converged_state(desired, name, 0)?,
        };
        let snmp = merge(device.snmp.as_ref(), fleet.defaults.snmp.as_ref());
        let ssh = SshSettings::merged(device.ssh.as_ref(), fleet.defaults.ssh.as_ref());
        let mut cfg = DeviceConfig::factory(name, state, HostKey::generate()?);
        cfg.snmp_bind = SocketAddr::new(ip, snmp.port.map_or(0, |p| p.value));
        cfg.ssh_bind = SocketAddr::new(ip, ssh.port.map_or(0, |p| p.value));
        let jsonrpc = crate::model::JsonRpcSettings::merged(
            device.jsonrpc.as_ref(),
            fleet.defaults.jsonrpc.as_ref(),
        );
        // The lab serves plain HTTP: a device set to HTTPS gets a free port instead.
        let tls = jsonrpc.tls.as_ref().is_some_and(|t| t.value);
        cfg.jsonrpc_bind =
            SocketAddr::new(ip, jsonrpc.port.filter(|_| !tls).map_or(0, |p| p.value));
        apply_credentials(&mut cfg, device, &fleet, &mut notes);
        devices.push(cfg);
    }
    Ok(Prepared { devices, notes })
}

/// One device from a recorded walk (`.snmprec`): its state rebuilt from the walk, serving the
/// walk's other OIDs unchanged, with factory credentials.
pub fn from_walk(text: &str, snmp_port: u16, ssh_port: u16) -> Result<DeviceConfig, DevicesError> {
    let entries = snmprec::parse(text).map_err(|e| DevicesError::Walk(e.to_string()))?;
    let state = state_from_walk(&entries).map_err(|e| DevicesError::Walk(e.to_string()))?;
    let name = state.hostname().to_string();
    let mut cfg = DeviceConfig::factory(name, state, HostKey::generate()?);
    let ip = SnmpAgentConfig::default().bind.ip();
    cfg.snmp_bind = SocketAddr::new(ip, snmp_port);
    cfg.ssh_bind = SocketAddr::new(ip, ssh_port);
    cfg.uptime = crate::lab::mib::walk_uptime(&entries).unwrap_or_default();
    cfg.extra_oids = entries;
    Ok(cfg)
}

/// A generated fleet (`gamops lab up --devices N`): written to a scratch folder, read back and
/// its devices prepared; with `any_port`, each device listens on a free port instead of the
/// spec's. Returns them with the fleet's desired state (to fit billing customers to).
pub fn generated(
    spec: &crate::lab::fleetgen::FleetSpec,
    seed: Seed,
    any_port: bool,
) -> Result<(Prepared, Desired), String> {
    let scratch = tempfile::Builder::new()
        .prefix("gamops-lab-")
        .tempdir()
        .map_err(|e| format!("cannot make a scratch folder: {e}"))?;
    crate::lab::fleetgen::write_fleet(spec, scratch.path()).map_err(|e| e.to_string())?;
    let inv = crate::inventory::Inventory::load_dir(scratch.path()).map_err(|e| e.to_string())?;
    if let Some(d) = inv.validate().into_iter().find(|d| d.is_error()) {
        return Err(format!(
            "the generated inventory is not valid (a bug): {}",
            d.message
        ));
    }
    let mut prepared = from_inventory(&inv.desired, seed).map_err(|e| e.to_string())?;
    if any_port {
        for d in &mut prepared.devices {
            d.snmp_bind.set_port(0);
            d.ssh_bind.set_port(0);
            d.jsonrpc_bind.set_port(0);
        }
    }
    // Generated inventories name env: references nobody has set: say it once, not per device.
    let fallbacks = prepared.notes.len();
    prepared.notes.clear();
    if fallbacks > 0 {
        prepared.notes.push(
            "credentials: the GAM's factory defaults (ssh admin with an empty password, snmp communities public/private)"
                .to_string(),
        );
    }
    Ok((prepared, inv.desired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Located;

    #[test]
    fn loopback_only() {
        let text = "name: far\nmodel: GAM-12-C\naddress: 10.0.0.5\n";
        let mut dev: Device = serde_saphyr::from_str(text).unwrap();
        let err = loopback_address(&dev).unwrap_err().to_string();
        assert!(
            err.contains("device far") && err.contains("10.0.0.5"),
            "{err}"
        );
        for ok in ["127.0.0.1", "127.0.0.2", "::1", "localhost"] {
            dev.address = Located::bare(ok.to_string());
            assert!(loopback_address(&dev).unwrap().is_loopback(), "{ok}");
        }
    }
}
