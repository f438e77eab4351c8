//! The simulated GAM's JSON-RPC methods, without I/O: each call becomes the same rule-checked
//! change of the running configuration that the CLI makes (`rules.rs`), so a change through one
//! face is seen by the others, and a refused one answers the G.hn agent's error (JSON-RPC code
//! -32603 with `data.vtss-error-code`, the same texts the CLI prints).
//!
//! Served: the introspection call, `ghnAgent.config.global.{get,set}`,
//! `ghnAgent.config.port.{get,set}`, the ByName families `bwProfileByName`, `endpointByName`,
//! `userByName` and the id-keyed `bwProfile`, `endpoint`, `user` (`.get/.add/.set/.del`), and
//! the save `icfg.control.copy.set`. Where the lab must choose what the reference does not say,
//! it says so: an `add` of a name or id that exists is refused with the "Non-unique ... name"
//! or "Invalid G.hn ..." error, an id-keyed `add` with id 0 takes the lowest free id, and a save
//! refused because another runs answers -32603 with the CLI's text.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::rules::{EndpointEdit, GhnError, GlobalEdit, PortEdit, ProfileEdit, SubscriberEdit};
use super::state::{
    BwRef, DeviceState, EndpointPort, MAX_ENDPOINTS, MAX_PROFILES, MAX_SUBSCRIBERS, PortMode,
    RunningConfig, SubscriberModel, first_uplink_ifindex,
};
use super::types::Mac;

/// An error answer: the JSON-RPC code, the message, and the G.hn agent's code when it is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub vtss: Option<i64>,
}

impl Fault {
    fn invalid_params(why: impl Into<String>) -> Fault {
        Fault {
            code: -32602,
            message: format!("Invalid params: {}", why.into()),
            vtss: None,
        }
    }

    /// The error object of a reply.
    pub fn to_json(&self) -> Value {
        match self.vtss {
            Some(v) => {
                json!({"code": self.code, "message": self.message, "data": {"vtss-error-code": v}})
            }
            None => json!({"code": self.code, "message": self.message}),
        }
    }
}

impl From<GhnError> for Fault {
    fn from(e: GhnError) -> Fault {
        Fault {
            code: -32603,
            message: e.to_string(),
            vtss: Some(i64::from(e.vtss_error_code())),
        }
    }
}

/// Every G.hn error the lab knows, to answer an injected fault by its text.
const GHN_ERRORS: &[GhnError] = {
    use GhnError::*;
    &[
        Generic,
        InvalidPort,
        InvalidSubscriber,
        NonExistingSubscriber,
        InvalidEndpoint,
        NonExistingEndpoint,
        EndpointNotFound,
        EndpointAlreadyAssigned,
        PortAlreadyAssigned,
        InvalidSubscriberName,
        NonUniqueSubscriberName,
        NonUniqueEndpointName,
        NonUniqueBwProfileName,
        NonUniquePortName,
        InvalidBwProfile,
        NonExistingBwProfile,
        InvalidBwProfileName,
        InvalidDownstream,
        InvalidUpstream,
        InvalidVid,
        InvalidRemappedVid,
        InvalidPort2Vid,
        VidSameAsPort2Vid,
        TooManyAllowedVlans,
        InvalidEndpointName,
        InvalidEndpointMac,
        NonUniqueEndpointMac,
        MaxEndpointsSystem,
        MaxProfilesSystem,
        MaxSubscribersSystem,
        MaxEndpointsPort,
        InvalidPortMode,
        InvalidNni,
        InvalidOuterVid,
        NniNotUplink,
        DeviceBusy,
        InvalidSubscriberModel,
    ]
};

/// An injected command failure's text (`% Error querying ...`) as a JSON-RPC error: the G.hn
/// error with that text, or a generic -32603 with it.
pub fn fault_from_output(output: &str) -> Fault {
    let text = output.trim().trim_start_matches('%').trim();
    match GHN_ERRORS.iter().find(|e| e.to_string() == text) {
        Some(e) => Fault::from(*e),
        None => Fault {
            code: -32603,
            message: text.to_string(),
            vtss: None,
        },
    }
}

const FAMILIES: [&str; 6] = [
    "ghnAgent.config.bwProfileByName",
    "ghnAgent.config.endpointByName",
    "ghnAgent.config.userByName",
    "ghnAgent.config.bwProfile",
    "ghnAgent.config.endpoint",
    "ghnAgent.config.user",
];

