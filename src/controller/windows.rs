//! Maintenance windows: whether one is open now, for the `hold` policy.
//!
//! A window opens at each time its cron expression names (read in its time zone, daylight
//! saving handled by jiff) and stays open for its duration. Weekdays must be written by name:
//! the cron parser numbers them from Sunday = 1, unlike cron's Sunday = 0, and a number would
//! silently mean another day.

use std::str::FromStr;

use jiff_cron::Schedule;
use jiff_cron::jiff::tz::TimeZone;
use jiff_cron::jiff::{SignedDuration, Timestamp};

use crate::model::controller::Window;

/// A window, checked and ready.
pub struct OpenWindow {
    schedule: Schedule,
    tz: TimeZone,
    duration: SignedDuration,
}

impl OpenWindow {
    /// Parses a window; the error names what is wrong.
    pub fn parse(w: &Window) -> Result<OpenWindow, String> {
        let cron = w.cron.value.trim();
        let fields: Vec<&str> = cron.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "cron {cron:?} has {} field(s); write five: minute hour day-of-month month day-of-week",
                fields.len()
            ));
        }
        if fields[4].chars().any(|c| c.is_ascii_digit()) {
            return Err(format!(
                "cron {cron:?}: write weekdays by name (Sun, Mon-Fri), not by number"
            ));
        }
        let schedule = Schedule::from_str(&format!("0 {cron}"))
            .map_err(|e| format!("cron {cron:?} is not valid: {e}"))?;
        let tz = match &w.timezone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(&name.value)
                .map_err(|e| format!("time zone {:?} is not known: {e}", name.value))?,
        };
        let duration = SignedDuration::try_from(w.duration.value.0)
            .map_err(|e| format!("duration {}: {e}", w.duration.value))?;
        Ok(OpenWindow {
            schedule,
            tz,
            duration,
        })
    }

    /// Whether the window is open at `now`: it opened within the last `duration`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        let Ok(since) = now.checked_sub(self.duration) else {
            return false;
        };
        self.schedule
            .after(since.to_zoned(self.tz.clone()))
            .next()
            .is_some_and(|opened| opened.timestamp() <= now)
    }
}

/// Parses every window; the first error, prefixed with its place.
pub fn parse_all(windows: &[Window]) -> Result<Vec<OpenWindow>, String> {
    windows
        .iter()
        .enumerate()
        .map(|(i, w)| OpenWindow::parse(w).map_err(|e| format!("controller.windows[{i}]: {e}")))
        .collect()
}

/// Whether any window is open now.
pub fn any_open(windows: &[OpenWindow]) -> bool {
    let now = Timestamp::now();
    windows.iter().any(|w| w.is_open(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Interval, Located};

    fn window(cron: &str, hours: u64, tz: Option<&str>) -> Window {
        Window {
            cron: Located::bare(cron.to_string()),
            duration: Located::bare(Interval(std::time::Duration::from_secs(hours * 3600))),
            timezone: tz.map(|t| Located::bare(t.to_string())),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_window_is_open_for_its_duration_after_each_start_in_its_time_zone() {
        // 02:00-06:00 every Sunday in Chicago (UTC-6 in winter): 08:00-12:00 UTC.
        let w = OpenWindow::parse(&window("0 2 * * Sun", 4, Some("America/Chicago"))).unwrap();
        // 2026-11-29 is a Sunday.
        assert!(!w.is_open(at("2026-11-29T07:59:00Z")));
        assert!(w.is_open(at("2026-11-29T08:00:00Z")));
        assert!(w.is_open(at("2026-11-29T11:59:00Z")));
        assert!(!w.is_open(at("2026-11-29T12:01:00Z")));
        assert!(!w.is_open(at("2026-11-30T09:00:00Z")), "Monday");
        let utc = OpenWindow::parse(&window("30 23 * * Mon-Fri", 1, None)).unwrap();
        assert!(utc.is_open(at("2026-11-30T23:45:00Z")), "Monday 23:45");
        assert!(
            utc.is_open(at("2026-12-01T00:15:00Z")),
            "open across midnight"
        );
        assert!(!utc.is_open(at("2026-11-29T23:45:00Z")), "Sunday");
    }

    #[test]
    fn bad_windows_are_named() {
        let e = parse_all(&[window("0 2 * * 0", 1, None)]).err().unwrap();
        assert!(
            e.contains("controller.windows[0]") && e.contains("by name"),
            "{e}"
        );
        assert!(OpenWindow::parse(&window("0 2 * *", 1, None)).is_err());
        assert!(OpenWindow::parse(&window("0 25 * * Sun", 1, None)).is_err());
        let e = OpenWindow::parse(&window("0 2 * * Sun", 1, Some("Mars/Olympus")))
            .err()
            .unwrap();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }
}
