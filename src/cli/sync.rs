//! `gamops sync sonar|splynx`: billing to subscriber files, validated, then (when asked) a commit
//! as the bot and a fast-forward push.

use crate::billing::sync::{
    ChangeKind, EventRef, Scope, Source, SyncError, SyncOptions, SyncReport, sync,
};

use super::{CommandError, ErrorKind, Format, InventoryArgs};

/// The billing sync: Sonar or Splynx customers become subscriber files, committed by a bot.
#[derive(Debug, clap::Subcommand)]
pub enum SyncCommand {
    Sonar(Args),
    Splynx(Args),
    Serve(super::sync_serve::ServeArgs),
}

/// Read billing, write the subscribers it owns, validate the whole inventory, and commit.
///
/// Reads every customer (or those given with --customer) through the API configured under
/// `billing:` in gamops.yaml, maps them to subscribers, and writes only the fields billing
/// owns; subscribers with `managed_by: manual` are never touched. A customer whose data is
/// incomplete or conflicts is skipped and listed; what is written always validates.
///
/// Without --commit the files are written to the work tree and not committed. With --commit
/// they are committed on the branch as the bot, with a message listing each change and
/// `Billing-Source:` trailer. --push REMOTE pushes fast-forward only: when the remote moved, the
/// commit is replayed onto it, the inventory re-validated, and the push retried; never forced.
/// Exits 0 when done (also with skipped customers), 1 on error.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops sync splynx --dry-run                   # what would change, as a diff
  gamops sync splynx                             # write the files, do not commit
  gamops sync splynx --commit                    # commit on the checked-out branch
  gamops sync sonar --commit --branch billing --push origin
  gamops sync splynx --customer 1042 --commit    # only one customer
  gamops sync sonar --dry-run --format json")]
pub struct Args {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Print what would change, as a unified diff, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Commit the changes as the bot (the files are only written without it).
    #[arg(long)]
    pub commit: bool,
    /// The branch to commit on (created from HEAD if missing); the checked-out one by default.
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Push the branch to this remote after committing (implies --commit); fast-forward only.
    #[arg(long, value_name = "REMOTE")]
    pub push: Option<String>,
    /// Only these customers (billing ids); repeat the flag for several.
    #[arg(long = "customer", value_name = "ID")]
    pub customers: Vec<String>,
    /// The billing event behind this sync, recorded as a `Billing-Event-Id:` trailer.
    #[arg(long = "event-id", value_name = "ID")]
    pub events: Vec<String>,
    /// Records per page when reading billing.
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(cmd: SyncCommand) -> Result<u8, CommandError> {
    let (source, args) = match cmd {
        SyncCommand::Sonar(a) => (Source::Sonar, a),
        SyncCommand::Splynx(a) => (Source::Splynx, a),
        SyncCommand::Serve(a) => return super::sync_serve::run(a),
    };
    let mut opts = SyncOptions::new(&args.inv.inventory, source);
    opts.dry_run = args.dry_run;
    opts.commit = args.commit;
    opts.branch = args.branch.clone();
    opts.push = args.push.clone();
    opts.page_size = args.page_size;
    let scope = if args.customers.is_empty() {
        Scope::All
    } else {
        Scope::Customers(args.customers.clone())
    };
    let events: Vec<EventRef> = args
        .events
        .iter()
        .map(|id| EventRef { id: id.clone() })
        .collect();
    let report = super::runtime()?
        .block_on(sync(&opts, scope, &events))
        .map_err(command_error)?;
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&report).map_err(CommandError::internal)?;
            println!("{json}");
        }
        Format::Text => print!("{}", text(&report, opts.commit || opts.push.is_some())),
    }
    Ok(0)
}

fn command_error(e: SyncError) -> CommandError {
    let kind = match &e {
        SyncError::Invalid { .. } | SyncError::NotConfigured(_) => ErrorKind::Config,
        SyncError::Render { .. } => ErrorKind::Config,
        _ => ErrorKind::User,
    };
    let hint = e.hint();
    let message = super::error::flatten(&e);
    let err = CommandError::new(kind, message.trim_end());
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// The report for people.
pub fn text(r: &SyncReport, committing: bool) -> String {
    let mut out = String::new();
    if let Some(diff) = &r.diff {
        out.push_str(diff);
    }
    let counts: Vec<String> = [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Suspended,
        ChangeKind::Deleted,
    ]
    .iter()
    .map(|k| format!("{} {}", r.count(*k), format!("{k:?}").to_lowercase()))
    .collect();
    out.push_str(&format!(
        "{}: read {} customer{}; {}; {} skipped\n",
        r.source,
        r.read,
        if r.read == 1 { "" } else { "s" },
        counts.join(", "),
        r.skipped.len()
    ));
    if r.unchanged + r.not_subscribers > 0 {
        out.push_str(&format!(
            "  {} unchanged, {} not a GAM subscriber (off in billing or no service wired to a GAM)\n",
            r.unchanged, r.not_subscribers
        ));
    }
    for c in &r.changes {
        let sign = match c.kind {
            ChangeKind::Created => '+',
            ChangeKind::Updated => '~',
            ChangeKind::Suspended => '!',
            ChangeKind::Deleted => '-',
        };
        out.push_str(&format!(
            "  {sign} {} {}: {}\n",
            c.subscriber,
            format!("{:?}", c.kind).to_lowercase(),
            c.details.join(", ")
        ));
    }
    for p in &r.new_plans {
        out.push_str(&format!(
            "  + plan {} ({}/{} Mbps) added to plans.yaml\n",
            p.name, p.down_mbps, p.up_mbps
        ));
    }
    if !r.skipped.is_empty() {
        out.push_str("skipped (left as they are):\n");
        for s in &r.skipped {
            out.push_str(&format!("  {s}\n"));
        }
    }
    if r.dry_run {
        out.push_str("dry run: nothing was written\n");
    } else if r.files.is_empty() {
        out.push_str("no change; nothing to write or commit\n");
    } else if committing {
        match (&r.commit, &r.branch) {
            (Some(c), Some(b)) => out.push_str(&format!(
                "committed {} on {b} ({} file{})\n",
                c.get(..10).unwrap_or(c),
                r.files.len(),
                if r.files.len() == 1 { "" } else { "s" }
            )),
            _ => out.push_str("no change; nothing to commit\n"),
        }
    } else {
        out.push_str(&format!(
            "wrote {} file{}; not committed (pass --commit to commit them as the bot)\n",
            r.files.len(),
            if r.files.len() == 1 { "" } else { "s" }
        ));
    }
    if let Some(p) = &r.push {
        let replayed = if p.rebases > 0 {
            format!(
                " (the remote had moved: replayed onto it {} time{})",
                p.rebases,
                if p.rebases == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "push to {} {}: {}{replayed}\n",
            p.remote, p.branch, p.outcome
        ));
    }
    out
}
