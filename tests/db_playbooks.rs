//! The shipped database playbooks, run by the real executor against real servers: the
//! files users get (from the embedded catalog), a live poller feeding the conditions, and
//! `DbOps` behind the router doing the work, as the live console wires them. A PostgreSQL
//! 15 or MariaDB 10.11 primary with two replicas per test, on loopback ports in temp dirs.

#[path = "dbsupport/certs.rs"]
mod certs;
#[path = "dbsupport/common.rs"]
mod common;
#[path = "dbsupport/maria.rs"]
mod maria;
#[path = "dbsupport/pg.rs"]
mod pg;

use common::{REPL_PASSWORD, config, eventually};
use jiff::SignedDuration;
use maria::MyCluster;
use opsdeck::incident::clock::SystemClock;
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Event, RunOutcome, Severity, Who};
use opsdeck::model::db::{DbCluster, Role};
use opsdeck::model::summary::Area;
use opsdeck::ops::route::Router;
use opsdeck::ops::{Mode, Op, Ops};
use opsdeck::playbook::run::{self, Answer, Context, Prompt, RunView, StepStatus};
use opsdeck::playbook::{catalog, plan};
use opsdeck::sources::db::{self, DbConfig, DbOps};
use opsdeck::sources::{Publishers, Sources};
use pg::PgCluster;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the test console polls the servers (the live console: every 5 s).
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The live console's database side: a poller publishing snapshots that the playbook's
/// conditions read, and `DbOps` (remembering promotions in a state file) behind the router.
struct Console {
    ctx: Context,
    sources: Sources,
    state_file: PathBuf,
    poller: tokio::task::JoinHandle<()>,
    // Dropping the senders would end the poller.
    _publishers: Publishers,
    _dir: tempfile::TempDir,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

impl Console {
    fn start(cfg: &DbConfig) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let (publishers, sources) = Publishers::channels();
        let state_file = dir.path().join("db-promotions.json");
        let poke = Arc::new(tokio::sync::Notify::new());
        let ops = DbOps::new(vec![cfg.clone()])
            .remembering(state_file.clone())
            .poking(poke.clone());
        let router = Router::default().route(Area::Db, Arc::new(ops));
        let memory = db::RoleMemory::default();
        let poller = db::spawn(
            vec![cfg.clone()],
            memory,
            publishers.db.clone(),
            POLL_EVERY,
            poke,
        );
        let mut desk = Desk::open(
            &dir.path().join("incidents"),
            Who {
                user: "kim".into(),
                from: None,
            },
        )
        .unwrap();
        let incident = NewIncident {
            title: format!("{} needs a new primary", cfg.name),
            severity: Severity::Sev1,
            alarm: None,
            detected_at: None,
            recognised: None,
            drill: None,
        };
        desk.open_incident(incident, jiff::Timestamp::now())
            .unwrap();
        let s = sources.clone();
        let ctx = Context {
            ops: Arc::new(router),
            snapshots: Arc::new(move || s.snapshots()),
            desk: Arc::new(Mutex::new(desk)),
            clock: Arc::new(SystemClock),
            read_only: None,
            anti_flap: SignedDuration::from_mins(30),
            speed: 1,
        };
        Console {
            ctx,
            sources,
            state_file,
            poller,
            _publishers: publishers,
            _dir: dir,
        }
    }

    /// Waits until the console's model of the cluster shows `what`, as an operator watching
    /// the pane would before running a playbook.
    async fn shows(&self, what: &str, check: impl Fn(&DbCluster) -> bool) {
        eventually(what, Duration::from_secs(20), || async {
            self.sources
                .db
                .borrow()
                .data
                .clusters
                .first()
                .is_some_and(&check)
        })
        .await;
    }

    /// Every member answers, `primary` as the primary and the others as replicas. Seen
    /// before a primary dies, this is the last role the console remembers for it.
    async fn shows_roles(&self, primary: &str) {
        self.shows(&format!("{primary} primary, the others replicas"), |c| {
            c.members.iter().all(|m| {
                let want = if m.name == primary {
                    Role::Primary
                } else {
                    Role::Replica
                };
                m.reachable && m.role == want
            })
        })
        .await;
    }

