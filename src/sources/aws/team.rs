//! The team journal's store on S3: conditional PutObject claims an entry's key, a listing
//! after the last key follows the others.

use super::{Aws, AwsConfig};
use crate::incident::desk::Desk;
use crate::incident::team::config::{Location, LockMode, Retain};
use crate::incident::team::follow::Follower;
use crate::incident::team::store::{Claim, Listed, Store, StoreError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use jiff::Timestamp;

pub struct S3Store {
    aws: Aws,
    client: aws_sdk_s3::Client,
    bucket: String,
    retain: Option<Retain>,
}

impl S3Store {
    /// The store at `location`, asked in the home region of `[aws]`.
    pub fn new(aws: &Aws, location: &Location) -> S3Store {
        S3Store {
            client: aws.s3(aws.home_region()),
            aws: aws.clone(),
            bucket: location.bucket.clone(),
            retain: None,
        }
    }

    /// Entries are claimed under Object Lock for `retain` (heartbeats are not: they are
    /// rewritten every few seconds and would pile up locked versions).
    pub fn retaining(mut self, retain: Option<Retain>) -> S3Store {
        self.retain = retain;
        self
    }

    fn lock_until(&self) -> Option<(ObjectLockMode, DateTime)> {
        let r = self.retain?;
        let until = Timestamp::now()
            .saturating_add(jiff::SignedDuration::from_hours(24 * i64::from(r.days)))
            .ok()?;
        let mode = match r.mode {
            LockMode::Compliance => ObjectLockMode::Compliance,
            LockMode::Governance => ObjectLockMode::Governance,
        };
        Some((mode, DateTime::from_secs(until.as_second())))
    }

    fn error<E>(
        &self,
        action: &str,
        e: &aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> StoreError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let line = self.aws.error(self.aws.home_region(), action, e);
        StoreError(format!("s3://{}: {}", self.bucket, line.line()))
    }
}

/// The follower of a team desk's journal at `location`, on S3 in the home region of `aws`.
///
/// Without `[aws]` (`aws` is `None`) the SDK's default chain gives region and credentials
/// (environment, `AWS_PROFILE`, SSO, instance role): a bastion whose role may write the
/// bucket needs no `[aws]` that would also turn the AWS panes on. No region anywhere is an
/// error, worded for the config; missing credentials show on the first call, in the header.
pub async fn follower(
    aws: Option<&AwsConfig>,
    location: &Location,
    retain: Option<Retain>,
    desk: &mut Desk,
) -> Result<Follower<S3Store>, String> {
    let aws = Aws::load(aws.unwrap_or(&AwsConfig::default()))
        .await
        .map_err(|e| format!("[team] journal {location}: {e}"))?;
    let store = S3Store::new(&aws, location).retaining(retain);
    Ok(Follower::new(store, location, desk))
}

impl Store for S3Store {
    async fn claim(&self, key: &str, body: Vec<u8>) -> Result<Claim, StoreError> {
        let lock = self.lock_until();
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .content_type("application/json")
            .set_object_lock_mode(lock.as_ref().map(|(m, _)| m.clone()))
            .set_object_lock_retain_until_date(lock.map(|(_, t)| t))
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Claim::Created),
            // 412: the key exists. 409: another conditional write to it is in flight; either
            // way someone else has the number.
            Err(e)
                if matches!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 409)
                ) =>
            {
                Ok(Claim::Taken)
            }
            Err(e) => Err(self.error("s3:PutObject", &e)),
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("s3:PutObject", &e))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.error("s3:GetObject", &e))?;
        let bytes = out.body.collect().await.map_err(|e| {
            StoreError(format!("s3://{}/{key}: reading the body: {e}", self.bucket))
        })?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<Listed>, StoreError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_start_after(after.map(str::to_string))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.error("s3:ListBucket", &e))?;
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let modified = o
                    .last_modified()
                    .and_then(|t| Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok())
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                out.push(Listed {
                    key: key.to_string(),
                    modified,
                });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }
}
