//! The G.hn link of a simulated CPE: what its PHY rates are for its medium and cable, and how
//! much of it the subscriber uses at a time of day. Pure functions, so a lab seeded the same
//! way serves the same links, and tests can say what a link should read.
//!
//! The model (the lab's choice; Positron publishes no rate-versus-reach curve):
//! - **coax** carries about 1,900 Mbps, losing 1.2 Mbps a metre (the real walk's CPE reads
//!   1805/1744 Mbps); the GAM reports no wire length on coax (0), so the cable is kept hidden;
//! - **copper MIMO** falls off exponentially, 1,700 Mbps at the GAM to about 900 at 250 m;
//!   **SISO** carries 55 % of MIMO;
//! - upstream is 96.5 % of downstream (the walk's ratio); each direction gets its own seeded
//!   noise of up to ±3 %;
//! - usage follows a residential daily curve (quiet at 4:00, busiest at 21:00) scaled by the
//!   CPE's own peak share of its maximum throughput.

use super::state::PortMode;
use crate::lab::seed::Rng;

/// Downstream and upstream PHY rates (Mbps) of a link over `cable_m` metres in `mode`, with the
/// noise drawn from `rng`.
pub fn phy_rates(mode: PortMode, cable_m: u32, rng: &mut Rng) -> (u32, u32) {
    let l = f64::from(cable_m);
    let rx = match mode {
        PortMode::Coax => 1900.0 - 1.2 * l,
        PortMode::Mimo => 1700.0 * (-l / 400.0).exp(),
        PortMode::Siso => 0.55 * 1700.0 * (-l / 400.0).exp(),
    };
    let tx = rx * 0.965;
    (noisy(rx, rng), noisy(tx, rng))
}

/// `mbps` with up to ±3 % of noise, at least 10 Mbps.
fn noisy(mbps: f64, rng: &mut Rng) -> u32 {
    // A draw in 0..=600 is a factor 0.97..=1.03.
    #[allow(clippy::cast_precision_loss)]
    let factor = 0.97 + rng.range(0, 600) as f64 / 10_000.0;
    round_mbps(mbps * factor).max(10)
}

fn round_mbps(v: f64) -> u32 {
    if v.is_finite() && v > 0.0 {
        // Rates stay far below u32::MAX.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = v.round() as u32;
        n
    } else {
        0
    }
}

/// The share of the busiest hour's traffic at each hour of the day (index = hour, UTC).
const DAILY: [f64; 24] = [
    0.45, 0.30, 0.20, 0.14, 0.12, 0.13, 0.18, 0.28, 0.35, 0.38, 0.40, 0.42, 0.45, 0.46, 0.48, 0.52,
    0.58, 0.66, 0.76, 0.86, 0.95, 1.00, 0.88, 0.65,
];

/// The daily curve at `second_of_day` (0..86400), interpolated between the hours.
pub fn daily_curve(second_of_day: u64) -> f64 {
    let s = second_of_day % 86_400;
    let hour = usize::try_from(s / 3600).unwrap_or(0) % 24;
    #[allow(clippy::cast_precision_loss)]
    let within = (s % 3600) as f64 / 3600.0;
    let (a, b) = (DAILY[hour], DAILY[(hour + 1) % 24]);
    a + (b - a) * within
}

/// What a CPE whose busiest hour uses `peak_percent` of `max_xput_mbps` uses at `second_of_day`.
pub fn usage(max_xput_mbps: u32, peak_percent: u8, second_of_day: u64) -> u32 {
    let peak = f64::from(max_xput_mbps) * f64::from(peak_percent.min(100)) / 100.0;
    round_mbps(peak * daily_curve(second_of_day))
}

/// Seconds since midnight UTC now.
pub fn second_of_day_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() % 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_fall_with_the_cable_and_depend_on_the_medium() {
        let mut rng = Rng::new(7, "link");
        let (coax_rx, coax_tx) = phy_rates(PortMode::Coax, 80, &mut rng);
        assert!((1750..=1900).contains(&coax_rx), "{coax_rx}");
        assert!(coax_tx < coax_rx + 60, "{coax_tx}");
        let near = phy_rates(PortMode::Mimo, 10, &mut rng).0;
        let far = phy_rates(PortMode::Mimo, 250, &mut rng).0;
        assert!((1600..=1720).contains(&near), "{near}");
        assert!((850..=950).contains(&far), "{far}");
        let siso = phy_rates(PortMode::Siso, 10, &mut rng).0;
        assert!(siso < near * 6 / 10, "{siso}");
        // Seeded: the same draws give the same link.
        assert_eq!(
            phy_rates(PortMode::Mimo, 120, &mut Rng::new(1, "a")),
            phy_rates(PortMode::Mimo, 120, &mut Rng::new(1, "a"))
        );
    }

    #[test]
    fn usage_follows_the_day() {
        assert_eq!(usage(1000, 50, 21 * 3600), 500);
        assert_eq!(usage(1000, 50, 4 * 3600), 60);
        assert!(usage(1000, 50, 4 * 3600 + 1800) > 60);
        assert_eq!(usage(1000, 0, 21 * 3600), 0);
        assert_eq!(usage(1000, 250, 21 * 3600), 1000);
        assert!((daily_curve(86_399) - DAILY[0]).abs() < 0.01);
    }
}
