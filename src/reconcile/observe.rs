//! Which devices, and what they hold now: the read half of every reconcile.

use crate::device::live::Observation;
use crate::device::snmp;
use crate::model::Desired;

use super::ReconcileError;

/// The devices to reconcile: the ones named, in the order given, or every device of the
/// inventory in its order.
pub fn select_devices(desired: &Desired, wanted: &[String]) -> Result<Vec<String>, ReconcileError> {
    if wanted.is_empty() {
        return Ok(desired.devices.iter().map(|d| d.name.to_string()).collect());
    }
    if let Some(name) = wanted.iter().find(|w| desired.device(w).is_none()) {
        return Err(ReconcileError::UnknownDevice {
            name: name.clone(),
            known: desired.devices.iter().map(|d| d.name.to_string()).collect(),
        });
    }
    Ok(wanted.to_vec())
}

/// Reads the named devices over SNMP, at most `concurrency` at once, in the order of `names`.
/// A device that cannot be reached, or read completely and well, is `Unknown` with the reason.
/// `progress(done, total, device)` is called as each read ends.
pub async fn observe(
    desired: &Desired,
    names: &[String],
    concurrency: usize,
    progress: impl Fn(usize, usize, &str),
) -> Vec<(String, Observation)> {
    let (targets, failed) = snmp::target::of_fleet(desired, names).await;
    let failed = failed
        .into_iter()
        .map(|(name, reason)| (name, Observation::Unknown { reason }));
    let observed = snmp::observe_all(targets, concurrency, |done, total, name: &String| {
        progress(done, total, name)
    })
    .await;
    let mut all: Vec<(String, Observation)> = observed.into_iter().chain(failed).collect();
    all.sort_by_key(|(n, _)| names.iter().position(|x| x == n));
    all
}
