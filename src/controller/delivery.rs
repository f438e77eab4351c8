//! The alert rules' notifications, delivered as the target commit's `notifications:` says.
//!
//! Every notification is logged (`notification: ...`, with its key and status) and handed to
//! [`crate::notifications::deliver`], which writes it to the outbox before anything is sent.
//! Delivery is made from the target commit's settings; when a new target changes them, the
//! running delivery is stopped (its pending rows stay in the outbox) and one with the new
//! settings takes over the same outbox. Without a `notifications:` section, or while its
//! channels cannot be made (a secret that does not resolve), notifications are only logged,
//! each with an error saying why, never dropped silently.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::model::notifications::NotificationSettings;
use crate::notifications::{AlertStatus, Notification, Notifier, deliver};
use crate::store::Store;

/// Delivery as configured now: where to hand notifications, and how to stop it.
struct Running {
    hand: mpsc::Sender<Notification>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        drop(self.hand);
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Starts delivery with `settings`: `Err(None)` when there are none (notifications are then
/// only logged, as configured), `Err(Some(why))` when they cannot be used.
fn start(
    settings: Option<&NotificationSettings>,
    store: &Store,
    cancel: &CancellationToken,
) -> Result<Running, Option<String>> {
    let Some(settings) = settings else {
        return Err(None);
    };
    let notifier = Notifier::new(settings).map_err(|e| Some(e.to_string()))?;
    let (hand, rx) = mpsc::channel(super::monitoring::CHANNEL);
    let stop = cancel.child_token();
    let task = tokio::spawn(deliver(notifier, store.clone(), rx, stop.clone()));
    Ok(Running { hand, stop, task })
}

/// Receives the notifications of `rx` until `cancel`, delivering each as the latest settings
/// of `settings` say.
pub async fn run(
    store: Store,
    mut settings: watch::Receiver<Option<Arc<NotificationSettings>>>,
    mut rx: mpsc::Receiver<Notification>,
    cancel: CancellationToken,
) {
    let current = settings.borrow_and_update().clone();
    let mut running = start(current.as_deref(), &store, &cancel);
    if let Err(Some(why)) = &running {
        tracing::error!("notifications cannot be delivered: {why}");
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            changed = settings.changed() => {
                if changed.is_err() {
                    break;
                }
                let new = settings.borrow_and_update().clone();
                if let Ok(old) = running {
                    old.stop().await;
                }
                running = start(new.as_deref(), &store, &cancel);
                match &running {
                    Ok(_) => tracing::info!("notifications: delivering with the target commit's settings"),
                    Err(Some(why)) => tracing::error!("notifications cannot be delivered: {why}"),
                    Err(None) => {}
                }
            }
            n = rx.recv() => {
                let Some(n) = n else { break };
                let status = match n.status {
                    AlertStatus::Firing => "firing",
                    AlertStatus::Resolved => "resolved",
                };
                tracing::info!(key = %n.key, status, "notification: {}", n.summary);
                match &running {
                    Ok(r) => {
                        if r.hand.send(n).await.is_err() {
                            tracing::error!("notifications: delivery stopped; this one is only logged");
                        }
                    }
                    Err(Some(why)) => tracing::error!(
                        "notification {} ({status}) not delivered: {why}",
                        n.key
                    ),
                    Err(None) => {}
                }
            }
        }
    }
    if let Ok(r) = running {
        r.stop().await;
    }
}
