//! The team journal as one console holds it: every object so far, in the store's order, and
//! the two things it does with the store: follow (list after the last key it has) and claim
//! the next sequence number for one of its own entries.

use super::store::{Claim, Store, StoreError};
use super::{Origin, Shared};
use crate::incident::chain::{self, Link, Verdict};
use crate::incident::event::Entry;
use std::collections::HashSet;

/// One object of the team journal: what it says and its exact body, which the chain hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub shared: Shared,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored journal is not what its writers wrote: a missing, edited or foreign object.
    #[error("team journal damaged: {0}")]
    Broken(String),
}

pub struct TeamLog {
    /// `PREFIX/log/`: the entries' keys are this and the zero-padded sequence number.
    dir: String,
    entries: Vec<Stored>,
    origins: HashSet<Origin>,
}

impl TeamLog {
    pub fn new(prefix: &str) -> TeamLog {
        TeamLog {
            dir: format!("{prefix}log/"),
            entries: Vec::new(),
            origins: HashSet::new(),
        }
    }

    /// Picks up where a saved copy of the journal (its bodies, in order) left off.
    pub fn resume(prefix: &str, bodies: Vec<Vec<u8>>) -> Result<TeamLog, TeamError> {
        let mut log = TeamLog::new(prefix);
        for (i, body) in bodies.into_iter().enumerate() {
            log.accept(i as u64 + 1, body)?;
        }
        Ok(log)
    }

    pub fn entries(&self) -> &[Stored] {
        &self.entries
    }

    /// Whether this entry of some console's local journal is in the team journal already.
    pub fn has(&self, origin: &Origin) -> bool {
        self.origins.contains(origin)
    }

    pub fn key(&self, seq: u64) -> String {
        format!("{}{seq:012}", self.dir)
    }

