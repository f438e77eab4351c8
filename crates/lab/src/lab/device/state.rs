//! The state of one simulated GAM: its hardware, its running configuration, the saved startup
//! configuration, the CPEs it sees on its wires and the faults the lab has armed.
//!
//! Everything here is plain data (serde, so the lab can persist a device to a file). The rules
//! that guard changes live in `rules.rs`; rendering and parsing of the configuration text in
//! `config.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config;
use super::types::Mac;
use crate::model::{GamModel, Medium};

/// Endpoints and subscribers are numbered 1..=384.
pub const MAX_ENDPOINTS: u16 = 384;
/// Subscribers are numbered 1..=384.
pub const MAX_SUBSCRIBERS: u16 = 384;
/// Bandwidth profiles are numbered 1..=15; profile 1 is built in.
pub const MAX_PROFILES: u8 = 15;
/// At most this many extra tagged VLANs per subscriber (CLI guide; the VLAN guide says 12).
pub const MAX_ALLOWED_VLANS: usize = 14;
/// Names of ports, profiles, endpoints and subscribers are 1..=31 characters.
pub const MAX_NAME_LEN: usize = 31;
/// Descriptions are at most 127 characters (MIB).
pub const MAX_DESCRIPTION_LEN: usize = 127;
/// Bandwidth profile rates in Mbps (MIB range).
pub const RATE_RANGE: std::ops::RangeInclusive<u16> = 10..=1999;
/// The id, name and rates of the built-in profile.
pub const DEFAULT_PROFILE_ID: u8 = 1;
pub const DEFAULT_PROFILE_NAME: &str = "Default BW Profile";
pub const DEFAULT_PROFILE_RATE: u16 = 10;
/// The VLAN of a subscriber that has none configured (the captive-portal VLAN).
pub const DEFAULT_SUBSCRIBER_VID: u16 = 4094;
/// Base of physical-port ifIndexes: G.hn n = 1000000 + n, then the 10G uplinks, then MGMT.
pub const PORT_IFINDEX_BASE: u32 = 1_000_000;

/// Endpoint-aware (subscriber → endpoint → port) or port-aware (subscriber → port; copper only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubscriberModel {
    #[default]
    EndpointAware,
    PortAware,
}

/// Device-wide G.hn agent settings (`gamGhnAgentConfigGlobal*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Global {
    pub subscriber_model: SubscriberModel,
    /// The uplink used for Q-in-Q when a subscriber names none (1000013 = `10G 1/1` on a 12-port).
    pub default_nni_ifindex: u32,
    pub endpoint_auto_fw_upgrade: bool,
    pub shelf_seed: u8,
}

/// The wire mode of a G.hn port: coax on C models; MIMO (two pairs) or SISO on M models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortMode {
    Coax,
    Mimo,
    Siso,
}

/// A G.hn port is normally a domain master; GAM-to-GAM links make one an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortRole {
    #[default]
    DomainMaster,
    Endpoint,
}

/// One G.hn port's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GhnPort {
    /// Empty when unnamed.
    pub name: String,
    pub shutdown: bool,
    pub mode: PortMode,
    pub role: PortRole,
}

/// A bandwidth profile ("plan"): rates in Mbps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BwProfile {
    pub name: String,
    pub description: String,
    pub downstream_mbps: u16,
    pub upstream_mbps: u16,
}

/// Where an endpoint is allowed to come up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointPort {
    /// Disabled: not bound to any port.
    #[default]
    Unassigned,
    /// Bound to this G.hn port (1-based).
    Port(u8),
    /// Bound to whichever port it is first seen on.
    Auto,
}

/// A configured endpoint (CPE), keyed by MAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub mac: Mac,
    pub description: String,
    pub port: EndpointPort,
    pub allow_management_access: bool,
}

/// A subscriber's bandwidth: a profile id, or no limit at all (id 0 on SNMP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BwRef {
    Unthrottled,
    Profile(u8),
}

