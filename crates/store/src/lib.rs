//! gamops-store: the operational records (runs, journal, leases, webhook events, outbox,
//! monitoring) on SQLite or PostgreSQL.
//!
//! Invariant (enforced by Cargo): the store depends on no other gamops crate.

pub mod store;
