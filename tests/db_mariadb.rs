//! The live MariaDB source and failover against real servers: a MariaDB 10.11 primary with
//! two GTID replicas per test, on loopback ports in temp dirs.

#[path = "dbsupport/certs.rs"]
mod certs;
#[path = "dbsupport/common.rs"]
mod common;
#[path = "dbsupport/maria.rs"]
mod maria;

use common::{ADMIN_PASSWORD, REPL_PASSWORD, assert_no_secret, config, eventually};
use maria::MyCluster;
use opsdeck::model::db::{DbCluster, DbMember, Role};
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::sources::db::{DbConfig, DbOps, DbPoller, RoleMemory, best_candidate};
use std::time::{Duration, Instant};

fn cfg(c: &MyCluster, extra: &str) -> DbConfig {
    config(
        "shop-mariadb",
        "mariadb",
        "opsdeck",
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
    let mut c = MyCluster::start(2).await;
    let cfg = cfg(&c, "lag_threshold_s = 5.0");
    c.node("my0")
        .exec("CREATE TABLE test.orders (id INT PRIMARY KEY)")
        .await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES (1), (2), (3)")
        .await;
    c.caught_up("my0", "my1").await;
    c.caught_up("my0", "my2").await;

    let snap = poll(&cfg).await;
    let p = member(&snap, "my0");
    let primary = c.node("my0");
    assert_eq!((p.role, p.read_only), (Role::Primary, Some(false)));
    assert_eq!(p.position, primary.value("SELECT @@gtid_binlog_pos").await);
    assert!(p.position.as_deref().unwrap().starts_with("0-1-"), "{p:?}");
    for r in ["my1", "my2"] {
        let m = member(&snap, r);
        let node = c.node(r);
        assert_eq!((m.role, m.read_only), (Role::Replica, Some(true)), "{r}");
        assert_eq!((m.io_running, m.sql_running), (Some(true), Some(true)));
        assert_eq!(m.position, node.value("SELECT @@gtid_slave_pos").await);
        assert_eq!(m.position, p.position, "{r} caught up");
        let d = m.detail.as_ref().unwrap();
        assert_eq!(d.received, node.replica_status("Gtid_IO_Pos").await);
        assert_eq!(d.source, Some(format!("127.0.0.1:{}", primary.port)));
        assert_eq!(d.behind_transactions, Some(0));
        let sbm: f64 = node
            .replica_status("Seconds_Behind_Master")
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(m.lag_seconds, Some(sbm));
        assert_eq!(
            m.lag_bytes,
            Some(0),
            "Exec_Master_Log_Pos = primary's binlog position"
        );
        assert_eq!(m.status(cfg.lag_threshold_s).1, "ok");
    }

    // Replication stopped: Seconds_Behind_Master is NULL, shown broken, never 0.
    c.node("my2").exec("STOP SLAVE").await;
    assert_eq!(
        c.node("my2").replica_status("Seconds_Behind_Master").await,
        None
    );
    let snap = poll(&cfg).await;
    let stopped = member(&snap, "my2");
    assert_eq!(stopped.lag_seconds, None);
    assert_eq!(stopped.lag_text(), "broken");
    assert_eq!(stopped.status(5.0).1, "nonreplicating");
    assert_eq!(
        (stopped.io_running, stopped.sql_running),
        (Some(false), Some(false))
    );

    // A writable replica is the worst kind of healthy-looking.
    c.node("my2").exec("SET GLOBAL read_only = OFF").await;
    let snap = poll(&cfg).await;
    assert_eq!(member(&snap, "my2").status(5.0).1, "writable replica!");

    // A killed replica is down within the poll's deadline, with the error.
    c.node_mut("my1").kill();
    let started = Instant::now();
    let snap = poll(&cfg).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let down = member(&snap, "my1");
    assert_eq!(down.status(5.0).1, "down");
    assert_eq!(
        down.role,
        Role::Unknown,
        "a fresh poller has no last known role"
    );
    assert!(
        down.last_error.as_deref().unwrap().contains("my1"),
        "{down:?}"
    );
}

#[tokio::test]
async fn failover_promotes_the_most_advanced_replica_and_loses_nothing() {
    let mut c = MyCluster::start(2).await;
    let cfg = cfg(
        &c,
        "lag_threshold_s = 5.0\nanti_flap_s = 600\nverify_timeout_s = 10.0",
    );
    let ops = DbOps::new(vec![cfg.clone()]);
    c.node("my0")
        .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
        .await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('before-1')")
        .await;
    c.caught_up("my0", "my1").await;
    c.caught_up("my0", "my2").await;
    // my2 stops receiving, so my1 alone gets the next write and is the most advanced.
    c.node("my2").exec("STOP SLAVE IO_THREAD").await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('before-2')")
        .await;
    c.caught_up("my0", "my1").await;

    c.node_mut("my0").kill();
    let started = Instant::now();
    let snap = poll(&cfg).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(member(&snap, "my0").status(5.0).1, "down");
    let chosen = best_candidate(&snap, &cfg).unwrap();
    assert_eq!(chosen, "my1", "my1 received more than my2");

    let behind = Op::Promote {
        cluster: "shop-mariadb".into(),
        member: "my2".into(),
    };
    let err = ops.apply(&behind, Mode::DryRun).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(t) if t.contains("less than my1 (received")),
        "the less advanced replica is refused: {err}"
    );
    let promote = Op::Promote {
        cluster: "shop-mariadb".into(),
        member: chosen.clone(),
    };
    let dry = ops.apply(&promote, Mode::DryRun).await.unwrap();
    let shown = dry.calls.join("\n");
    for sql in [
        "STOP SLAVE",
        "RESET SLAVE ALL",
        "SET GLOBAL read_only = OFF",
    ] {
        assert!(shown.contains(&format!("SQL my1: {sql}")), "{shown}");
    }
    assert!(
        c.node("my1")
            .replica_status("Slave_SQL_Running")
            .await
            .is_some(),
        "a dry-run changes nothing"
    );

    let confirm = Instant::now();
    let fence = ops
        .apply(
            &Op::Fence {
                cluster: "shop-mariadb".into(),
                member: "my0".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap();
    assert!(
        fence
            .summary
            .contains("my0 is unreachable, so counted as fenced"),
        "{fence:?}"
    );
    ops.apply(&promote, Mode::Apply).await.unwrap();
    let repoint = Op::Repoint {
        cluster: "shop-mariadb".into(),
        primary: chosen.clone(),
    };
    let repointed = ops.apply(&repoint, Mode::Apply).await.unwrap();
    let new_port = c.node("my1").port;
    assert!(
        repointed.calls.iter().any(|call| call.contains(&format!(
            "SQL my2: CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
            new_port
        ))),
        "{repointed:?}"
    );
    let verified = ops
        .apply(
            &Op::VerifyReplication {
                cluster: "shop-mariadb".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(verified.summary.contains("reached my2"), "{verified:?}");
    let took = confirm.elapsed();
    assert!(took < Duration::from_secs(10), "failover took {took:?}");

    c.node("my1")
        .exec("INSERT INTO test.orders VALUES ('after')")
        .await;
    c.caught_up("my1", "my2").await;
    for n in ["my1", "my2"] {
        assert_eq!(
            c.node(n)
                .value("SELECT GROUP_CONCAT(id ORDER BY id) FROM test.orders")
                .await,
            Some("after,before-1,before-2".into()),
            "{n}"
        );
    }
    let snap = poll(&cfg).await;
    let p = member(&snap, "my1");
    assert_eq!((p.role, p.read_only), (Role::Primary, Some(false)));
    let r = member(&snap, "my2");
    assert_eq!(r.role, Role::Replica);
    assert_eq!(r.status(5.0).1, "ok", "{r:?}");
    assert_eq!(
        r.detail.as_ref().unwrap().source,
        Some(format!("127.0.0.1:{}", c.node("my1").port))
    );

    let again = Op::Promote {
        cluster: "shop-mariadb".into(),
        member: "my2".into(),
    };
    let err = ops.apply(&again, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("anti-flap window")),
        "{err}"
    );
    ops.override_anti_flap("shop-mariadb");
    // A dry-run plans the fence that comes first; it only says the promotion depends on it.
    let dry = ops.apply(&again, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|c| c.contains("refused unless fenced by then")
                && c.contains("still takes writes on my1")),
        "{dry:?}"
    );
    let err = ops.apply(&again, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("still takes writes on my1")),
        "past the anti-flap guard, the split-brain guard answers: {err}"
    );
}

