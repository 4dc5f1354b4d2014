//! Amazon RDS: topology from DescribeDBInstances, lag from CloudWatch `ReplicaLag`, and the
//! two failovers RDS offers — promoting a read replica, and rebooting a Multi-AZ primary
//! onto its standby. Credentials come from the standard AWS chain, or from the named
//! profile in the named credentials file; opsdeck never holds the keys itself.

use super::calls::Calls;
use super::config::DbConfig;
use crate::model::db::{DbMember, MemberDetail, Role};
use crate::ops::{Mode, OpError};
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_sdk_cloudwatch::types::{Dimension, Statistic};
use aws_sdk_rds::types::DbInstance;
use futures::future::join_all;
use std::time::{Duration, SystemTime};

/// Statuses in which the instance serves connections.
const SERVING: &[&str] = &[
    "available",
    "backing-up",
    "modifying",
    "storage-optimization",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "maintenance",
    "upgrading",
    "renaming",
];

#[derive(Clone, Debug)]
pub struct RdsClients {
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

/// Clients with short timeouts and a single attempt: a poll must report "down" within
/// 2 s, not retry for half a minute.
pub async fn clients(cfg: &DbConfig, operation_timeout: Duration, attempts: u32) -> RdsClients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(super::CONNECT_TIMEOUT)
                .operation_timeout(operation_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(attempts));
    if let Some(region) = &cfg.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &cfg.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(profile) = &cfg.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(file) = &cfg.credentials_file {
        loader = loader.profile_files(
            EnvConfigFiles::builder()
                .with_file(EnvConfigFileKind::Credentials, file)
                .build(),
        );
    }
    let sdk = loader.load().await;
    RdsClients {
        rds: aws_sdk_rds::Client::new(&sdk),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
    }
}

fn sdk_error<E: std::error::Error>(call: &str, what: &str, e: E) -> String {
    format!(
        "{call} {what}: {}",
        aws_sdk_rds::error::DisplayErrorContext(&e)
    )
}

pub async fn describe(c: &RdsClients, id: &str) -> Result<DbInstance, String> {
    let out = c
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeDBInstances", id, e))?;
    out.db_instances()
        .first()
        .cloned()
        .ok_or_else(|| format!("DescribeDBInstances {id}: no such instance"))
}

/// The newest `ReplicaLag` datapoint of the last five minutes. Negative values mean
/// replication is not active (RDS reports -1), which is not a lag.
pub async fn replica_lag(c: &RdsClients, id: &str) -> Result<Option<f64>, String> {
    let now = SystemTime::now();
    let out = c
        .cloudwatch
        .get_metric_statistics()
        .namespace("AWS/RDS")
        .metric_name("ReplicaLag")
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value(id)
                .build(),
        )
        .start_time((now - Duration::from_secs(300)).into())
        .end_time((now + Duration::from_secs(60)).into())
        .period(60)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .map_err(|e| sdk_error("GetMetricStatistics ReplicaLag", id, e))?;
    let newest = out
        .datapoints()
        .iter()
        .filter_map(|d| Some((d.timestamp()?.as_secs_f64(), d.maximum()?)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Ok(newest.map(|(_, v)| v).filter(|v| *v >= 0.0))
}

fn member(name: &str, id: &str, i: &DbInstance, lag: Result<Option<f64>, String>) -> DbMember {
    let status = i.db_instance_status().unwrap_or("unknown").to_string();
    let serving = SERVING.contains(&status.as_str());
    let source = i
        .read_replica_source_db_instance_identifier()
        .map(str::to_string);
    let replication = i
        .status_infos()
        .iter()
        .find(|s| s.status_type() == Some("read replication"));
    let replicating = replication.map(|s| s.status() == Some("replicating"));
    let infos: Vec<String> = i
        .status_infos()
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s.status_type().unwrap_or("status"),
                s.status().unwrap_or("?")
            )
        })
        .collect();
    let mut errors: Vec<String> = i
        .status_infos()
        .iter()
        .filter(|s| s.normal() == Some(false))
        .map(|s| s.message().unwrap_or("not normal").to_string())
        .collect();
    if !serving {
        errors.insert(0, format!("instance {status}"));
    }
    let (lag_seconds, lag_error) = match lag {
        Ok(l) => (l, None),
        Err(e) => (None, Some(e)),
    };
    if source.is_some()
        && let Some(e) = lag_error
    {
        errors.push(e);
    }
    let endpoint = i
        .endpoint()
        .and_then(|e| Some(format!("{}:{}", e.address()?, e.port()?)))
        .unwrap_or_else(|| id.to_string());
    let is_replica = source.is_some();
    DbMember {
        name: name.to_string(),
        endpoint,
        role: if is_replica {
            Role::Replica
        } else {
            Role::Primary
        },
        role_from: None,
        reachable: serving,
        read_only: Some(is_replica),
        io_running: if is_replica { replicating } else { None },
        sql_running: if is_replica { replicating } else { None },
        lag_seconds: if is_replica { lag_seconds } else { None },
        lag_bytes: None,
        position: None,
        last_error: (!errors.is_empty()).then(|| errors.join("; ")),
        detail: Some(MemberDetail {
            source,
            status: Some(status),
            multi_az: i.multi_az(),
            receiver_state: (!infos.is_empty()).then(|| infos.join(", ")),
            server_version: i
                .engine()
                .map(|e| format!("{e} {}", i.engine_version().unwrap_or_default())),
            ..MemberDetail::default()
        }),
    }
}

