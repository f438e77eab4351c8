//! The rules of the desired state: what a GAM would refuse, what would collide, and what must not
//! be written in git. `validate` reports every problem at once; it never stops at the first.

use std::collections::{BTreeSet, HashMap};

use super::bandwidth::{Plans, UNTHROTTLED};
use super::billing::BillingMapping;
use super::desired::{Desired, Doc};
use super::device::{
    Device, Driver, JsonRpcSettings, SnmpSettings, SnmpVersion, SshSettings, SubscriberModel,
    parse_certificate_fingerprint,
};
use super::diagnostic::{Code, Diagnostic, SourceId};
use super::fleet::{Fleet, Suspension, SuspensionMode};
use super::gam::Medium;
use super::located::{Located, Pos};
use super::subscriber::{Endpoint, Subscriber, SubscriberStatus};
use super::types::{Credential, Vlan};

/// The most subscribers, and endpoints, one GAM holds.
pub const MAX_SUBSCRIBERS: usize = 384;
pub const MAX_ENDPOINTS: usize = 384;
/// Bandwidth profiles 2..15: the default profile 1 is the device's own.
pub const MAX_CUSTOM_PROFILES: usize = 14;
pub const MAX_ALLOWED_VLANS: usize = 14;
/// Coax ports shape at most this rate; faster subscribers must be unthrottled.
pub const COAX_MAX_SHAPED_MBPS: u16 = 800;

/// Every problem in `desired`, in a stable order (by source, then position).
pub fn validate(desired: &Desired) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let fleet = desired.fleet();
    let empty_plans = Plans::default();
    let plans = desired.plans().unwrap_or(&empty_plans);

    if let Some(doc) = &desired.fleet {
        check_fleet(doc, plans, &mut out);
    }
    if let Some(doc) = &desired.plans {
        check_plans(doc, &mut out);
    }
    let devices = check_devices(&desired.devices, &mut out);
    if let (Some(doc), Some(controller)) = (&desired.fleet, &fleet.controller) {
        check_controller(doc.source, controller, &devices, &mut out);
    }
    check_subscribers(desired, &fleet, plans, &devices, &mut out);

    out.sort_by_key(|d| (d.source, d.pos));
    out
}

fn check_fleet(doc: &Doc<Fleet>, plans: &Plans, out: &mut Vec<Diagnostic>) {
    let src = doc.source;
    let fleet = &doc.value;
    if let Some(snmp) = &fleet.defaults.snmp {
        check_snmp_secrets(src, snmp, out);
    }
    if let Some(ssh) = &fleet.defaults.ssh {
        check_ssh_secrets(src, ssh, out);
    }
    if let Some(j) = &fleet.defaults.jsonrpc {
        check_jsonrpc(src, j, out);
    }
    let pct = fleet.safety.max_change_percent;
    if *pct > 100 {
        out.push(
            Diagnostic::error(
                Code::InvalidValue,
                src,
                pct.pos,
                format!("max_change_percent is {}, more than 100", *pct),
            )
            .with_hint("write a percentage from 0 to 100"),
        );
    }
    let s = &fleet.suspension;
    match *s.mode {
        SuspensionMode::Plan => match &s.plan {
            None => out.push(
                Diagnostic::error(
                    Code::IncompleteSettings,
                    src,
                    s.mode.pos,
                    "suspension mode `plan` names no plan",
                )
                .with_hint("add `plan: NAME` under suspension, with a plan from plans.yaml"),
            ),
            Some(p) => check_plan_ref(src, p, plans, out),
        },
        SuspensionMode::Vlan => match &s.vlan {
            None => out.push(
                Diagnostic::error(
                    Code::IncompleteSettings,
                    src,
                    s.mode.pos,
                    "suspension mode `vlan` names no VLAN",
                )
                .with_hint("add `vlan: N` under suspension: the walled-garden C-VLAN"),
            ),
            Some(v) => check_vlan(src, "suspension VLAN", v, out),
        },
        SuspensionMode::Remove => {}
    }
    if let Some(billing) = &fleet.billing {
        check_billing(src, billing, out);
    }
    if let Some(n) = &fleet.notifications {
        let secret =
            |field: &str, cred: Option<&Located<Credential>>, out: &mut Vec<Diagnostic>| {
                check_secret(src, field, cred, out)
            };
        super::notifications::check(src, n, secret, out);
    }
}

/// The controller section: each device named has a file.
fn check_controller(
    src: SourceId,
    controller: &crate::model::ControllerSettings,
    devices: &HashMap<&str, DeviceFacts>,
    out: &mut Vec<Diagnostic>,
) {
    for (name, policy) in &controller.devices {
        if !devices.contains_key(name.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::UnknownDevice,
                    src,
                    policy.pos,
                    format!("controller.devices names {name}, which is not defined"),
                )
                .with_hint(format!("add devices/{name}.yaml, or fix the device name")),
            );
        }
    }
    if let Some(pulls) = &controller.pull_requests {
        check_secret(src, "token", Some(&pulls.forge.token), out);
        for url in [&pulls.forge.api_url, &pulls.url].into_iter().flatten() {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                out.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        src,
                        url.pos,
                        format!("{:?} is not an HTTP(S) URL", url.value),
                    )
                    .with_hint("write the whole URL: https://host/path"),
                );
            }
        }
    }
}

