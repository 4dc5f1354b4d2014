//! The incident desk: finds the open incident on start (replaying its journal), opens new
//! ones, and journals everything that happens. Changes made outside an incident go to a
//! standing change log, so nothing mutating is ever unrecorded.

use super::chain::Verdict;
use super::event::{DrillTag, Entry, Event, Milestone, Severity, Who};
use super::journal::{Journal, JournalError};
use super::state::Incident;
use super::team::book::Book;
use super::team::log::Stored;
use jiff::Timestamp;
use std::path::{Path, PathBuf};

pub struct Desk {
    dir: PathBuf,
    who: Who,
    active: Option<(Incident, Journal)>,
    changes: Option<Journal>,
    /// What replay had to work around, for the screen.
    pub warnings: Vec<String>,
    /// With `[team]`: the team journal as far as this console has it, and what it has not
    /// uploaded yet. The incidents shown are the team's.
    team: Option<Book>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("incident {0} is still open: resolve it first")]
    AlreadyOpen(String),
    #[error("no open incident")]
    NoIncident,
    #[error("{0}")]
    Invalid(String),
    #[error("no incident `{0}` in {1}")]
    Unknown(String, String),
}

/// What opening an incident needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub alarm: Option<String>,
    pub detected_at: Option<Timestamp>,
    /// An earlier recognition time and why; `None` means now.
    pub recognised: Option<(Timestamp, String)>,
    pub drill: Option<DrillTag>,
}

impl Desk {
    pub fn open(dir: &Path, who: Who) -> Result<Desk, DeskError> {
        let mut desk = Desk {
            dir: dir.to_path_buf(),
            who,
            active: None,
            changes: None,
            warnings: vec![],
            team: None,
        };
        for path in desk.journal_paths() {
            let (journal, entries, warnings) = Journal::open(&path)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            desk.warnings
                .extend(warnings.iter().map(|w| format!("{name}: {w}")));
            if let Some(inc) = Incident::replay(&entries)
                && inc.is_open()
            {
                // The newest open incident is the active one; journal names sort by time.
                desk.active = Some((inc, journal));
            }
        }
        Ok(desk)
    }

    /// A desk whose incidents are shared through the team journal as console `console`.
    /// Local journals are written first, as always; the entries the team journal lacks are
    /// found again here and uploaded by the follower.
    pub fn open_team(dir: &Path, who: Who, console: String) -> Result<Desk, DeskError> {
        let mut desk = Desk::open(dir, who)?;
        let mut book = Book::open(dir, console);
        for path in desk.journal_paths() {
            let Some(id) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            for e in super::journal::read(&path)?.0 {
                book.wrote(&id, &e);
            }
        }
        desk.team = Some(book);
        desk.refresh_team()?;
        Ok(desk)
    }

    pub fn team(&self) -> Option<&Book> {
        self.team.as_ref()
    }

    /// Wakes `wake` after every entry this desk writes to the team's incidents.
    pub fn wake_on_team_write(&mut self, wake: std::sync::Arc<tokio::sync::Notify>) {
        if let Some(book) = &mut self.team {
            book.wake_on_write(wake);
        }
    }

    /// Takes in entries the follower fetched or uploaded; returns whether the open incident
    /// (or which one is open) changed.
    pub fn absorb(&mut self, new: &[Stored]) -> Result<bool, DeskError> {
        let Some(book) = &mut self.team else {
            return Ok(false);
        };
        book.absorb(new).map_err(|source| JournalError {
            path: self.dir.join("team.jsonl"),
            source,
        })?;
        let before = self.active().cloned();
        // Taken in already: a failure to open the local journal must not make the follower
        // offer the same entries again.
        if let Err(e) = self.refresh_team() {
            tracing::warn!("showing the team's incident: {e}");
        }
        Ok(before.as_ref() != self.active())
    }

    /// Forgets the saved team journal (it disagreed with the store).
    pub fn reset_team(&mut self) -> Result<(), DeskError> {
        if let Some(book) = &mut self.team {
            book.reset().map_err(|source| JournalError {
                path: self.dir.join("team.jsonl"),
                source,
            })?;
        }
        Ok(())
    }

