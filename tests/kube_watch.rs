//! The cluster feed against the test API server: it fills from lists, follows watch events,
//! and keeps its tables through 403s, 410s and an API server that goes away.

mod kubesupport;

use kubesupport::{KubeServer, fast_tuning, fixtures, wait_for};
use opsdeck::model::cluster::PodPhase;
use opsdeck::sources::Publishers;
use opsdeck::sources::kube::spawn_with;

/// Published at least once, with every section listed.
fn synced(f: &kubesupport::ClusterFeed) -> bool {
    f.health.last_ok.is_some() && f.data.loading.is_empty()
}

/// Waits until the pod watch is open: a feed can be synced a moment before the watcher
/// asks to watch, and a change made in between is what a 410 on that watch is about.
async fn pods_watched(server: &KubeServer) {
    for _ in 0..500 {
        if server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/pods") && r.query.contains("watch=true"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the pod watch never opened");
}

fn pod_lists(server: &KubeServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/") && r.path.ends_with("/pods"))
        .filter(|r| !r.query.contains("watch=true"))
        // One-item lists estimate the size of the first list or probe an unreachable
        // server; they are not the watcher listing again.
        .filter(|r| !r.query.split('&').any(|p| p == "limit=1"))
        .count()
}

#[tokio::test]
async fn fills_from_lists_then_follows_watch_events() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    let feed = wait_for(&mut sources.cluster, "the shop namespace", |f| {
        synced(f) && f.data.pods.len() == 3
    })
    .await;
    let c = &feed.data;
    assert_eq!(c.context, "test");
    assert!(!feed.health.is_failing());
    assert_eq!(c.nodes.len(), 3);
    assert_eq!(c.nodes[0].zone, "ap-northeast-2a");
    assert_eq!(c.nodes[0].allocatable.map(|a| a.cpu_millis), Some(3920));
    let names: Vec<&str> = c.deployments.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["admin", "user"]);
    let user = &c.deployments[1];
    assert_eq!((user.desired, user.revision), (3, 3));
    assert_eq!(user.image, "shop/user:1.4");
    let crashing = &c.pods[2];
    assert_eq!(
        (crashing.name.as_str(), crashing.status(), crashing.restarts),
        ("user-c", "CrashLoopBackOff", 9)
    );
    assert_eq!(c.hpas[0].targets(), "cpu 63%/50%");
    assert_eq!(c.pdbs[0].allowed_disruptions, 1);
    assert_eq!(c.events.len(), 1, "only Warning events: {:?}", c.events);
    assert_eq!(c.events[0].object, "Pod/user-c");
    let revisions: Vec<u64> = c.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, [3, 2, 1], "history newest first");

    // Changes arrive through the open watches.
    let lists_before = pod_lists(&server);
    server.put(&fixtures::pod("shop", "user-d", "node-0", "user"));
    server.remove("pods", "shop", "user-a");
    let mut cordoned = fixtures::node("node-1", "ap-northeast-2b", true);
    cordoned
        .spec
        .get_or_insert_with(Default::default)
        .unschedulable = Some(true);
    server.put(&cordoned);
    let feed = wait_for(
        &mut sources.cluster,
        "the added pod, deleted pod and cordon",
        |f| {
            let pods: Vec<&str> = f.data.pods.iter().map(|p| p.name.as_str()).collect();
            pods == ["user-b", "user-c", "user-d"] && f.data.nodes[1].cordoned
        },
    )
    .await;
    assert_eq!(feed.data.pods[2].phase, PodPhase::Running);
    assert_eq!(
        pod_lists(&server),
        lists_before,
        "changes came by watch, not by listing again"
    );
}

