//! Prometheus Alertmanager over its v2 API: the alerts it holds (active, silenced and
//! inhibited alike, so a silenced alert stays on screen, marked), and its silences.
//!
//! ```toml
//! [[alertmanagers]]
//! name = "prod-kr"
//! url = "http://alertmanager.monitoring:9093"
//! bearer_token_env = "AM_TOKEN"    # or bearer_token_file; or basic_auth_user with
//!                                  # password_env / password_file; or nothing
//! ```

use crate::model::alarm::{Alarm, AlarmSource, AlarmState, Matcher, Severity};
use crate::sources::db::config::PasswordRef;
use crate::sources::db::secret::{Secret, scrub};
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::model::alarm::parse_matchers;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One `[[alertmanagers]]` entry. Credentials are named, never written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct AlertmanagerConfig {
    pub name: String,
    /// Base URL, without `/api/v2`.
    pub url: String,
    pub auth: Auth,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    Bearer(PasswordRef),
    Basic { user: String, password: PasswordRef },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    url: String,
    #[serde(default)]
    bearer_token_env: Option<String>,
    #[serde(default)]
    bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    basic_auth_user: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// Only read to be refused.
    #[serde(default)]
    bearer_token: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    password: Option<serde::de::IgnoredAny>,
}

impl TryFrom<RawConfig> for AlertmanagerConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        let name = &raw.name;
        if raw.bearer_token.is_some() || raw.password.is_some() {
            return Err(format!(
                "alertmanager {name}: a token or password is never written in the config: name \
                 an environment variable (bearer_token_env, password_env) or a file \
                 (bearer_token_file, password_file)"
            ));
        }
        let url = raw.url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('@') {
            return Err(format!(
                "alertmanager {name}: url `{url}` must be http:// or https:// without a user or \
                 password in it"
            ));
        }
        let bearer = raw.bearer_token_env.is_some() || raw.bearer_token_file.is_some();
        let password = PasswordRef {
            password_env: raw.password_env,
            password_file: raw.password_file,
        };
        let has_password = password.password_env.is_some() || password.password_file.is_some();
        let auth = match (bearer, raw.basic_auth_user) {
            (true, Some(_)) => {
                return Err(format!(
                    "alertmanager {name}: give a bearer token or basic auth, not both"
                ));
            }
            (true, None) if has_password => {
                return Err(format!(
                    "alertmanager {name}: password_env/password_file go with basic_auth_user"
                ));
            }
            (true, None) => Auth::Bearer(PasswordRef {
                password_env: raw.bearer_token_env,
                password_file: raw.bearer_token_file,
            }),
            (false, Some(user)) => Auth::Basic { user, password },
            (false, None) if has_password => {
                return Err(format!(
                    "alertmanager {name}: password_env/password_file need basic_auth_user"
                ));
            }
            (false, None) => Auth::None,
        };
        Ok(AlertmanagerConfig {
            name: raw.name,
            url,
            auth,
        })
    }
}

/// `[[alertmanagers]]` with each name once: the name is how rows and silences say where
/// they live.
pub fn unique<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AlertmanagerConfig>, D::Error> {
    let list = Vec::<AlertmanagerConfig>::deserialize(d)?;
    for (i, am) in list.iter().enumerate() {
        if list[..i].iter().any(|o| o.name == am.name) {
            return Err(serde::de::Error::custom(format!(
                "alertmanager name `{}` is used twice",
                am.name
            )));
        }
    }
    Ok(list)
}

/// What GET /api/v2/alerts returns per alert.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: Timestamp,
    #[serde(default)]
    ends_at: Option<Timestamp>,
    fingerprint: String,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    receivers: Vec<Receiver>,
    status: AlertStatus,
}

#[derive(Debug, Clone, Deserialize)]
struct Receiver {
    name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatus {
    #[serde(default)]
    silenced_by: Vec<String>,
    #[serde(default)]
    inhibited_by: Vec<String>,
}

/// A silence as Alertmanager lists it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub comment: String,
    pub status: SilenceStatus,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SilenceStatus {
    /// `active`, `pending` or `expired`.
    pub state: String,
}

/// What POST /api/v2/silences takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSilence {
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub created_by: String,
    pub comment: String,
}

/// One Alertmanager's API.
#[derive(Debug, Clone)]
pub struct Alertmanager {
    pub cfg: AlertmanagerConfig,
    http: reqwest::Client,
}

