//! The status poll's metrics, encoded from the latest poll at each scrape (a prometheus-client
//! collector): series of devices and endpoints no longer seen go away with the poll that no
//! longer sees them.
//!
//! Named by Prometheus conventions: base units (bytes and bytes per second, seconds, celsius,
//! meters: a rate the GAM gives in Mbps is exported in bytes per second, as promtool's lint
//! wants; multiply by 8 for bits), `_total` counters, and `_info` metrics carrying the
//! slow-changing text (model, firmware, subscriber, plan) once per device and endpoint instead
//! of a label on every series.
//!
//! Cardinality, planned for 1,000 devices and 20,000 endpoints: per device about 20 series
//! (up, info, uptime, temperature, alarms by severity, endpoints by state and by problem,
//! uplinks); per endpoint 10 (info, state, PHY and usable rate and usage per direction,
//! uptime, wire length), 200,000 in all; `monitoring.endpoint_metrics: false` drops the
//! per-endpoint series and keeps the per-device counts.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use super::{Monitor, Snapshot};
use crate::monitor::status::{EndpointReport, EndpointState, ProblemKind};

/// The collector: reads the monitor's latest poll at each scrape.
#[derive(Debug, Clone)]
pub struct MonitorCollector(pub Arc<Monitor>);

impl Collector for MonitorCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode(&self.0.latest(), encoder)
    }
}

/// Bytes per second in one Mbps.
const MBPS: f64 = 125_000.0;

const STATES: [EndpointState; 5] = [
    EndpointState::Ok,
    EndpointState::NotDetected,
    EndpointState::QuarantinedWrongPort,
    EndpointState::QuarantinedUnknownMac,
    EndpointState::NotConfigured,
];

const PROBLEMS: [(ProblemKind, &str); 9] = [
    (ProblemKind::Unreachable, "unreachable"),
    (ProblemKind::Offline, "offline"),
    (ProblemKind::NotConfigured, "not-configured"),
    (ProblemKind::Quarantined, "quarantined"),
    (ProblemKind::BelowPlan, "below-plan"),
    (ProblemKind::AsymmetricPhy, "asymmetric-phy"),
    (ProblemKind::FirmwareMismatch, "firmware-mismatch"),
    (ProblemKind::Temperature, "temperature"),
    (ProblemKind::Alarm, "alarm"),
];

/// A state as a label value: the status report's word, in kebab case.
fn state_label(s: EndpointState) -> &'static str {
    match s {
        EndpointState::Ok => "ok",
        EndpointState::NotDetected => "not-detected",
        EndpointState::QuarantinedWrongPort => "quarantined-wrong-port",
        EndpointState::QuarantinedUnknownMac => "quarantined-unknown-mac",
        EndpointState::NotConfigured => "not-configured",
    }
}

/// One gauge family from rows of (labels, value).
fn gauge<L: EncodeLabelSet, V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, V)>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        family.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

