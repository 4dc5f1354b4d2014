//! Two consoles of one team, each in its own pseudo-terminal with its own HOME and data dir,
//! sharing a team journal on moto's S3: one incident, one timeline, one notice, one report;
//! and a console killed with entries waiting loses nothing and doubles nothing.

mod alarmsupport;
#[path = "support/cable.rs"]
mod cable;
#[path = "dbsupport/moto.rs"]
mod moto;
mod support;

use cable::Cable;
use moto::{AWS_SECRET, Moto};
use opsdeck::incident::event::Event;
use opsdeck::incident::team::config::Location;
use opsdeck::incident::team::log::audit;
use opsdeck::sources::aws::team::S3Store;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::Console;

const BUCKET: &str = "team-e2e";

/// A playbook that restarts a deployment, then waits for an alarm that never fires: it stays
/// running long enough for the other console to see it.
const SOAK: &str = "title: Restart and soak\nseverity: sev3\nsteps:\n  - id: restart\n    action: { restart: { namespace: shop, deployment: admin } }\n  - id: soak\n    wait: { until: { alarm_firing: { name: NeverFires } }, timeout: 1h, every: 5s }\n";

/// A webhook receiver that counts the breach notices posted to it.
fn webhook() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notice", listener.local_addr().unwrap());
    let posts = Arc::new(AtomicUsize::new(0));
    let seen = posts.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())
                                .flatten()
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            if got.starts_with(b"POST") {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, posts)
}

/// The config both consoles share: [team] without [aws] (region and credentials from the
/// environment, the SDK's default chain), a notify channel, and an SLA whose last (only)
/// warning checkpoint is its start, so the breach notice is due as soon as the incident opens.
fn config(hook: &str) -> String {
    format!(
        "[team]\njournal = \"s3://{BUCKET}/opsdeck\"\n\n[sla]\nlength = \"2h\"\nwarn_at = [\"2h\"]\n\n[[notify.channels]]\nname = \"ops\"\nformat = \"json\"\nurl = \"{hook}\"\n"
    )
}

fn team_console(user: &str, endpoint: &str, config: &str, home: &std::path::Path) -> Console {
    team_builder(user, endpoint, config).start_at(home)
}

fn team_builder(user: &str, endpoint: &str, config: &str) -> support::Builder {
    Console::builder()
        .config_file("config.toml", config)
        .config_file("playbooks/soak.yaml", SOAK)
        .env("USER", user)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIAOPSDECKTEST0001")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .size(160, 40)
}

async fn make_bucket(m: &Moto) {
    let aws = moto_aws(&m.url, m).await;
    aws.s3("us-east-1")
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("CreateBucket");
}

async fn moto_aws(url: &str, m: &Moto) -> opsdeck::sources::aws::Aws {
    alarmsupport::aws(
        url,
        &m.credentials_file,
        &alarmsupport::aws_config("opsdeck-test", &["us-east-1"]),
    )
    .await
}

/// Every object of the drills' team journal, after checking its chain.
async fn stored(m: &Moto) -> Vec<opsdeck::incident::team::Shared> {
    let aws = moto_aws(&m.url, m).await;
    let at = Location::parse(&format!("s3://{BUCKET}/opsdeck")).unwrap();
    let drill = at.under("drill");
    let store = S3Store::new(&aws, &drill);
    let (verdict, entries) = audit(&store, &drill.prefix).await.unwrap();
    assert!(verdict.verified(), "{verdict:?}");
    entries
}

