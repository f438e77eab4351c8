//! The one operation every command and the controller share: select devices, observe them,
//! plan, gate each device's changes, take its lease, apply, journal, and record the run.
//!
//! `gamops plan` calls [`observe`] and builds the plan; `gamops apply` calls [`apply`] with a
//! plan (from a file or made just now); the controller will call both on every pass. A command
//! only parses its arguments, prints what comes back and picks the exit code, so nothing a
//! long-running caller needs is left in the command layer.
//!
//! Messages and hints here never name command-line flags: a controller has none. Where a
//! device is held back by something the caller could override (the safety limits, an unpinned
//! host key), its result carries a [`Remedy`](crate::apply::Remedy) and the caller names its
//! own way to grant it.
//!
//! Cancellation is a [`CancellationToken`](tokio_util::sync::CancellationToken): once it fires,
//! devices not started are reported as interrupted with nothing sent, a device in the middle of
//! its change is rolled back, and the run is recorded as interrupted.

mod apply;
mod journal;
mod observe;

pub use apply::{ApplyOptions, ApplyReport, actor, apply};
pub use observe::{observe, select_devices};

/// Why a reconcile could not go ahead at all (a device's own trouble is its result instead).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("device {name} is not in the inventory")]
    UnknownDevice { name: String, known: Vec<String> },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl ReconcileError {
    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            ReconcileError::UnknownDevice { known, .. } => {
                Some(format!("devices: {}", known.join(", ")))
            }
            ReconcileError::Store(e) => e.hint().map(str::to_string),
        }
    }
}
