//! AWS WAF in front of the ALB: the mall's traffic passes, the internet's usual background
//! of scanners and injection attempts gets blocked, counted per minute like CloudWatch does.

use super::dice::Dice;
use super::{Sec, at};
use crate::model::waf::{
    BlockedRequest, Count, Passed, RatePoint, RuleKind, WafRule, WafSnapshot, WebAcl,
};
use jiff::Timestamp;
use std::collections::VecDeque;
use std::f64::consts::TAU;

mod flood;

/// Minutes of rates kept, like a one-hour CloudWatch graph.
const WINDOW: usize = 60;
const RECENT: usize = 50;
/// The background never reaches `WafSnapshot::surge`'s floor of 100 a minute: a surge in the
/// drill is always a scenario's doing, never an accident of the dice.
const BLOCKED_CAP: u64 = 90;
const TOP_IPS: usize = 10;

struct Rule {
    name: &'static str,
    kind: fn() -> RuleKind,
    /// Share of the background's blocked requests this rule catches.
    weight: u32,
    requests: &'static [(&'static str, &'static str)],
}

const RULES: [Rule; 5] = [
    Rule {
        name: "blocked-ips",
        kind: || RuleKind::IpSet {
            set: "blocked-ips-v4".into(),
            addresses: None,
        },
        weight: 12,
        requests: &[("GET", "/"), ("GET", "/wp-admin/"), ("GET", "/robots.txt")],
    },
    Rule {
        name: "rate-limit-100",
        kind: || RuleKind::RateBased {
            limit: 100,
            window_s: 60,
            key: "IP".into(),
        },
        weight: 8,
        requests: &[
            ("GET", "/"),
            ("GET", "/api/products?page=2"),
            ("POST", "/api/cart"),
        ],
    },
    Rule {
        name: "AWSManagedRulesCommonRuleSet",
        kind: || managed("AWSManagedRulesCommonRuleSet"),
        weight: 45,
        requests: &[
            ("GET", "/wp-login.php"),
            ("POST", "/xmlrpc.php"),
            ("GET", "/.env"),
            ("GET", "/search?q=<script>alert(1)</script>"),
            ("GET", "/static/../../etc/passwd"),
        ],
    },
    Rule {
        name: "AWSManagedRulesKnownBadInputsRuleSet",
        kind: || managed("AWSManagedRulesKnownBadInputsRuleSet"),
        weight: 15,
        requests: &[
            ("GET", "/api/log?x=${jndi:ldap://203.0.113.5/a}"),
            ("GET", "/actuator/env"),
            ("POST", "/cgi-bin/.%2e/.%2e/bin/sh"),
        ],
    },
    Rule {
        name: "AWSManagedRulesSQLiRuleSet",
        kind: || managed("AWSManagedRulesSQLiRuleSet"),
        weight: 20,
        requests: &[
            ("GET", "/?id=1' OR '1'='1"),
            (
                "GET",
                "/product?id=10 UNION SELECT username,password FROM users--",
            ),
            ("POST", "/login"),
        ],
    },
];
const IP_SET_RULE: usize = 0;
const RATE_RULE: usize = 1;

fn managed(group: &str) -> RuleKind {
    RuleKind::Managed {
        vendor: "AWS".into(),
        group: group.into(),
        version: None,
        excluded: vec![],
    }
}

/// Clients that get blocked, from the documentation ranges only, with how often they show.
const CLIENTS: [(&str, &str, u32); 12] = [
    ("203.0.113.77", "CN", 30),
    ("198.51.100.23", "US", 18),
    ("192.0.2.146", "RU", 12),
    ("203.0.113.9", "VN", 9),
    ("198.51.100.201", "NL", 7),
    ("192.0.2.58", "BR", 6),
    ("203.0.113.154", "KR", 5),
    ("198.51.100.88", "DE", 4),
    ("192.0.2.211", "IN", 3),
    ("203.0.113.31", "SG", 3),
    ("198.51.100.140", "FR", 2),
    ("192.0.2.7", "KR", 1),
];
/// Members of the `blocked-ips` set when the drill opens: everything they send stops there.
const IP_SET: [usize; 2] = [2, 5];
/// Room for a flood's own clients next to the usual ones.
pub(crate) const MAX_FLOOD_IPS: usize = 16;
const SLOTS: usize = CLIENTS.len() + MAX_FLOOD_IPS;
/// The clients noisy enough to trip the rate limit now and then.
const HEAVY: [usize; 3] = [0, 1, 3];

#[derive(Debug, Clone, Copy, Default)]
struct Minute {
    allowed: u64,
    blocked: u64,
    by_client: [u32; SLOTS],
    by_rule: [u32; RULES.len()],
}

