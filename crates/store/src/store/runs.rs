//! Runs, their per-device outcomes and the command journal: writing them, and reading them back
//! for `gamops history` and `gamops show-run`.

use super::records::{
    DeviceOutcomeRecord, DeviceStatus, JournalEntry, JournalRow, NewRun, OutcomeRow, RunDetail,
    RunFilter, RunId, RunStatus, RunSummary, Timestamp,
};
use super::redact::{command_line, redact};
use super::{Store, StoreError};
use std::time::Duration;

/// A run kept alive in the background until [`RunKeeper::stop`].
#[derive(Debug)]
pub struct RunKeeper {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl RunKeeper {
    /// Stops renewing. Finish the run afterwards.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// How often `start_run` retries when another process took the same run id first
/// (PostgreSQL only: SQLite serialises writers).
const ID_ATTEMPTS: usize = 20;

/// The next run id is one more than the largest; a concurrent insert of the same id fails on
/// the primary key and is retried.
const INSERT_RUN: &str = "INSERT INTO runs (id, actor, command, git_commit, plan_summary, status, started_at, alive_until) \
     SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7 FROM runs \
     RETURNING id";

/// The columns of a run summary, for `SELECT ... FROM runs r`.
macro_rules! summary_select {
    () => {
        "SELECT r.id, r.actor, r.command, r.git_commit, r.plan_summary, r.status, r.started_at, \
            r.finished_at, r.alive_until, \
            (SELECT COUNT(*) FROM outcomes o WHERE o.run_id = r.id) AS devices, \
            (SELECT COUNT(*) FROM outcomes o WHERE o.run_id = r.id \
                AND o.status NOT IN ('applied', 'no-changes')) AS failed_devices \
         FROM runs r "
    };
}

const LIST_RUNS: &str = concat!(
    summary_select!(),
    "WHERE $1 IS NULL \
        OR EXISTS (SELECT 1 FROM outcomes o WHERE o.run_id = r.id AND o.device = $1) \
        OR EXISTS (SELECT 1 FROM journal j WHERE j.run_id = r.id AND j.device = $1) \
     ORDER BY r.started_at DESC, r.id DESC \
     LIMIT $2"
);

const ONE_RUN: &str = concat!(summary_select!(), "WHERE r.id = $1");

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    actor: String,
    command: String,
    git_commit: Option<String>,
    plan_summary: Option<String>,
    status: String,
    started_at: i64,
    finished_at: Option<i64>,
    alive_until: Option<i64>,
    devices: i64,
    failed_devices: i64,
}

impl SummaryRow {
    fn into_summary(self) -> Result<RunSummary, StoreError> {
        let mut status = RunStatus::parse_stored(&self.status)?;
        if status == RunStatus::Running
            && self
                .alive_until
                .is_some_and(|t| t < Timestamp::now().as_millis())
        {
            status = RunStatus::Abandoned;
        }
        Ok(RunSummary {
            id: RunId(self.id),
            actor: self.actor,
            // Runs recorded before redaction existed are shown redacted too.
            command: command_line(&self.command).into_owned(),
            commit: self.git_commit,
            plan_summary: self.plan_summary,
            status,
            started_at: Timestamp::from_millis(self.started_at),
            finished_at: self.finished_at.map(Timestamp::from_millis),
            devices: count(self.devices),
            failed_devices: count(self.failed_devices),
        })
    }
}

#[derive(sqlx::FromRow)]
struct StoredOutcome {
    device: String,
    status: String,
    message: String,
    changes: i64,
    commands: i64,
    recorded_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredJournal {
    device: String,
    seq: i64,
    at: i64,
    command: String,
    output: String,
    ok: i64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Records the start of a run (status `running`, started now) and returns its id. The
    /// command line is recorded with its credentials hidden ([`super::redact::command_line`]):
    /// a password in `--database-url` never reaches the store, `history` or `show-run`.
    pub async fn start_run(&self, run: &NewRun) -> Result<RunId, StoreError> {
        let command = command_line(&run.command);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = Timestamp::now();
            let result: Result<(i64,), sqlx::Error> = sqlx::query_as(INSERT_RUN)
                .bind(&run.actor)
                .bind(command.as_ref())
                .bind(run.commit.as_deref())
                .bind(run.plan_summary.as_deref())
                .bind(RunStatus::Running.as_str())
                .bind(now.as_millis())
                .bind(run.alive_for.map(|ttl| now.plus(ttl).as_millis()))
                .fetch_one(&self.pool)
                .await;
            match result {
                Ok((id,)) => return Ok(RunId(id)),
                Err(sqlx::Error::Database(e))
                    if e.is_unique_violation() && attempt < ID_ATTEMPTS => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Keeps a running run alive: pushes its `alive_until` to `ttl` from now every third of
    /// `ttl` (at least every 100 ms) from a task, until [`RunKeeper::stop`]. A run whose
    /// process dies stops being renewed and reads as [`RunStatus::Abandoned`] one `ttl` later,
    /// when its device leases (renewed alike) have expired too. A failed renewal is logged and
    /// tried again at the next round. Must be called within a tokio runtime.
    pub fn keep_run_alive(&self, id: RunId, ttl: Duration) -> RunKeeper {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let store = self.clone();
        let every = (ttl / 3).max(Duration::from_millis(100));
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(every) => {}
                }
                let renewed =
                    sqlx::query("UPDATE runs SET alive_until = $1 WHERE id = $2 AND status = $3")
                        .bind(Timestamp::now().plus(ttl).as_millis())
                        .bind(id.0)
                        .bind(RunStatus::Running.as_str())
                        .execute(&store.pool)
                        .await;
                if let Err(e) = renewed {
                    tracing::warn!(run = id.0, "keeping the run alive failed, will retry: {e}");
                }
            }
        });
        RunKeeper { stop, task }
    }

