//! Reading an inventory (a tree of YAML) from a folder or from a git revision, and writing its
//! canonical form. The inventory touches no device.
//!
//! Loading never stops at the first bad file: every file that cannot be read or parsed becomes a
//! [`Diagnostic`], and the documents that could be read still make up the [`Desired`] state, so
//! `gamops validate` can report every problem at once.

pub mod canonical;
pub mod layout;
pub mod parse;
mod patch;
pub mod report;

pub use patch::FileEdit;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::git;
use crate::model::{Code, Desired, Diagnostic, Doc, Pos, Severity, SourceId};
use layout::{FileKind, Placed, place};
use parse::Parsed;

/// The largest file gamops reads. Real files are a few hundred bytes; this stops a stray dump
/// or a huge generated file from exhausting memory.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Where an inventory was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Dir,
    Rev { rev: String, commit: String },
}

/// One file of the inventory, present or expected.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user knows it: the inventory folder joined with `rel`.
    pub path: String,
    /// `/`-separated, relative to the inventory folder.
    pub rel: String,
    pub kind: Option<FileKind>,
}

/// A loaded inventory: the desired state, the files it came from, and what went wrong reading
/// them.
#[derive(Debug)]
pub struct Inventory {
    pub root: PathBuf,
    pub origin: Origin,
    pub files: Vec<SourceFile>,
    pub desired: Desired,
    /// Problems met while reading: I/O, YAML, layout.
    pub load_diagnostics: Vec<Diagnostic>,
}

/// Failures that leave nothing to validate.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("inventory folder {0} does not exist")]
    NotFound(PathBuf),
    #[error("{0} is not a folder")]
    NotADir(PathBuf),
    #[error(transparent)]
    Git(#[from] git::GitError),
}

impl LoadError {
    pub fn hint(&self) -> Option<String> {
        match self {
            LoadError::NotFound(_) | LoadError::NotADir(_) => {
                Some("pass the folder that holds gamops.yaml with --inventory DIR".to_string())
            }
            LoadError::Git(git::GitError::NoRevision { .. }) => Some(
                "name a branch, a tag, a commit id or HEAD~N; `git log --oneline` lists commits"
                    .to_string(),
            ),
            LoadError::Git(git::GitError::NoRepository { .. }) => Some(
                "--rev reads from git: run inside a repository, or drop --rev to read the folder"
                    .to_string(),
            ),
            LoadError::Git(git::GitError::NoSuchPath { .. }) => {
                Some("the inventory folder did not exist at that revision".to_string())
            }
            _ => None,
        }
    }
}

/// Documents already parsed, by file kind and exact bytes, so that reading a second revision
/// of the same inventory (`gamops diff`) parses only the files that differ: parsing is most of
/// the time a load takes, and two revisions of a large fleet share nearly every file. A
/// document's positions are relative to its own bytes, so a cached one is exactly what parsing
/// again would give. Files that fail to parse are not kept (they are parsed again, and
/// reported for each revision).
#[derive(Default)]
pub struct ParseCache {
    docs: std::collections::HashMap<(FileKind, Vec<u8>), Parsed>,
}

impl ParseCache {
    /// The number of documents held.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

/// A file found by a source, before parsing.
struct Found {
    rel: String,
    content: Content,
}

enum Content {
    /// Read it from this path when parsing (keeps memory flat for large fleets).
    Path(PathBuf),
    Bytes(Vec<u8>),
    Problem(Code, String, String),
}

impl Inventory {
    /// Reads the inventory in folder `root` as it is on disk.
    pub fn load_dir(root: &Path) -> Result<Inventory, LoadError> {
        check_root(root)?;
        let found = walk_dir(root);
        Ok(Self::build(root, Origin::Dir, found, None))
    }

