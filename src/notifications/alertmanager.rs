//! Prometheus Alertmanager: `POST /api/v2/alerts`. An alert's labels are its identity there
//! (the rule as `alertname`, `severity`, `device`, the notification's labels and its key as
//! `alert_key`), the same when it fires and when it resolves; summary and description are
//! annotations. Alertmanager resolves by itself an alert not sent again before its `endsAt`,
//! so a firing alert carries `endsAt` a few resend intervals ahead and is sent again every
//! interval while it fires (the delivery loop does that); a resolved one carries the moment
//! it ended. Alertmanager merges alerts with the same labels, so a send retried after a
//! timeout does no harm.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::model::notifications::AlertmanagerChannel;

use super::channel::{NotifyError, SendError, http_client, post_json};
use super::{Notification, rfc3339};

/// How often firing alerts are sent again unless the channel says otherwise.
pub const DEFAULT_RESEND: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct AlertmanagerSender {
    endpoint: String,
    generator_url: Option<String>,
    pub(super) resend: Duration,
    client: reqwest::Client,
    pub(super) timeout: Duration,
}

/// A label name Alertmanager accepts: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The alerts as Alertmanager's API takes them; `now_ms` sets a firing alert's `endsAt`.
pub(super) fn body(
    alerts: &[Notification],
    generator_url: Option<&str>,
    now_ms: i64,
    resend: Duration,
) -> String {
    let hold = i64::try_from(resend.saturating_mul(4).as_millis()).unwrap_or(i64::MAX);
    let list: Vec<serde_json::Value> = alerts
        .iter()
        .map(|n| {
            let mut labels: BTreeMap<String, String> = n
                .labels
                .iter()
                .map(|(k, v)| (label_name(k), v.clone()))
                .collect();
            labels.insert("alertname".into(), n.rule.clone());
            labels.insert("severity".into(), n.severity.as_str().into());
            if let Some(device) = &n.device {
                labels.insert("device".into(), device.clone());
            }
            labels.insert("alert_key".into(), n.key.clone());
            let ends = n.ends_at_ms.unwrap_or(now_ms.saturating_add(hold));
            let mut alert = json!({
                "labels": labels,
                "annotations": {"summary": n.summary, "description": n.description},
                "startsAt": rfc3339(n.starts_at_ms),
                "endsAt": rfc3339(ends),
            });
            if let Some(url) = generator_url {
                alert["generatorURL"] = json!(url);
            }
            alert
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

impl AlertmanagerSender {
    pub(super) fn new(
        name: &str,
        c: &AlertmanagerChannel,
        timeout: Duration,
    ) -> Result<AlertmanagerSender, NotifyError> {
        let base = c.url.trim_end_matches('/');
        let endpoint = format!("{base}/api/v2/alerts");
        reqwest::Url::parse(&endpoint).map_err(|e| NotifyError::Invalid {
            channel: name.to_string(),
            problem: format!("url {:?}: {e}", c.url.as_str()),
        })?;
        Ok(AlertmanagerSender {
            endpoint,
            generator_url: c.generator_url.as_ref().map(|u| u.to_string()),
            resend: c
                .resend
                .map_or(DEFAULT_RESEND, |r| r.0.max(Duration::from_secs(1))),
            client: http_client(name, timeout)?,
            timeout,
        })
    }

    /// Posts `alerts` (firing ones held for a few resend intervals, resolved ones ended).
    pub(super) async fn send(&self, alerts: &[Notification]) -> Result<(), SendError> {
        let now = crate::store::Timestamp::now().as_millis();
        let body = body(alerts, self.generator_url.as_deref(), now, self.resend);
        post_json(self.client.post(&self.endpoint), body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_made_valid() {
        assert_eq!(label_name("site"), "site");
        assert_eq!(label_name("rack-id"), "rack_id");
        assert_eq!(label_name("9lives"), "_9lives");
        assert_eq!(label_name(""), "_");
    }
}
