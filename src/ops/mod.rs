//! The mutating operations playbooks (and a few keys) use. An `Op` is data: it is shown in a
//! dry-run, written to the incident journal before it runs, and applied by whichever `Ops`
//! backs the console — the live backends or the drill world.

pub mod addresses;
pub mod route;

use crate::model::summary::Area;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The inline policy `deny_all` attaches to contain a user.
pub const DENY_ALL_POLICY: &str = "opsdeck-deny-all";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Set a Deployment's replicas through its scale subresource.
    Scale {
        namespace: String,
        deployment: String,
        replicas: u32,
    },
    /// Change an HPA's bounds; `None` keeps the current value.
    SetHpaBounds {
        namespace: String,
        hpa: String,
        min: Option<u32>,
        max: Option<u32>,
        /// The Kubernetes context whose HPA it is (a region's); absent, the active one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
    },
    /// Back to `revision`, or to the previous one like `kubectl rollout undo`.
    Rollback {
        namespace: String,
        deployment: String,
        revision: Option<u64>,
    },
    /// `kubectl rollout restart`.
    Restart {
        namespace: String,
        deployment: String,
    },
    Cordon {
        node: String,
        cordon: bool,
    },
    DeletePod {
        namespace: String,
        pod: String,
    },
    /// Stop the old primary taking writes (MariaDB read_only + kill clients; PostgreSQL
    /// default_transaction_read_only + terminate backends).
    Fence {
        cluster: String,
        member: String,
    },
    /// Lift a fence: `member` takes writes again. What a run does to put a fenced primary
    /// back when a later step is refused before anything else changed.
    Unfence {
        cluster: String,
        member: String,
    },
    /// Make `member` the writable primary once it has replayed what it received.
    Promote {
        cluster: String,
        member: String,
    },
    /// Point every other replica (and the router, if configured) at `primary`.
    Repoint {
        cluster: String,
        primary: String,
    },
    /// Write a marker on the primary and wait until every replica has it.
    VerifyReplication {
        cluster: String,
    },
    /// Multi-AZ RDS: reboot with failover to the standby.
    RebootWithFailover {
        cluster: String,
    },
    BlockIp {
        acl: String,
        ip: String,
    },
    /// The rollback of [`Op::BlockIp`]: the address or CIDR leaves the ACL's blocking IP set.
    UnblockIp {
        acl: String,
        ip: String,
    },
    DeactivateKey {
        user: String,
        key_suffix: String,
    },
    /// Read-only: what the key did in the last `hours` (CloudTrail LookupEvents by
    /// AccessKeyId in every region), for the incident timeline before it is cut off.
    KeyActivity {
        user: String,
        key_suffix: String,
        hours: u32,
    },
    /// Take away the user's console password (DeleteLoginProfile).
    DeleteLoginProfile {
        user: String,
    },
    /// An inline policy denying every action, on top of whatever the user holds.
    DenyAll {
        user: String,
    },
    /// The rollback of DeactivateKey; `reason` goes to the journal with it.
    ReactivateKey {
        user: String,
        key_suffix: String,
        reason: String,
    },
    Silence {
        alert: String,
        minutes: u32,
    },
    /// Route 53: give the region's weighted record set `weight` (UPSERT), then wait until
    /// the change is INSYNC and one record TTL has passed. `previous` is the weight the run
    /// read before (journaled with the op, so `region-restore` can put it back); a record
    /// whose weight changed since is refused.
    SetRegionWeight {
        region: String,
        #[serde(deserialize_with = "number")]
        weight: u32,
        #[serde(
            default,
            deserialize_with = "some_number",
            skip_serializing_if = "Option::is_none"
        )]
        previous: Option<u32>,
    },
}

/// A count given as a number or as the text a check bound (`"{{traffic.weight}}"`).
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u32),
        S(String),
    }
    match N::deserialize(d)? {
        N::N(n) => Ok(n),
        N::S(s) => s.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!("`{s}` is not a whole number from 0 up"))
        }),
    }
}

fn some_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    number(d).map(Some)
}

impl Op {
    /// The name an operator types to confirm the most dangerous operations.
    pub fn target(&self) -> &str {
        match self {
            Op::Scale { deployment, .. }
            | Op::Rollback { deployment, .. }
            | Op::Restart { deployment, .. } => deployment,
            Op::SetHpaBounds { hpa, .. } => hpa,
            Op::Cordon { node, .. } => node,
            Op::DeletePod { pod, .. } => pod,
            Op::Fence { member, .. } | Op::Unfence { member, .. } | Op::Promote { member, .. } => {
                member
            }
            Op::Repoint { primary, .. } => primary,
            Op::VerifyReplication { cluster } | Op::RebootWithFailover { cluster } => cluster,
            Op::BlockIp { ip, .. } | Op::UnblockIp { ip, .. } => ip,
            Op::DeactivateKey { user, .. }
            | Op::KeyActivity { user, .. }
            | Op::DeleteLoginProfile { user }
            | Op::DenyAll { user }
            | Op::ReactivateKey { user, .. } => user,
            Op::Silence { alert, .. } => alert,
            Op::SetRegionWeight { region, .. } => region,
        }
    }

