//! Every shipped drill, end to end on the drill world: the fault goes in, its alarm fires,
//! the shipped playbooks fix it through `SimOps`, and the recovery condition holds.

use super::*;
use crate::incident::clock::Clock;
use crate::incident::desk::Desk;
use crate::incident::event::{RunOutcome, Who};
use crate::playbook::catalog;
use crate::playbook::plan;
use crate::playbook::run::{self, Answer, Context, Prompt};
use crate::sources::sim::SimOps;
use std::sync::{Arc, Mutex};

struct WorldClock(Arc<Mutex<World>>);

impl Clock for WorldClock {
    fn now(&self) -> Timestamp {
        self.0.lock().unwrap().now()
    }
}

fn snapshots(world: &Mutex<World>) -> Snapshots {
    crate::sources::drill::snapshots_of(&world.lock().unwrap())
}

struct Setup {
    world: Arc<Mutex<World>>,
    drill: Drill,
    ctx: Context,
    _dir: tempfile::TempDir,
}

fn setup(name: &str) -> Setup {
    let start: Timestamp = "2026-11-22T11:00:00Z".parse().unwrap();
    let world = Arc::new(Mutex::new(World::new(42, start)));
    let drill = Drill::new(find(name).unwrap(), 42, start);
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(
        dir.path(),
        Who {
            user: "drill".into(),
            from: None,
        },
    )
    .unwrap();
    let w = world.clone();
    let ctx = Context {
        ops: Arc::new(SimOps::new(world.clone())),
        snapshots: Arc::new(move || snapshots(&w)),
        desk: Arc::new(Mutex::new(desk)),
        clock: Arc::new(WorldClock(world.clone())),
        read_only: None,
        anti_flap: SignedDuration::from_mins(30),
        speed: 1,
    };
    Setup {
        world,
        drill,
        ctx,
        _dir: dir,
    }
}

/// Steps the world (injecting due faults and watching for recovery) until `done` holds or
/// `limit` seconds pass.
fn advance(s: &mut Setup, limit: u32, done: impl Fn(&Snapshots, &Drill) -> bool) -> bool {
    for _ in 0..limit {
        let (snap, now) = {
            let mut w = s.world.lock().unwrap();
            w.step(1);
            for r in s.drill.tick(&mut w) {
                r.unwrap();
            }
            (crate::sources::drill::snapshots_of(&w), w.now())
        };
        s.drill.check(&snap, now);
        if done(&snap, &s.drill) {
            return true;
        }
    }
    false
}

fn firing(name: &str) -> impl Fn(&Snapshots, &Drill) -> bool + '_ {
    move |s: &Snapshots, _: &Drill| s.alarms.data.firing().any(|a| a.name == name)
}

/// Runs a shipped playbook, confirming everything, while the world keeps moving.
async fn run_playbook(s: &Setup, name: &str, inputs: &[(&str, &str)]) -> RunOutcome {
    let playbook = catalog::shipped(name).unwrap();
    let given: Vec<(String, String)> = inputs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vars = plan::inputs(&playbook, &given).unwrap();
    let world = s.world.clone();
    let stepper = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            world.lock().unwrap().step(1);
        }
    });
    let (outcome, _, _) = run::execute_answering(&s.ctx, &playbook, vars, |prompt| match prompt {
        Prompt::TypeTarget { target, .. } => Answer::Text(target.clone()),
        _ => Answer::Yes,
    })
    .await;
    stepper.abort();
    outcome
}

fn recovered(s: &mut Setup, limit: u32) -> bool {
    advance(s, limit, |_, d| d.recovered_at.is_some())
}

#[test]
fn every_shipped_scenario_loads() {
    let all = scenarios();
    let names: Vec<String> = all
        .iter()
        .map(|s| s.as_ref().map(|s| s.name.clone()).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "az-outage",
            "bad-deploy",
            "db-primary-down",
            "leaked-access-key",
            "region-outage",
            "traffic-spike",
            "waf-attack"
        ]
    );
    assert!(
        find("nope")
            .unwrap_err()
            .starts_with("no drill `nope` (available: az-outage,")
    );
}

fn region_crit(s: &Snapshots, _: &Drill) -> bool {
    s.regions
        .data
        .status()
        .iter()
        .any(|r| r.region == "seoul" && r.level == crate::model::Level::Crit)
}

