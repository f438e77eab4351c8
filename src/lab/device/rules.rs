//! The GAM's validation rules and its real error strings.
//!
//! Every change to the running configuration goes through one of the `RunningConfig` methods
//! here. Each builds the changed row on a copy, checks it against the whole configuration, and
//! stores it only if every rule passes: a rejected change leaves the configuration untouched.
//!
//! The messages are the G.hn agent's (module 143) error texts, copied from Positron's JSON-RPC
//! guide §3.8 (codes -9437183 … -9437127), typos included. Where the device's choice of error
//! for a rule is unknown, the closest real message is used (noted on the rule).

use super::state::{
    BwProfile, BwRef, DEFAULT_PROFILE_ID, DEFAULT_SUBSCRIBER_VID, Endpoint, EndpointPort,
    MAX_ALLOWED_VLANS, MAX_DESCRIPTION_LEN, MAX_ENDPOINTS, MAX_NAME_LEN, MAX_PROFILES,
    MAX_SUBSCRIBERS, PORT_IFINDEX_BASE, PoeMode, PortMode, RATE_RANGE, RunningConfig, Subscriber,
    SubscriberModel,
};
use super::types::{Mac, is_service_vid};
use crate::model::Medium;

/// A G.hn agent error: what the GAM answers when it rejects a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GhnError {
    #[error("G.hn generic error")]
    Generic,
    #[error("Invalid G.hn port")]
    InvalidPort,
    #[error("Invalid G.hn subscriber")]
    InvalidSubscriber,
    #[error("Non-existing G.hn subscriber")]
    NonExistingSubscriber,
    #[error("Invalid G.hn endpoint")]
    InvalidEndpoint,
    #[error("Non-existing G.hn endpoint (no such endpoint configured)")]
    NonExistingEndpoint,
    #[error("Endpoint not found on any ports")]
    EndpointNotFound,
    #[error("G.hn endpoint is already assigned to another subscriber")]
    EndpointAlreadyAssigned,
    #[error("G.hn port is already assigned to another subscriber")]
    PortAlreadyAssigned,
    #[error("Invalid G.hn subscriber name")]
    InvalidSubscriberName,
    #[error("Non-unique G.hn subscriber name")]
    NonUniqueSubscriberName,
    #[error("Non-unique G.hn endpoint name")]
    NonUniqueEndpointName,
    #[error("Non-unique G.hn bandwidth profile name")]
    NonUniqueBwProfileName,
    #[error("Non-unique G.hn port name")]
    NonUniquePortName,
    #[error("Invalid G.hn bandwidth profile")]
    InvalidBwProfile,
    #[error("Non-existing G.hn bandwidth profile")]
    NonExistingBwProfile,
    #[error("Invalid G.hn bandwidth profile name")]
    InvalidBwProfileName,
    #[error("Invalid G.hn bandwidth profile downstream bandwidth")]
    InvalidDownstream,
    #[error("Invalid G.hn bandwidth profile upstream bandwidth")]
    InvalidUpstream,
    #[error("Invalid G.hn data VLAN id")]
    InvalidVid,
    #[error("Invalid G.hn remapped data VLAN id")]
    InvalidRemappedVid,
    #[error("Invalid G.hn port #2 VLAN id")]
    InvalidPort2Vid,
    #[error("G.hn VLAN cannot be the same as port #2 VLAN id")]
    VidSameAsPort2Vid,
    #[error("Too many allowed tagged VLAN")]
    TooManyAllowedVlans,
    #[error("Invalid G.hn endpoint name")]
    InvalidEndpointName,
    #[error("Invalid G.hn endpoint MAC address")]
    InvalidEndpointMac,
    #[error("Non-unique G.hn endpoint MAC address")]
    NonUniqueEndpointMac,
    #[error("Maximum number of G.hn endpoint reached for the system")]
    MaxEndpointsSystem,
    #[error("Maximum number of G.hn banbdwidth profile reached for the system")]
    MaxProfilesSystem,
    #[error("Maximum number of G.hn subscriber reached for the system")]
    MaxSubscribersSystem,
    #[error("Maximum number of G.hn endpoint reached for that port")]
    MaxEndpointsPort,
    #[error("Invalid G.hn port mode")]
    InvalidPortMode,
    #[error("Invalid NNI port")]
    InvalidNni,
    #[error("Invalid outer tag VID")]
    InvalidOuterVid,
    #[error("Specified NNI port is not uplink")]
    NniNotUplink,
    #[error("Error querying G.hn device. May be missing or busy.")]
    DeviceBusy,
    #[error("Invalid G.hn subscriber model")]
    InvalidSubscriberModel,
}

