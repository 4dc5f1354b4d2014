//! `opsdeck status --json` on live Kubernetes: it waits for each configured context's first
//! complete lists and says per context and per area whether the answer was whole.

mod kubesupport;

use kubesupport::{KubeServer, fixtures, kubeconfig_for};
use std::path::Path;

/// Runs `opsdeck status --json` with `config` and `kubeconfig`; returns the exit code and
/// the parsed JSON (which must be printed whatever the code).
async fn status(
    home: &Path,
    kubeconfig: &Path,
    config: &str,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let dir = home.join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["status", "--json"])
        .args(extra)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", kubeconfig)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), json)
}

fn answer<'a>(v: &'a serde_json::Value, area: &str) -> &'a serde_json::Value {
    v["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["area"] == area)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_context_is_reported_whole_with_every_section() {
    let kr = KubeServer::start().await;
    fixtures::shop(&kr);
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("prod-kr", &kr)], home.path());
    let (code, v) = status(
        home.path(),
        &kubeconfig,
        "[kube]\ncontexts = [\"prod-kr\"]\n",
        &[],
    )
    .await;
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["mode"], "live");
    assert_eq!(answer(&v, "cluster")["state"], "complete");
    assert_eq!(answer(&v, "db")["state"], "not_configured");
    let c = &v["cluster"];
    assert_eq!(c["context"], "prod-kr");
    assert_eq!(c["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(c["deployments"].as_array().unwrap().len(), 2);
    assert_eq!(c["pods"].as_array().unwrap().len(), 3);
    let crashing = c["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "user-c")
        .unwrap();
    assert_eq!(crashing["waiting_reason"], "CrashLoopBackOff", "{crashing}");
    assert_eq!(c["hpas"].as_array().unwrap().len(), 1);
    assert_eq!(c["pdbs"].as_array().unwrap().len(), 1);
    // Warning events only, as the pane shows them.
    let events = c["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["reason"], "BackOff");
    assert_eq!(c["loading"].as_array().unwrap().len(), 0);
    let lines = v["contexts"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["context"], "prod-kr");
    assert_eq!(lines[0]["nodes"], 3);
    assert_eq!(lines[0]["crashlooping"], 1);
    let summary = &v["summaries"][0];
    assert_eq!(summary["area"], "cluster");
    assert!(
        summary["counts"].as_str().unwrap().contains("3/3 nodes"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_context_that_is_down_is_named_and_the_exit_code_is_one() {
    let kr = KubeServer::start().await;
    fixtures::shop(&kr);
    let us = KubeServer::start().await;
    fixtures::payments(&us);
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("prod-kr", &kr), ("prod-us", &us)], home.path());
    let config = "[kube]\ncontexts = [\"prod-kr\", \"prod-us\"]\n";
    let (code, v) = status(home.path(), &kubeconfig, config, &[]).await;
    assert_eq!(code, 0, "both up: {v:#}");
    let lines = v["contexts"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{v:#}");
    let us_line = lines.iter().find(|l| l["context"] == "prod-us").unwrap();
    assert_eq!(us_line["nodes"], 2);
    assert_eq!(us_line["hpas_at_max"], 1);

    us.stop();
    let (code, v) = status(home.path(), &kubeconfig, config, &["--timeout", "5s"]).await;
    assert_eq!(code, 1, "{v:#}");
    let cluster = answer(&v, "cluster");
    assert_ne!(cluster["state"], "complete", "{cluster}");
    assert!(
        cluster["error"]
            .as_str()
            .unwrap_or_default()
            .contains("prod-us")
            || cluster["state"] == "no_answer",
        "{cluster}"
    );
    let lines = v["contexts"].as_array().unwrap();
    let kr_line = lines.iter().find(|l| l["context"] == "prod-kr").unwrap();
    assert_eq!(
        kr_line["nodes"], 3,
        "the context that is up is still reported"
    );
    assert_eq!(v["cluster"]["pods"].as_array().unwrap().len(), 3);
}
