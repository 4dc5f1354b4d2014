//! Kubernetes cluster rows, projected down to what the cluster pane shows.

use super::Level;
use super::rows::Rows;
use super::tally::PodTally;
use jiff::Timestamp;
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterSnapshot {
    pub context: String,
    /// The namespace watched; `None` is all namespaces (nodes are cluster-wide either way).
    pub namespace: Option<String>,
    pub nodes: Vec<NodeRow>,
    pub deployments: Vec<DeploymentRow>,
    pub pods: Rows<PodRow>,
    pub hpas: Vec<HpaRow>,
    pub pdbs: Vec<PdbRow>,
    pub events: Vec<EventRow>,
    /// Sections the API server refused to show us (`403`), e.g. `events`; their tables keep
    /// whatever they had and the pane says why they are not updating.
    pub forbidden: Vec<String>,
    /// Sections whose first list has not arrived yet, so an empty table means "not yet", not
    /// "none".
    pub loading: Vec<String>,
    /// How far the first list of each loading section has got, for "loading 3,500 of
    /// ~10,000" while its rows appear page by page.
    pub progress: Vec<ListProgress>,
    /// Rollout history (one row per ReplicaSet revision) for choosing a rollback target.
    pub revisions: Vec<RevisionRow>,
    /// The pods' counts, kept by a live watcher as events arrive. `None` where whoever made
    /// the snapshot did not keep them (the drill world, tests): then they are counted.
    #[serde(skip)]
    pub pod_tally: Option<PodTally>,
}

impl ClusterSnapshot {
    pub fn scope(&self) -> String {
        scope(&self.context, self.namespace.as_deref())
    }

    pub fn pod_tally(&self) -> Cow<'_, PodTally> {
        match &self.pod_tally {
            Some(tally) => Cow::Borrowed(tally),
            None => Cow::Owned(PodTally::of(&self.pods)),
        }
    }

    /// The pod at `(namespace, name)`, found by binary search: pods are in that order.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodRow> {
        let i = self
            .pods
            .binary_search_by(|p| (p.namespace.as_str(), p.name.as_str()).cmp(&(namespace, name)))
            .ok()?;
        self.pods.get(i)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListProgress {
    pub section: String,
    pub listed: usize,
    /// The API server's estimate of the whole list (absent for lists with a selector).
    pub of: Option<usize>,
}

impl ClusterSnapshot {
    /// `loading 3,500 of ~10,000` while `section`'s first list is arriving.
    pub fn progress_of(&self, section: &str) -> Option<String> {
        let p = self.progress.iter().find(|p| p.section == section)?;
        Some(match p.of {
            Some(of) => format!("loading {} of ~{}", thousands(p.listed), thousands(of)),
            None => format!("loading {}", thousands(p.listed)),
        })
    }
}