/// The billing section: secrets are references, URLs are HTTP(S), percentages are sane.
fn check_billing(src: SourceId, b: &BillingMapping, out: &mut Vec<Diagnostic>) {
    let mut urls = Vec::new();
    if let Some(sonar) = &b.sonar {
        check_secret(src, "token", Some(&sonar.token), out);
        check_secret(src, "webhook_token", sonar.webhook_token.as_ref(), out);
        urls.push(&sonar.url);
    }
    if let Some(splynx) = &b.splynx {
        check_secret(src, "key", Some(&splynx.auth.key), out);
        check_secret(src, "secret", Some(&splynx.auth.secret), out);
        check_secret(src, "webhook_secret", splynx.webhook_secret.as_ref(), out);
        urls.push(&splynx.url);
    }
    for url in urls {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            out.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    src,
                    url.pos,
                    format!("{:?} is not an HTTP(S) URL", url.as_str()),
                )
                .with_hint("write the billing system's address as https://host"),
            );
        }
    }
    let tol = b.plans.tolerance_percent;
    if *tol > 100 {
        out.push(
            Diagnostic::error(
                Code::InvalidValue,
                src,
                tol.pos,
                format!("tolerance_percent is {}, more than 100", *tol),
            )
            .with_hint("write a percentage from 0 to 100; 10 is usual"),
        );
    }
}

fn check_plans(doc: &Doc<Plans>, out: &mut Vec<Diagnostic>) {
    for (name, plan) in doc.value.iter() {
        if name.as_str().eq_ignore_ascii_case(UNTHROTTLED) {
            out.push(
                Diagnostic::error(
                    Code::ReservedPlanName,
                    doc.source,
                    plan.down_mbps.pos,
                    format!("a plan cannot be called {:?}", name.as_str()),
                )
                .with_hint("`unthrottled` means no shaping; give this plan another name"),
            );
        }
    }
}

/// Per-device facts the subscriber rules need.
struct DeviceFacts<'a> {
    device: &'a Doc<Device>,
}

fn check_devices<'a>(
    devices: &'a [Doc<Device>],
    out: &mut Vec<Diagnostic>,
) -> HashMap<&'a str, DeviceFacts<'a>> {
    let mut by_name: HashMap<&str, DeviceFacts> = HashMap::with_capacity(devices.len());
    for doc in devices {
        let d = &doc.value;
        let src = doc.source;
        if let Some(first) = by_name.get(d.name.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateDevice,
                    src,
                    d.name.pos,
                    format!("device {} is defined twice", d.name),
                )
                .with_hint("device names are unique in the fleet; rename or remove one")
                .with_related(
                    first.device.source,
                    first.device.name.pos,
                    "first defined here",
                ),
            );
            continue;
        }
        let model = *d.model;
        if model.medium() == Medium::Coax && *d.subscriber_model == SubscriberModel::PortAware {
            out.push(
                Diagnostic::error(
                    Code::PortAwareOnCoax,
                    src,
                    d.subscriber_model.pos,
                    format!(
                        "{model} is a coax model; port-aware mode works only on copper (M) models"
                    ),
                )
                .with_hint("use `subscriber_model: endpoint-aware` on coax GAMs"),
            );
        }
        let mut seen_ports: HashMap<u8, Pos> = HashMap::new();
        for p in &d.ports {
            let n = p.port.get();
            check_port_in_range(src, &p.port, model.ghn_ports(), model.name(), out);
            if let Some(first) = seen_ports.insert(n, p.port.pos) {
                out.push(
                    Diagnostic::error(
                        Code::DuplicatePort,
                        src,
                        p.port.pos,
                        format!("port {n} is listed twice"),
                    )
                    .with_hint("merge the two entries into one")
                    .with_related(src, first, "first listed here"),
                );
            }
            if let Some(mode) = &p.mode
                && model.medium() == Medium::Coax
            {
                out.push(
                    Diagnostic::error(
                        Code::PortModeOnCoax,
                        src,
                        mode.pos,
                        format!("{model} is a coax model; mimo/siso modes exist only on copper"),
                    )
                    .with_hint("remove `mode` from this port"),
                );
            }
        }
        if let Some(snmp) = &d.snmp {
            check_snmp_secrets(src, snmp, out);
            if snmp.version.as_ref().map(|v| **v) == Some(SnmpVersion::V3) && snmp.user.is_none() {
                out.push(
                    Diagnostic::error(
                        Code::IncompleteSettings,
                        src,
                        snmp.version.as_ref().map_or(Pos::UNKNOWN, |v| v.pos),
                        "SNMPv3 needs a user",
                    )
                    .with_hint("add `user`, `auth_password` and `priv_password` under snmp"),
                );
            }
        }
        if let Some(ssh) = &d.ssh {
            check_ssh_secrets(src, ssh, out);
        }
        if let Some(j) = &d.jsonrpc {
            check_jsonrpc(src, j, out);
        }
        if let Some(driver) = &d.driver
            && **driver == Driver::Jsonrpc
            && d.ssh
                .as_ref()
                .is_some_and(|s| s.private_key.is_some() && s.password.is_none())
            && d.jsonrpc.as_ref().is_none_or(|j| j.password.is_none())
        {
            out.push(
                Diagnostic::error(
                    Code::IncompleteSettings,
                    src,
                    driver.pos,
                    "the jsonrpc driver logs in with a password, and this device has only an SSH private key",
                )
                .with_hint("add `jsonrpc: {password: env:NAME}` (the web UI's password)"),
            );
        }
        by_name.insert(d.name.as_str(), DeviceFacts { device: doc });
    }
    by_name
}

