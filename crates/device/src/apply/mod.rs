//! Apply: converge each device to its plan, safely, through its driver (the SSH CLI or the
//! JSON-RPC API; `driver.rs` is the seam, the rest is written once for both).
//!
//! Per device: read it (the snapshot) and refuse it when its configuration changed since the plan
//! (stale); send the plan's commands in order; read it again and compare with the state the plan
//! intended; save when they match. When a command is refused or the result differs, send the
//! inverse commands from the snapshot, read again, and report the device as rolled back (or,
//! when even that fails, as failed with what was sent). Nothing half-applied is ever saved.
//! Devices are independent: one failing never stops the others, and one whose task panics is
//! reported as failed, never dropped. When the run is cancelled (a signal, a shutdown), devices
//! not started are reported as interrupted with nothing sent, and a device in the middle of its
//! change stops sending and is rolled back.
//!
//! This module changes devices; what surrounds it (which devices, leases, the journal's store,
//! the run record) is `reconcile`'s.

pub mod calls;
pub mod commands;
pub mod driver;
pub mod verify;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::device::live::{LiveDevice, Observation};
use crate::device::snmp::{self, SnmpTarget};
use crate::device::ssh::dialect;

use crate::plan::simulate::apply_changes;
use crate::plan::{Change, fingerprint};
pub use driver::{DriverError, DriverTarget, Session, Step};

/// How many devices `gamops apply` changes at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Everything needed to apply one device's plan.
#[derive(Clone, Debug)]
pub struct DeviceJob {
    pub device: String,
    pub snmp: SnmpTarget,
    /// How changes are sent: the CLI over SSH, or the JSON-RPC API.
    pub driver: DriverTarget,
    /// The model's [`uplink_base`](crate::model::GamModel::uplink_base): names the uplinks in
    /// `nni` options.
    pub uplink_base: u32,
    pub changes: Vec<Change>,
    /// The plan's fingerprint of the device's configuration; None to skip the staleness check
    /// (a plan made and applied in one run).
    pub fingerprint: Option<String>,
    /// How often to try a save that overlaps another one, and the pause between tries.
    pub save_attempts: u32,
    pub save_pause: Duration,
}

/// What happened to one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyStatus {
    Applied,
    NoChanges,
    /// The device changed since the plan; nothing was sent.
    Stale,
    /// A command was refused or the result differed; the device was put back and not saved.
    RolledBack,
    /// The device could not be read, reached, or put back; see the message and the commands sent.
    Failed,
    /// Not planned: the device could not be read when planning.
    Unknown,
    /// A safety limit stopped the device's plan.
    Blocked,
    /// Another apply holds the device's lease.
    LeaseHeld,
    /// The run was stopped before the device's change began; nothing was sent.
    Interrupted,
}

/// An override the caller can grant to let a held-back device go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Remedy {
    /// Go past the safety limits.
    Force,
    /// Trust the device's SSH host key on first contact (none is pinned).
    AcceptNewHostKey,
}

impl DeviceResult {
    /// A device that was never started: nothing was sent to it.
    pub fn skipped(device: &str, status: ApplyStatus, message: impl Into<String>) -> DeviceResult {
        DeviceResult {
            device: device.to_string(),
            status,
            message: message.into(),
            remedy: None,
            sent: Vec::new(),
            timing: Timing::default(),
            new_host_key: None,
        }
    }

    /// With the override that would let the device go ahead.
    pub fn with_remedy(mut self, remedy: Remedy) -> DeviceResult {
        self.remedy = Some(remedy);
        self
    }

    /// A device whose task panicked: a bug in gamops, reported like any failure. What it sent
    /// is in the journal; nothing was saved unless the panic came after the save.
    pub fn panicked(device: &str, error: tokio::task::JoinError) -> DeviceResult {
        let what = if error.is_panic() {
            let payload = error.into_panic();
            payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string())
        } else {
            "the task was cancelled".to_string()
        };
        DeviceResult::skipped(
            device,
            ApplyStatus::Failed,
            format!(
                "gamops failed while applying this device ({what}); this is a bug, please report it; the journal shows what was sent, and the next apply converges"
            ),
        )
    }
}

