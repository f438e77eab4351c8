//! [`DeviceState`] → OID tree.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::*;
use crate::lab::device::link;
use crate::lab::device::state::{
    BwRef, DEFAULT_PROFILE_ID, DEFAULT_SUBSCRIBER_VID, DetectedCpe, EndpointPort, EndpointState,
    PORT_IFINDEX_BASE, PoeMode, PortMode, PortRole, RunningConfig, Subscriber, SubscriberModel,
    format_uptime,
};
use crate::lab::device::{DeviceState, Mac};
use crate::lab::snmp::{MibView, Oid, Value};
use crate::model::Medium;

/// The firmware release the lab's GAMs report (the walk's).
const FIRMWARE_RELEASE: &str = "1.5.4";
/// The G.hn firmware of the GAM's own modems (`.3.10.20` FwVersion in the walk).
const GHN_FIRMWARE: &str = "POS-GAM-HE-P2MP SPIRIT.v7_10_r713+7_positron_24260";
/// HwProduct of the GAM's G.hn modems (the walk's; the lab uses it for every model).
const GHN_HW_PRODUCT: &str = "DCP962C";
/// A GAM port modem's serial number: 63 zeros in the walk.
const GHN_PORT_SERIAL: &str = "000000000000000000000000000000000000000000000000000000000000000";
/// What the walk's endpoint firmware-upgrade status says for an idle CPE.
const FW_UPGRADE_IDLE: &str = "Ready: initial status";
/// sysServices of the walk (physical + datalink).
const SYS_SERVICES_VALUE: i32 = 3;
/// ifType of a physical port (ethernetCsmacd) and of a VLAN interface (l2vlan).
const IF_TYPE_PORT: i32 = 6;
const IF_TYPE_VLAN: i32 = 135;
/// ifSpeed of VLAN interfaces in the walk.
const VLAN_SPEED: u32 = 1_000_000_000;
/// `GAMGhnAgentCPEType` unknown(255), for a row whose CPE is not seen.
const CPE_TYPE_UNKNOWN: i32 = 255;
/// `GAMPortStatusSpeed` speed1G(3): a CPE's GbE link in the walk.
const LINK_SPEED_1G: i32 = 3;
/// PoE enumerations' na(2).
const POE_NA: i32 = 2;

