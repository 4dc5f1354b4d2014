//! A synthetic cluster of any size, for benchmarks and scale tests of the cluster pane.

use super::dice::{Dice, KUBE_ALPHABET};
use super::{Sec, at};
use crate::model::cluster::{
    ClusterSnapshot, DeploymentRow, EventRow, HpaMetric, HpaRow, NodeRow, PdbRow, PodPhase, PodRow,
    Rollout,
};
use jiff::Timestamp;

const ZONES: [&str; 3] = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"];
const SERVICES: [&str; 12] = [
    "catalog", "cart", "checkout", "payment", "search", "auth", "review", "coupon", "order",
    "shipping", "notify", "profile",
];
/// Pods per Deployment, on average.
const PODS_PER_DEPLOYMENT: usize = 12;
const NAMESPACES: usize = 16;
const MAX_EVENTS: usize = 500;
const DAY: Sec = 86_400;

/// A synthetic cluster for benchmarks and scale tests: `nodes` nodes over 3 zones, `pods`
/// pods spread over them, a few unhealthy. Deterministic.
pub fn large_cluster(nodes: usize, pods: usize, start: Timestamp) -> ClusterSnapshot {
    let mut dice = Dice::new(0x5ca1_ab1e, 0);
    let node_rows: Vec<NodeRow> = (0..nodes).map(|i| node(i, &mut dice, start)).collect();
    let deployments = (pods / PODS_PER_DEPLOYMENT).max(1);
    let hashes: Vec<String> = (0..deployments)
        .map(|_| dice.token(KUBE_ALPHABET, 10))
        .collect();
    let mut ready = vec![0u32; deployments];
    let mut total = vec![0u32; deployments];
    let mut pod_rows = Vec::with_capacity(pods);
    let mut events = Vec::new();
    for i in 0..pods {
        let d = i % deployments;
        total[d] += 1;
        let name = format!(
            "{}-{}-{}",
            deployment_name(d),
            hashes[d],
            suffix(i / deployments)
        );
        let on = (nodes > 0).then(|| (i * 7 + d) % nodes);
        let node_ready = on.is_some_and(|n| node_rows[n].ready);
        let created = at(start, -dice.between(600, 30 * DAY));
        let mut row = PodRow {
            namespace: namespace(d),
            name,
            phase: PodPhase::Running,
            ready_containers: 2,
            total_containers: 2,
            restarts: if dice.chance(0.05) {
                dice.between(1, 4) as u32
            } else {
                0
            },
            created,
            node: on.map(|n| node_rows[n].name.clone()).unwrap_or_default(),
            waiting_reason: None,
            cpu_millis: None,
            memory_bytes: None,
        };
        let trouble = unhealthy(i, &mut row, node_ready);
        if let Some((reason, message)) = trouble {
            if events.len() < MAX_EVENTS {
                events.push(EventRow {
                    namespace: row.namespace.clone(),
                    object: format!("Pod/{}", row.name),
                    reason: reason.into(),
                    message,
                    count: dice.between(1, 40) as u32,
                    last_seen: at(start, -dice.between(5, 3000)),
                });
            }
        } else {
            ready[d] += 1;
        }
        pod_rows.push(row);
    }
    events.sort_by(|a, b| {
        b.last_seen
            .cmp(&a.last_seen)
            .then_with(|| a.object.cmp(&b.object))
    });
    let mut hpas = Vec::new();
    let mut pdbs = Vec::new();
    let deployment_rows = (0..deployments)
        .map(|d| {
            let (desired, ready) = (total[d], ready[d]);
            if d.is_multiple_of(3) {
                hpas.push(hpa(d, desired, &mut dice));
            }
            if d.is_multiple_of(4) && desired > 1 {
                pdbs.push(pdb(d, desired, ready));
            }
            DeploymentRow {
                namespace: namespace(d),
                name: deployment_name(d),
                desired,
                ready,
                updated: desired,
                available: ready,
                revision: dice.between(1, 40) as u64,
                image: format!(
                    "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/{}:1.{}.{}",
                    SERVICES[d % 12],
                    d % 17,
                    d % 5
                ),
                rollout: Rollout::Complete,
            }
        })
        .collect();
    ClusterSnapshot {
        context: "bench-large".into(),
        nodes: node_rows,
        deployments: deployment_rows,
        pods: pod_rows.into(),
        hpas,
        pdbs,
        events,
        ..ClusterSnapshot::default()
    }
}

fn node(i: usize, dice: &mut Dice, start: Timestamp) -> NodeRow {
    let zone = i % 3;
    let slot = i / 3;
    let ready = i % 173 != 42;
    NodeRow {
        name: format!(
            "ip-10-0-{}-{}.ap-northeast-2.compute.internal",
            16 * zone + slot / 254,
            slot % 254 + 1
        ),
        zone: ZONES[zone].into(),
        ready,
        pressure: if i % 97 == 11 {
            vec!["MemoryPressure".into()]
        } else {
            Vec::new()
        },
        cordoned: i % 211 == 17,
        cpu_pct: ready.then(|| dice.between(15, 80) as u8),
        mem_pct: ready.then(|| dice.between(25, 85) as u8),
        created: at(start, -dice.between(3600, 90 * DAY)),
        allocatable: None,
    }
}

