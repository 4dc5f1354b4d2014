//! The real binary's log view on a live (test) API server: `l` on the crash-looping pod,
//! `p` for the container that crashed, `/` search, `w` writing the lines to a file whose
//! path goes on the open incident's timeline; Enter's describe-style detail and `y` YAML.

mod kubesupport;
mod support;

use kubesupport::{KubeServer, fixtures};
use support::Console;

/// The console live on a test server holding the `shop` fixtures and their logs; the runtime
/// serves the API server for as long as it is kept.
fn shop_console(rows: u16) -> (tokio::runtime::Runtime, KubeServer, Console) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(KubeServer::start());
    fixtures::shop(&server);
    kubesupport::logs::shop_logs(&server);
    let kubeconfig = server.kubeconfig();
    let c = Console::builder()
        .arg("--context")
        .arg("test")
        .env("KUBECONFIG", kubeconfig.to_str().unwrap())
        .size(120, rows)
        .start();
    c.wait_for("LIVE");
    (rt, server, c)
}

#[test]
fn logs_of_a_crashing_pod_previous_search_and_write_to_the_incident() {
    let (rt, server, mut c) = shop_console(30);
    c.press(":incident new\r");
    c.wait_for("open incident");
    c.press("User service crash loop\r\r\r\r");
    c.wait_for("SLA OK");
    c.press("2");
    c.wait_for("CrashLoopBackOff");
    c.press("/user-c\r");
    c.wait_until("only user-c listed", |s| !s.contains("user-a"));
    c.press("l");
    c.wait_for("logs pod shop/user-c");
    c.wait_for("● following");
    c.wait_for("INFO starting user service 1.4 on :8080");
    // Lines the container writes now show up in the open view.
    server.write_log("shop", "user-c", "user", &["INFO ready after restart 10"]);
    c.wait_for("INFO ready after restart 10");

    c.press("p");
    c.wait_for("PREVIOUS container");
    let screen = c.wait_for("fatal error: runtime: out of memory");
    assert!(screen.contains("WARN heap at 480Mi of 512Mi"), "{screen}");
    assert!(
        !screen.contains("ready after restart"),
        "only the crashed container's lines:\n{screen}"
    );
    c.press("/heap\r");
    c.wait_for("/heap");
    c.press("w");
    let said = c.wait_for("4 lines of pod shop/user-c");
    let dir = c.data_dir().join("logs");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}\n{said}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("pod-shop-user-c-previous-"), "{name}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains(" fatal error: runtime: out of memory\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4, "{text}");

    c.press("q");
    c.press("9");
    c.wait_for("logs of pod shop/user-c");

    c.press("\x03");
    assert!(c.wait_exit().success());
    drop(rt);
}

#[test]
fn describe_shows_the_last_termination_and_events_and_y_the_yaml() {
    let (rt, _server, mut c) = shop_console(40);
    c.press("2");
    c.wait_for("CrashLoopBackOff");
    c.press("/user-c\r");
    c.wait_until("only user-c listed", |s| !s.contains("user-a"));
    c.press("\r");
    let screen = c.wait_for("Terminated: OOMKilled, exit code 137");
    assert!(screen.contains("Waiting: CrashLoopBackOff"), "{screen}");
    assert!(screen.contains("cpu 250m, memory 256Mi"), "{screen}");
    assert!(
        screen.contains("BackOff ×3: BackOff for user-c"),
        "{screen}"
    );
    c.press("y");
    let yaml = c.wait_for("pod shop/user-c as YAML");
    assert!(yaml.contains("name: user-c"), "{yaml}");
    assert!(!yaml.contains("managedFields"), "{yaml}");
    c.press("\x03");
    assert!(c.wait_exit().success());
    drop(rt);
}
