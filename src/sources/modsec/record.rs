//! One line of ModSecurity 3's JSON audit log (`SecAuditLogFormat JSON`, `SecAuditLogType
//! Serial`): the request, nginx's answer and the rules that matched.
//!
//! As libmodsecurity 3.0.9 writes it: `time_stamp` is ctime text in the server's local time,
//! `ruleId` is a string, and a request nginx itself refused (`deny`) is logged with no
//! messages at all. There is no "action" field: the verdict is the status code.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::Deserialize;

/// CRS rules that sum up or report rather than detect: the blocking evaluation (949xxx,
/// 959xxx) and the correlation summary (980xxx). A request's attack is the rule before them.
fn is_verdict(rule: &str) -> bool {
    rule.starts_with("949") || rule.starts_with("959") || rule.starts_with("980")
}

/// The rule id of CRS's inbound anomaly block, whose message carries the total score.
pub const ANOMALY_BLOCK: &str = "949110";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub time: Timestamp,
    pub unique_id: String,
    pub client_ip: String,
    pub method: String,
    pub uri: String,
    pub status: u16,
    pub messages: Vec<Matched>,
    /// The `OWASP_CRS/x.y.z` the producer names, as `x.y.z`.
    pub crs_version: Option<String>,
    /// `secrules_engine`: `Enabled` blocks, `DetectionOnly` only logs.
    pub engine: String,
}

#[derive(Deserialize)]
struct Line {
    transaction: Transaction,
}

#[derive(Deserialize)]
struct Transaction {
    client_ip: String,
    time_stamp: String,
    #[serde(default)]
    unique_id: String,
    request: Request,
    response: Response,
    #[serde(default)]
    producer: Producer,
    #[serde(default)]
    messages: Vec<Message>,
}

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    method: String,
    #[serde(default)]
    uri: String,
}

#[derive(Deserialize)]
struct Response {
    http_code: u16,
}

#[derive(Deserialize, Default)]
struct Producer {
    #[serde(default)]
    secrules_engine: String,
    #[serde(default)]
    components: Vec<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    message: String,
    details: Details,
}

#[derive(Deserialize)]
struct Details {
    #[serde(rename = "ruleId", default)]
    rule_id: String,
}

/// `Wed Dec  2 03:23:39 2026` in `tz` (the zone nginx ran in: the machine's own).
fn ctime(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    let squeezed: Vec<&str> = text.split_whitespace().collect();
    let dt = DateTime::strptime("%a %b %d %H:%M:%S %Y", squeezed.join(" "))
        .map_err(|e| format!("time_stamp `{text}`: {e}"))?;
    tz.to_timestamp(dt)
        .map_err(|e| format!("time_stamp `{text}`: {e}"))
}

impl AuditRecord {
    pub fn parse(line: &[u8], tz: &TimeZone) -> Result<AuditRecord, String> {
        let Line { transaction: t } = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let crs_version = t.producer.components.iter().find_map(|c| {
            c.strip_prefix("OWASP_CRS/")
                // libmodsecurity 3.0.9 leaves the rule's closing quote in the component.
                .map(|v| v.trim_end_matches('"').to_string())
        });
        Ok(AuditRecord {
            time: ctime(&t.time_stamp, tz)?,
            unique_id: t.unique_id,
            client_ip: t.client_ip,
            method: t.request.method,
            uri: t.request.uri,
            status: t.response.http_code,
            messages: t
                .messages
                .into_iter()
                .map(|m| Matched {
                    rule: m.details.rule_id,
                    message: m.message,
                })
                .collect(),
            crs_version,
            engine: t.producer.secrules_engine,
        })
    }

    /// Refused, by a rule or by nginx's own deny list. CRS in blocking mode answers 403.
    pub fn blocked(&self) -> bool {
        self.status == 403
            || (self.messages.iter().any(|m| m.rule == ANOMALY_BLOCK) && self.status >= 400)
    }

    /// The total CRS put on the request, from the anomaly block's message.
    pub fn anomaly_score(&self) -> Option<u32> {
        let m = self.messages.iter().find(|m| m.rule == ANOMALY_BLOCK)?;
        let (_, rest) = m.message.split_once("Total Score: ")?;
        rest.trim_end_matches(')').trim().parse().ok()
    }

    /// Refused without a CRS verdict: nginx's `deny` list stopped it. Rules that only
    /// score (920350, a numeric Host header) may still have matched on the way.
    pub fn denied_by_list(&self) -> bool {
        self.status == 403 && !self.messages.iter().any(|m| is_verdict(&m.rule))
    }

