//! The RDS source and its failovers against moto's server standing in for the RDS and
//! CloudWatch APIs.

#[path = "dbsupport/moto.rs"]
mod moto;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use moto::{AWS_SECRET, Moto};
use opsdeck::model::db::{DbCluster, Role};
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::sources::db::{DbConfig, DbOps, DbPoller, RoleMemory, best_candidate, rds};
use std::time::Duration;

fn cfg(m: &Moto) -> DbConfig {
    let text = format!(
        r#"
name = "orders-rds"
kind = "rds"
region = "us-east-1"
endpoint_url = "{}"
profile = "opsdeck-test"
credentials_file = "{}"
lag_threshold_s = 30.0
members = [
  {{ name = "orders", address = "orders-db" }},
  {{ name = "orders-replica", address = "orders-db-replica" }},
]
"#,
        m.url,
        m.credentials_file.display()
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

async fn poll(cfg: &DbConfig) -> DbCluster {
    DbPoller::new(vec![cfg.clone()], RoleMemory::default())
        .poll()
        .await
        .clusters
        .remove(0)
}

/// One `ReplicaLag` datapoint `minutes_ago`: RDS publishes one a minute, and each lands in
/// its own one-minute period.
async fn put_lag(aws: &rds::RdsClients, id: &str, seconds: f64, minutes_ago: u64) {
    aws.cloudwatch
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(
                    Dimension::builder()
                        .name("DBInstanceIdentifier")
                        .value(id)
                        .build(),
                )
                .value(seconds)
                .unit(StandardUnit::Seconds)
                .timestamp(
                    (std::time::SystemTime::now() - Duration::from_secs(60 * minutes_ago)).into(),
                )
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData to moto");
}

#[tokio::test]
async fn topology_lag_guard_promotion_and_reboot_with_failover() {
    let m = Moto::start();
    let cfg = cfg(&m);
    let aws = rds::clients(&cfg, Duration::from_secs(10), 1).await;
    aws.rds
        .create_db_instance()
        .db_instance_identifier("orders-db")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .engine_version("15.4")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("Master-Pw-Never-Shown-1")
        .multi_az(true)
        .send()
        .await
        .expect("CreateDBInstance on moto");
    aws.rds
        .create_db_instance_read_replica()
        .db_instance_identifier("orders-db-replica")
        .source_db_instance_identifier("orders-db")
        .send()
        .await
        .expect("CreateDBInstanceReadReplica on moto");
    put_lag(&aws, "orders-db-replica", 0.4, 3).await;

    let snap = poll(&cfg).await;
    let primary = &snap.members[0];
    assert_eq!(primary.role, Role::Primary);
    assert!(primary.reachable, "{primary:?}");
    let d = primary.detail.as_ref().unwrap();
    assert_eq!(d.status.as_deref(), Some("available"));
    assert_eq!(d.multi_az, Some(true));
    let replica = &snap.members[1];
    assert_eq!(replica.role, Role::Replica);
    assert_eq!(replica.read_only, Some(true));
    assert_eq!(replica.lag_seconds, Some(0.4));
    assert_eq!(
        replica.detail.as_ref().unwrap().source.as_deref(),
        Some("orders-db")
    );
    assert_eq!(replica.status(cfg.lag_threshold_s).1, "ok");
    assert_eq!(best_candidate(&snap, &cfg).unwrap(), "orders-replica");

    let ops = DbOps::new(vec![cfg.clone()]);
    // Multi-AZ: reboot onto the standby.
    let reboot = ops
        .apply(
            &Op::RebootWithFailover {
                cluster: "orders-rds".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        reboot
            .calls
            .iter()
            .any(|c| c
                .contains("RebootDBInstance DBInstanceIdentifier=orders-db ForceFailover=true")),
        "{reboot:?}"
    );

    // Promotion while the source still serves would make two writers.
    let promote = Op::Promote {
        cluster: "orders-rds".into(),
        member: "orders-replica".into(),
    };
    ops.override_anti_flap("orders-rds");
    let err = ops.apply(&promote, Mode::DryRun).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(t) if t.contains("source orders is still serving")),
        "{err}"
    );
    // A lagging replica is refused with the number.
    put_lag(&aws, "orders-db-replica", 120.0, 2).await;
    let err = ops.apply(&promote, Mode::DryRun).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(t) if t.contains("120.0 s behind, lag threshold 30 s")),
        "{err}"
    );
    put_lag(&aws, "orders-db-replica", 0.5, 1).await;

    // The source goes away: it shows down, and the replica can be promoted.
    aws.rds
        .stop_db_instance()
        .db_instance_identifier("orders-db")
        .send()
        .await
        .expect("StopDBInstance on moto");
    let snap = poll(&cfg).await;
    assert_eq!(
        snap.members[0].status(30.0).1,
        "down",
        "{:?}",
        snap.members[0]
    );
    let done = ops
        .apply(&promote, Mode::Apply)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        done.calls
            .iter()
            .any(|c| c == "AWS rds:PromoteReadReplica DBInstanceIdentifier=orders-db-replica"),
        "{done:?}"
    );
    assert!(
        done.summary
            .contains("promotion to a standalone instance requested"),
        "{done:?}"
    );
    // moto keeps ReadReplicaSourceDBInstanceIdentifier after a promotion (real RDS clears
    // it once done), so the new role cannot be observed here.
    let snap = poll(&cfg).await;

    let err = ops.apply(&promote, Mode::DryRun).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(t) if t.contains("anti-flap window")),
        "{err}"
    );

    // The account's secret key and the master password appear nowhere.
    let everything = format!(
        "{snap:?}\n{}\n{cfg:?}\n{ops:?}\n{done:?}\n{reboot:?}",
        serde_json::to_string(&snap).unwrap()
    );
    assert!(!everything.contains(AWS_SECRET), "{everything}");
    assert!(
        !everything.contains("Master-Pw-Never-Shown-1"),
        "{everything}"
    );
}

#[tokio::test]
async fn an_unreachable_api_shows_every_member_down_quickly() {
    let m = Moto::start();
    let mut cfg = cfg(&m);
    // Nothing listens on port 9 on loopback.
    cfg.endpoint_url = Some("http://127.0.0.1:9".into());
    let started = std::time::Instant::now();
    let snap = poll(&cfg).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    for member in &snap.members {
        assert!(!member.reachable);
        let err = member.last_error.as_deref().unwrap();
        assert!(err.contains("DescribeDBInstances"), "{err}");
        assert!(!err.contains(AWS_SECRET), "{err}");
    }
}
