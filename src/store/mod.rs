//! The store: operational records of applies (runs, per-device outcomes, the command journal),
//! device leases, the webhook deliveries already seen and the controller's API tokens (hashed),
//! on sqlx with embedded migrations.
//!
//! SQLite in a state directory is the default and needs no server; PostgreSQL (a
//! `postgres://` URL) serves a controller with several replicas. Both run the same migrations
//! (`migrations/`, portable SQL: TEXT and BIGINT only, times as unix milliseconds) and the same
//! runtime queries through sqlx's `Any` driver. Git stays the source of truth for desired
//! state: the store holds only what happened. It takes plain strings and numbers from its
//! callers and knows nothing of devices, plans or git.
//!
//! Leases use this machine's clock: replicas sharing a PostgreSQL store need synchronised
//! clocks (NTP), and lease times should be long compared to the skew.

mod error;
mod events;
mod host_keys;
mod lease;
mod location;
mod records;
mod redact;
mod runs;
mod tokens;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection};

pub use error::{LeaseError, StoreError};
pub use lease::{KeptLeases, Lease, LeaseKeeper};
pub use location::{STATE_DIR, STATE_FILE, StoreLocation, hide_password};
pub use records::{
    DeviceOutcomeRecord, DeviceStatus, JournalEntry, JournalRow, NewRun, OutcomeRow, RunDetail,
    RunFilter, RunId, RunStatus, RunSummary, Timestamp,
};
pub use redact::{REDACTED, redact};
pub use runs::RunKeeper;
pub use tokens::TokenInfo;

/// How long opening the store waits for the database to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The store's migrations, embedded at build time from `migrations/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// An open store: a pool of connections to SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Opens the store (creating the state directory and its SQLite file when missing) and
    /// brings its tables up to date. Opening twice, or from several processes, is safe.
    pub async fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, sqlite_dir) = match location {
            StoreLocation::Sqlite(dir) => {
                let state_err = |reason: String| StoreError::StateDir {
                    path: dir.clone(),
                    reason,
                };
                std::fs::create_dir_all(dir).map_err(|e| state_err(e.to_string()))?;
                let dir_abs = std::path::absolute(dir).map_err(|e| state_err(e.to_string()))?;
                (location::sqlite_url(&dir_abs.join(STATE_FILE)), Some(dir))
            }
            StoreLocation::Url(url) => {
                let scheme = url.split(':').next().unwrap_or_default();
                if !matches!(scheme, "postgres" | "postgresql" | "sqlite") {
                    return Err(StoreError::BadUrl {
                        url: hide_password(url),
                        reason: format!(
                            "the scheme must be postgres:// (or sqlite://), not {scheme:?}"
                        ),
                    });
                }
                (url.clone(), None)
            }
        };
        let shown = location.to_string();
        let connect_err = |e: sqlx::Error| match sqlite_dir {
            // SQLITE_NOTADB: the folder is fine, the file in it is not a database.
            Some(dir)
                if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("26")
                    || e.to_string().contains("not a database") =>
            {
                StoreError::Damaged {
                    path: dir.join(STATE_FILE),
                    reason: e.to_string(),
                }
            }
            Some(dir) => StoreError::StateDir {
                path: dir.clone(),
                reason: e.to_string(),
            },
            None => StoreError::Unreachable {
                url: shown.clone(),
                source: e,
            },
        };
        let options = AnyConnectOptions::from_str(&url).map_err(|e| StoreError::BadUrl {
            url: shown.clone(),
            reason: e.to_string(),
        })?;

        // One direct attempt first: the pool would retry a refused connection until its
        // acquire timeout, and a clear error soon is better.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| connect_err(sqlx::Error::PoolTimedOut))?
            .map_err(connect_err)?;
        let _ = probe.close().await;

        let is_sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        if is_sqlite {
            // WAL lets readers (history) run beside a writer (apply); the mode is kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(connect_err)?;
        }
        // Two processes opening a new SQLite store at once can both see a migration not yet
        // applied, and the later one then fails on the tables the first made; the next pass
        // sees it applied. Each pass that fails lost a race some other opener won, so one pass
        // per migration (plus one) always ends with every migration applied.
        // (PostgreSQL serialises migrations with an advisory lock.)
        let passes = MIGRATOR.iter().count() + 1;
        let mut pass = 1;
        while let Err(error) = MIGRATOR.run(&pool).await {
            if pass >= passes {
                return Err(error.into());
            }
            tracing::debug!(%error, pass, "migrating the store lost a race; retrying");
            pass += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Store { pool })
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
