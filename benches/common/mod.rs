//! What the benchmarks share: the `git` CLI, lab-fleet set-up, and the figures they print
//! (median, spread, percentiles, peak memory). Each benchmark is its own crate and uses a part.
#![allow(dead_code, reason = "each benchmark uses only some of these")]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gamops::device::snmp::{Security, SnmpTarget};
use gamops::model::{Desired, Located};
use gamops::secret::Secret;

/// Runs the `git` CLI in `dir` as a bot, failing the benchmark on error.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.net")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.net")
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A lab device's SNMP (v2c, `public`), patient enough for a loaded machine.
pub fn snmp_target(addr: SocketAddr) -> SnmpTarget {
    let mut t = SnmpTarget::new(
        addr,
        Security::V2c {
            community: Secret::new("public"),
        },
    );
    t.timeout = Duration::from_secs(5);
    t.max_repetitions = 25;
    t
}

/// The fleet with every device port (SNMP, SSH, JSON-RPC) left to the system: fixed ports in
/// the ephemeral range can be taken.
pub fn free_ports(desired: &Desired) -> Desired {
    let mut d = desired.clone();
    for dev in &mut d.devices {
        if let Some(s) = dev.value.snmp.as_mut() {
            s.port = Some(Located::bare(0));
        }
        if let Some(s) = dev.value.ssh.as_mut() {
            s.port = Some(Located::bare(0));
        }
        if let Some(s) = dev.value.jsonrpc.as_mut() {
            s.port = Some(Located::bare(0));
        }
    }
    d
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The least and the greatest of `v`.
pub fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// `median M s, best B s, worst W s over N runs`.
pub fn spread(times: &[f64]) -> String {
    let (best, worst) = range(times);
    format!(
        "median {:.3} s, best {best:.3} s, worst {worst:.3} s over {} runs",
        median(times.to_vec()),
        times.len()
    )
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The process's peak resident memory so far, in MB (Linux), if known.
pub fn peak_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Starts the peak memory count again from the current size (Linux).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
