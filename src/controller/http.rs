//! The controller's HTTP API (axum): health, readiness, metrics, and a JSON API under
//! `/api/v1` for the state, the runs and requests (reconcile, pause, resume).
//!
//! `/healthz`, `/readyz` and `/metrics` answer anyone unless `controller.public` in gamops.yaml
//! leaves them out (then they need a `read` token); `/api/v1` needs a bearer token made by
//! `gamops token create` (kept hashed in the store): the `read` scope reads, the `operate` scope
//! also pauses, resumes and asks for reconciles. The handlers read a snapshot of the state and
//! send triggers; none waits on a pass.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::{RunFilter, RunId};

use super::monitoring::api as monitoring;
use super::status::FleetState;
use super::{Shared, Trigger};

/// The scope that reads.
pub const READ: &str = "read";
/// The scope that also acts: reconcile, pause, resume.
pub const OPERATE: &str = "operate";

/// Every route, over the shared state.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/devices", get(devices))
        .route("/devices/{name}", get(device))
        .route("/subscribers", get(subscribers))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/reviews/{forge}/{number}", get(review))
        .route("/events", get(events))
        .route("/reconcile", post(reconcile))
        .route("/pause", post(pause))
        .route("/resume", post(resume))
        .route("/monitoring", get(monitoring::latest))
        .route("/monitoring/transitions", get(monitoring::transitions))
        .route("/alerts", get(monitoring::alerts))
        .route("/alerts/history", get(monitoring::history))
        .route("/alerts/{key}/ack", post(monitoring::ack))
        .layer(middleware::from_fn_with_state(shared.clone(), authorize));
    let public = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            public_or_read,
        ));
    Router::new()
        .route("/hooks/git", post(git_hook))
        .merge(public)
        .nest("/api/v1", api)
        .with_state(shared)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Lets a request through when its bearer token has the scope the method needs.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let needs = if request.method() == axum::http::Method::GET {
        READ
    } else {
        OPERATE
    };
    match check_token(&shared, &headers, needs).await {
        Ok(()) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Lets a request for a health or metrics endpoint through when `controller.public` names it,
/// or else when its token may read.
async fn public_or_read(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if shared.is_public(request.uri().path()) {
        return next.run(request).await;
    }
    match check_token(&shared, &headers, READ).await {
        Ok(()) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Whether the request's bearer token has the scope `needs` (`operate` includes `read`); the
/// answer to send when not.
async fn check_token(shared: &Shared, headers: &HeaderMap, needs: &str) -> Result<(), Response> {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "an API token is needed: `Authorization: Bearer TOKEN` (make one with gamops token create)",
        ));
    };
    let scopes = match shared.token_scopes(token.trim()).await {
        Ok(Some(scopes)) => scopes,
        Ok(None) => return Err(error(StatusCode::UNAUTHORIZED, "unknown API token")),
        Err(e) => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the store cannot check tokens now: {e}"),
            ));
        }
    };
    let allowed = scopes
        .iter()
        .any(|s| s == needs || (needs == READ && s == OPERATE));
    if !allowed {
        return Err(error(
            StatusCode::FORBIDDEN,
            format!("the token lacks the `{needs}` scope"),
        ));
    }
    Ok(())
}

/// Ready when the store answers and, for the leader, a valid commit is loaded. A follower is
/// ready to serve reads without a target of its own. `leader` says whether this one leads.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let Some(state) = shared.read(FleetState::clone_without_devices) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the state is unreadable");
    };
    let leader = state.leader.as_deref() == Some(shared.owner.as_str());
    let mut problems = Vec::new();
    if state.leader.is_none() {
        problems.push("leadership not known yet".to_string());
    } else if leader && state.target.is_none() {
        problems.push(
            state
                .problem
                .clone()
                .unwrap_or_else(|| "no valid commit loaded yet".into()),
        );
    }
    if let Err(e) = shared
        .store
        .runs(&RunFilter {
            device: None,
            limit: Some(1),
        })
        .await
    {
        problems.push(format!("the store does not answer: {e}"));
    }
    let code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({
            "ready": problems.is_empty(),
            "leader": leader,
            "leading": state.leader,
            "problems": problems,
        })),
    )
        .into_response()
}

