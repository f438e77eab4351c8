//! The simulated GAM's MIB: its [`DeviceState`] rendered into the OID tree exactly as a real GAM
//! answers it, and a [`DeviceState`] rebuilt from a recorded walk.
//!
//! - [`render`]: the system group, IF-MIB `ifTable` and `ifXTable`, and GAM-GHN-AGENT-MIB
//!   (`1.3.6.1.4.1.20095.2001.143.1`) global and table configuration (`.2.*`), port and endpoint
//!   status (`.3.10`, `.3.20`, `.3.30`), the control objects (`.4`, all "no action") and the
//!   statistics (`.5`, every counter 0), with the types and encodings of the real GAM-12-C walk
//!   (`tests/fixtures/gam12c-walk.snmprec`): Gauge32 where it has Gauge32, TruthValue 1/2,
//!   MacAddress as 6 raw bytes, uptimes as text such as `4 days, 23h 13m 1s`.
//! - [`refresh`]: renders into a running agent's [`MibView`], replacing the rendered subtrees in
//!   one step and leaving everything else in the view (a walk's other MIBs) alone.
//! - [`state_from_walk`]: the inverse, for `gamops lab up --from-walk`.
//!
//! ## Choices the walk does not settle (the lab's rules)
//!
//! - **VLAN interfaces** (ifType 135, ifIndex = VID): see [`vlan_interfaces`]. VLANs 1 (default),
//!   2 (CPE management) and 4094 (captive portal) always; per subscriber its S-VLAN when Q-in-Q
//!   is on, otherwise its C-VLAN, second-port VLAN and extra tagged VLANs. Only VLANs 1 and 2 are
//!   administratively up (they carry the switch's own IP interfaces); every VLAN is
//!   operationally down, as in the walk. The walk's VLANs 8, 88, 4060 and 4093 are switch VLANs
//!   configured outside the G.hn service: a device rebuilt from a walk keeps them
//!   ([`DeviceState::switch_vlans`], with their administrative status) and serves them.
//! - **MAC addresses**: [`DeviceState::port_mac`] gives the G.hn modem MAC of each port (`.2.10`,
//!   `.3.10`). The switch MAC (ifPhysAddress of VLANs) is `base_mac - (physical ports + 8)` and
//!   physical port `i` (G.hn, then uplinks, then MGMT) has the switch MAC `+ i`; on the GAM-12-C
//!   that is exactly the walk (`..85b2`, ports `..85b3`-`..85c1`, modems from `..85ca`), and on
//!   larger models the two ranges never overlap.
//! - **Allowed tagged VLANs** (`.2.40` columns 130-160) and the port VLAN bitmaps (`.2.10`
//!   columns 80-150) are absent from the walk, so they are not rendered either.
//! - Status, control and statistics rows: `.3.20` (by id) has a brief row for every configured endpoint and the detailed,
//!   link, firmware-upgrade and PoE rows for those whose CPE the GAM sees; `.3.30` (by MAC) does
//!   the same for every configured MAC and every seen CPE (configured or not). The endpoint
//!   control (`.4.20`, `.4.30`) and statistics (`.5.20`, `.5.30`) rows exist for seen CPEs, by
//!   id for configured ones; port control and statistics for every G.hn port. An endpoint with
//!   no subscriber shows the default profile 1. Maximum throughput is 78.1 % of the PHY rate
//!   (the walk's 1805/1744 Mbps give 1410/1362); an endpoint's XputIndicator is its Rx maximum,
//!   a port's the lowest Tx maximum of its CPEs (the walk: port 12 shows 1362). A port's
//!   `EndpointsMacAddressList` is its CPEs' MACs in upper case, joined with `,`.
//! - Uids: a profile's Uid is its id (as in the walk). The walk's subscriber 1 has Uid 2, which
//!   no configuration explains (Uids are not persistent): a device rebuilt from a walk keeps
//!   the walk's Uids ([`DeviceState::subscriber_uids`], also shown in the endpoint status
//!   tables' column 60) until a reload; otherwise a subscriber's Uid is its id.
//! - sysContact and sysLocation are empty (a factory GAM; the walk's are redacted).

mod render;
mod walk;

pub use render::{refresh, render, rendered_subtrees, view_of, vlan_interfaces};
pub use walk::{WalkError, parse_uptime, state_from_walk, walk_uptime};

#[cfg(doc)]
use super::{device::DeviceState, snmp::MibView};