impl GhnError {
    /// The module-local code (`vtss-module-code`, -1 … -57).
    pub fn module_code(self) -> i32 {
        use GhnError::*;
        match self {
            Generic => -1,
            InvalidPort => -5,
            InvalidSubscriber => -6,
            NonExistingSubscriber => -7,
            InvalidEndpoint => -8,
            NonExistingEndpoint => -9,
            EndpointNotFound => -12,
            EndpointAlreadyAssigned => -13,
            PortAlreadyAssigned => -14,
            InvalidSubscriberName => -15,
            NonUniqueSubscriberName => -16,
            NonUniqueEndpointName => -17,
            NonUniqueBwProfileName => -18,
            NonUniquePortName => -19,
            InvalidBwProfile => -20,
            NonExistingBwProfile => -21,
            InvalidBwProfileName => -22,
            InvalidDownstream => -23,
            InvalidUpstream => -24,
            InvalidVid => -25,
            InvalidRemappedVid => -26,
            InvalidPort2Vid => -27,
            VidSameAsPort2Vid => -28,
            TooManyAllowedVlans => -29,
            InvalidEndpointName => -30,
            InvalidEndpointMac => -31,
            NonUniqueEndpointMac => -32,
            MaxEndpointsSystem => -33,
            MaxProfilesSystem => -34,
            MaxSubscribersSystem => -35,
            MaxEndpointsPort => -36,
            InvalidPortMode => -37,
            InvalidNni => -41,
            InvalidOuterVid => -42,
            NniNotUplink => -43,
            DeviceBusy => -53,
            InvalidSubscriberModel => -57,
        }
    }

    /// The JSON-RPC `vtss-error-code`: module 143's base -9437184 plus the module code.
    pub fn vtss_error_code(self) -> i32 {
        -9_437_184 - self.module_code()
    }
}

/// Changes to a G.hn port; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortEdit {
    pub mode: Option<PortMode>,
    pub name: Option<String>,
    pub shutdown: Option<bool>,
}

/// Changes to (or the creation of) a bandwidth profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub downstream_mbps: Option<u16>,
    pub upstream_mbps: Option<u16>,
}

/// Changes to (or the creation of) an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointEdit {
    pub name: Option<String>,
    pub mac: Option<Mac>,
    pub description: Option<String>,
    pub port: Option<EndpointPort>,
    pub allow_management_access: Option<bool>,
}

/// Changes to (or the creation of) a subscriber. `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscriberEdit {
    pub name: Option<String>,
    pub description: Option<String>,
    pub endpoint: Option<Option<u16>>,
    pub port: Option<Option<u8>>,
    pub vid: Option<u16>,
    pub tagged: Option<bool>,
    pub remapped_vid: Option<Option<u16>>,
    pub bw_profile: Option<BwRef>,
    pub allowed_vlans: Option<Vec<u16>>,
    pub port2_vid: Option<Option<u16>>,
    pub outer_vid: Option<Option<u16>>,
    pub nni_ifindex: Option<Option<u32>>,
    pub poe: Option<PoeMode>,
}

/// Changes to the global settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalEdit {
    pub subscriber_model: Option<SubscriberModel>,
    pub default_nni_ifindex: Option<u32>,
    pub endpoint_auto_fw_upgrade: Option<bool>,
    pub shelf_seed: Option<u8>,
}