fn counter<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Every series of one snapshot.
pub fn encode(s: &Snapshot, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
    let e = &mut encoder;
    let devices = &s.report.devices;
    gauge(
        e,
        "gamops_monitor_poll_duration_seconds",
        "How long the last status poll of the fleet took",
        s.at.map(|_| (NoLabels, s.seconds)),
    )?;
    gauge(
        e,
        "gamops_monitor_last_poll_timestamp_seconds",
        "When the last status poll ended (unix time)",
        s.at.map(|t| (NoLabels, t.as_millis() as f64 / 1000.0)),
    )?;
    gauge(
        e,
        "gamops_alerts_firing",
        "Alerts firing, by rule",
        s.firing
            .iter()
            .map(|(rule, n)| ([("rule", *rule)], *n as i64)),
    )?;
    gauge(
        e,
        "gamops_device_up",
        "1 when the device's status was read completely at the last poll",
        devices
            .iter()
            .map(|d| ([("device", d.device.as_str())], i64::from(d.reachable))),
    )?;
    gauge(
        e,
        "gamops_device_info",
        "The device's model and firmware, as it reports them",
        devices.iter().filter(|d| d.reachable).map(|d| {
            (
                [
                    ("device", d.device.as_str()),
                    ("model", d.model.as_deref().unwrap_or("")),
                    ("firmware", d.firmware.as_deref().unwrap_or("")),
                ],
                1i64,
            )
        }),
    )?;
    gauge(
        e,
        "gamops_device_uptime_seconds",
        "Seconds since the device booted",
        devices.iter().filter_map(|d| {
            d.uptime_s
                .map(|u| ([("device", d.device.as_str())], u as f64))
        }),
    )?;
    gauge(
        e,
        "gamops_device_temperature_celsius",
        "The device's hottest temperature sensor",
        devices.iter().filter_map(|d| {
            d.temperature_c
                .map(|t| ([("device", d.device.as_str())], t))
        }),
    )?;
    gauge(
        e,
        "gamops_device_alarms",
        "The device's own active alarms, by severity",
        devices.iter().filter(|d| d.reachable).flat_map(|d| {
            ["minor", "major", "critical"].into_iter().map(move |sev| {
                let n = d
                    .alarms
                    .iter()
                    .filter(|a| a.severity.as_str() == sev)
                    .count();
                ([("device", d.device.as_str()), ("severity", sev)], n as i64)
            })
        }),
    )?;
    gauge(
        e,
        "gamops_device_endpoints",
        "The device's endpoints (and the inventory's subscribers it lacks), by state",
        devices.iter().filter(|d| d.reachable).flat_map(|d| {
            STATES.into_iter().map(move |st| {
                let n = d.endpoints.iter().filter(|x| x.state == st).count();
                (
                    [("device", d.device.as_str()), ("state", state_label(st))],
                    n as i64,
                )
            })
        }),
    )?;
    gauge(
        e,
        "gamops_device_endpoint_problems",
        "The device's endpoints with a problem, by problem",
        devices.iter().filter(|d| d.reachable).flat_map(|d| {
            PROBLEMS.into_iter().skip(1).map(move |(kind, word)| {
                let n = d
                    .endpoints
                    .iter()
                    .filter(|x| x.problems.iter().any(|p| p.kind == kind))
                    .count();
                ([("device", d.device.as_str()), ("problem", word)], n as i64)
            })
        }),
    )?;
    let uplinks = || {
        s.uplinks.iter().flat_map(|(d, list)| {
            list.iter()
                .map(move |u| ([("device", d.as_str()), ("interface", u.name.as_str())], u))
        })
    };
    counter(
        e,
        "gamops_uplink_receive_bytes",
        "Octets received on the uplink (ifHCInOctets; resets with the device)",
        uplinks().map(|(l, u)| (l, u.in_octets)),
    )?;
    counter(
        e,
        "gamops_uplink_transmit_bytes",
        "Octets sent on the uplink (ifHCOutOctets; resets with the device)",
        uplinks().map(|(l, u)| (l, u.out_octets)),
    )?;
    gauge(
        e,
        "gamops_uplink_receive_bytes_per_second",
        "Receive rate over the last poll interval (a counter reset counts from zero)",
        uplinks().filter_map(|(l, u)| u.in_bytes_per_s.map(|v| (l, v))),
    )?;
    gauge(
        e,
        "gamops_uplink_transmit_bytes_per_second",
        "Transmit rate over the last poll interval (a counter reset counts from zero)",
        uplinks().filter_map(|(l, u)| u.out_bytes_per_s.map(|v| (l, v))),
    )?;
    gauge(
        e,
        "gamops_uplink_speed_bytes_per_second",
        "The uplink's speed (ifHighSpeed)",
        uplinks().map(|(l, u)| (l, f64::from(u.speed_mbps) * MBPS)),
    )?;
    gauge(
        e,
        "gamops_plan_rate_bytes_per_second",
        "The rate each plan sells, by direction",
        s.plans.iter().flat_map(|(name, down, up)| {
            [
                (
                    [("plan", name.as_str()), ("direction", "down")],
                    f64::from(*down) * MBPS,
                ),
                (
                    [("plan", name.as_str()), ("direction", "up")],
                    f64::from(*up) * MBPS,
                ),
            ]
        }),
    )?;
    if s.endpoint_metrics {
        endpoints(s, e)?;
    }
    Ok(())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct NoLabels;

impl EncodeLabelSet for NoLabels {
    fn encode(
        &self,
        _: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), fmt::Error> {
        Ok(())
    }
}

/// The per-endpoint series: endpoints with a MAC (a subscriber with no CPE seen has none and
/// shows only in the device's counts).
fn endpoints(s: &Snapshot, e: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
    // (device, mac text, endpoint): the MAC is formatted once.
    let all: Vec<(&str, String, &EndpointReport)> = s
        .report
        .devices
        .iter()
        .filter(|d| d.reachable)
        .flat_map(|d| {
            d.endpoints
                .iter()
                .filter_map(move |x| x.mac.map(|m| (d.device.as_str(), m.to_string(), x)))
        })
        .collect();
    gauge(
        e,
        "gamops_endpoint_info",
        "An endpoint's subscriber, plan, port, CPE model and firmware",
        all.iter().map(|(d, mac, x)| {
            (
                [
                    ("device", *d),
                    ("mac", mac.as_str()),
                    ("subscriber", x.subscriber.as_deref().unwrap_or("")),
                    ("plan", x.plan.as_deref().unwrap_or("")),
                    ("port", port_text(x.port)),
                    ("model", x.model.as_deref().unwrap_or("")),
                    ("firmware", x.firmware.as_deref().unwrap_or("")),
                ],
                1i64,
            )
        }),
    )?;
    gauge(
        e,
        "gamops_endpoint_state",
        "1 for the endpoint's state (ok, not-detected, quarantined-wrong-port, quarantined-unknown-mac)",
        all.iter().map(|(d, mac, x)| {
            (
                [
                    ("device", *d),
                    ("mac", mac.as_str()),
                    ("state", state_label(x.state)),
                ],
                1i64,
            )
        }),
    )?;
    let directional = |name: &str,
                       help: &str,
                       e: &mut DescriptorEncoder,
                       f: &dyn Fn(&EndpointReport) -> Option<(u32, u32)>|
     -> Result<(), fmt::Error> {
        gauge(
            e,
            name,
            help,
            all.iter()
                .filter_map(|(d, mac, x)| f(x).map(|r| (d, mac, r)))
                .flat_map(|(d, mac, (down, up))| {
                    [
                        (
                            [("device", *d), ("mac", mac.as_str()), ("direction", "down")],
                            f64::from(down) * MBPS,
                        ),
                        (
                            [("device", *d), ("mac", mac.as_str()), ("direction", "up")],
                            f64::from(up) * MBPS,
                        ),
                    ]
                }),
        )
    };
    directional(
        "gamops_endpoint_phy_rate_bytes_per_second",
        "The G.hn link's PHY rate, by direction",
        e,
        &|x| x.phy_down_mbps.zip(x.phy_up_mbps),
    )?;
    directional(
        "gamops_endpoint_usable_rate_bytes_per_second",
        "The link's maximum usable throughput as the GAM measures it, by direction",
        e,
        &|x| x.usable_down_mbps.zip(x.usable_up_mbps),
    )?;
    gauge(
        e,
        "gamops_endpoint_usage_bytes_per_second",
        "The link's usage, by direction",
        all.iter()
            .filter_map(|(d, mac, _)| {
                s.usage
                    .get(*d)
                    .and_then(|u| u.get(mac))
                    .map(|r| (*d, mac, *r))
            })
            .flat_map(|(d, mac, (down, up))| {
                [
                    (
                        [("device", d), ("mac", mac.as_str()), ("direction", "down")],
                        f64::from(down) * MBPS,
                    ),
                    (
                        [("device", d), ("mac", mac.as_str()), ("direction", "up")],
                        f64::from(up) * MBPS,
                    ),
                ]
            }),
    )?;
    gauge(
        e,
        "gamops_endpoint_uptime_seconds",
        "Seconds the link has been up",
        all.iter().filter_map(|(d, mac, x)| {
            x.uptime
                .as_ref()
                .and_then(|u| u.seconds)
                .map(|u| ([("device", *d), ("mac", mac.as_str())], u as f64))
        }),
    )?;
    gauge(
        e,
        "gamops_endpoint_wire_length_meters",
        "The copper wire's estimated length",
        all.iter().filter_map(|(d, mac, x)| {
            x.wire_length_m
                .map(|m| ([("device", *d), ("mac", mac.as_str())], f64::from(m)))
        }),
    )?;
    Ok(())
}

fn port_text(p: Option<u8>) -> &'static str {
    const PORTS: [&str; 49] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
        "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46",
        "47", "48",
    ];
    p.and_then(|p| PORTS.get(usize::from(p)).copied())
        .unwrap_or("")
}

