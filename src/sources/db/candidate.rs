//! Whom to promote: the most advanced healthy replica, like orchestrator and Patroni pick.

use super::config::DbConfig;
use super::position::{GtidPos, parse_lsn};
use crate::model::db::{DbCluster, DbMember, Engine, Role};
use std::cmp::Ordering;

/// Why a replica cannot be promoted right now, or `None` if it can.
pub fn unfit(member: &DbMember, cfg: &DbConfig) -> Option<String> {
    let threshold = cfg.lag_threshold_s;
    if cfg.member(&member.name).is_some_and(|m| m.never_promote) {
        return Some("never_promote is set".into());
    }
    if !member.reachable {
        return Some("down".into());
    }
    if member.role != Role::Replica {
        return Some("not a replica".into());
    }
    if member.sql_running == Some(false) {
        return Some(format!(
            "replay/SQL thread stopped, {}; lag threshold {threshold} s",
            behind(member)
        ));
    }
    if let Some(lag) = member.lag_seconds
        && lag > threshold
    {
        return Some(format!("{lag:.1} s behind, lag threshold {threshold} s"));
    }
    if let Some(err) = &member.last_error
        && err.contains("SQL:")
    {
        return Some(format!("replication error: {err}"));
    }
    None
}

/// How far behind, in every unit the member reported.
fn behind(m: &DbMember) -> String {
    let mut parts = vec![match m.lag_seconds {
        Some(s) => format!("{s:.1} s behind"),
        None => "seconds behind unknown".to_string(),
    }];
    if let Some(b) = m.lag_bytes {
        parts.push(format!("{b} bytes behind"));
    }
    if let Some(t) = m.detail.as_ref().and_then(|d| d.behind_transactions) {
        parts.push(format!("{t} transactions behind"));
    }
    parts.join(", ")
}

/// What a replica holds: received first (it will apply it before promotion), then applied.
fn advance(engine: Engine, m: &DbMember, other: &DbMember) -> Ordering {
    let received = |x: &DbMember| x.detail.as_ref().and_then(|d| d.received.clone());
    match engine {
        Engine::Postgres => {
            let key = |x: &DbMember| {
                (
                    received(x).as_deref().and_then(parse_lsn),
                    x.position.as_deref().and_then(parse_lsn),
                )
            };
            key(m).cmp(&key(other))
        }
        Engine::MariaDb => {
            let gtid =
                |s: Option<String>| s.as_deref().and_then(GtidPos::parse).unwrap_or_default();
            gtid(received(m))
                .cmp_advance(&gtid(received(other)))
                .then_with(|| gtid(m.position.clone()).cmp_advance(&gtid(other.position.clone())))
        }
        Engine::Rds => Ordering::Equal,
    }
}

/// Reachable replicas that have received more than `member`. Promoting `member` over them
/// would lose what they hold, and a PostgreSQL replica ahead of the new timeline's fork
/// point cannot follow it at all.
pub fn ahead_of(cluster: &DbCluster, member: &str) -> Vec<String> {
    let Some(me) = cluster.members.iter().find(|m| m.name == member) else {
        return Vec::new();
    };
    let received = |x: &DbMember| x.detail.as_ref().and_then(|d| d.received.clone());
    let mine = received(me);
    cluster
        .members
        .iter()
        .filter(|o| o.name != member && o.reachable && o.role == Role::Replica)
        .filter(|o| match (cluster.engine, received(o), &mine) {
            (Engine::Postgres, Some(theirs), Some(mine)) => parse_lsn(&theirs) > parse_lsn(mine),
            (Engine::MariaDb, Some(theirs), Some(mine)) => {
                match (GtidPos::parse(&theirs), GtidPos::parse(mine)) {
                    (Some(t), Some(m)) => t.cmp_advance(&m) == Ordering::Greater,
                    _ => false,
                }
            }
            _ => false,
        })
        .map(|o| format!("{} (received {})", o.name, received(o).unwrap_or_default()))
        .collect()
}

