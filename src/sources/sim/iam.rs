//! The AWS account's people and credentials, with the slips a security review should catch:
//! a console user without MFA, a key past rotation, a forgotten user, admin granted directly,
//! an account several people share.

use super::dice::Dice;
use super::{Sec, at};
use crate::model::iam::{
    AccessKey, AdminPolicy, IamSnapshot, IamUser, Mfa, PasswordPolicy, PolicyKind, RootAccount,
};
use crate::model::trail::TrailEvent;
use crate::ops::{OpError, Outcome};
use jiff::Timestamp;

const MIN: Sec = 60;
const HOUR: Sec = 3600;
const DAY: Sec = 86_400;

pub(crate) const ACCOUNT_ID: &str = "123456789012";
/// The CloudTrail event that started the `ci-deployer` key rotation, and when.
pub(crate) const ROTATION_AT: Sec = -130 * MIN;
/// Characters AWS access key ids are made of.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

struct Person {
    name: &'static str,
    group: &'static str,
    mfa: Mfa,
    console: bool,
    /// Days since the password changed, for console users.
    password_age: Option<Sec>,
    /// Per key: how old, and when last used.
    keys: &'static [(Sec, Option<Sec>)],
    last_activity: Sec,
    admin: bool,
    age: Sec,
}

#[rustfmt::skip]
const PEOPLE: [Person; 10] = [
    Person { name: "kim.minji", group: "admins", mfa: Mfa::Virtual, console: true, password_age: Some(41 * DAY), keys: &[], last_activity: -2 * HOUR, admin: true, age: 620 * DAY },
    Person { name: "lee.jihoon", group: "developers", mfa: Mfa::Virtual, console: true, password_age: Some(63 * DAY), keys: &[(34 * DAY, Some(-3 * HOUR))], last_activity: -3 * HOUR, admin: false, age: 410 * DAY },
    // Joined recently and never set up MFA [SER-CLOUD-005].
    Person { name: "park.seoyeon", group: "developers", mfa: Mfa::None, console: true, password_age: Some(12 * DAY), keys: &[], last_activity: -95 * MIN, admin: false, age: 75 * DAY },
    // AdministratorAccess attached to the user, not through a group [SER-CLOUD-004].
    Person { name: "choi.woojin", group: "ops", mfa: Mfa::Hardware, console: true, password_age: Some(28 * DAY), keys: &[], last_activity: -160 * MIN, admin: true, age: 530 * DAY },
    // A key well past its 90-day rotation [SER-CLOUD-006].
    Person { name: "jung.haeun", group: "developers", mfa: Mfa::Virtual, console: true, password_age: Some(77 * DAY), keys: &[(160 * DAY, Some(-DAY))], last_activity: -DAY, admin: false, age: 480 * DAY },
    // Left the project four months ago; nobody removed the user [SER-CLOUD-007].
    Person { name: "kang.donghyun", group: "developers", mfa: Mfa::Virtual, console: true, password_age: Some(190 * DAY), keys: &[], last_activity: -120 * DAY, admin: false, age: 400 * DAY },
    Person { name: "yoon.seojun", group: "data-analysts", mfa: Mfa::None, console: false, password_age: None, keys: &[(45 * DAY, Some(-5 * HOUR))], last_activity: -5 * HOUR, admin: false, age: 220 * DAY },
    Person { name: "han.yuna", group: "security-auditors", mfa: Mfa::Hardware, console: true, password_age: Some(20 * DAY), keys: &[], last_activity: -DAY, admin: false, age: 300 * DAY },
    // Mid-rotation: the new key exists, the pipeline still uses the old one.
    Person { name: "ci-deployer", group: "ci", mfa: Mfa::None, console: false, password_age: None, keys: &[(60 * DAY, Some(-10 * MIN)), (-ROTATION_AT, None)], last_activity: -10 * MIN, admin: false, age: 700 * DAY },
    // One login for the night shift [SER-CLOUD-004].
    Person { name: "ops-shared", group: "ops", mfa: Mfa::Virtual, console: true, password_age: Some(200 * DAY), keys: &[], last_activity: -6 * HOUR, admin: false, age: 650 * DAY },
];

/// Names of the users who do things day to day, for the trail to pick from.
pub(crate) const ACTIVE: [&str; 7] = [
    "kim.minji",
    "lee.jihoon",
    "park.seoyeon",
    "choi.woojin",
    "jung.haeun",
    "yoon.seojun",
    "han.yuna",
];

