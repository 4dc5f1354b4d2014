//! The drill world steps once a second (times `--speed`): a simulated day must stay cheap.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use opsdeck::sources::sim::World;

fn step(c: &mut Criterion) {
    let start = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    c.bench_function("world_step_one_hour", |b| {
        b.iter_batched(
            || World::new(42, start),
            |mut w| w.step(3600),
            criterion::BatchSize::SmallInput,
        );
    });
}

criterion_group!(benches, step);
criterion_main!(benches);
