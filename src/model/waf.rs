//! Web application firewall: ACLs, rules, request rates and what was blocked.

use super::Level;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WafSnapshot {
    pub acls: Vec<WebAcl>,
    /// Requests per minute, oldest first.
    pub rates: Vec<RatePoint>,
    pub top_ips: Vec<Count>,
    pub top_rules: Vec<Count>,
    /// Most recent first.
    pub recent_blocked: Vec<BlockedRequest>,
    /// Where the blocked requests and the tops come from (`WAF logs aws-waf-logs-shop`,
    /// `sampled requests`), so nobody mistakes a sample for the whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_from: Option<String>,
    /// What the rates' `allowed` counts.
    pub passed: Passed,
}

/// What a WAF's "allowed" series counts: not every source sees every request it lets by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Passed {
    /// Every request let through (AWS WAF's AllowedRequests).
    #[default]
    Allowed,
    /// Only the requests a rule flagged and let through: ModSecurity's audit log
    /// (`SecAuditEngine RelevantOnly`) holds no others, so this is no traffic rate.
    Flagged,
    /// Both summed: AWS WAF's allowed and ModSecurity's flagged-but-passed.
    Mixed,
}

impl Passed {
    /// The word the pane and the overview put before the number.
    pub fn label(self) -> &'static str {
        match self {
            Passed::Allowed => "allowed",
            Passed::Flagged => "flagged, passed",
            Passed::Mixed => "allowed+flagged",
        }
    }

    /// What a sum of sources counting `self` and `other` counts.
    pub fn and(self, other: Passed) -> Passed {
        if self == other { self } else { Passed::Mixed }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WebAcl {
    pub name: String,
    pub scope: String,
    pub default_action: String,
    pub rules: Vec<WafRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RuleKind {
    Managed {
        vendor: String,
        group: String,
        /// The pinned version; none means the vendor's default, which moves on its own.
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// Rules of the group overridden to count instead of their own action.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        excluded: Vec<String>,
    },
    /// `key`: what requests are counted by (`IP`, `FORWARDED_IP`, `CONSTANT`, `CUSTOM_KEYS`).
    RateBased {
        limit: u32,
        window_s: u32,
        key: String,
    },
    IpSet {
        set: String,
        /// How many addresses the set holds, when it could be read.
        #[serde(skip_serializing_if = "Option::is_none")]
        addresses: Option<usize>,
    },
    GeoMatch {
        countries: Vec<String>,
    },
    #[default]
    Custom,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WafRule {
    pub name: String,
    pub priority: u32,
    pub kind: RuleKind,
    pub action: String,
    /// Requests the rule blocked over the last hour, when its metric was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<u64>,
}

impl WafRule {
    pub fn describe(&self) -> String {
        match &self.kind {
            RuleKind::Managed {
                vendor,
                version,
                excluded,
                ..
            } => {
                let mut text = format!("managed rule group ({vendor}");
                if let Some(v) = version {
                    text.push_str(&format!(" {v}"));
                }
                text.push(')');
                if !excluded.is_empty() {
                    text.push_str(&format!(" excluding {}", excluded.join(",")));
                }
                text
            }
            RuleKind::RateBased {
                limit,
                window_s,
                key,
            } => {
                format!("rate {limit} req/{} per {key}", window_text(*window_s))
            }
            RuleKind::IpSet { set, addresses } => match addresses {
                Some(n) => format!("ip set {set} ({n} addresses)"),
                None => format!("ip set {set}"),
            },
            RuleKind::GeoMatch { countries } => format!("geo {}", countries.join(",")),
            RuleKind::Custom => "custom".into(),
        }
    }
}

fn window_text(secs: u32) -> String {
    if secs.is_multiple_of(60) {
        format!("{}min", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RatePoint {
    pub allowed: u64,
    pub blocked: u64,
    /// Matched by a rule in count mode: what a rule would block once switched on.
    pub counted: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockedRequest {
    pub time: Timestamp,
    pub client_ip: String,
    pub country: String,
    pub method: String,
    pub uri: String,
    pub rule: String,
}

/// How far back the offered attackers go: the ones blocking them is about now.
pub const ATTACKERS_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

impl WafSnapshot {
    /// The clients blocked or rate-limited most since `now - ATTACKERS_WINDOW`, most first,
    /// leaving out those an IP set already stops: what `waf-block-ip` offers.
    pub fn attackers(&self, now: Timestamp, at_most: usize) -> Vec<String> {
        let since = now - ATTACKERS_WINDOW;
        let ip_set_rules: Vec<&str> = self
            .acls
            .iter()
            .flat_map(|a| &a.rules)
            .filter(|r| matches!(r.kind, RuleKind::IpSet { .. }))
            .map(|r| r.name.as_str())
            .collect();
        let mut counts: Vec<(String, u64)> = Vec::new();
        let mut stopped: Vec<&str> = Vec::new();
        for b in self.recent_blocked.iter().filter(|b| b.time >= since) {
            if ip_set_rules.contains(&b.rule.as_str()) {
                stopped.push(&b.client_ip);
                continue;
            }
            match counts.iter_mut().find(|(ip, _)| *ip == b.client_ip) {
                Some((_, n)) => *n += 1,
                None => counts.push((b.client_ip.clone(), 1)),
            }
        }
        counts.retain(|(ip, _)| !stopped.contains(&ip.as_str()));
        // Stable: equal counts keep the order of the most recent first.
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        counts.into_iter().take(at_most).map(|(ip, _)| ip).collect()
    }

    /// The newest request seen from any address `nets` cover was stopped by an IP-set rule.
    /// `Err` says what was seen instead, or that nothing was: then the block is not
    /// verified.
    pub fn stopped_by_ip_set(&self, nets: &[ipnet::IpNet]) -> Result<(), String> {
        let newest = self.recent_blocked.iter().find(|b| {
            b.client_ip
                .parse()
                .is_ok_and(|ip| crate::ops::addresses::covers(nets, ip))
        });
        let Some(b) = newest else {
            return Err(format!(
                "not verified: no request from {} seen yet{}",
                crate::ops::addresses::join(nets),
                self.requests_from
                    .as_ref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            ));
        };
        let ip_set_rule = self
            .acls
            .iter()
            .flat_map(|a| &a.rules)
            .any(|r| r.name == b.rule && matches!(r.kind, RuleKind::IpSet { .. }));
        if ip_set_rule {
            Ok(())
        } else {
            Err(format!(
                "not verified: the newest request from {} ({}) was stopped by {}, not an IP set",
                b.client_ip, b.time, b.rule
            ))
        }
    }

    /// A surge: the last minute blocked more than three times the median of the window
    /// before it (and enough requests that it is not noise).
    pub fn surge(&self) -> Option<(u64, u64)> {
        let (last, before) = self.rates.split_last()?;
        if before.len() < 5 {
            return None;
        }
        let mut blocked: Vec<u64> = before.iter().map(|p| p.blocked).collect();
        blocked.sort_unstable();
        let median = blocked[blocked.len() / 2];
        (last.blocked >= 100 && last.blocked > median.max(1) * 3).then_some((last.blocked, median))
    }

    pub fn level(&self) -> Level {
        if self.surge().is_some() {
            Level::Crit
        } else if self.acls.is_empty() {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_blocked(series: &[u64]) -> WafSnapshot {
        WafSnapshot {
            rates: series
                .iter()
                .map(|&b| RatePoint {
                    allowed: 1000,
                    blocked: b,
                    counted: 0,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn surge_needs_a_jump_over_the_median() {
        assert!(
            with_blocked(&[20, 25, 30, 22, 28, 31, 400])
                .surge()
                .is_some()
        );
        assert!(
            with_blocked(&[20, 25, 30, 22, 28, 31, 60])
                .surge()
                .is_none()
        );
        assert!(with_blocked(&[400]).surge().is_none());
    }

    #[test]
    fn rate_rule_reads_per_minute() {
        let rule = WafRule {
            name: "rate".into(),
            priority: 0,
            kind: RuleKind::RateBased {
                limit: 100,
                window_s: 60,
                key: "IP".into(),
            },
            action: "Block".into(),
            blocked: None,
        };
        assert_eq!(rule.describe(), "rate 100 req/1min per IP");
    }
}
