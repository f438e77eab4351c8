//! Plans on pull requests: the controller, next to the GAMs, plans each pull (merge) request's
//! head against the live devices and keeps one comment and a commit status on it up to date.
//!
//! A pull request event reaches `POST /hooks/git` and is verified there like a push (see
//! [`super::hooks`]); [`receive`] reads it and queues it, and the hook answers 202 at once. One
//! task ([`work`]) takes the queue: for an opened, synchronized or reopened pull request it sets
//! the status `pending`, fetches the head (`refs/pull/N/head`, GitLab's
//! `refs/merge-requests/N/head`) into the controller's clone under `refs/gamops/pull/N` (never
//! `FETCH_HEAD`, which the loop's own fetch reads), validates it, reads the devices it touches
//! (against the target the controller is converged to) over SNMP, and plans them, never
//! applying anything. Events for the same pull request that arrive meanwhile coalesce: only the
//! newest head is planned, and a plan whose head is no longer the newest is dropped, never
//! posted. The comment (found again by [`crate::forge::MARKER`]) holds the summary line, each
//! device collapsed, and the service interruptions called out; a plan longer than the forge
//! takes is cut, closed cleanly and linked to its full text at `GET
//! /api/v1/reviews/{forge}/{number}`. The status is `success` when the head is valid and within
//! the safety limits, `failure` with the reason otherwise.
//!
//! When the pull request is merged, the loop applies the merge commit as it applies any commit;
//! after the pass that has it as its target (or a descendant), the comment gets each device's
//! outcome and the run. A forge that fails is retried with backoff, then again later; it never
//! stops the controller. What the controller knows of open pull requests lives in memory: a
//! restarted controller finds its comment again by the marker on the next event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::forge::{self, Forge, State};
use crate::inventory::{Inventory, ParseCache};
use crate::model::{ForgeKind, PullRequests};
use crate::plan::{Outcome, Plan, PlanOptions};

use super::source::{Refused, short};
use super::{Shared, Trigger};

/// A pull request: its forge's name and its number.
type Key = (&'static str, u64);

/// How many pull requests are kept before those closed or applied are forgotten.
const MAX_REVIEWS: usize = 500;

/// What a pull request event asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Opened, new commits pushed, reopened: plan the head.
    Plan,
    /// Merged: report the outcome once the loop has applied `merge_commit`.
    Merged,
    /// Closed without merging: nothing more to do.
    Closed,
}

/// A pull request event, read from a forge's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullEvent {
    pub forge: ForgeKind,
    pub number: u64,
    pub action: Action,
    pub head: String,
    pub merge_commit: Option<String>,
    /// From another repository than the one it merges into.
    pub fork: bool,
}

/// Work for the task.
#[derive(Debug)]
pub enum Job {
    Event(PullEvent),
    /// A pass of the loop ended with this target (and this commit refused, if any).
    Passed {
        target: String,
        refused: Option<Refused>,
    },
}

/// One pull request as the controller last planned it (`GET /api/v1/reviews/...`).
#[derive(Clone, Debug, Serialize)]
pub struct Review {
    pub forge: &'static str,
    pub number: u64,
    /// The head commit planned.
    pub head: String,
    /// The controller's target the head was compared with.
    pub target: Option<String>,
    /// planning, planned, merged (waiting for the apply), applied, closed.
    pub state: &'static str,
    /// The commit status set on the head.
    pub status: Option<State>,
    pub description: String,
    /// The whole comment, never cut.
    pub markdown: String,
    /// The plan, when the head was valid.
    pub plan: Option<Plan>,
    /// The last forge error, when posting failed (it is tried again).
    pub problem: Option<String>,
    #[serde(skip)]
    comment: Option<u64>,
    #[serde(skip)]
    dirty: bool,
    #[serde(skip)]
    merge: Option<String>,
}

/// What the HTTP side and the loop share with the task.
pub struct Pulls {
    tx: mpsc::UnboundedSender<Job>,
    settings: RwLock<Option<PullRequests>>,
    reviews: Mutex<HashMap<Key, Review>>,
}

