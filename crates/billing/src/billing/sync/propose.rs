//! From billing's customers to the files a sync would write: each customer mapped to its
//! subscriber, merged with what the inventory says (billing owns only some fields), and
//! rendered; subscribers billing no longer serves follow the removal policy; plans the mapping
//! needs are added. Pure apart from reading the original files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use super::{AddedPlan, Change, ChangeKind, SkippedCustomer, SyncError};
use crate::billing::BillingCustomer;
use crate::billing::mapping::{MapContext, MapOutcome, SystemRules, map_customers};
use crate::git::commit::Repo;
use crate::inventory::Inventory;
use crate::inventory::canonical::{CanonicalError, render};
use crate::inventory::layout::FileKind;
use crate::model::billing::RemovalPolicy;
use crate::model::{BillingMapping, Doc, Ident, ManagedBy, Plans, Subscriber, SubscriberStatus};

/// One file to write or delete, relative to the inventory folder.
#[derive(Clone, Debug)]
pub(super) struct Edit {
    pub(super) rel: String,
    pub(super) old: Option<String>,
    pub(super) new: Option<String>,
    /// Who the edit is for: a subscriber id, or `None` for plans.yaml.
    pub(super) owner: Option<String>,
}

/// The sync's proposal before validation.
#[derive(Debug, Default)]
pub(super) struct Proposal {
    pub(super) edits: Vec<Edit>,
    pub(super) changes: Vec<Change>,
    pub(super) unchanged: usize,
    pub(super) not_subscribers: usize,
    pub(super) skipped: Vec<SkippedCustomer>,
    pub(super) new_plans: Vec<AddedPlan>,
    /// Subscriber id -> billing key.
    pub(super) keys: HashMap<String, String>,
}

/// Where the text of an existing file comes from: the commit the sync starts from, or the
/// folder.
pub(super) struct Originals<'a> {
    pub(super) repo: Option<&'a Repo>,
    pub(super) base: Option<git2::Oid>,
    pub(super) root: PathBuf,
    /// The commit's files by path (one tree walk, on the first read).
    pub(super) index: std::cell::OnceCell<HashMap<String, git2::Oid>>,
}

impl Originals<'_> {
    pub(super) fn read(&self, rel: &str) -> Option<String> {
        let bytes = match (self.repo, self.base) {
            (Some(repo), Some(base)) => {
                let id = *self.index.get_or_init(|| repo.files_at(base)).get(rel)?;
                repo.read_blob(id)?
            }
            _ => std::fs::read(self.root.join(rel)).ok()?,
        };
        String::from_utf8(bytes).ok()
    }
}

pub(super) fn subscriber_rel(s: &Subscriber) -> String {
    format!("subscribers/{}/{}.yaml", s.device, s.id)
}

/// The fields billing owns, taken from `mapped`; everything else kept from `old`.
pub(super) fn merge(
    old: Option<&Subscriber>,
    mapped: &Subscriber,
    owns_outer_vlan: bool,
) -> Subscriber {
    let Some(old) = old else {
        return mapped.clone();
    };
    let mut s = old.clone();
    s.name = mapped.name.clone();
    s.device = mapped.device.clone();
    s.port = mapped.port;
    s.vlan = mapped.vlan;
    if owns_outer_vlan {
        s.outer_vlan = mapped.outer_vlan;
    }
    s.plan = mapped.plan.clone();
    s.status = mapped.status;
    s.managed_by = mapped.managed_by;
    s.endpoint = match (&mapped.endpoint, &old.endpoint) {
        (Some(new), Some(kept)) => {
            let mut e = kept.clone();
            e.mac = new.mac;
            Some(e)
        }
        (new, _) => new.clone(),
    };
    s
}

/// What changed between two versions of a subscriber, among the fields billing owns.
pub(super) fn differences(old: &Subscriber, new: &Subscriber) -> Vec<String> {
    fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
        v.map_or_else(|| "none".to_string(), |v| v.to_string())
    }
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name} {a} -> {b}"));
        }
    };
    field("status", status(*old.status), status(*new.status));
    field("plan", old.plan.to_string(), new.plan.to_string());
    field("device", old.device.to_string(), new.device.to_string());
    field("port", old.port.to_string(), new.port.to_string());
    field("vlan", old.vlan.to_string(), new.vlan.to_string());
    field(
        "outer_vlan",
        opt(old.outer_vlan.as_ref()),
        opt(new.outer_vlan.as_ref()),
    );
    field(
        "mac",
        opt(old.endpoint.as_ref().map(|e| e.mac)),
        opt(new.endpoint.as_ref().map(|e| e.mac)),
    );
    field("name", opt(old.name.as_ref()), opt(new.name.as_ref()));
    field(
        "managed_by",
        old.managed_by.as_str().to_string(),
        new.managed_by.as_str().to_string(),
    );
    out
}

