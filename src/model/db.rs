//! Database replication topology, one cluster per configured database.

use super::Level;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DbSnapshot {
    pub clusters: Vec<DbCluster>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    MariaDb,
    Postgres,
    Rds,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::MariaDb => "MariaDB",
            Engine::Postgres => "PostgreSQL",
            Engine::Rds => "RDS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbCluster {
    pub name: String,
    pub engine: Engine,
    /// Where writes are routed, e.g. `ProxySQL writer hostgroup 10 → mariadb-0`.
    pub router: Option<String>,
    pub lag_threshold_s: f64,
    pub members: Vec<DbMember>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbMember {
    pub name: String,
    pub endpoint: String,
    pub role: Role,
    /// Where the role of a member that cannot answer for itself comes from
    /// (`named by mariadb-1's replication source`); `None` when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_from: Option<String>,
    pub reachable: bool,
    pub read_only: Option<bool>,
    /// MariaDB replica IO thread, or PostgreSQL WAL receiver, running.
    pub io_running: Option<bool>,
    /// MariaDB replica SQL thread, or PostgreSQL replay, running.
    pub sql_running: Option<bool>,
    /// `None` while replication is broken: never shown as 0.
    pub lag_seconds: Option<f64>,
    pub lag_bytes: Option<u64>,
    /// GTID position (MariaDB) or LSN (PostgreSQL).
    pub position: Option<String>,
    pub last_error: Option<String>,
    /// What a live engine says beyond the columns above; `None` from the drill world.
    pub detail: Option<MemberDetail>,
}

/// Engine-specific replication state, for a member's detail view and for choosing whom to
/// promote: the most advanced replica is judged by what it has *received*, not only applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemberDetail {
    /// MariaDB `Gtid_IO_Pos`, PostgreSQL `pg_last_wal_receive_lsn()`.
    pub received: Option<String>,
    /// PostgreSQL timeline; it changes with every promotion.
    pub timeline: Option<u32>,
    /// PostgreSQL WAL receiver status, MariaDB `Slave_IO_State`, RDS status infos.
    pub receiver_state: Option<String>,
    /// Where the member replicates from, as the member itself reports it.
    pub source: Option<String>,
    /// PostgreSQL `pg_last_xact_replay_timestamp()`.
    pub last_replay: Option<jiff::Timestamp>,
    /// PostgreSQL `pg_is_wal_replay_paused()`.
    pub replay_paused: Option<bool>,
    /// MariaDB: GTID sequence numbers the member is behind its primary.
    pub behind_transactions: Option<u64>,
    /// RDS instance status (`available`, `modifying`, …) and Multi-AZ.
    pub status: Option<String>,
    pub multi_az: Option<bool>,
    pub server_version: Option<String>,
    /// What the primary reports about each connected replica (`pg_stat_replication`).
    pub downstream: Vec<Downstream>,
}

/// One row of a PostgreSQL primary's `pg_stat_replication`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Downstream {
    pub name: String,
    pub address: Option<String>,
    pub state: Option<String>,
    pub sent: Option<String>,
    pub write: Option<String>,
    pub flush: Option<String>,
    pub replay: Option<String>,
    pub write_lag_s: Option<f64>,
    pub flush_lag_s: Option<f64>,
    pub replay_lag_s: Option<f64>,
    pub sync_state: Option<String>,
}

impl DbMember {
    /// A member that did not answer: only what the config and the last poll knew.
    pub fn unreachable(name: &str, endpoint: &str, role: Role, error: String) -> DbMember {
        DbMember {
            name: name.to_string(),
            endpoint: endpoint.to_string(),
            role,
            role_from: None,
            reachable: false,
            read_only: None,
            io_running: None,
            sql_running: None,
            lag_seconds: None,
            lag_bytes: None,
            position: None,
            last_error: Some(error),
            detail: None,
        }
    }

    /// A status word in the spirit of orchestrator's, and how bad it is.
    pub fn status(&self, lag_threshold_s: f64) -> (Level, &'static str) {
        if !self.reachable {
            return (Level::Crit, "down");
        }
        match self.role {
            Role::Primary if self.read_only == Some(true) => (Level::Warn, "read-only primary"),
            Role::Primary => (Level::Ok, "ok"),
            Role::Unknown => (Level::Warn, "unknown role"),
            Role::Replica => {
                if self.read_only == Some(false) {
                    (Level::Crit, "writable replica!")
                } else if self.io_running == Some(false) || self.sql_running == Some(false) {
                    (Level::Crit, "nonreplicating")
                } else {
                    match self.lag_seconds {
                        None => (Level::Crit, "broken"),
                        Some(lag) if lag > lag_threshold_s => (Level::Warn, "lag"),
                        Some(_) => (Level::Ok, "ok"),
                    }
                }
            }
        }
    }

    /// Lag as text: `0.4s`, or `broken` when the server cannot say.
    pub fn lag_text(&self) -> String {
        match (self.role, self.lag_seconds) {
            (Role::Primary, _) => "-".into(),
            (_, Some(s)) => format!("{s:.1}s"),
            (_, None) => "broken".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica() -> DbMember {
        DbMember {
            name: "r".into(),
            endpoint: "r:3306".into(),
            role: Role::Replica,
            role_from: None,
            reachable: true,
            read_only: Some(true),
            io_running: Some(true),
            sql_running: Some(true),
            lag_seconds: Some(0.5),
            lag_bytes: None,
            position: None,
            last_error: None,
            detail: None,
        }
    }

    #[test]
    fn replica_status_words() {
        assert_eq!(replica().status(5.0), (Level::Ok, "ok"));
        assert_eq!(
            DbMember {
                lag_seconds: Some(9.0),
                ..replica()
            }
            .status(5.0),
            (Level::Warn, "lag")
        );
        assert_eq!(
            DbMember {
                read_only: Some(false),
                ..replica()
            }
            .status(5.0)
            .1,
            "writable replica!"
        );
        assert_eq!(
            DbMember {
                sql_running: Some(false),
                ..replica()
            }
            .status(5.0)
            .1,
            "nonreplicating"
        );
        assert_eq!(
            DbMember {
                reachable: false,
                ..replica()
            }
            .status(5.0)
            .1,
            "down"
        );
        let broken = DbMember {
            lag_seconds: None,
            ..replica()
        };
        assert_eq!(broken.status(5.0).1, "broken");
        assert_eq!(broken.lag_text(), "broken");
    }
}
