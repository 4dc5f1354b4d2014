//! Cluster operations against the test API server: the request each one sends, the object
//! that results, dry-runs, access checks, read-only, and leases.

mod kubesupport;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kubesupport::{KubeServer, fixtures};
use opsdeck::ops::{Mode, Op, OpError, Ops};
use opsdeck::sources::kube::lease::{Lease, LeaseError};
use opsdeck::sources::kube::{KubeConfig, KubeOps, ops_for};
use std::time::Duration;

async fn shop() -> (KubeServer, KubeOps) {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let ops = KubeOps::new(server.client().await, "test").with_identity("me@here (opsdeck pid 1)");
    server.clear_requests();
    (server, ops)
}

fn scale(replicas: u32) -> Op {
    Op::Scale {
        namespace: "shop".into(),
        deployment: "user".into(),
        replicas,
    }
}

fn rollback(revision: Option<u64>) -> Op {
    Op::Rollback {
        namespace: "shop".into(),
        deployment: "user".into(),
        revision,
    }
}

fn deployment(server: &KubeServer) -> Deployment {
    server.get("deployments", "shop", "user").unwrap()
}

fn image(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

/// Writes other than the access review and lease traffic: the operation itself.
fn sent(server: &KubeServer) -> Vec<kubesupport::Recorded> {
    server
        .writes()
        .into_iter()
        .filter(|r| !r.path.contains("selfsubjectaccessreviews"))
        .collect()
}

#[tokio::test]
async fn scale_patches_the_scale_subresource() {
    let (server, ops) = shop().await;
    let out = ops.apply(&scale(5), Mode::Apply).await.unwrap();
    assert_eq!(
        out.summary,
        "scaled deployment shop/user from 3 to 5 replicas; note: hpa shop/user (min 2, max 10) manages it and will move replicas back within its bounds — change the HPA bounds instead"
    );
    assert!(
        out.calls[0].starts_with(
            "access check (SelfSubjectAccessReview): allowed to patch deployments/scale shop/user"
        ),
        "{:?}",
        out.calls
    );
    let writes = sent(&server);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].method, "PATCH");
    assert_eq!(
        writes[0].path,
        "/apis/apps/v1/namespaces/shop/deployments/user/scale"
    );
    assert_eq!(writes[0].content_type, "application/merge-patch+json");
    assert_eq!(writes[0].body, r#"{"spec":{"replicas":5}}"#);
    assert!(!writes[0].dry_run);
    assert_eq!(deployment(&server).spec.unwrap().replicas, Some(5));

    let review = server
        .writes()
        .into_iter()
        .find(|r| r.path.contains("selfsubjectaccessreviews"))
        .expect("an access review was asked first");
    assert!(
        review.body.contains(r#""subresource":"scale""#),
        "{}",
        review.body
    );
}

#[tokio::test]
async fn every_dry_run_sends_dry_run_all_and_changes_nothing() {
    let (server, ops) = shop().await;
    let before_deploy = deployment(&server);
    let all = [
        scale(7),
        Op::SetHpaBounds {
            namespace: "shop".into(),
            hpa: "user".into(),
            min: Some(4),
            max: Some(20),
            context: None,
        },
        rollback(None),
        Op::Restart {
            namespace: "shop".into(),
            deployment: "user".into(),
        },
        Op::Cordon {
            node: "node-0".into(),
            cordon: true,
        },
        Op::DeletePod {
            namespace: "shop".into(),
            pod: "user-c".into(),
        },
    ];
    for op in &all {
        server.clear_requests();
        let out = ops
            .apply(op, Mode::DryRun)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"));
        assert!(
            out.summary.starts_with("dry-run: "),
            "{op}: {}",
            out.summary
        );
        assert!(
            out.summary
                .ends_with("accepted by the API server, nothing changed"),
            "{}",
            out.summary
        );
        assert!(
            out.calls.iter().any(|c| c.contains("?dryRun=All")),
            "{op}: {:?}",
            out.calls
        );
        assert!(
            out.calls[0].contains("allowed to"),
            "the access verdict is shown: {:?}",
            out.calls
        );
        let writes = sent(&server);
        assert!(!writes.is_empty(), "{op}: the real call is sent");
        assert!(writes.iter().all(|w| w.dry_run), "{op}: {writes:?}");
    }
    let after = deployment(&server);
    assert_eq!(
        after.metadata.resource_version,
        before_deploy.metadata.resource_version
    );
    assert!(server.get::<Pod>("pods", "shop", "user-c").is_some());
    let node: Node = server.get("nodes", "", "node-0").unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, None);
    let hpa: HorizontalPodAutoscaler = server
        .get("horizontalpodautoscalers", "shop", "user")
        .unwrap();
    assert_eq!(hpa.spec.unwrap().max_replicas, 10);
}