pub(super) fn status(s: SubscriberStatus) -> String {
    match s {
        SubscriberStatus::Active => "active".into(),
        SubscriberStatus::Suspended => "suspended".into(),
    }
}

pub(super) fn summary(s: &Subscriber) -> String {
    let mut parts = vec![
        format!("{} port {}", s.device, s.port),
        format!("VLAN {}", s.vlan),
    ];
    if let Some(o) = &s.outer_vlan {
        parts.push(format!("outer VLAN {o}"));
    }
    if let Some(e) = &s.endpoint {
        parts.push(format!("MAC {}", e.mac));
    }
    parts.push(format!("plan {}", s.plan));
    if *s.status == SubscriberStatus::Suspended {
        parts.push("suspended".into());
    }
    parts.join(", ")
}

/// What every part of a proposal needs to know: the inventory, which system this sync is, and
/// which of its subscribers the sync's scope covers.
struct Context<'a> {
    inv: &'a Inventory,
    originals: &'a Originals<'a>,
    me: ManagedBy,
    /// `sonar-`, `splynx-`: a subscriber id is this and the billing key.
    prefix: String,
    scope: Option<&'a BTreeSet<String>>,
    /// Existing subscribers by id.
    by_id: HashMap<&'a str, &'a Doc<Subscriber>>,
}

impl Context<'_> {
    fn key_of(&self, id: &str) -> Option<String> {
        id.strip_prefix(&self.prefix).map(str::to_string)
    }

    fn in_scope(&self, s: &Subscriber) -> bool {
        match self.scope {
            None => true,
            Some(keys) => self
                .key_of(s.id.as_str())
                .is_some_and(|k| keys.contains(&k)),
        }
    }

    /// Where a subscriber's file is now.
    fn rel_of(&self, d: &Doc<Subscriber>) -> String {
        self.inv
            .file(d.source)
            .map(|f| f.rel.clone())
            .unwrap_or_else(|| subscriber_rel(d))
    }
}

/// Maps the customers and proposes the files to write. Pure apart from reading originals.
pub(super) fn propose(
    inv: &Inventory,
    originals: &Originals<'_>,
    rules: SystemRules<'_>,
    mapping: &BillingMapping,
    customers: &[BillingCustomer],
    scope: Option<&BTreeSet<String>>,
) -> Result<Proposal, SyncError> {
    let me = match rules {
        SystemRules::Sonar(_) => ManagedBy::Sonar,
        SystemRules::Splynx(_) => ManagedBy::Splynx,
    };
    let cx = Context {
        inv,
        originals,
        me,
        prefix: format!("{}-", rules.prefix()),
        scope,
        by_id: inv
            .desired
            .subscribers
            .iter()
            .map(|d| (d.id.as_str(), d))
            .collect(),
    };
    // Others: every subscriber this run does not re-map.
    let others: Vec<Subscriber> = inv
        .desired
        .subscribers
        .iter()
        .filter(|d| d.managed_by != me || !cx.in_scope(d))
        .map(|d| d.value.clone())
        .collect();
    let devices: Vec<_> = inv
        .desired
        .devices
        .iter()
        .map(|d| d.value.clone())
        .collect();
    let plans = inv.desired.plans().cloned().unwrap_or_default();
    let ctx = MapContext {
        devices: &devices,
        plans: &plans,
        matching: &mapping.plans,
        others: &others,
    };
    let outcome = map_customers(customers, rules, &ctx);
    let owns_outer_vlan = match rules {
        SystemRules::Sonar(m) => m.fields.outer_vlan.is_some(),
        SystemRules::Splynx(m) => m.fields.outer_vlan.is_some(),
    };

    let mut p = Proposal::default();
    let mut handled: BTreeSet<String> = BTreeSet::new();
    for s in &outcome.skipped {
        let id = format!("{}{}", cx.prefix, s.customer);
        p.skipped.push(SkippedCustomer {
            customer: s.customer.clone(),
            subscriber: cx.by_id.contains_key(id.as_str()).then_some(id.clone()),
            reason: s.reason.to_string(),
        });
        handled.insert(id);
    }
    for mapped in &outcome.subscribers {
        handled.insert(mapped.id.to_string());
        p.mapped(&cx, mapped, owns_outer_vlan)?;
    }

    // Subscribers billing owns but no longer serves.
    let served: BTreeSet<&str> = customers.iter().map(|c| c.key.as_str()).collect();
    let absent: BTreeSet<&str> = outcome.absent.iter().map(String::as_str).collect();
    p.not_subscribers = absent
        .iter()
        .filter(|key| {
            !cx.by_id
                .contains_key(format!("{}{key}", cx.prefix).as_str())
        })
        .count();
    for d in &inv.desired.subscribers {
        if d.managed_by != me || !cx.in_scope(d) || handled.contains(d.id.as_str()) {
            continue;
        }
        let key = cx.key_of(d.id.as_str()).unwrap_or_else(|| d.id.to_string());
        let why = if absent.contains(key.as_str()) {
            "customer no longer served in billing"
        } else if served.contains(key.as_str()) {
            "customer has no subscriber in billing"
        } else {
            "customer gone from billing"
        };
        p.removed(&cx, d, key, why, *mapping.removed)?;
    }

    p.added_plans(&cx, &outcome, &plans)?;
    Ok(p)
}

