//! Every fault: injected, seen in the snapshots and the alarms, fixed through `SimOps` the
//! way a playbook would, and the world healthy again.

use super::*;
use crate::model::Feed;
use crate::model::alarm::{AlarmState, Severity};
use crate::model::cluster::{PodPhase, Rollout};
use crate::ops::{Mode, Op, Ops, Outcome};
use crate::playbook::condition::Condition;
use crate::sources::Snapshots;
use std::sync::{Arc, Mutex};

const CLUSTER: &str = "shop-mariadb";
const ZONE_A: &str = "ap-northeast-2a";

fn start() -> Timestamp {
    "2025-11-22T01:00:00Z".parse().unwrap()
}

fn shared() -> (Arc<Mutex<World>>, SimOps) {
    let world = Arc::new(Mutex::new(World::new(42, start())));
    let ops = SimOps::new(world.clone());
    (world, ops)
}

fn step(world: &Arc<Mutex<World>>, secs: u32) {
    world.lock().unwrap().step(secs);
}

fn inject(world: &Arc<Mutex<World>>, fault: Fault) {
    world.lock().unwrap().inject(&fault).unwrap();
}

pub(super) fn snapshots(w: &World) -> Snapshots {
    fn feed<T>(data: T) -> Arc<Feed<T>> {
        Arc::new(Feed {
            data,
            health: Default::default(),
        })
    }
    Snapshots {
        cluster: feed(w.cluster()),
        db: feed(w.db()),
        waf: feed(w.waf()),
        alarms: feed(w.alarms()),
        iam: feed(w.iam()),
        trail: feed(w.trail()),
        backups: feed(w.backups()),
        regions: feed(w.regions()),
    }
}

fn check(world: &Arc<Mutex<World>>, c: &Condition) -> Result<(), String> {
    let w = world.lock().unwrap();
    c.eval(&snapshots(&w)).map(|_| ())
}

fn holds(world: &Arc<Mutex<World>>, c: Condition) {
    if let Err(why) = check(world, &c) {
        panic!("{} does not hold: {why}", c.describe());
    }
}

fn fails(world: &Arc<Mutex<World>>, c: Condition) {
    assert!(check(world, &c).is_err(), "{} holds", c.describe());
}

