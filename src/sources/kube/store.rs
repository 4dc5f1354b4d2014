//! The shared tables the watchers write into, and the publisher that turns them into one
//! `ClusterSnapshot` at a bounded rate. Errors never clear a table: a re-list fills a side
//! buffer and swaps it in whole.

use super::metrics::{self, Metrics};
use super::watch::Tuning;
use crate::model::Feed;
use crate::model::cluster::{
    ClusterSnapshot, DeploymentRow, EventRow, HpaRow, ListProgress, NodeRow, PdbRow, PodRow,
    RevisionRow,
};
use crate::model::rows::Rows;
use crate::model::tally::PodTally;
use crate::sources::{Tx, publish, publish_error};
use ::kube::Resource;
use ::kube::runtime::watcher::Event;
use imbl::Vector;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Section {
    Nodes,
    Deployments,
    ReplicaSets,
    Pods,
    Hpas,
    Pdbs,
    Events,
}

pub(super) const SECTIONS: usize = 7;

impl Section {
    pub(super) fn name(self) -> &'static str {
        match self {
            Section::Nodes => "nodes",
            Section::Deployments => "deployments",
            Section::ReplicaSets => "replicasets",
            Section::Pods => "pods",
            Section::Hpas => "hpa",
            Section::Pdbs => "pdb",
            Section::Events => "events",
        }
    }
}

/// `(namespace, name)`, the order every table is shown in (nodes have no namespace).
pub(super) type Key = (String, String);

/// A section's rows in key order, as persistent vectors: a watch event finds its row by
/// binary search and changes it in O(log n), and a snapshot shares `rows` instead of
/// copying them.
pub(super) struct Table<R: Row> {
    /// `keys[i]` is the key of `rows[i]`, both sorted by key.
    keys: Vector<Key>,
    rows: Vector<R>,
    /// Filled during a re-list and swapped in at its end, so the old rows stay on screen
    /// until the new ones are complete: never blank, never half.
    relist: Option<BTreeMap<Key, R>>,
    /// The first list of a table that has shown nothing yet goes straight into `rows`, so
    /// its pages appear as they arrive.
    pub(super) filling: bool,
    pub(super) synced: bool,
    /// The API server's estimate of the list's length (`remainingItemCount` + 1).
    pub(super) estimate: Option<usize>,
    /// Rows changed since the last snapshot.
    pub(super) dirty: bool,
    /// What the overview counts over these rows, kept as they change.
    pub(super) tally: R::Tally,
}

impl<R: Row> Default for Table<R> {
    fn default() -> Self {
        Table {
            keys: Vector::new(),
            rows: Vector::new(),
            relist: None,
            filling: false,
            synced: false,
            estimate: None,
            dirty: false,
            tally: R::Tally::default(),
        }
    }
}

impl<R: Row> Table<R> {
    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows so far and the expected total, while the first list fills the table.
    fn progress(&self) -> Option<(usize, Option<usize>)> {
        let listed = self.rows.len();
        self.filling
            .then(|| (listed, self.estimate.map(|of| of.max(listed))))
    }

    fn upsert(&mut self, key: Key, row: R) {
        let at = self.keys.binary_search(&key);
        // The old row's share goes first: both may share an entry the new one keeps.
        if let Ok(i) = at {
            self.rows[i].remove_from(&mut self.tally);
        }
        row.add_to(&mut self.tally);
        match at {
            Ok(i) => {
                self.rows.set(i, row);
            }
            // Lists arrive in key order, so most new rows go at the end.
            Err(i) if i == self.keys.len() => {
                self.keys.push_back(key);
                self.rows.push_back(row);
            }
            Err(i) => {
                self.keys.insert(i, key);
                self.rows.insert(i, row);
            }
        }
    }

    fn remove(&mut self, key: &Key) -> bool {
        let Ok(i) = self.keys.binary_search(key) else {
            return false;
        };
        self.keys.remove(i);
        self.rows.remove(i).remove_from(&mut self.tally);
        true
    }

