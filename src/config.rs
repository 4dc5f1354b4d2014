//! The TOML config file and where opsdeck keeps its files.

use crate::diag::FileError;
use crate::incident::clock::SlaPolicy;
use crate::incident::event::Severity;
use crate::incident::objectives::{Service, Services};
use directories::ProjectDirs;
use jiff::SignedDuration;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub drill: DrillConfig,
    #[serde(default)]
    pub sla: SlaConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub safety: SafetyConfig,
    /// Present, incidents are shared through the team journal.
    #[serde(default)]
    pub team: Option<crate::incident::team::config::TeamConfig>,
    /// `[logs]`: how much of a pod's log the log view keeps.
    #[serde(default)]
    pub logs: crate::model::logs::LogLimits,
    /// The customers' recovery objectives, per service.
    #[serde(default, deserialize_with = "unique_services")]
    pub services: Vec<ServiceConfig>,
    #[serde(default)]
    pub budget: BudgetConfig,
    #[cfg(feature = "live")]
    #[serde(default)]
    pub databases: Vec<crate::sources::db::DbConfig>,
    #[cfg(feature = "live")]
    #[serde(default)]
    pub kube: Option<crate::sources::kube::KubeConfig>,
    /// Present, the AWS areas go live.
    #[cfg(feature = "live")]
    #[serde(default)]
    pub aws: Option<crate::sources::aws::AwsConfig>,
    #[cfg(feature = "live")]
    #[serde(default, deserialize_with = "crate::sources::alertmanager::unique")]
    pub alertmanagers: Vec<crate::sources::alertmanager::AlertmanagerConfig>,
    #[cfg(feature = "live")]
    #[serde(default)]
    pub alarms: crate::sources::alarms::AlarmsConfig,
    #[cfg(feature = "live")]
    #[serde(default)]
    pub waf: WafConfig,
    /// `[recovery]`: the RPO and where each database's backups are.
    #[cfg(feature = "live")]
    #[serde(default)]
    pub recovery: crate::sources::backup::RecoveryConfig,
    /// `[[regions]]`: the regions of an active-active service and their Route 53 records.
    #[cfg(feature = "live")]
    #[serde(default, deserialize_with = "crate::sources::region::config::unique")]
    pub regions: Vec<crate::sources::region::RegionConfig>,
}

/// `[waf]`: what the WAF area watches besides the AWS web ACLs.
///
/// ```toml
/// [waf]
/// modsecurity_audit_log = "/var/log/nginx/modsec_audit.json"   # SecAuditLogFormat JSON
/// modsecurity_deny_file = "/etc/nginx/opsdeck-deny.conf"        # what block-ip writes
/// modsecurity_reload = ["nginx", "-s", "reload"]                # argv, no shell
/// modsecurity_check_url = "http://127.0.0.1/"  # optional: block-ip checks nginx refuses
/// ```
#[cfg(feature = "live")]
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawWafConfig")]
pub struct WafConfig {
    /// The CloudWatch Logs group AWS WAF logs to, in each ACL's region; absent, each ACL's
    /// own logging configuration names it.
    pub log_group: Option<String>,
    /// ModSecurity's JSON audit log: present, the self-hosted WAF is watched.
    pub modsecurity_audit_log: Option<PathBuf>,
    /// The file of `deny ADDR;` lines nginx includes, with the command that makes nginx
    /// read it again: both or neither.
    pub modsecurity_deny: Option<(PathBuf, Vec<String>)>,
    /// A clean page nginx serves, asked from a blocked address to see it refused.
    pub modsecurity_check_url: Option<reqwest::Url>,
}

#[cfg(feature = "live")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWafConfig {
    #[serde(default, deserialize_with = "waf_log_group")]
    log_group: Option<String>,
    modsecurity_audit_log: Option<PathBuf>,
    modsecurity_deny_file: Option<PathBuf>,
    modsecurity_reload: Option<Vec<String>>,
    modsecurity_check_url: Option<String>,
}

#[cfg(feature = "live")]
impl TryFrom<RawWafConfig> for WafConfig {
    type Error = String;

