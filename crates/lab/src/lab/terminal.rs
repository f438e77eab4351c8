//! The terminal discipline of a simulated GAM CLI session, and the seam to the CLI interpreter.
//!
//! The SSH server (and `gamops lab shell`, which a real sshd runs as a forced command) owns the
//! bytes; a [`Shell`] owns the meaning of a command line. This module sits between them and does
//! what the device's ICLI line editor does: it prints the prompt, reads keys, edits the line
//! (backspace, ^C, ^D), echoes on a PTY, calls [`Shell::execute`] for each line, and pages long
//! output with the real pager line [`PAGER_PROMPT`].
//!
//! It is generic over [`AsyncRead`] and [`AsyncWrite`], so the same code serves an SSH channel,
//! standard input and output, and an in-memory duplex in the tests.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The pager line the GAM prints when a page of output is full (CLI guide p.125).
pub const PAGER_PROMPT: &str = "-- more --, next page: Space, continue: g, quit: ^C";

/// What the terminal prints before closing a session that stayed idle too long.
///
/// The GAM's exact wording is not documented; this is ours.
pub const IDLE_MESSAGE: &str = "% Session idle timeout expired, closing the session.";

/// The longest command line kept; further characters are dropped, so no input grows memory
/// without bound.
pub const MAX_LINE_BYTES: usize = 4096;

/// One logged-in CLI session of a device (implemented by the ICLI interpreter).
///
/// The terminal calls [`Shell::prompt`] before reading each line and [`Shell::execute`] for
/// each non-blank line. Both are synchronous: a command changes the simulated device's state
/// and renders its output in memory, with no I/O of its own.
pub trait Shell: Send {
    /// The prompt to print, e.g. `"gam1#"` or `"gam1(config)#"` (printed as is, no space added).
    fn prompt(&self) -> String;
    /// Execute one command line (without its line ending); returns what to print and whether
    /// to close the session.
    fn execute(&mut self, line: &str) -> Reply;
}

/// Opens a [`Shell`] for each login; the SSH server calls it once per shell or exec request.
pub trait ShellFactory: Send + Sync {
    /// Open a CLI session for an authenticated `user`, or refuse it with a message that the
    /// user sees before the session closes.
    fn open(&self, user: &str) -> Result<Box<dyn Shell>, Refusal>;
}

/// Why a [`ShellFactory`] refused to open a session; the message is shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The text shown on the terminal, e.g. `"% No more sessions allowed"`.
    pub message: String,
}

impl Refusal {
    /// A refusal showing `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The result of one command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The output, lines separated by `\n` (a final line ending is optional). The terminal
    /// turns each `\n` into `\r\n` on a PTY.
    pub text: String,
    /// The session's `terminal length` after this command: page the output after this many
    /// lines. `None` or `Some(0)` means no paging.
    pub page_lines: Option<usize>,
    /// Close the session after printing the text (`exit`, `logout`, `reload`).
    pub close: bool,
    /// The command failed (e.g. `% Invalid word detected`); an exec request then exits with
    /// status 1 instead of 0.
    pub is_error: bool,
}

impl Reply {
    /// A successful reply printing `text`.
    pub fn output(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// A failed command printing `text`.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
            ..Self::default()
        }
    }

    /// This reply, closing the session after it is printed.
    #[must_use]
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// This reply, with the session's terminal length set to `lines`.
    #[must_use]
    pub fn paged(mut self, lines: Option<usize>) -> Self {
        self.page_lines = lines;
        self
    }
}

/// How the terminal behaves on its byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalMode {
    /// A PTY is attached: echo typed characters and end output lines with `\r\n`. Without
    /// one (piped input, an SSH session without `pty-req`), nothing is echoed and lines end
    /// with `\n`.
    pub interactive: bool,
    /// Close the session when no input arrives for this long (the ICLI exec-timeout).
    pub idle_timeout: Option<Duration>,
}

impl TerminalMode {
    /// An interactive (PTY) terminal without an idle timeout.
    pub fn interactive() -> Self {
        Self {
            interactive: true,
            idle_timeout: None,
        }
    }

    /// A non-interactive (piped) terminal without an idle timeout.
    pub fn piped() -> Self {
        Self {
            interactive: false,
            idle_timeout: None,
        }
    }

