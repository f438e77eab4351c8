//! Benchmark: apply 2,000 new subscribers (with their endpoints and bandwidth profiles) across
//! 50 lab devices that answer SNMP, SSH and JSON-RPC 5 ms late: plan (read every device), then
//! apply with verification and save, at the default concurrency, through the CLI driver and
//! through the JSON-RPC driver, each on a fresh lab, several runs each; prints each run and the
//! median and spread (min to max) of the apply per driver. It is not a timed test.
//!
//! ```sh
//! cargo bench --bench apply                # 50 devices x 40 subscribers, 5 ms latency, 3 runs
//! cargo bench --bench apply -- quick       # 10 devices x 10 subscribers, for a smoke run
//! cargo bench --bench apply -- latency=0   # no injected latency
//! cargo bench --bench apply -- runs=5      # runs per driver
//! cargo bench --bench apply -- driver=jsonrpc   # one driver only (cli or jsonrpc)
//! ```
//!
//! The lab runs in the same process (and on the same cores) as the apply, so the time "waiting
//! on the network" includes the lab's own work of answering; the journal is not written (the
//! store is measured by its own tests).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_ports, snmp_target};
use gamops::apply::{
    ApplyStatus, DEFAULT_CONCURRENCY, DeviceJob, DriverTarget, NoJournal, Timing, apply_all,
};
use gamops::device::jsonrpc::JsonRpcTarget;
use gamops::device::snmp::{self, SnmpTarget, observe_all};
use gamops::device::ssh::{CliAuth, CliTarget, HostKeyPolicy};
use gamops::inventory::Inventory;
use gamops::lab::control::FaultSettings;
use gamops::lab::fleetgen::{FleetSpec, write_fleet};
use gamops::lab::prepare::from_inventory;
use gamops::lab::runtime::{Lab, LabOptions};
use gamops::lab::seed::Seed;
use gamops::model::Driver;
use gamops::plan::{Outcome, Plan, PlanOptions};
use gamops::secret::Secret;

