//! One status round for a PostgreSQL cluster: every member answers one multi-statement
//! query; the cluster view (who is primary, bytes behind it) is assembled from the answers.

use super::PgConn;
use super::TextRow;
use crate::model::db::{DbMember, Downstream, MemberDetail, Role};
use crate::sources::db::position::parse_lsn;
use jiff::Timestamp;

/// Functions that only work on one side are guarded by CASE, so the same text runs on a
/// primary and a replica; volatile functions in a CASE are evaluated lazily.
const STATUS_SQL: &str = "\
SELECT pg_is_in_recovery() AS recovery, \
 current_setting('default_transaction_read_only') AS dtro, \
 CASE WHEN NOT pg_is_in_recovery() THEN pg_current_wal_lsn()::text END AS current_lsn, \
 CASE WHEN NOT pg_is_in_recovery() THEN pg_walfile_name(pg_current_wal_lsn()) END AS walfile, \
 pg_last_wal_receive_lsn()::text AS receive_lsn, \
 pg_last_wal_replay_lsn()::text AS replay_lsn, \
 extract(epoch FROM pg_last_xact_replay_timestamp())::float8 AS last_replay, \
 extract(epoch FROM clock_timestamp())::float8 AS now, \
 CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS paused, \
 (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli, \
 (SELECT status FROM pg_stat_wal_receiver) AS receiver_status, \
 (SELECT received_tli FROM pg_stat_wal_receiver) AS received_tli, \
 (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver) AS sender, \
 (SELECT setting FROM pg_settings WHERE name = 'primary_conninfo') AS conninfo, \
 current_setting('server_version') AS version; \
SELECT application_name, host(client_addr) AS address, state, sent_lsn::text AS sent, \
 write_lsn::text AS write, flush_lsn::text AS flush, replay_lsn::text AS replay, \
 extract(epoch FROM write_lag)::float8 AS write_lag, \
 extract(epoch FROM flush_lag)::float8 AS flush_lag, \
 extract(epoch FROM replay_lag)::float8 AS replay_lag, sync_state \
FROM pg_stat_replication ORDER BY application_name, client_addr";

/// What one member said, before the cluster view is known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PgStatus {
    pub in_recovery: bool,
    pub default_read_only: bool,
    pub current_lsn: Option<String>,
    pub receive_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    pub last_replay: Option<Timestamp>,
    pub now: Option<f64>,
    pub last_replay_epoch: Option<f64>,
    pub paused: Option<bool>,
    pub timeline: Option<u32>,
    pub receiver_status: Option<String>,
    pub sender: Option<String>,
    /// `host:port` of `primary_conninfo`: where a standby replicates from even while its
    /// WAL receiver is down (the rest of that setting, a password among it, is not kept).
    pub configured_source: Option<String>,
    pub version: Option<String>,
    pub downstream: Vec<Downstream>,
}

pub async fn query(conn: &PgConn) -> Result<PgStatus, String> {
    let mut sets = conn.rows(STATUS_SQL).await?.into_iter();
    let main = sets
        .next()
        .and_then(|s| s.into_iter().next())
        .ok_or_else(|| format!("{}: status query returned no row", conn.member))?;
    let downstream = sets.next().unwrap_or_default();
    Ok(from_rows(&main, &downstream))
}

