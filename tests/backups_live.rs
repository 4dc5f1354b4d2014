//! Backup freshness against the RPO on real parts: moto for RDS (automated backups,
//! snapshots, point-in-time recovery) and S3 (dump archives), the in-repo Kubernetes API
//! server for Velero `Backup` objects.
//!
//! moto creates everything "now" and always reports LatestRestorableTime as "now", so
//! tests/backupsupport/backup_moto.py sets the snapshot times, the objects' LastModified and
//! LatestRestorableTime inside the moto process, relative to a NOW this test chooses; the
//! reader is then asked at that NOW, so every age below is exact.

mod kubesupport;

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use jiff::Timestamp;
use kubesupport::KubeServer;
use opsdeck::model::Level;
use opsdeck::model::backup::BackupStatus;
use opsdeck::model::db::DbSnapshot;
use opsdeck::sources::aws::{Aws, AwsConfig, Overrides};
use opsdeck::sources::backup::{BackupReader, RecoveryConfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// moto seeded by backup_moto.py, stopped when dropped.
struct BackupMoto {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    credentials: PathBuf,
}

impl Drop for BackupMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl BackupMoto {
    fn start(now: Timestamp) -> BackupMoto {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/backupsupport/backup_moto.py"
        );
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let mut child = Command::new("python3")
            .args([script, &now.as_second().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("python3 with moto (scripts/test-services installs it)");
        let mut line = String::new();
        let _ = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        let port = line
            .strip_prefix("PORT ")
            .map(str::trim)
            .unwrap_or_else(|| {
                let log = std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default();
                panic!("backup_moto.py did not start: {line:?}\n{log}")
            });
        let url = format!("http://127.0.0.1:{port}");
        let credentials = dir.path().join("credentials");
        std::fs::write(
            &credentials,
            "[opsdeck-test]\naws_access_key_id = AKIAOPSDECKTEST0001\naws_secret_access_key = backups\n",
        )
        .unwrap();
        BackupMoto {
            child,
            url,
            dir,
            credentials,
        }
    }

    async fn aws(&self) -> Aws {
        Aws::load_from(
            &AwsConfig {
                profile: Some("opsdeck-test".into()),
                regions: vec!["us-east-1".into()],
            },
            Overrides {
                endpoint_url: Some(self.url.clone()),
                profile_files: Some(
                    EnvConfigFiles::builder()
                        .with_file(EnvConfigFileKind::Credentials, &self.credentials)
                        .build(),
                ),
            },
        )
        .await
        .unwrap()
    }
}

/// A Velero Backup object as Velero writes it.
fn velero(name: &str, ns: &str, phase: &str, done: Timestamp, extra: Value) -> Value {
    let mut status = json!({
        "phase": phase,
        "startTimestamp": (done - jiff::SignedDuration::from_secs(120)).to_string(),
        "completionTimestamp": done.to_string(),
    });
    if let (Some(s), Some(e)) = (status.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": "velero", "labels": {"app": ns}},
        "spec": {"includedNamespaces": [ns], "storageLocation": "default", "ttl": "720h0m0s"},
        "status": status,
    })
}

fn seed_velero(kube: &KubeServer, now: Timestamp) {
    let ago = |s: i64| now - jiff::SignedDuration::from_secs(s);
    kube.put_values(
        "backups",
        vec![
            velero("mall-hourly-1", "mall", "Completed", ago(2400), json!({})),
            velero(
                "mall-hourly-2",
                "mall",
                "PartiallyFailed",
                ago(600),
                json!({"errors": 2, "warnings": 1}),
            ),
            velero("mall-daily", "mall", "Completed", ago(86_400), json!({})),
            velero("crm-old", "crm", "Completed", ago(3 * 86_400), json!({})),
            // Newer, but to another storage location: not the one configured.
            {
                let mut v = velero("mall-offsite", "mall", "Completed", ago(60), json!({}));
                v["spec"]["storageLocation"] = json!("offsite");
                v
            },
            velero("mall-running", "mall", "InProgress", ago(30), json!({})),
        ],
    );
}

const RECOVERY: &str = r#"
[recovery]
rpo = "1h"

[[recovery.databases]]
name = "orders"
rds = { instance = "orders-db" }

[[recovery.databases]]
name = "ledger"
rds = { instance = "ledger-db", region = "us-east-1" }

[[recovery.databases]]
name = "audit"
rds = { instance = "audit-db" }

[[recovery.databases]]
name = "mall"
velero = { context = "test", included_namespace = "mall", storage_location = "default" }
s3 = { bucket = "shop-dumps", prefix = "mall/" }

[[recovery.databases]]
name = "crm"
velero = { context = "test", selector = "app=crm" }
s3 = { bucket = "shop-dumps", prefix = "crm/" }

[[recovery.databases]]
name = "empty"
s3 = { bucket = "shop-dumps", prefix = "nothing/" }

[[recovery.databases]]
name = "missing"
rpo = "30m"
s3 = { bucket = "no-such-bucket", prefix = "x/" }
"#;

fn recovery() -> RecoveryConfig {
    #[derive(serde::Deserialize)]
    struct File {
        recovery: RecoveryConfig,
    }
    toml::from_str::<File>(RECOVERY).unwrap().recovery
}

fn by_name<'a>(all: &'a [BackupStatus], name: &str) -> &'a BackupStatus {
    all.iter().find(|b| b.database == name).unwrap()
}

