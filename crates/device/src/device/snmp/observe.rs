//! Reading whole devices: [`observe`] one, [`observe_all`] a fleet with bounded concurrency.
//!
//! A device is read in two steps: one GET of the system group and the G.hn globals (which also
//! tells a GAM from anything else), then multi-column GETBULK walks of the tables. Anything short
//! of a complete, well-formed read is [`Observation::Unknown`] with a one-line reason.
//!
//! A GAM answers in datagrams of about 1,500 bytes (some 40 bindings), so a device with 384
//! subscribers takes a couple of hundred GETBULK round trips: over a WAN link the read is bound by
//! latency, not by either end's CPU. Over SNMPv2c the tables are therefore walked at once, in
//! groups of [`COLUMNS_PER_WALK`] columns, each group on its own socket; the reads of one device
//! then take as many round trips in sequence as its longest group, not as all of them together.
//! Over SNMPv3 every extra session would discover the engine again and localize its keys (a
//! megabyte of hashing per key), so a v3 device is walked one table after the other on one
//! session.

use std::collections::HashMap;
use std::num::NonZeroU32;

use tokio::task::JoinSet;

use super::decode::{self, DecodeError};
use futures_util::future::join_all;

use super::oids::{self, Column, Table};
use super::session::{ReadStats, RequestError, Session};
use super::target::{Security, SnmpTarget};
use super::walk::{self, Rows, WalkError};
use crate::device::live::{LiveDevice, Observation, SystemInfo};

/// How many devices are read at once when the caller does not say (`--concurrency`).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Reads one device.
pub async fn observe(target: &SnmpTarget) -> Observation {
    observe_with_stats(target).await.0
}

/// Reads one device, and says what the read cost (every session's requests together).
pub async fn observe_with_stats(target: &SnmpTarget) -> (Observation, ReadStats) {
    let mut session = Session::new(target);
    let mut siblings = ReadStats::default();
    let result = within_deadline(
        target,
        "the read",
        read(&mut session, target, &mut siblings),
    )
    .await;
    let observation = match result {
        Ok(device) => Observation::Live(Box::new(device)),
        Err(reason) => Observation::Unknown { reason },
    };
    (observation, session.stats() + siblings)
}

/// `read` under the target's one deadline for a whole read (`what` names it in the reason):
/// per-request timeouts alone let an agent that answers slowly but always in time keep a read
/// going for ever.
pub(super) async fn within_deadline<T>(
    target: &SnmpTarget,
    what: &str,
    read: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(target.deadline, read).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{what} did not finish within its deadline of {} s (snmp.read_deadline_s); the agent answers too slowly",
            target.deadline.as_secs_f64()
        )),
    }
}

/// How many columns one walk asks for when a device's tables are walked in parallel. Four keeps
/// the subscriber table (15 columns, the largest) to four walks and a small table to one.
pub const COLUMNS_PER_WALK: usize = 4;

/// Asks an agent who it is (the system group and the G.hn globals, one GET): its model and
/// firmware when it is a GAM, or why not.
pub async fn probe(target: &SnmpTarget) -> Result<SystemInfo, String> {
    let mut session = Session::new(target);
    let answer = session
        .get(&decode::scalar_oids())
        .await
        .map_err(|e| request_reason(&e, &session, target, "1.3.6.1.2.1.1", "system group"))?;
    decode::system(&answer)
        .map(|(system, _)| system)
        .map_err(|e| e.to_string())
}

