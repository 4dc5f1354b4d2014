//! One watcher per resource kind feeds compact rows into a shared table; a publisher turns the
//! tables into a `ClusterSnapshot` at most every `publish_every`, and only when something
//! changed. Errors never clear a table: a re-list fills a side buffer and swaps it in whole.

use super::error::describe;
use super::metrics::{self, Metrics};
use super::project;
use crate::model::cluster::{
    ClusterSnapshot, DeploymentRow, EventRow, HpaRow, NodeRow, PdbRow, PodRow, RevisionRow,
};
use crate::sources::{Tx, publish, publish_error};
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Client, Resource};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Knobs with production defaults; tests shorten the backoff.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Snapshots are published at most this often, so a burst of 10,000 events costs a
    /// handful of redraws, not 10,000.
    pub publish_every: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Objects per list page; bounds the memory a re-list holds in flight.
    pub page_size: u32,
    /// Server-side watch timeout; the client also gives up on a silent connection this much
    /// (plus 5 s) later, which is how a half-open connection gets noticed.
    pub watch_timeout_secs: u32,
    /// Newest Warning events kept in the snapshot.
    pub max_events: usize,
    /// How often metrics.k8s.io is polled while it answers (four times slower while not).
    pub metrics_every: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            publish_every: Duration::from_millis(250),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            page_size: 500,
            watch_timeout_secs: 120,
            max_events: 200,
            metrics_every: Duration::from_secs(15),
        }
    }
}

