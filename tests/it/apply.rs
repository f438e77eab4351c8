//! Apply against a lab GAM over real SNMP and SSH: converge and save, roll back a refused command,
//! refuse a stale device, never save half an apply.

use std::sync::Arc;
use std::time::Duration;

use gamops::apply::{DeviceJob, NoJournal, Status, apply_device};
use gamops::device::cli::{CliAuth, CliTarget, HostKeyPolicy};
use gamops::device::credentials::Secret;
use gamops::device::live::Observation;
use gamops::device::snmp::{Security, SnmpTarget, observe};
use gamops::inventory::Inventory;
use gamops::lab::device::state::DeviceState;
use gamops::lab::device::{SharedDevice, share};
use gamops::lab::mib;
use gamops::lab::snmp::{SnmpAgent, SnmpAgentConfig, SnmpFaults};
use gamops::lab::ssh::{HostKey, SshServerConfig, SshServerHandle, serve};
use gamops::model::{Desired, GamModel, Subscriber};
use gamops::plan::diff::{DiffOptions, diff};
use gamops::plan::{fingerprint, target_for};

use crate::support::{Gam, temp_inventory};

/// A lab GAM with its SNMP agent and SSH server, the SNMP view following the CLI.
struct LabGam {
    device: SharedDevice,
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
        Arc::new(Gam::new(device.clone(), Some(view))),
    )
    .unwrap();
    LabGam { device, agent, ssh }
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
        cli: CliTarget {
            addr: lab.ssh.local_addr(),
            username: "admin".into(),
            auth: CliAuth::Password(Secret::new(password)),
            host_key: HostKeyPolicy::Pinned(lab.ssh.host_key().fingerprint_sha256()),
            connect_timeout: Duration::from_secs(20),
            command_timeout: Duration::from_secs(20),
        },
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
    let r = apply_device(&job1, &NoJournal).await;
    assert_eq!(r.status, Status::Applied, "{}", r.message);
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
    let r = apply_device(&job2, &NoJournal).await;
    assert_eq!((r.status, r.sent.len()), (Status::NoChanges, 0));
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
    let r = apply_device(&job, &NoJournal).await;
    assert_eq!(r.status, Status::RolledBack, "{}", r.message);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_changed_since_the_plan_is_stale() {
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam4Cx, "campus-gam2").await;
    let (mut job, _) = job(&lab, &desired, "campus-gam2", "");
    job.fingerprint = Some("sha256:0000".into());
    let r = apply_device(&job, &NoJournal).await;
    assert_eq!(
        (r.status, r.sent.len()),
        (Status::Stale, 0),
        "{}",
        r.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_a_save_that_never_frees_are_failures() {
    let (_tmp, desired) = inventory();
    let lab = lab_gam(GamModel::Gam4Cx, "campus-gam2").await;
    let (job1, _) = job(&lab, &desired, "campus-gam2", "wrong");
    let r = apply_device(&job1, &NoJournal).await;
    assert_eq!(r.status, Status::Failed);
    assert!(
        r.message.contains("login as admin refused"),
        "{}",
        r.message
    );

    let (job2, _) = job(&lab, &desired, "campus-gam2", "");
    lab.device.lock().unwrap().set_save_in_progress(true);
    let r = apply_device(&job2, &NoJournal).await;
    assert_eq!(r.status, Status::Failed, "{}", r.message);
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
