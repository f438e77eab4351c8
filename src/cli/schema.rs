//! `gamops schema`: write the JSON Schemas of every file kind (and of the JSON outputs).

use std::path::PathBuf;

use super::CommandError;

/// Write the JSON Schemas (draft-07, for editors) of the inventory files and JSON outputs.
///
/// With --check, write nothing and fail when a schema on disk is out of date (CI runs this).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  gamops schema --out schemas/\n  gamops schema --check")]
pub struct Args {
    /// The folder to write into.
    #[arg(long, default_value = "schemas")]
    pub out: PathBuf,
    /// Compare instead of writing; exit 1 when a file differs.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let mut stale = Vec::new();
    if !args.check {
        std::fs::create_dir_all(&args.out).map_err(|e| {
            CommandError::user(format!("cannot create {}: {e}", args.out.display()))
        })?;
    }
    for (name, text) in crate::schema::all() {
        let path = args.out.join(name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if args.check {
            stale.push(path);
        } else {
            crate::atomic_write::write(&path, text.as_bytes())
                .map_err(|e| CommandError::user(format!("cannot write {}: {e}", path.display())))?;
            println!("wrote {}", path.display());
        }
    }
    if args.check {
        if stale.is_empty() {
            println!("schemas in {} are up to date", args.out.display());
            return Ok(0);
        }
        for p in &stale {
            println!("out of date: {}", p.display());
        }
        return Err(
            CommandError::user(format!("{} schema file(s) are out of date", stale.len())).hint(
                format!(
                    "run `gamops schema --out {}` and commit the result",
                    args.out.display()
                ),
            ),
        );
    }
    Ok(0)
}
