//! The live PostgreSQL source and failover against real servers: a PostgreSQL 15 primary
//! with two streaming replicas per test, on loopback ports in temp dirs.

#[path = "dbsupport/certs.rs"]
mod certs;
#[path = "dbsupport/common.rs"]
mod common;
#[path = "dbsupport/pg.rs"]
mod pg;

use common::{ADMIN_PASSWORD, REPL_PASSWORD, assert_no_secret, config, eventually};
use opsdeck::model::db::{DbCluster, DbMember, Role};
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::sources::db::{DbConfig, DbOps, DbPoller, RoleMemory, best_candidate};
use pg::PgCluster;
use std::time::{Duration, Instant};

fn cfg(c: &PgCluster, extra: &str) -> DbConfig {
    config(
        "shop-pg",
        "postgres",
        "postgres",
        &c.password_file,
        &c.members(),
        extra,
    )
}

async fn poll(cfg: &DbConfig) -> DbCluster {
    let mut p = DbPoller::new(vec![cfg.clone()], RoleMemory::default());
    p.poll().await.clusters.remove(0)
}

fn member<'a>(c: &'a DbCluster, name: &str) -> &'a DbMember {
    c.members
        .iter()
        .find(|m| m.name == name)
        .expect("member in snapshot")
}

#[tokio::test]
async fn the_pane_shows_what_the_servers_report() {
    let mut c = PgCluster::start(2).await;
    let cfg = cfg(&c, "lag_threshold_s = 5.0");
    c.node("pg0")
        .exec("CREATE TABLE orders (id int primary key); INSERT INTO orders SELECT generate_series(1, 100)")
        .await;
    c.caught_up("pg0", &["pg1", "pg2"]).await;

    // The primary's WAL moves on its own now and then (running-xacts records), so a
    // snapshot is compared with the server's own answers taken just before and after it.
    let mut matched = false;
    for _ in 0..10 {
        let before = c
            .node("pg0")
            .value("SELECT pg_current_wal_lsn()::text")
            .await;
        let snap = poll(&cfg).await;
        let after = c
            .node("pg0")
            .value("SELECT pg_current_wal_lsn()::text")
            .await;
        if before != after {
            continue;
        }
        let p = member(&snap, "pg0");
        assert_eq!(p.role, Role::Primary);
        assert_eq!(p.read_only, Some(false));
        assert_eq!(p.position, before);
        let d = p.detail.as_ref().unwrap();
        assert_eq!(d.timeline, Some(1));
        let mut names: Vec<&str> = d.downstream.iter().map(|s| s.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["pg1", "pg2"]);
        for s in &d.downstream {
            assert_eq!(s.state.as_deref(), Some("streaming"));
            assert_eq!(s.sync_state.as_deref(), Some("async"));
            assert_eq!(s.address.as_deref(), Some("127.0.0.1"));
        }
        for r in ["pg1", "pg2"] {
            let m = member(&snap, r);
            let node = c.node(r);
            assert_eq!(m.role, Role::Replica, "{r}");
            assert_eq!(m.read_only, Some(true));
            assert_eq!((m.io_running, m.sql_running), (Some(true), Some(true)));
            assert_eq!(
                m.position,
                node.value("SELECT pg_last_wal_replay_lsn()::text").await
            );
            let d = m.detail.as_ref().unwrap();
            assert_eq!(
                d.received,
                node.value("SELECT pg_last_wal_receive_lsn()::text").await
            );
            assert_eq!(d.receiver_state.as_deref(), Some("streaming"));
            assert_eq!(d.timeline, Some(1));
            assert_eq!(d.replay_paused, Some(false));
            assert!(d.last_replay.is_some(), "{r} replayed the inserts");
            assert_eq!(m.lag_seconds, Some(0.0), "{r}");
            assert_eq!(m.lag_bytes, Some(0), "{r}");
            assert_eq!(m.status(cfg.lag_threshold_s).1, "ok");
        }
        matched = true;
        break;
    }
    assert!(matched, "the primary's WAL never held still for one poll");

    // Replay paused: not replicating, and the bytes it has not replayed are counted.
    c.node("pg2").exec("SELECT pg_wal_replay_pause()").await;
    c.node("pg0")
        .exec("INSERT INTO orders SELECT generate_series(101, 2000)")
        .await;
    let head = c
        .node("pg0")
        .value("SELECT pg_current_wal_lsn()::text")
        .await
        .unwrap();
    eventually(
        "pg2 receives what it does not replay",
        Duration::from_secs(10),
        || async {
            c.node("pg2")
                .value(&format!(
                    "SELECT pg_last_wal_receive_lsn() >= '{head}'::pg_lsn"
                ))
                .await
                == Some("t".into())
        },
    )
    .await;
    let snap = poll(&cfg).await;
    let paused = member(&snap, "pg2");
    assert_eq!(paused.sql_running, Some(false));
    assert_eq!(paused.status(5.0).1, "nonreplicating");
    assert!(paused.lag_bytes.unwrap() > 0, "{paused:?}");
    assert_eq!(paused.detail.as_ref().unwrap().replay_paused, Some(true));
    c.node("pg2").exec("SELECT pg_wal_replay_resume()").await;

    // The WAL receiver cut off (its primary unreachable): broken, never "0 s".
    c.node("pg2")
        .exec(&format!(
            "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=repl password={REPL_PASSWORD}'; SELECT pg_reload_conf()"
        ))
        .await;
    eventually("pg2 shows broken", Duration::from_secs(10), || async {
        let snap = poll(&cfg).await;
        let m = member(&snap, "pg2");
        m.lag_seconds.is_none() && m.lag_text() == "broken" && m.io_running == Some(false)
    })
    .await;

    // A stopped replica is down, with the error, and the poll does not hang on it.
    c.node_mut("pg1").kill();
    let started = Instant::now();
    let snap = poll(&cfg).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let down = member(&snap, "pg1");
    assert!(!down.reachable);
    assert_eq!(down.status(5.0).1, "down");
    assert!(
        down.last_error.as_deref().unwrap().contains("pg1"),
        "{down:?}"
    );
}