    /// Picks the team's open incident: the one already shown while it stays open, else the
    /// newest open one.
    fn refresh_team(&mut self) -> Result<(), DeskError> {
        let Some(book) = &self.team else {
            return Ok(());
        };
        let open = book.open_ids();
        let current = self.active.as_ref().map(|(i, _)| i.id.clone());
        let pick = match current {
            Some(id) if open.contains(&id) => Some(id),
            _ => open.last().cloned(),
        };
        let Some(id) = pick else {
            self.active = None;
            return Ok(());
        };
        let Some(incident) = book.incident(&id) else {
            self.active = None;
            return Ok(());
        };
        match &mut self.active {
            Some((inc, _)) if inc.id == id => *inc = incident,
            _ => {
                let journal = self.local_journal(&id)?;
                self.active = Some((incident, journal));
            }
        }
        Ok(())
    }

    /// This console's own journal of incident `id`, created when it first writes to an
    /// incident another console opened.
    fn local_journal(&self, id: &str) -> Result<Journal, DeskError> {
        let path = self.dir.join(format!("{id}.jsonl"));
        Ok(if path.exists() {
            Journal::open(&path)?.0
        } else {
            Journal::create(&path)?
        })
    }

    /// Every incident, oldest first, open or resolved (the availability budget reads them):
    /// the team's with `[team]`, else this desk's.
    pub fn incidents(&self) -> Vec<Incident> {
        match &self.team {
            Some(book) => book
                .ids()
                .iter()
                .filter_map(|id| book.incident(id))
                .collect(),
            None => self
                .journal_paths()
                .iter()
                .filter_map(|p| Incident::replay(&super::journal::read(p).ok()?.0))
                .collect(),
        }
    }

    /// Two open incidents for the same alarm (opened while partitioned): which survives.
    pub fn merge_offers(&self) -> Vec<(String, String)> {
        self.team
            .as_ref()
            .map(Book::merge_offers)
            .unwrap_or_default()
    }

    /// Merges `other` into `keep`: journaled in `keep`, the earlier recognition holds.
    pub fn merge(&mut self, keep: &str, other: &str, at: Timestamp) -> Result<Entry, DeskError> {
        let (k, o) = (self.load(keep)?, self.load(other)?);
        let event = Event::Merged {
            from: o.id.clone(),
            into: k.id.clone(),
            recognised_at: k.recognised_at.min(o.recognised_at),
        };
        let entry = self.append_to(keep, event, at)?;
        self.refresh_team()?;
        Ok(entry)
    }

