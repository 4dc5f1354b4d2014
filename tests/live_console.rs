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

/// The pod tab's count in the tab line (`Pods 3000`), if the screen shows one.
fn pods_shown(screen: &str) -> Option<usize> {
    let at = screen.find("Pods ")? + "Pods ".len();
    let digits: String = screen[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn a_slow_first_list_shows_rows_at_once_and_a_relist_never_blanks_the_table() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(KubeServer::start());
    fixtures::large(&server, 3, 3000);
    // Six more pages after the first, 400 ms each: the list takes 2.4 s.
    server.delay_pages(std::time::Duration::from_millis(400));
    let kubeconfig = server.kubeconfig();
    let mut c = Console::builder()
        .arg("--context")
        .arg("test")
        .env("KUBECONFIG", kubeconfig.to_str().unwrap())
        .size(80, 24)
        .start();
    c.wait_for("LIVE");
    c.press("2");
    let partial = c.wait_until("pod rows while the list is still arriving", |s| {
        s.contains("loading ") && s.contains("of ~3,000") && s.contains("svc-")
    });
    assert!(
        server.listed_at("pods").is_none(),
        "rows were on screen before the server finished the list:\n{partial}"
    );
    let full = c.wait_until("the whole list", |s| {
        pods_shown(s) == Some(3000) && !s.contains("loading")
    });
    assert!(full.contains("svc-"), "{full}");

    // A 410 makes the watcher list again, page by page; the screen keeps the old table.
    rt.block_on(async {
        server.compact();
        server.put(&fixtures::pod("ns-0", "relisted-0", "ip-10-0-0-0", "svc-0"));
    });
    let started = std::time::Instant::now();
    loop {
        let screen = c.screen();
        let shown = pods_shown(&screen);
        assert!(
            matches!(shown, Some(3000 | 3001)) && !screen.contains("loading"),
            "the re-list showed a blank or partial table:\n{screen}"
        );
        if shown == Some(3001) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the re-list never completed:\n{screen}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    c.press("\x03");
    assert!(c.wait_exit().success());
    drop(rt);
}
