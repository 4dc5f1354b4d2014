//! The cluster operations behind `Ops`. Each one first asks the API server whether we may
//! (SelfSubjectAccessReview) so a denial reads as a sentence before anything is attempted,
//! and a dry-run sends the real request with `dryRun=All` so the API server's own
//! validation and admission run — not a local imitation of them.

mod rollback;

use super::KubeConfig;
use super::error::{describe, status_code};
use super::lease::{Holder, Lease};

use crate::ops::{Mode, Op, OpError, Ops, Outcome, ReadOnly};
use ::kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use ::kube::{Api, Client};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

const FIELD_MANAGER: &str = "opsdeck";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// Namespace for leases on cluster-scoped targets (nodes).
const CLUSTER_LEASES: &str = "default";

/// Operations on one context's cluster.
#[derive(Clone)]
pub struct KubeOps {
    client: Client,
    context: String,
    identity: String,
}

/// `KubeOps` for a context, wrapped in `ReadOnly` when `--read-only` is given or the
/// context is listed in `[kube] read_only`.
pub fn ops_for(
    client: Client,
    context: &str,
    config: Option<&KubeConfig>,
    read_only_flag: bool,
) -> Box<dyn Ops> {
    let ops = KubeOps::new(client, context);
    let configured = config.is_some_and(|c| c.is_read_only(context));
    if read_only_flag || configured {
        let reason = if read_only_flag {
            "opsdeck runs with --read-only".to_string()
        } else {
            format!("context {context} is read-only in the config ([kube] read_only)")
        };
        Box::new(ReadOnly { inner: ops, reason })
    } else {
        Box::new(ops)
    }
}

/// What an operation needs permission for: the SelfSubjectAccessReview attributes.
struct Access {
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    subresource: Option<&'static str>,
    namespace: Option<String>,
    name: String,
}

impl Access {
    fn describe(&self) -> String {
        let resource = match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_string(),
        };
        match &self.namespace {
            Some(ns) => format!("{} {resource} {ns}/{}", self.verb, self.name),
            None => format!("{} {resource} {}", self.verb, self.name),
        }
    }
}

/// The request line shown in an outcome: what was (or in a dry-run, would be) sent.
pub(super) fn call(
    method: &str,
    path: &str,
    mode: Mode,
    body: Option<&serde_json::Value>,
) -> String {
    let dry = if mode == Mode::DryRun {
        "?dryRun=All"
    } else {
        ""
    };
    match body {
        Some(b) => format!("{method} {path}{dry} {b}"),
        None => format!("{method} {path}{dry}"),
    }
}

fn patch_params(mode: Mode) -> PatchParams {
    PatchParams {
        dry_run: mode == Mode::DryRun,
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    }
}

pub(super) fn post_params(mode: Mode) -> PostParams {
    PostParams {
        dry_run: mode == Mode::DryRun,
        field_manager: Some(FIELD_MANAGER.into()),
    }
}

pub(super) fn done(mode: Mode, what: String) -> String {
    match mode {
        Mode::DryRun => format!("dry-run: {what} — accepted by the API server, nothing changed"),
        Mode::Apply => what,
    }
}

impl KubeOps {
    pub fn new(client: Client, context: &str) -> Self {
        KubeOps {
            client,
            context: context.to_string(),
            identity: super::lease::identity(),
        }
    }

    /// Uses `identity` as the lease holder this console recognises as itself.
    pub fn with_identity(mut self, identity: &str) -> Self {
        self.identity = identity.to_string();
        self
    }

    /// A client error as an `OpError`, naming the object and the context.
    pub(super) fn failed(&self, what: &str, err: &::kube::Error) -> OpError {
        let place = format!("{what} (context {})", self.context);
        match status_code(err) {
            Some(404) => OpError::NotFound(place),
            Some(403) => OpError::Denied(format!("{place}: {}", describe(err))),
            Some(409 | 422) => OpError::Refused(format!("{place}: {}", describe(err))),
            _ => OpError::Failed(format!("{place}: {}", describe(err))),
        }
    }

    /// Asks the API server whether the current user may do it; a denial becomes
    /// `OpError::Denied` with the reason RBAC gave.
    async fn check_access(&self, access: &Access) -> Result<String, OpError> {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(access.verb.into()),
                    group: Some(access.group.into()),
                    resource: Some(access.resource.into()),
                    subresource: access.subresource.map(str::to_string),
                    namespace: access.namespace.clone(),
                    name: Some(access.name.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| {
                OpError::Failed(format!(
                    "cannot check whether you may {} (context {}): {}",
                    access.describe(),
                    self.context,
                    describe(&e)
                ))
            })?;
        let status = answer.status.unwrap_or_default();
        let reason = status
            .reason
            .filter(|r| !r.is_empty())
            .or(status.evaluation_error.filter(|r| !r.is_empty()));
        if status.allowed {
            Ok(format!(
                "access check (SelfSubjectAccessReview): allowed to {}{}",
                access.describe(),
                reason.map(|r| format!(" — {r}")).unwrap_or_default()
            ))
        } else {
            Err(OpError::Denied(format!(
                "your credentials for context {} may not {} — {}",
                self.context,
                access.describe(),
                reason.unwrap_or_else(|| "no RBAC rule allows it".into())
            )))
        }
    }