impl Pulls {
    pub fn new() -> (Pulls, mpsc::UnboundedReceiver<Job>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Pulls {
                tx,
                settings: RwLock::new(None),
                reviews: Mutex::new(HashMap::new()),
            },
            rx,
        )
    }

    /// `controller.pull_requests` of the target commit.
    pub fn configure(&self, settings: Option<PullRequests>) {
        if let Ok(mut s) = self.settings.write() {
            *s = settings;
        }
    }

    fn settings(&self) -> Option<PullRequests> {
        self.settings.read().ok()?.clone()
    }

    /// Tells the task that a pass ended.
    pub fn passed(&self, target: &str, refused: Option<Refused>) {
        let _ = self.tx.send(Job::Passed {
            target: target.to_string(),
            refused,
        });
    }

    /// The review of a pull request, for the API.
    pub fn review(&self, forge: &str, number: u64) -> Option<Review> {
        let reviews = self.reviews.lock().ok()?;
        reviews
            .iter()
            .find(|((f, n), _)| *f == forge && *n == number)
            .map(|(_, r)| r.clone())
    }

    fn any_dirty(&self) -> bool {
        self.reviews
            .lock()
            .is_ok_and(|r| r.values().any(|r| r.dirty))
    }

    fn with<T>(&self, key: Key, f: impl FnOnce(&mut Review) -> T) -> Option<T> {
        let mut reviews = self.reviews.lock().ok()?;
        reviews.get_mut(&key).map(f)
    }
}

/// Reads a verified delivery as a pull request event. `None` when it is none (a push, a
/// ping); else what to answer.
pub fn receive(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Option<(u16, Value)> {
    let event = match parse(headers, body)? {
        Ok(Some(e)) => e,
        Ok(None) => {
            return Some((
                200,
                serde_json::json!({ "ignored": "a pull request action that needs no plan" }),
            ));
        }
        Err(why) => return Some((400, serde_json::json!({ "error": why }))),
    };
    // Only the leader has a target to plan against and posts; a follower's answer lets the
    // forge show the delivery as failed rather than a plan against nothing.
    let leading = shared.leading();
    if !leading {
        return Some((
            503,
            serde_json::json!({ "error": "this controller is not leading; the leader plans pull requests" }),
        ));
    }
    let Some(settings) = shared.pulls.settings() else {
        return Some((
            200,
            serde_json::json!({ "ignored": "controller.pull_requests is not set in the target commit" }),
        ));
    };
    if settings.forge.kind != event.forge {
        return Some((
            200,
            serde_json::json!({ "ignored": format!(
                "a {} event; controller.pull_requests.forge is {}",
                event.forge.as_str(),
                settings.forge.kind.as_str()
            ) }),
        ));
    }
    if event.fork && !settings.forks && event.action == Action::Plan {
        return Some((
            200,
            serde_json::json!({ "ignored": "a pull request from a fork; controller.pull_requests.forks is false" }),
        ));
    }
    let number = event.number;
    let _ = shared.pulls.tx.send(Job::Event(event));
    Some((202, serde_json::json!({ "queued": number })))
}

/// The event in a payload: `None` when the delivery is not a pull request event,
/// `Some(Ok(None))` for an action that needs nothing.
fn parse(headers: &HeaderMap, body: &[u8]) -> Option<Result<Option<PullEvent>, String>> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Gitea and Forgejo also send X-GitHub-Event: their own header decides.
    let forge = if let Some(e) = header("x-gitea-event").or(header("x-forgejo-event")) {
        (e == "pull_request").then_some(ForgeKind::Gitea)?
    } else if let Some(e) = header("x-gitlab-event") {
        (e == "Merge Request Hook").then_some(ForgeKind::Gitlab)?
    } else {
        (header("x-github-event")? == "pull_request").then_some(ForgeKind::Github)?
    };
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(Err(format!("the pull request event is not JSON: {e}"))),
    };
    Some(match forge {
        ForgeKind::Gitlab => gitlab_event(&v),
        _ => github_event(forge, &v),
    })
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// GitHub's and Gitea's `pull_request` payload (Gitea says `synchronized`).
fn github_event(forge: ForgeKind, v: &Value) -> Result<Option<PullEvent>, String> {
    let pr = &v["pull_request"];
    let number = v["number"]
        .as_u64()
        .or(pr["number"].as_u64())
        .ok_or("the event has no pull request number")?;
    let action = match v["action"].as_str().unwrap_or_default() {
        "opened" | "synchronize" | "synchronized" | "reopened" => Action::Plan,
        "closed" if pr["merged"].as_bool() == Some(true) => Action::Merged,
        "closed" => Action::Closed,
        _ => return Ok(None),
    };
    let head = text(&pr["head"]["sha"]).ok_or("the event has no pull_request.head.sha")?;
    let repo = |side: &str| pr[side]["repo"]["full_name"].as_str().map(str::to_string);
    Ok(Some(PullEvent {
        forge,
        number,
        action,
        head,
        merge_commit: text(&pr["merge_commit_sha"]),
        fork: repo("head").is_some() && repo("head") != repo("base"),
    }))
}

