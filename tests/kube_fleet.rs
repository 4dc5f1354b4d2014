//! Several contexts at once against two test API servers: every context keeps a health
//! line, the active one feeds the cluster pane and takes the operations, and `:ctx` / `:ns`
//! switch without losing the other watches.

mod kubesupport;

use kubesupport::{KubeServer, fast_tuning, fixtures, kubeconfig_for, wait_for, wait_for_lines};
use opsdeck::model::summary::ContextHealth;
use opsdeck::ops::{Mode, Op, Ops};
use opsdeck::sources::kube::{ConfigSource, Fleet, KubeConfig};
use opsdeck::sources::{ClusterControl, Publishers};

fn line<'a>(lines: &'a [ContextHealth], context: &str) -> &'a ContextHealth {
    lines
        .iter()
        .find(|l| l.context == context)
        .unwrap_or_else(|| panic!("no line for {context}: {lines:#?}"))
}

fn pod_names(feed: &kubesupport::ClusterFeed) -> Vec<&str> {
    feed.data.pods.iter().map(|p| p.name.as_str()).collect()
}

#[tokio::test]
async fn watches_every_context_and_switches_the_active_one() {
    let (kr, us) = (KubeServer::start().await, KubeServer::start().await);
    fixtures::shop(&kr);
    fixtures::payments(&us);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("prod-kr", &kr), ("prod-us", &us)], dir.path());
    let (publishers, mut sources) = Publishers::channels();
    let fleet = Fleet::start(
        ConfigSource::Files(vec![kubeconfig]),
        KubeConfig {
            contexts: vec!["prod-kr".into(), "prod-us".into()],
            ..KubeConfig::default()
        },
        fast_tuning(),
        publishers.cluster,
        publishers.contexts,
    )
    .await;

    let lines = wait_for_lines(&mut sources.contexts, "both contexts listed", |ls| {
        ls.len() == 2 && ls.iter().all(|l| l.last_ok.is_some() && !l.loading)
    })
    .await;
    let kr_line = line(&lines, "prod-kr");
    assert!(kr_line.active);
    assert_eq!((kr_line.nodes_ready, kr_line.nodes), (3, 3));
    assert_eq!((kr_line.deployments_available, kr_line.deployments), (2, 2));
    assert_eq!((kr_line.pods_not_ready, kr_line.crashlooping), (1, 1));
    assert_eq!(kr_line.hpas_at_max, 0);
    let us_line = line(&lines, "prod-us");
    assert!(!us_line.active);
    assert_eq!((us_line.nodes, us_line.pods_not_ready), (2, 0));
    assert_eq!(us_line.hpas_at_max, 1);
    assert_eq!(us_line.namespace, None, "all namespaces by default");

    let feed = wait_for(&mut sources.cluster, "prod-kr's pods", |f| {
        f.data.pods.len() == 3
    })
    .await;
    assert_eq!(feed.data.context, "prod-kr");

    // :ctx prod-us — the pane shows the other server's pods at once, labelled as its own.
    let said = fleet.use_context("prod-us").await.unwrap();
    assert_eq!(said, "context prod-us · ns all");
    let feed = sources.cluster.borrow_and_update().clone();
    assert_eq!(feed.data.context, "prod-us");
    assert_eq!(pod_names(&feed), ["writer-z", "api-x", "api-y"]);

    // The inactive context is still watched: a change there reaches its line.
    kr.put(&fixtures::crashing_pod(
        "shop", "user-d", "node-0", "user", 4,
    ));
    wait_for_lines(&mut sources.contexts, "prod-kr's new crash loop", |ls| {
        line(ls, "prod-kr").crashlooping == 2 && line(ls, "prod-us").active
    })
    .await;
    assert_eq!(sources.cluster.borrow().data.context, "prod-us");

    // Operations go to the active context's API server only.
    kr.clear_requests();
    us.clear_requests();
    let scale = Op::Scale {
        namespace: "payments".into(),
        deployment: "api".into(),
        replicas: 3,
    };
    fleet.apply(&scale, Mode::DryRun).await.unwrap();
    assert!(us.writes().iter().any(|w| w.dry_run), "{:?}", us.writes());
    assert!(kr.writes().is_empty(), "{:?}", kr.writes());

    // :ns ledger narrows the active context; nothing from the old scope is shown as the new.
    let said = fleet.use_namespace(Some("ledger".into())).unwrap();
    assert_eq!(said, "context prod-us · ns ledger");
    let feed = sources.cluster.borrow_and_update().clone();
    assert_eq!(feed.data.namespace.as_deref(), Some("ledger"));
    assert!(
        feed.data.pods.iter().all(|p| p.namespace == "ledger"),
        "{:?}",
        pod_names(&feed)
    );
    let feed = wait_for(&mut sources.cluster, "only the ledger pod", |f| {
        f.data.loading.is_empty() && pod_names(f) == ["writer-z"]
    })
    .await;
    assert_eq!(feed.data.context, "prod-us");
    assert_eq!(feed.data.nodes.len(), 2, "nodes stay cluster-wide");

    // Back to prod-kr: its own scope, unchanged by prod-us's :ns.
    fleet.use_context("prod-kr").await.unwrap();
    let feed = sources.cluster.borrow_and_update().clone();
    assert_eq!(feed.data.scope(), "prod-kr · ns all");
    assert_eq!(feed.data.pods.len(), 4);
}