fn check_snmp_secrets(src: SourceId, s: &SnmpSettings, out: &mut Vec<Diagnostic>) {
    for (field, cred) in [
        ("community", &s.community),
        ("auth_password", &s.auth_password),
        ("priv_password", &s.priv_password),
    ] {
        check_secret(src, field, cred.as_ref(), out);
    }
}

/// The JSON-RPC settings: a password by reference, a port that is not 0, a pinned certificate
/// whose fingerprint parses, and one only with `tls`.
fn check_jsonrpc(src: SourceId, j: &JsonRpcSettings, out: &mut Vec<Diagnostic>) {
    check_secret(src, "password", j.password.as_ref(), out);
    if let Some(p) = &j.port
        && **p == 0
    {
        out.push(
            Diagnostic::error(
                Code::InvalidValue,
                src,
                p.pos,
                "jsonrpc port 0 is not a port",
            )
            .with_hint("write the web server's port: 80, or 443 with tls"),
        );
    }
    if let Some(t) = &j.timeout_s
        && **t == 0
    {
        out.push(
            Diagnostic::error(Code::InvalidValue, src, t.pos, "jsonrpc timeout_s is 0")
                .with_hint("write the seconds one call may take; the GAM's calls can take 45"),
        );
    }
    let tls = j.tls.as_ref().is_some_and(|t| **t);
    match &j.certificate {
        Some(c) if parse_certificate_fingerprint(c).is_none() => out.push(
            Diagnostic::error(
                Code::InvalidValue,
                src,
                c.pos,
                format!(
                    "jsonrpc certificate {:?} is not a SHA-256 fingerprint",
                    c.as_str()
                ),
            )
            .with_hint(
                "write `SHA256:` and the base64 digest, or the 64 hex digits (colons allowed)",
            ),
        ),
        Some(c) if !tls => out.push(
            Diagnostic::error(
                Code::IncompleteSettings,
                src,
                c.pos,
                "jsonrpc certificate is pinned but tls is off",
            )
            .with_hint("add `tls: true`, or remove `certificate`"),
        ),
        _ => {}
    }
}

fn check_ssh_secrets(src: SourceId, s: &SshSettings, out: &mut Vec<Diagnostic>) {
    check_secret(src, "password", s.password.as_ref(), out);
    check_secret(src, "private_key", s.private_key.as_ref(), out);
}

fn check_secret(
    src: SourceId,
    field: &str,
    cred: Option<&Located<Credential>>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(c) = cred
        && c.is_literal()
    {
        out.push(
            Diagnostic::error(
                Code::LiteralSecret,
                src,
                c.pos,
                format!("`{field}` is written as a literal secret"),
            )
            .with_hint(format!(
                "secrets never go into git: write `{field}: env:NAME` or `{field}: file:/path`, and rotate this one"
            )),
        );
    }
}

fn check_port_in_range(
    src: SourceId,
    port: &Located<super::types::PortNumber>,
    ports: u8,
    model: &str,
    out: &mut Vec<Diagnostic>,
) -> bool {
    if port.get() > ports {
        out.push(
            Diagnostic::error(
                Code::PortOutOfRange,
                src,
                port.pos,
                format!("port {} does not exist on a {model}", port.get()),
            )
            .with_hint(format!("a {model} has G.hn ports 1..{ports}")),
        );
        return false;
    }
    true
}

fn check_vlan(src: SourceId, what: &str, v: &Located<Vlan>, out: &mut Vec<Diagnostic>) {
    if let Some(why) = v.gam_reserved() {
        out.push(
            Diagnostic::error(
                Code::ReservedVlan,
                src,
                v.pos,
                format!("{what} {} is reserved: {why}", v.get()),
            )
            .with_hint("use a VLAN in 3..4093 outside 3840-3842"),
        );
    }
}

fn check_plan_ref(
    src: SourceId,
    name: &Located<super::types::Ident>,
    plans: &Plans,
    out: &mut Vec<Diagnostic>,
) {
    if name.as_str() == UNTHROTTLED || plans.get(name.as_str()).is_some() {
        return;
    }
    let known: Vec<&str> = plans.iter().map(|(n, _)| n.as_str()).collect();
    let hint = if known.is_empty() {
        "plans.yaml defines no plans; add one there or use `unthrottled`".to_string()
    } else {
        format!("known plans: {}, or `unthrottled`", known.join(", "))
    };
    out.push(
        Diagnostic::error(
            Code::UnknownPlan,
            src,
            name.pos,
            format!("plan {name:?} is not in plans.yaml", name = name.as_str()),
        )
        .with_hint(hint),
    );
}

