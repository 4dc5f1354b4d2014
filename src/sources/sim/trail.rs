//! CloudTrail: a healthy trail and the account's recent API calls, mostly routine, with the
//! few that a reviewer should stop at.

use super::dice::Dice;
use super::iam::{ACCOUNT_ID, ACTIVE, ROTATION_AT};
use super::{Sec, at};
use crate::model::trail::{Trail, TrailEvent, TrailSnapshot};
use jiff::Timestamp;
use std::collections::VecDeque;

mod intruder;

const MIN: Sec = 60;
const HOUR: Sec = 3600;
/// Events kept for the view, most recent first.
const KEEP: usize = 200;
/// Routine events already in the trail when the drill opens, over the last `HISTORY`.
const INITIAL: usize = 36;
const HISTORY: Sec = 3 * HOUR;
const REGION: &str = "ap-northeast-2";
/// Console sign-ins are recorded in us-east-1 whatever region the user works in.
const SIGNIN_REGION: &str = "us-east-1";

/// Office egress addresses, the CI runner and the cluster's NAT gateway.
const OFFICE: [&str; 4] = [
    "198.51.100.10",
    "198.51.100.11",
    "198.51.100.14",
    "198.51.100.19",
];
const CI: &str = "192.0.2.10";
const NAT: &str = "192.0.2.200";

/// Routine calls by in-cluster controllers and the pipeline, which come from fixed places.
const MACHINE: [(&str, &str, &str); 10] = [
    ("karpenter", "DescribeInstances", NAT),
    ("karpenter", "CreateFleet", NAT),
    ("karpenter", "DescribeLaunchTemplates", NAT),
    ("velero", "CreateSnapshot", NAT),
    ("velero", "PutObject", NAT),
    ("external-secrets", "GetSecretValue", NAT),
    ("fluent-bit", "DescribeLogStreams", NAT),
    ("ci-deployer", "GetAuthorizationToken", CI),
    ("ci-deployer", "AssumeRole", CI),
    ("ci-deployer", "DescribeClusters", CI),
];
/// Routine calls people make from the office.
const HUMAN: [&str; 8] = [
    "DescribeInstances",
    "GetObject",
    "ListBuckets",
    "DescribeAlarms",
    "GetMetricData",
    "AssumeRole",
    "LookupEvents",
    "ConsoleLogin",
];

#[derive(Debug, Clone)]
pub(crate) struct TrailSim {
    dice: Dice,
    /// Most recent first.
    events: VecDeque<TrailEvent>,
    next_at: Sec,
    logging: bool,
    intruder: Option<intruder::Intruder>,
    /// When the intruder's recent calls happened, oldest first.
    intrusions: VecDeque<Sec>,
}

fn event(time: Timestamp, user: &str, name: &str, ip: &str) -> TrailEvent {
    let signin = name == "ConsoleLogin";
    TrailEvent {
        time,
        user: user.into(),
        event_name: name.into(),
        source_ip: ip.into(),
        region: if signin { SIGNIN_REGION } else { REGION }.into(),
        mfa_used: signin.then_some(true),
        error: None,
        id: None,
        identity_type: None,
    }
}

/// The risky events of the last hours, each matching a slip in IAM.
fn risky(start: Timestamp) -> Vec<TrailEvent> {
    let at = |s| at(start, s);
    vec![
        TrailEvent {
            mfa_used: Some(false),
            ..event(at(-95 * MIN), "park.seoyeon", "ConsoleLogin", OFFICE[1])
        },
        TrailEvent {
            mfa_used: Some(false),
            error: Some("Failed authentication".into()),
            ..event(at(-38 * MIN), "ops-shared", "ConsoleLogin", "203.0.113.45")
        },
        event(at(ROTATION_AT), "choi.woojin", "CreateAccessKey", OFFICE[2]),
        event(at(-160 * MIN), "choi.woojin", "AttachUserPolicy", OFFICE[2]),
    ]
}

