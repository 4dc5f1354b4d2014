//! moto in-process under a Python wrapper that seeds a backdated account
//! (tests/support/moto_account.py), on a loopback port, stopped when dropped.
#![allow(dead_code)]

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use opsdeck::sources::aws::{Aws, AwsConfig, Overrides};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Account {
    child: Child,
    pub url: String,
    /// Access key ids the seeding created, by user (`dave-2` is dave's second).
    pub keys: BTreeMap<String, String>,
    pub dir: tempfile::TempDir,
    pub credentials_file: PathBuf,
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

impl Account {
    /// `scenario` is `review` or `bench:N`; `lookup_events` a recorded LookupEvents answer.
    pub fn start(scenario: &str, lookup_events: Option<&str>) -> Account {
        let dir = tempfile::Builder::new()
            .prefix("opsdeck-account-")
            .tempdir()
            .expect("temp dir");
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_account.py");
        let mut cmd = Command::new("python3");
        cmd.arg(&script).arg(scenario);
        if let Some(f) = lookup_events {
            cmd.arg("--lookup-events").arg(fixture(f));
        }
        let log = std::fs::File::create(dir.path().join("moto.log")).expect("log file");
        let mut child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (scripts/test-services)",
                    script.display()
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the wrapper's first line");
        let info: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default();
            panic!("moto wrapper said {line:?} ({e}):\n{log}")
        });
        let credentials_file = dir.path().join("credentials");
        std::fs::write(
            &credentials_file,
            "[opsdeck-test]\naws_access_key_id = AKIAOPSDECKTEST0001\naws_secret_access_key = Moto-S3cret-Key-5c3e7a\n",
        )
        .expect("credentials file");
        Account {
            child,
            url: info["url"].as_str().expect("url").to_string(),
            keys: info["keys"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            dir,
            credentials_file,
        }
    }

    pub fn config(&self) -> AwsConfig {
        AwsConfig {
            profile: Some("opsdeck-test".into()),
            regions: vec!["us-east-1".into()],
        }
    }

    pub async fn aws(&self) -> Aws {
        self.aws_at(&self.url).await
    }

    /// The account through another endpoint (a proxy in front of moto).
    pub async fn aws_at(&self, url: &str) -> Aws {
        Aws::load_from(
            &self.config(),
            Overrides {
                endpoint_url: Some(url.to_string()),
                profile_files: Some(
                    EnvConfigFiles::builder()
                        .with_file(EnvConfigFileKind::Credentials, &self.credentials_file)
                        .build(),
                ),
            },
        )
        .await
        .expect("aws config")
    }

    /// A config.toml for the real binary, with AWS_ENDPOINT_URL and the credentials file
    /// in the environment it is given.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.url.clone()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                self.credentials_file.display().to_string(),
            ),
            (
                "AWS_CONFIG_FILE".into(),
                self.dir.path().join("no-config").display().to_string(),
            ),
        ]
    }
}