/// What one device will hold, counted while walking its subscribers.
#[derive(Default)]
struct DeviceLoad<'a> {
    subscribers: usize,
    first: Option<(SourceId, Pos)>,
    endpoints: BTreeSet<[u8; 6]>,
    plans: BTreeSet<&'a str>,
    /// (port) -> endpoints bound there.
    port_endpoints: HashMap<u8, BTreeSet<[u8; 6]>>,
    /// (C-VLAN, outer VLAN) -> first subscriber using it.
    vlans: HashMap<(u16, u16), (SourceId, Pos, &'a str)>,
    /// Endpoint name on the GAM (given, or derived from the MAC) -> first subscriber using it.
    endpoint_names: HashMap<String, (SourceId, Pos, &'a str)>,
}

/// What must be unique across the fleet: subscriber ids and endpoint MACs, with where each was
/// first used.
#[derive(Default)]
struct FleetUnique<'a> {
    ids: HashMap<&'a str, (SourceId, Pos)>,
    macs: HashMap<[u8; 6], (SourceId, Pos, &'a str)>,
}

/// The subscribers' rules: each one's own values, what is unique across the fleet, whether it
/// fits its device, and what each device holds in all.
fn check_subscribers(
    desired: &Desired,
    fleet: &Fleet,
    plans: &Plans,
    devices: &HashMap<&str, DeviceFacts>,
    out: &mut Vec<Diagnostic>,
) {
    let mut unique = FleetUnique::default();
    let mut loads: HashMap<&str, DeviceLoad> = HashMap::with_capacity(devices.len());
    for doc in &desired.subscribers {
        let (s, src) = (&doc.value, doc.source);
        unique.check_id(src, s, out);
        check_subscriber_values(src, s, plans, out);
        unique.check_mac(src, s, out);
        let Some(facts) = devices.get(s.device.as_str()) else {
            out.push(
                Diagnostic::error(
                    Code::UnknownDevice,
                    src,
                    s.device.pos,
                    format!("device {} is not defined", s.device),
                )
                .with_hint(format!(
                    "add devices/{}.yaml, or fix the device name",
                    s.device
                )),
            );
            continue;
        };
        let device = &facts.device.value;
        let port_ok = check_fits_device(src, s, device, plans, out);
        let load = loads.entry(device.name.as_str()).or_default();
        load.add_subscriber(src, s, device, &fleet.suspension, out);
        if let Some(e) = &s.endpoint {
            load.add_endpoint(src, s, e, device, port_ok, out);
        }
    }
    for (name, load) in &loads {
        if load.subscribers > MAX_SUBSCRIBERS {
            let (src, pos) = devices
                .get(name)
                .map(|f| (f.device.source, f.device.name.pos))
                .or(load.first)
                .unwrap_or((SourceId(0), Pos::UNKNOWN));
            out.push(
                Diagnostic::error(
                    Code::TooManySubscribers,
                    src,
                    pos,
                    format!(
                        "{name} has {} subscribers; a GAM holds at most {MAX_SUBSCRIBERS}",
                        load.subscribers
                    ),
                )
                .with_hint("move subscribers to another GAM"),
            );
        }
    }
}

/// A subscriber's own values: its plan exists, its VLANs are usable, not too many allowed.
fn check_subscriber_values(
    src: SourceId,
    s: &Subscriber,
    plans: &Plans,
    out: &mut Vec<Diagnostic>,
) {
    check_plan_ref(src, &s.plan, plans, out);
    check_vlan(src, "VLAN", &s.vlan, out);
    if let Some(v) = &s.remapped_vlan {
        check_vlan(src, "remapped VLAN", v, out);
    }
    if let Some(v) = &s.outer_vlan {
        check_vlan(src, "outer VLAN", v, out);
    }
    if s.allowed_vlans.len() > MAX_ALLOWED_VLANS {
        out.push(
            Diagnostic::error(
                Code::TooManyAllowedVlans,
                src,
                s.allowed_vlans.pos,
                format!(
                    "{} allowed VLANs; the GAM passes at most {MAX_ALLOWED_VLANS} per subscriber",
                    s.allowed_vlans.len()
                ),
            )
            .with_hint("remove some VLANs from allowed_vlans"),
        );
    }
    for v in s.allowed_vlans.iter() {
        check_vlan(
            src,
            "allowed VLAN",
            &Located::new(*v, s.allowed_vlans.pos),
            out,
        );
    }
}

impl<'a> FleetUnique<'a> {
    fn check_id(&mut self, src: SourceId, s: &'a Subscriber, out: &mut Vec<Diagnostic>) {
        if let Some(&(first_src, first_pos)) = self.ids.get(s.id.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateSubscriber,
                    src,
                    s.id.pos,
                    format!("subscriber id {} is used twice", s.id),
                )
                .with_hint(
                    "subscriber ids are unique across the fleet; they name the GAM subscriber",
                )
                .with_related(first_src, first_pos, "first used here"),
            );
        } else {
            self.ids.insert(s.id.as_str(), (src, s.id.pos));
        }
    }

    fn check_mac(&mut self, src: SourceId, s: &'a Subscriber, out: &mut Vec<Diagnostic>) {
        let Some(m) = &s.endpoint else { return };
        let mac = m.mac.octets();
        if let Some(&(first_src, first_pos, first_id)) = self.macs.get(&mac) {
            out.push(
                Diagnostic::error(
                    Code::DuplicateMac,
                    src,
                    m.mac.pos,
                    format!("endpoint {} is already subscriber {first_id}'s", *m.mac),
                )
                .with_hint("an endpoint MAC belongs to one subscriber in the whole fleet")
                .with_related(first_src, first_pos, "first used here"),
            );
        } else {
            self.macs.insert(mac, (src, m.mac.pos, s.id.as_str()));
        }
    }
}