#[tokio::test]
async fn failover_promotes_the_most_advanced_replica_and_loses_nothing() {
    let mut c = PgCluster::start(2).await;
    let cfg = cfg(
        &c,
        "lag_threshold_s = 5.0\nanti_flap_s = 600\nverify_timeout_s = 10.0",
    );
    let ops = DbOps::new(vec![cfg.clone()]);
    c.node("pg0")
        .exec("CREATE TABLE orders (id text primary key); INSERT INTO orders VALUES ('before-1')")
        .await;
    c.caught_up("pg0", &["pg1", "pg2"]).await;
    // pg2 stops receiving, so pg1 alone gets the next write and is the most advanced.
    c.node("pg2")
        .exec(&format!(
            "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=repl password={REPL_PASSWORD} application_name=pg2'; SELECT pg_reload_conf()"
        ))
        .await;
    eventually("pg2 disconnected", Duration::from_secs(10), || async {
        c.node("pg0")
            .value("SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg2'")
            .await
            == Some("0".into())
    })
    .await;
    c.node("pg0")
        .exec("INSERT INTO orders VALUES ('before-2')")
        .await;
    c.caught_up("pg0", &["pg1"]).await;

    c.node_mut("pg0").kill();
    let started = Instant::now();
    let snap = poll(&cfg).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(member(&snap, "pg0").status(5.0).1, "down");
    let chosen = best_candidate(&snap, &cfg).unwrap();
    assert_eq!(chosen, "pg1", "pg1 received more than pg2");

    let behind = Op::Promote {
        cluster: "shop-pg".into(),
        member: "pg2".into(),
    };
    let err = ops.apply(&behind, Mode::DryRun).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(t) if t.contains("less than pg1 (received")),
        "the less advanced replica is refused: {err}"
    );
    // A dry-run shows the SQL and changes nothing.
    let promote = Op::Promote {
        cluster: "shop-pg".into(),
        member: chosen.clone(),
    };
    let dry = ops.apply(&promote, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|c| c.contains("SELECT pg_promote(true, 60)")),
        "{dry:?}"
    );
    assert_eq!(
        c.node("pg1").value("SELECT pg_is_in_recovery()").await,
        Some("t".into())
    );
    let repoint = Op::Repoint {
        cluster: "shop-pg".into(),
        primary: chosen.clone(),
    };
    let dry = ops.apply(&repoint, Mode::DryRun).await.unwrap();
    let shown = dry.calls.join("\n");
    assert!(
        shown.contains("ALTER SYSTEM SET primary_conninfo"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("port=''{}''", c.node("pg1").port)),
        "{shown}"
    );
    assert_no_secret("repoint dry-run", &shown);

    // The failover playbook's steps, timed from "confirm".
    let confirm = Instant::now();
    let fence = ops
        .apply(
            &Op::Fence {
                cluster: "shop-pg".into(),
                member: "pg0".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap();
    assert!(
        fence
            .summary
            .contains("pg0 is unreachable, so counted as fenced"),
        "{fence:?}"
    );
    ops.apply(&promote, Mode::Apply).await.unwrap();
    let repointed = ops.apply(&repoint, Mode::Apply).await.unwrap();
    assert!(repointed.summary.contains("pg2"), "{repointed:?}");
    assert_no_secret("repoint", &format!("{repointed:?}"));
    let verified = ops
        .apply(
            &Op::VerifyReplication {
                cluster: "shop-pg".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(verified.summary.contains("reached pg2"), "{verified:?}");
    let took = confirm.elapsed();
    assert!(took < Duration::from_secs(10), "failover took {took:?}");

    c.node("pg1")
        .exec("INSERT INTO orders VALUES ('after')")
        .await;
    let new_head = c
        .node("pg1")
        .value("SELECT pg_current_wal_lsn()::text")
        .await
        .unwrap();
    eventually(
        "pg2 replays the write made after the failover",
        Duration::from_secs(10),
        || async {
            c.node("pg2")
                .value(&format!(
                    "SELECT pg_last_wal_replay_lsn() >= '{new_head}'::pg_lsn"
                ))
                .await
                == Some("t".into())
        },
    )
    .await;
    for n in ["pg1", "pg2"] {
        assert_eq!(
            c.node(n)
                .value("SELECT string_agg(id, ',' ORDER BY id) FROM orders")
                .await,
            Some("after,before-1,before-2".into()),
            "{n}"
        );
    }
    let snap = poll(&cfg).await;
    let p = member(&snap, "pg1");
    assert_eq!((p.role, p.read_only), (Role::Primary, Some(false)));
    assert_eq!(
        p.detail.as_ref().unwrap().timeline,
        Some(2),
        "promotion starts timeline 2"
    );
    let r = member(&snap, "pg2");
    assert_eq!(r.role, Role::Replica);
    assert_eq!(
        r.detail.as_ref().unwrap().source,
        Some(format!("127.0.0.1:{}", c.node("pg1").port))
    );
    assert_eq!(r.detail.as_ref().unwrap().timeline, Some(2));

    // A second failover inside the window is refused, until it is re-issued with an override.
    let again = Op::Promote {
        cluster: "shop-pg".into(),
        member: "pg2".into(),
    };
    let err = ops.apply(&again, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("anti-flap window")),
        "{err}"
    );
    ops.override_anti_flap("shop-pg");
    // A dry-run plans the fence that comes first; it only says the promotion depends on it.
    let dry = ops.apply(&again, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|c| c.contains("refused unless fenced by then")
                && c.contains("still takes writes on pg1")),
        "{dry:?}"
    );
    let err = ops.apply(&again, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("still takes writes on pg1")),
        "past the anti-flap guard, the split-brain guard answers: {err}"
    );
}

