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

/// Issue 16, item 11: a command line that does not parse exited 2, the code `plan
/// --detailed-exitcode` uses for "changes present"; it exits 1. `--help` and `--version` exit 0.
#[test]
fn usage_errors_exit_1_never_2_and_help_exits_0() {
    for args in [
        &["plan", "--detailed-exitcode", "--no-such-flag"][..],
        &["plan", "--detailed-exitcode", "--format", "yaml"],
        &["no-such-command"],
        &[],
    ] {
        let out = gamops().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?}");
    }
    for args in [&["--help"][..], &["--version"], &["plan", "--help"]] {
        let out = gamops().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
}

/// Issue 16 (low): `lab up --faults` said it takes JSON when it takes a file of JSON.
#[test]
fn lab_up_faults_help_names_a_file() {
    let out = gamops().args(["lab", "up", "--help"]).output().unwrap();
    let text = stdout(&out);
    assert!(text.contains("--faults <FILE>"), "{text}");
    assert!(text.contains("the path of a JSON file"), "{text}");
}

/// Issue 16 (low): log lines carried colour codes when stderr was not a terminal.
#[test]
fn logs_have_no_colour_codes_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store =
            gamops::store::Store::open(&gamops::store::StoreLocation::Sqlite(state.clone()))
                .await
                .unwrap();
        store.close().await;
    });
    // NO_COLOR unset: the binary must see for itself that stderr is not a terminal.
    let out = gamops()
        .env_remove("NO_COLOR")
        .env("GAMOPS_LOG", "debug")
        .env_remove("GAMOPS_DATABASE_URL")
        .args(["history", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("DEBUG"), "some log lines: {err:?}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}
