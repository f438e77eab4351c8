//! Plan and import end to end, over real UDP: lab devices served by the lab's SNMP agent, read by
//! the observe driver, planned, changed through the CLI dialect, and read again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gamops::device::live::Observation;
use gamops::device::snmp::{Security, SnmpTarget, observe};
use gamops::device::ssh::dialect;
use gamops::inventory::Inventory;
use gamops::lab::device::state::{self as lab, DeviceState};
use gamops::lab::device::{Session, SharedDevice, share};
use gamops::lab::mib;
use gamops::lab::snmp::{SnmpAgent, SnmpAgentConfig, SnmpFaults, view_from_snmprec};
use gamops::model::{GamModel, Subscriber};
use gamops::plan::diff::{DiffOptions, diff};
use gamops::plan::{Action, ObjectKind, target_for};
use gamops::secret::Secret;

use crate::support::{gamops, stderr, stdout, temp_inventory};

const WALK: &str = include_str!("../fixtures/gam12c-walk.snmprec");

fn target(addr: SocketAddr) -> SnmpTarget {
    let mut t = SnmpTarget::new(
        addr,
        Security::V2c {
            community: Secret::new("public"),
        },
    );
    t.timeout = Duration::from_secs(3);
    t.retries = 2;
    t
}

async fn read(addr: SocketAddr) -> gamops::device::LiveDevice {
    match observe(&target(addr)).await {
        Observation::Live(l) => *l,
        Observation::Unknown { reason } => panic!("device unknown: {reason}"),
    }
}

