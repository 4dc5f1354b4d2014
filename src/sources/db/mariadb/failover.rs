//! The MariaDB side of a failover: fence, wait for the relay log, promote, re-point, probe.

use super::{MyConn, quote_literal, text};
use crate::ops::{Mode, OpError};
use crate::sources::db::calls::Calls;
use crate::sources::db::config::{MemberConfig, split_host_port};
use crate::sources::db::position::GtidPos;
use crate::sources::db::secret::{Secret, scrub};
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(50);

fn failed(e: String) -> OpError {
    OpError::Failed(e)
}

async fn run(conn: &mut MyConn, sql: &str, mode: Mode, calls: &mut Calls) -> Result<(), OpError> {
    calls.sql(&conn.member.clone(), sql);
    if mode == Mode::Apply {
        conn.exec(sql).await.map_err(failed)?;
    }
    Ok(())
}

/// read_only stops ordinary logins writing; killing their connections ends transactions
/// already open. Replication threads (binlog dumps to replicas still catching up, the
/// server's own threads) are left alone.
pub async fn fence(conn: &mut MyConn, mode: Mode, calls: &mut Calls) -> Result<usize, OpError> {
    run(conn, "SET GLOBAL read_only = ON", mode, calls).await?;
    let list = "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() \
                AND USER NOT IN ('system user', 'event_scheduler') \
                AND COMMAND NOT IN ('Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')";
    calls.sql(&conn.member.clone(), list);
    calls.sql(&conn.member.clone(), "KILL CONNECTION <each ID>");
    if mode == Mode::DryRun {
        return Ok(0);
    }
    let ids: Vec<String> = conn
        .rows(list)
        .await
        .map_err(failed)?
        .iter()
        .filter_map(|r| text(r, "ID"))
        .collect();
    let mut killed = 0;
    for id in ids {
        // A connection that ended on its own in the meantime is fine.
        if conn.exec(&format!("KILL CONNECTION {id}")).await.is_ok() {
            killed += 1;
        }
    }
    Ok(killed)
}

/// Waits until the SQL thread has applied everything the IO thread received
/// (`gtid_slave_pos` covers `Gtid_IO_Pos`), for at most `limit`; refuses with the numbers
/// otherwise. A stopped SQL thread never catches up, so it is refused at once.
pub async fn wait_for_relay(
    conn: &mut MyConn,
    limit: Duration,
    threshold_s: f64,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let m = conn.member.clone();
    calls.sql(
        &m,
        &format!(
            "wait until @@gtid_slave_pos covers Gtid_IO_Pos of SHOW REPLICA STATUS (at most {:.1} s)",
            limit.as_secs_f64()
        ),
    );
    let started = Instant::now();
    loop {
        let rows = conn.rows("SHOW REPLICA STATUS").await.map_err(failed)?;
        let Some(status) = rows.first() else {
            return Err(OpError::Refused(format!(
                "{m} has no replica status: it is not a replica"
            )));
        };
        let received = text(status, "Gtid_IO_Pos").unwrap_or_default();
        let sql_running = text(status, "Slave_SQL_Running").unwrap_or_default() == "Yes";
        let applied = conn
            .rows("SELECT @@global.gtid_slave_pos AS p")
            .await
            .map_err(failed)?
            .first()
            .and_then(|r| text(r, "p"))
            .unwrap_or_default();
        let (Some(got), Some(done)) = (GtidPos::parse(&received), GtidPos::parse(&applied)) else {
            return Err(OpError::Failed(format!(
                "{m}: cannot read GTID positions (Gtid_IO_Pos {received:?}, gtid_slave_pos {applied:?})"
            )));
        };
        if done.covers(&got) {
            return Ok(());
        }
        let behind = done.behind(&got);
        if !sql_running {
            return Err(OpError::Refused(format!(
                "{m}: SQL thread stopped with {behind} received transactions not applied \
                 (gtid_slave_pos {applied}, Gtid_IO_Pos {received}); lag threshold {threshold_s} s"
            )));
        }
        if mode == Mode::DryRun {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(OpError::Refused(format!(
                "{m}: still {behind} received transactions not applied after {:.1} s \
                 (gtid_slave_pos {applied}, Gtid_IO_Pos {received}); lag threshold {threshold_s} s",
                started.elapsed().as_secs_f64()
            )));
        }
        tokio::time::sleep(STEP).await;
    }
}

/// The position one query reads, as a GTID position; `what` names it in errors.
async fn gtid(conn: &mut MyConn, sql: &str, what: &str) -> Result<(String, GtidPos), OpError> {
    let text = conn
        .rows(sql)
        .await
        .map_err(failed)?
        .first()
        .and_then(|r| text(r, "p"))
        .unwrap_or_default();
    match GtidPos::parse(&text) {
        Some(pos) => Ok((text, pos)),
        None => Err(OpError::Failed(format!(
            "{}: cannot read {what} ({text:?})",
            conn.member
        ))),
    }
}

