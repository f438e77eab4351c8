//! Plans: the difference between the desired state and each device's live state, with how
//! disruptive each change is and the safety limits it goes past.
//!
//! Invariant: planning is pure. Desired state and observations in, a [`Plan`] out; nothing here
//! touches a device, the store or the simulator.

pub mod change;
pub mod diff;
pub mod ids;
pub mod import;
pub mod render;
pub mod revisions;
pub mod safety;
pub mod simulate;
pub mod target;

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::device::live::{LiveDevice, Observation};
use crate::model::Desired;
pub use change::{
    Action, Change, Disruption, FieldChange, GlobalSetting, Object, ObjectKind, Orphan,
};
pub use diff::{DiffError, DiffOptions};
pub use safety::{Limit, Violation};
pub use target::{Target, target_for};

/// Bumped only when a field of the plan file changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

/// Options that change what a plan may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Go past the safety limits (recorded in the plan).
    pub force: bool,
}

/// A plan for a set of devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub format_version: u32,
    /// The git commit the desired state was read at, when it came from git.
    pub commit: Option<String>,
    /// The safety limits were overridden with --force.
    pub forced: bool,
    pub devices: Vec<DevicePlan>,
    pub summary: Summary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DevicePlan {
    pub device: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What planning gave for one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Planned {
        /// A hash of the live configuration the plan was computed from: apply refuses the
        /// device when the device has changed since.
        fingerprint: String,
        changes: Vec<Change>,
        orphans: Vec<Orphan>,
        violations: Vec<Violation>,
        summary: Summary,
    },
    /// The device could not be read completely: nothing is planned for it.
    Unknown { reason: String },
    /// The plan for this device could not be made.
    Error { message: String, hint: String },
}

/// Counts, per device and in all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub creates: usize,
    pub updates: usize,
    pub deletes: usize,
    /// Subscribers whose traffic drops during the change (VLAN, endpoint, port, delete).
    pub subscribers_interrupted: usize,
    /// Subscribers whose rate changes and nothing worse.
    pub subscribers_rate_changed: usize,
    pub subscribers_created: usize,
    pub subscribers_deleted: usize,
    pub orphans: usize,
    pub devices_unknown: usize,
    /// Devices whose plan goes past a safety limit and was not forced.
    pub devices_blocked: usize,
}

impl Summary {
    pub(crate) fn of(changes: &[Change], orphans: usize) -> Summary {
        let mut interrupted = BTreeSet::new();
        let mut rate = BTreeSet::new();
        let mut s = Summary {
            orphans,
            ..Summary::default()
        };
        for c in changes {
            match c.action {
                Action::Create => s.creates += 1,
                Action::Update => s.updates += 1,
                Action::Delete => s.deletes += 1,
            }
            if c.kind == ObjectKind::Subscriber {
                match c.action {
                    Action::Create => s.subscribers_created += 1,
                    Action::Delete => s.subscribers_deleted += 1,
                    Action::Update => {}
                }
            }
            for name in &c.affects {
                match c.disruption {
                    Disruption::Interrupt => {
                        interrupted.insert(name.as_str());
                    }
                    Disruption::Rate => {
                        rate.insert(name.as_str());
                    }
                    Disruption::None => {}
                }
            }
        }
        // A subscriber counts once, under the worst thing that happens to it; deleted and
        // created ones are counted as such.
        let deleted: BTreeSet<&str> = changes
            .iter()
            .filter(|c| c.kind == ObjectKind::Subscriber && c.action == Action::Delete)
            .map(|c| c.key.as_str())
            .collect();
        s.subscribers_interrupted = interrupted.difference(&deleted).count();
        s.subscribers_rate_changed = rate.difference(&interrupted).count();
        s
    }

    pub(crate) fn add(&mut self, o: &Summary) {
        self.creates += o.creates;
        self.updates += o.updates;
        self.deletes += o.deletes;
        self.subscribers_interrupted += o.subscribers_interrupted;
        self.subscribers_rate_changed += o.subscribers_rate_changed;
        self.subscribers_created += o.subscribers_created;
        self.subscribers_deleted += o.subscribers_deleted;
        self.orphans += o.orphans;
        self.devices_unknown += o.devices_unknown;
        self.devices_blocked += o.devices_blocked;
    }

    pub fn changes(&self) -> usize {
        self.creates + self.updates + self.deletes
    }
}

