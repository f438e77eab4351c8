//! Observe over SNMP: read a GAM's live state with GETBULK walks (snmp2, v2c or v3 USM) and
//! decode it into [`crate::device::live`].
//!
//! Only the system group, the G.hn global scalars and the tables of DESIGN.md section 4 are read
//! ([`oids`]); each table is walked several columns per request ([`walk`]). A device that does not
//! answer completely and correctly is [`Observation::Unknown`](crate::device::Observation) with a
//! one-line reason, and is never planned.
//!
//! - [`oids`]: what is read;
//! - [`session`]: one device's snmp2 session (timeout, retries, v3 re-synchronisation);
//! - [`walk`]: the multi-column GETBULK walk;
//! - [`decode`]: answers to live types, strictly;
//! - [`observe`](mod@observe): one device, or a fleet with bounded concurrency;
//! - [`target`]: where and how to read, from the inventory's settings;
//! - [`status`](mod@status): the status read (ports, endpoints and their links, temperatures,
//!   alarms, uplink counters), a read of its own beside the configuration read.

pub mod decode;
pub mod observe;
pub mod oids;
pub mod session;
pub mod status;
pub mod target;
mod v2c;
pub mod varbind;
pub mod walk;

pub use observe::{DEFAULT_CONCURRENCY, observe, observe_all, observe_with_stats, probe};
pub use session::ReadStats;
pub use status::{read_status, read_status_all, read_status_with_stats};
pub use target::{Security, SnmpTarget, TargetError};
