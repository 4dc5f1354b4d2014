//! Following pod logs with `follow=true` (`Api::log_stream`), one stream per pod and
//! container, into the log view's ring buffer. A dropped connection resumes with
//! `sinceTime` from the last line's time, skipping what was already read, so nothing is
//! repeated or lost; the stream ends, saying why, when the pod goes away.

use super::error::{describe, status_code};
use crate::model::inspect::{LogHandle, LogRequest, LogSink, ObjectKind};
use crate::model::logs::{LogState, split_timestamp};
use ::kube::api::{Api, ListParams, LogParams};
use ::kube::{Client, Error};
use futures::{AsyncBufReadExt, TryStreamExt};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;

/// How long to wait before reconnecting a dropped stream, from the watchers' tuning;
/// a log view is watched by a person, so it never waits longer than 5 s.
#[derive(Debug, Clone)]
pub struct LogTuning {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How often a Deployment's pods are listed again, so the pods of a rollout join its
    /// merged log.
    pub rescan: Duration,
}

impl From<&super::Tuning> for LogTuning {
    fn from(t: &super::Tuning) -> Self {
        let max = t.backoff_max.min(Duration::from_secs(5));
        LogTuning {
            backoff_min: t.backoff_min.min(max),
            backoff_max: max,
            rescan: max,
        }
    }
}

/// Starts following `request`'s log; the streams stop when the handle is dropped.
pub fn follow(client: Client, request: LogRequest, sink: LogSink, tuning: LogTuning) -> LogHandle {
    let mut tasks = JoinSet::new();
    tasks.spawn(start(client, request, sink, tuning));
    Box::new(tasks)
}

/// Which container the log of `pod` is read from when none is named: the
/// `kubectl.kubernetes.io/default-container` annotation, else the first.
fn default_container(pod: &Pod) -> Option<String> {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container").cloned())
        .or_else(|| container_names(pod).into_iter().next())
}

fn container_names(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default()
}

/// A refusal in words that name what was refused: `pods/log` needs `get`.
fn log_error(err: &Error, namespace: &str, pod: &str) -> String {
    match status_code(err) {
        Some(403) => format!(
            "not allowed to get pods/log of {namespace}/{pod} (RBAC: verb get on resource pods/log): {}",
            describe(err)
        ),
        _ => format!("log of {namespace}/{pod}: {}", describe(err)),
    }
}

/// `(pod, container, prefix shown on each line)`: one stream of the log view.
type Stream = (String, String, String);

async fn start(client: Client, request: LogRequest, sink: LogSink, tuning: LogTuning) {
    let ns = request.object.namespace.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let mut spawner = Spawner {
        pods: pods.clone(),
        namespace: ns.clone(),
        previous: request.previous,
        sink: sink.clone(),
        tuning: tuning.clone(),
        live: Arc::new(AtomicUsize::new(0)),
        started: HashSet::new(),
        tasks: JoinSet::new(),
    };
    if request.object.kind != ObjectKind::Deployment {
        let name = request.object.name.clone();
        let pod = match pods.get(&name).await {
            Ok(p) => p,
            Err(e) => {
                return sink.with(|b| b.state = LogState::Failed(log_error(&e, &ns, &name)));
            }
        };
        let Some(container) = request
            .container
            .clone()
            .or_else(|| default_container(&pod))
        else {
            let why = format!("pod {ns}/{name} has no containers");
            return sink.with(|b| b.state = LogState::Failed(why));
        };
        sink.with(|b| b.containers = container_names(&pod));
        spawner.spawn(vec![(name.clone(), container, name)]);
        while spawner.tasks.join_next().await.is_some() {}
        return;
    }
    let name = &request.object.name;
    let selector = match deployment_selector(client, &ns, name).await {
        Ok(s) => s,
        Err(why) => return sink.with(|b| b.state = LogState::Failed(why)),
    };
    let list = ListParams::default().labels(&selector);
    match pods.list(&list).await {
        Ok(l) => spawner.spawn(deployment_streams(&l.items, request.container.as_deref())),
        Err(e) => {
            let why = format!("pods of deployment {ns}/{name}: {}", describe(&e));
            return sink.with(|b| b.state = LogState::Failed(why));
        }
    }
    // A rollout replaces the pods while the view is open: the new ones join the merge as
    // they appear, the old ones' streams end with their pods.
    loop {
        if spawner.started.is_empty() {
            let why = format!("deployment {ns}/{name} has no pods yet (watching for new ones)");
            sink.with(|b| b.state = LogState::Ended(why));
        }
        tokio::select! {
            Some(_) = spawner.tasks.join_next(), if !spawner.tasks.is_empty() => continue,
            () = tokio::time::sleep(tuning.rescan) => {}
        }
        if let Ok(l) = pods.list(&list).await {
            spawner.spawn(deployment_streams(&l.items, request.container.as_deref()));
        }
    }
}

/// The label selector of a Deployment's pods, as `kubectl logs deploy/x` finds them.
async fn deployment_selector(client: Client, ns: &str, name: &str) -> Result<String, String> {
    let deployments: Api<Deployment> = Api::namespaced(client, ns);
    let deployment = deployments
        .get(name)
        .await
        .map_err(|e| format!("deployment {ns}/{name}: {}", describe(&e)))?;
    Ok(deployment
        .spec
        .and_then(|s| s.selector.match_labels)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(","))
}

