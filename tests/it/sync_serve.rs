//! The webhook receivers over real HTTP: Splynx signatures (valid, invalid, missing, replayed;
//! JSON and form bodies; ping), Sonar's token and HEAD, de-duplication that survives a restart
//! (store-backed), and the debounce that turns a burst into one sync. The sync is a recording
//! trigger here, so the receivers are tested on their own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use gamops::billing::Secret;
use gamops::billing::debounce::{
    self, DebounceConfig, Source, SyncBatch, SyncDone, SyncFailure, SyncScope, SyncTrigger,
};
use gamops::billing::serve::{Dedupe, Webhooks};
use gamops::billing::webhook::{SPLYNX_SIGNATURE_HEADER, splynx_signature};
use gamops::lab::billing::{sonar, splynx};
use gamops::store::{Store, StoreLocation};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub(crate) const SECRET: &str = "hook-secret";
const TOKEN: &str = "0123456789abcdef";

/// Records every batch it is asked to sync.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<SyncBatch>>,
}

impl Recorder {
    fn batches(&self) -> Vec<SyncBatch> {
        self.batches.lock().unwrap().clone()
    }

    /// Waits until `n` batches were synced (or 10 s), then `settle` longer for any extra.
    async fn wait_for(&self, n: usize, settle: Duration) -> Vec<SyncBatch> {
        let end = Instant::now() + Duration::from_secs(10);
        while self.batches.lock().unwrap().len() < n && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(settle).await;
        self.batches()
    }
}

impl SyncTrigger for Recorder {
    fn sync<'a>(&'a self, batch: &'a SyncBatch) -> BoxFuture<'a, Result<SyncDone, SyncFailure>> {
        Box::pin(async move {
            self.batches.lock().unwrap().push(batch.clone());
            Ok(SyncDone {
                commit: None,
                summary: "recorded".into(),
            })
        })
    }
}

