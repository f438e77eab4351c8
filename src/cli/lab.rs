//! `gamops lab`: simulated GAMs for tests, benchmarks, the demo and trying gamops without
//! hardware.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use crate::billing::sync::Source;
use crate::inventory::Inventory;
use crate::inventory::report::Report;
use crate::lab::billing::fleet::customers_for;
use crate::lab::billing::{FakeCustomer, beside};
use crate::lab::control::FaultSettings;
use crate::lab::file_shell::{FileShell, FileShellError};
use crate::lab::fleetgen::{FleetSpec, write_fleet_with};
use crate::lab::persist;
use crate::lab::prepare::{self, Prepared};
use crate::lab::runtime::{DeviceConfig, Lab, LabOptions};
use crate::lab::seed::Seed;
use crate::lab::terminal::{TerminalMode, run_session};
use crate::model::{BillingMapping, Desired};

use super::{CommandError, ErrorKind, Format};

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    Gen(GenArgs),
    Up(UpArgs),
    Shell(ShellArgs),
    Bench(BenchArgs),
}

/// Write an inventory for a generated fleet of lab devices (valid and in canonical form).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops lab gen --devices 3 --subscribers-per-device 20 --out /tmp/fleet\n  gamops lab gen --devices 1000 --subscribers-per-device 100 --out /tmp/big   # the validate benchmark\n\n`gamops lab up --devices N --subscribers-per-device M` serves the devices this writes (same\nnames, same ports for the same --base-port)."
)]
pub struct GenArgs {
    #[arg(long, default_value_t = 3)]
    pub devices: usize,
    #[arg(long, default_value_t = 10)]
    pub subscribers_per_device: usize,
    /// Device i gets SNMP on BASE+2i and SSH on BASE+2i+1, and JSON-RPC on BASE+2N+i (N
    /// devices), at 127.0.0.1.
    #[arg(long, default_value_t = 20000)]
    pub base_port: u16,
    /// How the inventory's devices are changed: over the CLI (SSH) or the JSON-RPC API
    /// (written as `defaults.driver` in gamops.yaml).
    #[arg(long, value_enum, default_value_t = DriverArg::Cli)]
    pub driver: DriverArg,
    /// The folder to write (created; must be empty or absent).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write a `billing:` section for the fake billing server of `gamops lab up --billing`
    /// (its URL on --billing-port; secrets as env: references that `lab up` prints).
    #[arg(long, value_enum)]
    pub billing: Option<Source>,
    /// The fake billing server's port on 127.0.0.1.
    #[arg(long, default_value_t = DEFAULT_BILLING_PORT)]
    pub billing_port: u16,
}

/// The billing port `lab gen` writes and `lab up` serves by default.
pub const DEFAULT_BILLING_PORT: u16 = 19999;

/// The change driver a generated inventory names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DriverArg {
    /// The CLI over SSH.
    Cli,
    /// The JSON-RPC API.
    Jsonrpc,
}

impl From<DriverArg> for crate::model::Driver {
    fn from(d: DriverArg) -> Self {
        match d {
            DriverArg::Cli => crate::model::Driver::Cli,
            DriverArg::Jsonrpc => crate::model::Driver::Jsonrpc,
        }
    }
}

/// How to seed the devices' configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum SeedArg {
    /// Factory defaults: no subscribers, no CPEs (a GAM out of the box).
    #[default]
    Empty,
    /// A plausible random configuration and CPEs, the same for the same --rng-seed.
    Random,
    /// Exactly what the inventory asks for, saved, with every subscriber's CPE detected.
    Converged,
}

