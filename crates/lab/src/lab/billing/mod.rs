//! Fake Sonar and Splynx servers that follow the real wire formats (see
//! `reference/billing-apis.md`): auth modes, paging, string-typed fields, error envelopes, the
//! rate limit, slow responses, and webhook senders that sign like the real systems.
//!
//! Each fake binds 127.0.0.1:0, is seeded with generated customers, and lets tests edit
//! customers and inject faults while it runs. Dropping the handle stops the server.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub mod beside;
pub mod fleet;
pub mod sonar;
pub mod splynx;

pub use sonar::{SonarFake, SonarFakeConfig};
pub use splynx::{SplynxFake, SplynxFakeConfig, WebhookEncoding};

/// A customer as both fakes hold it; each renders it in its own wire format.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeCustomer {
    pub id: u64,
    pub name: String,
    /// Sonar: the status name (`Active`, `Inactive`, `Lead`, or any the test adds);
    /// Splynx: `new`, `active`, `blocked` or `disabled`.
    pub status: String,
    /// Sonar's `is_delinquent`.
    pub delinquent: bool,
    /// The data service's id (Splynx: changes on a plan change).
    pub service_id: u64,
    pub service_active: bool,
    pub down_kbps: u64,
    pub up_kbps: u64,
    /// The endpoint MAC as billing writes it, if any.
    pub mac: Option<String>,
    /// Custom fields / additional attributes (`gam`, `gam_port`, `vlan`, ...), as text.
    pub fields: BTreeMap<String, String>,
}

/// `n` customers on devices `lab-gam-<k>` (12 ports each), with distinct VLANs and MACs; every
/// tenth is suspended (Sonar: delinquent; Splynx: blocked) and every 25th is inactive.
pub fn generate(n: u64, splynx: bool) -> Vec<FakeCustomer> {
    let rates = [
        (100_000, 100_000),
        (250_000, 250_000),
        (500_000, 500_000),
        (1_000_000, 1_000_000),
    ];
    (1..=n)
        .map(|id| {
            let i = id - 1;
            let (down, up) = rates[(i % 4) as usize];
            let inactive = id % 25 == 0;
            let suspended = !inactive && id % 10 == 0;
            let status = match (splynx, inactive, suspended) {
                (true, true, _) => "disabled",
                (true, false, true) => "blocked",
                (true, false, false) => "active",
                (false, true, _) => "Inactive",
                (false, false, _) => "Active",
            };
            let mut fields = BTreeMap::new();
            fields.insert("gam".into(), format!("lab-gam-{}", i / 12 + 1));
            fields.insert("gam_port".into(), (i % 12 + 1).to_string());
            fields.insert("vlan".into(), (100 + i % 3700).to_string());
            let b = id.to_be_bytes();
            FakeCustomer {
                id,
                name: format!("Unit {id}"),
                status: status.into(),
                delinquent: !splynx && suspended,
                service_id: 100_000 + id,
                service_active: true,
                down_kbps: down,
                up_kbps: up,
                mac: Some(format!("00:0e:d8:{:02x}:{:02x}:{:02x}", b[5], b[6], b[7])),
                fields,
            }
        })
        .collect()
}

/// Faults a test can switch on at run time.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Every response waits this long first.
    pub delay: Duration,
    /// The next this many requests answer with `fail_status` (a 5xx by default).
    pub fail_next: u32,
    pub fail_status: u16,
}

/// Locks a mutex, recovering from poisoning (a panicked test must not hang the others).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves `router` on `addr` (port 0: a free one) until `shutdown` is cancelled.
pub(crate) async fn serve(
    router: axum::Router,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(crate::http_server::serve(
        listener,
        router,
        crate::http_server::Limits::default(),
        shutdown,
    ));
    Ok(addr)
}

/// 127.0.0.1 with a free port.
pub(crate) fn any_loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// PHP's `http_build_query` for a JSON value: `data[attributes][id]=5`.
pub fn php_http_build_query(v: &serde_json::Value) -> String {
    fn walk(
        prefix: &str,
        v: &serde_json::Value,
        out: &mut form_urlencoded::Serializer<'_, String>,
    ) {
        use serde_json::Value;
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}[{k}]")
                    };
                    walk(&key, v, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), v, out);
                }
            }
            // PHP drops nulls.
            Value::Null => {}
            Value::Bool(b) => {
                out.append_pair(prefix, if *b { "1" } else { "0" });
            }
            Value::Number(n) => {
                out.append_pair(prefix, &n.to_string());
            }
            Value::String(s) => {
                out.append_pair(prefix, s);
            }
        }
    }
    let mut ser = form_urlencoded::Serializer::new(String::new());
    walk("", v, &mut ser);
    ser.finish()
}
