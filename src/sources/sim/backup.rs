//! The drill world's backups, on fixed schedules from the drill's start: the shop's MariaDB
//! volume is backed up by Velero every 15 minutes (always fresh), and billing's pg_dump to
//! S3 runs hourly, its newest dump 50 minutes old as the drill opens, so it sits near its
//! 1-hour RPO (WARN) for the first ten minutes and again late in every hour.

use super::{Sec, at};
use crate::model::backup::{Backup, BackupSnapshot, DatabaseBackups, SourceBackups, SourceKind};
use jiff::Timestamp;

/// billing: RTO 30 min, RPO 1 h (the billing runbook); the shop uses the same RPO.
const RPO_S: i64 = 3600;
const VELERO_EVERY: Sec = 900;
/// The newest Velero backup completed this long before the drill opened.
const VELERO_AGO: Sec = 300;
const DUMP_EVERY: Sec = 3600;
const DUMP_AGO: Sec = 3000;
/// How often the (simulated) poller asks, as the live one does.
const POLL: Sec = 60;

/// The last `n` instants of a schedule `first + k * every` at or before `t`.
fn last_runs(first: Sec, every: Sec, t: Sec, n: i64) -> impl Iterator<Item = Sec> {
    let newest = (t - first).div_euclid(every);
    (0..n).map(move |i| first + (newest - i) * every)
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y%m%d%H%M%S").to_string()
}

pub(super) fn snapshot(start: Timestamp, t: Sec) -> BackupSnapshot {
    let checked = t - t.rem_euclid(POLL);
    let velero = last_runs(-VELERO_AGO, VELERO_EVERY, checked, 3).map(|s| {
        let done = at(start, s);
        Backup {
            name: format!("mariadb-15m-{}", stamp(done)),
            at: done,
            size: None,
            failed: None,
        }
    });
    let dumps = last_runs(-DUMP_AGO, DUMP_EVERY, checked, 3).map(|s| {
        let done = at(start, s);
        Backup {
            name: format!("pg_dump/billing-{}.dump", stamp(done)),
            at: done,
            // Grows a little with every dump, as a real database does.
            size: Some(1_480_000_000 + (s.rem_euclid(86_400) as u64) * 1000),
            failed: None,
        }
    });
    BackupSnapshot {
        checked: Some(at(start, checked)),
        databases: vec![
            DatabaseBackups {
                database: super::db::CLUSTER.into(),
                rpo_s: RPO_S,
                sources: vec![SourceBackups::of(
                    SourceKind::Velero,
                    "velero shop-eks/velero".into(),
                    velero,
                )],
            },
            DatabaseBackups {
                database: "billing-pg".into(),
                rpo_s: RPO_S,
                sources: vec![SourceBackups::of(
                    SourceKind::S3,
                    "s3://billing-dumps/pg_dump/".into(),
                    dumps,
                )],
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use crate::model::db::DbSnapshot;

    #[test]
    fn the_shop_is_fresh_and_billing_near_its_rpo_as_the_drill_opens() {
        let start: Timestamp = "2026-11-22T11:00:00Z".parse().unwrap();
        let snap = snapshot(start, 0);
        let st = snap.assess(&DbSnapshot::default());
        assert_eq!(st[0].database, "shop-mariadb");
        assert_eq!((st[0].age_s, st[0].level), (Some(300), Level::Ok));
        assert_eq!(st[0].line(), "newest backup 5 min ago · RPO 1 h ✓");
        assert_eq!(st[1].database, "billing-pg");
        assert_eq!((st[1].age_s, st[1].level), (Some(3000), Level::Warn));
        assert_eq!(st[1].line(), "newest backup 50 min ago · RPO 1 h !");
        // Ten minutes in, the hourly dump has run: fresh again; and never past the RPO.
        let later = snapshot(start, 11 * 60).assess(&DbSnapshot::default());
        assert_eq!((later[1].age_s, later[1].level), (Some(60), Level::Ok));
        for t in (0..4 * 3600).step_by(60) {
            for s in snapshot(start, t).assess(&DbSnapshot::default()) {
                assert!(s.level < Level::Crit, "{t}: {s:?}");
            }
        }
        assert_eq!(snapshot(start, 59), snap, "polled once a minute");
    }
}