/// OpenMetrics to a client that accepts it (Prometheus does), else Prometheus's text format
/// 0.0.4 (curl, `promtool check metrics`).
async fn metrics(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let text = super::off_the_workers(|| shared.metrics.render());
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            super::monitoring::metrics::prometheus_text(&text),
        )
            .into_response()
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.read(FleetState::clone_without_devices);
    let counts = shared.read(|s| s.counts()).unwrap_or_default();
    let Some(s) = s else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the state is unreadable");
    };
    Json(json!({
        "paused": s.paused,
        "leader": s.leader,
        "target": s.target,
        "refused": s.refused,
        "applied": s.applied,
        "passes": s.passes,
        "passing": s.passing,
        "last_pass": s.last_pass,
        "problem": s.problem,
        "devices": counts,
    }))
    .into_response()
}

/// JSON written under the state's read lock: no copy of the state per request.
fn json_of<T: serde::Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn devices(State(shared): State<Arc<Shared>>) -> Response {
    match shared.devices_json() {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn device(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    shared
        .read(|s| match s.devices.get(&name) {
            Some(d) => json_of(&json!({ "status": d, "plan": d.plan })),
            None => error(
                StatusCode::NOT_FOUND,
                format!("no device {name} in the target commit"),
            ),
        })
        .unwrap_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "the state is unreadable"))
}

#[derive(Deserialize)]
struct SubscribersQuery {
    /// Matched, ignoring case, against the id, name, device, endpoint MAC, VLAN and plan.
    q: Option<String>,
    device: Option<String>,
    limit: Option<usize>,
}

/// The target commit's subscribers that match a search, with their device's sync state.
async fn subscribers(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<SubscribersQuery>,
) -> Response {
    let index = shared.search_index();
    if index.commit.is_empty() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid commit loaded yet",
        );
    }
    let limit = q.limit.unwrap_or(100).min(10_000);
    let (total, rows) = index.search(q.q.as_deref().unwrap_or(""), q.device.as_deref(), limit);
    shared
        .read(|s| {
            let found: Vec<Value> = rows
                .iter()
                .map(|row| {
                    let mut v = serde_json::to_value(row).unwrap_or_default();
                    v["device_sync"] = json!(s.devices.get(&row.device).map(|d| d.sync));
                    v
                })
                .collect();
            json_of(&json!({ "commit": index.commit, "total": total, "subscribers": found }))
        })
        .unwrap_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "the state is unreadable"))
}

#[derive(Deserialize)]
struct RunsQuery {
    device: Option<String>,
    limit: Option<u32>,
}

