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
use crate::notifications::{Notification, Notifier, deliver};
use crate::store::Store;

/// Delivery as configured now: where to hand notifications, and how to stop it.
struct Running {
    hand: mpsc::Sender<Notification>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops delivery once every notification handed over is in the outbox (delivery reads
    /// its queue before it looks at `stop`); what is not sent yet stays there for the next.
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
) -> Result<Running, Option<String>> {
    let Some(settings) = settings else {
        return Err(None);
    };
    let notifier = Notifier::new(settings).map_err(|e| Some(e.to_string()))?;
    let (hand, rx) = mpsc::channel(super::monitoring::CHANNEL);
    // Not a child of the controller's token: [`Running::stop`] stops it only once what was
    // handed over is in the outbox.
    let stop = CancellationToken::new();
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
    let mut running = start(current.as_deref(), &store);
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
                running = start(new.as_deref(), &store);
                match &running {
                    Ok(_) => tracing::info!("notifications: delivering with the target commit's settings"),
                    Err(Some(why)) => tracing::error!("notifications cannot be delivered: {why}"),
                    Err(None) => {}
                }
            }
            n = rx.recv() => {
                let Some(n) = n else { break };
                hand_over(n, &running).await;
            }
        }
    }
    // What the poll handed over before it stopped still goes to the outbox.
    rx.close();
    while let Some(n) = rx.recv().await {
        hand_over(n, &running).await;
    }
    if let Ok(r) = running {
        r.stop().await;
    }
}

/// Logs `n` and hands it to delivery, or says why it cannot be delivered.
async fn hand_over(n: Notification, running: &Result<Running, Option<String>>) {
    let status = n.status.as_str();
    tracing::info!(key = %n.key, status, "notification: {}", n.summary);
    match running {
        Ok(r) => {
            if r.hand.send(n).await.is_err() {
                tracing::error!("notifications: delivery stopped; this one is only logged");
            }
        }
        Err(Some(why)) => tracing::error!("notification {} ({status}) not delivered: {why}", n.key),
        Err(None) => {}
    }
}
