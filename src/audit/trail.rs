//! The CloudTrail rules (CIS sections 3 and 4): is every region recorded, tamper-evident,
//! encrypted, delivered, and are the events that matter watched.

use super::Finding;
use super::checks::{self as c, Check};
use crate::model::trail::{TrailSnapshot, Watch};
use jiff::Timestamp;

/// CloudWatch Logs delivery older than this counts as not delivering.
const DELIVERY_MAX_AGE_S: i64 = 86_400;

fn watch_check(w: Watch) -> &'static Check {
    match w {
        Watch::UnauthorizedApiCalls => &c::WATCH_UNAUTHORIZED,
        Watch::SignInWithoutMfa => &c::WATCH_NO_MFA,
        Watch::RootUsage => &c::WATCH_ROOT,
        Watch::IamPolicyChanges => &c::WATCH_POLICY,
        Watch::CloudTrailChanges => &c::WATCH_TRAIL,
        Watch::ConsoleAuthFailures => &c::WATCH_AUTH_FAILURES,
    }
}

pub(super) fn findings(snap: &TrailSnapshot, account: &str, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    // Shadow copies of a multi-region trail (seen from other regions) are the same trail.
    let mut trails: Vec<_> = snap.trails.iter().collect();
    trails.sort_by(|a, b| a.arn.cmp(&b.arn));
    trails.dedup_by(|a, b| a.arn == b.arn);
    let trail_listing_failed = snap.unavailable.iter().any(|u| u.section == "trails");
    if !trail_listing_failed && !trails.iter().any(|t| t.multi_region && t.logging) {
        let arn = format!("arn:aws:cloudtrail::{account}:trail/*");
        let evidence = if trails.is_empty() {
            "DescribeTrails (includeShadowTrails) returned no trail".to_string()
        } else {
            let names: Vec<String> = trails
                .iter()
                .map(|t| {
                    format!(
                        "{} (multi-region {}, logging {})",
                        t.name, t.multi_region, t.logging
                    )
                })
                .collect();
            format!("trails: {}", names.join(", "))
        };
        out.push(
            Finding::new(
                &c::TRAIL_MULTI_REGION,
                &arn,
                "account",
                "no logging multi-region trail records every region".into(),
            )
            .evidence(evidence),
        );
    }
    for t in &trails {
        let mut push = |check: &Check, msg: String, evidence: String| {
            out.push(Finding::new(check, &t.arn, &t.name, msg).evidence(evidence));
        };
        if !t.logging {
            push(
                &c::TRAIL_LOGGING,
                "logging is OFF".into(),
                "GetTrailStatus IsLogging = false".into(),
            );
        } else if let Some(err) = &t.latest_delivery_error {
            push(
                &c::TRAIL_LOGGING,
                format!("log delivery to s3://{} fails", t.bucket),
                format!("GetTrailStatus LatestDeliveryError = {err}"),
            );
        }
        match t.management_events.as_deref() {
            Some("All") => {}
            Some(other) => push(
                &c::TRAIL_MANAGEMENT_EVENTS,
                format!("records {other} management events only"),
                format!("event selectors: ReadWriteType = {other}"),
            ),
            None => push(
                &c::TRAIL_MANAGEMENT_EVENTS,
                "records no management events".into(),
                if t.advanced_selectors {
                    "advanced event selectors include no management events"
                } else {
                    "event selectors: IncludeManagementEvents = false"
                }
                .into(),
            ),
        }
        if !t.log_file_validation {
            push(
                &c::TRAIL_VALIDATION,
                "log file validation off".into(),
                "LogFileValidationEnabled = false".into(),
            );
        }
        if t.kms_key.is_none() {
            push(
                &c::TRAIL_KMS,
                "logs not encrypted with a KMS key".into(),
                "KmsKeyId not set".into(),
            );
        }
        match (&t.log_group_arn, t.cloudwatch_delivery) {
            (None, _) => push(
                &c::TRAIL_CLOUDWATCH,
                "not delivered to CloudWatch Logs".into(),
                "CloudWatchLogsLogGroupArn not set".into(),
            ),
            (Some(_), Some(at)) if now.as_second() - at.as_second() <= DELIVERY_MAX_AGE_S => {}
            (Some(group), at) => push(
                &c::TRAIL_CLOUDWATCH,
                "no CloudWatch Logs delivery in the last day".into(),
                format!(
                    "log group {group}, LatestCloudWatchLogsDeliveryTime {}",
                    at.map_or_else(|| "never".into(), |t| t.to_string())
                ),
            ),
        }
    }
    for m in &snap.monitoring {
        if let Some(missing) = &m.missing {
            let resource = m
                .log_group
                .clone()
                .unwrap_or_else(|| format!("arn:aws:logs::{account}:log-group:*"));
            let chain = [
                m.filter.as_deref().map(|f| format!("filter {f}")),
                m.alarm.as_deref().map(|a| format!("alarm {a}")),
            ];
            let seen: Vec<String> = chain.into_iter().flatten().collect();
            out.push(
                Finding::new(
                    watch_check(m.watch),
                    &resource,
                    "monitoring",
                    format!("{} not monitored: {missing}", m.watch.title()),
                )
                .evidence(if seen.is_empty() {
                    missing.clone()
                } else {
                    format!("{}; {missing}", seen.join(" → "))
                }),
            );
        }
    }
    out
}
