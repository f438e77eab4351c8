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
        // The all-zero and broadcast addresses cannot be a CPE. (Multicast-bit MACs are let
        // through: the CLI guide's own examples use 11:2F:1F:A1:CC:DF.)
        if e.mac.0 == [0; 6] || e.mac.0 == [0xff; 6] {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GamModel;

    fn mac(n: u8) -> Mac {
        Mac([0x00, 0x0e, 0xd8, 0x00, 0x00, n])
    }

    fn coax() -> RunningConfig {
        RunningConfig::factory(GamModel::Gam12C, "GAM")
    }

    fn copper() -> RunningConfig {
        RunningConfig::factory(GamModel::Gam12M, "GAM")
    }

    fn ep(n: u8, port: EndpointPort) -> EndpointEdit {
        EndpointEdit {
            mac: Some(mac(n)),
            port: Some(port),
            ..EndpointEdit::default()
        }
    }

    fn profile(name: &str, rate: u16) -> ProfileEdit {
        ProfileEdit {
            name: Some(name.into()),
            description: None,
            downstream_mbps: Some(rate),
            upstream_mbps: Some(rate),
        }
    }

    /// Asserts that `f` fails with `err` and leaves the configuration as it was.
    fn rejects(
        cfg: &mut RunningConfig,
        err: GhnError,
        f: impl FnOnce(&mut RunningConfig) -> Result<(), GhnError>,
    ) {
        let before = cfg.clone();
        assert_eq!(f(cfg), Err(err));
        assert_eq!(*cfg, before, "a rejected change must change nothing");
    }

    #[test]
    fn error_strings_and_codes_are_the_gams() {
        assert_eq!(
            GhnError::NonUniqueSubscriberName.to_string(),
            "Non-unique G.hn subscriber name"
        );
        assert_eq!(GhnError::Generic.vtss_error_code(), -9_437_183);
        assert_eq!(GhnError::InvalidBwProfileName.vtss_error_code(), -9_437_162);
        assert_eq!(
            GhnError::InvalidSubscriberModel.vtss_error_code(),
            -9_437_127
        );
        assert_eq!(
            GhnError::MaxProfilesSystem.to_string(),
            "Maximum number of G.hn banbdwidth profile reached for the system"
        );
    }

    #[test]
    fn profile_rules() {
        let mut c = coax();
        c.set_profile(2, profile("1G", 1000)).unwrap();
        assert_eq!(c.profiles[&2].downstream_mbps, 1000);
        rejects(&mut c, GhnError::NonUniqueBwProfileName, |c| {
            c.set_profile(3, profile("1G", 100))
        });
        rejects(&mut c, GhnError::InvalidBwProfileName, |c| {
            c.set_profile(3, profile("", 100))
        });
        rejects(&mut c, GhnError::InvalidBwProfileName, |c| {
            c.set_profile(3, profile(&"x".repeat(32), 100))
        });
        c.set_profile(3, profile(&"x".repeat(31), 100)).unwrap();
        rejects(&mut c, GhnError::InvalidDownstream, |c| {
            c.set_profile(4, profile("a", 9))
        });
        rejects(&mut c, GhnError::InvalidDownstream, |c| {
            c.set_profile(4, profile("a", 2000))
        });
        rejects(&mut c, GhnError::InvalidUpstream, |c| {
            c.set_profile(
                2,
                ProfileEdit {
                    upstream_mbps: Some(0),
                    ..ProfileEdit::default()
                },
            )
        });
        rejects(&mut c, GhnError::InvalidBwProfile, |c| {
            c.set_profile(16, profile("a", 100))
        });
        rejects(&mut c, GhnError::InvalidBwProfile, |c| {
            c.set_profile(
                4,
                ProfileEdit {
                    description: Some("d".repeat(128)),
                    ..profile("a", 100)
                },
            )
        });
        // The walk's 1G profile exists on a coax GAM: no 800 Mbps cap on the device.
        c.set_profile(5, profile("1999", 1999)).unwrap();
    }

    #[test]
    fn profile_deletion_rules() {
        let mut c = coax();
        rejects(&mut c, GhnError::InvalidBwProfile, |c| c.delete_profile(1));
        rejects(&mut c, GhnError::NonExistingBwProfile, |c| {
            c.delete_profile(2)
        });
        c.set_profile(2, profile("p", 100)).unwrap();
        c.set_subscriber(
            1,
            SubscriberEdit {
                bw_profile: Some(BwRef::Profile(2)),
                ..SubscriberEdit::default()
            },
        )
        .unwrap();
        rejects(&mut c, GhnError::InvalidBwProfile, |c| c.delete_profile(2));
        c.delete_subscriber(1).unwrap();
        c.delete_profile(2).unwrap();
        assert!(!c.profiles.contains_key(&2));
    }

    #[test]
    fn endpoint_rules() {
        let mut c = coax();
        rejects(&mut c, GhnError::InvalidEndpointMac, |c| {
            c.set_endpoint(1, EndpointEdit::default())
        });
        rejects(&mut c, GhnError::InvalidEndpointMac, |c| {
            c.set_endpoint(
                1,
                EndpointEdit {
                    mac: Some(Mac([0xff; 6])),
                    ..EndpointEdit::default()
                },
            )
        });
        rejects(&mut c, GhnError::InvalidEndpoint, |c| {
            c.set_endpoint(385, ep(1, EndpointPort::Auto))
        });
        c.set_endpoint(1, ep(1, EndpointPort::Port(1))).unwrap();
        assert_eq!(c.endpoints[&1].name, "Positron_000001");
        rejects(&mut c, GhnError::NonUniqueEndpointMac, |c| {
            c.set_endpoint(2, ep(1, EndpointPort::Port(2)))
        });
        rejects(&mut c, GhnError::NonUniqueEndpointName, |c| {
            c.set_endpoint(
                2,
                EndpointEdit {
                    name: Some("Positron_000001".into()),
                    ..ep(2, EndpointPort::Port(2))
                },
            )
        });
        rejects(&mut c, GhnError::InvalidEndpointName, |c| {
            c.set_endpoint(
                2,
                EndpointEdit {
                    name: Some(String::new()),
                    ..ep(2, EndpointPort::Port(2))
                },
            )
        });
        rejects(&mut c, GhnError::InvalidEndpoint, |c| {
            c.set_endpoint(
                2,
                EndpointEdit {
                    description: Some("d".repeat(128)),
                    ..ep(2, EndpointPort::Port(2))
                },
            )
        });
        rejects(&mut c, GhnError::InvalidPort, |c| {
            c.set_endpoint(2, ep(2, EndpointPort::Port(13)))
        });
        // An existing endpoint keeps its MAC when the edit leaves it out.
        c.set_endpoint(
            1,
            EndpointEdit {
                description: Some("C#".into()),
                ..EndpointEdit::default()
            },
        )
        .unwrap();
        assert_eq!(c.endpoints[&1].mac, mac(1));
    }

    #[test]
    fn endpoints_per_port_copper_one_coax_sixteen() {
        let mut m = copper();
        m.set_endpoint(1, ep(1, EndpointPort::Port(1))).unwrap();
        rejects(&mut m, GhnError::MaxEndpointsPort, |c| {
            c.set_endpoint(2, ep(2, EndpointPort::Port(1)))
        });
        // Unassigned and auto endpoints take no port slot; re-saving the same endpoint is fine.
        m.set_endpoint(2, ep(2, EndpointPort::Unassigned)).unwrap();
        m.set_endpoint(3, ep(3, EndpointPort::Auto)).unwrap();
        m.set_endpoint(1, ep(1, EndpointPort::Port(1))).unwrap();

        let mut c = coax();
        for n in 1..=16 {
            c.set_endpoint(u16::from(n), ep(n, EndpointPort::Port(5)))
                .unwrap();
        }
        rejects(&mut c, GhnError::MaxEndpointsPort, |c| {
            c.set_endpoint(17, ep(17, EndpointPort::Port(5)))
        });
        c.set_endpoint(17, ep(17, EndpointPort::Port(6))).unwrap();
        // Moving an endpoint onto the full port is refused too.
        rejects(&mut c, GhnError::MaxEndpointsPort, |c| {
            c.set_endpoint(
                17,
                EndpointEdit {
                    port: Some(EndpointPort::Port(5)),
                    ..EndpointEdit::default()
                },
            )
        });
    }

    #[test]
    fn endpoint_deletion_rules() {
        let mut c = coax();
        rejects(&mut c, GhnError::NonExistingEndpoint, |c| {
            c.delete_endpoint(1)
        });
        rejects(&mut c, GhnError::NonExistingEndpoint, |c| {
            c.edit_existing_endpoint(1, EndpointEdit::default())
        });
        c.set_endpoint(1, ep(1, EndpointPort::Port(1))).unwrap();
        c.set_subscriber(
            1,
            SubscriberEdit {
                endpoint: Some(Some(1)),
                ..SubscriberEdit::default()
            },
        )
        .unwrap();
        rejects(&mut c, GhnError::InvalidEndpoint, |c| c.delete_endpoint(1));
        c.edit_existing_subscriber(
            1,
            SubscriberEdit {
                endpoint: Some(None),
                ..SubscriberEdit::default()
            },
        )
        .unwrap();
        c.delete_endpoint(1).unwrap();
        assert!(c.endpoints.is_empty());
    }

    fn with_endpoints(mut c: RunningConfig) -> RunningConfig {
        c.set_endpoint(1, ep(1, EndpointPort::Port(1))).unwrap();
        c.set_endpoint(2, ep(2, EndpointPort::Port(2))).unwrap();
        c
    }

    fn sub(f: impl FnOnce(&mut SubscriberEdit)) -> SubscriberEdit {
        let mut e = SubscriberEdit::default();
        f(&mut e);
        e
    }

    #[test]
    fn subscriber_defaults() {
        let mut c = coax();
        c.set_subscriber(7, SubscriberEdit::default()).unwrap();
        let s = &c.subscribers[&7];
        assert_eq!(s.name, "7");
        assert_eq!(s.vid, 4094);
        assert_eq!(s.bw_profile, BwRef::Profile(1));
        assert_eq!(s.poe, PoeMode::Enable);
        assert!(!s.double_tags());
    }

    #[test]
    fn subscriber_reference_rules() {
        let mut c = with_endpoints(coax());
        c.set_subscriber(1, sub(|e| e.endpoint = Some(Some(1))))
            .unwrap();
        rejects(&mut c, GhnError::EndpointAlreadyAssigned, |c| {
            c.set_subscriber(2, sub(|e| e.endpoint = Some(Some(1))))
        });
        rejects(&mut c, GhnError::NonExistingEndpoint, |c| {
            c.set_subscriber(2, sub(|e| e.endpoint = Some(Some(3))))
        });
        rejects(&mut c, GhnError::NonExistingBwProfile, |c| {
            c.set_subscriber(2, sub(|e| e.bw_profile = Some(BwRef::Profile(9))))
        });
        rejects(&mut c, GhnError::InvalidSubscriberModel, |c| {
            c.set_subscriber(2, sub(|e| e.port = Some(Some(2))))
        });
        rejects(&mut c, GhnError::InvalidSubscriber, |c| {
            c.set_subscriber(0, SubscriberEdit::default())
        });
        rejects(&mut c, GhnError::NonExistingSubscriber, |c| {
            c.delete_subscriber(2)
        });
        rejects(&mut c, GhnError::NonExistingSubscriber, |c| {
            c.edit_existing_subscriber(2, SubscriberEdit::default())
        });
    }

    #[test]
    fn subscriber_name_rules() {
        let mut c = coax();
        c.set_subscriber(1, sub(|e| e.name = Some("Unit 4B".into())))
            .unwrap();
        rejects(&mut c, GhnError::NonUniqueSubscriberName, |c| {
            c.set_subscriber(2, sub(|e| e.name = Some("Unit 4B".into())))
        });
        // A new row's default name (its id) can clash too.
        c.set_subscriber(3, sub(|e| e.name = Some("2".into())))
            .unwrap();
        rejects(&mut c, GhnError::NonUniqueSubscriberName, |c| {
            c.set_subscriber(2, SubscriberEdit::default())
        });
        rejects(&mut c, GhnError::InvalidSubscriberName, |c| {
            c.set_subscriber(1, sub(|e| e.name = Some("n".repeat(32))))
        });
        rejects(&mut c, GhnError::InvalidSubscriberName, |c| {
            c.set_subscriber(1, sub(|e| e.name = Some(String::new())))
        });
        rejects(&mut c, GhnError::InvalidSubscriber, |c| {
            c.set_subscriber(1, sub(|e| e.description = Some("d".repeat(128))))
        });
    }

    #[test]
    fn subscriber_vlan_rules() {
        let mut c = coax();
        c.set_subscriber(1, sub(|e| e.vid = Some(3))).unwrap();
        c.set_subscriber(1, sub(|e| e.vid = Some(4093))).unwrap();
        c.set_subscriber(1, sub(|e| e.vid = Some(4094))).unwrap();
        for bad in [1, 2, 3840, 3841, 3842, 4095] {
            rejects(&mut c, GhnError::InvalidVid, |c| {
                c.set_subscriber(1, sub(|e| e.vid = Some(bad)))
            });
        }
        rejects(&mut c, GhnError::InvalidRemappedVid, |c| {
            c.set_subscriber(1, sub(|e| e.remapped_vid = Some(Some(2))))
        });
        rejects(&mut c, GhnError::InvalidPort2Vid, |c| {
            c.set_subscriber(1, sub(|e| e.port2_vid = Some(Some(4094))))
        });
        c.set_subscriber(1, sub(|e| e.vid = Some(100))).unwrap();
        rejects(&mut c, GhnError::VidSameAsPort2Vid, |c| {
            c.set_subscriber(1, sub(|e| e.port2_vid = Some(Some(100))))
        });
        rejects(&mut c, GhnError::TooManyAllowedVlans, |c| {
            c.set_subscriber(1, sub(|e| e.allowed_vlans = Some((10..25).collect())))
        });
        c.set_subscriber(1, sub(|e| e.allowed_vlans = Some((10..24).collect())))
            .unwrap();
        rejects(&mut c, GhnError::InvalidVid, |c| {
            c.set_subscriber(1, sub(|e| e.allowed_vlans = Some(vec![2])))
        });
        rejects(&mut c, GhnError::InvalidOuterVid, |c| {
            c.set_subscriber(1, sub(|e| e.outer_vid = Some(Some(3841))))
        });
        c.set_subscriber(1, sub(|e| e.outer_vid = Some(Some(120))))
            .unwrap();
        assert!(c.subscribers[&1].double_tags());
    }

    #[test]
    fn nni_rules() {
        let mut c = coax();
        c.set_subscriber(1, sub(|e| e.nni_ifindex = Some(Some(1_000_014))))
            .unwrap();
        rejects(&mut c, GhnError::NniNotUplink, |c| {
            c.set_subscriber(1, sub(|e| e.nni_ifindex = Some(Some(1_000_003))))
        });
        rejects(&mut c, GhnError::NniNotUplink, |c| {
            c.set_subscriber(1, sub(|e| e.nni_ifindex = Some(Some(1_000_015))))
        });
        rejects(&mut c, GhnError::InvalidNni, |c| {
            c.set_subscriber(1, sub(|e| e.nni_ifindex = Some(Some(77))))
        });
        rejects(&mut c, GhnError::NniNotUplink, |c| {
            c.set_global(GlobalEdit {
                default_nni_ifindex: Some(1_000_001),
                ..GlobalEdit::default()
            })
        });
    }

    #[test]
    fn port_rules() {
        let mut c = coax();
        rejects(&mut c, GhnError::InvalidPortMode, |c| {
            c.set_port(
                1,
                PortEdit {
                    mode: Some(PortMode::Mimo),
                    ..PortEdit::default()
                },
            )
        });
        rejects(&mut c, GhnError::InvalidPort, |c| {
            c.set_port(13, PortEdit::default())
        });
        rejects(&mut c, GhnError::InvalidPort, |c| {
            c.set_port(0, PortEdit::default())
        });
        let named = |n: &str| PortEdit {
            name: Some(n.into()),
            ..PortEdit::default()
        };
        c.set_port(1, named("riser")).unwrap();
        rejects(&mut c, GhnError::NonUniquePortName, |c| {
            c.set_port(2, named("riser"))
        });
        rejects(&mut c, GhnError::InvalidPort, |c| {
            c.set_port(2, named(&"r".repeat(32)))
        });
        // Empty names never clash.
        c.set_port(1, named("")).unwrap();
        c.set_port(2, named("")).unwrap();
        c.set_port(
            3,
            PortEdit {
                shutdown: Some(true),
                ..PortEdit::default()
            },
        )
        .unwrap();
        assert!(c.ports[2].shutdown);

        let mut m = copper();
        m.set_port(
            4,
            PortEdit {
                mode: Some(PortMode::Siso),
                ..PortEdit::default()
            },
        )
        .unwrap();
        assert_eq!(m.ports[3].mode, PortMode::Siso);
    }

    #[test]
    fn port_aware_only_on_copper() {
        let mut c = coax();
        rejects(&mut c, GhnError::InvalidSubscriberModel, |c| {
            c.set_global(GlobalEdit {
                subscriber_model: Some(SubscriberModel::PortAware),
                ..GlobalEdit::default()
            })
        });
        let mut m = with_endpoints(copper());
        m.set_subscriber(1, sub(|e| e.endpoint = Some(Some(2))))
            .unwrap();
        m.set_subscriber(2, SubscriberEdit::default()).unwrap();
        m.set_global(GlobalEdit {
            subscriber_model: Some(SubscriberModel::PortAware),
            ..GlobalEdit::default()
        })
        .unwrap();
        // Endpoint 2 is on port 2: the subscriber now holds port 2 directly.
        assert_eq!(m.subscribers[&1].port, Some(2));
        assert_eq!(m.subscribers[&1].endpoint, None);
        rejects(&mut m, GhnError::PortAlreadyAssigned, |c| {
            c.set_subscriber(2, sub(|e| e.port = Some(Some(2))))
        });
        rejects(&mut m, GhnError::InvalidSubscriberModel, |c| {
            c.set_subscriber(2, sub(|e| e.endpoint = Some(Some(1))))
        });
        m.set_subscriber(2, sub(|e| e.port = Some(Some(1))))
            .unwrap();
        m.set_global(GlobalEdit {
            subscriber_model: Some(SubscriberModel::EndpointAware),
            ..GlobalEdit::default()
        })
        .unwrap();
        assert_eq!(m.subscribers[&1].endpoint, Some(2));
        assert_eq!(m.subscribers[&2].endpoint, Some(1));
        assert_eq!(m.subscribers[&2].port, None);
    }
}
