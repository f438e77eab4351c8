//! Calling HTTP APIs: the one way gamops sets up a client (a forge's, a billing system's, a
//! notification channel's): rustls (never OpenSSL; see deny.toml), gamops's user agent, a whole
//! request bounded by `timeout`, and a connection by at most ten seconds of it. When to try again
//! is [`gamops_core::retry`]'s.

use std::time::Duration;

/// The user agent gamops sends unless a caller needs its own.
pub const USER_AGENT: &str = concat!("gamops/", env!("CARGO_PKG_VERSION"));

/// The longest wait for a connection, whatever the request's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client builder with gamops's settings; a caller may add its own (another user agent)
/// before `build`.
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(CONNECT_TIMEOUT))
        .user_agent(USER_AGENT)
}
