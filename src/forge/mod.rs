//! The forges' REST APIs, as far as the controller needs them on a pull request: one comment
//! kept up to date, and a commit status on the head.
//!
//! GitHub (`/repos/{owner}/{repo}/issues/{n}/comments`, `/issues/comments/{id}`,
//! `/statuses/{sha}`), GitLab (`/projects/{path}/merge_requests/{iid}/notes`,
//! `/projects/{path}/statuses/{sha}`) and Gitea or Forgejo (GitHub's paths under `/api/v1`).
//! The comment is found again by a hidden marker in its body, so a restarted controller edits
//! its comment rather than adding another. A request is retried, with backoff, when another try
//! can succeed: a connection that failed or timed out, a 5xx, a rate limit (429, or GitHub's 403
//! with no requests left), waiting what `Retry-After` says. 401, 403, 404 and 422 are final and
//! say what to fix. Nothing here panics or stops its caller: every failure is a [`ForgeError`].

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::model::ForgeKind;
use crate::secret::Secret;

/// The marker the controller's comment carries (an HTML comment: invisible to the reader).
pub const MARKER: &str = "<!-- gamops-plan -->";

/// The commit status's context (GitLab: its name).
pub const CONTEXT: &str = "gamops/plan";

/// A commit status's state, as the three forges share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Success,
    Failure,
}

/// Why a forge request did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    #[error("{forge} {what}: {status} {message}")]
    Status {
        forge: &'static str,
        what: String,
        status: u16,
        message: String,
    },
    #[error("{forge} {what}: rate limited after {attempts} attempt(s): {message}")]
    RateLimited {
        forge: &'static str,
        what: String,
        attempts: u32,
        message: String,
    },
    #[error("{forge} {what}: {message}")]
    Transport {
        forge: &'static str,
        what: String,
        message: String,
    },
    #[error("{forge} {what}: the answer is not what the API documents: {message}")]
    Answer {
        forge: &'static str,
        what: String,
        message: String,
    },
    #[error("the forge's token: {0}")]
    Token(#[from] crate::secret::CredentialError),
}

impl ForgeError {
    /// What would help, without naming a command-line flag.
    pub fn hint(&self) -> String {
        match self {
            ForgeError::Status { status: 401, .. } => {
                "the token in controller.pull_requests.forge.token is wrong or expired: make a new one".into()
            }
            ForgeError::Status { status: 403, .. } => {
                "the token may not write comments or commit statuses on this repository: give it those permissions".into()
            }
            ForgeError::Status { status: 404, .. } => {
                "check controller.pull_requests.forge.repository and api_url, and that the token can see the repository".into()
            }
            ForgeError::Status { status: 422, .. } => {
                "the forge refused the content; the commit may be gone (a force-push) or the comment too long".into()
            }
            ForgeError::Status { .. } | ForgeError::Transport { .. } => {
                "the forge may be down or unreachable; the controller tries again later".into()
            }
            ForgeError::RateLimited { .. } => {
                "the token's request quota is used up; the controller tries again later".into()
            }
            ForgeError::Answer { .. } => "check controller.pull_requests.forge.kind and api_url".into(),
            ForgeError::Token(_) => "set the variable or file that controller.pull_requests.forge.token names".into(),
        }
    }
}

/// How many times, and how long between.
#[derive(Clone, Debug)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt, doubling after each.
    pub base: Duration,
    /// The longest wait between attempts (also caps `Retry-After`).
    pub max: Duration,
    /// How long one request may take, answer included.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 4,
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

/// One repository on one forge, with its token.
#[derive(Clone)]
pub struct Forge {
    pub kind: ForgeKind,
    api: String,
    repository: String,
    token: Secret,
    client: Client,
    retry: Retry,
}

impl std::fmt::Debug for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} at {}",
            self.kind.as_str(),
            self.repository,
            self.api
        )
    }
}

