//! A running lab: simulated GAMs, each with its shared state, SNMP agent, SSH CLI server,
//! JSON-RPC server (`lab::jsonrpc`) and uptime clock, plus the run-time fault hooks the admin interface drives.
//!
//! Each device is one [`DeviceState`] behind a [`SharedDevice`]. Its SSH logins run an ICLI
//! [`Session`] through [`LabShell`], which refreshes the device's [`MibView`] after every
//! command that changed the running configuration (never after a `show`), reports saves so the
//! state can be persisted, and turns `reload cold` into a reboot: the device goes silent on
//! SNMP, its SSH listener closes (new connections are refused, open sessions end), the running
//! configuration becomes the startup one, and after the downtime it is back with its uptime
//! clock restarted.
//!
//! ```no_run
//! # async fn demo(devices: Vec<gamops::lab::runtime::DeviceConfig>) -> Result<(), gamops::lab::runtime::LabError> {
//! use gamops::lab::runtime::{Lab, LabOptions};
//! let lab = Lab::start(devices, LabOptions::default()).await?;
//! for d in lab.devices() {
//!     println!("{} snmp={} ssh={}", d.name(), d.snmp_addr(), d.ssh_addr());
//! }
//! lab.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lab::control::{
    DeviceInfo, Drift, FaultSettings, FaultState, HealthChange, LinkFault, ProfileChoice,
};
use crate::lab::device::state::{ActiveAlarm, BwRef, DetectedCpe, Health, PortMode, Revisions};
use crate::lab::device::{DeviceState, Mac, Session, SharedDevice, share};
use crate::lab::mib;
use crate::lab::snmp::{
    MibView, Oid, SnmpAgent, SnmpAgentConfig, SnmpAgentError, SnmpFaults, SnmpV3User, Value,
};
use crate::lab::ssh::{HostKey, SshError, SshFaults, SshServerConfig, SshServerHandle, SshUser};
use crate::lab::terminal::{Refusal, Reply, Shell, ShellFactory};

/// How long a rebooting device stays down unless told otherwise.
pub const DEFAULT_REBOOT_DOWNTIME: Duration = Duration::from_secs(5);

/// How often (seconds) the lab renders its devices' views again for the links' sake.
const LINK_REFRESH_SECS: u64 = 10;

/// sysUpTime.0, which the lab's clock updates every second.
const SYS_UPTIME_0: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];

/// How long `reload cold` leaves its session to print the banner before SSH goes down.
const CLI_RELOAD_GRACE: Duration = Duration::from_millis(300);

/// How long a reboot waits for the SSH server's sessions to end.
const SSH_STOP_GRACE: Duration = Duration::from_secs(5);

/// Everything needed to serve one simulated device.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// The device's name (its inventory name; the hostname is in `state`).
    pub name: String,
    /// The initial state (seeded, loaded from a state file or from a walk).
    pub state: DeviceState,
    /// The SNMP agent's address (port 0 picks a free one).
    pub snmp_bind: SocketAddr,
    /// The SSH server's address (port 0 picks a free one).
    pub ssh_bind: SocketAddr,
    /// The JSON-RPC server's address (`POST /json_rpc`; port 0 picks a free one).
    pub jsonrpc_bind: SocketAddr,
    /// SNMPv1/v2c communities.
    pub communities: Vec<String>,
    /// SNMPv3 users.
    pub snmp_users: Vec<SnmpV3User>,
    /// Who may log in over SSH.
    pub ssh_users: Vec<SshUser>,
    /// The SSH host key.
    pub host_key: HostKey,
    /// Further OIDs served as they are, such as the other MIBs of a recorded walk; the
    /// subtrees the lab renders replace theirs.
    pub extra_oids: Vec<(Oid, Value)>,
    /// How long the device has been up when the lab starts (a device from a walk continues
    /// the walk's sysUpTime, so its links' uptimes read as the walk's).
    pub uptime: Duration,
}

impl DeviceConfig {
    /// A device with the GAM's factory credentials (SSH `admin` with an empty password, SNMP
    /// `public`/`private` and the lab's v3 user) on free loopback ports.
    pub fn factory(name: impl Into<String>, state: DeviceState, host_key: HostKey) -> Self {
        let snmp = SnmpAgentConfig::default();
        Self {
            name: name.into(),
            state,
            snmp_bind: snmp.bind,
            ssh_bind: snmp.bind,
            jsonrpc_bind: snmp.bind,
            communities: snmp.communities,
            snmp_users: snmp.users,
            ssh_users: vec![SshUser::with_password(crate::lab::ssh::DEFAULT_USER, "")],
            host_key,
            extra_oids: Vec::new(),
            uptime: Duration::ZERO,
        }
    }
}