    /// A Route 53 change, routed to the regions backend rather than by area.
    pub fn is_region(&self) -> bool {
        matches!(self, Op::SetRegionWeight { .. })
    }

    /// The operation that puts back what this one did, where one can without judgement: a
    /// fence is lifted. A promotion, a scale or a rollback cannot be undone blindly.
    pub fn undo(&self) -> Option<Op> {
        match self {
            Op::Fence { cluster, member } => Some(Op::Unfence {
                cluster: cluster.clone(),
                member: member.clone(),
            }),
            // The weight it had is known: put it back, saying what it replaces.
            Op::SetRegionWeight {
                region,
                weight,
                previous: Some(previous),
            } => Some(Op::SetRegionWeight {
                region: region.clone(),
                weight: *previous,
                previous: Some(*weight),
            }),
            _ => None,
        }
    }

    pub fn area(&self) -> Area {
        match self {
            Op::Scale { .. }
            | Op::SetHpaBounds { .. }
            | Op::Rollback { .. }
            | Op::Restart { .. }
            | Op::Cordon { .. }
            | Op::DeletePod { .. } => Area::Cluster,
            Op::Fence { .. }
            | Op::Unfence { .. }
            | Op::Promote { .. }
            | Op::Repoint { .. }
            | Op::VerifyReplication { .. }
            | Op::RebootWithFailover { .. } => Area::Db,
            Op::BlockIp { .. } | Op::UnblockIp { .. } => Area::Waf,
            Op::DeactivateKey { .. }
            | Op::KeyActivity { .. }
            | Op::DeleteLoginProfile { .. }
            | Op::DenyAll { .. }
            | Op::ReactivateKey { .. } => Area::Iam,
            Op::Silence { .. } => Area::Alarms,
            // Shown with the clusters on the overview.
            Op::SetRegionWeight { .. } => Area::Cluster,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Scale {
                namespace,
                deployment,
                replicas,
            } => {
                write!(
                    f,
                    "scale deployment {namespace}/{deployment} to {replicas} replicas"
                )
            }
            Op::SetHpaBounds {
                namespace,
                hpa,
                min,
                max,
                context,
            } => {
                let bound =
                    |b: &Option<u32>| b.map_or_else(|| "unchanged".into(), |v| v.to_string());
                write!(
                    f,
                    "set hpa {namespace}/{hpa} min {} max {}",
                    bound(min),
                    bound(max)
                )?;
                match context {
                    Some(c) => write!(f, " in context {c}"),
                    None => Ok(()),
                }
            }
            Op::Rollback {
                namespace,
                deployment,
                revision,
            } => match revision {
                Some(r) => write!(
                    f,
                    "roll back deployment {namespace}/{deployment} to revision {r}"
                ),
                None => write!(
                    f,
                    "roll back deployment {namespace}/{deployment} to its previous revision"
                ),
            },
            Op::Restart {
                namespace,
                deployment,
            } => {
                write!(f, "rollout-restart deployment {namespace}/{deployment}")
            }
            Op::Cordon { node, cordon: true } => write!(f, "cordon node {node}"),
            Op::Cordon {
                node,
                cordon: false,
            } => write!(f, "uncordon node {node}"),
            Op::DeletePod { namespace, pod } => write!(f, "delete pod {namespace}/{pod}"),
            Op::Fence { cluster, member } => write!(f, "fence {cluster}/{member} (no more writes)"),
            Op::Unfence { cluster, member } => {
                write!(f, "lift the fence on {cluster}/{member} (writes again)")
            }
            Op::Promote { cluster, member } => write!(f, "promote {cluster}/{member} to primary"),
            Op::Repoint { cluster, primary } => {
                write!(f, "re-point {cluster}'s replicas and router at {primary}")
            }
            Op::VerifyReplication { cluster } => {
                write!(
                    f,
                    "verify {cluster}: a write on the primary reaches every replica"
                )
            }
            Op::RebootWithFailover { cluster } => write!(f, "reboot {cluster} with failover"),
            Op::BlockIp { acl, ip } => write!(f, "block {ip} in web ACL {acl}"),
            Op::UnblockIp { acl, ip } => write!(f, "unblock {ip} in web ACL {acl}"),
            Op::DeactivateKey { user, key_suffix } => {
                write!(f, "deactivate access key …{key_suffix} of {user}")
            }
            Op::KeyActivity {
                user,
                key_suffix,
                hours,
            } => write!(
                f,
                "look up what access key …{key_suffix} of {user} did in the last {hours} h"
            ),
            Op::DeleteLoginProfile { user } => write!(f, "delete the console password of {user}"),
            Op::DenyAll { user } => write!(f, "attach a deny-all inline policy to {user}"),
            Op::ReactivateKey {
                user,
                key_suffix,
                reason,
            } => write!(
                f,
                "re-activate access key …{key_suffix} of {user} (reason: {reason})"
            ),
            Op::Silence { alert, minutes } => write!(f, "silence {alert} for {minutes} min"),
            Op::SetRegionWeight {
                region,
                weight,
                previous,
            } => {
                write!(f, "set the Route 53 weight of region {region} to {weight}")?;
                match previous {
                    Some(p) => write!(f, " (was {p})"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Resolve, validate and report what would be called, changing nothing.
    DryRun,
    Apply,
}

/// What an operation did, or in a dry-run would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub summary: String,
    /// The exact calls made or planned, one per line (`PATCH …/scale?dryRun=All`, `SQL …`).
    pub calls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum OpError {
    #[error("read-only: {0}")]
    ReadOnly(String),
    #[error("not allowed: {0}")]
    Denied(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("not available here: {0}")]
    Unsupported(String),
    #[error("failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Ops: Send + Sync {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError>;

    /// The operator overrode the anti-flap guard for `cluster` (the caller journals why):
    /// a backend that keeps its own anti-flap memory lets the next promotion through, once.
    fn override_anti_flap(&self, _cluster: &str) {}

    /// Why the backend's own anti-flap guard would refuse the next promotion in `cluster`
    /// (after one another console made, say), so that the caller can ask for an override
    /// up front instead of failing at the promotion.
    fn anti_flap_refusal(&self, _cluster: &str) -> Option<String> {
        None
    }

    /// Every guard that could refuse `op` and can be known now, checked before a run makes
    /// its first change, so a refusal leaves everything as it was. `Ok` says what was
    /// checked. By default a dry-run, which runs the guards the real call runs; a backend
    /// whose dry-run also checks what only earlier steps make true (a fence) says less.
    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        self.apply(op, Mode::DryRun).await.map(|o| o.summary)
    }
}

/// Lets dry-runs through and refuses everything else, saying why.
pub struct ReadOnly<O> {
    pub inner: O,
    pub reason: String,
}

#[async_trait]
impl<O: Ops> Ops for ReadOnly<O> {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        match mode {
            Mode::DryRun => self.inner.apply(op, mode).await,
            Mode::Apply => Err(OpError::ReadOnly(format!("{op} not run: {}", self.reason))),
        }
    }

    fn override_anti_flap(&self, cluster: &str) {
        self.inner.override_anti_flap(cluster);
    }

    fn anti_flap_refusal(&self, cluster: &str) -> Option<String> {
        self.inner.anti_flap_refusal(cluster)
    }

    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        Err(OpError::ReadOnly(format!("{op} not run: {}", self.reason)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    #[async_trait]
    impl Ops for Echo {
        async fn apply(&self, op: &Op, _mode: Mode) -> Result<Outcome, OpError> {
            Ok(Outcome {
                summary: op.to_string(),
                calls: vec![],
            })
        }
    }

    #[tokio::test]
    async fn read_only_lets_dry_runs_through_only() {
        let ops = ReadOnly {
            inner: Echo,
            reason: "--read-only".into(),
        };
        let op = Op::Scale {
            namespace: "shop".into(),
            deployment: "user".into(),
            replicas: 5,
        };
        assert_eq!(
            ops.apply(&op, Mode::DryRun).await.unwrap().summary,
            "scale deployment shop/user to 5 replicas"
        );
        assert_eq!(
            ops.apply(&op, Mode::Apply).await.unwrap_err().to_string(),
            "read-only: scale deployment shop/user to 5 replicas not run: --read-only"
        );
        assert_eq!(
            ops.preflight(&op).await.unwrap_err(),
            ops.apply(&op, Mode::Apply).await.unwrap_err(),
            "the preflight refuses what the run would"
        );
    }

    #[test]
    fn ops_are_data_with_a_target() {
        let op: Op = serde_json::from_str(
            r#"{"op":"promote","cluster":"shop-mariadb","member":"mariadb-1"}"#,
        )
        .unwrap();
        assert_eq!(op.target(), "mariadb-1");
        assert_eq!(op.area(), Area::Db);
        let err =
            serde_json::from_str::<Op>(r#"{"op":"promote","cluster":"c","member":"m","x":1}"#);
        assert!(err.is_err(), "unknown fields are refused");
    }
}