    fn replace(&mut self, rows: BTreeMap<Key, R>) {
        (self.keys, self.rows) = rows.into_iter().unzip();
        self.tally = R::Tally::default();
        for row in &self.rows {
            row.add_to(&mut self.tally);
        }
    }

    /// The rows in key order, shared with the table.
    fn shared(&self) -> Rows<R> {
        self.rows.clone().into()
    }

    fn in_order(&self) -> Vec<R> {
        self.rows.iter().cloned().collect()
    }

    fn sorted(&self, order: impl Fn(&R, &R) -> std::cmp::Ordering) -> Vec<R> {
        let mut rows = self.in_order();
        rows.sort_by(order);
        rows
    }

    /// New usage figures for every row (metrics.k8s.io answers for all of them at once).
    fn measure(&mut self, metrics: Option<&Metrics>) {
        for row in self.rows.iter_mut() {
            row.remove_from(&mut self.tally);
            row.measure(metrics);
            row.add_to(&mut self.tally);
        }
        self.dirty = true;
    }
}

/// What a kind of row gets besides its projection: the usage columns metrics.k8s.io adds
/// (nodes and pods), and the counts the overview keeps over it (pods).
pub(super) trait Row: Clone {
    type Tally: Default + Clone;

    fn measure(&mut self, _metrics: Option<&Metrics>) {}

    fn add_to(&self, _tally: &mut Self::Tally) {}

    fn remove_from(&self, _tally: &mut Self::Tally) {}
}

impl Row for NodeRow {
    type Tally = ();

    fn measure(&mut self, metrics: Option<&Metrics>) {
        let used = metrics.and_then(|m| m.nodes.get(&self.name));
        (self.cpu_pct, self.mem_pct) = match (used, self.allocatable) {
            (Some(used), Some(alloc)) => (
                metrics::percent(used.cpu_millis, alloc.cpu_millis),
                metrics::percent(used.memory_bytes, alloc.memory_bytes),
            ),
            _ => (None, None),
        };
    }
}

impl Row for PodRow {
    type Tally = PodTally;

    fn add_to(&self, tally: &mut PodTally) {
        tally.add(self);
    }

    fn remove_from(&self, tally: &mut PodTally) {
        tally.remove(self);
    }

    fn measure(&mut self, metrics: Option<&Metrics>) {
        let used = metrics.and_then(|m| m.pods.get(&format!("{}/{}", self.namespace, self.name)));
        self.cpu_millis = used.map(|u| u32::try_from(u.cpu_millis).unwrap_or(u32::MAX));
        self.memory_bytes = used.map(|u| u.memory_bytes);
    }
}

impl Row for DeploymentRow {
    type Tally = ();
}

impl Row for RevisionRow {
    type Tally = ();
}

impl Row for HpaRow {
    type Tally = ();
}

impl Row for PdbRow {
    type Tally = ();
}

