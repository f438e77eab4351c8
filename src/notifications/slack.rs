//! Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat): `text` for
//! notifications and clients that show no blocks, and `blocks` (a header, the description and
//! the facts) for those that do.

use std::time::Duration;

use serde_json::json;

use crate::model::notifications::SlackChannel;

use super::channel::{NotifyError, SendError, http_client, post_json, secret};
use super::{AlertStatus, Notification, rfc3339};

#[derive(Debug)]
pub struct SlackSender {
    /// The URL is the secret: never printed.
    url: crate::secret::Secret,
    client: reqwest::Client,
    pub(super) timeout: Duration,
}

/// Slack's mrkdwn escaping: `&`, `<` and `>` only.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters (Slack refuses longer header and section texts).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The message: `text` and `blocks`.
pub(super) fn body(n: &Notification) -> String {
    let (mark, word) = match n.status {
        AlertStatus::Firing => (":rotating_light:", "FIRING"),
        AlertStatus::Resolved => (":white_check_mark:", "RESOLVED"),
    };
    let text = format!(
        "{mark} [{word}] {}: {}",
        n.severity.as_str(),
        escape(&n.summary)
    );
    let mut facts = vec![format!("*Rule:* {}", escape(&n.rule))];
    if let Some(device) = &n.device {
        facts.push(format!("*Device:* {}", escape(device)));
    }
    facts.push(format!("*Started:* {}", rfc3339(n.starts_at_ms)));
    if let Some(end) = n.ends_at_ms {
        facts.push(format!("*Ended:* {}", rfc3339(end)));
    }
    if !n.labels.is_empty() {
        let labels: Vec<String> = n
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        facts.push(format!("*Labels:* {}", labels.join(", ")));
    }
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&format!("[{word}] {}", n.summary), 150)}
    })];
    if !n.description.trim().is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(&escape(&n.description), 3000)}
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut(&facts.join("  |  "), 3000)}]
    }));
    json!({"text": text, "blocks": blocks}).to_string()
}

impl SlackSender {
    pub(super) fn new(
        name: &str,
        c: &SlackChannel,
        timeout: Duration,
    ) -> Result<SlackSender, NotifyError> {
        let url = secret(name, "url", &c.url)?;
        let text = url.expose().trim();
        if !(text.starts_with("https://") || text.starts_with("http://"))
            || reqwest::Url::parse(text).is_err()
        {
            return Err(NotifyError::Invalid {
                channel: name.to_string(),
                problem: format!("url ({}) does not hold an HTTP(S) URL", *c.url),
            });
        }
        Ok(SlackSender {
            url: crate::secret::Secret::new(text),
            client: http_client(name, timeout)?,
            timeout,
        })
    }

    pub(super) async fn send(&self, n: &Notification) -> Result<(), SendError> {
        post_json(self.client.post(self.url.expose()), body(n)).await
    }
}
