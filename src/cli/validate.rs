//! `gamops validate`: check an inventory against the GAM's rules and report every problem.

use crate::inventory::Inventory;
use crate::inventory::report::Report;

use super::{CommandError, Format, InventoryArgs};

/// Check the inventory: YAML, fields, references, uniqueness and the GAM's limits.
///
/// Reports every problem at once, each as file:line:column with a hint, then a count.
/// Errors are what the GAM would refuse; warnings are advice (what Positron's guides advise
/// against, which the GAM accepts). Exits 0 when there is no error (warnings allowed) and 1 when
/// there is one; with --strict, warnings fail too.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops validate\n  gamops validate --inventory ./inventory --format json\n  gamops validate --rev origin/main    # as committed, without touching the work tree\n  gamops validate --strict             # warnings fail too"
)]
pub struct Args {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Read the inventory as it is at this git revision (a branch, tag, commit id or HEAD~N).
    #[arg(long)]
    pub rev: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Treat warnings as errors: exit 1 when there is any.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let inv = match &args.rev {
        Some(rev) => Inventory::load_rev(&args.inv.inventory, rev)?,
        None => Inventory::load_dir(&args.inv.inventory)?,
    };
    let diagnostics = inv.validate();
    let report = Report::new(&inv, &diagnostics);
    match args.format {
        Format::Text => print!("{}", report.to_text(super::colour_stdout())),
        Format::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(CommandError::internal)?;
            println!("{json}");
        }
    }
    let strict_failure = args.strict && report.summary.warnings > 0;
    if strict_failure && args.format == Format::Text {
        println!(
            "--strict: {} warning(s) count as errors",
            report.summary.warnings
        );
    }
    Ok(if report.valid && !strict_failure {
        0
    } else {
        1
    })
}