impl Proposal {
    /// A subscriber as billing maps it: unchanged, skipped, or its file written (and the old
    /// one deleted when it moved to another device).
    fn mapped(
        &mut self,
        cx: &Context<'_>,
        mapped: &Subscriber,
        owns_outer_vlan: bool,
    ) -> Result<(), SyncError> {
        let id = mapped.id.to_string();
        let key = cx.key_of(&id).unwrap_or_default();
        self.keys.insert(id.clone(), key.clone());
        let old = cx.by_id.get(id.as_str()).copied();
        if let Some(o) = old
            && o.managed_by != cx.me
        {
            self.skipped.push(SkippedCustomer {
                customer: key,
                subscriber: Some(id),
                reason: format!(
                    "subscriber exists with `managed_by: {}`; the sync never touches it",
                    o.managed_by.as_str()
                ),
            });
            return Ok(());
        }
        let new = merge(old.map(|d| &d.value), mapped, owns_outer_vlan);
        if old.is_some_and(|o| o.value == new) {
            self.unchanged += 1;
            return Ok(());
        }
        let new_rel = subscriber_rel(&new);
        let old_rel = old.map(|d| cx.rel_of(d));
        let original = old_rel.as_deref().and_then(|r| cx.originals.read(r));
        let from = old_rel.as_deref().unwrap_or(&new_rel);
        let Some(text) = self.render_or_skip(&new, original.as_deref(), from, &new_rel, &key)?
        else {
            return Ok(());
        };
        let (kind, details) = match old {
            None => (ChangeKind::Created, vec![summary(&new)]),
            Some(o) => {
                let kind = if *o.status == SubscriberStatus::Active
                    && *new.status == SubscriberStatus::Suspended
                {
                    ChangeKind::Suspended
                } else {
                    ChangeKind::Updated
                };
                (kind, differences(o, &new))
            }
        };
        let moved = old_rel.as_ref().is_some_and(|r| *r != new_rel);
        if moved && let Some(old_rel) = &old_rel {
            // Moved to another device: the old file goes.
            self.edits.push(Edit {
                rel: old_rel.clone(),
                old: original.clone(),
                new: None,
                owner: Some(id.clone()),
            });
        }
        self.edits.push(Edit {
            rel: new_rel,
            old: if moved { None } else { original },
            new: Some(text),
            owner: Some(id.clone()),
        });
        self.changes.push(Change {
            subscriber: id,
            kind,
            device: new.device.to_string(),
            details,
        });
        Ok(())
    }

    /// A subscriber billing owns but no longer serves (`why`), by the removal policy: its file
    /// deleted, or it is suspended.
    fn removed(
        &mut self,
        cx: &Context<'_>,
        d: &Doc<Subscriber>,
        key: String,
        why: &str,
        policy: RemovalPolicy,
    ) -> Result<(), SyncError> {
        let id = d.id.to_string();
        let rel = cx.rel_of(d);
        self.keys.insert(id.clone(), key.clone());
        let original = cx.originals.read(&rel);
        let (new, kind) = match policy {
            RemovalPolicy::Delete => (None, ChangeKind::Deleted),
            RemovalPolicy::Suspend => {
                if *d.status == SubscriberStatus::Suspended {
                    self.unchanged += 1;
                    return Ok(());
                }
                let mut new = d.value.clone();
                new.status = crate::model::Located::bare(SubscriberStatus::Suspended);
                let Some(text) =
                    self.render_or_skip(&new, original.as_deref(), &rel, &rel, &key)?
                else {
                    return Ok(());
                };
                (Some(text), ChangeKind::Suspended)
            }
        };
        self.edits.push(Edit {
            rel,
            old: original,
            new,
            owner: Some(id.clone()),
        });
        self.changes.push(Change {
            subscriber: id,
            kind,
            device: d.device.to_string(),
            details: vec![why.into()],
        });
        Ok(())
    }

