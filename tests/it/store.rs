//! The store on both backends: every test runs once on SQLite (a temporary state directory)
//! and once on PostgreSQL (a fresh schema in the database named by `GAMOPS_TEST_DATABASE_URL`,
//! by default the local server), then the `history` and `show-run` commands on a filled store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gamops::store::{
    DeviceOutcomeRecord, DeviceStatus, JournalEntry, LeaseError, NewRun, REDACTED, RunFilter,
    RunId, RunStatus, Store, StoreError, StoreLocation, Timestamp,
};
use sqlx::Connection;

use crate::support::{gamops, stderr, stdout};

/// The PostgreSQL server the tests use when `GAMOPS_TEST_DATABASE_URL` is unset.
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store for one test, removed afterwards: a temporary SQLite state directory, or a
/// PostgreSQL schema of its own (dropped when the test ends, passing or failing).
pub(crate) struct TestDb {
    pub(crate) store: Store,
    location: StoreLocation,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let location = StoreLocation::Sqlite(dir.path().join("state"));
        let store = Store::open(&location).await.unwrap();
        TestDb {
            store,
            location,
            _dir: Some(dir),
            pg: None,
        }
    }

    pub(crate) async fn postgres() -> TestDb {
        sqlx::any::install_default_drivers();
        let base = std::env::var("GAMOPS_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_PG_URL.to_string());
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let mut noise = [0u8; 4];
        getrandom::fill(&mut noise).unwrap();
        let schema = format!(
            "gamops_test_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            hex::encode(noise)
        );
        let mut conn = sqlx::AnyConnection::connect(&base).await.unwrap_or_else(|e| {
            panic!(
                "the PostgreSQL store tests need a server at {base} (set GAMOPS_TEST_DATABASE_URL \
                 to another): {e}"
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={schema}");
        let location = StoreLocation::Url(url);
        let store = Store::open(&location).await.unwrap();
        TestDb {
            store,
            location,
            _dir: None,
            pg: Some((base, schema)),
        }
    }

    /// Another handle on the same store, as another process would open it.
    async fn reopen(&self) -> Store {
        Store::open(&self.location).await.unwrap()
    }

    /// The `gamops` options that name this store.
    pub(crate) fn cli_args(&self) -> Vec<String> {
        match &self.location {
            StoreLocation::Sqlite(dir) => vec!["--state-dir".into(), dir.display().to_string()],
            StoreLocation::Url(url) => vec!["--database-url".into(), url.clone()],
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, schema)) = self.pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on async work: use a thread.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::AnyConnection::connect(&base).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        })
        .join();
        if !std::thread::panicking() {
            assert!(
                matches!(dropped, Ok(Ok(()))),
                "dropping the test schema failed"
            );
        }
    }
}

/// Defines a test that runs on both backends, as `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both {
    ($(#[doc = $doc:literal])* async fn $name:ident($db:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            use super::*;

            async fn body($db: &TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = TestDb::sqlite().await;
                body(&db).await;
                db.store.close().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = TestDb::postgres().await;
                body(&db).await;
                db.store.close().await;
            }
        }
    };
}

fn new_run(actor: &str, commit: &str) -> NewRun {
    NewRun {
        actor: actor.into(),
        command: "gamops apply --plan plan.json".into(),
        commit: Some(commit.into()),
        plan_summary: Some("2 devices, 5 changes".into()),
        alive_for: None,
    }
}

fn outcome(status: DeviceStatus, message: &str) -> DeviceOutcomeRecord {
    DeviceOutcomeRecord {
        status,
        message: message.into(),
        changes: 3,
        commands: 5,
    }
}

fn entry(seq: u64, command: &str, output: &str, ok: bool) -> JournalEntry {
    JournalEntry {
        seq,
        at: Timestamp::now(),
        command: command.into(),
        output: output.into(),
        ok,
    }
}