fn name_ok(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.chars().count())
}

fn description_ok(d: &str) -> bool {
    d.chars().count() <= MAX_DESCRIPTION_LEN
}

impl RunningConfig {
    /// ifIndexes of the 10G uplinks.
    pub fn uplink_ifindexes(&self) -> std::ops::RangeInclusive<u32> {
        let first = PORT_IFINDEX_BASE + u32::from(self.port_count()) + 1;
        first..=first + u32::from(self.model.info().uplinks).saturating_sub(1)
    }

    /// ifIndex of the MGMT port.
    pub fn mgmt_ifindex(&self) -> u32 {
        self.uplink_ifindexes().end() + 1
    }

    fn check_nni(&self, ifindex: u32) -> Result<(), GhnError> {
        if self.uplink_ifindexes().contains(&ifindex) {
            return Ok(());
        }
        let ghn = PORT_IFINDEX_BASE + 1..=PORT_IFINDEX_BASE + u32::from(self.port_count());
        if ghn.contains(&ifindex) || ifindex == self.mgmt_ifindex() {
            Err(GhnError::NniNotUplink)
        } else {
            Err(GhnError::InvalidNni)
        }
    }

    fn check_port_number(&self, n: u8) -> Result<(), GhnError> {
        if n == 0 || n > self.port_count() {
            Err(GhnError::InvalidPort)
        } else {
            Ok(())
        }
    }

    /// `hostname <name>`.
    pub fn set_hostname(&mut self, name: &str) {
        self.hostname = name.to_string();
    }

    /// `ghn global ...`: the subscriber model (port-aware only on copper models; existing rows
    /// are converted, as the GAM tries to), the default NNI, auto FW upgrade, shelf seed.
    pub fn set_global(&mut self, edit: GlobalEdit) -> Result<(), GhnError> {
        let mut next = self.clone();
        if let Some(ifindex) = edit.default_nni_ifindex {
            self.check_nni(ifindex)?;
            next.global.default_nni_ifindex = ifindex;
        }
        if let Some(on) = edit.endpoint_auto_fw_upgrade {
            next.global.endpoint_auto_fw_upgrade = on;
        }
        if let Some(seed) = edit.shelf_seed {
            next.global.shelf_seed = seed;
        }
        if let Some(model) = edit.subscriber_model {
            if model == SubscriberModel::PortAware && self.model.medium() == Medium::Coax {
                return Err(GhnError::InvalidSubscriberModel);
            }
            if model != self.global.subscriber_model {
                next.convert_subscriber_model(model);
            }
        }
        *self = next;
        Ok(())
    }

    /// Rewrites subscribers for a new model: endpoint → the endpoint's port, or port → the
    /// endpoint bound to that port. Associations that cannot be converted are dropped.
    fn convert_subscriber_model(&mut self, model: SubscriberModel) {
        self.global.subscriber_model = model;
        let endpoints = self.endpoints.clone();
        let mut taken_ports = Vec::new();
        let mut taken_eps = Vec::new();
        for s in self.subscribers.values_mut() {
            match model {
                SubscriberModel::PortAware => {
                    let port = s
                        .endpoint
                        .and_then(|e| endpoints.get(&e))
                        .and_then(|e| match e.port {
                            EndpointPort::Port(p) => Some(p),
                            _ => None,
                        })
                        .filter(|p| !taken_ports.contains(p));
                    if let Some(p) = port {
                        taken_ports.push(p);
                    }
                    s.port = port;
                    s.endpoint = None;
                }
                SubscriberModel::EndpointAware => {
                    let ep = s.port.and_then(|p| {
                        endpoints
                            .iter()
                            .find(|(id, e)| {
                                e.port == EndpointPort::Port(p) && !taken_eps.contains(*id)
                            })
                            .map(|(id, _)| *id)
                    });
                    if let Some(id) = ep {
                        taken_eps.push(id);
                    }
                    s.endpoint = ep;
                    s.port = None;
                }
            }
        }
    }

