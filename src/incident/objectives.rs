//! The customers' recovery objectives per service: the recovery time (RTO) that runs next to
//! the SLA clock, and the monthly availability budget that incidents spend.

use super::clock::{SlaPolicy, SlaStatus};
use super::event::Severity;
use super::state::Incident;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// One service the customers' documents set numbers for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    /// Percent, e.g. 99.9.
    pub availability: Option<f64>,
    pub rto: Option<SignedDuration>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Services {
    pub list: Vec<Service>,
    /// Only incidents of these severities spend the availability budget.
    pub severities: Vec<Severity>,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            list: vec![],
            severities: vec![Severity::Sev1, Severity::Sev2],
        }
    }
}

/// A countdown shown with the incident: the SLA or a service's RTO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Countdown {
    pub name: &'static str,
    pub status: SlaStatus,
}

impl std::fmt::Display for Countdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.status.describe(self.name))
    }
}

impl Services {
    pub fn find(&self, name: &str) -> Option<&Service> {
        self.list.iter().find(|s| s.name == name)
    }

    /// Why `name` cannot tag an incident, if it cannot.
    pub fn check(&self, name: &str) -> Result<&Service, String> {
        self.find(name).ok_or_else(|| {
            let known: Vec<&str> = self.list.iter().map(|s| s.name.as_str()).collect();
            if known.is_empty() {
                format!("unknown service `{name}`: no [[services]] are configured")
            } else {
                format!("unknown service `{name}` (known: {})", known.join(", "))
            }
        })
    }

    fn of(&self, inc: &Incident) -> Option<&Service> {
        inc.service.as_deref().and_then(|s| self.find(s))
    }

    /// The SLA and, for a service with one, its RTO; the one that runs out first comes first.
    pub fn countdowns(&self, sla: &SlaPolicy, inc: &Incident, now: Timestamp) -> Vec<Countdown> {
        let mut out = vec![Countdown {
            name: "SLA",
            status: sla.status(inc.recognised_at, now),
        }];
        if let Some(rto) = self.of(inc).and_then(|s| s.rto) {
            out.push(Countdown {
                name: "RTO",
                status: rto_policy(rto).status(inc.recognised_at, now),
            });
        }
        out.sort_by_key(|c| c.status.deadline);
        out
    }

    /// The RTO of the incident's service and whether recovery came within it.
    pub fn rto_met(
        &self,
        inc: &Incident,
    ) -> Option<(SignedDuration, Option<(bool, SignedDuration)>)> {
        let rto = self.of(inc)?.rto?;
        let met = super::report::sla_met(inc, &rto_policy(rto));
        Some((rto, met))
    }

    /// What this incident alone spent of its service's monthly budget, if it counts.
    pub fn spent_by(&self, inc: &Incident, now: Timestamp) -> Option<Spend> {
        let service = self.of(inc)?;
        let availability = service.availability?;
        let outage = self.outage(inc, now)?;
        Some(Spend {
            service: service.name.clone(),
            availability,
            allowance: allowance(availability),
            used: outage.1.duration_since(outage.0),
        })
    }

    /// The span an incident counts as downtime: recognised until recovered (or until `now`
    /// while it lasts), for a budgeted severity.
    fn outage(&self, inc: &Incident, now: Timestamp) -> Option<(Timestamp, Timestamp)> {
        if !self.severities.contains(&inc.severity) {
            return None;
        }
        let end = super::report::recovered_at(inc)
            .unwrap_or(now)
            .max(inc.recognised_at);
        Some((inc.recognised_at, end))
    }

