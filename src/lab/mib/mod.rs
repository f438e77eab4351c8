//! The simulated GAM's MIB: its [`DeviceState`] rendered into the OID tree exactly as a real GAM
//! answers it, and a [`DeviceState`] rebuilt from a recorded walk.
//!
//! - [`render`]: the system group, IF-MIB `ifTable` and `ifXTable`, and GAM-GHN-AGENT-MIB
//!   (`1.3.6.1.4.1.20095.2001.143.1`) global and table configuration (`.2.*`), port and endpoint
//!   status (`.3.10`, `.3.20`, `.3.30`), with the types and encodings of the real GAM-12-C walk
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
//!   configured outside the G.hn service, which [`DeviceState`] does not model.
//! - **MAC addresses**: [`DeviceState::port_mac`] gives the G.hn modem MAC of each port (`.2.10`,
//!   `.3.10`). The switch MAC (ifPhysAddress of VLANs) is `base_mac - (physical ports + 8)` and
//!   physical port `i` (G.hn, then uplinks, then MGMT) has the switch MAC `+ i`; on the GAM-12-C
//!   that is exactly the walk (`..85b2`, ports `..85b3`-`..85c1`, modems from `..85ca`), and on
//!   larger models the two ranges never overlap.
//! - **Allowed tagged VLANs** (`.2.40` columns 130-160) and the port VLAN bitmaps (`.2.10`
//!   columns 80-150) are absent from the walk, so they are not rendered either.
//! - Status rows: `.3.20` (by id) has a brief row for every configured endpoint and the detailed,
//!   link, firmware-upgrade and PoE rows for those whose CPE the GAM sees; `.3.30` (by MAC) does
//!   the same for every configured MAC and every seen CPE (configured or not). An endpoint with
//!   no subscriber shows the default profile 1. Maximum throughput is 78.1 % of the PHY rate
//!   (the walk's 1805/1744 Mbps give 1410/1362); an endpoint's XputIndicator is its Rx maximum,
//!   a port's the lowest Tx maximum of its CPEs (the walk: port 12 shows 1362). A port's
//!   `EndpointsMacAddressList` is its CPEs' MACs in upper case, joined with `,`.
//! - Uids: a profile's Uid is its id (as in the walk). The walk's subscriber 1 has Uid 2, which
//!   no state explains (Uids are not persistent); the lab renders a subscriber's Uid as its id.
//! - sysContact and sysLocation are empty (a factory GAM; the walk's are redacted).

mod render;
mod walk;

pub use render::{refresh, render, rendered_subtrees, view_of, vlan_interfaces};
pub use walk::{WalkError, parse_uptime, state_from_walk};

#[cfg(doc)]
use super::{device::DeviceState, snmp::MibView};

/// SNMPv2-MIB system group.
pub const SYSTEM: &[u32] = &[1, 3, 6, 1, 2, 1, 1];
/// IF-MIB `ifTable`.
pub const IF_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2];
/// IF-MIB `ifXTable`.
pub const IFX_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1];
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
