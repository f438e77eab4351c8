//! `gamops sync sonar|splynx` against the fake billing servers over real HTTP, into real git
//! repositories, checked with the `git` CLI: the bot's commits, idempotence, bad data, manual
//! subscribers, dry runs, uncommitted edits, branches, and pushes to a remote that moved.

use std::path::{Path, PathBuf};
use std::process::Output;

use gamops::billing::sync::{ChangeKind, EventRef, Scope, Source, SyncOptions, sync};
use gamops::lab::billing::{SonarFake, SonarFakeConfig, SplynxFake, SplynxFakeConfig};

use crate::support::{gamops, git, stderr, stdout};

const PLANS: &str = "100M: {down_mbps: 100, up_mbps: 100}\n250M: {down_mbps: 250, up_mbps: 250}\n500M: {down_mbps: 500, up_mbps: 500}\n1G: {down_mbps: 1000, up_mbps: 1000}\n";

/// A git work tree with an inventory whose `billing:` section points at a fake.
struct Setup {
    _tmp: tempfile::TempDir,
    /// The work tree's root.
    work: PathBuf,
    /// `work/inventory`.
    inv: PathBuf,
    /// Environment for the secrets the inventory refers to.
    env: Vec<(String, String)>,
    source: &'static str,
}

impl Setup {
    /// `devices` GAMs `lab-gam-1..`, GAM-12-M unless listed in `coax`; `billing` is the
    /// system's section (indented under `billing:`), `extra` more lines of it.
    fn new(
        tmp: tempfile::TempDir,
        source: &'static str,
        billing: &str,
        env: Vec<(String, String)>,
        devices: usize,
        coax: &[usize],
        extra: &str,
    ) -> Setup {
        let work = tmp.path().join("work");
        let inv = work.join("inventory");
        std::fs::create_dir_all(inv.join("devices")).unwrap();
        std::fs::write(
            inv.join("gamops.yaml"),
            format!("billing:\n{billing}{extra}"),
        )
        .unwrap();
        std::fs::write(inv.join("plans.yaml"), PLANS).unwrap();
        for k in 1..=devices {
            let model = if coax.contains(&k) {
                "GAM-12-C"
            } else {
                "GAM-12-M"
            };
            std::fs::write(
                inv.join(format!("devices/lab-gam-{k}.yaml")),
                format!("name: lab-gam-{k}\nmodel: {model}\naddress: 127.0.0.1\n"),
            )
            .unwrap();
        }
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "inventory"]);
        Setup {
            _tmp: tmp,
            work,
            inv,
            env,
            source,
        }
    }

    /// Splynx's key and secret are read from files (`file:` references).
    fn splynx(f: &SplynxFake, devices: usize, coax: &[usize], extra: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let (key, secret) = (tmp.path().join("key"), tmp.path().join("secret"));
        std::fs::write(&key, f.api_key() + "\n").unwrap();
        std::fs::write(&secret, f.api_secret()).unwrap();
        let billing = format!(
            "  splynx:\n    url: {}\n    auth: {{ key: \"file:{}\", secret: \"file:{}\" }}\n",
            f.url(),
            key.display(),
            secret.display()
        );
        Setup::new(tmp, "splynx", &billing, Vec::new(), devices, coax, extra)
    }

    fn sonar(f: &SonarFake, devices: usize) -> Setup {
        let billing = format!(
            "  sonar:\n    url: {}\n    token: env:GAMOPS_TEST_SONAR_TOKEN\n",
            f.url()
        );
        let env = vec![(
            "GAMOPS_TEST_SONAR_TOKEN".to_string(),
            "sonar-test-token".to_string(),
        )];
        Setup::new(
            tempfile::tempdir().unwrap(),
            "sonar",
            &billing,
            env,
            devices,
            &[],
            "",
        )
    }

    /// Runs `gamops sync <source> --inventory INV ARGS...` (off the async runtime, which
    /// serves the fake meanwhile).
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = gamops();
        cmd.args(["sync", self.source, "--inventory"])
            .arg(&self.inv)
            .args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "sync {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    fn commits(&self, rev: &str) -> usize {
        self.git(&["rev-list", "--count", rev])
            .trim()
            .parse()
            .unwrap()
    }

    fn sub(&self, device: usize, id: &str) -> PathBuf {
        self.inv
            .join(format!("subscribers/lab-gam-{device}/{id}.yaml"))
    }

    fn read(&self, device: usize, id: &str) -> String {
        std::fs::read_to_string(self.sub(device, id)).unwrap()
    }

    fn assert_valid(&self) {
        let out = gamops()
            .args(["validate", "--inventory"])
            .arg(&self.inv)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stdout(&out));
    }

    /// Every file under the inventory with its contents.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for e in walk(&self.inv) {
            out.push((e.clone(), std::fs::read(&e).unwrap()));
        }
        out.sort();
        out
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn splynx_fake(n: u64) -> SplynxFake {
    SplynxFake::start(SplynxFakeConfig {
        customers: n,
        ..SplynxFakeConfig::default()
    })
    .await
    .unwrap()
}

