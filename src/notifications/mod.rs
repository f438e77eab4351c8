//! Notifications: what the alert rules hand over to be delivered to people and to other
//! alerting systems.
//!
//! This module holds the one type both sides agree on. The alert engine
//! (`monitor::alerts`) decides *what* fires and resolves and sends a [`Notification`] for each
//! transition; delivery (the channels, routes, retries and the durable outbox) decides *where*
//! and *how* it goes, and never drops one it was handed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How bad an alert is (the model's type: rules and routes name severities the same way).
pub use crate::model::AlertSeverity as Severity;

/// Whether a notification says an alert started or ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert transition, as delivery sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The alert's identity, stable across its firing and resolving (the dedup key):
    /// `endpoint-offline/gam-0001/00:11:22:33:44:55`.
    pub key: String,
    /// The rule that raised it, in snake case: `endpoint_offline`.
    pub rule: String,
    pub severity: Severity,
    pub status: AlertStatus,
    /// The GAM it is about, when it is about one.
    pub device: Option<String>,
    /// The device's labels from the inventory and the rule's own (subscriber, port, mac).
    pub labels: BTreeMap<String, String>,
    /// One line for a subject or a chat message.
    pub summary: String,
    /// What was seen and what to look at; may be several lines.
    pub description: String,
    /// When the alert started firing, in unix milliseconds.
    pub starts_at_ms: i64,
    /// When it resolved, in unix milliseconds (resolved notifications only).
    pub ends_at_ms: Option<i64>,
}

mod alertmanager;
mod channel;
mod deliver;
mod email;
mod route;
mod slack;
mod webhook;

pub use channel::{NotifyError, SendError, Sender};
pub use deliver::{Notifier, deliver, send_test};
pub use webhook::{sign as sign_webhook, webhook_key};

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

impl Notification {
    /// The outbox row id of this notification on `channel`: the same for the same transition
    /// of the same alert (so handing it over twice stores it once), different for its firing
    /// and its resolving, and for a later firing of the same key. Sent as the webhook-id and
    /// in the email's Message-ID.
    pub fn delivery_id(&self, channel: &str) -> String {
        self.delivery_id_as(channel, self.status)
    }

    /// The delivery id this alert's notification with `status` has (a resolved email answers
    /// its firing one).
    pub fn delivery_id_as(&self, channel: &str, status: AlertStatus) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in [
            channel,
            &self.key,
            status.as_str(),
            &self.starts_at_ms.to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        format!("msg_{}", hex::encode(&h.finalize()[..16]))
    }
}

/// A moment in unix milliseconds as RFC 3339 in UTC (`2026-12-01T02:30:00.123Z`).
pub(crate) fn rfc3339(ms: i64) -> String {
    crate::store::Timestamp::from_millis(ms).to_string()
}
