//! The real binary in live mode on moto (CloudWatch) and a real Alertmanager, through a
//! pseudo-terminal: an alarm fires and shows within a poll, `i` opens the incident from it,
//! `P` offers the matching playbooks best first, the timeline follows the alarm until it is
//! OK again, and a silence made on the pane is in Alertmanager with who made it and why.

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;
mod support;

use alarmsupport::{Alertmanager, alert, aws_config};
use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
use moto::{AWS_SECRET, Moto};
use opsdeck::sources::aws::Aws;
use support::Console;

const ALARM: &str = "PostgresPrimaryReplicaLag";

struct Cloud {
    rt: tokio::runtime::Runtime,
    aws: Aws,
}

impl Cloud {
    fn new(m: &Moto) -> Cloud {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let cfg = aws_config("opsdeck-test", &["ap-northeast-2"]);
        let aws = rt.block_on(alarmsupport::aws(&m.url, &m.credentials_file, &cfg));
        Cloud { rt, aws }
    }

    fn put_alarm(&self) {
        self.rt
            .block_on(
                self.aws
                    .cloudwatch("ap-northeast-2")
                    .put_metric_alarm()
                    .alarm_name(ALARM)
                    .namespace("AWS/RDS")
                    .metric_name("ReplicaLag")
                    .statistic(Statistic::Maximum)
                    .period(60)
                    .evaluation_periods(3)
                    .threshold(30.0)
                    .comparison_operator(ComparisonOperator::GreaterThanThreshold)
                    .send(),
            )
            .expect("PutMetricAlarm");
    }

    fn set(&self, state: StateValue, why: &str) {
        self.rt
            .block_on(
                self.aws
                    .cloudwatch("ap-northeast-2")
                    .set_alarm_state()
                    .alarm_name(ALARM)
                    .state_value(state)
                    .state_reason(why)
                    .send(),
            )
            .expect("SetAlarmState");
    }
}

fn line_of(screen: &str, needle: &str) -> Option<usize> {
    screen.lines().position(|l| l.contains(needle))
}

#[test]
fn live_alarm_to_incident_to_playbook_and_a_silence_from_the_pane() {
    let m = Moto::start();
    let cloud = Cloud::new(&m);
    cloud.put_alarm();
    let am = Alertmanager::start();
    am.post_alerts(&format!(
        "[{}]",
        alert(
            "HighErrorRate",
            &[("service", "checkout"), ("severity", "critical")],
            "5xx above 5% for 5 min"
        )
    ));
    let config = format!(
        "[aws]\nregions = [\"ap-northeast-2\"]\n\n[alarms]\ncloudwatch_every = \"1s\"\nalertmanager_every = \"1s\"\n\n{}",
        am.config_entry("prod-kr")
    );
    let mut c = Console::builder()
        .config_file("config.toml", &config)
        .env("AWS_ENDPOINT_URL", &m.url)
        .env("AWS_ACCESS_KEY_ID", "AKIAOPSDECKTEST0001")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .size(140, 36)
        .start();
    c.wait_for("LIVE");
    c.press("5");
    c.wait_until("both sources' rows", |s| {
        s.contains(ALARM) && s.contains("cw ap-northeast") && s.contains("am prod-kr")
    });

    cloud.set(StateValue::Alarm, "Threshold Crossed: replica lag 95 s");
    c.wait_until("the alarm firing within a poll", |s| {
        s.lines()
            .any(|l| l.contains(ALARM) && l.contains("ALARM ") && l.contains("replica lag 95 s"))
    });
    // Only this alarm, so it is the selected row.
    c.press("/Postgres\r");
    c.press("i");
    let form = c.wait_for("open incident");
    assert!(
        form.contains(ALARM),
        "the title comes from the alarm:\n{form}"
    );
    c.press("\r\r\r\r");
    c.wait_for("SLA OK");

    c.press("P");
    let screen = c.wait_for("is answered by failover-postgres, failover-mariadb");
    let (pg, maria) = (
        line_of(&screen, "failover-postgres ").expect("failover-postgres listed"),
        line_of(&screen, "failover-mariadb ").expect("failover-mariadb listed"),
    );
    assert!(pg < maria, "best match first:\n{screen}");
    assert!(
        !screen.contains("rollback ") && !screen.contains("cordon-node"),
        "only the playbooks that answer it:\n{screen}"
    );

    // The timeline follows the alarm while the incident is open.
    c.press("5");
    cloud.set(StateValue::Ok, "lag back under 30 s");
    c.wait_until("the alarm OK", |s| {
        s.lines().any(|l| l.contains(ALARM) && l.contains("OK "))
    });
    cloud.set(StateValue::Alarm, "Threshold Crossed: replica lag 61 s");
    c.wait_until("firing again", |s| {
        s.lines()
            .any(|l| l.contains(ALARM) && l.contains("replica lag 61 s"))
    });
    cloud.set(StateValue::Ok, "caught up");
    c.wait_until("OK again", |s| {
        s.lines()
            .any(|l| l.contains(ALARM) && l.contains("caught up"))
    });
    c.press("9");
    let timeline = c.wait_for(&format!("alarm {ALARM} → OK: caught up"));
    let first_ok = line_of(&timeline, "→ OK: lag back under 30 s").expect("first OK");
    let again = line_of(&timeline, "→ ALARM: Threshold Crossed: replica lag 61 s").expect("ALARM");
    let last_ok = line_of(&timeline, "→ OK: caught up").expect("last OK");
    assert!(
        last_ok < again && again < first_ok,
        "newest first:\n{timeline}"
    );

    // Silence the Alertmanager alert from the pane: matchers prefilled, a comment.
    c.press("5");
    c.press("\x1b");
    c.press("/HighError\r");
    c.press("s");
    let form = c.wait_for("silence HighErrorRate on prod-kr");
    assert!(form.contains(r#"alertname="HighErrorRate""#), "{form}");
    c.press("\r\rrolling back the checkout deploy\r");
    c.wait_for("silenced on prod-kr for 120 min");
    c.wait_until("the row marked silenced", |s| {
        s.lines()
            .any(|l| l.contains("SILENCED") && l.contains("HighErrorRate"))
    });
    let silences = am.get("/api/v2/silences");
    assert!(
        silences.contains("\"comment\":\"rolling back the checkout deploy\""),
        "{silences}"
    );
    assert!(silences.contains("\"createdBy\":\"oncall@"), "{silences}");

    // Journaled in the incident, with who did it.
    let journal = std::fs::read_dir(c.data_dir().join("incidents"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("the incident journal");
    let text = std::fs::read_to_string(journal).unwrap();
    assert!(text.contains("\"alarm_change\""), "{text}");
    assert!(text.contains("rolling back the checkout deploy"), "{text}");

    c.press("\x03");
    assert!(c.wait_exit().success());
}
