//! The GAM simulator: device state, SNMP agent, SSH CLI server, JSON-RPC API and fault
//! injection.
//!
//! - [`device`], [`mib`], [`snmp`], [`ssh`], [`terminal`], [`jsonrpc`]: the parts of one
//!   simulated GAM;
//! - [`seed`] and [`devices`]: what a lab serves (from an inventory, generated, from a walk);
//! - [`runtime`]: a running lab (every device's SNMP agent, SSH server, JSON-RPC server and
//!   uptime clock);
//! - [`admin`]: the HTTP admin interface that injects faults at run time;
//! - [`persist`]: the state file that survives a restart;
//! - [`testbed`]: a generated fleet served by a lab, its inventory pointing at it.
//!
//! Nothing outside `cli` and the tests depends on this module.

pub mod admin;
pub mod bench;
pub mod billing;
pub mod control;
pub mod device;
pub mod file_shell;
pub mod fleetgen;
pub mod jsonrpc;
pub mod mib;
pub mod persist;
pub mod prepare;
pub mod runtime;
pub mod seed;
pub mod snmp;
pub mod ssh;
pub mod terminal;
pub mod testbed;
