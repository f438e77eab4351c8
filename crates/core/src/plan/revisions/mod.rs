//! What a change to the inventory does to the fleet, with no device read: the plan a fleet
//! converged to one revision (the base) would get from another (the head).
//!
//! A pull request's reviewer wants `plan`'s answer before anything is merged, and the CI runner
//! that reviews it often has no route to the GAMs. So each device's base desired state is
//! projected onto a factory-fresh device as `apply` would leave it ([`converged`]), and the head
//! is planned against that with the very same diff, classifier (none, rate, interrupt) and safety
//! limits that `plan` uses: the two cannot disagree on what a change is or how much it hurts.
//!
//! What this cannot know is what only the devices know: drift (a device that does not match the
//! base), and the values of settings the inventory leaves to the device, which are taken as the
//! GAM ships them. The numeric ids a real plan shows are the device's, so none are reported here.
//!
//! Pure, like the rest of `plan`: two desired states in, a [`RevisionDiff`] out.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::change::{Action, Change, Disruption, FieldChange, ObjectKind};
use super::diff::{DiffError, DiffOptions, diff};
use super::safety::{self, Violation};
use super::target::{Target, target_for};
use super::{Summary, simulate};
use crate::device::live::{
    LiveDevice, LiveGlobal, LivePort, LivePortMode, LiveProfile, SystemInfo,
};
use crate::model::{Desired, Device, GamModel, Medium, Subscriber, SubscriberModel, Uplink};

/// The name and rate of the profile every GAM ships with (id 1); gamops never changes it.
const FACTORY_PROFILE: (&str, u16) = ("Default BW Profile", 10);

/// The difference two desired states make to the fleet, device by device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevisionDiff {
    /// Devices that differ, by name; devices the change leaves alone are only counted.
    pub devices: Vec<DeviceDiff>,
    /// Top-level keys of gamops.yaml that differ (their effect on devices is in `devices`).
    pub fleet_settings_changed: Vec<String>,
    pub summary: RevisionSummary,
}

/// What happens to one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// New in the head: everything on it is created.
    Added,
    /// Gone from the head: gamops stops managing it and changes nothing on it.
    Removed,
    /// In both, with changes (to the device, or to its file only).
    Changed,
    /// The head's state of this device cannot be planned (no free id on the device).
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceDiff {
    pub device: String,
    pub status: DeviceStatus,
    /// Fields of the device's file that differ (address, snmp, ssh, safety, model, ...).
    pub settings_changed: Vec<String>,
    /// Subscribers created, changed, deleted or no longer managed, by id.
    pub subscribers: Vec<SubscriberDiff>,
    /// Changes to the device's own objects (global settings, ports, bandwidth profiles,
    /// endpoints), as `plan` classes them.
    pub objects: Vec<ObjectDiff>,
    /// The safety limits the change goes past, evaluated against the base: `apply` refuses
    /// these devices without --force.
    pub violations: Vec<Violation>,
    /// Set when the status is `error`.
    pub error: Option<String>,
    /// `plan`'s counts for this device, had it been converged to the base.
    pub summary: Summary,
}

/// What happens to a subscriber.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberAction {
    Created,
    Changed,
    Deleted,
    /// Gone from the inventory but left on the device, because prune is off (an orphan).
    Unmanaged,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriberDiff {
    pub subscriber: String,
    pub action: SubscriberAction,
    /// The worst thing the change does to the subscriber's traffic.
    pub disruption: Disruption,
    /// The subscriber's fields on the device before and after (on a create, its values).
    pub fields: Vec<FieldChange>,
    /// Changes to other objects that reach this subscriber (its plan's rate, its endpoint, a
    /// port or global setting).
    pub causes: Vec<String>,
    /// Fields of the subscriber's file that differ but do not reach the device
    /// (`managed_by`, `protect`, ...).
    pub inventory_only: Vec<FieldChange>,
}

