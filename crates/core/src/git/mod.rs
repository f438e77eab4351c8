//! Git: read a tree at a revision (git2, never touching the work tree); commit and replay
//! commits as a bot (`commit`). Fetch and push, through the `git` CLI and async, are
//! `gamops_net::git::remote` (this crate has no tokio).

pub mod commit;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// A file read from a git tree.
pub struct Blob {
    /// `/`-separated path relative to the folder that was read.
    pub path: String,
    /// The contents, or why they were not read.
    pub content: Result<Vec<u8>, BlobProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProblem {
    TooLarge { bytes: usize },
    Symlink,
    Submodule,
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{path} is not inside a git repository")]
    NoRepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("revision {rev:?} does not exist in {repo}")]
    NoRevision {
        rev: String,
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("{path} does not exist at revision {rev}")]
    NoSuchPath { rev: String, path: String },
    #[error("{path} is not a folder at revision {rev}")]
    NotATree { rev: String, path: String },
    #[error("reading the repository failed")]
    Read(#[from] git2::Error),
}

/// What a revision resolved to.
pub struct TreeRead {
    /// The full commit id.
    pub commit: String,
    pub blobs: Vec<Blob>,
}

/// Reads every file under `dir` (a folder inside a work tree) as it is at `rev` in the
/// repository that contains `dir`. Files larger than `max_bytes` are not loaded.
pub fn read_tree_at(dir: &Path, rev: &str, max_bytes: usize) -> Result<TreeRead, GitError> {
    let opened = Opened::discover(dir)?;
    let (commit, tree) = opened.tree_at(rev)?;
    // List the files first (the tree walk is quick), then read their blobs on all cores: reading
    // is decompression and copying, and a repository handle is not shared between threads, so
    // each batch opens its own.
    let mut entries = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Skip;
        };
        if entry.filemode() != 0o040000 {
            entries.push((format!("{parent}{name}"), entry.filemode(), entry.id()));
        }
        git2::TreeWalkResult::Ok
    })?;
    let git_dir = opened.repo.path().to_path_buf();
    let batches: Vec<Result<Vec<Blob>, git2::Error>> = entries
        .par_chunks(BLOBS_PER_BATCH)
        .map(|batch| {
            let repo = git2::Repository::open(&git_dir)?;
            batch
                .iter()
                .map(|(path, mode, id)| {
                    Ok(Blob {
                        path: path.clone(),
                        content: read_blob(&repo, *mode, *id, max_bytes)?,
                    })
                })
                .collect()
        })
        .collect();
    let mut blobs = Vec::with_capacity(entries.len());
    for batch in batches {
        blobs.extend(batch.map_err(GitError::Read)?);
    }
    Ok(TreeRead {
        commit: commit.id().to_string(),
        blobs,
    })
}

/// How many blobs one thread reads with one repository handle (opening one costs about as much
/// as reading a few dozen small blobs).
const BLOBS_PER_BATCH: usize = 2048;

/// What changed under a folder from one commit to a revision.
pub struct ChangesRead {
    /// The full commit id `rev` resolved to.
    pub commit: String,
    /// Files added or changed, with their new contents.
    pub changed: Vec<Blob>,
    /// Files removed, `/`-separated relative to the folder.
    pub deleted: Vec<String>,
}

/// Reads only the files under `dir` that differ between commit `from` and `rev` (a diff of the
/// two trees: unchanged files are not read at all). Files larger than `max_bytes` are not
/// loaded.
pub fn read_changes(
    dir: &Path,
    from: &str,
    rev: &str,
    max_bytes: usize,
) -> Result<ChangesRead, GitError> {
    let opened = Opened::discover(dir)?;
    let (_, old) = opened.tree_at(from)?;
    let (commit, new) = opened.tree_at(rev)?;
    let repo = &opened.repo;
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), None)?;
    let mut changed = Vec::new();
    let mut deleted = Vec::new();
    let path_of = |f: &git2::DiffFile<'_>| {
        f.path()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default()
    };
    for delta in diff.deltas() {
        // Without rename detection a move is a deletion and an addition.
        if delta.status() == git2::Delta::Deleted {
            deleted.push(path_of(&delta.old_file()));
            continue;
        }
        let file = delta.new_file();
        changed.push(Blob {
            path: path_of(&file),
            content: read_blob(repo, i32::from(file.mode()), file.id(), max_bytes)?,
        });
    }
    Ok(ChangesRead {
        commit: commit.id().to_string(),
        changed,
        deleted,
    })
}

