//! Webhook verification, pure: no sockets here (the controller serves the endpoints).
//!
//! - Splynx signs with `X-Splynx-Signature` = lowercase hex HMAC-SHA1(key = secret, raw body);
//!   the body is JSON or form-encoded (PHP nesting, `data[attributes][id]=5`); a `ping` expects
//!   200 `ok`.
//! - Sonar does not sign: the receiver's URL carries a secret token, and the receiver must also
//!   answer HEAD with 200.
//!
//! Each event gets an id for de-duplication (the SHA-256 of the raw body: a retried delivery is
//! byte-identical), and [`ReplayGuard`] remembers recent ids in memory.

use std::collections::{HashSet, VecDeque};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::lenient;

/// The header Splynx signs webhooks with.
pub const SPLYNX_SIGNATURE_HEADER: &str = "X-Splynx-Signature";

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the request carries no signature")]
    MissingSignature,
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the token in the URL is wrong")]
    BadToken,
    #[error("the body cannot be read: {0}")]
    BadBody(String),
    #[error("event {0} was already received")]
    Replayed(String),
}

/// What a Splynx hook says.
#[derive(Clone, Debug, PartialEq)]
pub enum SplynxHook {
    /// `type: ping`: answer 200 `ok`.
    Ping,
    Event(SplynxEvent),
}

/// A Splynx event: which customer changed.
#[derive(Clone, Debug, PartialEq)]
pub struct SplynxEvent {
    /// The body's SHA-256, for de-duplication.
    pub id: String,
    /// e.g. `models\admin\customers\Customer`.
    pub model: String,
    /// e.g. `create`, `edit`, `delete`.
    pub action: String,
    /// `data.customer_id`, or `data.attributes.id` for a customer model.
    pub customer_id: Option<u64>,
    /// The whole payload, for logs and tests.
    pub payload: Value,
}

/// A Sonar event.
#[derive(Clone, Debug, PartialEq)]
pub struct SonarEvent {
    /// The body's SHA-256, for de-duplication.
    pub id: String,
    /// e.g. `account.status`.
    pub event: String,
    /// The changed object's id; re-fetch it rather than trusting `current`.
    pub object_id: Option<u64>,
    /// `current.account_id`, when the object belongs to an account (an account service, an
    /// address): which account to re-fetch.
    pub account_id: Option<u64>,
}

impl SonarEvent {
    /// The account this event concerns, to re-fetch: the owner the payload names, or the
    /// object itself for an account event (`account`, `account.status`). `None` when neither
    /// (the caller syncs every account). [G] Sonar's exact event names are unverified.
    pub fn account(&self) -> Option<u64> {
        if self.account_id.is_some() {
            return self.account_id;
        }
        let mut parts = self.event.split('.');
        let model = parts.next().unwrap_or_default();
        let account_level = model.eq_ignore_ascii_case("account") && parts.count() <= 1;
        account_level.then_some(self.object_id).flatten()
    }
}

/// The lowercase hex HMAC-SHA1 Splynx puts in `X-Splynx-Signature`.
pub fn splynx_signature(secret: &[u8], body: &[u8]) -> String {
    match Hmac::<Sha1>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => String::new(),
    }
}

/// Verifies a Splynx webhook and reads it. `content_type` decides between JSON and form
/// encoding (JSON is tried when it says neither).
pub fn verify_splynx(
    secret: &[u8],
    signature: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<SplynxHook, WebhookError> {
    let sig = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(WebhookError::MissingSignature)?;
    let sig = hex::decode(sig.to_ascii_lowercase()).map_err(|_| WebhookError::BadSignature)?;
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).map_err(|_| WebhookError::BadSignature)?;
    mac.update(body);
    // Constant-time comparison.
    mac.verify_slice(&sig)
        .map_err(|_| WebhookError::BadSignature)?;

    let form = content_type.is_some_and(|c| {
        c.to_ascii_lowercase()
            .contains("application/x-www-form-urlencoded")
    });
    let payload = if form {
        php_form(body)?
    } else {
        json_body(body)?
    };
    let kind = payload.get("type").and_then(lenient::value_text);
    if kind.as_deref() == Some("ping") {
        return Ok(SplynxHook::Ping);
    }
    let data = payload.get("data").cloned().unwrap_or(Value::Null);
    let text = |v: Option<&Value>| v.and_then(lenient::value_text).unwrap_or_default();
    let model = text(data.get("model"));
    let customer_id = data
        .get("customer_id")
        .and_then(lenient::value_u64)
        .or_else(|| {
            model
                .to_ascii_lowercase()
                .ends_with("customer")
                .then(|| {
                    data.get("attributes")?
                        .get("id")
                        .and_then(lenient::value_u64)
                })
                .flatten()
        });
    Ok(SplynxHook::Event(SplynxEvent {
        id: event_id(body),
        model,
        action: text(data.get("action")),
        customer_id,
        payload,
    }))
}