/// PoE out on the CPE's GbE1 (G1002+/G2002+ only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoeMode {
    Disable,
    #[default]
    Enable,
    Force,
}

/// A subscriber ("user"): the service bound to an endpoint (or a port in port-aware mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub name: String,
    pub description: String,
    /// Endpoint-aware mode: the endpoint id (None = not yet associated).
    pub endpoint: Option<u16>,
    /// Port-aware mode: the G.hn port (None = not yet associated).
    pub port: Option<u8>,
    /// The C-VLAN; 4094 until set.
    pub vid: u16,
    pub tagged: bool,
    pub remapped_vid: Option<u16>,
    /// Extra VLANs passed through unchanged, sorted.
    pub allowed_vlans: Vec<u16>,
    pub port2_vid: Option<u16>,
    pub bw_profile: BwRef,
    /// Q-in-Q S-VLAN; `Some` means DoubleTags is on.
    pub outer_vid: Option<u16>,
    /// The NNI for Q-in-Q; None = the global default.
    pub nni_ifindex: Option<u32>,
    pub poe: PoeMode,
}

impl Subscriber {
    /// A new subscriber row as the GAM creates it: named after its id, VLAN 4094, profile 1,
    /// PoE enabled (the row editor defaults in the real walk).
    pub fn new(id: u16) -> Subscriber {
        Subscriber {
            name: id.to_string(),
            description: String::new(),
            endpoint: None,
            port: None,
            vid: DEFAULT_SUBSCRIBER_VID,
            tagged: false,
            remapped_vid: None,
            allowed_vlans: Vec::new(),
            port2_vid: None,
            bw_profile: BwRef::Profile(DEFAULT_PROFILE_ID),
            outer_vid: None,
            nni_ifindex: None,
            poe: PoeMode::Enable,
        }
    }

    /// The MIB's DoubleTags flag.
    pub fn double_tags(&self) -> bool {
        self.outer_vid.is_some()
    }
}

/// The running configuration of the G.hn service and the hostname: everything
/// `show running-config` prints and `copy running-config startup-config` saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningConfig {
    pub model: GamModel,
    pub hostname: String,
    pub global: Global,
    /// Index 0 is G.hn port 1.
    pub ports: Vec<GhnPort>,
    pub profiles: BTreeMap<u8, BwProfile>,
    pub endpoints: BTreeMap<u16, Endpoint>,
    pub subscribers: BTreeMap<u16, Subscriber>,
}

impl RunningConfig {
    /// The factory-default configuration of `model`: every port enabled (MIMO on copper), only
    /// the default bandwidth profile, no endpoints or subscribers.
    pub fn factory(model: GamModel, hostname: &str) -> RunningConfig {
        let mode = match model.medium() {
            Medium::Copper => PortMode::Mimo,
            Medium::Coax => PortMode::Coax,
        };
        let ports = (0..model.ghn_ports())
            .map(|_| GhnPort {
                name: String::new(),
                shutdown: false,
                mode,
                role: PortRole::DomainMaster,
            })
            .collect();
        let mut profiles = BTreeMap::new();
        profiles.insert(DEFAULT_PROFILE_ID, default_profile());
        RunningConfig {
            model,
            hostname: hostname.to_string(),
            global: Global {
                subscriber_model: SubscriberModel::EndpointAware,
                default_nni_ifindex: first_uplink_ifindex(model),
                endpoint_auto_fw_upgrade: true,
                shelf_seed: 1,
            },
            ports,
            profiles,
            endpoints: BTreeMap::new(),
            subscribers: BTreeMap::new(),
        }
    }

    /// The number of G.hn ports of this device.
    pub fn port_count(&self) -> u8 {
        self.model.ghn_ports()
    }

    /// The configuration of G.hn port `n` (1-based), if it exists.
    pub fn port(&self, n: u8) -> Option<&GhnPort> {
        usize::from(n)
            .checked_sub(1)
            .and_then(|i| self.ports.get(i))
    }
}

