//! A generic webhook signed per the Standard Webhooks specification: a JSON POST with
//! `webhook-id` (the delivery id, the same on every retry, so the receiver can drop a
//! duplicate), `webhook-timestamp` (unix seconds, of this try) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256 over "id.timestamp.body">`, keyed by the
//! bytes the `whsec_` secret encodes.

use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::json;

use crate::model::notifications::WebhookChannel;

use super::channel::{NotifyError, SendError, http_client, post_json, secret};
use super::{Notification, rfc3339};

/// Base64 that takes input with or without its padding (secrets are written both ways).
const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

#[derive(Debug)]
pub struct WebhookSender {
    url: String,
    key: Vec<u8>,
    client: reqwest::Client,
    pub(super) timeout: Duration,
}

/// The signing key a Standard Webhooks secret (`whsec_` and base64) stands for.
pub fn webhook_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.strip_prefix("whsec_").ok_or_else(|| {
        "the secret must start with whsec_ (then base64 of 24 to 64 random bytes)".to_string()
    })?;
    let key = LENIENT
        .decode(encoded.trim())
        .map_err(|_| "the secret after whsec_ is not base64".to_string())?;
    if key.len() < 16 {
        return Err(format!(
            "the secret holds {} bytes; use 24 to 64 random bytes",
            key.len()
        ));
    }
    Ok(key)
}

/// The `webhook-signature` value of a message: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under `key`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The JSON a webhook carries: the specification's recommended envelope (`type`,
/// `timestamp`, `data`), the notification in `data`.
pub(super) fn body(n: &Notification, now_ms: i64) -> String {
    json!({
        "type": format!("alert.{}", n.status.as_str()),
        "timestamp": rfc3339(now_ms),
        "data": {
            "key": n.key,
            "rule": n.rule,
            "severity": n.severity,
            "status": n.status,
            "device": n.device,
            "labels": n.labels,
            "summary": n.summary,
            "description": n.description,
            "starts_at": rfc3339(n.starts_at_ms),
            "ends_at": n.ends_at_ms.map(rfc3339),
        }
    })
    .to_string()
}

impl WebhookSender {
    pub(super) fn new(
        name: &str,
        c: &WebhookChannel,
        timeout: Duration,
    ) -> Result<WebhookSender, NotifyError> {
        let text = secret(name, "secret", &c.secret)?;
        let key = webhook_key(text.expose()).map_err(|problem| NotifyError::Invalid {
            channel: name.to_string(),
            problem: format!("secret ({}): {problem}", *c.secret),
        })?;
        reqwest::Url::parse(&c.url).map_err(|e| NotifyError::Invalid {
            channel: name.to_string(),
            problem: format!("url {:?}: {e}", c.url.as_str()),
        })?;
        Ok(WebhookSender {
            url: c.url.to_string(),
            key,
            client: http_client(name, timeout)?,
            timeout,
        })
    }

    pub(super) async fn send(&self, id: &str, n: &Notification) -> Result<(), SendError> {
        let now_ms = crate::store::Timestamp::now().as_millis();
        let body = body(n, now_ms);
        let timestamp = now_ms.div_euclid(1000);
        let signature = sign(&self.key, id, timestamp, &body);
        let request = self
            .client
            .post(&self.url)
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature);
        post_json(request, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specification_example() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_bad_secret_is_refused() {
        assert!(webhook_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(webhook_key("whsec_%%%").is_err());
        assert!(webhook_key("whsec_c2hvcnQ=").is_err());
        // Without its padding too.
        assert!(webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    }
}
