//! The team journal on moto's real S3 (conditional PutObject honoured): consoles writing at
//! once, tampering, and a partition.

mod alarmsupport;
#[path = "support/cable.rs"]
mod cable;
#[path = "dbsupport/moto.rs"]
mod moto;

use cable::Cable;
use jiff::Timestamp;
use moto::Moto;
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Event, Severity, Who};
use opsdeck::incident::team::config::Location;
use opsdeck::incident::team::follow::Follower;
use opsdeck::incident::team::log::audit;
use opsdeck::sources::aws::Aws;
use opsdeck::sources::aws::team::S3Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn moto_aws(url: &str, m: &Moto) -> Aws {
    alarmsupport::aws(
        url,
        &m.credentials_file,
        &alarmsupport::aws_config("opsdeck-test", &["us-east-1"]),
    )
    .await
}

async fn bucket(aws: &Aws, name: &str) -> Location {
    aws.s3("us-east-1")
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .expect("CreateBucket");
    Location::parse(&format!("s3://{name}/opsdeck")).unwrap()
}

struct Console {
    desk: Arc<Mutex<Desk>>,
    follower: Follower<S3Store>,
    /// Hours added to the clock by `settle`, so each of its rounds lists the store.
    ahead: i64,
    _dir: tempfile::TempDir,
}

fn console(aws: &Aws, at: &Location, name: &str) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let who = Who {
        user: name.into(),
        from: None,
    };
    let mut desk = Desk::open_team(dir.path(), who, format!("{name}@bastion.{name}")).unwrap();
    let follower = Follower::new(S3Store::new(aws, at), at, &mut desk);
    Console {
        desk: Arc::new(Mutex::new(desk)),
        follower,
        ahead: 0,
        _dir: dir,
    }
}

impl Console {
    async fn round(&mut self) -> bool {
        self.follower.round(&self.desk, Timestamp::now()).await
    }

    /// Rounds until nothing waits and the store has nothing new (a listing is due every 2 s,
    /// so the clock given is pushed past it).
    async fn settle(&mut self) {
        for _ in 0..50 {
            self.ahead += 1;
            let later = Timestamp::now() + jiff::SignedDuration::from_hours(self.ahead);
            let changed = self.follower.round(&self.desk, later).await;
            if !changed && self.follower.status.waiting == 0 {
                return;
            }
        }
        panic!("did not settle: {:?}", self.follower.status);
    }

    fn timeline(&self) -> Vec<(String, String)> {
        let d = self.desk.lock().unwrap();
        let inc = d.active().expect("an open incident");
        inc.entries
            .iter()
            .map(|e| (e.who.user.clone(), format!("{:?}", e.event)))
            .collect()
    }
}

fn note(text: String) -> Event {
    Event::Note { text }
}

fn new_incident(alarm: &str) -> NewIncident {
    NewIncident {
        title: "checkout 5xx".into(),
        severity: Severity::Sev1,
        alarm: Some(alarm.into()),
        detected_at: None,
        recognised: None,
        drill: None,
    }
}

