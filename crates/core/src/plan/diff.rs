//! The difference between what one device should hold and what it holds, as ordered changes.
//!
//! Objects are matched by natural key (profile name, endpoint MAC, subscriber name) and then
//! mapped to the device's numeric ids. The changes come in the order the device needs them:
//! global settings, ports, profiles, endpoints and subscribers are created or updated first, then subscribers,
//! endpoints and profiles are deleted, in that (reverse) order.

use std::collections::{BTreeMap, BTreeSet};

use crate::device::live::{
    EndpointBinding, LiveDevice, LiveEndpoint, LiveProfile, LiveSubscriber, ProfileRef,
};
use crate::model::{Mac, SubscriberModel};

use super::change::{
    Action, Change, Disruption, FieldChange, GlobalSetting, Object, ObjectKind, Orphan,
};
use super::ids::{ENDPOINT_IDS, IdAllocator, PROFILE_IDS, SUBSCRIBER_IDS};
use super::target::{Target, TargetEndpoint, TargetSubscriber};

/// Choices that change what a plan may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiffOptions {
    /// Delete live objects that no YAML owns.
    pub prune: bool,
}

/// A device's changes, and the orphans left alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceDiff {
    pub changes: Vec<Change>,
    pub orphans: Vec<Orphan>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("no free {} id for {key}: the device's ids are all taken", .kind.noun())]
    NoFreeId { kind: ObjectKind, key: String },
}

impl DiffError {
    pub fn hint(&self) -> &'static str {
        "remove unused objects from the device first (prune: true deletes orphans), then plan again"
    }
}

/// Computes the changes that turn `live` into `target`.
pub fn diff(
    target: &Target,
    live: &LiveDevice,
    opts: DiffOptions,
) -> Result<DeviceDiff, DiffError> {
    let mut out = DeviceDiff::default();
    let mut deletes: Vec<Change> = Vec::new();

    // Global settings first: a new subscriber model rewrites the device's subscribers, so the
    // rest is planned against the device as the switch leaves it.
    let converted;
    let live = if diff_global(target, live, &mut out.changes) {
        let mut c = live.clone();
        super::simulate::convert_subscriber_model(&mut c, target.subscriber_model);
        converted = c;
        &converted
    } else {
        live
    };
    diff_ports(target, live, &mut out.changes);
    let profile_ids = diff_profiles(target, live, &mut out.changes)?;
    let endpoint_ids = diff_endpoints(target, live, &mut out.changes)?;
    let after_subscribers = diff_subscribers(
        target,
        live,
        &profile_ids,
        &endpoint_ids,
        opts,
        &mut out,
        &mut deletes,
    )?;

    // Endpoints and profiles no YAML owns: deleted with prune unless a remaining subscriber
    // still uses them, reported otherwise.
    let used_endpoints: BTreeSet<u16> = after_subscribers
        .iter()
        .filter_map(|s| s.endpoint_id)
        .collect();
    let claimed_endpoints: BTreeSet<u16> = endpoint_ids.values().copied().collect();
    for e in &live.endpoints {
        if claimed_endpoints.contains(&e.id)
            || target.subscriber_model == crate::model::SubscriberModel::PortAware
        {
            continue;
        }
        if opts.prune && !used_endpoints.contains(&e.id) {
            deletes.push(delete_change(
                ObjectKind::Endpoint,
                e.mac.to_string(),
                e.id,
                Object::Endpoint(e.clone()),
                true,
                vec![],
            ));
        } else {
            out.orphans.push(Orphan {
                kind: ObjectKind::Endpoint,
                key: e.mac.to_string(),
                id: e.id,
            });
        }
    }
    let used_profiles: BTreeSet<u8> = after_subscribers
        .iter()
        .filter_map(|s| match s.profile {
            ProfileRef::Id(id) => Some(id),
            ProfileRef::Unthrottled => None,
        })
        .collect();
    let claimed_profiles: BTreeSet<u8> = profile_ids.values().copied().collect();
    for p in live.profiles.iter().filter(|p| p.id >= 2) {
        if claimed_profiles.contains(&p.id) {
            continue;
        }
        if opts.prune && !used_profiles.contains(&p.id) {
            deletes.push(delete_change(
                ObjectKind::Profile,
                p.name.clone(),
                u16::from(p.id),
                Object::Profile(p.clone()),
                true,
                vec![],
            ));
        } else {
            out.orphans.push(Orphan {
                kind: ObjectKind::Profile,
                key: p.name.clone(),
                id: u16::from(p.id),
            });
        }
    }

    // Deletes last, subscribers before endpoints before profiles.
    deletes.sort_by_key(|c| (std::cmp::Reverse(c.kind), c.id));
    out.changes.extend(deletes);
    Ok(out)
}

