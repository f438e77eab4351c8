//! `gamops lab`: simulated GAMs for tests, benchmarks, the demo and trying gamops without
//! hardware.

use std::path::PathBuf;

use clap::Subcommand;

use crate::lab::fleetgen::{FleetSpec, write_fleet};

use super::CommandError;

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    Gen(GenArgs),
}

/// Write an inventory for a generated fleet of lab devices (valid and in canonical form).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops lab gen --devices 3 --subscribers-per-device 20 --out /tmp/fleet\n  gamops lab gen --devices 1000 --subscribers-per-device 100 --out /tmp/big   # the validate benchmark"
)]
pub struct GenArgs {
    #[arg(long, default_value_t = 3)]
    pub devices: usize,
    #[arg(long, default_value_t = 10)]
    pub subscribers_per_device: usize,
    /// Device i gets SNMP on BASE+2i and SSH on BASE+2i+1 at 127.0.0.1.
    #[arg(long, default_value_t = 20000)]
    pub base_port: u16,
    /// The folder to write (created; must be empty or absent).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(cmd: LabCommand) -> Result<u8, CommandError> {
    match cmd {
        LabCommand::Gen(args) => {
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
            let summary = write_fleet(&spec, &args.out).map_err(CommandError::user)?;
            println!(
                "wrote {} devices and {} subscribers to {}",
                summary.devices,
                summary.subscribers,
                args.out.display()
            );
            Ok(0)
        }
    }
}
