//! AWS WAF log records (the JSON WAF writes to a CloudWatch Logs group `aws-waf-logs-*`):
//! what was blocked, from where, by which rule, and a bounded store of the recent ones that
//! the pane's table, its tops and `waf-block-ip`'s offer are computed from.
//!
//! The records are filtered here, not by a FilterLogEvents pattern: moto ignores JSON
//! patterns, and a filter the endpoint silently skips would show allowed requests as blocked.

use crate::model::waf::{BlockedRequest, Count};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

/// The fields of a WAF log record the pane uses; the rest (headers, match details) is
/// skipped without being kept.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    /// Milliseconds since the epoch.
    timestamp: i64,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow, default)]
    terminating_rule_id: Cow<'a, str>,
    #[serde(borrow)]
    http_request: Request<'a>,
    #[serde(borrow, default)]
    rate_based_rule_list: Vec<RateRule<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    #[serde(borrow)]
    client_ip: Cow<'a, str>,
    #[serde(borrow, default)]
    country: Cow<'a, str>,
    #[serde(borrow, default)]
    uri: Cow<'a, str>,
    #[serde(borrow, default)]
    args: Cow<'a, str>,
    #[serde(borrow, default)]
    http_method: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RateRule<'a> {
    #[serde(borrow, default)]
    rate_based_rule_name: Cow<'a, str>,
}

/// What one log line says, if it is a WAF record of a request WAF stopped.
#[derive(Debug, PartialEq)]
pub enum Line {
    Blocked(BlockedRequest),
    /// Allowed or counted: not what the pane lists.
    Passed,
}

/// One WAF log record. `Err` names what is wrong with it, for a line in the pane.
pub fn parse(text: &str) -> Result<Line, String> {
    let r: Record = serde_json::from_str(text).map_err(|e| format!("not a WAF log record: {e}"))?;
    if r.action != "BLOCK" {
        return Ok(Line::Passed);
    }
    let time = Timestamp::from_millisecond(r.timestamp)
        .map_err(|e| format!("WAF log record timestamp {}: {e}", r.timestamp))?;
    // A rate-based rule that terminated names itself in the list as well; its name reads
    // better than the id when both are there.
    let rule = r
        .rate_based_rule_list
        .iter()
        .find(|x| {
            !x.rate_based_rule_name.is_empty() && x.rate_based_rule_name == r.terminating_rule_id
        })
        .map_or(r.terminating_rule_id, |x| x.rate_based_rule_name.clone());
    let h = r.http_request;
    let uri = if h.args.is_empty() {
        h.uri.into_owned()
    } else {
        format!("{}?{}", h.uri, h.args)
    };
    Ok(Line::Blocked(BlockedRequest {
        time,
        client_ip: h.client_ip.into_owned(),
        country: h.country.into_owned(),
        method: h.http_method.into_owned(),
        uri,
        rule: rule.into_owned(),
    }))
}

/// At most this many blocked requests are kept, whatever the flood: the newest win.
pub const RETAINED: usize = 2_000;
/// Blocked requests older than this are dropped.
pub const KEPT_FOR: SignedDuration = SignedDuration::from_hours(1);
/// Rows of each top list.
const TOP: usize = 10;

/// The recent blocked requests of every log read, newest first, bounded in count and age.
#[derive(Debug, Default)]
pub struct Retained {
    requests: VecDeque<BlockedRequest>,
    /// Malformed lines seen, for the health line.
    pub malformed: u64,
}

impl Retained {
    /// Takes the lines of one read (any order, late arrivals included); keeps each request
    /// once even when a read window overlaps the previous one.
    pub fn add<'a>(&mut self, lines: impl IntoIterator<Item = &'a str>) {
        let before = self.requests.len();
        for text in lines {
            match parse(text) {
                Ok(Line::Blocked(b)) => self.requests.push_back(b),
                Ok(Line::Passed) => {}
                Err(_) => self.malformed += 1,
            }
        }
        if self.requests.len() == before {
            return;
        }
        let all = self.requests.make_contiguous();
        all.sort_unstable_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.client_ip.cmp(&b.client_ip))
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.uri.cmp(&b.uri))
                .then_with(|| a.method.cmp(&b.method))
        });
        let mut kept: Vec<BlockedRequest> = std::mem::take(&mut self.requests).into();
        kept.dedup();
        kept.truncate(RETAINED);
        // A flood's read may have grown it far past what is kept.
        kept.shrink_to_fit();
        self.requests = kept.into();
    }

    /// Drops what is older than [`KEPT_FOR`] at `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let cut = now - KEPT_FOR;
        while self.requests.back().is_some_and(|b| b.time < cut) {
            self.requests.pop_back();
        }
    }

    pub fn newest(&self) -> Option<Timestamp> {
        self.requests.front().map(|b| b.time)
    }

    pub fn recent(&self) -> Vec<BlockedRequest> {
        self.requests.iter().cloned().collect()
    }

    /// What is retained, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &BlockedRequest> {
        self.requests.iter()
    }
}

