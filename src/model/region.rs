//! Regions of an active-active service as the overview, `opsdeck status` and the evacuation
//! guards see them: each region's share of a Route 53 record (its weight, or its failover
//! role), the record's health check, and how ready the region's cluster is to take load.
//! No I/O: the live source (`sources::region`) and the drill world fill it in.

use super::Level;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionSnapshot {
    /// When the sources were last asked.
    pub checked: Option<Timestamp>,
    pub regions: Vec<Region>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Region {
    pub name: String,
    pub kube_context: String,
    /// The record's name, with its trailing dot, and the set identifier of this region's
    /// record set.
    pub record: String,
    pub set_identifier: String,
    /// The `[[databases]]` cluster that takes this region's writes, if the config names one.
    pub database: Option<String>,
    pub routing: Routing,
    pub ttl: Option<i64>,
    pub health: HealthCheck,
    /// The region's cluster, from its Kubernetes context; `None` until it has been seen.
    pub cluster: Option<RegionCluster>,
    /// Requests the region's load balancer (or WAF) received in the newest minute the
    /// metric has: what shows that an evacuated region no longer takes traffic.
    pub requests: Option<Requests>,
    /// The metric that counts them, when the config names one.
    pub requests_metric: Option<String>,
    /// Why the record could not be read (the other fields are then the last known).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Routing {
    /// Not read yet, or the record set is missing.
    #[default]
    Unknown,
    Weighted(u32),
    /// Failover routing: `PRIMARY` or `SECONDARY`.
    Failover(String),
    /// A record set with neither weight nor failover role: it takes all the traffic.
    Simple,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum HealthCheck {
    /// Not asked yet.
    #[default]
    Unknown,
    /// The record set has no HealthCheckId: Route 53 sends traffic whatever happens.
    None,
    /// Every checker reports success.
    Healthy,
    /// The checkers' failure report (the worst one), as Route 53 words it.
    Failing(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RegionCluster {
    pub nodes_ready: usize,
    pub nodes: usize,
    pub pods_not_ready: usize,
    pub hpas_at_max: usize,
    pub hpas: Vec<HpaLoad>,
}

/// One HPA of a region's cluster: what it runs now and how far it may go.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HpaLoad {
    pub namespace: String,
    pub name: String,
    pub current: u32,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requests {
    /// The start of the minute counted.
    pub at: Timestamp,
    pub count: f64,
    /// `AWS/ApplicationELB RequestCount` or `AWS/WAFV2 AllowedRequests`.
    pub metric: String,
}

impl RegionCluster {
    /// From a cluster snapshot of the region's context.
    pub fn of(snap: &super::cluster::ClusterSnapshot) -> RegionCluster {
        let hpas: Vec<HpaLoad> = snap
            .hpas
            .iter()
            .map(|h| HpaLoad {
                namespace: h.namespace.clone(),
                name: h.name.clone(),
                current: h.current,
                min: h.min,
                max: h.max,
            })
            .collect();
        RegionCluster {
            nodes_ready: snap.nodes.iter().filter(|n| n.ready).count(),
            nodes: snap.nodes.len(),
            pods_not_ready: snap
                .pods
                .iter()
                .filter(|p| p.level() == Level::Crit)
                .count(),
            hpas_at_max: snap.hpas.iter().filter(|h| h.at_max()).count(),
            hpas,
        }
    }
}

impl Region {
    pub fn weight(&self) -> Option<u32> {
        match self.routing {
            Routing::Weighted(w) => Some(w),
            _ => None,
        }
    }

    /// Route 53 sends it requests: a weight above 0, the primary of a failover pair, or a
    /// plain record.
    pub fn takes_traffic(&self) -> bool {
        match &self.routing {
            Routing::Weighted(w) => *w > 0,
            Routing::Failover(role) => role == "PRIMARY",
            Routing::Simple => true,
            Routing::Unknown => false,
        }
    }

    pub fn failing(&self) -> Option<&str> {
        match &self.health {
            HealthCheck::Failing(why) => Some(why),
            _ => None,
        }
    }

    /// CRIT when its health check fails while it still takes traffic; WARN when it fails
    /// without traffic, when the record cannot be read, or when its cluster is short
    /// (nodes not ready, HPAs at max, pods not ready).
    pub fn level(&self) -> Level {
        if self.failing().is_some() && self.takes_traffic() {
            return Level::Crit;
        }
        let short = self
            .cluster
            .as_ref()
            .is_some_and(|c| c.nodes_ready < c.nodes || c.hpas_at_max > 0 || c.pods_not_ready > 0);
        if self.failing().is_some() || self.error.is_some() || short {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    /// What is wrong, worst first.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = self.failing() {
            out.push(if self.takes_traffic() {
                format!("health check failing while it takes traffic: {why}")
            } else {
                format!("health check failing (no traffic): {why}")
            });
        }
        if let Some(e) = &self.error {
            out.push(format!("Route 53: {e}"));
        }
        if let Some(c) = &self.cluster {
            if c.nodes_ready < c.nodes {
                out.push(format!(
                    "{} of {} nodes not ready",
                    c.nodes - c.nodes_ready,
                    c.nodes
                ));
            }
            if c.hpas_at_max > 0 {
                out.push(format!("{} HPA at max", c.hpas_at_max));
            }
            if c.pods_not_ready > 0 {
                let pods = super::summary::plural(c.pods_not_ready, "pod");
                out.push(format!("{pods} not ready"));
            }
        }
        out
    }

    /// `weight 50 (50 %)`, `failover PRIMARY`.
    pub fn routing_text(&self, share: Option<f64>) -> String {
        match (&self.routing, share) {
            (Routing::Weighted(w), Some(s)) => format!("weight {w} ({:.0} %)", s * 100.0),
            (Routing::Weighted(w), None) => format!("weight {w}"),
            (Routing::Failover(role), _) => format!("failover {role}"),
            (Routing::Simple, _) => "simple record".into(),
            (Routing::Unknown, _) => "record not read".into(),
        }
    }

    /// `weight 50 (50 %) · health ✓ · ttl 60 s · nodes 3/3 · 1 HPA at max · 1 pod not ready`
    pub fn line(&self, share: Option<f64>) -> String {
        let routing = self.routing_text(share);
        let health = match &self.health {
            HealthCheck::Unknown => "health ?".to_string(),
            HealthCheck::None => "no health check".into(),
            HealthCheck::Healthy => "health ✓".into(),
            HealthCheck::Failing(_) => "health ✗".into(),
        };
        let mut parts = vec![routing, health];
        if let Some(ttl) = self.ttl {
            parts.push(format!("ttl {ttl} s"));
        }
        match &self.cluster {
            // Only what is short, so the line fits 80 columns with the region's name.
            Some(c) => {
                parts.push(format!("nodes {}/{}", c.nodes_ready, c.nodes));
                if c.hpas_at_max > 0 {
                    parts.push(format!("{} HPA at max", c.hpas_at_max));
                }
                if c.pods_not_ready > 0 {
                    let pods = super::summary::plural(c.pods_not_ready, "pod");
                    parts.push(format!("{pods} not ready"));
                }
            }
            None => parts.push(format!("context {} not seen", self.kube_context)),
        }
        parts.join(" · ")
    }
}

impl RegionSnapshot {
    pub fn region(&self, name: &str) -> Result<&Region, String> {
        self.regions.iter().find(|r| r.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.regions.iter().map(|r| r.name.as_str()).collect();
            if known.is_empty() {
                format!("no region `{name}`: no [[regions]] are configured")
            } else {
                format!("no region `{name}` (regions: {})", known.join(", "))
            }
        })
    }

    /// The region's share of its record's traffic (its weight over the weights of every
    /// region on the same record), when it is weighted.
    pub fn share(&self, region: &Region) -> Option<f64> {
        let w = region.weight()?;
        let total: u32 = self
            .regions
            .iter()
            .filter(|r| r.record == region.record)
            .filter_map(Region::weight)
            .sum();
        (total > 0).then(|| f64::from(w) / f64::from(total))
    }

    /// What an evacuation would move now: the first region whose health check fails while
    /// it takes traffic, and the first other region on its record that passes its own.
    pub fn evacuation_offer(&self) -> Option<(String, String)> {
        let from = self
            .regions
            .iter()
            .find(|r| r.failing().is_some() && r.takes_traffic())?;
        let to = self.regions.iter().find(|r| {
            r.name != from.name
                && r.record == from.record
                && matches!(r.health, HealthCheck::Healthy | HealthCheck::None)
        })?;
        Some((from.name.clone(), to.name.clone()))
    }

    /// One status per region, in the configured order.
    pub fn status(&self) -> Vec<RegionStatus> {
        self.regions
            .iter()
            .map(|r| RegionStatus {
                region: r.name.clone(),
                level: r.level(),
                line: r.line(self.share(r)),
                weight: r.weight(),
                share: self.share(r),
                healthy: match r.health {
                    HealthCheck::Healthy | HealthCheck::None => Some(true),
                    HealthCheck::Failing(_) => Some(false),
                    HealthCheck::Unknown => None,
                },
                problems: r.problems(),
            })
            .collect()
    }
}

/// A region judged: what the overview line, `opsdeck status` and the timeline say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionStatus {
    pub region: String,
    pub level: Level,
    pub line: String,
    pub weight: Option<u32>,
    pub share: Option<f64>,
    pub healthy: Option<bool>,
    pub problems: Vec<String>,
}

/// How much an HPA of the region that takes the load has to spare once it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Headroom {
    pub hpa: String,
    pub current: u32,
    /// The replicas it needs for its own traffic and the moved traffic.
    pub needed: u32,
    pub max: u32,
    pub how: String,
}

impl Headroom {
    pub fn spare(&self) -> i64 {
        i64::from(self.max) - i64::from(self.needed)
    }

    pub fn text(&self) -> String {
        format!(
            "hpa {}: {} = {} of max {} (headroom {})",
            self.hpa,
            self.how,
            self.needed,
            self.max,
            self.spare()
        )
    }
}

/// The replicas each HPA of `to` needs once `from`'s traffic moves there: its current
/// replicas × (its share + the moved share) / its share. A region with no share yet (weight
/// 0) needs what `from`'s HPA of the same name runs now on top of its own.
pub fn headroom(
    snap: &RegionSnapshot,
    from: &Region,
    to: &Region,
) -> Result<Vec<Headroom>, String> {
    let cluster = to.cluster.as_ref().ok_or_else(|| {
        format!(
            "region {}: context {} not seen yet",
            to.name, to.kube_context
        )
    })?;
    if cluster.hpas.is_empty() {
        return Err(format!(
            "region {}: no HPA in context {} to judge the headroom by",
            to.name, to.kube_context
        ));
    }
    let moved = snap.share(from).unwrap_or(0.0);
    let own = snap.share(to).unwrap_or(0.0);
    let mut out = Vec::new();
    for h in &cluster.hpas {
        let id = format!("{}/{}", h.namespace, h.name);
        let (needed, how) = if own > 0.0 {
            let factor = (own + moved) / own;
            let needed = (f64::from(h.current) * factor - 1e-9).ceil().max(0.0) as u32;
            (
                needed,
                format!(
                    "{} replicas × {factor:.2} (share {:.0} % → {:.0} %)",
                    h.current,
                    own * 100.0,
                    (own + moved) * 100.0
                ),
            )
        } else {
            let theirs = from
                .cluster
                .as_ref()
                .and_then(|c| {
                    c.hpas
                        .iter()
                        .find(|o| o.namespace == h.namespace && o.name == h.name)
                })
                .map(|o| o.current)
                .ok_or_else(|| {
                    format!(
                        "region {} takes no traffic now and {} has no hpa {id} to size the move by",
                        to.name, from.name
                    )
                })?;
            (
                h.current + theirs,
                format!("{} replicas + {theirs} from {}", h.current, from.name),
            )
        };
        out.push(Headroom {
            hpa: id,
            current: h.current,
            needed,
            max: h.max,
            how,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str, weight: u32, health: HealthCheck, hpa: (u32, u32)) -> Region {
        Region {
            name: name.into(),
            kube_context: format!("{name}-ctx"),
            record: "shop.example.com.".into(),
            set_identifier: name.into(),
            routing: Routing::Weighted(weight),
            ttl: Some(60),
            health,
            cluster: Some(RegionCluster {
                nodes_ready: 3,
                nodes: 3,
                hpas: vec![HpaLoad {
                    namespace: "shop".into(),
                    name: "user".into(),
                    current: hpa.0,
                    min: 2,
                    max: hpa.1,
                }],
                ..RegionCluster::default()
            }),
            ..Region::default()
        }
    }

    #[test]
    fn a_failing_region_with_traffic_is_crit_and_without_it_warn() {
        let failing = HealthCheck::Failing("Failure: HTTP Status Code 503".into());
        let r = region("seoul", 50, failing.clone(), (4, 10));
        assert_eq!(r.level(), Level::Crit);
        assert_eq!(
            r.problems()[0],
            "health check failing while it takes traffic: Failure: HTTP Status Code 503"
        );
        let drained = region("seoul", 0, failing, (4, 10));
        assert_eq!(drained.level(), Level::Warn);
        assert_eq!(
            region("us", 50, HealthCheck::Healthy, (4, 10)).level(),
            Level::Ok
        );
    }

    #[test]
    fn an_evacuation_is_offered_from_the_failing_region_to_a_healthy_one() {
        let failing = HealthCheck::Failing("Failure".into());
        let mut snap = RegionSnapshot {
            checked: None,
            regions: vec![
                region("us", 50, HealthCheck::Healthy, (4, 10)),
                region("seoul", 50, failing, (4, 10)),
            ],
        };
        assert_eq!(
            snap.evacuation_offer(),
            Some(("seoul".to_string(), "us".to_string()))
        );
        snap.regions[1].routing = Routing::Weighted(0);
        assert_eq!(snap.evacuation_offer(), None, "nothing left to move");
    }

    #[test]
    fn the_line_shows_weight_share_health_and_readiness() {
        let snap = RegionSnapshot {
            checked: None,
            regions: vec![
                region("seoul", 50, HealthCheck::Healthy, (4, 10)),
                region("us", 150, HealthCheck::Healthy, (4, 10)),
            ],
        };
        assert_eq!(
            snap.status()[0].line,
            "weight 50 (25 %) · health ✓ · ttl 60 s · nodes 3/3"
        );
    }

    #[test]
    fn headroom_scales_current_replicas_by_the_moved_share() {
        let seoul = region("seoul", 50, HealthCheck::Healthy, (4, 10));
        let us = region("us", 50, HealthCheck::Healthy, (4, 7));
        let snap = RegionSnapshot {
            checked: None,
            regions: vec![seoul.clone(), us.clone()],
        };
        let h = headroom(&snap, &seoul, &us).unwrap();
        assert_eq!(
            h[0].text(),
            "hpa shop/user: 4 replicas × 2.00 (share 50 % → 100 %) = 8 of max 7 (headroom -1)"
        );
        let idle = region("us", 0, HealthCheck::Healthy, (2, 7));
        let snap = RegionSnapshot {
            checked: None,
            regions: vec![seoul.clone(), idle.clone()],
        };
        let h = headroom(&snap, &seoul, &idle).unwrap();
        assert_eq!(
            h[0].text(),
            "hpa shop/user: 2 replicas + 4 from seoul = 6 of max 7 (headroom 1)"
        );
    }
}