/// Runs `lines` in config mode of a fresh session; fails on any `%` error.
fn run_cli(dev: &SharedDevice, lines: &[String]) {
    let mut s = Session::new(dev.clone());
    s.execute("configure terminal");
    for l in lines {
        let reply = s.execute(l);
        assert!(
            dialect::error_in(&reply.text).is_none(),
            "`{l}`: {}",
            reply.text
        );
    }
    s.execute("end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_devices_converge_through_snmp_and_the_cli() {
    let (_tmp, inv_dir) = temp_inventory();
    let inv = Inventory::load_dir(&inv_dir).unwrap();
    let desired = &inv.desired;
    for (device, model) in [
        ("bldg-12-gam1", GamModel::Gam12C),
        ("bldg-7-gam1", GamModel::Gam24M),
        ("campus-gam2", GamModel::Gam4Cx),
    ] {
        let mut state = DeviceState::factory(model, device);
        if device == "bldg-7-gam1" {
            state.running.global.subscriber_model = lab::SubscriberModel::PortAware;
        }
        let uptime = Duration::from_secs(1);
        let view = mib::view_of(&state, uptime);
        let shared = share(state);
        let agent = SnmpAgent::start(
            SnmpAgentConfig::default(),
            view.clone(),
            Arc::new(SnmpFaults::new()),
        )
        .await
        .unwrap();

        let dev = desired.device(device).unwrap();
        let subs: Vec<&Subscriber> = desired
            .subscribers
            .iter()
            .filter(|s| s.device.as_str() == device)
            .map(|s| &s.value)
            .collect();
        let t = target_for(dev, &subs, desired.plans().unwrap(), &desired.fleet());
        let uplink_base = 1_000_000 + u32::from(model.ghn_ports());

        let live = read(agent.local_addr()).await;
        let plan = diff(&t, &live, DiffOptions { prune: false }).unwrap();
        assert!(
            plan.changes
                .iter()
                .any(|c| c.action == Action::Create && c.kind == ObjectKind::Subscriber)
        );
        let lines: Vec<String> = plan
            .changes
            .iter()
            .map(|c| {
                gamops::apply::commands::forward(c, uplink_base)
                    .expect("every value renders")
                    .expect("a line per change")
            })
            .collect();
        run_cli(&shared, &lines);
        mib::refresh(&view, &shared.lock().unwrap(), uptime);

        let after = read(agent.local_addr()).await;
        let again = diff(&t, &after, DiffOptions { prune: false }).unwrap();
        assert!(
            again.changes.is_empty(),
            "{device}: second plan over SNMP: {:#?}",
            again.changes
        );
        agent.shutdown().await;
    }
}

/// Serves the real walk; returns the agent.
async fn walk_agent() -> SnmpAgent {
    SnmpAgent::start(
        SnmpAgentConfig::default(),
        view_from_snmprec(WALK).unwrap(),
        Arc::new(SnmpFaults::new()),
    )
    .await
    .unwrap()
}

/// `gamops import` of the walk device at `addr` into `dir`.
fn import_walk(addr: SocketAddr, dir: &std::path::Path) -> std::process::Output {
    gamops()
        .args([
            "import",
            "--address",
            &addr.to_string(),
            "--community",
            "public",
            "--name",
            "gam12c",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_then_plan_finds_no_changes_and_edits_show_up() {
    let agent = walk_agent().await;
    let addr = agent.local_addr();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inv");

    let out = import_walk(addr, &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("gam12c: wrote devices/gam12c.yaml and 1 subscriber(s); 4 plan(s)"),
        "{}",
        stdout(&out)
    );

    // The walk's plans, endpoint and subscriber, as canonical YAML.
    let plans = std::fs::read_to_string(dir.join("plans.yaml")).unwrap();
    for (name, rate) in [("1G", 1000), ("500M", 545), ("250M", 270), ("100M", 118)] {
        assert!(
            plans.contains(&format!(
                "{name}:\n  down_mbps: {rate}\n  up_mbps: {rate}\n"
            )),
            "{plans}"
        );
    }
    let sub = std::fs::read_to_string(dir.join("subscribers/gam12c/C#.yaml")).unwrap();
    for line in [
        "id: C#",
        "port: 12",
        "  mac: \"00:0e:d8:19:97:e6\"",
        "vlan: 1409",
        "tagged: false",
        "outer_vlan: 120",
        "plan: 500M",
    ] {
        assert!(sub.lines().any(|l| l == line), "{line:?} not in:\n{sub}");
    }
    let device = std::fs::read_to_string(dir.join("devices/gam12c.yaml")).unwrap();
    assert!(
        device.contains("community: env:GAMOPS_SNMP_COMMUNITY"),
        "{device}"
    );
    assert!(
        !device.contains("public"),
        "the community must not be written: {device}"
    );

    let valid = gamops()
        .args(["validate", "--inventory"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(valid.status.code(), Some(0), "{}", stdout(&valid));

    let plan = |extra: &[&str]| {
        gamops()
            .env("GAMOPS_SNMP_COMMUNITY", "public")
            .args(["plan", "--detailed-exitcode", "--inventory"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = plan(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("No changes"), "{}", stdout(&out));

    // An engineer moves the subscriber to another VLAN.
    let path = dir.join("subscribers/gam12c/C#.yaml");
    std::fs::write(&path, sub.replace("vlan: 1409", "vlan: 1500")).unwrap();
    let out = plan(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    crate::support::redacted(|| insta::assert_snapshot!("plan_one_vlan_moved", stdout(&out)));

    let plan_file = tmp.path().join("plan.json");
    let out = plan(&["--format", "markdown", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    crate::support::redacted(|| {
        insta::assert_snapshot!("plan_one_vlan_moved_markdown", stdout(&out));
    });
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 1);
    assert_eq!(saved["devices"][0]["status"], "planned");
    assert!(
        saved["devices"][0]["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(
        saved["devices"][0]["changes"][0]["fields"][0]["field"],
        "vlan"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_devices_are_unknown_and_the_rest_still_plan() {
    let agent = walk_agent().await;
    let addr = agent.local_addr();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inv");
    let out = import_walk(addr, &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    // A device on a port nothing listens on, and one whose community is wrong.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    std::fs::write(
        dir.join("devices/gone.yaml"),
        format!("name: gone\nmodel: GAM-12-C\naddress: 127.0.0.1\nsnmp: {{port: {dead_port}, community: env:GAMOPS_SNMP_COMMUNITY, timeout_ms: 300, retries: 0}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("devices/wrong.yaml"),
        format!("name: wrong\nmodel: GAM-12-C\naddress: 127.0.0.1\nsnmp: {{port: {}, community: env:WRONG_COMMUNITY, timeout_ms: 300, retries: 0}}\n", addr.port()),
    )
    .unwrap();
    let out = gamops()
        .env("GAMOPS_SNMP_COMMUNITY", "public")
        .env("WRONG_COMMUNITY", "nope")
        .args(["plan", "--detailed-exitcode", "--inventory"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    crate::support::redacted(|| insta::assert_snapshot!("plan_two_devices_unread", text));

    // A missing credential is a clear per-device reason, not a crash.
    let out = gamops()
        .env_remove("GAMOPS_SNMP_COMMUNITY")
        .args(["plan", "--device", "gam12c", "--inventory"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("gam12c: unknown:") && stdout(&out).contains("GAMOPS_SNMP_COMMUNITY"),
        "{}",
        stdout(&out)
    );

    // An unknown device name is a user error with the list of devices.
    let out = gamops()
        .args(["plan", "--device", "nope", "--inventory"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("device nope is not in the inventory"),
        "{}",
        stderr(&out)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_finds_the_gam_by_its_sys_object_id() {
    let agent = walk_agent().await;
    let port = agent.local_addr().port().to_string();
    let out = gamops()
        .args([
            "discover",
            "--range",
            "127.0.0.1/30",
            "--port",
            &port,
            "--timeout-ms",
            "500",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("127.0.0.1:{port} GAM-12-C firmware GAM-12/24-C_v1.5.4 name <private>\n")
    );
    assert!(
        stderr(&out).contains("1 GAM(s) found in 4 address(es)"),
        "{}",
        stderr(&out)
    );

    let out = gamops()
        .args([
            "discover",
            "--range",
            "127.0.0.1/30",
            "--port",
            &port,
            "--timeout-ms",
            "300",
            "--all",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(list.iter().filter(|f| f["gam"] == true).count(), 1);
    assert!(
        list.iter()
            .any(|f| f["gam"] == false && f["reason"].as_str().unwrap().contains("no answer"))
    );
    agent.shutdown().await;
}

/// Issue 11 (2): whatever a device accepts, import writes and validate accepts. Every walk in
/// the fixtures, and the real walk with its subscriber moved to the 1000/1000 profile (a shaped
/// coax plan above 800 Mbps, which the GAM takes and the guide only advises against), imports
/// to an inventory that validates, with the advice as a warning; `--strict` fails on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_walk_imports_to_an_inventory_that_validates() {
    let mut walks: Vec<(String, String)> =
        std::fs::read_dir(crate::support::root().join("tests/fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "snmprec"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
    assert!(!walks.is_empty());
    let on_1g = WALK
        .replace(
            "1.3.6.1.4.1.20095.2001.143.1.2.40.1.70.1|66|3",
            "1.3.6.1.4.1.20095.2001.143.1.2.40.1.70.1|66|2",
        )
        .replace(
            "1.3.6.1.4.1.20095.2001.143.1.2.40.1.75.1|4|500M",
            "1.3.6.1.4.1.20095.2001.143.1.2.40.1.75.1|4|1G",
        );
    assert_ne!(on_1g, WALK);
    walks.push(("the real walk, subscriber on 1G".into(), on_1g));
    for (name, walk) in walks {
        let agent = SnmpAgent::start(
            SnmpAgentConfig::default(),
            view_from_snmprec(&walk).unwrap(),
            Arc::new(SnmpFaults::new()),
        )
        .await
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("inv");
        let out = import_walk(agent.local_addr(), &dir);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let valid = gamops()
            .args(["validate", "--format", "json", "--inventory"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(valid.status.code(), Some(0), "{name}: {}", stdout(&valid));
        let report: serde_json::Value = serde_json::from_slice(&valid.stdout).unwrap();
        assert_eq!(report["valid"], true, "{name}");
        assert_eq!(report["summary"]["errors"], 0, "{name}");
        if name.contains("1G") {
            assert_eq!(report["summary"]["warnings"], 1, "{name}: {report}");
            assert_eq!(report["diagnostics"][0]["severity"], "warning");
            assert_eq!(report["diagnostics"][0]["code"], "coax-rate-limit");
            let text = gamops()
                .args(["validate", "--inventory"])
                .arg(&dir)
                .output()
                .unwrap();
            assert_eq!(text.status.code(), Some(0));
            assert!(
                stdout(&text).contains("warning[coax-rate-limit]")
                    && stdout(&text).contains("(1 warning)"),
                "{}",
                stdout(&text)
            );
            let strict = gamops()
                .args(["validate", "--strict", "--inventory"])
                .arg(&dir)
                .output()
                .unwrap();
            assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
        }
        agent.shutdown().await;
    }
}
