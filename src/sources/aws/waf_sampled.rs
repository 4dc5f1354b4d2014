//! Where a web ACL has no logging, AWS WAF's own sample of what it inspected
//! (GetSampledRequests, one call per blocking rule and one for a blocking default action,
//! over the last ten minutes): the same blocked-request rows the logs give, each with the
//! weight of the requests it stands for, so the top IPs count like the whole would.

use super::{Aws, AwsError};
use crate::model::waf::{ATTACKERS_WINDOW, BlockedRequest};
use aws_sdk_wafv2::types::{SampledHttpRequest, Scope, TimeWindow};
use aws_smithy_types::DateTime;
use jiff::Timestamp;

/// AWS answers at most this many sampled requests per call (and samples from the first
/// 5,000 requests of the window).
const MAX_ITEMS: i64 = 500;
/// What WAF names the default action in its logs, used alike for sampled requests.
pub const DEFAULT_ACTION: &str = "Default_Action";

/// One blocked request of a sample, and how many requests it stands for (AWS's `Weight`).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub request: BlockedRequest,
    pub weight: u64,
}

/// The blocked requests of one GetSampledRequests answer, asked for the rule `rule` (the
/// ACL's rule name, or [`DEFAULT_ACTION`]). Requests the rule only counted or let through
/// are not blocked ones; one without a timestamp cannot be placed in time and is left out.
pub fn blocked(answer: &[SampledHttpRequest], rule: &str) -> Vec<Sampled> {
    answer
        .iter()
        .filter(|s| s.action() == Some("BLOCK"))
        .filter_map(|s| {
            let time = Timestamp::from_millisecond(s.timestamp()?.to_millis().ok()?).ok()?;
            let r = s.request()?;
            Some(Sampled {
                request: BlockedRequest {
                    time,
                    client_ip: r.client_ip().unwrap_or_default().to_string(),
                    country: r.country().unwrap_or_default().to_string(),
                    method: r.method().unwrap_or_default().to_string(),
                    uri: r.uri().unwrap_or_default().to_string(),
                    // The ACL's rule, as the logs' terminatingRuleId names it: what the
                    // IP-set checks and the offer match on.
                    rule: rule.to_string(),
                },
                weight: u64::try_from(s.weight()).unwrap_or(0).max(1),
            })
        })
        .collect()
}

/// The blocked requests AWS sampled for `metric` (a rule's or the ACL's metric name) of the
/// ACL `arn` over the ten minutes before `now`.
pub async fn read(
    aws: &Aws,
    region: &str,
    scope: &Scope,
    arn: &str,
    (metric, rule): (&str, &str),
    now: Timestamp,
) -> Result<Vec<Sampled>, AwsError> {
    const ACTION: &str = "wafv2:GetSampledRequests";
    let window = TimeWindow::builder()
        .start_time(DateTime::from_secs((now - ATTACKERS_WINDOW).as_second()))
        .end_time(DateTime::from_secs(now.as_second()))
        .build()
        .map_err(|e| AwsError::other(ACTION, format!("{ACTION}: {e}")))?;
    let out = aws
        .wafv2(region)
        .get_sampled_requests()
        .web_acl_arn(arn)
        .rule_metric_name(metric)
        .scope(scope.clone())
        .time_window(window)
        .max_items(MAX_ITEMS)
        .send()
        .await
        .map_err(|e| aws.error(region, ACTION, &e))?;
    Ok(blocked(out.sampled_requests(), rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_wafv2::types::HttpRequest;

    fn sampled(action: &str, ip: &str, weight: i64, ms: Option<i64>) -> SampledHttpRequest {
        let mut s = SampledHttpRequest::builder()
            .action(action)
            .weight(weight)
            .request(
                HttpRequest::builder()
                    .client_ip(ip)
                    .country("KR")
                    .method("POST")
                    .uri("/login")
                    .build(),
            );
        if let Some(ms) = ms {
            s = s.timestamp(DateTime::from_millis(ms));
        }
        s.build()
    }

    #[test]
    fn blocked_samples_become_rows_with_their_weight() {
        let answer = [
            sampled("BLOCK", "203.0.113.7", 3, Some(1_764_640_000_123)),
            sampled("ALLOW", "192.0.2.10", 1, Some(1_764_640_001_000)),
            sampled("COUNT", "192.0.2.11", 1, Some(1_764_640_001_000)),
            sampled("BLOCK", "198.51.100.9", 0, Some(1_764_640_002_000)),
            sampled("BLOCK", "198.51.100.10", 1, None),
        ];
        let rows = blocked(&answer, "rate-limit-100");
        let got: Vec<(&str, u64, i64)> = rows
            .iter()
            .map(|s| {
                (
                    s.request.client_ip.as_str(),
                    s.weight,
                    s.request.time.as_millisecond(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("203.0.113.7", 3, 1_764_640_000_123),
                // A weight AWS leaves out still stands for the request itself.
                ("198.51.100.9", 1, 1_764_640_002_000),
            ]
        );
        let r = &rows[0].request;
        assert_eq!(
            (r.country.as_str(), r.method.as_str(), r.uri.as_str()),
            ("KR", "POST", "/login")
        );
        assert_eq!(r.rule, "rate-limit-100");
    }
}
