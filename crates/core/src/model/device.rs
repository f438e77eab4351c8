//! `devices/<name>.yaml`: one GAM, how to reach it, and its device-wide settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::fleet::SafetyOverride;
use super::gam::GamModel;
use super::located::Located;
use super::types::{Credential, Description, Ident, PortNumber, Uplink};

/// One GAM.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The device's name; also its hostname and the name of its file and subscriber folder.
    pub name: Located<Ident>,
    /// The hardware model, as printed on the box (GAM-12-C, GAM-24-M, GAM-4-CX, ...).
    pub model: Located<GamModel>,
    /// Management address: an IP address or a host name.
    pub address: Located<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Located<Description>>,
    /// How subscribers attach: to an endpoint (the CPE's MAC, the default) or to a port
    /// (copper models only, firmware 1.4 and later).
    #[serde(default)]
    pub subscriber_model: Located<SubscriberModel>,
    /// The uplink used for Q-in-Q when a subscriber names none; left as the device has it when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_nni: Option<Located<Uplink>>,
    /// Whether the GAM upgrades a CPE's firmware by itself when the CPE connects; left as the
    /// device has it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_auto_fw_upgrade: Option<Located<bool>>,
    /// SNMP settings; fields left out come from `defaults.snmp` in gamops.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<SnmpSettings>,
    /// SSH settings; fields left out come from `defaults.ssh` in gamops.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshSettings>,
    /// How changes reach the device: `cli` (SSH, the default) or `jsonrpc` (the GAM's
    /// JSON-RPC provisioning API); `defaults.driver` in gamops.yaml when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Located<Driver>>,
    /// JSON-RPC settings; fields left out come from `defaults.jsonrpc` in gamops.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonrpc: Option<JsonRpcSettings>,
    /// G.hn port settings; ports not listed keep the device's defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortSettings>,
    /// Overrides of the fleet's safety limits for this device.
    #[serde(default, skip_serializing_if = "SafetyOverride::is_empty")]
    pub safety: SafetyOverride,
    /// Overrides the fleet's `prune` for this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<bool>,
    /// Labels of the device, carried by its alerts for routing notifications: `site: north`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<Ident, String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SubscriberModel {
    #[default]
    EndpointAware,
    PortAware,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnmpVersion {
    #[default]
    V2c,
    V3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthProtocol {
    Md5,
    Sha,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrivProtocol {
    Des,
    Aes,
}

/// SNMP access. v2c needs `community`; v3 needs `user` and the auth/priv settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnmpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Located<SnmpVersion>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Located<u16>>,
    /// v2c read community, as a reference (`env:NAME` or `file:PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<Located<Credential>>,
    /// v3 user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Located<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_protocol: Option<Located<AuthProtocol>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_password: Option<Located<Credential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priv_protocol: Option<Located<PrivProtocol>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priv_password: Option<Located<Credential>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Located<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Located<u8>>,
    /// The most one read of the device may take in all, in seconds (default 60): a device still
    /// answering when it passes is reported as unknown, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_deadline_s: Option<Located<u32>>,
}

/// The first of two optional fields that is set.
fn pick<T: Clone>(first: Option<&Option<T>>, second: Option<&Option<T>>) -> Option<T> {
    first
        .and_then(Option::clone)
        .or_else(|| second.and_then(Option::clone))
}

impl SnmpSettings {
    /// A device's effective settings: each field the device sets wins over `defaults`.
    pub fn merged(device: Option<&SnmpSettings>, defaults: Option<&SnmpSettings>) -> SnmpSettings {
        let (d, f) = (device, defaults);
        SnmpSettings {
            version: pick(d.map(|s| &s.version), f.map(|s| &s.version)),
            port: pick(d.map(|s| &s.port), f.map(|s| &s.port)),
            community: pick(d.map(|s| &s.community), f.map(|s| &s.community)),
            user: pick(d.map(|s| &s.user), f.map(|s| &s.user)),
            auth_protocol: pick(d.map(|s| &s.auth_protocol), f.map(|s| &s.auth_protocol)),
            auth_password: pick(d.map(|s| &s.auth_password), f.map(|s| &s.auth_password)),
            priv_protocol: pick(d.map(|s| &s.priv_protocol), f.map(|s| &s.priv_protocol)),
            priv_password: pick(d.map(|s| &s.priv_password), f.map(|s| &s.priv_password)),
            timeout_ms: pick(d.map(|s| &s.timeout_ms), f.map(|s| &s.timeout_ms)),
            retries: pick(d.map(|s| &s.retries), f.map(|s| &s.retries)),
            read_deadline_s: pick(d.map(|s| &s.read_deadline_s), f.map(|s| &s.read_deadline_s)),
        }
    }
}

impl SshSettings {
    /// A device's effective settings: each field the device sets wins over `defaults`.
    pub fn merged(device: Option<&SshSettings>, defaults: Option<&SshSettings>) -> SshSettings {
        let (d, f) = (device, defaults);
        SshSettings {
            port: pick(d.map(|s| &s.port), f.map(|s| &s.port)),
            username: pick(d.map(|s| &s.username), f.map(|s| &s.username)),
            password: pick(d.map(|s| &s.password), f.map(|s| &s.password)),
            private_key: pick(d.map(|s| &s.private_key), f.map(|s| &s.private_key)),
            host_key: pick(d.map(|s| &s.host_key), f.map(|s| &s.host_key)),
        }
    }
}

/// SSH access to the GAM's CLI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Located<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Located<String>>,
    /// Password, as a reference; an empty string for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Credential>>,
    /// Private key, as a reference (`file:/path/id_ed25519`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<Located<Credential>>,
    /// The device's host key or its fingerprint (`SHA256:...`), pinned at first contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<Located<String>>,
}

