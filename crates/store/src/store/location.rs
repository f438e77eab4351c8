//! Where the store lives: a SQLite file in a state directory, or a database URL.

use std::fmt;
use std::path::{Path, PathBuf};

/// The file name of the SQLite store inside the state directory.
pub const STATE_FILE: &str = "state.db";
/// The lock file beside it, held while an opener prepares the store (journal mode, migrations).
pub const PREPARE_LOCK_FILE: &str = "state.lock";

/// The name of the default state directory, a sibling of the inventory folder.
pub const STATE_DIR: &str = ".gamops";

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// A state directory holding a SQLite file, [`STATE_FILE`] (created when missing, WAL mode).
    Sqlite(PathBuf),
    /// A database URL: `postgres://USER@HOST:PORT/DATABASE` (or `sqlite://PATH`).
    Url(String),
}

impl StoreLocation {
    /// Chooses the store from the command line and the environment (the CLI reads
    /// `GAMOPS_DATABASE_URL` and `GAMOPS_STATE_DIR` into the two options): a database URL wins
    /// over a state directory, and without either the state directory is `.gamops/` in the
    /// folder that holds the inventory folder (for `repo/inventory`, `repo/.gamops/`), which
    /// the project's `.gitignore` keeps out of git. Empty values count as unset.
    pub fn resolve(
        state_dir: Option<&Path>,
        database_url: Option<&str>,
        inventory: &Path,
    ) -> StoreLocation {
        if let Some(url) = database_url.map(str::trim).filter(|u| !u.is_empty()) {
            return StoreLocation::Url(url.to_string());
        }
        if let Some(dir) = state_dir.filter(|d| !d.as_os_str().is_empty()) {
            return StoreLocation::Sqlite(dir.to_path_buf());
        }
        StoreLocation::Sqlite(default_state_dir(inventory))
    }

    /// The SQLite file, for a state directory.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            StoreLocation::Sqlite(dir) => Some(dir.join(STATE_FILE)),
            StoreLocation::Url(_) => None,
        }
    }
}

/// `.gamops/` beside the inventory folder.
fn default_state_dir(inventory: &Path) -> PathBuf {
    let absolute = std::path::absolute(inventory).unwrap_or_else(|_| inventory.to_path_buf());
    // `absolute` drops `.` components but keeps `..`; a trailing `..` has no textual parent.
    let ends_in_parent = absolute
        .components()
        .next_back()
        .is_some_and(|c| matches!(c, std::path::Component::ParentDir));
    match absolute.parent() {
        Some(parent) if !ends_in_parent => parent.join(STATE_DIR),
        _ => absolute.join("..").join(STATE_DIR),
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(dir) => write!(f, "{}", dir.join(STATE_FILE).display()),
            StoreLocation::Url(url) => f.write_str(&hide_password(url)),
        }
    }
}

/// The URL with the password of its user information, if any, replaced by `***`.
pub fn hide_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let after = scheme_end + 3;
    let authority_end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    let authority = &url[after..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..after],
            &userinfo[..colon],
            &url[after + at..]
        ),
        None => url.to_string(),
    }
}

/// A `sqlite://` URL for `file`, which must be absolute; bytes outside the unreserved set are
/// percent-encoded (the SQLite driver decodes them).
pub(crate) fn sqlite_url(file: &Path) -> String {
    let mut url = String::from("sqlite://");
    for b in file.as_os_str().as_encoded_bytes() {
        let c = *b as char;
        if c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.' | '~') {
            url.push(c);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_wins_then_a_state_dir_then_beside_the_inventory() {
        let inv = Path::new("/srv/repo/inventory");
        assert_eq!(
            StoreLocation::resolve(Some(Path::new("/s")), Some("postgres://h/db"), inv),
            StoreLocation::Url("postgres://h/db".into())
        );
        assert_eq!(
            StoreLocation::resolve(Some(Path::new("/s")), Some(" "), inv),
            StoreLocation::Sqlite("/s".into())
        );
        assert_eq!(
            StoreLocation::resolve(None, None, inv),
            StoreLocation::Sqlite("/srv/repo/.gamops".into())
        );
        assert_eq!(
            StoreLocation::resolve(None, None, Path::new("/srv/repo/inventory/")),
            StoreLocation::Sqlite("/srv/repo/.gamops".into())
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            StoreLocation::resolve(None, None, Path::new("inventory")),
            StoreLocation::Sqlite(cwd.join(".gamops"))
        );
        assert_eq!(
            StoreLocation::resolve(None, None, Path::new(".")),
            StoreLocation::Sqlite(cwd.parent().unwrap().join(".gamops"))
        );
        assert_eq!(
            StoreLocation::resolve(None, None, Path::new("/srv/repo/inventory/..")),
            StoreLocation::Sqlite("/srv/repo/inventory/../../.gamops".into())
        );
    }

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            hide_password("postgres://u:pw@h:5432/db?x=1"),
            "postgres://u:***@h:5432/db?x=1"
        );
        assert_eq!(hide_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(hide_password("postgres://h/d@b"), "postgres://h/d@b");
        assert_eq!(hide_password("not a url"), "not a url");
        assert_eq!(
            StoreLocation::Url("postgres://a:b:c@h/db".into()).to_string(),
            "postgres://a:***@h/db"
        );
    }

    #[test]
    fn sqlite_urls_encode_odd_bytes() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/a b/state.db")),
            "sqlite:///tmp/a%20b/state.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url(Path::new("/x/?#%.db")),
            "sqlite:///x/%3F%23%25.db?mode=rwc"
        );
    }
}