#[tokio::test]
async fn a_namespace_scope_leaves_other_namespaces_out() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    server.put(&fixtures::pod("billing", "auth-1", "node-0", "auth"));
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    let feed = wait_for(&mut sources.cluster, "shop pods", synced).await;
    assert!(feed.data.pods.iter().all(|p| p.namespace == "shop"));

    let (publishers, mut sources) = Publishers::channels();
    let _all = spawn_with(
        server.client().await,
        "test",
        None,
        publishers.cluster,
        fast_tuning(),
    );
    let feed = wait_for(&mut sources.cluster, "all pods", synced).await;
    assert_eq!(feed.data.pods.len(), 4);
    assert_eq!(
        feed.data.pods[0].name, "auth-1",
        "sorted by namespace first"
    );
}

#[tokio::test]
async fn a_forbidden_section_is_marked_while_the_rest_keeps_working() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    server.forbid("events");
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    let feed = wait_for(&mut sources.cluster, "events marked forbidden", |f| {
        f.data.forbidden == ["events"] && synced(f)
    })
    .await;
    assert_eq!(feed.data.pods.len(), 3);
    assert!(feed.data.events.is_empty());
    assert!(
        !feed.health.is_failing(),
        "a 403 on one section is not an outage: {:?}",
        feed.health
    );

    server.put(&fixtures::pod("shop", "user-d", "node-0", "user"));
    wait_for(&mut sources.cluster, "pods still following", |f| {
        f.data.pods.len() == 4
    })
    .await;

    server.allow("events");
    let feed = wait_for(&mut sources.cluster, "events once allowed", |f| {
        f.data.forbidden.is_empty() && f.data.events.len() == 1
    })
    .await;
    assert_eq!(feed.data.pods.len(), 4);
}

#[tokio::test]
async fn an_outage_keeps_the_tables_and_says_why_then_recovers() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    let synced = wait_for(&mut sources.cluster, "sync", synced).await;
    pods_watched(&server).await;
    let last_ok = synced.health.last_ok;

    server.stop();
    let down = wait_for(&mut sources.cluster, "the outage to show", |f| {
        f.health.is_failing()
    })
    .await;
    let error = down.health.last_error.clone().unwrap_or_default();
    assert!(error.contains("cannot reach the API server"), "{error}");
    assert!(
        !error.contains("Status {"),
        "a sentence, not a debug dump: {error}"
    );
    assert_eq!(down.data.pods.len(), 3, "the table is not blanked");
    assert_eq!(
        down.health.last_ok, last_ok,
        "last update stays at the last success"
    );

    server.put(&fixtures::pod("shop", "user-d", "node-0", "user"));
    server.restart().await;
    let back = wait_for(&mut sources.cluster, "recovery", |f| {
        !f.health.is_failing() && f.data.pods.len() == 4
    })
    .await;
    assert!(back.health.last_ok > last_ok);
}

#[tokio::test]
async fn gone_makes_the_watcher_relist_without_blanking() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    wait_for(&mut sources.cluster, "sync", synced).await;
    pods_watched(&server).await;
    let lists = pod_lists(&server);

    server.compact();
    server.put(&fixtures::pod("shop", "user-d", "node-0", "user"));
    let feed = wait_for(&mut sources.cluster, "the re-listed pods", |f| {
        f.data.pods.len() == 4
    })
    .await;
    assert!(pod_lists(&server) > lists, "410 Gone led to a new list");
    assert!(
        !feed.health.is_failing(),
        "410 is routine, not an error: {:?}",
        feed.health
    );
}

#[tokio::test]
async fn a_burst_of_changes_is_published_in_a_few_snapshots() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    wait_for(&mut sources.cluster, "sync", synced).await;
    let pods: Vec<_> = (0..2000)
        .map(|i| fixtures::pod("shop", &format!("burst-{i:04}"), "node-0", "user"))
        .collect();
    let started = tokio::time::Instant::now();
    let counter = tokio::spawn({
        let mut rx = sources.cluster.clone();
        async move {
            let mut seen = 0;
            while rx.changed().await.is_ok() {
                seen += 1;
                if rx.borrow_and_update().data.pods.len() == 2003 {
                    return seen;
                }
            }
            seen
        }
    });
    server.put_all(&pods);
    let seen = tokio::time::timeout(std::time::Duration::from_secs(20), counter)
        .await
        .expect("all 2000 pods arrive")
        .unwrap();
    let limit = started.elapsed().as_millis() / 50 + 2;
    assert!(
        (seen as u128) <= limit,
        "{seen} snapshots for 2000 events in {:?}; at most one per 50 ms expected",
        started.elapsed()
    );
}