/// GitLab's `Merge Request Hook`.
fn gitlab_event(v: &Value) -> Result<Option<PullEvent>, String> {
    let mr = &v["object_attributes"];
    let number = mr["iid"]
        .as_u64()
        .ok_or("the event has no object_attributes.iid")?;
    let action = match mr["action"].as_str().unwrap_or_default() {
        "open" | "reopen" | "update" => Action::Plan,
        "merge" => Action::Merged,
        "close" => Action::Closed,
        _ => return Ok(None),
    };
    let head = text(&mr["last_commit"]["id"])
        .ok_or("the event has no object_attributes.last_commit.id")?;
    Ok(Some(PullEvent {
        forge: ForgeKind::Gitlab,
        number,
        action,
        head,
        merge_commit: text(&mr["merge_commit_sha"]),
        fork: mr["source_project_id"] != mr["target_project_id"],
    }))
}

/// Where the task reads commits.
pub struct Context {
    /// The controller's clone of the remote.
    pub clone: PathBuf,
    /// The inventory folder in it.
    pub inventory: PathBuf,
    pub concurrency: usize,
}

/// The task: plans queued pull requests one at a time, newest head only, and reports merges.
pub async fn work(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    ctx: Context,
    cancel: CancellationToken,
) {
    let mut queue = Queue::default();
    let mut retry_wait = Duration::from_secs(15);
    let mut retry_at: Option<Instant> = None;
    loop {
        if queue.pending.is_empty() && queue.passed.is_none() {
            let sleep = retry_at.map_or(Duration::from_secs(3600), |at| {
                at.saturating_duration_since(Instant::now())
            });
            tokio::select! {
                () = cancel.cancelled() => return,
                job = rx.recv() => match job {
                    Some(job) => queue.add(job),
                    None => return,
                },
                () = tokio::time::sleep(sleep) => {}
            }
        }
        queue.drain(&mut rx);
        if let Some((_, event)) = queue.pending.pop_first() {
            handle(&shared, &ctx, event, &mut rx, &mut queue).await;
        } else if let Some((target, refused)) = queue.passed.take() {
            merged(&shared, &ctx, &target, refused.as_ref()).await;
        }
        // Comments and statuses that could not be posted: again, with a growing wait.
        if retry_at.is_some_and(|at| Instant::now() >= at) {
            retry_at = None;
            if repost(&shared).await {
                retry_wait = (retry_wait * 2).min(Duration::from_secs(600));
            } else {
                retry_wait = Duration::from_secs(15);
            }
        }
        if retry_at.is_none() && shared.pulls.any_dirty() {
            retry_at = Some(Instant::now() + retry_wait);
        }
    }
}

/// Events waiting, one per pull request (the newest), and the last pass.
#[derive(Default)]
struct Queue {
    pending: BTreeMap<u64, PullEvent>,
    passed: Option<(String, Option<Refused>)>,
}

impl Queue {
    fn add(&mut self, job: Job) {
        match job {
            Job::Event(e) => {
                // A merge or close after a push still needs its own handling, and the push's
                // plan is moot: the newest event of a pull request wins.
                self.pending.insert(e.number, e);
            }
            Job::Passed { target, refused } => self.passed = Some((target, refused)),
        }
    }

    fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Job>) {
        while let Ok(job) = rx.try_recv() {
            self.add(job);
        }
    }
}

fn key(e: &PullEvent) -> Key {
    (e.forge.as_str(), e.number)
}

/// The link to a review's full text.
fn link(settings: &PullRequests, forge: ForgeKind, number: u64) -> String {
    let path = format!("/api/v1/reviews/{}/{number}", forge.as_str());
    match &settings.url {
        Some(url) => format!("{}{path}", url.trim_end_matches('/')),
        None => path,
    }
}

