//! The billing sync: read billing, map it to subscribers, write only what billing owns, validate
//! the whole inventory, and (when asked) commit as the bot and push, fast-forward only.
//!
//! One call, [`sync`], does it all, for the CLI (`gamops sync sonar|splynx`) and for the webhook
//! receiver (an incremental [`Scope::Customers`] sync with the events that caused it).
//!
//! What is written always validates: a subscriber whose new file would make the inventory
//! invalid is dropped (and listed as skipped, with the reason) until what is left validates; an
//! inventory that is invalid in files the sync does not write is refused, and nothing is
//! written. Subscribers with `managed_by: manual` (or owned by the other billing system) are
//! never touched.

mod fetch;
mod propose;
mod publish;
mod report;
mod settle;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use self::report::{
    AddedPlan, Change, ChangeKind, PushReport, SkippedCustomer, SyncReport, Timings, commit_message,
};
use super::mapping::SystemRules;
use super::{BillingError, HttpConfig};
use crate::git::commit::{CommitError, Repo};
use crate::git::remote::RemoteError;
use crate::inventory::canonical::CanonicalError;
use crate::inventory::report::Report;
use crate::inventory::{Inventory, LoadError};
use crate::model::{BillingMapping, Diagnostic, ManagedBy, SourceId};
use fetch::Client;
use propose::Originals;

/// A billing system: the one a sync reads, a webhook comes from, the lab fakes. The command
/// line names it as it is written here (`sonar`, `splynx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Sonar,
    Splynx,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Sonar => "sonar",
            Source::Splynx => "splynx",
        }
    }

    fn managed_by(self) -> ManagedBy {
        match self {
            Source::Sonar => ManagedBy::Sonar,
            Source::Splynx => ManagedBy::Splynx,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to run a sync.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The inventory folder (the one holding gamops.yaml).
    pub inventory: PathBuf,
    pub source: Source,
    /// Compute and report (with a unified diff) but write nothing.
    pub dry_run: bool,
    /// Commit the changes as the bot (on `branch`), instead of only writing the files.
    pub commit: bool,
    /// The branch to commit on: the checked-out one when `None`. Created from HEAD if missing.
    pub branch: Option<String>,
    /// Push the branch to this remote (a name or URL) after committing; implies `commit`.
    pub push: Option<String>,
    /// How many pushes to try when the remote keeps moving.
    pub push_attempts: u32,
    pub http: HttpConfig,
    /// Records per page when reading billing; the client's default when `None`.
    pub page_size: Option<u32>,
    /// The billing client a long-running process keeps between syncs (`sync serve`): one per
    /// process, so Splynx's nonce only grows and its access token is reused. `None`: a client
    /// for this sync alone, logged out after it.
    pub clients: Option<Arc<BillingClients>>,
    /// The inventory a long-running process keeps between syncs (see [`KeptInventory`]);
    /// `None`: every sync loads the inventory itself.
    pub kept: Option<Arc<KeptInventory>>,
}

/// The valid inventory of one commit, kept by a long-running process (`sync serve`, the
/// controller) between its syncs. Each sync starts from the branch's tip; when that is the
/// commit the previous sync made (or started from), the inventory is taken from here as it is;
/// when someone else committed since, only the files that differ are read
/// ([`Inventory::load_rev_from`]). With 20,000 subscribers, reading them all from git was most
/// of a sync's time.
#[derive(Default)]
pub struct KeptInventory {
    slot: std::sync::Mutex<Option<(git2::Oid, Arc<Inventory>)>>,
}

impl KeptInventory {
    /// The inventory kept, and its commit.
    fn get(&self) -> Option<(git2::Oid, Arc<Inventory>)> {
        self.slot.lock().ok()?.clone()
    }

    /// Keeps `inv`, which must be the valid inventory of `commit`.
    fn keep(&self, commit: git2::Oid, inv: Arc<Inventory>) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((commit, inv));
        }
    }
}

