//! `gamops sync serve sonar|splynx`: receive the billing system's webhooks and turn them into
//! debounced incremental syncs (and commits), until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use tokio_util::sync::CancellationToken;

use super::state::StoreArgs;
use super::{CommandError, ErrorKind};
use crate::billing::debounce::{self, DebounceConfig, Source, SyncNotice};
use crate::billing::serve::{Dedupe, SONAR_PATH, SPLYNX_PATH, SyncRunner, WebhookNotice, Webhooks};
use crate::billing::sync::SyncOptions;
use crate::billing::{BillingError, Secret, resolve_secret};
use crate::inventory::Inventory;
use crate::store::{Store, Timestamp};

/// How long received event ids are kept: billing retries for hours (Sonar: 4 h).
const KEEP_EVENTS: Duration = Duration::from_secs(7 * 86_400);

/// The billing system whose webhooks to receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum System {
    Sonar,
    Splynx,
}

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
    pub system: System,
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
    /// How long to wait for more events before syncing (`200ms`, `2s`; a number is ms).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Also run a full sync this often (webhooks are best-effort and can be lost).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub full_sync_every: Option<Duration>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `250ms`, `2s`, `5m`, `1h`, or a bare number of milliseconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 200ms, 2s, 5m or 1h"))?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        other => return Err(format!("unknown unit {other:?}: use ms, s, m or h")),
    };
    Ok(Duration::from_millis(ms))
}

fn config_error(message: impl std::fmt::Display) -> CommandError {
    CommandError::new(ErrorKind::Config, message)
}

/// The webhook secret of `system` from gamops.yaml's billing section.
fn webhook_secret(inventory: &std::path::Path, system: System) -> Result<Secret, CommandError> {
    let inv = Inventory::load_dir(inventory)?;
    let fleet = inv.desired.fleet();
    let (name, field, reference) = match system {
        System::Splynx => (
            "splynx",
            "webhook_secret",
            fleet
                .billing
                .as_ref()
                .and_then(|b| b.splynx.as_ref())
                .map(|s| s.webhook_secret.clone()),
        ),
        System::Sonar => (
            "sonar",
            "webhook_token",
            fleet
                .billing
                .as_ref()
                .and_then(|b| b.sonar.as_ref())
                .map(|s| s.webhook_token.clone()),
        ),
    };
    let Some(reference) = reference else {
        return Err(
            config_error(format!("gamops.yaml has no `billing: {name}:` section")).hint(format!(
                "configure {name} under `billing:` in gamops.yaml (README: Billing sync)"
            )),
        );
    };
    let Some(reference) = reference else {
        return Err(config_error(format!(
            "gamops.yaml sets no `billing.{name}.{field}`"
        ))
        .hint(format!(
            "add `{field}: env:NAME` (or file:PATH) under billing.{name}, and give {name} the same secret"
        )));
    };
    resolve_secret(&reference).map_err(|e| {
        let hint = match &e {
            BillingError::Config(_) => format!("set what billing.{name}.{field} refers to"),
            _ => String::new(),
        };
        config_error(e).hint(hint)
    })
}

pub fn run(args: ServeArgs) -> Result<u8, CommandError> {
    let secret = webhook_secret(&args.store.inv.inventory, args.system)?;
    let source = match args.system {
        System::Sonar => Source::Sonar,
        System::Splynx => Source::Splynx,
    };
    let mut opts = SyncOptions::new(&args.store.inv.inventory, source);
    opts.commit = args.commit;
    opts.branch = args.branch.clone();
    opts.push = args.push.clone();
    let rt = super::runtime()?;
    rt.block_on(serve(args, source, secret, opts))
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

/// Events received before this are forgotten.
fn keep_from() -> Timestamp {
    let keep = i64::try_from(KEEP_EVENTS.as_millis()).unwrap_or(i64::MAX);
    Timestamp::from_millis(Timestamp::now().as_millis().saturating_sub(keep))
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

async fn serve(
    args: ServeArgs,
    source: Source,
    secret: Secret,
    opts: SyncOptions,
) -> Result<u8, CommandError> {
    let location = args.store.location();
    let store = Store::open(&location).await?;
    match store.prune_events(keep_from()).await {
        Ok(n) if n > 0 => tracing::info!(n, "forgot old webhook events"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prune old webhook events"),
    }

    // The server stops first (answering what is in flight), then the debouncer syncs what is
    // still pending.
    let stop = CancellationToken::new();
    let stop_syncs = CancellationToken::new();
    let config = DebounceConfig {
        quiet: args.debounce,
        max_wait: (args.debounce * 10).max(Duration::from_secs(2)),
        full_every: args.full_sync_every,
        ..DebounceConfig::default()
    };
    let (queue, debouncer) = debounce::start(
        source,
        Arc::new(SyncRunner::new(opts).forget_abandoned_in(store.clone())),
        config,
        Some(Arc::new(print_sync)),
        stop_syncs.clone(),
    );
    let hooks = Webhooks::new(Dedupe::Store(store.clone())).notify(Arc::new(print_event));
    let hooks = match args.system {
        System::Splynx => hooks.splynx(secret, queue),
        System::Sonar => hooks.sonar(secret, queue),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            CommandError::user(format!("cannot listen on {}: {e}", args.listen))
                .hint("another process may hold the port; choose another with --listen")
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CommandError::internal(format!("the listening socket: {e}")))?;
    let path = match args.system {
        System::Splynx => SPLYNX_PATH.to_string(),
        System::Sonar => format!("{SONAR_PATH}/<webhook_token>"),
    };
    println!("listening=http://{addr} webhook=http://{addr}{path} store={location}");

    let server = tokio::spawn(crate::http_server::serve(
        listener,
        hooks.router(),
        crate::http_server::Limits::default(),
        stop.clone(),
    ));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CommandError::internal(format!("cannot watch SIGTERM: {e}")))?;
    let mut prune = tokio::time::interval(Duration::from_secs(86_400));
    prune.tick().await;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = prune.tick() => {
                if let Err(e) = store.prune_events(keep_from()).await {
                    tracing::warn!(error = %e, "cannot prune old webhook events");
                }
            }
        }
    }
    println!("stopping: syncing what is pending");
    stop.cancel();
    let served = server.await;
    stop_syncs.cancel();
    let _ = debouncer.await;
    store.close().await;
    match served {
        Ok(()) => Ok(0),
        Err(e) => Err(CommandError::internal(format!(
            "the webhook server stopped: {e}"
        ))),
    }
}
