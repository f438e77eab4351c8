//! `gamops controller`: keep the fleet converged with git, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use crate::controller::source::Origin;
use crate::controller::{self, ControllerError, ControllerOptions};
use crate::model::Interval;
use crate::store::Store;

use super::CommandError;
use super::state::StoreArgs;

/// Keep every GAM converged with the inventory's newest valid commit, all the time.
///
/// The controller watches the inventory's git checkout (commits only: an uncommitted edit is
/// never applied), scans every device for drift every `controller.interval` of gamops.yaml
/// (default 5m), and applies each device's changes as `gamops apply` does (leases, verification,
/// rollback, runs in the store) when its policy is `auto`. A commit that does not validate is
/// reported and not applied; the previous valid one stays the target. It serves /healthz,
/// /readyz, /metrics and a JSON API under /api/v1 (a token from `gamops token create`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  gamops controller --inventory ./inventory --listen 127.0.0.1:8086
  gamops controller --paused                    # start with applies paused (reads go on)
  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8086/api/v1/devices
  curl -X POST -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8086/api/v1/pause")]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where the HTTP API listens (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8086")]
    pub listen: SocketAddr,
    /// Start with applies paused (`POST /api/v1/resume` starts them).
    #[arg(long)]
    pub paused: bool,
    /// The drift scan's interval, over `controller.interval` in gamops.yaml (90s, 5m, 1h).
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<Interval>,
    /// Devices read and changed at once.
    #[arg(long, default_value_t = crate::apply::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// How long device leases (and the controller's own) last without renewal.
    #[arg(long, value_name = "DURATION", default_value = "600s", value_parser = super::apply::parse_ttl)]
    pub lease_ttl: Duration,
    /// Trust a device's SSH host key on first contact when its file pins none.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Follow a remote repository instead of a local checkout: it is cloned into the state
    /// directory (`repo/`) and fetched on every drift scan and push webhook (`POST
    /// /hooks/git`); --inventory is then the folder inside it.
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// The remote branch to follow, with --repo.
    #[arg(long, default_value = "main", requires = "repo")]
    pub branch: String,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    // With --repo the state directory is not beside the inventory (that is inside the clone)
    // but `.gamops/` here, unless given; the clone goes into it.
    let (location, inventory, origin) = match &args.repo {
        None => (
            args.store.location(),
            args.store.inv.inventory.clone(),
            Origin::Head,
        ),
        Some(_) => {
            let state = args
                .store
                .state_dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from(crate::store::STATE_DIR));
            let location = match &args.store.database_url {
                Some(url) => crate::store::StoreLocation::Url(url.clone()),
                None => crate::store::StoreLocation::Sqlite(state.clone()),
            };
            let clone = state.join("repo");
            (
                location,
                clone.join(&args.store.inv.inventory),
                Origin::Remote {
                    clone,
                    branch: args.branch.clone(),
                },
            )
        }
    };
    let options = ControllerOptions {
        inventory,
        origin,
        listen: args.listen,
        paused: args.paused,
        interval: args.interval.map(|i| i.0),
        concurrency: args.concurrency,
        lease_ttl: args.lease_ttl,
        accept_new_host_keys: args.accept_new_host_keys,
        actor: format!("controller@{}", host()),
        follow: false,
    };
    // Replicas share a PostgreSQL store: a second one follows; a SQLite store has one owner.
    let options = ControllerOptions {
        follow: matches!(location, crate::store::StoreLocation::Url(_)),
        ..options
    };
    super::runtime()?.block_on(async {
        if let (Some(url), Origin::Remote { clone, branch }) = (&args.repo, &options.origin) {
            prepare_clone(url, branch, clone).await?;
        }
        let store = Store::open(&location).await?;
        let stop = super::stop_on_signals("finishing or rolling back the devices in flight")?;
        let ran = controller::run(options, store.clone(), stop, |addr| {
            println!("listening=http://{addr} store={location}");
        })
        .await;
        store.close().await;
        ran.map_err(controller_error)?;
        Ok(0)
    })
}

/// Clones the remote into `clone` unless a clone of the same URL is there already.
async fn prepare_clone(
    url: &str,
    branch: &str,
    clone: &std::path::Path,
) -> Result<(), CommandError> {
    if clone.join(".git").is_dir() {
        return match crate::git::remote::remote_url(clone, "origin").await {
            Some(have) if have == url => Ok(()),
            have => Err(CommandError::user(format!(
                "{} is a clone of {}, not of {url}",
                clone.display(),
                have.unwrap_or_else(|| "an unknown remote".into())
            ))
            .hint("give another --state-dir, or remove that folder")),
        };
    }
    eprintln!("cloning {url} ({branch}) into {}", clone.display());
    crate::git::remote::clone(url, branch, clone)
        .await
        .map_err(|e| {
            CommandError::user(format!("cannot clone {url}: {e}"))
                .hint("check the URL, the branch (--branch) and that this user can fetch it (ssh-agent, credential helper)")
        })
}

fn controller_error(e: ControllerError) -> CommandError {
    let hint = e.hint();
    let hint = match &e {
        ControllerError::Listen { .. } => Some("choose another address with --listen".into()),
        _ => hint,
    };
    let err = CommandError::user(e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
