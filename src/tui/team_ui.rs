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
            .map(|c| c.rsplit_once('.').map_or(c, |(name, _)| name))
            .unwrap_or(&run.who);
        format!("{} step {at}{of} by {by}", run.playbook)
    }
}
