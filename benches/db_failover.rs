//! Failover and polling cost on real servers on loopback (the same servers the tests use).
//!
//! `failover/*`: from "confirm" to the new primary writable and the remaining replica
//! following it — Fence (old primary already killed) + Promote + Repoint +
//! VerifyReplication, which writes a marker on the new primary and waits until the other
//! replica has it. Each iteration gets a fresh cluster whose primary was just killed;
//! starting it is not timed.
//! `switchover/postgres`: the same four operations with the old primary up and writable:
//! the promotion waits for its final WAL position, and re-pointing rejoins it as a standby
//! through a rejoin_command (stop, pg_rewind, standby.signal, start).
//! `poll/*`: one status round over a primary and two replicas, with the connections the
//! source keeps open (warm) and with fresh connections (cold).

#[path = "../tests/dbsupport/certs.rs"]
mod certs;
#[path = "../tests/dbsupport/common.rs"]
mod common;
#[path = "../tests/dbsupport/maria.rs"]
mod maria;
#[path = "../tests/dbsupport/pg.rs"]
mod pg;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use opsdeck::ops::{Mode, Op, Ops};
use opsdeck::sources::db::{DbConfig, DbOps, DbPoller, RoleMemory, best_candidate};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Picks the replica the way the playbooks do, then fences, promotes, re-points and
/// verifies, timed: a failover when `old` is down, a switchover when it is up.
async fn failover(cfg: DbConfig, old: &str) -> Duration {
    let snap = DbPoller::new(vec![cfg.clone()], RoleMemory::default())
        .poll()
        .await;
    let new = best_candidate(&snap.clusters[0], &cfg).unwrap_or_else(|e| panic!("{e}"));
    let new = new.as_str();
    let ops = DbOps::new(vec![cfg.clone()]);
    let cluster = cfg.name.clone();
    let started = Instant::now();
    let steps = [
        Op::Fence {
            cluster: cluster.clone(),
            member: old.into(),
        },
        Op::Promote {
            cluster: cluster.clone(),
            member: new.into(),
        },
        Op::Repoint {
            cluster: cluster.clone(),
            primary: new.into(),
        },
        Op::VerifyReplication { cluster },
    ];
    for op in &steps {
        if let Err(e) = ops.apply(op, Mode::Apply).await {
            panic!("{op}: {e}");
        }
    }
    started.elapsed()
}

/// Each sample starts three servers and takes seconds: a few flat samples, no warm-up.
fn slow_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    group
}

fn bench_failover(c: &mut Criterion) {
    let rt = runtime();
    let mut group = slow_group(c, "failover");
    group.bench_function("postgres", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    let mut cl = pg::PgCluster::start(2).await;
                    let cfg = common::config(
                        "bench-pg",
                        "postgres",
                        "postgres",
                        &cl.password_file,
                        &cl.members(),
                        "",
                    );
                    cl.node("pg0")
                        .exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
                        .await;
                    cl.caught_up("pg0", &["pg1", "pg2"]).await;
                    cl.node_mut("pg0").kill();
                    failover(cfg, "pg0").await
                });
            }
            total
        })
    });
    group.bench_function("mariadb", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    let mut cl = maria::MyCluster::start(2).await;
                    let cfg = common::config(
                        "bench-my",
                        "mariadb",
                        "opsdeck",
                        &cl.password_file,
                        &cl.members(),
                        "",
                    );
                    cl.node("my0")
                        .exec("CREATE TABLE test.t (id INT PRIMARY KEY)")
                        .await;
                    cl.caught_up("my0", "my1").await;
                    cl.caught_up("my0", "my2").await;
                    cl.node_mut("my0").kill();
                    failover(cfg, "my0").await
                });
            }
            total
        })
    });
    group.finish();
}

fn bench_switchover(c: &mut Criterion) {
    let rt = runtime();
    let mut group = slow_group(c, "switchover");
    group.bench_function("postgres", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(async {
                    let setup = pg::Setup {
                        rewindable: true,
                        ..Default::default()
                    };
                    let cl = pg::PgCluster::start_with(2, setup).await;
                    let mut cfg = common::config(
                        "bench-pg",
                        "postgres",
                        "postgres",
                        &cl.password_file,
                        &cl.members(),
                        "verify_timeout_s = 30.0",
                    );
                    let rejoin = cl.rejoin_script("pg0").display().to_string();
                    cfg.members[0].rejoin_command = Some(vec![rejoin]);
                    cl.node("pg0")
                        .exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
                        .await;
                    cl.caught_up("pg0", &["pg1", "pg2"]).await;
                    failover(cfg, "pg0").await
                });
            }
            total
        })
    });
    group.finish();
}

fn bench_poll(c: &mut Criterion) {
    let rt = runtime();
    let pg_cluster = rt.block_on(pg::PgCluster::start(2));
    let my_cluster = rt.block_on(maria::MyCluster::start(2));
    let pg_cfg = common::config(
        "bench-pg",
        "postgres",
        "postgres",
        &pg_cluster.password_file,
        &pg_cluster.members(),
        "",
    );
    let my_cfg = common::config(
        "bench-my",
        "mariadb",
        "opsdeck",
        &my_cluster.password_file,
        &my_cluster.members(),
        "",
    );
    let mut group = c.benchmark_group("poll");
    group.sample_size(50);
    for (name, cfg) in [("postgres", &pg_cfg), ("mariadb", &my_cfg)] {
        let mut warm = DbPoller::new(vec![cfg.clone()], RoleMemory::default());
        let first = rt.block_on(warm.poll());
        assert!(
            first.clusters[0].members.iter().all(|m| m.reachable),
            "{first:?}"
        );
        group.bench_function(format!("{name}_3_members_warm"), |b| {
            b.iter(|| rt.block_on(warm.poll()))
        });
        group.bench_function(format!("{name}_3_members_cold"), |b| {
            b.iter(|| rt.block_on(DbPoller::new(vec![cfg.clone()], RoleMemory::default()).poll()))
        });
    }
    group.finish();
    drop(pg_cluster);
    drop(my_cluster);
}

criterion_group!(benches, bench_poll, bench_failover, bench_switchover);
criterion_main!(benches);
