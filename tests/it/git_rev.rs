//! Reading the inventory at a git revision: made with the `git` CLI, read with git2, work tree
//! untouched.

use crate::support::{copy_tree, gamops, git, root, stderr, stdout};

/// A repository whose one commit is the project's valid inventory, in `inventory/`.
fn one_commit_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q", "-b", "main"]);
    copy_tree(&root().join("inventory"), &repo.join("inventory"));
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "valid inventory"]);
    tmp
}

/// A repository with two commits: a valid inventory, then one that breaks a subscriber.
fn two_commit_repo() -> tempfile::TempDir {
    let tmp = one_commit_repo();
    let repo = tmp.path();
    let sub = repo.join("inventory/subscribers/bldg-12-gam1/sonar-10423.yaml");
    let text = std::fs::read_to_string(&sub)
        .unwrap()
        .replace("vlan: 1409", "vlan: 4094");
    std::fs::write(&sub, text).unwrap();
    git(repo, &["commit", "-q", "-am", "break a VLAN"]);
    tmp
}

#[test]
fn validates_each_revision_without_touching_the_work_tree() {
    let tmp = two_commit_repo();
    let repo = tmp.path();
    // Leave an uncommitted edit in the work tree: --rev must not see it.
    std::fs::write(repo.join("inventory/plans.yaml"), "not: [valid").unwrap();

    let out = gamops()
        .current_dir(repo)
        .args(["validate", "--rev", "HEAD~1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    let out = gamops()
        .current_dir(repo)
        .args(["validate", "--rev", "main", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let head = git(repo, &["rev-parse", "HEAD"]);
    assert_eq!(v["revision"]["rev"], "main");
    assert_eq!(v["revision"]["commit"], head.trim());
    assert_eq!(v["diagnostics"][0]["code"], "reserved-vlan");
    assert_eq!(
        v["diagnostics"][0]["file"],
        "inventory/subscribers/bldg-12-gam1/sonar-10423.yaml"
    );

    // The work tree still has the uncommitted edit, and nothing else changed.
    let status = git(repo, &["status", "--porcelain"]);
    assert_eq!(status.trim(), "M inventory/plans.yaml");
}

#[test]
fn a_commit_id_and_a_subfolder_work_too() {
    let tmp = two_commit_repo();
    let repo = tmp.path();
    let first = git(repo, &["rev-list", "--max-parents=0", "HEAD"]);
    let out = gamops()
        .current_dir(repo.join("inventory"))
        .args(["validate", "--inventory", ".", "--rev", first.trim()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn a_revision_that_does_not_exist_is_a_clear_error() {
    let tmp = two_commit_repo();
    let out = gamops()
        .current_dir(tmp.path())
        .args(["validate", "--rev", "no-such-branch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: revision \"no-such-branch\" does not exist"),
        "{err}"
    );
    assert!(err.contains("hint: name a branch"), "{err}");
}

#[test]
fn rev_outside_a_repository_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&root().join("inventory"), &tmp.path().join("inventory"));
    let out = gamops()
        .current_dir(tmp.path())
        .env("GIT_CEILING_DIRECTORIES", tmp.path().parent().unwrap())
        .args(["validate", "--rev", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not inside a git repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn symlinks_committed_to_git_are_reported() {
    let tmp = two_commit_repo();
    let repo = tmp.path();
    std::os::unix::fs::symlink(
        "sonar-10424.yaml",
        repo.join("inventory/subscribers/bldg-12-gam1/alias.yaml"),
    )
    .unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "a link"]);
    let out = gamops()
        .current_dir(repo)
        .args(["validate", "--rev", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("alias.yaml: error[unexpected-file]: this is a symbolic link"),
        "{}",
        stdout(&out)
    );
}

/// What an inventory means, independent of the order files were read in: its documents by
/// file, and its problems by file, position and code.
fn meaning(inv: &gamops::inventory::Inventory) -> (Vec<String>, Vec<String>) {
    let file = |s: Option<gamops::model::SourceId>| {
        s.and_then(|s| inv.file(s))
            .map(|f| f.rel.clone())
            .unwrap_or_default()
    };
    let d = &inv.desired;
    let mut docs: Vec<String> = d
        .devices
        .iter()
        .map(|x| format!("{} {:?}", file(Some(x.source)), x.value))
        .chain(
            d.subscribers
                .iter()
                .map(|x| format!("{} {:?}", file(Some(x.source)), x.value)),
        )
        .chain(
            d.fleet
                .iter()
                .map(|x| format!("{} {:?}", file(Some(x.source)), x.value)),
        )
        .chain(
            d.plans
                .iter()
                .map(|x| format!("{} {:?}", file(Some(x.source)), x.value)),
        )
        .collect();
    docs.sort();
    let mut problems: Vec<String> = inv
        .validate()
        .iter()
        .map(|p| {
            format!(
                "{} {:?} {:?} {} {:?}",
                file(p.source),
                p.pos,
                p.code,
                p.message,
                p.related.as_ref().map(|r| file(Some(r.source)))
            )
        })
        .collect();
    problems.sort();
    (docs, problems)
}

/// An inventory read from an earlier commit and patched with only the files that differ means
/// exactly what a full read of the new commit means: documents changed, added, removed and
/// renamed, a device and gamops.yaml edited, and a file broken (its problems come with it).
#[test]
fn reading_only_what_changed_equals_reading_everything() {
    use gamops::inventory::Inventory;
    let tmp = one_commit_repo();
    let repo = tmp.path();
    let inv = repo.join("inventory");
    let first = Inventory::load_rev(&inv, "HEAD").unwrap();

    let subs = inv.join("subscribers/bldg-12-gam1");
    let edit = |path: &std::path::Path, from: &str, to: &str| {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(from), "{from:?} not in {}", path.display());
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        &subs.join("sonar-10424.yaml"),
        "plan: ",
        "plan: 100M\n# was: ",
    );
    std::fs::remove_file(subs.join("sonar-10425.yaml")).unwrap();
    let added = std::fs::read_to_string(subs.join("sonar-10426.yaml"))
        .unwrap()
        .replace("sonar-10426", "sonar-19999");
    std::fs::write(subs.join("sonar-19999.yaml"), added).unwrap();
    // A move: the file name no longer matches its id (a problem a fresh read reports too).
    std::fs::rename(
        subs.join("sonar-10427.yaml"),
        subs.join("sonar-10427-moved.yaml"),
    )
    .unwrap();
    // A broken file, and a reserved VLAN.
    std::fs::write(subs.join("sonar-10428.yaml"), "id: [unclosed").unwrap();
    edit(&subs.join("sonar-10423.yaml"), "vlan: 1409", "vlan: 4094");
    edit(&inv.join("gamops.yaml"), "\n", "\n# edited\n");
    let device = inv.join("devices/campus-gam2.yaml");
    let text = std::fs::read_to_string(&device).unwrap();
    std::fs::write(&device, format!("{text}# edited\n")).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "many changes"]);

    let full = Inventory::load_rev(&inv, "HEAD").unwrap();
    let patched = first.load_rev_from("HEAD").unwrap();
    assert_eq!(patched.origin, full.origin);
    let (want, got) = (meaning(&full), meaning(&patched));
    assert_eq!(got.0, want.0, "documents differ");
    assert_eq!(got.1, want.1, "problems differ");
    assert!(!want.1.is_empty(), "the broken files are problems");
    // And back again: the patched one patched to the first commit is the first.
    let back = patched.load_rev_from("HEAD~1").unwrap();
    assert_eq!(meaning(&back), meaning(&first));
}