fn delete_change(
    kind: ObjectKind,
    key: String,
    id: u16,
    before: Object,
    orphan: bool,
    affects: Vec<String>,
) -> Change {
    let disruption = if affects.is_empty() {
        Disruption::None
    } else {
        Disruption::Interrupt
    };
    Change {
        action: Action::Delete,
        kind,
        key,
        id,
        before: Some(before),
        after: None,
        fields: vec![],
        disruption,
        orphan,
        affects,
    }
}

/// Compares one field; records it when it differs.
fn field<T: PartialEq + ToString>(
    fields: &mut Vec<FieldChange>,
    name: &str,
    before: Option<&T>,
    after: Option<&T>,
) -> bool {
    if before == after {
        return false;
    }
    fields.push(FieldChange {
        field: name.to_string(),
        before: before.map(ToString::to_string),
        after: after.map(ToString::to_string),
    });
    true
}

fn subscriber_model_name(m: SubscriberModel) -> &'static str {
    match m {
        SubscriberModel::EndpointAware => "endpoint-aware",
        SubscriberModel::PortAware => "port-aware",
    }
}

/// One change per global setting that differs, each stating the whole global state before and
/// after it. Returns whether the subscriber model changes.
///
/// Disruption: a new subscriber model rewrites every subscriber's attachment, so it interrupts
/// every subscriber on the device; a new default NNI moves the Q-in-Q subscribers that use the
/// default (an outer VLAN and no NNI of their own); the endpoint auto-upgrade setting touches no
/// traffic by itself.
fn diff_global(target: &Target, live: &LiveDevice, changes: &mut Vec<Change>) -> bool {
    let mut now = live.global.clone();
    let mut model_changes = false;
    let all_subscribers = || {
        let mut v: Vec<String> = live.subscribers.iter().map(|s| s.name.clone()).collect();
        v.sort();
        v
    };
    for setting in GlobalSetting::ALL {
        let mut after = now.clone();
        let mut fields = Vec::new();
        let (disruption, affects) = match setting {
            GlobalSetting::SubscriberModel => {
                if !field(
                    &mut fields,
                    setting.key(),
                    Some(&subscriber_model_name(now.subscriber_model)),
                    Some(&subscriber_model_name(target.subscriber_model)),
                ) {
                    continue;
                }
                after.subscriber_model = target.subscriber_model;
                model_changes = true;
                (Disruption::Interrupt, all_subscribers())
            }
            GlobalSetting::DefaultNni => {
                let Some(nni) = target.default_nni_if_index else {
                    continue;
                };
                if !field(
                    &mut fields,
                    setting.key(),
                    Some(&format!("ifIndex {}", now.default_nni_if_index)),
                    Some(&format!("ifIndex {nni}")),
                ) {
                    continue;
                }
                after.default_nni_if_index = nni;
                let mut moved: Vec<String> = live
                    .subscribers
                    .iter()
                    .filter(|s| s.outer_vlan.is_some() && s.nni_if_index.is_none())
                    .map(|s| s.name.clone())
                    .collect();
                moved.sort();
                if moved.is_empty() {
                    (Disruption::None, moved)
                } else {
                    (Disruption::Interrupt, moved)
                }
            }
            GlobalSetting::EndpointAutoFwUpgrade => {
                let Some(on) = target.endpoint_auto_fw_upgrade else {
                    continue;
                };
                if !field(
                    &mut fields,
                    setting.key(),
                    Some(&now.endpoint_auto_fw_upgrade),
                    Some(&on),
                ) {
                    continue;
                }
                after.endpoint_auto_fw_upgrade = on;
                (Disruption::None, vec![])
            }
        };
        changes.push(Change {
            action: Action::Update,
            kind: ObjectKind::Global,
            key: setting.key().to_string(),
            id: 0,
            before: Some(Object::Global(now.clone())),
            after: Some(Object::Global(after.clone())),
            fields,
            disruption,
            orphan: false,
            affects,
        });
        now = after;
    }
    model_changes
}

