//! The status read and `gamops status` against the lab over real sockets: the walk's status
//! values, the same numbers as net-snmp's `snmpbulkwalk`, every link fault injected through the
//! lab's admin API showing as a problem, a reboot restarting uptimes, a GAM that answers its
//! configuration but not its status, and the reports built on the same read.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use gamops::device::live::CpeState;
use gamops::device::snmp::{Security, SnmpTarget, observe, read_status, read_status_with_stats};
use gamops::device::status::{DeviceStatus, LinkMode, StatusObservation};
use gamops::lab::runtime::{Lab, LabOptions};
use gamops::lab::seed::Seed;
use gamops::lab::testbed::{Testbed, TestbedSpec};
use gamops::monitor::status::{FleetStatus, ProblemKind};
use gamops::secret::Secret;
use serde_json::json;

const FIXTURE: &str = include_str!("../fixtures/gam12c-walk.snmprec");

fn v2c(addr: SocketAddr) -> SnmpTarget {
    SnmpTarget::new(
        addr,
        Security::V2c {
            community: Secret::new("public"),
        },
    )
}

fn live(observation: StatusObservation) -> DeviceStatus {
    match observation {
        StatusObservation::Live(s) => *s,
        StatusObservation::Unknown { reason } => panic!("expected a status, got Unknown: {reason}"),
    }
}

/// A lab serving a generated fleet, converged (every subscriber's CPE seen on its port), its
/// inventory pointing at it, and the admin API.
struct StatusLab {
    lab: Arc<Lab>,
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    admin: String,
    http: reqwest::Client,
}

impl StatusLab {
    async fn start(devices: usize, subscribers: usize) -> StatusLab {
        let tmp = tempfile::tempdir().unwrap();
        let bed = Testbed::start(
            &TestbedSpec {
                devices,
                subscribers_per_device: subscribers,
                seed: Seed::Converged,
                options: LabOptions {
                    reboot_downtime: Duration::from_millis(300),
                    ..LabOptions::default()
                },
                ..TestbedSpec::default()
            },
            &tmp.path().join("inventory"),
        )
        .await
        .unwrap();
        let admin = gamops::lab::admin::serve(
            Arc::clone(&bed.lab),
            "127.0.0.1:0".parse().unwrap(),
            bed.lab.shutdown_token(),
        )
        .await
        .unwrap();
        StatusLab {
            lab: bed.lab,
            _tmp: tmp,
            dir: bed.dir,
            admin: admin.url(),
            http: reqwest::Client::new(),
        }
    }

    fn first(&self) -> &str {
        self.lab.devices()[0].name()
    }

