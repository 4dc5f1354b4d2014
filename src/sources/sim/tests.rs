//! World-level checks: determinism, the facts the drills rely on, and that the world moves.

use super::*;
use crate::audit::iam_findings;
use crate::model::Level;
use crate::model::alarm::{AlarmState, Severity};
use crate::model::cluster::PodPhase;
use crate::model::db::Role;
use crate::model::waf::RuleKind;
use std::collections::HashSet;

fn start() -> Timestamp {
    "2025-11-22T01:00:00Z".parse().unwrap()
}

fn world() -> World {
    World::new(42, start())
}

#[derive(Debug, PartialEq)]
struct All {
    now: Timestamp,
    cluster: ClusterSnapshot,
    db: DbSnapshot,
    waf: WafSnapshot,
    alarms: AlarmSnapshot,
    iam: IamSnapshot,
    trail: TrailSnapshot,
}

fn all(w: &World) -> All {
    All {
        now: w.now(),
        cluster: w.cluster(),
        db: w.db(),
        waf: w.waf(),
        alarms: w.alarms(),
        iam: w.iam(),
        trail: w.trail(),
    }
}

/// Documentation address ranges (RFC 5737): the only client addresses the drill may show.
fn documentation_ip(ip: &str) -> bool {
    ["198.51.100.", "203.0.113.", "192.0.2."]
        .iter()
        .any(|p| ip.starts_with(p))
}

#[test]
fn same_seed_same_world_however_time_is_chunked() {
    let (mut a, mut b, mut c) = (world(), world(), world());
    assert_eq!(all(&a), all(&b));
    a.step(600);
    for _ in 0..600 {
        b.step(1);
    }
    for chunk in [7, 0, 93, 250, 1, 249] {
        c.step(chunk);
    }
    assert_eq!(all(&a), all(&b));
    assert_eq!(all(&a), all(&c));
    assert_eq!(a.now(), at(start(), 600));
}

#[test]
fn another_seed_another_world() {
    let (a, b) = (World::new(1, start()), World::new(2, start()));
    assert_ne!(a.cluster().pods, b.cluster().pods);
    assert_ne!(a.waf().rates, b.waf().rates);
    assert_ne!(a.trail().events, b.trail().events);
}

#[test]
fn cluster_is_the_malls() {
    let snap = world().cluster();
    assert_eq!(snap.context, "shop-eks-drill");
    assert!(snap.nodes.len() >= 3);
    let zones: HashSet<_> = snap.nodes.iter().map(|n| n.zone.as_str()).collect();
    assert_eq!(zones, HashSet::from(["ap-northeast-2a", "ap-northeast-2c"]));
    let namespaces: HashSet<_> = snap.pods.iter().map(|p| p.namespace.as_str()).collect();
    assert_eq!(
        namespaces,
        HashSet::from(["shop", "db", "monitoring", "kube-system"])
    );
    for d in [
        "shop/user",
        "shop/admin",
        "shop/proxysql",
        "monitoring/prometheus",
        "monitoring/grafana",
        "kube-system/coredns",
        "kube-system/karpenter",
    ] {
        assert!(
            snap.deployments
                .iter()
                .any(|r| format!("{}/{}", r.namespace, r.name) == d),
            "{d}"
        );
    }
    let hpa = |name: &str| snap.hpas.iter().find(|h| h.name == name).unwrap();
    let (user, admin) = (hpa("user"), hpa("admin"));
    assert_eq!((user.min, user.max), (3, 10));
    assert_eq!((admin.min, admin.max), (2, 4));
    assert!(user.metrics.iter().all(|m| m.target_pct == 50) && user.metrics.len() == 2);
    assert!(admin.metrics.iter().all(|m| m.target_pct == 70));
    let budgets: Vec<_> = snap
        .pdbs
        .iter()
        .map(|p| (p.name.as_str(), p.budget.as_str()))
        .collect();
    assert!(budgets.contains(&("user-pdb", "minAvailable: 2")));
    assert!(budgets.contains(&("admin-pdb", "minAvailable: 1")));
    assert!(budgets.contains(&("mariadb-pdb", "maxUnavailable: 1")));
    let db_pods: Vec<_> = snap
        .pods
        .iter()
        .filter(|p| p.namespace == "db")
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(db_pods, ["mariadb-0", "mariadb-1", "mariadb-2"]);
    let user_pod = snap
        .pods
        .iter()
        .find(|p| p.name.starts_with("user-"))
        .unwrap();
    let parts: Vec<_> = user_pod.name.split('-').collect();
    assert!(
        parts.len() == 3 && (9..=10).contains(&parts[1].len()) && parts[2].len() == 5,
        "{}",
        user_pod.name
    );
    let reasons: HashSet<_> = snap.events.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons.is_superset(&HashSet::from(["BackOff", "Unhealthy", "FailedScheduling"])));
    assert!(
        snap.events
            .windows(2)
            .all(|w| w[0].last_seen >= w[1].last_seen)
    );
}

