//! Faults of a simulated device's SSH server that the lab switches at run time.
//!
//! The server reads them on every login, so a change applies to the next login without a
//! restart. Sessions already open are not affected.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Run-time SSH faults of one device (shared behind an `Arc`).
#[derive(Debug)]
pub struct SshFaults {
    refuse_logins: AtomicBool,
    login_delay_ms: AtomicU64,
    /// `usize::MAX` means no override of the configured session limit.
    session_limit: AtomicUsize,
    latency_ms: AtomicU64,
}

impl Default for SshFaults {
    fn default() -> Self {
        Self {
            refuse_logins: AtomicBool::new(false),
            login_delay_ms: AtomicU64::new(0),
            session_limit: AtomicUsize::new(usize::MAX),
            latency_ms: AtomicU64::new(0),
        }
    }
}

impl SshFaults {
    /// Make every authentication fail (as if the password were wrong), or stop doing so.
    pub fn set_refuse_logins(&self, refuse: bool) {
        self.refuse_logins.store(refuse, Ordering::Relaxed);
    }

    /// Whether authentications fail.
    pub fn refuse_logins(&self) -> bool {
        self.refuse_logins.load(Ordering::Relaxed)
    }

    /// Wait this long before answering each authentication (a slow or overloaded device).
    pub fn set_login_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.login_delay_ms.store(ms, Ordering::Relaxed);
    }

    /// The delay before each authentication answer.
    pub fn login_delay(&self) -> Duration {
        Duration::from_millis(self.login_delay_ms.load(Ordering::Relaxed))
    }

    /// Lower (or raise) the number of concurrent sessions; `None` restores the configured
    /// limit.
    pub fn set_session_limit(&self, limit: Option<usize>) {
        self.session_limit
            .store(limit.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    /// The session limit override, if any.
    pub fn session_limit(&self) -> Option<usize> {
        match self.session_limit.load(Ordering::Relaxed) {
            usize::MAX => None,
            n => Some(n),
        }
    }

    /// Delay every piece of input a CLI session receives by this much (a slow link, or a slow
    /// device): each command's answer comes this much later. Applies to sessions opened after.
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// The delay added to a session's input.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    /// Remove every fault.
    pub fn clear(&self) {
        self.set_refuse_logins(false);
        self.set_login_delay(Duration::ZERO);
        self.set_session_limit(None);
        self.set_latency(Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_set_and_clear() {
        let f = SshFaults::default();
        assert!(!f.refuse_logins());
        assert_eq!(f.login_delay(), Duration::ZERO);
        assert_eq!(f.session_limit(), None);
        f.set_refuse_logins(true);
        f.set_login_delay(Duration::from_millis(1500));
        f.set_session_limit(Some(2));
        f.set_latency(Duration::from_millis(5));
        assert_eq!(f.latency(), Duration::from_millis(5));
        assert!(f.refuse_logins());
        assert_eq!(f.login_delay(), Duration::from_millis(1500));
        assert_eq!(f.session_limit(), Some(2));
        f.clear();
        assert!(!f.refuse_logins());
        assert_eq!(f.session_limit(), None);
        assert_eq!(f.latency(), Duration::ZERO);
    }
}
