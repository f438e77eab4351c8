//! Device leases: one change session per device at a time, across processes and replicas.
//!
//! A lease row names its owner, a random token and an expiry. Taking a lease is one statement,
//! an upsert that inserts the row, or takes over an expired one, and returns the token now in
//! the row: our token means we hold the lease. On SQLite the statement runs under the database's
//! single write lock; on PostgreSQL `INSERT ... ON CONFLICT DO UPDATE` either inserts or locks
//! the conflicting row and evaluates the `WHERE` on its latest committed version, so of many
//! racing callers exactly one sees its own token returned. A killed process's lease simply
//! expires and is taken over; only the token's holder renews or releases it.
//!
//! A long change session keeps its leases with [`Store::keep_leases`]: a task renews them every
//! third of their time to live until it is stopped, so a live apply never loses a lease and a
//! killed one's leases expire one TTL after its last renewal.

use std::time::Duration;

use super::records::Timestamp;
use super::{LeaseError, Store, StoreError};

/// How many times acquisition retries when the holder released between our two statements.
const ACQUIRE_ATTEMPTS: usize = 5;

/// Inserts the lease, or takes over an expired one; returns the token now in the row only when
/// it was written by this statement.
const ACQUIRE: &str = "INSERT INTO leases (device, owner, token, acquired_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (device) DO UPDATE SET \
        owner = excluded.owner, token = excluded.token, \
        acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
     WHERE leases.expires_at <= $4 \
     RETURNING token";

/// A held lease on one device. Only the store makes one; renew it before it expires and
/// release it when done.
#[derive(Debug)]
pub struct Lease {
    device: String,
    owner: String,
    token: String,
    expires_at: Timestamp,
}

impl Lease {
    /// The device leased.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Who holds it.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// When it expires unless renewed.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// The shortest pause between two renewals, whatever the TTL.
const MIN_RENEW_EVERY: Duration = Duration::from_millis(100);

/// Leases renewed in the background until [`LeaseKeeper::stop`].
#[derive(Debug)]
pub struct LeaseKeeper {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<KeptLeases>,
}

/// What a [`LeaseKeeper`] gives back when stopped.
#[derive(Debug, Default)]
pub struct KeptLeases {
    /// The leases still held, to release.
    pub leases: Vec<Lease>,
    /// The devices whose lease was lost: it expired and another holder took it (or it was
    /// released) between two renewals.
    pub lost: Vec<String>,
}

impl LeaseKeeper {
    /// Stops renewing and returns the leases still held (release them) and the devices whose
    /// lease was lost.
    pub async fn stop(self) -> KeptLeases {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(kept) => kept,
            Err(e) => {
                // The leases went with the task; they expire on their own.
                tracing::warn!("the lease renewal task ended abnormally: {e}");
                KeptLeases::default()
            }
        }
    }
}

/// A random token: 128 bits as hex.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

impl Store {
    /// Takes the lease on `device` for `owner` (such as `user@host pid 123`) for `ttl`, or
    /// fails with `LeaseError::Held` naming the current holder. An expired lease is taken over.
    pub async fn acquire_lease(
        &self,
        device: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        let token = new_token()?;
        for _ in 0..ACQUIRE_ATTEMPTS {
            let now = Timestamp::now();
            let expires_at = now.plus(ttl);
            let won: Option<(String,)> = sqlx::query_as(ACQUIRE)
                .bind(device)
                .bind(owner)
                .bind(&token)
                .bind(now.as_millis())
                .bind(expires_at.as_millis())
                .fetch_optional(&self.pool)
                .await?;
            if won.is_some_and(|(t,)| t == token) {
                return Ok(Lease {
                    device: device.to_string(),
                    owner: owner.to_string(),
                    token,
                    expires_at,
                });
            }
            let holder: Option<(String, i64)> =
                sqlx::query_as("SELECT owner, expires_at FROM leases WHERE device = $1")
                    .bind(device)
                    .fetch_optional(&self.pool)
                    .await?;
            match holder {
                Some((owner, expires)) if expires > now.as_millis() => {
                    return Err(LeaseError::Held {
                        device: device.to_string(),
                        owner,
                        expires_at: Timestamp::from_millis(expires),
                    });
                }
                // Released or expired between the two statements: try again.
                _ => {}
            }
        }
        Err(LeaseError::Contended {
            device: device.to_string(),
        })
    }

    /// Extends a held lease to `ttl` from now. Fails with `LeaseError::Lost` when the lease
    /// expired and someone else took it (or it was released).
    pub async fn renew_lease(&self, lease: &mut Lease, ttl: Duration) -> Result<(), LeaseError> {
        let expires_at = Timestamp::now().plus(ttl);
        let done =
            sqlx::query("UPDATE leases SET expires_at = $1 WHERE device = $2 AND token = $3")
                .bind(expires_at.as_millis())
                .bind(&lease.device)
                .bind(&lease.token)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(LeaseError::Lost {
                device: lease.device.clone(),
            });
        }
        lease.expires_at = expires_at;
        Ok(())
    }

    /// Renews `leases` to `ttl` from now every `ttl / 3` (at least every 100 ms) from a task,
    /// until [`LeaseKeeper::stop`]. A lease found lost is dropped and reported; a renewal that
    /// fails for another reason (the database hiccups) is tried again at the next round. Must
    /// be called within a tokio runtime.
    pub fn keep_leases(&self, leases: Vec<Lease>, ttl: Duration) -> LeaseKeeper {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let store = self.clone();
        let every = (ttl / 3).max(MIN_RENEW_EVERY);
        let task = tokio::spawn(async move {
            let mut leases = leases;
            let mut lost = Vec::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(every) => {}
                }
                let mut kept = Vec::with_capacity(leases.len());
                for mut lease in leases.drain(..) {
                    match store.renew_lease(&mut lease, ttl).await {
                        Ok(()) => kept.push(lease),
                        Err(LeaseError::Lost { device }) => {
                            tracing::warn!(%device, "the device's lease was lost while applying");
                            lost.push(device);
                        }
                        Err(e) => {
                            tracing::warn!(device = %lease.device, "renewing the lease failed, will retry: {e}");
                            kept.push(lease);
                        }
                    }
                }
                leases = kept;
            }
            KeptLeases { leases, lost }
        });
        LeaseKeeper { stop, task }
    }

    /// Gives a lease back. A lease that expired and was taken over is left to its new holder.
    pub async fn release_lease(&self, lease: Lease) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE device = $1 AND token = $2")
            .bind(&lease.device)
            .bind(&lease.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The current holder of a device's lease and its expiry, if the lease is unexpired.
    pub async fn lease_holder(
        &self,
        device: &str,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let now = Timestamp::now().as_millis();
        let holder: Option<(String, i64)> = sqlx::query_as(
            "SELECT owner, expires_at FROM leases WHERE device = $1 AND expires_at > $2",
        )
        .bind(device)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(holder.map(|(o, e)| (o, Timestamp::from_millis(e))))
    }
}
