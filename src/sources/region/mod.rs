//! Regions: a poller that reads each `[[regions]]` record set and health check from
//! Route 53, its requests from CloudWatch, and its cluster from the Fleet's feed of its
//! context, and publishes them through the regions channel; and the weight change the
//! evacuation playbooks make (`ops`). Judging a region is the model's (`model::region`).

pub mod config;
pub mod ops;
pub mod route53;

pub use config::{RegionConfig, RequestsMetric, Route53Record};

use crate::model::Feed;
use crate::model::cluster::ClusterSnapshot;
use crate::model::region::{HealthCheck, Region, RegionCluster, RegionSnapshot, Requests};
use crate::sources::aws::Aws;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often Route 53 and CloudWatch are asked: health checks report every 30 s at best.
pub const EVERY: Duration = Duration::from_secs(30);

/// The latest cluster feed of a Kubernetes context, if it is watched.
pub type ClusterOf = Arc<dyn Fn(&str) -> Option<Arc<Feed<ClusterSnapshot>>> + Send + Sync>;

pub struct RegionReader {
    pub(crate) regions: Vec<RegionConfig>,
    pub(crate) aws: Result<Aws, String>,
    clusters: ClusterOf,
    /// Zone names resolved to IDs once: they do not change while the console runs.
    zones: Mutex<BTreeMap<String, String>>,
}

impl RegionReader {
    pub fn new(regions: Vec<RegionConfig>, aws: Result<Aws, String>, clusters: ClusterOf) -> Self {
        RegionReader {
            regions,
            aws,
            clusters,
            zones: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn config(&self, region: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == region)
    }

    pub(crate) fn aws(&self) -> Result<&Aws, String> {
        self.aws.as_ref().map_err(Clone::clone)
    }

    /// The zone's ID, resolved once.
    pub(crate) async fn zone_id(&self, zone: &str) -> Result<String, route53::Miss> {
        if let Some(id) = self.lock().get(zone) {
            return Ok(id.clone());
        }
        let aws = self.aws().map_err(route53::Miss::Aws)?;
        let id = route53::zone_id(aws, zone).await?;
        self.lock().insert(zone.to_string(), id.clone());
        Ok(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.zones.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every region, asked now.
    pub async fn read(&self, now: Timestamp) -> RegionSnapshot {
        let reads = self.regions.iter().map(|r| self.region(r, now));
        RegionSnapshot {
            checked: Some(now),
            regions: futures::future::join_all(reads).await,
        }
    }

    async fn region(&self, cfg: &RegionConfig, now: Timestamp) -> Region {
        let mut region = Region {
            name: cfg.name.clone(),
            kube_context: cfg.kube_context.clone(),
            record: cfg.route53.fqdn(),
            set_identifier: cfg.route53.set_identifier.clone(),
            database: cfg.database.clone(),
            requests_metric: cfg.requests.as_ref().map(RequestsMetric::describe),
            cluster: (self.clusters)(&cfg.kube_context)
                .filter(|f| f.health.last_ok.is_some())
                .map(|f| RegionCluster::of(&f.data)),
            ..Region::default()
        };
        let read = async {
            let aws = self.aws().map_err(route53::Miss::Aws)?;
            let zone = self.zone_id(&cfg.route53.zone).await?;
            let set = route53::record_set(aws, &zone, &cfg.route53).await?;
            region.routing = route53::routing(&set);
            region.ttl = set.ttl();
            region.health = match set.health_check_id() {
                None => HealthCheck::None,
                Some(id) => route53::health(aws, id).await?,
            };
            Ok::<(), route53::Miss>(())
        };
        if let Err(miss) = read.await {
            region.error = Some(miss.line().to_string());
        }
        if let (Some(metric), Ok(aws)) = (&cfg.requests, self.aws()) {
            let where_ = cfg.aws_region.as_deref().unwrap_or(aws.home_region());
            match requests(aws, where_, metric, now).await {
                Ok(r) => region.requests = r,
                Err(e) => {
                    let line = format!("{}: {e}", metric.describe());
                    region.error = Some(match region.error.take() {
                        Some(prev) => format!("{prev}; {line}"),
                        None => line,
                    });
                }
            }
        }
        region
    }
}

pub const METRICS: &str = "cloudwatch:GetMetricStatistics";

/// The newest minute of the region's request count in the last ten minutes.
async fn requests(
    aws: &Aws,
    region: &str,
    metric: &RequestsMetric,
    now: Timestamp,
) -> Result<Option<Requests>, String> {
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let dim = |n: &str, v: &str| Dimension::builder().name(n).value(v).build();
    let (namespace, name, dims) = match metric {
        RequestsMetric::Alb(lb) => (
            "AWS/ApplicationELB",
            "RequestCount",
            vec![dim("LoadBalancer", lb)],
        ),
        RequestsMetric::Waf(acl) => (
            "AWS/WAFV2",
            "AllowedRequests",
            vec![
                dim("WebACL", acl),
                dim("Region", region),
                dim("Rule", "ALL"),
            ],
        ),
    };
    let secs = |t: Timestamp| aws_smithy_types::DateTime::from_secs(t.as_second());
    let out = aws
        .cloudwatch(region)
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(name)
        .set_dimensions(Some(dims))
        .start_time(secs(now - jiff::SignedDuration::from_mins(10)))
        .end_time(secs(now + jiff::SignedDuration::from_mins(1)))
        .period(60)
        .statistics(Statistic::Sum)
        .send()
        .await
        .map_err(|e| aws.error(region, METRICS, &e).line().to_string())?;
    Ok(out
        .datapoints()
        .iter()
        .filter_map(|d| Some((crate::sources::aws::iam::ts(d.timestamp()?)?, d.sum()?)))
        .max_by_key(|(t, _)| *t)
        .map(|(at, count)| Requests {
            at,
            count,
            metric: format!("{namespace} {name}"),
        }))
}

/// Asks at once and then every `every` (sooner when a region's cluster changes is not
/// needed: readiness is read with each poll), publishing only what changed.
pub fn spawn(reader: Arc<RegionReader>, tx: crate::sources::Tx<RegionSnapshot>, every: Duration) {
    crate::sources::poll(tx, every, move |now| {
        let reader = reader.clone();
        async move { reader.read(now).await }
    });
}
