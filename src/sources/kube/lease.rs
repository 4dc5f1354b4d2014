//! A `coordination.k8s.io/v1` Lease per target, so two consoles never run a playbook against
//! the same Deployment (or node, or pod) at once. The Lease lives in the cluster, not on one
//! bastion, so it also holds between operators on different machines.
//!
//! Protocol (the one client-go's leader election uses): read; if someone else holds it and
//! their `renewTime + leaseDurationSeconds` is in the future, refuse and say who and since
//! when; otherwise write ourselves in with the `resourceVersion` we read, so a concurrent
//! taker gets `409 Conflict` instead of both believing they won.

use super::error::{describe, is_status};
use ::kube::api::PostParams;
use ::kube::{Api, Client};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease as KubeLease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

const FIELD_MANAGER: &str = "opsdeck";
/// Long enough to ride out a slow API call, short enough that a crashed console's claim
/// expires before anyone has to go and delete it by hand.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "{target} is locked by {holder} since {since} (lease {namespace}/{name}); wait until they finish or ask them"
    )]
    Held {
        target: String,
        holder: String,
        since: Timestamp,
        namespace: String,
        name: String,
    },
    #[error(
        "{target}: another console took lease {namespace}/{name} at the same moment; try again"
    )]
    Raced {
        target: String,
        namespace: String,
        name: String,
    },
    #[error("{target}: lease {namespace}/{name}: {reason}")]
    Api {
        target: String,
        namespace: String,
        name: String,
        reason: String,
    },
}

/// Who is holding a target, as another console sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub identity: String,
    pub since: Timestamp,
}

/// `user@host (opsdeck pid N)`: the person and machine for whoever reads it, the pid so two
/// consoles of the same person on the same bastion still exclude each other.
pub fn identity() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host} (opsdeck pid {})", std::process::id())
}

/// The Lease name for a target such as `deployment/user`: `opsdeck-deployment-user`, made
/// into a valid object name.
pub fn lease_name(target: &str) -> String {
    let mut name: String = format!("opsdeck-{target}")
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.') => c,
            _ => '-',
        })
        .collect();
    name.truncate(253);
    name.trim_end_matches(['-', '.']).to_string()
}

/// A held lease. Renewed in the background until [`Lease::release`]; dropping it stops the
/// renewal and releases it on a best-effort basis.
pub struct Lease {
    api: Api<KubeLease>,
    namespace: String,
    name: String,
    target: String,
    identity: String,
    renewal: Option<JoinHandle<()>>,
    lost: Arc<Mutex<Option<String>>>,
}

struct Where<'a> {
    namespace: &'a str,
    name: &'a str,
    target: &'a str,
}

impl Where<'_> {
    fn api_error(&self, err: &::kube::Error) -> LeaseError {
        LeaseError::Api {
            target: self.target.to_string(),
            namespace: self.namespace.to_string(),
            name: self.name.to_string(),
            reason: describe(err),
        }
    }

    fn raced(&self) -> LeaseError {
        LeaseError::Raced {
            target: self.target.to_string(),
            namespace: self.namespace.to_string(),
            name: self.name.to_string(),
        }
    }
}

fn now() -> MicroTime {
    MicroTime(Timestamp::now())
}

/// The current holder if the lease is held and not expired.
fn live_holder(lease: &KubeLease, at: Timestamp) -> Option<Holder> {
    let spec = lease.spec.as_ref()?;
    let identity = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let expires = renewed
        .checked_add(jiff::SignedDuration::from_secs(duration))
        .ok()?;
    (expires > at).then(|| Holder {
        identity,
        since: spec.acquire_time.as_ref().map_or(renewed, |t| t.0),
    })
}

