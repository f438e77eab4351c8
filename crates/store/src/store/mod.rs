//! The store: operational records of applies (runs, per-device outcomes, the command journal),
//! device leases, the webhook deliveries already seen, the controller's API tokens (hashed) and
//! the notification outbox, monitoring's transitions and alerts, on sqlx with embedded migrations.
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
mod monitoring;
mod outbox;
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
pub use location::{PREPARE_LOCK_FILE, STATE_DIR, STATE_FILE, StoreLocation, hide_password};
pub use monitoring::{AlertHistoryRecord, AlertRecord, TransitionRecord};
pub use outbox::{NewOutboxRow, OutboxRow, OutboxState};
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

/// Whether a store is opened to be written or only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Create what is missing, migrate, write.
    ReadWrite,
    /// Create nothing, migrate nothing, and have the database refuse every write.
    ReadOnly,
}

impl Store {
    /// Opens the store (creating the state directory and its SQLite file when missing) and
    /// brings its tables up to date. Opening twice, or from several processes, is safe.
    pub async fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        let pool = connect(location, Access::ReadWrite).await?;
        // Preparing a SQLite store (the journal mode, the migrations) takes write locks that
        // SQLite may refuse at once rather than wait for ("database is locked" when a read
        // transaction would have to become a write one): openers of one state directory, in
        // this process or another, prepare it one at a time, behind a lock file beside it.
        let _preparing = match location {
            StoreLocation::Sqlite(dir) => Some(prepare_lock(dir).await?),
            StoreLocation::Url(_) => None,
        };
        if pool.connect_options().database_url.scheme() == "sqlite" {
            // WAL lets readers (history) run beside a writer (apply); the mode is kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(|e| connect_error(location, e))?;
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

    /// Opens an existing store only to read it (`history`, `show-run`): nothing is created or
    /// migrated, and the database refuses every write, so reading needs no write access to the
    /// state directory or the database.
    ///
    /// SQLite opens the file with `mode=ro`. A store in WAL mode needs its `-shm` index, which
    /// a reader without write access to the folder cannot create; the file is then opened as
    /// immutable, which is safe because a writer needs the same index, so none can be at work.
    /// PostgreSQL sessions are made read-only. A store whose tables an older gamops made is
    /// opened as [`Store::open`] does, once, to bring it up to date (that needs write access).
    pub async fn open_read_only(location: &StoreLocation) -> Result<Store, StoreError> {
        let pool = connect(location, Access::ReadOnly).await?;
        let applied: Vec<i64> = match sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&pool)
            .await
        {
            Ok(versions) => versions,
            // No migrations table: a file some opener made but never prepared.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        if let Some(missing) = MIGRATOR.iter().find(|m| !applied.contains(&m.version)) {
            tracing::debug!(
                version = missing.version,
                "the store's tables are older than this gamops; opening it to upgrade them"
            );
            pool.close().await;
            return Store::open(location).await;
        }
        Ok(Store { pool })
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Connects a pool to the store at `location`: a direct first attempt, so that a refused
/// connection is a clear error at once rather than after the pool's acquire timeout.
/// The lock file of a state directory, held (an exclusive `flock`) until the returned file is
/// dropped. The kernel releases it when the process ends, however it ends.
async fn prepare_lock(dir: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let path = dir.join(PREPARE_LOCK_FILE);
    let state_err = |e: std::io::Error| StoreError::StateDir {
        path: dir.to_path_buf(),
        reason: format!("cannot lock {}: {e}", path.display()),
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(state_err)?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .map_err(|e| state_err(std::io::Error::other(e)))?
        .map_err(state_err)
}

async fn connect(location: &StoreLocation, access: Access) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    let url = match location {
        StoreLocation::Sqlite(dir) => {
            let state_err = |reason: String| StoreError::StateDir {
                path: dir.clone(),
                reason,
            };
            if access == Access::ReadWrite {
                std::fs::create_dir_all(dir).map_err(|e| state_err(e.to_string()))?;
            }
            let dir_abs = std::path::absolute(dir).map_err(|e| state_err(e.to_string()))?;
            location::sqlite_url(&dir_abs.join(STATE_FILE))
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
            url.clone()
        }
    };
    let is_sqlite = url.starts_with("sqlite:");
    let url = match access {
        Access::ReadOnly if is_sqlite => read_only_sqlite_url(&url),
        _ => url,
    };
    let mut options = self::options(&url, location)?;
    let read_only_sqlite = access == Access::ReadOnly && is_sqlite;
    let probe = match probe(&options, read_only_sqlite).await {
        // A read-only open that cannot make the WAL index (SQLITE_CANTOPEN, or
        // SQLITE_READONLY_DIRECTORY on the first read): see `Store::open_read_only`.
        Err(e) if read_only_sqlite && matches!(sqlite_code(&e).as_deref(), Some("14" | "1544")) => {
            options = self::options(&format!("{url}&immutable=true"), location)?;
            probe(&options, true).await
        }
        other => other,
    }
    .map_err(|e| connect_error(location, e))?;
    let _ = probe.close().await;

    let mut pool = AnyPoolOptions::new()
        .max_connections(if is_sqlite { 4 } else { 8 })
        .acquire_timeout(Duration::from_secs(30));
    if access == Access::ReadOnly && !is_sqlite {
        pool = pool.after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        });
    }
    pool.connect_with(options)
        .await
        .map_err(|e| connect_error(location, e))
}

/// A SQLite URL with its open mode set to read-only.
fn read_only_sqlite_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    params.push("mode=ro");
    format!("{base}?{}", params.join("&"))
}

fn options(url: &str, location: &StoreLocation) -> Result<AnyConnectOptions, StoreError> {
    AnyConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: location.to_string(),
        reason: e.to_string(),
    })
}

/// One connection, within [`CONNECT_TIMEOUT`]; with `read`, one read through it too (SQLite
/// opens a file lazily: a read-only one fails only when first read).
async fn probe(
    options: &AnyConnectOptions,
    read: bool,
) -> Result<sqlx::AnyConnection, sqlx::Error> {
    let connect = async {
        let mut conn = options.connect().await?;
        if read {
            sqlx::query("SELECT count(*) FROM sqlite_master")
                .fetch_one(&mut conn)
                .await?;
        }
        Ok(conn)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

/// SQLite's primary result code of a database error, as text.
fn sqlite_code(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// What a failure to connect means for the user: a damaged file, a state folder that cannot be
/// used, or a database server that cannot be reached.
fn connect_error(location: &StoreLocation, e: sqlx::Error) -> StoreError {
    match location {
        // SQLITE_NOTADB: the folder is fine, the file in it is not a database.
        StoreLocation::Sqlite(dir)
            if sqlite_code(&e).as_deref() == Some("26")
                || e.to_string().contains("not a database") =>
        {
            StoreError::Damaged {
                path: dir.join(STATE_FILE),
                reason: e.to_string(),
            }
        }
        StoreLocation::Sqlite(dir) => StoreError::StateDir {
            path: dir.clone(),
            reason: e.to_string(),
        },
        StoreLocation::Url(_) => StoreError::Unreachable {
            url: location.to_string(),
            source: e,
        },
    }
}
