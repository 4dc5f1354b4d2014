//! The CIS 4.x monitoring chains: a metric filter on the trail's log group whose pattern
//! catches the events (recognised term by term, so a filter named right but matching
//! nothing does not count), an alarm on the filter's metric, and an SNS topic of that alarm
//! with a confirmed subscription. moto stores filters but never evaluates them, so this
//! reading of the pattern is the only judge of it, in tests as against AWS.

use crate::model::trail::{Monitor, POLICY_CHANGES, Watch};

/// A metric filter as DescribeMetricFilters returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricFilter {
    pub name: String,
    pub log_group: String,
    pub pattern: String,
    /// `(namespace, metric name)` of each transformation.
    pub metrics: Vec<(String, String)>,
}

/// A metric alarm as DescribeAlarms returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRef {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub actions: Vec<String>,
}

/// Whitespace and quotes do not change what a pattern matches; dropping them lets the
/// terms be compared as written in the benchmark.
fn normalise(pattern: &str) -> String {
    pattern
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .collect()
}

fn required(watch: Watch) -> Vec<String> {
    let names = |events: &[&str]| {
        events
            .iter()
            .map(|e| format!("$.eventName={e}"))
            .collect::<Vec<_>>()
    };
    match watch {
        Watch::UnauthorizedApiCalls => vec![
            "$.errorCode=*UnauthorizedOperation".into(),
            "$.errorCode=AccessDenied*".into(),
        ],
        Watch::SignInWithoutMfa => vec![
            "$.eventName=ConsoleLogin".into(),
            "$.additionalEventData.MFAUsed!=Yes".into(),
        ],
        Watch::RootUsage => vec![
            "$.userIdentity.type=Root".into(),
            "$.userIdentity.invokedByNOTEXISTS".into(),
            "$.eventType!=AwsServiceEvent".into(),
        ],
        Watch::IamPolicyChanges => names(&POLICY_CHANGES),
        Watch::CloudTrailChanges => names(&[
            "CreateTrail",
            "UpdateTrail",
            "DeleteTrail",
            "StartLogging",
            "StopLogging",
        ]),
        Watch::ConsoleAuthFailures => vec![
            "$.eventName=ConsoleLogin".into(),
            "$.errorMessage=Failedauthentication".into(),
        ],
    }
}

