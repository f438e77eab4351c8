//! Benchmark: load and validate a large generated fleet (1,000 GAMs, 100,000 subscribers by
//! default). Prints its figures; it is not a timed test.
//!
//! ```sh
//! cargo bench --bench validate                      # 1000 devices x 100 subscribers
//! cargo bench --bench validate -- 200 384           # devices, subscribers per device
//! ```
//!
//! Peak memory is the process's VmHWM, reset before each run through /proc/self/clear_refs.

mod common;

use std::time::Instant;

use common::{peak_mb, reset_peak};
use gamops::inventory::Inventory;
use gamops::lab::fleetgen::{FleetSpec, write_fleet};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let devices = args.first().copied().unwrap_or(1000);
    let per_device = args.get(1).copied().unwrap_or(100);
    let dir = tempfile::tempdir().expect("temporary folder");
    let spec = FleetSpec {
        devices,
        subscribers_per_device: per_device,
        base_port: 20000,
    };
    let started = Instant::now();
    let summary = write_fleet(&spec, dir.path()).expect("generate the fleet");
    println!(
        "generated {} devices, {} subscribers in {:.2} s",
        summary.devices,
        summary.subscribers,
        started.elapsed().as_secs_f64()
    );

    let mut times = Vec::new();
    for run in 1..=5 {
        reset_peak();
        let t = Instant::now();
        let inv = Inventory::load_dir(dir.path()).expect("load");
        let loaded = t.elapsed();
        let diagnostics = inv.validate();
        let total = t.elapsed();
        assert!(
            diagnostics.is_empty(),
            "the generated fleet must be valid: {diagnostics:?}"
        );
        println!(
            "run {run}: load {:.3} s, rules {:.3} s, total {:.3} s, peak RSS {} MB",
            loaded.as_secs_f64(),
            (total - loaded).as_secs_f64(),
            total.as_secs_f64(),
            peak_mb().map_or("?".to_string(), |m| m.to_string())
        );
        times.push(total.as_secs_f64());
        drop(inv);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "validate {} files: median {:.3} s, best {:.3} s ({:.0} subscribers/s)",
        devices + summary.subscribers + 2,
        times[times.len() / 2],
        times[0],
        summary.subscribers as f64 / times[times.len() / 2]
    );
}
