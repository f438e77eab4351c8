//! The live state of one GAM, as read from the device: what the plan compares the desired state
//! with. Numeric ids are kept (the CLI addresses objects by id) but are not keys: profiles are
//! matched by name, endpoints by MAC and subscribers by name.
//!
//! Values are kept as the device reports them, even where the inventory's rules would refuse
//! them (a subscriber left on VLAN 4094, say): the plan must see the device as it is.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{GamModel, Mac, SubscriberModel};

/// What one read of a device gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Observation {
    /// The device answered every table completely.
    Live(Box<LiveDevice>),
    /// The device could not be read completely: it is planned for nothing, and never turned
    /// into deletes.
    Unknown { reason: String },
}

/// Everything gamops reconciles on one GAM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LiveDevice {
    pub system: SystemInfo,
    pub global: LiveGlobal,
    /// G.hn ports by number (1-based).
    pub ports: Vec<LivePort>,
    /// Bandwidth profiles 1..15, by id; profile 1 is the device's default.
    pub profiles: Vec<LiveProfile>,
    pub endpoints: Vec<LiveEndpoint>,
    pub subscribers: Vec<LiveSubscriber>,
    /// CPEs the device sees on its ports, configured or not (the by-MAC status table).
    pub detected: Vec<DetectedCpe>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SystemInfo {
    /// sysDescr, e.g. `GAM-12-C GigaBit Ethernet Switch, firmware GAM-12/24-C_v1.5.4`.
    pub descr: String,
    /// The N of sysObjectID `1.3.6.1.4.1.20095.2000.1.N`, when it is a GAM.
    pub model_id: Option<u32>,
    pub name: String,
    /// Hundredths of a second since the agent started.
    pub uptime_ticks: u32,
}

impl SystemInfo {
    pub fn model(&self) -> Option<GamModel> {
        self.model_id.and_then(GamModel::from_sys_object_id)
    }

    /// The firmware string after `firmware ` in sysDescr.
    pub fn firmware(&self) -> Option<&str> {
        self.descr.split_once("firmware ").map(|(_, f)| f.trim())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveGlobal {
    pub subscriber_model: SubscriberModel,
    /// ifIndex of the default NNI (10G 1/1 is 1000000 + ports + 1).
    pub default_nni_if_index: u32,
    pub endpoint_auto_fw_upgrade: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LivePortMode {
    Coax,
    Mimo,
    Siso,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LivePort {
    pub port: u8,
    pub name: String,
    pub mode: LivePortMode,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveProfile {
    pub id: u8,
    pub name: String,
    pub description: String,
    pub down_mbps: u16,
    pub up_mbps: u16,
}

/// Where an endpoint is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndpointBinding {
    Port(u8),
    Unassigned,
    Auto,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveEndpoint {
    pub id: u16,
    pub mac: Mac,
    pub name: String,
    pub description: String,
    pub binding: EndpointBinding,
}

/// A subscriber's bandwidth profile: none (unthrottled) or a profile id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProfileRef {
    Unthrottled,
    Id(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LiveSubscriber {
    pub id: u16,
    pub name: String,
    pub description: String,
    /// Endpoint-aware: the endpoint's id (0 on the device means none).
    pub endpoint_id: Option<u16>,
    /// Port-aware: the G.hn port.
    pub port: Option<u8>,
    pub vlan: u16,
    pub tagged: bool,
    pub remapped_vlan: Option<u16>,
    pub allowed_vlans: Vec<u16>,
    pub profile: ProfileRef,
    /// Q-in-Q outer VLAN (DoubleTags on).
    pub outer_vlan: Option<u16>,
    /// Q-in-Q NNI ifIndex; None for the device's default.
    pub nni_if_index: Option<u32>,
}

/// The state of a CPE seen by the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CpeState {
    NotDetected,
    Ok,
    QuarantinedWrongPort,
    QuarantinedUnknownMac,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DetectedCpe {
    pub mac: Mac,
    pub port: Option<u8>,
    pub state: CpeState,
    pub model: String,
}

impl LiveDevice {
    pub fn profile(&self, id: u8) -> Option<&LiveProfile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    pub fn profile_by_name(&self, name: &str) -> Option<&LiveProfile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    pub fn endpoint(&self, id: u16) -> Option<&LiveEndpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }

    pub fn endpoint_by_mac(&self, mac: Mac) -> Option<&LiveEndpoint> {
        self.endpoints.iter().find(|e| e.mac == mac)
    }

    pub fn subscriber_by_name(&self, name: &str) -> Option<&LiveSubscriber> {
        self.subscribers.iter().find(|s| s.name == name)
    }
}

/// The configuration of the real GAM-12-C walk (the project's SNMP fixture), for tests (also
/// the other crates' unit tests, which is why it is not `#[cfg(test)]`).
#[doc(hidden)]
pub fn walk_example() -> LiveDevice {
    LiveDevice {
        system: SystemInfo {
            descr: "GAM-12-C GigaBit Ethernet Switch, firmware GAM-12/24-C_v1.5.4".into(),
            model_id: Some(14),
            name: "<private>".into(),
            uptime_ticks: 463_099_189,
        },
        global: LiveGlobal {
            subscriber_model: crate::model::SubscriberModel::EndpointAware,
            default_nni_if_index: 1_000_013,
            endpoint_auto_fw_upgrade: true,
        },
        ports: (1..=12)
            .map(|n| LivePort {
                port: n,
                name: String::new(),
                mode: LivePortMode::Coax,
            })
            .collect(),
        profiles: vec![
            LiveProfile {
                id: 1,
                name: "Default BW Profile".into(),
                description: String::new(),
                down_mbps: 10,
                up_mbps: 10,
            },
            LiveProfile {
                id: 2,
                name: "1G".into(),
                description: "1G/1G".into(),
                down_mbps: 1000,
                up_mbps: 1000,
            },
            LiveProfile {
                id: 3,
                name: "500M".into(),
                description: "500M/500M".into(),
                down_mbps: 545,
                up_mbps: 545,
            },
            LiveProfile {
                id: 4,
                name: "250M".into(),
                description: "250M/250M".into(),
                down_mbps: 270,
                up_mbps: 270,
            },
            LiveProfile {
                id: 5,
                name: "100M".into(),
                description: "100M/100M".into(),
                down_mbps: 118,
                up_mbps: 118,
            },
        ],
        endpoints: vec![LiveEndpoint {
            id: 1,
            mac: "00:0e:d8:19:97:e6".parse().unwrap(),
            name: "Positron_1997E6".into(),
            description: "C#".into(),
            binding: EndpointBinding::Port(12),
        }],
        subscribers: vec![LiveSubscriber {
            id: 1,
            name: "C#".into(),
            description: "C#".into(),
            endpoint_id: Some(1),
            port: None,
            vlan: 1409,
            tagged: false,
            remapped_vlan: None,
            allowed_vlans: vec![],
            profile: ProfileRef::Id(3),
            outer_vlan: Some(120),
            nni_if_index: None,
        }],
        detected: vec![],
    }
}