/// The built-in profile 1 as the factory creates it.
pub fn default_profile() -> BwProfile {
    BwProfile {
        name: DEFAULT_PROFILE_NAME.to_string(),
        description: String::new(),
        downstream_mbps: DEFAULT_PROFILE_RATE,
        upstream_mbps: DEFAULT_PROFILE_RATE,
    }
}

/// ifIndex of `10G 1/1`: right after the G.hn ports.
pub fn first_uplink_ifindex(model: GamModel) -> u32 {
    PORT_IFINDEX_BASE + u32::from(model.ghn_ports()) + 1
}

/// A CPE the GAM currently sees on one of its G.hn ports (the physical world, not config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedCpe {
    pub mac: Mac,
    /// The G.hn port it is cabled to (1-based).
    pub port: u8,
    /// Model string, e.g. `G1001-C`.
    pub model: String,
    /// Hardware product, e.g. `DCP962C`.
    pub hw_product: String,
    pub serial: String,
    pub firmware: String,
    pub rx_phy_mbps: u32,
    pub tx_phy_mbps: u32,
    /// Seconds the CPE had been up when the device's own uptime was `seen_at_s`: its uptime
    /// now is `uptime_secs + (device uptime - seen_at_s)`.
    pub uptime_secs: u64,
    /// The cable's length in metres (the GAM reports it on copper only; on coax it is 0).
    pub wire_length_m: u32,
    /// The device's uptime (seconds) when `uptime_secs` was taken.
    #[serde(default)]
    pub seen_at_s: u64,
    /// The CPE runs firmware other than the GAM's bundled one.
    #[serde(default)]
    pub firmware_mismatch: bool,
    /// Powered off or unplugged: the GAM does not see it, but the lab remembers it.
    #[serde(default)]
    pub offline: bool,
    /// The share of its maximum throughput the subscriber uses in the busiest hour (percent).
    #[serde(default)]
    pub usage_peak_percent: u8,
}

impl DetectedCpe {
    /// Its uptime when the device has been up `device_uptime_s`: never longer than the
    /// device's own (a link cannot have been up before the GAM was).
    pub fn uptime_at(&self, device_uptime_s: u64) -> u64 {
        self.uptime_secs
            .saturating_add(device_uptime_s.saturating_sub(self.seen_at_s))
            .min(device_uptime_s)
    }
}

/// The device's health as its SNMP agent reports it (GAM-SYSUTIL-MIB temperatures,
/// GAM-ALARM-MIB active alarms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub temperatures: Vec<Sensor>,
    pub alarms: Vec<ActiveAlarm>,
}

impl Default for Health {
    /// The real walk's sensors and readings.
    fn default() -> Self {
        let sensor = |name: &str, tenths| Sensor {
            name: name.to_string(),
            tenths,
        };
        Health {
            temperatures: vec![
                sensor("Intake #1", 169),
                sensor("Intake #2", 148),
                sensor("Exhaust #1", 142),
                sensor("Exhaust #2", 120),
                sensor("CPU", 185),
            ],
            alarms: Vec::new(),
        }
    }
}

/// A temperature sensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sensor {
    pub name: String,
    /// Tenths of a degree Celsius.
    pub tenths: i32,
}

/// An active alarm (a row of `gamAlarmStatusActiveTable`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveAlarm {
    pub index: u32,
    /// 0 for the system.
    pub if_index: u32,
    pub if_descr: String,
    /// `GAMAlarmCondType`.
    pub condition: i32,
    /// `GAMAlarmSeverity` nr(0)..cr(4).
    pub severity: i32,
    pub service_affecting: bool,
    /// Unix seconds (UTC) when it was raised.
    pub occurred_unix_s: u64,
}

