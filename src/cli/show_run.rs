//! `gamops show-run`: one recorded run in full: who, what, when, which commit, each device's
//! outcome and the commands sent.

use std::fmt::Write as _;

use crate::store::{RunDetail, RunId};

use super::history::short_time;
use super::state::{StoreArgs, open_existing};
use super::{CommandError, Format};

/// Show one recorded run: who, what, when, which commit, each device's outcome and the
/// commands sent (secrets redacted).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops show-run 42
  gamops show-run 42 --format json
  gamops show-run 7 --database-url postgres://gamops@db.example.net/gamops")]
pub struct Args {
    /// The run's number, as `gamops history` lists it.
    pub id: RunId,
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let location = args.store.location();
    let detail = super::runtime()?.block_on(async {
        let store = open_existing(&location).await?;
        let run = store.run(args.id).await;
        store.close().await;
        Ok::<_, CommandError>(run?)
    })?;
    let Some(detail) = detail else {
        return Err(
            CommandError::user(format!("no run {} in {location}", args.id))
                .hint("`gamops history` lists the recorded runs"),
        );
    };
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&detail).map_err(CommandError::internal)?;
            println!("{json}");
        }
        Format::Text => print!("{}", text(&detail)),
    }
    Ok(0)
}

/// The run for people.
fn text(d: &RunDetail) -> String {
    let s = &d.summary;
    let mut out = String::new();
    let _ = writeln!(out, "run {}: {}", s.id, s.status);
    let _ = writeln!(out, "  who:      {}", s.actor);
    let _ = writeln!(out, "  command:  {}", s.command);
    let _ = writeln!(out, "  commit:   {}", s.commit.as_deref().unwrap_or("-"));
    if let Some(p) = &s.plan_summary {
        let _ = writeln!(out, "  plan:     {p}");
    }
    let _ = writeln!(out, "  started:  {}", short_time(s.started_at));
    match s.finished_at {
        Some(f) => {
            let secs = f.since(s.started_at).as_secs_f64();
            let _ = writeln!(out, "  finished: {} ({secs:.1} s)", short_time(f));
        }
        None => {
            let _ = writeln!(
                out,
                "  finished: - (still running, or the process was killed)"
            );
        }
    }
    out.push_str("\ndevices:\n");
    if d.outcomes.is_empty() {
        out.push_str("  (none recorded)\n");
    }
    let name_w = d
        .outcomes
        .iter()
        .map(|o| o.device.chars().count())
        .max()
        .unwrap_or(0);
    for o in &d.outcomes {
        let _ = write!(
            out,
            "  {:<name_w$}  {:<11}  {} changes, {} commands",
            o.device,
            o.status.as_str(),
            o.changes,
            o.commands
        );
        if !o.message.is_empty() {
            let _ = write!(out, ": {}", o.message);
        }
        out.push('\n');
    }
    out.push_str("\ncommands sent:\n");
    if d.journal.is_empty() {
        out.push_str("  (none)\n");
    }
    let mut current: Option<&str> = None;
    for j in &d.journal {
        if current != Some(j.device.as_str()) {
            let _ = writeln!(out, "  {}", j.device);
            current = Some(&j.device);
        }
        let time = j.at.to_string();
        let time = time.get(11..23).unwrap_or(&time);
        let mark = if j.ok { "ok    " } else { "FAILED" };
        let _ = writeln!(out, "    {:>3} {time} {mark} {}", j.seq, j.command);
        if !j.ok || !j.output.trim().is_empty() {
            for line in j.output.lines().filter(|l| !l.trim().is_empty()) {
                let _ = writeln!(out, "          | {line}");
            }
        }
    }
    out
}
