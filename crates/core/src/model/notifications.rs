//! `notifications:` in gamops.yaml: where alerts go (channels by name) and which go where
//! (routes by severity and device labels).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::controller::Interval;
use super::diagnostic::{Code, Diagnostic, SourceId};
use super::located::Located;
use super::monitoring::AlertSeverity;
use super::types::{Credential, Ident};

/// Where alert notifications are delivered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// The channels, by name: each is one of `email`, `webhook`, `slack` or `alertmanager`.
    #[serde(default)]
    pub channels: BTreeMap<Ident, Channel>,
    /// Matched in order: each route whose severity and labels match sends to its channels;
    /// matching stops at the first match unless it says `continue: true`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// The channels of a notification no route matched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default: Vec<Located<Ident>>,
    /// How a delivery that failed is retried.
    #[serde(default)]
    pub retry: Retry,
}

/// One channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email over SMTP.
    Email(EmailChannel),
    /// An HTTP POST of JSON signed per the Standard Webhooks specification.
    Webhook(WebhookChannel),
    /// A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).
    Slack(SlackChannel),
    /// Prometheus Alertmanager's API (`POST /api/v2/alerts`).
    Alertmanager(AlertmanagerChannel),
}

impl Channel {
    /// The channel's kind, as written in gamops.yaml.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Email(_) => "email",
            Channel::Webhook(_) => "webhook",
            Channel::Slack(_) => "slack",
            Channel::Alertmanager(_) => "alertmanager",
        }
    }

    /// How long one delivery may take before it counts as failed (and is retried).
    pub fn timeout(&self) -> std::time::Duration {
        let t = match self {
            Channel::Email(c) => c.timeout,
            Channel::Webhook(c) => c.timeout,
            Channel::Slack(c) => c.timeout,
            Channel::Alertmanager(c) => c.timeout,
        };
        t.map_or(DEFAULT_TIMEOUT, |t| t.0)
    }
}

/// How long one delivery may take unless the channel says otherwise.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is required (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (port 465 by default).
    Tls,
    /// No encryption at all (port 25 by default): only for a relay on the same host or LAN.
    None,
}

impl SmtpSecurity {
    /// The usual port of each.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        }
    }
}

/// Email over SMTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    /// The SMTP server's host name (also the name its certificate must carry).
    pub host: Located<String>,
    /// Its port; by default 587 (starttls), 465 (tls) or 25 (none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The login, when the server wants one (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<Located<String>>,
    /// The login's password: `env:NAME` or `file:PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Located<Credential>>,
    /// The sender: `gamops <alerts@example.net>` or `alerts@example.net`.
    pub from: Located<String>,
    /// The recipients.
    pub to: Vec<Located<String>>,
    /// A PEM file of certificate authorities to trust besides the system's (a private CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<Located<String>>,
    /// How long one delivery may take (connection, TLS, every command): default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Interval>,
}

/// A generic webhook, signed per the Standard Webhooks specification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    /// Where to POST: `https://hooks.example.net/gamops`.
    pub url: Located<String>,
    /// The signing secret, `whsec_` and base64: `env:NAME` or `file:PATH`.
    pub secret: Located<Credential>,
    /// How long one delivery may take: default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Interval>,
}

/// A Slack-compatible incoming webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackChannel {
    /// The incoming webhook's URL, which is its secret: `env:NAME` or `file:PATH`.
    pub url: Located<Credential>,
    /// How long one delivery may take: default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Interval>,
}

/// Prometheus Alertmanager.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerChannel {
    /// Alertmanager's base URL: `http://alertmanager:9093`.
    pub url: Located<String>,
    /// The link each alert carries back to its source (`generatorURL`), such as the
    /// controller's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<Located<String>>,
    /// How often alerts still firing are sent again (Alertmanager resolves an alert that is not
    /// sent again in time): default 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend: Option<Interval>,
    /// How long one delivery may take: default 30s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Interval>,
}

