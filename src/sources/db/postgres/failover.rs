//! The PostgreSQL side of a failover: fence, wait for replay, promote, re-point, probe.

use super::{PgConn, conninfo, quote_literal};
use crate::ops::{Mode, OpError};
use crate::sources::db::calls::Calls;
use crate::sources::db::config::{MemberConfig, split_host_port};
use crate::sources::db::position::parse_lsn;
use std::time::{Duration, Instant};

const STEP: Duration = Duration::from_millis(50);

fn failed(e: String) -> OpError {
    OpError::Failed(e)
}

/// Undoes the fence's setting (a reload makes it live).
pub const LIFT_FENCE: &str = "ALTER SYSTEM RESET default_transaction_read_only";

/// New sessions start read-only and existing ones are ended. A client can still opt back
/// in with `SET transaction_read_write`, so the router must stop sending it traffic too.
pub async fn fence(conn: &PgConn, mode: Mode, calls: &mut Calls) -> Result<(), OpError> {
    let m = &conn.member;
    let steps = [
        "ALTER SYSTEM SET default_transaction_read_only = on",
        "SELECT pg_reload_conf()",
    ];
    for sql in steps {
        calls.sql(m, sql);
        if mode == Mode::Apply {
            conn.exec(sql).await.map_err(failed)?;
        }
    }
    let kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
    calls.sql(m, kill);
    if mode == Mode::Apply {
        // The postmaster applies the reload asynchronously; terminating first would let a
        // reconnecting client in before the setting is live.
        wait_for_setting(conn).await?;
        conn.exec(kill).await.map_err(failed)?;
    }
    Ok(())
}

async fn wait_for_setting(conn: &PgConn) -> Result<(), OpError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        // A reload reaches this session at its next command, like it reaches new ones.
        let row = conn
            .row("SELECT current_setting('default_transaction_read_only') AS v")
            .await
            .map_err(failed)?;
        if row.get("v") == Some("on") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(OpError::Failed(format!(
                "{}: default_transaction_read_only still off 2 s after pg_reload_conf()",
                conn.member
            )));
        }
        tokio::time::sleep(STEP).await;
    }
}

/// Waits until everything the replica received is replayed, for at most `limit`; refuses
/// with the numbers if it does not get there (paused replay never will).
pub async fn wait_for_replay(
    conn: &PgConn,
    limit: Duration,
    threshold_s: f64,
    calls: &mut Calls,
    mode: Mode,
) -> Result<(), OpError> {
    let m = &conn.member;
    let sql = "SELECT pg_last_wal_receive_lsn()::text AS received, \
               pg_last_wal_replay_lsn()::text AS replayed, \
               pg_is_wal_replay_paused() AS paused, pg_is_in_recovery() AS recovery";
    calls.sql(
        m,
        &format!(
            "wait until pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() (at most {:.1} s)",
            limit.as_secs_f64()
        ),
    );
    let first = conn.row(sql).await.map_err(failed)?;
    if first.flag("recovery") != Some(true) {
        return Err(OpError::Refused(format!(
            "{m} is not a replica (pg_is_in_recovery() is false): nothing to promote"
        )));
    }
    let Some(target) = first.get("received").and_then(parse_lsn) else {
        // Never streamed: what it replayed from its archive is all it has.
        return Ok(());
    };
    let started = Instant::now();
    let mut row = first;
    loop {
        let replayed = row.get("replayed").and_then(parse_lsn).unwrap_or(0);
        if replayed >= target {
            return Ok(());
        }
        let behind = target - replayed;
        if row.flag("paused") == Some(true) {
            return Err(OpError::Refused(format!(
                "{m}: WAL replay is paused (pg_wal_replay_pause) with {behind} bytes received \
                 but not replayed ({} of {}); lag threshold {threshold_s} s",
                lsn_text(replayed),
                lsn_text(target)
            )));
        }
        if mode == Mode::DryRun {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(OpError::Refused(format!(
                "{m}: still {behind} bytes of received WAL not replayed after {:.1} s \
                 ({} of {}); lag threshold {threshold_s} s",
                started.elapsed().as_secs_f64(),
                lsn_text(replayed),
                lsn_text(target)
            )));
        }
        tokio::time::sleep(STEP).await;
        row = conn.row(sql).await.map_err(failed)?;
    }
}