/// A poll reports an Alertmanager down within this, instead of hanging the pane.
const TIMEOUT: Duration = Duration::from_secs(5);

impl Alertmanager {
    pub fn new(cfg: AlertmanagerConfig) -> Alertmanager {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(TIMEOUT)
            .build()
            // Only a broken TLS backend fails here; a default client still works for http://.
            .unwrap_or_default();
        Alertmanager { cfg, http }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    fn secret(&self) -> Result<Option<Secret>, String> {
        let whose = format!("alertmanager {}", self.cfg.name);
        match &self.cfg.auth {
            Auth::None => Ok(None),
            Auth::Bearer(token) => token.resolve_as(&whose, "bearer_token"),
            Auth::Basic { password, .. } => password.resolve(&whose),
        }
    }

    /// Sends a request with the configured credentials (read now, so a rotated token is
    /// picked up), and returns the body of a 2xx answer. Errors never carry the secret.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<String, String> {
        let secret = self.secret()?;
        let url = format!("{}{path}", self.cfg.url);
        let mut req = self.http.request(method.clone(), &url);
        match (&self.cfg.auth, &secret) {
            (Auth::Bearer(_), Some(token)) => req = req.bearer_auth(token.expose()),
            (Auth::Basic { user, .. }, password) => {
                req = req.basic_auth(user, password.as_ref().map(Secret::expose));
            }
            _ => {}
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let hide = |e: String| scrub(&e, &secret.iter().collect::<Vec<_>>());
        let resp = req.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "no answer in time".to_string()
            } else {
                crate::diag::root_cause(&e)
            };
            hide(format!("cannot reach {}: {why}", self.cfg.url))
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| hide(e.to_string()))?;
        if status.is_success() {
            return Ok(text);
        }
        let what = match status.as_u16() {
            401 => "not authorised (check the token or password)".to_string(),
            403 => "forbidden".to_string(),
            _ => format!("HTTP {status}: {}", text.trim()),
        };
        Err(hide(format!("{method} {path}: {what}")))
    }

    /// Every alert it holds, active, silenced and inhibited.
    pub async fn alerts(&self) -> Result<Vec<Alarm>, String> {
        let body = self
            .call(reqwest::Method::GET, "/api/v2/alerts", None::<&()>)
            .await?;
        let alerts: Vec<GettableAlert> = serde_json::from_str(&body)
            .map_err(|e| format!("{}: unreadable alert list: {e}", self.cfg.name))?;
        Ok(alerts.into_iter().map(|a| self.alarm(a)).collect())
    }

    fn alarm(&self, a: GettableAlert) -> Alarm {
        let name = a
            .labels
            .get("alertname")
            .cloned()
            .unwrap_or_else(|| "(no alertname)".into());
        let severity = a
            .labels
            .get("severity")
            .and_then(|s| Severity::parse(s))
            .unwrap_or(Severity::Warning);
        let reason = ["summary", "description", "message"]
            .iter()
            .find_map(|k| a.annotations.get(*k))
            .cloned()
            .unwrap_or_default();
        let mut facts = Vec::new();
        if let Some(url) = a.generator_url.filter(|u| !u.is_empty()) {
            facts.push(("Generator", url));
        }
        if let Some(end) = a.ends_at {
            facts.push(("Ends", end.to_string()));
        }
        if !a.receivers.is_empty() {
            let names: Vec<_> = a.receivers.into_iter().map(|r| r.name).collect();
            facts.push(("Receivers", names.join(", ")));
        }
        Alarm {
            source: AlarmSource::Alertmanager,
            name,
            state: AlarmState::Alarm,
            severity,
            reason,
            since: a.starts_at,
            origin: self.cfg.name.clone(),
            key: a.fingerprint,
            labels: a.labels,
            annotations: a.annotations,
            silenced_by: a.status.silenced_by,
            inhibited_by: a.status.inhibited_by,
            actions_enabled: None,
            facts,
        }
    }

    pub async fn silences(&self) -> Result<Vec<Silence>, String> {
        let body = self
            .call(reqwest::Method::GET, "/api/v2/silences", None::<&()>)
            .await?;
        serde_json::from_str(&body)
            .map_err(|e| format!("{}: unreadable silence list: {e}", self.cfg.name))
    }

    /// Creates the silence and returns its id.
    pub async fn create_silence(&self, silence: &NewSilence) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "silenceID")]
            silence_id: String,
        }
        let body = self
            .call(reqwest::Method::POST, "/api/v2/silences", Some(silence))
            .await?;
        serde_json::from_str::<Created>(&body)
            .map(|c| c.silence_id)
            .map_err(|e| format!("{}: unreadable answer to a new silence: {e}", self.cfg.name))
    }

    /// Expires (Alertmanager never deletes) the silence `id`.
    pub async fn expire_silence(&self, id: &str) -> Result<(), String> {
        match self
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v2/silence/{id}"),
                None::<&()>,
            )
            .await
        {
            Ok(_) => Ok(()),
            // 0.25 answers an unknown id with 500 "silence not found", later ones with 404.
            Err(e) if e.contains("silence not found") || e.contains("404") => {
                Err(format!("{}: no silence {id}", self.cfg.name))
            }
            Err(e) => Err(e),
        }
    }
}

