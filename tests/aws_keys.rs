//! The shipped leaked-key playbooks end to end through the executor against moto: what the
//! key did goes on the incident timeline, the key is deactivated and verified, the user is
//! contained, and the rollback re-activates it with its reason journaled.
//!
//! moto lacks LookupEvents (HTTP 500); that call alone is answered from
//! tests/fixtures/lookup_events.json (AWS's format, written by hand), where alice's key made
//! a StopLogging and a CreateAccessKey call.

#[path = "support/aws_account.rs"]
mod aws_account;
mod runsupport;

use aws_account::Account;
use opsdeck::incident::event::{Event, Severity};
use opsdeck::incident::report::timeline_text;
use opsdeck::model::summary::Area;
use opsdeck::playbook::run::{Context, Prompt};
use opsdeck::sources::aws::iam::{self as live_iam, IamReader};
use opsdeck::sources::aws::keys::KeyOps;
use opsdeck::sources::{Publishers, publish};
use runsupport::{desk_with_incident, run_shipped, wall_context};
use std::sync::Arc;

/// alice's key, the IAM source the playbook updates, and an executor context with an open
/// incident, against `account`.
async fn setup(
    account: &Account,
) -> (
    opsdeck::sources::aws::Aws,
    String,
    opsdeck::sources::Sources,
    Context,
    tempfile::TempDir,
) {
    let aws = account.aws().await;
    let key = account.keys["alice"].clone();
    let (publishers, sources) = Publishers::channels();
    let iam = live_iam::read(&IamReader::new(&aws), |_| {})
        .await
        .expect("IAM");
    publish(&publishers.iam, iam, jiff::Timestamp::now());
    let ops = KeyOps::new(aws.clone()).updating(publishers.iam.clone());
    let dir = tempfile::tempdir().unwrap();
    let desk = desk_with_incident(dir.path(), "alice's key on a paste site", Severity::Sev1);
    let ctx = wall_context(Area::Iam, Arc::new(ops), sources.clone(), desk);
    (aws, key, sources, ctx, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaked_key_is_reviewed_cut_off_contained_and_rolled_back() {
    let account = Account::start("review", Some("lookup_events.json"));
    let (aws, key, sources, ctx, _dir) = setup(&account).await;
    let suffix = &key[key.len() - 4..];
    let prompts = run_shipped(
        &ctx,
        "deactivate-access-key",
        &[("user", "alice"), ("key_suffix", suffix)],
        &[],
    )
    .await;
    assert!(
        matches!(&prompts[0], Prompt::TypeTarget { target, .. } if target == "alice"),
        "{prompts:?}"
    );

    let client = aws.iam("us-east-1");
    let keys = client
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let status = keys.access_key_metadata()[0]
        .status()
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(status, "Inactive");
    let login = client.get_login_profile().user_name("alice").send().await;
    assert!(login.is_err(), "the console password is gone");
    let deny = client
        .get_user_policy()
        .user_name("alice")
        .policy_name("opsdeck-deny-all")
        .send()
        .await
        .unwrap();
    assert!(
        deny.policy_document().contains("Deny"),
        "{}",
        deny.policy_document()
    );

    let timeline: Vec<String> = {
        let desk = ctx.desk.lock().unwrap();
        desk.active()
            .unwrap()
            .entries
            .iter()
            .filter_map(|e| timeline_text(&e.event))
            .collect()
    };
    let said = timeline.join("\n");
    assert!(
        said.contains(&format!("access key …{suffix} of alice, last 24 h: 2 calls (CreateAccessKey, StopLogging) from 203.0.113.250 in us-east-1")),
        "{said}"
    );
    assert!(
        said.contains("verified with ListAccessKeys; as arn:aws:sts::123456789012:"),
        "{said}"
    );
    assert!(
        !said.contains(&key),
        "the whole key id never reaches the journal"
    );
    // The IAM pane shows the key inactive at once, under its real suffix.
    let shown = sources
        .iam
        .borrow()
        .data
        .users
        .iter()
        .find(|u| u.name == "alice")
        .unwrap()
        .access_keys
        .clone();
    assert!(
        shown.iter().any(|k| k.id_suffix == suffix && !k.active),
        "{shown:?}"
    );

    run_shipped(
        &ctx,
        "reactivate-access-key",
        &[
            ("user", "alice"),
            ("key_suffix", suffix),
            ("reason", "false alarm: the paste was a test key"),
        ],
        &[],
    )
    .await;
    let keys = client
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata()[0].status().unwrap().as_str(),
        "Active"
    );
    let desk = ctx.desk.lock().unwrap();
    let reason = desk.active().unwrap().entries.iter().any(|e| {
        matches!(&e.event, Event::RunStarted { inputs, .. } if inputs.get("reason").is_some_and(|r| r.contains("false alarm")))
    });
    assert!(reason, "the rollback's reason is journaled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declined_containment_step_is_skipped_and_the_next_still_runs() {
    let account = Account::start("review", Some("lookup_events.json"));
    let (aws, key, _sources, ctx, _dir) = setup(&account).await;
    let suffix = &key[key.len() - 4..];
    let prompts = run_shipped(
        &ctx,
        "deactivate-access-key",
        &[("user", "alice"), ("key_suffix", suffix)],
        &["no-console"],
    )
    .await;
    let asked: Vec<&str> = prompts
        .iter()
        .filter_map(|p| match p {
            Prompt::Confirm { step, .. } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(asked, ["no-console", "deny-all"], "{prompts:?}");
    let client = aws.iam("us-east-1");
    let login = client.get_login_profile().user_name("alice").send().await;
    assert!(login.is_ok(), "declined: the console password is kept");
    let deny = client
        .get_user_policy()
        .user_name("alice")
        .policy_name("opsdeck-deny-all")
        .send()
        .await
        .expect("the step after the declined one ran");
    assert!(deny.policy_document().contains("Deny"));
    let timeline: Vec<String> = {
        let desk = ctx.desk.lock().unwrap();
        desk.active()
            .unwrap()
            .entries
            .iter()
            .filter_map(|e| timeline_text(&e.event))
            .collect()
    };
    let said = timeline.join("\n");
    assert!(
        said.contains("step no-console declined, skipped: not confirmed"),
        "{said}"
    );
    assert!(said.contains("playbook finished ok"), "{said}");
}
