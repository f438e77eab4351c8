//! `gamops controller` through the binary, against a lab fleet over real sockets, with the
//! inventory in a real git repository: it converges the fleet, applies new commits and only
//! commits, refuses an invalid commit, pauses and resumes, reverts drift, serves its API behind
//! tokens and its metrics, refuses a second controller on the same store, and stops on SIGTERM.

use std::process::Command;
use std::time::{Duration, Instant};

use gamops::lab::control::Drift;
use serde_json::Value;

use crate::support::fleet::{FleetLab, code_and_text, expect_exit};
use crate::support::process::{Controller, eventually};

pub(crate) fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Ops", "-c", "user.email=ops@example.net"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        code_and_text(&out).1
    );
}

fn token(f: &FleetLab, scope: &str) -> String {
    let out = f
        .command(&["token", "create", "--name", scope, "--scope", scope])
        .output()
        .unwrap();
    let text = expect_exit(&out, 0);
    let token = text.trim().to_string();
    assert!(token.starts_with("gamops_"), "{token}");
    token
}

pub(crate) fn vlan_of(f: &FleetLab, device: &str, subscriber: &str) -> Option<u16> {
    f.state(device)
        .running
        .subscribers
        .values()
        .find(|s| s.name == subscriber)
        .map(|s| s.vid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_converges_commits_only_and_says_what_it_does() {
    let f = FleetLab::start(2, 4, Duration::from_secs(1)).await;
    git(&f.dir, &["init", "-q", "-b", "main"]);
    git(&f.dir, &["add", "-A"]);
    git(&f.dir, &["commit", "-qm", "fleet"]);
    let operate = token(&f, "operate");
    let read = token(&f, "read");

    let c = Controller::start(&f, &[]).await;
    // Everything the controller tells its Server-Sent Events listeners, as it comes.
    let events = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let listener = {
        let (events, url, read) = (
            events.clone(),
            format!("{}/api/v1/events", c.base),
            read.clone(),
        );
        tokio::spawn(async move {
            let mut resp = reqwest::Client::new()
                .get(url)
                .bearer_auth(read)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            while let Ok(Some(chunk)) = resp.chunk().await {
                events
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        })
    };
    eventually("both devices converged", || async {
        (0..2).all(|i| f.state(&format!("gam-000{i}")).running.subscribers.len() == 4)
    })
    .await;
    eventually("the API to say in-sync", || async {
        let (_, devices) = c.call("GET", "/api/v1/devices", Some(&read)).await;
        devices
            .as_array()
            .is_some_and(|d| d.len() == 2 && d.iter().all(|d| d["sync"] == "in-sync"))
    })
    .await;

    // The subscriber search: by MAC (any case), and by device.
    let (_, found) = c
        .call("GET", "/api/v1/subscribers?q=00:0E:D8:00:01:8", Some(&read))
        .await;
    assert_eq!(found["total"], 4, "{found}");
    assert!(
        found["subscribers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["device"] == "gam-0001" && s["device_sync"] == "in-sync"),
        "{found}"
    );
    let (_, found) = c
        .call(
            "GET",
            "/api/v1/subscribers?device=gam-0000&limit=1",
            Some(&read),
        )
        .await;
    assert_eq!(found["total"], 4, "{found}");
    assert_eq!(found["subscribers"].as_array().unwrap().len(), 1, "{found}");

    // Health, readiness and metrics answer anyone; the API needs a token with the scope.
    assert_eq!(c.call("GET", "/healthz", None).await.0, 200);
    assert_eq!(c.call("GET", "/readyz", None).await.0, 200);
    assert_eq!(c.call("GET", "/api/v1/devices", None).await.0, 401);
    assert_eq!(
        c.call("GET", "/api/v1/devices", Some("gamops_nope"))
            .await
            .0,
        401
    );
    assert_eq!(c.call("POST", "/api/v1/pause", Some(&read)).await.0, 403);
    let (_, metrics) = c.call("GET", "/metrics", None).await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("gamops_controller_devices{state=\"in-sync\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("gamops_controller_applies_total{outcome=\"applied\"} 2"));
    assert!(metrics.contains("gamops_controller_applied_commit_info{commit=\""));

    // A committed edit converges; the device's file changed, so its device goes first.
    f.edit(
        "subscribers/gam-0001/sub-0001-002.yaml",
        "vlan: 102",
        "vlan: 302",
    );
    git(&f.dir, &["commit", "-qam", "move sub-0001-002 to VLAN 302"]);
    eventually("the commit applied", || async {
        vlan_of(&f, "gam-0001", "sub-0001-002") == Some(302)
    })
    .await;

    // An uncommitted edit is never applied, even on request.
    f.edit(
        "subscribers/gam-0001/sub-0001-001.yaml",
        "vlan: 101",
        "vlan: 301",
    );
    let (_, before) = c.call("GET", "/api/v1/status", Some(&read)).await;
    assert_eq!(
        c.call("POST", "/api/v1/reconcile", Some(&operate)).await.0,
        202
    );
    let passes = before["passes"].as_u64().unwrap();
    eventually("two more passes", || async {
        let (_, s) = c.call("GET", "/api/v1/status", Some(&read)).await;
        s["passes"].as_u64().unwrap() >= passes + 2
    })
    .await;
    assert_eq!(vlan_of(&f, "gam-0001", "sub-0001-001"), Some(101));
    git(&f.dir, &["checkout", "-q", "--", "."]);

    // A commit that does not validate is refused; the previous one stays the target.
    let target = before["target"].as_str().unwrap().to_string();
    f.edit(
        "subscribers/gam-0000/sub-0000-000.yaml",
        "plan: 500M",
        "plan: 9G",
    );
    git(&f.dir, &["commit", "-qam", "a plan that does not exist"]);
    eventually("the invalid commit refused", || async {
        let (_, s) = c.call("GET", "/api/v1/status", Some(&read)).await;
        s["refused"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("is not valid"))
    })
    .await;
    let (_, s) = c.call("GET", "/api/v1/status", Some(&read)).await;
    assert_eq!(s["target"], target, "{s}");
    let plan_of = |d: &str| {
        f.state(d)
            .running
            .subscribers
            .values()
            .find(|s| s.name == "sub-0000-000")
            .map(|s| s.bw_profile)
    };
    let profile_before = plan_of("gam-0000");

    // Paused: a valid commit is planned, shown as drift, and not applied until resumed.
    assert_eq!(c.call("POST", "/api/v1/pause", Some(&operate)).await.0, 200);
    f.edit(
        "subscribers/gam-0000/sub-0000-000.yaml",
        "plan: 9G",
        "plan: 500M",
    );
    f.edit(
        "subscribers/gam-0000/sub-0000-000.yaml",
        "vlan: 100",
        "vlan: 400",
    );
    git(
        &f.dir,
        &["commit", "-qam", "fix the plan, move to VLAN 400"],
    );
    eventually("the drift shown while paused", || async {
        let (_, d) = c.call("GET", "/api/v1/devices/gam-0000", Some(&read)).await;
        d["status"]["sync"] == "drifted" && d["status"]["changes"].as_u64() == Some(1)
    })
    .await;
    assert_eq!(vlan_of(&f, "gam-0000", "sub-0000-000"), Some(100));
    assert_eq!(plan_of("gam-0000"), profile_before);
    assert!(
        c.call("GET", "/metrics", None)
            .await
            .1
            .as_str()
            .unwrap()
            .contains("gamops_controller_paused 1")
    );
    assert_eq!(
        c.call("POST", "/api/v1/resume", Some(&operate)).await.0,
        200
    );
    eventually("the commit applied after resume", || async {
        vlan_of(&f, "gam-0000", "sub-0000-000") == Some(400)
    })
    .await;

    // Drift made on the device by hand is put back by the next scan.
    let id = f
        .state("gam-0001")
        .running
        .subscribers
        .iter()
        .find(|(_, s)| s.name == "sub-0001-000")
        .map(|(id, _)| *id)
        .unwrap();
    f.device("gam-0001")
        .drift(&Drift {
            subscriber: id,
            vid: Some(3999),
            ..Drift::default()
        })
        .unwrap();
    eventually("the drift reverted", || async {
        vlan_of(&f, "gam-0001", "sub-0001-000") == Some(100)
    })
    .await;

    // A second controller on the same store refuses, naming the first.
    let second = f.gamops(&["controller", "--listen", "127.0.0.1:0"]).await;
    let (code, text) = code_and_text(&second);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("another controller leads this store"),
        "{text}"
    );
    assert!(text.contains("controller@"), "{text}");

    let seen = events.lock().unwrap().clone();
    for kind in ["reconciled", "run", "device", "refused", "paused"] {
        assert!(
            seen.contains(&format!("event: {kind}\n")),
            "no {kind} event in:\n{seen}"
        );
    }
    assert!(seen.contains("\"sync\":\"applying\""), "{seen}");
    listener.abort();

    let out = c.stop().await;
    let (code, text) = code_and_text(&out);
    assert_eq!(code, Some(0), "{text}");
    let history = f.gamops(&["history", "--format", "json"]).await;
    let runs: Value = serde_json::from_slice(&history.stdout).unwrap();
    let commands: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["command"].as_str().unwrap())
        .collect();
    assert!(
        commands.iter().any(|c| c.starts_with("controller: commit")),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with("controller: drift")),
        "{commands:?}"
    );
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "succeeded")
    );
}

