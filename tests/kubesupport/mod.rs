//! A small Kubernetes API server for tests and benchmarks: real `k8s-openapi` objects over
//! the real wire protocol (lists with resourceVersion and paging, `?watch=true` streams of
//! JSON WatchEvents with bookmarks and `410 Gone`, merge / strategic-merge patches, the scale
//! subresource, PUT with optimistic concurrency, SelfSubjectAccessReview, `dryRun=All`), plus
//! the faults the client has to survive: stop/restart, latency, 403 on chosen resources.
//!
//! It keeps objects as JSON, validates writes by deserialising them into the typed objects,
//! and records every request so tests can check what was actually sent.

#![allow(dead_code)] // each test binary uses a different part of it

pub mod fixtures;
// Pod logs (`pods/{name}/log`) live apart from list/watch: only routed from `handle`.
pub mod logs;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::sync::{broadcast, mpsc};
use tokio::task::{JoinHandle, JoinSet};

type Body = BoxBody<Bytes, Infallible>;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: String,
    pub dry_run: bool,
}

#[derive(Debug, Clone)]
struct Change {
    rv: u64,
    resource: String,
    namespace: String,
    kind: &'static str,
    object: Value,
    /// The watch line, serialised once however many watches send it.
    line: Bytes,
}

#[derive(Debug, Clone)]
enum Broadcast {
    Change(Arc<Change>),
    /// History was compacted: open watches get `410 Gone` and must re-list.
    Gone,
}

type Key = (String, String, String);

struct World {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
    /// Watches from a resourceVersion older than this get `410 Gone`.
    oldest: u64,
    requests: Vec<Recorded>,
    uid: u64,
    /// When the last page of a list of each resource was served.
    listed: BTreeMap<String, tokio::time::Instant>,
}

#[derive(Default)]
struct Options {
    latency: Duration,
    forbidden: HashSet<String>,
    /// Resources this server answers 404 for, as a cluster without their CRD does.
    absent: HashSet<String>,
    /// `(verb, resource[/subresource])` pairs SelfSubjectAccessReview answers "no" to.
    denied: Vec<(String, String)>,
    bookmark_every: Option<Duration>,
    history_limit: Option<usize>,
    /// Whether metrics.k8s.io is served (a cluster with metrics-server).
    metrics: bool,
    /// How long each page after the first of a paginated list takes, like a busy API
    /// server (or etcd) answering a 10,000-pod list.
    page_delay: Duration,
}

