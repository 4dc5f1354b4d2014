//! AWS/WAFV2 request metrics per web ACL and per rule (GetMetricData, 1-minute sums for the
//! last hour) through the same pinned CloudWatch client the alarms use. Plain metric
//! queries only: metric math answers empty on moto and would read as "no traffic".

use super::{Aws, AwsError};
use crate::model::waf::RatePoint;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use jiff::Timestamp;

/// Minutes of the sparkline.
pub const MINUTES: usize = 60;
/// GetMetricData takes at most this many queries per call.
const QUERIES_PER_CALL: usize = 500;

/// What CloudWatch names one web ACL's metrics by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclMetrics {
    /// The ACL's `VisibilityConfig.MetricName` (the `WebACL` dimension).
    pub acl: String,
    /// `Some(region)` for a REGIONAL ACL (the `Region` dimension); CloudFront has none.
    pub region: Option<String>,
    /// Each rule's `VisibilityConfig.MetricName`, in the ACL's rule order.
    pub rules: Vec<String>,
}

/// One ACL's last hour: allowed/blocked/counted per minute, oldest first, and what each
/// rule blocked over the hour.
#[derive(Debug, Clone, PartialEq)]
pub struct AclRates {
    pub points: Vec<RatePoint>,
    pub rule_blocked: Vec<u64>,
}

#[derive(Clone, Copy)]
enum Series {
    Allowed,
    Blocked,
    Counted,
    RuleBlocked(usize),
}

fn query(id: String, m: &AclMetrics, name: &str, rule: &str) -> MetricDataQuery {
    // WebACL, Region, Rule: the order WAF lists them in. AWS matches dimensions as a set;
    // moto (whose dimension ordering is broken) only matches them in the order put.
    let mut metric = Metric::builder()
        .namespace("AWS/WAFV2")
        .metric_name(name)
        .dimensions(Dimension::builder().name("WebACL").value(&m.acl).build());
    if let Some(r) = &m.region {
        metric = metric.dimensions(Dimension::builder().name("Region").value(r).build());
    }
    let metric = metric.dimensions(Dimension::builder().name("Rule").value(rule).build());
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric.build())
                .period(60)
                .stat("Sum")
                .build(),
        )
        .return_data(true)
        .build()
}

/// The last hour of every ACL in `acls`, asked in `region`, ending at the minute `now` is in.
pub async fn read(
    aws: &Aws,
    region: &str,
    acls: &[AclMetrics],
    now: Timestamp,
) -> Result<Vec<AclRates>, AwsError> {
    // Whole minutes only: a minute still being counted would read as a drop.
    let end = now.as_second().div_euclid(60) * 60;
    let start = end - 60 * MINUTES as i64;
    let mut out: Vec<AclRates> = acls
        .iter()
        .map(|a| AclRates {
            points: vec![RatePoint::default(); MINUTES],
            rule_blocked: vec![0; a.rules.len()],
        })
        .collect();
    let mut queries: Vec<(String, usize, Series, MetricDataQuery)> = Vec::new();
    for (i, m) in acls.iter().enumerate() {
        for (tag, name, series) in [
            ("a", "AllowedRequests", Series::Allowed),
            ("b", "BlockedRequests", Series::Blocked),
            ("c", "CountedRequests", Series::Counted),
        ] {
            let id = format!("q{i}_{tag}");
            queries.push((id.clone(), i, series, query(id, m, name, "ALL")));
        }
        for (r, rule) in m.rules.iter().enumerate() {
            let id = format!("q{i}_r{r}");
            let q = query(id.clone(), m, "BlockedRequests", rule);
            queries.push((id, i, Series::RuleBlocked(r), q));
        }
    }
    let client = aws.cloudwatch(region);
    for chunk in queries.chunks(QUERIES_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let answer = client
                .get_metric_data()
                .start_time(DateTime::from_secs(start))
                .end_time(DateTime::from_secs(end))
                .set_metric_data_queries(Some(chunk.iter().map(|q| q.3.clone()).collect()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws.error(region, "cloudwatch:GetMetricData", &e))?;
            for result in answer.metric_data_results() {
                let Some((_, acl, series, _)) =
                    chunk.iter().find(|q| Some(q.0.as_str()) == result.id())
                else {
                    continue;
                };
                for (t, v) in result.timestamps().iter().zip(result.values()) {
                    let minute = (t.secs() - start).div_euclid(60);
                    let Ok(slot) = usize::try_from(minute) else {
                        continue;
                    };
                    let n = v.max(0.0).round() as u64;
                    let acl = &mut out[*acl];
                    match *series {
                        Series::RuleBlocked(r) => acl.rule_blocked[r] += n,
                        s => {
                            let Some(p) = acl.points.get_mut(slot) else {
                                continue;
                            };
                            match s {
                                Series::Allowed => p.allowed += n,
                                Series::Blocked => p.blocked += n,
                                _ => p.counted += n,
                            }
                        }
                    }
                }
            }
            match answer.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// The minutes of several ACLs added up: the area's sparkline.
pub fn total(all: &[&[RatePoint]]) -> Vec<RatePoint> {
    let mut sum = vec![RatePoint::default(); all.iter().map(|p| p.len()).max().unwrap_or(0)];
    for points in all {
        for (s, p) in sum.iter_mut().zip(points.iter()) {
            s.allowed += p.allowed;
            s.blocked += p.blocked;
            s.counted += p.counted;
        }
    }
    sum
}
