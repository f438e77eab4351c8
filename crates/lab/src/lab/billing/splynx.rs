//! A fake Splynx API v2 under `/api/2.0/admin/...`: Basic (only with "unsecure access"),
//! per-request signature, and access tokens (201 on login, renewal with the refresh token,
//! expiry, the User-Agent binding); `X-total-count` on HEAD; PHP-style `main_attributes[...]`
//! searches; `limit`/`offset`/`order`; every number and boolean as a string; the `--`
//! sub-resource path; the error envelope; a 500 on `customer/0/internet-services` without a
//! search; slow responses; and a webhook sender signing with `X-Splynx-Signature`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{FakeCustomer, Faults, generate, lock, php_http_build_query, serve};
use crate::billing::splynx::signature;
use crate::billing::webhook::splynx_signature;

/// How to start the fake.
#[derive(Clone, Debug)]
pub struct SplynxFakeConfig {
    pub customers: u64,
    pub api_key: String,
    pub api_secret: String,
    /// The key's "Unsecure access" (needed for Basic).
    pub unsecure_access: bool,
    /// Access-token lifetime (Splynx: 30 minutes).
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl Default for SplynxFakeConfig {
    fn default() -> Self {
        SplynxFakeConfig {
            customers: 50,
            api_key: "3d7f5a8bd6bd3b0c0f8bd0a9c6f5a1e2".into(),
            api_secret: "9b1c2e3f4a5b6c7d8e9f0a1b2c3d4e5f".into(),
            unsecure_access: true,
            access_ttl: Duration::from_secs(1800),
            refresh_ttl: Duration::from_secs(7 * 86_400),
        }
    }
}

struct Token {
    expires: u64,
    user_agent: String,
}

struct State {
    customers: Vec<FakeCustomer>,
    /// Internet services that are no longer current (plan changes): (customer, service, down,
    /// up, status).
    old_services: Vec<(u64, u64, u64, u64, &'static str)>,
    /// A customer's current service status when it is neither `active` nor `stopped`
    /// (`pending`, say), by customer.
    service_status: HashMap<u64, String>,
    config: SplynxFakeConfig,
    last_nonce: u64,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    next_token: u64,
    next_service: u64,
    faults: Faults,
    requests: u64,
    logins: u64,
    renewals: u64,
    /// Rendered lists by resource, in id order; cleared on every edit.
    cache: HashMap<String, Arc<Vec<Value>>>,
}

/// A running fake Splynx.
pub struct SplynxFake {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: CancellationToken,
}

impl Drop for SplynxFake {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SplynxFake {
    pub async fn start(config: SplynxFakeConfig) -> std::io::Result<SplynxFake> {
        Self::start_on(config, super::any_loopback()).await
    }

    /// Starts the fake on `addr` (port 0: a free one).
    pub async fn start_on(
        config: SplynxFakeConfig,
        addr: SocketAddr,
    ) -> std::io::Result<SplynxFake> {
        let customers = generate(config.customers, true);
        let next_service = 1_000_000 + config.customers;
        let state = Arc::new(Mutex::new(State {
            customers,
            old_services: Vec::new(),
            service_status: HashMap::new(),
            config,
            last_nonce: 0,
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_token: 1,
            next_service,
            faults: Faults::default(),
            requests: 0,
            logins: 0,
            renewals: 0,
            cache: HashMap::new(),
        }));
        let shared = state.clone();
        let router = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        );
        let shutdown = CancellationToken::new();
        let addr = serve(router, addr, shutdown.clone()).await?;
        Ok(SplynxFake {
            addr,
            state,
            shutdown,
        })
    }

    /// The instance's base URL (the client adds `/api/2.0/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn api_key(&self) -> String {
        lock(&self.state).config.api_key.clone()
    }

    pub fn api_secret(&self) -> String {
        lock(&self.state).config.api_secret.clone()
    }

    /// Edits the customers while the server runs.
    pub fn edit(&self, f: impl FnOnce(&mut Vec<FakeCustomer>)) {
        let mut s = lock(&self.state);
        s.cache.clear();
        f(&mut s.customers);
    }

    /// A plan change as Splynx does it: the old service is ended (`disabled`) and a new
    /// service with a new id carries the new tariff. Returns the new service id.
    pub fn change_plan(&self, customer: u64, down_kbps: u64, up_kbps: u64) -> Option<u64> {
        let mut s = lock(&self.state);
        s.cache.clear();
        let new_id = s.next_service;
        let c = s.customers.iter_mut().find(|c| c.id == customer)?;
        let old = (c.id, c.service_id, c.down_kbps, c.up_kbps, "disabled");
        c.service_id = new_id;
        c.down_kbps = down_kbps;
        c.up_kbps = up_kbps;
        s.old_services.push(old);
        s.next_service += 1;
        Some(new_id)
    }

