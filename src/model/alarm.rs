//! Alarms from CloudWatch and alerts from Alertmanager, in one list.

use super::Level;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlarmSnapshot {
    pub alarms: Vec<Alarm>,
    /// One line per live source (a CloudWatch region, an Alertmanager); none in drills.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceStatus>,
}

/// How one live source of alarms is doing, so one region or one Alertmanager failing never
/// hides what the others report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceStatus {
    /// `cloudwatch ap-northeast-2`, `alertmanager prod-kr`.
    pub name: String,
    pub alarms: usize,
    /// Why its alarms are missing or old; `None` when its last poll answered.
    pub problem: Option<String>,
    /// When it last answered.
    pub last_ok: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum AlarmSource {
    #[default]
    CloudWatch,
    Alertmanager,
}

impl AlarmSource {
    pub fn word(self) -> &'static str {
        match self {
            AlarmSource::CloudWatch => "cloudwatch",
            AlarmSource::Alertmanager => "alertmanager",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    #[default]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// `critical`, `page`, `P1`, `warning`, `info`…: the words alert rules and tags use.
    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "critical" | "crit" | "page" | "high" | "p1" | "sev1" | "error" => {
                Some(Severity::Critical)
            }
            "warning" | "warn" | "medium" | "p2" | "p3" | "sev2" | "sev3" => {
                Some(Severity::Warning)
            }
            "info" | "low" | "none" | "p4" | "p5" | "notice" => Some(Severity::Info),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Alarm {
    pub source: AlarmSource,
    pub name: String,
    pub state: AlarmState,
    pub severity: Severity,
    pub reason: String,
    /// CloudWatch: the last state change; Alertmanager: when it started firing.
    pub since: Timestamp,
    /// The CloudWatch region, or the Alertmanager(s) that reported it; empty in drills.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub origin: String,
    /// Stable across polls: the CloudWatch alarm ARN, the Alertmanager fingerprint; empty
    /// means the name is the identity (drills).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Alertmanager labels; CloudWatch tags.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Alertmanager annotations (summary, description, runbook_url).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Alertmanager: the silences that hold it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub silenced_by: Vec<String>,
    /// Alertmanager: the alerts that inhibit it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibited_by: Vec<String>,
    /// CloudWatch: whether its actions (notifications, scaling) are enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    /// What the detail view lists: metric and dimensions, threshold, reason data, rule,
    /// generator URL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<(&'static str, String)>,
}

impl Alarm {
    pub fn level(&self) -> Level {
        match (self.state, self.severity) {
            _ if self.muted() => Level::Ok,
            (AlarmState::Alarm, Severity::Critical) => Level::Crit,
            (AlarmState::Alarm, _) | (AlarmState::InsufficientData, _) => Level::Warn,
            (AlarmState::Ok, _) => Level::Ok,
        }
    }

    /// Silenced or inhibited: still listed, but someone is on it or something bigger fires.
    pub fn muted(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty()
    }

    pub fn key(&self) -> &str {
        if self.key.is_empty() {
            &self.name
        } else {
            &self.key
        }
    }

    /// `ALARM`, or what holds it: `SILENCED`, `INHIBITED`.
    pub fn state_word(&self) -> &'static str {
        match self.state {
            AlarmState::Alarm if !self.silenced_by.is_empty() => "SILENCED",
            AlarmState::Alarm if !self.inhibited_by.is_empty() => "INHIBITED",
            s => s.word(),
        }
    }

    /// Firing and nobody on it, firing but muted, then the rest.
    fn urgency(&self) -> u8 {
        match self.state {
            AlarmState::Alarm if !self.muted() => 2,
            AlarmState::Alarm => 1,
            _ => 0,
        }
    }

    /// `/` on the alarm pane: `key=value` matches a label (the value as a substring),
    /// anything else the name, reason, origin, source or any label value.
    pub fn matches(&self, needle_lower: &str) -> bool {
        let has = |text: &str| text.to_lowercase().contains(needle_lower);
        if let Some((k, v)) = needle_lower.split_once('=') {
            let k = k.trim();
            return self
                .labels
                .iter()
                .any(|(lk, lv)| lk.to_lowercase() == k && lv.to_lowercase().contains(v.trim()));
        }
        has(&self.name)
            || has(&self.reason)
            || has(&self.origin)
            || has(self.source.word())
            || has(self.state_word())
            || self.labels.values().any(|v| has(v))
    }
}

impl AlarmSnapshot {
    /// Firing (and not muted) before quiet, then by severity, then the oldest first: the one that has been
    /// burning longest is the one to look at.
    pub fn sort(&mut self) {
        self.alarms.sort_by(|a, b| {
            b.urgency()
                .cmp(&a.urgency())
                .then(b.severity.cmp(&a.severity))
                .then(a.since.cmp(&b.since))
                .then(a.name.cmp(&b.name))
        });
    }