impl DetectedCpe {
    /// The CPE of the real GAM-12-C walk: a G1001-C on port 12.
    pub fn walk_example() -> DetectedCpe {
        DetectedCpe {
            mac: Mac([0x00, 0x0e, 0xd8, 0x19, 0x97, 0xe6]),
            port: 12,
            model: "G1001-C".to_string(),
            hw_product: "DCP962C".to_string(),
            serial: "ASY-2103-20,R12,01124908,23284".to_string(),
            firmware: "G1001C-CPE-P2MP SPIRIT.v7_10_r713+7_positron_24260".to_string(),
            rx_phy_mbps: 1805,
            tx_phy_mbps: 1744,
            uptime_secs: 4 * 86_400 + 23 * 3600 + 13 * 60 + 1,
            wire_length_m: 0,
            seen_at_s: 0,
            firmware_mismatch: false,
            offline: false,
            usage_peak_percent: 0,
        }
    }
}

/// Formats an uptime the way the GAM does: `4 days, 23h 13m 1s`.
pub fn format_uptime(secs: u64) -> String {
    let days = secs / 86_400;
    let h = (secs % 86_400) / 3600;
    let m = (secs % 3600) / 60;
    let s = secs % 60;
    let unit = if days == 1 { "day" } else { "days" };
    format!("{days} {unit}, {h}h {m}m {s}s")
}

/// The endpoint state of the MIB (`GAMGhnAgentEndpointState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointState {
    NotDetected,
    Ok,
    QuarantinedWrongPort,
    QuarantinedUnknownMac,
}

impl EndpointState {
    /// The MIB enumeration value.
    pub fn mib_value(self) -> i32 {
        match self {
            EndpointState::NotDetected => 0,
            EndpointState::Ok => 1,
            EndpointState::QuarantinedWrongPort => 2,
            EndpointState::QuarantinedUnknownMac => 3,
        }
    }
}

/// A one-shot failure armed by the fault injector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandFault {
    /// A command whose text contains this (case-insensitive, whitespace-normalised) fails.
    pub pattern: String,
    /// The exact text printed instead of running it, e.g. `% Error querying G.hn device. May be missing or busy.`
    pub output: String,
}

/// Faults the lab arms at run time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// Pending one-shot command failures, first armed first matched.
    pub fail_next: Vec<CommandFault>,
    /// While set, `copy running-config startup-config` is refused.
    pub save_in_progress: bool,
}

/// One simulated GAM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub model: GamModel,
    /// MAC of the switch; G.hn port n has `base_mac + n`.
    pub base_mac: Mac,
    pub running: RunningConfig,
    /// The saved configuration (`flash:startup-config`) as text.
    pub startup: String,
    pub cpes: Vec<DetectedCpe>,
    #[serde(default)]
    pub faults: Faults,
    /// Set by `reload`; the lab takes it to take the device offline for a while.
    #[serde(default)]
    pub reboot_requested: bool,
    /// Subscriber Uids, by subscriber id, where a recorded walk showed one other than the id
    /// (the real walk's subscriber 1 has Uid 2). A Uid is not persistent and no configuration
    /// explains it: a subscriber not listed reports its id, and a reload forgets them all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscriber_uids: BTreeMap<u16, u32>,
    /// VLAN interfaces configured on the switch outside the G.hn service (the real walk's 8,
    /// 88, 4060 and 4093), with their administrative status (up = true): served in IF-MIB as
    /// read, never changed by the G.hn commands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub switch_vlans: BTreeMap<u16, bool>,
    /// Temperatures and active alarms.
    #[serde(default)]
    pub health: Health,
    /// Change counters the lab polls to refresh the SNMP view and persist the state.
    #[serde(skip)]
    pub revisions: Revisions,
}

/// Counters of the changes made to a [`DeviceState`], so the lab can tell cheaply whether a CLI
/// command changed anything (and refresh the SNMP view only then) or saved the configuration
/// (and persist it). They are bookkeeping, not state: every two `Revisions` compare equal, so
/// they never make two devices differ.
#[derive(Clone, Copy, Debug, Default)]
pub struct Revisions {
    /// Bumped when the running configuration or the detected CPEs change.
    pub running: u64,
    /// Bumped on every `copy running-config startup-config`.
    pub saves: u64,
}

