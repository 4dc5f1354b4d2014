//! The desk's side of the team journal: the store's entries as far as this console has
//! them (saved next to the local journals), and this console's entries not uploaded yet.
//! The incidents a team desk shows are built from both.

use super::log::Stored;
use super::{Origin, Shared};
use crate::incident::event::{Entry, Event};
use crate::incident::state::Incident;
use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct Book {
    pub console: String,
    /// The team journal's bodies, one a line, in the store's order.
    mirror: PathBuf,
    shared: Vec<Shared>,
    origins: HashSet<Origin>,
    /// This console's entries the team journal does not have yet, oldest first.
    pending: Vec<(Origin, Entry)>,
    /// The running follower, woken by every entry this console writes so it uploads at once.
    wake: Option<std::sync::Arc<tokio::sync::Notify>>,
}

impl Book {
    /// Reads the saved copy; a line that does not parse ends it (the rest is fetched again).
    pub fn open(dir: &Path, console: String) -> Book {
        let mirror = dir.join("team.jsonl");
        let shared: Vec<Shared> = std::fs::read(&mirror)
            .unwrap_or_default()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map_while(|l| serde_json::from_slice(l).ok())
            .collect();
        let origins = shared.iter().map(|s| s.origin.clone()).collect();
        Book {
            console,
            mirror,
            shared,
            origins,
            pending: vec![],
            wake: None,
        }
    }

    /// The saved bodies, for the follower to resume from.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.shared
            .iter()
            .filter_map(|s| serde_json::to_vec(s).ok())
            .collect()
    }

    /// Forgets the saved copy (it did not match the store): everything is fetched again.
    pub fn reset(&mut self) -> io::Result<()> {
        self.shared.clear();
        self.origins.clear();
        std::fs::write(&self.mirror, b"")
    }

    /// Notes one of this console's entries, written to local journal `incident`, for upload.
    pub fn wrote(&mut self, incident: &str, entry: &Entry) {
        let origin = Origin {
            console: self.console.clone(),
            incident: incident.to_string(),
            seq: entry.seq,
        };
        if !self.origins.contains(&origin) {
            self.pending.push((origin, entry.clone()));
            if let Some(wake) = &self.wake {
                wake.notify_one();
            }
        }
    }

    /// Wakes `wake` whenever this console writes an entry (the follower then uploads it).
    pub fn wake_on_write(&mut self, wake: std::sync::Arc<tokio::sync::Notify>) {
        self.wake = Some(wake);
    }

    pub fn pending(&self) -> &[(Origin, Entry)] {
        &self.pending
    }

    /// Takes in what the store has that this console did not: saves it, and drops what it
    /// uploaded from the pending list.
    pub fn absorb(&mut self, new: &[Stored]) -> io::Result<()> {
        if new.is_empty() {
            return Ok(());
        }
        // A console that never wrote an incident has no desk directory yet.
        if let Some(dir) = self.mirror.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.mirror)?;
        let mut lines = Vec::new();
        for s in new {
            lines.extend_from_slice(&s.body);
            lines.push(b'\n');
        }
        // Saved first, then taken in: a failed write leaves nothing half-absorbed, and the
        // follower offers the same entries again.
        file.write_all(&lines)?;
        file.sync_data()?;
        for s in new {
            self.origins.insert(s.shared.origin.clone());
            self.shared.push(s.shared.clone());
        }
        let origins = &self.origins;
        self.pending.retain(|(o, _)| !origins.contains(o));
        Ok(())
    }

    /// Which incident each merged-away incident now belongs to.
    fn merges(&self) -> BTreeMap<&str, &str> {
        self.shared
            .iter()
            .filter_map(|s| match &s.entry.event {
                Event::Merged { from, into, .. } => Some((from.as_str(), into.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Every incident id the team journal or this console knows, oldest first.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .shared
            .iter()
            .map(|s| &s.incident)
            .chain(self.pending.iter().map(|(o, _)| &o.incident))
            .cloned()
            .collect();
        ids.sort_by(|a, b| stamp(a).cmp(stamp(b)).then(a.cmp(b)));
        ids.dedup();
        ids
    }

    /// One incident as the team sees it: its entries and those of incidents merged into it,
    /// in the store's order, then this console's not yet uploaded. Each says which console
    /// wrote it.
    pub fn incident(&self, id: &str) -> Option<Incident> {
        let merges = self.merges();
        if merges.contains_key(id) {
            return None;
        }
        let belongs = |inc: &str| inc == id || merges.get(inc) == Some(&id);
        let shared = self
            .shared
            .iter()
            .map(|s| (&s.origin.console, &s.incident, &s.entry));
        let pending = self
            .pending
            .iter()
            .map(|(o, e)| (&o.console, &o.incident, e));
        let entries: Vec<Entry> = shared
            .chain(pending)
            .filter(|(_, inc, e)| {
                belongs(inc) && (inc.as_str() == id || !matches!(e.event, Event::Opened { .. }))
            })
            .enumerate()
            .map(|(i, (console, _, e))| {
                let mut e = e.clone();
                e.seq = i as u64 + 1;
                e.who.from = Some(match e.who.from.take() {
                    Some(from) => format!("{from}, console {console}"),
                    None => format!("console {console}"),
                });
                e
            })
            .collect();
        Incident::replay(&entries)
    }

    /// The open incidents merged away from nothing, oldest first.
    pub fn open_ids(&self) -> Vec<String> {
        self.ids()
            .into_iter()
            .filter(|id| self.incident(id).is_some_and(|i| i.is_open()))
            .collect()
    }

    /// Open incidents for the same alarm, as pairs (survivor, other): the earlier
    /// recognition survives. Consoles partitioned from each other open these.
    pub fn merge_offers(&self) -> Vec<(String, String)> {
        let open: Vec<Incident> = self
            .open_ids()
            .iter()
            .filter_map(|id| self.incident(id))
            .collect();
        let mut offers = Vec::new();
        for (i, a) in open.iter().enumerate() {
            for b in &open[i + 1..] {
                if a.alarm.is_some() && a.alarm == b.alarm {
                    let (keep, other) = if (b.recognised_at, &b.id) < (a.recognised_at, &a.id) {
                        (b, a)
                    } else {
                        (a, b)
                    };
                    offers.push((keep.id.clone(), other.id.clone()));
                }
            }
        }
        offers
    }

    /// Whether the team knows `id`.
    pub fn has(&self, id: &str) -> bool {
        self.shared.iter().any(|s| s.incident == id)
            || self.pending.iter().any(|(o, _)| o.incident == id)
    }
}

/// The recognition stamp in an incident id, which orders incidents by time.
fn stamp(id: &str) -> &str {
    id.split_once('-').map_or(id, |(_, rest)| rest)
}
