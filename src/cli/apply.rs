//! `gamops apply`: converge the devices to a plan over their SSH CLI.

use std::io::{BufRead, IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::apply::{DeviceJob, DeviceResult, Journal, NoJournal, Status, apply_all};
use crate::device::cli::{CliAuth, CliTarget, HostKeyPolicy};
use crate::device::credentials::resolve;
use crate::device::snmp;
use crate::inventory::Inventory;
use crate::inventory::report::Report;
use crate::model::device::SshSettings;
use crate::model::{Desired, Device};
use crate::plan::render::{self, Colour};
use crate::plan::{Outcome, Plan, PlanOptions};

use super::{CommandError, ErrorKind, Format, InventoryArgs};

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
  gamops apply --auto-approve --accept-new-host-keys     # first contact with new devices"
)]
pub struct Args {
    /// A plan saved by `gamops plan --out`.
    pub planfile: Option<PathBuf>,
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply past the safety limits.
    #[arg(long)]
    pub force: bool,
    /// Devices changed at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Apply only this device (repeatable).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// Trust a device's SSH host key on first contact when the inventory pins none.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let inv = Inventory::load_dir(&args.inv.inventory)?;
    let diagnostics = inv.validate();
    if diagnostics.iter().any(|d| d.is_error()) {
        eprint!("{}", Report::new(&inv, &diagnostics).to_text(false));
        return Err(CommandError::new(
            ErrorKind::Config,
            "the inventory is not valid; nothing was applied",
        )
        .hint("fix what is listed above (`gamops validate` shows the same)"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))?;

    let (plan, from_file) = match &args.planfile {
        Some(path) => (read_plan(path)?, true),
        None => {
            let names = super::plan::select_devices(&inv.desired, &args.devices)?;
            let observations =
                runtime.block_on(super::plan::observe_devices(&inv.desired, &names, 32));
            let commit = crate::git::head_commit(&args.inv.inventory);
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
                    Status::Failed,
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
                Status::Failed,
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

    let show = std::io::stderr().is_terminal();
    let journal: Arc<dyn Journal> = Arc::new(NoJournal);
    let applied = runtime.block_on(apply_all(
        jobs,
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
    let ok = results
        .iter()
        .all(|r| matches!(r.status, Status::Applied | Status::NoChanges));
    Ok(if ok { 0 } else { 3 })
}

fn status_word(s: &Status) -> &'static str {
    match s {
        Status::Applied => "applied",
        Status::NoChanges => "no changes",
        Status::Stale => "stale",
        Status::RolledBack => "rolled back",
        Status::Failed => "failed",
    }
}

fn skipped(device: &str, status: Status, message: String) -> DeviceResult {
    DeviceResult {
        device: device.to_string(),
        status,
        message,
        sent: Vec::new(),
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

fn merge_ssh(device: Option<&SshSettings>, defaults: Option<&SshSettings>) -> SshSettings {
    fn pick<T: Clone>(d: Option<&Option<T>>, f: Option<&Option<T>>) -> Option<T> {
        d.and_then(Option::clone)
            .or_else(|| f.and_then(Option::clone))
    }
    SshSettings {
        port: pick(device.map(|s| &s.port), defaults.map(|s| &s.port)),
        username: pick(device.map(|s| &s.username), defaults.map(|s| &s.username)),
        password: pick(device.map(|s| &s.password), defaults.map(|s| &s.password)),
        private_key: pick(
            device.map(|s| &s.private_key),
            defaults.map(|s| &s.private_key),
        ),
        host_key: pick(device.map(|s| &s.host_key), defaults.map(|s| &s.host_key)),
    }
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
    let ssh = merge_ssh(dev.ssh.as_ref(), fleet.defaults.ssh.as_ref());
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
