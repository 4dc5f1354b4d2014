//! RPO breaches on the open incident's timeline: each database's breach goes there once,
//! when it starts, as alarm state changes do.

use super::app::App;
use super::effects::Effect;
use crate::incident::event::Event;
use crate::model::backup::BackupStatus;

impl App {
    /// Records the databases that breach their RPO now and did not in `before` (a database
    /// first seen already breaching is a change too), while an incident is open.
    pub(super) fn journal_backup_breaches(&mut self, before: &[BackupStatus]) {
        if self.data.incident.is_none() {
            return;
        }
        for b in self.data.backup_status.iter().filter(|b| b.breached()) {
            let was = before
                .iter()
                .any(|o| o.database == b.database && o.breached());
            if !was {
                self.effects.push(Effect::Record(Event::Backup {
                    database: b.database.clone(),
                    problem: b.problems.first().cloned().unwrap_or_default(),
                }));
            }
        }
    }

    /// An incident newly on screen (opened here or by the team) gets the RPO breaches
    /// already standing that its timeline does not name yet.
    pub(super) fn journal_standing_backup_breaches(&mut self) {
        let Some(inc) = &self.data.incident else {
            return;
        };
        for b in self.data.backup_status.iter().filter(|b| b.breached()) {
            let named = inc.entries.iter().any(
                |e| matches!(&e.event, Event::Backup { database, .. } if *database == b.database),
            );
            if !named {
                self.effects.push(Effect::Record(Event::Backup {
                    database: b.database.clone(),
                    problem: b.problems.first().cloned().unwrap_or_default(),
                }));
            }
        }
    }
}