/// The notes' texts in the store's order.
fn notes(entries: &[opsdeck::incident::team::Shared]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|s| match &s.entry.event {
            Event::Note { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Reads the store until `done` holds of it; fails the test with what it has if it never does.
fn wait_stored(
    rt: &tokio::runtime::Runtime,
    m: &Moto,
    what: &str,
    done: impl Fn(&[opsdeck::incident::team::Shared]) -> bool,
) -> Vec<opsdeck::incident::team::Shared> {
    let started = std::time::Instant::now();
    loop {
        let entries = rt.block_on(stored(m));
        if done(&entries) {
            return entries;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the store never had {what}: {:?}",
            notes(&entries)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn report_of(c: &Console) -> String {
    let dir = c.data_dir().join("drill").join("incidents");
    let md = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        // The breach notices are `<id>-notice-<n>.md` beside it.
        .find(|p| {
            p.extension().is_some_and(|x| x == "md") && !p.to_string_lossy().contains("-notice-")
        })
        .expect("report file");
    std::fs::read_to_string(md).unwrap()
}

#[test]
fn two_consoles_work_one_incident_with_one_notice_and_one_report() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = Moto::start_serial();
    rt.block_on(make_bucket(&m));
    let (hook, posts) = webhook();
    let cfg = config(&hook);
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let mut a = team_builder("ana", &m.url, &cfg)
        .arg("drill")
        .arg("db-primary-down")
        .arg("--speed")
        .arg("5")
        .start_at(home_a.path());
    // Both run the drill at the same speed, so their drill clocks agree.
    let mut b = team_builder("kim", &m.url, &cfg)
        .arg("drill")
        .arg("db-primary-down")
        .arg("--speed")
        .arg("5")
        .start_at(home_b.path());
    a.wait_for("DRILL");
    b.wait_for("DRILL");

    // A opens the incident from the alarm; the SLA's last checkpoint is at once, so A (the
    // commander) is asked for the breach notice.
    a.press("5");
    a.wait_until("the primary-down alarm firing", |s| {
        s.lines()
            .any(|l| l.contains("ALARM ") && l.contains("critical MariaDBPrimaryDown"))
    });
    a.press("i");
    a.wait_for("open incident");
    a.press("\r\r\r\r");
    a.wait_for("breach notice: the SLA will not be met");
    a.press("primary lost its disk\rfailing over to a replica\r+20m\r");
    a.wait_for("sent via ops");

    // B sees the incident in its header, and who else is in it.
    let header = b.wait_until("the incident and A in B's header", |s| {
        let top = s.lines().next().unwrap_or_default();
        top.contains("Sev1") && top.contains("with ana@")
    });
    assert!(header.contains("SLA WARN"), "{header}");
    b.press("9");
    b.wait_for("commander ana");
    // The notice went out from A: B is told so and is never asked to send another.
    let pane = b.wait_for("✓ breach notice 1 sent");
    assert!(pane.contains("by ana (console ana@"), "{pane}");
    assert!(
        !pane.contains("breach notice: the SLA will not be met"),
        "{pane}"
    );
    b.press(":note kim checked the replicas\r");
    b.wait_for("kim checked the replicas");

    // B runs a playbook; A sees it running.
    b.press("8/soak\rr");
    b.wait_for("waiting:");
    let seen = a.wait_until("B's run in A's header", |s| {
        s.lines()
            .next()
            .is_some_and(|top| top.contains("soak step 2/2 by kim@"))
    });
    assert!(!seen.contains("interrupted at"), "{seen}");
    b.press("x");
    b.wait_for("aborted");

    // A sees B's note and resolves: the report carries both consoles' entries.
    a.press("9");
    a.wait_for("kim checked the replicas");
    a.wait_for("playbook aborted");
    a.press("R");
    a.wait_for("resolve incident");
    a.press("disk failure on mariadb-0\rcheckout errors\rdisk health alarm\r");
    a.wait_for("resolved; report");
    let report = report_of(&a);
    for want in [
        "kim checked the replicas",
        "| kim (console kim@",
        "| ana (console ana@",
        "soak",
        "| Commander | ana |",
    ] {
        assert!(report.contains(want), "{want:?} in the report:\n{report}");
    }
    // B saw the resolution too: nothing open on its screen.
    b.wait_for("no active incident");
    assert_eq!(posts.load(Ordering::SeqCst), 1, "one breach notice, once");

    let entries = rt.block_on(stored(&m));
    let origins: HashSet<_> = entries.iter().map(|s| s.origin.clone()).collect();
    assert_eq!(origins.len(), entries.len(), "no entry uploaded twice");
    let notices = entries
        .iter()
        .filter(|s| matches!(s.entry.event, Event::Notice { .. }))
        .count();
    assert_eq!(notices, 1);
    for c in [&mut a, &mut b] {
        c.press("\x1b");
        c.press("\x03");
        assert!(c.wait_exit().success());
    }
}

#[test]
fn a_console_killed_with_entries_waiting_loses_and_doubles_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = Moto::start_serial();
    rt.block_on(make_bucket(&m));
    let cable = Cable::to(&m.url);
    let cfg = format!("[team]\njournal = \"s3://{BUCKET}/opsdeck\"\n");
    let home = tempfile::tempdir().unwrap();

    let mut a = team_console("ana", &cable.url, &cfg, home.path());
    a.wait_for("DRILL");
    a.press(":incident new\r");
    a.wait_for("open incident");
    a.press("Checkout slow\r\r\r\r");
    a.wait_for("SLA OK");
    a.press(":note uploaded before the cut\r");
    // Uploaded: the store has the note.
    wait_stored(&rt, &m, "the note before the cut", |e| {
        notes(e).contains(&"uploaded before the cut".to_string())
    });

    cable.pull();
    a.press("9");
    for k in 0..3 {
        a.press(&format!(":note while cut {k}\r"));
        a.wait_for(&format!("while cut {k}"));
    }
    a.wait_until("the header saying entries wait", |s| {
        s.lines().next().is_some_and(|top| {
            top.contains("team journal unreachable since") && top.contains("3 entries waiting")
        })
    });
    let killed = std::process::Command::new("kill")
        .args(["-9", &a.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    a.wait_exit();
    drop(a);

    cable.plug();
    let mut again = team_console("ana", &cable.url, &cfg, home.path());
    again.wait_for("DRILL");
    again.press("9");
    again.wait_for("while cut 2");
    let entries = wait_stored(&rt, &m, "the waiting notes", |e| notes(e).len() >= 4);
    let texts = notes(&entries);
    assert_eq!(
        texts,
        [
            "uploaded before the cut",
            "while cut 0",
            "while cut 1",
            "while cut 2"
        ],
        "each once, in order"
    );
    // Another round or two changes nothing: the restarted console uploaded them once.
    again.press(":note after the restart\r");
    again.wait_for("after the restart");
    wait_stored(&rt, &m, "the note after the restart", |e| {
        notes(e).contains(&"after the restart".to_string())
    });
    let entries = rt.block_on(stored(&m));
    let origins: HashSet<_> = entries.iter().map(|s| s.origin.clone()).collect();
    assert_eq!(origins.len(), entries.len(), "nothing doubled");
    let opened = entries
        .iter()
        .filter(|s| matches!(s.entry.event, Event::Opened { .. }))
        .count();
    assert_eq!(opened, 1, "one opening");
    assert_eq!(notes(&entries).len(), 5, "five notes, each once");
    again.press("\x03");
    assert!(again.wait_exit().success());
}

#[test]
fn consoles_apart_open_the_same_alarm_twice_and_merge_it_into_one() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = Moto::start_serial();
    rt.block_on(make_bucket(&m));
    let (cable_a, cable_b) = (Cable::to(&m.url), Cable::to(&m.url));
    let cfg = format!("[team]\njournal = \"s3://{BUCKET}/opsdeck\"\n");
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let drill = |user: &str, url: &str, home: &std::path::Path| {
        team_builder(user, url, &cfg)
            .arg("drill")
            .arg("db-primary-down")
            .arg("--speed")
            .arg("5")
            .start_at(home)
    };
    cable_a.pull();
    cable_b.pull();
    let mut a = drill("ana", &cable_a.url, home_a.path());
    let mut b = drill("kim", &cable_b.url, home_b.path());
    // Apart, each opens an incident from the same alarm: two ids, two clocks.
    for c in [&mut a, &mut b] {
        c.wait_for("DRILL");
        c.press("5");
        c.wait_until("the primary-down alarm firing", |s| {
            s.lines()
                .any(|l| l.contains("ALARM ") && l.contains("critical MariaDBPrimaryDown"))
        });
        c.press("i");
        c.wait_for("open incident");
        c.press("\r\r\r\r");
        c.wait_for("SLA OK");
        c.press("9");
        c.wait_for("team journal unreachable since");
    }
    let id = |c: &Console| {
        c.screen()
            .lines()
            .find_map(|l| l.split_whitespace().find(|w| w.starts_with("DRILL-")))
            .map(str::to_string)
            .expect("the incident id on the pane")
    };
    let (id_a, id_b) = (id(&a), id(&b));
    assert_ne!(id_a, id_b);

    cable_a.plug();
    cable_b.plug();
    let offer = b.wait_for("was opened for the same alarm");
    let keep = [&id_a, &id_b]
        .into_iter()
        .find(|i| offer.contains(&format!(":merge keeps {i}")))
        .expect("the survivor named")
        .clone();
    let other = if keep == id_a { &id_b } else { &id_a };
    b.press(":merge\r");
    for c in [&a, &b] {
        let pane = c.wait_for(&format!("merged in {other}"));
        assert!(pane.contains(&keep), "{pane}");
    }
    let entries = rt.block_on(stored(&m));
    let merges = entries
        .iter()
        .filter(|s| matches!(&s.entry.event, Event::Merged { from, into, .. } if from == other && *into == keep))
        .count();
    assert_eq!(merges, 1, "the merge is journaled once");
    for c in [&mut a, &mut b] {
        c.press("\x03");
        assert!(c.wait_exit().success());
    }
}
