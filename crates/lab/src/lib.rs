//! gamops-lab: the GAM simulator, for tests, benchmarks, the demo and trying gamops without
//! hardware.
//!
//! Invariant (enforced by Cargo): only the `gamops` package (its command layer) and the tests
//! depend on the lab.

pub(crate) use gamops_billing::billing;
pub(crate) use gamops_core::{atomic_write, inventory, model, secret};
// Only the tests compare the lab's converged state with the plan's (the lab never plans).
#[cfg(test)]
pub(crate) use gamops_core::plan;
pub(crate) use gamops_device::device;
pub(crate) use gamops_net::http_server;

pub mod lab;
