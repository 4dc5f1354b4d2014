//! Security review rules over IAM snapshots: each finding names the control it violates.

use crate::model::iam::{IamSnapshot, Mfa};
use crate::model::summary::{Area, AreaSummary};
use crate::model::{Level, days_between};
use jiff::Timestamp;
use serde::Serialize;

/// Access keys older than this are due for rotation.
pub const KEY_MAX_AGE_DAYS: i64 = 90;
/// Credentials unused for this long should be removed.
pub const UNUSED_DAYS: i64 = 90;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Level,
    /// The customer's requirement this violates, e.g. `SER-CLOUD-005`.
    pub control: &'static str,
    pub subject: String,
    pub message: String,
}

/// Names that suggest an account several people share, against [SER-CLOUD-004].
const SHARED_NAMES: [&str; 6] = ["admin", "shared", "team", "ops", "common", "test"];

pub fn iam_findings(snap: &IamSnapshot, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |severity, control, subject: &str, message: String| {
        out.push(Finding {
            severity,
            control,
            subject: subject.to_string(),
            message,
        });
    };
    if !snap.root.mfa {
        push(
            Level::Crit,
            "SER-CLOUD-005",
            "root",
            "root account has no MFA".into(),
        );
    }
    if snap.root.access_keys > 0 {
        push(
            Level::Crit,
            "SER-CLOUD-005",
            "root",
            "root account has access keys".into(),
        );
    }
    match &snap.password_policy {
        None => push(
            Level::Warn,
            "SER-CLOUD-005",
            "account",
            "no password policy".into(),
        ),
        Some(p) if p.min_length < 12 || !p.require_symbols => push(
            Level::Warn,
            "SER-CLOUD-005",
            "account",
            format!("weak password policy (min length {})", p.min_length),
        ),
        Some(_) => {}
    }
    for u in &snap.users {
        if u.console_access && u.mfa == Mfa::None {
            push(
                Level::Crit,
                "SER-CLOUD-005",
                &u.name,
                "console access without MFA".into(),
            );
        }
        if let Some(key) = u.oldest_active_key() {
            let days = days_between(key.created, now);
            if days > KEY_MAX_AGE_DAYS {
                push(
                    Level::Warn,
                    "SER-CLOUD-006",
                    &u.name,
                    format!(
                        "access key …{} is {days} days old (rotate after {KEY_MAX_AGE_DAYS})",
                        key.id_suffix
                    ),
                );
            }
        }
        match u.last_activity {
            Some(last) if days_between(last, now) > UNUSED_DAYS => push(
                Level::Warn,
                "SER-CLOUD-007",
                &u.name,
                format!(
                    "unused for {} days: remove or disable",
                    days_between(last, now)
                ),
            ),
            None if days_between(u.created, now) > UNUSED_DAYS => push(
                Level::Warn,
                "SER-CLOUD-007",
                &u.name,
                "never used: remove or disable".into(),
            ),
            _ => {}
        }
        if u.admin && !u.groups.iter().any(|g| g.contains("admin")) {
            push(
                Level::Warn,
                "SER-CLOUD-004",
                &u.name,
                "administrator rights attached directly to the user".into(),
            );
        }
        let lower = u.name.to_ascii_lowercase();
        if SHARED_NAMES
            .iter()
            .any(|s| lower == *s || lower.starts_with(&format!("{s}-")))
        {
            push(
                Level::Warn,
                "SER-CLOUD-004",
                &u.name,
                "looks like a shared account".into(),
            );
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.subject.cmp(&b.subject)));
    out
}

pub fn iam_summary(snap: &IamSnapshot, findings: &[Finding]) -> AreaSummary {
    let level = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Level::Ok);
    let without_mfa = snap.users.iter().filter(|u| u.mfa == Mfa::None).count();
    AreaSummary {
        area: Area::Iam,
        level,
        counts: format!(
            "{} users · {without_mfa} without MFA · {} findings",
            snap.users.len(),
            findings.len()
        ),
        worst: findings
            .first()
            .map(|f| format!("{}: {}", f.subject, f.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::iam::{AccessKey, IamUser, PasswordPolicy, RootAccount};

    const DAY: i64 = 86_400;

    fn now() -> Timestamp {
        Timestamp::from_second(400 * DAY).unwrap()
    }

    fn days_ago(d: i64) -> Timestamp {
        Timestamp::from_second(400 * DAY - d * DAY).unwrap()
    }

    fn user(name: &str) -> IamUser {
        IamUser {
            name: name.into(),
            groups: vec!["developers".into()],
            mfa: Mfa::Virtual,
            console_access: true,
            password_changed: Some(days_ago(10)),
            access_keys: vec![],
            last_activity: Some(days_ago(1)),
            admin: false,
            created: days_ago(300),
        }
    }

    fn account(users: Vec<IamUser>) -> IamSnapshot {
        IamSnapshot {
            account_id: "123456789012".into(),
            root: RootAccount {
                mfa: true,
                access_keys: 0,
                last_used: None,
            },
            password_policy: Some(PasswordPolicy {
                min_length: 14,
                require_symbols: true,
                max_age_days: Some(90),
            }),
            users,
        }
    }

    #[test]
    fn a_clean_account_has_no_findings() {
        assert_eq!(iam_findings(&account(vec![user("kim")]), now()), vec![]);
    }

    #[test]
    fn each_rule_fires_with_its_control() {
        let no_mfa = IamUser {
            mfa: Mfa::None,
            ..user("lee")
        };
        let old_key = IamUser {
            access_keys: vec![AccessKey {
                id_suffix: "7QX2".into(),
                active: true,
                created: days_ago(160),
                last_used: Some(days_ago(1)),
            }],
            ..user("park")
        };
        let unused = IamUser {
            last_activity: Some(days_ago(120)),
            ..user("choi")
        };
        let shared = user("ops-shared");
        let findings = iam_findings(&account(vec![no_mfa, old_key, unused, shared]), now());
        let got: Vec<_> = findings
            .iter()
            .map(|f| (f.subject.as_str(), f.control, f.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("lee", "SER-CLOUD-005", Level::Crit),
                ("choi", "SER-CLOUD-007", Level::Warn),
                ("ops-shared", "SER-CLOUD-004", Level::Warn),
                ("park", "SER-CLOUD-006", Level::Warn),
            ]
        );
        assert!(
            findings[3].message.contains("160 days"),
            "{}",
            findings[3].message
        );
    }
}