async fn handle(
    shared: &Arc<Shared>,
    ctx: &Context,
    event: PullEvent,
    rx: &mut mpsc::UnboundedReceiver<Job>,
    queue: &mut Queue,
) {
    let Some(settings) = shared.pulls.settings() else {
        return;
    };
    let forge = match Forge::new(&settings.forge, forge::Retry::default()) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(
                pr = event.number,
                "cannot reach the forge: {e}; {}",
                e.hint()
            );
            return;
        }
    };
    let k = key(&event);
    match event.action {
        Action::Closed => {
            shared.pulls.with(k, |r| r.state = "closed");
        }
        Action::Merged => {
            let known = shared
                .pulls
                .with(k, |r| {
                    r.state = "merged";
                    r.merge = event.merge_commit.clone();
                })
                .is_some();
            if known {
                // Fetch the branch now: the pass that applies it tells the task.
                shared.trigger(Trigger::Commit);
            }
        }
        Action::Plan => {
            plan_head(shared, ctx, &settings, &forge, event, rx, queue).await;
        }
    }
}

/// Plans one head and posts it, unless a newer head of the same pull request arrives first.
async fn plan_head(
    shared: &Arc<Shared>,
    ctx: &Context,
    settings: &PullRequests,
    forge: &Forge,
    event: PullEvent,
    rx: &mut mpsc::UnboundedReceiver<Job>,
    queue: &mut Queue,
) {
    let k = key(&event);
    let started = Instant::now();
    let url = link(settings, event.forge, event.number);
    let absolute = settings.url.is_some().then_some(url.as_str());
    {
        let mut reviews = match shared.pulls.reviews.lock() {
            Ok(r) => r,
            Err(_) => return,
        };
        // Memory stays bounded: past the cap, pull requests that are over are forgotten.
        if reviews.len() >= MAX_REVIEWS && !reviews.contains_key(&k) {
            reviews.retain(|_, r| !matches!(r.state, "closed" | "applied"));
        }
        let r = reviews.entry(k).or_insert_with(|| Review {
            forge: event.forge.as_str(),
            number: event.number,
            head: String::new(),
            target: None,
            state: "planning",
            status: None,
            description: String::new(),
            markdown: String::new(),
            plan: None,
            problem: None,
            comment: None,
            dirty: false,
            merge: None,
        });
        r.head = event.head.clone();
        r.state = "planning";
    }
    if let Err(e) = forge
        .set_status(
            &event.head,
            State::Pending,
            "planning against the live devices",
            absolute,
        )
        .await
    {
        tracing::warn!(pr = event.number, "{e}; {}", e.hint());
    }

    let Some(outcome) = plan(shared, ctx, &event).await else {
        tracing::info!(pr = event.number, head = %short(&event.head), "the pull request's head moved on; this plan is dropped");
        return;
    };
    // A newer head of this pull request came meanwhile: this plan is moot.
    queue.drain(rx);
    if queue
        .pending
        .get(&event.number)
        .is_some_and(|newer| newer.head != event.head)
    {
        tracing::info!(pr = event.number, head = %short(&event.head), "a newer head arrived; this plan is dropped");
        return;
    }
    let (state, description, body, plan, target) = outcome;
    let markdown = format!(
        "{}\n{body}\n_Planned by the gamops controller against the live devices in {} ms; \
         [the full plan]({url})._\n",
        forge::MARKER,
        started.elapsed().as_millis()
    );
    shared.pulls.with(k, |r| {
        r.state = "planned";
        r.status = Some(state);
        r.description = description;
        r.markdown = markdown;
        r.plan = plan;
        r.target = target;
        r.dirty = true;
    });
    post(shared, forge, settings, k).await;
}

/// Posts a review's comment (cut to the forge's limit) and its status.
async fn post(shared: &Shared, forge: &Forge, settings: &PullRequests, k: Key) {
    let Some(review) = shared.pulls.with(k, |r| r.clone()) else {
        return;
    };
    let url = link(settings, forge.kind, review.number);
    let body = fit(&review.markdown, forge.comment_limit(), &url);
    let mut problem = None;
    let mut comment = review.comment;
    match forge
        .upsert_comment(review.number, review.comment, &body)
        .await
    {
        Ok(id) => comment = Some(id),
        Err(e) => problem = Some(format!("{e}; {}", e.hint())),
    }
    if let Some(state) = review.status
        && review.state != "applied"
        && let Err(e) = forge
            .set_status(
                &review.head,
                state,
                &review.description,
                settings.url.is_some().then_some(url.as_str()),
            )
            .await
    {
        problem = Some(format!("{e}; {}", e.hint()));
    }
    if let Some(p) = &problem {
        tracing::warn!(pr = review.number, "{p}");
    }
    shared.pulls.with(k, |r| {
        // Only if nothing newer was written meanwhile.
        if r.markdown == review.markdown {
            r.dirty = problem.is_some();
        }
        r.comment = comment;
        r.problem = problem;
    });
}

