//! The running-config text: rendering it in the GAM's format and applying it back.
//!
//! The line formats follow a real GAM-4-CX on firmware 1.8:
//! `ghn endpoint 1 name "Positron_1C9508" mac-address 00:0e:d8:1c:95:08 port 4` and
//! `ghn subscriber 1 name "test" vid 100 endpoint 1 bw-profile unthrottled poe disable`.
//! Only values that differ from the defaults are printed (VLAN 4094, profile 1 and PoE enable
//! are the row defaults, which is why the real line shows `bw-profile unthrottled poe disable`).
//! Profiles 2..15 print all their fields; profile 1 prints only when changed.
//!
//! The text [`render`] makes is what `copy running-config startup-config` stores; `show
//! running-config` prints `Building configuration...` before it.

use std::fmt::Write as _;

use super::grammar::{self, Command, Context, Mode};
use super::rules::GhnError;
use super::state::{
    BwRef, DEFAULT_PROFILE_ID, DEFAULT_SUBSCRIBER_VID, EndpointPort, PORT_IFINDEX_BASE, PoeMode,
    PortMode, RunningConfig, StartupError, SubscriberModel, default_profile, first_uplink_ifindex,
};
use super::types::format_vlan_list;
use crate::model::Medium;

/// The ICLI name of a physical port's ifIndex, as the `nni` option takes it.
pub fn interface_name(cfg: &RunningConfig, ifindex: u32) -> String {
    let ghn = u32::from(cfg.port_count());
    let uplinks = u32::from(cfg.model.info().uplinks);
    let n = ifindex.saturating_sub(PORT_IFINDEX_BASE);
    if (1..=ghn).contains(&n) {
        format!("G.hn 1/{n}")
    } else if (ghn + 1..=ghn + uplinks).contains(&n) {
        format!("10GigabitEthernet 1/{}", n - ghn)
    } else if n == ghn + uplinks + 1 {
        "GigabitEthernet 1/1".to_string()
    } else {
        format!("ifindex {ifindex}")
    }
}

/// Renders the configuration as the device saves it (hostname, `ghn` lines, `end`).
pub fn render(cfg: &RunningConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "hostname {}", cfg.hostname);
    out.push_str("!\n");
    render_global(cfg, &mut out);
    render_ports(cfg, &mut out);
    render_profiles(cfg, &mut out);
    render_endpoints(cfg, &mut out);
    render_subscribers(cfg, &mut out);
    out.push_str("!\nend\n");
    out
}

fn render_global(cfg: &RunningConfig, out: &mut String) {
    let g = &cfg.global;
    if g.subscriber_model == SubscriberModel::PortAware {
        out.push_str("ghn global subscriber-model port-aware\n");
    }
    if g.default_nni_ifindex != first_uplink_ifindex(cfg.model) {
        let _ = writeln!(
            out,
            "ghn global default-nni {}",
            interface_name(cfg, g.default_nni_ifindex)
        );
    }
    if !g.endpoint_auto_fw_upgrade {
        out.push_str("ghn global endpoint-auto-fw-upgrade disable\n");
    }
    if g.shelf_seed != 1 {
        let _ = writeln!(out, "ghn global shelf-seed {}", g.shelf_seed);
    }
}

fn render_ports(cfg: &RunningConfig, out: &mut String) {
    let default_mode = match cfg.model.medium() {
        Medium::Copper => PortMode::Mimo,
        Medium::Coax => PortMode::Coax,
    };
    for (i, p) in cfg.ports.iter().enumerate() {
        let mut line = String::new();
        if p.mode != default_mode {
            line.push_str(match p.mode {
                PortMode::Siso => " mode siso",
                PortMode::Mimo => " mode mimo",
                PortMode::Coax => "",
            });
        }
        if !p.name.is_empty() {
            let _ = write!(line, " name \"{}\"", p.name);
        }
        if p.shutdown {
            line.push_str(" shutdown");
        }
        if !line.is_empty() {
            let _ = writeln!(out, "ghn port {}{line}", i + 1);
        }
    }
}

