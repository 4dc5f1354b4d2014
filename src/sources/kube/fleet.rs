//! Several contexts watched at once. The active one feeds the cluster pane and takes the
//! operations; every one keeps its watchers running and has a health line on the overview.
//! `:ctx` moves the active mark (connecting first to a context not watched yet), `:ns`
//! re-watches the active context in another namespace.
//!
//! Each context publishes into its own channel; a small follower task per context turns its
//! feed into a health line and, for the active one, forwards the feed itself. The feed
//! carries its own context and namespace, so the pane's title always names where its rows
//! came from, whatever is switched in between.

use super::watch::{ClusterWatch, Tuning, spawn_with};
use super::{ConnectError, KubeConfig, connect, connect_with, current_context, ops_for, store};
use crate::model::cluster::ClusterSnapshot;
use crate::model::summary::{ContextHealth, context_failed, context_health};
use crate::model::{Feed, Health};
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use crate::sources::{ClusterControl, ContextsTx, Rx, Tx};
use ::kube::Client;
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where clients come from.
#[derive(Debug, Clone, Default)]
pub enum ConfigSource {
    /// `KUBECONFIG`, else `~/.kube/config`, else the pod's service account.
    #[default]
    Default,
    /// These files, merged in order like a `KUBECONFIG` list.
    Files(Vec<PathBuf>),
}

impl ConfigSource {
    async fn connect(&self, context: Option<&str>) -> Result<Client, ConnectError> {
        match self {
            ConfigSource::Default => connect(context).await,
            ConfigSource::Files(files) => connect_with(files, context).await,
        }
    }
}

/// Every watched context; see the module docs. Dropping the last handle stops every watcher.
pub struct Fleet {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    cluster: Tx<ClusterSnapshot>,
    contexts: ContextsTx,
    kubeconfig: ConfigSource,
    config: KubeConfig,
    tuning: Tuning,
    /// Bumped by every `:ctx`: a slow connect that a later request overtook must not switch.
    requests: AtomicU64,
    /// Tells feeds apart across `:ns` switches, so a superseded follower is ignored.
    next_feed: AtomicU64,
}

struct State {
    members: Vec<Member>,
    active: usize,
}

struct Member {
    context: String,
    namespace: Option<String>,
    /// Listed in `[kube] contexts`, so watched for as long as the console runs. A context
    /// opened with `:ctx` is watched until another such context replaces it.
    configured: bool,
    health: ContextHealth,
    /// `Err` when no client could be made; the health line says why.
    conn: Result<Conn, String>,
}

struct Conn {
    client: Client,
    ops: Arc<dyn Ops>,
    feed: Watching,
}

