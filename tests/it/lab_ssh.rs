//! The lab's SSH server over real TCP: a russh client, OpenSSH's `ssh`, session limits, idle
//! timeout and login faults. A tiny test shell stands in for the ICLI interpreter.
//!
//! The OpenSSH tests need `ssh` and `ssh-keygen` (Debian: `apt-get install openssh-client`).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gamops::lab::ssh::{HostKey, SshServerConfig, SshServerHandle, SshUser, serve};
use gamops::lab::terminal::{IDLE_MESSAGE, PAGER_PROMPT, Refusal, Reply, Shell, ShellFactory};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, client};

/// Generous: the CI machine has 2 loaded cores.
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// A tiny shell and server fixtures.

/// Prompt `t#`; echoes commands as `ran: <line>`; `long` prints 100 lines; `terminal length N`
/// sets the page; `bad` fails; `exit` closes.
struct TestShell {
    page: usize,
}

impl Shell for TestShell {
    fn prompt(&self) -> String {
        "t#".into()
    }

    fn execute(&mut self, line: &str) -> Reply {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("terminal length ") {
            return match n.parse() {
                Ok(n) => {
                    self.page = n;
                    Reply::output("").paged(Some(n))
                }
                Err(_) => Reply::error("% Invalid word detected"),
            };
        }
        let reply = match line {
            "long" => Reply::output((1..=100).map(|i| format!("line {i}\n")).collect::<String>()),
            "bad" => Reply::error("% Invalid word detected"),
            "exit" => Reply::output("").closing(),
            other => Reply::output(format!("ran: {other}\n")),
        };
        reply.paged(Some(self.page))
    }
}

struct TestFactory {
    refuse: Option<&'static str>,
}

impl ShellFactory for TestFactory {
    fn open(&self, _user: &str) -> Result<Box<dyn Shell>, Refusal> {
        match self.refuse {
            Some(msg) => Err(Refusal::new(msg)),
            None => Ok(Box::new(TestShell { page: 24 })),
        }
    }
}

const SEED: [u8; 32] = [42; 32];

fn base_config() -> SshServerConfig {
    let mut cfg = SshServerConfig::gam_default(HostKey::from_seed(SEED).unwrap());
    cfg.users.push(SshUser::with_password("ops", "s3cret"));
    cfg
}

async fn start(cfg: SshServerConfig) -> SshServerHandle {
    start_with(cfg, TestFactory { refuse: None }).await
}

async fn start_with(cfg: SshServerConfig, factory: TestFactory) -> SshServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve(listener, cfg, Arc::new(factory)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// russh client helpers.

struct Client {
    pinned: Option<PublicKey>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(match (&self.pinned, key) {
            (None, _) => true,
            (Some(pinned), PublicKeyOrCertificate::PublicKey { key, .. }) => {
                pinned.key_data() == key.key_data()
            }
            (Some(_), _) => false,
        })
    }
}

async fn connect(server: &SshServerHandle) -> client::Handle<Client> {
    let pinned = PublicKey::from_openssh(server.host_key().public_key_openssh()).unwrap();
    let config = Arc::new(client::Config::default());
    tokio::time::timeout(
        WAIT,
        client::connect(
            config,
            server.local_addr(),
            Client {
                pinned: Some(pinned),
            },
        ),
    )
    .await
    .expect("connect timed out")
    .expect("connect failed")
}

async fn login(server: &SshServerHandle, user: &str, password: &str) -> client::Handle<Client> {
    let mut session = connect(server).await;
    let auth = tokio::time::timeout(WAIT, session.authenticate_password(user, password))
        .await
        .expect("auth timed out")
        .unwrap();
    assert!(auth.success(), "password login of {user} failed");
    session
}

/// A session channel and the output read from it so far.
struct Term {
    channel: russh::Channel<client::Msg>,
    got: Vec<u8>,
    exit: Option<u32>,
    closed: bool,
}

