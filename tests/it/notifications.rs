//! Notifications against real receivers on loopback, each started by its test: an SMTP server
//! (aiosmtpd from PyPI, in the venv at /opt/aiosmtpd) with STARTTLS or TLS on a certificate made
//! for the test, Debian's `prometheus-alertmanager`, and webhook receivers (axum) whose
//! Standard Webhooks signatures are checked by the `standardwebhooks` package from PyPI. Also
//! the outbox in the store on both backends, and `gamops notify test`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use gamops::model::notifications::NotificationSettings;
use gamops::notifications::{AlertStatus, Notification, Notifier, Severity, deliver};
use gamops::store::{NewOutboxRow, OutboxState, Store, StoreLocation, Timestamp};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::TestDb;
use crate::support::{gamops, stderr, stdout, temp_inventory};

// ---------------------------------------------------------------------------------------------
// Peers

/// The Python of the venv holding aiosmtpd and standardwebhooks: `GAMOPS_AIOSMTPD` (the venv's
/// folder) or /opt/aiosmtpd.
fn venv_python() -> PathBuf {
    let venv = std::env::var("GAMOPS_AIOSMTPD").unwrap_or_else(|_| "/opt/aiosmtpd".into());
    let python = Path::new(&venv).join("bin/python");
    assert!(
        python.exists(),
        "the notification tests need aiosmtpd and standardwebhooks: /usr/bin/python3 -m venv \
         /opt/aiosmtpd && /opt/aiosmtpd/bin/pip install aiosmtpd==1.4.6 standardwebhooks==1.1.0 \
         (or set GAMOPS_AIOSMTPD to another venv)"
    );
    python
}

fn fixture(name: &str) -> PathBuf {
    crate::support::root()
        .join("tests/fixtures/notify")
        .join(name)
}

/// A certificate authority and a server certificate it signed for `localhost` and 127.0.0.1,
/// made with the openssl command: (ca.pem, server.pem, server.key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command is installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=gamops test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// aiosmtpd running `smtp_server.py`, killed when dropped.
pub(crate) struct Smtp {
    child: Child,
    pub(crate) port: u16,
    out: tempfile::TempDir,
}