    /// [`Inventory::load_dir`], taking documents whose bytes `cache` has seen from it and
    /// adding the ones it parses.
    pub fn load_dir_cached(root: &Path, cache: &mut ParseCache) -> Result<Inventory, LoadError> {
        check_root(root)?;
        let found = walk_dir(root);
        Ok(Self::build(root, Origin::Dir, found, Some(cache)))
    }

    /// Reads the inventory in folder `root` as it is at git revision `rev` of the repository that
    /// holds it, without touching the work tree.
    pub fn load_rev(root: &Path, rev: &str) -> Result<Inventory, LoadError> {
        Self::load_rev_with(root, rev, None)
    }

    /// [`Inventory::load_rev`], taking documents whose bytes `cache` has seen from it and
    /// adding the ones it parses.
    pub fn load_rev_cached(
        root: &Path,
        rev: &str,
        cache: &mut ParseCache,
    ) -> Result<Inventory, LoadError> {
        Self::load_rev_with(root, rev, Some(cache))
    }

    fn load_rev_with(
        root: &Path,
        rev: &str,
        cache: Option<&mut ParseCache>,
    ) -> Result<Inventory, LoadError> {
        check_root(root)?;
        let read = git::read_tree_at(root, rev, MAX_FILE_BYTES)?;
        let found = read
            .blobs
            .into_iter()
            .map(|b| Found {
                rel: b.path,
                content: blob_content(b.content),
            })
            .collect();
        Ok(Self::build(
            root,
            Origin::Rev {
                rev: rev.to_string(),
                commit: read.commit,
            },
            found,
            cache,
        ))
    }

    fn build(
        root: &Path,
        origin: Origin,
        mut found: Vec<Found>,
        mut cache: Option<&mut ParseCache>,
    ) -> Inventory {
        found.sort_by(|a, b| a.rel.cmp(&b.rel));
        let root_display = root.to_string_lossy().trim_end_matches('/').to_string();
        let display = |rel: &str| display_path(&root_display, rel);

        // Parse every file, in parallel; each result keeps its index, which becomes its SourceId.
        // Without a cache nothing is looked up, and no file's bytes are kept or hashed.
        let seen = cache.as_deref();
        let results: Vec<(SourceFile, Loaded)> = found
            .into_par_iter()
            .enumerate()
            .map(|(i, f)| {
                let source = SourceId(u32::try_from(i).unwrap_or(u32::MAX));
                let placed = place(&f.rel);
                let file = SourceFile {
                    path: display(&f.rel),
                    rel: f.rel.clone(),
                    kind: placed.kind(),
                };
                let result = load_one(source, &placed, f.content, seen);
                (file, result)
            })
            .collect();

        let mut files = Vec::with_capacity(results.len() + 2);
        let mut desired = Desired::default();
        let mut diagnostics = Vec::new();
        for (file, Loaded { result, fresh }) in results {
            let source = SourceId(files.len() as u32);
            if let (Some(cache), Some(key), Ok(Some(parsed))) =
                (cache.as_deref_mut(), fresh, &result)
            {
                cache.docs.insert(key, parsed.clone());
            }
            take(source, &file.rel, result, &mut desired, &mut diagnostics);
            files.push(file);
        }

        for (rel, kind, present) in [
            (
                "gamops.yaml",
                FileKind::Fleet,
                files.iter().any(|f| f.kind == Some(FileKind::Fleet)),
            ),
            (
                "plans.yaml",
                FileKind::Plans,
                files.iter().any(|f| f.kind == Some(FileKind::Plans)),
            ),
        ] {
            if !present {
                let source = SourceId(files.len() as u32);
                files.push(SourceFile {
                    path: display(rel),
                    rel: rel.to_string(),
                    kind: Some(kind),
                });
                diagnostics.push(
                    Diagnostic::error(
                        Code::MissingFile,
                        source,
                        Pos::UNKNOWN,
                        format!("{rel} is missing"),
                    )
                    .with_hint(format!(
                        "every inventory has {rel}; is --inventory the folder that holds it?"
                    )),
                );
            }
        }

        Inventory {
            root: root.to_path_buf(),
            origin,
            files,
            desired,
            load_diagnostics: diagnostics,
        }
    }

