//! Monitoring's part of the API (mounted by [`super::super::http`] under `/api/v1`, behind its
//! tokens): the latest poll and the state transitions, the alerts firing and pending, their history, and acknowledging
//! one (the `operate` scope; who is the token's name).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::super::Shared;
use crate::store::Timestamp;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// `GET /api/v1/monitoring`: the latest status poll (as `gamops status --format json`), with
/// when it ended and how long it took.
pub async fn latest(State(shared): State<Arc<Shared>>) -> Response {
    let snap = shared.monitor.latest();
    let body = super::super::off_the_workers(|| {
        serde_json::to_vec(&json!({
            "polled_at": snap.at,
            "seconds": snap.seconds,
            "status": snap.report,
        }))
    });
    match body {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct TransitionsQuery {
    device: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/monitoring/transitions[?device=NAME][&limit=N]`: state transitions the polls
/// saw (endpoint states, reachability, reboots), newest first.
pub async fn transitions(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<TransitionsQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(100).min(10_000);
    match shared.store.transitions(q.device.as_deref(), limit).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `GET /api/v1/alerts`: the alerts firing (from the store, with their acknowledgement) and
/// those pending (waiting for their rule's `for`).
pub async fn alerts(State(shared): State<Arc<Shared>>) -> Response {
    let views = shared.monitor.views();
    match shared.store.active_alerts().await {
        Ok(active) => {
            let firing: Vec<_> = active
                .iter()
                .map(|a| super::alert_json(a, &views))
                .collect();
            let pending: Vec<_> = views.iter().filter(|v| v.state == "pending").collect();
            Json(json!({ "firing": firing, "pending": pending })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    key: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/v1/alerts/history[?key=K][&limit=N]`: firings, newest first.
pub async fn history(State(shared): State<Arc<Shared>>, Query(q): Query<HistoryQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(10_000);
    match shared.store.alert_history(q.key.as_deref(), limit).await {
        Ok(rows) => {
            let rows: Vec<_> = rows
                .into_iter()
                .map(|r| {
                    let labels: serde_json::Value =
                        serde_json::from_str(&r.labels).unwrap_or(serde_json::Value::Null);
                    json!({
                        "key": r.key,
                        "rule": r.rule,
                        "severity": r.severity,
                        "device": r.device,
                        "labels": labels,
                        "summary": r.summary,
                        "started_at": r.started_at,
                        "ended_at": r.ended_at,
                        "resolved": r.resolved_text,
                        "acked_by": r.acked_by,
                        "acked_at": r.acked_at,
                    })
                })
                .collect();
            Json(rows).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `POST /api/v1/alerts/{key}/ack` (the key percent-encoded: `endpoint-offline%2Fgam-0001%2F...`):
/// records who (the token's name) acknowledged the firing alert, and when.
pub async fn ack(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    let who = match shared.store.check_token(token).await {
        Ok(Some(info)) => info.name,
        Ok(None) => return error(StatusCode::UNAUTHORIZED, "unknown API token"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    match shared.store.ack_alert(&key, &who, Timestamp::now()).await {
        Ok(Some(a)) => Json(super::alert_json(&a, &shared.monitor.views())).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("no alert {key} is firing (see GET /api/v1/alerts)"),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