/// Every method the lab serves.
pub fn all_methods() -> Vec<String> {
    let mut m = vec![
        "jsonRpc.status.introspection.generic.inventory.get".to_string(),
        "ghnAgent.config.global.get".to_string(),
        "ghnAgent.config.global.set".to_string(),
        "ghnAgent.config.port.get".to_string(),
        "ghnAgent.config.port.set".to_string(),
        "icfg.control.copy.set".to_string(),
    ];
    for f in FAMILIES {
        for op in ["get", "add", "set", "del"] {
            m.push(format!("{f}.{op}"));
        }
    }
    m
}

/// The introspection answer: the methods, less those the lab was told to leave out (old
/// firmware).
pub fn introspection(omitted: &BTreeSet<String>) -> Value {
    let methods: Vec<Value> = all_methods()
        .into_iter()
        .filter(|m| !omitted.contains(m))
        .map(|m| json!({"method-name": m}))
        .collect();
    json!({"methods": methods})
}

/// Runs one call on the device. Whether it changed the running configuration is for the caller
/// to see in the device's revisions.
pub fn call(
    dev: &mut DeviceState,
    omitted: &BTreeSet<String>,
    method: &str,
    params: &Value,
) -> Result<Value, Fault> {
    if omitted.contains(method) || !all_methods().iter().any(|m| m == method) {
        return Err(Fault {
            code: -32601,
            message: format!("Method not found: {method}"),
            vtss: None,
        });
    }
    let text = format!("{method} {params}");
    if let Some(out) = dev.take_command_fault(&text) {
        return Err(fault_from_output(&out));
    }
    let empty = Vec::new();
    let p = params.as_array().unwrap_or(&empty);
    match method {
        "jsonRpc.status.introspection.generic.inventory.get" => Ok(introspection(omitted)),
        "icfg.control.copy.set" => {
            let want = p.first().and_then(Value::as_object);
            let ok = want.is_some_and(|o| {
                o.get("Copy") == Some(&Value::Bool(true))
                    && o.get("SourceConfigType").and_then(Value::as_str) == Some("runningConfig")
                    && o.get("DestinationConfigType").and_then(Value::as_str)
                        == Some("startupConfig")
            });
            if !ok {
                return Err(Fault::invalid_params(
                    "the lab copies only runningConfig to startupConfig",
                ));
            }
            if dev.faults.save_in_progress {
                return Err(Fault {
                    code: -32603,
                    message: "Another load/save operation is already in progress".into(),
                    vtss: None,
                });
            }
            dev.save();
            Ok(Value::Null)
        }
        "ghnAgent.config.global.get" => Ok(global_json(&dev.running)),
        "ghnAgent.config.global.set" => {
            let f = fields(p.first())?;
            let edit = global_edit(&dev.running, f)?;
            change(dev, |r| r.set_global(edit))
        }
        "ghnAgent.config.port.get" => match p.first() {
            None => Ok(Value::Array(
                (1..=dev.running.port_count())
                    .map(|n| json!({"key": format!("G.hn 1/{n}"), "val": port_json(&dev.running, n)}))
                    .collect(),
            )),
            Some(k) => {
                let n = ghn_port(&dev.running, k).ok_or(GhnError::InvalidPort)?;
                Ok(port_json(&dev.running, n))
            }
        },
        "ghnAgent.config.port.set" => {
            let n = p
                .first()
                .and_then(|k| ghn_port(&dev.running, k))
                .ok_or(GhnError::InvalidPort)?;
            let edit = port_edit(fields(p.get(1))?)?;
            change(dev, |r| r.set_port(n, edit))
        }
        _ => object_call(dev, method, p),
    }
}

fn change(
    dev: &mut DeviceState,
    f: impl FnOnce(&mut RunningConfig) -> Result<(), GhnError>,
) -> Result<Value, Fault> {
    let before = dev.running.clone();
    f(&mut dev.running)?;
    if dev.running != before {
        dev.mark_changed();
    }
    Ok(Value::Null)
}

fn fields(v: Option<&Value>) -> Result<&Map<String, Value>, Fault> {
    v.and_then(Value::as_object)
        .ok_or_else(|| Fault::invalid_params("expected an object of fields"))
}

fn get_str<'a>(f: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, Fault> {
    match f.get(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Fault::invalid_params(format!("{k} must be a string"))),
    }
}

