//! The mall's cluster as the drill opens on it (SPEC §1, shopping mall on EKS).

use super::autoscale::{self, Hpa};
use super::flaky::{Flaky, Spell};
use super::rollout::Revision;
use super::{Budget, ClusterSim, Event, Kind, Node, Pdb, Pod, PodState, Workload};
use crate::sources::sim::Sec;
use crate::sources::sim::dice::{Dice, KUBE_ALPHABET};
use crate::sources::sim::traffic::base_rpm;
use std::collections::VecDeque;

const MIN: Sec = 60;
const HOUR: Sec = 3600;
const DAY: Sec = 86_400;

/// The node Karpenter launched when a `user` pod could not be scheduled, and when.
const KARPENTER_NODE: usize = 3;
const KARPENTER_NODE_AGE: Sec = 47 * MIN;

struct Spec {
    namespace: &'static str,
    name: &'static str,
    kind: Kind,
    image: &'static str,
    revision: u64,
    containers: u16,
    /// What one busy pod takes of its node's CPU and memory, in percent.
    node_use: (f64, f64),
    /// Node of each pod; DaemonSets get one per node instead.
    nodes: &'static [usize],
    /// When the current revision rolled out.
    age: Sec,
}

use Kind::{DaemonSet, Deployment, StatefulSet};

#[rustfmt::skip]
const SPECS: [Spec; 10] = [
    Spec { namespace: "shop", name: "user", kind: Deployment, image: "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/user:1.14.2", revision: 14, containers: 1, node_use: (25.0, 12.0), nodes: &[0, 2, KARPENTER_NODE], age: 2 * DAY + 5 * HOUR },
    Spec { namespace: "shop", name: "admin", kind: Deployment, image: "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop/admin:1.9.0", revision: 9, containers: 1, node_use: (12.0, 10.0), nodes: &[1, 2], age: 6 * DAY },
    Spec { namespace: "shop", name: "proxysql", kind: Deployment, image: "proxysql/proxysql:2.6.3", revision: 3, containers: 1, node_use: (6.0, 3.0), nodes: &[0, 2], age: 12 * DAY },
    Spec { namespace: "db", name: "mariadb", kind: StatefulSet, image: "mariadb:11.4.3", revision: 2, containers: 2, node_use: (25.0, 30.0), nodes: &[0, 2, 1], age: 12 * DAY },
    Spec { namespace: "monitoring", name: "prometheus", kind: Deployment, image: "quay.io/prometheus/prometheus:v2.53.1", revision: 5, containers: 2, node_use: (12.0, 25.0), nodes: &[1], age: 12 * DAY },
    Spec { namespace: "monitoring", name: "grafana", kind: Deployment, image: "grafana/grafana:11.1.4", revision: 4, containers: 1, node_use: (3.0, 3.0), nodes: &[2], age: 12 * DAY },
    Spec { namespace: "kube-system", name: "coredns", kind: Deployment, image: "602401143452.dkr.ecr.ap-northeast-2.amazonaws.com/eks/coredns:v1.11.1-eksbuild.9", revision: 2, containers: 1, node_use: (2.0, 1.0), nodes: &[0, 2], age: 12 * DAY },
    Spec { namespace: "kube-system", name: "karpenter", kind: Deployment, image: "public.ecr.aws/karpenter/controller:1.0.6", revision: 6, containers: 1, node_use: (3.0, 6.0), nodes: &[1, 2], age: 12 * DAY },
    Spec { namespace: "kube-system", name: "aws-node", kind: DaemonSet, image: "602401143452.dkr.ecr.ap-northeast-2.amazonaws.com/amazon-k8s-cni:v1.18.3-eksbuild.2", revision: 3, containers: 2, node_use: (1.0, 1.0), nodes: &[], age: 12 * DAY },
    Spec { namespace: "kube-system", name: "kube-proxy", kind: DaemonSet, image: "602401143452.dkr.ecr.ap-northeast-2.amazonaws.com/eks/kube-proxy:v1.30.3-eksbuild.5", revision: 3, containers: 1, node_use: (1.0, 1.0), nodes: &[], age: 12 * DAY },
];

