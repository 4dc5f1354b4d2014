//! MariaDB behind ProxySQL: one primary taking the mall's writes, two replicas following it.

use super::dice::Dice;
use crate::model::db::{DbCluster, DbMember, DbSnapshot, Engine, Role};

const CLUSTER: &str = "shop-mariadb";
const LAG_THRESHOLD_S: f64 = 5.0;
/// The primary's `gtid_domain_id` and `server_id`: replicas show the primary's GTIDs.
const GTID_PREFIX: &str = "0-1-";
/// Average binlog event group size, to turn transactions behind into bytes behind.
const BYTES_PER_TXN: u64 = 420;
/// Writes (orders, carts, sessions) per request reaching the site.
const WRITES_PER_REQUEST: f64 = 0.08;

#[derive(Debug, Clone)]
pub(crate) struct DbSim {
    dice: Dice,
    /// The primary's last GTID sequence number.
    seq: u64,
    /// Fractional transactions carried to the next second.
    carry: f64,
    tps: f64,
    /// Replica lag in seconds, for mariadb-1 and mariadb-2.
    lag: [f64; 2],
}

impl DbSim {
    pub fn new(seed: u64) -> DbSim {
        DbSim {
            dice: Dice::new(seed, 2),
            seq: 48_213,
            carry: 0.0,
            tps: 6.0,
            lag: [0.3, 0.6],
        }
    }

    pub fn tick(&mut self, rpm: f64) {
        self.tps = rpm / 60.0 * WRITES_PER_REQUEST;
        self.carry += self.tps * (0.7 + 0.6 * self.dice.unit());
        let whole = self.carry.floor();
        self.carry -= whole;
        self.seq += whole as u64;
        for lag in &mut self.lag {
            // A random walk pulled back towards half a second: replicas catch up on their own.
            *lag += 0.2 * self.dice.wobble() - 0.1 * (*lag - 0.5);
            *lag = lag.clamp(0.0, 2.0);
        }
    }

    /// The worst replica lag in seconds; `None` when a replica cannot say (never at baseline).
    pub fn max_lag(&self) -> Option<f64> {
        Some(self.lag.iter().copied().fold(0.0, f64::max))
    }

    pub fn lag_threshold(&self) -> f64 {
        LAG_THRESHOLD_S
    }

    pub fn snapshot(&self) -> DbSnapshot {
        let mut members = vec![DbMember {
            name: "mariadb-0".into(),
            endpoint: endpoint(0),
            role: Role::Primary,
            reachable: true,
            read_only: Some(false),
            io_running: None,
            sql_running: None,
            lag_seconds: None,
            lag_bytes: None,
            position: Some(format!("{GTID_PREFIX}{}", self.seq)),
            last_error: None,
            detail: None,
        }];
        for (i, &lag) in self.lag.iter().enumerate() {
            let lag = (lag * 10.0).round() / 10.0;
            let behind = ((lag * self.tps).round() as u64).min(self.seq);
            members.push(DbMember {
                name: format!("mariadb-{}", i + 1),
                endpoint: endpoint(i + 1),
                role: Role::Replica,
                reachable: true,
                read_only: Some(true),
                io_running: Some(true),
                sql_running: Some(true),
                lag_seconds: Some(lag),
                lag_bytes: Some(behind * BYTES_PER_TXN),
                position: Some(format!("{GTID_PREFIX}{}", self.seq - behind)),
                last_error: None,
                detail: None,
            });
        }
        DbSnapshot {
            clusters: vec![DbCluster {
                name: CLUSTER.into(),
                engine: Engine::MariaDb,
                router: Some("ProxySQL writer hostgroup 10 → mariadb-0".into()),
                lag_threshold_s: LAG_THRESHOLD_S,
                members,
            }],
        }
    }
}

fn endpoint(ordinal: usize) -> String {
    format!("mariadb-{ordinal}.mariadb.db.svc:3306")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn seq(position: Option<&str>) -> u64 {
        position
            .and_then(|p| p.strip_prefix(GTID_PREFIX))
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
