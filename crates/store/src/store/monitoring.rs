//! Monitoring's records: the state transitions the status poll saw (an endpoint's state, a
//! device reachable or not, a reboot), the alerts firing now, and every firing with its end and
//! its acknowledgement (who, when).
//!
//! Plain strings and numbers: the caller names the kinds and states, and hands the labels as
//! text (JSON); the store knows nothing of devices or rules.

use serde::Serialize;

use super::records::Timestamp;
use super::{Store, StoreError};

/// One state transition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransitionRecord {
    pub at: Timestamp,
    pub device: String,
    /// What changed: the device itself (its name) or an endpoint (its MAC, or subscriber).
    pub subject: String,
    /// `endpoint-state`, `reachability`, `reboot`.
    pub kind: String,
    pub from: Option<String>,
    pub to: String,
    pub detail: String,
}

/// An alert firing now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    pub key: String,
    pub rule: String,
    /// The device or system the rule decides per.
    pub subject: String,
    pub severity: String,
    pub device: Option<String>,
    /// The labels, as the caller wrote them (JSON).
    pub labels: String,
    pub summary: String,
    pub description: String,
    /// What is said when it resolves.
    pub resolved_text: String,
    pub started_at: Timestamp,
    pub acked_by: Option<String>,
    pub acked_at: Option<Timestamp>,
}

/// One firing of an alert, ended or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertHistoryRecord {
    pub key: String,
    pub started_at: Timestamp,
    pub rule: String,
    pub severity: String,
    pub device: Option<String>,
    pub labels: String,
    pub summary: String,
    pub ended_at: Option<Timestamp>,
    pub resolved_text: Option<String>,
    pub acked_by: Option<String>,
    pub acked_at: Option<Timestamp>,
}

type AlertRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
);