    /// Sets the status of a customer's current internet service (`pending`, `stopped`, ...).
    pub fn set_service_status(&self, customer: u64, status: &str) {
        let mut s = lock(&self.state);
        s.cache.clear();
        s.service_status.insert(customer, status.to_string());
    }

    pub fn set_faults(&self, faults: Faults) {
        lock(&self.state).faults = faults;
    }

    /// Sets the access-token lifetime for tokens issued from now on.
    pub fn set_access_ttl(&self, ttl: Duration) {
        lock(&self.state).config.access_ttl = ttl;
    }

    pub fn set_unsecure_access(&self, on: bool) {
        lock(&self.state).config.unsecure_access = on;
    }

    /// (requests, logins, renewals) so far.
    pub fn stats(&self) -> (u64, u64, u64) {
        let s = lock(&self.state);
        (s.requests, s.logins, s.renewals)
    }
}

fn error(status: StatusCode, internal_code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "code": status.as_u16(), "internal_code": internal_code}})),
    )
        .into_response()
}

fn ok(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = lock(&state).faults.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = lock(&state);
    s.requests += 1;
    if s.faults.fail_next > 0 {
        s.faults.fail_next -= 1;
        let status =
            StatusCode::from_u16(s.faults.fail_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return match status {
            StatusCode::TOO_MANY_REQUESTS => (
                status,
                [(axum::http::header::RETRY_AFTER, "0")],
                "Too Many Requests",
            )
                .into_response(),
            s if s.is_server_error() => error(s, "SERVER_ERROR", "Internal server error"),
            _ => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SERVER_ERROR",
                "Internal server error",
            ),
        };
    }
    let Some(path) = uri.path().strip_prefix("/api/2.0/") else {
        return error(StatusCode::NOT_FOUND, "NOT_FOUND", "Page not found");
    };
    let path = path.trim_end_matches('/').to_string();
    let ua = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();

    // Token endpoints need no Authorization header.
    if path == "admin/auth/tokens" && method == Method::POST {
        return login(&mut s, &body, ua);
    }
    if let Some(refresh) = path.strip_prefix("admin/auth/tokens/") {
        return tokens(&mut s, &method, refresh, ua);
    }

    if let Some(resp) = authenticate(&mut s, &headers, &ua) {
        return resp;
    }

    let params: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let head = method == Method::HEAD;
    if !(method == Method::GET || head) {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
        );
    }

    let segs: Vec<&str> = path.split('/').collect();
    let records: Arc<Vec<Value>> = match segs.as_slice() {
        ["admin", "api", "check"] => {
            return ok(
                StatusCode::OK,
                json!({"status": "ok", "message": "API is valid", "same_server": 0}),
            );
        }
        ["admin", "customers", "customer"] => cached(&mut s, "customers", |s| {
            s.customers.iter().map(customer).collect()
        }),
        ["admin", "customers", "customer", id] => {
            return match s.customers.iter().find(|c| id.parse() == Ok(c.id)) {
                Some(c) => ok(StatusCode::OK, customer(c)),
                None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "Customer not found"),
            };
        }
        ["admin", "customers", "customer", cid, sub] => {
            let Ok(cid) = cid.parse::<u64>() else {
                return error(StatusCode::NOT_FOUND, "NOT_FOUND", "Customer not found");
            };
            if let Some(sid) = sub.strip_prefix("internet-services--") {
                return match services(&s, cid)
                    .into_iter()
                    .find(|v| v["id"] == json!(sid))
                {
                    Some(v) => ok(StatusCode::OK, v),
                    None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "Service not found"),
                };
            }
            if *sub != "internet-services" {
                return error(StatusCode::NOT_FOUND, "NOT_FOUND", "Page not found");
            }
            if cid == 0 && !params.iter().any(|(k, _)| k.starts_with("main_attributes")) {
                // As a live instance did: searching all customers needs a search parameter.
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SERVER_ERROR",
                    "Internal server error",
                );
            }
            cached(&mut s, &format!("services/{cid}"), |s| services(s, cid))
        }
        ["admin", "tariffs", "internet"] => cached(&mut s, "tariffs", tariffs),
        _ => return error(StatusCode::NOT_FOUND, "NOT_FOUND", "Page not found"),
    };
    drop(s);

    let search = Search::parse(&params);
    let mut matching: Vec<&Value> = records.iter().filter(|r| search.matches(r)).collect();
    if head {
        return (
            StatusCode::NO_CONTENT,
            [("X-total-count", matching.len().to_string())],
        )
            .into_response();
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("order[id]").is_some_and(|d| d.eq_ignore_ascii_case("DESC")) {
        matching.reverse();
    }
    let offset = param("offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0usize);
    let limit = param("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let page: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    ok(StatusCode::OK, Value::Array(page))
}

/// A rendered list, in id order, rendered once per edit.
fn cached(s: &mut State, key: &str, render: impl FnOnce(&State) -> Vec<Value>) -> Arc<Vec<Value>> {
    if let Some(v) = s.cache.get(key) {
        return v.clone();
    }
    let mut list = render(s);
    list.sort_by_key(|v| {
        v.get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    });
    let list = Arc::new(list);
    s.cache.insert(key.to_string(), list.clone());
    list
}

fn login(s: &mut State, body: &[u8], ua: String) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "Bad request");
    };
    let text = |k: &str| match req.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if text("auth_type") != "api_key" {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTH_TYPE",
            "Invalid auth type",
        );
    }
    let nonce: u64 = text("nonce").parse().unwrap_or(0);
    if text("key") != s.config.api_key
        || text("signature") != signature(&s.config.api_key, &s.config.api_secret, nonce)
    {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized");
    }
    if nonce <= s.last_nonce {
        return error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SASH",
            "Nonce already used",
        );
    }
    s.last_nonce = nonce;
    s.logins += 1;
    ok(StatusCode::CREATED, issue(s, ua, true))
}

