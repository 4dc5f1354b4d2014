//! The console's follower: every round it uploads what this console wrote and the team
//! journal lacks, then fetches what the others wrote, and says how the store is doing.

use super::log::{TeamError, TeamLog};
use super::presence;
use super::store::Store;
use crate::incident::desk::Desk;
use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// How often the store is listed for the others' entries when nothing is waiting.
pub const POLL: SignedDuration = SignedDuration::from_secs(2);
/// How often this console's heartbeat is written and the others' are listed.
pub const HEARTBEAT: SignedDuration = SignedDuration::from_secs(10);

/// What the header says about the team journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamStatus {
    pub location: String,
    /// Since when the store has not answered, and its last error.
    pub unreachable: Option<(Timestamp, String)>,
    /// This console's entries not uploaded yet.
    pub waiting: usize,
    /// The store's journal is not what was written (edited, deleted): following stopped.
    pub broken: Option<String>,
    /// Other consoles seen in the last 30 s.
    pub others: Vec<String>,
}

impl TeamStatus {
    /// The header's line; `None` when all is well and nobody else is here.
    pub fn line(&self) -> Option<String> {
        if let Some(b) = &self.broken {
            return Some(format!("team journal: {b}"));
        }
        if let Some((since, _)) = &self.unreachable {
            return Some(format!(
                "team journal unreachable since {} — {} {} waiting",
                since.strftime("%H:%M"),
                self.waiting,
                if self.waiting == 1 {
                    "entry"
                } else {
                    "entries"
                }
            ));
        }
        (!self.others.is_empty()).then(|| format!("with {}", self.others.join(", ")))
    }
}

pub struct Follower<S> {
    store: S,
    prefix: String,
    log: TeamLog,
    /// How many of the log's entries the desk has taken in.
    absorbed: usize,
    last_listed: Option<Timestamp>,
    last_heartbeat: Option<Timestamp>,
    /// Whether this follower says it is in the incident (a console does; a one-shot
    /// `opsdeck incident …` command does not, or it would show in every header for 30 s).
    present: bool,
    pub status: TeamStatus,
}

