//! One JSON-RPC "session" with a GAM: an HTTP client with the device's credentials (HTTP Basic
//! auth), the methods its firmware offers (asked once, by introspection, when it opens), and one
//! call at a time.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::calls::{self, Call};
use super::error::{MAX_REPLY, RpcError, parse_reply};
use super::tls;
use crate::secret::Secret;

/// Where and how to reach a device's JSON-RPC API.
#[derive(Clone, Debug)]
pub struct JsonRpcTarget {
    pub addr: SocketAddr,
    /// HTTPS, trusting only the certificate with this SHA-256 fingerprint; None for HTTP.
    pub tls_pin: Option<[u8; 32]>,
    pub username: String,
    pub password: Secret,
    pub connect_timeout: Duration,
    /// For each call's answer (the GAM's own calls can take 45 s).
    pub call_timeout: Duration,
}

impl JsonRpcTarget {
    pub fn url(&self) -> String {
        let scheme = if self.tls_pin.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}/json_rpc", self.addr)
    }
}

/// An open session: the client, and the methods the device offers.
pub struct JsonRpcSession {
    http: reqwest::Client,
    url: String,
    username: String,
    password: Secret,
    call_timeout: Duration,
    next_id: u64,
    pinned: Option<Arc<tls::Pinned>>,
    methods: BTreeSet<String>,
}

impl JsonRpcSession {
    /// Opens a session: builds the client and asks the device which methods it offers (the
    /// first call, so a wrong password, port or certificate shows here, before any change).
    pub async fn connect(target: &JsonRpcTarget) -> Result<JsonRpcSession, RpcError> {
        let url = target.url();
        // A device is reached directly (never through a proxy a user's environment names), on
        // one connection at a time.
        let mut builder = crate::http_client::builder(target.call_timeout)
            .no_proxy()
            .connect_timeout(target.connect_timeout)
            .pool_max_idle_per_host(1);
        let mut pinned = None;
        if let Some(pin) = target.tls_pin {
            let p = Arc::new(tls::Pinned::new(pin));
            let config = p.client_config().map_err(|e| RpcError::Connect {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            builder = builder.tls_backend_preconfigured(config);
            pinned = Some(p);
        }
        let http = builder.build().map_err(|e| RpcError::Connect {
            url: url.clone(),
            reason: crate::error_text::flatten(&e),
        })?;
        let mut session = JsonRpcSession {
            http,
            url,
            username: target.username.clone(),
            password: target.password.clone(),
            call_timeout: target.call_timeout,
            next_id: 0,
            pinned,
            methods: BTreeSet::new(),
        };
        let inventory = session.call(&calls::introspection()).await?;
        session.methods = methods_in(&inventory);
        Ok(session)
    }

    /// The methods the device's firmware offers (its introspection answer).
    pub fn methods(&self) -> &BTreeSet<String> {
        &self.methods
    }

    /// The first of `needed` the device does not offer.
    pub fn missing<'a>(&self, needed: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        needed.into_iter().find(|m| !self.methods.contains(*m))
    }

    /// Makes one call; the `result`, or what went wrong.
    pub async fn call(&mut self, call: &Call) -> Result<Value, RpcError> {
        self.next_id += 1;
        let id = self.next_id;
        let method = call.method.as_str();
        let body = json!({"method": method, "params": call.params, "id": id});
        let sent = self
            .http
            .post(&self.url)
            .basic_auth(&self.username, Some(self.password.expose()))
            .timeout(self.call_timeout)
            .json(&body)
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(method, &e, false)),
        };
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(RpcError::Unauthorized {
                user: self.username.clone(),
            });
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_REPLY {
                        return Err(RpcError::NotJson {
                            method: method.to_string(),
                            detail: format!("the answer is larger than {MAX_REPLY} bytes"),
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(self.transport_error(method, &e, true)),
            }
        }
        match parse_reply(method, id, &bytes) {
            Err(RpcError::NotJson { .. }) if !status.is_success() => Err(RpcError::Http {
                method: method.to_string(),
                status: status.as_u16(),
            }),
            other => other,
        }
    }

    fn transport_error(&self, method: &str, e: &reqwest::Error, answering: bool) -> RpcError {
        if let Some(p) = &self.pinned
            && let Ok(seen) = p.seen.lock()
            && let Some(got) = *seen
            && e.is_connect()
            && Some(got) != self.pinned_pin()
        {
            return RpcError::CertificateChanged {
                pinned: self.pinned_pin().map(|p| tls::show(&p)).unwrap_or_default(),
                got: tls::show(&got),
            };
        }
        if e.is_timeout() {
            RpcError::Timeout {
                method: method.to_string(),
                seconds: self.call_timeout.as_secs().max(1),
            }
        } else if e.is_connect() && !answering {
            RpcError::Connect {
                url: self.url.clone(),
                reason: crate::error_text::flatten(e),
            }
        } else {
            RpcError::Lost {
                method: method.to_string(),
                reason: crate::error_text::flatten(e),
            }
        }
    }

    fn pinned_pin(&self) -> Option<[u8; 32]> {
        self.pinned.as_ref().map(|p| p.pin())
    }

    /// Saves the running configuration; a save refused because another save or load is
    /// running is tried again, `attempts` times in all, `pause` apart.
    pub async fn save(&mut self, attempts: u32, pause: Duration) -> Result<(), RpcError> {
        let mut tried = 0;
        loop {
            tried += 1;
            match self.call(&calls::save()).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_save_busy() && tried < attempts.max(1) => {
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The method names in an introspection answer. Its layout is not in the reference beyond
/// "all methods and types", so any string under a `method-name`, `method` or `name` key, and any
/// string in a list, that looks like a method (dotted, no spaces) counts.
pub fn methods_in(inventory: &Value) -> BTreeSet<String> {
    fn looks_like_method(s: &str) -> bool {
        s.contains('.') && !s.contains(char::is_whitespace) && s.len() < 200
    }
    fn walk(v: &Value, depth: usize, out: &mut BTreeSet<String>) {
        if depth > 16 {
            return;
        }
        match v {
            Value::Array(items) => {
                for i in items {
                    match i {
                        Value::String(s) if looks_like_method(s) => {
                            out.insert(s.clone());
                        }
                        other => walk(other, depth + 1, out),
                    }
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s)
                            if matches!(k.as_str(), "method-name" | "method" | "name")
                                && looks_like_method(s) =>
                        {
                            out.insert(s.clone());
                        }
                        other => walk(other, depth + 1, out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(inventory, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_found_in_either_layout() {
        let v = json!({"methods": [
            {"method-name": "ghnAgent.config.global.get", "params": [], "result": []},
            {"method-name": "icfg.control.copy.set"}
        ], "types": [{"name": "vtss_bool", "type": "x y"}]});
        let m = methods_in(&v);
        assert!(m.contains("ghnAgent.config.global.get"));
        assert!(m.contains("icfg.control.copy.set"));
        assert_eq!(m.len(), 2, "{m:?}");
        let flat = methods_in(&json!(["a.b", "not a method", 3]));
        assert_eq!(flat.into_iter().collect::<Vec<_>>(), ["a.b"]);
    }
}