#[tokio::test]
async fn rollback_goes_to_the_previous_revision_like_rollout_undo() {
    let (server, ops) = shop().await;
    // Same labels, another owner: must not be mistaken for this Deployment's history.
    let other = fixtures::deployment("shop", "user-canary", 1, "shop/user:9.9", 1);
    let mut stray = fixtures::replicaset(&other, 2, "shop/user:9.9", 0);
    stray.metadata.name = Some("user-a-stray".into()); // listed before the real one
    stray
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("app".into(), "user".into());
    server.put(&stray);

    let out = ops.apply(&rollback(None), Mode::Apply).await.unwrap();
    assert_eq!(
        out.summary,
        "rolled back deployment shop/user from revision 3 to revision 2 (shop/user:1.3, replicaset user-h2x4)"
    );
    let d = deployment(&server);
    assert_eq!(image(&d), "shop/user:1.3");
    let labels = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert!(!labels.contains_key("pod-template-hash"), "{labels:?}");
    let annotations = d.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations["app.example.com/release-note"], "release 2",
        "copied from the ReplicaSet"
    );
    assert_eq!(
        annotations["deployment.kubernetes.io/revision"], "3",
        "kept from the Deployment"
    );
    let put = sent(&server);
    assert_eq!(
        (put[0].method.as_str(), put[0].path.as_str()),
        ("PUT", "/apis/apps/v1/namespaces/shop/deployments/user")
    );
    assert!(
        put[0].body.contains(r#""resourceVersion""#),
        "sent with the version read, for a conflict check"
    );

    let again = ops.apply(&rollback(Some(2)), Mode::Apply).await.unwrap();
    assert!(
        again
            .summary
            .contains("already runs the template of revision 2"),
        "{}",
        again.summary
    );

    ops.apply(&rollback(Some(1)), Mode::Apply).await.unwrap();
    assert_eq!(image(&deployment(&server)), "shop/user:1.2");

    let missing = ops
        .apply(&rollback(Some(9)), Mode::Apply)
        .await
        .unwrap_err();
    assert_eq!(
        missing,
        OpError::NotFound(
            "revision 9 of deployment shop/user (history: 1, 2, 3; context test)".into()
        )
    );
}

#[tokio::test]
async fn rollback_without_history_is_refused() {
    let (server, ops) = shop().await;
    let op = Op::Rollback {
        namespace: "shop".into(),
        deployment: "admin".into(),
        revision: None,
    };
    let err = ops.apply(&op, Mode::Apply).await.unwrap_err();
    assert!(
        matches!(err, OpError::Refused(ref m) if m.contains("no revision before 1")),
        "{err}"
    );
    assert!(sent(&server).is_empty());
}

#[tokio::test]
async fn restart_sets_the_restarted_at_annotation() {
    let (server, ops) = shop().await;
    let op = Op::Restart {
        namespace: "shop".into(),
        deployment: "user".into(),
    };
    let out = ops.apply(&op, Mode::Apply).await.unwrap();
    assert!(
        out.summary.starts_with("restarted deployment shop/user"),
        "{}",
        out.summary
    );
    let writes = sent(&server);
    assert_eq!(
        writes[0].content_type,
        "application/strategic-merge-patch+json"
    );
    let d = deployment(&server);
    let annotations = d
        .spec
        .unwrap()
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap();
    let at: jiff::Timestamp = annotations["kubectl.kubernetes.io/restartedAt"]
        .parse()
        .unwrap();
    assert!((jiff::Timestamp::now() - at).get_seconds().abs() < 60);
}

