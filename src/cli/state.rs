//! Where the store is, shared by every command that reads or writes it (history, show-run,
//! apply), and how its errors reach the user.

use std::path::PathBuf;

use crate::store::{LeaseError, Store, StoreError, StoreLocation};

use super::{CommandError, InventoryArgs};

/// The store's location options.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The state directory holding the SQLite store [default: `.gamops/` in the folder that
    /// holds the inventory folder].
    #[arg(long, env = "GAMOPS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Use a PostgreSQL store instead (for a controller with several replicas); wins over
    /// --state-dir.
    #[arg(
        long,
        env = "GAMOPS_DATABASE_URL",
        value_name = "postgres://USER@HOST:PORT/DB",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub inv: InventoryArgs,
}

impl StoreArgs {
    /// The store these options choose.
    pub fn location(&self) -> StoreLocation {
        StoreLocation::resolve(
            self.state_dir.as_deref(),
            self.database_url.as_deref(),
            &self.inv.inventory,
        )
    }
}

/// Opens the store only to read it (no write access needed); an error when it is a SQLite state directory that holds no
/// store (reading history creates none, and "no runs" would hide a wrong --state-dir).
pub(crate) async fn open_existing(location: &StoreLocation) -> Result<Store, CommandError> {
    if let Some(file) = location.sqlite_file()
        && !file.exists()
    {
        return Err(CommandError::user(format!("there is no store in {location}")).hint(
            "the first `gamops apply` makes it; point --state-dir (env GAMOPS_STATE_DIR) or --database-url at the store it made",
        ));
    }
    Ok(Store::open_read_only(location).await?)
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        // A failing database is the user's environment, not a bug in gamops.
        let kind = match e {
            StoreError::Random(_) => super::ErrorKind::Internal,
            _ => super::ErrorKind::User,
        };
        let err = CommandError::new(kind, &e);
        match e.hint() {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

impl From<LeaseError> for CommandError {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::Store(e) => e.into(),
            e => {
                let err = CommandError::user(&e);
                match e.hint() {
                    Some(h) => err.hint(h),
                    None => err,
                }
            }
        }
    }
}
