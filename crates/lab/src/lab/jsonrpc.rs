//! A lab device's JSON-RPC face: `POST /json_rpc` over HTTP on its own port, with HTTP Basic
//! auth by the device's users (the ones its SSH server takes), over the same shared state as its
//! CLI and SNMP agent (`device::jsonrpc` runs the calls). The device's faults apply: refused
//! logins answer 401, latency delays each answer, an armed failing command fails the call whose
//! text (method and compact params) contains its pattern, a save in progress refuses the save,
//! and a reboot closes the listener until the device is back. Methods can be left out of the
//! introspection answer (and refused) to play an older firmware.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::lab::ssh::{SshFaults, SshUser};

/// What the face needs of its device: to run a call on its state (and keep the other faces in
/// step), and whether it is up.
pub trait Backend: Send + Sync + 'static {
    /// Runs one call under the device's lock.
    fn call(
        &self,
        omitted: &BTreeSet<String>,
        method: &str,
        params: &Value,
    ) -> Result<Value, crate::lab::device::jsonrpc::Fault>;
}

/// Everything the handler reads.
pub struct Face {
    pub backend: Arc<dyn Backend>,
    pub users: Vec<SshUser>,
    /// The device's login and latency faults (shared with its SSH server).
    pub faults: Arc<SshFaults>,
    /// Methods left out (an older firmware).
    pub omitted: Arc<Mutex<BTreeSet<String>>>,
}

/// A running face: stop it with [`JsonRpcServer::shutdown`].
pub struct JsonRpcServer {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl JsonRpcServer {
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Serves `face` on `listener` until shut down.
pub fn serve(listener: TcpListener, face: Arc<Face>) -> JsonRpcServer {
    let stop = CancellationToken::new();
    let router = Router::new()
        .route("/json_rpc", post(handle))
        .with_state(face);
    let limits = crate::http_server::Limits {
        shutdown_grace: std::time::Duration::from_millis(200),
        request_timeout: std::time::Duration::from_secs(120),
        ..crate::http_server::Limits::default()
    };
    let task = tokio::spawn(crate::http_server::serve(
        listener,
        router,
        limits,
        stop.clone(),
    ));
    JsonRpcServer { stop, task }
}

/// Binds `addr` and serves.
pub async fn bind(
    addr: SocketAddr,
    face: Arc<Face>,
) -> std::io::Result<(SocketAddr, JsonRpcServer)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, serve(listener, face)))
}

fn authorized(face: &Face, headers: &HeaderMap) -> bool {
    if face.faults.refuse_logins() {
        return false;
    }
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = text.split_once(':') else {
        return false;
    };
    face.users
        .iter()
        .any(|u| u.name == user && u.password.as_deref() == Some(password))
}

async fn handle(State(face): State<Arc<Face>>, headers: HeaderMap, body: Bytes) -> Response {
    let latency = face.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if !authorized(&face, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"GAM\"")],
            "401 Unauthorized",
        )
            .into_response();
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return json_reply(json!({"id": null, "result": null,
                "error": {"code": -32700, "message": "Parse error"}}));
        }
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return json_reply(json!({"id": id, "result": null,
            "error": {"code": -32600, "message": "Invalid Request"}}));
    };
    let params = request.get("params").cloned().unwrap_or(json!([]));
    let omitted = face.omitted.lock().map(|o| o.clone()).unwrap_or_default();
    let reply = match face.backend.call(&omitted, method, &params) {
        Ok(result) => json!({"id": id, "error": null, "result": result}),
        Err(fault) => json!({"id": id, "error": fault.to_json(), "result": null}),
    };
    json_reply(reply)
}

fn json_reply(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}
