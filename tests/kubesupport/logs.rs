//! `GET pods/{name}/log` as the kubelet answers it through the API server: `container`,
//! `previous`, `sinceTime`, `tailLines`, `timestamps`, and `follow` streamed in chunks until
//! the client goes, the pod is deleted or the test ends the container's stream. Kept apart
//! from the list/watch paths of `mod.rs`, which only routes here.

use super::{Body, Broadcast, Inner, KubeServer, Target, lock, status};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};

/// `(namespace, pod, container, previous)`.
type StreamKey = (String, String, String, bool);

#[derive(Default)]
struct Stream {
    lines: Vec<(Timestamp, String)>,
    /// `flood(n)`: lines generated as they are sent, so a million of them cost nothing here.
    flood: u64,
    /// The container stopped: a follow ends after the backlog.
    ended: bool,
}

pub(super) struct Logs {
    streams: std::sync::Mutex<BTreeMap<StreamKey, Stream>>,
    /// Bumped on every write, waking the follows.
    written: watch::Sender<u64>,
    last: std::sync::Mutex<Timestamp>,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            streams: Default::default(),
            written: watch::channel(0).0,
            last: std::sync::Mutex::new(Timestamp::UNIX_EPOCH),
        }
    }
}

impl Logs {
    /// Strictly increasing times, as one container's log has.
    fn stamp(&self) -> Timestamp {
        let mut last = lock(&self.last);
        let now = Timestamp::now().max(*last + jiff::SignedDuration::from_nanos(1));
        *last = now;
        now
    }

    fn with(&self, key: StreamKey, f: impl FnOnce(&mut Stream)) {
        f(lock(&self.streams).entry(key).or_default());
        self.written.send_modify(|n| *n += 1);
    }
}

fn key(ns: &str, pod: &str, container: &str, previous: bool) -> StreamKey {
    (ns.into(), pod.into(), container.into(), previous)
}

impl KubeServer {
    /// The container writes `lines` now (one timestamp each).
    pub fn write_log(&self, ns: &str, pod: &str, container: &str, lines: &[&str]) {
        let logs = &self.inner.logs;
        let stamped: Vec<_> = lines
            .iter()
            .map(|l| (logs.stamp(), l.to_string()))
            .collect();
        logs.with(key(ns, pod, container, false), |s| s.lines.extend(stamped));
    }

    /// What the container's previous instance wrote before it crashed.
    pub fn write_previous_log(&self, ns: &str, pod: &str, container: &str, lines: &[&str]) {
        let logs = &self.inner.logs;
        let stamped: Vec<_> = lines
            .iter()
            .map(|l| (logs.stamp(), l.to_string()))
            .collect();
        logs.with(key(ns, pod, container, true), |s| s.lines.extend(stamped));
    }

    /// The container writes `n` lines `flood 0` … `flood n-1` as fast as they are read.
    pub fn flood_log(&self, ns: &str, pod: &str, container: &str, n: u64) {
        self.inner
            .logs
            .with(key(ns, pod, container, false), |s| s.flood = n);
    }

    /// The container stops: follows end once they have sent what it wrote.
    pub fn end_log(&self, ns: &str, pod: &str, container: &str) {
        self.inner
            .logs
            .with(key(ns, pod, container, false), |s| s.ended = true);
    }
}

fn bad_request(message: &str) -> Response<Body> {
    status(400, "BadRequest", message)
}