impl Smtp {
    /// `security`: none, starttls or tls; with TLS, `certs` from [`certificates`]; with
    /// `login`, AUTH is required.
    pub(crate) fn start(
        security: &str,
        certs: Option<&(PathBuf, PathBuf, PathBuf)>,
        login: Option<(&str, &str)>,
    ) -> Smtp {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(venv_python());
        cmd.arg(fixture("smtp_server.py"))
            .arg("--out")
            .arg(out.path())
            .arg("--security")
            .arg(security)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((_, cert, key)) = certs {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((user, password)) = login {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd.spawn().expect("aiosmtpd starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("aiosmtpd prints its port");
        let port = line.strip_prefix("PORT ").unwrap().parse().unwrap();
        Smtp { child, port, out }
    }

    /// The messages received so far, in order.
    pub(crate) fn mails(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with("mail-") && name.ends_with(".json")
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    /// Refuses every recipient (451) while `on`.
    fn refuse(&self, on: bool) {
        let flag = self.out.path().join("refuse");
        if on {
            std::fs::write(flag, "").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request a webhook receiver got, and what it answered.
#[derive(Clone, Debug)]
struct Received {
    headers: BTreeMap<String, String>,
    body: String,
    answered: u16,
}

/// An axum webhook receiver on loopback that answers 500 to its first `failures` requests,
/// then 200; keeps every request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        Self::start_on(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            failures,
        )
    }

    fn start_on(listener: tokio::net::TcpListener, failures: usize) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        let count = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen.clone();
                let count = count.clone();
                async move {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let status = if n < failures {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    seen.lock().unwrap().push(Received {
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        answered: status.as_u16(),
                    });
                    status
                }
            }),
        );
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(token.cancelled_owned())
                .await
                .unwrap();
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            got,
            stop,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Verifies a delivery with the `standardwebhooks` package: `Ok(type)` or why not.
fn verify_with_python(secret: &str, r: &Received) -> Result<String, String> {
    let request = serde_json::json!({
        "secret": secret,
        "headers": r.headers,
        "body": r.body,
    });
    let mut child = Command::new(venv_python())
        .arg(fixture("verify_webhook.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        request.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match text.strip_prefix("ok ") {
        Some(kind) if out.status.success() => Ok(kind.to_string()),
        _ => Err(text),
    }
}

/// Debian's prometheus-alertmanager on a free loopback port, killed when dropped.
struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start() -> Alertmanager {
        let binary = std::env::var("GAMOPS_ALERTMANAGER")
            .unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into());
        assert!(
            Path::new(&binary).exists(),
            "the Alertmanager test needs {binary}: apt-get install prometheus-alertmanager \
             (or set GAMOPS_ALERTMANAGER)"
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: nobody\n  group_wait: 1s\nreceivers:\n  - name: nobody\n",
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts");
        Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    async fn ready(&self) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/-/ready", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "alertmanager did not get ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The alerts its API lists (unresolved ones).
    async fn alerts(&self) -> Vec<Value> {
        let body = reqwest::get(format!("{}/api/v2/alerts", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn settings(yaml: &str) -> NotificationSettings {
    serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn alert(key: &str, status: AlertStatus, starts_at_ms: i64) -> Notification {
    Notification {
        key: key.into(),
        rule: "endpoint_offline".into(),
        severity: Severity::Critical,
        status,
        device: Some("gam-0001".into()),
        labels: BTreeMap::from([
            ("site".to_string(), "north".to_string()),
            ("subscriber".to_string(), "alice".to_string()),
        ]),
        summary: "alice's endpoint on gam-0001 is offline".into(),
        description: "Endpoint 00:11:22:33:44:55 on port 3 has not been seen for 5m.".into(),
        starts_at_ms,
        ends_at_ms: match status {
            AlertStatus::Firing => None,
            AlertStatus::Resolved => Some(starts_at_ms + 1_000),
        },
    }
}

/// A SQLite store in a temporary folder, and its location (to open it again).
async fn sqlite_store() -> (tempfile::TempDir, StoreLocation, Store) {
    let dir = tempfile::tempdir().unwrap();
    let location = StoreLocation::Sqlite(dir.path().join("state"));
    let store = Store::open(&location).await.unwrap();
    (dir, location, store)
}

/// Delivery running in a task: its sender and how to stop it.
struct Running {
    tx: mpsc::Sender<Notification>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(settings: &NotificationSettings, store: &Store) -> Running {
        let notifier = Notifier::new(settings).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(deliver(notifier, store.clone(), rx, cancel.clone()));
        Running { tx, cancel, task }
    }

    async fn send(&self, n: Notification) {
        self.tx.send(n).await.unwrap();
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("delivery stops promptly")
            .unwrap();
    }
}

/// Polls `check` until it holds, or fails the test after `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A file holding [`WHSEC`], and its reference (`file:PATH`).
fn whsec_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whsec");
    std::fs::write(&path, format!("{WHSEC}\n")).unwrap();
    let reference = format!("file:{}", path.display());
    (dir, reference)
}

// ---------------------------------------------------------------------------------------------
// Email

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_starttls_carries_the_firing_and_the_resolved_alert() {
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = certificates(certs_dir.path());
    let smtp = Smtp::start("starttls", Some(&certs), Some(("alerts", "s3cret")));
    let secret = certs_dir.path().join("smtp-password");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let s = settings(&format!(
        "channels:\n  noc-mail:\n    email:\n      host: localhost\n      port: {}\n      \
         security: starttls\n      username: alerts\n      password: file:{}\n      \
         from: 'gamops <alerts@example.net>'\n      to: [noc@example.net, oncall@example.net]\n      \
         ca_file: {}\n      timeout: 10s\ndefault: [noc-mail]\nretry: {{initial: 200ms, max: 1s}}\n",
        smtp.port,
        secret.display(),
        certs.0.display()
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    let started = Timestamp::now().as_millis();
    run.send(alert(
        "endpoint-offline/gam-0001/00:11:22:33:44:55",
        AlertStatus::Firing,
        started,
    ))
    .await;
    run.send(alert(
        "endpoint-offline/gam-0001/00:11:22:33:44:55",
        AlertStatus::Resolved,
        started,
    ))
    .await;
    eventually("two mails", Duration::from_secs(20), || async {
        smtp.mails().len() >= 2
    })
    .await;
    // Settle: nothing more arrives (each row is sent once).
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.stop().await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    for mail in &mails {
        assert_eq!(mail["mail_from"], "alerts@example.net");
        assert_eq!(
            mail["rcpt_tos"],
            serde_json::json!(["noc@example.net", "oncall@example.net"])
        );
        assert_eq!(mail["tls"], true, "sent over STARTTLS");
        assert_eq!(mail["login"], "alerts");
    }
    let firing = mails[0]["data"].as_str().unwrap();
    let resolved = mails[1]["data"].as_str().unwrap();
    assert!(
        firing.contains("Subject: [FIRING] critical: alice's endpoint on gam-0001 is offline"),
        "{firing}"
    );
    assert!(firing.contains("Endpoint 00:11:22:33:44:55 on port 3 has not been seen for 5m."));
    assert!(firing.contains("Device:   gam-0001"), "{firing}");
    assert!(firing.contains("Label:    site=north"), "{firing}");
    assert!(
        resolved.contains("Subject: [RESOLVED] alice's endpoint on gam-0001 is offline"),
        "{resolved}"
    );
    assert!(resolved.contains("Ended:"), "{resolved}");
    // The resolved mail answers the firing one.
    let message_id = firing
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("a Message-ID");
    assert!(
        resolved.contains(&format!("In-Reply-To: {message_id}")),
        "{resolved}"
    );
    let rows = store.outbox_rows(None).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r.state == OutboxState::Delivered && r.attempts == 1)
    );
}

/// TLS from the first byte, through `gamops notify test`; and the command's errors.
#[test]
fn notify_test_sends_over_implicit_tls_and_says_so() {
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = certificates(certs_dir.path());
    let smtp = Smtp::start("tls", Some(&certs), Some(("alerts", "pw-from-env")));
    let (_tmp, inv) = temp_inventory();
    let fleet = inv.join("gamops.yaml");
    let mut text = std::fs::read_to_string(&fleet).unwrap();
    text.push_str(&format!(
        "notifications:\n  channels:\n    smtps:\n      email:\n        host: localhost\n        \
         port: {}\n        security: tls\n        username: alerts\n        \
         password: env:GAMOPS_TEST_SMTP_PASSWORD\n        from: alerts@example.net\n        \
         to: [noc@example.net]\n        ca_file: {}\n  default: [smtps]\n",
        smtp.port,
        certs.0.display()
    ));
    std::fs::write(&fleet, text).unwrap();

    let out = gamops()
        .args(["notify", "test", "--channel", "smtps", "--inventory"])
        .arg(&inv)
        .env("GAMOPS_TEST_SMTP_PASSWORD", "pw-from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("delivered: test notification test/smtps/"),
        "{}",
        stdout(&out)
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["tls"], true);
    assert!(
        mails[0]["data"]
            .as_str()
            .unwrap()
            .contains("gamops test notification to smtps")
    );

    // A wrong password: not delivered, the server's answer said.
    let out = gamops()
        .args(["notify", "test", "--channel", "smtps", "--inventory"])
        .arg(&inv)
        .env("GAMOPS_TEST_SMTP_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("smtps: test notification not delivered"),
        "{err}"
    );
    assert!(err.contains("535"), "the SMTP answer is shown: {err}");
    // An unknown channel names the known ones; a missing secret names the variable.
    let out = gamops()
        .args(["notify", "test", "--channel", "pager", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("there is no notification channel pager"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the channels are: smtps"),
        "{}",
        stderr(&out)
    );
    let out = gamops()
        .args(["notify", "test", "--channel", "smtps", "--inventory"])
        .arg(&inv)
        .env_remove("GAMOPS_TEST_SMTP_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("GAMOPS_TEST_SMTP_PASSWORD"),
        "{}",
        stderr(&out)
    );
    assert_eq!(smtp.mails().len(), 1, "nothing more was sent");
}

/// An SMTP server that refuses (451) keeps its mail pending and retried, while the webhook
/// beside it is delivered at once; once it accepts, the mail is delivered, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_smtp_server_is_retried_and_delays_no_other_channel() {
    let smtp = Smtp::start("none", None, None);
    smtp.refuse(true);
    let hook = Receiver::start(0).await;
    let secret_dir = tempfile::tempdir().unwrap();
    std::fs::write(secret_dir.path().join("whsec"), WHSEC).unwrap();
    let s = settings(&format!(
        "channels:\n  mail:\n    email: {{host: 127.0.0.1, port: {}, security: none, \
         from: alerts@example.net, to: [noc@example.net]}}\n  hook:\n    webhook: {{url: '{}', \
         secret: 'file:{}'}}\ndefault: [mail, hook]\nretry: {{initial: 100ms, max: 400ms}}\n",
        smtp.port,
        hook.url,
        secret_dir.path().join("whsec").display()
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    run.send(alert("k1", AlertStatus::Firing, 1_000)).await;
    eventually("the webhook", Duration::from_secs(10), || async {
        hook.got().len() == 1
    })
    .await;
    eventually("three refused tries", Duration::from_secs(10), || async {
        let rows = store.outbox_rows(Some("mail")).await.unwrap();
        rows[0].attempts >= 3
    })
    .await;
    let row = &store.outbox_rows(Some("mail")).await.unwrap()[0];
    assert_eq!(row.state, OutboxState::Pending);
    let error = row.last_error.as_deref().unwrap();
    assert!(error.contains("451"), "{error}");
    assert!(
        error.contains(&format!("127.0.0.1:{}", smtp.port)),
        "{error}"
    );
    assert!(smtp.mails().is_empty());
    smtp.refuse(false);
    eventually("the mail", Duration::from_secs(10), || async {
        smtp.mails().len() == 1
    })
    .await;
    eventually(
        "the mail's row marked delivered",
        Duration::from_secs(30),
        || async {
            let rows = store.outbox_rows(Some("mail")).await.unwrap();
            rows[0].state == OutboxState::Delivered
        },
    )
    .await;
    run.stop().await;
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(hook.got().len(), 1);
}

/// An SMTP server that accepts the connection and never answers: the try times out (and is
/// retried) while the webhook channel delivers without waiting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_smtp_server_times_out_and_blocks_no_other_channel() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in silent.incoming() {
            keep.lock().unwrap().push(stream);
        }
    });
    let hook = Receiver::start(0).await;
    let (_secret_dir, secret) = whsec_file();
    let s = settings(&format!(
        "channels:\n  mail:\n    email: {{host: 127.0.0.1, port: {port}, security: none, \
         from: alerts@example.net, to: [noc@example.net], timeout: 3s}}\n  hook:\n    \
         webhook: {{url: '{}', secret: '{secret}'}}\n\
         default: [mail, hook]\nretry: {{initial: 100ms, max: 300ms}}\n",
        hook.url
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    run.send(alert("k-hang", AlertStatus::Firing, 1_000)).await;
    eventually("the webhook", Duration::from_secs(10), || async {
        hook.got().len() == 1
    })
    .await;
    // The webhook came while the mail's first try still hung: had the webhook waited for it,
    // that try would have timed out first and left its error on the row.
    let mail = &store.outbox_rows(Some("mail")).await.unwrap()[0];
    assert_eq!(
        mail.last_error, None,
        "the webhook waited for the hanging SMTP server"
    );
    eventually("two timed-out tries", Duration::from_secs(15), || async {
        let rows = store.outbox_rows(Some("mail")).await.unwrap();
        rows[0].attempts >= 2 && rows[0].last_error.is_some()
    })
    .await;
    run.stop().await;
    let row = &store.outbox_rows(Some("mail")).await.unwrap()[0];
    assert_eq!(row.state, OutboxState::Pending, "kept to be retried");
    assert!(
        row.last_error.as_deref().unwrap().contains("timed out")
            || row
                .last_error
                .as_deref()
                .unwrap()
                .contains("no answer within"),
        "{:?}",
        row.last_error
    );
    assert!(!held.lock().unwrap().is_empty(), "it did connect");
}

// ---------------------------------------------------------------------------------------------
// Webhooks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_per_standard_webhooks_and_verified_independently() {
    let hook = Receiver::start(0).await;
    let (_secret_dir, secret) = whsec_file();
    let s = settings(&format!(
        "channels:\n  hook:\n    webhook: {{url: '{}', secret: '{secret}'}}\n\
         routes:\n  - {{severity: warning, match: {{site: north}}, channels: [hook]}}\n",
        hook.url
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    run.send(alert("k-signed", AlertStatus::Firing, 5_000))
        .await;
    run.send(alert("k-signed", AlertStatus::Resolved, 5_000))
        .await;
    // Routed nowhere (another site, no default): not sent.
    let mut south = alert("k-south", AlertStatus::Firing, 5_000);
    south.labels.insert("site".into(), "south".into());
    run.send(south).await;
    eventually("two deliveries", Duration::from_secs(10), || async {
        hook.got().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    run.stop().await;
    let got = hook.got();
    assert_eq!(got.len(), 2, "{got:#?}");
    let kinds: Vec<String> = got
        .iter()
        .map(|r| verify_with_python(WHSEC, r).expect("standardwebhooks verifies it"))
        .collect();
    assert_eq!(kinds, ["alert.firing", "alert.resolved"]);
    let body: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(body["data"]["key"], "k-signed");
    assert_eq!(body["data"]["status"], "resolved");
    assert_eq!(body["data"]["labels"]["site"], "north");
    assert!(body["data"]["ends_at"].as_str().unwrap().ends_with('Z'));
    assert_ne!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
    // A tampered body or another secret is refused by the same verifier.
    let mut tampered = got[0].clone();
    tampered.body = tampered.body.replace("north", "south");
    assert!(verify_with_python(WHSEC, &tampered).is_err());
    assert!(verify_with_python("whsec_QW5vdGhlclNlY3JldEFub3RoZXJTZWNyZXQ=", &got[0]).is_err());
}

/// A receiver that answers 500 five times: the notification is retried with backoff and
/// delivered exactly once, every try with the same webhook-id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_gets_it_exactly_once_after_the_retries() {
    let hook = Receiver::start(5).await;
    let (_secret_dir, secret) = whsec_file();
    let s = settings(&format!(
        "channels:\n  hook:\n    webhook: {{url: '{}', secret: '{secret}'}}\n\
         default: [hook]\nretry: {{initial: 50ms, max: 400ms}}\n",
        hook.url
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    run.send(alert("k-500", AlertStatus::Firing, 7_000)).await;
    eventually("the sixth try", Duration::from_secs(15), || async {
        hook.got().iter().any(|r| r.answered == 200)
    })
    .await;
    // Once the row is marked delivered nothing can send it again; a fixed wait instead could
    // end before the mark on a loaded machine.
    eventually(
        "the row marked delivered",
        Duration::from_secs(30),
        || async {
            let rows = store.outbox_rows(None).await.unwrap();
            rows.iter().all(|r| r.state == OutboxState::Delivered)
        },
    )
    .await;
    run.stop().await;
    let got = hook.got();
    let answers: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(answers, [500, 500, 500, 500, 500, 200]);
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "every try carries the same webhook-id");
    for r in &got {
        verify_with_python(WHSEC, r).unwrap();
    }
    let rows = store.outbox_rows(None).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, OutboxState::Delivered);
    assert_eq!(rows[0].attempts, 6);
}

/// Rows still pending when delivery stops are delivered by the next run (a controller
/// restart), from the store alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_rows_are_delivered_after_a_restart() {
    // A port with nobody listening yet.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (_secret_dir, secret) = whsec_file();
    let s = settings(&format!(
        "channels:\n  hook:\n    webhook: {{url: 'http://{addr}/hook', \
         secret: '{secret}', timeout: 2s}}\n\
         default: [hook]\nretry: {{initial: 100ms, max: 200ms}}\n"
    ));
    let (_dir, location, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    run.send(alert("k-restart", AlertStatus::Firing, 9_000))
        .await;
    run.send(alert("k-restart", AlertStatus::Resolved, 9_000))
        .await;
    eventually("a failed try", Duration::from_secs(10), || async {
        let rows = store.outbox_rows(None).await.unwrap();
        rows.len() == 2 && rows[0].attempts >= 1
    })
    .await;
    run.stop().await;
    store.close().await;
    let rows_before = {
        let store = Store::open(&location).await.unwrap();
        let rows = store.outbox_rows(None).await.unwrap();
        store.close().await;
        rows
    };
    assert!(rows_before.iter().all(|r| r.state == OutboxState::Pending));
    assert_eq!(
        rows_before[1].attempts, 0,
        "the resolved one waits behind its firing"
    );

    // The receiver comes up; a new process opens the store and delivers what was pending.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let hook = Receiver::start_on(listener, 0);
    let store = Store::open(&location).await.unwrap();
    let run = Running::start(&s, &store);
    eventually(
        "both after the restart",
        Duration::from_secs(10),
        || async { hook.got().len() >= 2 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    run.stop().await;
    let kinds: Vec<String> = hook
        .got()
        .iter()
        .map(|r| verify_with_python(WHSEC, r).unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["alert.firing", "alert.resolved"],
        "in order, once each"
    );
    let rows = store.outbox_rows(None).await.unwrap();
    assert!(rows.iter().all(|r| r.state == OutboxState::Delivered));
}

// ---------------------------------------------------------------------------------------------
// Alertmanager

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_shows_the_alert_firing_then_resolved() {
    let am = Alertmanager::start();
    am.ready().await;
    let s = settings(&format!(
        "channels:\n  am:\n    alertmanager: {{url: '{}/', generator_url: 'http://gamops.example.net/', \
         resend: 1s}}\ndefault: [am]\nretry: {{initial: 100ms, max: 500ms}}\n",
        am.url
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    let started = Timestamp::now().as_millis() - 5_000;
    run.send(alert(
        "endpoint-offline/gam-0001/00:11:22:33:44:55",
        AlertStatus::Firing,
        started,
    ))
    .await;
    eventually(
        "the alert in Alertmanager",
        Duration::from_secs(15),
        || async { !am.alerts().await.is_empty() },
    )
    .await;
    let alerts = am.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["status"]["state"], "active", "{a:#?}");
    assert_eq!(a["labels"]["alertname"], "endpoint_offline");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["labels"]["device"], "gam-0001");
    assert_eq!(a["labels"]["site"], "north");
    assert_eq!(
        a["labels"]["alert_key"],
        "endpoint-offline/gam-0001/00:11:22:33:44:55"
    );
    assert_eq!(
        a["annotations"]["summary"],
        "alice's endpoint on gam-0001 is offline"
    );
    assert_eq!(a["generatorURL"], "http://gamops.example.net/");
    let first_ends = a["endsAt"].as_str().unwrap().to_string();

    // Sent again while it fires, so Alertmanager does not resolve it by itself.
    eventually("a resend", Duration::from_secs(10), || {
        let first_ends = first_ends.clone();
        let am = &am;
        async move {
            let alerts = am.alerts().await;
            alerts.len() == 1 && alerts[0]["endsAt"].as_str().unwrap() > first_ends.as_str()
        }
    })
    .await;

    run.send(alert(
        "endpoint-offline/gam-0001/00:11:22:33:44:55",
        AlertStatus::Resolved,
        started,
    ))
    .await;
    // Resolved: Alertmanager lists only alerts not yet ended.
    eventually("the alert resolved", Duration::from_secs(15), || async {
        am.alerts().await.is_empty()
    })
    .await;
    // And the resend loop does not bring it back.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(am.alerts().await.is_empty(), "resent after it resolved");
    run.stop().await;
    let rows = store.outbox_rows(None).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.state == OutboxState::Delivered));
}

// ---------------------------------------------------------------------------------------------
// The outbox, on both backends

fn row(id: &str, channel: &str, key: &str, status: &str) -> NewOutboxRow {
    NewOutboxRow {
        id: id.into(),
        channel: channel.into(),
        key: key.into(),
        status: status.into(),
        payload: "{}".into(),
    }
}

async fn outbox_rules(store: &Store) {
    let t = |ms| Timestamp::from_millis(ms);
    // Added once, whatever the repeats.
    assert_eq!(
        store
            .outbox_add(
                &[
                    row("a1", "mail", "A", "firing"),
                    row("a1h", "hook", "A", "firing")
                ],
                t(1_000)
            )
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .outbox_add(&[row("a1", "mail", "A", "firing")], t(1_001))
            .await
            .unwrap(),
        0
    );
    store
        .outbox_add(
            &[
                row("a2", "mail", "A", "resolved"),
                row("b1", "mail", "B", "firing"),
            ],
            t(1_002),
        )
        .await
        .unwrap();
    // Due in order; the resolved row of A waits behind its firing.
    let due = store.outbox_due("mail", t(5_000), 10).await.unwrap();
    let ids: Vec<&str> = due.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a1", "b1"]);
    assert_eq!(store.outbox_next_due("mail").await.unwrap(), Some(t(1_000)));
    // One claim wins.
    assert!(store.outbox_claim("a1", t(5_000), t(65_000)).await.unwrap());
    assert!(!store.outbox_claim("a1", t(5_001), t(65_001)).await.unwrap());
    // A claimed row is not due until its claim runs out.
    let due = store.outbox_due("mail", t(6_000), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["b1"]
    );
    // A claim that ran out and was taken by another sender: the first sender's late answer
    // changes nothing (its claim's end is its token), the second's does.
    assert!(store.outbox_claim("b1", t(6_000), t(6_500)).await.unwrap());
    assert!(store.outbox_claim("b1", t(6_600), t(66_600)).await.unwrap());
    assert!(
        !store
            .outbox_retry_at("b1", t(6_700), Some("late"), Some(t(6_500)))
            .await
            .unwrap()
    );
    assert!(
        !store
            .outbox_delivered("b1", t(6_700), Some(t(6_500)))
            .await
            .unwrap()
    );
    assert!(
        store
            .outbox_retry_at("b1", t(1_002), None, Some(t(66_600)))
            .await
            .unwrap()
    );
    // A failed try: due again at its next time.
    store
        .outbox_retry_at("a1", t(7_000), Some("HTTP 500"), None)
        .await
        .unwrap();
    assert!(
        store
            .outbox_due("mail", t(6_999), 10)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != "a1")
    );
    let a1 = store.outbox_due("mail", t(7_000), 10).await.unwrap();
    assert_eq!(a1[0].id, "a1");
    assert_eq!(a1[0].attempts, 1);
    assert_eq!(a1[0].last_error.as_deref(), Some("HTTP 500"));
    // Delivered: never handed out again, and its resolved row is now due.
    assert!(store.outbox_claim("a1", t(7_000), t(67_000)).await.unwrap());
    assert!(store.outbox_delivered("a1", t(7_100), None).await.unwrap());
    assert!(!store.outbox_delivered("a1", t(7_200), None).await.unwrap());
    assert!(
        !store
            .outbox_claim("a1", t(90_000), t(99_000))
            .await
            .unwrap()
    );
    let due = store.outbox_due("mail", t(8_000), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["a2", "b1"]
    );
    // Alerts still firing: B is not delivered yet, A's latest row is its resolved one.
    assert!(
        store
            .outbox_latest_delivered("mail", "firing")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.outbox_claim("b1", t(8_000), t(9_000)).await.unwrap());
    store.outbox_delivered("b1", t(8_100), None).await.unwrap();
    let firing = store
        .outbox_latest_delivered("mail", "firing")
        .await
        .unwrap();
    assert_eq!(
        firing.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["b1"]
    );
    // Given up.
    assert!(
        store
            .outbox_failed("a2", t(9_000), "channel gone", None)
            .await
            .unwrap()
    );
    assert_eq!(store.outbox_pending_channels().await.unwrap(), ["hook"]);
    // Pruning keeps B's firing row (still firing) and pending rows.
    assert_eq!(store.outbox_prune(t(100_000)).await.unwrap(), 2);
    let left: Vec<String> = store
        .outbox_rows(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| format!("{}:{}", r.id, r.channel))
        .collect();
    assert_eq!(left, ["a1h:hook", "b1:mail"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_keeps_its_rules_on_sqlite() {
    let (_dir, _, store) = sqlite_store().await;
    outbox_rules(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_keeps_its_rules_on_postgres() {
    let db = TestDb::postgres().await;
    outbox_rules(&db.store).await;
    db.store.close().await;
}

/// Racing claimers on PostgreSQL: each row is taken by exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_have_one_winner_on_postgres() {
    let db = TestDb::postgres().await;
    let rows: Vec<NewOutboxRow> = (0..20)
        .map(|i| row(&format!("r{i}"), "hook", &format!("K{i}"), "firing"))
        .collect();
    db.store
        .outbox_add(&rows, Timestamp::from_millis(1))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0;
            for i in 0..20 {
                if store
                    .outbox_claim(
                        &format!("r{i}"),
                        Timestamp::from_millis(10),
                        Timestamp::from_millis(99),
                    )
                    .await
                    .unwrap()
                {
                    won += 1;
                }
            }
            won
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 20);
    db.store.close().await;
}

// ---------------------------------------------------------------------------------------------
// Slack, and the section's validation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_text_and_blocks() {
    let chat = Receiver::start(0).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("slack-url"), format!("{}\n", chat.url)).unwrap();
    let s = settings(&format!(
        "channels:\n  chat:\n    slack: {{url: 'file:{}'}}\ndefault: [chat]\n",
        dir.path().join("slack-url").display()
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    let mut n = alert("k-slack", AlertStatus::Firing, 1_000);
    n.summary = "a <b> & c".into();
    run.send(n).await;
    eventually("the message", Duration::from_secs(10), || async {
        chat.got().len() == 1
    })
    .await;
    run.stop().await;
    let body: Value = serde_json::from_str(&chat.got()[0].body).unwrap();
    assert_eq!(
        body["text"],
        ":rotating_light: [FIRING] critical: a &lt;b&gt; &amp; c"
    );
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "[FIRING] a <b> & c");
    assert_eq!(blocks[1]["type"], "section");
    let facts = blocks[2]["elements"][0]["text"].as_str().unwrap();
    assert!(facts.contains("*Device:* gam-0001"), "{facts}");
    assert!(facts.contains("site=north"), "{facts}");
}

#[test]
fn validate_reports_literal_secrets_unknown_channels_and_bad_urls() {
    let (_tmp, inv) = temp_inventory();
    let fleet = inv.join("gamops.yaml");
    let mut text = std::fs::read_to_string(&fleet).unwrap();
    text.push_str(
        "notifications:\n  channels:\n    mail:\n      email:\n        host: smtp.example.net\n        \
         username: alerts\n        password: hunter2\n        from: alerts@example.net\n        \
         to: [noc@example.net]\n    am:\n      alertmanager: {url: 'alertmanager:9093'}\n  \
         routes:\n    - {severity: critical, channels: [pager]}\n  default: [mail]\n",
    );
    std::fs::write(&fleet, text).unwrap();
    let out = gamops()
        .args(["validate", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = stdout(&out);
    assert!(
        report.contains("`password` is written as a literal secret"),
        "{report}"
    );
    assert!(!report.contains("hunter2"), "the secret leaked: {report}");
    assert!(
        report.contains("notifications names the channel pager, which is not defined"),
        "{report}"
    );
    assert!(report.contains("the channels are: am, mail"), "{report}");
    assert!(
        report.contains("\"alertmanager:9093\" is not an HTTP(S) URL"),
        "{report}"
    );
    // And an unknown field is refused.
    let text = std::fs::read_to_string(&fleet).unwrap().replace(
        "host: smtp.example.net",
        "host: smtp.example.net\n        hots: x",
    );
    std::fs::write(&fleet, text).unwrap();
    let out = gamops()
        .args(["validate", "--inventory"])
        .arg(&inv)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("hots"), "{}", stdout(&out));
}

/// A writer for log lines that keeps them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Set in the process that runs [`each_failed_try_is_logged_with_channel_key_attempt_and_next_try`]
/// on its own.
const LOG_TEST_CHILD: &str = "GAMOPS_TEST_LOG_CHILD";

/// Each failed try is one log line naming the channel, the alert's key, the attempt, the
/// error and when the next try is.
///
/// tracing remembers, per call site and for the whole process, whether any subscriber wants its
/// events. The other tests of this binary reach the same call sites on other threads while this
/// one installs its subscriber, and one can be left marked "nobody listens", its lines lost (CI
/// saw it). So the test runs in a process of its own: this binary again, with only this test.
#[test]
fn each_failed_try_is_logged_with_channel_key_attempt_and_next_try() {
    if std::env::var_os(LOG_TEST_CHILD).is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(each_failed_try_is_logged_alone());
        return;
    }
    let name = "notifications::each_failed_try_is_logged_with_channel_key_attempt_and_next_try";
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads", "1"])
        .env(LOG_TEST_CHILD, "1")
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the test did not run alone: {text}"
    );
}

/// The body of [`each_failed_try_is_logged_with_channel_key_attempt_and_next_try`], on one
/// thread, so the test's log subscriber sees every task.
async fn each_failed_try_is_logged_alone() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let hook = Receiver::start(2).await;
    let (_secret_dir, secret) = whsec_file();
    let s = settings(&format!(
        "channels:\n  hook:\n    webhook: {{url: '{}', secret: '{secret}'}}\n\
         default: [hook]\nretry: {{initial: 50ms, max: 200ms}}\n",
        hook.url
    ));
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&s, &store);
    run.send(alert("k-logged", AlertStatus::Firing, 1_000))
        .await;
    // The "delivered" line comes after the outbox row is marked, which on a loaded machine can
    // be well after the receiver answered: wait for the line itself, not a fixed time.
    let delivered = "notification k-logged (firing) delivered to hook";
    eventually("the delivered log line", Duration::from_secs(30), || {
        let captured = captured.clone();
        async move { captured.text().contains(delivered) }
    })
    .await;
    run.stop().await;
    let logs = captured.text();
    // Only the delivery's own warnings: a loaded machine may add others (sqlx warns of a
    // statement slower than a second), which are not what this test is about.
    let failures: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("not delivered"))
        .collect();
    assert_eq!(failures.len(), 2, "{logs}");
    for (i, line) in failures.iter().enumerate() {
        let attempt = i + 1;
        assert!(
            line.contains(&format!(
                "notification k-logged (firing) not delivered to hook (webhook), attempt {attempt}: answered HTTP 500"
            )),
            "{line}"
        );
        assert!(line.contains("next try in "), "{line}");
        assert!(line.contains("channel=hook"), "{line}");
        assert!(line.contains("key=k-logged"), "{line}");
        assert!(line.contains(&format!("attempt={attempt}")), "{line}");
        assert!(line.contains("next_try="), "{line}");
    }
    assert_eq!(hook.got().len(), 3, "two failures and one delivery: {logs}");
}

/// An alert resolves where it fired: routes changed between the two (here the default channel
/// moved from one webhook to another) send the resolving to both, so the first never keeps
/// an alert open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolving_reaches_the_channels_its_firing_went_to() {
    let (first, second) = (Receiver::start(0).await, Receiver::start(0).await);
    let (_secret_dir, secret) = whsec_file();
    let with_default = |default: &str| {
        settings(&format!(
            "channels:\n  first:\n    webhook: {{url: '{}', secret: '{secret}'}}\n  \
             second:\n    webhook: {{url: '{}', secret: '{secret}'}}\n\
             default: [{default}]\nretry: {{initial: 50ms, max: 400ms}}\n",
            first.url, second.url
        ))
    };
    let (_dir, _, store) = sqlite_store().await;
    let run = Running::start(&with_default("first"), &store);
    run.send(alert("k-moved", AlertStatus::Firing, 7_000)).await;
    eventually("the firing", Duration::from_secs(10), || async {
        first.got().len() == 1
    })
    .await;
    run.stop().await;
    // The routes change (a new commit), then the alert resolves.
    let run = Running::start(&with_default("second"), &store);
    run.send(alert("k-moved", AlertStatus::Resolved, 7_000))
        .await;
    eventually("the resolving on both", Duration::from_secs(10), || async {
        first.got().len() == 2 && second.got().len() == 1
    })
    .await;
    run.stop().await;
    let kind = |r: &Received| {
        serde_json::from_str::<Value>(&r.body).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(kind(&first.got()[1]), "alert.resolved");
    assert_eq!(kind(&second.got()[0]), "alert.resolved");
}

/// A channel that cannot be made (its secret does not resolve) holds up no other: the webhook
/// gets the alert, and the mail's row waits in the outbox, pending, for a delivery that can
/// make the channel (it is not given up: the channel is still configured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_cannot_be_made_holds_up_no_other() {
    let hook = Receiver::start(0).await;
    let (_secret_dir, secret) = whsec_file();
    let s = settings(&format!(
        "channels:\n  hook:\n    webhook: {{url: '{}', secret: '{secret}'}}\n  \
         mail:\n    email:\n      host: 127.0.0.1\n      port: 2525\n      security: none\n      \
         username: alerts\n      password: env:GAMOPS_TEST_NEVER_SET_SMTP_PASSWORD\n      \
         from: gamops@example.net\n      to: [noc@example.net]\n\
         default: [hook, mail]\nretry: {{initial: 50ms, max: 400ms}}\n",
        hook.url
    ));
    let (notifier, broken) = Notifier::each(&s);
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(
        broken[0]
            .to_string()
            .contains("GAMOPS_TEST_NEVER_SET_SMTP_PASSWORD"),
        "{}",
        broken[0]
    );
    let (_dir, _, store) = sqlite_store().await;
    let (tx, rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(deliver(notifier, store.clone(), rx, cancel.clone()));
    tx.send(alert("k-broken", AlertStatus::Firing, 7_000))
        .await
        .unwrap();
    eventually("the webhook", Duration::from_secs(10), || async {
        hook.got().len() == 1
    })
    .await;
    drop(tx);
    cancel.cancel();
    task.await.unwrap();
    let rows = store.outbox_rows(None).await.unwrap();
    let state = |channel: &str| {
        rows.iter()
            .find(|r| r.channel == channel)
            .map(|r| r.state)
            .unwrap()
    };
    assert_eq!(state("hook"), OutboxState::Delivered);
    assert_eq!(state("mail"), OutboxState::Pending);
    // A later delivery (the same settings: a restart) does not give the mail's row up.
    let (notifier, _) = Notifier::each(&s);
    let (tx, rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(deliver(notifier, store.clone(), rx, cancel.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(tx);
    cancel.cancel();
    task.await.unwrap();
    let rows = store.outbox_rows(Some("mail")).await.unwrap();
    assert_eq!(rows[0].state, OutboxState::Pending);
}
