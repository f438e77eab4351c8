//! `gamops plan`: read the live devices, diff them against the inventory, print the plan.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;

use crate::device::live::Observation;
use crate::device::snmp::{self, SnmpTarget};
use crate::model::Desired;
use crate::plan::render::{self, Colour};
use crate::plan::{Plan, PlanOptions};

use super::{CommandError, InventoryArgs};

/// Read every GAM over SNMP, compare it with the inventory, and print what would change.
///
/// Devices that cannot be read completely are reported as unknown and get no plan; the others
/// still plan. With --out, the plan is saved (JSON, with the git commit and a fingerprint of
/// each device's live state) for `gamops apply PLANFILE`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 no changes (or any success without --detailed-exitcode), 2 changes \
(with --detailed-exitcode), 1 an error or a device that could not be read.

Examples:
  gamops plan
  gamops plan --device bldg-12-gam1 --format markdown > plan.md
  gamops plan --rev origin/main --out plan.json --detailed-exitcode"
)]
pub struct Args {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Read the inventory as it is at this git revision.
    #[arg(long)]
    pub rev: Option<String>,
    /// Plan only this device (repeatable).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Also save the plan (JSON) to this file, for `gamops apply FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan past the safety limits (recorded in the plan).
    #[arg(long)]
    pub force: bool,
    /// How many devices to read at once.
    #[arg(long, default_value_t = snmp::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let inv = super::load_valid(&args.inv.inventory, args.rev.as_deref(), "planned")?;
    let names = select_devices(&inv.desired, &args.devices)?;
    let commit = match &inv.origin {
        crate::inventory::Origin::Rev { commit, .. } => Some(commit.clone()),
        crate::inventory::Origin::Dir => crate::git::head_commit(&args.inv.inventory),
    };

    let runtime = super::runtime()?;
    let observations = runtime.block_on(observe_devices(&inv.desired, &names, args.concurrency));

    let plan = Plan::build(
        &inv.desired,
        &observations,
        commit,
        PlanOptions { force: args.force },
    );
    let text = match args.format {
        PlanFormat::Text => render::text(
            &plan,
            if super::colour_stdout() {
                Colour::Always
            } else {
                Colour::Never
            },
        ),
        PlanFormat::Markdown => render::markdown(&plan),
        PlanFormat::Json => render::json(&plan),
    };
    print!("{text}");
    if let Some(path) = &args.out {
        crate::atomic_write::write(path, render::json(&plan).as_bytes())
            .map_err(|e| CommandError::user(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "saved the plan to {}; apply it with `gamops apply {}`",
            path.display(),
            path.display()
        );
    }
    if plan.has_errors() {
        return Ok(1);
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    })
}

/// The devices to plan: the ones named, or all of them.
pub(crate) fn select_devices(
    desired: &Desired,
    wanted: &[String],
) -> Result<Vec<String>, CommandError> {
    if wanted.is_empty() {
        return Ok(desired.devices.iter().map(|d| d.name.to_string()).collect());
    }
    for w in wanted {
        if desired.device(w).is_none() {
            let known: Vec<String> = desired.devices.iter().map(|d| d.name.to_string()).collect();
            return Err(
                CommandError::user(format!("device {w} is not in the inventory"))
                    .hint(format!("devices: {}", known.join(", "))),
            );
        }
    }
    Ok(wanted.to_vec())
}

/// Reads the named devices, with a progress line on a terminal.
pub(crate) async fn observe_devices(
    desired: &Desired,
    names: &[String],
    concurrency: usize,
) -> Vec<(String, Observation)> {
    let fleet = desired.fleet();
    let mut targets: Vec<(String, SnmpTarget)> = Vec::new();
    let mut failed: Vec<(String, Observation)> = Vec::new();
    for name in names {
        let Some(dev) = desired.device(name) else {
            continue;
        };
        let settings = snmp::target::merge(dev.snmp.as_ref(), fleet.defaults.snmp.as_ref());
        match snmp::target::target(&dev.address, &settings).await {
            Ok(t) => targets.push((name.clone(), t)),
            Err(e) => failed.push((
                name.clone(),
                Observation::Unknown {
                    reason: e.to_string(),
                },
            )),
        }
    }
    let show = std::io::stderr().is_terminal();
    let observed = snmp::observe_all(targets, concurrency, |done, total, name: &String| {
        if show {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[Kreading devices: {done}/{total} {name}");
            if done == total {
                let _ = writeln!(err);
            }
        }
    })
    .await;
    // Keep the inventory's order.
    let mut all: Vec<(String, Observation)> = observed.into_iter().chain(failed).collect();
    all.sort_by_key(|(n, _)| names.iter().position(|x| x == n));
    all
}
