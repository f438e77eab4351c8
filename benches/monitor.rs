//! Benchmark: the controller's monitoring cycle (the status poll of a whole lab fleet, joined
//! with the inventory, the state transitions and the alert rules) and the time to render
//! `/metrics` for 20,000 endpoints. Prints median and range of several runs; it is not a timed
//! test.
//!
//! - a cycle of 50 GAMs x 384 endpoints with 5 ms of latency added to every SNMP answer (goal:
//!   under 3 s);
//! - a cycle of 1,000 GAMs x 100 endpoints, 5 ms latency (goal: under 30 s);
//! - `/metrics` with 20,000 endpoints (50 devices x 400, every series): OpenMetrics and the
//!   Prometheus text format, and their sizes (goal: under 250 ms); and with
//!   `endpoint_metrics: false`.
//!
//! ```sh
//! cargo bench --bench monitor              # 5 runs each
//! cargo bench --bench monitor -- quick     # 2 runs, 10 x 384 and 100 x 100
//! ```

mod common;

use std::time::Instant;

use common::{median, range};
use gamops::controller::metrics::Metrics;
use gamops::controller::monitoring::metrics::{MonitorCollector, prometheus_text};
use gamops::controller::monitoring::{self, Monitor, Snapshot};
use gamops::device::status::Uptime;
use gamops::inventory::Inventory;
use gamops::lab::control::FaultSettings;
use gamops::lab::runtime::LabOptions;
use gamops::lab::seed::Seed;
use gamops::lab::testbed::{Testbed, TestbedSpec};
use gamops::model::{Credential, Located, SubscriberStatus};
use gamops::monitor::alerts::{Config, Engine};
use gamops::monitor::status::{DeviceReport, EndpointReport, EndpointState, FleetStatus};
use gamops::store::Timestamp;

/// Cycles of a lab fleet of `devices` x `endpoints`, `latency_ms` on every SNMP answer.
async fn cycle(devices: usize, endpoints: usize, latency_ms: u64, runs: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bed = Testbed::start(
        &TestbedSpec {
            devices,
            subscribers_per_device: endpoints,
            seed: Seed::Converged,
            snmp_timeout_ms: 5000,
            snmp_retries: 1,
            options: LabOptions::default(),
            ..TestbedSpec::default()
        },
        &dir.path().join("inventory"),
    )
    .await
    .expect("lab");
    for d in bed.lab.devices() {
        d.apply_faults(&FaultSettings {
            snmp_latency_ms: Some(latency_ms),
            ..FaultSettings::default()
        })
        .expect("latency");
    }
    // The generated inventory reads its community from the environment; a file says it here.
    let community = dir.path().join("community");
    std::fs::write(&community, "public").expect("community file");
    let mut desired = Inventory::load_dir(&bed.dir).expect("inventory").desired;
    if let Some(snmp) = desired
        .fleet
        .as_mut()
        .and_then(|f| f.value.defaults.snmp.as_mut())
    {
        snmp.community = Some(Located::bare(Credential::File(
            community.display().to_string(),
        )));
    }
    let concurrency = gamops::device::snmp::DEFAULT_CONCURRENCY;
    let mut engine = Engine::new(Config::default());
    let mut previous = Snapshot::default();
    let mut times = Vec::new();
    let (mut read, mut unreachable, mut ok) = (0, 0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        let (snap, _changes) = monitoring::poll(&desired, concurrency, &previous, true).await;
        let _ = monitoring::evaluate(
            &mut engine,
            &desired,
            &snap.report,
            &[],
            &[],
            Timestamp::now().as_millis(),
        );
        times.push(t.elapsed().as_secs_f64());
        read = snap.report.devices.len();
        unreachable = snap.report.devices.iter().filter(|d| !d.reachable).count();
        ok = snap
            .report
            .devices
            .iter()
            .flat_map(|d| &d.endpoints)
            .filter(|e| e.state == EndpointState::Ok)
            .count();
        previous = snap;
    }
    let (lo, hi) = range(&times);
    println!(
        "monitoring cycle, {devices} GAMs x {endpoints} endpoints, {latency_ms} ms latency, \
         {concurrency} at once, {runs} runs: median {:.2} s ({lo:.2}-{hi:.2}); {read} devices \
         read, {unreachable} unreachable, {ok} endpoints ok",
        median(times.clone())
    );
    if let Some(d) = previous.report.devices.iter().find(|d| !d.reachable) {
        println!(
            "  e.g. {}: {}",
            d.device,
            d.reason.clone().unwrap_or_default()
        );
    }
    bed.lab.shutdown().await;
}