    /// POST `body` to the admin API's `path`, expecting `status`.
    async fn post(&self, path: &str, body: serde_json::Value, status: u16) -> serde_json::Value {
        let answer = self
            .http
            .post(format!("{}{path}", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap();
        let code = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        assert_eq!(code, status, "POST {path} {body}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn link(&self, body: serde_json::Value) {
        let path = format!("/devices/{}/link", self.first());
        self.post(&path, body, 200).await;
    }

    /// `gamops status ARGS --inventory DIR`, run to its end off the runtime's threads.
    async fn status(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gamops"));
        cmd.current_dir(crate::support::root())
            .env("NO_COLOR", "1")
            .env("GAMOPS_SNMP_COMMUNITY", "public")
            .env_remove("GAMOPS_INVENTORY")
            .arg("status")
            .args(args)
            .arg("--inventory")
            .arg(&self.dir);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    async fn report(&self) -> FleetStatus {
        let out = self.status(&["--format", "json"]).await;
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                crate::support::stdout(&out),
                crate::support::stderr(&out)
            )
        })
    }
}

/// A lab from the real walk answers the walk's status values, read by the status read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_from_the_walk_answers_the_walks_status() {
    let cfg = gamops::lab::prepare::from_walk(FIXTURE, 0, 0).unwrap();
    let lab = Lab::start(vec![cfg], LabOptions::default()).await.unwrap();
    let target = v2c(lab.devices()[0].snmp_addr());
    let (observation, stats) = read_status_with_stats(&target).await;
    let s = live(observation);
    // sysUpTime continues from the walk's 463099189 ticks.
    let walk_uptime = 4_630_991;
    assert!(
        (walk_uptime..walk_uptime + 60).contains(&s.uptime_secs()),
        "{}",
        s.uptime_secs()
    );
    assert_eq!(s.system.model().map(|m| m.name()), Some("GAM-12-C"));
    assert_eq!(s.ports.len(), 12);
    assert_eq!(s.ports[11].endpoint_macs.len(), 1);
    assert_eq!(s.ports[11].xput_indicator_mbps, 1362);
    assert_eq!(s.endpoints.len(), 1);
    let e = &s.endpoints[0];
    assert_eq!(e.id, Some(1));
    assert_eq!(e.state, CpeState::Ok);
    assert_eq!(e.detected_port, Some(12));
    assert_eq!(e.subscriber.as_deref(), Some("C#"));
    assert_eq!(e.model, "G1001-C");
    let l = e.link.as_ref().unwrap();
    assert_eq!((l.rx_phy_mbps, l.tx_phy_mbps), (1805, 1744));
    assert_eq!((l.rx_max_xput_mbps, l.tx_max_xput_mbps), (1410, 1362));
    assert_eq!(l.serial, "ASY-2103-20,R12,01124908,23284");
    assert_eq!(l.mode, LinkMode::Coax);
    let up = l.uptime.seconds.unwrap();
    assert!((429_181..429_181 + 60).contains(&up), "{}", l.uptime.text);
    let temps: Vec<f64> = s.temperatures.iter().map(|t| t.celsius).collect();
    assert_eq!(temps, [16.9, 14.8, 14.2, 12.0, 18.5]);
    assert!(s.alarms.is_empty());
    let names: Vec<&str> = s.uplinks.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["10GigabitEthernet 1/1", "10GigabitEthernet 1/2"]);
    // Seven tables in parallel walks, one GET for the system group and one for the uplinks.
    assert_eq!(stats.gets, 2, "{stats:?}");
    lab.shutdown().await;
}

/// One `snmpbulkwalk` of a table, as `column.index` → value (numbers and quoted text).
async fn bulkwalk(addr: SocketAddr, table: &str) -> BTreeMap<String, String> {
    let out = tokio::process::Command::new("snmpbulkwalk")
        .args(["-On", "-Oe", "-Oq", "-m", "", "-v2c", "-c", "public"])
        .args(["-t", "10", "-r", "2"])
        .arg(format!("udp:{addr}"))
        .arg(table)
        .kill_on_drop(true)
        .output()
        .await
        .expect("net-snmp's snmpbulkwalk is installed (apt-get install -y snmp)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entry = format!(".{table}.1.");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (oid, value) = l.split_once(' ')?;
            Some((
                oid.strip_prefix(&entry)?.to_string(),
                value.trim().to_string(),
            ))
        })
        .collect()
}

