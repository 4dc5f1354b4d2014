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
        self.record_breaches(|b| {
            before
                .iter()
                .any(|o| o.database == b.database && o.breached())
        });
    }

    /// An incident newly on screen (opened here or by the team) gets the RPO breaches
    /// already standing that its timeline does not name yet.
    pub(super) fn journal_standing_backup_breaches(&mut self) {
        let Some(inc) = self.data.incident.take() else {
            return;
        };
        self.record_breaches(|b| {
            inc.entries.iter().any(
                |e| matches!(&e.event, Event::Backup { database, .. } if *database == b.database),
            )
        });
        self.data.incident = Some(inc);
    }

    /// Records each database breaching its RPO but those `known` already.
    fn record_breaches(&mut self, known: impl Fn(&BackupStatus) -> bool) {
        let breached = self.data.backup_status.iter().filter(|b| b.breached());
        for b in breached.filter(|b| !known(b)) {
            self.effects.push(Effect::Record(Event::Backup {
                database: b.database.clone(),
                problem: b.problems.first().cloned().unwrap_or_default(),
            }));
        }
    }
}
