//! The JSON-RPC calls that carry out a change, and the calls that undo it: the JSON-RPC
//! counterpart of `commands.rs`. Every call is built by `device::jsonrpc::calls`, whose one check
//! refuses a value with a control character; such a change is never sent.

use crate::device::jsonrpc::RpcError;
use crate::device::jsonrpc::calls::{self, Call};
use crate::plan::{Action, Change, Object};

/// The call that puts `obj` in place: `creating` it (the id-keyed add, at the plan's id), or
/// updating what the device holds as `current` (by name, by id for a renamed endpoint).
fn state(
    obj: &Object,
    key: &str,
    creating: bool,
    current: Option<&Object>,
    uplink_base: u32,
) -> Result<Option<Call>, RpcError> {
    Ok(match obj {
        Object::Global(g) => calls::set_global(g, key, uplink_base),
        Object::Port(p) => Some(calls::set_port(p)?),
        Object::Profile(p) if creating => Some(calls::add_profile(p)?),
        Object::Profile(p) => Some(calls::set_profile(p)?),
        Object::Endpoint(e) if creating => Some(calls::add_endpoint(e)?),
        Object::Endpoint(e) => {
            let old = match current {
                Some(Object::Endpoint(c)) => c.name.as_str(),
                _ => e.name.as_str(),
            };
            Some(calls::set_endpoint(e, old)?)
        }
        Object::Subscriber(s) if creating => Some(calls::add_user(s, uplink_base)?),
        Object::Subscriber(s) => Some(calls::set_user(s, uplink_base)?),
    })
}

/// The call that deletes `obj` (by name); ports and global settings are never deleted.
fn delete(obj: &Object) -> Result<Option<Call>, RpcError> {
    Ok(match obj {
        Object::Profile(p) => Some(calls::delete_profile(&p.name)?),
        Object::Endpoint(e) => Some(calls::delete_endpoint(&e.name)?),
        Object::Subscriber(s) => Some(calls::delete_user(&s.name)?),
        Object::Global(_) | Object::Port(_) => None,
    })
}

/// The call that makes the change.
pub fn forward(change: &Change, uplink_base: u32) -> Result<Option<Call>, RpcError> {
    match (change.action, &change.before, &change.after) {
        (Action::Delete, Some(before), _) => delete(before),
        (Action::Delete, None, _) => Ok(None),
        (Action::Create, _, Some(after)) => state(after, &change.key, true, None, uplink_base),
        (Action::Update, before, Some(after)) => {
            state(after, &change.key, false, before.as_ref(), uplink_base)
        }
        (_, _, None) => Ok(None),
    }
}

/// The call that puts the object back as it was before the change.
pub fn inverse(change: &Change, uplink_base: u32) -> Result<Option<Call>, RpcError> {
    match (change.action, &change.before, &change.after) {
        (Action::Create, _, Some(after)) => delete(after),
        (Action::Create, _, None) => Ok(None),
        (Action::Delete, Some(before), _) => state(before, &change.key, true, None, uplink_base),
        (Action::Update, Some(before), after) => {
            state(before, &change.key, false, after.as_ref(), uplink_base)
        }
        (_, None, _) => Ok(None),
    }
}
