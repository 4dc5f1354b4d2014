//! Alarms from CloudWatch and alerts from Alertmanager, in one list.

use super::Level;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlarmSnapshot {
    pub alarms: Vec<Alarm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AlarmSource {
    CloudWatch,
    Alertmanager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn word(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "NODATA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub source: AlarmSource,
    pub name: String,
    pub state: AlarmState,
    pub severity: Severity,
    pub reason: String,
    pub since: Timestamp,
}

impl Alarm {
    pub fn level(&self) -> Level {
        match (self.state, self.severity) {
            (AlarmState::Alarm, Severity::Critical) => Level::Crit,
            (AlarmState::Alarm, _) | (AlarmState::InsufficientData, _) => Level::Warn,
            (AlarmState::Ok, _) => Level::Ok,
        }
    }
}

impl AlarmSnapshot {
    /// Firing before quiet, then by severity, then the oldest first: the one that has been
    /// burning longest is the one to look at.
    pub fn sort(&mut self) {
        self.alarms.sort_by(|a, b| {
            b.level()
                .cmp(&a.level())
                .then(b.severity.cmp(&a.severity))
                .then(a.since.cmp(&b.since))
                .then(a.name.cmp(&b.name))
        });
    }

    pub fn firing(&self) -> impl Iterator<Item = &Alarm> {
        self.alarms.iter().filter(|a| a.state == AlarmState::Alarm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(name: &str, state: AlarmState, severity: Severity, since: i64) -> Alarm {
        Alarm {
            source: AlarmSource::CloudWatch,
            name: name.into(),
            state,
            severity,
            reason: String::new(),
            since: Timestamp::from_second(since).unwrap(),
        }
    }

    #[test]
    fn sorted_by_severity_then_age() {
        let mut snap = AlarmSnapshot {
            alarms: vec![
                alarm("quiet", AlarmState::Ok, Severity::Critical, 1),
                alarm("warn-new", AlarmState::Alarm, Severity::Warning, 50),
                alarm("crit-new", AlarmState::Alarm, Severity::Critical, 40),
                alarm("crit-old", AlarmState::Alarm, Severity::Critical, 10),
                alarm("warn-old", AlarmState::Alarm, Severity::Warning, 5),
            ],
        };
        snap.sort();
        let names: Vec<_> = snap.alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["crit-old", "crit-new", "warn-old", "warn-new", "quiet"]
        );
    }
}