    /// `ghn port <n> [mode ..] [name ..] [shutdown]` and `no ghn port <n> shutdown`.
    pub fn set_port(&mut self, n: u8, edit: PortEdit) -> Result<(), GhnError> {
        self.check_port_number(n)?;
        let idx = usize::from(n) - 1;
        let mut port = self.ports.get(idx).cloned().ok_or(GhnError::InvalidPort)?;
        if let Some(mode) = edit.mode {
            let ok = match self.model.medium() {
                Medium::Copper => mode != PortMode::Coax,
                Medium::Coax => mode == PortMode::Coax,
            };
            if !ok {
                return Err(GhnError::InvalidPortMode);
            }
            port.mode = mode;
        }
        if let Some(name) = edit.name {
            if name.chars().count() > MAX_NAME_LEN {
                return Err(GhnError::InvalidPort);
            }
            let clash = !name.is_empty()
                && self
                    .ports
                    .iter()
                    .enumerate()
                    .any(|(i, p)| i != idx && p.name == name);
            if clash {
                return Err(GhnError::NonUniquePortName);
            }
            port.name = name;
        }
        if let Some(shutdown) = edit.shutdown {
            port.shutdown = shutdown;
        }
        if let Some(slot) = self.ports.get_mut(idx) {
            *slot = port;
        }
        Ok(())
    }

    /// `ghn bw-profile <id> ...`: creates or changes a profile.
    pub fn set_profile(&mut self, id: u8, edit: ProfileEdit) -> Result<(), GhnError> {
        if id == 0 || id > MAX_PROFILES {
            return Err(GhnError::InvalidBwProfile);
        }
        let mut p = self
            .profiles
            .get(&id)
            .cloned()
            .unwrap_or_else(|| BwProfile {
                name: id.to_string(),
                description: String::new(),
                downstream_mbps: *RATE_RANGE.start(),
                upstream_mbps: *RATE_RANGE.start(),
            });
        if let Some(name) = edit.name {
            p.name = name;
        }
        if let Some(d) = edit.description {
            p.description = d;
        }
        if let Some(ds) = edit.downstream_mbps {
            p.downstream_mbps = ds;
        }
        if let Some(us) = edit.upstream_mbps {
            p.upstream_mbps = us;
        }
        if !name_ok(&p.name) {
            return Err(GhnError::InvalidBwProfileName);
        }
        if self
            .profiles
            .iter()
            .any(|(other, q)| *other != id && q.name == p.name)
        {
            return Err(GhnError::NonUniqueBwProfileName);
        }
        // The GAM has no specific error for an over-long description; this is the closest.
        if !description_ok(&p.description) {
            return Err(GhnError::InvalidBwProfile);
        }
        if !RATE_RANGE.contains(&p.downstream_mbps) {
            return Err(GhnError::InvalidDownstream);
        }
        if !RATE_RANGE.contains(&p.upstream_mbps) {
            return Err(GhnError::InvalidUpstream);
        }
        self.profiles.insert(id, p);
        Ok(())
    }

    /// `no ghn bw-profile <id>`. Profile 1 and profiles in use cannot be deleted (the GAM's
    /// exact error for these is unknown; "Invalid G.hn bandwidth profile" is used).
    pub fn delete_profile(&mut self, id: u8) -> Result<(), GhnError> {
        if !self.profiles.contains_key(&id) {
            return Err(GhnError::NonExistingBwProfile);
        }
        let in_use = self
            .subscribers
            .values()
            .any(|s| s.bw_profile == BwRef::Profile(id));
        if id == DEFAULT_PROFILE_ID || in_use {
            return Err(GhnError::InvalidBwProfile);
        }
        self.profiles.remove(&id);
        Ok(())
    }

