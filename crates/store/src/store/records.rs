//! The records the store keeps and hands back: runs, per-device outcomes and journal entries.
//!
//! Plain strings and numbers from the callers; the store knows nothing of devices, plans or git.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use super::StoreError;

/// A run's number: allocated by the store, increasing from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for RunId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().trim_start_matches('#').parse::<i64>() {
            Ok(n) if n > 0 => Ok(RunId(n)),
            _ => Err(format!(
                "{s:?} is not a run id (a positive number, as `gamops history` lists)"
            )),
        }
    }
}

/// A moment in UTC, to the millisecond; shown and serialised as RFC 3339
/// (`2025-11-25T23:27:00.123Z`), stored as unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Now, by this machine's clock.
    pub fn now() -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }

    /// The moment `ms` milliseconds after the unix epoch.
    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the unix epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// This moment plus `d` (saturating).
    pub fn plus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// The time from `earlier` to this moment (zero when `earlier` is later).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400_000);
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let secs = ms_of_day / 1000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Year, month, day of the proleptic Gregorian calendar for days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    // d is in 1..=31 and m in 1..=12 by construction.
    (
        if m <= 2 { y + 1 } else { y },
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// Defines a closed set of kebab-case words stored as TEXT.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                }
            }

            pub(crate) fn parse_stored(s: &str) -> Result<Self, StoreError> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err(StoreError::Corrupt { what: $what, value: s.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// How a run as a whole ended.
    RunStatus, "run status" {
        /// Started and not finished (or the process was killed).
        Running => "running",
        /// Every device converged or needed nothing.
        Succeeded => "succeeded",
        /// Some devices converged, some did not.
        Partial => "partial",
        /// No device converged, or the run stopped before reaching devices.
        Failed => "failed",
        /// Stopped on request (a signal, a cancelled controller cycle).
        Interrupted => "interrupted",
        /// Never finished: its process stopped keeping it alive (killed, or its machine went
        /// down) and the time it promised to live by has passed. Derived when read, never
        /// stored: the row still says `running`.
        Abandoned => "abandoned",
    }
}

words! {
    /// What happened to one device in a run.
    DeviceStatus, "device status" {
        /// The changes were sent, verified and saved.
        Applied => "applied",
        /// The device already matched.
        NoChanges => "no-changes",
        /// Verification failed and the inverse commands restored the snapshot.
        RolledBack => "rolled-back",
        /// The change failed and the device may be in between.
        Failed => "failed",
        /// The device changed since the plan was made; nothing was sent.
        Stale => "stale",
        /// The device could not be read.
        Unknown => "unknown",
        /// A safety limit or policy stopped the change.
        Blocked => "blocked",
        /// Another apply held the device's lease.
        LeaseHeld => "lease-held",
        /// The run was stopped (a signal, a shutdown) before the device's change began;
        /// nothing was sent to it.
        Interrupted => "interrupted",
    }
}

impl DeviceStatus {
    /// Whether the device ended where the plan wanted it.
    pub fn is_success(self) -> bool {
        matches!(self, DeviceStatus::Applied | DeviceStatus::NoChanges)
    }
}

/// A run about to start.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NewRun {
    /// Who started it, as `user@host` (or a controller's name).
    pub actor: String,
    /// The command line, or what triggered it.
    pub command: String,
    /// The commit of the inventory it applies, when known.
    pub commit: Option<String>,
    /// A one-line summary of the plan (devices, changes, fingerprints), when there is one.
    pub plan_summary: Option<String>,
    /// How long the run stays `running` without [`Store::keep_run_alive`](super::Store)
    /// renewing it; past that it reads as abandoned. `None`: running until finished.
    #[serde(skip)]
    pub alive_for: Option<Duration>,
}

/// One device's outcome in a run; recording it again replaces it.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceOutcomeRecord {
    pub status: DeviceStatus,
    /// Why, in a sentence (empty when there is nothing to say).
    pub message: String,
    /// How many changes the plan had for the device.
    pub changes: u64,
    /// How many commands were sent to it (rollback included).
    pub commands: u64,
}

/// One command sent to a device and its answer. The caller redacts secrets; the store redacts
/// again what follows `password`, `secret`, `community` and similar words.
#[derive(Clone, Debug, Serialize)]
pub struct JournalEntry {
    /// Its place in the device's session in this run, from 1; unique per run and device.
    pub seq: u64,
    /// When it was sent.
    pub at: Timestamp,
    pub command: String,
    /// The device's answer.
    pub output: String,
    /// Whether the device accepted it.
    pub ok: bool,
}

/// Which runs `Store::runs` lists.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only runs that touched this device (an outcome or a journal entry).
    pub device: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<u32>,
}

/// A run as `gamops history` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub id: RunId,
    pub actor: String,
    pub command: String,
    pub commit: Option<String>,
    pub plan_summary: Option<String>,
    pub status: RunStatus,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Devices with an outcome.
    pub devices: u64,
    /// Devices whose outcome is not applied or no-changes.
    pub failed_devices: u64,
}

/// One device's outcome as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct OutcomeRow {
    pub device: String,
    pub status: DeviceStatus,
    pub message: String,
    pub changes: u64,
    pub commands: u64,
    pub recorded_at: Timestamp,
}

/// One journal entry as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct JournalRow {
    pub device: String,
    pub seq: u64,
    pub at: Timestamp,
    pub command: String,
    pub output: String,
    pub ok: bool,
}

/// A run with everything recorded about it, as `gamops show-run` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    /// By device name.
    pub outcomes: Vec<OutcomeRow>,
    /// By device name, then sequence.
    pub journal: Vec<JournalRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_rfc3339_utc() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_764_113_220_123).to_string(),
            "2025-11-25T23:27:00.123Z"
        );
        assert_eq!(
            Timestamp(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            serde_json::to_string(&Timestamp(0)).unwrap(),
            "\"1970-01-01T00:00:00.000Z\""
        );
    }

    #[test]
    fn statuses_round_trip_their_words() {
        for s in DeviceStatus::ALL {
            assert_eq!(DeviceStatus::parse_stored(s.as_str()).unwrap(), *s);
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse_stored(s.as_str()).unwrap(), *s);
        }
        assert!(DeviceStatus::parse_stored("exploded").is_err());
    }

    #[test]
    fn run_ids_parse() {
        assert_eq!("42".parse::<RunId>().unwrap(), RunId(42));
        assert_eq!("#7".parse::<RunId>().unwrap(), RunId(7));
        assert!("0".parse::<RunId>().is_err());
        assert!("abc".parse::<RunId>().is_err());
    }
}