    /// This mode with an idle timeout.
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    fn line_end(&self) -> &'static str {
        if self.interactive { "\r\n" } else { "\n" }
    }
}

/// Why a terminal session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The shell asked to close ([`Reply::close`]).
    Closed,
    /// The user typed ^D on an empty line.
    Logout,
    /// The input ended.
    Eof,
    /// No input arrived within the idle timeout.
    IdleTimeout,
}

/// A terminal session failed on its byte stream.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// Reading the input or writing the output failed.
    #[error("terminal I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// Run an interactive CLI session: prompt, read a line, execute it, print the reply, until the
/// shell closes the session, the user logs out with ^D, the input ends or the idle timeout
/// passes.
pub async fn run_session<R, W>(
    shell: &mut dyn Shell,
    input: R,
    output: W,
    mode: TerminalMode,
) -> Result<SessionEnd, TerminalError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut term = Terminal {
        input: Keys::new(input, mode.idle_timeout),
        out: Output::new(output),
        mode,
    };
    let end = term.run(shell).await;
    // Whatever ended the session, send what is buffered; a peer that is gone is not an error.
    let flushed = term.out.flush().await;
    match (end, flushed) {
        (Err(e), _) => Err(e.into()),
        (Ok(end), Err(e)) if end != SessionEnd::Eof => Err(e.into()),
        (Ok(end), _) => Ok(end),
    }
}

/// Run one command line without a prompt or pager (an SSH exec request) and print its output.
///
/// Returns the shell's reply (its text already printed), so the caller can map
/// [`Reply::is_error`] to an exit status.
pub async fn run_command<W>(
    shell: &mut dyn Shell,
    line: &str,
    output: W,
    interactive: bool,
) -> Result<Reply, TerminalError>
where
    W: AsyncWrite + Unpin,
{
    let line = line.trim_end_matches(['\r', '\n']);
    let reply = shell.execute(line);
    let mut out = Output::new(output);
    let line_end = if interactive { "\r\n" } else { "\n" };
    for text_line in lines(&reply.text) {
        out.push(text_line);
        out.push(line_end);
    }
    out.flush().await?;
    Ok(reply)
}

/// The lines of a reply's text, without their line endings.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n')
        .map(|l| l.trim_end_matches('\n').trim_end_matches('\r'))
}

/// One key press as the line editor and the pager see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// CR, LF or CRLF.
    Enter,
    /// Any other byte.
    Byte(u8),
    /// The input ended.
    Eof,
    /// The idle timeout passed.
    Idle,
}

/// Buffered key input: folds CR, LF and CRLF into one [`Key::Enter`] and applies the idle
/// timeout to each read.
struct Keys<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    after_cr: bool,
    idle: Option<Duration>,
}

impl<R: AsyncRead + Unpin> Keys<R> {
    fn new(reader: R, idle: Option<Duration>) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            pos: 0,
            after_cr: false,
            idle,
        }
    }

    async fn next_byte(&mut self) -> io::Result<Option<Key>> {
        loop {
            if let Some(&b) = self.buf.get(self.pos) {
                self.pos += 1;
                return Ok(Some(Key::Byte(b)));
            }
            let mut chunk = [0u8; 1024];
            let read = self.reader.read(&mut chunk);
            let n = match self.idle {
                Some(limit) => match tokio::time::timeout(limit, read).await {
                    Ok(n) => n?,
                    Err(_) => return Ok(Some(Key::Idle)),
                },
                None => read.await?,
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.clear();
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
            self.pos = 0;
        }
    }

    async fn next(&mut self) -> io::Result<Key> {
        loop {
            let key = match self.next_byte().await? {
                None => return Ok(Key::Eof),
                Some(key) => key,
            };
            let Key::Byte(b) = key else {
                return Ok(key);
            };
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\r' => return Ok(Key::Enter),
                b'\n' if after_cr => continue,
                b'\n' => return Ok(Key::Enter),
                // Telnet-style CR NUL is one Enter too.
                0 if after_cr => continue,
                _ => return Ok(key),
            }
        }
    }
}