    /// Runs the shipped playbook `name` with its default inputs, answered as an operator
    /// would: yes to confirmations, the target's name where it must be typed, and no
    /// override of any failed guard.
    async fn run(&self, name: &str) -> Run {
        self.run_with(name, &[], None).await
    }

    /// As `run`, with `inputs` given and failed guards overridden with `reason` if any.
    async fn run_with(&self, name: &str, inputs: &[(&str, &str)], reason: Option<&str>) -> Run {
        let playbook = catalog::shipped(name).unwrap_or_else(|| panic!("{name} is shipped"));
        let given: Vec<(String, String)> = inputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let vars = plan::inputs(&playbook, &given).unwrap();
        let reason = reason.map(str::to_string);
        let (outcome, view, prompts) =
            run::execute_answering(&self.ctx, &playbook, vars, move |prompt| match prompt {
                Prompt::TypeTarget { target, .. } => Answer::Text(target.clone()),
                Prompt::Confirm { .. } | Prompt::Manual { .. } => Answer::Yes,
                Prompt::Override { .. } => reason.clone().map_or(Answer::No, Answer::Text),
            })
            .await;
        let ids = playbook.steps.iter().map(|s| s.id.clone()).collect();
        Run {
            outcome,
            view,
            prompts,
            ids,
        }
    }

    /// The run's journal, one word per event: `run`, `start x`, `ok x`, `fail x`, `end Ok`.
    fn journal(&self) -> Vec<String> {
        let desk = self.ctx.desk.lock().unwrap();
        desk.active()
            .unwrap()
            .entries
            .iter()
            .filter_map(|e| match &e.event {
                Event::RunStarted { .. } => Some("run".to_string()),
                Event::StepStarted { step, .. } => Some(format!("start {step}")),
                Event::StepFinished { step, ok, .. } => {
                    Some(format!("{} {step}", if *ok { "ok" } else { "fail" }))
                }
                Event::Override { step, .. } => Some(format!("override {step}")),
                Event::Refused { step, .. } => Some(format!("refused {step}")),
                Event::RunFinished { outcome, .. } => Some(format!("end {outcome:?}")),
                _ => None,
            })
            .collect()
    }
}

struct Run {
    outcome: RunOutcome,
    view: RunView,
    prompts: Vec<Prompt>,
    ids: Vec<String>,
}

impl Run {
    fn output(&self, step: &str) -> String {
        let s = self.view.steps.iter().find(|s| s.id == step).unwrap();
        s.output.join("\n")
    }

    /// Asserts that `step`'s output says each of `texts`.
    fn says(&self, step: &str, texts: &[&str]) {
        let out = self.output(step);
        for text in texts {
            assert!(out.contains(text), "{step} does not say {text:?}:\n{out}");
        }
    }

    /// The replica the `pick` step bound, checked to be one of `replicas` with `old` bound
    /// as the old primary. Equally advanced replicas of a live primary may be picked
    /// either way, as the WAL/binlog moves between polls.
    fn picked(&self, old: &str, replicas: &[&str]) -> String {
        let out = self.output("pick");
        let member = replicas
            .iter()
            .find(|r| out.contains(&format!("member = {r}, old_primary = {old}")))
            .unwrap_or_else(|| panic!("pick bound no replica of {replicas:?}: {out}"));
        member.to_string()
    }

    /// Every step ran and succeeded, in order, each journaled before and after, and the
    /// only questions were the fence's confirmation and the promotion's typed target.
    fn assert_clean(&self, console: &Console, promoted: &str) {
        let report = format!("{:#?}", self.view);
        assert_eq!(self.outcome, RunOutcome::Ok, "{report}");
        assert_eq!(self.view.outcome, Some(RunOutcome::Ok));
        for s in &self.view.steps {
            assert_eq!(s.status, StepStatus::Ok, "{}: {report}", s.id);
        }
        let mut want = vec!["run".to_string()];
        for id in &self.ids {
            want.push(format!("start {id}"));
            want.push(format!("ok {id}"));
        }
        want.push("end Ok".into());
        assert_eq!(console.journal(), want);
        assert!(
            matches!(
                self.prompts.as_slice(),
                [
                    Prompt::Confirm { step: f, .. },
                    Prompt::TypeTarget { step: p, target, .. },
                ] if f == "fence" && p == "promote" && target == promoted
            ),
            "{:?}",
            self.prompts
        );
    }
}