    /// plans.yaml with the plans the mapping created for the subscribers that use them.
    fn added_plans(
        &mut self,
        cx: &Context<'_>,
        outcome: &MapOutcome,
        plans: &Plans,
    ) -> Result<(), SyncError> {
        let plan_of: HashMap<&str, &str> = outcome
            .subscribers
            .iter()
            .map(|s| (s.id.as_str(), s.plan.as_str()))
            .collect();
        let used: BTreeSet<&str> = self
            .changes
            .iter()
            .filter_map(|c| plan_of.get(c.subscriber.as_str()).copied())
            .collect();
        let new_plans: Vec<_> = outcome
            .new_plans
            .iter()
            .filter(|n| used.contains(n.name.as_str()) && plans.get(n.name.as_str()).is_none())
            .collect();
        if new_plans.is_empty() {
            return Ok(());
        }
        let mut all: BTreeMap<Ident, crate::model::BandwidthPlan> = plans.0.clone();
        for n in &new_plans {
            all.insert(n.name.clone(), n.plan.clone());
            self.new_plans.push(AddedPlan {
                name: n.name.to_string(),
                down_mbps: n.plan.down_mbps.get().into(),
                up_mbps: n.plan.up_mbps.get().into(),
            });
        }
        let rel = "plans.yaml".to_string();
        let original = cx.originals.read(&rel);
        let text = render(FileKind::Plans, &Plans(all), original.as_deref()).map_err(|e| {
            SyncError::Render {
                path: rel.clone(),
                source: e,
            }
        })?;
        self.edits.push(Edit {
            rel,
            old: original,
            new: Some(text),
            owner: None,
        });
        Ok(())
    }

    /// A subscriber's new file: its text, keeping the original's top comments. `None` when
    /// the original (at `old_rel`) has a comment inside the document, which rewriting would
    /// drop: the customer is then recorded as skipped, with that reason. Any other failure to
    /// render is the sync's error, at `new_rel`.
    fn render_or_skip(
        &mut self,
        new: &Subscriber,
        original: Option<&str>,
        old_rel: &str,
        new_rel: &str,
        customer: &str,
    ) -> Result<Option<String>, SyncError> {
        match render(FileKind::Subscriber, new, original) {
            Ok(text) => Ok(Some(text)),
            Err(CanonicalError::InnerComment { line }) => {
                self.skipped.push(SkippedCustomer {
                    customer: customer.to_string(),
                    subscriber: Some(new.id.to_string()),
                    reason: format!(
                        "{old_rel} has a comment on line {line}, inside the document, which rewriting would drop"
                    ),
                });
                Ok(None)
            }
            Err(e) => Err(SyncError::Render {
                path: new_rel.to_string(),
                source: e,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubscriberStatus;

    fn sub(yaml: &str) -> Subscriber {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const OLD: &str = "id: splynx-7\nname: Unit 7\ndevice: gam-a\nport: 7\nendpoint: { mac: 00:0e:d8:00:00:07, name: cpe-7, description: Lobby }\nvlan: 207\ntagged: true\nallowed_vlans: [300]\nplan: 100M\nprotect: true\nmanaged_by: splynx\n";

    #[test]
    fn merge_takes_only_what_billing_owns() {
        let old = sub(OLD);
        let mapped = sub(
            "id: splynx-7\nname: Unit 7B\ndevice: gam-a\nport: 8\nendpoint: { mac: 00:0e:d8:00:00:08 }\nvlan: 208\nouter_vlan: 120\nplan: 500M\nstatus: suspended\nmanaged_by: splynx\n",
        );
        let m = merge(Some(&old), &mapped, false);
        assert_eq!(m.name.as_ref().unwrap().as_str(), "Unit 7B");
        assert_eq!((m.port.get(), m.vlan.get()), (8, 208));
        assert_eq!(m.plan.as_str(), "500M");
        assert_eq!(*m.status, SubscriberStatus::Suspended);
        let e = m.endpoint.as_ref().unwrap();
        assert_eq!(e.mac.to_string(), "00:0e:d8:00:00:08");
        assert_eq!(e.name.as_ref().unwrap().as_str(), "cpe-7", "kept");
        assert!(m.tagged && m.protect, "kept");
        assert_eq!(m.allowed_vlans.len(), 1, "kept");
        assert_eq!(
            m.outer_vlan, None,
            "not owned unless the mapping names the field"
        );
        assert_eq!(
            merge(Some(&old), &mapped, true).outer_vlan.unwrap().get(),
            120
        );
        assert_eq!(
            differences(&old, &m),
            [
                "status active -> suspended",
                "plan 100M -> 500M",
                "port 7 -> 8",
                "vlan 207 -> 208",
                "mac 00:0e:d8:00:00:07 -> 00:0e:d8:00:00:08",
                "name Unit 7 -> Unit 7B"
            ]
        );
        assert_eq!(merge(None, &mapped, false), mapped);
    }
}