fn diff_ports(target: &Target, live: &LiveDevice, changes: &mut Vec<Change>) {
    for t in &target.ports {
        let Some(l) = live.ports.iter().find(|p| p.port == t.port) else {
            continue;
        };
        let mut after = l.clone();
        let mut fields = Vec::new();
        let mut disruption = Disruption::None;
        if let Some(name) = &t.name
            && field(&mut fields, "name", Some(&l.name), Some(name))
        {
            after.name = name.clone();
        }
        if let Some(mode) = t.mode
            && l.mode != crate::device::live::LivePortMode::Coax
            && field(
                &mut fields,
                "mode",
                Some(&mode_name(l.mode)),
                Some(&mode_name(mode)),
            )
        {
            after.mode = mode;
            disruption = Disruption::Interrupt;
        }
        if fields.is_empty() {
            continue;
        }
        let affects = if disruption == Disruption::Interrupt {
            subscribers_on_port(live, t.port)
        } else {
            vec![]
        };
        changes.push(Change {
            action: Action::Update,
            kind: ObjectKind::Port,
            key: t.port.to_string(),
            id: u16::from(t.port),
            before: Some(Object::Port(l.clone())),
            after: Some(Object::Port(after)),
            fields,
            disruption,
            orphan: false,
            affects,
        });
    }
}

fn mode_name(m: crate::device::live::LivePortMode) -> &'static str {
    match m {
        crate::device::live::LivePortMode::Coax => "coax",
        crate::device::live::LivePortMode::Mimo => "mimo",
        crate::device::live::LivePortMode::Siso => "siso",
    }
}

/// Live subscribers served on a port: through an endpoint bound there, or bound to it directly.
fn subscribers_on_port(live: &LiveDevice, port: u8) -> Vec<String> {
    let endpoints: BTreeSet<u16> = live
        .endpoints
        .iter()
        .filter(|e| e.binding == EndpointBinding::Port(port))
        .map(|e| e.id)
        .collect();
    let mut names: Vec<String> = live
        .subscribers
        .iter()
        .filter(|s| s.port == Some(port) || s.endpoint_id.is_some_and(|id| endpoints.contains(&id)))
        .map(|s| s.name.clone())
        .collect();
    names.sort();
    names
}