/// The journal's promotion and the anti-flap state file both name the cluster.
fn assert_promotion_remembered(console: &Console, cluster: &str, member: &str) {
    let desk = console.ctx.desk.lock().unwrap();
    let promoted = desk.active().unwrap().entries.iter().any(|e| {
        matches!(&e.event, Event::StepStarted { op: Some(Op::Promote { cluster: c, member: m }), .. }
            if c == cluster && m == member)
    });
    assert!(promoted, "the journal names the promotion");
    assert!(desk.last_promotion(cluster).is_some());
    let state = std::fs::read_to_string(&console.state_file).unwrap();
    assert!(state.contains(cluster), "{state}");
}

fn my_cfg(c: &MyCluster, extra: &str) -> DbConfig {
    config(
        "shop-mariadb",
        "mariadb",
        "opsdeck",
        &c.password_file,
        &c.members(),
        &format!("lag_threshold_s = 5.0\nanti_flap_s = 600\nverify_timeout_s = 10.0\n{extra}"),
    )
}

fn pg_cfg(c: &PgCluster) -> DbConfig {
    config(
        "orders-postgres",
        "postgres",
        "postgres",
        &c.password_file,
        &c.members(),
        "lag_threshold_s = 5.0\nanti_flap_s = 600\nverify_timeout_s = 20.0",
    )
}

fn repl_login(root: &Path) -> String {
    let file = root.join("repl-password");
    std::fs::write(&file, REPL_PASSWORD).unwrap();
    format!(
        "[replication]\nuser = \"repl\"\npassword_file = \"{}\"\n",
        file.display()
    )
}

async fn my_orders(node: &maria::MyNode) -> Option<String> {
    node.value("SELECT GROUP_CONCAT(id ORDER BY id) FROM test.orders")
        .await
}

async fn pg_orders(node: &pg::PgNode) -> Option<String> {
    node.value("SELECT string_agg(id, ',' ORDER BY id) FROM orders")
        .await
}

/// A row written on `primary` now reaches every one of `members`, with what came before.
async fn pg_all_have(c: &PgCluster, primary: &str, members: &[&str]) {
    c.node(primary)
        .exec("INSERT INTO orders VALUES ('after')")
        .await;
    for n in members {
        let node = c.node(n);
        eventually(
            &format!("{n} has the rows from before and after"),
            Duration::from_secs(20),
            || async { pg_orders(node).await == Some("after,before".into()) },
        )
        .await;
    }
}

async fn my_all_have(c: &MyCluster, primary: &str, members: &[&str]) {
    c.node(primary)
        .exec("INSERT INTO test.orders VALUES ('after')")
        .await;
    for n in members {
        if *n != primary {
            c.caught_up(primary, n).await;
        }
        assert_eq!(
            my_orders(c.node(n)).await,
            Some("after,before".into()),
            "{n}"
        );
    }
}

/// The other replica: not `old`, not `new`.
fn other<'a>(members: &[&'a str], old: &str, new: &str) -> &'a str {
    members.iter().find(|m| **m != old && **m != new).unwrap()
}

#[tokio::test]
async fn the_shipped_mariadb_failover_playbook_promotes_a_replica_and_loses_nothing() {
    let mut c = MyCluster::start(2).await;
    let cfg = my_cfg(&c, "");
    let console = Console::start(&cfg);
    c.node("my0")
        .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
        .await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('before')")
        .await;
    c.caught_up("my0", "my1").await;
    c.caught_up("my0", "my2").await;
    console.shows_roles("my0").await;

    c.node_mut("my0").kill();
    console
        .shows("my0 down", |c| {
            c.members.iter().any(|m| m.name == "my0" && !m.reachable)
        })
        .await;
    let run = console.run("failover-mariadb").await;

    let new = run.picked("my0", &["my1", "my2"]);
    let rest = other(&["my1", "my2"], "my0", &new);
    run.assert_clean(&console, &new);
    run.says("fence", &["does not answer"]);
    run.says(
        "promote",
        &[&format!("shop-mariadb/{new} promoted to primary")],
    );
    run.says("repoint", &[&format!("{rest} now follow {new}")]);
    run.says("verify", &[&format!("reached {rest}")]);
    assert_promotion_remembered(&console, "shop-mariadb", &new);
    my_all_have(&c, &new, &[&new, rest]).await;
}

