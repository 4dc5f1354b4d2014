//! `opsdeck incident list|open|note|show|verify|report` on the local journals: what scripts
//! get, exit codes, and a tampered journal caught by the hash chain.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn opsdeck(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opsdeck"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("USER", "kim")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .output()
        .expect("run opsdeck")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn journal(home: &Path, id: &str) -> PathBuf {
    home.join("data/opsdeck/incidents")
        .join(format!("{id}.jsonl"))
}

#[test]
fn open_note_show_list_and_verify_through_the_local_journal() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let id = ok(&opsdeck(
        &[
            "incident",
            "open",
            "--title",
            "checkout 502s",
            "--severity",
            "sev1",
            "--recognised",
            "-20m",
            "--reason",
            "first customer call",
        ],
        h,
    ))
    .trim()
    .to_string();
    assert!(id.starts_with("INC-"), "{id}");
    assert!(
        journal(h, &id).exists(),
        "no journal at {:?}",
        journal(h, &id)
    );

    ok(&opsdeck(
        &["incident", "note", &id, "rolled back web to r41"],
        h,
    ));

    let listed: Value = serde_json::from_str(&ok(&opsdeck(&["incident", "list", "--json"], h)))
        .expect("list --json is JSON");
    let listed = listed.as_array().expect("an array");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let inc = &listed[0];
    assert_eq!(inc["id"], id.as_str());
    assert_eq!(inc["title"], "checkout 502s");
    assert_eq!(inc["severity"], "sev1");
    assert_eq!(inc["state"], "open");
    assert_eq!(inc["commander"], "kim");
    assert_eq!(inc["entries"], 2);
    let recognised: jiff::Timestamp = inc["recognised_at"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = inc["deadline"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        deadline.duration_since(recognised),
        jiff::SignedDuration::from_hours(2),
        "the contract's 2-hour clock"
    );
    let ago = jiff::Timestamp::now().duration_since(recognised);
    assert!(
        ago >= jiff::SignedDuration::from_mins(20) && ago < jiff::SignedDuration::from_mins(21),
        "recognised 20 minutes ago, not {ago:#}"
    );

    let table = ok(&opsdeck(&["incident", "list"], h));
    assert!(
        table.contains(&id) && table.contains("Sev1") && table.contains("checkout 502s"),
        "{table}"
    );

    let shown: Value = serde_json::from_str(&ok(&opsdeck(&["incident", "show", &id, "--json"], h)))
        .expect("show --json is JSON");
    let timeline = shown["timeline"].as_array().expect("a timeline");
    assert_eq!(timeline.len(), 2, "{timeline:?}");
    assert_eq!(timeline[1]["what"], "note: rolled back web to r41");
    assert_eq!(timeline[1]["who"], "kim");
    assert_eq!(timeline[1]["event"]["event"], "note");

    let shown = ok(&opsdeck(&["incident", "show", &id], h));
    assert!(
        shown.contains("incident opened: checkout 502s (Sev1)")
            && shown.contains("note: rolled back web to r41")
            && shown.contains("commander kim"),
        "{shown}"
    );

    let verified = ok(&opsdeck(&["incident", "verify", &id], h));
    assert!(
        verified.contains("hash chain verified: 2 entries"),
        "{verified}"
    );
    let report = ok(&opsdeck(&["incident", "report", &id], h));
    assert!(
        report.contains("| Journal integrity | hash chain verified: 2 entries"),
        "{report}"
    );

    // Someone edits the note after the fact: the entry after it no longer names its hash,
    // or (as here, the last entry) the edited line itself is what no longer matches.
    ok(&opsdeck(&["incident", "note", &id, "paged the DBA"], h));
    let path = journal(h, &id);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("rolled back web to r41", "rolled back web to r40");
    std::fs::write(&path, edited).unwrap();
    let out = opsdeck(&["incident", "verify", &id], h);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stdout);
    assert!(
        said.contains("hash chain BROKEN (1 of 3 entries): line 3: the entry before it is not the one it was written after (edited or deleted)"),
        "{said}"
    );
    let report = ok(&opsdeck(&["incident", "report", &id], h));
    assert!(
        report.contains("| Journal integrity | hash chain BROKEN"),
        "{report}"
    );
}

#[test]
fn bad_input_is_refused_with_what_was_wrong() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let refused = |args: &[&str], says: &str| {
        let out = opsdeck(args, h);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    };
    let open = ["incident", "open", "--title", "db down", "--severity"];
    refused(&[&open[..], &["sev4"]].concat(), "invalid value 'sev4'");
    refused(
        &[&open[..], &["sev2", "--recognised", "-5m"]].concat(),
        "--reason <R>",
    );
    refused(
        &[
            &open[..],
            &["sev2", "--recognised", "yesterday", "--reason", "x"],
        ]
        .concat(),
        "--recognised: `yesterday` is not HH:MM, +90m, -20m or an RFC 3339 time",
    );
    refused(
        &[
            &open[..],
            &["sev2", "--recognised", "+10m", "--reason", "x"],
        ]
        .concat(),
        "is in the future",
    );
    refused(
        &["incident", "open", "--title", " ", "--severity", "sev2"],
        "--title: an incident needs a title",
    );
    refused(
        &["incident", "note", "INC-20260101-000000", "hello"],
        "no incident `INC-20260101-000000` in",
    );
    refused(&["incident", "verify", "INC-x"], "no incident `INC-x` in");

    let id = ok(&opsdeck(&[&open[..], &["sev2"]].concat(), h))
        .trim()
        .to_string();
    refused(
        &[&open[..], &["sev2"]].concat(),
        &format!("incident {id} is still open"),
    );
    refused(&["incident", "note", &id, "  "], "the note is empty");
}
