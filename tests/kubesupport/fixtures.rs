//! Typed Kubernetes objects shaped like the ones a real cluster returns (status filled in
//! the way the controllers fill it), and the worlds tests and benchmarks start from.

use super::KubeServer;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{Value, json};

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

pub fn node(name: &str, zone: &str, ready: bool) -> Node {
    typed(json!({
        "metadata": {"name": name, "labels": {
            "topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": name}},
        "spec": {"providerID": format!("aws:///{zone}/i-0{name}")},
        "status": {
            "allocatable": {"cpu": "3920m", "memory": "15842652Ki", "pods": "58"},
            "capacity": {"cpu": "4", "memory": "16393628Ki", "pods": "58"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "DiskPressure", "status": "False"},
                {"type": "Ready", "status": if ready { "True" } else { "Unknown" }}
            ],
            "nodeInfo": {"kubeletVersion": "v1.33.4-eks", "architecture": "amd64",
                "bootID": "b", "containerRuntimeVersion": "containerd://1.7", "kernelVersion": "6.1",
                "kubeProxyVersion": "", "machineID": "m", "operatingSystem": "linux",
                "osImage": "Amazon Linux 2023", "systemUUID": "u"}
        }
    }))
}

fn template(app: &str, image: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": app});
    if let Some(h) = hash {
        labels["pod-template-hash"] = json!(h);
    }
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": app, "image": image,
            "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}
    })
}

pub fn deployment(ns: &str, name: &str, replicas: i32, image: &str, revision: u64) -> Deployment {
    typed(json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-deploy-{ns}-{name}"),
            "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": revision.to_string()}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": template(name, image, None)},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": replicas, "availableReplicas": replicas,
                   "conditions": [{"type": "Progressing", "status": "True",
                                   "reason": "NewReplicaSetAvailable"}]}
    }))
}

/// The ReplicaSet a Deployment controller leaves behind for `revision`.
pub fn replicaset(deploy: &Deployment, revision: u64, image: &str, replicas: i32) -> ReplicaSet {
    let ns = deploy.metadata.namespace.clone().unwrap_or_default();
    let name = deploy.metadata.name.clone().unwrap_or_default();
    let hash = format!("h{revision}x{}", name.len());
    typed(json!({
        "metadata": {"name": format!("{name}-{hash}"), "namespace": ns,
            "labels": {"app": name, "pod-template-hash": hash},
            "annotations": {"deployment.kubernetes.io/revision": revision.to_string(),
                            "deployment.kubernetes.io/desired-replicas": "3",
                            "app.example.com/release-note": format!("release {revision}")},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                "uid": deploy.metadata.uid.clone().unwrap_or_default(), "controller": true}]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name, "pod-template-hash": hash}},
                 "template": template(&name, image, Some(&hash))}
    }))
}

pub fn pod(ns: &str, name: &str, node: &str, app: &str) -> Pod {
    typed(json!({
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app},
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {},
                "f:hostIP": {}, "f:phase": {}, "f:podIP": {}, "f:startTime": {}}}}]},
        "spec": {"nodeName": node, "containers": [{"name": app, "image": format!("shop/{app}:1.4"),
            "env": [{"name": "DB_HOST", "value": "proxysql.shop.svc"},
                    {"name": "LOG_LEVEL", "value": "info"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
            "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]},
        "status": {"phase": "Running", "podIP": "10.0.1.5", "hostIP": "10.0.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": app, "ready": true, "restartCount": 0,
                "image": format!("shop/{app}:1.4"), "imageID": "sha256:abc",
                "state": {"running": {"startedAt": "2026-01-01T00:00:10Z"}}}]}
    }))
}

/// A pod whose container is crash-looping.
pub fn crashing_pod(ns: &str, name: &str, node: &str, app: &str, restarts: i32) -> Pod {
    let mut p = pod(ns, name, node, app);
    if let Some(status) = p.status.as_mut()
        && let Some(cs) = status.container_statuses.as_mut()
    {
        cs[0].ready = false;
        cs[0].restart_count = restarts;
        cs[0].state = Some(typed(json!({"waiting": {"reason": "CrashLoopBackOff"}})));
        cs[0].last_state = Some(typed(json!({"terminated": {"reason": "OOMKilled",
            "exitCode": 137, "finishedAt": "2026-01-01T00:04:50Z"}})));
    }
    p
}

pub fn hpa(
    ns: &str,
    name: &str,
    min: i32,
    max: i32,
    desired: i32,
    cpu_now: i32,
) -> HorizontalPodAutoscaler {
    typed(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                 "minReplicas": min, "maxReplicas": max,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}}]},
        "status": {"currentReplicas": desired, "desiredReplicas": desired,
                   "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                        "current": {"averageUtilization": cpu_now}}}]}
    }))
}

