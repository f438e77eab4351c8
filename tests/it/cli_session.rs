//! The SSH CLI session against the lab's SSH server running the simulated GAM's CLI: login,
//! host-key pinning, commands and their `%` errors, saving while another save runs.

use std::sync::Arc;
use std::time::Duration;

use gamops::device::ssh::{CliAuth, CliError, CliSession, CliTarget, HostKeyPolicy, dialect};
use gamops::lab::device::state::DeviceState;
use gamops::lab::device::{SharedDevice, share};
use gamops::lab::ssh::{HostKey, SshServerConfig, SshServerHandle, serve};
use gamops::model::GamModel;
use gamops::secret::Secret;

async fn lab(max_sessions: usize) -> (SshServerHandle, SharedDevice) {
    let device = share(DeviceState::factory(GamModel::Gam12C, "gam1"));
    let mut cfg = SshServerConfig::gam_default(HostKey::generate().unwrap());
    cfg.max_sessions = max_sessions;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = serve(
        listener,
        cfg,
        Arc::new(crate::support::Gam::new(device.clone(), None)),
    )
    .unwrap();
    (server, device)
}

fn target(server: &SshServerHandle, password: &str, pin: HostKeyPolicy) -> CliTarget {
    CliTarget {
        addr: server.local_addr(),
        username: "admin".into(),
        auth: CliAuth::Password(Secret::new(password)),
        host_key: pin,
        connect_timeout: Duration::from_secs(20),
        command_timeout: Duration::from_secs(20),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configures_saves_and_reports_the_devices_errors() {
    let (server, device) = lab(16).await;
    let pin = HostKeyPolicy::Pinned(server.host_key().fingerprint_sha256());
    let mut cli = CliSession::connect(&target(&server, "", pin))
        .await
        .unwrap();
    assert_eq!(cli.hostname(), "gam1");

    cli.run(dialect::CONFIGURE).await.unwrap();
    cli.run(
        "ghn bw-profile 2 name \"500M\" description \"\" rate-downstream 545 rate-upstream 545",
    )
    .await
    .unwrap();
    // The device's own message comes back, and nothing changed.
    let err = cli
        .run("ghn bw-profile 3 name \"bad\" rate-downstream 5 rate-upstream 5")
        .await
        .unwrap_err();
    match &err {
        CliError::Rejected { command, message } => {
            assert!(command.starts_with("ghn bw-profile 3"));
            assert!(message.starts_with('%'), "{message}");
        }
        other => panic!("expected a rejection, got {other}"),
    }
    assert!(!device.lock().unwrap().running.profiles.contains_key(&3));
    cli.run(dialect::END).await.unwrap();
    let shown = cli.run("show running-config").await.unwrap();
    assert!(shown.contains("ghn bw-profile 2 name \"500M\""), "{shown}");

    // A save that overlaps another is retried until it goes through.
    device.lock().unwrap().set_save_in_progress(true);
    let busy = device.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        busy.lock().unwrap().set_save_in_progress(false);
    });
    cli.save(20, Duration::from_millis(100)).await.unwrap();
    assert!(device.lock().unwrap().startup.contains("ghn bw-profile 2"));

    // Still busy after every attempt: the error says so.
    device.lock().unwrap().set_save_in_progress(true);
    let err = cli.save(2, Duration::from_millis(10)).await.unwrap_err();
    assert!(err.to_string().contains(dialect::SAVE_BUSY), "{err}");
    cli.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_keys_are_pinned() {
    let (server, _) = lab(16).await;
    let other = HostKey::generate().unwrap();
    let err = CliSession::connect(&target(
        &server,
        "",
        HostKeyPolicy::Pinned(other.fingerprint_sha256()),
    ))
    .await
    .err()
    .expect("a changed key is refused");
    match &err {
        CliError::HostKeyChanged { got, .. } => {
            assert_eq!(got, &server.host_key().fingerprint_sha256())
        }
        other => panic!("expected HostKeyChanged, got {other}"),
    }
    assert!(err.hint().unwrap().contains("ssh.host_key"));

    // The OpenSSH key line pins as well as the fingerprint; first contact accepts and reports it.
    let line = HostKeyPolicy::Pinned(server.host_key().public_key_openssh().to_string());
    CliSession::connect(&target(&server, "", line))
        .await
        .unwrap()
        .close()
        .await;
    let cli = CliSession::connect(&target(&server, "", HostKeyPolicy::AcceptNew))
        .await
        .unwrap();
    assert_eq!(
        gamops::device::ssh::session::fingerprint(cli.host_key()),
        server.host_key().fingerprint_sha256()
    );
    cli.close().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_and_full_session_tables_are_clear_errors() {
    let (server, _) = lab(1).await;
    let err = CliSession::connect(&target(&server, "nope", HostKeyPolicy::AcceptNew))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, CliError::AuthFailed { .. }), "{err}");

    let first = CliSession::connect(&target(&server, "", HostKeyPolicy::AcceptNew))
        .await
        .unwrap();
    let err = CliSession::connect(&target(&server, "", HostKeyPolicy::AcceptNew))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, CliError::Refused(_)), "{err}");
    assert!(err.to_string().contains("sessions"), "{err}");
    first.close().await;
    server.shutdown().await;
}
