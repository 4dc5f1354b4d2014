//! CloudWatch alarms: metric and composite alarms of every configured region
//! (DescribeAlarms, paginated), severity from each alarm's `severity` tag
//! (ListTagsForResource, asked once per alarm) or from name patterns, the state history for
//! the detail view, and turning an alarm's actions off and on.

use super::{Aws, AwsError, Kind};
use crate::model::alarm::{Alarm, AlarmSource, AlarmState, Severity};
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{CompositeAlarm, HistoryItemType, MetricAlarm, StateValue};
use aws_smithy_types::DateTime;
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap};

/// Severity of alarms without a `severity` tag, by name: the first list whose glob matches
/// wins, and anything else is a warning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeverityNames {
    pub critical: Vec<String>,
    pub info: Vec<String>,
}

impl SeverityNames {
    fn of(&self, name: &str) -> Severity {
        let any = |globs: &[String]| {
            globs
                .iter()
                .any(|g| crate::playbook::catalog::glob(g, name))
        };
        if any(&self.critical) {
            Severity::Critical
        } else if any(&self.info) {
            Severity::Info
        } else {
            Severity::Warning
        }
    }
}

/// The alarms of one region, or why there are none.
pub struct RegionPoll {
    pub region: String,
    pub alarms: Result<Vec<Alarm>, AwsError>,
    /// A part that failed without spoiling the rest (tags forbidden: severity from names).
    pub note: Option<String>,
}

struct Region {
    name: String,
    client: Client,
    /// Tags by alarm ARN: an alarm's tags almost never change, and asking for each alarm on
    /// every poll would be one call per alarm per 30 s.
    tags: HashMap<String, BTreeMap<String, String>>,
    /// ListTagsForResource refused here (forbidden, unsupported): not asked again.
    tags_refused: Option<String>,
}

pub struct CloudWatchAlarms {
    regions: Vec<Region>,
    names: SeverityNames,
}

fn timestamp(t: Option<&DateTime>) -> Timestamp {
    t.and_then(|t| Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn state(v: Option<&StateValue>) -> AlarmState {
    match v {
        Some(StateValue::Alarm) => AlarmState::Alarm,
        Some(StateValue::Ok) => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}

impl CloudWatchAlarms {
    pub fn new(aws: &Aws, names: SeverityNames) -> CloudWatchAlarms {
        CloudWatchAlarms {
            regions: aws
                .regions()
                .map(|r| Region {
                    name: r.to_string(),
                    client: aws.cloudwatch(r),
                    tags: HashMap::new(),
                    tags_refused: None,
                })
                .collect(),
            names,
        }
    }

    /// One DescribeAlarms round over every region, at once.
    pub async fn poll(&mut self, aws: &Aws) -> Vec<RegionPoll> {
        let names = &self.names;
        futures::future::join_all(
            self.regions
                .iter_mut()
                .map(|r| async move { r.poll(aws, names).await }),
        )
        .await
    }
}

impl Region {
    async fn poll(&mut self, aws: &Aws, names: &SeverityNames) -> RegionPoll {
        let listed = self.describe(aws).await;
        let (metric, composite) = match listed {
            Ok(v) => v,
            Err(e) => {
                return RegionPoll {
                    region: self.name.clone(),
                    alarms: Err(e),
                    note: None,
                };
            }
        };
        let mut alarms = Vec::with_capacity(metric.len() + composite.len());
        for m in &metric {
            alarms.push(self.metric_alarm(m));
        }
        for c in &composite {
            alarms.push(self.composite_alarm(c));
        }
        for a in &mut alarms {
            a.labels = self.tags_of(aws, &a.key).await;
            a.severity = a
                .labels
                .get("severity")
                .and_then(|s| Severity::parse(s))
                .unwrap_or_else(|| names.of(&a.name));
        }
        RegionPoll {
            region: self.name.clone(),
            alarms: Ok(alarms),
            note: self.tags_refused.clone(),
        }
    }

    async fn describe(
        &self,
        aws: &Aws,
    ) -> Result<(Vec<MetricAlarm>, Vec<CompositeAlarm>), AwsError> {
        let (mut metric, mut composite) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_alarms()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| aws.error(&self.name, "cloudwatch:DescribeAlarms", &e))?;
            metric.extend_from_slice(out.metric_alarms());
            composite.extend_from_slice(out.composite_alarms());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok((metric, composite)),
            }
        }
    }

    async fn tags_of(&mut self, aws: &Aws, arn: &str) -> BTreeMap<String, String> {
        if arn.is_empty() || self.tags_refused.is_some() {
            return BTreeMap::new();
        }
        if let Some(t) = self.tags.get(arn) {
            return t.clone();
        }
        match self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(out) => {
                let tags: BTreeMap<String, String> = out
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                self.tags.insert(arn.to_string(), tags.clone());
                tags
            }
            Err(e) => {
                let e = aws.error(&self.name, "cloudwatch:ListTagsForResource", &e);
                if matches!(e.kind, Kind::AccessDenied | Kind::Unsupported) {
                    self.tags_refused = Some(format!("{e}; severity from alarm names"));
                }
                BTreeMap::new()
            }
        }
    }

    fn metric_alarm(&self, m: &MetricAlarm) -> Alarm {
        let mut facts = Vec::new();
        if let Some(metric) = m.metric_name() {
            let dims: Vec<String> = m
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or("?"), d.value().unwrap_or("?")))
                .collect();
            facts.push((
                "Metric",
                format!(
                    "{}/{metric}{}",
                    m.namespace().unwrap_or("?"),
                    if dims.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", dims.join(" "))
                    }
                ),
            ));
        } else if !m.metrics().is_empty() {
            facts.push(("Metric", format!("{} metric queries", m.metrics().len())));
        }
        if let (Some(op), Some(t)) = (m.comparison_operator(), m.threshold()) {
            let stat = m
                .statistic()
                .map(|s| s.as_str().to_string())
                .or_else(|| m.extended_statistic().map(str::to_string))
                .unwrap_or_default();
            facts.push((
                "Threshold",
                format!(
                    "{stat} {} {t} for {} × {} s",
                    op.as_str(),
                    m.evaluation_periods().unwrap_or(1),
                    m.period().unwrap_or(0)
                ),
            ));
        }
        if let Some(d) = m.state_reason_data().filter(|d| !d.is_empty()) {
            facts.push(("Reason data", d.to_string()));
        }
        if let Some(d) = m.alarm_description().filter(|d| !d.is_empty()) {
            facts.push(("Description", d.to_string()));
        }
        Alarm {
            source: AlarmSource::CloudWatch,
            name: m.alarm_name().unwrap_or("?").to_string(),
            state: state(m.state_value()),
            severity: Severity::Warning,
            reason: m.state_reason().unwrap_or_default().to_string(),
            // The last transition (when it started firing), not the last reason update.
            since: timestamp(
                m.state_transitioned_timestamp()
                    .or(m.state_updated_timestamp()),
            ),
            origin: self.name.clone(),
            key: m.alarm_arn().unwrap_or_default().to_string(),
            actions_enabled: m.actions_enabled(),
            facts,
            ..Alarm::default()
        }
    }

    fn composite_alarm(&self, c: &CompositeAlarm) -> Alarm {
        let mut facts = vec![("Rule", c.alarm_rule().unwrap_or("?").to_string())];
        if let Some(d) = c.state_reason_data().filter(|d| !d.is_empty()) {
            facts.push(("Reason data", d.to_string()));
        }
        Alarm {
            source: AlarmSource::CloudWatch,
            name: c.alarm_name().unwrap_or("?").to_string(),
            state: state(c.state_value()),
            severity: Severity::Warning,
            reason: c.state_reason().unwrap_or_default().to_string(),
            since: timestamp(
                c.state_transitioned_timestamp()
                    .or(c.state_updated_timestamp()),
            ),
            origin: self.name.clone(),
            key: c.alarm_arn().unwrap_or_default().to_string(),
            actions_enabled: c.actions_enabled(),
            facts,
            ..Alarm::default()
        }
    }
}