    fn try_from(raw: RawWafConfig) -> Result<Self, String> {
        let modsecurity_deny = match (raw.modsecurity_deny_file, raw.modsecurity_reload) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(
                    "`modsecurity_deny_file` needs `modsecurity_reload`, the command \
                            that makes nginx read it (like [\"nginx\", \"-s\", \"reload\"])"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "`modsecurity_reload` needs `modsecurity_deny_file`, the file it makes \
                     nginx read"
                        .into(),
                );
            }
            (Some(file), Some(argv)) => {
                if argv.first().is_none_or(|a| a.trim().is_empty()) {
                    return Err("`modsecurity_reload` is an argv: a program and its \
                                arguments, like [\"nginx\", \"-s\", \"reload\"]"
                        .into());
                }
                if file.file_name().is_none() {
                    return Err(format!(
                        "`modsecurity_deny_file` `{}` is not a file name",
                        file.display()
                    ));
                }
                Some((file, argv))
            }
        };
        let modsecurity_check_url = match raw.modsecurity_check_url {
            None => None,
            Some(text) => match reqwest::Url::parse(&text) {
                Ok(url) if url.scheme() == "http" || url.scheme() == "https" => Some(url),
                _ => {
                    return Err(format!(
                        "`modsecurity_check_url` `{text}` is not an http:// or https:// URL"
                    ));
                }
            },
        };
        if modsecurity_check_url.is_some() && modsecurity_deny.is_none() {
            return Err(
                "`modsecurity_check_url` checks what block-ip writes: it needs \
                 `modsecurity_deny_file` and `modsecurity_reload`"
                    .into(),
            );
        }
        Ok(WafConfig {
            log_group: raw.log_group,
            modsecurity_audit_log: raw.modsecurity_audit_log,
            modsecurity_deny,
            modsecurity_check_url,
        })
    }
}

/// A duration written like `2h`, `30m` or `90s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub SignedDuration);

impl std::str::FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Span, String> {
        match text.parse::<SignedDuration>() {
            Ok(v) if v.is_positive() => Ok(Span(v)),
            _ => Err(format!("`{text}` is not a duration like 2h, 30m or 90s")),
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// [CIR-CLOUD-002]: recovery within `length` of recognition.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    pub length: Option<Span>,
    /// Time left at which the clock turns to WARN; the last one prompts the breach notice.
    pub warn_at: Option<Vec<Span>>,
}

impl SlaConfig {
    pub fn policy(&self) -> SlaPolicy {
        let default = SlaPolicy::default();
        SlaPolicy {
            length: self.length.map_or(default.length, |s| s.0),
            warn_at: self
                .warn_at
                .as_ref()
                .map_or(default.warn_at, |w| w.iter().map(|s| s.0).collect()),
        }
    }
}

/// `[[services]]`: what the customers' documents promise for one service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    /// Percent of the month the service is up, e.g. `99.9`.
    pub availability: Option<Availability>,
    pub rto: Option<Span>,
}

/// An availability target in percent, strictly between 0 and 100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Availability(pub f64);

impl<'de> Deserialize<'de> for Availability {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        if v > 0.0 && v < 100.0 {
            Ok(Availability(v))
        } else {
            Err(serde::de::Error::custom(format!(
                "availability `{v}` is not a percentage like 99.9 (between 0 and 100)"
            )))
        }
    }
}

fn unique_services<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ServiceConfig>, D::Error> {
    let list = Vec::<ServiceConfig>::deserialize(d)?;
    for (i, s) in list.iter().enumerate() {
        if list[..i].iter().any(|t| t.name == s.name) {
            return Err(serde::de::Error::custom(format!(
                "service `{}` is configured twice",
                s.name
            )));
        }
    }
    Ok(list)
}

/// `[budget]`: which incidents spend the availability budget.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Default: sev1 and sev2.
    pub severities: Option<Vec<Severity>>,
}