#[tokio::test]
async fn the_shipped_postgres_failover_playbook_promotes_a_standby_and_loses_nothing() {
    let mut c = PgCluster::start(2).await;
    let cfg = pg_cfg(&c);
    let console = Console::start(&cfg);
    c.node("pg0")
        .exec("CREATE TABLE orders (id text primary key); INSERT INTO orders VALUES ('before')")
        .await;
    c.caught_up("pg0", &["pg1", "pg2"]).await;
    console.shows_roles("pg0").await;

    c.node_mut("pg0").kill();
    console
        .shows("pg0 down", |c| {
            c.members.iter().any(|m| m.name == "pg0" && !m.reachable)
        })
        .await;
    let run = console.run("failover-postgres").await;

    let new = run.picked("pg0", &["pg1", "pg2"]);
    let rest = other(&["pg1", "pg2"], "pg0", &new);
    run.assert_clean(&console, &new);
    run.says("fence", &["does not answer"]);
    run.says(
        "promote",
        &[&format!("orders-postgres/{new} promoted to primary")],
    );
    run.says("repoint", &[&format!("{rest} now follow {new}")]);
    run.says("verify", &[rest]);
    assert_promotion_remembered(&console, "orders-postgres", &new);
    pg_all_have(&c, &new, &[&new, rest]).await;
}

#[tokio::test]
async fn the_shipped_mariadb_switchover_playbook_demotes_the_old_primary_and_loses_nothing() {
    let c = MyCluster::start(2).await;
    let cfg = my_cfg(&c, &repl_login(c.root.path()));
    let console = Console::start(&cfg);
    c.node("my0")
        .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
        .await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('before')")
        .await;
    c.caught_up("my0", "my1").await;
    c.caught_up("my0", "my2").await;
    console.shows_roles("my0").await;

    let run = console.run("switchover-mariadb").await;

    let new = run.picked("my0", &["my1", "my2"]);
    let rest = other(&["my1", "my2"], "my0", &new);
    run.assert_clean(&console, &new);
    run.says(
        "promote",
        &[&format!(
            "{new}: wait until @@gtid_slave_pos covers my0's final @@gtid_binlog_pos"
        )],
    );
    run.says("repoint", &["my0 (demoted)", rest]);
    run.says("verify", &["my0", rest]);
    assert_promotion_remembered(&console, "shop-mariadb", &new);
    console.shows_roles(&new).await;
    my_all_have(&c, &new, &["my0", "my1", "my2"]).await;

    // And back to my0, inside the anti-flap window: the operator overrides the executor's
    // guard with a reason, and that override must reach DbOps' own anti-flap memory too.
    let back = console
        .run_with(
            "switchover-mariadb",
            &[("candidate", "my0")],
            Some("planned switch back after patching my0"),
        )
        .await;
    assert_eq!(back.outcome, RunOutcome::Ok, "{:#?}", back.view);
    assert_eq!(back.picked(&new, &["my0"]), "my0");
    assert!(
        matches!(
            back.prompts.as_slice(),
            // The guard is asked about before the fence: a refusal must change nothing.
            [
                Prompt::Override { step: o, why },
                Prompt::Confirm { step: f, .. },
                Prompt::TypeTarget { step: p, target, .. },
            ] if f == "fence" && p == "promote" && target == "my0" && o == "promote"
                && why.contains("anti-flap window")
        ),
        "{:?}",
        back.prompts
    );
    assert!(console.journal().contains(&"override promote".to_string()));
    assert!(
        back.output("promote")
            .contains("shop-mariadb/my0 promoted to primary"),
        "{}",
        back.output("promote")
    );
    console.shows_roles("my0").await;
    c.node("my0")
        .exec("INSERT INTO test.orders VALUES ('back')")
        .await;
    for n in ["my1", "my2"] {
        c.caught_up("my0", n).await;
        assert_eq!(
            my_orders(c.node(n)).await,
            Some("after,back,before".into()),
            "{n}"
        );
    }
}