    /// Every problem: reading, layout and the model's rules, ordered by file and position.
    pub fn validate(&self) -> Vec<Diagnostic> {
        let mut all = self.load_diagnostics.clone();
        all.extend(crate::model::validate(&self.desired));
        all.sort_by_key(|d| (d.source, d.pos));
        all
    }

    /// The file a source id names.
    pub fn file(&self, source: SourceId) -> Option<&SourceFile> {
        self.files.get(source.0 as usize)
    }
}

/// Writes a file atomically (see [`crate::atomic_write`]), creating its folder when missing.
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    crate::atomic_write::write(path, text.as_bytes())
}

/// Puts one file's parse result into the desired state (a document, after its names are
/// checked against its path) or the diagnostics (why it could not be read).
fn take(
    source: SourceId,
    rel: &str,
    result: Result<Option<Parsed>, Diagnostic>,
    desired: &mut Desired,
    diagnostics: &mut Vec<Diagnostic>,
) {
    match result {
        Ok(Some(parsed)) => {
            check_names(source, rel, &parsed, diagnostics);
            match parsed {
                Parsed::Fleet(v) => desired.fleet = Some(Doc { source, value: *v }),
                Parsed::Plans(v) => desired.plans = Some(Doc { source, value: v }),
                Parsed::Device(v) => desired.devices.push(Doc { source, value: *v }),
                Parsed::Subscriber(v) => desired.subscribers.push(Doc { source, value: v }),
            }
        }
        Ok(None) => {}
        Err(d) => diagnostics.push(d),
    }
}

/// How a file is shown: the inventory folder (as given, without a trailing `/`) joined with its
/// relative path.
fn display_path(root: &str, rel: &str) -> String {
    if root.is_empty() || root == "." {
        rel.to_string()
    } else {
        format!("{root}/{rel}")
    }
}

/// What a file read from git holds, or why it is not read.
fn blob_content(content: Result<Vec<u8>, git::BlobProblem>) -> Content {
    match content {
        Ok(bytes) => Content::Bytes(bytes),
        Err(git::BlobProblem::TooLarge { bytes }) => too_large(bytes as u64),
        Err(git::BlobProblem::Symlink) => Content::Problem(
            Code::UnexpectedFile,
            "this is a symbolic link; gamops does not follow links in git".to_string(),
            "commit the file itself".to_string(),
        ),
        Err(git::BlobProblem::Submodule) => Content::Problem(
            Code::UnexpectedFile,
            "this is a git submodule".to_string(),
            "keep the inventory's files in this repository".to_string(),
        ),
    }
}

fn check_root(root: &Path) -> Result<(), LoadError> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(LoadError::NotADir(root.to_path_buf())),
        Err(_) => Err(LoadError::NotFound(root.to_path_buf())),
    }
}

fn too_large(bytes: u64) -> Content {
    Content::Problem(
        Code::FileTooLarge,
        format!("the file is {bytes} bytes; gamops reads files up to {MAX_FILE_BYTES} bytes"),
        "an inventory file describes one device or subscriber; split or remove this one"
            .to_string(),
    )
}