/// Verifies a Sonar webhook's URL token (constant time) and reads the body.
pub fn verify_sonar(
    expected: &str,
    presented: &str,
    body: &[u8],
) -> Result<SonarEvent, WebhookError> {
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), presented.as_bytes()) {
        return Err(WebhookError::BadToken);
    }
    let v = json_body(body)?;
    Ok(SonarEvent {
        id: event_id(body),
        event: v
            .get("event")
            .and_then(lenient::value_text)
            .unwrap_or_default(),
        object_id: v.get("object_id").and_then(lenient::value_u64),
        account_id: v
            .get("current")
            .and_then(|c| c.get("account_id"))
            .and_then(lenient::value_u64),
    })
}

/// The id of a delivery: hex SHA-256 of the raw body.
pub fn event_id(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Whether two byte strings are equal, in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How deeply a webhook body may nest objects and arrays (a real one nests three or four
/// levels). Checked before decoding: decoding and dropping a value recurse once per level, so
/// a body nested 10,000 deep would overflow the stack.
pub const MAX_NESTING: usize = 32;

fn too_deep() -> WebhookError {
    WebhookError::BadBody(format!("it nests deeper than {MAX_NESTING} levels"))
}

/// Decodes a JSON body whose nesting is at most [`MAX_NESTING`].
pub fn json_body(body: &[u8]) -> Result<Value, WebhookError> {
    if json_depth(body) > MAX_NESTING {
        return Err(too_deep());
    }
    serde_json::from_slice(body).map_err(|e| WebhookError::BadBody(e.to_string()))
}

/// The deepest nesting of `[` and `{` in JSON text, outside strings (not a validation: the
/// decoder does that after).
fn json_depth(body: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Decodes a PHP-style form body (`data[attributes][id]=5&data[model]=...`) into JSON objects.
/// Numeric indexes become object keys; values stay text. A key nested deeper than
/// [`MAX_NESTING`] refuses the body.
pub fn php_form(body: &[u8]) -> Result<Value, WebhookError> {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let (head, rest) = match key.find('[') {
            Some(i) => (&key[..i], &key[i..]),
            None => (&key[..], ""),
        };
        let mut path = vec![head.to_string()];
        let mut rest = rest;
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else {
                break;
            };
            path.push(stripped[..end].to_string());
            if path.len() > MAX_NESTING {
                return Err(too_deep());
            }
            rest = &stripped[end + 1..];
        }
        insert(&mut root, &path, Value::String(value.into_owned()));
    }
    Ok(Value::Object(root))
}

fn insert(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert(first.clone(), value);
        return;
    }
    let slot = map
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        insert(inner, rest, value);
    }
}

