//! How a command fails: one kind that maps to an exit code, a message, and hints under it.

use std::fmt;

/// What kind of failure, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user asked for something that cannot be done (a missing folder, a bad revision).
    User,
    /// The inventory or settings are wrong.
    Config,
    /// A device did not answer or refused.
    Device,
    /// A bug in gamops.
    Internal,
}

#[derive(Debug)]
pub struct CommandError {
    pub kind: ErrorKind,
    pub message: String,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        CommandError {
            kind,
            message: message.to_string(),
            hints: Vec::new(),
        }
    }

    pub fn user(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::User, message)
    }

    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// User, config and device errors exit 1; a bug exits 101, like a Rust panic would.
    /// Prints the error and its hints to stderr, as the binary ends a failed command;
    /// `colour` for a terminal.
    pub fn eprint(&self, colour: bool) {
        let (red, cyan, reset) = if colour {
            ("\x1b[1;31m", "\x1b[1;36m", "\x1b[0m")
        } else {
            ("", "", "")
        };
        eprintln!("{red}error{reset}: {}", self.message);
        for h in &self.hints {
            eprintln!("  {cyan}hint{reset}: {h}");
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::User | ErrorKind::Config | ErrorKind::Device => 1,
            ErrorKind::Internal => 101,
        }
    }
}

pub use crate::error_text::flatten;

impl From<crate::inventory::LoadError> for CommandError {
    fn from(e: crate::inventory::LoadError) -> Self {
        let hint = e.hint();
        let err = CommandError::user(flatten(&e));
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::user(e)
    }
}

impl From<crate::reconcile::ReconcileError> for CommandError {
    fn from(e: crate::reconcile::ReconcileError) -> Self {
        match e {
            crate::reconcile::ReconcileError::Store(e) => e.into(),
            e => {
                let err = CommandError::user(&e);
                match e.hint() {
                    Some(h) => err.hint(h),
                    None => err,
                }
            }
        }
    }
}