impl ApplyStatus {
    /// The word for it, as in JSON and the store: `applied`, `rolled-back`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            ApplyStatus::Applied => "applied",
            ApplyStatus::NoChanges => "no-changes",
            ApplyStatus::Stale => "stale",
            ApplyStatus::RolledBack => "rolled-back",
            ApplyStatus::Failed => "failed",
            ApplyStatus::Unknown => "unknown",
            ApplyStatus::Blocked => "blocked",
            ApplyStatus::LeaseHeld => "lease-held",
            ApplyStatus::Interrupted => "interrupted",
        }
    }

    /// Whether the device ended where the plan wanted it.
    pub fn is_success(&self) -> bool {
        matches!(self, ApplyStatus::Applied | ApplyStatus::NoChanges)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceResult {
    pub device: String,
    pub status: ApplyStatus,
    pub message: String,
    /// What would let the device go ahead, when the caller chose not to: a command adds its
    /// flag for it, a controller its setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<Remedy>,
    /// Every line sent to the device, in order (the journal also has them).
    pub sent: Vec<String>,
    /// Where the device's time went (not part of the JSON output).
    #[serde(skip)]
    pub timing: Timing,
    /// The host key the device showed on first contact (its job accepted any key), as an
    /// OpenSSH line: the caller records it in the store, so a later change is refused.
    #[serde(skip)]
    pub new_host_key: Option<String>,
}

/// Where one device's apply spent its time: the share spent waiting on the device (over SNMP
/// and SSH) against the whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// From the start of the device's apply to its result.
    pub total: Duration,
    /// Reading the device over SNMP (the snapshot, the verification, after a rollback).
    pub snmp: Duration,
    /// Opening the session: for the CLI, TCP, the SSH handshake, the login, the first prompt;
    /// for JSON-RPC, the introspection call.
    pub ssh_connect: Duration,
    /// Sending commands (or JSON-RPC calls) and waiting for their answers (saves included).
    pub ssh_commands: Duration,
    /// Commands sent (saves included).
    pub commands: u32,
}

impl Timing {
    /// The time spent waiting on the device, over SNMP and SSH.
    pub fn network(&self) -> Duration {
        self.snmp + self.ssh_connect + self.ssh_commands
    }
}

/// Where each command and its answer are recorded (the store's journal). Implementations must
/// not block for long: they are called from the async executor.
pub trait Journal: Send + Sync {
    fn record(&self, device: &str, command: &str, output: &str, ok: bool);
}

/// A journal that keeps nothing.
pub struct NoJournal;

impl Journal for NoJournal {
    fn record(&self, _: &str, _: &str, _: &str, _: bool) {}
}

/// One device's attempt at its change: what it has sent (for the result and the rollback), and
/// its timings. (A run, in the store, is a whole apply of many devices.)
struct Attempt<'a> {
    job: &'a DeviceJob,
    journal: &'a dyn Journal,
    sent: Vec<String>,
    started: Instant,
    timing: Timing,
    new_host_key: Option<String>,
}