/// Posts every review whose last post failed; whether any still fails.
async fn repost(shared: &Shared) -> bool {
    let dirty: Vec<Key> = match shared.pulls.reviews.lock() {
        Ok(r) => r.iter().filter(|(_, r)| r.dirty).map(|(k, _)| *k).collect(),
        Err(_) => return false,
    };
    if dirty.is_empty() {
        return false;
    }
    let Some(settings) = shared.pulls.settings() else {
        return false;
    };
    let Ok(forge) = Forge::new(&settings.forge, forge::Retry::default()) else {
        return true;
    };
    let mut failed = false;
    for k in dirty {
        post(shared, &forge, &settings, k).await;
        failed |= shared.pulls.with(k, |r| r.dirty).unwrap_or(false);
    }
    failed
}

type Planned = (State, String, String, Option<Plan>, Option<String>);

/// Fetches, validates and plans the head: the status, its description, the comment's body,
/// the plan and the target compared with.
/// `None` when the pull request's head is no longer `event.head`.
async fn plan(shared: &Shared, ctx: &Context, event: &PullEvent) -> Option<Planned> {
    let fail = |why: String, body: String| Some((State::Failure, why, body, None, None));
    let refspec = match event.forge {
        ForgeKind::Gitlab => format!("refs/merge-requests/{}/head", event.number),
        _ => format!("refs/pull/{}/head", event.number),
    };
    let local = format!("refs/gamops/pull/{}", event.number);
    match crate::git::remote::fetch_ref(&ctx.clone, "origin", &refspec, &local).await {
        // The forge's head moved on (an event delivered late or again): a plan of this head
        // must not be posted over the newer one's.
        Ok(fetched)
            if !fetched
                .to_string()
                .starts_with(&event.head.to_ascii_lowercase()) =>
        {
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            let why = format!("cannot fetch {refspec}: {e}");
            return fail(
                why.clone(),
                format!("### gamops plan: not planned\n\n{why}\n"),
            );
        }
    }
    let head = event.head.clone();
    let Some(target) = shared.read(|s| s.target.clone()).flatten() else {
        let why = "the controller has no valid target yet; push again once it has one".to_string();
        return fail(
            why.clone(),
            format!("### gamops plan: not planned\n\n{why}\n"),
        );
    };
    let dir = ctx.inventory.clone();
    let (head_c, target_c) = (head.clone(), target.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        let mut cache = ParseCache::default();
        let base = Inventory::load_rev_cached(&dir, &target_c, &mut cache);
        let head = Inventory::load_rev_cached(&dir, &head_c, &mut cache);
        (base, head)
    })
    .await;
    let (base, head_inv) = match loaded {
        Ok((Ok(base), Ok(head))) => (base, head),
        Ok((_, Err(e))) | Ok((Err(e), _)) => {
            let why = format!("commit {} cannot be read: {e}", short(&head));
            return fail(
                why.clone(),
                format!("### gamops plan: not planned\n\n{why}\n"),
            );
        }
        Err(e) => {
            let why = format!("reading the commit failed: {e}");
            return fail(
                why.clone(),
                format!("### gamops plan: not planned\n\n{why}\n"),
            );
        }
    };
    let diagnostics = head_inv.validate();
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let report = crate::inventory::report::Report::new(&head_inv, &diagnostics).to_text(false);
        let first: Vec<&str> = report
            .lines()
            .filter(|l| l.contains(": error"))
            .take(3)
            .collect();
        let why = format!("not valid ({errors} error(s)): {}", first.join("; "));
        let body = format!(
            "### gamops plan: not valid, {errors} error(s); nothing planned\n\n\
             Head `{head}` does not validate:\n\n{}\n",
            crate::plan::revisions::render::fenced("", &report)
        );
        return fail(why, body);
    }
    let touched = super::touched(&base.desired, &head_inv.desired);
    let names: Vec<String> = head_inv
        .desired
        .devices
        .iter()
        .map(|d| d.name.to_string())
        .filter(|n| touched.contains(n))
        .collect();
    // The devices are read as the target (the reviewed, merged inventory) says to reach them,
    // never as the pull request says: its YAML could name another address and `env:`/`file:`
    // secrets, and the controller would send those secrets there. A device the pull request
    // adds, or whose address or credentials it changes, is not read.
    let (readable, unread): (Vec<String>, Vec<String>) =
        names.iter().cloned().partition(|n| {
            match (base.desired.device(n), head_inv.desired.device(n)) {
                (Some(b), Some(h)) => b.address == h.address && b.snmp == h.snmp && b.ssh == h.ssh,
                _ => false,
            }
        });
    let mut observations = crate::reconcile::observe(
        &base.desired,
        &readable,
        ctx.concurrency.max(1),
        |_, _, _| {},
    )
    .await;
    observations.extend(unread.into_iter().map(|n| {
        let reason = "not read: the pull request adds the device or changes how it is reached,                       and the controller reaches devices only as the target commit says"
            .to_string();
        (n, crate::device::live::Observation::Unknown { reason })
    }));
    observations.sort_by_key(|(n, _)| names.iter().position(|x| x == n));
    let plan = super::off_the_workers(|| {
        Plan::build(
            &head_inv.desired,
            &observations,
            Some(head.clone()),
            PlanOptions { force: false },
        )
    });
    let (state, description) = verdict(&plan);
    let body = render(&plan, &names, &target);
    Some((state, description, body, Some(plan), Some(target)))
}

