//! Live database replication: one polling task for every configured database, and the
//! failover operations (`DbOps`) playbooks run against them.
//!
//! Every member is asked concurrently, each under a deadline, so one hung server shows as
//! down on the next poll instead of freezing the pane.

pub mod calls;
pub mod candidate;
pub mod config;
pub mod lineage;
pub mod mariadb;
pub mod ops;
pub mod position;
pub mod postgres;
pub mod promotions;
pub mod proxysql;
pub mod rds;
pub mod secret;
pub mod state_file;
pub mod tls;

pub use candidate::best_candidate;
pub use config::{DbConfig, DbKind, MemberConfig};
pub use lineage::RoleMemory;
pub use ops::DbOps;
pub use secret::Secret;

use crate::model::db::{DbCluster, DbMember, DbSnapshot, Engine, Role};
use crate::sources::{Tx, publish_partial};
use futures::future::join_all;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Connecting, and each query, may take this long. Together they stay under the member
/// deadline, so a down member is reported within 2 s of the poll that found it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1000);
pub const MEMBER_DEADLINE: Duration = Duration::from_millis(1500);

/// A member's open connection, kept between polls: reconnecting (and authenticating)
/// every poll would cost more than the status queries themselves.
enum Link {
    Closed,
    Pg(postgres::PgConn),
    My(mariadb::MyConn),
}

struct ClusterPoller {
    cfg: DbConfig,
    links: Vec<Link>,
    /// The role each member last answered with, for naming it when it does not.
    seen: BTreeMap<String, lineage::Seen>,
    /// RDS: the API clients, built once (loading AWS config reads files and env).
    aws: Option<rds::RdsClients>,
}

/// Polls every configured database; owns the connections.
pub struct DbPoller {
    clusters: Vec<ClusterPoller>,
    memory: RoleMemory,
}

impl DbPoller {
    /// Names members that do not answer from what the rest say and from `memory`, and
    /// keeps the roles it sees there for the next console.
    pub fn new(configs: Vec<DbConfig>, memory: RoleMemory) -> DbPoller {
        let mut roles = memory.load();
        DbPoller {
            clusters: configs
                .into_iter()
                .map(|cfg| ClusterPoller {
                    links: cfg.members.iter().map(|_| Link::Closed).collect(),
                    seen: roles.remove(&cfg.name).unwrap_or_default(),
                    aws: None,
                    cfg,
                })
                .collect(),
            memory,
        }
    }

    /// One status round over every cluster, all members at once.
    pub async fn poll(&mut self) -> DbSnapshot {
        let now = Timestamp::now();
        let rounds = join_all(self.clusters.iter_mut().map(|c| c.poll(now))).await;
        if rounds.iter().any(|(_, changed)| *changed) {
            // Read again first: another console may have written other clusters since.
            let mut roles = self.memory.load();
            for c in &self.clusters {
                roles.insert(c.cfg.name.clone(), c.seen.clone());
            }
            self.memory.save(&roles);
        }
        DbSnapshot {
            clusters: rounds.into_iter().map(|(c, _)| c).collect(),
        }
    }
}

impl ClusterPoller {
    /// The cluster now, and whether a member's role changed since the last round.
    async fn poll(&mut self, now: Timestamp) -> (DbCluster, bool) {
        let started = Instant::now();
        let cfg = &self.cfg;
        let names: Vec<(String, String)> = cfg
            .members
            .iter()
            .map(|m| (m.name.clone(), m.address.clone()))
            .collect();
        let mut members = match (cfg.kind, cfg.validate()) {
            (_, Err(e)) => down_all(&names, &e),
            (DbKind::Postgres, Ok(())) => {
                let answers = join_all(
                    cfg.members
                        .iter()
                        .zip(self.links.iter_mut())
                        .map(|(m, link)| pg_member(cfg, m, link)),
                )
                .await;
                postgres::status::members(&names, answers)
            }
            (DbKind::Mariadb, Ok(())) => {
                let answers = join_all(
                    cfg.members
                        .iter()
                        .zip(self.links.iter_mut())
                        .map(|(m, link)| my_member(cfg, m, link)),
                )
                .await;
                mariadb::status::members(&names, answers)
            }
            (DbKind::Rds, Ok(())) => {
                if self.aws.is_none() {
                    self.aws = Some(rds::clients(cfg, MEMBER_DEADLINE, 1).await);
                }
                match &self.aws {
                    Some(aws) => {
                        let work = rds::members(cfg, aws);
                        match tokio::time::timeout(MEMBER_DEADLINE * 2, work).await {
                            Ok(members) => members,
                            Err(_) => down_all(
                                &names,
                                &format!(
                                    "database {}: the AWS API did not answer within {} ms",
                                    cfg.name,
                                    (MEMBER_DEADLINE * 2).as_millis()
                                ),
                            ),
                        }
                    }
                    None => down_all(&names, "no AWS clients"),
                }
            }
        };
        let writer = match &cfg.proxysql {
            Some(p) if members.iter().any(|m| !m.reachable) => {
                match deadline("proxysql", proxysql::writer(p)).await {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::warn!(cluster = %cfg.name, error = %e, "ProxySQL writer not read");
                        None
                    }
                }
            }
            _ => None,
        };
        lineage::name_unreachable(cfg, &mut members, writer.as_deref(), Some(&self.seen));
        let changed = lineage::remember(&mut self.seen, &members, now);
        for m in members.iter().filter(|m| !m.reachable) {
            tracing::warn!(
                cluster = %cfg.name,
                member = %m.name,
                error = m.last_error.as_deref().unwrap_or(""),
                "database member unreachable"
            );
        }
        tracing::debug!(cluster = %cfg.name, ms = started.elapsed().as_millis() as u64, "polled");
        (cluster_view(cfg, members), changed)
    }
}

