//! The live WAF area against moto's wafv2: web ACLs in two regions and CloudFront with
//! managed, rate-based, IP-set and geo rules; blocking through the lock token, including a
//! lost race; and the shipped waf-block-ip / waf-unblock-ip playbooks through the executor.

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;
mod runsupport;
mod wafsupport;

use alarmsupport::{aws, aws_config};
use aws_sdk_wafv2::types::{
    RateBasedStatement, RateBasedStatementAggregateKeyType, Scope, Statement,
};
use jiff::SignedDuration;
use moto::Moto;
use opsdeck::incident::event::{RunOutcome, Severity};
use opsdeck::incident::report::timeline_text;
use opsdeck::model::summary::Area;
use opsdeck::model::waf::RuleKind;
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::playbook::run::{self, Answer, Context, Prompt};
use opsdeck::playbook::{catalog, plan};
use opsdeck::sources::Publishers;
use opsdeck::sources::aws::Aws;
use opsdeck::sources::aws::wafv2::{WafOps, WafReader};
use runsupport::{context, desk_with_incident, run_shipped};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use wafsupport::{
    addresses, managed, put_records, put_waf_metric, rule, seed, waf_logging, waf_record, web_acl,
};

/// The shop's ACLs with a minute of metrics and one blocked request in its log group.
async fn seed_with_traffic(aws: &Aws) {
    seed(aws).await;
    let now = jiff::Timestamp::now().as_millisecond();
    waf_logging(
        aws,
        &[waf_record(
            now - 2000,
            "203.0.113.7",
            "BLOCK",
            "rate-limit-100",
        )],
    )
    .await;
    put_waf_metric(aws, "BlockedRequests", "ALL", &[(1, 40.0), (0, 40.0)]).await;
}

async fn started() -> (Moto, Aws) {
    let m = Moto::start();
    let aws = aws(
        &m.url,
        &m.credentials_file,
        &aws_config("opsdeck-test", &["ap-northeast-2", "us-east-1"]),
    )
    .await;
    (m, aws)
}

