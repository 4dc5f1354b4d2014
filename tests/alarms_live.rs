//! The live alarm area against real sources: moto standing in for CloudWatch in two
//! regions, and real Alertmanagers (an HA pair's duplicates, silences, acks, outages).

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;

use alarmsupport::{Alertmanager, Proxy, Recorded, alert, aws_config};
use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic, Tag};
use moto::Moto;
use opsdeck::incident::event::Event;
use opsdeck::model::alarm::{Alarm, AlarmSnapshot, AlarmSource, AlarmState, Severity};
use opsdeck::sources::alarms::{AlarmsConfig, LiveAlarms};
use opsdeck::sources::alertmanager::{self, AlertmanagerConfig};
use opsdeck::sources::aws::Aws;
use opsdeck::sources::{AlarmChange, AlarmControl};
use std::path::Path;
use std::sync::Arc;

async fn aws(url: &str, credentials: &Path, regions: &[&str]) -> Aws {
    alarmsupport::aws(url, credentials, &aws_config("opsdeck-test", regions)).await
}

async fn put_alarm(aws: &Aws, region: &str, name: &str, severity: Option<&str>) {
    let cw = aws.cloudwatch(region);
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(5)
        .threshold(50.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .expect("PutMetricAlarm");
    if let Some(sev) = severity {
        let arn = cw
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .expect("DescribeAlarms")
            .metric_alarms()[0]
            .alarm_arn()
            .unwrap()
            .to_string();
        cw.tag_resource()
            .resource_arn(arn)
            .tags(Tag::builder().key("severity").value(sev).build())
            .send()
            .await
            .expect("TagResource");
    }
}

async fn set_state(aws: &Aws, region: &str, name: &str, state: StateValue, why: &str) {
    aws.cloudwatch(region)
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(why)
        .send()
        .await
        .expect("SetAlarmState");
}

fn find<'a>(snap: &'a AlarmSnapshot, name: &str) -> &'a Alarm {
    snap.alarms
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {:#?}", snap.alarms))
}

fn poke() -> Arc<tokio::sync::Notify> {
    Arc::new(tokio::sync::Notify::new())
}

/// AWS's answers to the two calls moto has no handler for (HTTP 500 with an HTML page):
/// the query protocol's empty result, as CloudWatch sends it.
const ACTIONS: &[(&str, &str)] = &[
    (
        "DisableAlarmActions",
        "<DisableAlarmActionsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata><RequestId>0c8b7f36-9a0e-4c1f-8d56-3b1c2f4e5a61</RequestId></ResponseMetadata></DisableAlarmActionsResponse>",
    ),
    (
        "EnableAlarmActions",
        "<EnableAlarmActionsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata><RequestId>7d2e9b14-5c3a-4f8e-b0a9-6e1d4c2b3f70</RequestId></ResponseMetadata></EnableAlarmActionsResponse>",
    ),
];