struct Inner {
    world: Mutex<World>,
    options: Mutex<Options>,
    changes: broadcast::Sender<Broadcast>,
    logs: logs::Logs,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct KubeServer {
    inner: Arc<Inner>,
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    dir: tempfile::TempDir,
}

/// `(apiVersion, kind)` for the resources this server knows.
fn kind_of(resource: &str) -> Option<(&'static str, &'static str)> {
    Some(match resource {
        "pods" => ("v1", "Pod"),
        "nodes" => ("v1", "Node"),
        "events" => ("v1", "Event"),
        "deployments" => ("apps/v1", "Deployment"),
        "replicasets" => ("apps/v1", "ReplicaSet"),
        "horizontalpodautoscalers" => ("autoscaling/v2", "HorizontalPodAutoscaler"),
        "poddisruptionbudgets" => ("policy/v1", "PodDisruptionBudget"),
        "leases" => ("coordination.k8s.io/v1", "Lease"),
        "selfsubjectaccessreviews" => ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        "nodemetrics" => ("metrics.k8s.io/v1beta1", "NodeMetrics"),
        "podmetrics" => ("metrics.k8s.io/v1beta1", "PodMetrics"),
        // Velero's custom resource, for backup freshness.
        "backups" => ("velero.io/v1", "Backup"),
        _ => return None,
    })
}

impl KubeServer {
    pub async fn start() -> KubeServer {
        let (changes, _) = broadcast::channel(65_536);
        let inner = Arc::new(Inner {
            world: Mutex::new(World {
                rv: 100,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                oldest: 0,
                requests: Vec::new(),
                uid: 0,
                listed: BTreeMap::new(),
            }),
            options: Mutex::new(Options::default()),
            changes,
            logs: logs::Logs::default(),
        });
        let listener = bind("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kubeconfig"),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: http://{addr}\n\
                 contexts:\n- name: test\n  context:\n    cluster: test\n    user: tester\n    namespace: shop\n\
                 current-context: test\nusers:\n- name: tester\n  user:\n    token: test-token\n"
            ),
        )
        .unwrap();
        let accept = tokio::spawn(serve(listener, Arc::clone(&inner)));
        KubeServer {
            inner,
            addr,
            accept: Mutex::new(Some(accept)),
            dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig with one context, `test`, pointing here.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub async fn client(&self) -> kube::Client {
        opsdeck::sources::kube::connect_with(&[self.kubeconfig()], Some("test"))
            .await
            .unwrap()
    }

    /// Closes the listener and every open connection (watches included), like a crashed or
    /// unreachable API server. State is kept for `restart`.
    pub fn stop(&self) {
        if let Some(task) = lock(&self.accept).take() {
            task.abort();
        }
    }

    pub async fn restart(&self) {
        self.stop();
        // The old accept task may still be unwinding; binding retries until the port is free.
        let mut tries = 0;
        let listener = loop {
            match try_bind(self.addr) {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot rebind {}: {e}", self.addr),
            }
        };
        *lock(&self.accept) = Some(tokio::spawn(serve(listener, Arc::clone(&self.inner))));
    }

    pub fn set_latency(&self, latency: Duration) {
        lock(&self.inner.options).latency = latency;
    }

    /// Every request on `resource` (plural, e.g. `events`) gets `403 Forbidden`.
    pub fn forbid(&self, resource: &str) {
        lock(&self.inner.options)
            .forbidden
            .insert(resource.to_string());
    }

    /// Answers 404 for `resource`, as a cluster without its CustomResourceDefinition.
    pub fn lack(&self, resource: &str) {
        lock(&self.inner.options)
            .absent
            .insert(resource.to_string());
    }

    pub fn allow(&self, resource: &str) {
        lock(&self.inner.options).forbidden.remove(resource);
    }

    /// SelfSubjectAccessReview answers "not allowed" for `verb` on `resource` (e.g.
    /// `deployments/scale`).
    pub fn deny(&self, verb: &str, resource: &str) {
        lock(&self.inner.options)
            .denied
            .push((verb.to_string(), resource.to_string()));
    }

    /// Serves metrics.k8s.io from `nodemetrics` / `podmetrics` objects put with
    /// `put_values`; without this the group answers 404 like a cluster without
    /// metrics-server.
    pub fn serve_metrics(&self) {
        lock(&self.inner.options).metrics = true;
    }

    pub fn bookmarks_every(&self, every: Duration) {
        lock(&self.inner.options).bookmark_every = Some(every);
    }

    /// Makes every page after the first of a paginated list wait `delay` before it is sent.
    pub fn delay_pages(&self, delay: Duration) {
        lock(&self.inner.options).page_delay = delay;
    }

    /// When the last page of the latest list of `resource` was served, if one was.
    pub fn listed_at(&self, resource: &str) -> Option<tokio::time::Instant> {
        lock(&self.inner.world).listed.get(resource).copied()
    }

    /// Changes one pod (its first container restarts once more) `per_second` times a
    /// second, going round every pod, until the returned task is aborted: the steady event
    /// stream of a busy cluster. Must be called inside a tokio runtime.
    pub fn churn_pods(&self, per_second: u32) -> JoinHandle<()> {
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
            let mut next = 0usize;
            loop {
                tick.tick().await;
                let limit = lock(&inner.options).history_limit;
                let mut world = lock(&inner.world);
                let start = ("pods".to_string(), String::new(), String::new());
                let pods = world
                    .objects
                    .range(start..)
                    .take_while(|(k, _)| k.0 == "pods");
                let Some(mut pod) = pods
                    .clone()
                    .nth(next)
                    .or_else(|| {
                        next = 0;
                        pods.clone().next()
                    })
                    .map(|(_, v)| v.clone())
                else {
                    continue;
                };
                next += 1;
                let restarts = &mut pod["status"]["containerStatuses"][0]["restartCount"];
                *restarts = json!(restarts.as_i64().unwrap_or(0) + 1);
                world.write(&inner.changes, "pods", pod);
                world.trim_history(limit);
            }
        })
    }

    /// Keeps only the newest `n` changes for watches to resume from.
    pub fn history_limit(&self, n: usize) {
        lock(&self.inner.options).history_limit = Some(n);
    }

    /// Forgets the change history: watches resuming from an older resourceVersion, and the
    /// ones open now, get `410 Gone`.
    pub fn compact(&self) {
        let mut world = lock(&self.inner.world);
        world.history.clear();
        world.oldest = world.rv + 1;
        let _ = self.inner.changes.send(Broadcast::Gone);
    }

    pub fn resource_version(&self) -> u64 {
        lock(&self.inner.world).rv
    }

    /// Watches from a resourceVersion older than this get `410 Gone`.
    pub fn oldest_resumable(&self) -> u64 {
        lock(&self.inner.world).oldest
    }

    /// Creates or replaces an object, as a controller or another client would.
    pub fn put<K: k8s_openapi::Resource + Serialize>(&self, obj: &K) {
        let value = serde_json::to_value(obj).unwrap();
        let limit = lock(&self.inner.options).history_limit;
        let mut world = lock(&self.inner.world);
        world.write(&self.inner.changes, K::URL_PATH_SEGMENT, value);
        world.trim_history(limit);
    }

    /// Writes many objects under one lock (for large worlds).
    pub fn put_all<K: k8s_openapi::Resource + Serialize>(&self, objs: &[K]) {
        let mut world = lock(&self.inner.world);
        for obj in objs {
            let value = serde_json::to_value(obj).unwrap();
            world.write(&self.inner.changes, K::URL_PATH_SEGMENT, value);
        }
    }

    /// Writes already-serialised objects of `resource` (benchmarks keep serialisation out of
    /// the timed part).
    pub fn put_values(&self, resource: &str, values: Vec<Value>) {
        let mut world = lock(&self.inner.world);
        for value in values {
            world.write(&self.inner.changes, resource, value);
        }
    }

    pub fn remove(&self, resource: &str, namespace: &str, name: &str) {
        let mut world = lock(&self.inner.world);
        world.delete(&self.inner.changes, resource, namespace, name);
    }

    pub fn get<K: DeserializeOwned>(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Option<K> {
        let world = lock(&self.inner.world);
        let key = (
            resource.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        world
            .objects
            .get(&key)
            .map(|v| serde_json::from_value(v.clone()).unwrap())
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.inner.world).requests.clone()
    }

    /// Requests other than the watchers' lists and watches: what an operation sent.
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.inner.world).requests.clear();
    }
}

