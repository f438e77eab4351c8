//! The API's subscriber search: the target commit's subscribers, their searchable fields (id,
//! name, device, MAC, VLAN, plan) lower-cased into one text, built once per target commit.
//!
//! A query matches a subscriber when it is a substring of one of its fields, ignoring case. A
//! query of three bytes or more is answered from a trigram index (as in PostgreSQL's pg_trgm
//! or Google Code Search): each three-byte sequence inside a field lists the rows that hold
//! it, so only the rows holding the query's two rarest trigrams are checked. Scanning the
//! whole text instead (100,000 subscribers are about 8 MB; a MAC query is full of bytes every
//! row holds, so the scan's prefilter helps little) cost milliseconds per search, which twenty
//! concurrent clients on two cores turned into a p99 over 50 ms. Shorter queries are scanned.
//! Both ways give the same rows in the same order (property-tested).

use rayon::slice::ParallelSliceMut;
use serde::Serialize;

use crate::model::{Desired, SubscriberStatus};

/// One subscriber as the search shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub id: String,
    pub name: Option<String>,
    pub device: String,
    pub port: u8,
    pub mac: Option<String>,
    pub vlan: u16,
    pub plan: String,
    pub status: SubscriberStatus,
}

/// The subscribers of one commit, ready to search.
#[derive(Debug, Default)]
pub struct Subscribers {
    pub commit: String,
    rows: Vec<Row>,
    /// Every row's fields, lower-cased, rows separated by `\0` (which no field holds).
    text: String,
    /// Where each row's part of `text` starts.
    starts: Vec<usize>,
    trigrams: Trigrams,
}

/// For each three-byte sequence inside a field (never across the separators), the rows that
/// hold it, ascending: the rows of `keys[k]` are `rows[offsets[k]..offsets[k + 1]]`.
#[derive(Debug, Default)]
struct Trigrams {
    keys: Vec<u32>,
    offsets: Vec<u32>,
    rows: Vec<u32>,
}

fn trigram(w: &[u8]) -> u32 {
    (u32::from(w[0]) << 16) | (u32::from(w[1]) << 8) | u32::from(w[2])
}

impl Trigrams {
    fn new(text: &str, starts: &[usize]) -> Trigrams {
        let bytes = text.as_bytes();
        let mut pairs: Vec<u64> = Vec::with_capacity(bytes.len());
        for (row, &start) in starts.iter().enumerate() {
            let end = starts.get(row + 1).copied().unwrap_or(bytes.len());
            for w in bytes[start..end].windows(3) {
                if !w.contains(&b'\n') && !w.contains(&0) {
                    pairs.push((u64::from(trigram(w)) << 32) | row as u64);
                }
            }
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut index = Trigrams {
            keys: Vec::new(),
            offsets: Vec::new(),
            rows: Vec::with_capacity(pairs.len()),
        };
        for pair in pairs {
            let key = (pair >> 32) as u32;
            if index.keys.last() != Some(&key) {
                index.keys.push(key);
                index.offsets.push(index.rows.len() as u32);
            }
            index.rows.push(pair as u32);
        }
        index.offsets.push(index.rows.len() as u32);
        index
    }

    /// The rows holding `w`, ascending (none when no row does).
    fn rows_of(&self, w: &[u8]) -> &[u32] {
        match self.keys.binary_search(&trigram(w)) {
            Ok(k) => &self.rows[self.offsets[k] as usize..self.offsets[k + 1] as usize],
            Err(_) => &[],
        }
    }

    /// The rows that may match `needle` (three bytes or more): those holding both of its
    /// rarest trigrams, ascending. Every row that matches is among them.
    fn candidates(&self, needle: &[u8]) -> Vec<u32> {
        let mut lists: Vec<&[u32]> = needle.windows(3).map(|w| self.rows_of(w)).collect();
        lists.sort_by_key(|l| l.len());
        let (first, second) = (lists[0], lists.get(1).copied().unwrap_or(lists[0]));
        let mut both = Vec::with_capacity(first.len());
        let mut j = 0;
        for &row in first {
            while j < second.len() && second[j] < row {
                j += 1;
            }
            if second.get(j) == Some(&row) {
                both.push(row);
            }
        }
        both
    }
}

impl Subscribers {
    pub fn new(commit: &str, desired: &Desired) -> Subscribers {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(desired.subscribers.len());
        let rows = desired
            .subscribers
            .iter()
            .map(|doc| {
                let s = &doc.value;
                let row = Row {
                    id: s.id.to_string(),
                    name: s.name.as_ref().map(|n| n.value.to_string()),
                    device: s.device.to_string(),
                    port: s.port.value.get(),
                    mac: s.endpoint.as_ref().map(|e| e.mac.value.to_string()),
                    vlan: s.vlan.value.get(),
                    plan: s.plan.to_string(),
                    status: s.status.value,
                };
                starts.push(text.len());
                for field in [
                    Some(row.id.as_str()),
                    row.name.as_deref(),
                    Some(row.device.as_str()),
                    row.mac.as_deref(),
                    Some(&row.vlan.to_string()),
                    Some(row.plan.as_str()),
                ]
                .iter()
                .flatten()
                {
                    text.push_str(&field.to_lowercase().replace('\0', " "));
                    text.push('\n');
                }
                text.push('\0');
                row
            })
            .collect();
        let trigrams = Trigrams::new(&text, &starts);
        Subscribers {
            commit: commit.to_string(),
            rows,
            text,
            starts,
            trigrams,
        }
    }

    /// Row `i`'s part of the text.
    fn text_of(&self, i: usize) -> &[u8] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        &self.text.as_bytes()[self.starts[i]..end]
    }

