//! Apply against a lab GAM over real SNMP and SSH: converge and save, roll back a refused command,
//! refuse a stale device, never save half an apply.

use std::sync::Arc;
use std::time::Duration;

use gamops::apply::{ApplyStatus, DeviceJob, DriverTarget, NoJournal, apply_device};
use gamops::device::live::Observation;
use gamops::device::snmp::{Security, SnmpTarget, observe};
use gamops::device::ssh::{CliAuth, CliTarget, HostKeyPolicy};
use gamops::inventory::Inventory;
use gamops::lab::device::state::DeviceState;
use gamops::lab::device::{SharedDevice, share};
use gamops::lab::mib;
use gamops::lab::snmp::{SnmpAgent, SnmpAgentConfig, SnmpFaults};
use gamops::lab::ssh::{HostKey, SshServerConfig, SshServerHandle, serve};
use gamops::model::{Desired, GamModel, Subscriber};
use gamops::plan::diff::{DiffOptions, diff};
use gamops::plan::{fingerprint, target_for};
use gamops::secret::Secret;
use tokio_util::sync::CancellationToken;

use crate::support::{Gam, temp_inventory};

/// A lab GAM with its SNMP agent and SSH server, the SNMP view following the CLI.
struct LabGam {
    device: SharedDevice,
    view: gamops::lab::snmp::MibView,
    agent: SnmpAgent,
    ssh: SshServerHandle,
}