fn issue(s: &mut State, ua: String, with_permissions: bool) -> Value {
    let n = s.next_token;
    s.next_token += 1;
    let access = format!("access-{n:08}");
    let refresh = format!("refresh-{n:08}");
    let ttl = s.config.access_ttl.as_secs();
    let access_exp = now() + ttl;
    let refresh_exp = now() + s.config.refresh_ttl.as_secs();
    s.access.insert(
        access.clone(),
        Token {
            expires: access_exp,
            user_agent: ua.clone(),
        },
    );
    s.refresh.insert(
        refresh.clone(),
        Token {
            expires: refresh_exp,
            user_agent: ua,
        },
    );
    let mut v = json!({
        "access_token": access,
        "access_token_expiration": access_exp,
        "refresh_token": refresh,
        "refresh_token_expiration": refresh_exp,
    });
    if with_permissions {
        v["permissions"] = json!([{"controller": "api\\admin\\customers\\Customer", "actions": ["index", "view"]}]);
    }
    v
}

fn tokens(s: &mut State, method: &Method, refresh: &str, ua: String) -> Response {
    let Some(t) = s.refresh.get(refresh) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "TOKEN_BANNED",
            "Unknown refresh token",
        );
    };
    if *method == Method::DELETE {
        s.refresh.remove(refresh);
        return StatusCode::NO_CONTENT.into_response();
    }
    if *method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
        );
    }
    if t.expires < now() {
        return error(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_REFRESH_TOKEN",
            "Refresh token expired",
        );
    }
    if t.user_agent != ua {
        return error(
            StatusCode::UNAUTHORIZED,
            "USER_AGENT_CHANGED",
            "User agent changed",
        );
    }
    s.refresh.remove(refresh);
    s.renewals += 1;
    ok(StatusCode::OK, issue(s, ua, false))
}

