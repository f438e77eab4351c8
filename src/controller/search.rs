//! The API's subscriber search: the target commit's subscribers, their searchable fields (id,
//! name, device, MAC, VLAN, plan) lower-cased into one text, built once per target commit, so
//! a search of 100,000 subscribers is one substring scan of a few megabytes, and each match is
//! mapped back to its subscriber by its offset.

use serde::Serialize;

use crate::model::{Desired, Status};

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
    pub status: Status,
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
        Subscribers {
            commit: commit.to_string(),
            rows,
            text,
            starts,
        }
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
        } else {
            let mut last = None;
            // memchr's SIMD substring search: a scan of 100,000 subscribers' text is about a
            // millisecond, so twenty clients searching at once stay well under 50 ms.
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
