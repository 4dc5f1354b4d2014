//! The Route 53 calls the regions use: find a region's record set (ListHostedZonesByName,
//! ListResourceRecordSets), its health check (GetHealthCheckStatus), and change its weight
//! (ChangeResourceRecordSets UPSERT, then GetChange until INSYNC). Route 53 is global: it
//! is asked in `us-east-1`.

use super::config::Route53Record;
use crate::model::region::{HealthCheck, Routing};
use crate::sources::aws::{Aws, AwsError};
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet, ResourceRecordSetFailover,
};

pub const LIST_ZONES: &str = "route53:ListHostedZonesByName";
pub const LIST_RECORDS: &str = "route53:ListResourceRecordSets";
pub const HEALTH_STATUS: &str = "route53:GetHealthCheckStatus";
pub const CHANGE: &str = "route53:ChangeResourceRecordSets";
pub const GET_CHANGE: &str = "route53:GetChange";

/// Where the global Route 53 API is signed.
pub const REGION: &str = "us-east-1";

/// A failed read, in words; `AwsError`'s line when AWS answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Miss {
    Aws(String),
    /// The zone or the record set is not there.
    NotFound(String),
}

impl Miss {
    pub fn line(&self) -> &str {
        match self {
            Miss::Aws(s) | Miss::NotFound(s) => s,
        }
    }
}

impl From<AwsError> for Miss {
    fn from(e: AwsError) -> Miss {
        Miss::Aws(e.line().to_string())
    }
}

/// The hosted zone's ID: `zone` itself when it is one (`Z…`, or `/hostedzone/Z…`), else the
/// public or private zone of that exact name.
pub async fn zone_id(aws: &Aws, zone: &str) -> Result<String, Miss> {
    let bare = zone.trim_start_matches("/hostedzone/");
    if !bare.contains('.') {
        return Ok(bare.to_string());
    }
    let name = super::config::fqdn(zone);
    let out = aws
        .route53(REGION)
        .list_hosted_zones_by_name()
        .dns_name(&name)
        .send()
        .await
        .map_err(|e| aws.error(REGION, LIST_ZONES, &e))?;
    out.hosted_zones()
        .iter()
        .find(|z| super::config::fqdn(z.name()) == name)
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .ok_or_else(|| Miss::NotFound(format!("no hosted zone {name}")))
}

/// The region's record set, as Route 53 holds it now.
pub async fn record_set(
    aws: &Aws,
    zone_id: &str,
    rec: &Route53Record,
) -> Result<ResourceRecordSet, Miss> {
    let fqdn = rec.fqdn();
    let client = aws.route53(REGION);
    let mut next: Option<(
        String,
        Option<aws_sdk_route53::types::RrType>,
        Option<String>,
    )> = Some((fqdn.clone(), None, None));
    while let Some((name, kind, id)) = next.take() {
        let out = client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .set_start_record_type(kind)
            .set_start_record_identifier(id)
            .send()
            .await
            .map_err(|e| aws.error(REGION, LIST_RECORDS, &e))?;
        for r in out.resource_record_sets() {
            if super::config::fqdn(r.name()) == fqdn
                && r.set_identifier() == Some(rec.set_identifier.as_str())
            {
                return Ok(r.clone());
            }
        }
        // Sorted by name: once past the record, it is not there.
        let past = out
            .resource_record_sets()
            .last()
            .is_some_and(|r| super::config::fqdn(r.name()) != fqdn);
        if out.is_truncated() && !past {
            next = out.next_record_name().map(|n| {
                (
                    n.to_string(),
                    out.next_record_type().cloned(),
                    out.next_record_identifier().map(str::to_string),
                )
            });
        }
    }
    Err(Miss::NotFound(format!(
        "no record set {fqdn} with set identifier `{}` in zone {zone_id}",
        rec.set_identifier
    )))
}

pub fn routing(r: &ResourceRecordSet) -> Routing {
    match (r.weight(), r.failover()) {
        (Some(w), _) => Routing::Weighted(u32::try_from(w).unwrap_or(0)),
        (None, Some(f)) => Routing::Failover(
            match f {
                ResourceRecordSetFailover::Primary => "PRIMARY",
                ResourceRecordSetFailover::Secondary => "SECONDARY",
                other => other.as_str(),
            }
            .to_string(),
        ),
        (None, None) => Routing::Simple,
    }
}