impl Term {
    async fn shell(session: &client::Handle<Client>, pty: bool) -> Term {
        let channel = session.channel_open_session().await.unwrap();
        if pty {
            channel
                .request_pty(true, "xterm", 80, 24, 0, 0, &[])
                .await
                .unwrap();
        }
        channel.request_shell(true).await.unwrap();
        Term::new(channel)
    }

    async fn exec(session: &client::Handle<Client>, command: &str) -> Term {
        let channel = session.channel_open_session().await.unwrap();
        channel.exec(true, command).await.unwrap();
        Term::new(channel)
    }

    fn new(channel: russh::Channel<client::Msg>) -> Term {
        Term {
            channel,
            got: Vec::new(),
            exit: None,
            closed: false,
        }
    }

    async fn send(&self, bytes: &[u8]) {
        self.channel.data(bytes).await.unwrap();
    }

    /// Read one message; false when the channel is closed.
    async fn read_more(&mut self, deadline: tokio::time::Instant, what: &str) -> bool {
        let msg = tokio::time::timeout_at(deadline, self.channel.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out waiting for {what}; got {:?}",
                    String::from_utf8_lossy(&self.got)
                )
            });
        match msg {
            Some(ChannelMsg::Data { data }) => self.got.extend_from_slice(&data),
            Some(ChannelMsg::ExitStatus { exit_status }) => self.exit = Some(exit_status),
            Some(ChannelMsg::Close) | None => {
                self.closed = true;
                return false;
            }
            Some(_) => {}
        }
        true
    }

    /// The output up to and including `pattern`, consumed.
    async fn until(&mut self, pattern: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(pos) = find(&self.got, pattern.as_bytes()) {
                let end = pos + pattern.len();
                let text = String::from_utf8_lossy(&self.got[..end]).into_owned();
                self.got.drain(..end);
                return text;
            }
            if !self.read_more(deadline, pattern).await {
                panic!(
                    "channel closed waiting for {pattern:?}; got {:?}",
                    String::from_utf8_lossy(&self.got)
                );
            }
        }
    }

    /// Everything until the channel closes, and the exit status.
    async fn rest(&mut self) -> (String, Option<u32>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.read_more(deadline, "the channel to close").await {}
        let text = String::from_utf8_lossy(&self.got).into_owned();
        self.got.clear();
        (text, self.exit)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn numbered(from: usize, to: usize) -> String {
    (from..=to).map(|i| format!("line {i}\r\n")).collect()
}

fn erase() -> String {
    format!("\r{}\r", " ".repeat(PAGER_PROMPT.len()))
}

// ---------------------------------------------------------------------------------------------
// russh client tests.

#[tokio::test]
async fn russh_password_login_shell_with_pty_and_pager() {
    let server = start(base_config()).await;
    let session = login(&server, "ops", "s3cret").await;
    let mut t = Term::shell(&session, true).await;
    assert_eq!(t.until("t#").await, "t#");

    t.send(b"show x\r").await;
    assert_eq!(t.until("t#").await, "show x\r\nran: show x\r\nt#");

    // A page is 24 lines, then the pager line.
    t.send(b"long\r").await;
    assert_eq!(
        t.until(PAGER_PROMPT).await,
        format!("long\r\n{}{PAGER_PROMPT}", numbered(1, 24))
    );
    t.send(b" ").await;
    assert_eq!(
        t.until(PAGER_PROMPT).await,
        format!("{}{}{PAGER_PROMPT}", erase(), numbered(25, 48))
    );
    t.send(b"g").await;
    assert_eq!(
        t.until("t#").await,
        format!("{}{}t#", erase(), numbered(49, 100))
    );

    // q stops the output.
    t.send(b"long\r").await;
    t.until(PAGER_PROMPT).await;
    t.send(b"q").await;
    assert_eq!(t.until("t#").await, format!("{}t#", erase()));

    // terminal length 0 turns the pager off.
    t.send(b"terminal length 0\r").await;
    t.until("t#").await;
    t.send(b"long\r").await;
    let out = t.until("line 100\r\nt#").await;
    assert!(!out.contains(PAGER_PROMPT));

    t.send(b"exit\r").await;
    let (_, status) = t.rest().await;
    assert_eq!(status, Some(0));
    server.shutdown().await;
}

#[tokio::test]
async fn russh_shell_without_pty_does_not_echo() {
    let server = start(base_config()).await;
    let session = login(&server, "ops", "s3cret").await;
    let mut t = Term::shell(&session, false).await;
    t.send(b"show x\nexit\n").await;
    let (out, status) = t.rest().await;
    assert_eq!(out, "t#ran: show x\nt#");
    assert_eq!(status, Some(0));
}

#[tokio::test]
async fn keys_sent_before_the_shell_request_are_kept() {
    let server = start(base_config()).await;
    let session = login(&server, "admin", "").await;
    let channel = session.channel_open_session().await.unwrap();
    channel.data(&b"early\n"[..]).await.unwrap();
    channel.request_shell(false).await.unwrap();
    channel.data(&b"exit\n"[..]).await.unwrap();
    let (out, status) = Term::new(channel).rest().await;
    assert_eq!((out.as_str(), status), ("t#ran: early\nt#", Some(0)));
}

#[tokio::test]
async fn russh_exec_runs_one_command_with_its_status() {
    let server = start(base_config()).await;
    let session = login(&server, "admin", "").await;
    let (out, status) = Term::exec(&session, "show version").await.rest().await;
    assert_eq!((out.as_str(), status), ("ran: show version\n", Some(0)));
    let (out, status) = Term::exec(&session, "bad").await.rest().await;
    assert_eq!(
        (out.as_str(), status),
        ("% Invalid word detected\n", Some(1))
    );
    // Exec output is never paged.
    let (out, _) = Term::exec(&session, "long").await.rest().await;
    assert!(out.ends_with("line 100\n") && !out.contains(PAGER_PROMPT));
}

#[tokio::test]
async fn russh_empty_password_admin_and_wrong_passwords() {
    let server = start(base_config()).await;
    let _ok = login(&server, "admin", "").await;
    let mut session = connect(&server).await;
    assert!(
        !session
            .authenticate_password("admin", "x")
            .await
            .unwrap()
            .success()
    );
    assert!(
        !session
            .authenticate_password("ops", "")
            .await
            .unwrap()
            .success()
    );
    assert!(
        !session
            .authenticate_password("nobody", "")
            .await
            .unwrap()
            .success()
    );
    assert!(
        session
            .authenticate_password("ops", "s3cret")
            .await
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn russh_publickey_login() {
    let user_key = PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
        &[9; 32],
    ));
    let other_key = PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
        &[10; 32],
    ));
    let mut cfg = base_config();
    cfg.users
        .push(SshUser::with_key("keyed", user_key.public_key().clone()));
    let server = start(cfg).await;
    let mut session = connect(&server).await;
    let wrong = PrivateKeyWithHashAlg::new(Arc::new(other_key), None);
    assert!(
        !session
            .authenticate_publickey("keyed", wrong)
            .await
            .unwrap()
            .success()
    );
    let right = PrivateKeyWithHashAlg::new(Arc::new(user_key), None);
    assert!(
        session
            .authenticate_publickey("keyed", right)
            .await
            .unwrap()
            .success()
    );
    let (out, status) = Term::exec(&session, "hello").await.rest().await;
    assert_eq!((out.as_str(), status), ("ran: hello\n", Some(0)));
}