fn render_profiles(cfg: &RunningConfig, out: &mut String) {
    for (id, p) in &cfg.profiles {
        if *id == DEFAULT_PROFILE_ID && *p == default_profile() {
            continue;
        }
        let _ = write!(out, "ghn bw-profile {id} name \"{}\"", p.name);
        if !p.description.is_empty() {
            let _ = write!(out, " description \"{}\"", p.description);
        }
        let _ = writeln!(
            out,
            " rate-downstream {} rate-upstream {}",
            p.downstream_mbps, p.upstream_mbps
        );
    }
}

fn render_endpoints(cfg: &RunningConfig, out: &mut String) {
    for (id, e) in &cfg.endpoints {
        let _ = write!(
            out,
            "ghn endpoint {id} name \"{}\" mac-address {}",
            e.name, e.mac
        );
        if !e.description.is_empty() {
            let _ = write!(out, " description \"{}\"", e.description);
        }
        match e.port {
            EndpointPort::Port(p) => {
                let _ = write!(out, " port {p}");
            }
            EndpointPort::Auto => out.push_str(" port auto"),
            EndpointPort::Unassigned => {}
        }
        if e.allow_management_access {
            out.push_str(" allow-management-access");
        }
        out.push('\n');
    }
}

fn render_subscribers(cfg: &RunningConfig, out: &mut String) {
    for (id, s) in &cfg.subscribers {
        let _ = write!(out, "ghn subscriber {id} name \"{}\"", s.name);
        if !s.description.is_empty() {
            let _ = write!(out, " description \"{}\"", s.description);
        }
        if s.vid != DEFAULT_SUBSCRIBER_VID {
            let _ = write!(out, " vid {}", s.vid);
        }
        if s.tagged {
            out.push_str(" tagged");
        }
        if let Some(v) = s.remapped_vid {
            let _ = write!(out, " remapped-vid {v}");
        }
        if let Some(e) = s.endpoint {
            let _ = write!(out, " endpoint {e}");
        }
        if let Some(p) = s.port {
            let _ = write!(out, " port {p}");
        }
        match s.bw_profile {
            BwRef::Unthrottled => out.push_str(" bw-profile unthrottled"),
            BwRef::Profile(p) if p != DEFAULT_PROFILE_ID => {
                let _ = write!(out, " bw-profile {p}");
            }
            BwRef::Profile(_) => {}
        }
        if !s.allowed_vlans.is_empty() {
            let _ = write!(out, " allowed-vlan {}", format_vlan_list(&s.allowed_vlans));
        }
        if let Some(v) = s.port2_vid {
            let _ = write!(out, " port2-vid {v}");
        }
        if let Some(v) = s.outer_vid {
            let _ = write!(out, " outer-vid {v}");
        }
        if let Some(n) = s.nni_ifindex {
            let _ = write!(out, " nni {}", interface_name(cfg, n));
        }
        match s.poe {
            PoeMode::Disable => out.push_str(" poe disable"),
            PoeMode::Force => out.push_str(" poe force"),
            PoeMode::Enable => {}
        }
        out.push('\n');
    }
}

/// The grammar context (port counts) of a configuration.
pub fn context(cfg: &RunningConfig) -> Context {
    Context {
        ghn_ports: cfg.port_count(),
        uplinks: cfg.model.info().uplinks,
    }
}

