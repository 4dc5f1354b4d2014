//! One object fetched on demand for the detail view: what `kubectl describe` puts first
//! (conditions, container states with the last termination, requests and limits), and
//! the object as YAML without `managedFields`.

use super::error::describe;
use crate::model::inspect::{ObjectKind, ObjectRef};
use ::kube::Client;
use ::kube::api::Api;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, Node, Pod, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub type Pairs = Vec<(String, String)>;

async fn get<K>(api: Api<K>, object: &ObjectRef) -> Result<K, String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get(&object.name)
        .await
        .map_err(|e| format!("{object}: {}", describe(&e)))
}

pub async fn describe_object(client: Client, object: &ObjectRef) -> Result<Pairs, String> {
    let ns = object.namespace.as_str();
    Ok(match object.kind {
        ObjectKind::Pod => pod_pairs(&get(Api::<Pod>::namespaced(client, ns), object).await?),
        ObjectKind::Node => node_pairs(&get(Api::<Node>::all(client), object).await?),
        ObjectKind::Deployment => {
            deployment_pairs(&get(Api::<Deployment>::namespaced(client, ns), object).await?)
        }
    })
}

pub async fn yaml(client: Client, object: &ObjectRef) -> Result<String, String> {
    let ns = object.namespace.as_str();
    let value = match object.kind {
        ObjectKind::Pod => to_value(get(Api::<Pod>::namespaced(client, ns), object).await?),
        ObjectKind::Node => to_value(get(Api::<Node>::all(client), object).await?),
        ObjectKind::Deployment => {
            to_value(get(Api::<Deployment>::namespaced(client, ns), object).await?)
        }
    }?;
    to_yaml(value)
}

fn to_value(obj: impl serde::Serialize) -> Result<serde_json::Value, String> {
    serde_json::to_value(obj).map_err(|e| e.to_string())
}

/// YAML of an object with `metadata.managedFields` dropped, as `kubectl get -o yaml` shows
/// by default.
pub fn to_yaml(mut value: serde_json::Value) -> Result<String, String> {
    if let Some(meta) = value
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        meta.remove("managedFields");
        // The whole spec again, env values included.
        if let Some(a) = meta
            .get_mut("annotations")
            .and_then(serde_json::Value::as_object_mut)
        {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    redact_env(&mut value);
    serde_saphyr::to_string(&value).map_err(|e| format!("cannot write YAML: {e}"))
}

/// Whether an environment variable's name says its value is a credential.
fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["PASS", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "AUTH"]
        .iter()
        .any(|w| upper.contains(w))
}

/// Literal values of credential-named `env` entries never reach the screen.
fn redact_env(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let secret = map
                .get("name")
                .and_then(serde_json::Value::as_str)
                .is_some_and(secret_name);
            if secret && let Some(v) = map.get_mut("value") {
                *v = serde_json::Value::String("<redacted>".into());
            }
            map.values_mut().for_each(redact_env);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_env),
        _ => {}
    }
}

/// `Condition Ready`, `False (ContainersNotReady)`.
fn condition(type_: &str, status: &str, reason: Option<&str>) -> (String, String) {
    let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
    (format!("Condition {type_}"), format!("{status}{why}"))
}

fn time(t: &Option<Time>) -> String {
    t.as_ref()
        .map_or_else(String::new, |t| format!(" at {}", t.0))
}

/// `Terminated: OOMKilled, exit code 137 at …`, `Waiting: CrashLoopBackOff (back-off …)`.
fn state_words(state: &ContainerState) -> String {
    if let Some(t) = &state.terminated {
        format!(
            "Terminated: {}, exit code {}{}",
            t.reason.as_deref().unwrap_or("-"),
            t.exit_code,
            time(&t.finished_at)
        )
    } else if let Some(w) = &state.waiting {
        let reason = w.reason.as_deref().unwrap_or("Waiting");
        match &w.message {
            Some(m) => format!("Waiting: {reason} ({m})"),
            None => format!("Waiting: {reason}"),
        }
    } else if let Some(r) = &state.running {
        format!("Running{}", time(&r.started_at).replace(" at ", " since "))
    } else {
        "unknown".into()
    }
}

/// `cpu 250m, memory 512Mi`, or `-` when none are set.
fn quantities(
    map: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
) -> String {
    match map {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k} {}", v.0))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "-".into(),
    }
}

fn resources(out: &mut Pairs, r: Option<&ResourceRequirements>) {
    out.push((
        "  Requests".into(),
        quantities(r.and_then(|r| r.requests.as_ref())),
    ));
    out.push((
        "  Limits".into(),
        quantities(r.and_then(|r| r.limits.as_ref())),
    ));
}

