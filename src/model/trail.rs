//! CloudTrail: is the account's activity recorded, and what risky things happened.

use super::Level;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrailSnapshot {
    pub trails: Vec<Trail>,
    /// Most recent first.
    pub events: Vec<TrailEvent>,
    /// The CIS 4.x chains: metric filter on the trail's log group → alarm → subscribed topic.
    /// Empty when nothing looked (the drill world keeps its chains healthy and unlisted).
    pub monitoring: Vec<Monitor>,
    /// Regions that were read, for "no trail covers REGION".
    pub regions: Vec<String>,
    /// Parts of the account this source could not read, and why.
    pub unavailable: Vec<super::iam::Unavailable>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trail {
    pub name: String,
    pub arn: String,
    /// The region the trail lives in; a multi-region trail is also seen (as a shadow
    /// trail) from every other region.
    pub home_region: String,
    pub multi_region: bool,
    pub logging: bool,
    pub log_file_validation: bool,
    pub bucket: String,
    pub kms_key: Option<String>,
    pub log_group_arn: Option<String>,
    pub latest_delivery: Option<Timestamp>,
    pub latest_delivery_error: Option<String>,
    /// Last delivery to CloudWatch Logs; CIS wants one within the last day.
    pub cloudwatch_delivery: Option<Timestamp>,
    /// `All`, `ReadOnly`, `WriteOnly`, or `None` when management events are not recorded.
    pub management_events: Option<String>,
    pub advanced_selectors: bool,
}

impl Trail {
    /// Problems with the trail itself, against [SER-CLOUD-008].
    pub fn problems(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.logging {
            out.push("logging is OFF");
        }
        if !self.multi_region {
            out.push("single-region only");
        }
        if !self.log_file_validation {
            out.push("log file validation off");
        }
        out
    }
}

/// The CIS AWS Foundations v5.0.0 section 4 items, each a log metric filter with an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Watch {
    UnauthorizedApiCalls,
    SignInWithoutMfa,
    RootUsage,
    IamPolicyChanges,
    CloudTrailChanges,
    ConsoleAuthFailures,
}

impl Watch {
    pub const ALL: [Watch; 6] = [
        Watch::UnauthorizedApiCalls,
        Watch::SignInWithoutMfa,
        Watch::RootUsage,
        Watch::IamPolicyChanges,
        Watch::CloudTrailChanges,
        Watch::ConsoleAuthFailures,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Watch::UnauthorizedApiCalls => "unauthorized API calls",
            Watch::SignInWithoutMfa => "console sign-in without MFA",
            Watch::RootUsage => "root account usage",
            Watch::IamPolicyChanges => "IAM policy changes",
            Watch::CloudTrailChanges => "CloudTrail configuration changes",
            Watch::ConsoleAuthFailures => "console authentication failures",
        }
    }
}

/// How far one monitoring chain got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    pub watch: Watch,
    /// The log group searched (the trail's), if the trail delivers to CloudWatch Logs.
    pub log_group: Option<String>,
    /// `name (namespace/metric)` of a filter whose pattern was recognised.
    pub filter: Option<String>,
    pub alarm: Option<String>,
    /// The alarm's SNS topic that has at least one confirmed subscription.
    pub subscribed_topic: Option<String>,
    /// The first missing link, in words; `None` when the chain is complete.
    pub missing: Option<String>,
}

/// The IAM calls CIS 4.4 counts as policy changes.
pub const POLICY_CHANGES: [&str; 16] = [
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "CreatePolicy",
    "DeletePolicy",
    "CreatePolicyVersion",
    "DeletePolicyVersion",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
];

/// This many AccessDenied answers to one identity within `BURST_WINDOW_S` is a burst.
pub const BURST_DENIALS: usize = 5;
pub const BURST_WINDOW_S: i64 = 600;

/// One identity that was refused many times in a short while: someone probing what a
/// credential can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenialBurst {
    pub user: String,
    pub count: usize,
    pub first: Timestamp,
    pub last: Timestamp,
}

fn denied(e: &TrailEvent) -> bool {
    e.error.as_deref().is_some_and(|e| {
        e.contains("AccessDenied")
            || e.contains("UnauthorizedOperation")
            || e.contains("Unauthorized")
    })
}

