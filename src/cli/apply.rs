//! `gamops apply`: converge the devices to a plan over their SSH CLI.

use std::io::{BufRead, IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{DeviceJob, DeviceResult, Journal, Status, apply_all};
use crate::device::cli::{CliAuth, CliTarget, HostKeyPolicy};
use crate::device::credentials::resolve;
use crate::device::snmp;
use crate::model::device::SshSettings;
use crate::model::{Desired, Device};
use crate::plan::render::{self, Colour};
use crate::plan::{Outcome, Plan, PlanOptions};

use super::state::StoreArgs;
use super::{CommandError, Format};
use crate::store::{
    DeviceOutcomeRecord, DeviceStatus, JournalEntry, NewRun, RunId, RunStatus, Store, Timestamp,
};

/// Apply a plan: per device, send the changes over the SSH CLI in order, verify them over SNMP,
/// save; roll back and report a device whose change fails.
///
/// With PLANFILE (from `gamops plan --out`), apply exactly that plan; a device that changed since
/// is refused as stale and the others proceed. Without one, plan now, show it, and ask (or pass
/// --auto-approve).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every device applied (or had nothing to do), 3 partial (some devices \
failed, were rolled back, stale, blocked or unreadable; each is named), 1 an error before applying.

Examples:
  gamops plan --out plan.json && gamops apply plan.json
  gamops apply --auto-approve --device bldg-12-gam1
  gamops apply --auto-approve --accept-new-host-keys     # first contact with new devices
  gamops apply plan.json --lease-ttl 2m                  # a killed apply frees its devices sooner"
)]
pub struct Args {
    /// A plan saved by `gamops plan --out`.
    pub planfile: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply past the safety limits.
    #[arg(long)]
    pub force: bool,
    /// Devices changed at once.
    #[arg(long, default_value_t = crate::apply::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Apply only this device (repeatable).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// Trust a device's SSH host key on first contact when the inventory pins none.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// How long a device's lease lasts without renewal: a running apply renews it every third
    /// of this; the lease of an apply that was killed expires after it. A number of seconds,
    /// or with a unit: 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = parse_ttl)]
    pub lease_ttl: Duration,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let inv = super::load_valid(&args.store.inv.inventory, None, "applied")?;
    let runtime = super::runtime()?;

    let (plan, from_file) = match &args.planfile {
        Some(path) => (read_plan(path)?, true),
        None => {
            let names = super::plan::select_devices(&inv.desired, &args.devices)?;
            let observations =
                runtime.block_on(super::plan::observe_devices(&inv.desired, &names, 32));
            let commit = crate::git::head_commit(&args.store.inv.inventory);
            let plan = Plan::build(
                &inv.desired,
                &observations,
                commit,
                PlanOptions { force: args.force },
            );
            let colour = if super::colour_stdout() {
                Colour::Always
            } else {
                Colour::Never
            };
            if args.format == Format::Text {
                print!("{}", render::text(&plan, colour));
            }
            (plan, false)
        }
    };
    if !plan.has_changes() {
        if args.format == Format::Text {
            println!("Nothing to apply.");
        }
        return Ok(if plan.has_errors() { 3 } else { 0 });
    }
    if !from_file && !args.auto_approve && !confirm()? {
        println!("Apply cancelled.");
        return Ok(0);
    }

