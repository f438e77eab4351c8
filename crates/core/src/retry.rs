//! When to try again: the one retry schedule of gamops, and the server's own word on it.
//!
//! Everything gamops retries (a forge's or a billing system's API, a billing sync, a
//! notification, a device the controller could not converge) waits by the same rule: the first
//! wait, doubled after each further failure, never more than a ceiling. Only the two durations
//! differ, and they belong to the caller. Where many senders may fail at the same moment (the
//! notification channels, after a receiver's outage), [`Backoff::jittered`] spreads them out.

use std::time::Duration;

/// Waits that double after each failure, from `first` up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max }
    }

    /// The wait after failure `n` (counted from 1; 0 is taken as 1): `first` doubled `n - 1`
    /// times, at most `max`. Never overflows, whatever `n`.
    pub fn wait(&self, n: u32) -> Duration {
        let doublings = n.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// [`Backoff::wait`] less up to half of it, at random, so that senders that failed together
    /// do not all come back together.
    pub fn jittered(&self, n: u32) -> Duration {
        let mut noise = [0u8; 2];
        let fraction = match getrandom::fill(&mut noise) {
            Ok(()) => f64::from(u16::from_le_bytes(noise)) / f64::from(u16::MAX),
            Err(_) => 0.5,
        };
        self.wait(n).mul_f64(1.0 - fraction / 2.0)
    }
}

/// The `Retry-After` header, when it gives seconds (the form the APIs gamops calls use; an
/// HTTP date is not read).
pub fn retry_after(headers: &http::header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_up_to_the_ceiling() {
        let b = Backoff::new(Duration::from_secs(10), Duration::from_secs(600));
        let waits: Vec<u64> = (0..=8).map(|n| b.wait(n).as_secs()).collect();
        assert_eq!(waits, [10, 10, 20, 40, 80, 160, 320, 600, 600]);
        assert_eq!(b.wait(u32::MAX), Duration::from_secs(600));
        let tiny = Backoff::new(Duration::from_millis(1), Duration::MAX);
        assert_eq!(tiny.wait(u32::MAX), Duration::from_millis(1 << 31));
    }

    #[test]
    fn jitter_takes_off_at_most_half() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for n in 1..=6 {
            for _ in 0..50 {
                let j = b.jittered(n);
                assert!(j <= b.wait(n) && j >= b.wait(n) / 2, "{n}: {j:?}");
            }
        }
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = http::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", " 7 ".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
