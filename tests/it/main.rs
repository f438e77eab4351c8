//! The one integration-test binary: a module per area.

mod apply;
mod bad_input;
mod billing;
mod ci_templates;
mod cli_session;
mod controller;
mod dialect_lab;
mod diff;
mod fmt;
mod git_rev;
mod http_server;
mod lab_mib;
mod lab_snmp;
mod lab_ssh;
mod lab_up;
mod monitoring;
mod notifications;
mod observe;
mod plan_cli;
mod pull_requests;
mod status;
mod store;
mod support;
mod sync;
mod sync_serve;
mod validate;