/// Whether a subscriber fits its device: a port the model has, an endpoint exactly when the
/// device's subscriber model needs one, and (advice) a plan coax can shape. Returns whether
/// the port is in range.
fn check_fits_device(
    src: SourceId,
    s: &Subscriber,
    device: &Device,
    plans: &Plans,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let model = *device.model;
    let port_ok = check_port_in_range(src, &s.port, model.ghn_ports(), model.name(), out);
    match (*device.subscriber_model, &s.endpoint) {
        (SubscriberModel::EndpointAware, None) => out.push(
            Diagnostic::error(
                Code::MissingEndpoint,
                src,
                s.id.pos,
                format!(
                    "{} is endpoint-aware, so the subscriber needs an endpoint",
                    device.name
                ),
            )
            .with_hint("add `endpoint: { mac: 00:0e:d8:xx:xx:xx }` with the CPE's MAC"),
        ),
        (SubscriberModel::PortAware, Some(e)) => out.push(
            Diagnostic::error(
                Code::EndpointInPortAware,
                src,
                e.mac.pos,
                format!(
                    "{} is port-aware: subscribers attach to a port, not an endpoint",
                    device.name
                ),
            )
            .with_hint("remove `endpoint` (any CPE on the port serves the subscriber)"),
        ),
        _ => {}
    }
    if model.medium() == Medium::Coax
        && let Some(plan) = plans.get(s.plan.as_str())
        && plan.peak().get() > COAX_MAX_SHAPED_MBPS
    {
        // Advice, not a rule of the device: the GAM takes a shaped coax profile above 800
        // Mbps (the real GAM-12-C walk holds a 1000/1000 profile); its guide advises
        // unthrottled instead.
        out.push(
            Diagnostic::warning(
                Code::CoaxRateLimit,
                src,
                s.plan.pos,
                format!(
                    "plan {} shapes at {}/{} Mbps; coax ports shape at most {COAX_MAX_SHAPED_MBPS} Mbps",
                    s.plan.as_str(),
                    plan.down_mbps.get(),
                    plan.up_mbps.get()
                ),
            )
            .with_hint("Positron advises `plan: unthrottled` above 800 Mbps on coax; the GAM accepts this plan"),
        );
    }
    port_ok
}

impl<'a> DeviceLoad<'a> {
    /// Counts a subscriber the device will hold (a suspended one removed by the suspension
    /// policy holds nothing): its bandwidth profile and its VLANs, which are unique on a GAM.
    fn add_subscriber(
        &mut self,
        src: SourceId,
        s: &'a Subscriber,
        device: &Device,
        suspension: &'a Suspension,
        out: &mut Vec<Diagnostic>,
    ) {
        let suspended = *s.status == SubscriberStatus::Suspended;
        if suspended && *suspension.mode == SuspensionMode::Remove {
            return;
        }
        self.subscribers += 1;
        if self.first.is_none() {
            self.first = Some((src, s.id.pos));
        }
        let plan_in_use = if suspended && *suspension.mode == SuspensionMode::Plan {
            suspension.plan.as_ref().map(|p| p.as_str())
        } else {
            Some(s.plan.as_str())
        };
        if let Some(p) = plan_in_use.filter(|p| *p != UNTHROTTLED) {
            let before = self.plans.len();
            self.plans.insert(p);
            if self.plans.len() > before && self.plans.len() == MAX_CUSTOM_PROFILES + 1 {
                out.push(
                    Diagnostic::error(
                        Code::TooManyPlans,
                        src,
                        s.plan.pos,
                        format!(
                            "{} would need a 15th bandwidth profile for plan {p}; a GAM holds {MAX_CUSTOM_PROFILES} besides its default",
                            device.name
                        ),
                    )
                    .with_hint("use fewer distinct plans on this device"),
                );
            }
        }
        let key = s.vlan_key();
        if let Some(&(first_src, first_pos, first_id)) = self.vlans.get(&key) {
            let what = match key.1 {
                0 => format!("VLAN {}", key.0),
                outer => format!("VLAN {} inside outer VLAN {outer}", key.0),
            };
            out.push(
                Diagnostic::error(
                    Code::DuplicateVlan,
                    src,
                    s.vlan.pos,
                    format!(
                        "{what} is already subscriber {first_id}'s on {}",
                        device.name
                    ),
                )
                .with_hint("each subscriber on a GAM needs its own C-VLAN (or outer VLAN)")
                .with_related(first_src, first_pos, "first used here"),
            );
        } else {
            self.vlans.insert(key, (src, s.vlan.pos, s.id.as_str()));
        }
    }

