//! An incident as the journal tells it: replaying the entries rebuilds the whole state.

use super::event::{DrillTag, Entry, Event, Milestone, Role, RunOutcome, Severity};
use jiff::Timestamp;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub alarm: Option<String>,
    /// The service tagged, if any (see `Event::Service`).
    pub service: Option<String>,
    pub detected_at: Option<Timestamp>,
    pub recognised_at: Timestamp,
    pub recognised_reason: Option<String>,
    pub opened_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub mitigated_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub recovered_at: Option<Timestamp>,
    pub drill: Option<DrillTag>,
    pub cause: Option<String>,
    pub impact: Option<String>,
    pub prevention: Option<String>,
    pub notices: Vec<Notice>,
    pub runs: Vec<Run>,
    pub overrides: usize,
    /// Who commands the incident: whoever opened it, until a handover.
    pub commander: String,
    /// Who talks to customers besides the commander.
    pub comms: Vec<String>,
    /// Incidents merged into this one.
    pub merged: Vec<String>,
    /// What checking the journal's hash chain said, when it was checked.
    pub integrity: Option<String>,
    /// Every entry, in order: the timeline.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub n: u32,
    pub at: Timestamp,
    pub reason: String,
    pub plan: String,
    pub eta: Timestamp,
    /// `Some(None)` once sent, `Some(Some(err))` after a failed attempt.
    pub last_attempt: Option<Option<String>>,
    /// Who wrote it, and when and by whom it went out: every console of a team shows it, so
    /// nobody sends it again.
    pub who: String,
    pub sent: Option<(Timestamp, String)>,
}

impl Notice {
    pub fn sent(&self) -> bool {
        matches!(self.last_attempt, Some(None))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub run: u32,
    pub playbook: String,
    pub who: String,
    /// The team console that started it, when it came through the team journal.
    pub console: Option<String>,
    pub inputs: BTreeMap<String, String>,
    pub steps: Vec<StepRecord>,
    /// When, at which step and why a guard refused the run before it changed anything.
    pub refused: Option<(Timestamp, String, String)>,
    pub outcome: Option<RunOutcome>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub step: String,
    pub detail: String,
    pub started: Timestamp,
    pub who: String,
    pub finished: Option<(bool, String)>,
}

impl Run {
    /// A run that stopped with a step half-done: the console died in the middle of it.
    pub fn interrupted_at(&self) -> Option<&StepRecord> {
        if self.outcome.is_some() {
            return None;
        }
        self.steps.iter().rev().find(|s| s.finished.is_none())
    }
}

impl Incident {
    /// Rebuilds an incident from its journal; `None` if it never was opened.
    pub fn replay(entries: &[Entry]) -> Option<Incident> {
        let mut inc = entries.iter().find_map(|e| match &e.event {
            Event::Opened {
                id,
                title,
                severity,
                detected_at,
                recognised_at,
                recognised_reason,
                alarm,
                drill,
            } => Some(Incident {
                id: id.clone(),
                title: title.clone(),
                severity: *severity,
                alarm: alarm.clone(),
                service: None,
                detected_at: *detected_at,
                recognised_at: *recognised_at,
                recognised_reason: recognised_reason.clone(),
                opened_at: e.at,
                acknowledged_at: None,
                mitigated_at: None,
                resolved_at: None,
                recovered_at: None,
                drill: drill.clone(),
                cause: None,
                impact: None,
                prevention: None,
                notices: vec![],
                runs: vec![],
                overrides: 0,
                commander: e.who.user.clone(),
                comms: vec![],
                merged: vec![],
                integrity: None,
                entries: vec![],
            }),
            _ => None,
        })?;
        for e in entries {
            inc.apply(e);
        }
        Some(inc)
    }

