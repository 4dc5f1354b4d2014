//! Breach notices [CIR-CLOUD-002]: the customer is told at once the reason, the plan and the
//! expected completion time. Each notice is written to a file first (so it can be sent by
//! hand), then sent to every configured channel, retrying until it gets through; every
//! attempt's result is journaled by the caller.

use crate::config::{ChannelConfig, NoticeFormat};
use jiff::Timestamp;
use serde_json::json;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub incident: String,
    pub title: String,
    pub severity: String,
    pub n: u32,
    pub reason: String,
    pub plan: String,
    pub eta: Timestamp,
    pub deadline: Timestamp,
}

impl Notice {
    pub fn text(&self) -> String {
        format!(
            "[{}] {} ({}) will not be recovered by the SLA deadline {}.\nReason: {}\nPlan: {}\nExpected completion: {}",
            self.incident,
            self.title,
            self.severity,
            self.deadline.strftime("%Y-%m-%d %H:%M UTC"),
            self.reason,
            self.plan,
            self.eta.strftime("%Y-%m-%d %H:%M UTC"),
        )
    }

    pub fn markdown(&self) -> String {
        format!(
            "# Breach notice {} — {}\n\n- Incident: {} ({})\n- SLA deadline: {}\n- Reason: {}\n- Action plan: {}\n- Expected completion: {}\n",
            self.n,
            self.title,
            self.incident,
            self.severity,
            self.deadline,
            self.reason,
            self.plan,
            self.eta
        )
    }

    fn body(&self, format: NoticeFormat) -> serde_json::Value {
        match format {
            NoticeFormat::Slack => json!({ "text": self.text() }),
            NoticeFormat::Json => json!({
                "type": "sla_breach_notice",
                "incident": self.incident,
                "title": self.title,
                "severity": self.severity,
                "notice": self.n,
                "reason": self.reason,
                "plan": self.plan,
                "expected_completion": self.eta,
                "sla_deadline": self.deadline,
            }),
        }
    }

    /// `<dir>/<incident>-notice-<n>.md`, written before anything is sent.
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let path = dir.join(format!("{}-notice-{}.md", self.incident, self.n));
        std::fs::write(&path, self.markdown())?;
        Ok(path)
    }
}

/// A webhook URL. It is often a credential, so it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Url(String);

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Url(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub format: NoticeFormat,
    url: Url,
}

impl Channel {
    /// Resolves where the URL comes from; errors name the setting, never the secret.
    pub fn from_config(c: &ChannelConfig) -> Result<Channel, String> {
        let url = match (&c.url, &c.url_env, &c.url_file) {
            (Some(u), None, None) => u.clone(),
            (None, Some(var), None) => std::env::var(var).map_err(|_| {
                format!(
                    "notify channel {}: environment variable {var} is not set",
                    c.name
                )
            })?,
            (None, None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    format!(
                        "notify channel {}: cannot read {}: {e}",
                        c.name,
                        path.display()
                    )
                })?
                .trim()
                .to_string(),
            _ => {
                return Err(format!(
                    "notify channel {}: give exactly one of url, url_env, url_file",
                    c.name
                ));
            }
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("notify channel {}: the URL is not http(s)", c.name));
        }
        Ok(Channel {
            name: c.name.clone(),
            format: c.format,
            url: Url(url),
        })
    }

    pub async fn send(&self, client: &reqwest::Client, notice: &Notice) -> Result<(), String> {
        let response = client
            .post(&self.url.0)
            .json(&notice.body(self.format))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

/// One attempt's result, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub n: u32,
    pub channel: String,
    pub error: Option<String>,
}

/// Waits between attempts: quick at first, then every five minutes, never giving up while
/// the console runs (a notice must not be dropped silently).
pub fn backoff(attempt: u32) -> Duration {
    const STEPS: [u64; 4] = [5, 15, 60, 300];
    Duration::from_secs(STEPS[(attempt as usize).min(STEPS.len() - 1)])
}