/// Returns the profile id each target profile name will have.
fn diff_profiles(
    target: &Target,
    live: &LiveDevice,
    changes: &mut Vec<Change>,
) -> Result<BTreeMap<String, u8>, DiffError> {
    let mut ids = BTreeMap::new();
    let live_custom: BTreeMap<&str, &LiveProfile> = live
        .profiles
        .iter()
        .filter(|p| p.id >= 2)
        .map(|p| (p.name.as_str(), p))
        .collect();
    let mut alloc = IdAllocator::new(PROFILE_IDS, live.profiles.iter().map(|p| u16::from(p.id)));
    let mut creates = Vec::new();
    for t in &target.profiles {
        let wanted = |id: u8| LiveProfile {
            id,
            name: t.name.clone(),
            description: t.description.clone(),
            down_mbps: t.down_mbps,
            up_mbps: t.up_mbps,
        };
        if let Some(l) = live_custom.get(t.name.as_str()) {
            ids.insert(t.name.clone(), l.id);
            let after = wanted(l.id);
            let mut fields = Vec::new();
            field(
                &mut fields,
                "description",
                Some(&l.description),
                Some(&after.description),
            );
            let rate = field(
                &mut fields,
                "down_mbps",
                Some(&l.down_mbps),
                Some(&after.down_mbps),
            ) | field(
                &mut fields,
                "up_mbps",
                Some(&l.up_mbps),
                Some(&after.up_mbps),
            );
            if fields.is_empty() {
                continue;
            }
            let affects = if rate {
                let mut v: Vec<String> = live
                    .subscribers
                    .iter()
                    .filter(|s| s.profile == ProfileRef::Id(l.id))
                    .map(|s| s.name.clone())
                    .collect();
                v.sort();
                v
            } else {
                vec![]
            };
            changes.push(Change {
                action: Action::Update,
                kind: ObjectKind::Profile,
                key: t.name.clone(),
                id: u16::from(l.id),
                before: Some(Object::Profile((*l).clone())),
                after: Some(Object::Profile(after)),
                fields,
                disruption: if rate {
                    Disruption::Rate
                } else {
                    Disruption::None
                },
                orphan: false,
                affects,
            });
        } else {
            let id = alloc.allocate().ok_or_else(|| DiffError::NoFreeId {
                kind: ObjectKind::Profile,
                key: t.name.clone(),
            })?;
            // PROFILE_IDS stays within 2..=15, so the id fits a u8.
            let id8 = u8::try_from(id).unwrap_or(u8::MAX);
            ids.insert(t.name.clone(), id8);
            let after = wanted(id8);
            let mut fields = Vec::new();
            field(&mut fields, "description", None, Some(&after.description));
            field(&mut fields, "down_mbps", None, Some(&after.down_mbps));
            field(&mut fields, "up_mbps", None, Some(&after.up_mbps));
            creates.push(create_change(
                ObjectKind::Profile,
                t.name.clone(),
                id,
                Object::Profile(after),
                fields,
                vec![],
            ));
        }
    }
    changes.extend(creates);
    Ok(ids)
}

fn create_change(
    kind: ObjectKind,
    key: String,
    id: u16,
    after: Object,
    fields: Vec<FieldChange>,
    affects: Vec<String>,
) -> Change {
    Change {
        action: Action::Create,
        kind,
        key,
        id,
        before: None,
        after: Some(after),
        fields,
        disruption: Disruption::None,
        orphan: false,
        affects,
    }
}

fn endpoint_fields(
    fields: &mut Vec<FieldChange>,
    before: Option<&LiveEndpoint>,
    after: &LiveEndpoint,
) -> bool {
    field(fields, "mac", before.map(|e| &e.mac), Some(&after.mac));
    field(fields, "name", before.map(|e| &e.name), Some(&after.name));
    field(
        fields,
        "description",
        before.map(|e| &e.description),
        Some(&after.description),
    );
    let moved = field(
        fields,
        "port",
        before.map(|e| binding_name(e.binding)).as_ref(),
        Some(&binding_name(after.binding)),
    );
    moved || before.is_some_and(|b| b.mac != after.mac)
}

fn binding_name(b: EndpointBinding) -> String {
    match b {
        EndpointBinding::Port(n) => n.to_string(),
        EndpointBinding::Unassigned => "unassigned".to_string(),
        EndpointBinding::Auto => "auto".to_string(),
    }
}

