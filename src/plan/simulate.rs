//! Applies a device's changes to its live state in memory: the state the device should be in
//! after an apply. The executor verifies the re-read device against it; the property tests
//! check that it equals the desired state.

use crate::device::live::LiveDevice;

use super::change::{Action, Change, Object};

/// `live` with `changes` applied, in order.
pub fn apply_changes(live: &LiveDevice, changes: &[Change]) -> LiveDevice {
    let mut dev = live.clone();
    for c in changes {
        match (c.action, &c.after) {
            (Action::Create | Action::Update, Some(after)) => put(&mut dev, after),
            (Action::Delete, _) => remove(&mut dev, c),
            _ => {}
        }
    }
    dev.profiles.sort_by_key(|p| p.id);
    dev.endpoints.sort_by_key(|e| e.id);
    dev.subscribers.sort_by_key(|s| s.id);
    dev
}

fn put(dev: &mut LiveDevice, obj: &Object) {
    match obj {
        Object::Port(p) => replace_or_push(&mut dev.ports, p.clone(), |x| x.port == p.port),
        Object::Profile(p) => replace_or_push(&mut dev.profiles, p.clone(), |x| x.id == p.id),
        Object::Endpoint(e) => replace_or_push(&mut dev.endpoints, e.clone(), |x| x.id == e.id),
        Object::Subscriber(s) => replace_or_push(&mut dev.subscribers, s.clone(), |x| x.id == s.id),
    }
}

fn replace_or_push<T>(list: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
    match list.iter_mut().find(|x| same(x)) {
        Some(slot) => *slot = item,
        None => list.push(item),
    }
}

fn remove(dev: &mut LiveDevice, c: &Change) {
    use super::change::ObjectKind::*;
    match c.kind {
        Port => {}
        Profile => dev.profiles.retain(|p| u16::from(p.id) != c.id),
        Endpoint => dev.endpoints.retain(|e| e.id != c.id),
        Subscriber => dev.subscribers.retain(|s| s.id != c.id),
    }
}
