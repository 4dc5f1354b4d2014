//! The IAM rules (CIS section 1 and the customer's access requirements).

use super::checks::{self as c, Check};
use super::{Finding, KEY_MAX_AGE_DAYS};
use crate::model::days_between;
use crate::model::iam::{IamSnapshot, IamUser, Mfa, PolicyKind, ReportState};
use crate::model::trail::TrailSnapshot;
use jiff::Timestamp;
use std::collections::BTreeSet;

/// Credentials unused this long should be disabled (CIS 1.11).
pub const UNUSED_DAYS: i64 = 45;
/// Root used within this many days is a finding (CIS 1.6).
pub const ROOT_RECENT_DAYS: i64 = 30;
/// A key created this soon after its user was created at setup (CIS 1.10).
pub const SETUP_WINDOW_S: i64 = 3600;
/// Successful console sign-ins of one user from this many networks (/24, or /48 for IPv6)
/// within a day look like several people sharing it; one office's egress addresses are
/// one network.
pub const SHARED_LOGIN_IPS: usize = 3;

/// Words that suggest an account several people share, against [SER-CLOUD-004].
const SHARED_NAMES: [&str; 6] = ["admin", "shared", "team", "ops", "common", "test"];

fn ago(t: Timestamp, now: Timestamp) -> String {
    format!("{t} ({} days ago)", days_between(t, now))
}

pub(super) fn findings(snap: &IamSnapshot, trail: &TrailSnapshot, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    let account = format!("arn:aws:iam::{}:root", snap.account_id);
    let policy_arn = format!("arn:aws:iam::{}:account-password-policy", snap.account_id);
    // Without the credential report the per-user credential columns are not known yet:
    // judging them would report every user as "no MFA, no keys".
    let credentials_known = matches!(
        snap.report,
        ReportState::None | ReportState::Complete { .. }
    );
    let mut push = |check: &Check, resource: &str, subject: &str, msg: String, evidence: String| {
        out.push(Finding::new(check, resource, subject, msg).evidence(evidence));
    };

    if credentials_known {
        if !snap.root.mfa {
            push(
                &c::ROOT_MFA,
                &account,
                "root",
                "root user has no MFA".into(),
                "GetAccountSummary AccountMFAEnabled = 0".into(),
            );
        } else if snap.root.hardware_mfa == Some(false) {
            push(
                &c::ROOT_HARDWARE_MFA,
                &account,
                "root",
                "root MFA is a virtual device".into(),
                "ListVirtualMFADevices lists a device for the root user".into(),
            );
        }
        if snap.root.access_keys > 0 {
            push(
                &c::ROOT_KEYS,
                &account,
                "root",
                format!(
                    "root user has {} active access key(s)",
                    snap.root.access_keys
                ),
                format!(
                    "GetAccountSummary AccountAccessKeysPresent = {}",
                    snap.root.access_keys
                ),
            );
        }
        if let Some(used) = snap.root.last_used
            && days_between(used, now) < ROOT_RECENT_DAYS
        {
            push(
                &c::ROOT_USAGE,
                &account,
                "root",
                format!("root user used {} days ago", days_between(used, now)),
                format!("credential report: root password_last_used {used}"),
            );
        }
    }
    match &snap.password_policy {
        None => {
            let evidence = "GetAccountPasswordPolicy: NoSuchEntity (AWS defaults: 8 characters, reuse allowed)";
            push(
                &c::PASSWORD_LENGTH,
                &policy_arn,
                "account",
                "no password policy".into(),
                evidence.into(),
            );
            push(
                &c::PASSWORD_REUSE,
                &policy_arn,
                "account",
                "no password policy".into(),
                evidence.into(),
            );
        }
        Some(p) => {
            if p.min_length < 14 {
                push(
                    &c::PASSWORD_LENGTH,
                    &policy_arn,
                    "account",
                    format!("passwords may be {} characters (14 required)", p.min_length),
                    format!("MinimumPasswordLength = {}", p.min_length),
                );
            }
            if p.reuse_prevention.unwrap_or(0) < 24 {
                let n = p
                    .reuse_prevention
                    .map_or_else(|| "not set".into(), |n| n.to_string());
                push(
                    &c::PASSWORD_REUSE,
                    &policy_arn,
                    "account",
                    format!("password reuse prevention {n} (24 required)"),
                    format!("PasswordReusePrevention = {n}"),
                );
            }
        }
    }
    if snap.support_roles.is_empty() && snap.unavailable.iter().all(|u| u.section != "roles") {
        push(
            &c::SUPPORT_ROLE,
            "arn:aws:iam::aws:policy/AWSSupportAccess",
            "account",
            "no role holds AWSSupportAccess".into(),
            "ListEntitiesForPolicy AWSSupportAccess: no PolicyRoles".into(),
        );
    }
    for p in &snap.admin_policies {
        if p.attached_to.is_empty() {
            continue;
        }
        let check = match p.kind {
            PolicyKind::AwsManaged => &c::ADMIN_POLICY_AWS,
            PolicyKind::CustomerManaged => &c::ADMIN_POLICY_CUSTOMER,
            PolicyKind::Inline => &c::ADMIN_POLICY_INLINE,
        };
        let f = Finding::new(
            check,
            &p.arn,
            &p.name,
            format!("allows *:*, attached to {}", p.attached_to.len()),
        )
        .evidence(format!(
            "\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"; attached to {}",
            p.attached_to.join(", ")
        ));
        // An inline policy's ARN is its owner's; the name tells two of them apart.
        out.push(if p.kind == PolicyKind::Inline {
            f.qualified(&p.name)
        } else {
            f
        });
    }
    let logins = shared_logins(trail, now);
    for u in &snap.users {
        user_findings(&mut out, u, now, credentials_known);
        if let Some(ips) = logins
            .iter()
            .find(|(user, _)| user == &u.name)
            .map(|(_, ips)| ips)
        {
            out.push(
                Finding::new(
                    &c::SHARED_ACCOUNT,
                    &u.arn,
                    &u.name,
                    format!(
                        "console sign-ins from {} addresses in several networks within a day",
                        ips.len()
                    ),
                )
                .evidence(format!(
                    "CloudTrail ConsoleLogin from {}",
                    ips.iter().cloned().collect::<Vec<_>>().join(", ")
                ))
                .qualified("logins"),
            );
        }
    }
    out
}