/// Lists the files below `root`, skipping hidden folders such as `.git`. Only directory entries
/// are read here (no `stat` per file): sizes are checked when a file is read, in parallel.
/// Links are not followed into folders, so a link loop cannot make the walk run forever; a link
/// to a file is read like the file.
fn walk_dir(root: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        match entry {
            Ok(e) if e.file_type().is_dir() => {}
            Ok(e) => {
                let rel = rel_path(root, e.path());
                let link_to_dir = e.file_type().is_symlink()
                    && std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir());
                let content = if link_to_dir {
                    Content::Problem(
                        Code::Io,
                        "this link points to a folder; gamops does not follow links to folders"
                            .to_string(),
                        "copy the folder into the inventory instead of linking it".to_string(),
                    )
                } else if e.file_type().is_file() || e.file_type().is_symlink() {
                    Content::Path(e.into_path())
                } else {
                    Content::Problem(
                        Code::UnexpectedFile,
                        "this is not a regular file".to_string(),
                        "remove it from the inventory".to_string(),
                    )
                };
                found.push(Found { rel, content });
            }
            Err(err) => {
                let rel = err
                    .path()
                    .map(|p| rel_path(root, p))
                    .unwrap_or_else(|| ".".to_string());
                found.push(Found {
                    rel,
                    content: io_problem(&err.to_string()),
                });
            }
        }
    }
    found
}

/// Why an inventory file could not be read: a message and a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadProblem {
    pub message: String,
    pub hint: String,
    /// The file is not there (nothing to read, as opposed to something wrong with it).
    pub missing: bool,
}

/// Reads one inventory file exactly as loading does (`gamops fmt` reads through this too): a
/// regular file, or a link to one, of at most [`MAX_FILE_BYTES`].
pub fn read_file(path: &Path) -> Result<Vec<u8>, ReadProblem> {
    read_limited(path).map_err(|c| match c {
        Content::Problem(_, message, hint) => ReadProblem {
            missing: !path.exists() && std::fs::symlink_metadata(path).is_err(),
            message,
            hint,
        },
        _ => ReadProblem {
            message: "cannot read the file".to_string(),
            hint: String::new(),
            missing: false,
        },
    })
}

/// Reads at most `MAX_FILE_BYTES` (plus one, to tell a file that is too large), from a regular
/// file only: the file is opened without blocking (a FIFO behind a link would otherwise wait
/// for a writer forever) and its type checked on the open file, after links are resolved (a
/// link to `/dev/zero` is refused, not read).
fn read_limited(path: &Path) -> Result<Vec<u8>, Content> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| read_problem(path, &e))?;
    let meta = file.metadata().map_err(|e| read_problem(path, &e))?;
    if meta.is_dir() {
        return Err(read_problem(
            path,
            &std::io::Error::from_raw_os_error(libc::EISDIR),
        ));
    }
    if !meta.is_file() {
        return Err(Content::Problem(
            Code::UnexpectedFile,
            "this is not a regular file (a pipe, a socket or a device, or a link to one)"
                .to_string(),
            "remove it from the inventory".to_string(),
        ));
    }
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(1024);
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_problem(path, &e))?;
    if bytes.len() > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(too_large(size));
    }
    Ok(bytes)
}

fn read_problem(path: &Path, e: &std::io::Error) -> Content {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        let (message, hint) = match e.raw_os_error() {
            Some(40) => (
                "this link is part of a loop of links".to_string(),
                "remove the link, or point it at a file".to_string(),
            ),
            Some(21) => (
                "this link points to a folder; gamops does not follow links to folders".to_string(),
                "copy the folder into the inventory instead of linking it".to_string(),
            ),
            _ => (
                format!("cannot follow this link: {e}"),
                "remove the link, or point it at a file".to_string(),
            ),
        };
        return Content::Problem(Code::Io, message, hint);
    }
    if e.kind() == std::io::ErrorKind::IsADirectory {
        return Content::Problem(
            Code::UnexpectedFile,
            "this is a folder where a file is expected".to_string(),
            LAYOUT_HINT_SHORT.to_string(),
        );
    }
    io_problem(&e.to_string())
}

const LAYOUT_HINT_SHORT: &str = "see the inventory layout in the README";

fn io_problem(err: &str) -> Content {
    Content::Problem(
        Code::Io,
        format!("cannot read: {err}"),
        "check the file's permissions".to_string(),
    )
}