impl std::fmt::Debug for KeptInventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self
            .slot
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|(c, _)| *c));
        f.debug_struct("KeptInventory")
            .field("commit", &kept)
            .finish()
    }
}

/// The billing client of a process, kept between syncs while the settings it was made from
/// (system, URL, credentials, page size) stay the same. Syncs that each made a client of their
/// own each had their own last nonce, and two of them could send the same one (`401
/// INVALID_SASH: Nonce already used`).
#[derive(Default)]
pub struct BillingClients {
    slot: std::sync::Mutex<Option<(String, Arc<Client>)>>,
}

impl std::fmt::Debug for BillingClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BillingClients")
    }
}

impl BillingClients {
    /// The client for these settings: the kept one, or a new one that is kept.
    fn get(&self, opts: &SyncOptions, m: &BillingMapping) -> Result<Arc<Client>, SyncError> {
        let key = Client::settings_key(opts, m)?;
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, c)) = slot.as_ref()
            && *k == key
        {
            return Ok(c.clone());
        }
        let client = Arc::new(Client::new(opts, m)?);
        *slot = Some((key, client.clone()));
        Ok(client)
    }
}

impl SyncOptions {
    pub fn new(inventory: impl Into<PathBuf>, source: Source) -> SyncOptions {
        SyncOptions {
            inventory: inventory.into(),
            source,
            dry_run: false,
            commit: false,
            branch: None,
            push: None,
            push_attempts: 5,
            http: HttpConfig::default(),
            page_size: None,
            clients: None,
            kept: None,
        }
    }

    fn commits(&self) -> bool {
        self.commit || self.push.is_some()
    }
}

/// Which customers a sync looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every customer: a full read; subscribers of customers billing no longer has follow the
    /// removal policy.
    All,
    /// Only these customers (billing ids): each is re-read and only its subscriber is written.
    Customers(Vec<String>),
}

/// A billing event that caused the sync; its id goes into a `Billing-Event-Id:` trailer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub id: String,
}

/// Why a sync failed. Nothing was written, committed or pushed unless the error says so.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("gamops.yaml has no `billing: {0}:` section")]
    NotConfigured(Source),
    #[error("the inventory is not valid (before the sync); nothing was written\n{report}")]
    Invalid { report: String },
    #[error("reading billing failed; nothing was written: {0}")]
    Billing(#[from] BillingError),
    #[error("{0}")]
    Git(#[from] CommitError),
    #[error("{0}")]
    Remote(#[from] RemoteError),
    #[error("committing needs a git repository: {0}")]
    NoRepository(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Render {
        path: String,
        #[source]
        source: CanonicalError,
    },
    #[error(
        "after replaying the sync onto the remote's {branch}, the inventory is not valid; the local branch was left as it was\n{report}"
    )]
    InvalidAfterRebase { branch: String, report: String },
    #[error(
        "the remote's {branch} kept moving: {attempts} pushes were rejected; the commit is on the local branch"
    )]
    PushGaveUp { branch: String, attempts: u32 },
}

impl SyncError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SyncError::Load(e) => return e.hint(),
            SyncError::NotConfigured(s) => format!(
                "add a `billing: {s}:` section to gamops.yaml (see the README's `gamops sync` section)"
            ),
            SyncError::Invalid { .. } => {
                "fix what is listed (`gamops validate` shows the same), then sync again".into()
            }
            SyncError::Billing(_) => {
                "check the billing URL and credentials in gamops.yaml and the environment".into()
            }
            SyncError::Git(CommitError::Dirty { .. }) => {
                "commit or discard those edits first (`git status`, `git stash`), then sync again"
                    .into()
            }
            SyncError::Git(CommitError::Conflict { .. }) => "someone changed the same files on the remote; the push was not forced. Resolve it by hand (`git pull --rebase`) or drop the local commit and sync again".into(),
            SyncError::Git(CommitError::Detached) => {
                "name the branch to commit on with --branch B".into()
            }
            SyncError::Git(CommitError::Moved { .. }) => {
                "someone (another sync?) moved the branch meanwhile; run the sync again".into()
            }
            SyncError::Git(CommitError::BadIdentity(_)) => {
                "set `billing.bot: { name: ..., email: ... }` in gamops.yaml".into()
            }
            SyncError::Git(_) | SyncError::NoRepository(_) => {
                "run the sync in a git work tree that holds the inventory, or drop --commit".into()
            }
            SyncError::Remote(_) => {
                "check the remote's name or URL and that `git push` works from this repository"
                    .into()
            }
            SyncError::Write { .. } => "check the inventory folder's permissions".into(),
            SyncError::Render { .. } => "move comments to the top of the file".into(),
            SyncError::InvalidAfterRebase { branch, .. } => format!(
                "the remote's changes and the sync's do not validate together: drop the local sync commit (`git reset --keep <remote>/{branch}` after a fetch) and sync again, so the sync starts from the remote's inventory"
            ),
            SyncError::PushGaveUp { .. } => "run the sync again later".into(),
        })
    }
}