/// The status read gives the same numbers as net-snmp's `snmpbulkwalk` of the same tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_read_agrees_with_snmpbulkwalk() {
    let bed = StatusLab::start(1, 40).await;
    let addr = bed.lab.devices()[0].snmp_addr();
    let s = live(read_status(&v2c(addr)).await);
    let brief = bulkwalk(addr, "1.3.6.1.4.1.20095.2001.143.1.3.20.10").await;
    let detailed = bulkwalk(addr, "1.3.6.1.4.1.20095.2001.143.1.3.20.20").await;
    assert_eq!(s.endpoints.len(), 40);
    let mut compared = 0;
    for e in &s.endpoints {
        let id = e.id.unwrap();
        let state = match e.state {
            CpeState::NotDetected => "0",
            CpeState::Ok => "1",
            CpeState::QuarantinedWrongPort => "2",
            CpeState::QuarantinedUnknownMac => "3",
        };
        assert_eq!(brief[&format!("90.{id}")], state, "endpoint {id}");
        let port = e.detected_port.map_or(0, |p| 1_000_000 + u32::from(p));
        assert_eq!(brief[&format!("40.{id}")], port.to_string());
        let l = e
            .link
            .as_ref()
            .expect("every CPE of a converged lab is seen");
        for (column, ours) in [
            (100, l.wire_length_m),
            (110, l.rx_phy_mbps),
            (120, l.tx_phy_mbps),
            (150, l.rx_max_xput_mbps),
            (160, l.tx_max_xput_mbps),
        ] {
            assert_eq!(
                detailed[&format!("{column}.{id}")],
                ours.to_string(),
                "{column}.{id}"
            );
        }
        assert_eq!(
            detailed[&format!("60.{id}")].trim_matches('"'),
            l.uptime.text
        );
        compared += 1;
    }
    assert_eq!(compared, 40);
    bed.lab.shutdown().await;
}

