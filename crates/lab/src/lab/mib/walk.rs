//! A recorded walk → [`DeviceState`].

use std::collections::BTreeMap;

use super::*;
use crate::lab::device::config;
use crate::lab::device::state::{
    BwProfile, BwRef, DetectedCpe, Endpoint, EndpointPort, MAX_ENDPOINTS, MAX_PROFILES,
    MAX_SUBSCRIBERS, PORT_IFINDEX_BASE, PoeMode, PortMode, PortRole, Sensor, Subscriber,
    SubscriberModel,
};
use crate::lab::device::{DeviceState, Mac};
use crate::lab::snmp::{Oid, Value};
use crate::model::GamModel;

/// The hostname used when the walk's sysName is not a valid one (real walks often have it
/// redacted, e.g. `<private>`): the GAM's factory name.
const FALLBACK_HOSTNAME: &str = "GAM";
/// IF-MIB ifType of a VLAN interface (l3ipvlan).
const IF_TYPE_VLAN: u32 = 135;
/// sysUpTime.0.
const SYS_UPTIME_0: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];

/// Why a walk could not be turned into a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// sysObjectID.0 is missing.
    #[error("the walk has no sysObjectID (1.3.6.1.2.1.1.2.0), so the GAM model is unknown")]
    NoSysObjectId,
    /// sysObjectID is not one of the known GAM models.
    #[error("sysObjectID {0} is not a GAM model the lab knows")]
    UnknownModel(String),
    /// A value has the wrong type or shape.
    #[error("{oid}: expected {expected}, found {found}")]
    BadValue {
        /// The instance.
        oid: String,
        /// What the MIB column holds.
        expected: &'static str,
        /// What the walk had.
        found: String,
    },
    /// A value or row index is outside what the device allows.
    #[error("{oid}: {what} {value} is out of range")]
    OutOfRange {
        /// The instance.
        oid: String,
        /// Which value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A row lacks a column without which it means nothing.
    #[error("row {row} has no {column}")]
    Missing {
        /// The row's first OID.
        row: String,
        /// The column's name.
        column: &'static str,
    },
}

/// Builds a device from a recorded walk (for `gamops lab up --from-walk`).
///
/// Reads the model from sysObjectID, the hostname from sysName (falling back to `GAM` when it is
/// not a valid hostname), the global settings, ports, bandwidth profiles, endpoints and
/// subscribers from the `.143.1.2` tables, port shutdown from the port status table, and the
/// CPEs the GAM sees from the endpoint status tables (by MAC, `.3.30`, and by id, `.3.20`).
/// Entries may come in any order; unknown OIDs and columns are ignored. The startup
/// configuration is the walk's configuration (the device starts saved).
///
/// Subscriber Uids other than the id are kept (in [`DeviceState::subscriber_uids`]), and so are
/// the VLAN interfaces (IF-MIB ifType 135) the G.hn service does not explain, as switch VLANs
/// with their administrative status. Not recoverable from a walk and so left at their
/// defaults: allowed tagged VLANs (the real walk has no such columns).
pub fn state_from_walk(entries: &[(Oid, Value)]) -> Result<DeviceState, WalkError> {
    let walk = Walk {
        map: entries.iter().map(|(o, v)| (o.clone(), v)).collect(),
    };
    let model = walk.model()?;
    let hostname = walk.hostname();
    let mut dev = DeviceState::factory(model, &hostname);
    if let Some(base) = walk.base_mac()? {
        dev.base_mac = base;
    }
    walk.global(&mut dev)?;
    walk.ports(&mut dev)?;
    walk.profiles(&mut dev)?;
    walk.endpoints(&mut dev)?;
    walk.subscribers(&mut dev)?;
    walk.cpes(&mut dev)?;
    walk.temperatures(&mut dev)?;
    walk.switch_vlans(&mut dev)?;
    dev.startup = config::render(&dev.running);
    Ok(dev)
}