/// The most advanced healthy replica; among equals, the highest `priority`, then the
/// first in the config. The error lists why every member was passed over.
pub fn best_candidate(cluster: &DbCluster, cfg: &DbConfig) -> Result<String, String> {
    let mut fit: Vec<&DbMember> = Vec::new();
    let mut reasons = Vec::new();
    for m in &cluster.members {
        match unfit(m, cfg) {
            None => fit.push(m),
            Some(why) => reasons.push(format!("{}: {why}", m.name)),
        }
    }
    let priority = |m: &DbMember| cfg.member(&m.name).map_or(0, |c| c.priority);
    let order = |m: &DbMember| cfg.members.iter().position(|c| c.name == m.name);
    fit.sort_by(|a, b| {
        advance(cluster.engine, b, a)
            .then_with(|| priority(b).cmp(&priority(a)))
            .then_with(|| order(a).cmp(&order(b)))
    });
    fit.first().map(|m| m.name.clone()).ok_or_else(|| {
        format!(
            "no replica of {} can be promoted ({})",
            cluster.name,
            reasons.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::db::MemberDetail;

    fn cfg() -> DbConfig {
        toml::from_str(
            r#"
name = "c"
kind = "mariadb"
members = [
  { name = "p", address = "p:3306" },
  { name = "a", address = "a:3306" },
  { name = "b", address = "b:3306", priority = 5 },
  { name = "n", address = "n:3306", never_promote = true },
]
"#,
        )
        .unwrap()
    }

    fn replica(name: &str, received: &str, applied: &str) -> DbMember {
        DbMember {
            name: name.into(),
            endpoint: String::new(),
            role: Role::Replica,
            role_from: None,
            reachable: true,
            read_only: Some(true),
            io_running: Some(false),
            sql_running: Some(true),
            lag_seconds: None,
            lag_bytes: None,
            position: Some(applied.into()),
            last_error: None,
            detail: Some(MemberDetail {
                received: Some(received.into()),
                ..MemberDetail::default()
            }),
        }
    }

    fn cluster(members: Vec<DbMember>) -> DbCluster {
        DbCluster {
            name: "c".into(),
            engine: Engine::MariaDb,
            router: None,
            lag_threshold_s: 5.0,
            members,
        }
    }

    #[test]
    fn most_received_wins_then_priority() {
        let c = cluster(vec![
            replica("a", "0-1-10", "0-1-9"),
            replica("b", "0-1-9", "0-1-9"),
            replica("n", "0-1-50", "0-1-50"),
        ]);
        assert_eq!(
            best_candidate(&c, &cfg()).unwrap(),
            "a",
            "n is never_promote"
        );
        let tie = cluster(vec![
            replica("a", "0-1-9", "0-1-9"),
            replica("b", "0-1-9", "0-1-9"),
        ]);
        assert_eq!(
            best_candidate(&tie, &cfg()).unwrap(),
            "b",
            "priority breaks ties"
        );
    }

    #[test]
    fn replicas_ahead_of_a_choice_are_named() {
        let c = cluster(vec![
            replica("a", "0-1-10", "0-1-9"),
            replica("b", "0-1-9", "0-1-9"),
        ]);
        assert_eq!(ahead_of(&c, "b"), ["a (received 0-1-10)"]);
        assert!(ahead_of(&c, "a").is_empty());
    }

    #[test]
    fn stopped_lagging_and_down_replicas_are_passed_over_with_reasons() {
        let mut stopped = replica("a", "0-1-10", "0-1-2");
        stopped.sql_running = Some(false);
        let mut lagging = replica("b", "0-1-10", "0-1-9");
        lagging.lag_seconds = Some(60.0);
        let err = best_candidate(&cluster(vec![stopped, lagging]), &cfg()).unwrap_err();
        assert!(
            err.contains("a: replay/SQL thread stopped, seconds behind unknown; lag threshold 5 s"),
            "{err}"
        );
        assert!(err.contains("b: 60.0 s behind, lag threshold 5 s"), "{err}");
    }
}