impl PartialEq for Revisions {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Revisions {}

/// The startup configuration could not be applied on reload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("startup-config line {line}: {message}")]
pub struct StartupError {
    pub line: usize,
    pub message: String,
}

impl DeviceState {
    /// A factory-fresh device; its startup configuration is the factory configuration.
    pub fn factory(model: GamModel, hostname: &str) -> DeviceState {
        let running = RunningConfig::factory(model, hostname);
        let startup = config::render(&running);
        DeviceState {
            model,
            base_mac: Mac([0x00, 0x0e, 0xd8, 0x1a, 0x85, 0xc9]),
            running,
            startup,
            cpes: Vec::new(),
            faults: Faults::default(),
            reboot_requested: false,
            subscriber_uids: BTreeMap::new(),
            switch_vlans: BTreeMap::new(),
            health: Health::default(),
            revisions: Revisions::default(),
        }
    }

    /// Records a change of the running configuration or the CPEs (see [`Revisions`]). The
    /// hooks below call it; code that edits `running` directly should too.
    pub fn mark_changed(&mut self) {
        self.revisions.running = self.revisions.running.wrapping_add(1);
    }

    /// The Uid the device reports for subscriber `id`.
    pub fn subscriber_uid(&self, id: u16) -> u32 {
        self.subscriber_uids
            .get(&id)
            .copied()
            .unwrap_or(u32::from(id))
    }

    /// The prompt name.
    pub fn hostname(&self) -> &str {
        &self.running.hostname
    }

    /// `copy running-config startup-config`: returns the number of bytes saved.
    pub fn save(&mut self) -> usize {
        self.revisions.saves = self.revisions.saves.wrapping_add(1);
        self.startup = config::render(&self.running);
        self.startup.len()
    }

    /// Whether the running configuration differs from the saved one.
    pub fn is_dirty(&self) -> bool {
        config::render(&self.running) != self.startup
    }

    /// Reboot: running := startup (unsaved changes are lost). A startup text that does not
    /// apply leaves the factory configuration plus the lines before the bad one, and the error.
    pub fn reload(&mut self) -> Result<(), StartupError> {
        let mut running = RunningConfig::factory(self.model, &self.running.hostname);
        let result = config::apply_text(&mut running, &self.startup);
        self.running = running;
        // Uids are not persistent across a reboot.
        self.subscriber_uids.clear();
        // Every link comes up again with the device (whose uptime restarts at 0).
        for c in &mut self.cpes {
            c.uptime_secs = 0;
            c.seen_at_s = 0;
        }
        self.faults.save_in_progress = false;
        self.mark_changed();
        result
    }

    /// `reload cold` from the CLI: reload now and tell the lab the unit is rebooting.
    pub fn request_reboot(&mut self) -> Result<(), StartupError> {
        self.reboot_requested = true;
        self.reload()
    }

    /// Takes (and clears) the reboot request raised by `reload cold`.
    pub fn take_reboot_request(&mut self) -> bool {
        std::mem::take(&mut self.reboot_requested)
    }

    /// Fault hook: the next command containing `pattern` prints `output` and does nothing.
    pub fn fail_next_command(&mut self, pattern: &str, output: &str) {
        self.faults.fail_next.push(CommandFault {
            pattern: normalise(pattern),
            output: output.to_string(),
        });
    }

    /// Fault hook: whether a save is (pretend) running, so another is refused.
    pub fn set_save_in_progress(&mut self, on: bool) {
        self.faults.save_in_progress = on;
    }

    /// Takes the armed failure matching `line`, if any.
    pub fn take_command_fault(&mut self, line: &str) -> Option<String> {
        let line = normalise(line);
        let i = self
            .faults
            .fail_next
            .iter()
            .position(|f| line.contains(&f.pattern))?;
        Some(self.faults.fail_next.remove(i).output)
    }