    /// Folds one more entry in (the console does this as it appends).
    pub fn apply(&mut self, e: &Entry) {
        match &e.event {
            Event::Opened { .. }
            | Event::Note { .. }
            | Event::Alarm { .. }
            | Event::Trail { .. }
            | Event::Backup { .. }
            | Event::AlarmChange { .. }
            | Event::Declined { .. }
            | Event::Report { .. } => {}
            Event::Service { service } => self.service = Some(service.clone()),
            Event::Milestone { milestone } => {
                let slot = match milestone {
                    Milestone::Acknowledged => &mut self.acknowledged_at,
                    Milestone::Mitigated => &mut self.mitigated_at,
                    Milestone::Resolved => &mut self.resolved_at,
                };
                slot.get_or_insert(e.at);
            }
            Event::RunStarted {
                run,
                playbook,
                inputs,
            } => self.runs.push(Run {
                run: *run,
                playbook: playbook.clone(),
                who: e.who.to_string(),
                console: e.who.console().map(str::to_string),
                inputs: inputs.clone(),
                steps: vec![],
                refused: None,
                outcome: None,
            }),
            Event::Refused { run, step, why } => {
                if let Some(r) = self.run_mut(*run) {
                    r.refused = Some((e.at, step.clone(), why.clone()));
                }
            }
            Event::StepStarted {
                run, step, detail, ..
            } => {
                if let Some(r) = self.run_mut(*run) {
                    r.steps.push(StepRecord {
                        step: step.clone(),
                        detail: detail.clone(),
                        started: e.at,
                        who: e.who.to_string(),
                        finished: None,
                    });
                }
            }
            Event::StepFinished {
                run,
                step,
                ok,
                result,
            } => {
                if let Some(s) = self.run_mut(*run).and_then(|r| {
                    r.steps
                        .iter_mut()
                        .rev()
                        .find(|s| &s.step == step && s.finished.is_none())
                }) {
                    s.finished = Some((*ok, result.clone()));
                }
            }
            Event::Override { .. } => self.overrides += 1,
            Event::RunFinished { run, outcome } => {
                if let Some(r) = self.run_mut(*run) {
                    r.outcome = Some(*outcome);
                }
            }
            Event::Notice {
                n,
                reason,
                plan,
                eta,
            } => self.notices.push(Notice {
                n: *n,
                at: e.at,
                reason: reason.clone(),
                plan: plan.clone(),
                eta: *eta,
                last_attempt: None,
                who: e.who.to_string(),
                sent: None,
            }),
            Event::NoticeSent { n, error, .. } => {
                if let Some(notice) = self.notices.iter_mut().find(|x| x.n == *n) {
                    // Once delivered by any channel, a later failure elsewhere does not undo it.
                    if !notice.sent() {
                        notice.last_attempt = Some(error.clone());
                        if error.is_none() {
                            notice.sent = Some((e.at, e.who.to_string()));
                        }
                    }
                }
            }
            Event::Recovered { .. } => {
                self.recovered_at.get_or_insert(e.at);
            }
            Event::Role {
                role: Role::Commander,
                user,
            } => {
                self.comms.retain(|c| c != user);
                self.commander = user.clone();
            }
            Event::Role {
                role: Role::Comms,
                user,
            } => {
                if !self.comms.contains(user) {
                    self.comms.push(user.clone());
                }
            }
            Event::Merged {
                from,
                recognised_at,
                ..
            } => {
                self.merged.push(from.clone());
                self.recognised_at = self.recognised_at.min(*recognised_at);
            }
            Event::Cause { text } => self.cause = Some(text.clone()),
            Event::Impact { text } => self.impact = Some(text.clone()),
            Event::Prevention { text } => self.prevention = Some(text.clone()),
        }
        self.entries.push(e.clone());
    }

    fn run_mut(&mut self, run: u32) -> Option<&mut Run> {
        self.runs.iter_mut().find(|r| r.run == run)
    }

    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// Milestones stay in time order: detected ≤ recognised, detected ≤ acknowledged ≤
    /// mitigated ≤ resolved. Returns why `m` at `at` would break that.
    pub fn check_milestone(&self, m: Milestone, at: Timestamp) -> Result<(), String> {
        let already = match m {
            Milestone::Acknowledged => self.acknowledged_at,
            Milestone::Mitigated => self.mitigated_at,
            Milestone::Resolved => self.resolved_at,
        };
        if let Some(t) = already {
            return Err(format!("already {} at {t}", word(m)));
        }
        let before: [(Option<Timestamp>, &str); 3] = [
            (self.detected_at, "detected"),
            (
                if m == Milestone::Acknowledged {
                    None
                } else {
                    self.acknowledged_at
                },
                "acknowledged",
            ),
            (
                if m == Milestone::Resolved {
                    self.mitigated_at
                } else {
                    None
                },
                "mitigated",
            ),
        ];
        for (t, name) in before {
            if let Some(t) = t
                && at < t
            {
                return Err(format!(
                    "cannot be {} at {at}: it was {name} later, at {t}",
                    word(m)
                ));
            }
        }
        Ok(())
    }

    pub fn next_run_number(&self) -> u32 {
        self.runs.iter().map(|r| r.run).max().unwrap_or(0) + 1
    }

    /// Whether `user` may send the breach notice: the commander or comms, so it goes out once.
    pub fn speaks_for(&self, user: &str) -> bool {
        self.commander == user || self.comms.iter().any(|c| c == user)
    }

    /// The playbook runs still going, for the header of every console.
    pub fn running(&self) -> impl Iterator<Item = &Run> {
        self.runs
            .iter()
            .filter(|r| r.outcome.is_none() && r.refused.is_none())
    }

    pub fn next_notice_number(&self) -> u32 {
        self.notices.iter().map(|n| n.n).max().unwrap_or(0) + 1
    }
}

pub fn word(m: Milestone) -> &'static str {
    match m {
        Milestone::Acknowledged => "acknowledged",
        Milestone::Mitigated => "mitigated",
        Milestone::Resolved => "resolved",
    }
}

/// The recognition stamp in an incident id (`20261201-031500` of `INC-20261201-031500` or
/// `DRILL-20261201-031500-2`): incidents sort by it, live and drill alike.
pub fn id_stamp(id: &str) -> &str {
    id.split_once('-').map_or(id, |(_, rest)| rest)
}
