//! The simulated GAM itself, without any I/O: its state, its rules and its CLI.
//!
//! - `state`: the device (model, running and startup configuration, detected CPEs, faults);
//! - `rules`: every change to the running configuration, checked with the GAM's error strings;
//! - `config`: the running-config text, rendered and applied back;
//! - `grammar` and `icli`: the ICLI command parser and the per-login [`Session`];
//! - `show`: the `show ghn ...` outputs.
//!
//! The SSH server drives a [`Session`] per login; the SNMP agent reads the same
//! [`SharedDevice`]; the fault injector calls the hooks on [`DeviceState`].

pub mod config;
pub mod grammar;
pub mod icli;
pub mod rules;
pub mod show;
pub mod state;
pub mod types;

pub use icli::{DEFAULT_PAGE_LINES, Reply, Session, SharedDevice, share};
pub use rules::GhnError;
pub use state::DeviceState;
pub use types::Mac;
