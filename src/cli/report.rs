//! `gamops report`: capacity sold against measured, firmware and plan distributions.

use std::path::PathBuf;

use crate::monitor::StatusOptions;
use crate::monitor::report::{self, Format, Kind};

use super::{CommandError, FleetArgs};

/// Reports for planning and selling: per device and port the capacity sold (the sum of plan
/// rates) against what the links measure, with every endpoint below its plan; how many GAMs and
/// CPEs run each firmware; how many subscribers each plan has.
///
/// `capacity` and `firmware` read the devices' status over SNMP; `plans` reads only the
/// inventory. HTML is one page with its charts drawn as inline SVG (no script): readable
/// offline, printable.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 done, 1 an error or a device that could not be read (the \
report is still written, the device counted as unread).

Examples:
  gamops report capacity --format html --out capacity.html
  gamops report firmware --format csv > firmware.csv
  gamops report plans --device bldg-12-gam1 --format json"
)]
pub struct Args {
    #[arg(value_enum)]
    pub kind: ReportKind,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    Capacity,
    Firmware,
    Plans,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    #[default]
    Csv,
    Json,
    Html,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let (inv, names) = args.fleet.load("read")?;
    let kind = match args.kind {
        ReportKind::Capacity => Kind::Capacity,
        ReportKind::Firmware => Kind::Firmware,
        ReportKind::Plans => Kind::Plans,
    };
    let format = match args.format {
        ReportFormat::Csv => Format::Csv,
        ReportFormat::Json => Format::Json,
        ReportFormat::Html => Format::Html,
    };
    let options = StatusOptions {
        concurrency: args.fleet.concurrency,
        problems_only: false,
    };
    let runtime = super::runtime()?;
    let (built, unreachable) = runtime.block_on(report::build(
        kind,
        &inv.desired,
        &names,
        &options,
        super::plan::reading_progress(),
    ));
    let text = built.render(format);
    match &args.out {
        Some(path) => super::write_atomically(path, &text)?,
        None => print!("{text}"),
    }
    if unreachable {
        eprintln!("some devices could not be read; `gamops status` says why");
        return Ok(1);
    }
    Ok(0)
}
