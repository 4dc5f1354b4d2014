//! The recovery SLA: recognised-at plus the contractual length, on the wall clock (never
//! process uptime), so a restarted console shows the same deadline. Time is injected.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where "now" comes from: the system clock live, the simulated clock in a drill.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// [CIR-CLOUD-002]: recover within the SLA of recognition, warn as the deadline nears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaPolicy {
    pub length: SignedDuration,
    /// Time left at which the clock turns to WARN (and the breach notice is prompted at the
    /// last of them).
    pub warn_at: Vec<SignedDuration>,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            length: SignedDuration::from_hours(2),
            warn_at: vec![SignedDuration::from_mins(60), SignedDuration::from_mins(30)],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Stage {
    Ok,
    Warn,
    Breached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaStatus {
    pub deadline: Timestamp,
    /// Negative once breached.
    pub remaining: SignedDuration,
    pub stage: Stage,
    /// Index of the latest warning checkpoint passed, if any.
    pub checkpoint: Option<usize>,
}

impl SlaPolicy {
    pub fn deadline(&self, recognised_at: Timestamp) -> Timestamp {
        recognised_at
            .saturating_add(self.length)
            .unwrap_or(recognised_at)
    }

    pub fn status(&self, recognised_at: Timestamp, now: Timestamp) -> SlaStatus {
        let deadline = self.deadline(recognised_at);
        let remaining = deadline.duration_since(now);
        let mut sorted: Vec<SignedDuration> = self.warn_at.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        let checkpoint = sorted.iter().rposition(|w| remaining <= *w);
        let stage = if remaining.is_negative() || remaining.is_zero() {
            Stage::Breached
        } else if checkpoint.is_some() {
            Stage::Warn
        } else {
            Stage::Ok
        };
        SlaStatus {
            deadline,
            remaining,
            stage,
            checkpoint,
        }
    }
}

/// `1:23:45`, always with hours, so the width does not jump as the clock runs.
pub fn hms(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

impl SlaStatus {
    /// `SLA OK 1:50:00 left`, or the same words for another countdown (`RTO …`).
    pub fn describe(&self, name: &str) -> String {
        match self.stage {
            Stage::Ok => format!("{name} OK {} left", hms(self.remaining)),
            Stage::Warn => format!("{name} WARN {} left", hms(self.remaining)),
            Stage::Breached => format!("{name} BREACHED +{}", hms(self.remaining)),
        }
    }
}

impl fmt::Display for SlaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("SLA"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(mins: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + mins * 60).unwrap()
    }

    #[test]
    fn stages_follow_the_checkpoints() {
        let policy = SlaPolicy::default();
        let start = at(0);
        let s = policy.status(start, at(10));
        assert_eq!(
            (s.stage, s.to_string()),
            (Stage::Ok, "SLA OK 1:50:00 left".into())
        );
        assert_eq!(policy.status(start, at(60)).stage, Stage::Warn);
        assert_eq!(policy.status(start, at(60)).checkpoint, Some(0));
        assert_eq!(policy.status(start, at(95)).checkpoint, Some(1));
        let late = policy.status(start, at(132));
        assert_eq!(
            (late.stage, late.to_string()),
            (Stage::Breached, "SLA BREACHED +0:12:00".into())
        );
        assert_eq!(
            policy.status(start, at(120)).stage,
            Stage::Breached,
            "at the deadline it is breached"
        );
    }

    #[test]
    fn the_deadline_is_wall_clock_and_configurable() {
        let policy = SlaPolicy {
            length: SignedDuration::from_mins(30),
            warn_at: vec![SignedDuration::from_mins(10)],
        };
        assert_eq!(policy.deadline(at(5)), at(35));
        assert_eq!(policy.status(at(5), at(26)).stage, Stage::Warn);
    }
}
