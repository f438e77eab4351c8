//! The notification outbox: one row per (notification, channel), written before anything is
//! sent, so what could not be delivered is kept and retried (across restarts) and what was
//! delivered is never sent again.
//!
//! A sender takes a row with [`Store::outbox_claim`], one update that succeeds for exactly one
//! caller and pushes the row's next try past the claim's end: a sender that dies while it holds
//! a row leaves it to be tried again once the claim runs out. A row then ends `delivered` or
//! `failed` (given up), or goes back to `pending` with its next try set. Rows are handed out in
//! the order they were added, and a row waits while an earlier row of the same key and channel
//! is still pending (a resolved alert is never sent before its firing).
//!
//! Plain strings and numbers: the store knows nothing of alerts or channels.

use std::fmt;
use std::str::FromStr;

use super::records::Timestamp;
use super::{Store, StoreError};

/// Where an outbox row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// To be sent (or being sent, while a claim holds it).
    Pending,
    Delivered,
    /// Given up: refused for good, or its channel is no longer configured.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }
}

impl fmt::Display for OutboxState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutboxState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(OutboxState::Pending),
            "delivered" => Ok(OutboxState::Delivered),
            "failed" => Ok(OutboxState::Failed),
            other => Err(StoreError::Corrupt {
                what: "outbox state",
                value: other.to_string(),
            }),
        }
    }
}

/// A row to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxRow {
    /// The row's id, chosen by the caller (stable: adding the same id twice adds it once).
    pub id: String,
    pub channel: String,
    pub key: String,
    pub status: String,
    pub payload: String,
}

/// A row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub channel: String,
    pub key: String,
    pub status: String,
    pub payload: String,
    pub state: OutboxState,
    /// Tries started so far.
    pub attempts: i64,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    /// When it was delivered or given up.
    pub finished_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, channel, alert_key, alert_status, payload, state, attempts, \
     created_at, next_attempt_at, last_error, finished_at";

type RawRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<i64>,
);

fn from_raw(r: RawRow) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        id: r.0,
        channel: r.1,
        key: r.2,
        status: r.3,
        payload: r.4,
        state: r.5.parse()?,
        attempts: r.6,
        created_at: Timestamp::from_millis(r.7),
        next_attempt_at: Timestamp::from_millis(r.8),
        last_error: r.9,
        finished_at: r.10.map(Timestamp::from_millis),
    })
}

const ADD: &str = "INSERT INTO notification_outbox (id, channel, alert_key, alert_status, payload, \
     state, attempts, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) \
     ON CONFLICT (id) DO NOTHING";

const CLAIM: &str = "UPDATE notification_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
     WHERE id = $2 AND state = 'pending' AND next_attempt_at <= $3";

// A claim's end (`next_attempt_at` as the claim set it) is its token: a sender whose claim ran
// out and was taken by another changes nothing.
const RELEASE: &str = "UPDATE notification_outbox SET next_attempt_at = $1, \
     last_error = COALESCE($2, last_error) \
     WHERE id = $3 AND state = 'pending' AND ($4 IS NULL OR next_attempt_at = $4)";

const FINISH: &str = "UPDATE notification_outbox SET state = $1, finished_at = $2, last_error = $3 \
     WHERE id = $4 AND state = 'pending' AND ($5 IS NULL OR next_attempt_at = $5)";

/// Of rows not waiting behind an earlier pending row of their key.
const NEXT_DUE: &str = "SELECT MIN(o.next_attempt_at) FROM notification_outbox o \
     WHERE o.channel = $1 AND o.state = 'pending' AND NOT EXISTS \
     (SELECT 1 FROM notification_outbox e WHERE e.channel = o.channel \
      AND e.alert_key = o.alert_key AND e.state = 'pending' \
      AND (e.created_at < o.created_at OR (e.created_at = o.created_at AND e.id < o.id)))";

const CHANNELS_OF: &str = "SELECT DISTINCT channel FROM notification_outbox \
     WHERE alert_key = $1 AND alert_status = $2 ORDER BY channel";

const CHANNELS: &str =
    "SELECT DISTINCT channel FROM notification_outbox WHERE state = 'pending' ORDER BY channel";

const PRUNE: &str = "DELETE FROM notification_outbox WHERE state <> 'pending' AND finished_at < $1 \
     AND NOT (alert_status = 'firing' AND state = 'delivered' AND NOT EXISTS \
       (SELECT 1 FROM notification_outbox later WHERE later.channel = notification_outbox.channel \
        AND later.alert_key = notification_outbox.alert_key \
        AND later.created_at > notification_outbox.created_at))";

