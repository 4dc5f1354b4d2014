//! The live IAM and CloudTrail review against moto seeded (under freezegun, so ages are
//! real) with an account in every state the review knows.
//!
//! moto lacks LookupEvents (HTTP 500); that one call is answered from
//! tests/fixtures/lookup_events.json, a response in AWS's LookupEvents format written by hand
//! (not captured from an account), served by the wrapper in place of moto's missing handler.
//! Everything else is moto's own answer.

#[path = "alarmsupport/mod.rs"]
mod alarmsupport;
#[path = "support/aws_account.rs"]
mod aws_account;

use alarmsupport::{Scripted, iam_error};
use aws_account::Account;
use jiff::Timestamp;
use opsdeck::audit;
use opsdeck::model::iam::ReportState;
use opsdeck::sources::aws::cloudtrail::TrailReader;
use opsdeck::sources::aws::iam::{self as live_iam, IamReader};

const ACCT: &str = "123456789012";

fn user(name: &str) -> String {
    format!("arn:aws:iam::{ACCT}:user/{name}")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_review_finds_exactly_the_planted_problems() {
    let account = Account::start("review", Some("lookup_events.json"));
    let aws = account.aws().await;
    let iam_reader = IamReader::new(&aws);
    let mut early = Vec::new();
    let iam = live_iam::read(&iam_reader, |s| early.push(s.clone()))
        .await
        .expect("IAM read");
    let first = early
        .first()
        .expect("a snapshot before the credential report");
    assert_eq!(first.report, ReportState::Generating { attempts: 0 });
    // moto answers the first GenerateCredentialReport STARTED: the wait is counted.
    let attempts: Vec<_> = early.iter().map(|s| s.report.clone()).collect();
    assert_eq!(
        attempts,
        [
            ReportState::Generating { attempts: 0 },
            ReportState::Generating { attempts: 1 }
        ]
    );
    assert_eq!(
        first.users.len(),
        11,
        "every user is there before the report"
    );
    assert!(
        matches!(iam.report, ReportState::Complete { .. }),
        "{:?}",
        iam.report
    );
    assert_eq!(iam.account_id, ACCT);
    let trail = TrailReader::new(&aws)
        .read()
        .await
        .expect("CloudTrail read");
    assert!(trail.unavailable.is_empty(), "{:?}", trail.unavailable);
    let findings = audit::review(&iam, &trail, Timestamp::now());
    let mut got: Vec<(&str, Option<&str>, &str)> = findings
        .iter()
        .map(|f| (f.check, f.cis, f.resource.as_str()))
        .collect();
    got.sort_unstable();
    let users: Vec<String> = [
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
        "frank",
        "grace",
        "henry",
        "ivan",
        "ops-shared",
    ]
    .iter()
    .map(|u| user(u))
    .collect();
    let u = |name: &str| {
        users
            .iter()
            .find(|a| a.ends_with(&format!("/{name}")))
            .unwrap()
            .as_str()
    };
    let root = format!("arn:aws:iam::{ACCT}:root");
    let policy = format!("arn:aws:iam::{ACCT}:account-password-policy");
    let trail_arn = format!("arn:aws:cloudtrail:us-east-1:{ACCT}:trail/main");
    let account_trails = format!("arn:aws:cloudtrail::{ACCT}:trail/*");
    let mut want: Vec<(&str, Option<&str>, &str)> = vec![
        ("cloudtrail_cloudwatch_logging_enabled", None, &trail_arn),
        ("cloudtrail_kms_encryption_enabled", Some("3.5"), &trail_arn),
        (
            "cloudtrail_log_file_validation_enabled",
            Some("3.2"),
            &trail_arn,
        ),
        (
            "cloudtrail_multi_region_enabled",
            Some("3.1"),
            &account_trails,
        ),
        (
            "cloudwatch_log_metric_filter_authentication_failures",
            Some("4.6"),
            "cloudtrail",
        ),
        (
            "cloudwatch_log_metric_filter_policy_changes",
            Some("4.4"),
            "cloudtrail",
        ),
        (
            "cloudwatch_log_metric_filter_root_usage",
            Some("4.3"),
            "cloudtrail",
        ),
        (
            "cloudwatch_log_metric_filter_sign_in_without_mfa",
            Some("4.2"),
            "cloudtrail",
        ),
        (
            "cloudwatch_log_metric_filter_unauthorized_api_calls",
            Some("4.1"),
            "cloudtrail",
        ),
        (
            "iam_aws_attached_policy_no_administrative_privileges",
            Some("1.15"),
            "arn:aws:iam::aws:policy/AdministratorAccess",
        ),
        (
            "iam_inline_policy_no_administrative_privileges",
            Some("1.15"),
            u("grace"),
        ),
        ("iam_no_root_access_key", Some("1.3"), &root),
        (
            "iam_password_policy_minimum_length_14",
            Some("1.7"),
            &policy,
        ),
        ("iam_password_policy_reuse_24", Some("1.8"), &policy),
        (
            "iam_policy_attached_only_to_group_or_roles",
            Some("1.14"),
            u("erin"),
        ),
        (
            "iam_policy_attached_only_to_group_or_roles",
            Some("1.14"),
            u("grace"),
        ),
        ("iam_rotate_access_key_90_days", Some("1.13"), u("alice")),
        ("iam_rotate_access_key_90_days", Some("1.13"), u("bob")),
        (
            "iam_support_role_created",
            Some("1.16"),
            "arn:aws:iam::aws:policy/AWSSupportAccess",
        ),
        ("iam_user_accesskey_unused", Some("1.11"), u("alice")),
        ("iam_user_administrator_access_policy", None, u("frank")),
        ("iam_user_console_access_unused", Some("1.11"), u("alice")),
        ("iam_user_console_access_unused", Some("1.11"), u("ivan")),
        (
            "iam_user_mfa_enabled_console_access",
            Some("1.9"),
            u("carol"),
        ),
        (
            "iam_user_no_setup_initial_access_key",
            Some("1.10"),
            u("bob"),
        ),
        ("iam_user_two_active_access_key", Some("1.12"), u("dave")),
        ("opsdeck_iam_shared_account", None, u("ops-shared")),
        ("opsdeck_iam_shared_account", None, u("ops-shared")),
        ("opsdeck_iam_user_in_no_group", None, u("henry")),
    ];
    want.sort_unstable();
    assert_eq!(got, want, "{findings:#?}");

    // The chain is followed link by link: 4.5 is complete, the others say what is missing.
    let watch = |cis: &str| findings.iter().find(|f| f.cis == Some(cis)).unwrap();
    assert!(
        watch("4.4")
            .message
            .contains("notifies no SNS topic with a confirmed subscription"),
        "{}",
        watch("4.4").message
    );
    assert!(
        watch("4.1").message.contains("has no alarm on its metric"),
        "{}",
        watch("4.1").message
    );
    assert!(
        watch("4.3")
            .message
            .contains("no metric filter on cloudtrail matches"),
        "{}",
        watch("4.3").message
    );
    assert!(trail.monitoring.iter().any(|m| m.missing.is_none()
        && m.subscribed_topic.as_deref() == Some("arn:aws:sns:us-east-1:123456789012:security")));
    // The shared-login finding names the addresses it saw.
    let logins = findings.iter().find(|f| f.id.ends_with("#logins")).unwrap();
    assert!(
        logins.evidence.contains("192.0.2.33"),
        "{}",
        logins.evidence
    );
    // Risky events came through LookupEvents (the recorded answer), with their details.
    let risks: Vec<_> = trail
        .events
        .iter()
        .filter_map(|e| {
            e.risk()
                .map(|r| (e.user.as_str(), e.event_name.as_str(), r.1))
        })
        .collect();
    for want in [
        ("root", "ConsoleLogin", "root activity"),
        ("alice", "StopLogging", "trail tampering"),
        ("alice", "CreateAccessKey", "access key created"),
        ("ops-shared", "ConsoleLogin", "failed login"),
    ] {
        assert!(risks.contains(&want), "{want:?} in {risks:?}");
    }
    assert_eq!(
        trail.events.iter().filter(|e| e.id.is_some()).count(),
        13,
        "each event once"
    );
    // bob's key probing what it may read: six refused read-only calls in five minutes, only
    // found by asking LookupEvents for ReadOnly=true too.
    let bursts = opsdeck::model::trail::denial_bursts(&trail.events);
    assert_eq!(
        bursts
            .iter()
            .map(|b| (b.user.as_str(), b.count))
            .collect::<Vec<_>>(),
        [("bob", 6)]
    );
    let report = opsdeck::audit::report::AuditReport::new("live", &iam, &trail, Timestamp::now());
    assert!(
        report
            .risky_events
            .iter()
            .any(|e| e.user == "bob" && e.risk == "burst of access denied"),
        "{:?}",
        report.risky_events
    );
    // The detail's live cross-check: judy gets a second key and loses nothing else after the
    // report was read; the check marks exactly that.
    let client = aws.iam("us-east-1");
    client
        .create_access_key()
        .user_name("judy")
        .send()
        .await
        .unwrap();
    let judy = iam.users.iter().find(|u| u.name == "judy").unwrap();
    let check = iam_reader.check_user(judy).await;
    assert_eq!(check.error, None);
    let differs: Vec<_> = check
        .fields
        .iter()
        .filter(|f| f.differs())
        .map(|f| (f.field.as_str(), f.report.as_str(), f.live.as_str()))
        .collect();
    assert_eq!(differs, [("active keys", "1", "2")], "{:#?}", check.fields);
    assert!(
        check
            .fields
            .iter()
            .any(|f| f.field == "console access" && f.live == "false")
    );
    let missing = opsdeck::model::iam::IamUser {
        name: "nobody".into(),
        ..judy.clone()
    };
    assert!(
        iam_reader
            .check_user(&missing)
            .await
            .error
            .unwrap()
            .contains("iam:ListMFADevices")
    );
    // Root MFA from GetAccountSummary (set in-process: moto hard-codes it to 0) and no
    // virtual device for root: hardware.
    assert!(iam.root.mfa && iam.root.hardware_mfa == Some(true));
}

/// Without the recorded answer, moto's own: LookupEvents is HTTP 500 with an HTML page.
/// That is "not supported here", shown as an unavailable section, asked once per region and
/// never again, while the rest of the trail data still comes through.
#[tokio::test(flavor = "multi_thread")]
async fn lookup_events_moto_lacks_is_unsupported_and_not_asked_again() {
    let account = Account::start("review", None);
    let aws = account.aws().await;
    let reader = TrailReader::new(&aws);
    let started = std::time::Instant::now();
    let first = reader.read().await.expect("CloudTrail read");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "not retried for long"
    );
    assert_eq!(first.trails.len(), 1);
    assert_eq!(first.monitoring.len(), 6);
    assert!(first.events.is_empty());
    let events: Vec<_> = first
        .unavailable
        .iter()
        .filter(|u| u.section == "events us-east-1")
        .collect();
    assert_eq!(events.len(), 1, "{:?}", first.unavailable);
    assert!(events[0].why.contains("not supported"), "{}", events[0].why);
    let log = || std::fs::read_to_string(account.dir.path().join("moto.log")).unwrap_or_default();
    let asked = log().matches("\" 500 ").count();
    assert_eq!(asked, 1, "one 500 for LookupEvents, no retries");
    let second = reader.read().await.expect("CloudTrail read");
    assert_eq!(
        second.unavailable, first.unavailable,
        "still said, from memory"
    );
    assert_eq!(
        log().matches("\" 500 ").count(),
        asked,
        "LookupEvents is not asked again"
    );
}

