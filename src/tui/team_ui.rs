//! The team side of `update`: the team journal's status line, merge offers, roles, who sends
//! the breach notice, and the playbooks other consoles are running.

use super::app::App;
use super::effects::Effect;
use crate::incident::event::{Event, Role};
use crate::incident::state::{Incident, Run};
use crate::incident::team::follow::TeamStatus;
use crate::model::Level;

impl App {
    pub(super) fn team_round(&mut self, status: TeamStatus) {
        self.team = Some(status);
    }

    /// New offers are said once; `:merge` takes the first.
    pub(super) fn offer_merges(&mut self, offers: Vec<(String, String)>) {
        if offers == self.merge_offers {
            return;
        }
        if let Some((keep, other)) = offers.first() {
            self.say(
                Level::Warn,
                format!(
                    "{other} was opened for the same alarm as {keep} while the consoles were apart: :merge keeps {keep} (recognised first)"
                ),
            );
        }
        self.merge_offers = offers;
    }

    pub(super) fn merge(&mut self) {
        match self.merge_offers.first() {
            Some((keep, other)) => self.effects.push(Effect::Merge {
                keep: keep.clone(),
                other: other.clone(),
            }),
            None => self.say(Level::Ok, "nothing to merge"),
        }
    }

    /// `:role comms` (this user talks to customers too) or `:role commander` (takes
    /// command); `:handover USER` gives command to USER. All journaled.
    pub(super) fn set_role(&mut self, role: Role, user: Option<String>) {
        if !self.need_incident() {
            return;
        }
        let user = user.unwrap_or_else(|| self.user.clone());
        self.effects
            .push(Effect::Record(Event::Role { role, user }));
    }

    /// Who sends the breach notice in a team: comms when someone has that role, else the
    /// commander. `Err` says who does, for every other console. Alone, this console does.
    pub(super) fn sends_notice(&self, inc: &Incident) -> Result<(), String> {
        if self.team.is_none() {
            return Ok(());
        }
        let speakers = if inc.comms.is_empty() {
            vec![inc.commander.clone()]
        } else {
            inc.comms.clone()
        };
        if speakers.contains(&self.user) {
            return Ok(());
        }
        let role = if inc.comms.is_empty() {
            "commander"
        } else {
            "comms"
        };
        Err(format!(
            "the breach notice is sent by {} ({role}); :role comms to take it on",
            speakers.join(", ")
        ))
    }

    /// The runs of this incident going on at other consoles of the team, as the header and
    /// incident pane show them: `failover-mariadb step 3/6 by kim@bastion-kr`.
    pub fn runs_elsewhere(&self) -> Vec<String> {
        let Some(inc) = self.data.incident.as_deref() else {
            return vec![];
        };
        inc.running()
            .filter(|r| self.elsewhere(r))
            .map(|r| self.run_progress(r))
            .collect()
    }

    /// A run started by another console that is still here (its heartbeat is fresh).
    pub(super) fn elsewhere(&self, run: &Run) -> bool {
        let Some(team) = &self.team else {
            return false;
        };
        run.console
            .as_ref()
            .is_some_and(|c| team.others.iter().any(|o| o == c))
    }

    fn run_progress(&self, run: &Run) -> String {
        let total = self
            .data
            .playbooks
            .iter()
            .filter_map(|e| e.ok())
            .find(|p| p.name == run.playbook)
            .map(|p| p.steps.len());
        let at = run.steps.len().max(1);
        let of = total.map_or_else(String::new, |t| format!("/{t}"));
        let by = run
            .console
            .as_deref()
            .map(crate::incident::team::user_at_host)
            .unwrap_or(&run.who);
        format!("{} step {at}{of} by {by}", run.playbook)
    }
}

#[cfg(test)]
mod tests {
    use super::super::action::{Action, Command};
    use super::super::app::tests::app;
    use super::*;
    use crate::incident::event::{Entry, Severity, Who};
    use jiff::{SignedDuration, Timestamp};
    use std::collections::BTreeMap;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn entry(seq: u64, mins: i64, user: &str, event: Event) -> Entry {
        Entry {
            seq,
            at: now() + SignedDuration::from_mins(mins),
            who: Who {
                user: user.into(),
                from: Some(format!("console {user}@vm.{user}")),
            },
            prev: None,
            event,
        }
    }

    fn opened() -> Event {
        Event::Opened {
            id: "INC-1".into(),
            title: "checkout 5xx".into(),
            severity: Severity::Sev1,
            detected_at: None,
            recognised_at: now(),
            recognised_reason: None,
            alarm: None,
            drill: None,
        }
    }

    /// Console `user` of a team, showing the incident these entries make; `others` are here.
    fn team_app(user: &str, entries: &[Entry], others: &[&str]) -> App {
        let mut app = app();
        app.user = user.into();
        app.update(Action::Team(Box::new(TeamStatus {
            others: others.iter().map(|o| o.to_string()).collect(),
            ..TeamStatus::default()
        })));
        let inc = Incident::replay(entries).unwrap();
        app.update(Action::Incident(Some(Box::new(inc))));
        app
    }