    let mut results: Vec<DeviceResult> = Vec::new();
    let mut jobs = Vec::new();
    for d in &plan.devices {
        if !args.devices.is_empty() && !args.devices.contains(&d.device) {
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
                results.push(skipped(
                    &d.device,
                    Status::Unknown,
                    format!("not planned: the device could not be read ({reason})"),
                ));
                continue;
            }
            Outcome::Error { message, .. } => {
                results.push(skipped(
                    &d.device,
                    Status::Failed,
                    format!("not planned: {message}"),
                ));
                continue;
            }
        };
        if changes.is_empty() {
            continue;
        }
        if !violations.is_empty() && !plan.forced && !args.force {
            let why: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
            results.push(skipped(
                &d.device,
                Status::Blocked,
                format!(
                    "blocked by a safety limit: {}; rerun with --force",
                    why.join("; ")
                ),
            ));
            continue;
        }
        let Some(dev) = inv.desired.device(&d.device) else {
            results.push(skipped(
                &d.device,
                Status::Failed,
                "not in the inventory".into(),
            ));
            continue;
        };
        match runtime.block_on(job_for(
            &inv.desired,
            dev,
            changes.clone(),
            Some(fingerprint.clone()),
            args.accept_new_host_keys,
        )) {
            Ok(job) => jobs.push(job),
            Err(message) => results.push(skipped(&d.device, Status::Failed, message)),
        }
    }

    let location = args.store.location();
    let store = runtime.block_on(Store::open(&location))?;
    let run_id = runtime.block_on(store.start_run(&NewRun {
        actor: actor(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        commit: plan.commit.clone(),
        plan_summary: Some(format!(
            "{} device(s): {} to create, {} to update, {} to delete",
            plan.devices.len(),
            plan.summary.creates,
            plan.summary.updates,
            plan.summary.deletes
        )),
    }))?;

    // Host keys recorded on first contact pin the devices whose files pin none (issue 16).
    for job in &mut jobs {
        let known = runtime.block_on(store.known_host_key(&job.device))?;
        job.cli.host_key = job.cli.host_key.clone().with_recorded(known);
    }

    // One apply per device at a time: take every device's lease first.
    let owner = format!("{} run {} pid {}", actor(), run_id.0, std::process::id());
    let mut leases = Vec::new();
    let mut leased_jobs = Vec::new();
    for job in jobs {
        match runtime.block_on(store.acquire_lease(&job.device, &owner, args.lease_ttl)) {
            Ok(lease) => {
                leases.push(lease);
                leased_jobs.push(job);
            }
            Err(crate::store::LeaseError::Held {
                owner, expires_at, ..
            }) => results.push(skipped(
                &job.device,
                Status::LeaseHeld,
                format!(
                    "another apply holds the device ({owner}, until {expires_at}); nothing was sent"
                ),
            )),
            Err(e) => results.push(skipped(
                &job.device,
                Status::Failed,
                format!("could not take the device's lease: {e}"),
            )),
        }
    }

    let show = std::io::stderr().is_terminal();
    let (journal, writer) = StoreJournal::start(&runtime, store.clone(), run_id);
    // Renew the leases while the devices are being changed.
    let keeper = {
        let _in_runtime = runtime.enter();
        store.keep_leases(leases, args.lease_ttl)
    };
    let mut applied = runtime.block_on(apply_all(
        leased_jobs,
        args.concurrency,
        journal,
        |done, total, r| {
            if show {
                let _ = writeln!(
                    std::io::stderr(),
                    "[{done}/{total}] {}: {}",
                    r.device,
                    status_word(&r.status)
                );
            }
        },
    ));
    let _ = runtime.block_on(writer);
    for r in &applied {
        if let Some(key) = &r.new_host_key {
            runtime.block_on(store.remember_host_key(&r.device, key))?;
        }
    }
    let kept = runtime.block_on(keeper.stop());
    for lease in kept.leases {
        let _ = runtime.block_on(store.release_lease(lease));
    }
    for r in &mut applied {
        if kept.lost.contains(&r.device) {
            r.message.push_str(
                "; warning: the device's lease expired and was taken by another apply meanwhile, so plan again",
            );
        }
    }
    results.extend(applied);
    results.sort_by_key(|r| plan.devices.iter().position(|d| d.device == r.device));

    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&results).map_err(CommandError::internal)?;
            println!("{json}");
        }
        Format::Text => {
            for r in &results {
                println!("{}: {} ({})", r.device, status_word(&r.status), r.message);
            }
        }
    }
    let ok = results.iter().all(|r| r.status.is_success());
    runtime.block_on(async {
        for r in &results {
            let changes =
                plan.devices
                    .iter()
                    .find(|d| d.device == r.device)
                    .map_or(0, |d| match &d.outcome {
                        Outcome::Planned { changes, .. } => changes.len() as u64,
                        _ => 0,
                    });
            let record = DeviceOutcomeRecord {
                status: device_status(&r.status),
                message: r.message.clone(),
                changes,
                commands: r.sent.len() as u64,
            };
            store.record_outcome(run_id, &r.device, &record).await?;
        }
        let any_ok = results.iter().any(|r| r.status.is_success());
        let status = if ok {
            RunStatus::Succeeded
        } else if any_ok {
            RunStatus::Partial
        } else {
            RunStatus::Failed
        };
        store.finish_run(run_id, status).await
    })?;
    if args.format == Format::Text {
        println!(
            "Recorded as run {} (`gamops show-run {}`).",
            run_id.0, run_id.0
        );
    }
    Ok(if ok { 0 } else { 3 })
}

/// Parses a lease time to live: seconds, or a number with a unit (`ms`, `s`, `m`, `h`); at
/// least one second.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write seconds (600) or 600s, 10m, 1h"))?;
    let ttl = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s, m or h (600s, 10m, 1h)"
            ));
        }
    };
    if ttl < Duration::from_secs(1) {
        return Err(format!(
            "{text:?} is too short for a lease: give at least 1s"
        ));
    }
    Ok(ttl)
}

/// `user@host`, for the run record and the lease owner.
fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

fn device_status(s: &Status) -> DeviceStatus {
    match s {
        Status::Applied => DeviceStatus::Applied,
        Status::NoChanges => DeviceStatus::NoChanges,
        Status::Stale => DeviceStatus::Stale,
        Status::RolledBack => DeviceStatus::RolledBack,
        Status::Failed => DeviceStatus::Failed,
        Status::Unknown => DeviceStatus::Unknown,
        Status::Blocked => DeviceStatus::Blocked,
        Status::LeaseHeld => DeviceStatus::LeaseHeld,
    }
}

/// The journal, written to the store by one task in the order commands were sent.
struct StoreJournal {
    tx: tokio::sync::mpsc::UnboundedSender<(String, String, String, bool)>,
}