impl Drop for KubeServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn try_bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn bind(addr: SocketAddr) -> tokio::net::TcpListener {
    try_bind(addr).unwrap()
}

async fn serve(listener: tokio::net::TcpListener, inner: Arc<Inner>) {
    // Owned here so that aborting this task closes every connection with it.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let inner = Arc::clone(&inner);
        connections.spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&inner), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

fn full(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    full(
        StatusCode::from_u16(code).unwrap(),
        status_json(code, reason, message),
    )
}

fn status_json(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// The parts of a resource path: `/api/v1/namespaces/shop/pods/x/status`.
#[derive(Debug, Default)]
struct Target {
    namespace: String,
    resource: String,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", group, _version, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (ns.to_string(), rest),
        rest => (String::new(), rest),
    };
    let mut t = Target {
        namespace,
        ..Target::default()
    };
    t.resource = rest.first()?.to_string();
    if group == "metrics.k8s.io" {
        // Same plural as the core resource; stored apart.
        t.resource = format!("{}metrics", t.resource.trim_end_matches('s'));
    }
    t.name = rest.get(1).map(|s| s.to_string());
    t.sub = rest.get(2).map(|s| s.to_string());
    Some(t)
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    url_decode_pairs(query).into_iter().collect()
}

fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=b,c!=d` against an object's labels.
fn labels_match(selector: &str, object: &Value) -> bool {
    let labels = &object["metadata"]["labels"];
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k].as_str() != Some(v)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels[k].as_str() == Some(v)
        } else {
            !labels[term].is_null()
        }
    })
}

/// `type=Warning,metadata.name=x` against dotted field paths.
fn fields_match(selector: &str, object: &Value) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (path, want, equal) = match term.split_once("!=") {
            Some((p, v)) => (p, v, false),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((p, v)) => (p, v, true),
                None => return true,
            },
        };
        let mut v = object;
        for part in path.split('.') {
            v = &v[part];
        }
        (v.as_str().unwrap_or("") == want) == equal
    })
}

fn selected(q: &BTreeMap<String, String>, object: &Value) -> bool {
    q.get("labelSelector")
        .is_none_or(|s| labels_match(s, object))
        && q.get("fieldSelector")
            .is_none_or(|s| fields_match(s, object))
}

/// RFC 7386 JSON merge patch. Strategic merge patches of the maps-only shape the client
/// sends merge the same way.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            let Some(t) = target.as_object_mut() else {
                return;
            };
            for (k, v) in fields {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// What the real API server would refuse with `422 Invalid`.
fn validate(resource: &str, obj: &Value) -> Result<(), String> {
    use k8s_openapi::api;
    fn typed<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
    }
    match resource {
        "deployments" => {
            let d: api::apps::v1::Deployment = typed(obj)?;
            if d.spec.and_then(|s| s.replicas).is_some_and(|r| r < 0) {
                return Err(
                    "spec.replicas: Invalid value: must be greater than or equal to 0".into(),
                );
            }
        }
        "horizontalpodautoscalers" => {
            let h: api::autoscaling::v2::HorizontalPodAutoscaler = typed(obj)?;
            let spec = h.spec.unwrap_or_default();
            let min = spec.min_replicas.unwrap_or(1);
            if min < 1 {
                return Err(
                    "spec.minReplicas: Invalid value: must be greater than or equal to 1".into(),
                );
            }
            if spec.max_replicas < min {
                return Err(format!(
                    "spec.maxReplicas: Invalid value: {}: must be greater than or equal to `minReplicas`",
                    spec.max_replicas
                ));
            }
        }
        "nodes" => drop(typed::<api::core::v1::Node>(obj)?),
        "pods" => drop(typed::<api::core::v1::Pod>(obj)?),
        "leases" => drop(typed::<api::coordination::v1::Lease>(obj)?),
        _ => {}
    }
    Ok(())
}

impl World {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores `value` under its name, stamping resourceVersion (and uid and creation time
    /// for new objects), and tells the watches.
    fn write(
        &mut self,
        tx: &broadcast::Sender<Broadcast>,
        resource: &str,
        mut value: Value,
    ) -> Value {
        let ns = value["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_string();
        let key = (resource.to_string(), ns.clone(), name);
        let existed = self.objects.contains_key(&key);
        if let Some((api_version, kind)) = kind_of(resource) {
            value["apiVersion"] = json!(api_version);
            value["kind"] = json!(kind);
        }
        if value["metadata"]["uid"].is_null() {
            self.uid += 1;
            value["metadata"]["uid"] = json!(format!("uid-{}", self.uid));
        }
        if value["metadata"]["creationTimestamp"].is_null() {
            value["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        let rv = self.next_rv();
        value["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.objects.insert(key, value.clone());
        self.record(
            tx,
            rv,
            resource,
            ns,
            if existed { "MODIFIED" } else { "ADDED" },
            value.clone(),
        );
        value
    }

    fn delete(
        &mut self,
        tx: &broadcast::Sender<Broadcast>,
        resource: &str,
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        let key = (resource.to_string(), ns.to_string(), name.to_string());
        let mut value = self.objects.remove(&key)?;
        let rv = self.next_rv();
        value["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.record(tx, rv, resource, ns.to_string(), "DELETED", value.clone());
        Some(value)
    }

    fn record(
        &mut self,
        tx: &broadcast::Sender<Broadcast>,
        rv: u64,
        resource: &str,
        namespace: String,
        kind: &'static str,
        object: Value,
    ) {
        let change = Arc::new(Change {
            rv,
            resource: resource.to_string(),
            namespace,
            kind,
            line: watch_line(kind, &object),
            object,
        });
        self.history.push_back(Arc::clone(&change));
        let _ = tx.send(Broadcast::Change(change));
    }

    fn trim_history(&mut self, limit: Option<usize>) {
        if let Some(limit) = limit {
            while self.history.len() > limit {
                if let Some(c) = self.history.pop_front() {
                    self.oldest = c.rv + 1;
                }
            }
        }
    }
}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let latency = lock(&inner.options).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let q = query_map(&query);
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let dry_run = q.get("dryRun").is_some_and(|v| v == "All")
        || body_json["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "All"));
    lock(&inner.world).requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        body: body_text,
        dry_run,
    });
    let Some(target) = parse_path(&path) else {
        return Ok(status(404, "NotFound", &format!("no route for {path}")));
    };
    let metrics_off = target.resource.ends_with("metrics") && !lock(&inner.options).metrics;
    let absent = lock(&inner.options).absent.contains(&target.resource);
    if kind_of(&target.resource).is_none() || metrics_off || absent {
        return Ok(status(
            404,
            "NotFound",
            &format!(
                "the server could not find the requested resource ({})",
                target.resource
            ),
        ));
    }
    if lock(&inner.options).forbidden.contains(&target.resource) {
        let scope = if target.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", target.namespace)
        };
        return Ok(status(
            403,
            "Forbidden",
            &format!(
                "{} is forbidden: User \"tester\" cannot {} resource \"{}\" {scope}",
                target.resource,
                method.as_str().to_lowercase(),
                target.resource
            ),
        ));
    }
    // ---- pod logs: see logs.rs ----
    if let (&Method::GET, Some(pod), Some("log")) = (&method, &target.name, target.sub.as_deref()) {
        return Ok(logs::serve(&inner, &target, pod, &q));
    }
    // ---- end pod logs ----
    let response = match (&method, &target.name, target.sub.as_deref()) {
        (&Method::GET, None, _) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch(&inner, &target, &q)
        }
        (&Method::GET, None, _) => {
            let delay = lock(&inner.options).page_delay;
            if q.contains_key("continue") && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            list(&inner, &target, &q)
        }
        (&Method::GET, Some(name), None) => get(&inner, &target, name),
        (&Method::GET, Some(name), Some("scale")) => match scale_of(&inner, &target, name) {
            Some(s) => full(StatusCode::OK, s),
            None => not_found(&target, name),
        },
        (&Method::POST, None, _) => create(&inner, &target, body_json, dry_run),
        (&Method::PUT, Some(name), None) => replace(&inner, &target, name, body_json, dry_run),
        (&Method::PATCH, Some(name), sub) => patch(
            &inner,
            &target,
            name,
            sub,
            &content_type,
            &body_json,
            dry_run,
        ),
        (&Method::DELETE, Some(name), None) => {
            let key = (
                target.resource.clone(),
                target.namespace.clone(),
                name.clone(),
            );
            let mut world = lock(&inner.world);
            match world.objects.get(&key).cloned() {
                None => not_found(&target, name),
                Some(obj) if dry_run => full(StatusCode::OK, obj),
                Some(_) => {
                    let obj =
                        world.delete(&inner.changes, &target.resource, &target.namespace, name);
                    full(StatusCode::OK, obj.unwrap_or(Value::Null))
                }
            }
        }
        _ => status(
            405,
            "MethodNotAllowed",
            &format!("{method} {path} is not supported here"),
        ),
    };
    Ok(response)
}

fn not_found(target: &Target, name: &str) -> Response<Body> {
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", target.resource),
    )
}

fn in_scope(target: &Target, key: &Key) -> bool {
    key.0 == target.resource && (target.namespace.is_empty() || key.1 == target.namespace)
}

fn list(inner: &Inner, target: &Target, q: &BTreeMap<String, String>) -> Response<Body> {
    let mut world = lock(&inner.world);
    let (offset, rv) = match q.get("continue").and_then(|c| c.split_once(':')) {
        Some((o, rv)) => (o.parse().unwrap_or(0), rv.to_string()),
        None => (0usize, world.rv.to_string()),
    };
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let start = (target.resource.clone(), String::new(), String::new());
    let matching = world
        .objects
        .range(start..)
        .take_while(|(k, _)| k.0 == target.resource)
        .filter(|(k, v)| in_scope(target, k) && selected(q, v))
        .skip(offset);
    let mut items: Vec<&Value> = Vec::new();
    let mut remaining = 0usize;
    for (_, v) in matching {
        if items.len() == limit {
            remaining += 1;
        } else {
            items.push(v);
        }
    }
    let (api_version, kind) = kind_of(&target.resource).unwrap_or(("v1", "Unknown"));
    let mut metadata = json!({"resourceVersion": rv});
    if remaining > 0 {
        metadata["continue"] = json!(format!("{}:{rv}", offset + items.len()));
        // As the API server does: an estimate, and only for lists without selectors.
        if !q.contains_key("labelSelector") && !q.contains_key("fieldSelector") {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        kind: String,
        api_version: &'a str,
        metadata: Value,
        items: Vec<&'a Value>,
    }
    // Serialised straight from the stored objects: a 10,000-pod list is not copied first.
    let body = serde_json::to_vec(&List {
        kind: format!("{kind}List"),
        api_version,
        metadata,
        items,
    })
    .unwrap_or_default();
    if remaining == 0 {
        world
            .listed
            .insert(target.resource.clone(), tokio::time::Instant::now());
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap()
}

fn get(inner: &Inner, target: &Target, name: &str) -> Response<Body> {
    let key = (
        target.resource.clone(),
        target.namespace.clone(),
        name.to_string(),
    );
    match lock(&inner.world).objects.get(&key) {
        Some(v) => full(StatusCode::OK, v.clone()),
        None => not_found(target, name),
    }
}

fn scale_of(inner: &Inner, target: &Target, name: &str) -> Option<Value> {
    let key = (
        target.resource.clone(),
        target.namespace.clone(),
        name.to_string(),
    );
    let world = lock(&inner.world);
    let d = world.objects.get(&key)?;
    Some(json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": name, "namespace": target.namespace,
                     "resourceVersion": d["metadata"]["resourceVersion"], "uid": d["metadata"]["uid"]},
        "spec": {"replicas": d["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": d["status"]["replicas"].as_i64().unwrap_or(0)}
    }))
}

fn create(inner: &Inner, target: &Target, mut body: Value, dry_run: bool) -> Response<Body> {
    if target.resource == "selfsubjectaccessreviews" {
        let attrs = &body["spec"]["resourceAttributes"];
        let verb = attrs["verb"].as_str().unwrap_or("");
        let resource = match attrs["subresource"].as_str().filter(|s| !s.is_empty()) {
            Some(sub) => format!("{}/{sub}", attrs["resource"].as_str().unwrap_or("")),
            None => attrs["resource"].as_str().unwrap_or("").to_string(),
        };
        let denied = lock(&inner.options)
            .denied
            .iter()
            .any(|(v, r)| v == verb && *r == resource);
        body["status"] = if denied {
            json!({"allowed": false, "reason": format!("RBAC: role \"viewer\" does not grant {verb} on {resource}")})
        } else {
            json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"ops\""})
        };
        body["apiVersion"] = json!("authorization.k8s.io/v1");
        body["kind"] = json!("SelfSubjectAccessReview");
        return full(StatusCode::CREATED, body);
    }
    if !target.namespace.is_empty() {
        body["metadata"]["namespace"] = json!(target.namespace);
    }
    let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
    let key = (
        target.resource.clone(),
        target.namespace.clone(),
        name.clone(),
    );
    if let Err(e) = validate(&target.resource, &body) {
        return status(
            422,
            "Invalid",
            &format!("{} \"{name}\" is invalid: {e}", target.resource),
        );
    }
    let mut world = lock(&inner.world);
    if world.objects.contains_key(&key) {
        return status(
            409,
            "AlreadyExists",
            &format!("{} \"{name}\" already exists", target.resource),
        );
    }
    if dry_run {
        return full(StatusCode::CREATED, body);
    }
    let limit = lock(&inner.options).history_limit;
    let stored = world.write(&inner.changes, &target.resource, body);
    world.trim_history(limit);
    full(StatusCode::CREATED, stored)
}

fn replace(
    inner: &Inner,
    target: &Target,
    name: &str,
    mut body: Value,
    dry_run: bool,
) -> Response<Body> {
    let key = (
        target.resource.clone(),
        target.namespace.clone(),
        name.to_string(),
    );
    let mut world = lock(&inner.world);
    let Some(current) = world.objects.get(&key).cloned() else {
        return not_found(target, name);
    };
    let sent_rv = body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let stored_rv = current["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("");
    if !sent_rv.is_empty() && sent_rv != stored_rv {
        return status(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                target.resource
            ),
        );
    }
    if let Err(e) = validate(&target.resource, &body) {
        return status(
            422,
            "Invalid",
            &format!("{} \"{name}\" is invalid: {e}", target.resource),
        );
    }
    // Status is owned by controllers: a PUT of the main resource leaves it alone.
    body["status"] = current["status"].clone();
    body["metadata"]["uid"] = current["metadata"]["uid"].clone();
    body["metadata"]["creationTimestamp"] = current["metadata"]["creationTimestamp"].clone();
    if target.resource == "deployments" && body["spec"] != current["spec"] {
        body["metadata"]["generation"] =
            json!(current["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
    }
    if dry_run {
        return full(StatusCode::OK, body);
    }
    let limit = lock(&inner.options).history_limit;
    let stored = world.write(&inner.changes, &target.resource, body);
    world.trim_history(limit);
    full(StatusCode::OK, stored)
}

#[allow(clippy::too_many_arguments)]
fn patch(
    inner: &Inner,
    target: &Target,
    name: &str,
    sub: Option<&str>,
    content_type: &str,
    body: &Value,
    dry_run: bool,
) -> Response<Body> {
    if !matches!(
        content_type,
        "application/merge-patch+json" | "application/strategic-merge-patch+json"
    ) {
        return status(
            415,
            "UnsupportedMediaType",
            &format!("patch type {content_type} is not supported here"),
        );
    }
    let key = (
        target.resource.clone(),
        target.namespace.clone(),
        name.to_string(),
    );
    let limit = lock(&inner.options).history_limit;
    match sub {
        None => {
            let mut world = lock(&inner.world);
            let Some(mut obj) = world.objects.get(&key).cloned() else {
                return not_found(target, name);
            };
            let before = obj["spec"].clone();
            merge(&mut obj, body);
            if let Err(e) = validate(&target.resource, &obj) {
                return status(
                    422,
                    "Invalid",
                    &format!("{} \"{name}\" is invalid: {e}", target.resource),
                );
            }
            if target.resource == "deployments" && obj["spec"] != before {
                obj["metadata"]["generation"] =
                    json!(obj["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
            }
            if dry_run {
                return full(StatusCode::OK, obj);
            }
            let stored = world.write(&inner.changes, &target.resource, obj);
            world.trim_history(limit);
            full(StatusCode::OK, stored)
        }
        Some("scale") if target.resource == "deployments" => {
            let Some(mut scale) = scale_of(inner, target, name) else {
                return not_found(target, name);
            };
            merge(&mut scale, body);
            let Some(replicas) = scale["spec"]["replicas"].as_i64().filter(|r| *r >= 0) else {
                return status(
                    422,
                    "Invalid",
                    &format!(
                        "Scale.autoscaling \"{name}\" is invalid: spec.replicas: must be a non-negative integer"
                    ),
                );
            };
            if dry_run {
                return full(StatusCode::OK, scale);
            }
            let mut world = lock(&inner.world);
            let Some(mut obj) = world.objects.get(&key).cloned() else {
                return not_found(target, name);
            };
            obj["spec"]["replicas"] = json!(replicas);
            obj["metadata"]["generation"] =
                json!(obj["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
            let stored = world.write(&inner.changes, &target.resource, obj);
            world.trim_history(limit);
            scale["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"].clone();
            full(StatusCode::OK, scale)
        }
        Some(other) => status(
            404,
            "NotFound",
            &format!(
                "subresource {other} of {} is not served here",
                target.resource
            ),
        ),
    }
}

/// `{"type":…,"object":…}` with `type` first, as the API server writes it: clients decode
/// the event in one pass only when the tag comes before the object.
fn watch_line(kind: &str, object: &Value) -> Bytes {
    let mut line = format!("{{\"type\":\"{kind}\",\"object\":");
    line.push_str(&object.to_string());
    line.push_str("}\n");
    Bytes::from(line)
}

fn gone_line(rv: &str) -> Bytes {
    watch_line(
        "ERROR",
        &status_json(410, "Expired", &format!("too old resource version: {rv}")),
    )
}

fn watch(inner: &Arc<Inner>, target: &Target, q: &BTreeMap<String, String>) -> Response<Body> {
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let (api_version, kind) = kind_of(&target.resource).unwrap_or(("v1", "Unknown"));
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map(Duration::from_secs);
    let bookmark_every = lock(&inner.options).bookmark_every;
    let (backlog, mut live, gone) = {
        let world = lock(&inner.world);
        let live = inner.changes.subscribe();
        if from == 0 {
            // "Any version": the current state as ADDED events, then changes.
            let backlog: Vec<Bytes> = world
                .objects
                .iter()
                .filter(|(k, v)| in_scope(target, k) && selected(q, v))
                .map(|(_, v)| watch_line("ADDED", v))
                .collect();
            (backlog, live, false)
        } else if from + 1 < world.oldest {
            (Vec::new(), live, true)
        } else {
            let backlog = world
                .history
                .iter()
                .filter(|c| c.rv > from && c.resource == target.resource)
                .filter(|c| target.namespace.is_empty() || c.namespace == target.namespace)
                .filter(|c| selected(q, &c.object))
                .map(|c| c.line.clone())
                .collect();
            (backlog, live, false)
        }
    };
    let target_resource = target.resource.clone();
    let namespace = target.namespace.clone();
    let q = q.clone();
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        if gone {
            let _ = tx.send(gone_line(&from.to_string())).await;
            return;
        }
        for line in backlog {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut bookmark = bookmark_every.map(tokio::time::interval);
        loop {
            let next_bookmark = async {
                match bookmark.as_mut() {
                    Some(i) if bookmarks => {
                        i.tick().await;
                    }
                    _ => std::future::pending::<()>().await,
                }
            };
            let ends = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let line = tokio::select! {
                msg = live.recv() => match msg {
                    Ok(Broadcast::Change(c)) => {
                        if c.rv <= from || c.resource != target_resource
                            || (!namespace.is_empty() && c.namespace != namespace)
                            || !selected(&q, &c.object) {
                            continue;
                        }
                        c.line.clone()
                    }
                    Ok(Broadcast::Gone) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx.send(gone_line(&from.to_string())).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = next_bookmark => {
                    let rv = lock(&inner.world).rv;
                    watch_line("BOOKMARK", &json!({"kind": kind, "apiVersion": api_version,
                                                   "metadata": {"resourceVersion": rv.to_string()}}))
                }
                _ = ends => return,
                _ = tx.closed() => return,
            };
            if tx.send(line).await.is_err() {
                return;
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
        .header("content-type", "application/json")
        .body(StreamBody::new(stream).boxed())
        .unwrap()
}

/// Watcher settings that make failure tests take a second, not a minute.
pub fn fast_tuning() -> opsdeck::sources::kube::Tuning {
    opsdeck::sources::kube::Tuning {
        publish_every: Duration::from_millis(50),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(300),
        ..opsdeck::sources::kube::Tuning::default()
    }
}

pub type ClusterFeed = opsdeck::model::Feed<opsdeck::model::cluster::ClusterSnapshot>;

/// One kubeconfig naming several test servers, each as a context of its own (cluster and
/// user named after it); the first is the current context. Written into `dir`.
pub fn kubeconfig_for(servers: &[(&str, &KubeServer)], dir: &std::path::Path) -> PathBuf {
    let mut clusters = String::new();
    let mut contexts = String::new();
    let mut users = String::new();
    for (name, server) in servers {
        let addr = server.addr();
        clusters.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: http://{addr}\n"
        ));
        contexts.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        ));
        users.push_str(&format!(
            "- name: {name}\n  user:\n    token: {name}-token\n"
        ));
    }
    let current = servers.first().map_or("", |(name, _)| name);
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}contexts:\n{contexts}\
             current-context: {current}\nusers:\n{users}"
        ),
    )
    .unwrap();
    path
}

/// Waits (up to 15 s) until the contexts' health lines satisfy `pred`.
pub async fn wait_for_lines(
    rx: &mut opsdeck::sources::ContextsRx,
    what: &str,
    pred: impl Fn(&[opsdeck::model::summary::ContextHealth]) -> bool,
) -> Arc<Vec<opsdeck::model::summary::ContextHealth>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let current = rx.borrow_and_update().clone();
        if pred(&current) {
            return current;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            panic!(
                "timed out waiting for {what}; last lines: {:#?}",
                rx.borrow()
            );
        }
    }
}

/// Waits (up to 15 s) until the published cluster feed satisfies `pred`; on timeout fails
/// with `what` and the last feed seen.
pub async fn wait_for(
    rx: &mut opsdeck::sources::Rx<opsdeck::model::cluster::ClusterSnapshot>,
    what: &str,
    pred: impl Fn(&ClusterFeed) -> bool,
) -> Arc<ClusterFeed> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let current = rx.borrow_and_update().clone();
        if pred(&current) {
            return current;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            let last = rx.borrow().clone();
            panic!(
                "timed out waiting for {what}; last feed: health {:?}, {} nodes, {} pods, forbidden {:?}, loading {:?}",
                last.health,
                last.data.nodes.len(),
                last.data.pods.len(),
                last.data.forbidden,
                last.data.loading
            );
        }
    }
}