async fn lab_gam(model: GamModel, name: &str) -> LabGam {
    let device = share(DeviceState::factory(model, name));
    let view = mib::view_of(&device.lock().unwrap(), Duration::from_secs(1));
    let agent = SnmpAgent::start(
        SnmpAgentConfig::default(),
        view.clone(),
        Arc::new(SnmpFaults::new()),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ssh = serve(
        listener,
        SshServerConfig::gam_default(HostKey::generate().unwrap()),
        Arc::new(Gam::new(device.clone(), Some(view.clone()))),
    )
    .unwrap();
    LabGam {
        device,
        view,
        agent,
        ssh,
    }
}

fn snmp_target(lab: &LabGam) -> SnmpTarget {
    let mut t = SnmpTarget::new(
        lab.agent.local_addr(),
        Security::V2c {
            community: Secret::new("public"),
        },
    );
    t.timeout = Duration::from_secs(3);
    t
}

fn job(
    lab: &LabGam,
    desired: &Desired,
    device: &str,
    password: &str,
) -> (DeviceJob, gamops::device::LiveDevice) {
    let snmp = snmp_target(lab);
    let live = futures_read(&snmp);
    let dev = desired.device(device).unwrap();
    let subs: Vec<&Subscriber> = desired
        .subscribers
        .iter()
        .filter(|s| s.device.as_str() == device)
        .map(|s| &s.value)
        .collect();
    let target = target_for(dev, &subs, desired.plans().unwrap(), &desired.fleet());
    let changes = diff(&target, &live, DiffOptions { prune: true })
        .unwrap()
        .changes;
    let job = DeviceJob {
        device: device.to_string(),
        snmp,
        driver: DriverTarget::Cli(CliTarget {
            addr: lab.ssh.local_addr(),
            username: "admin".into(),
            auth: CliAuth::Password(Secret::new(password)),
            host_key: HostKeyPolicy::Pinned(lab.ssh.host_key().fingerprint_sha256()),
            connect_timeout: Duration::from_secs(20),
            command_timeout: Duration::from_secs(20),
        }),
        uplink_base: 1_000_000 + u32::from(dev.model.ghn_ports()),
        changes,
        fingerprint: Some(fingerprint(&live)),
        save_attempts: 3,
        save_pause: Duration::from_millis(50),
    };
    (job, live)
}

/// Reads a device from inside a sync helper (the agent runs on the test's runtime workers).
fn futures_read(t: &SnmpTarget) -> gamops::device::LiveDevice {
    let t = t.clone();
    let handle = tokio::runtime::Handle::current();
    let obs = std::thread::spawn(move || handle.block_on(observe(&t)))
        .join()
        .unwrap();
    match obs {
        Observation::Live(l) => *l,
        Observation::Unknown { reason } => panic!("unknown: {reason}"),
    }
}

fn inventory() -> (tempfile::TempDir, Desired) {
    let (tmp, dir) = temp_inventory();
    let desired = Inventory::load_dir(&dir).unwrap().desired;
    (tmp, desired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_saves_and_a_second_apply_sends_nothing() {
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam12C, "bldg-12-gam1").await;
    let (job1, _) = job(&lab, &desired, "bldg-12-gam1", "");
    assert!(job1.changes.len() > 10);
    let r = apply_device(&job1, &NoJournal, &CancellationToken::new()).await;
    assert_eq!(r.status, ApplyStatus::Applied, "{}", r.message);
    assert_eq!(
        r.sent.last().map(String::as_str),
        Some("copy running-config startup-config")
    );
    let saved = lab.device.lock().unwrap().startup.clone();
    assert!(
        saved.contains("ghn subscriber") && saved.contains("sonar-10423"),
        "{saved}"
    );

    let (job2, _) = job(&lab, &desired, "bldg-12-gam1", "");
    assert!(job2.changes.is_empty(), "{:#?}", job2.changes);
    let r = apply_device(&job2, &NoJournal, &CancellationToken::new()).await;
    assert_eq!((r.status, r.sent.len()), (ApplyStatus::NoChanges, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_command_rolls_the_device_back_and_saves_nothing() {
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam12C, "bldg-12-gam1").await;
    let (job, before) = job(&lab, &desired, "bldg-12-gam1", "");
    let startup_before = lab.device.lock().unwrap().startup.clone();
    // The device refuses the last subscriber's line, after most of the plan went through.
    let last = job
        .changes
        .iter()
        .rev()
        .find(|c| c.kind == gamops::plan::ObjectKind::Subscriber)
        .unwrap();
    lab.device.lock().unwrap().fail_next_command(
        &format!("ghn subscriber {}", last.id),
        "% Error querying G.hn device. May be missing or busy.",
    );
    let r = apply_device(&job, &NoJournal, &CancellationToken::new()).await;
    assert_eq!(r.status, ApplyStatus::RolledBack, "{}", r.message);
    assert!(
        r.message.contains("May be missing or busy"),
        "{}",
        r.message
    );
    let after = futures_read(&job.snmp);
    assert_eq!(gamops::apply::verify::difference(&after, &before), None);
    assert_eq!(
        lab.device.lock().unwrap().startup,
        startup_before,
        "nothing half-applied is saved"
    );
    assert!(!r.sent.iter().any(|l| l.starts_with("copy ")));
}

/// Issue 16, item 1: a description set on the device out of band (here by the lab, as its
/// drift API does) that holds a newline would, restored by a rollback, send `no ghn subscriber
/// 1` as a command of its own. The plan refuses the device, and apply, handed such changes
/// anyway (a plan file edited by hand), sends nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_value_holding_a_newline_or_a_quote_never_becomes_a_command() {
    use gamops::plan::{Outcome, Plan, PlanOptions};
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam12C, "bldg-12-gam1").await;
    let (job1, _) = job(&lab, &desired, "bldg-12-gam1", "");
    let r = apply_device(&job1, &NoJournal, &CancellationToken::new()).await;
    assert_eq!(r.status, ApplyStatus::Applied, "{}", r.message);
    let id = {
        let d = lab.device.lock().unwrap();
        *d.running
            .subscribers
            .iter()
            .find(|(_, s)| s.name == "sonar-10423")
            .unwrap()
            .0
    };
    for evil in ["x\nno ghn subscriber 1\n!", "a \"quoted\" word"] {
        lab.device
            .lock()
            .unwrap()
            .drift_subscriber(id, |s| s.description = evil.to_string());
        mib::refresh(
            &lab.view,
            &lab.device.lock().unwrap(),
            Duration::from_secs(1),
        );
        let subscribers = lab.device.lock().unwrap().running.subscribers.len();

        let live = futures_read(&snmp_target(&lab));
        let plan = Plan::build(
            &desired,
            &[(
                "bldg-12-gam1".to_string(),
                Observation::Live(Box::new(live)),
            )],
            None,
            PlanOptions::default(),
        );
        match &plan.devices[0].outcome {
            Outcome::Error { message, .. } => {
                assert!(message.contains("cannot be written safely"), "{message}");
                assert!(!message.contains('\n'), "shown escaped: {message}");
            }
            other => panic!("{evil:?}: the device was planned: {other:?}"),
        }

        let (job2, _) = job(&lab, &desired, "bldg-12-gam1", "");
        assert!(!job2.changes.is_empty());
        let r = apply_device(&job2, &NoJournal, &CancellationToken::new()).await;
        assert_eq!(
            (&r.status, r.sent.len()),
            (&ApplyStatus::Failed, 0),
            "{evil:?}: {} {:?}",
            r.message,
            r.sent
        );
        assert!(
            r.message.contains("cannot be written safely"),
            "{}",
            r.message
        );
        let d = lab.device.lock().unwrap();
        assert_eq!(d.running.subscribers.len(), subscribers);
        assert_eq!(d.running.subscribers[&id].description, evil);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_changed_since_the_plan_is_stale() {
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam4Cx, "campus-gam2").await;
    let (mut job, _) = job(&lab, &desired, "campus-gam2", "");
    job.fingerprint = Some("sha256:0000".into());
    let r = apply_device(&job, &NoJournal, &CancellationToken::new()).await;
    assert_eq!(
        (r.status, r.sent.len()),
        (ApplyStatus::Stale, 0),
        "{}",
        r.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_a_save_that_never_frees_are_failures() {
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam4Cx, "campus-gam2").await;
    let (job1, _) = job(&lab, &desired, "campus-gam2", "wrong");
    let r = apply_device(&job1, &NoJournal, &CancellationToken::new()).await;
    assert_eq!(r.status, ApplyStatus::Failed);
    assert!(
        r.message.contains("login as admin refused"),
        "{}",
        r.message
    );

    let (job2, _) = job(&lab, &desired, "campus-gam2", "");
    lab.device.lock().unwrap().set_save_in_progress(true);
    let r = apply_device(&job2, &NoJournal, &CancellationToken::new()).await;
    assert_eq!(r.status, ApplyStatus::Failed, "{}", r.message);
    assert!(r.message.contains("not saved"), "{}", r.message);
    assert!(
        !lab.device
            .lock()
            .unwrap()
            .startup
            .contains("ghn subscriber")
    );
}

/// The project's inventory cut down to one device, pointed at `lab`.
fn one_device_inventory(lab: &LabGam) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = temp_inventory();
    for other in ["bldg-7-gam1", "campus-gam2"] {
        std::fs::remove_file(dir.join(format!("devices/{other}.yaml"))).unwrap();
        std::fs::remove_dir_all(dir.join(format!("subscribers/{other}"))).unwrap();
    }
    let path = dir.join("devices/bldg-12-gam1.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "port: 16101",
            &format!("port: {}", lab.agent.local_addr().port()),
        )
        .replace(
            "ssh:\n  port: 16102",
            &format!(
                "ssh:\n  port: {}\n  host_key: {}",
                lab.ssh.local_addr().port(),
                lab.ssh.host_key().fingerprint_sha256()
            ),
        );
    std::fs::write(&path, text).unwrap();
    (tmp, dir)
}

fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    crate::support::gamops()
        .env("GAMOPS_SNMP_COMMUNITY", "public")
        .env("GAMOPS_SSH_PASSWORD", "")
        .args(args)
        .arg("--inventory")
        .arg(dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_out_then_apply_the_file_then_nothing_to_do() {
    let lab = lab_gam(GamModel::Gam12C, "bldg-12-gam1").await;
    let (tmp, dir) = one_device_inventory(&lab);
    let plan_file = tmp.path().join("plan.json");
    let out = cli(
        &dir,
        &[
            "plan",
            "--detailed-exitcode",
            "--out",
            plan_file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}{}",
        crate::support::stdout(&out),
        crate::support::stderr(&out)
    );

    let out = cli(&dir, &["apply", plan_file.to_str().unwrap()]);
    let text = crate::support::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        crate::support::stderr(&out)
    );
    assert!(text.contains("bldg-12-gam1: applied ("), "{text}");
    assert!(lab.device.lock().unwrap().startup.contains("sonar-10423"));

    let out = cli(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::stdout(&out)
    );

    // Applying the old plan again: the device has changed since, so it is stale.
    let out = cli(
        &dir,
        &["apply", plan_file.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], "stale");
    assert_eq!(v[0]["sent"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_leased_by_another_apply_is_refused_naming_the_holder() {
    let lab = lab_gam(GamModel::Gam12C, "bldg-12-gam1").await;
    let (tmp, dir) = one_device_inventory(&lab);
    let store = gamops::store::Store::open(&gamops::store::StoreLocation::Sqlite(
        tmp.path().join(".gamops"),
    ))
    .await
    .unwrap();
    let _held = store
        .acquire_lease("bldg-12-gam1", "ops@noc run 7", Duration::from_secs(60))
        .await
        .unwrap();
    let out = cli(&dir, &["apply", "--auto-approve"]);
    let text = crate::support::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{text}{}",
        crate::support::stderr(&out)
    );
    assert!(
        text.contains("bldg-12-gam1: lease held (another apply holds the device (ops@noc run 7"),
        "{text}"
    );
    assert!(
        !lab.device
            .lock()
            .unwrap()
            .startup
            .contains("ghn subscriber")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_without_a_plan_needs_approval_off_a_terminal() {
    let lab = lab_gam(GamModel::Gam12C, "bldg-12-gam1").await;
    let (_tmp, dir) = one_device_inventory(&lab);
    let out = cli(&dir, &["apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        crate::support::stderr(&out).contains("pass --auto-approve"),
        "{}",
        crate::support::stderr(&out)
    );
    let out = cli(&dir, &["apply", "--auto-approve"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        crate::support::stdout(&out),
        crate::support::stderr(&out)
    );
}

#[test]
fn the_demo_runs_the_whole_loop_and_leaves_nothing_running() {
    let out = crate::support::gamops().arg("demo").output().unwrap();
    let text = crate::support::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        crate::support::stderr(&out)
    );
    for expected in [
        "=== 3. gamops apply",
        "applied (",
        "No changes: the devices match the inventory.",
        "vlan: 3998 -> 1409",
        "succeeded",
        "The lab has stopped.",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let kept = text
        .split("are in ")
        .nth(1)
        .and_then(|t| t.lines().next())
        .unwrap()
        .trim()
        .to_string();
    let _ = std::fs::remove_dir_all(kept);
}

// ---------------------------------------------------------------------------------------------
// `gamops apply` against a lab fleet: convergence, edits, faults, SIGKILL, a real OpenSSH.

use std::process::{Command, Output, Stdio};

use gamops::lab::control::FaultSettings;
use gamops::lab::fleetgen::{FleetSpec, write_fleet};
use gamops::model::Driver;

use crate::support::fleet::{
    FleetLab, assert_no_duplicates, assert_saved, code_and_text, expect_exit, until, wait_child,
};

/// The generated fleet's first SNMP port; the lab serves on free ports instead and the device
/// files are rewritten to them.
const FLEET_BASE_PORT: u16 = 20000;

/// `apply --format json`'s results, by device.
fn results(out: &Output) -> std::collections::BTreeMap<String, serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", code_and_text(out).1));
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["device"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_subscribers_on_three_devices_converge_then_nothing_is_sent() {
    three_hundred_subscribers_on_three_devices_converge_then_nothing_is_sent_with(Driver::Cli)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_subscribers_on_three_devices_converge_then_nothing_is_sent_over_jsonrpc() {
    three_hundred_subscribers_on_three_devices_converge_then_nothing_is_sent_with(Driver::Jsonrpc)
        .await;
}

async fn three_hundred_subscribers_on_three_devices_converge_then_nothing_is_sent_with(
    driver: Driver,
) {
    let f = FleetLab::start_with(3, 100, Duration::from_secs(1), driver).await;
    expect_exit(&f.gamops(&["plan", "--detailed-exitcode"]).await, 2);

    let out = f
        .gamops(&["apply", "--auto-approve", "--format", "json"])
        .await;
    expect_exit(&out, 0);
    let res = results(&out);
    assert_eq!(res.len(), 3);
    for (name, r) in &res {
        assert_eq!(r["status"], "applied", "{name}: {r}");
        let state = f.state(name);
        assert_eq!(state.running.subscribers.len(), 100, "{name}");
        assert_eq!(state.running.endpoints.len(), 100, "{name}");
        assert_no_duplicates(&state);
        assert_saved(&state);
    }

    let out = f.gamops(&["plan", "--detailed-exitcode"]).await;
    assert!(expect_exit(&out, 0).contains("No changes"));

    let before = f.lab.change_count();
    let out = f.gamops(&["apply", "--auto-approve"]).await;
    assert!(expect_exit(&out, 0).contains("Nothing to apply."));
    assert_eq!(
        f.lab.change_count(),
        before,
        "the second apply changed a device"
    );
    let history = f.store().await.runs(&Default::default()).await.unwrap();
    assert_eq!(
        history.len(),
        1,
        "the second apply recorded no run: {history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_vlans_endpoints_and_pruned_deletes_each_converge_and_save() {
    plans_vlans_endpoints_and_pruned_deletes_each_converge_and_save_with(Driver::Cli).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_vlans_endpoints_and_pruned_deletes_each_converge_and_save_over_jsonrpc() {
    plans_vlans_endpoints_and_pruned_deletes_each_converge_and_save_with(Driver::Jsonrpc).await;
}

async fn plans_vlans_endpoints_and_pruned_deletes_each_converge_and_save_with(driver: Driver) {
    let f = FleetLab::start_with(2, 12, Duration::from_secs(1), driver).await;
    let converge = |what: &'static str| {
        let f = &f;
        async move {
            let out = f
                .gamops(&["apply", "--auto-approve", "--format", "json"])
                .await;
            expect_exit(&out, 0);
            for (name, r) in results(&out) {
                assert!(
                    r["status"] == "applied" || r["status"] == "no-changes",
                    "{what}: {name}: {r}"
                );
            }
            let out = f.gamops(&["plan", "--detailed-exitcode"]).await;
            assert_eq!(
                out.status.code(),
                Some(0),
                "{what}: {}",
                code_and_text(&out).1
            );
            for d in f.lab.devices() {
                let state = f.state(d.name());
                assert_saved(&state);
                assert_no_duplicates(&state);
            }
        }
    };
    converge("from empty").await;
    let profile = |dev: &str, name: &str| {
        f.state(dev)
            .running
            .profiles
            .values()
            .find(|p| p.name == name)
            .map(|p| (p.downstream_mbps, p.upstream_mbps))
    };
    let subscriber = |dev: &str, name: &str| {
        f.state(dev)
            .running
            .subscribers
            .values()
            .find(|s| s.name == name)
            .cloned()
    };
    assert_eq!(profile("gam-0000", "500M"), Some((545, 545)));
    assert_eq!(profile("gam-0000", "50M"), None);

    // Plans: a plan's rates change, and a subscriber moves to a plan no one used yet.
    f.edit(
        "plans.yaml",
        "500M:\n  down_mbps: 545\n  up_mbps: 545",
        "500M:\n  down_mbps: 600\n  up_mbps: 580",
    );
    let plans = std::fs::read_to_string(f.dir.join("plans.yaml")).unwrap();
    std::fs::write(
        f.dir.join("plans.yaml"),
        format!("{plans}50M:\n  down_mbps: 54\n  up_mbps: 54\n  description: 50M/50M\n"),
    )
    .unwrap();
    f.edit(
        "subscribers/gam-0000/sub-0000-001.yaml",
        "plan: 250M",
        "plan: 50M",
    );
    converge("plans").await;
    assert_eq!(profile("gam-0000", "500M"), Some((600, 580)));
    assert_eq!(profile("gam-0001", "500M"), Some((600, 580)));
    assert_eq!(profile("gam-0000", "50M"), Some((54, 54)));
    assert_eq!(
        profile("gam-0001", "50M"),
        None,
        "only the profiles a device uses"
    );
    assert!(f.state("gam-0000").startup.contains("rate-downstream 600"));

    // VLANs: the C-VLAN of one subscriber per device, and one's tagging.
    f.edit(
        "subscribers/gam-0000/sub-0000-002.yaml",
        "vlan: 102",
        "vlan: 3001",
    );
    f.edit(
        "subscribers/gam-0001/sub-0001-003.yaml",
        "vlan: 103",
        "vlan: 3002",
    );
    f.edit(
        "subscribers/gam-0001/sub-0001-004.yaml",
        "tagged: false",
        "tagged: true",
    );
    converge("vlans").await;
    assert_eq!(subscriber("gam-0000", "sub-0000-002").unwrap().vid, 3001);
    assert_eq!(subscriber("gam-0001", "sub-0001-003").unwrap().vid, 3002);
    assert!(subscriber("gam-0001", "sub-0001-004").unwrap().tagged);

    // Endpoints: a CPE swapped for another (new MAC).
    f.edit(
        "subscribers/gam-0000/sub-0000-005.yaml",
        "mac: \"00:0e:d8:00:00:05\"",
        "mac: \"00:0e:d8:aa:bb:05\"",
    );
    converge("endpoints").await;
    let state = f.state("gam-0000");
    let macs: Vec<String> = state
        .running
        .endpoints
        .values()
        .map(|e| e.mac.to_string())
        .collect();
    assert!(
        macs.iter()
            .any(|m| m.eq_ignore_ascii_case("00:0e:d8:aa:bb:05")),
        "{macs:?}"
    );
    assert!(
        !macs
            .iter()
            .any(|m| m.eq_ignore_ascii_case("00:0e:d8:00:00:05")),
        "{macs:?}"
    );
    let sub = subscriber("gam-0000", "sub-0000-005").unwrap();
    assert_eq!(
        state.running.endpoints[&sub.endpoint.unwrap()]
            .mac
            .to_string()
            .to_lowercase(),
        "00:0e:d8:aa:bb:05"
    );

    // Deletes: without prune, an unowned subscriber is only reported; with it, deleted with
    // its endpoint.
    std::fs::remove_file(f.dir.join("subscribers/gam-0001/sub-0001-006.yaml")).unwrap();
    let out = f.gamops(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", code_and_text(&out).1);
    assert!(subscriber("gam-0001", "sub-0001-006").is_some());
    f.edit("gamops.yaml", "prune: false", "prune: true");
    converge("pruned deletes").await;
    let state = f.state("gam-0001");
    assert!(subscriber("gam-0001", "sub-0001-006").is_none());
    assert_eq!(state.running.subscribers.len(), 11);
    assert_eq!(state.running.endpoints.len(), 11);
    assert!(!state.startup.contains("sub-0001-006"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_mid_apply_loses_the_unsaved_changes_and_the_next_apply_converges() {
    a_reboot_mid_apply_loses_the_unsaved_changes_and_the_next_apply_converges_with(Driver::Cli)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reboot_mid_apply_loses_the_unsaved_changes_and_the_next_apply_converges_over_jsonrpc() {
    a_reboot_mid_apply_loses_the_unsaved_changes_and_the_next_apply_converges_with(Driver::Jsonrpc)
        .await;
}

async fn a_reboot_mid_apply_loses_the_unsaved_changes_and_the_next_apply_converges_with(
    driver: Driver,
) {
    let f = FleetLab::start_with(1, 40, Duration::from_millis(1500), driver).await;
    f.faults(&FaultSettings {
        ssh_latency_ms: Some(30),
        ..FaultSettings::default()
    });
    let name = "gam-0000";
    let factory = f.state(name);
    let child = f
        .command(&["apply", "--auto-approve", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("the apply to be half way", || {
        f.state(name).running.endpoints.len() >= 10
    })
    .await;
    f.lab.reboot(name, None).unwrap();
    let out = wait_child(child).await;
    expect_exit(&out, 3);
    let r = &results(&out)[name];
    assert_eq!(r["status"], "failed", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("became unreachable mid-apply, after"),
        "{message}"
    );
    assert!(message.contains("the next apply converges"), "{message}");
    let sent: Vec<&str> = r["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        sent.iter()
            .filter(|l| l.starts_with(match driver {
                Driver::Cli => "ghn endpoint",
                Driver::Jsonrpc => "ghnAgent.config.endpoint",
            }))
            .count()
            >= 10,
        "{sent:?}"
    );
    assert!(
        !sent
            .iter()
            .any(|l| l.starts_with("copy ") || l.starts_with("icfg.control.copy")),
        "{sent:?}"
    );

    // The reboot dropped what was not saved: the device is as it was.
    until("the device to come back", || f.device(name).is_online()).await;
    let after = f.state(name);
    assert_eq!(after.startup, factory.startup);
    assert_eq!(after.running, factory.running);

    f.faults(&FaultSettings {
        ssh_latency_ms: Some(0),
        ..FaultSettings::default()
    });
    let out = f.gamops(&["apply", "--auto-approve"]).await;
    expect_exit(&out, 0);
    let state = f.state(name);
    assert_eq!(state.running.subscribers.len(), 40);
    assert_saved(&state);
    expect_exit(&f.gamops(&["plan", "--detailed-exitcode"]).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_session_table_and_a_changed_host_key_change_nothing() {
    let f = FleetLab::start(1, 5, Duration::from_secs(1)).await;
    let name = "gam-0000";
    let factory = f.state(name);
    let device = f.device(name).clone();

    // Every CLI session in use: the device fails, named, with the device's message and a hint.
    f.faults(&FaultSettings {
        ssh_session_limit: Some(1),
        ..FaultSettings::default()
    });
    let held = gamops::device::ssh::CliSession::connect(&CliTarget {
        addr: device.ssh_addr(),
        username: "admin".into(),
        auth: CliAuth::Password(Secret::new("")),
        host_key: HostKeyPolicy::Pinned(device.host_key().fingerprint_sha256()),
        connect_timeout: Duration::from_secs(20),
        command_timeout: Duration::from_secs(20),
    })
    .await
    .unwrap();
    let out = f.gamops(&["apply", "--auto-approve"]).await;
    let text = expect_exit(&out, 3);
    assert!(
        text.contains(&format!("{name}: failed (could not open the CLI: the device refused the session: % No more sessions allowed")),
        "{text}"
    );
    assert!(
        text.contains("sessions may all be in use; try again later"),
        "{text}"
    );
    assert_eq!(f.state(name), factory, "nothing was sent");
    held.close().await;

    // A changed host key: refused before logging in, with what to do.
    let other = HostKey::generate().unwrap().fingerprint_sha256();
    f.edit(
        &format!("devices/{name}.yaml"),
        &device.host_key().fingerprint_sha256(),
        &other,
    );
    let out = f.gamops(&["apply", "--auto-approve"]).await;
    let text = expect_exit(&out, 3);
    assert!(
        text.contains(&format!(
            "the host key of {} changed: expected {other}, got {}",
            device.ssh_addr(),
            device.host_key().fingerprint_sha256()
        )),
        "{text}"
    );
    assert!(text.contains("update ssh.host_key"), "{text}");
    assert_eq!(f.state(name), factory, "nothing was sent");

    // Put right, the same apply goes through.
    f.edit(
        &format!("devices/{name}.yaml"),
        &other,
        &device.host_key().fingerprint_sha256(),
    );
    expect_exit(&f.gamops(&["apply", "--auto-approve"]).await, 0);
    assert_saved(&f.state(name));
    assert_eq!(f.state(name).running.subscribers.len(), 5);
}

/// Issue 16, item 9: `--accept-new-host-keys` never recorded the key it accepted, so after a
/// device's host key changed the next run with the flag went through. The key is recorded on
/// first contact, and a different one is refused, flag or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_key_accepted_on_first_contact_is_recorded_and_a_changed_one_refused() {
    let f = FleetLab::start(1, 3, Duration::from_secs(1)).await;
    let name = "gam-0000";
    let device = f.device(name).clone();
    f.edit(
        &format!("devices/{name}.yaml"),
        &format!("  host_key: {}\n", device.host_key().fingerprint_sha256()),
        "",
    );
    let out = f
        .gamops(&["apply", "--auto-approve", "--accept-new-host-keys"])
        .await;
    expect_exit(&out, 0);
    let store = f.store().await;
    let recorded = store.known_host_key(name).await.unwrap();
    assert_eq!(
        recorded.as_deref(),
        Some(device.host_key().public_key_openssh().trim())
    );

    // The device now shows another key than the one recorded (as after a swap, or a man in
    // the middle): refused even with the flag, and nothing is sent.
    let other = HostKey::generate().unwrap();
    assert!(store.forget_host_key(name).await.unwrap());
    store
        .remember_host_key(name, other.public_key_openssh().trim())
        .await
        .unwrap();
    store.close().await;
    let id = *f.state(name).running.subscribers.keys().next().unwrap();
    device
        .drift(&gamops::lab::control::Drift {
            subscriber: id,
            vid: None,
            name: None,
            description: Some("changed out of band".into()),
            tagged: None,
            bw_profile: None,
            remove: false,
        })
        .unwrap();
    let before = f.state(name);
    let out = f
        .gamops(&["apply", "--auto-approve", "--accept-new-host-keys"])
        .await;
    let text = expect_exit(&out, 3);
    assert!(
        text.contains(&format!(
            "the host key of {} changed: expected {}",
            device.ssh_addr(),
            other.fingerprint_sha256()
        )),
        "{text}"
    );
    assert_eq!(f.state(name), before, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_mid_run_is_recovered_after_its_lease_expires() {
    let f = FleetLab::start(2, 40, Duration::from_secs(1)).await;
    f.faults(&FaultSettings {
        ssh_latency_ms: Some(100),
        ..FaultSettings::default()
    });
    // Leases are renewed every third of their TTL, so the dead process's expire between 2/3
    // of a TTL and a TTL after the kill: the next apply must reach its leases before that,
    // which a loaded machine once made a 2 s TTL too short for.
    let ttl = Duration::from_secs(5);
    let mut child = f
        .command(&["apply", "--auto-approve", "--lease-ttl", "5s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = format!("pid {}", child.id());
    let started = std::time::Instant::now();
    until("the apply to be under way", || {
        f.state("gam-0000").running.endpoints.len() >= 3
    })
    .await;
    // Alive past its TTL, the apply still holds both leases: it renews them.
    tokio::time::sleep((ttl + Duration::from_millis(700)).saturating_sub(started.elapsed())).await;
    let store = f.store().await;
    for name in ["gam-0000", "gam-0001"] {
        let (owner, _) = store.lease_holder(name).await.unwrap().expect("leased");
        assert!(owner.ends_with(&pid), "{owner}");
        assert!(
            f.state(name).running.subscribers.len() < 40,
            "{name} finished before the kill; slow the lab down"
        );
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let killed_at = std::time::Instant::now();

    // At once, the devices are still leased to the dead process.
    f.faults(&FaultSettings {
        ssh_latency_ms: Some(0),
        ..FaultSettings::default()
    });
    let out = f.gamops(&["apply", "--auto-approve"]).await;
    let text = expect_exit(&out, 3);
    assert!(
        text.contains("lease held (another apply holds the device"),
        "{text}"
    );
    assert!(text.contains(&pid), "{text}");

    // After the TTL, the leases are taken over, and the apply converges; the killed run reads
    // as abandoned, not as running forever.
    tokio::time::sleep((ttl + Duration::from_millis(300)).saturating_sub(killed_at.elapsed()))
        .await;
    let history = runs(&f.gamops(&["history", "--format", "json"]).await);
    let killed = history.last().expect("the killed run is recorded");
    assert_eq!(killed["status"], "abandoned", "{killed}");
    let out = f
        .gamops(&["apply", "--auto-approve", "--lease-ttl", "2s"])
        .await;
    let text = expect_exit(&out, 0);
    assert!(
        text.contains("gam-0000: applied") && text.contains("gam-0001: applied"),
        "{text}"
    );
    for name in ["gam-0000", "gam-0001"] {
        let state = f.state(name);
        assert_eq!(state.running.subscribers.len(), 40, "{name}");
        assert_eq!(state.running.endpoints.len(), 40, "{name}");
        assert_no_duplicates(&state);
        assert_saved(&state);
        assert!(
            store.lease_holder(name).await.unwrap().is_none(),
            "{name} lease released"
        );
    }
    expect_exit(&f.gamops(&["plan", "--detailed-exitcode"]).await, 0);
    store.close().await;
}

/// `history --format json`'s runs, newest first.
fn runs(out: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", code_and_text(out).1));
    v.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_apply_rolls_back_the_device_in_flight_and_records_an_interrupted_run() {
    let f = FleetLab::start(2, 40, Duration::from_secs(1)).await;
    f.faults(&FaultSettings {
        ssh_latency_ms: Some(60),
        ..FaultSettings::default()
    });
    let child = f
        .command(&[
            "apply",
            "--auto-approve",
            "--concurrency",
            "1",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("the first device's change to be under way", || {
        f.state("gam-0000").running.endpoints.len() >= 3
    })
    .await;
    crate::support::process::signal(&child, "INT");
    let out = wait_child(child).await;
    expect_exit(&out, 130);
    assert!(
        crate::support::stderr(&out).contains("stopping: finishing or rolling back"),
        "{}",
        code_and_text(&out).1
    );
    let results = results(&out);
    assert_eq!(results["gam-0000"]["status"], "rolled-back", "{results:?}");
    assert!(
        results["gam-0000"]["message"]
            .as_str()
            .unwrap()
            .contains("the run was stopped after"),
        "{results:?}"
    );
    assert_eq!(results["gam-0001"]["status"], "interrupted", "{results:?}");
    assert_eq!(results["gam-0001"]["sent"], serde_json::json!([]));
    for name in ["gam-0000", "gam-0001"] {
        let state = f.state(name);
        assert!(
            state.running.subscribers.is_empty(),
            "{name} not rolled back"
        );
        assert!(state.running.endpoints.is_empty(), "{name} not rolled back");
        assert_saved(&state);
    }
    let store = f.store().await;
    for name in ["gam-0000", "gam-0001"] {
        assert!(store.lease_holder(name).await.unwrap().is_none(), "{name}");
    }
    store.close().await;
    let history = runs(&f.gamops(&["history", "--format", "json"]).await);
    assert_eq!(history[0]["status"], "interrupted", "{history:?}");

    // Nothing half-applied is left: the next apply converges both devices.
    f.faults(&FaultSettings {
        ssh_latency_ms: Some(0),
        ..FaultSettings::default()
    });
    expect_exit(&f.gamops(&["apply", "--auto-approve"]).await, 0);
    expect_exit(&f.gamops(&["plan", "--detailed-exitcode"]).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_goes_through_a_real_openssh_sshd() {
    crate::support::sshd_as_root();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let dir = d.join("inventory");
    write_fleet(
        &FleetSpec {
            devices: 1,
            subscribers_per_device: 8,
            base_port: FLEET_BASE_PORT,
        },
        &dir,
    )
    .unwrap();
    let name = "gam-0000";
    let model = *Inventory::load_dir(&dir)
        .unwrap()
        .desired
        .device(name)
        .unwrap()
        .model;

    // The device lives in a lab state file: `gamops lab shell`, run by sshd for each login,
    // changes it; an SNMP agent here serves it, re-read as the file changes. (The answers wait
    // 100 ms, so a change written before a command's answer is always served by the next read.)
    let state_file = d.join("lab.json");
    let mut file = gamops::lab::persist::StateFile::new();
    file.devices.insert(
        name.into(),
        gamops::lab::persist::SavedDevice {
            state: DeviceState::factory(model, name),
            host_key: None,
        },
    );
    gamops::lab::persist::save(&state_file, &file).unwrap();
    let view = mib::view_of(&file.devices[name].state, Duration::from_secs(1));
    let faults = Arc::new(SnmpFaults::new());
    faults.set_latency(Duration::from_millis(100), Duration::ZERO);
    let agent = SnmpAgent::start(SnmpAgentConfig::default(), view.clone(), faults)
        .await
        .unwrap();
    let follow = {
        let (path, view) = (state_file.clone(), view.clone());
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                if let Ok(bytes) = std::fs::read(&path)
                    && seen.as_ref() != Some(&bytes)
                    && let Ok(Some(f)) = gamops::lab::persist::load(&path)
                    && let Some(dev) = f.devices.get(name)
                {
                    mib::refresh(&view, &dev.state, Duration::from_secs(1));
                    seen = Some(bytes);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let sshd = crate::support::sshd::LabShellSshd::start(d, &state_file, name);
    let (port, host_fp) = (sshd.port, &sshd.host_fingerprint);

    // The device's SNMP is the agent here, its SSH the sshd, logging in as root with the key.
    let path = dir.join(format!("devices/{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("snmp:\n  port: {FLEET_BASE_PORT}\nssh:\n  port: {}\n", FLEET_BASE_PORT + 1),
        &format!(
            "snmp:\n  port: {}\nssh:\n  port: {port}\n  username: root\n  private_key: file:{}\n  host_key: {host_fp}\n",
            agent.local_addr().port(),
            sshd.client_key.display()
        ),
    );
    assert!(text.contains("private_key"), "{text}");
    std::fs::write(&path, text).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gamops"));
        cmd.env("NO_COLOR", "1")
            .env("GAMOPS_SNMP_COMMUNITY", "public")
            .env("GAMOPS_SSH_PASSWORD", "")
            .env_remove("GAMOPS_STATE_DIR")
            .env_remove("GAMOPS_DATABASE_URL")
            .args(args)
            .arg("--inventory")
            .arg(&dir);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };

    let out = run(&["apply", "--auto-approve", "--format", "json"])
        .await
        .unwrap();
    drop(sshd);
    expect_exit(&out, 0);
    assert_eq!(results(&out)[name]["status"], "applied");
    let saved = gamops::lab::persist::load(&state_file).unwrap().unwrap();
    let state = &saved.devices[name].state;
    assert_eq!(state.running.subscribers.len(), 8);
    assert_saved(state);
    let out = run(&["plan", "--detailed-exitcode"]).await.unwrap();
    expect_exit(&out, 0);
    follow.abort();
    agent.shutdown().await;
}