/// Marks a few pods as broken in the ways clusters break; returns the matching event.
fn unhealthy(i: usize, row: &mut PodRow, node_ready: bool) -> Option<(&'static str, String)> {
    if !node_ready && !row.node.is_empty() {
        row.phase = PodPhase::Unknown;
        row.ready_containers = 0;
        return Some(("NodeNotReady", "Node is not ready".into()));
    }
    if i % 97 == 13 {
        row.restarts += 7 + (i % 23) as u32;
        row.ready_containers = 1;
        row.waiting_reason = Some("CrashLoopBackOff".into());
        return Some((
            "BackOff",
            format!(
                "Back-off restarting failed container app in pod {}",
                row.name
            ),
        ));
    }
    if i % 211 == 5 || row.node.is_empty() {
        row.phase = PodPhase::Pending;
        row.ready_containers = 0;
        row.node.clear();
        return Some((
            "FailedScheduling",
            "0/40 nodes are available: 40 Insufficient memory. preemption: not eligible.".into(),
        ));
    }
    if i % 331 == 7 {
        row.phase = PodPhase::Pending;
        row.ready_containers = 0;
        row.waiting_reason = Some("ImagePullBackOff".into());
        return Some(("Failed", "Failed to pull image: manifest unknown".into()));
    }
    None
}

fn namespace(d: usize) -> String {
    format!("team-{:02}", d % NAMESPACES)
}

fn deployment_name(d: usize) -> String {
    format!("{}-{}", SERVICES[d % SERVICES.len()], d / SERVICES.len())
}

/// Unique for the first 27^5 pods of a Deployment: the index in base 27, scrambled by a
/// multiplier coprime with 27^5 so that neighbours do not look alike.
fn suffix(k: usize) -> String {
    const SPACE: usize = 27 * 27 * 27 * 27 * 27;
    let mut n = (k % SPACE) * 7919 % SPACE;
    let mut out = [b'b'; 5];
    for c in out.iter_mut().rev() {
        *c = KUBE_ALPHABET[n % 27];
        n /= 27;
    }
    out.iter().map(|&c| char::from(c)).collect()
}

fn hpa(d: usize, replicas: u32, dice: &mut Dice) -> HpaRow {
    let at_max = d.is_multiple_of(10);
    let cpu = dice.between(20, if at_max { 140 } else { 75 }) as u32;
    HpaRow {
        namespace: namespace(d),
        name: deployment_name(d),
        target: format!("Deployment/{}", deployment_name(d)),
        min: (replicas / 2).max(1),
        max: if at_max { replicas } else { replicas * 2 },
        current: replicas,
        desired: replicas,
        metrics: vec![HpaMetric {
            name: "cpu".into(),
            target_pct: 70,
            current_pct: Some(cpu),
        }],
    }
}

fn pdb(d: usize, replicas: u32, ready: u32) -> PdbRow {
    let desired = replicas.saturating_sub(1);
    PdbRow {
        namespace: namespace(d),
        name: format!("{}-pdb", deployment_name(d)),
        budget: format!("minAvailable: {desired}"),
        current_healthy: ready,
        desired_healthy: desired,
        allowed_disruptions: ready.saturating_sub(desired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use std::collections::HashSet;

    fn start() -> Timestamp {
        "2025-11-22T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn sized_spread_and_mostly_healthy() {
        let snap = large_cluster(60, 5000, start());
        assert_eq!(snap.nodes.len(), 60);
        assert_eq!(snap.pods.len(), 5000);
        let zones: HashSet<_> = snap.nodes.iter().map(|n| n.zone.as_str()).collect();
        assert_eq!(zones.len(), 3);
        let names: HashSet<_> = snap.pods.iter().map(|p| (&p.namespace, &p.name)).collect();
        assert_eq!(names.len(), 5000, "pod names are unique");
        let sick = snap
            .pods
            .iter()
            .filter(|p| p.level() == Level::Crit)
            .count();
        assert!((10..250).contains(&sick), "a few unhealthy, got {sick}");
        assert!(!snap.events.is_empty() && !snap.hpas.is_empty() && !snap.pdbs.is_empty());
        let placed: usize = snap.deployments.iter().map(|d| d.desired as usize).sum();
        assert_eq!(placed, 5000);
    }

    #[test]
    fn deterministic_and_safe_at_the_edges() {
        assert_eq!(
            large_cluster(10, 300, start()),
            large_cluster(10, 300, start())
        );
        let empty = large_cluster(0, 0, start());
        assert!(empty.nodes.is_empty() && empty.pods.is_empty());
        let nowhere = large_cluster(0, 5, start());
        assert!(nowhere.pods.iter().all(|p| p.phase == PodPhase::Pending));
    }
}