#[tokio::test]
async fn usage_columns_appear_only_where_metrics_are_served() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let tuning = opsdeck::sources::kube::Tuning {
        metrics_every: std::time::Duration::from_millis(100),
        ..fast_tuning()
    };
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        tuning.clone(),
    );
    let feed = wait_for(&mut sources.cluster, "sync", synced).await;
    assert!(
        feed.data
            .nodes
            .iter()
            .all(|n| n.cpu_pct.is_none() && n.mem_pct.is_none())
    );
    assert!(feed.data.pods.iter().all(|p| p.cpu_millis.is_none()));
    assert!(
        !feed.health.is_failing(),
        "no metrics-server is not an error"
    );

    server.serve_metrics();
    server.put_values(
        "nodemetrics",
        vec![serde_json::json!({"metadata": {"name": "node-0"},
            "timestamp": "2026-01-01T00:00:00Z", "window": "15s",
            "usage": {"cpu": "1960m", "memory": "7921326Ki"}})],
    );
    server.put_values(
        "podmetrics",
        vec![
            serde_json::json!({"metadata": {"name": "user-a", "namespace": "shop"},
            "timestamp": "2026-01-01T00:00:00Z", "window": "15s",
            "containers": [{"name": "user", "usage": {"cpu": "200m", "memory": "100Mi"}},
                           {"name": "envoy", "usage": {"cpu": "50m", "memory": "28Mi"}}]}),
        ],
    );
    let feed = wait_for(&mut sources.cluster, "usage columns", |f| {
        f.data.nodes[0].cpu_pct.is_some()
    })
    .await;
    let node = &feed.data.nodes[0];
    assert_eq!((node.cpu_pct, node.mem_pct), (Some(50), Some(50)));
    assert_eq!(feed.data.nodes[1].cpu_pct, None, "no sample for node-1");
    let pod = &feed.data.pods[0];
    assert_eq!(
        (pod.name.as_str(), pod.cpu_millis, pod.memory_bytes),
        ("user-a", Some(250), Some(128 << 20))
    );
}

#[tokio::test]
async fn bookmarks_let_a_quiet_watch_resume_without_relisting() {
    let server = KubeServer::start().await;
    server.bookmarks_every(std::time::Duration::from_millis(50));
    fixtures::shop(&server);
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(
        server.client().await,
        "test",
        Some("shop".into()),
        publishers.cluster,
        fast_tuning(),
    );
    wait_for(&mut sources.cluster, "sync", synced).await;
    pods_watched(&server).await;
    let synced_at = server.resource_version();
    let lists = pod_lists(&server);

    // Other resources move on and the server forgets the history the pod watch started at.
    server.history_limit(3);
    for i in 0..10 {
        server.put(&fixtures::node(
            &format!("node-x{i}"),
            "ap-northeast-2a",
            true,
        ));
    }
    assert!(
        server.oldest_resumable() > synced_at + 1,
        "resuming from the sync point would be 410 Gone"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    server.stop();
    wait_for(&mut sources.cluster, "the outage", |f| {
        f.health.is_failing()
    })
    .await;
    server.restart().await;
    server.put(&fixtures::pod("shop", "user-d", "node-0", "user"));
    wait_for(&mut sources.cluster, "the new pod", |f| {
        f.data.pods.len() == 4 && !f.health.is_failing()
    })
    .await;
    assert_eq!(
        pod_lists(&server),
        lists,
        "resumed from the bookmark, no re-list"
    );
}

#[tokio::test]
async fn an_https_cluster_gets_a_tls_client_and_an_unreachable_one_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    // Port 1 on loopback: nothing listens, so the TLS client is built but never connects.
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: eks\n  cluster:\n    server: https://127.0.0.1:1\n    insecure-skip-tls-verify: true\n\
         contexts:\n- name: prod\n  context:\n    cluster: eks\n    user: u\ncurrent-context: prod\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    let client = opsdeck::sources::kube::connect_with(&[path], None)
        .await
        .expect("a TLS client is built");
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn_with(client, "prod", None, publishers.cluster, fast_tuning());
    let feed = wait_for(&mut sources.cluster, "the error", |f| f.health.is_failing()).await;
    let error = feed.health.last_error.clone().unwrap_or_default();
    assert!(error.starts_with("cannot reach the API server"), "{error}");
    assert_eq!(feed.health.last_ok, None);
}