fn nodes(dice: &mut Dice) -> Vec<Node> {
    let node = |ip: &str, zone, created| Node {
        name: format!("ip-{ip}.ap-northeast-2.compute.internal"),
        zone,
        created,
        ready: true,
        cordoned: false,
        cpu_base: 0.0,
        mem_base: 0.0,
    };
    let mut nodes = vec![
        node("10-0-1-23", "ap-northeast-2a", -12 * DAY),
        node("10-0-1-87", "ap-northeast-2a", -12 * DAY + 4 * MIN),
        node("10-0-2-14", "ap-northeast-2c", -12 * DAY + 9 * MIN),
        node("10-0-2-151", "ap-northeast-2c", -KARPENTER_NODE_AGE),
    ];
    for n in &mut nodes {
        n.cpu_base = 10.0 + 6.0 * dice.unit();
        n.mem_base = 22.0 + 6.0 * dice.unit();
    }
    nodes
}

pub(super) fn build(mut dice: Dice, chaos: Dice, start_abs: i64) -> ClusterSim {
    let nodes = nodes(&mut dice);
    let (workloads, mut pods) = workloads_and_pods(&mut dice, &nodes);
    let index = |name: &str| workloads.iter().position(|w| w.name == name).unwrap_or(0);
    let (user, admin) = (index("user"), index("admin"));
    let hpas = vec![
        hpa(user, (3, 10), 50, (0.0, 0.032), (30.0, 0.25)),
        hpa(admin, (2, 4), 70, (30.0, 0.006), (45.0, 0.2)),
    ];
    let pdb = |name, workload: &str, budget| Pdb {
        name,
        workload: index(workload),
        budget,
    };
    let pdbs = vec![
        pdb("user-pdb", "user", Budget::MinAvailable(2)),
        pdb("admin-pdb", "admin", Budget::MinAvailable(1)),
        pdb("mariadb-pdb", "mariadb", Budget::MaxUnavailable(1)),
        pdb("coredns", "coredns", Budget::MaxUnavailable(1)),
    ];
    let pod_of = |w: usize, k: usize| {
        let mut of_w = pods.iter().filter(|p| p.workload == w);
        of_w.nth(k).map(|p| p.name.clone()).unwrap_or_default()
    };
    let (flaky_pod, waited_pod) = (pod_of(admin, 1), pod_of(user, 2));
    let (flaky, events) = story_so_far(&mut dice, &mut pods, flaky_pod, &waited_pod);
    let mut c = ClusterSim {
        dice,
        nodes,
        workloads,
        pods,
        hpas,
        pdbs,
        events,
        flaky,
        launches: Vec::new(),
        chaos,
    };
    settle_autoscalers(&mut c, start_abs);
    c
}

fn workloads_and_pods(dice: &mut Dice, nodes: &[Node]) -> (Vec<Workload>, Vec<Pod>) {
    let mut workloads = Vec::new();
    let mut pods = Vec::new();
    for (w, s) in SPECS.iter().enumerate() {
        let hash = match s.kind {
            Kind::Deployment => {
                let len = 9 + dice.below(2);
                dice.token(KUBE_ALPHABET, len)
            }
            Kind::StatefulSet | Kind::DaemonSet => String::new(),
        };
        let on: Vec<usize> = match s.kind {
            Kind::DaemonSet => (0..nodes.len()).collect(),
            _ => s.nodes.to_vec(),
        };
        for (k, &node) in on.iter().enumerate() {
            let name = match s.kind {
                Kind::Deployment => format!("{}-{hash}-{}", s.name, dice.token(KUBE_ALPHABET, 5)),
                Kind::StatefulSet => format!("{}-{k}", s.name),
                Kind::DaemonSet => format!("{}-{}", s.name, dice.token(KUBE_ALPHABET, 5)),
            };
            // The user pod that waited for Karpenter's node was created just before it.
            let created = if node == KARPENTER_NODE && s.kind == Kind::Deployment {
                -KARPENTER_NODE_AGE - 2 * MIN
            } else {
                (-s.age).max(nodes[node].created + 40) + dice.between(0, 90)
            };
            // A replica once lost a liveness probe during a long backup.
            let restarts = u32::from(s.kind == Kind::StatefulSet && k == 1);
            pods.push(Pod {
                workload: w,
                name,
                hash: hash.clone(),
                node: Some(node),
                created,
                restarts,
                state: PodState::Ready,
            });
        }
        let history = match s.kind {
            Kind::Deployment => Revision::before(s.name, s.image, s.revision),
            Kind::StatefulSet | Kind::DaemonSet => Vec::new(),
        };
        workloads.push(Workload {
            namespace: s.namespace,
            name: s.name,
            kind: s.kind,
            image: s.image.into(),
            revision: s.revision,
            hash,
            replicas: on.len() as u32,
            containers: s.containers,
            node_cpu: s.node_use.0,
            node_mem: s.node_use.1,
            history,
            error_pct: 0.0,
            rolling_since: None,
            load: 1.0,
        });
    }
    (workloads, pods)
}