/// One route: which notifications go to which channels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The least severity that matches (`warning` matches warning and critical); any if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<AlertSeverity>,
    /// Labels the notification must carry with these values (the device's labels and the
    /// alert's own; `device` is the device's name): `{site: north}`.
    #[serde(default, rename = "match", skip_serializing_if = "BTreeMap::is_empty")]
    pub matchers: BTreeMap<String, String>,
    /// The channels a matching notification goes to.
    pub channels: Vec<Located<Ident>>,
    /// Keep matching the routes after this one.
    #[serde(default, rename = "continue")]
    pub keep_matching: bool,
}

/// How a failed delivery is retried: after `initial`, then twice as long each time (with
/// jitter), up to `max` between tries, for as long as it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// The first wait: default 5s.
    #[serde(default = "Retry::default_initial")]
    pub initial: Interval,
    /// The longest wait: default 5m.
    #[serde(default = "Retry::default_max")]
    pub max: Interval,
}

impl Retry {
    fn default_initial() -> Interval {
        Interval(std::time::Duration::from_secs(5))
    }

    fn default_max() -> Interval {
        Interval(std::time::Duration::from_secs(300))
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            initial: Self::default_initial(),
            max: Self::default_max(),
        }
    }
}

/// The section's rules: routes name channels that exist, secrets are references, URLs are
/// HTTP(S), an email has a sender and recipients.
pub(super) fn check(
    src: SourceId,
    n: &NotificationSettings,
    check_secret: impl Fn(&str, Option<&Located<Credential>>, &mut Vec<Diagnostic>),
    out: &mut Vec<Diagnostic>,
) {
    let known = |name: &Located<Ident>, out: &mut Vec<Diagnostic>| {
        if !n.channels.contains_key(&name.value) {
            let names: Vec<&str> = n.channels.keys().map(Ident::as_str).collect();
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    src,
                    name.pos,
                    format!("notifications names the channel {name}, which is not defined"),
                )
                .with_hint(if names.is_empty() {
                    "define it under notifications.channels".to_string()
                } else {
                    format!("the channels are: {}", names.join(", "))
                }),
            );
        }
    };
    for route in &n.routes {
        for name in &route.channels {
            known(name, out);
        }
    }
    for name in &n.default {
        known(name, out);
    }
    let http_url = |url: &Located<String>, out: &mut Vec<Diagnostic>| {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    src,
                    url.pos,
                    format!("{:?} is not an HTTP(S) URL", url.as_str()),
                )
                .with_hint("write the address as https://host/path"),
            );
        }
    };
    for channel in n.channels.values() {
        match channel {
            Channel::Email(e) => {
                check_secret("password", e.password.as_ref(), out);
                if e.password.is_some() != e.username.is_some() {
                    out.push(
                        Diagnostic::error(
                            Code::IncompleteSettings,
                            src,
                            e.host.pos,
                            "an email channel needs both username and password, or neither",
                        )
                        .with_hint("add the one that is missing, or remove the other"),
                    );
                }
                if e.to.is_empty() {
                    out.push(
                        Diagnostic::error(
                            Code::IncompleteSettings,
                            src,
                            e.host.pos,
                            "an email channel has no recipients",
                        )
                        .with_hint("list at least one address under `to`"),
                    );
                }
                for address in std::iter::once(&e.from).chain(&e.to) {
                    if !address.contains('@') {
                        out.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                src,
                                address.pos,
                                format!("{:?} is not an email address", address.as_str()),
                            )
                            .with_hint("write name@example.net or `Name <name@example.net>`"),
                        );
                    }
                }
            }
            Channel::Webhook(w) => {
                check_secret("secret", Some(&w.secret), out);
                http_url(&w.url, out);
            }
            Channel::Slack(s) => check_secret("url", Some(&s.url), out),
            Channel::Alertmanager(a) => {
                http_url(&a.url, out);
                if let Some(g) = &a.generator_url {
                    http_url(g, out);
                }
            }
        }
    }
    if n.retry.initial.0.is_zero() || n.retry.initial > n.retry.max {
        out.push(
            Diagnostic::error(
                Code::InvalidValue,
                src,
                crate::model::Pos::UNKNOWN,
                "notifications.retry: initial must be above zero and at most max",
            )
            .with_hint("for example initial: 5s, max: 5m"),
        );
    }
}
