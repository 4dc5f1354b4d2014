//! What the overview and the context lines count over a cluster's pods, kept up to date one
//! pod at a time: a watch event adds or takes away one pod's share in O(log n) instead of
//! the console counting 10,000 pods again.

use super::Level;
use super::cluster::{PodPhase, PodRow};
use imbl::{OrdMap, OrdSet};
use std::cmp::Reverse;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodTally {
    pub pods: usize,
    pub running: usize,
    /// Worse than OK (`PodRow::level`).
    pub unhealthy: usize,
    /// Neither succeeded nor running with every container ready.
    pub not_ready: usize,
    pub crashlooping: usize,
    /// Pods with usage figures from metrics.k8s.io.
    pub measured: usize,
    /// Pods per namespace.
    pub namespaces: OrdMap<String, usize>,
    /// The pods worse than OK, worst first and then in table order.
    troubled: OrdSet<(Reverse<Level>, String, String)>,
}

impl PodTally {
    pub fn of<'a>(pods: impl IntoIterator<Item = &'a PodRow>) -> Self {
        let mut tally = PodTally::default();
        for pod in pods {
            tally.add(pod);
        }
        tally
    }

    pub fn add(&mut self, pod: &PodRow) {
        self.count(pod, |n| *n += 1);
        *self.namespaces.entry(pod.namespace.clone()).or_default() += 1;
        if let Some(entry) = troubled(pod) {
            self.troubled.insert(entry);
        }
    }

    pub fn remove(&mut self, pod: &PodRow) {
        self.count(pod, |n| *n = n.saturating_sub(1));
        if let Some(n) = self.namespaces.get_mut(&pod.namespace) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.namespaces.remove(&pod.namespace);
            }
        }
        if let Some(entry) = troubled(pod) {
            self.troubled.remove(&entry);
        }
    }

    /// The worst pod's level and `(namespace, name)`.
    pub fn worst(&self) -> Option<(Level, &str, &str)> {
        let (Reverse(level), namespace, name) = self.troubled.get_min()?;
        Some((*level, namespace.as_str(), name.as_str()))
    }

    fn count(&mut self, pod: &PodRow, mut step: impl FnMut(&mut usize)) {
        step(&mut self.pods);
        if pod.phase == PodPhase::Running {
            step(&mut self.running);
        }
        if pod.level() > Level::Ok {
            step(&mut self.unhealthy);
        }
        if not_ready(pod) {
            step(&mut self.not_ready);
        }
        if pod.waiting_reason.as_deref() == Some("CrashLoopBackOff") {
            step(&mut self.crashlooping);
        }
        if pod.cpu_millis.is_some() {
            step(&mut self.measured);
        }
    }
}

fn not_ready(p: &PodRow) -> bool {
    p.phase != PodPhase::Succeeded
        && (p.phase != PodPhase::Running || p.ready_containers < p.total_containers)
}

fn troubled(pod: &PodRow) -> Option<(Reverse<Level>, String, String)> {
    let level = pod.level();
    (level > Level::Ok).then(|| (Reverse(level), pod.namespace.clone(), pod.name.clone()))
}
