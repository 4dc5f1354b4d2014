//! The live cluster feed at scale, against the test API server with 10,000 pods on 500
//! nodes: time from start to a populated pod table, the cost of applying 10,000 watch
//! events, and (printed after the timings) resident memory after sync, measured in a child
//! process so the server's own copy of the objects does not count.
//!
//! `cargo bench --bench kube`

#[path = "../tests/kubesupport/mod.rs"]
mod kubesupport;

use criterion::Criterion;
use k8s_openapi::api::core::v1::Pod;
use kubesupport::{KubeServer, fixtures};
use opsdeck::model::cluster::ClusterSnapshot;
use opsdeck::sources::kube::{Tuning, connect_with, project, spawn_with};
use opsdeck::sources::{Publishers, Rx};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const NODES: usize = 500;
const PODS: usize = 10_000;

fn tuning() -> Tuning {
    Tuning::default()
}

/// Waits until the feed satisfies `done`; panics after 60 s.
async fn until(rx: &mut Rx<ClusterSnapshot>, done: impl Fn(&ClusterSnapshot) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if done(&rx.borrow_and_update().data) {
            return;
        }
        tokio::time::timeout_at(deadline, rx.changed())
            .await
            .expect("the feed reaches the expected state within 60 s")
            .expect("the feed is open");
    }
}

fn populated(c: &ClusterSnapshot) -> bool {
    c.pods.len() == PODS && c.nodes.len() == NODES
}

fn pods_with_restarts(generation: i32) -> Vec<serde_json::Value> {
    (0..PODS)
        .map(|i| {
            let d = i % (PODS / 12);
            let ns = format!("ns-{}", d % 16);
            let name = format!("svc-{d}-7d9c5b{:04}-{i:05}", d % 10_000);
            let mut pod = fixtures::pod(&ns, &name, "ip-10-0-0-0", &format!("svc-{d}"));
            if let Some(cs) = pod
                .status
                .as_mut()
                .and_then(|s| s.container_statuses.as_mut())
            {
                cs[0].restart_count = generation;
            }
            serde_json::to_value(&pod).unwrap()
        })
        .collect()
}

fn benches(c: &mut Criterion, rt: &Runtime, server: &KubeServer) {
    let mut group = c.benchmark_group("kube");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    group.bench_function("start_to_populated_pod_table_10k_pods_500_nodes", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let client = connect_with(&[server.kubeconfig()], Some("test"))
                        .await
                        .unwrap();
                    let (publishers, mut sources) = Publishers::channels();
                    let watch = spawn_with(client, "test", None, publishers.cluster, tuning());
                    until(&mut sources.cluster, populated).await;
                    total += started.elapsed();
                    drop(watch);
                }
                total
            })
        })
    });

    group.bench_function("apply_10k_pod_watch_events_end_to_end", |b| {
        let (watch, mut rx) = rt.block_on(async {
            let client = connect_with(&[server.kubeconfig()], Some("test"))
                .await
                .unwrap();
            let (publishers, mut sources) = Publishers::channels();
            let watch = spawn_with(client, "test", None, publishers.cluster, tuning());
            until(&mut sources.cluster, populated).await;
            (watch, sources.cluster)
        });
        let mut generation = 0;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                generation += 1;
                let changed = pods_with_restarts(generation);
                let want = u32::try_from(generation).unwrap();
                total += rt.block_on(async {
                    let started = Instant::now();
                    server.put_values("pods", changed);
                    until(&mut rx, |c| c.pods.iter().all(|p| p.restarts == want)).await;
                    started.elapsed()
                });
            }
            total
        });
        drop(watch);
    });

    // The projection and table update alone, without the network and JSON decoding.
    let typed: Vec<Pod> = pods_with_restarts(1)
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    // What the client pays to decode 10,000 watch events of realistic pods, before any
    // projection: the part of the end-to-end figure that is JSON, not opsdeck.
    let lines: Vec<Vec<u8>> = pods_with_restarts(2)
        .into_iter()
        .map(|object| {
            // `type` first, as the API server writes it.
            format!(r#"{{"type":"MODIFIED","object":{object}}}"#).into_bytes()
        })
        .collect();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    println!(
        "kube: 10,000 pod watch events are {} KiB of JSON",
        bytes / 1024
    );
    group.bench_function("decode_10k_pod_watch_events", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| serde_json::from_slice::<kube::api::WatchEvent<Pod>>(l).unwrap())
                .collect::<Vec<_>>()
        })
    });

    group.bench_function("project_and_store_10k_pods", |b| {
        b.iter(|| {
            let mut table = HashMap::with_capacity(PODS);
            for pod in &typed {
                table.insert(project::key(&pod.metadata), project::pod_row(pod));
            }
            table
        })
    });
    group.finish();
}

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Child process: connect, sync every section, report memory.
fn rss_probe(kubeconfig: PathBuf) {
    let rt = Runtime::new().unwrap();
    let before = rss_kb("VmRSS:");
    rt.block_on(async {
        let client = connect_with(&[kubeconfig], Some("test")).await.unwrap();
        let (publishers, mut sources) = Publishers::channels();
        let started = Instant::now();
        let _watch = spawn_with(client, "test", None, publishers.cluster, tuning());
        until(&mut sources.cluster, |c| {
            populated(c) && c.loading.is_empty()
        })
        .await;
        let synced_in = started.elapsed();
        // Let the first-list buffers be freed and the published snapshot settle.
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!(
            "RSS_PROBE before_kb={before} after_sync_kb={} peak_kb={} synced_ms={}",
            rss_kb("VmRSS:"),
            rss_kb("VmHWM:"),
            synced_in.as_millis()
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-probe") {
        rss_probe(PathBuf::from(&args[i + 1]));
        return;
    }
    let rt = Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = KubeServer::start().await;
        fixtures::large(&server, NODES, PODS);
        server
    });
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &rt, &server);
    c.final_summary();

    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--rss-probe")
        .arg(server.kubeconfig())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().find(|l| l.starts_with("RSS_PROBE")) {
        Some(line) => println!("kube/rss_after_sync_10k_pods_500_nodes: {line}"),
        None => println!(
            "kube/rss probe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
