//! AWS WAF (wafv2): the web ACLs of every `[aws]` region (REGIONAL) and of CloudFront
//! (CLOUDFRONT, asked in us-east-1), their rules by priority with what each statement is,
//! the size of each referenced IP set; and blocking or unblocking an address in the IP set
//! an ACL blocks, read-modify-write with the set's lock token.

use super::waf_log::{self, Retained};
use super::waf_rates::{self, AclMetrics, AclRates};
use super::waf_sampled::{self, DEFAULT_ACTION, Sampled};
use super::{Aws, AwsError, Kind, op_error};
use crate::config::WafConfig;
use crate::model::waf::{Passed, RuleKind, WafRule, WafSnapshot, WebAcl};
use crate::ops::{Mode, Op, OpError, Ops, Outcome, addresses};
use crate::sources::Tx;
use async_trait::async_trait;
use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::types::{Rule, Scope, Statement};
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// CloudFront's web ACLs live in one place whatever the regions.
pub const CLOUDFRONT_REGION: &str = "us-east-1";

/// Where web ACLs are listed: one scope in one region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Place {
    pub scope: Scope,
    pub region: String,
}

impl Place {
    /// Every REGIONAL region of `[aws]`, then CLOUDFRONT.
    pub fn all(aws: &Aws) -> Vec<Place> {
        let mut places: Vec<Place> = aws
            .regions()
            .map(|r| Place {
                scope: Scope::Regional,
                region: r.to_string(),
            })
            .collect();
        places.push(Place {
            scope: Scope::Cloudfront,
            region: CLOUDFRONT_REGION.into(),
        });
        places
    }

    /// What the pane shows as the ACL's scope, and what `acl@…` names in an operation.
    pub fn label(&self) -> String {
        match self.scope {
            Scope::Cloudfront => "CLOUDFRONT".into(),
            _ => format!("REGIONAL {}", self.region),
        }
    }

    fn suffix(&self) -> &str {
        match self.scope {
            Scope::Cloudfront => "CLOUDFRONT",
            _ => &self.region,
        }
    }
}

/// What one poll found: the ACLs, and a line for each part that failed.
pub struct Read {
    pub snapshot: WafSnapshot,
    pub errors: Vec<String>,
}

/// One web ACL as listed, with what its metrics and logs are found by.
#[derive(Clone)]
struct Watched {
    acl: WebAcl,
    arn: String,
    metrics: AclMetrics,
}

/// Where an ACL's log records are: a CloudWatch Logs group in a region.
type LogGroup = (String, String);