/// Every link and health fault injected through the admin API shows in `gamops status` as the
/// problem it is, on the subscriber it concerns; clearing and rebooting put things back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_show_as_problems() {
    let bed = StatusLab::start(1, 12).await;
    let device = bed.first().to_string();
    let before = bed.report().await;
    let d = &before.devices[0];
    assert!(d.reachable);
    assert_eq!(d.endpoints.len(), 12);
    // Subscribers whose link is fine to begin with, and that have a plan (not unthrottled).
    let healthy: Vec<_> = d
        .endpoints
        .iter()
        .filter(|e| e.problems.is_empty() && e.plan.is_some())
        .collect();
    assert!(healthy.len() >= 6, "{:#?}", d.endpoints);
    let who = |i: usize| healthy[i].subscriber.clone().unwrap();
    let mac = |i: usize| healthy[i].mac.unwrap().to_string();
    let other_port = if healthy[1].port == Some(1) { 2 } else { 1 };

    bed.link(json!({"fault": "offline", "mac": mac(0)})).await;
    bed.link(json!({"fault": "move", "mac": mac(1), "port": other_port}))
        .await;
    bed.link(json!({"fault": "plug", "mac": "00:0e:d8:ee:ee:01", "port": 3}))
        .await;
    bed.link(json!({"fault": "phy", "mac": mac(2), "rx_mbps": 1800, "tx_mbps": 1200}))
        .await;
    bed.link(json!({"fault": "phy", "mac": mac(3), "rx_mbps": 100, "tx_mbps": 96}))
        .await;
    bed.link(json!({"fault": "firmware-mismatch", "mac": mac(4), "on": true}))
        .await;
    let health = format!("/devices/{device}/health");
    bed.post(&health, json!({"temperature_c": 85}), 200).await;
    let h = bed
        .post(
            &health,
            json!({"raise_alarm": {"condition": "fanflt", "severity": "major", "service_affecting": true}}),
            200,
        )
        .await;
    assert_eq!(h["alarms"][0]["index"], 1);
    // A CPE the device does not have, and a bad alarm, are refused.
    bed.post(
        &format!("/devices/{device}/link"),
        json!({"fault": "offline", "mac": "00:0e:d8:00:00:99"}),
        404,
    )
    .await;
    bed.post(
        &health,
        json!({"raise_alarm": {"condition": "gremlins", "severity": "major"}}),
        400,
    )
    .await;

    let after = bed.report().await;
    let d = &after.devices[0];
    let kinds = |sub: &str| -> Vec<ProblemKind> {
        d.endpoints
            .iter()
            .find(|e| e.subscriber.as_deref() == Some(sub))
            .unwrap_or_else(|| panic!("{sub} missing: {d:#?}"))
            .problems
            .iter()
            .map(|p| p.kind)
            .collect()
    };
    assert_eq!(kinds(&who(0)), [ProblemKind::Offline]);
    assert_eq!(kinds(&who(1)), [ProblemKind::Quarantined]);
    assert_eq!(kinds(&who(2)), [ProblemKind::AsymmetricPhy]);
    assert_eq!(kinds(&who(3)), [ProblemKind::BelowPlan]);
    assert_eq!(kinds(&who(4)), [ProblemKind::FirmwareMismatch]);
    assert!(kinds(&who(5)).is_empty());
    let moved = d
        .endpoints
        .iter()
        .find(|e| e.subscriber.as_deref() == Some(who(1).as_str()))
        .unwrap();
    assert_eq!(moved.port, Some(other_port));
    let unknown = d
        .endpoints
        .iter()
        .find(|e| e.mac == Some("00:0e:d8:ee:ee:01".parse().unwrap()))
        .expect("the unknown CPE is listed");
    assert_eq!(unknown.subscriber, None);
    assert_eq!(
        unknown.problems[0].message,
        "quarantined: unknown CPE 00:0e:d8:ee:ee:01 on port 3"
    );
    let device_kinds: Vec<ProblemKind> = d.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        device_kinds
            .iter()
            .filter(|k| **k == ProblemKind::Temperature)
            .count(),
        5
    );
    assert!(
        device_kinds.contains(&ProblemKind::Alarm),
        "{device_kinds:?}"
    );
    assert_eq!(d.alarms[0].condition, "fanflt");
    // Problems first.
    let first_fine = d
        .endpoints
        .iter()
        .position(|e| e.problems.is_empty())
        .unwrap();
    assert!(
        d.endpoints[first_fine..]
            .iter()
            .all(|e| e.problems.is_empty())
    );

    // The text, problems only, with the exit code a check wants.
    let out = bed.status(&["--problems", "--detailed-exitcode"]).await;
    let text = crate::support::stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("! alarm fanflt (major, service-affecting) on System"),
        "{text}"
    );
    assert!(text.contains("CPE offline (not detected)"), "{text}");
    assert!(
        text.contains("capacity below plan: the link carries 78/75 Mbps"),
        "{text}"
    );
    assert!(!text.contains(&who(5)), "{text}");
    assert!(!text.contains('\u{1b}'), "no colour off a terminal: {text}");

    // Cleared, and after a reboot every link's uptime restarts.
    bed.post(&health, json!({"clear_alarm": 1, "temperature_c": 30}), 200)
        .await;
    bed.post(
        &format!("/devices/{device}/reboot"),
        json!({"downtime_ms": 200}),
        202,
    )
    .await;
    let lab_device = Arc::clone(&bed.lab.devices()[0]);
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if lab_device.is_online() && lab_device.uptime() > Duration::from_millis(100) {
            break;
        }
    }
    let s = live(read_status(&v2c(lab_device.snmp_addr())).await);
    assert!(s.uptime_secs() < 30, "{}", s.uptime_secs());
    assert!(s.alarms.is_empty());
    for e in s.endpoints.iter().filter_map(|e| e.link.as_ref()) {
        assert!(e.uptime.seconds.unwrap() < 30, "{}", e.uptime.text);
    }
    bed.lab.shutdown().await;
}