/// Two controllers on one PostgreSQL store: one leads, the other follows and serves reads; the
/// leader is killed (`kill -9`) in the middle of an apply, the follower takes over within two
/// lease TTLs and converges the devices, and no command was applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_takes_over_from_a_killed_leader_on_postgresql() {
    let db = crate::store::TestDb::postgres().await;
    let store_args = db.cli_args();
    let store_args: Vec<&str> = store_args.iter().map(String::as_str).collect();
    let f = FleetLab::start(2, 30, Duration::from_secs(1)).await;
    git(&f.dir, &["init", "-q", "-b", "main"]);
    git(&f.dir, &["add", "-A"]);
    git(&f.dir, &["commit", "-qm", "fleet"]);
    let read = {
        let mut args = vec!["token", "create", "--name", "r", "--scope", "read"];
        args.extend_from_slice(&store_args);
        let out = f.command(&args).output().unwrap();
        expect_exit(&out, 0).trim().to_string()
    };
    // Slow devices, so the leader is killed with its apply half done.
    f.faults(&gamops::lab::control::FaultSettings {
        ssh_latency_ms: Some(40),
        ..Default::default()
    });
    let mut args = vec!["--lease-ttl", "2s"];
    args.extend_from_slice(&store_args);
    let leader = Controller::start(&f, &args).await;
    let follower = Controller::start(&f, &args).await;
    eventually("the follower ready, following", || async {
        let (code, ready) = follower.call("GET", "/readyz", None).await;
        code == 200 && ready["leader"] == false
    })
    .await;
    let (_, status) = follower.call("GET", "/api/v1/status", Some(&read)).await;
    let first = status["leader"].as_str().unwrap().to_string();
    assert!(first.starts_with("controller@"), "{status}");

    until_state(&f, "the leader's apply under way", |f| {
        f.state("gam-0000").running.endpoints.len() >= 3
    })
    .await;
    assert!(
        f.state("gam-0000").running.subscribers.len() < 30,
        "the apply finished before the kill; slow the lab down"
    );
    leader.kill(); // SIGKILL: no lease released, no run finished
    let killed = Instant::now();

    eventually("the follower leading", || async {
        let (_, ready) = follower.call("GET", "/readyz", None).await;
        ready["leader"] == true
    })
    .await;
    // (How long it took is the lease TTL plus at most a third of it; not asserted, this
    // machine is shared.)
    eprintln!(
        "the follower took over {:?} after the kill",
        killed.elapsed()
    );
    f.faults(&gamops::lab::control::FaultSettings {
        ssh_latency_ms: Some(0),
        ..Default::default()
    });
    eventually("the follower converging both devices", || async {
        (0..2).all(|i| f.state(&format!("gam-000{i}")).running.subscribers.len() == 30)
            && follower.call("GET", "/api/v1/status", Some(&read)).await.1["devices"]["in-sync"]
                == 2
    })
    .await;
    for name in ["gam-0000", "gam-0001"] {
        let state = f.state(name);
        crate::support::fleet::assert_no_duplicates(&state);
        crate::support::fleet::assert_saved(&state);
    }

    // No command was applied twice: every `ghn` line the devices accepted appears once across
    // the killed leader's run and the follower's.
    let runs = db
        .store
        .runs(&gamops::store::RunFilter::default())
        .await
        .unwrap();
    assert!(runs.len() >= 2, "{runs:?}");
    let mut accepted = std::collections::BTreeMap::new();
    for r in &runs {
        let detail = db.store.run(r.id).await.unwrap().unwrap();
        for j in detail.journal {
            if j.ok && j.command.starts_with("ghn ") {
                *accepted.entry((j.device, j.command)).or_insert(0) += 1;
            }
        }
    }
    let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "applied twice: {twice:?}");
    assert!(accepted.len() > 60, "{}", accepted.len());
    let killed_run = runs.iter().find(|r| {
        r.actor.starts_with("controller@") && r.status == gamops::store::RunStatus::Abandoned
    });
    assert!(
        killed_run.is_some(),
        "the killed leader's run reads as abandoned: {runs:?}"
    );
    let out = follower.stop().await;
    assert_eq!(out.status.code(), Some(0), "{}", code_and_text(&out).1);
}

