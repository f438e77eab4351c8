//! `gamops.yaml`: settings for the whole fleet.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::billing::BillingMapping;
use super::controller::ControllerSettings;
use super::device::{Driver, JsonRpcSettings, SnmpSettings, SshSettings};
use super::located::Located;
use super::monitoring::MonitoringSettings;
use super::notifications::NotificationSettings;
use super::types::{Ident, Vlan};

/// Fleet-wide settings: connection defaults, safety limits, pruning and the suspension policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// Connection settings every device starts from; a device file overrides them field by field.
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// Limits that stop a plan from changing too much at once.
    #[serde(default)]
    pub safety: Safety,
    /// Delete live objects that no YAML owns (orphans). Off by default: orphans are only reported.
    #[serde(default)]
    pub prune: bool,
    /// What a subscriber with `status: suspended` becomes on the device.
    #[serde(default)]
    pub suspension: Suspension,
    /// Where subscribers come from when a billing system owns them, and how its records map to
    /// subscribers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// (Boxed: it is large, and most fleets have none.)
    pub billing: Option<Box<BillingMapping>>,
    /// How `gamops controller` keeps the fleet converged: the drift scan's interval, and what
    /// it may do to each device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<ControllerSettings>,
    /// Where alerts are delivered: channels (email, webhooks, Slack, Alertmanager) and routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationSettings>,
    /// How `gamops controller` watches the fleet's health: the status poll's interval, the
    /// metrics it exports, and the alert rules' thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// (Boxed: it is large.)
    pub monitoring: Option<Box<MonitoringSettings>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<SnmpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshSettings>,
    /// How changes reach the devices that name no driver: `cli` (the default) or `jsonrpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Located<Driver>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonrpc: Option<JsonRpcSettings>,
}

impl Defaults {
    pub fn is_empty(&self) -> bool {
        self.snmp.is_none() && self.ssh.is_none() && self.driver.is_none() && self.jsonrpc.is_none()
    }
}

/// Safety limits, fleet-wide in gamops.yaml and overridable per device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// The largest share of a device's existing subscribers one run may update or delete.
    #[serde(default = "Safety::default_max_change_percent")]
    pub max_change_percent: Located<u8>,
    /// The percentage limit applies only to devices with at least this many subscribers.
    #[serde(default = "Safety::default_min_existing")]
    pub min_existing: Located<u32>,
    /// Allow a plan that deletes every subscriber of a device.
    #[serde(default)]
    pub allow_empty_device: bool,
}

impl Safety {
    fn default_max_change_percent() -> Located<u8> {
        Located::bare(30)
    }

    fn default_min_existing() -> Located<u32> {
        Located::bare(10)
    }
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            max_change_percent: Self::default_max_change_percent(),
            min_existing: Self::default_min_existing(),
            allow_empty_device: false,
        }
    }
}

/// A device's own overrides of the fleet's safety limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetyOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_change_percent: Option<Located<u8>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_existing: Option<Located<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_empty_device: Option<bool>,
}

impl SafetyOverride {
    pub fn is_empty(&self) -> bool {
        self == &SafetyOverride::default()
    }

    /// The fleet's limits with this device's overrides applied.
    pub fn apply(&self, fleet: &Safety) -> Safety {
        Safety {
            max_change_percent: self.max_change_percent.unwrap_or(fleet.max_change_percent),
            min_existing: self.min_existing.unwrap_or(fleet.min_existing),
            allow_empty_device: self.allow_empty_device.unwrap_or(fleet.allow_empty_device),
        }
    }
}

/// How a suspended subscriber is represented on the GAM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SuspensionMode {
    /// Remove the GAM subscriber; the endpoint falls back to the captive-portal VLAN 4094.
    #[default]
    Remove,
    /// Keep the subscriber, on the bandwidth plan named in `plan`.
    Plan,
    /// Keep the subscriber, moved to the VLAN named in `vlan` (a walled garden).
    Vlan,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    #[serde(default)]
    pub mode: Located<SuspensionMode>,
    /// With `mode: plan`: the plan suspended subscribers get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Located<Ident>>,
    /// With `mode: vlan`: the C-VLAN suspended subscribers are moved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Located<Vlan>>,
}