    /// `ghn endpoint <id> ...`: creates or changes an endpoint. A new endpoint needs a MAC;
    /// without a name it is called `Positron_XXXXXX` after its MAC.
    pub fn set_endpoint(&mut self, id: u16, edit: EndpointEdit) -> Result<(), GhnError> {
        if id == 0 || id > MAX_ENDPOINTS {
            return Err(GhnError::InvalidEndpoint);
        }
        let mut e = match self.endpoints.get(&id) {
            Some(e) => e.clone(),
            None => {
                let mac = edit.mac.ok_or(GhnError::InvalidEndpointMac)?;
                Endpoint {
                    name: mac.default_endpoint_name(),
                    mac,
                    description: String::new(),
                    port: EndpointPort::Unassigned,
                    allow_management_access: false,
                }
            }
        };
        if let Some(mac) = edit.mac {
            e.mac = mac;
        }
        if let Some(name) = edit.name {
            e.name = name;
        }
        if let Some(d) = edit.description {
            e.description = d;
        }
        if let Some(port) = edit.port {
            e.port = port;
        }
        if let Some(m) = edit.allow_management_access {
            e.allow_management_access = m;
        }
        // Multicast and all-zero addresses cannot be a CPE.
        if e.mac.0 == [0; 6] || e.mac.0[0] & 1 == 1 {
            return Err(GhnError::InvalidEndpointMac);
        }
        let others = || {
            self.endpoints
                .iter()
                .filter(move |(other, _)| **other != id)
        };
        if others().any(|(_, o)| o.mac == e.mac) {
            return Err(GhnError::NonUniqueEndpointMac);
        }
        if !name_ok(&e.name) {
            return Err(GhnError::InvalidEndpointName);
        }
        if others().any(|(_, o)| o.name == e.name) {
            return Err(GhnError::NonUniqueEndpointName);
        }
        if !description_ok(&e.description) {
            return Err(GhnError::InvalidEndpoint);
        }
        if let EndpointPort::Port(p) = e.port {
            self.check_port_number(p)?;
            let on_port = others().filter(|(_, o)| o.port == e.port).count();
            if on_port >= self.model.medium().endpoints_per_port() {
                return Err(GhnError::MaxEndpointsPort);
            }
        }
        self.endpoints.insert(id, e);
        Ok(())
    }

    /// `no ghn endpoint <id>`. An endpoint a subscriber uses cannot be deleted (the GAM's
    /// exact error is unknown; "Invalid G.hn endpoint" is used).
    pub fn delete_endpoint(&mut self, id: u16) -> Result<(), GhnError> {
        if !self.endpoints.contains_key(&id) {
            return Err(GhnError::NonExistingEndpoint);
        }
        if self.subscribers.values().any(|s| s.endpoint == Some(id)) {
            return Err(GhnError::InvalidEndpoint);
        }
        self.endpoints.remove(&id);
        Ok(())
    }

    /// `no ghn endpoint <id> port` / `no ghn endpoint <id> allow-management-access`:
    /// changes an existing endpoint only.
    pub fn edit_existing_endpoint(&mut self, id: u16, edit: EndpointEdit) -> Result<(), GhnError> {
        if !self.endpoints.contains_key(&id) {
            return Err(GhnError::NonExistingEndpoint);
        }
        self.set_endpoint(id, edit)
    }