impl TrailSim {
    pub fn new(seed: u64, start: Timestamp) -> TrailSim {
        let mut dice = Dice::new(seed, 5);
        let mut events = risky(start);
        for _ in 0..INITIAL {
            let t = -dice.between(MIN, HISTORY);
            events.push(routine(&mut dice, at(start, t)));
        }
        events.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.event_name.cmp(&b.event_name))
        });
        let next_at = dice.between(20, 180);
        TrailSim {
            dice,
            events: events.into(),
            next_at,
            logging: true,
            intruder: None,
            intrusions: VecDeque::new(),
        }
    }

    /// Oldest first, for replaying into IAM.
    pub fn history(&self) -> impl Iterator<Item = &TrailEvent> {
        self.events.iter().rev()
    }

    /// Now and then somebody or something calls an API; returns the new event.
    pub fn tick(&mut self, t: Sec, start: Timestamp) -> Option<&TrailEvent> {
        if t < self.next_at {
            return None;
        }
        self.next_at = t + self.dice.between(60, 300);
        let e = routine(&mut self.dice, at(start, t));
        self.events.push_front(e);
        self.events.truncate(KEEP);
        self.events.front()
    }

    pub fn snapshot(&self) -> TrailSnapshot {
        TrailSnapshot {
            trails: vec![Trail {
                name: "org-trail".into(),
                arn: format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/org-trail"),
                home_region: REGION.into(),
                multi_region: true,
                logging: self.logging,
                log_file_validation: true,
                bucket: "shop-cloudtrail-logs".into(),
                kms_key: Some(format!(
                    "arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/3f1c9a52-cloudtrail"
                )),
                log_group_arn: Some(format!(
                    "arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:cloudtrail:*"
                )),
                latest_delivery: self.events.front().map(|e| e.time),
                latest_delivery_error: None,
                cloudwatch_delivery: self.events.front().map(|e| e.time),
                management_events: Some("All".into()),
                advanced_selectors: false,
            }],
            events: self.events.iter().cloned().collect(),
            regions: vec![REGION.into()],
            ..TrailSnapshot::default()
        }
    }
}

fn routine(dice: &mut Dice, time: Timestamp) -> TrailEvent {
    if dice.chance(0.55) {
        let (user, name, ip) = MACHINE[dice.below(MACHINE.len())];
        event(time, user, name, ip)
    } else {
        // park.seoyeon has no MFA device, so her sign-ins are never routine.
        let name = HUMAN[dice.below(HUMAN.len())];
        let people: &[&str] = if name == "ConsoleLogin" {
            &ACTIVE[..2]
        } else {
            &ACTIVE
        };
        let user = people[dice.below(people.len())];
        event(time, user, name, OFFICE[dice.below(OFFICE.len())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_with_routine_and_a_few_risky_events_in_order() {
        let start: Timestamp = "2025-11-22T01:00:00Z".parse().unwrap();
        let mut trail = TrailSim::new(3, start);
        let snap = trail.snapshot();
        assert!(snap.trails[0].problems().is_empty());
        assert_eq!(snap.events.len(), INITIAL + 4);
        assert!(snap.events.windows(2).all(|w| w[0].time >= w[1].time));
        let risks: Vec<_> = snap
            .events
            .iter()
            .filter_map(TrailEvent::risk)
            .map(|r| r.1)
            .collect();
        for why in [
            "console login without MFA",
            "failed login",
            "access key created",
            "IAM policy change",
        ] {
            assert_eq!(
                risks.iter().filter(|&&r| r == why).count(),
                1,
                "{why}: {risks:?}"
            );
        }
        let mut fresh = 0;
        for t in 1..=3600 {
            if let Some(e) = trail.tick(t, start) {
                assert_eq!(e.risk(), None, "{e:?}");
                fresh += 1;
            }
        }
        assert!((10..=60).contains(&fresh), "{fresh}");
        assert_eq!(trail.snapshot().events.len(), INITIAL + 4 + fresh);
    }
}
