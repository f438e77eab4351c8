//! Benchmark: `gamops controller` as its own process against lab fleets over real sockets with
//! injected SNMP and SSH latency. Prints its figures; it is not a timed test.
//!
//! - a commit changing one subscriber to that subscriber converged on its GAM (seen in the
//!   lab's state), 50 GAMs x 384 subscribers at 5 ms, 20 commits: p50, p99;
//! - a drift scan (every device read and planned) of 1,000 GAMs x 100, and the controller's
//!   peak RSS;
//! - the API with 20 concurrent clients on those 1,000 GAMs / 100,000 subscribers:
//!   `/api/v1/devices` and a subscriber search, p50 and p99.
//!
//! ```sh
//! cargo bench --bench controller             # the sizes above
//! cargo bench --bench controller -- quick    # 5 x 40 and 50 x 20, for a smoke run
//! ```
//!
//! The lab runs in this process and the controller in its own, so its memory is its own; both
//! share the machine's cores.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{git, ms, percentile};
use gamops::lab::control::FaultSettings;
use gamops::lab::runtime::Lab;
use gamops::lab::seed::Seed;
use gamops::lab::testbed::{Testbed, TestbedSpec};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_gamops");

/// A converged lab serving a generated fleet, its inventory (in a git repository) pointing at
/// it, and the controller running against both.
struct Setup {
    lab: Arc<Lab>,
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    controller: Child,
    base: String,
    token: String,
}