    /// Counts a subscriber's endpoint: its name is unique on the GAM, and the GAM and its port
    /// (when `port_ok`) have room for it.
    fn add_endpoint(
        &mut self,
        src: SourceId,
        s: &'a Subscriber,
        e: &Endpoint,
        device: &Device,
        port_ok: bool,
        out: &mut Vec<Diagnostic>,
    ) {
        let model = *device.model;
        let mac = e.mac.octets();
        let new_mac = self.endpoints.insert(mac);
        // The GAM refuses a second endpoint with a name in use (`% Non-unique G.hn endpoint
        // name`), and the name gamops derives (`Positron_` and the MAC's last three bytes)
        // is the same for two MACs that end alike.
        if new_mac {
            let name = e.gam_name();
            let pos = e.name.as_ref().map_or(e.mac.pos, |n| n.pos);
            match self.endpoint_names.get(&name) {
                Some(&(first_src, first_pos, first_id)) => out.push(
                    Diagnostic::error(
                        Code::DuplicateEndpointName,
                        src,
                        pos,
                        format!(
                            "endpoint name {name} is already subscriber {first_id}'s endpoint's on {}",
                            device.name
                        ),
                    )
                    .with_hint(if e.name.is_some() {
                        "endpoint names are unique on a GAM; choose another endpoint.name"
                    } else {
                        "the name is derived from the MAC's last three bytes, which another endpoint on this GAM shares; give one of them an endpoint.name"
                    })
                    .with_related(first_src, first_pos, "first used here"),
                ),
                None => {
                    self.endpoint_names.insert(name, (src, pos, s.id.as_str()));
                }
            }
        }
        if new_mac && self.endpoints.len() == MAX_ENDPOINTS + 1 {
            out.push(
                Diagnostic::error(
                    Code::TooManyEndpoints,
                    src,
                    e.mac.pos,
                    format!(
                        "{} would hold more than {MAX_ENDPOINTS} endpoints",
                        device.name
                    ),
                )
                .with_hint("move subscribers to another GAM"),
            );
        }
        if port_ok {
            let per_port = model.medium().endpoints_per_port();
            let on_port = self.port_endpoints.entry(s.port.get()).or_default();
            if on_port.insert(mac) && on_port.len() == per_port + 1 {
                let medium = match model.medium() {
                    Medium::Copper => "a copper port serves 1 endpoint",
                    Medium::Coax => "a coax port serves at most 16 endpoints",
                };
                out.push(
                    Diagnostic::error(
                        Code::TooManyEndpointsOnPort,
                        src,
                        s.port.pos,
                        format!(
                            "port {} of {} would have {} endpoints; {medium}",
                            s.port.get(),
                            device.name,
                            on_port.len()
                        ),
                    )
                    .with_hint("move this subscriber to a free port"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Device, Fleet, Plans};

    fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_saphyr::from_str(text).unwrap()
    }

    const PLANS: &str =
        "500M: {down_mbps: 545, up_mbps: 545}\n1G: {down_mbps: 1000, up_mbps: 1000}\n";

    fn device(name: &str, model: &str) -> Doc<Device> {
        Doc {
            source: SourceId(100),
            value: yaml(&format!(
                "name: {name}\nmodel: {model}\naddress: 127.0.0.1\n"
            )),
        }
    }

    fn subscriber(i: usize, device: &str, port: usize, extra: &str) -> Doc<Subscriber> {
        let text = format!(
            "id: s{i}\ndevice: {device}\nport: {port}\nendpoint: {{mac: \"00:0e:d8:00:{:02x}:{:02x}\"}}\nvlan: {}\nplan: 500M\n{extra}",
            i / 256,
            i % 256,
            100 + i
        );
        Doc {
            source: SourceId(i as u32),
            value: yaml(&text),
        }
    }

    fn desired(devices: Vec<Doc<Device>>, subscribers: Vec<Doc<Subscriber>>) -> Desired {
        Desired {
            fleet: Some(Doc {
                source: SourceId(1000),
                value: Fleet::default(),
            }),
            plans: Some(Doc {
                source: SourceId(1001),
                value: yaml::<Plans>(PLANS),
            }),
            devices,
            subscribers,
        }
    }

    fn codes(d: &Desired) -> Vec<Code> {
        validate(d).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_full_coax_gam_is_fine_and_one_more_is_too_many() {
        // 24 coax ports x 16 endpoints = 384 subscribers: exactly the GAM's limit.
        let subs: Vec<_> = (0..384)
            .map(|i| subscriber(i, "g", 1 + i % 24, ""))
            .collect();
        let d = desired(vec![device("g", "GAM-24-C")], subs.clone());
        assert_eq!(codes(&d), vec![]);

        let mut more = subs;
        more.push(subscriber(384, "g", 1, ""));
        let d = desired(vec![device("g", "GAM-24-C")], more);
        let c = codes(&d);
        assert!(c.contains(&Code::TooManySubscribers), "{c:?}");
        assert!(c.contains(&Code::TooManyEndpoints), "{c:?}");
        assert!(c.contains(&Code::TooManyEndpointsOnPort), "{c:?}");
    }

    #[test]
    fn suspended_subscribers_removed_by_policy_do_not_count() {
        let mut subs: Vec<_> = (0..384)
            .map(|i| subscriber(i, "g", 1 + i % 24, ""))
            .collect();
        // Two subscribers on one VLAN: a clash only while both are on the device.
        subs.push(subscriber(384, "g", 2, "status: suspended\n"));
        subs[384].value.vlan = subs[0].value.vlan;
        let d = desired(vec![device("g", "GAM-24-C")], subs);
        let c = codes(&d);
        // The endpoint stays (the captive portal serves it), so endpoints overflow; the
        // subscriber and its VLAN do not.
        assert!(!c.contains(&Code::TooManySubscribers), "{c:?}");
        assert!(!c.contains(&Code::DuplicateVlan), "{c:?}");
        assert!(c.contains(&Code::TooManyEndpoints), "{c:?}");
    }

    #[test]
    fn coax_plans_above_800_must_be_unthrottled_but_copper_may_shape_them() {
        let coax = desired(
            vec![device("g", "GAM-12-C")],
            vec![subscriber(1, "g", 1, "")],
        );
        assert_eq!(codes(&coax), vec![]);
        let mut fast = subscriber(1, "g", 1, "");
        fast.value.plan = Located::bare("1G".parse().unwrap());
        let coax = desired(vec![device("g", "GAM-12-C")], vec![fast.clone()]);
        assert_eq!(codes(&coax), vec![Code::CoaxRateLimit]);
        let copper = desired(vec![device("g", "GAM-12-M")], vec![fast.clone()]);
        assert_eq!(codes(&copper), vec![]);
        fast.value.plan = Located::bare("unthrottled".parse().unwrap());
        let coax = desired(vec![device("g", "GAM-12-C")], vec![fast]);
        assert_eq!(codes(&coax), vec![]);
    }

    #[test]
    fn the_same_c_vlan_under_different_outer_vlans_is_fine() {
        let a = subscriber(1, "g", 1, "outer_vlan: 120\n");
        let mut b = subscriber(2, "g", 2, "outer_vlan: 121\n");
        b.value.vlan = a.value.vlan;
        let d = desired(vec![device("g", "GAM-12-C")], vec![a.clone(), b.clone()]);
        assert_eq!(codes(&d), vec![]);
        b.value.outer_vlan = a.value.outer_vlan;
        let d = desired(vec![device("g", "GAM-12-C")], vec![a, b]);
        assert_eq!(codes(&d), vec![Code::DuplicateVlan]);
    }

    /// Issue 16, item 12: the README's lab billing flow gave two endpoints the derived name
    /// `Positron_000001` (MACs `00:..:00:01` and `02:..:00:01`); validate accepted it and the
    /// GAM refused the second (`% Non-unique G.hn endpoint name`).
    #[test]
    fn derived_and_given_endpoint_names_are_unique_per_device() {
        let sub = |i: u32, device: &str, endpoint: &str| Doc {
            source: SourceId(i),
            value: yaml::<Subscriber>(&format!(
                "id: s{i}\ndevice: {device}\nport: {i}\nendpoint: {endpoint}\nvlan: {}\nplan: 500M\n",
                100 + i
            )),
        };
        let d = desired(
            vec![device("gam1", "GAM-12-C"), device("gam2", "GAM-12-C")],
            vec![
                sub(1, "gam1", "{mac: \"00:00:00:00:00:01\"}"),
                sub(2, "gam1", "{mac: \"02:00:00:00:00:01\"}"),
                // Another device may use the same name.
                sub(3, "gam2", "{mac: \"04:00:00:00:00:01\"}"),
                // A given name that is another endpoint's derived name.
                sub(
                    4,
                    "gam2",
                    "{mac: \"00:00:00:00:00:09\", name: Positron_000001}",
                ),
            ],
        );
        assert_eq!(
            codes(&d),
            vec![Code::DuplicateEndpointName, Code::DuplicateEndpointName]
        );
    }

    #[test]
    fn the_same_vlan_on_two_devices_is_fine() {
        let a = subscriber(1, "g1", 1, "");
        let mut b = subscriber(2, "g2", 1, "");
        b.value.vlan = a.value.vlan;
        let d = desired(
            vec![device("g1", "GAM-12-C"), device("g2", "GAM-12-C")],
            vec![a, b],
        );
        assert_eq!(codes(&d), vec![]);
    }

    #[test]
    fn suspension_policy_is_checked() {
        let mut d = desired(vec![], vec![]);
        let fleet: Fleet = yaml("suspension: {mode: plan, plan: 50M}\n");
        d.fleet = Some(Doc {
            source: SourceId(1),
            value: fleet,
        });
        assert_eq!(codes(&d), vec![Code::UnknownPlan]);
        d.fleet = Some(Doc {
            source: SourceId(1),
            value: yaml("suspension: {mode: vlan}\n"),
        });
        assert_eq!(codes(&d), vec![Code::IncompleteSettings]);
        d.fleet = Some(Doc {
            source: SourceId(1),
            value: yaml("suspension: {mode: vlan, vlan: 4094}\n"),
        });
        assert_eq!(codes(&d), vec![Code::ReservedVlan]);
        d.fleet = Some(Doc {
            source: SourceId(1),
            value: yaml("safety: {max_change_percent: 150}\n"),
        });
        assert_eq!(codes(&d), vec![Code::InvalidValue]);
    }

    #[test]
    fn snmp_v3_needs_a_user_and_secrets_must_be_references() {
        let mut dev = device("g", "GAM-12-C");
        dev.value.snmp = Some(yaml(
            "version: v3\nauth_password: env:A\npriv_password: s3cret\n",
        ));
        let d = desired(vec![dev], vec![]);
        let c = codes(&d);
        assert!(c.contains(&Code::IncompleteSettings), "{c:?}");
        assert!(c.contains(&Code::LiteralSecret), "{c:?}");
        let text = format!("{:?}", validate(&d));
        assert!(
            !text.contains("s3cret"),
            "a diagnostic leaked the secret: {text}"
        );
    }

    #[test]
    fn the_forge_token_is_a_reference_and_its_urls_are_http() {
        let mut d = desired(vec![], vec![]);
        let fleet = |text: &str| Doc {
            source: SourceId(1),
            value: yaml::<Fleet>(text),
        };
        d.fleet = Some(fleet(
            "controller:\n  pull_requests:\n    forge: {kind: github, repository: isp/inventory, token: env:T}\n    url: https://gamops.example.net\n",
        ));
        assert_eq!(codes(&d), vec![]);
        d.fleet = Some(fleet(
            "controller:\n  pull_requests:\n    forge: {kind: gitea, api_url: gitea.example.net/api/v1, repository: isp/inventory, token: ghp_s3cret}\n",
        ));
        assert_eq!(codes(&d), vec![Code::InvalidValue, Code::LiteralSecret]);
        let text = format!("{:?}", validate(&d));
        assert!(!text.contains("ghp_s3cret"), "{text}");
    }

    #[test]
    fn jsonrpc_settings_are_checked_where_they_are_written() {
        let dev = |text: &str| Doc {
            source: SourceId(100),
            value: yaml::<Device>(&format!(
                "name: g\nmodel: GAM-12-C\naddress: 127.0.0.1\n{text}"
            )),
        };
        let ok = dev(
            "driver: jsonrpc\njsonrpc:\n  port: 8443\n  tls: true\n  certificate: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n  password: env:WEB\n",
        );
        assert_eq!(codes(&desired(vec![ok], vec![])), vec![]);
        let bad = dev(
            "driver: jsonrpc\njsonrpc:\n  port: 0\n  certificate: SHA256:nothex!\n  password: s3cret\n  timeout_s: 0\n",
        );
        let d = desired(vec![bad], vec![]);
        let found = validate(&d);
        let got: Vec<(Code, u32)> = found.iter().map(|d| (d.code, d.pos.line)).collect();
        assert_eq!(
            got,
            vec![
                (Code::InvalidValue, 6),
                (Code::InvalidValue, 7),
                (Code::LiteralSecret, 8),
                (Code::InvalidValue, 9),
            ],
            "{found:?}"
        );
        assert!(!format!("{found:?}").contains("s3cret"));
        let unpinned_off = dev("jsonrpc:\n  certificate: 'ab:cd'\n");
        assert_eq!(
            codes(&desired(vec![unpinned_off], vec![])),
            vec![Code::InvalidValue]
        );
        let pin_without_tls = dev(&format!("jsonrpc:\n  certificate: {}\n", "ab".repeat(32)));
        assert_eq!(
            codes(&desired(vec![pin_without_tls], vec![])),
            vec![Code::IncompleteSettings]
        );
        let key_only = dev("driver: jsonrpc\nssh: {private_key: file:/k}\n");
        assert_eq!(
            codes(&desired(vec![key_only], vec![])),
            vec![Code::IncompleteSettings]
        );
        assert!(
            serde_saphyr::from_str::<Device>(
                "name: g\nmodel: GAM-12-C\naddress: a\ndriver: netconf\n"
            )
            .is_err(),
            "an unknown driver is refused by the parser (with its line)"
        );
    }

    #[test]
    fn an_empty_password_is_the_factory_login_not_a_secret() {
        let mut dev = device("g", "GAM-12-C");
        dev.value.ssh = Some(yaml("username: admin\npassword: \"\"\n"));
        assert_eq!(codes(&desired(vec![dev], vec![])), vec![]);
    }
}