/// The network an address is in: `198.51.100` for IPv4, the first three groups for IPv6.
fn network(ip: &str) -> String {
    let (sep, keep) = if ip.contains(':') { (':', 3) } else { ('.', 3) };
    ip.split(sep)
        .take(keep)
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

/// Users whose successful sign-ins came from many networks in the last day, with the
/// addresses seen.
fn shared_logins(trail: &TrailSnapshot, now: Timestamp) -> Vec<(String, BTreeSet<String>)> {
    let mut by_user: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for e in trail.events.iter().filter(|e| {
        e.event_name == "ConsoleLogin" && e.error.is_none() && days_between(e.time, now) < 1
    }) {
        by_user
            .entry(&e.user)
            .or_default()
            .insert(e.source_ip.clone());
    }
    by_user
        .into_iter()
        .filter(|(_, ips)| {
            ips.iter()
                .map(|ip| network(ip))
                .collect::<BTreeSet<_>>()
                .len()
                >= SHARED_LOGIN_IPS
        })
        .map(|(u, ips)| (u.to_string(), ips))
        .collect()
}

fn looks_shared(name: &str) -> bool {
    name.to_ascii_lowercase()
        .split(['-', '_', '.', '@', '+', '=', ','])
        .any(|part| SHARED_NAMES.contains(&part))
}

fn user_findings(out: &mut Vec<Finding>, u: &IamUser, now: Timestamp, credentials_known: bool) {
    let mut push = |check: &Check, msg: String, evidence: String| {
        out.push(Finding::new(check, &u.arn, &u.name, msg).evidence(evidence));
    };
    if u.groups.is_empty() {
        push(
            &c::NO_GROUP,
            "in no group".into(),
            "GroupList is empty".into(),
        );
    }
    if !u.direct_policies.is_empty() {
        push(
            &c::DIRECT_POLICY,
            format!(
                "{} polic{} attached to the user",
                u.direct_policies.len(),
                if u.direct_policies.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            ),
            format!("attached directly: {}", u.direct_policies.join(", ")),
        );
    }
    if !u.administrator_access.is_empty() {
        push(
            &c::ADMIN_HOLDER,
            "holds AdministratorAccess".into(),
            format!("AdministratorAccess: {}", u.administrator_access.join(", ")),
        );
    }
    if looks_shared(&u.name) {
        push(
            &c::SHARED_ACCOUNT,
            "looks like a shared account".into(),
            format!("user name `{}`", u.name),
        );
    }
    if !credentials_known {
        return;
    }
    if u.console_access && u.mfa == Mfa::None {
        push(
            &c::USER_MFA,
            "console access without MFA".into(),
            "credential report: password_enabled true, mfa_active false".into(),
        );
    }
    if u.console_access {
        let (unused, evidence) = match (u.password_last_used, u.password_changed) {
            (Some(used), _) => (
                days_between(used, now) >= UNUSED_DAYS,
                format!("password_last_used {}", ago(used, now)),
            ),
            (None, Some(set)) => (
                days_between(set, now) >= UNUSED_DAYS,
                format!("password never used; set {}", ago(set, now)),
            ),
            (None, None) => (
                days_between(u.created, now) >= UNUSED_DAYS,
                format!("password never used; user created {}", ago(u.created, now)),
            ),
        };
        if unused {
            push(
                &c::CONSOLE_UNUSED,
                "console password unused for 45 days or more".into(),
                evidence,
            );
        }
    }
    let active: Vec<_> = u.access_keys.iter().filter(|k| k.active).collect();
    if active.len() > 1 {
        let suffixes: Vec<String> = active.iter().map(|k| k.label()).collect();
        push(
            &c::TWO_KEYS,
            format!("{} active access keys", active.len()),
            format!("active: {}", suffixes.join(", ")),
        );
    }
    for k in active {
        let key = |check: &Check, msg: String, evidence: String| {
            Finding::new(check, &u.arn, &u.name, msg)
                .evidence(evidence)
                .qualified(&match k.id_suffix.as_str() {
                    "" => format!("key-{}", k.slot),
                    suffix => format!("key-{suffix}"),
                })
        };
        let age = days_between(k.created, now);
        if age > KEY_MAX_AGE_DAYS {
            out.push(key(
                &c::KEY_ROTATION,
                format!(
                    "access key {} is {age} days old (rotate within {KEY_MAX_AGE_DAYS})",
                    k.label()
                ),
                format!("access_key last_rotated {}", ago(k.created, now)),
            ));
        }
        let at_setup = k.created.as_second() - u.created.as_second() <= SETUP_WINDOW_S;
        match k.last_used {
            None if at_setup => out.push(key(
                &c::SETUP_KEY,
                format!(
                    "access key {} created at user setup and never used",
                    k.label()
                ),
                format!(
                    "user created {}, key created {}, last_used_date N/A",
                    u.created, k.created
                ),
            )),
            None if age >= UNUSED_DAYS => out.push(key(
                &c::KEY_UNUSED,
                format!("access key {} never used in {age} days", k.label()),
                format!("key created {}, last_used_date N/A", ago(k.created, now)),
            )),
            Some(used) if days_between(used, now) >= UNUSED_DAYS => out.push(key(
                &c::KEY_UNUSED,
                format!(
                    "access key {} unused for {} days",
                    k.label(),
                    days_between(used, now)
                ),
                format!("last_used_date {}", ago(used, now)),
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "iam_tests.rs"]
mod tests;
