//! `gamops diff` through the binary, against real repositories made with the `git` CLI: each
//! kind of change classed as `plan` classes it, devices added and removed, invalid sides,
//! safety limits and exit codes; and the diff agrees with `plan` run against lab devices
//! converged to the base.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::fleet::{FleetLab, code_and_text, expect_exit};
use crate::support::{copy_tree, gamops, git, root, stderr, stdout};

/// A repository whose `main` holds the example inventory.
struct Repo {
    tmp: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        git(tmp.path(), &["init", "-q", "-b", "main"]);
        copy_tree(&root().join("inventory"), &tmp.path().join("inventory"));
        git(tmp.path(), &["add", "-A"]);
        git(tmp.path(), &["commit", "-q", "-m", "the example inventory"]);
        Repo { tmp }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.path().join("inventory").join(rel)
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.file(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} not in {rel}:\n{text}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.file(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn remove(&self, rel: &str) {
        let path = self.file(rel);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }

    /// Commits the work tree on a new branch `change`.
    fn commit_change(&self) {
        git(self.path(), &["checkout", "-q", "-b", "change"]);
        git(self.path(), &["add", "-A"]);
        git(self.path(), &["commit", "-q", "-m", "a change"]);
    }

    fn diff(&self, args: &[&str]) -> Output {
        gamops()
            .current_dir(self.path())
            .arg("diff")
            .args(args)
            .output()
            .unwrap()
    }

    /// `diff --format json` of `args`, with its exit code.
    fn json(&self, args: &[&str]) -> (Option<i32>, Value) {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.diff(&all);
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
        (out.status.code(), v)
    }
}

fn device<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["diff"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device"] == name)
        .unwrap_or_else(|| panic!("{name} not in {v:#}"))
}

fn subscriber<'a>(v: &'a Value, dev: &str, id: &str) -> &'a Value {
    device(v, dev)["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subscriber"] == id)
        .unwrap_or_else(|| panic!("{id} not in {:#}", device(v, dev)))
}

const B12: &str = "subscribers/bldg-12-gam1";

/// Two subscribers of bldg-12-gam1 change: sonar-10424 to another plan (a rate change),
/// sonar-10423 to another VLAN (an interruption).
fn another_plan_and_another_vlan(repo: &Repo) {
    repo.edit(
        &format!("{B12}/sonar-10424.yaml"),
        "plan: 500M",
        "plan: 250M",
    );
    repo.edit(
        &format!("{B12}/sonar-10423.yaml"),
        "vlan: 1409",
        "vlan: 1499",
    );
}