#[tokio::test]
async fn cloudwatch_regions_states_tags_history_and_actions() {
    let mut m = Moto::start();
    let proxy = Proxy::start(&m.url, ACTIONS);
    let aws = aws(
        &proxy.url,
        &m.credentials_file,
        &["ap-northeast-2", "us-east-1"],
    )
    .await;
    put_alarm(
        &aws,
        "ap-northeast-2",
        "shop-alb-5xx-high",
        Some("critical"),
    )
    .await;
    put_alarm(&aws, "us-east-1", "search-latency-high", None).await;
    set_state(
        &aws,
        "ap-northeast-2",
        "shop-alb-5xx-high",
        StateValue::Alarm,
        "Threshold Crossed: 1 datapoint [212.0] was greater than the threshold (50.0).",
    )
    .await;

    let mut live = LiveAlarms::new(Some(Ok(aws.clone())), vec![], &AlarmsConfig::default());
    let control = live.control(poke());
    let (snap, outages) = live.round(true).await;
    assert!(outages.is_empty(), "{outages:?}");
    assert_eq!(snap.alarms.len(), 2, "{:#?}", snap.alarms);
    // Firing first; the region and the tag's severity on the row.
    let fire = &snap.alarms[0];
    assert_eq!(fire.name, "shop-alb-5xx-high");
    assert_eq!(
        (fire.state, fire.severity, fire.origin.as_str()),
        (AlarmState::Alarm, Severity::Critical, "ap-northeast-2")
    );
    assert!(fire.reason.contains("212.0"), "{}", fire.reason);
    assert_eq!(
        fire.labels.get("severity").map(String::as_str),
        Some("critical")
    );
    assert_eq!(fire.actions_enabled, Some(true));
    assert!(
        fire.facts
            .iter()
            .any(|(k, v)| *k == "Metric" && v == "AWS/ApplicationELB/HTTPCode_Target_5XX_Count"),
        "{:?}",
        fire.facts
    );
    let quiet = find(&snap, "search-latency-high");
    // moto starts alarms in OK (AWS: INSUFFICIENT_DATA); untagged means warning.
    assert_eq!(
        (quiet.origin.as_str(), quiet.severity),
        ("us-east-1", Severity::Warning)
    );
    assert_eq!(snap.sources.len(), 2);

    // moto has no DescribeAlarmHistory: the detail says so, after a single request.
    let before = m.answered(500);
    assert_eq!(
        control.history(fire).await,
        "history: not supported by this endpoint (DescribeAlarmHistory)"
    );
    assert_eq!(m.answered(500) - before, 1);

    // `s` on a CloudWatch alarm disables its actions; journaled with the principal.
    let done = control
        .change(AlarmChange::Actions {
            alarm: Box::new(fire.clone()),
            enabled: false,
        })
        .await
        .expect("DisableAlarmActions");
    match &done.event {
        Event::AlarmChange {
            action, principal, ..
        } => {
            assert_eq!(action, "disable actions");
            let p = principal.as_deref().unwrap_or_default();
            assert!(p.starts_with("arn:aws:sts::123456789012:"), "{p}");
        }
        other => panic!("{other:?}"),
    }
    let calls = proxy.answered.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("Action=DisableAlarmActions&")
            && calls[0].contains("AlarmNames.member.1=shop-alb-5xx-high"),
        "{calls:?}"
    );
    control
        .change(AlarmChange::Actions {
            alarm: Box::new(fire.clone()),
            enabled: true,
        })
        .await
        .expect("EnableAlarmActions");

    set_state(
        &aws,
        "ap-northeast-2",
        "shop-alb-5xx-high",
        StateValue::Ok,
        "recovered",
    )
    .await;
    let (snap, _) = live.round(true).await;
    let back = find(&snap, "shop-alb-5xx-high");
    assert_eq!(
        (back.state, back.actions_enabled),
        (AlarmState::Ok, Some(true))
    );

    assert_eq!(
        proxy.answered.lock().unwrap().len(),
        2,
        "EnableAlarmActions went out"
    );

    // Outage: the rows stay, each region says why.
    m.stop();
    let (snap, outages) = live.round(true).await;
    assert_eq!(snap.alarms.len(), 2, "the last data is kept");
    assert_eq!(outages.len(), 2, "{outages:?}");
    assert!(
        outages[0].starts_with("cloudwatch ap-northeast-2: cloudwatch:DescribeAlarms")
            || outages[0].starts_with("cloudwatch ap-northeast-2: cannot reach"),
        "{outages:?}"
    );
}

