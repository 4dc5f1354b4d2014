//! Who a member that does not answer was. The engineer opens the console after being paged,
//! so the console may never have seen the primary alive; its replicas still know who it
//! was. Evidence, strongest first: a replica's replication source (MariaDB `SHOW REPLICA
//! STATUS`, PostgreSQL `pg_stat_wal_receiver` or `primary_conninfo`, RDS's read-replica
//! source), ProxySQL's writer hostgroup, the roles this or an earlier console last saw
//! (kept in the data dir, so a restart does not forget them), and last, elimination: the one
//! member that is not answering as a replica while no primary answers.

use super::config::DbConfig;
use crate::model::db::{DbMember, Role};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A role a member was last seen in, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub role: Role,
    pub since: Timestamp,
}

/// Cluster → member → the role it last answered with.
pub type Roles = BTreeMap<String, BTreeMap<String, Seen>>;

/// Names the role of every member that did not answer from what the others say, and says
/// where the role came from. `writer` is the address ProxySQL routes writes to, if known.
pub fn name_unreachable(
    cfg: &DbConfig,
    members: &mut [DbMember],
    writer: Option<&str>,
    last_seen: Option<&BTreeMap<String, Seen>>,
) {
    let sources: Vec<(String, String)> = members
        .iter()
        .filter(|m| m.reachable && m.role == Role::Replica)
        .filter_map(|m| Some((m.name.clone(), m.detail.as_ref()?.source.clone()?)))
        .collect();
    for m in members.iter_mut().filter(|m| !m.reachable) {
        let Some(address) = cfg.member(&m.name).map(|c| c.address.as_str()) else {
            continue;
        };
        let named_by: Vec<&str> = sources
            .iter()
            .filter(|(_, source)| same_address(source, address))
            .map(|(replica, _)| replica.as_str())
            .collect();
        let (role, from) = if let Some(first) = named_by.first() {
            let by = if named_by.len() > 1 {
                format!(
                    "{first}'s (and {} more) replication source",
                    named_by.len() - 1
                )
            } else {
                format!("{first}'s replication source")
            };
            (Role::Primary, format!("named by {by}"))
        } else if writer.is_some_and(|w| same_address(w, address)) {
            (Role::Primary, "named by ProxySQL's writer hostgroup".into())
        } else if let Some(seen) = last_seen.and_then(|s| s.get(&m.name))
            && seen.role != Role::Unknown
        {
            (
                seen.role,
                format!("last seen as {} at {}", word(seen.role), seen.since),
            )
        } else {
            continue;
        };
        m.role = role;
        m.role_from = Some(from);
    }
    by_elimination(members);
}

/// With no primary answering or named, and every other member answering as a replica, the
/// one left is the primary that went away.
fn by_elimination(members: &mut [DbMember]) {
    if members.iter().any(|m| m.role == Role::Primary) {
        return;
    }
    let mut unknown = members.iter_mut().filter(|m| m.role == Role::Unknown);
    if let (Some(only), None) = (unknown.next(), unknown.next())
        && !only.reachable
    {
        only.role = Role::Primary;
        only.role_from = Some("by elimination: every other member answers as a replica".into());
    }
}

fn word(role: Role) -> &'static str {
    match role {
        Role::Primary => "primary",
        Role::Replica => "replica",
        Role::Unknown => "unknown",
    }
}

/// Replication sources and configured addresses name a host the same way more often than
/// not; loopback has three spellings, and host names are not case-sensitive.
fn same_address(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) => {
                (h.to_string(), Some(p.to_string()))
            }
            _ => (s.clone(), None),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let host = match host.as_str() {
            "localhost" | "::1" | "127.0.0.1" => "127.0.0.1".to_string(),
            _ => host,
        };
        (host, port)
    };
    norm(a) == norm(b)
}

/// Folds what answered this round into the last-seen roles; true when anything changed.
pub fn remember(seen: &mut BTreeMap<String, Seen>, members: &[DbMember], now: Timestamp) -> bool {
    let mut changed = false;
    for m in members
        .iter()
        .filter(|m| m.reachable && m.role != Role::Unknown)
    {
        if seen.get(&m.name).is_none_or(|s| s.role != m.role) {
            seen.insert(
                m.name.clone(),
                Seen {
                    role: m.role,
                    since: now,
                },
            );
            changed = true;
        }
    }
    changed
}

/// Where the last-seen roles are kept: the data dir's `db-roles.json`, shared by every
/// console, or nowhere (tests, benchmarks, one-off status rounds that only read).
#[derive(Debug, Clone, Default)]
pub struct RoleMemory {
    file: Option<PathBuf>,
}

impl RoleMemory {
    pub fn in_file(path: PathBuf) -> RoleMemory {
        RoleMemory { file: Some(path) }
    }

    /// What the file says; a missing or unreadable file knows nothing (the roles are
    /// evidence of last resort, not a guard).
    pub fn load(&self) -> Roles {
        let Some(path) = &self.file else {
            return Roles::new();
        };
        match super::state_file::read(path, "a database roles file") {
            Ok(roles) => roles,
            Err(e) => {
                tracing::warn!(error = %e, "last-seen database roles not read");
                Roles::new()
            }
        }
    }