/// SNMPv2-MIB system group.
pub const SYSTEM: &[u32] = &[1, 3, 6, 1, 2, 1, 1];
/// IF-MIB `ifTable`.
pub const IF_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2];
/// IF-MIB `ifXTable`.
pub const IFX_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1];
/// GAM-SYSUTIL-MIB `gamSysutilStatusTemperatureSensorsTable` and its entry.
pub const TEMPERATURE_TABLE: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 24, 1, 3, 7];
const TEMPERATURE_ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 24, 1, 3, 7, 1];
/// GAM-ALARM-MIB `gamAlarmStatusActiveTable` and its entry.
pub const ALARM_TABLE: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 145, 1, 3, 1];
const ALARM_ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 145, 1, 3, 1, 1];
/// GAM-GHN-AGENT-MIB objects (`gamGhnAgentMibObjects`).
pub const GHN_AGENT: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1];
/// sysObjectID of a GAM is this plus the model number N.
pub const GAM_PRODUCTS: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2000, 1];

// System group columns.
const SYS_DESCR: u32 = 1;
const SYS_OBJECT_ID: u32 = 2;
const SYS_UPTIME: u32 = 3;
const SYS_CONTACT: u32 = 4;
const SYS_NAME: u32 = 5;
const SYS_LOCATION: u32 = 6;
const SYS_SERVICES: u32 = 7;

// The `...Entry` OIDs of the tables and the scalar groups.
const IF_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];

const GLOBAL: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 5];
const PORT_CFG: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 10, 1];
const EP_CFG: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 20, 1];
const EP_EDITOR: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 21];
const BW_CFG: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 30, 1];
const BW_EDITOR: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 31];
const USER_CFG: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 40, 1];
const USER_EDITOR: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 2, 41];
const PORT_BRIEF: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 10, 10, 1];
const PORT_DETAIL: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 10, 20, 1];
const EP_BRIEF: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 20, 10, 1];
const EP_DETAIL: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 20, 20, 1];
const EP_LINK: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 20, 30, 1];
const EP_FW: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 20, 40, 1];
const EP_POE: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 20, 50, 1];
const MAC_BRIEF: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 30, 10, 1];
const MAC_DETAIL: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 30, 20, 1];
const MAC_LINK: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 30, 30, 1];
const MAC_FW: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 30, 40, 1];
const MAC_POE: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 3, 30, 50, 1];
const CTL_PORT: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 4, 10, 20, 1];
const CTL_EP_SYSTEM: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 4, 20, 10, 1];
const CTL_EP_STATS: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 4, 20, 20, 1];
const CTL_MAC_SYSTEM: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 4, 30, 10, 1];
const CTL_MAC_STATS: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 4, 30, 20, 1];
const STATS_PORT: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 5, 10, 10, 1];
const STATS_EP_ETH: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 5, 20, 10, 1];
const STATS_EP_GHN: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 5, 20, 20, 1];
const STATS_MAC_ETH: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 5, 30, 10, 1];
const STATS_MAC_GHN: &[u32] = &[1, 3, 6, 1, 4, 1, 20095, 2001, 143, 1, 5, 30, 20, 1];

/// TruthValue true and false.
const TRUE: i32 = 1;
const FALSE: i32 = 2;