/// A file's contents by its tree mode: links and submodules are problems, not contents.
fn read_blob(
    repo: &git2::Repository,
    mode: i32,
    id: git2::Oid,
    max_bytes: usize,
) -> Result<Result<Vec<u8>, BlobProblem>, git2::Error> {
    Ok(match mode {
        0o120000 => Err(BlobProblem::Symlink),
        0o160000 => Err(BlobProblem::Submodule),
        _ => {
            let blob = repo.find_blob(id)?;
            if blob.size() > max_bytes {
                Err(BlobProblem::TooLarge { bytes: blob.size() })
            } else {
                Ok(blob.content().to_vec())
            }
        }
    })
}

/// libgit2 hashes every object it reads again to check it against its id; the git CLI does not
/// (it checks when objects arrive: `fetch.fsckObjects`, `git fsck`). Reading 100,000 blobs of an
/// inventory, that hashing is a tenth of the read; gamops reads as the git CLI does.
fn skip_hash_verification() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| git2::opts::strict_hash_verification(false));
}

/// The repository holding a folder, and where the folder is inside it.
struct Opened {
    repo: git2::Repository,
    workdir: PathBuf,
    /// The folder relative to the work tree; empty for its top.
    prefix: String,
}

impl Opened {
    fn discover(dir: &Path) -> Result<Opened, GitError> {
        skip_hash_verification();
        let repo = git2::Repository::discover(dir).map_err(|source| GitError::NoRepository {
            path: dir.to_path_buf(),
            source,
        })?;
        let workdir = repo
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo.path().to_path_buf());
        let prefix = relative_to(&workdir, dir);
        Ok(Opened {
            repo,
            workdir,
            prefix,
        })
    }

    /// The commit `rev` names and the folder's tree in it.
    fn tree_at(&self, rev: &str) -> Result<(git2::Commit<'_>, git2::Tree<'_>), GitError> {
        let no_revision = |source| GitError::NoRevision {
            rev: rev.to_string(),
            repo: self.workdir.clone(),
            source,
        };
        let commit = self
            .repo
            .revparse_single(rev)
            .map_err(no_revision)?
            .peel_to_commit()
            .map_err(no_revision)?;
        let root = commit.tree()?;
        if self.prefix.is_empty() {
            return Ok((commit, root));
        }
        let entry = root
            .get_path(Path::new(&self.prefix))
            .map_err(|_| GitError::NoSuchPath {
                rev: rev.to_string(),
                path: self.prefix.clone(),
            })?;
        let tree = entry
            .to_object(&self.repo)?
            .into_tree()
            .map_err(|_| GitError::NotATree {
                rev: rev.to_string(),
                path: self.prefix.clone(),
            })?;
        Ok((commit, tree))
    }
}

/// `dir` relative to `workdir`, `/`-separated; empty when they are the same folder.
fn relative_to(workdir: &Path, dir: &Path) -> String {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (w, d) = (canon(workdir), canon(dir));
    d.strip_prefix(&w)
        .map(|rel| {
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default()
}

/// The commit checked out in the repository holding `dir`, if it is in one.
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = git2::Repository::discover(dir).ok()?;
    let head = repo.head().ok()?.peel_to_commit().ok()?;
    Some(head.id().to_string())
}

/// Whether commit `new` descends from (or is) commit `old` in the repository holding `dir`;
/// `None` when either is unknown there.
pub fn descends_from(dir: &Path, new: &str, old: &str) -> Option<bool> {
    let repo = git2::Repository::discover(dir).ok()?;
    let new = git2::Oid::from_str(new).ok()?;
    let old = git2::Oid::from_str(old).ok()?;
    if new == old {
        return Some(true);
    }
    repo.graph_descendant_of(new, old).ok()
}

/// The `.git` folder of the repository holding `dir`, if it is in one.
pub fn git_dir(dir: &Path) -> Option<std::path::PathBuf> {
    let repo = git2::Repository::discover(dir).ok()?;
    Some(repo.path().to_path_buf())
}
