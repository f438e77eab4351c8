//! Applying a plan: gate each device's changes, take its lease, apply, journal, and record the
//! run with every device's outcome.
//!
//! A device's lease is taken just before its change starts and released as soon as it ends, so
//! a long run holds only the devices it is changing. The run record promises to be alive for
//! one lease TTL and is renewed with the leases; a run whose process died reads as abandoned
//! once that time (and so every lease it held) has passed.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::apply::{
    ApplyStatus, DeviceJob, DeviceResult, DriverTarget, Journal, Remedy, apply_device, run_each,
};
use crate::device::jsonrpc::JsonRpcTarget;
use crate::device::snmp;
use crate::device::ssh::{CliAuth, CliTarget, HostKeyPolicy};
use crate::model::device::SshSettings;
use crate::model::{Desired, Device, Driver, JsonRpcSettings, parse_certificate_fingerprint};
use crate::plan::{Change, Outcome, Plan};
use crate::secret::{Secret, resolve};
use crate::store::{
    DeviceOutcomeRecord, DeviceStatus, LeaseError, NewRun, RunId, RunStatus, Store,
};

use super::ReconcileError;
use super::journal::StoreJournal;

/// How an apply goes about it.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Go past the safety limits (a plan made with them overridden is applied as such anyway).
    pub force: bool,
    /// Trust a device's SSH host key on first contact when the inventory pins none.
    pub accept_new_host_keys: bool,
    /// Devices changed at once.
    pub concurrency: usize,
    /// How long a device's lease (and the run's promise to be alive) lasts without renewal;
    /// both are renewed every third of it while the run goes on.
    pub lease_ttl: Duration,
    /// Only these devices of the plan (empty: all of them).
    pub devices: Vec<String>,
    /// Who applies: `user@host`, or a controller's name. Recorded, and part of each lease's
    /// owner.
    pub actor: String,
    /// What started the run: a command line, or a controller's trigger. Recorded.
    pub trigger: String,
    /// A lease (key, owner) that must still be held before each device's change begins: a
    /// controller's leadership. A device reached after it was lost gets nothing.
    pub fence: Option<(String, String)>,
}

/// What an apply did.
#[derive(Clone, Debug)]
pub struct ApplyReport {
    /// The run recorded in the store; `None` when the plan had nothing to change.
    pub run: Option<RunId>,
    /// How the run ended, as recorded.
    pub status: RunStatus,
    /// One per device of the plan that had changes or could not be planned, in the plan's
    /// order.
    pub results: Vec<DeviceResult>,
    /// Trouble with the records rather than the devices (the store refused an outcome, the
    /// run could not be marked finished). Each device's own trouble is in its result.
    pub warnings: Vec<String>,
}

impl ApplyReport {
    /// Whether every device ended where the plan wanted it.
    pub fn is_success(&self) -> bool {
        self.results.iter().all(|r| r.status.is_success())
    }
}