/// Every member, described and (for replicas) its lag fetched, all at once.
pub async fn members(cfg: &DbConfig, c: &RdsClients) -> Vec<DbMember> {
    join_all(cfg.members.iter().map(|m| async move {
        match describe(c, &m.address).await {
            Ok(i) => {
                let lag = if i.read_replica_source_db_instance_identifier().is_some() {
                    replica_lag(c, &m.address).await
                } else {
                    Ok(None)
                };
                member(&m.name, &m.address, &i, lag)
            }
            Err(e) => DbMember {
                name: m.name.clone(),
                endpoint: m.address.clone(),
                role: Role::Unknown,
                role_from: None,
                reachable: false,
                read_only: None,
                io_running: None,
                sql_running: None,
                lag_seconds: None,
                lag_bytes: None,
                position: None,
                last_error: Some(e),
                detail: None,
            },
        }
    }))
    .await
}

/// RDS promotions and Multi-AZ failovers take minutes. The call returns once RDS has
/// accepted the request; the playbook's next step waits on the pane's status (role,
/// `available`) with its own timeout, so one step never blocks for half an hour.
pub async fn promote(
    c: &RdsClients,
    id: &str,
    mode: Mode,
    calls: &mut Calls,
) -> Result<String, OpError> {
    calls.note(format!(
        "AWS rds:PromoteReadReplica DBInstanceIdentifier={id}"
    ));
    if mode == Mode::DryRun {
        return Ok("not requested (dry-run)".into());
    }
    let out = c
        .rds
        .promote_read_replica()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| OpError::Failed(sdk_error("PromoteReadReplica", id, e)))?;
    Ok(out
        .db_instance()
        .and_then(|i| i.db_instance_status())
        .unwrap_or("accepted")
        .to_string())
}

pub async fn reboot_with_failover(
    c: &RdsClients,
    id: &str,
    mode: Mode,
    calls: &mut Calls,
) -> Result<String, OpError> {
    calls.note(format!(
        "AWS rds:RebootDBInstance DBInstanceIdentifier={id} ForceFailover=true"
    ));
    if mode == Mode::DryRun {
        return Ok("not requested (dry-run)".into());
    }
    let out = c
        .rds
        .reboot_db_instance()
        .db_instance_identifier(id)
        .force_failover(true)
        .send()
        .await
        .map_err(|e| OpError::Failed(sdk_error("RebootDBInstance", id, e)))?;
    Ok(out
        .db_instance()
        .and_then(|i| i.db_instance_status())
        .unwrap_or("accepted")
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::DbInstanceStatusInfo;

    #[test]
    fn a_promoted_instance_is_primary_and_a_broken_replica_says_why() {
        let standalone = DbInstance::builder()
            .db_instance_status("available")
            .multi_az(true)
            .build();
        let m = member("orders", "orders-db", &standalone, Ok(None));
        assert_eq!((m.role, m.read_only), (Role::Primary, Some(false)));
        assert_eq!(m.status(30.0).1, "ok");

        let broken = DbInstance::builder()
            .db_instance_status("available")
            .read_replica_source_db_instance_identifier("orders-db")
            .status_infos(
                DbInstanceStatusInfo::builder()
                    .status_type("read replication")
                    .status("error")
                    .normal(false)
                    .message("Replication stopped: WAL segment removed")
                    .build(),
            )
            .build();
        let m = member("replica", "orders-db-replica", &broken, Ok(None));
        assert_eq!(m.role, Role::Replica);
        assert_eq!(m.io_running, Some(false));
        assert_eq!(m.status(30.0).1, "nonreplicating");
        assert_eq!(m.lag_text(), "broken");
        assert!(
            m.last_error
                .as_deref()
                .unwrap()
                .contains("WAL segment removed")
        );

        let stopped = DbInstance::builder().db_instance_status("stopped").build();
        let m = member("orders", "orders-db", &stopped, Ok(None));
        assert_eq!(m.status(30.0).1, "down");
        assert_eq!(m.last_error.as_deref(), Some("instance stopped"));
    }
}
