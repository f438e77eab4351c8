//! The SNMP observe driver against the lab's agent serving a real GAM-12-C walk, over real UDP:
//! v2c and v3 reads, every way a read can fail, fleet reads, and what a read costs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gamops::device::live::{
    CpeState, EndpointBinding, LiveDevice, LivePortMode, Observation, ProfileRef,
};
use gamops::device::snmp::{Security, SnmpTarget, observe, observe_all, observe_with_stats};
use gamops::lab::snmp::{MibView, Oid, SnmpAgent, SnmpAgentConfig, SnmpFaults, Value};
use gamops::lab::snmp::{snmprec, view_from_snmprec};
use gamops::model::device::{AuthProtocol, PrivProtocol};
use gamops::model::{GamModel, SubscriberModel};
use gamops::secret::Secret;
use tokio::net::UdpSocket;

const FIXTURE: &str = include_str!("../fixtures/gam12c-walk.snmprec");
const SUBSCRIBERS: &str = "1.3.6.1.4.1.20095.2001.143.1.2.40";

async fn agent_with(view: MibView, faults: Arc<SnmpFaults>) -> SnmpAgent {
    SnmpAgent::start(SnmpAgentConfig::default(), view, faults)
        .await
        .expect("agent starts")
}

async fn agent() -> SnmpAgent {
    agent_with(fixture_view(), Arc::new(SnmpFaults::new())).await
}

fn fixture_view() -> MibView {
    view_from_snmprec(FIXTURE).expect("fixture parses")
}

fn v2c(addr: SocketAddr, community: &str) -> SnmpTarget {
    SnmpTarget::new(
        addr,
        Security::V2c {
            community: Secret::new(community),
        },
    )
}

/// The lab's default v3 user: authPriv, SHA `authpass123`, AES `privpass123`.
fn v3(addr: SocketAddr, auth_password: &str) -> SnmpTarget {
    SnmpTarget::new(
        addr,
        Security::V3 {
            user: "gamops".into(),
            auth_protocol: AuthProtocol::Sha,
            auth_password: Secret::new(auth_password),
            privacy: Some((PrivProtocol::Aes, Secret::new("privpass123"))),
        },
    )
}

/// Quick to give up: for reads expected to fail.
fn impatient(mut target: SnmpTarget) -> SnmpTarget {
    target.timeout = Duration::from_millis(300);
    target.retries = 1;
    target
}

fn live(observation: Observation) -> LiveDevice {
    match observation {
        Observation::Live(device) => *device,
        Observation::Unknown { reason } => panic!("expected a live read, got Unknown: {reason}"),
    }
}

fn unknown(observation: Observation) -> String {
    match observation {
        Observation::Unknown { reason } => {
            assert!(!reason.contains('\n'), "reason is one line: {reason:?}");
            reason
        }
        Observation::Live(device) => panic!("expected Unknown, got {device:?}"),
    }
}