    fn seq_of(&self, key: &str) -> Option<u64> {
        let digits = key.strip_prefix(&self.dir)?;
        (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    }

    fn accept(&mut self, seq: u64, body: Vec<u8>) -> Result<(), TeamError> {
        let place = self.key(seq);
        let shared: Shared = serde_json::from_slice(&body)
            .map_err(|e| TeamError::Broken(format!("{place}: not a journal entry ({e})")))?;
        if shared.seq != seq {
            return Err(TeamError::Broken(format!(
                "{place}: says it is entry {} (moved or copied)",
                shared.seq
            )));
        }
        let want = self.entries.last().map(|s| chain::digest(&s.body));
        if shared.prev != want {
            return Err(TeamError::Broken(format!(
                "{place}: the entry before it is not the one it was written after (edited or deleted)"
            )));
        }
        self.origins.insert(shared.origin.clone());
        self.entries.push(Stored { shared, body });
        Ok(())
    }

    /// Fetches every entry after the last one held; returns how many arrived.
    pub async fn sync<S: Store>(&mut self, store: &S) -> Result<usize, TeamError> {
        let after = self.entries.last().map(|s| self.key(s.shared.seq));
        let listed = store.list(&self.dir, after.as_deref()).await?;
        let before = self.entries.len();
        for item in listed {
            let next = self.entries.len() as u64 + 1;
            let seq = self.seq_of(&item.key).ok_or_else(|| {
                TeamError::Broken(format!("{}: not an entry of the team journal", item.key))
            })?;
            if seq != next {
                return Err(TeamError::Broken(format!(
                    "{} is missing (deleted?): the next object is {}",
                    self.key(next),
                    item.key
                )));
            }
            let body = store.get(&item.key).await?;
            self.accept(seq, body)?;
        }
        Ok(self.entries.len() - before)
    }

    /// Adds one of this console's entries at the next free sequence number, exactly once:
    /// an entry whose origin is already there (an earlier attempt whose answer was lost) is
    /// not written again. Returns whether it was written now.
    pub async fn publish<S: Store>(
        &mut self,
        store: &S,
        origin: Origin,
        incident: &str,
        entry: &Entry,
    ) -> Result<bool, TeamError> {
        loop {
            if self.has(&origin) {
                return Ok(false);
            }
            let seq = self.entries.len() as u64 + 1;
            let shared = Shared {
                seq,
                prev: self.entries.last().map(|s| chain::digest(&s.body)),
                origin: origin.clone(),
                incident: incident.to_string(),
                entry: entry.clone(),
            };
            let body = serde_json::to_vec(&shared)
                .map_err(|e| TeamError::Broken(format!("cannot encode an entry: {e}")))?;
            match store.claim(&self.key(seq), body.clone()).await? {
                Claim::Created => {
                    self.accept(seq, body)?;
                    return Ok(true);
                }
                // Another console took the number: read what it wrote, then try the next.
                Claim::Taken => {
                    self.sync(store).await?;
                }
            }
        }
    }
}

/// Reads the whole team journal afresh and checks it: every sequence number present, each
/// object naming the hash of the one before. Returns the entries that could be read too.
pub async fn audit<S: Store>(
    store: &S,
    prefix: &str,
) -> Result<(Verdict, Vec<Shared>), StoreError> {
    let log = TeamLog::new(prefix);
    let listed = store.list(&log.dir, None).await?;
    let mut bodies = Vec::new();
    let mut gaps = Vec::new();
    for (i, item) in listed.iter().enumerate() {
        let want = i as u64 + 1 + gaps.len() as u64;
        match log.seq_of(&item.key) {
            Some(seq) if seq > want => {
                gaps.push(format!(
                    "{}..{} missing (deleted)",
                    log.key(want),
                    log.key(seq - 1)
                ));
            }
            Some(_) => {}
            None => gaps.push(format!("{}: not an entry of the team journal", item.key)),
        }
        bodies.push((item.key.clone(), store.get(&item.key).await?));
    }
    let parsed: Vec<Option<Shared>> = bodies
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).ok())
        .collect();
    let mut verdict = chain::verify(bodies.iter().zip(&parsed).map(|((key, body), s)| Link {
        place: key.clone(),
        body,
        prev: s.as_ref().and_then(|s| s.prev.as_deref()),
    }));
    for ((key, _), s) in bodies.iter().zip(&parsed) {
        match s {
            None => verdict.breaks.push(format!("{key}: not a journal entry")),
            Some(s) if log.seq_of(key) != Some(s.seq) => verdict.breaks.push(format!(
                "{key}: says it is entry {} (moved or copied)",
                s.seq
            )),
            Some(_) => {}
        }
    }
    verdict.breaks.extend(gaps);
    Ok((verdict, parsed.into_iter().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::event::{Event, Who};
    use crate::incident::team::store::MemStore;
    use jiff::Timestamp;
    use std::sync::atomic::Ordering;

    fn entry(seq: u64, text: &str) -> Entry {
        Entry {
            seq,
            at: Timestamp::UNIX_EPOCH,
            who: Who {
                user: "kim".into(),
                from: None,
            },
            prev: None,
            event: Event::Note { text: text.into() },
        }
    }

    fn origin(console: &str, seq: u64) -> Origin {
        Origin {
            console: console.into(),
            incident: "INC-1".into(),
            seq,
        }
    }

    #[tokio::test]
    async fn a_lost_race_renumbers_and_both_consoles_end_with_one_order() {
        let store = MemStore::default();
        let (mut a, mut b) = (TeamLog::new("t/"), TeamLog::new("t/"));
        assert!(
            a.publish(&store, origin("a", 1), "INC-1", &entry(1, "a1"))
                .await
                .unwrap()
        );
        // b has not seen a1: its claim of seq 1 loses and lands at 2.
        assert!(
            b.publish(&store, origin("b", 1), "INC-1", &entry(1, "b1"))
                .await
                .unwrap()
        );
        assert_eq!(b.entries()[1].shared.seq, 2);
        assert_eq!(a.sync(&store).await.unwrap(), 1);
        assert_eq!(a.entries(), b.entries());
        assert!(audit(&store, "t/").await.unwrap().0.verified());
    }

    #[tokio::test]
    async fn a_retried_upload_whose_first_answer_was_lost_is_not_written_twice() {
        let store = MemStore::default();
        let mut a = TeamLog::new("t/");
        a.publish(&store, origin("a", 1), "INC-1", &entry(1, "x"))
            .await
            .unwrap();
        // The console restarts without knowing the upload went through.
        let mut again = TeamLog::new("t/");
        assert!(
            !again
                .publish(&store, origin("a", 1), "INC-1", &entry(1, "x"))
                .await
                .unwrap()
        );
        assert_eq!(store.objects.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_unreachable_store_is_an_error_and_nothing_is_half_written() {
        let store = MemStore::default();
        let mut a = TeamLog::new("t/");
        store.down.store(true, Ordering::SeqCst);
        let err = a
            .publish(&store, origin("a", 1), "INC-1", &entry(1, "x"))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            TeamError::Store(StoreError("connection refused".into()))
        );
        assert!(a.entries().is_empty());
        store.down.store(false, Ordering::SeqCst);
        assert!(
            a.publish(&store, origin("a", 1), "INC-1", &entry(1, "x"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_deleted_or_edited_object_is_caught_by_followers_and_by_audit() {
        let store = MemStore::default();
        let mut a = TeamLog::new("t/");
        for i in 1..=4 {
            a.publish(&store, origin("a", i), "INC-1", &entry(i, "n"))
                .await
                .unwrap();
        }
        let key2 = a.key(2);
        let key3 = a.key(3);
        let edited = String::from_utf8(store.objects.lock().unwrap()[&key2].clone())
            .unwrap()
            .replace("\"text\":\"n\"", "\"text\":\"nothing happened\"");
        store
            .objects
            .lock()
            .unwrap()
            .insert(key2.clone(), edited.into_bytes());
        let (v, _) = audit(&store, "t/").await.unwrap();
        assert_eq!(v.breaks.len(), 1, "{v:?}");
        assert!(v.breaks[0].starts_with(&key3), "{v:?}");
        let err = TeamLog::new("t/").sync(&store).await.unwrap_err();
        assert!(err.to_string().contains(&key3), "{err}");

        store.objects.lock().unwrap().remove(&key3);
        let (v, _) = audit(&store, "t/").await.unwrap();
        assert!(v.breaks.iter().any(|b| b.contains("missing")), "{v:?}");
        let err = TeamLog::new("t/").sync(&store).await.unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