    fn journal_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "jsonl")
                    && p.file_stem().is_some_and(|s| s != "changes" && s != "team")
            })
            .collect();
        paths.sort();
        paths
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn who(&self) -> &Who {
        &self.who
    }

    pub fn active(&self) -> Option<&Incident> {
        self.active.as_ref().map(|(i, _)| i)
    }

    pub fn open_incident(
        &mut self,
        new: NewIncident,
        now: Timestamp,
    ) -> Result<&Incident, DeskError> {
        if let Some(active) = self.active() {
            return Err(DeskError::AlreadyOpen(active.id.clone()));
        }
        let (recognised_at, reason) = match new.recognised {
            Some((t, _)) if t > now => {
                return Err(DeskError::Invalid(format!(
                    "recognition time {t} is in the future"
                )));
            }
            Some((_, reason)) if reason.trim().is_empty() => {
                return Err(DeskError::Invalid(
                    "an earlier recognition time needs a reason".into(),
                ));
            }
            Some((t, reason)) => (t, Some(reason)),
            None => (now, None),
        };
        if let Some(d) = new.detected_at
            && d > recognised_at
        {
            return Err(DeskError::Invalid(format!(
                "detected at {d} is after recognition at {recognised_at}"
            )));
        }
        let prefix = if new.drill.is_some() { "DRILL" } else { "INC" };
        let stamp = recognised_at.strftime("%Y%m%d-%H%M%S");
        // In a team, consoles cut off from each other must not pick the same id.
        let stamp = match &self.team {
            Some(book) => format!(
                "{stamp}-{}",
                book.console.rsplit('.').next().unwrap_or_default()
            ),
            None => stamp.to_string(),
        };
        let mut id = format!("{prefix}-{stamp}");
        let mut n = 2;
        while self.has(&id) {
            id = format!("{prefix}-{stamp}-{n}");
            n += 1;
        }
        let mut journal = Journal::create(&self.dir.join(format!("{id}.jsonl")))?;
        let event = Event::Opened {
            id: id.clone(),
            title: new.title,
            severity: new.severity,
            detected_at: new.detected_at,
            recognised_at,
            recognised_reason: reason,
            alarm: new.alarm,
            drill: new.drill,
        };
        let entry = journal.append(now, &self.who, event)?;
        let incident = Incident::replay(std::slice::from_ref(&entry)).ok_or_else(|| {
            DeskError::Invalid("the opening entry did not open an incident".into())
        })?;
        self.active = Some((incident, journal));
        if let Some(book) = &mut self.team {
            book.wrote(&id, &entry);
            self.refresh_team()?;
        }
        self.active().ok_or(DeskError::NoIncident)
    }

    /// Journals `event` (fsync'd) and folds it into the active incident; without one it goes
    /// to the change log.
    pub fn record(&mut self, event: Event, at: Timestamp) -> Result<Entry, DeskError> {
        match &mut self.active {
            Some((incident, journal)) => {
                let entry = journal.append(at, &self.who, event)?;
                if let Some(book) = &mut self.team {
                    book.wrote(&incident.id, &entry);
                    self.refresh_team()?;
                    return Ok(entry);
                }
                incident.apply(&entry);
                if !incident.is_open() {
                    self.active = None;
                }
                Ok(entry)
            }
            None => {
                let journal = match &mut self.changes {
                    Some(j) => j,
                    None => {
                        let path = self.dir.join("changes.jsonl");
                        let j = if path.exists() {
                            Journal::open(&path)?.0
                        } else {
                            Journal::create(&path)?
                        };
                        self.changes.insert(j)
                    }
                };
                Ok(journal.append(at, &self.who, event)?)
            }
        }
    }

    pub fn milestone(&mut self, m: Milestone, at: Timestamp) -> Result<Entry, DeskError> {
        let incident = self.active().ok_or(DeskError::NoIncident)?;
        incident
            .check_milestone(m, at)
            .map_err(DeskError::Invalid)?;
        if m == Milestone::Resolved && incident.mitigated_at.is_none() {
            self.record(
                Event::Milestone {
                    milestone: Milestone::Mitigated,
                },
                at,
            )?;
        }
        self.record(Event::Milestone { milestone: m }, at)
    }

    /// Journals into a resolved incident (its report being written).
    pub fn append_to(&mut self, id: &str, event: Event, at: Timestamp) -> Result<Entry, DeskError> {
        if !self.has(id) {
            return Err(DeskError::Unknown(
                id.into(),
                self.dir.display().to_string(),
            ));
        }
        let entry = self.local_journal(id)?.append(at, &self.who, event)?;
        if let Some(book) = &mut self.team {
            book.wrote(id, &entry);
            self.refresh_team()?;
        }
        Ok(entry)
    }

    /// Whether incident `id` is journaled here (or, in a team, in the team journal).
    pub fn has(&self, id: &str) -> bool {
        self.dir.join(format!("{id}.jsonl")).exists()
            || self.team.as_ref().is_some_and(|b| b.has(id))
    }

    /// Any incident by id, open or resolved (for reports).
    pub fn load(&self, id: &str) -> Result<Incident, DeskError> {
        if let Some(book) = &self.team {
            let mut inc = book
                .incident(id)
                .ok_or_else(|| DeskError::Unknown(id.into(), "the team journal".into()))?;
            inc.integrity = Some(book.verify().summary());
            return Ok(inc);
        }
        let path = self.dir.join(format!("{id}.jsonl"));
        if !path.exists() {
            return Err(DeskError::Unknown(
                id.into(),
                self.dir.display().to_string(),
            ));
        }
        let (entries, _) = super::journal::read(&path)?;
        let mut inc = Incident::replay(&entries)
            .ok_or_else(|| DeskError::Unknown(id.into(), self.dir.display().to_string()))?;
        inc.integrity = Some(self.verify(id)?.summary());
        Ok(inc)
    }

    /// Checks the hash chain incident `id` is kept in: its journal file, or in a team the
    /// team journal as this console has it (every incident's entries are one chain there).
    pub fn verify(&self, id: &str) -> Result<Verdict, DeskError> {
        if let Some(book) = &self.team {
            if !book.has(id) {
                return Err(DeskError::Unknown(id.into(), "the team journal".into()));
            }
            return Ok(book.verify());
        }
        Ok(super::journal::verify(
            &self.dir.join(format!("{id}.jsonl")),
        )?)
    }

    /// The most recent incident, open or not.
    pub fn latest(&self) -> Option<String> {
        if let Some(book) = &self.team {
            return book.ids().pop();
        }
        self.journal_paths()
            .last()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
    }

    /// The number the next playbook run gets: the next in the open incident, or outside one
    /// the next in the change log, so runs there can be told apart too.
    pub fn next_run_number(&self) -> u32 {
        if let Some(active) = self.active() {
            return active.next_run_number();
        }
        let Ok((entries, _)) = super::journal::read(&self.dir.join("changes.jsonl")) else {
            return 1;
        };
        entries
            .iter()
            .filter_map(|e| match &e.event {
                Event::RunStarted { run, .. } => Some(*run),
                _ => None,
            })
            .max()
            .unwrap_or(0)
            .saturating_add(1)
    }

    /// When `cluster` last had a replica promoted, across every incident (anti-flap).
    pub fn last_promotion(&self, cluster: &str) -> Option<Timestamp> {
        // In a team, the other consoles' promotions count too: the team's incidents hold
        // them (this console's own included). Changes outside an incident stay local.
        let mut paths = vec![self.dir.join("changes.jsonl")];
        let mut entries: Vec<Entry> = match &self.team {
            Some(_) => self
                .incidents()
                .into_iter()
                .flat_map(|i| i.entries)
                .collect(),
            None => {
                paths.extend(self.journal_paths());
                Vec::new()
            }
        };
        for path in paths {
            if let Ok((more, _)) = super::journal::read(&path) {
                entries.extend(more);
            }
        }
        entries
            .iter()
            .filter(|e| {
                matches!(
                    &e.event,
                    Event::StepStarted {
                        op: Some(crate::ops::Op::Promote { cluster: c, .. }),
                        ..
                    } if c == cluster
                )
            })
            .map(|e| e.at)
            .max()
    }

    /// The weight the newest `region-evacuate` run replaced for `region` (`last`: whichever
    /// region that run drained), from every journal: the op it journaled before the change
    /// carries the weight it read.
    pub fn saved_weight(&self, region: &str) -> Option<SavedWeight> {
        let mut best: Option<(Timestamp, SavedWeight)> = None;
        for path in self
            .journal_paths()
            .into_iter()
            .chain([self.dir.join("changes.jsonl")])
        {
            let Ok((entries, _)) = super::journal::read(&path) else {
                continue;
            };
            let mut evacuations = std::collections::BTreeSet::new();
            for e in entries {
                match &e.event {
                    Event::RunStarted { run, playbook, .. } if playbook == EVACUATE => {
                        evacuations.insert(*run);
                    }
                    Event::StepStarted {
                        run,
                        op:
                            Some(crate::ops::Op::SetRegionWeight {
                                region: r,
                                previous: Some(previous),
                                ..
                            }),
                        ..
                    } if evacuations.contains(run)
                        && (region == "last" || r == region)
                        && best.as_ref().is_none_or(|(at, _)| e.at >= *at) =>
                    {
                        best = Some((
                            e.at,
                            SavedWeight {
                                region: r.clone(),
                                weight: *previous,
                                run: *run,
                                at: e.at,
                            },
                        ));
                    }
                    _ => {}
                }
            }
        }
        best.map(|(_, s)| s)
    }
}

/// The playbook whose weight changes `region-restore` puts back.
pub const EVACUATE: &str = "region-evacuate";

/// A weight an evacuation replaced, as its journal holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedWeight {
    pub region: String,
    pub weight: u32,
    pub run: u32,
    pub at: Timestamp,
}

#[cfg(test)]
#[path = "desk_tests.rs"]
mod tests;
