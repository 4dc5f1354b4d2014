//! What every AWS area shares: `[aws]` in config.toml, one client factory, one place that
//! turns SDK errors into health lines, and the principal the console acts as.
//!
//! An area (alarms, WAF, IAM, CloudTrail) never builds its own `SdkConfig`: it asks [`Aws`]
//! for a client, and when a call fails it asks [`Aws::error`] for the line to show, so an
//! expired SSO session, a missing permission or an endpoint that lacks the call reads the
//! same in every pane.
//!
//! ```ignore
//! let aws = Aws::load(&config.aws).await?;      // Err: no region anywhere (a health line)
//! for region in aws.regions() {
//!     let cw = aws.cloudwatch(region);           // build once per poller, then reuse
//!     match cw.describe_alarms().send().await {
//!         Ok(out) => { /* … */ }
//!         Err(e) => {
//!             let e = aws.error(region, "cloudwatch:DescribeAlarms", &e);
//!             publish_error(&tx, format!("{region}: {e}"));
//!             if e.kind == Kind::Unsupported { /* stop asking this endpoint */ }
//!         }
//!     }
//! }
//! // Before a mutating call, for the journal: who the console acts as.
//! let principal = aws.principal().await?;       // STS GetCallerIdentity, once per Aws
//! ```
//!
//! `AWS_ENDPOINT_URL` (the SDK's own variable) points every client at an emulator such as
//! moto; credentials come from the SDK's chain for the profile.

pub mod cloudtrail;
pub mod cloudwatch;
mod error;
pub mod iam;
pub mod keys;
pub mod team;
pub mod waf_log;
pub mod waf_rates;
pub mod waf_sampled;
pub mod wafv2;

pub use error::{AwsError, Kind, classify};

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::SdkConfig;
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// `[aws]` in config.toml. Present, the AWS areas go live.
///
/// ```toml
/// [aws]
/// profile = "prod"                             # else the SDK's default chain
/// regions = ["ap-northeast-2", "us-east-1"]    # else the chain's region
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// A profile of ~/.aws/config (SSO, assume-role, keys); absent means the default chain:
    /// environment, `AWS_PROFILE`, SSO, web identity, instance metadata.
    #[serde(default, deserialize_with = "profile_name")]
    pub profile: Option<String>,
    /// Regions polled by the regional areas, first one first; empty means the chain's region.
    #[serde(default, deserialize_with = "region_names")]
    pub regions: Vec<String>,
}

fn profile_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(serde::de::Error::custom(format!(
            "`{name}` is not an AWS profile name (a name from ~/.aws/config, without spaces)"
        )));
    }
    Ok(Some(name))
}

fn region_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    for (i, name) in names.iter().enumerate() {
        if !is_region_name(name) {
            return Err(serde::de::Error::custom(format!(
                "`{name}` is not an AWS region name like ap-northeast-2 or us-east-1"
            )));
        }
        if names[..i].contains(name) {
            return Err(serde::de::Error::custom(format!(
                "region `{name}` is listed twice"
            )));
        }
    }
    Ok(names)
}

/// `us-east-1`, `ap-northeast-2`, `us-gov-west-1`: a two-letter area, words, a number.
pub(crate) fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && lower(&parts[0])
        && parts[1..parts.len() - 1].iter().all(lower)
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// How long a connection may take to open: an unreachable endpoint shows as such within it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One attempt of one call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// One call with all its retries: a poll reports trouble within this, not after minutes.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);
/// The SDK's standard retry (exponential backoff with jitter) for throttling and transient
/// errors, limited so a poll gives up and says why.
pub const MAX_ATTEMPTS: u32 = 3;

/// What [`Aws::load_from`] reads instead of the process environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Every client's endpoint, as `AWS_ENDPOINT_URL` would set it.
    pub endpoint_url: Option<String>,
    /// The config and credentials files, instead of ~/.aws/config and ~/.aws/credentials.
    pub profile_files: Option<EnvConfigFiles>,
}

