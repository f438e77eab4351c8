//! The ICLI command grammar of the simulated GAM: text in, a [`Command`] out.
//!
//! It follows Microchip ICLI as the GAM uses it: keywords may be abbreviated to any unambiguous
//! prefix (`conf t`, `sh run`), strings may be quoted (`name "Unit 4B"`), numbers are checked
//! against their range at parse time, and a failure points at the offending word.
//! Parsing never changes state; `icli.rs` runs the command.

use super::rules::{EndpointEdit, GlobalEdit, PortEdit, ProfileEdit, SubscriberEdit};
use super::state::{
    BwRef, EndpointPort, MAX_ENDPOINTS, MAX_PROFILES, MAX_SUBSCRIBERS, PORT_IFINDEX_BASE, PoeMode,
    PortMode, SubscriberModel,
};
use super::types::{Mac, parse_vlan_list};

/// One word of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Character column where the word starts (for the `^` marker).
    pub col: usize,
    /// Written in double quotes: a string, never a keyword.
    pub quoted: bool,
}

/// Splits a line into words. A word that starts with `"` runs to the next `"` (or the end).
pub fn tokenize(line: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = line.chars().enumerate().peekable();
    while let Some(&(col, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        if c == '"' {
            chars.next();
            for (_, c) in chars.by_ref() {
                if c == '"' {
                    break;
                }
                text.push(c);
            }
            out.push(Token {
                text,
                col,
                quoted: true,
            });
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                text.push(c);
                chars.next();
            }
            out.push(Token {
                text,
                col,
                quoted: false,
            });
        }
    }
    out
}

/// Why a line did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyntaxError {
    /// `% Invalid word detected at '^' marker.`
    Invalid { col: usize },
    /// `% Ambiguous word detected at '^' marker.`
    Ambiguous { col: usize },
    /// `% Incomplete command.`
    Incomplete,
    /// A real GAM command the lab does not simulate.
    Unsupported { command: String },
}

/// The CLI mode a line is typed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `GAM#`
    Exec,
    /// `GAM(config)#`
    Config,
}

/// What `reload` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadKind {
    Cold,
    Warm,
}

/// What part of a port or endpoint `show ghn` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Configuration,
    Statistics,
    Status,
    StatusDetail,
}

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An empty line or a `!` comment.
    Nothing,
    ConfigureTerminal,
    TerminalLength(usize),
    TerminalWidth,
    /// `exit`: config → exec, exec → close.
    Exit,
    /// `logout`: close from any mode.
    Logout,
    /// `end`: back to exec.
    End,
    CopyRunningStartup,
    Reload(ReloadKind),
    ShowRunning,
    ShowStartup,
    ShowPort(u8, View),
    ShowEndpoint(u16, View),
    ShowSubscriber(u16),
    ShowProfile(u8),
    ShowDiscover,
    /// `do <exec command>` in config mode.
    Do(Box<Command>),
    Hostname(String),
    Global(GlobalEdit),
    Port(u8, PortEdit),
    Profile(u8, ProfileEdit),
    NoProfile(u8),
    Endpoint(u16, EndpointEdit),
    NoEndpoint(u16),
    /// `no ghn endpoint <id> port|allow-management-access`.
    NoEndpointField(u16, EndpointEdit),
    Subscriber(u16, SubscriberEdit),
    NoSubscriber(u16),
    /// `no ghn subscriber <id> endpoint|port`.
    NoSubscriberField(u16, SubscriberEdit),
}

/// Facts about the device that bound numeric ranges in the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub ghn_ports: u8,
    pub uplinks: u8,
}

/// The EXEC keywords of the GAM (CLI guide §1.2); the ones not simulated are reported as such.
const EXEC_WORDS: &[&str] = &[
    "clear",
    "configure",
    "copy",
    "delete",
    "dir",
    "disable",
    "do",
    "dot1x",
    "enable",
    "erps",
    "exit",
    "firmware",
    "ghn",
    "help",
    "ip",
    "ipv6",
    "link-oam",
    "logout",
    "more",
    "no",
    "ping",
    "platform",
    "ptp",
    "reboot",
    "reload",
    "rfc2544",
    "send",
    "show",
    "terminal",
    "veriphy",
];

/// Global configuration keywords (a subset of ICLI's; the ones not simulated are reported).
const CONFIG_WORDS: &[&str] = &[
    "aaa",
    "access",
    "banner",
    "clock",
    "controller",
    "do",
    "end",
    "exit",
    "ghn",
    "hostname",
    "interface",
    "ip",
    "ipv6",
    "lldp",
    "logging",
    "mac",
    "no",
    "ntp",
    "snmp-server",
    "spanning-tree",
    "username",
    "vlan",
];