/// A change to an object that is not a subscriber.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectDiff {
    pub action: Action,
    pub kind: ObjectKind,
    /// A profile's name, an endpoint's MAC, a port's number, a global setting's name.
    pub key: String,
    pub fields: Vec<FieldChange>,
    pub disruption: Disruption,
    /// Subscribers whose service the change touches.
    pub affects: Vec<String>,
}

/// Counts over all devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevisionSummary {
    /// Devices in the head.
    pub devices: usize,
    pub devices_added: usize,
    pub devices_removed: usize,
    /// Devices in both with a difference (on the device or in its files).
    pub devices_changed: usize,
    /// Devices that go past a safety limit.
    pub devices_blocked: usize,
    pub devices_error: usize,
    /// Object changes a plan would hold: creates, updates, deletes (as `plan` counts them).
    pub creates: usize,
    pub updates: usize,
    pub deletes: usize,
    pub subscribers_created: usize,
    /// Subscribers changed in any way, on the device or only in the inventory.
    pub subscribers_changed: usize,
    /// Of the subscribers changed, those whose traffic drops during the change.
    pub subscribers_interrupted: usize,
    /// Of the subscribers changed, those whose rate changes and nothing worse.
    pub subscribers_rate_changed: usize,
    pub subscribers_deleted: usize,
    pub subscribers_unmanaged: usize,
}

impl RevisionSummary {
    /// Whether the head differs from the base at all (the `--detailed-exitcode` question).
    pub fn has_changes(&self) -> bool {
        self.devices_added + self.devices_removed + self.devices_changed + self.devices_error > 0
    }
}

impl RevisionDiff {
    pub fn has_changes(&self) -> bool {
        self.summary.has_changes() || !self.fleet_settings_changed.is_empty()
    }
}

/// A GAM as it ships: every port enabled (MIMO on copper, coax on coax), only the default
/// bandwidth profile, the first 10G uplink as the default NNI, endpoint-aware, and endpoints
/// upgraded automatically.
pub fn factory(model: GamModel) -> LiveDevice {
    let ports = model.ghn_ports();
    let mode = match model.medium() {
        Medium::Copper => LivePortMode::Mimo,
        Medium::Coax => LivePortMode::Coax,
    };
    LiveDevice {
        system: SystemInfo::default(),
        global: LiveGlobal {
            subscriber_model: SubscriberModel::EndpointAware,
            default_nni_if_index: Uplink::new(1).map_or(0, |u| u.if_index(model)),
            endpoint_auto_fw_upgrade: true,
        },
        ports: (1..=ports)
            .map(|port| LivePort {
                port,
                name: String::new(),
                mode,
            })
            .collect(),
        profiles: vec![LiveProfile {
            id: 1,
            name: FACTORY_PROFILE.0.to_string(),
            description: String::new(),
            down_mbps: FACTORY_PROFILE.1,
            up_mbps: FACTORY_PROFILE.1,
        }],
        endpoints: Vec::new(),
        subscribers: Vec::new(),
        detected: Vec::new(),
    }
}

/// The device `apply` leaves when it converges a factory-fresh `model` to `target`.
pub fn converged(target: &Target, model: GamModel) -> Result<LiveDevice, DiffError> {
    let fresh = factory(model);
    let d = diff(target, &fresh, DiffOptions { prune: false })?;
    Ok(simulate::apply_changes(&fresh, &d.changes))
}

/// One revision's state of one device: its file, its subscribers, and what `plan` projects.
struct Side<'a> {
    device: &'a Device,
    subscribers: Vec<&'a Subscriber>,
    target: Target,
}

/// One revision's side of device `name`, when the revision has it.
fn side<'a>(
    devices: &BTreeMap<&str, &'a Device>,
    subs: &BTreeMap<&str, Vec<&'a Subscriber>>,
    plans: &crate::model::Plans,
    fleet: &crate::model::Fleet,
    name: &str,
) -> Option<Side<'a>> {
    devices.get(name).map(|&device| {
        let subscribers = subs.get(name).cloned().unwrap_or_default();
        let target = target_for(device, &subscribers, plans, fleet);
        Side {
            device,
            subscribers,
            target,
        }
    })
}

