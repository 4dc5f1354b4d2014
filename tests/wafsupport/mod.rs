//! An emulated AWS WAF on moto for the WAF tests: web ACLs with every rule kind, IP sets,
//! WAF log records in the format WAF writes them to CloudWatch Logs, and AWS/WAFV2 metrics.
#![allow(dead_code)] // each test binary uses a different part of this module

use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, CountAction, CountryCode, DefaultAction, ExcludedRule,
    GeoMatchStatement, IpAddressVersion, IpSetReferenceStatement, ManagedRuleGroupStatement,
    NoneAction, OverrideAction, RateBasedStatement, RateBasedStatementAggregateKeyType, Rule,
    RuleAction, Scope, Statement, VisibilityConfig,
};
use opsdeck::sources::aws::Aws;
pub fn seen(name: &str) -> VisibilityConfig {
    VisibilityConfig::builder()
        .sampled_requests_enabled(true)
        .cloud_watch_metrics_enabled(true)
        .metric_name(name)
        .build()
        .unwrap()
}

pub fn block() -> RuleAction {
    RuleAction::builder()
        .block(BlockAction::builder().build())
        .build()
}

pub fn rule(name: &str, priority: i32, statement: Statement) -> Rule {
    Rule::builder()
        .name(name)
        .priority(priority)
        .statement(statement)
        .action(block())
        .visibility_config(seen(name))
        .build()
        .unwrap()
}

pub fn ip_set_rule(name: &str, priority: i32, arn: &str) -> Rule {
    rule(
        name,
        priority,
        Statement::builder()
            .ip_set_reference_statement(
                IpSetReferenceStatement::builder().arn(arn).build().unwrap(),
            )
            .build(),
    )
}

pub fn managed(name: &str, priority: i32, group: &str, count: bool) -> Rule {
    let mut m = ManagedRuleGroupStatement::builder()
        .vendor_name("AWS")
        .name(group);
    if !count {
        m = m.version("Version_1.4").excluded_rules(
            ExcludedRule::builder()
                .name("SizeRestrictions_BODY")
                .build()
                .unwrap(),
        );
    }
    let overridden = if count {
        OverrideAction::builder().count(CountAction::builder().build())
    } else {
        OverrideAction::builder().none(NoneAction::builder().build())
    };
    Rule::builder()
        .name(name)
        .priority(priority)
        .statement(
            Statement::builder()
                .managed_rule_group_statement(m.build().unwrap())
                .build(),
        )
        .override_action(overridden.build())
        .visibility_config(seen(name))
        .build()
        .unwrap()
}

/// Creates an IP set; returns (ARN, id).
pub async fn ip_set(
    aws: &Aws,
    region: &str,
    scope: Scope,
    name: &str,
    version: IpAddressVersion,
    addresses: &[&str],
) -> (String, String) {
    let out = aws
        .wafv2(region)
        .create_ip_set()
        .name(name)
        .scope(scope)
        .ip_address_version(version)
        .set_addresses(Some(addresses.iter().map(|a| a.to_string()).collect()))
        .send()
        .await
        .unwrap();
    let s = out.summary().unwrap();
    (s.arn().unwrap().to_string(), s.id().unwrap().to_string())
}

pub async fn web_acl(
    aws: &Aws,
    region: &str,
    scope: Scope,
    name: &str,
    allow: bool,
    rules: Vec<Rule>,
) {
    let default = if allow {
        DefaultAction::builder().allow(AllowAction::builder().build())
    } else {
        DefaultAction::builder().block(BlockAction::builder().build())
    };
    aws.wafv2(region)
        .create_web_acl()
        .name(name)
        .scope(scope)
        .default_action(default.build())
        .set_rules(Some(rules))
        .visibility_config(seen(name))
        .send()
        .await
        .unwrap();
}

/// The shop's ACL in ap-northeast-2 (rules created out of priority order), a search ACL in
/// us-east-1 and a CloudFront one. Returns the shop's v4 set id.
pub async fn seed(aws: &Aws) -> String {
    let r = "ap-northeast-2";
    let (v4, v4_id) = ip_set(
        aws,
        r,
        Scope::Regional,
        "blocked-ips-v4",
        IpAddressVersion::Ipv4,
        &["192.0.2.0/24"],
    )
    .await;
    let (v6, _) = ip_set(
        aws,
        r,
        Scope::Regional,
        "blocked-ips-v6",
        IpAddressVersion::Ipv6,
        &[],
    )
    .await;
    let rate = RateBasedStatement::builder()
        .limit(100)
        .evaluation_window_sec(60)
        .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
        .build()
        .unwrap();
    web_acl(
        aws,
        r,
        Scope::Regional,
        "shop-web-acl",
        true,
        vec![
            managed(
                "AWS-AWSManagedRulesCommonRuleSet",
                3,
                "AWSManagedRulesCommonRuleSet",
                false,
            ),
            ip_set_rule("blocked-ips", 0, &v4),
            rule(
                "rate-limit-100",
                2,
                Statement::builder().rate_based_statement(rate).build(),
            ),
            ip_set_rule("blocked-ips-v6", 1, &v6),
            rule(
                "geo-block",
                4,
                Statement::builder()
                    .geo_match_statement(
                        GeoMatchStatement::builder()
                            .country_codes(CountryCode::Kp)
                            .country_codes(CountryCode::Ir)
                            .build(),
                    )
                    .build(),
            ),
        ],
    )
    .await;
    web_acl(
        aws,
        "us-east-1",
        Scope::Regional,
        "search-web-acl",
        false,
        vec![managed(
            "bad-inputs",
            0,
            "AWSManagedRulesKnownBadInputsRuleSet",
            true,
        )],
    )
    .await;
    let (edge, _) = ip_set(
        aws,
        "us-east-1",
        Scope::Cloudfront,
        "edge-blocked",
        IpAddressVersion::Ipv4,
        &["198.51.100.0/24", "203.0.113.0/24"],
    )
    .await;
    web_acl(
        aws,
        "us-east-1",
        Scope::Cloudfront,
        "edge-web-acl",
        true,
        vec![ip_set_rule("edge-blocked", 0, &edge)],
    )
    .await;
    v4_id
}

