//! The lab's MIB renderer against the real GAM-12-C walk, and served through the lab agent to
//! net-snmp.

use std::time::Duration;

use gamops::lab::mib::{self, state_from_walk};
use gamops::lab::snmp::{Oid, Value, snmprec};

const FIXTURE: &str = include_str!("../fixtures/gam12c-walk.snmprec");

/// The regions compared with the walk: system group, ifTable, ifXTable, GAM-GHN-AGENT-MIB
/// configuration (`.2`) and port/endpoint status (`.3.10`, `.3.20`, `.3.30`).
const COMPARED: &[&str] = &[
    "1.3.6.1.2.1.1",
    "1.3.6.1.2.1.2.2",
    "1.3.6.1.2.1.31.1.1",
    "1.3.6.1.4.1.20095.2001.143.1.2",
    "1.3.6.1.4.1.20095.2001.143.1.3.10",
    "1.3.6.1.4.1.20095.2001.143.1.3.20",
    "1.3.6.1.4.1.20095.2001.143.1.3.30",
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
        "1.3.6.1.4.1.20095.2001.143.1.2.40.1.20",
        "subscriber Uid: not persistent, the walk's 2 for id 1 has no cause in the state",
    ),
    (
        "1.3.6.1.4.1.20095.2001.143.1.3.20.10.1.60",
        "ConfUserUid: the same subscriber Uid",
    ),
    (
        "1.3.6.1.4.1.20095.2001.143.1.3.30.10.1.60",
        "ConfUserUid (by MAC): the same subscriber Uid",
    ),
    (
        "1.3.6.1.4.1.20095.2001.143.1.3.10.20.1.60",
        "port uptime: the walk sampled each port a second apart, minutes after sysUpTime",
    ),
];

/// ifTable rows the state does not model at all.
const ROWS_EXCLUDED: &[(u32, &str)] = &[
    (8, "VLAN 8: a switch VLAN outside the G.hn service"),
    (88, "VLAN 88: a switch VLAN outside the G.hn service"),
    (4060, "VLAN 4060: a switch VLAN outside the G.hn service"),
    (4093, "VLAN 4093: a switch VLAN outside the G.hn service"),
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

fn compared(oid: &Oid) -> bool {
    let if_row = oid.starts_with(&self::oid("1.3.6.1.2.1.2.2.1"))
        && oid
            .arcs()
            .last()
            .is_some_and(|i| ROWS_EXCLUDED.iter().any(|(r, _)| r == i));
    COMPARED.iter().any(|p| oid.starts_with(&self::oid(p))) && !if_row
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
