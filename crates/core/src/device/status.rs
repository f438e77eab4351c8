//! The health of one GAM and of its subscribers' G.hn links, as read from the device: what
//! monitoring shows and alerts on. The configuration read ([`super::live`]) says what the
//! device is told to do; this says how it is doing.
//!
//! Unknown is not absent, as in the configuration read: a device whose status tables could not
//! be read completely and well is [`StatusObservation::Unknown`] with a one-line reason, never a
//! `Live` that silently lacks endpoints. Within a row, a value the device does not report
//! (the link of an endpoint it does not see, a port's PHY rate on firmware without the column)
//! is `None`; a value it reports in a form gamops does not understand (an uptime string of a new
//! shape) is kept as text with no number, never guessed and never a failure.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::live::{CpeState, SystemInfo};
use crate::model::Mac;

/// What one status read of a device gave.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum StatusObservation {
    /// The device answered every status table completely.
    Live(Box<DeviceStatus>),
    /// The status could not be read completely.
    Unknown { reason: String },
}

/// The status of one GAM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceStatus {
    /// The system group: model, firmware, name, uptime (sysUpTime).
    pub system: SystemInfo,
    /// The temperature sensors (GAM-SYSUTIL-MIB), in the device's order.
    pub temperatures: Vec<Temperature>,
    /// G.hn ports by number.
    pub ports: Vec<PortStatus>,
    /// Configured endpoints (by id), then CPEs seen only in the by-MAC tables (unconfigured or
    /// quarantined, with no endpoint id).
    pub endpoints: Vec<EndpointStatus>,
    /// The device's active alarms (GAM-ALARM-MIB).
    pub alarms: Vec<Alarm>,
    /// The uplinks' 64-bit interface counters (IF-MIB ifXTable).
    pub uplinks: Vec<InterfaceCounters>,
}

impl DeviceStatus {
    /// Seconds since the device booted (sysUpTime).
    pub fn uptime_secs(&self) -> u64 {
        u64::from(self.system.uptime_ticks) / 100
    }

    /// The hottest sensor, in degrees Celsius.
    pub fn max_temperature_c(&self) -> Option<f64> {
        self.temperatures
            .iter()
            .map(|t| t.celsius)
            .fold(None, |m, c| Some(m.map_or(c, |m: f64| m.max(c))))
    }

    pub fn endpoint_by_mac(&self, mac: Mac) -> Option<&EndpointStatus> {
        self.endpoints.iter().find(|e| e.mac == mac)
    }
}

/// One temperature sensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Temperature {
    /// The sensor's name (`Intake #1`, `CPU`).
    pub sensor: String,
    /// Degrees Celsius (the device reports tenths).
    pub celsius: f64,
}

/// The status of one G.hn port (the GAM's own modem on it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortStatus {
    pub port: u8,
    /// Not shut down.
    pub admin_enabled: bool,
    /// The port's modem is up.
    pub alive: bool,
    /// The CPEs the port sees, as the device lists them.
    pub endpoint_macs: Vec<Mac>,
    /// In a service-affecting outage.
    pub outage_service_affecting: bool,
    /// In a non-service-affecting outage.
    pub outage_non_service_affecting: bool,
    pub mode: LinkMode,
    /// The port's transmit allocation (XputIndicator), Mbps.
    pub xput_indicator_mbps: u32,
    /// Rates the MIB defines for ports but firmware 1.5.4 does not report (`None` then).
    pub rx_phy_mbps: Option<u32>,
    pub tx_phy_mbps: Option<u32>,
    pub rx_max_xput_mbps: Option<u32>,
    pub tx_max_xput_mbps: Option<u32>,
    pub rx_usage_mbps: Option<u32>,
    pub tx_usage_mbps: Option<u32>,
}

/// The G.hn mode of a port or link (`GAMGhnAgentPortMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    Coax,
    Mimo,
    Siso,
    /// The device says unknown(255).
    Unknown,
}

impl LinkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMode::Coax => "coax",
            LinkMode::Mimo => "mimo",
            LinkMode::Siso => "siso",
            LinkMode::Unknown => "unknown",
        }
    }
}

/// One endpoint (CPE) as the device sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointStatus {
    /// The configured endpoint's id; `None` for a CPE the device sees but has no endpoint for.
    pub id: Option<u16>,
    pub mac: Mac,
    pub state: CpeState,
    /// The port the CPE is seen on (none when not detected).
    pub detected_port: Option<u8>,
    /// The subscriber configured on the endpoint (its GAM name, the inventory's id), if any.
    pub subscriber: Option<String>,
    /// The bandwidth profile id the device applies (none when no subscriber).
    pub profile_id: Option<u8>,
    /// Model string (`G1001-C`); empty when not detected.
    pub model: String,
    /// The CPE runs firmware other than the one bundled with the GAM.
    pub firmware_mismatch: bool,
    /// The G.hn link, when the device sees the CPE.
    pub link: Option<LinkStatus>,
}

impl EndpointStatus {
    /// Quarantined (wrong port or unknown MAC): the CPE sits in the captive VLAN.
    pub fn is_quarantined(&self) -> bool {
        matches!(
            self.state,
            CpeState::QuarantinedWrongPort | CpeState::QuarantinedUnknownMac
        )
    }
}