pub(crate) fn build(seed: u64, start: Timestamp) -> IamSnapshot {
    let mut dice = Dice::new(seed, 4);
    let users = PEOPLE
        .iter()
        .map(|p| IamUser {
            name: p.name.into(),
            arn: user_arn(p.name),
            groups: vec![p.group.into()],
            mfa: p.mfa,
            console_access: p.console,
            password_changed: p.password_age.map(|age| at(start, -age)),
            password_last_used: p.console.then(|| at(start, p.last_activity)),
            access_keys: p
                .keys
                .iter()
                .zip(1..)
                .map(|(&(age, used), slot)| AccessKey {
                    id_suffix: dice.token(KEY_ALPHABET, 4),
                    slot,
                    active: true,
                    created: at(start, -age),
                    last_used: used.map(|u| at(start, u)),
                })
                .collect(),
            last_activity: Some(at(start, p.last_activity)),
            admin: p.admin,
            direct_policies: direct_admin(p).into_iter().collect(),
            administrator_access: administrator_access(p),
            created: at(start, -p.age),
        })
        .collect();
    let holders = PEOPLE
        .iter()
        .filter_map(|p| direct_admin(p).map(|_| format!("user/{}", p.name)));
    IamSnapshot {
        account_id: ACCOUNT_ID.into(),
        root: RootAccount {
            mfa: true,
            hardware_mfa: Some(true),
            access_keys: 0,
            last_used: Some(at(start, -47 * DAY)),
        },
        password_policy: Some(PasswordPolicy {
            min_length: 14,
            require_symbols: true,
            max_age_days: Some(90),
            reuse_prevention: Some(24),
        }),
        users,
        admin_policies: vec![AdminPolicy {
            name: "AdministratorAccess".into(),
            arn: ADMINISTRATOR_ACCESS.into(),
            kind: PolicyKind::AwsManaged,
            attached_to: std::iter::once(format!("group/{ADMIN_GROUP}"))
                .chain(holders)
                .collect(),
        }],
        support_roles: vec!["aws-support".into()],
        ..IamSnapshot::default()
    }
}

const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
/// The group that holds AdministratorAccess.
const ADMIN_GROUP: &str = "admins";

fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user/{name}")
}

/// Administrators outside the admin group got AdministratorAccess attached to themselves.
fn direct_admin(p: &Person) -> Option<String> {
    (p.admin && p.group != ADMIN_GROUP).then(|| "AdministratorAccess".to_string())
}

fn administrator_access(p: &Person) -> Vec<String> {
    match (p.admin, p.group == ADMIN_GROUP) {
        (false, _) => vec![],
        (true, true) => vec![format!("group {ADMIN_GROUP}")],
        (true, false) => vec!["direct".into()],
    }
}

/// What a successful API call tells IAM: the user was active, and so was the key used.
pub(crate) fn touch(iam: &mut IamSnapshot, event: &TrailEvent) {
    if event.error.is_some() {
        return;
    }
    let Some(user) = iam.users.iter_mut().find(|u| u.name == event.user) else {
        return;
    };
    if user.last_activity.is_none_or(|last| last < event.time) {
        user.last_activity = Some(event.time);
    }
    if event.event_name != "ConsoleLogin" {
        let oldest = user
            .access_keys
            .iter_mut()
            .filter(|k| k.active)
            .min_by_key(|k| k.created);
        if let Some(key) = oldest
            && key.last_used.is_none_or(|last| last < event.time)
        {
            key.last_used = Some(event.time);
        }
    }
}

/// The key a leak is about: the user's oldest active one, the most widely copied.
pub(crate) fn leak_target(iam: &IamSnapshot, user: &str) -> Result<String, String> {
    let u = iam
        .users
        .iter()
        .find(|u| u.name == user)
        .ok_or_else(|| format!("no IAM user `{user}` in the drill account"))?;
    u.oldest_active_key()
        .map(|k| k.id_suffix.clone())
        .ok_or_else(|| format!("{user} has no active access key to leak"))
}

pub(crate) fn key_active(iam: &IamSnapshot, user: &str, suffix: &str) -> bool {
    iam.users
        .iter()
        .filter(|u| u.name == user)
        .flat_map(|u| &u.access_keys)
        .any(|k| k.id_suffix == suffix && k.active)
}

pub(crate) fn key_count(iam: &IamSnapshot, user: &str) -> usize {
    iam.users
        .iter()
        .find(|u| u.name == user)
        .map_or(0, |u| u.access_keys.len())
}