#[test]
fn database_has_a_primary_and_two_following_replicas() {
    let snap = world().db();
    assert_eq!(snap.clusters.len(), 1);
    let c = &snap.clusters[0];
    assert_eq!(c.name, "shop-mariadb");
    assert_eq!(
        c.router.as_deref(),
        Some("ProxySQL writer hostgroup 10 → mariadb-0")
    );
    let roles: Vec<_> = c
        .members
        .iter()
        .map(|m| (m.name.as_str(), m.role, m.read_only))
        .collect();
    assert_eq!(
        roles,
        [
            ("mariadb-0", Role::Primary, Some(false)),
            ("mariadb-1", Role::Replica, Some(true)),
            ("mariadb-2", Role::Replica, Some(true))
        ]
    );
    assert_eq!(c.members[0].endpoint, "mariadb-0.mariadb.db.svc:3306");
    assert!(
        c.members
            .iter()
            .all(|m| m.status(c.lag_threshold_s).0 == Level::Ok)
    );
}

#[test]
fn waf_has_the_acl_and_no_surge_at_baseline() {
    let mut w = world();
    let snap = w.waf();
    let acl = &snap.acls[0];
    assert_eq!(
        (
            acl.name.as_str(),
            acl.scope.as_str(),
            acl.default_action.as_str()
        ),
        ("shop-web-acl", "REGIONAL", "Allow")
    );
    let rate = acl
        .rules
        .iter()
        .find(|r| r.name == "rate-limit-100")
        .unwrap();
    assert_eq!(
        rate.kind,
        RuleKind::RateBased {
            limit: 100,
            window_s: 60,
            key: "IP".into()
        }
    );
    assert_eq!(rate.action, "Block");
    for group in [
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
    ] {
        assert!(acl.rules.iter().any(|r| r.kind
            == RuleKind::Managed {
                vendor: "AWS".into(),
                group: group.into(),
                version: None,
                excluded: vec![]
            }));
    }
    assert!(
        acl.rules
            .iter()
            .any(|r| r.name == "blocked-ips" && matches!(r.kind, RuleKind::IpSet { .. }))
    );
    assert_eq!(snap.rates.len(), 60);
    assert!(snap.top_ips.iter().all(|c| documentation_ip(&c.key)));
    assert!(!snap.top_rules.is_empty());
    for _ in 0..120 {
        w.step(60);
        let snap = w.waf();
        assert_eq!(snap.surge(), None);
        assert!(
            snap.recent_blocked
                .iter()
                .all(|b| documentation_ip(&b.client_ip))
        );
        assert!(
            snap.recent_blocked
                .windows(2)
                .all(|p| p[0].time >= p[1].time)
        );
    }
}