/// The top-level keys whose values differ between two serialisable values (objects).
fn changed_keys<T: Serialize>(before: Option<&T>, after: Option<&T>) -> Vec<FieldChange> {
    let as_map = |v: Option<&T>| match v.map(serde_json::to_value) {
        Some(Ok(serde_json::Value::Object(m))) => m,
        _ => serde_json::Map::new(),
    };
    let (b, a) = (as_map(before), as_map(after));
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    let show = |v: Option<&serde_json::Value>| {
        v.map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        })
    };
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            before: show(b.get(k)),
            after: show(a.get(k)),
        })
        .collect()
}

/// Compares the head's desired state with the base's, device by device. Both are assumed valid
/// (see `model::validate`), as `plan` assumes of its one.
pub fn compare(base: &Desired, head: &Desired) -> RevisionDiff {
    let (base_fleet, head_fleet) = (base.fleet(), head.fleet());
    let empty = crate::model::Plans::default();
    let base_plans = base.plans().unwrap_or(&empty);
    let head_plans = head.plans().unwrap_or(&empty);
    let base_subs = base.subscribers_by_device();
    let head_subs = head.subscribers_by_device();
    let base_devices: BTreeMap<&str, &Device> = base
        .devices
        .iter()
        .map(|d| (d.name.as_str(), &d.value))
        .collect();
    let head_devices: BTreeMap<&str, &Device> = head
        .devices
        .iter()
        .map(|d| (d.name.as_str(), &d.value))
        .collect();
    let names: BTreeSet<&str> = base_devices
        .keys()
        .chain(head_devices.keys())
        .copied()
        .collect();
    let fleet_or_plans_changed = base_fleet != head_fleet || base_plans != head_plans;

    let mut out = RevisionDiff {
        fleet_settings_changed: changed_keys(Some(&base_fleet), Some(&head_fleet))
            .into_iter()
            .map(|f| f.field)
            .collect(),
        ..RevisionDiff::default()
    };
    out.summary.devices = head_devices.len();
    for name in names {
        // Nothing that feeds this device's plan differs: skip the projection.
        let unchanged = !fleet_or_plans_changed
            && base_devices.get(name) == head_devices.get(name)
            && base_subs.get(name) == head_subs.get(name);
        if unchanged {
            continue;
        }
        let b = side(&base_devices, &base_subs, base_plans, &base_fleet, name);
        let h = side(&head_devices, &head_subs, head_plans, &head_fleet, name);
        if let Some(d) = compare_device(name, b.as_ref(), h.as_ref(), &head_fleet) {
            out.devices.push(d);
        }
    }
    for d in &out.devices {
        let s = &mut out.summary;
        match d.status {
            DeviceStatus::Added => s.devices_added += 1,
            DeviceStatus::Removed => s.devices_removed += 1,
            DeviceStatus::Changed => s.devices_changed += 1,
            DeviceStatus::Error => s.devices_error += 1,
        }
        if !d.violations.is_empty() {
            s.devices_blocked += 1;
        }
        s.creates += d.summary.creates;
        s.updates += d.summary.updates;
        s.deletes += d.summary.deletes;
        s.subscribers_interrupted += d.summary.subscribers_interrupted;
        s.subscribers_rate_changed += d.summary.subscribers_rate_changed;
        for sub in &d.subscribers {
            match sub.action {
                SubscriberAction::Created => s.subscribers_created += 1,
                SubscriberAction::Changed => s.subscribers_changed += 1,
                SubscriberAction::Deleted => s.subscribers_deleted += 1,
                SubscriberAction::Unmanaged => s.subscribers_unmanaged += 1,
            }
        }
    }
    out
}