/// Alerts of several Alertmanagers as one list: an HA pair reports every alert twice, once
/// per member, with the same fingerprint. The row names every member that holds it, and is
/// silenced if any of them silences it (the pair gossips silences to each other).
pub fn merge(lists: impl IntoIterator<Item = Vec<Alarm>>) -> Vec<Alarm> {
    let mut by_key: BTreeMap<String, Alarm> = BTreeMap::new();
    for alarm in lists.into_iter().flatten() {
        match by_key.get_mut(&alarm.key) {
            None => {
                by_key.insert(alarm.key.clone(), alarm);
            }
            Some(seen) => {
                if !seen.origin.split(',').any(|o| o == alarm.origin) {
                    seen.origin = format!("{},{}", seen.origin, alarm.origin);
                }
                for s in alarm.silenced_by {
                    if !seen.silenced_by.contains(&s) {
                        seen.silenced_by.push(s);
                    }
                }
                for i in alarm.inhibited_by {
                    if !seen.inhibited_by.contains(&i) {
                        seen.inhibited_by.push(i);
                    }
                }
                seen.since = seen.since.min(alarm.since);
            }
        }
    }
    by_key.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<AlertmanagerConfig, String> {
        toml::from_str::<AlertmanagerConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn config_names_its_secrets_and_refuses_them_written() {
        let am =
            cfg("name = \"prod-kr\"\nurl = \"http://am:9093/\"\nbearer_token_env = \"AM_TOKEN\"")
                .unwrap();
        assert_eq!(am.url, "http://am:9093");
        assert!(matches!(am.auth, Auth::Bearer(_)));
        let basic = cfg(
            "name = \"a\"\nurl = \"https://am\"\nbasic_auth_user = \"ops\"\npassword_file = \"/run/pw\"",
        )
        .unwrap();
        assert!(matches!(basic.auth, Auth::Basic { .. }));
        for (text, says) in [
            (
                "name = \"a\"\nurl = \"http://am\"\nbearer_token = \"s3cret\"",
                "never written",
            ),
            (
                "name = \"a\"\nurl = \"http://am\"\npassword = \"s3cret\"",
                "never written",
            ),
            (
                "name = \"a\"\nurl = \"am:9093\"",
                "must be http:// or https://",
            ),
            (
                "name = \"a\"\nurl = \"http://u:p@am\"",
                "without a user or password",
            ),
            (
                "name = \"a\"\nurl = \"http://am\"\npassword_env = \"X\"",
                "need basic_auth_user",
            ),
            (
                "name = \"a\"\nurl = \"http://am\"\ntoken_env = \"X\"",
                "unknown field `token_env`",
            ),
        ] {
            let err = cfg(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    fn alert(key: &str, origin: &str, silenced: &[&str], since: i64) -> Alarm {
        Alarm {
            source: AlarmSource::Alertmanager,
            name: "HighErrorRate".into(),
            key: key.into(),
            origin: origin.into(),
            silenced_by: silenced.iter().map(|s| s.to_string()).collect(),
            since: Timestamp::from_second(since).unwrap(),
            ..Alarm::default()
        }
    }

    #[test]
    fn an_ha_pair_reports_each_alert_once() {
        let merged = merge([
            vec![alert("f1", "am-a", &[], 20), alert("f2", "am-a", &[], 5)],
            vec![alert("f1", "am-b", &["s1"], 10)],
        ]);
        assert_eq!(merged.len(), 2);
        let f1 = merged.iter().find(|a| a.key == "f1").unwrap();
        assert_eq!(f1.origin, "am-a,am-b");
        assert_eq!(f1.silenced_by, ["s1"]);
        assert_eq!(f1.since.as_second(), 10);
    }
}