    /// Fault hook: out-of-band drift. Changes subscriber `id` directly, bypassing every rule
    /// (as a change through another interface would). Returns false when there is no such row.
    pub fn drift_subscriber(&mut self, id: u16, change: impl FnOnce(&mut Subscriber)) -> bool {
        match self.running.subscribers.get_mut(&id) {
            Some(s) => {
                change(s);
                self.mark_changed();
                true
            }
            None => false,
        }
    }

    /// A CPE appears on a port (or moves there). An `auto` endpoint with its MAC is in
    /// service wherever it is seen (the lab does not model the first-seen binding).
    ///
    /// In port-aware mode the GAM configures an unknown CPE itself, "with a default name the
    /// first time it is detected" (JSON-RPC guide §2.1.1): an endpoint row at the lowest free
    /// id, named `Positron_XXXXXX`, bound to no port. Returns the id of a row so created.
    pub fn detect_cpe(&mut self, cpe: DetectedCpe) -> Option<u16> {
        let mac = cpe.mac;
        self.cpes.retain(|c| c.mac != mac);
        self.cpes.push(cpe);
        self.mark_changed();
        let port_aware = self.running.global.subscriber_model == SubscriberModel::PortAware;
        if !port_aware || self.endpoint_id_by_mac(mac).is_some() {
            return None;
        }
        let id = (1..=MAX_ENDPOINTS).find(|id| !self.running.endpoints.contains_key(id))?;
        let mut name = mac.default_endpoint_name();
        if self.running.endpoints.values().any(|e| e.name == name) {
            // Two CPEs sharing their last three MAC bytes: keep names unique.
            name = format!("{name}_{id}");
        }
        self.running.endpoints.insert(
            id,
            Endpoint {
                name,
                mac,
                description: String::new(),
                port: EndpointPort::Unassigned,
                allow_management_access: false,
            },
        );
        Some(id)
    }

    /// A CPE disappears (unplugged, powered off).
    pub fn remove_cpe(&mut self, mac: Mac) {
        self.cpes.retain(|c| c.mac != mac);
        self.mark_changed();
    }

    /// The CPEs the GAM can see: those cabled to an existing port that is not shut down.
    pub fn visible_cpes(&self) -> impl Iterator<Item = &DetectedCpe> {
        self.cpes
            .iter()
            .filter(|c| !c.offline && self.running.port(c.port).is_some_and(|p| !p.shutdown))
    }

    /// The CPE with this MAC cabled to the device, seen or not (for the fault hooks).
    pub fn cpe_mut(&mut self, mac: Mac) -> Option<&mut DetectedCpe> {
        self.cpes.iter_mut().find(|c| c.mac == mac)
    }

    /// The CPE with this MAC, if the GAM sees it.
    pub fn cpe(&self, mac: Mac) -> Option<&DetectedCpe> {
        self.visible_cpes().find(|c| c.mac == mac)
    }

    /// CPEs the GAM sees on G.hn port `n`.
    pub fn cpes_on_port(&self, n: u8) -> impl Iterator<Item = &DetectedCpe> {
        self.visible_cpes().filter(move |c| c.port == n)
    }

    /// The state of configured endpoint `id` (None if not configured).
    pub fn endpoint_state(&self, id: u16) -> Option<EndpointState> {
        let ep = self.running.endpoints.get(&id)?;
        let Some(cpe) = self.cpe(ep.mac) else {
            return Some(EndpointState::NotDetected);
        };
        if self.running.global.subscriber_model == SubscriberModel::PortAware {
            // Endpoints float: service follows the port's subscriber.
            let served = self
                .running
                .subscribers
                .values()
                .any(|s| s.port == Some(cpe.port));
            return Some(if served {
                EndpointState::Ok
            } else {
                EndpointState::QuarantinedWrongPort
            });
        }
        Some(match ep.port {
            EndpointPort::Auto => EndpointState::Ok,
            EndpointPort::Port(p) if p == cpe.port => EndpointState::Ok,
            _ => EndpointState::QuarantinedWrongPort,
        })
    }

