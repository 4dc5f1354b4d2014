//! Shoppers at the front door: one load curve that the WAF counts, the `user` pods burn CPU on
//! and the database writes, so the panes move together the way a real mall's do.

use super::Sec;
use super::dice::Dice;
use std::f64::consts::TAU;

const KST_OFFSET: i64 = 9 * 3600;

/// Share of a `period`-second cycle that `abs` has reached, in [0, 1).
fn phase(abs: i64, period: i64) -> f64 {
    abs.rem_euclid(period) as f64 / period as f64
}

/// Requests per minute reaching the ALB at unix second `abs`, before noise: busiest in the
/// Korean evening, quietest before dawn, with a slower ripple of campaigns and app pushes.
pub(crate) fn base_rpm(abs: i64) -> f64 {
    let evening_peak = 21 * 3600;
    let day = (phase(abs + KST_OFFSET - evening_peak, 86_400) * TAU).cos();
    let ripple = (phase(abs, 1200) * TAU).sin();
    4500.0 + 1150.0 * day + 250.0 * ripple
}

/// What faults add on top of the usual: 5xx share in percent, and how far past their
/// target the pods of a saturated autoscaler run (0 when none is).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Strain {
    pub error_pct: f64,
    pub overload: f64,
}

/// How often the ALB's metrics move, in seconds.
pub(crate) const PERIOD: Sec = 10;

/// Seconds of response time each unit of overload adds: queues grow fast past saturation.
const RESP_PER_OVERLOAD: f64 = 8.0;

/// Application health as the ALB sees it: 5xx share and average response time.
#[derive(Debug, Clone)]
pub(crate) struct AppMetrics {
    dice: Dice,
    pub error_pct: f64,
    pub resp_s: f64,
}

impl AppMetrics {
    pub fn new(seed: u64) -> AppMetrics {
        AppMetrics {
            dice: Dice::new(seed, 6),
            error_pct: 0.4,
            resp_s: 0.25,
        }
    }

    /// Drift a little every ten seconds; `degraded` pods add a trickle of 5xx, `strain` more.
    pub fn tick(&mut self, t: Sec, rpm: f64, degraded: bool, strain: Strain) {
        if t.rem_euclid(PERIOD) != 0 {
            return;
        }
        let busy = ((rpm - 3000.0) / 3000.0).clamp(0.0, 1.0);
        let error_goal = 0.3 + if degraded { 0.4 } else { 0.0 } + strain.error_pct;
        let resp_goal = 0.18 + 0.12 * busy + RESP_PER_OVERLOAD * (strain.overload - 1.0).max(0.0);
        self.error_pct += 0.3 * (error_goal - self.error_pct) + 0.08 * self.dice.wobble();
        self.error_pct = self.error_pct.clamp(0.05, 100.0);
        self.resp_s += 0.3 * (resp_goal - self.resp_s) + 0.02 * self.dice.wobble();
        self.resp_s = self.resp_s.clamp(0.08, 30.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_stays_within_the_malls_usual_range() {
        for abs in (0..86_400).step_by(30) {
            let rpm = base_rpm(1_763_000_000 + abs);
            assert!((3100.0..=5900.0).contains(&rpm), "{rpm} at {abs}");
        }
        // 21:00 KST is 12:00 UTC: the evening peak is busier than the small hours.
        let noon_utc = 1_763_000_000 - 1_763_000_000 % 86_400 + 12 * 3600;
        assert!(base_rpm(noon_utc) > base_rpm(noon_utc + 7 * 3600) + 1000.0);
    }

    #[test]
    fn app_metrics_stay_healthy_at_baseline() {
        let mut app = AppMetrics::new(3);
        for t in 0..86_400 {
            app.tick(t, base_rpm(t), t % 3 == 0, Strain::default());
            assert!(app.error_pct < 5.0 && app.resp_s < 3.0);
        }
    }
}