/// Renders `state` as a real GAM answers a walk of the system group, `ifTable`, `ifXTable` and
/// GAM-GHN-AGENT-MIB (`.143.1`: configuration, status, control, statistics), in OID order.
///
/// `uptime` is the time since the (simulated) GAM booted: sysUpTime and the port uptimes.
pub fn render(state: &DeviceState, uptime: Duration) -> Vec<(Oid, Value)> {
    let mut out = render_unsorted(state, uptime);
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The subtrees [`render`] owns and [`refresh`] replaces: system, `ifTable`, `ifXTable`, and
/// GAM-GHN-AGENT-MIB objects (`.143.1`: configuration, status, control, statistics).
pub fn rendered_subtrees() -> Vec<Oid> {
    vec![
        Oid::from_slice(SYSTEM),
        Oid::from_slice(IF_TABLE),
        Oid::from_slice(IFX_TABLE),
        Oid::from_slice(GHN_AGENT),
        Oid::from_slice(TEMPERATURE_TABLE),
        Oid::from_slice(ALARM_TABLE),
    ]
}

/// Renders `state` into `view`, replacing every [`rendered_subtrees`] subtree in one step (no
/// SNMP reader sees half an update) and keeping the rest of the view. Returns the number of
/// entries rendered. Call it after every change to the device.
pub fn refresh(view: &MibView, state: &DeviceState, uptime: Duration) -> usize {
    view.replace_subtrees(&rendered_subtrees(), render_unsorted(state, uptime))
}

/// A new view holding `state` rendered.
pub fn view_of(state: &DeviceState, uptime: Duration) -> MibView {
    MibView::from_entries(render_unsorted(state, uptime))
}

/// The VLAN interfaces (ifIndex = VID) of a device with this configuration: 1 (default VLAN),
/// 2 (CPE management) and 4094 (captive portal) always, and for each subscriber the VLAN it
/// puts on the uplink: its S-VLAN (`outer-vid`) when Q-in-Q is on, otherwise its C-VLAN, its
/// second-port VLAN and its extra tagged VLANs.
pub fn vlan_interfaces(running: &RunningConfig) -> BTreeSet<u16> {
    let mut vids: BTreeSet<u16> = [1, 2, DEFAULT_SUBSCRIBER_VID].into_iter().collect();
    for s in running.subscribers.values() {
        match s.outer_vid {
            Some(outer) => {
                vids.insert(outer);
            }
            None => {
                vids.insert(s.vid);
                vids.extend(s.port2_vid);
                vids.extend(s.allowed_vlans.iter().copied());
            }
        }
    }
    vids.retain(|v| (1..=4095).contains(v));
    vids
}

/// Collects `(OID, value)` pairs.
struct Out {
    entries: Vec<(Oid, Value)>,
}

impl Out {
    /// `prefix.col.index...`
    fn put(&mut self, prefix: &[u32], col: u32, index: &[u32], value: Value) {
        // Assemble the arcs on the stack: this runs some 50 000 times for a full device.
        let mut arcs = [0u32; 32];
        let len = prefix.len() + 1 + index.len();
        let oid = match arcs.get_mut(..len) {
            Some(buf) => {
                let (head, rest) = buf.split_at_mut(prefix.len());
                head.copy_from_slice(prefix);
                if let Some((c, tail)) = rest.split_first_mut() {
                    *c = col;
                    tail.copy_from_slice(index);
                }
                Oid::from_slice(buf)
            }
            None => Oid::new(
                prefix
                    .iter()
                    .copied()
                    .chain([col])
                    .chain(index.iter().copied()),
            ),
        };
        self.entries.push((oid, value));
    }
}

fn int(v: i32) -> Value {
    Value::Integer(v)
}

fn gauge(v: u32) -> Value {
    Value::Gauge32(v)
}

fn text(s: &str) -> Value {
    Value::OctetString(s.as_bytes().to_vec().into())
}

fn truth(b: bool) -> Value {
    Value::Integer(if b { TRUE } else { FALSE })
}

fn mac(m: Mac) -> Value {
    Value::OctetString(m.0.to_vec().into())
}

/// An ifIndex as the MIB's Integer32 (`GAMInterfaceIndex`); ifIndexes stay far below 2^31.
fn ifindex_int(ifindex: u32) -> Value {
    int(i32::try_from(ifindex).unwrap_or(i32::MAX))
}

fn ghn_ifindex(port: u8) -> u32 {
    PORT_IFINDEX_BASE + u32::from(port)
}

fn mac_index(m: Mac) -> [u32; 6] {
    m.0.map(u32::from)
}

/// `GAMGhnAgentPortMode`.
fn port_mode_value(mode: PortMode) -> i32 {
    match mode {
        PortMode::Coax => 0,
        PortMode::Mimo => 1,
        PortMode::Siso => 2,
    }
}

/// `GAMGhnAgentCPEType` of a model string.
fn cpe_type(model: &str) -> i32 {
    match model {
        "G1000-M" => 1,
        "G1000-C" => 2,
        "G1001-M" => 3,
        "G1001-C" => 4,
        "G1001-MR" => 8,
        "G1001-CR" => 9,
        "G1001-MP" => 11,
        "G2002-M" => 12,
        "G1002-C" => 13,
        "G2002-M+" => 14,
        "G1002-C+" => 15,
        "G1002-M" => 16,
        "G1002-M+" => 17,
        _ => CPE_TYPE_UNKNOWN,
    }
}

/// The share of the PHY rate a CPE can carry: 78.1 %, rounded (the walk: 1805 → 1410).
fn max_xput(phy_mbps: u32) -> u32 {
    let v = (u64::from(phy_mbps) * 781 + 500) / 1000;
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn feet(meters: u32) -> u32 {
    let v = (u64::from(meters) * 328_084 + 50_000) / 100_000;
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Physical-port layout of a model.
struct Layout {
    ghn: u32,
    uplinks: u32,
}

impl Layout {
    fn of(state: &DeviceState) -> Layout {
        Layout {
            ghn: u32::from(state.model.ghn_ports()),
            uplinks: u32::from(state.model.info().uplinks),
        }
    }

    fn total(&self) -> u32 {
        self.ghn + self.uplinks + 1
    }

    /// The switch's own MAC (VLAN interfaces); physical port i has this + i.
    fn switch_mac(&self, state: &DeviceState) -> Mac {
        mac_minus(state.base_mac, self.total() + 8)
    }
}

/// sysDescr: `GAM-12-C GigaBit Ethernet Switch, firmware GAM-12/24-C_v1.5.4`.
fn sys_descr(state: &DeviceState) -> String {
    let family = match state.model.ghn_ports() {
        0..=8 => "GAM-4/8",
        _ => "GAM-12/24",
    };
    let medium = match state.model.medium() {
        Medium::Coax => "C",
        Medium::Copper => "M",
    };
    format!(
        "{} GigaBit Ethernet Switch, firmware {family}-{medium}_v{FIRMWARE_RELEASE}",
        state.model.name()
    )
}

fn render_unsorted(state: &DeviceState, uptime: Duration) -> Vec<(Oid, Value)> {
    let subscribers = state.running.subscribers.len();
    let endpoints = state.running.endpoints.len();
    let mut out = Out {
        entries: Vec::with_capacity(600 + 20 * subscribers + 140 * endpoints),
    };
    let ctx = Ctx::new(state, uptime);
    ctx.system(&mut out);
    ctx.interfaces(&mut out);
    ctx.config(&mut out);
    ctx.port_status(&mut out);
    ctx.endpoint_status(&mut out);
    ctx.control_and_statistics(&mut out);
    ctx.health(&mut out);
    out.entries
}

/// One render's shared look-ups.
struct Ctx<'a> {
    state: &'a DeviceState,
    uptime: Duration,
    uptime_secs: u64,
    layout: Layout,
    /// CPEs the GAM sees, by MAC.
    cpes: BTreeMap<Mac, &'a DetectedCpe>,
    /// The lowest-numbered subscriber of each endpoint (endpoint-aware) ...
    user_by_endpoint: BTreeMap<u16, (u16, &'a Subscriber)>,
    /// ... and of each port (port-aware).
    user_by_port: BTreeMap<u8, (u16, &'a Subscriber)>,
}

/// What the endpoint status tables show for one endpoint or CPE.
struct EpStatus<'a> {
    mac: Mac,
    /// Configured endpoint id and row, if any.
    conf: Option<(u16, &'a crate::lab::device::state::Endpoint)>,
    cpe: Option<&'a DetectedCpe>,
    user: Option<(u16, &'a Subscriber)>,
    state: EndpointState,
}

impl<'a> Ctx<'a> {
    fn new(state: &'a DeviceState, uptime: Duration) -> Ctx<'a> {
        let mut user_by_endpoint = BTreeMap::new();
        let mut user_by_port = BTreeMap::new();
        for (id, s) in &state.running.subscribers {
            if let Some(ep) = s.endpoint {
                user_by_endpoint.entry(ep).or_insert((*id, s));
            }
            if let Some(p) = s.port {
                user_by_port.entry(p).or_insert((*id, s));
            }
        }
        Ctx {
            state,
            uptime,
            uptime_secs: uptime.as_secs(),
            layout: Layout::of(state),
            cpes: state.visible_cpes().map(|c| (c.mac, c)).collect(),
            user_by_endpoint,
            user_by_port,
        }
    }

    fn running(&self) -> &'a RunningConfig {
        &self.state.running
    }

    fn system(&self, out: &mut Out) {
        let ticks = uptime_ticks(self.uptime);
        let oid = Oid::new(
            GAM_PRODUCTS
                .iter()
                .copied()
                .chain([self.state.model.info().sys_object_id]),
        );
        out.put(SYSTEM, SYS_DESCR, &[0], text(&sys_descr(self.state)));
        out.put(SYSTEM, SYS_OBJECT_ID, &[0], Value::ObjectIdentifier(oid));
        out.put(SYSTEM, SYS_UPTIME, &[0], Value::TimeTicks(ticks));
        out.put(SYSTEM, SYS_CONTACT, &[0], text(""));
        out.put(SYSTEM, SYS_NAME, &[0], text(self.state.hostname()));
        out.put(SYSTEM, SYS_LOCATION, &[0], text(""));
        out.put(SYSTEM, SYS_SERVICES, &[0], int(SYS_SERVICES_VALUE));
    }

    fn interfaces(&self, out: &mut Out) {
        let switch_mac = self.layout.switch_mac(self.state);
        let mut vids = vlan_interfaces(self.running());
        vids.extend(self.state.switch_vlans.keys().copied());
        for vid in vids {
            let ifindex = u32::from(vid);
            let switch_vlan_up = self.state.switch_vlans.get(&vid).copied();
            let row = IfRow {
                ifindex,
                descr: format!("VLAN{vid:>5}"),
                if_type: IF_TYPE_VLAN,
                mtu: 0,
                speed: VLAN_SPEED,
                phys: switch_mac,
                admin_up: switch_vlan_up.unwrap_or(vid == 1 || vid == 2),
                oper_up: false,
            };
            row.put(out);
        }
        let l = &self.layout;
        for i in 1..=l.total() {
            let ifindex = PORT_IFINDEX_BASE + i;
            let phys = switch_mac.offset(i);
            let (row, name, high_speed) = if i <= l.ghn {
                let n = u8::try_from(i).unwrap_or(u8::MAX);
                let shut = self.running().port(n).is_none_or(|p| p.shutdown);
                let row = IfRow {
                    ifindex,
                    descr: format!("Port G.hn-{i}"),
                    if_type: IF_TYPE_PORT,
                    mtu: 2014,
                    speed: 2_500_000_000,
                    phys,
                    admin_up: !shut,
                    oper_up: self.cpes.values().any(|c| c.port == n),
                };
                (row, format!("G.hn 1/{i}"), 2500)
            } else if i <= l.ghn + l.uplinks {
                let u = i - l.ghn;
                let row = IfRow {
                    ifindex,
                    descr: format!("Port 10G-{u}"),
                    if_type: IF_TYPE_PORT,
                    mtu: 2048,
                    speed: u32::MAX,
                    phys,
                    admin_up: true,
                    oper_up: true,
                };
                (row, format!("10GigabitEthernet 1/{u}"), 10_000)
            } else {
                let row = IfRow {
                    ifindex,
                    descr: "Port MGMT".to_string(),
                    if_type: IF_TYPE_PORT,
                    mtu: 2048,
                    speed: 100_000_000,
                    phys,
                    admin_up: true,
                    oper_up: true,
                };
                (row, "GigabitEthernet 1/1".to_string(), 1000)
            };
            row.put(out);
            let idx = [ifindex];
            out.put(IFX_ENTRY, 1, &idx, text(&name));
            for col in 2..=5 {
                out.put(IFX_ENTRY, col, &idx, Value::Counter32(0));
            }
            for col in 6..=13 {
                out.put(IFX_ENTRY, col, &idx, Value::Counter64(0));
            }
            out.put(IFX_ENTRY, 15, &idx, gauge(high_speed));
            out.put(IFX_ENTRY, 18, &idx, text(""));
            out.put(IFX_ENTRY, 19, &idx, Value::TimeTicks(0));
        }
    }

    fn config(&self, out: &mut Out) {
        let r = self.running();
        let g = &r.global;
        let model = match g.subscriber_model {
            SubscriberModel::EndpointAware => 0,
            SubscriberModel::PortAware => 1,
        };
        out.put(GLOBAL, 10, &[0], int(model));
        out.put(GLOBAL, 20, &[0], ifindex_int(g.default_nni_ifindex));
        out.put(GLOBAL, 30, &[0], truth(g.endpoint_auto_fw_upgrade));
        out.put(GLOBAL, 40, &[0], int(i32::from(g.shelf_seed)));

        for (i, p) in r.ports.iter().enumerate() {
            let n = u8::try_from(i + 1).unwrap_or(u8::MAX);
            let ifindex = ghn_ifindex(n);
            let idx = [ifindex];
            out.put(PORT_CFG, 10, &idx, ifindex_int(ifindex));
            out.put(PORT_CFG, 30, &idx, text(&p.name));
            out.put(PORT_CFG, 40, &idx, mac(self.state.port_mac(n)));
            out.put(PORT_CFG, 50, &idx, int(port_mode_value(p.mode)));
            let role = match p.role {
                PortRole::DomainMaster => 0,
                PortRole::Endpoint => 1,
            };
            out.put(PORT_CFG, 60, &idx, int(role));
            // RFC 5517 isolated(1), community 1: the walk's values; the lab does not model them.
            out.put(PORT_CFG, 71, &idx, int(1));
            out.put(PORT_CFG, 72, &idx, gauge(1));
            out.put(PORT_CFG, 10000, &idx, gauge(0));
        }

        for (id, e) in &r.endpoints {
            let idx = [u32::from(*id)];
            let (port, auto) = match e.port {
                EndpointPort::Port(p) => (ghn_ifindex(p), false),
                EndpointPort::Auto => (0, true),
                EndpointPort::Unassigned => (0, false),
            };
            out.put(EP_CFG, 10, &idx, gauge(u32::from(*id)));
            out.put(EP_CFG, 20, &idx, mac(e.mac));
            // Columns 25 and 26 are newer than the MIB file; the walk has false in both.
            out.put(EP_CFG, 25, &idx, int(FALSE));
            out.put(EP_CFG, 26, &idx, int(FALSE));
            out.put(EP_CFG, 30, &idx, text(&e.name));
            out.put(EP_CFG, 40, &idx, text(&e.description));
            out.put(EP_CFG, 50, &idx, ifindex_int(port));
            out.put(EP_CFG, 55, &idx, truth(auto));
            out.put(EP_CFG, 60, &idx, truth(e.allow_management_access));
            out.put(EP_CFG, 10000, &idx, gauge(0));
        }
        endpoint_editor(out);

        for (id, p) in &r.profiles {
            let idx = [u32::from(*id)];
            out.put(BW_CFG, 10, &idx, gauge(u32::from(*id)));
            out.put(BW_CFG, 20, &idx, gauge(u32::from(*id)));
            out.put(BW_CFG, 30, &idx, text(&p.name));
            out.put(BW_CFG, 40, &idx, text(&p.description));
            out.put(BW_CFG, 50, &idx, gauge(u32::from(p.downstream_mbps)));
            out.put(BW_CFG, 60, &idx, gauge(u32::from(p.upstream_mbps)));
            out.put(BW_CFG, 10000, &idx, gauge(0));
        }
        profile_editor(out);

        // The allowed-tagged-VLAN bitmaps (columns 130..160) are in the MIB but not in the real
        // 1.5.4 walk, whose only subscriber has none: the lab serves them for every row once any
        // subscriber has allowed VLANs, so a reader can see them.
        let allowed_columns = r.subscribers.values().any(|s| !s.allowed_vlans.is_empty());
        for (id, s) in &r.subscribers {
            self.subscriber(out, *id, s, allowed_columns);
        }
        subscriber_editor(out);
    }

    fn subscriber(&self, out: &mut Out, id: u16, s: &Subscriber, allowed_columns: bool) {
        let r = self.running();
        let idx = [u32::from(id)];
        let endpoint_name = s
            .endpoint
            .and_then(|e| r.endpoints.get(&e))
            .map_or("", |e| e.name.as_str());
        let (bw_id, bw_name) = self.profile_of(Some(s));
        out.put(USER_CFG, 10, &idx, gauge(u32::from(id)));
        out.put(USER_CFG, 20, &idx, gauge(self.state.subscriber_uid(id)));
        out.put(USER_CFG, 30, &idx, text(&s.name));
        out.put(USER_CFG, 40, &idx, text(&s.description));
        out.put(
            USER_CFG,
            50,
            &idx,
            gauge(u32::from(s.endpoint.unwrap_or(0))),
        );
        out.put(USER_CFG, 55, &idx, text(endpoint_name));
        out.put(USER_CFG, 70, &idx, gauge(bw_id));
        out.put(USER_CFG, 75, &idx, text(bw_name));
        out.put(USER_CFG, 90, &idx, gauge(u32::from(s.vid)));
        out.put(USER_CFG, 100, &idx, truth(s.tagged));
        out.put(
            USER_CFG,
            110,
            &idx,
            gauge(u32::from(s.remapped_vid.unwrap_or(0))),
        );
        out.put(
            USER_CFG,
            120,
            &idx,
            gauge(u32::from(s.port2_vid.unwrap_or(0))),
        );
        if allowed_columns {
            for (quarter, column) in [130u32, 140, 150, 160].into_iter().enumerate() {
                out.put(
                    USER_CFG,
                    column,
                    &idx,
                    Value::OctetString(vlan_quarter(&s.allowed_vlans, quarter).into()),
                );
            }
        }
        // TrunkMode: not modelled by the lab; the walk's false.
        out.put(USER_CFG, 170, &idx, truth(false));
        out.put(
            USER_CFG,
            180,
            &idx,
            ifindex_int(s.port.map_or(0, ghn_ifindex)),
        );
        out.put(USER_CFG, 190, &idx, truth(s.double_tags()));
        out.put(USER_CFG, 200, &idx, ifindex_int(s.nni_ifindex.unwrap_or(0)));
        out.put(
            USER_CFG,
            210,
            &idx,
            gauge(u32::from(s.outer_vid.unwrap_or(0))),
        );
        out.put(USER_CFG, 220, &idx, int(poe_value(s.poe)));
        out.put(USER_CFG, 10000, &idx, gauge(0));
    }

    /// Profile id and name a subscriber (or its absence: profile 1) gives its endpoint.
    fn profile_of(&self, s: Option<&Subscriber>) -> (u32, &'a str) {
        let r = self.running();
        let id = match s.map(|s| s.bw_profile) {
            Some(BwRef::Unthrottled) => return (0, ""),
            Some(BwRef::Profile(p)) => p,
            None => DEFAULT_PROFILE_ID,
        };
        let name = r.profiles.get(&id).map_or("", |p| p.name.as_str());
        (u32::from(id), name)
    }

    fn port_status(&self, out: &mut Out) {
        let uptime = format_uptime(self.uptime_secs);
        for (i, p) in self.running().ports.iter().enumerate() {
            let n = u8::try_from(i + 1).unwrap_or(u8::MAX);
            let ifindex = ghn_ifindex(n);
            let idx = [ifindex];
            let port_mac = self.state.port_mac(n);
            let on_port: Vec<&DetectedCpe> = self
                .cpes
                .values()
                .copied()
                .filter(|c| c.port == n)
                .collect();
            let macs: Vec<String> = on_port.iter().map(|c| c.mac.upper()).collect();
            let xput = on_port
                .iter()
                .map(|c| max_xput(c.tx_phy_mbps))
                .min()
                .unwrap_or(0);
            out.put(PORT_BRIEF, 10, &idx, ifindex_int(ifindex));
            out.put(PORT_BRIEF, 20, &idx, truth(!p.shutdown));
            out.put(PORT_BRIEF, 30, &idx, mac(port_mac));
            out.put(PORT_BRIEF, 40, &idx, text(&macs.join(",")));
            out.put(PORT_BRIEF, 50, &idx, truth(false));
            out.put(PORT_BRIEF, 60, &idx, truth(false));
            out.put(PORT_BRIEF, 70, &idx, truth(false));

            let device_name = match self.state.model.medium() {
                Medium::Coax => "GAM-C",
                Medium::Copper => "GAM-M",
            };
            out.put(PORT_DETAIL, 10, &idx, mac(port_mac));
            out.put(PORT_DETAIL, 20, &idx, truth(!p.shutdown));
            out.put(PORT_DETAIL, 30, &idx, text(device_name));
            out.put(PORT_DETAIL, 40, &idx, text(GHN_HW_PRODUCT));
            out.put(PORT_DETAIL, 50, &idx, text(GHN_PORT_SERIAL));
            out.put(PORT_DETAIL, 60, &idx, text(&uptime));
            out.put(PORT_DETAIL, 70, &idx, text(GHN_FIRMWARE));
            out.put(PORT_DETAIL, 80, &idx, gauge(xput));
            out.put(PORT_DETAIL, 90, &idx, int(port_mode_value(p.mode)));
            out.put(PORT_DETAIL, 100, &idx, gauge(0));
            out.put(PORT_DETAIL, 105, &idx, gauge(0));
        }
    }

    /// The subscriber that serves endpoint `conf_id` (endpoint-aware) or the CPE's port
    /// (port-aware).
    fn user_for(
        &self,
        conf_id: Option<u16>,
        cpe: Option<&DetectedCpe>,
    ) -> Option<(u16, &'a Subscriber)> {
        match self.running().global.subscriber_model {
            SubscriberModel::EndpointAware => {
                conf_id.and_then(|id| self.user_by_endpoint.get(&id).copied())
            }
            SubscriberModel::PortAware => cpe.and_then(|c| self.user_by_port.get(&c.port).copied()),
        }
    }

    fn endpoint_status(&self, out: &mut Out) {
        let r = self.running();
        for (id, e) in &r.endpoints {
            let cpe = self.cpes.get(&e.mac).copied();
            let st = EpStatus {
                mac: e.mac,
                conf: Some((*id, e)),
                cpe,
                user: self.user_for(Some(*id), cpe),
                state: self
                    .state
                    .endpoint_state(*id)
                    .unwrap_or(EndpointState::NotDetected),
            };
            let idx = [u32::from(*id)];
            self.status_rows(
                out,
                &st,
                &idx,
                [EP_BRIEF, EP_DETAIL, EP_LINK, EP_FW, EP_POE],
            );
        }
        let mut macs: BTreeMap<Mac, Option<(u16, &crate::lab::device::state::Endpoint)>> =
            self.cpes.keys().map(|m| (*m, None)).collect();
        for (id, e) in &r.endpoints {
            // The lowest id wins if two rows share a MAC (the rules forbid it).
            let slot = macs.entry(e.mac).or_insert(None);
            if slot.is_none() {
                *slot = Some((*id, e));
            }
        }
        for (m, conf) in macs {
            let cpe = self.cpes.get(&m).copied();
            let state = match conf {
                Some((id, _)) => self.state.endpoint_state(id),
                None => self.state.cpe_state(m),
            }
            .unwrap_or(EndpointState::NotDetected);
            let st = EpStatus {
                mac: m,
                conf,
                cpe,
                user: self.user_for(conf.map(|(id, _)| id), cpe),
                state,
            };
            let idx = mac_index(m);
            self.status_rows(
                out,
                &st,
                &idx,
                [MAC_BRIEF, MAC_DETAIL, MAC_LINK, MAC_FW, MAC_POE],
            );
        }
    }

    /// The brief row, and when the CPE is seen its detailed, link, FW-upgrade and PoE rows.
    fn status_rows(&self, out: &mut Out, st: &EpStatus<'_>, idx: &[u32], tables: [&[u32]; 5]) {
        let [brief, detail, link, fw, poe] = tables;
        let (conf_id, conf_name, conf_port, auto) = match st.conf {
            Some((id, e)) => {
                let (port, auto) = match e.port {
                    EndpointPort::Port(p) => (ghn_ifindex(p), false),
                    EndpointPort::Auto => (0, true),
                    EndpointPort::Unassigned => (0, false),
                };
                (u32::from(id), e.name.as_str(), port, auto)
            }
            None => (0, "", 0, false),
        };
        let (user_id, user_uid, user_name) = match st.user {
            Some((id, s)) => (
                u32::from(id),
                self.state.subscriber_uid(id),
                s.name.as_str(),
            ),
            None => (0, 0, ""),
        };
        let (bw_id, bw_name) = self.profile_of(st.user.map(|(_, s)| s));
        let model = st.cpe.map_or("", |c| c.model.as_str());
        out.put(brief, 10, idx, mac(st.mac));
        out.put(brief, 20, idx, gauge(conf_id));
        out.put(brief, 25, idx, text(conf_name));
        out.put(brief, 30, idx, ifindex_int(conf_port));
        out.put(brief, 35, idx, truth(auto));
        out.put(
            brief,
            40,
            idx,
            ifindex_int(st.cpe.map_or(0, |c| ghn_ifindex(c.port))),
        );
        out.put(brief, 50, idx, gauge(user_id));
        out.put(brief, 55, idx, text(user_name));
        out.put(brief, 60, idx, gauge(user_uid));
        out.put(brief, 70, idx, gauge(bw_id));
        out.put(brief, 75, idx, text(bw_name));
        out.put(brief, 80, idx, gauge(bw_id));
        out.put(brief, 90, idx, int(st.state.mib_value()));
        let model_type = if st.cpe.is_some() {
            cpe_type(model)
        } else {
            CPE_TYPE_UNKNOWN
        };
        out.put(brief, 100, idx, int(model_type));
        out.put(brief, 110, idx, text(model));
        out.put(
            brief,
            120,
            idx,
            truth(st.cpe.is_some_and(|c| c.firmware_mismatch)),
        );

        let Some(cpe) = st.cpe else {
            return;
        };
        let mode = self
            .running()
            .port(cpe.port)
            .map_or(0, |p| port_mode_value(p.mode));
        let rx_max = max_xput(cpe.rx_phy_mbps);
        let tx_max = max_xput(cpe.tx_phy_mbps);
        // The GAM estimates the wire length on copper only.
        let wire_m = if mode == port_mode_value(PortMode::Coax) {
            0
        } else {
            cpe.wire_length_m
        };
        let (rx_usage, tx_usage) = if cpe.usage_peak_percent == 0 {
            (0, 0)
        } else {
            let now = link::second_of_day_now();
            (
                link::usage(rx_max, cpe.usage_peak_percent, now),
                link::usage(tx_max, cpe.usage_peak_percent, now),
            )
        };
        out.put(detail, 10, idx, mac(cpe.mac));
        out.put(detail, 20, idx, truth(true));
        out.put(detail, 30, idx, text(&cpe.model));
        out.put(detail, 40, idx, text(&cpe.hw_product));
        out.put(detail, 50, idx, text(&cpe.serial));
        out.put(
            detail,
            60,
            idx,
            text(&format_uptime(cpe.uptime_at(self.uptime_secs))),
        );
        out.put(detail, 70, idx, text(&cpe.firmware));
        out.put(detail, 80, idx, gauge(rx_max));
        out.put(detail, 90, idx, int(mode));
        out.put(detail, 100, idx, gauge(wire_m));
        out.put(detail, 105, idx, gauge(feet(wire_m)));
        out.put(detail, 110, idx, gauge(cpe.rx_phy_mbps));
        out.put(detail, 120, idx, gauge(cpe.tx_phy_mbps));
        out.put(detail, 130, idx, gauge(0));
        out.put(detail, 140, idx, gauge(0));
        out.put(detail, 150, idx, gauge(rx_max));
        out.put(detail, 160, idx, gauge(tx_max));
        out.put(detail, 170, idx, gauge(rx_usage));
        out.put(detail, 180, idx, gauge(tx_usage));

        // One GbE port per CPE: valid, up, full duplex, 1G (column 15 is newer than the MIB).
        let link_idx: Vec<u32> = idx.iter().copied().chain([1]).collect();
        out.put(link, 10, &link_idx, truth(true));
        out.put(link, 15, &link_idx, int(1));
        out.put(link, 20, &link_idx, truth(true));
        out.put(link, 30, &link_idx, truth(true));
        out.put(link, 40, &link_idx, int(LINK_SPEED_1G));

        out.put(fw, 10, idx, text(FW_UPGRADE_IDLE));
        out.put(fw, 20, idx, int(0));
        out.put(fw, 30, idx, int(0));

        out.put(poe, 10, idx, gauge(0));
        out.put(poe, 15, idx, truth(false));
        for col in [20, 30, 40, 50, 60] {
            out.put(poe, col, idx, int(POE_NA));
        }
    }

    /// GAM-SYSUTIL-MIB temperature sensors (columns 2 and 3, as in the walk) and GAM-ALARM-MIB
    /// active alarms.
    fn health(&self, out: &mut Out) {
        let health = &self.state.health;
        for (i, sensor) in health.temperatures.iter().enumerate() {
            let idx = [u32::try_from(i + 1).unwrap_or(u32::MAX)];
            out.put(TEMPERATURE_ENTRY, 2, &idx, text(&sensor.name));
            out.put(TEMPERATURE_ENTRY, 3, &idx, int(sensor.tenths));
        }
        for a in &health.alarms {
            let idx = [a.index];
            let mut uuid = [0u8; 16];
            uuid[..4].copy_from_slice(&a.index.to_be_bytes());
            uuid[4..10].copy_from_slice(&self.state.base_mac.0);
            out.put(ALARM_ENTRY, 2, &idx, ifindex_int(a.if_index));
            out.put(
                ALARM_ENTRY,
                3,
                &idx,
                Value::OctetString(uuid.to_vec().into()),
            );
            out.put(ALARM_ENTRY, 4, &idx, text(&a.if_descr));
            out.put(ALARM_ENTRY, 5, &idx, int(a.condition));
            out.put(ALARM_ENTRY, 6, &idx, text(""));
            out.put(ALARM_ENTRY, 7, &idx, gauge(0));
            out.put(ALARM_ENTRY, 8, &idx, int(0));
            out.put(ALARM_ENTRY, 9, &idx, gauge(0));
            out.put(ALARM_ENTRY, 10, &idx, int(a.severity));
            out.put(ALARM_ENTRY, 11, &idx, truth(a.service_affecting));
            out.put(
                ALARM_ENTRY,
                12,
                &idx,
                Value::OctetString(date_and_time(a.occurred_unix_s).to_vec().into()),
            );
        }
    }

    /// `.4` (controls, all "no action" = false) and `.5` (statistics, all 0): per G.hn port,
    /// per seen configured endpoint (by id) and per seen CPE (by MAC).
    fn control_and_statistics(&self, out: &mut Out) {
        for i in 1..=self.layout.ghn {
            let idx = [PORT_IFINDEX_BASE + i];
            out.put(CTL_PORT, 10, &idx, truth(false));
            out.put(STATS_PORT, 10, &idx, truth(true));
            for col in [20, 30, 40, 50, 60] {
                out.put(STATS_PORT, col, &idx, Value::Counter64(0));
            }
        }
        let by_id: Vec<Vec<u32>> = self
            .running()
            .endpoints
            .iter()
            .filter(|(_, e)| self.cpes.contains_key(&e.mac))
            .map(|(id, _)| vec![u32::from(*id)])
            .collect();
        let by_mac: Vec<Vec<u32>> = self.cpes.keys().map(|m| mac_index(*m).to_vec()).collect();
        let id_tables = [CTL_EP_SYSTEM, CTL_EP_STATS, STATS_EP_ETH, STATS_EP_GHN];
        let mac_tables = [CTL_MAC_SYSTEM, CTL_MAC_STATS, STATS_MAC_ETH, STATS_MAC_GHN];
        for (rows, [system, clear, eth, ghn]) in [(by_id, id_tables), (by_mac, mac_tables)] {
            for idx in rows {
                out.put(system, 10, &idx, truth(false));
                out.put(system, 20, &idx, truth(false));
                out.put(clear, 10, &idx, truth(false));
                out.put(clear, 20, &idx, truth(false));
                let eth_idx: Vec<u32> = idx.iter().copied().chain([1]).collect();
                out.put(eth, 10, &eth_idx, truth(true));
                for col in [20, 30, 40, 50, 60] {
                    out.put(eth, col, &eth_idx, Value::Counter64(0));
                }
                for col in [10, 20, 30, 40, 1010, 1020, 1030, 1040] {
                    out.put(ghn, col, &idx, gauge(0));
                }
            }
        }
    }
}

/// `GAMGhnAgentPoeModeCtrl`.
fn poe_value(p: PoeMode) -> i32 {
    match p {
        PoeMode::Disable => 0,
        PoeMode::Enable => 1,
        PoeMode::Force => 2,
    }
}

/// SNMPv2-TC DateAndTime (8 octets, UTC) of a Unix time.
fn date_and_time(unix_s: u64) -> [u8; 8] {
    let days = i64::try_from(unix_s / 86_400).unwrap_or(0);
    let secs = unix_s % 86_400;
    // Days to civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let [y0, y1] = u16::try_from(year).unwrap_or(0).to_be_bytes();
    let small = |v: i64| u8::try_from(v).unwrap_or(0);
    let time = |v: u64| u8::try_from(v).unwrap_or(0);
    [
        y0,
        y1,
        small(month),
        small(day),
        time(secs / 3600),
        time(secs % 3600 / 60),
        time(secs % 60),
        0,
    ]
}

/// sysUpTime in hundredths of a second (wrapping as TimeTicks does).
fn uptime_ticks(uptime: Duration) -> u32 {
    let t = uptime.as_millis() / 10;
    u32::try_from(t % (1u128 << 32)).unwrap_or(0)
}

/// One `ifTable` row.
struct IfRow {
    ifindex: u32,
    descr: String,
    if_type: i32,
    mtu: i32,
    speed: u32,
    phys: Mac,
    admin_up: bool,
    oper_up: bool,
}

impl IfRow {
    fn put(&self, out: &mut Out) {
        let idx = [self.ifindex];
        let status = |up: bool| int(if up { 1 } else { 2 });
        out.put(IF_ENTRY, 1, &idx, ifindex_int(self.ifindex));
        out.put(IF_ENTRY, 2, &idx, text(&self.descr));
        out.put(IF_ENTRY, 3, &idx, int(self.if_type));
        out.put(IF_ENTRY, 4, &idx, int(self.mtu));
        out.put(IF_ENTRY, 5, &idx, gauge(self.speed));
        out.put(IF_ENTRY, 6, &idx, mac(self.phys));
        out.put(IF_ENTRY, 7, &idx, status(self.admin_up));
        out.put(IF_ENTRY, 8, &idx, status(self.oper_up));
        out.put(IF_ENTRY, 9, &idx, Value::TimeTicks(0));
        for col in 10..=20 {
            out.put(IF_ENTRY, col, &idx, Value::Counter32(0));
        }
        out.put(IF_ENTRY, 21, &idx, gauge(0));
        out.put(
            IF_ENTRY,
            22,
            &idx,
            Value::ObjectIdentifier(Oid::from_slice(&[0, 0])),
        );
    }
}

/// The endpoint row editor (`.2.21`) with its defaults, as in the walk.
fn endpoint_editor(out: &mut Out) {
    let z = [0];
    out.put(EP_EDITOR, 1, &z, int(0));
    out.put(EP_EDITOR, 10, &z, gauge(1));
    out.put(EP_EDITOR, 20, &z, mac(Mac([0; 6])));
    out.put(EP_EDITOR, 25, &z, int(FALSE));
    out.put(EP_EDITOR, 26, &z, int(FALSE));
    out.put(EP_EDITOR, 30, &z, text(""));
    out.put(EP_EDITOR, 40, &z, text(""));
    out.put(EP_EDITOR, 50, &z, int(0));
    out.put(EP_EDITOR, 55, &z, truth(false));
    out.put(EP_EDITOR, 60, &z, truth(false));
    out.put(EP_EDITOR, 10000, &z, gauge(0));
}

/// The bandwidth-profile row editor (`.2.31`): next id 2, 10/10 Mbps.
fn profile_editor(out: &mut Out) {
    let z = [0];
    out.put(BW_EDITOR, 1, &z, int(0));
    out.put(BW_EDITOR, 10, &z, gauge(2));
    out.put(BW_EDITOR, 20, &z, gauge(0));
    out.put(BW_EDITOR, 30, &z, text(""));
    out.put(BW_EDITOR, 40, &z, text(""));
    out.put(BW_EDITOR, 50, &z, gauge(10));
    out.put(BW_EDITOR, 60, &z, gauge(10));
    out.put(BW_EDITOR, 10000, &z, gauge(0));
}

/// The subscriber row editor (`.2.41`): VLAN 4094, profile 1, PoE enable.
fn subscriber_editor(out: &mut Out) {
    let z = [0];
    out.put(USER_EDITOR, 1, &z, int(0));
    out.put(USER_EDITOR, 10, &z, gauge(1));
    out.put(USER_EDITOR, 20, &z, gauge(0));
    out.put(USER_EDITOR, 30, &z, text(""));
    out.put(USER_EDITOR, 40, &z, text(""));
    out.put(USER_EDITOR, 50, &z, gauge(0));
    out.put(USER_EDITOR, 55, &z, text(""));
    out.put(USER_EDITOR, 70, &z, gauge(u32::from(DEFAULT_PROFILE_ID)));
    out.put(USER_EDITOR, 75, &z, text(""));
    out.put(
        USER_EDITOR,
        90,
        &z,
        gauge(u32::from(DEFAULT_SUBSCRIBER_VID)),
    );
    out.put(USER_EDITOR, 100, &z, truth(false));
    out.put(USER_EDITOR, 110, &z, gauge(0));
    out.put(USER_EDITOR, 120, &z, gauge(0));
    out.put(USER_EDITOR, 170, &z, truth(false));
    out.put(USER_EDITOR, 180, &z, int(0));
    out.put(USER_EDITOR, 190, &z, truth(false));
    out.put(USER_EDITOR, 200, &z, int(0));
    out.put(USER_EDITOR, 210, &z, gauge(0));
    out.put(USER_EDITOR, 220, &z, int(poe_value(PoeMode::Enable)));
    out.put(USER_EDITOR, 10000, &z, gauge(0));
}

/// One quarter (1024 VLANs, 128 octets) of a VLAN bitmap, least significant bit first, as
/// GAM-TC defines `GAMVlanListQuarter`.
fn vlan_quarter(vlans: &[u16], quarter: usize) -> Vec<u8> {
    let mut bits = vec![0u8; 128];
    for v in vlans {
        let v = usize::from(*v);
        if v / 1024 == quarter {
            let offset = v % 1024;
            bits[offset / 8] |= 1 << (offset % 8);
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_and_time_is_utc_civil_time() {
        assert_eq!(super::date_and_time(0), [0x07, 0xb2, 1, 1, 0, 0, 0, 0]);
        // 2023-11-14 22:13:20 UTC.
        assert_eq!(
            super::date_and_time(1_700_000_000),
            [0x07, 0xe7, 11, 14, 22, 13, 20, 0]
        );
        // 2024-02-29 12:00:00 UTC.
        assert_eq!(
            super::date_and_time(1_709_208_000),
            [0x07, 0xe8, 2, 29, 12, 0, 0, 0]
        );
    }
}