/// Whether `pattern` catches what `watch` is about.
pub fn recognises(watch: Watch, pattern: &str) -> bool {
    let p = normalise(pattern);
    required(watch).iter().all(|term| {
        // `$.eventName=X` must not match a longer name such as `X2`.
        p.match_indices(term.as_str()).any(|(at, m)| {
            !p[at + m.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

/// Follows one chain as far as it goes. `subscribed(topic)` says whether the topic has a
/// confirmed subscription.
pub fn chain(
    watch: Watch,
    log_group: Option<&str>,
    filters: &[MetricFilter],
    alarms: &[AlarmRef],
    subscribed: &dyn Fn(&str) -> bool,
) -> Monitor {
    let mut m = Monitor {
        watch,
        log_group: log_group.map(str::to_string),
        filter: None,
        alarm: None,
        subscribed_topic: None,
        missing: None,
    };
    let Some(group) = log_group else {
        m.missing = Some("no trail delivers to CloudWatch Logs".into());
        return m;
    };
    let mut filter_seen = false;
    let mut alarm_seen = false;
    for f in filters
        .iter()
        .filter(|f| f.log_group == group && recognises(watch, &f.pattern))
    {
        filter_seen = true;
        m.filter.get_or_insert_with(|| f.name.clone());
        for (ns, metric) in &f.metrics {
            for a in alarms
                .iter()
                .filter(|a| &a.namespace == ns && &a.metric == metric)
            {
                alarm_seen = true;
                if m.alarm.is_none() {
                    m.filter = Some(f.name.clone());
                    m.alarm = Some(a.name.clone());
                }
                if let Some(topic) = a
                    .actions
                    .iter()
                    .find(|t| t.starts_with("arn:aws:sns:") && subscribed(t))
                {
                    m.filter = Some(f.name.clone());
                    m.alarm = Some(a.name.clone());
                    m.subscribed_topic = Some(topic.clone());
                    return m;
                }
            }
        }
    }
    m.missing = Some(if !filter_seen {
        format!("no metric filter on {group} matches {}", watch.title())
    } else if !alarm_seen {
        format!(
            "metric filter {} has no alarm on its metric",
            m.filter.as_deref().unwrap_or("?")
        )
    } else {
        format!(
            "alarm {} notifies no SNS topic with a confirmed subscription",
            m.alarm.as_deref().unwrap_or("?")
        )
    });
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns as the CIS benchmark prints them.
    pub const CIS: [(Watch, &str); 6] = [
        (
            Watch::UnauthorizedApiCalls,
            r#"{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }"#,
        ),
        (
            Watch::SignInWithoutMfa,
            r#"{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }"#,
        ),
        (
            Watch::RootUsage,
            r#"{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }"#,
        ),
        (
            Watch::IamPolicyChanges,
            "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}",
        ),
        (
            Watch::CloudTrailChanges,
            "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }",
        ),
        (
            Watch::ConsoleAuthFailures,
            r#"{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }"#,
        ),
    ];

    #[test]
    fn the_benchmark_patterns_are_recognised_and_only_for_their_item() {
        for (watch, pattern) in CIS {
            assert!(recognises(watch, pattern), "{watch:?}");
            for (other, _) in CIS.iter().filter(|(w, _)| *w != watch) {
                // Sign-in without MFA and auth failures share ConsoleLogin but differ after.
                assert!(
                    !recognises(*other, pattern),
                    "{other:?} took {watch:?}'s pattern"
                );
            }
        }
        let partial = "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) }";
        assert!(!recognises(Watch::CloudTrailChanges, partial));
        let longer = CIS[4].1.replace("StopLogging", "StopLoggingX");
        assert!(!recognises(Watch::CloudTrailChanges, &longer));
    }

    fn filter(pattern: &str) -> MetricFilter {
        MetricFilter {
            name: "trail-changes".into(),
            log_group: "cloudtrail".into(),
            pattern: pattern.into(),
            metrics: vec![("CISBenchmark".into(), "TrailChanges".into())],
        }
    }

    #[test]
    fn each_missing_link_is_named() {
        let w = Watch::CloudTrailChanges;
        let none = |_: &str| false;
        let m = chain(w, None, &[], &[], &none);
        assert_eq!(
            m.missing.as_deref(),
            Some("no trail delivers to CloudWatch Logs")
        );
        let m = chain(
            w,
            Some("cloudtrail"),
            &[filter("{ $.eventName = CreateTrail }")],
            &[],
            &none,
        );
        assert!(
            m.missing
                .unwrap()
                .starts_with("no metric filter on cloudtrail")
        );
        let f = [filter(CIS[4].1)];
        let m = chain(w, Some("cloudtrail"), &f, &[], &none);
        assert_eq!(
            m.missing.as_deref(),
            Some("metric filter trail-changes has no alarm on its metric")
        );
        let alarm = AlarmRef {
            name: "trail-changes-alarm".into(),
            namespace: "CISBenchmark".into(),
            metric: "TrailChanges".into(),
            actions: vec!["arn:aws:sns:us-east-1:123456789012:security".into()],
        };
        let m = chain(
            w,
            Some("cloudtrail"),
            &f,
            std::slice::from_ref(&alarm),
            &none,
        );
        assert_eq!(
            m.missing.as_deref(),
            Some("alarm trail-changes-alarm notifies no SNS topic with a confirmed subscription")
        );
        let m = chain(w, Some("cloudtrail"), &f, &[alarm], &|t| {
            t.ends_with(":security")
        });
        assert_eq!(m.missing, None);
        assert_eq!(
            m.subscribed_topic.as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:security")
        );
        let elsewhere = MetricFilter {
            log_group: "other".into(),
            ..filter(CIS[4].1)
        };
        assert!(
            chain(w, Some("cloudtrail"), &[elsewhere], &[], &none)
                .filter
                .is_none()
        );
    }
}
