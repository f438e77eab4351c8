//! Reports for the people who sell and plan the network, from a status read and the inventory:
//!
//! - **capacity**: per device and port, the capacity sold (the sum of the subscribers' plan
//!   rates) against what the links measure (the sum of their maximum usable throughput), and
//!   every endpoint whose link carries less than its plan sells;
//! - **firmware**: how many GAMs and CPEs run each firmware, and the CPEs in mismatch;
//! - **plans**: how many subscribers each plan has, and the rate they are sold, fleet-wide and
//!   per device (from the inventory alone).
//!
//! Each renders as CSV (one table, a header row), JSON, or one HTML page whose charts are inline
//! SVG: no script, readable offline, printable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::{FleetStatus, ProblemKind};
use crate::model::Desired;

/// The version of the reports' JSON.
pub const FORMAT_VERSION: u32 = 1;

/// `gamops report capacity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CapacityReport {
    pub format_version: u32,
    pub devices: Vec<DeviceCapacity>,
    /// Endpoints whose link's maximum usable throughput is under their plan's rate.
    pub below_plan: Vec<BelowPlan>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceCapacity {
    pub device: String,
    /// Whether its status was read (an unreachable device sells what the inventory says and
    /// measures nothing).
    pub reachable: bool,
    pub totals: Capacity,
    pub ports: Vec<PortCapacity>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortCapacity {
    pub port: u8,
    pub capacity: Capacity,
}

/// Sold against measured, in Mbps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Capacity {
    /// Subscribers counted (unthrottled ones sell no rate).
    pub subscribers: u32,
    pub sold_down_mbps: u64,
    pub sold_up_mbps: u64,
    /// The sum of the seen links' maximum usable throughput.
    pub usable_down_mbps: u64,
    pub usable_up_mbps: u64,
}