/// An autoscaler for `workload` within `(min, max)`, aiming at `target` % of CPU and memory.
fn hpa(
    workload: usize,
    (min, max): (u32, u32),
    target: u32,
    demand: (f64, f64),
    mem: (f64, f64),
) -> Hpa {
    Hpa {
        workload,
        min,
        max,
        cpu_target: target,
        mem_target: target,
        cpu: 0.0,
        mem: mem.0,
        demand_base: demand.0,
        demand_per_rpm: demand.1,
        mem_base: mem.0,
        mem_per_cpu: mem.1,
        down_since: None,
        down_to: min,
    }
}

/// What happened before the drill opened: the admin pod has been crashing for ten minutes
/// (enough restarts to fire the alarm), and a user pod waited for Karpenter's new node.
fn story_so_far(
    dice: &mut Dice,
    pods: &mut [Pod],
    flaky_pod: String,
    waited_pod: &str,
) -> (Flaky, Vec<Event>) {
    if let Some(p) = pods.iter_mut().find(|p| p.name == flaky_pod) {
        p.restarts = 23;
    }
    let event = |object: &str, reason, message: String, count, last_seen| Event {
        namespace: "shop",
        object: format!("Pod/{object}"),
        reason,
        message,
        count,
        last_seen,
    };
    let events = vec![
        event(
            waited_pod,
            "FailedScheduling",
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: \
             3 No preemption victims found for incoming pod."
                .into(),
            4,
            -KARPENTER_NODE_AGE - 30,
        ),
        event(
            &flaky_pod,
            "BackOff",
            format!("Back-off restarting failed container admin in pod {flaky_pod}_shop"),
            19,
            -120,
        ),
        event(
            &flaky_pod,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503".into(),
            11,
            -80,
        ),
    ];
    let flaky = Flaky {
        pod: flaky_pod,
        spell: Spell::Bad {
            until: dice.between(240, 420),
        },
        next_crash: Some(dice.between(20, 60)),
        streak: 3,
        history: VecDeque::from([-530, -455, -372, -290, -205, -120]),
    };
    (flaky, events)
}

/// Opens the drill with replicas that already fit the current load, as if the autoscalers
/// had been running all along, instead of scaling in the first seconds.
fn settle_autoscalers(c: &mut ClusterSim, start_abs: i64) {
    let rpm = base_rpm(start_abs);
    for h in 0..c.hpas.len() {
        let w = c.hpas[h].workload;
        let demand = c.hpas[h].demand(rpm);
        let mut replicas = c.workloads[w].replicas;
        // Iterate as the controller would over successive syncs, until it is content.
        for _ in 0..4 {
            let hpa = &mut c.hpas[h];
            hpa.cpu = demand / f64::from(replicas.max(1));
            hpa.mem = hpa.mem_base + hpa.mem_per_cpu * hpa.cpu;
            replicas = replicas.max(hpa.recommend(demand, replicas));
        }
        let before = c.pods.len();
        autoscale::scale(c, w, replicas, -25 * MIN);
        for p in &mut c.pods[before..] {
            p.state = PodState::Ready;
        }
    }
}