/// The AWS clients of one profile: one `SdkConfig` per region, sharing the profile's
/// credentials and their cache. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Aws {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    profile: Option<String>,
    /// `SdkConfig`s by region, in the configured order; the first is the home region, where
    /// global services (STS, IAM) are asked.
    regions: Vec<(String, SdkConfig)>,
    principal: OnceCell<Principal>,
}

/// Who the console acts as on AWS, for the journal: "which role blocked this address".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Principal {
    pub arn: String,
    pub account: String,
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn)
    }
}

/// Generates one constructor per AWS service the areas use; each client refuses to retry
/// an answer that says the endpoint lacks the operation.
macro_rules! clients {
    ($($(#[$doc:meta])* $name:ident => $krate:ident),* $(,)?) => {
        impl Aws {
            $(
                $(#[$doc])*
                pub fn $name(&self, region: &str) -> $krate::Client {
                    let conf = $krate::config::Builder::from(&self.sdk(region))
                        .retry_classifier(NotImplementedHere)
                        .build();
                    $krate::Client::from_conf(conf)
                }
            )*
        }
    };
}

clients! {
    /// CloudWatch (alarms, metrics) in `region`.
    cloudwatch => aws_sdk_cloudwatch,
    /// CloudWatch Logs in `region`.
    logs => aws_sdk_cloudwatchlogs,
    /// CloudTrail in `region`.
    cloudtrail => aws_sdk_cloudtrail,
    /// WAFv2 in `region` (`us-east-1` for CloudFront-scoped web ACLs).
    wafv2 => aws_sdk_wafv2,
    /// SNS in `region`.
    sns => aws_sdk_sns,
    /// IAM: a global service, ask it in [`Aws::home_region`].
    iam => aws_sdk_iam,
    /// STS in `region`.
    sts => aws_sdk_sts,
    /// RDS in `region` (backups, snapshots, point-in-time recovery).
    rds => aws_sdk_rds,
    /// Route 53: a global service, signed in `us-east-1` (the regions' record sets).
    route53 => aws_sdk_route53,
}

impl Aws {
    /// S3 in `region` (the team journal). Path-style addressing when an endpoint is set:
    /// an emulator on 127.0.0.1 has no per-bucket host names.
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let sdk = self.sdk(region);
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .retry_classifier(NotImplementedHere)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Loads the profile's configuration through the SDK's chain. Fails only when no region
    /// is known at all; missing or expired credentials show on the first call instead.
    ///
    /// A named profile is the only source of credentials (its keys, SSO session, role or
    /// `credential_process`): a console told to act as `prod` never falls back to whatever
    /// the environment or the instance role would give.
    pub async fn load(cfg: &AwsConfig) -> Result<Aws, String> {
        Aws::load_from(cfg, Overrides::default()).await
    }

    /// Like [`Aws::load`], reading what `overrides` names instead of the process
    /// environment: tests point it at their own moto and credentials file.
    pub async fn load_from(cfg: &AwsConfig, overrides: Overrides) -> Result<Aws, String> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        if let Some(url) = overrides.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(files) = &overrides.profile_files {
            loader = loader.profile_files(files.clone());
        }
        if let Some(profile) = &cfg.profile {
            let mut credentials = ProfileFileCredentialsProvider::builder().profile_name(profile);
            if let Some(files) = overrides.profile_files {
                credentials = credentials.profile_files(files);
            }
            loader = loader
                .profile_name(profile)
                .credentials_provider(credentials.build());
        }
        if let Some(first) = cfg.regions.first() {
            loader = loader.region(Region::new(first.clone()));
        }
        let base = loader.load().await;
        let names = match (cfg.regions.as_slice(), base.region()) {
            ([], Some(r)) => vec![r.to_string()],
            ([], None) => {
                return Err(format!(
                    "no AWS region{}: set `regions` in [aws], the profile's region or AWS_REGION",
                    error::for_profile(cfg.profile.as_deref())
                ));
            }
            (names, _) => names.to_vec(),
        };
        let regions = names
            .into_iter()
            .map(|r| {
                let sdk = base.to_builder().region(Region::new(r.clone())).build();
                (r, sdk)
            })
            .collect();
        Ok(Aws {
            inner: Arc::new(Inner {
                profile: cfg.profile.clone(),
                regions,
                principal: OnceCell::new(),
            }),
        })
    }

    /// The regions to poll, in the configured order.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.inner.regions.iter().map(|(r, _)| r.as_str())
    }

    /// Where global services are asked: the first configured region.
    pub fn home_region(&self) -> &str {
        self.inner.regions[0].0.as_str()
    }

    pub fn profile(&self) -> Option<&str> {
        self.inner.profile.as_deref()
    }

    /// The `SdkConfig` for `region`: the configured one, or one derived from the home
    /// region's (same credentials and cache) for a region outside the list.
    pub fn sdk(&self, region: &str) -> SdkConfig {
        match self.inner.regions.iter().find(|(r, _)| r == region) {
            Some((_, sdk)) => sdk.clone(),
            None => self.inner.regions[0]
                .1
                .to_builder()
                .region(Region::new(region.to_string()))
                .build(),
        }
    }

    /// The health line for a failed call of IAM action `action` (`cloudwatch:DescribeAlarms`)
    /// in `region`.
    pub fn error<E>(&self, region: &str, action: &str, err: &SdkError<E, HttpResponse>) -> AwsError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let sdk = self.sdk(region);
        classify(
            &error::Call {
                action,
                region,
                profile: self.profile(),
                endpoint: sdk.endpoint_url(),
            },
            err,
        )
    }

    /// Who the console acts as (STS GetCallerIdentity), asked once and remembered: the
    /// profile's credentials are one identity for as long as the console runs. A failure
    /// is not remembered, so logging in again and retrying works.
    pub async fn principal(&self) -> Result<Principal, AwsError> {
        self.inner
            .principal
            .get_or_try_init(|| async {
                let region = self.home_region();
                let out = self
                    .sts(region)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| self.error(region, "sts:GetCallerIdentity", &e))?;
                Ok(Principal {
                    arn: out.arn().unwrap_or("unknown").to_string(),
                    account: out.account().unwrap_or("unknown").to_string(),
                })
            })
            .await
            .cloned()
    }
}

