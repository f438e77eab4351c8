//! The SNMP side of a simulated GAM: a MIB view rendered from device state (or loaded from a real
//! walk), served by an async-snmp agent that net-snmp, snmp2 and gamops can read, with faults the
//! lab can switch on at run time.
//!
//! - [`snmprec`]: read and write snmpsim `.snmprec` walks, exactly.
//! - [`MibView`]: the shared, ordered OID → value map the agent serves.
//! - [`SnmpAgent`]: the agent (v1/v2c communities, v3 USM, GET/GETNEXT/GETBULK, read-only).
//! - [`SnmpFaults`]: latency, jitter, loss and per-subtree time-outs.

mod agent;
mod faults;
mod front;
mod handler;
pub mod snmprec;
mod view;

pub use agent::{DEFAULT_MAX_MESSAGE_SIZE, SnmpAgent, SnmpAgentConfig, SnmpAgentError, SnmpV3User};
pub use async_snmp::{AuthProtocol, Oid, PrivProtocol, Value};
pub use faults::{SnmpFaultConfig, SnmpFaults};
pub use snmprec::{SnmprecError, SnmprecErrorKind, SnmprecRecord};
pub use view::{Lookup, MibView};

/// A view holding every entry of a `.snmprec` walk, ready to serve.
pub fn view_from_snmprec(text: &str) -> Result<MibView, SnmprecError> {
    Ok(MibView::from_entries(snmprec::parse(text)?))
}
