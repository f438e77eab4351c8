//! Writing to git with git2: commit a set of file changes on a branch as a bot, and replay a
//! branch's own commits onto another commit (an in-memory rebase that never touches the work
//! tree until it has fully succeeded).
//!
//! The work tree is touched only when the branch written is the one checked out, and then only
//! the files the commit changes (and only when they had no uncommitted changes of their own).

use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

/// One file to write or delete, by its `/`-separated path relative to the repository's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    /// The new contents, or `None` to delete the file.
    pub content: Option<Vec<u8>>,
}

/// Who commits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("{0} is not inside a git repository with a work tree")]
    NoRepository(PathBuf),
    #[error("HEAD is detached and no branch was named")]
    Detached,
    #[error("the repository has no commit yet")]
    Unborn,
    #[error("{} ha{} uncommitted changes", paths.join(", "), if paths.len() == 1 { "s" } else { "ve" })]
    Dirty { paths: Vec<String> },
    #[error("commit {commit} ({summary}) conflicts with the remote's changes in {}", paths.join(", "))]
    Conflict {
        commit: String,
        summary: String,
        paths: Vec<String>,
    },
    #[error("commit {0} is a merge; gamops replays only plain commits")]
    Merge(String),
    #[error("branch {branch} moved while gamops was writing it")]
    Moved { branch: String },
    #[error("the checked-out files could not be updated: {0}")]
    Checkout(String),
    #[error("{0:?} is not a valid git identity (name and e-mail, without < or >)")]
    BadIdentity(String),
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// A repository opened for writing, and where the folder it was opened from sits in it.
pub struct Repo {
    repo: Repository,
    workdir: PathBuf,
    /// The opened folder relative to the work tree: `""` or `"inventory/"`.
    prefix: String,
}

impl Repo {
    /// Opens the repository holding `dir` (a folder inside its work tree).
    pub fn open(dir: &Path) -> Result<Repo, CommitError> {
        let repo =
            Repository::discover(dir).map_err(|_| CommitError::NoRepository(dir.to_path_buf()))?;
        let workdir = repo
            .workdir()
            .map(Path::to_path_buf)
            .ok_or_else(|| CommitError::NoRepository(dir.to_path_buf()))?;
        let rel = super::relative_to(&workdir, dir);
        let prefix = if rel.is_empty() {
            rel
        } else {
            format!("{rel}/")
        };
        Ok(Repo {
            repo,
            workdir,
            prefix,
        })
    }

    /// The work tree's root.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The opened folder relative to the work tree, ending in `/` unless it is the root.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The branch HEAD points at (also when it has no commit yet), if HEAD is not detached.
    pub fn current_branch(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        head.symbolic_target()
            .ok()??
            .strip_prefix("refs/heads/")
            .map(str::to_string)
    }