    pub fn save(&self, roles: &Roles) {
        if let Some(path) = &self.file
            && let Err(e) = super::state_file::write(path, roles)
        {
            tracing::warn!(error = %e, "last-seen database roles not saved");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::db::MemberDetail;

    fn cfg() -> DbConfig {
        toml::from_str(
            r#"
name = "orders"
kind = "mariadb"
members = [
  { name = "m0", address = "127.0.0.1:3306" },
  { name = "m1", address = "127.0.0.1:3307" },
  { name = "m2", address = "127.0.0.1:3308" },
]
"#,
        )
        .unwrap()
    }

    fn down(name: &str) -> DbMember {
        DbMember::unreachable(name, "", Role::Unknown, "connection refused".into())
    }

    fn replica(name: &str, source: &str) -> DbMember {
        DbMember {
            role: Role::Replica,
            reachable: true,
            last_error: None,
            detail: Some(MemberDetail {
                source: Some(source.into()),
                ..MemberDetail::default()
            }),
            ..down(name)
        }
    }

    #[test]
    fn a_replicas_source_names_the_dead_primary() {
        let mut members = vec![down("m0"), replica("m1", "localhost:3306"), down("m2")];
        name_unreachable(&cfg(), &mut members, None, None);
        assert_eq!(members[0].role, Role::Primary);
        assert_eq!(
            members[0].role_from.as_deref(),
            Some("named by m1's replication source")
        );
        assert_eq!(members[2].role, Role::Unknown, "nothing names m2");
        assert_eq!(members[2].role_from, None);
    }

    #[test]
    fn the_one_member_not_answering_as_a_replica_is_the_primary_by_elimination() {
        let mut members = vec![down("m0"), replica("m1", "db-0.old-dns:3306")];
        name_unreachable(&cfg(), &mut members, None, None);
        assert_eq!(members[0].role, Role::Primary);
        assert!(
            members[0]
                .role_from
                .as_deref()
                .unwrap()
                .starts_with("by elimination")
        );
        let mut two = vec![down("m0"), down("m1"), replica("m2", "elsewhere:1")];
        name_unreachable(&cfg(), &mut two, None, None);
        assert!(
            two.iter().take(2).all(|m| m.role == Role::Unknown),
            "two candidates: no guess"
        );
    }

    #[test]
    fn proxysql_then_the_last_seen_role_when_no_replica_says() {
        let mut members = vec![down("m0"), down("m1"), replica("m2", "10.0.0.9:3306")];
        let since: Timestamp = "2026-12-01T03:00:00Z".parse().unwrap();
        let seen = BTreeMap::from([(
            "m1".to_string(),
            Seen {
                role: Role::Replica,
                since,
            },
        )]);
        name_unreachable(&cfg(), &mut members, Some("127.0.0.1:3306"), Some(&seen));
        assert_eq!(
            (members[0].role, members[0].role_from.as_deref()),
            (Role::Primary, Some("named by ProxySQL's writer hostgroup"))
        );
        assert_eq!(
            (members[1].role, members[1].role_from.as_deref()),
            (
                Role::Replica,
                Some("last seen as replica at 2026-12-01T03:00:00Z")
            )
        );
    }

    #[test]
    fn a_source_beats_a_stale_memory() {
        let mut members = vec![down("m0"), replica("m1", "127.0.0.1:3306")];
        let seen = BTreeMap::from([(
            "m0".to_string(),
            Seen {
                role: Role::Replica,
                since: Timestamp::UNIX_EPOCH,
            },
        )]);
        name_unreachable(&cfg(), &mut members, None, Some(&seen));
        assert_eq!(members[0].role, Role::Primary);
    }

    #[test]
    fn addresses_match_across_spellings_but_not_ports() {
        assert!(same_address("LOCALHOST:5432", "127.0.0.1:5432"));
        assert!(same_address("[::1]:5432", "localhost:5432"));
        assert!(same_address("db-0.Internal:3306", "db-0.internal:3306"));
        assert!(!same_address("127.0.0.1:5433", "127.0.0.1:5432"));
        assert!(same_address("orders-db", "orders-db"), "RDS identifiers");
    }

    #[test]
    fn remembered_roles_change_only_when_a_role_does() {
        let mut seen = BTreeMap::new();
        let t0 = Timestamp::UNIX_EPOCH;
        let members = vec![replica("m1", "127.0.0.1:3306"), down("m0")];
        assert!(remember(&mut seen, &members, t0));
        assert!(!remember(&mut seen, &members, Timestamp::now()));
        assert_eq!(seen["m1"].since, t0, "unchanged roles keep their time");
        assert!(
            !seen.contains_key("m0"),
            "a member that did not answer is not seen"
        );
    }

    #[test]
    fn the_memory_survives_a_restart_and_a_broken_file_knows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-roles.json");
        let memory = RoleMemory::in_file(path.clone());
        let mut roles = Roles::new();
        remember(
            roles.entry("orders".into()).or_default(),
            &[replica("m1", "x")],
            Timestamp::UNIX_EPOCH,
        );
        memory.save(&roles);
        assert_eq!(RoleMemory::in_file(path.clone()).load(), roles);
        std::fs::write(&path, "{ half").unwrap();
        assert!(RoleMemory::in_file(path).load().is_empty());
    }
}
