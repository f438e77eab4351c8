//! The fleet's status: each selected device's status read ([`crate::device::snmp::status`])
//! joined with the inventory, with the problems found.
//!
//! Joining: on an endpoint-aware GAM a subscriber is matched to the device's endpoint by its
//! CPE's MAC; on a port-aware GAM by the port the CPE is seen on. What the device shows that no
//! subscriber claims (an unknown CPE in quarantine, an endpoint no YAML owns) is listed without
//! a subscriber; a subscriber whose endpoint the device does not have is listed as not
//! configured.
//!
//! Problems, and why each matters to an ISP:
//! - the GAM is unreachable (its status could not be read completely);
//! - an active subscriber's CPE is offline, or quarantined (moved to another port, or a CPE the
//!   GAM has no endpoint for: the subscriber sits in the captive VLAN);
//! - **capacity below plan**: the link's maximum usable throughput (what the GAM measures the
//!   wire carries) is under the rate the subscriber's plan sells;
//! - the PHY rates differ by more than [`ASYMMETRY_PERCENT`] between directions (a wiring
//!   fault: a split pair, a bad splitter);
//! - the CPE's firmware differs from the GAM's bundled one;
//! - a temperature sensor at or above [`TEMPERATURE_HIGH_C`];
//! - an active alarm of the GAM's own, minor or worse.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::live::CpeState;
use crate::device::snmp;
use crate::device::status::{
    Alarm, AlarmSeverity, DeviceStatus, EndpointStatus, StatusObservation, Uptime,
};
use crate::model::{Desired, Mac, Subscriber, SubscriberModel, SubscriberStatus};

/// The version of the JSON report (`schemas/status.schema.json`).
pub const FORMAT_VERSION: u32 = 1;

/// PHY rates whose directions differ by more than this share of the faster one are a problem.
pub const ASYMMETRY_PERCENT: u32 = 25;

/// A sensor at or above this temperature is a problem (GAM-SYSUTIL-MIB's own thresholds are
/// configurable on the device and not read).
pub const TEMPERATURE_HIGH_C: f64 = 70.0;

/// How to read.
#[derive(Clone, Debug)]
pub struct StatusOptions {
    /// How many devices are read at once.
    pub concurrency: usize,
    /// Keep only what has a problem (devices, and endpoints within them).
    pub problems_only: bool,
}

impl Default for StatusOptions {
    fn default() -> Self {
        StatusOptions {
            concurrency: snmp::DEFAULT_CONCURRENCY,
            problems_only: false,
        }
    }
}

/// `gamops status --format json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetStatus {
    pub format_version: u32,
    /// Devices with problems first, otherwise in the inventory's order.
    pub devices: Vec<DeviceReport>,
}

impl Default for FleetStatus {
    fn default() -> Self {
        FleetStatus {
            format_version: FORMAT_VERSION,
            devices: Vec::new(),
        }
    }
}

impl FleetStatus {
    /// Whether any device could not be read.
    pub fn has_unreachable(&self) -> bool {
        self.devices.iter().any(|d| !d.reachable)
    }

    /// Whether anything has a problem.
    pub fn has_problems(&self) -> bool {
        self.devices.iter().any(DeviceReport::has_problems)
    }
}

/// One device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceReport {
    pub device: String,
    /// Whether its status was read completely.
    pub reachable: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The model the device says it is (`GAM-12-C`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// Seconds since the device booted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
    /// The hottest sensor, °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    pub alarms: Vec<Alarm>,
    /// Problems of the device itself (unreachable, temperature, alarms).
    pub problems: Vec<Problem>,
    /// Endpoints with problems first, then by port.
    pub endpoints: Vec<EndpointReport>,
}

impl DeviceReport {
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty() || self.endpoints.iter().any(|e| !e.problems.is_empty())
    }

    /// How many endpoints have a problem.
    pub fn endpoint_problems(&self) -> usize {
        self.endpoints
            .iter()
            .filter(|e| !e.problems.is_empty())
            .count()
    }
}