    /// What refused the request, for the blocked-requests table: the attack's rule id and
    /// message, then the anomaly block with its score; for the deny list, the deny rule's
    /// name, as AWS names the IP-set rule that terminated a request.
    pub fn reason(&self) -> String {
        if self.denied_by_list() {
            return super::DENY_RULE.into();
        }
        let attack = self.messages.iter().find(|m| !is_verdict(&m.rule));
        let mut text = match attack {
            Some(m) => format!("{} {}", m.rule, m.message),
            None => String::new(),
        };
        if let Some(score) = self.anomaly_score() {
            if !text.is_empty() {
                text.push_str(" · ");
            }
            text.push_str(&format!("{ANOMALY_BLOCK} score {score}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verbatim from libmodsecurity 3.0.9 + CRS 3.3.4 behind nginx 1.22 (body elided).
    const SQLI: &str = r#"{"transaction":{"client_ip":"127.0.0.1","time_stamp":"Wed Dec  2 03:23:39 2026","server_id":"2ce124b0c5d02b433a9392782ff8b313286c1942","client_port":57636,"host_ip":"127.0.0.1","host_port":18555,"unique_id":"179618181942.872372","request":{"method":"GET","http_version":1.1,"uri":"/?id=1'%20OR%20'1'='1","headers":{"Host":"localhost","User-Agent":"curl/7.88.1","Accept":"*/*"}},"response":{"body":"","http_code":403,"headers":{"Server":"nginx/1.22.1"}},"producer":{"modsecurity":"ModSecurity v3.0.9 (Linux)","connector":"ModSecurity-nginx v1.0.3","secrules_engine":"Enabled","components":["OWASP_CRS/3.3.4\""]},"messages":[{"message":"SQL Injection Attack Detected via libinjection","details":{"match":"detected SQLi using libinjection.","reference":"v9,12","ruleId":"942100","file":"/usr/share/modsecurity-crs/rules/REQUEST-942-APPLICATION-ATTACK-SQLI.conf","lineNumber":"46","data":"Matched Data: s&sos found within ARGS:id: 1' OR '1'='1","severity":"2","ver":"OWASP_CRS/3.3.4","rev":"","tags":[],"maturity":"0","accuracy":"0"}},{"message":"Inbound Anomaly Score Exceeded (Total Score: 5)","details":{"match":"Matched \"Operator `Ge' with parameter `5' against variable `TX:ANOMALY_SCORE' (Value: `5' )","reference":"","ruleId":"949110","file":"/usr/share/modsecurity-crs/rules/REQUEST-949-BLOCKING-EVALUATION.conf","lineNumber":"81","data":"","severity":"2","ver":"OWASP_CRS/3.3.4","rev":"","tags":["application-multi"],"maturity":"0","accuracy":"0"}}]}}"#;

    /// nginx's `deny` refused it: logged with no messages.
    const DENIED: &str = r#"{"transaction":{"client_ip":"127.0.0.2","time_stamp":"Wed Dec  2 03:23:39 2026","server_id":"2ce1","client_port":55862,"host_ip":"127.0.0.1","host_port":18555,"unique_id":"179618181922.481393","request":{"method":"GET","http_version":1.1,"uri":"/","headers":{"Host":"localhost"}},"response":{"body":"","http_code":403,"headers":{}},"producer":{"modsecurity":"ModSecurity v3.0.9 (Linux)","connector":"ModSecurity-nginx v1.0.3","secrules_engine":"Enabled","components":["OWASP_CRS/3.3.4\""]},"messages":[]}}"#;

    #[test]
    fn a_crs_block_names_the_attack_the_score_and_the_client() {
        let r = AuditRecord::parse(SQLI.as_bytes(), &TimeZone::UTC).unwrap();
        assert_eq!(r.time.to_string(), "2026-12-02T03:23:39Z");
        assert_eq!(
            (r.client_ip.as_str(), r.method.as_str(), r.uri.as_str()),
            ("127.0.0.1", "GET", "/?id=1'%20OR%20'1'='1")
        );
        assert!(r.blocked());
        assert_eq!(r.anomaly_score(), Some(5));
        assert_eq!(
            r.reason(),
            "942100 SQL Injection Attack Detected via libinjection · 949110 score 5"
        );
        assert_eq!(r.crs_version.as_deref(), Some("3.3.4"));
        let d = AuditRecord::parse(DENIED.as_bytes(), &TimeZone::UTC).unwrap();
        assert!(d.blocked());
        assert_eq!(d.reason(), super::super::DENY_RULE);
    }

    #[test]
    fn local_time_and_bad_lines_are_told_apart() {
        let seoul = TimeZone::get("Asia/Seoul").unwrap();
        let r = AuditRecord::parse(SQLI.as_bytes(), &seoul).unwrap();
        assert_eq!(r.time.to_string(), "2026-12-01T18:23:39Z");
        let err = AuditRecord::parse(b"{\"transaction\":{}}", &seoul).unwrap_err();
        assert!(err.contains("missing field"), "{err}");
        let bad = SQLI.replace("Wed Dec  2", "Someday");
        let err = AuditRecord::parse(bad.as_bytes(), &seoul).unwrap_err();
        assert!(
            err.starts_with("time_stamp `Someday 03:23:39 2026`"),
            "{err}"
        );
    }
}
