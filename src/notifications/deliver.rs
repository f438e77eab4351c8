//! Delivery: each notification handed over is first written to the outbox in the store, one
//! row per channel its routes name, then sent by that channel's own task, so a channel that
//! hangs or fails delays no other. A failed try is retried after a backoff that doubles from
//! `retry.initial` up to `retry.max`, with jitter; the next try's time is in the row, so a
//! restart goes on where the last run stopped. A row is claimed before it is sent and marked
//! delivered after, so a delivered row is never sent again; a send whose answer was lost (a
//! timeout, a crash between sending and marking) is sent again with the same delivery id,
//! which Standard Webhooks receivers use to drop the duplicate and Alertmanager merges by
//! labels (an email or a Slack message may then arrive twice).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::model::notifications::NotificationSettings;
use crate::store::{NewOutboxRow, OutboxRow, Store, Timestamp};

use super::channel::{NotifyError, Sender};
use super::{AlertStatus, Notification, Severity, route};

/// How many due rows a channel's task reads at once.
const BATCH: i64 = 20;
/// How long a channel's task sleeps at most before it looks at the outbox again (for rows
/// another process added, and claims that ran out).
const IDLE: Duration = Duration::from_secs(30);
/// How much longer than a send's timeout a claim lasts.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);
/// Delivered and given-up rows are forgotten after this long.
const KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// The configured channels, ready to send, and the routes.
#[derive(Debug, Clone)]
pub struct Notifier {
    settings: NotificationSettings,
    channels: BTreeMap<String, Arc<Sender>>,
}

impl Notifier {
    /// Checks every channel and resolves its secrets: an error names the channel and what is
    /// wrong with it.
    pub fn new(settings: &NotificationSettings) -> Result<Notifier, NotifyError> {
        let mut channels = BTreeMap::new();
        for (name, channel) in &settings.channels {
            channels.insert(
                name.to_string(),
                Arc::new(Sender::new(name.as_str(), channel)?),
            );
        }
        Ok(Notifier {
            settings: settings.clone(),
            channels,
        })
    }

    /// Every channel that can be made, and the errors of those that cannot (a secret that does
    /// not resolve, say). Notifications routed to a channel that cannot be made stay in the
    /// outbox, pending, until a later delivery can make it; the other channels are not held up.
    pub fn each(settings: &NotificationSettings) -> (Notifier, Vec<NotifyError>) {
        let mut channels = BTreeMap::new();
        let mut errors = Vec::new();
        for (name, channel) in &settings.channels {
            match Sender::new(name.as_str(), channel) {
                Ok(sender) => {
                    channels.insert(name.to_string(), Arc::new(sender));
                }
                Err(e) => errors.push(e),
            }
        }
        let notifier = Notifier {
            settings: settings.clone(),
            channels,
        };
        (notifier, errors)
    }

    /// Whether gamops.yaml names the channel (it may still be one that cannot be made).
    fn configured(&self, channel: &str) -> bool {
        self.settings.channels.keys().any(|c| c.as_str() == channel)
    }

    /// The channels `n` goes to.
    pub fn route(&self, n: &Notification) -> Vec<String> {
        route::channels(&self.settings, n)
    }

    /// The channels by name.
    pub fn channels(&self) -> impl Iterator<Item = (&str, &Sender)> {
        self.channels.iter().map(|(n, s)| (n.as_str(), s.as_ref()))
    }

    /// The wait before try `attempt + 1` after `attempt` failed (attempt >= 1): `initial`
    /// doubled per failed try, at most `max`, less up to half at random.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let n = u32::try_from(attempt.max(1)).unwrap_or(u32::MAX);
        crate::retry::Backoff::new(self.settings.retry.initial.0, self.settings.retry.max.0)
            .jittered(n)
    }
}