/// One endpoint: a subscriber's CPE, or a CPE no subscriber claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointReport {
    /// The inventory subscriber's id, when one claims this endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<String>,
    /// Its human label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The subscriber's status in the inventory (`active`, `suspended`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_status: Option<SubscriberStatus>,
    /// The CPE's MAC, when known (a port-aware subscriber with no CPE seen has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    pub state: EndpointState,
    /// The port the CPE is seen on, else the port the inventory gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u8>,
    /// The plan the subscriber is sold and its rates (Mbps); none when unthrottled or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_down_mbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_up_mbps: Option<u32>,
    /// The link's PHY rates and maximum usable throughput (Mbps), when the CPE is seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phy_down_mbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phy_up_mbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_down_mbps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_up_mbps: Option<u32>,
    /// Estimated wire length (copper only; coax reports none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_length_m: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    pub firmware_mismatch: bool,
    /// The link's uptime as the device gives it (text, and seconds when understood).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime: Option<Uptime>,
    pub problems: Vec<Problem>,
}

/// An endpoint's state: the device's (`GAMGhnAgentEndpointState`), or not configured on the
/// device at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointState {
    Ok,
    NotDetected,
    QuarantinedWrongPort,
    QuarantinedUnknownMac,
    /// The inventory has the subscriber; the device has no endpoint for it.
    NotConfigured,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Ok => "ok",
            EndpointState::NotDetected => "offline",
            EndpointState::QuarantinedWrongPort => "quarantined (wrong port)",
            EndpointState::QuarantinedUnknownMac => "quarantined (unknown MAC)",
            EndpointState::NotConfigured => "not configured",
        }
    }
}

impl From<CpeState> for EndpointState {
    fn from(s: CpeState) -> Self {
        match s {
            CpeState::Ok => EndpointState::Ok,
            CpeState::NotDetected => EndpointState::NotDetected,
            CpeState::QuarantinedWrongPort => EndpointState::QuarantinedWrongPort,
            CpeState::QuarantinedUnknownMac => EndpointState::QuarantinedUnknownMac,
        }
    }
}

/// Something wrong, in one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    Unreachable,
    Offline,
    NotConfigured,
    Quarantined,
    BelowPlan,
    AsymmetricPhy,
    FirmwareMismatch,
    Temperature,
    Alarm,
}

/// Reads the status of the devices `names` (in that order; see
/// [`crate::reconcile::select_devices`]) and reports them against `desired`.
/// `progress(done, total, device)` is called as each read ends.
pub async fn fleet_status(
    desired: &Desired,
    names: &[String],
    options: &StatusOptions,
    progress: impl Fn(usize, usize, &str),
) -> FleetStatus {
    let all = read_fleet(desired, names, options.concurrency, progress).await;
    report(desired, &all, options.problems_only)
}

/// Reads the status of the devices `names` (in that order), at most `concurrency` at once: a
/// device whose status could not be read completely (no answer, a table that times out half
/// way, no target) is `Unknown` with its reason. What [`fleet_status`] reports on, for a
/// caller that also wants the raw reads (the controller's counters).
pub async fn read_fleet(
    desired: &Desired,
    names: &[String],
    concurrency: usize,
    progress: impl Fn(usize, usize, &str),
) -> Vec<(String, StatusObservation)> {
    let (targets, failed) = snmp::target::of_fleet(desired, names).await;
    let failed = failed
        .into_iter()
        .map(|(name, reason)| (name, StatusObservation::Unknown { reason }));
    let read = snmp::read_status_all(targets, concurrency.max(1), |done, total, n: &String| {
        progress(done, total, n)
    })
    .await;
    let mut all: Vec<(String, StatusObservation)> = read.into_iter().chain(failed).collect();
    all.sort_by_key(|(n, _)| names.iter().position(|x| x == n));
    all
}

/// The report of observations already made (pure).
pub fn report(
    desired: &Desired,
    observations: &[(String, StatusObservation)],
    problems_only: bool,
) -> FleetStatus {
    let mut devices: Vec<DeviceReport> = observations
        .iter()
        .map(|(name, observation)| device_report(desired, name, observation))
        .collect();
    // Stable: problems first, the inventory's order otherwise.
    devices.sort_by_key(|d| !d.has_problems());
    if problems_only {
        devices.retain(DeviceReport::has_problems);
        for d in &mut devices {
            d.endpoints.retain(|e| !e.problems.is_empty());
        }
    }
    FleetStatus {
        format_version: FORMAT_VERSION,
        devices,
    }
}

