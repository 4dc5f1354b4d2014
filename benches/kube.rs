//! The live cluster feed at scale, against the test API server with 10,000 pods on 500
//! nodes: time from start to a populated pod table, the cost of applying 10,000 watch
//! events, and (printed after the timings) resident memory after sync, measured in a child
//! process so the server's own copy of the objects does not count.
//!
//! The first load at 10,000 and 50,000 pods (`kube_first_load`: start → first pod row, and
//! the server's last list page → the complete table on the feed) and the console's CPU under
//! a steady pod event stream (`kube_cpu`). The client side runs on a runtime of its own whose
//! threads are named, so the CPU figures count the console (watchers, Fleet, the app's
//! update and a 160×48 frame per change) and not the test server beside it. Each `kube_cpu`
//! sample is one second of wall time and reports the CPU time those threads used in it.
//!
//! `cargo bench --bench kube`

#[path = "../tests/kubesupport/mod.rs"]
mod kubesupport;

use criterion::{Criterion, SamplingMode};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kubesupport::{KubeServer, fixtures};
use opsdeck::model::cluster::ClusterSnapshot;
use opsdeck::sources::kube::{
    ConfigSource, Fleet, KubeConfig, Tuning, connect_with, project, spawn_with,
};
use opsdeck::sources::{Publishers, Rx};
use opsdeck::tui::action::{Action, Command};
use opsdeck::tui::app::{App, Origin};
use opsdeck::tui::data::Data;
use opsdeck::tui::draw::draw;
use opsdeck::tui::keymap::Keymap;
use opsdeck::tui::theme::ThemeStore;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const NODES: usize = 500;
const PODS: usize = 10_000;
const MANY_PODS: usize = 50_000;
/// The name of the client runtime's threads, whose CPU time `kube_cpu` reports.
const CLIENT: &str = "opsdeck-client";

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

fn client_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT)
        .enable_all()
        .build()
        .unwrap()
}

/// CPU time used so far by the client runtime's threads (Linux schedstat, nanoseconds).
fn client_cpu() -> Duration {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != CLIENT {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(ns)
}

async fn watch(server: &KubeServer) -> (opsdeck::sources::kube::ClusterWatch, Rx<ClusterSnapshot>) {
    let client = connect_with(&[server.kubeconfig()], Some("test"))
        .await
        .unwrap();
    let (publishers, sources) = Publishers::channels();
    let watch = spawn_with(client, "test", None, publishers.cluster, tuning());
    (watch, sources.cluster)
}

fn first_load(c: &mut Criterion, client: &Runtime, servers: &[(usize, &KubeServer)]) {
    let mut group = c.benchmark_group("kube_first_load");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(10));
    for &(pods, server) in servers {
        group.bench_function(format!("start_to_first_pod_row_{pods}_pods"), |b| {
            b.iter_custom(|iters| {
                client.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let (watch, mut rx) = watch(server).await;
                        until(&mut rx, |c| !c.pods.is_empty()).await;
                        total += started.elapsed();
                        drop(watch);
                    }
                    total
                })
            })
        });
        group.bench_function(format!("server_done_to_full_table_{pods}_pods"), |b| {
            b.iter_custom(|iters| {
                client.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (watch, mut rx) = watch(server).await;
                        until(&mut rx, |c| {
                            c.pods.len() == pods && !c.loading.iter().any(|s| s == "pods")
                        })
                        .await;
                        let shown = tokio::time::Instant::now();
                        let listed = server.listed_at("pods").expect("the pods were listed");
                        total += shown.saturating_duration_since(listed);
                        drop(watch);
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

/// What the console does with the feeds (`tui::run` without a terminal): every context of
/// `[kube] contexts` watched through `Fleet`, each change applied to the app and drawn.
async fn console(kubeconfig: PathBuf, synced: tokio::sync::oneshot::Sender<()>) {
    let (publishers, mut sources) = Publishers::channels();
    let _fleet = Fleet::start(
        ConfigSource::Files(vec![kubeconfig]),
        KubeConfig {
            contexts: vec!["test".into()],
            ..KubeConfig::default()
        },
        tuning(),
        publishers.cluster,
        publishers.contexts,
    )
    .await;
    let now = Timestamp::now();
    let themes = ThemeStore::new(None);
    let theme = themes.load("default").unwrap();
    let mut app = App::new(
        Origin::Drill { seed: 1 },
        Data::new(vec![], now),
        theme,
        themes,
        Keymap::defaults(),
        now,
    );
    app.update(Action::Command(Command::Pane(2)));
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut synced = Some(synced);
    loop {
        tokio::select! {
            Ok(()) = sources.cluster.changed() => {
                let feed = sources.cluster.borrow_and_update().clone();
                if populated(&feed.data) && let Some(tx) = synced.take() {
                    let _ = tx.send(());
                }
                app.update(Action::Cluster(feed));
            }
            Ok(()) = sources.contexts.changed() => {
                let lines = sources.contexts.borrow_and_update().clone();
                app.update(Action::Contexts(lines));
            }
        }
        terminal.draw(|f| draw(f, &app)).unwrap();
    }
}

fn cpu(c: &mut Criterion, rt: &Runtime, client: &Runtime, server: &KubeServer) {
    let (tx, synced) = tokio::sync::oneshot::channel();
    let console = client.spawn(console(server.kubeconfig(), tx));
    client.block_on(synced).expect("the console syncs");
    let mut group = c.benchmark_group("kube_cpu");
    // One iteration is one second of wall time; the figure is CPU time, which criterion's
    // planning would otherwise read as "this is quick, run thousands".
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_nanos(1));
    group.measurement_time(Duration::from_nanos(1));
    for rate in [1, 200] {
        let churn = {
            let _in_runtime = rt.enter();
            server.churn_pods(rate)
        };
        std::thread::sleep(Duration::from_secs(2));
        group.bench_function(
            format!("cpu_per_second_{rate}_pod_events_per_s_10k_pods"),
            |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let before = client_cpu();
                        std::thread::sleep(Duration::from_secs(1));
                        total += client_cpu().saturating_sub(before);
                    }
                    total
                })
            },
        );
        churn.abort();
    }
    group.finish();
    console.abort();
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
    let client = client_runtime();
    let (server, many) = rt.block_on(async {
        let (server, many) = (KubeServer::start().await, KubeServer::start().await);
        fixtures::large(&server, NODES, PODS);
        fixtures::large(&many, NODES, MANY_PODS);
        (server, many)
    });
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &rt, &server);
    first_load(&mut c, &client, &[(PODS, &server), (MANY_PODS, &many)]);
    cpu(&mut c, &rt, &client, &server);
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
