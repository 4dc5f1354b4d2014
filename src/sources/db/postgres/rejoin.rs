//! The last part of a PostgreSQL switchover: the fenced old primary becomes a replica of the
//! new one. SQL cannot do that — it takes `standby.signal`, `primary_conninfo` and a restart,
//! and usually `pg_rewind`, since the old primary writes WAL of its own (at least its
//! shutdown checkpoint) after the new primary forked its timeline. So the member's configured
//! `rejoin_command` does it, and opsdeck checks the result: in recovery, streaming from the
//! new primary.

use super::failover::LIFT_FENCE;
use super::{PgConn, connect};
use crate::ops::{Mode, OpError};
use crate::sources::db::calls::Calls;
use crate::sources::db::config::{DbConfig, MemberConfig, split_host_port};
use crate::sources::db::secret::{Secret, scrub};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What the operator must do by hand when the member has no `rejoin_command`.
pub fn manual_steps(old: &MemberConfig, primary: &MemberConfig) -> String {
    format!(
        "{old} is fenced but still a primary; to make it a replica of {new}: stop it, run \
         pg_rewind --target-pgdata=<its data directory> --source-server='host=… port=…' \
         against {new} ({addr}), create standby.signal, set primary_conninfo to {new}, start \
         it — or give {old} a rejoin_command in the config",
        old = old.name,
        new = primary.name,
        addr = primary.address,
    )
}

/// Runs `old`'s `rejoin_command` with the new primary in its environment, then waits until
/// `old` streams from it and lifts the fence opsdeck set (a replica is read-only anyway, and
/// a later promotion must not come up read-only).
pub async fn rejoin(
    cfg: &DbConfig,
    old: &MemberConfig,
    primary: &MemberConfig,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let place = format!("{}/{}", cfg.name, old.name);
    let argv = old.rejoin_command.as_deref().unwrap_or_default();
    let Some((program, args)) = argv.split_first() else {
        return Err(OpError::Refused(manual_steps(old, primary)));
    };
    let (host, port) = split_host_port(&primary.address)
        .map_err(|e| OpError::Failed(format!("member {} address: {e}", primary.name)))?;
    let env = [
        ("OPSDECK_CLUSTER", cfg.name.clone()),
        ("OPSDECK_MEMBER", old.name.clone()),
        ("OPSDECK_PRIMARY_NAME", primary.name.clone()),
        ("OPSDECK_PRIMARY_HOST", host.clone()),
        ("OPSDECK_PRIMARY_PORT", port.to_string()),
    ];
    let secrets = known_secrets(cfg);
    // Until the end-of-recovery checkpoint is done, the new primary's control file still
    // names the old timeline, and pg_rewind would find "no rewind required".
    calls.sql(&primary.name, "CHECKPOINT");
    let shown_env: Vec<String> = env
        .iter()
        .skip(2)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    calls.note(scrub(
        &format!(
            "run {}'s rejoin_command: {} (with {}; at most {} s)",
            old.name,
            argv.join(" "),
            shown_env.join(" "),
            cfg.rejoin_timeout_s
        ),
        &secrets.iter().collect::<Vec<_>>(),
    ));
    calls.note(format!(
        "wait until {} is in recovery and streaming from {host}:{port} (at most {} s)",
        old.name, cfg.verify_timeout_s
    ));
    for sql in [LIFT_FENCE, "SELECT pg_reload_conf()"] {
        calls.sql(&old.name, sql);
    }
    if mode == Mode::DryRun {
        return Ok(());
    }
    checkpoint(cfg, primary).await?;
    let limit = Duration::from_secs_f64(cfg.rejoin_timeout_s);
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A command that outlives its time limit is stopped, not left running unseen.
        .kill_on_drop(true);
    let output = match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            return Err(OpError::Failed(format!(
                "{place}: cannot run rejoin_command {program}: {e}"
            )));
        }
        Err(_) => {
            return Err(OpError::Failed(format!(
                "{place}: rejoin_command did not finish within {} s and was stopped \
                 (rejoin_timeout_s)",
                cfg.rejoin_timeout_s
            )));
        }
    };
    if !output.status.success() {
        let said = last_lines(&output.stderr, &output.stdout);
        return Err(OpError::Failed(scrub(
            &format!("{place}: rejoin_command failed ({}): {said}", output.status),
            &secrets.iter().collect::<Vec<_>>(),
        )));
    }
    let conn = wait_streaming(cfg, old, &host, port).await?;
    for sql in [LIFT_FENCE, "SELECT pg_reload_conf()"] {
        conn.exec(sql).await.map_err(OpError::Failed)?;
    }
    Ok(())
}

