//! Benchmark: the status read of one GAM with 384 endpoints against net-snmp's `snmpbulkwalk`
//! of the same tables, side by side in one run, on loopback and with 5 ms of latency added to
//! every SNMP answer. Prints its figures (median and range of several runs); it is not a timed
//! test.
//!
//! ```sh
//! cargo bench --bench status              # 9 runs each
//! cargo bench --bench status -- quick     # 3 runs, loopback only
//! ```

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{median, ms, range, snmp_target};
use gamops::device::snmp::read_status_with_stats;
use gamops::device::status::StatusObservation;
use gamops::inventory::Inventory;
use gamops::lab::control::FaultSettings;
use gamops::lab::fleetgen::{FleetSpec, write_fleet};
use gamops::lab::prepare::from_inventory;
use gamops::lab::runtime::{Lab, LabOptions};
use gamops::lab::seed::Seed;

/// The tables the status read reads, whole, as `snmpbulkwalk` walks them (one process each).
/// ifXTable is walked whole although gamops GETs only the uplinks' rows.
const TABLES: [&str; 9] = [
    "1.3.6.1.2.1.1",
    "1.3.6.1.4.1.20095.2001.143.1.3.10.10",
    "1.3.6.1.4.1.20095.2001.143.1.3.10.20",
    "1.3.6.1.4.1.20095.2001.143.1.3.20.10",
    "1.3.6.1.4.1.20095.2001.143.1.3.20.20",
    "1.3.6.1.4.1.20095.2001.143.1.3.30.10",
    "1.3.6.1.4.1.20095.2001.24.1.3.7",
    "1.3.6.1.4.1.20095.2001.145.1.3.1",
    "1.3.6.1.2.1.31.1.1",
];

async fn snmpbulkwalk(addr: SocketAddr) -> usize {
    let mut lines = 0;
    for table in TABLES {
        let out = tokio::process::Command::new("snmpbulkwalk")
            .args(["-v2c", "-c", "public", "-Cr25", "-On", "-m", ""])
            .args(["-t", "5", &addr.to_string(), table])
            .output()
            .await
            .expect("snmpbulkwalk (apt-get install snmp)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines += out.stdout.iter().filter(|b| **b == b'\n').count();
    }
    lines
}

async fn side_by_side(lab: &Lab, latency_ms: u64, runs: usize) {
    let device = &lab.devices()[0];
    device
        .apply_faults(&FaultSettings {
            snmp_latency_ms: Some(latency_ms),
            ..FaultSettings::default()
        })
        .expect("latency");
    let addr = device.snmp_addr();
    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut endpoints = 0;
    let mut stats = None;
    let mut walked = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (observation, s) = read_status_with_stats(&snmp_target(addr)).await;
        let a = ms(t.elapsed());
        match observation {
            StatusObservation::Live(status) => endpoints = status.endpoints.len(),
            StatusObservation::Unknown { reason } => panic!("status read failed: {reason}"),
        }
        stats = Some(s);
        let t = Instant::now();
        walked = snmpbulkwalk(addr).await;
        let b = ms(t.elapsed());
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
    }
    let ((ol, oh), (tl, th), (rl, rh)) = (range(&ours), range(&theirs), range(&ratios));
    println!(
        "status read of one GAM-24-C, {endpoints} endpoints, {latency_ms} ms latency, {runs} runs: \
         gamops median {:.1} ms ({ol:.1}-{oh:.1}), snmpbulkwalk median {:.1} ms ({tl:.1}-{th:.1}, \
         {} tables, {walked} lines); ratio median {:.2} ({rl:.2}-{rh:.2})",
        median(ours.clone()),
        median(theirs.clone()),
        TABLES.len(),
        median(ratios.clone()),
    );
    if let Some(s) = stats {
        println!(
            "  gamops: {} GETBULK + {} GET requests, {} bindings per read",
            s.get_bulks, s.gets, s.varbinds
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let dir = tempfile::tempdir().expect("temp dir");
    write_fleet(
        &FleetSpec {
            devices: 1,
            subscribers_per_device: 384,
            base_port: 48000,
        },
        dir.path(),
    )
    .expect("fleet");
    let mut desired = Inventory::load_dir(dir.path()).expect("inventory").desired;
    for dev in &mut desired.devices {
        for port in [
            dev.value.snmp.as_mut().map(|s| &mut s.port),
            dev.value.ssh.as_mut().map(|s| &mut s.port),
        ]
        .into_iter()
        .flatten()
        {
            *port = Some(gamops::model::Located::bare(0));
        }
    }
    let prepared = from_inventory(&desired, Seed::Converged).expect("converged lab");
    let lab = Lab::start(prepared.devices, LabOptions::default())
        .await
        .expect("lab");
    if quick {
        side_by_side(&lab, 0, 3).await;
    } else {
        side_by_side(&lab, 0, 9).await;
        side_by_side(&lab, 5, 9).await;
    }
    lab.shutdown().await;
}