/// Subtracts `n` from a MAC address (wrapping within 48 bits).
fn mac_minus(m: crate::lab::device::Mac, n: u32) -> crate::lab::device::Mac {
    let v = m.0.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let v = v.wrapping_sub(u64::from(n)) & 0xffff_ffff_ffff;
    crate::lab::device::Mac(std::array::from_fn(|i| {
        (v >> (8 * (5 - i))).to_be_bytes()[7]
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::lab::device::state::{
        BwRef, DetectedCpe, Endpoint, EndpointPort, PoeMode, Subscriber, SubscriberModel,
    };
    use crate::lab::device::{DeviceState, Mac};
    use crate::lab::snmp::{Oid, Value};
    use crate::model::GamModel;

    fn oid(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    fn as_map(entries: Vec<(Oid, Value)>) -> BTreeMap<Oid, Value> {
        entries.into_iter().collect()
    }

    /// Row indexes of one column.
    fn column(map: &BTreeMap<Oid, Value>, prefix: &[u32], col: u32) -> Vec<Vec<u32>> {
        let p = Oid::new(prefix.iter().copied().chain([col]));
        map.keys()
            .filter(|o| o.starts_with(&p))
            .map(|o| o.arcs()[p.len()..].to_vec())
            .collect()
    }

    fn text(map: &BTreeMap<Oid, Value>, o: &str) -> String {
        match map.get(&oid(o)) {
            Some(Value::OctetString(b)) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{o}: {other:?}"),
        }
    }

    #[test]
    fn render_is_sorted_and_unique() {
        let d = DeviceState::factory(GamModel::Gam12C, "GAM");
        let r = render(&d, Duration::from_secs(5));
        assert!(r.windows(2).all(|w| w[0].0 < w[1].0));
        let subtrees = rendered_subtrees();
        assert!(
            r.iter()
                .all(|(o, _)| subtrees.iter().any(|p| o.starts_with(p)))
        );
    }

    #[test]
    fn factory_copper_24_port() {
        let d = DeviceState::factory(GamModel::Gam24M, "bldg-7");
        let m = as_map(render(&d, Duration::from_secs(61)));
        assert_eq!(
            text(&m, "1.3.6.1.2.1.1.1.0"),
            "GAM-24-M GigaBit Ethernet Switch, firmware GAM-12/24-M_v1.5.4"
        );
        assert_eq!(
            m[&oid("1.3.6.1.2.1.1.2.0")],
            Value::ObjectIdentifier(oid("1.3.6.1.4.1.20095.2000.1.15"))
        );
        assert_eq!(m[&oid("1.3.6.1.2.1.1.3.0")], Value::TimeTicks(6100));
        assert_eq!(text(&m, "1.3.6.1.2.1.1.5.0"), "bldg-7");
        // ifIndex: VLANs 1, 2, 4094, then 24 G.hn, 2 x 10G, MGMT.
        let ifs: Vec<u32> = column(&m, IF_ENTRY, 1).into_iter().map(|i| i[0]).collect();
        let mut want = vec![1, 2, 4094];
        want.extend(1_000_001..=1_000_027);
        assert_eq!(ifs, want);
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.1"), "VLAN    1");
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.1000024"), "Port G.hn-24");
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.1000025"), "Port 10G-1");
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.1000027"), "Port MGMT");
        assert_eq!(
            text(&m, "1.3.6.1.2.1.31.1.1.1.1.1000026"),
            "10GigabitEthernet 1/2"
        );
        assert_eq!(column(&m, IFX_ENTRY, 1).len(), 27);
        // G.hn ports: 24 config and status rows, MIMO mode, no endpoints.
        assert_eq!(column(&m, PORT_CFG, 10).len(), 24);
        assert_eq!(column(&m, PORT_BRIEF, 10).len(), 24);
        assert_eq!(column(&m, PORT_DETAIL, 10).len(), 24);
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.10.1.50.1000001")],
            Value::Integer(1)
        );
        assert_eq!(
            text(&m, "1.3.6.1.4.1.20095.2001.143.1.3.10.20.1.60.1000001"),
            "0 days, 0h 1m 1s"
        );
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.5.20.0")],
            Value::Integer(1_000_025)
        );
        assert!(column(&m, EP_CFG, 10).is_empty());
        assert!(column(&m, USER_CFG, 10).is_empty());
        assert!(column(&m, MAC_BRIEF, 10).is_empty());
        // The switch MACs and the G.hn modem MACs do not overlap.
        let Value::OctetString(sw) = &m[&oid("1.3.6.1.2.1.2.2.1.6.1000027")] else {
            panic!()
        };
        let last_switch = u64::from_be_bytes([0, 0, sw[0], sw[1], sw[2], sw[3], sw[4], sw[5]]);
        let b = d.port_mac(1).0;
        let first_modem = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
        assert!(last_switch < first_modem);
        default_profile_only(&m);
    }

    #[test]
    fn factory_outdoor_4_port_coax() {
        let d = DeviceState::factory(GamModel::Gam4Cx, "GAM");
        let m = as_map(render(&d, Duration::ZERO));
        assert_eq!(
            text(&m, "1.3.6.1.2.1.1.1.0"),
            "GAM-4-CX GigaBit Ethernet Switch, firmware GAM-4/8-C_v1.5.4"
        );
        let ifs: Vec<u32> = column(&m, IF_ENTRY, 1).into_iter().map(|i| i[0]).collect();
        assert_eq!(
            ifs,
            vec![
                1, 2, 4094, 1_000_001, 1_000_002, 1_000_003, 1_000_004, 1_000_005, 1_000_006
            ]
        );
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.1000005"), "Port 10G-1");
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.1000006"), "Port MGMT");
        assert_eq!(column(&m, PORT_CFG, 10).len(), 4);
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.10.1.50.1000004")],
            Value::Integer(0)
        );
        assert_eq!(
            text(&m, "1.3.6.1.4.1.20095.2001.143.1.3.10.20.1.30.1000001"),
            "GAM-C"
        );
        default_profile_only(&m);
    }

    fn default_profile_only(m: &BTreeMap<Oid, Value>) {
        assert_eq!(column(m, BW_CFG, 10), vec![vec![1]]);
        assert_eq!(
            text(m, "1.3.6.1.4.1.20095.2001.143.1.2.30.1.30.1"),
            "Default BW Profile"
        );
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.30.1.50.1")],
            Value::Gauge32(10)
        );
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.30.1.60.1")],
            Value::Gauge32(10)
        );
        // Editors are always there.
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.41.90.0")],
            Value::Gauge32(4094)
        );
    }

    fn subscriber(vid: u16) -> Subscriber {
        let mut s = Subscriber::new(1);
        s.vid = vid;
        s
    }

    #[test]
    fn vlan_rule() {
        let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
        let mut a = subscriber(100);
        a.port2_vid = Some(101);
        a.allowed_vlans = vec![15, 16];
        let mut b = subscriber(1409);
        b.outer_vid = Some(120);
        d.running.subscribers.insert(1, a);
        d.running.subscribers.insert(2, b);
        let v: Vec<u16> = vlan_interfaces(&d.running).into_iter().collect();
        assert_eq!(v, vec![1, 2, 15, 16, 100, 101, 120, 4094]);
        let m = as_map(render(&d, Duration::ZERO));
        assert_eq!(m[&oid("1.3.6.1.2.1.2.2.1.7.1")], Value::Integer(1));
        assert_eq!(m[&oid("1.3.6.1.2.1.2.2.1.7.2")], Value::Integer(1));
        assert_eq!(m[&oid("1.3.6.1.2.1.2.2.1.7.120")], Value::Integer(2));
        assert_eq!(m[&oid("1.3.6.1.2.1.2.2.1.8.1")], Value::Integer(2));
        assert_eq!(text(&m, "1.3.6.1.2.1.2.2.1.2.120"), "VLAN  120");
    }

    #[test]
    fn endpoint_states_and_unknown_cpes() {
        let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
        let known = DetectedCpe::walk_example();
        let mut stranger = DetectedCpe::walk_example();
        stranger.mac = Mac([0, 0x0e, 0xd8, 1, 2, 3]);
        stranger.port = 3;
        d.detect_cpe(known.clone());
        d.detect_cpe(stranger.clone());
        d.running.endpoints.insert(
            7,
            Endpoint {
                name: "wrong".into(),
                mac: known.mac,
                description: String::new(),
                port: EndpointPort::Port(5),
                allow_management_access: false,
            },
        );
        d.running.endpoints.insert(
            8,
            Endpoint {
                name: "absent".into(),
                mac: Mac([0, 0x0e, 0xd8, 9, 9, 9]),
                description: String::new(),
                port: EndpointPort::Auto,
                allow_management_access: true,
            },
        );
        let mut s = Subscriber::new(4);
        s.endpoint = Some(7);
        s.bw_profile = BwRef::Unthrottled;
        s.poe = PoeMode::Force;
        d.running.subscribers.insert(4, s);
        let m = as_map(render(&d, Duration::ZERO));
        let ep = "1.3.6.1.4.1.20095.2001.143.1.3.20";
        // Endpoint 7: seen on port 12, configured for port 5.
        assert_eq!(m[&oid(&format!("{ep}.10.1.90.7"))], Value::Integer(2));
        assert_eq!(
            m[&oid(&format!("{ep}.10.1.40.7"))],
            Value::Integer(1_000_012)
        );
        assert_eq!(
            m[&oid(&format!("{ep}.10.1.30.7"))],
            Value::Integer(1_000_005)
        );
        assert_eq!(m[&oid(&format!("{ep}.10.1.50.7"))], Value::Gauge32(4));
        assert_eq!(m[&oid(&format!("{ep}.10.1.70.7"))], Value::Gauge32(0));
        assert!(m.contains_key(&oid(&format!("{ep}.20.1.110.7"))));
        // Endpoint 8: not seen; a brief row only, auto port, default profile.
        assert_eq!(m[&oid(&format!("{ep}.10.1.90.8"))], Value::Integer(0));
        assert_eq!(m[&oid(&format!("{ep}.10.1.35.8"))], Value::Integer(1));
        assert_eq!(m[&oid(&format!("{ep}.10.1.70.8"))], Value::Gauge32(1));
        assert_eq!(m[&oid(&format!("{ep}.10.1.100.8"))], Value::Integer(255));
        assert!(!m.contains_key(&oid(&format!("{ep}.20.1.110.8"))));
        // By MAC: the stranger is quarantined as unknown, with no configured id.
        let by_mac = "1.3.6.1.4.1.20095.2001.143.1.3.30.10.1";
        assert_eq!(
            m[&oid(&format!("{by_mac}.90.0.14.216.1.2.3"))],
            Value::Integer(3)
        );
        assert_eq!(
            m[&oid(&format!("{by_mac}.20.0.14.216.1.2.3"))],
            Value::Gauge32(0)
        );
        assert_eq!(
            m[&oid(&format!("{by_mac}.40.0.14.216.1.2.3"))],
            Value::Integer(1_000_003)
        );
        assert_eq!(column(&m, MAC_BRIEF, 10).len(), 3);
        assert_eq!(column(&m, MAC_DETAIL, 10).len(), 2);
        // Ports list their CPEs; the PoE control is rendered.
        assert_eq!(
            text(&m, "1.3.6.1.4.1.20095.2001.143.1.3.10.10.1.40.1000003"),
            "00:0E:D8:01:02:03"
        );
        assert_eq!(
            m[&oid("1.3.6.1.4.1.20095.2001.143.1.2.40.1.220.4")],
            Value::Integer(2)
        );
        assert_eq!(m[&oid("1.3.6.1.2.1.2.2.1.8.1000003")], Value::Integer(1));
        assert_eq!(m[&oid("1.3.6.1.2.1.2.2.1.8.1000004")], Value::Integer(2));
    }

    #[test]
    fn render_then_walk_round_trips_a_busy_device() {
        let mut d = DeviceState::factory(GamModel::Gam12M, "lab-1");
        d.running.global.subscriber_model = SubscriberModel::PortAware;
        d.running.ports[2].name = "riser".into();
        d.running.ports[4].shutdown = true;
        let mut cpe = DetectedCpe::walk_example();
        cpe.port = 3;
        cpe.wire_length_m = 120;
        d.detect_cpe(cpe);
        let mut s = Subscriber::new(9);
        s.port = Some(3);
        s.vid = 300;
        s.tagged = true;
        s.remapped_vid = Some(30);
        s.port2_vid = Some(31);
        s.outer_vid = Some(2800);
        s.nni_ifindex = Some(1_000_014);
        s.poe = PoeMode::Disable;
        d.running.subscribers.insert(9, s);
        d.save();
        let back = state_from_walk(&render(&d, Duration::from_secs(3))).unwrap();
        assert_eq!(back.running, d.running);
        // A walk records a CPE's uptime as of the device's uptime then: the same link.
        let now = |c: &[DetectedCpe]| {
            c.iter()
                .map(|c| (c.mac, c.uptime_at(3)))
                .collect::<Vec<_>>()
        };
        assert_eq!(now(&back.cpes), now(&d.cpes));
        let timeless = |c: &[DetectedCpe]| {
            c.iter()
                .cloned()
                .map(|mut c| {
                    c.uptime_secs = 0;
                    c.seen_at_s = 0;
                    c
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(timeless(&back.cpes), timeless(&d.cpes));
        assert_eq!(back.base_mac, d.base_mac);
        assert_eq!(back.startup, d.startup);
    }

    #[test]
    fn uptime_text_parses() {
        assert_eq!(parse_uptime("4 days, 23h 13m 1s"), Some(429_181));
        assert_eq!(parse_uptime("1 day, 0h 0m 5s"), Some(86_405));
        assert_eq!(
            parse_uptime("53 days, 14h 28m 19s"),
            Some(53 * 86_400 + 14 * 3600 + 28 * 60 + 19)
        );
        for bad in [
            "",
            "4 days",
            "4 days, 23h 13m",
            "x days, 1h 1m 1s",
            "4 days, 1h 1m 1s 2s",
        ] {
            assert_eq!(parse_uptime(bad), None, "{bad:?}");
        }
        assert_eq!(parse_uptime("99999999999999999 days, 0h 0m 0s"), None);
    }

    #[test]
    fn malformed_walks_are_errors_not_panics() {
        let walk = render(
            &DeviceState::factory(GamModel::Gam12C, "GAM"),
            Duration::ZERO,
        );
        let without = |o: &str| -> Vec<(Oid, Value)> {
            walk.iter().filter(|(x, _)| *x != oid(o)).cloned().collect()
        };
        let with = |o: &str, v: Value| -> Vec<(Oid, Value)> {
            let mut w: Vec<(Oid, Value)> =
                walk.iter().filter(|(x, _)| *x != oid(o)).cloned().collect();
            w.push((oid(o), v));
            w
        };
        assert_eq!(state_from_walk(&[]), Err(WalkError::NoSysObjectId));
        assert_eq!(
            state_from_walk(&without("1.3.6.1.2.1.1.2.0")),
            Err(WalkError::NoSysObjectId)
        );
        assert!(matches!(
            state_from_walk(&with(
                "1.3.6.1.2.1.1.2.0",
                Value::ObjectIdentifier(oid("1.3.6.1.4.1.9.1.1"))
            )),
            Err(WalkError::UnknownModel(_))
        ));
        assert!(matches!(
            state_from_walk(&with("1.3.6.1.2.1.1.2.0", Value::Integer(14))),
            Err(WalkError::BadValue { .. })
        ));
        let g = "1.3.6.1.4.1.20095.2001.143.1.2";
        for (o, v) in [
            (format!("{g}.5.30.0"), Value::Integer(3)),
            (format!("{g}.5.10.0"), Value::OctetString("x".into())),
            (format!("{g}.5.40.0"), Value::Gauge32(300)),
            (
                format!("{g}.10.1.40.1000001"),
                Value::OctetString(vec![1, 2, 3].into()),
            ),
            (
                format!("{g}.10.1.30.1000013"),
                Value::OctetString("x".into()),
            ),
            (format!("{g}.30.1.30.16"), Value::OctetString("x".into())),
            (
                format!("{g}.20.1.30.1"),
                Value::OctetString("no mac".into()),
            ),
            (
                format!("{g}.20.1.20.385"),
                Value::OctetString(vec![0; 6].into()),
            ),
            (format!("{g}.40.1.90.1"), Value::Gauge32(70_000)),
            (format!("{g}.40.1.180.1"), Value::Integer(1_000_013)),
            (format!("{g}.40.1.220.1"), Value::Integer(-1)),
            (format!("{g}.40.1.50.1.2"), Value::Gauge32(1)),
        ] {
            assert!(
                state_from_walk(&with(&o, v.clone())).is_err(),
                "{o} = {v:?}"
            );
        }
        // A sysName that is no hostname falls back to the factory name.
        let d = state_from_walk(&with(
            "1.3.6.1.2.1.1.5.0",
            Value::OctetString("<private>".into()),
        ))
        .unwrap();
        assert_eq!(d.hostname(), "GAM");
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            any::<i32>().prop_map(Value::Integer),
            prop_oneof![Just(0i32), Just(1), Just(2), Just(3), Just(1_000_012)]
                .prop_map(Value::Integer),
            any::<u32>().prop_map(Value::Gauge32),
            (0u32..2000).prop_map(Value::Gauge32),
            proptest::collection::vec(any::<u8>(), 0..10)
                .prop_map(|b| Value::OctetString(b.into())),
            Just(Value::Null),
            Just(Value::ObjectIdentifier(Oid::from_slice(&[
                1, 3, 6, 1, 4, 1, 20095, 2000, 1, 14
            ]))),
            any::<u32>().prop_map(Value::TimeTicks),
        ]
    }

    proptest::proptest! {
        /// Whatever a walk holds, reading it never panics.
        #[test]
        fn state_from_walk_never_panics(
            edits in proptest::collection::vec((any_index(), any_value()), 1..8),
            extra_arcs in proptest::collection::vec(0u32..5, 0..3),
        ) {
            let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
            d.detect_cpe(DetectedCpe::walk_example());
            d.running.subscribers.insert(1, Subscriber::new(1));
            let mut walk = render(&d, Duration::ZERO);
            let n = walk.len();
            for (i, v) in edits {
                let i = i % n;
                let (o, _) = walk[i].clone();
                let o = Oid::new(o.arcs().iter().copied().chain(extra_arcs.iter().copied()));
                walk[i] = (o, v);
            }
            let _ = state_from_walk(&walk);
        }
    }

    fn any_index() -> impl proptest::strategy::Strategy<Value = usize> {
        proptest::prelude::any::<usize>()
    }
}
