//! Email over SMTP (lettre, TLS on rustls): STARTTLS (required, never skipped when the server
//! does not offer it), TLS from the first byte, or none. Every send opens its own connection
//! under the channel's timeout, which also bounds each SMTP command, so a server that hangs
//! holds up only its own channel. The Message-ID is the delivery id, and a resolved alert's
//! mail answers (In-Reply-To) its firing one, so mail clients thread them.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::model::notifications::{EmailChannel, SmtpSecurity};

use super::channel::{NotifyError, SendError, secret};
use super::{AlertStatus, Notification, rfc3339};

pub struct EmailSender {
    channel: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    pub(super) timeout: Duration,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender")
            .field("channel", &self.channel)
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// The subject line.
pub(super) fn subject(n: &Notification) -> String {
    let text = match n.status {
        AlertStatus::Firing => format!("[FIRING] {}: {}", n.severity.as_str(), n.summary),
        AlertStatus::Resolved => format!("[RESOLVED] {}", n.summary),
    };
    // One line, whatever the summary holds.
    text.replace(['\r', '\n'], " ")
}

/// The plain-text body.
pub(super) fn text(n: &Notification) -> String {
    let mut out = String::new();
    let word = match n.status {
        AlertStatus::Firing => "FIRING",
        AlertStatus::Resolved => "RESOLVED",
    };
    out.push_str(&format!("{word}: {}\n\n", n.summary));
    if !n.description.trim().is_empty() {
        out.push_str(n.description.trim_end());
        out.push_str("\n\n");
    }
    out.push_str(&format!("Severity: {}\n", n.severity.as_str()));
    out.push_str(&format!("Rule:     {}\n", n.rule));
    if let Some(device) = &n.device {
        out.push_str(&format!("Device:   {device}\n"));
    }
    out.push_str(&format!("Started:  {}\n", rfc3339(n.starts_at_ms)));
    if let Some(end) = n.ends_at_ms {
        out.push_str(&format!("Ended:    {}\n", rfc3339(end)));
    }
    for (k, v) in &n.labels {
        out.push_str(&format!("Label:    {k}={v}\n"));
    }
    out.push_str(&format!("Key:      {}\n", n.key));
    out
}

fn mailbox(channel: &str, field: &str, text: &str) -> Result<Mailbox, NotifyError> {
    text.parse::<Mailbox>().map_err(|e| NotifyError::Invalid {
        channel: channel.to_string(),
        problem: format!("{field} {text:?} is not an email address: {e}"),
    })
}

impl EmailSender {
    pub(super) fn new(
        name: &str,
        c: &EmailChannel,
        timeout: Duration,
    ) -> Result<EmailSender, NotifyError> {
        let invalid = |problem: String| NotifyError::Invalid {
            channel: name.to_string(),
            problem,
        };
        let from = mailbox(name, "from", &c.from)?;
        let to =
            c.to.iter()
                .map(|t| mailbox(name, "to", t))
                .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(invalid("no recipients (`to` is empty)".into()));
        }
        let host = c.host.trim().to_string();
        let port = c.port.unwrap_or(c.security.default_port());
        let tls = match c.security {
            SmtpSecurity::None => Tls::None,
            security => {
                let mut params = TlsParameters::builder(host.clone());
                if let Some(file) = &c.ca_file {
                    let pem = std::fs::read(file.as_str())
                        .map_err(|e| invalid(format!("ca_file {}: {e}", file.as_str())))?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| {
                        invalid(format!(
                            "ca_file {} holds no PEM certificate: {e}",
                            file.as_str()
                        ))
                    })?;
                    params = params.add_root_certificate(cert);
                }
                let params = params
                    .build_rustls()
                    .map_err(|e| invalid(format!("cannot set up TLS: {e}")))?;
                if security == SmtpSecurity::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            let password = secret(name, "password", password)?;
            builder = builder.credentials(Credentials::new(
                user.to_string(),
                password.expose().to_string(),
            ));
        }
        Ok(EmailSender {
            channel: name.to_string(),
            from,
            to,
            transport: builder.build(),
            server: format!("{host}:{port}"),
            timeout,
        })
    }

    pub(super) async fn send(&self, id: &str, n: &Notification) -> Result<(), SendError> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(subject(n))
            .message_id(Some(format!("<{id}@gamops>")));
        for to in &self.to {
            message = message.to(to.clone());
        }
        if n.status == AlertStatus::Resolved {
            let firing = format!(
                "<{}@gamops>",
                n.delivery_id_as(&self.channel, AlertStatus::Firing)
            );
            message = message.in_reply_to(firing.clone()).references(firing);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(text(n))
            .map_err(|e| SendError(format!("cannot build the mail: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError(format!("SMTP server {}: {}", self.server, describe(&e))))
    }
}

/// An SMTP error with its causes.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    crate::error_text::flatten(e)
}
