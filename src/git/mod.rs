//! Git: read a tree at a revision (git2, never touching the work tree); commit and replay
//! commits as a bot (`commit`); fetch and push through the `git` CLI (`remote`), as jj does,
//! so they get ssh-agent, credential helpers and known_hosts for free.

pub mod commit;
pub mod remote;

use std::path::{Path, PathBuf};

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
    let repo = git2::Repository::discover(dir).map_err(|source| GitError::NoRepository {
        path: dir.to_path_buf(),
        source,
    })?;
    let workdir = repo
        .workdir()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo.path().to_path_buf());
    let prefix = relative_to(&workdir, dir);

    let object = repo
        .revparse_single(rev)
        .map_err(|source| GitError::NoRevision {
            rev: rev.to_string(),
            repo: workdir.clone(),
            source,
        })?;
    let commit = object
        .peel_to_commit()
        .map_err(|source| GitError::NoRevision {
            rev: rev.to_string(),
            repo: workdir.clone(),
            source,
        })?;
    let root = commit.tree()?;
    let tree = if prefix.is_empty() {
        root
    } else {
        let entry = root
            .get_path(Path::new(&prefix))
            .map_err(|_| GitError::NoSuchPath {
                rev: rev.to_string(),
                path: prefix.clone(),
            })?;
        entry
            .to_object(&repo)?
            .into_tree()
            .map_err(|_| GitError::NotATree {
                rev: rev.to_string(),
                path: prefix.clone(),
            })?
    };

    let mut blobs = Vec::new();
    let mut failure = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        let Ok(name) = entry.name() else {
            return git2::TreeWalkResult::Skip;
        };
        let path = format!("{parent}{name}");
        let content = match entry.filemode() {
            0o040000 => return git2::TreeWalkResult::Ok,
            0o120000 => Err(BlobProblem::Symlink),
            0o160000 => Err(BlobProblem::Submodule),
            _ => match repo.find_blob(entry.id()) {
                Ok(blob) if blob.size() > max_bytes => {
                    Err(BlobProblem::TooLarge { bytes: blob.size() })
                }
                Ok(blob) => Ok(blob.content().to_vec()),
                Err(e) => {
                    failure = Some(e);
                    return git2::TreeWalkResult::Abort;
                }
            },
        };
        blobs.push(Blob { path, content });
        git2::TreeWalkResult::Ok
    })?;
    if let Some(e) = failure {
        return Err(GitError::Read(e));
    }
    Ok(TreeRead {
        commit: commit.id().to_string(),
        blobs,
    })
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