#[tokio::test]
async fn the_shipped_postgres_switchover_playbook_rejoins_the_old_primary_and_loses_nothing() {
    let c = PgCluster::start_with(
        2,
        pg::Setup {
            rewindable: true,
            ..Default::default()
        },
    )
    .await;
    let mut cfg = pg_cfg(&c);
    cfg.members[0].rejoin_command = Some(vec![c.rejoin_script("pg0").display().to_string()]);
    let console = Console::start(&cfg);
    c.node("pg0")
        .exec("CREATE TABLE orders (id text primary key); INSERT INTO orders VALUES ('before')")
        .await;
    c.caught_up("pg0", &["pg1", "pg2"]).await;
    console.shows_roles("pg0").await;

    let run = console.run("switchover-postgres").await;

    let new = run.picked("pg0", &["pg1", "pg2"]);
    let rest = other(&["pg1", "pg2"], "pg0", &new);
    run.assert_clean(&console, &new);
    run.says("promote", &["pg0's final pg_current_wal_lsn()"]);
    run.says("repoint", &["pg0 (demoted)", rest]);
    assert_promotion_remembered(&console, "orders-postgres", &new);
    console.shows_roles(&new).await;
    pg_all_have(&c, &new, &["pg0", "pg1", "pg2"]).await;
}

async fn my_count(node: &maria::MyNode) -> Option<String> {
    node.value("SELECT COUNT(*) FROM test.orders").await
}

/// A primary with 100 committed orders, replicated to every replica.
async fn my_with_orders(replicas: usize) -> MyCluster {
    let c = MyCluster::start(replicas).await;
    let primary = c.node("my0");
    primary
        .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
        .await;
    primary
        .exec("INSERT INTO test.orders SELECT seq FROM test.seq_1_to_100")
        .await;
    for r in 1..=replicas {
        c.caught_up("my0", &format!("my{r}")).await;
    }
    c
}

/// The old primary as the pane shows it when it died before the console started.
fn named_dead(c: &DbCluster, old: &str) -> bool {
    c.members.iter().any(|m| {
        m.name == old
            && !m.reachable
            && m.role == Role::Primary
            && m.role_from
                .as_deref()
                .is_some_and(|f| f.ends_with("replication source"))
    })
}

#[tokio::test]
async fn a_mariadb_primary_dead_before_the_console_started_is_named_and_failed_over() {
    let mut c = my_with_orders(2).await;
    // Paged at 3 a.m.: the primary is gone before anyone opens the console.
    c.node_mut("my0").kill();
    let cfg = my_cfg(&c, "");
    let console = Console::start(&cfg);
    console
        .shows("my0 named the old primary by a replica", |c| {
            named_dead(c, "my0")
        })
        .await;

    let run = console.run("failover-mariadb").await;

    let new = run.picked("my0", &["my1", "my2"]);
    let rest = other(&["my1", "my2"], "my0", &new);
    run.assert_clean(&console, &new);
    run.says("fence", &["my0 is unreachable, so counted as fenced"]);
    run.says("repoint", &[&format!("{rest} now follow {new}")]);
    let promoted = c.node(&new);
    promoted
        .exec("INSERT INTO test.orders VALUES ('after')")
        .await;
    c.caught_up(&new, rest).await;
    for n in [new.as_str(), rest] {
        assert_eq!(my_count(c.node(n)).await.as_deref(), Some("101"), "{n}");
    }
}

#[tokio::test]
async fn a_postgres_primary_dead_before_the_console_started_is_named_and_failed_over() {
    let mut c = PgCluster::start(2).await;
    c.node("pg0")
        .exec("CREATE TABLE orders (id text primary key); INSERT INTO orders SELECT g::text FROM generate_series(1, 100) g")
        .await;
    c.caught_up("pg0", &["pg1", "pg2"]).await;
    c.node_mut("pg0").kill();
    let cfg = pg_cfg(&c);
    let console = Console::start(&cfg);
    console
        .shows("pg0 named the old primary by a standby", |c| {
            named_dead(c, "pg0")
        })
        .await;

    let run = console.run("failover-postgres").await;

    let new = run.picked("pg0", &["pg1", "pg2"]);
    let rest = other(&["pg1", "pg2"], "pg0", &new);
    run.assert_clean(&console, &new);
    run.says("fence", &["pg0 is unreachable, so counted as fenced"]);
    c.node(&new)
        .exec("INSERT INTO orders VALUES ('after')")
        .await;
    c.caught_up(&new, &[rest]).await;
    for n in [new.as_str(), rest] {
        assert_eq!(
            c.node(n)
                .value("SELECT count(*)::text FROM orders")
                .await
                .as_deref(),
            Some("101"),
            "{n}"
        );
    }
}