    /// The state of a seen CPE, by MAC (the `.3.30` view that also shows unknown CPEs).
    /// In port-aware mode a CPE on a port with a subscriber is in service even if unconfigured.
    pub fn cpe_state(&self, mac: Mac) -> Option<EndpointState> {
        let cpe = self.cpe(mac)?;
        match self.running.endpoints.iter().find(|(_, e)| e.mac == mac) {
            Some((id, _)) => self.endpoint_state(*id),
            None => {
                let port_aware = self.running.global.subscriber_model == SubscriberModel::PortAware;
                let served = self
                    .running
                    .subscribers
                    .values()
                    .any(|s| s.port == Some(cpe.port));
                Some(if port_aware && served {
                    EndpointState::Ok
                } else {
                    EndpointState::QuarantinedUnknownMac
                })
            }
        }
    }

    /// The id of the endpoint configured with this MAC.
    pub fn endpoint_id_by_mac(&self, mac: Mac) -> Option<u16> {
        self.running
            .endpoints
            .iter()
            .find(|(_, e)| e.mac == mac)
            .map(|(id, _)| *id)
    }

    /// MAC of G.hn port `n`.
    pub fn port_mac(&self, n: u8) -> Mac {
        self.base_mac.offset(u32::from(n))
    }
}

/// Lower-case, single-spaced form of a command line, for fault pattern matching.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_has_default_profile_and_ports() {
        let d = DeviceState::factory(GamModel::Gam12C, "GAM");
        assert_eq!(d.running.ports.len(), 12);
        assert!(d.running.ports.iter().all(|p| p.mode == PortMode::Coax));
        assert_eq!(d.running.profiles.len(), 1);
        assert_eq!(d.running.profiles[&1], default_profile());
        assert_eq!(d.running.global.default_nni_ifindex, 1_000_013);
        assert!(d.running.global.endpoint_auto_fw_upgrade);
        assert_eq!(d.running.global.shelf_seed, 1);
        assert!(!d.is_dirty());
        let m = DeviceState::factory(GamModel::Gam24M, "GAM");
        assert!(m.running.ports.iter().all(|p| p.mode == PortMode::Mimo));
        assert_eq!(m.running.global.default_nni_ifindex, 1_000_025);
    }

    #[test]
    fn port_macs_follow_the_walk() {
        let d = DeviceState::factory(GamModel::Gam12C, "GAM");
        assert_eq!(d.port_mac(1).to_string(), "00:0e:d8:1a:85:ca");
        assert_eq!(d.port_mac(12).to_string(), "00:0e:d8:1a:85:d5");
    }

    #[test]
    fn uptime_format_matches_the_walk() {
        assert_eq!(
            format_uptime(DetectedCpe::walk_example().uptime_secs),
            "4 days, 23h 13m 1s"
        );
        assert_eq!(format_uptime(86_400 + 5), "1 day, 0h 0m 5s");
    }

    #[test]
    fn endpoint_states_are_derived() {
        let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
        let cpe = DetectedCpe::walk_example();
        let mac = cpe.mac;
        d.detect_cpe(cpe);
        assert_eq!(d.cpe_state(mac), Some(EndpointState::QuarantinedUnknownMac));
        let mut ep = Endpoint {
            name: "e".into(),
            mac,
            description: String::new(),
            port: EndpointPort::Port(12),
            allow_management_access: false,
        };
        d.running.endpoints.insert(1, ep.clone());
        assert_eq!(d.endpoint_state(1), Some(EndpointState::Ok));
        ep.port = EndpointPort::Port(3);
        d.running.endpoints.insert(1, ep.clone());
        assert_eq!(
            d.endpoint_state(1),
            Some(EndpointState::QuarantinedWrongPort)
        );
        ep.port = EndpointPort::Unassigned;
        d.running.endpoints.insert(1, ep.clone());
        assert_eq!(
            d.endpoint_state(1),
            Some(EndpointState::QuarantinedWrongPort)
        );
        ep.port = EndpointPort::Auto;
        d.running.endpoints.insert(1, ep);
        assert_eq!(d.endpoint_state(1), Some(EndpointState::Ok));
        assert_eq!(d.cpe_state(mac), Some(EndpointState::Ok));
        d.running.ports[11].shutdown = true;
        assert_eq!(d.endpoint_state(1), Some(EndpointState::NotDetected));
        assert_eq!(d.cpe_state(mac), None);
        d.running.ports[11].shutdown = false;
        assert_eq!(d.endpoint_state(1), Some(EndpointState::Ok));
        d.remove_cpe(mac);
        assert_eq!(d.endpoint_state(1), Some(EndpointState::NotDetected));
        assert_eq!(d.endpoint_state(2), None);
        assert_eq!(EndpointState::QuarantinedUnknownMac.mib_value(), 3);
    }

    #[test]
    fn port_aware_mode_adopts_unknown_cpes() {
        let mut d = DeviceState::factory(GamModel::Gam12M, "GAM");
        let mut cpe = DetectedCpe::walk_example();
        cpe.port = 3;
        // Endpoint-aware: an unknown CPE stays unknown.
        assert_eq!(d.detect_cpe(cpe.clone()), None);
        assert_eq!(
            d.cpe_state(cpe.mac),
            Some(EndpointState::QuarantinedUnknownMac)
        );
        d.running.global.subscriber_model = SubscriberModel::PortAware;
        d.running.endpoints.insert(
            1,
            Endpoint {
                name: "Positron_1997E6".into(),
                mac: Mac([0, 0x0e, 0xd8, 0, 0, 1]),
                description: String::new(),
                port: EndpointPort::Unassigned,
                allow_management_access: false,
            },
        );
        assert_eq!(d.detect_cpe(cpe.clone()), Some(2));
        assert_eq!(d.running.endpoints[&2].mac, cpe.mac);
        assert_eq!(d.running.endpoints[&2].name, "Positron_1997E6_2");
        assert_eq!(d.detect_cpe(cpe.clone()), None, "already configured");
        assert_eq!(
            d.endpoint_state(2),
            Some(EndpointState::QuarantinedWrongPort)
        );
        let mut s = Subscriber::new(1);
        s.port = Some(3);
        d.running.subscribers.insert(1, s);
        assert_eq!(d.endpoint_state(2), Some(EndpointState::Ok));
    }

    #[test]
    fn command_faults_are_one_shot() {
        let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
        d.fail_next_command("ghn  Subscriber", "% boom");
        assert_eq!(d.take_command_fault("ghn bw-profile 2"), None);
        assert_eq!(
            d.take_command_fault("GHN subscriber 1 vid 5"),
            Some("% boom".to_string())
        );
        assert_eq!(d.take_command_fault("ghn subscriber 1 vid 5"), None);
    }

    #[test]
    fn drift_bypasses_rules() {
        let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
        assert!(!d.drift_subscriber(1, |s| s.vid = 1));
        d.running.subscribers.insert(1, Subscriber::new(1));
        assert!(d.drift_subscriber(1, |s| s.vid = 1));
        assert_eq!(d.running.subscribers[&1].vid, 1);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut d = DeviceState::factory(GamModel::Gam12C, "GAM");
        d.detect_cpe(DetectedCpe::walk_example());
        d.running.subscribers.insert(7, Subscriber::new(7));
        d.fail_next_command("x", "y");
        let j = serde_json::to_string(&d).unwrap();
        let back: DeviceState = serde_json::from_str(&j).unwrap();
        assert_eq!(back, d);
    }
}