/// Bursts of AccessDenied per identity, worst first; `events` in any order.
pub fn denial_bursts(events: &[TrailEvent]) -> Vec<DenialBurst> {
    let mut by_user: std::collections::BTreeMap<&str, Vec<Timestamp>> = Default::default();
    for e in events.iter().filter(|e| denied(e)) {
        by_user.entry(&e.user).or_default().push(e.time);
    }
    let mut out = Vec::new();
    for (user, mut times) in by_user {
        times.sort();
        // The densest window of BURST_WINDOW_S seconds.
        let mut best: Option<(usize, Timestamp, Timestamp)> = None;
        let mut lo = 0;
        for hi in 0..times.len() {
            while times[hi].as_second() - times[lo].as_second() > BURST_WINDOW_S {
                lo += 1;
            }
            let n = hi - lo + 1;
            if best.is_none_or(|(b, _, _)| n > b) {
                best = Some((n, times[lo], times[hi]));
            }
        }
        if let Some((count, first, last)) = best
            && count >= BURST_DENIALS
        {
            out.push(DenialBurst {
                user: user.to_string(),
                count,
                first,
                last,
            });
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.user.cmp(&b.user)));
    out
}

/// `2h`, `30m`, `45s`, `3d` in seconds.
fn span_seconds(text: &str) -> Option<i64> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    Some(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    })
}

impl TrailEvent {
    /// The trail filter (`/` on the pane, `:trail ARGS`): words that must all hold, each
    /// `user=`, `event=`, `ip=` (a prefix), `since=2h`, `risky`, or text found in the user,
    /// event, address, region or risk (case ignored).
    pub fn matches_query(&self, query: &str, now: Timestamp) -> bool {
        let has = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
        query
            .split_whitespace()
            .all(|word| match word.split_once('=') {
                Some(("user", v)) => has(&self.user, v),
                Some(("event", v)) => has(&self.event_name, v),
                Some(("ip", v)) => self.source_ip.starts_with(v),
                Some(("since", v)) => {
                    span_seconds(v).is_none_or(|s| self.time.as_second() >= now.as_second() - s)
                }
                _ if word == "risky" => self.risk().is_some(),
                _ => {
                    let risk = self.risk().map_or("", |r| r.1);
                    [&self.user, &self.event_name, &self.source_ip, &self.region]
                        .iter()
                        .any(|f| has(f, word))
                        || has(risk, word)
                }
            })
    }
}

