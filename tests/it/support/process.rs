//! gamops running in the background as the tests run it: `gamops controller` (its API's address
//! read from its first line) and `gamops lab up` (its device lines), each stopped with SIGTERM
//! as an operator would, and killed if a test ends without stopping it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fleet::{FleetLab, wait_child};
use super::root;

/// How long a process may take to start or stop.
const WAIT: Duration = Duration::from_secs(30);

/// Sends SIGTERM to `child`, as systemd stopping a service would.
pub fn terminate(child: &Child) {
    signal(child, "TERM");
}

/// Sends the signal named `name` (`TERM`, `INT` as Ctrl-C does) to `child`.
pub fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name} {}", child.id());
}

/// SIGTERM, then waits for `child` to end (30 s at most); its exit code.
pub fn stop(child: &mut Child) -> Option<i32> {
    terminate(child);
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            started.elapsed() < WAIT,
            "the command did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The base URL of a controller's API, from the `listening=` word of the first line it prints
/// on its piped standard output.
pub(crate) async fn listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("listening="))
        .unwrap_or_else(|| panic!("no listening line: {line:?}"))
        .to_string()
}

/// The controller, started; its API's base URL.
pub(crate) struct Controller {
    child: Option<Child>,
    pub(crate) base: String,
}

impl Controller {
    /// `gamops controller` on a free port against `f`'s inventory, checking every second.
    pub(crate) async fn start(f: &FleetLab, extra: &[&str]) -> Controller {
        let mut args = vec!["controller", "--listen", "127.0.0.1:0", "--interval", "1s"];
        args.extend_from_slice(extra);
        Controller::spawn(f.command(&args)).await
    }

    pub(crate) async fn spawn(mut command: Command) -> Controller {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let base = listening(&mut child).await;
        Controller {
            child: Some(child),
            base,
        }
    }

    pub(crate) async fn call(&self, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
        let client = reqwest::Client::new();
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "POST" => client.post(&url),
            _ => client.get(&url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Kills it with SIGKILL, as a crash would: nothing of its own shutdown runs.
    pub(crate) fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = child.wait();
        }
    }

    /// Stops it with SIGTERM and returns its output.
    pub(crate) async fn stop(mut self) -> std::process::Output {
        let child = self.child.take().unwrap();
        terminate(&child);
        wait_child(child).await
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `check` until it holds (30 s at most), showing `what` when it never does.
pub(crate) async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `gamops lab up ARGS` running in the background, with its printed device lines.
pub(crate) struct LabProcess {
    child: Child,
    pub(crate) lines: Vec<String>,
}

impl LabProcess {
    pub(crate) fn start(args: &[&str]) -> LabProcess {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("gamops"))
            .arg("lab")
            .arg("up")
            .args(args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(n > 0, "lab up ended early; printed {lines:?}");
            let line = line.trim_end().to_string();
            let done = line.starts_with("admin=");
            lines.push(line);
            if done {
                break;
            }
        }
        LabProcess { child, lines }
    }

    /// `(name, snmp, ssh)` of each device line.
    pub(crate) fn devices(&self) -> Vec<(String, SocketAddr, SocketAddr)> {
        self.lines
            .iter()
            .filter(|l| !l.starts_with("admin="))
            .map(|l| {
                let mut words = l.split_whitespace();
                let name = words.next().unwrap().to_string();
                let snmp = words
                    .next()
                    .unwrap()
                    .strip_prefix("snmp=")
                    .unwrap()
                    .parse()
                    .unwrap();
                let ssh = words
                    .next()
                    .unwrap()
                    .strip_prefix("ssh=")
                    .unwrap()
                    .parse()
                    .unwrap();
                (name, snmp, ssh)
            })
            .collect()
    }

    /// SIGTERM, then the exit code.
    pub(crate) fn stop(mut self) -> Option<i32> {
        stop(&mut self.child)
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
