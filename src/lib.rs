//! gamops: a declarative GitOps reconciler for Positron G.hn access multiplexers (GAMs).
//!
//! See docs/ARCHITECTURE.md for the map of crates and modules and the invariants each keeps.
//! The library is a workspace of crates; this one re-exports each under its module name
//! (`gamops::model`, `gamops::lab`, ...) and holds what only the binary builds on: the command
//! layer, the controller, reconcile, monitoring, notifications, the forges and the schemas.

pub use gamops_billing::billing;
pub use gamops_core::{atomic_write, error_text, inventory, model, plan, retry, review, secret};
pub use gamops_device::{apply, device};
pub use gamops_lab::lab;
pub use gamops_net::{git, http_client, http_server};
pub use gamops_store::store;

pub mod cli;
pub mod controller;
pub mod forge;
pub mod monitor;
pub mod notifications;
pub mod reconcile;
pub mod schema;
