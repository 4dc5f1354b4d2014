//! The shared tables the watchers write into, and the publisher that turns them into one
//! `ClusterSnapshot` at a bounded rate. Errors never clear a table: a re-list fills a side
//! buffer and swaps it in whole.

use super::metrics::{self, Metrics};
use super::project;
use super::watch::Tuning;
use crate::model::Feed;
use crate::model::cluster::{
    ClusterSnapshot, DeploymentRow, EventRow, HpaRow, NodeRow, PdbRow, PodRow, RevisionRow,
};
use crate::sources::{Tx, publish, publish_error};
use ::kube::Resource;
use ::kube::runtime::watcher::Event;
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap};
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

pub(super) struct Table<R> {
    pub(super) rows: HashMap<String, R>,
    /// Filled during a (re-)list and swapped in at its end, so the old rows stay on screen
    /// until the new ones are complete.
    pub(super) relist: Option<HashMap<String, R>>,
    pub(super) synced: bool,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table {
            rows: HashMap::new(),
            relist: None,
            synced: false,
        }
    }
}

impl<R: Clone> Table<R> {
    fn sorted(&self, order: impl Fn(&R, &R) -> std::cmp::Ordering) -> Vec<R> {
        let mut rows: Vec<R> = self.rows.values().cloned().collect();
        rows.sort_by(order);
        rows
    }
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
    pub(super) metrics: Option<Metrics>,
    /// Rows changed since the last snapshot; errors alone do not need the rows rebuilt.
    pub(super) rows_dirty: bool,
    /// The API server has answered something (rows, or at least a 403): until then a
    /// snapshot must not claim a successful update.
    pub(super) heard: bool,
}

#[derive(Default)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Notify,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain row maps behind, still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Applies one watcher event to a table. Returns whether rows changed.
pub(super) fn apply<K, R>(
    table: &mut Table<R>,
    event: Event<K>,
    project: fn(&K) -> Option<R>,
    key: fn(&K) -> String,
) -> bool {
    match event {
        Event::Init => {
            table.relist = Some(HashMap::new());
            false
        }
        Event::InitApply(obj) => {
            if let Some(row) = project(&obj) {
                table
                    .relist
                    .get_or_insert_with(HashMap::new)
                    .insert(key(&obj), row);
            }
            false
        }
        Event::InitDone => {
            table.rows = table.relist.take().unwrap_or_default();
            table.synced = true;
            true
        }
        Event::Apply(obj) => {
            let k = key(&obj);
            match project(&obj) {
                Some(row) => table.rows.insert(k, row),
                None => table.rows.remove(&k),
            };
            true
        }
        Event::Delete(obj) => table.rows.remove(&key(&obj)).is_some(),
    }
}

pub(super) fn meta_key<K: Resource>(obj: &K) -> String {
    project::key(obj.meta())
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
        if let Some(at) = last_publish {
            tokio::time::sleep_until(at + t.publish_every).await;
        }
        if tx.is_closed() {
            return;
        }
        let (error, heard) = {
            let mut state = shared.lock();
            if std::mem::take(&mut state.rows_dirty) {
                fill_rows(&mut snapshot, &state, t.max_events);
            }
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

fn fill_rows(snapshot: &mut ClusterSnapshot, state: &State, max_events: usize) {
    let by_ns_name = |a: (&str, &str), b: (&str, &str)| a.cmp(&b);
    snapshot.nodes = state.nodes.sorted(|a, b| a.name.cmp(&b.name));
    if let Some(m) = &state.metrics {
        for node in &mut snapshot.nodes {
            if let (Some(used), Some(alloc)) = (m.nodes.get(&node.name), node.allocatable) {
                node.cpu_pct = metrics::percent(used.cpu_millis, alloc.cpu_millis);
                node.mem_pct = metrics::percent(used.memory_bytes, alloc.memory_bytes);
            }
        }
    }
    snapshot.deployments = state
        .deployments
        .sorted(|a, b| by_ns_name((&a.namespace, &a.name), (&b.namespace, &b.name)));
    snapshot.pods = state
        .pods
        .sorted(|a, b| by_ns_name((&a.namespace, &a.name), (&b.namespace, &b.name)));
    if let Some(m) = &state.metrics {
        for pod in &mut snapshot.pods {
            if let Some(used) = m.pods.get(&format!("{}/{}", pod.namespace, pod.name)) {
                pod.cpu_millis = Some(u32::try_from(used.cpu_millis).unwrap_or(u32::MAX));
                pod.memory_bytes = Some(used.memory_bytes);
            }
        }
    }
    snapshot.hpas = state
        .hpas
        .sorted(|a, b| by_ns_name((&a.namespace, &a.name), (&b.namespace, &b.name)));
    snapshot.pdbs = state
        .pdbs
        .sorted(|a, b| by_ns_name((&a.namespace, &a.name), (&b.namespace, &b.name)));
    snapshot.revisions = state.revisions.sorted(|a, b| {
        by_ns_name((&a.namespace, &a.deployment), (&b.namespace, &b.deployment))
            .then(b.revision.cmp(&a.revision))
    });
    let mut events = state.events.sorted(|a, b| {
        b.last_seen
            .cmp(&a.last_seen)
            .then_with(|| a.object.cmp(&b.object))
    });
    events.truncate(max_events);
    snapshot.events = events;
}

#[cfg(test)]
mod tests {
    use super::*;
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
        Some(project::node_row(n))
    }

    #[test]
    fn a_relist_keeps_old_rows_until_it_completes() {
        let mut table = Table::default();
        apply(&mut table, Event::Apply(node("a")), row, meta_key);
        apply(&mut table, Event::Apply(node("b")), row, meta_key);
        apply(&mut table, Event::Init, row, meta_key);
        apply(&mut table, Event::InitApply(node("b")), row, meta_key);
        assert_eq!(table.rows.len(), 2, "still showing the old list");
        assert!(apply(&mut table, Event::InitDone, row, meta_key));
        assert_eq!(table.rows.keys().collect::<Vec<_>>(), ["b"]);
        assert!(apply(&mut table, Event::Delete(node("b")), row, meta_key));
        assert!(!apply(&mut table, Event::Delete(node("b")), row, meta_key));
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