/// Sends one test notification to `channel` now, straight (no outbox, no retry); only that
/// channel's settings and secrets are checked.
pub async fn send_test(
    settings: Option<&NotificationSettings>,
    channel: &str,
) -> Result<Notification, NotifyError> {
    let settings = settings.ok_or(NotifyError::NotConfigured)?;
    let Some((name, config)) = settings
        .channels
        .iter()
        .find(|(name, _)| name.as_str() == channel)
    else {
        return Err(NotifyError::UnknownChannel {
            name: channel.to_string(),
            known: settings.channels.keys().map(|k| k.to_string()).collect(),
        });
    };
    let sender = Sender::new(name.as_str(), config)?;
    let now = Timestamp::now().as_millis();
    let mut noise = [0u8; 6];
    let _ = getrandom::fill(&mut noise);
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let n = Notification {
        key: format!("test/{channel}/{}", hex::encode(noise)),
        rule: "test".into(),
        severity: Severity::Info,
        status: AlertStatus::Firing,
        device: None,
        labels: BTreeMap::from([("channel".to_string(), channel.to_string())]),
        summary: format!("gamops test notification to {channel}"),
        description: format!(
            "A test sent by `gamops notify test`{}. Nothing is wrong.",
            if host.is_empty() {
                String::new()
            } else {
                format!(" on {host}")
            }
        ),
        starts_at_ms: now,
        ends_at_ms: None,
    };
    let id = n.delivery_id(channel);
    sender
        .send(&id, &n)
        .await
        .map_err(|error| NotifyError::NotDelivered {
            channel: channel.to_string(),
            error,
        })?;
    Ok(n)
}

