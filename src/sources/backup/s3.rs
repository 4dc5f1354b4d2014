//! Dump archives in S3 (mysqldump, pg_dump): every object under the prefix is a dump, the
//! newest by LastModified the newest backup. A 0-byte object is what a dump that failed at
//! once leaves behind: an attempt, never a backup.

use super::config::S3Dumps;
use crate::model::backup::Backup;
use crate::sources::aws::iam::ts;
use crate::sources::aws::{Aws, AwsError};

pub const LIST_BUCKET: &str = "s3:ListBucket";

pub async fn read(aws: &Aws, region: &str, cfg: &S3Dumps) -> Result<Vec<Backup>, AwsError> {
    let s3 = aws.s3(region);
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&cfg.bucket)
        .prefix(&cfg.prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws.error(region, LIST_BUCKET, &e))?;
        for o in page.contents() {
            let (Some(key), Some(at)) = (o.key(), o.last_modified().and_then(ts)) else {
                continue;
            };
            // A "folder" placeholder is not a dump either way.
            if key.ends_with('/') {
                continue;
            }
            let size = o.size().and_then(|s| u64::try_from(s).ok());
            out.push(Backup {
                name: key.to_string(),
                at,
                size,
                failed: (size == Some(0)).then(|| "0 bytes: the dump wrote nothing".to_string()),
            });
        }
    }
    Ok(out)
}

pub fn location(cfg: &S3Dumps) -> String {
    format!("s3://{}/{}", cfg.bucket, cfg.prefix)
}
