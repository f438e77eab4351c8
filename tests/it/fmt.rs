//! `gamops fmt` and `gamops schema`: canonical files, nothing lost, checks that fail when they
//! should.

use crate::support::{gamops, stderr, stdout, temp_inventory};

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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

#[test]
fn fmt_of_the_canonical_inventory_changes_no_byte() {
    let (_tmp, inv) = temp_inventory();
    let before = snapshot(&inv);
    let out = gamops()
        .args(["fmt", "--check", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = gamops()
        .args(["fmt", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("formatted 0 file(s), 35 already canonical"),
        "{}",
        stdout(&out)
    );
    assert_eq!(before, snapshot(&inv));
}

#[test]
fn fmt_rewrites_a_hand_edit_keeping_values_and_top_comments() {
    let (_tmp, inv) = temp_inventory();
    let path = inv.join("subscribers/bldg-12-gam1/sonar-10423.yaml");
    let canonical = std::fs::read_to_string(&path).unwrap();
    let messy = "# Moved from unit 3A in 2025.\n\n# Ticket NOC-112.\n---\nplan: '500M'\nvlan: 1409\nid: sonar-10423\nouter_vlan: 120\nendpoint: {mac: 00-0E-D8-19-97-E6}\ndevice: bldg-12-gam1\nport: 12\nname: \"Unit 4B\"\nmanaged_by: sonar\nprotect: false\n";
    std::fs::write(&path, messy).unwrap();

    let out = gamops()
        .args(["fmt", "--check", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("would reformat"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check changed the file"
    );

    let out = gamops()
        .args(["fmt", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let formatted = std::fs::read_to_string(&path).unwrap();
    let mut lines = canonical.lines();
    let schema_line = lines.next().unwrap();
    let rest: Vec<&str> = lines.filter(|l| !l.starts_with('#')).collect();
    let expected = format!(
        "{schema_line}\n# Moved from unit 3A in 2025.\n# Ticket NOC-112.\n{}\n",
        rest.join("\n")
    );
    assert_eq!(formatted, expected);

    // Formatting again is a no-op.
    let out = gamops()
        .args(["fmt", "--check", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn fmt_refuses_to_drop_comments_inside_a_document() {
    let (_tmp, inv) = temp_inventory();
    let path = inv.join("plans.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("1G:\n", "1G:   # the fastest\n");
    std::fs::write(&path, &text).unwrap();
    let out = gamops()
        .args(["fmt", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("plans.yaml: not formatted: line 3 has a comment inside the document"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn fmt_leaves_files_that_do_not_parse_alone() {
    let (_tmp, inv) = temp_inventory();
    let path = inv.join("devices/campus-gam2.yaml");
    std::fs::write(&path, "name: [broken\n").unwrap();
    let out = gamops()
        .args(["fmt", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("campus-gam2.yaml: not formatted: the file does not parse"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "name: [broken\n");
}

#[test]
fn committed_schemas_are_up_to_date() {
    let out = gamops().args(["schema", "--check"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn schema_check_fails_on_a_stale_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gamops()
        .args(["schema", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let sub = tmp.path().join("subscriber.schema.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&sub).unwrap()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(schema["properties"]["vlan"].is_object());
    assert_eq!(schema["additionalProperties"], false);

    std::fs::write(&sub, "{}").unwrap();
    let out = gamops()
        .args(["schema", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("out of date:"), "{}", stdout(&out));
}

/// Issue 16, item 2: a symlink planted at the name the atomic write used for its temporary file
/// (`<file>.gamops-tmp`) made `fmt` overwrite the link's target and turn the file into a link.
#[test]
fn fmt_never_writes_through_a_link_planted_at_a_temporary_name() {
    let (tmp, inv) = temp_inventory();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let path = inv.join("subscribers/bldg-12-gam1/sonar-10423.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // Not canonical: the schema line is gone, so fmt rewrites the file.
    std::fs::write(
        &path,
        text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    for name in [
        "sonar-10423.yaml.gamops-tmp",
        "sonar-10423.yaml.yaml.gamops-tmp",
    ] {
        std::os::unix::fs::symlink(&victim, path.with_file_name(name)).unwrap();
    }
    let out = gamops()
        .args(["fmt", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        std::fs::symlink_metadata(&path).unwrap().is_file(),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

/// Issue 16, item 8: a link to `/dev/zero` made `fmt` read gigabytes and exit 0; a file larger
/// than validate's cap was read whole; unreadable or non-UTF-8 files were skipped in silence.
#[test]
fn fmt_refuses_special_large_and_non_text_files_with_exit_1() {
    let (_tmp, inv) = temp_inventory();
    let zero = inv.join("subscribers/bldg-12-gam1/zero.yaml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let big = inv.join("subscribers/bldg-12-gam1/big.yaml");
    std::fs::write(&big, "# x\n".repeat(600_000)).unwrap();
    let latin1 = inv.join("subscribers/bldg-12-gam1/latin1.yaml");
    std::fs::write(&latin1, b"id: latin1\nname: \"Caf\xe9\"\n").unwrap();
    let out = gamops()
        .args(["fmt", "--inventory"])
        .arg(&inv)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("zero.yaml: not formatted: this is not a regular file"),
        "{err}"
    );
    assert!(
        err.contains("big.yaml: not formatted: the file is"),
        "{err}"
    );
    assert!(err.contains("latin1.yaml: not formatted"), "{err}");
}

/// Issue 16, item 8: a link to a FIFO made `validate` (and `fmt`) wait for a writer forever.
#[test]
fn a_link_to_a_fifo_is_reported_not_waited_on() {
    let (tmp, inv) = temp_inventory();
    let fifo = tmp.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink(&fifo, inv.join("subscribers/bldg-12-gam1/pipe.yaml")).unwrap();
    for cmd in ["validate", "fmt"] {
        let out = gamops()
            .args([cmd, "--inventory"])
            .arg(&inv)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{cmd}: {all}");
        assert!(all.contains("not a regular file"), "{cmd}: {all}");
    }
}