/// Delivers the notifications `rx` hands over until `cancel`, and whatever the outbox still
/// holds from before. Never returns an error: store and channel failures are logged and
/// retried.
pub async fn deliver(
    notifier: Notifier,
    store: Store,
    mut rx: mpsc::Receiver<Notification>,
    cancel: CancellationToken,
) {
    let notifier = Arc::new(notifier);
    give_up_orphans(&notifier, &store).await;
    let mut wakers = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (name, sender) in &notifier.channels {
        let wake = Arc::new(Notify::new());
        wakers.insert(name.clone(), wake.clone());
        tasks.spawn(channel_task(
            name.clone(),
            sender.clone(),
            notifier.clone(),
            store.clone(),
            wake,
            cancel.clone(),
        ));
    }
    let mut last_added = Timestamp::from_millis(0);
    let mut open = true;
    let mut prune_at = tokio::time::Instant::now();
    loop {
        if prune_at <= tokio::time::Instant::now() {
            prune_at += Duration::from_secs(3600);
            match store
                .outbox_prune(Timestamp::from_millis(
                    Timestamp::now().as_millis() - KEEP.as_millis() as i64,
                ))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "forgot old notification deliveries"),
                Err(e) => tracing::warn!("cannot prune the notification outbox: {e}"),
            }
        }
        // Biased to what is handed over: a stop (cancel after the sender is dropped) first
        // writes every notification already queued to the outbox.
        let received = tokio::select! {
            biased;
            n = rx.recv(), if open => n,
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(prune_at) => continue,
        };
        let Some(n) = received else {
            open = false;
            continue;
        };
        let mut channels = notifier.route(&n);
        if n.status == AlertStatus::Resolved {
            // Where it fired, it resolves, though routes or labels changed meanwhile (an
            // Alertmanager that never hears the end would keep the alert firing).
            match store
                .outbox_channels_of(&n.key, AlertStatus::Firing.as_str())
                .await
            {
                Ok(fired) => {
                    for c in fired {
                        if notifier.channels.contains_key(&c) && !channels.contains(&c) {
                            channels.push(c);
                        }
                    }
                }
                Err(e) => tracing::warn!(
                    key = %n.key,
                    "cannot look up where {} fired: {e}; its resolving goes where the routes say",
                    n.key
                ),
            }
        }
        if channels.is_empty() {
            tracing::warn!(
                key = %n.key,
                "notification {} ({}) matches no route and there are no default channels: \
                 not sent anywhere",
                n.key,
                n.status.as_str()
            );
            continue;
        }
        let now = Timestamp::now();
        // Strictly increasing, so rows keep the order they were handed over in.
        let at = if now > last_added {
            now
        } else {
            Timestamp::from_millis(last_added.as_millis() + 1)
        };
        last_added = at;
        if add(&store, &n, &channels, at, &cancel).await {
            for c in &channels {
                if let Some(wake) = wakers.get(c) {
                    wake.notify_one();
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// Writes `n`'s rows, trying again while the store fails (the alert side waits meanwhile).
/// `false` when cancelled first, which loses `n`: said in an error line.
async fn add(
    store: &Store,
    n: &Notification,
    channels: &[String],
    at: Timestamp,
    cancel: &CancellationToken,
) -> bool {
    let payload = match serde_json::to_string(n) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(key = %n.key, "cannot encode notification {}: {e}", n.key);
            return false;
        }
    };
    let rows: Vec<NewOutboxRow> = channels
        .iter()
        .map(|c| NewOutboxRow {
            id: n.delivery_id(c),
            channel: c.clone(),
            key: n.key.clone(),
            status: n.status.as_str().to_string(),
            payload: payload.clone(),
        })
        .collect();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match store.outbox_add(&rows, at).await {
            Ok(_) => return true,
            Err(e) => {
                let wait = Duration::from_secs(1 << attempt.min(5));
                tracing::error!(
                    key = %n.key,
                    attempt,
                    "cannot write notification {} to the outbox (attempt {attempt}): {e}; \
                     trying again in {}s",
                    n.key,
                    wait.as_secs()
                );
                tokio::select! {
                    _ = cancel.cancelled() => {
                        tracing::error!(
                            key = %n.key,
                            "notification {} ({}) is lost: stopped while the store failed",
                            n.key,
                            n.status.as_str()
                        );
                        return false;
                    }
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Pending rows of channels no longer configured are given up, each said in an error line.
async fn give_up_orphans(notifier: &Notifier, store: &Store) {
    let pending = match store.outbox_pending_channels().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("cannot read the notification outbox: {e}");
            return;
        }
    };
    for channel in pending {
        // A configured channel that cannot be made now keeps its rows for a later delivery.
        if notifier.channels.contains_key(&channel) || notifier.configured(&channel) {
            continue;
        }
        let rows = match store.outbox_rows(Some(&channel)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("cannot read the notification outbox: {e}");
                continue;
            }
        };
        for row in rows
            .iter()
            .filter(|r| r.state == crate::store::OutboxState::Pending)
        {
            let why = format!("channel {channel} is no longer configured");
            if let Ok(true) = store
                .outbox_failed(&row.id, Timestamp::now(), &why, None)
                .await
            {
                tracing::error!(
                    channel = %channel,
                    key = %row.key,
                    "notification {} ({}) not delivered and given up: {why}",
                    row.key,
                    row.status
                );
            }
        }
    }
}

/// One channel's loop: send its due rows in order, sleep until the next is due or a new one
/// arrives; for Alertmanager, send the alerts still firing again every resend interval.
async fn channel_task(
    name: String,
    sender: Arc<Sender>,
    notifier: Arc<Notifier>,
    store: Store,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let resend_every = match sender.as_ref() {
        Sender::Alertmanager(am) => Some(am.resend),
        _ => None,
    };
    let mut resend_at = resend_every.map(|every| tokio::time::Instant::now() + every);
    let mut store_failures = 0u32;
    loop {
        if cancel.is_cancelled() {
            return;
        }
        if let (Some(at), Some(every)) = (resend_at, resend_every)
            && at <= tokio::time::Instant::now()
        {
            resend_at = Some(tokio::time::Instant::now() + every);
            resend_firing(&name, &sender, &store).await;
        }
        let now = Timestamp::now();
        let due = match store.outbox_due(&name, now, BATCH).await {
            Ok(due) => {
                store_failures = 0;
                due
            }
            Err(e) => {
                store_failures += 1;
                let wait = Duration::from_secs(1 << store_failures.min(5));
                tracing::error!(
                    channel = %name,
                    "cannot read the notification outbox: {e}; trying again in {}s",
                    wait.as_secs()
                );
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(wait) => continue,
                }
            }
        };
        let full = due.len() as i64 == BATCH;
        for row in due {
            if cancel.is_cancelled() {
                return;
            }
            send_row(&name, &sender, &notifier, &store, row).await;
        }
        if full {
            continue;
        }
        let mut wait = match store.outbox_next_due(&name).await {
            Ok(Some(at)) => at.since(Timestamp::now()).min(IDLE),
            Ok(None) | Err(_) => IDLE,
        };
        if let Some(at) = resend_at {
            wait = wait.min(at.saturating_duration_since(tokio::time::Instant::now()));
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Claims, sends and records one row.
async fn send_row(name: &str, sender: &Sender, notifier: &Notifier, store: &Store, row: OutboxRow) {
    let now = Timestamp::now();
    let until = now.plus(sender.timeout() + CLAIM_MARGIN);
    match store.outbox_claim(&row.id, now, until).await {
        Ok(true) => {}
        Ok(false) => return, // another sender has it, or had it
        Err(e) => {
            tracing::warn!(channel = %name, key = %row.key, "cannot claim a notification: {e}");
            return;
        }
    }
    let attempt = row.attempts + 1;
    let n: Notification = match serde_json::from_str(&row.payload) {
        Ok(n) => n,
        Err(e) => {
            let why = format!("its stored form cannot be read: {e}");
            let _ = store
                .outbox_failed(&row.id, Timestamp::now(), &why, Some(until))
                .await;
            tracing::error!(
                channel = %name,
                key = %row.key,
                "notification {} ({}) given up: {why}",
                row.key,
                row.status
            );
            return;
        }
    };
    // Not raced against `cancel`: a send cut off half way may have reached the receiver, and
    // sending it again would duplicate an email or a chat message. The send is bounded by the
    // channel's timeout, which is what a stop may wait.
    let result = sender.send(&row.id, &n).await;
    match result {
        Ok(()) => {
            let mut tries = 0;
            loop {
                match store
                    .outbox_delivered(&row.id, Timestamp::now(), Some(until))
                    .await
                {
                    Ok(_) => break,
                    Err(e) if tries < 3 => {
                        tries += 1;
                        tracing::warn!(channel = %name, key = %row.key, "cannot record a delivery: {e}; trying again");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => {
                        tracing::error!(
                            channel = %name,
                            key = %row.key,
                            "notification {} ({}) delivered to {name} but not recorded: {e}; \
                             it will be sent again when its claim runs out",
                            row.key,
                            row.status
                        );
                        return;
                    }
                }
            }
            tracing::info!(
                channel = %name,
                key = %row.key,
                attempt,
                "notification {} ({}) delivered to {name}",
                row.key,
                row.status
            );
        }
        Err(error) => {
            let wait = notifier.backoff(attempt);
            let next = Timestamp::now().plus(wait);
            tracing::warn!(
                channel = %name,
                key = %row.key,
                attempt,
                next_try = %next,
                "notification {} ({}) not delivered to {name} ({}), attempt {attempt}: {error}; \
                 next try in {:.1}s",
                row.key,
                row.status,
                sender.kind(),
                wait.as_secs_f64()
            );
            if let Err(e) = store
                .outbox_retry_at(&row.id, next, Some(&error.0), Some(until))
                .await
            {
                tracing::warn!(
                    channel = %name,
                    key = %row.key,
                    "cannot record the next try: {e}; it is tried when its claim runs out"
                );
            }
        }
    }
}

/// Alertmanager forgets an alert not sent again before its `endsAt`: send every alert whose
/// latest notification on this channel is a delivered firing again.
async fn resend_firing(name: &str, sender: &Sender, store: &Store) {
    let Sender::Alertmanager(am) = sender else {
        return;
    };
    let rows = match store.outbox_latest_delivered(name, "firing").await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(channel = %name, "cannot read the alerts still firing: {e}");
            return;
        }
    };
    let alerts: Vec<Notification> = rows
        .iter()
        .filter_map(|r| serde_json::from_str(&r.payload).ok())
        .collect();
    if alerts.is_empty() {
        return;
    }
    let send = tokio::time::timeout(am.timeout, am.send(&alerts));
    match send.await {
        Ok(Ok(())) => {
            tracing::debug!(channel = %name, alerts = alerts.len(), "firing alerts sent again")
        }
        Ok(Err(e)) => tracing::warn!(channel = %name, "cannot send the firing alerts again: {e}"),
        Err(_) => tracing::warn!(channel = %name, "cannot send the firing alerts again: timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_max() {
        let settings: NotificationSettings =
            serde_saphyr::from_str("retry: {initial: 1s, max: 10s}\n").unwrap();
        let notifier = Notifier::new(&settings).unwrap();
        for (attempt, full) in [
            (1, 1_000),
            (2, 2_000),
            (3, 4_000),
            (4, 8_000),
            (5, 10_000),
            (60, 10_000),
        ] {
            for _ in 0..50 {
                let wait = notifier.backoff(attempt).as_millis();
                assert!(
                    (full / 2..=full).contains(&wait),
                    "attempt {attempt}: {wait} ms, not within {}..={full}",
                    full / 2
                );
            }
        }
        // Not all the same: there is jitter.
        let waits: std::collections::BTreeSet<u128> =
            (0..50).map(|_| notifier.backoff(3).as_millis()).collect();
        assert!(waits.len() > 1);
    }
}
