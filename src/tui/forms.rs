//! Small forms for what the journal needs from a person: opening an incident, a breach
//! notice, resolving, a note, a playbook's inputs, or an answer to a running playbook.

use super::effects::Effect;
use crate::incident::desk::NewIncident;
use crate::incident::event::{Event, Severity};
use crate::playbook::run::Answer;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use jiff::{SignedDuration, Timestamp};
use ratatui_textarea::TextArea;

#[derive(Debug, Clone, PartialEq)]
pub enum FormKind {
    NewIncident {
        alarm: Option<String>,
        detected_at: Option<Timestamp>,
    },
    Notice,
    Resolve,
    Note,
    Inputs {
        playbook: String,
        dry_run: bool,
        start: usize,
    },
    Answer,
    /// A silence of a live Alertmanager alert: matchers, duration, comment.
    Silence {
        alarm: Box<crate::model::alarm::Alarm>,
    },
}

pub struct Field {
    pub label: String,
    pub hint: String,
    pub text: TextArea<'static>,
}

pub struct Form {
    pub kind: FormKind,
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
}

/// What a key did to the form.
pub enum Outcome {
    Open,
    Cancel,
    Submit(Effect),
}

fn field(label: &str, hint: &str, value: &str) -> Field {
    let mut text = TextArea::default();
    text.set_cursor_line_style(ratatui::style::Style::default());
    text.insert_str(value);
    Field {
        label: label.into(),
        hint: hint.into(),
        text,
    }
}

impl Form {
    pub fn new(
        kind: FormKind,
        title: impl Into<String>,
        fields: Vec<(&str, &str, String)>,
    ) -> Form {
        Form {
            kind,
            title: title.into(),
            fields: fields
                .into_iter()
                .map(|(l, h, v)| field(l, h, &v))
                .collect(),
            focus: 0,
            error: None,
        }
    }

    pub fn new_incident(alarm: Option<(String, Timestamp, Severity)>) -> Form {
        let (title, severity, detected_at, name) = match alarm {
            Some((name, since, sev)) => (name.clone(), sev, Some(since), Some(name)),
            None => (String::new(), Severity::Sev2, None, None),
        };
        Form::new(
            FormKind::NewIncident {
                alarm: name,
                detected_at,
            },
            "open incident",
            vec![
                ("Title", "what is broken, for whom", title),
                (
                    "Severity",
                    "sev1 (down, 15 min) · sev2 (degraded, 1 h) · sev3 (minor, 24 h)",
                    severity.name().to_lowercase(),
                ),
                (
                    "Recognised",
                    "empty = now; or HH:MM UTC, -20m, or RFC 3339 if earlier",
                    String::new(),
                ),
                (
                    "Reason",
                    "why recognition is dated earlier (journaled)",
                    String::new(),
                ),
            ],
        )
    }

    pub fn notice() -> Form {
        Form::new(
            FormKind::Notice,
            "breach notice: the SLA will not be met",
            vec![
                ("Reason", "why recovery takes longer", String::new()),
                ("Plan", "what is being done", String::new()),
                (
                    "ETA",
                    "expected completion: HH:MM UTC, +90m, or RFC 3339",
                    String::new(),
                ),
            ],
        )
    }

    pub fn resolve() -> Form {
        Form::new(
            FormKind::Resolve,
            "resolve incident",
            vec![
                ("Cause", "what caused it", String::new()),
                ("Impact", "who was affected and how", String::new()),
                (
                    "Prevention",
                    "what stops it happening again (required)",
                    String::new(),
                ),
            ],
        )
    }

    pub fn note() -> Form {
        Form::new(
            FormKind::Note,
            "note for the timeline",
            vec![("Note", "", String::new())],
        )
    }

    pub fn answer(question: &str, hint: &str) -> Form {
        Form::new(
            FormKind::Answer,
            question,
            vec![("Answer", hint, String::new())],
        )
    }

    pub fn silence(alarm: &crate::model::alarm::Alarm, matchers: String) -> Form {
        Form::new(
            FormKind::Silence {
                alarm: Box::new(alarm.clone()),
            },
            format!("silence {} on {}", alarm.name, alarm.origin),
            vec![
                (
                    "Matchers",
                    "name=\"value\" (=, !=, =~, !~), space-separated",
                    matchers,
                ),
                ("Duration", "2h, 30m, 1d", "2h".into()),
                ("Comment", "why, and who is on it (required)", String::new()),
            ],
        )
    }