/// One device's difference; `None` when there is none.
fn compare_device(
    name: &str,
    base: Option<&Side>,
    head: Option<&Side>,
    head_fleet: &crate::model::Fleet,
) -> Option<DeviceDiff> {
    let mut d = DeviceDiff {
        device: name.to_string(),
        status: DeviceStatus::Changed,
        settings_changed: Vec::new(),
        subscribers: Vec::new(),
        objects: Vec::new(),
        violations: Vec::new(),
        error: None,
        summary: Summary::default(),
    };
    let Some(head) = head else {
        // A device gone from the inventory is no longer planned at all: nothing on it changes.
        d.status = DeviceStatus::Removed;
        if let Some(b) = base {
            d.subscribers = b
                .subscribers
                .iter()
                .map(|s| SubscriberDiff {
                    subscriber: s.id.to_string(),
                    action: SubscriberAction::Unmanaged,
                    disruption: Disruption::None,
                    fields: Vec::new(),
                    causes: Vec::new(),
                    inventory_only: Vec::new(),
                })
                .collect();
            d.subscribers
                .sort_by(|a, b| a.subscriber.cmp(&b.subscriber));
        }
        return Some(d);
    };
    let model = *head.device.model;
    let base_live = match base {
        None => {
            d.status = DeviceStatus::Added;
            factory(model)
        }
        Some(b) => {
            d.settings_changed = changed_keys(Some(b.device), Some(head.device))
                .into_iter()
                .map(|f| f.field)
                .collect();
            // The base as its own model would hold it; a new model is a settings change.
            match converged(&b.target, *b.device.model) {
                Ok(live) => live,
                Err(e) => return Some(error(d, &e)),
            }
        }
    };
    let prune = head.device.prune.unwrap_or(head_fleet.prune);
    let planned = match diff(&head.target, &base_live, DiffOptions { prune }) {
        Ok(p) => p,
        Err(e) => return Some(error(d, &e)),
    };
    let limits = head.device.safety.apply(&head_fleet.safety);
    d.violations = safety::check(&planned.changes, &base_live, &head.target, &limits);
    d.summary = Summary::of(&planned.changes, planned.orphans.len());
    d.subscribers = subscribers(&planned.changes, &planned.orphans);
    d.objects = planned
        .changes
        .iter()
        .filter(|c| c.kind != ObjectKind::Subscriber)
        .map(|c| ObjectDiff {
            action: c.action,
            kind: c.kind,
            key: c.key.clone(),
            fields: c.fields.clone(),
            disruption: c.disruption,
            affects: c.affects.clone(),
        })
        .collect();
    if let Some(b) = base {
        inventory_only(&mut d.subscribers, &b.subscribers, &head.subscribers);
    }
    let differs = d.status != DeviceStatus::Changed
        || !d.settings_changed.is_empty()
        || !d.subscribers.is_empty()
        || !d.objects.is_empty();
    differs.then_some(d)
}

fn error(mut d: DeviceDiff, e: &DiffError) -> DeviceDiff {
    d.status = DeviceStatus::Error;
    d.error = Some(format!("{e} ({})", e.hint()));
    d
}