impl Capacity {
    fn add(&mut self, other: &Capacity) {
        self.subscribers += other.subscribers;
        self.sold_down_mbps += other.sold_down_mbps;
        self.sold_up_mbps += other.sold_up_mbps;
        self.usable_down_mbps += other.usable_down_mbps;
        self.usable_up_mbps += other.usable_up_mbps;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BelowPlan {
    pub device: String,
    pub subscriber: String,
    pub port: Option<u8>,
    pub plan: String,
    pub plan_down_mbps: u32,
    pub plan_up_mbps: u32,
    pub usable_down_mbps: u32,
    pub usable_up_mbps: u32,
}

/// `gamops report firmware`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FirmwareReport {
    pub format_version: u32,
    /// GAM firmware (from sysDescr) → devices.
    pub gams: Vec<Count>,
    /// CPE firmware → seen CPEs.
    pub cpes: Vec<Count>,
    /// CPEs whose firmware differs from their GAM's.
    pub mismatches: Vec<Mismatch>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Count {
    pub value: String,
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Mismatch {
    pub device: String,
    /// The subscriber, or the CPE's MAC when no subscriber claims it.
    pub endpoint: String,
    pub firmware: String,
}

/// `gamops report plans`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlansReport {
    pub format_version: u32,
    pub plans: Vec<PlanUse>,
    pub by_device: Vec<DevicePlanUse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanUse {
    /// A plan name, or `unthrottled`.
    pub plan: String,
    pub subscribers: u32,
    /// The plan's rates (none for unthrottled or an unknown plan).
    pub down_mbps: Option<u32>,
    pub up_mbps: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DevicePlanUse {
    pub device: String,
    pub plan: String,
    pub subscribers: u32,
}

/// The capacity report of a status read.
pub fn capacity(status: &FleetStatus) -> CapacityReport {
    let mut devices = Vec::new();
    let mut below_plan = Vec::new();
    for d in &status.devices {
        let mut ports: BTreeMap<u8, Capacity> = BTreeMap::new();
        for e in &d.endpoints {
            let Some(port) = e.port else { continue };
            let c = ports.entry(port).or_default();
            if e.subscriber.is_some() {
                c.subscribers += 1;
                c.sold_down_mbps += u64::from(e.plan_down_mbps.unwrap_or(0));
                c.sold_up_mbps += u64::from(e.plan_up_mbps.unwrap_or(0));
            }
            c.usable_down_mbps += u64::from(e.usable_down_mbps.unwrap_or(0));
            c.usable_up_mbps += u64::from(e.usable_up_mbps.unwrap_or(0));
            if e.problems.iter().any(|p| p.kind == ProblemKind::BelowPlan)
                && let (Some(sub), Some(plan), Some(pd), Some(pu), Some(ud), Some(uu)) = (
                    &e.subscriber,
                    &e.plan,
                    e.plan_down_mbps,
                    e.plan_up_mbps,
                    e.usable_down_mbps,
                    e.usable_up_mbps,
                )
            {
                below_plan.push(BelowPlan {
                    device: d.device.clone(),
                    subscriber: sub.clone(),
                    port: e.port,
                    plan: plan.clone(),
                    plan_down_mbps: pd,
                    plan_up_mbps: pu,
                    usable_down_mbps: ud,
                    usable_up_mbps: uu,
                });
            }
        }
        let mut totals = Capacity::default();
        for c in ports.values() {
            totals.add(c);
        }
        devices.push(DeviceCapacity {
            device: d.device.clone(),
            reachable: d.reachable,
            totals,
            ports: ports
                .into_iter()
                .map(|(port, capacity)| PortCapacity { port, capacity })
                .collect(),
        });
    }
    CapacityReport {
        format_version: FORMAT_VERSION,
        devices,
        below_plan,
    }
}

fn counts(values: impl Iterator<Item = String>) -> Vec<Count> {
    let mut map: BTreeMap<String, u32> = BTreeMap::new();
    for v in values {
        *map.entry(v).or_default() += 1;
    }
    let mut out: Vec<Count> = map
        .into_iter()
        .map(|(value, count)| Count { value, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out
}

/// The firmware report of a status read.
pub fn firmware(status: &FleetStatus) -> FirmwareReport {
    let reachable = || status.devices.iter().filter(|d| d.reachable);
    FirmwareReport {
        format_version: FORMAT_VERSION,
        gams: counts(reachable().map(|d| d.firmware.clone().unwrap_or_else(|| "unknown".into()))),
        cpes: counts(
            reachable()
                .flat_map(|d| d.endpoints.iter())
                .filter_map(|e| e.firmware.clone()),
        ),
        mismatches: reachable()
            .flat_map(|d| {
                d.endpoints
                    .iter()
                    .filter(|e| e.firmware_mismatch)
                    .map(|e| Mismatch {
                        device: d.device.clone(),
                        endpoint: e.subscriber.clone().unwrap_or_else(|| {
                            e.mac.map_or_else(|| "?".to_string(), |m| m.to_string())
                        }),
                        firmware: e.firmware.clone().unwrap_or_default(),
                    })
            })
            .collect(),
    }
}

/// The plans report of the inventory's subscribers on `devices`.
pub fn plans(desired: &Desired, devices: &[String]) -> PlansReport {
    let mut fleet: BTreeMap<String, u32> = BTreeMap::new();
    let mut per_device: BTreeMap<(String, String), u32> = BTreeMap::new();
    for s in &desired.subscribers {
        if !devices.iter().any(|d| d == s.device.as_str()) {
            continue;
        }
        *fleet.entry(s.plan.to_string()).or_default() += 1;
        *per_device
            .entry((s.device.to_string(), s.plan.to_string()))
            .or_default() += 1;
    }
    let rates = |plan: &str| {
        desired
            .plans()
            .and_then(|p| p.get(plan))
            .map(|p| (u32::from(p.down_mbps.get()), u32::from(p.up_mbps.get())))
    };
    let mut plans: Vec<PlanUse> = fleet
        .into_iter()
        .map(|(plan, subscribers)| {
            let r = rates(&plan);
            PlanUse {
                plan,
                subscribers,
                down_mbps: r.map(|r| r.0),
                up_mbps: r.map(|r| r.1),
            }
        })
        .collect();
    plans.sort_by(|a, b| {
        b.subscribers
            .cmp(&a.subscribers)
            .then_with(|| a.plan.cmp(&b.plan))
    });
    PlansReport {
        format_version: FORMAT_VERSION,
        plans,
        by_device: per_device
            .into_iter()
            .map(|((device, plan), subscribers)| DevicePlanUse {
                device,
                plan,
                subscribers,
            })
            .collect(),
    }
}

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Capacity,
    Firmware,
    Plans,
}

/// How a report is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Html,
}

/// A built report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    Capacity(CapacityReport),
    Firmware(FirmwareReport),
    Plans(PlansReport),
}

/// Builds the report `kind` for the devices `names`: capacity and firmware read the devices'
/// status ([`super::fleet_status`]); plans need only the inventory. Also says whether a device
/// could not be read.
pub async fn build(
    kind: Kind,
    desired: &Desired,
    names: &[String],
    options: &super::StatusOptions,
    progress: impl Fn(usize, usize, &str),
) -> (Report, bool) {
    if kind == Kind::Plans {
        return (Report::Plans(plans(desired, names)), false);
    }
    let options = super::StatusOptions {
        problems_only: false,
        ..options.clone()
    };
    let status = super::fleet_status(desired, names, &options, progress).await;
    let report = match kind {
        Kind::Firmware => Report::Firmware(firmware(&status)),
        _ => Report::Capacity(capacity(&status)),
    };
    (report, status.has_unreachable())
}

impl Report {
    /// The report written as `format`.
    pub fn render(&self, format: Format) -> String {
        let json = |v: &dyn erased::Json| {
            let mut t = v.pretty();
            t.push('\n');
            t
        };
        match (self, format) {
            (Report::Capacity(r), Format::Csv) => capacity_csv(r),
            (Report::Capacity(r), Format::Html) => capacity_html(r),
            (Report::Capacity(r), Format::Json) => json(r),
            (Report::Firmware(r), Format::Csv) => firmware_csv(r),
            (Report::Firmware(r), Format::Html) => firmware_html(r),
            (Report::Firmware(r), Format::Json) => json(r),
            (Report::Plans(r), Format::Csv) => plans_csv(r),
            (Report::Plans(r), Format::Html) => plans_html(r),
            (Report::Plans(r), Format::Json) => json(r),
        }
    }
}

mod erased {
    /// Pretty JSON of any report.
    pub trait Json {
        fn pretty(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).unwrap_or_default()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// One CSV field, quoted when it must be (RFC 4180); a leading `=`, `+`, `-` or `@` is prefixed
/// with `'` so a spreadsheet does not run it as a formula.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| field(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// Capacity as CSV: one row per device and port (port `all` for the device's totals).
pub fn capacity_csv(r: &CapacityReport) -> String {
    let rows = r.devices.iter().flat_map(|d| {
        let total = std::iter::once(("all".to_string(), d.totals));
        let ports = d.ports.iter().map(|p| (p.port.to_string(), p.capacity));
        total.chain(ports).map(move |(port, c)| {
            vec![
                d.device.clone(),
                port,
                d.reachable.to_string(),
                c.subscribers.to_string(),
                c.sold_down_mbps.to_string(),
                c.sold_up_mbps.to_string(),
                c.usable_down_mbps.to_string(),
                c.usable_up_mbps.to_string(),
            ]
        })
    });
    csv(
        &[
            "device",
            "port",
            "reachable",
            "subscribers",
            "sold_down_mbps",
            "sold_up_mbps",
            "usable_down_mbps",
            "usable_up_mbps",
        ],
        rows,
    )
}

/// Firmware as CSV: `kind,firmware,count` (kind `gam` or `cpe`).
pub fn firmware_csv(r: &FirmwareReport) -> String {
    let gams = r.gams.iter().map(|c| ("gam", c));
    let cpes = r.cpes.iter().map(|c| ("cpe", c));
    csv(
        &["kind", "firmware", "count"],
        gams.chain(cpes)
            .map(|(k, c)| vec![k.to_string(), c.value.clone(), c.count.to_string()]),
    )
}

/// Plans as CSV: `device,plan,subscribers,down_mbps,up_mbps`, device `all` for the fleet.
pub fn plans_csv(r: &PlansReport) -> String {
    let rate = |plan: &str| r.plans.iter().find(|p| p.plan == plan);
    let fleet = r.plans.iter().map(|p| {
        vec![
            "all".to_string(),
            p.plan.clone(),
            p.subscribers.to_string(),
            opt(p.down_mbps),
            opt(p.up_mbps),
        ]
    });
    let devices = r.by_device.iter().map(|d| {
        let p = rate(&d.plan);
        vec![
            d.device.clone(),
            d.plan.clone(),
            d.subscribers.to_string(),
            opt(p.and_then(|p| p.down_mbps)),
            opt(p.and_then(|p| p.up_mbps)),
        ]
    });
    csv(
        &["device", "plan", "subscribers", "down_mbps", "up_mbps"],
        fleet.chain(devices),
    )
}

// ---------------------------------------------------------------------------------------------
// HTML

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A horizontal bar chart as inline SVG: each row a label and up to two bars (`a` dark, `b`
/// light) on one scale.
fn bars(title: &str, legend: (&str, &str), rows: &[(String, u64, Option<u64>)]) -> String {
    const ROW: u64 = 22;
    const LABEL: u64 = 180;
    const WIDTH: u64 = 420;
    let max = rows
        .iter()
        .map(|(_, a, b)| (*a).max(b.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1);
    let height = ROW * rows.len() as u64 + 30;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">",
        esc(title),
        LABEL + WIDTH + 80,
        LABEL + WIDTH + 80
    );
    let scale = |v: u64| v * WIDTH / max;
    for (i, (label, a, b)) in rows.iter().enumerate() {
        let y = ROW * i as u64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>",
            y + 14,
            esc(label)
        );
        let bar_h = if b.is_some() { 8 } else { 16 };
        let _ = write!(
            svg,
            "<rect x=\"{LABEL}\" y=\"{}\" width=\"{}\" height=\"{bar_h}\" fill=\"#1f4e79\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\">{a}</text>",
            y + 2,
            scale(*a),
            LABEL + scale(*a) + 4,
            y + 2 + bar_h - 1,
        );
        if let Some(b) = b {
            let _ = write!(
                svg,
                "<rect x=\"{LABEL}\" y=\"{}\" width=\"{}\" height=\"8\" fill=\"#9dc3e6\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"10\">{b}</text>",
                y + 10,
                scale(*b),
                LABEL + scale(*b) + 4,
                y + 17,
            );
        }
    }
    let y = ROW * rows.len() as u64 + 14;
    let _ = write!(
        svg,
        "<rect x=\"{LABEL}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"#1f4e79\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
        y - 9,
        LABEL + 14,
        y,
        esc(legend.0)
    );
    if !legend.1.is_empty() {
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"#9dc3e6\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            LABEL + 160,
            y - 9,
            LABEL + 174,
            y,
            esc(legend.1)
        );
    }
    svg.push_str("</svg></figure>\n");
    svg
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}th,td{{border:1px solid #bbb;padding:2px 8px;text-align:left}}\
         figure{{margin:1em 0;break-inside:avoid}}figcaption{{font-weight:bold}}\
         @media print{{body{{margin:0}}}}</style></head>\n<body><h1>{t}</h1>\n{body}</body></html>\n",
        t = esc(title)
    )
}

pub fn capacity_html(r: &CapacityReport) -> String {
    let chart: Vec<(String, u64, Option<u64>)> = r
        .devices
        .iter()
        .map(|d| {
            (
                d.device.clone(),
                d.totals.sold_down_mbps,
                Some(d.totals.usable_down_mbps),
            )
        })
        .collect();
    let mut body = bars(
        "Downstream capacity per device (Mbps)",
        (
            "sold (sum of plan rates)",
            "usable (sum of links' maximum throughput)",
        ),
        &chart,
    );
    let rows: Vec<Vec<String>> = r
        .devices
        .iter()
        .map(|d| {
            vec![
                d.device.clone(),
                if d.reachable { "yes" } else { "no" }.to_string(),
                d.totals.subscribers.to_string(),
                format!("{}/{}", d.totals.sold_down_mbps, d.totals.sold_up_mbps),
                format!("{}/{}", d.totals.usable_down_mbps, d.totals.usable_up_mbps),
            ]
        })
        .collect();
    body.push_str(&table(
        &[
            "device",
            "read",
            "subscribers",
            "sold down/up",
            "usable down/up",
        ],
        &rows,
    ));
    body.push_str("<h2>Endpoints below their plan</h2>\n");
    if r.below_plan.is_empty() {
        body.push_str("<p>None.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .below_plan
            .iter()
            .map(|b| {
                vec![
                    b.device.clone(),
                    b.subscriber.clone(),
                    opt(b.port),
                    format!("{} {}/{}", b.plan, b.plan_down_mbps, b.plan_up_mbps),
                    format!("{}/{}", b.usable_down_mbps, b.usable_up_mbps),
                ]
            })
            .collect();
        body.push_str(&table(
            &["device", "subscriber", "port", "plan", "usable down/up"],
            &rows,
        ));
    }
    page("gamops capacity report", &body)
}

pub fn firmware_html(r: &FirmwareReport) -> String {
    let chart = |counts: &[Count]| -> Vec<(String, u64, Option<u64>)> {
        counts
            .iter()
            .map(|c| (c.value.clone(), u64::from(c.count), None))
            .collect()
    };
    let mut body = bars("GAM firmware (devices)", ("devices", ""), &chart(&r.gams));
    body.push_str(&bars(
        "CPE firmware (seen CPEs)",
        ("CPEs", ""),
        &chart(&r.cpes),
    ));
    body.push_str("<h2>CPEs in firmware mismatch</h2>\n");
    if r.mismatches.is_empty() {
        body.push_str("<p>None.</p>\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .mismatches
            .iter()
            .map(|m| vec![m.device.clone(), m.endpoint.clone(), m.firmware.clone()])
            .collect();
        body.push_str(&table(&["device", "endpoint", "firmware"], &rows));
    }
    page("gamops firmware report", &body)
}

pub fn plans_html(r: &PlansReport) -> String {
    let chart: Vec<(String, u64, Option<u64>)> = r
        .plans
        .iter()
        .map(|p| (p.plan.clone(), u64::from(p.subscribers), None))
        .collect();
    let mut body = bars("Subscribers per plan", ("subscribers", ""), &chart);
    let rows: Vec<Vec<String>> = r
        .plans
        .iter()
        .map(|p| {
            vec![
                p.plan.clone(),
                p.subscribers.to_string(),
                match (p.down_mbps, p.up_mbps) {
                    (Some(d), Some(u)) => format!("{d}/{u}"),
                    _ => "-".to_string(),
                },
            ]
        })
        .collect();
    body.push_str(&table(&["plan", "subscribers", "down/up Mbps"], &rows));
    let rows: Vec<Vec<String>> = r
        .by_device
        .iter()
        .map(|d| vec![d.device.clone(), d.plan.clone(), d.subscribers.to_string()])
        .collect();
    body.push_str("<h2>Per device</h2>\n");
    body.push_str(&table(&["device", "plan", "subscribers"], &rows));
    page("gamops plans report", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(
            csv(&["a", "b"], [vec!["1".into(), "x,y".into()]].into_iter()),
            "a,b\r\n1,\"x,y\"\r\n"
        );
    }

    #[test]
    fn html_escapes_and_draws_bars_without_script() {
        let svg = bars("t<", ("a", "b"), &[("<x>".into(), 50, Some(100))]);
        assert!(svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
        assert!(svg.contains("width=\"210\"") && svg.contains("width=\"420\""));
        let html = page("r", &svg);
        assert!(!html.contains("<script"));
        assert!(html.starts_with("<!DOCTYPE html>"));
        // Nothing to chart is still a page.
        assert!(bars("empty", ("a", ""), &[]).contains("<svg"));
    }
}