/// A failed call as the operation's error: forbidden and unsupported stay recognisable.
pub(crate) fn op_error(e: AwsError) -> crate::ops::OpError {
    use crate::ops::OpError;
    match e.kind {
        Kind::AccessDenied => OpError::Denied(e.line().to_string()),
        Kind::Unsupported => OpError::Unsupported(e.line().to_string()),
        _ => OpError::Failed(e.line().to_string()),
    }
}

/// moto answers an operation it lacks with HTTP 500 and an HTML error page, which the SDK
/// would retry as a transient server error. No AWS service answers with HTML, so such an
/// answer is final: the call is unsupported here, and retrying only delays saying so.
#[derive(Debug)]
struct NotImplementedHere;

impl ClassifyRetry for NotImplementedHere {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if error::is_html_server_error(r) => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "operation not implemented by this endpoint"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AwsConfig, String> {
        toml::from_str::<AwsConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_profile_and_regions() {
        let cfg = parse("profile = \"prod\"\nregions = [\"ap-northeast-2\", \"us-gov-west-1\"]\n")
            .unwrap();
        assert_eq!(cfg.profile.as_deref(), Some("prod"));
        assert_eq!(cfg.regions, ["ap-northeast-2", "us-gov-west-1"]);
        assert_eq!(parse("").unwrap(), AwsConfig::default());
    }

    #[test]
    fn refuses_bad_regions_and_profiles() {
        for (text, says) in [
            ("regions = [\"Seoul\"]", "`Seoul` is not an AWS region name"),
            (
                "regions = [\"us-east\"]",
                "`us-east` is not an AWS region name",
            ),
            (
                "regions = [\"us-east-1\", \"us-east-1\"]",
                "region `us-east-1` is listed twice",
            ),
            ("profile = \"\"", "`` is not an AWS profile name"),
            (
                "profile = \"my prod\"",
                "`my prod` is not an AWS profile name",
            ),
            ("region = \"us-east-1\"", "unknown field `region`"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
