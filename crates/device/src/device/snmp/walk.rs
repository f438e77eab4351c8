//! Reading a table with GETBULK, several columns per request.
//!
//! Each request asks for the next `max_repetitions` instances of every column not yet finished
//! (non-repeaters 0, one repeater per column). The answer comes row by row, so binding `i` belongs
//! to column `i mod n`. A column is finished when its successor leaves the column (or is
//! endOfMibView); the walk ends when every column is finished. An answer the agent truncated to
//! fit its message size is fine: the columns it did not reach are asked again from where they
//! were. Only the columns named are walked, never the tree around them.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use super::oids::{Column, Table, dotted};
use super::session::{RequestError, Session};
use super::varbind::Value;

/// Row index → column number → value.
pub type Rows = BTreeMap<Vec<u32>, BTreeMap<u32, Value>>;

/// More rows than any GAM table holds (384 is the largest limit) by a wide margin; an agent that
/// keeps inventing rows is cut off here.
pub const MAX_ROWS: usize = 4096;

/// Why a table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("malformed answer: {0}")]
    Malformed(String),
}

struct Cursor {
    column: u32,
    prefix: Vec<u32>,
    next: Vec<u32>,
}

/// Reads `columns` of `table` (all of them, or a group of them).
pub async fn walk(
    session: &mut Session<'_>,
    table: &Table,
    columns: &[Column],
    max_repetitions: NonZeroU32,
) -> Result<Rows, WalkError> {
    let mut rows = Rows::new();
    let mut active: Vec<Cursor> = columns
        .iter()
        .map(|c| {
            let mut prefix = table.entry.to_vec();
            prefix.push(c.id);
            Cursor {
                column: c.id,
                next: prefix.clone(),
                prefix,
            }
        })
        .collect();
    while !active.is_empty() {
        let oids: Vec<Vec<u32>> = active.iter().map(|c| c.next.clone()).collect();
        let answer = session.get_bulk(&oids, max_repetitions).await?;
        if answer.is_empty() {
            return Err(WalkError::Malformed(
                "an empty answer to a GETBULK".to_string(),
            ));
        }
        let n = active.len();
        let mut finished = vec![false; n];
        for (i, vb) in answer.into_iter().enumerate() {
            let c = i % n;
            if finished[c] {
                continue;
            }
            let cursor = &mut active[c];
            if vb.value == Value::EndOfMibView || !vb.oid.starts_with(&cursor.prefix) {
                finished[c] = true;
                continue;
            }
            if vb.oid <= cursor.next {
                return Err(WalkError::Malformed(format!(
                    "{} does not follow {}",
                    dotted(&vb.oid),
                    dotted(&cursor.next)
                )));
            }
            if vb.value.is_exception() {
                return Err(WalkError::Malformed(format!(
                    "{} at {} in a GETBULK answer",
                    vb.value,
                    dotted(&vb.oid)
                )));
            }
            let index = vb.oid[cursor.prefix.len()..].to_vec();
            if index.len() != table.index_len {
                return Err(WalkError::Malformed(format!(
                    "{} has an index of {} arcs, expected {}",
                    dotted(&vb.oid),
                    index.len(),
                    table.index_len
                )));
            }
            cursor.next.clone_from(&vb.oid);
            rows.entry(index)
                .or_default()
                .insert(cursor.column, vb.value);
            if rows.len() > MAX_ROWS {
                return Err(WalkError::Malformed(format!("more than {MAX_ROWS} rows")));
            }
        }
        let mut keep = finished.into_iter().map(|f| !f);
        active.retain(|_| keep.next().unwrap_or(true));
    }
    Ok(rows)
}