/// A synthetic poll of `devices` x `per` endpoints, every value present.
fn synthetic(devices: usize, per: usize, endpoint_metrics: bool) -> Snapshot {
    let report = FleetStatus {
        format_version: 1,
        devices: (0..devices)
            .map(|d| DeviceReport {
                device: format!("gam-{d:04}"),
                reachable: true,
                reason: None,
                model: Some("GAM-24-C".into()),
                firmware: Some("1.5.4".into()),
                uptime_s: Some(86_400),
                temperature_c: Some(45.5),
                alarms: Vec::new(),
                problems: Vec::new(),
                endpoints: (0..per)
                    .map(|i| {
                        let n = d * per + i;
                        EndpointReport {
                            subscriber: Some(format!("sub-{n:06}")),
                            name: None,
                            subscriber_status: Some(SubscriberStatus::Active),
                            mac: Some(
                                format!(
                                    "00:0e:d8:{:02x}:{:02x}:{:02x}",
                                    n >> 16,
                                    (n >> 8) & 255,
                                    n & 255
                                )
                                .parse()
                                .expect("mac"),
                            ),
                            state: EndpointState::Ok,
                            port: Some(u8::try_from(i % 24 + 1).unwrap_or(1)),
                            plan: Some("residential-500".into()),
                            plan_down_mbps: Some(500),
                            plan_up_mbps: Some(100),
                            phy_down_mbps: Some(1700),
                            phy_up_mbps: Some(1650),
                            usable_down_mbps: Some(1200),
                            usable_up_mbps: Some(1150),
                            wire_length_m: Some(80),
                            model: Some("G1001-C".into()),
                            firmware: Some("1.5.4".into()),
                            firmware_mismatch: false,
                            uptime: Some(Uptime::parse("4 days, 23h 13m 1s")),
                            problems: Vec::new(),
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    let usage = report
        .devices
        .iter()
        .map(|d| {
            (
                d.device.clone(),
                d.endpoints
                    .iter()
                    .filter_map(|e| e.mac.map(|m| (m.to_string(), (120, 12))))
                    .collect(),
            )
        })
        .collect();
    Snapshot {
        at: Some(Timestamp::now()),
        seconds: 1.0,
        endpoint_metrics,
        report,
        usage,
        plans: vec![("residential-500".into(), 500, 100)],
        ..Snapshot::default()
    }
}

fn render(endpoint_metrics: bool, runs: usize) {
    let monitor = std::sync::Arc::new(Monitor::default());
    monitor.set_latest(synthetic(50, 400, endpoint_metrics));
    let metrics = Metrics::new().with_collector(Box::new(MonitorCollector(monitor)));
    let (mut om, mut text) = (Vec::new(), Vec::new());
    let (mut om_size, mut text_size, mut lines) = (0, 0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        let out = metrics.render();
        om.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let plain = prometheus_text(&out);
        text.push(t.elapsed().as_secs_f64() * 1000.0 + om.last().copied().unwrap_or(0.0));
        om_size = out.len();
        text_size = plain.len();
        lines = out.lines().filter(|l| !l.starts_with('#')).count();
    }
    let ((ol, oh), (tl, th)) = (range(&om), range(&text));
    println!(
        "/metrics, 50 devices x 400 endpoints, endpoint_metrics: {endpoint_metrics}, {runs} runs: \
         OpenMetrics median {:.0} ms ({ol:.0}-{oh:.0}), {:.1} MB; Prometheus text median {:.0} ms \
         ({tl:.0}-{th:.0}), {:.1} MB; {lines} series",
        median(om.clone()),
        om_size as f64 / 1e6,
        median(text.clone()),
        text_size as f64 / 1e6,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let runs = if quick { 2 } else { 5 };
    render(true, runs);
    render(false, runs);
    if quick {
        cycle(10, 384, 5, runs).await;
        cycle(100, 100, 5, runs).await;
    } else {
        cycle(50, 384, 5, runs).await;
        cycle(1000, 100, 5, runs).await;
    }
}
