//! `[team] retain`: every team journal entry written under S3 Object Lock on moto's S3, so
//! it cannot be deleted before its time; heartbeats are not locked; a bucket without
//! Object Lock is said, not silently written unlocked.

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;

use jiff::{SignedDuration, Timestamp};
use moto::Moto;
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Severity, Who};
use opsdeck::incident::team::config::{Location, LockMode, Retain};
use opsdeck::incident::team::follow::Follower;
use opsdeck::sources::aws::Aws;
use opsdeck::sources::aws::team::S3Store;
use std::sync::Mutex;

async fn moto_aws(m: &Moto) -> Aws {
    alarmsupport::aws(
        &m.url,
        &m.credentials_file,
        &alarmsupport::aws_config("opsdeck-test", &["us-east-1"]),
    )
    .await
}

fn incident() -> NewIncident {
    NewIncident {
        title: "payments down".into(),
        severity: Severity::Sev1,
        alarm: None,
        detected_at: None,
        recognised: None,
        drill: None,
    }
}

/// A console on `bucket` that opens an incident and runs one round; its follower's status.
async fn open_one(aws: &Aws, bucket: &str, retain: Retain) -> (Follower<S3Store>, String) {
    let at = Location::parse(&format!("s3://{bucket}/opsdeck")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let who = Who {
        user: "kim".into(),
        from: None,
    };
    let mut desk = Desk::open_team(dir.path(), who, "kim@bastion.a1".into()).unwrap();
    let mut follower = Follower::new(
        S3Store::new(aws, &at).retaining(Some(retain)),
        &at,
        &mut desk,
    );
    let desk = Mutex::new(desk);
    let id = desk
        .lock()
        .unwrap()
        .open_incident(incident(), Timestamp::now())
        .unwrap()
        .id
        .clone();
    follower.round(&desk, Timestamp::now()).await;
    (follower, id)
}

#[tokio::test]
async fn entries_are_locked_for_the_retention_and_heartbeats_are_not() {
    let m = Moto::start();
    let aws = moto_aws(&m).await;
    let s3 = aws.s3("us-east-1");
    s3.create_bucket()
        .bucket("ops-incidents")
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("CreateBucket with Object Lock");
    let retain = Retain {
        days: 400,
        mode: LockMode::Compliance,
    };
    let before = Timestamp::now();
    let (follower, _) = open_one(&aws, "ops-incidents", retain).await;
    assert_eq!(follower.status.unreachable, None);
    assert_eq!(follower.status.waiting, 0, "the opening entry went up");

    let key = "opsdeck/log/000000000001";
    let head = s3
        .head_object()
        .bucket("ops-incidents")
        .key(key)
        .send()
        .await
        .expect("the entry is there");
    assert_eq!(
        head.object_lock_mode(),
        Some(&aws_sdk_s3::types::ObjectLockMode::Compliance)
    );
    let until = head.object_lock_retain_until_date().expect("retained");
    let until = Timestamp::from_second(until.secs()).unwrap();
    let days = until.duration_since(before);
    assert!(
        days >= SignedDuration::from_hours(400 * 24 - 1)
            && days <= SignedDuration::from_hours(400 * 24 + 1),
        "locked until {until}, 400 days after {before}"
    );
    let version = s3
        .list_object_versions()
        .bucket("ops-incidents")
        .prefix(key)
        .send()
        .await
        .unwrap()
        .versions()[0]
        .version_id()
        .unwrap()
        .to_string();
    let deleted = s3
        .delete_object()
        .bucket("ops-incidents")
        .key(key)
        .version_id(version)
        .send()
        .await;
    assert!(deleted.is_err(), "a locked entry cannot be deleted");

    let beat = s3
        .head_object()
        .bucket("ops-incidents")
        .key("opsdeck/presence/kim@bastion.a1")
        .send()
        .await
        .expect("the heartbeat is there");
    assert_eq!(beat.object_lock_mode(), None, "heartbeats are not locked");
}

#[tokio::test]
async fn a_bucket_without_object_lock_is_said_and_the_entry_waits() {
    let m = Moto::start();
    let aws = moto_aws(&m).await;
    aws.s3("us-east-1")
        .create_bucket()
        .bucket("plain-bucket")
        .send()
        .await
        .unwrap();
    let retain = Retain {
        days: 400,
        mode: LockMode::Governance,
    };
    let (follower, _) = open_one(&aws, "plain-bucket", retain).await;
    let (_, why) = follower
        .status
        .unreachable
        .clone()
        .expect("the write was refused");
    assert!(
        why.contains("s3://plain-bucket") && why.contains("ObjectLockConfiguration"),
        "{why}"
    );
    assert_eq!(
        follower.status.waiting, 1,
        "kept for when the bucket is fixed"
    );
}