#[tokio::test]
async fn access_denied_on_describe_alarms_marks_only_that_region() {
    // A recorded AWS query-protocol answer: moto does not enforce IAM, so it cannot refuse.
    let denied = Recorded::serve(
        "403 Forbidden",
        "text/xml",
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/ReadOnly/oncall is not authorized to perform: cloudwatch:DescribeAlarms because no identity-based policy allows the cloudwatch:DescribeAlarms action</Message></Error><RequestId>5b0a6ab0-1f1e-4c58-9a57-2f9c8b6f3c11</RequestId></ErrorResponse>",
    );
    let m = Moto::start();
    let aws = aws(&denied.url, &m.credentials_file, &["eu-west-1"]).await;
    let am = Alertmanager::start();
    am.post_alerts(&format!(
        "[{}]",
        alert("HighErrorRate", &[("severity", "critical")], "5xx > 5%")
    ));
    let cfg: AlertmanagerConfig =
        toml::from_str(&format!("name = \"prod-kr\"\nurl = \"{}\"", am.url)).unwrap();
    let mut live = LiveAlarms::new(
        Some(Ok(aws)),
        vec![alertmanager::Alertmanager::new(cfg)],
        &AlarmsConfig::default(),
    );
    let (snap, outages) = live.round(true).await;
    assert!(
        outages.is_empty(),
        "a refusal is not an outage: {outages:?}"
    );
    let cw = &snap.sources[0];
    assert_eq!(cw.name, "cloudwatch eu-west-1");
    assert_eq!(
        cw.problem.as_deref(),
        Some("forbidden: the AWS identity lacks the IAM permission cloudwatch:DescribeAlarms")
    );
    assert_eq!(
        snap.alarms.len(),
        1,
        "the Alertmanager's alert is still there"
    );
    assert_eq!(snap.alarms[0].source, AlarmSource::Alertmanager);
    // A 403 is not retried.
    assert_eq!(denied.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn two_alertmanagers_deduplicate_silence_ack_expire_and_survive_an_outage() {
    let a = Alertmanager::start();
    let mut b = Alertmanager::start();
    let both = alert(
        "HighErrorRate",
        &[("service", "api"), ("severity", "critical")],
        "5xx above 5% for 5 min",
    );
    let only_b = alert(
        "DiskFull",
        &[("severity", "warning"), ("instance", "db-1")],
        "disk 95%",
    );
    a.post_alerts(&format!("[{both}]"));
    b.post_alerts(&format!("[{both},{only_b}]"));
    let am = |x: &Alertmanager, name: &str| {
        let cfg: AlertmanagerConfig =
            toml::from_str(&format!("name = \"{name}\"\nurl = \"{}\"", x.url)).unwrap();
        alertmanager::Alertmanager::new(cfg)
    };
    let mut live = LiveAlarms::new(
        None,
        vec![am(&a, "am-a"), am(&b, "am-b")],
        &AlarmsConfig::default(),
    );
    let control = live.control(poke());
    let (snap, outages) = live.round(false).await;
    assert!(outages.is_empty(), "{outages:?}");
    assert_eq!(snap.alarms.len(), 2, "{:#?}", snap.alarms);
    let hot = find(&snap, "HighErrorRate").clone();
    assert_eq!(hot.origin, "am-a,am-b");
    assert_eq!(
        (hot.state, hot.severity),
        (AlarmState::Alarm, Severity::Critical)
    );
    assert_eq!(hot.reason, "5xx above 5% for 5 min");
    assert_eq!(
        hot.annotations.get("runbook_url").map(String::as_str),
        Some("https://runbooks.test/HighErrorRate")
    );
    assert!(
        hot.facts
            .iter()
            .any(|(k, v)| *k == "Generator" && v == "http://prometheus.test/graph")
    );

    // A silence made here lands in the alert's first Alertmanager, with who and why.
    let done = control
        .change(AlarmChange::Silence {
            matchers: hot.silence_matchers(),
            minutes: 30,
            comment: "rolling back the 14:02 deploy".into(),
            alarm: Box::new(hot.clone()),
        })
        .await
        .expect("silence");
    assert!(
        done.said.contains("silenced on am-a for 30 min"),
        "{}",
        done.said
    );
    let listed = a.get("/api/v2/silences");
    assert!(
        listed.contains("\"comment\":\"rolling back the 14:02 deploy\""),
        "{listed}"
    );
    assert!(listed.contains("\"createdBy\":\""), "{listed}");
    assert!(listed.contains('@'), "createdBy is user@host: {listed}");
    let (snap, _) = live.round(false).await;
    let silenced = find(&snap, "HighErrorRate").clone();
    assert_eq!(silenced.state_word(), "SILENCED");
    assert_eq!(
        snap.firing().count(),
        1,
        "only DiskFull is still unattended"
    );
    assert!(
        control
            .silences()
            .await
            .unwrap()
            .contains("rolling back the 14:02 deploy")
    );

    // `u` expires it, and the alert fires again.
    control
        .change(AlarmChange::Expire {
            alarm: Box::new(silenced),
        })
        .await
        .expect("expire");
    let (snap, _) = live.round(false).await;
    assert_eq!(find(&snap, "HighErrorRate").state_word(), "ALARM");

    // `a`: the ack is a short silence saying who is on it.
    let disk = find(&snap, "DiskFull").clone();
    let done = control
        .change(AlarmChange::Ack {
            alarm: Box::new(disk),
        })
        .await
        .expect("ack");
    assert!(matches!(&done.event, Event::AlarmChange { action, .. } if action == "ack"));
    let listed = b.get("/api/v2/silences");
    assert!(listed.contains("\"comment\":\"ack: "), "{listed}");

    // Outage of one: its alert stays (stale) with the line; back again, the line goes.
    b.stop();
    let (snap, outages) = live.round(false).await;
    assert_eq!(snap.alarms.len(), 2);
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert!(
        outages[0].starts_with(&format!("alertmanager am-b: cannot reach {}", b.url)),
        "{outages:?}"
    );
    b.restart();
    b.post_alerts(&format!("[{both},{only_b}]"));
    let (snap, outages) = live.round(false).await;
    assert!(outages.is_empty(), "{outages:?}");
    // Alertmanager keeps silences in memory between its 15-minute snapshots, so a killed one
    // may come back without the ack: only that the alert is back is asserted.
    assert_eq!(find(&snap, "DiskFull").origin, "am-b");
}

#[tokio::test]
async fn a_composite_alarm_is_listed_with_its_rule() {
    let m = alarmsupport::CompositeMoto::start("us-east-1");
    let aws = aws(&m.url, &m.credentials_file, &["us-east-1"]).await;
    let mut live = LiveAlarms::new(Some(Ok(aws)), vec![], &AlarmsConfig::default());
    let (snap, outages) = live.round(true).await;
    assert!(outages.is_empty(), "{outages:?}");
    let composite = find(&snap, "checkout-degraded");
    assert_eq!(
        (composite.state, composite.origin.as_str()),
        (AlarmState::Alarm, "us-east-1")
    );
    assert_eq!(composite.reason, "checkout-5xx-high in ALARM");
    assert!(
        composite
            .facts
            .iter()
            .any(|(k, v)| *k == "Rule" && v == "ALARM(\"checkout-5xx-high\")"),
        "{:?}",
        composite.facts
    );
    assert_eq!(find(&snap, "checkout-5xx-high").state, AlarmState::Alarm);
    assert_eq!(snap.alarms.len(), 2, "each alarm once: {:#?}", snap.alarms);
}

#[tokio::test]
async fn a_bearer_token_is_sent_and_never_shown() {
    // What an Alertmanager behind an authenticating proxy answers a wrong token with.
    let proxy = Recorded::serve("401 Unauthorized", "text/plain", "Unauthorized\n");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("am-token");
    std::fs::write(&token, "tok-5ecret-7731\n").unwrap();
    let cfg: AlertmanagerConfig = toml::from_str(&format!(
        "name = \"prod-kr\"\nurl = \"{}\"\nbearer_token_file = \"{}\"",
        proxy.url,
        token.display()
    ))
    .unwrap();
    let mut live = LiveAlarms::new(
        None,
        vec![alertmanager::Alertmanager::new(cfg)],
        &AlarmsConfig::default(),
    );
    let (snap, outages) = live.round(false).await;
    let sent = proxy.last.lock().unwrap().to_ascii_lowercase();
    assert!(
        sent.contains("authorization: bearer tok-5ecret-7731"),
        "{sent}"
    );
    assert_eq!(
        outages,
        ["alertmanager prod-kr: GET /api/v2/alerts: not authorised (check the token or password)"]
    );
    let shown = format!("{snap:?}{outages:?}");
    assert!(!shown.contains("tok-5ecret"), "{shown}");
}

#[tokio::test]
async fn a_playbook_silence_step_silences_in_every_alertmanager() {
    use opsdeck::ops::{Mode, Op, Ops};
    let (a, b) = (Alertmanager::start(), Alertmanager::start());
    let am = |x: &Alertmanager, name: &str| {
        let cfg: AlertmanagerConfig =
            toml::from_str(&format!("name = \"{name}\"\nurl = \"{}\"", x.url)).unwrap();
        alertmanager::Alertmanager::new(cfg)
    };
    let live = LiveAlarms::new(
        None,
        vec![am(&a, "am-a"), am(&b, "am-b")],
        &AlarmsConfig::default(),
    );
    let control = live.control(poke());
    let op = Op::Silence {
        alert: "KubePodRestartsHigh".into(),
        minutes: 10,
    };
    let plan = control.apply(&op, Mode::DryRun).await.expect("dry-run");
    assert_eq!(plan.calls.len(), 2);
    assert!(
        plan.calls[0].starts_with(&format!(
            "POST {}/api/v2/silences alertname=\"KubePodRestartsHigh\" for 10 min by ",
            a.url
        )),
        "{plan:?}"
    );
    assert!(
        a.get("/api/v2/silences").trim() == "[]",
        "a dry-run changes nothing"
    );
    control.apply(&op, Mode::Apply).await.expect("silence");
    for x in [&a, &b] {
        let listed = x.get("/api/v2/silences");
        assert!(
            listed
                .contains("\"comment\":\"playbook step: silence KubePodRestartsHigh for 10 min\""),
            "{listed}"
        );
    }
}