impl Setup {
    async fn start(devices: usize, subscribers: usize, latency_ms: u64) -> Setup {
        let tmp = tempfile::tempdir().expect("temp dir");
        let bed = Testbed::start(
            &TestbedSpec {
                devices,
                subscribers_per_device: subscribers,
                seed: Seed::Converged,
                snmp_timeout_ms: 2000,
                snmp_retries: 2,
                ..TestbedSpec::default()
            },
            &tmp.path().join("inventory"),
        )
        .await
        .expect("testbed");
        let (lab, dir) = (bed.lab, bed.dir);
        if latency_ms > 0 {
            let faults = FaultSettings {
                snmp_latency_ms: Some(latency_ms),
                ssh_latency_ms: Some(latency_ms),
                ..FaultSettings::default()
            };
            for d in lab.devices() {
                let _ = d.apply_faults(&faults);
            }
        }
        git(&dir, &["init", "-q", "-b", "main"]);
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-qm", "fleet"]);
        let out = gamops(
            &dir,
            &["token", "create", "--name", "bench", "--scope", "operate"],
        )
        .output()
        .expect("token");
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mut controller = gamops(
            &dir,
            &[
                "controller",
                "--listen",
                "127.0.0.1:0",
                "--interval",
                "1h",
                "--concurrency",
                "32",
            ],
        )
        .stdout(Stdio::piped())
        // GAMOPS_BENCH_LOG=FILE keeps the controller's log (it is dropped otherwise).
        .stderr(match std::env::var_os("GAMOPS_BENCH_LOG") {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        })
        .spawn()
        .expect("controller");
        let mut line = String::new();
        std::io::BufReader::new(controller.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("listening line");
        let base = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("listening="))
            .expect("listening=")
            .to_string();
        let setup = Setup {
            lab,
            _tmp: tmp,
            dir,
            controller,
            base,
            token,
        };
        let t = Instant::now();
        setup.wait_in_sync(devices).await;
        println!(
            "  ({devices} x {subscribers}: lab and controller up, first pass in sync after {:.1} s)",
            t.elapsed().as_secs_f64()
        );
        setup
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> Value {
        client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    async fn wait_in_sync(&self, devices: usize) {
        let client = reqwest::Client::new();
        loop {
            let s = self.get(&client, "/api/v1/status").await;
            if s["devices"]["in-sync"].as_u64() == Some(devices as u64) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn peak_mb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.controller.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb / 1024)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.controller.kill();
        let _ = self.controller.wait();
    }
}

fn gamops(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.args(args)
        .arg("--inventory")
        .arg(dir)
        .env("GAMOPS_SNMP_COMMUNITY", "public")
        .env("GAMOPS_SSH_PASSWORD", "")
        .env("NO_COLOR", "1");
    cmd
}

/// A commit that moves one subscriber to another VLAN, to that VLAN on its GAM.
async fn commit_to_converged(devices: usize, subscribers: usize, commits: usize) {
    let s = Setup::start(devices, subscribers, 5).await;
    let mut took = Vec::new();
    for i in 0..commits {
        let device = format!("gam-{:04}", i % devices);
        let sub = format!("sub-{:04}-{:03}", i % devices, i % subscribers);
        let path = s.dir.join(format!("subscribers/{device}/{sub}.yaml"));
        let text = std::fs::read_to_string(&path).expect("subscriber");
        let vlan_line = text
            .lines()
            .find(|l| l.starts_with("vlan: "))
            .expect("vlan");
        let new_vlan = 3000 + i as u16;
        std::fs::write(&path, text.replace(vlan_line, &format!("vlan: {new_vlan}")))
            .expect("write");
        git(&s.dir, &["commit", "-qam", "move one subscriber"]);
        let t = Instant::now();
        let lab_dev = s.lab.device(&device).expect("lab device").clone();
        loop {
            let done = lab_dev
                .state()
                .lock()
                .map(|st| {
                    st.running
                        .subscribers
                        .values()
                        .any(|x| x.name == sub && x.vid == new_vlan)
                })
                .unwrap_or(false);
            if done {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "{sub} never converged"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        took.push(t.elapsed());
    }
    took.sort();
    println!(
        "commit -> converged, {devices} GAMs x {subscribers}, 5 ms SNMP and SSH latency, {commits} commits: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (target p99 < 3 s); controller peak RSS {} MB",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.99)),
        ms(*took.last().unwrap_or(&Duration::ZERO)),
        s.peak_mb()
    );
}

/// Drift scans of a large fleet, then the API under 20 concurrent clients.
async fn scan_and_api(devices: usize, subscribers: usize, scans: usize, requests: usize) {
    let s = Setup::start(devices, subscribers, 0).await;
    let client = reqwest::Client::new();
    let mut took = Vec::new();
    for _ in 0..scans {
        // A pass under way when the request is sent is not the scan asked for: the one after
        // it is (passes coalesce the triggers that arrive meanwhile).
        let status = s.get(&client, "/api/v1/status").await;
        let before = status["passes"].as_u64().unwrap_or(0) + u64::from(status["passing"] == true);
        let t = Instant::now();
        let resp = client
            .post(format!("{}/api/v1/reconcile", s.base))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("reconcile");
        assert_eq!(resp.status().as_u16(), 202);
        while s.get(&client, "/api/v1/status").await["passes"]
            .as_u64()
            .unwrap_or(0)
            <= before
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        took.push(t.elapsed());
    }
    took.sort();
    println!(
        "drift scan of {devices} GAMs x {subscribers} (every device read and planned), {scans} scans: median {:.2} s, min {:.2} s, max {:.2} s (target < 30 s); controller peak RSS {} MB (target < 1 GB)",
        percentile(&took, 0.5).as_secs_f64(),
        took.first().copied().unwrap_or_default().as_secs_f64(),
        took.last().copied().unwrap_or_default().as_secs_f64(),
        s.peak_mb()
    );

    for (what, path) in [
        ("/api/v1/devices", "/api/v1/devices".to_string()),
        (
            "subscriber search",
            "/api/v1/subscribers?q=00:0e:d8:00:01:8".to_string(),
        ),
    ] {
        let mut clients = Vec::new();
        for _ in 0..20 {
            let (client, url, token) =
                (client.clone(), format!("{}{path}", s.base), s.token.clone());
            clients.push(tokio::spawn(async move {
                let timed_get = || async {
                    let t = Instant::now();
                    let resp = client
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .expect("request");
                    assert!(resp.status().is_success());
                    let _ = resp.bytes().await.expect("body");
                    t.elapsed()
                };
                // The first request of each client opens its connection (and, for the first,
                // has the token checked against the store): timed apart, as `first`.
                let first = timed_get().await;
                let mut times = Vec::with_capacity(requests);
                for _ in 0..requests {
                    times.push(timed_get().await);
                }
                (first, times)
            }));
        }
        let mut times = Vec::new();
        let mut firsts = Vec::new();
        for c in clients {
            let (first, t) = c.await.expect("client");
            firsts.push(first);
            times.extend(t);
        }
        times.sort();
        firsts.sort();
        println!(
            "API {what} on {devices} GAMs / {} subscribers, 20 clients x {requests} on open connections: p50 {:.1} ms, p99 {:.1} ms (target p99 < 50 ms); each client's first request (a new connection): max {:.1} ms",
            devices * subscribers,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(*firsts.last().unwrap_or(&Duration::ZERO))
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if quick {
            commit_to_converged(5, 40, 5).await;
            scan_and_api(50, 20, 2, 10).await;
        } else {
            commit_to_converged(50, 384, 20).await;
            scan_and_api(1000, 100, 3, 50).await;
        }
    });
}