    /// Every budgeted service's downtime in the calendar month (UTC) of `now`. Overlapping
    /// incidents of one service count once; an incident across the month boundary counts only
    /// its part inside. Drill incidents spend only a drill's budget, never the real one.
    pub fn month(&self, incidents: &[Incident], now: Timestamp, drills: bool) -> Vec<Budget> {
        let (start, end) = month_of(now);
        let end = end.min(now);
        self.list
            .iter()
            .filter_map(|s| Some((s, s.availability?)))
            .map(|(service, availability)| {
                let mut spans: Vec<(Timestamp, Timestamp)> = incidents
                    .iter()
                    .filter(|i| i.drill.is_some() == drills)
                    .filter(|i| i.service.as_deref() == Some(service.name.as_str()))
                    .filter_map(|i| self.outage(i, now))
                    .map(|(a, b)| (a.max(start), b.min(end)))
                    .filter(|(a, b)| a < b)
                    .collect();
                let incidents = spans.len();
                let used = union_length(&mut spans);
                let allowance = allowance(availability);
                Budget {
                    service: service.name.clone(),
                    availability,
                    month: start.strftime("%Y-%m").to_string(),
                    allowance,
                    used,
                    left: allowance - used,
                    incidents,
                }
            })
            .collect()
    }
}

/// The RTO warns at half time: by then an on-call engineer who is not close should escalate.
fn rto_policy(rto: SignedDuration) -> SlaPolicy {
    SlaPolicy {
        length: rto,
        warn_at: vec![rto / 2],
    }
}

/// The month the customers' documents mean: a twelfth of a Julian year (30.44 days).
pub const MONTH: SignedDuration = SignedDuration::from_secs(2_629_800);

/// Downtime allowed per month at `availability` percent, in whole seconds rounded down (the
/// documents' 43 m 49 s for 99.9 %): a budget is never shown larger than it is.
pub fn allowance(availability: f64) -> SignedDuration {
    let secs = MONTH.as_secs() as f64 * (100.0 - availability) / 100.0;
    SignedDuration::from_secs(secs.floor() as i64)
}

/// `[start, end)` of the UTC calendar month holding `t`.
pub fn month_of(t: Timestamp) -> (Timestamp, Timestamp) {
    let day = t.to_zoned(jiff::tz::TimeZone::UTC).date().first_of_month();
    let start = day.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp());
    let end = day
        .checked_add(jiff::Span::new().months(1))
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC))
        .map(|z| z.timestamp());
    match (start, end) {
        (Ok(s), Ok(e)) => (s, e),
        _ => (t, t),
    }
}

fn union_length(spans: &mut [(Timestamp, Timestamp)]) -> SignedDuration {
    spans.sort();
    let mut total = SignedDuration::ZERO;
    let mut current: Option<(Timestamp, Timestamp)> = None;
    for &(a, b) in spans.iter() {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb.duration_since(ca);
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((a, b)) = current {
        total += b.duration_since(a);
    }
    total
}

/// One service's budget this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub service: String,
    pub availability: f64,
    /// `2026-12`.
    pub month: String,
    #[serde(with = "secs")]
    pub allowance: SignedDuration,
    #[serde(with = "secs")]
    pub used: SignedDuration,
    /// Negative once overspent.
    #[serde(with = "secs")]
    pub left: SignedDuration,
    pub incidents: usize,
}

impl Budget {
    pub fn level(&self) -> crate::model::Level {
        use crate::model::Level;
        if self.left.is_negative() || self.left.is_zero() {
            Level::Crit
        } else if self.used.as_secs_f64() >= self.allowance.as_secs_f64() * 0.8 {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "budget {} {} %: {} of {} used this month · ",
            self.service,
            self.availability,
            short(self.used),
            short(self.allowance)
        )?;
        if self.left.is_negative() {
            write!(f, "OVER by {}", short(self.left))
        } else {
            write!(f, "{} left", short(self.left))
        }
    }
}

/// What one incident spent.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub service: String,
    pub availability: f64,
    pub allowance: SignedDuration,
    pub used: SignedDuration,
}

impl Spend {
    pub fn percent(&self) -> f64 {
        if self.allowance.is_zero() {
            return 100.0;
        }
        self.used.as_secs_f64() / self.allowance.as_secs_f64() * 100.0
    }
}

/// `7h 18m 18s`, `43m 49s`, `0s`: budgets read better in words than as a clock.
pub fn short(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

mod secs {
    use jiff::SignedDuration;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SignedDuration, D::Error> {
        i64::deserialize(d).map(SignedDuration::from_secs)
    }
}

#[cfg(test)]
#[path = "objectives_tests.rs"]
mod tests;