/// One watch of one namespace scope, with the task following its channel.
struct Watching {
    id: u64,
    rx: Rx<ClusterSnapshot>,
    _watch: ClusterWatch,
    follower: JoinHandle<()>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

impl Fleet {
    /// Connects to every context of `config` (the current one when none is listed), starts
    /// watching them all and makes the first one active. Must run inside a tokio runtime.
    pub async fn start(
        kubeconfig: ConfigSource,
        config: KubeConfig,
        tuning: Tuning,
        cluster: Tx<ClusterSnapshot>,
        contexts: ContextsTx,
    ) -> Fleet {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                members: Vec::new(),
                active: 0,
            }),
            cluster,
            contexts,
            kubeconfig,
            config,
            tuning,
            requests: AtomicU64::new(0),
            next_feed: AtomicU64::new(0),
        });
        let wanted: Vec<Option<String>> = if shared.config.contexts.is_empty() {
            vec![None]
        } else {
            shared.config.contexts.iter().cloned().map(Some).collect()
        };
        let clients = futures::future::join_all(
            wanted
                .iter()
                .map(|c| shared.kubeconfig.connect(c.as_deref())),
        )
        .await;
        {
            let mut state = shared.lock();
            for (context, client) in wanted.into_iter().zip(clients) {
                let name = context.unwrap_or_else(|| shared.current_context());
                let member = shared.member(name, true, client.map_err(|e| e.to_string()));
                state.members.push(member);
            }
            shared.activate(&mut state, 0);
        }
        Fleet { shared }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain bookkeeping: still consistent if a panic interrupted a holder.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current_context(&self) -> String {
        match &self.kubeconfig {
            ConfigSource::Default => current_context(),
            ConfigSource::Files(files) => files
                .iter()
                .find_map(|f| {
                    ::kube::config::Kubeconfig::read_from(f)
                        .ok()?
                        .current_context
                })
                .unwrap_or_default(),
        }
    }

    fn member(
        self: &Arc<Self>,
        context: String,
        configured: bool,
        client: Result<Client, String>,
    ) -> Member {
        let namespace = self.config.namespace.clone();
        let conn = client.map(|client| Conn {
            ops: Arc::from(ops_for(client.clone(), &context, Some(&self.config), false)),
            feed: self.watch(&client, &context, namespace.clone()),
            client,
        });
        let health = match &conn {
            Ok(c) => context_health(&c.feed.rx.borrow(), false),
            Err(e) => context_failed(&context, namespace.as_deref(), false, e.clone()),
        };
        Member {
            context,
            namespace,
            configured,
            health,
            conn,
        }
    }

    fn watch(
        self: &Arc<Self>,
        client: &Client,
        context: &str,
        namespace: Option<String>,
    ) -> Watching {
        let id = self.next_feed.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(Arc::new(Feed {
            data: store::starting(context.to_string(), namespace.clone()),
            health: Health::default(),
        }));
        let watch = spawn_with(client.clone(), context, namespace, tx, self.tuning.clone());
        let follower = tokio::spawn(follow(Arc::downgrade(self), id, rx.clone()));
        Watching {
            id,
            rx,
            _watch: watch,
            follower,
        }
    }

    /// A context's feed changed: its health line, and the pane if it is the active one.
    fn seen(&self, feed_id: u64, feed: Arc<Feed<ClusterSnapshot>>) {
        let mut state = self.lock();
        let active = state.active;
        let Some(i) = state
            .members
            .iter()
            .position(|m| m.conn.as_ref().is_ok_and(|c| c.feed.id == feed_id))
        else {
            return;
        };
        state.members[i].health = context_health(&feed, i == active);
        if i == active {
            self.cluster.send_replace(feed);
        }
        self.publish_lines(&state);
    }

    /// Makes member `i` the active one and shows its current feed at once.
    fn activate(&self, state: &mut State, i: usize) {
        state.active = i;
        for (n, m) in state.members.iter_mut().enumerate() {
            m.health.active = n == i;
        }
        if let Some(m) = state.members.get(i) {
            let feed = match &m.conn {
                Ok(c) => c.feed.rx.borrow().clone(),
                // The pane says why instead of keeping the previous context's rows.
                Err(e) => Arc::new(Feed {
                    data: ClusterSnapshot {
                        context: m.context.clone(),
                        namespace: m.namespace.clone(),
                        ..ClusterSnapshot::default()
                    },
                    health: Health {
                        last_ok: None,
                        last_error: Some(e.clone()),
                        off: None,
                    },
                }),
            };
            self.cluster.send_replace(feed);
        }
        self.publish_lines(state);
    }

    fn publish_lines(&self, state: &State) {
        let lines: Vec<ContextHealth> = state.members.iter().map(|m| m.health.clone()).collect();
        self.contexts.send_if_modified(|current| {
            if **current == lines {
                return false;
            }
            *current = Arc::new(lines);
            true
        });
    }
}

async fn follow(shared: Weak<Shared>, feed_id: u64, mut rx: Rx<ClusterSnapshot>) {
    loop {
        let feed = rx.borrow_and_update().clone();
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.seen(feed_id, feed);
        drop(shared);
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[async_trait]
impl ClusterControl for Fleet {
    async fn use_context(&self, context: &str) -> Result<String, String> {
        let shared = &self.shared;
        let request = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
        {
            let mut state = shared.lock();
            if let Some(i) = state
                .members
                .iter()
                .position(|m| m.context == context && m.conn.is_ok())
            {
                shared.activate(&mut state, i);
                return Ok(format!("context {}", scope(&state.members[i])));
            }
        }
        let client = shared
            .kubeconfig
            .connect(Some(context))
            .await
            .map_err(|e| e.to_string())?;
        let mut state = shared.lock();
        if shared.requests.load(Ordering::SeqCst) != request {
            return Err(format!(
                "context {context} not opened: a later :ctx took its place"
            ));
        }
        let place = shared.config.contexts.iter().position(|c| c == context);
        // Only one context beyond the configured ones is watched at a time, so switching
        // around the kubeconfig does not pile up watchers.
        state
            .members
            .retain(|m| m.configured && m.context != context);
        let member = shared.member(context.to_string(), place.is_some(), Ok(client));
        let i = match place {
            // A configured context whose first connect failed goes back to its place.
            Some(i) => i.min(state.members.len()),
            None => state.members.len(),
        };
        state.members.insert(i, member);
        shared.activate(&mut state, i);
        Ok(format!("context {}", scope(&state.members[i])))
    }

    fn use_namespace(&self, namespace: Option<String>) -> Result<String, String> {
        let shared = &self.shared;
        let mut state = shared.lock();
        let active = state.active;
        let Some(m) = state.members.get_mut(active) else {
            return Err("no Kubernetes context is connected".into());
        };
        let conn = m
            .conn
            .as_mut()
            .map_err(|e| format!("context {} is not connected: {e}", m.context))?;
        conn.feed = shared.watch(&conn.client, &m.context, namespace.clone());
        m.namespace = namespace;
        let feed = conn.feed.rx.borrow().clone();
        m.health = context_health(&feed, true);
        let said = format!("context {}", scope(m));
        shared.activate(&mut state, active);
        Ok(said)
    }
}

fn scope(m: &Member) -> String {
    crate::model::cluster::scope(&m.context, m.namespace.as_deref())
}

/// Operations go to the active context, with that context's read-only setting.
#[async_trait]
impl Ops for Fleet {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        self.ops_for(op)?.apply(op, mode).await
    }

    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        self.ops_for(op)?.preflight(op).await
    }
}

