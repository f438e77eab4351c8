//! The Splynx REST API v2 client: Basic, per-request signature (`Splynx-EA`, HMAC-SHA256) and
//! access token with refresh; customers, internet services, tariffs (kbps) and additional
//! attributes; PHP-style `main_attributes[...]` parameters, limit/offset paging checked against
//! `X-total-count`, numbers and booleans that arrive as strings, the `--` sub-resource path and
//! the error envelope `{"error":{"message","code","internal_code"}}`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::Mutex;

use super::http::{Http, HttpConfig, RawResponse, Verdict};
use super::lenient;
use super::{BillingCustomer, BillingError, BillingService, CustomerStatus, Secret};
use crate::model::ManagedBy;
use crate::model::billing::SplynxAuthMode;

const SYSTEM: &str = "splynx";

/// Records per page.
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// `UPPERCASE(hex(HMAC_SHA256(key = secret, msg = nonce . key)))`, the Splynx-EA signature.
pub fn signature(key: &str, secret: &str, nonce: u64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(nonce.to_string().as_bytes());
    mac.update(key.as_bytes());
    hex::encode_upper(mac.finalize().into_bytes())
}

/// Encodes parameters as PHP's `http_build_query` does for the pairs given (keys such as
/// `main_attributes[status][0]` are written by the caller).
pub fn encode_query(params: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A search on a main attribute: `main_attributes[name]=value` (equality).
pub fn main_attribute(name: &str, value: &str) -> (String, String) {
    (format!("main_attributes[{name}]"), value.to_string())
}

/// A search with an operator: `main_attributes[name][0]=OP&main_attributes[name][1]=value`.
pub fn main_attribute_op(name: &str, op: &str, value: &str) -> [(String, String); 2] {
    [
        (format!("main_attributes[{name}][0]"), op.to_string()),
        (format!("main_attributes[{name}][1]"), value.to_string()),
    ]
}

#[derive(Clone)]
struct Tokens {
    access: Secret,
    access_expires: i64,
    refresh: Secret,
    refresh_expires: i64,
}

/// A Splynx API v2 client.
#[derive(Debug)]
pub struct SplynxClient {
    http: Http,
    base: String,
    mode: SplynxAuthMode,
    key: Secret,
    secret: Secret,
    last_nonce: AtomicU64,
    tokens: Mutex<Option<Tokens>>,
    page_size: u32,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<redacted>)")
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl SplynxClient {
    /// `url` is the instance (`https://splynx.example.net`); `/api/2.0/` is added unless given.
    pub fn new(
        url: &str,
        mode: SplynxAuthMode,
        key: Secret,
        secret: Secret,
        config: HttpConfig,
    ) -> Result<SplynxClient, BillingError> {
        let base = url.trim().trim_end_matches('/');
        let base = if base.ends_with("/api/2.0") {
            format!("{base}/")
        } else {
            format!("{base}/api/2.0/")
        };
        Ok(SplynxClient {
            http: Http::new(SYSTEM, config)?,
            base,
            mode,
            key,
            secret,
            last_nonce: AtomicU64::new(0),
            tokens: Mutex::new(None),
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// Records per page (1..=10000).
    pub fn with_page_size(mut self, n: u32) -> SplynxClient {
        self.page_size = n.clamp(1, 10_000);
        self
    }

    /// A nonce that only grows: centiseconds since the epoch, as the official clients send.
    fn nonce(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis() / 10).unwrap_or(u64::MAX));
        let mut prev = self.last_nonce.load(Ordering::Relaxed);
        loop {
            let next = now.max(prev.saturating_add(1));
            match self.last_nonce.compare_exchange_weak(
                prev,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }

    fn url(&self, path: &str, params: &[(String, String)]) -> String {
        if params.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{}", self.base, encode_query(params))
        }
    }

    /// Logs in with the API key (token mode): `POST admin/auth/tokens`, 201.
    async fn login(&self) -> Result<Tokens, BillingError> {
        let url = self.url("admin/auth/tokens", &[]);
        let raw = self
            .http
            .send(
                "a login",
                |c| {
                    let nonce = self.nonce();
                    Ok(c.post(&url).json(&json!({
                        "auth_type": "api_key",
                        "key": self.key.expose(),
                        "nonce": nonce,
                        "signature": signature(self.key.expose(), self.secret.expose(), nonce),
                    })))
                },
                |_| Verdict::Done,
            )
            .await?;
        parse_tokens(&ok_or_error(raw)?)
    }

    /// Renews the access token: `GET admin/auth/tokens/{refresh_token}`.
    async fn renew(&self, refresh: &Secret) -> Result<Tokens, BillingError> {
        let url = self.url(&format!("admin/auth/tokens/{}", refresh.expose()), &[]);
        let raw = self
            .http
            .send("a token renewal", |c| Ok(c.get(&url)), |_| Verdict::Done)
            .await?;
        parse_tokens(&ok_or_error(raw)?)
    }

    /// A valid access token: the current one, renewed, or a new login.
    async fn access_token(&self, force_renew: bool) -> Result<Secret, BillingError> {
        let mut guard = self.tokens.lock().await;
        let now = now_secs();
        if let Some(t) = guard.as_ref()
            && !force_renew
            && now + 5 <= t.access_expires
        {
            return Ok(t.access.clone());
        }
        let renewed = match guard.as_ref() {
            Some(t) if now + 5 <= t.refresh_expires => match self.renew(&t.refresh).await {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::info!(error = %e, "token renewal failed; logging in again");
                    None
                }
            },
            _ => None,
        };
        let tokens = match renewed {
            Some(t) => t,
            None => self.login().await?,
        };
        let access = tokens.access.clone();
        *guard = Some(tokens);
        Ok(access)
    }

    /// One request with the configured authentication. In token mode, a 401 renews the token
    /// once and tries again.
    async fn request(
        &self,
        method: Method,
        path: &str,
        params: &[(String, String)],
    ) -> Result<RawResponse, BillingError> {
        let url = self.url(path, params);
        let what = format!("{method} {path}");
        let mut renewed = false;
        loop {
            let token = match self.mode {
                SplynxAuthMode::Token => Some(self.access_token(renewed).await?),
                _ => None,
            };
            let raw = self
                .http
                .send(
                    &what,
                    |c| {
                        let rb = c.request(method.clone(), &url);
                        Ok(match (&self.mode, &token) {
                            (SplynxAuthMode::Basic, _) => {
                                rb.basic_auth(self.key.expose(), Some(self.secret.expose()))
                            }
                            (SplynxAuthMode::Signature, _) => {
                                let nonce = self.nonce();
                                let sig = signature(self.key.expose(), self.secret.expose(), nonce);
                                rb.header(
                                    reqwest::header::AUTHORIZATION,
                                    format!(
                                        "Splynx-EA (key={}&nonce={nonce}&signature={sig})",
                                        self.key.expose()
                                    ),
                                )
                            }
                            (SplynxAuthMode::Token, Some(t)) => rb.header(
                                reqwest::header::AUTHORIZATION,
                                format!("Splynx-EA (access_token={})", t.expose()),
                            ),
                            (SplynxAuthMode::Token, None) => rb,
                        })
                    },
                    |_| Verdict::Done,
                )
                .await?;
            if raw.status == StatusCode::UNAUTHORIZED
                && self.mode == SplynxAuthMode::Token
                && !renewed
            {
                renewed = true;
                continue;
            }
            return Ok(raw);
        }
    }

    /// GET a resource as JSON.
    pub async fn get(
        &self,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Value, BillingError> {
        let raw = ok_or_error(self.request(Method::GET, path, params).await?)?;
        serde_json::from_slice(&raw.body).map_err(|e| BillingError::Decode {
            system: SYSTEM,
            what: path.to_string(),
            message: format!("{e}: {}", raw.preview()),
        })
    }

    /// `HEAD` with the same parameters: the `X-total-count` of a search.
    pub async fn count(
        &self,
        path: &str,
        params: &[(String, String)],
    ) -> Result<u64, BillingError> {
        let raw = self.request(Method::HEAD, path, params).await?;
        let raw = match ok_or_error(raw) {
            Ok(raw) => raw,
            Err(head_error) => {
                // A HEAD answer has no body, so its error envelope is lost: ask again with GET
                // (one record) to report Splynx's own message and code.
                let mut one = params.to_vec();
                one.push(("limit".into(), "1".into()));
                let get = self.request(Method::GET, path, &one).await?;
                return Err(ok_or_error(get).err().unwrap_or(head_error));
            }
        };
        raw.headers
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| BillingError::Decode {
                system: SYSTEM,
                what: format!("HEAD {path}"),
                message: "no X-total-count header".into(),
            })
    }

    /// Every record of a list, paged with `limit`/`offset` in id order and checked against the
    /// count. Any failure returns an error and nothing.
    pub async fn list(
        &self,
        path: &str,
        search: &[(String, String)],
    ) -> Result<Vec<Value>, BillingError> {
        let total = self.count(path, search).await?;
        let mut out = Vec::new();
        let mut ids = HashSet::new();
        let limit = u64::from(self.page_size);
        let mut offset = 0u64;
        loop {
            let mut params = search.to_vec();
            params.push(("order[id]".into(), "ASC".into()));
            params.push(("limit".into(), limit.to_string()));
            params.push(("offset".into(), offset.to_string()));
            let page = match self.get(path, &params).await? {
                Value::Array(items) => items,
                other => {
                    return Err(BillingError::Decode {
                        system: SYSTEM,
                        what: path.to_string(),
                        message: format!("expected a list, found {}", kind(&other)),
                    });
                }
            };
            let n = page.len() as u64;
            for item in page {
                let id = item.get("id").and_then(lenient::value_u64);
                if let Some(id) = id
                    && !ids.insert(id)
                {
                    return Err(BillingError::ChangedDuringRead {
                        system: SYSTEM,
                        what: path.to_string(),
                        message: format!("record {id} came twice"),
                    });
                }
                out.push(item);
            }
            offset += n;
            if n < limit || offset >= total {
                break;
            }
        }
        if out.len() as u64 != total {
            return Err(BillingError::ChangedDuringRead {
                system: SYSTEM,
                what: path.to_string(),
                message: format!("read {} records, X-total-count said {total}", out.len()),
            });
        }
        Ok(out)
    }

    /// All internet tariffs: id to (title, down kbps, up kbps).
    pub async fn tariffs(&self) -> Result<HashMap<u64, Tariff>, BillingError> {
        let list = self.list("admin/tariffs/internet", &[]).await?;
        let mut out = HashMap::new();
        for v in list {
            let t: Tariff = decode(v, "admin/tariffs/internet")?;
            out.insert(t.id, t);
        }
        Ok(out)
    }

    /// Every customer with their active and pending internet services and rates. Any failure returns an
    /// error and nothing.
    pub async fn customers(&self) -> Result<Vec<BillingCustomer>, BillingError> {
        let tariffs = self.tariffs().await?;
        let customers = self.list("admin/customers/customer", &[]).await?;
        // Customer 0 searches every customer's services; Splynx requires a search parameter.
        // Pending services are read too (a plan change whose new service is not yet active):
        // the mapping reports such a customer instead of dropping it without a word.
        let services = self
            .list(
                "admin/customers/customer/0/internet-services",
                &[
                    ("main_attributes[status][0]".to_string(), "IN".to_string()),
                    (
                        "main_attributes[status][1][0]".to_string(),
                        "active".to_string(),
                    ),
                    (
                        "main_attributes[status][1][1]".to_string(),
                        "pending".to_string(),
                    ),
                ],
            )
            .await?;
        let mut by_customer: HashMap<u64, Vec<InternetService>> = HashMap::new();
        for v in services {
            let s: InternetService = decode(v, "internet-services")?;
            by_customer.entry(s.customer_id).or_default().push(s);
        }
        customers
            .into_iter()
            .map(|v| {
                let c: Customer = decode(v, "admin/customers/customer")?;
                let services = by_customer.remove(&c.id).unwrap_or_default();
                Ok(c.into_customer(services, &tariffs))
            })
            .collect()
    }

    /// One customer and their active and pending services (after a webhook), or `None` when Splynx has no
    /// such customer.
    pub async fn customer(&self, id: u64) -> Result<Option<BillingCustomer>, BillingError> {
        let raw = self
            .request(Method::GET, &format!("admin/customers/customer/{id}"), &[])
            .await?;
        if raw.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let raw = ok_or_error(raw)?;
        let v: Value = serde_json::from_slice(&raw.body).map_err(|e| BillingError::Decode {
            system: SYSTEM,
            what: "customer".into(),
            message: e.to_string(),
        })?;
        let c: Customer = decode(v, "customer")?;
        let services = self
            .get(
                &format!("admin/customers/customer/{id}/internet-services"),
                &[],
            )
            .await?;
        let services = match services {
            Value::Array(items) => items
                .into_iter()
                .map(|v| decode::<InternetService>(v, "internet-services"))
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(BillingError::Decode {
                    system: SYSTEM,
                    what: "internet-services".into(),
                    message: format!("expected a list, found {}", kind(&other)),
                });
            }
        };
        let services = services
            .into_iter()
            .filter(|s| s.status == "active" || s.status == "pending")
            .collect();
        let tariffs = self.tariffs().await?;
        Ok(Some(c.into_customer(services, &tariffs)))
    }

    /// One internet service, through the `--` sub-resource path:
    /// `admin/customers/customer/{cid}/internet-services--{sid}`.
    pub async fn internet_service(
        &self,
        customer: u64,
        service: u64,
    ) -> Result<Value, BillingError> {
        self.get(
            &format!("admin/customers/customer/{customer}/internet-services--{service}"),
            &[],
        )
        .await
    }

    /// Logs the access token out (token mode): `DELETE admin/auth/tokens/{refresh_token}`.
    ///
    /// Best effort: one try, never retried, and a failure is only a debug line (the token
    /// expires on its own); a sync must not wait on it.
    pub async fn logout(&self) {
        let Some(t) = self.tokens.lock().await.take() else {
            return;
        };
        let url = self.url(&format!("admin/auth/tokens/{}", t.refresh.expose()), &[]);
        let outcome = self
            .http
            .send_once("a logout", |c| Ok(c.delete(&url)))
            .await
            .and_then(ok_or_error);
        if let Err(e) = outcome {
            tracing::debug!(system = "splynx", error = %e, "logout failed; the token will expire on its own");
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn decode<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, BillingError> {
    serde_json::from_value(v).map_err(|e| BillingError::Decode {
        system: SYSTEM,
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// The response if it is a success; otherwise its error envelope as an error.
fn ok_or_error(raw: RawResponse) -> Result<RawResponse, BillingError> {
    if raw.status.is_success() {
        return Ok(raw);
    }
    #[derive(Deserialize)]
    struct Envelope {
        error: ErrorBody,
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default, deserialize_with = "lenient::string")]
        message: String,
        #[serde(default, deserialize_with = "lenient::string")]
        internal_code: String,
    }
    let (code, message) = match serde_json::from_slice::<Envelope>(&raw.body) {
        Ok(e) => (
            Some(e.error.internal_code).filter(|c| !c.is_empty()),
            e.error.message,
        ),
        Err(_) => (None, raw.preview()),
    };
    let status = raw.status.as_u16();
    Err(match raw.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BillingError::Unauthorized {
            system: SYSTEM,
            message: match code {
                Some(c) => format!("HTTP {status} {c}: {message}"),
                None => format!("HTTP {status}: {message}"),
            },
        },
        StatusCode::TOO_MANY_REQUESTS => BillingError::RateLimited {
            system: SYSTEM,
            attempts: 1,
            message,
        },
        _ => BillingError::Api {
            system: SYSTEM,
            status,
            code,
            message,
        },
    })
}

fn parse_tokens(raw: &RawResponse) -> Result<Tokens, BillingError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(deserialize_with = "lenient::string")]
        access_token: String,
        #[serde(deserialize_with = "lenient::u64_req")]
        access_token_expiration: u64,
        #[serde(deserialize_with = "lenient::string")]
        refresh_token: String,
        #[serde(deserialize_with = "lenient::u64_req")]
        refresh_token_expiration: u64,
    }
    let w: Wire = serde_json::from_slice(&raw.body).map_err(|e| BillingError::Decode {
        system: SYSTEM,
        what: "the token response".into(),
        message: e.to_string(),
    })?;
    Ok(Tokens {
        access: Secret::new(w.access_token),
        access_expires: i64::try_from(w.access_token_expiration).unwrap_or(i64::MAX),
        refresh: Secret::new(w.refresh_token),
        refresh_expires: i64::try_from(w.refresh_token_expiration).unwrap_or(i64::MAX),
    })
}

// ----------------------------------------------------------------------------------------------
// Wire types.

/// An internet tariff; speeds in kbps.
#[derive(Clone, Debug, Deserialize)]
pub struct Tariff {
    #[serde(deserialize_with = "lenient::u64_req")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::string")]
    pub title: String,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub speed_download: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub speed_upload: Option<u64>,
}

#[derive(Deserialize)]
struct Customer {
    #[serde(deserialize_with = "lenient::u64_req")]
    id: u64,
    #[serde(default, deserialize_with = "lenient::string")]
    name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    status: String,
    #[serde(default, deserialize_with = "lenient::string_map")]
    additional_attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct InternetService {
    #[serde(deserialize_with = "lenient::u64_req")]
    id: u64,
    #[serde(deserialize_with = "lenient::u64_req")]
    customer_id: u64,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    tariff_id: Option<u64>,
    #[serde(default, deserialize_with = "lenient::string")]
    status: String,
    #[serde(default, deserialize_with = "lenient::string")]
    mac: String,
    #[serde(default, deserialize_with = "lenient::string")]
    access_device: String,
    #[serde(default, deserialize_with = "lenient::string")]
    port_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    login: String,
    #[serde(default, deserialize_with = "lenient::string")]
    description: String,
    #[serde(default, deserialize_with = "lenient::string_map")]
    additional_attributes: BTreeMap<String, String>,
}

impl Customer {
    fn into_customer(
        self,
        services: Vec<InternetService>,
        tariffs: &HashMap<u64, Tariff>,
    ) -> BillingCustomer {
        let services = services
            .into_iter()
            .map(|s| {
                let tariff = s.tariff_id.and_then(|id| tariffs.get(&id));
                let mut fields = s.additional_attributes;
                for (k, v) in [
                    ("service.mac", &s.mac),
                    ("service.access_device", &s.access_device),
                    ("service.port_id", &s.port_id),
                    ("service.login", &s.login),
                    ("service.description", &s.description),
                ] {
                    if !v.is_empty() {
                        fields.insert(k.to_string(), v.clone());
                    }
                }
                BillingService {
                    id: s.id.to_string(),
                    plan_name: tariff.map_or_else(
                        || format!("tariff {}", s.tariff_id.unwrap_or(0)),
                        |t| t.title.clone(),
                    ),
                    active: s.status == "active",
                    down_kbps: tariff.and_then(|t| t.speed_download).unwrap_or(0),
                    up_kbps: tariff.and_then(|t| t.speed_upload).unwrap_or(0),
                    fields,
                    macs: s
                        .mac
                        .split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                }
            })
            .collect();
        BillingCustomer {
            source: ManagedBy::Splynx,
            key: self.id.to_string(),
            name: self.name,
            status: CustomerStatus::Splynx {
                status: self.status,
            },
            services,
            fields: self.additional_attributes,
            macs: Vec::new(),
        }
    }
}

/// Decodes what Splynx answers for one customer (the customer, its internet services, the
/// tariffs, each a JSON body) as [`SplynxClient::customer`] does, without the network: the
/// decoding of what billing sends, for the fuzzer.
pub fn decode_customer(
    customer: &[u8],
    services: &[u8],
    tariffs: &[u8],
) -> Result<BillingCustomer, BillingError> {
    let json = |bytes: &[u8], what: &str| {
        serde_json::from_slice::<Value>(bytes).map_err(|e| BillingError::Decode {
            system: SYSTEM,
            what: what.to_string(),
            message: e.to_string(),
        })
    };
    let c: Customer = decode(json(customer, "customer")?, "customer")?;
    let services: Vec<InternetService> =
        decode(json(services, "internet-services")?, "internet-services")?;
    let tariffs: Vec<Tariff> = decode(json(tariffs, "tariffs")?, "tariffs")?;
    let tariffs = tariffs.into_iter().map(|t| (t.id, t)).collect();
    Ok(c.into_customer(services, &tariffs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_php_client() {
        // PHP: strtoupper(hash_hmac('sha256', $nonce . $key, $secret))
        let sig = signature(
            "3d7f5a8bd6bd3b0c0f8bd0a9c6f5a1e2",
            "secret",
            170_000_000_000,
        );
        assert_eq!(sig.len(), 64);
        assert!(
            sig.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        // HMAC-SHA256(key="key", "The quick brown fox jumps over the lazy dog"), a published
        // test vector, checks the construction: here msg = nonce . key.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"The quick brown fox jumps over the lazy dog");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn php_style_parameters() {
        let mut p = vec![main_attribute("status", "active")];
        p.extend(main_attribute_op("login", "LIKE", "durden"));
        assert_eq!(
            encode_query(&p),
            "main_attributes%5Bstatus%5D=active&main_attributes%5Blogin%5D%5B0%5D=LIKE&main_attributes%5Blogin%5D%5B1%5D=durden"
        );
    }

    #[test]
    fn blocked_customer_keeps_its_active_service_and_macs_split() {
        let c: Customer = serde_json::from_value(json!({
            "id": "5", "name": "A", "status": "blocked", "additional_attributes": {"gam": "g1"}
        }))
        .unwrap();
        let s: InternetService = serde_json::from_value(json!({
            "id": "9", "customer_id": "5", "tariff_id": "2", "status": "active",
            "mac": "2CC81BBDC9AB, 00E04C687E6A", "access_device": "0", "port_id": "",
            "additional_attributes": {"vlan": "1409", "gam_port": 3}
        }))
        .unwrap();
        let mut tariffs = HashMap::new();
        tariffs.insert(
            2,
            Tariff {
                id: 2,
                title: "500M".into(),
                speed_download: Some(500_000),
                speed_upload: Some(100_000),
            },
        );
        let b = c.into_customer(vec![s], &tariffs);
        assert_eq!(
            b.status,
            CustomerStatus::Splynx {
                status: "blocked".into()
            }
        );
        assert_eq!(b.services[0].macs.len(), 2);
        assert!(b.services[0].active);
        assert_eq!(b.services[0].up_kbps, 100_000);
        assert_eq!(b.services[0].fields["gam_port"], "3");
        assert_eq!(b.field(Some(&b.services[0]), "gam"), Some("g1"));
    }
}
