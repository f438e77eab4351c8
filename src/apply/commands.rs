//! The CLI lines that carry out a change, and the lines that undo it.

use crate::device::cli::dialect;
use crate::plan::{Action, Change, Object, ObjectKind};

/// The line that makes the change. `uplink_base` is 1000000 + the model's G.hn port count.
pub fn forward(change: &Change, uplink_base: u32) -> Option<String> {
    match (change.action, &change.after) {
        (Action::Delete, _) => delete(change.kind, change.id),
        (_, Some(obj)) => Some(set(obj, uplink_base)),
        (_, None) => None,
    }
}

/// The line that puts the object back as it was before the change.
pub fn inverse(change: &Change, uplink_base: u32) -> Option<String> {
    match (change.action, &change.before) {
        (Action::Create, _) => delete(change.kind, change.id),
        (_, Some(obj)) => Some(set(obj, uplink_base)),
        (_, None) => None,
    }
}

fn set(obj: &Object, uplink_base: u32) -> String {
    match obj {
        Object::Port(p) => dialect::set_port(p),
        Object::Profile(p) => dialect::set_profile(p),
        Object::Endpoint(e) => dialect::set_endpoint(e),
        Object::Subscriber(s) => dialect::set_subscriber(s, uplink_base),
    }
}

fn delete(kind: ObjectKind, id: u16) -> Option<String> {
    match kind {
        ObjectKind::Subscriber => Some(dialect::delete_subscriber(id)),
        ObjectKind::Endpoint => Some(dialect::delete_endpoint(id)),
        ObjectKind::Profile => u8::try_from(id).ok().map(dialect::delete_profile),
        // Ports are never created or deleted.
        ObjectKind::Port => None,
    }
}