fn rel_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// One file's outcome, and its cache key when it was parsed here (not taken from the cache).
struct Loaded {
    result: Result<Option<Parsed>, Diagnostic>,
    fresh: Option<(FileKind, Vec<u8>)>,
}

/// Reads and parses one file; with a `cache`, a document whose bytes it holds comes from it and
/// a freshly parsed one returns its key (`fresh`) for the caller to add.
fn load_one(
    source: SourceId,
    placed: &Placed,
    content: Content,
    cache: Option<&ParseCache>,
) -> Loaded {
    let mut fresh = None;
    let result = load_one_inner(source, placed, content, cache, &mut fresh);
    Loaded { result, fresh }
}

fn load_one_inner(
    source: SourceId,
    placed: &Placed,
    content: Content,
    cache: Option<&ParseCache>,
    fresh: &mut Option<(FileKind, Vec<u8>)>,
) -> Result<Option<Parsed>, Diagnostic> {
    let problem = |code, message: String, hint: String| {
        Diagnostic::error(code, source, Pos::UNKNOWN, message).with_hint(hint)
    };
    if let Content::Problem(code, message, hint) = content {
        // A broken link or unreadable file is worth reporting even where it would be ignored.
        return Err(problem(code, message, hint));
    }
    let kind = match placed {
        Placed::Ignored => return Ok(None),
        Placed::Unexpected(hint) => {
            return Err(problem(
                Code::UnexpectedFile,
                "this file is not part of an inventory".to_string(),
                (*hint).to_string(),
            ));
        }
        other => match other.kind() {
            Some(k) => k,
            None => return Ok(None),
        },
    };
    let bytes = match content {
        Content::Bytes(b) => b,
        Content::Path(p) => match read_limited(&p) {
            Ok(b) => b,
            Err(Content::Problem(code, message, hint)) => return Err(problem(code, message, hint)),
            Err(_) => return Ok(None),
        },
        Content::Problem(..) => return Ok(None),
    };
    let Some(cache) = cache else {
        return parse::parse(kind, source, &bytes).map(Some);
    };
    let key = (kind, bytes);
    if let Some(parsed) = cache.docs.get(&key) {
        return Ok(Some(parsed.clone()));
    }
    let parsed = parse::parse(kind, source, &key.1)?;
    *fresh = Some(key);
    Ok(Some(parsed))
}

/// A device's `name` must match its file name, and a subscriber's `id` and `device` its file and
/// folder: that is how people and bots find them.
fn check_names(source: SourceId, rel: &str, parsed: &Parsed, out: &mut Vec<Diagnostic>) {
    let mismatch = |pos: Pos, message: String, hint: String| Diagnostic {
        severity: Severity::Error,
        code: Code::FileNameMismatch,
        source: Some(source),
        pos,
        message,
        hint: Some(hint),
        related: None,
    };
    match (place(rel), parsed) {
        (Placed::Device { stem }, Parsed::Device(d)) if d.name.as_str() != stem => {
            out.push(mismatch(
                d.name.pos,
                format!("device {} is in devices/{stem}.yaml", d.name),
                format!(
                    "rename the file to devices/{}.yaml, or set `name: {stem}`",
                    d.name
                ),
            ))
        }
        (Placed::Subscriber { device, stem }, Parsed::Subscriber(s)) => {
            if s.id.as_str() != stem {
                out.push(mismatch(
                    s.id.pos,
                    format!("subscriber {} is in a file named {stem}.yaml", s.id),
                    format!("rename the file to {}.yaml, or set `id: {stem}`", s.id),
                ));
            }
            if s.device.as_str() != device {
                out.push(mismatch(
                    s.device.pos,
                    format!(
                        "subscriber of device {} is in the folder subscribers/{device}/",
                        s.device
                    ),
                    format!(
                        "move the file to subscribers/{}/, or set `device: {device}`",
                        s.device
                    ),
                ));
            }
        }
        _ => {}
    }
}
