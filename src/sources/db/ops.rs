//! `DbOps`: fence, promote, re-point and verify on live PostgreSQL and MariaDB clusters.
//!
//! Guards run in both modes, so a dry-run refuses exactly what the real run would. The
//! anti-flap memory (last promotion per cluster) is kept in a state file when the console
//! gives one (`remembering`), so a restart does not reset it.

use super::calls::Calls;
use super::candidate::{ahead_of, unfit};
use super::config::{DbConfig, DbKind, MemberConfig};
use super::promotions::Promotions;
use super::{RoleMemory, mariadb, postgres, proxysql, rds};
use crate::model::db::{DbCluster, Role};
use crate::ops::{Mode, Op, OpError, Ops, Outcome};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub struct DbOps {
    configs: Vec<DbConfig>,
    promotions: Promotions,
    roles: RoleMemory,
    /// Wakes the poller after a change, so the pane and the next check see it at once.
    poke: Option<Arc<Notify>>,
    overrides: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for DbOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOps")
            .field(
                "clusters",
                &self.configs.iter().map(|c| &c.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A connection to one member of either engine.
enum Conn {
    Pg(postgres::PgConn),
    My(mariadb::MyConn),
}

impl DbOps {
    /// Remembers promotions for as long as it lives; see `remembering`.
    pub fn new(configs: Vec<DbConfig>) -> DbOps {
        DbOps {
            configs,
            promotions: Promotions::in_memory(),
            roles: RoleMemory::default(),
            poke: None,
            overrides: Mutex::new(HashSet::new()),
        }
    }

    /// Keeps the anti-flap memory in `state_file`, shared with every later (or concurrent)
    /// console using the same file.
    pub fn remembering(self, state_file: PathBuf) -> DbOps {
        DbOps {
            promotions: Promotions::in_file(state_file),
            ..self
        }
    }

    /// Names members that do not answer from the roles consoles last saw, as the poller
    /// writing `memory` does, so an operation finds the primary the pane shows.
    pub fn naming_from(self, memory: RoleMemory) -> DbOps {
        DbOps {
            roles: memory,
            ..self
        }
    }

    /// Notifies `poke` after every operation that may have changed a cluster.
    pub fn poking(self, poke: Arc<Notify>) -> DbOps {
        DbOps {
            poke: Some(poke),
            ..self
        }
    }

    /// When `cluster` was last promoted through opsdeck, as far as the state file says.
    pub fn last_promotion(&self, cluster: &str) -> Result<Option<Timestamp>, String> {
        self.promotions.last(cluster)
    }

    pub fn config(&self, cluster: &str) -> Result<&DbConfig, OpError> {
        self.configs
            .iter()
            .find(|c| c.name == cluster)
            .ok_or_else(|| OpError::NotFound(format!("database {cluster} is not configured")))
    }

    /// The cluster as it is now, from fresh connections.
    pub async fn status(&self, cluster: &str) -> Result<DbCluster, OpError> {
        Ok(super::status_once(self.config(cluster)?, &self.roles).await)
    }

    fn member<'a>(cfg: &'a DbConfig, name: &str) -> Result<&'a MemberConfig, OpError> {
        cfg.member(name)
            .ok_or_else(|| OpError::NotFound(format!("database {} has no member {name}", cfg.name)))
    }

    async fn connect(cfg: &DbConfig, m: &MemberConfig) -> Result<Conn, String> {
        let password = cfg.password().resolve(&format!("database {}", cfg.name))?;
        match cfg.kind {
            DbKind::Postgres => postgres::connect(cfg, m, password.as_ref())
                .await
                .map(Conn::Pg),
            DbKind::Mariadb => mariadb::connect(cfg.user(), m, password.as_ref(), &cfg.tls)
                .await
                .map(Conn::My),
            DbKind::Rds => Err(format!("database {}: RDS has no SQL failover", cfg.name)),
        }
    }

    fn anti_flap(&self, cfg: &DbConfig) -> Result<(), OpError> {
        let overridden = self
            .overrides
            .lock()
            .map(|o| o.contains(&cfg.name))
            .unwrap_or(false);
        match self.flap_refusal(cfg) {
            Some(why) if !overridden => Err(OpError::Refused(why)),
            _ => Ok(()),
        }
    }

    /// Why a promotion in `cfg`'s cluster now would flap, overrides aside.
    fn flap_refusal(&self, cfg: &DbConfig) -> Option<String> {
        // Not knowing is not "never": an unreadable state file stops the promotion too.
        let last = match self.last_promotion(&cfg.name) {
            Ok(last) => last?,
            Err(e) => {
                return Some(format!(
                    "{}: the anti-flap guard cannot tell when it was last promoted ({e}); \
                     re-issue with an override to promote anyway",
                    cfg.name
                ));
            }
        };
        let window = SignedDuration::from_secs(cfg.anti_flap_s.min(i64::MAX as u64) as i64);
        // A promotion "in the future" (a clock stepped back) counts as just now.
        let ago = Timestamp::now()
            .duration_since(last)
            .max(SignedDuration::ZERO);
        if ago >= window {
            return None;
        }
        Some(format!(
            "{} was promoted {} s ago (at {last}), inside its {} s anti-flap window; \
             re-issue with an override to promote again",
            cfg.name,
            ago.as_secs(),
            cfg.anti_flap_s
        ))
    }

    /// Remembers the promotion; a failure to write it down is returned for the summary,
    /// since the promotion itself has happened.
    fn record_promotion(&self, cluster: &str) -> String {
        if let Ok(mut o) = self.overrides.lock() {
            o.remove(cluster);
        }
        match self.promotions.record(cluster, Timestamp::now()) {
            Ok(()) => String::new(),
            Err(e) => {
                tracing::warn!(cluster, error = %e, "anti-flap state not saved");
                format!(" (anti-flap state not saved: {e})")
            }
        }
    }

    async fn fence(&self, cfg: &DbConfig, member: &str, mode: Mode) -> Result<Outcome, OpError> {
        let m = Self::member(cfg, member)?;
        let mut calls = Calls::default();
        let conn = match Self::connect(cfg, m).await {
            Ok(c) => c,
            Err(e) if mode == Mode::Apply => {
                // Down is as fenced as a server gets from here: it takes no writes.
                calls.note(format!("{member} does not answer: {e}"));
                let router = if cfg.proxysql.is_some() {
                    "the repoint step moves ProxySQL's writer hostgroup off it; "
                } else {
                    ""
                };
                return Ok(Outcome {
                    summary: format!(
                        "{}/{member} is unreachable, so counted as fenced: it takes no writes \
                         while it is down; {router}keep it from coming back as a writer (stop \
                         it, or rebuild it as a replica of the new primary)",
                        cfg.name
                    ),
                    calls: calls.0,
                });
            }
            Err(_) => {
                // A dry-run still shows what would be sent.
                calls.note(format!("{member} does not answer now; would run:"));
                match cfg.kind {
                    DbKind::Mariadb => {
                        calls.sql(member, "SET GLOBAL read_only = ON");
                        calls.sql(member, "KILL CONNECTION <each client connection>");
                    }
                    _ => {
                        calls.sql(
                            member,
                            "ALTER SYSTEM SET default_transaction_read_only = on",
                        );
                        calls.sql(member, "SELECT pg_reload_conf()");
                        calls.sql(member, "SELECT pg_terminate_backend(<each client backend>)");
                    }
                }
                return Ok(Outcome {
                    summary: format!("would fence {}/{member}", cfg.name),
                    calls: calls.0,
                });
            }
        };
        let summary = match conn {
            Conn::Pg(c) => {
                postgres::failover::fence(&c, mode, &mut calls).await?;
                format!(
                    "{}/{member} fenced: read-only, client backends terminated",
                    cfg.name
                )
            }
            Conn::My(mut c) => {
                let killed = mariadb::failover::fence(&mut c, mode, &mut calls).await?;
                c.close().await;
                format!(
                    "{}/{member} fenced: read_only=ON, {killed} client connections killed",
                    cfg.name
                )
            }
        };
        Ok(Outcome {
            summary,
            calls: calls.0,
        })
    }

    /// What refuses a promotion of `member` whatever the steps before it do: the anti-flap
    /// window, the candidate's own state, and replicas ahead of it. The cluster as it is now.
    async fn promotion_guards(&self, cfg: &DbConfig, member: &str) -> Result<DbCluster, OpError> {
        Self::member(cfg, member)?;
        self.anti_flap(cfg)?;
        let cluster = super::status_once(cfg, &self.roles).await;
        let state = cluster
            .members
            .iter()
            .find(|x| x.name == member)
            .ok_or_else(|| OpError::NotFound(format!("{member} not in status of {}", cfg.name)))?;
        if let Some(why) = unfit(state, cfg) {
            return Err(OpError::Refused(format!("{}/{member}: {why}", cfg.name)));
        }
        let ahead = ahead_of(&cluster, member);
        if !ahead.is_empty() {
            let mine = state
                .detail
                .as_ref()
                .and_then(|d| d.received.clone())
                .unwrap_or_default();
            return Err(OpError::Refused(format!(
                "{}/{member} received {mine}, less than {}: promote the most advanced replica \
                 or the others lose what they have and cannot follow",
                cfg.name,
                ahead.join(", ")
            )));
        }
        Ok(cluster)
    }

    /// Writes again on a member this run fenced; a member that went away has no fence to lift.
    async fn unfence(&self, cfg: &DbConfig, member: &str, mode: Mode) -> Result<Outcome, OpError> {
        let m = Self::member(cfg, member)?;
        let mut calls = Calls::default();
        let sql: &[&str] = match cfg.kind {
            DbKind::Mariadb => &["SET GLOBAL read_only = OFF"],
            _ => &[postgres::failover::LIFT_FENCE, "SELECT pg_reload_conf()"],
        };
        for s in sql {
            calls.sql(member, s);
        }
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!("would lift the fence on {}/{member}", cfg.name),
                calls: calls.0,
            });
        }
        let conn = match Self::connect(cfg, m).await {
            Ok(c) => c,
            Err(e) => {
                return Ok(Outcome {
                    summary: format!(
                        "{}/{member} does not answer ({e}): no fence to lift",
                        cfg.name
                    ),
                    calls: calls.0,
                });
            }
        };
        match conn {
            Conn::Pg(c) => {
                for s in sql {
                    c.exec(s).await.map_err(OpError::Failed)?;
                }
            }
            Conn::My(mut c) => {
                for s in sql {
                    c.exec(s).await.map_err(OpError::Failed)?;
                }
                c.close().await;
            }
        }
        Ok(Outcome {
            summary: format!(
                "{}/{member}'s fence lifted: it takes writes again",
                cfg.name
            ),
            calls: calls.0,
        })
    }

    async fn promote(&self, cfg: &DbConfig, member: &str, mode: Mode) -> Result<Outcome, OpError> {
        let m = Self::member(cfg, member)?;
        let cluster = self.promotion_guards(cfg, member).await?;
        let writers: Vec<&str> = cluster
            .members
            .iter()
            .filter(|x| x.reachable && x.role == Role::Primary && x.read_only == Some(false))
            .map(|x| x.name.as_str())
            .collect();
        let mut calls = Calls::default();
        if !writers.is_empty() {
            let why = format!(
                "{} still takes writes on {}: fence it first, or two primaries would accept writes",
                cfg.name,
                writers.join(", ")
            );
            // A dry-run sees the cluster before the fence step it plans has run.
            if mode == Mode::Apply {
                return Err(OpError::Refused(why));
            }
            calls.note(format!("at run time, refused unless fenced by then: {why}"));
        }
        let limit = Duration::from_secs_f64(cfg.lag_threshold_s.max(1.0));
        let conn = Self::connect(cfg, m).await.map_err(OpError::Failed)?;
        match conn {
            Conn::Pg(c) => {
                postgres::failover::wait_for_replay(
                    &c,
                    limit,
                    cfg.lag_threshold_s,
                    &mut calls,
                    mode,
                )
                .await?;
                // A switchover: the old primary still answers, fenced. Everything it wrote
                // must be on the candidate first.
                for old in fenced_primaries(&cluster) {
                    match Self::connect(cfg, Self::member(cfg, old)?).await {
                        Ok(Conn::Pg(o)) => {
                            postgres::failover::wait_for_final_lsn(
                                &o,
                                &c,
                                limit,
                                cfg.lag_threshold_s,
                                &mut calls,
                                mode,
                            )
                            .await?
                        }
                        // It went away since the status round: a failover after all.
                        _ => calls.note(format!(
                            "{old} no longer answers: its final WAL position cannot be read, \
                             only what {member} received is waited for"
                        )),
                    }
                }
                postgres::failover::promote(&c, mode, &mut calls).await?;
            }
            Conn::My(mut c) => {
                mariadb::failover::wait_for_relay(
                    &mut c,
                    limit,
                    cfg.lag_threshold_s,
                    mode,
                    &mut calls,
                )
                .await?;
                // A switchover: as for PostgreSQL, the fenced old primary's last write
                // must be on the candidate first.
                for old in fenced_primaries(&cluster) {
                    match Self::connect(cfg, Self::member(cfg, old)?).await {
                        Ok(Conn::My(mut o)) => {
                            let waited = mariadb::failover::wait_for_final_gtid(
                                &mut o,
                                &mut c,
                                limit,
                                cfg.lag_threshold_s,
                                mode,
                                &mut calls,
                            )
                            .await;
                            o.close().await;
                            waited?;
                        }
                        _ => calls.note(format!(
                            "{old} no longer answers: its final GTID position cannot be read, \
                             only what {member} received is waited for"
                        )),
                    }
                }
                mariadb::failover::promote(&mut c, mode, &mut calls).await?;
                c.close().await;
            }
        }
        let summary = match mode {
            Mode::Apply => {
                let unsaved = self.record_promotion(&cfg.name);
                tracing::info!(cluster = %cfg.name, member, "promoted to primary");
                format!("{}/{member} promoted to primary{unsaved}", cfg.name)
            }
            Mode::DryRun => format!("would promote {}/{member} to primary", cfg.name),
        };
        Ok(Outcome {
            summary,
            calls: calls.0,
        })
    }

    async fn repoint(&self, cfg: &DbConfig, primary: &str, mode: Mode) -> Result<Outcome, OpError> {
        let target = Self::member(cfg, primary)?;
        let cluster = super::status_once(cfg, &self.roles).await;
        let state = cluster.members.iter().find(|x| x.name == primary);
        let is_writer = state
            .is_some_and(|s| s.reachable && s.role == Role::Primary && s.read_only == Some(false));
        let mut calls = Calls::default();
        if !is_writer {
            if mode == Mode::Apply {
                return Err(OpError::Refused(format!(
                    "{}/{primary} is not a writable primary: promote it first",
                    cfg.name
                )));
            }
            calls.note(format!(
                "{primary} is not primary yet: it must be promoted first"
            ));
        }
        let mut followed = Vec::new();
        let mut left = Vec::new();
        let mut rejoins = Vec::new();
        for s in cluster.members.iter().filter(|x| x.name != primary) {
            let Some(m) = cfg.member(&s.name) else {
                continue;
            };
            if !s.reachable {
                left.push(format!("{} down", s.name));
                continue;
            }
            let conn = match Self::connect(cfg, m).await {
                Ok(c) => c,
                Err(e) => {
                    left.push(format!("{} unreachable ({e})", s.name));
                    continue;
                }
            };
            match (conn, s.role) {
                (Conn::Pg(c), Role::Replica) => {
                    postgres::failover::repoint(&c, target, mode, &mut calls).await?;
                    followed.push(s.name.clone());
                }
                (Conn::Pg(_), _) if s.read_only != Some(true) => left.push(format!(
                    "{} is still a writable primary: fence it first",
                    s.name
                )),
                (Conn::Pg(_), _) if m.rejoin_command.is_none() => {
                    left.push(postgres::rejoin::manual_steps(m, target));
                }
                // After the replicas: its shutdown checkpoint must not reach a replica
                // still streaming from it, or that replica could not follow the new
                // primary's timeline either.
                (Conn::Pg(_), _) => rejoins.push(m),
                (Conn::My(mut c), Role::Replica) => {
                    mariadb::failover::repoint(&mut c, target, mode, &mut calls).await?;
                    c.close().await;
                    followed.push(s.name.clone());
                }
                (Conn::My(mut c), _) if cfg.replication.is_some() => {
                    let Some(repl) = &cfg.replication else {
                        continue;
                    };
                    let pw = repl
                        .password()
                        .resolve(&format!("database {} replication", cfg.name))
                        .map_err(OpError::Failed)?;
                    mariadb::failover::demote(
                        &mut c,
                        target,
                        &repl.user,
                        pw.as_ref(),
                        mode,
                        &mut calls,
                    )
                    .await?;
                    c.close().await;
                    followed.push(format!("{} (demoted)", s.name));
                }
                _ => left.push(format!(
                    "{} is a fenced old primary: rebuild it as a replica",
                    s.name
                )),
            }
        }
        let mut rejoin_failed = Vec::new();
        for m in rejoins {
            match postgres::rejoin::rejoin(cfg, m, target, mode, &mut calls).await {
                Ok(()) => followed.push(format!("{} (demoted)", m.name)),
                Err(e) => rejoin_failed.push(e.to_string()),
            }
        }
        if let Some(p) = &cfg.proxysql {
            proxysql::move_writer(p, target, mode, &mut calls).await?;
        }
        let verb = if mode == Mode::Apply {
            "now follow"
        } else {
            "would follow"
        };
        let mut summary = format!("{} {verb} {primary}", list(&followed));
        if !left.is_empty() {
            summary.push_str(&format!("; not re-pointed: {}", left.join(", ")));
        }
        if !rejoin_failed.is_empty() {
            // The step fails so the operator sees it; what did work is said with it.
            return Err(OpError::Failed(format!(
                "{summary}; {}",
                rejoin_failed.join("; ")
            )));
        }
        Ok(Outcome {
            summary,
            calls: calls.0,
        })
    }

    async fn verify(&self, cfg: &DbConfig, mode: Mode) -> Result<Outcome, OpError> {
        let cluster = super::status_once(cfg, &self.roles).await;
        let writers: Vec<&str> = cluster
            .members
            .iter()
            .filter(|x| x.reachable && x.role == Role::Primary && x.read_only == Some(false))
            .map(|x| x.name.as_str())
            .collect();
        let primary = match writers.as_slice() {
            [one] => *one,
            [] => {
                return Err(OpError::Refused(format!(
                    "{} has no writable primary to write the marker on",
                    cfg.name
                )));
            }
            many => {
                return Err(OpError::Refused(format!(
                    "{} has more than one writable primary: {}",
                    cfg.name,
                    many.join(", ")
                )));
            }
        };
        let replicas: Vec<&str> = cluster
            .members
            .iter()
            .filter(|x| x.reachable && x.role == Role::Replica)
            .map(|x| x.name.as_str())
            .collect();
        let skipped: Vec<String> = cluster
            .members
            .iter()
            .filter(|x| x.name != primary && !replicas.contains(&x.name.as_str()))
            .map(|x| {
                if x.reachable {
                    format!("{} (not a replica)", x.name)
                } else {
                    format!("{} (down)", x.name)
                }
            })
            .collect();
        let marker = marker();
        let mut calls = Calls::default();
        let insert = match cfg.kind {
            DbKind::Mariadb => {
                for s in mariadb::failover::PROBE_SQL {
                    calls.sql(primary, s);
                }
                mariadb::failover::insert_marker_sql(&marker)
            }
            _ => {
                calls.sql(primary, postgres::failover::PROBE_TABLE_SQL);
                postgres::failover::insert_marker_sql(&marker)
            }
        };
        calls.sql(primary, &insert);
        calls.note(format!(
            "wait until {} show marker {marker} (at most {} s)",
            list(&replicas.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            cfg.verify_timeout_s
        ));
        if mode == Mode::DryRun {
            return Ok(Outcome {
                summary: format!("would verify {} through {primary}", cfg.name),
                calls: calls.0,
            });
        }
        let started = Instant::now();
        let p = Self::member(cfg, primary)?;
        match Self::connect(cfg, p).await.map_err(OpError::Failed)? {
            Conn::Pg(c) => {
                c.exec(postgres::failover::PROBE_TABLE_SQL)
                    .await
                    .map_err(OpError::Failed)?;
                c.exec(&insert).await.map_err(OpError::Failed)?;
            }
            Conn::My(mut c) => {
                for s in mariadb::failover::PROBE_SQL {
                    c.exec(s).await.map_err(OpError::Failed)?;
                }
                c.exec(&insert).await.map_err(OpError::Failed)?;
                c.close().await;
            }
        }
        let timeout = Duration::from_secs_f64(cfg.verify_timeout_s.max(0.1));
        let waits = replicas
            .iter()
            .map(|r| self.wait_for_marker(cfg, r, &marker, timeout));
        let results = futures::future::join_all(waits).await;
        let missing: Vec<String> = replicas
            .iter()
            .zip(&results)
            .filter(|(_, ok)| !**ok)
            .map(|(r, _)| r.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(OpError::Failed(format!(
                "{}: marker written on {primary} not seen on {} within {} s",
                cfg.name,
                missing.join(", "),
                cfg.verify_timeout_s
            )));
        }
        let mut summary = format!(
            "{}: a write on {primary} reached {} in {} ms",
            cfg.name,
            list(&replicas.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            started.elapsed().as_millis()
        );
        if !skipped.is_empty() {
            summary.push_str(&format!("; not checked: {}", skipped.join(", ")));
        }
        Ok(Outcome {
            summary,
            calls: calls.0,
        })
    }

    async fn wait_for_marker(
        &self,
        cfg: &DbConfig,
        member: &str,
        marker: &str,
        limit: Duration,
    ) -> bool {
        let Some(m) = cfg.member(member) else {
            return false;
        };
        let started = Instant::now();
        let mut conn = None;
        while started.elapsed() < limit {
            if conn.is_none() {
                conn = Self::connect(cfg, m).await.ok();
            }
            let seen = match &mut conn {
                Some(Conn::Pg(c)) => postgres::failover::has_marker(c, marker).await,
                Some(Conn::My(c)) => mariadb::failover::has_marker(c, marker).await,
                None => false,
            };
            if seen {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

impl DbOps {
    /// RDS promote-read-replica, behind the same guards as the SQL engines: anti-flap,
    /// lag threshold (CloudWatch ReplicaLag), and no writable source still serving.
    async fn promote_rds(
        &self,
        cfg: &DbConfig,
        member: &str,
        mode: Mode,
    ) -> Result<Outcome, OpError> {
        let m = Self::member(cfg, member)?;
        self.anti_flap(cfg)?;
        let cluster = super::status_once(cfg, &self.roles).await;
        let state = cluster
            .members
            .iter()
            .find(|x| x.name == member)
            .ok_or_else(|| OpError::NotFound(format!("{member} not in status of {}", cfg.name)))?;
        if let Some(why) = unfit(state, cfg) {
            return Err(OpError::Refused(format!("{}/{member}: {why}", cfg.name)));
        }
        if state.lag_seconds.is_none() {
            return Err(OpError::Refused(format!(
                "{}/{member}: CloudWatch has no ReplicaLag for it in the last 5 minutes, so \
                 how much would be lost is unknown; lag threshold {} s",
                cfg.name, cfg.lag_threshold_s
            )));
        }
        let source = state.detail.as_ref().and_then(|d| d.source.clone());
        if let Some(src) = &source
            && let Some(s) = cluster.members.iter().find(|x| {
                &x.endpoint == src || cfg.member(&x.name).is_some_and(|c| &c.address == src)
            })
            && s.reachable
        {
            return Err(OpError::Refused(format!(
                "{}: the source {} is still serving; promoting {member} would leave two \
                 writable instances (stop the source first, or use reboot with failover for \
                 Multi-AZ)",
                cfg.name, s.name
            )));
        }
        let mut calls = Calls::default();
        let aws = rds::clients(cfg, Duration::from_secs(30), 3).await;
        let status = rds::promote(&aws, &m.address, mode, &mut calls).await?;
        let summary = match mode {
            Mode::Apply => {
                let unsaved = self.record_promotion(&cfg.name);
                tracing::info!(cluster = %cfg.name, member, "RDS read replica promotion requested");
                format!(
                    "{}/{member}: promotion to a standalone instance requested (status {status}); \
                     it takes minutes — wait for it to show as primary{unsaved}",
                    cfg.name
                )
            }
            Mode::DryRun => format!("would promote {}/{member} (PromoteReadReplica)", cfg.name),
        };
        Ok(Outcome {
            summary,
            calls: calls.0,
        })
    }

    /// Multi-AZ: the primary reboots onto its standby in the other zone; same endpoint.
    async fn reboot_rds(&self, cfg: &DbConfig, mode: Mode) -> Result<Outcome, OpError> {
        self.anti_flap(cfg)?;
        let cluster = super::status_once(cfg, &self.roles).await;
        let primary = cluster
            .members
            .iter()
            .find(|x| x.role == Role::Primary && x.reachable)
            .ok_or_else(|| {
                OpError::Refused(format!("{} has no available primary instance", cfg.name))
            })?;
        if primary.detail.as_ref().and_then(|d| d.multi_az) != Some(true) {
            return Err(OpError::Refused(format!(
                "{}/{} is not Multi-AZ: there is no standby to fail over to",
                cfg.name, primary.name
            )));
        }
        let m = Self::member(cfg, &primary.name)?;
        let mut calls = Calls::default();
        let aws = rds::clients(cfg, Duration::from_secs(30), 3).await;
        let status = rds::reboot_with_failover(&aws, &m.address, mode, &mut calls).await?;
        let summary = match mode {
            Mode::Apply => {
                let unsaved = self.record_promotion(&cfg.name);
                format!(
                    "{}/{}: reboot onto the Multi-AZ standby requested (status {status}); \
                     wait for it to show available{unsaved}",
                    cfg.name, primary.name
                )
            }
            Mode::DryRun => format!("would reboot {}/{} with failover", cfg.name, primary.name),
        };
        Ok(Outcome {
            summary,
            calls: calls.0,
        })
    }
}

/// Old primaries that still answer but take no writes: the members a switchover has fenced.
fn fenced_primaries(cluster: &DbCluster) -> impl Iterator<Item = &str> {
    cluster
        .members
        .iter()
        .filter(|x| x.reachable && x.role == Role::Primary && x.read_only == Some(true))
        .map(|x| x.name.as_str())
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "no replica".into()
    } else {
        names.join(", ")
    }
}

/// Unique enough across processes and runs to never match an older marker.
fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("opsdeck-{}-{nanos}", std::process::id())
}

impl DbOps {
    async fn run(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        match op {
            Op::Promote { cluster, member } => {
                let cfg = self.config(cluster)?;
                if cfg.kind == DbKind::Rds {
                    return self.promote_rds(cfg, member, mode).await;
                }
                self.promote(cfg, member, mode).await
            }
            Op::RebootWithFailover { cluster } => {
                let cfg = self.config(cluster)?;
                if cfg.kind != DbKind::Rds {
                    return Err(OpError::Unsupported(format!(
                        "{op}: only RDS Multi-AZ instances reboot with failover"
                    )));
                }
                self.reboot_rds(cfg, mode).await
            }
            Op::Fence { cluster, .. }
            | Op::Unfence { cluster, .. }
            | Op::Repoint { cluster, .. }
            | Op::VerifyReplication { cluster }
                if self.config(cluster)?.kind == DbKind::Rds =>
            {
                Err(OpError::Unsupported(format!(
                    "{op}: RDS manages its own replication; after promote-read-replica, \
                     create new read replicas from the promoted instance and move the \
                     application's endpoint"
                )))
            }
            Op::Fence { cluster, member } => self.fence(self.config(cluster)?, member, mode).await,
            Op::Unfence { cluster, member } => {
                self.unfence(self.config(cluster)?, member, mode).await
            }
            Op::Repoint { cluster, primary } => {
                self.repoint(self.config(cluster)?, primary, mode).await
            }
            Op::VerifyReplication { cluster } => self.verify(self.config(cluster)?, mode).await,
            other => Err(OpError::Unsupported(format!(
                "{other}: not a database operation"
            ))),
        }
    }
}

#[async_trait]
impl Ops for DbOps {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        let result = self.run(op, mode).await;
        if mode == Mode::Apply
            && let Some(poke) = &self.poke
        {
            poke.notify_one();
        }
        result
    }
    /// Lets the next Promote of `cluster` through the anti-flap window, once. The operator
    /// re-issues the promotion after saying so; the caller journals the override.
    fn override_anti_flap(&self, cluster: &str) {
        if let Ok(mut o) = self.overrides.lock() {
            o.insert(cluster.to_string());
        }
    }

    fn anti_flap_refusal(&self, cluster: &str) -> Option<String> {
        self.flap_refusal(self.config(cluster).ok()?)
    }

    /// Only what the steps before `op` cannot change: a promotion's dry-run would also
    /// refuse while the primary still takes writes, which the fence before it is for.
    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        match op {
            Op::Promote { cluster, member } => {
                let cfg = self.config(cluster)?;
                if cfg.kind == DbKind::Rds {
                    return self
                        .promote_rds(cfg, member, Mode::DryRun)
                        .await
                        .map(|o| o.summary);
                }
                self.promotion_guards(cfg, member).await?;
                Ok(format!(
                    "{cluster}/{member} may be promoted: a fit replica, none ahead of it, \
                     outside the anti-flap window"
                ))
            }
            Op::Fence { cluster, member }
            | Op::Repoint {
                cluster,
                primary: member,
            } => {
                let cfg = self.config(cluster)?;
                Self::member(cfg, member)?;
                Ok(format!("{cluster}/{member} is configured"))
            }
            Op::VerifyReplication { cluster } => {
                self.config(cluster)?;
                Ok(format!("{cluster} is configured"))
            }
            other => self.apply(other, Mode::DryRun).await.map(|o| o.summary),
        }
    }
}
