//! gamops-billing: billing systems (Sonar, Splynx) to subscriber files, and the webhook
//! receivers.
//!
//! Invariant (enforced by Cargo): billing reaches devices only through git; it depends on no
//! driver and no lab.

pub(crate) use gamops_core::{inventory, model, retry, secret};
pub(crate) use gamops_net::{git, http_client, http_server};
pub(crate) use gamops_store::store;

pub mod billing;