fn alarm(world: &Arc<Mutex<World>>, name: &str) -> (AlarmState, Severity) {
    let w = world.lock().unwrap();
    let snap = w.alarms();
    let a = snap
        .alarms
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no alarm {name} in {:#?}", snap.alarms));
    (a.state, a.severity)
}

fn alarm_ok(name: &str) -> Condition {
    Condition::AlarmOk { name: name.into() }
}

fn deployment_ready(name: &str) -> Condition {
    Condition::DeploymentReady {
        namespace: "shop".into(),
        deployment: name.into(),
    }
}

async fn run(ops: &SimOps, op: Op) -> Outcome {
    match ops.apply(&op, Mode::Apply).await {
        Ok(out) => out,
        Err(e) => panic!("{op}: {e}"),
    }
}

#[tokio::test]
async fn primary_down_then_failover() {
    let (world, ops) = shared();
    inject(
        &world,
        Fault::PrimaryDown {
            cluster: CLUSTER.into(),
        },
    );
    step(&world, 1);
    let db = world.lock().unwrap().db();
    let c = &db.clusters[0];
    let dead = &c.members[0];
    assert!(!dead.reachable && dead.position.is_none());
    assert_eq!(
        dead.last_error.as_deref(),
        Some("Can't connect to MySQL server on 'mariadb-0.mariadb.db.svc' (111)")
    );
    for r in &c.members[1..] {
        assert_eq!((r.io_running, r.lag_seconds), (Some(false), None));
        assert_eq!(
            r.last_error.as_deref(),
            Some(
                "error reconnecting to master 'repl@mariadb-0.mariadb.db.svc:3306' - \
                 retry-time: 60 retries: 86400"
            )
        );
    }
    assert_ne!(c.members[1].position, c.members[2].position);
    step(&world, 59);
    assert_eq!(
        alarm(&world, "MariaDBPrimaryDown"),
        (AlarmState::Alarm, Severity::Critical)
    );
    let frozen = world.lock().unwrap().db().clusters[0].members.clone();
    step(&world, 400);
    assert_eq!(
        world.lock().unwrap().db().clusters[0].members,
        frozen,
        "no writes, no progress"
    );
    assert_eq!(alarm(&world, "shop-alb-5xx-rate-high").0, AlarmState::Alarm);
    fails(
        &world,
        Condition::ReplicasFollowing {
            cluster: CLUSTER.into(),
        },
    );

    // The failover playbook: pick, fence, promote, re-point, verify.
    let pick = {
        let w = world.lock().unwrap();
        Condition::BestReplica {
            cluster: CLUSTER.into(),
            candidate: "auto".into(),
            max_lag_s: 5.0,
        }
        .eval(&snapshots(&w))
        .unwrap()
    };
    let (best, old) = (pick["member"].clone(), pick["old_primary"].clone());
    assert_eq!(old, "mariadb-0");
    let fenced = run(
        &ops,
        Op::Fence {
            cluster: CLUSTER.into(),
            member: old.clone(),
        },
    )
    .await;
    assert_eq!(fenced.summary, "mariadb-0 is unreachable: nothing to fence");
    holds(
        &world,
        Condition::PrimaryFenced {
            cluster: CLUSTER.into(),
            member: old,
        },
    );
    let promoted = run(
        &ops,
        Op::Promote {
            cluster: CLUSTER.into(),
            member: best.clone(),
        },
    )
    .await;
    assert!(
        !promoted.summary.contains("lost"),
        "the best replica is the most advanced: {}",
        promoted.summary
    );
    let router = world.lock().unwrap().db().clusters[0].router.clone();
    assert_eq!(
        router.as_deref(),
        Some(format!("ProxySQL writer hostgroup 10 → {best}").as_str())
    );
    run(
        &ops,
        Op::Repoint {
            cluster: CLUSTER.into(),
            primary: best.clone(),
        },
    )
    .await;
    let verified = run(
        &ops,
        Op::VerifyReplication {
            cluster: CLUSTER.into(),
        },
    )
    .await;
    assert!(verified.summary.contains("seen on"), "{}", verified.summary);
    step(&world, 120);
    holds(
        &world,
        Condition::All(vec![
            Condition::WritablePrimary {
                cluster: CLUSTER.into(),
            },
            Condition::ReplicasFollowing {
                cluster: CLUSTER.into(),
            },
            alarm_ok("MariaDBPrimaryDown"),
            alarm_ok("MariaDBReplicationLag"),
            alarm_ok("shop-alb-5xx-rate-high"),
        ]),
    );
    let db = world.lock().unwrap().db();
    let c = &db.clusters[0];
    assert!(!c.members[0].reachable, "the old primary stays down");
    let primary = c.members.iter().find(|m| m.name == best).unwrap();
    let server = best.trim_start_matches("mariadb-").parse::<u32>().unwrap() + 1;
    assert!(
        primary
            .position
            .as_deref()
            .unwrap()
            .starts_with(&format!("0-{server}-")),
        "writes resume under the new primary's server_id: {:?}",
        primary.position
    );
}

#[tokio::test]
async fn traffic_spike_then_raise_the_hpa_max() {
    let (world, ops) = shared();
    inject(
        &world,
        Fault::TrafficSpike {
            deployment: "user".into(),
            factor: 8.0,
        },
    );
    step(&world, 900);
    let hpa = Condition::HpaNotAtMax {
        namespace: "shop".into(),
        hpa: "user".into(),
    };
    fails(&world, hpa.clone());
    assert_eq!(
        alarm(&world, "shop-user-hpa-at-max"),
        (AlarmState::Alarm, Severity::Warning)
    );
    assert_eq!(
        alarm(&world, "shop-alb-response-time-high").0,
        AlarmState::Alarm
    );

    let out = run(
        &ops,
        Op::SetHpaBounds {
            namespace: "shop".into(),
            hpa: "user".into(),
            min: None,
            max: Some(30),
            context: None,
        },
    )
    .await;
    assert!(out.summary.contains("max 10→30"), "{}", out.summary);
    step(&world, 600);
    holds(
        &world,
        Condition::All(vec![
            hpa,
            deployment_ready("user"),
            alarm_ok("shop-user-hpa-at-max"),
            alarm_ok("shop-alb-response-time-high"),
        ]),
    );
    let w = world.lock().unwrap();
    let cluster = w.cluster();
    assert!(
        cluster.nodes.len() > 4,
        "Karpenter added room for the new pods"
    );
    let user = cluster.hpas.iter().find(|h| h.name == "user").unwrap();
    assert!(user.desired > 10 && user.desired < 30, "{user:?}");
}

#[tokio::test]
async fn bad_deploy_then_roll_back() {
    let (world, ops) = shared();
    inject(
        &world,
        Fault::BadDeploy {
            deployment: "user".into(),
            error_pct: 30.0,
        },
    );
    let user = |world: &Arc<Mutex<World>>| {
        let w = world.lock().unwrap();
        w.cluster()
            .deployments
            .into_iter()
            .find(|d| d.name == "user")
            .unwrap()
    };
    let rolled = user(&world);
    assert_eq!(rolled.revision, 15);
    assert!(
        rolled.image.ends_with("/shop/user:1.14.3"),
        "{}",
        rolled.image
    );
    assert_eq!(rolled.rollout, Rollout::Progressing);
    step(&world, 600);
    assert_eq!(alarm(&world, "shop-alb-5xx-rate-high").0, AlarmState::Alarm);
    let restarted = world
        .lock()
        .unwrap()
        .cluster()
        .pods
        .iter()
        .filter(|p| p.name.starts_with("user-") && p.restarts > 0)
        .count();
    assert!(restarted > 0, "some pods of the bad build crash");

    let out = run(
        &ops,
        Op::Rollback {
            namespace: "shop".into(),
            deployment: "user".into(),
            revision: None,
        },
    )
    .await;
    assert!(out.summary.contains("revision 14"), "{}", out.summary);
    step(&world, 300);
    holds(
        &world,
        Condition::All(vec![
            deployment_ready("user"),
            alarm_ok("shop-alb-5xx-rate-high"),
        ]),
    );
    let back = user(&world);
    assert_eq!(
        back.revision, 16,
        "undo makes the old template the newest revision"
    );
    assert!(back.image.ends_with("/shop/user:1.14.2"));
    let w = world.lock().unwrap();
    assert!(
        w.cluster()
            .pods
            .iter()
            .filter(|p| p.name.starts_with("user-"))
            .all(|p| p.restarts == 0),
        "the bad build's pods are gone"
    );
}

#[tokio::test]
async fn waf_flood_then_block_the_addresses() {
    let (world, ops) = shared();
    let flood = ["203.0.113.200", "198.51.100.66"];
    inject(
        &world,
        Fault::WafFlood {
            ips: flood.iter().map(|s| s.to_string()).collect(),
            per_min: 1200,
        },
    );
    step(&world, 150);
    let waf = world.lock().unwrap().waf();
    assert!(waf.surge().is_some());
    assert!(
        flood.contains(&waf.top_ips[0].key.as_str()),
        "{:?}",
        waf.top_ips
    );
    assert!(
        waf.recent_blocked
            .iter()
            .any(|b| flood.contains(&b.client_ip.as_str()))
    );
    fails(&world, Condition::WafCalm {});
    assert_eq!(
        alarm(&world, "shop-waf-blocked-requests-surge").0,
        AlarmState::Alarm
    );

    let first = run(
        &ops,
        Op::BlockIp {
            acl: "shop-web-acl".into(),
            ip: flood[0].into(),
        },
    )
    .await;
    assert!(first.summary.contains("blocked-ips"), "{}", first.summary);
    // Half blocked is not enough: the other address keeps the surge going.
    step(&world, 180);
    fails(&world, Condition::WafCalm {});
    run(
        &ops,
        Op::BlockIp {
            acl: "shop-web-acl".into(),
            ip: format!("{}/32", flood[1]),
        },
    )
    .await;
    step(&world, 180);
    holds(
        &world,
        Condition::All(vec![
            Condition::WafCalm {},
            alarm_ok("shop-waf-blocked-requests-surge"),
        ]),
    );
    let waf = world.lock().unwrap().waf();
    assert!(
        waf.recent_blocked
            .iter()
            .filter(|b| flood.contains(&b.client_ip.as_str()))
            .all(|b| b.rule == "blocked-ips"),
        "what still trickles in stops at the IP set"
    );

    // The rollback: unblocked, the address's flood reaches the managed rules again.
    let undone = run(
        &ops,
        Op::UnblockIp {
            acl: "shop-web-acl".into(),
            ip: flood[1].into(),
        },
    )
    .await;
    assert!(
        undone
            .summary
            .starts_with(&format!("removed {}/32 from", flood[1])),
        "{}",
        undone.summary
    );
    step(&world, 180);
    fails(&world, Condition::WafCalm {});
}

/// One block with a CIDR and an address list ends a flood from every address it covers, and
/// the unblock of the same text puts the set back as it was.
#[tokio::test]
async fn one_block_of_a_cidr_and_a_list_stops_every_covered_address() {
    let (world, ops) = shared();
    let flood = ["203.0.113.200", "203.0.113.201", "198.51.100.66"];
    inject(
        &world,
        Fault::WafFlood {
            ips: flood.iter().map(|s| s.to_string()).collect(),
            per_min: 1200,
        },
    );
    step(&world, 150);
    fails(&world, Condition::WafCalm {});
    let block = Op::BlockIp {
        acl: "shop-web-acl".into(),
        ip: "203.0.113.192/26 198.51.100.66,".into(),
    };
    let out = run(&ops, block).await;
    assert!(
        out.summary.starts_with(
            "added 203.0.113.192/26, 198.51.100.66/32 to blocked-ips-v4 (4 addresses)"
        ),
        "{}",
        out.summary
    );
    assert!(
        out.calls[1]
            .contains("after=[192.0.2.146/32, 192.0.2.58/32, 203.0.113.192/26, 198.51.100.66/32]"),
        "{:?}",
        out.calls
    );
    step(&world, 180);
    holds(&world, Condition::WafCalm {});
    let waf = world.lock().unwrap().waf();
    let from_flood: Vec<_> = waf
        .recent_blocked
        .iter()
        .filter(|b| flood.contains(&b.client_ip.as_str()))
        .collect();
    assert!(
        from_flood.iter().all(|b| b.rule == "blocked-ips"),
        "{from_flood:?}"
    );

    let unblock = Op::UnblockIp {
        acl: "shop-web-acl".into(),
        ip: "198.51.100.66/32, 203.0.113.192/26".into(),
    };
    let out = run(&ops, unblock).await;
    assert!(
        out.calls[1].contains("after=[192.0.2.146/32, 192.0.2.58/32] "),
        "{:?}",
        out.calls
    );
    step(&world, 180);
    fails(&world, Condition::WafCalm {});
}

#[tokio::test]
async fn az_outage_then_cordon_and_reschedule() {
    let (world, ops) = shared();
    inject(
        &world,
        Fault::AzOutage {
            zone: ZONE_A.into(),
        },
    );
    step(&world, 90);
    let cluster = world.lock().unwrap().cluster();
    let dead: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|n| n.zone == ZONE_A)
        .map(|n| n.name.clone())
        .collect();
    assert!(!dead.is_empty());
    assert!(
        cluster
            .nodes
            .iter()
            .filter(|n| n.zone == ZONE_A)
            .all(|n| !n.ready)
    );
    let stuck: Vec<_> = cluster
        .pods
        .iter()
        .filter(|p| dead.contains(&p.node))
        .collect();
    assert!(stuck.iter().all(|p| p.phase == PodPhase::Unknown));
    assert!(
        cluster
            .deployments
            .iter()
            .any(|d| d.namespace == "shop" && d.available < d.desired)
    );
    fails(
        &world,
        Condition::NodesReady {
            zone: Some(ZONE_A.into()),
        },
    );
    assert_eq!(
        alarm(&world, "KubeNodeNotReady"),
        (AlarmState::Alarm, Severity::Critical)
    );

    for node in &dead {
        run(
            &ops,
            Op::Cordon {
                node: node.clone(),
                cordon: true,
            },
        )
        .await;
    }
    // `kubectl drain --ignore-daemonsets --force`: DaemonSet pods belong to their node.
    for p in stuck
        .iter()
        .filter(|p| !p.name.starts_with("aws-node-") && !p.name.starts_with("kube-proxy-"))
    {
        let out = run(
            &ops,
            Op::DeletePod {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
            },
        )
        .await;
        assert!(
            out.calls[0].contains("gracePeriodSeconds=0"),
            "{:?}",
            out.calls
        );
    }
    step(&world, 300);
    holds(
        &world,
        Condition::All(vec![
            Condition::NodesReady {
                zone: Some(ZONE_A.into()),
            },
            deployment_ready("user"),
            deployment_ready("admin"),
            deployment_ready("proxysql"),
            alarm_ok("KubeNodeNotReady"),
        ]),
    );
    let cluster = world.lock().unwrap().cluster();
    for db in ["mariadb-0", "mariadb-1", "mariadb-2"] {
        let p = cluster.pods.iter().find(|p| p.name == db).unwrap();
        assert_eq!(p.phase, PodPhase::Running, "{p:?}");
        assert!(!dead.contains(&p.node));
    }
}

