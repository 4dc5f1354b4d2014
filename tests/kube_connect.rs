//! `connect` reads KUBECONFIG the way kubectl does: several files, merged in order.
//! This binary has one test because it sets a process-wide environment variable.

mod kubesupport;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kubesupport::{KubeServer, fixtures};
use opsdeck::sources::kube::{connect, context_names, current_context};

#[tokio::test]
async fn kubeconfig_split_over_two_files_is_merged() {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    let dir = tempfile::tempdir().unwrap();
    let clusters = dir.path().join("clusters.yaml");
    let contexts = dir.path().join("contexts.yaml");
    std::fs::write(
        &clusters,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kr\n  cluster:\n    server: http://{}\n\
             users:\n- name: oncall\n  user:\n    token: t\n",
            server.addr()
        ),
    )
    .unwrap();
    std::fs::write(
        &contexts,
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: prod-kr\n  context:\n    cluster: kr\n    user: oncall\n\
         current-context: prod-kr\n",
    )
    .unwrap();
    let list = format!("{}:{}", clusters.display(), contexts.display());
    // SAFETY: the only test in this binary, and no other thread reads the environment yet.
    unsafe { std::env::set_var("KUBECONFIG", &list) };

    assert_eq!(current_context(), "prod-kr");
    assert_eq!(context_names(), ["prod-kr"]);
    for client in [
        connect(None).await.unwrap(),
        connect(Some("prod-kr")).await.unwrap(),
    ] {
        let pods: Api<Pod> = Api::namespaced(client, "shop");
        assert_eq!(pods.list(&Default::default()).await.unwrap().items.len(), 3);
    }
    let err = connect(Some("prod-us"))
        .await
        .err()
        .expect("unknown context")
        .to_string();
    assert!(
        err.starts_with("cannot use kubeconfig context prod-us:"),
        "{err}"
    );
}