    /// The commit a branch points at.
    pub fn branch_tip(&self, branch: &str) -> Option<Oid> {
        self.repo
            .find_reference(&format!("refs/heads/{branch}"))
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id())
    }

    /// The commit HEAD points at.
    pub fn head_commit(&self) -> Result<Oid, CommitError> {
        let head = self.repo.head().map_err(|_| CommitError::Unborn)?;
        Ok(head.peel_to_commit().map_err(|_| CommitError::Unborn)?.id())
    }

    /// Where the sync starts from on `branch`: its tip, or HEAD when the branch does not exist
    /// yet (it is created from HEAD).
    pub fn base_of(&self, branch: &str) -> Result<Oid, CommitError> {
        match self.branch_tip(branch) {
            Some(tip) => Ok(tip),
            None => self.head_commit(),
        }
    }

    /// Every file of `commit` under the opened folder: its path relative to that folder, and
    /// its blob. One walk of the tree; read the blobs with [`Repo::read_blob`].
    pub fn files_at(&self, commit: Oid) -> std::collections::HashMap<String, Oid> {
        let mut out = std::collections::HashMap::new();
        let Ok(root) = self.repo.find_commit(commit).and_then(|c| c.tree()) else {
            return out;
        };
        let tree = if self.prefix.is_empty() {
            root
        } else {
            match root
                .get_path(Path::new(self.prefix.trim_end_matches('/')))
                .and_then(|e| e.to_object(&self.repo))
                .map(|o| o.into_tree())
            {
                Ok(Ok(t)) => t,
                _ => return out,
            }
        };
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                out.insert(format!("{parent}{name}"), entry.id());
            }
            git2::TreeWalkResult::Ok
        });
        out
    }

    /// A blob's contents.
    pub fn read_blob(&self, id: Oid) -> Option<Vec<u8>> {
        self.repo.find_blob(id).ok().map(|b| b.content().to_vec())
    }

    fn checked_out(&self, branch: &str) -> bool {
        !self.repo.is_bare() && self.current_branch().as_deref() == Some(branch)
    }

    /// The files among `changes` whose work-tree or index state differs from HEAD, unless the
    /// work tree already holds exactly what would be written. Writing them would lose someone's
    /// edit. Only matters for the checked-out branch.
    pub fn dirty(&self, branch: &str, changes: &[FileChange]) -> Vec<String> {
        if changes.is_empty() || !self.checked_out(branch) {
            return Vec::new();
        }
        // One status pass limited to the paths (a status per file would walk the index each
        // time).
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(true)
            .disable_pathspec_match(true)
            .exclude_submodules(true);
        for c in changes {
            opts.pathspec(c.path.as_str());
        }
        let flagged: std::collections::HashSet<String> = match self.repo.statuses(Some(&mut opts)) {
            Ok(list) => list
                .iter()
                .filter(|e| e.status() != git2::Status::CURRENT)
                .filter_map(|e| e.path().ok().map(str::to_string))
                .collect(),
            // Cannot tell: treat every path as edited, so the contents decide.
            Err(_) => changes.iter().map(|c| c.path.clone()).collect(),
        };
        changes
            .iter()
            .filter(|c| flagged.contains(&c.path))
            .filter(|c| std::fs::read(self.workdir.join(&c.path)).ok() != c.content)
            .map(|c| c.path.clone())
            .collect()
    }

    /// Commits `changes` on `branch` (created from HEAD when missing) as `who`, on top of the
    /// branch's tip. Returns the new commit, or `None` when the changes change nothing. When the
    /// branch is the checked-out one, the changed files are written in the work tree and the
    /// index too (refused beforehand by [`Repo::dirty`] when that would lose an edit).
    pub fn commit(
        &self,
        branch: &str,
        changes: &[FileChange],
        message: &str,
        who: &Identity,
    ) -> Result<Option<Oid>, CommitError> {
        let existing = self.branch_tip(branch);
        let parent_id = match existing {
            Some(tip) => tip,
            None => self.head_commit()?,
        };
        let parent = self.repo.find_commit(parent_id)?;
        let base = parent.tree()?;
        let mut builder = git2::build::TreeUpdateBuilder::new();
        let mut touched = 0;
        for c in changes {
            match &c.content {
                Some(bytes) => {
                    let blob = self.repo.blob(bytes)?;
                    builder.upsert(c.path.as_str(), blob, git2::FileMode::Blob);
                    touched += 1;
                }
                None => {
                    if base.get_path(Path::new(&c.path)).is_ok() {
                        builder.remove(c.path.as_str());
                        touched += 1;
                    }
                }
            }
        }
        let tree_id = if touched == 0 {
            base.id()
        } else {
            builder.create_updated(&self.repo, &base)?
        };
        if tree_id == base.id() {
            if existing.is_none() {
                self.set_branch(branch, None, parent_id, "branch: created by gamops sync")?;
            }
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id)?;
        let sig = signature(who)?;
        let id = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &[&parent])?;
        if self.checked_out(branch) {
            let dirty = self.dirty(branch, changes);
            if !dirty.is_empty() {
                return Err(CommitError::Dirty { paths: dirty });
            }
            self.checkout_paths(&tree, changes.iter().map(|c| c.path.as_str()))?;
        }
        let summary = message.lines().next().unwrap_or_default();
        self.set_branch(branch, existing, id, &format!("commit: {summary}"))?;
        Ok(Some(id))
    }

    /// Writes `paths` as they are in `tree` into the work tree and the index.
    fn checkout_paths<'a>(
        &self,
        tree: &git2::Tree<'_>,
        paths: impl Iterator<Item = &'a str>,
    ) -> Result<(), CommitError> {
        let mut co = git2::build::CheckoutBuilder::new();
        co.force().disable_pathspec_match(true).update_index(true);
        for p in paths {
            co.path(p);
        }
        self.repo
            .checkout_tree(tree.as_object(), Some(&mut co))
            .map_err(|e| CommitError::Checkout(e.message().to_string()))
    }

    /// Points `branch` at `to`, if it still points at `from` (`None`: it must not exist).
    fn set_branch(
        &self,
        branch: &str,
        from: Option<Oid>,
        to: Oid,
        log: &str,
    ) -> Result<(), CommitError> {
        let name = format!("refs/heads/{branch}");
        let result = match from {
            Some(old) => self.repo.reference_matching(&name, to, true, old, log),
            None => self.repo.reference(&name, to, false, log),
        };
        result.map(|_| ()).map_err(|e| match e.code() {
            git2::ErrorCode::Modified | git2::ErrorCode::Exists => CommitError::Moved {
                branch: branch.to_string(),
            },
            _ => CommitError::Git(e),
        })
    }

    /// Replays the commits of `branch` that `onto` does not have, in order, on top of `onto`,
    /// without touching the branch, the index or the work tree. Returns the new tip (`onto`
    /// itself when the branch has nothing of its own). A conflict returns an error and leaves
    /// everything as it was.
    pub fn replay_onto(&self, branch: &str, onto: Oid) -> Result<Oid, CommitError> {
        let tip = self
            .branch_tip(branch)
            .ok_or_else(|| CommitError::Git(git2::Error::from_str("the branch is gone")))?;
        let mut walk = self.repo.revwalk()?;
        walk.push(tip)?;
        walk.hide(onto)?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
        let mut current = self.repo.find_commit(onto)?;
        for oid in walk {
            let commit = self.repo.find_commit(oid?)?;
            if commit.parent_count() > 1 {
                return Err(CommitError::Merge(short(commit.id())));
            }
            let mut index = self.repo.cherrypick_commit(&commit, &current, 0, None)?;
            if index.has_conflicts() {
                let mut paths = Vec::new();
                for c in index.conflicts()? {
                    let c = c?;
                    if let Some(e) = c.our.or(c.their).or(c.ancestor) {
                        paths.push(String::from_utf8_lossy(&e.path).into_owned());
                    }
                }
                return Err(CommitError::Conflict {
                    commit: short(commit.id()),
                    summary: String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default())
                        .into_owned(),
                    paths,
                });
            }
            let tree_id = index.write_tree_to(&self.repo)?;
            if tree_id == current.tree_id() {
                // Already there upstream: drop it, as `git rebase` does.
                continue;
            }
            let tree = self.repo.find_tree(tree_id)?;
            let id = self.repo.commit(
                None,
                &commit.author(),
                &commit.committer(),
                &String::from_utf8_lossy(commit.message_raw_bytes()),
                &tree,
                &[&current],
            )?;
            current = self.repo.find_commit(id)?;
        }
        Ok(current.id())
    }

    /// Moves `branch` from `from` to `to` (after a replay). When it is checked out, the work
    /// tree follows safely: files with uncommitted changes are never overwritten, and then
    /// nothing moves.
    pub fn move_branch(&self, branch: &str, from: Oid, to: Oid) -> Result<(), CommitError> {
        if self.checked_out(branch) {
            let tree = self.repo.find_commit(to)?.tree()?;
            let mut co = git2::build::CheckoutBuilder::new();
            co.safe();
            self.repo
                .checkout_tree(tree.as_object(), Some(&mut co))
                .map_err(|e| CommitError::Checkout(e.message().to_string()))?;
        }
        self.set_branch(
            branch,
            Some(from),
            to,
            "rebase: gamops sync onto the remote",
        )
    }
}