/// Returns the endpoint id each target MAC will have.
fn diff_endpoints(
    target: &Target,
    live: &LiveDevice,
    changes: &mut Vec<Change>,
) -> Result<BTreeMap<Mac, u16>, DiffError> {
    let mut ids = BTreeMap::new();
    if target.subscriber_model == crate::model::SubscriberModel::PortAware {
        return Ok(ids);
    }
    let by_mac: BTreeMap<Mac, &LiveEndpoint> = live.endpoints.iter().map(|e| (e.mac, e)).collect();
    let wanted_macs: BTreeSet<Mac> = target.endpoints.iter().map(|e| e.mac).collect();
    let mut claimed: BTreeSet<u16> = target
        .endpoints
        .iter()
        .filter_map(|t| by_mac.get(&t.mac).map(|e| e.id))
        .collect();
    let mut alloc = IdAllocator::new(ENDPOINT_IDS, live.endpoints.iter().map(|e| e.id));
    let mut updates = Vec::new();
    let mut creates = Vec::new();

    for t in &target.endpoints {
        let wanted = |id: u16| LiveEndpoint {
            id,
            mac: t.mac,
            name: t.name.clone(),
            description: t.description.clone(),
            binding: EndpointBinding::Port(t.port),
        };
        // The same CPE, or a swapped CPE: the endpoint the subscriber used, whose MAC nobody
        // wants any more, is updated in place.
        let existing = by_mac.get(&t.mac).copied().or_else(|| {
            swap_candidate(t, live, &wanted_macs, &claimed).inspect(|e| {
                claimed.insert(e.id);
            })
        });
        match existing {
            Some(l) => {
                ids.insert(t.mac, l.id);
                let after = wanted(l.id);
                let mut fields = Vec::new();
                let interrupts = endpoint_fields(&mut fields, Some(l), &after);
                if fields.is_empty() {
                    continue;
                }
                let affects = if interrupts {
                    live.subscribers
                        .iter()
                        .filter(|s| s.endpoint_id == Some(l.id))
                        .map(|s| s.name.clone())
                        .collect()
                } else {
                    vec![]
                };
                updates.push(Change {
                    action: Action::Update,
                    kind: ObjectKind::Endpoint,
                    key: t.mac.to_string(),
                    id: l.id,
                    before: Some(Object::Endpoint(l.clone())),
                    after: Some(Object::Endpoint(after)),
                    fields,
                    disruption: if interrupts {
                        Disruption::Interrupt
                    } else {
                        Disruption::None
                    },
                    orphan: false,
                    affects,
                });
            }
            None => {
                let id = alloc.allocate().ok_or_else(|| DiffError::NoFreeId {
                    kind: ObjectKind::Endpoint,
                    key: t.mac.to_string(),
                })?;
                ids.insert(t.mac, id);
                let after = wanted(id);
                let mut fields = Vec::new();
                endpoint_fields(&mut fields, None, &after);
                creates.push(create_change(
                    ObjectKind::Endpoint,
                    t.mac.to_string(),
                    id,
                    Object::Endpoint(after),
                    fields,
                    vec![],
                ));
            }
        }
    }
    changes.extend(updates);
    changes.extend(creates);
    Ok(ids)
}

fn swap_candidate<'a>(
    t: &TargetEndpoint,
    live: &'a LiveDevice,
    wanted: &BTreeSet<Mac>,
    claimed: &BTreeSet<u16>,
) -> Option<&'a LiveEndpoint> {
    let sub = live.subscriber_by_name(&t.subscriber)?;
    let e = live.endpoint(sub.endpoint_id?)?;
    (!wanted.contains(&e.mac) && !claimed.contains(&e.id)).then_some(e)
}

/// A live subscriber's settings in the inventory's terms: endpoint by MAC, profile by name.
struct Resolved {
    endpoint: Option<Mac>,
    profile: Option<String>,
}

fn resolve(s: &LiveSubscriber, live: &LiveDevice) -> Resolved {
    Resolved {
        endpoint: s
            .endpoint_id
            .and_then(|id| live.endpoint(id))
            .map(|e| e.mac),
        profile: match s.profile {
            ProfileRef::Unthrottled => None,
            // A dangling id is shown as `#id`, which never equals a plan name.
            ProfileRef::Id(id) => Some(
                live.profile(id)
                    .map_or_else(|| format!("#{id}"), |p| p.name.clone()),
            ),
        },
    }
}

