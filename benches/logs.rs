//! The log view's ring buffer: how fast lines go in (`kubectl logs --timestamps` lines, split
//! and stored, the oldest pushed out at the limits) and how many bytes of memory each retained
//! line costs, counted by a global allocator.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opsdeck::model::logs::{LogBuffer, LogLimits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes allocated and not yet freed, process-wide.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A request log line as a web service writes it (~100 bytes of text after the time).
fn raw(i: u64) -> String {
    format!(
        "2026-12-02T03:{:02}:{:02}.{:09}Z INFO GET /api/products/{i} 200 12ms user=u{} trace=4bf92f3577b34da6a3ce929d0e0e{:04}",
        (i / 60) % 60,
        i % 60,
        i % 1_000_000_000,
        i % 997,
        i % 10_000
    )
}

fn lines(n: u64) -> Vec<String> {
    (0..n).map(raw).collect()
}

fn ingest(c: &mut Criterion) {
    let input = lines(100_000);
    let mut group = c.benchmark_group("log_ingest");
    group.throughput(Throughput::Elements(input.len() as u64));
    // A full buffer: every line pushes the oldest out, the steady state of a chatty pod.
    group.bench_function("100k_lines_into_a_full_20k_buffer", |b| {
        let mut buffer = LogBuffer::new(LogLimits::default());
        for l in lines(20_000) {
            buffer.push_raw(0, &l);
        }
        b.iter(|| {
            for l in &input {
                buffer.push_raw(0, black_box(l));
            }
        })
    });
    group.finish();
}

fn memory_per_line(c: &mut Criterion) {
    let input = lines(20_000);
    let before = LIVE.load(Ordering::SeqCst);
    let mut buffer = LogBuffer::new(LogLimits::default());
    for l in &input {
        buffer.push_raw(0, l);
    }
    let used = LIVE.load(Ordering::SeqCst) - before;
    let text: usize = buffer.iter().map(|l| l.text.len()).sum();
    eprintln!(
        "memory: {} lines retained, {used} bytes allocated = {:.1} bytes per line ({:.1} of them text); the buffer counts {} bytes",
        buffer.len(),
        used as f64 / buffer.len() as f64,
        text as f64 / buffer.len() as f64,
        buffer.bytes()
    );
    c.bench_function("log_memory_fill_20k_lines", |b| {
        b.iter(|| {
            let mut buffer = LogBuffer::new(LogLimits::default());
            for l in &input {
                buffer.push_raw(0, black_box(l));
            }
            buffer.len()
        })
    });
}

criterion_group!(benches, ingest, memory_per_line);
criterion_main!(benches);