/// What an intruder's successful call changes in IAM beyond "last used".
pub(crate) fn intruded(iam: &mut IamSnapshot, event: &TrailEvent, new_key: Option<String>) {
    if event.error.is_some() {
        return;
    }
    let Some(u) = iam.users.iter_mut().find(|u| u.name == event.user) else {
        return;
    };
    match (event.event_name.as_str(), new_key) {
        ("CreateAccessKey", Some(id_suffix)) => u.access_keys.push(AccessKey {
            id_suffix,
            slot: u.access_keys.len() as u8 + 1,
            active: true,
            created: event.time,
            last_used: None,
        }),
        // AdministratorAccess, straight onto the user.
        ("AttachUserPolicy", _) => {
            u.admin = true;
            if !u.direct_policies.iter().any(|p| p == "AdministratorAccess") {
                u.direct_policies.push("AdministratorAccess".into());
                u.administrator_access.push("direct".into());
                let holder = format!("user/{}", u.name);
                for p in &mut iam.admin_policies {
                    if p.arn == ADMINISTRATOR_ACCESS && !p.attached_to.contains(&holder) {
                        p.attached_to.push(holder.clone());
                    }
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn deactivate(
    iam: &mut IamSnapshot,
    user: &str,
    suffix: &str,
) -> Result<Outcome, OpError> {
    let u = iam
        .users
        .iter_mut()
        .find(|u| u.name == user)
        .ok_or_else(|| OpError::NotFound(format!("no IAM user `{user}`")))?;
    let k = u
        .access_keys
        .iter_mut()
        .find(|k| k.id_suffix == suffix)
        .ok_or_else(|| OpError::NotFound(format!("{user} has no access key …{suffix}")))?;
    let summary = if k.active {
        k.active = false;
        format!("access key …{suffix} of {user} is now Inactive")
    } else {
        format!("access key …{suffix} of {user} was already Inactive")
    };
    Ok(Outcome {
        summary,
        calls: vec![format!(
            "iam UpdateAccessKey UserName={user} AccessKeyId=AKIA…{suffix} Status=Inactive"
        )],
    })
}

fn user_mut<'a>(iam: &'a mut IamSnapshot, user: &str) -> Result<&'a mut IamUser, OpError> {
    iam.users
        .iter_mut()
        .find(|u| u.name == user)
        .ok_or_else(|| OpError::NotFound(format!("no IAM user `{user}`")))
}

pub(crate) fn reactivate(
    iam: &mut IamSnapshot,
    user: &str,
    suffix: &str,
) -> Result<Outcome, OpError> {
    let k = user_mut(iam, user)?
        .access_keys
        .iter_mut()
        .find(|k| k.id_suffix == suffix)
        .ok_or_else(|| OpError::NotFound(format!("{user} has no access key …{suffix}")))?;
    k.active = true;
    Ok(Outcome {
        summary: format!("access key …{suffix} of {user} is Active again"),
        calls: vec![format!(
            "iam UpdateAccessKey UserName={user} AccessKeyId=AKIA…{suffix} Status=Active"
        )],
    })
}

pub(crate) fn delete_login(iam: &mut IamSnapshot, user: &str) -> Result<Outcome, OpError> {
    let u = user_mut(iam, user)?;
    let had = std::mem::replace(&mut u.console_access, false);
    Ok(Outcome {
        summary: if had {
            format!("{user} has no console password any more")
        } else {
            format!("{user} had no console password")
        },
        calls: vec![format!("iam DeleteLoginProfile UserName={user}")],
    })
}

pub(crate) fn deny_all(iam: &IamSnapshot, user: &str) -> Result<Outcome, OpError> {
    if !iam.users.iter().any(|u| u.name == user) {
        return Err(OpError::NotFound(format!("no IAM user `{user}`")));
    }
    Ok(Outcome {
        summary: format!("{user} is denied every action"),
        calls: vec![format!(
            "iam PutUserPolicy UserName={user} PolicyName={} (Deny * on *)",
            crate::ops::DENY_ALL_POLICY
        )],
    })
}

/// What a key did, as a step's result and output lines.
pub(crate) fn activity(user: &str, suffix: &str, hours: u32, events: &[TrailEvent]) -> Outcome {
    let (summary, calls) = crate::model::trail::key_activity(user, suffix, hours, events);
    Outcome { summary, calls }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::iam_findings;

    #[test]
    fn the_review_finds_each_planted_slip() {
        let start: Timestamp = "2025-11-22T01:00:00Z".parse().unwrap();
        let iam = build(1, start);
        let findings = iam_findings(&iam, &Default::default(), start);
        let mut got: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.subject.as_str(), f.check))
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [
                (
                    "AdministratorAccess",
                    "iam_aws_attached_policy_no_administrative_privileges"
                ),
                ("choi.woojin", "iam_policy_attached_only_to_group_or_roles"),
                ("choi.woojin", "iam_user_administrator_access_policy"),
                ("ci-deployer", "iam_user_two_active_access_key"),
                ("jung.haeun", "iam_rotate_access_key_90_days"),
                ("kang.donghyun", "iam_user_console_access_unused"),
                ("kim.minji", "iam_user_administrator_access_policy"),
                ("ops-shared", "opsdeck_iam_shared_account"),
                ("park.seoyeon", "iam_user_mfa_enabled_console_access"),
            ]
        );
        assert!(
            iam.users
                .iter()
                .flat_map(|u| &u.access_keys)
                .all(|k| k.id_suffix.len() == 4)
        );
    }
}
