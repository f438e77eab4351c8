//! Every JSON-RPC call gamops makes to change a device is built here, and nowhere else (as the
//! CLI's lines are in `ssh::dialect`).
//!
//! Field names are the ones the GAM's object model uses (the reference's §4): `DsBw`/`UsBw`,
//! `VlanId`, `VlanIsTagged`, `RemappedVlanId` (0 for none), `AllowedTaggedVlans`, `BwProfileId`
//! (0 for unthrottled), `EndpointId`, `PortIfIndex`, `DoubleTags`, `OuterTagVlanId`, `NNIIfIndex`.
//! Interfaces are named by strings (`"G.hn 1/4"`, `"10G 1/1"`, `"NONE"` for the default NNI),
//! never by numbers.
//!
//! Like the CLI's lines, each call states every field gamops manages, so one call brings an
//! object to a known state: an update sets them all, and a rollback puts them all back. An
//! object is created with the id-keyed `add` (`[id, {..., "Name": ...}]`), because the plan and
//! the SNMP verification name it by the id the plan gave it (the ByName `add` lets the device
//! choose); it is then updated and deleted by its name with the documented ByName methods,
//! except an endpoint whose name changes, which only its id can address.

use serde_json::{Map, Value, json};

use crate::device::live::{
    EndpointBinding, LiveEndpoint, LiveGlobal, LivePort, LivePortMode, LiveProfile, LiveSubscriber,
    ProfileRef,
};
use crate::model::SubscriberModel;

use super::error::RpcError;

pub const INTROSPECTION: &str = "jsonRpc.status.introspection.generic.inventory.get";
pub const GLOBAL_GET: &str = "ghnAgent.config.global.get";
pub const GLOBAL_SET: &str = "ghnAgent.config.global.set";
pub const PORT_GET: &str = "ghnAgent.config.port.get";
pub const PORT_SET: &str = "ghnAgent.config.port.set";
pub const PROFILE_BY_NAME: &str = "ghnAgent.config.bwProfileByName";
pub const ENDPOINT_BY_NAME: &str = "ghnAgent.config.endpointByName";
pub const USER_BY_NAME: &str = "ghnAgent.config.userByName";
pub const PROFILE_BY_ID: &str = "ghnAgent.config.bwProfile";
pub const ENDPOINT_BY_ID: &str = "ghnAgent.config.endpoint";
pub const USER_BY_ID: &str = "ghnAgent.config.user";
pub const SAVE: &str = "icfg.control.copy.set";

/// One call: a method and its params.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Value,
}

impl Call {
    pub fn new(method: impl Into<String>, params: Value) -> Call {
        Call {
            method: method.into(),
            params,
        }
    }

    /// The call as the journal records it: the method and its compact params.
    pub fn text(&self) -> String {
        format!("{} {}", self.method, self.params)
    }
}

/// `family.op`, e.g. `ghnAgent.config.userByName.set`.
fn m(family: &str, op: &str) -> String {
    format!("{family}.{op}")
}

/// The one check every string goes through: JSON can carry anything, but a control character
/// in a name is refused here as it is by the CLI's dialect, so both drivers send the same.
fn text(value: &str) -> Result<Value, RpcError> {
    if value.chars().any(char::is_control) {
        return Err(RpcError::UnsafeValue(
            crate::device::ssh::dialect::escape_debug(value),
        ));
    }
    Ok(Value::String(value.to_string()))
}

/// `"G.hn 1/N"`.
pub fn ghn_port(n: u8) -> String {
    format!("G.hn 1/{n}")
}

/// An uplink's name from its ifIndex (`"10G 1/1"`), or None when `if_index` is not one of the
/// model's uplinks after `uplink_base`.
pub fn uplink_name(if_index: u32, uplink_base: u32) -> Option<String> {
    let n = if_index
        .checked_sub(uplink_base)
        .filter(|n| (1..=2).contains(n))?;
    Some(format!("10G 1/{n}"))
}

/// The save: running-config to startup-config (the reference's params).
pub fn save() -> Call {
    Call::new(
        SAVE,
        json!([{
            "Copy": true,
            "SourceConfigType": "runningConfig",
            "DestinationConfigType": "startupConfig",
            "Merge": false
        }]),
    )
}

pub fn introspection() -> Call {
    Call::new(INTROSPECTION, json!([""]))
}

/// One global setting (the change's key), or None when it has no call (a default NNI that is
/// not an uplink).
pub fn set_global(g: &LiveGlobal, key: &str, uplink_base: u32) -> Option<Call> {
    let fields = match key {
        "subscriber_model" => json!({"SubscriberModel": match g.subscriber_model {
            SubscriberModel::EndpointAware => "endpointAware",
            SubscriberModel::PortAware => "portAware",
        }}),
        "default_nni" => {
            json!({"DefaultNNIIfIndex": uplink_name(g.default_nni_if_index, uplink_base)?})
        }
        "endpoint_auto_fw_upgrade" => json!({"EndpointAutoFwUpgrade": g.endpoint_auto_fw_upgrade}),
        _ => return None,
    };
    Some(Call::new(GLOBAL_SET, json!([fields])))
}

