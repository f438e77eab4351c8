//! The CI templates in `examples/ci/`: each parses as YAML, and every `gamops ...` command line
//! in it runs, in the order a pull request and then its merge run them, against a lab fleet
//! whose inventory is a real git repository (the forge's variables replaced by the revisions
//! they name there).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::fleet::FleetLab;
use crate::support::{git, root};

/// When a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// On a pull (merge) request.
    Review,
    /// After the merge, on the default branch.
    Merged,
}

/// One `gamops ...` command line of a template, with the job's variables.
#[derive(Debug)]
struct Line {
    job: String,
    phase: Phase,
    command: String,
    env: BTreeMap<String, String>,
}

fn parse(file: &str) -> (Value, String) {
    let text = std::fs::read_to_string(root().join("examples/ci").join(file)).unwrap();
    let v = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
    (v, text)
}

/// The lines in the order of their jobs in the file (the parsed maps are sorted by name), as
/// the forge runs them: a job that `needs` another comes after it in both templates.
fn in_file_order(mut lines: Vec<Line>, text: &str, indent: &str) -> Vec<Line> {
    let at = |job: &str| {
        text.find(&format!("\n{indent}{job}:\n"))
            .unwrap_or_else(|| panic!("job {job} not found as `{indent}{job}:`"))
    };
    lines.sort_by_key(|l| at(&l.job));
    lines
}

/// The `gamops ...` part of a shell line (up to a redirection or another command), if the line
/// runs gamops.
fn gamops_part(line: &str) -> Option<String> {
    let line = line.trim();
    if !line.starts_with("gamops ") {
        return None;
    }
    let end = [" > ", " >> ", " || ", " && ", " | ", "; "]
        .iter()
        .filter_map(|op| line.find(op))
        .min()
        .unwrap_or(line.len());
    Some(line[..end].to_string())
}

fn strings(map: &Value) -> BTreeMap<String, String> {
    map.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The gamops lines of the GitHub Actions workflow, job by job, with the workflow's and each
/// step's `env`.
fn github_lines(v: &Value) -> Vec<Line> {
    assert!(v["on"]["pull_request"].is_null() && v["on"].get("pull_request").is_some());
    assert_eq!(v["on"]["push"]["branches"][0], "main");
    let global = strings(&v["env"]);
    let mut out = Vec::new();
    for (job, body) in v["jobs"].as_object().unwrap() {
        let cond = body["if"].as_str().unwrap_or_default();
        let phase = if cond.contains("'pull_request'") {
            Phase::Review
        } else if cond.contains("'push'") {
            Phase::Merged
        } else {
            panic!("job {job}: `if: {cond}` names no event");
        };
        for step in body["steps"].as_array().unwrap() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let mut env = global.clone();
            env.extend(strings(&step["env"]));
            push_lines(&mut out, job, phase, run, &env);
        }
    }
    out
}

/// Adds the gamops command lines of one script block of `job`, each with the job's `env`.
fn push_lines(
    out: &mut Vec<Line>,
    job: &str,
    phase: Phase,
    script: &str,
    env: &BTreeMap<String, String>,
) {
    for line in script.lines() {
        if let Some(command) = gamops_part(line) {
            out.push(Line {
                job: job.to_string(),
                phase,
                command,
                env: env.clone(),
            });
        }
    }
}

/// The gamops lines of the GitLab CI file, job by job, with its `variables`.
fn gitlab_lines(v: &Value) -> Vec<Line> {
    let global = strings(&v["variables"]);
    let mut out = Vec::new();
    for (job, body) in v.as_object().unwrap() {
        if ["workflow", "variables", "default", "stages"].contains(&job.as_str()) {
            continue;
        }
        let rules = body["rules"].to_string();
        let phase = if rules.contains("merge_request_event") {
            Phase::Review
        } else if rules.contains("$CI_DEFAULT_BRANCH") {
            Phase::Merged
        } else {
            panic!("job {job}: rules {rules} name no pipeline");
        };
        let mut env = global.clone();
        env.extend(strings(&body["variables"]));
        for entry in body["script"].as_array().unwrap() {
            push_lines(&mut out, job, phase, entry.as_str().unwrap(), &env);
        }
    }
    out
}

/// What the forge would put in each variable, for a repository at `repo` whose pull request
/// targets `main` at `base`.
fn forge_value(name: &str, base: &str) -> Option<String> {
    Some(match name {
        "BASE_SHA" | "CI_MERGE_REQUEST_DIFF_BASE_SHA" => base.to_string(),
        "GAMOPS_SNMP_COMMUNITY" => "public".to_string(),
        "GAMOPS_SSH_PASSWORD" | "GAMOPS_DATABASE_URL" | "GH_TOKEN" | "PR" => String::new(),
        _ => return None,
    })
}