fn spec(identity: &str, duration: Duration, transitions: i32) -> LeaseSpec {
    let t = now();
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: Some(t.clone()),
        renew_time: Some(t),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

impl Lease {
    /// Takes the lease for `target` (e.g. `deployment/user`) in `namespace`, or says who has
    /// it. Cluster-scoped targets (nodes) use the `default` namespace.
    pub async fn acquire(
        client: Client,
        namespace: &str,
        target: &str,
        identity: &str,
        duration: Duration,
    ) -> Result<Lease, LeaseError> {
        let name = lease_name(target);
        let at = Where {
            namespace,
            name: &name,
            target,
        };
        let api: Api<KubeLease> = Api::namespaced(client, namespace);
        let pp = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        match api.get_opt(&name).await.map_err(|e| at.api_error(&e))? {
            None => {
                let lease = KubeLease {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.to_string()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec(identity, duration, 0)),
                };
                match api.create(&pp, &lease).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 409) => return Err(at.raced()),
                    Err(e) => return Err(at.api_error(&e)),
                }
            }
            Some(mut existing) => {
                if let Some(holder) = live_holder(&existing, Timestamp::now())
                    && holder.identity != identity
                {
                    return Err(LeaseError::Held {
                        target: target.to_string(),
                        holder: holder.identity,
                        since: holder.since,
                        namespace: namespace.to_string(),
                        name,
                    });
                }
                let transitions = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0);
                existing.spec = Some(spec(identity, duration, transitions.saturating_add(1)));
                existing.metadata.managed_fields = None;
                match api.replace(&name, &pp, &existing).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 409) => return Err(at.raced()),
                    Err(e) => return Err(at.api_error(&e)),
                }
            }
        }
        let lost = Arc::new(Mutex::new(None));
        let renewal = tokio::spawn(renew(
            api.clone(),
            name.clone(),
            identity.to_string(),
            duration,
            Arc::clone(&lost),
        ));
        Ok(Lease {
            api,
            namespace: namespace.to_string(),
            name,
            target: target.to_string(),
            identity: identity.to_string(),
            renewal: Some(renewal),
            lost,
        })
    }

    /// Who holds `target` right now, if anyone; for showing before a run starts.
    pub async fn holder(
        client: Client,
        namespace: &str,
        target: &str,
    ) -> Result<Option<Holder>, LeaseError> {
        let name = lease_name(target);
        let api: Api<KubeLease> = Api::namespaced(client, namespace);
        let lease = api.get_opt(&name).await.map_err(|e| {
            Where {
                namespace,
                name: &name,
                target,
            }
            .api_error(&e)
        })?;
        Ok(lease.and_then(|l| live_holder(&l, Timestamp::now())))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why renewal stopped (someone took the lease over, or the API server kept failing for
    /// longer than the lease lasts); `None` while it is held.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().map(|l| l.clone()).unwrap_or(None)
    }

    /// Gives the lease up so the next console can take it at once instead of waiting for it
    /// to expire.
    pub async fn release(mut self) -> Result<(), LeaseError> {
        if let Some(task) = self.renewal.take() {
            task.abort();
        }
        let at = Where {
            namespace: &self.namespace,
            name: &self.name,
            target: &self.target,
        };
        release(&self.api, &self.name, &self.identity)
            .await
            .map_err(|e| at.api_error(&e))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(task) = self.renewal.take() {
            task.abort();
            // Dropped without release() (an aborted run, a panic): free it anyway if we
            // still can, rather than leave the target locked for a lease duration.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let (api, name, identity) =
                    (self.api.clone(), self.name.clone(), self.identity.clone());
                rt.spawn(async move {
                    let _ = release(&api, &name, &identity).await;
                });
            }
        }
    }
}

async fn release(api: &Api<KubeLease>, name: &str, identity: &str) -> Result<(), ::kube::Error> {
    let Some(mut lease) = api.get_opt(name).await? else {
        return Ok(());
    };
    let ours = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        == Some(identity);
    if !ours {
        return Ok(());
    }
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = None;
        spec.renew_time = Some(now());
    }
    lease.metadata.managed_fields = None;
    let pp = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api.replace(name, &pp, &lease).await {
        Ok(_) => Ok(()),
        // Someone changed it after we read it: then it is no longer ours to release.
        Err(e) if is_status(&e, 409) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn renew(
    api: Api<KubeLease>,
    name: String,
    identity: String,
    duration: Duration,
    lost: Arc<Mutex<Option<String>>>,
) {
    let every = duration / 3;
    let mut failing_since: Option<tokio::time::Instant> = None;
    loop {
        tokio::time::sleep(every).await;
        let result = async {
            let mut lease = api.get(&name).await?;
            let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone());
            if holder.as_deref() != Some(identity.as_str()) {
                return Ok(Some(format!(
                    "lease {name} was taken over by {}",
                    holder.unwrap_or_else(|| "nobody".into())
                )));
            }
            if let Some(spec) = lease.spec.as_mut() {
                spec.renew_time = Some(now());
            }
            lease.metadata.managed_fields = None;
            api.replace(&name, &PostParams::default(), &lease).await?;
            Ok::<_, ::kube::Error>(None)
        }
        .await;
        let verdict = match result {
            Ok(None) => {
                failing_since = None;
                continue;
            }
            Ok(Some(taken)) => taken,
            Err(e) => {
                let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() < duration {
                    continue;
                }
                format!("lease {name} could not be renewed: {}", describe(&e))
            }
        };
        if let Ok(mut slot) = lost.lock() {
            *slot = Some(verdict);
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_object_names() {
        assert_eq!(
            lease_name("deployment/User_API"),
            "opsdeck-deployment-user-api"
        );
        assert!(lease_name(&"x".repeat(400)).len() <= 253);
    }

    #[test]
    fn an_expired_lease_has_no_holder() {
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let lease = KubeLease {
            spec: Some(LeaseSpec {
                holder_identity: Some("alice@bastion".into()),
                lease_duration_seconds: Some(30),
                acquire_time: Some(MicroTime(t0)),
                renew_time: Some(MicroTime(t0)),
                ..LeaseSpec::default()
            }),
            ..KubeLease::default()
        };
        let held = live_holder(&lease, Timestamp::from_second(1_000_029).unwrap());
        assert_eq!(held.map(|h| h.identity).as_deref(), Some("alice@bastion"));
        assert!(live_holder(&lease, Timestamp::from_second(1_000_031).unwrap()).is_none());
    }
}