/// The pod's container names; `None` when there is no such pod.
fn containers(inner: &Inner, target: &Target, pod: &str) -> Option<Vec<String>> {
    let world = lock(&inner.world);
    let obj = world.objects.get(&(
        "pods".to_string(),
        target.namespace.clone(),
        pod.to_string(),
    ))?;
    Some(
        obj["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect(),
    )
}

pub(super) fn serve(
    inner: &Arc<Inner>,
    target: &Target,
    pod: &str,
    q: &BTreeMap<String, String>,
) -> Response<Body> {
    let ns = target.namespace.as_str();
    if lock(&inner.options).forbidden.contains("pods/log") {
        return status(
            403,
            "Forbidden",
            &format!(
                "pods \"{pod}\" is forbidden: User \"tester\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"{ns}\""
            ),
        );
    }
    let Some(names) = containers(inner, target, pod) else {
        return status(404, "NotFound", &format!("pods \"{pod}\" not found"));
    };
    let container = match q.get("container") {
        Some(c) if names.contains(c) => c.clone(),
        Some(c) => return bad_request(&format!("container {c} is not valid for pod {pod}")),
        None if names.len() == 1 => names[0].clone(),
        None => {
            return bad_request(&format!(
                "a container name must be specified for pod {pod}, choose one of: [{}]",
                names.join(" ")
            ));
        }
    };
    let previous = q.get("previous").is_some_and(|p| p == "true");
    let follow = q.get("follow").is_some_and(|f| f == "true") && !previous;
    let timestamps = q.get("timestamps").is_some_and(|t| t == "true");
    // The real API server reads sinceTime to the second.
    let since: Option<Timestamp> = q.get("sinceTime").and_then(|t| t.parse().ok());
    let tail: Option<usize> = q.get("tailLines").and_then(|t| t.parse().ok());
    let stream_key = key(ns, pod, &container, previous);
    let logs = &inner.logs;
    // Lines written after this point are the follow's, so none is sent twice.
    let (backlog, flood, mut offset) = {
        let streams = lock(&logs.streams);
        match streams.get(&stream_key) {
            None if previous => {
                return bad_request(&format!(
                    "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                ));
            }
            None => (Vec::new(), 0, 0),
            Some(s) => {
                let mut lines: Vec<_> = s
                    .lines
                    .iter()
                    .filter(|(at, _)| since.is_none_or(|t| *at >= t))
                    .cloned()
                    .collect();
                if let Some(n) = tail {
                    lines.drain(..lines.len().saturating_sub(n));
                }
                (lines, s.flood, s.lines.len())
            }
        }
    };
    let format = move |at: &Timestamp, text: &str| -> String {
        if timestamps {
            format!("{at} {text}\n")
        } else {
            format!("{text}\n")
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let inner = Arc::clone(inner);
    let pod = pod.to_string();
    let mut written = logs.written.subscribe();
    let mut changes = inner.changes.subscribe();
    tokio::spawn(async move {
        let logs = &inner.logs;
        let mut chunk = String::new();
        for (at, text) in &backlog {
            chunk.push_str(&format(at, text));
        }
        if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
            return;
        }
        // Flooded lines go out in chunks of a thousand, each with its own time.
        let mut i = 0;
        while i < flood {
            let mut chunk = String::new();
            for _ in 0..1000.min(flood - i) {
                chunk.push_str(&format(&logs.stamp(), &format!("flood {i}")));
                i += 1;
            }
            if tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
        if !follow {
            return;
        }
        loop {
            let (chunk, ended) = {
                let streams = lock(&logs.streams);
                match streams.get(&stream_key) {
                    Some(s) => {
                        let mut chunk = String::new();
                        for (at, text) in &s.lines[offset.min(s.lines.len())..] {
                            chunk.push_str(&format(at, text));
                        }
                        offset = s.lines.len();
                        (chunk, s.ended)
                    }
                    None => (String::new(), false),
                }
            };
            if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            if ended {
                return;
            }
            tokio::select! {
                w = written.changed() => if w.is_err() { return },
                c = changes.recv() => match c {
                    Ok(Broadcast::Change(c)) if c.kind == "DELETED" && c.resource == "pods"
                        && c.namespace == stream_key.0
                        && c.object["metadata"]["name"] == *pod => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                    _ => {}
                },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(StreamBody::new(stream).boxed())
        .unwrap()
}

/// The `shop` fixtures' logs: `user-a` serving, `user-c` crash-looping (its previous
/// instance was OOM-killed).
pub fn shop_logs(server: &KubeServer) {
    server.write_log(
        "shop",
        "user-a",
        "user",
        &[
            "INFO starting user service 1.4 on :8080",
            "INFO connected to proxysql.shop.svc:6033",
            "INFO GET /users/42 200 12ms",
        ],
    );
    server.write_previous_log(
        "shop",
        "user-c",
        "user",
        &[
            "INFO starting user service 1.4 on :8080",
            "WARN heap at 480Mi of 512Mi",
            "ERROR cache warm-up allocating 128Mi",
            "fatal error: runtime: out of memory",
        ],
    );
    server.write_log(
        "shop",
        "user-c",
        "user",
        &["INFO starting user service 1.4 on :8080"],
    );
}
