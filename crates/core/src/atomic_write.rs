//! The one way gamops writes a file: whole or not at all, and only the file it was asked to
//! write.
//!
//! The new text goes to a temporary file created exclusively (`O_CREAT|O_EXCL`, a random name,
//! so a symlink or any file already at that name is never opened or followed) in the target's
//! own folder, is flushed to disk, then renamed over the target (a rename replaces a symlink at
//! the target, never the file it points to), and the folder is flushed so the rename survives a
//! crash. The target keeps its permissions; a new file gets the usual ones (0666 less the umask),
//! or the owner's alone with [`write_private`].

use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically, creating its folder when missing.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, bytes, 0o666)
}

/// As [`write`], readable by the owner alone when the file is new (for files holding keys).
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, bytes, 0o600)
}

fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn write_with(path: &Path, bytes: &[u8], new_mode: u32) -> std::io::Result<()> {
    let dir = folder_of(path);
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".gamops-tmp")
        .permissions(Permissions::from_mode(new_mode))
        .tempfile_in(&dir)?;
    // An existing regular file keeps its mode (a symlink at the target is replaced, so its
    // target's mode does not matter).
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_file()
    {
        tmp.as_file()
            .set_permissions(Permissions::from_mode(meta.permissions().mode() & 0o7777))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(&dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_at_any_temporary_name_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.path().join("x.yaml");
        std::fs::write(&target, "old").unwrap();
        // The names earlier versions used.
        for tmp in [
            "x.yaml.gamops-tmp",
            "x.yaml.yaml.gamops-tmp",
            "x.gamops-tmp",
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(tmp)).unwrap();
        }
        write(&target, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // Nothing left behind but the planted links.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("gamops-tmp") && !n.starts_with('x'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.path().join("plan.json");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write(&target, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
    }

    #[test]
    fn modes_are_kept_and_private_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.yaml");
        std::fs::write(&target, "a").unwrap();
        std::fs::set_permissions(&target, Permissions::from_mode(0o640)).unwrap();
        write(&target, b"b").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o640);
        let key = dir.path().join("sub/state.json");
        write_private(&key, b"k").unwrap();
        assert_eq!(mode(&key), 0o600);
    }
}