/// Serve simulated GAMs on 127.0.0.1 (SNMP and SSH per device) until Ctrl-C or SIGTERM.
///
/// Prints one line per device, `NAME snmp=127.0.0.1:PORT ssh=127.0.0.1:PORT`, then
/// `admin=http://127.0.0.1:PORT`, the admin interface that injects faults at run time
/// (`GET /devices`, `POST /devices/NAME/faults`, `POST /devices/NAME/reboot`,
/// `POST /devices/NAME/drift`; see docs in `gamops::lab::admin`). Credentials are the GAM's
/// factory defaults (SSH `admin` with an empty password, SNMP communities `public` and
/// `private`) unless the inventory names others that resolve.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops lab up --devices 3\n  gamops lab up --inventory inventory/ --seed converged\n  gamops lab up --devices 10 --seed random --rng-seed 7 --state /tmp/lab.json\n  gamops lab up --from-walk tests/fixtures/gam12c-walk.snmprec\n  gamops lab up --devices 3 --format json --admin-port 18080\n\nThen, in another terminal:\n  snmpget -v2c -c public 127.0.0.1:20000 1.3.6.1.2.1.1.5.0\n  ssh -p 20001 admin@127.0.0.1          # empty password\n  curl -X POST -d '{\"snmp_latency_ms\":200}' -H 'content-type: application/json' \\\n       http://127.0.0.1:18080/devices/gam-0000/faults\n  curl -X POST http://127.0.0.1:18080/devices/gam-0000/reboot"
)]
pub struct UpArgs {
    /// Serve every device of this inventory, at the address and ports its YAML names.
    #[arg(long, conflicts_with_all = ["devices", "from_walk"])]
    pub inventory: Option<PathBuf>,
    /// Serve this many generated devices (as `gamops lab gen` writes them).
    #[arg(long)]
    pub devices: Option<usize>,
    /// Subscribers per generated device.
    #[arg(long, default_value_t = 10)]
    pub subscribers_per_device: usize,
    /// Serve one device rebuilt from a recorded walk (`.snmprec`), with the walk's other OIDs.
    #[arg(long, conflicts_with = "devices")]
    pub from_walk: Option<PathBuf>,
    /// Generated devices and --from-walk: device i listens for SNMP on BASE+2i and SSH on
    /// BASE+2i+1; 0 picks free ports.
    #[arg(long, default_value_t = 20000)]
    pub base_port: u16,
    /// What the devices hold at start (a --state file overrides it for the devices it has).
    #[arg(long, value_enum, default_value_t = SeedArg::Empty)]
    pub seed: SeedArg,
    /// The seed of --seed random.
    #[arg(long, default_value_t = 1)]
    pub rng_seed: u64,
    /// Keep the devices' state (running and startup config, CPEs, host keys) in this file:
    /// loaded at start, written when a device saves, every few seconds when something changed,
    /// and at exit.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The admin interface's port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub admin_port: u16,
    /// How long a rebooting device stays unreachable, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub reboot_downtime_ms: u64,
    /// Faults to set at start: the path of a JSON file holding an object of device name (or
    /// "*" for all) to fault settings, the same as the admin interface's
    /// `POST /devices/NAME/faults` (for example `{"*": {"snmp_latency_ms": 200}}`).
    #[arg(long, value_name = "FILE")]
    pub faults: Option<PathBuf>,
    /// Also serve a fake billing system whose customers fit the lab's devices (free ports,
    /// VLANs and MACs, the inventory's plans), so `gamops sync splynx|sonar --commit` has
    /// something to add. Needs --inventory or --devices.
    #[arg(long, value_enum, conflicts_with = "from_walk")]
    pub billing: Option<Source>,
    /// The fake billing server's port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = DEFAULT_BILLING_PORT)]
    pub billing_port: u16,
    /// Billing customers per device.
    #[arg(long, default_value_t = 2)]
    pub billing_customers: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Run one lab device's CLI on standard input and output (for a real sshd's `ForceCommand`).
///
/// The device comes from a state file written by `gamops lab up --state` (or by an earlier
/// `lab shell`); the file is written back after each command that changes the running
/// configuration, when it is saved, and at exit. On a
/// terminal it echoes and edits lines like the GAM; piped, it prints prompts and output only.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops lab shell --state /tmp/lab.json --device gam-0000\n  printf 'terminal length 0\\nshow running-config\\n' | gamops lab shell --state /tmp/lab.json --device gam-0000\n\nAs an OpenSSH forced command (sshd_config):\n  Match User gam\n    ForceCommand gamops lab shell --state /var/lib/gamops/lab.json --device gam-0000"
)]
pub struct ShellArgs {
    /// The lab state file.
    #[arg(long)]
    pub state: PathBuf,
    /// The device whose CLI to run.
    #[arg(long)]
    pub device: String,
    /// Create the device as a factory GAM-12-C when the state file does not have it.
    #[arg(long)]
    pub create: bool,
}

