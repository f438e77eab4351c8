//! The one integration-test binary: a module per area.

mod bad_input;
mod billing;
mod fmt;
mod git_rev;
mod lab_snmp;
mod lab_ssh;
mod support;
mod validate;