/// Reads every place, keeping what a failing place last showed.
pub struct WafReader {
    aws: Aws,
    places: Vec<Place>,
    last: HashMap<Place, Vec<Watched>>,
    /// Calls refused for good here (unsupported, forbidden), by place and action: asked
    /// once, then reported without asking.
    refused: HashMap<(Place, &'static str), (Kind, String)>,
    /// `[waf] log_group`: every ACL logs there, in its own region.
    log_group: Option<String>,
    /// Each ACL's log group from GetLoggingConfiguration (`None`: logging is off), asked
    /// once per ACL: a logging configuration changes about never.
    logging: HashMap<String, Option<LogGroup>>,
    /// Per log group, the newest event time read (ms): the next read starts a little
    /// before it, for records CloudWatch Logs delivers late.
    cursors: HashMap<LogGroup, i64>,
    /// Log groups FilterLogEvents is refused for good on (unsupported, forbidden), with
    /// the line: read once, then reported without asking.
    logs_refused: HashMap<LogGroup, String>,
    retained: Retained,
    /// The last rates of each ACL (by ARN), kept on screen when a read fails.
    rates: HashMap<String, AclRates>,
    /// The last sampled blocked requests of each ACL that logs nowhere (by ARN): each read
    /// replaces an ACL's, a failed one keeps them.
    sampled: HashMap<String, Vec<Sampled>>,
}

/// How far back the first read of a log group goes: the attackers offered are this recent.
const FIRST_LOOK: SignedDuration = crate::model::waf::ATTACKERS_WINDOW;
/// Records may reach CloudWatch Logs this late; re-read so they are not missed.
const LATE: SignedDuration = SignedDuration::from_mins(2);
/// FilterLogEvents pages per group per poll: a flood is caught up with over a few polls
/// instead of one unbounded read.
const LOG_PAGES: usize = 10;

fn action_of(rule: &Rule) -> String {
    if let Some(a) = rule.action() {
        let word = if a.block().is_some() {
            "Block"
        } else if a.allow().is_some() {
            "Allow"
        } else if a.count().is_some() {
            "Count"
        } else if a.captcha().is_some() {
            "Captcha"
        } else if a.challenge().is_some() {
            "Challenge"
        } else {
            "?"
        };
        return word.into();
    }
    match rule.override_action() {
        Some(o) if o.count().is_some() => "Count (override)".into(),
        // A rule group's own rules decide.
        _ => "Group".into(),
    }
}

/// The IP set an `arn:aws:wafv2:REGION:ACCOUNT:regional/ipset/NAME/ID` names, with the
/// scope and region it is asked in.
fn ip_set_of(arn: &str) -> Option<(Place, String, String)> {
    let (_, region, resource) = arn_parts(arn)?;
    let mut r = resource.split('/');
    let (scope, kind, name, id) = (r.next()?, r.next()?, r.next()?, r.next()?);
    if kind != "ipset" {
        return None;
    }
    let place = match scope {
        "global" => Place {
            scope: Scope::Cloudfront,
            region: CLOUDFRONT_REGION.into(),
        },
        "regional" => Place {
            scope: Scope::Regional,
            region: region.to_string(),
        },
        _ => return None,
    };
    Some((place, name.to_string(), id.to_string()))
}

/// The group an `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]` logging destination
/// names; destinations of other kinds (S3, Firehose) are not read here.
fn log_group_arn(arn: &str) -> Option<LogGroup> {
    let (service, region, resource) = arn_parts(arn)?;
    let name = resource.strip_prefix("log-group:")?.trim_end_matches(":*");
    (service == "logs" && !name.is_empty()).then(|| (region.to_string(), name.to_string()))
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` → (service, region, resource).
fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, region, _, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some((service, region, resource))
}

fn kind_of(s: Option<&Statement>) -> RuleKind {
    let Some(s) = s else {
        return RuleKind::Custom;
    };
    if let Some(m) = s.managed_rule_group_statement() {
        RuleKind::Managed {
            vendor: m.vendor_name().to_string(),
            group: m.name().to_string(),
            version: m.version().map(str::to_string),
            excluded: m
                .excluded_rules()
                .iter()
                .map(|e| e.name().to_string())
                .collect(),
        }
    } else if let Some(r) = s.rate_based_statement() {
        RuleKind::RateBased {
            limit: u32::try_from(r.limit()).unwrap_or(u32::MAX),
            // AWS's default window when the ACL names none: five minutes.
            window_s: match u32::try_from(r.evaluation_window_sec()) {
                Ok(0) | Err(_) => 300,
                Ok(w) => w,
            },
            key: r.aggregate_key_type().as_str().to_string(),
        }
    } else if let Some(i) = s.ip_set_reference_statement() {
        RuleKind::IpSet {
            set: ip_set_of(i.arn())
                .map(|(_, name, _)| name)
                .unwrap_or_else(|| i.arn().to_string()),
            addresses: None,
        }
    } else if let Some(g) = s.geo_match_statement() {
        RuleKind::GeoMatch {
            countries: g
                .country_codes()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
        }
    } else {
        RuleKind::Custom
    }
}

/// Every web ACL of one place (ListWebACLs, paginated): (name, id).
async fn list(
    aws: &Aws,
    client: &Client,
    place: &Place,
) -> Result<Vec<(String, String)>, AwsError> {
    let mut acls = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_web_acls()
            .scope(place.scope.clone())
            .limit(100)
            .set_next_marker(marker.take())
            .send()
            .await
            .map_err(|e| aws.error(&place.region, "wafv2:ListWebACLs", &e))?;
        for a in out.web_acls() {
            if let (Some(name), Some(id)) = (a.name(), a.id()) {
                acls.push((name.to_string(), id.to_string()));
            }
        }
        match out.next_marker() {
            // moto and AWS both end with a marker on a short page; an empty page ends too.
            Some(m) if !m.is_empty() && !out.web_acls().is_empty() => marker = Some(m.into()),
            _ => return Ok(acls),
        }
    }
}

/// A web ACL as AWS holds it (GetWebACL), with its lock token.
async fn web_acl(
    aws: &Aws,
    client: &Client,
    place: &Place,
    name: &str,
    id: &str,
) -> Result<aws_sdk_wafv2::types::WebAcl, AwsError> {
    let out = client
        .get_web_acl()
        .scope(place.scope.clone())
        .name(name)
        .id(id)
        .send()
        .await
        .map_err(|e| aws.error(&place.region, "wafv2:GetWebACL", &e))?;
    out.web_acl().cloned().ok_or_else(|| {
        AwsError::other(
            "wafv2:GetWebACL",
            format!(
                "{}: GetWebACL {name} answered without the ACL",
                place.label()
            ),
        )
    })
}

/// An IP set's addresses and lock token (GetIPSet).
async fn ip_set(
    aws: &Aws,
    place: &Place,
    name: &str,
    id: &str,
) -> Result<(Vec<String>, String), AwsError> {
    let out = aws
        .wafv2(&place.region)
        .get_ip_set()
        .scope(place.scope.clone())
        .name(name)
        .id(id)
        .send()
        .await
        .map_err(|e| aws.error(&place.region, "wafv2:GetIPSet", &e))?;
    let addresses = out
        .ip_set()
        .map(|s| s.addresses().to_vec())
        .unwrap_or_default();
    Ok((addresses, out.lock_token().unwrap_or_default().to_string()))
}

impl WafReader {
    pub fn new(aws: &Aws) -> WafReader {
        WafReader {
            aws: aws.clone(),
            places: Place::all(aws),
            last: HashMap::new(),
            refused: HashMap::new(),
            log_group: None,
            logging: HashMap::new(),
            cursors: HashMap::new(),
            logs_refused: HashMap::new(),
            retained: Retained::default(),
            rates: HashMap::new(),
            sampled: HashMap::new(),
        }
    }

    /// What `[waf]` says about the AWS side.
    pub fn configured(mut self, cfg: &WafConfig) -> WafReader {
        self.log_group = cfg.log_group.clone();
        self
    }

    /// One round over every place: the ACLs, their rates, the blocked requests of their
    /// logs. A place that fails keeps its last ACLs and rates on screen.
    pub async fn read(&mut self) -> Read {
        let now = Timestamp::now();
        let mut errors = Vec::new();
        let mut by_place: Vec<(Place, Vec<Watched>)> = Vec::new();
        // Places that answered: one that did not is not asked for its rates and logs too,
        // each waiting out the same timeout.
        let mut answered: Vec<(Place, Vec<Watched>)> = Vec::new();
        for place in self.places.clone() {
            match self.place(&place, &mut errors).await {
                Some(found) => {
                    self.last.insert(place.clone(), found.clone());
                    answered.push((place.clone(), found.clone()));
                    by_place.push((place, found));
                }
                None => {
                    let last = self.last.get(&place).cloned().unwrap_or_default();
                    by_place.push((place, last));
                }
            }
        }
        for (place, watched) in &answered {
            self.read_rates(place, watched, now, &mut errors).await;
        }
        let from = self.read_logs(&answered, now, &mut errors).await;
        let mut acls = Vec::new();
        let mut rated: Vec<&[crate::model::waf::RatePoint]> = Vec::new();
        for w in by_place.iter().flat_map(|(_, w)| w) {
            let mut acl = w.acl.clone();
            if let Some(r) = self.rates.get(&w.arn) {
                for (rule, n) in acl.rules.iter_mut().zip(&r.rule_blocked) {
                    rule.blocked = Some(*n);
                }
                rated.push(&r.points);
            }
            acls.push(acl);
        }
        // An ACL gone from its place takes its sample with it.
        self.sampled
            .retain(|arn, _| by_place.iter().flat_map(|(_, w)| w).any(|w| &w.arn == arn));
        let sampled = self.sampled.values().flatten();
        let (top_ips, top_rules) = waf_log::tops(
            self.retained
                .iter()
                .map(|b| (b, 1))
                .chain(sampled.clone().map(|s| (&s.request, s.weight))),
        );
        let mut recent = self.retained.recent();
        recent.extend(sampled.map(|s| s.request.clone()));
        recent.sort_by_key(|b| std::cmp::Reverse(b.time));
        Read {
            snapshot: WafSnapshot {
                acls,
                rates: waf_rates::total(&rated),
                top_ips,
                top_rules,
                recent_blocked: recent,
                requests_from: from,
                passed: Passed::Allowed,
            },
            errors,
        }
    }

    /// GetMetricData for every ACL of `place`; on failure the last rates stay.
    async fn read_rates(
        &mut self,
        place: &Place,
        watched: &[Watched],
        now: Timestamp,
        errors: &mut Vec<String>,
    ) {
        const ACTION: &str = "cloudwatch:GetMetricData";
        if watched.is_empty() {
            return;
        }
        if let Some(line) = self.refused(place, ACTION) {
            errors.push(format!("rates {line}"));
            return;
        }
        let metrics: Vec<AclMetrics> = watched.iter().map(|w| w.metrics.clone()).collect();
        match waf_rates::read(&self.aws, &place.region, &metrics, now).await {
            Ok(rates) => {
                for (w, r) in watched.iter().zip(rates) {
                    self.rates.insert(w.arn.clone(), r);
                }
            }
            Err(e) => {
                let line = self.failed(place, ACTION, e);
                errors.push(format!("rates {line}"));
            }
        }
    }

    /// The log group each ACL logs to, `[waf] log_group` first.
    async fn log_group_of(
        &mut self,
        place: &Place,
        w: &Watched,
        errors: &mut Vec<String>,
    ) -> Option<LogGroup> {
        const ACTION: &str = "wafv2:GetLoggingConfiguration";
        if let Some(g) = &self.log_group {
            return Some((place.region.clone(), g.clone()));
        }
        if let Some(known) = self.logging.get(&w.arn) {
            return known.clone();
        }
        if let Some(line) = self.refused(place, ACTION) {
            errors.push(line.clone());
            return None;
        }
        let asked = self
            .aws
            .wafv2(&place.region)
            .get_logging_configuration()
            .resource_arn(&w.arn)
            .send()
            .await;
        let group = match asked {
            Ok(out) => out.logging_configuration().and_then(|c| {
                c.log_destination_configs()
                    .iter()
                    .find_map(|d| log_group_arn(d))
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_waf_nonexistent_item_exception()) =>
            {
                None
            }
            Err(e) => {
                let e = self.aws.error(&place.region, ACTION, &e);
                errors.push(self.failed(place, ACTION, e));
                return None;
            }
        };
        self.logging.insert(w.arn.clone(), group.clone());
        group
    }

    /// FilterLogEvents on every ACL's log group since its cursor; returns what the pane
    /// says its requests come from.
    async fn read_logs(
        &mut self,
        by_place: &[(Place, Vec<Watched>)],
        now: Timestamp,
        errors: &mut Vec<String>,
    ) -> Option<String> {
        let mut groups: Vec<LogGroup> = Vec::new();
        let mut unlogged: Vec<(&Place, &Watched)> = Vec::new();
        for (place, watched) in by_place {
            for w in watched {
                match self.log_group_of(place, w, errors).await {
                    Some(g) if !groups.contains(&g) => groups.push(g),
                    Some(_) => {}
                    None => unlogged.push((place, w)),
                }
            }
        }
        for g in &groups {
            if let Some(line) = self.logs_refused.get(g) {
                errors.push(line.clone());
                continue;
            }
            if let Err(e) = self.read_group(g, now).await {
                let line = format!("WAF logs {} ({}): {e}", g.1, g.0);
                if matches!(e.kind, Kind::Unsupported | Kind::AccessDenied) {
                    self.logs_refused.insert(g.clone(), line.clone());
                }
                errors.push(line);
            }
        }
        self.retained.expire(now);
        let mut from: Vec<String> = Vec::new();
        if !groups.is_empty() {
            let names: Vec<&str> = groups.iter().map(|g| g.1.as_str()).collect();
            from.push(format!("WAF logs {}", names.join(", ")));
        }
        from.extend(self.read_sampled(&unlogged, now, errors).await);
        (!from.is_empty()).then(|| from.join(" · "))
    }

    /// GetSampledRequests for each ACL that logs nowhere; returns what the pane says its
    /// requests come from. A place whose endpoint lacks the call, or that forbids it, is
    /// asked once and said once.
    async fn read_sampled(
        &mut self,
        unlogged: &[(&Place, &Watched)],
        now: Timestamp,
        errors: &mut Vec<String>,
    ) -> Vec<String> {
        const ACTION: &str = "wafv2:GetSampledRequests";
        let mut sampled: Vec<&str> = Vec::new();
        let (mut unsupported, mut forbidden): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for &(place, w) in unlogged {
            let name = w.acl.name.as_str();
            let kind = match self.refused.get(&(place.clone(), ACTION)) {
                Some((kind, _)) => Some(*kind),
                None => match self.sample(place, w, now).await {
                    Ok(rows) => {
                        self.sampled.insert(w.arn.clone(), rows);
                        None
                    }
                    Err(e) => {
                        let kind = e.kind;
                        let line = self.failed(place, ACTION, e);
                        if kind == Kind::AccessDenied {
                            errors.push(line);
                        } else if kind != Kind::Unsupported {
                            // Throttled or unreachable: the last sample stays, said so.
                            errors.push(format!("sampled requests of {name}: {line}"));
                        }
                        Some(kind)
                    }
                },
            };
            match kind {
                Some(Kind::Unsupported) => unsupported.push(name),
                Some(Kind::AccessDenied) => forbidden.push(name),
                _ => sampled.push(name),
            }
        }
        let mut from = Vec::new();
        if !sampled.is_empty() {
            from.push(format!("sampled requests of {}", sampled.join(", ")));
        }
        if !unsupported.is_empty() {
            from.push(format!(
                "no WAF logging for {}; sampled requests not available at this endpoint",
                unsupported.join(", ")
            ));
        }
        if !forbidden.is_empty() {
            from.push(format!(
                "no WAF logging for {}; sampled requests forbidden ({ACTION})",
                forbidden.join(", ")
            ));
        }
        from
    }

    /// One ACL's sample: each rule that may block (its own action, or its group's), and
    /// the default action when it blocks.
    async fn sample(
        &self,
        place: &Place,
        w: &Watched,
        now: Timestamp,
    ) -> Result<Vec<Sampled>, AwsError> {
        // The rules and their metric names are in the same (priority) order.
        let mut asked: Vec<(&str, &str)> = w
            .acl
            .rules
            .iter()
            .zip(&w.metrics.rules)
            .filter(|(r, _)| matches!(r.action.as_str(), "Block" | "Group"))
            .map(|(r, metric)| (metric.as_str(), r.name.as_str()))
            .collect();
        if w.acl.default_action == "Block" {
            asked.push((w.metrics.acl.as_str(), DEFAULT_ACTION));
        }
        let mut rows = Vec::new();
        for rule in asked {
            rows.extend(
                waf_sampled::read(&self.aws, &place.region, &place.scope, &w.arn, rule, now)
                    .await?,
            );
        }
        Ok(rows)
    }

    async fn read_group(&mut self, g: &LogGroup, now: Timestamp) -> Result<(), AwsError> {
        let first = (now - FIRST_LOOK).as_millisecond();
        let start = self
            .cursors
            .get(g)
            .map_or(first, |&c| (c - LATE.as_millis() as i64).max(first));
        let client = self.aws.logs(&g.0);
        let mut token: Option<String> = None;
        let mut newest = start;
        for _ in 0..LOG_PAGES {
            let out = client
                .filter_log_events()
                .log_group_name(&g.1)
                .start_time(start)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.aws.error(&g.0, "logs:FilterLogEvents", &e))?;
            newest = out
                .events()
                .iter()
                .filter_map(|e| e.timestamp())
                .fold(newest, i64::max);
            self.retained
                .add(out.events().iter().filter_map(|e| e.message()));
            match out.next_token() {
                Some(t) if !t.is_empty() && !out.events().is_empty() => token = Some(t.into()),
                _ => break,
            }
        }
        self.cursors.insert(g.clone(), newest);
        Ok(())
    }

    /// A call refused for good is not asked again; its line stays.
    fn refused(&self, place: &Place, action: &'static str) -> Option<&String> {
        self.refused
            .get(&(place.clone(), action))
            .map(|(_, line)| line)
    }

    fn failed(&mut self, place: &Place, action: &'static str, e: AwsError) -> String {
        let line = format!("{}: {e}", place.label());
        if matches!(e.kind, Kind::Unsupported | Kind::AccessDenied) {
            self.refused
                .insert((place.clone(), action), (e.kind, line.clone()));
        }
        line
    }

    async fn place(&mut self, place: &Place, errors: &mut Vec<String>) -> Option<Vec<Watched>> {
        if let Some(line) = self.refused(place, "wafv2:ListWebACLs") {
            errors.push(line.clone());
            // Forbidden or unsupported: an empty place, said so, rather than stale rows.
            return Some(Vec::new());
        }
        let client = self.aws.wafv2(&place.region);
        let names = match list(&self.aws, &client, place).await {
            Ok(n) => n,
            Err(e) => {
                let refused = matches!(e.kind, Kind::Unsupported | Kind::AccessDenied);
                errors.push(self.failed(place, "wafv2:ListWebACLs", e));
                return refused.then(Vec::new);
            }
        };
        let mut acls = Vec::with_capacity(names.len());
        let mut sizes: HashMap<String, Option<usize>> = HashMap::new();
        for (name, id) in names {
            let acl = match web_acl(&self.aws, &client, place, &name, &id).await {
                Ok(a) => a,
                Err(e) => {
                    if e.kind == Kind::Unreachable {
                        errors.push(format!("{}: {e}", place.label()));
                        return None;
                    }
                    errors.push(self.failed(place, "wafv2:GetWebACL", e));
                    continue;
                }
            };
            let mut rules: Vec<&Rule> = acl.rules().iter().collect();
            rules.sort_by_key(|r| r.priority());
            let mut out = Vec::with_capacity(rules.len());
            let metrics = AclMetrics {
                acl: acl
                    .visibility_config()
                    .map_or_else(|| acl.name().to_string(), |v| v.metric_name().to_string()),
                region: (place.scope != Scope::Cloudfront).then(|| place.region.clone()),
                rules: rules
                    .iter()
                    .map(|r| {
                        r.visibility_config()
                            .map_or_else(|| r.name().to_string(), |v| v.metric_name().to_string())
                    })
                    .collect(),
            };
            for r in rules {
                let mut kind = kind_of(r.statement());
                if let (RuleKind::IpSet { addresses, .. }, Some(arn)) = (
                    &mut kind,
                    r.statement()
                        .and_then(|s| s.ip_set_reference_statement())
                        .map(|i| i.arn().to_string()),
                ) {
                    *addresses = self.size(&arn, &mut sizes, errors).await;
                }
                out.push(WafRule {
                    name: r.name().to_string(),
                    priority: u32::try_from(r.priority()).unwrap_or(0),
                    kind,
                    action: action_of(r),
                    blocked: None,
                });
            }
            let default_action = match acl.default_action() {
                Some(d) if d.block().is_some() => "Block",
                Some(d) if d.allow().is_some() => "Allow",
                _ => "?",
            };
            acls.push(Watched {
                acl: WebAcl {
                    name: acl.name().to_string(),
                    scope: place.label(),
                    default_action: default_action.into(),
                    rules: out,
                },
                arn: acl.arn().to_string(),
                metrics,
            });
        }
        Some(acls)
    }

    /// How many addresses the set `arn` holds; asked once per poll however many rules
    /// reference it. `None` when it cannot be read (the error says why).
    async fn size(
        &mut self,
        arn: &str,
        sizes: &mut HashMap<String, Option<usize>>,
        errors: &mut Vec<String>,
    ) -> Option<usize> {
        if let Some(n) = sizes.get(arn) {
            return *n;
        }
        let (place, name, id) = ip_set_of(arn)?;
        let n = if let Some(line) = self.refused(&place, "wafv2:GetIPSet") {
            errors.push(line.clone());
            None
        } else {
            match ip_set(&self.aws, &place, &name, &id).await {
                Ok((addresses, _)) => Some(addresses.len()),
                Err(e) => {
                    errors.push(self.failed(&place, "wafv2:GetIPSet", e));
                    None
                }
            }
        };
        sizes.insert(arn.to_string(), n);
        n
    }
}

/// Polls every `every`, or at once when `poke` is notified (after a block or unblock).
pub fn spawn(mut reader: WafReader, tx: Tx<WafSnapshot>, every: Duration, poke: Arc<Notify>) {
    tokio::spawn(async move {
        while !tx.is_closed() {
            let read = reader.read().await;
            crate::sources::publish_partial(&tx, read.snapshot, Timestamp::now(), &read.errors);
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = poke.notified() => {}
            }
        }
    });
}

/// How often a lost lock-token race is re-read and retried before giving up.
const LOCK_RETRIES: usize = 5;

/// The IP set an ACL blocks addresses of one family with.
struct Target {
    acl: String,
    place: Place,
    rule: String,
    set: String,
    id: String,
}

/// Blocking and unblocking addresses in the IP sets web ACLs block.
pub struct WafOps {
    aws: Aws,
    poke: Option<Arc<Notify>>,
}

impl WafOps {
    pub fn new(aws: Aws) -> WafOps {
        WafOps { aws, poke: None }
    }

    /// Re-polls the pane once a change is verified.
    pub fn poking(mut self, poke: Arc<Notify>) -> WafOps {
        self.poke = Some(poke);
        self
    }

    /// The web ACL `acl` (`NAME`, or `NAME@REGION` / `NAME@CLOUDFRONT` where the name is
    /// used in more than one place) and its first Block rule on an IP set of `v4`'s family.
    async fn target(&self, acl: &str, v4: bool) -> Result<Target, OpError> {
        let (name, at) = match acl.split_once('@') {
            Some((n, a)) => (n, Some(a)),
            None => (acl, None),
        };
        let mut found = Vec::new();
        for place in Place::all(&self.aws) {
            if at.is_some_and(|a| a != place.suffix()) {
                continue;
            }
            let client = self.aws.wafv2(&place.region);
            match list(&self.aws, &client, &place).await {
                Ok(acls) => found.extend(
                    acls.into_iter()
                        .filter(|(n, _)| n == name)
                        .map(|(_, id)| (place.clone(), id)),
                ),
                // A place this profile may not read cannot hold the ACL it means.
                Err(e) if matches!(e.kind, Kind::AccessDenied | Kind::Unsupported) => {}
                Err(e) => return Err(op_error(e)),
            }
        }
        let (place, id) = match found.as_slice() {
            [] => return Err(OpError::NotFound(format!("no web ACL `{acl}`"))),
            [one] => one.clone(),
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|(p, _)| format!("{name}@{}", p.suffix()))
                    .collect();
                return Err(OpError::Refused(format!(
                    "web ACL `{name}` is in {} places: name one of {}",
                    many.len(),
                    names.join(", ")
                )));
            }
        };
        let client = self.aws.wafv2(&place.region);
        let web = web_acl(&self.aws, &client, &place, name, &id)
            .await
            .map_err(op_error)?;
        let mut rules: Vec<&Rule> = web.rules().iter().collect();
        rules.sort_by_key(|r| r.priority());
        let family = if v4 { "IPV4" } else { "IPV6" };
        for r in rules {
            let blocks = r.action().is_some_and(|a| a.block().is_some());
            let Some(arn) = r
                .statement()
                .and_then(|s| s.ip_set_reference_statement())
                .map(|i| i.arn())
            else {
                continue;
            };
            let Some((set_place, set, set_id)) = ip_set_of(arn).filter(|_| blocks) else {
                continue;
            };
            let out = self
                .aws
                .wafv2(&set_place.region)
                .get_ip_set()
                .scope(set_place.scope.clone())
                .name(&set)
                .id(&set_id)
                .send()
                .await
                .map_err(|e| op_error(self.aws.error(&set_place.region, "wafv2:GetIPSet", &e)))?;
            if out
                .ip_set()
                .is_some_and(|s| s.ip_address_version().as_str() == family)
            {
                return Ok(Target {
                    acl: name.to_string(),
                    place: set_place,
                    rule: r.name().to_string(),
                    set,
                    id: set_id,
                });
            }
        }
        Err(OpError::Refused(format!(
            "web ACL `{name}` ({}) has no rule that blocks an {family} IP set",
            place.label()
        )))
    }

    /// Every address of `ip` in (or out of) the IP set its family is blocked with: one
    /// read-modify-write per set.
    async fn change(
        &self,
        acl: &str,
        ip: &str,
        block: bool,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        let nets = addresses::parse(ip).map_err(OpError::Refused)?;
        let (v4, v6): (Vec<IpNet>, Vec<IpNet>) = nets.into_iter().partition(|n| n.addr().is_ipv4());
        let mut summaries = Vec::new();
        let mut calls = Vec::new();
        for (family, group) in [(true, v4), (false, v6)] {
            if group.is_empty() {
                continue;
            }
            let t = self.target(acl, family).await?;
            let done = self.change_set(&t, &group, block, mode).await?;
            summaries.push(done.summary);
            calls.extend(done.calls);
        }
        Ok(Outcome {
            summary: summaries.join("; "),
            calls,
        })
    }

    async fn change_set(
        &self,
        t: &Target,
        nets: &[IpNet],
        block: bool,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        let text = addresses::join(nets);
        let scope = t.place.scope.as_str().to_string();
        let get = format!(
            "wafv2 GetIPSet Name={} Scope={scope} ({})",
            t.set, t.place.region
        );
        let (mut before, mut token) = ip_set(&self.aws, &t.place, &t.set, &t.id)
            .await
            .map_err(op_error)?;
        let settled = |addresses: &[String]| {
            nets.iter()
                .all(|&n| addresses::holds(addresses, n) == block)
        };
        let after_of = |addresses: &[String]| -> Vec<String> {
            if block {
                let mut v = addresses.to_vec();
                v.extend(
                    nets.iter()
                        .filter(|&&n| !addresses::holds(addresses, n))
                        .map(IpNet::to_string),
                );
                v
            } else {
                addresses
                    .iter()
                    .filter(|a| !nets.iter().any(|&n| addresses::holds(&[a.as_str()], n)))
                    .cloned()
                    .collect()
            }
        };
        if settled(&before) {
            return Ok(Outcome {
                summary: format!(
                    "{text} {} in {} (rule {} of {}); nothing to change",
                    if block { "already" } else { "not" },
                    t.set,
                    t.rule,
                    t.acl
                ),
                calls: vec![get],
            });
        }
        let update = |before: &[String], after: &[String]| {
            format!(
                "wafv2 UpdateIPSet Name={} Scope={scope} LockToken=<from GetIPSet> Addresses before=[{}] after=[{}]",
                t.set,
                before.join(", "),
                after.join(", ")
            )
        };
        if mode == Mode::DryRun {
            let after = after_of(&before);
            return Ok(Outcome {
                summary: format!(
                    "dry-run: would {} {text} {} {} ({} → {} addresses), rule {} of {}",
                    if block { "add" } else { "remove" },
                    if block { "to" } else { "from" },
                    t.set,
                    before.len(),
                    after.len(),
                    t.rule,
                    t.acl
                ),
                calls: vec![get.clone(), update(&before, &after), get],
            });
        }
        let who = self.aws.principal().await.map_err(op_error)?;
        let mut calls = vec![get.clone()];
        let mut attempt = 0;
        loop {
            let after = after_of(&before);
            calls.push(update(&before, &after));
            let sent = self
                .aws
                .wafv2(&t.place.region)
                .update_ip_set()
                .scope(t.place.scope.clone())
                .name(&t.set)
                .id(&t.id)
                .set_addresses(Some(after))
                .lock_token(&token)
                .send()
                .await;
            match sent {
                Ok(_) => break,
                Err(e)
                    if attempt < LOCK_RETRIES
                        && e.as_service_error()
                            .is_some_and(|s| s.is_waf_optimistic_lock_exception()) =>
                {
                    // Someone changed the set since it was read: read it again, merge again.
                    attempt += 1;
                    calls.push(format!("{get} (lock token taken, re-read {attempt})"));
                    (before, token) = ip_set(&self.aws, &t.place, &t.set, &t.id)
                        .await
                        .map_err(op_error)?;
                    if settled(&before) {
                        break;
                    }
                }
                Err(e) => {
                    return Err(op_error(self.aws.error(
                        &t.place.region,
                        "wafv2:UpdateIPSet",
                        &e,
                    )));
                }
            }
        }
        calls.push(get);
        let (now, _) = ip_set(&self.aws, &t.place, &t.set, &t.id)
            .await
            .map_err(op_error)?;
        let wrong: Vec<IpNet> = nets
            .iter()
            .copied()
            .filter(|&n| addresses::holds(&now, n) != block)
            .collect();
        if !wrong.is_empty() {
            return Err(OpError::Failed(format!(
                "GetIPSet {} {} {} after UpdateIPSet",
                t.set,
                if block { "still lacks" } else { "still holds" },
                addresses::join(&wrong)
            )));
        }
        if let Some(p) = &self.poke {
            p.notify_one();
        }
        Ok(Outcome {
            summary: format!(
                "{} {text} {} {} ({} addresses), rule {} of {}; verified with GetIPSet (as {who})",
                if block { "added" } else { "removed" },
                if block { "to" } else { "from" },
                t.set,
                now.len(),
                t.rule,
                t.acl
            ),
            calls,
        })
    }
}

#[async_trait]
impl Ops for WafOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        match op {
            Op::BlockIp { acl, ip } => self.change(acl, ip, true, mode).await,
            Op::UnblockIp { acl, ip } => self.change(acl, ip, false, mode).await,
            other => Err(OpError::Unsupported(format!(
                "{other}: not a WAF operation"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_destinations_name_their_log_group() {
        assert_eq!(
            log_group_arn("arn:aws:logs:ap-northeast-2:123456789012:log-group:aws-waf-logs-shop"),
            Some(("ap-northeast-2".into(), "aws-waf-logs-shop".into()))
        );
        assert_eq!(
            log_group_arn("arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-edge:*"),
            Some(("us-east-1".into(), "aws-waf-logs-edge".into()))
        );
        assert_eq!(log_group_arn("arn:aws:s3:::aws-waf-logs-bucket"), None);
        assert_eq!(
            log_group_arn("arn:aws:firehose:us-east-1:1:deliverystream/aws-waf-logs-x"),
            None
        );
    }

    #[test]
    fn ip_set_arns_name_scope_region_and_id() {
        let (p, name, id) =
            ip_set_of("arn:aws:wafv2:ap-northeast-2:123456789012:regional/ipset/blocked/ab-12")
                .unwrap();
        assert_eq!(
            (p.label(), name.as_str(), id.as_str()),
            ("REGIONAL ap-northeast-2".into(), "blocked", "ab-12")
        );
        let (p, _, _) =
            ip_set_of("arn:aws:wafv2:us-east-1:123456789012:global/ipset/edge/cd-34").unwrap();
        assert_eq!(p.scope, Scope::Cloudfront);
        assert!(ip_set_of("arn:aws:wafv2:us-east-1:1:regional/webacl/a/b").is_none());
        assert!(ip_set_of("not an arn").is_none());
    }
}
