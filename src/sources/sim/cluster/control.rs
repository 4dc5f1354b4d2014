//! What an operator can do to the drill cluster: the Kubernetes calls behind the cluster
//! `Op`s, with the controllers' reactions the next seconds bring.

use super::rollout::{Revision, template_hash};
use super::{ClusterSim, Kind, autoscale};
use crate::ops::{OpError, Outcome};
use crate::sources::sim::Sec;

fn outcome(summary: String, calls: Vec<String>) -> Result<Outcome, OpError> {
    Ok(Outcome { summary, calls })
}

impl ClusterSim {
    fn deployment(&self, namespace: &str, name: &str) -> Result<usize, OpError> {
        self.workloads
            .iter()
            .position(|w| w.kind == Kind::Deployment && w.namespace == namespace && w.name == name)
            .ok_or_else(|| OpError::NotFound(format!("no deployment {namespace}/{name}")))
    }

    pub fn scale(
        &mut self,
        namespace: &str,
        name: &str,
        replicas: u32,
        t: Sec,
    ) -> Result<Outcome, OpError> {
        let w = self.deployment(namespace, name)?;
        let before = self.workloads[w].replicas;
        autoscale::scale(self, w, replicas, t);
        let mut summary = format!("scaled {namespace}/{name} from {before} to {replicas} replicas");
        if let Some(h) = self.hpas.iter().find(|h| h.workload == w) {
            // The HPA owns the replica count: say so rather than let the change look lasting.
            summary.push_str(&format!(
                "; its HPA keeps adjusting it within {}–{}",
                h.min, h.max
            ));
        }
        outcome(
            summary,
            vec![format!(
                "PATCH apps/v1 {namespace}/deployments/{name}/scale {{\"spec\":{{\"replicas\":{replicas}}}}}"
            )],
        )
    }

    pub fn set_hpa_bounds(
        &mut self,
        namespace: &str,
        hpa: &str,
        min: Option<u32>,
        max: Option<u32>,
    ) -> Result<Outcome, OpError> {
        let h = self
            .hpas
            .iter()
            .position(|h| {
                let w = &self.workloads[h.workload];
                w.namespace == namespace && w.name == hpa
            })
            .ok_or_else(|| OpError::NotFound(format!("no hpa {namespace}/{hpa}")))?;
        let (old_min, old_max) = (self.hpas[h].min, self.hpas[h].max);
        let (new_min, new_max) = (min.unwrap_or(old_min), max.unwrap_or(old_max));
        if new_min == 0 || new_min > new_max {
            return Err(OpError::Refused(format!(
                "hpa {namespace}/{hpa}: min {new_min} and max {new_max} are not a valid range"
            )));
        }
        self.hpas[h].min = new_min;
        self.hpas[h].max = new_max;
        let mut spec = Vec::new();
        if let Some(m) = min {
            spec.push(format!("\"minReplicas\":{m}"));
        }
        if let Some(m) = max {
            spec.push(format!("\"maxReplicas\":{m}"));
        }
        outcome(
            format!(
                "hpa {namespace}/{hpa}: min {old_min}→{new_min}, max {old_max}→{new_max}; \
                 it rescales at its next sync"
            ),
            vec![format!(
                "PATCH autoscaling/v2 {namespace}/horizontalpodautoscalers/{hpa} {{\"spec\":{{{}}}}}",
                spec.join(",")
            )],
        )
    }