    /// Firing and not silenced or inhibited.
    pub fn firing(&self) -> impl Iterator<Item = &Alarm> {
        self.alarms
            .iter()
            .filter(|a| a.state == AlarmState::Alarm && !a.muted())
    }
}

/// A label matcher of a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match (self.is_equal, self.is_regex) {
            (true, false) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (false, true) => "!~",
        };
        write!(f, "{}{op}\"{}\"", self.name, self.value)
    }
}

/// `alertname="X" service=~"api|web"`: the matchers a silence form shows and reads back.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(['=', '!'])
            .ok_or_else(|| format!("`{rest}`: a matcher is name=\"value\""))?;
        let name = rest[..name_end].trim().trim_start_matches(',').trim();
        let after = &rest[name_end..];
        let (op, after) = ["=~", "!~", "!=", "="]
            .iter()
            .find_map(|op| after.strip_prefix(op).map(|a| (*op, a)))
            .ok_or_else(|| format!("`{rest}`: expected =, !=, =~ or !~ after {name}"))?;
        let after = after.trim_start();
        let (value, tail) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("`{rest}`: unclosed quote"))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => {
                let end = after.find([' ', ',']).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{name}` is not a label name"));
        }
        out.push(Matcher {
            name: name.to_string(),
            value: value.to_string(),
            is_regex: op.contains('~'),
            is_equal: !op.starts_with('!'),
        });
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    if out.is_empty() {
        return Err("a silence needs at least one matcher".into());
    }
    Ok(out)
}

impl Alarm {
    /// The matchers a silence of this alert starts from: every label, exactly.
    pub fn silence_matchers(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| {
                Matcher {
                    name: k.clone(),
                    value: v.clone(),
                    is_regex: false,
                    is_equal: true,
                }
                .to_string()
            })
            .collect::<Vec<_>>()
            .join(" ")
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
            ..Alarm::default()
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
            ..AlarmSnapshot::default()
        };
        snap.sort();
        let names: Vec<_> = snap.alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["crit-old", "crit-new", "warn-old", "warn-new", "quiet"]
        );
    }

    #[test]
    fn a_silenced_alert_sorts_after_the_unattended_ones_and_is_not_trouble() {
        let mut silenced = alarm("silenced", AlarmState::Alarm, Severity::Critical, 1);
        silenced.silenced_by = vec!["9d5a".into()];
        let mut snap = AlarmSnapshot {
            alarms: vec![
                silenced,
                alarm("quiet", AlarmState::Ok, Severity::Critical, 1),
                alarm("warn", AlarmState::Alarm, Severity::Warning, 50),
            ],
            ..AlarmSnapshot::default()
        };
        snap.sort();
        let names: Vec<_> = snap.alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["warn", "silenced", "quiet"]);
        assert_eq!(snap.alarms[1].level(), Level::Ok);
        assert_eq!(snap.alarms[1].state_word(), "SILENCED");
        assert_eq!(snap.firing().count(), 1);
    }

    #[test]
    fn filter_by_label_or_text() {
        let mut a = alarm("HighErrorRate", AlarmState::Alarm, Severity::Critical, 1);
        a.labels = BTreeMap::from([
            ("service".to_string(), "checkout-api".to_string()),
            ("team".to_string(), "payments".to_string()),
        ]);
        assert!(a.matches("service=checkout"));
        assert!(a.matches("team = pay"));
        assert!(!a.matches("service=search"));
        assert!(!a.matches("cluster=checkout"));
        assert!(a.matches("payments"));
        assert!(a.matches("errorrate"));
        assert!(!a.matches("latency"));
    }

    #[test]
    fn severity_words_from_tags_and_labels() {
        assert_eq!(Severity::parse("Critical"), Some(Severity::Critical));
        assert_eq!(Severity::parse("page"), Some(Severity::Critical));
        assert_eq!(Severity::parse("warning"), Some(Severity::Warning));
        assert_eq!(Severity::parse("info"), Some(Severity::Info));
        assert_eq!(Severity::parse("whatever"), None);
    }
    #[test]
    fn matchers_read_back_what_they_print() {
        let m =
            parse_matchers(r#"alertname="HighErrorRate" service=~"api|web", env!="dev""#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            m.iter()
                .map(Matcher::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            r#"alertname="HighErrorRate" service=~"api|web" env!="dev""#
        );
        assert_eq!(parse_matchers("job=node").unwrap()[0].value, "node");
        assert!(parse_matchers("").is_err());
        assert!(parse_matchers("service").is_err());
        assert!(parse_matchers(r#"a="unclosed"#).is_err());
    }

    #[test]
    fn a_silence_matches_every_label_by_default() {
        let alarm = Alarm {
            labels: BTreeMap::from([
                ("alertname".to_string(), "HighErrorRate".to_string()),
                ("service".to_string(), "api".to_string()),
            ]),
            ..Alarm::default()
        };
        let text = alarm.silence_matchers();
        assert_eq!(text, r#"alertname="HighErrorRate" service="api""#);
        assert_eq!(parse_matchers(&text).unwrap().len(), 2);
    }
}