/// The status a plan earns, and why.
fn verdict(plan: &Plan) -> (State, String) {
    let mut blocked = Vec::new();
    let mut unread = Vec::new();
    let mut errors = Vec::new();
    for d in &plan.devices {
        match &d.outcome {
            Outcome::Planned { violations, .. } if !violations.is_empty() => {
                let limits: BTreeSet<String> = violations
                    .iter()
                    .map(|v| {
                        serde_json::to_value(v.limit)
                            .ok()
                            .and_then(|l| l.as_str().map(str::to_string))
                            .unwrap_or_default()
                    })
                    .collect();
                let limits: Vec<String> = limits.into_iter().collect();
                blocked.push(format!("{} ({})", d.device, limits.join(", ")));
            }
            Outcome::Planned { .. } => {}
            Outcome::Unknown { .. } => unread.push(d.device.clone()),
            Outcome::Error { .. } => errors.push(d.device.clone()),
        }
    }
    if !blocked.is_empty() {
        return (
            State::Failure,
            format!("over a safety limit: {}", blocked.join(", ")),
        );
    }
    if !errors.is_empty() {
        return (
            State::Failure,
            format!("cannot be planned: {}", errors.join(", ")),
        );
    }
    if !unread.is_empty() {
        return (
            State::Failure,
            format!("not read, so not planned: {}", unread.join(", ")),
        );
    }
    let s = &plan.summary;
    (
        State::Success,
        format!(
            "valid; {} change(s) on {} device(s), {} subscriber(s) interrupted",
            s.changes(),
            plan.devices.len(),
            s.subscribers_interrupted
        ),
    )
}

/// The comment's body: the plan's Markdown (its summary line first, each device collapsed),
/// with the interruptions called out under the summary.
fn render(plan: &Plan, names: &[String], target: &str) -> String {
    if names.is_empty() {
        return format!(
            "### gamops plan: no device changes\n\nThe head changes no device's desired state \
             against the controller's target `{}`.\n",
            short(target)
        );
    }
    let md = crate::plan::render::markdown(plan);
    let (title, rest) = md.split_once("\n\n").unwrap_or((md.as_str(), ""));
    let mut interrupted = Vec::new();
    for d in &plan.devices {
        if let Outcome::Planned { summary, .. } = &d.outcome
            && summary.subscribers_interrupted > 0
        {
            // Device names are identifiers: nothing in them can close a code span.
            interrupted.push(format!(
                "`{}` ({})",
                d.device, summary.subscribers_interrupted
            ));
        }
    }
    let mut out = format!("{title}\n\n");
    if !interrupted.is_empty() {
        out.push_str(&format!(
            "> **Interrupts service:** {} subscriber(s) lose traffic during the change, on {}.\n\n",
            plan.summary.subscribers_interrupted,
            interrupted.join(", ")
        ));
    }
    out.push_str(&format!(
        "Compared with the live devices the head touches, which the controller keeps at its \
         target `{}`.\n\n",
        short(target)
    ));
    out.push_str(rest);
    out
}