/// Lab-wide settings.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// How long a reboot keeps a device down.
    pub reboot_downtime: Duration,
    /// The idle timeout of CLI sessions (`None`: never).
    pub ssh_idle_timeout: Option<Duration>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            reboot_downtime: DEFAULT_REBOOT_DOWNTIME,
            ssh_idle_timeout: Some(crate::lab::ssh::DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// The lab could not start or a request to it failed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Two devices share a name.
    #[error("device {0} is listed twice")]
    DuplicateDevice(String),
    /// An SNMP agent could not start.
    #[error("device {device}: {source}")]
    Snmp {
        device: String,
        #[source]
        source: SnmpAgentError,
    },
    /// An SSH server could not start.
    #[error("device {device}: {source}")]
    Ssh {
        device: String,
        #[source]
        source: SshError,
    },
    /// The SSH port could not be bound.
    #[error("device {device}: cannot listen for SSH on {addr}: {source}")]
    SshBind {
        device: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The JSON-RPC port could not be bound.
    #[error("device {device}: cannot listen for JSON-RPC on {addr}: {source}")]
    JsonRpcBind {
        device: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// No device has this name.
    #[error("no device named {0}")]
    NoSuchDevice(String),
    /// A fault setting is not valid.
    #[error("{0}")]
    BadFault(String),
    /// The drifted subscriber does not exist.
    #[error("device {device} has no subscriber {id}")]
    NoSuchSubscriber { device: String, id: u16 },
    /// No CPE with this MAC is cabled to the device.
    #[error("device {device} has no CPE {mac}")]
    NoSuchCpe { device: String, mac: String },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a reboot request carries.
struct RebootRequest {
    device: usize,
    downtime: Duration,
    /// The running configuration still has to be replaced (an admin reboot; `reload cold`
    /// already did it).
    reload: bool,
}

/// The part of a device its CLI sessions share (no server handles, so no cycles).
struct DeviceCore {
    index: usize,
    name: String,
    shared: SharedDevice,
    view: MibView,
    /// When the device was last (re)started, and how long it had been up then (a device from
    /// a walk starts with the walk's uptime; a reboot starts at zero).
    booted: Mutex<(Instant, Duration)>,
    online: AtomicBool,
    reboots: mpsc::UnboundedSender<RebootRequest>,
    saved: Arc<Notify>,
    default_downtime: Duration,
}

impl DeviceCore {
    fn uptime(&self) -> Duration {
        let (at, before) = *lock(&self.booted);
        before.saturating_add(at.elapsed())
    }

    /// Renders the state into the SNMP view (the caller holds the device lock).
    fn refresh_locked(&self, dev: &DeviceState) {
        mib::refresh(&self.view, dev, self.uptime());
    }

    fn refresh(&self) {
        let dev = lock(&self.shared);
        self.refresh_locked(&dev);
    }
}

impl crate::lab::jsonrpc::Backend for DeviceCore {
    fn call(
        &self,
        omitted: &std::collections::BTreeSet<String>,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, crate::lab::device::jsonrpc::Fault> {
        let mut dev = lock(&self.shared);
        let before: Revisions = dev.revisions;
        let r = crate::lab::device::jsonrpc::call(&mut dev, omitted, method, params);
        let after = dev.revisions;
        if after.running != before.running {
            self.refresh_locked(&dev);
        }
        if after.saves != before.saves {
            self.saved.notify_one();
        }
        r
    }
}

/// The CLI of a lab device: an ICLI [`Session`] that keeps the SNMP view, the state file and
/// the device's power in step with what the commands did.
pub struct LabShell {
    session: Session,
    core: Arc<DeviceCore>,
}

impl Shell for LabShell {
    fn prompt(&self) -> String {
        self.session.prompt()
    }

    fn execute(&mut self, line: &str) -> Reply {
        let before: Revisions = lock(&self.core.shared).revisions;
        let reply = self.session.execute(line);
        let dev = lock(&self.core.shared);
        let mut dev = dev;
        let after = dev.revisions;
        if dev.take_reboot_request() {
            // `reload cold` already replaced the running configuration.
            let _ = self.core.reboots.send(RebootRequest {
                device: self.core.index,
                downtime: self.core.default_downtime,
                reload: false,
            });
        } else if after.running != before.running {
            self.core.refresh_locked(&dev);
        }
        if after.saves != before.saves {
            self.core.saved.notify_one();
        }
        reply
    }
}

struct LabShellFactory {
    core: Arc<DeviceCore>,
}

impl ShellFactory for LabShellFactory {
    fn open(&self, _user: &str) -> Result<Box<dyn Shell>, Refusal> {
        if !self.core.online.load(Ordering::Relaxed) {
            return Err(Refusal::new("% The system is rebooting"));
        }
        Ok(Box::new(LabShell {
            session: Session::new(Arc::clone(&self.core.shared)),
            core: Arc::clone(&self.core),
        }))
    }
}

/// One running simulated device.
pub struct LabDevice {
    core: Arc<DeviceCore>,
    snmp: Mutex<Option<SnmpAgent>>,
    snmp_addr: SocketAddr,
    snmp_faults: Arc<SnmpFaults>,
    ssh: tokio::sync::Mutex<Option<SshServerHandle>>,
    ssh_addr: SocketAddr,
    ssh_config: SshServerConfig,
    jsonrpc: tokio::sync::Mutex<Option<crate::lab::jsonrpc::JsonRpcServer>>,
    jsonrpc_addr: SocketAddr,
    jsonrpc_face: Arc<crate::lab::jsonrpc::Face>,
    rebooting: AtomicBool,
}

impl std::fmt::Debug for LabDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabDevice")
            .field("name", &self.core.name)
            .field("snmp", &self.snmp_addr)
            .field("ssh", &self.ssh_addr)
            .finish_non_exhaustive()
    }
}

impl LabDevice {
    /// The device's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Where its SNMP agent listens.
    pub fn snmp_addr(&self) -> SocketAddr {
        self.snmp_addr
    }

    /// Where its SSH server listens.
    pub fn ssh_addr(&self) -> SocketAddr {
        self.ssh_addr
    }

    /// Where its JSON-RPC server listens (`POST /json_rpc`).
    pub fn jsonrpc_addr(&self) -> SocketAddr {
        self.jsonrpc_addr
    }

    /// The JSON-RPC methods left out of this device (as an older firmware lacks them).
    pub fn jsonrpc_omitted(&self) -> Vec<String> {
        lock(&self.jsonrpc_face.omitted).iter().cloned().collect()
    }

    /// Its SSH host key.
    pub fn host_key(&self) -> &HostKey {
        &self.ssh_config.host_key
    }

    /// The shared state (lock it briefly; the CLI and SNMP use it too).
    pub fn state(&self) -> &SharedDevice {
        &self.core.shared
    }

    /// The SNMP view being served.
    pub fn view(&self) -> &MibView {
        &self.core.view
    }

    /// Whether the device is up (not rebooting).
    pub fn is_online(&self) -> bool {
        self.core.online.load(Ordering::Relaxed)
    }

    /// Time since the device (last) booted.
    pub fn uptime(&self) -> Duration {
        self.core.uptime()
    }

    /// Renders the current state into the SNMP view now.
    pub fn refresh(&self) {
        self.core.refresh();
    }

    /// The SNMP fault settings.
    pub fn snmp_faults(&self) -> &Arc<SnmpFaults> {
        &self.snmp_faults
    }

    /// The SSH fault settings.
    pub fn ssh_faults(&self) -> &Arc<SshFaults> {
        &self.ssh_config.faults
    }

    /// Changes the device's faults; fields left `None` keep their value.
    pub fn apply_faults(&self, f: &FaultSettings) -> Result<FaultState, LabError> {
        let prefixes = match &f.snmp_timeout_oids {
            Some(list) => Some(
                list.iter()
                    .map(|s| {
                        Oid::parse(s.trim_start_matches('.')).map_err(|e| {
                            LabError::BadFault(format!("snmp_timeout_oids: {s:?}: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        if let Some(p) = f.snmp_loss_percent
            && p > 100
        {
            return Err(LabError::BadFault(format!(
                "snmp_loss_percent must be 0 to 100, not {p}"
            )));
        }
        let snmp = &self.snmp_faults;
        let mut cfg = snmp.config();
        if let Some(ms) = f.snmp_latency_ms {
            cfg.latency = Duration::from_millis(ms);
        }
        if let Some(ms) = f.snmp_jitter_ms {
            cfg.jitter = Duration::from_millis(ms);
        }
        if let Some(p) = f.snmp_loss_percent {
            cfg.loss_percent = p;
        }
        if let Some(p) = prefixes {
            cfg.timeout_prefixes = p;
        }
        snmp.set(cfg);
        let ssh = self.ssh_faults();
        if let Some(on) = f.ssh_refuse_logins {
            ssh.set_refuse_logins(on);
        }
        if let Some(ms) = f.ssh_login_delay_ms {
            ssh.set_login_delay(Duration::from_millis(ms));
        }
        if let Some(limit) = f.ssh_session_limit {
            ssh.set_session_limit((limit > 0).then_some(limit));
        }
        if let Some(ms) = f.ssh_latency_ms {
            ssh.set_latency(Duration::from_millis(ms));
        }
        if let Some(methods) = &f.jsonrpc_omit_methods {
            *lock(&self.jsonrpc_face.omitted) = methods.iter().cloned().collect();
        }
        {
            let mut dev = lock(&self.core.shared);
            if let Some(on) = f.save_in_progress {
                dev.set_save_in_progress(on);
            }
            if let Some(fail) = &f.fail_command {
                let output = fail.output.clone().unwrap_or_else(|| {
                    "% Error querying G.hn device. May be missing or busy.".to_string()
                });
                dev.fail_next_command(&fail.pattern, &output);
            }
        }
        Ok(self.faults())
    }

    /// Removes every fault of the device.
    pub fn clear_faults(&self) -> FaultState {
        self.snmp_faults.clear();
        self.ssh_faults().clear();
        lock(&self.jsonrpc_face.omitted).clear();
        let mut dev = lock(&self.core.shared);
        dev.faults = Default::default();
        drop(dev);
        self.faults()
    }

    /// The device's current faults.
    pub fn faults(&self) -> FaultState {
        let snmp = self.snmp_faults.config();
        let ssh = self.ssh_faults();
        let dev = lock(&self.core.shared);
        FaultState {
            snmp_latency_ms: u64::try_from(snmp.latency.as_millis()).unwrap_or(u64::MAX),
            snmp_jitter_ms: u64::try_from(snmp.jitter.as_millis()).unwrap_or(u64::MAX),
            snmp_loss_percent: snmp.loss_percent,
            snmp_timeout_oids: snmp
                .timeout_prefixes
                .iter()
                .map(ToString::to_string)
                .collect(),
            ssh_refuse_logins: ssh.refuse_logins(),
            ssh_login_delay_ms: u64::try_from(ssh.login_delay().as_millis()).unwrap_or(u64::MAX),
            ssh_session_limit: ssh.session_limit(),
            ssh_latency_ms: u64::try_from(ssh.latency().as_millis()).unwrap_or(u64::MAX),
            save_in_progress: dev.faults.save_in_progress,
            jsonrpc_omit_methods: lock(&self.jsonrpc_face.omitted).iter().cloned().collect(),
            failing_commands: dev
                .faults
                .fail_next
                .iter()
                .map(|f| f.pattern.clone())
                .collect(),
        }
    }

    /// Out-of-band drift: changes subscriber `d.subscriber` behind gamops' back (as another
    /// interface would), bypassing the CLI's rules, and refreshes the SNMP view.
    pub fn drift(&self, d: &Drift) -> Result<(), LabError> {
        let mut dev = lock(&self.core.shared);
        let id = d.subscriber;
        let found = if d.remove {
            let had = dev.running.subscribers.remove(&id).is_some();
            if had {
                dev.mark_changed();
            }
            had
        } else {
            dev.drift_subscriber(id, |s| {
                if let Some(v) = d.vid {
                    s.vid = v;
                }
                if let Some(n) = &d.name {
                    s.name.clone_from(n);
                }
                if let Some(t) = &d.description {
                    s.description.clone_from(t);
                }
                if let Some(t) = d.tagged {
                    s.tagged = t;
                }
                if let Some(p) = &d.bw_profile {
                    s.bw_profile = match p {
                        ProfileChoice::Unthrottled(_) => BwRef::Unthrottled,
                        ProfileChoice::Id(id) => BwRef::Profile(*id),
                    };
                }
            })
        };
        if !found {
            return Err(LabError::NoSuchSubscriber {
                device: self.core.name.clone(),
                id,
            });
        }
        self.core.refresh_locked(&dev);
        Ok(())
    }

    /// Changes a CPE's link (see [`LinkFault`]) and refreshes the SNMP view.
    pub fn link(&self, fault: &LinkFault) -> Result<(), LabError> {
        let mut dev = lock(&self.core.shared);
        let now_s = self.core.uptime().as_secs();
        let ports = dev.model.ghn_ports();
        let bad_port = |port: u8| {
            (port == 0 || port > ports).then(|| {
                LabError::BadFault(format!(
                    "port {port} does not exist; the device has G.hn ports 1 to {ports}"
                ))
            })
        };
        let no_cpe = |mac: Mac| LabError::NoSuchCpe {
            device: self.core.name.clone(),
            mac: mac.to_string(),
        };
        match fault {
            LinkFault::Plug { mac, port, model } => {
                if let Some(e) = bad_port(*port) {
                    return Err(e);
                }
                let mode = dev.running.port(*port).map_or(PortMode::Coax, |p| p.mode);
                let mut cpe = DetectedCpe::walk_example();
                cpe.mac = *mac;
                cpe.port = *port;
                if let Some(m) = model {
                    cpe.model.clone_from(m);
                }
                cpe.uptime_secs = 0;
                cpe.seen_at_s = now_s;
                cpe.wire_length_m = 30;
                let mut rng = crate::lab::seed::Rng::new(u64::from(mac.0[5]), &mac.to_string());
                (cpe.rx_phy_mbps, cpe.tx_phy_mbps) =
                    crate::lab::device::link::phy_rates(mode, cpe.wire_length_m, &mut rng);
                dev.detect_cpe(cpe);
            }
            LinkFault::Offline { mac } | LinkFault::Online { mac } => {
                let offline = matches!(fault, LinkFault::Offline { .. });
                let cpe = dev.cpe_mut(*mac).ok_or_else(|| no_cpe(*mac))?;
                if cpe.offline && !offline {
                    cpe.uptime_secs = 0;
                    cpe.seen_at_s = now_s;
                }
                cpe.offline = offline;
            }
            LinkFault::Move { mac, port } => {
                if let Some(e) = bad_port(*port) {
                    return Err(e);
                }
                let cpe = dev.cpe_mut(*mac).ok_or_else(|| no_cpe(*mac))?;
                cpe.port = *port;
                cpe.offline = false;
                cpe.uptime_secs = 0;
                cpe.seen_at_s = now_s;
            }
            LinkFault::Phy {
                mac,
                rx_mbps,
                tx_mbps,
            } => {
                let cpe = dev.cpe_mut(*mac).ok_or_else(|| no_cpe(*mac))?;
                cpe.rx_phy_mbps = *rx_mbps;
                cpe.tx_phy_mbps = *tx_mbps;
            }
            LinkFault::FirmwareMismatch { mac, on } => {
                let cpe = dev.cpe_mut(*mac).ok_or_else(|| no_cpe(*mac))?;
                cpe.firmware_mismatch = *on;
            }
        }
        dev.mark_changed();
        self.core.refresh_locked(&dev);
        Ok(())
    }

    /// Changes the device's temperatures or alarms (see [`HealthChange`]) and refreshes the
    /// SNMP view. Returns the health now.
    pub fn health(&self, change: &HealthChange) -> Result<Health, LabError> {
        let mut dev = lock(&self.core.shared);
        if let Some(c) = change.temperature_c {
            if !(-40.0..=150.0).contains(&c) {
                return Err(LabError::BadFault(format!(
                    "temperature_c must be -40 to 150, not {c}"
                )));
            }
            // In range, so exact enough and within i32.
            #[allow(clippy::cast_possible_truncation)]
            let tenths = (c * 10.0).round() as i32;
            for sensor in &mut dev.health.temperatures {
                sensor.tenths = tenths;
            }
        }
        if let Some(raise) = &change.raise_alarm {
            let condition = crate::device::snmp::status::ALARM_CONDITIONS
                .iter()
                .position(|c| *c == raise.condition)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| {
                    LabError::BadFault(format!(
                        "unknown alarm condition {:?}; one of {}",
                        raise.condition,
                        crate::device::snmp::status::ALARM_CONDITIONS.join(", ")
                    ))
                })?;
            let index = dev.health.alarms.iter().map(|a| a.index).max().unwrap_or(0) + 1;
            let occurred_unix_s = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let if_descr = if raise.if_index == 0 {
                "System".to_string()
            } else {
                format!("ifIndex {}", raise.if_index)
            };
            dev.health.alarms.push(ActiveAlarm {
                index,
                if_index: raise.if_index,
                if_descr,
                condition,
                severity: raise.severity.mib_value(),
                service_affecting: raise.service_affecting,
                occurred_unix_s,
            });
        }
        if let Some(index) = change.clear_alarm {
            let before = dev.health.alarms.len();
            dev.health.alarms.retain(|a| a.index != index);
            if dev.health.alarms.len() == before {
                return Err(LabError::BadFault(format!(
                    "device {} has no active alarm {index}",
                    self.core.name
                )));
            }
        }
        dev.mark_changed();
        self.core.refresh_locked(&dev);
        Ok(dev.health.clone())
    }

    /// What the admin interface shows of the device.
    pub fn info(&self) -> DeviceInfo {
        let dev = lock(&self.core.shared);
        let (model, hostname, subscribers, dirty) = (
            dev.model.to_string(),
            dev.hostname().to_string(),
            dev.running.subscribers.len(),
            dev.is_dirty(),
        );
        drop(dev);
        DeviceInfo {
            name: self.core.name.clone(),
            model,
            hostname,
            snmp: self.snmp_addr.to_string(),
            ssh: self.ssh_addr.to_string(),
            jsonrpc: self.jsonrpc_addr.to_string(),
            host_key: self.host_key().public_key_openssh().to_string(),
            host_key_fingerprint: self.host_key().fingerprint_sha256(),
            online: self.is_online(),
            uptime_secs: self.uptime().as_secs(),
            subscribers,
            unsaved_changes: dirty,
        }
    }
}

/// A running lab. Shut it down with [`Lab::shutdown`]; dropping it stops the servers without
/// waiting.
pub struct Lab {
    devices: Vec<Arc<LabDevice>>,
    by_name: BTreeMap<String, usize>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    reboots: mpsc::UnboundedSender<RebootRequest>,
    saved: Arc<Notify>,
    options: LabOptions,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("devices", &self.devices.len())
            .finish_non_exhaustive()
    }
}

impl Lab {
    /// Starts every device: renders its MIB, binds its SNMP agent and SSH server. Must run in a
    /// tokio runtime.
    pub async fn start(
        configs: Vec<DeviceConfig>,
        options: LabOptions,
    ) -> Result<Arc<Lab>, LabError> {
        let (reboots, reboot_rx) = mpsc::unbounded_channel();
        let saved = Arc::new(Notify::new());
        let mut devices = Vec::with_capacity(configs.len());
        let mut by_name = BTreeMap::new();
        for (index, cfg) in configs.into_iter().enumerate() {
            if by_name.insert(cfg.name.clone(), index).is_some() {
                return Err(LabError::DuplicateDevice(cfg.name));
            }
            let device = start_device(index, cfg, &options, &reboots, &saved).await?;
            devices.push(Arc::new(device));
        }
        let lab = Arc::new(Lab {
            devices,
            by_name,
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            reboots,
            saved,
            options,
        });
        lab.tasks.spawn(reboot_loop(
            Arc::downgrade(&lab),
            reboot_rx,
            lab.shutdown.clone(),
        ));
        lab.tasks
            .spawn(uptime_clock(Arc::downgrade(&lab), lab.shutdown.clone()));
        Ok(lab)
    }

    /// The devices, in the order given.
    pub fn devices(&self) -> &[Arc<LabDevice>] {
        &self.devices
    }

    /// The device called `name`.
    pub fn device(&self, name: &str) -> Result<&Arc<LabDevice>, LabError> {
        self.by_name
            .get(name)
            .and_then(|i| self.devices.get(*i))
            .ok_or_else(|| LabError::NoSuchDevice(name.to_string()))
    }

    /// Applies a fault map: fault settings by device name, `*` for every device.
    pub fn apply_fault_map(
        &self,
        map: &std::collections::BTreeMap<String, FaultSettings>,
    ) -> Result<(), LabError> {
        for (name, settings) in map {
            let targets: Vec<&Arc<LabDevice>> = if name == "*" {
                self.devices.iter().collect()
            } else {
                vec![self.device(name)?]
            };
            for d in targets {
                d.apply_faults(settings)?;
            }
        }
        Ok(())
    }

    /// Reboots `name`: the running configuration becomes the startup one, the device is
    /// unreachable for `downtime` (default: the lab's), then back.
    pub fn reboot(&self, name: &str, downtime: Option<Duration>) -> Result<Duration, LabError> {
        let index = *self
            .by_name
            .get(name)
            .ok_or_else(|| LabError::NoSuchDevice(name.to_string()))?;
        let downtime = downtime.unwrap_or(self.options.reboot_downtime);
        let _ = self.reboots.send(RebootRequest {
            device: index,
            downtime,
            reload: true,
        });
        Ok(downtime)
    }

    /// Notified each time a device's configuration is saved (for persisting the state).
    pub fn saved(&self) -> Arc<Notify> {
        Arc::clone(&self.saved)
    }

    /// A number that changes whenever any device's state changes (cheap to poll).
    pub fn change_count(&self) -> u64 {
        self.devices
            .iter()
            .map(|d| {
                let r = lock(&d.core.shared).revisions;
                r.running.wrapping_add(r.saves)
            })
            .fold(0u64, u64::wrapping_add)
    }

    /// A copy of every device's state, by name.
    pub fn snapshot(&self) -> BTreeMap<String, DeviceState> {
        self.devices
            .iter()
            .map(|d| (d.name().to_string(), lock(&d.core.shared).clone()))
            .collect()
    }

    /// A token cancelled when the lab shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops every server and waits for them.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        for d in &self.devices {
            let ssh = d.ssh.lock().await.take();
            if let Some(ssh) = ssh {
                ssh.shutdown().await;
            }
            let jsonrpc = d.jsonrpc.lock().await.take();
            if let Some(j) = jsonrpc {
                j.shutdown().await;
            }
            let snmp = lock(&d.snmp).take();
            if let Some(snmp) = snmp {
                snmp.shutdown().await;
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start_device(
    index: usize,
    cfg: DeviceConfig,
    options: &LabOptions,
    reboots: &mpsc::UnboundedSender<RebootRequest>,
    saved: &Arc<Notify>,
) -> Result<LabDevice, LabError> {
    let DeviceConfig {
        name,
        state,
        snmp_bind,
        ssh_bind,
        jsonrpc_bind,
        communities,
        snmp_users,
        ssh_users,
        host_key,
        extra_oids,
        uptime,
    } = cfg;
    let view = MibView::from_entries(extra_oids);
    mib::refresh(&view, &state, uptime);
    let core = Arc::new(DeviceCore {
        index,
        name: name.clone(),
        shared: share(state),
        view: view.clone(),
        booted: Mutex::new((Instant::now(), uptime)),
        online: AtomicBool::new(true),
        reboots: reboots.clone(),
        saved: Arc::clone(saved),
        default_downtime: options.reboot_downtime,
    });
    let snmp_faults = Arc::new(SnmpFaults::new());
    let agent = SnmpAgent::start(
        SnmpAgentConfig {
            bind: snmp_bind,
            communities,
            users: snmp_users,
            ..SnmpAgentConfig::default()
        },
        view,
        Arc::clone(&snmp_faults),
    )
    .await
    .map_err(|source| LabError::Snmp {
        device: name.clone(),
        source,
    })?;
    let mut ssh_config = SshServerConfig::gam_default(host_key);
    ssh_config.users = ssh_users;
    ssh_config.idle_timeout = options.ssh_idle_timeout;
    let listener = tokio::net::TcpListener::bind(ssh_bind)
        .await
        .map_err(|source| LabError::SshBind {
            device: name.clone(),
            addr: ssh_bind,
            source,
        })?;
    let ssh = crate::lab::ssh::serve(
        listener,
        ssh_config.clone(),
        Arc::new(LabShellFactory {
            core: Arc::clone(&core),
        }),
    )
    .map_err(|source| LabError::Ssh {
        device: name.clone(),
        source,
    })?;
    let jsonrpc_face = Arc::new(crate::lab::jsonrpc::Face {
        backend: Arc::clone(&core) as Arc<dyn crate::lab::jsonrpc::Backend>,
        users: ssh_config.users.clone(),
        faults: Arc::clone(&ssh_config.faults),
        omitted: Arc::new(Mutex::new(std::collections::BTreeSet::new())),
    });
    let (jsonrpc_addr, jsonrpc) =
        crate::lab::jsonrpc::bind(jsonrpc_bind, Arc::clone(&jsonrpc_face))
            .await
            .map_err(|source| LabError::JsonRpcBind {
                device: name.clone(),
                addr: jsonrpc_bind,
                source,
            })?;
    Ok(LabDevice {
        jsonrpc: tokio::sync::Mutex::new(Some(jsonrpc)),
        jsonrpc_addr,
        jsonrpc_face,
        snmp_addr: agent.local_addr(),
        snmp: Mutex::new(Some(agent)),
        snmp_faults,
        ssh_addr: ssh.local_addr(),
        ssh: tokio::sync::Mutex::new(Some(ssh)),
        ssh_config,
        rebooting: AtomicBool::new(false),
        core,
    })
}

async fn reboot_loop(
    lab: std::sync::Weak<Lab>,
    mut rx: mpsc::UnboundedReceiver<RebootRequest>,
    shutdown: CancellationToken,
) {
    loop {
        let req = tokio::select! {
            _ = shutdown.cancelled() => return,
            req = rx.recv() => match req {
                Some(req) => req,
                None => return,
            },
        };
        let Some(lab) = lab.upgrade() else { return };
        let Some(device) = lab.devices.get(req.device).cloned() else {
            continue;
        };
        if device.rebooting.swap(true, Ordering::SeqCst) {
            continue; // already down; this reboot is part of that one
        }
        lab.tasks
            .spawn(reboot(device, req.downtime, req.reload, shutdown.clone()));
    }
}

/// Takes `device` down for `downtime` and brings it back.
async fn reboot(
    device: Arc<LabDevice>,
    downtime: Duration,
    reload: bool,
    shutdown: CancellationToken,
) {
    let name = device.name().to_string();
    tracing::info!(device = %name, ?downtime, "lab device rebooting");
    device.core.online.store(false, Ordering::SeqCst);
    device.snmp_faults.set_silenced(true);
    if !reload {
        // `reload cold` from a session: let its banner reach the user before the link drops.
        tokio::time::sleep(CLI_RELOAD_GRACE).await;
    }
    let ssh = device.ssh.lock().await.take();
    if let Some(ssh) = ssh {
        let _ = tokio::time::timeout(SSH_STOP_GRACE, ssh.shutdown()).await;
    }
    let jsonrpc = device.jsonrpc.lock().await.take();
    if let Some(j) = jsonrpc {
        let _ = tokio::time::timeout(SSH_STOP_GRACE, j.shutdown()).await;
    }
    {
        let mut dev = lock(&device.core.shared);
        if reload && let Err(e) = dev.reload() {
            tracing::warn!(device = %name, error = %e, "startup-config did not apply cleanly");
        }
        dev.reboot_requested = false;
    }
    tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = tokio::time::sleep(downtime) => {}
    }
    *lock(&device.core.booted) = (Instant::now(), Duration::ZERO);
    device.core.refresh();
    let mut served = None;
    for _ in 0..50 {
        match tokio::net::TcpListener::bind(device.ssh_addr).await {
            Ok(listener) => {
                let factory = Arc::new(LabShellFactory {
                    core: Arc::clone(&device.core),
                });
                match crate::lab::ssh::serve(listener, device.ssh_config.clone(), factory) {
                    Ok(h) => served = Some(h),
                    Err(e) => tracing::error!(device = %name, error = %e, "ssh restart failed"),
                }
                break;
            }
            Err(e) => {
                tracing::debug!(device = %name, error = %e, "ssh port busy after reboot; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if served.is_none() {
        tracing::error!(device = %name, addr = %device.ssh_addr, "cannot listen for SSH again after reboot");
    }
    *device.ssh.lock().await = served;
    let mut jsonrpc = None;
    for _ in 0..50 {
        match tokio::net::TcpListener::bind(device.jsonrpc_addr).await {
            Ok(listener) => {
                jsonrpc = Some(crate::lab::jsonrpc::serve(
                    listener,
                    Arc::clone(&device.jsonrpc_face),
                ));
                break;
            }
            Err(e) => {
                tracing::debug!(device = %name, error = %e, "json-rpc port busy after reboot; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if jsonrpc.is_none() {
        tracing::error!(device = %name, addr = %device.jsonrpc_addr, "cannot listen for JSON-RPC again after reboot");
    }
    *device.jsonrpc.lock().await = jsonrpc;
    device.snmp_faults.set_silenced(false);
    device.core.online.store(true, Ordering::SeqCst);
    device.rebooting.store(false, Ordering::SeqCst);
    tracing::info!(device = %name, "lab device back up");
}

/// Keeps sysUpTime.0 of every device current every second, and renders each device's whole
/// view again every [`LINK_REFRESH_SECS`] (every `devices / 10` seconds in a larger lab), so
/// the links' uptimes and their usage (which follows the time of day) move on; otherwise the
/// view changes only with state. The renders are spread over the seconds, a slice of the
/// devices each, so a lab of a thousand GAMs never stops answering for a burst of them, and
/// their cost stays a small share of a core.
async fn uptime_clock(lab: std::sync::Weak<Lab>, shutdown: CancellationToken) {
    let oid = Oid::from_slice(SYS_UPTIME_0);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        ticks = ticks.wrapping_add(1);
        let Some(lab) = lab.upgrade() else { return };
        // Device i is rendered when the clock reaches i modulo the period: each device once a
        // period, a slice of them each second.
        let period = LINK_REFRESH_SECS.max(lab.devices.len() as u64 / 10);
        for (i, d) in lab.devices.iter().enumerate() {
            if (i as u64) % period == ticks % period && d.is_online() {
                d.core.refresh();
            }
        }
        for d in &lab.devices {
            if d.is_online() {
                let ticks = u32::try_from(d.uptime().as_millis() / 10).unwrap_or(u32::MAX);
                d.core.view.insert(oid.clone(), Value::TimeTicks(ticks));
            }
        }
    }
}