/// The running watchers of one context. Dropping it stops them, which is how the console
/// switches context or namespace: drop the old handle, spawn a new one.
#[must_use = "dropping the ClusterWatch stops its watchers"]
pub struct ClusterWatch {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterWatch {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts watching nodes, Deployments, ReplicaSets, pods, HPAs, PDBs and Warning events of
/// `namespace` (all namespaces when `None`) and publishes snapshots to `tx`. Must be called
/// inside a tokio runtime.
pub fn spawn(
    client: Client,
    context_name: impl Into<String>,
    namespace: Option<String>,
    tx: Tx<ClusterSnapshot>,
) -> ClusterWatch {
    spawn_with(client, context_name, namespace, tx, Tuning::default())
}

pub fn spawn_with(
    client: Client,
    context_name: impl Into<String>,
    namespace: Option<String>,
    tx: Tx<ClusterSnapshot>,
    tuning: Tuning,
) -> ClusterWatch {
    let shared = Arc::new(Shared::default());
    let s = Scope::new(&client, namespace.as_deref());
    let base = watcher::Config::default()
        .page_size(tuning.page_size)
        .timeout(tuning.watch_timeout_secs);
    let warnings = base.clone().fields("type=Warning");
    let tasks = vec![
        run(
            Api::<Node>::all(client.clone()),
            base.clone(),
            Section::Nodes,
            &shared,
            &tuning,
            |s| &mut s.nodes,
            |n| Some(project::node_row(n)),
        ),
        run(
            s.api::<Deployment>(),
            base.clone(),
            Section::Deployments,
            &shared,
            &tuning,
            |s| &mut s.deployments,
            |d| Some(project::deployment_row(d)),
        ),
        run(
            s.api::<ReplicaSet>(),
            base.clone(),
            Section::ReplicaSets,
            &shared,
            &tuning,
            |s| &mut s.revisions,
            project::revision_row,
        ),
        run(
            s.api::<Pod>(),
            base.clone(),
            Section::Pods,
            &shared,
            &tuning,
            |s| &mut s.pods,
            |p| Some(project::pod_row(p)),
        ),
        run(
            s.api::<HorizontalPodAutoscaler>(),
            base.clone(),
            Section::Hpas,
            &shared,
            &tuning,
            |s| &mut s.hpas,
            |h| Some(project::hpa_row(h)),
        ),
        run(
            s.api::<PodDisruptionBudget>(),
            base,
            Section::Pdbs,
            &shared,
            &tuning,
            |s| &mut s.pdbs,
            |p| Some(project::pdb_row(p)),
        ),
        run(
            s.api::<KubeEvent>(),
            warnings,
            Section::Events,
            &shared,
            &tuning,
            |s| &mut s.events,
            project::event_row,
        ),
        tokio::spawn(poll_metrics(
            client.clone(),
            namespace.clone(),
            Arc::clone(&shared),
            tuning.metrics_every,
        )),
        tokio::spawn(publish_loop(shared, tx, context_name.into(), tuning)),
    ];
    ClusterWatch { tasks }
}

struct Scope {
    client: Client,
    namespace: Option<String>,
}

impl Scope {
    fn new(client: &Client, namespace: Option<&str>) -> Self {
        Scope {
            client: client.clone(),
            namespace: namespace.map(str::to_string),
        }
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Nodes,
    Deployments,
    ReplicaSets,
    Pods,
    Hpas,
    Pdbs,
    Events,
}

const SECTIONS: usize = 7;

impl Section {
    fn name(self) -> &'static str {
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

struct Table<R> {
    rows: HashMap<String, R>,
    /// Filled during a (re-)list and swapped in at its end, so the old rows stay on screen
    /// until the new ones are complete.
    relist: Option<HashMap<String, R>>,
    synced: bool,
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
enum Problem {
    Forbidden,
    Failed(String),
}

#[derive(Default)]
struct State {
    nodes: Table<NodeRow>,
    deployments: Table<DeploymentRow>,
    revisions: Table<RevisionRow>,
    pods: Table<PodRow>,
    hpas: Table<HpaRow>,
    pdbs: Table<PdbRow>,
    events: Table<EventRow>,
    problems: BTreeMap<Section, Problem>,
    synced: BTreeMap<Section, bool>,
    metrics: Option<Metrics>,
    /// Rows changed since the last snapshot; errors alone do not need the rows rebuilt.
    rows_dirty: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain row maps behind, still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Applies one watcher event to a table. Returns whether rows changed.
fn apply<K, R>(
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

fn meta_key<K: Resource>(obj: &K) -> String {
    project::key(obj.meta())
}

fn run<K, R>(
    api: Api<K>,
    config: watcher::Config,
    section: Section,
    shared: &Arc<Shared>,
    tuning: &Tuning,
    table: fn(&mut State) -> &mut Table<R>,
    project: fn(&K) -> Option<R>,
) -> JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    R: Send + 'static,
{
    let shared = Arc::clone(shared);
    let mut backoff = Backoff::new(tuning.backoff_min, tuning.backoff_max);
    let probe_api = api.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher::watcher(api, config));
        // While failing, when to check by hand whether the server is back: a re-established
        // watch on a quiet resource yields nothing, so without this the error would stay
        // on screen until the next change.
        let mut probe_after: Option<Duration> = None;
        loop {
            let item = match probe_after {
                None => stream.next().await,
                Some(wait) => tokio::select! {
                    item = stream.next() => item,
                    () = tokio::time::sleep(wait) => {
                        if reachable(&probe_api).await {
                            shared.lock().problems.remove(&section);
                            shared.changed.notify_one();
                            probe_after = None;
                        } else {
                            probe_after = Some(backoff.next());
                        }
                        continue;
                    }
                },
            };
            let Some(item) = item else { return };
            let mut delay = None;
            {
                let mut state = shared.lock();
                match item {
                    Ok(Event::Init) => {
                        // Not yet proof the server answers: the list comes on the next poll.
                        apply(table(&mut state), Event::Init, project, meta_key);
                    }
                    Ok(event) => {
                        let changed = apply(table(&mut state), event, project, meta_key);
                        let synced = table(&mut state).synced;
                        state.synced.insert(section, synced);
                        state.problems.remove(&section);
                        state.rows_dirty |= changed;
                        backoff.reset();
                        probe_after = None;
                    }
                    Err(err) => {
                        if let Some(problem) = classify(&err) {
                            tracing::debug!(section = section.name(), %err, "watch failed");
                            state.problems.insert(section, problem);
                            delay = Some(backoff.next());
                        }
                    }
                }
            }
            shared.changed.notify_one();
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
                probe_after = Some(delay);
            }
        }
    })
}

/// A one-item list: answers whether the resource can be read again.
async fn reachable<K>(api: &Api<K>) -> bool
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    api.list(&::kube::api::ListParams::default().limit(1))
        .await
        .is_ok()
}

async fn poll_metrics(
    client: Client,
    namespace: Option<String>,
    shared: Arc<Shared>,
    every: Duration,
) {
    loop {
        let metrics = metrics::fetch(&client, namespace.as_deref()).await;
        let served = metrics.is_some();
        {
            let mut state = shared.lock();
            if state.metrics != metrics {
                state.metrics = metrics;
                state.rows_dirty = true;
            }
        }
        shared.changed.notify_one();
        tokio::time::sleep(if served { every } else { every * 4 }).await;
    }
}

/// `None` for errors the watcher recovers from by itself without anything to show: a `410
/// Gone` just means "re-list", which it does on the next poll.
fn classify(err: &watcher::Error) -> Option<Problem> {
    let client_err = match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => {
            return match status.code {
                410 => None,
                403 => Some(Problem::Forbidden),
                _ => Some(Problem::Failed(format!(
                    "watch error {}: {}",
                    status.code, status.message
                ))),
            };
        }
        watcher::Error::NoResourceVersion => {
            return Some(Problem::Failed(
                "the API server sent no resourceVersion, so this list cannot be watched".into(),
            ));
        }
    };
    match super::error::status_code(client_err) {
        Some(403) => Some(Problem::Forbidden),
        Some(410) => None,
        _ => Some(Problem::Failed(describe(client_err))),
    }
}

struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    fn next(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

async fn publish_loop(shared: Arc<Shared>, tx: Tx<ClusterSnapshot>, context: String, t: Tuning) {
    let mut last_publish: Option<Instant> = None;
    let mut snapshot = ClusterSnapshot {
        context,
        loading: all_sections(),
        ..ClusterSnapshot::default()
    };
    loop {
        shared.changed.notified().await;
        if let Some(at) = last_publish {
            tokio::time::sleep_until(at + t.publish_every).await;
        }
        if tx.is_closed() {
            return;
        }
        let error = {
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
            failure_text(&state)
        };
        let now = Timestamp::now();
        let shown_error = tx.borrow().health.last_error.clone();
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

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seen: Vec<u128> = (0..4).map(|_| b.next().as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next().as_millis(), 100);
    }
}
