//! gamops-device: the GAM's drivers (SNMP observe, the SSH CLI, JSON-RPC) and the apply of one
//! device's change through them.
//!
//! Invariant (enforced by Cargo): no store, no billing, no lab.

pub(crate) use gamops_core::{error_text, model, plan, secret};
pub(crate) use gamops_net::http_client;

pub mod apply;
pub mod device;
