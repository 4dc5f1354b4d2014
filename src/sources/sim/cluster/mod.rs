//! The mall's EKS cluster: nodes, workloads and their pods, autoscalers, budgets and
//! Warning events, moved forward one second at a time.

mod autoscale;
mod control;
mod faults;
mod flaky;
mod karpenter;
mod rollout;
mod setup;

use rollout::Revision;

use super::dice::{Dice, KUBE_ALPHABET};
use super::{Sec, at};
use crate::model::cluster::{
    ClusterSnapshot, DeploymentRow, EventRow, HpaMetric, HpaRow, NodeRow, PdbRow, PodPhase, PodRow,
};
use jiff::Timestamp;

pub(crate) const CONTEXT: &str = "shop-eks-drill";
/// The API server forgets events after an hour, so the pane does too.
const EVENT_TTL: Sec = 3600;
/// What a pod that is not autoscaled runs at, as a share of what it requests.
const IDLE_UTIL: f64 = 0.5;
/// CPU a node offers to pods' requests, in the same percent as `Workload::node_cpu`: the
/// kubelet's and the OS's share (`cpu_base`) is reserved apart.
const ALLOCATABLE: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub namespace: &'static str,
    pub name: &'static str,
    pub kind: Kind,
    pub image: String,
    pub revision: u64,
    /// pod-template-hash of the current ReplicaSet, the middle part of its pods' names.
    pub hash: String,
    pub replicas: u32,
    pub containers: u16,
    /// What one busy pod takes of its node, in percent of the node's CPU and memory.
    pub node_cpu: f64,
    pub node_mem: f64,
    /// Earlier revisions `kubectl rollout undo` can go back to, oldest first.
    pub history: Vec<Revision>,
    /// Share of requests the current revision fails, in percent: non-zero for a bad build.
    pub error_pct: f64,
    /// When the rollout still replacing pods began.
    pub rolling_since: Option<Sec>,
    /// Multiplier on the load the workload serves (a live-commerce event).
    pub load: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PodState {
    Pending {
        until: Sec,
    },
    /// Running, waiting for the readiness probe to pass.
    Starting {
        ready_at: Sec,
    },
    Ready,
    /// The container crashed; the kubelet waits before starting it again.
    BackOff {
        until: Sec,
    },
    /// No node can take it; Karpenter's cue to launch one.
    Unschedulable,
}

