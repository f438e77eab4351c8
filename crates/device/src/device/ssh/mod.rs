//! Changing a GAM over its SSH CLI: `dialect` renders the `ghn ...` lines, `session` is one
//! logged-in SSH session (host-key pinning, prompts, pager, `%` errors, saving).

pub use gamops_core::device::dialect;
pub mod session;

pub use session::{CliAuth, CliError, CliSession, CliTarget, HostKeyPolicy};