/// Applies `plan` to the devices of `desired`: per device, check the plan's gate (read, within
/// the safety limits, reachable with credentials), take its lease, send the changes in order,
/// verify, save, or roll back; record the run, each outcome and every command in `store`.
/// `progress(done, total, result)` is called as each device ends.
///
/// Fails only when the run cannot be recorded at all (the store refuses to start it); once
/// devices may have been changed, store trouble becomes [`ApplyReport::warnings`] instead, so
/// no result is ever lost.
pub async fn apply(
    plan: &Plan,
    desired: &Desired,
    store: &Store,
    options: &ApplyOptions,
    cancel: &CancellationToken,
    progress: impl Fn(usize, usize, &DeviceResult),
) -> Result<ApplyReport, ReconcileError> {
    if !plan.has_changes() {
        return Ok(ApplyReport {
            run: None,
            status: RunStatus::Succeeded,
            results: Vec::new(),
            warnings: Vec::new(),
        });
    }
    let (jobs, mut results) = gate(plan, desired, store, options).await;

    let run = store
        .start_run(&NewRun {
            actor: options.actor.clone(),
            command: options.trigger.clone(),
            commit: plan.commit.clone(),
            plan_summary: Some(format!(
                "{} device(s): {} to create, {} to update, {} to delete",
                plan.devices.len(),
                plan.summary.creates,
                plan.summary.updates,
                plan.summary.deletes
            )),
            alive_for: Some(options.lease_ttl),
        })
        .await?;
    let alive = store.keep_run_alive(run, options.lease_ttl);
    let owner = format!("{} run {} pid {}", options.actor, run.0, std::process::id());

    let (journal, writer) = StoreJournal::start(store.clone(), run);
    let each = {
        let store = store.clone();
        let ttl = options.lease_ttl;
        let cancel = cancel.clone();
        let fence = options.fence.clone();
        move |job: DeviceJob| {
            let store = store.clone();
            let owner = owner.clone();
            let journal = journal.clone();
            let cancel = cancel.clone();
            let fence = fence.clone();
            async move {
                if let Some((key, holder)) = &fence
                    && let Some(why) = fenced(&store, key, holder).await
                {
                    return DeviceResult::skipped(&job.device, ApplyStatus::Failed, why);
                }
                with_lease(job, store, owner, ttl, journal, cancel).await
            }
        }
    };
    let applied = run_each(jobs, options.concurrency, cancel, each, progress).await;
    let gaps = writer.finish().await;

    // A key accepted on first contact is recorded: a later change of it is refused.
    let mut key_warnings = Vec::new();
    for r in &applied {
        if let Some(key) = &r.new_host_key {
            match store.remember_host_key(&r.device, key).await {
                Ok(kept) if kept != *key => key_warnings.push(format!(
                    "{} showed a host key on first contact that differs from the one another run recorded meanwhile; check the device",
                    r.device
                )),
                Ok(_) => {}
                Err(e) => key_warnings.push(format!(
                    "the host key of {} could not be recorded: {e}",
                    r.device
                )),
            }
        }
    }
    results.extend(applied);
    results.sort_by_key(|r| plan.devices.iter().position(|d| d.device == r.device));
    let mut warnings = key_warnings;
    for r in &mut results {
        if let Some((n, why)) = gaps.get(&r.device) {
            r.message.push_str(&format!(
                "; {n} command(s) sent to it could not be recorded in the journal ({why})"
            ));
        }
    }
    if let Some((_, why)) = gaps.get("") {
        warnings.push(why.clone());
    }
    for r in &results {
        let record = DeviceOutcomeRecord {
            status: device_status(&r.status),
            message: r.message.clone(),
            changes: changes_for(plan, &r.device),
            commands: r.sent.len() as u64,
        };
        if let Err(e) = store.record_outcome(run, &r.device, &record).await {
            warnings.push(format!(
                "the outcome of {} could not be recorded in run {}: {e}",
                r.device, run.0
            ));
        }
    }
    // A stop that came after every device ended well interrupted nothing.
    let status = if cancel.is_cancelled() && !results.iter().all(|r| r.status.is_success()) {
        RunStatus::Interrupted
    } else if results.iter().all(|r| r.status.is_success()) {
        RunStatus::Succeeded
    } else if results.iter().any(|r| r.status.is_success()) {
        RunStatus::Partial
    } else {
        RunStatus::Failed
    };
    alive.stop().await;
    if let Err(e) = store.finish_run(run, status).await {
        warnings.push(format!(
            "run {} could not be marked {status}: {e}; it will read as abandoned",
            run.0
        ));
    }
    Ok(ApplyReport {
        run: Some(run),
        status,
        results,
        warnings,
    })
}

