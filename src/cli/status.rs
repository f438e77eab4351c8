//! `gamops status`: how each GAM and its subscribers' links are doing, against the inventory.

use crate::monitor::{self, StatusOptions, render};

use super::{CommandError, FleetArgs, Format};

/// Read every GAM's status over SNMP and show each subscriber's link next to its plan.
///
/// One table per device: each endpoint with its subscriber (from the inventory), state, PHY
/// rates down/up, the throughput the link can carry next to the plan's rate, wire length,
/// firmware and uptime. Problems come first: devices that cannot be read, CPEs offline or
/// quarantined (moved, or unknown), links that carry less than their plan sells, asymmetric PHY
/// rates, firmware mismatches, high temperatures and the GAM's own alarms. Nothing is changed.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every device read (and, with --detailed-exitcode, no \
problems), 2 problems found (with --detailed-exitcode), 1 an error or a device that could not \
be read.

Examples:
  gamops status
  gamops status --device bldg-12-gam1 --problems
  gamops status --format json | jq '.devices[].endpoints[] | select(.problems != [])'
  gamops status --problems --detailed-exitcode   # for a cron job or a check"
)]
pub struct Args {
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Show only devices and endpoints with a problem.
    #[arg(long)]
    pub problems: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Exit 2 when there are problems.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let (inv, names) = args.fleet.load("read")?;
    let options = StatusOptions {
        concurrency: args.fleet.concurrency,
        problems_only: args.problems,
    };
    let runtime = super::runtime()?;
    let report = runtime.block_on(monitor::fleet_status(
        &inv.desired,
        &names,
        &options,
        super::plan::reading_progress(),
    ));
    let text = match args.format {
        Format::Text => render::text(&report, super::colour()),
        Format::Json => render::json(&report),
    };
    print!("{text}");
    if report.has_unreachable() {
        return Ok(1);
    }
    Ok(if args.detailed_exitcode && report.has_problems() {
        2
    } else {
        0
    })
}