pub fn pdb(ns: &str, name: &str, min_available: i32, healthy: i32) -> PodDisruptionBudget {
    typed(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": name}}},
        "status": {"currentHealthy": healthy, "desiredHealthy": min_available,
                   "disruptionsAllowed": (healthy - min_available).max(0), "expectedPods": healthy}
    }))
}

pub fn event(ns: &str, name: &str, kind: &str, pod: &str, reason: &str, warning: bool) -> Event {
    typed(json!({
        "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": kind, "name": pod, "namespace": ns},
        "type": if warning { "Warning" } else { "Normal" },
        "reason": reason, "message": format!("{reason} for {pod}"), "count": 3,
        "lastTimestamp": "2026-01-01T00:05:00Z"
    }))
}

/// The shopping mall's `shop` namespace: three nodes, Deployment `user` at revision 3 with
/// ReplicaSets for revisions 1–3, three pods (one crash-looping), an HPA, a PDB, events.
pub fn shop(server: &KubeServer) {
    for (i, zone) in ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
        .iter()
        .enumerate()
    {
        server.put(&node(&format!("node-{i}"), zone, true));
    }
    let user = deployment("shop", "user", 3, "shop/user:1.4", 3);
    server.put(&user);
    for (rev, image) in [
        (1, "shop/user:1.2"),
        (2, "shop/user:1.3"),
        (3, "shop/user:1.4"),
    ] {
        server.put(&replicaset(&user, rev, image, if rev == 3 { 3 } else { 0 }));
    }
    server.put(&deployment("shop", "admin", 2, "shop/admin:2.0", 1));
    server.put(&pod("shop", "user-a", "node-0", "user"));
    server.put(&pod("shop", "user-b", "node-1", "user"));
    server.put(&crashing_pod("shop", "user-c", "node-2", "user", 9));
    server.put(&hpa("shop", "user", 2, 10, 3, 63));
    server.put(&pdb("shop", "user", 2, 3));
    server.put(&event("shop", "user-c.1", "Pod", "user-c", "BackOff", true));
    server.put(&event(
        "shop",
        "user-a.1",
        "Pod",
        "user-a",
        "Scheduled",
        false,
    ));
}

/// A second, different cluster: two nodes, `payments/api` (two pods, its HPA at max) and
/// `ledger/writer` (one pod).
pub fn payments(server: &KubeServer) {
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        server.put(&node(&format!("pay-node-{i}"), zone, true));
    }
    server.put(&deployment("payments", "api", 2, "pay/api:7.1", 1));
    server.put(&deployment("ledger", "writer", 1, "pay/writer:3.0", 1));
    server.put(&pod("payments", "api-x", "pay-node-0", "api"));
    server.put(&pod("payments", "api-y", "pay-node-1", "api"));
    server.put(&pod("ledger", "writer-z", "pay-node-0", "writer"));
    server.put(&hpa("payments", "api", 1, 2, 2, 95));
}

/// `pods` pods over `nodes` nodes in 16 namespaces, 12 pods per Deployment, for scale tests.
pub fn large(server: &KubeServer, nodes: usize, pods: usize) {
    let zones = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"];
    let node_objs: Vec<Node> = (0..nodes)
        .map(|i| {
            node(
                &format!("ip-10-0-{}-{}", i / 250, i % 250),
                zones[i % 3],
                i % 173 != 42,
            )
        })
        .collect();
    server.put_all(&node_objs);
    let deployments = (pods / 12).max(1);
    let deploy_objs: Vec<Deployment> = (0..deployments)
        .map(|d| {
            deployment(
                &format!("ns-{}", d % 16),
                &format!("svc-{d}"),
                12,
                "shop/svc:1.0",
                1,
            )
        })
        .collect();
    server.put_all(&deploy_objs);
    let pod_objs: Vec<Pod> = (0..pods)
        .map(|i| {
            let d = i % deployments;
            let ns = format!("ns-{}", d % 16);
            let name = format!("svc-{d}-7d9c5b{:04}-{i:05}", d % 10_000);
            let on = &node_objs[i % nodes.max(1)];
            let node_name = on.metadata.name.clone().unwrap_or_default();
            if i % 97 == 13 {
                crashing_pod(&ns, &name, &node_name, &format!("svc-{d}"), 7)
            } else {
                pod(&ns, &name, &node_name, &format!("svc-{d}"))
            }
        })
        .collect();
    server.put_all(&pod_objs);
}
