//! `gamops fmt`: rewrite every inventory file in its one canonical form.

use std::path::Path;

use crate::inventory::Inventory;
use crate::inventory::canonical::format_file;

use super::{CommandError, InventoryArgs};

/// Rewrite every inventory file in canonical form: key order, quoting, and the editor's
/// `# yaml-language-server: $schema=` line first.
///
/// Comment lines at the top of a file are kept. A file with comments further down is left as it
/// is and reported, since formatting would drop them. A file that does not parse is reported too
/// (run `gamops validate` for details).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  gamops fmt\n  gamops fmt --check    # list files that differ; exit 1 if any"
)]
pub struct Args {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Change nothing: list files that are not canonical and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: Args) -> Result<u8, CommandError> {
    let inv = Inventory::load_dir(&args.inv.inventory)?;
    let (mut changed, mut unchanged, mut problems) = (0usize, 0usize, 0usize);
    for file in &inv.files {
        let Some(kind) = file.kind else { continue };
        let path = Path::new(&file.path);
        // Read as loading reads (a regular file, size-capped); a file that cannot be read or is
        // not UTF-8 is a problem reported and counted, never skipped in silence.
        let original = match crate::inventory::read_file(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    problems += 1;
                    eprintln!("{}: not formatted: the file is not UTF-8 text", file.path);
                    continue;
                }
            },
            // gamops.yaml or plans.yaml not there: nothing to format (validate reports it).
            Err(p) if p.missing => continue,
            Err(p) => {
                problems += 1;
                eprintln!("{}: not formatted: {}", file.path, p.message);
                continue;
            }
        };
        match format_file(kind, &original) {
            Ok(text) if text == original => unchanged += 1,
            Ok(text) => {
                changed += 1;
                if args.check {
                    println!("would reformat {}", file.path);
                } else {
                    super::write_atomically(path, &text)?;
                    println!("formatted {}", file.path);
                }
            }
            Err(e) => {
                problems += 1;
                eprintln!("{}: not formatted: {e}", file.path);
            }
        }
    }
    let verb = if args.check {
        "would reformat"
    } else {
        "formatted"
    };
    println!("{verb} {changed} file(s), {unchanged} already canonical, {problems} not formatted");
    if problems > 0 {
        return Err(
            CommandError::user(format!("{problems} file(s) could not be formatted")).hint(
                "fix what `gamops validate` reports, and move comments to the top of the file",
            ),
        );
    }
    Ok(if args.check && changed > 0 { 1 } else { 0 })
}
