use super::*;
use crate::model::iam::{AccessKey, AdminPolicy, PasswordPolicy, RootAccount, Unavailable};
use crate::model::trail::TrailEvent;

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
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        groups: vec!["developers".into()],
        mfa: Mfa::Virtual,
        console_access: true,
        password_changed: Some(days_ago(10)),
        password_last_used: Some(days_ago(1)),
        access_keys: vec![],
        last_activity: Some(days_ago(1)),
        admin: false,
        direct_policies: vec![],
        administrator_access: vec![],
        created: days_ago(300),
    }
}

fn key(suffix: &str, created: i64, used: Option<i64>) -> AccessKey {
    AccessKey {
        id_suffix: suffix.into(),
        slot: 1,
        active: true,
        created: days_ago(created),
        last_used: used.map(days_ago),
    }
}

fn account(users: Vec<IamUser>) -> IamSnapshot {
    IamSnapshot {
        account_id: "123456789012".into(),
        root: RootAccount {
            mfa: true,
            hardware_mfa: Some(true),
            access_keys: 0,
            last_used: Some(days_ago(200)),
        },
        password_policy: Some(PasswordPolicy {
            min_length: 14,
            require_symbols: true,
            max_age_days: Some(90),
            reuse_prevention: Some(24),
        }),
        users,
        support_roles: vec!["support".into()],
        report: ReportState::Complete {
            generated: days_ago(0),
        },
        ..IamSnapshot::default()
    }
}

fn ids(snap: &IamSnapshot, trail: &TrailSnapshot) -> Vec<(String, &'static str)> {
    let mut got: Vec<_> = super::super::iam_findings(snap, trail, now())
        .into_iter()
        .map(|f| (f.subject, f.check))
        .collect();
    got.sort();
    got
}

#[test]
fn a_clean_account_has_no_findings() {
    let snap = account(vec![
        user("kim"),
        IamUser {
            access_keys: vec![key("AAAA", 30, Some(1))],
            ..user("lee")
        },
    ]);
    assert_eq!(ids(&snap, &TrailSnapshot::default()), vec![]);
}

#[test]
fn root_rules() {
    let mut snap = account(vec![]);
    snap.root = RootAccount {
        mfa: false,
        hardware_mfa: None,
        access_keys: 1,
        last_used: Some(days_ago(3)),
    };
    let got = ids(&snap, &TrailSnapshot::default());
    assert_eq!(
        got,
        [
            ("root".to_string(), "iam_avoid_root_usage"),
            ("root".to_string(), "iam_no_root_access_key"),
            ("root".to_string(), "iam_root_mfa_enabled"),
        ]
    );
    snap.root = RootAccount {
        mfa: true,
        hardware_mfa: Some(false),
        ..RootAccount::default()
    };
    assert_eq!(
        ids(&snap, &TrailSnapshot::default()),
        [("root".to_string(), "iam_root_hardware_mfa_enabled")]
    );
}

#[test]
fn password_policy_missing_or_weak() {
    let mut snap = account(vec![]);
    snap.password_policy = None;
    let f = super::super::iam_findings(&snap, &TrailSnapshot::default(), now());
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|f| f.message == "no password policy"));
    assert_eq!(
        f[0].resource,
        "arn:aws:iam::123456789012:account-password-policy"
    );
    snap.password_policy = Some(PasswordPolicy {
        min_length: 8,
        require_symbols: false,
        max_age_days: None,
        reuse_prevention: Some(5),
    });
    let f = super::super::iam_findings(&snap, &TrailSnapshot::default(), now());
    let msgs: Vec<_> = f.iter().map(|f| (f.cis, f.message.as_str())).collect();
    assert_eq!(
        msgs,
        [
            (Some("1.7"), "passwords may be 8 characters (14 required)"),
            (Some("1.8"), "password reuse prevention 5 (24 required)"),
        ]
    );
}