#[derive(Debug, Clone, Copy)]
struct Blocked {
    t: Sec,
    client: u8,
    rule: u8,
    request: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct WafSim {
    dice: Dice,
    /// Completed minutes, oldest first.
    window: VecDeque<Minute>,
    current: Minute,
    carry: f64,
    /// Most recent first.
    recent: VecDeque<Blocked>,
    surge: Option<(u64, u64)>,
    /// Entries of the `blocked-ips` IP set.
    ip_set: Vec<ipnet::IpNet>,
    /// Clients beyond `CLIENTS`: a flood's, by slot.
    extra: Vec<(String, &'static str)>,
    flood: Option<flood::Flood>,
    /// Draws for faults only, so injecting one never reshuffles the baseline.
    chaos: Dice,
}

impl WafSim {
    /// Starts an hour early so the graph is full and the current minute partly counted when
    /// the drill opens.
    pub fn new(seed: u64, start_abs: i64) -> WafSim {
        let mut waf = WafSim {
            dice: Dice::new(seed, 3),
            window: VecDeque::with_capacity(WINDOW + 1),
            current: Minute::default(),
            carry: 0.0,
            recent: VecDeque::with_capacity(RECENT + 1),
            surge: None,
            ip_set: IP_SET
                .iter()
                .filter_map(|&i| CLIENTS[i].0.parse::<std::net::IpAddr>().ok())
                .map(ipnet::IpNet::from)
                .collect(),
            extra: Vec::new(),
            flood: None,
            chaos: Dice::new(seed, 11),
        };
        let warm_up = WINDOW as i64 * 60 + start_abs.rem_euclid(60);
        for t in -warm_up + 1..=0 {
            let abs = start_abs + t;
            waf.tick(t, abs, super::traffic::base_rpm(abs));
        }
        waf
    }

    /// One second of traffic ending at unix second `abs`.
    pub fn tick(&mut self, t: Sec, abs: i64, rpm: f64) {
        self.carry += rpm / 60.0 * (0.9 + 0.2 * self.dice.unit());
        let whole = self.carry.floor();
        self.carry -= whole;
        self.current.allowed += whole as u64;
        let phase = |period: i64| abs.rem_euclid(period) as f64 / period as f64 * TAU;
        let blocked_per_min = 36.0 + 14.0 * phase(1700).sin() + 6.0 * phase(420).sin();
        let arrivals = u64::from(self.dice.poisson(blocked_per_min / 60.0));
        for _ in 0..arrivals.min(BLOCKED_CAP.saturating_sub(self.current.blocked)) {
            self.block(t);
        }
        flood::tick(self, t);
        if abs.rem_euclid(60) == 0 {
            self.close_minute();
        }
    }

    fn block(&mut self, t: Sec) {
        let rule = self.dice.weighted(&RULES.map(|r| r.weight));
        let client = match rule {
            IP_SET_RULE => {
                let members: Vec<usize> = (0..CLIENTS.len()).filter(|&i| self.in_set(i)).collect();
                let pick = self.dice.below(members.len());
                members.get(pick).copied().unwrap_or(IP_SET[0])
            }
            RATE_RULE => HEAVY[self.dice.below(HEAVY.len())],
            _ => {
                let weights = CLIENTS.map(|c| c.2);
                let mut pick = self.dice.weighted(&weights);
                // Clients in the IP set never reach the later rules; bounded, because an
                // operator may have put every one of them there.
                let mut tries = 0;
                while self.in_set(pick) && tries < 32 {
                    pick = self.dice.weighted(&weights);
                    tries += 1;
                }
                pick
            }
        };
        // Once in the set, the set's rule is the first to match it.
        let rule = if self.in_set(client) {
            IP_SET_RULE
        } else {
            rule
        };
        let request = self.dice.below(RULES[rule].requests.len());
        self.record(t, client, rule, request);
    }

    fn record(&mut self, t: Sec, client: usize, rule: usize, request: usize) {
        self.current.blocked += 1;
        self.current.by_client[client] += 1;
        self.current.by_rule[rule] += 1;
        self.recent.push_front(Blocked {
            t,
            client: client as u8,
            rule: rule as u8,
            request: request as u8,
        });
        self.recent.truncate(RECENT);
    }

    fn ip(&self, client: usize) -> &str {
        match CLIENTS.get(client) {
            Some(c) => c.0,
            None => self
                .extra
                .get(client - CLIENTS.len())
                .map_or("", |c| c.0.as_str()),
        }
    }

    fn country(&self, client: usize) -> &str {
        match CLIENTS.get(client) {
            Some(c) => c.1,
            None => self.extra.get(client - CLIENTS.len()).map_or("", |c| c.1),
        }
    }

    fn in_set(&self, client: usize) -> bool {
        self.ip(client)
            .parse()
            .is_ok_and(|ip| crate::ops::addresses::covers(&self.ip_set, ip))
    }

    fn close_minute(&mut self) {
        self.window.push_back(std::mem::take(&mut self.current));
        while self.window.len() > WINDOW {
            self.window.pop_front();
        }
        let rates = WafSnapshot {
            rates: self.rates(),
            ..WafSnapshot::default()
        };
        self.surge = rates.surge();
    }

    fn rates(&self) -> Vec<RatePoint> {
        self.window
            .iter()
            .map(|m| RatePoint {
                allowed: m.allowed,
                blocked: m.blocked,
                counted: 0,
            })
            .collect()
    }

    /// The surge the last completed minute shows, as `WafSnapshot::surge` judges it.
    pub fn surge(&self) -> Option<(u64, u64)> {
        self.surge
    }

    pub fn last_blocked(&self) -> u64 {
        self.window.back().map_or(0, |m| m.blocked)
    }

    pub fn snapshot(&self, start: Timestamp) -> WafSnapshot {
        let minutes = || self.window.iter().chain(std::iter::once(&self.current));
        let mut top_ips: Vec<Count> = (0..CLIENTS.len() + self.extra.len())
            .map(|i| Count {
                key: self.ip(i).into(),
                count: minutes().map(|m| u64::from(m.by_client[i])).sum(),
            })
            .filter(|c| c.count > 0)
            .collect();
        top_ips.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        top_ips.truncate(TOP_IPS);
        let mut top_rules: Vec<Count> = RULES
            .iter()
            .enumerate()
            .map(|(i, r)| Count {
                key: r.name.into(),
                count: minutes().map(|m| u64::from(m.by_rule[i])).sum(),
            })
            .filter(|c| c.count > 0)
            .collect();
        top_rules.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        WafSnapshot {
            acls: vec![acl()],
            rates: self.rates(),
            top_ips,
            top_rules,
            recent_blocked: self
                .recent
                .iter()
                .map(|b| self.blocked_request(b, start))
                .collect(),
            requests_from: None,
            passed: Passed::Allowed,
        }
    }
}

fn acl() -> WebAcl {
    WebAcl {
        name: flood::ACL.into(),
        scope: "REGIONAL".into(),
        default_action: "Allow".into(),
        rules: RULES
            .iter()
            .enumerate()
            .map(|(i, r)| WafRule {
                name: r.name.into(),
                priority: i as u32,
                kind: (r.kind)(),
                action: "Block".into(),
                blocked: None,
            })
            .collect(),
    }
}

impl WafSim {
    fn blocked_request(&self, b: &Blocked, start: Timestamp) -> BlockedRequest {
        let client = usize::from(b.client);
        let rule = &RULES[usize::from(b.rule)];
        let (method, uri) = rule
            .requests
            .get(usize::from(b.request))
            .copied()
            .unwrap_or(("GET", "/"));
        BlockedRequest {
            time: at(start, b.t),
            client_ip: self.ip(client).into(),
            country: self.country(client).into(),
            method: method.into(),
            uri: uri.into(),
            rule: rule.name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_763_773_230; // 2025-11-22T01:00:30Z, half a minute in

    #[test]
    fn opens_with_a_full_hour_and_no_surge() {
        let start = Timestamp::from_second(START).unwrap();
        let waf = WafSim::new(5, START);
        let snap = waf.snapshot(start);
        assert_eq!(snap.rates.len(), WINDOW);
        assert_eq!(snap.recent_blocked.len(), RECENT);
        assert!(
            snap.recent_blocked
                .windows(2)
                .all(|w| w[0].time >= w[1].time)
        );
        assert!(snap.recent_blocked.iter().all(|b| b.time <= start));
        assert_eq!(snap.surge(), None);
        assert_eq!(snap.acls[0].rules.len(), 5);
    }

    #[test]
    fn background_stays_in_its_band_all_day() {
        let mut waf = WafSim::new(9, START);
        for t in 1..=86_400 {
            waf.tick(t, START + t, super::super::traffic::base_rpm(START + t));
            if t % 60 == 30 {
                let p = *waf.window.back().unwrap();
                assert!(
                    (2_900..=6_200).contains(&p.allowed),
                    "allowed {} at {t}",
                    p.allowed
                );
                assert!(
                    (3..=BLOCKED_CAP).contains(&p.blocked),
                    "blocked {} at {t}",
                    p.blocked
                );
                assert_eq!(waf.surge(), None);
            }
        }
    }
}