pub fn set_port(p: &LivePort) -> Result<Call, RpcError> {
    let mut fields = Map::new();
    fields.insert("Name".into(), text(&p.name)?);
    match p.mode {
        LivePortMode::Mimo => {
            fields.insert("Mode".into(), "mimo".into());
        }
        LivePortMode::Siso => {
            fields.insert("Mode".into(), "siso".into());
        }
        LivePortMode::Coax => {}
    }
    Ok(Call::new(
        PORT_SET,
        json!([ghn_port(p.port), Value::Object(fields)]),
    ))
}

fn profile_fields(p: &LiveProfile, rates_as_strings: bool) -> Result<Map<String, Value>, RpcError> {
    let mut f = Map::new();
    f.insert("Description".into(), text(&p.description)?);
    // The id-based add wants the rates as strings (a quirk seen on real devices).
    let rate = |v: u16| {
        if rates_as_strings {
            Value::String(v.to_string())
        } else {
            Value::from(v)
        }
    };
    f.insert("DsBw".into(), rate(p.down_mbps));
    f.insert("UsBw".into(), rate(p.up_mbps));
    Ok(f)
}

pub fn add_profile(p: &LiveProfile) -> Result<Call, RpcError> {
    let mut f = profile_fields(p, true)?;
    f.insert("Name".into(), text(&p.name)?);
    Ok(Call::new(
        m(PROFILE_BY_ID, "add"),
        json!([p.id, Value::Object(f)]),
    ))
}

pub fn set_profile(p: &LiveProfile) -> Result<Call, RpcError> {
    let f = profile_fields(p, false)?;
    Ok(Call::new(
        m(PROFILE_BY_NAME, "set"),
        json!([text(&p.name)?, Value::Object(f)]),
    ))
}

pub fn delete_profile(name: &str) -> Result<Call, RpcError> {
    Ok(Call::new(m(PROFILE_BY_NAME, "del"), json!([text(name)?])))
}

fn endpoint_fields(e: &LiveEndpoint) -> Result<Map<String, Value>, RpcError> {
    let mut f = Map::new();
    f.insert("MacAddress".into(), e.mac.to_string().into());
    f.insert("Description".into(), text(&e.description)?);
    let port = match e.binding {
        EndpointBinding::Port(n) => ghn_port(n),
        EndpointBinding::Auto => "AUTO".to_string(),
        EndpointBinding::Unassigned => "NONE".to_string(),
    };
    f.insert("PortIfIndex".into(), port.into());
    Ok(f)
}

pub fn add_endpoint(e: &LiveEndpoint) -> Result<Call, RpcError> {
    let mut f = endpoint_fields(e)?;
    f.insert("Name".into(), text(&e.name)?);
    Ok(Call::new(
        m(ENDPOINT_BY_ID, "add"),
        json!([e.id, Value::Object(f)]),
    ))
}

/// An update: by name, or by id (with the new `Name`) when the name changes.
pub fn set_endpoint(e: &LiveEndpoint, old_name: &str) -> Result<Call, RpcError> {
    let mut f = endpoint_fields(e)?;
    if old_name == e.name {
        return Ok(Call::new(
            m(ENDPOINT_BY_NAME, "set"),
            json!([text(&e.name)?, Value::Object(f)]),
        ));
    }
    f.insert("Name".into(), text(&e.name)?);
    Ok(Call::new(
        m(ENDPOINT_BY_ID, "set"),
        json!([e.id, Value::Object(f)]),
    ))
}

pub fn delete_endpoint(name: &str) -> Result<Call, RpcError> {
    Ok(Call::new(m(ENDPOINT_BY_NAME, "del"), json!([text(name)?])))
}

fn user_fields(s: &LiveSubscriber, uplink_base: u32) -> Result<Map<String, Value>, RpcError> {
    let mut f = Map::new();
    f.insert("Description".into(), text(&s.description)?);
    f.insert("VlanId".into(), s.vlan.into());
    f.insert("VlanIsTagged".into(), s.tagged.into());
    f.insert("RemappedVlanId".into(), s.remapped_vlan.unwrap_or(0).into());
    // As the CLI's line: the attachment the subscriber has is stated; none leaves it.
    if let Some(e) = s.endpoint_id {
        f.insert("EndpointId".into(), e.into());
    }
    if let Some(p) = s.port {
        f.insert("PortIfIndex".into(), ghn_port(p).into());
    }
    f.insert(
        "BwProfileId".into(),
        match s.profile {
            ProfileRef::Unthrottled => 0,
            ProfileRef::Id(id) => id,
        }
        .into(),
    );
    let mut allowed = s.allowed_vlans.clone();
    allowed.sort_unstable();
    allowed.dedup();
    f.insert("AllowedTaggedVlans".into(), allowed.into());
    f.insert("DoubleTags".into(), s.outer_vlan.is_some().into());
    f.insert("OuterTagVlanId".into(), s.outer_vlan.unwrap_or(0).into());
    let nni = s
        .nni_if_index
        .and_then(|i| uplink_name(i, uplink_base))
        .unwrap_or_else(|| "NONE".to_string());
    f.insert("NNIIfIndex".into(), nni.into());
    Ok(f)
}