    #[test]
    fn only_the_commander_or_comms_gets_the_breach_notice() {
        let open = [entry(1, 0, "ana", opened())];
        let mut kim = team_app("kim", &open, &["ana@vm.ana"]);
        kim.update(Action::Command(Command::BreachNotice));
        assert!(kim.form.is_none());
        let said = kim.message.clone().unwrap().1;
        assert_eq!(
            said,
            "the breach notice is sent by ana (commander); :role comms to take it on"
        );
        // At the last checkpoint the commander's console asks, the others only say who sends.
        let late = now() + SignedDuration::from_mins(95);
        kim.update(Action::Tick(late));
        assert!(kim.form.is_none(), "kim is not asked");
        let mut ana = team_app("ana", &open, &["kim@vm.kim"]);
        ana.update(Action::Tick(late));
        assert!(ana.form.is_some(), "the commander is asked");

        // With someone on comms, comms sends it and the commander is no longer asked.
        let comms = Event::Role {
            role: Role::Comms,
            user: "kim".into(),
        };
        let both = [open[0].clone(), entry(2, 1, "kim", comms)];
        let mut kim = team_app("kim", &both, &["ana@vm.ana"]);
        kim.update(Action::Tick(late));
        assert!(kim.form.is_some(), "comms is asked");
        let mut ana = team_app("ana", &both, &["kim@vm.kim"]);
        ana.update(Action::Tick(late));
        assert!(ana.form.is_none());
    }

    #[test]
    fn a_notice_written_on_another_console_is_not_asked_for_again() {
        let entries = [
            entry(1, 0, "ana", opened()),
            entry(
                2,
                92,
                "kim",
                Event::Notice {
                    n: 1,
                    reason: "disk".into(),
                    plan: "failover".into(),
                    eta: now() + SignedDuration::from_mins(130),
                },
            ),
        ];
        let mut ana = team_app("ana", &entries, &[]);
        ana.update(Action::Tick(now() + SignedDuration::from_mins(95)));
        assert!(ana.form.is_none(), "already written at the checkpoint");
        let said = ana.message.clone().unwrap().1;
        assert!(
            said.ends_with("breach notice 1 was written at 09:32:00 by kim (console kim@vm.kim)"),
            "{said}"
        );
    }

    #[test]
    fn roles_and_merges_are_journaled_from_the_command_line() {
        let mut kim = team_app("kim", &[entry(1, 0, "ana", opened())], &[]);
        for (line, want) in [
            (
                "role comms",
                Effect::Record(Event::Role {
                    role: Role::Comms,
                    user: "kim".into(),
                }),
            ),
            (
                "handover lee",
                Effect::Record(Event::Role {
                    role: Role::Commander,
                    user: "lee".into(),
                }),
            ),
        ] {
            kim.update(Action::Run(line.into()));
            assert_eq!(kim.effects.pop(), Some(want), "{line}");
        }
        kim.update(Action::Run("merge".into()));
        assert!(kim.effects.is_empty());
        assert_eq!(kim.message.clone().unwrap().1, "nothing to merge");
        kim.update(Action::MergeOffers(vec![("INC-1".into(), "INC-2".into())]));
        assert!(
            kim.message
                .clone()
                .unwrap()
                .1
                .contains(":merge keeps INC-1")
        );
        kim.update(Action::Run("merge".into()));
        assert_eq!(
            kim.effects.pop(),
            Some(Effect::Merge {
                keep: "INC-1".into(),
                other: "INC-2".into()
            })
        );
    }

    #[test]
    fn a_run_on_a_console_still_here_shows_as_running_not_interrupted() {
        let entries = [
            entry(1, 0, "ana", opened()),
            entry(
                2,
                1,
                "kim",
                Event::RunStarted {
                    run: 1,
                    playbook: "restart".into(),
                    inputs: BTreeMap::new(),
                },
            ),
            entry(
                3,
                1,
                "kim",
                Event::StepStarted {
                    run: 1,
                    step: "restart".into(),
                    detail: "restart shop/admin".into(),
                    op: None,
                },
            ),
        ];
        let ana = team_app("ana", &entries, &["kim@vm.kim"]);
        let steps = ana
            .data
            .playbooks
            .iter()
            .filter_map(|e| e.ok())
            .find(|p| p.name == "restart")
            .map(|p| p.steps.len())
            .unwrap();
        assert_eq!(
            ana.runs_elsewhere(),
            [format!("restart step 1/{steps} by kim@vm")]
        );
        let run = &ana.data.incident.as_ref().unwrap().runs[0];
        assert!(ana.elsewhere(run));
        // Once kim's console is gone (no heartbeat), the run is an interrupted one.
        let ana = team_app("ana", &entries, &[]);
        assert!(ana.runs_elsewhere().is_empty());
        assert!(!ana.elsewhere(&ana.data.incident.as_ref().unwrap().runs[0]));
    }
}