/// Fills a store with three runs: 1 touches gam-a and gam-b, 2 touches gam-b only through its
/// journal, 3 touches gam-c and is still running.
async fn fill(store: &Store) -> [RunId; 3] {
    let r1 = store
        .start_run(&new_run("ops@bastion", "1111111111aaaa"))
        .await
        .unwrap();
    store
        .record_outcome(r1, "gam-a", &outcome(DeviceStatus::Applied, ""))
        .await
        .unwrap();
    store
        .record_outcome(
            r1,
            "gam-b",
            &outcome(DeviceStatus::RolledBack, "verify: vlan 100 missing"),
        )
        .await
        .unwrap();
    store
        .journal(r1, "gam-a", &entry(1, "configure terminal", "", true))
        .await
        .unwrap();
    store
        .journal(
            r1,
            "gam-a",
            &entry(2, "ghn subscriber 3 name flat-12", "", true),
        )
        .await
        .unwrap();
    store
        .journal(
            r1,
            "gam-b",
            &entry(1, "ghn port 9 vlan 100", "% Invalid input", false),
        )
        .await
        .unwrap();
    store.finish_run(r1, RunStatus::Partial).await.unwrap();
    let r2 = store
        .start_run(&new_run("ci@runner", "2222222222bbbb"))
        .await
        .unwrap();
    store
        .journal(r2, "gam-b", &entry(1, "show running-config", "!", true))
        .await
        .unwrap();
    store.finish_run(r2, RunStatus::Failed).await.unwrap();
    let r3 = store
        .start_run(&new_run("controller@gamops-0", "3333333333cccc"))
        .await
        .unwrap();
    store
        .record_outcome(r3, "gam-c", &outcome(DeviceStatus::NoChanges, ""))
        .await
        .unwrap();
    [r1, r2, r3]
}

on_both! {
    /// A running run kept alive reads as running past its time to live; once nothing keeps it
    /// (its process died), it reads as abandoned after the TTL; a finished run never does.
    async fn a_run_nobody_keeps_alive_is_abandoned_after_its_ttl(db) {
        let ttl = Duration::from_millis(600);
        let kept_run = NewRun { alive_for: Some(ttl), ..new_run("a@b", "c") };
        let kept = db.store.start_run(&kept_run).await.unwrap();
        let dead = db.store.start_run(&kept_run).await.unwrap();
        let finished = db.store.start_run(&kept_run).await.unwrap();
        let untimed = db.store.start_run(&new_run("a@b", "c")).await.unwrap();
        db.store.finish_run(finished, RunStatus::Succeeded).await.unwrap();
        let keeper = db.store.keep_run_alive(kept, ttl);
        let status = |id: RunId| async move {
            db.store.run(id).await.unwrap().unwrap().summary.status
        };
        assert_eq!(status(dead).await, RunStatus::Running);
        tokio::time::sleep(ttl * 2).await;
        assert_eq!(status(kept).await, RunStatus::Running);
        assert_eq!(status(dead).await, RunStatus::Abandoned);
        assert_eq!(status(finished).await, RunStatus::Succeeded);
        assert_eq!(status(untimed).await, RunStatus::Running);
        let listed = db.store.runs(&RunFilter::default()).await.unwrap();
        let abandoned: Vec<RunId> = listed
            .iter()
            .filter(|r| r.status == RunStatus::Abandoned)
            .map(|r| r.id)
            .collect();
        assert_eq!(abandoned, vec![dead]);
        keeper.stop().await;
        db.store.finish_run(kept, RunStatus::Interrupted).await.unwrap();
        assert_eq!(status(kept).await, RunStatus::Interrupted);
    }
}

on_both! {
    /// Opening a store again (migrations already applied) works and sees the same records.
    async fn migrations_are_idempotent(db) {
        let id = db.store.start_run(&new_run("a@b", "c")).await.unwrap();
        let again = db.reopen().await;
        let third = db.reopen().await;
        assert_eq!(again.runs(&RunFilter::default()).await.unwrap().len(), 1);
        assert!(third.run(id).await.unwrap().is_some());
        again.close().await;
        third.close().await;
    }
}

