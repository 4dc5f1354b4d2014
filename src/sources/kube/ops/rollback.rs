//! Rollback the way `kubectl rollout undo` does it, with one difference explained on
//! `KubeOps::rollback`.

use super::super::project::{self, REVISION_ANNOTATION};
use super::{KubeOps, OpResult, call, done, post_params};
use crate::ops::{Mode, OpError};
use ::kube::Api;
use ::kube::api::ListParams;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use serde_json::json;
use std::collections::BTreeMap;

const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// Deployment annotations a rollback keeps from the Deployment instead of copying from the
/// ReplicaSet — the list `kubectl rollout undo` uses.
const KEEP_ON_ROLLBACK: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

impl KubeOps {
    /// `kubectl rollout undo`: copy the pod template of the ReplicaSet with the wanted
    /// revision back into the Deployment. Sent as a PUT carrying the resourceVersion we read
    /// (kubectl uses an unconditional JSON patch), so a rollout that changed the Deployment
    /// in between makes this fail with a conflict instead of being silently overwritten.
    pub(super) async fn rollback(
        &self,
        ns: &str,
        name: &str,
        to: Option<u64>,
        mode: Mode,
    ) -> OpResult {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        let what = format!("deployment {ns}/{name}");
        let mut deployment = deployments
            .get(name)
            .await
            .map_err(|e| self.failed(&what, &e))?;
        let mut spec = deployment.spec.take().unwrap_or_default();
        if spec.paused == Some(true) {
            return Err(OpError::Refused(format!(
                "{what} is paused; resume it (kubectl rollout resume) before rolling back"
            )));
        }
        let current = project::revision(&deployment.metadata).unwrap_or(0);
        let uid = deployment.metadata.uid.clone().unwrap_or_default();
        let selector = spec
            .selector
            .match_labels
            .as_ref()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let replicasets: Api<ReplicaSet> = Api::namespaced(self.client.clone(), ns);
        let list_path =
            format!("/apis/apps/v1/namespaces/{ns}/replicasets?labelSelector={selector}");
        let history: Vec<(u64, ReplicaSet)> = replicasets
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.failed(&format!("replicasets of {what}"), &e))?
            .items
            .into_iter()
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|o| o.uid == uid)
            })
            .filter_map(|rs| Some((project::revision(&rs.metadata)?, rs)))
            .collect();
        let revisions = || {
            let mut r: Vec<String> = history.iter().map(|(n, _)| n.to_string()).collect();
            r.sort();
            r.join(", ")
        };
        let wanted = match to {
            Some(r) => r,
            None => history
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| *n < current)
                .max()
                .ok_or_else(|| {
                    OpError::Refused(format!(
                        "{what} has no revision before {current} to roll back to (history: {})",
                        revisions()
                    ))
                })?,
        };
        let Some((_, rs)) = history.iter().find(|(n, _)| *n == wanted) else {
            return Err(OpError::NotFound(format!(
                "revision {wanted} of {what} (history: {}; context {})",
                revisions(),
                self.context
            )));
        };
        let mut template = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.clone())
            .unwrap_or_default();
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(POD_TEMPLATE_HASH);
        }
        let calls = vec![call("GET", &list_path, Mode::Apply, None)];
        if template == spec.template {
            return Ok((
                format!(
                    "{what} already runs the template of revision {wanted}; nothing to roll back"
                ),
                calls,
            ));
        }
        let mut annotations: BTreeMap<String, String> = BTreeMap::new();
        let own = deployment.metadata.annotations.clone().unwrap_or_default();
        for key in KEEP_ON_ROLLBACK {
            if let Some(v) = own.get(key) {
                annotations.insert(key.into(), v.clone());
            }
        }
        for (k, v) in rs.metadata.annotations.clone().unwrap_or_default() {
            if !KEEP_ON_ROLLBACK.contains(&k.as_str()) {
                annotations.insert(k, v);
            }
        }
        let image = project::image(Some(&template));
        spec.template = template;
        deployment.spec = Some(spec);
        deployment.metadata.annotations = Some(annotations);
        deployment.metadata.managed_fields = None;
        deployment.status = None;
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}");
        deployments
            .replace(name, &post_params(mode), &deployment)
            .await
            .map_err(|e| self.failed(&what, &e))?;
        let rs_name = rs.metadata.name.clone().unwrap_or_default();
        let mut calls = calls;
        calls.push(call(
            "PUT",
            &path,
            mode,
            Some(&json!({"spec": {"template": format!("<template of replicaset {rs_name}>")}})),
        ));
        Ok((
            done(
                mode,
                format!(
                    "rolled back {what} from revision {current} to revision {wanted} ({image}, replicaset {rs_name})"
                ),
            ),
            calls,
        ))
    }
}
