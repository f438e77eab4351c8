//! The one integration-test binary: a module per area.

mod bad_input;
mod dialect_lab;
mod fmt;
mod git_rev;
mod lab_mib;
mod lab_snmp;
mod lab_ssh;
mod lab_up;
mod observe;
mod support;
mod validate;