/// The per-subscriber view of a device's changes: each subscriber once, under the worst thing
/// that happens to it, with the other objects' changes that reach it.
fn subscribers(changes: &[Change], orphans: &[super::Orphan]) -> Vec<SubscriberDiff> {
    let mut by_name: BTreeMap<String, SubscriberDiff> = BTreeMap::new();
    let blank = |name: &str, action| SubscriberDiff {
        subscriber: name.to_string(),
        action,
        disruption: Disruption::None,
        fields: Vec::new(),
        causes: Vec::new(),
        inventory_only: Vec::new(),
    };
    for c in changes.iter().filter(|c| c.kind == ObjectKind::Subscriber) {
        let action = match c.action {
            Action::Create => SubscriberAction::Created,
            Action::Update => SubscriberAction::Changed,
            Action::Delete => SubscriberAction::Deleted,
        };
        let entry = by_name
            .entry(c.key.clone())
            .or_insert_with(|| blank(&c.key, action));
        entry.action = action;
        entry.fields = c.fields.clone();
        entry.disruption = entry.disruption.max(c.disruption);
    }
    for c in changes.iter().filter(|c| c.kind != ObjectKind::Subscriber) {
        if c.disruption == Disruption::None {
            continue;
        }
        let cause = describe(c);
        for name in &c.affects {
            let entry = by_name
                .entry(name.clone())
                .or_insert_with(|| blank(name, SubscriberAction::Changed));
            if entry.action == SubscriberAction::Deleted {
                continue;
            }
            entry.disruption = entry.disruption.max(c.disruption);
            entry.causes.push(cause.clone());
        }
    }
    for o in orphans.iter().filter(|o| o.kind == ObjectKind::Subscriber) {
        by_name
            .entry(o.key.clone())
            .or_insert_with(|| blank(&o.key, SubscriberAction::Unmanaged));
    }
    by_name.into_values().collect()
}

/// A change to another object, in one line: `bandwidth profile 500M: down_mbps 545 -> 600`.
fn describe(c: &Change) -> String {
    let fields: Vec<String> = c
        .fields
        .iter()
        .map(|f| {
            format!(
                "{} {} -> {}",
                f.field,
                f.before.as_deref().unwrap_or("none"),
                f.after.as_deref().unwrap_or("none")
            )
        })
        .collect();
    let what = match c.action {
        Action::Create => "created".to_string(),
        Action::Delete => "deleted".to_string(),
        Action::Update => fields.join(", "),
    };
    format!("{} {}: {what}", c.kind.noun(), c.key)
}

/// Adds, to subscribers in both revisions, the fields of their files that differ without
/// reaching the device (a subscriber with only such differences is listed as changed, with no
/// disruption).
fn inventory_only(list: &mut Vec<SubscriberDiff>, base: &[&Subscriber], head: &[&Subscriber]) {
    let before: BTreeMap<&str, &Subscriber> = base.iter().map(|s| (s.id.as_str(), *s)).collect();
    let mut added = false;
    for s in head {
        let Some(b) = before.get(s.id.as_str()) else {
            continue;
        };
        if *b == *s {
            continue;
        }
        let device_fields: BTreeSet<String> = list
            .iter()
            .find(|d| d.subscriber == s.id.as_str())
            .map(|d| d.fields.iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        let mut only: Vec<FieldChange> = changed_keys(Some(*b), Some(*s))
            .into_iter()
            .filter(|f| !reaches_device(&f.field) && !device_fields.contains(&f.field))
            .collect();
        if only.is_empty() {
            continue;
        }
        match list.iter_mut().find(|d| d.subscriber == s.id.as_str()) {
            Some(d) => d.inventory_only.append(&mut only),
            None => {
                list.push(SubscriberDiff {
                    subscriber: s.id.to_string(),
                    action: SubscriberAction::Changed,
                    disruption: Disruption::None,
                    fields: Vec::new(),
                    causes: Vec::new(),
                    inventory_only: only,
                });
                added = true;
            }
        }
    }
    if added {
        list.sort_by(|a, b| a.subscriber.cmp(&b.subscriber));
    }
}

/// Whether a subscriber file's field is (in some form) a field of the device's subscriber, so
/// that a difference in it shows in the plan's fields when it reaches the device.
fn reaches_device(field: &str) -> bool {
    matches!(
        field,
        "name"
            | "port"
            | "endpoint"
            | "vlan"
            | "tagged"
            | "remapped_vlan"
            | "allowed_vlans"
            | "outer_vlan"
            | "nni"
            | "plan"
            | "status"
    )
}

#[cfg(test)]
mod tests;
