//! Opt-in: `OPSDECK_REAL_CLUSTER=1 cargo test --test kube_real_cluster -- --ignored --nocapture` runs
//! the read-only part (connect, watch every section until it is listed) against the cluster
//! KUBECONFIG points at. Nothing is written to the cluster.

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