fn signature(who: &Identity) -> Result<git2::Signature<'static>, CommitError> {
    let bad = |s: &str| s.trim().is_empty() || s.contains(['<', '>', '\n']);
    if bad(&who.name) || bad(&who.email) {
        return Err(CommitError::BadIdentity(format!(
            "{} <{}>",
            who.name, who.email
        )));
    }
    git2::Signature::now(&who.name, &who.email)
        .map_err(|_| CommitError::BadIdentity(format!("{} <{}>", who.name, who.email)))
}

fn short(id: Oid) -> String {
    let s = id.to_string();
    s.get(..10).unwrap_or(&s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot() -> Identity {
        Identity {
            name: "gamops-sync".into(),
            email: "gamops-sync@localhost".into(),
        }
    }

    fn change(path: &str, text: Option<&str>) -> FileChange {
        FileChange {
            path: path.into(),
            content: text.map(|t| t.as_bytes().to_vec()),
        }
    }

    /// A repository with one commit holding `inv/a.yaml` and `inv/b.yaml`, on branch main.
    fn repo() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        let raw = Repository::init(dir.path()).unwrap();
        raw.set_head("refs/heads/main").unwrap();
        std::fs::create_dir_all(dir.path().join("inv")).unwrap();
        let r = Repo::open(&dir.path().join("inv")).unwrap();
        std::fs::write(dir.path().join("inv/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.path().join("inv/b.yaml"), "b: 1\n").unwrap();
        let mut index = r.repo.index().unwrap();
        index.add_path(Path::new("inv/a.yaml")).unwrap();
        index.add_path(Path::new("inv/b.yaml")).unwrap();
        index.write().unwrap();
        {
            let tree = r.repo.find_tree(index.write_tree().unwrap()).unwrap();
            let sig = signature(&bot()).unwrap();
            r.repo
                .commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
                .unwrap();
        }
        (dir, r)
    }

    fn clean(r: &Repo) -> bool {
        r.repo
            .statuses(None)
            .unwrap()
            .iter()
            .all(|s| s.status() == git2::Status::CURRENT)
    }

    #[test]
    fn commits_changes_and_updates_the_checked_out_files() {
        let (dir, r) = repo();
        assert_eq!(r.prefix(), "inv/");
        let id = r
            .commit(
                "main",
                &[
                    change("inv/a.yaml", Some("a: 2\n")),
                    change("inv/b.yaml", None),
                    change("inv/c.yaml", Some("c: 1\n")),
                ],
                "sync\n\nBilling-Source: splynx\n",
                &bot(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(r.branch_tip("main"), Some(id));
        let c = r.repo.find_commit(id).unwrap();
        assert_eq!(c.author().email().unwrap(), "gamops-sync@localhost");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("inv/a.yaml")).unwrap(),
            "a: 2\n"
        );
        assert!(!dir.path().join("inv/b.yaml").exists());
        assert!(clean(&r), "the work tree and index follow the commit");
        // The same changes again: nothing to commit.
        let again = r
            .commit(
                "main",
                &[
                    change("inv/a.yaml", Some("a: 2\n")),
                    change("inv/b.yaml", None),
                ],
                "sync",
                &bot(),
            )
            .unwrap();
        assert_eq!(again, None);
    }

    #[test]
    fn another_branch_is_created_from_head_and_the_work_tree_is_left_alone() {
        let (dir, r) = repo();
        let head = r.head_commit().unwrap();
        let id = r
            .commit(
                "billing",
                &[change("inv/a.yaml", Some("a: 3\n"))],
                "sync",
                &bot(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(r.branch_tip("billing"), Some(id));
        assert_eq!(r.branch_tip("main"), Some(head));
        assert_eq!(r.current_branch().as_deref(), Some("main"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("inv/a.yaml")).unwrap(),
            "a: 1\n"
        );
    }

    #[test]
    fn an_edited_file_is_dirty_unless_it_already_holds_the_new_text() {
        let (dir, r) = repo();
        std::fs::write(dir.path().join("inv/a.yaml"), "a: 9\n").unwrap();
        let changes = [
            change("inv/a.yaml", Some("a: 2\n")),
            change("inv/b.yaml", None),
        ];
        assert_eq!(r.dirty("main", &changes), ["inv/a.yaml"]);
        assert!(r.dirty("other", &changes).is_empty(), "not checked out");
        let err = r.commit("main", &changes, "sync", &bot()).unwrap_err();
        assert!(matches!(err, CommitError::Dirty { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("inv/a.yaml")).unwrap(),
            "a: 9\n",
            "the edit is kept"
        );
        std::fs::write(dir.path().join("inv/a.yaml"), "a: 2\n").unwrap();
        assert!(r.dirty("main", &changes).is_empty());
    }

    #[test]
    fn replays_onto_another_commit_and_stops_on_a_conflict() {
        let (_dir, r) = repo();
        let base = r.head_commit().unwrap();
        // "Remote": another commit on base touching b.yaml.
        let sig = signature(&bot()).unwrap();
        let parent = r.repo.find_commit(base).unwrap();
        let mut b = git2::build::TreeUpdateBuilder::new();
        let blob = r.repo.blob(b"b: 2\n").unwrap();
        b.upsert("inv/b.yaml", blob, git2::FileMode::Blob);
        let tree = r
            .repo
            .find_tree(b.create_updated(&r.repo, &parent.tree().unwrap()).unwrap())
            .unwrap();
        let remote = r
            .repo
            .commit(None, &sig, &sig, "human", &tree, &[&parent])
            .unwrap();
        // Local: the bot's commit on a.yaml.
        let local = r
            .commit(
                "main",
                &[change("inv/a.yaml", Some("a: 2\n"))],
                "bot",
                &bot(),
            )
            .unwrap()
            .unwrap();
        let new = r.replay_onto("main", remote).unwrap();
        let c = r.repo.find_commit(new).unwrap();
        assert_eq!(c.parent_id(0).unwrap(), remote);
        assert_eq!(c.message().unwrap(), "bot");
        r.move_branch("main", local, new).unwrap();
        assert_eq!(r.branch_tip("main"), Some(new));
        assert!(clean(&r));

        // A remote commit on the same line conflicts; nothing moves.
        let mut b = git2::build::TreeUpdateBuilder::new();
        let blob = r.repo.blob(b"a: 7\n").unwrap();
        b.upsert("inv/a.yaml", blob, git2::FileMode::Blob);
        let tree = r
            .repo
            .find_tree(b.create_updated(&r.repo, &parent.tree().unwrap()).unwrap())
            .unwrap();
        let other = r
            .repo
            .commit(None, &sig, &sig, "human 2", &tree, &[&parent])
            .unwrap();
        let err = r.replay_onto("main", other).unwrap_err();
        assert!(
            matches!(&err, CommitError::Conflict { paths, .. } if paths == &["inv/a.yaml"]),
            "{err}"
        );
        assert_eq!(r.branch_tip("main"), Some(new));
    }

    #[test]
    fn refuses_an_identity_git_cannot_write() {
        let who = Identity {
            name: "bot <x>".into(),
            email: "a@b".into(),
        };
        assert!(matches!(signature(&who), Err(CommitError::BadIdentity(_))));
    }
}