/// The device's uptime in a recorded walk (sysUpTime.0), if it has one: a lab serving the walk
/// continues from there.
pub fn walk_uptime(entries: &[(Oid, Value)]) -> Option<std::time::Duration> {
    let oid = Oid::from_slice(SYS_UPTIME_0);
    entries.iter().find_map(|(o, v)| match v {
        Value::TimeTicks(t) if *o == oid => {
            Some(std::time::Duration::from_millis(u64::from(*t) * 10))
        }
        _ => None,
    })
}

/// Parses an uptime as the GAM prints it (`4 days, 23h 13m 1s`, `1 day, 0h 0m 5s`) to seconds.
pub fn parse_uptime(s: &str) -> Option<u64> {
    let (days, rest) = s.split_once(',')?;
    let days: u64 = days
        .trim()
        .strip_suffix("days")
        .or_else(|| days.trim().strip_suffix("day"))?
        .trim()
        .parse()
        .ok()?;
    let mut secs = days.checked_mul(86_400)?;
    let mut parts = rest.split_whitespace();
    for (unit, mult) in [('h', 3600u64), ('m', 60), ('s', 1)] {
        let n: u64 = parts.next()?.strip_suffix(unit)?.parse().ok()?;
        secs = secs.checked_add(n.checked_mul(mult)?)?;
    }
    parts.next().is_none().then_some(secs)
}

/// One row of a table: column → value.
type Row<'a> = BTreeMap<u32, (Oid, &'a Value)>;

struct Walk<'a> {
    map: BTreeMap<Oid, &'a Value>,
}

fn oid_of(prefix: &[u32], tail: &[u32]) -> Oid {
    Oid::new(prefix.iter().chain(tail).copied())
}

fn describe(v: &Value) -> String {
    let s = format!("{v:?}");
    if s.chars().count() > 60 {
        let short: String = s.chars().take(60).collect();
        format!("{short}...")
    } else {
        s
    }
}

fn bad(oid: &Oid, expected: &'static str, v: &Value) -> WalkError {
    WalkError::BadValue {
        oid: oid.to_string(),
        expected,
        found: describe(v),
    }
}

fn out_of_range(oid: &Oid, what: &'static str, value: impl ToString) -> WalkError {
    WalkError::OutOfRange {
        oid: oid.to_string(),
        what,
        value: value.to_string(),
    }
}

/// An unsigned number (Gauge32, Unsigned32, Counter32, or a non-negative Integer32: agents
/// differ in which they use).
fn uint(oid: &Oid, v: &Value) -> Result<u32, WalkError> {
    match v {
        Value::Gauge32(n) | Value::UInteger32(n) | Value::Counter32(n) => Ok(*n),
        Value::Integer(n) => u32::try_from(*n).map_err(|_| bad(oid, "an unsigned number", v)),
        _ => Err(bad(oid, "an unsigned number", v)),
    }
}

fn small<T: TryFrom<u32>>(oid: &Oid, v: &Value, what: &'static str) -> Result<T, WalkError> {
    let n = uint(oid, v)?;
    T::try_from(n).map_err(|_| out_of_range(oid, what, n))
}

fn truth(oid: &Oid, v: &Value) -> Result<bool, WalkError> {
    match v {
        Value::Integer(1) => Ok(true),
        Value::Integer(2) => Ok(false),
        _ => Err(bad(oid, "a TruthValue (1 or 2)", v)),
    }
}

fn text(oid: &Oid, v: &Value) -> Result<String, WalkError> {
    match v {
        Value::OctetString(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        _ => Err(bad(oid, "an OCTET STRING", v)),
    }
}

fn mac(oid: &Oid, v: &Value) -> Result<Mac, WalkError> {
    match v {
        Value::OctetString(b) => <[u8; 6]>::try_from(b.as_ref())
            .map(Mac)
            .map_err(|_| bad(oid, "a 6-byte MacAddress", v)),
        _ => Err(bad(oid, "a 6-byte MacAddress", v)),
    }
}

/// The G.hn port number of an ifIndex (1000000 + n), or None for 0.
fn ghn_port(oid: &Oid, ifindex: u32, ports: u8) -> Result<Option<u8>, WalkError> {
    if ifindex == 0 {
        return Ok(None);
    }
    let n = ifindex.wrapping_sub(PORT_IFINDEX_BASE);
    match u8::try_from(n) {
        Ok(n) if (1..=ports).contains(&n) => Ok(Some(n)),
        _ => Err(out_of_range(oid, "G.hn port ifIndex", ifindex)),
    }
}

/// Row helpers.
fn col<'r, 'a>(row: &'r Row<'a>, c: u32) -> Option<&'r (Oid, &'a Value)> {
    row.get(&c)
}

