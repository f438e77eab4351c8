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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::mapping::{MapContext, SystemRules, map_customers};
use super::sonar::SonarClient;
use super::splynx::SplynxClient;
use super::{BillingCustomer, BillingError, HttpConfig, resolve_secret};
use crate::git::commit::{CommitError, FileChange, Identity, Repo};
use crate::git::remote::{self, Pushed, RemoteError};
use crate::inventory::canonical::{CanonicalError, render};
use crate::inventory::layout::FileKind;
use crate::inventory::report::Report;
use crate::inventory::{FileEdit, Inventory, LoadError};
use crate::model::billing::{BotIdentity, RemovalPolicy};
use crate::model::{
    BillingMapping, Diagnostic, Doc, Ident, ManagedBy, Plans, SourceId, Status, Subscriber,
};

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

/// What happened to one subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Suspended,
    Deleted,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Suspended => "suspended",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// One subscriber's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub subscriber: String,
    pub kind: ChangeKind,
    pub device: String,
    /// What changed, or why: `plan 100M -> 500M`, `customer gone from billing`.
    pub details: Vec<String>,
}

/// A customer left as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedCustomer {
    pub customer: String,
    /// Its subscriber, when it has (or would have) one.
    pub subscriber: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for SkippedCustomer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "customer {}: {}", self.customer, self.reason)
    }
}

/// A plan added to plans.yaml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddedPlan {
    pub name: String,
    pub down_mbps: u32,
    pub up_mbps: u32,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PushReport {
    pub remote: String,
    pub branch: String,
    /// `pushed` or `up-to-date`.
    pub outcome: String,
    /// Pushes tried.
    pub attempts: u32,
    /// How many times the local commits were replayed onto a remote that had moved.
    pub rebases: u32,
}

/// How long each step took, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    pub load_ms: f64,
    pub fetch_ms: f64,
    pub map_ms: f64,
    pub validate_ms: f64,
    pub write_ms: f64,
    pub commit_ms: f64,
    pub push_ms: f64,
}

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncReport {
    pub source: Source,
    /// The customers looked at: `None` for all of them.
    pub customers: Option<Vec<String>>,
    /// Customers read from billing.
    pub read: usize,
    pub changes: Vec<Change>,
    /// Customers whose subscriber is already as billing says.
    pub unchanged: usize,
    /// Customers that are no GAM subscriber (off in billing, or no running service wired to a
    /// GAM) and have none in the inventory. With `changes`, `unchanged` and `skipped`, every
    /// customer read is accounted for.
    pub not_subscribers: usize,
    pub skipped: Vec<SkippedCustomer>,
    pub new_plans: Vec<AddedPlan>,
    /// Files written or deleted, relative to the inventory folder.
    pub files: Vec<String>,
    pub dry_run: bool,
    /// The files were written to the work tree.
    pub written: bool,
    pub branch: Option<String>,
    /// The commit made, if any.
    pub commit: Option<String>,
    pub push: Option<PushReport>,
    /// With `dry_run`: the unified diff of every file.
    pub diff: Option<String>,
    pub events: Vec<EventRef>,
    pub timings: Timings,
}

impl SyncReport {
    /// Changes of one kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }
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

/// One file to write or delete, relative to the inventory folder.
#[derive(Clone, Debug)]
struct Edit {
    rel: String,
    old: Option<String>,
    new: Option<String>,
    /// Who the edit is for: a subscriber id, or `None` for plans.yaml.
    owner: Option<String>,
}

/// The sync's proposal before validation.
#[derive(Debug, Default)]
struct Proposal {
    edits: Vec<Edit>,
    changes: Vec<Change>,
    unchanged: usize,
    not_subscribers: usize,
    skipped: Vec<SkippedCustomer>,
    new_plans: Vec<AddedPlan>,
    /// Subscriber id -> billing key.
    keys: HashMap<String, String>,
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
    let (customers, scope_keys, mut skipped_keys) = fetch(opts, &mapping, &scope).await?;
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
        propose(
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
    let settled = settle(&inv, &mut proposal)?;
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
        report.diff = Some(unified_diff(&proposal.edits));
        report.timings.write_ms = ms(t.elapsed());
        return Ok(report);
    }

