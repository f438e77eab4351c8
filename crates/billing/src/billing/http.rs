//! Timeouts, retries and backoff shared by both billing clients: one implementation.
//!
//! A request is retried only when a retry can succeed: on connection failures and timeouts, on
//! HTTP 429 and 502-504 (a gateway or an overloaded server), and on whatever the client's own
//! classifier calls a rate limit (Sonar's 400/minute body). Any other answer (500, 501, 4xx) is
//! final at once: asking again would only delay the sync and every webhook queued behind it.
//! Each attempt builds a fresh request, so per-request signatures get a fresh nonce.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::BillingError;

/// When and how often to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles each time, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The wait after a rate-limit answer without `Retry-After` (Sonar's window is 60 s).
    pub rate_limit_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            rate_limit_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n + 1` (n >= 1), doubling from `base_delay`.
    pub fn backoff(&self, n: u32) -> Duration {
        crate::retry::Backoff::new(self.base_delay, self.max_delay).wait(n)
    }
}

/// Connection settings for a billing client.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// The whole request, body included. Full lists are slow: 60 s is the floor of what
    /// production integrations use.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Kept constant: Splynx binds access tokens to the User-Agent.
    pub user_agent: String,
    /// At most this many requests per minute (paced evenly); Sonar allows 400.
    pub max_per_minute: Option<u32>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            user_agent: crate::http_client::USER_AGENT.to_string(),
            max_per_minute: None,
        }
    }
}

/// A completed HTTP exchange.
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first 300 characters of the body, for error messages.
    pub fn preview(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(300)
            .collect()
    }
}

/// What the client's classifier says about a completed response.
pub enum Verdict {
    /// Use it (success or a final error the caller interprets).
    Done,
    /// A rate limit: wait and retry. The message is kept for the final error.
    RateLimited(String),
}

/// An HTTP client with the shared timeouts, retries and pacing.
#[derive(Debug)]
pub struct Http {
    client: Client,
    config: HttpConfig,
    system: &'static str,
    next_slot: Mutex<Option<Instant>>,
}

impl Http {
    pub fn new(system: &'static str, config: HttpConfig) -> Result<Http, BillingError> {
        let client = crate::http_client::builder(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| BillingError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            client,
            config,
            system,
            next_slot: Mutex::new(None),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn system(&self) -> &'static str {
        self.system
    }

    /// Waits for this request's slot under `max_per_minute`.
    async fn pace(&self) {
        let Some(per_minute) = self.config.max_per_minute.filter(|n| *n > 0) else {
            return;
        };
        let gap = Duration::from_secs(60) / per_minute;
        let wait_until = {
            let mut slot = self.next_slot.lock().await;
            let now = Instant::now();
            let at = slot.map_or(now, |s| s.max(now));
            *slot = Some(at + gap);
            at
        };
        tokio::time::sleep_until(wait_until).await;
    }

    /// Sends the request `build` makes, retrying as the policy says. `classify` looks at each
    /// completed response; 429 and 502-504 are retried whatever it says.
    pub async fn send(
        &self,
        what: &str,
        build: impl Fn(&Client) -> Result<RequestBuilder, BillingError>,
        classify: impl Fn(&RawResponse) -> Verdict,
    ) -> Result<RawResponse, BillingError> {
        self.send_attempts(what, self.config.retry.attempts, build, classify)
            .await
    }

    /// Sends the request once, without retrying (for best-effort requests such as a logout).
    pub async fn send_once(
        &self,
        what: &str,
        build: impl Fn(&Client) -> Result<RequestBuilder, BillingError>,
    ) -> Result<RawResponse, BillingError> {
        self.send_attempts(what, 1, build, |_| Verdict::Done).await
    }

    async fn send_attempts(
        &self,
        what: &str,
        attempts: u32,
        build: impl Fn(&Client) -> Result<RequestBuilder, BillingError>,
        classify: impl Fn(&RawResponse) -> Verdict,
    ) -> Result<RawResponse, BillingError> {
        let policy = &self.config.retry;
        let attempts = attempts.max(1);
        let mut last: Option<BillingError> = None;
        for attempt in 1..=attempts {
            self.pace().await;
            let outcome = match build(&self.client)?.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => Ok(RawResponse {
                            status,
                            headers,
                            body: body.to_vec(),
                        }),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let wait = match outcome {
                Ok(raw) => {
                    let verdict = classify(&raw);
                    let retry_after = retry_after(&raw.headers);
                    match verdict {
                        Verdict::RateLimited(message) => {
                            tracing::warn!(system = self.system, what, attempt, "rate limited");
                            last = Some(BillingError::RateLimited {
                                system: self.system,
                                attempts,
                                message,
                            });
                            retry_after.unwrap_or(policy.rate_limit_delay)
                        }
                        Verdict::Done if raw.status == StatusCode::TOO_MANY_REQUESTS => {
                            last = Some(BillingError::RateLimited {
                                system: self.system,
                                attempts,
                                message: raw.preview(),
                            });
                            retry_after.unwrap_or(policy.rate_limit_delay)
                        }
                        Verdict::Done if retryable(raw.status) => {
                            tracing::warn!(system = self.system, what, attempt, status = %raw.status, "server error");
                            if attempt == attempts {
                                return Ok(raw);
                            }
                            policy.backoff(attempt)
                        }
                        Verdict::Done => return Ok(raw),
                    }
                }
                Err(e) => {
                    tracing::warn!(system = self.system, what, attempt, error = %e, "request failed");
                    // Only a timeout or a connection that could not be made may go better on
                    // another try; anything else (a redirect loop, a broken body) is final.
                    let transient = e.is_timeout() || e.is_connect();
                    last = Some(if e.is_timeout() {
                        BillingError::Timeout {
                            system: self.system,
                            what: what.to_string(),
                            attempts,
                        }
                    } else {
                        BillingError::Connect {
                            system: self.system,
                            what: what.to_string(),
                            // Without the URL: it may carry a token (never in our clients,
                            // but be safe).
                            message: e.without_url().to_string(),
                        }
                    });
                    if !transient {
                        break;
                    }
                    policy.backoff(attempt)
                }
            };
            if attempt < attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(last.unwrap_or_else(|| BillingError::Connect {
            system: self.system,
            what: what.to_string(),
            message: "no attempt was made".into(),
        }))
    }
}

/// A status a later attempt may not get: 502 Bad Gateway, 503 Service Unavailable, 504 Gateway
/// Timeout. (429 is handled as a rate limit.) A 500 or 501 is the server's final word.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// `Retry-After` in seconds, capped at five minutes.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    crate::retry::retry_after(headers).map(|wait| wait.min(Duration::from_secs(300)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_gateway_and_overload_statuses_are_retried() {
        for code in [502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 404, 500, 501, 505] {
            assert!(!retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
            rate_limit_delay: Duration::from_secs(60),
        };
        assert_eq!(p.backoff(1), Duration::from_secs(2));
        assert_eq!(p.backoff(2), Duration::from_secs(4));
        assert_eq!(p.backoff(3), Duration::from_secs(8));
        assert_eq!(p.backoff(4), Duration::from_secs(10));
        assert_eq!(p.backoff(100), Duration::from_secs(10));
    }
}
