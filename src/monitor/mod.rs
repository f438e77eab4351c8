//! Monitoring: how the fleet is doing, as opposed to how it is configured.
//!
//! - [`status`](mod@status): reads every selected GAM's status tables and joins them with the
//!   inventory (which subscriber is on which endpoint, what plan it is sold), finding the
//!   problems (unreachable, offline, quarantined, capacity below plan, asymmetric PHY, firmware
//!   mismatch, temperature, the GAM's own alarms). `gamops status` calls [`status::fleet_status`];
//!   a controller can call it the same way.
//! - [`render`]: the report as text for people (problems first, coloured on a terminal) and as
//!   JSON (`schemas/status.schema.json`).
//! - [`report`]: `gamops report capacity|firmware|plans` (capacity sold against measured, firmware
//!   and plan distributions) as CSV, JSON or an HTML page with inline SVG charts.
//!
//! - [`alerts`]: the built-in alert rules and their states (`for`, hysteresis, flap suppression,
//!   dedup), pure: fed what was seen, they return each firing and resolving once.
//!
//! Invariant: nothing here changes a device or knows the lab; the report is computed from what
//! was read and what the inventory says, nothing else.

pub mod alerts;
pub mod render;
pub mod report;
pub mod status;

pub use status::{FleetStatus, StatusOptions, fleet_status};
