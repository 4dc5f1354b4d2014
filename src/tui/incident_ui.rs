//! The incident and playbook side of `update`: forms to fill, questions from a running
//! playbook, and the breach-notice prompt at the SLA checkpoint.

use super::app::{App, Input, Pane};
use super::effects::Effect;
use super::forms::{Form, FormKind};
use super::panes::TableId;
use crate::incident::clock::Stage;
use crate::incident::event::{Event, Milestone, Severity};
use crate::incident::objectives::{Budget, Countdown};
use crate::model::Level;
use crate::model::alarm::Severity as AlarmSeverity;
use crate::playbook::catalog;
use crate::playbook::run::{Answer, Prompt};
use crossterm::event::{KeyCode, KeyEvent};

/// How many of the top attackers `waf-block-ip` offers pre-filled.
const OFFERED_ATTACKERS: usize = 5;

impl App {
    /// The open incident's SLA and RTO countdowns, the one that runs out first first.
    pub fn countdowns(&self) -> Vec<Countdown> {
        self.data
            .incident
            .as_deref()
            .map(|inc| self.services.countdowns(&self.sla, inc, self.now))
            .unwrap_or_default()
    }

    /// This month's availability budgets: a drill's own incidents in a drill, real ones live.
    pub fn budgets(&self) -> Vec<Budget> {
        let mut incidents = self.data.past.clone();
        incidents.extend(self.data.incident.as_deref().cloned());
        let drills = matches!(self.origin, super::app::Origin::Drill { .. });
        self.services.month(&incidents, self.now, drills)
    }

    /// `:service NAME`: the open incident hits this service.
    pub(super) fn tag_service(&mut self, name: &str) {
        if !self.need_incident() {
            return;
        }
        match self.services.check(name) {
            Ok(_) => self.effects.push(Effect::Record(Event::Service {
                service: name.to_string(),
            })),
            Err(e) => self.say(Level::Warn, e),
        }
    }

    pub(super) fn say(&mut self, level: Level, text: impl Into<String>) {
        self.message = Some((level, text.into()));
    }

    pub(super) fn need_incident(&mut self) -> bool {
        if self.data.incident.is_none() {
            let key = self.keymap.keys_of(super::action::Command::NewIncident);
            self.say(
                Level::Warn,
                format!("no open incident: press {key} on an alarm, or :incident new"),
            );
        }
        self.data.incident.is_some()
    }

    pub(super) fn new_incident(&mut self) {
        if let Some(inc) = &self.data.incident {
            let id = inc.id.clone();
            self.say(
                Level::Warn,
                format!("incident {id} is open: resolve it first"),
            );
            return;
        }
        let alarm = (self.pane == Pane::Alarms)
            .then(|| self.view(TableId::Alarms).selected_row())
            .flatten()
            .and_then(|i| self.data.alarms.data.alarms.get(i))
            .map(|a| {
                let severity = match a.severity {
                    AlarmSeverity::Critical => Severity::Sev1,
                    AlarmSeverity::Warning => Severity::Sev2,
                    AlarmSeverity::Info => Severity::Sev3,
                };
                (a.name.clone(), a.since, severity)
            });
        self.form = Some(Form::new_incident(alarm));
    }

    pub(super) fn milestone(&mut self, m: Milestone) {
        if self.need_incident() {
            self.effects.push(Effect::Milestone(m));
        }
    }

    pub(super) fn resolve(&mut self) {
        if self.need_incident() {
            self.form = Some(Form::resolve());
        }
    }

    /// Only the one who speaks for the incident sends the notice, so it goes out once.
    pub(super) fn breach_notice(&mut self) {
        if !self.need_incident() {
            return;
        }
        let mine = self
            .data
            .incident
            .as_deref()
            .map_or(Ok(()), |inc| self.sends_notice(inc));
        match mine {
            Ok(()) => self.form = Some(Form::notice()),
            Err(e) => self.say(Level::Warn, e),
        }
    }

    pub(super) fn note(&mut self) {
        if self.need_incident() {
            self.form = Some(Form::note());
        }
    }

