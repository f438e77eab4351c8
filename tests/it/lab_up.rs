//! `gamops lab up` and the running lab over real sockets: the binary with net-snmp and OpenSSH,
//! every fault kind through the admin HTTP API, the example inventory converged, the state file
//! across a restart, and `gamops lab shell` as a real sshd's forced command.
//!
//! Needs net-snmp's tools (`snmp`) and OpenSSH's client; the sshd test also needs
//! `openssh-server` and root, and is skipped (with a message) without them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gamops::inventory::Inventory;
use gamops::lab::admin;
use gamops::lab::device::DeviceState;
use gamops::lab::device::state::{DetectedCpe, Subscriber};
use gamops::lab::runtime::{DeviceConfig, Lab, LabOptions};
use gamops::lab::seed::converged_state;
use gamops::lab::ssh::HostKey;
use gamops::model::GamModel;
use russh::{ChannelMsg, client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::process::LabProcess;
use crate::support::{root, temp_inventory};

const WAIT: Duration = Duration::from_secs(30);
const SUBSCRIBER_TABLE: &str = "1.3.6.1.4.1.20095.2001.143.1.2.40";
const PROFILE_TABLE: &str = "1.3.6.1.4.1.20095.2001.143.1.2.30";
const SYS_NAME: &str = "1.3.6.1.2.1.1.5.0";
const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";

// ---------------------------------------------------------------------------------------------
// Helpers: net-snmp, HTTP, russh, OpenSSH, the binary.

/// Runs a net-snmp tool against `addr` (v2c `public`); `patient` retries, else one short try.
fn snmp(tool: &str, addr: SocketAddr, oid: &str, patient: bool) -> Output {
    let timing: &[&str] = if patient {
        &["-t", "3", "-r", "3"]
    } else {
        &["-t", "1", "-r", "0"]
    };
    Command::new(tool)
        .args(["-v2c", "-c", "public", "-On"])
        .args(timing)
        .arg(format!("udp:{addr}"))
        .arg(oid)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install -y snmp): {e}"))
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One HTTP/1.1 request to the admin interface; returns the status and body.
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn post(addr: SocketAddr, path: &str, body: &str) -> String {
    let (status, body) = http(addr, "POST", path, Some(body)).await;
    assert!((200..300).contains(&status), "POST {path}: {status} {body}");
    body
}

struct AnyKey;

impl client::Handler for AnyKey {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// Password login as admin (empty password): Ok(session), or Err(()) when refused.
async fn login(addr: SocketAddr) -> Result<client::Handle<AnyKey>, ()> {
    let mut session = tokio::time::timeout(
        WAIT,
        client::connect(Arc::new(client::Config::default()), addr, AnyKey),
    )
    .await
    .expect("connect timed out")
    .map_err(|_| ())?;
    let auth = tokio::time::timeout(WAIT, session.authenticate_password("admin", ""))
        .await
        .expect("auth timed out")
        .map_err(|_| ())?;
    if auth.success() { Ok(session) } else { Err(()) }
}

/// Types `lines` into a piped (no PTY) shell and returns everything printed until it closes.
async fn cli(addr: SocketAddr, lines: &[&str]) -> String {
    let session = login(addr).await.expect("login");
    let mut channel = session.channel_open_session().await.unwrap();
    channel.request_shell(true).await.unwrap();
    let mut input = lines.join("\n");
    input.push_str("\nexit\nexit\n");
    channel.data(input.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => got.extend_from_slice(&data),
            Ok(Some(ChannelMsg::Close)) | Ok(None) => break,
            Ok(Some(_)) => {}
            Err(_) => panic!("CLI timed out; got {:?}", String::from_utf8_lossy(&got)),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A device with three subscribers on detected CPEs, saved.
fn small_device(name: &str) -> DeviceState {
    let mut d = DeviceState::factory(GamModel::Gam12C, name);
    for id in 1..=3u16 {
        let mut s = Subscriber::new(id);
        s.name = format!("sub-{id}");
        s.vid = 100 + id;
        d.running.subscribers.insert(id, s);
    }
    d.detect_cpe(DetectedCpe::walk_example());
    d.save();
    d
}

/// A lab of `states`, with its admin interface.
async fn lab_of(states: Vec<DeviceState>, downtime: Duration) -> (Arc<Lab>, SocketAddr) {
    let configs = states
        .into_iter()
        .map(|s| {
            let name = s.hostname().to_string();
            DeviceConfig::factory(name, s, HostKey::generate().unwrap())
        })
        .collect();
    let lab = Lab::start(
        configs,
        LabOptions {
            reboot_downtime: downtime,
            ssh_idle_timeout: None,
        },
    )
    .await
    .unwrap();
    let handle = admin::serve(
        lab.clone(),
        "127.0.0.1:0".parse().unwrap(),
        lab.shutdown_token(),
    )
    .await
    .unwrap();
    (lab, handle.local_addr())
}

fn gamops_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("gamops")
}

/// OpenSSH's client running `command` as admin with an empty password (via SSH_ASKPASS).
fn openssh(dir: &Path, addr: SocketAddr, command: &str) -> Output {
    let askpass = dir.join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho\n").unwrap();
    let mut perms = std::fs::metadata(&askpass).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&askpass, perms).unwrap();
    Command::new("ssh")
        .args(["-F", "/dev/null", "-p", &addr.port().to_string()])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=keyboard-interactive,password",
            "-o",
            "ConnectTimeout=20",
        ])
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .env_remove("SSH_AUTH_SOCK")
        .arg(format!("admin@{}", addr.ip()))
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .expect("OpenSSH client (apt-get install -y openssh-client)")
}