/// What one access key did, in words: a summary for the incident timeline and one line
/// per call.
pub fn key_activity(
    user: &str,
    suffix: &str,
    hours: u32,
    events: &[TrailEvent],
) -> (String, Vec<String>) {
    use std::collections::BTreeSet;
    let join = |s: BTreeSet<&str>| s.into_iter().collect::<Vec<_>>().join(", ");
    let summary = if events.is_empty() {
        format!("access key …{suffix} of {user}: no calls in the last {hours} h")
    } else {
        format!(
            "access key …{suffix} of {user}, last {hours} h: {} calls ({}) from {} in {}",
            events.len(),
            join(events.iter().map(|e| e.event_name.as_str()).collect()),
            join(events.iter().map(|e| e.source_ip.as_str()).collect()),
            join(events.iter().map(|e| e.region.as_str()).collect())
        )
    };
    let lines = events
        .iter()
        .map(|e| {
            let error = e
                .error
                .as_deref()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default();
            format!(
                "{} {} {} from {}{error}",
                e.time, e.region, e.event_name, e.source_ip
            )
        })
        .collect();
    (summary, lines)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrailEvent {
    pub time: Timestamp,
    pub user: String,
    pub event_name: String,
    pub source_ip: String,
    pub region: String,
    /// For console logins: whether MFA was used.
    pub mfa_used: Option<bool>,
    pub error: Option<String>,
    /// CloudTrail's EventId, when the event came from CloudTrail: it names an event once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `Root`, `IAMUser`, `AssumedRole`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_type: Option<String>,
}

impl TrailEvent {
    /// Why this event deserves a reviewer's eye, if it does.
    pub fn risk(&self) -> Option<(Level, &'static str)> {
        let name = self.event_name.as_str();
        if self.user == "root" || self.identity_type.as_deref() == Some("Root") {
            return Some((Level::Crit, "root activity"));
        }
        match name {
            "StopLogging" | "DeleteTrail" | "UpdateTrail" | "PutEventSelectors" => {
                Some((Level::Crit, "trail tampering"))
            }
            "ConsoleLogin" if self.error.is_some() => Some((Level::Warn, "failed login")),
            "ConsoleLogin" if self.mfa_used == Some(false) => {
                Some((Level::Warn, "console login without MFA"))
            }
            "CreateAccessKey" => Some((Level::Warn, "access key created")),
            "CreateLoginProfile" => Some((Level::Warn, "console password created")),
            n if POLICY_CHANGES.contains(&n) => Some((Level::Warn, "IAM policy change")),
            n if n.starts_with("Put") && n.ends_with("Policy")
                || n.starts_with("Attach") && n.ends_with("Policy")
                || n.starts_with("CreatePolicy") =>
            {
                Some((Level::Warn, "IAM policy change"))
            }
            _ if denied(self) => Some((Level::Warn, "access denied")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, name: &str) -> TrailEvent {
        TrailEvent {
            time: Timestamp::UNIX_EPOCH,
            user: user.into(),
            event_name: name.into(),
            source_ip: "198.51.100.7".into(),
            region: "ap-northeast-2".into(),
            mfa_used: None,
            error: None,
            id: None,
            identity_type: None,
        }
    }

    #[test]
    fn risky_events_are_named() {
        assert_eq!(
            event("root", "DescribeInstances").risk().unwrap().1,
            "root activity"
        );
        assert_eq!(event("ci", "StopLogging").risk().unwrap().0, Level::Crit);
        assert_eq!(
            event("kim", "AttachUserPolicy").risk().unwrap().1,
            "IAM policy change"
        );
        assert_eq!(
            event("kim", "CreateAccessKey").risk().unwrap().1,
            "access key created"
        );
        let login = TrailEvent {
            mfa_used: Some(false),
            ..event("kim", "ConsoleLogin")
        };
        assert_eq!(login.risk().unwrap().1, "console login without MFA");
        assert_eq!(event("kim", "DescribeInstances").risk(), None);
        assert_eq!(
            event("kim", "CreateLoginProfile").risk().unwrap().1,
            "console password created"
        );
        assert_eq!(
            event("kim", "PutEventSelectors").risk().unwrap().1,
            "trail tampering"
        );
        let ec2 = TrailEvent {
            error: Some("Client.UnauthorizedOperation: You are not authorized".into()),
            ..event("bob", "DescribeInstances")
        };
        assert_eq!(ec2.risk().unwrap().1, "access denied", "EC2's word for it");
        let by_root = TrailEvent {
            identity_type: Some("Root".into()),
            ..event("123456789012", "ListBuckets")
        };
        assert_eq!(by_root.risk().unwrap().1, "root activity");
    }

    #[test]
    fn the_trail_query_combines_fields_time_and_text() {
        let now = Timestamp::from_second(100_000).unwrap();
        let e = TrailEvent {
            time: Timestamp::from_second(100_000 - 3600).unwrap(),
            ..event("alice", "StopLogging")
        };
        for (q, want) in [
            ("user=alice since=2h", true),
            ("user=ALI", true),
            ("user=alice since=30m", false),
            ("event=stoplog ip=198.51.100.", true),
            ("ip=203.", false),
            ("risky", true),
            ("tampering", true),
            ("northeast", true),
            ("user=bob", false),
            ("", true),
        ] {
            assert_eq!(e.matches_query(q, now), want, "{q}");
        }
        assert!(!event("kim", "DescribeInstances").matches_query("risky", now));
    }

    #[test]
    fn a_burst_of_denials_is_five_within_ten_minutes() {
        let denied_at = |user: &str, s: i64| TrailEvent {
            time: Timestamp::from_second(s).unwrap(),
            error: Some("AccessDenied".into()),
            ..event(user, "ListUsers")
        };
        let mut events: Vec<TrailEvent> =
            (0..5).map(|i| denied_at("probe", 1000 + i * 100)).collect();
        // Spread over hours: never five in one window.
        events.extend((0..6).map(|i| denied_at("slow", i * 3600)));
        events.push(event("probe", "ListUsers"));
        let bursts = denial_bursts(&events);
        assert_eq!(bursts.len(), 1, "{bursts:?}");
        assert_eq!((bursts[0].user.as_str(), bursts[0].count), ("probe", 5));
        assert_eq!(
            bursts[0].last.as_second() - bursts[0].first.as_second(),
            400
        );
    }
}
