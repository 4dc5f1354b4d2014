//! The desk's side of the team journal: the store's entries as far as this console has
//! them (saved next to the local journals), and this console's entries not uploaded yet.
//! The incidents a team desk shows are built from both.

use super::log::Stored;
use super::{Origin, Shared};
use crate::incident::chain::{self, Link, Verdict};
use crate::incident::event::{Entry, Event};
use crate::incident::state::{Incident, id_stamp};
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
        let text = std::fs::read(&mirror).unwrap_or_default();
        let lines: Vec<&[u8]> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let shared: Vec<Shared> = lines
            .iter()
            .map_while(|l| serde_json::from_slice(l).ok())
            .collect();
        if shared.len() < lines.len() {
            // A line cut short by a crash: what follows it would be appended after it and
            // lost on every later start, so the saved copy ends before it.
            let keep: Vec<u8> = lines[..shared.len()]
                .iter()
                .flat_map(|l| l.iter().copied().chain([b'\n']))
                .collect();
            if let Err(e) = std::fs::write(&mirror, keep) {
                tracing::warn!("{}: {e}", mirror.display());
            }
        }
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
        ids.sort_by(|a, b| id_stamp(a).cmp(id_stamp(b)).then(a.cmp(b)));
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

    /// Checks the chain of the team journal as this console saved it, body for body.
    pub fn verify(&self) -> Verdict {
        let text = std::fs::read(&self.mirror).unwrap_or_default();
        let bodies: Vec<&[u8]> = text
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let parsed: Vec<Option<Shared>> = bodies
            .iter()
            .map(|b| serde_json::from_slice(b).ok())
            .collect();
        let mut verdict = chain::verify(bodies.iter().zip(&parsed).map(|(body, s)| {
            Link {
                place: s
                    .as_ref()
                    .map_or_else(|| "an entry".into(), |s| format!("team entry {}", s.seq)),
                body,
                prev: s.as_ref().and_then(|s| s.prev.as_deref()),
            }
        }));
        verdict.breaks.extend(
            parsed
                .iter()
                .filter(|s| s.is_none())
                .map(|_| "a line of the saved team journal is not an entry".to_string()),
        );
        verdict
    }

    /// Whether the team knows `id`.
    pub fn has(&self, id: &str) -> bool {
        self.shared.iter().any(|s| s.incident == id)
            || self.pending.iter().any(|(o, _)| o.incident == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::event::Who;

    fn stored(seq: u64, before: Option<&Stored>) -> Stored {
        let shared = Shared {
            seq,
            prev: before.map(|b| chain::digest(&b.body)),
            origin: Origin {
                console: "kim@bastion.a1".into(),
                incident: "INC-1".into(),
                seq,
            },
            incident: "INC-1".into(),
            entry: Entry {
                seq,
                at: jiff::Timestamp::UNIX_EPOCH,
                who: Who {
                    user: "kim".into(),
                    from: None,
                },
                prev: None,
                event: Event::Note {
                    text: format!("note {seq}"),
                },
            },
        };
        let body = serde_json::to_vec(&shared).unwrap();
        Stored { shared, body }
    }

    #[test]
    fn a_line_cut_short_by_a_crash_does_not_swallow_what_comes_after() {
        let dir = tempfile::tempdir().unwrap();
        let one = stored(1, None);
        Book::open(dir.path(), "a".into())
            .absorb(std::slice::from_ref(&one))
            .unwrap();
        let mirror = dir.path().join("team.jsonl");
        let mut file = OpenOptions::new().append(true).open(&mirror).unwrap();
        file.write_all(br#"{"seq":2,"pr"#).unwrap();

        let mut book = Book::open(dir.path(), "a".into());
        assert_eq!(book.bodies().len(), 1);
        let two = stored(2, Some(&one));
        book.absorb(&[two]).unwrap();

        let book = Book::open(dir.path(), "a".into());
        assert_eq!(
            book.bodies().len(),
            2,
            "the entry saved after the torn line"
        );
        let verdict = book.verify();
        assert!(verdict.verified(), "{}", verdict.summary());
        assert_eq!(verdict.entries, 2);
    }

    #[test]
    fn a_console_that_never_wrote_saves_what_it_fetches() {
        let dir = tempfile::tempdir().unwrap();
        let incidents = dir.path().join("data/incidents");
        let mut book = Book::open(&incidents, "b".into());
        book.absorb(&[stored(1, None)]).unwrap();
        assert_eq!(Book::open(&incidents, "b".into()).bodies().len(), 1);
    }

    #[test]
    fn an_edited_saved_entry_breaks_the_chain_at_the_one_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let one = stored(1, None);
        let two = stored(2, Some(&one));
        let three = stored(3, Some(&two));
        Book::open(dir.path(), "a".into())
            .absorb(&[one, two, three])
            .unwrap();
        let mirror = dir.path().join("team.jsonl");
        let text = std::fs::read_to_string(&mirror).unwrap();
        std::fs::write(&mirror, text.replace("note 2", "note 9")).unwrap();
        let verdict = Book::open(dir.path(), "a".into()).verify();
        assert_eq!(
            verdict.breaks,
            [
                "team entry 3: the entry before it is not the one it was written after (edited or deleted)"
            ]
        );
    }
}
