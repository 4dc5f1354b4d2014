//! The conditions of the region playbooks, over the regions snapshot (and the databases
//! for `region_writable`): what an evacuation checks before it moves traffic, and what
//! shows that it moved.

use super::condition::{Bindings, Condition, Verdict};
use crate::model::db::Role;
use crate::model::region::{HealthCheck, Routing, headroom};
use crate::sources::Snapshots;

pub fn eval(c: &Condition, s: &Snapshots) -> Verdict {
    let snap = &s.regions.data;
    match c {
        Condition::RegionHealthy { region } => {
            let r = snap.region(region)?;
            // Its context, for a later step that acts on its cluster.
            let context = || Bindings::from([("context".into(), r.kube_context.clone())]);
            match &r.health {
                HealthCheck::Healthy | HealthCheck::None => Ok(context()),
                HealthCheck::Failing(why) => Err(format!("region {region} is unhealthy: {why}")),
                HealthCheck::Unknown => Err(format!(
                    "region {region}'s health check has not been read{}",
                    r.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                )),
            }
        }
        Condition::RegionWeighted { region } => {
            let r = snap.region(region)?;
            match r.routing {
                Routing::Weighted(w) => Ok(Bindings::from([
                    ("weight".into(), w.to_string()),
                    (
                        "share".into(),
                        format!("{:.0} %", snap.share(r).unwrap_or(0.0) * 100.0),
                    ),
                ])),
                _ => Err(format!(
                    "region {region}'s record set {} is not weighted ({})",
                    r.record,
                    r.routing_text(None)
                )),
            }
        }
        Condition::RegionHeadroom { from, to } => {
            let (f, t) = (snap.region(from)?, snap.region(to)?);
            let rooms = headroom(snap, f, t)?;
            let text: Vec<String> = rooms.iter().map(|h| h.text()).collect();
            if rooms.iter().any(|h| h.spare() < 0) {
                return Err(format!("no headroom in region {to}: {}", text.join("; ")));
            }
            Ok(Bindings::from([("headroom".into(), text.join("; "))]))
        }
        Condition::RegionWritable { region, max_lag_s } => {
            let r = snap.region(region)?;
            // A region whose config names no database has none to check; the verdict says
            // so on the step, so nobody reads it as a database found writable.
            let Some(name) = r.database.as_deref() else {
                return Ok(Bindings::from([(
                    "database".into(),
                    format!(
                        "not checked: region {region} names no database (set `database` in \
                         its [[regions]])"
                    ),
                )]));
            };
            let db =
                s.db.data
                    .clusters
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| format!("region {region}: no database cluster `{name}`"))?;
            let writable = db
                .members
                .iter()
                .filter(|m| m.role == Role::Primary && m.reachable && m.read_only != Some(true))
                .count();
            if writable != 1 {
                return Err(format!(
                    "region {region}: {name} has {writable} writable primaries"
                ));
            }
            let lagging: Vec<String> = db
                .members
                .iter()
                .filter(|m| m.role == Role::Replica && m.reachable)
                .filter(|m| m.lag_seconds.is_none_or(|l| l >= *max_lag_s))
                .map(|m| format!("{} lag {}", m.name, m.lag_text()))
                .collect();
            if lagging.is_empty() {
                Ok(Bindings::new())
            } else {
                Err(format!(
                    "region {region}: {name}'s replicas lag ≥ {max_lag_s}s: {}",
                    lagging.join(", ")
                ))
            }
        }
        Condition::RegionDrained { region, max } => {
            let r = snap.region(region)?;
            if r.takes_traffic() {
                return Err(format!(
                    "region {region} still takes traffic ({})",
                    r.routing_text(snap.share(r))
                ));
            }
            let Some(metric) = &r.requests_metric else {
                return Err(format!(
                    "region {region} has no request metric to show it: add requests = \
                     {{ alb = … }} or {{ waf = … }} to its [[regions]]"
                ));
            };
            match &r.requests {
                None => Ok(Bindings::from([(
                    "requests".into(),
                    format!("no {metric} datapoint in the last 10 min"),
                )])),
                Some(q) if q.count <= *max => Ok(Bindings::new()),
                Some(q) => {
                    // A minute older than the last three is history, not new requests.
                    let recent = snap.checked.is_none_or(|now| {
                        now.duration_since(q.at) < jiff::SignedDuration::from_mins(3)
                    });
                    if recent {
                        Err(format!(
                            "region {region} still received {} requests in the minute from {} ({})",
                            q.count, q.at, q.metric
                        ))
                    } else {
                        Ok(Bindings::new())
                    }
                }
            }
        }
        _ => Err(format!("not a region condition: {}", c.describe())),
    }
}