async fn read(
    session: &mut Session<'_>,
    target: &SnmpTarget,
    siblings: &mut ReadStats,
) -> Result<LiveDevice, String> {
    let answer = session
        .get(&decode::scalar_oids())
        .await
        .map_err(|e| request_reason(&e, session, target, "1.3.6.1.2.1.1", "system group"))?;
    let (system, global) = decode::system(&answer).map_err(|e| e.to_string())?;

    let tables = read_tables(session, target, &oids::TABLES, siblings).await?;
    let [ports, endpoints, profiles, subscribers, detected] = tables
        .try_into()
        .map_err(|_| "internal error: a table went missing".to_string())?;

    let text = |e: DecodeError| e.to_string();
    Ok(LiveDevice {
        system,
        global,
        ports: decode::ports(&ports).map_err(text)?,
        profiles: decode::profiles(&profiles).map_err(text)?,
        endpoints: decode::endpoints(&endpoints).map_err(text)?,
        subscribers: decode::subscribers(&subscribers).map_err(text)?,
        detected: decode::detected(&detected).map_err(text)?,
    })
}

/// Walks `tables` and returns their rows in the same order: over SNMPv2c all at once, each
/// table in groups of [`COLUMNS_PER_WALK`] columns on sockets of their own; over SNMPv3 one
/// table after the other on `session`. The first failure in table order is the reason,
/// whichever walk failed first in time. The configuration read and the status read
/// ([`super::status`]) both read through here.
pub(super) async fn read_tables(
    session: &mut Session<'_>,
    target: &SnmpTarget,
    tables: &[&'static Table],
    siblings: &mut ReadStats,
) -> Result<Vec<Rows>, String> {
    let reps = NonZeroU32::new(target.max_repetitions).unwrap_or(NonZeroU32::MIN);
    let parallel = matches!(target.security, Security::V2c { .. });
    let walks = walks(tables, parallel);
    let mut walked = Vec::with_capacity(walks.len());
    if parallel {
        let parent: &Session<'_> = session;
        let group_walks = walks.iter().map(|&(_, table, columns)| async move {
            let mut sibling = parent.sibling();
            let rows = read_columns(&mut sibling, target, table, columns, reps).await;
            (rows, sibling.stats())
        });
        for (rows, stats) in join_all(group_walks).await {
            *siblings = *siblings + stats;
            walked.push(rows);
        }
    } else {
        for &(_, table, columns) in &walks {
            let rows = read_columns(session, target, table, columns, reps).await;
            let failed = rows.is_err();
            walked.push(rows);
            if failed {
                break;
            }
        }
    }
    let mut out: Vec<Rows> = vec![Rows::new(); tables.len()];
    for (&(t, _, _), rows) in walks.iter().zip(walked) {
        if let Some(slot) = out.get_mut(t) {
            for (index, columns) in rows? {
                slot.entry(index).or_default().extend(columns);
            }
        }
    }
    Ok(out)
}

/// The walks that read `tables`, in table order (by index into `tables`): each table whole,
/// or, in parallel, each table in groups of [`COLUMNS_PER_WALK`] columns.
fn walks(
    tables: &[&'static Table],
    parallel: bool,
) -> Vec<(usize, &'static Table, &'static [Column])> {
    tables
        .iter()
        .enumerate()
        .flat_map(|(t, &table)| {
            let size = if parallel {
                COLUMNS_PER_WALK
            } else {
                table.columns.len().max(1)
            };
            table
                .columns
                .chunks(size)
                .map(move |columns| (t, table, columns))
        })
        .collect()
}

pub(super) async fn read_columns(
    session: &mut Session<'_>,
    target: &SnmpTarget,
    table: &Table,
    columns: &[Column],
    reps: NonZeroU32,
) -> Result<Rows, String> {
    walk::walk(session, table, columns, reps)
        .await
        .map_err(|e| match e {
            WalkError::Request(e) => {
                request_reason(&e, session, target, &table.dotted(), table.what)
            }
            WalkError::Malformed(detail) => format!(
                "malformed answer reading {} ({}): {detail}",
                table.dotted(),
                table.what
            ),
        })
}

/// The one-line reason for a failed request. A device that never answered at all is told apart
/// from one that stopped answering half way.
pub(super) fn request_reason(
    error: &RequestError,
    session: &Session<'_>,
    target: &SnmpTarget,
    oid: &str,
    what: &str,
) -> String {
    let addr = target.addr;
    match error {
        RequestError::NoAnswer {
            tries, discovery, ..
        } if *discovery && !session.answered() => format!(
            "no answer from {addr} to SNMPv3 engine discovery after {} \
             (SNMP disabled or device unreachable)",
            tries_text(*tries)
        ),
        RequestError::NoAnswer {
            tries,
            what: "port unreachable",
            ..
        } if !session.answered() => format!(
            "no answer from {addr} after {} (port unreachable: SNMP disabled or \
             nothing listening)",
            tries_text(*tries)
        ),
        RequestError::NoAnswer { tries, .. } if !session.answered() => match target.security {
            Security::V2c { .. } => format!(
                "no answer from {addr} after {} (wrong community, SNMP disabled or \
                 device unreachable)",
                tries_text(*tries)
            ),
            Security::V3 { .. } => format!(
                "no answer from {addr} after {} (SNMPv3 access refused, SNMP \
                 disabled or device unreachable)",
                tries_text(*tries)
            ),
        },
        RequestError::NoAnswer { .. } => format!("{error} reading {oid} ({what})"),
        RequestError::Auth(_) => error.to_string(),
        RequestError::Malformed(detail) => {
            format!("malformed answer reading {oid} ({what}): {detail}")
        }
        RequestError::ErrorStatus { .. } => format!("{error} reading {oid} ({what})"),
    }
}

/// "1 try", "3 tries".
fn tries_text(tries: u32) -> String {
    if tries == 1 {
        "1 try".to_string()
    } else {
        format!("{tries} tries")
    }
}

/// Reads many devices, at most `concurrency` at once (0 counts as 1). Results come back in the
/// order of `targets`; `progress(done, total, name)` is called as each device finishes.
pub async fn observe_all<N>(
    targets: Vec<(N, SnmpTarget)>,
    concurrency: usize,
    progress: impl Fn(usize, usize, &N),
) -> Vec<(N, Observation)> {
    each_device(
        targets,
        concurrency,
        progress,
        |target| async move { observe(&target).await },
        |reason| Observation::Unknown { reason },
    )
    .await
}

/// Runs `read` for every target, at most `concurrency` at once (0 counts as 1), each in a task
/// of its own; a task that panics or does not finish gives `failed(reason)`. Results come back
/// in the order of `targets`.
pub(super) async fn each_device<N, T, F, Fut>(
    targets: Vec<(N, SnmpTarget)>,
    concurrency: usize,
    progress: impl Fn(usize, usize, &N),
    read: F,
    failed: impl Fn(String) -> T,
) -> Vec<(N, T)>
where
    F: Fn(SnmpTarget) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let total = targets.len();
    let limit = concurrency.max(1);
    let mut names = Vec::with_capacity(total);
    let mut pending = Vec::with_capacity(total);
    for (name, target) in targets {
        names.push(name);
        pending.push(target);
    }
    let mut results: Vec<Option<T>> = (0..total).map(|_| None).collect();
    let mut tasks = JoinSet::new();
    let mut index_of = HashMap::new();
    let mut queue = pending.into_iter().enumerate();
    let mut done = 0;
    loop {
        while tasks.len() < limit {
            let Some((index, target)) = queue.next() else {
                break;
            };
            let handle = tasks.spawn(read(target));
            index_of.insert(handle.id(), index);
        }
        let Some(joined) = tasks.join_next_with_id().await else {
            break;
        };
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(error) => (
                error.id(),
                failed(format!("internal error: the read stopped ({error})")),
            ),
        };
        let Some(&index) = index_of.get(&id) else {
            continue;
        };
        if let (Some(slot), Some(name)) = (results.get_mut(index), names.get(index)) {
            *slot = Some(result);
            done += 1;
            progress(done, total, name);
        }
    }
    names
        .into_iter()
        .zip(results)
        .map(|(name, result)| {
            let result = result
                .unwrap_or_else(|| failed("internal error: the read did not finish".to_string()));
            (name, result)
        })
        .collect()
}
