//! The HTTP serving every gamops server shares: slow and idle clients are cut off, and the
//! number of connections is bounded, so they cannot starve legitimate requests.

use std::time::Duration;

use gamops::http_server::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

async fn server(limits: Limits) -> (std::net::SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let stop = CancellationToken::new();
    tokio::spawn(serve(listener, router, limits, stop.clone()));
    (addr, stop)
}

async fn get(addr: std::net::SocketAddr) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// Issue 16, item 5: 300 slow clients held the webhook server's connections (no header-read
/// or idle timeout, no cap) until legitimate deliveries timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_cannot_starve_a_delivery() {
    let limits = Limits {
        max_connections: 4,
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, stop) = server(limits).await;
    // Twenty clients that send half a request line and then nothing.
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HT").await.unwrap();
        slow.push(s);
    }
    let answer = tokio::time::timeout(Duration::from_secs(10), get(addr))
        .await
        .expect("a legitimate request is answered while slow clients wait");
    assert!(answer.ends_with("ok"), "{answer}");
    // Each slow client was disconnected by the server, not left open.
    for mut s in slow {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a slow client was never disconnected");
    }
    stop.cancel();
}

/// An idle keep-alive connection is closed after the header timeout too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let limits = Limits {
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, stop) = server(limits).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the idle connection stayed open");
    assert!(String::from_utf8_lossy(&buf).ends_with("ok"));
    stop.cancel();
}
