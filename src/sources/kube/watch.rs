//! One watcher per resource kind feeds compact rows into the shared tables of `store`; the
//! watchers own reconnecting (backoff, probing a quiet resource) and classifying failures.

use super::error::describe;
use super::metrics;
use super::project;
use super::store::{
    Problem, Row, Section, Shared, State, Table, apply, meta_key, publish_loop, starting,
};
use crate::model::cluster::ClusterSnapshot;
use crate::sources::Tx;
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Client, Resource};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

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
        tokio::spawn(publish_loop(
            shared,
            tx,
            starting(context_name.into(), namespace),
            tuning,
        )),
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
    R: Row + Send + 'static,
{
    let shared = Arc::clone(shared);
    let mut backoff = Backoff::new(tuning.backoff_min, tuning.backoff_max);
    let probe_api = api.clone();
    let count_params = ::kube::api::ListParams {
        label_selector: config.label_selector.clone(),
        field_selector: config.field_selector.clone(),
        ..::kube::api::ListParams::default()
    };
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher::watcher(api, config));
        let mut estimate = std::pin::pin!(estimate(&probe_api, count_params));
        let mut estimated = false;
        // While failing, when to check by hand whether the server is back: a re-established
        // watch on a quiet resource yields nothing, so without this the error would stay
        // on screen until the next change.
        let mut probe_after: Option<Duration> = None;
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                total = &mut estimate, if !estimated => {
                    estimated = true;
                    table(&mut shared.lock()).estimate = total;
                    shared.changed.notify_one();
                    continue;
                }
                () = tokio::time::sleep(probe_after.unwrap_or_default()), if probe_after.is_some() => {
                    if reachable(&probe_api).await {
                        let mut state = shared.lock();
                        state.problems.remove(&section);
                        state.heard = true;
                        drop(state);
                        shared.changed.notify_one();
                        probe_after = None;
                    } else {
                        probe_after = Some(backoff.next());
                    }
                    continue;
                }
            };
            let Some(item) = item else { return };
            let mut delay = None;
            {
                let mut state = shared.lock();
                match item {
                    Ok(Event::Init) => {
                        // Not yet proof the server answers: the list comes on the next poll.
                        apply(table(&mut state), Event::Init, project, meta_key, None);
                    }
                    Ok(event) => {
                        let metrics = state.metrics.clone();
                        let t = table(&mut state);
                        let (was_empty, was_synced) = (t.is_empty(), t.synced);
                        apply(t, event, project, meta_key, metrics.as_deref());
                        let synced = t.synced;
                        let at_once = (was_empty && !t.is_empty()) || (synced && !was_synced);
                        state.synced.insert(section, synced);
                        state.at_once |= at_once;
                        if at_once {
                            shared.urgent.notify_one();
                        }
                        state.problems.remove(&section);
                        state.heard = true;
                        backoff.reset();
                        probe_after = None;
                    }
                    Err(err) => {
                        if let Some(problem) = classify(&err) {
                            state.heard |= problem == Problem::Forbidden;
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

/// How many objects the list will bring, from a one-item page's `remainingItemCount`, so
/// the first load can say "loading 3,500 of ~10,000". `None` where the server does not
/// estimate (selectors) or does not answer.
async fn estimate<K>(api: &Api<K>, params: ::kube::api::ListParams) -> Option<usize>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let page = api.list_metadata(&params.limit(1)).await.ok()?;
    match page.metadata.remaining_item_count {
        Some(remaining) => usize::try_from(remaining).ok().map(|r| r + 1),
        None if page.metadata.continue_.as_deref().is_none_or(str::is_empty) => {
            Some(page.items.len())
        }
        None => None,
    }
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
        let metrics = metrics::fetch(&client, namespace.as_deref())
            .await
            .map(Arc::new);
        let served = metrics.is_some();
        {
            let mut state = shared.lock();
            if state.metrics != metrics {
                state.metrics = metrics;
                state.metrics_dirty = true;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seen: Vec<u128> = (0..4).map(|_| b.next().as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next().as_millis(), 100);
    }
}