/// Runs one configuration command against `cfg`. Returns Ok(false) for commands that are not
/// configuration (mode changes, show, copy), which the caller handles.
pub fn apply_command(cfg: &mut RunningConfig, cmd: &Command) -> Result<bool, GhnError> {
    match cmd {
        Command::Hostname(h) => cfg.set_hostname(h),
        Command::Global(e) => cfg.set_global(e.clone())?,
        Command::Port(n, e) => cfg.set_port(*n, e.clone())?,
        Command::Profile(id, e) => cfg.set_profile(*id, e.clone())?,
        Command::NoProfile(id) => cfg.delete_profile(*id)?,
        Command::Endpoint(id, e) => cfg.set_endpoint(*id, e.clone())?,
        Command::NoEndpoint(id) => cfg.delete_endpoint(*id)?,
        Command::NoEndpointField(id, e) => cfg.edit_existing_endpoint(*id, e.clone())?,
        Command::Subscriber(id, e) => cfg.set_subscriber(*id, e.clone())?,
        Command::NoSubscriber(id) => cfg.delete_subscriber(*id)?,
        Command::NoSubscriberField(id, e) => cfg.edit_existing_subscriber(*id, e.clone())?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies the `hostname` and `ghn ...` lines of a saved configuration to `cfg`, in order.
/// Other lines (`!`, `end`, `Building configuration...`, other features' commands and their
/// indented sub-mode lines) are skipped. Stops at the first line that fails.
pub fn apply_text(cfg: &mut RunningConfig, text: &str) -> Result<(), StartupError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if !(line.starts_with("ghn ") || line.starts_with("hostname ")) {
            continue;
        }
        let err = |message: String| StartupError {
            line: i + 1,
            message,
        };
        let cmd =
            grammar::parse(line, Mode::Config, context(cfg)).map_err(|e| err(format!("{e:?}")))?;
        apply_command(cfg, &cmd).map_err(|e| err(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::device::rules::{EndpointEdit, ProfileEdit, SubscriberEdit};
    use crate::lab::device::types::Mac;
    use crate::model::GamModel;

    fn walk_config() -> RunningConfig {
        let mut c = RunningConfig::factory(GamModel::Gam12C, "GAM");
        for (id, name, rate) in [
            (2, "1G", 1000),
            (3, "500M", 545),
            (4, "250M", 270),
            (5, "100M", 118),
        ] {
            c.set_profile(
                id,
                ProfileEdit {
                    name: Some(name.into()),
                    description: Some(format!("{name}/{name}")),
                    downstream_mbps: Some(rate),
                    upstream_mbps: Some(rate),
                },
            )
            .unwrap();
        }
        c.set_endpoint(
            1,
            EndpointEdit {
                mac: Some("00:0e:d8:19:97:e6".parse::<Mac>().unwrap()),
                description: Some("C#".into()),
                port: Some(EndpointPort::Port(12)),
                ..EndpointEdit::default()
            },
        )
        .unwrap();
        c.set_subscriber(
            1,
            SubscriberEdit {
                name: Some("C#".into()),
                description: Some("C#".into()),
                endpoint: Some(Some(1)),
                vid: Some(1409),
                bw_profile: Some(BwRef::Profile(3)),
                outer_vid: Some(Some(120)),
                poe: Some(PoeMode::Disable),
                ..SubscriberEdit::default()
            },
        )
        .unwrap();
        c
    }

    #[test]
    fn renders_the_real_line_formats() {
        let text = render(&walk_config());
        let expected = "\
hostname GAM
!
ghn bw-profile 2 name \"1G\" description \"1G/1G\" rate-downstream 1000 rate-upstream 1000
ghn bw-profile 3 name \"500M\" description \"500M/500M\" rate-downstream 545 rate-upstream 545
ghn bw-profile 4 name \"250M\" description \"250M/250M\" rate-downstream 270 rate-upstream 270
ghn bw-profile 5 name \"100M\" description \"100M/100M\" rate-downstream 118 rate-upstream 118
ghn endpoint 1 name \"Positron_1997E6\" mac-address 00:0e:d8:19:97:e6 description \"C#\" port 12
ghn subscriber 1 name \"C#\" description \"C#\" vid 1409 endpoint 1 bw-profile 3 outer-vid 120 poe disable
!
end
";
        assert_eq!(text, expected);
    }

    #[test]
    fn the_documented_subscriber_line_renders_verbatim() {
        let mut c = RunningConfig::factory(GamModel::Gam4Cx, "GAM");
        let line1 = "ghn endpoint 1 name \"Positron_1C9508\" mac-address 00:0e:d8:1c:95:08 port 4";
        let line2 =
            "ghn subscriber 1 name \"test\" vid 100 endpoint 1 bw-profile unthrottled poe disable";
        apply_text(&mut c, &format!("{line1}\n{line2}\n")).unwrap();
        let text = render(&c);
        assert!(text.contains(&format!("{line1}\n{line2}\n")), "{text}");
    }

    #[test]
    fn render_parse_round_trip() {
        let mut c = walk_config();
        c.set_global(crate::lab::device::rules::GlobalEdit {
            default_nni_ifindex: Some(1_000_014),
            endpoint_auto_fw_upgrade: Some(false),
            shelf_seed: Some(3),
            ..Default::default()
        })
        .unwrap();
        c.set_hostname("bldg-12-gam1");
        c.set_port(
            2,
            crate::lab::device::rules::PortEdit {
                name: Some("Riser A".into()),
                shutdown: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        c.set_profile(
            1,
            ProfileEdit {
                downstream_mbps: Some(20),
                ..Default::default()
            },
        )
        .unwrap();
        c.set_endpoint(
            2,
            EndpointEdit {
                mac: Some("00:0e:d8:00:00:02".parse().unwrap()),
                name: Some("Unit 4B".into()),
                port: Some(EndpointPort::Auto),
                allow_management_access: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        c.set_endpoint(
            3,
            EndpointEdit {
                mac: Some("00:0e:d8:00:00:03".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        c.set_subscriber(
            2,
            SubscriberEdit {
                endpoint: Some(Some(2)),
                vid: Some(300),
                tagged: Some(true),
                remapped_vid: Some(Some(301)),
                bw_profile: Some(BwRef::Unthrottled),
                allowed_vlans: Some(vec![15, 16, 17, 40]),
                port2_vid: Some(Some(302)),
                outer_vid: Some(Some(2800)),
                nni_ifindex: Some(Some(1_000_014)),
                poe: Some(PoeMode::Force),
                ..Default::default()
            },
        )
        .unwrap();
        c.set_subscriber(3, SubscriberEdit::default()).unwrap();
        let text = render(&c);
        let mut back = RunningConfig::factory(GamModel::Gam12C, "GAM");
        apply_text(&mut back, &text).unwrap();
        assert_eq!(back, c, "{text}");
        assert_eq!(render(&back), text);
    }

    #[test]
    fn port_aware_round_trip_on_copper() {
        let mut c = RunningConfig::factory(GamModel::Gam24M, "GAM");
        apply_text(
            &mut c,
            "ghn global subscriber-model port-aware\nghn port 3 mode siso\nghn subscriber 1 port 3 vid 1111\n",
        )
        .unwrap();
        let text = render(&c);
        assert!(text.contains("ghn port 3 mode siso\n"));
        assert!(text.contains("ghn subscriber 1 name \"1\" vid 1111 port 3\n"));
        let mut back = RunningConfig::factory(GamModel::Gam24M, "GAM");
        apply_text(&mut back, &text).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn apply_skips_foreign_lines_and_reports_bad_ones() {
        let mut c = RunningConfig::factory(GamModel::Gam12C, "GAM");
        let text = "Building configuration...\nhostname x\nusername admin privilege 15 password none\n!\ninterface 10GigabitEthernet 1/1\n switchport mode trunk\n!\nghn bw-profile 2 name \"a\" rate-downstream 5\nend\n";
        let err = apply_text(&mut c, text).unwrap_err();
        assert_eq!(err.line, 8);
        assert_eq!(
            err.message,
            "Invalid G.hn bandwidth profile downstream bandwidth"
        );
        assert_eq!(c.hostname, "x");
    }

    #[test]
    fn interface_names() {
        let c = RunningConfig::factory(GamModel::Gam12C, "GAM");
        assert_eq!(interface_name(&c, 1_000_001), "G.hn 1/1");
        assert_eq!(interface_name(&c, 1_000_013), "10GigabitEthernet 1/1");
        assert_eq!(interface_name(&c, 1_000_015), "GigabitEthernet 1/1");
        assert_eq!(interface_name(&c, 5), "ifindex 5");
    }
}
