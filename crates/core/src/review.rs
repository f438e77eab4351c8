//! Reviewing a change: what moving the inventory from one revision to another does to the
//! fleet, read from git alone. It is what a CI runner with no route to the GAMs can always post
//! on a pull request (`gamops diff`), and what the reviewer reads before any plan exists.
//!
//! Both sides are read (`inventory`) and validated in full; an invalid side gets its report,
//! every problem with file:line:column, and no diff. Two valid sides are compared by
//! `plan::revisions`, which plans the head against the base with `plan`'s own diff, classifier
//! and safety limits. Nothing here reads a device or the store.

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use crate::inventory::report::Report;
use crate::inventory::{Inventory, LoadError, Origin, ParseCache};
use crate::plan::render::Colour;
use crate::plan::revisions::render::{self as diff_render, Labels};
use crate::plan::revisions::{self, RevisionDiff};

/// Bumped only when a field changes meaning or disappears; new fields may be added.
pub const FORMAT_VERSION: u32 = 1;

/// The newer side of a review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Head {
    /// The inventory folder as it is on disk, uncommitted edits included (as `plan` and
    /// `validate` read it without `--rev`).
    WorkTree,
    /// A git revision (a branch, a tag, a commit id, `HEAD`).
    Rev(String),
}

/// The outcome of a review: both sides, and the diff when both are valid.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Review {
    pub format_version: u32,
    /// The inventory folder as given.
    pub inventory: String,
    pub base: Side,
    pub head: Side,
    /// True when both sides validate; only then is there a diff.
    pub valid: bool,
    /// What the head does to the fleet, against the base.
    pub diff: Option<RevisionDiff>,
}

/// One side of the review.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Side {
    /// The revision as given; absent for the work tree.
    pub rev: Option<String>,
    /// The commit it resolved to; for the work tree, the commit checked out, if any (the work
    /// tree may hold edits on top of it).
    pub commit: Option<String>,
    /// True when the side has no validation error (warnings allowed).
    pub valid: bool,
    /// The validation report (every problem, with file, line and column), when not valid.
    pub report: Option<Report>,
}

impl Side {
    fn of(inv: &Inventory, dir: &Path) -> Side {
        let diagnostics = inv.validate();
        let valid = !diagnostics.iter().any(|d| d.is_error());
        let (rev, commit) = match &inv.origin {
            Origin::Rev { rev, commit } => (Some(rev.clone()), Some(commit.clone())),
            Origin::Dir => (None, crate::git::head_commit(dir)),
        };
        Side {
            rev,
            commit,
            valid,
            report: (!valid).then(|| Report::new(inv, &diagnostics)),
        }
    }

    /// How people name this side: `main (1a2b3c4d)`, `the work tree on 1a2b3c4d`.
    pub fn label(&self) -> String {
        let short = |c: &String| c.chars().take(8).collect::<String>();
        match (&self.rev, &self.commit) {
            (Some(rev), Some(c)) if rev.eq_ignore_ascii_case(c) => short(c),
            (Some(rev), Some(c)) => format!("{rev} ({})", short(c)),
            (Some(rev), None) => rev.clone(),
            (None, Some(c)) => format!("the work tree on {}", short(c)),
            (None, None) => "the work tree".to_string(),
        }
    }
}

/// Reads the inventory in `dir` at `base` and as `head`, validates both, and compares them.
///
/// An error is a side that could not be read at all (no such revision, no repository, no
/// folder); a side that reads but does not validate is a [`Review`] with `valid: false`.
pub fn review(dir: &Path, base: &str, head: &Head) -> Result<Review, LoadError> {
    // The head reads and parses only what differs from the base. A revision asks git which
    // files differ between the two trees and patches the base with them (unchanged blobs are
    // not even read); the work tree is read in full, and its files whose bytes the base had
    // come parsed from the cache.
    let (base_inv, head_inv) = match head {
        Head::Rev(rev) => {
            let base_inv = Inventory::load_rev(dir, base)?;
            let head_inv = base_inv.load_rev_from(rev)?;
            (base_inv, head_inv)
        }
        Head::WorkTree => {
            let mut cache = ParseCache::default();
            let base_inv = Inventory::load_rev_cached(dir, base, &mut cache)?;
            let head_inv = Inventory::load_dir_cached(dir, &mut cache)?;
            (base_inv, head_inv)
        }
    };
    let (base_side, head_side) =
        rayon::join(|| Side::of(&base_inv, dir), || Side::of(&head_inv, dir));
    let valid = base_side.valid && head_side.valid;
    let diff = valid.then(|| revisions::compare(&base_inv.desired, &head_inv.desired));
    Ok(Review {
        format_version: FORMAT_VERSION,
        inventory: dir.to_string_lossy().into_owned(),
        base: base_side,
        head: head_side,
        valid,
        diff,
    })
}

impl Review {
    fn labels(&self) -> Labels {
        Labels {
            base: self.base.label(),
            head: self.head.label(),
        }
    }

    /// The sides that do not validate, named.
    fn invalid(&self) -> Vec<(&'static str, &Side, &Report)> {
        [("base", &self.base), ("head", &self.head)]
            .into_iter()
            .filter_map(|(name, s)| s.report.as_ref().map(|r| (name, s, r)))
            .collect()
    }

    /// The summary line: what the change does, or which side does not validate.
    pub fn summary_line(&self) -> String {
        match &self.diff {
            Some(d) => diff_render::summary_line(&d.summary, !d.fleet_settings_changed.is_empty()),
            None => {
                let sides: Vec<String> = self
                    .invalid()
                    .iter()
                    .map(|(name, s, r)| {
                        format!(
                            "the {name} ({}) has {} error(s)",
                            s.label(),
                            r.summary.errors
                        )
                    })
                    .collect();
                format!("not valid: {}; nothing compared", sides.join(" and "))
            }
        }
    }

    /// Whether the head changes anything (the `--detailed-exitcode` question).
    pub fn has_changes(&self) -> bool {
        self.diff.as_ref().is_some_and(RevisionDiff::has_changes)
    }

    /// Devices past a safety limit, or that cannot be planned.
    pub fn blocked_devices(&self) -> usize {
        self.diff
            .as_ref()
            .map_or(0, |d| d.summary.devices_blocked + d.summary.devices_error)
    }

    /// For people, the summary line first.
    pub fn to_text(&self, colour: Colour) -> String {
        if let Some(d) = &self.diff {
            return diff_render::text(d, &self.labels(), colour);
        }
        let mut out = format!("Diff: {}\n", self.summary_line());
        for (name, side, report) in self.invalid() {
            out.push_str(&format!("\n{name} {}:\n", side.label()));
            out.push_str(&report.to_text(colour == Colour::Always));
        }
        out
    }

    /// For a pull-request comment, the summary line as its title.
    pub fn to_markdown(&self) -> String {
        if let Some(d) = &self.diff {
            return diff_render::markdown(d, &self.labels());
        }
        let mut out = format!("### gamops diff: {}\n\n", self.summary_line());
        for (name, side, report) in self.invalid() {
            out.push_str(&format!(
                "**The {name} ({}) does not validate:**\n\n",
                diff_render::inline(&side.label())
            ));
            out.push_str(&diff_render::fenced("", &report.to_text(false)));
            out.push('\n');
        }
        out
    }

    /// For programs (`schemas/diff.schema.json`).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}