    let (Some(repo), Some(branch)) = (repo, branch) else {
        let t = Instant::now();
        write_files(&opts.inventory, &proposal.edits)?;
        report.written = !proposal.edits.is_empty();
        report.timings.write_ms = ms(t.elapsed());
        return Ok(report);
    };

    // Commit.
    let t = Instant::now();
    let changes: Vec<FileChange> = proposal
        .edits
        .iter()
        .map(|e| FileChange {
            path: format!("{}{}", repo.prefix(), e.rel),
            content: e.new.as_ref().map(|s| s.as_bytes().to_vec()),
        })
        .collect();
    if !changes.is_empty() {
        let who = mapping.bot.clone().unwrap_or_default();
        let message = commit_message(&report);
        let id = repo.commit(&branch, &changes, &message, &identity(&who))?;
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
    }
    report.timings.commit_ms = ms(t.elapsed());

    // Push.
    if let Some(remote_name) = &opts.push {
        let t = Instant::now();
        let pushed = push(
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

fn identity(b: &BotIdentity) -> Identity {
    Identity {
        name: b.name.clone(),
        email: b.email.clone(),
    }
}

/// The billing client named by the settings.
pub(crate) enum Client {
    Sonar(SonarClient),
    Splynx(SplynxClient),
}

impl Client {
    /// What a client is made from, as one string (secrets hashed, never kept in clear).
    fn settings_key(opts: &SyncOptions, m: &BillingMapping) -> Result<String, SyncError> {
        let mut h = Sha256::new();
        h.update(format!("{:?}|{:?}|", opts.source, opts.page_size).as_bytes());
        match opts.source {
            Source::Sonar => {
                let s = m
                    .sonar
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                h.update(s.url.as_bytes());
                h.update(b"|");
                h.update(resolve_secret(&s.token)?.expose().as_bytes());
            }
            Source::Splynx => {
                let s = m
                    .splynx
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                h.update(format!("{}|{:?}|", s.url, s.auth.mode).as_bytes());
                h.update(resolve_secret(&s.auth.key)?.expose().as_bytes());
                h.update(b"|");
                h.update(resolve_secret(&s.auth.secret)?.expose().as_bytes());
            }
        }
        Ok(hex::encode(h.finalize()))
    }

    fn new(opts: &SyncOptions, m: &BillingMapping) -> Result<Client, SyncError> {
        match opts.source {
            Source::Sonar => {
                let s = m
                    .sonar
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                let token = resolve_secret(&s.token)?;
                let mut c = SonarClient::new(&s.url, token, opts.http.clone())?;
                if let Some(n) = opts.page_size {
                    c = c.with_page_size(n);
                }
                Ok(Client::Sonar(c))
            }
            Source::Splynx => {
                let s = m
                    .splynx
                    .as_ref()
                    .ok_or(SyncError::NotConfigured(opts.source))?;
                let key = resolve_secret(&s.auth.key)?;
                let secret = resolve_secret(&s.auth.secret)?;
                let mut c = SplynxClient::new(&s.url, s.auth.mode, key, secret, opts.http.clone())?;
                if let Some(n) = opts.page_size {
                    c = c.with_page_size(n);
                }
                Ok(Client::Splynx(c))
            }
        }
    }

    async fn all(&self) -> Result<Vec<BillingCustomer>, BillingError> {
        match self {
            Client::Sonar(c) => c.accounts().await,
            Client::Splynx(c) => c.customers().await,
        }
    }

    async fn one(&self, id: u64) -> Result<Option<BillingCustomer>, BillingError> {
        match self {
            Client::Sonar(c) => c.account(id).await,
            Client::Splynx(c) => c.customer(id).await,
        }
    }

    async fn close(&self) {
        if let Client::Splynx(c) = self {
            // Best effort: an access token left behind expires on its own.
            c.logout().await;
        }
    }
}

/// Reads the customers in scope. Returns them, the keys in scope (`None`: all), and the keys
/// that cannot be read (skipped).
async fn fetch(
    opts: &SyncOptions,
    m: &BillingMapping,
    scope: &Scope,
) -> Result<
    (
        Vec<BillingCustomer>,
        Option<BTreeSet<String>>,
        Vec<SkippedCustomer>,
    ),
    SyncError,
> {
    let (client, kept) = match &opts.clients {
        Some(clients) => (clients.get(opts, m)?, true),
        None => (Arc::new(Client::new(opts, m)?), false),
    };
    let result = match scope {
        Scope::All => client.all().await.map(|c| (c, None, Vec::new())),
        Scope::Customers(keys) => {
            let mut out = Vec::new();
            let mut in_scope = BTreeSet::new();
            let mut skipped = Vec::new();
            let mut failure = None;
            for key in keys {
                let key = key.trim();
                let Ok(id) = key.parse::<u64>() else {
                    skipped.push(SkippedCustomer {
                        customer: key.to_string(),
                        subscriber: None,
                        reason: "not a billing customer id (digits)".into(),
                    });
                    continue;
                };
                let key = id.to_string();
                if !in_scope.insert(key) {
                    continue;
                }
                match client.one(id).await {
                    Ok(Some(c)) => out.push(c),
                    Ok(None) => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            match failure {
                Some(e) => Err(e),
                None => Ok((out, Some(in_scope), skipped)),
            }
        }
    };
    // A kept client stays logged in for the next sync.
    if !kept {
        client.close().await;
    }
    Ok(result?)
}

/// Where the text of an existing file comes from: the commit the sync starts from, or the
/// folder.
struct Originals<'a> {
    repo: Option<&'a Repo>,
    base: Option<git2::Oid>,
    root: PathBuf,
    /// The commit's files by path (one tree walk, on the first read).
    index: std::cell::OnceCell<HashMap<String, git2::Oid>>,
}

impl Originals<'_> {
    fn read(&self, rel: &str) -> Option<String> {
        let bytes = match (self.repo, self.base) {
            (Some(repo), Some(base)) => {
                let id = *self.index.get_or_init(|| repo.files_at(base)).get(rel)?;
                repo.read_blob(id)?
            }
            _ => std::fs::read(self.root.join(rel)).ok()?,
        };
        String::from_utf8(bytes).ok()
    }
}

fn subscriber_rel(s: &Subscriber) -> String {
    format!("subscribers/{}/{}.yaml", s.device, s.id)
}

/// The fields billing owns, taken from `mapped`; everything else kept from `old`.
fn merge(old: Option<&Subscriber>, mapped: &Subscriber, owns_outer_vlan: bool) -> Subscriber {
    let Some(old) = old else {
        return mapped.clone();
    };
    let mut s = old.clone();
    s.name = mapped.name.clone();
    s.device = mapped.device.clone();
    s.port = mapped.port;
    s.vlan = mapped.vlan;
    if owns_outer_vlan {
        s.outer_vlan = mapped.outer_vlan;
    }
    s.plan = mapped.plan.clone();
    s.status = mapped.status;
    s.managed_by = mapped.managed_by;
    s.endpoint = match (&mapped.endpoint, &old.endpoint) {
        (Some(new), Some(kept)) => {
            let mut e = kept.clone();
            e.mac = new.mac;
            Some(e)
        }
        (new, _) => new.clone(),
    };
    s
}

/// What changed between two versions of a subscriber, among the fields billing owns.
fn differences(old: &Subscriber, new: &Subscriber) -> Vec<String> {
    fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
        v.map_or_else(|| "none".to_string(), |v| v.to_string())
    }
    let mut out = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{name} {a} -> {b}"));
        }
    };
    field("status", status(*old.status), status(*new.status));
    field("plan", old.plan.to_string(), new.plan.to_string());
    field("device", old.device.to_string(), new.device.to_string());
    field("port", old.port.to_string(), new.port.to_string());
    field("vlan", old.vlan.to_string(), new.vlan.to_string());
    field(
        "outer_vlan",
        opt(old.outer_vlan.as_ref()),
        opt(new.outer_vlan.as_ref()),
    );
    field(
        "mac",
        opt(old.endpoint.as_ref().map(|e| e.mac)),
        opt(new.endpoint.as_ref().map(|e| e.mac)),
    );
    field("name", opt(old.name.as_ref()), opt(new.name.as_ref()));
    field(
        "managed_by",
        old.managed_by.as_str().to_string(),
        new.managed_by.as_str().to_string(),
    );
    out
}

fn status(s: Status) -> String {
    match s {
        Status::Active => "active".into(),
        Status::Suspended => "suspended".into(),
    }
}

fn summary(s: &Subscriber) -> String {
    let mut parts = vec![
        format!("{} port {}", s.device, s.port),
        format!("VLAN {}", s.vlan),
    ];
    if let Some(o) = &s.outer_vlan {
        parts.push(format!("outer VLAN {o}"));
    }
    if let Some(e) = &s.endpoint {
        parts.push(format!("MAC {}", e.mac));
    }
    parts.push(format!("plan {}", s.plan));
    if *s.status == Status::Suspended {
        parts.push("suspended".into());
    }
    parts.join(", ")
}

/// Maps the customers and proposes the files to write. Pure apart from reading originals.
fn propose(
    inv: &Inventory,
    originals: &Originals<'_>,
    rules: SystemRules<'_>,
    mapping: &BillingMapping,
    customers: &[BillingCustomer],
    scope: Option<&BTreeSet<String>>,
) -> Result<Proposal, SyncError> {
    let me = match rules {
        SystemRules::Sonar(_) => ManagedBy::Sonar,
        SystemRules::Splynx(_) => ManagedBy::Splynx,
    };
    let prefix = format!("{}-", rules.prefix());
    let key_of = |id: &str| id.strip_prefix(&prefix).map(str::to_string);
    let in_scope = |s: &Subscriber| match scope {
        None => true,
        Some(keys) => key_of(s.id.as_str()).is_some_and(|k| keys.contains(&k)),
    };
    let rel_of = |d: &Doc<Subscriber>| {
        inv.file(d.source)
            .map(|f| f.rel.clone())
            .unwrap_or_else(|| subscriber_rel(d))
    };

    // Existing subscribers by id.
    let by_id: HashMap<&str, &Doc<Subscriber>> = inv
        .desired
        .subscribers
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();
    // Others: every subscriber this run does not re-map.
    let others: Vec<Subscriber> = inv
        .desired
        .subscribers
        .iter()
        .filter(|d| d.managed_by != me || !in_scope(d))
        .map(|d| d.value.clone())
        .collect();
    let devices: Vec<_> = inv
        .desired
        .devices
        .iter()
        .map(|d| d.value.clone())
        .collect();
    let plans = inv.desired.plans().cloned().unwrap_or_default();
    let ctx = MapContext {
        devices: &devices,
        plans: &plans,
        matching: &mapping.plans,
        others: &others,
    };
    let outcome = map_customers(customers, rules, &ctx);
    let owns_outer_vlan = match rules {
        SystemRules::Sonar(m) => m.fields.outer_vlan.is_some(),
        SystemRules::Splynx(m) => m.fields.outer_vlan.is_some(),
    };

    let mut p = Proposal::default();
    let mut handled: BTreeSet<String> = BTreeSet::new();
    for s in &outcome.skipped {
        let id = format!("{prefix}{}", s.customer);
        p.skipped.push(SkippedCustomer {
            customer: s.customer.clone(),
            subscriber: by_id.contains_key(id.as_str()).then_some(id.clone()),
            reason: s.reason.to_string(),
        });
        handled.insert(id);
    }

    for mapped in &outcome.subscribers {
        let id = mapped.id.to_string();
        let key = key_of(&id).unwrap_or_default();
        handled.insert(id.clone());
        p.keys.insert(id.clone(), key.clone());
        let old = by_id.get(id.as_str()).copied();
        if let Some(o) = old
            && o.managed_by != me
        {
            p.skipped.push(SkippedCustomer {
                customer: key,
                subscriber: Some(id),
                reason: format!(
                    "subscriber exists with `managed_by: {}`; the sync never touches it",
                    o.managed_by.as_str()
                ),
            });
            continue;
        }
        let new = merge(old.map(|d| &d.value), mapped, owns_outer_vlan);
        if old.is_some_and(|o| o.value == new) {
            p.unchanged += 1;
            continue;
        }
        let new_rel = subscriber_rel(&new);
        let old_rel = old.map(rel_of);
        let original = old_rel.as_deref().and_then(|r| originals.read(r));
        let written = render_subscriber(&new, original.as_deref(), old_rel.as_deref(), &new_rel)?;
        let text = match written {
            Ok(t) => t,
            Err(reason) => {
                p.skipped.push(SkippedCustomer {
                    customer: key,
                    subscriber: Some(id),
                    reason,
                });
                continue;
            }
        };
        let (kind, details) = match old {
            None => (ChangeKind::Created, vec![summary(&new)]),
            Some(o) => {
                let kind = if *o.status == Status::Active && *new.status == Status::Suspended {
                    ChangeKind::Suspended
                } else {
                    ChangeKind::Updated
                };
                (kind, differences(o, &new))
            }
        };
        if let Some(old_rel) = old_rel.as_ref().filter(|r| **r != new_rel) {
            // Moved to another device: the old file goes.
            p.edits.push(Edit {
                rel: old_rel.clone(),
                old: original.clone(),
                new: None,
                owner: Some(id.clone()),
            });
        }
        let same_path_original = if old_rel.as_deref() == Some(new_rel.as_str()) {
            original
        } else {
            None
        };
        p.edits.push(Edit {
            rel: new_rel,
            old: same_path_original,
            new: Some(text),
            owner: Some(id.clone()),
        });
        p.changes.push(Change {
            subscriber: id,
            kind,
            device: new.device.to_string(),
            details,
        });
    }

    // Subscribers billing owns but no longer serves.
    let served: BTreeSet<&str> = customers.iter().map(|c| c.key.as_str()).collect();
    let absent: BTreeSet<&str> = outcome.absent.iter().map(String::as_str).collect();
    p.not_subscribers = absent
        .iter()
        .filter(|key| !by_id.contains_key(format!("{prefix}{key}").as_str()))
        .count();
    for d in &inv.desired.subscribers {
        let id = d.id.to_string();
        if d.managed_by != me || !in_scope(d) || handled.contains(&id) {
            continue;
        }
        let key = key_of(&id).unwrap_or_else(|| id.clone());
        let why = if absent.contains(key.as_str()) {
            "customer no longer served in billing"
        } else if served.contains(key.as_str()) {
            "customer has no subscriber in billing"
        } else {
            "customer gone from billing"
        };
        let rel = rel_of(d);
        p.keys.insert(id.clone(), key.clone());
        match *mapping.removed {
            RemovalPolicy::Delete => {
                p.edits.push(Edit {
                    old: originals.read(&rel),
                    rel,
                    new: None,
                    owner: Some(id.clone()),
                });
                p.changes.push(Change {
                    subscriber: id,
                    kind: ChangeKind::Deleted,
                    device: d.device.to_string(),
                    details: vec![why.into()],
                });
            }
            RemovalPolicy::Suspend => {
                if *d.status == Status::Suspended {
                    p.unchanged += 1;
                    continue;
                }
                let mut new = d.value.clone();
                new.status = crate::model::Located::bare(Status::Suspended);
                let original = originals.read(&rel);
                let text = match render_subscriber(&new, original.as_deref(), Some(&rel), &rel)? {
                    Ok(t) => t,
                    Err(reason) => {
                        p.skipped.push(SkippedCustomer {
                            customer: key,
                            subscriber: Some(id),
                            reason,
                        });
                        continue;
                    }
                };
                p.edits.push(Edit {
                    rel,
                    old: original,
                    new: Some(text),
                    owner: Some(id.clone()),
                });
                p.changes.push(Change {
                    subscriber: id,
                    kind: ChangeKind::Suspended,
                    device: d.device.to_string(),
                    details: vec![why.into()],
                });
            }
        }
    }

    // Plans the mapping created, for the subscribers that use them.
    let plan_of: HashMap<&str, &str> = outcome
        .subscribers
        .iter()
        .map(|s| (s.id.as_str(), s.plan.as_str()))
        .collect();
    let used: BTreeSet<&str> = p
        .changes
        .iter()
        .filter_map(|c| plan_of.get(c.subscriber.as_str()).copied())
        .collect();
    let new_plans: Vec<_> = outcome
        .new_plans
        .iter()
        .filter(|n| used.contains(n.name.as_str()) && plans.get(n.name.as_str()).is_none())
        .collect();
    if !new_plans.is_empty() {
        let mut all: BTreeMap<Ident, crate::model::BandwidthPlan> = plans.0.clone();
        for n in &new_plans {
            all.insert(n.name.clone(), n.plan.clone());
            p.new_plans.push(AddedPlan {
                name: n.name.to_string(),
                down_mbps: n.plan.down_mbps.get().into(),
                up_mbps: n.plan.up_mbps.get().into(),
            });
        }
        let rel = "plans.yaml".to_string();
        let original = originals.read(&rel);
        let text = render(FileKind::Plans, &Plans(all), original.as_deref()).map_err(|e| {
            SyncError::Render {
                path: rel.clone(),
                source: e,
            }
        })?;
        p.edits.push(Edit {
            rel,
            old: original,
            new: Some(text),
            owner: None,
        });
    }
    Ok(p)
}

/// A subscriber's new file: its text (keeping the original's top comments), or why the
/// customer is skipped (the original at `old_rel` has a comment inside the document, which
/// rewriting would drop). Any other failure to render is the sync's error, at `new_rel`.
fn render_subscriber(
    new: &Subscriber,
    original: Option<&str>,
    old_rel: Option<&str>,
    new_rel: &str,
) -> Result<Result<String, String>, SyncError> {
    match render(FileKind::Subscriber, new, original) {
        Ok(text) => Ok(Ok(text)),
        Err(CanonicalError::InnerComment { line }) => Ok(Err(format!(
            "{} has a comment on line {line}, inside the document, which rewriting would drop",
            old_rel.unwrap_or_default()
        ))),
        Err(e) => Err(SyncError::Render {
            path: new_rel.to_string(),
            source: e,
        }),
    }
}

/// Validates the inventory with the proposal applied, and drops the subscribers whose files
/// make it invalid until it validates. Errors in files the sync does not write are refused.
/// Returns the inventory that results, which validates.
fn settle(inv: &Inventory, p: &mut Proposal) -> Result<Inventory, SyncError> {
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
fn apply(inv: &Inventory, edits: &[Edit]) -> (Inventory, HashMap<SourceId, Option<String>>) {
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

fn unified_diff(edits: &[Edit]) -> String {
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

fn write_files(root: &std::path::Path, edits: &[Edit]) -> Result<(), SyncError> {
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

/// The commit message: a summary line, each change, the skipped customers, and the trailers.
pub fn commit_message(r: &SyncReport) -> String {
    let mut counts = Vec::new();
    for kind in [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Suspended,
        ChangeKind::Deleted,
    ] {
        let n = r.count(kind);
        if n > 0 {
            counts.push(format!("{n} {}", kind.as_str()));
        }
    }
    if !r.new_plans.is_empty() {
        counts.push(format!("{} plans added", r.new_plans.len()));
    }
    if counts.is_empty() {
        counts.push("no subscriber changes".into());
    }
    let scope = match &r.customers {
        None => String::new(),
        Some(k) => format!(" (customers {})", k.join(", ")),
    };
    let mut m = format!(
        "billing sync from {}{scope}: {}\n",
        r.source,
        counts.join(", ")
    );
    for kind in [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Suspended,
        ChangeKind::Deleted,
    ] {
        let of_kind: Vec<&Change> = r.changes.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        m.push_str(&format!("\n{}:\n", capitalise(kind.as_str())));
        for c in of_kind {
            m.push_str(&format!("  {}: {}\n", c.subscriber, c.details.join(", ")));
        }
    }
    if !r.new_plans.is_empty() {
        m.push_str("\nPlans added to plans.yaml:\n");
        for p in &r.new_plans {
            m.push_str(&format!(
                "  {}: {}/{} Mbps\n",
                p.name, p.down_mbps, p.up_mbps
            ));
        }
    }
    if !r.skipped.is_empty() {
        m.push_str("\nSkipped (left as they are):\n");
        for s in &r.skipped {
            m.push_str(&format!("  {}\n", one_line(&s.to_string())));
        }
    }
    m.push_str(&format!("\nBilling-Source: {}\n", r.source));
    for e in &r.events {
        m.push_str(&format!("Billing-Event-Id: {}\n", one_line(&e.id)));
    }
    m
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Pushes `branch`, fast-forward only; when the remote moved, fetches it, replays the local
/// commits onto it, re-validates the inventory there, and tries again. Returns the report and
/// the new local tip when the commits were replayed.
async fn push(
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

    fn sub(yaml: &str) -> Subscriber {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const OLD: &str = "id: splynx-7\nname: Unit 7\ndevice: gam-a\nport: 7\nendpoint: { mac: 00:0e:d8:00:00:07, name: cpe-7, description: Lobby }\nvlan: 207\ntagged: true\nallowed_vlans: [300]\nplan: 100M\nprotect: true\nmanaged_by: splynx\n";

    #[test]
    fn merge_takes_only_what_billing_owns() {
        let old = sub(OLD);
        let mapped = sub(
            "id: splynx-7\nname: Unit 7B\ndevice: gam-a\nport: 8\nendpoint: { mac: 00:0e:d8:00:00:08 }\nvlan: 208\nouter_vlan: 120\nplan: 500M\nstatus: suspended\nmanaged_by: splynx\n",
        );
        let m = merge(Some(&old), &mapped, false);
        assert_eq!(m.name.as_ref().unwrap().as_str(), "Unit 7B");
        assert_eq!((m.port.get(), m.vlan.get()), (8, 208));
        assert_eq!(m.plan.as_str(), "500M");
        assert_eq!(*m.status, Status::Suspended);
        let e = m.endpoint.as_ref().unwrap();
        assert_eq!(e.mac.to_string(), "00:0e:d8:00:00:08");
        assert_eq!(e.name.as_ref().unwrap().as_str(), "cpe-7", "kept");
        assert!(m.tagged && m.protect, "kept");
        assert_eq!(m.allowed_vlans.len(), 1, "kept");
        assert_eq!(
            m.outer_vlan, None,
            "not owned unless the mapping names the field"
        );
        assert_eq!(
            merge(Some(&old), &mapped, true).outer_vlan.unwrap().get(),
            120
        );
        assert_eq!(
            differences(&old, &m),
            [
                "status active -> suspended",
                "plan 100M -> 500M",
                "port 7 -> 8",
                "vlan 207 -> 208",
                "mac 00:0e:d8:00:00:07 -> 00:0e:d8:00:00:08",
                "name Unit 7 -> Unit 7B"
            ]
        );
        assert_eq!(merge(None, &mapped, false), mapped);
    }

    #[test]
    fn the_commit_message_lists_changes_skips_and_trailers() {
        let r = SyncReport {
            source: Source::Splynx,
            customers: Some(vec!["7".into()]),
            read: 1,
            changes: vec![
                Change {
                    subscriber: "splynx-7".into(),
                    kind: ChangeKind::Updated,
                    device: "gam-a".into(),
                    details: vec!["plan 100M -> 500M".into()],
                },
                Change {
                    subscriber: "splynx-8".into(),
                    kind: ChangeKind::Deleted,
                    device: "gam-a".into(),
                    details: vec!["customer gone from billing".into()],
                },
            ],
            unchanged: 0,
            not_subscribers: 0,
            skipped: vec![SkippedCustomer {
                customer: "9".into(),
                subscriber: None,
                reason: "field `vlan` is missing".into(),
            }],
            new_plans: vec![],
            files: vec![],
            dry_run: false,
            written: false,
            branch: None,
            commit: None,
            push: None,
            diff: None,
            events: vec![
                EventRef {
                    id: "ev-1\nX".into(),
                },
                EventRef { id: "ev-2".into() },
            ],
            timings: Timings::default(),
        };
        assert_eq!(
            commit_message(&r),
            "billing sync from splynx (customers 7): 1 updated, 1 deleted\n\
             \n\
             Updated:\n  splynx-7: plan 100M -> 500M\n\
             \n\
             Deleted:\n  splynx-8: customer gone from billing\n\
             \n\
             Skipped (left as they are):\n  customer 9: field `vlan` is missing\n\
             \n\
             Billing-Source: splynx\n\
             Billing-Event-Id: ev-1 X\n\
             Billing-Event-Id: ev-2\n"
        );
    }
}