async fn until_state(f: &FleetLab, what: &str, done: impl Fn(&FleetLab) -> bool) {
    let started = Instant::now();
    while !done(f) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `--repo`: the controller clones a remote, fetches it on a verified push webhook (and on
/// each drift scan), and applies the pushed commit; a forged or foreign push does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_is_cloned_and_a_verified_push_webhook_applies_its_commit() {
    let f = FleetLab::start(2, 3, Duration::from_secs(1)).await;
    let root = f.dir.parent().unwrap().to_path_buf();
    std::fs::write(root.join(".gitignore"), ".gamops/\n").unwrap();
    let fleet = f.dir.join("gamops.yaml");
    let text = std::fs::read_to_string(&fleet).unwrap();
    std::fs::write(
        &fleet,
        format!("{text}controller:\n  git_webhook_secret: env:GAMOPS_GIT_HOOK\n"),
    )
    .unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "fleet"]);
    let remote = tempfile::tempdir().unwrap();
    let bare = remote.path().join("inventory.git");
    git(
        remote.path(),
        &["init", "-q", "--bare", "-b", "main", "inventory.git"],
    );
    let url = format!("file://{}", bare.display());
    git(&root, &["push", "-q", &url, "main"]);

    let state = tempfile::tempdir().unwrap();
    let mut cmd = f.bare_command(&[
        "controller",
        "--repo",
        &url,
        "--branch",
        "main",
        "--inventory",
        "inventory",
        "--state-dir",
        state.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "1h",
    ]);
    cmd.env("GAMOPS_GIT_HOOK", "s3cret");
    let c = Controller::spawn(cmd).await;
    assert!(
        state.path().join("repo/.git").is_dir(),
        "cloned into the state directory"
    );
    eventually("the remote's commit converged", || async {
        (0..2).all(|i| f.state(&format!("gam-000{i}")).running.subscribers.len() == 3)
    })
    .await;

    f.edit(
        "subscribers/gam-0000/sub-0000-001.yaml",
        "vlan: 101",
        "vlan: 601",
    );
    git(&root, &["commit", "-qam", "sub-0000-001 to VLAN 601"]);
    git(&root, &["push", "-q", &url, "main"]);
    let hook = |body: &'static str, headers: Vec<(&'static str, String)>| {
        let url = format!("{}/hooks/git", c.base);
        async move {
            let mut req = reqwest::Client::new().post(url).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            req.send().await.unwrap().status().as_u16()
        }
    };
    let sign = |body: &[u8]| {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    let ours = r#"{"ref":"refs/heads/main"}"#;
    let theirs = r#"{"ref":"refs/heads/feature"}"#;
    assert_eq!(hook(ours, vec![]).await, 401);
    assert_eq!(
        hook(
            ours,
            vec![("x-hub-signature-256", format!("sha256={}", sign(b"forged")))]
        )
        .await,
        403
    );
    assert_eq!(
        hook(ours, vec![("x-gitlab-token", "guess".into())]).await,
        403
    );
    assert_eq!(
        hook(theirs, vec![("x-gitea-signature", sign(theirs.as_bytes()))]).await,
        200
    );
    // Neither the forged nor the foreign push made it fetch (the scan is an hour away).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(vlan_of(&f, "gam-0000", "sub-0000-001"), Some(101));
    assert_eq!(
        hook(
            ours,
            vec![(
                "x-hub-signature-256",
                format!("sha256={}", sign(ours.as_bytes()))
            )]
        )
        .await,
        202
    );
    eventually("the pushed commit applied", || async {
        vlan_of(&f, "gam-0000", "sub-0000-001") == Some(601)
    })
    .await;
    let out = c.stop().await;
    assert_eq!(out.status.code(), Some(0), "{}", code_and_text(&out).1);
}

