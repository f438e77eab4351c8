//! The driver that changes a GAM through its JSON-RPC provisioning API (`POST /json_rpc`, HTTP
//! Basic auth with the web UI's users, HTTPS optional with the certificate pinned).
//!
//! `calls.rs` builds every call (the counterpart of the CLI's dialect), `session.rs` sends them
//! one at a time after asking the firmware which methods it has, `error.rs` turns every failure
//! into one message, and `tls.rs` pins a self-signed certificate.

pub mod calls;
pub mod error;
pub mod session;
pub mod tls;

pub use calls::Call;
pub use error::RpcError;
pub use session::{JsonRpcSession, JsonRpcTarget};
