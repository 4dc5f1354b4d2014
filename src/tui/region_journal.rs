//! A region going CRIT on the open incident's timeline: once per change to CRIT, as alarm
//! state changes are.

use super::app::App;
use super::effects::Effect;
use crate::incident::event::Event;
use crate::model::Level;
use crate::model::region::RegionStatus;

impl App {
    /// Records the regions that are CRIT now and were not in `before` (a region first seen
    /// CRIT is a change too), while an incident is open.
    pub(super) fn journal_region_crits(&mut self, before: &[RegionStatus]) {
        if self.data.incident.is_none() {
            return;
        }
        self.record_region_crits(|r| {
            before
                .iter()
                .any(|o| o.region == r.region && o.level == Level::Crit)
        });
    }

    /// An incident newly on screen (opened here or by the team) gets the regions already
    /// CRIT that its timeline does not name yet: the outage may be why it was opened.
    pub(super) fn journal_standing_region_crits(&mut self) {
        let Some(inc) = self.data.incident.take() else {
            return;
        };
        self.record_region_crits(|r| {
            inc.entries
                .iter()
                .any(|e| matches!(&e.event, Event::Region { region, .. } if *region == r.region))
        });
        self.data.incident = Some(inc);
    }

    /// Records each CRIT region but those `known` already.
    fn record_region_crits(&mut self, known: impl Fn(&RegionStatus) -> bool) {
        let crit = self
            .data
            .region_status
            .iter()
            .filter(|r| r.level == Level::Crit);
        for r in crit.filter(|r| !known(r)) {
            self.effects.push(Effect::Record(Event::Region {
                region: r.region.clone(),
                problem: r.problems.first().cloned().unwrap_or_default(),
            }));
        }
    }
}
