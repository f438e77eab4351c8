//! The GAM simulator: device state, SNMP agent, SSH CLI server and fault injection.
//!
//! Nothing outside `cli` and the tests depends on this module.

pub mod billing;
pub mod device;
pub mod fleetgen;
pub mod mib;
pub mod snmp;
pub mod ssh;
pub mod terminal;