/// Why a device must not be changed because the fence lease is no longer `holder`'s; `None`
/// when it still is.
async fn fenced(store: &Store, key: &str, holder: &str) -> Option<String> {
    match store.lease_holder(key).await {
        Ok(Some((owner, _))) if owner == holder => None,
        Ok(Some((owner, _))) => Some(format!(
            "not changed: {owner} holds the lease `{key}` now, not {holder}; nothing was sent"
        )),
        Ok(None) => Some(format!(
            "not changed: the lease `{key}` of {holder} has expired; nothing was sent"
        )),
        Err(e) => Some(format!(
            "not changed: the lease `{key}` could not be checked ({e}); nothing was sent"
        )),
    }
}

/// One device, under its lease: taken before the first command, renewed while the change
/// goes on, released when it ends (also when the device's task panics).
async fn with_lease(
    job: DeviceJob,
    store: Store,
    owner: String,
    ttl: Duration,
    journal: Arc<dyn Journal>,
    cancel: CancellationToken,
) -> DeviceResult {
    let device = job.device.clone();
    let lease = match store.acquire_lease(&device, &owner, ttl).await {
        Ok(lease) => lease,
        Err(LeaseError::Held {
            owner, expires_at, ..
        }) => {
            return DeviceResult::skipped(
                &device,
                ApplyStatus::LeaseHeld,
                format!(
                    "another apply holds the device ({owner}, until {expires_at}); nothing was sent"
                ),
            );
        }
        Err(e) => {
            return DeviceResult::skipped(
                &device,
                ApplyStatus::Failed,
                format!("could not take the device's lease: {e}; nothing was sent"),
            );
        }
    };
    let keeper = store.keep_leases(vec![lease], ttl);
    let task = tokio::spawn(async move { apply_device(&job, journal.as_ref(), &cancel).await });
    let mut result = task
        .await
        .unwrap_or_else(|e| DeviceResult::panicked(&device, e));
    let kept = keeper.stop().await;
    if kept.lost.contains(&device) {
        result.message.push_str(
            "; warning: the device's lease expired and was taken by another apply meanwhile, so plan again",
        );
    }
    for lease in kept.leases {
        if let Err(e) = store.release_lease(lease).await {
            result.message.push_str(&format!(
                "; the device's lease could not be released ({e}), so it stays held until it expires"
            ));
        }
    }
    result
}

/// Decides per device of the plan whether it goes ahead: the jobs to run, and the results of
/// the devices held back (not read, not planned, over a safety limit, not reachable).
async fn gate(
    plan: &Plan,
    desired: &Desired,
    store: &Store,
    options: &ApplyOptions,
) -> (Vec<DeviceJob>, Vec<DeviceResult>) {
    let mut jobs = Vec::new();
    let mut held = Vec::new();
    for d in &plan.devices {
        if !options.devices.is_empty() && !options.devices.contains(&d.device) {
            continue;
        }
        let (fingerprint, changes, violations) = match &d.outcome {
            Outcome::Planned {
                fingerprint,
                changes,
                violations,
                ..
            } => (fingerprint, changes, violations),
            Outcome::Unknown { reason } => {
                held.push(DeviceResult::skipped(
                    &d.device,
                    ApplyStatus::Unknown,
                    format!("not planned: the device could not be read ({reason})"),
                ));
                continue;
            }
            Outcome::Error { message, .. } => {
                held.push(DeviceResult::skipped(
                    &d.device,
                    ApplyStatus::Failed,
                    format!("not planned: {message}"),
                ));
                continue;
            }
        };
        if changes.is_empty() {
            continue;
        }
        if !violations.is_empty() && !plan.forced && !options.force {
            let why: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
            held.push(
                DeviceResult::skipped(
                    &d.device,
                    ApplyStatus::Blocked,
                    format!("blocked by a safety limit: {}", why.join("; ")),
                )
                .with_remedy(Remedy::Force),
            );
            continue;
        }
        let Some(dev) = desired.device(&d.device) else {
            held.push(DeviceResult::skipped(
                &d.device,
                ApplyStatus::Failed,
                "not in the inventory",
            ));
            continue;
        };
        // A host key recorded on first contact pins a device its file does not pin.
        let recorded = match store.known_host_key(&d.device).await {
            Ok(k) => k,
            Err(e) => {
                held.push(DeviceResult::skipped(
                    &d.device,
                    ApplyStatus::Failed,
                    format!("could not read the device's recorded host key: {e}; nothing was sent"),
                ));
                continue;
            }
        };
        match job_for(
            desired,
            dev,
            changes.clone(),
            Some(fingerprint.clone()),
            options.accept_new_host_keys,
            recorded.as_deref(),
        )
        .await
        {
            Ok(job) => jobs.push(job),
            Err((message, remedy)) => {
                let r = DeviceResult::skipped(&d.device, ApplyStatus::Failed, message);
                held.push(match remedy {
                    Some(remedy) => r.with_remedy(remedy),
                    None => r,
                });
            }
        }
    }
    (jobs, held)
}