impl<S: Store> Follower<S> {
    /// Resumes from the desk's saved copy; one that does not chain is dropped and fetched
    /// again.
    pub fn new(store: S, location: &super::config::Location, desk: &mut Desk) -> Follower<S> {
        let prefix = location.prefix.clone();
        let bodies = desk.team().map(|b| b.bodies()).unwrap_or_default();
        let log = match TeamLog::resume(&prefix, bodies) {
            Ok(log) => log,
            Err(e) => {
                tracing::warn!("saved team journal dropped: {e}");
                let _ = desk.reset_team();
                TeamLog::new(&prefix)
            }
        };
        Follower {
            store,
            absorbed: log.entries().len(),
            log,
            prefix,
            last_listed: None,
            last_heartbeat: None,
            present: true,
            status: TeamStatus {
                location: location.to_string(),
                ..TeamStatus::default()
            },
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// A follower that writes no heartbeat: for commands that come and go.
    pub fn absent(mut self) -> Follower<S> {
        self.present = false;
        self
    }

    /// One round, if one is due: at once when this console has entries waiting, else every
    /// [`POLL`]. Returns whether the desk's incidents changed.
    pub async fn round(&mut self, desk: &Mutex<Desk>, now: Timestamp) -> bool {
        let (pending, console, active) = match desk.lock() {
            Ok(d) => (
                d.team().map(|b| b.pending().to_vec()).unwrap_or_default(),
                d.team().map(|b| b.console.clone()).unwrap_or_default(),
                d.active().map(|i| i.id.clone()),
            ),
            Err(_) => return false,
        };
        let due = self
            .last_listed
            .is_none_or(|t| now.duration_since(t) >= POLL);
        if self.status.broken.is_some() || (pending.is_empty() && !due) {
            return false;
        }
        let mut result = Ok(());
        if due {
            self.last_listed = Some(now);
            result = self.log.sync(&self.store).await.map(|_| ());
        }
        for (origin, entry) in &pending {
            if result.is_err() {
                break;
            }
            let incident = origin.incident.clone();
            result = self
                .log
                .publish(&self.store, origin.clone(), &incident, entry)
                .await
                .map(|_| ());
        }
        if result.is_ok() && active.is_some() && self.present {
            result = self.heartbeat(&console, now).await;
        }
        match result {
            Ok(()) => self.status.unreachable = None,
            Err(TeamError::Store(e)) => {
                let since = self.status.unreachable.as_ref().map_or(now, |(t, _)| *t);
                self.status.unreachable = Some((since, e.0));
            }
            Err(e @ TeamError::Broken(_)) => self.status.broken = Some(e.to_string()),
        }
        let new = &self.log.entries()[self.absorbed..];
        match desk.lock() {
            Ok(mut d) => {
                let changed = match d.absorb(new) {
                    Ok(changed) => {
                        self.absorbed = self.log.entries().len();
                        changed
                    }
                    // Not taken in: offered again next round.
                    Err(e) => {
                        tracing::warn!("saving the team journal: {e}");
                        return false;
                    }
                };
                self.status.waiting = d.team().map_or(0, |b| b.pending().len());
                changed || !new.is_empty()
            }
            Err(_) => false,
        }
    }

    async fn heartbeat(&mut self, console: &str, now: Timestamp) -> Result<(), TeamError> {
        if self
            .last_heartbeat
            .is_some_and(|t| now.duration_since(t) < HEARTBEAT)
        {
            return Ok(());
        }
        self.last_heartbeat = Some(now);
        let key = presence::key(&self.prefix, console);
        self.store.put(&key, now.to_string().into_bytes()).await?;
        let listed = self.store.list(&presence::dir(&self.prefix), None).await?;
        self.status.others = presence::others(&self.prefix, &listed, console, now);
        Ok(())
    }
}

/// What one round of the running follower tells the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub status: TeamStatus,
    /// The desk's incidents changed (entries arrived, or which one is open).
    pub changed: bool,
}

/// Runs `follower` for `desk` until the receiver is dropped: a round every [`POLL`], and one
/// at once whenever the desk writes an entry of its own (the desk wakes it). Rounds run on
/// their own task and lock the desk only between store calls, so a slow or unreachable
/// store never holds up a key press. A round that changed nothing is not reported.
pub fn spawn<S: Store + 'static>(
    follower: Follower<S>,
    desk: Arc<Mutex<Desk>>,
) -> mpsc::UnboundedReceiver<Round> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut said: Option<TeamStatus> = None;
    let report = move |follower: &Follower<S>, changed: bool| {
        if !changed && said.as_ref() == Some(&follower.status) {
            return true;
        }
        said = Some(follower.status.clone());
        let round = Round {
            status: follower.status.clone(),
            changed,
        };
        tx.send(round).is_ok()
    };
    tokio::spawn(rounds(follower, desk, report, None));
    rx
}

/// A follower keeping a desk in step while a command works ([`alongside`]).
pub struct Following<S> {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<Follower<S>>,
}

/// Follows the team journal for `desk` on its own task, as [`spawn`] does for the console,
/// while a command (a `playbook run`) writes to it: its steps reach the other consoles as
/// they are journaled, not when it exits.
pub fn alongside<S: Store + 'static>(
    follower: Follower<S>,
    desk: Arc<Mutex<Desk>>,
) -> Following<S> {
    let stop = Arc::new(Notify::new());
    let task = tokio::spawn(rounds(follower, desk, |_, _| true, Some(stop.clone())));
    Following { stop, task }
}

impl<S> Following<S> {
    /// Stops following after one last round, which uploads what the command wrote last;
    /// the follower's status then says what still waits.
    pub async fn finish(self) -> Option<Follower<S>> {
        self.stop.notify_one();
        self.task.await.ok()
    }
}

