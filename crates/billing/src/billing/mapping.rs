//! From billing records to subscribers, with the `billing:` section of gamops.yaml. Pure: no I/O.
//!
//! A customer becomes at most one subscriber, keyed on the customer (`sonar-<account id>`,
//! `splynx-<customer id>`), never on a service id: Splynx gives a service a new id when its plan
//! changes. A customer whose data is incomplete or conflicts is skipped and listed with the
//! reason; the sync leaves that customer's file as it is.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::{BillingCustomer, BillingService, CustomerStatus};
use crate::model::billing::{FieldNames, SonarMapping, SplynxMapping};
use crate::model::{
    BandwidthPlan, Description, Device, Endpoint, Ident, Located, Mac, ManagedBy, Mbps, Medium,
    PlanMatching, PlanStrategy, Plans, PortNumber, Subscriber, SubscriberModel, SubscriberStatus,
    Vlan,
};

/// The system whose records are mapped, with its section of the billing mapping.
#[derive(Clone, Copy, Debug)]
pub enum SystemRules<'a> {
    Sonar(&'a SonarMapping),
    Splynx(&'a SplynxMapping),
}

impl SystemRules<'_> {
    fn fields(&self) -> &FieldNames {
        match self {
            SystemRules::Sonar(m) => &m.fields,
            SystemRules::Splynx(m) => &m.fields,
        }
    }

    fn managed_by(&self) -> ManagedBy {
        match self {
            SystemRules::Sonar(_) => ManagedBy::Sonar,
            SystemRules::Splynx(_) => ManagedBy::Splynx,
        }
    }

    /// The id prefix of this system's subscribers.
    pub fn prefix(&self) -> &'static str {
        match self {
            SystemRules::Sonar(_) => "sonar",
            SystemRules::Splynx(_) => "splynx",
        }
    }
}

/// What the mapping needs from the rest of the inventory.
#[derive(Clone, Copy, Debug)]
pub struct MapContext<'a> {
    pub devices: &'a [Device],
    pub plans: &'a Plans,
    pub matching: &'a PlanMatching,
    /// Subscribers other writers own (manual ones, the other billing system's): their MACs,
    /// VLANs and ports are taken.
    pub others: &'a [Subscriber],
}

/// What a customer's status means on the GAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Active,
    Suspended,
    /// Not a subscriber (lead, inactive, disconnected, new, disabled).
    Off,
}

/// The result of a mapping run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapOutcome {
    /// Active and suspended subscribers, by id.
    pub subscribers: Vec<Subscriber>,
    /// Customers that should have no subscriber: off in billing, or whose running services are
    /// not wired to a GAM. (An active customer with no running service is skipped instead.)
    pub absent: Vec<String>,
    /// Customers left out because their data is incomplete or conflicts.
    pub skipped: Vec<Skipped>,
    /// Plans to add to plans.yaml (strategy `create`), each used by at least one subscriber.
    pub new_plans: Vec<NewPlan>,
}

/// A customer left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The customer's id in billing.
    pub customer: String,
    pub reason: SkipReason,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "customer {}: {}", self.customer, self.reason)
    }
}

/// Why a customer was skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("the customer id {0:?} cannot name a subscriber")]
    BadKey(String),
    #[error("{n} active data services on different GAM ports; one subscriber per customer")]
    SeveralServices { n: usize },
    #[error("field `{0}` is missing")]
    MissingField(String),
    #[error("device {0:?} is not in the inventory")]
    UnknownDevice(String),
    #[error("port {value:?} is not a G.hn port of {device} (1..{ports})")]
    BadPort {
        value: String,
        device: String,
        ports: u8,
    },
    #[error("{what} {value:?} is out of range: {why}")]
    BadVlan {
        what: &'static str,
        value: String,
        why: String,
    },
    #[error("no endpoint MAC (device {0} is endpoint-aware)")]
    NoMac(String),
    #[error("{0:?} is not a MAC address")]
    BadMac(String),
    #[error("several endpoint MACs: {0}")]
    SeveralMacs(String),
    #[error("{}", no_active_service(.inactive))]
    NoActiveService {
        /// The customer's services that are not active (a pending plan change, say).
        inactive: Vec<String>,
    },
    #[error("the service has no rate")]
    NoRate,
    #[error("no plan matches {down_kbps}/{up_kbps} kbps")]
    NoPlan { down_kbps: u64, up_kbps: u64 },
    #[error("MAC {mac} is also used by {other}")]
    DuplicateMac { mac: String, other: String },
    #[error("VLAN {vlan} is also used on {device} by {other}")]
    VlanClash {
        device: String,
        vlan: String,
        other: String,
    },
    #[error("port {port} of {device} is also used by {other}")]
    PortClash {
        device: String,
        port: u8,
        other: String,
    },
    #[error("endpoint name {name} on {device} is also {other}'s (the GAM needs it unique)")]
    EndpointNameClash {
        device: String,
        name: String,
        other: String,
    },
}

