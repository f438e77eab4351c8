//! `show ghn ...` output in the formats of the GAM CLI guide (§15) samples.
//!
//! Where the guide shows a sample, the same labels and layout are used. Lines the guide does
//! not show (Q-in-Q and PoE in `show ghn subscriber`, the brief `status` view) are lab
//! additions in the same style, listed after the documented ones.

use std::fmt::Write as _;

use super::config::interface_name;
use super::grammar::View;
use super::rules::GhnError;
use super::state::{
    BwRef, DeviceState, EndpointPort, EndpointState, PoeMode, PortMode, format_uptime,
};
use super::types::format_vlan_list;

/// `show ghn port <n> [configuration|statistics|status [detail]]`.
pub fn port(dev: &DeviceState, n: u8, view: View) -> Result<String, GhnError> {
    let p = dev.running.port(n).ok_or(GhnError::InvalidPort)?;
    let mut out = String::new();
    match view {
        View::Configuration => {
            let _ = writeln!(out, "Enable: {}", yes_no(!p.shutdown));
            push_field(&mut out, "Name", &p.name);
            let _ = writeln!(out, "MAC: {}", dev.port_mac(n));
            let mode = match p.mode {
                PortMode::Mimo => "MIMO",
                PortMode::Siso => "SISO",
                PortMode::Coax => "COAX",
            };
            let _ = writeln!(out, "Mode: {mode}");
        }
        View::Statistics => {
            let _ = writeln!(out, "Port: {n}\n\nInfo\n----");
            for k in [
                "tx_bytes",
                "rx_bytes",
                "tx_packets",
                "rx_packets",
                "out_queue_full",
                "tx_errors",
                "rx_errors",
            ] {
                let _ = writeln!(out, "{k:<18}: 0");
            }
            out.push_str("\nErrors\n------\n");
            for k in [
                "tx_collisions",
                "tx_max_collisions",
                "rx_errors",
                "rx_collisions",
                "rx_length_errors",
                "rx_storage_errors",
                "rx_fifo_errors",
                "rx_crc_errors",
            ] {
                let _ = writeln!(out, "{k:<18}: 0");
            }
        }
        View::Status | View::StatusDetail => {
            let seen: Vec<_> = dev.cpes_on_port(n).collect();
            let _ = writeln!(out, "Active Links: {}", seen.len());
            out.push_str("Discovered Endpoint MAC:\n");
            for c in seen {
                let _ = writeln!(out, "     {}", c.mac);
            }
        }
    }
    Ok(out)
}

/// `show ghn bw-profile <id> [configuration]`.
pub fn profile(dev: &DeviceState, id: u8) -> Result<String, GhnError> {
    let p = dev
        .running
        .profiles
        .get(&id)
        .ok_or(GhnError::NonExistingBwProfile)?;
    let mut out = String::new();
    push_field(&mut out, "Name", &p.name);
    push_field(&mut out, "Description", &p.description);
    let _ = writeln!(out, "DS: {} Mbps", p.downstream_mbps);
    let _ = writeln!(out, "US: {} Mbps", p.upstream_mbps);
    Ok(out)
}

/// `show ghn endpoint <id> [configuration|statistics|status [detail]]`.
pub fn endpoint(dev: &DeviceState, id: u16, view: View) -> Result<String, GhnError> {
    let e = dev
        .running
        .endpoints
        .get(&id)
        .ok_or(GhnError::NonExistingEndpoint)?;
    let mut out = String::new();
    match view {
        View::Configuration => {
            let _ = writeln!(out, "MAC: {}", e.mac);
            push_field(&mut out, "Name", &e.name);
            push_field(&mut out, "Description", &e.description);
            let _ = writeln!(
                out,
                "Management Access: {}",
                yes_no(e.allow_management_access)
            );
            let port = match e.port {
                EndpointPort::Port(p) => p.to_string(),
                EndpointPort::Auto => "Auto".to_string(),
                EndpointPort::Unassigned => "Unassigned".to_string(),
            };
            let _ = writeln!(out, "GAM port Id: {port}");
        }
        View::Statistics => {
            let _ = writeln!(out, "Endpoint: {id}\n\nInfo\n----");
            for k in ["tx_bytes", "rx_bytes", "tx_packets", "rx_packets"] {
                let _ = writeln!(out, "{k:<18}: 0");
            }
        }
        View::Status | View::StatusDetail => {
            let cpe = dev.cpe(e.mac).ok_or(GhnError::EndpointNotFound)?;
            let _ = writeln!(out, "Discovered Endpoint on G.hn port {}", cpe.port);
            let _ = writeln!(out, "Endpoint MAC: {}\n", cpe.mac);
            let state = dev.endpoint_state(id).unwrap_or(EndpointState::NotDetected);
            // Allocated bandwidth: the usable share of the PHY rate (about 78% on the real unit).
            let ds = cpe.rx_phy_mbps * 78 / 100;
            let us = cpe.tx_phy_mbps * 78 / 100;
            let row = |out: &mut String, k: &str, v: String| {
                let _ = writeln!(out, "{k:<38} : {v}");
            };
            if view == View::Status {
                row(&mut out, "State", state_text(state).to_string());
                row(&mut out, "Model", cpe.model.clone());
                row(
                    &mut out,
                    "Rx PHY Rate",
                    format!("{:4} Mbps", cpe.rx_phy_mbps),
                );
                row(
                    &mut out,
                    "Tx PHY Rate",
                    format!("{:4} Mbps", cpe.tx_phy_mbps),
                );
                row(&mut out, "Uptime", format_uptime(cpe.uptime_secs));
            } else {
                row(&mut out, "Model", cpe.model.clone());
                row(&mut out, "Serial no", cpe.serial.clone());
                row(&mut out, "FW Version", cpe.firmware.clone());
                row(
                    &mut out,
                    "Downstream Current Allocated Bandwidth",
                    format!("{ds:4} Mbps"),
                );
                row(
                    &mut out,
                    "Upstream Current Allocated Bandwidth",
                    format!("{us:4} Mbps"),
                );
                row(
                    &mut out,
                    "Downstream Max Allocatable Bandwidth",
                    format!("{ds:4} Mbps"),
                );
                row(
                    &mut out,
                    "Upstream Max Allocatable Bandwidth",
                    format!("{us:4} Mbps"),
                );
                row(
                    &mut out,
                    "Downstream Current Usage",
                    format!("{:4} Mbps", 0),
                );
                row(&mut out, "Upstream Current Usage", format!("{:4} Mbps", 0));
                row(
                    &mut out,
                    "Downstream Number of Allocated Bands",
                    "1".to_string(),
                );
                row(
                    &mut out,
                    "Upstream Number of Allocated Bands",
                    "1".to_string(),
                );
                row(
                    &mut out,
                    "Estimated Wire Length",
                    format!("{} m", cpe.wire_length_m),
                );
                row(&mut out, "Uptime", format_uptime(cpe.uptime_secs));
            }
        }
    }
    Ok(out)
}

