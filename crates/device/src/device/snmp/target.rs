//! Where and how to read one device: [`SnmpTarget`], and building it from the inventory (a
//! device's `snmp` settings over `defaults.snmp` in gamops.yaml, field by field, with the
//! credential references resolved).

use std::net::SocketAddr;
use std::time::Duration;

use crate::model::device::{AuthProtocol, PrivProtocol, SnmpVersion};
use crate::model::{Credential, Located, SnmpSettings};
use crate::secret::{CredentialError, Secret, resolve};

/// The SNMP port when none is set.
pub const DEFAULT_PORT: u16 = 161;
/// How long to wait for each answer when no `timeout_ms` is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(2000);
/// The most one read of a device takes in all when no `read_deadline_s` is set: however its
/// agent trickles answers, a read ends by then (the device is then unknown).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// How many times to re-send an unanswered request when no `retries` is set.
pub const DEFAULT_RETRIES: u32 = 2;
/// GETBULK max-repetitions per column (net-snmp's `snmpbulkwalk` uses 10 too). Answers larger
/// than the agent's message size are truncated by the agent, which the walk copes with.
pub const DEFAULT_MAX_REPETITIONS: u32 = 10;

/// How to authenticate to the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// SNMPv2c with a read community.
    V2c { community: Secret },
    /// SNMPv3 USM: authNoPriv when `privacy` is `None`, else authPriv.
    V3 {
        user: String,
        auth_protocol: AuthProtocol,
        auth_password: Secret,
        privacy: Option<(PrivProtocol, Secret)>,
    },
}

/// One device to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnmpTarget {
    pub addr: SocketAddr,
    pub security: Security,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// How many times an unanswered request is sent again (so `retries + 1` tries in all).
    pub retries: u32,
    /// GETBULK max-repetitions (per column asked for).
    pub max_repetitions: u32,
    /// The most one whole read of the device may take.
    pub deadline: Duration,
}

impl SnmpTarget {
    /// A target with the default timeout, retries and repetitions.
    pub fn new(addr: SocketAddr, security: Security) -> Self {
        SnmpTarget {
            addr,
            security,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            max_repetitions: DEFAULT_MAX_REPETITIONS,
            deadline: DEFAULT_DEADLINE,
        }
    }
}

/// Why a device's SNMP settings do not make a target. Never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("SNMP v2c needs a community (set snmp.community on the device or in defaults.snmp)")]
    NoCommunity,
    #[error("SNMP v3 needs a user (set snmp.user on the device or in defaults.snmp)")]
    NoUser,
    #[error("SNMP v3 needs an auth_password (gamops reads with authNoPriv or authPriv)")]
    NoAuthPassword,
    #[error("snmp.priv_protocol is set but snmp.priv_password is not")]
    NoPrivPassword,
    #[error("SNMP {field}: {source}")]
    Credential {
        field: &'static str,
        #[source]
        source: CredentialError,
    },
    #[error("SNMP v3 {field} must be at least 8 characters (RFC 3414)")]
    ShortPassword { field: &'static str },
    #[error("cannot resolve address {address:?}: {reason}")]
    Address { address: String, reason: String },
}

/// A device's effective settings: each field the device sets wins over `defaults`.
pub fn merge(device: Option<&SnmpSettings>, defaults: Option<&SnmpSettings>) -> SnmpSettings {
    SnmpSettings::merged(device, defaults)
}

fn secret(field: &'static str, cred: &Located<Credential>) -> Result<Secret, TargetError> {
    resolve(&cred.value).map_err(|source| TargetError::Credential { field, source })
}

/// The security of effective settings, with credentials resolved. v3 defaults to SHA, and to
/// AES when a privacy password is given without a protocol.
pub fn security(settings: &SnmpSettings) -> Result<Security, TargetError> {
    let version = settings
        .version
        .as_ref()
        .map(|v| v.value)
        .unwrap_or_default();
    match version {
        SnmpVersion::V2c => {
            let community = settings
                .community
                .as_ref()
                .ok_or(TargetError::NoCommunity)?;
            let community = secret("community", community)?;
            if community.is_empty() {
                return Err(TargetError::NoCommunity);
            }
            Ok(Security::V2c { community })
        }
        SnmpVersion::V3 => {
            let user = settings.user.as_ref().ok_or(TargetError::NoUser)?;
            if user.value.is_empty() {
                return Err(TargetError::NoUser);
            }
            let auth_password = settings
                .auth_password
                .as_ref()
                .ok_or(TargetError::NoAuthPassword)?;
            let auth_password = secret("auth_password", auth_password)?;
            if auth_password.expose().len() < 8 {
                return Err(TargetError::ShortPassword {
                    field: "auth_password",
                });
            }
            let privacy = match (&settings.priv_protocol, &settings.priv_password) {
                (_, Some(pw)) => {
                    let pw = secret("priv_password", pw)?;
                    if pw.expose().len() < 8 {
                        return Err(TargetError::ShortPassword {
                            field: "priv_password",
                        });
                    }
                    let protocol = settings
                        .priv_protocol
                        .as_ref()
                        .map_or(PrivProtocol::Aes, |p| p.value);
                    Some((protocol, pw))
                }
                (Some(_), None) => return Err(TargetError::NoPrivPassword),
                (None, None) => None,
            };
            Ok(Security::V3 {
                user: user.value.clone(),
                auth_protocol: settings
                    .auth_protocol
                    .as_ref()
                    .map_or(AuthProtocol::Sha, |p| p.value),
                auth_password,
                privacy,
            })
        }
    }
}