const SHOW_WORDS: &[&str] = &[
    "access",
    "alarm",
    "clock",
    "ghn",
    "interface",
    "ip",
    "logging",
    "mac",
    "running-config",
    "snmp",
    "startup-config",
    "system",
    "terminal",
    "users",
    "version",
    "vlan",
];

const SHOW_GHN_WORDS: &[&str] = &[
    "bw-profile",
    "discover",
    "endpoint",
    "firmware",
    "maxsnr",
    "notch",
    "port",
    "subscriber",
    "vectorboost",
];

const GHN_CONFIG_WORDS: &[&str] = &[
    "bw-profile",
    "endpoint",
    "global",
    "notch",
    "port",
    "subscriber",
    "vectorboost",
];

/// Parses one line typed in `mode` (no output filter allowed).
pub fn parse(line: &str, mode: Mode, ctx: Context) -> Result<Command, SyntaxError> {
    parse_tokens(&tokenize(line), mode, ctx)
}

/// How an output modifier (`| include ghn`) filters a command's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// Only the lines that contain the pattern.
    Include,
    /// All but the lines that contain the pattern.
    Exclude,
    /// From the first line that contains the pattern on.
    Begin,
}

/// An ICLI output modifier: `<command> | {include|exclude|begin} <text>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub kind: FilterKind,
    /// The rest of the line after the keyword, as typed (case-sensitive).
    pub pattern: String,
}

