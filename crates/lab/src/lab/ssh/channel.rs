//! One SSH session channel: wait for its shell or exec request, take a session slot, open a
//! [`Shell`](crate::lab::terminal::Shell) and run the terminal discipline on the channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use russh::server::Msg;
use russh::{Channel, ChannelMsg, ChannelWriteHalf};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Shared;
use crate::lab::terminal::{TerminalMode, run_command, run_session};

/// The concurrent CLI sessions of one device.
#[derive(Clone, Debug, Default)]
pub(super) struct SessionCounter(Arc<AtomicUsize>);

impl SessionCounter {
    /// Take a slot if fewer than `limit` are in use; the slot is given back when dropped.
    pub(super) fn try_acquire(&self, limit: usize) -> Option<SessionSlot> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| SessionSlot(self.0.clone()))
    }

    pub(super) fn active(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// A session slot held for the life of a CLI session.
pub(super) struct SessionSlot(Arc<AtomicUsize>);

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the client asked the channel to run.
enum Start {
    Shell,
    Exec(Vec<u8>),
}

/// The message on the channel when every session slot is taken.
pub fn session_limit_message(limit: usize) -> String {
    format!("% No more sessions allowed: all {limit} CLI sessions are in use. Try again later.")
}

/// Run a session channel to its end, then send its exit status, EOF and close.
pub(super) async fn run_channel(channel: Channel<Msg>, shared: Arc<Shared>, user: String) {
    let (mut rx, tx) = channel.split();
    let idle = shared.config.idle_timeout;
    let mut pty = false;
    // Keys typed before the shell request was handled are kept for the shell.
    let mut early: Vec<u8> = Vec::new();
    let start = loop {
        let wait = rx.wait();
        let msg = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            msg = async {
                match idle {
                    Some(limit) => tokio::time::timeout(limit, wait).await.ok().flatten(),
                    None => wait.await,
                }
            } => msg,
        };
        match msg {
            Some(ChannelMsg::RequestPty { .. }) => pty = true,
            Some(ChannelMsg::Data { data }) => {
                if early.len() + data.len() <= crate::lab::terminal::MAX_LINE_BYTES {
                    early.extend_from_slice(&data);
                }
            }
            Some(ChannelMsg::RequestShell { .. }) => break Start::Shell,
            Some(ChannelMsg::Exec { command, .. }) => break Start::Exec(command),
            Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                let _ = tx.close().await;
                return;
            }
            Some(_) => {}
        }
    };
    let line_end = if pty { "\r\n" } else { "\n" };

    let limit = shared
        .config
        .faults
        .session_limit()
        .unwrap_or(shared.config.max_sessions);
    let Some(_slot) = shared.sessions.try_acquire(limit) else {
        tracing::info!(user, limit, "ssh session refused: session limit reached");
        let text = format!("{}{line_end}", session_limit_message(limit));
        finish(&tx, Some(text), 1).await;
        return;
    };
    let mut shell = match shared.factory.open(&user) {
        Ok(shell) => shell,
        Err(refusal) => {
            tracing::info!(user, %refusal, "ssh session refused by the shell factory");
            finish(&tx, Some(format!("{refusal}{line_end}")), 1).await;
            return;
        }
    };

    let status = match start {
        Start::Shell => {
            let mode = TerminalMode {
                interactive: pty,
                idle_timeout: idle,
            };
            let latency = shared.config.faults.latency();
            let input = early.as_slice().chain(rx.make_reader());
            let reader: Box<dyn AsyncRead + Send + Unpin + '_> = if latency.is_zero() {
                Box::new(input)
            } else {
                Box::new(delayed(input, latency))
            };
            let writer = tx.make_writer();
            tokio::pin!(writer);
            tokio::select! {
                _ = shared.shutdown.cancelled() => 0,
                end = run_session(&mut *shell, reader, &mut writer, mode) => {
                    match end {
                        Ok(end) => tracing::debug!(user, ?end, "ssh shell session ended"),
                        Err(e) => tracing::debug!(user, error = %e, "ssh shell session failed"),
                    }
                    0
                }
            }
        }
        Start::Exec(command) => {
            let line = String::from_utf8_lossy(&command).into_owned();
            let writer = tx.make_writer();
            tokio::pin!(writer);
            match run_command(&mut *shell, &line, &mut writer, pty).await {
                Ok(reply) if !reply.is_error => 0,
                Ok(_) => 1,
                Err(e) => {
                    tracing::debug!(user, error = %e, "ssh exec failed");
                    1
                }
            }
        }
    };
    finish(&tx, None, status).await;
}

/// Input that arrives `latency` late: each chunk read is handed on only after the delay.
struct Delayed<R> {
    inner: R,
    latency: std::time::Duration,
    chunk: Vec<u8>,
    pos: usize,
    wait: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

fn delayed<R>(inner: R, latency: std::time::Duration) -> Delayed<R> {
    Delayed {
        inner,
        latency,
        chunk: Vec::new(),
        pos: 0,
        wait: None,
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Delayed<R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::future::Future;
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            if let Some(wait) = this.wait.as_mut() {
                if wait.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.wait = None;
            }
            let rest = this.chunk.get(this.pos..).unwrap_or_default();
            if !rest.is_empty() {
                let n = rest.len().min(out.remaining());
                out.put_slice(rest.get(..n).unwrap_or_default());
                this.pos += n;
                return Poll::Ready(Ok(()));
            }
            let mut buf = [0u8; 4096];
            let mut read = tokio::io::ReadBuf::new(&mut buf);
            match std::pin::Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    this.chunk = read.filled().to_vec();
                    this.pos = 0;
                    this.wait = Some(Box::pin(tokio::time::sleep(this.latency)));
                }
            }
        }
    }
}

/// Print `text` if any, then send the exit status, EOF and close. Errors mean the client is
/// gone already, which is fine.
async fn finish(tx: &ChannelWriteHalf<Msg>, text: Option<String>, status: u32) {
    if let Some(text) = text {
        let _ = tx.data(text.as_bytes()).await;
    }
    let _ = tx.exit_status(status).await;
    let _ = tx.eof().await;
    let _ = tx.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delayed_input_arrives_late_and_whole() {
        let text = b"show running-config\rexit\r".to_vec();
        let started = std::time::Instant::now();
        let mut reader = delayed(text.as_slice(), std::time::Duration::from_millis(30));
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, text);
        assert!(started.elapsed() >= std::time::Duration::from_millis(30));
    }

    #[test]
    fn slots_are_limited_and_given_back() {
        let c = SessionCounter::default();
        let a = c.try_acquire(2).unwrap();
        let b = c.try_acquire(2).unwrap();
        assert!(c.try_acquire(2).is_none());
        assert_eq!(c.active(), 2);
        drop(a);
        assert!(c.try_acquire(2).is_some());
        drop(b);
        assert_eq!(c.active(), 0);
        assert!(c.try_acquire(0).is_none());
    }
}