impl Config {
    /// The configured services, or `fallback` (the drill world's) when none are.
    pub fn services(&self, fallback: impl FnOnce() -> Vec<Service>) -> Services {
        let list = if self.services.is_empty() {
            fallback()
        } else {
            self.services
                .iter()
                .map(|s| Service {
                    name: s.name.clone(),
                    availability: s.availability.map(|a| a.0),
                    rto: s.rto.map(|r| r.0),
                })
                .collect()
        };
        Services {
            list,
            severities: self
                .budget
                .severities
                .clone()
                .unwrap_or_else(|| Services::default().severities),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeFormat {
    /// A generic JSON document.
    Json,
    /// A Slack incoming-webhook message.
    Slack,
}

/// Where breach notices go. Webhook URLs are often secrets (Slack's are), so they may be given
/// by reference: an environment variable or a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    pub format: NoticeFormat,
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyConfig {
    /// Forbid every mutating step (reviewers).
    #[serde(default)]
    pub read_only: bool,
    /// No second failover of the same database within this span without an override.
    pub anti_flap: Option<Span>,
}

impl SafetyConfig {
    pub fn anti_flap(&self) -> SignedDuration {
        self.anti_flap
            .map_or(SignedDuration::from_mins(30), |s| s.0)
    }
}

/// AWS WAF only logs to groups named `aws-waf-logs-…`: another name is a typo here.
#[cfg(feature = "live")]
fn waf_log_group<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if !name.starts_with("aws-waf-logs-") || name.chars().any(char::is_whitespace) {
        return Err(serde::de::Error::custom(format!(
            "`{name}` is not a WAF log group: AWS WAF logs only to groups named aws-waf-logs-…"
        )));
    }
    Ok(Some(name))
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    pub theme: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillConfig {
    pub seed: Option<u64>,
    /// Simulated seconds per real second.
    pub speed: Option<u32>,
}

/// Where opsdeck reads and writes. The config directory holds `config.toml`, `keymap.toml`
/// and `themes/`; the data directory holds the log (and, later, incident journals).
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn discover(config_override: Option<&Path>) -> anyhow::Result<Paths> {
        let dirs = ProjectDirs::from("", "", "opsdeck").ok_or_else(|| {
            anyhow::anyhow!("cannot find a home directory for opsdeck's config and data")
        })?;
        let config_dir = dirs.config_dir().to_path_buf();
        Ok(Paths {
            config_file: config_override
                .map_or_else(|| config_dir.join("config.toml"), Path::to_path_buf),
            config_dir,
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    pub fn keymap_file(&self) -> PathBuf {
        self.config_dir.join("keymap.toml")
    }

    pub fn themes_dir(&self) -> PathBuf {
        self.config_dir.join("themes")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid config {0}")]
    Invalid(FileError),
    #[error("cannot read config {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A missing file is not an error: it means the built-in drill world.
pub fn load(path: &Path, explicit: bool) -> Result<Option<Config>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(FileError::from_toml(path, &text, &e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(source) => Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Option<Config>, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, false)
    }

    #[test]
    fn missing_file_means_drill() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            load(&dir.path().join("config.toml"), false)
                .unwrap()
                .is_none()
        );
        assert!(load(&dir.path().join("config.toml"), true).is_err());
    }

    #[cfg(feature = "live")]
    #[test]
    fn waf_names_its_log_group_and_modsecurity() {
        let cfg = load_text("[waf]\nlog_group = \"aws-waf-logs-shop\"\nmodsecurity_audit_log = \"/var/log/nginx/modsec_audit.json\"\nmodsecurity_deny_file = \"/etc/nginx/opsdeck-deny.conf\"\nmodsecurity_reload = [\"nginx\", \"-s\", \"reload\"]\n")
            .unwrap()
            .unwrap();
        assert_eq!(cfg.waf.log_group.as_deref(), Some("aws-waf-logs-shop"));
        assert_eq!(
            cfg.waf.modsecurity_deny.as_ref().unwrap().1,
            ["nginx", "-s", "reload"]
        );
        assert_eq!(Config::default().waf, WafConfig::default());
        let err = load_text("[waf]\nlog_group = \"shop-logs\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:2:13: `shop-logs` is not a WAF log group"),
            "{err}"
        );
    }

    #[test]
    fn reads_every_field() {
        let cfg = load_text("[ui]\ntheme = \"light\"\n[drill]\nseed = 7\nspeed = 10\n")
            .unwrap()
            .unwrap();
        assert_eq!(cfg.ui.theme.as_deref(), Some("light"));
        assert_eq!((cfg.drill.seed, cfg.drill.speed), (Some(7), Some(10)));
    }

    #[test]
    fn sla_and_safety_read_durations() {
        let cfg = load_text("[sla]\nlength = \"4h\"\nwarn_at = [\"1h\"]\n[safety]\nread_only = true\nanti_flap = \"10m\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(cfg.sla.policy().length, SignedDuration::from_hours(4));
        assert_eq!(cfg.sla.policy().warn_at, [SignedDuration::from_hours(1)]);
        assert!(cfg.safety.read_only);
        assert_eq!(cfg.safety.anti_flap(), SignedDuration::from_mins(10));
        assert_eq!(Config::default().sla.policy(), SlaPolicy::default());
        let err = load_text("[sla]\nlength = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:2:10: `soon` is not a duration like 2h, 30m or 90s"),
            "{err}"
        );
    }

    #[cfg(feature = "live")]
    #[test]
    fn aws_table_is_read_and_its_mistakes_located() {
        let cfg =
            load_text("[aws]\nprofile = \"prod\"\nregions = [\"ap-northeast-2\", \"us-east-1\"]\n")
                .unwrap()
                .unwrap();
        let aws = cfg.aws.unwrap();
        assert_eq!(aws.profile.as_deref(), Some("prod"));
        assert_eq!(aws.regions, ["ap-northeast-2", "us-east-1"]);
        let err = load_text("[aws]\nregions = [\"us-east-1\", \"Seoul\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:2:11: `Seoul` is not an AWS region name"),
            "{err}"
        );
        let err = load_text("[aws]\nprofiles = \"prod\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:2:1: unknown field `profiles`"),
            "{err}"
        );
    }

    #[cfg(feature = "live")]
    #[test]
    fn waf_table_reads_modsecurity_and_locates_its_mistakes() {
        let cfg = load_text(
            "[waf]\nmodsecurity_audit_log = \"/var/log/nginx/modsec_audit.json\"\n\
             modsecurity_deny_file = \"/etc/nginx/opsdeck-deny.conf\"\n\
             modsecurity_reload = [\"nginx\", \"-s\", \"reload\"]\n",
        )
        .unwrap()
        .unwrap();
        let (file, argv) = cfg.waf.modsecurity_deny.unwrap();
        assert_eq!(file, Path::new("/etc/nginx/opsdeck-deny.conf"));
        assert_eq!(argv, ["nginx", "-s", "reload"]);
        assert_eq!(
            cfg.waf.modsecurity_audit_log.as_deref(),
            Some(Path::new("/var/log/nginx/modsec_audit.json"))
        );
        for (text, says) in [
            (
                "[waf]\nmodsecurity_deny_file = \"/etc/nginx/d.conf\"\n",
                "config.toml:1:1: `modsecurity_deny_file` needs `modsecurity_reload`",
            ),
            (
                "[waf]\nmodsecurity_deny_file = \"d.conf\"\nmodsecurity_reload = []\n",
                "config.toml:1:1: `modsecurity_reload` is an argv",
            ),
            (
                "[waf]\nmodsecurity_reload = \"nginx -s reload\"\n",
                "config.toml:2:22: invalid type: string \"nginx -s reload\", expected a sequence",
            ),
            (
                "[waf]\nmodsecurity_deny_file = \"d\"\nmodsecurity_reload = [\"x\"]\nmodsecurity_check_url = \"localhost\"\n",
                "`modsecurity_check_url` `localhost` is not an http:// or https:// URL",
            ),
            (
                "[waf]\nmodsecurity_auditlog = \"x\"\n",
                "config.toml:2:1: unknown field `modsecurity_auditlog`",
            ),
        ] {
            let err = load_text(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn services_and_budget_are_read_and_their_mistakes_located() {
        let cfg = load_text(
            "[[services]]\nname = \"billing\"\navailability = 99.9\nrto = \"30m\"\n\
             [[services]]\nname = \"mall\"\navailability = 99\n[budget]\nseverities = [\"sev1\"]\n",
        )
        .unwrap()
        .unwrap();
        let services = cfg.services(Vec::new);
        assert_eq!(services.severities, [Severity::Sev1]);
        assert_eq!(
            services.list,
            [
                Service {
                    name: "billing".into(),
                    availability: Some(99.9),
                    rto: Some(SignedDuration::from_mins(30)),
                },
                Service {
                    name: "mall".into(),
                    availability: Some(99.0),
                    rto: None,
                },
            ]
        );
        let fallback = Config::default().services(|| services.list.clone());
        assert_eq!(
            fallback.list.len(),
            2,
            "without [[services]] the fallback applies"
        );
        assert_eq!(fallback.severities, [Severity::Sev1, Severity::Sev2]);
        let err = load_text("[[services]]\nname = \"billing\"\navailability = 100\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:3:16: availability `100` is not a percentage like 99.9"),
            "{err}"
        );
        let err = load_text("[[services]]\nname = \"a\"\n[[services]]\nname = \"a\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("service `a` is configured twice"), "{err}");
        let err = load_text("[budget]\nseverities = [\"sev9\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:2:15: unknown variant `sev9`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = load_text("[ui]\ntheme = \"light\"\ncolour = \"red\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.toml:3:1: unknown field `colour`"),
            "{err}"
        );
        assert!(err.ends_with("3 | colour = \"red\""), "{err}");
    }
}
