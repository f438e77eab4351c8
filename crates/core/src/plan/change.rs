//! The vocabulary of a plan: what changes on which object, how disruptive it is.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::dialect::{self, UnsafeValue};
use crate::device::live::{LiveEndpoint, LiveGlobal, LivePort, LiveProfile, LiveSubscriber};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A device-global setting (subscriber model, default NNI, endpoint auto-upgrade): first,
    /// because the rest is read in its terms.
    Global,
    Port,
    Profile,
    Endpoint,
    Subscriber,
}

impl ObjectKind {
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Global => "global setting",
            ObjectKind::Port => "port",
            ObjectKind::Profile => "bandwidth profile",
            ObjectKind::Endpoint => "endpoint",
            ObjectKind::Subscriber => "subscriber",
        }
    }
}

/// How much a change hurts the subscribers it touches.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Disruption {
    /// Labels and descriptions: nobody notices.
    #[default]
    None,
    /// A bandwidth change: traffic keeps flowing at a new rate.
    Rate,
    /// VLAN, endpoint or port changes, and deletes: the subscriber's traffic drops.
    Interrupt,
}

/// An object as it is before or after a change, with its numeric id on the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Object {
    /// The device's global settings as a whole; a change's key names the one setting it sets.
    Global(LiveGlobal),
    Port(LivePort),
    Profile(LiveProfile),
    Endpoint(LiveEndpoint),
    Subscriber(LiveSubscriber),
}

impl Object {
    /// The CLI line that states this object whole (creates, updates or restores it); for the
    /// global settings, the one setting the change's `key` names (`None` when it has no line).
    /// An error is the value the dialect refuses to put in a command line.
    pub fn cli_line(&self, key: &str, uplink_base: u32) -> Result<Option<String>, UnsafeValue> {
        match self {
            Object::Global(g) => Ok(match GlobalSetting::from_key(key) {
                Some(GlobalSetting::SubscriberModel) => {
                    Some(dialect::set_subscriber_model(g.subscriber_model))
                }
                Some(GlobalSetting::DefaultNni) => {
                    dialect::set_default_nni(g.default_nni_if_index, uplink_base)
                }
                Some(GlobalSetting::EndpointAutoFwUpgrade) => Some(
                    dialect::set_endpoint_auto_fw_upgrade(g.endpoint_auto_fw_upgrade),
                ),
                None => None,
            }),
            Object::Port(p) => dialect::set_port(p).map(Some),
            Object::Profile(p) => dialect::set_profile(p).map(Some),
            Object::Endpoint(e) => dialect::set_endpoint(e).map(Some),
            Object::Subscriber(s) => dialect::set_subscriber(s, uplink_base).map(Some),
        }
    }
}

/// One field's values before and after, rendered for people (profile names, not ids).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One change to one object on one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    pub action: Action,
    pub kind: ObjectKind,
    /// The object's natural key: a profile's or subscriber's name, an endpoint's MAC, a port's
    /// number.
    pub key: String,
    /// The id the device knows the object by (kept for existing objects; the lowest free id for
    /// new ones).
    pub id: u16,
    pub before: Option<Object>,
    pub after: Option<Object>,
    pub fields: Vec<FieldChange>,
    pub disruption: Disruption,
    /// The object exists on the device but no YAML owns it.
    pub orphan: bool,
    /// Subscribers whose service this change touches.
    pub affects: Vec<String>,
}

/// A live object that no YAML owns, left in place because pruning is off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Orphan {
    pub kind: ObjectKind,
    pub key: String,
    pub id: u16,
}

/// The device-global settings gamops reconciles, one change (and one CLI line) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GlobalSetting {
    SubscriberModel,
    DefaultNni,
    EndpointAutoFwUpgrade,
}

impl GlobalSetting {
    pub const ALL: [GlobalSetting; 3] = [
        GlobalSetting::SubscriberModel,
        GlobalSetting::DefaultNni,
        GlobalSetting::EndpointAutoFwUpgrade,
    ];

    /// The change's key (and field name) for this setting.
    pub fn key(self) -> &'static str {
        match self {
            GlobalSetting::SubscriberModel => "subscriber_model",
            GlobalSetting::DefaultNni => "default_nni",
            GlobalSetting::EndpointAutoFwUpgrade => "endpoint_auto_fw_upgrade",
        }
    }

    pub fn from_key(key: &str) -> Option<GlobalSetting> {
        GlobalSetting::ALL.into_iter().find(|s| s.key() == key)
    }
}