/// `body` cut to `limit` characters at a line, with open code fences and `<details>` closed
/// and a link to the whole text.
pub fn fit(body: &str, limit: usize, link: &str) -> String {
    if body.chars().count() <= limit {
        return body.to_string();
    }
    let note = format!(
        "\n**The plan is longer than a comment may be; it is cut here.** The full plan: {link}\n"
    );
    // Room for the note and for closing what is open.
    let room = limit.saturating_sub(note.chars().count() + 32);
    let cut: String = body.chars().take(room).collect();
    let cut = match cut.rfind('\n') {
        Some(i) => &cut[..=i],
        None => cut.as_str(),
    };
    let mut out = cut.to_string();
    let fences = cut
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    if fences % 2 == 1 {
        out.push_str("```\n");
    }
    let open = cut.matches("<details>").count();
    let closed = cut.matches("</details>").count();
    for _ in closed..open {
        out.push_str("</details>\n");
    }
    out.push_str(&note);
    out
}

/// After a pass: each merged pull request whose merge commit the target has reached gets
/// its outcome in the comment.
async fn merged(shared: &Shared, ctx: &Context, target: &str, refused: Option<&Refused>) {
    #[allow(clippy::type_complexity)]
    let waiting: Vec<(Key, String, Vec<String>)> = match shared.pulls.reviews.lock() {
        Ok(r) => r
            .iter()
            .filter(|(_, r)| r.state == "merged")
            .filter_map(|(k, r)| {
                let devices = r
                    .plan
                    .as_ref()
                    .map(|p| p.devices.iter().map(|d| d.device.clone()).collect())
                    .unwrap_or_default();
                r.merge.clone().map(|m| (*k, m, devices))
            })
            .collect(),
        Err(_) => return,
    };
    if waiting.is_empty() {
        return;
    }
    let Some(settings) = shared.pulls.settings() else {
        return;
    };
    let Ok(forge) = Forge::new(&settings.forge, forge::Retry::default()) else {
        return;
    };
    // The runs the loop recorded for the merge commit or the target after it.
    let runs: BTreeSet<i64> = shared
        .store
        .runs(&crate::store::RunFilter {
            device: None,
            limit: Some(100),
        })
        .await
        .map(|runs| {
            runs.into_iter()
                .filter(|r| {
                    r.commit
                        .as_deref()
                        .is_some_and(|c| c == target || waiting.iter().any(|w| w.1 == c))
                })
                .map(|r| r.id.0)
                .collect()
        })
        .unwrap_or_default();
    for (k, merge, devices) in waiting {
        let section = if refused.is_some_and(|r| r.commit == merge) {
            let reason = refused.map(|r| r.reason.clone()).unwrap_or_default();
            format!(
                "### Merged as `{}`: not applied\n\n{reason}\n",
                short(&merge)
            )
        } else if target == merge
            || crate::git::descends_from(&ctx.inventory, target, &merge) == Some(true)
        {
            outcome(shared, &merge, target, &runs, &devices)
        } else {
            continue;
        };
        shared.pulls.with(k, |r| {
            r.state = "applied";
            // The outcome first; the plan that was reviewed below it.
            let plan = r
                .markdown
                .strip_prefix(forge::MARKER)
                .unwrap_or(&r.markdown)
                .to_string();
            r.markdown = format!(
                "{}\n{section}\n<details><summary>The plan reviewed</summary>\n\n{plan}\n</details>\n",
                forge::MARKER
            );
            r.dirty = true;
        });
        post(shared, &forge, &settings, k).await;
    }
}

