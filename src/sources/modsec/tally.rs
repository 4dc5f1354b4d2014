//! What the audit log's records add up to: per-minute counts for the last hour, who was
//! blocked and by which rule in the last ten minutes, and the latest blocked requests. Every
//! part is bounded, however long the console runs and however hard the site is attacked.

use super::record::AuditRecord;
use crate::model::waf::{BlockedRequest, Count, RatePoint};
use jiff::Timestamp;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Minutes of rates kept: the sparkline's hour.
pub const RATE_MINUTES: i64 = 60;
/// Minutes the top IPs and rules cover, as the block-ip playbook's "last 10 minutes".
pub const TOP_MINUTES: i64 = 10;
/// Blocked requests kept for the table.
pub const RECENT: usize = 200;
/// Distinct clients or rules counted per minute; past it they add to [`OTHERS`], so a
/// spoofed-address flood cannot grow the tally.
pub const KEYS_PER_MINUTE: usize = 5_000;
pub const OTHERS: &str = "(others)";
/// How many top IPs and rules are published.
pub const TOP: usize = 10;

#[derive(Default)]
struct Minute {
    point: RatePoint,
    ips: HashMap<String, u64>,
    rules: HashMap<String, u64>,
}

fn bump(map: &mut HashMap<String, u64>, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else if map.len() < KEYS_PER_MINUTE {
        map.insert(key.to_string(), 1);
    } else {
        *map.entry(OTHERS.to_string()).or_default() += 1;
    }
}

#[derive(Default)]
pub struct Tally {
    /// By minute since the epoch.
    minutes: BTreeMap<i64, Minute>,
    recent: VecDeque<BlockedRequest>,
    /// The newest CRS version and engine mode the producer named.
    pub crs_version: Option<String>,
    pub engine: Option<String>,
    pub records: u64,
}

fn minute_of(t: Timestamp) -> i64 {
    t.as_second().div_euclid(60)
}

impl Tally {
    pub fn add(&mut self, r: &AuditRecord) {
        self.records += 1;
        if r.crs_version.is_some() {
            self.crs_version.clone_from(&r.crs_version);
        }
        if !r.engine.is_empty() {
            self.engine = Some(r.engine.clone());
        }
        let minute = self.minutes.entry(minute_of(r.time)).or_default();
        if !r.blocked() {
            minute.point.allowed += 1;
            return;
        }
        minute.point.blocked += 1;
        bump(&mut minute.ips, &r.client_ip);
        if r.denied_by_list() {
            bump(&mut minute.rules, super::DENY_RULE);
        }
        for m in &r.messages {
            bump(&mut minute.rules, &m.rule);
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(BlockedRequest {
            time: r.time,
            client_ip: r.client_ip.clone(),
            country: "-".into(),
            method: r.method.clone(),
            uri: r.uri.clone(),
            rule: r.reason(),
        });
    }

    /// Forgets minutes older than the hour before `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let oldest = minute_of(now) - RATE_MINUTES + 1;
        self.minutes = self.minutes.split_off(&oldest);
    }

    /// One point per minute of the last hour up to `now`, oldest first; minutes without
    /// records count zero, since a quiet audit log means nothing was flagged.
    pub fn rates(&self, now: Timestamp) -> Vec<RatePoint> {
        let last = minute_of(now);
        (last - RATE_MINUTES + 1..=last)
            .map(|m| self.minutes.get(&m).map(|x| x.point).unwrap_or_default())
            .collect()
    }

    fn top(&self, now: Timestamp, pick: impl Fn(&Minute) -> &HashMap<String, u64>) -> Vec<Count> {
        let from = minute_of(now) - TOP_MINUTES + 1;
        let mut sum: HashMap<&str, u64> = HashMap::new();
        for (_, m) in self.minutes.range(from..) {
            for (k, n) in pick(m) {
                *sum.entry(k).or_default() += n;
            }
        }
        let mut counts: Vec<Count> = sum
            .into_iter()
            .map(|(k, n)| Count {
                key: k.to_string(),
                count: n,
            })
            .collect();
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        counts.truncate(TOP);
        counts
    }

    pub fn top_ips(&self, now: Timestamp) -> Vec<Count> {
        self.top(now, |m| &m.ips)
    }

    pub fn top_rules(&self, now: Timestamp) -> Vec<Count> {
        self.top(now, |m| &m.rules)
    }

    /// Most recent first.
    pub fn recent(&self) -> Vec<BlockedRequest> {
        self.recent.iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::modsec::record::Matched;

    fn record(ip: &str, at: i64, rules: &[&str], status: u16) -> AuditRecord {
        AuditRecord {
            time: Timestamp::from_second(at).unwrap(),
            unique_id: format!("{ip}-{at}"),
            client_ip: ip.into(),
            method: "GET".into(),
            uri: "/".into(),
            status,
            messages: rules
                .iter()
                .map(|r| Matched {
                    rule: r.to_string(),
                    message: "Inbound Anomaly Score Exceeded (Total Score: 5)".into(),
                })
                .collect(),
            crs_version: Some("3.3.4".into()),
            engine: "Enabled".into(),
        }
    }

    #[test]
    fn minutes_tops_and_recent_stay_bounded() {
        let mut t = Tally::default();
        let now = 1_800_000_000;
        t.add(&record("203.0.113.7", now - 30, &["942100", "949110"], 403));
        t.add(&record("203.0.113.7", now - 20, &["941100", "949110"], 403));
        t.add(&record(
            "198.51.100.9",
            now - 10,
            &["942100", "949110"],
            403,
        ));
        t.add(&record("192.0.2.1", now - 5, &["920350"], 200));
        t.add(&record(
            "192.0.2.2",
            now - 3 * 3600,
            &["942100", "949110"],
            403,
        ));
        let at = Timestamp::from_second(now).unwrap();
        t.expire(at);
        let rates = t.rates(at);
        assert_eq!(rates.len(), 60);
        let blocked: u64 = rates.iter().map(|p| p.blocked).sum();
        let allowed: u64 = rates.iter().map(|p| p.allowed).sum();
        assert_eq!((blocked, allowed), (3, 1), "the old record has expired");
        assert_eq!(t.top_ips(at)[0].key, "203.0.113.7");
        assert_eq!(t.top_ips(at)[0].count, 2);
        let rules: Vec<(String, u64)> = t
            .top_rules(at)
            .into_iter()
            .map(|c| (c.key, c.count))
            .collect();
        assert_eq!(
            rules,
            [
                ("949110".into(), 3),
                ("942100".into(), 2),
                ("941100".into(), 1)
            ]
        );
        for i in 0..(RECENT as i64 + 50) {
            t.add(&record(
                &format!("10.0.{}.{}", i / 250, i % 250),
                now,
                &["949110"],
                403,
            ));
        }
        assert_eq!(t.recent().len(), RECENT);
        assert_eq!(t.recent()[0].client_ip, "10.0.0.249");
        for i in 0..(KEYS_PER_MINUTE + 10) {
            t.add(&record(&format!("fd00::{i:x}"), now, &["949110"], 403));
        }
        let ips = t.top_ips(at);
        assert_eq!(ips.len(), TOP);
        assert!(
            t.minutes
                .values()
                .all(|m| m.ips.len() <= KEYS_PER_MINUTE + 1),
            "distinct clients per minute are capped"
        );
        assert!(t.top(at, |m| &m.ips).iter().any(|c| c.key == OTHERS));
    }
}
