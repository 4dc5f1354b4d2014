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
    // The drill world's services and what this month's (drill) incidents left of their budget.
    let budgets = v["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 3, "{budgets:?}");
    assert_eq!(budgets[0]["service"], "shop");
    assert_eq!(budgets[0]["allowance"], 26298, "99 % of a 30.44-day month");
    assert_eq!(budgets[1]["service"], "billing");
    assert_eq!(budgets[1]["allowance"], 2629);
    assert_eq!(budgets[1]["used"], 0);
    assert_eq!(budgets[2]["service"], "live-commerce");
    // The drill world shows its regions only in a drill about them.
    assert_eq!(v["regions"], serde_json::json!([]));
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
    assert!(
        text.contains("✓ OK   budget billing 99.9 %: 0s of 43m 49s used this month"),
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
    // The database did not answer: the snapshot is still printed, and the exit code says so.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("s3cr3t-hunter2"), "password leaked:\n{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["mode"], "live");
    assert_eq!(v["answers"][1]["area"], "db");
    assert_ne!(v["answers"][1]["state"], "complete", "{}", v["answers"][1]);
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

/// Every command path clap knows (`["playbook", "run"]` …), from the CLI definition itself,
/// so a subcommand added later is checked without editing this test.
fn command_paths() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p.clone(), out);
            out.push((p, sub.clone()));
        }
    }
    let mut out = Vec::new();
    walk(
        &<opsdeck::cli::Cli as clap::CommandFactory>::command(),
        Vec::new(),
        &mut out,
    );
    out
}

fn long_options(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| format!("--{l}"))
        .collect()
}

#[test]
fn completions_cover_every_subcommand_and_option() {
    let home = tempfile::tempdir().unwrap();
    let paths = command_paths();
    assert!(paths.len() >= 11, "{}", paths.len());
    for shell in ["bash", "zsh", "fish"] {
        let out = opsdeck(&["completions", shell], home.path());
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        for (path, cmd) in &paths {
            let name = path.last().unwrap();
            assert!(script.contains(name.as_str()), "{shell}: {path:?} missing");
            for long in long_options(cmd) {
                // fish writes `-l dry-run` where the others write `--dry-run`.
                let bare = long.trim_start_matches('-');
                assert!(script.contains(bare), "{shell}: {path:?} {long} missing");
            }
        }
    }
    let bash = opsdeck(&["completions", "bash"], home.path());
    let file = home.path().join("opsdeck.bash");
    std::fs::write(&file, &bash.stdout).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(syntax.status.success(), "{}", stderr(&syntax));
    let bad = opsdeck(&["completions", "tcsh"], home.path());
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_pages_cover_every_subcommand_and_option() {
    let home = tempfile::tempdir().unwrap();
    let page = opsdeck(&["man"], home.path());
    assert!(page.status.success(), "{}", stderr(&page));
    let page = String::from_utf8(page.stdout).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{}", &page[..80]);
    assert!(page.contains(".TH opsdeck 1"), "{page}");
    let dir = home.path().join("man");
    let out = opsdeck(&["man", "--dir", dir.to_str().unwrap()], home.path());
    assert!(out.status.success(), "{}", stderr(&out));
    for (path, cmd) in command_paths() {
        if path.len() == 1 {
            assert!(page.contains(&path[0]), "opsdeck.1 does not list {path:?}");
        }
        let file = dir.join(format!("opsdeck-{}.1", path.join("-")));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for long in long_options(&cmd) {
            // roff escapes each dash of an option.
            let roff = long.replace('-', "\\-");
            assert!(text.contains(&roff), "{}: {long} missing", file.display());
        }
        let rendered = Command::new("groff")
            .args(["-man", "-Tutf8", "-z", "-ww"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            rendered.status.success() && rendered.stderr.is_empty(),
            "{}: {}",
            file.display(),
            stderr(&rendered)
        );
    }
}

#[test]
fn a_team_journal_without_any_aws_region_is_refused_before_the_screen_is_touched() {
    // [team] without [aws] takes the SDK's default chain; here it has no region at all
    // (no AWS_REGION, no ~/.aws/config, no instance metadata), which is a config error.
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("config/opsdeck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[team]\njournal = \"s3://ops-incidents/opsdeck\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .env_clear()
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run opsdeck");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "opsdeck: {}: [team] journal s3://ops-incidents/opsdeck/drill/: no AWS region: set `regions` in [aws], the profile's region or AWS_REGION\n",
            dir.join("config.toml").display()
        )
    );
    assert!(out.stdout.is_empty(), "nothing drawn");
    // The console id was kept for the next start, in the data dir.
    let id = std::fs::read_to_string(home.path().join("data/opsdeck/console-id")).unwrap();
    assert!(id.starts_with("unknown@"), "{id}");
}
