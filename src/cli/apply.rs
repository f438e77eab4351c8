//! `gamops apply`: converge the devices to a plan over their SSH CLI.

use std::io::{BufRead, IsTerminal, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use crate::apply::{ApplyStatus, Remedy};
use crate::plan::render;
use crate::plan::{Plan, PlanOptions};
use crate::reconcile::{self, ApplyOptions};
use crate::store::{RunStatus, Store};

use super::state::StoreArgs;
use super::{CommandError, Format};

/// Apply a plan: per device, send the changes over the SSH CLI in order, verify them over SNMP,
/// save; roll back and report a device whose change fails.
///
/// With PLANFILE (from `gamops plan --out`), apply exactly that plan; a device that changed since
/// is refused as stale and the others proceed. Without one, plan now, show it, and ask (or pass
/// --auto-approve).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 every device applied (or had nothing to do), 3 partial (some devices \
failed, were rolled back, stale, blocked or unreadable; each is named), 1 an error before applying, \
130 stopped by Ctrl-C or SIGTERM (devices in flight were finished or rolled back; the run is \
recorded as interrupted).

Examples:
  gamops plan --out plan.json && gamops apply plan.json
  gamops apply --auto-approve --device bldg-12-gam1
  gamops apply --auto-approve --accept-new-host-keys     # first contact with new devices
  gamops apply plan.json --lease-ttl 2m                  # a killed apply frees its devices sooner"
)]
pub struct Args {
    /// A plan saved by `gamops plan --out`.
    pub planfile: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply past the safety limits.
    #[arg(long)]
    pub force: bool,
    /// Devices changed at once.
    #[arg(long, default_value_t = crate::apply::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Apply only this device (repeatable).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// Trust a device's SSH host key on first contact when the inventory pins none.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// How long a device's lease lasts without renewal: a running apply renews it every third
    /// of this; the lease of an apply that was killed expires after it. A number of seconds,
    /// or with a unit: 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = parse_ttl)]
    pub lease_ttl: Duration,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let inv = super::load_valid(&args.store.inv.inventory, None, "applied")?;
    let runtime = super::runtime()?;

    let (plan, from_file) = match &args.planfile {
        Some(path) => (read_plan(path)?, true),
        None => {
            let names = reconcile::select_devices(&inv.desired, &args.devices)?;
            let observations = runtime.block_on(reconcile::observe(
                &inv.desired,
                &names,
                32,
                super::plan::reading_progress(),
            ));
            let commit = crate::git::head_commit(&args.store.inv.inventory);
            let plan = Plan::build(
                &inv.desired,
                &observations,
                commit,
                PlanOptions { force: args.force },
            );
            if args.format == Format::Text {
                print!("{}", render::text(&plan, super::colour()));
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

    let store = runtime.block_on(Store::open(&args.store.location()))?;
    let options = ApplyOptions {
        force: args.force,
        accept_new_host_keys: args.accept_new_host_keys,
        concurrency: args.concurrency,
        lease_ttl: args.lease_ttl,
        devices: args.devices.clone(),
        actor: reconcile::actor(),
        trigger: std::env::args()
            .map(|a| crate::store::hide_password(&a))
            .collect::<Vec<_>>()
            .join(" "),
        fence: None,
    };
    let show = std::io::stderr().is_terminal();
    let report = runtime.block_on(async {
        let cancel = super::stop_on_signals("finishing or rolling back the devices in flight")?;
        Ok::<_, CommandError>(
            reconcile::apply(
                &plan,
                &inv.desired,
                &store,
                &options,
                &cancel,
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
            )
            .await?,
        )
    })?;
    runtime.block_on(store.close());

    match args.format {
        Format::Json => {
            let json =
                serde_json::to_string_pretty(&report.results).map_err(CommandError::internal)?;
            println!("{json}");
        }
        Format::Text => {
            for r in &report.results {
                println!(
                    "{}: {} ({}{})",
                    r.device,
                    status_word(&r.status),
                    r.message,
                    remedy_flag(r.remedy)
                );
            }
        }
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if let (Some(run), Format::Text) = (report.run, args.format) {
        println!("Recorded as run {} (`gamops show-run {}`).", run.0, run.0);
    }
    Ok(if report.status == RunStatus::Interrupted {
        INTERRUPTED
    } else if report.is_success() {
        0
    } else {
        3
    })
}

/// The exit code of an apply stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report).
const INTERRUPTED: u8 = 130;

/// How a person grants the override a held-back device needs, on this command line.
fn remedy_flag(remedy: Option<Remedy>) -> &'static str {
    match remedy {
        None => "",
        Some(Remedy::Force) => "; rerun with --force",
        Some(Remedy::AcceptNewHostKey) => "; on first contact, --accept-new-host-keys does",
    }
}

/// Parses a lease time to live: a length of time (seconds, or with a unit: `ms`, `s`, `m`,
/// `h`) of at least one second.
pub(crate) fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = text.parse::<crate::model::Interval>()?.0;
    if ttl < Duration::from_secs(1) {
        return Err(format!(
            "{text:?} is too short for a lease: give at least 1s"
        ));
    }
    Ok(ttl)
}

/// A device's outcome for people: the JSON word with spaces (`rolled back`).
fn status_word(s: &ApplyStatus) -> String {
    s.as_str().replace('-', " ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ttls_parse_with_or_without_a_unit() {
        assert_eq!(parse_ttl("600"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("1500ms"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "-5", "10 parsecs", "1.5s", "0", "500ms"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_ttl("10x").unwrap_err().contains("use ms, s, m or h"));
    }
}
