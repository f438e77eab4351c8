//! Applies a device's changes to its live state in memory: the state the device should be in
//! after an apply. The executor verifies the re-read device against it; the property tests
//! check that it equals the desired state.

use std::collections::BTreeSet;

use crate::device::live::{EndpointBinding, LiveDevice};
use crate::model::SubscriberModel;

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
        Object::Global(g) => {
            if g.subscriber_model != dev.global.subscriber_model {
                convert_subscriber_model(dev, g.subscriber_model);
            }
            dev.global = g.clone();
        }
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
        Global | Port => {}
        Profile => dev.profiles.retain(|p| u16::from(p.id) != c.id),
        Endpoint => dev.endpoints.retain(|e| e.id != c.id),
        Subscriber => dev.subscribers.retain(|s| s.id != c.id),
    }
}

/// What the GAM does to its rows when the subscriber model changes: each subscriber, by id,
/// moves to its endpoint's port (endpoint-aware to port-aware) or to the first free endpoint
/// bound to its port (port-aware to endpoint-aware); one that cannot be converted keeps neither.
/// Positron says switching "rewrites existing subscribers and endpoints" and advises doing it
/// only at first configuration; this is the lab's reading of it, and the plan restates every
/// desired subscriber in full after the switch, so only orphans depend on it.
pub fn convert_subscriber_model(dev: &mut LiveDevice, model: SubscriberModel) {
    dev.global.subscriber_model = model;
    let mut endpoints = dev.endpoints.clone();
    endpoints.sort_by_key(|e| e.id);
    let mut order: Vec<usize> = (0..dev.subscribers.len()).collect();
    order.sort_by_key(|&i| dev.subscribers[i].id);
    let mut taken_ports = BTreeSet::new();
    let mut taken_endpoints = BTreeSet::new();
    for i in order {
        let s = &mut dev.subscribers[i];
        match model {
            SubscriberModel::PortAware => {
                let port = s
                    .endpoint_id
                    .and_then(|id| endpoints.iter().find(|e| e.id == id))
                    .and_then(|e| match e.binding {
                        EndpointBinding::Port(p) => Some(p),
                        _ => None,
                    })
                    .filter(|p| !taken_ports.contains(p));
                if let Some(p) = port {
                    taken_ports.insert(p);
                }
                s.port = port;
                s.endpoint_id = None;
            }
            SubscriberModel::EndpointAware => {
                let id = s.port.and_then(|p| {
                    endpoints
                        .iter()
                        .find(|e| {
                            e.binding == EndpointBinding::Port(p)
                                && !taken_endpoints.contains(&e.id)
                        })
                        .map(|e| e.id)
                });
                if let Some(id) = id {
                    taken_endpoints.insert(id);
                }
                s.endpoint_id = id;
                s.port = None;
            }
        }
    }
}
