//! The API's subscriber search: the target commit's subscribers, each with one lower-cased
//! text to match (id, name, device, MAC, VLAN, plan), built once per target commit so a search
//! of 100,000 subscribers is one pass of substring tests.

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
    rows: Vec<(String, Row)>,
}

impl Subscribers {
    pub fn new(commit: &str, desired: &Desired) -> Subscribers {
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
                let text = [
                    Some(row.id.as_str()),
                    row.name.as_deref(),
                    Some(row.device.as_str()),
                    row.mac.as_deref(),
                    Some(&row.vlan.to_string()),
                    Some(row.plan.as_str()),
                ]
                .iter()
                .flatten()
                .map(|f| f.to_lowercase())
                .collect::<Vec<_>>()
                .join("\n");
                (text, row)
            })
            .collect();
        Subscribers {
            commit: commit.to_string(),
            rows,
        }
    }

    /// The rows matching `query` (any case; empty matches all), on `device` when given: how
    /// many in all, and the first `limit`.
    pub fn search(&self, query: &str, device: Option<&str>, limit: usize) -> (usize, Vec<&Row>) {
        let needle = query.to_lowercase();
        let mut total = 0;
        let mut found = Vec::new();
        for (text, row) in &self.rows {
            if device.is_some_and(|d| row.device != d) || !text.contains(&needle) {
                continue;
            }
            total += 1;
            if found.len() < limit {
                found.push(row);
            }
        }
        (total, found)
    }
}
