//! The ICLI interpreter: one [`Session`] per login, sharing the device state.
//!
//! The session knows its mode (EXEC `NAME#` or CONFIG `NAME(config)#`) and its page length;
//! the terminal layer does echo, line editing and the `-- more --` pager. Every command runs
//! under the device lock, so concurrent sessions see each other's changes at once, as on the
//! real switch. A rejected command prints its error and changes nothing.

use std::sync::{Arc, Mutex, MutexGuard};

use super::config::{self, apply_command, context};
use super::grammar::{self, Command, Mode, ReloadKind, SyntaxError};
use super::show;
use super::state::DeviceState;

/// A device shared between its sessions and the lab's other fronts (SNMP, fault injector).
pub type SharedDevice = Arc<Mutex<DeviceState>>;

/// Wraps a device for sharing.
pub fn share(dev: DeviceState) -> SharedDevice {
    Arc::new(Mutex::new(dev))
}

/// ICLI's default page length.
pub const DEFAULT_PAGE_LINES: usize = 24;

/// What one command line produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The output, lines ending in `\n` (empty when the command prints nothing).
    pub text: String,
    /// Lines per page for the pager; None = no paging (`terminal length 0`).
    pub page_lines: Option<usize>,
    /// The session ends after this output (`exit` in EXEC, `logout`, `reload`).
    pub close: bool,
}

/// One logged-in CLI session.
pub struct Session {
    device: SharedDevice,
    mode: Mode,
    page_lines: usize,
}

fn lock(dev: &SharedDevice) -> MutexGuard<'_, DeviceState> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep serving it.
    dev.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Session {
    /// A new session in EXEC mode with the default page length.
    pub fn new(device: SharedDevice) -> Session {
        Session {
            device,
            mode: Mode::Exec,
            page_lines: DEFAULT_PAGE_LINES,
        }
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// `NAME#` or `NAME(config)#`, after the current hostname.
    pub fn prompt(&self) -> String {
        let dev = lock(&self.device);
        match self.mode {
            Mode::Exec => format!("{}#", dev.hostname()),
            Mode::Config => format!("{}(config)#", dev.hostname()),
        }
    }

    /// Runs one line typed at the prompt.
    pub fn execute(&mut self, line: &str) -> Reply {
        let prompt_len = self.prompt().chars().count();
        let device = Arc::clone(&self.device);
        let mut dev = lock(&device);
        let (text, close) = if line.trim().is_empty() {
            (String::new(), false)
        } else if let Some(out) = dev.take_command_fault(line) {
            (with_newline(out), false)
        } else {
            let parsed = grammar::parse(line, self.mode, context(&dev.running));
            match parsed {
                Ok(cmd) => self.run(&mut dev, cmd),
                Err(e) => (syntax_error(&e, prompt_len), false),
            }
        };
        Reply {
            text,
            page_lines: (self.page_lines > 0).then_some(self.page_lines),
            close,
        }
    }

    fn run(&mut self, dev: &mut DeviceState, cmd: Command) -> (String, bool) {
        match cmd {
            Command::Nothing | Command::TerminalWidth => (String::new(), false),
            Command::ConfigureTerminal => {
                self.mode = Mode::Config;
                (String::new(), false)
            }
            Command::TerminalLength(n) => {
                self.page_lines = n;
                (String::new(), false)
            }
            Command::End => {
                self.mode = Mode::Exec;
                (String::new(), false)
            }
            Command::Exit => match self.mode {
                Mode::Config => {
                    self.mode = Mode::Exec;
                    (String::new(), false)
                }
                Mode::Exec => (String::new(), true),
            },
            Command::Logout => (String::new(), true),
            Command::Do(inner) => {
                // `do` runs an EXEC command without leaving config mode; `do exit` does nothing.
                let saved = self.mode;
                let out = match *inner {
                    Command::Exit | Command::ConfigureTerminal => (String::new(), false),
                    other => self.run(dev, other),
                };
                self.mode = saved;
                out
            }
            Command::CopyRunningStartup => {
                if dev.faults.save_in_progress {
                    return (
                        "% Another load/save operation is already in progress\n".to_string(),
                        false,
                    );
                }
                let n = dev.save();
                (
                    format!(
                        "Building configuration...\n% Saving {n} bytes to flash: startup-config\n"
                    ),
                    false,
                )
            }
            Command::Reload(kind) => {
                let banner = match kind {
                    ReloadKind::Cold => "% Cold reload in progress, please stand by.\n",
                    ReloadKind::Warm => "% Warm reload in progress, please stand by.\n",
                };
                let mut out = banner.to_string();
                if let Err(e) = dev.request_reboot() {
                    out.push_str(&format!("% {e}\n"));
                }
                (out, true)
            }
            Command::ShowRunning => (
                format!(
                    "Building configuration...\n{}",
                    config::render(&dev.running)
                ),
                false,
            ),
            Command::ShowStartup => (dev.startup.clone(), false),
            Command::ShowPort(n, view) => (result(show::port(dev, n, view)), false),
            Command::ShowEndpoint(id, view) => (result(show::endpoint(dev, id, view)), false),
            Command::ShowSubscriber(id) => (result(show::subscriber(dev, id)), false),
            Command::ShowProfile(id) => (result(show::profile(dev, id)), false),
            Command::ShowDiscover => (show::discover(dev), false),
            other => match apply_command(&mut dev.running, &other) {
                Ok(_) => (String::new(), false),
                Err(e) => (format!("% {e}\n"), false),
            },
        }
    }
}

fn result(r: Result<String, super::rules::GhnError>) -> String {
    r.unwrap_or_else(|e| format!("% {e}\n"))
}

fn with_newline(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// ICLI's syntax error, with the `^` marker under the offending word of the echoed line.
fn syntax_error(e: &SyntaxError, prompt_len: usize) -> String {
    match e {
        SyntaxError::Invalid { col } => format!(
            "{}^\n% Invalid word detected at '^' marker.\n",
            " ".repeat(prompt_len + col)
        ),
        SyntaxError::Ambiguous { col } => format!(
            "{}^\n% Ambiguous word detected at '^' marker.\n",
            " ".repeat(prompt_len + col)
        ),
        SyntaxError::Incomplete => "% Incomplete command.\n".to_string(),
        SyntaxError::Unsupported { command } => {
            format!("% The gamops lab does not simulate '{command}'.\n")
        }
    }
}
