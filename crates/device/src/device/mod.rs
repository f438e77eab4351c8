//! The GAM as gamops sees it: live-state types (configuration in `live`, health in `status`,
//! the CLI `dialect`; all three from `gamops-core`), the driver that reads them over SNMP, and
//! the two that change it: the CLI over SSH and the JSON-RPC API.
//!
//! Invariant: nothing here knows git, plan rendering or the lab.

pub mod jsonrpc;
pub mod snmp;
pub mod ssh;

pub use gamops_core::device::{
    DeviceStatus, LiveDevice, Observation, StatusObservation, live, printable, status,
};