/// Output gathered in memory and written at each point where the terminal waits for input.
struct Output<W> {
    writer: W,
    pending: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> Output<W> {
    fn new(writer: W) -> Self {
        Self {
            writer,
            pending: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) {
        self.pending.extend_from_slice(s.as_bytes());
    }

    fn push_bytes(&mut self, b: &[u8]) {
        self.pending.extend_from_slice(b);
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.writer.write_all(&self.pending).await?;
            self.pending.clear();
        }
        self.writer.flush().await
    }
}

/// What reading a line produced.
enum LineEvent {
    Line(String),
    Interrupt,
    Logout,
    Eof,
    Idle,
}

/// How printing a reply ended.
enum Printed {
    Done,
    Eof,
    Idle,
}

/// What a key at the pager asks for.
enum PagerAction {
    NextPage,
    OneLine,
    Continue,
    Quit,
}

/// Escape-sequence state of the line editor: arrow and function keys are swallowed whole.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Started,
    Csi,
    Ss3,
}

struct Terminal<R, W> {
    input: Keys<R>,
    out: Output<W>,
    mode: TerminalMode,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Terminal<R, W> {
    async fn run(&mut self, shell: &mut dyn Shell) -> io::Result<SessionEnd> {
        let line_end = self.mode.line_end();
        loop {
            self.out.push(&shell.prompt());
            self.out.flush().await?;
            match self.read_line().await? {
                LineEvent::Line(line) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let reply = shell.execute(&line);
                    match self.print(&reply).await? {
                        Printed::Done => {}
                        Printed::Eof => return Ok(SessionEnd::Eof),
                        Printed::Idle => return self.idle_close().await,
                    }
                    if reply.close {
                        return Ok(SessionEnd::Closed);
                    }
                }
                LineEvent::Interrupt => {}
                LineEvent::Logout => {
                    self.out.push(line_end);
                    return Ok(SessionEnd::Logout);
                }
                LineEvent::Eof => return Ok(SessionEnd::Eof),
                LineEvent::Idle => return self.idle_close().await,
            }
        }
    }

    async fn idle_close(&mut self) -> io::Result<SessionEnd> {
        let line_end = self.mode.line_end();
        self.out.push(line_end);
        self.out.push(IDLE_MESSAGE);
        self.out.push(line_end);
        Ok(SessionEnd::IdleTimeout)
    }

    /// Read and edit one line, echoing on a PTY.
    async fn read_line(&mut self) -> io::Result<LineEvent> {
        let echo = self.mode.interactive;
        let line_end = self.mode.line_end();
        let mut line: Vec<u8> = Vec::new();
        let mut escape = Escape::None;
        loop {
            let key = self.input.next().await?;
            if let Key::Byte(b) = key
                && escape != Escape::None
            {
                escape = match (escape, b) {
                    (Escape::Started, b'[') => Escape::Csi,
                    (Escape::Started, b'O') => Escape::Ss3,
                    (Escape::Csi, 0x20..=0x3f) => Escape::Csi,
                    _ => Escape::None,
                };
                continue;
            }
            escape = Escape::None;
            match key {
                Key::Enter => {
                    if echo {
                        self.out.push(line_end);
                    }
                    return Ok(LineEvent::Line(String::from_utf8_lossy(&line).into_owned()));
                }
                Key::Eof => return Ok(LineEvent::Eof),
                Key::Idle => return Ok(LineEvent::Idle),
                // Backspace and DEL erase the last character.
                Key::Byte(0x08 | 0x7f) => {
                    if pop_char(&mut line) && echo {
                        self.out.push("\x08 \x08");
                    }
                }
                // ^C drops the line.
                Key::Byte(0x03) => {
                    if echo {
                        self.out.push("^C");
                    }
                    self.out.push(line_end);
                    return Ok(LineEvent::Interrupt);
                }
                // ^D logs out on an empty line and is ignored otherwise.
                Key::Byte(0x04) => {
                    if line.is_empty() {
                        return Ok(LineEvent::Logout);
                    }
                }
                // ^U erases the whole line.
                Key::Byte(0x15) => {
                    while pop_char(&mut line) {
                        if echo {
                            self.out.push("\x08 \x08");
                        }
                    }
                }
                Key::Byte(0x1b) => escape = Escape::Started,
                Key::Byte(b) if b < 0x20 => {}
                Key::Byte(b) => {
                    if line.len() < MAX_LINE_BYTES {
                        line.push(b);
                        if echo {
                            self.out.push_bytes(&[b]);
                        }
                    }
                }
            }
            // Echo as the user types, not only at the end of the line.
            if echo {
                self.out.flush().await?;
            }
        }
    }