impl Row for EventRow {
    type Tally = ();
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Problem {
    Forbidden,
    Failed(String),
}

#[derive(Default)]
pub(super) struct State {
    pub(super) nodes: Table<NodeRow>,
    pub(super) deployments: Table<DeploymentRow>,
    pub(super) revisions: Table<RevisionRow>,
    pub(super) pods: Table<PodRow>,
    pub(super) hpas: Table<HpaRow>,
    pub(super) pdbs: Table<PdbRow>,
    pub(super) events: Table<EventRow>,
    pub(super) problems: BTreeMap<Section, Problem>,
    pub(super) synced: BTreeMap<Section, bool>,
    /// Shared with each watcher's event handling, which measures the rows it applies.
    pub(super) metrics: Option<Arc<Metrics>>,
    /// Metrics changed since the last snapshot (they are part of the node and pod rows).
    pub(super) metrics_dirty: bool,
    /// A table got its first rows, or its first list is complete: worth a snapshot at
    /// once, whatever the publish rate.
    pub(super) at_once: bool,
    /// The API server has answered something (rows, or at least a 403): until then a
    /// snapshot must not claim a successful update.
    pub(super) heard: bool,
}

#[derive(Default)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Notify,
    /// Rung with `State::at_once`, so a snapshot already waiting out the publish rate goes
    /// out now: the end of a first list must not wait up to `publish_every`.
    pub(super) urgent: Notify,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain row maps behind, still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Applies one watcher event to a table, with the usage figures known so far.
pub(super) fn apply<K, R: Row>(
    table: &mut Table<R>,
    event: Event<K>,
    project: fn(&K) -> Option<R>,
    key: fn(&K) -> Key,
    metrics: Option<&Metrics>,
) {
    let measured = |obj: &K| {
        project(obj).map(|mut row| {
            row.measure(metrics);
            row
        })
    };
    match event {
        Event::Init => {
            // A first list that failed half-way and starts again is a re-list of what it
            // showed so far, and a listed table that was empty shows "none" until the new
            // list is whole.
            table.filling = table.rows.is_empty() && !table.synced;
            table.relist = (!table.filling).then(BTreeMap::new);
        }
        Event::InitApply(obj) => {
            if let Some(row) = measured(&obj) {
                match &mut table.relist {
                    Some(relist) => {
                        relist.insert(key(&obj), row);
                    }
                    None => {
                        table.upsert(key(&obj), row);
                        table.dirty = true;
                    }
                }
            }
        }
        Event::InitDone => {
            if let Some(relist) = table.relist.take() {
                table.replace(relist);
            }
            table.filling = false;
            table.synced = true;
            table.dirty = true;
        }
        Event::Apply(obj) => {
            let k = key(&obj);
            match measured(&obj) {
                Some(row) => table.upsert(k, row),
                None => {
                    table.remove(&k);
                }
            }
            table.dirty = true;
        }
        Event::Delete(obj) => table.dirty |= table.remove(&key(&obj)),
    }
}

pub(super) fn meta_key<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// What a feed shows before its first list: whose it is, and that everything is loading.
pub(super) fn starting(context: String, namespace: Option<String>) -> ClusterSnapshot {
    ClusterSnapshot {
        context,
        namespace,
        loading: all_sections(),
        ..ClusterSnapshot::default()
    }
}

pub(super) async fn publish_loop(
    shared: Arc<Shared>,
    tx: Tx<ClusterSnapshot>,
    mut snapshot: ClusterSnapshot,
    t: Tuning,
) {
    let mut last_publish: Option<Instant> = None;
    loop {
        shared.changed.notified().await;
        let at_once = std::mem::take(&mut shared.lock().at_once);
        if let Some(at) = last_publish
            && !at_once
        {
            tokio::select! {
                () = tokio::time::sleep_until(at + t.publish_every) => {}
                () = shared.urgent.notified() => {}
            }
            shared.lock().at_once = false;
        }
        if tx.is_closed() {
            return;
        }
        let (error, heard) = {
            let mut state = shared.lock();
            fill_rows(&mut snapshot, &mut state, t.max_events);
            snapshot.progress = progress(&state);
            snapshot.forbidden = sections_with(&state, |p| *p == Problem::Forbidden);
            snapshot.loading = (0..SECTIONS)
                .map(section_at)
                .filter(|s| !state.synced.get(s).copied().unwrap_or(false))
                .filter(|s| state.problems.get(s) != Some(&Problem::Forbidden))
                .map(|s| s.name().to_string())
                .collect();
            (failure_text(&state), state.heard)
        };
        let now = Timestamp::now();
        let shown_error = tx.borrow().health.last_error.clone();
        if !heard {
            publish_unconfirmed(&tx, &snapshot);
            if let Some(error) = error
                && shown_error.as_ref() != Some(&error)
            {
                publish_error(&tx, error);
            }
            last_publish = Some(Instant::now());
            continue;
        }
        match error {
            None => publish(&tx, snapshot.clone(), now),
            Some(error) => {
                // Whatever did arrive is still news; the error says the rest is stale.
                if tx.borrow().data != snapshot {
                    publish(&tx, snapshot.clone(), now);
                }
                if tx.borrow().health.last_error.is_none() || shown_error.as_ref() != Some(&error) {
                    publish_error(&tx, error);
                }
            }
        }
        last_publish = Some(Instant::now());
    }
}

/// The context and what is still loading, leaving the health (and its "last update") alone.
fn publish_unconfirmed(tx: &Tx<ClusterSnapshot>, snapshot: &ClusterSnapshot) {
    tx.send_if_modified(|current| {
        if current.data == *snapshot {
            return false;
        }
        *current = Arc::new(Feed {
            data: snapshot.clone(),
            health: current.health.clone(),
        });
        true
    });
}

fn all_sections() -> Vec<String> {
    (0..SECTIONS)
        .map(|i| section_at(i).name().to_string())
        .collect()
}

fn section_at(i: usize) -> Section {
    [
        Section::Nodes,
        Section::Deployments,
        Section::ReplicaSets,
        Section::Pods,
        Section::Hpas,
        Section::Pdbs,
        Section::Events,
    ][i % SECTIONS]
}

fn sections_with(state: &State, pick: impl Fn(&Problem) -> bool) -> Vec<String> {
    state
        .problems
        .iter()
        .filter(|(_, p)| pick(p))
        .map(|(s, _)| s.name().to_string())
        .collect()
}

/// `nodes, pods: cannot reach the API server: Connection refused`, or with every watch
/// failing the same way just `API server: …` — one line for the pane's staleness banner.
fn failure_text(state: &State) -> Option<String> {
    let mut by_message: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (section, problem) in &state.problems {
        if let Problem::Failed(message) = problem {
            by_message
                .entry(message.as_str())
                .or_default()
                .push(section.name());
        }
    }
    if by_message.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_message
        .into_iter()
        .map(|(message, sections)| {
            if sections.len() == SECTIONS {
                message.to_string()
            } else {
                format!("{}: {message}", sections.join(", "))
            }
        })
        .collect();
    Some(parts.join("; "))
}

/// Rebuilds the sections whose rows changed; the others keep what they had.
fn fill_rows(snapshot: &mut ClusterSnapshot, state: &mut State, max_events: usize) {
    if std::mem::take(&mut state.metrics_dirty) {
        let metrics = state.metrics.clone();
        state.nodes.measure(metrics.as_deref());
        state.pods.measure(metrics.as_deref());
    }
    if std::mem::take(&mut state.nodes.dirty) {
        snapshot.nodes = state.nodes.in_order();
    }
    if std::mem::take(&mut state.deployments.dirty) {
        snapshot.deployments = state.deployments.in_order();
    }
    if std::mem::take(&mut state.pods.dirty) {
        snapshot.pods = state.pods.shared();
        snapshot.pod_tally = Some(state.pods.tally.clone());
    }
    if std::mem::take(&mut state.hpas.dirty) {
        snapshot.hpas = state.hpas.in_order();
    }
    if std::mem::take(&mut state.pdbs.dirty) {
        snapshot.pdbs = state.pdbs.in_order();
    }
    if std::mem::take(&mut state.revisions.dirty) {
        snapshot.revisions = state.revisions.sorted(|a, b| {
            (&a.namespace, &a.deployment)
                .cmp(&(&b.namespace, &b.deployment))
                .then(b.revision.cmp(&a.revision))
        });
    }
    if std::mem::take(&mut state.events.dirty) {
        let mut events = state.events.sorted(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then_with(|| a.object.cmp(&b.object))
        });
        events.truncate(max_events);
        snapshot.events = events;
    }
}

