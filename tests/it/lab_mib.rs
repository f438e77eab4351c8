//! The lab's MIB renderer against the real GAM-12-C walk, and served through the lab agent to
//! net-snmp.

use std::time::Duration;

use gamops::lab::mib::{self, state_from_walk};
use gamops::lab::snmp::{Oid, Value, snmprec};

const FIXTURE: &str = include_str!("../fixtures/gam12c-walk.snmprec");

/// The regions compared with the walk: system group, ifTable, ifXTable and all of
/// GAM-GHN-AGENT-MIB (`.143.1`: configuration `.2`, status `.3`, control `.4`, statistics `.5`).
const COMPARED: &[&str] = &[
    "1.3.6.1.2.1.1",
    "1.3.6.1.2.1.2.2",
    "1.3.6.1.2.1.31.1.1",
    "1.3.6.1.4.1.20095.2001.143.1",
];

/// Columns whose OIDs and types are compared but whose values are not, and why.
const VALUE_EXCLUDED: &[(&str, &str)] = &[
    (
        "1.3.6.1.2.1.1.4",
        "sysContact: redacted (`<private>`) in the source walk",
    ),
    (
        "1.3.6.1.2.1.1.5",
        "sysName: redacted (`<private>`), not a valid hostname",
    ),
    (
        "1.3.6.1.2.1.1.6",
        "sysLocation: redacted (`<private>`) in the source walk",
    ),
    (
        "1.3.6.1.2.1.2.2.1.9",
        "ifLastChange: time of link events the state does not record",
    ),
    (
        "1.3.6.1.2.1.2.2.1.1[0-9]",
        "ifTable columns 10-19: traffic counters (the lab's are 0)",
    ),
    (
        "1.3.6.1.2.1.31.1.1.1.[2-9]",
        "ifXTable columns 2-9: traffic counters",
    ),
    (
        "1.3.6.1.2.1.31.1.1.1.1[0-3]",
        "ifXTable columns 10-13: traffic counters",
    ),
    (
        "1.3.6.1.4.1.20095.2001.143.1.5",
        "G.hn statistics: traffic counters (the lab's are 0)",
    ),
    (
        "1.3.6.1.4.1.20095.2001.143.1.3.10.20.1.60",
        "port uptime: the walk sampled each port a second apart, minutes after sysUpTime",
    ),
];

fn oid(s: &str) -> Oid {
    Oid::parse(s).expect("valid OID")
}

fn walk() -> Vec<(Oid, Value)> {
    snmprec::parse(FIXTURE).expect("fixture parses")
}

/// The walk's sysUpTime as a Duration, so the rendered sysUpTime can match exactly.
fn walk_uptime(walk: &[(Oid, Value)]) -> Duration {
    let up = oid("1.3.6.1.2.1.1.3.0");
    match walk.iter().find(|(o, _)| *o == up) {
        Some((_, Value::TimeTicks(t))) => Duration::from_millis(u64::from(*t) * 10),
        other => panic!("no sysUpTime in the walk: {other:?}"),
    }
}

/// Whether `oid` lies under a pattern: dotted arcs, where the last arc may be written with a
/// digit class like `1[0-9]` (a two-digit arc 10-19).
fn matches(pattern: &str, oid: &Oid) -> bool {
    let pat: Vec<&str> = pattern.split('.').collect();
    let arcs = oid.arcs();
    if arcs.len() < pat.len() {
        return false;
    }
    pat.iter().zip(arcs).all(|(p, a)| match p.split_once('[') {
        None => p.parse::<u32>().ok() == Some(*a),
        Some((head, class)) => {
            let class = class.trim_end_matches(']');
            let (lo, hi) = class.split_once('-').expect("class a-b");
            let text = a.to_string();
            let Some(last) = text.strip_prefix(head) else {
                return false;
            };
            last.len() == 1 && (lo..=hi).contains(&last)
        }
    })
}

/// Every row is compared: the subscriber Uids and the switch VLANs (8, 88, 4060, 4093) the
/// walk shows are kept by the state rebuilt from it (issue 11, 6).
fn compared(oid: &Oid) -> bool {
    COMPARED.iter().any(|p| oid.starts_with(&self::oid(p)))
}