/// GenerateCredentialReport's answer while AWS writes the report (IAM API reference).
const STARTED: &str = "<GenerateCredentialReportResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <GenerateCredentialReportResult>\n    <Description>No report exists. Starting a new report generation task</Description>\n    <State>STARTED</State>\n  </GenerateCredentialReportResult>\n  <ResponseMetadata>\n    <RequestId>29f47818-99f5-11e1-a4c3-27EXAMPLE804</RequestId>\n  </ResponseMetadata>\n</GenerateCredentialReportResponse>\n";

/// The credential report's answers moto never gives (it says STARTED, then COMPLETE), in
/// AWS's Query-protocol format, ahead of moto: limit exceeded, not present, in progress,
/// expired. Each is followed to the next call with a growing wait, and each wait is
/// counted where the pane reads it.
#[tokio::test(flavor = "multi_thread")]
async fn the_credential_report_poll_follows_every_answer_with_backoff() {
    use opsdeck::sources::credential_report::poll::Poller;
    let account = Account::start("review", None);
    let proxy = Scripted::start(
        &account.url,
        vec![
            (
                "GenerateCredentialReport",
                "409 Conflict",
                iam_error(
                    "LimitExceeded",
                    "The request was rejected because it attempted to create resources beyond the current AWS account limits.",
                ),
            ),
            (
                "GetCredentialReport",
                "410 Gone",
                iam_error(
                    "ReportNotPresent",
                    "The request was rejected because the credential report does not exist. To generate a credential report, use GenerateCredentialReport.",
                ),
            ),
            ("GenerateCredentialReport", "200 OK", STARTED.to_string()),
            (
                "GetCredentialReport",
                "404 Not Found",
                iam_error(
                    "ReportInProgress",
                    "The request was rejected because the credential report is still being generated.",
                ),
            ),
            (
                "GetCredentialReport",
                "410 Gone",
                iam_error(
                    "ReportExpired",
                    "The request was rejected because the most recent credential report has expired. To generate a new credential report, use GenerateCredentialReport.",
                ),
            ),
        ],
    );
    let aws = account.aws_at(&proxy.url).await;
    let reader = IamReader::new(&aws);
    let mut waits = Vec::new();
    let first = std::time::Duration::from_millis(40);
    let (rows, _) = reader
        .credential_report(Poller::default().first_wait(first), |n| waits.push(n))
        .await
        .expect("the report, in the end");
    assert!(rows.iter().any(|r| r.user == "alice"), "moto's report");
    let asked: Vec<String> = proxy
        .actions()
        .into_iter()
        .filter(|a| a.contains("CredentialReport"))
        .collect();
    assert_eq!(
        asked,
        [
            "GenerateCredentialReport", // LimitExceeded: wait for the one being written
            "GetCredentialReport",      // ReportNotPresent: generate again
            "GenerateCredentialReport", // STARTED
            "GetCredentialReport",      // ReportInProgress
            "GetCredentialReport",      // ReportExpired: generate again
            "GenerateCredentialReport", // moto: STARTED
            "GetCredentialReport",      // moto: the report
        ]
    );
    assert_eq!(waits, [1, 2, 3, 4, 5, 6]);
    // The wait before each call doubles.
    let times: Vec<std::time::Instant> = proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(a, _)| a.contains("CredentialReport"))
        .map(|(_, t)| *t)
        .collect();
    for (n, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(gap >= first * (1 << n), "wait {n}: {gap:?}");
    }
}

