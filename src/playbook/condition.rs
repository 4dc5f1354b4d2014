//! Read-only assertions over the model: playbook `check` and `wait` steps, and the recovery
//! condition of a drill. A condition either holds (possibly binding values such as the
//! chosen replica) or says in words why it does not.

use crate::model::alarm::AlarmState;
use crate::model::cluster::Rollout;
use crate::model::db::{DbCluster, Role};
use crate::sources::Snapshots;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    /// Ready and up to date: every desired replica ready, rollout complete.
    DeploymentReady {
        namespace: String,
        deployment: String,
    },
    HpaNotAtMax {
        namespace: String,
        hpa: String,
    },
    /// Every pod in the namespace running and ready.
    PodsHealthy {
        namespace: String,
    },
    NodesReady {
        #[serde(default)]
        zone: Option<String>,
    },
    /// Exactly one reachable writable primary.
    WritablePrimary {
        cluster: String,
    },
    /// The old primary cannot take writes: down, or fenced read-only.
    PrimaryFenced {
        cluster: String,
        member: String,
    },
    /// Every reachable replica replicates within the cluster's lag threshold.
    ReplicasFollowing {
        cluster: String,
    },
    /// Picks the most advanced healthy replica (or checks `candidate`) within `max_lag_s`;
    /// binds `member` and `old_primary`.
    BestReplica {
        cluster: String,
        #[serde(default = "auto")]
        candidate: String,
        max_lag_s: f64,
    },
    AlarmOk {
        name: String,
    },
    AlarmFiring {
        name: String,
    },
    /// No surge of blocked requests.
    WafCalm {},
    /// What the WAF logs (or samples) show of `ip` (addresses/CIDRs, as `block_ip` takes
    /// them): its newest request is stopped by an IP-set rule. No request since means not
    /// verified, never met.
    WafStops {
        ip: String,
    },
    KeyInactive {
        user: String,
        key_suffix: String,
    },
    TrailLogging {
        trail: String,
    },
    /// The region's Route 53 health check passes (a record set without one counts as
    /// healthy: Route 53 sends it traffic whatever happens).
    /// Binds `context`, the region's Kubernetes context.
    RegionHealthy {
        region: String,
    },
    /// The region's record set is weighted; binds `weight` (its weight now) and `share`.
    RegionWeighted {
        region: String,
    },
    /// Every HPA of `to` can take `from`'s share of the traffic within its maxReplicas;
    /// binds `headroom`, in words.
    RegionHeadroom {
        from: String,
        to: String,
    },
    /// The database taking the region's writes has one writable primary, and its replicas
    /// (the other region's, for an active-active database) lag less than `max_lag_s`. A
    /// region that names no database holds, saying it was not checked.
    RegionWritable {
        region: String,
        max_lag_s: f64,
    },
    /// The region receives no new requests: its weight is 0 and the newest minute of its
    /// request metric counts at most `max` (no datapoint at all is no request).
    RegionDrained {
        region: String,
        #[serde(default)]
        max: f64,
    },
    /// The weight the last `region-evacuate` run replaced for `region` (`last`: whichever
    /// region it drained), read from the journal by the executor; binds `region`, `weight`.
    SavedWeight {
        #[serde(default = "last")]
        region: String,
    },
}

fn last() -> String {
    "last".into()
}

fn auto() -> String {
    "auto".into()
}

pub type Bindings = BTreeMap<String, String>;

/// `Ok(bindings)` when the condition holds, `Err(why not)` otherwise.
pub type Verdict = Result<Bindings, String>;

fn holds(ok: bool, why: impl FnOnce() -> String) -> Verdict {
    if ok { Ok(Bindings::new()) } else { Err(why()) }
}

fn db<'a>(s: &'a Snapshots, cluster: &str) -> Result<&'a DbCluster, String> {
    s.db.data
        .clusters
        .iter()
        .find(|c| c.name == cluster)
        .ok_or_else(|| format!("no database cluster `{cluster}`"))
}

