//! The CLI lines that carry out a change, and the lines that undo it.
//!
//! Every line is rendered by the dialect, whose one check refuses a value that cannot be put
//! into a command line safely (a newline, a control character, a `"`): such a change gives an
//! [`UnsafeValue`] and is never sent.

use crate::device::ssh::dialect::{self, UnsafeValue};
use crate::plan::{Action, Change, ObjectKind};

/// The line that makes the change. `uplink_base` is 1000000 + the model's G.hn port count.
pub fn forward(change: &Change, uplink_base: u32) -> Result<Option<String>, UnsafeValue> {
    match (change.action, &change.after) {
        (Action::Delete, _) => Ok(delete(change.kind, change.id)),
        (_, Some(obj)) => obj.cli_line(&change.key, uplink_base),
        (_, None) => Ok(None),
    }
}

/// The line that puts the object back as it was before the change.
pub fn inverse(change: &Change, uplink_base: u32) -> Result<Option<String>, UnsafeValue> {
    match (change.action, &change.before) {
        (Action::Create, _) => Ok(delete(change.kind, change.id)),
        (_, Some(obj)) => obj.cli_line(&change.key, uplink_base),
        (_, None) => Ok(None),
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