pub(crate) fn cluster_view(cfg: &DbConfig, members: Vec<DbMember>) -> DbCluster {
    DbCluster {
        name: cfg.name.clone(),
        engine: match cfg.kind {
            DbKind::Postgres => Engine::Postgres,
            DbKind::Mariadb => Engine::MariaDb,
            DbKind::Rds => Engine::Rds,
        },
        router: cfg.proxysql.as_ref().map(|p| {
            format!(
                "ProxySQL {} writer hostgroup {}, readers {}",
                p.admin, p.writer_hostgroup, p.reader_hostgroup
            )
        }),
        lag_threshold_s: cfg.lag_threshold_s,
        members,
    }
}

fn down_all(names: &[(String, String)], error: &str) -> Vec<DbMember> {
    names
        .iter()
        .map(|(name, endpoint)| DbMember {
            name: name.clone(),
            endpoint: endpoint.clone(),
            role: Role::Unknown,
            role_from: None,
            reachable: false,
            read_only: None,
            io_running: None,
            sql_running: None,
            lag_seconds: None,
            lag_bytes: None,
            position: None,
            last_error: Some(error.to_string()),
            detail: None,
        })
        .collect()
}

async fn pg_member(
    cfg: &DbConfig,
    m: &MemberConfig,
    link: &mut Link,
) -> Result<postgres::status::PgStatus, String> {
    let work = async {
        if !matches!(link, Link::Pg(_)) {
            let password = cfg.password().resolve(&format!("database {}", cfg.name))?;
            *link = Link::Pg(postgres::connect(cfg, m, password.as_ref()).await?);
        }
        match link {
            Link::Pg(conn) => postgres::status::query(conn).await,
            _ => Err(format!("{}: not connected", m.name)),
        }
    };
    let result = deadline(&m.name, work).await;
    if result.is_err() {
        // A connection that failed or hung once is not trusted again.
        *link = Link::Closed;
    }
    result
}

async fn my_member(
    cfg: &DbConfig,
    m: &MemberConfig,
    link: &mut Link,
) -> Result<mariadb::status::MyStatus, String> {
    let work = async {
        if !matches!(link, Link::My(_)) {
            let password = cfg.password().resolve(&format!("database {}", cfg.name))?;
            *link = Link::My(mariadb::connect(cfg.user(), m, password.as_ref(), &cfg.tls).await?);
        }
        match link {
            Link::My(conn) => mariadb::status::query(conn).await,
            _ => Err(format!("{}: not connected", m.name)),
        }
    };
    let result = deadline(&m.name, work).await;
    if result.is_err() {
        *link = Link::Closed;
    }
    result
}

async fn deadline<T>(
    member: &str,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(MEMBER_DEADLINE, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{member}: no answer within {} ms",
            MEMBER_DEADLINE.as_millis()
        )),
    }
}

/// One status round with fresh connections, for operations that must act on the present.
/// `memory` names members that do not answer, as the console's poller does.
pub async fn status_once(cfg: &DbConfig, memory: &RoleMemory) -> DbCluster {
    let mut poller = DbPoller::new(vec![cfg.clone()], memory.clone());
    let mut snap = poller.poll().await;
    snap.clusters
        .pop()
        .unwrap_or_else(|| cluster_view(cfg, Vec::new()))
}

/// Polls every configured database each `every` and publishes the snapshot; ends when the
/// console stops listening. A round where nothing answers also marks the source failing,
/// so the pane shows how stale it is.
/// `poke` asks for a round at once: after an operation changed a cluster, a playbook's next
/// check should not wait out the interval to see it.
pub fn spawn(
    configs: Vec<DbConfig>,
    memory: RoleMemory,
    tx: Tx<DbSnapshot>,
    every: Duration,
    poke: Arc<Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut poller = DbPoller::new(configs, memory);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = poke.notified() => ticks.reset(),
            }
            if tx.is_closed() {
                return;
            }
            let snapshot = poller.poll().await;
            let all_down = snapshot
                .clusters
                .iter()
                .flat_map(|c| &c.members)
                .all(|m| !m.reachable);
            let first_error = snapshot
                .clusters
                .iter()
                .flat_map(|c| &c.members)
                .find_map(|m| m.last_error.clone());
            // One send: a reader woken by the snapshot must see the failure with it.
            let errors: Vec<String> = match first_error {
                Some(e) if all_down => vec![format!("no database member answers: {e}")],
                _ => Vec::new(),
            };
            publish_partial(&tx, snapshot, Timestamp::now(), &errors);
        }
    })
}
