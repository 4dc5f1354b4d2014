//! `opsdeck status --json` with live alarm sources: it waits for their first answer, and an
//! expired SSO session gives its exact line.

mod alarmsupport;

use alarmsupport::{Alertmanager, alert};
use std::process::Command;

/// The SDK's cache file name for SSO session `corp`: the SHA-1 of the session name.
const CORP_TOKEN: &str = "ee0bfd2552fbd840c02cc48b6e823320543c450f.json";

#[test]
fn status_json_waits_for_the_alarms_and_names_an_expired_sso_session() {
    let am = Alertmanager::start();
    am.post_alerts(&format!(
        "[{}]",
        alert(
            "HighErrorRate",
            &[("service", "api"), ("severity", "critical")],
            "5xx above 5%"
        )
    ));
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    // An SSO profile whose cached token expired and cannot be refreshed (no refresh token):
    // what an on-call engineer has the morning after `aws sso login`.
    std::fs::create_dir_all(h.join(".aws/sso/cache")).unwrap();
    std::fs::write(
        h.join(".aws/config"),
        "[profile prod]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = OnCall\nregion = ap-northeast-2\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = ap-northeast-2\n",
    )
    .unwrap();
    std::fs::write(
        h.join(".aws/sso/cache").join(CORP_TOKEN),
        r#"{"accessToken":"expired-token","expiresAt":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let dir = h.join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[aws]\nprofile = \"prod\"\nregions = [\"ap-northeast-2\"]\n\n{}",
            am.config_entry("prod-kr")
        ),
    )
    .unwrap();
    // Anything that would still try the network goes to a closed loopback port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["status", "--json"])
        .env_clear()
        .env("HOME", h)
        .env("USER", "oncall")
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("XDG_DATA_HOME", h.join("data"))
        .env("AWS_ENDPOINT_URL", &nowhere)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The JSON is printed, and the exit code says not every configured area answered.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let state = |area: &str| {
        v["answers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["area"] == area)
            .map(|a| a["state"].clone())
    };
    assert_eq!(
        state("alarms").unwrap(),
        "stale",
        "one of two sources failed"
    );
    assert_eq!(state("iam").unwrap(), "failed");
    assert_eq!(state("db").unwrap(), "not_configured");
    assert_eq!(v["mode"], "live");
    let alarms = &v["alarms"]["alarms"];
    assert_eq!(alarms[0]["name"], "HighErrorRate", "{text}");
    assert_eq!(alarms[0]["origin"], "prod-kr");
    assert_eq!(alarms[0]["labels"]["service"], "api");
    let sources = &v["alarms"]["sources"];
    assert_eq!(sources[0]["name"], "cloudwatch ap-northeast-2");
    assert_eq!(
        sources[0]["problem"],
        "AWS credentials expired for profile prod: run `aws sso login --profile prod`"
    );
    assert_eq!(sources[1]["name"], "alertmanager prod-kr");
    assert_eq!(sources[1]["problem"], serde_json::Value::Null);
    let summary = v["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["area"] == "alarms")
        .expect("an alarm summary");
    assert_eq!(summary["counts"], "1 firing · 1 total", "{summary}");
    assert_eq!(summary["level"], "crit");
    assert_eq!(
        summary["worst"],
        "cloudwatch ap-northeast-2: AWS credentials expired for profile prod: run `aws sso login --profile prod`"
    );
    assert!(!text.contains("expired-token"), "the token leaked:\n{text}");
}
