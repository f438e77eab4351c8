//! The MIB view: the ordered OID → value map a simulated GAM's SNMP agent serves.
//!
//! It is shared (cheap to clone, one map behind an `Arc`) and mutable while the agent runs, so the
//! lab can render a device's state into it after each CLI change and the next SNMP read sees it.
//! GET is an exact lookup and GETNEXT the first key strictly greater, which is the whole of what
//! an SNMP agent needs from its data.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_snmp::{Oid, Value};

/// What a GET of one OID finds in a [`MibView`].
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The instance exists.
    Value(Value),
    /// The object exists but not this instance (RFC 3416 noSuchInstance).
    NoSuchInstance,
    /// No such object at all (RFC 3416 noSuchObject).
    NoSuchObject,
}

/// An ordered, shared, mutable OID → value map.
///
/// Cloning gives another handle to the same map. Locks are held only for the length of one call,
/// never across an `.await`.
#[derive(Debug, Clone, Default)]
pub struct MibView {
    map: Arc<RwLock<BTreeMap<Oid, Value>>>,
}

impl MibView {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }

    /// A view holding `entries` (a later duplicate OID replaces an earlier one).
    pub fn from_entries(entries: impl IntoIterator<Item = (Oid, Value)>) -> Self {
        Self {
            map: Arc::new(RwLock::new(entries.into_iter().collect())),
        }
    }

    // A panic while holding the lock cannot leave a BTreeMap half-updated in a way that matters
    // here (each call is one map operation), so a poisoned lock is simply used.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<Oid, Value>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<Oid, Value>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value at exactly `oid`.
    pub fn get(&self, oid: &Oid) -> Option<Value> {
        self.read().get(oid).cloned()
    }

    /// The first entry after `oid` in OID order (what GETNEXT answers).
    pub fn get_next(&self, oid: &Oid) -> Option<(Oid, Value)> {
        self.read()
            .range((Bound::Excluded(oid), Bound::Unbounded))
            .next()
            .map(|(o, v)| (o.clone(), v.clone()))
    }

    /// What a GET of `oid` answers, telling a missing instance of a known object from an unknown
    /// object.
    ///
    /// The view holds instances only, not the MIB, so "the object exists" is judged from the data:
    /// it is noSuchInstance when the OID's parent is a prefix of some instance in the view
    /// (`sysDescr.1` beside `sysDescr.0`, `ifDescr.99` beside `ifDescr.1`), and noSuchObject
    /// otherwise. For tables with multi-arc indexes (the by-MAC tables) a missing row whose index
    /// differs before its last arc reads as noSuchObject; clients treat both as absent.
    pub fn lookup(&self, oid: &Oid) -> Lookup {
        let map = self.read();
        if let Some(value) = map.get(oid) {
            return Lookup::Value(value.clone());
        }
        let Some(parent) = oid.parent() else {
            return Lookup::NoSuchObject;
        };
        if parent.is_empty() {
            return Lookup::NoSuchObject;
        }
        let under_parent = map
            .range((Bound::Excluded(&parent), Bound::Unbounded))
            .next()
            .is_some_and(|(next, _)| next.starts_with(&parent));
        if under_parent {
            Lookup::NoSuchInstance
        } else {
            Lookup::NoSuchObject
        }
    }

    /// Sets the value at `oid`, returning the previous one.
    pub fn insert(&self, oid: Oid, value: Value) -> Option<Value> {
        self.write().insert(oid, value)
    }

    /// Removes the value at `oid`, returning it.
    pub fn remove(&self, oid: &Oid) -> Option<Value> {
        self.write().remove(oid)
    }

    /// Replaces everything at or under `prefix` with `entries`, in one step that no reader can
    /// observe half done. Entries outside `prefix` are ignored, so a renderer cannot clobber
    /// another subtree by mistake. Returns how many entries were kept.
    pub fn replace_subtree(
        &self,
        prefix: &Oid,
        entries: impl IntoIterator<Item = (Oid, Value)>,
    ) -> usize {
        let fresh: Vec<(Oid, Value)> = entries
            .into_iter()
            .filter(|(oid, _)| oid.starts_with(prefix))
            .collect();
        let kept = fresh.len();
        let mut map = self.write();
        map.retain(|oid, _| !oid.starts_with(prefix));
        map.extend(fresh);
        kept
    }

    /// Replaces everything at or under any of `prefixes` with `entries`, in one step that no
    /// reader can observe half done. Entries outside every prefix are ignored. Returns how many
    /// entries were kept. This is how a renderer that owns several subtrees (system group,
    /// IF-MIB tables, an enterprise subtree) refreshes them together while the rest of the view
    /// (say, a real walk's other MIBs) stays as it was.
    ///
    /// The new map is built before the write lock is taken and the old one dropped after it is
    /// released, so readers wait only for the copy of the entries no prefix owns.
    pub fn replace_subtrees(
        &self,
        prefixes: &[Oid],
        entries: impl IntoIterator<Item = (Oid, Value)>,
    ) -> usize {
        let owned = |oid: &Oid| prefixes.iter().any(|p| oid.starts_with(p));
        let mut fresh: BTreeMap<Oid, Value> =
            entries.into_iter().filter(|(oid, _)| owned(oid)).collect();
        let kept = fresh.len();
        let old = {
            let mut map = self.write();
            for (oid, value) in map.iter().filter(|(oid, _)| !owned(oid)) {
                fresh.insert(oid.clone(), value.clone());
            }
            std::mem::replace(&mut *map, fresh)
        };
        drop(old);
        kept
    }

    /// Replaces the whole view.
    pub fn replace_all(&self, entries: impl IntoIterator<Item = (Oid, Value)>) {
        let fresh: BTreeMap<Oid, Value> = entries.into_iter().collect();
        *self.write() = fresh;
    }

    /// How many instances the view holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// A copy of every entry, in OID order.
    pub fn snapshot(&self) -> Vec<(Oid, Value)> {
        self.read()
            .iter()
            .map(|(o, v)| (o.clone(), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(text: &str) -> Oid {
        Oid::parse(text).unwrap()
    }

    fn view() -> MibView {
        MibView::from_entries([
            (oid("1.3.6.1.2.1.1.1.0"), Value::OctetString("GAM".into())),
            (oid("1.3.6.1.2.1.1.3.0"), Value::TimeTicks(5)),
            (
                oid("1.3.6.1.2.1.2.2.1.2.1"),
                Value::OctetString("VLAN 1".into()),
            ),
            (
                oid("1.3.6.1.2.1.2.2.1.2.10"),
                Value::OctetString("VLAN 10".into()),
            ),
        ])
    }

    #[test]
    fn get_next_is_numeric_order() {
        let v = view();
        let (next, _) = v.get_next(&oid("1.3.6.1.2.1.2.2.1.2.1")).unwrap();
        assert_eq!(next, oid("1.3.6.1.2.1.2.2.1.2.10"));
        let (first, _) = v.get_next(&oid("1")).unwrap();
        assert_eq!(first, oid("1.3.6.1.2.1.1.1.0"));
        assert!(v.get_next(&oid("1.3.6.1.2.1.2.2.1.2.10")).is_none());
    }

    #[test]
    fn lookup_tells_instance_from_object() {
        let v = view();
        assert_eq!(
            v.lookup(&oid("1.3.6.1.2.1.1.3.0")),
            Lookup::Value(Value::TimeTicks(5))
        );
        assert_eq!(v.lookup(&oid("1.3.6.1.2.1.1.1.1")), Lookup::NoSuchInstance);
        assert_eq!(
            v.lookup(&oid("1.3.6.1.2.1.2.2.1.2.99")),
            Lookup::NoSuchInstance
        );
        assert_eq!(v.lookup(&oid("1.3.6.1.2.1.1.2.0")), Lookup::NoSuchObject);
        assert_eq!(
            v.lookup(&oid("1.3.6.1.4.1.20095.1.0")),
            Lookup::NoSuchObject
        );
        assert_eq!(v.lookup(&oid("1")), Lookup::NoSuchObject);
        assert_eq!(v.lookup(&Oid::empty()), Lookup::NoSuchObject);
    }

    #[test]
    fn replace_subtrees_keeps_what_no_prefix_owns() {
        let v = view();
        let kept = v.replace_subtrees(
            &[oid("1.3.6.1.2.1.1"), oid("1.3.6.1.2.1.2.2.1.2.10")],
            [
                (oid("1.3.6.1.2.1.1.5.0"), Value::OctetString("gam".into())),
                (oid("1.3.6.1.4.1.1.0"), Value::Integer(1)),
            ],
        );
        assert_eq!(kept, 1);
        assert_eq!(v.len(), 2);
        assert!(v.get(&oid("1.3.6.1.2.1.1.1.0")).is_none());
        assert!(v.get(&oid("1.3.6.1.2.1.1.5.0")).is_some());
        assert!(v.get(&oid("1.3.6.1.2.1.2.2.1.2.1")).is_some());
        assert!(v.get(&oid("1.3.6.1.2.1.2.2.1.2.10")).is_none());
    }

    #[test]
    fn replace_subtree_is_bounded_and_shared() {
        let v = view();
        let handle = v.clone();
        let kept = v.replace_subtree(
            &oid("1.3.6.1.2.1.2.2"),
            [
                (
                    oid("1.3.6.1.2.1.2.2.1.2.5"),
                    Value::OctetString("VLAN 5".into()),
                ),
                (
                    oid("1.3.6.1.2.1.1.5.0"),
                    Value::OctetString("outside".into()),
                ),
            ],
        );
        assert_eq!(kept, 1);
        assert_eq!(handle.len(), 3);
        assert!(handle.get(&oid("1.3.6.1.2.1.2.2.1.2.1")).is_none());
        assert!(handle.get(&oid("1.3.6.1.2.1.1.5.0")).is_none());
        assert!(handle.get(&oid("1.3.6.1.2.1.2.2.1.2.5")).is_some());
    }
}
