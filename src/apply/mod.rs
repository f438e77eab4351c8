//! Apply: converge each device to its plan over the SSH CLI, safely.
//!
//! Per device: read it (the snapshot) and refuse it when its configuration changed since the plan
//! (stale); send the plan's commands in order; read it again and compare with the state the plan
//! intended; save when they match. When a command is refused or the result differs, send the
//! inverse commands from the snapshot, read again, and report the device as rolled back (or,
//! when even that fails, as failed with what was sent). Nothing half-applied is ever saved.
//! Devices are independent: one failing never stops the others.

pub mod commands;
pub mod verify;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::device::cli::{CliError, CliSession, CliTarget, dialect};
use crate::device::live::{LiveDevice, Observation};
use crate::device::snmp::{self, SnmpTarget};
use crate::plan::simulate::apply_changes;
use crate::plan::{Change, fingerprint};

/// How many devices `gamops apply` changes at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Everything needed to apply one device's plan.
#[derive(Clone, Debug)]
pub struct DeviceJob {
    pub device: String,
    pub snmp: SnmpTarget,
    pub cli: CliTarget,
    /// 1000000 + the model's G.hn port count: names the uplinks in `nni` options.
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
pub enum Status {
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
}

impl Status {
    /// Whether the device ended where the plan wanted it.
    pub fn is_success(&self) -> bool {
        matches!(self, Status::Applied | Status::NoChanges)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceResult {
    pub device: String,
    pub status: Status,
    pub message: String,
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
    /// Opening the CLI session: TCP, the SSH handshake, the login, the first prompt.
    pub ssh_connect: Duration,
    /// Sending commands and waiting for their answers (saves included).
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

struct Run<'a> {
    job: &'a DeviceJob,
    journal: &'a dyn Journal,
    sent: Vec<String>,
    started: Instant,
    timing: Timing,
    new_host_key: Option<String>,
}

impl Run<'_> {
    fn result(mut self, status: Status, message: impl Into<String>) -> DeviceResult {
        self.timing.total = self.started.elapsed();
        DeviceResult {
            device: self.job.device.clone(),
            status,
            message: message.into(),
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

    async fn connect(&mut self) -> Result<CliSession, CliError> {
        let t = Instant::now();
        let r = CliSession::connect(&self.job.cli).await;
        self.timing.ssh_connect += t.elapsed();
        if let Ok(session) = &r
            && self.job.cli.host_key == crate::device::cli::HostKeyPolicy::AcceptNew
        {
            self.new_host_key = Some(crate::device::cli::session::openssh_line(
                session.host_key(),
            ));
        }
        r
    }

    async fn save(&mut self, cli: &mut CliSession) -> Result<(), CliError> {
        let t = Instant::now();
        let r = cli.save(self.job.save_attempts, self.job.save_pause).await;
        self.timing.ssh_commands += t.elapsed();
        self.timing.commands += 1;
        r
    }

    async fn send(&mut self, cli: &mut CliSession, line: &str) -> Result<String, CliError> {
        self.sent.push(line.to_string());
        let t = Instant::now();
        let r = cli.run(line).await;
        self.timing.ssh_commands += t.elapsed();
        self.timing.commands += 1;
        match &r {
            Ok(out) => self.journal.record(&self.job.device, line, out, true),
            Err(e) => self
                .journal
                .record(&self.job.device, line, &e.to_string(), false),
        }
        r
    }
}

async fn read(target: &SnmpTarget) -> Result<LiveDevice, String> {
    match snmp::observe(target).await {
        Observation::Live(l) => Ok(*l),
        Observation::Unknown { reason } => Err(reason),
    }
}

/// Applies one device's plan. Never panics; every outcome is a [`DeviceResult`].
pub async fn apply_device(job: &DeviceJob, journal: &dyn Journal) -> DeviceResult {
    let mut run = Run {
        job,
        journal,
        sent: Vec::new(),
        started: Instant::now(),
        timing: Timing::default(),
        new_host_key: None,
    };
    if job.changes.is_empty() {
        return run.result(Status::NoChanges, "nothing to change");
    }
    let snapshot = match run.read().await {
        Ok(l) => l,
        Err(reason) => {
            return run.result(
                Status::Failed,
                format!("could not read the device before applying: {reason}"),
            );
        }
    };
    if let Some(planned) = &job.fingerprint {
        let now = fingerprint(&snapshot);
        if &now != planned {
            return run.result(
                Status::Stale,
                format!("the device changed since the plan (fingerprint {now}, plan {planned}); plan again"),
            );
        }
    }
    let intended = apply_changes(&snapshot, &job.changes);
    // Every line, forward and back, is rendered (and checked) before the first is sent.
    let lines = match commands::render(&job.changes, job.uplink_base) {
        Ok(l) => l,
        Err((i, e)) => {
            let what = &job.changes[i];
            return run.result(
                Status::Failed,
                format!(
                    "nothing sent: the {} {} cannot be written safely: {e}",
                    what.kind.noun(),
                    dialect::escape_debug(&what.key)
                ),
            );
        }
    };

    let mut cli = match run.connect().await {
        Ok(c) => c,
        Err(e) => {
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            return run.result(Status::Failed, format!("could not open the CLI: {e}{hint}"));
        }
    };

    // Forward, in the plan's order.
    let mut done = 0;
    let mut failure = None;
    let total = job.changes.len();
    let lost = |e: &CliError, done: usize| {
        if e.is_session_lost() {
            format!(
                "the device became unreachable mid-apply, after {done} of {total} change(s) were sent: {e}"
            )
        } else {
            e.to_string()
        }
    };
    if let Err(e) = run.send(&mut cli, dialect::CONFIGURE).await {
        failure = Some(lost(&e, 0));
    } else {
        for line in &lines.forward {
            let Some(line) = line else {
                continue;
            };
            match run.send(&mut cli, line).await {
                Ok(_) => done += 1,
                Err(e) => {
                    failure = Some(lost(&e, done));
                    break;
                }
            }
        }
    }
    let _ = run.send(&mut cli, dialect::END).await;

    // Verify over SNMP against the intended state.
    if failure.is_none() {
        match run.read().await {
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
        return match run.save(&mut cli).await {
            Ok(()) => {
                run.sent.push(dialect::SAVE.to_string());
                journal.record(&job.device, dialect::SAVE, "saved", true);
                cli.close().await;
                run.result(
                    Status::Applied,
                    format!("{done} change(s) applied and saved"),
                )
            }
            Err(e) => {
                journal.record(&job.device, dialect::SAVE, &e.to_string(), false);
                run.result(
                    Status::Failed,
                    format!("applied and verified, but not saved: {e}; a reboot would lose the changes, apply again to save"),
                )
            }
        };
    };

    // Roll back what was sent (a refused command changed nothing), newest first.
    let mut rollback_error = None;
    if run.send(&mut cli, dialect::CONFIGURE).await.is_ok() {
        for line in lines.inverse[..done.min(lines.inverse.len())].iter().rev() {
            if let Some(line) = line
                && let Err(e) = run.send(&mut cli, line).await
            {
                rollback_error = Some(e.to_string());
            }
        }
        let _ = run.send(&mut cli, dialect::END).await;
    } else {
        rollback_error = Some("the CLI session was lost".to_string());
    }
    cli.close().await;
    let back = match run.read().await {
        Ok(now) => verify::difference(&now, &snapshot),
        Err(e) => Some(format!("could not read the device: {e}")),
    };
    match (rollback_error, back) {
        (None, None) => run.result(Status::RolledBack, format!("{reason}; rolled back, nothing saved")),
        (e, d) => run.result(
            Status::Failed,
            format!(
                "{reason}; the rollback did not complete ({}); nothing was saved, so a reboot restores the saved configuration, and the next apply converges",
                e.or(d).unwrap_or_default()
            ),
        ),
    }
}

/// Applies many devices, at most `concurrency` at once; results in the order of `jobs`.
pub async fn apply_all(
    jobs: Vec<DeviceJob>,
    concurrency: usize,
    journal: std::sync::Arc<dyn Journal>,
    progress: impl Fn(usize, usize, &DeviceResult),
) -> Vec<DeviceResult> {
    let total = jobs.len();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let limit = limit.clone();
        let journal = journal.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, apply_device(&job, journal.as_ref()).await)
        });
    }
    let mut results = Vec::with_capacity(total);
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, r)) = joined {
            progress(results.len() + 1, total, &r);
            results.push((i, r));
        }
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
