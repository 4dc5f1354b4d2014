//! The team journal on moto's S3 over loopback: how long a note written on one console takes
//! to reach another's desk once that console lists the store (the listing itself comes every
//! `follow::POLL`, so the time on screen is this plus at most one poll), and how many S3
//! requests one console makes in a minute, idle and inside an open incident (requests are
//! billed: the figure printed first).

#[path = "../tests/dbsupport/moto.rs"]
mod moto;

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use opsdeck::incident::desk::{Desk, NewIncident};
use opsdeck::incident::event::{Event, Severity, Who};
use opsdeck::incident::team::config::Location;
use opsdeck::incident::team::follow::{Follower, POLL};
use opsdeck::incident::team::store::{Claim, Listed, Store, StoreError};
use opsdeck::sources::aws::team::S3Store;
use opsdeck::sources::aws::{Aws, AwsConfig, Overrides};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// S3Store, counting what it sends.
struct Counted {
    inner: S3Store,
    calls: AtomicUsize,
}

impl Store for Counted {
    async fn claim(&self, key: &str, body: Vec<u8>) -> Result<Claim, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.claim(key, body).await
    }
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.put(key, body).await
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key).await
    }
    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<Listed>, StoreError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.list(prefix, after).await
    }
}

struct Console {
    desk: Mutex<Desk>,
    follower: Follower<Counted>,
    _dir: tempfile::TempDir,
}

fn console(aws: &Aws, at: &Location, name: &str) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let who = Who {
        user: name.into(),
        from: None,
    };
    let mut desk = Desk::open_team(dir.path(), who, format!("{name}@bastion.{name}")).unwrap();
    let store = Counted {
        inner: S3Store::new(aws, at),
        calls: AtomicUsize::new(0),
    };
    let follower = Follower::new(store, at, &mut desk);
    Console {
        desk: Mutex::new(desk),
        follower,
        _dir: dir,
    }
}

impl Console {
    fn calls(&self) -> usize {
        self.follower.store().calls.load(Ordering::Relaxed)
    }

    fn notes(&self) -> usize {
        self.desk.lock().unwrap().active().map_or(0, |i| {
            i.entries
                .iter()
                .filter(|e| matches!(e.event, Event::Note { .. }))
                .count()
        })
    }

    /// Requests in one minute of a console calling `round` four times a second, as the
    /// console's loop may: the follower's own pacing decides what is sent.
    async fn minute(&mut self, from: Timestamp) -> usize {
        let before = self.calls();
        for quarter in 0..240 {
            let now = from + SignedDuration::from_millis(250 * quarter);
            self.follower.round(&self.desk, now).await;
        }
        self.calls() - before
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = moto::Moto::start();
    let aws = rt.block_on(async {
        let overrides = Overrides {
            endpoint_url: Some(m.url.clone()),
            profile_files: Some(
                EnvConfigFiles::builder()
                    .with_file(EnvConfigFileKind::Credentials, &m.credentials_file)
                    .build(),
            ),
        };
        let cfg = AwsConfig {
            profile: Some("opsdeck-test".into()),
            regions: vec!["us-east-1".into()],
        };
        Aws::load_from(&cfg, overrides).await.unwrap()
    });
    rt.block_on(
        aws.s3("us-east-1")
            .create_bucket()
            .bucket("ops-incidents")
            .send(),
    )
    .unwrap();
    let at = Location::parse("s3://ops-incidents/opsdeck").unwrap();
    let (mut a, mut b) = (console(&aws, &at, "kim"), console(&aws, &at, "lee"));

    let start = Timestamp::now();
    let idle = rt.block_on(b.minute(start));
    a.desk
        .lock()
        .unwrap()
        .open_incident(
            NewIncident {
                title: "payments down".into(),
                severity: Severity::Sev1,
                alarm: None,
                detected_at: None,
                recognised: None,
                drill: None,
            },
            start,
        )
        .unwrap();
    rt.block_on(a.follower.round(&a.desk, start));
    let later = start + SignedDuration::from_mins(1);
    rt.block_on(b.follower.round(&b.desk, later));
    let in_incident = rt.block_on(b.minute(later + POLL));
    eprintln!(
        "S3 requests one console makes per minute: {idle} with no open incident, \
         {in_incident} in an open incident (listing every {POLL:#}, heartbeat every {:#})",
        opsdeck::incident::team::follow::HEARTBEAT
    );

    // Each iteration: a note on A, uploaded at once; B's next listing (the clock pushed
    // past its poll) takes it in.
    let mut clock = later + SignedDuration::from_mins(2);
    c.bench_function(
        "team: note on one console to another's desk (one listing)",
        |bench| {
            bench.iter(|| {
                clock += POLL;
                rt.block_on(async {
                    let want = b.notes() + 1;
                    a.desk
                        .lock()
                        .unwrap()
                        .record(
                            Event::Note {
                                text: "card processor answers 503".into(),
                            },
                            clock,
                        )
                        .unwrap();
                    a.follower.round(&a.desk, clock).await;
                    b.follower.round(&b.desk, clock).await;
                    assert_eq!(b.notes(), want, "{:?}", b.follower.status);
                });
            });
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