/// The primary is writable, and a client that was connected before the run still is.
async fn untouched(c: &MyCluster, primary: &str, client: &mut mysql_async::Conn) {
    use mysql_async::prelude::Queryable;
    assert_eq!(
        c.node(primary)
            .value("SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0"),
        "{primary} is still writable"
    );
    let alive: Option<u8> = client
        .query_first("SELECT 1")
        .await
        .expect("client not killed");
    assert_eq!(alive, Some(1));
}

#[tokio::test]
async fn a_refused_run_changes_nothing_on_the_servers() {
    let c = my_with_orders(2).await;
    let cfg = my_cfg(&c, &repl_login(c.root.path()));
    let console = Console::start(&cfg);
    console.shows_roles("my0").await;
    let mut client = c.node("my0").conn().await;

    // A candidate that cannot be promoted (its SQL thread is stopped) is found before the
    // fence, not at the promotion after it.
    c.node("my2").exec("STOP SLAVE SQL_THREAD").await;
    console
        .shows("my2 not replaying", |c| {
            c.members
                .iter()
                .any(|m| m.name == "my2" && m.sql_running == Some(false))
        })
        .await;
    let lagging = console
        .run_with("switchover-mariadb", &[("candidate", "my2")], None)
        .await;
    assert_eq!(lagging.outcome, RunOutcome::Failed, "{:#?}", lagging.view);
    assert!(lagging.prompts.is_empty(), "{:?}", lagging.prompts);
    lagging.says(
        "promote",
        &[
            "preflight: refused",
            "SQL thread stopped",
            "nothing was changed",
        ],
    );
    assert!(console.journal().contains(&"refused promote".to_string()));
    assert!(!console.journal().contains(&"start fence".to_string()));
    untouched(&c, "my0", &mut client).await;
    c.node("my2").exec("START SLAVE SQL_THREAD").await;

    // Read-only: refused before anything runs.
    let mut ro = console.ctx.clone();
    ro.read_only = Some("--read-only".into());
    let playbook = catalog::shipped("switchover-mariadb").unwrap();
    let vars = plan::inputs(&playbook, &[]).unwrap();
    let (outcome, _, prompts) = run::execute_answering(&ro, &playbook, vars, |_| Answer::Yes).await;
    assert_eq!(outcome, RunOutcome::Failed);
    assert!(prompts.is_empty());
    untouched(&c, "my0", &mut client).await;

    // Anti-flap: a promotion moments ago (another console's, in the state file) refuses the
    // next one before its fence, when the operator gives no reason.
    std::fs::write(
        &console.state_file,
        format!("{{\"shop-mariadb\": \"{}\"}}", jiff::Timestamp::now()),
    )
    .unwrap();
    let flapping = console.run("switchover-mariadb").await;
    assert_eq!(flapping.outcome, RunOutcome::Failed, "{:#?}", flapping.view);
    assert!(
        matches!(flapping.prompts.as_slice(), [Prompt::Override { step, why }]
            if step == "promote" && why.contains("anti-flap window")),
        "only the override was asked, before the fence: {:?}",
        flapping.prompts
    );
    assert!(!console.journal().iter().any(|e| e == "start fence"));
    untouched(&c, "my0", &mut client).await;

    // What a run puts back when a guard only the promotion can know refuses after the fence.
    let ops = DbOps::new(vec![cfg.clone()]);
    let (cluster, member) = ("shop-mariadb".to_string(), "my0".to_string());
    let fence = Op::Fence { cluster, member };
    ops.apply(&fence, Mode::Apply).await.unwrap();
    let ro = || c.node("my0").value("SELECT @@global.read_only");
    assert_eq!(ro().await.as_deref(), Some("1"));
    let lifted = ops
        .apply(&fence.undo().unwrap(), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(ro().await.as_deref(), Some("0"), "{lifted:?}");
}

/// `opsdeck ARGS` with its own home and `stdin` as the operator's answers; the exit status
/// and everything it printed.
fn opsdeck(home: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run opsdeck");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The playbook runs journaled in `file`: (run number, playbook).
fn runs_in(file: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "run_started")
        .map(|v| {
            (
                v["run"].as_u64().unwrap(),
                v["playbook"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn playbook_run_on_the_command_line_reaches_the_live_servers_and_keeps_drills_apart() {
    let mut c = my_with_orders(2).await;
    c.node_mut("my0").kill();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("opsdeck.toml");
    let table = common::config_text(
        "shop-mariadb",
        "mariadb",
        "opsdeck",
        &c.password_file,
        &c.members(),
        "lag_threshold_s = 5.0\nverify_timeout_s = 10.0",
    );
    std::fs::write(&config, format!("[[databases]]\n{table}")).unwrap();
    let cfg = config.to_str().unwrap();
    let h = home.path();
    let live_journal = h.join("data/opsdeck/incidents/changes.jsonl");
    let drill_journal = h.join("data/opsdeck/drill/incidents/changes.jsonl");
    let failover = ["--config", cfg, "playbook", "run", "failover-mariadb"];
    let with = |extra: &[&'static str]| [&failover[..], extra].concat();

    let (ok, out) = opsdeck(h, &["--config", cfg, "status", "--json"], "");
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let my0 = &v["db"]["clusters"][0]["members"][0];
    assert_eq!(my0["role"], "primary", "{my0}");
    assert!(
        my0["role_from"]
            .as_str()
            .unwrap()
            .contains("replication source"),
        "{my0}"
    );

    // A drill of a cluster that happens to share the live cluster's name.
    let (ok, out) = opsdeck(
        h,
        &with(&["--drill", "--yes", "--input", "candidate=mariadb-1"]),
        "mariadb-1\n",
    );
    assert!(ok, "{out}");
    assert!(out.starts_with("DRILL (seed 42, --drill)"), "{out}");
    assert!(
        out.trim_end().ends_with("failover-mariadb: finished ok"),
        "{out}"
    );
    assert_eq!(runs_in(&drill_journal).len(), 1);
    assert!(
        runs_in(&live_journal).is_empty(),
        "no drill run in the live journal"
    );

    let (ok, out) = opsdeck(h, &with(&["--dry-run", "--input", "candidate=my1"]), "");
    assert!(ok, "{out}");
    assert!(
        out.starts_with("LIVE (shop-mariadb): changes are real"),
        "{out}"
    );
    assert!(
        out.contains("✓ guard: shop-mariadb/my1 may be promoted"),
        "{out}"
    );
    assert!(!out.contains("drill"), "{out}");
    assert!(out.contains("nothing was changed"), "{out}");

    // A typed target must be the target: anything else changes nothing.
    let (ok, out) = opsdeck(h, &with(&["--yes", "--input", "candidate=my1"]), "my2\n");
    assert!(!ok, "{out}");
    assert!(out.contains("y (--yes)"), "{out}");
    assert!(out.contains("[type the target]"), "{out}");
    assert!(
        out.contains("typed `my2`, not `my1`: not confirmed"),
        "{out}"
    );
    assert_eq!(
        c.node("my1")
            .value("SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );

    let (ok, out) = opsdeck(h, &with(&["--yes", "--input", "candidate=my1"]), "my1\n");
    assert!(ok, "{out}");
    assert!(
        !out.contains("[override reason]"),
        "the drill's failover guards nothing: {out}"
    );
    assert!(
        out.trim_end().ends_with("failover-mariadb: finished ok"),
        "{out}"
    );
    assert_eq!(
        c.node("my1")
            .value("SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0"),
        "my1 is the writable primary"
    );
    assert_eq!(my_count(c.node("my1")).await.as_deref(), Some("100"));

    // Inside the anti-flap window a stray `y` is no reason, and nothing is touched.
    let (ok, out) = opsdeck(h, &with(&["--yes", "--input", "candidate=my2"]), "y\n");
    assert!(!ok, "{out}");
    assert!(out.contains("[override reason]"), "{out}");
    assert!(
        out.contains("`y` is not a reason: the guard stands"),
        "{out}"
    );
    assert_eq!(
        c.node("my1")
            .value("SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("0"),
        "my1 was not fenced by a refused run"
    );

    let runs = runs_in(&live_journal);
    let numbers: Vec<u64> = runs.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [1, 2, 3], "every run has its own number");
}
