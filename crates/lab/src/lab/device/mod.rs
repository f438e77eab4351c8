//! The simulated GAM itself, without any I/O: its state, its rules and its CLI.
//!
//! - `state`: the device (model, running and startup configuration, detected CPEs, faults);
//! - `rules`: every change to the running configuration, checked with the GAM's error strings;
//! - `config`: the running-config text, rendered and applied back;
//! - `grammar` and `icli`: the ICLI command parser and the per-login [`Session`];
//! - `show`: the `show ghn ...` outputs;
//! - `link`: the G.hn link model of a CPE (PHY rates by medium and cable, daily usage).
//!
//! The SSH server drives a [`Session`] per login; the SNMP agent reads the same
//! [`SharedDevice`]; the fault injector calls the hooks on [`DeviceState`].
//!
//! ## Where the lab had to choose (the reference leaves these open)
//!
//! - Q-in-Q on a subscriber: `outer-vid {<vid>|none}` (a VID turns DoubleTags on, `none` turns
//!   it off) and `nni {default|10GigabitEthernet 1/<n>}` (also `GigabitEthernet 1/1`,
//!   `G.hn 1/<n>`, which the rules refuse as "Specified NNI port is not uplink").
//! - Port-aware subscribers: `ghn subscriber <id> port <n>`, `no ghn subscriber <id> port`.
//! - Global settings: `ghn global subscriber-model {endpoint-aware|port-aware}`,
//!   `ghn global default-nni 10GigabitEthernet 1/<n>`,
//!   `ghn global endpoint-auto-fw-upgrade {enable|disable}`, `ghn global shelf-seed <n>`.
//! - Rule errors print as `% <G.hn agent message>`; commands the lab does not simulate print
//!   `% The gamops lab does not simulate '<words>'.`
//! - running-config prints only non-default values, in the order name, description, vid,
//!   tagged, remapped-vid, endpoint, port, bw-profile, allowed-vlan, port2-vid, outer-vid, nni,
//!   poe (the real 1.8 line puts `vid` before `endpoint`).

pub mod config;
pub mod grammar;
pub mod icli;
pub mod jsonrpc;
pub mod link;
pub mod rules;
pub mod show;
pub mod state;
pub mod types;

pub use crate::lab::terminal::Reply;
pub use icli::{DEFAULT_PAGE_LINES, Session, SharedDevice, share};
pub use rules::GhnError;
pub use state::DeviceState;
pub use types::Mac;
