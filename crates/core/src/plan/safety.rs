//! Safety limits: a plan that changes too much at once (a new subscriber model counts as
//! changing every subscriber), touches a protected subscriber or empties a device stops unless
//! forced (as octoDNS's update and delete thresholds do).

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::live::LiveDevice;
use crate::model::Safety;

use super::change::{Action, Change, Disruption, ObjectKind};
use super::target::Target;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    ChangeShare,
    Protected,
    EmptiesDevice,
}

/// One limit a plan goes past. The hint says what would let the change through without naming
/// a command-line flag: the plan is read where there is none (a controller, a pull request), and
/// the command that prints it names its own override.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Violation {
    pub limit: Limit,
    pub message: String,
    pub hint: String,
}

/// The limits `changes` go past on a device that holds `live`.
pub fn check(
    changes: &[Change],
    live: &LiveDevice,
    target: &Target,
    safety: &Safety,
) -> Vec<Violation> {
    let mut out = Vec::new();
    // Subscribers updated or deleted, and those a global setting interrupts (a new subscriber
    // model interrupts every subscriber on the device).
    let mut touched: BTreeSet<&str> = changes
        .iter()
        .filter(|c| {
            c.kind == ObjectKind::Subscriber && matches!(c.action, Action::Update | Action::Delete)
        })
        .map(|c| c.key.as_str())
        .collect();
    touched.extend(
        changes
            .iter()
            .filter(|c| c.kind == ObjectKind::Global && c.disruption == Disruption::Interrupt)
            .flat_map(|c| c.affects.iter().map(String::as_str)),
    );
    let existing = live.subscribers.len();
    let max = u32::from(*safety.max_change_percent);
    if existing as u64 >= u64::from(*safety.min_existing)
        && existing > 0
        && touched.len() as u64 * 100 > u64::from(max) * existing as u64
    {
        out.push(Violation {
            limit: Limit::ChangeShare,
            message: format!(
                "would update or delete {} of {existing} subscribers ({}%), more than the {max}% limit",
                touched.len(),
                touched.len() * 100 / existing
            ),
            hint: "review the plan, then force it past the limit, or raise safety.max_change_percent in gamops.yaml".to_string(),
        });
    }
    for name in touched.iter().filter(|n| target.protected.contains(**n)) {
        out.push(Violation {
            limit: Limit::Protected,
            message: format!("would change protected subscriber {name}"),
            hint: "force it past the limit, or remove `protect: true` from the subscriber"
                .to_string(),
        });
    }
    let deleted = changes
        .iter()
        .filter(|c| c.kind == ObjectKind::Subscriber && c.action == Action::Delete)
        .count();
    let created = changes
        .iter()
        .filter(|c| c.kind == ObjectKind::Subscriber && c.action == Action::Create)
        .count();
    if existing > 0 && deleted == existing && created == 0 && !safety.allow_empty_device {
        out.push(Violation {
            limit: Limit::EmptiesDevice,
            message: format!("would delete all {existing} subscribers of the device"),
            hint: "force it past the limit, or set safety.allow_empty_device: true in gamops.yaml"
                .to_string(),
        });
    }
    out
}
