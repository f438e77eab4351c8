//! A lab fleet for the tests: a generated inventory served by an in-process lab, the `gamops`
//! binary pointed at it, and the checks most apply tests end with. A new apply test is
//!
//! ```ignore
//! let f = FleetLab::start(2, 5, Duration::from_secs(1)).await;
//! let out = f.gamops(&["apply", "--auto-approve"]).await;
//! expect_exit(&out, 0);
//! assert_saved(&f.state("gam-0000"));
//! ```

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use gamops::lab::control::FaultSettings;
use gamops::lab::device::DeviceState;
use gamops::lab::device::config::render as render_config;
use gamops::lab::runtime::{Lab, LabDevice, LabOptions};
use gamops::lab::testbed::{Testbed, TestbedSpec};
use gamops::model::Driver;
use gamops::store::{Store, StoreLocation};

/// A lab serving a generated fleet (factory-empty devices), and that fleet's inventory pointing
/// at it with each device's host key pinned.
pub(crate) struct FleetLab {
    pub(crate) lab: Arc<Lab>,
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) dir: PathBuf,
}

impl FleetLab {
    pub(crate) async fn start(
        devices: usize,
        subscribers: usize,
        reboot_downtime: Duration,
    ) -> FleetLab {
        FleetLab::start_with(devices, subscribers, reboot_downtime, Driver::Cli).await
    }

    /// [`FleetLab::start`] with the fleet's changes sent through `driver`.
    pub(crate) async fn start_with(
        devices: usize,
        subscribers: usize,
        reboot_downtime: Duration,
        driver: Driver,
    ) -> FleetLab {
        let tmp = tempfile::tempdir().unwrap();
        let bed = Testbed::start(
            &TestbedSpec {
                devices,
                subscribers_per_device: subscribers,
                options: LabOptions {
                    reboot_downtime,
                    ..LabOptions::default()
                },
                driver,
                ..TestbedSpec::default()
            },
            &tmp.path().join("inventory"),
        )
        .await
        .unwrap();
        FleetLab {
            lab: bed.lab,
            tmp,
            dir: bed.dir,
        }
    }

    pub(crate) fn device(&self, name: &str) -> &Arc<LabDevice> {
        self.lab.device(name).unwrap()
    }

    pub(crate) fn state(&self, name: &str) -> DeviceState {
        self.device(name).state().lock().unwrap().clone()
    }

    pub(crate) fn faults(&self, f: &FaultSettings) {
        for d in self.lab.devices() {
            d.apply_faults(f).unwrap();
        }
    }

    /// `gamops ARGS --inventory DIR`, ready to run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_command(args);
        cmd.arg("--inventory").arg(&self.dir);
        cmd
    }

    /// `gamops ARGS` with the lab's credentials, naming no inventory.
    pub(crate) fn bare_command(&self, args: &[&str]) -> Command {
        lab_command(args)
    }

    /// Runs `gamops ARGS` to its end without holding up the lab's tasks.
    pub(crate) async fn gamops(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    pub(crate) async fn store(&self) -> Store {
        Store::open(&StoreLocation::Sqlite(self.tmp.path().join(".gamops")))
            .await
            .unwrap()
    }

    pub(crate) fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in {file}:\n{text}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
}

pub(crate) fn code_and_text(out: &Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        format!(
            "{}{}",
            crate::support::stdout(out),
            crate::support::stderr(out)
        ),
    )
}

/// Asserts the exit code, showing the output when it differs.
pub(crate) fn expect_exit(out: &Output, code: i32) -> String {
    let (got, text) = code_and_text(out);
    assert_eq!(got, Some(code), "{text}");
    crate::support::stdout(out)
}

/// The saved configuration is the running one: nothing applied is left unsaved.
pub(crate) fn assert_saved(state: &DeviceState) {
    assert!(!state.is_dirty(), "unsaved changes on {}", state.hostname());
    assert_eq!(state.startup, render_config(&state.running));
}

/// Every object once: no duplicate names or MACs.
pub(crate) fn assert_no_duplicates(state: &DeviceState) {
    let names: std::collections::BTreeSet<_> = state
        .running
        .subscribers
        .values()
        .map(|s| &s.name)
        .collect();
    assert_eq!(
        names.len(),
        state.running.subscribers.len(),
        "duplicate subscribers"
    );
    let macs: std::collections::BTreeSet<_> =
        state.running.endpoints.values().map(|e| e.mac).collect();
    assert_eq!(
        macs.len(),
        state.running.endpoints.len(),
        "duplicate endpoints"
    );
    let profiles: std::collections::BTreeSet<_> =
        state.running.profiles.values().map(|p| &p.name).collect();
    assert_eq!(
        profiles.len(),
        state.running.profiles.len(),
        "duplicate profiles"
    );
}

/// Waits (up to 60 s) until `done` holds, polling.
pub(crate) async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a child process without holding up the lab's tasks.
pub(crate) async fn wait_child(child: std::process::Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// `gamops ARGS` with a lab's credentials (SNMP community `public`, the SSH password empty) and
/// nothing from the environment choosing an inventory, a store or colours.
pub(crate) fn lab_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("gamops"));
    cmd.current_dir(crate::support::root())
        .env("NO_COLOR", "1")
        .env("GAMOPS_SNMP_COMMUNITY", "public")
        .env("GAMOPS_SSH_PASSWORD", "")
        .env_remove("GAMOPS_INVENTORY")
        .env_remove("GAMOPS_STATE_DIR")
        .env_remove("GAMOPS_DATABASE_URL")
        .args(args);
    cmd
}