impl Condition {
    pub fn eval(&self, s: &Snapshots) -> Verdict {
        match self {
            Condition::All(cs) => {
                let mut out = Bindings::new();
                for c in cs {
                    out.extend(c.eval(s)?);
                }
                Ok(out)
            }
            Condition::Any(cs) => {
                let mut why = Vec::new();
                for c in cs {
                    match c.eval(s) {
                        Ok(b) => return Ok(b),
                        Err(e) => why.push(e),
                    }
                }
                Err(why.join("; "))
            }
            Condition::Not(c) => match c.eval(s) {
                Ok(_) => Err(format!("expected not: {}", c.describe())),
                Err(_) => Ok(Bindings::new()),
            },
            Condition::DeploymentReady {
                namespace,
                deployment,
            } => {
                let d = s
                    .cluster
                    .data
                    .deployments
                    .iter()
                    .find(|d| &d.namespace == namespace && &d.name == deployment)
                    .ok_or_else(|| format!("no deployment {namespace}/{deployment}"))?;
                holds(
                    d.ready >= d.desired
                        && d.available >= d.desired
                        && d.rollout == Rollout::Complete,
                    || {
                        format!(
                            "{namespace}/{deployment}: {}/{} ready, rollout {:?}",
                            d.ready, d.desired, d.rollout
                        )
                    },
                )
            }
            Condition::HpaNotAtMax { namespace, hpa } => {
                let h = s
                    .cluster
                    .data
                    .hpas
                    .iter()
                    .find(|h| &h.namespace == namespace && &h.name == hpa)
                    .ok_or_else(|| format!("no hpa {namespace}/{hpa}"))?;
                holds(!h.at_max(), || {
                    format!("hpa {namespace}/{hpa} at max {} ({})", h.max, h.targets())
                })
            }
            Condition::PodsHealthy { namespace } => {
                let bad: Vec<String> = s
                    .cluster
                    .data
                    .pods
                    .iter()
                    .filter(|p| &p.namespace == namespace && p.level() == crate::model::Level::Crit)
                    .map(|p| format!("{} {}", p.name, p.status()))
                    .collect();
                holds(bad.is_empty(), || {
                    format!("{} unhealthy in {namespace}: {}", bad.len(), bad.join(", "))
                })
            }
            Condition::NodesReady { zone } => {
                let bad: Vec<&str> = s
                    .cluster
                    .data
                    .nodes
                    .iter()
                    .filter(|n| {
                        zone.as_ref().is_none_or(|z| &n.zone == z) && !n.cordoned && !n.ready
                    })
                    .map(|n| n.name.as_str())
                    .collect();
                holds(bad.is_empty(), || format!("not ready: {}", bad.join(", ")))
            }
            Condition::WritablePrimary { cluster } => {
                let c = db(s, cluster)?;
                let writable: Vec<&str> = c
                    .members
                    .iter()
                    .filter(|m| m.role == Role::Primary && m.reachable && m.read_only != Some(true))
                    .map(|m| m.name.as_str())
                    .collect();
                holds(writable.len() == 1, || {
                    format!("{cluster}: {} writable primaries", writable.len())
                })
            }
            Condition::PrimaryFenced { cluster, member } => {
                let c = db(s, cluster)?;
                let m = c
                    .members
                    .iter()
                    .find(|m| &m.name == member)
                    .ok_or_else(|| format!("no member {cluster}/{member}"))?;
                holds(
                    !m.reachable || m.read_only == Some(true) || m.role != Role::Primary,
                    || format!("{cluster}/{member} still accepts writes"),
                )
            }
            Condition::ReplicasFollowing { cluster } => {
                let c = db(s, cluster)?;
                let lagging: Vec<String> = c
                    .members
                    .iter()
                    .filter(|m| m.role == Role::Replica && m.reachable)
                    .filter_map(|m| {
                        let (level, word) = m.status(c.lag_threshold_s);
                        (level != crate::model::Level::Ok)
                            .then(|| format!("{} {word} (lag {})", m.name, m.lag_text()))
                    })
                    .collect();
                holds(lagging.is_empty(), || {
                    format!("{cluster}: {}", lagging.join(", "))
                })
            }
            Condition::BestReplica {
                cluster,
                candidate,
                max_lag_s,
            } => best_replica(db(s, cluster)?, candidate, *max_lag_s),
            Condition::AlarmOk { name } | Condition::AlarmFiring { name } => {
                let a = s
                    .alarms
                    .data
                    .alarms
                    .iter()
                    .find(|a| &a.name == name)
                    .ok_or_else(|| format!("no alarm `{name}`"))?;
                let want = if matches!(self, Condition::AlarmOk { .. }) {
                    AlarmState::Ok
                } else {
                    AlarmState::Alarm
                };
                holds(a.state == want, || {
                    format!("alarm {name} is {}", a.state.word())
                })
            }
            Condition::WafCalm {} => match s.waf.data.surge() {
                None => Ok(Bindings::new()),
                Some((now, median)) => Err(format!("blocked surge {now}/min (median {median})")),
            },
            Condition::WafStops { ip } => {
                let nets = crate::ops::addresses::parse(ip)?;
                s.waf.data.stopped_by_ip_set(&nets).map(|_| Bindings::new())
            }
            Condition::KeyInactive { user, key_suffix } => {
                let u = s
                    .iam
                    .data
                    .users
                    .iter()
                    .find(|u| &u.name == user)
                    .ok_or_else(|| format!("no IAM user `{user}`"))?;
                let k = u
                    .access_keys
                    .iter()
                    .find(|k| &k.id_suffix == key_suffix)
                    .ok_or_else(|| format!("{user} has no key …{key_suffix}"))?;
                holds(!k.active, || {
                    format!("key …{key_suffix} of {user} is still active")
                })
            }
            Condition::RegionHealthy { .. }
            | Condition::RegionWeighted { .. }
            | Condition::RegionHeadroom { .. }
            | Condition::RegionWritable { .. }
            | Condition::RegionDrained { .. } => super::region_checks::eval(self, s),
            Condition::SavedWeight { .. } => {
                Err("the saved weights are in the journal, which only a run reads".into())
            }
            Condition::TrailLogging { trail } => {
                let t = s
                    .trail
                    .data
                    .trails
                    .iter()
                    .find(|t| &t.name == trail)
                    .ok_or_else(|| format!("no trail `{trail}`"))?;
                holds(t.logging, || format!("trail {trail} is not logging"))
            }
        }
    }

