//! Kubernetes objects → the compact rows the cluster pane shows. Each function reads only the
//! fields a row needs, so the full object (managedFields, env, volumes, …) can be dropped as
//! soon as it is projected: 10,000 pods cost a few MB, not the hundreds a reflector cache of
//! whole objects would.

use crate::model::cluster::{
    Allocatable, DeploymentRow, EventRow, HpaMetric, HpaRow, NodeRow, PdbRow, PodPhase, PodRow,
    RevisionRow, Rollout,
};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Node, Pod, PodTemplateSpec};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
const PRESSURE: [&str; 4] = [
    "MemoryPressure",
    "DiskPressure",
    "PIDPressure",
    "NetworkUnavailable",
];
/// Waiting reasons every healthy pod passes through; showing them as trouble would paint a
/// normal rollout red.
const ROUTINE_WAITING: [&str; 2] = ["ContainerCreating", "PodInitializing"];

/// `namespace/name`, the key rows are stored under.
pub fn key(meta: &ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

fn created(meta: &ObjectMeta) -> Timestamp {
    meta.creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

fn name(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn count(n: Option<i32>) -> u32 {
    n.map_or(0, |n| u32::try_from(n).unwrap_or(0))
}

pub fn node_row(node: &Node) -> NodeRow {
    let meta = &node.metadata;
    let labels = meta.labels.as_ref();
    let zone = ZONE_LABELS
        .iter()
        .find_map(|l| labels.and_then(|m| m.get(*l)))
        .cloned()
        .unwrap_or_default();
    let status = node.status.as_ref();
    let conditions = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let ready = conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let pressure = conditions
        .iter()
        .filter(|c| c.status == "True" && PRESSURE.contains(&c.type_.as_str()))
        .map(|c| c.type_.clone())
        .collect();
    let allocatable = status.and_then(|s| s.allocatable.as_ref()).map(|a| {
        let get = |k: &str| a.get(k).map(|q| q.0.as_str());
        Allocatable {
            cpu_millis: get("cpu").and_then(cpu_millis).unwrap_or(0),
            memory_bytes: get("memory").and_then(bytes).unwrap_or(0),
            pods: get("pods").and_then(|p| p.parse().ok()).unwrap_or(0),
        }
    });
    NodeRow {
        name: name(meta),
        zone,
        ready,
        pressure,
        cordoned: node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        cpu_pct: None,
        mem_pct: None,
        created: created(meta),
        allocatable,
    }
}

pub fn pod_row(pod: &Pod) -> PodRow {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let init_statuses = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or_default();
    let total = pod
        .spec
        .as_ref()
        .map_or(statuses.len(), |s| s.containers.len());
    let phase = match status.and_then(|s| s.phase.as_deref()) {
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        Some("Unknown") => PodPhase::Unknown,
        _ => PodPhase::Pending,
    };
    let waiting = |prefix: &str, list: &[k8s_openapi::api::core::v1::ContainerStatus]| {
        list.iter().find_map(|c| {
            let reason = c.state.as_ref()?.waiting.as_ref()?.reason.as_deref()?;
            (!ROUTINE_WAITING.contains(&reason)).then(|| format!("{prefix}{reason}"))
        })
    };
    PodRow {
        namespace: namespace(meta),
        name: name(meta),
        phase,
        ready_containers: u16::try_from(statuses.iter().filter(|c| c.ready).count())
            .unwrap_or(u16::MAX),
        total_containers: u16::try_from(total).unwrap_or(u16::MAX),
        restarts: statuses
            .iter()
            .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
            .sum(),
        created: created(meta),
        node: pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        waiting_reason: waiting("Init:", init_statuses).or_else(|| waiting("", statuses)),
        cpu_millis: None,
        memory_bytes: None,
    }
}

pub fn revision(meta: &ObjectMeta) -> Option<u64> {
    meta.annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .parse()
        .ok()
}

/// The images of a pod template, `a:1 +2` when there are several containers.
pub fn image(template: Option<&PodTemplateSpec>) -> String {
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    match containers {
        [] => String::new(),
        [one] => one.image.clone().unwrap_or_default(),
        [first, rest @ ..] => format!(
            "{} +{}",
            first.image.as_deref().unwrap_or_default(),
            rest.len()
        ),
    }
}

pub fn deployment_row(d: &Deployment) -> DeploymentRow {
    let meta = &d.metadata;
    let spec = d.spec.as_ref();
    let status = d.status.as_ref();
    let desired = spec.and_then(|s| s.replicas).map_or(1, |r| count(Some(r)));
    let updated = count(status.and_then(|s| s.updated_replicas));
    let available = count(status.and_then(|s| s.available_replicas));
    let total = count(status.and_then(|s| s.replicas));
    let stalled = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
    // The same order of checks as `kubectl rollout status`.
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(0);
    let rollout = if stalled {
        Rollout::Stalled
    } else if meta.generation.unwrap_or(0) > observed
        || updated < desired
        || total > updated
        || available < updated
    {
        Rollout::Progressing
    } else {
        Rollout::Complete
    };
    DeploymentRow {
        namespace: namespace(meta),
        name: name(meta),
        desired,
        ready: count(status.and_then(|s| s.ready_replicas)),
        updated,
        available,
        revision: revision(meta).unwrap_or(0),
        image: image(spec.map(|s| &s.template)),
        rollout,
    }
}

/// The Deployment that controls a ReplicaSet, if any.
pub fn owning_deployment(meta: &ObjectMeta) -> Option<&str> {
    meta.owner_references
        .as_deref()?
        .iter()
        .find(|o| o.kind == "Deployment" && o.controller == Some(true))
        .map(|o| o.name.as_str())
}

/// A history row, for ReplicaSets that belong to a Deployment and carry a revision.
pub fn revision_row(rs: &ReplicaSet) -> Option<RevisionRow> {
    let meta = &rs.metadata;
    Some(RevisionRow {
        namespace: namespace(meta),
        deployment: owning_deployment(meta)?.to_string(),
        revision: revision(meta)?,
        replicaset: name(meta),
        image: image(rs.spec.as_ref().and_then(|s| s.template.as_ref())),
        replicas: count(rs.spec.as_ref().and_then(|s| s.replicas)),
        created: created(meta),
    })
}

pub fn hpa_row(h: &HorizontalPodAutoscaler) -> HpaRow {
    let meta = &h.metadata;
    let spec = h.spec.as_ref();
    let status = h.status.as_ref();
    let current_metrics = status
        .and_then(|s| s.current_metrics.as_deref())
        .unwrap_or_default();
    let metrics = spec
        .and_then(|s| s.metrics.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let resource = m.resource.as_ref()?;
            let target = resource.target.average_utilization?;
            let current = current_metrics.iter().find_map(|c| {
                let r = c.resource.as_ref()?;
                (r.name == resource.name).then_some(r.current.average_utilization)?
            });
            Some(HpaMetric {
                name: resource.name.clone(),
                target_pct: count(Some(target)),
                current_pct: current.map(|c| count(Some(c))),
            })
        })
        .collect();
    HpaRow {
        namespace: namespace(meta),
        name: name(meta),
        target: spec.map_or_else(String::new, |s| {
            format!("{}/{}", s.scale_target_ref.kind, s.scale_target_ref.name)
        }),
        min: spec
            .and_then(|s| s.min_replicas)
            .map_or(1, |m| count(Some(m))),
        max: count(spec.map(|s| s.max_replicas)),
        current: count(status.and_then(|s| s.current_replicas)),
        desired: count(status.map(|s| s.desired_replicas)),
        metrics,
    }
}

pub fn pdb_row(p: &PodDisruptionBudget) -> PdbRow {
    let meta = &p.metadata;
    let spec = p.spec.as_ref();
    let show = |v: &IntOrString| match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    let budget = match (
        spec.and_then(|s| s.min_available.as_ref()),
        spec.and_then(|s| s.max_unavailable.as_ref()),
    ) {
        (Some(min), _) => format!("minAvailable: {}", show(min)),
        (None, Some(max)) => format!("maxUnavailable: {}", show(max)),
        (None, None) => String::new(),
    };
    let status = p.status.as_ref();
    PdbRow {
        namespace: namespace(meta),
        name: name(meta),
        budget,
        current_healthy: count(status.map(|s| s.current_healthy)),
        desired_healthy: count(status.map(|s| s.desired_healthy)),
        allowed_disruptions: count(status.map(|s| s.disruptions_allowed)),
    }
}

/// Warning events only; `None` for anything else.
pub fn event_row(e: &Event) -> Option<EventRow> {
    if e.type_.as_deref() != Some("Warning") {
        return None;
    }
    let meta = &e.metadata;
    let series = e.series.as_ref();
    let last_seen = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| {
            series
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0)
        })
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .unwrap_or_else(|| created(meta));
    let involved = &e.involved_object;
    Some(EventRow {
        namespace: namespace(meta),
        object: format!(
            "{}/{}",
            involved.kind.as_deref().unwrap_or_default(),
            involved.name.as_deref().unwrap_or_default()
        ),
        reason: e.reason.clone().unwrap_or_default(),
        message: e.message.clone().unwrap_or_default(),
        count: e
            .count
            .or_else(|| series.and_then(|s| s.count))
            .map_or(1, |c| count(Some(c))),
        last_seen,
    })
}

