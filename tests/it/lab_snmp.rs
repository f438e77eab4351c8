//! The lab's SNMP agent against net-snmp's command-line tools, over real UDP sockets.
//!
//! Output options: every tool runs with `-On -Oe -Ot -Ox -m "" --hexOutputLength=0`, that is
//! numeric OIDs, numeric enums and time ticks, every OCTET STRING as hex on one line, and no MIBs
//! loaded (so no display hints can reformat a value). Each line is then `.OID = TYPE: VALUE`,
//! which `expected_line` derives from the fixture for an exact line-for-line comparison.
//!
//! These tests need net-snmp's tools (`apt-get install snmp`); they fail, never skip, without them.

use std::fmt::Write as _;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gamops::lab::snmp::{
    MibView, Oid, SnmpAgent, SnmpAgentConfig, SnmpFaults, Value, snmprec, view_from_snmprec,
};

const FIXTURE: &str = include_str!("../fixtures/gam12c-walk.snmprec");
const GHN_AGENT: &str = "1.3.6.1.4.1.20095.2001.143";
const SYSTEM: &str = "1.3.6.1.2.1.1";
const IF_TABLE: &str = "1.3.6.1.2.1.2.2";
const IFX_TABLE: &str = "1.3.6.1.2.1.31.1.1";
/// Timeout and retries for tools that expect an answer: generous for a loaded 2-core machine.
const PATIENT: [&str; 4] = ["-t", "10", "-r", "2"];
/// For tools that expect no answer.
const IMPATIENT: [&str; 4] = ["-t", "1", "-r", "0"];

const OUTPUT_OPTS: [&str; 7] = ["-On", "-Oe", "-Ot", "-Ox", "-m", "", "--hexOutputLength=0"];

async fn start(faults: Arc<SnmpFaults>) -> SnmpAgent {
    let view = view_from_snmprec(FIXTURE).expect("fixture parses");
    start_with(view, SnmpAgentConfig::default(), faults).await
}

async fn start_with(view: MibView, config: SnmpAgentConfig, faults: Arc<SnmpFaults>) -> SnmpAgent {
    SnmpAgent::start(config, view, faults)
        .await
        .expect("agent starts")
}