type HistoryRow = (
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

macro_rules! alert_columns {
    () => {
        "alert_key, rule, subject, severity, device, labels, summary, description, \
         resolved_text, started_at, acked_by, acked_at"
    };
}

fn alert(r: AlertRow) -> AlertRecord {
    AlertRecord {
        key: r.0,
        rule: r.1,
        subject: r.2,
        severity: r.3,
        device: r.4,
        labels: r.5,
        summary: r.6,
        description: r.7,
        resolved_text: r.8,
        started_at: Timestamp::from_millis(r.9),
        acked_by: r.10,
        acked_at: r.11.map(Timestamp::from_millis),
    }
}

impl Store {
    /// Records state transitions, all or none.
    pub async fn record_transitions(&self, rows: &[TransitionRecord]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO monitor_transitions (at, device, subject, kind, from_state, to_state, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(r.at.as_millis())
            .bind(&r.device)
            .bind(&r.subject)
            .bind(&r.kind)
            .bind(r.from.as_deref())
            .bind(&r.to)
            .bind(&r.detail)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest transitions first, of one device or all, at most `limit`.
    pub async fn transitions(
        &self,
        device: Option<&str>,
        limit: u32,
    ) -> Result<Vec<TransitionRecord>, StoreError> {
        type Row = (i64, String, String, String, Option<String>, String, String);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT at, device, subject, kind, from_state, to_state, detail FROM monitor_transitions \
             WHERE ($1 IS NULL OR device = $1) ORDER BY at DESC LIMIT $2",
        )
        .bind(device)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| TransitionRecord {
                at: Timestamp::from_millis(r.0),
                device: r.1,
                subject: r.2,
                kind: r.3,
                from: r.4,
                to: r.5,
                detail: r.6,
            })
            .collect())
    }

    /// Forgets transitions older than `before`; how many.
    pub async fn prune_transitions(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM monitor_transitions WHERE at < $1")
            .bind(before.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// An alert fired: it is active, and its firing starts in the history. Recording the same
    /// firing again changes nothing.
    pub async fn alert_fired(&self, a: &AlertRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO alerts (alert_key, rule, subject, severity, device, labels, summary, \
                description, resolved_text, started_at, acked_by, acked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL) \
             ON CONFLICT (alert_key) DO UPDATE SET rule = excluded.rule, subject = excluded.subject, \
                severity = excluded.severity, device = excluded.device, labels = excluded.labels, \
                summary = excluded.summary, description = excluded.description, \
                resolved_text = excluded.resolved_text, started_at = excluded.started_at, \
                acked_by = NULL, acked_at = NULL",
        )
        .bind(&a.key)
        .bind(&a.rule)
        .bind(&a.subject)
        .bind(&a.severity)
        .bind(a.device.as_deref())
        .bind(&a.labels)
        .bind(&a.summary)
        .bind(&a.description)
        .bind(&a.resolved_text)
        .bind(a.started_at.as_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO alert_history (alert_key, started_at, rule, severity, device, labels, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (alert_key, started_at) DO NOTHING",
        )
        .bind(&a.key)
        .bind(a.started_at.as_millis())
        .bind(&a.rule)
        .bind(&a.severity)
        .bind(a.device.as_deref())
        .bind(&a.labels)
        .bind(&a.summary)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An alert resolved: no longer active, and its firing ends in the history. Whether it was
    /// active.
    pub async fn alert_resolved(
        &self,
        key: &str,
        ended_at: Timestamp,
        resolved_text: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let started: Option<(i64,)> =
            sqlx::query_as("SELECT started_at FROM alerts WHERE alert_key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((started,)) = started else {
            tx.rollback().await?;
            return Ok(false);
        };
        sqlx::query(
            "UPDATE alert_history SET ended_at = $1, resolved_text = $2 \
             WHERE alert_key = $3 AND started_at = $4",
        )
        .bind(ended_at.as_millis())
        .bind(resolved_text)
        .bind(key)
        .bind(started)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM alerts WHERE alert_key = $1")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The alerts firing now, oldest first.
    pub async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError> {
        let rows: Vec<AlertRow> = sqlx::query_as(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts ORDER BY started_at, alert_key"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(alert).collect())
    }

    /// The firings of alerts, newest first, of one key or all, at most `limit`.
    pub async fn alert_history(
        &self,
        key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AlertHistoryRecord>, StoreError> {
        let rows: Vec<HistoryRow> = sqlx::query_as(
            "SELECT alert_key, started_at, rule, severity, device, labels, summary, ended_at, \
                resolved_text, acked_by, acked_at FROM alert_history \
             WHERE ($1 IS NULL OR alert_key = $1) ORDER BY started_at DESC, alert_key LIMIT $2",
        )
        .bind(key)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| AlertHistoryRecord {
                key: r.0,
                started_at: Timestamp::from_millis(r.1),
                rule: r.2,
                severity: r.3,
                device: r.4,
                labels: r.5,
                summary: r.6,
                ended_at: r.7.map(Timestamp::from_millis),
                resolved_text: r.8,
                acked_by: r.9,
                acked_at: r.10.map(Timestamp::from_millis),
            })
            .collect())
    }

    /// Acknowledges the active alert `key` as `who`; the alert as it is now, or `None` when no
    /// such alert fires. Acknowledging again records the later one.
    pub async fn ack_alert(
        &self,
        key: &str,
        who: &str,
        at: Timestamp,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE alerts SET acked_by = $1, acked_at = $2 WHERE alert_key = $3")
                .bind(who)
                .bind(at.as_millis())
                .bind(key)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        sqlx::query(
            "UPDATE alert_history SET acked_by = $1, acked_at = $2 \
             WHERE alert_key = $3 AND started_at = (SELECT started_at FROM alerts WHERE alert_key = $3)",
        )
        .bind(who)
        .bind(at.as_millis())
        .bind(key)
        .execute(&mut *tx)
        .await?;
        let row: AlertRow = sqlx::query_as(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE alert_key = $1"
        ))
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(alert(row)))
    }
}
