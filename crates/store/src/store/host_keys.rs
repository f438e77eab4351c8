//! SSH host keys recorded on first contact: one row per device name, written once. A device
//! with no key pinned in its file is trusted on first contact only when asked
//! (`--accept-new-host-keys`); the key it showed is recorded here, and every later session
//! must show the same key, with or without the flag.
//!
//! Recording is an insert that does nothing on conflict: of two applies racing on first
//! contact, one records its key and both read back the one recorded, so a man in the middle of
//! one of them is refused.

use super::records::Timestamp;
use super::{Store, StoreError};

const RECORD: &str = "INSERT INTO host_keys (device, host_key, recorded_at) \
     VALUES ($1, $2, $3) ON CONFLICT (device) DO NOTHING";

const GET: &str = "SELECT host_key FROM host_keys WHERE device = $1";

const FORGET: &str = "DELETE FROM host_keys WHERE device = $1";

impl Store {
    /// The host key recorded for `device` (an OpenSSH public key line), if any.
    pub async fn known_host_key(&self, device: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(GET)
            .bind(device)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(k,)| k))
    }

    /// Records `key` as `device`'s host key unless one is recorded already, and returns the
    /// key recorded now: `key` itself on first contact, or the earlier one (which the caller
    /// compares with what it saw).
    pub async fn remember_host_key(&self, device: &str, key: &str) -> Result<String, StoreError> {
        sqlx::query(RECORD)
            .bind(device)
            .bind(key)
            .bind(Timestamp::now().as_millis())
            .execute(&self.pool)
            .await?;
        Ok(self
            .known_host_key(device)
            .await?
            .unwrap_or_else(|| key.to_string()))
    }

    /// Forgets `device`'s recorded key (the device was replaced, and its new key checked);
    /// returns whether one was recorded.
    pub async fn forget_host_key(&self, device: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(FORGET).bind(device).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }
}