impl Attempt<'_> {
    fn result(mut self, status: ApplyStatus, message: impl Into<String>) -> DeviceResult {
        self.timing.total = self.started.elapsed();
        DeviceResult {
            device: self.job.device.clone(),
            status,
            message: message.into(),
            remedy: None,
            sent: self.sent,
            timing: self.timing,
            new_host_key: self.new_host_key,
        }
    }

    /// Reads the device over SNMP.
    async fn read(&mut self) -> Result<LiveDevice, String> {
        let t = Instant::now();
        let r = read(&self.job.snmp).await;
        self.timing.snmp += t.elapsed();
        r
    }

    async fn connect(&mut self) -> Result<Session, DriverError> {
        let t = Instant::now();
        let r = Session::connect(&self.job.driver).await;
        self.timing.ssh_connect += t.elapsed();
        if let Ok(Session::Cli(session)) = &r
            && let DriverTarget::Cli(cli) = &self.job.driver
            && cli.host_key == crate::device::ssh::HostKeyPolicy::AcceptNew
        {
            self.new_host_key = Some(crate::device::ssh::session::openssh_line(
                session.host_key(),
            ));
        }
        r
    }

    async fn save(&mut self, session: &mut Session) -> Result<(), DriverError> {
        let t = Instant::now();
        let r = session
            .save(self.job.save_attempts, self.job.save_pause)
            .await;
        self.timing.ssh_commands += t.elapsed();
        self.timing.commands += 1;
        r
    }

    async fn send(&mut self, session: &mut Session, step: &Step) -> Result<String, DriverError> {
        let text = step.text();
        self.sent.push(text.clone());
        let t = Instant::now();
        let r = session.send(step).await;
        self.timing.ssh_commands += t.elapsed();
        self.timing.commands += 1;
        match &r {
            Ok(out) => self.journal.record(&self.job.device, &text, out, true),
            Err(e) => self
                .journal
                .record(&self.job.device, &text, &e.to_string(), false),
        }
        r
    }

    /// Sends the step that opens (or closes) a batch, when the driver has one.
    async fn bracket(
        &mut self,
        session: &mut Session,
        step: Option<Step>,
    ) -> Result<(), DriverError> {
        match step {
            Some(step) => self.send(session, &step).await.map(|_| ()),
            None => Ok(()),
        }
    }
}

async fn read(target: &SnmpTarget) -> Result<LiveDevice, String> {
    match snmp::observe(target).await {
        Observation::Live(l) => Ok(*l),
        Observation::Unknown { reason } => Err(reason),
    }
}

