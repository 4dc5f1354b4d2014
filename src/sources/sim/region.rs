//! The drill world's two regions of the live-commerce service: `seoul`, whose cluster is
//! the world's own, and `us-east`, a second cluster kept as a few counts and one HPA. A
//! weighted Route 53 record shares the traffic between them; the `region_outage` fault
//! makes Seoul's health check fail while it still takes its share. Only a scenario that
//! names a region shows them, so every other drill opens on the world it always did.

use super::Sec;
use crate::model::cluster::ClusterSnapshot;
use crate::model::region::{
    HealthCheck, HpaLoad, Region, RegionCluster, RegionSnapshot, Requests, Routing,
};
use crate::ops::{Mode, OpError, Outcome};

pub const RECORD: &str = "shop.example.com.";
const ZONE: &str = "Z0DRILLSHOP";
const TTL: Sec = 60;
const METRIC: &str = "AWS/ApplicationELB RequestCount";

#[derive(Debug, Clone, Default)]
pub struct RegionSim {
    shown: bool,
    regions: Vec<SimRegion>,
}

#[derive(Debug, Clone)]
struct SimRegion {
    name: &'static str,
    context: &'static str,
    weight: u32,
    /// When the weight last changed: resolvers keep the old answer for one TTL after it.
    changed_at: Option<(Sec, u32)>,
    failing: Option<String>,
    /// The second region's cluster; Seoul's is the world's.
    cluster: Option<RegionCluster>,
}

impl RegionSim {
    pub fn new() -> RegionSim {
        RegionSim {
            shown: false,
            regions: vec![
                SimRegion {
                    name: "seoul",
                    context: super::cluster::CONTEXT,
                    weight: 50,
                    changed_at: None,
                    failing: None,
                    cluster: None,
                },
                SimRegion {
                    name: "us-east",
                    context: "drill-us-east",
                    weight: 50,
                    changed_at: None,
                    failing: None,
                    cluster: Some(RegionCluster {
                        nodes_ready: 3,
                        nodes: 3,
                        pods_not_ready: 0,
                        hpas_at_max: 0,
                        hpas: vec![HpaLoad {
                            namespace: "shop".into(),
                            name: "user".into(),
                            current: 4,
                            min: 2,
                            max: 12,
                        }],
                    }),
                },
            ],
        }
    }

    pub fn shown(&self) -> bool {
        self.shown
    }

    pub fn show(&mut self) {
        self.shown = true;
    }

    pub fn outage(&mut self, region: &str) -> Result<(), String> {
        let r = self.find(region).map_err(|e| e.to_string())?;
        r.failing = Some(
            "3 of 3 checkers fail: Failure: Connection timed out. The endpoint or the internet \
             connection is down, or requests are being blocked by your firewall."
                .into(),
        );
        self.shown = true;
        Ok(())
    }

    fn find(&mut self, region: &str) -> Result<&mut SimRegion, OpError> {
        let known: Vec<&str> = self.regions.iter().map(|r| r.name).collect();
        let joined = known.join(", ");
        self.regions
            .iter_mut()
            .find(|r| r.name == region)
            .ok_or_else(|| OpError::NotFound(format!("no region `{region}` (regions: {joined})")))
    }

    pub fn set_weight(
        &mut self,
        region: &str,
        weight: u32,
        previous: Option<u32>,
        t: Sec,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        if !self.shown {
            return Err(OpError::Unsupported(
                "this drill has no regions: run the region-outage drill".into(),
            ));
        }
        let r = self.find(region)?;
        let now = r.weight;
        if let Some(p) = previous
            && p != now
        {
            return Err(OpError::Refused(format!(
                "region {region}'s weight is {now} now, not the {p} this run read: someone \
                 changed it since; look again before moving traffic"
            )));
        }
        let call = format!(
            "ChangeResourceRecordSets zone {ZONE}: UPSERT {RECORD} A set {region} weight {now} → \
             {weight} ttl {TTL} health check hc-{region}"
        );
        let mut calls = vec![call];
        if mode == Mode::Apply {
            r.changed_at = Some((t, now));
            r.weight = weight;
            calls.push("GetChange → INSYNC".into());
        }
        Ok(Outcome {
            summary: format!(
                "weight of region {region} {now} → {weight}: INSYNC at once in the drill world; \
                 resolvers keep the old answer for one TTL ({TTL} s)"
            ),
            calls,
        })
    }

    /// The second region's HPA bounds, as the world's cluster sets its own.
    pub fn set_hpa_bounds(
        &mut self,
        context: &str,
        namespace: &str,
        hpa: &str,
        min: Option<u32>,
        max: Option<u32>,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        let region = self
            .regions
            .iter_mut()
            .find(|r| r.context == context)
            .ok_or_else(|| {
                OpError::NotFound(format!("no context `{context}` in the drill world"))
            })?;
        let h = region
            .cluster
            .as_mut()
            .and_then(|c| {
                c.hpas
                    .iter_mut()
                    .find(|h| h.namespace == namespace && h.name == hpa)
            })
            .ok_or_else(|| OpError::NotFound(format!("no hpa {namespace}/{hpa} in {context}")))?;
        let (new_min, new_max) = (min.unwrap_or(h.min), max.unwrap_or(h.max));
        if new_min > new_max {
            return Err(OpError::Refused(format!(
                "hpa {namespace}/{hpa}: min {new_min} above max {new_max}"
            )));
        }
        let summary = format!(
            "hpa {namespace}/{hpa} in {context}: min {}→{new_min}, max {}→{new_max}",
            h.min, h.max
        );
        if mode == Mode::Apply {
            h.min = new_min;
            h.max = new_max;
            h.current = h.current.max(new_min);
        }
        Ok(Outcome {
            summary,
            calls: vec![format!(
                "PATCH {context} /apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{hpa}"
            )],
        })
    }

    /// The weight resolvers act on at second `t`: the old one for a TTL after a change.
    fn effective(r: &SimRegion, t: Sec) -> u32 {
        match r.changed_at {
            Some((at, old)) if t - at < TTL => old,
            _ => r.weight,
        }
    }

    pub fn snapshot(
        &self,
        now: jiff::Timestamp,
        t: Sec,
        rpm: f64,
        seoul: &ClusterSnapshot,
    ) -> RegionSnapshot {
        if !self.shown {
            return RegionSnapshot::default();
        }
        let total: u32 = self.regions.iter().map(|r| Self::effective(r, t)).sum();
        let minute = super::at(now, -(t.rem_euclid(60)) - 60);
        let regions = self
            .regions
            .iter()
            .map(|r| {
                let share = if total == 0 {
                    0.0
                } else {
                    f64::from(Self::effective(r, t)) / f64::from(total)
                };
                let count = (rpm * share).round();
                Region {
                    name: r.name.into(),
                    kube_context: r.context.into(),
                    record: RECORD.into(),
                    set_identifier: r.name.into(),
                    database: Some("shop-mariadb".into()),
                    routing: Routing::Weighted(r.weight),
                    ttl: Some(TTL),
                    health: match &r.failing {
                        Some(why) => HealthCheck::Failing(why.clone()),
                        None => HealthCheck::Healthy,
                    },
                    cluster: Some(
                        r.cluster
                            .clone()
                            .unwrap_or_else(|| RegionCluster::of(seoul)),
                    ),
                    requests: (count > 0.0).then(|| Requests {
                        at: minute,
                        count,
                        metric: METRIC.into(),
                    }),
                    requests_metric: Some(METRIC.into()),
                    error: None,
                }
            })
            .collect();
        RegionSnapshot {
            checked: Some(now),
            regions,
        }
    }
}