    /// Print a reply, stopping at the pager after each page.
    async fn print(&mut self, reply: &Reply) -> io::Result<Printed> {
        let line_end = self.mode.line_end();
        let page = reply.page_lines.filter(|&n| n > 0);
        let mut shown = 0usize;
        let mut paging = page.is_some();
        for line in lines(&reply.text) {
            if let Some(page) = page
                && paging
                && shown >= page
            {
                self.out.push(PAGER_PROMPT);
                self.out.flush().await?;
                let action = match self.pager_key().await? {
                    Ok(action) => action,
                    Err(printed) => return Ok(printed),
                };
                self.out.push("\r");
                self.out.push(&" ".repeat(PAGER_PROMPT.len()));
                self.out.push("\r");
                match action {
                    PagerAction::NextPage => shown = 0,
                    PagerAction::OneLine => shown = page.saturating_sub(1),
                    PagerAction::Continue => paging = false,
                    PagerAction::Quit => return Ok(Printed::Done),
                }
            }
            self.out.push(line);
            self.out.push(line_end);
            shown += 1;
        }
        Ok(Printed::Done)
    }

    /// Wait at the pager for a key that means something; other keys are ignored.
    async fn pager_key(&mut self) -> io::Result<Result<PagerAction, Printed>> {
        loop {
            let action = match self.input.next().await? {
                Key::Byte(b' ') => PagerAction::NextPage,
                Key::Enter => PagerAction::OneLine,
                Key::Byte(b'g' | b'G') => PagerAction::Continue,
                Key::Byte(b'q' | b'Q' | 0x03) => PagerAction::Quit,
                Key::Eof => return Ok(Err(Printed::Eof)),
                Key::Idle => return Ok(Err(Printed::Idle)),
                Key::Byte(_) => continue,
            };
            return Ok(Ok(action));
        }
    }
}