/// A watch of every namespace of a 2,000-pod server (four pages of 500).
async fn watching_many(
    server: &KubeServer,
) -> (
    opsdeck::sources::kube::ClusterWatch,
    opsdeck::sources::Rx<opsdeck::model::cluster::ClusterSnapshot>,
) {
    let (publishers, sources) = Publishers::channels();
    let watch = spawn_with(
        server.client().await,
        "test",
        None,
        publishers.cluster,
        fast_tuning(),
    );
    (watch, sources.cluster)
}

#[tokio::test]
async fn a_slow_first_list_shows_its_pages_as_they_arrive() {
    let server = KubeServer::start().await;
    fixtures::large(&server, 3, 2000);
    server.delay_pages(std::time::Duration::from_millis(300));
    let (_watch, mut rx) = watching_many(&server).await;
    let partial = wait_for(&mut rx, "the first pages", |f| {
        !f.data.pods.is_empty() && f.data.pods.len() < 2000
    })
    .await;
    assert!(
        server.listed_at("pods").is_none(),
        "rows shown before the server finished the list"
    );
    let listed = partial.data.pods.len();
    assert_eq!(
        partial.data.progress_of("pods").as_deref(),
        Some(
            format!(
                "loading {} of ~2,000",
                opsdeck::model::cluster::thousands(listed)
            )
            .as_str()
        ),
    );
    assert!(partial.data.loading.contains(&"pods".to_string()));
    let names: Vec<_> = partial
        .data
        .pods
        .iter()
        .map(|p| (&p.namespace, &p.name))
        .collect();
    assert!(names.is_sorted(), "the rows so far are in table order");

    let full = wait_for(&mut rx, "the whole list", |f| {
        f.data.pods.len() == 2000 && f.data.loading.is_empty()
    })
    .await;
    assert!(full.data.progress.is_empty(), "{:?}", full.data.progress);
}

#[tokio::test]
async fn a_relist_after_gone_never_shows_a_partial_table() {
    let server = KubeServer::start().await;
    fixtures::large(&server, 3, 2000);
    let (_watch, mut rx) = watching_many(&server).await;
    wait_for(&mut rx, "sync", synced).await;
    pods_watched(&server).await;
    let lists = pod_lists(&server);
    let seen = tokio::spawn({
        let mut rx = rx.clone();
        async move {
            let mut sizes = Vec::new();
            while rx.changed().await.is_ok() {
                let feed = rx.borrow_and_update().clone();
                sizes.push((feed.data.pods.len(), feed.data.progress.len()));
                if feed.data.pods.len() == 2001 {
                    break;
                }
            }
            sizes
        }
    });

    server.delay_pages(std::time::Duration::from_millis(200));
    server.compact();
    server.put(&fixtures::pod("ns-0", "relisted-0", "ip-10-0-0-0", "svc-0"));
    let sizes = tokio::time::timeout(std::time::Duration::from_secs(15), seen)
        .await
        .expect("the re-list completes")
        .unwrap();
    assert!(pod_lists(&server) > lists, "410 Gone led to a new list");
    assert!(
        sizes
            .iter()
            .all(|&(pods, progress)| (pods == 2000 || pods == 2001) && progress == 0),
        "only the old table, then the new one: {sizes:?}"
    );
}