/// `250m` → 250, `2` → 2000, `1.5` → 1500.
pub fn cpu_millis(q: &str) -> Option<u64> {
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    if let Some(n) = q.strip_suffix('n') {
        return n.parse::<u64>().ok().map(|n| n / 1_000_000);
    }
    if let Some(u) = q.strip_suffix('u') {
        return u.parse::<u64>().ok().map(|u| u / 1_000);
    }
    let cores: f64 = q.parse().ok()?;
    (cores >= 0.0).then(|| (cores * 1000.0).round() as u64)
}

/// `16Gi`, `16000000Ki`, `1G`, `1e9`, `1024` → bytes.
pub fn bytes(q: &str) -> Option<u64> {
    const SUFFIXES: [(&str, u64); 12] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(n) = q.strip_suffix(suffix) {
            let n: f64 = n.parse().ok()?;
            return (n >= 0.0).then_some((n * factor as f64) as u64);
        }
    }
    let n: f64 = q.parse().ok()?;
    (n >= 0.0).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_like_the_api_server_writes_them() {
        assert_eq!(cpu_millis("3920m"), Some(3920));
        assert_eq!(cpu_millis("4"), Some(4000));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("lots"), None);
        assert_eq!(bytes("16Gi"), Some(16 << 30));
        assert_eq!(bytes("15842652Ki"), Some(15_842_652 << 10));
        assert_eq!(bytes("1e9"), Some(1_000_000_000));
        assert_eq!(bytes("-1"), None);
    }

    #[test]
    fn pod_shows_crash_loop_and_ignores_routine_waiting() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "user-1", "namespace": "shop",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 2, "image": "i", "imageID": "",
                 "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 7, "image": "i", "imageID": "",
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }))
        .unwrap();
        let row = pod_row(&pod);
        assert_eq!(
            (row.ready_containers, row.total_containers, row.restarts),
            (1, 2, 9)
        );
        assert_eq!(row.status(), "CrashLoopBackOff");
        assert_eq!(row.node, "n1");

        let creating: Pod = serde_json::from_value(json!({
            "metadata": {"name": "user-2", "namespace": "shop"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        }))
        .unwrap();
        assert_eq!(pod_row(&creating).status(), "Pending");
    }

    #[test]
    fn deployment_rollout_follows_kubectl_rollout_status() {
        let d = |generation: i64, status: serde_json::Value| -> Deployment {
            serde_json::from_value(json!({
                "metadata": {"name": "user", "namespace": "shop", "generation": generation,
                             "annotations": {REVISION_ANNOTATION: "7"}},
                "spec": {"replicas": 3, "selector": {}, "template": {"spec": {"containers": [
                    {"name": "web", "image": "shop/user:1.4"}]}}},
                "status": status
            }))
            .unwrap()
        };
        let done = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
                          "readyReplicas": 3, "availableReplicas": 3});
        let row = deployment_row(&d(2, done.clone()));
        assert_eq!(
            (row.rollout, row.revision, row.image.as_str()),
            (Rollout::Complete, 7, "shop/user:1.4")
        );
        assert_eq!(deployment_row(&d(3, done)).rollout, Rollout::Progressing);
        let stalled = json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False",
                            "reason": "ProgressDeadlineExceeded"}]});
        assert_eq!(deployment_row(&d(2, stalled)).rollout, Rollout::Stalled);
    }

    #[test]
    fn hpa_pairs_targets_with_current_utilisation() {
        let h: HorizontalPodAutoscaler = serde_json::from_value(json!({
            "metadata": {"name": "user", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "user", "apiVersion": "apps/v1"},
                     "minReplicas": 2, "maxReplicas": 10, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": 50}}}]},
            "status": {"currentReplicas": 10, "desiredReplicas": 10, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 93}}}]}
        }))
        .unwrap();
        let row = hpa_row(&h);
        assert_eq!(row.target, "Deployment/user");
        assert_eq!(row.targets(), "cpu 93%/50% memory ?/50%");
        assert!(row.at_max());
    }

    #[test]
    fn only_warning_events_become_rows() {
        let e = |t: &str| -> Event {
            serde_json::from_value(json!({
                "metadata": {"name": "e1", "namespace": "shop"},
                "involvedObject": {"kind": "Pod", "name": "user-1"},
                "type": t, "reason": "BackOff", "message": "Back-off restarting",
                "count": 4, "lastTimestamp": "2026-01-01T00:00:05Z"
            }))
            .unwrap()
        };
        assert!(event_row(&e("Normal")).is_none());
        let row = event_row(&e("Warning")).unwrap();
        assert_eq!((row.object.as_str(), row.count), ("Pod/user-1", 4));
    }
}