/// A GAM that answers its configuration but not its status tables is unreachable for status
/// (a clear reason, exit 1), while its configuration still reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gam_answering_config_but_not_status_is_reported() {
    let bed = StatusLab::start(2, 2).await;
    let device = bed.first().to_string();
    bed.post(
        &format!("/devices/{device}/faults"),
        json!({"snmp_timeout_oids": ["1.3.6.1.4.1.20095.2001.143.1.3.20"]}),
        200,
    )
    .await;
    let addr = bed.lab.devices()[0].snmp_addr();
    let mut target = v2c(addr);
    target.timeout = Duration::from_millis(300);
    target.retries = 1;
    assert!(matches!(
        observe(&target).await,
        gamops::device::live::Observation::Live(_)
    ));
    let StatusObservation::Unknown { reason } = read_status(&target).await else {
        panic!("the status read should fail");
    };
    // The walk that first runs into the silent subtree names its table (a GETBULK past the end
    // of the port table already reaches the endpoint tables).
    assert!(
        reason.starts_with("timeout after 2 tries reading 1.3.6.1.4.1.20095.2001.143.1.3."),
        "{reason}"
    );

    let out = bed.status(&[]).await;
    let text = crate::support::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The unreachable device comes first; the other is still shown.
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{device}  unreachable")),
        "{text}"
    );
    assert!(text.contains(bed.lab.devices()[1].name()), "{text}");
    assert!(text.contains("status not read:"), "{text}");
    bed.lab.shutdown().await;
}

/// `gamops report`: capacity sold against measured (with an endpoint pushed below its plan),
/// firmware and plans, in CSV, JSON and HTML with inline SVG and no script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_of_a_lab_fleet() {
    let bed = StatusLab::start(2, 8).await;
    let before = bed.report().await;
    let d = &before.devices[0];
    let victim = d
        .endpoints
        .iter()
        .find(|e| e.problems.is_empty() && e.plan.is_some())
        .unwrap();
    bed.link(json!({"fault": "phy", "mac": victim.mac.unwrap().to_string(), "rx_mbps": 60, "tx_mbps": 58}))
        .await;
    bed.link(
        json!({"fault": "firmware-mismatch", "mac": victim.mac.unwrap().to_string(), "on": true}),
    )
    .await;
    let run = |args: Vec<String>| {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gamops"));
        cmd.current_dir(crate::support::root())
            .env("GAMOPS_SNMP_COMMUNITY", "public")
            .env_remove("GAMOPS_INVENTORY")
            .arg("report")
            .args(args)
            .arg("--inventory")
            .arg(&bed.dir);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();

    let out = run(args("capacity --format json")).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&out)
    );
    let cap: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let below = cap["below_plan"].as_array().unwrap();
    assert_eq!(below.len(), 1, "{cap:#}");
    assert_eq!(below[0]["subscriber"], victim.subscriber.clone().unwrap());
    assert_eq!(below[0]["usable_down_mbps"], 47);
    let totals = &cap["devices"][0]["totals"];
    assert_eq!(totals["subscribers"], 8);
    // Sold is the sum of the plans' rates of the device's subscribers.
    let sold: u64 = d
        .endpoints
        .iter()
        .filter_map(|e| e.plan_down_mbps)
        .map(u64::from)
        .sum();
    assert_eq!(totals["sold_down_mbps"], sold);

    let out = run(args("capacity --format csv")).await.unwrap();
    let csv = crate::support::stdout(&out);
    assert!(
        csv.starts_with("device,port,reachable,subscribers,sold_down_mbps,"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{},all,true,8,{sold},", d.device)),
        "{csv}"
    );

    let out = run(args("capacity --format html")).await.unwrap();
    let html = crate::support::stdout(&out);
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
        "{html}"
    );
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(html.contains(&victim.subscriber.clone().unwrap()), "{html}");

    let out = run(args("firmware --format json")).await.unwrap();
    let fw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fw["gams"][0]["count"], 2);
    let cpes: u64 = fw["cpes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(cpes, 16);
    assert_eq!(
        fw["mismatches"][0]["endpoint"],
        victim.subscriber.clone().unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plans.html");
    let out = run(vec![
        "plans".into(),
        "--format".into(),
        "html".into(),
        "--out".into(),
        file.display().to_string(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.contains("Subscribers per plan") && html.contains("<svg"));
    let out = run(args("plans --format json")).await.unwrap();
    let plans: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total: u64 = plans["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["subscribers"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 16);
    bed.lab.shutdown().await;
}