/// `policy: hold`: outside a maintenance window only changes that keep service go; the rest
/// wait, shown as drift, and go once a window is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_applies_what_keeps_service_and_waits_for_a_window_for_the_rest() {
    let f = FleetLab::start(1, 3, Duration::from_secs(1)).await;
    let fleet = f.dir.join("gamops.yaml");
    let text = std::fs::read_to_string(&fleet).unwrap();
    // A window that opens at 03:00 on the 1st of January only.
    let closed =
        "controller:\n  policy: hold\n  windows:\n    - cron: 0 3 1 1 *\n      duration: 1h\n";
    std::fs::write(&fleet, format!("{text}{closed}")).unwrap();
    git(&f.dir, &["init", "-q", "-b", "main"]);
    git(&f.dir, &["add", "-A"]);
    git(&f.dir, &["commit", "-qm", "fleet"]);
    let read = token(&f, "read");
    let c = Controller::start(&f, &[]).await;
    // Creating subscribers interrupts nobody: the empty device converges outside a window.
    eventually("the device converged", || async {
        f.state("gam-0000").running.subscribers.len() == 3
    })
    .await;

    // A label change goes now; a VLAN change waits.
    f.edit(
        "subscribers/gam-0000/sub-0000-001.yaml",
        "name: Unit 2",
        "name: Flat 2",
    );
    f.edit(
        "subscribers/gam-0000/sub-0000-002.yaml",
        "vlan: 102",
        "vlan: 702",
    );
    git(&f.dir, &["commit", "-qam", "a label and a VLAN"]);
    let description = |name: &str| {
        f.state("gam-0000")
            .running
            .subscribers
            .values()
            .find(|s| s.name == name)
            .map(|s| s.description.clone())
    };
    eventually("the label applied", || async {
        description("sub-0000-001").as_deref() == Some("Flat 2")
    })
    .await;
    eventually("the VLAN change shown waiting", || async {
        let (_, d) = c.call("GET", "/api/v1/devices/gam-0000", Some(&read)).await;
        d["status"]["sync"] == "drifted"
            && d["status"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("wait for a maintenance window"))
    })
    .await;
    assert_eq!(vlan_of(&f, "gam-0000", "sub-0000-002"), Some(102));

    // A window that is always open: the VLAN change goes.
    let open = "controller:\n  policy: hold\n  windows:\n    - cron: '* * * * *'\n      duration: 1h\n      timezone: Europe/Berlin\n";
    std::fs::write(&fleet, format!("{text}{open}")).unwrap();
    git(&f.dir, &["commit", "-qam", "open a window"]);
    eventually("the VLAN change applied in the window", || async {
        vlan_of(&f, "gam-0000", "sub-0000-002") == Some(702)
    })
    .await;
    let out = c.stop().await;
    assert_eq!(out.status.code(), Some(0), "{}", code_and_text(&out).1);
}