/// The sections whose first list is still arriving, with how far it got.
fn progress(state: &State) -> Vec<ListProgress> {
    [
        (Section::Nodes, state.nodes.progress()),
        (Section::Deployments, state.deployments.progress()),
        (Section::ReplicaSets, state.revisions.progress()),
        (Section::Pods, state.pods.progress()),
        (Section::Hpas, state.hpas.progress()),
        (Section::Pdbs, state.pdbs.progress()),
        (Section::Events, state.events.progress()),
    ]
    .into_iter()
    .filter_map(|(section, progress)| {
        let (listed, of) = progress?;
        Some(ListProgress {
            section: section.name().to_string(),
            listed,
            of,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::PodPhase;
    use k8s_openapi::api::core::v1::Node;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..Node::default()
        }
    }

    fn row(n: &Node) -> Option<NodeRow> {
        Some(super::super::project::node_row(n))
    }

    fn names(table: &Table<NodeRow>) -> Vec<&str> {
        table.rows.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn a_first_list_shows_its_pages_as_they_arrive() {
        let mut table = Table::default();
        apply(&mut table, Event::Init, row, meta_key, None);
        assert_eq!(table.progress(), Some((0, None)));
        table.estimate = Some(3);
        apply(&mut table, Event::InitApply(node("b")), row, meta_key, None);
        apply(&mut table, Event::InitApply(node("a")), row, meta_key, None);
        assert_eq!(
            names(&table),
            ["a", "b"],
            "in order before the list is complete"
        );
        assert!(std::mem::take(&mut table.dirty), "each page is news");
        assert_eq!(table.progress(), Some((2, Some(3))));
        apply(&mut table, Event::InitDone, row, meta_key, None);
        assert!(table.synced && table.progress().is_none());
    }

    #[test]
    fn a_relist_keeps_old_rows_until_it_completes() {
        let mut table = Table::default();
        for name in ["a", "b"] {
            apply(&mut table, Event::Apply(node(name)), row, meta_key, None);
        }
        table.synced = true;
        table.dirty = false;
        apply(&mut table, Event::Init, row, meta_key, None);
        apply(&mut table, Event::InitApply(node("b")), row, meta_key, None);
        apply(&mut table, Event::InitApply(node("c")), row, meta_key, None);
        assert_eq!(names(&table), ["a", "b"], "still showing the old list");
        assert!(!table.dirty && table.progress().is_none());
        apply(&mut table, Event::InitDone, row, meta_key, None);
        assert_eq!(names(&table), ["b", "c"], "the new list, whole");
        assert!(std::mem::take(&mut table.dirty));
        apply(&mut table, Event::Delete(node("b")), row, meta_key, None);
        assert!(std::mem::take(&mut table.dirty));
        apply(&mut table, Event::Delete(node("b")), row, meta_key, None);
        assert!(!table.dirty, "deleting what is gone changes nothing");
    }

    #[test]
    fn a_first_list_that_starts_over_keeps_what_it_showed() {
        let mut table = Table::default();
        apply(&mut table, Event::Init, row, meta_key, None);
        apply(&mut table, Event::InitApply(node("a")), row, meta_key, None);
        // The next page failed; the watcher lists again from the start.
        apply(&mut table, Event::Init, row, meta_key, None);
        apply(&mut table, Event::InitApply(node("b")), row, meta_key, None);
        assert_eq!(
            names(&table),
            ["a"],
            "never blank, never half of the new list"
        );
        apply(&mut table, Event::InitDone, row, meta_key, None);
        assert_eq!(names(&table), ["b"]);
    }

    fn pod(i: u64) -> PodRow {
        let phases = [
            PodPhase::Running,
            PodPhase::Pending,
            PodPhase::Succeeded,
            PodPhase::Failed,
            PodPhase::Unknown,
        ];
        PodRow {
            namespace: format!("ns-{}", i % 3),
            name: format!("pod-{}", i % 40),
            phase: phases[(i / 7 % 5) as usize],
            ready_containers: (i / 3 % 2) as u16,
            total_containers: 1,
            restarts: (i % 9) as u32,
            created: Timestamp::UNIX_EPOCH,
            node: "n".into(),
            waiting_reason: i.is_multiple_of(4).then(|| "CrashLoopBackOff".into()),
            cpu_millis: i.is_multiple_of(5).then_some(10),
            memory_bytes: None,
        }
    }

    #[test]
    fn the_pod_counts_kept_event_by_event_match_a_count_of_the_table() {
        let mut table: Table<PodRow> = Table::default();
        // A fixed pseudo-random walk of upserts, updates and deletes over 40 keys.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..3_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let row = pod(x % 1_000);
            let key = (row.namespace.clone(), row.name.clone());
            if x.is_multiple_of(5) {
                table.remove(&key);
            } else {
                table.upsert(key, row);
            }
            if step % 500 == 0 {
                let metrics = Metrics::default();
                table.measure((step % 1_000 == 0).then_some(&metrics));
            }
            assert_eq!(table.tally, PodTally::of(&table.rows), "after step {step}");
        }
        assert!(table.tally.worst().is_some() && table.tally.namespaces.len() == 3);
        let keys: Vec<&Key> = table.keys.iter().collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys stay sorted");
        table.replace(BTreeMap::new());
        assert_eq!(table.tally, PodTally::default());
    }

    /// Waits for the next snapshot and says how long that took on tokio's paused clock.
    async fn next_after(rx: &mut crate::sources::Rx<ClusterSnapshot>) -> std::time::Duration {
        let asked = Instant::now();
        rx.changed().await.unwrap();
        asked.elapsed()
    }

    /// A node added, as a watcher would; `at_once` as when a first list completes.
    fn change(shared: &Shared, name: &str, at_once: bool) {
        let mut state = shared.lock();
        state.heard = true;
        apply(
            &mut state.nodes,
            Event::Apply(node(name)),
            row,
            meta_key,
            None,
        );
        state.at_once |= at_once;
        drop(state);
        shared.changed.notify_one();
        if at_once {
            shared.urgent.notify_one();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_completed_first_list_goes_out_at_once_and_other_changes_wait_for_the_rate() {
        let every = std::time::Duration::from_secs(3600);
        let tuning = Tuning {
            publish_every: every,
            ..Tuning::default()
        };
        let shared = Arc::new(Shared::default());
        let (tx, mut rx) = tokio::sync::watch::channel(Arc::default());
        let first = starting("test".into(), None);
        tokio::spawn(publish_loop(Arc::clone(&shared), tx, first, tuning));
        change(&shared, "a", false);
        assert!(
            next_after(&mut rx).await < every,
            "the first snapshot waits for nothing"
        );
        change(&shared, "b", false);
        assert!(
            next_after(&mut rx).await >= every,
            "a change waits out the rate"
        );
        change(&shared, "c", false);
        let late = Arc::clone(&shared);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            change(&late, "d", true);
        });
        let waited = next_after(&mut rx).await;
        assert!(
            waited < every,
            "a completed list cut the wait short: {waited:?}"
        );
        assert_eq!(rx.borrow().data.nodes.len(), 4);
    }

    #[test]
    fn failures_are_grouped_by_message() {
        let mut state = State::default();
        state
            .problems
            .insert(Section::Pods, Problem::Failed("boom".into()));
        state
            .problems
            .insert(Section::Nodes, Problem::Failed("boom".into()));
        state.problems.insert(Section::Events, Problem::Forbidden);
        assert_eq!(failure_text(&state).as_deref(), Some("nodes, pods: boom"));
        for i in 0..SECTIONS {
            state
                .problems
                .insert(section_at(i), Problem::Failed("refused".into()));
        }
        assert_eq!(failure_text(&state).as_deref(), Some("refused"));
    }
}
