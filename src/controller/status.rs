//! What the controller knows of each device and of itself, as the API and metrics show it.
//!
//! Each device has two axes: sync (in-sync, drifted, applying, failed, unknown) and
//! reachability (read or not at the last pass), with the last reconcile's time, commit and
//! outcome. The state is rebuilt from observation on every pass; nothing here is desired state.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::model::Policy;
use crate::plan::DevicePlan;
use crate::store::Timestamp;

use super::source::Refused;

/// Where a device stands against the target commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncState {
    /// Read, and it matches the target.
    InSync,
    /// Read, and it differs from the target (waiting for its policy, the pause or a retry).
    Drifted,
    /// Being changed now.
    Applying,
    /// The last change failed (rolled back, or refused); retried with backoff.
    Failed,
    /// Not read yet, or the last read failed.
    Unknown,
}

impl SyncState {
    pub const ALL: [SyncState; 5] = [
        SyncState::InSync,
        SyncState::Drifted,
        SyncState::Applying,
        SyncState::Failed,
        SyncState::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::InSync => "in-sync",
            SyncState::Drifted => "drifted",
            SyncState::Applying => "applying",
            SyncState::Failed => "failed",
            SyncState::Unknown => "unknown",
        }
    }
}

/// One device as the controller last saw it.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceState {
    pub device: String,
    pub sync: SyncState,
    /// Whether the last read answered; `None` before the first.
    pub reachable: Option<bool>,
    pub policy: Policy,
    /// Changes in the last plan (0 when in sync or not read).
    pub changes: usize,
    /// The last reason, outcome or read failure, in a sentence.
    pub message: String,
    /// When the device was last read and planned.
    pub last_reconcile: Option<Timestamp>,
    /// The target commit at that time.
    pub last_commit: Option<String>,
    /// The last apply's outcome for it (`applied`, `rolled-back`, ...) and its run.
    pub last_outcome: Option<String>,
    pub last_run: Option<i64>,
    /// When it was last seen in sync.
    pub last_in_sync: Option<Timestamp>,
    /// Failed applies in a row; the next is not tried before `retry_at`.
    pub failures: u32,
    #[serde(skip)]
    pub retry_at: Option<Instant>,
    /// The last plan for the device (its drift), for `GET /api/v1/devices/{name}`.
    #[serde(skip)]
    pub plan: Option<DevicePlan>,
}

impl DeviceState {
    pub fn new(device: &str, policy: Policy) -> DeviceState {
        DeviceState {
            device: device.to_string(),
            sync: SyncState::Unknown,
            reachable: None,
            policy,
            changes: 0,
            message: "not read yet".into(),
            last_reconcile: None,
            last_commit: None,
            last_outcome: None,
            last_run: None,
            last_in_sync: None,
            failures: 0,
            retry_at: None,
            plan: None,
        }
    }

    /// Whether an apply may be tried now (no backoff running).
    pub fn may_retry(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|t| t <= now)
    }

    /// Records a failed apply: the next waits 10 s, doubling, at most 10 minutes.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let wait = backoff(self.failures);
        self.retry_at = Some(now + wait);
        wait
    }
}

/// The wait before the `n`th retry (n from 1): 10 s, 20 s, 40 s, ..., at most 10 minutes.
pub fn backoff(n: u32) -> Duration {
    crate::retry::Backoff::new(Duration::from_secs(10), Duration::from_secs(600)).wait(n)
}

/// The controller as a whole.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FleetState {
    /// Applies are stopped (reads and reports go on).
    pub paused: bool,
    /// Who leads (the owner of the leadership lease), as far as this controller knows.
    pub leader: Option<String>,
    /// The commit the devices are converged to (the newest that validates).
    pub target: Option<String>,
    /// The newest commit seen, when it is not the target, and why.
    pub refused: Option<Refused>,
    /// The last commit applied without failure on every device it changed.
    pub applied: Option<String>,
    /// Passes made since start, and when the last ended.
    pub passes: u64,
    /// A pass is under way: a trigger sent now is looked at by the pass after it.
    pub passing: bool,
    pub last_pass: Option<Timestamp>,
    /// Why the last pass could not apply at all (the store, the inventory), when it could not.
    pub problem: Option<String>,
    pub devices: BTreeMap<String, DeviceState>,
}

impl FleetState {
    /// The state without its devices: what the status and readiness answers need.
    pub fn clone_without_devices(&self) -> FleetState {
        FleetState {
            paused: self.paused,
            passing: self.passing,
            leader: self.leader.clone(),
            target: self.target.clone(),
            refused: self.refused.clone(),
            applied: self.applied.clone(),
            passes: self.passes,
            last_pass: self.last_pass,
            problem: self.problem.clone(),
            devices: BTreeMap::new(),
        }
    }

    /// Devices by sync state, every state present.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&'static str, usize> =
            SyncState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for d in self.devices.values() {
            *counts.entry(d.sync.as_str()).or_default() += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_ten_minutes() {
        let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 320, 600, 600, 600]);
        let mut d = DeviceState::new("gam", Policy::Auto);
        let now = Instant::now();
        assert!(d.may_retry(now));
        assert_eq!(d.failed(now), Duration::from_secs(10));
        assert!(!d.may_retry(now + Duration::from_secs(5)));
        assert!(d.may_retry(now + Duration::from_secs(10)));
    }
}
