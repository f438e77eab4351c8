//! Where a sync's files go: a unified diff (dry run), the folder, or a commit as the bot on the
//! branch, pushed fast-forward only (replayed onto a remote that moved, and validated again).

use super::propose::Edit;
use super::{PushReport, SyncError};
use crate::git::commit::{CommitError, FileChange, Identity, Repo};
use crate::git::remote::{self, Pushed};
use crate::inventory::Inventory;
use crate::inventory::report::Report;
use crate::model::Diagnostic;
use crate::model::billing::BotIdentity;

pub(super) fn identity(b: &BotIdentity) -> Identity {
    Identity {
        name: b.name.clone(),
        email: b.email.clone(),
    }
}

/// Commits `edits` as the bot on `branch` (of the repository's inventory folder) with
/// `message`. Returns the commit made, or `None` when nothing changed.
pub(super) fn commit(
    repo: &Repo,
    branch: &str,
    edits: &[Edit],
    message: &str,
    bot: &BotIdentity,
) -> Result<Option<git2::Oid>, SyncError> {
    if edits.is_empty() {
        return Ok(None);
    }
    let changes: Vec<FileChange> = edits
        .iter()
        .map(|e| FileChange {
            path: format!("{}{}", repo.prefix(), e.rel),
            content: e.new.as_ref().map(|s| s.as_bytes().to_vec()),
        })
        .collect();
    Ok(repo.commit(branch, &changes, message, &identity(bot))?)
}

pub(super) fn unified_diff(edits: &[Edit]) -> String {
    let mut out = String::new();
    for e in edits {
        let old = e.old.as_deref().unwrap_or("");
        let new = e.new.as_deref().unwrap_or("");
        let a = if e.old.is_some() {
            format!("a/{}", e.rel)
        } else {
            "/dev/null".into()
        };
        let b = if e.new.is_some() {
            format!("b/{}", e.rel)
        } else {
            "/dev/null".into()
        };
        let diff = similar::TextDiff::from_lines(old, new);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string(),
        );
    }
    out
}

pub(super) fn write_files(root: &std::path::Path, edits: &[Edit]) -> Result<(), SyncError> {
    for e in edits {
        let path = root.join(&e.rel);
        let err = |source| SyncError::Write {
            path: path.display().to_string(),
            source,
        };
        match &e.new {
            Some(text) => crate::inventory::write_file(&path, text).map_err(err)?,
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(err(e)),
            },
        }
    }
    Ok(())
}

/// Pushes `branch`, fast-forward only; when the remote moved, fetches it, replays the local
/// commits onto it, re-validates the inventory there, and tries again. Returns the report and
/// the new local tip when the commits were replayed.
pub(super) async fn push(
    repo: Repo,
    inventory: &std::path::Path,
    remote_name: &str,
    branch: &str,
    attempts: u32,
) -> Result<(PushReport, Option<String>), SyncError> {
    let attempts = attempts.max(1);
    let mut rebases = 0;
    let mut new_tip = None;
    for attempt in 1..=attempts {
        let rejected = match remote::push(repo.workdir(), remote_name, branch).await? {
            Pushed::Updated => None,
            Pushed::UpToDate => {
                return Ok((
                    PushReport {
                        remote: remote_name.to_string(),
                        branch: branch.to_string(),
                        outcome: "up-to-date".into(),
                        attempts: attempt,
                        rebases,
                    },
                    new_tip,
                ));
            }
            Pushed::Rejected(why) => Some(why),
        };
        let Some(why) = rejected else {
            return Ok((
                PushReport {
                    remote: remote_name.to_string(),
                    branch: branch.to_string(),
                    outcome: "pushed".into(),
                    attempts: attempt,
                    rebases,
                },
                new_tip,
            ));
        };
        tracing::info!(attempt, %why, "push rejected; replaying onto the remote");
        if attempt == attempts {
            break;
        }
        let Some(onto) = remote::fetch(repo.workdir(), remote_name, branch).await? else {
            // Rejected, yet the remote has no such branch: it was deleted meanwhile; retry.
            continue;
        };
        let old = repo.branch_tip(branch).ok_or_else(|| CommitError::Moved {
            branch: branch.to_string(),
        })?;
        let replayed = repo.replay_onto(branch, onto)?;
        let inv = Inventory::load_rev(inventory, &replayed.to_string())?;
        let errors: Vec<Diagnostic> = inv
            .validate()
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect();
        if !errors.is_empty() {
            return Err(SyncError::InvalidAfterRebase {
                branch: branch.to_string(),
                report: Report::new(&inv, &errors).to_text(false),
            });
        }
        repo.move_branch(branch, old, replayed)?;
        rebases += 1;
        new_tip = Some(replayed.to_string());
    }
    Err(SyncError::PushGaveUp {
        branch: branch.to_string(),
        attempts,
    })
}
