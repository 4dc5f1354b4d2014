//! Backup freshness against the recovery point objective: how much data a restore would lose
//! right now. Each database's sources (RDS automated backups, snapshots and point-in-time
//! recovery; Velero `Backup` objects; dump archives in S3) report their newest backups; the
//! newest good one across them, its age and the RPO give the assessment. No I/O here: the
//! sources and the drill world fill these types, and the time comes in as an argument.

use super::Level;
use super::db::{DbSnapshot, Role};
use jiff::Timestamp;
use serde::Serialize;

/// What the backup sources last reported, with the moment they were asked: ages and levels
/// are judged at that moment, so one poll gives one consistent picture.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BackupSnapshot {
    pub checked: Option<Timestamp>,
    pub databases: Vec<DatabaseBackups>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseBackups {
    /// The database's name; a `[[databases]]` cluster of the same name lends its replica lag.
    pub database: String,
    pub rpo_s: i64,
    pub sources: Vec<SourceBackups>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Rds,
    Velero,
    S3,
}

/// One backup or backup attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backup {
    /// `snapshot rds:orders-db-2026-12-02-03-10`, `point in time`, `daily-20261202`, a key.
    pub name: String,
    /// When it completed (or, for an attempt that never completed, started).
    pub at: Timestamp,
    /// Bytes, where the source says (S3 dumps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why this is not a backup a restore could use; `None` for a good one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// What one source holds for one database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceBackups {
    pub kind: SourceKind,
    /// Where: `rds orders-db`, `velero prod-kr/velero`, `s3://shop-dumps/mariadb/`.
    pub location: String,
    pub newest_good: Option<Backup>,
    /// The newest attempt when it is newer than the newest good backup and not good itself:
    /// a PartiallyFailed Velero backup, a 0-byte dump.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_attempt: Option<Backup>,
    /// The source could not be read (the health line: AccessDenied names the IAM action).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SourceBackups {
    /// Picks the newest good backup and, if a later attempt failed, that attempt.
    pub fn of(
        kind: SourceKind,
        location: String,
        backups: impl IntoIterator<Item = Backup>,
    ) -> SourceBackups {
        let (mut good, mut attempt): (Option<Backup>, Option<Backup>) = (None, None);
        for b in backups {
            let slot = if b.failed.is_none() {
                &mut good
            } else {
                &mut attempt
            };
            if slot.as_ref().is_none_or(|s| b.at > s.at) {
                *slot = Some(b);
            }
        }
        let newest_attempt = attempt.filter(|a| good.as_ref().is_none_or(|g| a.at > g.at));
        SourceBackups {
            kind,
            location,
            newest_good: good,
            newest_attempt,
            error: None,
        }
    }

    /// A source that could not be read.
    pub fn failed(kind: SourceKind, location: String, error: String) -> SourceBackups {
        SourceBackups {
            kind,
            location,
            newest_good: None,
            newest_attempt: None,
            error: Some(error),
        }
    }

    /// What one read of a source gave: its backups, or why it could not be read.
    pub fn from_read(
        kind: SourceKind,
        location: String,
        read: Result<Vec<Backup>, String>,
    ) -> SourceBackups {
        match read {
            Ok(list) => SourceBackups::of(kind, location, list),
            Err(e) => SourceBackups::failed(kind, location, e),
        }
    }
}

/// One database judged against its RPO: one line of the DB pane, the overview and
/// `opsdeck status --json`'s `backups`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupStatus {
    pub database: String,
    /// The newest good backup across the sources.
    pub newest: Option<Timestamp>,
    pub age_s: Option<i64>,
    pub rpo_s: i64,
    pub level: Level,
    /// Where the newest good backup is: the source's location.
    pub source: Option<String>,
    /// Everything wrong, worst first: the breach, a replica past the RPO, failed attempts,
    /// unreadable sources.
    pub problems: Vec<String>,
}