/// (top client IPs, top terminating rules) of blocked requests, each standing for `weight`
/// requests: one for a log record, AWS's weight for a sampled request.
pub fn tops<'a>(
    requests: impl IntoIterator<Item = (&'a BlockedRequest, u64)>,
) -> (Vec<Count>, Vec<Count>) {
    let mut ips: HashMap<&str, u64> = HashMap::new();
    let mut rules: HashMap<&str, u64> = HashMap::new();
    for (b, weight) in requests {
        *ips.entry(&b.client_ip).or_default() += weight;
        *rules.entry(&b.rule).or_default() += weight;
    }
    (ranked(ips), ranked(rules))
}

fn ranked(counts: HashMap<&str, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = counts
        .into_iter()
        .map(|(k, count)| Count {
            key: k.to_string(),
            count,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    v.truncate(TOP);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as AWS WAF writes it (the documented format, headers and match details
    /// included), blocked by a rate-based rule.
    pub(crate) const RATE_LIMITED: &str = r#"{"timestamp":1764640000123,"formatVersion":1,"webaclId":"arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/shop-web-acl/a1b2","terminatingRuleId":"rate-limit-100","terminatingRuleType":"RATE_BASED","action":"BLOCK","terminatingRuleMatchDetails":[],"httpSourceName":"ALB","httpSourceId":"123456789012-app/shop/abc","ruleGroupList":[],"rateBasedRuleList":[{"rateBasedRuleId":"arn:aws:wafv2:ap-northeast-2:123456789012:regional/ratebasedrule/rate-limit-100/x","rateBasedRuleName":"rate-limit-100","limitKey":"IP","maxRateAllowed":100,"evaluationWindowSec":"60"}],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":null,"httpRequest":{"clientIp":"203.0.113.7","country":"KR","headers":[{"name":"Host","value":"shop.example.com"},{"name":"User-Agent","value":"sqlmap/1.7"}],"uri":"/search","args":"q=1%27%20OR%201=1","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"1-5f0a"},"labels":[{"name":"awswaf:managed:aws:core-rule-set:NoUserAgent_Header"}]}"#;

    #[test]
    fn a_blocked_record_gives_client_country_request_and_rule() {
        let Line::Blocked(b) = parse(RATE_LIMITED).unwrap() else {
            panic!("blocked")
        };
        assert_eq!(b.time.as_millisecond(), 1764640000123);
        assert_eq!(
            (b.client_ip.as_str(), b.country.as_str(), b.method.as_str()),
            ("203.0.113.7", "KR", "GET")
        );
        assert_eq!(b.uri, "/search?q=1%27%20OR%201=1");
        assert_eq!(b.rule, "rate-limit-100");
        let allowed = RATE_LIMITED.replace(r#""action":"BLOCK""#, r#""action":"ALLOW""#);
        assert_eq!(parse(&allowed).unwrap(), Line::Passed);
        let err = parse(r#"{"timestamp":1,"action":"BLOCK"}"#).unwrap_err();
        assert!(err.contains("missing field `httpRequest`"), "{err}");
        assert!(parse("START RequestId: x").is_err());
    }

    fn at(ms: i64, ip: &str, rule: &str) -> String {
        RATE_LIMITED
            .replace("1764640000123", &ms.to_string())
            .replace("203.0.113.7", ip)
            .replace(
                r#""terminatingRuleId":"rate-limit-100""#,
                &format!(r#""terminatingRuleId":"{rule}""#),
            )
    }

    #[test]
    fn retained_is_newest_first_once_each_bounded_and_ranked() {
        let base = 1_764_640_000_000;
        let mut r = Retained::default();
        let first = [
            at(base, "203.0.113.7", "sqli"),
            at(base + 1000, "198.51.100.9", "sqli"),
        ];
        r.add(first.iter().map(String::as_str));
        // The next read overlaps the last second of the first.
        let second = [
            at(base + 1000, "198.51.100.9", "sqli"),
            at(base + 2000, "203.0.113.7", "blocked-ips"),
            "garbage".to_string(),
        ];
        r.add(second.iter().map(String::as_str));
        let recent = r.recent();
        let ips: Vec<&str> = recent.iter().map(|b| b.client_ip.as_str()).collect();
        assert_eq!(ips, ["203.0.113.7", "198.51.100.9", "203.0.113.7"]);
        assert_eq!(r.malformed, 1);
        let (top_ips, top_rules) = tops(r.iter().map(|b| (b, 1)));
        assert_eq!(
            (top_ips[0].key.as_str(), top_ips[0].count),
            ("203.0.113.7", 2)
        );
        assert_eq!((top_rules[0].key.as_str(), top_rules[0].count), ("sqli", 2));

        let flood: Vec<String> = (0..RETAINED as i64 + 500)
            .map(|i| at(base + 10_000 + i, "192.0.2.1", "sqli"))
            .collect();
        r.add(flood.iter().map(String::as_str));
        assert_eq!(r.recent().len(), RETAINED, "bounded whatever the flood");
        r.expire(Timestamp::from_millisecond(base + 2 * 3_600_000).unwrap());
        assert!(r.recent().is_empty(), "an hour old is gone");
    }
}