impl Store {
    /// Adds rows (all or none) at `at`; a row whose id is stored already is left as it is.
    /// Returns how many were new.
    pub async fn outbox_add(
        &self,
        rows: &[NewOutboxRow],
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for row in rows {
            let done = sqlx::query(ADD)
                .bind(&row.id)
                .bind(&row.channel)
                .bind(&row.key)
                .bind(&row.status)
                .bind(&row.payload)
                .bind(at.as_millis())
                .execute(&mut *tx)
                .await?;
            added += done.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Up to `limit` pending rows of `channel` due at `now`, oldest first, leaving out a row
    /// while an earlier pending row has the same key.
    pub async fn outbox_due(
        &self,
        channel: &str,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notification_outbox o WHERE o.channel = $1 \
             AND o.state = 'pending' AND o.next_attempt_at <= $2 AND NOT EXISTS \
             (SELECT 1 FROM notification_outbox e WHERE e.channel = o.channel \
              AND e.alert_key = o.alert_key AND e.state = 'pending' \
              AND (e.created_at < o.created_at OR (e.created_at = o.created_at AND e.id < o.id))) \
             ORDER BY o.created_at, o.id LIMIT $3"
        );
        let rows: Vec<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(now.as_millis())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(from_raw).collect()
    }

    /// Takes the pending row `id` to send it, when it is due at `now`: its attempts go up by
    /// one and its next try moves to `until` (when the claim runs out). `true` for exactly
    /// one of several callers racing for it.
    pub async fn outbox_claim(
        &self,
        id: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(CLAIM)
            .bind(until.as_millis())
            .bind(id)
            .bind(now.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A try of the pending row `id` failed (with `error`; `None` keeps the last one): it is
    /// tried again at `next`. With `claim` (the end of the claim the try was made under), only
    /// while that claim holds. `false` when nothing changed.
    pub async fn outbox_retry_at(
        &self,
        id: &str,
        next: Timestamp,
        error: Option<&str>,
        claim: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(RELEASE)
            .bind(next.as_millis())
            .bind(error)
            .bind(id)
            .bind(claim.map(|c| c.as_millis()))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The pending row `id` was delivered at `at` (under `claim`, as for
    /// [`Store::outbox_retry_at`]). `false` when it was not pending, or the claim was lost.
    pub async fn outbox_delivered(
        &self,
        id: &str,
        at: Timestamp,
        claim: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.outbox_finish(id, OutboxState::Delivered, at, None, claim)
            .await
    }

    /// The pending row `id` is given up at `at`, for `error` (under `claim`, as for
    /// [`Store::outbox_retry_at`]). `false` when it was not pending, or the claim was lost.
    pub async fn outbox_failed(
        &self,
        id: &str,
        at: Timestamp,
        error: &str,
        claim: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.outbox_finish(id, OutboxState::Failed, at, Some(error), claim)
            .await
    }

    async fn outbox_finish(
        &self,
        id: &str,
        state: OutboxState,
        at: Timestamp,
        error: Option<&str>,
        claim: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(FINISH)
            .bind(state.as_str())
            .bind(at.as_millis())
            .bind(error)
            .bind(id)
            .bind(claim.map(|c| c.as_millis()))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// When the earliest pending row of `channel` is due (or its claim runs out), if any.
    pub async fn outbox_next_due(&self, channel: &str) -> Result<Option<Timestamp>, StoreError> {
        let row: (Option<i64>,) = sqlx::query_as(NEXT_DUE)
            .bind(channel)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.0.map(Timestamp::from_millis))
    }

    /// The channels that hold a row of alert `key` with `status` (a firing alert's channels,
    /// which its resolving must reach whatever the routes say now).
    pub async fn outbox_channels_of(
        &self,
        key: &str,
        status: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(CHANNELS_OF)
            .bind(key)
            .bind(status)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    /// The channels that have pending rows.
    pub async fn outbox_pending_channels(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(CHANNELS).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
    }

    /// Of each key of `channel`, its latest row when that row has `status` and is delivered
    /// (for Alertmanager: the alerts still firing, which it must be sent again).
    pub async fn outbox_latest_delivered(
        &self,
        channel: &str,
        status: &str,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notification_outbox o WHERE o.channel = $1 \
             AND o.alert_status = $2 AND o.state = 'delivered' AND NOT EXISTS \
             (SELECT 1 FROM notification_outbox l WHERE l.channel = o.channel \
              AND l.alert_key = o.alert_key \
              AND (l.created_at > o.created_at OR (l.created_at = o.created_at AND l.id > o.id))) \
             ORDER BY o.created_at, o.id"
        );
        let rows: Vec<RawRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(status)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(from_raw).collect()
    }

    /// Every row, of one channel or all, oldest first (for inspection and tests).
    pub async fn outbox_rows(&self, channel: Option<&str>) -> Result<Vec<OutboxRow>, StoreError> {
        let rows: Vec<RawRow> = match channel {
            Some(channel) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM notification_outbox WHERE channel = $1 \
                     ORDER BY created_at, id"
                );
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(channel)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql =
                    format!("SELECT {COLUMNS} FROM notification_outbox ORDER BY created_at, id");
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.into_iter().map(from_raw).collect()
    }

    /// Forgets rows delivered or given up before `before`, except a firing row that is still
    /// the latest of its key (its alert is still firing); returns how many.
    pub async fn outbox_prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query(PRUNE)
            .bind(before.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