/// The refusal, if the request does not authenticate.
fn authenticate(s: &mut State, headers: &HeaderMap, ua: &str) -> Option<Response> {
    let Some(auth) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "MISSED_AUTHORIZATION_HEADER",
            "Authorization header is missing",
        ));
    };
    let unauthorized = || error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized");
    if let Some(b64) = auth.strip_prefix("Basic ") {
        if !s.config.unsecure_access {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTH_TYPE",
                "Basic authorization needs unsecure access",
            ));
        }
        let expected = format!("{}:{}", s.config.api_key, s.config.api_secret);
        let got = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap_or_default();
        return (got != expected.as_bytes()).then(unauthorized);
    }
    let Some(inner) = auth
        .strip_prefix("Splynx-EA (")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTH_TYPE",
            "Invalid auth type",
        ));
    };
    let fields: BTreeMap<String, String> = form_urlencoded::parse(inner.as_bytes())
        .into_owned()
        .collect();
    if let Some(token) = fields.get("access_token") {
        let Some(t) = s.access.get(token) else {
            return Some(unauthorized());
        };
        if t.expires < now() {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "EXPIRED_ACCESS_TOKEN",
                "Access token expired",
            ));
        }
        if t.user_agent != ua {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "USER_AGENT_CHANGED",
                "User agent changed",
            ));
        }
        return None;
    }
    let (Some(key), Some(nonce), Some(sig)) = (
        fields.get("key"),
        fields.get("nonce"),
        fields.get("signature"),
    ) else {
        return Some(unauthorized());
    };
    let nonce: u64 = nonce.parse().unwrap_or(0);
    if *key != s.config.api_key || *sig != signature(key, &s.config.api_secret, nonce) {
        return Some(unauthorized());
    }
    if nonce <= s.last_nonce {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SASH",
            "Nonce already used",
        ));
    }
    s.last_nonce = nonce;
    None
}

/// A customer as Splynx sends it: every number a string.
fn customer(c: &FakeCustomer) -> Value {
    json!({
        "id": c.id.to_string(),
        "billing_type": "recurring",
        "partner_id": "1",
        "location_id": "1",
        "added_by": "admin",
        "added_by_id": "1",
        "login": format!("c{:06}", c.id),
        "category": "person",
        "name": c.name,
        "email": format!("c{}@example.net", c.id),
        "billing_email": "",
        "phone": "",
        "street_1": "12 Main St",
        "zip_code": "12345",
        "city": "Springfield",
        "status": c.status,
        "date_add": "2024-01-01",
        "last_online": "",
        "last_update": "2024-06-01 10:00:00",
        "daily_prepaid_cost": "0.0000",
        "gps": "",
        "customer_labels": [],
        "additional_attributes": {"social_id": "", "contract": format!("K-{}", c.id)},
    })
}

fn tariff_id(down: u64, up: u64) -> u64 {
    // Stable ids per rate pair.
    (down / 1000) * 10_000 + up / 1000
}

fn service(cid: u64, sid: u64, down: u64, up: u64, status: &str, c: &FakeCustomer) -> Value {
    let mut attrs = serde_json::Map::new();
    for (k, v) in &c.fields {
        attrs.insert(k.clone(), Value::String(v.clone()));
    }
    json!({
        "id": sid.to_string(),
        "customer_id": cid.to_string(),
        "tariff_id": tariff_id(down, up).to_string(),
        "status": status,
        "status_new": "",
        "description": format!("Internet {}", down / 1000),
        "quantity": "1",
        "unit": "",
        "unit_price": "49.00",
        "start_date": "2024-01-01",
        "end_date": if status == "active" { "0000-00-00" } else { "2024-06-01" },
        "discount": "0",
        "login": format!("c{:06}", cid),
        "password": "",
        "taking_ipv4": "0",
        "ipv4": "",
        "router_id": "1",
        "sector_id": "0",
        // Splynx writes MACs bare and upper-case.
        "mac": c.mac.as_deref().map(|m| m.replace([':', '-'], "").to_uppercase()).unwrap_or_default(),
        "port_id": "0",
        "access_device": "0",
        "bundle_service_id": "0",
        "parent_id": "0",
        "type": "internet",
        "additional_attributes": attrs,
    })
}

fn services(s: &State, cid: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for c in s.customers.iter().filter(|c| cid == 0 || c.id == cid) {
        let status = match s.service_status.get(&c.id) {
            Some(status) => status.as_str(),
            None if c.service_active => "active",
            None => "stopped",
        };
        out.push(service(
            c.id,
            c.service_id,
            c.down_kbps,
            c.up_kbps,
            status,
            c,
        ));
    }
    for (ocid, sid, down, up, status) in &s.old_services {
        if (cid == 0 || *ocid == cid)
            && let Some(c) = s.customers.iter().find(|c| c.id == *ocid)
        {
            out.push(service(*ocid, *sid, *down, *up, status, c));
        }
    }
    out
}