/// Each device's outcome after the pass that applied `merge`.
fn outcome(
    shared: &Shared,
    merge: &str,
    target: &str,
    runs: &BTreeSet<i64>,
    devices: &[String],
) -> String {
    let rows = shared
        .read(|s| {
            devices
                .iter()
                .map(|name| match s.devices.get(name) {
                    Some(d) => {
                        let run = d.last_run.filter(|r| runs.contains(r));
                        (
                            name.clone(),
                            d.sync.as_str().to_string(),
                            run,
                            d.message.clone(),
                        )
                    }
                    None => (
                        name.clone(),
                        "not in the target".into(),
                        None,
                        String::new(),
                    ),
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let runs: BTreeSet<i64> = rows.iter().filter_map(|r| r.2).collect();
    let runs_text = if runs.is_empty() {
        "no run: nothing needed applying".to_string()
    } else {
        let list: Vec<String> = runs.iter().map(|r| format!("run {r}")).collect();
        format!("applied in {}", list.join(", "))
    };
    let mut out = format!(
        "### Merged as `{}`, {runs_text}\n\nThe controller's target is now `{}`.\n\n\
         | device | state | run | message |\n|---|---|---:|---|\n",
        short(merge),
        short(target)
    );
    for (name, sync, run, message) in rows {
        out.push_str(&format!(
            "| `{name}` | {sync} | {} | {} |\n",
            run.map(|r| r.to_string()).unwrap_or_default(),
            crate::plan::revisions::render::inline(&message)
                .replace('|', "\\|")
                .replace('\n', " ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn each_forge_event_is_read_in_its_own_shape() {
        let github = br#"{"action":"synchronize","number":7,"pull_request":{"number":7,"merged":false,
            "head":{"sha":"aaa","repo":{"full_name":"o/r"}},"base":{"repo":{"full_name":"o/r"}},"merge_commit_sha":null}}"#;
        let e = parse(&headers(&[("x-github-event", "pull_request")]), github)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.forge, e.number, e.action, e.fork),
            (ForgeKind::Github, 7, Action::Plan, false)
        );
        // Gitea sends X-GitHub-Event too; its own header decides.
        let gitea = br#"{"action":"closed","number":3,"pull_request":{"merged":true,"merge_commit_sha":"mmm",
            "head":{"sha":"bbb","repo":{"full_name":"fork/r"}},"base":{"repo":{"full_name":"o/r"}}}}"#;
        let e = parse(
            &headers(&[
                ("x-github-event", "pull_request"),
                ("x-gitea-event", "pull_request"),
            ]),
            gitea,
        )
        .unwrap()
        .unwrap()
        .unwrap();
        assert_eq!(
            (e.forge, e.action, e.fork),
            (ForgeKind::Gitea, Action::Merged, true)
        );
        assert_eq!(e.merge_commit.as_deref(), Some("mmm"));
        let gitlab =
            br#"{"object_kind":"merge_request","object_attributes":{"iid":5,"action":"update",
            "last_commit":{"id":"ccc"},"source_project_id":1,"target_project_id":1}}"#;
        let e = parse(
            &headers(&[("x-gitlab-event", "Merge Request Hook")]),
            gitlab,
        )
        .unwrap()
        .unwrap()
        .unwrap();
        assert_eq!(
            (e.forge, e.number, e.head.as_str()),
            (ForgeKind::Gitlab, 5, "ccc")
        );
        // A push is not a pull request event; a label change needs nothing.
        assert!(parse(&headers(&[("x-github-event", "push")]), b"{}").is_none());
        let labeled = br#"{"action":"labeled","number":7,"pull_request":{"head":{"sha":"a"}}}"#;
        assert_eq!(
            parse(&headers(&[("x-github-event", "pull_request")]), labeled),
            Some(Ok(None))
        );
        assert!(matches!(
            parse(&headers(&[("x-github-event", "pull_request")]), b"not json"),
            Some(Err(_))
        ));
    }

    #[test]
    fn a_long_plan_is_cut_at_a_line_with_its_blocks_closed_and_a_link() {
        let mut body =
            String::from("### gamops plan: 1 change\n\n<details><summary>x</summary>\n\n```diff\n");
        for i in 0..10_000 {
            body.push_str(&format!("+ subscriber sub-{i:05} vlan 100\n"));
        }
        body.push_str("```\n</details>\n");
        let out = fit(&body, 65_536, "https://c.example/api/v1/reviews/github/1");
        assert!(out.chars().count() <= 65_536);
        assert!(out.ends_with("https://c.example/api/v1/reviews/github/1\n"));
        assert_eq!(out.matches("```").count() % 2, 0);
        assert_eq!(
            out.matches("<details>").count(),
            out.matches("</details>").count()
        );
        let short = "### gamops plan: no changes\n";
        assert_eq!(fit(short, 65_536, "x"), short);
    }
}