#[tokio::test]
async fn the_lag_guard_refuses_a_stopped_replica_fencing_works_and_secrets_stay_hidden() {
    let c = MyCluster::start(2).await;
    let repl_file = c.root.path().join("repl-password");
    std::fs::write(&repl_file, REPL_PASSWORD).unwrap();
    let cfg = cfg(
        &c,
        &format!(
            "lag_threshold_s = 1.0\n[replication]\nuser = \"repl\"\npassword_file = \"{}\"\n",
            repl_file.display()
        ),
    );
    let ops = DbOps::new(vec![cfg.clone()]);
    let primary = c.node("my0");
    primary
        .exec("CREATE TABLE test.orders (id INT PRIMARY KEY)")
        .await;
    primary
        .exec("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'; GRANT INSERT, SELECT ON test.* TO 'app'@'127.0.0.1'")
        .await;
    c.caught_up("my0", "my1").await;
    c.caught_up("my0", "my2").await;
    c.node("my2").exec("STOP SLAVE SQL_THREAD").await;
    primary
        .exec("INSERT INTO test.orders VALUES (1), (2), (3)")
        .await;
    primary.exec("INSERT INTO test.orders VALUES (4)").await;
    let head = primary.value("SELECT @@gtid_binlog_pos").await.unwrap();
    eventually(
        "my2 receives what it does not apply",
        Duration::from_secs(10),
        || async {
            c.node("my2").replica_status("Gtid_IO_Pos").await.as_deref() == Some(head.as_str())
        },
    )
    .await;

    // The primary still takes writes: promoting anything now would make two primaries.
    let promote1 = Op::Promote {
        cluster: "shop-mariadb".into(),
        member: "my1".into(),
    };
    let err = ops.apply(&promote1, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("still takes writes on my0")),
        "{err}"
    );

    let app = |port: u16| {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("app"))
            .pass(Some("app-pw"))
            .prefer_socket(false)
    };
    use mysql_async::prelude::Queryable;
    let mut open = mysql_async::Conn::new(app(primary.port)).await.unwrap();
    open.query_drop("INSERT INTO test.orders VALUES (10)")
        .await
        .unwrap();
    let fenced = ops
        .apply(
            &Op::Fence {
                cluster: "shop-mariadb".into(),
                member: "my0".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap();
    assert!(fenced.summary.contains("read_only=ON"), "{fenced:?}");
    assert!(
        open.query_drop("INSERT INTO test.orders VALUES (11)")
            .await
            .is_err(),
        "the open client connection was killed"
    );
    let mut fresh = mysql_async::Conn::new(app(primary.port)).await.unwrap();
    let err = fresh
        .query_drop("INSERT INTO test.orders VALUES (12)")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");

    let err = ops
        .apply(
            &Op::Promote {
                cluster: "shop-mariadb".into(),
                member: "my2".into(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_err();
    let OpError::Refused(text) = &err else {
        panic!("{err}")
    };
    assert!(text.contains("my2: replay/SQL thread stopped"), "{text}");
    assert!(
        text.contains("transactions behind"),
        "the refusal gives the numbers: {text}"
    );
    assert!(text.contains("threshold 1 s"), "{text}");
    assert_eq!(
        c.node("my2")
            .replica_status("Slave_IO_Running")
            .await
            .as_deref(),
        Some("Yes"),
        "nothing changed on my2"
    );

    // Secrets: a wrong password, the replication login in a switchover's CHANGE MASTER,
    // logs, Debug and JSON renderings.
    let logs = common::captured_logs();
    let wrong = c.root.path().join("wrong-password");
    std::fs::write(&wrong, format!("{ADMIN_PASSWORD}-but-wrong")).unwrap();
    let mut bad = cfg.clone();
    bad.password_file = Some(wrong);
    let snap = poll(&bad).await;
    let err = snap.members[0].last_error.clone().unwrap();
    assert!(err.contains("Access denied"), "{err}");
    let dry = ops
        .apply(
            &Op::Repoint {
                cluster: "shop-mariadb".into(),
                primary: "my1".into(),
            },
            Mode::DryRun,
        )
        .await
        .unwrap();
    let shown = dry.calls.join("\n");
    assert!(
        shown.contains("SQL my0: CHANGE MASTER TO") && shown.contains("MASTER_PASSWORD = '***'"),
        "the fenced old primary would be demoted, password hidden: {shown}"
    );
    let everything = format!(
        "{snap:?}\n{}\n{dry:?}\n{cfg:?}\n{ops:?}\n{}",
        serde_json::to_string(&snap).unwrap(),
        serde_json::to_string(&poll(&cfg).await).unwrap()
    );
    assert_no_secret("snapshot, dry-run, config", &everything);
    let logged = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("unreachable"),
        "the failed poll was logged: {logged}"
    );
    assert_no_secret("logs", &logged);
}

#[tokio::test]
async fn a_switchover_demotes_the_old_primary_into_a_replica_of_the_new_one() {
    let c = MyCluster::start(2).await;
    let repl_file = c.root.path().join("repl-password");
    std::fs::write(&repl_file, REPL_PASSWORD).unwrap();
    let cfg = cfg(
        &c,
        &format!(
            "[replication]\nuser = \"repl\"\npassword_file = \"{}\"\n",
            repl_file.display()
        ),
    );
    let ops = DbOps::new(vec![cfg.clone()]);
    c.node("my0")
        .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
        .await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('before')")
        .await;
    let cluster = "shop-mariadb".to_string();
    for op in [
        Op::Fence {
            cluster: cluster.clone(),
            member: "my0".into(),
        },
        Op::Promote {
            cluster: cluster.clone(),
            member: "my1".into(),
        },
        Op::Repoint {
            cluster: cluster.clone(),
            primary: "my1".into(),
        },
    ] {
        let out = ops
            .apply(&op, Mode::Apply)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_no_secret("switchover outcome", &format!("{out:?}"));
    }
    let verified = ops
        .apply(
            &Op::VerifyReplication {
                cluster: cluster.clone(),
            },
            Mode::Apply,
        )
        .await
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert!(
        verified.summary.contains("my0") && verified.summary.contains("my2"),
        "both the demoted primary and the other replica follow: {verified:?}"
    );
    c.node("my1")
        .exec("INSERT INTO test.orders VALUES ('after')")
        .await;
    for n in ["my0", "my2"] {
        c.caught_up("my1", n).await;
        assert_eq!(
            c.node(n)
                .value("SELECT GROUP_CONCAT(id ORDER BY id) FROM test.orders")
                .await,
            Some("after,before".into()),
            "{n}"
        );
    }
    let snap = poll(&cfg).await;
    let old = member(&snap, "my0");
    assert_eq!((old.role, old.read_only), (Role::Replica, Some(true)));
    assert_eq!(old.status(5.0).1, "ok", "{old:?}");
}

/// opsdeck's own connection to `member`, with `cfg`'s TLS settings.
async fn connect(
    cfg: &DbConfig,
    member: &str,
) -> Result<opsdeck::sources::db::mariadb::MyConn, String> {
    let password = cfg.password().resolve("test").unwrap();
    opsdeck::sources::db::mariadb::connect(
        cfg.user(),
        cfg.member(member).unwrap(),
        password.as_ref(),
        &cfg.tls,
    )
    .await
}

/// The session's cipher: empty on a plain connection.
async fn cipher(cfg: &DbConfig) -> String {
    let mut conn = connect(cfg, "my0")
        .await
        .unwrap_or_else(|e| panic!("tls = {}: {e}", cfg.tls.mode));
    let rows = conn
        .rows("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    let value = rows
        .first()
        .and_then(|r| opsdeck::sources::db::mariadb::text(r, "Value"))
        .unwrap_or_default();
    conn.close().await;
    value
}

#[tokio::test]
async fn tls_encrypts_verifies_the_server_and_explains_refusals() {
    let c = MyCluster::start_with(0, true).await;
    let certs = c.certs.as_ref().unwrap();
    let verified = cfg(
        &c,
        &format!(
            "tls = \"verify-full\"\nca_file = \"{}\"",
            certs.ca.display()
        ),
    );
    for cfg in [
        &verified,
        &cfg(&c, "tls = \"require\""),
        &cfg(&c, "tls = \"prefer\""),
    ] {
        let cipher = cipher(cfg).await;
        assert!(!cipher.is_empty(), "tls = {}: no cipher", cfg.tls.mode);
    }
    let snap = poll(&verified).await;
    assert!(member(&snap, "my0").reachable, "{snap:?}");

    let distrusted = cfg(
        &c,
        &format!(
            "tls = \"verify-full\"\nca_file = \"{}\"",
            certs.other_ca.display()
        ),
    );
    let err = connect(&distrusted, "my0").await.err().unwrap();
    let port = c.node("my0").port;
    assert_eq!(
        err,
        format!(
            "my0 (127.0.0.1:{port}): certificate not trusted for 127.0.0.1: its issuer is not \
             in ca_file {ca} (database shop-mariadb, tls = \"verify-full\", ca_file {ca})",
            ca = certs.other_ca.display()
        )
    );
    assert_no_secret("TLS error", &err);

    // A server without TLS: `require` refuses, `prefer` goes plain.
    let plain = MyCluster::start(0).await;
    let required = config(
        "shop-mariadb",
        "mariadb",
        "opsdeck",
        &plain.password_file,
        &plain.members(),
        "tls = \"require\"",
    );
    let err = connect(&required, "my0").await.err().unwrap();
    let port = plain.node("my0").port;
    assert!(
        err.starts_with(&format!("my0 (127.0.0.1:{port}): the server does not offer TLS (database shop-mariadb, tls = \"require\")")),
        "{err}"
    );
    assert_no_secret("TLS error", &err);
    let mut preferred = required.clone();
    preferred.tls.mode = opsdeck::sources::db::tls::TlsMode::Prefer;
    assert_eq!(cipher(&preferred).await, "");
}

#[tokio::test]
async fn a_switchover_promotes_only_once_the_replica_has_the_fenced_primarys_last_write() {
    let c = MyCluster::start(1).await;
    let cfg = cfg(&c, "lag_threshold_s = 2.0");
    let ops = DbOps::new(vec![cfg.clone()]);
    let orders = "SELECT GROUP_CONCAT(id ORDER BY id) FROM test.orders";
    c.node("my0")
        .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
        .await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('before')")
        .await;
    c.caught_up("my0", "my1").await;
    // my1 has applied all it received, but not the primary's last write.
    c.node("my1").exec("STOP SLAVE IO_THREAD").await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('last')")
        .await;
    let cluster = "shop-mariadb".to_string();
    ops.apply(
        &Op::Fence {
            cluster: cluster.clone(),
            member: "my0".into(),
        },
        Mode::Apply,
    )
    .await
    .unwrap();
    let promote = Op::Promote {
        cluster: cluster.clone(),
        member: "my1".into(),
    };
    let dry = ops.apply(&promote, Mode::DryRun).await.unwrap();
    assert!(
        dry.calls
            .iter()
            .any(|call| call.contains("covers my0's final @@gtid_binlog_pos")),
        "{dry:?}"
    );
    let err = ops.apply(&promote, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&err, OpError::Refused(m) if m.contains("would lose the last 1 transactions written on my0")),
        "{err}"
    );
    assert_eq!(c.node("my1").value(orders).await, Some("before".into()));
    assert!(
        c.node("my1")
            .replica_status("Slave_SQL_Running")
            .await
            .is_some(),
        "refused, so still a replica"
    );

    c.node("my1").exec("START SLAVE IO_THREAD").await;
    let promoted = ops.apply(&promote, Mode::Apply).await.unwrap();
    assert!(promoted.summary.contains("promoted"), "{promoted:?}");
    assert_eq!(
        c.node("my1").value(orders).await,
        Some("before,last".into()),
        "nothing the old primary wrote is lost"
    );
}