#[tokio::test]
async fn hpa_bounds_cordon_and_pod_delete_change_their_objects() {
    let (server, ops) = shop().await;
    let bounds = Op::SetHpaBounds {
        namespace: "shop".into(),
        hpa: "user".into(),
        min: None,
        max: Some(20),
        context: None,
    };
    let out = ops.apply(&bounds, Mode::Apply).await.unwrap();
    assert_eq!(out.summary, "set hpa shop/user bounds from 2..10 to 2..20");
    let hpa: HorizontalPodAutoscaler = server
        .get("horizontalpodautoscalers", "shop", "user")
        .unwrap();
    let spec = hpa.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 20));

    server.clear_requests();
    let bad = Op::SetHpaBounds {
        namespace: "shop".into(),
        hpa: "user".into(),
        min: Some(30),
        max: None,
        context: None,
    };
    let err = ops.apply(&bad, Mode::Apply).await.unwrap_err();
    assert_eq!(
        err,
        OpError::Refused(
            "hpa shop/user: min 30 and max 20 are not a valid range (need 1 ≤ min ≤ max)".into()
        )
    );
    assert!(sent(&server).is_empty(), "refused before anything was sent");

    ops.apply(
        &Op::Cordon {
            node: "node-1".into(),
            cordon: true,
        },
        Mode::Apply,
    )
    .await
    .unwrap();
    let node: Node = server.get("nodes", "", "node-1").unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(true));
    ops.apply(
        &Op::Cordon {
            node: "node-1".into(),
            cordon: false,
        },
        Mode::Apply,
    )
    .await
    .unwrap();
    let node: Node = server.get("nodes", "", "node-1").unwrap();
    assert_eq!(node.spec.unwrap().unschedulable, Some(false));

    let delete = Op::DeletePod {
        namespace: "shop".into(),
        pod: "user-c".into(),
    };
    assert_eq!(
        ops.apply(&delete, Mode::Apply).await.unwrap().summary,
        "deleted pod shop/user-c"
    );
    assert!(server.get::<Pod>("pods", "shop", "user-c").is_none());
    let again = ops.apply(&delete, Mode::Apply).await.unwrap_err();
    assert_eq!(
        again,
        OpError::NotFound("pod shop/user-c (context test)".into())
    );
}

#[tokio::test]
async fn an_rbac_denial_is_a_sentence_and_nothing_is_sent() {
    let (server, ops) = shop().await;
    server.deny("patch", "deployments/scale");
    let err = ops.apply(&scale(5), Mode::DryRun).await.unwrap_err();
    let OpError::Denied(message) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        message,
        "your credentials for context test may not patch deployments/scale shop/user — RBAC: role \"viewer\" does not grant patch on deployments/scale"
    );
    assert!(sent(&server).is_empty());
    assert_eq!(deployment(&server).spec.unwrap().replicas, Some(3));
}

#[tokio::test]
async fn read_only_lets_dry_runs_through_and_refuses_the_rest() {
    let (server, _) = shop().await;
    let config = KubeConfig {
        read_only: vec!["test".into()],
        ..KubeConfig::default()
    };
    let ops = ops_for(server.client().await, "test", Some(&config), false);
    let err = ops.apply(&scale(5), Mode::Apply).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "read-only: scale deployment shop/user to 5 replicas not run: context test is read-only in the config ([kube] read_only)"
    );
    assert!(sent(&server).is_empty());
    assert!(ops.apply(&scale(5), Mode::DryRun).await.is_ok());

    let flagged = ops_for(server.client().await, "test", None, true);
    let err = flagged.apply(&scale(5), Mode::Apply).await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("not run: opsdeck runs with --read-only"),
        "{err}"
    );
    assert_eq!(deployment(&server).spec.unwrap().replicas, Some(3));
}

