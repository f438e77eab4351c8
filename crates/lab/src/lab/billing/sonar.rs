//! A fake Sonar v2 API: `POST /api/graphql` with a bearer token, the `accounts` connection with
//! `paginator` and `page_info`, `webhook_model_events`, GraphQL `errors`, the rate limit with its
//! real (non-GraphQL) body, slow responses, and a webhook sender.
//!
//! It does not parse GraphQL: it recognises the root field in the query text and reads the
//! `paginator` and `id` variables, and always returns the full account selection the gamops
//! client asks for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{FakeCustomer, Faults, generate, lock, serve};

/// How to start the fake.
#[derive(Clone, Debug)]
pub struct SonarFakeConfig {
    /// Generated accounts.
    pub customers: u64,
    /// The accepted personal access token.
    pub token: String,
    /// Requests allowed per window (Sonar: 400 per 60 s).
    pub rate_limit: u32,
    pub rate_window: Duration,
}

impl Default for SonarFakeConfig {
    fn default() -> Self {
        SonarFakeConfig {
            customers: 50,
            token: "sonar-test-token".into(),
            rate_limit: 400,
            rate_window: Duration::from_secs(60),
        }
    }
}

struct State {
    customers: Vec<FakeCustomer>,
    token: String,
    rate_limit: u32,
    rate_window: Duration,
    window_start: Instant,
    window_count: u32,
    faults: Faults,
    graphql_errors_next: u32,
    requests: u64,
}

/// A running fake Sonar.
pub struct SonarFake {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: CancellationToken,
}

impl Drop for SonarFake {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl SonarFake {
    pub async fn start(config: SonarFakeConfig) -> std::io::Result<SonarFake> {
        Self::start_on(config, super::any_loopback()).await
    }

    /// Starts the fake on `addr` (port 0: a free one).
    pub async fn start_on(config: SonarFakeConfig, addr: SocketAddr) -> std::io::Result<SonarFake> {
        let state = Arc::new(Mutex::new(State {
            customers: generate(config.customers, false),
            token: config.token,
            rate_limit: config.rate_limit,
            rate_window: config.rate_window,
            window_start: Instant::now(),
            window_count: 0,
            faults: Faults::default(),
            graphql_errors_next: 0,
            requests: 0,
        }));
        let shared = state.clone();
        let router = axum::Router::new().route(
            "/api/graphql",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { graphql(state, headers, body).await }
            }),
        );
        let shutdown = CancellationToken::new();
        let addr = serve(router, addr, shutdown.clone()).await?;
        Ok(SonarFake {
            addr,
            state,
            shutdown,
        })
    }

    /// The instance's base URL (the client adds `/api/graphql`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Edits the accounts while the server runs.
    pub fn edit(&self, f: impl FnOnce(&mut Vec<FakeCustomer>)) {
        f(&mut lock(&self.state).customers);
    }

    pub fn set_faults(&self, faults: Faults) {
        lock(&self.state).faults = faults;
    }

    /// The next `n` queries answer with GraphQL `errors`.
    pub fn graphql_errors_next(&self, n: u32) {
        lock(&self.state).graphql_errors_next = n;
    }

    /// Changes the rate limit (and starts a new window).
    pub fn set_rate_limit(&self, per_window: u32, window: Duration) {
        let mut s = lock(&self.state);
        s.rate_limit = per_window;
        s.rate_window = window;
        s.window_start = Instant::now();
        s.window_count = 0;
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        lock(&self.state).requests
    }
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