/// One IAM section denied (GetAccountPasswordPolicy, 403 AccessDenied as AWS words it): the
/// rest of the review still shows, the section names the action, and the export marks its
/// checks not evaluated instead of failing them on "no policy" or passing them.
#[tokio::test(flavor = "multi_thread")]
async fn a_denied_password_policy_is_not_evaluated_and_the_rest_still_shows() {
    let account = Account::start("review", Some("lookup_events.json"));
    let denied = iam_error(
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/reviewer is not authorized to perform: iam:GetAccountPasswordPolicy on resource: * because no identity-based policy allows the iam:GetAccountPasswordPolicy action",
    );
    let proxy = Scripted::start(
        &account.url,
        vec![("GetAccountPasswordPolicy", "403 Forbidden", denied)],
    );
    let aws = account.aws_at(&proxy.url).await;
    let iam = live_iam::read(&IamReader::new(&aws), |_| {})
        .await
        .expect("the rest of IAM reads");
    assert_eq!(iam.users.len(), 11);
    assert!(matches!(iam.report, ReportState::Complete { .. }));
    let section: Vec<_> = iam
        .unavailable
        .iter()
        .filter(|u| u.section == "password policy")
        .collect();
    assert_eq!(section.len(), 1, "{:?}", iam.unavailable);
    assert!(
        section[0].why.contains("iam:GetAccountPasswordPolicy"),
        "{}",
        section[0].why
    );
    let trail = TrailReader::new(&aws)
        .read()
        .await
        .expect("CloudTrail read");
    let report = opsdeck::audit::report::AuditReport::new("live", &iam, &trail, Timestamp::now());
    let checks: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
    assert!(
        !checks.iter().any(|c| c.starts_with("iam_password_policy")),
        "{checks:?}"
    );
    for still in [
        "iam_user_mfa_enabled_console_access",
        "iam_user_two_active_access_key",
        "cloudtrail_log_file_validation_enabled",
    ] {
        assert!(checks.contains(&still), "{still} in {checks:?}");
    }
    let skipped: Vec<(&str, Option<&str>)> = report
        .not_evaluated
        .iter()
        .map(|n| (n.check, n.cis))
        .collect();
    assert_eq!(
        skipped,
        [
            ("iam_password_policy_minimum_length_14", Some("1.7")),
            ("iam_password_policy_reuse_24", Some("1.8"))
        ]
    );
    assert!(
        report.not_evaluated[0]
            .why
            .contains("iam:GetAccountPasswordPolicy")
    );
    let md = report.markdown();
    assert!(
        md.contains("| `iam_password_policy_minimum_length_14` | 1.7 | password policy |"),
        "{md}"
    );
}