fn container_pairs(out: &mut Pairs, c: &Container, status: Option<&ContainerStatus>) {
    out.push((
        format!("Container {}", c.name),
        c.image.clone().unwrap_or_default(),
    ));
    if let Some(s) = status {
        if let Some(state) = &s.state {
            out.push(("  State".into(), state_words(state)));
        }
        if let Some(last) = &s.last_state
            && (last.terminated.is_some() || last.waiting.is_some())
        {
            out.push(("  Last state".into(), state_words(last)));
        }
        out.push(("  Ready".into(), s.ready.to_string()));
        out.push(("  Restarts".into(), s.restart_count.to_string()));
    }
    resources(out, c.resources.as_ref());
}

pub fn pod_pairs(pod: &Pod) -> Pairs {
    let mut out = Pairs::new();
    let status = pod.status.clone().unwrap_or_default();
    // Name, node and phase are in the row's detail above these lines.
    for c in status.conditions.iter().flatten() {
        out.push(condition(&c.type_, &c.status, c.reason.as_deref()));
    }
    let statuses = status.container_statuses.unwrap_or_default();
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        container_pairs(&mut out, c, statuses.iter().find(|s| s.name == c.name));
    }
    out
}

pub fn node_pairs(node: &Node) -> Pairs {
    let mut out = Pairs::new();
    let spec = node.spec.clone().unwrap_or_default();
    out.push((
        "Unschedulable".into(),
        spec.unschedulable.unwrap_or(false).to_string(),
    ));
    for t in spec.taints.iter().flatten() {
        out.push((
            "Taint".into(),
            format!(
                "{}={}:{}",
                t.key,
                t.value.as_deref().unwrap_or(""),
                t.effect
            ),
        ));
    }
    let status = node.status.clone().unwrap_or_default();
    for c in status.conditions.iter().flatten() {
        out.push(condition(&c.type_, &c.status, c.reason.as_deref()));
    }
    out.push(("Capacity".into(), quantities(status.capacity.as_ref())));
    out.push((
        "Allocatable".into(),
        quantities(status.allocatable.as_ref()),
    ));
    if let Some(info) = &status.node_info {
        out.push(("Kubelet".into(), info.kubelet_version.clone()));
    }
    out
}

pub fn deployment_pairs(d: &Deployment) -> Pairs {
    let mut out = Pairs::new();
    let spec = d.spec.clone().unwrap_or_default();
    out.push((
        "Strategy".into(),
        spec.strategy
            .as_ref()
            .and_then(|s| s.type_.clone())
            .unwrap_or_else(|| "RollingUpdate".into()),
    ));
    out.push((
        "Selector".into(),
        spec.selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    ));
    for c in d.status.iter().flat_map(|s| s.conditions.iter().flatten()) {
        out.push(condition(&c.type_, &c.status, c.reason.as_deref()));
    }
    for c in spec.template.spec.iter().flat_map(|s| &s.containers) {
        container_pairs(&mut out, c, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_oom_killed_container_shows_reason_exit_code_and_limits() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "user-1", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "image": "user:1.4",
                "resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": "app", "image": "user:1.4", "imageID": "", "ready": false,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}
        }))
        .unwrap();
        let pairs = pod_pairs(&pod);
        let get = |k: &str| pairs.iter().find(|(l, _)| l == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Condition Ready"), Some("False (ContainersNotReady)"));
        assert_eq!(get("  State"), Some("Waiting: CrashLoopBackOff"));
        assert_eq!(
            get("  Last state"),
            Some("Terminated: OOMKilled, exit code 137")
        );
        assert_eq!(get("  Limits"), Some("memory 512Mi"));
        assert_eq!(get("  Restarts"), Some("4"));
    }

    #[test]
    fn yaml_drops_managed_fields() {
        let yaml = to_yaml(
            json!({"metadata": {"name": "x", "managedFields": [{"manager": "kubectl"}]},
                   "spec": {"replicas": 2, "containers": [{"name": "app",
                       "env": [{"name": "DB_PASSWORD", "value": "hunter2"},
                               {"name": "LOG_LEVEL", "value": "info"}]}]}}),
        )
        .unwrap();
        assert!(
            !yaml.contains("hunter2") && yaml.contains("<redacted>"),
            "{yaml}"
        );
        assert!(yaml.contains("info"), "{yaml}");
        assert!(yaml.contains("name: x"), "{yaml}");
        assert!(yaml.contains("replicas: 2"), "{yaml}");
        assert!(!yaml.contains("managedFields"), "{yaml}");
    }
}