#[test]
fn each_user_rule_fires_once_on_its_user() {
    let users = vec![
        IamUser {
            mfa: Mfa::None,
            ..user("no-mfa")
        },
        IamUser {
            password_last_used: Some(days_ago(60)),
            ..user("idle-console")
        },
        IamUser {
            password_last_used: None,
            password_changed: Some(days_ago(50)),
            ..user("never-signed-in")
        },
        IamUser {
            console_access: false,
            password_last_used: None,
            access_keys: vec![key("OLD1", 120, Some(2))],
            ..user("old-key")
        },
        IamUser {
            console_access: false,
            password_last_used: None,
            access_keys: vec![key("USE1", 200, Some(50)), key("NEW2", 10, Some(1))],
            ..user("two-keys")
        },
        IamUser {
            console_access: false,
            password_last_used: None,
            access_keys: vec![key("SET1", 300, None)],
            ..user("setup-key")
        },
        IamUser {
            console_access: false,
            password_last_used: None,
            access_keys: vec![key("LATE", 60, None)],
            ..user("never-used-key")
        },
        IamUser {
            groups: vec![],
            ..user("loner")
        },
        IamUser {
            direct_policies: vec!["AdministratorAccess".into()],
            administrator_access: vec!["direct".into()],
            admin: true,
            ..user("boss")
        },
        IamUser {
            administrator_access: vec!["group admins".into()],
            admin: true,
            groups: vec!["admins".into()],
            ..user("admin-by-group")
        },
        user("night-shift"),
    ];
    let mut snap = account(users);
    snap.admin_policies = vec![AdminPolicy {
        name: "AdministratorAccess".into(),
        arn: "arn:aws:iam::aws:policy/AdministratorAccess".into(),
        kind: crate::model::iam::PolicyKind::AwsManaged,
        attached_to: vec!["group/admins".into(), "user/boss".into()],
    }];
    snap.support_roles.clear();
    let signin = |ip: &str| TrailEvent {
        time: days_ago(0),
        user: "night-shift".into(),
        event_name: "ConsoleLogin".into(),
        source_ip: ip.into(),
        region: "us-east-1".into(),
        mfa_used: Some(true),
        error: None,
        id: None,
        identity_type: Some("IAMUser".into()),
    };
    let trail = TrailSnapshot {
        events: vec![
            signin("198.51.100.1"),
            signin("198.51.100.2"),
            signin("203.0.113.9"),
            signin("192.0.2.44"),
        ],
        ..TrailSnapshot::default()
    };
    let one_office = TrailSnapshot {
        events: trail.events[..2].to_vec(),
        ..TrailSnapshot::default()
    };
    assert!(
        !ids(&snap, &one_office).contains(&("night-shift".into(), "opsdeck_iam_shared_account"))
    );
    let got = ids(&snap, &trail);
    let want: Vec<(String, &str)> = [
        (
            "AdministratorAccess",
            "iam_aws_attached_policy_no_administrative_privileges",
        ),
        ("account", "iam_support_role_created"),
        ("admin-by-group", "iam_user_administrator_access_policy"),
        ("admin-by-group", "opsdeck_iam_shared_account"),
        ("boss", "iam_policy_attached_only_to_group_or_roles"),
        ("boss", "iam_user_administrator_access_policy"),
        ("idle-console", "iam_user_console_access_unused"),
        ("loner", "opsdeck_iam_user_in_no_group"),
        ("never-signed-in", "iam_user_console_access_unused"),
        ("never-used-key", "iam_user_accesskey_unused"),
        ("night-shift", "opsdeck_iam_shared_account"),
        ("no-mfa", "iam_user_mfa_enabled_console_access"),
        ("old-key", "iam_rotate_access_key_90_days"),
        ("setup-key", "iam_rotate_access_key_90_days"),
        ("setup-key", "iam_user_no_setup_initial_access_key"),
        ("two-keys", "iam_rotate_access_key_90_days"),
        ("two-keys", "iam_user_accesskey_unused"),
        ("two-keys", "iam_user_two_active_access_key"),
    ]
    .into_iter()
    .map(|(u, c)| (u.to_string(), c))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn findings_have_stable_ids_evidence_and_remediation() {
    let snap = account(vec![IamUser {
        console_access: false,
        access_keys: vec![key("7QX2", 160, Some(1))],
        ..user("park")
    }]);
    let f = super::super::iam_findings(&snap, &TrailSnapshot::default(), now());
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].id,
        "iam_rotate_access_key_90_days:arn:aws:iam::123456789012:user/park#key-7QX2"
    );
    assert_eq!((f[0].cis, f[0].control), (Some("1.13"), "SER-CLOUD-006"));
    assert!(f[0].message.contains("160 days"), "{}", f[0].message);
    assert!(f[0].evidence.contains("last_rotated"), "{}", f[0].evidence);
    assert!(f[0].remediation.contains("deactivate"));
}

#[test]
fn credential_columns_wait_for_the_report_and_a_forbidden_role_list_is_no_finding() {
    let mut snap = account(vec![IamUser {
        mfa: Mfa::None,
        ..user("lee")
    }]);
    snap.report = ReportState::Generating { attempts: 2 };
    snap.root.mfa = false;
    snap.support_roles.clear();
    snap.unavailable.push(Unavailable {
        section: "roles".into(),
        why: "AccessDenied".into(),
    });
    assert_eq!(ids(&snap, &TrailSnapshot::default()), vec![]);
}