/// Measure the lab: memory of many idle devices, GETBULK latency, SSH logins.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops lab bench                      # 1000 devices, 2000 GETBULKs, 200 logins\n  gamops lab bench --devices 100 --logins 50\n\nBuild with --release for meaningful figures: cargo run --release -- lab bench"
)]
pub struct BenchArgs {
    /// Devices served by the one lab process.
    #[arg(long, default_value_t = 1000)]
    pub devices: usize,
    #[arg(long, default_value_t = 10)]
    pub subscribers_per_device: usize,
    /// GETBULK requests (50 repetitions each) timed against one device.
    #[arg(long, default_value_t = 2000)]
    pub getbulks: usize,
    /// SSH password logins, spread over the devices.
    #[arg(long, default_value_t = 200)]
    pub logins: usize,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 20)]
    pub login_concurrency: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(cmd: LabCommand) -> Result<u8, CommandError> {
    match cmd {
        LabCommand::Gen(args) => gen_cmd(args),
        LabCommand::Up(args) => up(args),
        LabCommand::Shell(args) => shell(args),
        LabCommand::Bench(args) => bench(args),
    }
}

fn gen_cmd(args: GenArgs) -> Result<u8, CommandError> {
    if std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(
            CommandError::user(format!("{} is not empty", args.out.display()))
                .hint("choose a new folder: gen never overwrites an inventory"),
        );
    }
    let spec = FleetSpec {
        devices: args.devices,
        subscribers_per_device: args.subscribers_per_device,
        base_port: args.base_port,
    };
    let summary =
        write_fleet_with(&spec, &args.out, args.driver.into()).map_err(CommandError::user)?;
    if let Some(system) = args.billing {
        beside::add_section(&args.out, system, args.billing_port).map_err(CommandError::user)?;
    }
    println!(
        "wrote {} devices and {} subscribers to {}",
        summary.devices,
        summary.subscribers,
        args.out.display()
    );
    Ok(0)
}

fn config_error(message: impl std::fmt::Display) -> CommandError {
    CommandError::new(ErrorKind::Config, message)
}

fn seed_of(args: &UpArgs) -> Seed {
    match args.seed {
        SeedArg::Empty => Seed::Empty,
        SeedArg::Random => Seed::Random {
            rng_seed: args.rng_seed,
        },
        SeedArg::Converged => Seed::Converged,
    }
}

/// Loads an inventory folder, refusing an invalid one (the seeds need a valid one).
fn load_inventory(dir: &Path) -> Result<Inventory, CommandError> {
    let inv = Inventory::load_dir(dir)?;
    let diagnostics = inv.validate();
    if diagnostics.iter().any(|d| d.is_error()) {
        eprint!("{}", Report::new(&inv, &diagnostics).to_text(false));
        return Err(
            config_error("the inventory is not valid; no device was started")
                .hint("fix what is listed above (`gamops validate` shows the same)"),
        );
    }
    Ok(inv)
}

/// The devices `lab up` (and `lab bench`) serve, notes for the user, and the inventory they
/// come from (none for --from-walk).
fn prepare(args: &UpArgs) -> Result<(Prepared, Option<Desired>), CommandError> {
    let seed = seed_of(args);
    if let Some(dir) = &args.inventory {
        let inv = load_inventory(dir)?;
        let prepared = prepare::from_inventory(&inv.desired, seed).map_err(config_error)?;
        return Ok((prepared, Some(inv.desired)));
    }
    if let Some(walk) = &args.from_walk {
        let text = std::fs::read_to_string(walk)
            .map_err(|e| CommandError::user(format!("cannot read {}: {e}", walk.display())))?;
        let (snmp, ssh) = if args.base_port == 0 {
            (0, 0)
        } else {
            (args.base_port, args.base_port.saturating_add(1))
        };
        let device = prepare::from_walk(&text, snmp, ssh).map_err(config_error)?;
        return Ok((
            Prepared {
                devices: vec![device],
                notes: Vec::new(),
            },
            None,
        ));
    }
    let spec = FleetSpec {
        devices: args.devices.unwrap_or(3),
        subscribers_per_device: args.subscribers_per_device,
        // Ports are picked free when --base-port is 0.
        base_port: if args.base_port == 0 {
            20000
        } else {
            args.base_port
        },
    };
    let (prepared, desired) =
        prepare::generated(&spec, seed, args.base_port == 0).map_err(config_error)?;
    Ok((prepared, Some(desired)))
}

