//! What a sync did: the report every caller prints or serialises, and the commit message made
//! from it.

use serde::Serialize;

use super::{EventRef, Source};

/// What happened to one subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Suspended,
    Deleted,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Suspended => "suspended",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// One subscriber's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub subscriber: String,
    pub kind: ChangeKind,
    pub device: String,
    /// What changed, or why: `plan 100M -> 500M`, `customer gone from billing`.
    pub details: Vec<String>,
}

/// A customer left as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedCustomer {
    pub customer: String,
    /// Its subscriber, when it has (or would have) one.
    pub subscriber: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for SkippedCustomer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "customer {}: {}", self.customer, self.reason)
    }
}

/// A plan added to plans.yaml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddedPlan {
    pub name: String,
    pub down_mbps: u32,
    pub up_mbps: u32,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub remote: String,
    pub branch: String,
    /// `pushed` or `up-to-date`.
    pub outcome: String,
    /// Pushes tried.
    pub attempts: u32,
    /// How many times the local commits were replayed onto a remote that had moved.
    pub rebases: u32,
}

/// How long each step took, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    pub load_ms: f64,
    pub fetch_ms: f64,
    pub map_ms: f64,
    pub validate_ms: f64,
    pub write_ms: f64,
    pub commit_ms: f64,
    pub push_ms: f64,
}

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncReport {
    pub source: Source,
    /// The customers looked at: `None` for all of them.
    pub customers: Option<Vec<String>>,
    /// Customers read from billing.
    pub read: usize,
    pub changes: Vec<Change>,
    /// Customers whose subscriber is already as billing says.
    pub unchanged: usize,
    /// Customers that are no GAM subscriber (off in billing, or no running service wired to a
    /// GAM) and have none in the inventory. With `changes`, `unchanged` and `skipped`, every
    /// customer read is accounted for.
    pub not_subscribers: usize,
    pub skipped: Vec<SkippedCustomer>,
    pub new_plans: Vec<AddedPlan>,
    /// Files written or deleted, relative to the inventory folder.
    pub files: Vec<String>,
    pub dry_run: bool,
    /// The files were written to the work tree.
    pub written: bool,
    pub branch: Option<String>,
    /// The commit made, if any.
    pub commit: Option<String>,
    pub push: Option<PushReport>,
    /// With `dry_run`: the unified diff of every file.
    pub diff: Option<String>,
    pub events: Vec<EventRef>,
    pub timings: Timings,
}

impl SyncReport {
    /// Changes of one kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }
}

/// The commit message: a summary line, each change, the skipped customers, and the trailers.
pub fn commit_message(r: &SyncReport) -> String {
    let mut counts = Vec::new();
    for kind in [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Suspended,
        ChangeKind::Deleted,
    ] {
        let n = r.count(kind);
        if n > 0 {
            counts.push(format!("{n} {}", kind.as_str()));
        }
    }
    if !r.new_plans.is_empty() {
        counts.push(format!("{} plans added", r.new_plans.len()));
    }
    if counts.is_empty() {
        counts.push("no subscriber changes".into());
    }
    let scope = match &r.customers {
        None => String::new(),
        Some(k) => format!(" (customers {})", k.join(", ")),
    };
    let mut m = format!(
        "billing sync from {}{scope}: {}\n",
        r.source,
        counts.join(", ")
    );
    for kind in [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Suspended,
        ChangeKind::Deleted,
    ] {
        let of_kind: Vec<&Change> = r.changes.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        m.push_str(&format!("\n{}:\n", capitalise(kind.as_str())));
        for c in of_kind {
            m.push_str(&format!("  {}: {}\n", c.subscriber, c.details.join(", ")));
        }
    }
    if !r.new_plans.is_empty() {
        m.push_str("\nPlans added to plans.yaml:\n");
        for p in &r.new_plans {
            m.push_str(&format!(
                "  {}: {}/{} Mbps\n",
                p.name, p.down_mbps, p.up_mbps
            ));
        }
    }
    if !r.skipped.is_empty() {
        m.push_str("\nSkipped (left as they are):\n");
        for s in &r.skipped {
            m.push_str(&format!("  {}\n", one_line(&s.to_string())));
        }
    }
    m.push_str(&format!("\nBilling-Source: {}\n", r.source));
    for e in &r.events {
        m.push_str(&format!("Billing-Event-Id: {}\n", one_line(&e.id)));
    }
    m
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::sync::{EventRef, Source};

    #[test]
    fn the_commit_message_lists_changes_skips_and_trailers() {
        let r = SyncReport {
            source: Source::Splynx,
            customers: Some(vec!["7".into()]),
            read: 1,
            changes: vec![
                Change {
                    subscriber: "splynx-7".into(),
                    kind: ChangeKind::Updated,
                    device: "gam-a".into(),
                    details: vec!["plan 100M -> 500M".into()],
                },
                Change {
                    subscriber: "splynx-8".into(),
                    kind: ChangeKind::Deleted,
                    device: "gam-a".into(),
                    details: vec!["customer gone from billing".into()],
                },
            ],
            unchanged: 0,
            not_subscribers: 0,
            skipped: vec![SkippedCustomer {
                customer: "9".into(),
                subscriber: None,
                reason: "field `vlan` is missing".into(),
            }],
            new_plans: vec![],
            files: vec![],
            dry_run: false,
            written: false,
            branch: None,
            commit: None,
            push: None,
            diff: None,
            events: vec![
                EventRef {
                    id: "ev-1\nX".into(),
                },
                EventRef { id: "ev-2".into() },
            ],
            timings: Timings::default(),
        };
        assert_eq!(
            commit_message(&r),
            "billing sync from splynx (customers 7): 1 updated, 1 deleted\n\
             \n\
             Updated:\n  splynx-7: plan 100M -> 500M\n\
             \n\
             Deleted:\n  splynx-8: customer gone from billing\n\
             \n\
             Skipped (left as they are):\n  customer 9: field `vlan` is missing\n\
             \n\
             Billing-Source: splynx\n\
             Billing-Event-Id: ev-1 X\n\
             Billing-Event-Id: ev-2\n"
        );
    }
}