impl Filter {
    /// Applies the filter to command output (lines ending in `\n`).
    pub fn apply(&self, text: &str) -> String {
        let mut out = String::new();
        let mut begun = false;
        for line in text.lines() {
            let hit = line.contains(&self.pattern);
            let keep = match self.kind {
                FilterKind::Include => hit,
                FilterKind::Exclude => !hit,
                FilterKind::Begin => {
                    begun |= hit;
                    begun
                }
            };
            if keep {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// Parses one line typed at the prompt: a command, optionally followed by `| <modifier>`.
pub fn parse_line(
    line: &str,
    mode: Mode,
    ctx: Context,
) -> Result<(Command, Option<Filter>), SyntaxError> {
    let toks = tokenize(line);
    let Some(bar) = toks.iter().position(|t| !t.quoted && t.text == "|") else {
        return Ok((parse_tokens(&toks, mode, ctx)?, None));
    };
    let (cmd_toks, rest) = toks.split_at(bar);
    let cmd = parse_tokens(cmd_toks, mode, ctx)?;
    let mut p = Parser {
        toks: rest,
        i: 1,
        ctx,
    };
    let kind = match p.kw(&["begin", "exclude", "include"])? {
        "begin" => FilterKind::Begin,
        "exclude" => FilterKind::Exclude,
        _ => FilterKind::Include,
    };
    let start = rest.get(2).ok_or(SyntaxError::Incomplete)?.col;
    let pattern: String = line.chars().skip(start).collect();
    Ok((
        cmd,
        Some(Filter {
            kind,
            pattern: pattern.trim_end().to_string(),
        }),
    ))
}

fn parse_tokens(toks: &[Token], mode: Mode, ctx: Context) -> Result<Command, SyntaxError> {
    let mut p = Parser { toks, i: 0, ctx };
    if p.at_end()
        || toks
            .first()
            .is_some_and(|t| !t.quoted && t.text.starts_with('!'))
    {
        return Ok(Command::Nothing);
    }
    let cmd = match mode {
        Mode::Exec => p.exec()?,
        Mode::Config => p.config()?,
    };
    p.finish()?;
    Ok(cmd)
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    ctx: Context,
}

fn unsupported(words: &[&str]) -> SyntaxError {
    SyntaxError::Unsupported {
        command: words.join(" "),
    }
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    fn next(&mut self) -> Result<&Token, SyntaxError> {
        let t = self.toks.get(self.i).ok_or(SyntaxError::Incomplete)?;
        self.i += 1;
        Ok(t)
    }

    /// The column of the word just taken.
    fn last_col(&self) -> usize {
        self.i
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(0, |t| t.col)
    }

    fn finish(&self) -> Result<(), SyntaxError> {
        match self.toks.get(self.i) {
            Some(t) => Err(SyntaxError::Invalid { col: t.col }),
            None => Ok(()),
        }
    }

    /// Matches the next word against keywords: an exact word wins, else a unique prefix.
    fn kw(&mut self, opts: &[&'static str]) -> Result<&'static str, SyntaxError> {
        let t = self.next()?;
        match_keyword(t, opts)
    }

    /// A number in `lo..=hi`.
    fn num(&mut self, lo: u32, hi: u32) -> Result<u32, SyntaxError> {
        let t = self.next()?;
        parse_num(t, lo, hi)
    }

    /// A number in range, or one of some keywords.
    fn num_or_kw(
        &mut self,
        lo: u32,
        hi: u32,
        opts: &[&'static str],
    ) -> Result<NumOrKw, SyntaxError> {
        let t = self.next()?;
        if !t.quoted && !t.text.is_empty() && t.text.bytes().all(|b| b.is_ascii_digit()) {
            parse_num(t, lo, hi).map(NumOrKw::Num)
        } else {
            match_keyword(t, opts).map(NumOrKw::Kw)
        }
    }

    /// A string argument (quoted or a bare word). A bare word may not contain `"`, and no
    /// string may hold control characters, so that every accepted string renders back into
    /// one line that parses the same.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let t = self.next()?;
        if (!t.quoted && t.text.contains('"')) || t.text.chars().any(char::is_control) {
            return Err(SyntaxError::Invalid { col: t.col });
        }
        Ok(t.text.clone())
    }

    fn exec(&mut self) -> Result<Command, SyntaxError> {
        // `do` is a no-op in EXEC mode; a loop, not recursion, so `do do do ...` cannot
        // exhaust the stack.
        let mut word = self.kw(EXEC_WORDS)?;
        while word == "do" {
            word = self.kw(EXEC_WORDS)?;
        }
        match word {
            "configure" => {
                self.kw(&["terminal"])?;
                Ok(Command::ConfigureTerminal)
            }
            "terminal" => match self.kw(&["length", "width"])? {
                "length" => Ok(Command::TerminalLength(self.num(0, 512)? as usize)),
                _ => {
                    self.num(0, 512)?;
                    Ok(Command::TerminalWidth)
                }
            },
            "exit" => Ok(Command::Exit),
            "logout" => Ok(Command::Logout),
            "copy" => self.copy(),
            "reload" => match self.kw(&["cold", "defaults", "warm"])? {
                "cold" => Ok(Command::Reload(ReloadKind::Cold)),
                "warm" => Ok(Command::Reload(ReloadKind::Warm)),
                other => Err(unsupported(&["reload", other])),
            },
            "show" => self.show(),
            other => Err(unsupported(&[other])),
        }
    }

    fn copy(&mut self) -> Result<Command, SyntaxError> {
        let src = self.kw(&["running-config", "startup-config"])?;
        let dst = self.kw(&["running-config", "startup-config"])?;
        match (src, dst) {
            ("running-config", "startup-config") => Ok(Command::CopyRunningStartup),
            ("startup-config", "running-config") => {
                Err(unsupported(&["copy", "startup-config", "running-config"]))
            }
            _ => Err(SyntaxError::Invalid {
                col: self.last_col(),
            }),
        }
    }

    fn show(&mut self) -> Result<Command, SyntaxError> {
        match self.kw(SHOW_WORDS)? {
            "running-config" => Ok(Command::ShowRunning),
            "startup-config" => Ok(Command::ShowStartup),
            "ghn" => self.show_ghn(),
            other => Err(unsupported(&["show", other])),
        }
    }

    fn show_ghn(&mut self) -> Result<Command, SyntaxError> {
        match self.kw(SHOW_GHN_WORDS)? {
            "port" => {
                let n = self.num(1, u32::from(self.ctx.ghn_ports))? as u8;
                Ok(Command::ShowPort(n, self.view()?))
            }
            "endpoint" => {
                let id = self.num(1, u32::from(MAX_ENDPOINTS))? as u16;
                Ok(Command::ShowEndpoint(id, self.view()?))
            }
            "subscriber" => {
                let id = self.num(1, u32::from(MAX_SUBSCRIBERS))? as u16;
                if !self.at_end() {
                    self.kw(&["configuration"])?;
                }
                Ok(Command::ShowSubscriber(id))
            }
            "bw-profile" => {
                let id = self.num(1, u32::from(MAX_PROFILES))? as u8;
                if !self.at_end() {
                    self.kw(&["configuration"])?;
                }
                Ok(Command::ShowProfile(id))
            }
            "discover" => {
                self.kw(&["all"])?;
                Ok(Command::ShowDiscover)
            }
            other => Err(unsupported(&["show", "ghn", other])),
        }
    }

    /// `[configuration | statistics | status [detail]]`; configuration when absent.
    fn view(&mut self) -> Result<View, SyntaxError> {
        if self.at_end() {
            return Ok(View::Configuration);
        }
        Ok(match self.kw(&["configuration", "statistics", "status"])? {
            "configuration" => View::Configuration,
            "statistics" => View::Statistics,
            _ if self.at_end() => View::Status,
            _ => {
                self.kw(&["detail"])?;
                View::StatusDetail
            }
        })
    }

    fn config(&mut self) -> Result<Command, SyntaxError> {
        match self.kw(CONFIG_WORDS)? {
            "do" => Ok(Command::Do(Box::new(self.exec()?))),
            "end" => Ok(Command::End),
            "exit" => Ok(Command::Exit),
            "hostname" => {
                let t = self.next()?;
                let ok = !t.quoted
                    && (1..=45).contains(&t.text.len())
                    && t.text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
                if ok {
                    Ok(Command::Hostname(t.text.clone()))
                } else {
                    Err(SyntaxError::Invalid { col: t.col })
                }
            }
            "ghn" => self.ghn(),
            "no" => self.no(),
            other => Err(unsupported(&[other])),
        }
    }

    fn port_number(&mut self) -> Result<u8, SyntaxError> {
        Ok(self.num(1, u32::from(self.ctx.ghn_ports))? as u8)
    }

    fn ghn(&mut self) -> Result<Command, SyntaxError> {
        match self.kw(GHN_CONFIG_WORDS)? {
            "port" => self.ghn_port(),
            "bw-profile" => self.ghn_profile(),
            "endpoint" => self.ghn_endpoint(),
            "subscriber" => self.ghn_subscriber(),
            "global" => self.ghn_global(),
            other => Err(unsupported(&["ghn", other])),
        }
    }

    fn ghn_port(&mut self) -> Result<Command, SyntaxError> {
        let n = self.port_number()?;
        let mut e = PortEdit::default();
        while !self.at_end() {
            match self.kw(&["mode", "name", "shutdown"])? {
                "mode" => {
                    e.mode = Some(match self.kw(&["mimo", "siso"])? {
                        "mimo" => PortMode::Mimo,
                        _ => PortMode::Siso,
                    })
                }
                "name" => e.name = Some(self.string()?),
                _ => e.shutdown = Some(true),
            }
        }
        Ok(Command::Port(n, e))
    }

    fn ghn_profile(&mut self) -> Result<Command, SyntaxError> {
        let id = self.num(1, u32::from(MAX_PROFILES))? as u8;
        let mut e = ProfileEdit::default();
        while !self.at_end() {
            match self.kw(&["description", "name", "rate-downstream", "rate-upstream"])? {
                "name" => e.name = Some(self.string()?),
                "description" => e.description = Some(self.string()?),
                // The range check is a rule (with its own error), so accept any u16 here.
                "rate-downstream" => e.downstream_mbps = Some(self.num(0, 65535)? as u16),
                _ => e.upstream_mbps = Some(self.num(0, 65535)? as u16),
            }
        }
        Ok(Command::Profile(id, e))
    }

    fn ghn_endpoint(&mut self) -> Result<Command, SyntaxError> {
        let id = self.num(1, u32::from(MAX_ENDPOINTS))? as u16;
        let mut e = EndpointEdit::default();
        while !self.at_end() {
            match self.kw(&[
                "allow-management-access",
                "description",
                "mac-address",
                "name",
                "port",
            ])? {
                "name" => e.name = Some(self.string()?),
                "description" => e.description = Some(self.string()?),
                "mac-address" => {
                    let t = self.next()?;
                    let mac: Mac = t
                        .text
                        .parse()
                        .map_err(|_| SyntaxError::Invalid { col: t.col })?;
                    e.mac = Some(mac);
                }
                "port" => {
                    let max = u32::from(self.ctx.ghn_ports);
                    e.port = Some(match self.num_or_kw(1, max, &["auto", "unassigned"])? {
                        NumOrKw::Num(n) => EndpointPort::Port(n as u8),
                        NumOrKw::Kw("auto") => EndpointPort::Auto,
                        NumOrKw::Kw(_) => EndpointPort::Unassigned,
                    })
                }
                _ => e.allow_management_access = Some(true),
            }
        }
        Ok(Command::Endpoint(id, e))
    }

    fn vid(&mut self) -> Result<u16, SyntaxError> {
        Ok(self.num(1, 4095)? as u16)
    }

    fn vid_or_none(&mut self) -> Result<Option<u16>, SyntaxError> {
        Ok(match self.num_or_kw(1, 4095, &["none"])? {
            NumOrKw::Num(v) => Some(v as u16),
            NumOrKw::Kw(_) => None,
        })
    }

    /// An interface for Q-in-Q: `10GigabitEthernet 1/<n>`, `GigabitEthernet 1/1` or
    /// `G.hn 1/<n>`, as an ifIndex.
    fn interface(&mut self) -> Result<u32, SyntaxError> {
        let kind = self.kw(&["10GigabitEthernet", "G.hn", "GigabitEthernet"])?;
        let t = self.next()?;
        let bad = SyntaxError::Invalid { col: t.col };
        let (unit, port) = t.text.split_once('/').ok_or(bad.clone())?;
        if unit != "1" || t.quoted {
            return Err(bad);
        }
        let port: u32 = port.parse().map_err(|_| bad.clone())?;
        let ghn = u32::from(self.ctx.ghn_ports);
        let uplinks = u32::from(self.ctx.uplinks);
        let (max, base) = match kind {
            "G.hn" => (ghn, PORT_IFINDEX_BASE),
            "10GigabitEthernet" => (uplinks, PORT_IFINDEX_BASE + ghn),
            _ => (1, PORT_IFINDEX_BASE + ghn + uplinks),
        };
        if port == 0 || port > max {
            return Err(bad);
        }
        Ok(base + port)
    }

    fn ghn_subscriber(&mut self) -> Result<Command, SyntaxError> {
        let id = self.num(1, u32::from(MAX_SUBSCRIBERS))? as u16;
        let mut e = SubscriberEdit::default();
        while !self.at_end() {
            match self.kw(&[
                "allowed-vlan",
                "bw-profile",
                "description",
                "endpoint",
                "name",
                "nni",
                "outer-vid",
                "poe",
                "port",
                "port2-vid",
                "remapped-vid",
                "tagged",
                "untagged",
                "vid",
            ])? {
                "name" => e.name = Some(self.string()?),
                "description" => e.description = Some(self.string()?),
                "endpoint" => {
                    e.endpoint = Some(Some(self.num(1, u32::from(MAX_ENDPOINTS))? as u16))
                }
                "port" => e.port = Some(Some(self.port_number()?)),
                "vid" => e.vid = Some(self.vid()?),
                "tagged" => e.tagged = Some(true),
                "untagged" => e.tagged = Some(false),
                "remapped-vid" => e.remapped_vid = Some(self.vid_or_none()?),
                "port2-vid" => e.port2_vid = Some(self.vid_or_none()?),
                "outer-vid" => e.outer_vid = Some(self.vid_or_none()?),
                "bw-profile" => {
                    let max = u32::from(MAX_PROFILES);
                    e.bw_profile = Some(match self.num_or_kw(1, max, &["unthrottled"])? {
                        NumOrKw::Num(n) => BwRef::Profile(n as u8),
                        NumOrKw::Kw(_) => BwRef::Unthrottled,
                    })
                }
                "allowed-vlan" => {
                    let t = self.next()?;
                    let list = if !t.quoted && "none".starts_with(&t.text.to_ascii_lowercase()) {
                        Vec::new()
                    } else {
                        parse_vlan_list(&t.text).ok_or(SyntaxError::Invalid { col: t.col })?
                    };
                    e.allowed_vlans = Some(list);
                }
                "nni" => {
                    let is_default = self
                        .toks
                        .get(self.i)
                        .is_some_and(|t| match_keyword(t, &["default"]).is_ok());
                    e.nni_ifindex = Some(if is_default {
                        self.i += 1;
                        None
                    } else {
                        Some(self.interface()?)
                    });
                }
                _ => {
                    e.poe = Some(match self.kw(&["disable", "enable", "force"])? {
                        "disable" => PoeMode::Disable,
                        "enable" => PoeMode::Enable,
                        _ => PoeMode::Force,
                    })
                }
            }
        }
        Ok(Command::Subscriber(id, e))
    }

    fn ghn_global(&mut self) -> Result<Command, SyntaxError> {
        let mut e = GlobalEdit::default();
        match self.kw(&[
            "default-nni",
            "endpoint-auto-fw-upgrade",
            "shelf-seed",
            "subscriber-model",
        ])? {
            "subscriber-model" => {
                e.subscriber_model = Some(match self.kw(&["endpoint-aware", "port-aware"])? {
                    "endpoint-aware" => SubscriberModel::EndpointAware,
                    _ => SubscriberModel::PortAware,
                })
            }
            "default-nni" => e.default_nni_ifindex = Some(self.interface()?),
            "endpoint-auto-fw-upgrade" => {
                e.endpoint_auto_fw_upgrade = Some(self.kw(&["disable", "enable"])? == "enable")
            }
            _ => e.shelf_seed = Some(self.num(1, 255)? as u8),
        }
        Ok(Command::Global(e))
    }

    fn no(&mut self) -> Result<Command, SyntaxError> {
        // `no hostname` restores the factory name.
        if self.kw(&["ghn", "hostname"])? == "hostname" {
            return Ok(Command::Hostname("GAM".to_string()));
        }
        match self.kw(GHN_CONFIG_WORDS)? {
            "port" => {
                let n = self.port_number()?;
                self.kw(&["shutdown"])?;
                Ok(Command::Port(
                    n,
                    PortEdit {
                        shutdown: Some(false),
                        ..PortEdit::default()
                    },
                ))
            }
            "bw-profile" => Ok(Command::NoProfile(
                self.num(1, u32::from(MAX_PROFILES))? as u8
            )),
            "endpoint" => {
                let id = self.num(1, u32::from(MAX_ENDPOINTS))? as u16;
                if self.at_end() {
                    return Ok(Command::NoEndpoint(id));
                }
                let edit = match self.kw(&["allow-management-access", "port"])? {
                    "port" => EndpointEdit {
                        port: Some(EndpointPort::Unassigned),
                        ..EndpointEdit::default()
                    },
                    _ => EndpointEdit {
                        allow_management_access: Some(false),
                        ..EndpointEdit::default()
                    },
                };
                Ok(Command::NoEndpointField(id, edit))
            }
            "subscriber" => {
                let id = self.num(1, u32::from(MAX_SUBSCRIBERS))? as u16;
                if self.at_end() {
                    return Ok(Command::NoSubscriber(id));
                }
                let edit = match self.kw(&["endpoint", "port"])? {
                    "endpoint" => SubscriberEdit {
                        endpoint: Some(None),
                        ..SubscriberEdit::default()
                    },
                    _ => SubscriberEdit {
                        port: Some(None),
                        ..SubscriberEdit::default()
                    },
                };
                Ok(Command::NoSubscriberField(id, edit))
            }
            other => Err(unsupported(&["no", "ghn", other])),
        }
    }
}

enum NumOrKw {
    Num(u32),
    Kw(&'static str),
}

fn match_keyword(t: &Token, opts: &[&'static str]) -> Result<&'static str, SyntaxError> {
    if t.quoted || t.text.is_empty() {
        return Err(SyntaxError::Invalid { col: t.col });
    }
    let word = t.text.to_ascii_lowercase();
    if let Some(exact) = opts.iter().find(|o| o.eq_ignore_ascii_case(&word)) {
        return Ok(exact);
    }
    let mut hits = opts
        .iter()
        .filter(|o| o.to_ascii_lowercase().starts_with(&word));
    match (hits.next(), hits.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(SyntaxError::Ambiguous { col: t.col }),
        _ => Err(SyntaxError::Invalid { col: t.col }),
    }
}

fn parse_num(t: &Token, lo: u32, hi: u32) -> Result<u32, SyntaxError> {
    let bad = SyntaxError::Invalid { col: t.col };
    if t.quoted || t.text.is_empty() || !t.text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    let n: u32 = t.text.parse().map_err(|_| bad.clone())?;
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: Context = Context {
        ghn_ports: 12,
        uplinks: 2,
    };

    fn exec(s: &str) -> Result<Command, SyntaxError> {
        parse(s, Mode::Exec, CTX)
    }

    fn conf(s: &str) -> Result<Command, SyntaxError> {
        parse(s, Mode::Config, CTX)
    }

    #[test]
    fn tokenizer_handles_quotes_and_columns() {
        let t = tokenize(r#"  ghn subscriber 1 name "Unit 4B" x"#);
        let words: Vec<_> = t
            .iter()
            .map(|t| (t.text.as_str(), t.col, t.quoted))
            .collect();
        assert_eq!(
            words,
            vec![
                ("ghn", 2, false),
                ("subscriber", 6, false),
                ("1", 17, false),
                ("name", 19, false),
                ("Unit 4B", 24, true),
                ("x", 34, false),
            ]
        );
        let t = tokenize(r#"name "open"#);
        assert_eq!(t[1].text, "open");
        assert!(t[1].quoted);
        assert_eq!(tokenize(r#""""#)[0].text, "");
    }

    #[test]
    fn abbreviations() {
        assert_eq!(exec("conf t"), Ok(Command::ConfigureTerminal));
        assert_eq!(exec("sh run"), Ok(Command::ShowRunning));
        assert_eq!(exec("SH START"), Ok(Command::ShowStartup));
        assert_eq!(exec("copy run start"), Ok(Command::CopyRunningStartup));
        assert_eq!(exec("ter len 0"), Ok(Command::TerminalLength(0)));
        assert_eq!(exec("reload c"), Ok(Command::Reload(ReloadKind::Cold)));
        assert_eq!(exec("sh g sub 3 conf"), Ok(Command::ShowSubscriber(3)));
        assert_eq!(
            conf("gh bw 2 rate-d 100"),
            Ok(Command::Profile(
                2,
                ProfileEdit {
                    downstream_mbps: Some(100),
                    ..ProfileEdit::default()
                }
            ))
        );
    }

    #[test]
    fn ambiguous_invalid_incomplete() {
        // c: clear, configure, copy.
        assert_eq!(exec("c t"), Err(SyntaxError::Ambiguous { col: 0 }));
        assert_eq!(exec("show bogus"), Err(SyntaxError::Invalid { col: 5 }));
        assert_eq!(exec("configure"), Err(SyntaxError::Incomplete));
        assert_eq!(
            exec("configure terminal extra"),
            Err(SyntaxError::Invalid { col: 19 })
        );
        // port vs port2-vid vs poe.
        assert_eq!(
            conf("ghn subscriber 1 p 3"),
            Err(SyntaxError::Ambiguous { col: 17 })
        );
        // The exact word wins over a longer keyword with the same prefix.
        assert!(conf("ghn global subscriber-model port-aware").is_ok());
        assert_eq!(conf("ghn subscriber 1 vid"), Err(SyntaxError::Incomplete));
        assert_eq!(
            conf("ghn subscriber 385"),
            Err(SyntaxError::Invalid { col: 15 })
        );
        assert_eq!(
            conf("ghn subscriber 0"),
            Err(SyntaxError::Invalid { col: 15 })
        );
        assert_eq!(conf("ghn port 13"), Err(SyntaxError::Invalid { col: 9 }));
        assert_eq!(
            conf("ghn subscriber x"),
            Err(SyntaxError::Invalid { col: 15 })
        );
        assert_eq!(
            conf("ghn subscriber 99999999999999999999"),
            Err(SyntaxError::Invalid { col: 15 })
        );
        assert_eq!(
            conf(r#""ghn" port 1"#),
            Err(SyntaxError::Invalid { col: 0 })
        );
        assert_eq!(
            conf(r#"ghn subscriber 1 name a"b"#),
            Err(SyntaxError::Invalid { col: 22 })
        );
        assert_eq!(
            conf("ghn subscriber 1 name \"a\tb\""),
            Err(SyntaxError::Invalid { col: 22 })
        );
        assert_eq!(
            exec("ghn port 1"),
            Err(SyntaxError::Unsupported {
                command: "ghn".into()
            })
        );
        assert_eq!(conf("show run"), Err(SyntaxError::Invalid { col: 0 }));
    }

    #[test]
    fn output_filters() {
        let (cmd, f) = parse_line("sh run | inc ghn sub", Mode::Exec, CTX).unwrap();
        assert_eq!(cmd, Command::ShowRunning);
        let f = f.unwrap();
        assert_eq!(f.kind, FilterKind::Include);
        assert_eq!(f.pattern, "ghn sub");
        let text = "a\nghn sub 1\nb\nghn sub 2\n";
        assert_eq!(f.apply(text), "ghn sub 1\nghn sub 2\n");
        let ex = Filter {
            kind: FilterKind::Exclude,
            pattern: "ghn".into(),
        };
        assert_eq!(ex.apply(text), "a\nb\n");
        let begin = Filter {
            kind: FilterKind::Begin,
            pattern: "sub 1".into(),
        };
        assert_eq!(begin.apply(text), "ghn sub 1\nb\nghn sub 2\n");
        assert_eq!(
            parse_line("sh run |", Mode::Exec, CTX),
            Err(SyntaxError::Incomplete)
        );
        assert_eq!(
            parse_line("sh run | include", Mode::Exec, CTX),
            Err(SyntaxError::Incomplete)
        );
        assert_eq!(
            parse_line("sh run | grep x", Mode::Exec, CTX),
            Err(SyntaxError::Invalid { col: 9 })
        );
        assert_eq!(
            parse_line("sh bogus | include x", Mode::Exec, CTX),
            Err(SyntaxError::Invalid { col: 3 })
        );
        // A quoted bar is a string, not a modifier.
        assert!(matches!(
            parse_line("ghn subscriber 1 name \"|\"", Mode::Config, CTX),
            Ok((Command::Subscriber(1, _), None))
        ));
    }

    #[test]
    fn deep_do_chains_do_not_recurse() {
        let line = format!("{}show run", "do ".repeat(100_000));
        assert_eq!(exec(&line), Ok(Command::ShowRunning));
        assert_eq!(
            conf(&format!("do {line}")),
            Ok(Command::Do(Box::new(Command::ShowRunning)))
        );
    }

    #[test]
    fn comments_and_blank_lines() {
        assert_eq!(exec(""), Ok(Command::Nothing));
        assert_eq!(exec("   "), Ok(Command::Nothing));
        assert_eq!(conf("! a comment"), Ok(Command::Nothing));
    }

    #[test]
    fn subscriber_options() {
        let c = conf(
            r#"ghn subscriber 1 name "C#" description "C#" vid 1409 untagged endpoint 1 bw-profile 3 remapped-vid none allowed-vlan 15-20,30 port2-vid 200 outer-vid 120 nni 10GigabitEthernet 1/2 poe disable"#,
        )
        .unwrap();
        let Command::Subscriber(1, e) = c else {
            panic!("{c:?}")
        };
        assert_eq!(e.name.as_deref(), Some("C#"));
        assert_eq!(e.vid, Some(1409));
        assert_eq!(e.tagged, Some(false));
        assert_eq!(e.endpoint, Some(Some(1)));
        assert_eq!(e.bw_profile, Some(BwRef::Profile(3)));
        assert_eq!(e.remapped_vid, Some(None));
        assert_eq!(e.allowed_vlans, Some(vec![15, 16, 17, 18, 19, 20, 30]));
        assert_eq!(e.port2_vid, Some(Some(200)));
        assert_eq!(e.outer_vid, Some(Some(120)));
        assert_eq!(e.nni_ifindex, Some(Some(1_000_014)));
        assert_eq!(e.poe, Some(PoeMode::Disable));
        let Ok(Command::Subscriber(_, e)) =
            conf("ghn subscriber 2 nni default allowed-vlan none bw-profile unthrottled")
        else {
            panic!()
        };
        assert_eq!(e.nni_ifindex, Some(None));
        assert_eq!(e.allowed_vlans, Some(vec![]));
        assert_eq!(e.bw_profile, Some(BwRef::Unthrottled));
        assert_eq!(
            conf("ghn subscriber 2 nni 10g 1/3"),
            Err(SyntaxError::Invalid { col: 25 })
        );
        assert!(conf("ghn subscriber 2 nni gigabitethernet 1/1").is_ok());
        assert!(conf("ghn subscriber 2 nni G.hn 1/12").is_ok());
    }

    #[test]
    fn endpoint_and_no_forms() {
        let Ok(Command::Endpoint(1, e)) = conf(
            "ghn endpoint 1 name EP1 mac-address 11:2F:1F:A1:CC:DE description \"Apt1\" port auto allow-management-access",
        ) else {
            panic!()
        };
        assert_eq!(e.port, Some(EndpointPort::Auto));
        assert_eq!(e.allow_management_access, Some(true));
        assert_eq!(
            conf("ghn endpoint 1 mac-address 11:2F"),
            Err(SyntaxError::Invalid { col: 27 })
        );
        assert_eq!(conf("no ghn endpoint 4"), Ok(Command::NoEndpoint(4)));
        assert!(matches!(
            conf("no ghn endpoint 4 port"),
            Ok(Command::NoEndpointField(4, _))
        ));
        assert_eq!(conf("no ghn subscriber 4"), Ok(Command::NoSubscriber(4)));
        assert!(matches!(
            conf("no ghn subscriber 4 endpoint"),
            Ok(Command::NoSubscriberField(4, _))
        ));
        assert_eq!(conf("no ghn bw-profile 2"), Ok(Command::NoProfile(2)));
        assert!(matches!(
            conf("no ghn port 2 shutdown"),
            Ok(Command::Port(2, _))
        ));
        assert_eq!(conf("no ghn port 2"), Err(SyntaxError::Incomplete));
    }

    #[test]
    fn show_views() {
        assert_eq!(
            exec("show ghn port 3"),
            Ok(Command::ShowPort(3, View::Configuration))
        );
        assert_eq!(
            exec("show ghn endpoint 3 status detail"),
            Ok(Command::ShowEndpoint(3, View::StatusDetail))
        );
        assert_eq!(
            exec("show ghn endpoint 3 st"),
            Err(SyntaxError::Ambiguous { col: 20 })
        );
        assert_eq!(exec("show ghn discover all"), Ok(Command::ShowDiscover));
        assert_eq!(
            conf("do show ghn bw-profile 1"),
            Ok(Command::Do(Box::new(Command::ShowProfile(1))))
        );
    }
}