fn opt_list(v: &[u16]) -> Option<String> {
    (!v.is_empty()).then(|| v.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
}

/// Records the subscriber's fields that differ; returns the disruption they cause.
fn subscriber_fields(
    fields: &mut Vec<FieldChange>,
    before: Option<(&LiveSubscriber, &Resolved)>,
    t: &TargetSubscriber,
    after: &LiveSubscriber,
) -> Disruption {
    let b = before.map(|(s, _)| s);
    let r = before.map(|(_, r)| r);
    let unthrottled = "unthrottled".to_string();
    let mut interrupt = false;
    field(
        fields,
        "description",
        b.map(|s| &s.description),
        Some(&t.description),
    );
    // References compare by the ids the device will hold, shown as MACs and names: a CPE
    // swapped in place keeps its endpoint id, and the subscriber need not change.
    interrupt |= reference(
        fields,
        "endpoint",
        b.map(|s| s.endpoint_id),
        after.endpoint_id,
        r.map(|r| r.endpoint),
        t.endpoint,
    );
    interrupt |= field_opt(fields, "port", b.map(|s| s.port), t.port) && before.is_some();
    interrupt |= field(fields, "vlan", b.map(|s| &s.vlan), Some(&t.vlan)) && before.is_some();
    interrupt |= field(fields, "tagged", b.map(|s| &s.tagged), Some(&t.tagged)) && before.is_some();
    interrupt |= field_opt(
        fields,
        "remapped_vlan",
        b.map(|s| s.remapped_vlan),
        t.remapped_vlan,
    ) && before.is_some();
    interrupt |= field_opt(
        fields,
        "allowed_vlans",
        b.map(|s| opt_list(&s.allowed_vlans)),
        opt_list(&t.allowed_vlans),
    ) && before.is_some();
    interrupt |=
        field_opt(fields, "outer_vlan", b.map(|s| s.outer_vlan), t.outer_vlan) && before.is_some();
    interrupt |=
        field_opt(fields, "nni", b.map(|s| s.nni_if_index), t.nni_if_index) && before.is_some();
    let rate = reference(
        fields,
        "plan",
        b.map(|s| s.profile),
        after.profile,
        r.map(|r| Some(r.profile.clone().unwrap_or_else(|| unthrottled.clone()))),
        Some(t.profile.clone().unwrap_or(unthrottled)),
    );
    if interrupt {
        Disruption::Interrupt
    } else if rate {
        Disruption::Rate
    } else {
        Disruption::None
    }
}

/// A reference to another object: changed when the id differs (or on create), displayed with
/// the referenced object's key. Returns whether an existing subscriber's reference changes.
fn reference<I: PartialEq, T: ToString>(
    fields: &mut Vec<FieldChange>,
    name: &str,
    before_id: Option<I>,
    after_id: I,
    before_show: Option<Option<T>>,
    after_show: Option<T>,
) -> bool {
    let show = |v: Option<T>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
    match before_id {
        Some(b) if b == after_id => false,
        Some(_) => {
            fields.push(FieldChange {
                field: name.to_string(),
                before: Some(show(before_show.flatten())),
                after: Some(show(after_show)),
            });
            true
        }
        None => {
            if after_show.is_some() {
                fields.push(FieldChange {
                    field: name.to_string(),
                    before: None,
                    after: Some(show(after_show)),
                });
            }
            false
        }
    }
}

/// Like `field` for optional values, showing "none" for absent ones.
fn field_opt<T: PartialEq + ToString>(
    fields: &mut Vec<FieldChange>,
    name: &str,
    before: Option<Option<T>>,
    after: Option<T>,
) -> bool {
    let show = |v: &Option<T>| {
        v.as_ref()
            .map_or_else(|| "none".to_string(), ToString::to_string)
    };
    match before {
        Some(b) if b == after => false,
        Some(b) => {
            fields.push(FieldChange {
                field: name.to_string(),
                before: Some(show(&b)),
                after: Some(show(&after)),
            });
            true
        }
        None => {
            if after.is_some() {
                fields.push(FieldChange {
                    field: name.to_string(),
                    before: None,
                    after: Some(show(&after)),
                });
            }
            true
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn diff_subscribers(
    target: &Target,
    live: &LiveDevice,
    profile_ids: &BTreeMap<String, u8>,
    endpoint_ids: &BTreeMap<Mac, u16>,
    opts: DiffOptions,
    out: &mut DeviceDiff,
    deletes: &mut Vec<Change>,
) -> Result<Vec<LiveSubscriber>, DiffError> {
    let by_name: BTreeMap<&str, &LiveSubscriber> = live
        .subscribers
        .iter()
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut alloc = IdAllocator::new(SUBSCRIBER_IDS, live.subscribers.iter().map(|s| s.id));
    let mut after_all = Vec::new();
    let mut updates = Vec::new();
    let mut creates = Vec::new();

    for t in &target.subscribers {
        let existing = by_name.get(t.name.as_str()).copied();
        let id = match existing {
            Some(l) => l.id,
            None => alloc.allocate().ok_or_else(|| DiffError::NoFreeId {
                kind: ObjectKind::Subscriber,
                key: t.name.clone(),
            })?,
        };
        let after = LiveSubscriber {
            id,
            name: t.name.clone(),
            description: t.description.clone(),
            endpoint_id: t.endpoint.and_then(|m| endpoint_ids.get(&m).copied()),
            port: t.port,
            vlan: t.vlan,
            tagged: t.tagged,
            remapped_vlan: t.remapped_vlan,
            allowed_vlans: t.allowed_vlans.clone(),
            profile: t
                .profile
                .as_ref()
                .and_then(|p| profile_ids.get(p))
                .map_or(ProfileRef::Unthrottled, |id| ProfileRef::Id(*id)),
            outer_vlan: t.outer_vlan,
            nni_if_index: t.nni_if_index,
        };
        after_all.push(after.clone());
        let mut fields = Vec::new();
        match existing {
            Some(l) => {
                let r = resolve(l, live);
                let disruption = subscriber_fields(&mut fields, Some((l, &r)), t, &after);
                if fields.is_empty() {
                    continue;
                }
                updates.push(Change {
                    action: Action::Update,
                    kind: ObjectKind::Subscriber,
                    key: t.name.clone(),
                    id,
                    before: Some(Object::Subscriber(l.clone())),
                    after: Some(Object::Subscriber(after)),
                    fields,
                    disruption,
                    orphan: false,
                    affects: vec![t.name.clone()],
                });
            }
            None => {
                subscriber_fields(&mut fields, None, t, &after);
                creates.push(create_change(
                    ObjectKind::Subscriber,
                    t.name.clone(),
                    id,
                    Object::Subscriber(after),
                    fields,
                    vec![t.name.clone()],
                ));
            }
        }
    }

    let wanted: BTreeSet<&str> = target.subscribers.iter().map(|s| s.name.as_str()).collect();
    for l in &live.subscribers {
        if wanted.contains(l.name.as_str()) {
            continue;
        }
        let owned = target.owned.contains(&l.name);
        if owned || opts.prune {
            deletes.push(delete_change(
                ObjectKind::Subscriber,
                l.name.clone(),
                l.id,
                Object::Subscriber(l.clone()),
                !owned,
                vec![l.name.clone()],
            ));
        } else {
            out.orphans.push(Orphan {
                kind: ObjectKind::Subscriber,
                key: l.name.clone(),
                id: l.id,
            });
            after_all.push(l.clone());
        }
    }
    out.changes.extend(updates);
    out.changes.extend(creates);
    Ok(after_all)
}