fn tariffs(s: &State) -> Vec<Value> {
    let mut pairs: Vec<(u64, u64)> = s
        .customers
        .iter()
        .map(|c| (c.down_kbps, c.up_kbps))
        .chain(s.old_services.iter().map(|o| (o.2, o.3)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|(down, up)| {
            json!({
                "id": tariff_id(down, up).to_string(),
                "title": format!("{} Mbps", down / 1000),
                "service_name": format!("Internet {}", down / 1000),
                "price": "49.00",
                "with_vat": "1",
                "speed_download": down.to_string(),
                "speed_upload": up.to_string(),
                "burst_limit": "0",
                "aggregation": "1",
                "priority": "normal",
                "partners_ids": ["1"],
                "available_for_services": "1",
            })
        })
        .collect()
}

/// A `main_attributes[...]` search: `[name]=v` is equality; `[name][0]=OP&[name][1]=v` takes
/// `= != < > <= >= LIKE IN` (IN with `[1][k]` values).
struct Search {
    /// name -> (op, values)
    terms: BTreeMap<String, (String, Vec<String>)>,
}

impl Search {
    fn parse(params: &[(String, String)]) -> Search {
        let mut terms: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for (k, v) in params {
            let Some(rest) = k.strip_prefix("main_attributes[") else {
                continue;
            };
            let Some(end) = rest.find(']') else { continue };
            let name = rest[..end].to_string();
            let tail = &rest[end + 1..];
            let entry = terms
                .entry(name)
                .or_insert_with(|| ("=".into(), Vec::new()));
            if tail.is_empty() {
                entry.1.push(v.clone());
            } else if tail == "[0]" {
                entry.0 = v.to_uppercase();
            } else if tail.starts_with("[1]") {
                entry.1.push(v.clone());
            }
        }
        Search { terms }
    }

    fn matches(&self, r: &Value) -> bool {
        self.terms.iter().all(|(name, (op, values))| {
            let field = match r.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let first = values.first().cloned().unwrap_or_default();
            let num = |s: &str| s.parse::<f64>().ok();
            let cmp = |f: fn(f64, f64) -> bool| match (num(&field), num(&first)) {
                (Some(a), Some(b)) => f(a, b),
                _ => false,
            };
            match op.as_str() {
                "=" => field == first,
                "!=" | "<>" => field != first,
                "<" => cmp(|a, b| a < b),
                ">" => cmp(|a, b| a > b),
                "<=" => cmp(|a, b| a <= b),
                ">=" => cmp(|a, b| a >= b),
                "LIKE" => field.to_lowercase().contains(&first.to_lowercase()),
                "IN" => values.contains(&field),
                _ => false,
            }
        })
    }
}

/// How a webhook body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookEncoding {
    Json,
    Form,
}

/// The event payload Splynx sends when a customer changes.
pub fn customer_event(customer_id: u64, action: &str, status: &str) -> Value {
    json!({
        "type": "event",
        "call": "",
        "data": {
            "source": "admin",
            "model": "models\\admin\\customers\\Customer",
            "action": action,
            "date": "2024-06-01",
            "time": "14:38:12",
            "administrator_id": "1",
            "customer_id": customer_id.to_string(),
            "result": "success",
            "attributes": {"id": customer_id.to_string(), "status": status},
            "attributes_additional": [],
            "changed_attributes": {"status": status},
            "extra": null,
            "errors": null,
            "ip": "192.168.77.233"
        }
    })
}

/// Posts a webhook as Splynx does, signed with `X-Splynx-Signature` = hex HMAC-SHA1 of the raw
/// body (`secret: None` sends it unsigned). Returns the status and the body that was sent.
pub async fn send_webhook(
    url: &str,
    secret: Option<&str>,
    payload: &Value,
    encoding: WebhookEncoding,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let (body, content_type) = match encoding {
        WebhookEncoding::Json => (
            serde_json::to_vec(payload).unwrap_or_default(),
            "application/json",
        ),
        WebhookEncoding::Form => (
            php_http_build_query(payload).into_bytes(),
            "application/x-www-form-urlencoded",
        ),
    };
    send_raw(url, secret, &body, content_type).await
}

/// Posts a `ping` (the receiver answers 200 `ok`).
pub async fn send_ping(url: &str, secret: Option<&str>) -> Result<(u16, Vec<u8>), reqwest::Error> {
    send_webhook(url, secret, &json!({"type": "ping"}), WebhookEncoding::Json).await
}

/// Posts `body` as is, signed with `secret` when given.
pub async fn send_raw(
    url: &str,
    secret: Option<&str>,
    body: &[u8],
    content_type: &str,
) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_vec());
    if let Some(secret) = secret {
        req = req.header(
            crate::billing::webhook::SPLYNX_SIGNATURE_HEADER,
            splynx_signature(secret.as_bytes(), body),
        );
    }
    let status = req.send().await?.status().as_u16();
    Ok((status, body.to_vec()))
}
