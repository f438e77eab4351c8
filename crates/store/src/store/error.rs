//! How the store fails: opening it, querying it, and taking a device's lease.

use std::path::PathBuf;

use super::records::Timestamp;

/// A failure to open or use the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite state directory or its database file cannot be created or opened.
    #[error("cannot open the state directory {}: {reason}", path.display())]
    StateDir { path: PathBuf, reason: String },
    /// The SQLite file is there but is not a database (damaged, or another program's file).
    #[error("{} is not a gamops store: {reason}", path.display())]
    Damaged { path: PathBuf, reason: String },
    /// The database URL is not one the store understands.
    #[error("unsupported database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The database server did not answer, or refused the connection.
    #[error("database unreachable at {url}: {source}")]
    Unreachable {
        /// The URL with any password hidden.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The store's tables could not be created or brought up to date.
    #[error("cannot prepare the store's tables: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A run id that the store does not hold.
    #[error("no run {0} in the store")]
    UnknownRun(i64),
    /// The system's random source failed (lease tokens are random).
    #[error("cannot draw a random lease token: {0}")]
    Random(String),
    /// A value read back that this version of gamops does not understand.
    #[error("unexpected {what} {value:?} in the store")]
    Corrupt { what: &'static str, value: String },
}

impl StoreError {
    /// What the user can do about it, when there is something.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            StoreError::StateDir { .. } => Some(
                "check that the folder can be created and written, or choose another with \
                 --state-dir (env GAMOPS_STATE_DIR)",
            ),
            StoreError::Damaged { .. } => Some(
                "the file is damaged or is not gamops's; move it aside (gamops makes a new, empty \
                 store) and keep it if its history matters",
            ),
            StoreError::BadUrl { .. } => Some(
                "give a PostgreSQL URL such as postgres://USER@HOST:5432/DATABASE, or leave \
                 --database-url unset for the SQLite store in the state directory",
            ),
            StoreError::Unreachable { .. } => Some(
                "is the database server running and reachable? check --database-url (env \
                 GAMOPS_DATABASE_URL), the credentials and the network",
            ),
            StoreError::Migrate(sqlx::migrate::MigrateError::VersionMissing(_)) => {
                Some("the store was written by a newer gamops; upgrade gamops to read it")
            }
            StoreError::Migrate(_) => Some("the store's schema is damaged or was changed by hand"),
            StoreError::Corrupt { .. } => {
                Some("the store was written by another version of gamops, or changed by hand")
            }
            StoreError::Query(_) | StoreError::UnknownRun(_) | StoreError::Random(_) => None,
        }
    }
}

/// Why a device's lease was not taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Someone else holds the device until `expires_at`.
    #[error("device {device} is leased to {owner} until {expires_at}")]
    Held {
        device: String,
        owner: String,
        expires_at: Timestamp,
    },
    /// The lease expired and was taken over by someone else (or released): renewing it failed.
    #[error("the lease on device {device} was lost (it expired and was taken over)")]
    Lost { device: String },
    /// The lease changed hands repeatedly while it was being taken; try again later.
    #[error("the lease on device {device} is contended; try again")]
    Contended { device: String },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LeaseError {
    fn from(e: sqlx::Error) -> Self {
        LeaseError::Store(StoreError::Query(e))
    }
}

impl LeaseError {
    /// What the user can do about it, when there is something.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            LeaseError::Held { .. } => Some(
                "another apply is changing this device; wait for it to finish, or for its lease \
                 to expire if it was killed",
            ),
            LeaseError::Lost { .. } => Some(
                "the change session outlived its lease; the device may have been changed by \
                 another apply meanwhile, so plan again",
            ),
            LeaseError::Contended { .. } => None,
            LeaseError::Store(e) => e.hint(),
        }
    }
}
