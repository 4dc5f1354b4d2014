//! The HorizontalPodAutoscaler controller, close enough to the real one that replicas follow
//! load the way operators expect: up at once, down only after five quiet minutes.

use super::ClusterSim;
use crate::sources::sim::Sec;

/// Changes within 10 % of the target are noise (the controller's default tolerance).
const TOLERANCE: f64 = 0.1;
/// The default scale-down stabilisation window.
const DOWN_WINDOW: Sec = 300;

#[derive(Debug, Clone)]
pub(crate) struct Hpa {
    pub workload: usize,
    pub min: u32,
    pub max: u32,
    pub cpu_target: u32,
    pub mem_target: u32,
    /// Current average utilisation of the ready pods, in percent of their requests.
    pub cpu: f64,
    pub mem: f64,
    /// CPU the whole workload needs, in percent of one pod's request: `base + per_rpm * rpm`.
    pub demand_base: f64,
    pub demand_per_rpm: f64,
    /// Memory use follows CPU loosely: `mem_base + mem_per_cpu * cpu`.
    pub mem_base: f64,
    pub mem_per_cpu: f64,
    pub down_since: Option<Sec>,
    /// The highest recommendation seen while waiting to scale down.
    pub down_to: u32,
}

impl Hpa {
    /// Total CPU demand in pod-percent at `rpm` requests per minute.
    pub fn demand(&self, rpm: f64) -> f64 {
        self.demand_base + self.demand_per_rpm * rpm
    }

    /// Replicas the metrics ask for: unready pods count as idle, which keeps a crashing pod
    /// from making the survivors look busy enough to scale up.
    pub fn recommend(&self, demand: f64, replicas: u32) -> u32 {
        let replicas = replicas.max(1);
        let cpu_ratio = demand / f64::from(replicas) / f64::from(self.cpu_target.max(1));
        let mem_ratio = self.mem / f64::from(self.mem_target.max(1));
        let ratio = cpu_ratio.max(mem_ratio);
        let want = if (ratio - 1.0).abs() <= TOLERANCE {
            replicas
        } else {
            (f64::from(replicas) * ratio).ceil() as u32
        };
        want.clamp(self.min, self.max)
    }
}

pub(super) fn sync(c: &mut ClusterSim, t: Sec, rpm: f64) {
    for h in 0..c.hpas.len() {
        let w = c.hpas[h].workload;
        let ready = c.ready_pods(w).max(1);
        let replicas = c.workloads[w].replicas;
        let demand = c.hpas[h].demand(rpm) * c.workloads[w].load * (1.0 + 0.04 * c.dice.wobble());
        let hpa = &mut c.hpas[h];
        hpa.cpu = demand / f64::from(ready);
        hpa.mem = hpa.mem_base + hpa.mem_per_cpu * hpa.cpu + c.dice.wobble();
        let want = hpa.recommend(demand, replicas);
        if want > replicas {
            hpa.down_since = None;
            scale(c, w, want, t);
        } else if want < replicas {
            match hpa.down_since {
                None => {
                    hpa.down_since = Some(t);
                    hpa.down_to = want;
                }
                Some(since) => {
                    hpa.down_to = hpa.down_to.max(want);
                    if t - since >= DOWN_WINDOW {
                        hpa.down_since = None;
                        let to = hpa.down_to;
                        scale(c, w, to, t);
                    }
                }
            }
        } else {
            hpa.down_since = None;
        }
    }
}

/// Sets workload `w` to `replicas` pods of its current template (a rollout retires the old
/// ones): new ones go through Pending and readiness; on the way down the newest go first, and
/// never the restarting pod the drill is watching.
pub(super) fn scale(c: &mut ClusterSim, w: usize, replicas: u32, t: Sec) {
    c.workloads[w].replicas = replicas;
    fn current(c: &ClusterSim, w: usize) -> impl Iterator<Item = (usize, &super::Pod)> {
        let hash = &c.workloads[w].hash;
        c.pods
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.workload == w && &p.hash == hash)
    }
    let mut have = current(c, w).count() as u32;
    while have < replicas {
        let name = c.new_pod_name(w);
        c.spawn_pod(w, name, None, t);
        have += 1;
    }
    while have > replicas {
        let newest = current(c, w)
            .filter(|(_, p)| p.name != c.flaky.pod)
            .max_by_key(|(i, p)| (p.node.is_none(), p.created, *i))
            .map(|(i, _)| i);
        let Some(i) = newest else { break };
        c.pods.remove(i);
        have -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_hpa() -> Hpa {
        Hpa {
            workload: 0,
            min: 3,
            max: 10,
            cpu_target: 50,
            mem_target: 50,
            cpu: 0.0,
            mem: 40.0,
            demand_base: 0.0,
            demand_per_rpm: 0.032,
            mem_base: 30.0,
            mem_per_cpu: 0.25,
            down_since: None,
            down_to: 0,
        }
    }

    #[test]
    fn recommendations_follow_load_within_bounds() {
        let h = user_hpa();
        assert_eq!(
            h.recommend(h.demand(4500.0), 3),
            3,
            "48 % is within tolerance of 50 %"
        );
        assert_eq!(h.recommend(h.demand(5900.0), 3), 4);
        let quiet = Hpa {
            mem: 36.0,
            ..user_hpa()
        };
        assert_eq!(quiet.recommend(quiet.demand(3000.0), 4), 3);
        assert_eq!(h.recommend(h.demand(100_000.0), 3), 10, "capped at max");
        assert_eq!(
            Hpa {
                mem: 10.0,
                ..user_hpa()
            }
            .recommend(0.0, 5),
            3,
            "floored at min"
        );
    }
}