/// A span in words for the lines: `40 s`, `42 min`, `1 h`, `1 h 10 min`, `3 d 2 h`.
pub fn span_text(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => match s % 3600 / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// WARN from 80 % of the RPO, CRIT past it.
pub fn level_of(age_s: i64, rpo_s: i64) -> Level {
    if age_s > rpo_s {
        Level::Crit
    } else if age_s * 5 >= rpo_s * 4 {
        Level::Warn
    } else {
        Level::Ok
    }
}

/// The replica furthest behind in the cluster named `database`, as `(member, seconds)`.
pub fn worst_lag(db: &DbSnapshot, database: &str) -> Option<(String, f64)> {
    db.clusters
        .iter()
        .filter(|c| c.name == database)
        .flat_map(|c| c.members.iter())
        .filter(|m| m.role == Role::Replica && m.reachable)
        .filter_map(|m| m.lag_seconds.map(|l| (m.name.clone(), l)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

impl DatabaseBackups {
    /// Judged at `now`; `lag` is the worst replica lag of the cluster of the same name: a
    /// replica further behind than the RPO loses as much data as a stale backup would.
    pub fn assess(&self, lag: Option<(String, f64)>, now: Timestamp) -> BackupStatus {
        let newest = self
            .sources
            .iter()
            .filter_map(|s| s.newest_good.as_ref().map(|b| (s, b)))
            .max_by_key(|(_, b)| b.at);
        let rpo = span_text(self.rpo_s);
        let mut problems = Vec::new();
        let (mut level, age_s) = match newest {
            None => {
                problems.push(format!("no backup found (RPO {rpo})"));
                (Level::Crit, None)
            }
            Some((_, b)) => {
                let age = (now.as_second() - b.at.as_second()).max(0);
                let level = level_of(age, self.rpo_s);
                match level {
                    Level::Crit => problems.push(format!(
                        "newest backup {} old, past the RPO {rpo}",
                        span_text(age)
                    )),
                    Level::Warn => problems.push(format!(
                        "newest backup {} old, {} % of the RPO {rpo}",
                        span_text(age),
                        age * 100 / self.rpo_s.max(1)
                    )),
                    _ => {}
                }
                (level, Some(age))
            }
        };
        if let Some((member, secs)) = lag
            && secs > self.rpo_s as f64
        {
            level = Level::Crit;
            problems.push(format!(
                "replica {member} lags {}, past the RPO {rpo}",
                span_text(secs as i64)
            ));
        }
        for s in &self.sources {
            if let Some(a) = &s.newest_attempt {
                problems.push(format!(
                    "{}: newest attempt {} {} ago is not a backup: {}",
                    s.location,
                    a.name,
                    span_text(now.as_second() - a.at.as_second()),
                    a.failed.as_deref().unwrap_or_default()
                ));
            }
        }
        for s in &self.sources {
            if let Some(e) = &s.error {
                // A source nobody could read may hold a newer backup: not OK, whatever the rest says.
                level = level.max(Level::Warn);
                problems.push(format!("{}: {e}", s.location));
            }
        }
        BackupStatus {
            database: self.database.clone(),
            newest: newest.map(|(_, b)| b.at),
            age_s,
            rpo_s: self.rpo_s,
            level,
            source: newest.map(|(s, _)| s.location.clone()),
            problems,
        }
    }
}

impl BackupSnapshot {
    /// Every database judged at the time the sources were asked, with the lag `db` shows.
    pub fn assess(&self, db: &DbSnapshot) -> Vec<BackupStatus> {
        let Some(now) = self.checked else {
            return Vec::new();
        };
        self.databases
            .iter()
            .map(|d| d.assess(worst_lag(db, &d.database), now))
            .collect()
    }
}

impl BackupStatus {
    /// `newest backup 42 min ago · RPO 1 h ✓`: fits 80 columns beside a database name.
    pub fn line(&self) -> String {
        let rpo = span_text(self.rpo_s);
        match self.age_s {
            Some(age) => format!(
                "newest backup {} ago · RPO {rpo} {}",
                span_text(age),
                self.level.marker()
            ),
            None => format!("no backup found · RPO {rpo} {}", self.level.marker()),
        }
    }

    /// Whether this is a breach of the RPO (not merely close to it, or a source unread).
    pub fn breached(&self) -> bool {
        self.level == Level::Crit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::db::{DbCluster, DbMember, Engine};

    const NOW: i64 = 1_800_000_000;

    fn at(ago_s: i64) -> Timestamp {
        Timestamp::from_second(NOW - ago_s).unwrap()
    }

    fn now() -> Timestamp {
        at(0)
    }

    fn good(name: &str, ago_s: i64) -> Backup {
        Backup {
            name: name.into(),
            at: at(ago_s),
            size: None,
            failed: None,
        }
    }

    fn bad(name: &str, ago_s: i64, why: &str) -> Backup {
        Backup {
            failed: Some(why.into()),
            ..good(name, ago_s)
        }
    }

    fn db(sources: Vec<SourceBackups>) -> DatabaseBackups {
        DatabaseBackups {
            database: "shop-mariadb".into(),
            rpo_s: 3600,
            sources,
        }
    }

    #[test]
    fn spans_read_as_words() {
        assert_eq!(span_text(40), "40 s");
        assert_eq!(span_text(42 * 60 + 59), "42 min");
        assert_eq!(span_text(3600), "1 h");
        assert_eq!(span_text(4200), "1 h 10 min");
        assert_eq!(span_text(3 * 86_400 + 7200), "3 d 2 h");
        assert_eq!(span_text(-5), "0 s");
    }

    #[test]
    fn ok_under_80_percent_warn_from_it_crit_past_the_rpo() {
        assert_eq!(level_of(2879, 3600), Level::Ok);
        assert_eq!(level_of(2880, 3600), Level::Warn);
        assert_eq!(level_of(3600, 3600), Level::Warn);
        assert_eq!(level_of(3601, 3600), Level::Crit);
    }

    #[test]
    fn the_newest_good_backup_across_sources_decides() {
        let velero = SourceBackups::of(
            SourceKind::Velero,
            "velero prod/velero".into(),
            [good("daily-1", 5000), good("hourly-2", 2520)],
        );
        let s3 = SourceBackups::of(
            SourceKind::S3,
            "s3://dumps/shop/".into(),
            [good("shop/a.sql.gz", 3000)],
        );
        let st = db(vec![velero, s3]).assess(None, now());
        assert_eq!(st.newest, Some(at(2520)));
        assert_eq!(st.age_s, Some(2520));
        assert_eq!(st.level, Level::Ok);
        assert_eq!(st.source.as_deref(), Some("velero prod/velero"));
        assert!(st.problems.is_empty(), "{:?}", st.problems);
        assert_eq!(st.line(), "newest backup 42 min ago · RPO 1 h ✓");
    }

    #[test]
    fn near_and_past_the_rpo_say_how_far() {
        let src = |ago| SourceBackups::of(SourceKind::S3, "s3://d/".into(), [good("k", ago)]);
        let warn = db(vec![src(3060)]).assess(None, now());
        assert_eq!(warn.level, Level::Warn);
        assert_eq!(
            warn.problems,
            ["newest backup 51 min old, 85 % of the RPO 1 h"]
        );
        assert_eq!(warn.line(), "newest backup 51 min ago · RPO 1 h !");
        let crit = db(vec![src(4200)]).assess(None, now());
        assert_eq!(crit.level, Level::Crit);
        assert!(crit.breached());
        assert_eq!(
            crit.problems,
            ["newest backup 1 h 10 min old, past the RPO 1 h"]
        );
    }

    #[test]
    fn no_backup_found_is_crit() {
        let empty = SourceBackups::of(SourceKind::S3, "s3://d/".into(), []);
        let st = db(vec![empty]).assess(None, now());
        assert_eq!((st.level, st.newest, st.age_s), (Level::Crit, None, None));
        assert_eq!(st.problems, ["no backup found (RPO 1 h)"]);
        assert_eq!(st.line(), "no backup found · RPO 1 h ✗");
    }

    #[test]
    fn a_failed_attempt_is_never_the_newest_good_one_but_is_shown() {
        let velero = SourceBackups::of(
            SourceKind::Velero,
            "velero prod/velero".into(),
            [
                good("daily-1", 4000),
                bad("hourly-9", 600, "PartiallyFailed (2 errors, 1 warning)"),
                bad("hourly-1", 5000, "Failed"),
            ],
        );
        assert_eq!(velero.newest_good, Some(good("daily-1", 4000)));
        assert_eq!(
            velero.newest_attempt.as_ref().map(|a| a.name.as_str()),
            Some("hourly-9"),
            "an older failure than the good backup is no news"
        );
        let zero = SourceBackups::of(
            SourceKind::S3,
            "s3://d/p/".into(),
            [bad("p/today.sql.gz", 300, "0 bytes")],
        );
        let st = db(vec![velero, zero]).assess(None, now());
        assert_eq!(st.level, Level::Crit);
        assert_eq!(
            st.problems,
            [
                "newest backup 1 h 6 min old, past the RPO 1 h",
                "velero prod/velero: newest attempt hourly-9 10 min ago is not a backup: \
                 PartiallyFailed (2 errors, 1 warning)",
                "s3://d/p/: newest attempt p/today.sql.gz 5 min ago is not a backup: 0 bytes",
            ]
        );
    }

    #[test]
    fn an_unreadable_source_is_at_least_warn() {
        let ok = SourceBackups::of(SourceKind::S3, "s3://d/".into(), [good("k", 60)]);
        let denied = SourceBackups::failed(
            SourceKind::Rds,
            "rds orders-db".into(),
            "AccessDenied for rds:DescribeDBSnapshots".into(),
        );
        let st = db(vec![ok, denied]).assess(None, now());
        assert_eq!(st.level, Level::Warn);
        assert_eq!(
            st.problems,
            ["rds orders-db: AccessDenied for rds:DescribeDBSnapshots"]
        );
    }

    #[test]
    fn a_replica_lagging_past_the_rpo_is_the_same_breach() {
        let fresh = SourceBackups::of(SourceKind::S3, "s3://d/".into(), [good("k", 60)]);
        let replica = |name: &str, lag: f64| DbMember {
            lag_seconds: Some(lag),
            read_only: Some(true),
            io_running: Some(true),
            sql_running: Some(true),
            reachable: true,
            last_error: None,
            ..DbMember::unreachable(name, "h:1", Role::Replica, String::new())
        };
        let snap = DbSnapshot {
            clusters: vec![DbCluster {
                name: "shop-mariadb".into(),
                engine: Engine::MariaDb,
                router: None,
                lag_threshold_s: 5.0,
                members: vec![replica("mariadb-1", 12.0), replica("mariadb-2", 4000.0)],
            }],
        };
        assert_eq!(
            worst_lag(&snap, "shop-mariadb"),
            Some(("mariadb-2".into(), 4000.0))
        );
        assert_eq!(worst_lag(&snap, "billing-pg"), None);
        let backups = BackupSnapshot {
            checked: Some(now()),
            databases: vec![db(vec![fresh])],
        };
        let st = &backups.assess(&snap)[0];
        assert_eq!(st.level, Level::Crit);
        assert_eq!(
            st.problems,
            ["replica mariadb-2 lags 1 h 6 min, past the RPO 1 h"]
        );
        assert!(
            BackupSnapshot::default().assess(&snap).is_empty(),
            "never asked, nothing to judge"
        );
    }
}