/// `3,500`: counts as the console writes them.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `prod-kr · ns shop`, `prod-kr · ns all`: which cluster and namespace rows come from.
pub fn scope(context: &str, namespace: Option<&str>) -> String {
    format!("{context} · ns {}", namespace.unwrap_or("all"))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    pub name: String,
    pub zone: String,
    pub ready: bool,
    /// Conditions such as `MemoryPressure` that are currently true.
    pub pressure: Vec<String>,
    pub cordoned: bool,
    pub cpu_pct: Option<u8>,
    pub mem_pct: Option<u8>,
    pub created: Timestamp,
    /// What the scheduler may place on the node; known only from a live cluster.
    pub allocatable: Option<Allocatable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allocatable {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub pods: u32,
}

impl NodeRow {
    pub fn level(&self) -> Level {
        if !self.ready {
            Level::Crit
        } else if self.cordoned || !self.pressure.is_empty() {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    pub fn status(&self) -> String {
        let mut s = String::from(if self.ready { "Ready" } else { "NotReady" });
        if self.cordoned {
            s.push_str(",SchedulingDisabled");
        }
        for p in &self.pressure {
            s.push(',');
            s.push_str(p);
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Rollout {
    Complete,
    Progressing,
    Stalled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentRow {
    pub namespace: String,
    pub name: String,
    pub desired: u32,
    pub ready: u32,
    pub updated: u32,
    pub available: u32,
    pub revision: u64,
    pub image: String,
    pub rollout: Rollout,
}

impl DeploymentRow {
    pub fn level(&self) -> Level {
        if self.rollout == Rollout::Stalled || (self.desired > 0 && self.available == 0) {
            Level::Crit
        } else if self.ready < self.desired || self.rollout == Rollout::Progressing {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    pub phase: PodPhase,
    pub ready_containers: u16,
    pub total_containers: u16,
    pub restarts: u32,
    pub created: Timestamp,
    pub node: String,
    /// Why a container is waiting (`CrashLoopBackOff`, `ImagePullBackOff`, ...).
    pub waiting_reason: Option<String>,
    /// Current usage from metrics.k8s.io; `None` where the cluster does not serve metrics.
    pub cpu_millis: Option<u32>,
    pub memory_bytes: Option<u64>,
}

impl PodRow {
    pub fn level(&self) -> Level {
        match (&self.waiting_reason, self.phase) {
            (Some(_), _) | (_, PodPhase::Failed) => Level::Crit,
            (_, PodPhase::Pending | PodPhase::Unknown) => Level::Warn,
            _ if self.restarts > 5 || self.ready_containers < self.total_containers => Level::Warn,
            _ => Level::Ok,
        }
    }

    /// What `kubectl get pods` shows in its STATUS column.
    pub fn status(&self) -> &str {
        match &self.waiting_reason {
            Some(reason) => reason,
            None => match self.phase {
                PodPhase::Pending => "Pending",
                PodPhase::Running => "Running",
                PodPhase::Succeeded => "Completed",
                PodPhase::Failed => "Failed",
                PodPhase::Unknown => "Unknown",
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaMetric {
    /// `cpu` or `memory` (or a custom metric name).
    pub name: String,
    pub target_pct: u32,
    pub current_pct: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaRow {
    pub namespace: String,
    pub name: String,
    pub target: String,
    pub min: u32,
    pub max: u32,
    pub current: u32,
    pub desired: u32,
    pub metrics: Vec<HpaMetric>,
}

impl HpaRow {
    pub fn at_max(&self) -> bool {
        self.desired >= self.max
    }

    pub fn level(&self) -> Level {
        if self.at_max() {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    /// `cpu 63%/50% mem 41%/50%`
    pub fn targets(&self) -> String {
        let mut out = String::new();
        for m in &self.metrics {
            if !out.is_empty() {
                out.push(' ');
            }
            let current = m
                .current_pct
                .map_or_else(|| "?".to_string(), |c| format!("{c}%"));
            out.push_str(&format!("{} {current}/{}%", m.name, m.target_pct));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PdbRow {
    pub namespace: String,
    pub name: String,
    /// `minAvailable: 2` or `maxUnavailable: 1`, as written in the spec.
    pub budget: String,
    pub current_healthy: u32,
    pub desired_healthy: u32,
    pub allowed_disruptions: u32,
}

impl PdbRow {
    pub fn level(&self) -> Level {
        if self.current_healthy < self.desired_healthy {
            Level::Crit
        } else if self.allowed_disruptions == 0 {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

/// One entry of a Deployment's rollout history, as `kubectl rollout history` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionRow {
    pub namespace: String,
    pub deployment: String,
    pub revision: u64,
    pub replicaset: String,
    pub image: String,
    pub replicas: u32,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub namespace: String,
    /// `Pod/user-7d9c-x2x` style reference to the object involved.
    pub object: String,
    pub reason: String,
    pub message: String,
    pub count: u32,
    pub last_seen: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_like_a_sentence() {
        let mut snap = ClusterSnapshot::default();
        assert_eq!(snap.progress_of("pods"), None);
        snap.progress = vec![
            ListProgress {
                section: "pods".into(),
                listed: 3500,
                of: Some(10_000),
            },
            ListProgress {
                section: "events".into(),
                listed: 12,
                of: None,
            },
        ];
        assert_eq!(
            snap.progress_of("pods").as_deref(),
            Some("loading 3,500 of ~10,000")
        );
        assert_eq!(snap.progress_of("events").as_deref(), Some("loading 12"));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
