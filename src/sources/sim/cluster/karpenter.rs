//! Karpenter: pods nobody can schedule get a node launched for them, in a zone that works.

use super::{ClusterSim, Kind, Node, PodState};
use crate::sources::sim::Sec;
use crate::sources::sim::dice::KUBE_ALPHABET;

/// From CreateFleet to a Ready node, roughly what EKS takes.
const PROVISION: Sec = 60;
/// How often pending pods are looked at again.
const RETRY: Sec = 15;
/// Requests one new node takes, leaving room for its DaemonSets.
const NODE_ROOM: f64 = 90.0;
/// Karpenter's batch for one round of pending pods, kept small in the drill.
const MAX_LAUNCH: usize = 3;

#[derive(Debug, Clone)]
pub(crate) struct Launch {
    zone: &'static str,
    ready_at: Sec,
}

pub(super) fn tick(c: &mut ClusterSim, t: Sec) {
    while let Some(i) = c.launches.iter().position(|l| t >= l.ready_at) {
        let launch = c.launches.remove(i);
        join(c, launch.zone, t);
    }
    if t.rem_euclid(RETRY) != 0 {
        return;
    }
    let waiting: Vec<usize> = (0..c.pods.len())
        .filter(|&i| c.pods[i].state == PodState::Unschedulable)
        .collect();
    if waiting.is_empty() {
        return;
    }
    let mut still = 0.0;
    for i in waiting {
        let w = c.pods[i].workload;
        match c.place(w) {
            Some(node) => {
                c.pods[i].node = Some(node);
                c.pods[i].state = PodState::Pending {
                    until: t + c.chaos.between(1, 3),
                };
            }
            None => still += c.workloads[w].node_cpu,
        }
    }
    if still <= 0.0 || !c.launches.is_empty() {
        return;
    }
    let Some(zone) = healthy_zone(c) else {
        return;
    };
    let count = ((still / NODE_ROOM).ceil() as usize).clamp(1, MAX_LAUNCH);
    for _ in 0..count {
        c.launches.push(Launch {
            zone,
            ready_at: t + PROVISION,
        });
    }
}

/// The zone with the most schedulable Ready nodes: the one that is evidently working.
fn healthy_zone(c: &ClusterSim) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for n in c.nodes.iter().filter(|n| n.ready && !n.cordoned) {
        let count = c
            .nodes
            .iter()
            .filter(|m| m.zone == n.zone && m.ready && !m.cordoned)
            .count();
        if best.is_none_or(|(b, _)| count > b) {
            best = Some((count, n.zone));
        }
    }
    best.map(|(_, z)| z)
}

/// A launched node registers Ready, and the DaemonSets put a pod on it.
fn join(c: &mut ClusterSim, zone: &'static str, t: Sec) {
    let subnet = match zone.chars().last() {
        Some('a') => 1,
        Some('c') => 2,
        _ => 3,
    };
    let name = loop {
        let host = c.chaos.between(16, 250);
        let name = format!("ip-10-0-{subnet}-{host}.ap-northeast-2.compute.internal");
        if !c.nodes.iter().any(|n| n.name == name) {
            break name;
        }
    };
    c.nodes.push(Node {
        name,
        zone,
        created: t,
        ready: true,
        cordoned: false,
        cpu_base: 10.0 + 6.0 * c.chaos.unit(),
        mem_base: 22.0 + 6.0 * c.chaos.unit(),
    });
    let node = c.nodes.len() - 1;
    for w in 0..c.workloads.len() {
        if c.workloads[w].kind != Kind::DaemonSet {
            continue;
        }
        c.workloads[w].replicas += 1;
        let name = format!(
            "{}-{}",
            c.workloads[w].name,
            c.chaos.token(KUBE_ALPHABET, 5)
        );
        c.spawn_pod(w, name, Some(node), t);
    }
}