#[tokio::test(start_paused = true)]
async fn region_outage_is_fixed_by_region_evacuate() {
    let mut s = setup("region-outage");
    assert!(advance(&mut s, 1, |snap, _| snap
        .regions
        .data
        .regions
        .len()
        == 2));
    assert!(advance(&mut s, 120, region_crit), "seoul never went CRIT");
    let before = snapshots(&s.world).regions.data.status();
    assert_eq!(
        before[0].problems[0],
        "health check failing while it takes traffic: 3 of 3 checkers fail: Failure: \
         Connection timed out. The endpoint or the internet connection is down, or requests \
         are being blocked by your firewall."
    );
    assert_eq!(
        run_playbook(
            &s,
            "region-evacuate",
            &[("from", "seoul"), ("to", "us-east")]
        )
        .await,
        RunOutcome::Ok
    );
    let regions = snapshots(&s.world).regions.data.clone();
    assert_eq!(regions.regions[0].weight(), Some(0));
    assert_eq!(
        regions.regions[1].weight(),
        Some(50),
        "only the named weight changes"
    );
    let us = regions.regions[1].cluster.as_ref().unwrap();
    assert_eq!(
        (us.hpas[0].min, us.hpas[0].current),
        (8, 8),
        "us-east's HPA min raised"
    );
    assert!(
        recovered(&mut s, 120),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
    // Seoul still fails its health check: the restore refuses before changing anything.
    assert_eq!(
        run_playbook(&s, "region-restore", &[]).await,
        RunOutcome::Failed
    );
    assert_eq!(
        snapshots(&s.world).regions.data.regions[0].weight(),
        Some(0)
    );
}

#[tokio::test(start_paused = true)]
async fn the_drill_world_shows_regions_only_in_a_region_drill() {
    let mut s = setup("db-primary-down");
    assert!(!advance(&mut s, 60, |snap, _| !snap
        .regions
        .data
        .regions
        .is_empty()));
}

#[tokio::test(start_paused = true)]
async fn db_primary_down_is_fixed_by_failover_mariadb() {
    let mut s = setup("db-primary-down");
    assert!(
        advance(&mut s, 600, firing("MariaDBPrimaryDown")),
        "alarm never fired"
    );
    assert!(!recovered(&mut s, 1));
    assert_eq!(
        run_playbook(&s, "failover-mariadb", &[]).await,
        RunOutcome::Ok
    );
    assert!(
        recovered(&mut s, 120),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
}

#[tokio::test(start_paused = true)]
async fn traffic_spike_is_fixed_by_scale() {
    let mut s = setup("traffic-spike");
    assert!(
        advance(&mut s, 900, firing("shop-user-hpa-at-max")),
        "alarm never fired"
    );
    assert_eq!(
        run_playbook(&s, "scale", &[("replicas", "16"), ("hpa_max", "24")]).await,
        RunOutcome::Ok
    );
    assert!(
        recovered(&mut s, 600),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
}

#[tokio::test(start_paused = true)]
async fn bad_deploy_is_fixed_by_rollback() {
    let mut s = setup("bad-deploy");
    assert!(
        advance(&mut s, 900, firing("shop-alb-5xx-rate-high")),
        "alarm never fired"
    );
    assert_eq!(run_playbook(&s, "rollback", &[]).await, RunOutcome::Ok);
    assert!(
        recovered(&mut s, 900),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
}

#[tokio::test(start_paused = true)]
async fn waf_attack_is_fixed_by_blocking_the_addresses() {
    let mut s = setup("waf-attack");
    assert!(
        advance(&mut s, 900, firing("shop-waf-blocked-requests-surge")),
        "alarm never fired"
    );
    // Until the last attacker is blocked the surge goes on: those runs say their check
    // was not met instead of finishing ok.
    let mut outcomes = Vec::new();
    for ip in ["203.0.113.66", "198.51.100.99", "192.0.2.201"] {
        outcomes.push(run_playbook(&s, "waf-block-ip", &[("ip", ip)]).await);
    }
    assert_eq!(
        outcomes,
        [RunOutcome::Unmet(1), RunOutcome::Unmet(1), RunOutcome::Ok]
    );
    assert!(
        recovered(&mut s, 900),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
}

#[tokio::test(start_paused = true)]
async fn az_outage_is_fixed_by_cordoning_and_restarting() {
    let mut s = setup("az-outage");
    assert!(
        advance(&mut s, 900, firing("KubeNodeNotReady")),
        "alarm never fired"
    );
    let dead: Vec<String> = snapshots(&s.world)
        .cluster
        .data
        .nodes
        .iter()
        .filter(|n| !n.ready)
        .map(|n| n.name.clone())
        .collect();
    assert!(!dead.is_empty());
    for node in &dead {
        assert_eq!(
            run_playbook(&s, "cordon-node", &[("node", node)]).await,
            RunOutcome::Ok
        );
    }
    for deployment in ["user", "admin"] {
        assert_eq!(
            run_playbook(&s, "restart", &[("deployment", deployment)]).await,
            RunOutcome::Ok
        );
    }
    assert!(
        recovered(&mut s, 600),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
}

#[tokio::test(start_paused = true)]
async fn leaked_access_key_is_fixed_by_deactivating_it() {
    let mut s = setup("leaked-access-key");
    assert!(
        advance(&mut s, 900, firing("CloudTrailUnauthorizedActivity")),
        "alarm never fired"
    );
    let suffix = {
        let snap = snapshots(&s.world);
        let user = snap
            .iam
            .data
            .users
            .iter()
            .find(|u| u.name == "ci-deployer")
            .unwrap();
        user.oldest_active_key().unwrap().id_suffix.clone()
    };
    let outcome = run_playbook(
        &s,
        "deactivate-access-key",
        &[("user", "ci-deployer"), ("key_suffix", &suffix)],
    )
    .await;
    assert_eq!(outcome, RunOutcome::Ok);
    assert!(
        recovered(&mut s, 1200),
        "not recovered: {:?}",
        s.drill.scenario.recovered_when.eval(&snapshots(&s.world))
    );
}
