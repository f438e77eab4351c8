//! What can be done to a running lab from outside, as data: fault settings, drift made out of
//! band, link faults of a CPE, health changes (temperature, alarms), and what a device says of
//! itself. [`crate::lab::runtime::Lab`]'s methods take them; the admin API
//! ([`crate::lab::admin`]) and `gamops lab up --faults` read them from JSON.

use serde::{Deserialize, Serialize};

use crate::lab::device::Mac;

/// Fault settings for one device, as the admin interface and `--faults` take them. Every field
/// is optional: a field left out keeps its current value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSettings {
    /// Added to every SNMP answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_latency_ms: Option<u64>,
    /// A further random SNMP delay, uniform in 0..=jitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_jitter_ms: Option<u64>,
    /// Percentage of SNMP requests dropped (0 to 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_loss_percent: Option<u8>,
    /// Requests at or under these OIDs (tables) get no answer; `[]` clears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_timeout_oids: Option<Vec<String>>,
    /// Every SSH login fails, and every JSON-RPC call answers HTTP 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_refuse_logins: Option<bool>,
    /// Every SSH authentication answer waits this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_login_delay_ms: Option<u64>,
    /// Concurrent CLI sessions allowed; 0 restores the device's own limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_session_limit: Option<usize>,
    /// Added to each command's answer in CLI sessions opened after the change (the input is
    /// delayed, as over a slow link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_latency_ms: Option<u64>,
    /// While true, `copy running-config startup-config` is refused as if another save ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_in_progress: Option<bool>,
    /// Arms a one-shot failure of the next command containing `pattern` (for JSON-RPC, the
    /// call's method and compact params).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_command: Option<FailCommand>,
    /// JSON-RPC methods the device lacks (left out of its introspection answer and refused),
    /// as an older firmware; `[]` restores them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonrpc_omit_methods: Option<Vec<String>>,
}

/// A one-shot command failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailCommand {
    /// The next command whose text contains this (case-insensitive) fails.
    pub pattern: String,
    /// What it prints; default `% Error querying G.hn device. May be missing or busy.`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// A device's faults now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultState {
    pub snmp_latency_ms: u64,
    pub snmp_jitter_ms: u64,
    pub snmp_loss_percent: u8,
    pub snmp_timeout_oids: Vec<String>,
    pub ssh_refuse_logins: bool,
    pub ssh_login_delay_ms: u64,
    /// `None`: the device's own limit.
    pub ssh_session_limit: Option<usize>,
    pub ssh_latency_ms: u64,
    pub save_in_progress: bool,
    /// JSON-RPC methods the device lacks (an older firmware).
    pub jsonrpc_omit_methods: Vec<String>,
    /// Patterns of the armed one-shot command failures.
    pub failing_commands: Vec<String>,
}

/// A subscriber changed behind gamops' back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// The subscriber's id on the device.
    pub subscriber: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vid: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged: Option<bool>,
    /// `"unthrottled"` or a profile id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bw_profile: Option<ProfileChoice>,
    /// Delete the subscriber instead.
    #[serde(default)]
    pub remove: bool,
}

/// A change to one CPE's link, as the admin interface takes it (`{"fault": "offline", "mac":
/// "00:0e:d8:00:00:01"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LinkFault {
    /// The CPE goes dark (powered off, unplugged): the GAM no longer sees it.
    Offline { mac: Mac },
    /// It comes back; its link's uptime starts again.
    Online { mac: Mac },
    /// The CPE is cabled to another port: its endpoint is quarantined (wrong port) unless
    /// bound `auto`.
    Move { mac: Mac, port: u8 },
    /// A CPE is plugged into `port`; one the device has no endpoint for is quarantined
    /// (unknown MAC) on an endpoint-aware device.
    Plug {
        mac: Mac,
        port: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// The link's PHY rates: very different rates are a wiring fault (asymmetric), low ones a
    /// link degraded below what its plan sells.
    Phy {
        mac: Mac,
        rx_mbps: u32,
        tx_mbps: u32,
    },
    /// The CPE's firmware differs from the GAM's bundled one, or no longer does.
    FirmwareMismatch { mac: Mac, on: bool },
}

/// A change to the device's health, as the admin interface takes it; fields left out keep
/// their value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthChange {
    /// Every sensor reads this, in °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// Raises an alarm (it gets the next free index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_alarm: Option<RaiseAlarm>,
    /// Clears the active alarm with this index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_alarm: Option<u32>,
}

/// An alarm to raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaiseAlarm {
    /// The `GAMAlarmCondType` name: `hightemp`, `linkdown`, `fanflt`...
    pub condition: String,
    pub severity: crate::device::status::AlarmSeverity,
    #[serde(default)]
    pub service_affecting: bool,
    /// The interface it concerns; 0 (the default) is the system.
    #[serde(default)]
    pub if_index: u32,
}

/// A subscriber's bandwidth profile in a [`Drift`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProfileChoice {
    /// A profile id, 1 to 15.
    Id(u8),
    /// The word `unthrottled`.
    Unthrottled(Unthrottled),
}

/// The word `unthrottled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unthrottled {
    Unthrottled,
}

/// A device as the admin interface lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub name: String,
    pub model: String,
    pub hostname: String,
    pub snmp: String,
    pub ssh: String,
    /// Where its JSON-RPC API listens (`POST /json_rpc`).
    pub jsonrpc: String,
    pub host_key: String,
    pub host_key_fingerprint: String,
    pub online: bool,
    pub uptime_secs: u64,
    pub subscribers: usize,
    pub unsaved_changes: bool,
}