on_both! {
    /// A webhook event is new once per source, across handles (another process, a restart);
    /// concurrent deliveries of one id make exactly one new; pruning forgets old ones.
    async fn webhook_events_are_recorded_once(db) {
        let t = Timestamp::from_millis(1_700_000_000_000);
        assert!(db.store.record_event("splynx", "abc", t).await.unwrap());
        assert!(!db.store.record_event("splynx", "abc", t).await.unwrap());
        // The same id from the other system is another event.
        assert!(db.store.record_event("sonar", "abc", t).await.unwrap());
        let again = db.reopen().await;
        assert!(!again.record_event("splynx", "abc", Timestamp::now()).await.unwrap());

        let racers: Vec<_> = (0..8)
            .map(|_| {
                let s = again.clone();
                tokio::spawn(async move { s.record_event("splynx", "race", Timestamp::now()).await })
            })
            .collect();
        let mut new = 0;
        for r in racers {
            new += usize::from(r.await.unwrap().unwrap());
        }
        assert_eq!(new, 1);

        db.store.forget_event("splynx", "race").await.unwrap();
        assert!(db.store.record_event("splynx", "race", Timestamp::now()).await.unwrap());
        // Events before the cut are forgotten: the two at `t`, not the recent one.
        let cut = Timestamp::from_millis(1_700_000_000_001);
        assert_eq!(db.store.prune_events(cut).await.unwrap(), 2);
        assert!(db.store.record_event("splynx", "abc", t).await.unwrap());
        assert!(!db.store.record_event("splynx", "race", t).await.unwrap());
        again.close().await;
    }
}

on_both! {
    /// A run with outcomes and a journal reads back as written.
    async fn a_run_round_trips(db) {
        let [r1, r2, r3] = fill(&db.store).await;
        assert_eq!((r1, r2, r3), (RunId(1), RunId(2), RunId(3)));
        let d = db.store.run(r1).await.unwrap().unwrap();
        let s = &d.summary;
        assert_eq!(s.actor, "ops@bastion");
        assert_eq!(s.command, "gamops apply --plan plan.json");
        assert_eq!(s.commit.as_deref(), Some("1111111111aaaa"));
        assert_eq!(s.plan_summary.as_deref(), Some("2 devices, 5 changes"));
        assert_eq!(s.status, RunStatus::Partial);
        assert!(s.finished_at.unwrap() >= s.started_at);
        assert_eq!((s.devices, s.failed_devices), (2, 1));
        let outcomes: Vec<_> =
            d.outcomes.iter().map(|o| (o.device.as_str(), o.status, o.message.as_str())).collect();
        assert_eq!(
            outcomes,
            [
                ("gam-a", DeviceStatus::Applied, ""),
                ("gam-b", DeviceStatus::RolledBack, "verify: vlan 100 missing"),
            ]
        );
        assert_eq!((d.outcomes[0].changes, d.outcomes[0].commands), (3, 5));
        let journal: Vec<_> = d
            .journal
            .iter()
            .map(|j| (j.device.as_str(), j.seq, j.command.as_str(), j.output.as_str(), j.ok))
            .collect();
        assert_eq!(
            journal,
            [
                ("gam-a", 1, "configure terminal", "", true),
                ("gam-a", 2, "ghn subscriber 3 name flat-12", "", true),
                ("gam-b", 1, "ghn port 9 vlan 100", "% Invalid input", false),
            ]
        );

        // Recording an outcome again replaces it.
        db.store.record_outcome(r1, "gam-b", &outcome(DeviceStatus::Failed, "again")).await.unwrap();
        let d = db.store.run(r1).await.unwrap().unwrap();
        assert_eq!(d.outcomes[1].status, DeviceStatus::Failed);
        assert_eq!(d.outcomes.len(), 2);

        let running = db.store.run(r3).await.unwrap().unwrap();
        assert_eq!(running.summary.status, RunStatus::Running);
        assert!(running.summary.finished_at.is_none());

        assert!(db.store.run(RunId(99)).await.unwrap().is_none());
        assert!(matches!(
            db.store.finish_run(RunId(99), RunStatus::Succeeded).await,
            Err(StoreError::UnknownRun(99))
        ));
        assert!(matches!(
            db.store.journal(RunId(99), "x", &entry(1, "c", "", true)).await,
            Err(StoreError::UnknownRun(99))
        ));
        assert!(matches!(
            db.store.record_outcome(RunId(99), "x", &outcome(DeviceStatus::Applied, "")).await,
            Err(StoreError::UnknownRun(99))
        ));
    }
}