pub async fn addresses(aws: &Aws, id: &str) -> Vec<String> {
    let out = aws
        .wafv2("ap-northeast-2")
        .get_ip_set()
        .scope(Scope::Regional)
        .name("blocked-ips-v4")
        .id(id)
        .send()
        .await
        .unwrap();
    let mut a = out.ip_set().unwrap().addresses().to_vec();
    a.sort();
    a
}

/// An AWS WAF log record in the format WAF writes to CloudWatch Logs (headers, labels and
/// the rate-based list included), for `ip` at `ms`.
pub fn waf_record(ms: i64, ip: &str, action: &str, rule: &str) -> String {
    let rate = if rule == "rate-limit-100" {
        r#"[{"rateBasedRuleId":"arn:aws:wafv2:ap-northeast-2:123456789012:regional/ratebasedrule/rate-limit-100/r1","rateBasedRuleName":"rate-limit-100","limitKey":"IP","maxRateAllowed":100,"evaluationWindowSec":"60"}]"#
    } else {
        "[]"
    };
    format!(
        r#"{{"timestamp":{ms},"formatVersion":1,"webaclId":"arn:aws:wafv2:ap-northeast-2:123456789012:regional/webacl/shop-web-acl/x","terminatingRuleId":"{rule}","terminatingRuleType":"REGULAR","action":"{action}","terminatingRuleMatchDetails":[],"httpSourceName":"ALB","httpSourceId":"123456789012-app/shop/1","ruleGroupList":[],"rateBasedRuleList":{rate},"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":null,"httpRequest":{{"clientIp":"{ip}","country":"KR","headers":[{{"name":"Host","value":"shop.example.com"}}],"uri":"/search","args":"q=1%27%20OR%201=1","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"r-{ms}"}}}}"#
    )
}

/// AWS/WAFV2 sums for the shop ACL, one datum per minute `minutes_ago`, as WAF publishes
/// them (WebACL, Region, Rule dimensions).
pub async fn put_waf_metric(aws: &Aws, name: &str, rule: &str, points: &[(i64, f64)]) {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let minute = jiff::Timestamp::now().as_second().div_euclid(60) * 60;
    let data: Vec<MetricDatum> = points
        .iter()
        .map(|&(ago, v)| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(
                    Dimension::builder()
                        .name("WebACL")
                        .value("shop-web-acl")
                        .build(),
                )
                .dimensions(
                    Dimension::builder()
                        .name("Region")
                        .value("ap-northeast-2")
                        .build(),
                )
                .dimensions(Dimension::builder().name("Rule").value(rule).build())
                .timestamp(aws_smithy_types::DateTime::from_secs(
                    minute - ago * 60 + 10,
                ))
                .value(v)
                .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
                .build()
        })
        .collect();
    for chunk in data.chunks(20) {
        aws.cloudwatch("ap-northeast-2")
            .put_metric_data()
            .namespace("AWS/WAFV2")
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
    }
}

/// Writes `records` to `aws-waf-logs-shop` and points the shop ACL's logging at it.
pub async fn waf_logging(aws: &Aws, records: &[String]) {
    let logs = aws.logs("ap-northeast-2");
    logs.create_log_group()
        .log_group_name("aws-waf-logs-shop")
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name("aws-waf-logs-shop")
        .log_stream_name("ap-northeast-2_shop-web-acl_0")
        .send()
        .await
        .unwrap();
    put_records(aws, records).await;
    let waf = aws.wafv2("ap-northeast-2");
    let acls = waf
        .list_web_acls()
        .scope(Scope::Regional)
        .send()
        .await
        .unwrap();
    let shop = acls
        .web_acls()
        .iter()
        .find(|a| a.name() == Some("shop-web-acl"))
        .unwrap();
    waf.put_logging_configuration()
        .logging_configuration(
            aws_sdk_wafv2::types::LoggingConfiguration::builder()
                .resource_arn(shop.arn().unwrap())
                .log_destination_configs(
                    "arn:aws:logs:ap-northeast-2:123456789012:log-group:aws-waf-logs-shop",
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

pub async fn put_records(aws: &Aws, records: &[String]) {
    let mut last = 0;
    let events: Vec<_> = records
        .iter()
        .map(|r| {
            // A line that is no record goes in where it was written.
            let ms = serde_json::from_str::<serde_json::Value>(r)
                .ok()
                .and_then(|v| v["timestamp"].as_i64())
                .unwrap_or(last);
            last = ms;
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(ms)
                .message(r)
                .build()
                .unwrap()
        })
        .collect();
    aws.logs("ap-northeast-2")
        .put_log_events()
        .log_group_name("aws-waf-logs-shop")
        .log_stream_name("ap-northeast-2_shop-web-acl_0")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}
