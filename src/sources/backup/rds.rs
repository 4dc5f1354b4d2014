//! An RDS instance's backups: point-in-time recovery up to `LatestRestorableTime`
//! (DescribeDBInstances), the automated-backup record with its restore window
//! (DescribeDBInstanceAutomatedBackups), and its snapshots, automated and manual
//! (DescribeDBSnapshots). A snapshot that is not `available` is an attempt, not a backup.

use super::config::RdsBackups;
use crate::model::backup::Backup;
use crate::sources::aws::iam::ts;
use crate::sources::aws::{Aws, AwsError};

pub const DESCRIBE_INSTANCES: &str = "rds:DescribeDBInstances";
pub const DESCRIBE_AUTOMATED: &str = "rds:DescribeDBInstanceAutomatedBackups";
pub const DESCRIBE_SNAPSHOTS: &str = "rds:DescribeDBSnapshots";

/// Everything the instance's backups say, or the first call that failed.
pub async fn read(aws: &Aws, region: &str, cfg: &RdsBackups) -> Result<Vec<Backup>, AwsError> {
    let rds = aws.rds(region);
    let id = cfg.instance.as_str();
    let mut out = Vec::new();
    let instances = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| aws.error(region, DESCRIBE_INSTANCES, &e))?;
    for i in instances.db_instances() {
        // Without a retention period there is no point-in-time recovery at all.
        if i.backup_retention_period().unwrap_or(0) > 0
            && let Some(t) = i.latest_restorable_time().and_then(ts)
        {
            out.push(Backup {
                name: "point-in-time recovery".into(),
                at: t,
                size: None,
                failed: None,
            });
        }
    }
    let automated = rds
        .describe_db_instance_automated_backups()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| aws.error(region, DESCRIBE_AUTOMATED, &e))?;
    for b in automated.db_instance_automated_backups() {
        let Some(latest) = b
            .restore_window()
            .and_then(|w| w.latest_time())
            .and_then(ts)
        else {
            continue;
        };
        let status = b.status().unwrap_or("unknown");
        out.push(Backup {
            name: "automated backups".into(),
            at: latest,
            size: None,
            failed: (status != "active").then(|| format!("automated backups {status}")),
        });
    }
    let mut pages = rds
        .describe_db_snapshots()
        .db_instance_identifier(id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.error(region, DESCRIBE_SNAPSHOTS, &e))?;
        for s in page.db_snapshots() {
            let Some(at) = s.snapshot_create_time().and_then(ts) else {
                continue;
            };
            let status = s.status().unwrap_or("unknown");
            out.push(Backup {
                name: format!(
                    "{} snapshot {}",
                    s.snapshot_type().unwrap_or("manual"),
                    s.db_snapshot_identifier().unwrap_or_default()
                ),
                at,
                size: None,
                failed: (status != "available").then(|| format!("snapshot {status}")),
            });
        }
    }
    Ok(out)
}

/// The source's line for one database.
pub fn location(cfg: &RdsBackups) -> String {
    format!("rds {}", cfg.instance)
}
