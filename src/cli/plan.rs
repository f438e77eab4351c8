//! `gamops plan`: read the live devices, diff them against the inventory, print the plan.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;

use crate::plan::render;
use crate::plan::{Plan, PlanOptions};
use crate::reconcile;

use super::{CommandError, FleetArgs};

/// Read every GAM over SNMP, compare it with the inventory, and print what would change.
///
/// Devices that cannot be read completely are reported as unknown and get no plan; the others
/// still plan. With --out, the plan is saved (JSON, with the git commit and a fingerprint of
/// each device's live state) for `gamops apply PLANFILE`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 no changes (or any success without --detailed-exitcode), 2 changes \
(with --detailed-exitcode), 1 an error, a device that could not be read, or a device past a \
safety limit without --force (as `diff` exits: apply would refuse it; the plan is printed and \
saved in full first).

Examples:
  gamops plan
  gamops plan --device bldg-12-gam1 --format markdown > plan.md
  gamops plan --rev origin/main --out plan.json --detailed-exitcode"
)]
pub struct Args {
    #[command(flatten)]
    pub fleet: FleetArgs,
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
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let (inv, names) = args.fleet.load("planned")?;
    let commit = match &inv.origin {
        crate::inventory::Origin::Rev { commit, .. } => Some(commit.clone()),
        crate::inventory::Origin::Dir => crate::git::head_commit(&args.fleet.inv.inventory),
    };

    let runtime = super::runtime()?;
    let observations = runtime.block_on(reconcile::observe(
        &inv.desired,
        &names,
        args.fleet.concurrency,
        reading_progress(),
    ));

    let plan = Plan::build(
        &inv.desired,
        &observations,
        commit,
        PlanOptions { force: args.force },
    );
    let text = match args.format {
        PlanFormat::Text => render::text(&plan, super::colour()),
        PlanFormat::Markdown => render::markdown(&plan),
        PlanFormat::Json => render::json(&plan),
    };
    print!("{text}");
    if plan.summary.devices_blocked > 0 && args.format != PlanFormat::Json {
        eprintln!("hint: `gamops apply --force` goes past the safety limits, after review");
    }
    if let Some(path) = &args.out {
        crate::atomic_write::write(path, render::json(&plan).as_bytes())
            .map_err(|e| CommandError::user(format!("cannot write {}: {e}", path.display())))?;
        eprintln!(
            "saved the plan to {}; apply it with `gamops apply {}`",
            path.display(),
            path.display()
        );
    }
    // A device past a safety limit fails the plan as it fails `diff` and the controller's
    // commit status on a pull request: apply would refuse it, so the review is not clean. The
    // plan is printed and saved first; `--force` plans past the limits and records it.
    if plan.has_errors() || plan.summary.devices_blocked > 0 {
        return Ok(1);
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        2
    } else {
        0
    })
}

/// The progress of reading devices: a line on a terminal that counts up, nothing elsewhere.
pub(crate) fn reading_progress() -> impl Fn(usize, usize, &str) {
    let show = std::io::stderr().is_terminal();
    move |done, total, name| {
        if show {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[Kreading devices: {done}/{total} {name}");
            if done == total {
                let _ = writeln!(err);
            }
        }
    }
}