impl StoreJournal {
    fn start(
        runtime: &tokio::runtime::Runtime,
        store: Store,
        run: RunId,
    ) -> (Arc<dyn Journal>, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String, String, bool)>();
        let writer = runtime.spawn(async move {
            let mut seq: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            while let Some((device, command, output, ok)) = rx.recv().await {
                let n = seq.entry(device.clone()).or_insert(0);
                *n += 1;
                let entry = JournalEntry {
                    seq: *n,
                    at: Timestamp::now(),
                    command,
                    output,
                    ok,
                };
                if let Err(e) = store.journal(run, &device, &entry).await {
                    tracing::warn!("journal entry for {device} not recorded: {e}");
                }
            }
        });
        (Arc::new(StoreJournal { tx }), writer)
    }
}

impl Journal for StoreJournal {
    fn record(&self, device: &str, command: &str, output: &str, ok: bool) {
        let _ = self.tx.send((
            device.to_string(),
            command.to_string(),
            output.to_string(),
            ok,
        ));
    }
}

fn status_word(s: &Status) -> &'static str {
    match s {
        Status::Applied => "applied",
        Status::NoChanges => "no changes",
        Status::Stale => "stale",
        Status::RolledBack => "rolled back",
        Status::Failed => "failed",
        Status::Unknown => "unknown",
        Status::Blocked => "blocked",
        Status::LeaseHeld => "lease held",
    }
}

fn skipped(device: &str, status: Status, message: String) -> DeviceResult {
    DeviceResult {
        device: device.to_string(),
        status,
        message,
        sent: Vec::new(),
        timing: Default::default(),
        new_host_key: None,
    }
}

fn read_plan(path: &PathBuf) -> Result<Plan, CommandError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CommandError::user(format!("cannot read {}: {e}", path.display())))?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
        CommandError::user(format!("{} is not a gamops plan: {e}", path.display()))
            .hint("make one with `gamops plan --out FILE`")
    })?;
    if plan.format_version != crate::plan::FORMAT_VERSION {
        return Err(CommandError::user(format!(
            "{} has plan format {}, this gamops reads {}",
            path.display(),
            plan.format_version,
            crate::plan::FORMAT_VERSION
        ))
        .hint("plan again with this version of gamops"));
    }
    Ok(plan)
}

fn confirm() -> Result<bool, CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::user(
            "apply needs confirmation, and there is no terminal to ask on",
        )
        .hint("pass --auto-approve, or apply a saved plan: gamops apply plan.json"));
    }
    print!("Apply these changes? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// The job for one device: where to reach it over SNMP and SSH, with credentials resolved.
pub(crate) async fn job_for(
    desired: &Desired,
    dev: &Device,
    changes: Vec<crate::plan::Change>,
    fingerprint: Option<String>,
    accept_new: bool,
) -> Result<DeviceJob, String> {
    let fleet = desired.fleet();
    let snmp_settings = snmp::target::merge(dev.snmp.as_ref(), fleet.defaults.snmp.as_ref());
    let snmp_target = snmp::target::target(&dev.address, &snmp_settings)
        .await
        .map_err(|e| e.to_string())?;
    let ssh = SshSettings::merged(dev.ssh.as_ref(), fleet.defaults.ssh.as_ref());
    let port = ssh.port.as_ref().map_or(22, |p| p.value);
    let addr = tokio::net::lookup_host((dev.address.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", *dev.address))?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", *dev.address))?;
    let auth = match (&ssh.private_key, &ssh.password) {
        (Some(key), _) => {
            let text = resolve(key).map_err(|e| format!("SSH private key: {e}"))?;
            let key = russh::keys::decode_secret_key(text.expose(), None)
                .map_err(|e| format!("SSH private key: {e}"))?;
            CliAuth::Key(Arc::new(key))
        }
        (None, Some(p)) => CliAuth::Password(resolve(p).map_err(|e| format!("SSH password: {e}"))?),
        (None, None) => CliAuth::Password(crate::device::credentials::Secret::new("")),
    };
    let host_key = match (&ssh.host_key, accept_new) {
        (Some(k), _) => HostKeyPolicy::Pinned(k.to_string()),
        (None, true) => HostKeyPolicy::AcceptNew,
        (None, false) => {
            return Err(format!(
                "devices/{}.yaml pins no SSH host key; set ssh.host_key (SHA256:...), or run with --accept-new-host-keys on first contact",
                dev.name
            ));
        }
    };
    Ok(DeviceJob {
        device: dev.name.to_string(),
        snmp: snmp_target,
        cli: CliTarget {
            addr,
            username: ssh
                .username
                .as_ref()
                .map_or_else(|| "admin".to_string(), |u| u.to_string()),
            auth,
            host_key,
            connect_timeout: Duration::from_secs(15),
            command_timeout: Duration::from_secs(30),
        },
        uplink_base: 1_000_000 + u32::from(dev.model.ghn_ports()),
        changes,
        fingerprint,
        save_attempts: 10,
        save_pause: Duration::from_millis(500),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ttls_parse_with_or_without_a_unit() {
        assert_eq!(parse_ttl("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("1500ms"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "-5", "10 parsecs", "1.5s", "0", "500ms"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_ttl("10x").unwrap_err().contains("use ms, s, m or h"));
    }
}