#[tokio::test]
async fn the_lag_guard_refuses_a_paused_replica_and_secrets_stay_hidden() {
    let c = PgCluster::start(2).await;
    let cfg = cfg(&c, "lag_threshold_s = 1.0");
    let ops = DbOps::new(vec![cfg.clone()]);
    c.node("pg2").exec("SELECT pg_wal_replay_pause()").await;
    c.node("pg0")
        .exec("CREATE TABLE orders (id int primary key); INSERT INTO orders SELECT generate_series(1, 1000)")
        .await;
    c.caught_up("pg0", &["pg1"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fence = Op::Fence {
        cluster: "shop-pg".into(),
        member: "pg0".into(),
    };
    let fenced = ops.apply(&fence, Mode::Apply).await.unwrap();
    assert!(fenced.summary.contains("fenced"), "{fenced:?}");
    assert_eq!(
        c.node("pg0")
            .value("SHOW default_transaction_read_only")
            .await,
        Some("on".into())
    );
    let write = c
        .node("pg0")
        .client()
        .await
        .batch_execute("INSERT INTO orders VALUES (5000)")
        .await;
    assert!(write.is_err(), "a fenced primary refuses writes");

    let snap = poll(&cfg).await;
    assert_eq!(best_candidate(&snap, &cfg).unwrap(), "pg1");
    let err = ops
        .apply(
            &Op::Promote {
                cluster: "shop-pg".into(),
                member: "pg2".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_err();
    let OpError::Refused(text) = &err else {
        panic!("{err}")
    };
    assert!(text.contains("pg2"), "{text}");
    assert!(
        text.contains("bytes"),
        "the refusal gives the numbers: {text}"
    );
    assert!(text.contains("threshold 1 s"), "{text}");
    assert_eq!(
        c.node("pg2").value("SELECT pg_is_in_recovery()").await,
        Some("t".into()),
        "nothing changed"
    );

    // Secrets: a wrong password in the errors, a DSN in a replica's conninfo, every log
    // line and every Debug and JSON rendering.
    let logs = common::captured_logs();
    let wrong = c.root.path().join("wrong-password");
    std::fs::write(&wrong, format!("{ADMIN_PASSWORD}-but-wrong")).unwrap();
    let mut bad = cfg.clone();
    bad.password_file = Some(wrong);
    let snap = poll(&bad).await;
    let err = snap.members[0].last_error.clone().unwrap();
    assert!(err.contains("password authentication failed"), "{err}");
    let dry = ops
        .apply(
            &Op::Repoint {
                cluster: "shop-pg".into(),
                primary: "pg1".into(),
            },
            Mode::DryRun,
        )
        .await
        .unwrap();
    let everything = format!(
        "{snap:?}\n{}\n{dry:?}\n{cfg:?}\n{ops:?}\n{}",
        serde_json::to_string(&snap).unwrap(),
        serde_json::to_string(&poll(&cfg).await).unwrap()
    );
    assert_no_secret("snapshot, dry-run, config", &everything);
    assert!(
        everything.contains("password=''***''"),
        "the conninfo is shown redacted"
    );
    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("unreachable"),
        "the failed poll was logged: {logged}"
    );
    assert_no_secret("logs", &logged);
}

/// opsdeck's own connection to `member`, with `cfg`'s TLS settings.
async fn connect(
    cfg: &DbConfig,
    member: &str,
) -> Result<opsdeck::sources::db::postgres::PgConn, String> {
    let password = cfg.password().resolve("test").unwrap();
    opsdeck::sources::db::postgres::connect(cfg, cfg.member(member).unwrap(), password.as_ref())
        .await
}

async fn encrypted(cfg: &DbConfig) -> String {
    let conn = connect(cfg, "pg0")
        .await
        .unwrap_or_else(|e| panic!("tls = {}: {e}", cfg.tls.mode));
    let row = conn
        .row("SELECT ssl::text AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .unwrap();
    row.get("ssl").unwrap_or_default().to_string()
}

#[tokio::test]
async fn tls_encrypts_verifies_the_server_and_explains_refusals() {
    let c = PgCluster::start_with(
        0,
        pg::Setup {
            tls: true,
            ..Default::default()
        },
    )
    .await;
    let certs = c.certs.as_ref().unwrap();
    let verified = cfg(
        &c,
        &format!(
            "tls = \"verify-full\"\nca_file = \"{}\"",
            certs.ca.display()
        ),
    );
    assert_eq!(encrypted(&verified).await, "true", "verify-full");
    assert_eq!(
        encrypted(&cfg(&c, "tls = \"require\"")).await,
        "true",
        "require"
    );
    assert_eq!(
        encrypted(&cfg(&c, "tls = \"prefer\"")).await,
        "true",
        "prefer"
    );
    let snap = poll(&verified).await;
    assert!(member(&snap, "pg0").reachable, "{snap:?}");

    let distrusted = cfg(
        &c,
        &format!(
            "tls = \"verify-full\"\nca_file = \"{}\"",
            certs.other_ca.display()
        ),
    );
    let err = connect(&distrusted, "pg0").await.err().unwrap();
    let port = c.node("pg0").port;
    assert_eq!(
        err,
        format!(
            "pg0 (127.0.0.1:{port}): certificate not trusted for 127.0.0.1: its issuer is not \
             in ca_file {ca} (database shop-pg, tls = \"verify-full\", ca_file {ca})",
            ca = certs.other_ca.display()
        )
    );
    let snap = poll(&distrusted).await;
    let shown = member(&snap, "pg0").last_error.clone().unwrap();
    assert!(shown.contains("certificate not trusted"), "{shown}");
    assert_no_secret("TLS error", &format!("{err}\n{snap:?}"));

    // The same server with TLS switched off: `require` refuses, `prefer` goes plain.
    c.node("pg0")
        .exec("ALTER SYSTEM SET ssl = off; SELECT pg_reload_conf()")
        .await;
    let required = cfg(&c, "tls = \"require\"");
    eventually(
        "ssl off after the reload",
        Duration::from_secs(10),
        || async { connect(&required, "pg0").await.is_err() },
    )
    .await;
    let err = connect(&required, "pg0").await.err().unwrap();
    assert!(
        err.starts_with(&format!("pg0 (127.0.0.1:{port}): the server does not offer TLS (database shop-pg, tls = \"require\")")),
        "{err}"
    );
    assert_no_secret("TLS error", &err);
    assert_eq!(encrypted(&cfg(&c, "tls = \"prefer\"")).await, "false");
}

async fn orders(node: &pg::PgNode) -> Option<String> {
    node.value("SELECT string_agg(id, ',' ORDER BY id) FROM orders")
        .await
}

#[tokio::test]
async fn a_switchover_loses_nothing_and_the_old_primary_rejoins_as_a_replica() {
    let c = PgCluster::start_with(
        2,
        pg::Setup {
            rewindable: true,
            ..Default::default()
        },
    )
    .await;
    let settings = "lag_threshold_s = 5.0\nanti_flap_s = 600\nverify_timeout_s = 20.0";
    let manual = cfg(&c, settings);
    let mut cfg = manual.clone();
    cfg.members[0].rejoin_command = Some(vec![c.rejoin_script("pg0").display().to_string()]);
    let state = c.root.path().join("data").join("db-promotions.json");
    let ops = DbOps::new(vec![cfg.clone()]).remembering(state.clone());
    let cluster = "shop-pg".to_string();
    c.node("pg0")
        .exec("CREATE TABLE orders (id text primary key); INSERT INTO orders VALUES ('before')")
        .await;
    let repoint = Op::Repoint {
        cluster: cluster.clone(),
        primary: "pg1".into(),
    };

    let fence = Op::Fence {
        cluster: cluster.clone(),
        member: "pg0".into(),
    };
    ops.apply(&fence, Mode::Apply).await.unwrap();
    // Right after the fence, with no wait for the replicas: the promotion itself waits
    // until pg1 has everything pg0 wrote.
    let promote = Op::Promote {
        cluster: cluster.clone(),
        member: "pg1".into(),
    };
    let dry = ops.apply(&promote, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|call| call.contains("pg0's final pg_current_wal_lsn()")),
        "{dry:?}"
    );
    let promoted = ops.apply(&promote, Mode::Apply).await.unwrap();
    assert!(promoted.summary.contains("promoted"), "{promoted:?}");
    assert_eq!(
        c.node("pg1")
            .value("SELECT string_agg(id, ',') FROM orders")
            .await,
        Some("before".into()),
        "pg1 had pg0's last write before it was promoted"
    );

    // Without a rejoin_command the operator is told exactly what to do.
    let told = DbOps::new(vec![manual.clone()])
        .apply(&repoint, Mode::DryRun)
        .await
        .unwrap();
    assert!(
        told.summary.contains("pg0 is fenced but still a primary")
            && told.summary.contains("pg_rewind")
            && told.summary.contains("standby.signal")
            && told.summary.contains("rejoin_command"),
        "{told:?}"
    );
    let dry = ops.apply(&repoint, Mode::DryRun).await.unwrap();
    let port = c.node("pg1").port;
    assert!(
        dry.calls
            .iter()
            .any(|call| call.starts_with("run pg0's rejoin_command")
                && call.contains(&format!("OPSDECK_PRIMARY_PORT={port}"))),
        "{dry:?}"
    );

    let started = Instant::now();
    let out = ops.apply(&repoint, Mode::Apply).await.unwrap_or_else(|e| {
        let log = std::fs::read_to_string(c.node("pg0").dir.with_extension("log"));
        panic!(
            "repoint: {e}\npg0's server log:\n{}",
            log.unwrap_or_default()
        )
    });
    assert!(
        out.summary.contains("pg0 (demoted)") && out.summary.contains("pg2"),
        "{out:?} after {:?}",
        started.elapsed()
    );
    assert_no_secret("switchover outcome", &format!("{dry:?}\n{out:?}\n{told:?}"));
    let snap = poll(&cfg).await;
    let old = member(&snap, "pg0");
    assert_eq!((old.role, old.read_only), (Role::Replica, Some(true)));
    assert_eq!(
        old.detail.as_ref().and_then(|d| d.source.clone()),
        Some(format!("127.0.0.1:{port}")),
        "{old:?}"
    );
    assert_eq!(
        c.node("pg0")
            .value("SELECT setting FROM pg_settings WHERE name = 'default_transaction_read_only' AND source = 'configuration file'")
            .await,
        None,
        "the fence is lifted from the demoted primary's configuration"
    );

    ops.apply(
        &Op::VerifyReplication {
            cluster: cluster.clone(),
        },
        Mode::Apply,
    )
    .await
    .unwrap_or_else(|e| panic!("verify: {e}"));
    c.node("pg1")
        .exec("INSERT INTO orders VALUES ('after')")
        .await;
    for n in ["pg0", "pg2"] {
        let node = c.node(n);
        eventually(
            &format!("{n} has the write made after the switchover"),
            Duration::from_secs(20),
            || async { orders(node).await == Some("after,before".into()) },
        )
        .await;
    }
    assert_eq!(orders(c.node("pg1")).await, Some("after,before".into()));

    // A restarted console still refuses a second promotion inside the window.
    let restarted = DbOps::new(vec![cfg.clone()]).remembering(state);
    let err = restarted
        .apply(
            &Op::Promote {
                cluster: cluster.clone(),
                member: "pg0".into(),
            },
            Mode::DryRun,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("anti-flap window")),
        "{err}"
    );
}
