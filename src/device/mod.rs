//! The GAM as gamops sees it: live-state types, the driver that reads it over SNMP, and the
//! CLI dialect that changes it.
//!
//! Invariant: nothing here knows git, plan rendering or the lab.

pub mod cli;
pub mod credentials;
pub mod live;
pub mod snmp;

pub use live::{LiveDevice, Observation};
