//! `subscribers/<device>/<id>.yaml`: one subscriber's service on one GAM.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::located::Located;
use super::types::{Description, Ident, Mac, PortNumber, Uplink, Vlan};

/// A subscriber: a service on a GAM (subscriber + endpoint or port + C-VLAN + plan).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscriber {
    /// Stable id (usually from billing); it becomes the subscriber's name on the GAM and the
    /// file's name.
    pub id: Located<Ident>,
    /// Human label; it becomes the GAM subscriber's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Located<Description>>,
    /// The GAM this subscriber is served by; must match the folder the file is in.
    pub device: Located<Ident>,
    /// The G.hn port: where the endpoint is bound (endpoint-aware) or the subscriber's port
    /// (port-aware).
    pub port: Located<PortNumber>,
    /// The CPE (endpoint-aware devices only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// The C-VLAN: 3..4093, not 3840-3842.
    pub vlan: Located<Vlan>,
    /// Keep the tag at the CPE's GbE port (untagged ingress is then dropped).
    #[serde(default)]
    pub tagged: bool,
    /// The VLAN used between the GAM and the CPE, when it differs from `vlan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remapped_vlan: Option<Located<Vlan>>,
    /// Extra VLANs passed through tagged and unchanged (at most 14).
    #[serde(default, skip_serializing_if = "no_vlans")]
    pub allowed_vlans: Located<Vec<Vlan>>,
    /// Q-in-Q: the S-VLAN the subscriber's C-VLAN is carried in on the uplink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_vlan: Option<Located<Vlan>>,
    /// Q-in-Q: the uplink (NNI) for the S-VLAN; the device's default when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nni: Option<Located<Uplink>>,
    /// A plan from plans.yaml, or `unthrottled`.
    pub plan: Located<Ident>,
    #[serde(default)]
    pub status: Located<SubscriberStatus>,
    /// Never update or delete this subscriber unless the plan is forced past the safety limits.
    #[serde(default, skip_serializing_if = "is_false")]
    pub protect: bool,
    /// Which writer owns the billing fields: a billing sync never touches `manual` subscribers.
    #[serde(default)]
    pub managed_by: ManagedBy,
}

fn no_vlans(v: &Located<Vec<Vlan>>) -> bool {
    v.is_empty()
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The CPE a subscriber is served through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub mac: Located<Mac>,
    /// The endpoint's name on the GAM; `Positron_XXXXXX` (the MAC's last three bytes) when left
    /// out, as the GAM names endpoints itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Located<Ident>>,
    /// The endpoint's description on the GAM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Located<Description>>,
}

impl Endpoint {
    /// The name the endpoint has on the GAM.
    pub fn gam_name(&self) -> String {
        match &self.name {
            Some(n) => n.to_string(),
            None => {
                let [.., d, e, f] = self.mac.octets();
                format!("Positron_{d:02X}{e:02X}{f:02X}")
            }
        }
    }
}

/// Whether a subscriber's service runs (`active`) or is held (`suspended`, per the fleet's
/// suspension mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberStatus {
    #[default]
    Active,
    Suspended,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManagedBy {
    #[default]
    Manual,
    Sonar,
    Splynx,
}

impl ManagedBy {
    /// As written in a subscriber file.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Manual => "manual",
            ManagedBy::Sonar => "sonar",
            ManagedBy::Splynx => "splynx",
        }
    }
}

impl Subscriber {
    /// The Q-in-Q outer VLAN, or 0 when single-tagged: with the C-VLAN, the key that must be
    /// unique on a device.
    pub fn vlan_key(&self) -> (u16, u16) {
        (
            self.vlan.get(),
            self.outer_vlan.as_ref().map_or(0, |v| v.get()),
        )
    }

    pub fn is_unthrottled(&self) -> bool {
        self.plan.as_str() == super::bandwidth::UNTHROTTLED
    }
}
