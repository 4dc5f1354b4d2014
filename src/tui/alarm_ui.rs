//! The alarm pane's side of `update`: silences and acks, CloudWatch actions, the history in
//! an alarm's detail, and following alarms on the open incident's timeline.

use super::app::{App, Pane};
use super::effects::Effect;
use super::forms::Form;
use super::panes::TableId;
use crate::incident::event::Event;
use crate::model::Level;
use crate::model::alarm::{Alarm, AlarmSnapshot, AlarmSource, AlarmState};
use crate::sources::AlarmChange;

impl App {
    /// The alarm under the cursor on the alarm pane.
    fn selected_alarm(&self) -> Option<&Alarm> {
        (self.pane == Pane::Alarms)
            .then(|| self.view(TableId::Alarms).selected_row())
            .flatten()
            .and_then(|i| self.data.alarms.data.alarms.get(i))
    }

    /// The selected alarm if it comes from a live source (drill alarms have no origin), or
    /// a message saying why nothing can be changed.
    fn live_alarm(&mut self) -> Option<Alarm> {
        match self.selected_alarm() {
            Some(a) if !a.origin.is_empty() => Some(a.clone()),
            Some(_) => {
                self.message = Some((
                    Level::Warn,
                    "silences need a live Alertmanager or CloudWatch ([[alertmanagers]], [aws])"
                        .into(),
                ));
                None
            }
            None => {
                self.message = Some((Level::Warn, "select an alarm on the alarm pane (5)".into()));
                None
            }
        }
    }

    /// `s`: a silence form for an Alertmanager alert; a CloudWatch alarm has only its
    /// actions to disable, which happens at once (and `u` undoes it).
    pub(super) fn silence(&mut self) {
        let Some(alarm) = self.live_alarm() else {
            return;
        };
        match alarm.source {
            AlarmSource::Alertmanager => {
                let matchers = alarm.silence_matchers();
                self.form = Some(Form::silence(&alarm, matchers));
            }
            AlarmSource::CloudWatch if alarm.actions_enabled == Some(false) => {
                self.message = Some((
                    Level::Warn,
                    format!(
                        "{}: actions are already disabled (u enables them)",
                        alarm.name
                    ),
                ));
            }
            AlarmSource::CloudWatch => {
                if self.data.incident.is_some() {
                    self.effects.push(Effect::Record(Event::Note {
                        text: format!(
                            "reminder: re-enable the actions of {} in {} (u on it in the alarm pane)",
                            alarm.name, alarm.origin
                        ),
                    }));
                }
                self.effects.push(Effect::AlarmChange(AlarmChange::Actions {
                    alarm: Box::new(alarm),
                    enabled: false,
                }));
            }
        }
    }

    /// `a` on a live Alertmanager alert: the karma-style ack, a short silence with a comment.
    /// Returns false when the key is the incident's acknowledgement instead.
    pub(super) fn ack_alert(&mut self) -> bool {
        let Some(alarm) = self
            .selected_alarm()
            .filter(|a| a.source == AlarmSource::Alertmanager && !a.origin.is_empty())
            .cloned()
        else {
            return false;
        };
        self.effects.push(Effect::AlarmChange(AlarmChange::Ack {
            alarm: Box::new(alarm),
        }));
        true
    }

    /// `u`: expire what silences it, or enable a CloudWatch alarm's actions again.
    pub(super) fn unsilence(&mut self) {
        if let Some(alarm) = self.live_alarm() {
            let alarm = Box::new(alarm);
            self.effects.push(Effect::AlarmChange(match alarm.source {
                AlarmSource::Alertmanager => AlarmChange::Expire { alarm },
                AlarmSource::CloudWatch => AlarmChange::Actions {
                    alarm,
                    enabled: true,
                },
            }));
        }
    }

    /// Enter on a live alarm also asks for its history, shown in the detail when it comes.
    pub(super) fn fetch_history(&mut self) {
        if let Some(a) = self.selected_alarm().filter(|a| !a.origin.is_empty()) {
            if self
                .data
                .alarm_history
                .as_ref()
                .is_some_and(|(k, _)| k == a.key())
            {
                return;
            }
            let alarm = Box::new(a.clone());
            self.data.alarm_history = Some((alarm.key().to_string(), "loading…".into()));
            self.effects.push(Effect::AlarmHistory(alarm));
        }
    }

    /// The alarm the cursor was moved to; `None` while it sits on the top row.
    pub(super) fn selected_alarm_key(&self) -> Option<String> {
        let view = self.view(TableId::Alarms);
        if view.selected == 0 {
            return None;
        }
        view.selected_row()
            .and_then(|i| self.data.alarms.data.alarms.get(i))
            .map(|a| a.key().to_string())
    }

    /// A silence or a new alert re-sorts the list. On the top row the cursor stays on top,
    /// on whatever is most urgent now; moved to an alarm, it stays on that alarm, so the next
    /// key never lands on another one.
    pub(super) fn keep_alarm_selected(&mut self, key: Option<String>) {
        let row = key.and_then(|k| {
            self.data
                .alarms
                .data
                .alarms
                .iter()
                .position(|a| a.key() == k)
        });
        if let Some(i) = row {
            self.select(TableId::Alarms, i);
        }
    }

    /// During an incident every alarm that changes state goes on its timeline: a new one
    /// firing, a transition, and one that disappears while firing (resolved).
    pub(super) fn journal_alarm_changes(&mut self, new: &AlarmSnapshot) {
        let old = &self.data.alarms.data.alarms;
        for a in &new.alarms {
            let before = old.iter().find(|o| o.key() == a.key()).map(|o| o.state);
            // An alarm that first appears already firing is a change too.
            let changed = match before {
                Some(b) => b != a.state,
                None => a.state == AlarmState::Alarm,
            };
            if changed {
                self.effects.push(Effect::Record(Event::Alarm {
                    name: a.name.clone(),
                    state: a.state.word().to_string(),
                    reason: a.reason.clone(),
                }));
            }
        }
        // A source that failed keeps its rows, so only an answer without the alert resolves it.
        for o in old {
            let gone = !new.alarms.iter().any(|a| a.key() == o.key());
            if gone && o.state == AlarmState::Alarm {
                self.effects.push(Effect::Record(Event::Alarm {
                    name: o.name.clone(),
                    state: "RESOLVED".into(),
                    reason: format!("no longer reported by {}", o.source.word()),
                }));
            }
        }
    }
}