    /// One line for dry-runs and journals.
    pub fn describe(&self) -> String {
        match self {
            Condition::All(cs) => cs
                .iter()
                .map(Condition::describe)
                .collect::<Vec<_>>()
                .join(" and "),
            Condition::Any(cs) => format!(
                "any of ({})",
                cs.iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Condition::Not(c) => format!("not ({})", c.describe()),
            Condition::DeploymentReady {
                namespace,
                deployment,
            } => format!("deployment {namespace}/{deployment} ready"),
            Condition::HpaNotAtMax { namespace, hpa } => {
                format!("hpa {namespace}/{hpa} below its max")
            }
            Condition::PodsHealthy { namespace } => format!("pods in {namespace} healthy"),
            Condition::NodesReady { zone: Some(z) } => format!("nodes in {z} ready"),
            Condition::NodesReady { zone: None } => "all nodes ready".into(),
            Condition::WritablePrimary { cluster } => format!("{cluster} has one writable primary"),
            Condition::PrimaryFenced { cluster, member } => {
                format!("{cluster}/{member} takes no writes")
            }
            Condition::ReplicasFollowing { cluster } => {
                format!("{cluster}'s replicas follow within threshold")
            }
            Condition::BestReplica {
                cluster,
                candidate,
                max_lag_s,
            } => {
                format!("pick replica of {cluster} ({candidate}) lagging ≤ {max_lag_s}s")
            }
            Condition::AlarmOk { name } => format!("alarm {name} OK"),
            Condition::AlarmFiring { name } => format!("alarm {name} firing"),
            Condition::WafCalm {} => "no surge of blocked requests".into(),
            Condition::WafStops { ip } => {
                format!("requests from {ip} stopped by the IP-set rule")
            }
            Condition::KeyInactive { user, key_suffix } => {
                format!("key …{key_suffix} of {user} inactive")
            }
            Condition::TrailLogging { trail } => format!("trail {trail} logging"),
            Condition::RegionHealthy { region } => format!("region {region} healthy"),
            Condition::RegionWeighted { region } => format!("region {region}'s weight"),
            Condition::RegionHeadroom { from, to } => {
                format!("region {to}'s HPAs can take {from}'s traffic")
            }
            Condition::RegionWritable { region, max_lag_s } => {
                format!("region {region}'s database writable, replicas lagging < {max_lag_s}s")
            }
            Condition::RegionDrained { region, max } => {
                format!("region {region} receives no new requests (≤ {max}/min)")
            }
            Condition::SavedWeight { region } => {
                format!("the weight the last evacuation saved for region {region}")
            }
        }
    }
}

/// How far a replication position is: the GTID sequence (`0-1-48213`, the highest domain
/// counts) or the LSN (`3/5A0001F8`). Unknown positions rank last.
fn position_rank(position: Option<&str>) -> u128 {
    let Some(p) = position else { return 0 };
    if let Some((hi, lo)) = p.split_once('/')
        && let (Ok(hi), Ok(lo)) = (u64::from_str_radix(hi, 16), u64::from_str_radix(lo, 16))
    {
        return (u128::from(hi) << 32) + u128::from(lo);
    }
    p.split(',')
        .filter_map(|g| g.trim().rsplit('-').next()?.parse::<u128>().ok())
        .max()
        .unwrap_or(0)
}

/// The replica to promote: reachable, within `max_lag_s`, most advanced (highest position,
/// then least lag; ties by name for determinism).
fn best_replica(c: &DbCluster, candidate: &str, max_lag_s: f64) -> Verdict {
    // The primary taking writes now if one does (a switchover), else the one named as
    // primary while it cannot answer (a failover).
    let primaries = || c.members.iter().filter(|m| m.role == Role::Primary);
    let old_primary = primaries()
        .find(|m| m.reachable && m.read_only != Some(true))
        .or_else(|| primaries().find(|m| m.reachable))
        .or_else(|| primaries().next())
        .map(|m| m.name.clone())
        .ok_or_else(|| {
            format!(
                "no member of {} can be named as the old primary: none answers as primary, no \
                 replica's replication source matches a member's address, and no console has \
                 seen one (compare the members' addresses with the replicas' sources)",
                c.name
            )
        })?;
    let mut eligible = Vec::new();
    let mut why = Vec::new();
    for m in c.members.iter().filter(|m| m.role == Role::Replica) {
        if candidate != "auto" && m.name != candidate {
            continue;
        }
        match (m.reachable, m.lag_seconds) {
            (false, _) => why.push(format!("{} is down", m.name)),
            (true, Some(lag)) if lag > max_lag_s => {
                why.push(format!("{} lags {lag:.1}s > {max_lag_s}s", m.name));
            }
            // A replica whose IO thread lost the dead primary reports no lag: it may still
            // be the most advanced; judge it by the position it last applied.
            (true, lag) => eligible.push((
                position_rank(m.position.as_deref()),
                lag.unwrap_or(0.0),
                m.name.clone(),
            )),
        }
    }
    if candidate != "auto" && eligible.is_empty() && why.is_empty() {
        return Err(format!("{} has no replica `{candidate}`", c.name));
    }
    eligible.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
    match eligible.first() {
        Some((_, _, name)) => Ok(Bindings::from([
            ("member".into(), name.clone()),
            ("old_primary".into(), old_primary),
        ])),
        None => Err(format!(
            "no replica of {} can be promoted: {}",
            c.name,
            why.join(", ")
        )),
    }
}