/// Like `kubectl logs deploy/x --all-containers --prefix`: every container of every pod, or
/// the one named.
fn deployment_streams(pods: &[Pod], only: Option<&str>) -> Vec<Stream> {
    let mut streams = Vec::new();
    for pod in pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let names = container_names(pod);
        for c in names.iter().filter(|c| only.is_none_or(|want| want == *c)) {
            let prefix = if names.len() > 1 {
                format!("{pod_name}/{c}")
            } else {
                pod_name.clone()
            };
            streams.push((pod_name.clone(), c.clone(), prefix));
        }
    }
    streams
}

/// Starts each stream once, and says the view's stream is over when the last one is.
struct Spawner {
    pods: Api<Pod>,
    namespace: String,
    previous: bool,
    sink: LogSink,
    tuning: LogTuning,
    live: Arc<AtomicUsize>,
    started: HashSet<(String, String)>,
    tasks: JoinSet<()>,
}

impl Spawner {
    fn spawn(&mut self, streams: Vec<Stream>) {
        for (pod, container, prefix) in streams {
            if !self.started.insert((pod.clone(), container.clone())) {
                continue;
            }
            self.live.fetch_add(1, Ordering::SeqCst);
            let source = self.sink.with(|b| b.source(&prefix));
            let stream = PodStream {
                pods: self.pods.clone(),
                namespace: self.namespace.clone(),
                pod,
                container,
                previous: self.previous,
                source,
            };
            let (sink, tuning, live) = (self.sink.clone(), self.tuning.clone(), self.live.clone());
            self.tasks.spawn(async move {
                let end = stream.run(&sink, &tuning).await;
                let last = live.fetch_sub(1, Ordering::SeqCst) == 1;
                sink.with(|b| match end {
                    LogState::Failed(_) => b.state = end,
                    _ if last => b.state = end,
                    _ => {}
                });
            });
        }
    }
}

struct PodStream {
    pods: Api<Pod>,
    namespace: String,
    pod: String,
    container: String,
    previous: bool,
    source: u16,
}

/// The last line's time and how many lines carried exactly that time, to skip on resume.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Mark {
    at: Timestamp,
    seen: usize,
}

impl PodStream {
    /// Follows until the stream ends for good; returns how it ended.
    async fn run(&self, sink: &LogSink, tuning: &LogTuning) -> LogState {
        let (ns, pod) = (&self.namespace, &self.pod);
        let mut mark: Option<Mark> = None;
        let mut backoff = tuning.backoff_min;
        loop {
            let params = LogParams {
                container: Some(self.container.clone()),
                follow: !self.previous,
                previous: self.previous,
                timestamps: true,
                // The API server reads sinceTime to the second: ask from the start of the
                // last line's second and skip what was already read.
                since_time: mark.and_then(|m| Timestamp::from_second(m.at.as_second()).ok()),
                ..LogParams::default()
            };
            let why = match self.pods.log_stream(pod, &params).await {
                Err(e) => match status_code(&e) {
                    Some(400 | 403 | 404) => return LogState::Failed(log_error(&e, ns, pod)),
                    _ => describe(&e),
                },
                Ok(stream) => {
                    sink.with(|b| b.state = LogState::Following);
                    let mut lines = stream.lines();
                    let mut skip = mark.map_or(0, |m| m.seen);
                    let mut read_any = false;
                    let why = loop {
                        match lines.try_next().await {
                            Ok(Some(raw)) => {
                                let (at, text) = split_timestamp(&raw);
                                if let Some(at) = at {
                                    match mark {
                                        Some(m) if at < m.at => continue,
                                        Some(m) if at == m.at && skip > 0 => {
                                            skip -= 1;
                                            continue;
                                        }
                                        Some(m) if at == m.at => {
                                            mark = Some(Mark {
                                                at,
                                                seen: m.seen + 1,
                                            })
                                        }
                                        _ => {
                                            skip = 0;
                                            mark = Some(Mark { at, seen: 1 });
                                        }
                                    }
                                }
                                read_any = true;
                                sink.with(|b| {
                                    b.push(crate::model::logs::LogLine {
                                        at,
                                        source: self.source,
                                        text: text.into(),
                                    })
                                });
                            }
                            Ok(None) => break "the stream closed".to_string(),
                            Err(e) => break format!("the stream broke: {e}"),
                        }
                    };
                    if read_any {
                        backoff = tuning.backoff_min;
                    }
                    why
                }
            };
            if self.previous {
                return LogState::Ended(format!(
                    "end of the previous {} container's log",
                    self.container
                ));
            }
            // Over for good only when the pod is; otherwise a hiccup (or a restarted
            // container, whose new lines follow).
            match self.pods.get_opt(pod).await {
                Ok(None) => {
                    return LogState::Ended(format!("pod {ns}/{pod} is gone: it was deleted"));
                }
                Ok(Some(p)) if p.metadata.deletion_timestamp.is_some() => {
                    return LogState::Ended(format!("pod {ns}/{pod} is gone: it is terminating"));
                }
                Ok(Some(p))
                    if matches!(
                        p.status.as_ref().and_then(|s| s.phase.as_deref()),
                        Some("Succeeded" | "Failed")
                    ) =>
                {
                    return LogState::Ended(format!(
                        "pod {ns}/{pod} has finished: its containers will not run again"
                    ));
                }
                Ok(Some(_)) => {}
                Err(e) if status_code(&e) == Some(403) => {
                    return LogState::Failed(log_error(&e, ns, pod));
                }
                Err(_) => {}
            }
            sink.with(|b| {
                b.state = LogState::Reconnecting(format!("{why}; resuming in {backoff:?}"))
            });
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(tuning.backoff_max);
        }
    }
}