#[tokio::test(flavor = "multi_thread")]
async fn web_acls_of_two_regions_and_cloudfront_with_every_rule_kind() {
    let (_m, aws) = started().await;
    seed(&aws).await;
    let read = WafReader::new(&aws).read().await;
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let acls = &read.snapshot.acls;
    let names: Vec<(&str, &str, &str)> = acls
        .iter()
        .map(|a| (a.name.as_str(), a.scope.as_str(), a.default_action.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("shop-web-acl", "REGIONAL ap-northeast-2", "Allow"),
            ("search-web-acl", "REGIONAL us-east-1", "Block"),
            ("edge-web-acl", "CLOUDFRONT", "Allow"),
        ]
    );
    let shop = &acls[0];
    let order: Vec<(u32, &str, &str)> = shop
        .rules
        .iter()
        .map(|r| (r.priority, r.name.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            (0, "blocked-ips", "Block"),
            (1, "blocked-ips-v6", "Block"),
            (2, "rate-limit-100", "Block"),
            (3, "AWS-AWSManagedRulesCommonRuleSet", "Group"),
            (4, "geo-block", "Block"),
        ]
    );
    assert_eq!(
        shop.rules[0].kind,
        RuleKind::IpSet {
            set: "blocked-ips-v4".into(),
            addresses: Some(1)
        }
    );
    assert_eq!(
        shop.rules[1].kind,
        RuleKind::IpSet {
            set: "blocked-ips-v6".into(),
            addresses: Some(0)
        }
    );
    assert_eq!(
        shop.rules[2].kind,
        RuleKind::RateBased {
            limit: 100,
            window_s: 60,
            key: "IP".into()
        }
    );
    assert_eq!(
        shop.rules[3].kind,
        RuleKind::Managed {
            vendor: "AWS".into(),
            group: "AWSManagedRulesCommonRuleSet".into(),
            version: Some("Version_1.4".into()),
            excluded: vec!["SizeRestrictions_BODY".into()],
        }
    );
    assert_eq!(
        shop.rules[3].describe(),
        "managed rule group (AWS Version_1.4) excluding SizeRestrictions_BODY"
    );
    assert_eq!(
        shop.rules[4].kind,
        RuleKind::GeoMatch {
            countries: vec!["KP".into(), "IR".into()]
        }
    );
    assert_eq!(acls[1].rules[0].action, "Count (override)");
    assert_eq!(
        acls[2].rules[0].kind,
        RuleKind::IpSet {
            set: "edge-blocked".into(),
            addresses: Some(2)
        }
    );

    // `opsdeck status --json` carries the same ACLs.
    let (publishers, sources) = opsdeck::sources::Publishers::channels();
    let now = jiff::Timestamp::now();
    opsdeck::sources::publish_partial(&publishers.waf, read.snapshot.clone(), now, &read.errors);
    let live = opsdeck::tui::app::Origin::Live { what: "aws".into() };
    let status = opsdeck::status::Status::of(&sources, &live, &[], now);
    let json: serde_json::Value = serde_json::from_str(&status.json().unwrap()).unwrap();
    assert_eq!(
        json["waf"]["acls"][0]["rules"][2]["kind"]["type"],
        "rate_based"
    );
    let waf = status
        .summaries
        .iter()
        .find(|s| s.area == Area::Waf)
        .unwrap();
    assert_eq!(
        waf.counts, "3 ACLs · 7 rules · 0/min allowed · 0/min blocked",
        "rates read: no metric data is no traffic"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_keeps_the_acls_with_the_reason() {
    let (mut m, aws) = started().await;
    seed_with_traffic(&aws).await;
    let mut reader = WafReader::new(&aws);
    let before = reader.read().await.snapshot;
    assert_eq!(before.acls.len(), 3);
    assert_eq!(before.recent_blocked.len(), 1);
    m.stop();
    let read = reader.read().await;
    assert_eq!(read.snapshot.acls.len(), 3, "the last ACLs stay on screen");
    assert_eq!(read.snapshot.rates, before.rates, "and their rates");
    assert_eq!(
        read.snapshot.recent_blocked, before.recent_blocked,
        "and the blocked requests read before"
    );
    assert_eq!(read.errors.len(), 3, "{:?}", read.errors);
    assert!(
        read.errors[0].starts_with("REGIONAL ap-northeast-2: "),
        "{:?}",
        read.errors
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_addresses_and_unknown_acls_are_refused_before_any_change() {
    let (_m, aws) = started().await;
    let id = seed(&aws).await;
    let ops = WafOps::new(aws.clone());
    let apply = |acl: &str, ip: &str| {
        let op = Op::BlockIp {
            acl: acl.into(),
            ip: ip.into(),
        };
        let ops = &ops;
        async move { ops.apply(&op, Mode::Apply).await }
    };
    let e = apply("shop-web-acl", "203.0.113.7/24").await.unwrap_err();
    assert!(
        matches!(&e, OpError::Refused(m) if m.contains("bits set past /24")),
        "{e}"
    );
    let e = apply("nope", "203.0.113.7").await.unwrap_err();
    assert!(
        matches!(&e, OpError::NotFound(m) if m == "no web ACL `nope`"),
        "{e}"
    );
    let e = apply("search-web-acl", "203.0.113.7").await.unwrap_err();
    assert!(
        matches!(&e, OpError::Refused(m) if m.contains("has no rule that blocks an IPV4 IP set")),
        "{e}"
    );
    assert_eq!(addresses(&aws, &id).await, ["192.0.2.0/24"]);
    // An IPv6 address goes to the ACL's IPv6 set.
    let out = apply("shop-web-acl", "2001:DB8::7").await.unwrap();
    assert!(
        out.summary
            .starts_with("added 2001:db8::7/128 to blocked-ips-v6 (1 addresses)"),
        "{}",
        out.summary
    );
}

/// Forwards to moto, but before the first UpdateIPSet it passes on, changes the set itself
/// (GetIPSet, UpdateIPSet adding `racer`): the console's token is then one moto has
/// already used, as when a colleague blocks another address at the same moment.
fn racing_proxy(upstream: &str, set: (&str, &str), racer: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let (name, id) = (set.0.to_string(), set.1.to_string());
    std::thread::spawn(move || {
        let mut raced = false;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let Some(request) = alarmsupport::read_request(&mut s) else {
                continue;
            };
            let text = String::from_utf8_lossy(&request).to_string();
            if !raced && text.contains("AWSWAF_20190729.UpdateIPSet") {
                raced = true;
                let got = call(
                    &upstream,
                    "GetIPSet",
                    &serde_json::json!({"Name": name, "Scope": "REGIONAL", "Id": id}),
                );
                let mut addresses: Vec<serde_json::Value> = got["IPSet"]["Addresses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                addresses.push(racer.into());
                let body = serde_json::json!({"Name": name, "Scope": "REGIONAL", "Id": id, "Addresses": addresses, "LockToken": got["LockToken"]});
                let done = call(&upstream, "UpdateIPSet", &body);
                assert!(
                    done["NextLockToken"].is_string(),
                    "the racer's update: {done}"
                );
            }
            alarmsupport::forward(&upstream, &text, &mut s);
        }
    });
    url
}

/// One wafv2 call to moto as another client would make it (moto checks no signature).
fn call(upstream: &str, target: &str, body: &serde_json::Value) -> serde_json::Value {
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {upstream}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSWAF_20190729.{target}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIAOPSDECKTEST0001/20260101/ap-northeast-2/wafv2/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut up = std::net::TcpStream::connect(upstream).unwrap();
    up.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    up.read_to_string(&mut reply).unwrap();
    let (_, json) = reply.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{target}: {e}: {reply}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_lock_token_race_rereads_and_both_addresses_end_up_in_the_set() {
    let (m, direct) = started().await;
    let id = seed(&direct).await;
    let proxy = racing_proxy(&m.url, ("blocked-ips-v4", &id), "198.51.100.9/32");
    let raced = aws(
        &proxy,
        &m.credentials_file,
        &aws_config("opsdeck-test", &["ap-northeast-2", "us-east-1"]),
    )
    .await;
    let out = WafOps::new(raced)
        .apply(
            &Op::BlockIp {
                acl: "shop-web-acl".into(),
                ip: "203.0.113.7".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap();
    assert!(
        out.calls
            .iter()
            .any(|c| c.contains("lock token taken, re-read 1")),
        "{:#?}",
        out.calls
    );
    assert_eq!(
        addresses(&direct, &id).await,
        ["192.0.2.0/24", "198.51.100.9/32", "203.0.113.7/32"]
    );
}

/// What a playbook run has in the console: the WAF pane fed by a live reader polling moto,
/// an open incident's journal, `ops` for the WAF, waits `speed` times faster.
fn playbook_context(
    aws: &Aws,
    ops: Arc<WafOps>,
    speed: u32,
) -> (Context, Publishers, tempfile::TempDir) {
    /// The runner's deadlines by a clock `speed` times faster than the wall's.
    struct Fast(std::time::Instant, jiff::Timestamp, u32);
    impl opsdeck::incident::clock::Clock for Fast {
        fn now(&self) -> jiff::Timestamp {
            let fast = self.0.elapsed() * self.2;
            self.1 + SignedDuration::try_from(fast).unwrap()
        }
    }
    let (publishers, sources) = Publishers::channels();
    opsdeck::sources::aws::wafv2::spawn(
        WafReader::new(aws),
        publishers.waf.clone(),
        std::time::Duration::from_millis(300),
        Arc::new(tokio::sync::Notify::new()),
    );
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_with_incident(
        dir.path(),
        "injection probes from 203.0.113.7",
        Severity::Sev2,
    );
    let clock = Fast(std::time::Instant::now(), jiff::Timestamp::now(), speed);
    let ctx = context(Area::Waf, ops, sources, desk, Arc::new(clock), speed);
    (ctx, publishers, dir)
}

fn timeline(ctx: &Context) -> String {
    let desk = ctx.desk.lock().unwrap();
    let said: Vec<String> = desk
        .active()
        .unwrap()
        .entries
        .iter()
        .filter_map(|e| timeline_text(&e.event))
        .collect();
    said.join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn block_then_unblock_through_the_shipped_playbooks() {
    let (_m, aws) = started().await;
    let id = seed(&aws).await;
    let ops = Arc::new(WafOps::new(aws.clone()));
    let block = Op::BlockIp {
        acl: "shop-web-acl".into(),
        ip: "203.0.113.7".into(),
    };
    let dry = ops.apply(&block, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|c| c.ends_with("before=[192.0.2.0/24] after=[192.0.2.0/24, 203.0.113.7/32]")),
        "{:#?}",
        dry.calls
    );
    assert_eq!(
        addresses(&aws, &id).await,
        ["192.0.2.0/24"],
        "a dry run changes nothing"
    );

    // moto enforces no WAF: once the address is in the set, write what WAF logs of its next
    // request (stopped by the IP-set rule), as the real service would.
    waf_logging(&aws, &[]).await;
    let emulated = aws.clone();
    let set = id.clone();
    let waf_logs = tokio::spawn(async move {
        loop {
            if addresses(&emulated, &set)
                .await
                .contains(&"203.0.113.7/32".to_string())
            {
                let ms = jiff::Timestamp::now().as_millisecond();
                put_records(
                    &emulated,
                    &[waf_record(ms, "203.0.113.7", "BLOCK", "blocked-ips")],
                )
                .await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    let (ctx, publishers, _dir) = playbook_context(&aws, ops, 6);
    run_shipped(&ctx, "waf-block-ip", &[("ip", "203.0.113.7")], &[]).await;
    assert_eq!(
        addresses(&aws, &id).await,
        ["192.0.2.0/24", "203.0.113.7/32"]
    );
    waf_logs.await.unwrap();
    let prompts = run_shipped(&ctx, "waf-unblock-ip", &[("ip", "203.0.113.7")], &[]).await;
    assert!(
        matches!(&prompts[0], Prompt::TypeTarget { target, .. } if target == "203.0.113.7"),
        "{prompts:?}"
    );
    assert_eq!(
        addresses(&aws, &id).await,
        ["192.0.2.0/24"],
        "the rollback restores the set"
    );

    let said = timeline(&ctx);
    assert!(
        said.contains("added 203.0.113.7/32 to blocked-ips-v4 (2 addresses), rule blocked-ips of shop-web-acl; verified with GetIPSet (as arn:aws:sts::123456789012:"),
        "{said}"
    );
    assert!(
        said.contains("removed 203.0.113.7/32 from blocked-ips-v4 (1 addresses)"),
        "{said}"
    );
    drop(publishers);
}

/// A block whose addresses send nothing afterwards is in the set but not verified: the run
/// says so and is not "finished ok".
#[tokio::test(flavor = "multi_thread")]
async fn a_block_no_request_confirms_is_not_verified() {
    let (_m, aws) = started().await;
    let id = seed(&aws).await;
    waf_logging(&aws, &[]).await;
    // The three-minute wait in a few seconds.
    let (ctx, publishers, _dir) = playbook_context(&aws, Arc::new(WafOps::new(aws.clone())), 60);
    let playbook = catalog::shipped("waf-block-ip").unwrap();
    let vars = plan::inputs(
        &playbook,
        &[("ip".to_string(), "203.0.113.7, 203.0.113.8".to_string())],
    )
    .unwrap();
    let (outcome, view, _) = run::execute_answering(&ctx, &playbook, vars, |_| Answer::Yes).await;
    assert_eq!(
        addresses(&aws, &id).await,
        ["192.0.2.0/24", "203.0.113.7/32", "203.0.113.8/32"]
    );
    assert!(
        matches!(outcome, RunOutcome::Unmet(_)),
        "{outcome:?} {view:#?}"
    );
    let said = timeline(&ctx);
    assert!(
        said.contains("not verified: no request from 203.0.113.7/32, 203.0.113.8/32 seen yet (WAF logs aws-waf-logs-shop"),
        "{said}"
    );
    drop(publishers);
}

/// AWS's answer when the identity may not list web ACLs (JSON protocol, recorded format:
/// moto enforces no IAM, so it cannot refuse).
const DENIED: &str = r#"{"__type":"WAFAccessDeniedException","Message":"User: arn:aws:sts::123456789012:assumed-role/ReadOnly/oncall is not authorized to perform: wafv2:ListWebACLs"}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_forbidden_call_is_named_once_and_not_asked_again() {
    let denied =
        alarmsupport::Recorded::serve("400 Bad Request", "application/x-amz-json-1.1", DENIED);
    let m = Moto::start();
    let aws = aws(
        &denied.url,
        &m.credentials_file,
        &aws_config("opsdeck-test", &["eu-west-1"]),
    )
    .await;
    let mut reader = WafReader::new(&aws);
    let first = reader.read().await;
    assert!(first.snapshot.acls.is_empty());
    assert_eq!(
        first.errors.len(),
        2,
        "eu-west-1 and CloudFront: {:?}",
        first.errors
    );
    assert!(
        first.errors[0].starts_with("REGIONAL eu-west-1: "),
        "{:?}",
        first.errors
    );
    assert!(
        first.errors.iter().all(|e| e
            .ends_with("forbidden: the AWS identity lacks the IAM permission wafv2:ListWebACLs")),
        "{:?}",
        first.errors
    );
    let asked = denied.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(asked, 2, "one request per place, no retries of a refusal");
    let again = reader.read().await;
    assert_eq!(again.errors, first.errors, "still said");
    assert_eq!(
        denied.requests.load(std::sync::atomic::Ordering::SeqCst),
        asked,
        "not asked again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rates_per_acl_and_rule_and_the_blocked_clients_of_the_logs() {
    let (_m, aws) = started().await;
    seed(&aws).await;
    // Half an hour of 20 blocked a minute, then 400 in the last minutes (and in the one
    // still counting, so a minute passing mid-test keeps the surge the last point).
    let mut blocked: Vec<(i64, f64)> = (3..33).map(|ago| (ago, 20.0)).collect();
    blocked.extend([(2, 400.0), (1, 400.0), (0, 400.0)]);
    put_waf_metric(&aws, "BlockedRequests", "ALL", &blocked).await;
    let allowed: Vec<(i64, f64)> = (0..33).map(|ago| (ago, 1000.0)).collect();
    put_waf_metric(&aws, "AllowedRequests", "ALL", &allowed).await;
    put_waf_metric(&aws, "CountedRequests", "ALL", &[(1, 7.0), (0, 7.0)]).await;
    let by_rate_rule: Vec<(i64, f64)> = (1..11).map(|ago| (ago, 30.0)).collect();
    put_waf_metric(&aws, "BlockedRequests", "rate-limit-100", &by_rate_rule).await;

    let now = jiff::Timestamp::now().as_millisecond();
    let mut records = vec![
        waf_record(now - 9000, "192.0.2.200", "ALLOW", "Default_Action"),
        waf_record(
            now - 8000,
            "203.0.113.7",
            "BLOCK",
            "AWS-AWSManagedRulesCommonRuleSet",
        ),
        waf_record(now - 7000, "198.51.100.9", "BLOCK", "rate-limit-100"),
        waf_record(
            now - 6000,
            "203.0.113.7",
            "BLOCK",
            "AWS-AWSManagedRulesCommonRuleSet",
        ),
        "not json at all".to_string(),
        waf_record(now - 5000, "192.0.2.1", "BLOCK", "blocked-ips"),
        waf_record(
            now - 4000,
            "203.0.113.7",
            "BLOCK",
            "AWS-AWSManagedRulesCommonRuleSet",
        ),
        waf_record(now - 3000, "198.51.100.9", "BLOCK", "rate-limit-100"),
        // Older than the offer's ten minutes: not read.
    ];
    records.insert(
        0,
        waf_record(now - 20 * 60_000, "192.0.2.99", "BLOCK", "rate-limit-100"),
    );
    waf_logging(&aws, &records).await;

    let mut reader = WafReader::new(&aws);
    let read = reader.read().await;
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let snap = &read.snapshot;
    assert_eq!(snap.rates.len(), 60, "an hour of minutes");
    let last = *snap.rates.last().unwrap();
    assert_eq!((last.allowed, last.blocked, last.counted), (1000, 400, 7));
    assert_eq!(snap.surge(), Some((400, 20)), "{:?}", snap.rates);
    let shop = &snap.acls[0];
    let rate_rule = shop
        .rules
        .iter()
        .find(|r| r.name == "rate-limit-100")
        .unwrap();
    assert_eq!(rate_rule.blocked, Some(300));
    let ip_rule = shop.rules.iter().find(|r| r.name == "blocked-ips").unwrap();
    assert_eq!(ip_rule.blocked, Some(0), "read, and nothing blocked");

    let seen: Vec<(&str, &str)> = snap
        .recent_blocked
        .iter()
        .map(|b| (b.client_ip.as_str(), b.rule.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("198.51.100.9", "rate-limit-100"),
            ("203.0.113.7", "AWS-AWSManagedRulesCommonRuleSet"),
            ("192.0.2.1", "blocked-ips"),
            ("203.0.113.7", "AWS-AWSManagedRulesCommonRuleSet"),
            ("198.51.100.9", "rate-limit-100"),
            ("203.0.113.7", "AWS-AWSManagedRulesCommonRuleSet"),
        ],
        "blocked only, newest first, filtered by opsdeck"
    );
    assert_eq!(snap.recent_blocked[0].uri, "/search?q=1%27%20OR%201=1");
    assert_eq!(
        (snap.top_ips[0].key.as_str(), snap.top_ips[0].count),
        ("203.0.113.7", 3)
    );
    assert_eq!(snap.top_rules[0].key, "AWS-AWSManagedRulesCommonRuleSet");
    assert_eq!(
        snap.requests_from.as_deref(),
        Some(
            "WAF logs aws-waf-logs-shop · no WAF logging for search-web-acl, edge-web-acl; sampled requests not available at this endpoint"
        )
    );
    assert_eq!(
        snap.attackers(jiff::Timestamp::now(), 5),
        ["203.0.113.7", "198.51.100.9"],
        "what an IP set already stops is not offered"
    );

    // The next poll re-reads the late-arrival margin: nothing twice, the new record added.
    put_records(
        &aws,
        &[waf_record(
            now - 1000,
            "2001:db8::66",
            "BLOCK",
            "rate-limit-100",
        )],
    )
    .await;
    let again = reader.read().await;
    assert_eq!(again.snapshot.recent_blocked.len(), 7);
    assert_eq!(again.snapshot.recent_blocked[0].client_ip, "2001:db8::66");
}

/// A GetSampledRequests answer in the format AWS sends it (recorded from wafv2, times moved
/// to `now`): moto has no GetSampledRequests, so only this call is answered by the proxy.
/// Each sample is (seconds ago, client, action, weight, rule within the group).
fn sampled_answer(now: i64, samples: &[(i64, &str, &str, i64, &str)]) -> String {
    let items: Vec<String> = samples
        .iter()
        .map(|&(ago, ip, action, weight, within)| {
            let within = if within.is_empty() {
                String::new()
            } else {
                format!(r#","RuleNameWithinRuleGroup":"{within}""#)
            };
            format!(
                r#"{{"Request":{{"ClientIP":"{ip}","Country":"KR","URI":"/login","Method":"POST","HTTPVersion":"HTTP/1.1","Headers":[{{"Name":"Host","Value":"api.example.com"}},{{"Name":"User-Agent","Value":"python-requests/2.31.0"}}]}},"Weight":{weight},"Timestamp":{}.25,"Action":"{action}"{within},"Labels":[{{"Name":"awswaf:managed:aws:sql-database:SQLi_Body"}}],"ResponseCodeSent":403}}"#,
                now - ago
            )
        })
        .collect();
    format!(
        r#"{{"SampledRequests":[{}],"PopulationSize":1520,"TimeWindow":{{"StartTime":{}.0,"EndTime":{now}.0}}}}"#,
        items.join(","),
        now - 600
    )
}

/// One ACL in eu-west-1 that logs nowhere: a rate-based rule and a managed SQLi group.
async fn seed_unlogged(aws: &Aws) {
    let rate = RateBasedStatement::builder()
        .limit(100)
        .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
        .build()
        .unwrap();
    web_acl(
        aws,
        "eu-west-1",
        Scope::Regional,
        "api-web-acl",
        true,
        vec![
            rule(
                "rate-limit-100",
                0,
                Statement::builder().rate_based_statement(rate).build(),
            ),
            managed(
                "AWS-AWSManagedRulesSQLiRuleSet",
                1,
                "AWSManagedRulesSQLiRuleSet",
                false,
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_acl_without_logging_shows_the_sampled_requests_by_their_weight() {
    let m = Moto::start();
    let now = jiff::Timestamp::now().as_second();
    let proxy = alarmsupport::Scripted::start(
        &m.url,
        vec![
            (
                "GetSampledRequests",
                "200 OK",
                sampled_answer(
                    now,
                    &[
                        (30, "203.0.113.7", "BLOCK", 4, ""),
                        (20, "198.51.100.9", "BLOCK", 1, ""),
                    ],
                ),
            ),
            (
                "GetSampledRequests",
                "200 OK",
                sampled_answer(
                    now,
                    &[
                        (10, "198.51.100.9", "BLOCK", 1, "SQLi_BODY"),
                        (5, "192.0.2.44", "COUNT", 1, "SQLi_QUERYARGUMENTS"),
                    ],
                ),
            ),
        ],
    );
    let aws = aws(
        &proxy.url,
        &m.credentials_file,
        &aws_config("opsdeck-test", &["eu-west-1"]),
    )
    .await;
    seed_unlogged(&aws).await;
    let read = WafReader::new(&aws).read().await;
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    let snap = &read.snapshot;
    assert_eq!(
        snap.requests_from.as_deref(),
        Some("sampled requests of api-web-acl"),
        "the pane says it shows a sample"
    );
    let rows: Vec<(&str, &str, &str)> = snap
        .recent_blocked
        .iter()
        .map(|b| (b.client_ip.as_str(), b.rule.as_str(), b.uri.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("198.51.100.9", "AWS-AWSManagedRulesSQLiRuleSet", "/login"),
            ("198.51.100.9", "rate-limit-100", "/login"),
            ("203.0.113.7", "rate-limit-100", "/login"),
        ],
        "blocked only, newest first"
    );
    // 203.0.113.7's one sample stands for four requests: it tops the two of 198.51.100.9.
    let ips: Vec<(&str, u64)> = snap
        .top_ips
        .iter()
        .map(|c| (c.key.as_str(), c.count))
        .collect();
    assert_eq!(ips, [("203.0.113.7", 4), ("198.51.100.9", 2)]);
    let rules: Vec<(&str, u64)> = snap
        .top_rules
        .iter()
        .map(|c| (c.key.as_str(), c.count))
        .collect();
    assert_eq!(
        rules,
        [("rate-limit-100", 5), ("AWS-AWSManagedRulesSQLiRuleSet", 1)]
    );
    // One call per blocking rule, by its metric name, over the last ten minutes.
    let asked: Vec<serde_json::Value> = proxy
        .answered
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let metrics: Vec<&str> = asked
        .iter()
        .map(|b| b["RuleMetricName"].as_str().unwrap())
        .collect();
    assert_eq!(
        metrics,
        ["rate-limit-100", "AWS-AWSManagedRulesSQLiRuleSet"]
    );
    let b = &asked[0];
    assert_eq!(
        (b["Scope"].as_str(), b["MaxItems"].as_i64()),
        (Some("REGIONAL"), Some(500))
    );
    assert!(
        b["WebAclArn"]
            .as_str()
            .unwrap()
            .contains(":regional/webacl/api-web-acl/"),
        "{b}"
    );
    let window = b["TimeWindow"]["EndTime"].as_f64().unwrap()
        - b["TimeWindow"]["StartTime"].as_f64().unwrap();
    assert_eq!(window, 600.0, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sampled_requests_an_endpoint_lacks_are_said_once_and_not_asked_again() {
    // Plain moto behind a proxy that only counts: moto answers GetSampledRequests with its
    // HTML 500.
    let (_m, proxy, aws) = behind_proxy().await;
    seed(&aws).await;
    let sampled = || {
        proxy
            .actions()
            .iter()
            .filter(|a| *a == "GetSampledRequests")
            .count()
    };
    let mut reader = WafReader::new(&aws);
    let first = reader.read().await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(
        first.snapshot.requests_from.as_deref(),
        Some(
            "no WAF logging for shop-web-acl, search-web-acl, edge-web-acl; sampled requests not available at this endpoint"
        )
    );
    assert!(first.snapshot.recent_blocked.is_empty());
    assert_eq!(sampled(), 3, "one request per place, none retried");
    let again = reader.read().await;
    assert_eq!(again.snapshot.requests_from, first.snapshot.requests_from);
    assert_eq!(sampled(), 3, "not asked again");
}

/// CloudWatch's (Query protocol) error as AWS sends it.
fn cloudwatch_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>9f3c1a52-6b1e-4d0a-8e2f-4c7b9d0e1a23</RequestId></ErrorResponse>"
    )
}

/// CloudWatch Logs' (JSON protocol) error as AWS sends it.
fn logs_error(code: &str, message: &str) -> String {
    format!(r#"{{"__type":"{code}","message":"{message}"}}"#)
}

/// moto behind a proxy that answers what the test arms it with (nothing yet), for the
/// shop's two regions.
async fn behind_proxy() -> (Moto, alarmsupport::Scripted, Aws) {
    let m = Moto::start();
    let proxy = alarmsupport::Scripted::start(&m.url, Vec::new());
    let aws = aws(
        &proxy.url,
        &m.credentials_file,
        &aws_config("opsdeck-test", &["ap-northeast-2", "us-east-1"]),
    )
    .await;
    (m, proxy, aws)
}

/// [`behind_proxy`], seeded with the shop's ACLs, a minute of metrics and one blocked
/// request in its log group.
async fn armed() -> (Moto, alarmsupport::Scripted, Aws) {
    let (m, proxy, aws) = behind_proxy().await;
    seed_with_traffic(&aws).await;
    (m, proxy, aws)
}

fn asked(proxy: &alarmsupport::Scripted, action: &str) -> usize {
    proxy.actions().iter().filter(|a| *a == action).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn throttled_rates_and_logs_are_retried_then_said_and_the_last_rows_stay() {
    let (_m, proxy, aws) = armed().await;
    let mut reader = WafReader::new(&aws);
    let before = reader.read().await;
    assert!(before.errors.is_empty(), "{:?}", before.errors);
    assert_eq!(before.snapshot.recent_blocked.len(), 1);
    assert!(before.snapshot.rates.iter().any(|p| p.blocked == 40));
    let (metric_calls, log_calls) = (
        asked(&proxy, "GetMetricData"),
        asked(&proxy, "FilterLogEvents"),
    );
    // Every attempt the SDK makes is throttled, for both calls.
    proxy.push((0..3).map(|_| {
        (
            "GetMetricData",
            "400 Bad Request",
            cloudwatch_error("Throttling", "Rate exceeded"),
        )
    }));
    proxy.push((0..3).map(|_| {
        (
            "FilterLogEvents",
            "400 Bad Request",
            logs_error("ThrottlingException", "Rate exceeded"),
        )
    }));
    let read = reader.read().await;
    assert!(
        read.errors.contains(&"rates REGIONAL ap-northeast-2: cloudwatch:GetMetricData throttled by AWS (Throttling) through 3 attempts with backoff; trying again next poll".to_string()),
        "{:?}",
        read.errors
    );
    assert!(
        read.errors.contains(&"WAF logs aws-waf-logs-shop (ap-northeast-2): logs:FilterLogEvents throttled by AWS (ThrottlingException) through 3 attempts with backoff; trying again next poll".to_string()),
        "{:?}",
        read.errors
    );
    assert_eq!(proxy.answered.lock().unwrap().len(), 6, "retried, each");
    assert_eq!(
        asked(&proxy, "GetMetricData") - metric_calls,
        5,
        "three attempts in the throttled region, one in each other place"
    );
    assert_eq!(asked(&proxy, "FilterLogEvents") - log_calls, 3);
    assert_eq!(read.snapshot.rates, before.snapshot.rates, "the rates stay");
    assert_eq!(
        read.snapshot.recent_blocked, before.snapshot.recent_blocked,
        "and the blocked requests"
    );
    // Throttling passes: the next poll asks again and is fresh.
    let again = reader.read().await;
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(
        again.snapshot.recent_blocked,
        before.snapshot.recent_blocked
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_credentials_are_named_with_the_fix_and_asked_again_next_poll() {
    let (_m, proxy, aws) = armed().await;
    let mut reader = WafReader::new(&aws);
    let before = reader.read().await;
    assert!(before.errors.is_empty(), "{:?}", before.errors);
    proxy.push([
        (
            "GetMetricData",
            "403 Forbidden",
            cloudwatch_error(
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
        ),
        (
            "FilterLogEvents",
            "400 Bad Request",
            logs_error(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ),
        ),
    ]);
    let read = reader.read().await;
    let fix = "AWS credentials expired for profile opsdeck-test: run `aws sso login --profile opsdeck-test`";
    assert!(
        read.errors
            .contains(&format!("rates REGIONAL ap-northeast-2: {fix}")),
        "{:?}",
        read.errors
    );
    assert!(
        read.errors.contains(&format!(
            "WAF logs aws-waf-logs-shop (ap-northeast-2): {fix}"
        )),
        "{:?}",
        read.errors
    );
    assert_eq!(proxy.answered.lock().unwrap().len(), 2, "not retried");
    assert_eq!(read.snapshot.rates, before.snapshot.rates);
    assert_eq!(read.snapshot.recent_blocked, before.snapshot.recent_blocked);
    // Once logged in again, the next poll reads: an expiry is not remembered as a refusal.
    let again = reader.read().await;
    assert!(again.errors.is_empty(), "{:?}", again.errors);
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_rates_and_logs_name_the_iam_action_and_are_not_asked_again() {
    let (_m, proxy, aws) = armed().await;
    proxy.push([
        (
            "GetMetricData",
            "403 Forbidden",
            cloudwatch_error(
                "AccessDenied",
                "User: arn:aws:sts::123456789012:assumed-role/ReadOnly/oncall is not authorized to perform: cloudwatch:GetMetricData",
            ),
        ),
        (
            "FilterLogEvents",
            "400 Bad Request",
            logs_error(
                "AccessDeniedException",
                "User: arn:aws:sts::123456789012:assumed-role/ReadOnly/oncall is not authorized to perform: logs:FilterLogEvents on resource: arn:aws:logs:ap-northeast-2:123456789012:log-group:aws-waf-logs-shop:log-stream:",
            ),
        ),
    ]);
    let mut reader = WafReader::new(&aws);
    let first = reader.read().await;
    let rates = "rates REGIONAL ap-northeast-2: forbidden: the AWS identity lacks the IAM permission cloudwatch:GetMetricData";
    let logs = "WAF logs aws-waf-logs-shop (ap-northeast-2): forbidden: the AWS identity lacks the IAM permission logs:FilterLogEvents";
    assert_eq!(
        first.errors,
        [rates, logs],
        "the other region's and CloudFront's rates are read"
    );
    assert_eq!(first.snapshot.acls.len(), 3, "the rules still show");
    let calls = (
        asked(&proxy, "GetMetricData"),
        asked(&proxy, "FilterLogEvents"),
    );
    assert_eq!(calls, (3, 1));
    let again = reader.read().await;
    assert_eq!(again.errors, first.errors, "still said, the same way");
    assert_eq!(
        (
            asked(&proxy, "GetMetricData"),
            asked(&proxy, "FilterLogEvents")
        ),
        (5, 1),
        "the refused region and log group are not asked again"
    );
}

/// The WAF pane at 80×24 as the console draws `feed` at `now`.
fn waf_pane(feed: Arc<opsdeck::model::Feed<opsdeck::model::waf::WafSnapshot>>) -> String {
    use opsdeck::tui::action::{Action, Command};
    let now = jiff::Timestamp::now();
    let themes = opsdeck::tui::theme::ThemeStore::new(None);
    let theme = themes.load("default").unwrap();
    let mut app = opsdeck::tui::app::App::new(
        opsdeck::tui::app::Origin::Live { what: "aws".into() },
        opsdeck::tui::data::Data::new(catalog::load(None), now),
        theme,
        themes,
        opsdeck::tui::keymap::Keymap::defaults(),
        now,
    );
    app.update(Action::Waf(feed));
    app.update(Action::Command(Command::Pane(4)));
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| opsdeck::tui::draw::draw(f, &app))
        .unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Waits (at most 60 s) for the feed to satisfy `done`.
async fn feed_until(
    rx: &mut opsdeck::sources::Rx<opsdeck::model::waf::WafSnapshot>,
    what: &str,
    done: impl Fn(&opsdeck::model::Feed<opsdeck::model::waf::WafSnapshot>) -> bool,
) -> Arc<opsdeck::model::Feed<opsdeck::model::waf::WafSnapshot>> {
    let wait = async {
        loop {
            let feed = rx.borrow_and_update().clone();
            if done(&feed) {
                return feed;
            }
            rx.changed().await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("no {what} in 60 s: {:?}", rx.borrow().health))
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_stopped_mid_run_greys_the_pane_with_the_rows_kept_and_restarted_is_fresh() {
    let (mut m, aws) = started().await;
    seed_with_traffic(&aws).await;
    let (publishers, mut sources) = Publishers::channels();
    opsdeck::sources::aws::wafv2::spawn(
        WafReader::new(&aws),
        publishers.waf.clone(),
        std::time::Duration::from_millis(500),
        Arc::new(tokio::sync::Notify::new()),
    );
    feed_until(&mut sources.waf, "first snapshot", |f| {
        f.health.last_ok.is_some() && !f.data.recent_blocked.is_empty()
    })
    .await;

    m.stop();
    // Polls go on until the stop shows: the stale feed keeps what the last good one had.
    let mut fresh = sources.waf.borrow_and_update().clone();
    let stale = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            sources.waf.changed().await.unwrap();
            let feed = sources.waf.borrow_and_update().clone();
            if feed.health.last_error.is_some() {
                return feed;
            }
            fresh = feed;
        }
    })
    .await
    .expect("failing health within 60 s");
    let last_ok = fresh.health.last_ok;
    assert_eq!(
        stale.health.last_ok, last_ok,
        "no update while moto is down"
    );
    assert_eq!(stale.data.acls, fresh.data.acls, "the ACLs stay");
    assert_eq!(stale.data.rates, fresh.data.rates, "the rates stay");
    assert_eq!(stale.data.recent_blocked, fresh.data.recent_blocked);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let screen = waf_pane(stale.clone());
    let line = screen
        .lines()
        .find(|l| l.contains("✗ CRIT WAF — last update "))
        .unwrap_or_else(|| panic!("no staleness line:\n{screen}"));
    assert!(
        line.contains("s ago — REGIONAL ap-northeast-2: cannot reach"),
        "{line}"
    );
    assert!(
        screen.contains("203.0.113.7"),
        "the rows are kept:\n{screen}"
    );
    assert!(screen.contains("shop-web-acl"), "{screen}");

    // moto comes back (empty: it keeps nothing), the world is put back, the pane is fresh.
    m.restart();
    seed_with_traffic(&aws).await;
    let back = feed_until(&mut sources.waf, "fresh health", |f| {
        f.health.last_error.is_none() && f.health.last_ok > last_ok
    })
    .await;
    assert_eq!(back.data.acls.len(), 3);
    assert!(!back.data.recent_blocked.is_empty());
    let screen = waf_pane(back);
    assert!(!screen.contains("✗ CRIT WAF"), "{screen}");
    drop(publishers);
}