// ---------------------------------------------------------------------------------------------
// The binary.

#[test]
fn lab_up_devices_3_serves_snmp_and_ssh_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let lab = LabProcess::start(&["--devices", "3", "--base-port", "0"]);
    let devices = lab.devices();
    assert_eq!(devices.len(), 3, "{:?}", lab.lines);
    assert!(
        lab.lines[3].starts_with("admin=http://127.0.0.1:"),
        "{:?}",
        lab.lines
    );
    for (name, snmp_addr, ssh_addr) in &devices {
        assert!(snmp_addr.ip().is_loopback() && ssh_addr.ip().is_loopback());
        let out = snmp("snmpget", *snmp_addr, SYS_NAME, true);
        assert!(text(&out).contains(&format!("\"{name}\"")), "{out:?}");
    }
    let (name, _, ssh_addr) = &devices[1];
    let out = openssh(dir.path(), *ssh_addr, "show running-config");
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out).contains(&format!("hostname {name}\n")),
        "{out:?}"
    );
    assert_eq!(lab.stop(), Some(0));
}

#[test]
fn lab_up_json_names_ports_and_host_keys() {
    let mut child = Command::new(gamops_bin())
        .args([
            "lab",
            "up",
            "--devices",
            "2",
            "--base-port",
            "0",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(
        doc["admin"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let devices = doc["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["name"], "gam-0000");
    assert!(
        devices[0]["host_key_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );
    assert!(devices[0]["ssh_port"].as_u64().unwrap() > 0);
}

#[test]
fn lab_up_refuses_a_non_loopback_inventory() {
    let (_tmp, inv) = temp_inventory();
    let file = inv.join("devices/campus-gam2.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let yaml = yaml
        .lines()
        .map(|l| {
            if l.starts_with("address:") {
                "address: \"192.0.2.7\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&file, yaml + "\n").unwrap();
    let out = Command::new(gamops_bin())
        .args(["lab", "up", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("campus-gam2") && err.contains("192.0.2.7") && err.contains("loopback"),
        "{err}"
    );
}

/// The example inventory, converged: every subscriber shows over SNMP; the state file keeps
/// saved and unsaved changes across a restart.
#[test]
fn inventory_converged_then_state_survives_a_restart() {
    let (tmp, inv) = temp_inventory();
    let state = tmp.path().join("lab-state.json");
    let inv_arg = inv.to_str().unwrap();
    let state_arg = state.to_str().unwrap();
    let lab = LabProcess::start(&[
        "--inventory",
        inv_arg,
        "--seed",
        "converged",
        "--state",
        state_arg,
    ]);
    let devices = lab.devices();
    let desired = Inventory::load_dir(&inv).unwrap().desired;
    assert_eq!(devices.len(), desired.devices.len());
    for (name, snmp_addr, _) in &devices {
        let expected = converged_state(&desired, name, 0).unwrap();
        assert!(!expected.running.subscribers.is_empty());
        let walk = text(&snmp("snmpbulkwalk", *snmp_addr, SUBSCRIBER_TABLE, true));
        for s in expected.running.subscribers.values() {
            assert!(
                walk.contains(&format!("\"{}\"", s.name)),
                "{name}: {} not in the walk",
                s.name
            );
        }
    }
    let (name, _, ssh_addr) = devices[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let out = cli(
            ssh_addr,
            &[
                "configure terminal",
                "ghn bw-profile 14 name \"saved-p\" rate-downstream 50 rate-upstream 50",
                "do copy running-config startup-config",
                "ghn bw-profile 15 name \"unsaved-p\" rate-downstream 60 rate-upstream 60",
            ],
        )
        .await;
        assert!(out.contains("% Saving"), "{out}");
    });
    assert_eq!(lab.stop(), Some(0));
    assert!(state.exists());

    // Restart from the state file (the seed no longer matters for these devices).
    let lab = LabProcess::start(&["--inventory", inv_arg, "--state", state_arg]);
    let (_, _, ssh_addr) = lab.devices().into_iter().find(|d| d.0 == name).unwrap();
    let running = openssh(dir.path(), ssh_addr, "show running-config");
    let startup = openssh(dir.path(), ssh_addr, "show startup-config");
    assert!(
        text(&running).contains("unsaved-p") && text(&running).contains("saved-p"),
        "{running:?}"
    );
    assert!(
        text(&startup).contains("saved-p") && !text(&startup).contains("unsaved-p"),
        "{startup:?}"
    );
    assert_eq!(lab.stop(), Some(0));
}

/// Issue 11 (1): `lab up --seed empty`, then `plan --out` and `apply PLAN --accept-new-host-keys`
/// with the README's lab credentials, converges every device of inventory/ in one run (the
/// port-aware bldg-7-gam1 gets its subscriber model first), and the next plan is empty.
#[test]
fn apply_from_an_empty_lab_converges_the_whole_inventory() {
    let (tmp, inv) = temp_inventory();
    // Free ports instead of the example's fixed ones, so tests may run side by side.
    for entry in std::fs::read_dir(inv.join("devices")).unwrap() {
        let path = entry.unwrap().path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        for fixed in 16101..=16106 {
            let line = format!("  port: {fixed}\n");
            if text.contains(&line) {
                text = text.replace(&line, &format!("  port: {}\n", crate::support::free_port()));
            }
        }
        std::fs::write(&path, text).unwrap();
    }
    let inv_arg = inv.to_str().unwrap();
    let lab = LabProcess::start(&["--inventory", inv_arg, "--seed", "empty"]);
    assert_eq!(lab.devices().len(), 3);
    let gamops = |args: &[&str]| {
        Command::new(gamops_bin())
            .current_dir(tmp.path())
            .env("NO_COLOR", "1")
            .env("GAMOPS_SNMP_COMMUNITY", "public")
            .env("GAMOPS_SSH_PASSWORD", "")
            .env("GAMOPS_SNMP_AUTH", "authpass123")
            .env("GAMOPS_SNMP_PRIV", "privpass123")
            .env_remove("GAMOPS_INVENTORY")
            .env_remove("GAMOPS_STATE_DIR")
            .env_remove("GAMOPS_DATABASE_URL")
            .args(args)
            .args(["--inventory", inv_arg])
            .output()
            .unwrap()
    };
    let plan_file = tmp.path().join("p.json");
    let out = gamops(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let planned = text(&out);
    assert!(
        planned.contains("subscriber_model: endpoint-aware -> port-aware"),
        "{planned}"
    );
    let out = gamops(&[
        "apply",
        plan_file.to_str().unwrap(),
        "--accept-new-host-keys",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = gamops(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("No changes: the devices match the inventory."),
        "{}",
        text(&out)
    );
    assert_eq!(lab.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// The walk-seeded lab against a third-party agent serving the same walk.

/// Where snmpsim's command responder is: `GAMOPS_SNMPSIM`, else `/opt/snmpsim/bin/`.
const SNMPSIM_DEFAULT: &str = "/opt/snmpsim/bin/snmpsim-command-responder";
const SNMPSIM_INSTALL: &str =
    "/usr/bin/python3 -m venv /opt/snmpsim && /opt/snmpsim/bin/pip install snmpsim pysmi";

/// snmpsim (PyPI) serving `walk` as community `public` on a free UDP port, as `nobody`.
struct Snmpsim {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Snmpsim {
    fn start(walk: &str) -> Snmpsim {
        let bin = std::env::var_os("GAMOPS_SNMPSIM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SNMPSIM_DEFAULT));
        assert!(
            bin.is_file(),
            "snmpsim is missing ({} does not exist): install it with `{SNMPSIM_INSTALL}` (Debian's python3; `apt-get install -y python3-venv` if venv is missing), or set GAMOPS_SNMPSIM",
            bin.display()
        );
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cache = dir.path().join("cache");
        for d in [&data, &cache] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(data.join("public.snmprec"), walk).unwrap();
        // snmpsim drops to nobody: it must read the data and write its index.
        for (p, mode) in [
            (dir.path().to_path_buf(), 0o755),
            (data.clone(), 0o755),
            (data.join("public.snmprec"), 0o644),
            (cache.clone(), 0o777),
        ] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(dir.path().join("snmpsim.log")).unwrap();
        let child = Command::new(&bin)
            .arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg(format!("--agent-udpv4-endpoint={addr}"))
            .args(["--process-user=nobody", "--process-group=nogroup"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {}: {e} (install: `{SNMPSIM_INSTALL}`)",
                    bin.display()
                )
            });
        let sim = Snmpsim {
            child,
            addr,
            _dir: dir,
        };
        let started = Instant::now();
        while !snmp("snmpget", addr, SYS_NAME, false).status.success() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "snmpsim did not answer on {addr}; its log: {}",
                std::fs::read_to_string(sim._dir.path().join("snmpsim.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        sim
    }
}

impl Drop for Snmpsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `snmpbulkwalk -On` of `subtree`, one line per object, normalised where a recorded walk and a
/// live agent cannot agree: the values of counters and time ticks (kept: the OID and the type),
/// the GAM's statistics (`.143.1.5`, all zero in the lab), the ports' uptime strings (time since
/// boot), and sysContact, sysName and sysLocation (redacted as `<private>` in the real walk).
fn normalised_walk(addr: SocketAddr, subtree: &str) -> Vec<String> {
    let out = Command::new("snmpbulkwalk")
        .args(["-v2c", "-c", "public", "-On", "-Cc", "-t", "5", "-r", "2"])
        .arg(addr.to_string())
        .arg(subtree)
        .output()
        .unwrap_or_else(|e| panic!("cannot run snmpbulkwalk (apt-get install -y snmp): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    const MASKED: &[&str] = &[
        ".1.3.6.1.2.1.1.4.0",
        ".1.3.6.1.2.1.1.5.0",
        ".1.3.6.1.2.1.1.6.0",
        ".1.3.6.1.4.1.20095.2001.143.1.3.10.20.1.60.",
        ".1.3.6.1.4.1.20095.2001.143.1.5.",
    ];
    text(&out)
        .lines()
        .filter(|l| !l.contains("No more variables left in this MIB View"))
        .map(|l| {
            let Some((oid, value)) = l.split_once(" = ") else {
                return l.to_string();
            };
            let kind = value.split_once(':').map_or(value, |(k, _)| k);
            let dynamic = ["Counter32", "Counter64", "Timeticks"].contains(&kind);
            if MASKED.iter().any(|m| oid.starts_with(m)) {
                // net-snmp prints an empty string without its type.
                format!("{oid} = <masked>")
            } else if dynamic {
                format!("{oid} = {kind}: <masked>")
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// Issue 11 (6): `gamops lab up --from-walk` answers like snmpsim serving the same real walk,
/// line for line through net-snmp: the system group, IF-MIB (the VLAN interfaces 8, 88, 4060
/// and 4093 included) and the GAM's G.hn agent tree (subscriber 1's Uid 2 included).
#[test]
fn the_walk_seeded_lab_answers_like_snmpsim_serving_the_walk() {
    let walk_path = root().join("tests/fixtures/gam12c-walk.snmprec");
    let walk = std::fs::read_to_string(&walk_path).unwrap();
    let sim = Snmpsim::start(&walk);
    let lab = LabProcess::start(&[
        "--from-walk",
        walk_path.to_str().unwrap(),
        "--base-port",
        "0",
    ]);
    let (_, lab_addr, _) = lab.devices()[0].clone();
    for subtree in [
        ".1.3.6.1.2.1.1",
        ".1.3.6.1.2.1.2",
        ".1.3.6.1.2.1.31",
        ".1.3.6.1.4.1.20095.2001.143.1",
    ] {
        let want = normalised_walk(sim.addr, subtree);
        let got = normalised_walk(lab_addr, subtree);
        assert!(want.len() > 5, "{subtree}: snmpsim served {want:?}");
        let (w, g): (Vec<&str>, Vec<&str>) = (
            want.iter().map(String::as_str).collect(),
            got.iter().map(String::as_str).collect(),
        );
        let diff: Vec<String> = similar::TextDiff::from_slices(&w, &g)
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| format!("{}{}", c.tag(), c.value()))
            .collect();
        assert!(
            diff.is_empty(),
            "{subtree}: the lab (+) differs from snmpsim (-) serving the same walk:\n{}",
            diff.join("\n")
        );
    }
    // What the issue saw missing, now there.
    let ifs = normalised_walk(lab_addr, ".1.3.6.1.2.1.2");
    let ghn = normalised_walk(lab_addr, ".1.3.6.1.4.1.20095.2001.143.1.2.40");
    for (lines, want) in [
        (&ifs, ".1.3.6.1.2.1.2.2.1.2.4060 = STRING: \"VLAN 4060\""),
        (&ifs, ".1.3.6.1.2.1.2.2.1.7.88 = INTEGER: 1"),
        (
            &ghn,
            ".1.3.6.1.4.1.20095.2001.143.1.2.40.1.20.1 = Gauge32: 2",
        ),
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} not served");
    }
    assert_eq!(lab.stop(), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Faults through the admin interface, one test per kind.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_latency_delays_snmp_answers() {
    let (lab, admin) = lab_of(vec![small_device("lat")], Duration::from_secs(1)).await;
    let addr = lab.devices()[0].snmp_addr();
    let body = post(
        admin,
        "/devices/lat/faults",
        r#"{"snmp_latency_ms": 400, "snmp_jitter_ms": 50}"#,
    )
    .await;
    assert!(body.contains("\"snmp_latency_ms\":400"), "{body}");
    let t = Instant::now();
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", addr, SYS_NAME, true))
        .await
        .unwrap();
    assert!(text(&out).contains("\"lat\""), "{out:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    // Cleared, even a latency of a minute no longer applies: snmpget's own tries (3 s each, 4 in
    // all) get an answer, which they could not with the latency in place.
    post(
        admin,
        "/devices/lat/faults",
        r#"{"snmp_latency_ms": 60000}"#,
    )
    .await;
    let (status, _) = http(admin, "DELETE", "/devices/lat/faults", None).await;
    assert_eq!(status, 200);
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", addr, SYS_NAME, true))
        .await
        .unwrap();
    assert!(text(&out).contains("\"lat\""), "{out:?}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_loss_drops_snmp_requests() {
    let (lab, admin) = lab_of(vec![small_device("loss")], Duration::from_secs(1)).await;
    let addr = lab.devices()[0].snmp_addr();
    post(
        admin,
        "/devices/loss/faults",
        r#"{"snmp_loss_percent": 100}"#,
    )
    .await;
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", addr, SYS_NAME, false))
        .await
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    post(admin, "/devices/loss/faults", r#"{"snmp_loss_percent": 0}"#).await;
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", addr, SYS_NAME, true))
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (status, body) = http(
        admin,
        "POST",
        "/devices/loss/faults",
        Some(r#"{"snmp_loss_percent": 101}"#),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_snmp_timeout_on_one_table_only() {
    let (lab, admin) = lab_of(vec![small_device("tbl")], Duration::from_secs(1)).await;
    let addr = lab.devices()[0].snmp_addr();
    post(
        admin,
        "/devices/tbl/faults",
        &format!(r#"{{"snmp_timeout_oids": [".{SUBSCRIBER_TABLE}"]}}"#),
    )
    .await;
    let out =
        tokio::task::spawn_blocking(move || snmp("snmpbulkwalk", addr, SUBSCRIBER_TABLE, false))
            .await
            .unwrap();
    assert!(!text(&out).contains("sub-1"), "{out:?}");
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", addr, SYS_NAME, false))
        .await
        .unwrap();
    assert!(text(&out).contains("\"tbl\""), "{out:?}");
    post(admin, "/devices/tbl/faults", r#"{"snmp_timeout_oids": []}"#).await;
    let out =
        tokio::task::spawn_blocking(move || snmp("snmpbulkwalk", addr, SUBSCRIBER_TABLE, true))
            .await
            .unwrap();
    assert!(text(&out).contains("\"sub-1\""), "{out:?}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_refused_and_slow_ssh_logins() {
    let (lab, admin) = lab_of(vec![small_device("log")], Duration::from_secs(1)).await;
    let addr = lab.devices()[0].ssh_addr();
    post(
        admin,
        "/devices/log/faults",
        r#"{"ssh_refuse_logins": true}"#,
    )
    .await;
    assert!(login(addr).await.is_err(), "a refused login succeeded");
    post(
        admin,
        "/devices/log/faults",
        r#"{"ssh_refuse_logins": false, "ssh_login_delay_ms": 1200}"#,
    )
    .await;
    let t = Instant::now();
    assert!(login(addr).await.is_ok());
    assert!(
        t.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        t.elapsed()
    );
    // Cleared, even a delay of two minutes no longer applies (30 s guards against a hang).
    post(
        admin,
        "/devices/log/faults",
        r#"{"ssh_login_delay_ms": 120000}"#,
    )
    .await;
    http(admin, "DELETE", "/devices/log/faults", None).await;
    let login = tokio::time::timeout(Duration::from_secs(30), login(addr))
        .await
        .expect("the cleared login delay still applied");
    assert!(login.is_ok());
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_failing_command_and_save_in_progress() {
    let (lab, admin) = lab_of(vec![small_device("cmd")], Duration::from_secs(1)).await;
    let addr = lab.devices()[0].ssh_addr();
    post(
        admin,
        "/devices/cmd/faults",
        r#"{"fail_command": {"pattern": "ghn subscriber 1 "}}"#,
    )
    .await;
    let out = cli(
        addr,
        &[
            "configure terminal",
            "ghn subscriber 1 vid 555",
            "ghn subscriber 2 vid 556",
        ],
    )
    .await;
    assert!(
        out.contains("% Error querying G.hn device. May be missing or busy."),
        "{out}"
    );
    {
        let dev = lab.devices()[0].state().lock().unwrap();
        assert_eq!(
            dev.running.subscribers[&1].vid, 101,
            "the failed command changed nothing"
        );
        assert_eq!(dev.running.subscribers[&2].vid, 556);
    }
    post(
        admin,
        "/devices/cmd/faults",
        r#"{"save_in_progress": true}"#,
    )
    .await;
    let out = cli(addr, &["copy running-config startup-config"]).await;
    assert!(
        out.contains("% Another load/save operation is already in progress"),
        "{out}"
    );
    post(
        admin,
        "/devices/cmd/faults",
        r#"{"save_in_progress": false}"#,
    )
    .await;
    let out = cli(addr, &["copy running-config startup-config"]).await;
    assert!(out.contains("% Saving"), "{out}");
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_loses_unsaved_changes_and_is_unreachable_for_a_while() {
    let (lab, admin) = lab_of(vec![small_device("rb")], Duration::from_millis(2500)).await;
    let dev = lab.devices()[0].clone();
    let (snmp_addr, ssh_addr) = (dev.snmp_addr(), dev.ssh_addr());
    // An unsaved change, visible over SNMP at once (the view follows the CLI).
    let out = cli(
        ssh_addr,
        &[
            "configure terminal",
            "ghn bw-profile 9 name \"lost-on-reboot\" rate-downstream 20 rate-upstream 20",
        ],
    )
    .await;
    assert!(!out.contains('%'), "{out}");
    let walk =
        tokio::task::spawn_blocking(move || snmp("snmpbulkwalk", snmp_addr, PROFILE_TABLE, true))
            .await
            .unwrap();
    assert!(text(&walk).contains("lost-on-reboot"), "{walk:?}");
    // An open session is closed by the reboot.
    let session = login(ssh_addr).await.unwrap();
    let mut channel = session.channel_open_session().await.unwrap();
    channel.request_shell(true).await.unwrap();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = post(admin, "/devices/rb/reboot", r#"{"downtime_ms": 2500}"#).await;
    assert!(body.contains("\"rebooting\":true"), "{body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", snmp_addr, SYS_NAME, false))
        .await
        .unwrap();
    assert!(
        !out.status.success(),
        "SNMP answered while rebooting: {out:?}"
    );
    assert!(
        tokio::net::TcpStream::connect(ssh_addr).await.is_err(),
        "SSH accepted while rebooting"
    );
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(msg) = channel.wait().await {
            if matches!(msg, ChannelMsg::Close) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the open session stayed open");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let out = tokio::task::spawn_blocking(move || snmp("snmpget", snmp_addr, SYS_UPTIME, true))
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ticks: u64 = text(&out)
        .split(['(', ')'])
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(ticks < 1000, "uptime restarted at boot: {ticks}");
    let walk =
        tokio::task::spawn_blocking(move || snmp("snmpbulkwalk", snmp_addr, PROFILE_TABLE, true))
            .await
            .unwrap();
    assert!(!text(&walk).contains("lost-on-reboot"), "{walk:?}");
    assert!(login(ssh_addr).await.is_ok(), "SSH is back");

    // `reload cold` from the CLI does the same.
    let out = cli(ssh_addr, &["reload cold"]).await;
    assert!(out.contains("Cold reload in progress"), "{out}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!dev.is_online());
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_visible_over_snmp() {
    let (lab, admin) = lab_of(vec![small_device("dr")], Duration::from_secs(1)).await;
    let addr = lab.devices()[0].snmp_addr();
    post(
        admin,
        "/devices/dr/drift",
        r#"{"subscriber": 2, "name": "changed-by-hand", "vid": 3999}"#,
    )
    .await;
    let walk =
        tokio::task::spawn_blocking(move || snmp("snmpbulkwalk", addr, SUBSCRIBER_TABLE, true))
            .await
            .unwrap();
    assert!(text(&walk).contains("\"changed-by-hand\""), "{walk:?}");
    assert!(!text(&walk).contains("\"sub-2\""), "{walk:?}");
    let (status, body) = http(
        admin,
        "POST",
        "/devices/dr/drift",
        Some(r#"{"subscriber": 77, "vid": 5}"#),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = http(admin, "POST", "/devices/nope/reboot", Some("{}")).await;
    assert_eq!(status, 404);
    let (status, body) = http(admin, "GET", "/devices", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"name\":\"dr\""), "{body}");
    lab.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// `gamops lab shell` as the forced command of a real OpenSSH sshd.

#[test]
fn lab_shell_runs_as_a_forced_command_of_openssh_sshd() {
    crate::support::sshd_as_root();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let state = d.join("lab.json");
    let mut file = gamops::lab::persist::StateFile::new();
    file.devices.insert(
        "gam-fc".into(),
        gamops::lab::persist::SavedDevice {
            state: DeviceState::factory(GamModel::Gam4Cx, "gam-fc"),
            host_key: None,
        },
    );
    gamops::lab::persist::save(&state, &file).unwrap();
    let sshd = crate::support::sshd::LabShellSshd::start(d, &state, "gam-fc");
    let port = sshd.port;
    let session = |input: &str| {
        let mut child = Command::new("ssh")
            .args(["-F", "/dev/null", "-T", "-p", &port.to_string(), "-i"])
            .arg(&sshd.client_key)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "root@127.0.0.1",
            ])
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = session(
        "terminal length 0\nconfigure terminal\nghn bw-profile 3 name \"forced\" rate-downstream 40 rate-upstream 40\nend\ncopy running-config startup-config\nexit\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out).starts_with("gam-fc#"), "{out:?}");
    assert!(text(&out).contains("% Saving"), "{out:?}");
    let saved = gamops::lab::persist::load(&state).unwrap().unwrap();
    assert!(saved.devices["gam-fc"].state.startup.contains("forced"));
    // A second login sees the saved configuration.
    let out = session("show startup-config\nexit\n");
    assert!(
        text(&out).contains("ghn bw-profile 3 name \"forced\""),
        "{out:?}"
    );
}