/// Runs one line in `repo` with the built gamops first on PATH; returns its exit code and
/// output.
fn run(repo: &Path, line: &Line, base: &str) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("gamops");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &line.command])
        .current_dir(repo)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("GAMOPS_INVENTORY")
        .env_remove("GAMOPS_STATE_DIR")
        .env_remove("GAMOPS_DATABASE_URL");
    for (k, v) in &line.env {
        let value = if v.contains("${{") {
            forge_value(k, base)
                .unwrap_or_else(|| panic!("{}: no value for the forge's variable {k}", line.job))
        } else {
            v.clone()
        };
        cmd.env(k, value);
    }
    // GitLab's predefined variables, used straight in the script.
    cmd.env("CI_MERGE_REQUEST_DIFF_BASE_SHA", base);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A pull request changing one subscriber's plan against a lab fleet, then its merge: every
/// gamops line of the template runs and succeeds (0, or 2 for changes with
/// --detailed-exitcode), and after the apply the devices match the inventory.
async fn runs_against_the_lab(lines: Vec<Line>) {
    let subcommands: std::collections::BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.command.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        subcommands.into_iter().collect::<Vec<_>>(),
        ["apply", "diff", "fmt", "plan", "validate"],
        "{lines:#?}"
    );

    let fleet = FleetLab::start(2, 6, Duration::from_secs(1)).await;
    let repo = fleet.dir.parent().unwrap().to_path_buf();
    assert_eq!(fleet.dir, repo.join("inventory"));
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join(".gitignore"), ".gamops/\n*.json\n*.md\n*.code\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    let base = git(&repo, &["rev-parse", "HEAD"]).trim().to_string();

    // The pull request: one subscriber on another plan.
    git(&repo, &["checkout", "-q", "-b", "change"]);
    let rel = "subscribers/gam-0000/sub-0000-000.yaml";
    let text = std::fs::read_to_string(fleet.dir.join(rel)).unwrap();
    let plan = text
        .lines()
        .find(|l| l.starts_with("plan: "))
        .unwrap()
        .to_string();
    let other = if plan == "plan: 100M" {
        "plan: 1G"
    } else {
        "plan: 100M"
    };
    fleet.edit(rel, &plan, other);
    git(
        &repo,
        &["commit", "-q", "-am", "a new plan for sub-0000-000"],
    );

    for phase in [Phase::Review, Phase::Merged] {
        if phase == Phase::Merged {
            git(&repo, &["checkout", "-q", "main"]);
            git(&repo, &["merge", "-q", "--ff-only", "change"]);
        }
        for line in lines.iter().filter(|l| l.phase == phase) {
            let repo = repo.clone();
            let base = base.clone();
            let (code, output) = tokio::task::spawn_blocking({
                let line = Line {
                    job: line.job.clone(),
                    phase: line.phase,
                    command: line.command.clone(),
                    env: line.env.clone(),
                };
                move || run(&repo, &line, &base)
            })
            .await
            .unwrap();
            let ok: &[i32] = if line.command.contains("--detailed-exitcode") {
                &[2]
            } else {
                &[0]
            };
            assert!(
                ok.contains(&code),
                "job {} `{}` exited {code}, expected {ok:?}:\n{output}",
                line.job,
                line.command
            );
            if line.command.starts_with("gamops apply") {
                assert!(output.contains("gam-0000: applied"), "{output}");
            }
        }
    }
    // The merged change is on the devices: nothing left to plan.
    let out = fleet.gamops(&["plan", "--detailed-exitcode"]).await;
    crate::support::fleet::expect_exit(&out, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_github_actions_workflow_parses_and_its_gamops_lines_run() {
    let (v, text) = parse("github-actions.yml");
    let lines = in_file_order(github_lines(&v), &text, "  ");
    runs_against_the_lab(lines).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitlab_ci_file_parses_and_its_gamops_lines_run() {
    let (v, text) = parse("gitlab-ci.yml");
    let mut lines = in_file_order(gitlab_lines(&v), &text, "");
    // The CI/CD variables the file's header asks for, set in the project's settings.
    for l in &mut lines {
        l.env
            .insert("GAMOPS_SNMP_COMMUNITY".into(), "public".into());
        l.env.insert("GAMOPS_SSH_PASSWORD".into(), String::new());
    }
    runs_against_the_lab(lines).await;
}

#[test]
fn a_gamops_line_is_cut_at_its_redirection() {
    assert_eq!(
        gamops_part("  gamops diff --rev \"$B\" --format markdown > diff.md || code=$?").as_deref(),
        Some("gamops diff --rev \"$B\" --format markdown")
    );
    assert_eq!(gamops_part("cargo install --git x gamops"), None);
}