    pub fn value(&self, i: usize) -> String {
        self.fields
            .get(i)
            .map(|f| f.text.lines().join(" ").trim().to_string())
            .unwrap_or_default()
    }

    pub fn key(&mut self, ev: KeyEvent, now: Timestamp) -> Outcome {
        match ev.code {
            KeyCode::Esc => return Outcome::Cancel,
            KeyCode::Tab | KeyCode::Down => {
                self.focus = (self.focus + 1) % self.fields.len().max(1)
            }
            KeyCode::BackTab | KeyCode::Up => {
                self.focus = (self.focus + self.fields.len().max(1) - 1) % self.fields.len().max(1);
            }
            KeyCode::Enter if self.focus + 1 < self.fields.len() => self.focus += 1,
            KeyCode::Enter => match self.submit(now) {
                Ok(effect) => return Outcome::Submit(effect),
                Err(e) => self.error = Some(e),
            },
            _ if ev.modifiers.contains(KeyModifiers::CONTROL) && ev.code == KeyCode::Char('s') => {
                match self.submit(now) {
                    Ok(effect) => return Outcome::Submit(effect),
                    Err(e) => self.error = Some(e),
                }
            }
            _ => {
                if let Some(f) = self.fields.get_mut(self.focus) {
                    f.text.input(ev);
                }
            }
        }
        Outcome::Open
    }

    fn submit(&self, now: Timestamp) -> Result<Effect, String> {
        let v = |i| self.value(i);
        match &self.kind {
            FormKind::NewIncident { alarm, detected_at } => {
                if v(0).is_empty() {
                    return Err("a title is needed".into());
                }
                let severity = Severity::parse(&v(1)).ok_or("severity is sev1, sev2 or sev3")?;
                let recognised = when(&v(2), now)?.map(|t| (t, v(3)));
                Ok(Effect::OpenIncident(NewIncident {
                    title: v(0),
                    severity,
                    alarm: alarm.clone(),
                    detected_at: *detected_at,
                    recognised,
                    drill: None,
                }))
            }
            FormKind::Notice => {
                if v(0).is_empty() || v(1).is_empty() {
                    return Err("the customer must be told the reason and the plan".into());
                }
                let eta = when(&v(2), now)?.ok_or("the expected completion time is needed")?;
                if eta <= now {
                    return Err("the expected completion time is in the past".into());
                }
                Ok(Effect::Notice {
                    reason: v(0),
                    plan: v(1),
                    eta,
                })
            }
            FormKind::Resolve => {
                if v(2).is_empty() {
                    return Err("prevention measures are required for the report".into());
                }
                Ok(Effect::Resolve {
                    cause: v(0),
                    impact: v(1),
                    prevention: v(2),
                })
            }
            FormKind::Silence { alarm } => {
                let minutes = v(1)
                    .parse::<SignedDuration>()
                    .ok()
                    .filter(|d| d.is_positive())
                    .map(|d| d.as_mins())
                    .and_then(|m| u32::try_from(m.max(1)).ok())
                    .ok_or_else(|| format!("`{}` is not a duration like 2h or 30m", v(1)))?;
                if v(2).is_empty() {
                    return Err("a silence needs a comment: why, and who is on it".into());
                }
                crate::model::alarm::parse_matchers(&v(0))?;
                Ok(Effect::AlarmChange(crate::sources::AlarmChange::Silence {
                    alarm: alarm.clone(),
                    matchers: v(0),
                    minutes,
                    comment: v(2),
                }))
            }
            FormKind::Note => match v(0) {
                t if t.is_empty() => Err("empty note".into()),
                t => Ok(Effect::Record(Event::Note { text: t })),
            },
            FormKind::Inputs {
                playbook,
                dry_run,
                start,
            } => {
                let inputs = self
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.label.clone(), v(i)))
                    .filter(|(_, x)| !x.is_empty())
                    .collect();
                Ok(if *dry_run {
                    Effect::DryRun {
                        playbook: playbook.clone(),
                        inputs,
                    }
                } else {
                    Effect::Run {
                        playbook: playbook.clone(),
                        inputs,
                        start: *start,
                    }
                })
            }
            FormKind::Answer => Ok(Effect::Answer(Answer::Text(v(0)))),
        }
    }
}

