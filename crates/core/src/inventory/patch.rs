//! An inventory changed in memory, file by file: what a long-running process (the controller,
//! the billing receivers) uses instead of reading every file again for each commit.
//!
//! With 20,000 subscribers a full read from git is most of the time between a commit and its
//! plan; a commit usually changes a handful of files. [`Inventory::patched`] parses only the
//! files it is given and keeps every other document as it was; [`Inventory::load_rev_from`]
//! asks git which files differ between the inventory's commit and a new one and patches those.
//! The result validates like a fresh read: each file is parsed by the same code, with the same
//! name checks. Two things differ, neither seen by validation or planning: a file added later
//! gets a later source id than a fresh read would give it, and a deleted file keeps its entry
//! in [`Inventory::files`] with no document.

use std::collections::{HashMap, HashSet};

use crate::model::{Diagnostic, SourceId};

use super::layout::place;
use super::{Content, Inventory, LoadError, MAX_FILE_BYTES, Origin, SourceFile};
use super::{blob_content, display_path, load_one, take};

/// A file to patch in: its relative path and its contents, `None` when it is removed.
type Patch = (String, Option<Content>);

/// One file's new contents, or its removal.
#[derive(Clone, Debug)]
pub struct FileEdit {
    /// `/`-separated, relative to the inventory folder.
    pub rel: String,
    /// `None`: the file is removed.
    pub content: Option<Vec<u8>>,
}

impl Inventory {
    /// This inventory with `edits` applied in memory, and the source id each edit's file has
    /// in it (a new file gets the next free one). Every edited file is parsed anew; nothing else
    /// is read. Removing `gamops.yaml` or `plans.yaml` is not a patch: [`Inventory::load_rev`]
    /// reports it (see [`Inventory::load_rev_from`]).
    pub fn patched(&self, edits: &[FileEdit]) -> (Inventory, Vec<SourceId>) {
        let patches = edits
            .iter()
            .map(|e| (e.rel.clone(), e.content.clone().map(Content::Bytes)))
            .collect();
        self.patch(patches)
    }

    /// The inventory at `rev`, made from `self` (an inventory of the same folder read at an
    /// earlier commit) by reading and parsing only the files that differ. Falls back to a full
    /// read when `self` was not read from a commit, or `gamops.yaml` or `plans.yaml` was removed.
    pub fn load_rev_from(&self, rev: &str) -> Result<Inventory, LoadError> {
        let Origin::Rev { commit: from, .. } = &self.origin else {
            return Inventory::load_rev(&self.root, rev);
        };
        let read = crate::git::read_changes(&self.root, from, rev, MAX_FILE_BYTES)?;
        let removes_a_root_file = read
            .deleted
            .iter()
            .any(|rel| rel == "gamops.yaml" || rel == "plans.yaml");
        if removes_a_root_file {
            return Inventory::load_rev(&self.root, rev);
        }
        let patches = read
            .changed
            .into_iter()
            .map(|b| (b.path, Some(blob_content(b.content))))
            .chain(read.deleted.into_iter().map(|rel| (rel, None)))
            .collect();
        let (mut inv, _) = self.patch(patches);
        inv.origin = Origin::Rev {
            rev: rev.to_string(),
            commit: read.commit,
        };
        Ok(inv)
    }

    fn patch(&self, patches: Vec<Patch>) -> (Inventory, Vec<SourceId>) {
        let mut files: Vec<SourceFile> = self.files.clone();
        let mut index: HashMap<String, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.rel.clone(), i))
            .collect();
        let root = self
            .root
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let mut sources = Vec::with_capacity(patches.len());
        let mut parsed = Vec::with_capacity(patches.len());
        for (rel, content) in patches {
            let i = *index.entry(rel.clone()).or_insert_with(|| {
                files.push(SourceFile {
                    path: display_path(&root, &rel),
                    rel: rel.clone(),
                    kind: place(&rel).kind(),
                });
                files.len() - 1
            });
            let source = SourceId(u32::try_from(i).unwrap_or(u32::MAX));
            sources.push(source);
            if let Some(content) = content {
                let result = load_one(source, &place(&rel), content, None).result;
                parsed.push((source, rel, result));
            }
        }

        let edited: HashSet<SourceId> = sources.iter().copied().collect();
        let mut desired = self.desired.clone();
        desired.devices.retain(|d| !edited.contains(&d.source));
        desired.subscribers.retain(|d| !edited.contains(&d.source));
        if desired
            .fleet
            .as_ref()
            .is_some_and(|d| edited.contains(&d.source))
        {
            desired.fleet = None;
        }
        if desired
            .plans
            .as_ref()
            .is_some_and(|d| edited.contains(&d.source))
        {
            desired.plans = None;
        }
        let mut diagnostics: Vec<Diagnostic> = self
            .load_diagnostics
            .iter()
            .filter(|d| d.source.is_none_or(|s| !edited.contains(&s)))
            .cloned()
            .collect();
        for (source, rel, result) in parsed {
            take(source, &rel, result, &mut desired, &mut diagnostics);
        }
        let inv = Inventory {
            root: self.root.clone(),
            origin: self.origin.clone(),
            files,
            desired,
            load_diagnostics: diagnostics,
        };
        (inv, sources)
    }
}