/// Runs a sync. See the module's documentation.
pub async fn sync(
    opts: &SyncOptions,
    scope: Scope,
    events: &[EventRef],
) -> Result<SyncReport, SyncError> {
    let mut timings = Timings::default();
    let started = Instant::now();

    // Where the sync starts from: the branch's tip when committing, else the folder.
    let (repo, branch, base) = if opts.commits() {
        let repo =
            Repo::open(&opts.inventory).map_err(|e| SyncError::NoRepository(e.to_string()))?;
        let branch = match &opts.branch {
            Some(b) => b.clone(),
            None => repo.current_branch().ok_or(CommitError::Detached)?,
        };
        let base = repo.base_of(&branch)?;
        (Some(repo), Some(branch), Some(base))
    } else {
        (None, opts.branch.clone(), None)
    };
    let kept = opts.kept.as_ref().and_then(|k| k.get());
    let was_kept = matches!((&kept, base), (Some((at, _)), Some(oid)) if *at == oid);
    let inv = match (kept, base) {
        (Some((_, inv)), Some(_)) if was_kept => inv,
        // Someone else committed since: read what differs.
        (Some((_, inv)), Some(oid)) => Arc::new(inv.load_rev_from(&oid.to_string())?),
        (None, Some(oid)) => Arc::new(Inventory::load_rev(&opts.inventory, &oid.to_string())?),
        (_, None) => Arc::new(Inventory::load_dir(&opts.inventory)?),
    };
    let fleet = inv.desired.fleet();
    let mapping = fleet
        .billing
        .as_deref()
        .cloned()
        .ok_or(SyncError::NotConfigured(opts.source))?;
    let rules = match opts.source {
        Source::Sonar => mapping.sonar.as_ref().map(SystemRules::Sonar),
        Source::Splynx => mapping.splynx.as_ref().map(SystemRules::Splynx),
    }
    .ok_or(SyncError::NotConfigured(opts.source))?;
    // The inventory must be readable before billing is asked anything. (A kept one was valid.)
    let before: Vec<Diagnostic> = if was_kept {
        Vec::new()
    } else {
        inv.validate()
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect()
    };
    if let (Some(kept), Some(oid), true) = (&opts.kept, base, before.is_empty()) {
        kept.keep(oid, inv.clone());
    }
    let owned_files: BTreeSet<SourceId> = inv
        .desired
        .subscribers
        .iter()
        .filter(|d| d.managed_by == opts.source.managed_by())
        .map(|d| d.source)
        .collect();
    // Errors only in files billing owns may be repaired by the sync; others are refused now.
    let foreign: Vec<Diagnostic> = before
        .iter()
        .filter(|d| {
            d.source.is_none_or(|s| !owned_files.contains(&s))
                && d.related
                    .as_ref()
                    .is_none_or(|r| !owned_files.contains(&r.source))
        })
        .cloned()
        .collect();
    if !foreign.is_empty() {
        return Err(SyncError::Invalid {
            report: Report::new(&inv, &foreign).to_text(false),
        });
    }
    timings.load_ms = ms(started.elapsed());

    // Read billing.
    let t = Instant::now();
    let (customers, scope_keys, mut skipped_keys) = fetch::fetch(opts, &mapping, &scope).await?;
    timings.fetch_ms = ms(t.elapsed());

    // Map and propose files.
    let t = Instant::now();
    // (Scoped: the borrowed repository must not live across an await, or the future would not
    // be `Send`.)
    let mut proposal = {
        let originals = Originals {
            repo: repo.as_ref(),
            base,
            root: opts.inventory.clone(),
            index: std::cell::OnceCell::new(),
        };
        propose::propose(
            &inv,
            &originals,
            rules,
            &mapping,
            &customers,
            scope_keys.as_ref(),
        )?
    };
    proposal.skipped.append(&mut skipped_keys);
    timings.map_ms = ms(t.elapsed());

    // Validate the result; drop what does not validate.
    let t = Instant::now();
    let settled = settle::settle(&inv, &mut proposal)?;
    timings.validate_ms = ms(t.elapsed());

    proposal.edits.sort_by(|a, b| a.rel.cmp(&b.rel));
    proposal
        .changes
        .sort_by(|a, b| a.subscriber.cmp(&b.subscriber));
    proposal.skipped.sort_by(|a, b| {
        (a.customer.parse::<u64>().ok(), &a.customer)
            .cmp(&(b.customer.parse::<u64>().ok(), &b.customer))
    });
    let mut report = SyncReport {
        source: opts.source,
        customers: match &scope {
            Scope::All => None,
            Scope::Customers(k) => Some(k.clone()),
        },
        read: customers.len(),
        changes: proposal.changes,
        unchanged: proposal.unchanged,
        not_subscribers: proposal.not_subscribers,
        skipped: proposal.skipped,
        new_plans: proposal.new_plans,
        files: proposal.edits.iter().map(|e| e.rel.clone()).collect(),
        dry_run: opts.dry_run,
        written: false,
        branch: branch.clone(),
        commit: None,
        push: None,
        diff: None,
        events: events.to_vec(),
        timings,
    };

    if opts.dry_run {
        let t = Instant::now();
        report.diff = Some(publish::unified_diff(&proposal.edits));
        report.timings.write_ms = ms(t.elapsed());
        return Ok(report);
    }

    let (Some(repo), Some(branch)) = (repo, branch) else {
        let t = Instant::now();
        publish::write_files(&opts.inventory, &proposal.edits)?;
        report.written = !proposal.edits.is_empty();
        report.timings.write_ms = ms(t.elapsed());
        return Ok(report);
    };

    // Commit.
    let t = Instant::now();
    let bot = mapping.bot.clone().unwrap_or_default();
    let id = publish::commit(
        &repo,
        &branch,
        &proposal.edits,
        &commit_message(&report),
        &bot,
    )?;
    if let (Some(kept), Some(id)) = (&opts.kept, id) {
        let mut settled = settled;
        settled.origin = crate::inventory::Origin::Rev {
            rev: branch.clone(),
            commit: id.to_string(),
        };
        kept.keep(id, Arc::new(settled));
    }
    report.commit = id.map(|i| i.to_string());
    report.written = id.is_some() && repo.current_branch().as_deref() == Some(branch.as_str());
    report.timings.commit_ms = ms(t.elapsed());

    // Push.
    if let Some(remote_name) = &opts.push {
        let t = Instant::now();
        let pushed = publish::push(
            repo,
            &opts.inventory,
            remote_name,
            &branch,
            opts.push_attempts,
        )
        .await;
        report.timings.push_ms = ms(t.elapsed());
        let (push_report, new_tip) = pushed?;
        if new_tip.is_some() && report.commit.is_some() {
            report.commit = new_tip;
        }
        report.push = Some(push_report);
    }
    Ok(report)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_future_can_be_spawned() {
        fn send<T: Send>(_: &T) {}
        let opts = SyncOptions::new("inventory", Source::Splynx);
        let f = sync(&opts, Scope::All, &[]);
        send(&f);
    }
}
