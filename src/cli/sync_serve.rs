//! `gamops sync serve sonar|splynx`: receive the billing system's webhooks and turn them into
//! debounced incremental syncs (and commits), until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::state::StoreArgs;
use super::{CommandError, ErrorKind};
use crate::billing::debounce::{Source, SyncNotice};
use crate::billing::serve::WebhookNotice;
use crate::billing::service::{self, ReceiverConfig, ServiceConfig, ServiceError, WebhookService};
use crate::billing::sync::SyncOptions;
use crate::inventory::Inventory;
use crate::store::Store;

/// Receive billing webhooks and sync the subscribers they name, until Ctrl-C or SIGTERM.
///
/// Splynx hooks go to `POST /webhooks/splynx`, signed with `billing.splynx.webhook_secret`
/// (`X-Splynx-Signature`); Sonar webhooks to `/webhooks/sonar/<billing.sonar.webhook_token>`
/// (HEAD and POST). Each event is recorded in the store, so a replayed or retried delivery is
/// answered 200 and not processed again, even after a restart. Events are coalesced while they
/// keep coming (--debounce): a burst for one customer makes one sync and one commit, and events
/// for several customers in one window share one incremental sync, which re-reads those
/// customers through the API (the payload is not trusted). Each event and each sync is logged
/// on stdout. Put a TLS-terminating proxy in front: Sonar only calls HTTPS URLs.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops sync serve splynx --listen 127.0.0.1:8085 --commit\n  gamops sync serve sonar --listen 0.0.0.0:8085 --commit --push origin --debounce 500ms\n  gamops sync serve splynx --listen 127.0.0.1:0 --full-sync-every 1h   # port 0: any; printed"
)]
pub struct ServeArgs {
    /// The billing system whose webhooks to receive.
    #[arg(value_enum)]
    pub system: Source,
    /// The address to listen on (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:8085")]
    pub listen: SocketAddr,
    /// Commit each sync's changes as the bot (otherwise only the files are written).
    #[arg(long)]
    pub commit: bool,
    /// The branch to commit on [default: the checked-out one].
    #[arg(long)]
    pub branch: Option<String>,
    /// Push each commit to this remote (fast-forward only; rebased and retried when the remote
    /// moved). Implies --commit.
    #[arg(long, value_name = "REMOTE")]
    pub push: Option<String>,
    /// How long to wait for more events before syncing (`200ms`, `2s`).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Also run a full sync this often (webhooks are best-effort and can be lost).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub full_sync_every: Option<Duration>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A length of time with its unit (`250ms`, `2s`, `5m`, `1h`), read as every duration option
/// is ([`crate::model::Interval`]). A bare number, which these options once read as
/// milliseconds and the others read as seconds, is refused rather than read either way.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if !text.trim().is_empty() && text.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text:?} has no unit: write {}ms or {}s",
            text.trim(),
            text.trim()
        ));
    }
    Ok(text.parse::<crate::model::Interval>()?.0)
}

pub fn run(args: ServeArgs) -> Result<u8, CommandError> {
    let source = args.system;
    let inv = Inventory::load_dir(&args.store.inv.inventory)?;
    let secret = service::webhook_secret(&inv.desired.fleet(), source).map_err(service_error)?;
    let mut sync = SyncOptions::new(&args.store.inv.inventory, source);
    sync.commit = args.commit;
    sync.branch = args.branch.clone();
    sync.push = args.push.clone();
    let config = ServiceConfig {
        listen: args.listen,
        receiver: ReceiverConfig {
            source,
            secret,
            sync,
            debounce: args.debounce,
            full_sync_every: args.full_sync_every,
            on_webhook: Some(Arc::new(print_event)),
            on_sync: Some(Arc::new(print_sync)),
        },
    };
    let location = args.store.location();
    super::runtime()?.block_on(async {
        let store = Store::open(&location).await?;
        let service = WebhookService::start(config, store.clone())
            .await
            .map_err(|e| match e {
                ServiceError::Listen { .. } => {
                    service_error(e).hint("choose another address with --listen")
                }
                e => service_error(e),
            })?;
        let addr = service.addr();
        println!(
            "listening=http://{addr} webhook=http://{addr}{} store={location}",
            service::hook_path(source)
        );
        let stop = super::stop_on_signals("syncing what is pending")?;
        stop.cancelled().await;
        let stopped = service.stop().await;
        store.close().await;
        stopped.map_err(service_error)?;
        Ok(0)
    })
}

/// A service error as the command reports it: configuration problems are the user's.
fn service_error(e: ServiceError) -> CommandError {
    let kind = match e {
        ServiceError::NotConfigured { .. }
        | ServiceError::NoSecret { .. }
        | ServiceError::Secret { .. } => ErrorKind::Config,
        _ => ErrorKind::User,
    };
    let hint = e.hint();
    let err = CommandError::new(kind, e);
    match hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

fn print_event(notice: WebhookNotice<'_>) {
    match notice {
        WebhookNotice::Accepted(e) => println!(
            "event {} {} {} customer={}",
            e.source,
            short(&e.id),
            if e.kind.is_empty() { "-" } else { &e.kind },
            e.customer.as_deref().unwrap_or("(all)")
        ),
        WebhookNotice::Replayed { source, id } => {
            println!(
                "replayed {source} {} (already received; ignored)",
                short(id)
            )
        }
        WebhookNotice::Ping { source } => println!("ping {source}"),
        WebhookNotice::Refused { source, reason } => println!("refused {source}: {reason}"),
    }
}

fn print_sync(notice: SyncNotice<'_>) {
    match notice {
        SyncNotice::Started { .. } => {}
        SyncNotice::Done { batch, done, took } => println!(
            "sync {} {} ({} events, {} ms): {}{}",
            batch.source,
            batch.scope,
            batch.events.len(),
            took.as_millis(),
            done.summary,
            done.commit
                .as_deref()
                .map(|c| format!("; commit {}", short(c)))
                .unwrap_or_default()
        ),
        SyncNotice::Failed {
            batch,
            error,
            retry_in,
        } => println!(
            "sync {} {} failed: {error}; {}",
            batch.source,
            batch.scope,
            match retry_in {
                Some(d) => format!("retrying in {} s", d.as_secs_f32()),
                None => "given up (the next full sync will catch up)".to_string(),
            }
        ),
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_read_like_every_other_duration() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        let bare = parse_duration("200").unwrap_err();
        assert!(bare.contains("200ms or 200s"), "{bare}");
        assert!(parse_duration("2 parsecs").is_err());
    }
}