fn trailers(s: &Setup, rev: &str, key: &str) -> Vec<String> {
    s.git(&[
        "log",
        "-1",
        &format!("--format=%(trailers:key={key},valueonly)"),
        rev,
    ])
    .lines()
    .map(str::trim)
    .filter(|l| !l.is_empty())
    .map(str::to_string)
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splynx_sync_commits_as_the_bot_once_and_again_only_on_a_change() {
    let f = splynx_fake(30).await;
    let s = Setup::splynx(&f, 3, &[], "");
    let out = s.ok(&["--commit"]).await;
    // Customer 25 is disabled (no subscriber); 10, 20 and 30 are blocked (suspended).
    assert!(
        out.contains("read 30 customers; 29 created, 0 updated, 0 suspended, 0 deleted; 0 skipped"),
        "{out}"
    );
    assert!(out.contains("committed "), "{out}");
    assert_eq!(s.commits("main"), 2);
    assert_eq!(
        s.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>"]).trim(),
        "gamops-sync <gamops-sync@localhost>|gamops-sync <gamops-sync@localhost>"
    );
    let body = s.git(&["log", "-1", "--format=%B"]);
    assert!(
        body.starts_with("billing sync from splynx: 29 created\n"),
        "{body}"
    );
    assert!(
        body.contains("  splynx-1: lab-gam-1 port 1, VLAN 100, MAC 00:0e:d8:00:00:01, plan 100M\n"),
        "{body}"
    );
    assert_eq!(trailers(&s, "HEAD", "Billing-Source"), ["splynx"]);
    s.git(&["fsck", "--strict", "--no-progress"]);
    assert_eq!(
        s.git(&["status", "--porcelain"]),
        "",
        "work tree and index follow"
    );
    assert!(s.read(1, "splynx-10").contains("status: suspended"));
    assert!(!s.sub(3, "splynx-25").exists());
    assert_eq!(
        s.read(1, "splynx-2"),
        "# yaml-language-server: $schema=../../../schemas/subscriber.schema.json\nid: splynx-2\nname: Unit 2\ndevice: lab-gam-1\nport: 2\nendpoint:\n  mac: \"00:0e:d8:00:00:02\"\nvlan: 101\ntagged: false\nplan: 250M\nstatus: active\nmanaged_by: splynx\n"
    );
    s.assert_valid();

    // Nothing changed in billing: no commit.
    let out = s.ok(&["--commit"]).await;
    assert!(out.contains("no change"), "{out}");
    assert_eq!(s.commits("main"), 2);

    // A plan change (Splynx gives the service a new id), then its revert: two commits.
    f.change_plan(2, 500_000, 500_000).unwrap();
    let out = s.ok(&["--commit"]).await;
    assert!(
        out.contains("~ splynx-2 updated: plan 250M -> 500M"),
        "{out}"
    );
    f.change_plan(2, 250_000, 250_000).unwrap();
    s.ok(&["--commit"]).await;
    s.ok(&["--commit"]).await;
    assert_eq!(s.commits("main"), 4);
    assert!(
        s.git(&["log", "-1", "--format=%B"])
            .contains("Updated:\n  splynx-2: plan 500M -> 250M\n")
    );

    // A customer gone from billing: suspended (the default policy), once.
    f.edit(|c| c.retain(|c| c.id != 7));
    let out = s.ok(&["--commit"]).await;
    assert!(
        out.contains("! splynx-7 suspended: customer gone from billing"),
        "{out}"
    );
    s.ok(&["--commit"]).await;
    assert_eq!(s.commits("main"), 5);
    assert!(s.read(1, "splynx-7").contains("status: suspended"));
    s.git(&["fsck", "--strict", "--no-progress"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_is_skipped_and_reported_and_manual_subscribers_are_untouched() {
    let f = splynx_fake(24).await;
    // lab-gam-2 is coax: 1G plans there are only advised against (a warning).
    let s = Setup::splynx(&f, 3, &[2], "");
    let manual = "id: manual-1\nname: Janitor\ndevice: lab-gam-3\nport: 1\nendpoint: { mac: 02:00:00:00:00:01 }\nvlan: 999\nplan: 100M\n";
    let taken_over = "# Taken over by the NOC.\nid: splynx-5\ndevice: lab-gam-1\nport: 5\nendpoint: { mac: 00:0e:d8:00:00:05 }\nvlan: 104\ntagged: true\nplan: 1G\nmanaged_by: manual\n";
    std::fs::create_dir_all(s.inv.join("subscribers/lab-gam-3")).unwrap();
    std::fs::create_dir_all(s.inv.join("subscribers/lab-gam-1")).unwrap();
    std::fs::write(s.sub(3, "manual-1"), manual).unwrap();
    std::fs::write(s.sub(1, "splynx-5"), taken_over).unwrap();
    s.git(&["add", "-A"]);
    s.git(&["commit", "-q", "-m", "manual subscribers"]);
    f.edit(|cs| {
        for c in cs.iter_mut() {
            match c.id {
                1 => c.mac = None,
                2 => {
                    c.fields.insert("vlan".into(), "5000".into());
                }
                3 => {
                    c.fields.insert("gam".into(), "nowhere".into());
                }
                4 => c.mac = Some("00:0e:d8:00:00:06".into()),
                _ => {}
            }
        }
    });
    let out = s.ok(&["--commit"]).await;
    let expected = [
        "customer 1: no endpoint MAC (device lab-gam-1 is endpoint-aware)",
        "customer 2: VLAN \"5000\" is out of range: VLAN 5000 is not a VLAN id",
        "customer 3: device \"nowhere\" is not in the inventory",
        "customer 4: MAC 00:0e:d8:00:00:06 is also used by splynx-6",
        "customer 5: subscriber exists with `managed_by: manual`; the sync never touches it",
        "customer 6: MAC 00:0e:d8:00:00:06 is also used by splynx-4",
    ];
    let body = s.git(&["log", "-1", "--format=%B"]);
    for line in expected {
        assert!(out.contains(&format!("  {line}\n")), "{line}\n{out}");
        assert!(body.contains(&format!("  {line}\n")), "{line}\n{body}");
    }
    for id in [1, 2, 3, 4, 6] {
        assert!(!s.sub(1, &format!("splynx-{id}")).exists(), "splynx-{id}");
    }
    // A 1G plan on coax is advice, not a rule of the GAM (issue 11, 2): written.
    assert!(s.sub(2, "splynx-16").exists());
    assert!(!out.contains("customer 16:"), "{out}");
    assert!(s.sub(1, "splynx-7").exists());
    assert!(s.sub(2, "splynx-13").exists());
    assert_eq!(
        std::fs::read_to_string(s.sub(3, "manual-1")).unwrap(),
        manual
    );
    assert_eq!(
        std::fs::read_to_string(s.sub(1, "splynx-5")).unwrap(),
        taken_over
    );
    s.assert_valid();
    assert_eq!(s.git(&["status", "--porcelain"]), "");
}

/// Issue 11 (5): every customer read is accounted for. An active customer whose only internet
/// service is pending (a plan change whose old service is already disabled), or who has none
/// running, is listed as skipped with the reason, and the subscriber it had is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_without_a_running_service_is_skipped_with_the_reason() {
    let f = splynx_fake(30).await;
    let s = Setup::splynx(&f, 3, &[], "");
    let out = s.ok(&["--commit"]).await;
    assert!(out.contains("0 unchanged, 1 not a GAM subscriber"), "{out}");
    let before = s.read(1, "splynx-3");
    // Customer 3 changes plan: the old service is disabled, the new one still pending.
    let new_service = f.change_plan(3, 500_000, 500_000).unwrap();
    f.set_service_status(3, "pending");
    // Customer 4's service is stopped: nothing running.
    f.set_service_status(4, "stopped");
    let out = s.ok(&["--commit"]).await;
    for line in [
        format!(
            "  customer 3: a subscriber in billing, but its internet service {new_service} is not active (pending?)\n"
        ),
        "  customer 4: a subscriber in billing, but with no internet service\n".to_string(),
    ] {
        assert!(out.contains(&line), "{line}\n{out}");
    }
    assert!(
        out.contains("0 created, 0 updated, 0 suspended, 0 deleted; 2 skipped"),
        "{out}"
    );
    assert!(
        out.contains("27 unchanged, 1 not a GAM subscriber"),
        "{out}"
    );
    assert_eq!(s.read(1, "splynx-3"), before);
    assert!(s.sub(1, "splynx-4").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_a_diff_and_writing_without_commit_does_not_commit() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(&f, 1, &[], "");
    let before = s.snapshot();
    let out = s.ok(&["--dry-run"]).await;
    assert!(
        out.contains("--- /dev/null\n+++ b/subscribers/lab-gam-1/splynx-3.yaml\n"),
        "{out}"
    );
    assert!(out.contains("+plan: 500M\n"), "{out}");
    assert!(out.contains("dry run: nothing was written"), "{out}");
    assert_eq!(s.snapshot(), before);

    // Written, not committed.
    let out = s.ok(&[]).await;
    assert!(out.contains("wrote 12 files; not committed"), "{out}");
    assert_eq!(s.commits("main"), 1);
    assert!(
        s.git(&["status", "--porcelain"])
            .contains("?? inventory/subscribers/")
    );
    // Committing now takes the files already written (they hold what would be written).
    s.ok(&["--commit"]).await;
    assert_eq!(s.commits("main"), 2);
    assert_eq!(s.git(&["status", "--porcelain"]), "");

    // A change, as a diff of the file.
    f.change_plan(2, 500_000, 500_000).unwrap();
    let before = s.snapshot();
    let out = s.ok(&["--dry-run", "--commit"]).await;
    assert!(
        out.contains(
            "--- a/subscribers/lab-gam-1/splynx-2.yaml\n+++ b/subscribers/lab-gam-1/splynx-2.yaml\n"
        ),
        "{out}"
    );
    assert!(out.contains("-plan: 250M\n+plan: 500M\n"), "{out}");
    assert_eq!(s.snapshot(), before);
    assert_eq!(s.commits("main"), 2);

    // JSON for programs.
    let out = s.ok(&["--dry-run", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["changes"][0]["subscriber"], "splynx-2");
    assert_eq!(v["changes"][0]["kind"], "updated");
    assert_eq!(v["dry_run"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncommitted_edit_of_a_file_to_write_is_refused() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(&f, 1, &[], "");
    s.ok(&["--commit"]).await;
    let edited = s
        .read(1, "splynx-3")
        .replace("plan: 500M", "plan: 500M\nprotect: true");
    std::fs::write(s.sub(1, "splynx-3"), &edited).unwrap();
    f.change_plan(3, 100_000, 100_000).unwrap();
    let out = s.run(&["--commit"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("inventory/subscribers/lab-gam-1/splynx-3.yaml has uncommitted changes"),
        "{err}"
    );
    assert!(err.contains("git stash"), "{err}");
    assert_eq!(s.read(1, "splynx-3"), edited, "the edit is kept");
    assert_eq!(s.commits("main"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_branch_is_created_from_head_and_the_checked_out_tree_is_untouched() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(
        &f,
        1,
        &[],
        "  bot: { name: Billing Bot, email: billing@isp.example }\n",
    );
    let out = s.ok(&["--commit", "--branch", "billing"]).await;
    assert!(out.contains("on billing"), "{out}");
    assert_eq!(s.commits("main"), 1);
    assert_eq!(s.commits("billing"), 2);
    assert_eq!(
        s.git(&["rev-parse", "billing~1"]),
        s.git(&["rev-parse", "main"])
    );
    assert_eq!(
        s.git(&["log", "-1", "--format=%an <%ae>", "billing"])
            .trim(),
        "Billing Bot <billing@isp.example>"
    );
    assert_eq!(s.git(&["symbolic-ref", "--short", "HEAD"]).trim(), "main");
    assert_eq!(s.git(&["status", "--porcelain"]), "");
    assert!(!s.inv.join("subscribers").exists());
    // The next sync starts from the branch, not the work tree: no change.
    let out = s.ok(&["--commit", "--branch", "billing"]).await;
    assert!(out.contains("no change"), "{out}");
    assert_eq!(s.commits("billing"), 2);
}

/// A bare remote holding `s`'s main, and a human's clone of it.
fn remote(s: &Setup) -> (PathBuf, PathBuf) {
    let root = s.work.parent().unwrap();
    let bare = root.join("remote.git");
    let human = root.join("human");
    git(root, &["init", "-q", "--bare", "-b", "main", "remote.git"]);
    s.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    s.git(&["push", "-q", "origin", "main"]);
    git(root, &["clone", "-q", bare.to_str().unwrap(), "human"]);
    (bare, human)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_commit_on_the_remote_is_rebased_over_not_lost() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(&f, 2, &[], "");
    let (bare, human) = remote(&s);
    let out = s.ok(&["--commit", "--push", "origin"]).await;
    assert!(out.contains("push to origin main: pushed\n"), "{out}");
    // Meanwhile a human pushes a change to another file.
    git(&human, &["pull", "-q"]);
    let dev = human.join("inventory/devices/lab-gam-2.yaml");
    let text = std::fs::read_to_string(&dev).unwrap() + "description: Basement\n";
    std::fs::write(&dev, text).unwrap();
    git(&human, &["commit", "-q", "-am", "lab-gam-2: description"]);
    git(&human, &["push", "-q"]);
    let human_commit = git(&human, &["rev-parse", "HEAD"]).trim().to_string();

    f.change_plan(4, 100_000, 100_000).unwrap();
    let out = s.ok(&["--commit", "--push", "origin"]).await;
    assert!(
        out.contains("push to origin main: pushed (the remote had moved: replayed onto it 1 time)"),
        "{out}"
    );
    let log = git(&bare, &["log", "--format=%s|%an", "main"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert!(
        lines[0].starts_with("billing sync from splynx: 1 updated|gamops-sync"),
        "{log}"
    );
    assert_eq!(lines[1], "lab-gam-2: description|Test");
    git(
        &bare,
        &["merge-base", "--is-ancestor", &human_commit, "main"],
    );
    assert_eq!(git(&bare, &["rev-list", "--merges", "main"]), "");
    git(&bare, &["fsck", "--strict", "--no-progress"]);
    // The local branch and work tree follow the remote.
    assert_eq!(
        s.git(&["rev-parse", "main"]),
        git(&bare, &["rev-parse", "main"])
    );
    assert!(
        std::fs::read_to_string(s.inv.join("devices/lab-gam-2.yaml"))
            .unwrap()
            .contains("Basement")
    );
    assert_eq!(s.git(&["status", "--porcelain"]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_remote_change_is_never_forced() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(&f, 1, &[], "");
    let (bare, human) = remote(&s);
    s.ok(&["--commit", "--push", "origin"]).await;
    git(&human, &["pull", "-q"]);
    let file = human.join("inventory/subscribers/lab-gam-1/splynx-3.yaml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("plan: 500M", "plan: 1G");
    std::fs::write(&file, text).unwrap();
    git(&human, &["commit", "-q", "-am", "splynx-3: 1G by hand"]);
    git(&human, &["push", "-q"]);
    let remote_before = git(&bare, &["rev-parse", "main"]);

    f.change_plan(3, 100_000, 100_000).unwrap();
    let out = s.run(&["--commit", "--push", "origin"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "conflicts with the remote's changes in inventory/subscribers/lab-gam-1/splynx-3.yaml"
        ),
        "{err}"
    );
    assert!(err.contains("was not forced"), "{err}");
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        remote_before,
        "never forced"
    );
    // The local branch holds the bot's commit on top of what it had; nothing else moved.
    assert_eq!(s.commits("main"), 3);
    assert!(
        s.git(&["log", "-1", "--format=%s"])
            .starts_with("billing sync from splynx: 1 updated")
    );
    assert_eq!(s.git(&["status", "--porcelain"]), "");
    s.git(&["fsck", "--strict", "--no-progress"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_sync_touches_only_the_named_customers() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(&f, 1, &[], "  removed: delete\n");
    let mut opts = SyncOptions::new(&s.inv, Source::Splynx);
    opts.commit = true;
    let r = sync(&opts, Scope::All, &[]).await.unwrap();
    assert_eq!(r.count(ChangeKind::Created), 12);
    let before_4 = s.read(1, "splynx-4");

    f.change_plan(3, 100_000, 100_000).unwrap();
    f.change_plan(4, 500_000, 500_000).unwrap();
    let events = [EventRef {
        id: "splynx-hook-42".into(),
    }];
    let r = sync(&opts, Scope::Customers(vec!["3".into()]), &events)
        .await
        .unwrap();
    assert_eq!(r.read, 1);
    let ids: Vec<(&str, ChangeKind)> = r
        .changes
        .iter()
        .map(|c| (c.subscriber.as_str(), c.kind))
        .collect();
    assert_eq!(ids, [("splynx-3", ChangeKind::Updated)]);
    assert_eq!(s.read(1, "splynx-4"), before_4, "not in scope");
    assert_eq!(trailers(&s, "HEAD", "Billing-Event-Id"), ["splynx-hook-42"]);
    assert!(
        s.git(&["log", "-1", "--format=%s"])
            .starts_with("billing sync from splynx (customers 3): 1 updated")
    );

    // A customer deleted in billing, with `removed: delete`.
    f.edit(|c| c.retain(|c| c.id != 5));
    let r = sync(&opts, Scope::Customers(vec!["5".into()]), &[])
        .await
        .unwrap();
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].kind, ChangeKind::Deleted);
    assert!(!s.sub(1, "splynx-5").exists());
    assert_eq!(s.commits("main"), 4);
    assert_eq!(s.git(&["status", "--porcelain"]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonar_accounts_sync_with_their_source() {
    let f = SonarFake::start(SonarFakeConfig {
        customers: 13,
        ..SonarFakeConfig::default()
    })
    .await
    .unwrap();
    let s = Setup::sonar(&f, 2);
    let out = s.ok(&["--commit"]).await;
    assert!(out.contains("read 13 customers; 13 created"), "{out}");
    assert_eq!(trailers(&s, "HEAD", "Billing-Source"), ["sonar"]);
    // Account 10 is delinquent: suspended.
    assert!(s.read(1, "sonar-10").contains("status: suspended"));
    assert!(s.read(2, "sonar-13").contains("managed_by: sonar"));
    s.assert_valid();
    let out = s.ok(&["--commit"]).await;
    assert!(out.contains("no change"), "{out}");
    assert_eq!(s.commits("main"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_system_or_an_invalid_inventory_writes_nothing() {
    let f = splynx_fake(3).await;
    let s = Setup::splynx(&f, 1, &[], "");
    let mut cmd = gamops();
    cmd.args(["sync", "sonar", "--inventory"]).arg(&s.inv);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("gamops.yaml has no `billing: sonar:` section"));

    std::fs::write(
        s.inv.join("devices/lab-gam-1.yaml"),
        "name: lab-gam-1\nmodel: GAM-99\n",
    )
    .unwrap();
    let before = s.snapshot();
    let out = s.run(&[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the inventory is not valid"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.snapshot(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_without_a_plan_creates_one_in_the_same_commit() {
    let f = splynx_fake(12).await;
    let s = Setup::splynx(&f, 1, &[], "  plans: { strategy: create }\n");
    s.ok(&["--commit"]).await;
    f.change_plan(5, 300_000, 300_000).unwrap();
    let out = s.ok(&["--commit"]).await;
    assert!(
        out.contains("~ splynx-5 updated: plan 100M -> 300M"),
        "{out}"
    );
    assert!(
        out.contains("+ plan 300M (327/327 Mbps) added to plans.yaml"),
        "{out}"
    );
    let body = s.git(&["log", "-1", "--format=%B"]);
    assert!(
        body.contains("Plans added to plans.yaml:\n  300M: 327/327 Mbps\n"),
        "{body}"
    );
    let changed = s.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        changed,
        "inventory/plans.yaml\ninventory/subscribers/lab-gam-1/splynx-5.yaml\n"
    );
    let plans = std::fs::read_to_string(s.inv.join("plans.yaml")).unwrap();
    assert!(plans.contains("300M:\n  down_mbps: 327\n"), "{plans}");
    s.assert_valid();
    let out = s.ok(&["--commit"]).await;
    assert!(out.contains("no change"), "{out}");
}

/// Issue 16, item 6: each sync of `sync serve` made a billing client of its own, with its own
/// last nonce: syncs close together sent the same nonce (`401 INVALID_SASH: Nonce already
/// used`) and logged in afresh each time. The runner keeps one client for all its syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_syncs_of_one_process_share_one_billing_client() {
    use gamops::billing::debounce::{SyncBatch, SyncScope, SyncTrigger};
    use gamops::billing::serve::SyncRunner;
    let f = splynx_fake(3).await;
    let s = Setup::splynx(&f, 1, &[], "");
    let runner = SyncRunner::new(SyncOptions::new(&s.inv, Source::Splynx));
    for customer in ["1", "2", "3", "1", "2"] {
        let batch = SyncBatch {
            source: Source::Splynx,
            scope: SyncScope::Customers([customer.to_string()].into()),
            events: Vec::new(),
        };
        runner.sync(&batch).await.unwrap();
    }
    let (_, logins, _) = f.stats();
    assert_eq!(logins, 1, "one login for five syncs");
}
