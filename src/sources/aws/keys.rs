//! The leaked-key response on real IAM: what the key did (LookupEvents by AccessKeyId in
//! every region), UpdateAccessKey to Inactive verified with ListAccessKeys, the optional
//! containment (DeleteLoginProfile, a deny-all inline policy) and the rollback. Each
//! mutating call names the AWS principal it ran as, which the journal keeps.

use super::cloudtrail::TrailReader;
use super::{Aws, op_error};
use crate::model::iam::IamSnapshot;
use crate::ops::{DENY_ALL_POLICY, Mode, Op, OpError, Ops, Outcome};
use crate::sources::Tx;
use async_trait::async_trait;
use aws_sdk_cloudtrail::types::LookupAttributeKey;
use aws_sdk_iam::types::StatusType;
use jiff::Timestamp;

const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OpsdeckContainment","Effect":"Deny","Action":"*","Resource":"*"}]}"#;

pub struct KeyOps {
    aws: Aws,
    trail: TrailReader,
    /// The IAM pane's feed: a verified change shows there before the next poll.
    iam: Option<Tx<IamSnapshot>>,
}

/// The key of `user` whose id ends in `suffix`: (full id, active, created).
struct Key {
    id: String,
    active: bool,
    created: Option<Timestamp>,
}

fn masked(id: &str) -> String {
    format!("AKIA…{}", &id[id.len().saturating_sub(4)..])
}

impl KeyOps {
    pub fn new(aws: Aws) -> KeyOps {
        KeyOps {
            trail: TrailReader::new(&aws),
            aws,
            iam: None,
        }
    }

    pub fn updating(mut self, iam: Tx<IamSnapshot>) -> KeyOps {
        self.iam = Some(iam);
        self
    }

    fn region(&self) -> &str {
        self.aws.home_region()
    }

    async fn key(&self, user: &str, suffix: &str) -> Result<Key, OpError> {
        let out = self
            .aws
            .iam(self.region())
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .map_err(|e| op_error(self.aws.error(self.region(), "iam:ListAccessKeys", &e)))?;
        out.access_key_metadata()
            .iter()
            .find(|k| k.access_key_id().is_some_and(|id| id.ends_with(suffix)))
            .map(|k| Key {
                id: k.access_key_id().unwrap_or_default().to_string(),
                active: k.status() == Some(&StatusType::Active),
                created: k.create_date().and_then(super::iam::ts),
            })
            .ok_or_else(|| OpError::NotFound(format!("{user} has no access key …{suffix}")))
    }

    async fn principal(&self) -> Result<String, OpError> {
        self.aws.principal().await.map(|p| p.arn).map_err(op_error)
    }

    /// Shows the verified state on the IAM pane at once: the report names keys by slot,
    /// so the slot created when this key was takes its real suffix.
    fn show(&self, user: &str, suffix: &str, key: &Key, active: bool) {
        let Some(tx) = &self.iam else { return };
        tx.send_if_modified(|feed| {
            let mut snap = feed.data.clone();
            let Some(u) = snap.users.iter_mut().find(|u| u.name == user) else {
                return false;
            };
            let slot = u
                .access_keys
                .iter_mut()
                .find(|k| k.id_suffix == suffix || Some(k.created) == key.created);
            let Some(k) = slot else { return false };
            k.id_suffix = suffix.to_string();
            k.active = active;
            *feed = std::sync::Arc::new(crate::model::Feed {
                data: snap,
                health: feed.health.clone(),
            });
            true
        });
    }

