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
}

impl From<&super::Tuning> for LogTuning {
    fn from(t: &super::Tuning) -> Self {
        let max = t.backoff_max.min(Duration::from_secs(5));
        LogTuning {
            backoff_min: t.backoff_min.min(max),
            backoff_max: max,
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

async fn start(client: Client, request: LogRequest, sink: LogSink, tuning: LogTuning) {
    let ns = request.object.namespace.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    // (pod, container, prefix shown on each line)
    let mut streams: Vec<(String, String, String)> = Vec::new();
    match request.object.kind {
        ObjectKind::Deployment => {
            let deployments: Api<Deployment> = Api::namespaced(client, &ns);
            let name = &request.object.name;
            let deployment = match deployments.get(name).await {
                Ok(d) => d,
                Err(e) => {
                    let why = format!("deployment {ns}/{name}: {}", describe(&e));
                    return sink.with(|b| b.state = LogState::Failed(why));
                }
            };
            let selector = deployment
                .spec
                .and_then(|s| s.selector.match_labels)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            let list = match pods.list(&ListParams::default().labels(&selector)).await {
                Ok(l) => l,
                Err(e) => {
                    let why = format!("pods of deployment {ns}/{name}: {}", describe(&e));
                    return sink.with(|b| b.state = LogState::Failed(why));
                }
            };
            for pod in &list.items {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                let names = container_names(pod);
                // Like `kubectl logs deploy/x --all-containers --prefix`.
                for c in &names {
                    if request.container.as_ref().is_some_and(|want| want != c) {
                        continue;
                    }
                    let prefix = if names.len() > 1 {
                        format!("{pod_name}/{c}")
                    } else {
                        pod_name.clone()
                    };
                    streams.push((pod_name.clone(), c.clone(), prefix));
                }
            }
            if streams.is_empty() {
                let why = format!("deployment {ns}/{name} has no pods to read logs from");
                return sink.with(|b| b.state = LogState::Ended(why));
            }
        }
        _ => {
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
            streams.push((name.clone(), container, name));
        }
    }
    let live = Arc::new(AtomicUsize::new(streams.len()));
    let mut tasks = JoinSet::new();
    for (pod, container, prefix) in streams {
        let source = sink.with(|b| b.source(&prefix));
        let stream = PodStream {
            pods: pods.clone(),
            namespace: ns.clone(),
            pod,
            container,
            previous: request.previous,
            source,
        };
        let (sink, tuning, live) = (sink.clone(), tuning.clone(), live.clone());
        tasks.spawn(async move {
            let end = stream.run(&sink, &tuning).await;
            // The view says the stream is over once the last pod's is.
            let last = live.fetch_sub(1, Ordering::SeqCst) == 1;
            sink.with(|b| match end {
                LogState::Failed(_) => b.state = end,
                _ if last => b.state = end,
                _ => {}
            });
        });
    }
    while tasks.join_next().await.is_some() {}
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
