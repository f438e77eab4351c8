//! The seam between apply's logic (order, verify, save, rollback) and the way changes reach a
//! device: the CLI over SSH, or the JSON-RPC API. Each driver renders every step of a change,
//! forward and back, before anything is sent, opens a session, sends one step at a time, saves,
//! and closes; apply does the rest the same way for both.

use std::time::Duration;

use crate::device::jsonrpc::{self, Call, JsonRpcSession, JsonRpcTarget, RpcError};
use crate::device::ssh::{CliError, CliSession, CliTarget, dialect};
use crate::plan::Change;

use super::{calls, commands};

/// Where and how one device's changes are sent.
#[derive(Clone, Debug)]
pub enum DriverTarget {
    Cli(CliTarget),
    JsonRpc(JsonRpcTarget),
}

impl DriverTarget {
    pub fn name(&self) -> &'static str {
        match self {
            DriverTarget::Cli(_) => "cli",
            DriverTarget::JsonRpc(_) => "jsonrpc",
        }
    }
}

/// One step of a change: a CLI line or a JSON-RPC call.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Line(String),
    Call(Call),
}

impl Step {
    /// As the journal and the result's `sent` record it.
    pub fn text(&self) -> String {
        match self {
            Step::Line(l) => l.clone(),
            Step::Call(c) => c.text(),
        }
    }
}

/// Every step of a device's changes, forward and inverse (one of each per change; None where a
/// change has nothing to send).
pub struct Steps {
    pub forward: Vec<Option<Step>>,
    pub inverse: Vec<Option<Step>>,
}

impl Steps {
    /// The JSON-RPC methods the steps use, with the save's.
    pub fn methods(&self) -> std::collections::BTreeSet<&str> {
        let mut m: std::collections::BTreeSet<&str> = self
            .forward
            .iter()
            .chain(&self.inverse)
            .flatten()
            .filter_map(|s| match s {
                Step::Call(c) => Some(c.method.as_str()),
                Step::Line(_) => None,
            })
            .collect();
        m.insert(jsonrpc::calls::SAVE);
        m
    }
}

/// Renders every step for `target`'s driver, forward and back, before anything is sent, so that
/// a value the driver refuses stops the device before its first step, not mid-way; an error
/// names the change (its index) and why.
pub fn render(
    target: &DriverTarget,
    changes: &[Change],
    uplink_base: u32,
) -> Result<Steps, (usize, String)> {
    match target {
        DriverTarget::Cli(_) => render_each(
            changes,
            |c| commands::forward(c, uplink_base),
            |c| commands::inverse(c, uplink_base),
            Step::Line,
        ),
        DriverTarget::JsonRpc(_) => render_each(
            changes,
            |c| calls::forward(c, uplink_base),
            |c| calls::inverse(c, uplink_base),
            Step::Call,
        ),
    }
}

/// Each change's forward and inverse step, by one driver's renderers; the first that cannot
/// be rendered stops it.
fn render_each<T, E: std::fmt::Display>(
    changes: &[Change],
    forward: impl Fn(&Change) -> Result<Option<T>, E>,
    inverse: impl Fn(&Change) -> Result<Option<T>, E>,
    step: impl Fn(T) -> Step + Copy,
) -> Result<Steps, (usize, String)> {
    let mut steps = Steps {
        forward: Vec::with_capacity(changes.len()),
        inverse: Vec::with_capacity(changes.len()),
    };
    for (i, c) in changes.iter().enumerate() {
        let failed = |e: E| (i, e.to_string());
        steps.forward.push(forward(c).map_err(failed)?.map(step));
        steps.inverse.push(inverse(c).map_err(failed)?.map(step));
    }
    Ok(steps)
}

/// A failed step, connection or save, of either driver.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Cli(#[from] CliError),
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

impl DriverError {
    pub fn is_session_lost(&self) -> bool {
        match self {
            DriverError::Cli(e) => e.is_session_lost(),
            DriverError::Rpc(e) => e.is_session_lost(),
        }
    }

    pub fn hint(&self) -> Option<&'static str> {
        match self {
            DriverError::Cli(e) => e.hint(),
            DriverError::Rpc(e) => e.hint(),
        }
    }
}

/// An open session with a device.
pub enum Session {
    /// (Boxed: an SSH session is the larger by far.)
    Cli(Box<CliSession>),
    Rpc(JsonRpcSession),
}

impl Session {
    pub async fn connect(target: &DriverTarget) -> Result<Session, DriverError> {
        Ok(match target {
            DriverTarget::Cli(t) => Session::Cli(Box::new(CliSession::connect(t).await?)),
            DriverTarget::JsonRpc(t) => Session::Rpc(JsonRpcSession::connect(t).await?),
        })
    }

    /// The step that opens a batch of changes (the CLI's `configure terminal`), if any.
    pub fn begin(&self) -> Option<Step> {
        match self {
            Session::Cli(_) => Some(Step::Line(dialect::CONFIGURE.to_string())),
            Session::Rpc(_) => None,
        }
    }

    /// The step that closes a batch (the CLI's `end`), if any.
    pub fn end(&self) -> Option<Step> {
        match self {
            Session::Cli(_) => Some(Step::Line(dialect::END.to_string())),
            Session::Rpc(_) => None,
        }
    }

    /// Sends one step; the device's answer, as text.
    pub async fn send(&mut self, step: &Step) -> Result<String, DriverError> {
        match (self, step) {
            (Session::Cli(s), Step::Line(l)) => Ok(s.run(l).await?),
            (Session::Rpc(s), Step::Call(c)) => {
                let result = s.call(c).await?;
                let mut text = result.to_string();
                if text.len() > 200 {
                    let cut = (0..=200)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.truncate(cut);
                    text.push('…');
                }
                Ok(text)
            }
            // Steps are rendered for the session's own driver; a mismatch is a bug, refused.
            (_, step) => Err(DriverError::Rpc(RpcError::UnsafeValue(format!(
                "{} (a step for the other driver)",
                step.text()
            )))),
        }
    }

    /// The save step's text, as journalled.
    pub fn save_text(&self) -> String {
        match self {
            Session::Cli(_) => dialect::SAVE.to_string(),
            Session::Rpc(_) => jsonrpc::calls::save().text(),
        }
    }

    pub async fn save(&mut self, attempts: u32, pause: Duration) -> Result<(), DriverError> {
        match self {
            Session::Cli(s) => Ok(s.save(attempts, pause).await?),
            Session::Rpc(s) => Ok(s.save(attempts, pause).await?),
        }
    }

    pub async fn close(self) {
        match self {
            Session::Cli(s) => (*s).close().await,
            Session::Rpc(_) => {}
        }
    }
}