#[derive(Debug, Clone)]
pub(crate) struct Pod {
    pub workload: usize,
    pub name: String,
    /// pod-template-hash of the ReplicaSet the pod belongs to.
    pub hash: String,
    /// `None` while unschedulable.
    pub node: Option<usize>,
    pub created: Sec,
    pub restarts: u32,
    pub state: PodState,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub zone: &'static str,
    pub created: Sec,
    pub ready: bool,
    pub cordoned: bool,
    /// Load the kubelet, the OS and unlisted pods put on the node, in percent.
    pub cpu_base: f64,
    pub mem_base: f64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Budget {
    MinAvailable(u32),
    MaxUnavailable(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct Pdb {
    pub name: &'static str,
    pub workload: usize,
    pub budget: Budget,
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub namespace: &'static str,
    pub object: String,
    pub reason: &'static str,
    pub message: String,
    pub count: u32,
    pub last_seen: Sec,
}

#[derive(Debug, Clone)]
pub(crate) struct ClusterSim {
    dice: Dice,
    nodes: Vec<Node>,
    workloads: Vec<Workload>,
    pods: Vec<Pod>,
    hpas: Vec<autoscale::Hpa>,
    pdbs: Vec<Pdb>,
    events: Vec<Event>,
    flaky: flaky::Flaky,
    launches: Vec<karpenter::Launch>,
    /// What faults do draws from here, so injecting one never reshuffles the baseline.
    chaos: Dice,
}

impl ClusterSim {
    pub fn new(seed: u64, start_abs: i64) -> ClusterSim {
        setup::build(Dice::new(seed, 1), Dice::new(seed, 9), start_abs)
    }

    pub fn tick(&mut self, t: Sec, rpm: f64) {
        self.advance_pods(t);
        faults::tick(self, t);
        self.advance_rollouts();
        karpenter::tick(self, t);
        flaky::tick(self, t);
        // kube-controller-manager's default HPA sync period.
        if t.rem_euclid(15) == 0 {
            autoscale::sync(self, t, rpm);
        }
        if t.rem_euclid(30) == 0 {
            for n in &mut self.nodes {
                n.cpu_base = (n.cpu_base + 1.5 * self.dice.wobble()).clamp(6.0, 22.0);
                n.mem_base = (n.mem_base + 0.8 * self.dice.wobble()).clamp(18.0, 34.0);
            }
        }
    }

    fn advance_pods(&mut self, t: Sec) {
        for i in 0..self.pods.len() {
            // A kubelet that cannot reach the API server reports nothing: its pods stay put.
            if !self.on_ready_node(&self.pods[i]) {
                continue;
            }
            let next = match self.pods[i].state {
                PodState::Pending { until } if t >= until => PodState::Starting {
                    ready_at: t + 8 + self.dice.between(0, 7),
                },
                PodState::Starting { ready_at } if t >= ready_at => PodState::Ready,
                PodState::BackOff { until } if t >= until => {
                    // The restarted container is not serving yet when the first probe comes.
                    let (ns, object) = (
                        self.workloads[self.pods[i].workload].namespace,
                        format!("Pod/{}", self.pods[i].name),
                    );
                    self.bump_event(t, ns, object, "Unhealthy", || {
                        "Readiness probe failed: HTTP probe failed with statuscode: 503".into()
                    });
                    PodState::Starting { ready_at: t + 8 }
                }
                _ => continue,
            };
            self.pods[i].state = next;
        }
    }

    /// The container of pod `i` died: count the restart and back off for `backoff` seconds.
    fn crash_pod(&mut self, i: usize, t: Sec, backoff: Sec) {
        let Some(pod) = self.pods.get_mut(i) else {
            return;
        };
        pod.restarts += 1;
        pod.state = PodState::BackOff { until: t + backoff };
        let w = &self.workloads[pod.workload];
        let (ns, container, name) = (w.namespace, w.name, pod.name.clone());
        self.bump_event(t, ns, format!("Pod/{name}"), "BackOff", || {
            format!("Back-off restarting failed container {container} in pod {name}_{ns}")
        });
    }

    /// Kubernetes folds repeats of an event into one with a count.
    fn bump_event(
        &mut self,
        t: Sec,
        namespace: &'static str,
        object: String,
        reason: &'static str,
        message: impl FnOnce() -> String,
    ) {
        match self
            .events
            .iter_mut()
            .find(|e| e.object == object && e.reason == reason)
        {
            Some(e) => {
                e.count += 1;
                e.last_seen = t;
            }
            None => {
                let message = message();
                self.events.push(Event {
                    namespace,
                    object,
                    reason,
                    message,
                    count: 1,
                    last_seen: t,
                });
            }
        }
        self.events.retain(|e| t - e.last_seen <= EVENT_TTL);
    }

    /// Where the scheduler puts a new pod of workload `w`: spread over nodes, then least full;
    /// `None` when no schedulable node has room for its request.
    fn place(&self, w: usize) -> Option<usize> {
        let request = self.workloads[w].node_cpu;
        let mut best: Option<(usize, usize, usize)> = None;
        for (i, _) in
            self.nodes.iter().enumerate().filter(|(i, n)| {
                n.ready && !n.cordoned && self.requested(*i) + request <= ALLOCATABLE
            })
        {
            let same = self
                .pods
                .iter()
                .filter(|p| p.node == Some(i) && p.workload == w)
                .count();
            let all = self.pods.iter().filter(|p| p.node == Some(i)).count();
            if best.is_none_or(|(s, a, _)| (same, all) < (s, a)) {
                best = Some((same, all, i));
            }
        }
        best.map(|(_, _, i)| i)
    }

    /// CPU the pods on `node` request, in percent of the node.
    fn requested(&self, node: usize) -> f64 {
        self.pods
            .iter()
            .filter(|p| p.node == Some(node))
            .map(|p| self.workloads[p.workload].node_cpu)
            .sum()
    }

    /// A new pod of workload `w` on `node`, or wherever the scheduler finds room.
    fn spawn_pod(&mut self, w: usize, name: String, node: Option<usize>, t: Sec) {
        let node = node.or_else(|| self.place(w));
        let state = match node {
            Some(_) => PodState::Pending {
                until: t + self.dice.between(1, 3),
            },
            None => {
                let message = self.no_room_message();
                let ns = self.workloads[w].namespace;
                self.bump_event(t, ns, format!("Pod/{name}"), "FailedScheduling", || message);
                PodState::Unschedulable
            }
        };
        let hash = self.workloads[w].hash.clone();
        self.pods.push(Pod {
            workload: w,
            name,
            hash,
            node,
            created: t,
            restarts: 0,
            state,
        });
    }

    /// The scheduler's complaint: `0/4 nodes are available: 2 node(s) were unschedulable, ...`.
    fn no_room_message(&self) -> String {
        let unschedulable = self.nodes.iter().filter(|n| !n.ready || n.cordoned).count();
        let full = self.nodes.len() - unschedulable;
        format!(
            "0/{} nodes are available: {unschedulable} node(s) were unschedulable, \
             {full} Insufficient cpu. preemption: 0/{} nodes are available.",
            self.nodes.len(),
            self.nodes.len()
        )
    }

    fn on_ready_node(&self, p: &Pod) -> bool {
        p.node
            .and_then(|n| self.nodes.get(n))
            .is_some_and(|n| n.ready)
    }

    /// A fresh name in the controller's style: `user-7d9c5b8f4-x2x7q` for a ReplicaSet,
    /// `aws-node-x2x7q` for a DaemonSet, the lowest free ordinal for a StatefulSet.
    fn new_pod_name(&mut self, w: usize) -> String {
        let (name, hash, kind) = (
            self.workloads[w].name,
            self.workloads[w].hash.clone(),
            self.workloads[w].kind,
        );
        if kind == Kind::StatefulSet {
            let taken = |k: usize| self.pods.iter().any(|p| p.name == format!("{name}-{k}"));
            let free = (0..).find(|&k| !taken(k)).unwrap_or(0);
            return format!("{name}-{free}");
        }
        loop {
            let token = self.dice.token(KUBE_ALPHABET, 5);
            let candidate = match kind {
                Kind::DaemonSet => format!("{name}-{token}"),
                _ => format!("{name}-{hash}-{token}"),
            };
            if !self.pods.iter().any(|p| p.name == candidate) {
                return candidate;
            }
        }
    }

    fn ready_pods(&self, w: usize) -> u32 {
        self.pods
            .iter()
            .filter(|p| p.workload == w && p.state == PodState::Ready && self.on_ready_node(p))
            .count() as u32
    }

    /// CPU and memory use of each node, in percent.
    fn node_usage(&self, node: usize) -> (f64, f64) {
        let n = &self.nodes[node];
        let (mut cpu, mut mem) = (n.cpu_base, n.mem_base);
        for p in self.pods.iter().filter(|p| p.node == Some(node)) {
            if matches!(p.state, PodState::Pending { .. }) {
                continue;
            }
            let w = &self.workloads[p.workload];
            let (cu, mu) = self.utilisation(p.workload);
            cpu += w.node_cpu * cu;
            mem += w.node_mem * mu;
        }
        (cpu.clamp(0.0, 100.0), mem.clamp(0.0, 100.0))
    }

    /// How hard the pods of workload `w` work, as a share of their requests.
    fn utilisation(&self, w: usize) -> (f64, f64) {
        match self.hpas.iter().find(|h| h.workload == w) {
            Some(h) => (h.cpu / 100.0, h.mem / 100.0),
            None => (IDLE_UTIL, IDLE_UTIL),
        }
    }

    /// The busiest node's CPU and memory, in percent, for the node alarms.
    pub fn max_node_usage(&self) -> (f64, f64) {
        (0..self.nodes.len())
            .map(|i| self.node_usage(i))
            .fold((0.0, 0.0), |(c, m), (nc, nm)| {
                (f64::max(c, nc), f64::max(m, nm))
            })
    }

    /// A node that is NotReady and nobody has cordoned yet: cordoning says "known, handled".
    pub fn first_not_ready_node(&self) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| !n.ready && !n.cordoned)
            .map(|n| n.name.as_str())
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Restarts of the restarting pod within the last `window` seconds, and its name.
    pub fn restarts_within(&self, t: Sec, window: Sec) -> (u32, String) {
        let count = self
            .flaky
            .history
            .iter()
            .filter(|&&r| t - r < window)
            .count() as u32;
        let w = self
            .pods
            .iter()
            .find(|p| p.name == self.flaky.pod)
            .map(|p| p.workload);
        let ns = w.map_or("shop", |w| self.workloads[w].namespace);
        (count, format!("{ns}/{}", self.flaky.pod))
    }

    pub fn last_restart(&self) -> Option<Sec> {
        self.flaky.history.back().copied()
    }

    /// Whether some pod of the web tier is down right now, which shows in the 5xx rate.
    pub fn degraded(&self) -> bool {
        self.pods.iter().any(|p| {
            matches!(p.state, PodState::BackOff { .. })
                && self.workloads[p.workload].namespace == "shop"
        })
    }

    pub fn snapshot(&self, start: Timestamp, t: Sec) -> ClusterSnapshot {
        let mut pods: Vec<PodRow> = self.pods.iter().map(|p| self.pod_row(p, start)).collect();
        pods.sort_by(|a, b| {
            a.namespace
                .cmp(&b.namespace)
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut events: Vec<EventRow> = self
            .events
            .iter()
            .filter(|e| t - e.last_seen <= EVENT_TTL)
            .map(|e| EventRow {
                namespace: e.namespace.into(),
                object: e.object.clone(),
                reason: e.reason.into(),
                message: e.message.clone(),
                count: e.count,
                last_seen: at(start, e.last_seen),
            })
            .collect();
        events.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then_with(|| a.object.cmp(&b.object))
        });
        ClusterSnapshot {
            context: CONTEXT.into(),
            nodes: (0..self.nodes.len())
                .map(|i| self.node_row(i, start))
                .collect(),
            deployments: self.deployment_rows(t),
            pods: pods.into(),
            hpas: self.hpas.iter().map(|h| self.hpa_row(h)).collect(),
            pdbs: self.pdbs.iter().map(|p| self.pdb_row(p)).collect(),
            events,
            ..ClusterSnapshot::default()
        }
    }

    fn node_row(&self, i: usize, start: Timestamp) -> NodeRow {
        let n = &self.nodes[i];
        let (cpu, mem) = self.node_usage(i);
        NodeRow {
            name: n.name.clone(),
            zone: n.zone.into(),
            ready: n.ready,
            pressure: Vec::new(),
            cordoned: n.cordoned,
            cpu_pct: n.ready.then_some(cpu.round() as u8),
            mem_pct: n.ready.then_some(mem.round() as u8),
            created: at(start, n.created),
            allocatable: None,
        }
    }

    fn deployment_rows(&self, t: Sec) -> Vec<DeploymentRow> {
        let mut rows: Vec<DeploymentRow> = (0..self.workloads.len())
            .filter(|&i| self.workloads[i].kind == Kind::Deployment)
            .map(|i| {
                let w = &self.workloads[i];
                let ready = self.ready_pods(i);
                let updated = self
                    .pods
                    .iter()
                    .filter(|p| p.workload == i && p.hash == w.hash)
                    .count() as u32;
                DeploymentRow {
                    namespace: w.namespace.into(),
                    name: w.name.into(),
                    desired: w.replicas,
                    ready,
                    updated,
                    available: ready,
                    revision: w.revision,
                    image: w.image.clone(),
                    rollout: rollout::status(w, t),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            a.namespace
                .cmp(&b.namespace)
                .then_with(|| a.name.cmp(&b.name))
        });
        rows
    }

    fn pod_row(&self, p: &Pod, start: Timestamp) -> PodRow {
        let w = &self.workloads[p.workload];
        let (phase, ready, waiting) = match p.state {
            PodState::Pending { .. } | PodState::Unschedulable => (PodPhase::Pending, 0, None),
            // The node controller no longer hears from the kubelet.
            _ if !self.on_ready_node(p) => (PodPhase::Unknown, 0, None),
            PodState::Starting { .. } => (PodPhase::Running, w.containers.saturating_sub(1), None),
            PodState::Ready => (PodPhase::Running, w.containers, None),
            PodState::BackOff { .. } => (
                PodPhase::Running,
                w.containers.saturating_sub(1),
                Some("CrashLoopBackOff".to_string()),
            ),
        };
        PodRow {
            namespace: w.namespace.into(),
            name: p.name.clone(),
            phase,
            ready_containers: ready,
            total_containers: w.containers,
            restarts: p.restarts,
            created: at(start, p.created),
            node: p
                .node
                .and_then(|n| self.nodes.get(n))
                .map(|n| n.name.clone())
                .unwrap_or_default(),
            waiting_reason: waiting,
            cpu_millis: None,
            memory_bytes: None,
        }
    }

    fn hpa_row(&self, h: &autoscale::Hpa) -> HpaRow {
        let w = &self.workloads[h.workload];
        let metric = |name: &str, target_pct, current: f64| HpaMetric {
            name: name.into(),
            target_pct,
            current_pct: Some(current.round() as u32),
        };
        HpaRow {
            namespace: w.namespace.into(),
            name: w.name.into(),
            target: format!("Deployment/{}", w.name),
            min: h.min,
            max: h.max,
            current: self
                .pods
                .iter()
                .filter(|p| p.workload == h.workload)
                .count() as u32,
            desired: w.replicas,
            metrics: vec![
                metric("cpu", h.cpu_target, h.cpu),
                metric("memory", h.mem_target, h.mem),
            ],
        }
    }

    fn pdb_row(&self, pdb: &Pdb) -> PdbRow {
        let w = &self.workloads[pdb.workload];
        let healthy = self.ready_pods(pdb.workload);
        let (budget, desired) = match pdb.budget {
            Budget::MinAvailable(n) => (format!("minAvailable: {n}"), n),
            Budget::MaxUnavailable(n) => {
                (format!("maxUnavailable: {n}"), w.replicas.saturating_sub(n))
            }
        };
        PdbRow {
            namespace: w.namespace.into(),
            name: pdb.name.into(),
            budget,
            current_healthy: healthy,
            desired_healthy: desired,
            allowed_disruptions: healthy.saturating_sub(desired),
        }
    }
}
