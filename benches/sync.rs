//! Benchmark: a full billing sync of 20,000 Splynx customers from the fake server (pages of
//! 100) into a git repository of that size. Prints its figures; it is not a timed test.
//!
//! ```sh
//! cargo bench --bench sync                 # 20,000 customers
//! cargo bench --bench sync -- 5000         # customers
//! ```
//!
//! Steps: the repository is created with its devices and committed; a first full sync creates
//! every subscriber file and commits them; billing then changes (plan changes, blocked and
//! removed customers, moved endpoints) and a second full sync commits those; a third finds no
//! change. Each sync prints its fetch, map, validate, write, commit and total times. Then 20
//! incremental syncs of one customer each (what a webhook triggers) print their latency.

mod common;

use std::time::Instant;

use common::git;
use gamops::billing::sync::{ChangeKind, EventRef, Scope, Source, SyncOptions, SyncReport, sync};
use gamops::lab::billing::{SplynxFake, SplynxFakeConfig};

const PLANS: &str = "100M: {down_mbps: 100, up_mbps: 100}\n250M: {down_mbps: 250, up_mbps: 250}\n500M: {down_mbps: 500, up_mbps: 500}\n1G: {down_mbps: 1000, up_mbps: 1000}\n";

fn print(label: &str, r: &SyncReport, total: f64) {
    let t = &r.timings;
    println!(
        "{label}: {} customers read; {} created, {} updated, {} suspended, {} deleted, {} skipped; {} files",
        r.read,
        r.count(ChangeKind::Created),
        r.count(ChangeKind::Updated),
        r.count(ChangeKind::Suspended),
        r.count(ChangeKind::Deleted),
        r.skipped.len(),
        r.files.len()
    );
    println!(
        "  load {:.0} ms, fetch {:.0} ms, map {:.0} ms, validate {:.0} ms, write {:.0} ms, commit {:.0} ms; total {:.2} s{}",
        t.load_ms,
        t.fetch_ms,
        t.map_ms,
        t.validate_ms,
        t.write_ms,
        t.commit_ms,
        total,
        if total < 20.0 {
            ""
        } else {
            "  (over the 20 s budget)"
        }
    );
}

fn main() {
    let customers: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let fake = SplynxFake::start(SplynxFakeConfig {
            customers,
            ..SplynxFakeConfig::default()
        })
        .await
        .expect("fake Splynx");

        // The repository: settings, plans and one GAM per 12 customers.
        let tmp = tempfile::tempdir().expect("temporary folder");
        let work = tmp.path().join("work");
        let inv = work.join("inventory");
        std::fs::create_dir_all(inv.join("devices")).expect("folders");
        let (key, secret) = (tmp.path().join("key"), tmp.path().join("secret"));
        std::fs::write(&key, fake.api_key()).expect("key");
        std::fs::write(&secret, fake.api_secret()).expect("secret");
        std::fs::write(
            inv.join("gamops.yaml"),
            format!(
                "billing:\n  splynx:\n    url: {}\n    auth: {{ key: \"file:{}\", secret: \"file:{}\" }}\n  removed: delete\n",
                fake.url(),
                key.display(),
                secret.display()
            ),
        )
        .expect("gamops.yaml");
        std::fs::write(inv.join("plans.yaml"), PLANS).expect("plans.yaml");
        let devices = customers.div_ceil(12);
        for k in 1..=devices {
            std::fs::write(
                inv.join(format!("devices/lab-gam-{k}.yaml")),
                format!("name: lab-gam-{k}\nmodel: GAM-12-M\naddress: 127.0.0.1\n"),
            )
            .expect("device");
        }
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "devices"]);
        println!("repository: {devices} devices, {customers} customers in billing (pages of 100)");

        let mut opts = SyncOptions::new(&inv, Source::Splynx);
        opts.commit = true;
        opts.page_size = Some(100);

        let t = Instant::now();
        let r = sync(&opts, Scope::All, &[]).await.expect("first sync");
        print("first sync (every file created)", &r, t.elapsed().as_secs_f64());

        // Billing changes: 1 % change plan, 0.5 % are blocked, 0.25 % leave, 0.25 % move MAC.
        fake.edit(|cs| {
            for c in cs.iter_mut() {
                if c.id % 100 == 7 {
                    c.down_kbps = 100_000;
                    c.up_kbps = 100_000;
                }
                if c.id % 200 == 3 {
                    c.status = "blocked".into();
                }
                if c.id % 400 == 11 {
                    let b = (c.id + 1_000_000).to_be_bytes();
                    c.mac = Some(format!("02:0e:d8:{:02x}:{:02x}:{:02x}", b[5], b[6], b[7]));
                }
            }
            cs.retain(|c| c.id % 400 != 13);
        });
        let t = Instant::now();
        let r = sync(&opts, Scope::All, &[]).await.expect("second sync");
        print("second sync (billing changed)", &r, t.elapsed().as_secs_f64());

        let t = Instant::now();
        let r = sync(&opts, Scope::All, &[]).await.expect("third sync");
        print("third sync (no change)", &r, t.elapsed().as_secs_f64());
        assert!(r.commit.is_none(), "no change, no commit");

        // Incremental syncs, as a webhook runs them: one customer each, one commit each.
        let mut times = Vec::new();
        for i in 0..20u64 {
            let id = (4 * i * 97 + 1).min(customers.saturating_sub(3));
            fake.change_plan(id, 250_000, 250_000);
            let events = [EventRef {
                id: format!("bench-{i}"),
            }];
            let t = Instant::now();
            let r = sync(&opts, Scope::Customers(vec![id.to_string()]), &events)
                .await
                .expect("incremental sync");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(r.changes.len() <= 1);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "incremental sync of one customer (to a commit), 20 runs: median {:.0} ms, max {:.0} ms",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    });
}