/// A target for the device at `address` (an IP address or a host name) with effective
/// `settings`: port 161, timeout 2000 ms and 2 retries unless set.
pub async fn target(address: &str, settings: &SnmpSettings) -> Result<SnmpTarget, TargetError> {
    let security = security(settings)?;
    let port = settings.port.as_ref().map_or(DEFAULT_PORT, |p| p.value);
    let addr = match address.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => tokio::net::lookup_host((address, port))
            .await
            .map_err(|e| TargetError::Address {
                address: address.to_string(),
                reason: e.to_string(),
            })?
            .next()
            .ok_or_else(|| TargetError::Address {
                address: address.to_string(),
                reason: "no address found".to_string(),
            })?,
    };
    Ok(SnmpTarget {
        addr,
        security,
        timeout: settings.timeout_ms.as_ref().map_or(DEFAULT_TIMEOUT, |t| {
            Duration::from_millis(u64::from(t.value))
        }),
        retries: settings
            .retries
            .as_ref()
            .map_or(DEFAULT_RETRIES, |r| u32::from(r.value)),
        max_repetitions: DEFAULT_MAX_REPETITIONS,
        deadline: settings
            .read_deadline_s
            .as_ref()
            .map_or(DEFAULT_DEADLINE, |s| {
                Duration::from_secs(u64::from(s.value.max(1)))
            }),
    })
}

/// The SNMP targets of the devices `names` in `desired` (a name it does not hold is skipped),
/// and the devices whose target cannot be made, with why: what every fleet read (the
/// configuration read, the status read) starts from.
pub async fn of_fleet(
    desired: &crate::model::Desired,
    names: &[String],
) -> (Vec<(String, SnmpTarget)>, Vec<(String, String)>) {
    let fleet = desired.fleet();
    let mut targets = Vec::new();
    let mut failed = Vec::new();
    for name in names {
        let Some(dev) = desired.device(name) else {
            continue;
        };
        let settings = merge(dev.snmp.as_ref(), fleet.defaults.snmp.as_ref());
        match target(&dev.address, &settings).await {
            Ok(t) => targets.push((name.clone(), t)),
            Err(e) => failed.push((name.clone(), e.to_string())),
        }
    }
    (targets, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(text: &str) -> Option<Located<Credential>> {
        Some(Located::bare(text.parse().unwrap()))
    }

    #[test]
    fn device_fields_override_defaults_one_by_one() {
        let defaults = SnmpSettings {
            version: Some(Located::bare(SnmpVersion::V3)),
            user: Some(Located::bare("gamops".into())),
            timeout_ms: Some(Located::bare(5000)),
            retries: Some(Located::bare(4)),
            ..SnmpSettings::default()
        };
        let device = SnmpSettings {
            retries: Some(Located::bare(1)),
            port: Some(Located::bare(1161)),
            ..SnmpSettings::default()
        };
        let merged = merge(Some(&device), Some(&defaults));
        assert_eq!(merged.version.map(|v| v.value), Some(SnmpVersion::V3));
        assert_eq!(merged.user.map(|v| v.value).as_deref(), Some("gamops"));
        assert_eq!(merged.timeout_ms.map(|v| v.value), Some(5000));
        assert_eq!(merged.retries.map(|v| v.value), Some(1));
        assert_eq!(merged.port.map(|v| v.value), Some(1161));
        assert_eq!(merge(None, None), SnmpSettings::default());
    }

    #[tokio::test]
    async fn defaults_are_port_161_two_seconds_two_retries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("community");
        std::fs::write(&path, "public\n").unwrap();
        let settings = SnmpSettings {
            community: cred(&format!("file:{}", path.display())),
            ..SnmpSettings::default()
        };
        let t = target("192.0.2.7", &settings).await.unwrap();
        assert_eq!(t.addr, "192.0.2.7:161".parse().unwrap());
        assert_eq!(t.timeout, Duration::from_millis(2000));
        assert_eq!(t.retries, 2);
        assert_eq!(
            t.security,
            Security::V2c {
                community: Secret::new("public")
            }
        );
    }

    #[test]
    fn v3_defaults_to_sha_and_aes_and_checks_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let auth = dir.path().join("auth");
        let privacy = dir.path().join("priv");
        std::fs::write(&auth, "authpass123\n").unwrap();
        std::fs::write(&privacy, "privpass123").unwrap();
        let mut settings = SnmpSettings {
            version: Some(Located::bare(SnmpVersion::V3)),
            user: Some(Located::bare("gamops".into())),
            auth_password: cred(&format!("file:{}", auth.display())),
            priv_password: cred(&format!("file:{}", privacy.display())),
            ..SnmpSettings::default()
        };
        let Security::V3 {
            auth_protocol,
            privacy: Some((priv_protocol, priv_password)),
            ..
        } = security(&settings).unwrap()
        else {
            panic!("not authPriv");
        };
        assert_eq!(auth_protocol, AuthProtocol::Sha);
        assert_eq!(priv_protocol, PrivProtocol::Aes);
        assert_eq!(priv_password.expose(), "privpass123");

        settings.priv_password = None;
        settings.priv_protocol = Some(Located::bare(PrivProtocol::Aes));
        assert_eq!(security(&settings), Err(TargetError::NoPrivPassword));
        settings.user = None;
        assert_eq!(security(&settings), Err(TargetError::NoUser));
        assert_eq!(
            security(&SnmpSettings::default()),
            Err(TargetError::NoCommunity)
        );
        let missing = SnmpSettings {
            community: cred("env:GAMOPS_TEST_SURELY_UNSET_VARIABLE"),
            ..SnmpSettings::default()
        };
        let err = security(&missing).unwrap_err().to_string();
        assert_eq!(
            err,
            "SNMP community: environment variable GAMOPS_TEST_SURELY_UNSET_VARIABLE \
             (from env:GAMOPS_TEST_SURELY_UNSET_VARIABLE) is not set"
        );
    }
}
