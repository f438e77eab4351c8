//! The GAM as gamops sees it: live-state types, and (next) the drivers that read it over SNMP
//! and change it over the SSH CLI.
//!
//! Invariant: nothing here knows git, plan rendering or the lab.

pub mod credentials;
pub mod live;
pub mod snmp;

pub use live::{LiveDevice, Observation};
