//! What the drill's scenarios do to the cluster, and what that does to the shop.

use super::rollout::{Revision, bump_tag, template_hash};
use super::{ClusterSim, Kind, PodState};
use crate::sources::sim::Sec;

/// A pod of a bad build crashes about once in this many seconds while it serves.
const BAD_POD_MTBF: f64 = 240.0;

/// Pods of a bad build crash now and then.
pub(super) fn tick(c: &mut ClusterSim, t: Sec) {
    if !c.any_bad_build() {
        return;
    }
    for i in 0..c.pods.len() {
        let p = &c.pods[i];
        if p.state != PodState::Ready
            || !c.on_ready_node(p)
            || c.template_error_pct(p.workload, &p.hash) <= 0.0
        {
            continue;
        }
        if c.chaos.chance(1.0 / BAD_POD_MTBF) {
            let backoff = c.chaos.between(10, 20);
            c.crash_pod(i, t, backoff);
        }
    }
}

impl ClusterSim {
    fn deployment_named(&self, name: &str) -> Result<usize, String> {
        self.workloads
            .iter()
            .position(|w| w.kind == Kind::Deployment && w.name == name)
            .ok_or_else(|| format!("no deployment `{name}` in the drill cluster"))
    }

    /// A live-commerce event: `factor` times the load on the deployment's pods.
    pub fn spike(&mut self, deployment: &str, factor: f64) -> Result<(), String> {
        let w = self.deployment_named(deployment)?;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(format!(
                "traffic factor must be a positive number, not {factor}"
            ));
        }
        if !self.hpas.iter().any(|h| h.workload == w) {
            return Err(format!(
                "deployment `{deployment}` has no HPA to saturate (user and admin do)"
            ));
        }
        self.workloads[w].load = factor;
        Ok(())
    }

    /// A new revision whose build fails `error_pct` % of its requests.
    pub fn bad_deploy(&mut self, deployment: &str, error_pct: f64, t: Sec) -> Result<(), String> {
        let w = self.deployment_named(deployment)?;
        if !(0.0..=100.0).contains(&error_pct) {
            return Err(format!("error_pct must be within 0–100, not {error_pct}"));
        }
        let wl = &self.workloads[w];
        let revision = wl.revision + 1;
        let next = Revision {
            revision,
            image: bump_tag(&wl.image, 1),
            hash: template_hash(wl.name, revision),
            error_pct,
        };
        self.roll_out(w, next, t);
        Ok(())
    }

    /// Every node of `zone` stops answering.
    pub fn az_outage(&mut self, zone: &str) -> Result<(), String> {
        let mut any = false;
        for n in self.nodes.iter_mut().filter(|n| n.zone == zone) {
            n.ready = false;
            any = true;
        }
        if any {
            Ok(())
        } else {
            let mut zones: Vec<&str> = self.nodes.iter().map(|n| n.zone).collect();
            zones.dedup();
            Err(format!(
                "no nodes in zone `{zone}` (zones: {})",
                zones.join(", ")
            ))
        }
    }

    /// Whether any template, current or remembered, is a bad build: most seconds it is not,
    /// and the per-pod work can be skipped.
    fn any_bad_build(&self) -> bool {
        self.workloads
            .iter()
            .any(|w| w.error_pct > 0.0 || w.history.iter().any(|r| r.error_pct > 0.0))
    }

    /// The failure rate of the template with `hash`, current or remembered.
    pub(super) fn template_error_pct(&self, w: usize, hash: &str) -> f64 {
        let wl = &self.workloads[w];
        if wl.hash == hash {
            return wl.error_pct;
        }
        wl.history
            .iter()
            .find(|r| r.hash == hash)
            .map_or(0.0, |r| r.error_pct)
    }

    /// Share of the shop's requests a bad build fails, in percent: the worst Deployment, by
    /// the share of its serving pods that run the bad template.
    pub fn bad_build_errors(&self) -> f64 {
        let mut worst: f64 = 0.0;
        if !self.any_bad_build() {
            return worst;
        }
        for (w, wl) in self.workloads.iter().enumerate() {
            if wl.namespace != "shop" || wl.kind != Kind::Deployment {
                continue;
            }
            let serving = self
                .pods
                .iter()
                .filter(|p| p.workload == w && p.state == PodState::Ready && self.on_ready_node(p));
            let (mut n, mut sum) = (0u32, 0.0);
            for p in serving {
                n += 1;
                sum += self.template_error_pct(w, &p.hash);
            }
            if n > 0 {
                worst = worst.max(sum / f64::from(n));
            }
        }
        worst
    }

    /// How far past their CPU target the pods of an HPA that cannot scale further are: 0
    /// when every HPA still has room, 1.5 when one at max runs at 1.5× its target.
    pub fn overload(&self) -> f64 {
        self.hpas
            .iter()
            .filter(|h| self.workloads[h.workload].replicas >= h.max)
            .map(|h| h.cpu / f64::from(h.cpu_target.max(1)))
            .fold(0.0, f64::max)
    }

    /// How many times the usual load reaches the front door.
    pub fn front_load(&self) -> f64 {
        self.workloads
            .iter()
            .filter(|w| w.namespace == "shop")
            .map(|w| w.load)
            .fold(1.0, f64::max)
    }

    /// Deployments whose HPA sits at its max, with that max.
    pub fn hpas_at_max(&self) -> Vec<(&'static str, u32)> {
        self.hpas
            .iter()
            .filter(|h| self.workloads[h.workload].replicas >= h.max)
            .map(|h| (self.workloads[h.workload].name, h.max))
            .collect()
    }
}
