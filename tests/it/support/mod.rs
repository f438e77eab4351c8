//! Helpers shared by the integration tests: running the binary, temporary inventories, git.

pub mod fleet;
pub mod process;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The project root (tests run with it as the current folder, but be explicit).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `gamops` binary built for this test run, run from the project root.
pub fn gamops() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("gamops").expect("gamops binary");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("GAMOPS_INVENTORY");
    cmd
}

/// Copies a folder tree (files and folders only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A temporary copy of the project's example inventory.
pub fn temp_inventory() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory");
    copy_tree(&root().join("inventory"), &inv);
    (dir, inv)
}

/// Runs the `git` CLI in `dir`, failing the test on error.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.net")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.net")
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The simulated GAM's CLI behind the lab's SSH server: each login gets an ICLI session, and the
/// SNMP view (when given) is refreshed after every command, as a real GAM's tables follow its
/// running config.
pub struct Gam {
    device: gamops::lab::device::SharedDevice,
    view: Option<gamops::lab::snmp::MibView>,
}

impl Gam {
    pub fn new(
        device: gamops::lab::device::SharedDevice,
        view: Option<gamops::lab::snmp::MibView>,
    ) -> Gam {
        Gam { device, view }
    }
}

struct Icli {
    session: gamops::lab::device::Session,
    device: gamops::lab::device::SharedDevice,
    view: Option<gamops::lab::snmp::MibView>,
}

impl gamops::lab::terminal::Shell for Icli {
    fn prompt(&self) -> String {
        self.session.prompt()
    }

    fn execute(&mut self, line: &str) -> gamops::lab::terminal::Reply {
        let r = self.session.execute(line);
        if let Some(view) = &self.view {
            gamops::lab::mib::refresh(
                view,
                &self.device.lock().unwrap(),
                std::time::Duration::from_secs(1),
            );
        }
        let is_error = r.text.lines().any(|l| l.trim_start().starts_with('%'));
        gamops::lab::terminal::Reply {
            text: r.text,
            page_lines: r.page_lines,
            close: r.close,
            is_error,
        }
    }
}

impl gamops::lab::terminal::ShellFactory for Gam {
    fn open(
        &self,
        _user: &str,
    ) -> Result<Box<dyn gamops::lab::terminal::Shell>, gamops::lab::terminal::Refusal> {
        Ok(Box::new(Icli {
            session: gamops::lab::device::Session::new(self.device.clone()),
            device: self.device.clone(),
            view: self.view.clone(),
        }))
    }
}

/// Whether the tests run as root.
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Fails `test` with what to do when it does not run as root (it changes to another user).
pub fn require_root(test: &str) {
    assert!(
        is_root(),
        "{test} needs root (it runs gamops as another user): run it as root, as bash .ci/run does"
    );
}

/// OpenSSH's `sshd`, for the tests that run it as root (CI installs it and runs as root); a
/// machine without either fails the test with what to do, rather than skipping it.
pub fn sshd_as_root() -> &'static std::path::Path {
    let sshd = std::path::Path::new("/usr/sbin/sshd");
    assert!(
        sshd.exists() && is_root(),
        "needs root and /usr/sbin/sshd: run as root after `apt-get install -y openssh-server` (bash .ci/run does both)"
    );
    let _ = std::fs::create_dir_all("/run/sshd");
    sshd
}

/// Runs `check` (insta assertions on a command's output) with what changes from run to run
/// replaced by a fixed word: temporary paths, loopback ports, commit ids, times and durations.
/// The snapshots are in `tests/it/snapshots/`; after an intended change of output, review it
/// with `cargo insta review` (or run with `INSTA_UPDATE=always` and read the diff).
pub fn redacted<R>(check: impl FnOnce() -> R) -> R {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in [
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\b[0-9a-f]{40}\b", "[commit]"),
        (r"\(([0-9a-f]{8})\)", "([commit])"),
        (r" on [0-9a-f]{8}\b", " on [commit]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
        (r"\b\d+(\.\d+)? ?(ms|s)\b", "[duration]"),
    ] {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(check)
}

/// A loopback port free for both UDP and TCP now (a lab's ports are SNMP's and SSH's): a
/// TCP-only probe once handed the lab a UDP port another test held. (There is a small race
/// until the server binds it.)
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
