//! The non-interactive command line: exit codes and exact error messages for bad input.

use std::process::{Command, Output};

fn opsdeck(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("run opsdeck")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn status_json_has_every_area_and_replays_by_seed() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(&["status", "--json", "--seed", "3"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let areas: Vec<&str> = v["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["area"].as_str().unwrap())
        .collect();
    assert_eq!(areas, ["cluster", "db", "waf", "alarms", "iam", "trail"]);
    assert_eq!(v["mode"], "drill");
    assert_eq!(v["seed"], 3);
    assert!(v["cluster"]["pods"].as_array().unwrap().len() > 10);
    let again = opsdeck(&["status", "--json", "--seed", "3"], home.path());
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        v["cluster"]["pods"].as_array().unwrap().len(),
        w["cluster"]["pods"].as_array().unwrap().len()
    );
    assert_eq!(v["db"], w["db"]);
}

#[test]
fn status_text_is_one_line_per_area() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(&["status"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("opsdeck status — DRILL seed 42 — "),
        "{text}"
    );
    for area in ["Cluster", "DB", "WAF", "Alarms", "IAM", "Trail"] {
        assert!(
            text.lines().any(|l| l.contains(&format!(" {area:<7} "))),
            "{area} missing:\n{text}"
        );
    }
}

#[test]
fn invalid_config_names_file_line_and_key() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("bad.toml");
    std::fs::write(&path, "[ui]\ntheme = \"light\"\ncolour = \"red\"\n").unwrap();
    let out = opsdeck(&["--config", path.to_str().unwrap(), "status"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "opsdeck: invalid config {}:3:1: unknown field `colour`, expected `theme`\n  3 | colour = \"red\"\n",
            path.display()
        )
    );
}

#[test]
fn config_with_a_wrong_type_points_at_the_value() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[drill]\nseed = \"forty\"\n").unwrap();
    let out = opsdeck(&["status"], home.path());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("config.toml:2:8: invalid type: string \"forty\", expected u64"),
        "{err}"
    );
}

#[test]
fn a_missing_explicit_config_is_an_error_not_drill_mode() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(
        &["--config", "/nonexistent/opsdeck.toml", "status"],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("opsdeck: cannot read config /nonexistent/opsdeck.toml: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_or_broken_theme_is_refused_before_the_screen_is_touched() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(&["--theme", "neon"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "opsdeck: unknown theme `neon` (available: default, high-contrast, light, mono)\n"
    );
    assert!(out.stdout.is_empty(), "nothing drawn");

    let themes = home.path().join("config/opsdeck/themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(themes.join("mine.toml"), "crit = { fg = \"blurple\" }\n").unwrap();
    let out = opsdeck(&["--theme", "mine"], home.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "opsdeck: {}:1:15: `crit.fg`: unknown colour `blurple` (use a name like `light-red`, 0-255 or #rrggbb)\n  1 | crit = {{ fg = \"blurple\" }}\n",
            themes.join("mine.toml").display()
        )
    );
}

#[test]
fn version_and_help() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(&["--version"], home.path());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("opsdeck {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = opsdeck(&["status", "--help"], home.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--json"));
}

#[test]
fn a_config_naming_databases_goes_live_and_never_prints_the_password() {
    let home = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = home.path().join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = format!(
        "[[databases]]\nname = \"orders-pg\"\nkind = \"postgres\"\nuser = \"opsdeck\"\npassword_env = \"OPSDECK_TEST_PG_PASSWORD\"\nmembers = [ {{ name = \"pg-0\", address = \"127.0.0.1:{port}\" }} ]\n"
    );
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(["status", "--json"])
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("OPSDECK_TEST_PG_PASSWORD", "s3cr3t-hunter2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cr3t-hunter2"), "password leaked:\n{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["mode"], "live");
    let member = &v["db"]["clusters"][0]["members"][0];
    assert_eq!(member["name"], "pg-0");
    assert_eq!(member["reachable"], false);
    assert!(
        member["last_error"]
            .as_str()
            .unwrap()
            .contains(&port.to_string()),
        "{member}"
    );
}

#[test]
fn playbook_show_renders_templated_numbers_with_the_inputs_defaults() {
    let home = tempfile::tempdir().unwrap();
    let out = opsdeck(&["playbook", "show", "failover-mariadb"], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(" 1. pick       check: pick replica of shop-mariadb (auto) lagging ≤ 5s"),
        "{text}"
    );
    assert!(
        text.contains("fence shop-mariadb/{{pick.old_primary}} (no more writes)"),
        "{text}"
    );
    assert!(!text.contains("invalid type"), "{text}");
}