/// What the walk of the GAM-12-C says (see tests/fixtures and gam12c-walk.README.md).
fn assert_is_the_fixture_device(dev: &LiveDevice) {
    assert_eq!(dev.system.model(), Some(GamModel::Gam12C));
    assert_eq!(dev.system.model_id, Some(14));
    assert_eq!(dev.system.firmware(), Some("GAM-12/24-C_v1.5.4"));
    assert_eq!(dev.system.name, "<private>");
    assert_eq!(dev.system.uptime_ticks, 463_099_189);

    assert_eq!(dev.global.subscriber_model, SubscriberModel::EndpointAware);
    assert_eq!(dev.global.default_nni_if_index, 1_000_013);
    assert!(dev.global.endpoint_auto_fw_upgrade);

    assert_eq!(dev.ports.len(), 12);
    for (i, port) in dev.ports.iter().enumerate() {
        assert_eq!(usize::from(port.port), i + 1);
        assert_eq!(port.mode, LivePortMode::Coax);
        assert_eq!(port.name, "");
    }

    let profiles: Vec<(u8, &str, &str, u16, u16)> = dev
        .profiles
        .iter()
        .map(|p| {
            (
                p.id,
                p.name.as_str(),
                p.description.as_str(),
                p.down_mbps,
                p.up_mbps,
            )
        })
        .collect();
    assert_eq!(
        profiles,
        [
            (1, "Default BW Profile", "", 10, 10),
            (2, "1G", "1G/1G", 1000, 1000),
            (3, "500M", "500M/500M", 545, 545),
            (4, "250M", "250M/250M", 270, 270),
            (5, "100M", "100M/100M", 118, 118),
        ]
    );
    assert_eq!(dev.profile_by_name("500M").map(|p| p.id), Some(3));

    let mac = "00:0e:d8:19:97:e6".parse().unwrap();
    assert_eq!(dev.endpoints.len(), 1);
    let endpoint = dev.endpoint_by_mac(mac).expect("endpoint by MAC");
    assert_eq!(endpoint.id, 1);
    assert_eq!(endpoint.name, "Positron_1997E6");
    assert_eq!(endpoint.description, "C#");
    assert_eq!(endpoint.binding, EndpointBinding::Port(12));

    assert_eq!(dev.subscribers.len(), 1);
    let sub = dev.subscriber_by_name("C#").expect("subscriber by name");
    assert_eq!(sub.id, 1);
    assert_eq!(sub.description, "C#");
    assert_eq!(sub.vlan, 1409);
    assert!(!sub.tagged);
    assert_eq!(sub.outer_vlan, Some(120));
    assert_eq!(sub.profile, ProfileRef::Id(3));
    assert_eq!(sub.endpoint_id, Some(1));
    assert_eq!(sub.port, None);
    assert_eq!(sub.remapped_vlan, None);
    assert_eq!(sub.nni_if_index, None);
    assert!(sub.allowed_vlans.is_empty());

    assert_eq!(dev.detected.len(), 1);
    let cpe = &dev.detected[0];
    assert_eq!(cpe.mac, mac);
    assert_eq!(cpe.port, Some(12));
    assert_eq!(cpe.state, CpeState::Ok);
    assert_eq!(cpe.model, "G1001-C");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2c_and_v3_authpriv_read_the_fixture_device_alike() {
    let agent = agent().await;
    let by_v2c = live(observe(&v2c(agent.local_addr(), "public")).await);
    assert_is_the_fixture_device(&by_v2c);
    let by_v3 = live(observe(&v3(agent.local_addr(), "authpass123")).await);
    assert_is_the_fixture_device(&by_v3);
    assert_eq!(by_v2c, by_v3);
    agent.shutdown().await;
}

/// A UDP relay in front of an agent. Every client socket gets an upstream socket of its own, so
/// a device read over several sockets at once gets each answer back on the socket that asked.
/// It counts the datagrams clients send, and `damage` may alter each answer on its way back.
struct Relay {
    addr: SocketAddr,
    sent: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(
        upstream: SocketAddr,
        mut damage: impl FnMut(&mut Vec<u8>) + Send + 'static,
    ) -> Self {
        let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = front.local_addr().unwrap();
        let sent = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&sent);
        let task = tokio::spawn(async move {
            let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
            let mut backs: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
            // Dropped with this task when it is aborted, which aborts the readers too.
            let mut readers = tokio::task::JoinSet::new();
            let mut up = vec![0u8; 65536];
            loop {
                tokio::select! {
                    Ok((n, from)) = front.recv_from(&mut up) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let back = match backs.get(&from) {
                            Some(back) => Arc::clone(back),
                            None => {
                                let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                                back.connect(upstream).await.unwrap();
                                let (reader, answers) = (Arc::clone(&back), answers.clone());
                                readers.spawn(async move {
                                    let mut down = vec![0u8; 65536];
                                    loop {
                                        // An error is a one-off ICMP report; keep reading.
                                        let Ok(n) = reader.recv(&mut down).await else { continue };
                                        if answers.send((from, down[..n].to_vec())).is_err() {
                                            return;
                                        }
                                    }
                                });
                                backs.insert(from, Arc::clone(&back));
                                back
                            }
                        };
                        let _ = back.send(&up[..n]).await;
                    }
                    Some((to, mut answer)) = answered.recv() => {
                        damage(&mut answer);
                        let _ = front.send_to(&answer, to).await;
                    }
                }
            }
        });
        Relay { addr, sent, task }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_the_fixture_device_takes_a_handful_of_getbulk_round_trips() {
    let agent = agent().await;
    let relay = Relay::start(agent.local_addr(), |_| {}).await;

    let (observation, stats) = observe_with_stats(&v2c(relay.addr, "public")).await;
    assert_is_the_fixture_device(&live(observation));
    let on_wire = relay.sent.swap(0, Ordering::SeqCst);
    println!("v2c: {stats:?}, {on_wire} datagrams seen by the relay");
    assert_eq!(stats.datagrams, on_wire);
    assert_eq!(stats.retries, 0);
    // One GET (system group and globals), then the tables in 9 groups of at most 4 columns
    // (ports 1, endpoints 2, profiles 1, subscribers 4, detected 1), walked at once: one or two
    // GETBULKs each.
    assert_eq!(stats.gets, 1);
    assert!(
        (9..=12).contains(&stats.get_bulks),
        "{} GETBULKs",
        stats.get_bulks
    );
    // The fixture's config and status tables hold 167 values read here; one GETNEXT each would
    // be well over a hundred round trips.
    assert!(on_wire <= 13, "{on_wire} round trips");

    let (observation, stats) = observe_with_stats(&v3(relay.addr, "authpass123")).await;
    assert_is_the_fixture_device(&live(observation));
    let on_wire = relay.sent.load(Ordering::SeqCst);
    println!("v3: {stats:?}, {on_wire} datagrams seen by the relay");
    assert_eq!(stats.datagrams, on_wire);
    // Over v3 one session walks whole tables one after the other (a second session would
    // discover the engine and localize its keys again): one GET, one or two GETBULKs per table,
    // engine discovery, and at most a few time re-synchronisations.
    assert!(
        (5..=8).contains(&stats.get_bulks),
        "{} GETBULKs",
        stats.get_bulks
    );
    assert!(on_wire <= 12, "{on_wire} round trips");

    relay.task.abort();
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_community_is_unknown_with_no_answer() {
    let agent = agent().await;
    let target = impatient(v2c(agent.local_addr(), "wrong"));
    let reason = unknown(observe(&target).await);
    assert_eq!(
        reason,
        format!(
            "no answer from {} after 2 tries (wrong community, SNMP disabled or device \
             unreachable)",
            agent.local_addr()
        )
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_v3_password_is_unknown_with_an_authentication_failure() {
    let agent = agent().await;
    let target = impatient(v3(agent.local_addr(), "wrongpass123"));
    let reason = unknown(observe(&target).await);
    // The agent answers a usmStatsWrongDigests report, unauthenticated.
    assert_eq!(
        reason,
        "SNMPv3 authentication failed (Not authenticated): wrong user, auth or priv password?"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_stalls_half_way_is_unknown_naming_the_table() {
    let faults = Arc::new(SnmpFaults::with_seed(1));
    let agent = agent_with(fixture_view(), Arc::clone(&faults)).await;
    faults.set_timeout_prefixes(vec![Oid::parse(SUBSCRIBERS).unwrap()]);
    let reason = unknown(observe(&impatient(v2c(agent.local_addr(), "public"))).await);
    assert_eq!(
        reason,
        "timeout after 2 tries reading 1.3.6.1.4.1.20095.2001.143.1.2.40 (subscribers)"
    );
    // Over v3 as well.
    let reason = unknown(observe(&impatient(v3(agent.local_addr(), "authpass123"))).await);
    assert_eq!(
        reason,
        "timeout after 2 tries reading 1.3.6.1.4.1.20095.2001.143.1.2.40 (subscribers)"
    );
    // Cleared, the same device reads completely.
    faults.clear();
    assert_is_the_fixture_device(&live(observe(&v2c(agent.local_addr(), "public")).await));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_loss_is_unknown_with_no_answer() {
    let faults = Arc::new(SnmpFaults::with_seed(1));
    let agent = agent_with(fixture_view(), Arc::clone(&faults)).await;
    faults.set_loss_percent(100);
    let addr = agent.local_addr();
    let reason = unknown(observe(&impatient(v2c(addr, "public"))).await);
    assert_eq!(
        reason,
        format!(
            "no answer from {addr} after 2 tries (wrong community, SNMP disabled or device \
             unreachable)"
        )
    );
    let reason = unknown(observe(&impatient(v3(addr, "authpass123"))).await);
    assert_eq!(
        reason,
        format!(
            "no answer from {addr} to SNMPv3 engine discovery after 2 tries (SNMP disabled or \
             device unreachable)"
        )
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn some_loss_is_survived_by_retries() {
    let faults = Arc::new(SnmpFaults::with_seed(7));
    let agent = agent_with(fixture_view(), Arc::clone(&faults)).await;
    faults.set_loss_percent(30);
    let mut target = v2c(agent.local_addr(), "public");
    target.timeout = Duration::from_millis(300);
    target.retries = 6;
    let (observation, stats) = observe_with_stats(&target).await;
    assert_is_the_fixture_device(&live(observation));
    println!("30 % loss: {stats:?}");
    agent.shutdown().await;
}

/// The fixture's entries, edited.
fn edited_view(edit: impl FnOnce(&mut Vec<(Oid, Value)>)) -> MibView {
    let mut entries = snmprec::parse(FIXTURE).expect("fixture parses");
    edit(&mut entries);
    MibView::from_entries(entries)
}

fn oid(text: &str) -> Oid {
    Oid::parse(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_row_without_its_vlan_is_unknown() {
    let view = edited_view(|entries| {
        let vlan = oid("1.3.6.1.4.1.20095.2001.143.1.2.40.1.90.1");
        entries.retain(|(o, _)| o != &vlan);
    });
    let agent = agent_with(view, Arc::new(SnmpFaults::new())).await;
    let reason = unknown(observe(&v2c(agent.local_addr(), "public")).await);
    assert_eq!(
        reason,
        "subscribers (1.3.6.1.4.1.20095.2001.143.1.2.40): row 1 lacks column 90 (VlanId)"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_of_the_wrong_type_is_unknown() {
    let view = edited_view(|entries| {
        let ds = oid("1.3.6.1.4.1.20095.2001.143.1.2.30.1.50.3");
        for (o, v) in entries.iter_mut() {
            if o == &ds {
                *v = Value::OctetString("545".into());
            }
        }
    });
    let agent = agent_with(view, Arc::new(SnmpFaults::new())).await;
    let reason = unknown(observe(&v2c(agent.local_addr(), "public")).await);
    assert_eq!(
        reason,
        "profiles (1.3.6.1.4.1.20095.2001.143.1.2.30): row 3 column 50 (DsBw) is OCTET STRING, \
         expected an unsigned integer"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_gam_is_unknown() {
    let view = edited_view(|entries| {
        for (o, v) in entries.iter_mut() {
            if o == &oid("1.3.6.1.2.1.1.2.0") {
                *v = Value::ObjectIdentifier(oid("1.3.6.1.4.1.8072.3.2.10"));
            }
            if o == &oid("1.3.6.1.2.1.1.1.0") {
                *v = Value::OctetString("Linux gw 6.1.0".into());
            }
        }
    });
    let agent = agent_with(view, Arc::new(SnmpFaults::new())).await;
    let reason = unknown(observe(&v2c(agent.local_addr(), "public")).await);
    assert_eq!(
        reason,
        "not a GAM: sysObjectID is 1.3.6.1.4.1.8072.3.2.10 (sysDescr \"Linux gw 6.1.0\")"
    );
    agent.shutdown().await;
}

/// A responder that answers every datagram with `reply`.
async fn garbage_responder(reply: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((_, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(reply, from).await;
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_pdu_is_unknown() {
    // A SEQUENCE holding only a version: the PDU is cut short.
    let (addr, task) = garbage_responder(&[0x30, 0x03, 0x02, 0x01, 0x01]).await;
    let reason = unknown(observe(&impatient(v2c(addr, "public"))).await);
    assert_eq!(
        reason,
        "malformed answer reading 1.3.6.1.2.1.1 (system group): ASN.1 unexpected end of file"
    );
    // Not even BER.
    let (addr2, task2) = garbage_responder(b"\xff\xff\xff hello").await;
    let reason = unknown(observe(&impatient(v2c(addr2, "public"))).await);
    assert!(
        reason.starts_with("malformed answer reading 1.3.6.1.2.1.1 (system group): ASN.1"),
        "{reason}"
    );
    task.abort();
    task2.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_is_read_with_bounded_concurrency_in_input_order() {
    const DEVICES: usize = 40;
    const LATENCY: Duration = Duration::from_millis(50);
    let mut agents = Vec::new();
    for _ in 0..DEVICES {
        let faults = Arc::new(SnmpFaults::with_seed(1));
        faults.set_latency(LATENCY, Duration::ZERO);
        agents.push(agent_with(fixture_view(), faults).await);
    }
    // Device 17 is dead: its agent is gone and its port closed.
    let dead = agents.remove(17);
    let dead_addr = dead.local_addr();
    dead.shutdown().await;

    let mut targets = Vec::new();
    let mut live_agents = agents.iter();
    for i in 0..DEVICES {
        let addr = if i == 17 {
            dead_addr
        } else {
            live_agents.next().unwrap().local_addr()
        };
        let mut target = v2c(addr, "public");
        target.timeout = Duration::from_millis(1500);
        target.retries = 1;
        targets.push((format!("gam-{i:02}"), target));
    }
    let calls = std::sync::Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    let results = observe_all(targets, 8, |done, total, name: &String| {
        calls.lock().unwrap().push((done, total, name.clone()));
    })
    .await;
    let took = started.elapsed();
    // Each live read is a GET, then the table walks side by side: two answers in sequence, each
    // delayed by LATENCY. 39 reads at most 8 at a time cannot finish sooner than
    // ceil(39 / 8) * 2 * LATENCY (unbounded, they would take 2 * LATENCY).
    let floor = LATENCY * 2 * 39_u32.div_ceil(8);
    assert!(took >= floor, "40 reads took {took:?}, less than {floor:?}");

    assert_eq!(results.len(), DEVICES);
    for (i, (name, observation)) in results.into_iter().enumerate() {
        assert_eq!(name, format!("gam-{i:02}"), "input order is kept");
        if i == 17 {
            let reason = unknown(observation);
            assert!(
                reason.starts_with(&format!("no answer from {dead_addr} after 2 tries")),
                "{reason}"
            );
        } else {
            assert_is_the_fixture_device(&live(observation));
        }
    }
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.len(), DEVICES);
    for (i, (done, total, _)) in calls.iter().enumerate() {
        assert_eq!((*done, *total), (i + 1, DEVICES));
    }
    for agent in agents {
        agent.shutdown().await;
    }
}

/// A relay in front of an agent that damages one answer in six a little: a byte flipped, the
/// datagram cut short, or a length octet blown up. The request id is left alone (it sits in the first
/// bytes), so snmp2 accepts the answer as a reply and parses all of it.
async fn damaging_relay(upstream: SocketAddr, seed: u64) -> Relay {
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    Relay::start(upstream, move |answer| {
        let len = answer.len();
        if len > 20 && next() % 6 == 0 {
            let at = 16 + (next() as usize) % (len - 16);
            match next() % 4 {
                0 => answer[at] ^= 1 << (next() % 8),
                1 => answer.truncate(at),
                2 => answer[at] = 0xff,
                _ => answer[at] = (next() % 256) as u8,
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_answers_never_panic() {
    let agent = agent().await;
    let relay = damaging_relay(agent.local_addr(), 0x9e37_79b9_7f4a_7c15).await;
    let mut target = v2c(relay.addr, "public");
    target.timeout = Duration::from_millis(300);
    target.retries = 0;
    let (mut live_reads, mut unknown_reads) = (0, 0);
    for _ in 0..300 {
        match observe(&target).await {
            Observation::Live(_) => live_reads += 1,
            Observation::Unknown { reason } => {
                assert!(!reason.contains('\n'), "{reason:?}");
                unknown_reads += 1;
            }
        }
    }
    // v2c has no integrity check: damage inside a string can still decode. Most damage cannot.
    println!("damaged answers: {live_reads} reads live, {unknown_reads} Unknown");
    assert!(
        live_reads > 0 && unknown_reads > 50,
        "{live_reads} live, {unknown_reads} Unknown"
    );
    relay.task.abort();
    agent.shutdown().await;
}

/// Issue 16, item 10: an agent that answers every request in time, but slowly and one row at a
/// time, kept a read (and `import`) going for minutes. A read has a total deadline; past it the
/// device is unknown, with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_trickles_past_its_deadline_is_unknown_with_the_reason() {
    let faults = Arc::new(SnmpFaults::with_seed(1));
    faults.set_latency(Duration::from_millis(150), Duration::ZERO);
    let agent = agent_with(fixture_view(), faults).await;
    let mut target = v2c(agent.local_addr(), "public");
    target.timeout = Duration::from_secs(2);
    // One row per GETBULK: the fixture's tables take dozens of answers, several seconds.
    target.max_repetitions = 1;
    target.deadline = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let reason = unknown(observe(&target).await);
    let took = started.elapsed();
    assert!(reason.contains("deadline of 1 s"), "{reason}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

/// Between gamops and `agent`, sends before each answer the answer to the request before it
/// (as a duplicated or late datagram would arrive): every answer but the first is preceded by
/// a stray carrying another request id.
async fn stray_proxy(agent: SocketAddr) -> SocketAddr {
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    tokio::spawn(async move {
        let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        back.connect(agent).await.unwrap();
        let (mut buf, mut answer) = (vec![0u8; 65_535], vec![0u8; 65_535]);
        let mut last: Option<Vec<u8>> = None;
        loop {
            let Ok((n, client)) = front.recv_from(&mut buf).await else {
                return;
            };
            back.send(&buf[..n]).await.unwrap();
            let Ok(Ok(m)) =
                tokio::time::timeout(Duration::from_secs(2), back.recv(&mut answer)).await
            else {
                continue;
            };
            if let Some(stale) = &last {
                front.send_to(stale, client).await.unwrap();
            }
            front.send_to(&answer[..m], client).await.unwrap();
            last = Some(answer[..m].to_vec());
        }
    });
    addr
}

/// Issue 16, item 10: a stray datagram (an answer to another request) ended the try, and
/// every try met one, so the read failed with "no answer after 3 tries", which was wrong.
/// The answer is waited for by its request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_answer_before_each_answer_is_dropped_and_the_read_succeeds() {
    let agent = agent().await;
    let proxy = stray_proxy(agent.local_addr()).await;
    let mut target = v2c(proxy, "public");
    target.timeout = Duration::from_secs(2);
    let (observation, stats) = observe_with_stats(&target).await;
    assert_is_the_fixture_device(&live(observation));
    assert_eq!(stats.retries, 0, "no try was lost to a stray: {stats:?}");
}
