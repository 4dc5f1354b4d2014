//! `[recovery]` in config.toml: the recovery point objective, and where each database's
//! backups are. A database names one or more sources; the newest good backup across them
//! is judged against its RPO.
//!
//! ```toml
//! [recovery]
//! rpo = "1h"                                  # every database's, unless it sets its own
//!
//! [[recovery.databases]]
//! name = "orders-rds"                         # a [[databases]] name lends its replica lag
//! rpo = "30m"
//! rds = { instance = "orders-db", region = "ap-northeast-2" }   # region: else [aws]'s first
//!
//! [[recovery.databases]]
//! name = "shop-mariadb"
//! velero = { context = "prod-kr", namespace = "velero", selector = "app=mariadb",
//!            storage_location = "default", included_namespace = "shop" }
//! s3 = { bucket = "shop-dumps", prefix = "mariadb/" }
//! ```

use crate::config::Span;
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "RawRecovery")]
pub struct RecoveryConfig {
    pub databases: Vec<RecoveryDb>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryDb {
    pub name: String,
    /// Its own RPO, or `[recovery]`'s.
    pub rpo_s: i64,
    pub rds: Option<RdsBackups>,
    pub velero: Option<VeleroBackups>,
    pub s3: Option<S3Dumps>,
}

/// RDS automated backups, snapshots and point-in-time recovery of one DB instance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsBackups {
    pub instance: String,
    #[serde(default, deserialize_with = "region")]
    pub region: Option<String>,
}

/// velero.io/v1 `Backup` objects in one namespace of one Kubernetes context; the optional
/// filters pick the backups of this database among others.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VeleroBackups {
    pub context: String,
    #[serde(default = "velero_namespace")]
    pub namespace: String,
    /// A label selector, as `kubectl get -l` takes it.
    pub selector: Option<String>,
    /// Only backups to this BackupStorageLocation.
    pub storage_location: Option<String>,
    /// Only backups whose includedNamespaces name this one (or `*`).
    pub included_namespace: Option<String>,
}

/// Dump archives under a prefix of a bucket (mysqldump, pg_dump): the newest object is the
/// newest dump, and a 0-byte one is not a backup.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Dumps {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default, deserialize_with = "region")]
    pub region: Option<String>,
}

fn velero_namespace() -> String {
    "velero".into()
}

fn region<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    if !crate::sources::aws::is_region_name(&name) {
        return Err(serde::de::Error::custom(format!(
            "`{name}` is not an AWS region name like ap-northeast-2 or us-east-1"
        )));
    }
    Ok(Some(name))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecovery {
    rpo: Option<Span>,
    #[serde(default)]
    databases: Vec<RawDb>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDb {
    name: String,
    rpo: Option<Span>,
    rds: Option<RdsBackups>,
    velero: Option<VeleroBackups>,
    s3: Option<S3Dumps>,
}

impl TryFrom<RawRecovery> for RecoveryConfig {
    type Error = String;

    fn try_from(raw: RawRecovery) -> Result<RecoveryConfig, String> {
        let mut databases: Vec<RecoveryDb> = Vec::new();
        for d in raw.databases {
            let whose = format!("recovery database `{}`", d.name);
            if databases.iter().any(|o| o.name == d.name) {
                return Err(format!("{whose} is configured twice"));
            }
            if d.rds.is_none() && d.velero.is_none() && d.s3.is_none() {
                return Err(format!(
                    "{whose} names no backups: give rds = {{ instance = … }}, \
                     velero = {{ context = … }} or s3 = {{ bucket = … }}"
                ));
            }
            let Some(rpo) = d.rpo.or(raw.rpo) else {
                return Err(format!(
                    "{whose} has no RPO: set rpo = \"1h\" on it or in [recovery]"
                ));
            };
            databases.push(RecoveryDb {
                name: d.name,
                rpo_s: rpo.0.as_secs(),
                rds: d.rds,
                velero: d.velero,
                s3: d.s3,
            });
        }
        Ok(RecoveryConfig { databases })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, load};

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        load(&path, true).map(Option::unwrap)
    }

    #[test]
    fn reads_the_global_rpo_and_each_databases_sources() {
        let cfg = load_text(
            "[recovery]\nrpo = \"1h\"\n\
             [[recovery.databases]]\nname = \"orders\"\nrpo = \"30m\"\n\
             rds = { instance = \"orders-db\", region = \"ap-northeast-2\" }\n\
             [[recovery.databases]]\nname = \"shop\"\n\
             velero = { context = \"prod-kr\", selector = \"app=mariadb\", included_namespace = \"shop\" }\n\
             s3 = { bucket = \"dumps\", prefix = \"mariadb/\" }\n",
        )
        .unwrap();
        let dbs = cfg.recovery.databases;
        assert_eq!(dbs[0].rpo_s, 1800);
        let rds = dbs[0].rds.as_ref().unwrap();
        assert_eq!(
            (rds.instance.as_str(), rds.region.as_deref()),
            ("orders-db", Some("ap-northeast-2"))
        );
        assert_eq!(dbs[1].rpo_s, 3600, "the global RPO applies");
        let velero = dbs[1].velero.as_ref().unwrap();
        assert_eq!(velero.namespace, "velero");
        assert_eq!(velero.selector.as_deref(), Some("app=mariadb"));
        assert_eq!(velero.included_namespace.as_deref(), Some("shop"));
        let s3 = dbs[1].s3.as_ref().unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("dumps", "mariadb/")
        );
        assert!(Config::default().recovery.databases.is_empty());
    }

    #[test]
    fn mistakes_are_located() {
        for (text, says) in [
            (
                "[recovery]\n[[recovery.databases]]\nname = \"a\"\ns3 = { bucket = \"b\" }\n",
                "config.toml:1:1: recovery database `a` has no RPO: set rpo = \"1h\"",
            ),
            (
                "[recovery]\nrpo = \"1h\"\n[[recovery.databases]]\nname = \"a\"\n",
                "config.toml:1:1: recovery database `a` names no backups",
            ),
            (
                "[recovery]\nrpo = \"1h\"\n[[recovery.databases]]\nname = \"a\"\ns3 = { bucket = \"b\" }\n\
                 [[recovery.databases]]\nname = \"a\"\ns3 = { bucket = \"c\" }\n",
                "recovery database `a` is configured twice",
            ),
            (
                "[recovery]\nrpo = \"soon\"\n",
                "config.toml:2:7: `soon` is not a duration like 2h, 30m or 90s",
            ),
            (
                "[recovery]\nrpo = \"1h\"\n[[recovery.databases]]\nname = \"a\"\n\
                 rds = { instance = \"x\", region = \"Seoul\" }\n",
                "config.toml:5:34: `Seoul` is not an AWS region name",
            ),
            (
                "[recovery]\nrpo = \"1h\"\n[[recovery.databases]]\nname = \"a\"\n\
                 s3 = { bucket = \"b\", perfix = \"x\" }\n",
                "config.toml:5:22: unknown field `perfix`",
            ),
        ] {
            let err = load_text(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}\n{err}");
        }
    }
}
