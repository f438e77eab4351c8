//! Faults the lab injects into a simulated GAM's SNMP agent at run time.
//!
//! A real GAM on a busy uplink answers late, loses datagrams, and can stall on a large table. The
//! lab reproduces that so gamops's retries, timeouts and "Unknown is not absent" rule get tested.
//! The settings are read afresh for every request, so a test or the lab CLI can change them while
//! the agent runs. Randomness (jitter, loss) comes from a small seeded generator: 0 % and 100 %
//! loss are exact, and a fixed seed gives a repeatable sequence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use async_snmp::Oid;

/// The fault settings, as a plain value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnmpFaultConfig {
    /// Added to every answered request before it is answered.
    pub latency: Duration,
    /// A further delay, uniform in `0..=jitter`, added per request.
    pub jitter: Duration,
    /// Percentage of requests dropped on arrival, 0 to 100 (larger values count as 100).
    pub loss_percent: u8,
    /// A request that names, or whose answer would contain, an OID at or under one of these
    /// prefixes gets no answer at all, as when a real agent stalls on a slow table.
    pub timeout_prefixes: Vec<Oid>,
}

/// Fault settings shared between the lab (which writes them) and the agent (which reads them per
/// request). Share it with `Arc<SnmpFaults>`.
#[derive(Debug)]
pub struct SnmpFaults {
    config: RwLock<SnmpFaultConfig>,
    rng: Mutex<SplitMix64>,
    /// The device is down (rebooting): every request is dropped, whatever the settings.
    silenced: AtomicBool,
}

impl Default for SnmpFaults {
    fn default() -> Self {
        Self::new()
    }
}

impl SnmpFaults {
    /// No faults, with a generator seeded from the clock.
    pub fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64);
        Self::with_seed(seed)
    }

    /// No faults, with a fixed seed so loss and jitter repeat from run to run.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            config: RwLock::new(SnmpFaultConfig::default()),
            rng: Mutex::new(SplitMix64(seed)),
            silenced: AtomicBool::new(false),
        }
    }

    /// The current settings.
    pub fn config(&self) -> SnmpFaultConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces all settings at once.
    pub fn set(&self, config: SnmpFaultConfig) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    /// Clears every fault.
    pub fn clear(&self) {
        self.set(SnmpFaultConfig::default());
    }

    fn update(&self, change: impl FnOnce(&mut SnmpFaultConfig)) {
        change(&mut self.config.write().unwrap_or_else(PoisonError::into_inner));
    }

    /// Sets the added latency and jitter.
    pub fn set_latency(&self, latency: Duration, jitter: Duration) {
        self.update(|c| {
            c.latency = latency;
            c.jitter = jitter;
        });
    }

    /// Sets the percentage of requests dropped (clamped to 100).
    pub fn set_loss_percent(&self, percent: u8) {
        self.update(|c| c.loss_percent = percent.min(100));
    }

    /// Sets the OID prefixes whose requests time out.
    pub fn set_timeout_prefixes(&self, prefixes: Vec<Oid>) {
        self.update(|c| c.timeout_prefixes = prefixes);
    }

    /// Silences the agent (a rebooting device answers nothing) or lets it answer again. This is
    /// separate from the fault settings: [`SnmpFaults::clear`] and [`SnmpFaults::set`] leave it.
    pub fn set_silenced(&self, silenced: bool) {
        self.silenced.store(silenced, Ordering::Relaxed);
    }

    /// Whether the agent is silenced.
    pub fn silenced(&self) -> bool {
        self.silenced.load(Ordering::Relaxed)
    }

    /// Decides whether to drop one arriving request.
    pub(crate) fn should_drop(&self) -> bool {
        if self.silenced() {
            return true;
        }
        let percent = u64::from(self.config().loss_percent.min(100));
        match percent {
            0 => false,
            100 => true,
            p => self.next_below(100) < p,
        }
    }

    /// The delay to add to one request: latency plus a uniform share of the jitter.
    pub(crate) fn delay(&self) -> Duration {
        let SnmpFaultConfig {
            latency, jitter, ..
        } = self.config();
        let jitter_micros = u64::try_from(jitter.as_micros()).unwrap_or(u64::MAX);
        let extra = if jitter_micros == 0 {
            0
        } else {
            self.next_below(jitter_micros.saturating_add(1))
        };
        latency.saturating_add(Duration::from_micros(extra))
    }

    /// Whether `oid` lies at or under one of the time-out prefixes.
    pub(crate) fn times_out(&self, oid: &Oid) -> bool {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .timeout_prefixes
            .iter()
            .any(|prefix| oid.starts_with(prefix))
    }

    fn next_below(&self, bound: u64) -> u64 {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        rng.next() % bound.max(1)
    }
}

/// SplitMix64: tiny, fast, and good enough to spread loss and jitter; not for cryptography.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_extremes_are_exact_and_middle_is_roughly_right() {
        let faults = SnmpFaults::with_seed(7);
        assert!((0..1000).all(|_| !faults.should_drop()));
        faults.set_loss_percent(200);
        assert_eq!(faults.config().loss_percent, 100);
        assert!((0..1000).all(|_| faults.should_drop()));
        faults.set_loss_percent(30);
        let dropped = (0..10_000).filter(|_| faults.should_drop()).count();
        assert!((2_500..3_500).contains(&dropped), "{dropped}");
    }

    #[test]
    fn delay_stays_within_latency_plus_jitter() {
        let faults = SnmpFaults::with_seed(1);
        assert_eq!(faults.delay(), Duration::ZERO);
        faults.set_latency(Duration::from_millis(50), Duration::from_millis(20));
        for _ in 0..1000 {
            let d = faults.delay();
            assert!(
                d >= Duration::from_millis(50) && d <= Duration::from_millis(70),
                "{d:?}"
            );
        }
    }

    #[test]
    fn timeout_prefixes_match_subtrees() {
        let faults = SnmpFaults::with_seed(1);
        let prefix = Oid::parse("1.3.6.1.4.1.20095.2001.143.1.5").unwrap();
        faults.set_timeout_prefixes(vec![prefix.clone()]);
        assert!(faults.times_out(&prefix));
        assert!(faults.times_out(&Oid::parse("1.3.6.1.4.1.20095.2001.143.1.5.1.1").unwrap()));
        assert!(!faults.times_out(&Oid::parse("1.3.6.1.4.1.20095.2001.143.1.4.1").unwrap()));
        faults.clear();
        assert!(!faults.times_out(&prefix));
    }
}
