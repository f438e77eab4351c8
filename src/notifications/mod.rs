//! Notifications: what the alert rules hand over to be delivered to people and to other
//! alerting systems.
//!
//! This module holds the one type both sides agree on. The alert engine
//! (`monitor::alerts`) decides *what* fires and resolves and sends a [`Notification`] for each
//! transition; delivery (the channels, routes, retries and the durable outbox) decides *where*
//! and *how* it goes, and never drops one it was handed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How bad an alert is. Ordered: `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

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
