//! A full security review of a large account against moto on loopback: 1,000 users, each
//! with an access key and a group, some with console passwords, attached and inline policies
//! (seeded once by tests/support/moto_account.py, not timed).
//!
//! `audit/full_1000_users`: what `opsdeck audit` does after start-up — GetAccountAuthorization
//! Details (all pages), the credential report (generate, poll, parse), account summary,
//! password policy, virtual MFA devices, the attached AWS policies' documents, the trails and
//! their monitoring chains, and the rules. LookupEvents is not implemented by moto: that part
//! of the read is one 500 answer per region, not retried.
//! `audit/first_rows_1000_users`: the IAM pane's first rows, before the credential report.

#[path = "../tests/support/aws_account.rs"]
mod aws_account;

use aws_account::Account;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use opsdeck::sources::aws::cloudtrail::TrailReader;
use opsdeck::sources::aws::iam::{self as live_iam, IamReader};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let account = Account::start("bench:1000", None);
    let aws = rt.block_on(account.aws());
    let mut g = c.benchmark_group("audit");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    g.bench_function("full_1000_users", |b| {
        b.iter(|| {
            rt.block_on(async {
                let iam = IamReader::new(&aws);
                let trail = TrailReader::new(&aws);
                let (iam, trail) = tokio::join!(live_iam::read(&iam, |_| {}), trail.read());
                let (iam, trail) = (iam.expect("IAM"), trail.expect("trail"));
                assert_eq!(iam.users.len(), 1000);
                opsdeck::audit::review(&iam, &trail, jiff::Timestamp::now())
            })
        })
    });
    g.bench_function("first_rows_1000_users", |b| {
        b.iter(|| {
            rt.block_on(async {
                let snap = IamReader::new(&aws)
                    .directory_snapshot()
                    .await
                    .expect("IAM");
                assert_eq!(snap.users.len(), 1000);
                snap
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
