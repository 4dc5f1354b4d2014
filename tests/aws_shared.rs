//! The AWS areas' shared client factory and error lines against a real moto server.

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;

use alarmsupport::{aws, aws_config as cfg};
use moto::Moto;
use opsdeck::sources::aws::Kind;

#[tokio::test]
async fn principal_is_asked_once_and_outlives_an_outage() {
    let mut m = Moto::start();
    let aws = aws(
        &m.url,
        &m.credentials_file,
        &cfg("opsdeck-test", &["ap-northeast-2", "us-east-1"]),
    )
    .await;
    assert_eq!(
        aws.regions().collect::<Vec<_>>(),
        ["ap-northeast-2", "us-east-1"]
    );
    assert_eq!(aws.home_region(), "ap-northeast-2");
    let who = aws.principal().await.expect("GetCallerIdentity");
    assert_eq!(who.account, "123456789012");
    assert!(who.arn.starts_with("arn:aws:sts::123456789012:"), "{who}");
    let asked = m.answered(200);
    m.stop();
    // Remembered: the journal still names the principal while the endpoint is down.
    assert_eq!(aws.principal().await.expect("cached"), who);
    assert_eq!(m.answered(200), asked);
}

#[tokio::test]
async fn an_operation_moto_lacks_is_unsupported_and_asked_once() {
    let m = Moto::start();
    let aws = aws(
        &m.url,
        &m.credentials_file,
        &cfg("opsdeck-test", &["us-east-1"]),
    )
    .await;
    let before = m.answered(500);
    let err = aws
        .cloudwatch("us-east-1")
        .describe_alarm_history()
        .alarm_name("anything")
        .send()
        .await
        .expect_err("moto has no DescribeAlarmHistory");
    let e = aws.error("us-east-1", "cloudwatch:DescribeAlarmHistory", &err);
    assert_eq!(e.kind, Kind::Unsupported, "{e}");
    assert_eq!(
        e.line(),
        "cloudwatch:DescribeAlarmHistory is not supported by this endpoint"
    );
    // The SDK would retry a 500 three times; an HTML page is final.
    assert_eq!(m.answered(500) - before, 1);
    // A call moto has still works through the same client.
    aws.cloudwatch("us-east-1")
        .describe_alarms()
        .send()
        .await
        .expect("DescribeAlarms");
}

#[tokio::test]
async fn a_stopped_endpoint_is_unreachable() {
    let mut m = Moto::start();
    let aws = aws(
        &m.url,
        &m.credentials_file,
        &cfg("opsdeck-test", &["us-east-1"]),
    )
    .await;
    let cw = aws.cloudwatch("us-east-1");
    cw.describe_alarms().send().await.expect("up");
    m.stop();
    let err = cw.describe_alarms().send().await.expect_err("down");
    let e = aws.error("us-east-1", "cloudwatch:DescribeAlarms", &err);
    assert_eq!(e.kind, Kind::Unreachable, "{e}");
    assert!(
        e.line().starts_with(&format!(
            "cannot reach {} (cloudwatch:DescribeAlarms): ",
            m.url
        )),
        "{e}"
    );
}

#[tokio::test]
async fn a_profile_without_credentials_says_how_to_log_in() {
    let m = Moto::start();
    let aws = aws(&m.url, &m.credentials_file, &cfg("nobody", &["us-east-1"])).await;
    let e = aws.principal().await.expect_err("no such profile");
    assert_eq!(e.kind, Kind::NoCredentials, "{e}");
    assert_eq!(
        e.line(),
        "no AWS credentials for profile nobody: run `aws sso login --profile nobody`"
    );
    assert_eq!(m.answered(200) + m.answered(500), 0, "nothing was sent");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_said() {
    // A recorded AWS answer: moto never throttles.
    let busy = alarmsupport::Recorded::serve(
        "400 Bad Request",
        "text/xml",
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>9f3c1a52-6b1e-4d0a-8e2f-4c7b9d0e1a23</RequestId></ErrorResponse>",
    );
    let m = Moto::start();
    let aws = aws(
        &busy.url,
        &m.credentials_file,
        &cfg("opsdeck-test", &["us-east-1"]),
    )
    .await;
    let err = aws
        .cloudwatch("us-east-1")
        .describe_alarms()
        .send()
        .await
        .expect_err("throttled");
    let e = aws.error("us-east-1", "cloudwatch:DescribeAlarms", &err);
    assert_eq!(e.kind, Kind::Throttled, "{e}");
    assert_eq!(
        e.line(),
        "cloudwatch:DescribeAlarms throttled by AWS (Throttling) through 3 attempts with backoff; trying again next poll"
    );
    assert_eq!(
        busy.requests.load(std::sync::atomic::Ordering::SeqCst),
        opsdeck::sources::aws::MAX_ATTEMPTS as usize,
        "the SDK retried"
    );
}