#[test]
fn pattern_matching_of_the_exclusions() {
    assert!(matches(
        "1.3.6.1.2.1.2.2.1.1[0-9]",
        &oid("1.3.6.1.2.1.2.2.1.15.7")
    ));
    assert!(!matches(
        "1.3.6.1.2.1.2.2.1.1[0-9]",
        &oid("1.3.6.1.2.1.2.2.1.1.7")
    ));
    assert!(!matches(
        "1.3.6.1.2.1.2.2.1.1[0-9]",
        &oid("1.3.6.1.2.1.2.2.1.21.7")
    ));
    assert!(matches("1.3.6.1.2.1.1.5", &oid("1.3.6.1.2.1.1.5.0")));
}

/// Differences between the walk and `rendered` over the compared regions, or an empty list.
fn differences(walk: &[(Oid, Value)], rendered: &[(Oid, Value)]) -> Vec<String> {
    let want: Vec<&(Oid, Value)> = walk.iter().filter(|(o, _)| compared(o)).collect();
    let got: Vec<&(Oid, Value)> = rendered.iter().filter(|(o, _)| compared(o)).collect();
    assert!(want.len() > 1000, "the comparison covers the walk");
    let mut problems = Vec::new();
    let want_oids: std::collections::BTreeSet<&Oid> = want.iter().map(|(o, _)| o).collect();
    let got_oids: std::collections::BTreeSet<&Oid> = got.iter().map(|(o, _)| o).collect();
    for o in want_oids.difference(&got_oids) {
        problems.push(format!("missing  {o}"));
    }
    for o in got_oids.difference(&want_oids) {
        problems.push(format!("extra    {o}"));
    }
    let mut used = vec![false; VALUE_EXCLUDED.len()];
    if problems.is_empty() {
        for ((wo, wv), (go, gv)) in want
            .iter()
            .map(|e| (&e.0, &e.1))
            .zip(got.iter().map(|e| (&e.0, &e.1)))
        {
            if wo != go {
                problems.push(format!("order    walk {wo} vs rendered {go}"));
            } else if wv.kind() != gv.kind() {
                problems.push(format!("type     {wo}: walk {wv:?}, rendered {gv:?}"));
            } else if wv != gv {
                match VALUE_EXCLUDED.iter().position(|(p, _)| matches(p, wo)) {
                    Some(i) => used[i] = true,
                    None => problems.push(format!("value    {wo}: walk {wv:?}, rendered {gv:?}")),
                }
            }
        }
    }
    // Every exclusion must be needed: a stale one would hide a regression.
    for ((pattern, why), used) in VALUE_EXCLUDED.iter().zip(&used) {
        if !used && problems.is_empty() {
            problems.push(format!("unneeded exclusion {pattern} ({why})"));
        }
    }
    problems
}