#[tokio::test]
async fn leaked_key_then_deactivate_it() {
    let (world, ops) = shared();
    let (user, ip) = ("lee.jihoon", "203.0.113.201");
    let key = {
        let w = world.lock().unwrap();
        iam::leak_target(&w.iam, user).unwrap()
    };
    inject(
        &world,
        Fault::LeakedKey {
            user: user.into(),
            from_ip: ip.into(),
        },
    );
    step(&world, 120);
    let trail = world.lock().unwrap().trail();
    let theirs: Vec<&str> = trail
        .events
        .iter()
        .filter(|e| e.source_ip == ip)
        .map(|e| e.event_name.as_str())
        .collect();
    for name in ["CreateAccessKey", "StopLogging", "AttachUserPolicy"] {
        assert!(theirs.contains(&name), "{name}: {theirs:?}");
    }
    assert!(!trail.trails[0].logging, "StopLogging turned the trail off");
    assert_eq!(
        alarm(&world, "CloudTrailUnauthorizedActivity"),
        (AlarmState::Alarm, Severity::Critical)
    );

    let out = run(
        &ops,
        Op::DeactivateKey {
            user: user.into(),
            key_suffix: key.clone(),
        },
    )
    .await;
    assert!(out.summary.contains("Inactive"), "{}", out.summary);
    // The key they created for themselves goes too, as the playbook's review finds.
    let created: Vec<String> = {
        let w = world.lock().unwrap();
        let iam = w.iam();
        let u = iam.users.iter().find(|u| u.name == user).unwrap();
        u.access_keys
            .iter()
            .filter(|k| k.active)
            .map(|k| k.id_suffix.clone())
            .collect()
    };
    assert_eq!(created.len(), 1, "the attacker's CreateAccessKey succeeded");
    for k in created {
        run(
            &ops,
            Op::DeactivateKey {
                user: user.into(),
                key_suffix: k,
            },
        )
        .await;
    }
    let calls_after = world.lock().unwrap().trail().events.len();
    step(&world, 310);
    holds(
        &world,
        Condition::All(vec![
            Condition::KeyInactive {
                user: user.into(),
                key_suffix: key,
            },
            alarm_ok("CloudTrailUnauthorizedActivity"),
        ]),
    );
    let trail = world.lock().unwrap().trail();
    let new_events = trail.events.len() - calls_after.min(trail.events.len());
    assert!(
        trail.events[..new_events].iter().all(|e| e.source_ip != ip),
        "the activity stopped with the key"
    );
    // Nobody turned the trail back on: the drill leaves that to the operator.
    fails(
        &world,
        Condition::TrailLogging {
            trail: "org-trail".into(),
        },
    );
}