fn load_faults(path: &Path) -> Result<BTreeMap<String, FaultSettings>, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CommandError::user(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        config_error(format!("{}: {e}", path.display())).hint(
            "write a JSON object of device name (or \"*\") to settings, e.g. {\"*\": {\"snmp_latency_ms\": 50}}",
        )
    })
}

fn up(args: UpArgs) -> Result<u8, CommandError> {
    let (
        Prepared {
            mut devices,
            mut notes,
        },
        desired,
    ) = prepare(&args)?;
    let billing = match (args.billing, desired) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(
                CommandError::user("--billing needs --inventory or --devices")
                    .hint("a device rebuilt from a walk has no inventory to fit customers to"),
            );
        }
        (Some(system), Some(desired)) => {
            let customers =
                customers_for(&desired, args.billing_customers, system == Source::Splynx)
                    .map_err(config_error)?;
            let section = desired.fleet().billing;
            Some((system, customers, section))
        }
    };
    if let Some(path) = &args.state
        && let Some(file) = persist::load(path).map_err(config_error)?
    {
        let restored = file.restore(&mut devices);
        if restored > 0 {
            notes.push(format!("restored {restored} devices from the state file"));
        }
    }
    let faults = match &args.faults {
        Some(p) => load_faults(p)?,
        None => BTreeMap::new(),
    };
    let rt = super::runtime()?;
    rt.block_on(serve_lab(args, devices, notes, faults, billing))
}

/// The customers to serve, and the inventory's billing section (to say when it is missing).
type BillingPlan = (Source, Vec<FakeCustomer>, Option<Box<BillingMapping>>);

async fn serve_lab(
    args: UpArgs,
    devices: Vec<DeviceConfig>,
    notes: Vec<String>,
    faults: BTreeMap<String, FaultSettings>,
    billing: Option<BillingPlan>,
) -> Result<u8, CommandError> {
    let options = LabOptions {
        reboot_downtime: Duration::from_millis(args.reboot_downtime_ms),
        ..LabOptions::default()
    };
    let lab = Lab::start(devices, options).await.map_err(|e| {
        CommandError::user(e)
            .hint("another process may hold the port; try --base-port 0 for free ports")
    })?;
    lab.apply_fault_map(&faults).map_err(config_error)?;
    let token = lab.shutdown_token();
    let admin = crate::lab::admin::serve(
        Arc::clone(&lab),
        SocketAddr::from((Ipv4Addr::LOCALHOST, args.admin_port)),
        token.child_token(),
    )
    .await
    .map_err(CommandError::user)?;
    let billing = match billing {
        Some((system, customers, section)) => Some(
            beside::start(system, customers, section.as_deref(), args.billing_port)
                .await
                .map_err(|e| {
                    CommandError::user(format!(
                        "cannot serve the fake billing system on port {}: {e}",
                        args.billing_port
                    ))
                    .hint("another process may hold the port; choose another with --billing-port (0: any)")
                })?,
        ),
        None => None,
    };

    for n in &notes {
        eprintln!("note: {n}");
    }
    if let Some(section) = billing.as_ref().and_then(|b| b.missing_section.as_ref()) {
        eprintln!(
            "note: the inventory's gamops.yaml has no billing section for this server; add:\nbilling:\n{}",
            section
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
                .trim_end()
        );
    }
    let mut out = std::io::stdout().lock();
    let printed = match args.format {
        Format::Text => {
            let mut text = String::new();
            for d in lab.devices() {
                text.push_str(&format!(
                    "{} snmp={} ssh={} jsonrpc={}\n",
                    d.name(),
                    d.snmp_addr(),
                    d.ssh_addr(),
                    d.jsonrpc_addr()
                ));
            }
            text.push_str(&format!("admin={}\n", admin.url()));
            if let Some(b) = &billing {
                text.push_str(&format!(
                    "billing={} url={} customers={}\n",
                    b.system.as_str(),
                    b.url,
                    b.customers
                ));
                for (name, value) in &b.env {
                    text.push_str(&format!("export {name}={value}\n"));
                }
            }
            out.write_all(text.as_bytes())
        }
        Format::Json => {
            let devices: Vec<_> = lab
                .devices()
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "name": d.name(),
                        "snmp": d.snmp_addr().to_string(),
                        "ssh": d.ssh_addr().to_string(),
                        "snmp_port": d.snmp_addr().port(),
                        "ssh_port": d.ssh_addr().port(),
                        "jsonrpc": d.jsonrpc_addr().to_string(),
                        "jsonrpc_port": d.jsonrpc_addr().port(),
                        "host_key": d.host_key().public_key_openssh(),
                        "host_key_fingerprint": d.host_key().fingerprint_sha256(),
                    })
                })
                .collect();
            let mut doc = serde_json::json!({ "admin": admin.url(), "devices": devices });
            if let Some(b) = &billing {
                let env: serde_json::Map<String, serde_json::Value> = b
                    .env
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
                    .collect();
                doc["billing"] = serde_json::json!({
                    "system": b.system.as_str(),
                    "url": b.url,
                    "customers": b.customers,
                    "env": env,
                    "section": beside::section_yaml(b.system, &b.url),
                });
            }
            out.write_all(format!("{doc}\n").as_bytes())
        }
    };
    let _ = printed.and_then(|()| out.flush());
    drop(out);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CommandError::internal(format!("cannot watch SIGTERM: {e}")))?;
    let stopped = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    match &args.state {
        Some(path) => persist::keep(&lab, path, stopped).await,
        None => stopped.await,
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), lab.shutdown()).await;
    admin.wait().await;
    Ok(0)
}