#[tokio::test]
async fn a_second_console_sees_who_holds_the_lease_and_since_when() {
    let (server, ops) = shop().await;
    let client = server.client().await;
    let alice = "alice@bastion-1 (opsdeck pid 10)";
    let lease = Lease::acquire(
        client.clone(),
        "shop",
        "deployment/user",
        alice,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert_eq!(lease.name(), "opsdeck-deployment-user");

    // Renewal keeps it held past its duration.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(lease.lost(), None);
    let bob = "bob@bastion-2 (opsdeck pid 20)";
    let err = Lease::acquire(
        client.clone(),
        "shop",
        "deployment/user",
        bob,
        Duration::from_secs(30),
    )
    .await
    .err()
    .expect("alice holds it");
    let LeaseError::Held { holder, since, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(holder, alice);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("deployment/user is locked by {alice} since {since} (lease shop/opsdeck-deployment-user)")),
        "{text}"
    );

    // Operations from another console are refused while it is held ...
    let refused = ops.apply(&scale(5), Mode::Apply).await.unwrap_err();
    assert!(
        matches!(&refused, OpError::Refused(m) if m.contains(alice)),
        "{refused}"
    );
    assert_eq!(deployment(&server).spec.unwrap().replicas, Some(3));
    // ... but its own console goes ahead.
    let own = KubeOps::new(client.clone(), "test").with_identity(alice);
    own.apply(&scale(5), Mode::Apply).await.unwrap();
    let admin = Op::Scale {
        namespace: "shop".into(),
        deployment: "admin".into(),
        replicas: 4,
    };
    let plain = own.apply(&admin, Mode::Apply).await.unwrap();
    assert_eq!(
        plain.summary, "scaled deployment shop/admin from 2 to 4 replicas",
        "no HPA, no note"
    );

    lease.release().await.unwrap();
    let taken = Lease::acquire(
        client,
        "shop",
        "deployment/user",
        bob,
        Duration::from_secs(30),
    )
    .await;
    assert!(taken.is_ok(), "free again after release: {:?}", taken.err());
}

#[tokio::test]
async fn two_consoles_racing_for_a_free_lease_get_one_winner() {
    let (server, _) = shop().await;
    let (a, b) = (server.client().await, server.client().await);
    server.set_latency(Duration::from_millis(30));
    let (first, second) = tokio::join!(
        Lease::acquire(
            a,
            "shop",
            "node/node-0",
            "a@x (opsdeck pid 1)",
            Duration::from_secs(30)
        ),
        Lease::acquire(
            b,
            "shop",
            "node/node-0",
            "b@y (opsdeck pid 2)",
            Duration::from_secs(30)
        ),
    );
    let wins = [first.is_ok(), second.is_ok()]
        .iter()
        .filter(|w| **w)
        .count();
    assert_eq!(wins, 1);
    let loser = first.err().or(second.err()).unwrap();
    assert!(
        matches!(loser, LeaseError::Raced { .. } | LeaseError::Held { .. }),
        "{loser:?}"
    );
}

#[tokio::test]
async fn a_stale_lease_write_gets_a_conflict() {
    let (server, _) = shop().await;
    let client = server.client().await;
    let held = Lease::acquire(
        client.clone(),
        "shop",
        "pod/user-a",
        "a@x (opsdeck pid 1)",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, "shop");
    let stale = api.get(held.name()).await.unwrap();
    api.replace(held.name(), &Default::default(), &stale)
        .await
        .unwrap();
    let err = api
        .replace(held.name(), &Default::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(
        opsdeck::sources::kube::describe(&err).split(':').next(),
        Some("conflict")
    );
}

#[tokio::test]
async fn missing_objects_and_foreign_operations_are_named() {
    let (_server, ops) = shop().await;
    let op = Op::Scale {
        namespace: "shop".into(),
        deployment: "nope".into(),
        replicas: 1,
    };
    assert_eq!(
        ops.apply(&op, Mode::Apply).await.unwrap_err(),
        OpError::NotFound("deployment shop/nope (context test)".into())
    );
    let fence = Op::Fence {
        cluster: "shop-mariadb".into(),
        member: "mariadb-0".into(),
    };
    assert!(matches!(
        ops.apply(&fence, Mode::DryRun).await,
        Err(OpError::Unsupported(_))
    ));
}

#[test]
fn the_config_file_takes_a_kube_section() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[kube]\ncontexts = [\"prod-kr\", \"prod-us\"]\nnamespace = \"shop\"\nread_only = [\"prod-us\"]\n",
    )
    .unwrap();
    let config = opsdeck::config::load(&path, true).unwrap().unwrap();
    let kube = config.kube.expect("[kube] is read");
    assert_eq!(kube.contexts, ["prod-kr", "prod-us"]);
    assert_eq!(kube.namespace.as_deref(), Some("shop"));
    assert!(kube.is_read_only("prod-us") && !kube.is_read_only("prod-kr"));

    std::fs::write(&path, "[kube]\nreadonly = true\n").unwrap();
    let err = opsdeck::config::load(&path, true).unwrap_err().to_string();
    assert!(err.contains("unknown field `readonly`"), "{err}");
}

