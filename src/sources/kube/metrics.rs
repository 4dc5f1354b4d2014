//! CPU and memory from metrics.k8s.io, when the cluster serves it (metrics-server). The
//! metrics API cannot be watched, so this is the one part of the feed that polls — at
//! metrics-server's own 15 s resolution; polling faster would only fetch the same numbers.
//! A cluster without it simply has no usage columns: `None`, not an error.

use super::project::{bytes, cpu_millis};
use ::kube::Client;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_millis: u64,
    pub memory_bytes: u64,
}

/// Usage by node name and by pod `namespace/name`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub nodes: HashMap<String, Usage>,
    pub pods: HashMap<String, Usage>,
}

#[derive(Deserialize)]
struct List<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct NodeMetrics {
    metadata: ObjectMeta,
    #[serde(default)]
    usage: BTreeMap<String, Quantity>,
}

#[derive(Deserialize)]
struct ContainerMetrics {
    #[serde(default)]
    usage: BTreeMap<String, Quantity>,
}

#[derive(Deserialize)]
struct PodMetrics {
    metadata: ObjectMeta,
    #[serde(default)]
    containers: Vec<ContainerMetrics>,
}

fn usage(map: &BTreeMap<String, Quantity>) -> Usage {
    Usage {
        cpu_millis: map.get("cpu").and_then(|q| cpu_millis(&q.0)).unwrap_or(0),
        memory_bytes: map.get("memory").and_then(|q| bytes(&q.0)).unwrap_or(0),
    }
}

async fn get<T: serde::de::DeserializeOwned>(client: &Client, path: &str) -> Option<T> {
    let request = http::Request::get(path).body(Vec::new()).ok()?;
    match client.request::<T>(request).await {
        Ok(t) => Some(t),
        Err(err) => {
            // 404 (no APIService) and 503 (metrics-server down) both mean "no numbers".
            tracing::debug!(path, error = %super::describe(&err), "metrics not available");
            None
        }
    }
}

/// One poll; `None` when the cluster does not serve metrics (or not to us).
pub async fn fetch(client: &Client, namespace: Option<&str>) -> Option<Metrics> {
    let nodes: Option<List<NodeMetrics>> = get(client, "/apis/metrics.k8s.io/v1beta1/nodes").await;
    let pods_path = match namespace {
        Some(ns) => format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"),
        None => "/apis/metrics.k8s.io/v1beta1/pods".to_string(),
    };
    let pods: Option<List<PodMetrics>> = get(client, &pods_path).await;
    if nodes.is_none() && pods.is_none() {
        return None;
    }
    let nodes = nodes
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|n| (n.metadata.name.clone().unwrap_or_default(), usage(&n.usage)))
        .collect();
    let pods = pods
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let total =
                p.containers
                    .iter()
                    .map(|c| usage(&c.usage))
                    .fold(Usage::default(), |a, b| Usage {
                        cpu_millis: a.cpu_millis + b.cpu_millis,
                        memory_bytes: a.memory_bytes + b.memory_bytes,
                    });
            (super::project::key(&p.metadata), total)
        })
        .collect();
    Some(Metrics { nodes, pods })
}

/// `used` as a percentage of `of`, capped at 255 to fit the row.
pub fn percent(used: u64, of: u64) -> Option<u8> {
    (of > 0).then(|| u8::try_from(used.saturating_mul(100) / of).unwrap_or(u8::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_of_nothing_is_unknown() {
        assert_eq!(percent(1960, 3920), Some(50));
        assert_eq!(percent(5000, 0), None);
        assert_eq!(percent(u64::MAX, 1), Some(u8::MAX));
    }
}