/// An inventory that is not in git is refused with a hint, and leaves no lease behind: once
/// committed, the controller starts at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_outside_git_is_refused_and_the_fix_needs_no_wait() {
    let f = FleetLab::start(1, 1, Duration::from_secs(1)).await;
    let out = f.gamops(&["controller", "--listen", "127.0.0.1:0"]).await;
    let (code, text) = code_and_text(&out);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is not in a git repository"), "{text}");
    assert!(
        text.contains("hint: ") && text.contains("git init"),
        "{text}"
    );
    git(&f.dir, &["init", "-q", "-b", "main"]);
    git(&f.dir, &["add", "-A"]);
    git(&f.dir, &["commit", "-qm", "fleet"]);
    let c = Controller::start(&f, &[]).await;
    eventually("the device converged", || async {
        f.state("gam-0000").running.subscribers.len() == 1
    })
    .await;
    let out = c.stop().await;
    assert_eq!(out.status.code(), Some(0), "{}", code_and_text(&out).1);
}

/// A billing webhook received by the controller becomes a commit by the bot and then the
/// subscriber configured on its GAM, in one loop: the delivery is verified (a forged one is
/// refused), synced, committed, applied as a run triggered by the billing event, counted in
/// the metrics with its lag; a redelivery changes nothing. `controller.public: [healthz]`
/// makes /readyz and /metrics ask for a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_webhook_becomes_a_commit_and_then_the_subscriber_on_its_gam() {
    use crate::sync_serve::{SECRET, fake_splynx, fit_customers, splynx_env, splynx_event};
    use gamops::lab::billing::splynx;

    let f = FleetLab::start(2, 3, Duration::from_secs(1)).await;
    let fake = fake_splynx().await;
    let fleet = f.dir.join("gamops.yaml");
    let text = std::fs::read_to_string(&fleet).unwrap();
    std::fs::write(
        &fleet,
        format!(
            "{text}controller:\n  public: [healthz]\nbilling:\n  bot:\n    name: Billing Bot\n    email: bot@example.net\n  splynx:\n    url: {}\n    auth:\n      key: env:GAMOPS_SPLYNX_KEY\n      secret: env:GAMOPS_SPLYNX_SECRET\n    webhook_secret: env:GAMOPS_SPLYNX_WEBHOOK_SECRET\n",
            fake.url()
        ),
    )
    .unwrap();
    let ids = fit_customers(&fake, &f.dir);
    git(&f.dir, &["init", "-q", "-b", "main"]);
    git(&f.dir, &["add", "-A"]);
    git(&f.dir, &["commit", "-qm", "fleet"]);
    let read = token(&f, "read");

    let mut cmd = f.command(&["controller", "--listen", "127.0.0.1:0", "--interval", "1h"]);
    for (k, v) in splynx_env(&fake) {
        cmd.env(k, v);
    }
    let c = Controller::spawn(cmd).await;
    eventually("both devices converged", || async {
        (0..2).all(|i| f.state(&format!("gam-000{i}")).running.subscribers.len() == 3)
    })
    .await;
    let head = || crate::support::git(&f.dir, &["rev-parse", "HEAD"]);
    let before = head();

    // A forged delivery is refused and changes nothing.
    let url = format!("{}/webhooks/splynx", c.base);
    let event = splynx_event(ids[0], 1);
    let (status, _) =
        splynx::send_webhook(&url, Some("forged"), &event, splynx::WebhookEncoding::Json)
            .await
            .unwrap();
    assert_eq!(status, 403);

    // A signed one: the bot commits the new subscriber, and the controller configures it.
    let (status, _) =
        splynx::send_webhook(&url, Some(SECRET), &event, splynx::WebhookEncoding::Json)
            .await
            .unwrap();
    assert_eq!(status, 200);
    eventually("the subscriber on a GAM", || async {
        (0..2).any(|i| {
            f.state(&format!("gam-000{i}"))
                .running
                .subscribers
                .values()
                .any(|s| s.name.contains(&format!("splynx-{}", ids[0])))
        })
    })
    .await;
    let after = head();
    assert_ne!(after, before);
    let log = crate::support::git(&f.dir, &["log", "-1", "--format=%an%n%B"]);
    assert!(log.starts_with("Billing Bot"), "{log}");
    assert!(log.contains("Billing-Event-Id:"), "{log}");
    assert!(log.contains(&format!("splynx-{}", ids[0])), "{log}");

    // The run says what started it; the metrics count the sync and its lag.
    eventually("a run triggered by the billing event", || async {
        let (_, runs) = c.call("GET", "/api/v1/runs", Some(&read)).await;
        runs.as_array().is_some_and(|r| {
            r.iter().any(|r| {
                r["command"]
                    .as_str()
                    .is_some_and(|c| c.contains("billing event"))
            })
        })
    })
    .await;
    assert_eq!(c.call("GET", "/healthz", None).await.0, 200);
    assert_eq!(c.call("GET", "/readyz", None).await.0, 401);
    assert_eq!(c.call("GET", "/metrics", None).await.0, 401);
    assert_eq!(c.call("GET", "/readyz", Some(&read)).await.0, 200);
    let (status, metrics) = c.call("GET", "/metrics", Some(&read)).await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains(
            "gamops_controller_billing_syncs_total{system=\"splynx\",outcome=\"committed\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("gamops_controller_billing_sync_lag_seconds_count{system=\"splynx\"} 1"),
        "{metrics}"
    );

    // The same delivery again: answered, not synced, no commit.
    let (status, _) =
        splynx::send_webhook(&url, Some(SECRET), &event, splynx::WebhookEncoding::Json)
            .await
            .unwrap();
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(head(), after);
    let out = c.stop().await;
    let (code, text) = code_and_text(&out);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("receiving splynx webhooks at /webhooks/splynx"),
        "{text}"
    );
}
