//! `gamops validate`: check an inventory against the GAM's rules and report every problem.

use crate::inventory::Inventory;
use crate::inventory::report::Report;

use super::{CommandError, Format, InventoryArgs};

/// Check the inventory: YAML, fields, references, uniqueness and the GAM's limits.
///
/// Reports every problem at once, each as file:line:column with a hint, then a count.
/// Exits 0 when the inventory is valid and 1 when it is not.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops validate\n  gamops validate --inventory ./inventory --format json\n  gamops validate --rev origin/main    # as committed, without touching the work tree"
)]
pub struct Args {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Read the inventory as it is at this git revision (a branch, tag, commit id or HEAD~N).
    #[arg(long)]
    pub rev: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
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
    Ok(if report.valid { 0 } else { 1 })
}
