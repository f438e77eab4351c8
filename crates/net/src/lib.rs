//! gamops-net: the async I/O the other crates share: the HTTP client and server every
//! component uses, and git's fetch and push through the `git` CLI.

pub mod http_client;
pub mod http_server;

/// Git: `gamops_core::git` (trees at a revision, commits) and `remote` (fetch and push).
pub mod git {
    pub use gamops_core::git::*;
    pub mod remote;
}