/// A detected endpoint's G.hn link (the detailed status row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LinkStatus {
    pub hw_product: String,
    pub serial: String,
    pub firmware: String,
    pub uptime: Uptime,
    pub mode: LinkMode,
    /// Estimated wire length, metres: copper (MIMO/SISO) only, 0 on coax.
    pub wire_length_m: u32,
    /// Downstream PHY rate, Mbps.
    pub rx_phy_mbps: u32,
    /// Upstream PHY rate, Mbps.
    pub tx_phy_mbps: u32,
    pub rx_bands: u32,
    pub tx_bands: u32,
    /// Downstream maximum usable throughput, Mbps.
    pub rx_max_xput_mbps: u32,
    /// Upstream maximum usable throughput, Mbps.
    pub tx_max_xput_mbps: u32,
    pub rx_usage_mbps: u32,
    pub tx_usage_mbps: u32,
}

/// An uptime the device gives as text (`4 days, 23h 13m 1s`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Uptime {
    /// As the device wrote it.
    pub text: String,
    /// In seconds, when the text has a form gamops knows; `null` means unknown, not zero.
    pub seconds: Option<u64>,
}

impl Uptime {
    /// Parses the device's forms: `4 days, 23h 13m 1s` (`1 day, ...`) and `53d 14:24:1`
    /// (GAM-SYSUTIL-MIB). Anything else keeps its text and has no seconds.
    pub fn parse(text: &str) -> Uptime {
        Uptime {
            seconds: parse_uptime(text),
            text: text.to_string(),
        }
    }
}

fn parse_uptime(text: &str) -> Option<u64> {
    let s = text.trim();
    if let Some((days, rest)) = s.split_once(',') {
        let days = days.trim();
        let days: u64 = days
            .strip_suffix("days")
            .or_else(|| days.strip_suffix("day"))?
            .trim()
            .parse()
            .ok()?;
        let mut secs = days.checked_mul(86_400)?;
        let mut parts = rest.split_whitespace();
        for (unit, mult) in [('h', 3600u64), ('m', 60), ('s', 1)] {
            let n: u64 = parts.next()?.strip_suffix(unit)?.parse().ok()?;
            secs = secs.checked_add(n.checked_mul(mult)?)?;
        }
        return parts.next().is_none().then_some(secs);
    }
    // `53d 14:24:1`: days, then h:m:s.
    let (days, clock) = s.split_once(' ')?;
    let days: u64 = days.strip_suffix('d')?.parse().ok()?;
    let mut fields = clock.trim().split(':');
    let mut secs = days.checked_mul(86_400)?;
    for mult in [3600u64, 60, 1] {
        let n: u64 = fields.next()?.parse().ok()?;
        secs = secs.checked_add(n.checked_mul(mult)?)?;
    }
    fields.next().is_none().then_some(secs)
}

/// One active alarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Alarm {
    /// The row's index on the device (stable while the alarm is active).
    pub index: u32,
    /// The interface it concerns (0: the system).
    pub if_index: u32,
    /// The interface's description, as the device gives it.
    pub interface: String,
    /// `GAMAlarmCondType` by its MIB name (`hightemp`, `linkdown`...); `unknown(N)` for a value
    /// newer than the MIB gamops knows.
    pub condition: String,
    pub severity: AlarmSeverity,
    pub service_affecting: bool,
    /// When it occurred (DateAndTime), as `YYYY-MM-DDTHH:MM:SS`, when the device says.
    pub occurred: Option<String>,
}

/// `GAMAlarmSeverity`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmSeverity {
    /// nr(0): not reported.
    NotReported,
    /// na(1): not alarmed.
    NotAlarmed,
    /// mn(2).
    Minor,
    /// mj(3).
    Major,
    /// cr(4).
    Critical,
}

impl AlarmSeverity {
    /// The MIB's value, nr(0) to cr(4).
    pub fn mib_value(self) -> i32 {
        match self {
            AlarmSeverity::NotReported => 0,
            AlarmSeverity::NotAlarmed => 1,
            AlarmSeverity::Minor => 2,
            AlarmSeverity::Major => 3,
            AlarmSeverity::Critical => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlarmSeverity::NotReported => "not-reported",
            AlarmSeverity::NotAlarmed => "not-alarmed",
            AlarmSeverity::Minor => "minor",
            AlarmSeverity::Major => "major",
            AlarmSeverity::Critical => "critical",
        }
    }
}

/// The 64-bit counters of one interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InterfaceCounters {
    pub if_index: u32,
    /// ifName (`10GigabitEthernet 1/1`).
    pub name: String,
    /// ifHCInOctets.
    pub in_octets: u64,
    /// ifHCOutOctets.
    pub out_octets: u64,
    /// ifHighSpeed, Mbps.
    pub speed_mbps: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_forms_of_the_walk_and_unknown_ones() {
        // The real walk: endpoint 1, and port 1's modem.
        assert_eq!(
            Uptime::parse("4 days, 23h 13m 1s").seconds,
            Some(4 * 86_400 + 23 * 3600 + 13 * 60 + 1)
        );
        assert_eq!(
            Uptime::parse("53 days, 14h 28m 19s").seconds,
            Some(53 * 86_400 + 14 * 3600 + 28 * 60 + 19)
        );
        assert_eq!(Uptime::parse("1 day, 0h 0m 5s").seconds, Some(86_405));
        // GAM-SYSUTIL-MIB's system uptime form.
        assert_eq!(
            Uptime::parse("53d 14:24:1").seconds,
            Some(53 * 86_400 + 14 * 3600 + 24 * 60 + 1)
        );
        for odd in [
            "",
            "up 3 weeks",
            "4 days, 23h 13m",
            "4 days, 23h 13m 1s extra",
            "-1 days, 0h 0m 0s",
            "99999999999999999999 days, 0h 0m 0s",
            "53d 14:24:1 green, solid, normal indication.",
        ] {
            let u = Uptime::parse(odd);
            assert_eq!(u.seconds, None, "{odd:?}");
            assert_eq!(u.text, odd);
        }
    }
}
