//! `gamops diff`: what a change to the inventory does to the fleet, from git alone.

use crate::review::{self, Head};

use super::{CommandError, ErrorKind, InventoryArgs};

/// Show what moving the inventory from one revision to another does, with no device read.
///
/// Per device: subscribers created, changed (each classed as `plan` classes it: interrupts
/// service, rate change only, or none) and deleted, devices added and removed, and the safety
/// limits the change goes past, evaluated against the base. Both sides are validated; a side
/// with errors is reported with file:line:column and nothing is compared. The first --rev is the
/// base; the head is the second --rev, or without one the inventory folder as it is on disk
/// (the work tree, uncommitted edits included, as `plan` and `validate` read it).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 no changes (or any change without --detailed-exitcode), 2 changes \
(with --detailed-exitcode), 1 a side that does not read or validate, or a device past a safety \
limit (the output is printed in full first).

Examples:
  gamops diff --rev origin/main                      # the work tree against main
  gamops diff --rev origin/main --rev HEAD --format markdown > diff.md
  gamops diff --rev HEAD~1 --rev HEAD --format json --detailed-exitcode"
)]
pub struct Args {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// The base revision, then optionally the head revision (default: the work tree).
    #[arg(long = "rev", value_name = "REV", required = true, num_args = 1)]
    pub revs: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: super::plan::PlanFormat,
    /// Exit 2 when there are changes, 0 when there are none.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let (base, head) = match args.revs.as_slice() {
        [base] => (base, Head::WorkTree),
        [base, head] => (base, Head::Rev(head.clone())),
        _ => {
            return Err(
                CommandError::user("--rev takes the base, then at most one head")
                    .hint("gamops diff --rev BASE [--rev HEAD]"),
            );
        }
    };
    let review = review::review(&args.inv.inventory, base, &head)?;
    let text = match args.format {
        super::plan::PlanFormat::Text => review.to_text(super::colour()),
        super::plan::PlanFormat::Markdown => review.to_markdown(),
        super::plan::PlanFormat::Json => review.to_json(),
    };
    print!("{text}");
    if !review.valid {
        return Err(CommandError::new(ErrorKind::Config, review.summary_line())
            .hint("fix what is listed above (`gamops validate --rev REV` shows the same)"));
    }
    let blocked = review.blocked_devices();
    if blocked > 0 {
        return Err(CommandError::new(
            ErrorKind::Config,
            format!("{blocked} device(s) go past a safety limit or cannot be planned"),
        )
        .hint("review the change; apply refuses these devices without --force (or raise the limits in gamops.yaml)"));
    }
    Ok(if args.detailed_exitcode && review.has_changes() {
        2
    } else {
        0
    })
}
