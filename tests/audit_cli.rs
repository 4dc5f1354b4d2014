//! `opsdeck audit` through the real binary: the JSON against schemas/audit-v1.json, stable
//! output, `--output`, and the exit codes (0 none, 1 runtime failure, 2 bad input, 3
//! findings at or above `--fail-on`), live against a seeded moto and on the drill world.
//!
//! The live runs use moto seeded by tests/support/moto_account.py; moto lacks LookupEvents,
//! so that call alone is answered from tests/fixtures/lookup_events.json (AWS's format,
//! written by hand).

#[path = "support/aws_account.rs"]
mod aws_account;

use aws_account::Account;
use std::path::Path;
use std::process::{Command, Output};

fn opsdeck(args: &[&str], home: &Path, env: &[(String, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run opsdeck")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn schema_check(json: &serde_json::Value) {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/audit-v1.json");
    let index = compiler
        .compile(path.to_str().unwrap(), &mut schemas)
        .unwrap_or_else(|e| panic!("{e:#}"));
    if let Err(e) = schemas.validate(json, index) {
        panic!("audit JSON does not match its schema: {e:#}\n{json:#}");
    }
}

fn live_config(home: &Path) -> String {
    let file = home.join("opsdeck.toml");
    std::fs::write(
        &file,
        "[aws]\nprofile = \"opsdeck-test\"\nregions = [\"us-east-1\"]\n",
    )
    .unwrap();
    file.display().to_string()
}

#[test]
fn live_json_matches_its_schema_is_stable_and_fails_on_severity() {
    let account = Account::start("review", Some("lookup_events.json"));
    let home = tempfile::tempdir().unwrap();
    let cfg = live_config(home.path());
    let env = account.env();
    let out = opsdeck(
        &["--config", &cfg, "--read-only", "audit", "--format", "json"],
        home.path(),
        &env,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    schema_check(&v);
    assert_eq!(v["schema_version"], "1.1");
    assert_eq!(v["mode"], "live");
    assert_eq!(v["account_id"], "123456789012");
    assert_eq!(v["credential_report"]["state"], "complete");
    assert_eq!(v["summary"]["total"], 29);
    assert_eq!(v["summary"]["critical"], 1);
    assert_eq!(v["findings"][0]["check"], "iam_no_root_access_key");
    assert!(
        v["risky_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "StopLogging")
    );
    // No secret and no whole access key id reaches a report.
    let text = String::from_utf8_lossy(&out.stdout);
    for key in account.keys.values() {
        assert!(!text.contains(key.as_str()), "{key} leaked into the report");
    }
    assert!(!text.contains("Moto-S3cret"));

    // A second review of the same account lists the same findings in the same order.
    let again = opsdeck(
        &["--config", &cfg, "audit", "--format", "json"],
        home.path(),
        &env,
    );
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(v["findings"], w["findings"]);

    let md = home.path().join("review.md");
    let out = opsdeck(
        &[
            "--config",
            &cfg,
            "audit",
            "--format",
            "md",
            "--output",
            md.to_str().unwrap(),
            "--fail-on",
            "critical",
        ],
        home.path(),
        &env,
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 findings at or above critical"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "the report went to the file");
    let doc = std::fs::read_to_string(&md).unwrap();
    assert!(
        doc.starts_with("# Security review — AWS account 123456789012"),
        "{doc}"
    );
    assert!(
        doc.contains("| 1 | critical | 1.3 | SER-CLOUD-005 | `iam_no_root_access_key` |"),
        "{doc}"
    );
    let table = opsdeck(
        &["--config", &cfg, "audit", "--region", "us-east-1"],
        home.path(),
        &env,
    );
    assert_eq!(code(&table), 0, "{}", stderr(&table));
    assert!(String::from_utf8_lossy(&table.stdout).contains("29 findings: 1 critical"));

    // `opsdeck status --json` waits for the first complete IAM and CloudTrail snapshots.
    let status = opsdeck(&["--config", &cfg, "status", "--json"], home.path(), &env);
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["mode"], "live");
    assert_eq!(st["iam"]["users"].as_array().unwrap().len(), 11);
    assert_eq!(st["iam"]["report"]["state"], "complete");
    assert_eq!(st["trail"]["trails"][0]["name"], "main");
    assert_eq!(st["findings"].as_array().unwrap().len(), 29);
    let line = |area: &str| {
        st["summaries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["area"] == area)
            .unwrap()
            .clone()
    };
    assert_eq!(line("iam")["level"], "crit");
    assert!(
        line("iam")["counts"]
            .as_str()
            .unwrap()
            .starts_with("11 users · 8 without MFA · 20 findings"),
        "{}",
        line("iam")
    );
    assert!(
        line("trail")["counts"]
            .as_str()
            .unwrap()
            .contains("risky events"),
        "{}",
        line("trail")
    );

    // The endpoint gone: a runtime failure, said in a line.
    drop(account);
    let out = opsdeck(&["--config", &cfg, "audit"], home.path(), &env);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("opsdeck: IAM: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn drill_audit_exit_codes_and_bad_input() {
    let home = tempfile::tempdir().unwrap();
    let ok = opsdeck(&["audit", "--format", "json"], home.path(), &[]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    schema_check(&v);
    assert_eq!(v["mode"], "drill");
    let high = opsdeck(&["audit", "--fail-on", "high"], home.path(), &[]);
    assert_eq!(code(&high), 3, "{}", stderr(&high));
    let bad = opsdeck(&["audit", "--fail-on", "severe"], home.path(), &[]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("`severe` is not one of critical, high, medium, low"),
        "{}",
        stderr(&bad)
    );
    let region = opsdeck(&["audit", "--region", "us-east-1"], home.path(), &[]);
    assert_eq!(code(&region), 2);
    assert!(
        stderr(&region).contains("--region needs [aws] in the config"),
        "{}",
        stderr(&region)
    );
    let cfg = live_config(home.path());
    let badregion = opsdeck(
        &["--config", &cfg, "audit", "--region", "Seoul"],
        home.path(),
        &[],
    );
    assert_eq!(code(&badregion), 2, "{}", stderr(&badregion));
    assert!(
        stderr(&badregion).contains("`Seoul` is not an AWS region name"),
        "{}",
        stderr(&badregion)
    );
}
