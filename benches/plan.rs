//! Benchmark: plan a fleet of lab devices (read every device over SNMP, diff, build the plan),
//! and read one device against net-snmp's `snmpbulkwalk` of the same tables. Prints its
//! figures; it is not a timed test.
//!
//! ```sh
//! cargo bench --bench plan                 # 50 x 384 with 5 ms latency, 1000 x 100, one device vs snmpbulkwalk
//! cargo bench --bench plan -- quick        # 10 x 100 and 100 x 20, for a smoke run
//! ```

mod common;

use std::time::Instant;

use common::{free_ports, peak_mb, snmp_target};
use gamops::device::live::Observation;
use gamops::device::snmp::{SnmpTarget, observe, observe_all};
use gamops::inventory::Inventory;
use gamops::lab::control::FaultSettings;
use gamops::lab::fleetgen::{FleetSpec, write_fleet};
use gamops::lab::prepare::from_inventory;
use gamops::lab::runtime::{Lab, LabOptions};
use gamops::lab::seed::Seed;
use gamops::plan::{Plan, PlanOptions};

async fn fleet(devices: usize, subscribers: usize, latency_ms: u64, base_port: u16) {
    let dir = tempfile::tempdir().expect("temp dir");
    write_fleet(
        &FleetSpec {
            devices,
            subscribers_per_device: subscribers,
            base_port,
        },
        dir.path(),
    )
    .expect("fleet");
    let inv = Inventory::load_dir(dir.path()).expect("inventory");
    let t = Instant::now();
    let prepared =
        from_inventory(&free_ports(&inv.desired), Seed::Converged).expect("converged lab");
    let lab = Lab::start(prepared.devices, LabOptions::default())
        .await
        .expect("lab");
    if latency_ms > 0 {
        let faults = FaultSettings {
            snmp_latency_ms: Some(latency_ms),
            ..FaultSettings::default()
        };
        for d in lab.devices() {
            let _ = d.apply_faults(&faults);
        }
    }
    let setup = t.elapsed();
    let targets: Vec<(String, SnmpTarget)> = lab
        .devices()
        .iter()
        .map(|d| (d.name().to_string(), snmp_target(d.snmp_addr())))
        .collect();
    let t = Instant::now();
    let observations = observe_all(targets, 32, |_, _, _: &String| {}).await;
    let read = t.elapsed();
    let plan = Plan::build(&inv.desired, &observations, None, PlanOptions::default());
    let total = t.elapsed();
    let unknown = observations
        .iter()
        .filter(|(_, o)| matches!(o, Observation::Unknown { .. }))
        .count();
    println!(
        "plan {devices} devices x {subscribers} subscribers, {latency_ms} ms latency: read {:.2} s, total {:.2} s, {} changes, {unknown} unknown, peak RSS {} MB (lab setup {:.1} s, in the same process)",
        read.as_secs_f64(),
        total.as_secs_f64(),
        plan.summary.changes(),
        peak_mb().unwrap_or(0),
        setup.as_secs_f64()
    );

    // The same plan as a user runs it: `gamops plan` in its own process (so its memory is its
    // own, not the lab's), pointed at the lab's ports.
    for dev in lab.devices() {
        let path = dir
            .path()
            .join("devices")
            .join(format!("{}.yaml", dev.name()));
        let original = std::fs::read_to_string(&path).expect("device file");
        let port_line = original
            .lines()
            .skip_while(|l| *l != "snmp:")
            .nth(1)
            .expect("snmp port")
            .to_string();
        let text = original.replacen(
            &port_line,
            &format!("  port: {}", dev.snmp_addr().port()),
            1,
        );
        std::fs::write(&path, text).expect("device file");
    }
    let binary = env!("CARGO_BIN_EXE_gamops");
    let out = tokio::process::Command::new("/usr/bin/time")
        .args([
            "-f",
            "%e %M",
            binary,
            "plan",
            "--detailed-exitcode",
            "--format",
            "json",
            "--inventory",
        ])
        .arg(dir.path())
        .env("GAMOPS_SNMP_COMMUNITY", "public")
        .output()
        .await
        .expect("/usr/bin/time (apt-get install time)");
    let time = String::from_utf8_lossy(&out.stderr);
    let mut last = time.lines().last().unwrap_or("").split_whitespace();
    let secs = last.next().unwrap_or("?");
    let kb: u64 = last.next().and_then(|k| k.parse().ok()).unwrap_or(0);
    println!(
        "  `gamops plan` as its own process: {secs} s, peak RSS {} MB, exit {:?} (0 = no changes)",
        kb / 1024,
        out.status.code()
    );
    lab.shutdown().await;
}

/// One full GAM read by gamops and by snmpbulkwalk (one process per table), side by side.
async fn versus_snmpbulkwalk() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_fleet(
        &FleetSpec {
            devices: 1,
            subscribers_per_device: 384,
            base_port: 47000,
        },
        dir.path(),
    )
    .expect("fleet");
    let inv = Inventory::load_dir(dir.path()).expect("inventory");
    let prepared = from_inventory(&free_ports(&inv.desired), Seed::Converged).expect("lab");
    let lab = Lab::start(prepared.devices, LabOptions::default())
        .await
        .expect("lab");
    let addr = lab.devices()[0].snmp_addr();
    let runs = 10;
    let t = Instant::now();
    for _ in 0..runs {
        assert!(matches!(
            observe(&snmp_target(addr)).await,
            Observation::Live(_)
        ));
    }
    let ours = t.elapsed() / runs;
    let tables = [
        "1.3.6.1.2.1.1",
        "1.3.6.1.4.1.20095.2001.143.1.2.10",
        "1.3.6.1.4.1.20095.2001.143.1.2.20",
        "1.3.6.1.4.1.20095.2001.143.1.2.30",
        "1.3.6.1.4.1.20095.2001.143.1.2.40",
        "1.3.6.1.4.1.20095.2001.143.1.3.30.10",
    ];
    let t = Instant::now();
    for _ in 0..runs {
        for table in tables {
            let out = tokio::process::Command::new("snmpbulkwalk")
                .args([
                    "-v2c",
                    "-c",
                    "public",
                    "-Cr25",
                    "-On",
                    "-m",
                    "",
                    &addr.to_string(),
                    table,
                ])
                .output()
                .await
                .expect("snmpbulkwalk (apt-get install snmp)");
            assert!(out.status.success());
        }
    }
    let theirs = t.elapsed() / runs;
    println!(
        "read one GAM-24-C with 384 subscribers: gamops {:.1} ms, snmpbulkwalk {:.1} ms (6 tables, one process each); ratio {:.2}",
        ours.as_secs_f64() * 1000.0,
        theirs.as_secs_f64() * 1000.0,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    lab.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    if quick {
        fleet(10, 100, 5, 41000).await;
        fleet(100, 20, 0, 42000).await;
    } else {
        versus_snmpbulkwalk().await;
        fleet(50, 384, 5, 41000).await;
        fleet(1000, 100, 0, 43000).await;
    }
}
