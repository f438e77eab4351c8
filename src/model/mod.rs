//! The desired state: what git says the fleet should look like. No I/O happens here.

pub mod gam;

pub use gam::{GamModel, Medium, ModelInfo};