/// Remove the last UTF-8 character of `line`; false if it was empty.
fn pop_char(line: &mut Vec<u8>) -> bool {
    let Some(mut b) = line.pop() else {
        return false;
    };
    // Continuation bytes (10xxxxxx) belong to the character whose lead byte comes before.
    while b & 0xc0 == 0x80 {
        match line.pop() {
            Some(prev) => b = prev,
            None => break,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// Echoes commands; `long` prints 100 numbered lines; `exit` closes; `bad` fails.
    struct EchoShell {
        seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        page: Option<usize>,
    }

    impl Shell for EchoShell {
        fn prompt(&self) -> String {
            "t#".into()
        }
        fn execute(&mut self, line: &str) -> Reply {
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(line.to_string());
            }
            match line {
                "long" => {
                    Reply::output((1..=100).map(|i| format!("line {i}\n")).collect::<String>())
                        .paged(self.page)
                }
                "exit" => Reply::output("bye").closing(),
                "bad" => Reply::error("% Invalid word detected"),
                other => Reply::output(format!("ran: {other}\n")).paged(self.page),
            }
        }
    }

    struct Harness {
        client: DuplexStream,
        seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        task: tokio::task::JoinHandle<Result<SessionEnd, TerminalError>>,
        got: Vec<u8>,
    }

    fn start(mode: TerminalMode, page: Option<usize>) -> Harness {
        let (client, server) = tokio::io::duplex(1 << 16);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut shell = EchoShell {
            seen: seen.clone(),
            page,
        };
        let task = tokio::spawn(async move {
            let (r, w) = tokio::io::split(server);
            run_session(&mut shell, r, w, mode).await
        });
        Harness {
            client,
            seen,
            task,
            got: Vec::new(),
        }
    }

    impl Harness {
        async fn send(&mut self, bytes: &[u8]) {
            self.client.write_all(bytes).await.unwrap();
        }

        /// Read until the output (since the last call) ends with `suffix`; return it.
        async fn until(&mut self, suffix: &str) -> String {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(pos) = find(&self.got, suffix.as_bytes()) {
                    let end = pos + suffix.len();
                    let text = String::from_utf8_lossy(&self.got[..end]).into_owned();
                    self.got.drain(..end);
                    return text;
                }
                let mut buf = [0u8; 4096];
                let n = tokio::time::timeout_at(deadline, self.client.read(&mut buf))
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "timed out waiting for {suffix:?}; got {:?}",
                            String::from_utf8_lossy(&self.got)
                        )
                    })
                    .unwrap();
                assert!(n > 0, "eof waiting for {suffix:?}");
                self.got.extend_from_slice(&buf[..n]);
            }
        }

        async fn end(self) -> SessionEnd {
            tokio::time::timeout(Duration::from_secs(10), self.task)
                .await
                .unwrap()
                .unwrap()
                .unwrap()
        }

        fn seen(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    #[tokio::test]
    async fn crlf_cr_and_lf_each_end_one_line() {
        let mut h = start(TerminalMode::piped(), None);
        h.until("t#").await;
        h.send(b"a\r\nb\rc\nd\r\n\r\n").await;
        h.until("ran: d\nt#").await;
        h.send(b"exit\n").await;
        // The blank line only printed the prompt again.
        assert_eq!(h.until("bye\n").await, "t#bye\n");
        assert_eq!(h.seen(), ["a", "b", "c", "d", "exit"]);
        assert_eq!(h.end().await, SessionEnd::Closed);
    }

    #[tokio::test]
    async fn piped_mode_does_not_echo_and_ends_lines_with_lf() {
        let mut h = start(TerminalMode::piped(), None);
        h.send(b"show x\n").await;
        assert_eq!(h.until("t#").await, "t#");
        assert_eq!(h.until("t#").await, "ran: show x\nt#");
    }

    #[tokio::test]
    async fn interactive_mode_echoes_and_ends_lines_with_crlf() {
        let mut h = start(TerminalMode::interactive(), None);
        h.until("t#").await;
        h.send(b"hi\r").await;
        assert_eq!(h.until("t#").await, "hi\r\nran: hi\r\nt#");
    }

    #[tokio::test]
    async fn backspace_and_del_erase_characters() {
        let mut h = start(TerminalMode::interactive(), None);
        h.until("t#").await;
        h.send(b"shox\x08w ab\x7f\x7fx\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7fok\r")
            .await;
        let out = h.until("ran: ok\r\nt#").await;
        assert!(out.contains("x\x08 \x08w"), "{out:?}");
        // Backspace on an empty line echoes nothing.
        assert_eq!(out.matches("\x08 \x08").count(), 1 + 2 + 6, "{out:?}");
        assert_eq!(h.seen(), ["ok"]);
    }

    #[tokio::test]
    async fn backspace_removes_a_whole_utf8_character() {
        let mut h = start(TerminalMode::piped(), None);
        h.send("aé\x7fb\n".as_bytes()).await;
        h.until("ran: ab\n").await;
        assert_eq!(h.seen(), ["ab"]);
    }

    #[tokio::test]
    async fn ctrl_c_drops_the_line() {
        let mut h = start(TerminalMode::interactive(), None);
        h.until("t#").await;
        h.send(b"reload\x03").await;
        assert_eq!(h.until("t#").await, "reload^C\r\nt#");
        h.send(b"x\r").await;
        h.until("ran: x\r\nt#").await;
        assert_eq!(h.seen(), ["x"]);
    }

    #[tokio::test]
    async fn ctrl_d_logs_out_only_on_an_empty_line() {
        let mut h = start(TerminalMode::interactive(), None);
        h.until("t#").await;
        h.send(b"ab\x04c\r").await;
        h.until("ran: abc\r\nt#").await;
        h.send(b"\x04").await;
        assert_eq!(h.end().await, SessionEnd::Logout);
    }

    #[tokio::test]
    async fn arrow_keys_are_swallowed() {
        let mut h = start(TerminalMode::piped(), None);
        h.send(b"a\x1b[Ab\x1bOCc\x1b[1;5Dd\n").await;
        h.until("ran: abcd\n").await;
    }

    #[tokio::test]
    async fn eof_ends_the_session() {
        let mut h = start(TerminalMode::piped(), None);
        h.until("t#").await;
        h.client.shutdown().await.unwrap();
        assert_eq!(h.end().await, SessionEnd::Eof);
    }

    #[tokio::test]
    async fn idle_timeout_closes_the_session() {
        let mode = TerminalMode::piped().with_idle_timeout(Some(Duration::from_millis(200)));
        let mut h = start(mode, None);
        h.until("t#").await;
        h.until(IDLE_MESSAGE).await;
        assert_eq!(h.end().await, SessionEnd::IdleTimeout);
    }

    fn numbered(from: usize, to: usize, end: &str) -> String {
        (from..=to).map(|i| format!("line {i}{end}")).collect()
    }

    #[tokio::test]
    async fn pager_stops_after_a_page_and_space_shows_the_next() {
        let mut h = start(TerminalMode::interactive(), Some(24));
        h.until("t#").await;
        h.send(b"long\r").await;
        let first = h.until(PAGER_PROMPT).await;
        assert_eq!(
            first,
            format!("long\r\n{}{PAGER_PROMPT}", numbered(1, 24, "\r\n"))
        );
        h.send(b" ").await;
        let erase = format!("\r{}\r", " ".repeat(PAGER_PROMPT.len()));
        let second = h.until(PAGER_PROMPT).await;
        assert_eq!(
            second,
            format!("{erase}{}{PAGER_PROMPT}", numbered(25, 48, "\r\n"))
        );
        // Enter shows one more line.
        h.send(b"\r").await;
        assert_eq!(
            h.until(PAGER_PROMPT).await,
            format!("{erase}line 49\r\n{PAGER_PROMPT}")
        );
        // g shows the rest without stopping.
        h.send(b"g").await;
        assert_eq!(
            h.until("t#").await,
            format!("{erase}{}t#", numbered(50, 100, "\r\n"))
        );
    }

    #[tokio::test]
    async fn pager_quits_on_q_and_ctrl_c() {
        for key in [b"q", b"\x03"] {
            let mut h = start(TerminalMode::interactive(), Some(24));
            h.until("t#").await;
            h.send(b"long\r").await;
            h.until(PAGER_PROMPT).await;
            h.send(key).await;
            let erase = format!("\r{}\r", " ".repeat(PAGER_PROMPT.len()));
            assert_eq!(h.until("t#").await, format!("{erase}t#"));
            h.send(b"next\r").await;
            h.until("ran: next\r\nt#").await;
        }
    }

    #[tokio::test]
    async fn pager_enter_in_crlf_is_one_line() {
        let mut h = start(TerminalMode::piped(), Some(10));
        h.send(b"long\n").await;
        h.until(PAGER_PROMPT).await;
        h.send(b"\r\n").await;
        h.until(&format!("line 11\n{PAGER_PROMPT}")).await;
        h.send(b"q").await;
        h.until("t#").await;
    }

    #[tokio::test]
    async fn no_paging_when_page_lines_is_zero_or_none() {
        for page in [None, Some(0)] {
            let mut h = start(TerminalMode::piped(), page);
            h.send(b"long\n").await;
            let out = h.until("t#").await;
            let out = out + &h.until("t#").await;
            assert!(!out.contains(PAGER_PROMPT));
            assert!(out.contains("line 100\n"));
        }
    }

    #[tokio::test]
    async fn exact_page_does_not_stop() {
        let mut h = start(TerminalMode::piped(), Some(100));
        h.send(b"long\n").await;
        h.until("t#").await;
        let out = h.until("t#").await;
        assert!(!out.contains(PAGER_PROMPT), "{out:?}");
    }

    #[tokio::test]
    async fn long_lines_are_capped() {
        let mut h = start(TerminalMode::piped(), None);
        let mut input = vec![b'a'; MAX_LINE_BYTES + 100];
        input.push(b'\n');
        h.send(&input).await;
        h.until("t#").await;
        h.until("t#").await;
        assert_eq!(h.seen()[0].len(), MAX_LINE_BYTES);
    }

    #[tokio::test]
    async fn run_command_prints_without_prompt() {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut shell = EchoShell {
            seen,
            page: Some(2),
        };
        let mut out = Vec::new();
        let reply = run_command(&mut shell, "long", &mut out, true)
            .await
            .unwrap();
        assert!(!reply.is_error);
        assert_eq!(String::from_utf8(out).unwrap(), numbered(1, 100, "\r\n"));
        let mut out = Vec::new();
        let reply = run_command(&mut shell, "bad", &mut out, false)
            .await
            .unwrap();
        assert!(reply.is_error);
        assert_eq!(out, b"% Invalid word detected\n");
    }

    #[test]
    fn pop_char_handles_empty_and_multibyte() {
        let mut v = Vec::new();
        assert!(!pop_char(&mut v));
        let mut v = "a€".as_bytes().to_vec();
        assert!(pop_char(&mut v));
        assert_eq!(v, b"a");
    }
}
