//! Benchmark: webhook received to commit made. A fake Splynx serves customers that fit a
//! generated lab fleet; a temporary git repository holds the inventory; the webhook receiver
//! runs in process with the real incremental sync (`--commit`). Each round changes one
//! customer in the fake (its status flips between active and blocked), sends one signed hook,
//! and times until the sync's commit is made. Prints p50, p99 and max; it is not a timed test.
//!
//! ```sh
//! cargo bench --bench webhook                    # 100 events, debounce 200 ms, 56 GAMs x 360
//! cargo bench --bench webhook -- 20 50 10 20     # 20 events, debounce 50 ms, 10 GAMs x 20
//! ```
//!
//! The default size is the issue's: about 20,000 subscribers (56 x 360, plus 10 billing
//! customers per GAM once the first full sync has added them).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{git, percentile};
use gamops::billing::debounce::{self, DebounceConfig, Source, SyncNotice};
use gamops::billing::serve::{Dedupe, SPLYNX_PATH, SyncRunner, Webhooks};
use gamops::billing::sync::SyncOptions;
use gamops::billing::{Secret, webhook::splynx_signature};
use gamops::inventory::Inventory;
use gamops::lab::billing::fleet::customers_for;
use gamops::lab::billing::splynx::customer_event;
use gamops::lab::billing::{SplynxFake, SplynxFakeConfig};
use gamops::lab::fleetgen::{FleetSpec, write_fleet};
use tokio_util::sync::CancellationToken;

const HOOK_SECRET: &str = "bench-hook-secret";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100);
    let debounce_ms: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let devices: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(56);
    let per_device: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(360);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(
        rounds,
        Duration::from_millis(debounce_ms),
        devices,
        per_device,
    ));
}

async fn run(rounds: usize, quiet: Duration, devices: usize, per_device: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path();
    let inv_dir = repo.join("inventory");
    write_fleet(
        &FleetSpec {
            devices,
            subscribers_per_device: per_device,
            base_port: 30000,
        },
        &inv_dir,
    )
    .expect("fleet");
    let desired = Inventory::load_dir(&inv_dir).expect("inventory").desired;
    let customers = customers_for(&desired, 10, true).expect("customers");
    let ids: Vec<u64> = customers.iter().map(|c| c.id).collect();

    let fake = SplynxFake::start(SplynxFakeConfig {
        customers: 0,
        ..SplynxFakeConfig::default()
    })
    .await
    .expect("fake splynx");
    fake.edit(|c| *c = customers);
    let secrets = repo.join(".secrets");
    std::fs::create_dir_all(&secrets).expect("secrets dir");
    for (name, value) in [
        ("key", fake.api_key()),
        ("secret", fake.api_secret()),
        ("hook", HOOK_SECRET.to_string()),
    ] {
        std::fs::write(secrets.join(name), value).expect("secret file");
    }
    let fleet = inv_dir.join("gamops.yaml");
    let mut text = std::fs::read_to_string(&fleet).expect("gamops.yaml");
    text.push_str(&format!(
        "billing:\n  splynx:\n    url: {}\n    auth:\n      key: file:{s}/key\n      secret: file:{s}/secret\n    webhook_secret: file:{s}/hook\n",
        fake.url(),
        s = secrets.display()
    ));
    std::fs::write(&fleet, text).expect("gamops.yaml");
    std::fs::write(repo.join(".gitignore"), ".secrets/\n.gamops/\n").expect(".gitignore");
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "fleet"]);

    // The first full sync adds the billing customers; then each event changes one.
    let mut opts = SyncOptions::new(&inv_dir, gamops::billing::sync::Source::Splynx);
    opts.commit = true;
    let started = Instant::now();
    let first = gamops::billing::sync::sync(&opts, gamops::billing::sync::Scope::All, &[])
        .await
        .expect("first full sync");
    println!(
        "{} subscribers on {devices} GAMs; full sync of {} customers: {} changes, commit {:?}, {:.0} ms",
        desired.subscribers.len() + first.changes.len(),
        first.read,
        first.changes.len(),
        first.commit,
        started.elapsed().as_secs_f64() * 1000.0
    );

    let (done_tx, mut done_rx) =
        tokio::sync::mpsc::unbounded_channel::<(Option<String>, Duration)>();
    let notify = Arc::new(move |n: SyncNotice<'_>| match n {
        SyncNotice::Done { done, took, .. } => {
            let _ = done_tx.send((done.commit.clone(), took));
        }
        SyncNotice::Failed { error, .. } => {
            eprintln!("sync failed: {error}");
            let _ = done_tx.send((None, Duration::ZERO));
        }
        SyncNotice::Started { .. } => {}
    });
    let stop = CancellationToken::new();
    let (queue, debouncer) = debounce::start(
        Source::Splynx,
        Arc::new(SyncRunner::new(opts)),
        DebounceConfig {
            quiet,
            ..DebounceConfig::default()
        },
        Some(notify),
        stop.clone(),
    );
    let store_dir = tempfile::tempdir().expect("state dir");
    let store = gamops::store::Store::open(&gamops::store::StoreLocation::Sqlite(
        store_dir.path().to_path_buf(),
    ))
    .await
    .expect("store");
    let router = Webhooks::new(Dedupe::Store(store.clone()))
        .splynx(Secret::new(HOOK_SECRET), queue)
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let url = format!(
        "http://{}{SPLYNX_PATH}",
        listener.local_addr().expect("addr")
    );
    let server_stop = stop.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(server_stop.cancelled_owned())
            .await;
    });

    let client = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(rounds);
    let mut syncs = Vec::with_capacity(rounds);
    let mut commits = 0;
    for round in 0..rounds {
        let id = ids[round % ids.len()];
        let mut status = "active";
        fake.edit(|cs| {
            if let Some(c) = cs.iter_mut().find(|c| c.id == id) {
                c.status = if c.status == "active" {
                    "blocked"
                } else {
                    "active"
                }
                .into();
                status = if c.status == "active" {
                    "active"
                } else {
                    "blocked"
                };
            }
        });
        let mut event = customer_event(id, "edit", status);
        event["data"]["extra"] = serde_json::json!(round.to_string());
        let body = serde_json::to_vec(&event).expect("json");
        let sent = Instant::now();
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .header(
                gamops::billing::webhook::SPLYNX_SIGNATURE_HEADER,
                splynx_signature(HOOK_SECRET.as_bytes(), &body),
            )
            .body(body)
            .send()
            .await
            .expect("webhook");
        assert_eq!(resp.status(), 200);
        let done = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
            .await
            .ok()
            .flatten();
        latencies.push(sent.elapsed());
        let commit = done.and_then(|(commit, took)| {
            syncs.push(took);
            commit
        });
        if commit.is_some() {
            commits += 1;
        }
    }
    stop.cancel();
    let _ = server.await;
    let _ = debouncer.await;
    store.close().await;

    latencies.sort();
    syncs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if !syncs.is_empty() {
        println!(
            "the sync alone (read billing, write, validate, commit): p50 {:.0} ms, p99 {:.0} ms",
            ms(percentile(&syncs, 0.50)),
            ms(percentile(&syncs, 0.99)),
        );
    }
    println!(
        "webhook -> commit, {rounds} single events (debounce {} ms): {commits} commits; p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        quiet.as_millis(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
    );
}
