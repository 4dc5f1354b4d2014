//! Backup freshness: a poller that asks each database's backup sources (RDS, Velero, S3
//! dumps) at start and every minute, and publishes what they hold through the backups
//! channel. Judging it against the RPO is the model's (`model::backup`), so the console,
//! `opsdeck status` and the audit judge alike.

pub mod config;
pub mod rds;
pub mod s3;
pub mod velero;

pub use config::{RdsBackups, RecoveryConfig, RecoveryDb, S3Dumps, VeleroBackups};

use crate::model::backup::{Backup, BackupSnapshot, DatabaseBackups, SourceBackups, SourceKind};
use crate::sources::aws::{Aws, AwsError, Kind};
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// How often the sources are asked: backups are hourly at best, so a minute is plenty.
pub const EVERY: Duration = Duration::from_secs(60);

/// Reads the backups of every configured database.
pub struct BackupReader {
    dbs: Vec<RecoveryDb>,
    /// The shared AWS clients, or why there are none (no `[aws]`, no region).
    aws: Result<Aws, String>,
    /// One client per Velero context, or why it could not be set up.
    kube: BTreeMap<String, Result<kube::Client, String>>,
    /// Sources whose endpoint lacks a call (or a cluster without Velero): said once, and
    /// then not asked again, since asking will not help.
    unsupported: Mutex<BTreeMap<String, String>>,
}

impl BackupReader {
    pub fn new(
        dbs: Vec<RecoveryDb>,
        aws: Result<Aws, String>,
        kube: BTreeMap<String, Result<kube::Client, String>>,
    ) -> BackupReader {
        BackupReader {
            dbs,
            aws,
            kube,
            unsupported: Mutex::new(BTreeMap::new()),
        }
    }

    /// The reader the console and the audit use: the shared AWS clients of `[aws]` (RDS and
    /// S3 sources need it) and one Kubernetes client per Velero context.
    pub async fn connect(
        dbs: Vec<RecoveryDb>,
        aws: Option<&crate::sources::aws::AwsConfig>,
    ) -> BackupReader {
        let aws = match aws {
            Some(cfg) => Aws::load(cfg).await,
            None => Err("RDS and S3 backups are read through [aws]: add it to the config".into()),
        };
        let mut clients = BTreeMap::new();
        for context in BackupReader::contexts(&dbs) {
            let client = crate::sources::kube::connect(Some(&context))
                .await
                .map_err(|e| e.to_string());
            clients.insert(context, client);
        }
        BackupReader::new(dbs, aws, clients)
    }

    /// The Velero contexts the config names, for the caller to connect to.
    fn contexts(dbs: &[RecoveryDb]) -> Vec<String> {
        let mut out: Vec<String> = dbs
            .iter()
            .filter_map(|d| d.velero.as_ref().map(|v| v.context.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every database's sources, asked now.
    pub async fn read(&self, now: Timestamp) -> BackupSnapshot {
        let reads = self.dbs.iter().map(|d| self.database(d));
        BackupSnapshot {
            checked: Some(now),
            databases: futures::future::join_all(reads).await,
        }
    }

    async fn database(&self, d: &RecoveryDb) -> DatabaseBackups {
        let mut sources = Vec::new();
        if let Some(cfg) = &d.rds {
            let read = async {
                let (aws, region) = self.aws_in(cfg.region.as_deref())?;
                rds::read(aws, region, cfg).await.map_err(unsupported)
            };
            sources.push(self.once(SourceKind::Rds, rds::location(cfg), read).await);
        }
        if let Some(cfg) = &d.velero {
            let read = async {
                match self.kube.get(&cfg.context) {
                    Some(Ok(client)) => {
                        velero::read(client.clone(), cfg)
                            .await
                            .map_err(|e| Failure {
                                once: e == velero::NOT_INSTALLED,
                                line: e,
                            })
                    }
                    Some(Err(e)) => Err(Failure::now(e.clone())),
                    None => Err(Failure::now(format!(
                        "no client for context {}",
                        cfg.context
                    ))),
                }
            };
            sources.push(
                self.once(SourceKind::Velero, velero::location(cfg), read)
                    .await,
            );
        }
        if let Some(cfg) = &d.s3 {
            let read = async {
                let (aws, region) = self.aws_in(cfg.region.as_deref())?;
                s3::read(aws, region, cfg).await.map_err(unsupported)
            };
            sources.push(self.once(SourceKind::S3, s3::location(cfg), read).await);
        }
        DatabaseBackups {
            database: d.name.clone(),
            rpo_s: d.rpo_s,
            sources,
        }
    }

    /// The shared AWS clients and the region to ask: the source's own, else the home region.
    fn aws_in<'a>(&'a self, region: Option<&'a str>) -> Result<(&'a Aws, &'a str), Failure> {
        let aws = self.aws.as_ref().map_err(|e| Failure::now(e.clone()))?;
        Ok((aws, region.unwrap_or(aws.home_region())))
    }

    /// Runs `read` unless the source already said it cannot answer; remembers it if it does.
    async fn once(
        &self,
        kind: SourceKind,
        location: String,
        read: impl Future<Output = Result<Vec<Backup>, Failure>>,
    ) -> SourceBackups {
        let known = self.lock().get(&location).cloned();
        let read = match known {
            Some(line) => Err(line),
            None => read.await.map_err(|f| {
                if f.once {
                    self.lock().insert(location.clone(), f.line.clone());
                }
                f.line
            }),
        };
        SourceBackups::from_read(kind, location, read)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.unsupported.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why a read failed, and whether asking again could ever help.
struct Failure {
    line: String,
    once: bool,
}

impl Failure {
    fn now(line: String) -> Failure {
        Failure { line, once: false }
    }
}

fn unsupported(e: AwsError) -> Failure {
    Failure {
        once: e.kind == Kind::Unsupported,
        line: e.line().to_string(),
    }
}

/// Asks at once and then every `every`, publishing only what changed.
pub fn spawn(reader: BackupReader, tx: crate::sources::Tx<BackupSnapshot>, every: Duration) {
    let reader = std::sync::Arc::new(reader);
    crate::sources::poll(tx, every, move |now| {
        let reader = reader.clone();
        async move { reader.read(now).await }
    });
}