/// A switchover: waits until `candidate` has applied everything the fenced `old` primary
/// wrote (`gtid_slave_pos` covers its final `gtid_binlog_pos`), for at most `limit`;
/// refuses with the numbers otherwise, since promoting would lose those transactions.
pub async fn wait_for_final_gtid(
    old: &mut MyConn,
    candidate: &mut MyConn,
    limit: Duration,
    threshold_s: f64,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let (o, c) = (old.member.clone(), candidate.member.clone());
    let sql = "SELECT @@global.gtid_binlog_pos AS p";
    calls.sql(&o, sql);
    calls.sql(
        &c,
        &format!(
            "wait until @@gtid_slave_pos covers {o}'s final @@gtid_binlog_pos (at most {:.1} s)",
            limit.as_secs_f64()
        ),
    );
    let (last_text, last) = gtid(old, sql, "@@gtid_binlog_pos").await?;
    if mode == Mode::DryRun {
        return Ok(());
    }
    let started = Instant::now();
    loop {
        let (applied_text, applied) = gtid(
            candidate,
            "SELECT @@global.gtid_slave_pos AS p",
            "@@gtid_slave_pos",
        )
        .await?;
        if applied.covers(&last) {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(OpError::Refused(format!(
                "{c} applied {applied_text} of {o}'s final {last_text} after {:.1} s: promoting now \
                 would lose the last {} transactions written on {o} (is {c} replicating from \
                 {o}?); lag threshold {threshold_s} s",
                started.elapsed().as_secs_f64(),
                applied.behind(&last)
            )));
        }
        tokio::time::sleep(STEP).await;
    }
}

pub async fn promote(conn: &mut MyConn, mode: Mode, calls: &mut Calls) -> Result<(), OpError> {
    for sql in [
        "STOP SLAVE",
        "RESET SLAVE ALL",
        "SET GLOBAL read_only = OFF",
    ] {
        run(conn, sql, mode, calls).await?;
    }
    Ok(())
}

fn change_master(primary: &MemberConfig) -> Result<String, OpError> {
    let (host, port) = split_host_port(&primary.address)
        .map_err(|e| OpError::Failed(format!("member {} address: {e}", primary.name)))?;
    Ok(format!(
        "CHANGE MASTER TO MASTER_HOST = {}, MASTER_PORT = {port}",
        quote_literal(&host)
    ))
}

/// A replica keeps its replication login; only the source changes. `slave_pos` resumes
/// from what it applied, so unapplied relay log is fetched again from the new primary.
pub async fn repoint(
    conn: &mut MyConn,
    primary: &MemberConfig,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let change = format!(
        "{}, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
        change_master(primary)?
    );
    for sql in ["STOP SLAVE", change.as_str(), "START SLAVE"] {
        run(conn, sql, mode, calls).await?;
    }
    Ok(())
}

/// Switchover: a fenced old primary becomes a replica of the new one. It has no
/// replication login of its own, so the configured one is used; `current_pos` because its
/// own transactions are in its binlog, not in gtid_slave_pos.
pub async fn demote(
    conn: &mut MyConn,
    primary: &MemberConfig,
    user: &str,
    password: Option<&Secret>,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let head = format!(
        "{}, MASTER_USER = {}, MASTER_PASSWORD = ",
        change_master(primary)?,
        quote_literal(user)
    );
    let tail = ", MASTER_USE_GTID = current_pos, MASTER_CONNECT_RETRY = 1";
    run(conn, "SET GLOBAL read_only = ON", mode, calls).await?;
    let m = conn.member.clone();
    calls.sql(&m, &format!("{head}'***'{tail}"));
    if mode == Mode::Apply {
        let pw = password.map(Secret::expose).unwrap_or_default();
        // A syntax error echoes the statement back, password included.
        let known: Vec<&Secret> = password.into_iter().collect();
        conn.exec(&format!("{head}{}{tail}", quote_literal(pw)))
            .await
            .map_err(|e| failed(scrub(&e, &known)))?;
    }
    run(conn, "START SLAVE", mode, calls).await
}

pub const PROBE_SQL: [&str; 2] = [
    "CREATE DATABASE IF NOT EXISTS opsdeck",
    "CREATE TABLE IF NOT EXISTS opsdeck.opsdeck_probe \
     (id VARCHAR(64) PRIMARY KEY, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))",
];

pub fn insert_marker_sql(marker: &str) -> String {
    format!(
        "INSERT INTO opsdeck.opsdeck_probe (id) VALUES ({})",
        quote_literal(marker)
    )
}

pub async fn has_marker(conn: &mut MyConn, marker: &str) -> bool {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM opsdeck.opsdeck_probe WHERE id = {}",
        quote_literal(marker)
    );
    match conn.rows(&sql).await {
        Ok(rows) => rows.first().and_then(|r| text(r, "n")).as_deref() == Some("1"),
        Err(_) => false,
    }
}