async fn consoles_writing_at_once(n: usize, notes_each: usize) {
    let m = Moto::start_serial();
    let aws = moto_aws(&m.url, &m).await;
    let at = bucket(&aws, &format!("team-{n}")).await;
    let mut consoles: Vec<Console> = (1..=n)
        .map(|i| console(&aws, &at, &format!("c{i}")))
        .collect();
    let opened = consoles[0]
        .desk
        .lock()
        .unwrap()
        .open_incident(new_incident("HighErrorRate"), Timestamp::now())
        .unwrap()
        .id
        .clone();
    for c in &mut consoles {
        c.settle().await;
        assert_eq!(c.desk.lock().unwrap().active().unwrap().id, opened);
    }
    // Every console writes its notes as fast as it can, each at its own pace; a round after
    // every note uploads it at once, so they race for the same sequence numbers.
    let tasks: Vec<_> = consoles
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                for k in 0..notes_each {
                    let text = format!("c{} note {k}", i + 1);
                    c.desk
                        .lock()
                        .unwrap()
                        .record(note(text), Timestamp::now())
                        .unwrap();
                    if (k * 7 + i * 3) % 5 != 0 {
                        c.round().await;
                    }
                    let pause = ((k * 7919 + i * 104_729) % 4) as u64;
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                c
            })
        })
        .collect();
    let mut consoles = Vec::new();
    for t in tasks {
        consoles.push(t.await.unwrap());
    }
    for _ in 0..2 {
        for c in &mut consoles {
            c.settle().await;
        }
    }
    let first = consoles[0].timeline();
    assert_eq!(first.len(), 1 + n * notes_each, "every entry, once");
    for c in &consoles[1..] {
        assert_eq!(c.timeline(), first, "one order on every console");
    }
    for i in 1..=n {
        let mine: Vec<&String> = first
            .iter()
            .filter(|(who, _)| who == &format!("c{i}"))
            .map(|(_, e)| e)
            .filter(|e| e.contains("note"))
            .collect();
        assert_eq!(mine.len(), notes_each, "c{i}'s notes, none lost or doubled");
        for (k, e) in mine.iter().enumerate() {
            assert!(
                e.contains(&format!("c{i} note {k}\"")),
                "c{i}'s notes in its order: {e}"
            );
        }
    }
    let store = consoles[0].follower.store();
    let (verdict, entries) = audit(store, &at.prefix).await.unwrap();
    assert!(verdict.verified(), "{verdict:?}");
    assert_eq!(entries.len(), 1 + n * notes_each, "no object twice");

    // Tampering: an edited entry and a deleted one are both caught.
    let s3 = aws.s3("us-east-1");
    let key = format!("{}log/{:012}", at.prefix, 7);
    let original = s3
        .get_object()
        .bucket(&at.bucket)
        .key(&key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let edited = String::from_utf8(original.to_vec())
        .unwrap()
        .replace(" note ", " NOTE ");
    s3.put_object()
        .bucket(&at.bucket)
        .key(&key)
        .body(edited.into_bytes().into())
        .send()
        .await
        .unwrap();
    let (verdict, _) = audit(store, &at.prefix).await.unwrap();
    assert_eq!(verdict.breaks.len(), 1, "{verdict:?}");
    assert!(
        verdict.breaks[0].contains(&format!("{:012}", 8)),
        "{verdict:?}"
    );
    let gone = format!("{}log/{:012}", at.prefix, 12);
    s3.delete_object()
        .bucket(&at.bucket)
        .key(&gone)
        .send()
        .await
        .unwrap();
    let (verdict, _) = audit(store, &at.prefix).await.unwrap();
    assert!(
        verdict.breaks.iter().any(|b| b.contains("missing")),
        "{verdict:?}"
    );
    // A console joining now refuses to follow a damaged journal and says so.
    let mut late = console(&aws, &at, "late");
    late.round().await;
    let line = late.follower.status.line().unwrap();
    assert!(line.contains("team journal damaged"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consoles_writing_at_once_end_with_one_timeline() {
    consoles_writing_at_once(2, 150).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_consoles_writing_at_once_end_with_one_timeline() {
    consoles_writing_at_once(3, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_loses_nothing_uploads_once_and_offers_the_merge() {
    let m = Moto::start_serial();
    let direct = moto_aws(&m.url, &m).await;
    let at = bucket(&direct, "team-partition").await;
    let (cable_a, cable_b) = (Cable::to(&m.url), Cable::to(&m.url));
    let mut a = console(&moto_aws(&cable_a.url, &m).await, &at, "kim");
    let mut b = console(&moto_aws(&cable_b.url, &m).await, &at, "lee");
    a.settle().await;
    b.settle().await;

    cable_a.pull();
    cable_b.pull();
    let early = Timestamp::now();
    let id_a = a
        .desk
        .lock()
        .unwrap()
        .open_incident(new_incident("HighErrorRate"), early)
        .unwrap()
        .id
        .clone();
    let id_b = b
        .desk
        .lock()
        .unwrap()
        .open_incident(
            new_incident("HighErrorRate"),
            early + jiff::SignedDuration::from_secs(40),
        )
        .unwrap()
        .id
        .clone();
    for (c, who) in [(&a, "kim"), (&b, "lee")] {
        for k in 0..3 {
            c.desk
                .lock()
                .unwrap()
                .record(note(format!("{who} offline {k}")), Timestamp::now())
                .unwrap();
        }
    }
    a.round().await;
    b.round().await;
    let line = a.follower.status.line().unwrap();
    assert!(
        line.starts_with("team journal unreachable since "),
        "{line}"
    );
    assert!(line.ends_with("— 4 entries waiting"), "{line}");
    assert_eq!(a.timeline().len(), 4, "the console keeps working alone");

    cable_a.plug();
    cable_b.plug();
    for _ in 0..2 {
        a.settle().await;
        b.settle().await;
    }
    assert_eq!(a.follower.status.line(), None, "{:?}", a.follower.status);
    let offers = b.desk.lock().unwrap().merge_offers();
    assert_eq!(
        offers,
        [(id_a.clone(), id_b.clone())],
        "the earlier recognition survives"
    );
    assert_eq!(
        a.desk.lock().unwrap().merge_offers(),
        offers,
        "offered on both"
    );
    b.desk
        .lock()
        .unwrap()
        .merge(&id_a, &id_b, Timestamp::now())
        .unwrap();
    for _ in 0..2 {
        b.settle().await;
        a.settle().await;
    }
    assert!(a.desk.lock().unwrap().merge_offers().is_empty());
    for c in [&a, &b] {
        let d = c.desk.lock().unwrap();
        let inc = d.active().unwrap();
        assert_eq!(inc.id, id_a);
        assert_eq!(inc.recognised_at, early);
        assert_eq!(inc.merged, std::slice::from_ref(&id_b));
        let notes = inc
            .entries
            .iter()
            .filter(|e| matches!(e.event, Event::Note { .. }))
            .count();
        assert_eq!(notes, 6, "both sides' notes in the survivor");
        assert!(
            inc.entries
                .iter()
                .any(|e| matches!(&e.event, Event::Merged { from, .. } if *from == id_b)),
            "the merge is journaled"
        );
    }
    assert_eq!(a.timeline(), b.timeline());
    let (verdict, entries) = audit(a.follower.store(), &at.prefix).await.unwrap();
    assert!(verdict.verified(), "{verdict:?}");
    // 2 openings + 6 notes + the merge, each uploaded once.
    assert_eq!(entries.len(), 9);
}
