//! The one integration-test binary: a module per area.

mod lab_mib;
mod lab_snmp;
