//! Benchmark: `gamops diff` of two revisions of a large generated fleet (1,000 GAMs, 100,000
//! subscribers by default) that differ in 100 subscribers (one VLAN each, on 100 devices).
//! Prints its figures; it is not a timed test. The target is under 2 s for the command.
//!
//! ```sh
//! cargo bench --bench diff                  # 1000 devices x 100 subscribers, 100 changed
//! cargo bench --bench diff -- 200 384 50    # devices, subscribers per device, changed
//! ```
//!
//! Needs the `git` CLI (the repository is made with it, as a user's would be).

mod common;

use std::process::Command;
use std::time::Instant;

use common::{git, spread};
use gamops::inventory::Inventory;
use gamops::lab::fleetgen::{FleetSpec, write_fleet};
use gamops::plan::revisions;
use gamops::review::{Head, review};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let devices = args.first().copied().unwrap_or(1000);
    let per_device = args.get(1).copied().unwrap_or(100);
    let changed = args.get(2).copied().unwrap_or(100).min(devices);

    // GAMOPS_BENCH_REPO=DIR keeps the generated repository in DIR and reuses it on the next run
    // (generating and committing 100,000 files takes about a minute).
    let tmp = tempfile::tempdir().expect("temporary folder");
    let repo = match std::env::var_os("GAMOPS_BENCH_REPO") {
        Some(kept) => std::path::PathBuf::from(kept),
        None => tmp.path().to_path_buf(),
    };
    let repo = repo.as_path();
    let dir = repo.join("inventory");
    let spec = FleetSpec {
        devices,
        subscribers_per_device: per_device,
        base_port: 20000,
    };
    if repo.join(".git").is_dir() {
        println!("reusing the repository in {}", repo.display());
    } else {
        std::fs::create_dir_all(repo).expect("the repository's folder");
        let started = Instant::now();
        let summary = write_fleet(&spec, &dir).expect("generate the fleet");
        git(repo, &["init", "-q", "-b", "main"]);
        git(repo, &["add", "-A"]);
        git(repo, &["commit", "-q", "-m", "base"]);
        // One subscriber (the first) on each of `changed` devices spread over the fleet moves to
        // VLAN 900, which no generated subscriber uses.
        let step = (devices / changed.max(1)).max(1);
        for k in 0..changed {
            let i = k * step;
            let path = dir.join(format!("subscribers/gam-{i:04}/sub-{i:04}-000.yaml"));
            let text = std::fs::read_to_string(&path).expect("generated subscriber");
            std::fs::write(&path, text.replacen("vlan: 100\n", "vlan: 900\n", 1)).expect("write");
        }
        git(repo, &["commit", "-q", "-am", "move 100 subscribers"]);
        println!(
            "generated {} devices, {} subscribers, {changed} changed, committed twice in {:.1} s",
            summary.devices,
            summary.subscribers,
            started.elapsed().as_secs_f64()
        );
    }
    let subscribers = devices * per_device;

    // The library call: read both revisions from git, validate both, compare.
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = review(&dir, "HEAD~1", &Head::Rev("HEAD".to_string())).expect("review");
        times.push(t.elapsed().as_secs_f64());
        let d = r.diff.as_ref().expect("both sides valid");
        assert_eq!(
            d.summary.subscribers_changed,
            changed,
            "{}",
            r.summary_line()
        );
        assert_eq!(d.summary.subscribers_interrupted, changed);
    }
    println!("review (library), two revisions: {}", spread(&times));

    // Where the time goes, phase by phase, in one run (ratios are comparable; sums are not the
    // review's, which validates both sides at once).
    let mut phases: Vec<(&str, Vec<f64>)> = [
        "read the base in full",
        "  of which: the base's blobs from git",
        "read the head in full",
        "read the head from the base (changed blobs only)",
        "validate one side",
        "compare the two sides",
    ]
    .into_iter()
    .map(|name| (name, Vec::new()))
    .collect();
    for _ in 0..5 {
        let t = Instant::now();
        let base = Inventory::load_rev(&dir, "HEAD~1").expect("base");
        phases[0].1.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let blobs = gamops::git::read_tree_at(&dir, "HEAD~1", usize::MAX).expect("blobs");
        phases[1].1.push(t.elapsed().as_secs_f64());
        assert!(blobs.blobs.len() > subscribers);
        drop(blobs);
        let t = Instant::now();
        let full = Inventory::load_rev(&dir, "HEAD").expect("head");
        phases[2].1.push(t.elapsed().as_secs_f64());
        drop(full);
        let t = Instant::now();
        let head = base.load_rev_from("HEAD").expect("head from the base");
        phases[3].1.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let problems = head.validate();
        phases[4].1.push(t.elapsed().as_secs_f64());
        assert!(!problems.iter().any(|d| d.is_error()));
        let t = Instant::now();
        let d = revisions::compare(&base.desired, &head.desired);
        phases[5].1.push(t.elapsed().as_secs_f64());
        assert_eq!(d.summary.subscribers_changed, changed);
    }
    for (name, times) in &mut phases {
        println!("  {name}: {}", spread(times));
    }

    // The command, as CI runs it: a process, both revisions from git, Markdown out.
    let bin = env!("CARGO_BIN_EXE_gamops");
    let mut times = Vec::new();
    for format in ["markdown", "json"] {
        for _ in 0..5 {
            let t = Instant::now();
            let out = Command::new(bin)
                .current_dir(repo)
                .args([
                    "diff", "--rev", "HEAD~1", "--rev", "HEAD", "--format", format,
                ])
                .output()
                .expect("run gamops");
            times.push(t.elapsed().as_secs_f64());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    println!(
        "gamops diff --rev HEAD~1 --rev HEAD (markdown and json): {}",
        spread(&times)
    );

    // Against the work tree (the head read from disk, as a local `gamops diff --rev main`).
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(bin)
            .current_dir(repo)
            .args(["diff", "--rev", "HEAD~1"])
            .output()
            .expect("run gamops");
        times.push(t.elapsed().as_secs_f64());
        assert!(out.status.success());
    }
    println!("gamops diff --rev HEAD~1 (work tree): {}", spread(&times));
}
