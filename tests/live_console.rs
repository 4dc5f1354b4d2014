//! The real binary on live (test) Kubernetes API servers: `--context` goes live, the cluster
//! pane fills from watches and follows them, and stopping the server greys the pane with the
//! error while keeping the table; with two contexts configured the overview has a line for
//! each and `:ctx` / `:ns` switch what the cluster pane shows.

mod kubesupport;
mod support;

use kubesupport::{KubeServer, fixtures, kubeconfig_for};
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

#[test]
fn two_contexts_have_overview_lines_and_ctx_and_ns_switch_the_cluster_pane() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (first, second) =
        rt.block_on(async { (KubeServer::start().await, KubeServer::start().await) });
    fixtures::shop(&first);
    fixtures::payments(&second);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig_for(&[("first", &first), ("second", &second)], dir.path());
    let mut c = Console::builder()
        .config_file(
            "config.toml",
            "[kube]\ncontexts = [\"first\", \"second\"]\n",
        )
        .env("KUBECONFIG", kubeconfig.to_str().unwrap())
        .start();
    c.wait_for("1 Home");
    // One line per context: first has a crash-looping pod, second an HPA at max.
    let screen = c.wait_until("both contexts' lines with their counts", |s| {
        s.lines()
            .any(|l| l.contains("▸ ✗ first") && l.contains("3/3") && l.contains("2/2"))
            && s.lines()
                .any(|l| l.contains("second") && l.contains("2/2") && l.ends_with("1"))
    });
    assert!(screen.contains("ctx first · ns all"), "{screen}");

    c.press(":ctx nope\r");
    c.wait_for("no context `nope` in the kubeconfig");

    c.press(":ctx s\t");
    c.wait_for(":ctx second");
    c.press("\r");
    let screen = c.wait_until("second's pods in the cluster pane", |s| {
        s.contains("second · ns all") && s.contains("api-x") && s.contains("writer-z")
    });
    assert!(
        !screen.contains("user-a"),
        "first's pods are gone:\n{screen}"
    );
    assert!(screen.contains("ctx second · ns all"), "{screen}");

    c.press(":ns ledger\r");
    let screen = c.wait_until("only the ledger namespace", |s| {
        s.contains("second · ns ledger") && s.contains("writer-z") && !s.contains("api-x")
    });
    assert!(screen.contains("Pods 1"), "{screen}");

    // The overview still has both, the active mark on second, narrowed to ledger.
    c.press("1");
    c.wait_until("second active on the overview", |s| {
        s.lines()
            .any(|l| l.contains("▸") && l.contains("second") && l.contains("ledger"))
            && s.lines().any(|l| l.contains("first") && l.contains("3/3"))
    });
    // Enter on first's line (below the Cluster line) shows first again, as it was.
    c.press("j\r");
    let screen = c.wait_until("first's pods again", |s| {
        s.contains("first · ns all") && s.contains("user-a") && s.contains("user-c")
    });
    assert!(!screen.contains("writer-z"), "{screen}");

    c.press("\x03");
    assert!(c.wait_exit().success());
    drop(rt);
}