    /// Refuses to change a target another console holds a lease on. Holding it ourselves (a
    /// playbook run took it) is fine.
    async fn check_lease(&self, op: &Op) -> Result<Option<String>, OpError> {
        let Some((namespace, target)) = lease_target(op) else {
            return Ok(None);
        };
        match Lease::holder(self.client.clone(), &namespace, &target).await {
            Ok(Some(Holder { identity, since })) if identity != self.identity => {
                Err(OpError::Refused(format!(
                    "{target} in {namespace} is locked by {identity} since {since} (context {}); wait until they finish",
                    self.context
                )))
            }
            Ok(_) => Ok(Some(format!(
                "lease check: nobody else holds {target} in {namespace}"
            ))),
            Err(e) => Err(OpError::Failed(e.to_string())),
        }
    }

    async fn scale(&self, ns: &str, name: &str, replicas: u32, mode: Mode) -> OpResult {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        let what = format!("deployment {ns}/{name}");
        let before = api
            .get_scale(name)
            .await
            .map_err(|e| self.failed(&what, &e))?
            .spec
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        let body = json!({"spec": {"replicas": replicas}});
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale");
        let after = api
            .patch_scale(name, &patch_params(mode), &Patch::Merge(&body))
            .await
            .map_err(|e| self.failed(&what, &e))?
            .spec
            .and_then(|s| s.replicas)
            .unwrap_or(0);
        let note = self.hpa_note(ns, name).await.unwrap_or_default();
        Ok((
            done(
                mode,
                format!("scaled {what} from {before} to {after} replicas{note}"),
            ),
            vec![call("PATCH", &path, mode, Some(&body))],
        ))
    }

    /// A scale the HPA disagrees with lasts until its next sync (15 s), which surprises
    /// people mid-incident; say so. Best effort: not being allowed to list HPAs is no reason
    /// to fail the scale.
    async fn hpa_note(&self, ns: &str, deployment: &str) -> Option<String> {
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), ns);
        let list = api.list(&Default::default()).await.ok()?;
        let hpa = list.items.into_iter().find(|h| {
            h.spec.as_ref().is_some_and(|s| {
                s.scale_target_ref.kind == "Deployment" && s.scale_target_ref.name == deployment
            })
        })?;
        let spec = hpa.spec.unwrap_or_default();
        Some(format!(
            "; note: hpa {ns}/{} (min {}, max {}) manages it and will move replicas back within its bounds — change the HPA bounds instead",
            hpa.metadata.name.unwrap_or_default(),
            spec.min_replicas.unwrap_or(1),
            spec.max_replicas
        ))
    }

    async fn hpa_bounds(
        &self,
        ns: &str,
        name: &str,
        min: Option<u32>,
        max: Option<u32>,
        mode: Mode,
    ) -> OpResult {
        let what = format!("hpa {ns}/{name}");
        if min.is_none() && max.is_none() {
            return Err(OpError::Refused(format!(
                "{what}: neither min nor max given, nothing to change"
            )));
        }
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), ns);
        let current = api.get(name).await.map_err(|e| self.failed(&what, &e))?;
        let spec = current.spec.unwrap_or_default();
        let old_min = spec
            .min_replicas
            .map_or(1, |m| u32::try_from(m).unwrap_or(0));
        let old_max = u32::try_from(spec.max_replicas).unwrap_or(0);
        let (new_min, new_max) = (min.unwrap_or(old_min), max.unwrap_or(old_max));
        if new_min == 0 || new_min > new_max {
            return Err(OpError::Refused(format!(
                "{what}: min {new_min} and max {new_max} are not a valid range (need 1 ≤ min ≤ max)"
            )));
        }
        let mut fields = serde_json::Map::new();
        if let Some(m) = min {
            fields.insert("minReplicas".into(), m.into());
        }
        if let Some(m) = max {
            fields.insert("maxReplicas".into(), m.into());
        }
        let body = json!({ "spec": fields });
        let path = format!("/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}");
        api.patch(name, &patch_params(mode), &Patch::Merge(&body))
            .await
            .map_err(|e| self.failed(&what, &e))?;
        Ok((
            done(
                mode,
                format!("set {what} bounds from {old_min}..{old_max} to {new_min}..{new_max}"),
            ),
            vec![call("PATCH", &path, mode, Some(&body))],
        ))
    }

    async fn restart(&self, ns: &str, name: &str, mode: Mode) -> OpResult {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        let what = format!("deployment {ns}/{name}");
        let at = jiff::Timestamp::now().to_string();
        let body = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}});
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}");
        api.patch(name, &patch_params(mode), &Patch::Strategic(&body))
            .await
            .map_err(|e| self.failed(&what, &e))?;
        Ok((
            done(mode, format!("restarted {what} ({RESTARTED_AT}={at})")),
            vec![call("PATCH", &path, mode, Some(&body))],
        ))
    }

    async fn cordon(&self, node: &str, cordon: bool, mode: Mode) -> OpResult {
        let api: Api<Node> = Api::all(self.client.clone());
        let what = format!("node {node}");
        let body = json!({"spec": {"unschedulable": cordon}});
        let path = format!("/api/v1/nodes/{node}");
        api.patch(node, &patch_params(mode), &Patch::Merge(&body))
            .await
            .map_err(|e| self.failed(&what, &e))?;
        let verb = if cordon { "cordoned" } else { "uncordoned" };
        Ok((
            done(mode, format!("{verb} {what}")),
            vec![call("PATCH", &path, mode, Some(&body))],
        ))
    }

    async fn delete_pod(&self, ns: &str, pod: &str, mode: Mode) -> OpResult {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let what = format!("pod {ns}/{pod}");
        let dp = DeleteParams {
            dry_run: mode == Mode::DryRun,
            ..DeleteParams::default()
        };
        let path = format!("/api/v1/namespaces/{ns}/pods/{pod}");
        api.delete(pod, &dp)
            .await
            .map_err(|e| self.failed(&what, &e))?;
        Ok((
            done(mode, format!("deleted {what}")),
            vec![call("DELETE", &path, mode, None)],
        ))
    }
}