fn from_rows(r: &TextRow, downstream: &[TextRow]) -> PgStatus {
    let in_recovery = r.flag("recovery").unwrap_or(false);
    // A primary's timeline is in its current WAL file name; a replica follows the
    // timeline it receives, and before it receives anything, its last checkpoint's.
    let timeline = if in_recovery {
        r.get("received_tli")
            .or(r.get("checkpoint_tli"))
            .and_then(|t| t.parse().ok())
    } else {
        r.get("walfile")
            .and_then(|w| w.get(..8))
            .and_then(|t| u32::from_str_radix(t, 16).ok())
    };
    let last_replay_epoch = r.float("last_replay");
    PgStatus {
        in_recovery,
        default_read_only: r.flag("dtro").unwrap_or(false),
        current_lsn: r.get("current_lsn").map(str::to_string),
        receive_lsn: r.get("receive_lsn").map(str::to_string),
        replay_lsn: r.get("replay_lsn").map(str::to_string),
        last_replay: last_replay_epoch.and_then(epoch_to_timestamp),
        now: r.float("now"),
        last_replay_epoch,
        paused: r.flag("paused"),
        timeline,
        receiver_status: r.get("receiver_status").map(str::to_string),
        sender: r.get("sender").map(str::to_string),
        configured_source: r.get("conninfo").and_then(conninfo_source),
        version: r.get("version").map(str::to_string),
        downstream: downstream
            .iter()
            .map(|d| Downstream {
                name: d.get("application_name").unwrap_or_default().to_string(),
                address: d.get("address").map(str::to_string),
                state: d.get("state").map(str::to_string),
                sent: d.get("sent").map(str::to_string),
                write: d.get("write").map(str::to_string),
                flush: d.get("flush").map(str::to_string),
                replay: d.get("replay").map(str::to_string),
                write_lag_s: d.float("write_lag"),
                flush_lag_s: d.float("flush_lag"),
                replay_lag_s: d.float("replay_lag"),
                sync_state: d.get("sync_state").map(str::to_string),
            })
            .collect(),
    }
}

/// `host:port` of a libpq connection string; libpq's default port when it names none.
fn conninfo_source(text: &str) -> Option<String> {
    let pairs = super::conninfo::parse(text)?;
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let host = get("host").or(get("hostaddr")).filter(|h| !h.is_empty())?;
    Some(format!("{host}:{}", get("port").unwrap_or("5432")))
}

fn epoch_to_timestamp(secs: f64) -> Option<Timestamp> {
    let whole = secs.floor();
    Timestamp::new(whole as i64, ((secs - whole) * 1e9) as i32).ok()
}

impl PgStatus {
    /// Seconds of replay lag: 0 when everything received is replayed, otherwise the age
    /// of the last replayed transaction. `None` when the WAL receiver is not streaming:
    /// the replica cannot know how far behind it is, so it is broken, not "0 s".
    pub fn lag_seconds(&self) -> Option<f64> {
        if !self.in_recovery {
            return None;
        }
        if self.receiver_status.as_deref() != Some("streaming") {
            return None;
        }
        let received = self.receive_lsn.as_deref().and_then(parse_lsn)?;
        let replayed = self.replay_lsn.as_deref().and_then(parse_lsn)?;
        if replayed >= received {
            return Some(0.0);
        }
        Some((self.now? - self.last_replay_epoch?).max(0.0))
    }
}

/// The cluster view: bytes behind are measured against the primary's current LSN, or,
/// with no primary answering, against what each replica has received. Members that did not
/// answer have no role yet: `lineage` names them.
pub fn members(
    names: &[(String, String)],
    answers: Vec<Result<PgStatus, String>>,
) -> Vec<DbMember> {
    let primary_lsn = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .filter(|s| !s.in_recovery && !s.default_read_only)
        .filter_map(|s| s.current_lsn.as_deref().and_then(parse_lsn))
        .max();
    names
        .iter()
        .zip(answers)
        .map(|((name, endpoint), answer)| match answer {
            Ok(s) => member(name, endpoint, s, primary_lsn),
            Err(e) => DbMember::unreachable(name, endpoint, Role::Unknown, e),
        })
        .collect()
}