fn get_bool(f: &Map<String, Value>, k: &str) -> Result<Option<bool>, Fault> {
    match f.get(k) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Fault::invalid_params(format!("{k} must be a boolean"))),
    }
}

/// A number, or a number written as a string (the id-based profile add sends rates so).
fn get_num(f: &Map<String, Value>, k: &str) -> Result<Option<u64>, Fault> {
    match f.get(k) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| Fault::invalid_params(format!("{k} must be a whole number"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Fault::invalid_params(format!("{k} must be a whole number"))),
        Some(_) => Err(Fault::invalid_params(format!("{k} must be a number"))),
    }
}

fn num<T: TryFrom<u64>>(v: u64, err: GhnError) -> Result<T, Fault> {
    T::try_from(v).map_err(|_| Fault::from(err))
}

/// `"G.hn 1/N"` as a port number of this device.
fn ghn_port(r: &RunningConfig, v: &Value) -> Option<u8> {
    let n: u8 = v.as_str()?.strip_prefix("G.hn 1/")?.parse().ok()?;
    (1..=r.port_count()).contains(&n).then_some(n)
}

/// An uplink's name as its ifIndex (`"10G 1/2"`), or None for `"NONE"`.
fn nni(r: &RunningConfig, s: &str) -> Result<Option<u32>, Fault> {
    if s == "NONE" {
        return Ok(None);
    }
    if let Some(n) = s.strip_prefix("10G 1/").and_then(|n| n.parse::<u32>().ok())
        && n >= 1
    {
        return Ok(Some(first_uplink_ifindex(r.model) + n - 1));
    }
    if s.starts_with("G.hn ") || s.starts_with("Gi ") {
        return Err(GhnError::NniNotUplink.into());
    }
    Err(GhnError::InvalidNni.into())
}

fn nni_name(r: &RunningConfig, ifindex: u32) -> String {
    ifindex
        .checked_sub(first_uplink_ifindex(r.model))
        .map_or_else(|| "NONE".to_string(), |n| format!("10G 1/{}", n + 1))
}

fn global_json(r: &RunningConfig) -> Value {
    json!({
        "SubscriberModel": match r.global.subscriber_model {
            SubscriberModel::EndpointAware => "endpointAware",
            SubscriberModel::PortAware => "portAware",
        },
        "DefaultNNIIfIndex": nni_name(r, r.global.default_nni_ifindex),
        "EndpointAutoFwUpgrade": r.global.endpoint_auto_fw_upgrade,
        "ShelfSeedIndex": r.global.shelf_seed,
    })
}

fn global_edit(r: &RunningConfig, f: &Map<String, Value>) -> Result<GlobalEdit, Fault> {
    let subscriber_model = match get_str(f, "SubscriberModel")? {
        None => None,
        Some("endpointAware") => Some(SubscriberModel::EndpointAware),
        Some("portAware") => Some(SubscriberModel::PortAware),
        Some(_) => return Err(GhnError::InvalidSubscriberModel.into()),
    };
    let default_nni_ifindex = match get_str(f, "DefaultNNIIfIndex")? {
        None => None,
        Some(s) => Some(nni(r, s)?.ok_or(GhnError::InvalidNni)?),
    };
    Ok(GlobalEdit {
        subscriber_model,
        default_nni_ifindex,
        endpoint_auto_fw_upgrade: get_bool(f, "EndpointAutoFwUpgrade")?,
        shelf_seed: get_num(f, "ShelfSeedIndex")?
            .map(|v| num(v, GhnError::Generic))
            .transpose()?,
    })
}

fn port_json(r: &RunningConfig, n: u8) -> Value {
    match r.port(n) {
        Some(p) => json!({
            "Name": p.name,
            "Shutdown": p.shutdown,
            "Mode": match p.mode { PortMode::Coax => "coax", PortMode::Mimo => "mimo", PortMode::Siso => "siso" },
        }),
        None => Value::Null,
    }
}