/// The URL-path form of a GitLab project path (`group/sub/name` to `group%2Fsub%2Fname`).
fn encode_path(path: &str) -> String {
    form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

impl Forge {
    /// A client of `settings`' forge, its token resolved now.
    pub fn new(settings: &crate::model::Forge, retry: Retry) -> Result<Forge, ForgeError> {
        let token = crate::secret::resolve_required(&settings.token)?;
        let api = match (&settings.api_url, settings.kind) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, ForgeKind::Github) => "https://api.github.com".to_string(),
            (None, ForgeKind::Gitlab) => "https://gitlab.com/api/v4".to_string(),
            (None, ForgeKind::Gitea) => "https://codeberg.org/api/v1".to_string(),
        };
        let client = crate::http_client::builder(retry.timeout)
            .build()
            .map_err(|e| ForgeError::Transport {
                forge: settings.kind.as_str(),
                what: "client".into(),
                message: e.to_string(),
            })?;
        Ok(Forge {
            kind: settings.kind,
            api,
            repository: settings.repository.trim_matches('/').to_string(),
            token,
            client,
            retry,
        })
    }

    /// The largest comment the forge takes, in characters: GitHub's documented 65,536;
    /// GitLab's 1,000,000; Gitea documents none (its column is unbounded text), so gamops
    /// keeps to GitHub's, which every Gitea and Forgejo renders without trouble.
    pub fn comment_limit(&self) -> usize {
        match self.kind {
            ForgeKind::Github | ForgeKind::Gitea => 65_536,
            ForgeKind::Gitlab => 1_000_000,
        }
    }

    fn repo_path(&self) -> String {
        match self.kind {
            ForgeKind::Gitlab => format!("{}/projects/{}", self.api, encode_path(&self.repository)),
            ForgeKind::Github | ForgeKind::Gitea => {
                format!("{}/repos/{}", self.api, self.repository)
            }
        }
    }

    fn comments_url(&self, number: u64) -> String {
        match self.kind {
            ForgeKind::Gitlab => format!("{}/merge_requests/{number}/notes", self.repo_path()),
            _ => format!("{}/issues/{number}/comments", self.repo_path()),
        }
    }

    fn comment_url(&self, number: u64, id: u64) -> String {
        match self.kind {
            ForgeKind::Gitlab => format!("{}/merge_requests/{number}/notes/{id}", self.repo_path()),
            _ => format!("{}/issues/comments/{id}", self.repo_path()),
        }
    }

    /// Creates the pull request's comment, or edits the one already there (`known`, else the
    /// one carrying [`MARKER`]). `body` must carry the marker. Returns the comment's id.
    pub async fn upsert_comment(
        &self,
        number: u64,
        known: Option<u64>,
        body: &str,
    ) -> Result<u64, ForgeError> {
        let existing = match known {
            Some(id) => Some(id),
            None => self.find_comment(number).await?,
        };
        let payload = json!({ "body": body });
        if let Some(id) = existing {
            let method = match self.kind {
                ForgeKind::Gitlab => Method::PUT,
                _ => Method::PATCH,
            };
            match self
                .send(
                    method.clone(),
                    &self.comment_url(number, id),
                    Some(&payload),
                    "edit the plan comment",
                )
                .await
            {
                Ok(_) => return Ok(id),
                // Deleted by someone meanwhile: write a new one.
                Err(ForgeError::Status { status: 404, .. }) if known.is_some() => {
                    if let Some(found) = self.find_comment(number).await? {
                        self.send(
                            method,
                            &self.comment_url(number, found),
                            Some(&payload),
                            "edit the plan comment",
                        )
                        .await?;
                        return Ok(found);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let answer = self
            .send(
                Method::POST,
                &self.comments_url(number),
                Some(&payload),
                "comment on the pull request",
            )
            .await?;
        answer["id"].as_u64().ok_or_else(|| ForgeError::Answer {
            forge: self.kind.as_str(),
            what: "comment on the pull request".into(),
            message: "no numeric `id` in the created comment".into(),
        })
    }

    /// The id of the comment that starts with [`MARKER`] (as gamops writes it; a reply quoting
    /// it does not), looking through every page.
    pub async fn find_comment(&self, number: u64) -> Result<Option<u64>, ForgeError> {
        const PER_PAGE: usize = 100;
        for page in 1..=100u32 {
            let size = match self.kind {
                ForgeKind::Gitea => format!("limit={PER_PAGE}"),
                _ => format!("per_page={PER_PAGE}"),
            };
            let url = format!("{}?{size}&page={page}", self.comments_url(number));
            let answer = self
                .send(Method::GET, &url, None, "list the pull request's comments")
                .await?;
            let Some(list) = answer.as_array() else {
                return Err(ForgeError::Answer {
                    forge: self.kind.as_str(),
                    what: "list the pull request's comments".into(),
                    message: "not a JSON array".into(),
                });
            };
            if let Some(c) = list
                .iter()
                .find(|c| c["body"].as_str().is_some_and(|b| b.starts_with(MARKER)))
            {
                return Ok(c["id"].as_u64());
            }
            // Until an empty page: a server may cap the page size below the one asked for
            // (Gitea's default cap is 50), so a short page is not the last one.
            if list.is_empty() {
                break;
            }
        }
        Ok(None)
    }

    /// Sets the `gamops/plan` status of `sha`. `description` is cut to the 140 characters
    /// GitHub allows.
    pub async fn set_status(
        &self,
        sha: &str,
        state: State,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let description: String = if description.chars().count() > 140 {
            let mut d: String = description.chars().take(139).collect();
            d.push('…');
            d
        } else {
            description.to_string()
        };
        let payload = match self.kind {
            ForgeKind::Gitlab => json!({
                "state": match state {
                    State::Pending => "pending",
                    State::Success => "success",
                    State::Failure => "failed",
                },
                "name": CONTEXT,
                "description": description,
                "target_url": target_url,
            }),
            _ => json!({
                "state": state,
                "context": CONTEXT,
                "description": description,
                "target_url": target_url,
            }),
        };
        let url = format!("{}/statuses/{sha}", self.repo_path());
        self.send(Method::POST, &url, Some(&payload), "set the commit status")
            .await
            .map(|_| ())
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let token = self.token.expose();
        match self.kind {
            ForgeKind::Github => req
                .bearer_auth(token)
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28"),
            ForgeKind::Gitlab => req.header("private-token", token),
            ForgeKind::Gitea => req
                .header("authorization", format!("token {token}"))
                .header("accept", "application/json"),
        }
    }

    /// One request, retried as the module says; the answer's JSON (`null` when empty).
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, ForgeError> {
        let forge = self.kind.as_str();
        let attempts = self.retry.attempts.max(1);
        let mut last = None;
        for attempt in 1..=attempts {
            let mut req = self.authorize(self.client.request(method.clone(), url));
            if let Some(b) = body {
                req = req.json(b);
            }
            let (error, wait) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let text = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        if text.trim().is_empty() {
                            return Ok(Value::Null);
                        }
                        return serde_json::from_str(&text).map_err(|e| ForgeError::Answer {
                            forge,
                            what: what.into(),
                            message: e.to_string(),
                        });
                    }
                    let message = api_message(&text);
                    let retry_after = retry_after(&headers).map(|d| d.min(self.retry.max));
                    let out_of_quota = status == StatusCode::FORBIDDEN
                        && headers
                            .get("x-ratelimit-remaining")
                            .is_some_and(|v| v.as_bytes() == b"0");
                    if status == StatusCode::TOO_MANY_REQUESTS
                        || out_of_quota
                        || (status == StatusCode::FORBIDDEN && retry_after.is_some())
                    {
                        let e = ForgeError::RateLimited {
                            forge,
                            what: what.into(),
                            attempts,
                            message,
                        };
                        (e, retry_after.unwrap_or(self.backoff(attempt)))
                    } else if status.is_server_error() {
                        let e = ForgeError::Status {
                            forge,
                            what: what.into(),
                            status: status.as_u16(),
                            message,
                        };
                        (e, retry_after.unwrap_or(self.backoff(attempt)))
                    } else {
                        return Err(ForgeError::Status {
                            forge,
                            what: what.into(),
                            status: status.as_u16(),
                            message,
                        });
                    }
                }
                Err(e) => {
                    let transient = e.is_timeout() || e.is_connect();
                    let message = if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        e.without_url().to_string()
                    };
                    let e = ForgeError::Transport {
                        forge,
                        what: what.into(),
                        message,
                    };
                    if !transient {
                        return Err(e);
                    }
                    (e, self.backoff(attempt))
                }
            };
            tracing::warn!(forge, what, attempt, "{error}");
            last = Some(error);
            if attempt < attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(last.unwrap_or_else(|| ForgeError::Transport {
            forge,
            what: what.into(),
            message: "no attempt was made".into(),
        }))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        crate::retry::Backoff::new(self.retry.base, self.retry.max).wait(attempt)
    }
}

