//! Comparing a device's configuration with the one an apply intended.

use crate::device::live::LiveDevice;

/// The first difference between `got` and `want` in what gamops configures (global settings,
/// ports, profiles, endpoints, subscribers), or None when they match.
pub fn difference(got: &LiveDevice, want: &LiveDevice) -> Option<String> {
    let mut got = got.clone();
    let mut want = want.clone();
    for d in [&mut got, &mut want] {
        d.ports.sort_by_key(|p| p.port);
        d.profiles.sort_by_key(|p| p.id);
        d.endpoints.sort_by_key(|e| e.id);
        d.subscribers.sort_by_key(|s| s.id);
    }
    fn first<T: PartialEq + std::fmt::Debug>(what: &str, got: &[T], want: &[T]) -> Option<String> {
        if got == want {
            return None;
        }
        for (g, w) in got.iter().zip(want) {
            if g != w {
                return Some(format!("{what}: the device has {g:?}, expected {w:?}"));
            }
        }
        Some(format!(
            "{what}: the device has {} rows, expected {}",
            got.len(),
            want.len()
        ))
    }
    if got.global != want.global {
        return Some(format!(
            "global settings: the device has {:?}, expected {:?}",
            got.global, want.global
        ));
    }
    first("ports", &got.ports, &want.ports)
        .or_else(|| first("bandwidth profiles", &got.profiles, &want.profiles))
        .or_else(|| first("endpoints", &got.endpoints, &want.endpoints))
        .or_else(|| first("subscribers", &got.subscribers, &want.subscribers))
}
