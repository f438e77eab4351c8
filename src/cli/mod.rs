//! The command layer: parse arguments, call the library, print, and choose the exit code.
//! One file per command.

mod apply;
mod controller;
mod demo;
mod diff;
mod discover;
mod error;
mod fmt;
mod history;
mod import;
mod lab;
mod notify;
mod plan;
mod report;
mod schema;
mod show_run;
mod state;
mod status;
mod sync;
mod sync_serve;
mod token;
mod validate;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use error::{CommandError, ErrorKind};

/// Declarative GitOps for Positron G.hn access multiplexers (GAMs).
///
/// Desired state lives as YAML in git (devices, bandwidth plans, subscribers); gamops checks it,
/// plans the difference against the live GAMs and applies it safely.
#[derive(Debug, Parser)]
#[command(name = "gamops", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  gamops validate\n  gamops validate --rev HEAD~1 --format json\n  gamops fmt --check\n  gamops lab gen --devices 3 --subscribers-per-device 10 --out /tmp/fleet"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines (on stderr) for people, or one JSON object a line for a log collector.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Cli {
    /// The log level unless `GAMOPS_LOG` says otherwise: services (the controller, the webhook
    /// server) say what they do; one-shot commands speak only of trouble.
    pub fn default_log_level(&self) -> &'static str {
        match &self.command {
            Command::Controller(_) | Command::Sync(sync::SyncCommand::Serve(_)) => "info",
            _ => "warn",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Demo(demo::Args),
    Validate(validate::Args),
    Plan(plan::Args),
    Diff(diff::Args),
    Apply(apply::Args),
    Import(import::Args),
    Discover(discover::Args),
    Fmt(fmt::Args),
    Schema(schema::Args),
    History(history::Args),
    ShowRun(show_run::Args),
    Status(status::Args),
    Report(report::Args),
    Controller(controller::Args),
    #[command(subcommand)]
    Token(token::TokenCommand),
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    #[command(subcommand)]
    Lab(lab::LabCommand),
}

/// Output for people or for programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// The devices a command reads: the inventory (at a revision, or as it is on disk), which of
/// its devices, and how many at once. Shared by `plan`, `status` and `report`.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Read the inventory as it is at this git revision.
    #[arg(long)]
    pub rev: Option<String>,
    /// Only this device (repeatable).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// How many devices to read at once.
    #[arg(long, default_value_t = crate::device::snmp::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

impl FleetArgs {
    /// The valid inventory (refused, with its report printed, when it has errors; `verb` says
    /// what would have been done) and the names of the devices chosen.
    pub(crate) fn load(
        &self,
        verb: &str,
    ) -> Result<(crate::inventory::Inventory, Vec<String>), CommandError> {
        let inv = load_valid(&self.inv.inventory, self.rev.as_deref(), verb)?;
        let names = crate::reconcile::select_devices(&inv.desired, &self.devices)?;
        Ok((inv, names))
    }
}

/// Where the inventory is, shared by every command that reads one.
#[derive(Debug, Clone, clap::Args)]
pub struct InventoryArgs {
    /// The inventory folder (the one holding gamops.yaml).
    #[arg(
        long,
        short = 'i',
        env = "GAMOPS_INVENTORY",
        default_value = "inventory"
    )]
    pub inventory: PathBuf,
}

/// Runs a parsed command line; returns the exit code on success.
pub fn run(cli: Cli) -> Result<u8, CommandError> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Import(args) => import::run(args),
        Command::Discover(args) => discover::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Schema(args) => schema::run(args),
        Command::History(args) => history::run(args),
        Command::ShowRun(args) => show_run::run(args),
        Command::Status(args) => status::run(args),
        Command::Report(args) => report::run(args),
        Command::Controller(args) => controller::run(args),
        Command::Token(cmd) => token::run(cmd),
        Command::Sync(cmd) => sync::run(cmd),
        Command::Notify(cmd) => notify::run(cmd),
        Command::Lab(cmd) => lab::run(cmd),
    }
}

/// Whether to colour output written to stdout.
pub(crate) fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The plan renderer's colour choice for stdout.
pub(crate) fn colour() -> crate::plan::render::Colour {
    if colour_stdout() {
        crate::plan::render::Colour::Always
    } else {
        crate::plan::render::Colour::Never
    }
}

/// A token cancelled by the first Ctrl-C or SIGTERM, saying on stderr what stopping means
/// (`doing`); a second one exits at once with 130. Must be called within the runtime.
pub(crate) fn stop_on_signals(
    doing: &'static str,
) -> Result<tokio_util::sync::CancellationToken, CommandError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| CommandError::internal(format!("cannot watch SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| CommandError::internal(format!("cannot watch Ctrl-C: {e}")))?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("stopping: {doing} (Ctrl-C again quits at once)");
        token.cancel();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("stopped at once");
        std::process::exit(130);
    });
    Ok(cancel)
}

/// The async runtime a command runs its network work on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::internal(format!("cannot start the async runtime: {e}")))
}

/// Loads the inventory (from the folder, or at `rev`) and refuses it, printing the report, when
/// it has errors: nothing is planned or applied from an invalid inventory.
pub(crate) fn load_valid(
    dir: &std::path::Path,
    rev: Option<&str>,
    doing: &str,
) -> Result<crate::inventory::Inventory, CommandError> {
    let inv = match rev {
        Some(rev) => crate::inventory::Inventory::load_rev(dir, rev)?,
        None => crate::inventory::Inventory::load_dir(dir)?,
    };
    let diagnostics = inv.validate();
    if diagnostics.iter().any(|d| d.is_error()) {
        eprint!(
            "{}",
            crate::inventory::report::Report::new(&inv, &diagnostics).to_text(false)
        );
        return Err(CommandError::new(
            ErrorKind::Config,
            format!("the inventory is not valid; nothing was {doing}"),
        )
        .hint("fix what is listed above (`gamops validate` shows the same)"));
    }
    Ok(inv)
}

/// Writes a file atomically (see [`crate::atomic_write`]), creating its folder when missing.
pub(crate) fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), CommandError> {
    crate::atomic_write::write(path, text.as_bytes())
        .map_err(|e| CommandError::user(format!("cannot write {}: {e}", path.display())))
}
