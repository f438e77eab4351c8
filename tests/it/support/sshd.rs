//! OpenSSH's sshd serving a lab device: `gamops lab shell` as its forced command, on a free
//! loopback port, for root logging in with a fresh client key. Needs root and
//! `/usr/sbin/sshd` (`bash .ci/run` installs it); the test fails with what to do without them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd; killed when dropped.
pub struct LabShellSshd {
    pub port: u16,
    /// The host key's fingerprint, `SHA256:...`, as a device file pins it.
    pub host_fingerprint: String,
    /// The client's private key (authorized for root).
    pub client_key: PathBuf,
    child: Child,
}

impl LabShellSshd {
    /// Starts sshd with its keys and configuration in `dir`, each login running
    /// `gamops lab shell --state STATE --device DEVICE`, and waits until it listens.
    pub fn start(dir: &Path, state: &Path, device: &str) -> LabShellSshd {
        let sshd = super::sshd_as_root();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let fp = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(dir.join("host_key.pub"))
            .output()
            .unwrap();
        let host_fingerprint = String::from_utf8_lossy(&fp.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        assert!(
            host_fingerprint.starts_with("SHA256:"),
            "{host_fingerprint}"
        );
        let port = super::free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {auth}\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin yes\nForceCommand {bin} lab shell --state {state} --device {device}\n",
            host = dir.join("host_key").display(),
            pid = dir.join("sshd.pid").display(),
            auth = dir.join("authorized_keys").display(),
            bin = assert_cmd::cargo::cargo_bin("gamops").display(),
            state = state.display(),
        );
        std::fs::write(dir.join("sshd_config"), config).unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(dir.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = LabShellSshd {
            port,
            host_fingerprint,
            client_key: dir.join("client_key"),
            child,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "sshd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for LabShellSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ssh-keygen` a new Ed25519 key at `path`.
fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
