//! CloudTrail, live: the trails every configured region sees (shadow copies of multi-region
//! trails included, folded into one), their status and event selectors, the CIS 4.x
//! monitoring chains on their log groups, and the risky events of the last 90 days through
//! LookupEvents (at most 2 requests a second per region, 50 events a page, one lookup
//! attribute per call, as AWS allows).

use super::iam::{fatal, ts};
use super::{Aws, AwsError, Kind};
use crate::audit::monitor::{self, AlarmRef, MetricFilter};
use crate::model::iam::Unavailable;
use crate::model::trail::{Trail, TrailEvent, TrailSnapshot, Watch};
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

/// LookupEvents allows two requests per second per region and account.
const LOOKUP_GAP: Duration = Duration::from_millis(500);
/// Pages per lookup and poll: 200 events of each kind is plenty for a screen.
const LOOKUP_PAGES: usize = 4;
const LOOKUP_DAYS: i64 = 90;

pub struct TrailReader {
    aws: Aws,
    /// Regions whose endpoint lacks LookupEvents, with that answer: asked once, then left
    /// alone.
    no_lookup: Mutex<BTreeMap<String, AwsError>>,
}

fn keep(
    r: Result<(), AwsError>,
    section: &str,
    unavailable: &mut Vec<Unavailable>,
) -> Result<(), AwsError> {
    match r {
        Err(e) if fatal(&e) => Err(e),
        Err(e) => {
            unavailable.push(Unavailable {
                section: section.into(),
                why: e.line().to_string(),
            });
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// `arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*` → (region, name).
fn log_group(arn: &str) -> Option<(String, String)> {
    let mut parts = arn.split(':');
    let region = parts.nth(3)?.to_string();
    let name = arn.split(":log-group:").nth(1)?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    Some((region, name.to_string()))
}

/// The region of an ARN (`arn:aws:sns:REGION:…`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// One LookupEvents event as the model keeps it, from its CloudTrailEvent JSON.
pub fn event_from(e: &aws_sdk_cloudtrail::types::Event, region: &str) -> Option<TrailEvent> {
    let detail: serde_json::Value = e
        .cloud_trail_event()
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let text = |path: &[&str]| {
        let mut v = &detail;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().map(str::to_string)
    };
    let identity_type = text(&["userIdentity", "type"]);
    let user = e
        .username()
        .map(str::to_string)
        .or_else(|| text(&["userIdentity", "userName"]))
        .unwrap_or_else(|| match identity_type.as_deref() {
            Some("Root") => "root".into(),
            _ => "unknown".into(),
        });
    // The code says what kind of refusal it was (AccessDenied bursts count by it), the
    // message which permission was missing.
    let error = match (text(&["errorCode"]), text(&["errorMessage"])) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (code, message) => code.or(message),
    }
    .or_else(|| {
        (text(&["responseElements", "ConsoleLogin"]).as_deref() == Some("Failure"))
            .then(|| "Failure".into())
    });
    Some(TrailEvent {
        time: e.event_time().and_then(ts)?,
        user,
        event_name: e.event_name()?.to_string(),
        source_ip: text(&["sourceIPAddress"]).unwrap_or_default(),
        region: text(&["awsRegion"]).unwrap_or_else(|| region.to_string()),
        mfa_used: text(&["additionalEventData", "MFAUsed"]).map(|m| m == "Yes"),
        error,
        id: e.event_id().map(str::to_string),
        identity_type,
    })
}

impl TrailReader {
    pub fn new(aws: &Aws) -> TrailReader {
        TrailReader {
            aws: aws.clone(),
            no_lookup: Mutex::new(BTreeMap::new()),
        }
    }

    pub async fn read(&self) -> Result<TrailSnapshot, AwsError> {
        let mut snap = TrailSnapshot {
            regions: self.aws.regions().map(str::to_string).collect(),
            ..TrailSnapshot::default()
        };
        let mut unavailable = Vec::new();
        let r = self.trails(&mut snap.trails).await;
        keep(r, "trails", &mut unavailable)?;
        let r = self.monitoring(&snap.trails, &mut snap.monitoring).await;
        keep(r, "monitoring", &mut unavailable)?;
        let mut events = BTreeMap::new();
        let regions: Vec<String> = self.aws.regions().map(str::to_string).collect();
        let since = Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(24 * LOOKUP_DAYS))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let lookups = regions.iter().map(|r| self.risky_events(r, since));
        for (region, found) in regions.iter().zip(futures::future::join_all(lookups).await) {
            match found {
                Ok(found) => events.extend(found.into_iter().map(|e| (e.id.clone(), e))),
                Err(e) => keep(Err(e), &format!("events {region}"), &mut unavailable)?,
            }
        }
        snap.events = events.into_values().collect();
        snap.events
            .sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.id.cmp(&b.id)));
        snap.unavailable = unavailable;
        Ok(snap)
    }

    async fn trails(&self, out: &mut Vec<Trail>) -> Result<(), AwsError> {
        let mut seen = BTreeSet::new();
        for region in self.aws.regions() {
            let ct = self.aws.cloudtrail(region);
            let list = ct
                .describe_trails()
                .include_shadow_trails(true)
                .send()
                .await
                .map_err(|e| self.aws.error(region, "cloudtrail:DescribeTrails", &e))?;
            for t in list.trail_list() {
                let arn = t.trail_arn().unwrap_or_default().to_string();
                if !seen.insert(arn.clone()) {
                    continue;
                }
                let home = t.home_region().unwrap_or(region).to_string();
                let mut trail = Trail {
                    name: t.name().unwrap_or_default().to_string(),
                    arn: arn.clone(),
                    home_region: home.clone(),
                    multi_region: t.is_multi_region_trail().unwrap_or(false),
                    log_file_validation: t.log_file_validation_enabled().unwrap_or(false),
                    bucket: t.s3_bucket_name().unwrap_or_default().to_string(),
                    kms_key: t.kms_key_id().map(str::to_string),
                    log_group_arn: t.cloud_watch_logs_log_group_arn().map(str::to_string),
                    ..Trail::default()
                };
                let home_ct = self.aws.cloudtrail(&home);
                let status = home_ct
                    .get_trail_status()
                    .name(&arn)
                    .send()
                    .await
                    .map_err(|e| self.aws.error(&home, "cloudtrail:GetTrailStatus", &e))?;
                trail.logging = status.is_logging().unwrap_or(false);
                trail.latest_delivery = status.latest_delivery_time().and_then(ts);
                trail.latest_delivery_error = status
                    .latest_delivery_error()
                    .filter(|e| !e.is_empty())
                    .map(str::to_string);
                trail.cloudwatch_delivery =
                    status.latest_cloud_watch_logs_delivery_time().and_then(ts);
                let selectors = home_ct
                    .get_event_selectors()
                    .trail_name(&arn)
                    .send()
                    .await
                    .map_err(|e| self.aws.error(&home, "cloudtrail:GetEventSelectors", &e))?;
                trail.advanced_selectors = !selectors.advanced_event_selectors().is_empty();
                trail.management_events = if trail.advanced_selectors {
                    let management = selectors.advanced_event_selectors().iter().any(|s| {
                        s.field_selectors().iter().any(|f| {
                            f.field() == "eventCategory"
                                && f.equals().iter().any(|v| v == "Management")
                        })
                    });
                    let read_only = selectors.advanced_event_selectors().iter().find_map(|s| {
                        s.field_selectors()
                            .iter()
                            .find(|f| f.field() == "readOnly")
                            .and_then(|f| f.equals().first().cloned())
                    });
                    management.then(|| match read_only.as_deref() {
                        Some("true") => "ReadOnly".into(),
                        Some("false") => "WriteOnly".into(),
                        _ => "All".into(),
                    })
                } else {
                    selectors
                        .event_selectors()
                        .iter()
                        .filter(|s| s.include_management_events().unwrap_or(true))
                        .filter_map(|s| s.read_write_type().map(|t| t.as_str().to_string()))
                        .max_by_key(|t| t == "All")
                };
                out.push(trail);
            }
        }
        Ok(())
    }

    async fn monitoring(
        &self,
        trails: &[Trail],
        out: &mut Vec<crate::model::trail::Monitor>,
    ) -> Result<(), AwsError> {
        // The trails that record the account, best first: their log groups are where CIS
        // wants the metric filters.
        let mut groups: Vec<(String, String, String)> = Vec::new();
        let mut ordered: Vec<&Trail> = trails.iter().collect();
        ordered.sort_by_key(|t| (!(t.multi_region && t.logging), !t.logging));
        for t in ordered {
            if let Some(arn) = &t.log_group_arn
                && let Some((region, name)) = log_group(arn)
                && !groups.iter().any(|g| g.2 == name && g.0 == region)
            {
                groups.push((region, arn.clone(), name));
            }
        }
        let mut filters = Vec::new();
        let mut alarms = Vec::new();
        for (region, _, name) in &groups {
            let logs = self.aws.logs(region);
            let mut token = None;
            loop {
                let page = logs
                    .describe_metric_filters()
                    .log_group_name(name)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| self.aws.error(region, "logs:DescribeMetricFilters", &e))?;
                for f in page.metric_filters() {
                    filters.push(MetricFilter {
                        name: f.filter_name().unwrap_or_default().to_string(),
                        log_group: name.clone(),
                        pattern: f.filter_pattern().unwrap_or_default().to_string(),
                        metrics: f
                            .metric_transformations()
                            .iter()
                            .map(|m| {
                                (
                                    m.metric_namespace().to_string(),
                                    m.metric_name().to_string(),
                                )
                            })
                            .collect(),
                    });
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            let cw = self.aws.cloudwatch(region);
            let mut token = None;
            loop {
                let page = cw
                    .describe_alarms()
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| self.aws.error(region, "cloudwatch:DescribeAlarms", &e))?;
                for a in page.metric_alarms() {
                    alarms.push(AlarmRef {
                        name: a.alarm_name().unwrap_or_default().to_string(),
                        namespace: a.namespace().unwrap_or_default().to_string(),
                        metric: a.metric_name().unwrap_or_default().to_string(),
                        actions: a.alarm_actions().to_vec(),
                    });
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        let topics: BTreeSet<&String> = alarms
            .iter()
            .flat_map(|a| &a.actions)
            .filter(|t| t.starts_with("arn:aws:sns:"))
            .collect();
        let mut subscribed = BTreeSet::new();
        for topic in topics {
            let region = arn_region(topic).unwrap_or(self.aws.home_region());
            let subs = self
                .aws
                .sns(region)
                .list_subscriptions_by_topic()
                .topic_arn(topic.as_str())
                .send()
                .await
                .map_err(|e| self.aws.error(region, "sns:ListSubscriptionsByTopic", &e))?;
            if subs
                .subscriptions()
                .iter()
                .any(|s| s.subscription_arn().is_some_and(|a| a.starts_with("arn:")))
            {
                subscribed.insert(topic.clone());
            }
        }
        let is_subscribed = |t: &str| subscribed.contains(t);
        for watch in Watch::ALL {
            let chains: Vec<_> = groups
                .iter()
                .map(|(_, _, name)| {
                    monitor::chain(watch, Some(name), &filters, &alarms, &is_subscribed)
                })
                .collect();
            let best = chains
                .iter()
                .find(|m| m.missing.is_none())
                .or_else(|| chains.first())
                .cloned()
                .unwrap_or_else(|| monitor::chain(watch, None, &[], &[], &is_subscribed));
            out.push(best);
        }
        Ok(())
    }

    /// One lookup attribute, up to `pages` pages, pacing requests for the region's limit.
    pub async fn lookup(
        &self,
        region: &str,
        key: LookupAttributeKey,
        value: &str,
        since: Timestamp,
        pages: usize,
    ) -> Result<Vec<TrailEvent>, AwsError> {
        let ct = self.aws.cloudtrail(region);
        // Both required fields are set, so this cannot fail.
        let Ok(attr) = LookupAttribute::builder()
            .attribute_key(key)
            .attribute_value(value)
            .build()
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut token = None;
        for page in 0..pages {
            if page > 0 {
                tokio::time::sleep(LOOKUP_GAP).await;
            }
            let resp = ct
                .lookup_events()
                .lookup_attributes(attr.clone())
                .start_time(DateTime::from_secs(since.as_second()))
                .max_results(50)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.aws.error(region, "cloudtrail:LookupEvents", &e))?;
            out.extend(resp.events().iter().filter_map(|e| event_from(e, region)));
            token = resp.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Write events (policy changes, trail changes, keys, root), console sign-ins, and the
    /// read calls that were refused (each identity's AccessDenied bursts are among them).
    async fn risky_events(
        &self,
        region: &str,
        since: Timestamp,
    ) -> Result<Vec<TrailEvent>, AwsError> {
        if let Some(e) = self
            .no_lookup
            .lock()
            .ok()
            .and_then(|s| s.get(region).cloned())
        {
            return Err(e);
        }
        let mut out = Vec::new();
        for (key, value) in [
            (LookupAttributeKey::ReadOnly, "false"),
            (LookupAttributeKey::EventName, "ConsoleLogin"),
            (LookupAttributeKey::ReadOnly, "true"),
        ] {
            match self.lookup(region, key, value, since, LOOKUP_PAGES).await {
                Ok(found) => out.extend(found),
                Err(e) => {
                    if e.kind == Kind::Unsupported
                        && let Ok(mut s) = self.no_lookup.lock()
                    {
                        s.insert(region.to_string(), e.clone());
                    }
                    return Err(e);
                }
            }
            tokio::time::sleep(LOOKUP_GAP).await;
        }
        out.retain(|e| e.risk().is_some() || e.error.is_some() || e.event_name == "ConsoleLogin");
        Ok(out)
    }
}

/// Polls trails, monitoring and risky events every `every`.
pub fn spawn(aws: Aws, tx: crate::sources::Tx<TrailSnapshot>, every: Duration) {
    tokio::spawn(async move {
        let reader = TrailReader::new(&aws);
        while !tx.is_closed() {
            match reader.read().await {
                Ok(snap) => crate::sources::publish(&tx, snap, Timestamp::now()),
                Err(e) => crate::sources::publish_error(&tx, e.line().to_string()),
            }
            tokio::time::sleep(every).await;
        }
    });
}