/// Whole seconds, so ages compare exactly with what moto stores (S3 keeps seconds).
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn freshness_and_rpo_findings_are_exact_across_rds_velero_and_s3() {
    let now = now();
    let moto = BackupMoto::start(now);
    let kube = KubeServer::start().await;
    seed_velero(&kube, now);
    let mut clients = BTreeMap::new();
    clients.insert("test".to_string(), Ok(kube.client().await));
    let reader = BackupReader::new(recovery().databases, Ok(moto.aws().await), clients);
    let snap = reader.read(now).await;
    let all = snap.assess(&DbSnapshot::default());
    let names: Vec<&str> = all.iter().map(|b| b.database.as_str()).collect();
    assert_eq!(
        names,
        [
            "orders", "ledger", "audit", "mall", "crm", "empty", "missing"
        ]
    );

    // Point-in-time recovery 5 minutes behind beats the snapshots.
    let orders = by_name(&all, "orders");
    assert_eq!(
        (orders.age_s, orders.level, orders.source.as_deref()),
        (Some(300), Level::Ok, Some("rds orders-db"))
    );
    assert_eq!(orders.line(), "newest backup 5 min ago · RPO 1 h ✓");
    assert!(orders.problems.is_empty(), "{:?}", orders.problems);

    // Retention 0: no point-in-time recovery, the newest snapshot is 3 h old.
    let ledger = by_name(&all, "ledger");
    assert_eq!((ledger.age_s, ledger.level), (Some(10_800), Level::Crit));
    assert_eq!(ledger.problems, ["newest backup 3 h old, past the RPO 1 h"]);

    let audit = by_name(&all, "audit");
    assert_eq!((audit.age_s, audit.level), (Some(3000), Level::Warn));
    assert_eq!(
        audit.problems,
        ["newest backup 50 min old, 83 % of the RPO 1 h"]
    );

    // The dump of 25 min ago is newer than Velero's 40 min; the PartiallyFailed backup of
    // 10 min ago is shown, never counted; the offsite and running ones are left out.
    let mall = by_name(&all, "mall");
    assert_eq!(
        (mall.age_s, mall.level, mall.source.as_deref()),
        (Some(1500), Level::Ok, Some("s3://shop-dumps/mall/"))
    );
    assert_eq!(
        mall.problems,
        [
            "velero test/velero: newest attempt mall-hourly-2 10 min ago is not a backup: \
          PartiallyFailed (2 errors, 1 warning)"
        ]
    );
    let velero_mall = &snap.databases[3].sources[0];
    assert_eq!(
        velero_mall.newest_good.as_ref().map(|b| b.name.as_str()),
        Some("mall-hourly-1")
    );
    let dump = snap.databases[3].sources[1].newest_good.as_ref().unwrap();
    assert_eq!(
        (dump.name.as_str(), dump.size),
        ("mall/mall-b.sql.gz", Some(12_000_000))
    );

    // The 0-byte dump of 10 min ago is not a backup: the good one is 2 h old.
    let crm = by_name(&all, "crm");
    assert_eq!(
        (crm.age_s, crm.level, crm.source.as_deref()),
        (Some(7200), Level::Crit, Some("s3://shop-dumps/crm/"))
    );
    assert_eq!(
        crm.problems,
        [
            "newest backup 2 h old, past the RPO 1 h",
            "s3://shop-dumps/crm/: newest attempt crm/crm-empty.sql.gz 10 min ago is not a \
             backup: 0 bytes: the dump wrote nothing",
        ]
    );

    let empty = by_name(&all, "empty");
    assert_eq!((empty.newest, empty.level), (None, Level::Crit));
    assert_eq!(empty.problems, ["no backup found (RPO 1 h)"]);

    let missing = by_name(&all, "missing");
    assert_eq!((missing.level, missing.rpo_s), (Level::Crit, 1800));
    assert_eq!(missing.problems[0], "no backup found (RPO 30 min)");
    assert!(
        missing.problems[1].starts_with("s3://no-such-bucket/x/: s3:ListBucket")
            && missing.problems[1].contains("NoSuchBucket"),
        "{:?}",
        missing.problems
    );

    // The audit lists exactly the breaches, worst first then by id.
    let findings = opsdeck::audit::backup_findings(&all);
    let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "opsdeck_backup_rpo:crm",
            "opsdeck_backup_rpo:empty",
            "opsdeck_backup_rpo:ledger",
            "opsdeck_backup_rpo:missing",
        ]
    );
    assert_eq!(
        findings[2].evidence,
        format!(
            "newest good backup {} from rds ledger-db",
            now - jiff::SignedDuration::from_secs(10_800)
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn velero_forbidden_and_not_installed_are_said_and_not_installed_once() {
    let now = now();
    let kube = KubeServer::start().await;
    seed_velero(&kube, now);
    kube.forbid("backups");
    let dbs = recovery()
        .databases
        .into_iter()
        .filter(|d| d.name == "mall")
        .map(|mut d| {
            d.s3 = None;
            d
        })
        .collect::<Vec<_>>();
    let mut clients = BTreeMap::new();
    clients.insert("test".to_string(), Ok(kube.client().await));
    let reader = BackupReader::new(dbs.clone(), Err("no [aws]".into()), clients);
    let st = &reader.read(now).await.assess(&DbSnapshot::default())[0];
    assert_eq!(st.level, Level::Crit);
    assert!(
        st.problems[1].starts_with(
            "velero test/velero: forbidden: list backups.velero.io in namespace velero"
        ),
        "{:?}",
        st.problems
    );
    kube.allow("backups");
    let st = &reader.read(now).await.assess(&DbSnapshot::default())[0];
    assert_eq!(st.age_s, Some(2400), "a refusal is asked again");

    // A cluster without Velero: the API server has no such resource.
    let bare = KubeServer::start().await;
    bare.lack("backups");
    let mut clients = BTreeMap::new();
    clients.insert("test".to_string(), Ok(bare.client().await));
    let reader = BackupReader::new(dbs, Err("no [aws]".into()), clients);
    for _ in 0..2 {
        let st = &reader.read(now).await.assess(&DbSnapshot::default())[0];
        assert_eq!(
            st.problems[1],
            "velero test/velero: Velero is not installed there (no backups.velero.io)"
        );
    }
    let asked = bare
        .requests()
        .iter()
        .filter(|r| r.path.contains("velero.io"))
        .count();
    assert_eq!(asked, 1, "said once, then not asked again");
}

/// `opsdeck status --json` through the real binary: the backups list comes through the
/// same sources and `Data::of` as the console's lines.
#[tokio::test(flavor = "multi_thread")]
async fn status_json_lists_each_databases_backups() {
    let now = now();
    let moto = BackupMoto::start(now);
    let kube = KubeServer::start().await;
    seed_velero(&kube, now);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    let config =
        format!("[aws]\nprofile = \"opsdeck-test\"\nregions = [\"us-east-1\"]\n{RECOVERY}");
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let out = opsdeck_status(home.path(), &moto, &kube.kubeconfig()).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let backups = v["backups"].as_array().expect("a backups list");
    let line = |name: &str| backups.iter().find(|b| b["database"] == name).unwrap();
    let orders = line("orders");
    assert_eq!(orders["level"], "ok");
    assert_eq!(orders["rpo_s"], 3600);
    assert_eq!(orders["source"], "rds orders-db");
    // The binary asks a moment after NOW: the age is NOW's plus that moment.
    let age = orders["age_s"].as_i64().unwrap();
    assert!((300..330).contains(&age), "{age}");
    let crm = line("crm");
    assert_eq!(crm["level"], "crit");
    assert_eq!(
        crm["problems"][0],
        "newest backup 2 h old, past the RPO 1 h"
    );
    assert_eq!(line("empty")["newest"], Value::Null);
    // The DB area carries the worst backup line, though no [[databases]] is configured.
    let db = v["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["area"] == "db")
        .unwrap();
    assert_eq!(db["level"], "crit");
    assert_eq!(db["counts"], "backups of 7 databases");
}

async fn opsdeck_status(home: &Path, moto: &BackupMoto, kubeconfig: &Path) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["status", "--json"])
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", kubeconfig)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_SHARED_CREDENTIALS_FILE", &moto.credentials)
        .env("AWS_CONFIG_FILE", moto.dir.path().join("no-config"))
        .output()
        .await
        .unwrap()
}