#[test]
fn rate_only_and_interrupting_changes_are_classed_as_plan_classes_them() {
    let repo = Repo::new();
    // Rate only: another plan. Interrupting: a VLAN, a CPE swapped (a new MAC), a move to
    // another port.
    another_plan_and_another_vlan(&repo);
    repo.edit(
        "subscribers/campus-gam2/campus-01.yaml",
        "00:0e:d8:2a:01:01",
        "00:0e:d8:2a:01:99",
    );
    repo.commit_change();

    let (code, v) = repo.json(&["--rev", "main", "--rev", "change", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{v:#}");
    assert_eq!(v["valid"], true);
    let s = |dev, id| subscriber(&v, dev, id);
    assert_eq!(s("bldg-12-gam1", "sonar-10424")["disruption"], "rate");
    assert_eq!(
        s("bldg-12-gam1", "sonar-10424")["fields"][0]["field"],
        "plan"
    );
    assert_eq!(s("bldg-12-gam1", "sonar-10423")["disruption"], "interrupt");
    assert_eq!(
        s("bldg-12-gam1", "sonar-10423")["fields"][0]["after"],
        "1499"
    );
    let swapped = s("campus-gam2", "campus-01");
    assert_eq!(swapped["disruption"], "interrupt", "{swapped:#}");
    assert!(
        swapped["causes"][0]
            .as_str()
            .unwrap()
            .contains("00:0e:d8:2a:01:99"),
        "{swapped:#}"
    );
    let sum = &v["diff"]["summary"];
    assert_eq!(sum["subscribers_changed"], 3);
    assert_eq!(sum["subscribers_interrupted"], 2);
    assert_eq!(sum["subscribers_rate_changed"], 1);
    assert_eq!(sum["devices_changed"], 2);
    assert_eq!(
        v["base"]["commit"],
        git(repo.path(), &["rev-parse", "main"]).trim()
    );

    // The text form leads with the summary line, and has no colour off a terminal even when
    // NO_COLOR is not set.
    let out = gamops()
        .current_dir(repo.path())
        .env_remove("NO_COLOR")
        .args(["diff", "--rev", "main", "--rev", "change"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.starts_with(
            "Diff: 0 subscriber(s) created, 3 changed (2 interrupted, 1 rate change only), 0 deleted, on 2 of 3 device(s)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("~ subscriber sonar-10423  [interrupts service]\n      vlan: 1409 -> 1499"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text:?}");
}

/// What a reviewer reads, as text and as the Markdown posted on a pull request, recorded in full.
#[test]
fn the_text_and_markdown_a_reviewer_reads_are_as_recorded() {
    let repo = Repo::new();
    another_plan_and_another_vlan(&repo);
    repo.remove("subscribers/campus-gam2/campus-01.yaml");
    repo.commit_change();
    let text = repo.diff(&["--rev", "main", "--rev", "change"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let markdown = repo.diff(&["--rev", "main", "--rev", "change", "--format", "markdown"]);
    assert_eq!(markdown.status.code(), Some(0), "{}", stderr(&markdown));
    crate::support::redacted(|| {
        insta::assert_snapshot!("diff_text", stdout(&text));
        insta::assert_snapshot!("diff_markdown", stdout(&markdown));
    });
}

#[test]
fn a_port_move_interrupts_and_a_label_does_not() {
    let repo = Repo::new();
    repo.edit(
        "subscribers/campus-gam2/campus-02.yaml",
        "port: 2",
        "port: 3",
    );
    repo.edit(
        "subscribers/campus-gam2/campus-03.yaml",
        "name: ",
        "name: Renamed ",
    );
    // The work tree is the head when there is one --rev.
    let (code, v) = repo.json(&["--rev", "main"]);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["head"]["rev"], Value::Null);
    assert_eq!(
        subscriber(&v, "campus-gam2", "campus-02")["disruption"],
        "interrupt"
    );
    let label = subscriber(&v, "campus-gam2", "campus-03");
    assert_eq!(label["disruption"], "none");
    assert_eq!(label["fields"][0]["field"], "description");
}

#[test]
fn creates_deletes_and_devices_added_and_removed() {
    let repo = Repo::new();
    // Prune on: a subscriber gone from the inventory is deleted from its device.
    repo.edit("gamops.yaml", "prune: false", "prune: true");
    repo.remove(&format!("{B12}/sonar-10425.yaml"));
    let new = std::fs::read_to_string(repo.file(&format!("{B12}/sonar-10423.yaml")))
        .unwrap()
        .replace("sonar-10423", "sonar-20001")
        .replace("00:0e:d8:19:97:e6", "00:0e:d8:19:97:77")
        .replace("vlan: 1409", "vlan: 1777");
    repo.write(&format!("{B12}/sonar-20001.yaml"), &new);
    // campus-gam2 leaves the inventory; bldg-99 joins it with one subscriber.
    repo.remove("devices/campus-gam2.yaml");
    repo.remove("subscribers/campus-gam2");
    let dev = std::fs::read_to_string(repo.file("devices/bldg-12-gam1.yaml"))
        .unwrap()
        .replace("bldg-12-gam1", "bldg-99-gam1");
    repo.write("devices/bldg-99-gam1.yaml", &dev);
    let sub = new
        .replace("sonar-20001", "sonar-30001")
        .replace("00:0e:d8:19:97:77", "00:0e:d8:19:97:78")
        .replace("bldg-12-gam1", "bldg-99-gam1");
    repo.write("subscribers/bldg-99-gam1/sonar-30001.yaml", &sub);
    repo.commit_change();

    let (code, v) = repo.json(&["--rev", "main", "--rev", "HEAD", "--detailed-exitcode"]);
    assert_eq!(code, Some(2), "{v:#}");
    let created = subscriber(&v, "bldg-12-gam1", "sonar-20001");
    assert_eq!(created["action"], "created");
    let deleted = subscriber(&v, "bldg-12-gam1", "sonar-10425");
    assert_eq!(deleted["action"], "deleted");
    assert_eq!(deleted["disruption"], "interrupt");
    assert_eq!(device(&v, "bldg-99-gam1")["status"], "added");
    assert_eq!(
        subscriber(&v, "bldg-99-gam1", "sonar-30001")["action"],
        "created"
    );
    let removed = device(&v, "campus-gam2");
    assert_eq!(removed["status"], "removed");
    assert_eq!(removed["subscribers"].as_array().unwrap().len(), 6);
    assert_eq!(removed["subscribers"][0]["action"], "unmanaged");
    let sum = &v["diff"]["summary"];
    assert_eq!(sum["devices_added"], 1);
    assert_eq!(sum["devices_removed"], 1);
    assert_eq!(sum["subscribers_created"], 2);
    assert_eq!(sum["subscribers_deleted"], 1);
    assert_eq!(v["diff"]["fleet_settings_changed"][0], "prune");

    let out = repo.diff(&["--rev", "main", "--rev", "HEAD", "--format", "markdown"]);
    let md = stdout(&out);
    assert!(
        md.starts_with("### gamops diff: 2 subscriber(s) created"),
        "{md}"
    );
    assert!(md.contains("| `bldg-99-gam1` | added |"), "{md}");
    assert!(md.contains("| `campus-gam2` | removed |"), "{md}");
    assert!(
        md.contains("- subscriber sonar-10425  [interrupts service]"),
        "{md}"
    );

    // Without prune, the same removal leaves the subscriber on the device.
    repo.edit("gamops.yaml", "prune: true", "prune: false");
    let (_, v) = repo.json(&["--rev", "main"]);
    assert_eq!(
        subscriber(&v, "bldg-12-gam1", "sonar-10425")["action"],
        "unmanaged"
    );
}

#[test]
fn an_invalid_head_or_base_is_reported_with_file_and_line_and_exits_1() {
    let repo = Repo::new();
    repo.edit(
        &format!("{B12}/sonar-10423.yaml"),
        "vlan: 1409",
        "vlan: 4094",
    );
    repo.commit_change();

    // The head: every problem with file:line:column, nothing compared.
    let out = repo.diff(&["--rev", "main", "--rev", "change", "--detailed-exitcode"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.starts_with("Diff: not valid: the head (change ("),
        "{text}"
    );
    assert!(
        text.contains(
            "inventory/subscribers/bldg-12-gam1/sonar-10423.yaml:8:7: error[reserved-vlan]"
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains("error: not valid"),
        "{}",
        stderr(&out)
    );
    let (code, v) = repo.json(&["--rev", "main", "--rev", "change"]);
    assert_eq!(code, Some(1));
    assert_eq!(v["valid"], false);
    assert_eq!(v["diff"], Value::Null);
    assert_eq!(v["base"]["valid"], true);
    assert_eq!(v["head"]["report"]["diagnostics"][0]["line"], 8);
    let out = repo.diff(&["--rev", "main", "--rev", "change", "--format", "markdown"]);
    let md = stdout(&out);
    assert!(md.starts_with("### gamops diff: not valid"), "{md}");
    assert!(
        md.contains("sonar-10423.yaml:8:7: error[reserved-vlan]"),
        "{md}"
    );

    // The base: the same, the other way round.
    let out = repo.diff(&["--rev", "change", "--rev", "main"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("Diff: not valid: the base (change ("),
        "{}",
        stdout(&out)
    );

    // A revision that does not exist.
    let out = repo.diff(&["--rev", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("revision \"no-such-branch\" does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_change_past_a_safety_limit_is_printed_and_fails() {
    let repo = Repo::new();
    // Five of the 13 subscribers on bldg-12-gam1 move VLAN: past the fleet's 30 %.
    for (i, id) in ["10423", "10424", "10425", "10427", "10428"]
        .iter()
        .enumerate()
    {
        let path = format!("{B12}/sonar-{id}.yaml");
        let text = std::fs::read_to_string(repo.file(&path)).unwrap();
        let line = text.lines().find(|l| l.starts_with("vlan: ")).unwrap();
        repo.edit(&path, line, &format!("vlan: {}", 3000 + i));
    }
    let out = repo.diff(&["--rev", "main", "--detailed-exitcode"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.starts_with("Diff: 0 subscriber(s) created, 5 changed (5 interrupted"),
        "{text}"
    );
    assert!(text.contains("; 1 device(s) past a safety limit"), "{text}");
    assert!(
        text.contains("! past a safety limit: would update or delete 5 of 13 subscribers (38%), more than the 30% limit"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("1 device(s) go past a safety limit"),
        "{}",
        stderr(&out)
    );
    let (_, v) = repo.json(&["--rev", "main"]);
    assert_eq!(
        device(&v, "bldg-12-gam1")["violations"][0]["limit"],
        "change-share"
    );
    let out = repo.diff(&["--rev", "main", "--format", "markdown"]);
    assert!(stdout(&out).contains("| `bldg-12-gam1` | **blocked** |"));
}

#[test]
fn detailed_exit_codes() {
    let repo = Repo::new();
    // No changes: 0, with or without the flag.
    let out = repo.diff(&["--rev", "main", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("Diff: no changes\n"),
        "{}",
        stdout(&out)
    );
    let out = repo.diff(&["--rev", "main", "--rev", "HEAD", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0));
    // A change: 2 with the flag, 0 without.
    repo.edit(
        &format!("{B12}/sonar-10424.yaml"),
        "plan: 500M",
        "plan: 100M",
    );
    let out = repo.diff(&["--rev", "main", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let out = repo.diff(&["--rev", "main"]);
    assert_eq!(out.status.code(), Some(0));
    // Three revisions are one too many.
    let out = repo.diff(&["--rev", "main", "--rev", "main", "--rev", "main"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("at most one head"),
        "{}",
        stderr(&out)
    );
}

/// The diff and `plan` agree: lab devices converged to the base, the head planned against them
/// and diffed against the base, give the same subscribers with the same classes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diff_agrees_with_plan_against_devices_converged_to_the_base() {
    let fleet = FleetLab::start(2, 12, Duration::from_secs(1)).await;
    let repo = fleet.dir.parent().unwrap().to_path_buf();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "inventory"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let out = fleet
        .gamops(&["apply", "--auto-approve", "--accept-new-host-keys"])
        .await;
    expect_exit(&out, 0);

    // A rate change, a VLAN change, a new subscriber and a plan's new rate.
    let subs: Vec<PathBuf> = std::fs::read_dir(fleet.dir.join("subscribers/gam-0000"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut names: Vec<String> = subs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let rel = |n: &str| format!("subscribers/gam-0000/{n}");
    let text = std::fs::read_to_string(fleet.dir.join(rel(&names[0]))).unwrap();
    let plan_line = text
        .lines()
        .find(|l| l.starts_with("plan: "))
        .unwrap()
        .to_string();
    let other = if plan_line == "plan: 100M" {
        "plan: 1G"
    } else {
        "plan: 100M"
    };
    fleet.edit(&rel(&names[0]), &plan_line, other);
    let text = std::fs::read_to_string(fleet.dir.join(rel(&names[1]))).unwrap();
    let vlan_line = text
        .lines()
        .find(|l| l.starts_with("vlan: "))
        .unwrap()
        .to_string();
    fleet.edit(&rel(&names[1]), &vlan_line, "vlan: 3999");
    fleet.edit("plans.yaml", "down_mbps: 270", "down_mbps: 280");

    let out = fleet.gamops(&["plan", "--format", "json"]).await;
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = tokio::task::spawn_blocking({
        let repo = repo.clone();
        move || {
            gamops()
                .current_dir(&repo)
                .args(["diff", "--rev", "main", "--format", "json"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let diff: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));

    // Per device: each subscriber's worst class, as plan's changes give it.
    for d in plan["devices"].as_array().unwrap() {
        let name = d["device"].as_str().unwrap();
        let mut from_plan = std::collections::BTreeMap::new();
        let rank = |c: &str| {
            ["none", "rate", "interrupt"]
                .iter()
                .position(|x| *x == c)
                .unwrap()
        };
        for c in d["changes"].as_array().unwrap() {
            let class = c["disruption"].as_str().unwrap();
            let subs: Vec<String> = if c["kind"] == "subscriber" {
                vec![c["key"].as_str().unwrap().to_string()]
            } else if class != "none" {
                c["affects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            } else {
                vec![]
            };
            for s in subs {
                let e = from_plan.entry(s).or_insert("none");
                if rank(class) > rank(e) {
                    *e = class;
                }
            }
        }
        let from_diff: std::collections::BTreeMap<String, &str> = diff["diff"]["devices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["device"] == name)
            .flat_map(|x| x["subscribers"].as_array().unwrap().iter())
            .map(|s| {
                (
                    s["subscriber"].as_str().unwrap().to_string(),
                    s["disruption"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(from_diff, from_plan, "{name}: diff {diff:#} plan {d:#}");
        assert_eq!(
            d["summary"]["subscribers_interrupted"],
            diff["diff"]["devices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["device"] == name)
                .map_or(Value::from(0), |x| x["summary"]["subscribers_interrupted"]
                    .clone()),
            "{name}"
        );
    }
    assert!(
        diff["diff"]["summary"]["subscribers_changed"]
            .as_u64()
            .unwrap()
            >= 2,
        "{diff:#}"
    );
}

/// Reading a second revision through the parse cache gives exactly what reading it alone
/// gives: the same documents with the same positions, and the same diagnostics.
#[test]
fn the_parse_cache_changes_nothing_but_the_time() {
    use gamops::inventory::{Inventory, ParseCache};
    let repo = Repo::new();
    repo.edit(
        &format!("{B12}/sonar-10423.yaml"),
        "vlan: 1409",
        "vlan: 4094",
    );
    repo.edit(
        &format!("{B12}/sonar-10424.yaml"),
        "name: Unit 1A\n",
        "# a comment moves every line down\nname: Unit 1A\n",
    );
    repo.commit_change();
    let dir = repo.path().join("inventory");
    let mut cache = ParseCache::default();
    let base = Inventory::load_rev_cached(&dir, "main", &mut cache).unwrap();
    let held = cache.len();
    assert_eq!(
        held,
        base.desired.subscribers.len() + base.desired.devices.len() + 2
    );
    let cached = Inventory::load_rev_cached(&dir, "change", &mut cache).unwrap();
    // Only the two changed files were parsed (and added).
    assert_eq!(cache.len(), held + 2);
    let alone = Inventory::load_rev(&dir, "change").unwrap();
    assert_eq!(
        format!("{:?}", cached.desired),
        format!("{:?}", alone.desired)
    );
    assert_eq!(
        format!("{:?}", cached.validate()),
        format!("{:?}", alone.validate())
    );
    assert!(cached.validate().iter().any(|d| d.is_error()));
}

/// `plan` and `diff` judge a change past a safety limit alike: printed in full, then exit 1,
/// since `apply` would refuse the device (as the controller's pull request status fails it);
/// `plan --force` plans past the limit and exits as any plan with changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_diff_both_fail_a_change_past_a_safety_limit() {
    let fleet = FleetLab::start(1, 12, Duration::from_secs(1)).await;
    let repo = fleet.dir.parent().unwrap().to_path_buf();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "inventory"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let out = fleet
        .gamops(&["apply", "--auto-approve", "--accept-new-host-keys"])
        .await;
    expect_exit(&out, 0);
    // Four of the 12 subscribers move VLAN: 33 %, past the default 30 %.
    for i in 1..=4u16 {
        let rel = format!("subscribers/gam-0000/sub-0000-{i:03}.yaml");
        let text = std::fs::read_to_string(fleet.dir.join(&rel)).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("vlan: "))
            .unwrap()
            .to_string();
        fleet.edit(&rel, &line, &format!("vlan: {}", 3000 + i));
    }
    let plan = fleet.gamops(&["plan", "--detailed-exitcode"]).await;
    let (code, text) = code_and_text(&plan);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("would update or delete 4 of 12 subscribers (33%)"),
        "{text}"
    );
    assert!(
        text.contains("`gamops apply --force` goes past the safety limits"),
        "{text}"
    );
    let diff = tokio::task::spawn_blocking({
        let repo = repo.clone();
        move || {
            gamops()
                .current_dir(&repo)
                .args(["diff", "--rev", "main", "--detailed-exitcode"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let (code, text) = code_and_text(&diff);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("1 device(s) go past a safety limit"),
        "{text}"
    );
    // Forced, the plan is a plan with changes.
    let forced = fleet
        .gamops(&["plan", "--force", "--detailed-exitcode"])
        .await;
    let (code, text) = code_and_text(&forced);
    assert_eq!(code, Some(2), "{text}");
}