async fn runs(State(shared): State<Arc<Shared>>, Query(q): Query<RunsQuery>) -> Response {
    let filter = RunFilter {
        device: q.device,
        limit: Some(q.limit.unwrap_or(50).min(1000)),
    };
    match shared.store.runs(&filter).await {
        Ok(runs) => Json(runs).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn run(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<RunId>() else {
        return error(StatusCode::BAD_REQUEST, format!("{id} is not a run id"));
    };
    match shared.store.run(id).await {
        Ok(Some(run)) => Json(run).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no run {}", id.0)),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
struct ReviewQuery {
    /// `json` for the review as JSON; Markdown otherwise.
    format: Option<String>,
}

/// A pull request's plan as the controller last made it: the whole comment, never cut
/// (Markdown), or the review with its plan (JSON).
async fn review(
    State(shared): State<Arc<Shared>>,
    Path((forge, number)): Path<(String, u64)>,
    Query(q): Query<ReviewQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(review) = shared.pulls.review(&forge, number) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no plan of {forge} pull request {number} since the controller started"),
        );
    };
    let wants_json = q.format.as_deref() == Some("json")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        json_of(&review)
    } else {
        (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            review.markdown,
        )
            .into_response()
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReconcileRequest {
    device: Option<String>,
}

async fn reconcile(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let request: ReconcileRequest = if body.is_empty() {
        ReconcileRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body must be {{}} or {{\"device\": \"NAME\"}}: {e}"),
                );
            }
        }
    };
    if let Some(name) = &request.device
        && shared
            .read(|s| !s.devices.contains_key(name))
            .unwrap_or(true)
    {
        return error(
            StatusCode::NOT_FOUND,
            format!("no device {name} in the target commit"),
        );
    }
    shared.trigger(Trigger::Manual(request.device.clone()));
    (
        StatusCode::ACCEPTED,
        Json(json!({ "queued": request.device.unwrap_or_else(|| "all".into()) })),
    )
        .into_response()
}

/// A forge's push webhook: verified (see [`super::hooks`]), then a fetch now.
async fn git_hook(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(branch) = shared.branch.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "this controller follows a local checkout; push webhooks are for --repo",
        );
    };
    let Some(secret) = shared.hook_secret() else {
        return error(
            StatusCode::FORBIDDEN,
            "controller.git_webhook_secret is not set (or not resolvable) in the target commit",
        );
    };
    match super::hooks::verify(&headers, &body, secret.expose().as_bytes(), &branch) {
        Ok(super::hooks::Push::Ours) => {
            shared.trigger(Trigger::Commit);
            (StatusCode::ACCEPTED, Json(json!({ "fetching": branch }))).into_response()
        }
        Ok(super::hooks::Push::Other(why)) => {
            match super::pulls::receive(&shared, &headers, &body) {
                Some((code, answer)) => (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
                    Json(answer),
                )
                    .into_response(),
                None => Json(json!({ "ignored": why })).into_response(),
            }
        }
        Err(e @ super::hooks::HookError::Unsigned) => {
            error(StatusCode::UNAUTHORIZED, e.to_string())
        }
        Err(e) => error(StatusCode::FORBIDDEN, e.to_string()),
    }
}

/// Server-Sent Events: each [`Event`](super::Event) as a JSON `data:` line, its type as the
/// SSE event name; a comment every 15 s keeps idle connections open.
async fn events(State(shared): State<Arc<Shared>>) -> Response {
    use axum::response::sse::{Event as Sse, KeepAlive};
    let rx = shared.events.subscribe();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let name = serde_json::to_value(&event)
                        .ok()
                        .and_then(|v| v["type"].as_str().map(str::to_string))
                        .unwrap_or_default();
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    let sse = Sse::default().event(name).data(data);
                    return Some((Ok::<_, std::convert::Infallible>(sse), rx));
                }
                // A slow listener misses the oldest events and goes on with the newest.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    axum::response::sse::Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

async fn pause(State(shared): State<Arc<Shared>>) -> Response {
    shared.set_paused(true);
    Json(json!({ "paused": true })).into_response()
}

async fn resume(State(shared): State<Arc<Shared>>) -> Response {
    shared.set_paused(false);
    Json(json!({ "paused": false })).into_response()
}

#[cfg(test)]
mod tests {
    /// Every route `router` serves, as written in it.
    fn routes() -> Vec<String> {
        let source = include_str!("http.rs");
        let mut api = false;
        let mut out = Vec::new();
        for line in source.lines() {
            let line = line.trim();
            if line.starts_with("let api = Router::new()") {
                api = true;
            }
            if line.contains("Router::new()") && !line.contains("let api") {
                api = false;
            }
            if let Some(rest) = line.strip_prefix(".route(\"")
                && let Some(path) = rest.split('"').next()
            {
                out.push(if api {
                    format!("/api/v1{path}")
                } else {
                    path.to_string()
                });
            }
        }
        out
    }

    #[test]
    fn the_openapi_file_describes_every_route() {
        let doc: serde_json::Value =
            serde_saphyr::from_str(include_str!("../../schemas/controller-api.openapi.yaml"))
                .unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut routes = routes();
        assert!(routes.len() >= 14, "{routes:?}");
        // The billing receivers' routes, mounted when gamops.yaml configures them.
        routes.push(crate::billing::serve::SPLYNX_PATH.to_string());
        routes.push(format!("{}/{{token}}", crate::billing::serve::SONAR_PATH));
        for r in &routes {
            assert!(paths.contains_key(r), "{r} is not in the OpenAPI file");
        }
        for p in paths.keys() {
            assert!(routes.contains(p), "{p} is described but not served");
        }
    }
}