/// Rounds until `report` says stop, or `stop` is notified (then one last round runs, and the
/// follower is handed back). A round in progress is never cut short: it may be between the
/// store's write of an entry and the desk's note of it.
async fn rounds<S: Store>(
    mut follower: Follower<S>,
    desk: Arc<Mutex<Desk>>,
    mut report: impl FnMut(&Follower<S>, bool) -> bool,
    stop: Option<Arc<Notify>>,
) -> Follower<S> {
    let wake = Arc::new(Notify::new());
    if let Ok(mut d) = desk.lock() {
        d.wake_on_team_write(wake.clone());
    }
    let stopped = async {
        match &stop {
            Some(stop) => stop.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stopped);
    loop {
        let changed = follower.round(&desk, Timestamp::now()).await;
        if !report(&follower, changed) {
            return follower;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL.unsigned_abs()) => {}
            () = wake.notified() => {}
            () = &mut stopped => {
                follower.round(&desk, Timestamp::now()).await;
                return follower;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::desk::NewIncident;
    use crate::incident::event::{Severity, Who};
    use crate::incident::team::config::Location;
    use crate::incident::team::store::MemStore;

    fn desk(dir: &std::path::Path, user: &str) -> Desk {
        let who = Who {
            user: user.into(),
            from: None,
        };
        Desk::open_team(dir, who, format!("{user}@bastion.{user}")).unwrap()
    }

    /// Rounds that each list the store (the clock moved past [`POLL`]).
    async fn rounds(f: &mut Follower<&MemStore>, d: &Mutex<Desk>, n: i64) {
        for i in 1..=n {
            f.round(d, Timestamp::now() + SignedDuration::from_hours(i))
                .await;
        }
    }

    impl Store for &MemStore {
        async fn claim(
            &self,
            key: &str,
            body: Vec<u8>,
        ) -> Result<super::super::store::Claim, super::super::store::StoreError> {
            (*self).claim(key, body).await
        }
        async fn put(
            &self,
            key: &str,
            body: Vec<u8>,
        ) -> Result<(), super::super::store::StoreError> {
            (*self).put(key, body).await
        }
        async fn get(&self, key: &str) -> Result<Vec<u8>, super::super::store::StoreError> {
            (*self).get(key).await
        }
        async fn list(
            &self,
            prefix: &str,
            after: Option<&str>,
        ) -> Result<Vec<super::super::store::Listed>, super::super::store::StoreError> {
            (*self).list(prefix, after).await
        }
    }

    #[tokio::test]
    async fn a_console_that_never_wrote_anything_takes_in_the_teams_incident() {
        let store = MemStore::default();
        let at = Location::parse("s3://team/t").unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut a = desk(&home.path().join("a/incidents"), "ana");
        let mut fa = Follower::new(&store, &at, &mut a);
        let a = Mutex::new(a);
        let opened = a
            .lock()
            .unwrap()
            .open_incident(
                NewIncident {
                    title: "checkout 5xx".into(),
                    severity: Severity::Sev1,
                    alarm: None,
                    detected_at: None,
                    recognised: None,
                    drill: None,
                },
                Timestamp::now(),
            )
            .unwrap()
            .id
            .clone();
        rounds(&mut fa, &a, 1).await;
        // B's desk directory does not exist yet: nothing was ever journaled there.
        let dir = home.path().join("b/incidents");
        let mut b = desk(&dir, "kim");
        assert!(!dir.exists());
        let mut fb = Follower::new(&store, &at, &mut b);
        let b = Mutex::new(b);
        assert!(fb.round(&b, Timestamp::now()).await, "the incident arrived");
        assert_eq!(
            b.lock().unwrap().active().map(|i| i.id.clone()),
            Some(opened)
        );
        assert!(dir.join("team.jsonl").exists(), "saved for the next start");
    }

    #[tokio::test]
    async fn another_consoles_promotion_holds_back_the_anti_flap_guard_here() {
        let store = MemStore::default();
        let at = Location::parse("s3://team/t").unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut a = desk(&home.path().join("a"), "ana");
        let mut fa = Follower::new(&store, &at, &mut a);
        let a = Mutex::new(a);
        let mut b = desk(&home.path().join("b"), "kim");
        let mut fb = Follower::new(&store, &at, &mut b);
        let b = Mutex::new(b);
        let new = NewIncident {
            title: "writes fail".into(),
            severity: Severity::Sev1,
            alarm: None,
            detected_at: None,
            recognised: None,
            drill: None,
        };
        let promoted = Timestamp::now();
        {
            let mut b = b.lock().unwrap();
            b.open_incident(new, promoted).unwrap();
            b.record(
                crate::incident::event::Event::StepStarted {
                    run: 1,
                    step: "promote".into(),
                    detail: "promote shop-mariadb/mariadb-1".into(),
                    op: Some(crate::ops::Op::Promote {
                        cluster: "shop-mariadb".into(),
                        member: "mariadb-1".into(),
                    }),
                },
                promoted,
            )
            .unwrap();
        }
        rounds(&mut fb, &b, 1).await;
        assert_eq!(a.lock().unwrap().last_promotion("shop-mariadb"), None);
        rounds(&mut fa, &a, 1).await;
        assert_eq!(
            a.lock().unwrap().last_promotion("shop-mariadb"),
            Some(promoted),
            "kim's failover on the other bastion counts here"
        );
    }
}
