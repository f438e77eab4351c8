//! The command journal of a run, written to the store by one task in the order commands were
//! sent, so a device's session never waits on the database.
//!
//! An entry the store refuses (locked, unreachable) is tried a few more times; one that still
//! fails is counted as a gap for its device, and the run's outcome for that device says so:
//! a journal with holes is never passed off as complete.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::apply::Journal;
use crate::store::{JournalEntry, RunId, Store, Timestamp};

/// How many times one entry is written before it counts as lost, and the pause between tries.
const ATTEMPTS: u32 = 4;
const PAUSE: Duration = Duration::from_millis(250);

type Sent = (String, String, String, bool);

/// The sending side, handed to the devices' sessions.
pub(super) struct StoreJournal {
    tx: tokio::sync::mpsc::UnboundedSender<Sent>,
}

/// Entries that could not be recorded, by device: how many, and the last error.
pub(super) type Gaps = HashMap<String, (u64, String)>;

/// The task writing the journal; ends when every [`StoreJournal`] is dropped.
pub(super) struct JournalWriter {
    task: tokio::task::JoinHandle<Gaps>,
}

impl JournalWriter {
    /// Waits for every entry to be written (or given up on), and returns the gaps.
    pub(super) async fn finish(self) -> Gaps {
        self.task.await.unwrap_or_else(|e| {
            let mut gaps = Gaps::new();
            gaps.insert(
                String::new(),
                (1, format!("the journal writer failed: {e}")),
            );
            gaps
        })
    }
}

impl StoreJournal {
    pub(super) fn start(store: Store, run: RunId) -> (Arc<dyn Journal>, JournalWriter) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Sent>();
        let task = tokio::spawn(async move {
            let mut seq: HashMap<String, u64> = HashMap::new();
            let mut gaps = Gaps::new();
            while let Some((device, command, output, ok)) = rx.recv().await {
                let n = seq.entry(device.clone()).or_insert(0);
                *n += 1;
                let entry = JournalEntry {
                    seq: *n,
                    at: Timestamp::now(),
                    command,
                    output,
                    ok,
                };
                let mut attempt = 1;
                loop {
                    match store.journal(run, &device, &entry).await {
                        Ok(()) => break,
                        Err(e) if attempt >= ATTEMPTS => {
                            tracing::warn!(%device, seq = entry.seq, "journal entry not recorded: {e}");
                            let gap = gaps.entry(device.clone()).or_insert((0, String::new()));
                            gap.0 += 1;
                            gap.1 = e.to_string();
                            break;
                        }
                        Err(_) => {
                            attempt += 1;
                            tokio::time::sleep(PAUSE).await;
                        }
                    }
                }
            }
            gaps
        });
        (Arc::new(StoreJournal { tx }), JournalWriter { task })
    }
}

impl Journal for StoreJournal {
    fn record(&self, device: &str, command: &str, output: &str, ok: bool) {
        // The receiver lives until every sender is gone; a send cannot fail before then.
        let _ = self.tx.send((
            device.to_string(),
            command.to_string(),
            output.to_string(),
            ok,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRun, StoreLocation};

    #[tokio::test]
    async fn entries_the_store_refuses_are_counted_as_gaps_not_dropped_silently() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreLocation::Sqlite(dir.path().join("state")))
            .await
            .unwrap();
        let run = store.start_run(&NewRun::default()).await.unwrap();
        let (journal, writer) = StoreJournal::start(store.clone(), run);
        journal.record("gam-a", "configure terminal", "", true);
        // Let the first entry land, then take the database away.
        tokio::time::sleep(Duration::from_millis(300)).await;
        store.close().await;
        journal.record("gam-a", "ghn subscriber 1 name x", "", true);
        journal.record("gam-b", "configure terminal", "", true);
        drop(journal);
        let gaps = writer.finish().await;
        assert_eq!(gaps.get("gam-a").map(|g| g.0), Some(1), "{gaps:?}");
        assert_eq!(gaps.get("gam-b").map(|g| g.0), Some(1), "{gaps:?}");
        assert!(!gaps.contains_key(""), "{gaps:?}");
    }
}
