//! Velero `Backup` objects (velero.io/v1) through the Kubernetes API. A backup is good when
//! its phase is `Completed` with a `completionTimestamp`; `PartiallyFailed`, `Failed` and
//! `FailedValidation` are attempts a restore cannot rely on. Backups still running are
//! neither, and are left out until they finish.

use super::config::VeleroBackups;
use crate::model::backup::Backup;
use jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

/// What a missing Velero (no such resource on the API server) is said as, once.
pub const NOT_INSTALLED: &str = "Velero is not installed there (no backups.velero.io)";

pub async fn read(client: kube::Client, cfg: &VeleroBackups) -> Result<Vec<Backup>, String> {
    let gvk = GroupVersionKind::gvk("velero.io", "v1", "Backup");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "backups");
    let api: Api<DynamicObject> = Api::namespaced_with(client, &cfg.namespace, &resource);
    let mut params = ListParams::default();
    if let Some(selector) = &cfg.selector {
        params = params.labels(selector);
    }
    let list = api.list(&params).await.map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 404 => NOT_INSTALLED.to_string(),
        kube::Error::Api(s) if s.code == 403 => format!(
            "forbidden: list backups.velero.io in namespace {} ({})",
            cfg.namespace,
            crate::sources::kube::describe(&e)
        ),
        _ => crate::sources::kube::describe(&e),
    })?;
    Ok(list
        .items
        .iter()
        .filter(|b| matches(cfg, &b.data["spec"]))
        .filter_map(|b| backup(b.metadata.name.as_deref().unwrap_or("?"), &b.data["status"]))
        .collect())
}

/// Whether a backup's spec is one of this database's: to the configured storage location,
/// covering the configured namespace.
fn matches(cfg: &VeleroBackups, spec: &Value) -> bool {
    let location = cfg
        .storage_location
        .as_ref()
        .is_none_or(|want| spec["storageLocation"].as_str() == Some(want));
    let namespace = cfg.included_namespace.as_ref().is_none_or(|want| {
        spec["includedNamespaces"]
            .as_array()
            .is_some_and(|list| list.iter().any(|n| n == want.as_str() || n == "*"))
    });
    location && namespace
}

fn time(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

/// A finished backup, good or not; `None` while it runs.
fn backup(name: &str, status: &Value) -> Option<Backup> {
    let phase = status["phase"].as_str().unwrap_or("New");
    let done = time(&status["completionTimestamp"]);
    let counts = |key: &str, word: &str| match status[key].as_u64().unwrap_or(0) {
        0 => None,
        1 => Some(format!("1 {word}")),
        n => Some(format!("{n} {word}s")),
    };
    let failed = match phase {
        "Completed" if done.is_some() => None,
        "PartiallyFailed" | "Failed" | "FailedValidation" => {
            let said: Vec<String> = [counts("errors", "error"), counts("warnings", "warning")]
                .into_iter()
                .flatten()
                .collect();
            Some(match said.as_slice() {
                [] => phase.to_string(),
                _ => format!("{phase} ({})", said.join(", ")),
            })
        }
        _ => return None,
    };
    let at = done.or_else(|| time(&status["startTimestamp"]))?;
    Some(Backup {
        name: name.to_string(),
        at,
        size: None,
        failed,
    })
}

pub fn location(cfg: &VeleroBackups) -> String {
    format!("velero {}/{}", cfg.context, cfg.namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> VeleroBackups {
        VeleroBackups {
            context: "prod".into(),
            namespace: "velero".into(),
            selector: None,
            storage_location: Some("default".into()),
            included_namespace: Some("shop".into()),
        }
    }

    #[test]
    fn phases_decide_good_failed_or_not_yet() {
        let done = "2026-12-02T10:00:00Z";
        let good = backup(
            "a",
            &json!({"phase": "Completed", "completionTimestamp": done}),
        );
        assert_eq!(good.unwrap().failed, None);
        let partial = backup(
            "b",
            &json!({"phase": "PartiallyFailed", "completionTimestamp": done, "errors": 2, "warnings": 1}),
        )
        .unwrap();
        assert_eq!(
            partial.failed.as_deref(),
            Some("PartiallyFailed (2 errors, 1 warning)")
        );
        assert_eq!(partial.at, done.parse::<Timestamp>().unwrap());
        assert!(backup("c", &json!({"phase": "InProgress", "startTimestamp": done})).is_none());
        assert_eq!(
            backup("d", &json!({"phase": "Failed", "startTimestamp": done}))
                .unwrap()
                .failed
                .as_deref(),
            Some("Failed")
        );
    }

    #[test]
    fn only_this_databases_backups_count() {
        let c = cfg();
        assert!(matches(
            &c,
            &json!({"storageLocation": "default", "includedNamespaces": ["shop"]})
        ));
        assert!(matches(
            &c,
            &json!({"storageLocation": "default", "includedNamespaces": ["*"]})
        ));
        assert!(!matches(
            &c,
            &json!({"storageLocation": "offsite", "includedNamespaces": ["shop"]})
        ));
        assert!(!matches(
            &c,
            &json!({"storageLocation": "default", "includedNamespaces": ["billing"]})
        ));
    }
}