pub fn add_user(s: &LiveSubscriber, uplink_base: u32) -> Result<Call, RpcError> {
    let mut f = user_fields(s, uplink_base)?;
    f.insert("Name".into(), text(&s.name)?);
    Ok(Call::new(
        m(USER_BY_ID, "add"),
        json!([s.id, Value::Object(f)]),
    ))
}

pub fn set_user(s: &LiveSubscriber, uplink_base: u32) -> Result<Call, RpcError> {
    let f = user_fields(s, uplink_base)?;
    Ok(Call::new(
        m(USER_BY_NAME, "set"),
        json!([text(&s.name)?, Value::Object(f)]),
    ))
}

pub fn delete_user(name: &str) -> Result<Call, RpcError> {
    Ok(Call::new(m(USER_BY_NAME, "del"), json!([text(name)?])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walks_subscriber_as_the_documented_sample_has_it() {
        let s = crate::device::live::walk_example().subscribers.remove(0);
        let c = add_user(&s, 1_000_012).unwrap();
        assert_eq!(c.method, "ghnAgent.config.user.add");
        assert_eq!(
            c.params,
            json!([1, {"AllowedTaggedVlans":[],"BwProfileId":3,"Description":"C#","DoubleTags":true,"EndpointId":1,"NNIIfIndex":"NONE","Name":"C#","OuterTagVlanId":120,"RemappedVlanId":0,"VlanId":1409,"VlanIsTagged":false}])
        );
        let set = set_user(&s, 1_000_012).unwrap();
        assert_eq!(set.method, "ghnAgent.config.userByName.set");
        assert_eq!(set.params[0], "C#");
        assert_eq!(
            delete_user("C#").unwrap().text(),
            r#"ghnAgent.config.userByName.del ["C#"]"#
        );
    }

    #[test]
    fn interfaces_are_strings_and_rates_strings_only_in_the_id_add() {
        let p = LiveProfile {
            id: 3,
            name: "500M".into(),
            description: String::new(),
            down_mbps: 545,
            up_mbps: 545,
        };
        assert_eq!(add_profile(&p).unwrap().params[1]["DsBw"], "545");
        assert_eq!(set_profile(&p).unwrap().params[1]["DsBw"], 545);
        assert_eq!(
            uplink_name(1_000_013, 1_000_012).as_deref(),
            Some("10G 1/1")
        );
        assert_eq!(uplink_name(1_000_015, 1_000_012), None);
        let g = LiveGlobal {
            subscriber_model: SubscriberModel::PortAware,
            default_nni_if_index: 1_000_014,
            endpoint_auto_fw_upgrade: false,
        };
        assert_eq!(
            set_global(&g, "default_nni", 1_000_012).unwrap().text(),
            r#"ghnAgent.config.global.set [{"DefaultNNIIfIndex":"10G 1/2"}]"#
        );
        assert_eq!(
            set_global(&g, "subscriber_model", 1_000_012)
                .unwrap()
                .params[0]["SubscriberModel"],
            "portAware"
        );
        let e = LiveEndpoint {
            id: 4,
            mac: "00:0e:d8:1c:95:08".parse().unwrap(),
            name: "new".into(),
            description: String::new(),
            binding: EndpointBinding::Port(4),
        };
        let renamed = set_endpoint(&e, "old").unwrap();
        assert_eq!(renamed.method, "ghnAgent.config.endpoint.set");
        assert_eq!(renamed.params[1]["PortIfIndex"], "G.hn 1/4");
        assert_eq!(
            set_endpoint(&e, "new").unwrap().method,
            "ghnAgent.config.endpointByName.set"
        );
    }

    #[test]
    fn a_control_character_is_never_sent() {
        let mut s = crate::device::live::walk_example().subscribers.remove(0);
        s.description = "a\nb".into();
        assert!(matches!(set_user(&s, 0), Err(RpcError::UnsafeValue(_))));
        // A double quote is fine in JSON.
        s.description = "say \"hi\"".into();
        assert!(set_user(&s, 0).is_ok());
    }
}