#[test]
fn one_warning_fires_at_the_start_and_the_rest_are_quiet() {
    let w = world();
    let snap = w.alarms();
    assert!((8..=10).contains(&snap.alarms.len()));
    let firing: Vec<_> = snap.firing().collect();
    assert_eq!(firing.len(), 1, "{firing:#?}");
    assert_eq!(firing[0].severity, Severity::Warning);
    assert!(
        firing[0].reason.contains("restarts in 10 min"),
        "{}",
        firing[0].reason
    );
    assert!(firing[0].since < w.now());
    let mut sorted = snap.clone();
    sorted.sort();
    assert_eq!(sorted, snap);
}

#[test]
fn the_review_finds_the_planted_iam_slips() {
    let mut w = world();
    w.step(1800);
    let findings = iam_findings(&w.iam(), &w.trail(), w.now());
    for control in [
        "SER-CLOUD-005",
        "SER-CLOUD-006",
        "SER-CLOUD-007",
        "SER-CLOUD-004",
    ] {
        assert!(
            findings.iter().any(|f| f.control == control),
            "{control}: {findings:#?}"
        );
    }
    let iam = w.iam();
    assert_eq!(iam.account_id, "123456789012");
    assert!(iam.root.mfa && iam.root.access_keys == 0);
    assert!(
        iam.users
            .iter()
            .any(|u| u.name == "ci-deployer" && !u.console_access && !u.access_keys.is_empty())
    );
}

#[test]
fn trail_is_on_and_shows_the_risky_events() {
    let snap = world().trail();
    assert!(snap.trails[0].problems().is_empty());
    assert!(snap.events.iter().all(|e| documentation_ip(&e.source_ip)));
    let names: HashSet<_> = snap
        .events
        .iter()
        .filter(|e| e.risk().is_some())
        .map(|e| e.event_name.as_str())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["ConsoleLogin", "CreateAccessKey", "AttachUserPolicy"])
    );
}

#[test]
fn the_world_is_alive() {
    let mut w = world();
    let before = all(&w);
    w.step(600);
    let after = all(&w);
    assert_ne!(before.waf.rates, after.waf.rates);
    assert_ne!(
        before.db.clusters[0].members[0].position,
        after.db.clusters[0].members[0].position
    );
    assert_ne!(before.trail.events.len(), after.trail.events.len());
    let restarts = |s: &ClusterSnapshot| s.pods.iter().map(|p| p.restarts).sum::<u32>();
    assert!(restarts(&after.cluster) > restarts(&before.cluster));
}

#[test]
fn over_a_day_things_come_and_go_within_bounds() {
    let mut w = world();
    let mut user_replicas = HashSet::new();
    let mut restart_alarm = HashSet::new();
    let mut crashloops = 0;
    for _ in 0..(24 * 60) {
        w.step(60);
        let cluster = w.cluster();
        let hpa = cluster.hpas.iter().find(|h| h.name == "user").unwrap();
        assert!((hpa.min..=hpa.max).contains(&hpa.desired));
        user_replicas.insert(hpa.desired);
        crashloops += cluster
            .pods
            .iter()
            .filter(|p| p.waiting_reason.as_deref() == Some("CrashLoopBackOff"))
            .count();
        assert!(cluster.pods.iter().all(|p| p.phase != PodPhase::Failed));
        let alarms = w.alarms();
        for a in &alarms.alarms {
            if a.name == "KubePodRestartsHigh" {
                restart_alarm.insert((a.state.word(), a.since));
            } else {
                assert_eq!(a.state, AlarmState::Ok, "{a:#?}");
            }
        }
    }
    assert!(
        user_replicas.len() >= 2,
        "HPA replicas never moved: {user_replicas:?}"
    );
    assert!(crashloops > 0);
    let fired = restart_alarm.iter().filter(|(s, _)| *s == "ALARM").count();
    assert!(
        fired >= 2,
        "restart alarm should resolve and fire again: {restart_alarm:?}"
    );
}