fn no_active_service(inactive: &[String]) -> String {
    match inactive {
        [] => "a subscriber in billing, but with no internet service".to_string(),
        [one] => format!(
            "a subscriber in billing, but its internet service {one} is not active (pending?)"
        ),
        many => format!(
            "a subscriber in billing, but none of its internet services ({}) is active",
            many.join(", ")
        ),
    }
}

/// A plan the mapping proposes (strategy `create`).
#[derive(Clone, Debug, PartialEq)]
pub struct NewPlan {
    pub name: Ident,
    pub plan: BandwidthPlan,
}

/// What a billing rate matches.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanMatch {
    Existing(Ident),
    New(NewPlan),
    Missing,
}

/// What a status means under the rules.
pub fn standing(status: &CustomerStatus, rules: SystemRules<'_>) -> Standing {
    match (status, rules) {
        (
            CustomerStatus::Sonar {
                name,
                activates_account,
                is_delinquent,
            },
            SystemRules::Sonar(m),
        ) => {
            let s = &m.statuses;
            let listed = |list: &[String]| list.iter().any(|n| n.eq_ignore_ascii_case(name));
            if listed(&s.suspended) {
                Standing::Suspended
            } else if listed(&s.active) || *activates_account {
                if *is_delinquent && s.suspend_delinquent {
                    Standing::Suspended
                } else {
                    Standing::Active
                }
            } else {
                Standing::Off
            }
        }
        (CustomerStatus::Splynx { status }, SystemRules::Splynx(m)) => {
            let listed = |list: &[String]| list.iter().any(|n| n.eq_ignore_ascii_case(status));
            // The customer's status decides: a blocked customer keeps `active` services.
            if listed(&m.statuses.suspended) {
                Standing::Suspended
            } else if listed(&m.statuses.active) {
                Standing::Active
            } else {
                Standing::Off
            }
        }
        // A record from the other system: never this system's subscriber.
        _ => Standing::Off,
    }
}

/// The plan for a billing rate: an exact match first, then (unless `exact`) the nearest plan
/// within the tolerance, then (with `create`) a new plan. `extra` holds plans already proposed.
pub fn match_plan(
    down_kbps: u64,
    up_kbps: u64,
    plans: &Plans,
    extra: &[NewPlan],
    m: &PlanMatching,
) -> PlanMatch {
    if down_kbps == 0 || up_kbps == 0 {
        return PlanMatch::Missing;
    }
    let all = plans.iter().chain(extra.iter().map(|p| (&p.name, &p.plan)));
    let mut best: Option<(f64, &Ident)> = None;
    for (name, plan) in all {
        let pd = u64::from(plan.down_mbps.get()) * 1000;
        let pu = u64::from(plan.up_mbps.get()) * 1000;
        if pd == down_kbps && pu == up_kbps {
            return PlanMatch::Existing(name.clone());
        }
        let off = |p: u64, b: u64| (p.abs_diff(b) as f64) * 100.0 / (b as f64);
        let d = off(pd, down_kbps).max(off(pu, up_kbps));
        if best.is_none_or(|(bd, bn)| d < bd || (d == bd && name < bn)) {
            best = Some((d, name));
        }
    }
    if *m.strategy != PlanStrategy::Exact
        && let Some((d, name)) = best
        && d <= f64::from(*m.tolerance_percent)
    {
        return PlanMatch::Existing(name.clone());
    }
    if *m.strategy != PlanStrategy::Create {
        return PlanMatch::Missing;
    }
    let with_overhead = |kbps: u64| {
        let mbps = kbps.div_ceil(1000);
        mbps + (mbps * u64::from(*m.overhead_percent)).div_ceil(100)
    };
    let (Ok(down), Ok(up)) = (
        Mbps::new(u32::try_from(with_overhead(down_kbps)).unwrap_or(u32::MAX)),
        Mbps::new(u32::try_from(with_overhead(up_kbps)).unwrap_or(u32::MAX)),
    ) else {
        return PlanMatch::Missing;
    };
    let (bd, bu) = (down_kbps.div_ceil(1000), up_kbps.div_ceil(1000));
    let base = if bd == bu {
        format!("{bd}M")
    } else {
        format!("{bd}M-{bu}M")
    };
    let taken = |n: &str| plans.get(n).is_some() || extra.iter().any(|p| p.name.as_str() == n);
    let mut name = base.clone();
    let mut i = 2;
    while taken(&name) {
        name = format!("{base}-{i}");
        i += 1;
    }
    let Ok(name) = name.parse::<Ident>() else {
        return PlanMatch::Missing;
    };
    PlanMatch::New(NewPlan {
        name,
        plan: BandwidthPlan {
            down_mbps: Located::bare(down),
            up_mbps: Located::bare(up),
            description: format!("from billing {bd}/{bu} Mbps")
                .parse::<Description>()
                .ok()
                .map(Located::bare),
        },
    })
}

