//! The ICLI of one device of a lab state file (`gamops lab shell`, which OpenSSH's sshd runs as
//! a forced command): each command runs against the device as the file holds it, and the file
//! is written back whenever the command changed the running or the saved configuration.

use std::path::{Path, PathBuf};

use crate::lab::device::{DeviceState, Session, SharedDevice, share};
use crate::lab::persist::{self, PersistError, SavedDevice};
use crate::lab::terminal::{Reply, Shell};
use crate::model::GamModel;

/// Why a file shell could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum FileShellError {
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error("the lab state {path} has no device {device}")]
    NoDevice {
        path: PathBuf,
        device: String,
        /// The devices it has.
        known: Vec<String>,
    },
}

/// A device's shell over the state file.
pub struct FileShell {
    session: Session,
    device: SharedDevice,
    path: PathBuf,
    name: String,
    host_key: Option<String>,
}

impl FileShell {
    /// The shell of `device` in the state file at `path`; with `create`, a factory GAM-12-C of
    /// that name when the file (or the device) does not exist yet.
    pub fn open(path: &Path, device: &str, create: bool) -> Result<FileShell, FileShellError> {
        let file = persist::load(path)?;
        let saved = file.as_ref().and_then(|f| f.devices.get(device)).cloned();
        let saved = match (saved, create) {
            (Some(s), _) => s,
            (None, true) => SavedDevice {
                state: DeviceState::factory(GamModel::Gam12C, device),
                host_key: None,
            },
            (None, false) => {
                return Err(FileShellError::NoDevice {
                    path: path.to_path_buf(),
                    device: device.to_string(),
                    known: file
                        .map(|f| f.devices.keys().cloned().collect())
                        .unwrap_or_default(),
                });
            }
        };
        let shared = share(saved.state);
        Ok(FileShell {
            session: Session::new(shared.clone()),
            device: shared,
            path: path.to_path_buf(),
            name: device.to_string(),
            host_key: saved.host_key,
        })
    }

    /// Writes the device back to the state file (the running configuration too, so it
    /// survives as it does a `lab up` restart).
    pub fn persist(&self) -> Result<(), PersistError> {
        let state: DeviceState = self
            .device
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let saved = SavedDevice {
            state,
            host_key: self.host_key.clone(),
        };
        persist::save_device(&self.path, &self.name, saved)
    }
}

impl Shell for FileShell {
    fn prompt(&self) -> String {
        self.session.prompt()
    }

    fn execute(&mut self, line: &str) -> Reply {
        // The file follows the running configuration as well as the saved one, so a lab that
        // serves SNMP from it sees a change as soon as the command's answer is printed.
        let revisions = |d: &SharedDevice| {
            d.lock()
                .map(|d| (d.revisions.running, d.revisions.saves))
                .unwrap_or_default()
        };
        let before = revisions(&self.device);
        let reply = self.session.execute(line);
        if revisions(&self.device) != before
            && let Err(e) = self.persist()
        {
            eprintln!("gamops lab shell: {e}");
        }
        reply
    }
}