/// Remembers the last `capacity` event ids, to drop repeated deliveries. In memory only; the
/// persistent store comes with the controller.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl ReplayGuard {
    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            seen: HashSet::new(),
        }
    }

    /// Records `id`; an error if it was seen recently.
    pub fn check(&mut self, id: &str) -> Result<(), WebhookError> {
        if self.seen.contains(id) {
            return Err(WebhookError::Replayed(id.to_string()));
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        self.order.push_back(id.to_string());
        self.seen.insert(id.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_test_vector() {
        // RFC 2202 test case 2.
        assert_eq!(
            splynx_signature(b"Jefe", b"what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn php_form_nesting() {
        let v = php_form(b"type=event&data%5Bmodel%5D=Customer&data%5Battributes%5D%5Bid%5D=17&data%5Battributes%5D%5Bstatus%5D=blocked").unwrap();
        assert_eq!(v["data"]["attributes"]["id"], "17");
        assert_eq!(v["data"]["model"], "Customer");
        // Hostile keys do not panic.
        let _ = php_form(b"a[=1&[]]=2&b[c]=3&b=4&b[c][d]=5&%ff=6").unwrap();
    }

    /// Issue 16, item 3: a signed form body `data[][][]...=1` nested 10,000 deep overflowed
    /// the stack of `sync serve`. Form and JSON bodies nested too deep are refused, unread.
    #[test]
    fn bodies_nested_too_deep_are_refused_before_decoding() {
        let form = format!("type=event&data{}=1", "[]".repeat(10_000));
        let sig = splynx_signature(b"k", form.as_bytes());
        let got = verify_splynx(
            b"k",
            Some(&sig),
            Some("application/x-www-form-urlencoded"),
            form.as_bytes(),
        );
        assert_eq!(got, Err(too_deep()));
        let json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let sig = splynx_signature(b"k", json.as_bytes());
        assert_eq!(
            verify_splynx(b"k", Some(&sig), Some("application/json"), json.as_bytes()),
            Err(too_deep())
        );
        assert_eq!(
            verify_sonar("t", "t", json.as_bytes()).unwrap_err(),
            too_deep()
        );
        // Brackets inside strings do not count; 32 levels are fine.
        let ok = format!(
            "{{\"type\":\"ping\",\"x\":\"[[[[{{{{\\\"\",\"y\":{}1{}}}",
            "[".repeat(MAX_NESTING - 1),
            "]".repeat(MAX_NESTING - 1)
        );
        assert_eq!(json_depth(ok.as_bytes()), MAX_NESTING);
        assert!(json_body(ok.as_bytes()).is_ok(), "{ok}");
        let form = format!("data{}=1", "[a]".repeat(MAX_NESTING - 1));
        assert!(php_form(form.as_bytes()).is_ok());
    }

    #[test]
    fn replay_guard_forgets_the_oldest() {
        let mut g = ReplayGuard::new(2);
        assert!(g.check("a").is_ok());
        assert!(g.check("a").is_err());
        assert!(g.check("b").is_ok());
        assert!(g.check("c").is_ok());
        assert!(g.check("a").is_ok());
        assert_eq!(g.check("c"), Err(WebhookError::Replayed("c".into())));
    }

    #[test]
    fn splynx_verification() {
        let body = br#"{"type":"event","data":{"model":"models\\admin\\customers\\Customer","action":"edit","customer_id":null,"attributes":{"id":"5","status":"blocked"}}}"#;
        let sig = splynx_signature(b"s3cret", body);
        let ok = verify_splynx(b"s3cret", Some(&sig), Some("application/json"), body).unwrap();
        let SplynxHook::Event(e) = ok else { panic!() };
        assert_eq!(e.customer_id, Some(5));
        assert_eq!(e.action, "edit");
        assert_eq!(
            verify_splynx(b"other", Some(&sig), None, body),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify_splynx(b"s3cret", None, None, body),
            Err(WebhookError::MissingSignature)
        );
        assert_eq!(
            verify_splynx(b"s3cret", Some("zz"), None, body),
            Err(WebhookError::BadSignature)
        );
        let ping = br#"{"type":"ping"}"#;
        let sig = splynx_signature(b"s3cret", ping);
        assert_eq!(
            verify_splynx(b"s3cret", Some(&sig.to_uppercase()), None, ping),
            Ok(SplynxHook::Ping)
        );
    }

    #[test]
    fn sonar_token() {
        let body = br#"{"event":"account.status","object_id":42,"current":{}}"#;
        let e = verify_sonar("tok", "tok", body).unwrap();
        assert_eq!(e.object_id, Some(42));
        assert_eq!(e.account(), Some(42));
        let service =
            br#"{"event":"account.service.add","object_id":9,"current":{"account_id":"42"}}"#;
        assert_eq!(
            verify_sonar("tok", "tok", service).unwrap().account(),
            Some(42)
        );
        let other = br#"{"event":"ticket.created","object_id":9,"current":{}}"#;
        assert_eq!(verify_sonar("tok", "tok", other).unwrap().account(), None);
        assert_eq!(
            verify_sonar("tok", "tik", body),
            Err(WebhookError::BadToken)
        );
        assert_eq!(verify_sonar("", "", body), Err(WebhookError::BadToken));
    }
}
