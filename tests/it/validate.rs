//! `gamops validate` as a user runs it: the example inventories and their exact diagnostics.

use std::path::Path;

use crate::support::{gamops, root, stdout};

/// Every broken example prints exactly its `expected.txt` and exits 1. Set GAMOPS_BLESS=1 to
/// rewrite the expected files after an intended change (then review the diff).
#[test]
fn examples_print_their_expected_diagnostics() {
    let mut checked = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("inventory").is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let out = gamops()
            .args(["validate", "--inventory"])
            .arg(Path::new("examples").join(&name).join("inventory"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: exit code");
        let expected_path = dir.join("expected.txt");
        let actual = stdout(&out);
        if std::env::var_os("GAMOPS_BLESS").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{name}: missing expected.txt (run with GAMOPS_BLESS=1)"));
        assert_eq!(
            actual, expected,
            "{name}: diagnostics differ from expected.txt"
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} examples found");
}

#[test]
fn the_project_inventory_is_valid() {
    let out = gamops().args(["validate"]).output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text,
        "valid: 35 files: 3 devices, 30 subscribers, 4 plans\n"
    );
}

#[test]
fn json_report_has_the_documented_shape() {
    let out = gamops()
        .args([
            "validate",
            "--format",
            "json",
            "--inventory",
            "examples/uniqueness/inventory",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["valid"], false);
    assert_eq!(v["revision"], serde_json::Value::Null);
    assert_eq!(v["summary"]["errors"], 3);
    assert_eq!(v["summary"]["subscribers"], 5);
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 3);
    let mac = diags.iter().find(|d| d["code"] == "duplicate-mac").unwrap();
    assert_eq!(mac["severity"], "error");
    assert_eq!(
        mac["file"],
        "examples/uniqueness/inventory/subscribers/gam2/s4.yaml"
    );
    assert_eq!(mac["line"], 5);
    assert_eq!(mac["column"], 8);
    assert!(mac["hint"].as_str().unwrap().contains("one subscriber"));
    assert_eq!(
        mac["related"]["file"],
        "examples/uniqueness/inventory/subscribers/gam1/s1.yaml"
    );
}

#[test]
fn json_report_of_a_valid_inventory() {
    let out = gamops()
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 0);
    assert_eq!(v["summary"]["devices"], 3);
}

#[test]
fn help_has_examples() {
    let out = gamops().args(["validate", "--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains("Examples:"));
}