/// Parses a MAC as billing systems write it: `00:0e:d8:1c:95:08`, `00-0E-D8-1C-95-08`,
/// `000ed81c9508`, `000e.d81c.9508`.
pub fn parse_mac(s: &str) -> Option<Mac> {
    let hex: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.' | ' '))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Mac(out))
}

/// Text the GAM can store as a description: printable ASCII without `"`, at most 63 chars.
fn description(s: &str) -> Option<Description> {
    let clean: String = s
        .chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"')
        .take(crate::model::types::MAX_DESCRIPTION_LEN)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        return None;
    }
    clean.parse().ok()
}

/// Maps every customer. The output is deterministic: subscribers by id, lists by customer.
pub fn map_customers(
    customers: &[BillingCustomer],
    rules: SystemRules<'_>,
    ctx: &MapContext<'_>,
) -> MapOutcome {
    let mut out = MapOutcome::default();
    let mut mapped: Vec<(String, Subscriber)> = Vec::new();
    for c in customers {
        match map_one(c, rules, ctx, &mut out.new_plans) {
            Ok(Some(s)) => mapped.push((c.key.clone(), s)),
            Ok(None) => out.absent.push(c.key.clone()),
            Err(reason) => out.skipped.push(Skipped {
                customer: c.key.clone(),
                reason,
            }),
        }
    }
    let conflicts = conflicts(&mapped, ctx);
    for (key, sub) in mapped {
        match conflicts.get(sub.id.as_str()) {
            Some(reason) => out.skipped.push(Skipped {
                customer: key,
                reason: reason.clone(),
            }),
            None => out.subscribers.push(sub),
        }
    }
    // Only plans some mapped subscriber still uses.
    out.new_plans.retain(|p| {
        out.subscribers
            .iter()
            .any(|s| s.plan.as_str() == p.name.as_str())
    });
    out.subscribers.sort_by(|a, b| a.id.cmp(&b.id));
    out.absent.sort();
    out.absent.dedup();
    out.skipped.sort_by(|a, b| a.customer.cmp(&b.customer));
    out
}

