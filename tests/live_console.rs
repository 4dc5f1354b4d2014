//! The real binary on a live (test) Kubernetes API server: `--context` goes live, the cluster
//! pane fills from watches and follows them, and stopping the server greys the pane with the
//! error while keeping the table.

mod kubesupport;
mod support;

use kubesupport::{KubeServer, fixtures};
use support::Console;

#[test]
fn context_flag_goes_live_and_the_cluster_pane_follows_the_server() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(KubeServer::start());
    fixtures::shop(&server);
    let kubeconfig = server.kubeconfig();
    let mut c = Console::builder()
        .arg("--context")
        .arg("test")
        .env("KUBECONFIG", kubeconfig.to_str().unwrap())
        .size(120, 30)
        .start();
    let screen = c.wait_for("LIVE");
    assert!(screen.contains("test"), "{screen}");
    assert!(!screen.contains("DRILL"), "{screen}");
    c.press("2");
    c.wait_for("user-a");
    let screen = c.wait_for("CrashLoopBackOff");
    assert!(screen.contains("user-c"), "{screen}");

    server.stop();
    let greyed = c.wait_until("the pane greyed with the error", |s| {
        s.contains("✗ CRIT Cluster — last update")
    });
    assert!(greyed.contains("user-a"), "the table is kept:\n{greyed}");

    c.press("\x03");
    assert!(c.wait_exit().success());
    drop(rt);
}