pub(super) type OpResult = Result<(String, Vec<String>), OpError>;

/// Where the lease for an operation's target lives and what it is called.
pub fn lease_target(op: &Op) -> Option<(String, String)> {
    match op {
        Op::Scale {
            namespace,
            deployment,
            ..
        }
        | Op::Rollback {
            namespace,
            deployment,
            ..
        }
        | Op::Restart {
            namespace,
            deployment,
        } => Some((namespace.clone(), format!("deployment/{deployment}"))),
        Op::SetHpaBounds { namespace, hpa, .. } => Some((namespace.clone(), format!("hpa/{hpa}"))),
        Op::Cordon { node, .. } => Some((CLUSTER_LEASES.into(), format!("node/{node}"))),
        Op::DeletePod { namespace, pod } => Some((namespace.clone(), format!("pod/{pod}"))),
        _ => None,
    }
}

fn access(op: &Op) -> Option<Access> {
    let namespaced = |verb, group, resource, subresource, ns: &str, name: &str| Access {
        verb,
        group,
        resource,
        subresource,
        namespace: Some(ns.to_string()),
        name: name.to_string(),
    };
    Some(match op {
        Op::Scale {
            namespace,
            deployment,
            ..
        } => namespaced(
            "patch",
            "apps",
            "deployments",
            Some("scale"),
            namespace,
            deployment,
        ),
        Op::SetHpaBounds { namespace, hpa, .. } => namespaced(
            "patch",
            "autoscaling",
            "horizontalpodautoscalers",
            None,
            namespace,
            hpa,
        ),
        Op::Rollback {
            namespace,
            deployment,
            ..
        } => namespaced("update", "apps", "deployments", None, namespace, deployment),
        Op::Restart {
            namespace,
            deployment,
        } => namespaced("patch", "apps", "deployments", None, namespace, deployment),
        Op::DeletePod { namespace, pod } => namespaced("delete", "", "pods", None, namespace, pod),
        Op::Cordon { node, .. } => Access {
            verb: "patch",
            group: "",
            resource: "nodes",
            subresource: None,
            namespace: None,
            name: node.clone(),
        },
        _ => return None,
    })
}

#[async_trait]
impl Ops for KubeOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let Some(access) = access(op) else {
            return Err(OpError::Unsupported(format!(
                "{op} is not a Kubernetes operation (context {})",
                self.context
            )));
        };
        let mut calls = vec![self.check_access(&access).await?];
        if mode == Mode::Apply
            && let Some(line) = self.check_lease(op).await?
        {
            calls.push(line);
        }
        let (summary, sent) = match op {
            Op::Scale {
                namespace,
                deployment,
                replicas,
            } => self.scale(namespace, deployment, *replicas, mode).await?,
            Op::SetHpaBounds {
                namespace,
                hpa,
                min,
                max,
                ..
            } => self.hpa_bounds(namespace, hpa, *min, *max, mode).await?,
            Op::Rollback {
                namespace,
                deployment,
                revision,
            } => {
                self.rollback(namespace, deployment, *revision, mode)
                    .await?
            }
            Op::Restart {
                namespace,
                deployment,
            } => self.restart(namespace, deployment, mode).await?,
            Op::Cordon { node, cordon } => self.cordon(node, *cordon, mode).await?,
            Op::DeletePod { namespace, pod } => self.delete_pod(namespace, pod, mode).await?,
            other => {
                return Err(OpError::Unsupported(format!(
                    "{other} is not a Kubernetes operation"
                )));
            }
        };
        calls.extend(sent);
        Ok(Outcome { summary, calls })
    }

    /// The access review and the API server's dry-run, and the lease a real run would need.
    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        let dry = self.apply(op, Mode::DryRun).await?;
        Ok(match self.check_lease(op).await? {
            Some(lease) => format!("{}; {lease}", dry.summary),
            None => dry.summary,
        })
    }
}