/// A running receiver for both systems on 127.0.0.1.
struct Receiver {
    base: String,
    splynx: Arc<Recorder>,
    sonar: Arc<Recorder>,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    async fn start(dedupe: Dedupe, quiet: Duration) -> Receiver {
        let stop = CancellationToken::new();
        let config = DebounceConfig {
            quiet,
            ..DebounceConfig::default()
        };
        let splynx = Arc::new(Recorder::default());
        let sonar = Arc::new(Recorder::default());
        let (splynx_q, t1) = debounce::start(
            Source::Splynx,
            splynx.clone(),
            config.clone(),
            None,
            stop.clone(),
        );
        let (sonar_q, t2) =
            debounce::start(Source::Sonar, sonar.clone(), config, None, stop.clone());
        let router = Webhooks::new(dedupe)
            .splynx(Secret::new(SECRET), splynx_q)
            .sonar(Secret::new(TOKEN), sonar_q)
            .router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let token = stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .unwrap();
        });
        Receiver {
            base,
            splynx,
            sonar,
            stop,
            tasks: vec![t1, t2, server],
        }
    }

    fn splynx_url(&self) -> String {
        format!("{}/webhooks/splynx", self.base)
    }

    fn sonar_url(&self, token: &str) -> String {
        format!("{}/webhooks/sonar/{token}", self.base)
    }

    async fn stop(self) {
        self.stop.cancel();
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

fn customers(batch: &SyncBatch) -> Vec<String> {
    match &batch.scope {
        SyncScope::All => vec!["*".into()],
        SyncScope::Customers(set) => set.iter().cloned().collect(),
    }
}

/// A Splynx customer event, made unique by `n` (a retried delivery is byte-identical).
pub(crate) fn splynx_event(customer: u64, n: usize) -> serde_json::Value {
    let mut e = splynx::customer_event(customer, "edit", "active");
    e["data"]["time"] = json!(format!("14:{:02}:{:02}", n / 60 % 60, n % 60));
    e["data"]["extra"] = json!(n.to_string());
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splynx_signatures_valid_invalid_missing_and_replayed() {
    let rx = Receiver::start(Dedupe::memory(1000), Duration::from_millis(100)).await;
    let url = rx.splynx_url();

    let (status, _) = splynx::send_ping(&url, Some(SECRET)).await.unwrap();
    assert_eq!(status, 200, "ping");

    // Valid, JSON and form-encoded.
    let (status, json_body) = splynx::send_webhook(
        &url,
        Some(SECRET),
        &splynx_event(5, 0),
        splynx::WebhookEncoding::Json,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let (status, _) = splynx::send_webhook(
        &url,
        Some(SECRET),
        &splynx_event(6, 1),
        splynx::WebhookEncoding::Form,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);

    // Signed with another secret, and unsigned.
    let other = splynx_event(7, 2);
    let (status, _) =
        splynx::send_webhook(&url, Some("not-it"), &other, splynx::WebhookEncoding::Json)
            .await
            .unwrap();
    assert_eq!(status, 403, "a wrong signature is refused");
    let (status, _) = splynx::send_webhook(&url, None, &other, splynx::WebhookEncoding::Form)
        .await
        .unwrap();
    assert_eq!(status, 401, "a missing signature is refused");
    // A valid signature of another body.
    let client = reqwest::Client::new();
    let resp = client
        .post(&url)
        .header("content-type", "application/json")
        .header(
            SPLYNX_SIGNATURE_HEADER,
            splynx_signature(SECRET.as_bytes(), &json_body),
        )
        .body(serde_json::to_vec(&other).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Signed garbage: verified, then refused as unreadable.
    let (status, _) = splynx::send_raw(&url, Some(SECRET), b"{not json", "application/json")
        .await
        .unwrap();
    assert_eq!(status, 400);

    // Replayed: answered 200, not processed again.
    let (status, _) = splynx::send_raw(&url, Some(SECRET), &json_body, "application/json")
        .await
        .unwrap();
    assert_eq!(status, 200, "a replay is answered");

    let batches = rx.splynx.wait_for(1, Duration::from_millis(400)).await;
    assert_eq!(batches.len(), 1, "{batches:#?}");
    assert_eq!(customers(&batches[0]), ["5", "6"]);
    assert_eq!(batches[0].events.len(), 2, "the replay was not processed");
    assert_eq!(batches[0].events[0].kind, "Customer edit");
    assert!(rx.sonar.batches().is_empty());
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonar_head_token_and_refetch_scope() {
    let rx = Receiver::start(Dedupe::memory(1000), Duration::from_millis(100)).await;
    let client = reqwest::Client::new();

    let head = client.head(rx.sonar_url(TOKEN)).send().await.unwrap();
    assert_eq!(head.status(), 200, "HEAD answers 200");
    let head = client.head(rx.sonar_url("wrong")).send().await.unwrap();
    assert_eq!(head.status(), 403);
    let no_token = client
        .post(format!("{}/webhooks/sonar", rx.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 404);

    // The fake's sender: HEAD, then POST.
    assert_eq!(
        sonar::send_webhook(&rx.sonar_url(TOKEN), "account.status", 42)
            .await
            .unwrap(),
        200
    );
    assert_eq!(
        sonar::send_webhook(&rx.sonar_url("wrong"), "account.status", 43)
            .await
            .unwrap(),
        403
    );
    let post = client
        .post(rx.sonar_url("wrong"))
        .json(&json!({"event": "account.status", "object_id": 44, "current": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403, "a wrong token is refused");

    // An event on an account's service names the account in `current`.
    let post = client
        .post(rx.sonar_url(TOKEN))
        .json(&json!({"event": "account.service.add", "object_id": 9001, "current": {"account_id": 45, "id": 9001}}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);

    let batches = rx.sonar.wait_for(1, Duration::from_millis(400)).await;
    assert_eq!(batches.len(), 1, "{batches:#?}");
    assert_eq!(customers(&batches[0]), ["42", "45"]);

    // An event naming no account asks for a full sync.
    let post = client
        .post(rx.sonar_url(TOKEN))
        .json(&json!({"event": "service.updated", "object_id": 7, "current": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    let batches = rx.sonar.wait_for(2, Duration::from_millis(300)).await;
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[1].scope, SyncScope::All);
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_500_events_for_one_customer_is_one_sync() {
    let rx = Receiver::start(Dedupe::memory(10_000), Duration::from_millis(200)).await;
    let url = rx.splynx_url();
    let client = reqwest::Client::new();
    let started = Instant::now();
    // Ten senders at once, 50 events each.
    let senders: Vec<_> = (0..10)
        .map(|s| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                for k in 0..50 {
                    let body = serde_json::to_vec(&splynx_event(17, s * 50 + k)).unwrap();
                    let resp = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header(
                            SPLYNX_SIGNATURE_HEADER,
                            splynx_signature(SECRET.as_bytes(), &body),
                        )
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    let sent_in = started.elapsed();
    let batches = rx.splynx.wait_for(1, Duration::from_millis(600)).await;
    assert_eq!(
        batches.len(),
        1,
        "500 events sent in {sent_in:?} made {} syncs",
        batches.len()
    );
    assert_eq!(customers(&batches[0]), ["17"]);
    assert_eq!(batches[0].events.len(), 500);

    // Two customers in one window: one sync for both.
    for (c, n) in [(18, 1000), (19, 1001)] {
        let (status, _) = splynx::send_webhook(
            &url,
            Some(SECRET),
            &splynx_event(c, n),
            splynx::WebhookEncoding::Json,
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
    }
    let batches = rx.splynx.wait_for(2, Duration::from_millis(600)).await;
    assert_eq!(batches.len(), 2);
    assert_eq!(customers(&batches[1]), ["18", "19"]);
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Sqlite(dir.path().join("state"));
    let body = serde_json::to_vec(&splynx_event(21, 0)).unwrap();

    let store = Store::open(&location).await.unwrap();
    let rx = Receiver::start(Dedupe::Store(store.clone()), Duration::from_millis(50)).await;
    let (status, _) = splynx::send_raw(&rx.splynx_url(), Some(SECRET), &body, "application/json")
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(rx.splynx.wait_for(1, Duration::ZERO).await.len(), 1);
    rx.stop().await;
    store.close().await;

    // A new process: the same delivery is answered but not processed; a new one is.
    let store = Store::open(&location).await.unwrap();
    let rx = Receiver::start(Dedupe::Store(store.clone()), Duration::from_millis(50)).await;
    let resp = reqwest::Client::new()
        .post(rx.splynx_url())
        .header("content-type", "application/json")
        .header(
            SPLYNX_SIGNATURE_HEADER,
            splynx_signature(SECRET.as_bytes(), &body),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("already received"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.splynx.batches().is_empty(), "the replay was processed");
    let (status, _) = splynx::send_webhook(
        &rx.splynx_url(),
        Some(SECRET),
        &splynx_event(22, 1),
        splynx::WebhookEncoding::Form,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let batches = rx.splynx.wait_for(1, Duration::from_millis(100)).await;
    assert_eq!(batches.len(), 1);
    assert_eq!(customers(&batches[0]), ["22"]);
    rx.stop().await;
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// The commands: `gamops lab up --billing`, `gamops sync serve` with the real sync.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::support::{git, root};

/// A `gamops` command running in the background, its stdout lines read as they come.
struct Background {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Background {
    fn start(args: &[&str], env: &[(&str, String)]) -> Background {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gamops"));
        cmd.args(args)
            .current_dir(root())
            .env("NO_COLOR", "1")
            .env_remove("GAMOPS_INVENTORY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line that starts with `prefix` (others are kept in `seen`), within 60 s.
    fn wait_for(&mut self, prefix: &str) -> String {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!("no line starting {prefix:?}; printed {:#?}", self.seen),
            }
        }
    }

    /// Lines printed so far (waiting `settle` for more).
    fn drain(&mut self, settle: Duration) -> Vec<String> {
        let end = Instant::now() + settle;
        while let Ok(line) = self
            .lines
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen.clone()
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> Option<i32> {
        crate::support::process::stop(&mut self.child)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A git repository holding a generated lab inventory with a `billing: splynx` section for the
/// fake on `port`.
fn lab_repo(port: u16) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory");
    let out = crate::support::gamops()
        .args([
            "lab",
            "gen",
            "--devices",
            "2",
            "--subscribers-per-device",
            "3",
        ])
        .args(["--billing", "splynx", "--billing-port", &port.to_string()])
        .arg("--out")
        .arg(&inv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    std::fs::write(dir.path().join(".gitignore"), ".gamops/\n").unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "fleet"]);
    (dir, inv)
}

fn commits(repo: &Path) -> usize {
    git(repo, &["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap()
}

/// A fake Splynx with no customers yet: it starts before the inventory exists (its port goes
/// into the billing section); [`fit_customers`] gives it customers afterwards.
pub(crate) async fn fake_splynx() -> splynx::SplynxFake {
    splynx::SplynxFake::start(splynx::SplynxFakeConfig {
        customers: 0,
        ..splynx::SplynxFakeConfig::default()
    })
    .await
    .unwrap()
}

pub(crate) fn fit_customers(fake: &splynx::SplynxFake, inv: &Path) -> Vec<u64> {
    let desired = gamops::inventory::Inventory::load_dir(inv).unwrap().desired;
    let customers = gamops::lab::billing::fleet::customers_for(&desired, 2, true).unwrap();
    let ids = customers.iter().map(|c| c.id).collect();
    fake.edit(|c| *c = customers);
    ids
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

pub(crate) fn splynx_env(fake: &splynx::SplynxFake) -> Vec<(&'static str, String)> {
    vec![
        ("GAMOPS_SPLYNX_KEY", fake.api_key()),
        ("GAMOPS_SPLYNX_SECRET", fake.api_secret()),
        ("GAMOPS_SPLYNX_WEBHOOK_SECRET", SECRET.to_string()),
    ]
}

/// `lab up --billing splynx` serves customers that fit its devices, and prints how to reach
/// them; `gamops sync splynx --commit` against it commits them as valid subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_up_billing_serves_customers_a_sync_commits() {
    let (dir, inv) = lab_repo(0);
    let mut lab = Background::start(
        &[
            // The devices `lab gen` wrote (same names and subscribers), on free ports.
            "lab",
            "up",
            "--devices",
            "2",
            "--subscribers-per-device",
            "3",
            "--base-port",
            "0",
            "--billing",
            "splynx",
            "--billing-port",
            "0",
            "--format",
            "json",
        ],
        &[],
    );
    let line = lab.wait_for("{");
    let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
    let billing = &doc["billing"];
    assert_eq!(billing["system"], "splynx");
    assert_eq!(billing["customers"], 4, "two per device: {billing}");
    let url = billing["url"].as_str().unwrap().to_string();
    let env: Vec<(&str, String)> = ["GAMOPS_SPLYNX_KEY", "GAMOPS_SPLYNX_SECRET"]
        .into_iter()
        .map(|k| (k, billing["env"][k].as_str().unwrap().to_string()))
        .collect();

    // Point the inventory at this server (lab gen wrote port 0), and sync.
    let fleet = inv.join("gamops.yaml");
    let text = std::fs::read_to_string(&fleet)
        .unwrap()
        .replace("http://127.0.0.1:0", &url);
    std::fs::write(&fleet, text).unwrap();
    git(dir.path(), &["commit", "-qam", "billing url"]);
    let before = commits(dir.path());
    let mut sync = crate::support::gamops();
    sync.args(["sync", "splynx", "--commit", "--inventory"])
        .arg(&inv);
    for (k, v) in &env {
        sync.env(k, v);
    }
    let out = sync.output().unwrap();
    assert!(out.status.success(), "{}", crate::support::stderr(&out));
    assert_eq!(commits(dir.path()), before + 1, "one commit");
    let files = git(dir.path(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        files.lines().filter(|l| l.contains("/splynx-")).count(),
        4,
        "{files}"
    );
    crate::support::gamops()
        .args(["validate", "--inventory"])
        .arg(&inv)
        .assert()
        .success();
    assert_eq!(lab.stop(), Some(0));
}

/// The real thing: `gamops sync serve splynx --commit` turns a burst of 500 events for one
/// customer into one commit, refuses a bad signature, and after a restart answers a replayed
/// delivery without processing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_serve_commits_once_per_burst_and_dedupes_across_restarts() {
    let fake = fake_splynx().await;
    let (dir, inv) = lab_repo(port_of(&fake.url()));
    let ids = fit_customers(&fake, &inv);
    let env = splynx_env(&fake);
    let args = [
        "sync",
        "serve",
        "splynx",
        "--listen",
        "127.0.0.1:0",
        "--commit",
        "--debounce",
        "200ms",
        "--inventory",
        inv.to_str().unwrap(),
    ];
    let mut serve = Background::start(&args, &env);
    let listening = serve.wait_for("listening=");
    let base = listening
        .split_whitespace()
        .next()
        .unwrap()
        .strip_prefix("listening=")
        .unwrap()
        .to_string();
    let url = format!("{base}/webhooks/splynx");
    let start = commits(dir.path());

    // 500 events for one customer, from 10 senders.
    let customer = ids[0];
    let client = reqwest::Client::new();
    let mut first_body = Vec::new();
    let mut senders = Vec::new();
    for s in 0..10 {
        let (client, url) = (client.clone(), url.clone());
        senders.push(tokio::spawn(async move {
            let mut bodies = Vec::new();
            for k in 0..50 {
                let body = serde_json::to_vec(&splynx_event(customer, s * 50 + k)).unwrap();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(
                        SPLYNX_SIGNATURE_HEADER,
                        splynx_signature(SECRET.as_bytes(), &body),
                    )
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                bodies.push(body);
            }
            bodies
        }));
    }
    for s in senders {
        let bodies = s.await.unwrap();
        if first_body.is_empty() {
            first_body = bodies[0].clone();
        }
    }
    let synced = serve.wait_for("sync ");
    assert!(synced.contains("commit"), "{synced}");
    let lines = serve.drain(Duration::from_millis(800));
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("sync ")).count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("event ")).count(),
        500
    );
    assert_eq!(commits(dir.path()), start + 1, "one commit for the burst");
    let message = git(dir.path(), &["log", "-1", "--format=%B"]);
    assert!(message.contains("Billing-Event-Id:"), "{message}");
    assert!(message.contains(&format!("splynx-{customer}")), "{message}");

    // A wrong signature: refused, logged.
    let (status, _) = splynx::send_webhook(
        &url,
        Some("wrong"),
        &splynx_event(ids[1], 9999),
        splynx::WebhookEncoding::Json,
    )
    .await
    .unwrap();
    assert_eq!(status, 403);
    serve.wait_for("refused splynx");
    assert_eq!(serve.stop(), Some(0));

    // Restarted: a replayed delivery is answered and not processed; a new one commits.
    let mut serve = Background::start(&args, &env);
    let listening = serve.wait_for("listening=");
    let base = listening
        .split_whitespace()
        .next()
        .unwrap()
        .strip_prefix("listening=")
        .unwrap();
    let url = format!("{base}/webhooks/splynx");
    let (status, _) = splynx::send_raw(&url, Some(SECRET), &first_body, "application/json")
        .await
        .unwrap();
    assert_eq!(status, 200);
    serve.wait_for("replayed splynx");
    let (status, _) = splynx::send_webhook(
        &url,
        Some(SECRET),
        &splynx_event(ids[1], 10_000),
        splynx::WebhookEncoding::Form,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let synced = serve.wait_for("sync ");
    assert!(synced.contains("commit"), "{synced}");
    assert_eq!(commits(dir.path()), start + 2);
    assert_eq!(serve.stop(), Some(0));
    git(dir.path(), &["fsck", "--no-progress"]);
}

/// Issue 16, item 4: an accepted delivery whose sync was given up (billing down, then a
/// shutdown) stayed recorded as received, so the billing system's redelivery was answered
/// "already received" and the change never synced. The given-up delivery is forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_delivery_is_processed_when_redelivered() {
    use gamops::billing::debounce::{ReceivedEvent, SyncBatch, SyncScope, SyncTrigger};
    use gamops::billing::serve::SyncRunner;
    use gamops::billing::sync::{Source, SyncOptions};
    use gamops::store::{Store, StoreLocation, Timestamp};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&StoreLocation::Sqlite(dir.path().join("state")))
        .await
        .unwrap();
    assert!(
        store
            .record_event("splynx", "e1", Timestamp::now())
            .await
            .unwrap()
    );
    let runner = SyncRunner::new(SyncOptions::new(
        dir.path().join("inventory"),
        Source::Splynx,
    ))
    .forget_abandoned_in(store.clone());
    let batch = SyncBatch {
        source: Source::Splynx,
        scope: SyncScope::Customers(["7".to_string()].into()),
        events: vec![ReceivedEvent {
            source: Source::Splynx,
            id: "e1".into(),
            kind: "Customer edit".into(),
            customer: Some("7".into()),
            at: std::time::Instant::now(),
        }],
    };
    // The sync fails (there is no inventory at all), and the debouncer gives the batch up.
    assert!(runner.sync(&batch).await.is_err());
    runner.abandoned(&batch).await;
    assert!(
        store
            .record_event("splynx", "e1", Timestamp::now())
            .await
            .unwrap(),
        "the redelivery is new again"
    );
    store.close().await;
}