#[test]
fn faults_naming_nothing_are_refused_and_change_nothing() {
    let mut w = World::new(42, start());
    let cases = [
        (
            Fault::PrimaryDown {
                cluster: "orders-pg".into(),
            },
            "orders-pg",
        ),
        (
            Fault::TrafficSpike {
                deployment: "checkout".into(),
                factor: 3.0,
            },
            "checkout",
        ),
        (
            Fault::TrafficSpike {
                deployment: "proxysql".into(),
                factor: 3.0,
            },
            "proxysql",
        ),
        (
            Fault::BadDeploy {
                deployment: "checkout".into(),
                error_pct: 10.0,
            },
            "checkout",
        ),
        (
            Fault::AzOutage {
                zone: "ap-northeast-2b".into(),
            },
            "ap-northeast-2b",
        ),
        (
            Fault::LeakedKey {
                user: "nobody".into(),
                from_ip: "203.0.113.9".into(),
            },
            "nobody",
        ),
        (
            Fault::LeakedKey {
                user: "kim.minji".into(),
                from_ip: "203.0.113.9".into(),
            },
            "kim.minji",
        ),
        (
            Fault::WafFlood {
                ips: vec!["203.0.113.9".into(), "not-an-ip".into()],
                per_min: 500,
            },
            "not-an-ip",
        ),
    ];
    for (fault, named) in cases {
        let before = (w.cluster(), w.db(), w.waf(), w.iam(), w.trail());
        let err = w.inject(&fault).unwrap_err();
        assert!(err.contains(named), "{fault:?}: {err}");
        assert_eq!(before, (w.cluster(), w.db(), w.waf(), w.iam(), w.trail()));
    }
}