on_both! {
    /// History lists runs newest first, filters by device (outcome or journal) and limits.
    async fn history_filters_by_device_and_orders_newest_first(db) {
        let [r1, r2, r3] = fill(&db.store).await;
        let ids = |runs: Vec<gamops::store::RunSummary>| runs.iter().map(|r| r.id).collect::<Vec<_>>();
        let all = db.store.runs(&RunFilter::default()).await.unwrap();
        assert_eq!(ids(all.clone()), [r3, r2, r1]);
        assert_eq!((all[2].devices, all[2].failed_devices), (2, 1));
        let by = |d: &str, limit: Option<u32>| RunFilter { device: Some(d.into()), limit };
        assert_eq!(ids(db.store.runs(&by("gam-b", None)).await.unwrap()), [r2, r1]);
        assert_eq!(ids(db.store.runs(&by("gam-a", None)).await.unwrap()), [r1]);
        assert_eq!(ids(db.store.runs(&by("gam-c", None)).await.unwrap()), [r3]);
        assert_eq!(ids(db.store.runs(&by("gam-b", Some(1))).await.unwrap()), [r2]);
        assert!(db.store.runs(&by("nowhere", None)).await.unwrap().is_empty());
        let limited = RunFilter { device: None, limit: Some(2) };
        assert_eq!(ids(db.store.runs(&limited).await.unwrap()), [r3, r2]);
    }
}

on_both! {
    /// Runs started at once from several handles get distinct, increasing ids.
    async fn concurrent_runs_get_distinct_ids(db) {
        let mut tasks = Vec::new();
        for i in 0..12 {
            let store = if i % 2 == 0 { db.store.clone() } else { db.reopen().await };
            tasks.push(tokio::spawn(async move {
                store.start_run(&new_run(&format!("u{i}@h"), "c")).await.unwrap()
            }));
        }
        let mut ids = HashSet::new();
        for t in tasks {
            assert!(ids.insert(t.await.unwrap()));
        }
        assert_eq!(ids, (1..=12).map(RunId).collect::<HashSet<_>>());
    }
}

on_both! {
    /// A second apply on a leased device is refused, naming the holder.
    async fn a_held_lease_refuses_a_second_taker(db) {
        let lease = db.store.acquire_lease("gam-a", "alice@host1 pid 10", Duration::from_secs(60)).await.unwrap();
        assert_eq!(lease.owner(), "alice@host1 pid 10");
        assert_eq!(lease.device(), "gam-a");
        let other = db.reopen().await;
        match other.acquire_lease("gam-a", "bob@host2 pid 20", Duration::from_secs(60)).await {
            Err(LeaseError::Held { device, owner, expires_at }) => {
                assert_eq!(device, "gam-a");
                assert_eq!(owner, "alice@host1 pid 10");
                assert_eq!(expires_at, lease.expires_at());
                let msg = LeaseError::Held { device, owner, expires_at }.to_string();
                assert!(msg.contains("alice@host1 pid 10"), "{msg}");
            }
            other => panic!("expected Held, got {other:?}"),
        }
        // Another device is free.
        let b = other.acquire_lease("gam-b", "bob@host2 pid 20", Duration::from_secs(60)).await.unwrap();
        let holder = db.store.lease_holder("gam-a").await.unwrap().unwrap();
        assert_eq!(holder.0, "alice@host1 pid 10");
        db.store.release_lease(lease).await.unwrap();
        assert!(db.store.lease_holder("gam-a").await.unwrap().is_none());
        let again = other.acquire_lease("gam-a", "bob@host2 pid 20", Duration::from_secs(60)).await.unwrap();
        other.release_lease(again).await.unwrap();
        other.release_lease(b).await.unwrap();
        other.close().await;
    }
}

