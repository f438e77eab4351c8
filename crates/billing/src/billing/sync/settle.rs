//! Validating what a sync proposes: the inventory with the proposal applied must validate;
//! the subscribers whose files make it invalid are dropped (and listed as skipped) until it
//! does. Errors in files the sync does not write are refused.

use std::collections::{BTreeMap, HashMap};

use super::propose::{Edit, Proposal};
use super::{SkippedCustomer, SyncError};
use crate::inventory::report::Report;
use crate::inventory::{FileEdit, Inventory};
use crate::model::{Diagnostic, SourceId};

/// Validates the inventory with the proposal applied, and drops the subscribers whose files
/// make it invalid until it validates. Errors in files the sync does not write are refused.
/// Returns the inventory that results, which validates.
pub(super) fn settle(inv: &Inventory, p: &mut Proposal) -> Result<Inventory, SyncError> {
    loop {
        let (candidate, by_source) = apply(inv, &p.edits);
        let errors: Vec<Diagnostic> = candidate
            .validate()
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect();
        if errors.is_empty() {
            return Ok(candidate);
        }
        // Blame the edits each error involves; an error involving none is not the sync's.
        let mut blamed: BTreeMap<Option<String>, String> = BTreeMap::new();
        let mut foreign = Vec::new();
        for d in &errors {
            let sources = d
                .source
                .into_iter()
                .chain(d.related.as_ref().map(|r| r.source));
            let owners: Vec<&Option<String>> = sources.filter_map(|s| by_source.get(&s)).collect();
            if owners.is_empty() {
                foreign.push(d.clone());
            }
            for o in owners {
                blamed.entry(o.clone()).or_insert_with(|| d.message.clone());
            }
        }
        if blamed.is_empty() {
            return Err(SyncError::Invalid {
                report: Report::new(&candidate, &foreign).to_text(false),
            });
        }
        p.edits.retain(|e| !blamed.contains_key(&e.owner));
        p.changes
            .retain(|c| !blamed.contains_key(&Some(c.subscriber.clone())));
        for (owner, message) in blamed {
            match owner {
                Some(id) => {
                    p.skipped.push(SkippedCustomer {
                        customer: p.keys.get(&id).cloned().unwrap_or_else(|| id.clone()),
                        subscriber: Some(id),
                        reason: format!("the result would not validate: {message}"),
                    });
                }
                None => {
                    // plans.yaml: its new plans go, and the subscribers on them fail next round.
                    p.new_plans.clear();
                }
            }
        }
    }
}

/// The inventory with `edits` applied (in memory), and which edit owns each changed source.
pub(super) fn apply(
    inv: &Inventory,
    edits: &[Edit],
) -> (Inventory, HashMap<SourceId, Option<String>>) {
    let files: Vec<FileEdit> = edits
        .iter()
        .map(|e| FileEdit {
            rel: e.rel.clone(),
            content: e.new.as_ref().map(|t| t.as_bytes().to_vec()),
        })
        .collect();
    let (candidate, sources) = inv.patched(&files);
    let owners = sources
        .into_iter()
        .zip(edits)
        .map(|(source, e)| (source, e.owner.clone()))
        .collect();
    (candidate, owners)
}