/// Applies one device's plan, through the driver its job names. Never panics; every outcome is
/// a [`DeviceResult`]. When `cancel` fires before the first command, nothing is sent
/// (interrupted); once commands were sent, the rest are not, and what was sent is rolled back.
pub async fn apply_device(
    job: &DeviceJob,
    journal: &dyn Journal,
    cancel: &CancellationToken,
) -> DeviceResult {
    let mut attempt = Attempt {
        job,
        journal,
        sent: Vec::new(),
        started: Instant::now(),
        timing: Timing::default(),
        new_host_key: None,
    };
    if job.changes.is_empty() {
        return attempt.result(ApplyStatus::NoChanges, "nothing to change");
    }
    let snapshot = match attempt.read().await {
        Ok(l) => l,
        Err(reason) => {
            return attempt.result(
                ApplyStatus::Failed,
                format!("could not read the device before applying: {reason}"),
            );
        }
    };
    if let Some(planned) = &job.fingerprint {
        let now = fingerprint(&snapshot);
        if &now != planned {
            return attempt.result(
                ApplyStatus::Stale,
                format!("the device changed since the plan (fingerprint {now}, plan {planned}); plan again"),
            );
        }
    }
    let intended = apply_changes(&snapshot, &job.changes);
    // Every step, forward and back, is rendered (and checked) before the first is sent.
    let steps = match driver::render(&job.driver, &job.changes, job.uplink_base) {
        Ok(s) => s,
        Err((i, e)) => {
            let what = &job.changes[i];
            return attempt.result(
                ApplyStatus::Failed,
                format!(
                    "nothing sent: the {} {} cannot be written safely: {e}",
                    what.kind.noun(),
                    dialect::escape_debug(&what.key)
                ),
            );
        }
    };

    if cancel.is_cancelled() {
        return attempt.result(
            ApplyStatus::Interrupted,
            "the run was stopped before this device's change began; nothing was sent",
        );
    }
    let mut session = match attempt.connect().await {
        Ok(c) => c,
        Err(e) => {
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            let what = match job.driver {
                DriverTarget::Cli(_) => "could not open the CLI",
                DriverTarget::JsonRpc(_) => "could not open the JSON-RPC API",
            };
            return attempt.result(ApplyStatus::Failed, format!("{what}: {e}{hint}"));
        }
    };
    // The firmware must offer every method the change (and its undo, and the save) needs.
    if let Session::Rpc(rpc) = &session
        && let Some(missing) = rpc.missing(steps.methods())
    {
        let e = crate::device::jsonrpc::RpcError::MissingMethod {
            method: missing.to_string(),
            firmware: snapshot
                .system
                .firmware()
                .unwrap_or(snapshot.system.descr.as_str())
                .to_string(),
        };
        let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
        session.close().await;
        return attempt.result(ApplyStatus::Failed, format!("{e}{hint}"));
    }

    // Forward, in the plan's order.
    let mut done = 0;
    let mut failure = None;
    let total = job.changes.len();
    let lost = |e: &DriverError, done: usize| {
        if e.is_session_lost() {
            format!(
                "the device became unreachable mid-apply, after {done} of {total} change(s) were sent: {e}"
            )
        } else {
            e.to_string()
        }
    };
    if let Err(e) = {
        let step = session.begin();
        attempt.bracket(&mut session, step).await
    } {
        failure = Some(lost(&e, 0));
    } else {
        for step in &steps.forward {
            if cancel.is_cancelled() {
                failure = Some(format!(
                    "the run was stopped after {done} of {total} change(s) were sent"
                ));
                break;
            }
            let Some(step) = step else {
                continue;
            };
            match attempt.send(&mut session, step).await {
                Ok(_) => done += 1,
                Err(e) => {
                    failure = Some(lost(&e, done));
                    break;
                }
            }
        }
    }
    let _ = {
        let step = session.end();
        attempt.bracket(&mut session, step).await
    };

    // Verify over SNMP against the intended state.
    if failure.is_none() {
        match attempt.read().await {
            Ok(now) => {
                if let Some(diff) = verify::difference(&now, &intended) {
                    failure = Some(format!("the device did not end up as planned: {diff}"));
                }
            }
            Err(reason) => {
                failure = Some(format!(
                    "could not read the device after applying: {reason}"
                ))
            }
        }
    }
    let Some(reason) = failure else {
        let save = session.save_text();
        return match attempt.save(&mut session).await {
            Ok(()) => {
                attempt.sent.push(save.clone());
                journal.record(&job.device, &save, "saved", true);
                session.close().await;
                attempt.result(
                    ApplyStatus::Applied,
                    format!("{done} change(s) applied and saved"),
                )
            }
            Err(e) => {
                journal.record(&job.device, &save, &e.to_string(), false);
                attempt.result(
                    ApplyStatus::Failed,
                    // The next plan reads the running configuration, finds nothing to change and
                    // so saves nothing: the message must not promise that another apply saves.
                    format!("applied and verified, but not saved: {e}; the device runs the change, but a reboot would lose it: save it on the device (copy running-config startup-config); another apply finds nothing to change and does not save"),
                )
            }
        };
    };

    // Roll back what was sent (a refused command changed nothing), newest first.
    let mut rollback_error = None;
    if {
        let step = session.begin();
        attempt.bracket(&mut session, step).await
    }
    .is_ok()
    {
        for step in steps.inverse[..done.min(steps.inverse.len())].iter().rev() {
            if let Some(step) = step
                && let Err(e) = attempt.send(&mut session, step).await
            {
                rollback_error = Some(e.to_string());
            }
        }
        let _ = {
            let step = session.end();
            attempt.bracket(&mut session, step).await
        };
    } else {
        rollback_error = Some("the CLI session was lost".to_string());
    }
    session.close().await;
    let back = match attempt.read().await {
        Ok(now) => verify::difference(&now, &snapshot),
        Err(e) => Some(format!("could not read the device: {e}")),
    };
    match (rollback_error, back) {
        (None, None) => attempt.result(ApplyStatus::RolledBack, format!("{reason}; rolled back, nothing saved")),
        (e, d) => attempt.result(
            ApplyStatus::Failed,
            format!(
                "{reason}; the rollback did not complete ({}); nothing was saved, so a reboot restores the saved configuration, and the next apply converges",
                e.or(d).unwrap_or_default()
            ),
        ),
    }
}

