//! Opt-in: `OPSDECK_REAL_CLUSTER=1 cargo test --test kube_real_cluster -- --ignored --nocapture` runs
//! the read-only part (connect, watch every section until it is listed; several contexts at
//! once with `:ctx` and `:ns` switches, `OPSDECK_REAL_CONTEXTS=a,b`) against the clusters
//! KUBECONFIG points at. Nothing is written to a cluster.

use opsdeck::sources::Publishers;
use opsdeck::sources::kube::{connect, current_context, spawn};
use std::time::Duration;

#[tokio::test]
#[ignore = "needs a real cluster: OPSDECK_REAL_CLUSTER=1 and KUBECONFIG"]
async fn real_cluster_fills_the_cluster_feed() {
    if std::env::var("OPSDECK_REAL_CLUSTER").as_deref() != Ok("1") {
        eprintln!("skipped: set OPSDECK_REAL_CLUSTER=1 to run against KUBECONFIG's cluster");
        return;
    }
    let context = current_context();
    let client = connect(None).await.expect("connect to the current context");
    let namespace = std::env::var("OPSDECK_REAL_NAMESPACE").ok();
    let (publishers, mut sources) = Publishers::channels();
    let _watch = spawn(client, context.clone(), namespace, publishers.cluster);
    let started = std::time::Instant::now();
    let feed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let feed = sources.cluster.borrow_and_update().clone();
            if feed.health.last_ok.is_some() && feed.data.loading.is_empty() {
                return feed;
            }
            if sources.cluster.changed().await.is_err() {
                return feed;
            }
        }
    })
    .await
    .expect("every section listed within 60 s");
    assert!(!feed.health.is_failing(), "{:?}", feed.health);
    let c = &feed.data;
    eprintln!(
        "context {context}: {} nodes, {} deployments, {} pods, {} hpa, {} pdb, {} warnings, forbidden {:?}, in {:?}",
        c.nodes.len(),
        c.deployments.len(),
        c.pods.len(),
        c.hpas.len(),
        c.pdbs.len(),
        c.events.len(),
        c.forbidden,
        started.elapsed()
    );
}

/// `OPSDECK_REAL_CONTEXTS=a,b` (default: the current context) are watched at once as the
/// console does; each becomes active in turn with `:ctx`, then `:ns kube-system` narrows the
/// last one. Read-only as well.
#[tokio::test]
#[ignore = "needs a real cluster: OPSDECK_REAL_CLUSTER=1 and KUBECONFIG"]
async fn real_contexts_are_watched_at_once_and_switched() {
    use opsdeck::sources::ClusterControl;
    use opsdeck::sources::kube::{ConfigSource, Fleet, KubeConfig, Tuning};
    if std::env::var("OPSDECK_REAL_CLUSTER").as_deref() != Ok("1") {
        eprintln!("skipped: set OPSDECK_REAL_CLUSTER=1 to run against KUBECONFIG's clusters");
        return;
    }
    let contexts: Vec<String> = std::env::var("OPSDECK_REAL_CONTEXTS")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| vec![current_context()]);
    let (publishers, mut sources) = Publishers::channels();
    let fleet = Fleet::start(
        ConfigSource::Default,
        KubeConfig {
            contexts: contexts.clone(),
            ..KubeConfig::default()
        },
        Tuning::default(),
        publishers.cluster,
        publishers.contexts,
    )
    .await;
    let lines = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let lines = sources.contexts.borrow_and_update().clone();
            if lines.len() == contexts.len()
                && lines.iter().all(|l| l.last_ok.is_some() && !l.loading)
            {
                return lines;
            }
            if sources.contexts.changed().await.is_err() {
                return lines;
            }
        }
    })
    .await
    .expect("every context listed within 60 s");
    for line in lines.iter() {
        eprintln!("{line:?}");
        assert!(line.error.is_none(), "{line:?}");
    }
    for context in &contexts {
        fleet.use_context(context).await.expect("switch");
        assert_eq!(&sources.cluster.borrow().data.context, context);
    }
    fleet
        .use_namespace(Some("kube-system".into()))
        .expect("narrow");
    let feed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let feed = sources.cluster.borrow_and_update().clone();
            if feed.health.last_ok.is_some() && feed.data.loading.is_empty() {
                return feed;
            }
            if sources.cluster.changed().await.is_err() {
                return feed;
            }
        }
    })
    .await
    .expect("kube-system listed within 60 s");
    assert_eq!(feed.data.namespace.as_deref(), Some("kube-system"));
    assert!(feed.data.pods.iter().all(|p| p.namespace == "kube-system"));
}