fn member(name: &str, endpoint: &str, s: PgStatus, primary_lsn: Option<u64>) -> DbMember {
    let lag_seconds = s.lag_seconds();
    let base = DbMember {
        name: name.to_string(),
        endpoint: endpoint.to_string(),
        role: if s.in_recovery {
            Role::Replica
        } else {
            Role::Primary
        },
        role_from: None,
        reachable: true,
        read_only: Some(s.in_recovery || s.default_read_only),
        io_running: None,
        sql_running: None,
        lag_seconds: None,
        lag_bytes: None,
        position: None,
        last_error: None,
        detail: None,
    };
    let mut detail = MemberDetail {
        timeline: s.timeline,
        server_version: s.version.clone(),
        ..MemberDetail::default()
    };
    if !s.in_recovery {
        detail.downstream = s.downstream;
        return DbMember {
            position: s.current_lsn,
            detail: Some(detail),
            ..base
        };
    }
    let replayed = s.replay_lsn.as_deref().and_then(parse_lsn);
    let received = s.receive_lsn.as_deref().and_then(parse_lsn);
    let lag_bytes = match (primary_lsn.or(received), replayed) {
        (Some(head), Some(r)) => Some(head.saturating_sub(r)),
        _ => None,
    };
    let streaming = s.receiver_status.as_deref() == Some("streaming");
    let last_error = if streaming {
        None
    } else {
        Some(match &s.receiver_status {
            Some(st) => format!("WAL receiver {st}"),
            None => "no WAL receiver: not connected to a primary".to_string(),
        })
    };
    detail.received = s.receive_lsn.clone();
    detail.receiver_state = Some(
        s.receiver_status
            .clone()
            .unwrap_or_else(|| "stopped".into()),
    );
    // The receiver's sender while it streams; the configured source while it cannot.
    detail.source = s.sender.clone().or(s.configured_source.clone());
    detail.last_replay = s.last_replay;
    detail.replay_paused = s.paused;
    DbMember {
        io_running: Some(streaming),
        sql_running: s.paused.map(|p| !p),
        lag_seconds,
        lag_bytes,
        position: s.replay_lsn,
        last_error,
        detail: Some(detail),
        ..base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica() -> PgStatus {
        PgStatus {
            in_recovery: true,
            receive_lsn: Some("0/3000100".into()),
            replay_lsn: Some("0/3000100".into()),
            receiver_status: Some("streaming".into()),
            now: Some(100.0),
            last_replay_epoch: Some(90.0),
            paused: Some(false),
            ..PgStatus::default()
        }
    }

    #[test]
    fn caught_up_is_zero_behind_is_replay_age_not_streaming_is_broken() {
        assert_eq!(replica().lag_seconds(), Some(0.0));
        let behind = PgStatus {
            replay_lsn: Some("0/3000000".into()),
            ..replica()
        };
        assert_eq!(behind.lag_seconds(), Some(10.0));
        let stopped = PgStatus {
            receiver_status: None,
            ..replica()
        };
        assert_eq!(stopped.lag_seconds(), None);
    }

    #[test]
    fn bytes_behind_are_measured_against_the_primary() {
        let primary = PgStatus {
            current_lsn: Some("0/3000200".into()),
            ..PgStatus::default()
        };
        let names = vec![
            ("p".to_string(), "p:1".to_string()),
            ("r".to_string(), "r:1".to_string()),
            ("d".to_string(), "d:1".to_string()),
        ];
        let members = members(
            &names,
            vec![Ok(primary), Ok(replica()), Err("d (d:1): refused".into())],
        );
        assert_eq!(members[0].role, Role::Primary);
        assert_eq!(members[1].lag_bytes, Some(0x100));
        assert_eq!(members[1].lag_text(), "0.0s");
        assert!(!members[2].reachable);
        assert_eq!(members[2].status(5.0).1, "down");
    }

    #[test]
    fn a_standby_names_its_source_from_primary_conninfo_without_the_password() {
        assert_eq!(
            conninfo_source("user=repl password='s3cret' host=10.0.2.10 port=5433").as_deref(),
            Some("10.0.2.10:5433")
        );
        assert_eq!(
            conninfo_source("hostaddr=10.0.2.10 password=x").as_deref(),
            Some("10.0.2.10:5432")
        );
        assert_eq!(conninfo_source("user=repl"), None);
        let waiting = PgStatus {
            receiver_status: None,
            sender: None,
            configured_source: conninfo_source("host=p port=1 password=s3cret"),
            ..replica()
        };
        let names = vec![("r".to_string(), "r:1".to_string())];
        let m = &members(&names, vec![Ok(waiting)])[0];
        let source = m.detail.as_ref().and_then(|d| d.source.clone());
        assert_eq!(source.as_deref(), Some("p:1"));
        assert!(!format!("{m:?}").contains("s3cret"));
    }
}
