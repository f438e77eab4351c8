//! Desired state for the controller: the newest commit that validates, of a local checkout's
//! `HEAD` or of a remote branch fetched into a clone of the controller's own.
//!
//! Only commits are read (through git2, never the work tree), so an uncommitted edit is never
//! applied. A remote is fetched with the git CLI on every drift scan and on a push webhook; a
//! fetch that fails keeps the target and is reported. A commit that does not validate leaves the previous valid one as the target
//! and is reported; so is a commit that does not descend from the last one applied (a history
//! rewrite), unless rewrites are allowed. The `.git` folder is watched (debounced) and every
//! change to it asks the loop to look again; the drift scan reads `HEAD` too, so a missed
//! event only delays a commit until the next scan.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::inventory::Inventory;

/// A commit that validates, loaded.
#[derive(Clone)]
pub struct Target {
    pub commit: String,
    pub inventory: Arc<Inventory>,
}

/// A commit that was not taken as the target, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refused {
    pub commit: String,
    pub reason: String,
}

/// Which commit is the newest.
#[derive(Clone, Debug)]
pub enum Origin {
    /// The checkout's `HEAD`.
    Head,
    /// `branch` of the clone's `origin`, fetched on every refresh.
    Remote { clone: PathBuf, branch: String },
}

/// Where desired state comes from.
pub struct Checkout {
    /// The inventory folder (in the checkout, or in the clone).
    dir: PathBuf,
    origin: Origin,
    allow_rewrites: bool,
    /// The newest valid commit, the target.
    target: Option<Target>,
    /// The newest commit seen, valid or not, so each is loaded once.
    seen: Option<String>,
    /// Why the newest commit seen is not the target, when it is not.
    refused: Option<Refused>,
}

impl Checkout {
    pub fn new(dir: &Path, origin: Origin) -> Checkout {
        Checkout {
            dir: dir.to_path_buf(),
            origin,
            allow_rewrites: false,
            target: None,
            seen: None,
            refused: None,
        }
    }

    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    pub fn refused(&self) -> Option<&Refused> {
        self.refused.as_ref()
    }

    /// Reads the newest commit (fetching a remote first); when it moved, loads and validates
    /// it. Returns the new target when it changed. `applied` is the last commit applied, for
    /// the rewrite check.
    pub async fn refresh(&mut self, applied: Option<&str>) -> Option<Target> {
        let head = match &self.origin {
            Origin::Head => crate::git::head_commit(&self.dir).ok_or_else(|| {
                format!(
                    "{} is not in a git repository with a commit; the controller applies commits only",
                    self.dir.display()
                )
            }),
            Origin::Remote { clone, branch } => {
                match crate::git::remote::fetch(clone, "origin", branch).await {
                    Ok(Some(oid)) => Ok(oid.to_string()),
                    Ok(None) => Err(format!("the remote has no branch {branch}")),
                    Err(e) => Err(format!("cannot fetch {branch}: {e}; the target stays")),
                }
            }
        };
        let head = match head {
            Ok(head) => head,
            Err(reason) => {
                tracing::warn!("{reason}");
                self.refused = Some(Refused {
                    commit: String::new(),
                    reason,
                });
                return None;
            }
        };
        if self.seen.as_deref() == Some(head.as_str()) {
            // The same commit again: a fetch error reported meanwhile is over.
            if self.refused.as_ref().is_some_and(|r| r.commit.is_empty()) {
                self.refused = None;
            }
            return None;
        }
        self.seen = Some(head.clone());
        if let Some(applied) = applied
            && !self.allow_rewrites
            && crate::git::descends_from(&self.dir, &head, applied) == Some(false)
        {
            self.refused = Some(Refused {
                commit: head.clone(),
                reason: format!(
                    "commit {} does not descend from {}, the last one applied (a rewritten history); not applied unless controller.allow_rewrites is true",
                    short(&head),
                    short(applied)
                ),
            });
            tracing::warn!(commit = %short(&head), "history rewritten; keeping the previous target");
            return None;
        }
        let previous = self.target.as_ref().map(|t| t.inventory.clone());
        let loaded = super::off_the_workers(|| load_valid(&self.dir, &head, previous.as_deref()));
        match loaded {
            Ok(inventory) => {
                self.allow_rewrites = inventory
                    .desired
                    .fleet()
                    .controller
                    .is_some_and(|c| c.allow_rewrites);
                self.refused = None;
                let target = Target {
                    commit: head,
                    inventory: Arc::new(inventory),
                };
                self.target = Some(target.clone());
                Some(target)
            }
            Err(reason) => {
                tracing::warn!(commit = %short(&head), "{reason}");
                self.refused = Some(Refused {
                    commit: head,
                    reason,
                });
                None
            }
        }
    }
}

/// The inventory at `commit`, or why it is not valid (the first problems, as validate shows
/// them).
/// The inventory of `commit` when it validates. With the previous target's inventory only the
/// files that differ are read (a commit touches a few files of thousands).
fn load_valid(dir: &Path, commit: &str, previous: Option<&Inventory>) -> Result<Inventory, String> {
    let inv = match previous {
        Some(previous) => previous.load_rev_from(commit),
        None => Inventory::load_rev(dir, commit),
    }
    .map_err(|e| format!("commit {} cannot be read: {e}", short(commit)))?;
    let diagnostics = inv.validate();
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors == 0 {
        return Ok(inv);
    }
    let report = crate::inventory::report::Report::new(&inv, &diagnostics).to_text(false);
    let first: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(": error"))
        .take(5)
        .collect();
    Err(format!(
        "commit {} is not valid ({errors} error(s)); the previous valid commit stays the target: {}",
        short(commit),
        first.join("; ")
    ))
}

/// The first 12 characters of a commit id.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// Watches the repository's `.git` folder (`HEAD`, refs, packed refs) and calls `changed`
/// after each burst of changes. Dropping the returned watcher stops it.
pub fn watch(
    dir: &Path,
    changed: impl Fn() + Send + 'static,
) -> Result<Debouncer<notify::RecommendedWatcher, RecommendedCache>, String> {
    let git = crate::git::git_dir(dir)
        .ok_or_else(|| format!("{} is not in a git repository", dir.display()))?;
    let mut debouncer = new_debouncer(
        Duration::from_millis(200),
        None,
        move |result: DebounceEventResult| {
            if result.is_ok_and(|events| !events.is_empty()) {
                changed();
            }
        },
    )
    .map_err(|e| format!("cannot watch {}: {e}", git.display()))?;
    debouncer
        .watch(&git, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", git.display()))?;
    let refs = git.join("refs");
    if refs.is_dir() {
        debouncer
            .watch(&refs, RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch {}: {e}", refs.display()))?;
    }
    Ok(debouncer)
}