#[tokio::test]
async fn an_unknown_context_is_an_error_and_changes_nothing() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("only", &server)], dir.path());
    let (publishers, mut sources) = Publishers::channels();
    let fleet = Fleet::start(
        ConfigSource::Files(vec![kubeconfig]),
        KubeConfig::default(),
        fast_tuning(),
        publishers.cluster,
        publishers.contexts,
    )
    .await;
    wait_for(&mut sources.cluster, "the current context's pods", |f| {
        f.data.pods.len() == 3
    })
    .await;
    let err = fleet.use_context("nope").await.unwrap_err();
    assert!(
        err.starts_with("cannot use kubeconfig context nope:"),
        "{err}"
    );
    assert_eq!(sources.cluster.borrow().data.context, "only");
    let lines = sources.contexts.borrow().clone();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].active);
}

#[tokio::test]
async fn a_context_that_cannot_be_used_has_a_line_saying_why() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("good", &server)], dir.path());
    let (publishers, mut sources) = Publishers::channels();
    let fleet = Fleet::start(
        ConfigSource::Files(vec![kubeconfig]),
        KubeConfig {
            contexts: vec!["missing".into(), "good".into()],
            ..KubeConfig::default()
        },
        fast_tuning(),
        publishers.cluster,
        publishers.contexts,
    )
    .await;
    let lines = wait_for_lines(&mut sources.contexts, "good listed", |ls| {
        ls.len() == 2 && line(ls, "good").last_ok.is_some()
    })
    .await;
    let missing = line(&lines, "missing");
    assert!(missing.active, "the first configured context is active");
    let error = missing.error.as_deref().unwrap_or_default();
    assert!(error.contains("missing"), "{error}");
    // The pane says so instead of showing another context's rows.
    let feed = sources.cluster.borrow().clone();
    assert_eq!(feed.data.context, "missing");
    assert!(feed.data.pods.is_empty());
    assert!(feed.health.is_failing());
    let refused = fleet
        .apply(
            &Op::Restart {
                namespace: "shop".into(),
                deployment: "user".into(),
            },
            Mode::DryRun,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not connected"), "{refused}");
    fleet.use_context("good").await.unwrap();
    assert_eq!(sources.cluster.borrow().data.context, "good");

    // Once the kubeconfig has it, :ctx tries again and the context takes its place.
    kubeconfig_for(&[("good", &server), ("missing", &server)], dir.path());
    fleet.use_context("missing").await.unwrap();
    let lines = sources.contexts.borrow().clone();
    let order: Vec<(&str, bool, bool)> = lines
        .iter()
        .map(|l| (l.context.as_str(), l.active, l.error.is_some()))
        .collect();
    assert_eq!(order, [("missing", true, false), ("good", false, false)]);
}

#[tokio::test]
async fn contexts_outside_the_config_are_watched_one_at_a_time() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(
        &[("a", &server), ("b", &server), ("c", &server)],
        dir.path(),
    );
    let (publishers, sources) = Publishers::channels();
    let fleet = Fleet::start(
        ConfigSource::Files(vec![kubeconfig]),
        KubeConfig {
            contexts: vec!["a".into()],
            ..KubeConfig::default()
        },
        fast_tuning(),
        publishers.cluster,
        publishers.contexts,
    )
    .await;
    let watched = || -> Vec<(String, bool)> {
        sources
            .contexts
            .borrow()
            .iter()
            .map(|l| (l.context.clone(), l.active))
            .collect()
    };
    let owned = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
        v.iter().map(|(c, a)| (c.to_string(), *a)).collect()
    };
    fleet.use_context("b").await.unwrap();
    assert_eq!(watched(), owned(&[("a", false), ("b", true)]));
    fleet.use_context("c").await.unwrap();
    assert_eq!(watched(), owned(&[("a", false), ("c", true)]));
    fleet.use_context("a").await.unwrap();
    assert_eq!(watched(), owned(&[("a", true), ("c", false)]));
}
