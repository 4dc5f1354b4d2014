//! MariaDB behind ProxySQL: one primary taking the mall's writes, two replicas following it.

use super::dice::Dice;
use crate::model::db::{DbCluster, DbMember, DbSnapshot, Engine, Role};

mod control;

pub(crate) const CLUSTER: &str = "shop-mariadb";
const LAG_THRESHOLD_S: f64 = 5.0;
/// Average binlog event group size, to turn transactions behind into bytes behind.
const BYTES_PER_TXN: u64 = 420;
/// Writes (orders, carts, sessions) per request reaching the site.
const WRITES_PER_REQUEST: f64 = 0.08;
/// Share of the shop's requests that fail while nothing takes writes: checkout, cart,
/// login and sessions all write.
const WRITE_FAILURE_PCT: f64 = 18.0;
/// Where a replica re-pointed at a new primary starts: a moment behind, catching up.
const REPOINT_LAG_S: f64 = 1.2;
const MEMBERS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Link {
    /// A primary, or a member nobody can reach whose role is no longer known.
    None,
    Following {
        source: usize,
        lag: f64,
    },
    /// The IO thread gave up; the SQL thread applied everything it had received.
    Stopped {
        source: usize,
        error: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub reachable: bool,
    pub role: Role,
    pub read_only: bool,
    pub link: Link,
    /// The last GTID sequence number it has applied.
    pub pos: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct DbSim {
    dice: Dice,
    /// Draws for faults only, so injecting one never reshuffles the baseline.
    chaos: Dice,
    /// The writer's last GTID sequence number.
    seq: u64,
    /// Fractional transactions carried to the next second.
    carry: f64,
    tps: f64,
    members: Vec<Member>,
    /// Where ProxySQL's writer hostgroup sends writes.
    writer: usize,
    /// `(first sequence number, server_id)` of each primary's term, oldest first: GTIDs carry
    /// the server_id of the primary that wrote them.
    terms: Vec<(u64, usize)>,
}

impl DbSim {
    pub fn new(seed: u64) -> DbSim {
        let replica = |lag| Member {
            reachable: true,
            role: Role::Replica,
            read_only: true,
            link: Link::Following { source: 0, lag },
            pos: 0,
        };
        let mut db = DbSim {
            dice: Dice::new(seed, 2),
            chaos: Dice::new(seed, 10),
            seq: 48_213,
            carry: 0.0,
            tps: 6.0,
            members: vec![
                Member {
                    reachable: true,
                    role: Role::Primary,
                    read_only: false,
                    link: Link::None,
                    pos: 0,
                },
                replica(0.3),
                replica(0.6),
            ],
            writer: 0,
            terms: vec![(0, 1)],
        };
        db.update_positions();
        db
    }

    /// Whether the member ProxySQL sends writes to takes them.
    pub fn writable(&self) -> bool {
        let w = &self.members[self.writer];
        w.reachable && w.role == Role::Primary && !w.read_only
    }

    pub fn tick(&mut self, rpm: f64) {
        self.tps = if self.writable() {
            rpm / 60.0 * WRITES_PER_REQUEST
        } else {
            0.0
        };
        self.carry += self.tps * (0.7 + 0.6 * self.dice.unit());
        let whole = self.carry.floor();
        self.carry -= whole;
        self.seq += whole as u64;
        for i in 0..MEMBERS {
            let source_up = match self.members[i].link {
                Link::Following { source, .. } => self.members[source].reachable,
                _ => continue,
            };
            if !source_up {
                self.lose_source(i);
                continue;
            }
            if let Link::Following { lag, .. } = &mut self.members[i].link {
                // A random walk pulled back towards half a second: replicas catch up.
                *lag += 0.2 * self.dice.wobble() - 0.1 * (*lag - 0.5);
                *lag = lag.clamp(0.0, 2.0);
            }
        }
        self.update_positions();
    }

    /// The replica's IO thread cannot reach its source any more; it keeps what it applied.
    fn lose_source(&mut self, i: usize) {
        let Link::Following { source, .. } = self.members[i].link else {
            return;
        };
        let host = host(source);
        self.members[i].link = Link::Stopped {
            source,
            error: format!(
                "error reconnecting to master 'repl@{host}:3306' - retry-time: 60 retries: 86400"
            ),
        };
    }

    /// How far behind a following replica is, in transactions.
    fn behind(&self, lag: f64, source_pos: u64, source: usize) -> u64 {
        let tps = if source == self.writer { self.tps } else { 0.0 };
        let lag = (lag * 10.0).round() / 10.0;
        ((lag * tps).round() as u64).min(source_pos)
    }

    fn update_positions(&mut self) {
        if self.writable() {
            self.members[self.writer].pos = self.seq;
        }
        for i in 0..MEMBERS {
            if let Link::Following { source, lag } = self.members[i].link {
                let source_pos = self.members[source].pos;
                self.members[i].pos = source_pos - self.behind(lag, source_pos, source);
            }
        }
    }

    /// The worst lag of a reachable replica; `None` when one of them cannot say.
    pub fn max_lag(&self) -> Option<f64> {
        let mut worst: f64 = 0.0;
        for m in self.members.iter().filter(|m| m.reachable) {
            match m.link {
                Link::Following { lag, .. } => worst = worst.max(lag),
                Link::Stopped { .. } => return None,
                Link::None => {}
            }
        }
        Some(worst)
    }

    pub fn lag_threshold(&self) -> f64 {
        LAG_THRESHOLD_S
    }

    /// The member ProxySQL writes to, when nobody can reach it.
    pub fn writer_down(&self) -> Option<String> {
        (!self.members[self.writer].reachable).then(|| name(self.writer))
    }

    /// 5xx share, in percent, that failing writes add to the shop.
    pub fn write_errors(&self) -> f64 {
        if self.writable() {
            0.0
        } else {
            WRITE_FAILURE_PCT
        }
    }

    fn gtid(&self, pos: u64) -> String {
        let server = self
            .terms
            .iter()
            .rev()
            .find(|(first, _)| *first <= pos)
            .or(self.terms.first())
            .map_or(1, |t| t.1);
        format!("0-{server}-{pos}")
    }

    fn router(&self) -> String {
        format!("ProxySQL writer hostgroup 10 → {}", name(self.writer))
    }

    pub fn snapshot(&self) -> DbSnapshot {
        let members = (0..MEMBERS).map(|i| self.member_row(i)).collect();
        DbSnapshot {
            clusters: vec![DbCluster {
                name: CLUSTER.into(),
                engine: Engine::MariaDb,
                router: Some(self.router()),
                lag_threshold_s: LAG_THRESHOLD_S,
                members,
            }],
        }
    }

    fn member_row(&self, i: usize) -> DbMember {
        let m = &self.members[i];
        let row = DbMember {
            name: name(i),
            endpoint: format!("{}:3306", host(i)),
            role: m.role,
            role_from: None,
            reachable: m.reachable,
            read_only: None,
            io_running: None,
            sql_running: None,
            lag_seconds: None,
            lag_bytes: None,
            position: None,
            last_error: None,
            detail: None,
        };
        if !m.reachable {
            return DbMember {
                last_error: Some(format!(
                    "Can't connect to MySQL server on '{}' (111)",
                    host(i)
                )),
                ..row
            };
        }
        let row = DbMember {
            read_only: Some(m.read_only),
            position: Some(self.gtid(m.pos)),
            ..row
        };
        match &m.link {
            Link::None => row,
            Link::Following { source, lag } => {
                let source_pos = self.members[*source].pos;
                let behind = self.behind(*lag, source_pos, *source);
                DbMember {
                    io_running: Some(true),
                    sql_running: Some(true),
                    lag_seconds: Some((lag * 10.0).round() / 10.0),
                    lag_bytes: Some(behind * BYTES_PER_TXN),
                    ..row
                }
            }
            Link::Stopped { error, .. } => DbMember {
                io_running: Some(false),
                sql_running: Some(true),
                last_error: Some(error.clone()),
                ..row
            },
        }
    }
}

fn name(ordinal: usize) -> String {
    format!("mariadb-{ordinal}")
}

fn host(ordinal: usize) -> String {
    format!("mariadb-{ordinal}.mariadb.db.svc")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn seq(position: Option<&str>) -> u64 {
        position
            .and_then(|p| p.strip_prefix("0-1-"))
            .and_then(|s| s.parse().ok())
            .unwrap()
    }

    #[test]
    fn replicas_follow_close_behind_and_stay_healthy() {
        let mut db = DbSim::new(11);
        let first = seq(db.snapshot().clusters[0].members[0].position.as_deref());
        for _ in 0..3600 {
            db.tick(4500.0);
            let snap = db.snapshot();
            let c = &snap.clusters[0];
            let primary = seq(c.members[0].position.as_deref());
            for r in &c.members[1..] {
                assert_eq!(r.status(c.lag_threshold_s).0, Level::Ok);
                assert!((0.0..=2.0).contains(&r.lag_seconds.unwrap()));
                assert!(
                    seq(r.position.as_deref()) <= primary
                        && primary - seq(r.position.as_deref()) < 30
                );
            }
        }
        let last = seq(db.snapshot().clusters[0].members[0].position.as_deref());
        assert!(
            (first + 15_000..first + 30_000).contains(&last),
            "{first} → {last}"
        );
    }
}
