//! Billing webhooks in the controller: the receivers `gamops sync serve` runs
//! ([`crate::billing::service::Receiver`]), mounted on the controller's own listener.
//!
//! A verified delivery is recorded in the store (a redelivery is answered and ignored), its
//! customers are synced after a short debounce, and the sync commits as the bot on the branch
//! the controller follows (pushed to `origin` when it follows a remote). The commit then wakes
//! the loop ([`Trigger::Billing`]), which plans and applies it like any other commit: event,
//! commit, the same loop. Which systems are received is read from gamops.yaml of the commit
//! that is the target when the controller starts (its `billing:` section and webhook secrets);
//! a change to those takes a restart.
//!
//! Replicas sharing a PostgreSQL store all receive: the store records each delivery once, so
//! exactly one replica syncs it, and git orders the commits (a push that finds the remote moved
//! is replayed on top, see [`crate::billing::sync`]).

use std::sync::Arc;
use std::time::Duration;

use crate::billing::debounce::SyncNotice;
use crate::billing::service::{self, Receiver, ReceiverConfig, ServiceError};
use crate::billing::sync::{Source, SyncOptions};
use crate::model::Fleet;
use crate::store::Store;

use super::source::{Origin, short};
use super::{ControllerOptions, Event, Shared, Trigger};

/// How long a receiver waits for more events before syncing (as `sync serve`'s default).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Starts a receiver for each billing system gamops.yaml configures with a webhook secret.
/// A system configured without a usable secret is left out with a warning: the controller
/// runs, and that system's changes come in through `gamops sync` until it is fixed.
pub async fn start(
    fleet: &Fleet,
    options: &ControllerOptions,
    store: &Store,
    shared: &Arc<Shared>,
) -> Vec<Receiver> {
    let mut receivers = Vec::new();
    for source in [Source::Splynx, Source::Sonar] {
        let secret = match service::webhook_secret(fleet, source) {
            Ok(secret) => secret,
            Err(ServiceError::NotConfigured { .. }) => continue,
            Err(e) => {
                let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
                tracing::warn!("{source} webhooks are not received: {e}{hint}");
                continue;
            }
        };
        let mut sync = SyncOptions::new(&options.inventory, source);
        sync.commit = true;
        if let Origin::Remote { branch, .. } = &options.origin {
            sync.branch = Some(branch.clone());
            sync.push = Some("origin".to_string());
        }
        let config = ReceiverConfig {
            source,
            secret,
            sync,
            debounce: DEBOUNCE,
            full_sync_every: None,
            on_webhook: None,
            on_sync: Some(on_sync(shared.clone())),
        };
        tracing::info!(
            "receiving {source} webhooks at {}",
            service::hook_path(source)
        );
        receivers.push(Receiver::start(config, store.clone()).await);
    }
    receivers
}

/// What a finished sync means for the controller: a commit wakes the loop, and every outcome
/// is counted, with how long its oldest event waited.
fn on_sync(shared: Arc<Shared>) -> crate::billing::debounce::Notify {
    Arc::new(move |notice: SyncNotice<'_>| match notice {
        SyncNotice::Started { .. } => {}
        SyncNotice::Done { batch, done, .. } => {
            let lag = batch
                .events
                .iter()
                .map(|e| e.at.elapsed().as_secs_f64())
                .reduce(f64::max);
            let system = batch.source.as_str();
            shared.monitor.billing_synced(system, None);
            match &done.commit {
                Some(commit) => {
                    shared.metrics.billing_synced(system, "committed", lag);
                    tracing::info!(
                        system,
                        commit = %short(commit),
                        "billing sync committed: {}",
                        done.summary
                    );
                    shared.emit(Event::BillingCommit {
                        system: system.to_string(),
                        commit: commit.clone(),
                        summary: done.summary.clone(),
                    });
                    shared.trigger(Trigger::Billing);
                }
                None => {
                    shared.metrics.billing_synced(system, "unchanged", lag);
                    tracing::info!(system, "billing sync: {}", done.summary);
                }
            }
        }
        SyncNotice::Failed {
            batch,
            error,
            retry_in,
        } => {
            let system = batch.source.as_str();
            shared.metrics.billing_synced(system, "failed", None);
            shared
                .monitor
                .billing_synced(system, Some(error.to_string()));
            match retry_in {
                Some(wait) => tracing::warn!(
                    system,
                    "billing sync failed: {error}; retrying in {} s",
                    wait.as_secs()
                ),
                None => tracing::error!(
                    system,
                    "billing sync failed: {error}; given up (the billing system's redelivery is taken)"
                ),
            }
        }
    })
}