#[test]
fn faults_read_from_yaml() {
    let yaml = "\
- primary_down: { cluster: shop-mariadb }
- traffic_spike: { deployment: user, factor: 5 }
- bad_deploy: { deployment: user, error_pct: 30 }
- waf_flood: { ips: [203.0.113.200, 198.51.100.66], per_min: 1200 }
- az_outage: { zone: ap-northeast-2a }
- leaked_key: { user: lee.jihoon, from_ip: 203.0.113.201 }
";
    let faults: Vec<Fault> = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(faults.len(), 6);
    assert_eq!(
        faults[0],
        Fault::PrimaryDown {
            cluster: "shop-mariadb".into()
        }
    );
    assert!(serde_saphyr::from_str::<Fault>("primary_down: { cluster: x, extra: 1 }").is_err());
    assert!(serde_saphyr::from_str::<Fault>("meteor_strike: { zone: a }").is_err());
}

#[test]
fn faults_keep_the_world_deterministic() {
    let faults = [
        Fault::PrimaryDown {
            cluster: CLUSTER.into(),
        },
        Fault::TrafficSpike {
            deployment: "user".into(),
            factor: 6.0,
        },
        Fault::BadDeploy {
            deployment: "admin".into(),
            error_pct: 20.0,
        },
        Fault::WafFlood {
            ips: vec!["203.0.113.200".into()],
            per_min: 900,
        },
        Fault::AzOutage {
            zone: ZONE_A.into(),
        },
        Fault::LeakedKey {
            user: "lee.jihoon".into(),
            from_ip: "203.0.113.201".into(),
        },
    ];
    let run = |chunks: &[u32]| {
        let mut w = World::new(7, start());
        for (fault, &secs) in faults.iter().zip(chunks.iter().cycle()) {
            w.inject(fault).unwrap();
            w.step(secs);
        }
        let op = Op::Promote {
            cluster: CLUSTER.into(),
            member: "mariadb-1".into(),
        };
        w.run_op(&op, Mode::Apply).unwrap();
        for _ in 0..300 {
            w.step(1);
        }
        (
            w.now(),
            w.cluster(),
            w.db(),
            w.waf(),
            w.alarms(),
            w.iam(),
            w.trail(),
        )
    };
    assert_eq!(run(&[60]), run(&[60]));
    let one_by_one = {
        let mut w = World::new(7, start());
        for fault in &faults {
            w.inject(fault).unwrap();
            for _ in 0..60 {
                w.step(1);
            }
        }
        w.step(0);
        (w.cluster(), w.waf(), w.trail())
    };
    let at_once = {
        let mut w = World::new(7, start());
        for fault in &faults {
            w.inject(fault).unwrap();
            w.step(60);
        }
        (w.cluster(), w.waf(), w.trail())
    };
    assert_eq!(one_by_one, at_once);
}