/// State changes of the last 24 hours, newest first (DescribeAlarmHistory).
pub async fn history(
    aws: &Aws,
    region: &str,
    alarm: &str,
    now: Timestamp,
) -> Result<Vec<(Timestamp, String)>, AwsError> {
    let since = now - jiff::SignedDuration::from_hours(24);
    let out = aws
        .cloudwatch(region)
        .describe_alarm_history()
        .alarm_name(alarm)
        .history_item_type(HistoryItemType::StateUpdate)
        .start_date(DateTime::from_secs(since.as_second()))
        .end_date(DateTime::from_secs(now.as_second()))
        .send()
        .await
        .map_err(|e| aws.error(region, "cloudwatch:DescribeAlarmHistory", &e))?;
    let mut items: Vec<(Timestamp, String)> = out
        .alarm_history_items()
        .iter()
        .map(|i| {
            (
                timestamp(i.timestamp()),
                i.history_summary().unwrap_or_default().to_string(),
            )
        })
        .collect();
    items.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    Ok(items)
}

/// DisableAlarmActions / EnableAlarmActions: the alarm keeps evaluating, but notifies (or
/// scales) nothing while disabled.
pub async fn set_actions(
    aws: &Aws,
    region: &str,
    alarm: &str,
    enabled: bool,
) -> Result<(), AwsError> {
    let cw = aws.cloudwatch(region);
    if enabled {
        cw.enable_alarm_actions()
            .alarm_names(alarm)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(region, "cloudwatch:EnableAlarmActions", &e))
    } else {
        cw.disable_alarm_actions()
            .alarm_names(alarm)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws.error(region, "cloudwatch:DisableAlarmActions", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_from_names_when_untagged() {
        let names = SeverityNames {
            critical: vec!["*-5xx-*".into(), "*Down*".into()],
            info: vec!["*-info".into()],
        };
        assert_eq!(names.of("shop-alb-5xx-rate-high"), Severity::Critical);
        assert_eq!(names.of("MariaDBPrimaryDown"), Severity::Critical);
        assert_eq!(names.of("backup-done-info"), Severity::Info);
        assert_eq!(names.of("eks-node-cpu-high"), Severity::Warning);
    }
}