impl<'a> Walk<'a> {
    fn get(&self, oid: &[u32]) -> Option<(Oid, &'a Value)> {
        let oid = Oid::from_slice(oid);
        self.map.get(&oid).map(|v| (oid, *v))
    }

    /// The rows of the table whose entry OID is `entry`, by index (the arcs after the column).
    fn rows(&self, entry: &[u32]) -> BTreeMap<Vec<u32>, Row<'a>> {
        let prefix = Oid::from_slice(entry);
        let mut rows: BTreeMap<Vec<u32>, Row<'a>> = BTreeMap::new();
        for (oid, v) in self.map.range(prefix.clone()..) {
            if !oid.starts_with(&prefix) {
                break;
            }
            let tail = oid.arcs().get(entry.len()..).unwrap_or(&[]);
            let Some((column, index)) = tail.split_first() else {
                continue;
            };
            if index.is_empty() {
                continue;
            }
            rows.entry(index.to_vec())
                .or_default()
                .insert(*column, (oid.clone(), *v));
        }
        rows
    }

    fn model(&self) -> Result<GamModel, WalkError> {
        let (oid, v) = self
            .get(&[1, 3, 6, 1, 2, 1, 1, 2, 0])
            .ok_or(WalkError::NoSysObjectId)?;
        let Value::ObjectIdentifier(id) = v else {
            return Err(bad(&oid, "an OBJECT IDENTIFIER", v));
        };
        let n = match id.arcs().split_last() {
            Some((n, base)) if base == GAM_PRODUCTS => *n,
            _ => return Err(WalkError::UnknownModel(id.to_string())),
        };
        GamModel::from_sys_object_id(n).ok_or_else(|| WalkError::UnknownModel(id.to_string()))
    }

    fn hostname(&self) -> String {
        let name = match self.get(&[1, 3, 6, 1, 2, 1, 1, 5, 0]) {
            Some((_, Value::OctetString(b))) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        // The ICLI's rule for `hostname <name>`.
        let valid = (1..=45).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if valid {
            name
        } else {
            FALLBACK_HOSTNAME.to_string()
        }
    }

    /// The G.hn modem base MAC: port 1's MAC minus one.
    fn base_mac(&self) -> Result<Option<Mac>, WalkError> {
        let first = PORT_IFINDEX_BASE + 1;
        let Some((oid, v)) = self.get(&[PORT_CFG, &[40, first]].concat()) else {
            return Ok(None);
        };
        Ok(Some(mac_minus(mac(&oid, v)?, 1)))
    }

    /// VLAN interfaces in `ifTable` (ifType 135, ifIndex = VID) that the G.hn configuration does
    /// not explain: switch VLANs configured outside the service.
    fn switch_vlans(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let explained = super::render::vlan_interfaces(&dev.running);
        for (index, row) in self.rows(IF_ENTRY) {
            let [ifindex] = index.as_slice() else {
                continue;
            };
            let Some(vid) = u16::try_from(*ifindex)
                .ok()
                .filter(|v| (1..=4095).contains(v) && !explained.contains(v))
            else {
                continue;
            };
            let is_vlan = match col(&row, 3) {
                Some((oid, v)) => uint(oid, v)? == IF_TYPE_VLAN,
                None => false,
            };
            if !is_vlan {
                continue;
            }
            let admin_up = match col(&row, 7) {
                Some((oid, v)) => uint(oid, v)? == 1,
                None => false,
            };
            dev.switch_vlans.insert(vid, admin_up);
        }
        Ok(())
    }

    fn global(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let g = &mut dev.running.global;
        if let Some((oid, v)) = self.get(&[GLOBAL, &[10, 0]].concat()) {
            g.subscriber_model = match v {
                Value::Integer(0) => SubscriberModel::EndpointAware,
                Value::Integer(1) => SubscriberModel::PortAware,
                _ => return Err(bad(&oid, "endpointAware(0) or portAware(1)", v)),
            };
        }
        if let Some((oid, v)) = self.get(&[GLOBAL, &[20, 0]].concat()) {
            g.default_nni_ifindex = uint(&oid, v)?;
        }
        if let Some((oid, v)) = self.get(&[GLOBAL, &[30, 0]].concat()) {
            g.endpoint_auto_fw_upgrade = truth(&oid, v)?;
        }
        if let Some((oid, v)) = self.get(&[GLOBAL, &[40, 0]].concat()) {
            g.shelf_seed = small(&oid, v, "shelf seed")?;
        }
        Ok(())
    }

    fn ports(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let count = dev.model.ghn_ports();
        for (index, row) in self.rows(PORT_CFG) {
            let oid = oid_of(PORT_CFG, &index);
            let n = match index.as_slice() {
                [ifindex] => ghn_port(&oid, *ifindex, count)?,
                _ => None,
            };
            let Some(n) = n else {
                return Err(out_of_range(&oid, "port table index", format!("{index:?}")));
            };
            let Some(port) = dev.running.ports.get_mut(usize::from(n) - 1) else {
                continue;
            };
            if let Some((oid, v)) = col(&row, 30) {
                port.name = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 50) {
                port.mode = match v {
                    Value::Integer(0) => PortMode::Coax,
                    Value::Integer(1) => PortMode::Mimo,
                    Value::Integer(2) => PortMode::Siso,
                    _ => return Err(bad(oid, "coax(0), mimo(1) or siso(2)", v)),
                };
            }
            if let Some((oid, v)) = col(&row, 60) {
                port.role = match v {
                    Value::Integer(0) => PortRole::DomainMaster,
                    Value::Integer(1) => PortRole::Endpoint,
                    _ => return Err(bad(oid, "domainMaster(0) or endpoint(1)", v)),
                };
            }
        }
        // Shutdown shows only in the status table (AdminEnabled).
        for (index, row) in self.rows(PORT_BRIEF) {
            let oid = oid_of(PORT_BRIEF, &index);
            let Some(n) = (match index.as_slice() {
                [ifindex] => ghn_port(&oid, *ifindex, count)?,
                _ => None,
            }) else {
                continue;
            };
            if let (Some(port), Some((oid, v))) =
                (dev.running.ports.get_mut(usize::from(n) - 1), col(&row, 20))
            {
                port.shutdown = !truth(oid, v)?;
            }
        }
        Ok(())
    }

    fn profiles(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        for (index, row) in self.rows(BW_CFG) {
            let oid = oid_of(BW_CFG, &index);
            let id = match index.as_slice() {
                [id] => u8::try_from(*id)
                    .ok()
                    .filter(|id| (1..=MAX_PROFILES).contains(id)),
                _ => None,
            }
            .ok_or_else(|| out_of_range(&oid, "bandwidth profile id", format!("{index:?}")))?;
            let mut p = dev.running.profiles.get(&id).cloned().unwrap_or(BwProfile {
                name: id.to_string(),
                description: String::new(),
                downstream_mbps: 10,
                upstream_mbps: 10,
            });
            if let Some((oid, v)) = col(&row, 30) {
                p.name = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 40) {
                p.description = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 50) {
                p.downstream_mbps = small(oid, v, "downstream rate")?;
            }
            if let Some((oid, v)) = col(&row, 60) {
                p.upstream_mbps = small(oid, v, "upstream rate")?;
            }
            dev.running.profiles.insert(id, p);
        }
        Ok(())
    }

    fn endpoints(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let count = dev.model.ghn_ports();
        for (index, row) in self.rows(EP_CFG) {
            let oid = oid_of(EP_CFG, &index);
            let id = match index.as_slice() {
                [id] => u16::try_from(*id)
                    .ok()
                    .filter(|id| (1..=MAX_ENDPOINTS).contains(id)),
                _ => None,
            }
            .ok_or_else(|| out_of_range(&oid, "endpoint id", format!("{index:?}")))?;
            let (moid, mv) = col(&row, 20).ok_or_else(|| WalkError::Missing {
                row: oid.to_string(),
                column: "MacAddress (20)",
            })?;
            let m = mac(moid, mv)?;
            let mut e = Endpoint {
                name: m.default_endpoint_name(),
                mac: m,
                description: String::new(),
                port: EndpointPort::Unassigned,
                allow_management_access: false,
            };
            if let Some((oid, v)) = col(&row, 30) {
                e.name = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 40) {
                e.description = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 50)
                && let Some(n) = ghn_port(oid, uint(oid, v)?, count)?
            {
                e.port = EndpointPort::Port(n);
            }
            if let Some((oid, v)) = col(&row, 55)
                && truth(oid, v)?
            {
                e.port = EndpointPort::Auto;
            }
            if let Some((oid, v)) = col(&row, 60) {
                e.allow_management_access = truth(oid, v)?;
            }
            dev.running.endpoints.insert(id, e);
        }
        Ok(())
    }

    fn subscribers(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let count = dev.model.ghn_ports();
        for (index, row) in self.rows(USER_CFG) {
            let oid = oid_of(USER_CFG, &index);
            let id = match index.as_slice() {
                [id] => u16::try_from(*id)
                    .ok()
                    .filter(|id| (1..=MAX_SUBSCRIBERS).contains(id)),
                _ => None,
            }
            .ok_or_else(|| out_of_range(&oid, "subscriber id", format!("{index:?}")))?;
            let mut s = Subscriber::new(id);
            if let Some((oid, v)) = col(&row, 20) {
                let uid = uint(oid, v)?;
                if uid != u32::from(id) {
                    dev.subscriber_uids.insert(id, uid);
                }
            }
            let opt_vid = |oid: &Oid, v: &Value| -> Result<Option<u16>, WalkError> {
                let n: u16 = small(oid, v, "VLAN id")?;
                Ok((n != 0).then_some(n))
            };
            if let Some((oid, v)) = col(&row, 30) {
                s.name = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 40) {
                s.description = text(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 50) {
                let e: u16 = small(oid, v, "endpoint id")?;
                s.endpoint = (e != 0).then_some(e);
            }
            if let Some((oid, v)) = col(&row, 70) {
                let p: u8 = small(oid, v, "bandwidth profile id")?;
                s.bw_profile = if p == 0 {
                    BwRef::Unthrottled
                } else {
                    BwRef::Profile(p)
                };
            }
            if let Some((oid, v)) = col(&row, 90) {
                s.vid = small(oid, v, "VLAN id")?;
            }
            if let Some((oid, v)) = col(&row, 100) {
                s.tagged = truth(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 110) {
                s.remapped_vid = opt_vid(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 120) {
                s.port2_vid = opt_vid(oid, v)?;
            }
            if let Some((oid, v)) = col(&row, 180) {
                s.port = ghn_port(oid, uint(oid, v)?, count)?;
            }
            let double = match col(&row, 190) {
                Some((oid, v)) => truth(oid, v)?,
                None => false,
            };
            if let Some((oid, v)) = col(&row, 200) {
                let n = uint(oid, v)?;
                s.nni_ifindex = (n != 0).then_some(n);
            }
            if let Some((oid, v)) = col(&row, 210) {
                let outer = opt_vid(oid, v)?;
                s.outer_vid = if double { outer } else { None };
            }
            if let Some((oid, v)) = col(&row, 220) {
                s.poe = match v {
                    Value::Integer(0) => PoeMode::Disable,
                    Value::Integer(1) => PoeMode::Enable,
                    Value::Integer(2) => PoeMode::Force,
                    _ => return Err(bad(oid, "disable(0), enable(1) or force(2)", v)),
                };
            }
            dev.running.subscribers.insert(id, s);
        }
        Ok(())
    }

    /// CPEs the GAM sees: status rows (by MAC, then by id for MACs not already found) whose
    /// state is not notDetected(0) and that name a detected port.
    /// The temperature sensors (GAM-SYSUTIL-MIB `.24.1.3.7`), when the walk has them.
    fn temperatures(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let mut sensors = Vec::new();
        for row in self.rows(TEMPERATURE_ENTRY).values() {
            let (Some((noid, name)), Some((toid, tenths))) = (col(row, 2), col(row, 3)) else {
                continue;
            };
            let Value::Integer(tenths) = tenths else {
                return Err(bad(toid, "an Integer32", tenths));
            };
            sensors.push(Sensor {
                name: text(noid, name)?,
                tenths: *tenths,
            });
        }
        if !sensors.is_empty() {
            dev.health.temperatures = sensors;
        }
        Ok(())
    }

    /// sysUpTime in seconds (0 when the walk has none).
    fn uptime_s(&self) -> u64 {
        match self.get(SYS_UPTIME_0) {
            Some((_, Value::TimeTicks(t))) => u64::from(*t) / 100,
            _ => 0,
        }
    }

    fn cpes(&self, dev: &mut DeviceState) -> Result<(), WalkError> {
        let count = dev.model.ghn_ports();
        // The CPEs' uptimes were taken at the walk's sysUpTime.
        let uptime_s = self.uptime_s();
        let mut found: BTreeMap<Mac, DetectedCpe> = BTreeMap::new();
        for (brief, detail) in [(MAC_BRIEF, MAC_DETAIL), (EP_BRIEF, EP_DETAIL)] {
            let details = self.rows(detail);
            for (index, row) in self.rows(brief) {
                let Some((moid, mv)) = col(&row, 10) else {
                    continue;
                };
                let m = mac(moid, mv)?;
                if found.contains_key(&m) {
                    continue;
                }
                let detected = match col(&row, 90) {
                    Some((oid, Value::Integer(s))) => {
                        if !(0..=3).contains(s) {
                            return Err(out_of_range(oid, "endpoint state", s));
                        }
                        *s != 0
                    }
                    Some((oid, v)) => return Err(bad(oid, "an endpoint state", v)),
                    None => false,
                };
                let port = match col(&row, 40) {
                    Some((oid, v)) => ghn_port(oid, uint(oid, v)?, count)?,
                    None => None,
                };
                let (true, Some(port)) = (detected, port) else {
                    continue;
                };
                let mut cpe = DetectedCpe {
                    mac: m,
                    port,
                    model: String::new(),
                    hw_product: String::new(),
                    serial: String::new(),
                    firmware: String::new(),
                    rx_phy_mbps: 0,
                    tx_phy_mbps: 0,
                    uptime_secs: 0,
                    wire_length_m: 0,
                    seen_at_s: uptime_s,
                    firmware_mismatch: false,
                    offline: false,
                    usage_peak_percent: 0,
                };
                if let Some((oid, v)) = col(&row, 120) {
                    cpe.firmware_mismatch = truth(oid, v)?;
                }
                if let Some((oid, v)) = col(&row, 110) {
                    cpe.model = text(oid, v)?;
                }
                if let Some(d) = details.get(&index) {
                    if let Some((oid, v)) = col(d, 30) {
                        cpe.model = text(oid, v)?;
                    }
                    if let Some((oid, v)) = col(d, 40) {
                        cpe.hw_product = text(oid, v)?;
                    }
                    if let Some((oid, v)) = col(d, 50) {
                        cpe.serial = text(oid, v)?;
                    }
                    if let Some((oid, v)) = col(d, 60) {
                        cpe.uptime_secs = parse_uptime(&text(oid, v)?).unwrap_or(0);
                    }
                    if let Some((oid, v)) = col(d, 70) {
                        cpe.firmware = text(oid, v)?;
                    }
                    if let Some((oid, v)) = col(d, 100) {
                        cpe.wire_length_m = uint(oid, v)?;
                    }
                    if let Some((oid, v)) = col(d, 110) {
                        cpe.rx_phy_mbps = uint(oid, v)?;
                    }
                    if let Some((oid, v)) = col(d, 120) {
                        cpe.tx_phy_mbps = uint(oid, v)?;
                    }
                }
                found.insert(m, cpe);
            }
        }
        dev.cpes = found.into_values().collect();
        Ok(())
    }
}