/// The OpenMetrics text turned into Prometheus's text format 0.0.4 (what `promtool check
/// metrics` and older scrapers read): a counter's family is named with its `_total`, and the
/// OpenMetrics-only lines (`# UNIT`, `# EOF`) go.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(l.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::metrics::Metrics;
    use crate::device::status::Uptime;
    use crate::monitor::status::{DeviceReport, FleetStatus};
    use crate::store::Timestamp;

    fn snapshot(endpoint_metrics: bool) -> Snapshot {
        let endpoint = |mac: &str, state: EndpointState| EndpointReport {
            subscriber: Some("sub-1".into()),
            name: None,
            subscriber_status: None,
            mac: Some(mac.parse().unwrap()),
            state,
            port: Some(3),
            plan: Some("p500".into()),
            plan_down_mbps: Some(500),
            plan_up_mbps: Some(100),
            phy_down_mbps: Some(1700),
            phy_up_mbps: Some(1600),
            usable_down_mbps: Some(1200),
            usable_up_mbps: Some(1100),
            wire_length_m: Some(80),
            model: Some("G1001-C".into()),
            firmware: Some("v7 \"beta\"".into()),
            firmware_mismatch: false,
            uptime: Some(Uptime::parse("1 day, 0h 0m 5s")),
            problems: Vec::new(),
        };
        let mut down = endpoint("00:0e:d8:00:00:02", EndpointState::NotDetected);
        down.phy_down_mbps = None;
        down.phy_up_mbps = None;
        down.usable_down_mbps = None;
        down.usable_up_mbps = None;
        Snapshot {
            at: Some(Timestamp::from_millis(1_700_000_000_000)),
            seconds: 0.5,
            endpoint_metrics,
            report: FleetStatus {
                format_version: 1,
                devices: vec![
                    DeviceReport {
                        device: "gam-a".into(),
                        reachable: true,
                        reason: None,
                        model: Some("GAM-12-C".into()),
                        firmware: Some("1.5.4".into()),
                        uptime_s: Some(100),
                        temperature_c: Some(41.5),
                        alarms: Vec::new(),
                        problems: Vec::new(),
                        endpoints: vec![endpoint("00:0e:d8:00:00:01", EndpointState::Ok), down],
                    },
                    DeviceReport {
                        device: "gam-b".into(),
                        reachable: false,
                        reason: Some("timeout".into()),
                        model: None,
                        firmware: None,
                        uptime_s: None,
                        temperature_c: None,
                        alarms: Vec::new(),
                        problems: Vec::new(),
                        endpoints: Vec::new(),
                    },
                ],
            },
            uplinks: [(
                "gam-a".to_string(),
                vec![super::super::Uplink {
                    if_index: 1000,
                    name: "10GigabitEthernet 1/1".into(),
                    in_octets: u64::MAX - 5,
                    out_octets: 7,
                    speed_mbps: 10_000,
                    in_bytes_per_s: Some(125.0),
                    out_bytes_per_s: None,
                }],
            )]
            .into_iter()
            .collect(),
            plans: vec![("p500".into(), 500, 100)],
            ..Snapshot::default()
        }
    }

    fn render(endpoint_metrics: bool) -> String {
        let monitor = Arc::new(Monitor::default());
        monitor.set_latest(snapshot(endpoint_metrics));
        Metrics::new()
            .with_collector(Box::new(MonitorCollector(monitor)))
            .render()
    }

    #[test]
    fn device_and_endpoint_series_in_base_units() {
        let text = render(true);
        for line in [
            "gamops_device_up{device=\"gam-a\"} 1",
            "gamops_device_up{device=\"gam-b\"} 0",
            "gamops_device_info{device=\"gam-a\",model=\"GAM-12-C\",firmware=\"1.5.4\"} 1",
            "gamops_device_temperature_celsius{device=\"gam-a\"} 41.5",
            "gamops_device_endpoints{device=\"gam-a\",state=\"ok\"} 1",
            "gamops_device_endpoints{device=\"gam-a\",state=\"not-detected\"} 1",
            "gamops_uplink_receive_bytes_total{device=\"gam-a\",interface=\"10GigabitEthernet 1/1\"} 18446744073709551610",
            "gamops_uplink_speed_bytes_per_second{device=\"gam-a\",interface=\"10GigabitEthernet 1/1\"} 1250000000.0",
            "gamops_plan_rate_bytes_per_second{plan=\"p500\",direction=\"down\"} 62500000.0",
            "gamops_endpoint_state{device=\"gam-a\",mac=\"00:0e:d8:00:00:01\",state=\"ok\"} 1",
            "gamops_endpoint_phy_rate_bytes_per_second{device=\"gam-a\",mac=\"00:0e:d8:00:00:01\",direction=\"down\"} 212500000.0",
            "gamops_endpoint_uptime_seconds{device=\"gam-a\",mac=\"00:0e:d8:00:00:01\"} 86405.0",
            "gamops_endpoint_info{device=\"gam-a\",mac=\"00:0e:d8:00:00:01\",subscriber=\"sub-1\",plan=\"p500\",port=\"3\",model=\"G1001-C\",firmware=\"v7 \\\"beta\\\"\"} 1",
        ] {
            assert!(text.contains(line), "{line} not in:\n{text}");
        }
        // No rate without a previous reading; no PHY rate for a CPE not detected.
        assert!(!text.contains("gamops_uplink_transmit_bytes_per_second{"));
        assert!(!text.contains("mac=\"00:0e:d8:00:00:02\",direction"));
    }

    #[test]
    fn the_switch_drops_the_per_endpoint_series_only() {
        let text = render(false);
        assert!(!text.contains("gamops_endpoint_"), "{text}");
        assert!(text.contains("gamops_device_endpoints{device=\"gam-a\",state=\"ok\"} 1"));
        let with = render(true).lines().count();
        assert!(with > text.lines().count());
    }

    #[test]
    fn counters_are_renamed_for_the_prometheus_text_format() {
        let om = "# HELP x_applies Applies.\n# TYPE x_applies counter\nx_applies_total{a=\"1\"} 2\n# HELP y Y.\n# TYPE y gauge\n# UNIT y seconds\ny 1\n# EOF\n";
        assert_eq!(
            prometheus_text(om),
            "# HELP x_applies_total Applies.\n# TYPE x_applies_total counter\nx_applies_total{a=\"1\"} 2\n# HELP y Y.\n# TYPE y gauge\ny 1\n"
        );
    }
}