on_both! {
    /// A lease left by a killed process expires and is taken over; the old holder can then
    /// neither renew nor release it.
    async fn an_expired_lease_is_taken_over(db) {
        let mut stale = db.store.acquire_lease("gam-a", "killed@host pid 1", Duration::from_millis(150)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let fresh = db.store.acquire_lease("gam-a", "new@host pid 2", Duration::from_secs(60)).await.unwrap();
        assert!(matches!(
            db.store.renew_lease(&mut stale, Duration::from_secs(60)).await,
            Err(LeaseError::Lost { .. })
        ));
        // Releasing the stale lease leaves the new holder's alone.
        db.store.release_lease(stale).await.unwrap();
        assert_eq!(db.store.lease_holder("gam-a").await.unwrap().unwrap().0, "new@host pid 2");
        assert!(matches!(
            db.store.acquire_lease("gam-a", "third@host", Duration::from_secs(1)).await,
            Err(LeaseError::Held { owner, .. }) if owner == "new@host pid 2"
        ));
        db.store.release_lease(fresh).await.unwrap();
        assert!(db.store.lease_holder("gam-a").await.unwrap().is_none());
    }
}

on_both! {
    /// Renewing keeps a lease past its first expiry.
    async fn a_renewed_lease_is_kept(db) {
        let mut lease = db.store.acquire_lease("gam-a", "a@h", Duration::from_millis(150)).await.unwrap();
        let first = lease.expires_at();
        db.store.renew_lease(&mut lease, Duration::from_secs(60)).await.unwrap();
        assert!(lease.expires_at() > first);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(matches!(
            db.store.acquire_lease("gam-a", "b@h", Duration::from_secs(60)).await,
            Err(LeaseError::Held { owner, .. }) if owner == "a@h"
        ));
        db.store.release_lease(lease).await.unwrap();
    }
}

on_both! {
    /// A kept lease outlives its TTL many times over while its holder runs, and expires one TTL
    /// after the keeper stops without releasing it (as when the process is killed).
    async fn a_kept_lease_is_renewed_until_stopped(db) {
        let ttl = Duration::from_millis(600);
        let lease = db.store.acquire_lease("gam-a", "long@h", ttl).await.unwrap();
        let first = lease.expires_at();
        let keeper = db.store.keep_leases(vec![lease], ttl);
        for _ in 0..4 {
            tokio::time::sleep(ttl / 2).await;
            assert!(matches!(
                db.store.acquire_lease("gam-a", "other@h", ttl).await,
                Err(LeaseError::Held { owner, .. }) if owner == "long@h"
            ));
        }
        let kept = keeper.stop().await;
        assert!(kept.lost.is_empty(), "{:?}", kept.lost);
        assert_eq!(kept.leases.len(), 1);
        assert!(kept.leases[0].expires_at() > first, "renewed");
        let (_, expires) = db.store.lease_holder("gam-a").await.unwrap().unwrap();
        assert_eq!(expires, kept.leases[0].expires_at());
        // Not released: still held until the TTL passes, then free.
        assert!(db.store.acquire_lease("gam-a", "other@h", ttl).await.is_err());
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        let next = db.store.acquire_lease("gam-a", "other@h", ttl).await.unwrap();
        db.store.release_lease(next).await.unwrap();
    }
}

on_both! {
    /// A keeper whose lease was taken over (it expired before the keeper's first renewal)
    /// reports the device as lost and stops renewing it; the new holder keeps it.
    async fn a_keeper_reports_a_lost_lease(db) {
        let stale = db.store.acquire_lease("gam-a", "slow@h", Duration::from_millis(100)).await.unwrap();
        let fine = db.store.acquire_lease("gam-b", "slow@h", Duration::from_secs(60)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let taker = db.store.acquire_lease("gam-a", "taker@h", Duration::from_secs(60)).await.unwrap();
        // Renewals every 1 s (a third of 3 s): the first one finds gam-a taken.
        let keeper = db.store.keep_leases(vec![stale, fine], Duration::from_secs(3));
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let kept = keeper.stop().await;
        assert_eq!(kept.lost, vec!["gam-a".to_string()]);
        assert_eq!(kept.leases.iter().map(|l| l.device()).collect::<Vec<_>>(), ["gam-b"]);
        assert_eq!(db.store.lease_holder("gam-a").await.unwrap().unwrap().0, "taker@h");
        for lease in kept.leases {
            db.store.release_lease(lease).await.unwrap();
        }
        db.store.release_lease(taker).await.unwrap();
    }
}

on_both! {
    /// Many takers racing for one device from several handles: exactly one wins, and every
    /// other is told who won.
    async fn racing_takers_have_exactly_one_winner(db) {
        for round in 0..3 {
            let device = format!("gam-race-{round}");
            let mut stores = vec![db.store.clone()];
            for _ in 0..3 {
                stores.push(db.reopen().await);
            }
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(24));
            let mut tasks = Vec::new();
            for i in 0..24 {
                let store = stores[i % stores.len()].clone();
                let device = device.clone();
                let barrier = barrier.clone();
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let owner = format!("taker-{i}");
                    (owner.clone(), store.acquire_lease(&device, &owner, Duration::from_secs(60)).await)
                }));
            }
            let mut winners = Vec::new();
            let mut named = HashSet::new();
            for t in tasks {
                match t.await.unwrap() {
                    (owner, Ok(lease)) => winners.push((owner, lease)),
                    (_, Err(LeaseError::Held { owner, .. })) => {
                        named.insert(owner);
                    }
                    (_, Err(e)) => panic!("unexpected lease error: {e:?}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: winners {:?}", winners.iter().map(|w| &w.0).collect::<Vec<_>>());
            let (winner, lease) = winners.pop().unwrap();
            assert_eq!(named, HashSet::from([winner.clone()]));
            assert_eq!(db.store.lease_holder(&device).await.unwrap().unwrap().0, winner);
            db.store.release_lease(lease).await.unwrap();
            for s in &stores[1..] {
                s.close().await;
            }
        }
    }
}

