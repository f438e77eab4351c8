//! The lab's state file (`gamops lab up --state FILE`, `gamops lab shell --state FILE`): every
//! device's running and startup configuration, detected CPEs and SSH host key, as JSON.
//!
//! Writes are atomic (a temporary file in the same folder, then a rename), so a crash never
//! leaves half a file. Faults are not kept: a restarted lab starts without them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::lab::device::DeviceState;
use crate::lab::runtime::{DeviceConfig, Lab};
use crate::lab::ssh::HostKey;

/// The format version written in the file.
pub const STATE_VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Devices by name.
    pub devices: BTreeMap<String, SavedDevice>,
}

/// One device in the state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedDevice {
    /// Its state (faults and the reboot flag are cleared on load).
    pub state: DeviceState,
    /// Its SSH host key, OpenSSH private key text, so clients keep trusting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
}

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read the lab state {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the lab state {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the lab state {path} has version {found}; this gamops reads version {STATE_VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("cannot write the lab state {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StateFile {
    /// An empty state of the current version.
    pub fn new() -> Self {
        Self {
            version: STATE_VERSION,
            devices: BTreeMap::new(),
        }
    }
}

impl StateFile {
    /// The state of a running lab: every device's state and host key.
    pub fn of(lab: &Lab) -> StateFile {
        let mut file = StateFile::new();
        let states = lab.snapshot();
        for d in lab.devices() {
            if let Some(state) = states.get(d.name()) {
                file.devices.insert(
                    d.name().to_string(),
                    SavedDevice {
                        state: state.clone(),
                        host_key: d.host_key().to_openssh_private().ok(),
                    },
                );
            }
        }
        file
    }

    /// Gives the devices this file holds their saved state and host key, before they are
    /// started. Returns how many it restored.
    pub fn restore(&self, devices: &mut [DeviceConfig]) -> usize {
        let mut restored = 0;
        for d in devices.iter_mut() {
            if let Some(saved) = self.devices.get(&d.name) {
                d.state = saved.state.clone();
                if let Some(key) = saved
                    .host_key
                    .as_deref()
                    .and_then(|k| HostKey::from_openssh_private(k).ok())
                {
                    d.host_key = key;
                }
                restored += 1;
            }
        }
        restored
    }
}

/// Reads `path`; `Ok(None)` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<StateFile>, PersistError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut file: StateFile =
        serde_json::from_str(&text).map_err(|source| PersistError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
    if file.version != STATE_VERSION {
        return Err(PersistError::Version {
            path: path.to_path_buf(),
            found: file.version,
        });
    }
    for d in file.devices.values_mut() {
        d.state.faults = Default::default();
        d.state.reboot_requested = false;
    }
    Ok(Some(file))
}

/// Writes `state` to `path` atomically.
pub fn save(path: &Path, state: &StateFile) -> Result<(), PersistError> {
    let err = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let json = serde_json::to_vec(state).map_err(|e| err(std::io::Error::other(e)))?;
    // The file holds the devices' SSH host keys: the owner's alone.
    crate::atomic_write::write_private(path, &json).map_err(err)
}

/// Replaces one device's state in the file at `path` (read afresh, so other devices' newer
/// states are kept) and writes it back atomically.
pub fn save_device(path: &Path, name: &str, device: SavedDevice) -> Result<(), PersistError> {
    let mut file = load(path)?.unwrap_or_default();
    file.version = STATE_VERSION;
    file.devices.insert(name.to_string(), device);
    save(path, &file)
}

/// Keeps the state file at `path` following the running `lab` until `stopped`: written at
/// each save on a device, and every 5 s when anything else changed; written once more at the
/// end. A write that fails is said in an error line and tried again at the next change.
pub async fn keep(lab: &Lab, path: &Path, stopped: impl std::future::Future<Output = ()>) {
    let write = || {
        if let Err(e) = save(path, &StateFile::of(lab)) {
            tracing::error!(error = %e, "cannot save the lab state");
            eprintln!("gamops lab: {e}");
        }
    };
    let saved = lab.saved();
    let mut last = lab.change_count();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => break,
            () = saved.notified() => {
                last = lab.change_count();
                write();
            }
            _ = tick.tick() => {
                let now = lab.change_count();
                if now != last {
                    last = now;
                    write();
                }
            }
        }
    }
    write();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GamModel;

    #[test]
    fn round_trip_is_atomic_and_clears_faults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.json");
        assert!(load(&path).unwrap().is_none());
        let mut dev = DeviceState::factory(GamModel::Gam12C, "a");
        dev.set_save_in_progress(true);
        let mut file = StateFile::new();
        file.devices.insert(
            "a".into(),
            SavedDevice {
                state: dev,
                host_key: None,
            },
        );
        save(&path, &file).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert!(!back.devices["a"].state.faults.save_in_progress);
        save_device(
            &path,
            "b",
            SavedDevice {
                state: DeviceState::factory(GamModel::Gam4Cx, "b"),
                host_key: None,
            },
        )
        .unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.devices.len(), 2);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Parse { .. })));
    }
}
