//! CloudTrail: is the account's activity recorded, and what risky things happened.

use super::Level;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrailSnapshot {
    pub trails: Vec<Trail>,
    /// Most recent first.
    pub events: Vec<TrailEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trail {
    pub name: String,
    pub multi_region: bool,
    pub logging: bool,
    pub log_file_validation: bool,
    pub bucket: String,
}

impl Trail {
    /// Problems with the trail itself, against [SER-CLOUD-008].
    pub fn problems(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.logging {
            out.push("logging is OFF");
        }
        if !self.multi_region {
            out.push("single-region only");
        }
        if !self.log_file_validation {
            out.push("log file validation off");
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrailEvent {
    pub time: Timestamp,
    pub user: String,
    pub event_name: String,
    pub source_ip: String,
    pub region: String,
    /// For console logins: whether MFA was used.
    pub mfa_used: Option<bool>,
    pub error: Option<String>,
}

impl TrailEvent {
    /// Why this event deserves a reviewer's eye, if it does.
    pub fn risk(&self) -> Option<(Level, &'static str)> {
        let name = self.event_name.as_str();
        if self.user == "root" {
            return Some((Level::Crit, "root activity"));
        }
        match name {
            "StopLogging" | "DeleteTrail" | "UpdateTrail" => Some((Level::Crit, "trail tampering")),
            "ConsoleLogin" if self.error.is_some() => Some((Level::Warn, "failed login")),
            "ConsoleLogin" if self.mfa_used == Some(false) => {
                Some((Level::Warn, "console login without MFA"))
            }
            "CreateAccessKey" => Some((Level::Warn, "access key created")),
            n if n.starts_with("Put") && n.ends_with("Policy")
                || n.starts_with("Attach") && n.ends_with("Policy")
                || n.starts_with("CreatePolicy") =>
            {
                Some((Level::Warn, "IAM policy change"))
            }
            _ if self
                .error
                .as_deref()
                .is_some_and(|e| e.contains("AccessDenied")) =>
            {
                Some((Level::Warn, "access denied"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, name: &str) -> TrailEvent {
        TrailEvent {
            time: Timestamp::UNIX_EPOCH,
            user: user.into(),
            event_name: name.into(),
            source_ip: "198.51.100.7".into(),
            region: "ap-northeast-2".into(),
            mfa_used: None,
            error: None,
        }
    }

    #[test]
    fn risky_events_are_named() {
        assert_eq!(
            event("root", "DescribeInstances").risk().unwrap().1,
            "root activity"
        );
        assert_eq!(event("ci", "StopLogging").risk().unwrap().0, Level::Crit);
        assert_eq!(
            event("kim", "AttachUserPolicy").risk().unwrap().1,
            "IAM policy change"
        );
        assert_eq!(
            event("kim", "CreateAccessKey").risk().unwrap().1,
            "access key created"
        );
        let login = TrailEvent {
            mfa_used: Some(false),
            ..event("kim", "ConsoleLogin")
        };
        assert_eq!(login.risk().unwrap().1, "console login without MFA");
        assert_eq!(event("kim", "DescribeInstances").risk(), None);
    }
}