on_both! {
    /// Secrets that slip past the caller are redacted before they are stored.
    async fn secrets_are_redacted_in_the_journal(db) {
        let id = db.store.start_run(&new_run("a@b", "c")).await.unwrap();
        db.store
            .journal(id, "gam-a", &entry(1, "snmp-server community s3cr3t ro", "Password: hunter2\nok", true))
            .await
            .unwrap();
        db.store
            .record_outcome(id, "gam-a", &outcome(DeviceStatus::Failed, "login failed with password hunter2"))
            .await
            .unwrap();
        let d = db.store.run(id).await.unwrap().unwrap();
        let j = &d.journal[0];
        assert_eq!(j.command, format!("snmp-server community {REDACTED}"));
        assert_eq!(j.output, format!("Password: {REDACTED}\nok"));
        assert_eq!(d.outcomes[0].message, format!("login failed with password {REDACTED}"));
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("s3cr3t") && !json.contains("hunter2"), "{json}");
    }
}

on_both! {
    /// Issue 16, item 7: a password given in `--database-url` was stored in the run's command
    /// line and printed by `history` and `show-run`. The store records it redacted, whoever
    /// starts the run.
    async fn a_password_in_a_url_never_reaches_the_store(db) {
        let id = db
            .store
            .start_run(&NewRun {
                actor: "ops@bastion".into(),
                command: "gamops apply --database-url postgres://gamops:hunter2@db.example:5432/gamops?sslpassword=pw2 --auto-approve".into(),
                commit: None,
                plan_summary: None,
                alive_for: None,
            })
            .await
            .unwrap();
        db.store.finish_run(id, RunStatus::Succeeded).await.unwrap();
        let runs = db.store.runs(&RunFilter::default()).await.unwrap();
        assert_eq!(
            runs[0].command,
            format!("gamops apply --database-url postgres://gamops:{REDACTED}@db.example:5432/gamops?sslpassword={REDACTED} --auto-approve")
        );
        let args = db.cli_args();
        for cmd in [vec!["history".to_string()], vec!["show-run".to_string(), id.to_string()]] {
            let out = gamops()
                .env_remove("GAMOPS_DATABASE_URL")
                .env_remove("GAMOPS_STATE_DIR")
                .args(&cmd)
                .args(&args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let text = stdout(&out);
            assert!(!text.contains("hunter2") && !text.contains("pw2"), "{text}");
            assert!(text.contains("gamops:<redacted>@db.example"), "{text}");
        }
    }
}

on_both! {
    /// `gamops history` and `gamops show-run` read a filled store, as text and as JSON.
    async fn history_and_show_run_commands(db) {
        let [r1, _, r3] = fill(&db.store).await;
        let args = db.cli_args();
        let run = |extra: &[&str]| {
            let mut cmd = gamops();
            cmd.env_remove("GAMOPS_DATABASE_URL").env_remove("GAMOPS_STATE_DIR");
            cmd.args(extra).args(&args);
            cmd.output().unwrap()
        };

        let out = run(&["history"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("RUN  STARTED (UTC)"), "{text}");
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].starts_with("3 ") && lines[1].contains("controller@gamops-0"), "{text}");
        assert!(lines[3].contains("partial") && lines[3].contains("2 (1 not ok)"), "{text}");
        assert!(lines[3].contains("1111111111 ") && lines[3].ends_with("gamops apply --plan plan.json"), "{text}");

        let out = run(&["history", "--device", "gam-b", "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids: Vec<i64> = json.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(ids, [2, 1]);
        assert_eq!(json[1]["status"], "partial");
        assert_eq!(json[1]["commit"], "1111111111aaaa");
        assert!(json[1]["started_at"].as_str().unwrap().ends_with('Z'));

        let out = run(&["history", "--limit", "1", "--format", "json"]);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().len(), 1);

        let out = run(&["show-run", &r1.to_string()]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        for want in [
            "run 1: partial",
            "who:      ops@bastion",
            "commit:   1111111111aaaa",
            "plan:     2 devices, 5 changes",
            "gam-a  applied",
            "gam-b  rolled-back  3 changes, 5 commands: verify: vlan 100 missing",
            "ok     ghn subscriber 3 name flat-12",
            "FAILED ghn port 9 vlan 100",
            "| % Invalid input",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }

        let out = run(&["show-run", &r3.to_string(), "--format", "json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["id"], 3);
        assert_eq!(json["status"], "running");
        assert_eq!(json["finished_at"], serde_json::Value::Null);
        assert_eq!(json["outcomes"][0]["device"], "gam-c");
        assert_eq!(json["outcomes"][0]["status"], "no-changes");
        assert_eq!(json["journal"], serde_json::json!([]));

        let out = run(&["show-run", "42"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("no run 42"), "{}", stderr(&out));
    }
}

on_both! {
    /// A store opened to be read reads what was written and refuses every write.
    async fn a_read_only_store_reads_and_refuses_writes(db) {
        let [r1, ..] = fill(&db.store).await;
        let reader = Store::open_read_only(&db.location).await.unwrap();
        assert_eq!(reader.runs(&RunFilter::default()).await.unwrap().len(), 3);
        assert!(reader.run(r1).await.unwrap().is_some());
        let refused = reader.start_run(&new_run("a@b", "c")).await;
        assert!(matches!(refused, Err(StoreError::Query(_))), "{refused:?}");
        let refused = reader.record_event("splynx", "x", Timestamp::now()).await;
        assert!(refused.is_err(), "{refused:?}");
        reader.close().await;
        // The writer never saw the refused run.
        assert_eq!(db.store.runs(&RunFilter::default()).await.unwrap().len(), 3);
    }
}

/// `history` and `show-run` read a SQLite store they cannot write: run as `nobody` on a
/// state folder and file owned by root (the WAL index cannot be created there either).
#[tokio::test]
async fn history_reads_a_store_it_cannot_write() {
    crate::support::require_root("history_reads_a_store_it_cannot_write");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let location = StoreLocation::Sqlite(state.clone());
    let store = Store::open(&location).await.unwrap();
    let [r1, ..] = fill(&store).await;
    store.close().await;
    // A copy of the binary where nobody can run it; the state readable, not writable.
    let bin = dir.path().join("gamops");
    std::fs::copy(env!("CARGO_BIN_EXE_gamops"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (path, mode) in [
        (dir.path(), 0o755),
        (state.as_path(), 0o755),
        (bin.as_path(), 0o755),
    ] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let file = location.sqlite_file().unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::read(&file).unwrap();
    let listing = |dir: &Path| -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files_before = listing(&state);
    let as_nobody = |args: &[&str]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&bin)
            .args(args)
            .arg("--state-dir")
            .arg(&state)
            .env_remove("GAMOPS_DATABASE_URL")
            .env_remove("GAMOPS_STATE_DIR")
            .output()
            .unwrap()
    };
    let out = as_nobody(&["history", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    let out = as_nobody(&["show-run", &r1.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("run 1: partial"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "reading changed the store"
    );
    assert_eq!(listing(&state), files_before, "reading left files behind");
}

#[tokio::test]
async fn the_sqlite_store_is_in_wal_mode_and_opens_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Sqlite(dir.path().join("fresh"));
    // Several processes' worth of first opens at once: each must succeed, whichever of them
    // applies which migration.
    let opens: Vec<_> = (0..16)
        .map(|_| {
            let location = location.clone();
            tokio::spawn(async move { Store::open(&location).await })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap().close().await;
    }
    // Bytes 18 and 19 of the header are 2 in WAL mode (1 for a rollback journal).
    let file = std::fs::read(location.sqlite_file().unwrap()).unwrap();
    assert_eq!(&file[..16], b"SQLite format 3\0");
    assert_eq!((file[18], file[19]), (2, 2));
}

/// Issue 16 (low): `history` on a missing state folder said "no runs recorded" and exited 0,
/// which hid a mistyped --state-dir. It says there is no store there, with a hint, exits 1,
/// and still creates nothing.
#[test]
fn history_of_a_missing_state_dir_says_there_is_no_store_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nothing-here");
    for args in [&["history"][..], &["show-run", "1"]] {
        let out = gamops()
            .env_remove("GAMOPS_DATABASE_URL")
            .args(args)
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("there is no store in"), "{err}");
        assert!(
            err.contains("hint:") && err.contains("--state-dir"),
            "{err}"
        );
        assert!(!state.exists());
    }
}

/// Issue 16 (low): a damaged store file was reported with a hint about the folder's
/// permissions; the hint now says the file is damaged and what to do.
#[test]
fn a_damaged_store_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join(gamops::store::STATE_FILE),
        "not a database at all, just text ".repeat(200),
    )
    .unwrap();
    let out = gamops()
        .env_remove("GAMOPS_DATABASE_URL")
        .args(["history", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("is not a gamops store"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert!(!err.contains("can be created and written"), "{err}");
}

#[test]
fn the_default_state_dir_is_beside_the_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("repo").join("inventory");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let location = StoreLocation::resolve(None, None, &inventory);
        assert_eq!(
            location,
            StoreLocation::Sqlite(dir.path().join("repo").join(".gamops"))
        );
        let store = Store::open(&location).await.unwrap();
        store.start_run(&new_run("a@b", "c")).await.unwrap();
        store.close().await;
    });
    let out = gamops()
        .env_remove("GAMOPS_DATABASE_URL")
        .env_remove("GAMOPS_STATE_DIR")
        .args(["history", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("a@b"), "{}", stdout(&out));
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let out = gamops()
        .args([
            "history",
            "--database-url",
            "postgres://gamops:sekrit@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("database unreachable at postgres://gamops:***@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(
        err.contains("hint: is the database server running"),
        "{err}"
    );
    assert!(!err.contains("sekrit"), "{err}");
}

#[test]
fn an_unusable_state_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt
        .block_on(Store::open(&StoreLocation::Sqlite(file.join("state"))))
        .unwrap_err();
    assert!(matches!(err, StoreError::StateDir { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot open the state directory"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("--state-dir"));
    let bad = rt
        .block_on(Store::open(&StoreLocation::Url("mysql://x/y".into())))
        .unwrap_err();
    assert!(matches!(bad, StoreError::BadUrl { .. }), "{bad:?}");
}

/// The default location helper keeps `PathBuf`s as given.
#[test]
fn sqlite_file_is_inside_the_state_dir() {
    let loc = StoreLocation::Sqlite(PathBuf::from("/x/.gamops"));
    assert_eq!(
        loc.sqlite_file().unwrap(),
        PathBuf::from("/x/.gamops/state.db")
    );
}