/// Runs one net-snmp tool, failing clearly if net-snmp is not installed.
async fn net_snmp(tool: &str, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(OUTPUT_OPTS).args(args).kill_on_drop(true);
    let run = tokio::time::timeout(Duration::from_secs(120), cmd.output()).await;
    match run {
        Ok(Ok(output)) => output,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{tool}` not found: install net-snmp's tools (`apt-get install -y snmp`) to run the lab SNMP tests"
        ),
        Ok(Err(e)) => panic!("cannot run {tool}: {e}"),
        Err(_) => panic!("{tool} {args:?} did not finish in 120 s"),
    }
}

/// Arguments addressing `agent` with the given security options and timing.
fn target(agent: &SnmpAgent, security: &[&str], timing: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = security.iter().map(|s| s.to_string()).collect();
    args.extend(timing.iter().map(|s| s.to_string()));
    args.push(format!("udp:{}", agent.local_addr()));
    args
}

fn v2c(agent: &SnmpAgent, community: &str) -> Vec<String> {
    target(agent, &["-v2c", "-c", community], &PATIENT)
}

/// The lab's default v3 user: authPriv, SHA `authpass123`, AES `privpass123`.
const V3_USER: [&str; 13] = [
    "-v3",
    "-l",
    "authPriv",
    "-u",
    "gamops",
    "-a",
    "SHA",
    "-A",
    "authpass123",
    "-x",
    "AES",
    "-X",
    "privpass123",
];

fn v3(agent: &SnmpAgent) -> Vec<String> {
    target(agent, &V3_USER, &PATIENT)
}

async fn run(tool: &str, mut base: Vec<String>, extra: &[&str]) -> Output {
    base.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = base.iter().map(String::as_str).collect();
    net_snmp(tool, &args).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The line net-snmp prints for one value, with `OUTPUT_OPTS`.
fn expected_line(oid: &Oid, value: &Value) -> String {
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
        Value::IpAddress(a) => format!("IpAddress: {}.{}.{}.{}", a[0], a[1], a[2], a[3]),
        Value::Counter32(v) => format!("Counter32: {v}"),
        Value::Gauge32(v) => format!("Gauge32: {v}"),
        // With -Ot net-snmp prints bare ticks, which no other type does.
        Value::TimeTicks(v) => v.to_string(),
        Value::Counter64(v) => format!("Counter64: {v}"),
        other => panic!("fixture holds an unexpected value {other:?}"),
    };
    format!(".{oid} = {shown}")
}

fn fixture_lines_under(prefix: &str) -> Vec<String> {
    let prefix = Oid::parse(prefix).unwrap();
    snmprec::parse(FIXTURE)
        .unwrap()
        .iter()
        .filter(|(oid, _)| oid.starts_with(&prefix))
        .map(|(oid, value)| expected_line(oid, value))
        .collect()
}

/// Compares a walk line for line (trailing spaces aside), naming the first difference.
fn assert_walk_matches(output: &Output, prefix: &str) {
    assert!(
        output.status.success(),
        "walk of {prefix} failed: {}",
        describe(output)
    );
    let got: Vec<String> = stdout(output)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    let want: Vec<String> = fixture_lines_under(prefix)
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert!(!want.is_empty(), "fixture has nothing under {prefix}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "walk of {prefix}: line {} differs", i + 1);
    }
    assert_eq!(
        got.len(),
        want.len(),
        "walk of {prefix}: line counts differ"
    );
}

const WALKED: [&str; 4] = [SYSTEM, IF_TABLE, IFX_TABLE, GHN_AGENT];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2c_bulkwalk_matches_the_fixture() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    for prefix in WALKED {
        let output = run("snmpbulkwalk", v2c(&agent, "public"), &["-Ob", prefix]).await;
        assert_walk_matches(&output, prefix);
    }
    // The write community is accepted for reads too, as on the real GAM.
    let output = run("snmpbulkwalk", v2c(&agent, "private"), &[SYSTEM]).await;
    assert_walk_matches(&output, SYSTEM);
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_authpriv_sha_aes_bulkwalk_matches_the_fixture() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    for prefix in WALKED {
        let output = run("snmpbulkwalk", v3(&agent), &[prefix]).await;
        assert_walk_matches(&output, prefix);
    }
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_below_the_configured_security_level_is_refused() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    // authNoPriv for a user configured authPriv: VACM refuses it.
    let mut security = V3_USER;
    security[2] = "authNoPriv";
    let output = run(
        "snmpget",
        target(&agent, &security[..9], &PATIENT),
        &["1.3.6.1.2.1.1.5.0"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("authorizationError"),
        "authNoPriv read: {}",
        describe(&output)
    );
    // A wrong authentication password reads nothing.
    let mut security = V3_USER;
    security[8] = "wrongpass123";
    let output = run(
        "snmpget",
        target(&agent, &security, &IMPATIENT),
        &["1.3.6.1.2.1.1.5.0"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Authentication failure")
            && output.stdout.is_empty(),
        "wrong auth password read: {}",
        describe(&output)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_getnext_answer_values_and_exceptions() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    let output = run(
        "snmpget",
        v2c(&agent, "public"),
        &[
            "1.3.6.1.2.1.1.2.0",
            "1.3.6.1.2.1.1.1.1",
            "1.3.6.1.2.1.1.99.0",
            "1.3.6.1.4.1.99999.1.0",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", describe(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            ".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.20095.2000.1.14",
            ".1.3.6.1.2.1.1.1.1 = No Such Instance currently exists at this OID",
            ".1.3.6.1.2.1.1.99.0 = No Such Object available on this agent at this OID",
            ".1.3.6.1.4.1.99999.1.0 = No Such Object available on this agent at this OID",
        ],
        "{}",
        describe(&output)
    );

    let output = run(
        "snmpgetnext",
        v2c(&agent, "public"),
        &[
            "1.3.6.1.2.1.1.7.0",
            "1.3.6.1.4.1.20095.2001.143.1.2.30.1.30.5",
        ],
    )
    .await;
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", describe(&output));
    assert_eq!(lines[0], ".1.3.6.1.2.1.2.2.1.1.1 = INTEGER: 1");
    assert!(
        lines[1].starts_with(".1.3.6.1.4.1.20095.2001.143.1.2.30.1.40.1 = "),
        "{}",
        describe(&output)
    );
    // SNMPv1 reads too (the GAM offers v1).
    let output = run(
        "snmpget",
        target(&agent, &["-v1", "-c", "public"], &PATIENT),
        &["1.3.6.1.2.1.1.7.0"],
    )
    .await;
    assert_eq!(
        stdout(&output).trim_end(),
        ".1.3.6.1.2.1.1.7.0 = INTEGER: 3",
        "{}",
        describe(&output)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn getbulk_ends_with_end_of_mib_view() {
    let view = MibView::from_entries([
        (
            Oid::parse("1.3.6.1.2.1.1.5.0").unwrap(),
            Value::OctetString("gam".into()),
        ),
        (Oid::parse("1.3.6.1.2.1.1.7.0").unwrap(), Value::Integer(3)),
    ]);
    // async-snmp's built-in handlers (snmpEngine, usmStats, mpdStats under 1.3.6.1.6.3) come
    // after the data, so the last entry is put past them.
    let agent = start_with(
        view,
        SnmpAgentConfig::default(),
        Arc::new(SnmpFaults::new()),
    )
    .await;
    agent
        .view()
        .insert(Oid::parse("1.3.6.1.6.3.99.1.0").unwrap(), Value::Integer(1));
    let output = run(
        "snmpbulkget",
        v2c(&agent, "public"),
        &["-Cn0", "-Cr5", "1.3.6.1.6.3.99"],
    )
    .await;
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{}", describe(&output));
    assert_eq!(lines[0], ".1.3.6.1.6.3.99.1.0 = INTEGER: 1");
    assert!(
        lines[1].ends_with(
            "No more variables left in this MIB View (It is past the end of the MIB tree)"
        ),
        "{}",
        describe(&output)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_changes_are_served_at_once() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    let sys_name = Oid::parse("1.3.6.1.2.1.1.5.0").unwrap();
    agent
        .view()
        .insert(sys_name, Value::OctetString("bldg-12-gam1".into()));
    let output = run("snmpget", v2c(&agent, "public"), &["1.3.6.1.2.1.1.5.0"]).await;
    // -Ox shows it as hex: "bldg-12-gam1".
    assert_eq!(
        stdout(&output).trim_end(),
        ".1.3.6.1.2.1.1.5.0 = Hex-STRING: 62 6C 64 67 2D 31 32 2D 67 61 6D 31",
        "{}",
        describe(&output)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_is_refused() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    let output = run(
        "snmpset",
        v2c(&agent, "private"),
        &["1.3.6.1.2.1.1.5.0", "s", "changed"],
    )
    .await;
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("noAccess"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        agent.view().get(&Oid::parse("1.3.6.1.2.1.1.5.0").unwrap()),
        Some(Value::OctetString("<private>".into()))
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_community_gets_no_answer() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    let args = target(&agent, &["-v2c", "-c", "wrong"], &IMPATIENT);
    let output = run("snmpget", args, &["1.3.6.1.2.1.1.5.0"]).await;
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Timeout"),
        "{}",
        describe(&output)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_getbulk_is_truncated_to_fit_and_large_get_is_too_big() {
    let agent = start(Arc::new(SnmpFaults::new())).await;
    let output = run(
        "snmpbulkget",
        v2c(&agent, "public"),
        &["-Cn0", "-Cr1000", GHN_AGENT],
    )
    .await;
    assert!(output.status.success(), "{}", describe(&output));
    let got: Vec<String> = stdout(&output)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    let want: Vec<String> = fixture_lines_under(GHN_AGENT)
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert!(
        !got.is_empty() && got.len() < 1000 && got.len() < want.len(),
        "expected a truncated answer, got {} lines",
        got.len()
    );
    // What came back is a valid prefix of the walk.
    assert_eq!(got[..], want[..got.len()]);

    // 40 long strings cannot fit in 1472 octets: the whole GET is answered tooBig.
    // (the endpoint firmware version, 50 octets, asked for 40 times).
    let oids = ["1.3.6.1.4.1.20095.2001.143.1.3.20.20.1.70.1"; 40];
    let output = run("snmpget", v2c(&agent, "public"), &oids).await;
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("tooBig") || err.contains("too large"),
        "{}",
        describe(&output)
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_latency_delays_every_answer() {
    let faults = Arc::new(SnmpFaults::with_seed(1));
    let agent = start(Arc::clone(&faults)).await;
    faults.set_latency(Duration::from_millis(400), Duration::from_millis(100));
    let started = Instant::now();
    let output = run("snmpget", v2c(&agent, "public"), &["1.3.6.1.2.1.1.5.0"]).await;
    let took = started.elapsed();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        took >= Duration::from_millis(400),
        "answered after {took:?}"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_loss_drops_requests() {
    let faults = Arc::new(SnmpFaults::with_seed(1));
    let agent = start(Arc::clone(&faults)).await;
    faults.set_loss_percent(100);
    // Every try is lost, retries included.
    let args = target(&agent, &["-v2c", "-c", "public", "-r", "2"], &["-t", "1"]);
    let output = run("snmpget", args, &["1.3.6.1.2.1.1.5.0"]).await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Timeout"),
        "{}",
        describe(&output)
    );
    // Switched off at run time, the same agent answers again.
    faults.set_loss_percent(0);
    let output = run("snmpget", v2c(&agent, "public"), &["1.3.6.1.2.1.1.5.0"]).await;
    assert!(output.status.success(), "{}", describe(&output));
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_timeout_prefix_silences_only_that_subtree() {
    let faults = Arc::new(SnmpFaults::with_seed(1));
    let agent = start(Arc::clone(&faults)).await;
    faults.set_timeout_prefixes(vec![Oid::parse("1.3.6.1.4.1.20095.2001.143.1.5").unwrap()]);
    let impatient = || target(&agent, &["-v2c", "-c", "public"], &IMPATIENT);
    // A GET inside the subtree: no answer.
    let output = run(
        "snmpget",
        impatient(),
        &["1.3.6.1.4.1.20095.2001.143.1.5.10.10.1.10.1000001"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Timeout"),
        "{}",
        describe(&output)
    );
    // Nor when one varbind of several is inside.
    let output = run(
        "snmpget",
        impatient(),
        &[
            "1.3.6.1.2.1.1.5.0",
            "1.3.6.1.4.1.20095.2001.143.1.5.10.10.1.10.1000001",
        ],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Timeout"),
        "{}",
        describe(&output)
    );
    // Over v3 too, where the front cannot read the encrypted request.
    let output = run(
        "snmpget",
        target(&agent, &V3_USER, &IMPATIENT),
        &["1.3.6.1.4.1.20095.2001.143.1.5.10.10.1.10.1000001"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Timeout"),
        "{}",
        describe(&output)
    );
    // A walk of the config tables answers; a walk running into the subtree stalls there.
    let output = run(
        "snmpbulkwalk",
        v2c(&agent, "public"),
        &["1.3.6.1.4.1.20095.2001.143.1.2"],
    )
    .await;
    assert_walk_matches(&output, "1.3.6.1.4.1.20095.2001.143.1.2");
    let output = run("snmpbulkwalk", impatient(), &[GHN_AGENT]).await;
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Timeout"),
        "{}",
        describe(&output)
    );
    assert!(!stdout(&output).contains(".1.3.6.1.4.1.20095.2001.143.1.5."));
    // Cleared at run time, the subtree answers again.
    faults.clear();
    let output = run("snmpbulkwalk", v2c(&agent, "public"), &[GHN_AGENT]).await;
    assert_walk_matches(&output, GHN_AGENT);
    agent.shutdown().await;
}
