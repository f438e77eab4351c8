//! The CLI lines that carry out a change, and the lines that undo it.

use crate::device::cli::dialect;
use crate::plan::{Action, Change, GlobalSetting, Object, ObjectKind};

/// The line that makes the change. `uplink_base` is 1000000 + the model's G.hn port count.
pub fn forward(change: &Change, uplink_base: u32) -> Option<String> {
    match (change.action, &change.after) {
        (Action::Delete, _) => delete(change.kind, change.id),
        (_, Some(obj)) => set(&change.key, obj, uplink_base),
        (_, None) => None,
    }
}

/// The line that puts the object back as it was before the change.
pub fn inverse(change: &Change, uplink_base: u32) -> Option<String> {
    match (change.action, &change.before) {
        (Action::Create, _) => delete(change.kind, change.id),
        (_, Some(obj)) => set(&change.key, obj, uplink_base),
        (_, None) => None,
    }
}

/// The line that sets `obj`; for the global settings, the one setting the change's `key` names.
fn set(key: &str, obj: &Object, uplink_base: u32) -> Option<String> {
    match obj {
        Object::Global(g) => match GlobalSetting::from_key(key)? {
            GlobalSetting::SubscriberModel => {
                Some(dialect::set_subscriber_model(g.subscriber_model))
            }
            GlobalSetting::DefaultNni => {
                dialect::set_default_nni(g.default_nni_if_index, uplink_base)
            }
            GlobalSetting::EndpointAutoFwUpgrade => Some(dialect::set_endpoint_auto_fw_upgrade(
                g.endpoint_auto_fw_upgrade,
            )),
        },
        Object::Port(p) => Some(dialect::set_port(p)),
        Object::Profile(p) => Some(dialect::set_profile(p)),
        Object::Endpoint(e) => Some(dialect::set_endpoint(e)),
        Object::Subscriber(s) => Some(dialect::set_subscriber(s, uplink_base)),
    }
}

fn delete(kind: ObjectKind, id: u16) -> Option<String> {
    match kind {
        ObjectKind::Subscriber => Some(dialect::delete_subscriber(id)),
        ObjectKind::Endpoint => Some(dialect::delete_endpoint(id)),
        ObjectKind::Profile => u8::try_from(id).ok().map(dialect::delete_profile),
        // Ports and global settings are never created or deleted.
        ObjectKind::Port | ObjectKind::Global => None,
    }
}