fn port_edit(f: &Map<String, Value>) -> Result<PortEdit, Fault> {
    let mode = match get_str(f, "Mode")? {
        None => None,
        Some("mimo") => Some(PortMode::Mimo),
        Some("siso") => Some(PortMode::Siso),
        Some("coax") => Some(PortMode::Coax),
        Some(_) => return Err(GhnError::InvalidPortMode.into()),
    };
    Ok(PortEdit {
        mode,
        name: get_str(f, "Name")?.map(str::to_string),
        shutdown: get_bool(f, "Shutdown")?,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profile,
    Endpoint,
    User,
}

/// The ByName and id-keyed families of profiles, endpoints and subscribers.
fn object_call(dev: &mut DeviceState, method: &str, p: &[Value]) -> Result<Value, Fault> {
    let (family, op) = method.rsplit_once('.').unwrap_or((method, ""));
    let (kind, by_name) = match family.rsplit('.').next().unwrap_or("") {
        "bwProfileByName" => (Kind::Profile, true),
        "endpointByName" => (Kind::Endpoint, true),
        "userByName" => (Kind::User, true),
        "bwProfile" => (Kind::Profile, false),
        "endpoint" => (Kind::Endpoint, false),
        "user" => (Kind::User, false),
        _ => {
            return Err(Fault {
                code: -32601,
                message: format!("Method not found: {method}"),
                vtss: None,
            });
        }
    };
    let not_found = match kind {
        Kind::Profile => GhnError::NonExistingBwProfile,
        Kind::Endpoint => GhnError::NonExistingEndpoint,
        Kind::User => GhnError::NonExistingSubscriber,
    };
    if op == "get" && p.is_empty() {
        let ids = ids(&dev.running, kind);
        return Ok(Value::Array(
            ids.into_iter()
                .map(|id| {
                    let key = if by_name {
                        Value::String(name_of(&dev.running, kind, id))
                    } else {
                        Value::from(id)
                    };
                    json!({"key": key, "val": object_json(&dev.running, kind, id)})
                })
                .collect(),
        ));
    }
    let key = p
        .first()
        .ok_or_else(|| Fault::invalid_params("expected the key first"))?;
    // The id the key names (None: no such object), or for an add the id to create.
    let existing: Option<u16> = if by_name {
        let name = key
            .as_str()
            .ok_or_else(|| Fault::invalid_params("the key must be a name"))?;
        ids(&dev.running, kind)
            .into_iter()
            .find(|id| name_of(&dev.running, kind, *id) == name)
    } else {
        let id = key
            .as_u64()
            .ok_or_else(|| Fault::invalid_params("the key must be an id"))?;
        let id = u16::try_from(id).map_err(|_| Fault::invalid_params("the id is too large"))?;
        (id != 0 && ids(&dev.running, kind).contains(&id)).then_some(id)
    };
    match op {
        "get" => {
            let id = existing.ok_or(not_found)?;
            Ok(object_json(&dev.running, kind, id))
        }
        "del" => {
            let id = existing.ok_or(not_found)?;
            change(dev, |r| match kind {
                Kind::Profile => r.delete_profile(u8::try_from(id).unwrap_or(0)),
                Kind::Endpoint => r.delete_endpoint(id),
                Kind::User => r.delete_subscriber(id),
            })
        }
        "set" => {
            let id = existing.ok_or(not_found)?;
            let f = fields(p.get(1))?;
            apply_fields(dev, kind, id, f, None)
        }
        "add" => {
            let f = fields(p.get(1))?;
            let (id, name) = if by_name {
                if existing.is_some() {
                    return Err(match kind {
                        Kind::Profile => GhnError::NonUniqueBwProfileName,
                        Kind::Endpoint => GhnError::NonUniqueEndpointName,
                        Kind::User => GhnError::NonUniqueSubscriberName,
                    }
                    .into());
                }
                let id = lowest_free(&dev.running, kind)?;
                (id, key.as_str().map(str::to_string))
            } else {
                let asked = key.as_u64().unwrap_or(0);
                if existing.is_some() {
                    return Err(match kind {
                        Kind::Profile => GhnError::InvalidBwProfile,
                        Kind::Endpoint => GhnError::InvalidEndpoint,
                        Kind::User => GhnError::InvalidSubscriber,
                    }
                    .into());
                }
                let id = if asked == 0 {
                    lowest_free(&dev.running, kind)?
                } else {
                    u16::try_from(asked)
                        .map_err(|_| Fault::invalid_params("the id is too large"))?
                };
                (id, get_str(f, "Name")?.map(str::to_string))
            };
            let name = name.ok_or_else(|| Fault::invalid_params("a new object needs a Name"))?;
            apply_fields(dev, kind, id, f, Some(name))
        }
        _ => Err(Fault {
            code: -32601,
            message: format!("Method not found: {method}"),
            vtss: None,
        }),
    }
}

fn ids(r: &RunningConfig, kind: Kind) -> Vec<u16> {
    match kind {
        Kind::Profile => r.profiles.keys().map(|k| u16::from(*k)).collect(),
        Kind::Endpoint => r.endpoints.keys().copied().collect(),
        Kind::User => r.subscribers.keys().copied().collect(),
    }
}

fn name_of(r: &RunningConfig, kind: Kind, id: u16) -> String {
    match kind {
        Kind::Profile => u8::try_from(id)
            .ok()
            .and_then(|i| r.profiles.get(&i))
            .map(|p| p.name.clone()),
        Kind::Endpoint => r.endpoints.get(&id).map(|e| e.name.clone()),
        Kind::User => r.subscribers.get(&id).map(|s| s.name.clone()),
    }
    .unwrap_or_default()
}

fn lowest_free(r: &RunningConfig, kind: Kind) -> Result<u16, Fault> {
    let taken = ids(r, kind);
    let (range, full) = match kind {
        Kind::Profile => (2..=u16::from(MAX_PROFILES), GhnError::MaxProfilesSystem),
        Kind::Endpoint => (1..=MAX_ENDPOINTS, GhnError::MaxEndpointsSystem),
        Kind::User => (1..=MAX_SUBSCRIBERS, GhnError::MaxSubscribersSystem),
    };
    range
        .into_iter()
        .find(|id| !taken.contains(id))
        .ok_or_else(|| full.into())
}

fn object_json(r: &RunningConfig, kind: Kind, id: u16) -> Value {
    match kind {
        Kind::Profile => u8::try_from(id)
            .ok()
            .and_then(|i| r.profiles.get(&i))
            .map_or(Value::Null, |p| {
                json!({"Id": id, "Name": p.name, "Description": p.description,
                       "DsBw": p.downstream_mbps, "UsBw": p.upstream_mbps})
            }),
        Kind::Endpoint => r.endpoints.get(&id).map_or(Value::Null, |e| {
            json!({"Id": id, "Name": e.name, "MacAddress": e.mac.to_string(),
                   "Description": e.description,
                   "PortIfIndex": match e.port {
                       EndpointPort::Port(n) => format!("G.hn 1/{n}"),
                       EndpointPort::Auto => "AUTO".into(),
                       EndpointPort::Unassigned => "NONE".into(),
                   },
                   "AllowMgmtVlan": e.allow_management_access})
        }),
        Kind::User => r.subscribers.get(&id).map_or(Value::Null, |s| {
            json!({"Id": id, "Name": s.name, "Description": s.description,
                   "EndpointId": s.endpoint.unwrap_or(0),
                   "EndpointName": s.endpoint.and_then(|e| r.endpoints.get(&e)).map_or("", |e| e.name.as_str()),
                   "PortIfIndex": s.port.map_or_else(|| "NONE".to_string(), |p| format!("G.hn 1/{p}")),
                   "VlanId": s.vid, "VlanIsTagged": s.tagged,
                   "RemappedVlanId": s.remapped_vid.unwrap_or(0),
                   "AllowedTaggedVlans": s.allowed_vlans,
                   "BwProfileId": match s.bw_profile { BwRef::Unthrottled => 0, BwRef::Profile(p) => p },
                   "DoubleTags": s.double_tags(),
                   "OuterTagVlanId": s.outer_vid.unwrap_or(0),
                   "NNIIfIndex": s.nni_ifindex.map_or_else(|| "NONE".to_string(), |i| nni_name(r, i))})
        }),
    }
}

/// Applies a set's (or an add's) fields to object `id` through the CLI's rules; `create`
/// carries the new object's name.
fn apply_fields(
    dev: &mut DeviceState,
    kind: Kind,
    id: u16,
    f: &Map<String, Value>,
    create: Option<String>,
) -> Result<Value, Fault> {
    let creating = create.is_some();
    let name = match create {
        Some(n) => Some(n),
        None => get_str(f, "Name")?.map(str::to_string),
    };
    match kind {
        Kind::Profile => {
            let edit = ProfileEdit {
                name,
                description: get_str(f, "Description")?.map(str::to_string),
                downstream_mbps: get_num(f, "DsBw")?
                    .map(|v| num(v, GhnError::InvalidDownstream))
                    .transpose()?,
                upstream_mbps: get_num(f, "UsBw")?
                    .map(|v| num(v, GhnError::InvalidUpstream))
                    .transpose()?,
            };
            let id = u8::try_from(id).map_err(|_| Fault::from(GhnError::InvalidBwProfile))?;
            change(dev, |r| r.set_profile(id, edit))
        }
        Kind::Endpoint => {
            let mac = match get_str(f, "MacAddress")? {
                None => None,
                Some(s) => Some(
                    s.parse::<Mac>()
                        .map_err(|_| Fault::from(GhnError::InvalidEndpointMac))?,
                ),
            };
            let port = match get_str(f, "PortIfIndex")? {
                None => None,
                Some("NONE") => Some(EndpointPort::Unassigned),
                Some("AUTO") => Some(EndpointPort::Auto),
                Some(s) => Some(EndpointPort::Port(
                    ghn_port(&dev.running, &Value::String(s.to_string()))
                        .ok_or(GhnError::InvalidPort)?,
                )),
            };
            let edit = EndpointEdit {
                name,
                mac,
                description: get_str(f, "Description")?.map(str::to_string),
                port,
                allow_management_access: get_bool(f, "AllowMgmtVlan")?,
            };
            change(dev, |r| {
                if creating {
                    r.set_endpoint(id, edit)
                } else {
                    r.edit_existing_endpoint(id, edit)
                }
            })
        }
        Kind::User => {
            let endpoint = match (get_num(f, "EndpointId")?, get_str(f, "EndpointName")?) {
                (Some(0), _) => Some(None),
                (Some(e), _) => Some(Some(num(e, GhnError::InvalidEndpoint)?)),
                (None, Some("")) => Some(None),
                (None, Some(n)) => Some(Some(
                    dev.running
                        .endpoints
                        .iter()
                        .find(|(_, e)| e.name == n)
                        .map(|(id, _)| *id)
                        .ok_or(GhnError::NonExistingEndpoint)?,
                )),
                (None, None) => None,
            };
            let port = match get_str(f, "PortIfIndex")? {
                None => None,
                Some("NONE") => Some(None),
                Some(s) => Some(Some(
                    ghn_port(&dev.running, &Value::String(s.to_string()))
                        .ok_or(GhnError::InvalidPort)?,
                )),
            };
            let bw_profile = match (get_num(f, "BwProfileId")?, get_str(f, "BwProfileName")?) {
                (Some(0), _) => Some(BwRef::Unthrottled),
                (Some(p), _) => Some(BwRef::Profile(num(p, GhnError::InvalidBwProfile)?)),
                (None, Some(n)) => Some(BwRef::Profile(
                    dev.running
                        .profiles
                        .iter()
                        .find(|(_, p)| p.name == n)
                        .map(|(id, _)| *id)
                        .ok_or(GhnError::NonExistingBwProfile)?,
                )),
                (None, None) => None,
            };
            let allowed_vlans = match f.get("AllowedTaggedVlans") {
                None => None,
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|v| {
                            v.as_u64()
                                .and_then(|v| u16::try_from(v).ok())
                                .ok_or_else(|| {
                                    Fault::invalid_params("AllowedTaggedVlans holds VLAN ids")
                                })
                        })
                        .collect::<Result<Vec<u16>, Fault>>()?,
                ),
                Some(_) => {
                    return Err(Fault::invalid_params("AllowedTaggedVlans must be a list"));
                }
            };
            let remapped_vid = get_num(f, "RemappedVlanId")?
                .map(|v| num::<u16>(v, GhnError::InvalidRemappedVid).map(|v| (v != 0).then_some(v)))
                .transpose()?;
            let outer = get_num(f, "OuterTagVlanId")?
                .map(|v| num::<u16>(v, GhnError::InvalidOuterVid))
                .transpose()?;
            let outer_vid = match (get_bool(f, "DoubleTags")?, outer) {
                (Some(false), _) => Some(None),
                (Some(true), Some(v)) => Some(Some(v)),
                (Some(true), None) => return Err(GhnError::InvalidOuterVid.into()),
                (None, Some(v)) => Some((v != 0).then_some(v)),
                (None, None) => None,
            };
            let nni_ifindex = match get_str(f, "NNIIfIndex")? {
                None => None,
                Some(s) => Some(nni(&dev.running, s)?),
            };
            let edit = SubscriberEdit {
                name,
                description: get_str(f, "Description")?.map(str::to_string),
                endpoint,
                port,
                vid: get_num(f, "VlanId")?
                    .map(|v| num(v, GhnError::InvalidVid))
                    .transpose()?,
                tagged: get_bool(f, "VlanIsTagged")?,
                remapped_vid,
                bw_profile,
                allowed_vlans,
                port2_vid: None,
                outer_vid,
                nni_ifindex,
                poe: None,
            };
            change(dev, |r| {
                if creating {
                    r.set_subscriber(id, edit)
                } else {
                    r.edit_existing_subscriber(id, edit)
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GamModel;

    fn dev() -> DeviceState {
        DeviceState::factory(GamModel::Gam12C, "GAM")
    }

    #[test]
    fn objects_are_made_by_the_clis_rules() {
        let mut d = dev();
        let none = BTreeSet::new();
        call(
            &mut d,
            &none,
            "ghnAgent.config.bwProfile.add",
            &json!([3, {"Name": "500M", "Description": "", "DsBw": "545", "UsBw": "545"}]),
        )
        .unwrap();
        assert_eq!(d.running.profiles[&3].downstream_mbps, 545);
        let e = call(
            &mut d,
            &none,
            "ghnAgent.config.bwProfileByName.set",
            &json!(["500M", {"DsBw": 5}]),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid G.hn bandwidth profile downstream bandwidth"
        );
        assert_eq!(e.vtss, Some(-9_437_161));
        call(
            &mut d,
            &none,
            "ghnAgent.config.userByName.add",
            &json!(["Subscriber 2", {"BwProfileId": 3, "DoubleTags": true, "OuterTagVlanId": 2800, "VlanId": 1111, "VlanIsTagged": true, "RemappedVlanId": 201, "AllowedTaggedVlans": [301, 302, 310], "NNIIfIndex": "10G 1/1"}]),
        )
        .unwrap();
        let s = &d.running.subscribers[&1];
        assert_eq!(s.name, "Subscriber 2");
        assert_eq!(s.outer_vid, Some(2800));
        assert_eq!(s.nni_ifindex, Some(1_000_013));
        let dup = call(
            &mut d,
            &none,
            "ghnAgent.config.userByName.add",
            &json!(["Subscriber 2", {"VlanId": 1112}]),
        )
        .unwrap_err();
        assert_eq!(dup.message, "Non-unique G.hn subscriber name");
        let got = call(
            &mut d,
            &none,
            "ghnAgent.config.userByName.get",
            &json!(["Subscriber 2"]),
        )
        .unwrap();
        assert_eq!(got["NNIIfIndex"], "10G 1/1");
        assert_eq!(got["PortIfIndex"], "NONE");
        call(
            &mut d,
            &none,
            "ghnAgent.config.userByName.del",
            &json!(["Subscriber 2"]),
        )
        .unwrap();
        assert!(d.running.subscribers.is_empty());
    }

    #[test]
    fn omitted_methods_are_missing_everywhere_and_faults_answer_by_text() {
        let mut d = dev();
        let old: BTreeSet<String> = ["ghnAgent.config.user.add".to_string()].into();
        let intro = introspection(&old).to_string();
        assert!(!intro.contains("ghnAgent.config.user.add\""));
        assert!(intro.contains("ghnAgent.config.userByName.add"));
        let e = call(
            &mut d,
            &old,
            "ghnAgent.config.user.add",
            &json!([1, {"Name": "x"}]),
        )
        .unwrap_err();
        assert_eq!(e.code, -32601);
        d.fail_next_command(
            "userByName.set",
            "% Error querying G.hn device. May be missing or busy.",
        );
        let e = call(
            &mut d,
            &BTreeSet::new(),
            "ghnAgent.config.userByName.set",
            &json!(["x", {}]),
        )
        .unwrap_err();
        assert_eq!(e.vtss, Some(-9_437_131));
        d.set_save_in_progress(true);
        let save = json!([{"Copy": true, "SourceConfigType": "runningConfig", "DestinationConfigType": "startupConfig", "Merge": false}]);
        assert!(call(&mut d, &BTreeSet::new(), "icfg.control.copy.set", &save).is_err());
        d.set_save_in_progress(false);
        assert!(call(&mut d, &BTreeSet::new(), "icfg.control.copy.set", &save).is_ok());
    }
}