    pub fn rollback(
        &mut self,
        namespace: &str,
        name: &str,
        revision: Option<u64>,
        t: Sec,
    ) -> Result<Outcome, OpError> {
        let w = self.deployment(namespace, name)?;
        let wl = &self.workloads[w];
        if revision == Some(wl.revision) {
            return outcome(
                format!("{namespace}/{name} is already at revision {}", wl.revision),
                Vec::new(),
            );
        }
        let target = match revision {
            None => wl.history.last(),
            Some(r) => wl.history.iter().find(|h| h.revision == r),
        };
        let Some(target) = target.cloned() else {
            let known: Vec<String> = wl.history.iter().map(|h| h.revision.to_string()).collect();
            return Err(match revision {
                None => OpError::Refused(format!("{namespace}/{name} has no earlier revision")),
                Some(r) => OpError::NotFound(format!(
                    "{namespace}/{name} has no revision {r} (history: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )),
            });
        };
        let (from, image) = (wl.revision, target.image.clone());
        // Like `kubectl rollout undo`: the old template comes back as the newest revision.
        let next = Revision {
            revision: from + 1,
            ..target.clone()
        };
        self.roll_out(w, next, t);
        outcome(
            format!(
                "rolled {namespace}/{name} back from revision {from} to revision {}'s template \
                 ({image}), now revision {}",
                target.revision,
                from + 1
            ),
            vec![format!(
                "PATCH apps/v1 {namespace}/deployments/{name} {{\"spec\":{{\"template\":<revision {} pod-template-hash {}>}}}}",
                target.revision, target.hash
            )],
        )
    }

    pub fn restart(
        &mut self,
        namespace: &str,
        name: &str,
        t: Sec,
        now: &str,
    ) -> Result<Outcome, OpError> {
        let w = self.deployment(namespace, name)?;
        let wl = &self.workloads[w];
        let revision = wl.revision + 1;
        let next = Revision {
            revision,
            image: wl.image.clone(),
            hash: template_hash(wl.name, revision),
            error_pct: wl.error_pct,
        };
        let pods = wl.replicas;
        self.roll_out(w, next, t);
        outcome(
            format!(
                "restarting {namespace}/{name}: {pods} pods replaced one by one (revision {revision})"
            ),
            vec![format!(
                "PATCH apps/v1 {namespace}/deployments/{name} {{\"spec\":{{\"template\":{{\"metadata\":{{\"annotations\":{{\"kubectl.kubernetes.io/restartedAt\":\"{now}\"}}}}}}}}}}"
            )],
        )
    }

    pub fn cordon(&mut self, node: &str, cordon: bool) -> Result<Outcome, OpError> {
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.name == node)
            .ok_or_else(|| OpError::NotFound(format!("no node {node}")))?;
        let verb = if cordon { "cordoned" } else { "uncordoned" };
        let summary = if n.cordoned == cordon {
            format!("{node} was already {verb}")
        } else {
            n.cordoned = cordon;
            format!("{verb} {node}")
        };
        outcome(
            summary,
            vec![format!(
                "PATCH v1 nodes/{node} {{\"spec\":{{\"unschedulable\":{cordon}}}}}"
            )],
        )
    }

    pub fn delete_pod(&mut self, namespace: &str, pod: &str, t: Sec) -> Result<Outcome, OpError> {
        let i = self
            .pods
            .iter()
            .position(|p| p.name == pod && self.workloads[p.workload].namespace == namespace)
            .ok_or_else(|| OpError::NotFound(format!("no pod {namespace}/{pod}")))?;
        // The kubelet of a NotReady node never confirms a graceful delete: force it.
        let stuck = self.pods[i].node.is_some() && !self.on_ready_node(&self.pods[i]);
        let removed = self.pods.remove(i);
        let w = removed.workload;
        let (kind, owner, replicas) = (
            self.workloads[w].kind,
            self.workloads[w].name,
            self.workloads[w].replicas,
        );
        let then = match kind {
            Kind::Deployment => {
                autoscale::scale(self, w, replicas, t);
                format!("the ReplicaSet of {owner} replaces it")
            }
            Kind::StatefulSet => {
                self.spawn_pod(w, removed.name.clone(), None, t);
                format!("StatefulSet {owner} recreates it")
            }
            Kind::DaemonSet => {
                let name = self.new_pod_name(w);
                self.spawn_pod(w, name, removed.node, t);
                format!("DaemonSet {owner} recreates it on its node")
            }
        };
        let (force, query) = if stuck {
            (" (forced: its node is NotReady)", "?gracePeriodSeconds=0")
        } else {
            ("", "")
        };
        outcome(
            format!("deleted {namespace}/{pod}{force}; {then}"),
            vec![format!("DELETE v1 {namespace}/pods/{pod}{query}")],
        )
    }
}
