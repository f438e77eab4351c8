//! The status report for people (text: one table per device, problems first, coloured on a
//! terminal) and for programs (JSON, `schemas/status.schema.json`).

use std::fmt::Write as _;

use super::status::{DeviceReport, EndpointReport, EndpointState, FleetStatus};
use crate::device::printable;
use crate::device::status::Uptime;
use crate::plan::render::Colour;

/// The report as JSON (pretty, one trailing newline).
pub fn json(report: &FleetStatus) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}

struct Paint(Colour);

impl Paint {
    fn code(&self, code: &str, s: &str) -> String {
        match self.0 {
            Colour::Always if !s.is_empty() => format!("\x1b[{code}m{s}\x1b[0m"),
            _ => s.to_string(),
        }
    }
    fn red(&self, s: &str) -> String {
        self.code("31", s)
    }
    fn green(&self, s: &str) -> String {
        self.code("32", s)
    }
    fn bold(&self, s: &str) -> String {
        self.code("1", s)
    }
}

/// The report as text: per device a heading, its own problems, and a table of its endpoints.
pub fn text(report: &FleetStatus, colour: Colour) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    if report.devices.is_empty() {
        out.push_str("nothing to show\n");
    }
    for (i, d) in report.devices.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        device(&mut out, d, &paint);
    }
    let unreachable = report.devices.iter().filter(|d| !d.reachable).count();
    let endpoint_problems: usize = report
        .devices
        .iter()
        .map(DeviceReport::endpoint_problems)
        .sum();
    let device_problems: usize = report.devices.iter().map(|d| d.problems.len()).sum();
    let _ = writeln!(
        out,
        "\n{} device{}, {unreachable} unreachable; {} device problem{}, {} endpoint{} with problems",
        report.devices.len(),
        plural(report.devices.len()),
        device_problems,
        plural(device_problems),
        endpoint_problems,
        plural(endpoint_problems),
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn device(out: &mut String, d: &DeviceReport, paint: &Paint) {
    let mut head = vec![paint.bold(&d.device)];
    if !d.reachable {
        head.push(paint.red("unreachable"));
    }
    if let Some(m) = &d.model {
        head.push(m.clone());
    }
    if let Some(f) = &d.firmware {
        head.push(format!("firmware {}", printable(f)));
    }
    if let Some(s) = d.uptime_s {
        head.push(format!("up {}", duration(s)));
    }
    if let Some(t) = d.temperature_c {
        head.push(format!("{t:.1} °C"));
    }
    let n = d.problems.len() + d.endpoint_problems();
    if n > 0 {
        head.push(paint.red(&format!("{n} problem{}", plural(n))));
    }
    let _ = writeln!(out, "{}", head.join("  "));
    for p in &d.problems {
        let _ = writeln!(out, "  {} {}", paint.red("!"), printable(&p.message));
    }
    if !d.reachable {
        return;
    }
    if d.endpoints.is_empty() {
        let _ = writeln!(out, "  no endpoints");
        return;
    }
    let header = [
        "SUBSCRIBER",
        "STATE",
        "PORT",
        "PHY DOWN/UP",
        "USABLE",
        "PLAN",
        "WIRE",
        "FIRMWARE",
        "UPTIME",
        "PROBLEMS",
    ];
    let rows: Vec<[String; 10]> = d.endpoints.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // The header has no state (`None`) and is not coloured.
    let line = |cells: [String; 10], problems: bool, state: Option<EndpointState>| -> String {
        let mut s = String::from(" ");
        let last = cells.len() - 1;
        for (i, (cell, w)) in cells.into_iter().zip(widths).enumerate() {
            let pad = if i == last {
                String::new()
            } else {
                " ".repeat(w.saturating_sub(cell.chars().count()))
            };
            let shown = match i {
                1 if state == Some(EndpointState::Ok) => paint.green(&cell),
                1 if state.is_some() => paint.red(&cell),
                9 if problems => paint.red(&cell),
                _ => cell,
            };
            s.push(' ');
            s.push_str(&shown);
            if i != last {
                s.push_str(&pad);
                s.push(' ');
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header.map(str::to_string), false, None));
    for (e, r) in d.endpoints.iter().zip(rows) {
        let _ = writeln!(out, "{}", line(r, !e.problems.is_empty(), Some(e.state)));
    }
}

fn row(e: &EndpointReport) -> [String; 10] {
    let dash = || "-".to_string();
    let pair = |a: Option<u32>, b: Option<u32>| match (a, b) {
        (Some(a), Some(b)) => format!("{a}/{b}"),
        _ => dash(),
    };
    let who = match (&e.subscriber, e.mac) {
        (Some(s), _) => s.clone(),
        (None, Some(mac)) => mac.to_string(),
        (None, None) => dash(),
    };
    let plan = match (&e.plan, e.plan_down_mbps, e.plan_up_mbps) {
        (Some(p), Some(d), Some(u)) => format!("{p} {d}/{u}"),
        (Some(p), _, _) => p.clone(),
        (None, _, _) if e.subscriber.is_some() => "unthrottled".to_string(),
        _ => dash(),
    };
    let mut firmware = e.firmware.as_deref().map_or_else(dash, short_firmware);
    if e.firmware_mismatch {
        firmware.push_str(" (mismatch)");
    }
    [
        who,
        e.state.as_str().to_string(),
        e.port.map_or_else(dash, |p| p.to_string()),
        pair(e.phy_down_mbps, e.phy_up_mbps),
        pair(e.usable_down_mbps, e.usable_up_mbps),
        plan,
        e.wire_length_m.map_or_else(dash, |m| format!("{m} m")),
        firmware,
        e.uptime.as_ref().map_or_else(dash, uptime),
        e.problems
            .iter()
            .map(|p| printable(&p.message).into_owned())
            .collect::<Vec<_>>()
            .join("; "),
    ]
}

/// `G1001C-CPE-P2MP SPIRIT.v7_10_r713+7_positron_24260` → `v7_10_r713+7`: the release, which is
/// what tells two CPEs apart in a table.
fn short_firmware(f: &str) -> String {
    let last = f.rsplit(' ').next().unwrap_or(f);
    let release = last.strip_prefix("SPIRIT.").unwrap_or(last);
    let release = release.split("_positron").next().unwrap_or(release);
    printable(release).into_owned()
}

fn uptime(u: &Uptime) -> String {
    match u.seconds {
        Some(s) => duration(s),
        None => format!("unknown ({:?})", printable(&u.text)),
    }
}

/// `53d 14h`, `4h 2m`, `12m 5s`, `9s`.
fn duration(s: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        assert_eq!(
            short_firmware("G1001C-CPE-P2MP SPIRIT.v7_10_r713+7_positron_24260"),
            "v7_10_r713+7"
        );
        assert_eq!(short_firmware("odd\u{1b}[2J"), "odd\\u{1b}[2J");
        assert_eq!(duration(429_181), "4d 23h");
        assert_eq!(duration(3_725), "1h 2m");
        assert_eq!(duration(65), "1m 5s");
        assert_eq!(
            uptime(&Uptime::parse("up a fortnight")),
            "unknown (\"up a fortnight\")"
        );
    }
}