/// A stable hash of a device's configuration (not its counters, uptime or detected CPEs).
pub fn fingerprint(live: &LiveDevice) -> String {
    let mut cfg = live.clone();
    cfg.system = Default::default();
    cfg.detected.clear();
    cfg.ports.sort_by_key(|p| p.port);
    cfg.profiles.sort_by_key(|p| p.id);
    cfg.endpoints.sort_by_key(|e| e.id);
    cfg.subscribers.sort_by_key(|s| s.id);
    let json = serde_json::to_vec(&cfg).unwrap_or_default();
    let digest = Sha256::digest(&json);
    format!("sha256:{}", hex::encode(digest))
}

/// The first change whose line, or whose undoing line (from the live values it replaces),
/// holds a value the CLI dialect refuses: such a device gets no plan, because apply could
/// neither send nor roll it back safely.
fn unsendable(changes: &[Change]) -> Option<(&Change, crate::device::dialect::UnsafeValue)> {
    changes.iter().find_map(|c| {
        [&c.before, &c.after]
            .into_iter()
            .flatten()
            // The uplink base only names the NNI, never a string: any value checks the strings.
            .find_map(|o| o.cli_line(&c.key, 0).err())
            .map(|e| (c, e))
    })
}

impl Plan {
    /// Plans every observed device against the desired state.
    pub fn build(
        desired: &Desired,
        observations: &[(String, Observation)],
        commit: Option<String>,
        opts: PlanOptions,
    ) -> Plan {
        let fleet = desired.fleet();
        let empty = crate::model::Plans::default();
        let plans = desired.plans().unwrap_or(&empty);
        let mut devices = Vec::with_capacity(observations.len());
        let mut total = Summary::default();
        let subscribers = desired.subscribers_by_device();
        for (name, obs) in observations {
            let outcome = match (desired.device(name), obs) {
                (_, Observation::Unknown { reason }) => Outcome::Unknown {
                    reason: reason.clone(),
                },
                (None, Observation::Live(_)) => Outcome::Error {
                    message: format!("device {name} is not in the inventory"),
                    hint: "add devices/NAME.yaml, or leave the device out".to_string(),
                },
                (Some(dev), Observation::Live(live)) => {
                    let subs = subscribers
                        .get(name.as_str())
                        .map_or(&[][..], Vec::as_slice);
                    let target = target_for(dev, subs, plans, &fleet);
                    let prune = dev.prune.unwrap_or(fleet.prune);
                    match diff::diff(&target, live, DiffOptions { prune }) {
                        Ok(d) => match unsendable(&d.changes) {
                            Some((c, e)) => Outcome::Error {
                                message: format!(
                                    "the {} {} cannot be written safely: {e}",
                                    c.kind.noun(),
                                    crate::device::dialect::escape_debug(&c.key)
                                ),
                                hint: "a value on the device (set outside gamops) or in the inventory holds a control character or a double quote; correct it, then plan again".to_string(),
                            },
                            None => {
                                let safety_limits = dev.safety.apply(&fleet.safety);
                                let violations =
                                    safety::check(&d.changes, live, &target, &safety_limits);
                                let mut summary = Summary::of(&d.changes, d.orphans.len());
                                if !violations.is_empty() && !opts.force {
                                    summary.devices_blocked = 1;
                                }
                                Outcome::Planned {
                                    fingerprint: fingerprint(live),
                                    changes: d.changes,
                                    orphans: d.orphans,
                                    violations,
                                    summary,
                                }
                            }
                        },
                        Err(e) => Outcome::Error {
                            hint: e.hint().to_string(),
                            message: e.to_string(),
                        },
                    }
                }
            };
            match &outcome {
                Outcome::Planned { summary, .. } => total.add(summary),
                Outcome::Unknown { .. } => total.devices_unknown += 1,
                Outcome::Error { .. } => {}
            }
            devices.push(DevicePlan {
                device: name.clone(),
                outcome,
            });
        }
        Plan {
            format_version: FORMAT_VERSION,
            commit,
            forced: opts.force,
            devices,
            summary: total,
        }
    }

    pub fn has_changes(&self) -> bool {
        self.summary.changes() > 0
    }

    /// Devices that could not be planned (unread or failed).
    pub fn has_errors(&self) -> bool {
        self.devices
            .iter()
            .any(|d| !matches!(d.outcome, Outcome::Planned { .. }))
    }
}

#[cfg(test)]
mod render_tests;
#[cfg(test)]
mod tests;