/// The job for one device: where to reach it over SNMP and SSH, with credentials resolved; or
/// why it cannot be reached, with the override that would help when there is one.
pub(crate) async fn job_for(
    desired: &Desired,
    dev: &Device,
    changes: Vec<Change>,
    fingerprint: Option<String>,
    accept_new: bool,
    recorded_host_key: Option<&str>,
) -> Result<DeviceJob, (String, Option<Remedy>)> {
    let fleet = desired.fleet();
    let snmp_settings = snmp::target::merge(dev.snmp.as_ref(), fleet.defaults.snmp.as_ref());
    let snmp_target = snmp::target::target(&dev.address, &snmp_settings)
        .await
        .map_err(|e| (e.to_string(), None))?;
    let ssh = SshSettings::merged(dev.ssh.as_ref(), fleet.defaults.ssh.as_ref());
    let driver = dev
        .driver
        .as_ref()
        .or(fleet.defaults.driver.as_ref())
        .map(|d| d.value)
        .unwrap_or_default();
    let driver = match driver {
        Driver::Cli => {
            DriverTarget::Cli(cli_target(dev, &ssh, accept_new, recorded_host_key).await?)
        }
        Driver::Jsonrpc => {
            DriverTarget::JsonRpc(jsonrpc_target(dev, &ssh, fleet.defaults.jsonrpc.as_ref()).await?)
        }
    };
    Ok(DeviceJob {
        device: dev.name.to_string(),
        snmp: snmp_target,
        driver,
        uplink_base: dev.model.uplink_base(),
        changes,
        fingerprint,
        save_attempts: 10,
        save_pause: Duration::from_millis(500),
    })
}

async fn resolve_addr(
    dev: &Device,
    port: u16,
) -> Result<std::net::SocketAddr, (String, Option<Remedy>)> {
    tokio::net::lookup_host((dev.address.as_str(), port))
        .await
        .map_err(|e| (format!("cannot resolve {}: {e}", *dev.address), None))?
        .next()
        .ok_or_else(|| (format!("cannot resolve {}", *dev.address), None))
}

/// The CLI over SSH: the SSH settings, the host key pinned (in the file or the store) or
/// accepted on first contact.
async fn cli_target(
    dev: &Device,
    ssh: &SshSettings,
    accept_new: bool,
    recorded_host_key: Option<&str>,
) -> Result<CliTarget, (String, Option<Remedy>)> {
    let port = ssh.port.as_ref().map_or(22, |p| p.value);
    let addr = resolve_addr(dev, port).await?;
    let auth = match (&ssh.private_key, &ssh.password) {
        (Some(key), _) => {
            let text = resolve(key).map_err(|e| (format!("SSH private key: {e}"), None))?;
            let key = russh::keys::decode_secret_key(text.expose(), None)
                .map_err(|e| (format!("SSH private key: {e}"), None))?;
            CliAuth::Key(Arc::new(key))
        }
        (None, Some(p)) => {
            CliAuth::Password(resolve(p).map_err(|e| (format!("SSH password: {e}"), None))?)
        }
        (None, None) => CliAuth::Password(Secret::new("")),
    };
    let pinned = ssh.host_key.as_ref().map(|k| k.to_string());
    let host_key = match HostKeyPolicy::for_device(pinned.as_deref(), recorded_host_key, accept_new)
    {
        Ok(policy) => policy,
        Err(_) => {
            return Err((
                format!(
                    "devices/{}.yaml pins no SSH host key; set ssh.host_key (SHA256:...), or accept the device's key on first contact",
                    dev.name
                ),
                Some(Remedy::AcceptNewHostKey),
            ));
        }
    };
    Ok(CliTarget {
        addr,
        username: ssh
            .username
            .as_ref()
            .map_or_else(|| "admin".to_string(), |u| u.to_string()),
        auth,
        host_key,
        connect_timeout: Duration::from_secs(15),
        command_timeout: Duration::from_secs(30),
    })
}