fn problem(kind: ProblemKind, message: impl Into<String>) -> Problem {
    Problem {
        kind,
        message: message.into(),
    }
}

/// One device's report.
pub fn device_report(
    desired: &Desired,
    name: &str,
    observation: &StatusObservation,
) -> DeviceReport {
    let status = match observation {
        StatusObservation::Live(s) => s,
        StatusObservation::Unknown { reason } => {
            return DeviceReport {
                device: name.to_string(),
                reachable: false,
                reason: Some(reason.clone()),
                model: None,
                firmware: None,
                uptime_s: None,
                temperature_c: None,
                alarms: Vec::new(),
                problems: vec![problem(
                    ProblemKind::Unreachable,
                    format!("status not read: {reason}"),
                )],
                endpoints: Vec::new(),
            };
        }
    };
    let mut problems = Vec::new();
    for t in &status.temperatures {
        if t.celsius >= TEMPERATURE_HIGH_C {
            problems.push(problem(
                ProblemKind::Temperature,
                format!(
                    "{} at {:.1} °C (at or above {TEMPERATURE_HIGH_C:.0} °C)",
                    crate::device::printable(&t.sensor),
                    t.celsius
                ),
            ));
        }
    }
    for a in &status.alarms {
        if a.severity >= AlarmSeverity::Minor {
            let affecting = if a.service_affecting {
                ", service-affecting"
            } else {
                ""
            };
            problems.push(problem(
                ProblemKind::Alarm,
                format!(
                    "alarm {} ({}{affecting}) on {}",
                    a.condition,
                    a.severity.as_str(),
                    crate::device::printable(&a.interface)
                ),
            ));
        }
    }
    DeviceReport {
        device: name.to_string(),
        reachable: true,
        reason: None,
        model: status.system.model().map(|m| m.name().to_string()),
        firmware: status.system.firmware().map(str::to_string),
        uptime_s: Some(status.uptime_secs()),
        temperature_c: status.max_temperature_c(),
        alarms: status.alarms.clone(),
        problems,
        endpoints: endpoints(desired, name, status),
    }
}

/// The endpoints of one device, joined with the inventory's subscribers on it.
fn endpoints(desired: &Desired, device: &str, status: &DeviceStatus) -> Vec<EndpointReport> {
    let port_aware = desired
        .device(device)
        .is_some_and(|d| *d.subscriber_model == SubscriberModel::PortAware);
    let mut subs = desired.subscribers_of(device);
    subs.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let mut unclaimed: Vec<Option<&EndpointStatus>> = status.endpoints.iter().map(Some).collect();
    let mut out = Vec::new();
    for s in subs {
        let found = unclaimed.iter_mut().find(|slot| {
            slot.is_some_and(|e| match (&s.endpoint, port_aware) {
                (Some(ep), false) => e.mac == *ep.mac,
                _ => e.detected_port == Some(s.port.get()) && e.state != CpeState::NotDetected,
            })
        });
        let seen = found.and_then(Option::take);
        out.push(endpoint_report(desired, Some(s), seen, port_aware));
    }
    for e in unclaimed.into_iter().flatten() {
        out.push(endpoint_report(desired, None, Some(e), port_aware));
    }
    out.sort_by(|a, b| {
        (a.problems.is_empty(), a.port, &a.subscriber, a.mac).cmp(&(
            b.problems.is_empty(),
            b.port,
            &b.subscriber,
            b.mac,
        ))
    });
    out
}