fn state_text(s: EndpointState) -> &'static str {
    match s {
        EndpointState::NotDetected => "Not detected",
        EndpointState::Ok => "Ok",
        EndpointState::QuarantinedWrongPort => "Quarantined (wrong port)",
        EndpointState::QuarantinedUnknownMac => "Quarantined (unknown MAC)",
    }
}

/// `show ghn subscriber <id> [configuration]`.
pub fn subscriber(dev: &DeviceState, id: u16) -> Result<String, GhnError> {
    let s = dev
        .running
        .subscribers
        .get(&id)
        .ok_or(GhnError::NonExistingSubscriber)?;
    let mut out = String::new();
    push_field(&mut out, "Name", &s.name);
    push_field(&mut out, "Description", &s.description);
    let _ = writeln!(
        out,
        "Vlan: {} {}",
        s.vid,
        if s.tagged { "Tagged" } else { "Untagged" }
    );
    let _ = writeln!(out, "Endpoint Id: {}", opt(s.endpoint));
    if let Some(p) = s.port {
        let _ = writeln!(out, "Port Id: {p}");
    }
    let bw = match s.bw_profile {
        BwRef::Unthrottled => "None".to_string(),
        BwRef::Profile(p) => p.to_string(),
    };
    let _ = writeln!(out, "BW profile Id: {bw}");
    push_field(
        &mut out,
        "Allowed Vlan",
        &format_vlan_list(&s.allowed_vlans),
    );
    let _ = writeln!(out, "Remapped Vlan: {}", opt(s.remapped_vid));
    let _ = writeln!(out, "Port2 Vlan: {}", opt(s.port2_vid));
    let _ = writeln!(out, "Double Tags: {}", yes_no(s.double_tags()));
    let _ = writeln!(out, "Outer Vlan: {}", opt(s.outer_vid));
    let nni = s.nni_ifindex.map_or_else(
        || "Default".to_string(),
        |n| interface_name(&dev.running, n),
    );
    let _ = writeln!(out, "NNI: {nni}");
    let poe = match s.poe {
        PoeMode::Disable => "Disable",
        PoeMode::Enable => "Enable",
        PoeMode::Force => "Force",
    };
    let _ = writeln!(out, "PoE: {poe}");
    Ok(out)
}

/// `show ghn discover all`: every CPE seen, configured or not.
pub fn discover(dev: &DeviceState) -> String {
    let mut out = String::from(
        "Port  MACAddress         Configured  IsUP\n-----------------------------------------\n",
    );
    let mut cpes: Vec<_> = dev.visible_cpes().collect();
    cpes.sort_by_key(|c| (c.port, c.mac));
    for c in cpes {
        let configured = dev.endpoint_id_by_mac(c.mac).is_some();
        let up = dev.cpe_state(c.mac) == Some(EndpointState::Ok);
        let _ = writeln!(
            out,
            "{:>2}    {}  {:<11} {}",
            c.port,
            c.mac.upper(),
            yes_no_lower(configured),
            yes_no_lower(up)
        );
    }
    out
}

fn push_field(out: &mut String, label: &str, value: &str) {
    if value.is_empty() {
        let _ = writeln!(out, "{label}:");
    } else {
        let _ = writeln!(out, "{label}: {value}");
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "None".to_string(), |v| v.to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b { "Yes" } else { "No" }
}

fn yes_no_lower(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