/// How changes reach a device. Reading is over SNMP either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// The CLI over SSH.
    #[default]
    Cli,
    /// The JSON-RPC provisioning API (`POST /json_rpc`, HTTP Basic auth).
    Jsonrpc,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Cli => "cli",
            Driver::Jsonrpc => "jsonrpc",
        }
    }
}

/// The GAM's JSON-RPC API (the web UI's server). It logs in with the web UI's users, which are
/// the device's local users, the ones the CLI logs in with: `username` and `password` default to
/// the SSH settings' (a private key cannot log in over HTTP Basic auth).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonRpcSettings {
    /// TCP port (default 80, or 443 with `tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Located<u16>>,
    /// HTTPS (off by default, as on the GAM). The device's certificate is self-signed, so it
    /// must be pinned with `certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Located<bool>>,
    /// The SHA-256 fingerprint of the device's TLS certificate (`SHA256:` and the base64 of the
    /// DER certificate's digest, as `openssl x509 -fingerprint -sha256` shows in hex; hex with
    /// colons is accepted too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<Located<String>>,
    /// Web user; default: `ssh.username`, else `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Located<String>>,
    /// Web password, as a reference; default: `ssh.password`, else empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Credential>>,
    /// How long one call may take, in seconds (default 45: the device's own calls are slow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<Located<u32>>,
}

impl JsonRpcSettings {
    /// A device's effective settings: each field the device sets wins over `defaults`.
    pub fn merged(
        device: Option<&JsonRpcSettings>,
        defaults: Option<&JsonRpcSettings>,
    ) -> JsonRpcSettings {
        let (d, f) = (device, defaults);
        JsonRpcSettings {
            port: pick(d.map(|s| &s.port), f.map(|s| &s.port)),
            tls: pick(d.map(|s| &s.tls), f.map(|s| &s.tls)),
            certificate: pick(d.map(|s| &s.certificate), f.map(|s| &s.certificate)),
            username: pick(d.map(|s| &s.username), f.map(|s| &s.username)),
            password: pick(d.map(|s| &s.password), f.map(|s| &s.password)),
            timeout_s: pick(d.map(|s| &s.timeout_s), f.map(|s| &s.timeout_s)),
        }
    }
}

/// A certificate fingerprint as written in `jsonrpc.certificate`: `SHA256:` and base64 (with or
/// without padding), or 32 bytes in hex (colons allowed). The 32 bytes, or None.
pub fn parse_certificate_fingerprint(text: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let text = text.trim();
    let bytes = if let Some(b64) = text.strip_prefix("SHA256:") {
        let b64 = b64.trim_end_matches('=');
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .ok()?
    } else {
        let hex: String = text.chars().filter(|c| *c != ':').collect();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    };
    bytes.try_into().ok()
}

/// G.hn port mode on copper models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    Mimo,
    Siso,
}

/// One G.hn port's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortSettings {
    pub port: Located<PortNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Located<Description>>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// `mimo` or `siso`; copper (M) models only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Located<PortMode>>,
}

fn enabled() -> bool {
    true
}
