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
use crate::lab::terminal::{self, Reply};

/// A device shared between its sessions and the lab's other fronts (SNMP, fault injector).
pub type SharedDevice = Arc<Mutex<DeviceState>>;

/// Wraps a device for sharing.
pub fn share(dev: DeviceState) -> SharedDevice {
    Arc::new(Mutex::new(dev))
}

/// ICLI's default page length.
pub const DEFAULT_PAGE_LINES: usize = 24;

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

    /// Runs one line typed at the prompt. A command that failed (a syntax error, a rule's
    /// `% ...` error, an injected fault) comes back as [`Reply::error`].
    pub fn execute(&mut self, line: &str) -> Reply {
        let prompt_len = self.prompt().chars().count();
        let device = Arc::clone(&self.device);
        let mut dev = lock(&device);
        let reply = if line.trim().is_empty() {
            Reply::output("")
        } else if let Some(out) = dev.take_command_fault(line) {
            Reply::error(with_newline(out))
        } else {
            let parsed = grammar::parse_line(line, self.mode, context(&dev.running));
            match parsed {
                Ok((cmd, None)) => self.run(&mut dev, cmd),
                Ok((cmd, Some(filter))) => {
                    let mut reply = self.run(&mut dev, cmd);
                    reply.text = filter.apply(&reply.text);
                    reply
                }
                Err(e) => Reply::error(syntax_error(&e, prompt_len)),
            }
        };
        reply.paged((self.page_lines > 0).then_some(self.page_lines))
    }

    fn run(&mut self, dev: &mut DeviceState, cmd: Command) -> Reply {
        match cmd {
            Command::Nothing | Command::TerminalWidth => Reply::output(""),
            Command::ConfigureTerminal => {
                self.mode = Mode::Config;
                Reply::output("")
            }
            Command::TerminalLength(n) => {
                self.page_lines = n;
                Reply::output("")
            }
            Command::End => {
                self.mode = Mode::Exec;
                Reply::output("")
            }
            Command::Exit => match self.mode {
                Mode::Config => {
                    self.mode = Mode::Exec;
                    Reply::output("")
                }
                Mode::Exec => Reply::output("").closing(),
            },
            Command::Logout => Reply::output("").closing(),
            Command::Do(inner) => {
                // `do` runs an EXEC command without leaving config mode; `do exit` does nothing.
                let saved = self.mode;
                let out = match *inner {
                    Command::Exit | Command::ConfigureTerminal => Reply::output(""),
                    other => self.run(dev, other),
                };
                self.mode = saved;
                out
            }
            Command::CopyRunningStartup => {
                if dev.faults.save_in_progress {
                    return Reply::error("% Another load/save operation is already in progress\n");
                }
                let n = dev.save();
                Reply::output(format!(
                    "Building configuration...\n% Saving {n} bytes to flash: startup-config\n"
                ))
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
                Reply::output(out).closing()
            }
            Command::ShowRunning => Reply::output(format!(
                "Building configuration...\n{}",
                config::render(&dev.running)
            )),
            Command::ShowStartup => Reply::output(dev.startup.clone()),
            Command::ShowPort(n, view) => result(show::port(dev, n, view)),
            Command::ShowEndpoint(id, view) => result(show::endpoint(dev, id, view)),
            Command::ShowSubscriber(id) => result(show::subscriber(dev, id)),
            Command::ShowProfile(id) => result(show::profile(dev, id)),
            Command::ShowDiscover => Reply::output(show::discover(dev)),
            other => match apply_command(&mut dev.running, &other) {
                Ok(changed) => {
                    if changed {
                        dev.mark_changed();
                    }
                    Reply::output("")
                }
                Err(e) => Reply::error(format!("% {e}\n")),
            },
        }
    }
}

impl terminal::Shell for Session {
    fn prompt(&self) -> String {
        Session::prompt(self)
    }

    fn execute(&mut self, line: &str) -> Reply {
        Session::execute(self, line)
    }
}

