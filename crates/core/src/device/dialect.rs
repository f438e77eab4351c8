//! The GAM's CLI dialect: every `ghn ...` line gamops sends is rendered here, and nowhere else,
//! because the syntax of some options differs by firmware.
//!
//! Each `set_*` line states every field explicitly (`remapped-vid none`, `outer-vid none`, ...),
//! so one line brings an object to a known state whatever it held before: the same line creates
//! a row, updates it, or (from a snapshot) puts it back during a rollback.
//!
//! Forms follow the GAM CLI guide (§15) and a real running-config
//! (`ghn subscriber 1 name "test" vid 100 endpoint 1 bw-profile unthrottled poe disable`). The
//! Q-in-Q options (`outer-vid`, `nni`) and the port-aware `port` option are not in the guide; the
//! forms here are the ones the lab accepts, to be checked against a device on the firmware in use.

use std::fmt::Write as _;

use crate::device::live::{
    EndpointBinding, LiveEndpoint, LivePort, LivePortMode, LiveProfile, LiveSubscriber, ProfileRef,
};
use crate::model::SubscriberModel;

/// Commands around a change session.
pub const TERMINAL_LENGTH_0: &str = "terminal length 0";
pub const CONFIGURE: &str = "configure terminal";
pub const END: &str = "end";
pub const SAVE: &str = "copy running-config startup-config";
/// What a save prints when another save or load is running.
pub const SAVE_BUSY: &str = "Another load/save operation is already in progress";

/// A value that cannot be put into a command line safely: it holds a control character (a
/// newline would end the line and start another command) or a `"` (the CLI has no escape for it
/// inside a quoted string, so it would end the string early).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the value {} cannot be sent to the device: {reason}", escape_debug(.value))]
pub struct UnsafeValue {
    pub value: String,
    pub reason: &'static str,
}

/// The one check every string goes through before it enters a command line: control characters
/// and `"` are refused, anything else is written in double quotes (the ICLI rule: a quoted word
/// runs to the next `"`, with no escapes, and may hold spaces).
pub fn quote(value: &str) -> Result<String, UnsafeValue> {
    if value.chars().any(char::is_control) {
        return Err(UnsafeValue {
            value: value.to_string(),
            reason: "it holds a control character (such as a newline)",
        });
    }
    if value.contains('"') {
        return Err(UnsafeValue {
            value: value.to_string(),
            reason: "it holds a double quote, which the CLI cannot quote",
        });
    }
    Ok(format!("\"{value}\""))
}

/// A string as Rust's `escape_debug` writes it, in quotes: how a device's value is shown in
/// messages, so a newline or a terminal escape in it prints as `\n` or `\u{1b}`.
pub fn escape_debug(value: &str) -> String {
    format!("\"{}\"", value.escape_debug())
}