/// Runs `each` for every job, at most `concurrency` at once, and returns one result per job in
/// the order of `jobs`, calling `progress` as each ends. Jobs start in the order of `jobs` (the
/// controller puts the devices a commit touched first; with `--concurrency 1` the order is the
/// order of the run): a job is spawned only when a slot is free, rather than every task racing
/// for a permit, which on a multi-threaded runtime starts them in any order. A job whose task
/// panics is a failed result naming the panic, never a missing one. Once `cancel` fires, jobs
/// not yet started end [`ApplyStatus::Interrupted`] without running; `each` decides what a started
/// job does with it.
pub async fn run_each<F, Fut>(
    jobs: Vec<DeviceJob>,
    concurrency: usize,
    cancel: &CancellationToken,
    each: F,
    progress: impl Fn(usize, usize, &DeviceResult),
) -> Vec<DeviceResult>
where
    F: Fn(DeviceJob) -> Fut,
    Fut: Future<Output = DeviceResult> + Send + 'static,
{
    let total = jobs.len();
    let mut waiting = jobs.into_iter().enumerate().peekable();
    let mut tasks = tokio::task::JoinSet::new();
    let mut names = std::collections::HashMap::new();
    let mut results = Vec::with_capacity(total);
    let done = |index: usize, result: DeviceResult, results: &mut Vec<_>| {
        progress(results.len() + 1, total, &result);
        results.push((index, result));
    };
    loop {
        if cancel.is_cancelled() {
            for (i, job) in waiting.by_ref() {
                let result = DeviceResult::skipped(
                    &job.device,
                    ApplyStatus::Interrupted,
                    "the run was stopped before this device's change began; nothing was sent",
                );
                done(i, result, &mut results);
            }
        }
        while tasks.len() < concurrency.max(1)
            && let Some((i, job)) = waiting.next()
        {
            let name = job.device.clone();
            let handle = tasks.spawn(each(job));
            names.insert(handle.id(), (i, name));
        }
        let joined = tokio::select! {
            biased;
            joined = tasks.join_next_with_id() => joined,
            () = cancel.cancelled(), if waiting.peek().is_some() => continue,
        };
        let Some(joined) = joined else { break };
        let (id, result) = match joined {
            Ok((id, r)) => (id, r),
            Err(e) => {
                let id = e.id();
                let device = names.get(&id).map(|(_, d)| d.clone()).unwrap_or_default();
                (id, DeviceResult::panicked(&device, e))
            }
        };
        let index = names.get(&id).map_or(usize::MAX, |(i, _)| *i);
        done(index, result, &mut results);
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Applies many devices with [`apply_device`], at most `concurrency` at once; results in the
/// order of `jobs` (see [`run_each`]). No leases and no run record: `reconcile` adds those.
pub async fn apply_all(
    jobs: Vec<DeviceJob>,
    concurrency: usize,
    journal: Arc<dyn Journal>,
    cancel: &CancellationToken,
    progress: impl Fn(usize, usize, &DeviceResult),
) -> Vec<DeviceResult> {
    let each = |job: DeviceJob| {
        let journal = journal.clone();
        let cancel = cancel.clone();
        async move { apply_device(&job, journal.as_ref(), &cancel).await }
    };
    run_each(jobs, concurrency, cancel, each, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::snmp::Security;
    use crate::device::ssh::{CliAuth, HostKeyPolicy};
    use crate::secret::Secret;

    fn job(device: &str) -> DeviceJob {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
        DeviceJob {
            device: device.to_string(),
            snmp: SnmpTarget::new(
                addr,
                Security::V2c {
                    community: Secret::new("public"),
                },
            ),
            driver: DriverTarget::Cli(crate::device::ssh::CliTarget {
                addr,
                username: "admin".into(),
                auth: CliAuth::Password(Secret::new("")),
                host_key: HostKeyPolicy::AcceptNew,
                connect_timeout: Duration::from_secs(1),
                command_timeout: Duration::from_secs(1),
            }),
            uplink_base: 1_000_024,
            changes: Vec::new(),
            fingerprint: None,
            save_attempts: 1,
            save_pause: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn a_device_whose_task_panics_is_a_failed_result_in_its_place() {
        let jobs = vec![job("gam-a"), job("gam-b"), job("gam-c")];
        let seen = std::sync::Mutex::new(Vec::new());
        let results = run_each(
            jobs,
            2,
            &CancellationToken::new(),
            |job| async move {
                assert!(job.device != "gam-b", "the parser tripped on gam-b");
                DeviceResult::skipped(&job.device, ApplyStatus::Applied, "ok")
            },
            |done, total, r| seen.lock().unwrap().push((done, total, r.device.clone())),
        )
        .await;
        let got: Vec<(&str, &ApplyStatus)> = results
            .iter()
            .map(|r| (r.device.as_str(), &r.status))
            .collect();
        assert_eq!(
            got,
            [
                ("gam-a", &ApplyStatus::Applied),
                ("gam-b", &ApplyStatus::Failed),
                ("gam-c", &ApplyStatus::Applied)
            ]
        );
        assert!(
            results[1]
                .message
                .contains("(the parser tripped on gam-b); this is a bug"),
            "{}",
            results[1].message
        );
        let seen = seen.into_inner().unwrap();
        assert_eq!(
            seen.len(),
            3,
            "progress for every device, the panicked one too"
        );
        assert!(seen.iter().any(|(_, _, d)| d == "gam-b"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn jobs_start_in_their_order_whatever_the_runtime_does() {
        for concurrency in [1, 2] {
            for _ in 0..50 {
                let started = Arc::new(std::sync::Mutex::new(Vec::new()));
                let jobs: Vec<DeviceJob> = (0..6).map(|i| job(&format!("gam-{i}"))).collect();
                run_each(
                    jobs,
                    concurrency,
                    &CancellationToken::new(),
                    |job| {
                        let started = started.clone();
                        async move {
                            started.lock().unwrap().push(job.device.clone());
                            tokio::task::yield_now().await;
                            DeviceResult::skipped(&job.device, ApplyStatus::Applied, "ok")
                        }
                    },
                    |_, _, _| {},
                )
                .await;
                let started = started.lock().unwrap().clone();
                if concurrency == 1 {
                    let want: Vec<String> = (0..6).map(|i| format!("gam-{i}")).collect();
                    assert_eq!(started, want);
                } else {
                    // Two at a time: a job never starts before the one two places earlier.
                    for (at, name) in started.iter().enumerate() {
                        let i: usize = name[4..].parse().unwrap();
                        assert!(i <= at + 1, "{started:?}");
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn devices_not_started_when_cancelled_are_interrupted_and_never_run() {
        let cancel = CancellationToken::new();
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let results = run_each(
            vec![job("gam-a"), job("gam-b"), job("gam-c")],
            1,
            &cancel,
            |job| {
                let cancel = cancel.clone();
                let ran = ran.clone();
                async move {
                    ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // The first device to run stops the run (as a signal would).
                    cancel.cancel();
                    DeviceResult::skipped(&job.device, ApplyStatus::Applied, "ok")
                }
            },
            |_, _, _| {},
        )
        .await;
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(results.len(), 3);
        let interrupted = results
            .iter()
            .filter(|r| r.status == ApplyStatus::Interrupted && r.sent.is_empty())
            .count();
        assert_eq!(interrupted, 2, "{results:?}");
    }
}