    pub(super) fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.outcome.is_none())
    }

    pub(super) fn start_playbook(&mut self, dry_run: bool) {
        if self.running() && !dry_run {
            self.say(
                Level::Warn,
                "a playbook is running: wait for it or abort it (x)",
            );
            return;
        }
        if self.pane == Pane::Incident && !dry_run {
            return self.resume();
        }
        if self.pane != Pane::Playbooks {
            self.go(Pane::Playbooks);
            return;
        }
        let Some(entry) = self
            .view(TableId::Playbooks)
            .selected_row()
            .and_then(|i| self.data.playbooks.get(i))
        else {
            return;
        };
        let playbook = match &entry.playbook {
            Ok(p) => p,
            Err(e) => {
                let text = e.short();
                self.say(Level::Crit, text);
                return;
            }
        };
        let blocks = playbook.steps.iter().any(|s| {
            matches!(&s.kind, crate::playbook::load::StepKind::Action(v) if v.get("block_ip").is_some())
        });
        let attackers = self.data.waf.data.attackers(self.now, OFFERED_ATTACKERS);
        let moves = playbook.steps.iter().any(|s| {
            matches!(&s.kind, crate::playbook::load::StepKind::Action(v) if v.get("set_region_weight").is_some())
        });
        let offer = self.data.regions.data.evacuation_offer().filter(|_| moves);
        let fields = playbook
            .inputs
            .iter()
            .map(|i| {
                let default = match (i.name.as_str(), &self.data.cluster.data.namespace) {
                    // Operations default to the namespace the console watches (`:ns`).
                    ("namespace", Some(ns)) => ns.clone(),
                    // Blocking offers who the WAF stopped most in the last ten minutes.
                    ("ip", _) if blocks && !attackers.is_empty() => attackers.join(", "),
                    // Evacuating offers the failing region and a healthy one to take it.
                    ("from", _) if offer.is_some() => offer.clone().unwrap_or_default().0,
                    ("to", _) if offer.is_some() => offer.clone().unwrap_or_default().1,
                    _ => i
                        .default
                        .as_ref()
                        .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string))
                        .unwrap_or_default(),
                };
                (i.name.as_str(), i.description.as_str(), default)
            })
            .collect::<Vec<_>>();
        let kind = FormKind::Inputs {
            playbook: playbook.name.clone(),
            dry_run,
            start: 0,
        };
        if fields.is_empty() {
            self.effects.push(if dry_run {
                Effect::DryRun {
                    playbook: playbook.name.clone(),
                    inputs: vec![],
                }
            } else {
                Effect::Run {
                    playbook: playbook.name.clone(),
                    inputs: vec![],
                    start: 0,
                }
            });
            return;
        }
        let verb = if dry_run { "dry-run" } else { "run" };
        let title = format!("{verb} {} — Enter on the last field starts", playbook.name);
        self.form = Some(Form::new(kind, title, fields));
    }

    /// `r` on the incident pane: pick up a run the console lost (SSH dropped, kill -9).
    fn resume(&mut self) {
        let Some(inc) = &self.data.incident else {
            return;
        };
        let Some(run) = inc
            .runs
            .iter()
            .rev()
            .find(|r| r.interrupted_at().is_some() && !self.elsewhere(r))
        else {
            self.say(Level::Ok, "no interrupted playbook run");
            return;
        };
        let Some(playbook) = self
            .data
            .playbooks
            .iter()
            .filter_map(|e| e.ok())
            .find(|p| p.name == run.playbook)
        else {
            let name = run.playbook.clone();
            self.say(
                Level::Crit,
                format!("playbook {name} is no longer loadable"),
            );
            return;
        };
        let stopped = run
            .interrupted_at()
            .map(|s| s.step.clone())
            .unwrap_or_default();
        let start = playbook
            .steps
            .iter()
            .position(|s| s.id == stopped)
            .unwrap_or(0);
        let fields = run
            .inputs
            .iter()
            .map(|(k, v)| (k.as_str(), "", v.clone()))
            .collect();
        let title = format!(
            "resume {} at step {stopped} (verify its state first)",
            playbook.name
        );
        let kind = FormKind::Inputs {
            playbook: playbook.name.clone(),
            dry_run: false,
            start,
        };
        self.form = Some(Form::new(kind, title, fields));
    }

    pub(super) fn abort(&mut self) {
        if self.running() {
            self.effects.push(Effect::Abort);
            return;
        }
        let interrupted = self.data.incident.as_ref().and_then(|i| {
            i.runs
                .iter()
                .rev()
                .find(|r| r.interrupted_at().is_some() && !self.elsewhere(r))
                .map(|r| r.run)
        });
        match interrupted {
            Some(run) => self.effects.push(Effect::SettleInterrupted { run }),
            None => self.say(Level::Ok, "nothing to abort"),
        }
    }

    pub(super) fn playbooks_for_alarm(&mut self) {
        let Some(alarm) = self
            .view(TableId::Alarms)
            .selected_row()
            .and_then(|i| self.data.alarms.data.alarms.get(i))
        else {
            return;
        };
        let name = alarm.name.clone();
        let matching: Vec<String> = catalog::answering(&self.data.playbooks, &name)
            .iter()
            .map(|p| p.name.clone())
            .collect();
        if matching.is_empty() {
            self.say(Level::Warn, format!("no playbook answers {name}"));
            return;
        }
        // Only the playbooks that answer it, best match first and selected; Esc shows all.
        self.go(Pane::Playbooks);
        self.set_filter(
            TableId::Playbooks,
            format!("{}{name}", super::panes::ANSWERS),
        );
        self.say(
            Level::Ok,
            format!(
                "{name} is answered by {}: p dry-run, r run",
                matching.join(", ")
            ),
        );
    }

    pub(super) fn ask(&mut self, prompt: Prompt) {
        match &prompt {
            Prompt::Confirm { .. } | Prompt::Manual { .. } => self.prompt = Some(prompt),
            Prompt::TypeTarget {
                what,
                target,
                optional,
                ..
            } => {
                self.form = Some(Form::answer(
                    &format!("{what}: type `{target}` to confirm"),
                    if *optional {
                        "anything else skips this optional step"
                    } else {
                        "anything else cancels"
                    },
                ));
            }
            Prompt::Override { step, why } => {
                self.form = Some(Form::answer(
                    &format!("guard failed at {step}: {why}"),
                    "a reason overrides it (journaled); empty stops",
                ));
            }
        }
    }

    pub(super) fn prompt_key(&mut self, ev: KeyEvent) {
        let answer = match ev.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Answer::Yes,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Answer::No,
            _ => return,
        };
        self.prompt = None;
        self.effects.push(Effect::Answer(answer));
    }

    /// At the last warning checkpoint (and again once breached) the breach notice form opens
    /// by itself, unless the operator is busy typing.
    pub(super) fn offer_notice(&mut self) {
        let Some(inc) = &self.data.incident else {
            return;
        };
        let status = self.sla.status(inc.recognised_at, self.now);
        let last = self.sla.warn_at.len().saturating_sub(1);
        let mark = match (status.stage, status.checkpoint) {
            (Stage::Breached, _) => last + 1,
            (_, Some(c)) if c >= last => c,
            _ => return,
        };
        if self.notice_offered.is_some_and(|m| m >= mark)
            || self.form.is_some()
            || !matches!(self.input, Input::Idle)
        {
            return;
        }
        // A notice written since this checkpoint came (on any console of the team) is the
        // one for it: nobody is asked again.
        let since = match status.stage {
            Stage::Breached => status.deadline,
            _ => self
                .sla
                .warn_at
                .iter()
                .min()
                .and_then(|w| status.deadline.checked_sub(*w).ok())
                .unwrap_or(status.deadline),
        };
        let written = inc.notices.iter().rev().find(|n| n.at >= since).map(|n| {
            format!(
                "{status}: breach notice {} was written at {} by {}",
                n.n,
                n.at.strftime("%H:%M:%S"),
                n.who
            )
        });
        let mine = self.sends_notice(inc);
        self.notice_offered = Some(mark);
        if let Some(said) = written {
            return self.say(Level::Warn, said);
        }
        if let Err(who) = mine {
            return self.say(Level::Warn, format!("{status}: {who}"));
        }
        self.form = Some(Form::notice());
        self.say(
            Level::Crit,
            format!("{status}: tell the customer the reason, the plan and the ETA"),
        );
    }
}