    /// `ghn subscriber <id> ...`: creates or changes a subscriber.
    pub fn set_subscriber(&mut self, id: u16, edit: SubscriberEdit) -> Result<(), GhnError> {
        if id == 0 || id > MAX_SUBSCRIBERS {
            return Err(GhnError::InvalidSubscriber);
        }
        let mut s = self
            .subscribers
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Subscriber::new(id));
        let SubscriberEdit {
            name,
            description,
            endpoint,
            port,
            vid,
            tagged,
            remapped_vid,
            bw_profile,
            allowed_vlans,
            port2_vid,
            outer_vid,
            nni_ifindex,
            poe,
        } = edit;
        let model = self.global.subscriber_model;
        if let Some(ep) = endpoint {
            if ep.is_some() && model != SubscriberModel::EndpointAware {
                return Err(GhnError::InvalidSubscriberModel);
            }
            s.endpoint = ep;
        }
        if let Some(p) = port {
            if p.is_some() && model != SubscriberModel::PortAware {
                return Err(GhnError::InvalidSubscriberModel);
            }
            s.port = p;
        }
        if let Some(v) = name {
            s.name = v;
        }
        if let Some(v) = description {
            s.description = v;
        }
        if let Some(v) = vid {
            s.vid = v;
        }
        if let Some(v) = tagged {
            s.tagged = v;
        }
        if let Some(v) = remapped_vid {
            s.remapped_vid = v;
        }
        if let Some(v) = bw_profile {
            s.bw_profile = v;
        }
        if let Some(v) = allowed_vlans {
            s.allowed_vlans = v;
        }
        if let Some(v) = port2_vid {
            s.port2_vid = v;
        }
        if let Some(v) = outer_vid {
            s.outer_vid = v;
        }
        if let Some(v) = nni_ifindex {
            s.nni_ifindex = v;
        }
        if let Some(v) = poe {
            s.poe = v;
        }
        self.check_subscriber(id, &s)?;
        self.subscribers.insert(id, s);
        Ok(())
    }

    fn check_subscriber(&self, id: u16, s: &Subscriber) -> Result<(), GhnError> {
        let others = || self.subscribers.iter().filter(move |(o, _)| **o != id);
        if !name_ok(&s.name) {
            return Err(GhnError::InvalidSubscriberName);
        }
        if others().any(|(_, o)| o.name == s.name) {
            return Err(GhnError::NonUniqueSubscriberName);
        }
        if !description_ok(&s.description) {
            return Err(GhnError::InvalidSubscriber);
        }
        if let Some(ep) = s.endpoint {
            if !self.endpoints.contains_key(&ep) {
                return Err(GhnError::NonExistingEndpoint);
            }
            if others().any(|(_, o)| o.endpoint == Some(ep)) {
                return Err(GhnError::EndpointAlreadyAssigned);
            }
        }
        if let Some(p) = s.port {
            self.check_port_number(p)?;
            if others().any(|(_, o)| o.port == Some(p)) {
                return Err(GhnError::PortAlreadyAssigned);
            }
        }
        if !(is_service_vid(s.vid) || s.vid == DEFAULT_SUBSCRIBER_VID) {
            return Err(GhnError::InvalidVid);
        }
        if s.remapped_vid.is_some_and(|v| !is_service_vid(v)) {
            return Err(GhnError::InvalidRemappedVid);
        }
        if let Some(p2) = s.port2_vid {
            if !is_service_vid(p2) {
                return Err(GhnError::InvalidPort2Vid);
            }
            if p2 == s.vid {
                return Err(GhnError::VidSameAsPort2Vid);
            }
        }
        if s.allowed_vlans.len() > MAX_ALLOWED_VLANS {
            return Err(GhnError::TooManyAllowedVlans);
        }
        if s.allowed_vlans.iter().any(|v| !is_service_vid(*v)) {
            return Err(GhnError::InvalidVid);
        }
        if let BwRef::Profile(p) = s.bw_profile
            && !self.profiles.contains_key(&p)
        {
            return Err(GhnError::NonExistingBwProfile);
        }
        if s.outer_vid.is_some_and(|v| !is_service_vid(v)) {
            return Err(GhnError::InvalidOuterVid);
        }
        if let Some(nni) = s.nni_ifindex {
            self.check_nni(nni)?;
        }
        Ok(())
    }

    /// `no ghn subscriber <id>`.
    pub fn delete_subscriber(&mut self, id: u16) -> Result<(), GhnError> {
        self.subscribers
            .remove(&id)
            .map(|_| ())
            .ok_or(GhnError::NonExistingSubscriber)
    }

    /// `no ghn subscriber <id> endpoint|port`: changes an existing subscriber only.
    pub fn edit_existing_subscriber(
        &mut self,
        id: u16,
        edit: SubscriberEdit,
    ) -> Result<(), GhnError> {
        if !self.subscribers.contains_key(&id) {
            return Err(GhnError::NonExistingSubscriber);
        }
        self.set_subscriber(id, edit)
    }
}