/// The key test: the walk → state → render gives back the walk: the same OIDs in the same
/// order, the same types, and the same values except in `VALUE_EXCLUDED` columns.
#[test]
fn walk_to_state_to_render_reproduces_the_walk() {
    let walk = walk();
    let state = state_from_walk(&walk).expect("the real walk is a device");
    let rendered = mib::render(&state, walk_uptime(&walk));
    let problems = differences(&walk, &rendered);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The comparison is not vacuous: small changes to the state show up.
#[test]
fn the_comparison_notices_changes() {
    let walk = walk();
    let uptime = walk_uptime(&walk);
    let base = state_from_walk(&walk).expect("the real walk is a device");

    let mut s = base.clone();
    if let Some(p) = s.running.profiles.get_mut(&3) {
        p.downstream_mbps = 546;
    }
    let d = differences(&walk, &mib::render(&s, uptime));
    assert!(d.iter().any(|l| l.contains("2.30.1.50.3")), "{d:?}");

    let mut s = base.clone();
    s.running.subscribers.clear();
    let d = differences(&walk, &mib::render(&s, uptime));
    assert!(d.iter().any(|l| l.starts_with("missing")), "{d:?}");

    let mut s = base;
    s.cpes.clear();
    let d = differences(&walk, &mib::render(&s, uptime));
    assert!(!d.is_empty());
}

/// The line net-snmp prints for one value with `-On -Oe -Ot -Ox --hexOutputLength=0`.
fn net_snmp_line(oid: &Oid, value: &Value) -> String {
    use std::fmt::Write as _;
    let shown = match value {
        Value::Integer(v) => format!("INTEGER: {v}"),
        Value::OctetString(b) if b.is_empty() => "\"\"".to_string(),
        Value::OctetString(b) => {
            let mut hex = String::from("Hex-STRING: ");
            for byte in b.iter() {
                let _ = write!(hex, "{byte:02X} ");
            }
            hex
        }
        Value::ObjectIdentifier(o) => format!("OID: .{o}"),
        Value::Counter32(v) => format!("Counter32: {v}"),
        Value::Gauge32(v) => format!("Gauge32: {v}"),
        Value::TimeTicks(v) => v.to_string(),
        Value::Counter64(v) => format!("Counter64: {v}"),
        other => panic!("unexpected value {other:?}"),
    };
    format!(".{oid} = {}", shown.trim_end())
}

/// `snmpbulkwalk -v2c -c public` of `prefix` on `agent`, as trimmed lines.
async fn bulkwalk(agent: &gamops::lab::snmp::SnmpAgent, prefix: &str) -> Vec<String> {
    let addr = format!("udp:{}", agent.local_addr());
    let mut cmd = tokio::process::Command::new("snmpbulkwalk");
    cmd.args([
        "-On",
        "-Oe",
        "-Ot",
        "-Ox",
        "-Ob",
        "-m",
        "",
        "--hexOutputLength=0",
    ])
    .args(["-v2c", "-c", "public", "-t", "10", "-r", "2", &addr, prefix])
    .kill_on_drop(true);
    let output = match tokio::time::timeout(Duration::from_secs(120), cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`snmpbulkwalk` not found: install net-snmp's tools (`apt-get install -y snmp`)")
        }
        Ok(Err(e)) => panic!("cannot run snmpbulkwalk: {e}"),
        Err(_) => panic!("snmpbulkwalk {prefix} did not finish in 120 s"),
    };
    assert!(
        output.status.success(),
        "snmpbulkwalk {prefix}: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}

fn lines_under(view: &gamops::lab::snmp::MibView, prefix: &str) -> Vec<String> {
    let p = oid(prefix);
    view.snapshot()
        .iter()
        .filter(|(o, _)| o.starts_with(&p))
        .map(|(o, v)| net_snmp_line(o, v))
        .collect()
}

/// A subscriber created at the CLI shows in the agent's `.2.40` after a refresh, and what
/// net-snmp reads is exactly the rendered view; the walk's other MIBs stay served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_change_reaches_net_snmp_after_refresh() {
    use gamops::lab::device::{Session, share};
    use gamops::lab::snmp::{SnmpAgent, SnmpAgentConfig, SnmpFaults};
    use std::sync::Arc;

    const USERS: &str = "1.3.6.1.4.1.20095.2001.143.1.2.40";
    let walk = walk();
    let uptime = walk_uptime(&walk);
    let state = state_from_walk(&walk).expect("the real walk is a device");
    // Serve the whole walk, then let the renderer own its subtrees.
    let view = gamops::lab::snmp::MibView::from_entries(walk.clone());
    mib::refresh(&view, &state, uptime);
    let agent = SnmpAgent::start(
        SnmpAgentConfig::default(),
        view,
        Arc::new(SnmpFaults::new()),
    )
    .await
    .expect("agent starts");

    let before = bulkwalk(&agent, USERS).await;
    assert_eq!(before, lines_under(agent.view(), USERS));
    assert!(!before.iter().any(|l| l.contains(".2.40.1.10.2 ")));

    let device = share(state);
    let mut session = Session::new(Arc::clone(&device));
    for line in [
        "configure terminal",
        "ghn subscriber 2 name \"Unit 7\" description \"2nd floor\" vid 1500 bw-profile 2 outer-vid 120",
        "end",
    ] {
        let reply = session.execute(line);
        assert_eq!(reply.text, "", "{line}");
    }
    {
        let dev = device.lock().expect("device lock");
        mib::refresh(agent.view(), &dev, uptime + Duration::from_secs(1));
    }

    let after = bulkwalk(&agent, USERS).await;
    assert_eq!(after, lines_under(agent.view(), USERS));
    let has = |suffix: &str, shown: &str| {
        let want = format!(".{USERS}.1.{suffix} = {shown}");
        assert!(
            after.contains(&want),
            "no `{want}` in\n{}",
            after.join("\n")
        );
    };
    has("10.2", "Gauge32: 2");
    has("30.2", "Hex-STRING: 55 6E 69 74 20 37"); // "Unit 7"
    has("40.2", "Hex-STRING: 32 6E 64 20 66 6C 6F 6F 72"); // "2nd floor"
    has("70.2", "Gauge32: 2");
    has("75.2", "Hex-STRING: 31 47"); // "1G"
    has("90.2", "Gauge32: 1500");
    has("190.2", "INTEGER: 1");
    has("210.2", "Gauge32: 120");
    assert_eq!(
        after.len(),
        before.len() * 2,
        "a second row of as many columns"
    );

    // What the renderer does not own is still served as the walk had it.
    let sysutil = bulkwalk(&agent, "1.3.6.1.4.1.20095.2001.24").await;
    assert_eq!(sysutil.len(), 42);
    let sysup = bulkwalk(&agent, "1.3.6.1.2.1.1.3").await;
    assert_eq!(
        sysup,
        vec![format!(
            ".1.3.6.1.2.1.1.3.0 = {}",
            (uptime.as_millis() / 10) + 100
        )]
    );
}

/// A full GAM-24-C (384 endpoints, all seen, 384 subscribers) renders and refreshes fast enough
/// to do after every CLI command. Prints the timings (`--nocapture`).
#[test]
fn refresh_of_a_full_device_is_cheap() {
    use gamops::lab::device::state::{DetectedCpe, Endpoint, EndpointPort, Subscriber};
    use gamops::lab::device::{DeviceState, Mac};
    use gamops::lab::snmp::MibView;
    use gamops::model::GamModel;
    use std::time::Instant;

    let mut d = DeviceState::factory(GamModel::Gam24C, "full");
    for id in 1..=384u16 {
        let port = u8::try_from((id - 1) / 16 + 1).expect("24 ports");
        let [hi, lo] = id.to_be_bytes();
        let mac = Mac([0, 0x0e, 0xd8, 0x20, hi, lo]);
        d.running.endpoints.insert(
            id,
            Endpoint {
                name: format!("ep-{id}"),
                mac,
                description: String::new(),
                port: EndpointPort::Port(port),
                allow_management_access: false,
            },
        );
        let mut cpe = DetectedCpe::walk_example();
        cpe.mac = mac;
        cpe.port = port;
        d.detect_cpe(cpe);
        let mut s = Subscriber::new(id);
        s.name = format!("unit-{id}");
        s.endpoint = Some(id);
        s.vid = 100 + id;
        s.outer_vid = Some(2000 + u16::from(port));
        d.running.subscribers.insert(id, s);
    }
    let view = MibView::from_entries(walk());
    let uptime = Duration::from_secs(3600);
    mib::refresh(&view, &d, uptime); // warm up
    let runs = 10u32;
    let t = Instant::now();
    let mut n = 0;
    for _ in 0..runs {
        n = mib::render(&d, uptime).len();
    }
    let render = t.elapsed() / runs;
    let t = Instant::now();
    for _ in 0..runs {
        mib::refresh(&view, &d, uptime);
    }
    let refresh = t.elapsed() / runs;
    println!(
        "GAM-24-C, 384 endpoints/CPEs/subscribers: {n} entries; render (sorted) {render:?}, \
         render + replace (refresh) {refresh:?}, view {} entries",
        view.len()
    );
    assert!(n > 50_000, "{n}");
    assert!(
        refresh < Duration::from_secs(2),
        "refresh took {refresh:?}, too slow to run after every command"
    );
}