async fn read_fleet(lab: &Lab) -> Vec<(String, gamops::device::live::Observation)> {
    let targets: Vec<(String, SnmpTarget)> = lab
        .devices()
        .iter()
        .map(|d| (d.name().to_string(), snmp_target(d.snmp_addr())))
        .collect();
    observe_all(targets, snmp::DEFAULT_CONCURRENCY, |_, _, _: &String| {}).await
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

async fn bench(devices: usize, subscribers: usize, latency_ms: u64, driver: Driver) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    write_fleet(
        &FleetSpec {
            devices,
            subscribers_per_device: subscribers,
            base_port: 45000,
        },
        dir.path(),
    )
    .expect("fleet");
    let inv = Inventory::load_dir(dir.path()).expect("inventory");
    let prepared = from_inventory(&free_ports(&inv.desired), Seed::Empty).expect("lab devices");
    let lab = Lab::start(prepared.devices, LabOptions::default())
        .await
        .expect("lab");
    let faults = FaultSettings {
        snmp_latency_ms: Some(latency_ms),
        ssh_latency_ms: Some(latency_ms),
        ..FaultSettings::default()
    };
    for d in lab.devices() {
        d.apply_faults(&faults).expect("faults");
    }

    // Plan: read every device, diff.
    let started = Instant::now();
    let observations = read_fleet(&lab).await;
    let plan = Plan::build(&inv.desired, &observations, None, PlanOptions::default());
    let planned = started.elapsed();

    // Apply: one job per device, as `gamops apply` makes them.
    let mut jobs = Vec::new();
    for d in &plan.devices {
        let Outcome::Planned {
            fingerprint,
            changes,
            ..
        } = &d.outcome
        else {
            panic!("{} was not planned: {:?}", d.device, d.outcome);
        };
        let lab_dev = lab.device(&d.device).expect("lab device");
        let model = inv.desired.device(&d.device).expect("device").model.value;
        jobs.push(DeviceJob {
            device: d.device.clone(),
            snmp: snmp_target(lab_dev.snmp_addr()),
            driver: match driver {
                Driver::Cli => DriverTarget::Cli(CliTarget {
                    addr: lab_dev.ssh_addr(),
                    username: "admin".into(),
                    auth: CliAuth::Password(Secret::new("")),
                    host_key: HostKeyPolicy::Pinned(lab_dev.host_key().fingerprint_sha256()),
                    connect_timeout: Duration::from_secs(15),
                    command_timeout: Duration::from_secs(30),
                }),
                Driver::Jsonrpc => DriverTarget::JsonRpc(JsonRpcTarget {
                    addr: lab_dev.jsonrpc_addr(),
                    tls_pin: None,
                    username: "admin".into(),
                    password: Secret::new(""),
                    connect_timeout: Duration::from_secs(15),
                    call_timeout: Duration::from_secs(45),
                }),
            },
            uplink_base: 1_000_000 + u32::from(model.ghn_ports()),
            changes: changes.clone(),
            fingerprint: Some(fingerprint.clone()),
            save_attempts: 10,
            save_pause: Duration::from_millis(500),
        });
    }
    let apply_started = Instant::now();
    let results = apply_all(
        jobs,
        DEFAULT_CONCURRENCY,
        Arc::new(NoJournal),
        &tokio_util::sync::CancellationToken::new(),
        |_, _, _| {},
    )
    .await;
    let applied = apply_started.elapsed();
    let total = started.elapsed();

    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.status != ApplyStatus::Applied)
        .map(|r| format!("{}: {:?} {}", r.device, r.status, r.message))
        .collect();
    let sum = results.iter().fold(Timing::default(), |mut acc, r| {
        acc.total += r.timing.total;
        acc.snmp += r.timing.snmp;
        acc.ssh_connect += r.timing.ssh_connect;
        acc.ssh_commands += r.timing.ssh_commands;
        acc.commands += r.timing.commands;
        acc
    });
    let share = |d: Duration| 100.0 * secs(d) / secs(sum.total).max(f64::EPSILON);

    // The fleet afterwards: a second plan finds nothing to do.
    let again = Plan::build(
        &inv.desired,
        &read_fleet(&lab).await,
        None,
        PlanOptions::default(),
    );
    let created = plan.summary.creates;
    println!(
        "apply through {} {devices} devices x {subscribers} new subscribers, {latency_ms} ms SNMP and SSH/JSON-RPC latency, concurrency {DEFAULT_CONCURRENCY}:",
        driver.as_str()
    );
    println!(
        "  total {:.2} s (plan {:.2} s, apply with verification and save {:.2} s); {created} objects created; {} of {} devices applied",
        secs(total),
        secs(planned),
        secs(applied),
        results.len() - failed.len(),
        results.len()
    );
    println!(
        "  {} commands sent, {:.0} commands/s over the apply ({:.0} per device-second)",
        sum.commands,
        f64::from(sum.commands) / secs(applied),
        f64::from(sum.commands) / secs(sum.total)
    );
    println!(
        "  device time {:.1} s, of which waiting on the network {:.0}%: commands {:.0}%, logins {:.0}%, SNMP reads {:.0}%",
        secs(sum.total),
        share(sum.network()),
        share(sum.ssh_commands),
        share(sum.ssh_connect),
        share(sum.snmp)
    );
    println!("  a second plan: {} changes", again.summary.changes());
    for f in &failed {
        println!("  NOT APPLIED {f}");
    }
    lab.shutdown().await;
    applied
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let latency_ms = args
        .iter()
        .find_map(|a| a.strip_prefix("latency=")?.parse().ok())
        .unwrap_or(5);
    let runs: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("runs=")?.parse().ok())
        .unwrap_or(3)
        .max(1);
    let only = args.iter().find_map(|a| a.strip_prefix("driver="));
    let (devices, subscribers) = if args.iter().any(|a| a == "quick") {
        (10, 10)
    } else {
        (50, 40)
    };
    let mut summary = Vec::new();
    for driver in [Driver::Cli, Driver::Jsonrpc] {
        if only.is_some_and(|o| o != driver.as_str()) {
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(bench(devices, subscribers, latency_ms, driver).await);
        }
        times.sort();
        summary.push((driver, times));
    }
    println!("apply (with verification and save), {runs} run(s) per driver:");
    for (driver, times) in summary {
        let median = times[times.len() / 2];
        println!(
            "  {:<8} median {:.2} s, spread {:.2} to {:.2} s",
            driver.as_str(),
            secs(median),
            secs(times[0]),
            secs(times[times.len() - 1])
        );
    }
}