#[tokio::test]
async fn russh_client_rejects_a_different_host_key() {
    let server = start(base_config()).await;
    let other = HostKey::from_seed([1; 32]).unwrap();
    let pinned = PublicKey::from_openssh(other.public_key_openssh()).unwrap();
    let config = Arc::new(client::Config::default());
    let result = tokio::time::timeout(
        WAIT,
        client::connect(
            config,
            server.local_addr(),
            Client {
                pinned: Some(pinned),
            },
        ),
    )
    .await
    .unwrap();
    assert!(
        result.is_err(),
        "a mismatched host key must fail the connection"
    );
}

#[tokio::test]
async fn session_limit_refuses_the_next_session() {
    let mut cfg = base_config();
    cfg.max_sessions = 2;
    let server = start(cfg).await;
    let s1 = login(&server, "admin", "").await;
    let s2 = login(&server, "admin", "").await;
    let mut t1 = Term::shell(&s1, true).await;
    t1.until("t#").await;
    let mut t2 = Term::shell(&s2, true).await;
    t2.until("t#").await;
    assert_eq!(server.active_sessions(), 2);

    let s3 = login(&server, "admin", "").await;
    let (out, status) = Term::shell(&s3, true).await.rest().await;
    assert!(out.contains("No more sessions allowed"), "{out:?}");
    assert!(out.contains('2'), "{out:?}");
    assert_eq!(status, Some(1));

    // Closing a session frees its slot.
    t1.send(b"exit\r").await;
    t1.rest().await;
    let deadline = Instant::now() + WAIT;
    while server.active_sessions() != 1 {
        assert!(Instant::now() < deadline, "slot not released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut t3 = Term::shell(&s3, true).await;
    t3.until("t#").await;
}

#[tokio::test]
async fn session_limit_fault_lowers_the_limit_at_run_time() {
    let cfg = base_config();
    let faults = cfg.faults.clone();
    let server = start(cfg).await;
    faults.set_session_limit(Some(0));
    let s = login(&server, "admin", "").await;
    let (out, status) = Term::exec(&s, "x").await.rest().await;
    assert!(out.contains("No more sessions allowed"), "{out:?}");
    assert_eq!(status, Some(1));
    faults.set_session_limit(None);
    let (out, _) = Term::exec(&s, "x").await.rest().await;
    assert_eq!(out, "ran: x\n");
}

#[tokio::test]
async fn idle_timeout_closes_the_session() {
    let mut cfg = base_config();
    cfg.idle_timeout = Some(Duration::from_millis(800));
    let server = start(cfg).await;
    let session = login(&server, "admin", "").await;
    let mut t = Term::shell(&session, true).await;
    t.until("t#").await;
    let started = Instant::now();
    let (out, _) = t.rest().await;
    assert!(out.contains(IDLE_MESSAGE), "{out:?}");
    assert!(started.elapsed() >= Duration::from_millis(700));
}

#[tokio::test]
async fn a_refusing_factory_shows_its_message() {
    let server = start_with(
        base_config(),
        TestFactory {
            refuse: Some("% Device is reloading"),
        },
    )
    .await;
    let session = login(&server, "admin", "").await;
    let (out, status) = Term::shell(&session, false).await.rest().await;
    assert_eq!((out.as_str(), status), ("% Device is reloading\n", Some(1)));
}

#[tokio::test]
async fn fault_refused_logins() {
    let cfg = base_config();
    let faults = cfg.faults.clone();
    let server = start(cfg).await;
    faults.set_refuse_logins(true);
    let mut session = connect(&server).await;
    assert!(
        !session
            .authenticate_password("admin", "")
            .await
            .unwrap()
            .success()
    );
    faults.set_refuse_logins(false);
    assert!(
        session
            .authenticate_password("admin", "")
            .await
            .unwrap()
            .success()
    );
}

#[tokio::test]
async fn fault_slow_logins() {
    let cfg = base_config();
    let faults = cfg.faults.clone();
    let server = start(cfg).await;
    faults.set_login_delay(Duration::from_millis(1500));
    let mut session = connect(&server).await;
    let started = Instant::now();
    assert!(
        session
            .authenticate_password("admin", "")
            .await
            .unwrap()
            .success()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    // Cleared, even a delay of two minutes no longer applies: the login ends well within the
    // 30 s this waits (a guard against a hang, not a measure of speed).
    faults.set_login_delay(Duration::from_secs(120));
    faults.clear();
    let mut session = connect(&server).await;
    let login = tokio::time::timeout(
        Duration::from_secs(30),
        session.authenticate_password("admin", ""),
    )
    .await
    .expect("the cleared login delay still applied");
    assert!(login.unwrap().success());
}

#[tokio::test]
async fn shutdown_disconnects_clients_and_stops_listening() {
    let server = start(base_config()).await;
    let addr = server.local_addr();
    let session = login(&server, "admin", "").await;
    let mut t = Term::shell(&session, true).await;
    t.until("t#").await;
    tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown hangs");
    t.rest().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// OpenSSH interoperability.

fn require_openssh() {
    for tool in ["ssh", "ssh-keygen"] {
        let found = std::process::Command::new(tool).arg("-V").output().is_ok();
        assert!(
            found,
            "`{tool}` not found: install OpenSSH's client (Debian: apt-get install openssh-client)"
        );
    }
}

/// `ssh` with no user config, no known_hosts and a pinned port.
fn ssh_command(server: &SshServerHandle) -> tokio::process::Command {
    require_openssh();
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-p"])
        .arg(server.local_addr().port().to_string())
        .args([
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=20",
            "-o",
            "NumberOfPasswordPrompts=1",
        ])
        .env_remove("SSH_AUTH_SOCK")
        .kill_on_drop(true);
    cmd
}

fn no_host_check(cmd: &mut tokio::process::Command) {
    cmd.args([
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
    ]);
}

/// Use only the password (`method` = `password` or `keyboard-interactive`), answered by an
/// SSH_ASKPASS script printing `password`.
fn with_askpass(cmd: &mut tokio::process::Command, dir: &Path, method: &str, password: &str) {
    let script = dir.join(format!("askpass-{method}"));
    std::fs::write(&script, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n")).unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    cmd.args([
        "-o",
        &format!("PreferredAuthentications={method}"),
        "-o",
        "PubkeyAuthentication=no",
    ])
    .env("SSH_ASKPASS", &script)
    .env("SSH_ASKPASS_REQUIRE", "force")
    .env("DISPLAY", ":0");
}

/// A fresh Ed25519 key made by `ssh-keygen`; returns the private key path.
fn keygen(dir: &Path) -> PathBuf {
    require_openssh();
    let key = dir.join("id_ed25519");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen: {out:?}");
    key
}

fn with_key(cmd: &mut tokio::process::Command, key: &Path) {
    cmd.arg("-i").arg(key).args([
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "PreferredAuthentications=publickey",
        "-o",
        "BatchMode=yes",
    ]);
}

/// Run `cmd` with `stdin` as its input, within the test timeout.
async fn run(mut cmd: tokio::process::Command, stdin: &str) -> Output {
    use tokio::io::AsyncWriteExt;
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ssh");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("ssh timed out")
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keyed_config(key: &Path) -> SshServerConfig {
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut cfg = base_config();
    cfg.users[0] = cfg.users[0].clone().and_key_openssh(&public).unwrap();
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_publickey_scripted_session_with_tty() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let server = start(keyed_config(&key)).await;
    let mut cmd = ssh_command(&server);
    no_host_check(&mut cmd);
    with_key(&mut cmd, &key);
    cmd.arg("-tt").arg("admin@127.0.0.1");
    let out = run(cmd, "show x\nlong\ngterminal length 0\nexit\n").await;
    let text = stdout(&out);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("t#show x\r\nran: show x\r\nt#"), "{text:?}");
    // The pager stopped after 24 lines; g showed the rest.
    assert!(
        text.contains(&format!("line 24\r\n{PAGER_PROMPT}")),
        "{text:?}"
    );
    assert!(text.contains("line 100\r\nt#"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_publickey_piped_session_and_exec() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let server = start(keyed_config(&key)).await;

    let mut cmd = ssh_command(&server);
    no_host_check(&mut cmd);
    with_key(&mut cmd, &key);
    cmd.arg("-T").arg("admin@127.0.0.1");
    let out = run(cmd, "terminal length 0\nshow x\nexit\n").await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "t#t#ran: show x\nt#");

    let mut cmd = ssh_command(&server);
    no_host_check(&mut cmd);
    with_key(&mut cmd, &key);
    cmd.args(["admin@127.0.0.1", "show version"]);
    let out = run(cmd, "").await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "ran: show version\n");

    let mut cmd = ssh_command(&server);
    no_host_check(&mut cmd);
    with_key(&mut cmd, &key);
    cmd.args(["admin@127.0.0.1", "bad"]);
    let out = run(cmd, "").await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "% Invalid word detected\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_password_and_keyboard_interactive_via_askpass() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(base_config()).await;
    for method in ["password", "keyboard-interactive"] {
        for (user, password) in [("ops", "s3cret"), ("admin", "")] {
            let mut cmd = ssh_command(&server);
            no_host_check(&mut cmd);
            with_askpass(&mut cmd, dir.path(), method, password);
            cmd.args([&format!("{user}@127.0.0.1"), "hello"]);
            let out = run(cmd, "").await;
            assert_eq!(
                (out.status.code(), stdout(&out).as_str()),
                (Some(0), "ran: hello\n"),
                "{method} login of {user:?}: {out:?}"
            );
        }
        let mut cmd = ssh_command(&server);
        no_host_check(&mut cmd);
        with_askpass(&mut cmd, dir.path(), method, "wrong");
        cmd.args(["ops@127.0.0.1", "hello"]);
        let out = run(cmd, "").await;
        assert_eq!(
            out.status.code(),
            Some(255),
            "{method} with a wrong password: {out:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_pins_the_exposed_host_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let server = start(keyed_config(&key)).await;
    let port = server.local_addr().port();

    // The fingerprint we expose is the one ssh-keygen computes.
    let pubfile = dir.path().join("host.pub");
    std::fs::write(
        &pubfile,
        format!("{}\n", server.host_key().public_key_openssh()),
    )
    .unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&pubfile)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains(&server.host_key().fingerprint_sha256()),
        "{out:?}"
    );

    let known = dir.path().join("known_hosts");
    std::fs::write(
        &known,
        format!(
            "{}\n",
            server.host_key().known_hosts_line("127.0.0.1", port)
        ),
    )
    .unwrap();
    let mut cmd = ssh_command(&server);
    with_key(&mut cmd, &key);
    cmd.args(["-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["admin@127.0.0.1", "pinned"]);
    let out = run(cmd, "").await;
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "ran: pinned\n"),
        "{out:?}"
    );

    // Another key under the same name must be refused.
    let other = HostKey::from_seed([3; 32]).unwrap();
    std::fs::write(
        &known,
        format!("{}\n", other.known_hosts_line("127.0.0.1", port)),
    )
    .unwrap();
    let mut cmd = ssh_command(&server);
    with_key(&mut cmd, &key);
    cmd.args(["-o", "StrictHostKeyChecking=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["admin@127.0.0.1", "pinned"]);
    let out = run(cmd, "").await;
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(stdout(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_sees_refused_logins() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let cfg = keyed_config(&key);
    let faults = cfg.faults.clone();
    let server = start(cfg).await;
    faults.set_refuse_logins(true);
    let mut cmd = ssh_command(&server);
    no_host_check(&mut cmd);
    with_key(&mut cmd, &key);
    cmd.args(["admin@127.0.0.1", "x"]);
    let out = run(cmd, "").await;
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{out:?}"
    );
}