/// Switchover: waits until `candidate` has replayed everything the fenced `old` primary
/// wrote (its `pg_current_wal_lsn()` now, with client backends gone), so promoting loses
/// nothing; refuses with the numbers after `limit`.
pub async fn wait_for_final_lsn(
    old: &PgConn,
    candidate: &PgConn,
    limit: Duration,
    threshold_s: f64,
    calls: &mut Calls,
    mode: Mode,
) -> Result<(), OpError> {
    let (o, c) = (&old.member, &candidate.member);
    let sql = "SELECT pg_current_wal_lsn()::text AS lsn";
    calls.sql(o, sql);
    calls.sql(
        c,
        &format!(
            "wait until pg_last_wal_replay_lsn() >= {o}'s final pg_current_wal_lsn() (at most {:.1} s)",
            limit.as_secs_f64()
        ),
    );
    let row = old.row(sql).await.map_err(failed)?;
    let final_lsn = row
        .get("lsn")
        .and_then(parse_lsn)
        .ok_or_else(|| OpError::Failed(format!("{o}: cannot read pg_current_wal_lsn()")))?;
    if mode == Mode::DryRun {
        return Ok(());
    }
    let started = Instant::now();
    loop {
        let replayed = candidate
            .row("SELECT pg_last_wal_replay_lsn()::text AS lsn")
            .await
            .map_err(failed)?
            .get("lsn")
            .and_then(parse_lsn)
            .unwrap_or(0);
        if replayed >= final_lsn {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(OpError::Refused(format!(
                "{c} replayed {} of {o}'s final {} after {:.1} s: promoting now would lose \
                 the last {} bytes written on {o} (is {c} streaming from {o}?); lag threshold \
                 {threshold_s} s",
                lsn_text(replayed),
                lsn_text(final_lsn),
                started.elapsed().as_secs_f64(),
                final_lsn - replayed
            )));
        }
        tokio::time::sleep(STEP).await;
    }
}

fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

pub async fn promote(conn: &PgConn, mode: Mode, calls: &mut Calls) -> Result<(), OpError> {
    let m = &conn.member;
    let sql = "SELECT pg_promote(true, 60) AS promoted";
    calls.sql(m, sql);
    if mode == Mode::DryRun {
        return Ok(());
    }
    let row = conn.row(sql).await.map_err(failed)?;
    if row.flag("promoted") != Some(true) {
        return Err(OpError::Failed(format!(
            "{m}: pg_promote() did not finish within 60 s"
        )));
    }
    let check = conn
        .row("SELECT pg_is_in_recovery() AS recovery")
        .await
        .map_err(failed)?;
    if check.flag("recovery") != Some(false) {
        return Err(OpError::Failed(format!(
            "{m}: still in recovery after pg_promote()"
        )));
    }
    Ok(())
}

/// Points a replica's WAL receiver at `primary` by rewriting host and port in its
/// `primary_conninfo`; PostgreSQL 13+ restarts the receiver on reload, and with
/// `recovery_target_timeline = latest` it follows the new primary's timeline.
pub async fn repoint(
    conn: &PgConn,
    primary: &MemberConfig,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let m = &conn.member;
    let (host, port) = split_host_port(&primary.address)
        .map_err(|e| OpError::Failed(format!("member {} address: {e}", primary.name)))?;
    let row = conn
        .row("SELECT current_setting('primary_conninfo') AS conninfo")
        .await
        .map_err(failed)?;
    let current = row.get("conninfo").unwrap_or_default();
    let mut pairs = conninfo::parse(current).ok_or_else(|| {
        OpError::Failed(format!(
            "{m}: cannot parse its primary_conninfo (not key=value pairs)"
        ))
    })?;
    conninfo::set(&mut pairs, "host", &host);
    conninfo::set(&mut pairs, "port", &port.to_string());
    let statement = |text: &str| {
        format!(
            "ALTER SYSTEM SET primary_conninfo = {}",
            quote_literal(text)
        )
    };
    calls.sql(m, &statement(&conninfo::redacted(&pairs)));
    calls.sql(m, "SELECT pg_reload_conf()");
    if mode == Mode::Apply {
        conn.exec(&statement(&conninfo::format(&pairs)))
            .await
            .map_err(failed)?;
        conn.exec("SELECT pg_reload_conf()").await.map_err(failed)?;
    }
    Ok(())
}

pub const PROBE_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS opsdeck_probe \
     (id text PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())";

pub fn insert_marker_sql(marker: &str) -> String {
    format!(
        "INSERT INTO opsdeck_probe (id) VALUES ({})",
        quote_literal(marker)
    )
}

pub fn find_marker_sql(marker: &str) -> String {
    format!(
        "SELECT count(*) AS n FROM opsdeck_probe WHERE id = {}",
        quote_literal(marker)
    )
}

/// True once the replica has replayed the marker; a missing table means not yet.
pub async fn has_marker(conn: &PgConn, marker: &str) -> bool {
    match conn.row(&find_marker_sql(marker)).await {
        Ok(row) => row.get("n") == Some("1"),
        Err(_) => false,
    }
}
