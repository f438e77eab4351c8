//! A channel ready to send: its settings checked and its secrets resolved.

use std::time::Duration;

use crate::model::notifications::Channel;
use crate::secret::CredentialError;

use super::Notification;
use super::alertmanager::AlertmanagerSender;
use super::email::EmailSender;
use super::slack::SlackSender;
use super::webhook::WebhookSender;

/// Why notifications cannot be set up or a channel cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("gamops.yaml has no notifications section")]
    NotConfigured,
    #[error("there is no notification channel {name}")]
    UnknownChannel { name: String, known: Vec<String> },
    #[error("notification channel {channel}: {field}: {source}")]
    Secret {
        channel: String,
        field: &'static str,
        #[source]
        source: CredentialError,
    },
    #[error("notification channel {channel}: {problem}")]
    Invalid { channel: String, problem: String },
    #[error("notification channel {channel}: test notification not delivered: {error}")]
    NotDelivered { channel: String, error: SendError },
}

impl NotifyError {
    /// What would help, when something would.
    pub fn hint(&self) -> Option<String> {
        match self {
            NotifyError::NotConfigured => Some(
                "add `notifications:` with its channels to gamops.yaml (see the README)".into(),
            ),
            NotifyError::UnknownChannel { known, .. } if known.is_empty() => {
                Some("gamops.yaml defines no channel under notifications.channels".into())
            }
            NotifyError::UnknownChannel { known, .. } => {
                Some(format!("the channels are: {}", known.join(", ")))
            }
            NotifyError::Secret { .. } => {
                Some("set the variable or create the file the reference names".into())
            }
            NotifyError::Invalid { .. } => None,
            NotifyError::NotDelivered { .. } => Some(
                "check the channel's address and credentials, and that its server is up".into(),
            ),
        }
    }
}

/// Why one delivery failed; it is retried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// One channel, ready to send.
#[derive(Debug)]
pub enum Sender {
    Email(Box<EmailSender>),
    Webhook(WebhookSender),
    Slack(SlackSender),
    Alertmanager(AlertmanagerSender),
}

impl Sender {
    /// Checks `channel`'s settings and resolves its secrets.
    pub fn new(name: &str, channel: &Channel) -> Result<Sender, NotifyError> {
        let timeout = channel.timeout();
        Ok(match channel {
            Channel::Email(c) => Sender::Email(Box::new(EmailSender::new(name, c, timeout)?)),
            Channel::Webhook(c) => Sender::Webhook(WebhookSender::new(name, c, timeout)?),
            Channel::Slack(c) => Sender::Slack(SlackSender::new(name, c, timeout)?),
            Channel::Alertmanager(c) => {
                Sender::Alertmanager(AlertmanagerSender::new(name, c, timeout)?)
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Sender::Email(_) => "email",
            Sender::Webhook(_) => "webhook",
            Sender::Slack(_) => "slack",
            Sender::Alertmanager(_) => "alertmanager",
        }
    }

    /// How long one delivery may take.
    pub fn timeout(&self) -> Duration {
        match self {
            Sender::Email(s) => s.timeout,
            Sender::Webhook(s) => s.timeout,
            Sender::Slack(s) => s.timeout,
            Sender::Alertmanager(s) => s.timeout,
        }
    }

    /// Sends one notification, `id` being its delivery id (the same on every try); at most
    /// [`Sender::timeout`] long.
    pub async fn send(&self, id: &str, n: &Notification) -> Result<(), SendError> {
        let timeout = self.timeout();
        let send = async {
            match self {
                Sender::Email(s) => s.send(id, n).await,
                Sender::Webhook(s) => s.send(id, n).await,
                Sender::Slack(s) => s.send(n).await,
                Sender::Alertmanager(s) => s.send(std::slice::from_ref(n)).await,
            }
        };
        match tokio::time::timeout(timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(SendError(format!(
                "no answer within {}s",
                timeout.as_secs_f64()
            ))),
        }
    }
}

/// Resolves a required secret of a channel.
pub(super) fn secret(
    channel: &str,
    field: &'static str,
    credential: &crate::model::Credential,
) -> Result<crate::secret::Secret, NotifyError> {
    crate::secret::resolve_required(credential).map_err(|source| NotifyError::Secret {
        channel: channel.to_string(),
        field,
        source,
    })
}

/// An HTTP client for one channel: its timeout, gamops's user agent, rustls.
pub(super) fn http_client(
    channel: &str,
    timeout: Duration,
) -> Result<reqwest::Client, NotifyError> {
    crate::http_client::builder(timeout)
        .build()
        .map_err(|e| NotifyError::Invalid {
            channel: channel.to_string(),
            problem: format!("cannot set up an HTTP client: {e}"),
        })
}

/// POSTs `body` as JSON; any answer but 2xx is an error that names it.
pub(super) async fn post_json(
    request: reqwest::RequestBuilder,
    body: String,
) -> Result<(), SendError> {
    let response = request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| SendError(describe_reqwest(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.trim().chars().take(200).collect();
    Err(SendError(if text.is_empty() {
        format!("answered HTTP {status}")
    } else {
        format!("answered HTTP {status}: {text}")
    }))
}

/// A reqwest error with its causes (reqwest's own message is only "error sending request").
fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{what}: {}", crate::error_text::flatten(cause)),
        None => what.to_string(),
    }
}