impl Fleet {
    /// The latest feed of `context`, when it is watched and connected: what the regions
    /// read their cluster's readiness from.
    pub fn context_feed(&self, context: &str) -> Option<Arc<Feed<ClusterSnapshot>>> {
        let state = self.shared.lock();
        let m = state.members.iter().find(|m| m.context == context)?;
        m.conn.as_ref().ok().map(|c| c.feed.rx.borrow().clone())
    }

    /// The context an operation names (a region's HPA), else the active one.
    fn ops_for(&self, op: &Op) -> Result<Arc<dyn Ops>, OpError> {
        let Op::SetHpaBounds {
            context: Some(context),
            ..
        } = op
        else {
            return self.active_ops(op);
        };
        let state = self.shared.lock();
        match state.members.iter().find(|m| &m.context == context) {
            Some(m) => match &m.conn {
                Ok(conn) => Ok(conn.ops.clone()),
                Err(e) => Err(OpError::Failed(format!(
                    "{op}: context {context} is not connected: {e}"
                ))),
            },
            None => Err(OpError::NotFound(format!(
                "{op}: context {context} is not watched (add it to [kube] contexts)"
            ))),
        }
    }

    fn active_ops(&self, op: &Op) -> Result<Arc<dyn Ops>, OpError> {
        let state = self.shared.lock();
        match state
            .members
            .get(state.active)
            .map(|m| (&m.context, &m.conn))
        {
            Some((_, Ok(conn))) => Ok(conn.ops.clone()),
            Some((context, Err(e))) => Err(OpError::Failed(format!(
                "{op}: context {context} is not connected: {e}"
            ))),
            None => Err(OpError::Unsupported(format!(
                "{op}: no Kubernetes context is connected"
            ))),
        }
    }
}

/// Logs, describe and YAML come from the active context, like operations.
#[async_trait]
impl crate::sources::Inspect for Fleet {
    fn logs(
        &self,
        request: crate::model::inspect::LogRequest,
        sink: crate::model::inspect::LogSink,
    ) -> crate::model::inspect::LogHandle {
        match self.active_client() {
            Ok(client) => super::logs::follow(client, request, sink, (&self.shared.tuning).into()),
            Err(why) => {
                sink.with(|b| b.state = crate::model::logs::LogState::Failed(why));
                Box::new(())
            }
        }
    }

    async fn describe(
        &self,
        object: &crate::model::inspect::ObjectRef,
    ) -> Result<Vec<(String, String)>, String> {
        super::inspect::describe_object(self.active_client()?, object).await
    }

    async fn yaml(&self, object: &crate::model::inspect::ObjectRef) -> Result<String, String> {
        super::inspect::yaml(self.active_client()?, object).await
    }
}

impl Fleet {
    fn active_client(&self) -> Result<Client, String> {
        let state = self.shared.lock();
        match state.members.get(state.active) {
            Some(m) => m
                .conn
                .as_ref()
                .map(|c| c.client.clone())
                .map_err(|e| format!("context {} is not connected: {e}", m.context)),
            None => Err("no Kubernetes context is connected".into()),
        }
    }
}