/// A VLAN list as the CLI takes it: `300-302,310`.
pub fn vlan_list(vids: &[u16]) -> String {
    let mut sorted = vids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// `ghn port N name ... mode ...`.
pub fn set_port(p: &LivePort) -> Result<String, UnsafeValue> {
    let mut line = format!("ghn port {} name {}", p.port, quote(&p.name)?);
    match p.mode {
        LivePortMode::Mimo => line.push_str(" mode mimo"),
        LivePortMode::Siso => line.push_str(" mode siso"),
        LivePortMode::Coax => {}
    }
    Ok(line)
}

/// `ghn bw-profile ID name ... description ... rate-downstream D rate-upstream U`.
pub fn set_profile(p: &LiveProfile) -> Result<String, UnsafeValue> {
    Ok(format!(
        "ghn bw-profile {} name {} description {} rate-downstream {} rate-upstream {}",
        p.id,
        quote(&p.name)?,
        quote(&p.description)?,
        p.down_mbps,
        p.up_mbps
    ))
}

pub fn delete_profile(id: u8) -> String {
    format!("no ghn bw-profile {id}")
}

/// `ghn endpoint ID name ... mac-address ... description ... port N|auto|unassigned`.
pub fn set_endpoint(e: &LiveEndpoint) -> Result<String, UnsafeValue> {
    let port = match e.binding {
        EndpointBinding::Port(n) => n.to_string(),
        EndpointBinding::Auto => "auto".to_string(),
        EndpointBinding::Unassigned => "unassigned".to_string(),
    };
    Ok(format!(
        "ghn endpoint {} name {} mac-address {} description {} port {port}",
        e.id,
        quote(&e.name)?,
        e.mac,
        quote(&e.description)?
    ))
}

pub fn delete_endpoint(id: u16) -> String {
    format!("no ghn endpoint {id}")
}

/// `ghn subscriber ID ...` with every option stated. `uplink_base` is the ifIndex before the
/// first 10G uplink (1000000 + the model's G.hn port count), to name the NNI.
pub fn set_subscriber(s: &LiveSubscriber, uplink_base: u32) -> Result<String, UnsafeValue> {
    let mut line = format!(
        "ghn subscriber {} name {} description {} vid {} {}",
        s.id,
        quote(&s.name)?,
        quote(&s.description)?,
        s.vlan,
        if s.tagged { "tagged" } else { "untagged" }
    );
    let _ = write!(
        line,
        " remapped-vid {}",
        s.remapped_vlan
            .map_or_else(|| "none".to_string(), |v| v.to_string())
    );
    if let Some(e) = s.endpoint_id {
        let _ = write!(line, " endpoint {e}");
    }
    if let Some(p) = s.port {
        let _ = write!(line, " port {p}");
    }
    match s.profile {
        ProfileRef::Unthrottled => line.push_str(" bw-profile unthrottled"),
        ProfileRef::Id(id) => {
            let _ = write!(line, " bw-profile {id}");
        }
    }
    if s.allowed_vlans.is_empty() {
        line.push_str(" allowed-vlan none");
    } else {
        let _ = write!(line, " allowed-vlan {}", vlan_list(&s.allowed_vlans));
    }
    match s.outer_vlan {
        Some(v) => {
            let _ = write!(line, " outer-vid {v}");
        }
        None => line.push_str(" outer-vid none"),
    }
    match s.nni_if_index.and_then(|i| i.checked_sub(uplink_base)) {
        Some(n) if n > 0 => {
            let _ = write!(line, " nni 10GigabitEthernet 1/{n}");
        }
        _ => line.push_str(" nni default"),
    }
    Ok(line)
}

pub fn delete_subscriber(id: u16) -> String {
    format!("no ghn subscriber {id}")
}

/// `ghn global subscriber-model {endpoint-aware|port-aware}`.
pub fn set_subscriber_model(model: SubscriberModel) -> String {
    let m = match model {
        SubscriberModel::EndpointAware => "endpoint-aware",
        SubscriberModel::PortAware => "port-aware",
    };
    format!("ghn global subscriber-model {m}")
}

/// `ghn global default-nni 10GigabitEthernet 1/N`; None when `if_index` is not an uplink after
/// `uplink_base` (1000000 + the model's G.hn port count), which no line can name.
pub fn set_default_nni(if_index: u32, uplink_base: u32) -> Option<String> {
    let n = if_index
        .checked_sub(uplink_base)
        .filter(|n| (1..=2).contains(n))?;
    Some(format!("ghn global default-nni 10GigabitEthernet 1/{n}"))
}

/// `ghn global endpoint-auto-fw-upgrade {enable|disable}`.
pub fn set_endpoint_auto_fw_upgrade(on: bool) -> String {
    format!(
        "ghn global endpoint-auto-fw-upgrade {}",
        if on { "enable" } else { "disable" }
    )
}

/// The device's complaint in a command's output: its `%` lines, joined.
pub fn error_in(output: &str) -> Option<String> {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('%') && !l.starts_with("% Saving"))
        .collect();
    // Shown to people and journalled: a terminal escape in the device's text is escaped.
    (!lines.is_empty()).then(|| crate::device::printable(&lines.join(" ")).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_render() {
        let e = LiveEndpoint {
            id: 1,
            mac: "00:0e:d8:1c:95:08".parse().unwrap(),
            name: "Positron_1C9508".into(),
            description: String::new(),
            binding: EndpointBinding::Port(4),
        };
        assert_eq!(
            set_endpoint(&e).unwrap(),
            "ghn endpoint 1 name \"Positron_1C9508\" mac-address 00:0e:d8:1c:95:08 description \"\" port 4"
        );
        let s = crate::device::live::walk_example().subscribers.remove(0);
        assert_eq!(
            set_subscriber(&s, 1_000_012).unwrap(),
            "ghn subscriber 1 name \"C#\" description \"C#\" vid 1409 untagged remapped-vid none endpoint 1 bw-profile 3 allowed-vlan none outer-vid 120 nni default"
        );
        let p = LiveProfile {
            id: 3,
            name: "500M".into(),
            description: "500M/500M".into(),
            down_mbps: 545,
            up_mbps: 545,
        };
        assert_eq!(
            set_profile(&p).unwrap(),
            "ghn bw-profile 3 name \"500M\" description \"500M/500M\" rate-downstream 545 rate-upstream 545"
        );
        assert_eq!(delete_subscriber(7), "no ghn subscriber 7");
    }

    #[test]
    fn every_string_is_checked_and_quoted() {
        assert_eq!(quote("Unit 4B").unwrap(), "\"Unit 4B\"");
        assert_eq!(quote("").unwrap(), "\"\"");
        for bad in [
            "x\nno ghn subscriber 1\n!",
            "a\rb",
            "\u{1b}[2J",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            let e = quote(bad).unwrap_err();
            assert!(e.reason.contains("control"), "{bad:?}: {e}");
            assert!(
                !e.to_string().contains('\n'),
                "the message shows the value escaped: {e}"
            );
        }
        assert!(
            quote("say \"hi\"")
                .unwrap_err()
                .reason
                .contains("double quote")
        );
    }

    #[test]
    fn global_settings_render_one_line_each() {
        assert_eq!(
            set_subscriber_model(SubscriberModel::PortAware),
            "ghn global subscriber-model port-aware"
        );
        assert_eq!(
            set_default_nni(1_000_026, 1_000_024).as_deref(),
            Some("ghn global default-nni 10GigabitEthernet 1/2")
        );
        assert_eq!(set_default_nni(1_000_012, 1_000_024), None);
        assert_eq!(set_default_nni(1_000_027, 1_000_024), None);
        assert_eq!(
            set_endpoint_auto_fw_upgrade(false),
            "ghn global endpoint-auto-fw-upgrade disable"
        );
    }

    #[test]
    fn a_description_from_the_device_cannot_become_a_second_command() {
        let mut s = crate::device::live::walk_example().subscribers.remove(0);
        s.description = "x\nno ghn subscriber 1\n!".into();
        assert!(set_subscriber(&s, 1_000_012).is_err());
        s.description = "a \"quoted\" word".into();
        assert!(set_subscriber(&s, 1_000_012).is_err());
        let mut e = LiveEndpoint {
            id: 1,
            mac: "00:0e:d8:1c:95:08".parse().unwrap(),
            name: "ok".into(),
            description: String::new(),
            binding: EndpointBinding::Auto,
        };
        e.name = "a\nb".into();
        assert!(set_endpoint(&e).is_err());
        let p = LiveProfile {
            id: 3,
            name: "500M".into(),
            description: "\r".into(),
            down_mbps: 1,
            up_mbps: 1,
        };
        assert!(set_profile(&p).is_err());
        let port = LivePort {
            port: 1,
            name: "\"".into(),
            mode: LivePortMode::Coax,
        };
        assert!(set_port(&port).is_err());
    }

    #[test]
    fn vlan_lists_use_ranges() {
        assert_eq!(vlan_list(&[310, 300, 301, 302]), "300-302,310");
        assert_eq!(vlan_list(&[]), "");
    }

    #[test]
    fn errors_are_the_percent_lines() {
        assert_eq!(
            error_in("gam1(config)# \n% Invalid G.hn subscriber name.\n"),
            Some("% Invalid G.hn subscriber name.".into())
        );
        assert_eq!(
            error_in("Building configuration...\n% Saving 1234 bytes to flash: startup-config\n"),
            None
        );
        assert_eq!(
            error_in("% Bad\u{1b}[2J name.\n"),
            Some("% Bad\\u{1b}[2J name.".into())
        );
    }
}