/// The JSON-RPC API: its settings (device over defaults), the web UI's login, which defaults to
/// the SSH login (the GAM's local users serve both); over HTTPS only with the certificate pinned.
async fn jsonrpc_target(
    dev: &Device,
    ssh: &SshSettings,
    defaults: Option<&JsonRpcSettings>,
) -> Result<JsonRpcTarget, (String, Option<Remedy>)> {
    let j = JsonRpcSettings::merged(dev.jsonrpc.as_ref(), defaults);
    let tls = j.tls.as_ref().is_some_and(|t| t.value);
    let tls_pin = match (tls, &j.certificate) {
        (false, _) => None,
        (true, Some(c)) => Some(parse_certificate_fingerprint(c).ok_or_else(|| {
            (
                format!(
                    "jsonrpc.certificate of {} is not a SHA-256 fingerprint",
                    dev.name
                ),
                None,
            )
        })?),
        (true, None) => {
            return Err((
                format!(
                    "devices/{}.yaml uses JSON-RPC over HTTPS but pins no certificate; set jsonrpc.certificate (SHA256:...); nothing was sent",
                    dev.name
                ),
                None,
            ));
        }
    };
    let port = j
        .port
        .as_ref()
        .map_or(if tls { 443 } else { 80 }, |p| p.value);
    let addr = resolve_addr(dev, port).await?;
    let username = j
        .username
        .as_ref()
        .or(ssh.username.as_ref())
        .map_or_else(|| "admin".to_string(), |u| u.to_string());
    let password = match j.password.as_ref().or(ssh.password.as_ref()) {
        Some(p) => resolve(p).map_err(|e| (format!("JSON-RPC password: {e}"), None))?,
        None => Secret::new(""),
    };
    let timeout =
        Duration::from_secs(u64::from(j.timeout_s.as_ref().map_or(45, |t| t.value)).max(1));
    Ok(JsonRpcTarget {
        addr,
        tls_pin,
        username,
        password,
        connect_timeout: Duration::from_secs(15),
        call_timeout: timeout,
    })
}

/// `user@host`, for the run record and the lease owner of a run started by a person or CI.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// How many changes the plan had for a device.
fn changes_for(plan: &Plan, device: &str) -> u64 {
    plan.devices
        .iter()
        .find(|d| d.device == device)
        .map_or(0, |d| match &d.outcome {
            Outcome::Planned { changes, .. } => changes.len() as u64,
            _ => 0,
        })
}

fn device_status(s: &ApplyStatus) -> DeviceStatus {
    match s {
        ApplyStatus::Applied => DeviceStatus::Applied,
        ApplyStatus::NoChanges => DeviceStatus::NoChanges,
        ApplyStatus::Stale => DeviceStatus::Stale,
        ApplyStatus::RolledBack => DeviceStatus::RolledBack,
        ApplyStatus::Failed => DeviceStatus::Failed,
        ApplyStatus::Unknown => DeviceStatus::Unknown,
        ApplyStatus::Blocked => DeviceStatus::Blocked,
        ApplyStatus::LeaseHeld => DeviceStatus::LeaseHeld,
        ApplyStatus::Interrupted => DeviceStatus::Interrupted,
    }
}
