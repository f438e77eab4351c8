//! `gamops history`: the runs recorded in the store, newest first.

use crate::store::{RunFilter, RunSummary, Timestamp};

use super::state::{StoreArgs, open_existing};
use super::{CommandError, Format};

/// List recorded applies: who ran what, when, on which commit, and how the devices fared.
///
/// Reads the store: the SQLite file in the state directory, or PostgreSQL with
/// --database-url. `gamops show-run ID` shows one run in full.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops history
  gamops history --device bldg-12-gam1 --limit 5
  gamops history --state-dir /var/lib/gamops --format json
  gamops history --database-url postgres://gamops@db.example.net/gamops")]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only runs that touched this device.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// At most this many runs.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let location = args.store.location();
    let filter = RunFilter {
        device: args.device.clone(),
        limit: Some(args.limit),
    };
    let runs = super::runtime()?.block_on(async {
        let store = open_existing(&location).await?;
        let runs = store.runs(&filter).await;
        store.close().await;
        Ok::<_, CommandError>(runs?)
    })?;
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&runs).map_err(CommandError::internal)?;
            println!("{json}");
        }
        Format::Text if runs.is_empty() => match &args.device {
            Some(d) => println!("no runs touched {d} in {location}"),
            None => println!("no runs recorded in {location}"),
        },
        Format::Text => print!("{}", table(&runs)),
    }
    Ok(0)
}

/// The runs as an aligned table.
fn table(runs: &[RunSummary]) -> String {
    let header = [
        "RUN",
        "STARTED (UTC)",
        "STATUS",
        "DEVICES",
        "WHO",
        "COMMIT",
        "COMMAND",
    ];
    let rows: Vec<[String; 7]> = runs
        .iter()
        .map(|r| {
            let devices = match r.failed_devices {
                0 => r.devices.to_string(),
                n => format!("{} ({n} not ok)", r.devices),
            };
            [
                r.id.to_string(),
                short_time(r.started_at),
                r.status.to_string(),
                devices,
                r.actor.clone(),
                r.commit
                    .as_deref()
                    .map_or("-".to_string(), |c| c.chars().take(10).collect()),
                r.command.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// `2025-11-25 23:27:00`: the RFC 3339 form to the second, for tables.
pub(crate) fn short_time(t: Timestamp) -> String {
    let s = t.to_string();
    s.get(..19).unwrap_or(&s).replacen('T', " ", 1)
}
