//! `opsdeck incident …` with `[team]` on moto's real S3: two engineers' command lines (own
//! HOME and data dir) work one incident; an unreachable store loses nothing; an object
//! edited in the bucket is caught by `incident verify`.

mod alarmsupport;
#[path = "dbsupport/moto.rs"]
mod moto;

use moto::Moto;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const BUCKET: &str = "ops-incidents";

struct Engineer {
    user: &'static str,
    home: tempfile::TempDir,
}

impl Engineer {
    fn new(user: &'static str) -> Engineer {
        Engineer::with(user, "")
    }

    /// An engineer whose config has `more` after `[team]`.
    fn with(user: &'static str, more: &str) -> Engineer {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("config/opsdeck");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.toml"),
            format!("[team]\njournal = \"s3://{BUCKET}/opsdeck\"\n{more}"),
        )
        .unwrap();
        Engineer { user, home }
    }

    fn run(&self, endpoint: &str, args: &[&str]) -> Output {
        self.command(endpoint, args).output().expect("run opsdeck")
    }

    fn command(&self, endpoint: &str, args: &[&str]) -> Command {
        let h: &Path = self.home.path();
        let mut command = Command::new(env!("CARGO_BIN_EXE_opsdeck"));
        command
            .args(args)
            .env_clear()
            .env("HOME", h)
            .env("USER", self.user)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAOPSDECKTEST0001")
            .env("AWS_SECRET_ACCESS_KEY", "opsdeck-test-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }

    fn ok(&self, endpoint: &str, args: &[&str]) -> String {
        let out = self.run(endpoint, args);
        assert!(
            out.status.success(),
            "{} {args:?}: exit {:?}\nstdout: {}\nstderr: {}",
            self.user,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn s3(m: &Moto) -> (tokio::runtime::Runtime, aws_sdk_s3::Client) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(alarmsupport::aws(
        &m.url,
        &m.credentials_file,
        &alarmsupport::aws_config("opsdeck-test", &["us-east-1"]),
    ));
    let client = aws.s3("us-east-1");
    rt.block_on(client.create_bucket().bucket(BUCKET).send())
        .expect("CreateBucket");
    (rt, client)
}

fn notes(timeline: &Value, text: &str) -> Vec<Value> {
    timeline
        .as_array()
        .expect("a timeline")
        .iter()
        .filter(|e| e["what"] == format!("note: {text}"))
        .cloned()
        .collect()
}

#[test]
fn two_engineers_share_one_incident_and_nothing_is_lost_while_the_store_is_away() {
    let m = Moto::start();
    let (rt, client) = s3(&m);
    let (kim, lee) = (Engineer::new("kim"), Engineer::new("lee"));
    let url = m.url.as_str();

    let id = kim
        .ok(
            url,
            &[
                "incident",
                "open",
                "--title",
                "payments down",
                "--severity",
                "sev1",
            ],
        )
        .trim()
        .to_string();

    let listed: Value =
        serde_json::from_str(&lee.ok(url, &["incident", "list", "--json"])).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str(), "lee sees kim's incident");
    assert_eq!(listed[0]["commander"], "kim");
    let refused = lee.run(
        url,
        &[
            "incident",
            "open",
            "--title",
            "payments",
            "--severity",
            "sev1",
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("incident {id} is still open")),
        "one incident for the team, not two clocks"
    );

    lee.ok(
        url,
        &["incident", "note", &id, "card processor answers 503"],
    );
    let shown: Value =
        serde_json::from_str(&kim.ok(url, &["incident", "show", &id, "--json"])).unwrap();
    let from_lee = notes(&shown["timeline"], "card processor answers 503");
    assert_eq!(from_lee.len(), 1, "{shown:#}");
    let who = from_lee[0]["who"].as_str().unwrap();
    assert!(
        who.starts_with("lee") && who.contains("console lee@"),
        "who and from which console: {who}"
    );

    // Commands come and go: they never show as a console in the incident.
    let beats = rt
        .block_on(
            client
                .list_objects_v2()
                .bucket(BUCKET)
                .prefix("opsdeck/presence/")
                .send(),
        )
        .unwrap();
    assert_eq!(beats.contents().len(), 0, "no heartbeat from a command");

    // Lee's bastion loses the store: the note is kept and said to wait, then goes up once.
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let cut = lee.run(
        &nowhere,
        &["incident", "note", &id, "switched to the backup processor"],
    );
    assert!(cut.status.success(), "local first: the note is journaled");
    let said = String::from_utf8_lossy(&cut.stderr);
    assert!(
        said.contains("unreachable") && said.contains("1 entry waits"),
        "{said}"
    );
    let before: Value =
        serde_json::from_str(&kim.ok(url, &["incident", "show", &id, "--json"])).unwrap();
    assert!(notes(&before["timeline"], "switched to the backup processor").is_empty());
    lee.ok(url, &["incident", "list"]);
    lee.ok(url, &["incident", "list"]);
    let after: Value =
        serde_json::from_str(&kim.ok(url, &["incident", "show", &id, "--json"])).unwrap();
    assert_eq!(
        notes(&after["timeline"], "switched to the backup processor").len(),
        1,
        "uploaded exactly once: {after:#}"
    );

    let verified = kim.ok(url, &["incident", "verify", &id]);
    assert!(
        verified.contains(&format!(
            "team journal s3://{BUCKET}/opsdeck/: hash chain verified: 3 entries"
        )),
        "{verified}"
    );
    let report = kim.ok(url, &["incident", "report", &id]);
    assert!(
        report.contains("| Journal integrity | hash chain verified: 3 entries")
            && report.contains("card processor answers 503"),
        "{report}"
    );

    // Someone rewrites the second entry in the bucket.
    let key = "opsdeck/log/000000000002";
    let body = rt
        .block_on(client.get_object().bucket(BUCKET).key(key).send())
        .unwrap();
    let body = rt.block_on(body.body.collect()).unwrap().into_bytes();
    let edited = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("card processor answers 503", "card processor fine");
    rt.block_on(
        client
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(edited.into_bytes().into())
            .send(),
    )
    .unwrap();
    let out = kim.run(url, &["incident", "verify", &id]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("hash chain BROKEN (1 of 3 entries): opsdeck/log/000000000003: the entry before it is not the one it was written after (edited or deleted)"),
        "{said}"
    );
}

/// Reads `id` as `engineer` sees it until `done` holds of its timeline, for at most 30 s.
fn timeline_until(
    engineer: &Engineer,
    url: &str,
    id: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let shown: Value =
            serde_json::from_str(&engineer.ok(url, &["incident", "show", id, "--json"])).unwrap();
        let timeline = shown["timeline"].as_array().unwrap().clone();
        if done(&timeline) {
            return timeline;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} in 30 s: {timeline:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn a_playbook_run_from_the_command_line_joins_the_team_incident_as_it_goes() {
    use std::io::Write;
    let m = Moto::start();
    let _s3 = s3(&m);
    let url = m.url.as_str();
    // Lee's bastion has a live Alertmanager configured (nobody answers on it: the run's one
    // step is a checklist item, which needs nothing live).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let kim = Engineer::new("kim");
    let lee = Engineer::with(
        "lee",
        &format!("[[alertmanagers]]\nname = \"prod\"\nurl = \"http://{dead}\"\n"),
    );
    let playbooks = lee.home.path().join("config/opsdeck/playbooks");
    std::fs::create_dir_all(&playbooks).unwrap();
    std::fs::write(
        playbooks.join("drain-check.yaml"),
        "title: Drain check\nseverity: sev2\nsteps:\n  - id: look\n    manual: Confirm the \
         queue is drained.\n",
    )
    .unwrap();

    let id = kim
        .ok(
            url,
            &[
                "incident",
                "open",
                "--title",
                "queue stuck",
                "--severity",
                "sev2",
            ],
        )
        .trim()
        .to_string();

    let mut run = lee
        .command(url, &["playbook", "run", "drain-check"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While lee's run waits at its checklist item, kim already sees it running in the
    // incident kim opened: lee's run caught up with the team journal before it started.
    let started = timeline_until(&kim, url, &id, "lee's run started", |t| {
        t.iter()
            .any(|e| e["what"] == "playbook drain-check started")
    });
    let by = started
        .iter()
        .find(|e| e["what"] == "playbook drain-check started")
        .unwrap()["who"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(by.starts_with("lee") && by.contains("console lee@"), "{by}");
    assert!(
        !started
            .iter()
            .any(|e| e["what"].as_str().unwrap().starts_with("playbook finished")),
        "{started:#?}"
    );

    run.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let out = run.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("LIVE ("), "a live run: {said}");
    // The last entry went up before the run exited: nobody has to start opsdeck again.
    let shown: Value =
        serde_json::from_str(&kim.ok(url, &["incident", "show", &id, "--json"])).unwrap();
    let whats: Vec<&str> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    assert_eq!(
        whats
            .iter()
            .filter(|w| w.starts_with("playbook finished"))
            .count(),
        1,
        "{whats:#?}"
    );
}