/// Sends `notice` to every channel in the background, reporting each attempt.
pub fn deliver(channels: &[Channel], notice: Notice, report: mpsc::UnboundedSender<Attempt>) {
    let client = reqwest::Client::new();
    for ch in channels.iter().cloned() {
        let (client, notice, report) = (client.clone(), notice.clone(), report.clone());
        tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                let error = ch.send(&client, &notice).await.err();
                let done = error.is_none();
                if report
                    .send(Attempt {
                        n: notice.n,
                        channel: ch.name.clone(),
                        error,
                    })
                    .is_err()
                    || done
                {
                    return;
                }
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A real HTTP endpoint on loopback that answers with the given statuses in turn and
    /// hands back each request body.
    async fn receiver(statuses: Vec<u16>) -> (String, mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hook/T0SECRET/B0SECRET",
            listener.local_addr().unwrap()
        );
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            for status in statuses {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                loop {
                    let n = sock.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got);
                    if let Some(at) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if got.len() >= at + 4 + len {
                            let _ = tx.send(String::from_utf8_lossy(&got[at + 4..]).into_owned());
                            break;
                        }
                    }
                }
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                sock.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (url, rx)
    }

    fn notice() -> Notice {
        Notice {
            incident: "INC-1".into(),
            title: "primary DB down".into(),
            severity: "Sev1".into(),
            n: 1,
            reason: "replica rebuild takes 3h".into(),
            plan: "restore from snapshot".into(),
            eta: Timestamp::from_second(1_800_010_000).unwrap(),
            deadline: Timestamp::from_second(1_800_007_200).unwrap(),
        }
    }

    fn channel(url: &str, format: NoticeFormat) -> Channel {
        Channel::from_config(&ChannelConfig {
            name: "ops".into(),
            format,
            url: Some(url.into()),
            url_env: None,
            url_file: None,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn slack_and_json_bodies_reach_a_real_endpoint() {
        let (url, mut bodies) = receiver(vec![200, 200]).await;
        let client = reqwest::Client::new();
        channel(&url, NoticeFormat::Slack)
            .send(&client, &notice())
            .await
            .unwrap();
        let slack: serde_json::Value = serde_json::from_str(&bodies.recv().await.unwrap()).unwrap();
        assert!(
            slack["text"]
                .as_str()
                .unwrap()
                .contains("Reason: replica rebuild takes 3h")
        );
        channel(&url, NoticeFormat::Json)
            .send(&client, &notice())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&bodies.recv().await.unwrap()).unwrap();
        assert_eq!(body["plan"], "restore from snapshot");
        assert_eq!(body["type"], "sla_breach_notice");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_reported_and_retried_until_it_gets_through() {
        let (url, _bodies) = receiver(vec![500, 503, 200]).await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        deliver(&[channel(&url, NoticeFormat::Json)], notice(), tx);
        let mut attempts = Vec::new();
        while let Some(a) = rx.recv().await {
            attempts.push(a.error.clone());
            if a.error.is_none() {
                break;
            }
        }
        assert_eq!(
            attempts,
            [
                Some("HTTP 500 Internal Server Error".into()),
                Some("HTTP 503 Service Unavailable".into()),
                None
            ]
        );
    }

    #[tokio::test]
    async fn the_url_never_shows_in_errors_or_debug() {
        let dead = "http://127.0.0.1:9/hook/T0SECRET/B0SECRET";
        let ch = channel(dead, NoticeFormat::Slack);
        let err = ch
            .send(&reqwest::Client::new(), &notice())
            .await
            .unwrap_err();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(!format!("{ch:?}").contains("SECRET"));
        let missing = ChannelConfig {
            name: "slack".into(),
            format: NoticeFormat::Slack,
            url: None,
            url_env: Some("OPSDECK_TEST_NO_SUCH_VAR".into()),
            url_file: None,
        };
        assert_eq!(
            Channel::from_config(&missing).unwrap_err(),
            "notify channel slack: environment variable OPSDECK_TEST_NO_SUCH_VAR is not set"
        );
    }

    #[test]
    fn the_notice_is_written_to_a_file_for_sending_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let path = notice().write(dir.path()).unwrap();
        assert!(path.ends_with("INC-1-notice-1.md"));
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.contains("- Action plan: restore from snapshot"),
            "{text}"
        );
    }
}