/// The forge's own words from an error body (`message`, GitLab's `error`), else its start.
fn api_message(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap_or_default();
    let said = v["message"]
        .as_str()
        .or(v["error"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(200).collect());
    if said.trim().is_empty() {
        "(no message)".into()
    } else {
        said
    }
}

/// `Retry-After` in seconds; failing that, GitHub's `x-ratelimit-reset` (a Unix time).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(wait) = crate::retry::retry_after(headers) {
        return Some(wait);
    }
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    let reset = number("x-ratelimit-reset")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    (headers
        .get("x-ratelimit-remaining")
        .is_some_and(|v| v.as_bytes() == b"0"))
    .then(|| Duration::from_secs(reset.saturating_sub(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_paths_are_encoded_and_errors_say_what_to_do() {
        assert_eq!(encode_path("group/sub/name"), "group%2Fsub%2Fname");
        assert_eq!(
            api_message(r#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(api_message(r#"{"error":"404 Not found"}"#), "404 Not found");
        assert_eq!(api_message(""), "(no message)");
        let e = ForgeError::Status {
            forge: "github",
            what: "set the commit status".into(),
            status: 401,
            message: "Bad credentials".into(),
        };
        assert_eq!(
            e.to_string(),
            "github set the commit status: 401 Bad credentials"
        );
        assert!(e.hint().contains("token"));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }
}