/// `HH:MM` (UTC, today), `+90m` / `-20m` (from now), or an RFC 3339 instant; empty is none.
pub fn when(text: &str, now: Timestamp) -> Result<Option<Timestamp>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || format!("`{text}` is not HH:MM, +90m, -20m or an RFC 3339 time");
    for (sign, rest) in [(1, text.strip_prefix('+')), (-1, text.strip_prefix('-'))] {
        if let Some(d) = rest.and_then(|r| r.parse::<SignedDuration>().ok()) {
            return now
                .checked_add(if sign < 0 { -d } else { d })
                .map(Some)
                .map_err(|_| bad());
        }
    }
    if let Some((h, m)) = text.split_once(':')
        && let (Ok(h), Ok(m)) = (h.parse::<i8>(), m.parse::<i8>())
    {
        let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let t = day
            .at(h, m, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?;
        return Ok(Some(t.timestamp()));
    }
    text.parse::<Timestamp>().map(Some).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-22T03:00:00Z".parse().unwrap()
    }

    #[test]
    fn times_people_type() {
        assert_eq!(when("", now()), Ok(None));
        assert_eq!(
            when("+90m", now()),
            Ok(Some("2026-11-22T04:30:00Z".parse().unwrap()))
        );
        assert_eq!(
            when("-20m", now()),
            Ok(Some("2026-11-22T02:40:00Z".parse().unwrap()))
        );
        assert_eq!(
            when("05:15", now()),
            Ok(Some("2026-11-22T05:15:00Z".parse().unwrap()))
        );
        assert_eq!(
            when("2026-11-22T06:00:00Z", now()),
            Ok(Some("2026-11-22T06:00:00Z".parse().unwrap()))
        );
        assert_eq!(
            when("soon", now()).unwrap_err(),
            "`soon` is not HH:MM, +90m, -20m or an RFC 3339 time"
        );
    }

    fn typed(form: &mut Form, text: &str) {
        for c in text.chars() {
            form.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), now());
        }
    }

    fn enter(form: &mut Form) -> Outcome {
        form.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), now())
    }

    #[test]
    fn a_notice_needs_reason_plan_and_a_future_eta() {
        let mut f = Form::notice();
        typed(&mut f, "EBS restore is slow");
        enter(&mut f);
        typed(&mut f, "restore snapshot to a new volume");
        enter(&mut f);
        typed(&mut f, "-5m");
        assert!(matches!(enter(&mut f), Outcome::Open));
        assert_eq!(
            f.error.as_deref(),
            Some("the expected completion time is in the past")
        );
        for _ in 0..3 {
            f.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE), now());
        }
        typed(&mut f, "+2h");
        match enter(&mut f) {
            Outcome::Submit(Effect::Notice { reason, eta, .. }) => {
                assert_eq!(reason, "EBS restore is slow");
                assert_eq!(eta, "2026-11-22T05:00:00Z".parse().unwrap());
            }
            _ => panic!("not submitted: {:?}", f.error),
        }
    }

    #[test]
    fn resolving_requires_prevention() {
        let mut f = Form::resolve();
        enter(&mut f);
        enter(&mut f);
        assert!(matches!(enter(&mut f), Outcome::Open));
        assert_eq!(
            f.error.as_deref(),
            Some("prevention measures are required for the report")
        );
        typed(&mut f, "alarm on replica IO errors");
        assert!(matches!(
            enter(&mut f),
            Outcome::Submit(Effect::Resolve { .. })
        ));
    }

    #[test]
    fn an_incident_from_an_alarm_is_prefilled() {
        let since: Timestamp = "2026-11-22T02:55:00Z".parse().unwrap();
        let mut f = Form::new_incident(Some(("MariaDBPrimaryDown".into(), since, Severity::Sev1)));
        match enter(&mut f) {
            Outcome::Open => {}
            _ => panic!("Enter moves to the next field first"),
        }
        enter(&mut f);
        enter(&mut f);
        match enter(&mut f) {
            Outcome::Submit(Effect::OpenIncident(n)) => {
                assert_eq!(
                    (n.title.as_str(), n.severity, n.detected_at),
                    ("MariaDBPrimaryDown", Severity::Sev1, Some(since))
                );
                assert_eq!(n.alarm.as_deref(), Some("MariaDBPrimaryDown"));
                assert!(n.recognised.is_none());
            }
            _ => panic!("{:?}", f.error),
        }
    }
}