/// The shipped `scale` playbook through the executor, every question answered yes.
async fn run_scale(ops: KubeOps) -> (opsdeck::incident::event::RunOutcome, Vec<String>) {
    use opsdeck::incident::clock::SystemClock;
    use opsdeck::incident::desk::Desk;
    use opsdeck::incident::event::Who;
    use opsdeck::playbook::run::{self, Answer, Context};
    use opsdeck::playbook::{catalog, plan};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let who = Who {
        user: "kim".into(),
        from: None,
    };
    let ctx = Context {
        ops: Arc::new(ops),
        snapshots: Arc::new(opsdeck::sources::Snapshots::default),
        desk: Arc::new(Mutex::new(Desk::open(dir.path(), who).unwrap())),
        clock: Arc::new(SystemClock),
        read_only: None,
        anti_flap: jiff::SignedDuration::from_mins(30),
        speed: 1,
    };
    let playbook = catalog::shipped("scale").unwrap();
    let vars = plan::inputs(&playbook, &[]).unwrap();
    let (outcome, view, _) = run::execute_answering(&ctx, &playbook, vars, |_| Answer::Yes).await;
    let said = view.steps.iter().flat_map(|s| s.output.clone()).collect();
    (outcome, said)
}

#[tokio::test]
async fn a_later_step_rbac_denies_refuses_the_run_before_the_first_change() {
    let (server, ops) = shop().await;
    // The scale step may not patch; the HPA step before it may.
    server.deny("patch", "deployments/scale");
    let (outcome, said) = run_scale(ops).await;
    assert_eq!(
        outcome,
        opsdeck::incident::event::RunOutcome::Failed,
        "{said:?}"
    );
    assert!(
        said.iter().any(|l| l.starts_with("refused, nothing was changed: not allowed: your credentials for context test may not patch deployments/scale")),
        "{said:?}"
    );
    let hpa: HorizontalPodAutoscaler = server
        .get("horizontalpodautoscalers", "shop", "user")
        .unwrap();
    assert_eq!(hpa.spec.unwrap().max_replicas, 10, "the HPA step never ran");
    let writes = sent(&server);
    assert!(
        writes.iter().all(|r| r.dry_run),
        "only the preflight's dry-runs: {writes:?}"
    );
}

#[tokio::test]
async fn a_lease_another_console_holds_refuses_the_run_before_the_first_change() {
    let (server, ops) = shop().await;
    let client = server.client().await;
    let (namespace, target) = opsdeck::sources::kube::lease_target(&scale(12)).unwrap();
    let alice = "alice@bastion-1 (opsdeck pid 10)";
    let _held = Lease::acquire(client, &namespace, &target, alice, Duration::from_secs(60))
        .await
        .unwrap();
    let (outcome, said) = run_scale(ops).await;
    assert_eq!(
        outcome,
        opsdeck::incident::event::RunOutcome::Failed,
        "{said:?}"
    );
    assert!(
        said.iter().any(|l| l.starts_with("refused, nothing was changed") && l.contains("alice@bastion-1")),
        "{said:?}"
    );
    let hpa: HorizontalPodAutoscaler = server
        .get("horizontalpodautoscalers", "shop", "user")
        .unwrap();
    assert_eq!(hpa.spec.unwrap().max_replicas, 10, "the HPA step never ran");
}