async fn checkpoint(cfg: &DbConfig, primary: &MemberConfig) -> Result<(), OpError> {
    let password = cfg
        .password()
        .resolve(&format!("database {}", cfg.name))
        .map_err(OpError::Failed)?;
    let conn = connect(cfg, primary, password.as_ref())
        .await
        .map_err(OpError::Failed)?;
    conn.exec("CHECKPOINT").await.map_err(OpError::Failed)
}

/// Polls `old` until it is in recovery with its WAL receiver streaming from `host:port`.
async fn wait_streaming(
    cfg: &DbConfig,
    old: &MemberConfig,
    host: &str,
    port: u16,
) -> Result<PgConn, OpError> {
    let want = format!("{host}:{port}");
    let limit = Duration::from_secs_f64(cfg.verify_timeout_s.max(0.1));
    let started = Instant::now();
    let mut last = String::from("no answer yet");
    while started.elapsed() < limit {
        match probe(cfg, old).await {
            Ok((conn, state)) if state == format!("streaming from {want}") => return Ok(conn),
            Ok((_, state)) => last = state,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(OpError::Failed(format!(
        "{}/{}: rejoin_command succeeded, but {} s later it is not streaming from {want}: {last}",
        cfg.name, old.name, cfg.verify_timeout_s
    )))
}

async fn probe(cfg: &DbConfig, m: &MemberConfig) -> Result<(PgConn, String), String> {
    let password = cfg.password().resolve(&format!("database {}", cfg.name))?;
    let conn = connect(cfg, m, password.as_ref()).await?;
    let row = conn
        .row(
            "SELECT pg_is_in_recovery() AS recovery, \
             (SELECT status FROM pg_stat_wal_receiver) AS status, \
             (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS sender",
        )
        .await?;
    let state = match (row.flag("recovery"), row.get("status"), row.get("sender")) {
        (Some(false), _, _) => "not in recovery (still a primary)".to_string(),
        (_, Some(status), Some(sender)) => format!("{status} from {sender}"),
        _ => "in recovery, WAL receiver not running".to_string(),
    };
    Ok((conn, state))
}

/// The secrets opsdeck knows for this database, to scrub from what the command printed.
fn known_secrets(cfg: &DbConfig) -> Vec<Secret> {
    let mut refs = vec![cfg.password()];
    refs.extend(cfg.replication.as_ref().map(|r| r.password()));
    refs.iter()
        .filter_map(|r| r.resolve("").ok().flatten())
        .collect()
}

/// The end of what a failed command said, on one line: stderr, else stdout.
fn last_lines(stderr: &[u8], stdout: &[u8]) -> String {
    let text = if stderr.iter().any(|b| !b.is_ascii_whitespace()) {
        stderr
    } else {
        stdout
    };
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        "no output".into()
    } else {
        tail.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_command_is_summed_up_by_its_last_lines() {
        assert_eq!(
            last_lines(b"one\ntwo\n\nthree\nfour\n", b"ignored"),
            "two / three / four"
        );
        assert_eq!(last_lines(b"  \n", b"only stdout\n"), "only stdout");
        assert_eq!(last_lines(b"", b""), "no output");
    }
}
