//! One status round for a MariaDB cluster.

use super::{MyConn, text, text_any};
use crate::model::db::{DbMember, MemberDetail, Role};
use crate::sources::db::position::GtidPos;

/// What one member said, before the cluster view is known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MyStatus {
    pub read_only: bool,
    pub gtid_binlog_pos: String,
    pub gtid_current_pos: String,
    pub gtid_slave_pos: String,
    pub version: Option<String>,
    /// `SHOW MASTER STATUS`: binlog file and position, when binary logging is on.
    pub binlog: Option<(String, u64)>,
    pub replica: Option<ReplicaStatus>,
}

/// The columns of `SHOW REPLICA STATUS` the pane and failover use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaStatus {
    pub source: String,
    pub io_running: String,
    pub sql_running: String,
    pub io_state: Option<String>,
    /// `None` (SQL NULL) when replication is broken or not connected.
    pub seconds_behind: Option<f64>,
    pub gtid_io_pos: Option<String>,
    pub master_log_file: Option<String>,
    pub read_pos: Option<u64>,
    pub relay_master_log_file: Option<String>,
    pub exec_pos: Option<u64>,
    pub last_io_error: Option<String>,
    pub last_sql_error: Option<String>,
}

impl ReplicaStatus {
    pub fn errors(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.last_io_error.as_ref().map(|e| format!("IO: {e}")),
            self.last_sql_error.as_ref().map(|e| format!("SQL: {e}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

pub async fn query(conn: &mut MyConn) -> Result<MyStatus, String> {
    let vars = conn
        .rows(
            "SELECT @@global.read_only AS ro, @@global.gtid_binlog_pos AS binlog_pos, \
             @@global.gtid_current_pos AS current_pos, @@global.gtid_slave_pos AS slave_pos, \
             @@version AS version",
        )
        .await?;
    let v = vars
        .first()
        .ok_or_else(|| format!("{}: no row from the variables query", conn.member))?;
    let master = conn.rows("SHOW MASTER STATUS").await?;
    let replica = conn.rows("SHOW REPLICA STATUS").await?;
    Ok(MyStatus {
        read_only: text(v, "ro").as_deref() == Some("1"),
        gtid_binlog_pos: text(v, "binlog_pos").unwrap_or_default(),
        gtid_current_pos: text(v, "current_pos").unwrap_or_default(),
        gtid_slave_pos: text(v, "slave_pos").unwrap_or_default(),
        version: text(v, "version"),
        binlog: master.first().and_then(|r| {
            Some((
                text(r, "File")?,
                text(r, "Position").and_then(|p| p.parse().ok())?,
            ))
        }),
        replica: replica.first().map(replica_status),
    })
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn replica_status(r: &mysql_async::Row) -> ReplicaStatus {
    let host = text_any(r, &["Master_Host", "Source_Host"]).unwrap_or_default();
    let port = text_any(r, &["Master_Port", "Source_Port"]).unwrap_or_default();
    ReplicaStatus {
        source: format!("{host}:{port}"),
        io_running: text_any(r, &["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or_default(),
        sql_running: text_any(r, &["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or_default(),
        io_state: nonempty(text_any(r, &["Slave_IO_State", "Replica_IO_State"])),
        seconds_behind: text_any(r, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
            .and_then(|s| s.parse().ok()),
        gtid_io_pos: text(r, "Gtid_IO_Pos"),
        master_log_file: text_any(r, &["Master_Log_File", "Source_Log_File"]),
        read_pos: text_any(r, &["Read_Master_Log_Pos", "Read_Source_Log_Pos"])
            .and_then(|s| s.parse().ok()),
        relay_master_log_file: text_any(r, &["Relay_Master_Log_File", "Relay_Source_Log_File"]),
        exec_pos: text_any(r, &["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"])
            .and_then(|s| s.parse().ok()),
        last_io_error: nonempty(text(r, "Last_IO_Error")),
        last_sql_error: nonempty(text(r, "Last_SQL_Error")),
    }
}

impl MyStatus {
    /// What a primary has written: its binlog position, or its current position when
    /// binary logging is off.
    pub fn written(&self) -> &str {
        if self.gtid_binlog_pos.is_empty() {
            &self.gtid_current_pos
        } else {
            &self.gtid_binlog_pos
        }
    }
}

/// The cluster view: a member with replica status is a replica; transactions and bytes
/// behind are measured against the one writable member without replica status. Members that
/// did not answer have no role yet: `lineage` names them.
pub fn members(
    names: &[(String, String)],
    answers: Vec<Result<MyStatus, String>>,
) -> Vec<DbMember> {
    // The head to measure against: the one writable member without replica status, or,
    // once it is fenced, the one member left without replica status.
    let heads: Vec<&MyStatus> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .filter(|s| s.replica.is_none())
        .collect();
    let writable: Vec<&MyStatus> = heads.iter().copied().filter(|s| !s.read_only).collect();
    let primary = match (writable.as_slice(), heads.as_slice()) {
        ([one], _) | ([], [one]) => Some((*one).clone()),
        _ => None,
    };
    names
        .iter()
        .zip(answers)
        .map(|((name, endpoint), answer)| match answer {
            Ok(s) => member(name, endpoint, s, primary.as_ref()),
            Err(e) => DbMember::unreachable(name, endpoint, Role::Unknown, e),
        })
        .collect()
}

fn member(name: &str, endpoint: &str, s: MyStatus, primary: Option<&MyStatus>) -> DbMember {
    let mut detail = MemberDetail {
        server_version: s.version.clone(),
        ..MemberDetail::default()
    };
    let base = DbMember {
        name: name.to_string(),
        endpoint: endpoint.to_string(),
        role: Role::Primary,
        role_from: None,
        reachable: true,
        read_only: Some(s.read_only),
        io_running: None,
        sql_running: None,
        lag_seconds: None,
        lag_bytes: None,
        position: Some(s.written().to_string()),
        last_error: None,
        detail: None,
    };
    let Some(r) = &s.replica else {
        return DbMember {
            detail: Some(detail),
            ..base
        };
    };
    let applied = GtidPos::parse(&s.gtid_slave_pos);
    // Against the primary's head when it answers, else against what this replica received.
    let head = match primary {
        Some(p) => GtidPos::parse(p.written()),
        None => r.gtid_io_pos.as_deref().and_then(GtidPos::parse),
    };
    detail.behind_transactions = match (head, &applied) {
        (Some(head), Some(mine)) => Some(mine.behind(&head)),
        _ => None,
    };
    detail.received = r.gtid_io_pos.clone();
    detail.receiver_state = r.io_state.clone();
    detail.source = Some(r.source.clone());
    // Bytes behind only make sense within one binlog file of the primary.
    let lag_bytes = match (
        primary.and_then(|p| p.binlog.as_ref()),
        &r.relay_master_log_file,
        r.exec_pos,
    ) {
        (Some((file, pos)), Some(exec_file), Some(exec)) if file == exec_file => {
            Some(pos.saturating_sub(exec))
        }
        _ => None,
    };
    DbMember {
        role: Role::Replica,
        io_running: Some(r.io_running == "Yes"),
        sql_running: Some(r.sql_running == "Yes"),
        lag_seconds: r.seconds_behind,
        lag_bytes,
        position: Some(s.gtid_slave_pos.clone()),
        last_error: r.errors(),
        detail: Some(detail),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary() -> MyStatus {
        MyStatus {
            gtid_binlog_pos: "0-1-10".into(),
            binlog: Some(("bin.000001".into(), 900)),
            ..MyStatus::default()
        }
    }

    fn replica() -> MyStatus {
        MyStatus {
            read_only: true,
            gtid_slave_pos: "0-1-8".into(),
            replica: Some(ReplicaStatus {
                io_running: "Yes".into(),
                sql_running: "Yes".into(),
                seconds_behind: Some(1.0),
                relay_master_log_file: Some("bin.000001".into()),
                exec_pos: Some(700),
                ..ReplicaStatus::default()
            }),
            ..MyStatus::default()
        }
    }

    #[test]
    fn behind_is_measured_against_the_primary() {
        let names = vec![("p".into(), "p:1".into()), ("r".into(), "r:1".into())];
        let m = members(&names, vec![Ok(primary()), Ok(replica())]);
        assert_eq!(m[0].role, Role::Primary);
        assert_eq!(m[0].position.as_deref(), Some("0-1-10"));
        assert_eq!(m[1].role, Role::Replica);
        assert_eq!(m[1].lag_bytes, Some(200));
        let d = m[1].detail.as_ref().unwrap();
        assert_eq!(d.behind_transactions, Some(2));
    }

    #[test]
    fn null_seconds_behind_is_broken_never_zero() {
        let mut r = replica();
        if let Some(rs) = r.replica.as_mut() {
            rs.seconds_behind = None;
            rs.sql_running = "No".into();
            rs.last_sql_error = Some("Duplicate entry".into());
        }
        let names = vec![("r".into(), "r:1".into())];
        let m = &members(&names, vec![Ok(r)])[0];
        assert_eq!(m.lag_text(), "broken");
        assert_eq!(m.status(5.0).1, "nonreplicating");
        assert_eq!(m.last_error.as_deref(), Some("SQL: Duplicate entry"));
    }
}