    /// The rows matching `query` (any case; empty matches all), on `device` when given: how
    /// many in all, and the first `limit`.
    pub fn search<'a>(
        &'a self,
        query: &str,
        device: Option<&str>,
        limit: usize,
    ) -> (usize, Vec<&'a Row>) {
        let needle = query.to_lowercase();
        // The separators are in no field: a query holding one would match across fields.
        if needle.contains(['\0', '\n']) {
            return (0, Vec::new());
        }
        let mut total = 0;
        let mut found: Vec<&Row> = Vec::new();
        let mut take = |row: &'a Row| {
            total += 1;
            if found.len() < limit {
                found.push(row);
            }
        };
        if needle.is_empty() {
            for row in &self.rows {
                if device.is_none_or(|d| row.device == d) {
                    take(row);
                }
            }
        } else if needle.len() >= 3 {
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            for i in self.trigrams.candidates(needle.as_bytes()) {
                let row = &self.rows[i as usize];
                if device.is_none_or(|d| row.device == d)
                    && finder.find(self.text_of(i as usize)).is_some()
                {
                    take(row);
                }
            }
        } else {
            let mut last = None;
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            for at in finder.find_iter(self.text.as_bytes()) {
                let i = self.starts.partition_point(|&s| s <= at).saturating_sub(1);
                if last == Some(i) {
                    continue;
                }
                last = Some(i);
                if let Some(row) = self.rows.get(i)
                    && device.is_none_or(|d| row.device == d)
                {
                    take(row);
                }
            }
        }
        (total, found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    #[test]
    fn a_search_finds_each_matching_subscriber_once_by_any_field_and_any_case() {
        let dir = tempfile::tempdir().unwrap();
        crate::lab::fleetgen::write_fleet(
            &crate::lab::fleetgen::FleetSpec {
                devices: 3,
                subscribers_per_device: 20,
                base_port: 20000,
            },
            dir.path(),
        )
        .unwrap();
        let desired = Inventory::load_dir(dir.path()).unwrap().desired;
        let index = Subscribers::new("c0ffee", &desired);
        let (all, rows) = index.search("", None, 1000);
        assert_eq!((all, rows.len()), (60, 60));
        // A subscriber id matches once, though it also appears in nothing else.
        let (n, rows) = index.search("SUB-0001-007", None, 10);
        assert_eq!(n, 1);
        assert_eq!(rows[0].id, "sub-0001-007");
        // A device name is in each of its subscribers' ids and device field: one hit each.
        let (n, _) = index.search("gam-0002", None, 1000);
        assert_eq!(n, 20);
        let (n, rows) = index.search("", Some("gam-0000"), 5);
        assert_eq!((n, rows.len()), (20, 5));
        // A MAC, in any case; a query spanning two rows matches nothing.
        let mac = rows[0].mac.clone().unwrap().to_uppercase();
        assert_eq!(index.search(&mac, None, 10).0, 1);
        assert_eq!(index.search("\0", None, 10).0, 0);
        assert_eq!(index.search("sub-0001-007\n", None, 10).0, 0);
        assert_eq!(index.search("no such thing", None, 10).0, 0);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::inventory::Inventory;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A generated fleet's subscribers, indexed once for every case.
    fn index() -> &'static Subscribers {
        static INDEX: OnceLock<Subscribers> = OnceLock::new();
        INDEX.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            crate::lab::fleetgen::write_fleet(
                &crate::lab::fleetgen::FleetSpec {
                    devices: 4,
                    subscribers_per_device: 30,
                    base_port: 20000,
                },
                dir.path(),
            )
            .unwrap();
            let desired = Inventory::load_dir(dir.path()).unwrap().desired;
            Subscribers::new("c0ffee", &desired)
        })
    }

    /// What a search means, written plainly: the rows one of whose fields holds the query,
    /// ignoring case, in order.
    fn plainly<'a>(index: &'a Subscribers, query: &str, device: Option<&str>) -> Vec<&'a Row> {
        let q = query.to_lowercase();
        index
            .rows
            .iter()
            .filter(|r| device.is_none_or(|d| r.device == d))
            .filter(|r| {
                [
                    Some(r.id.clone()),
                    r.name.clone(),
                    Some(r.device.clone()),
                    r.mac.clone(),
                    Some(r.vlan.to_string()),
                    Some(r.plan.clone()),
                ]
                .into_iter()
                .flatten()
                .any(|f| f.to_lowercase().contains(&q))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn the_index_finds_exactly_the_rows_a_plain_search_finds(
            row in 0usize..120,
            field in 0usize..6,
            from in 0usize..20,
            len in 1usize..12,
            noise in "[0-9a-f:-]{0,6}",
            upper in any::<bool>(),
            on_device in proptest::option::of(0usize..5),
        ) {
            let index = index();
            let r = &index.rows[row % index.rows.len()];
            let fields = [
                r.id.clone(),
                r.name.clone().unwrap_or_default(),
                r.device.clone(),
                r.mac.clone().unwrap_or_default(),
                r.vlan.to_string(),
                r.plan.clone(),
            ];
            // A piece of a real field (so queries often match), sometimes with noise after it.
            let f: Vec<char> = fields[field].chars().collect();
            let start = from.min(f.len());
            let piece: String = f[start..(start + len).min(f.len())].iter().collect();
            let mut query = format!("{piece}{noise}");
            if upper {
                query = query.to_uppercase();
            }
            let device = on_device.map(|d| format!("gam-{d:04}"));
            let want = plainly(index, &query, device.as_deref());
            let (total, got) = index.search(&query, device.as_deref(), 1000);
            prop_assert_eq!(total, want.len(), "query {:?}", query);
            let got: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
            let want: Vec<&str> = want.iter().map(|r| r.id.as_str()).collect();
            prop_assert_eq!(got, want, "query {:?}", query);
        }
    }
}