/// What Route 53's checkers say of the health check. Like Route 53 itself, the check is
/// healthy while more than 18 % of the checkers report success.
pub async fn health(aws: &Aws, id: &str) -> Result<HealthCheck, Miss> {
    let out = aws
        .route53(REGION)
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| aws.error(REGION, HEALTH_STATUS, &e))?;
    Ok(judge(
        out.health_check_observations()
            .iter()
            .filter_map(|o| o.status_report()?.status())
            .collect(),
    ))
}

fn judge(reports: Vec<&str>) -> HealthCheck {
    if reports.is_empty() {
        return HealthCheck::Failing("no checker has reported yet".into());
    }
    let ok = reports.iter().filter(|s| s.starts_with("Success")).count();
    if ok * 100 > reports.len() * 18 {
        return HealthCheck::Healthy;
    }
    let worst = reports
        .iter()
        .find(|s| !s.starts_with("Success"))
        .unwrap_or(&reports[0]);
    HealthCheck::Failing(format!(
        "{} of {} checkers fail: {worst}",
        reports.len() - ok,
        reports.len()
    ))
}

/// The UPSERT that gives `current` the weight `weight`, everything else kept.
pub fn upsert(current: &ResourceRecordSet, weight: u32) -> Result<ChangeBatch, String> {
    let mut set = current.clone();
    set.weight = Some(i64::from(weight));
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(set)
        .build()
        .map_err(|e| e.to_string())?;
    ChangeBatch::builder()
        .comment(format!(
            "opsdeck: weight of {} {} to {weight}",
            current.name(),
            current.set_identifier().unwrap_or_default()
        ))
        .changes(change)
        .build()
        .map_err(|e| e.to_string())
}

/// The change batch in words, as the dry-run and the journal show it.
pub fn batch_text(zone_id: &str, current: &ResourceRecordSet, weight: u32) -> String {
    let values: Vec<&str> = current
        .resource_records()
        .iter()
        .map(|r| r.value())
        .collect();
    let target = match current.alias_target() {
        Some(a) => format!("alias {}", a.dns_name()),
        None => values.join(","),
    };
    format!(
        "ChangeResourceRecordSets zone {zone_id}: UPSERT {} {} set {} weight {} → {weight}{}{}{}",
        current.name(),
        current.r#type().as_str(),
        current.set_identifier().unwrap_or_default(),
        current.weight().unwrap_or_default(),
        current
            .ttl()
            .map(|t| format!(" ttl {t}"))
            .unwrap_or_default(),
        if target.is_empty() {
            String::new()
        } else {
            format!(" → {target}")
        },
        current
            .health_check_id()
            .map(|h| format!(" health check {h}"))
            .unwrap_or_default()
    )
}

/// Sends the batch and returns the change's ID.
pub async fn change(aws: &Aws, zone_id: &str, batch: ChangeBatch) -> Result<String, AwsError> {
    let out = aws
        .route53(REGION)
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| aws.error(REGION, CHANGE, &e))?;
    Ok(out
        .change_info()
        .map(|c| c.id().to_string())
        .unwrap_or_default())
}

/// Whether the change has reached every Route 53 name server.
pub async fn in_sync(aws: &Aws, change_id: &str) -> Result<bool, AwsError> {
    let out = aws
        .route53(REGION)
        .get_change()
        .id(change_id.trim_start_matches("/change/"))
        .send()
        .await
        .map_err(|e| aws.error(REGION, GET_CHANGE, &e))?;
    Ok(out
        .change_info()
        .is_some_and(|c| c.status() == &ChangeStatus::Insync))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_while_more_than_18_percent_of_checkers_succeed() {
        let ok = "Success: HTTP Status Code 200, OK";
        let bad = "Failure: HTTP Status Code 503, Service Unavailable";
        assert_eq!(judge(vec![ok, bad, bad, bad, bad]), HealthCheck::Healthy);
        assert_eq!(
            judge(vec![ok, bad, bad, bad, bad, bad]),
            HealthCheck::Failing(format!("5 of 6 checkers fail: {bad}"))
        );
    }
}