async fn graphql(state: Arc<Mutex<State>>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = lock(&state).faults.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = lock(&state);
    s.requests += 1;

    let expected = format!("Bearer {}", s.token);
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth != Some(expected.as_str()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "Unauthenticated."}),
        );
    }

    let now = Instant::now();
    if now.duration_since(s.window_start) >= s.rate_window {
        s.window_start = now;
        s.window_count = 0;
    }
    s.window_count += 1;
    if s.window_count > s.rate_limit {
        // The documented body: not GraphQL-shaped. The status is a guess (429).
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": format!("Request limit of {}/min reached.", s.rate_limit)}),
        );
    }

    if s.faults.fail_next > 0 {
        s.faults.fail_next -= 1;
        let status =
            StatusCode::from_u16(s.faults.fail_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let status = if status.is_server_error() || status.is_client_error() {
            status
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return (status, "<html><body>upstream error</body></html>").into_response();
    }

    if s.graphql_errors_next > 0 {
        s.graphql_errors_next -= 1;
        return json_response(
            StatusCode::OK,
            json!({"errors": [{"message": "Internal server error", "locations": [{"line": 2, "column": 3}], "path": ["accounts"], "extensions": {"category": "internal"}}], "data": null}),
        );
    }

    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"errors": [{"message": "Syntax Error: the body is not JSON"}]}),
        );
    };
    let query = req.get("query").and_then(Value::as_str).unwrap_or("");
    let vars = req.get("variables").cloned().unwrap_or(Value::Null);

    if query.contains("webhook_model_events") {
        return json_response(
            StatusCode::OK,
            json!({"data": {"webhook_model_events": [
                {"model": "Account", "events": ["CREATED", "UPDATED", "DELETED"]},
                {"model": "AccountService", "events": ["CREATED", "UPDATED", "DELETED", "ATTACHED", "DETACHED"]}
            ]}}),
        );
    }
    if !query.contains("accounts") {
        return json_response(
            StatusCode::OK,
            json!({"errors": [{"message": "Cannot query field on type \"Query\"."}]}),
        );
    }

    let selected: Vec<&FakeCustomer> = match vars.get("id").and_then(Value::as_u64) {
        Some(id) => s.customers.iter().filter(|c| c.id == id).collect(),
        None => s.customers.iter().collect(),
    };
    let paginator = vars.get("paginator");
    let page = paginator
        .and_then(|p| p.get("page"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1);
    let per_page = paginator
        .and_then(|p| p.get("records_per_page"))
        .and_then(Value::as_u64)
        .unwrap_or(100)
        .clamp(1, 10_000);
    let total = selected.len() as u64;
    let total_pages = total.div_ceil(per_page);
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let entities: Vec<Value> = selected
        .iter()
        .skip(start)
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .map(|c| account(c))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"data": {"accounts": {
            "entities": entities,
            "page_info": {"page": page, "records_per_page": per_page, "total_pages": total_pages, "total_count": total},
            "aggregations": []
        }}}),
    )
}

/// One account in the shape of the gamops query's selection.
fn account(c: &FakeCustomer) -> Value {
    let activates = c.status.eq_ignore_ascii_case("active");
    let status_id = match c.status.as_str() {
        "Active" => 1,
        "Inactive" => 2,
        "Lead" => 3,
        _ => 4,
    };
    let fields: Vec<Value> = c
        .fields
        .iter()
        .enumerate()
        .map(|(i, (k, v))| json!({"custom_field_id": i + 1, "value": v, "custom_field": {"name": k}}))
        .collect();
    let items: Vec<Value> = c
        .mac
        .iter()
        .map(|m| {
            json!({"id": c.id, "inventory_model_field_data": {"entities": [
                {"value": m, "inventory_model_field": {"name": "MAC Address", "primary": true}},
                {"value": format!("SN{}", c.id), "inventory_model_field": {"name": "Serial", "primary": false}}
            ]}})
        })
        .collect();
    json!({
        "id": c.id,
        "name": c.name,
        "account_status_id": status_id,
        "is_delinquent": c.delinquent,
        "account_status": {"id": status_id, "name": c.status, "activates_account": activates},
        "custom_field_data": {"entities": fields},
        "account_services": {"entities": [
            {"id": c.service_id, "service": {"id": 7, "name": format!("{} Mbps", c.down_kbps / 1000), "type": "DATA", "enabled": c.service_active,
              "data_service_detail": {"download_speed_kilobits_per_second": c.down_kbps, "upload_speed_kilobits_per_second": c.up_kbps}}},
            {"id": c.service_id + 1, "service": {"id": 8, "name": "Router rental", "type": "RECURRING", "enabled": true, "data_service_detail": null}}
        ]},
        "addresses": {"entities": [
            {"id": c.id, "type": "PHYSICAL", "line1": "12 Main St", "line2": format!("Unit {}", c.id),
             "custom_field_data": {"entities": []}, "inventory_items": {"entities": items}},
            {"id": c.id + 1_000_000, "type": "MAILING", "line1": "PO Box 1", "line2": null,
             "custom_field_data": {"entities": []}, "inventory_items": {"entities": []}}
        ]},
        "uninventoried_mac_addresses": {"entities": []}
    })
}

/// Sends a webhook as Sonar does: HEAD first, then a JSON POST of `{event, object_id,
/// current}`. Returns the POST's status. (Sonar only posts to HTTPS and retries once a minute
/// for four hours; the fake sends once, to any URL.)
pub async fn send_webhook(url: &str, event: &str, object_id: u64) -> Result<u16, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let head = client.head(url).send().await?;
    if !head.status().is_success() {
        return Ok(head.status().as_u16());
    }
    let body = json!({
        "event": event,
        "object_id": object_id,
        "current": {"id": object_id, "created_at": "2021-05-25T20:48:40+00:00"}
    });
    Ok(client.post(url).json(&body).send().await?.status().as_u16())
}
