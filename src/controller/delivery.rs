//! The alert rules' notifications, delivered as the target commit's `notifications:` says.
//!
//! Every notification is logged (`notification: ...`, with its key and status) and handed to
//! [`crate::notifications::deliver`], which writes it to the outbox before anything is sent.
//! Delivery is made from the target commit's settings; when a new target changes them, the
//! running delivery is stopped once what it was handed is in the outbox, and one with the new
//! settings takes over the same outbox. A channel that cannot be made (a secret that does not
//! resolve) is said in an error line; what is routed to it waits in the outbox, and the other
//! channels go on. Without a `notifications:` section, notifications are only logged.

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
    /// Starts delivery with `settings`; `None` when there are none.
    fn start(settings: Option<&NotificationSettings>, store: &Store) -> Option<Running> {
        let (notifier, broken) = Notifier::each(settings?);
        for e in broken {
            tracing::error!(
                "notifications: {e}; what is routed to that channel waits in the outbox until a commit or a restart fixes it"
            );
        }
        let (hand, rx) = mpsc::channel(super::monitoring::CHANNEL);
        // Not a child of the controller's token: `stop` ends it only once what was handed
        // over is in the outbox.
        let stop = CancellationToken::new();
        let task = tokio::spawn(deliver(notifier, store.clone(), rx, stop.clone()));
        Some(Running { hand, stop, task })
    }

    /// Stops delivery once every notification handed over is in the outbox (delivery reads
    /// its queue before it looks at `stop`); what is not sent yet stays there for the next.
    async fn stop(self) {
        drop(self.hand);
        self.stop.cancel();
        let _ = self.task.await;
    }
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
    let mut running = Running::start(current.as_deref(), &store);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            changed = settings.changed() => {
                if changed.is_err() {
                    break;
                }
                let new = settings.borrow_and_update().clone();
                if let Some(old) = running.take() {
                    old.stop().await;
                }
                running = Running::start(new.as_deref(), &store);
                if running.is_some() {
                    tracing::info!("notifications: delivering with the target commit's settings");
                }
            }
            n = rx.recv() => {
                let Some(n) = n else { break };
                hand_over(n, running.as_ref()).await;
            }
        }
    }
    // What the poll handed over before it stopped still goes to the outbox.
    rx.close();
    while let Some(n) = rx.recv().await {
        hand_over(n, running.as_ref()).await;
    }
    if let Some(r) = running {
        r.stop().await;
    }
}

/// Logs `n` and hands it to delivery, when there is one.
async fn hand_over(n: Notification, running: Option<&Running>) {
    let status = n.status.as_str();
    tracing::info!(key = %n.key, status, "notification: {}", n.summary);
    if let Some(r) = running
        && r.hand.send(n).await.is_err()
    {
        tracing::error!("notifications: delivery stopped; this one is only logged");
    }
}
