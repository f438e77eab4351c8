//! Bad input: each case is a clear error naming the file, a non-zero exit, and no panic.

use std::path::Path;

use crate::support::{gamops, stderr, stdout, temp_inventory};

fn validate(inv: &Path) -> std::process::Output {
    gamops()
        .args(["validate", "--inventory"])
        .arg(inv)
        .output()
        .unwrap()
}

fn no_panic(out: &std::process::Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");
}

#[test]
fn a_fifty_megabyte_file_is_refused_without_reading_it() {
    let (_tmp, inv) = temp_inventory();
    let big = inv.join("subscribers/bldg-12-gam1/huge.yaml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    let out = validate(&inv);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("huge.yaml: error[file-too-large]: the file is 52428800 bytes"),
        "{text}"
    );
}

#[test]
fn symlink_loops_and_links_to_folders_are_reported() {
    let (_tmp, inv) = temp_inventory();
    let dir = inv.join("subscribers/bldg-12-gam1");
    std::os::unix::fs::symlink("loop-b.yaml", dir.join("loop-a.yaml")).unwrap();
    std::os::unix::fs::symlink("loop-a.yaml", dir.join("loop-b.yaml")).unwrap();
    std::os::unix::fs::symlink("..", inv.join("subscribers/up")).unwrap();
    let out = validate(&inv);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("loop-a.yaml: error[io]: this link is part of a loop of links"),
        "{text}"
    );
    assert!(text.contains("loop-b.yaml: error[io]"), "{text}");
    assert!(
        text.contains("subscribers/up: error[io]: this link points to a folder"),
        "{text}"
    );
}

#[test]
fn a_link_to_a_file_is_read_like_the_file() {
    let (tmp, inv) = temp_inventory();
    let outside = tmp.path().join("shared-plans.yaml");
    std::fs::rename(inv.join("plans.yaml"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, inv.join("plans.yaml")).unwrap();
    let out = validate(&inv);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_missing_inventory_folder_is_a_user_error() {
    let out = gamops()
        .args(["validate", "--inventory", "/nonexistent/inventory"])
        .output()
        .unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: inventory folder /nonexistent/inventory does not exist"),
        "{err}"
    );
    assert!(
        err.contains("hint: pass the folder that holds gamops.yaml"),
        "{err}"
    );
}

#[test]
fn an_empty_folder_lacks_its_two_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = validate(tmp.path());
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("gamops.yaml: error[missing-file]: gamops.yaml is missing"),
        "{text}"
    );
    assert!(text.contains("plans.yaml: error[missing-file]"), "{text}");
}

#[test]
fn garbage_in_every_file_kind_is_reported_per_file() {
    let (_tmp, inv) = temp_inventory();
    let junk: &[(&str, &[u8])] = &[
        ("gamops.yaml", b"\x00\x01\x02"),
        ("plans.yaml", b"[1, 2"),
        ("devices/bldg-7-gam1.yaml", b"{{{{"),
        (
            "subscribers/bldg-12-gam1/sonar-10423.yaml",
            b"&a [*a, *a]\n",
        ),
    ];
    for (rel, bytes) in junk {
        std::fs::write(inv.join(rel), bytes).unwrap();
    }
    let out = validate(&inv);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for (rel, _) in junk {
        assert!(
            text.contains(&format!("inventory/{rel}:")),
            "{rel} not named in:\n{text}"
        );
    }
}