fn result(r: Result<String, super::rules::GhnError>) -> Reply {
    match r {
        Ok(text) => Reply::output(text),
        Err(e) => Reply::error(format!("% {e}\n")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::device::state::{DetectedCpe, EndpointState};
    use crate::model::GamModel;

    fn gam12c() -> (SharedDevice, Session) {
        let dev = share(DeviceState::factory(GamModel::Gam12C, "GAM"));
        let s = Session::new(Arc::clone(&dev));
        (dev, s)
    }

    /// Runs lines, asserting each prints nothing (a successful config command).
    fn quiet(s: &mut Session, lines: &[&str]) {
        for l in lines {
            let r = s.execute(l);
            assert_eq!(r.text, "", "{l}");
            assert!(!r.close, "{l}");
        }
    }

    fn out(s: &mut Session, line: &str) -> String {
        s.execute(line).text
    }

    #[test]
    fn session_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Session>();
    }

    #[test]
    fn modes_and_prompts() {
        let (dev, mut s) = gam12c();
        assert_eq!(s.prompt(), "GAM#");
        quiet(&mut s, &["conf t"]);
        assert_eq!(s.prompt(), "GAM(config)#");
        assert_eq!(s.mode(), Mode::Config);
        quiet(&mut s, &["hostname bldg-12-gam1"]);
        assert_eq!(s.prompt(), "bldg-12-gam1(config)#");
        quiet(&mut s, &["end"]);
        assert_eq!(s.prompt(), "bldg-12-gam1#");
        quiet(&mut s, &["configure terminal", "exit"]);
        assert_eq!(s.mode(), Mode::Exec);
        quiet(
            &mut s,
            &[
                "conf t",
                "no hostname",
                "do show ghn bw-profile 1 configuration",
            ][..2],
        );
        assert_eq!(s.prompt(), "GAM(config)#");
        // `do` runs EXEC commands and stays in config mode.
        assert!(out(&mut s, "do show ghn bw-profile 1").starts_with("Name: Default BW Profile"));
        assert_eq!(s.mode(), Mode::Config);
        assert!(!s.execute("do exit").close);
        assert_eq!(s.mode(), Mode::Config);
        quiet(&mut s, &["exit"]);
        let r = s.execute("exit");
        assert!(r.close);
        assert!(Session::new(dev).execute("logout").close);
    }

    #[test]
    fn pager_length_is_returned() {
        let (_, mut s) = gam12c();
        assert_eq!(s.execute("show running-config").page_lines, Some(24));
        quiet(&mut s, &["terminal length 0"]);
        assert_eq!(s.execute("show running-config").page_lines, None);
        quiet(&mut s, &["terminal length 50", "terminal width 0"]);
        assert_eq!(s.execute("").page_lines, Some(50));
        assert!(out(&mut s, "terminal length 513").contains("Invalid word"));
        assert_eq!(s.execute("").page_lines, Some(50));
    }

    #[test]
    fn syntax_errors_point_at_the_word() {
        let (_, mut s) = gam12c();
        assert_eq!(
            out(&mut s, "show bogus"),
            "         ^\n% Invalid word detected at '^' marker.\n"
        );
        assert_eq!(
            out(&mut s, "c t"),
            "    ^\n% Ambiguous word detected at '^' marker.\n"
        );
        assert_eq!(out(&mut s, "configure"), "% Incomplete command.\n");
        quiet(&mut s, &["conf t"]);
        // The marker accounts for the longer config prompt.
        assert_eq!(
            out(&mut s, "ghn subscriber 400"),
            format!(
                "{}^\n% Invalid word detected at '^' marker.\n",
                " ".repeat(12 + 15)
            )
        );
        assert_eq!(
            out(&mut s, "ghn bw-profile 2 name"),
            "% Incomplete command.\n"
        );
        assert_eq!(
            out(&mut s, "vlan 5"),
            "% The gamops lab does not simulate 'vlan'.\n"
        );
    }

    #[test]
    fn commands_only_run_in_their_mode() {
        let (dev, mut s) = gam12c();
        assert!(out(&mut s, "ghn bw-profile 2 name x").contains("does not simulate"));
        quiet(&mut s, &["conf t"]);
        assert!(out(&mut s, "show running-config").contains("Invalid word"));
        assert!(out(&mut s, "copy running-config startup-config").contains("Invalid word"));
        assert_eq!(lock(&dev).running.profiles.len(), 1);
    }

    #[test]
    fn config_commands_and_no_forms() {
        let (dev, mut s) = gam12c();
        quiet(
            &mut s,
            &[
                "conf t",
                "ghn port 3 name \"Riser A\" shutdown",
                "ghn bw-profile 2 name \"1G\" description \"1G/1G\" rate-downstream 1000 rate-upstream 1000",
                "ghn endpoint 1 name EP1 mac-address 11:2F:1F:A1:CC:DE description \"Apt1\" port 1 allow-management-access",
                "ghn subscriber 1 name \"Unit 4B\" endpoint 1 vid 100 tagged bw-profile 2 allowed-vlan 15-20",
            ],
        );
        {
            let d = lock(&dev);
            assert_eq!(d.running.ports[2].name, "Riser A");
            assert!(d.running.ports[2].shutdown);
            assert_eq!(d.running.profiles[&2].upstream_mbps, 1000);
            assert!(d.running.endpoints[&1].allow_management_access);
            assert_eq!(d.running.subscribers[&1].name, "Unit 4B");
            assert_eq!(d.running.subscribers[&1].allowed_vlans.len(), 6);
        }
        quiet(
            &mut s,
            &[
                "no ghn port 3 shutdown",
                "no ghn endpoint 1 allow-management-access",
                "no ghn subscriber 1 endpoint",
                "no ghn endpoint 1 port",
            ],
        );
        {
            let d = lock(&dev);
            assert!(!d.running.ports[2].shutdown);
            assert!(!d.running.endpoints[&1].allow_management_access);
            assert_eq!(d.running.subscribers[&1].endpoint, None);
            assert_eq!(
                d.running.endpoints[&1].port,
                crate::lab::device::state::EndpointPort::Unassigned
            );
        }
        assert_eq!(
            out(&mut s, "no ghn bw-profile 2"),
            "% Invalid G.hn bandwidth profile\n"
        );
        quiet(
            &mut s,
            &[
                "no ghn subscriber 1",
                "no ghn bw-profile 2",
                "no ghn endpoint 1",
            ],
        );
        let d = lock(&dev);
        assert!(d.running.subscribers.is_empty());
        assert_eq!(d.running.profiles.len(), 1);
        assert!(d.running.endpoints.is_empty());
    }

    #[test]
    fn port_aware_session_on_copper() {
        let dev = share(DeviceState::factory(GamModel::Gam24M, "GAM"));
        let mut s = Session::new(Arc::clone(&dev));
        quiet(
            &mut s,
            &[
                "conf t",
                "ghn global subscriber-model port-aware",
                "ghn port 3 mode siso",
                "ghn subscriber 1 name \"Subscriber 2\" port 3 vid 1111 tagged remapped-vid 201 outer-vid 2800 allowed-vlan 301,302,310 bw-profile 1",
            ],
        );
        assert_eq!(
            out(&mut s, "ghn subscriber 2 port 3"),
            "% G.hn port is already assigned to another subscriber\n"
        );
        assert_eq!(
            out(&mut s, "ghn subscriber 2 endpoint 1"),
            "% Invalid G.hn subscriber model\n"
        );
        assert!(out(&mut s, "do show running-config").contains(
            "ghn subscriber 1 name \"Subscriber 2\" vid 1111 tagged remapped-vid 201 port 3 allowed-vlan 301-302,310 outer-vid 2800\n"
        ));
        assert!(out(&mut s, "do show ghn subscriber 1").contains("\nPort Id: 3\n"));
        quiet(&mut s, &["no ghn subscriber 1 port"]);
        assert_eq!(lock(&dev).running.subscribers[&1].port, None);
        quiet(&mut s, &["ghn port 3 mode mimo"]);
        assert_eq!(
            lock(&dev).running.ports[2].mode,
            crate::lab::device::state::PortMode::Mimo
        );
    }

    #[test]
    fn rejected_commands_print_the_error_and_change_nothing() {
        let (dev, mut s) = gam12c();
        quiet(&mut s, &["conf t", "ghn subscriber 1 name a"]);
        let before = lock(&dev).clone();
        for (line, err) in [
            ("ghn subscriber 2 name a", "Non-unique G.hn subscriber name"),
            (
                "ghn subscriber 2 endpoint 5",
                "Non-existing G.hn endpoint (no such endpoint configured)",
            ),
            ("ghn subscriber 2 vid 3841", "Invalid G.hn data VLAN id"),
            (
                "ghn subscriber 2 allowed-vlan 100-115",
                "Too many allowed tagged VLAN",
            ),
            ("ghn subscriber 2 outer-vid 2", "Invalid outer tag VID"),
            (
                "ghn subscriber 2 nni 10GigabitEthernet 1/2 port 3",
                "Invalid G.hn subscriber model",
            ),
            (
                "ghn subscriber 2 nni G.hn 1/2",
                "Specified NNI port is not uplink",
            ),
            (
                "ghn bw-profile 2 name x rate-downstream 2000",
                "Invalid G.hn bandwidth profile downstream bandwidth",
            ),
            (
                "ghn bw-profile 2 name x rate-upstream 5",
                "Invalid G.hn bandwidth profile upstream bandwidth",
            ),
            ("ghn port 1 mode mimo", "Invalid G.hn port mode"),
            ("ghn endpoint 1 name x", "Invalid G.hn endpoint MAC address"),
            ("no ghn subscriber 9", "Non-existing G.hn subscriber"),
            (
                "no ghn endpoint 9",
                "Non-existing G.hn endpoint (no such endpoint configured)",
            ),
            ("no ghn bw-profile 1", "Invalid G.hn bandwidth profile"),
            (
                "ghn global subscriber-model port-aware",
                "Invalid G.hn subscriber model",
            ),
        ] {
            assert_eq!(out(&mut s, line), format!("% {err}\n"), "{line}");
            assert_eq!(*lock(&dev), before, "{line}");
        }
    }

    #[test]
    fn copy_and_reload() {
        let (dev, mut s) = gam12c();
        quiet(
            &mut s,
            &[
                "conf t",
                "ghn bw-profile 2 name \"1G\" rate-downstream 1000 rate-upstream 1000",
                "end",
            ],
        );
        let r = s.execute("copy running-config startup-config");
        let n = lock(&dev).startup.len();
        assert_eq!(
            r.text,
            format!("Building configuration...\n% Saving {n} bytes to flash: startup-config\n")
        );
        assert!(!lock(&dev).is_dirty());
        assert_eq!(
            out(&mut s, "show startup-config"),
            lock(&dev).startup.clone()
        );
        // An unsaved change...
        quiet(
            &mut s,
            &[
                "conf t",
                "ghn bw-profile 3 name \"500M\" rate-downstream 545 rate-upstream 545",
                "end",
            ],
        );
        assert!(lock(&dev).is_dirty());
        // ...a save that is refused while another runs...
        lock(&dev).set_save_in_progress(true);
        assert_eq!(
            out(&mut s, "copy run start"),
            "% Another load/save operation is already in progress\n"
        );
        lock(&dev).set_save_in_progress(false);
        // ...is lost on reload.
        let r = s.execute("reload cold");
        assert!(r.close);
        assert_eq!(r.text, "% Cold reload in progress, please stand by.\n");
        let mut d = lock(&dev);
        assert!(d.take_reboot_request());
        assert!(!d.take_reboot_request());
        assert!(d.running.profiles.contains_key(&2));
        assert!(!d.running.profiles.contains_key(&3));
    }

    #[test]
    fn fault_hook_fails_the_next_matching_command() {
        let (dev, mut s) = gam12c();
        lock(&dev).fail_next_command(
            "ghn subscriber",
            "% Error querying G.hn device. May be missing or busy.",
        );
        quiet(&mut s, &["conf t", "ghn bw-profile 2 name a"]);
        assert_eq!(
            out(&mut s, "ghn subscriber 1 vid 100"),
            "% Error querying G.hn device. May be missing or busy.\n"
        );
        assert!(lock(&dev).running.subscribers.is_empty());
        quiet(&mut s, &["ghn subscriber 1 vid 100"]);
        assert_eq!(lock(&dev).running.subscribers[&1].vid, 100);
    }

    #[test]
    fn sessions_share_the_device() {
        let (dev, mut a) = gam12c();
        let mut b = Session::new(Arc::clone(&dev));
        quiet(&mut a, &["conf t", "ghn bw-profile 2 name shared"]);
        assert!(out(&mut b, "show ghn bw-profile 2").starts_with("Name: shared\n"));
        assert_eq!(b.prompt(), "GAM#");
    }

    #[test]
    fn show_outputs_follow_the_guide() {
        let (dev, mut s) = gam12c();
        assert_eq!(
            out(&mut s, "show ghn bw-profile 1"),
            "Name: Default BW Profile\nDescription:\nDS: 10 Mbps\nUS: 10 Mbps\n"
        );
        assert_eq!(
            out(&mut s, "show ghn port 12 configuration"),
            "Enable: Yes\nName:\nMAC: 00:0e:d8:1a:85:d5\nMode: COAX\n"
        );
        assert_eq!(
            out(&mut s, "show ghn port 12 status"),
            "Active Links: 0\nDiscovered Endpoint MAC:\n"
        );
        assert!(
            out(&mut s, "show ghn port 12 statistics")
                .starts_with("Port: 12\n\nInfo\n----\ntx_bytes          : 0\n")
        );
        quiet(
            &mut s,
            &[
                "conf t",
                "ghn endpoint 1 mac-address 00:0e:d8:19:97:e6 port 12",
                "ghn subscriber 1 name s4 endpoint 1 vid 4093 bw-profile unthrottled",
                "end",
            ],
        );
        assert_eq!(
            out(&mut s, "show ghn subscriber 1"),
            "Name: s4\nDescription:\nVlan: 4093 Untagged\nEndpoint Id: 1\nBW profile Id: None\nAllowed Vlan:\n\
             Remapped Vlan: None\nPort2 Vlan: None\nDouble Tags: No\nOuter Vlan: None\nNNI: Default\nPoE: Enable\n"
        );
        assert_eq!(
            out(&mut s, "show ghn endpoint 1 configuration"),
            "MAC: 00:0e:d8:19:97:e6\nName: Positron_1997E6\nDescription:\nManagement Access: No\nGAM port Id: 12\n"
        );
        assert_eq!(
            out(&mut s, "show ghn endpoint 1 status"),
            "% Endpoint not found on any ports\n"
        );
        assert_eq!(
            out(&mut s, "show ghn endpoint 2"),
            "% Non-existing G.hn endpoint (no such endpoint configured)\n"
        );
        assert_eq!(
            out(&mut s, "show ghn subscriber 2"),
            "% Non-existing G.hn subscriber\n"
        );
        assert_eq!(
            out(&mut s, "show ghn bw-profile 2"),
            "% Non-existing G.hn bandwidth profile\n"
        );

        let mut stranger = DetectedCpe::walk_example();
        stranger.mac = "00:0e:d8:13:00:e2".parse().unwrap();
        stranger.port = 1;
        lock(&dev).detect_cpe(DetectedCpe::walk_example());
        lock(&dev).detect_cpe(stranger);
        assert_eq!(
            out(&mut s, "show ghn discover all"),
            "Port  MACAddress         Configured  IsUP\n\
             -----------------------------------------\n \
             1    00:0E:D8:13:00:E2  no          no\n\
             12    00:0E:D8:19:97:E6  yes         yes\n"
        );
        assert_eq!(
            out(&mut s, "show ghn port 12 status"),
            "Active Links: 1\nDiscovered Endpoint MAC:\n     00:0e:d8:19:97:e6\n"
        );
        let detail = out(&mut s, "show ghn endpoint 1 status detail");
        assert!(detail.starts_with(
            "Discovered Endpoint on G.hn port 12\nEndpoint MAC: 00:0e:d8:19:97:e6\n\n"
        ));
        assert!(detail.contains("\nModel                                  : G1001-C\n"));
        assert!(detail.contains("\nDownstream Current Allocated Bandwidth : 1407 Mbps\n"));
        assert!(detail.contains("\nUptime                                 : 4 days, 23h 13m 1s\n"));
        let brief = out(&mut s, "show ghn endpoint 1 status");
        assert!(
            brief.contains("\nState                                  : Ok\n"),
            "{brief}"
        );
        assert_eq!(lock(&dev).endpoint_state(1), Some(EndpointState::Ok));
    }

    /// The configuration of the real GAM-12-C walk, typed as an operator (or gamops) would.
    #[test]
    fn scripted_session_reproduces_the_real_walk() {
        let (dev, mut s) = gam12c();
        quiet(
            &mut s,
            &[
                "terminal length 0",
                "configure terminal",
                "ghn bw-profile 2 name \"1G\" description \"1G/1G\" rate-downstream 1000 rate-upstream 1000",
                "ghn bw-profile 3 name \"500M\" description \"500M/500M\" rate-downstream 545 rate-upstream 545",
                "ghn bw-profile 4 name \"250M\" description \"250M/250M\" rate-downstream 270 rate-upstream 270",
                "ghn bw-profile 5 name \"100M\" description \"100M/100M\" rate-downstream 118 rate-upstream 118",
                "ghn endpoint 1 name \"Positron_1997E6\" mac-address 00:0e:d8:19:97:e6 description \"C#\" port 12",
                "ghn subscriber 1 name \"C#\" description \"C#\" vid 1409 untagged endpoint 1 bw-profile 3 outer-vid 120 poe disable",
                "end",
            ],
        );
        assert!(out(&mut s, "copy running-config startup-config").contains("% Saving"));
        let shown = out(&mut s, "show running-config");
        assert_eq!(
            shown,
            "Building configuration...\nhostname GAM\n!\n\
             ghn bw-profile 2 name \"1G\" description \"1G/1G\" rate-downstream 1000 rate-upstream 1000\n\
             ghn bw-profile 3 name \"500M\" description \"500M/500M\" rate-downstream 545 rate-upstream 545\n\
             ghn bw-profile 4 name \"250M\" description \"250M/250M\" rate-downstream 270 rate-upstream 270\n\
             ghn bw-profile 5 name \"100M\" description \"100M/100M\" rate-downstream 118 rate-upstream 118\n\
             ghn endpoint 1 name \"Positron_1997E6\" mac-address 00:0e:d8:19:97:e6 description \"C#\" port 12\n\
             ghn subscriber 1 name \"C#\" description \"C#\" vid 1409 endpoint 1 bw-profile 3 outer-vid 120 poe disable\n\
             !\nend\n"
        );
        let d = lock(&dev);
        let sub = &d.running.subscribers[&1];
        assert!(sub.double_tags());
        assert_eq!(sub.outer_vid, Some(120));
        assert_eq!(sub.nni_ifindex, None);
        assert_eq!(d.running.global.default_nni_ifindex, 1_000_013);
        // Saved: a reload keeps it all.
        let mut after = d.clone();
        after.reload().unwrap();
        assert_eq!(after.running, d.running);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_input_never_panics(line in "\\PC{0,80}") {
            let (_, mut s) = gam12c();
            let _ = s.execute(&line);
            s.execute("conf t");
            let _ = s.execute(&line);
            let _ = s.execute(&format!("ghn subscriber 1 {line}"));
            let _ = s.execute(&format!("no ghn {line}"));
        }

        #[test]
        fn keyword_soup_never_panics(words in proptest::collection::vec(
            proptest::sample::select(vec![
                "ghn", "no", "subscriber", "endpoint", "bw-profile", "port", "1", "12", "384",
                "vid", "name", "\"a b\"", "\"", "none", "nni", "10g", "1/1", "outer-vid", "do",
                "show", "run", "allowed-vlan", "1-4095", "mac-address", "00:0e:d8:00:00:01",
                "global", "subscriber-model", "port-aware", "end", "exit", "reload", "cold",
            ]),
            0..12,
        )) {
            let (dev, mut s) = gam12c();
            s.execute("conf t");
            let _ = s.execute(&words.join(" "));
            // Whatever happened, the configuration still renders and parses back.
            let d = lock(&dev).clone();
            let text = config::render(&d.running);
            let mut back = crate::lab::device::state::RunningConfig::factory(d.model, "GAM");
            proptest::prop_assert!(config::apply_text(&mut back, &text).is_ok());
        }
    }
}
