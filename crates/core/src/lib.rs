//! gamops-core: the desired state and everything computed from it without a device or a runtime:
//! the model, the inventory, the plan, git (reading trees and committing), the review of a
//! change, the live-state types and the CLI dialect, and the small helpers they share.
//!
//! Invariant (enforced by Cargo): no tokio, no store, no driver, no lab.

pub mod atomic_write;
pub mod device;
pub mod error_text;
pub mod git;
pub mod inventory;
pub mod model;
pub mod plan;
pub mod retry;
pub mod review;
pub mod secret;
