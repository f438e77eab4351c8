//! `gamops demo`: the whole loop against the built-in lab, with no set-up.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;

use crate::inventory::Inventory;
use crate::inventory::canonical::render;
use crate::inventory::layout::FileKind;
use crate::lab::control::Drift;
use crate::lab::prepare::from_inventory;
use crate::lab::runtime::{Lab, LabOptions};
use crate::lab::seed::Seed;
use crate::model::Located;

use super::CommandError;

/// Run gamops end to end against simulated GAMs: plan, apply, plan again (nothing to do), then
/// an out-of-band change shows up as drift.
///
/// The lab serves every device of the inventory on free loopback ports, partly configured and
/// with some drift. The inventory is copied to a temporary folder (secrets as files there), so
/// nothing of yours changes; the run history stays in that folder. Nothing keeps running.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  gamops demo\n  gamops demo --inventory ./inventory")]
pub struct Args {
    /// The inventory to demonstrate with.
    #[arg(long, short = 'i', default_value = "inventory")]
    pub inventory: PathBuf,
}

fn step(n: usize, title: &str) {
    println!("\n=== {n}. {title}\n");
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to.join(name))?;
        } else {
            std::fs::copy(entry.path(), to.join(name))?;
        }
    }
    Ok(())
}

/// Points every `env:` reference of the copy at a file holding the lab's credential.
fn secrets_as_files(inv: &Path, secrets: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(secrets)?;
    let known = [
        ("GAMOPS_SNMP_COMMUNITY", "public"),
        ("GAMOPS_SSH_PASSWORD", ""),
        ("GAMOPS_SNMP_AUTH", "authpass123"),
        ("GAMOPS_SNMP_PRIV", "privpass123"),
    ];
    for (name, value) in known {
        std::fs::write(secrets.join(name), value)?;
    }
    let mut files = vec![inv.join("gamops.yaml")];
    for entry in std::fs::read_dir(inv.join("devices"))? {
        files.push(entry?.path());
    }
    for f in files {
        let mut text = std::fs::read_to_string(&f)?;
        for (name, _) in known {
            text = text.replace(
                &format!("env:{name}"),
                &format!("file:{}", secrets.join(name).display()),
            );
        }
        std::fs::write(&f, text)?;
    }
    Ok(())
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let started = Instant::now();
    let tmp = std::env::temp_dir().join(format!("gamops-demo-{}", std::process::id()));
    let inv = tmp.join("inventory");
    let _ = std::fs::remove_dir_all(&tmp);
    copy_tree(&args.inventory, &inv).map_err(|e| {
        CommandError::user(format!("cannot copy {}: {e}", args.inventory.display()))
            .hint("run the demo from the project folder, or pass --inventory DIR")
    })?;
    secrets_as_files(&inv, &tmp.join("secrets"))?;
    let loaded = Inventory::load_dir(&inv)?;
    let problems = loaded.validate();
    if problems.iter().any(|d| d.is_error()) {
        return Err(
            CommandError::user("the demo inventory is not valid").hint(format!(
                "run gamops validate --inventory {}",
                args.inventory.display()
            )),
        );
    }

    // Converged lab devices on free ports, then made partly configured and drifted.
    let mut desired = loaded.desired.clone();
    for d in &mut desired.devices {
        let dev = &mut d.value;
        if let Some(s) = dev.snmp.as_mut() {
            s.port = Some(Located::bare(0));
        }
        if let Some(s) = dev.ssh.as_mut() {
            s.port = Some(Located::bare(0));
        }
    }
    let mut prepared = from_inventory(&desired, Seed::Converged)
        .map_err(|e| CommandError::internal(e.to_string()))?;
    for (i, cfg) in prepared.devices.iter_mut().enumerate() {
        let subs = &mut cfg.state.running.subscribers;
        // The first devices lack their newest subscribers; the last has a changed VLAN.
        if i + 1 < 3 {
            for _ in 0..2 {
                subs.pop_last();
            }
        } else if let Some((_, s)) = subs.iter_mut().next() {
            s.vid = 3999;
        }
        cfg.state.save();
    }

    let runtime = super::runtime()?;
    let lab = runtime
        .block_on(Lab::start(prepared.devices, LabOptions::default()))
        .map_err(|e| CommandError::internal(format!("cannot start the lab: {e}")))?;

    // Point the copy's device files at the lab: its ports, and its host keys pinned.
    for device in lab.devices() {
        let path = inv.join("devices").join(format!("{}.yaml", device.name()));
        let original = std::fs::read_to_string(&path)?;
        let Some(doc) = loaded.desired.device(device.name()) else {
            continue;
        };
        let mut dev = doc.value.clone();
        let snmp = dev.snmp.get_or_insert_with(Default::default);
        snmp.port = Some(Located::bare(device.snmp_addr().port()));
        let ssh = dev.ssh.get_or_insert_with(Default::default);
        ssh.port = Some(Located::bare(device.ssh_addr().port()));
        ssh.host_key = Some(Located::bare(device.host_key().fingerprint_sha256()));
        let text = render(FileKind::Device, &dev, Some(&original))
            .map_err(|e| CommandError::internal(e.to_string()))?;
        std::fs::write(&path, text)?;
        println!(
            "lab: {} snmp={} ssh={}",
            device.name(),
            device.snmp_addr(),
            device.ssh_addr()
        );
    }

    // Each step is the command a user would type, run in this process: the same parsing,
    // library call and output as on the command line.
    let gamops = |args: &[&str]| -> Result<u8, CommandError> {
        let line = ["gamops"]
            .iter()
            .chain(args)
            .map(std::ffi::OsStr::new)
            .chain([std::ffi::OsStr::new("--inventory"), inv.as_os_str()]);
        let cli = super::Cli::try_parse_from(line)
            .map_err(|e| CommandError::internal(format!("the demo's command line: {e}")))?;
        Ok(match super::run(cli) {
            Ok(code) => code,
            Err(e) => {
                use std::io::IsTerminal;
                e.eprint(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
                e.exit_code()
            }
        })
    };

    step(1, "gamops validate: the inventory is valid");
    gamops(&["validate"])?;
    step(2, "gamops plan: what differs between git and the devices");
    gamops(&["plan"])?;
    step(3, "gamops apply: converge, verify over SNMP, save");
    let applied = gamops(&["apply", "--auto-approve"])?;
    step(4, "gamops plan again: nothing to do");
    let again = gamops(&["plan", "--detailed-exitcode"])?;
    step(
        5,
        "someone changes a subscriber by hand on the device; gamops plan shows the drift",
    );
    let victim = lab
        .devices()
        .first()
        .map(|d| d.name().to_string())
        .unwrap_or_default();
    let drifted = lab.device(&victim).and_then(|d| {
        d.drift(&Drift {
            subscriber: 1,
            vid: Some(3998),
            ..Drift::default()
        })
    });
    if let Err(e) = drifted {
        eprintln!("could not inject drift: {e}");
    }
    let drift = gamops(&["plan", "--detailed-exitcode"])?;
    step(
        6,
        "gamops history: the run, its outcome per device and every command sent",
    );
    gamops(&["history"])?;

    runtime.block_on(lab.shutdown());
    println!(
        "\nThe lab has stopped. The demo's inventory and its run history (.gamops/state.db) are in {}\n(`gamops show-run 1 --inventory {}` shows the commands; delete the folder when done). {:.1} s.",
        tmp.display(),
        inv.display(),
        started.elapsed().as_secs_f64()
    );
    let ok = applied == 0 && again == 0 && drift == 2;
    if !ok {
        return Err(CommandError::internal(format!(
            "the demo did not go as expected (apply exit {applied}, second plan exit {again}, drift plan exit {drift})"
        )));
    }
    Ok(0)
}