    async fn set_status(
        &self,
        user: &str,
        suffix: &str,
        active: bool,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        let key = self.key(user, suffix).await?;
        let status = if active { "Active" } else { "Inactive" };
        let call = format!(
            "iam UpdateAccessKey UserName={user} AccessKeyId={} Status={status}",
            masked(&key.id)
        );
        let verify = format!("iam ListAccessKeys UserName={user}");
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!(
                    "dry-run: would set access key …{suffix} of {user} {status} (now {})",
                    if key.active { "Active" } else { "Inactive" }
                ),
                calls: vec![call, verify],
            });
        }
        let who = self.principal().await?;
        self.aws
            .iam(self.region())
            .update_access_key()
            .user_name(user)
            .access_key_id(&key.id)
            .status(if active {
                StatusType::Active
            } else {
                StatusType::Inactive
            })
            .send()
            .await
            .map_err(|e| op_error(self.aws.error(self.region(), "iam:UpdateAccessKey", &e)))?;
        let after = self.key(user, suffix).await?;
        if after.active != active {
            return Err(OpError::Failed(format!(
                "ListAccessKeys still shows …{suffix} of {user} {}",
                if after.active { "Active" } else { "Inactive" }
            )));
        }
        self.show(user, suffix, &after, active);
        Ok(Outcome {
            summary: format!(
                "access key …{suffix} of {user} is {status} (verified with ListAccessKeys; as {who})"
            ),
            calls: vec![call, verify],
        })
    }

    async fn activity(&self, user: &str, suffix: &str, hours: u32) -> Result<Outcome, OpError> {
        let key = self.key(user, suffix).await?;
        let since = Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_hours(i64::from(hours)))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let mut events = Vec::new();
        let mut calls = Vec::new();
        for region in self.aws.regions() {
            calls.push(format!(
                "cloudtrail LookupEvents AccessKeyId={} StartTime={since} ({region})",
                masked(&key.id)
            ));
            let found = self
                .trail
                .lookup(region, LookupAttributeKey::AccessKeyId, &key.id, since, 20)
                .await
                .map_err(op_error)?;
            events.extend(found);
        }
        events.sort_by_key(|a| a.time);
        events.dedup_by(|a, b| a.id.is_some() && a.id == b.id);
        let (summary, lines) = crate::model::trail::key_activity(user, suffix, hours, &events);
        calls.extend(lines);
        Ok(Outcome { summary, calls })
    }

    async fn delete_login(&self, user: &str, mode: Mode) -> Result<Outcome, OpError> {
        let call = format!("iam DeleteLoginProfile UserName={user}");
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!("dry-run: would delete the console password of {user}"),
                calls: vec![call],
            });
        }
        let who = self.principal().await?;
        let iam = self.aws.iam(self.region());
        let summary = match iam.delete_login_profile().user_name(user).send().await {
            Ok(_) => format!("{user} has no console password any more (as {who})"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                format!("{user} had no console password")
            }
            Err(e) => {
                return Err(op_error(self.aws.error(
                    self.region(),
                    "iam:DeleteLoginProfile",
                    &e,
                )));
            }
        };
        Ok(Outcome {
            summary,
            calls: vec![call],
        })
    }

    async fn deny_all(&self, user: &str, mode: Mode) -> Result<Outcome, OpError> {
        let call =
            format!("iam PutUserPolicy UserName={user} PolicyName={DENY_ALL_POLICY} (Deny * on *)");
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!("dry-run: would deny {user} every action"),
                calls: vec![call],
            });
        }
        let who = self.principal().await?;
        self.aws
            .iam(self.region())
            .put_user_policy()
            .user_name(user)
            .policy_name(DENY_ALL_POLICY)
            .policy_document(DENY_ALL)
            .send()
            .await
            .map_err(|e| op_error(self.aws.error(self.region(), "iam:PutUserPolicy", &e)))?;
        Ok(Outcome {
            summary: format!("{user} is denied every action (as {who})"),
            calls: vec![call],
        })
    }
}

#[async_trait]
impl Ops for KeyOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        match op {
            Op::DeactivateKey { user, key_suffix } => {
                self.set_status(user, key_suffix, false, mode).await
            }
            Op::ReactivateKey {
                user, key_suffix, ..
            } => self.set_status(user, key_suffix, true, mode).await,
            Op::KeyActivity {
                user,
                key_suffix,
                hours,
            } => self.activity(user, key_suffix, *hours).await,
            Op::DeleteLoginProfile { user } => self.delete_login(user, mode).await,
            Op::DenyAll { user } => self.deny_all(user, mode).await,
            other => Err(OpError::Unsupported(format!(
                "{other}: not an IAM operation"
            ))),
        }
    }
}