fn endpoint_report(
    desired: &Desired,
    sub: Option<&Subscriber>,
    seen: Option<&EndpointStatus>,
    port_aware: bool,
) -> EndpointReport {
    let plan = sub
        .filter(|s| !s.is_unthrottled())
        .map(|s| s.plan.to_string());
    let rates = plan
        .as_deref()
        .and_then(|p| desired.plans().and_then(|plans| plans.get(p)))
        .map(|p| (u32::from(p.down_mbps.get()), u32::from(p.up_mbps.get())));
    let state = match seen {
        Some(e) => EndpointState::from(e.state),
        // Port-aware: no CPE seen on the subscriber's port.
        None if port_aware => EndpointState::NotDetected,
        None => EndpointState::NotConfigured,
    };
    let link = seen.and_then(|e| e.link.as_ref());
    let active = sub.is_some_and(|s: &Subscriber| *s.status == SubscriberStatus::Active);
    let mut problems = Vec::new();
    match state {
        EndpointState::NotDetected if active => {
            problems.push(problem(ProblemKind::Offline, "CPE offline (not detected)"));
        }
        EndpointState::NotConfigured => problems.push(problem(
            ProblemKind::NotConfigured,
            "the device has no endpoint for this subscriber's CPE (not applied yet?)",
        )),
        EndpointState::QuarantinedWrongPort => problems.push(problem(
            ProblemKind::Quarantined,
            format!(
                "quarantined: CPE seen on port {} but bound to another (moved or swapped)",
                seen.and_then(|e| e.detected_port)
                    .map_or_else(|| "?".to_string(), |p| p.to_string())
            ),
        )),
        EndpointState::QuarantinedUnknownMac => problems.push(problem(
            ProblemKind::Quarantined,
            format!(
                "quarantined: unknown CPE {} on port {}",
                seen.map_or_else(|| "?".to_string(), |e| e.mac.to_string()),
                seen.and_then(|e| e.detected_port)
                    .map_or_else(|| "?".to_string(), |p| p.to_string())
            ),
        )),
        _ => {}
    }
    if let Some(l) = link {
        if let Some((down, up)) = rates
            && (l.rx_max_xput_mbps < down || l.tx_max_xput_mbps < up)
        {
            problems.push(problem(
                ProblemKind::BelowPlan,
                format!(
                    "capacity below plan: the link carries {}/{} Mbps, the plan sells {down}/{up}",
                    l.rx_max_xput_mbps, l.tx_max_xput_mbps
                ),
            ));
        }
        let (hi, lo) = (
            l.rx_phy_mbps.max(l.tx_phy_mbps),
            l.rx_phy_mbps.min(l.tx_phy_mbps),
        );
        if hi > 0 && u64::from(hi - lo) * 100 > u64::from(ASYMMETRY_PERCENT) * u64::from(hi) {
            problems.push(problem(
                ProblemKind::AsymmetricPhy,
                format!(
                    "PHY rates asymmetric: {}/{} Mbps down/up (more than {ASYMMETRY_PERCENT} % apart: wiring?)",
                    l.rx_phy_mbps, l.tx_phy_mbps
                ),
            ));
        }
    }
    if seen.is_some_and(|e| e.firmware_mismatch) {
        problems.push(problem(
            ProblemKind::FirmwareMismatch,
            "CPE firmware differs from the GAM's",
        ));
    }
    EndpointReport {
        subscriber: sub.map(|s| s.id.to_string()),
        name: sub.and_then(|s| s.name.as_ref()).map(|n| n.to_string()),
        subscriber_status: sub.map(|s| *s.status),
        mac: seen
            .map(|e| e.mac)
            .or_else(|| sub.and_then(|s| s.endpoint.as_ref()).map(|e| *e.mac)),
        state,
        port: seen
            .and_then(|e| e.detected_port)
            .or_else(|| sub.map(|s| s.port.get())),
        plan,
        plan_down_mbps: rates.map(|r| r.0),
        plan_up_mbps: rates.map(|r| r.1),
        phy_down_mbps: link.map(|l| l.rx_phy_mbps),
        phy_up_mbps: link.map(|l| l.tx_phy_mbps),
        usable_down_mbps: link.map(|l| l.rx_max_xput_mbps),
        usable_up_mbps: link.map(|l| l.tx_max_xput_mbps),
        wire_length_m: link.map(|l| l.wire_length_m).filter(|m| *m > 0),
        model: seen.map(|e| e.model.clone()).filter(|m| !m.is_empty()),
        firmware: link.map(|l| l.firmware.clone()),
        firmware_mismatch: seen.is_some_and(|e| e.firmware_mismatch),
        uptime: link.map(|l| l.uptime.clone()),
        problems,
    }
}
