//! Reading the inventory at a git revision: made with the `git` CLI, read with git2, work tree
//! untouched.

use crate::support::{copy_tree, gamops, git, root, stderr, stdout};

/// A repository with two commits: a valid inventory, then one that breaks a subscriber.
fn two_commit_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q", "-b", "main"]);
    copy_tree(&root().join("inventory"), &repo.join("inventory"));
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "valid inventory"]);
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
