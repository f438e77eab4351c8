//! Fetch and push through the `git` CLI (as jj does), so they get ssh-agent, credential
//! helpers and known_hosts for free. Pushes are fast-forward only: never `--force`.

use std::path::Path;

use git2::Oid;
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    #[error("`git {args}` failed: {message}")]
    Failed { args: String, message: String },
    #[error("the remote refused the push of {branch}: {message}")]
    Refused { branch: String, message: String },
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The remote branch moved to the local tip.
    Updated,
    /// The remote branch already was the local tip.
    UpToDate,
    /// Not a fast-forward: the remote has commits the local branch lacks.
    Rejected(String),
}

async fn git(workdir: &Path, args: &[&str]) -> Result<std::process::Output, RemoteError> {
    Command::new("git")
        .args(args)
        .current_dir(workdir)
        // Never wait for a password on a terminal nobody watches.
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(RemoteError::Spawn)
}

fn failed(args: &[&str], out: &std::process::Output) -> RemoteError {
    let text = String::from_utf8_lossy(&out.stderr);
    RemoteError::Failed {
        args: args.join(" "),
        message: text
            .trim()
            .lines()
            .last()
            .unwrap_or("no output")
            .to_string(),
    }
}

/// Pushes local `branch` to the same branch on `remote` (a remote's name or URL), fast-forward
/// only.
pub async fn push(workdir: &Path, remote: &str, branch: &str) -> Result<Pushed, RemoteError> {
    let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
    let args = ["push", "--porcelain", remote, refspec.as_str()];
    let out = git(workdir, &args).await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Porcelain: `<flag>\t<from>:<to>\t<summary> (<reason>)` per ref.
    for line in stdout.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(flag), Some(_), summary) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let summary = summary.unwrap_or_default().to_string();
        match flag {
            "=" => return Ok(Pushed::UpToDate),
            " " | "+" | "*" => return Ok(Pushed::Updated),
            "!" if summary.starts_with("[rejected]") => return Ok(Pushed::Rejected(summary)),
            "!" => {
                return Err(RemoteError::Refused {
                    branch: branch.to_string(),
                    message: summary,
                });
            }
            _ => {}
        }
    }
    if out.status.success() {
        Ok(Pushed::Updated)
    } else {
        Err(failed(&args, &out))
    }
}

/// Fetches `branch` from `remote`; returns its commit, or `None` when the remote has no such
/// branch.
pub async fn fetch(workdir: &Path, remote: &str, branch: &str) -> Result<Option<Oid>, RemoteError> {
    let refspec = format!("refs/heads/{branch}");
    let args = ["fetch", "--no-tags", "--quiet", remote, refspec.as_str()];
    let out = git(workdir, &args).await?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        if text.contains("couldn't find remote ref") {
            return Ok(None);
        }
        return Err(failed(&args, &out));
    }
    let args = ["rev-parse", "--verify", "FETCH_HEAD^{commit}"];
    let out = git(workdir, &args).await?;
    if !out.status.success() {
        return Err(failed(&args, &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Oid::from_str(text.trim())
        .map(Some)
        .map_err(|e| RemoteError::Failed {
            args: args.join(" "),
            message: e.message().to_string(),
        })
}

/// Fetches `refspec` of `remote` (a pull request's head, say) into the local ref `local`,
/// forced, without writing `FETCH_HEAD` (which a concurrent [`fetch`] reads). Returns the
/// commit fetched.
pub async fn fetch_ref(
    workdir: &Path,
    remote: &str,
    refspec: &str,
    local: &str,
) -> Result<Oid, RemoteError> {
    let mapping = format!("+{refspec}:{local}");
    let args = [
        "fetch",
        "--no-tags",
        "--quiet",
        "--no-write-fetch-head",
        remote,
        mapping.as_str(),
    ];
    let out = git(workdir, &args).await?;
    if !out.status.success() {
        return Err(failed(&args, &out));
    }
    let commit = format!("{local}^{{commit}}");
    let args = ["rev-parse", "--verify", commit.as_str()];
    let out = git(workdir, &args).await?;
    if !out.status.success() {
        return Err(failed(&args, &out));
    }
    Oid::from_str(String::from_utf8_lossy(&out.stdout).trim()).map_err(|e| RemoteError::Failed {
        args: args.join(" "),
        message: e.message().to_string(),
    })
}

/// Clones `url` into `dest` (which must not exist) with `branch` checked out, as `origin`.
pub async fn clone(url: &str, branch: &str, dest: &Path) -> Result<(), RemoteError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(RemoteError::Spawn)?;
    let dest_text = dest.to_string_lossy();
    let args = [
        "clone",
        "--quiet",
        "--no-tags",
        "--single-branch",
        "--branch",
        branch,
        url,
        dest_text.as_ref(),
    ];
    let out = git(parent, &args).await?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(&args, &out))
    }
}

/// The URL of `remote` in the repository at `workdir`, if it has one.
pub async fn remote_url(workdir: &Path, remote: &str) -> Option<String> {
    let out = git(workdir, &["remote", "get-url", remote]).await.ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
