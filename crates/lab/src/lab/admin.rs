//! The lab's admin interface: a small HTTP API on loopback through which tests (and people)
//! change a running lab's devices: faults, reboots, drift.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /devices` | | `[DeviceInfo]` |
//! | `GET /devices/{name}` | | `DeviceInfo` with `faults` |
//! | `GET /devices/{name}/running-config` | | the running-config text |
//! | `POST /devices/{name}/faults` | [`FaultSettings`] (fields left out are kept) | [`FaultState`] |
//! | `DELETE /devices/{name}/faults` | | [`FaultState`] (all clear) |
//! | `POST /faults` | [`FaultSettings`] for every device | `{"devices": N}` |
//! | `POST /devices/{name}/reboot` | `{"downtime_ms": 3000}` (optional) | 202 `{"rebooting": true, "downtime_ms": N}` |
//! | `POST /devices/{name}/drift` | [`Drift`] | `{"drifted": true}` |
//! | `POST /devices/{name}/link` | [`LinkFault`] | `{"changed": true}` |
//! | `POST /devices/{name}/health` | [`HealthChange`] | the device's temperatures and active alarms |
//!
//! Link faults (each names the CPE by MAC): `{"fault": "offline"}` and `"online"`; `"move"`
//! with `"port"` (the endpoint is quarantined, wrong port); `"plug"` with `"port"` (a CPE
//! with no endpoint: quarantined, unknown MAC); `"phy"` with `"rx_mbps"` and `"tx_mbps"`
//! (asymmetric rates, or a link degraded below its plan); `"firmware-mismatch"` with `"on"`.
//! Health: `{"temperature_c": 85}`, `{"raise_alarm": {"condition": "hightemp", "severity":
//! "major"}}`, `{"clear_alarm": 1}`. A GAM reboot (`/reboot`) restarts every link's uptime.
//!
//! Faults reach every face of a device: refused logins and latency apply to its JSON-RPC API as
//! to its CLI, a failing command matches a JSON-RPC call by its method and compact params, and
//! `{"jsonrpc_omit_methods": ["ghnAgent.config.user.add"]}` plays an older firmware that lacks
//! those methods (`[]` restores them).
//!
//! Errors answer `{"error": "..."}` with 404 (no such device, subscriber or CPE) or 400.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::lab::control::{DeviceInfo, Drift, FaultSettings, FaultState, HealthChange, LinkFault};
use crate::lab::device::state::Health;
use crate::lab::runtime::{Lab, LabError};

/// The admin server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the admin interface must listen on loopback, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot listen for the admin interface on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running admin server.
#[derive(Debug)]
pub struct AdminHandle {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl AdminHandle {
    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits for the server to stop (after the shutdown token fired).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Serves the admin API for `lab` on `addr` (loopback only) until `shutdown` fires.
pub async fn serve(
    lab: Arc<Lab>,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> Result<AdminHandle, AdminError> {
    if !addr.ip().is_loopback() {
        return Err(AdminError::NotLoopback(addr));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| AdminError::Bind { addr, source })?;
    let app = router(lab);
    let task = tokio::spawn(crate::http_server::serve(
        listener,
        app,
        crate::http_server::Limits::default(),
        shutdown,
    ));
    Ok(AdminHandle { addr, task })
}

/// The API's routes.
pub fn router(lab: Arc<Lab>) -> Router {
    Router::new()
        .route("/devices", get(list))
        .route("/devices/{name}", get(show))
        .route("/devices/{name}/running-config", get(running_config))
        .route(
            "/devices/{name}/faults",
            post(set_faults).delete(clear_faults).get(get_faults),
        )
        .route("/faults", post(set_all_faults))
        .route("/devices/{name}/reboot", post(reboot))
        .route("/devices/{name}/drift", post(drift))
        .route("/devices/{name}/link", post(link))
        .route("/devices/{name}/health", post(health))
        .with_state(lab)
}

/// An error answer.
struct ApiError(StatusCode, String);

impl From<LabError> for ApiError {
    fn from(e: LabError) -> Self {
        let status = match e {
            LabError::NoSuchDevice(_)
            | LabError::NoSuchSubscriber { .. }
            | LabError::NoSuchCpe { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

async fn list(State(lab): State<Arc<Lab>>) -> Json<Vec<DeviceInfo>> {
    Json(lab.devices().iter().map(|d| d.info()).collect())
}

/// A device and its faults.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub info: DeviceInfo,
    pub faults: FaultState,
}

async fn show(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
) -> Result<Json<DeviceDetail>, ApiError> {
    let d = lab.device(&name)?;
    Ok(Json(DeviceDetail {
        info: d.info(),
        faults: d.faults(),
    }))
}

async fn running_config(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
) -> Result<String, ApiError> {
    let d = lab.device(&name)?;
    let dev = d
        .state()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(crate::lab::device::config::render(&dev.running))
}

async fn get_faults(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
) -> Result<Json<FaultState>, ApiError> {
    Ok(Json(lab.device(&name)?.faults()))
}

async fn set_faults(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
    Json(body): Json<FaultSettings>,
) -> Result<Json<FaultState>, ApiError> {
    Ok(Json(lab.device(&name)?.apply_faults(&body)?))
}

async fn clear_faults(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
) -> Result<Json<FaultState>, ApiError> {
    Ok(Json(lab.device(&name)?.clear_faults()))
}

async fn set_all_faults(
    State(lab): State<Arc<Lab>>,
    Json(body): Json<FaultSettings>,
) -> Result<Json<serde_json::Value>, ApiError> {
    for d in lab.devices() {
        d.apply_faults(&body)?;
    }
    Ok(Json(serde_json::json!({ "devices": lab.devices().len() })))
}

/// The body of a reboot request.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebootRequest {
    /// How long the device stays down; default the lab's `--reboot-downtime`.
    #[serde(default)]
    pub downtime_ms: Option<u64>,
}

async fn reboot(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
    body: Option<Json<RebootRequest>>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let downtime = body
        .and_then(|Json(b)| b.downtime_ms)
        .map(Duration::from_millis);
    let downtime = lab.reboot(&name, downtime)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "rebooting": true,
            "downtime_ms": u64::try_from(downtime.as_millis()).unwrap_or(u64::MAX),
        })),
    ))
}

async fn drift(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
    Json(body): Json<Drift>,
) -> Result<Json<serde_json::Value>, ApiError> {
    lab.device(&name)?.drift(&body)?;
    Ok(Json(serde_json::json!({ "drifted": true })))
}

async fn link(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
    Json(body): Json<LinkFault>,
) -> Result<Json<serde_json::Value>, ApiError> {
    lab.device(&name)?.link(&body)?;
    Ok(Json(serde_json::json!({ "changed": true })))
}

async fn health(
    State(lab): State<Arc<Lab>>,
    Path(name): Path<String>,
    Json(body): Json<HealthChange>,
) -> Result<Json<Health>, ApiError> {
    Ok(Json(lab.device(&name)?.health(&body)?))
}