    /// Records how a run ended, now.
    pub async fn finish_run(&self, id: RunId, status: RunStatus) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE runs SET status = $1, finished_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(Timestamp::now().as_millis())
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownRun(id.0));
        }
        Ok(())
    }

    /// Records (or replaces) one device's outcome in a run.
    pub async fn record_outcome(
        &self,
        id: RunId,
        device: &str,
        outcome: &DeviceOutcomeRecord,
    ) -> Result<(), StoreError> {
        self.check_run(id).await?;
        sqlx::query(
            "INSERT INTO outcomes (run_id, device, status, message, changes, commands, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (run_id, device) DO UPDATE SET \
                status = excluded.status, message = excluded.message, \
                changes = excluded.changes, commands = excluded.commands, \
                recorded_at = excluded.recorded_at",
        )
        .bind(id.0)
        .bind(device)
        .bind(outcome.status.as_str())
        .bind(redact(&outcome.message).as_ref())
        .bind(stored(outcome.changes))
        .bind(stored(outcome.commands))
        .bind(Timestamp::now().as_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Appends one command and its answer to a run's journal for a device, redacting what
    /// follows secret-bearing words (the caller should have redacted already).
    pub async fn journal(
        &self,
        id: RunId,
        device: &str,
        entry: &JournalEntry,
    ) -> Result<(), StoreError> {
        self.check_run(id).await?;
        sqlx::query(
            "INSERT INTO journal (run_id, device, seq, at, command, output, ok) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.0)
        .bind(device)
        .bind(stored(entry.seq))
        .bind(entry.at.as_millis())
        .bind(redact(&entry.command).as_ref())
        .bind(redact(&entry.output).as_ref())
        .bind(i64::from(entry.ok))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs, newest first, optionally only those that touched a device.
    pub async fn runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        let rows: Vec<SummaryRow> = sqlx::query_as(LIST_RUNS)
            .bind(filter.device.as_deref())
            .bind(filter.limit.map_or(i64::MAX, i64::from))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(SummaryRow::into_summary).collect()
    }

    /// One run with its outcomes and journal, or `None` when there is no such run.
    pub async fn run(&self, id: RunId) -> Result<Option<RunDetail>, StoreError> {
        let Some(row) = sqlx::query_as::<_, SummaryRow>(ONE_RUN)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let summary = row.into_summary()?;
        let outcomes: Vec<StoredOutcome> = sqlx::query_as(
            "SELECT device, status, message, changes, commands, recorded_at \
             FROM outcomes WHERE run_id = $1 ORDER BY device",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        let journal: Vec<StoredJournal> = sqlx::query_as(
            "SELECT device, seq, at, command, output, ok \
             FROM journal WHERE run_id = $1 ORDER BY device, seq",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        // Sorted here too: PostgreSQL's collation may order names unlike SQLite's bytes.
        let mut outcomes = outcomes
            .into_iter()
            .map(|o| {
                Ok(OutcomeRow {
                    device: o.device,
                    status: DeviceStatus::parse_stored(&o.status)?,
                    message: o.message,
                    changes: count(o.changes),
                    commands: count(o.commands),
                    recorded_at: Timestamp::from_millis(o.recorded_at),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        outcomes.sort_by(|a, b| a.device.cmp(&b.device));
        let mut journal: Vec<JournalRow> = journal
            .into_iter()
            .map(|j| JournalRow {
                device: j.device,
                seq: count(j.seq),
                at: Timestamp::from_millis(j.at),
                command: j.command,
                output: j.output,
                ok: j.ok != 0,
            })
            .collect();
        journal.sort_by(|a, b| (&a.device, a.seq).cmp(&(&b.device, b.seq)));
        Ok(Some(RunDetail {
            summary,
            outcomes,
            journal,
        }))
    }

    /// Fails with `UnknownRun` when the run does not exist (rather than a foreign-key error).
    async fn check_run(&self, id: RunId) -> Result<(), StoreError> {
        let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM runs WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(StoreError::UnknownRun(id.0)),
        }
    }
}