/// Puts the terminal on stdin in raw mode (no echo, no line buffering) and restores it on drop.
struct RawTerminal(Option<String>);

impl RawTerminal {
    fn enter() -> Self {
        let saved = std::process::Command::new("stty")
            .arg("-g")
            .stdin(std::process::Stdio::inherit())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if saved.is_some() {
            let _ = std::process::Command::new("stty")
                .args(["raw", "-echo"])
                .stdin(std::process::Stdio::inherit())
                .status();
        }
        RawTerminal(saved)
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            let _ = std::process::Command::new("stty")
                .arg(saved)
                .stdin(std::process::Stdio::inherit())
                .status();
        }
    }
}

fn shell(args: ShellArgs) -> Result<u8, CommandError> {
    let mut shell = FileShell::open(&args.state, &args.device, args.create).map_err(|e| {
        let hint = match &e {
            FileShellError::NoDevice { known, .. } if known.is_empty() => {
                "run `gamops lab up --state FILE` first, or pass --create".to_string()
            }
            FileShellError::NoDevice { known, .. } => format!("devices: {}", known.join(", ")),
            FileShellError::Persist(_) => String::new(),
        };
        match e {
            FileShellError::Persist(e) => config_error(e),
            e => CommandError::user(e).hint(hint),
        }
    })?;
    let interactive = std::io::stdin().is_terminal();
    let rt = super::runtime()?;
    let ended = rt.block_on(async {
        let _raw = interactive.then(RawTerminal::enter);
        let mode = if interactive {
            TerminalMode::interactive()
        } else {
            TerminalMode::piped()
        };
        run_session(&mut shell, tokio::io::stdin(), tokio::io::stdout(), mode).await
    });
    // Running config survives like a `lab up` restart does.
    if let Err(e) = shell.persist() {
        eprintln!("gamops lab shell: {e}");
    }
    // Tokio's stdin reader may still be blocked on a read: do not wait for it.
    rt.shutdown_background();
    ended.map_err(|e| CommandError::new(ErrorKind::Device, e))?;
    Ok(0)
}

fn bench(args: BenchArgs) -> Result<u8, CommandError> {
    let up = UpArgs {
        inventory: None,
        devices: Some(args.devices),
        subscribers_per_device: args.subscribers_per_device,
        from_walk: None,
        base_port: 0,
        seed: SeedArg::Converged,
        rng_seed: 1,
        state: None,
        admin_port: 0,
        reboot_downtime_ms: 5000,
        faults: None,
        billing: None,
        billing_port: 0,
        billing_customers: 0,
        format: Format::Text,
    };
    let (prepared, _) = prepare(&up)?;
    let rt = super::runtime()?;
    let report = rt
        .block_on(crate::lab::bench::run(
            prepared.devices,
            crate::lab::bench::BenchSpec {
                getbulks: args.getbulks,
                logins: args.logins,
                login_concurrency: args.login_concurrency,
            },
        ))
        .map_err(CommandError::user)?;
    match args.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
    }
    Ok(0)
}
