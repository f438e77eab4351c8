//! Webhook deliveries seen: one row per (source, event id), so a delivery that billing retries
//! or an attacker replays is answered but processed once, across restarts and replicas.
//!
//! Recording is one statement, an insert that does nothing on conflict: of several callers
//! racing with the same id (two replicas behind a load balancer), exactly one inserts the row
//! and is told the event is new.

use super::records::Timestamp;
use super::{Store, StoreError};

const RECORD: &str = "INSERT INTO webhook_events (source, event_id, received_at) \
     VALUES ($1, $2, $3) ON CONFLICT (source, event_id) DO NOTHING";

const PRUNE: &str = "DELETE FROM webhook_events WHERE received_at < $1";

const FORGET: &str = "DELETE FROM webhook_events WHERE source = $1 AND event_id = $2";

impl Store {
    /// Records that the event `id` from `source` (such as `splynx`) was received at `at`.
    /// Returns `true` when it was new, `false` when it had been recorded before.
    pub async fn record_event(
        &self,
        source: &str,
        id: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(RECORD)
            .bind(source)
            .bind(id)
            .bind(at.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets one recorded event, so a later delivery of it is processed (used when the event
    /// was recorded but could not be queued).
    pub async fn forget_event(&self, source: &str, id: &str) -> Result<(), StoreError> {
        sqlx::query(FORGET)
            .bind(source)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets events received before `before`; returns how many. Billing systems retry for
    /// hours (Sonar: four), so keep them for days.
    pub async fn prune_events(&self, before: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query(PRUNE)
            .bind(before.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
