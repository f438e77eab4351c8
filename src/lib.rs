//! gamops: a declarative GitOps reconciler for Positron G.hn access multiplexers (GAMs).
//!
//! See docs/ARCHITECTURE.md for the map of modules and the invariants each keeps.

pub mod apply;
pub mod atomic_write;
pub mod billing;
pub mod cli;
pub mod controller;
pub mod device;
pub mod error_text;
pub mod forge;
pub mod git;
pub mod http_client;
pub mod http_server;
pub mod inventory;
pub mod lab;
pub mod model;
pub mod monitor;
pub mod notifications;
pub mod plan;
pub mod reconcile;
pub mod retry;
pub mod review;
pub mod schema;
pub mod secret;
pub mod store;