fn map_one(
    c: &BillingCustomer,
    rules: SystemRules<'_>,
    ctx: &MapContext<'_>,
    new_plans: &mut Vec<NewPlan>,
) -> Result<Option<Subscriber>, SkipReason> {
    let status = match standing(&c.status, rules) {
        Standing::Off => return Ok(None),
        Standing::Active => SubscriberStatus::Active,
        Standing::Suspended => SubscriberStatus::Suspended,
    };
    let fields = rules.fields();
    let id: Ident = format!("{}-{}", rules.prefix(), c.key)
        .parse()
        .map_err(|_| SkipReason::BadKey(c.key.clone()))?;

    // The data services wired to a GAM; several of them are fine only when they agree on the
    // device and port (a Splynx plan change overlaps the old and new service).
    let services: Vec<&BillingService> = c.services.iter().filter(|s| s.active).collect();
    if services.is_empty() {
        // Active (or suspended) in billing but nothing running: a plan change whose new service
        // is still pending, or no service yet. Not a reason to remove a subscriber, nor to make
        // one: skipped, with the reason, and any subscriber left as it is.
        let mut inactive: Vec<String> = c.services.iter().map(|s| s.id.clone()).collect();
        inactive.sort();
        return Err(SkipReason::NoActiveService { inactive });
    }
    let wired: Vec<&BillingService> = services
        .iter()
        .copied()
        .filter(|s| c.field(Some(s), &fields.device).is_some())
        .collect();
    if wired.is_empty() {
        // No service names a GAM: not a GAM customer.
        return Ok(None);
    }
    let mut places: Vec<(Option<&str>, Option<&str>)> = wired
        .iter()
        .map(|s| {
            (
                c.field(Some(s), &fields.device),
                c.field(Some(s), &fields.port),
            )
        })
        .collect();
    places.sort();
    places.dedup();
    if places.len() > 1 {
        return Err(SkipReason::SeveralServices { n: wired.len() });
    }
    // The newest service: the highest id.
    let service = wired
        .iter()
        .copied()
        .max_by_key(|s| (s.id.parse::<u64>().unwrap_or(0), s.id.clone()))
        .ok_or(SkipReason::MissingField(fields.device.clone()))?;
    let get = |name: &str| c.field(Some(service), name);
    let need = |name: &str| get(name).ok_or_else(|| SkipReason::MissingField(name.to_string()));

    // Device.
    let raw_device = need(&fields.device)?;
    let device_name = fields
        .device_aliases
        .get(raw_device)
        .map(|i| i.as_str().to_string())
        .unwrap_or_else(|| raw_device.to_string());
    let device = ctx
        .devices
        .iter()
        .find(|d| d.name.as_str() == device_name)
        .ok_or_else(|| SkipReason::UnknownDevice(raw_device.to_string()))?;
    let ports = device.model.ghn_ports();

    // Port.
    let raw_port = need(&fields.port)?;
    let port = raw_port
        .parse::<u32>()
        .ok()
        .and_then(|n| PortNumber::new(n).ok())
        .filter(|p| p.get() <= ports)
        .ok_or_else(|| SkipReason::BadPort {
            value: raw_port.to_string(),
            device: device_name.clone(),
            ports,
        })?;

    // VLANs.
    let vlan = parse_vlan("VLAN", need(&fields.vlan)?)?;
    let outer_vlan = match &fields.outer_vlan {
        Some(name) => get(name).map(|v| parse_vlan("outer VLAN", v)).transpose()?,
        None => None,
    };

    // Endpoint.
    let endpoint = match *device.subscriber_model {
        SubscriberModel::PortAware => None,
        SubscriberModel::EndpointAware => {
            let raw: Vec<String> = match &fields.mac {
                Some(name) => get(name)
                    .map(|v| v.split(',').map(|m| m.trim().to_string()).collect())
                    .unwrap_or_default(),
                None => service
                    .macs
                    .iter()
                    .chain(&c.macs)
                    .flat_map(|m| m.split(','))
                    .map(|m| m.trim().to_string())
                    .collect(),
            };
            let mut macs = Vec::new();
            for m in raw.iter().filter(|m| !m.is_empty()) {
                let mac = parse_mac(m).ok_or_else(|| SkipReason::BadMac(m.clone()))?;
                if !macs.contains(&mac) {
                    macs.push(mac);
                }
            }
            match macs.as_slice() {
                [] => return Err(SkipReason::NoMac(device_name)),
                [one] => Some(Endpoint {
                    mac: Located::bare(*one),
                    name: None,
                    description: None,
                }),
                many => {
                    return Err(SkipReason::SeveralMacs(
                        many.iter()
                            .map(Mac::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    ));
                }
            }
        }
    };

    // Plan.
    if service.down_kbps == 0 || service.up_kbps == 0 {
        return Err(SkipReason::NoRate);
    }
    let plan = match match_plan(
        service.down_kbps,
        service.up_kbps,
        ctx.plans,
        new_plans,
        ctx.matching,
    ) {
        PlanMatch::Existing(name) => name,
        PlanMatch::New(p) => {
            let name = p.name.clone();
            new_plans.push(p);
            name
        }
        PlanMatch::Missing => {
            return Err(SkipReason::NoPlan {
                down_kbps: service.down_kbps,
                up_kbps: service.up_kbps,
            });
        }
    };

    let label = match &fields.name {
        Some(f) => get(f).map(str::to_string),
        None => Some(c.name.clone()),
    };
    let device_ident: Ident = device.name.value.clone();
    Ok(Some(Subscriber {
        id: Located::bare(id),
        name: label.as_deref().and_then(description).map(Located::bare),
        device: Located::bare(device_ident),
        port: Located::bare(port),
        endpoint,
        vlan: Located::bare(vlan),
        tagged: false,
        remapped_vlan: None,
        allowed_vlans: Located::bare(Vec::new()),
        outer_vlan: outer_vlan.map(Located::bare),
        nni: None,
        plan: Located::bare(plan),
        status: Located::bare(status),
        protect: false,
        managed_by: rules.managed_by(),
    }))
}

fn parse_vlan(what: &'static str, raw: &str) -> Result<Vlan, SkipReason> {
    let bad = |why: String| SkipReason::BadVlan {
        what,
        value: raw.to_string(),
        why,
    };
    let n: u16 = raw
        .parse()
        .map_err(|_| bad("not a number in 3..4093".into()))?;
    let v = Vlan::new(n).map_err(|e| bad(e.message))?;
    match v.gam_reserved() {
        Some(why) => Err(bad(why.to_string())),
        None => Ok(v),
    }
}

/// Subscribers that collide with another (MAC fleet-wide; C-VLAN and outer VLAN, endpoint name
/// (given or derived from the MAC) per device; port per copper device), among themselves or with subscribers other writers own. Every
/// billing subscriber in a collision is skipped: billing cannot say which one is right.
fn conflicts(mapped: &[(String, Subscriber)], ctx: &MapContext<'_>) -> HashMap<String, SkipReason> {
    enum Key {
        Mac([u8; 6]),
        Vlan(String, (u16, u16)),
        Port(String, u8),
        EndpointName(String, String),
    }
    let copper = |device: &str| {
        ctx.devices
            .iter()
            .find(|d| d.name.as_str() == device)
            .is_some_and(|d| d.model.medium() == Medium::Copper)
    };
    let keys = |s: &Subscriber| {
        let mut k = Vec::new();
        if let Some(e) = &s.endpoint {
            k.push(Key::Mac(e.mac.octets()));
            k.push(Key::EndpointName(s.device.to_string(), e.gam_name()));
        }
        k.push(Key::Vlan(s.device.to_string(), s.vlan_key()));
        if copper(s.device.as_str()) {
            k.push(Key::Port(s.device.to_string(), s.port.get()));
        }
        k
    };
    let name = |k: &Key| match k {
        Key::Mac(m) => format!("mac {m:?}"),
        Key::Vlan(d, v) => format!("vlan {d} {v:?}"),
        Key::Port(d, p) => format!("port {d} {p}"),
        Key::EndpointName(d, n) => format!("endpoint-name {d} {n}"),
    };
    // Key -> the subscribers (ids) holding it; others first.
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in ctx.others {
        for k in keys(s) {
            holders.entry(name(&k)).or_default().push(s.id.to_string());
        }
    }
    for (_, s) in mapped {
        for k in keys(s) {
            holders.entry(name(&k)).or_default().push(s.id.to_string());
        }
    }
    let mut out = HashMap::new();
    for (_, s) in mapped {
        let me = s.id.to_string();
        for k in keys(s) {
            let Some(ids) = holders.get(&name(&k)) else {
                continue;
            };
            let Some(other) = ids.iter().find(|i| **i != me) else {
                continue;
            };
            let reason = match k {
                Key::Mac(m) => SkipReason::DuplicateMac {
                    mac: Mac(m).to_string(),
                    other: other.clone(),
                },
                Key::Vlan(device, (c, o)) => SkipReason::VlanClash {
                    device,
                    vlan: if o == 0 {
                        c.to_string()
                    } else {
                        format!("{c} in {o}")
                    },
                    other: other.clone(),
                },
                Key::Port(device, port) => SkipReason::PortClash {
                    device,
                    port,
                    other: other.clone(),
                },
                Key::EndpointName(device, name) => SkipReason::EndpointNameClash {
                    device,
                    name,
                    other: other.clone(),
                },
            };
            out.entry(me.clone()).or_insert(reason);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BillingMapping;

    fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_saphyr::from_str(text).unwrap()
    }

    const MAPPING: &str = "
sonar:
  url: https://isp.sonar.software
  token: env:SONAR_TOKEN
  statuses: { suspended: [Collections] }
  fields: { outer_vlan: svlan }
splynx:
  url: https://splynx.example.net
  auth: { mode: signature, key: env:SPLYNX_KEY, secret: env:SPLYNX_SECRET }
  fields: { device_aliases: { '17': gam-a } }
plans: { strategy: nearest, tolerance_percent: 10 }
";

    fn mapping() -> BillingMapping {
        yaml(MAPPING)
    }

    fn devices() -> Vec<Device> {
        vec![
            yaml("name: gam-a\nmodel: GAM-12-C\naddress: 10.0.0.1\n"),
            yaml("name: gam-b\nmodel: GAM-24-M\naddress: 10.0.0.2\nsubscriber_model: port-aware\n"),
        ]
    }

    fn plans() -> Plans {
        yaml("500M: {down_mbps: 545, up_mbps: 545}\n100M: {down_mbps: 100, up_mbps: 100}\n")
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn splynx(
        key: &str,
        status: &str,
        sid: &str,
        svc: &[(&str, &str)],
        mac: &str,
    ) -> BillingCustomer {
        BillingCustomer {
            source: ManagedBy::Splynx,
            key: key.into(),
            name: format!("Customer \"{key}\""),
            status: CustomerStatus::Splynx {
                status: status.into(),
            },
            services: vec![BillingService {
                id: sid.into(),
                plan_name: "500M".into(),
                active: true,
                down_kbps: 500_000,
                up_kbps: 500_000,
                fields: fields(svc),
                macs: if mac.is_empty() {
                    vec![]
                } else {
                    vec![mac.into()]
                },
            }],
            fields: BTreeMap::new(),
            macs: vec![],
        }
    }

    fn sonar(key: &str, status: &str, activates: bool, delinquent: bool) -> BillingCustomer {
        BillingCustomer {
            source: ManagedBy::Sonar,
            key: key.into(),
            name: "Unit 4B".into(),
            status: CustomerStatus::Sonar {
                name: status.into(),
                activates_account: activates,
                is_delinquent: delinquent,
            },
            services: vec![BillingService {
                id: "1".into(),
                plan_name: "100M".into(),
                active: true,
                down_kbps: 100_000,
                up_kbps: 100_000,
                fields: BTreeMap::new(),
                macs: vec![],
            }],
            fields: {
                let n: u16 = key.parse().unwrap();
                let mut f = fields(&[("gam", "gam-a")]);
                f.insert("gam_port".into(), n.to_string());
                f.insert("vlan".into(), (1400 + n).to_string());
                f
            },
            macs: vec![format!("00:0e:d8:00:00:{key:0>2}")],
        }
    }

    const WIRED: &[(&str, &str)] = &[("gam", "gam-a"), ("gam_port", "1"), ("vlan", "200")];

    fn run(customers: &[BillingCustomer], others: &[Subscriber]) -> MapOutcome {
        let m = mapping();
        let devices = devices();
        let plans = plans();
        let ctx = MapContext {
            devices: &devices,
            plans: &plans,
            matching: &m.plans,
            others,
        };
        let rules = match customers.first().map(|c| c.source) {
            Some(ManagedBy::Sonar) => SystemRules::Sonar(m.sonar.as_ref().unwrap()),
            _ => SystemRules::Splynx(m.splynx.as_ref().unwrap()),
        };
        map_customers(customers, rules, &ctx)
    }

    #[test]
    fn sonar_statuses() {
        let m = mapping();
        let r = SystemRules::Sonar(m.sonar.as_ref().unwrap());
        let st = |name: &str, a, d| {
            standing(
                &CustomerStatus::Sonar {
                    name: name.into(),
                    activates_account: a,
                    is_delinquent: d,
                },
                r,
            )
        };
        assert_eq!(st("Active", true, false), Standing::Active);
        assert_eq!(st("Active", true, true), Standing::Suspended);
        assert_eq!(st("Collections", true, false), Standing::Suspended);
        assert_eq!(st("Inactive", false, false), Standing::Off);
        assert_eq!(st("Lead", false, true), Standing::Off);
    }

    #[test]
    fn a_blocked_splynx_customer_with_active_services_is_suspended() {
        let out = run(
            &[
                splynx("1", "blocked", "10", WIRED, "000ed81c9508"),
                splynx("2", "disabled", "11", WIRED, "000ed81c9509"),
                splynx("3", "new", "12", WIRED, "000ed81c950a"),
            ],
            &[],
        );
        assert_eq!(out.subscribers.len(), 1, "{out:?}");
        let s = &out.subscribers[0];
        assert_eq!(s.id.as_str(), "splynx-1");
        assert_eq!(*s.status, SubscriberStatus::Suspended);
        assert_eq!(s.managed_by, ManagedBy::Splynx);
        assert_eq!(s.name.as_ref().unwrap().as_str(), "Customer 1");
        assert_eq!(out.absent, vec!["2", "3"]);
    }

    /// Issue 11 (5): an active customer whose only internet service is pending (a plan change
    /// whose old service is already disabled), or who has no service at all, is skipped with
    /// the reason, never dropped without a word.
    #[test]
    fn an_active_customer_without_a_running_service_is_skipped_with_the_reason() {
        let mut pending = splynx("1", "active", "21", WIRED, "000ed81c9508");
        pending.services[0].active = false;
        let mut none = splynx("2", "active", "22", WIRED, "000ed81c9509");
        none.services.clear();
        let mut blocked = splynx("3", "blocked", "23", WIRED, "000ed81c950a");
        blocked.services.clear();
        let out = run(&[pending, none, blocked], &[]);
        assert!(out.subscribers.is_empty(), "{out:?}");
        assert!(out.absent.is_empty(), "{out:?}");
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "customer 1: a subscriber in billing, but its internet service 21 is not active (pending?)",
                "customer 2: a subscriber in billing, but with no internet service",
                "customer 3: a subscriber in billing, but with no internet service",
            ]
        );
    }

    #[test]
    fn the_key_is_the_customer_not_the_service() {
        let before = run(&[splynx("7", "active", "100", WIRED, "000ed81c9508")], &[]);
        // A plan change: the service gets a new id; the old one may still be active.
        let mut after = splynx("7", "active", "131", WIRED, "000ed81c9508");
        let mut old = after.services[0].clone();
        old.id = "100".into();
        old.down_kbps = 100_000;
        old.up_kbps = 100_000;
        after.services.push(old);
        let after = run(&[after], &[]);
        assert_eq!(before.subscribers[0].id, after.subscribers[0].id);
        assert_eq!(after.subscribers[0].plan.as_str(), "500M");
    }

    #[test]
    fn plans_exact_nearest_missing_and_created() {
        let p = plans();
        let mut m = mapping().plans;
        assert_eq!(
            match_plan(100_000, 100_000, &p, &[], &m),
            PlanMatch::Existing("100M".parse().unwrap())
        );
        // 500 Mbps billed, 545 Mbps plan: 9 % off.
        assert_eq!(
            match_plan(500_000, 500_000, &p, &[], &m),
            PlanMatch::Existing("500M".parse().unwrap())
        );
        assert_eq!(
            match_plan(300_000, 300_000, &p, &[], &m),
            PlanMatch::Missing
        );
        m.strategy = Located::bare(PlanStrategy::Exact);
        assert_eq!(
            match_plan(500_000, 500_000, &p, &[], &m),
            PlanMatch::Missing
        );
        m.strategy = Located::bare(PlanStrategy::Create);
        let PlanMatch::New(n) = match_plan(300_000, 50_000, &p, &[], &m) else {
            panic!("no new plan")
        };
        assert_eq!(n.name.as_str(), "300M-50M");
        assert_eq!((n.plan.down_mbps.get(), n.plan.up_mbps.get()), (327, 55));
        // Beyond what a GAM shapes: no plan.
        assert_eq!(
            match_plan(2_500_000, 2_500_000, &p, &[], &m),
            PlanMatch::Missing
        );
        assert_eq!(match_plan(0, 0, &p, &[], &m), PlanMatch::Missing);
    }

    #[test]
    fn created_plans_are_shared_and_reported() {
        let mut m = mapping();
        m.plans.strategy = Located::bare(PlanStrategy::Create);
        let devices = devices();
        let plans = plans();
        let mut a = splynx("1", "active", "1", WIRED, "000ed81c9501");
        let mut b = splynx(
            "2",
            "active",
            "2",
            &[("gam", "gam-a"), ("gam_port", "2"), ("vlan", "201")],
            "000ed81c9502",
        );
        for c in [&mut a, &mut b] {
            c.services[0].down_kbps = 300_000;
            c.services[0].up_kbps = 300_000;
        }
        let ctx = MapContext {
            devices: &devices,
            plans: &plans,
            matching: &m.plans,
            others: &[],
        };
        let out = map_customers(
            &[a, b],
            SystemRules::Splynx(m.splynx.as_ref().unwrap()),
            &ctx,
        );
        assert_eq!(out.subscribers.len(), 2, "{out:?}");
        assert_eq!(out.new_plans.len(), 1);
        assert_eq!(out.new_plans[0].name.as_str(), "300M");
        assert!(out.subscribers.iter().all(|s| s.plan.as_str() == "300M"));
    }

    #[test]
    fn bad_data_is_skipped_with_reasons() {
        let out = run(
            &[
                splynx("1", "active", "1", WIRED, ""),
                splynx(
                    "2",
                    "active",
                    "2",
                    &[("gam", "gam-a"), ("gam_port", "2"), ("vlan", "4094")],
                    "000ed81c9502",
                ),
                splynx(
                    "3",
                    "active",
                    "3",
                    &[("gam", "gam-a"), ("gam_port", "3"), ("vlan", "5000")],
                    "000ed81c9503",
                ),
                splynx(
                    "4",
                    "active",
                    "4",
                    &[("gam", "nowhere"), ("gam_port", "4"), ("vlan", "204")],
                    "000ed81c9504",
                ),
                splynx(
                    "5",
                    "active",
                    "5",
                    &[("gam", "gam-a"), ("gam_port", "13"), ("vlan", "205")],
                    "000ed81c9505",
                ),
                splynx(
                    "6",
                    "active",
                    "6",
                    &[("gam", "gam-a"), ("vlan", "206")],
                    "000ed81c9506",
                ),
                splynx(
                    "7",
                    "active",
                    "7",
                    &[("gam", "gam-a"), ("gam_port", "7"), ("vlan", "207")],
                    "not-a-mac",
                ),
                splynx(
                    "8",
                    "active",
                    "8",
                    &[("gam", "gam-a"), ("gam_port", "8"), ("vlan", "208")],
                    "2CC81BBDC9AB, 00E04C687E6A",
                ),
                // Not wired to a GAM at all: not a GAM customer.
                splynx("9", "active", "9", &[], "000ed81c9509"),
            ],
            &[],
        );
        assert!(out.subscribers.is_empty(), "{:?}", out.subscribers);
        assert_eq!(out.absent, vec!["9"]);
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        let expect = [
            "customer 1: no endpoint MAC (device gam-a is endpoint-aware)",
            "customer 2: VLAN \"4094\" is out of range: VLAN 4094 is the GAM's captive-portal VLAN for unassigned endpoints",
            "customer 3: VLAN \"5000\" is out of range: VLAN 5000 is not a VLAN id",
            "customer 4: device \"nowhere\" is not in the inventory",
            "customer 5: port \"13\" is not a G.hn port of gam-a (1..12)",
            "customer 6: field `gam_port` is missing",
            "customer 7: \"not-a-mac\" is not a MAC address",
            "customer 8: several endpoint MACs: 2c:c8:1b:bd:c9:ab, 00:e0:4c:68:7e:6a",
        ];
        assert_eq!(reasons, expect);
    }

    #[test]
    fn conflicts_skip_every_party() {
        let mut others_src = splynx("99", "active", "99", WIRED, "000ed81c9599");
        others_src.services[0].fields =
            fields(&[("gam", "gam-a"), ("gam_port", "9"), ("vlan", "299")]);
        let manual = run(&[others_src], &[]).subscribers;
        let mut manual = manual;
        manual[0].managed_by = ManagedBy::Manual;
        manual[0].id = Located::bare("manual-1".parse().unwrap());
        let out = run(
            &[
                // Same MAC as each other.
                splynx("1", "active", "1", WIRED, "000ed81c9501"),
                splynx(
                    "2",
                    "active",
                    "2",
                    &[("gam", "gam-a"), ("gam_port", "2"), ("vlan", "202")],
                    "00:0e:d8:1c:95:01",
                ),
                // Same VLAN as the manual subscriber.
                splynx(
                    "3",
                    "active",
                    "3",
                    &[("gam", "gam-a"), ("gam_port", "3"), ("vlan", "299")],
                    "000ed81c9503",
                ),
                // The same port of a copper device (GAM-24-M).
                splynx(
                    "4",
                    "active",
                    "4",
                    &[("gam", "gam-b"), ("gam_port", "9"), ("vlan", "204")],
                    "",
                ),
                splynx(
                    "6",
                    "active",
                    "6",
                    &[("gam", "gam-b"), ("gam_port", "9"), ("vlan", "206")],
                    "",
                ),
                // Sharing a coax port (GAM-12-C) is fine.
                splynx(
                    "7",
                    "active",
                    "7",
                    &[("gam", "gam-a"), ("gam_port", "9"), ("vlan", "207")],
                    "000ed81c9507",
                ),
                // Fine, through a device alias.
                splynx(
                    "5",
                    "active",
                    "5",
                    &[("gam", "17"), ("gam_port", "5"), ("vlan", "205")],
                    "000ed81c9505",
                ),
            ],
            &manual,
        );
        let ids: Vec<&str> = out.subscribers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["splynx-5", "splynx-7"]);
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "customer 1: MAC 00:0e:d8:1c:95:01 is also used by splynx-2",
                "customer 2: MAC 00:0e:d8:1c:95:01 is also used by splynx-1",
                "customer 3: VLAN 299 is also used on gam-a by manual-1",
                "customer 4: port 9 of gam-b is also used by splynx-6",
                "customer 6: port 9 of gam-b is also used by splynx-4",
            ]
        );
    }

    /// Issue 16, item 12: the README's lab billing flow made two endpoints named
    /// `Positron_000001` (MACs `00:..:00:01` and `02:..:00:01`) on one GAM, which refused the
    /// second. Both are skipped with the reason, as other collisions are.
    #[test]
    fn derived_endpoint_names_that_collide_skip_both() {
        let out = run(
            &[
                splynx(
                    "1",
                    "active",
                    "1",
                    &[("gam", "gam-a"), ("gam_port", "1"), ("vlan", "201")],
                    "00:00:00:00:00:01",
                ),
                splynx(
                    "2",
                    "active",
                    "2",
                    &[("gam", "gam-a"), ("gam_port", "2"), ("vlan", "202")],
                    "02:00:00:00:00:01",
                ),
            ],
            &[],
        );
        assert!(out.subscribers.is_empty(), "{:?}", out.subscribers);
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "customer 1: endpoint name Positron_000001 on gam-a is also splynx-2's (the GAM needs it unique)",
                "customer 2: endpoint name Positron_000001 on gam-a is also splynx-1's (the GAM needs it unique)",
            ]
        );
    }

    #[test]
    fn sonar_accounts_map_with_inventory_macs_and_port_aware_devices() {
        let mut port_aware = sonar("2", "Active", true, false);
        port_aware.fields = fields(&[
            ("gam", "gam-b"),
            ("gam_port", "4"),
            ("vlan", "300"),
            ("svlan", "120"),
        ]);
        port_aware.macs.clear();
        let out = run(
            &[
                sonar("1", "Active", true, false),
                port_aware,
                sonar("3", "Active", true, true),
                sonar("4", "Inactive", false, false),
            ],
            &[],
        );
        let got: Vec<(String, SubscriberStatus, Option<String>, Option<u16>)> = out
            .subscribers
            .iter()
            .map(|s| {
                (
                    s.id.to_string(),
                    *s.status,
                    s.endpoint.as_ref().map(|e| e.mac.to_string()),
                    s.outer_vlan.as_ref().map(|v| v.get()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "sonar-1".into(),
                    SubscriberStatus::Active,
                    Some("00:0e:d8:00:00:01".into()),
                    None
                ),
                ("sonar-2".into(), SubscriberStatus::Active, None, Some(120)),
                (
                    "sonar-3".into(),
                    SubscriberStatus::Suspended,
                    Some("00:0e:d8:00:00:03".into()),
                    None
                ),
            ]
        );
        assert_eq!(out.subscribers[0].plan.as_str(), "100M");
        assert_eq!(
            out.subscribers[0].name.as_ref().unwrap().as_str(),
            "Unit 4B"
        );
        assert_eq!(out.absent, vec!["4"]);
        assert_eq!(out.skipped.len(), 0, "{:?}", out.skipped);
    }
}
