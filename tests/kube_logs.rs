//! Pod logs against the test API server: follow, the previous container, a Deployment's pods
//! merged, resuming after the server goes away without repeating a line, 403s and pods
//! deleted mid-stream, and a million lines held in a bounded buffer.

mod kubesupport;

use kubesupport::{KubeServer, fast_tuning, fixtures};
use opsdeck::model::inspect::{LogRequest, LogSink, ObjectKind, ObjectRef};
use opsdeck::model::logs::{LogBuffer, LogLimits, LogState};
use opsdeck::sources::kube::logs::follow;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

fn sink(limits: LogLimits) -> LogSink {
    LogSink {
        buffer: Arc::new(Mutex::new(LogBuffer::new(limits))),
        wake: Arc::new(Notify::new()),
    }
}

fn request(kind: ObjectKind, name: &str, previous: bool) -> LogRequest {
    LogRequest {
        object: ObjectRef {
            kind,
            namespace: "shop".into(),
            name: name.into(),
        },
        container: None,
        previous,
    }
}

/// A stream of `request` into a fresh buffer, stopped when the handle is dropped.
async fn following(
    server: &KubeServer,
    request: LogRequest,
    limits: LogLimits,
) -> (LogSink, opsdeck::model::inspect::LogHandle) {
    let logs = sink(limits);
    let handle = follow(
        server.client().await,
        request,
        logs.clone(),
        (&fast_tuning()).into(),
    );
    (logs, handle)
}

fn texts(sink: &LogSink) -> Vec<String> {
    sink.read(|b| b.iter().map(|l| l.text.to_string()).collect())
}

/// Waits (up to 30 s) until the buffer satisfies `pred`.
async fn wait(sink: &LogSink, what: &str, pred: impl Fn(&LogBuffer) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let notified = sink.wake.notified();
        if sink.read(|b| pred(b)) {
            return;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let (state, n) = sink.read(|b| (b.state.clone(), b.len()));
            panic!("timed out waiting for {what}: state {state:?}, {n} lines");
        }
    }
}

fn log_requests(server: &KubeServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/log"))
        .map(|r| r.query)
        .collect()
}

async fn started() -> KubeServer {
    let server = KubeServer::start().await;
    fixtures::shop(&server);
    kubesupport::logs::shop_logs(&server);
    server
}

#[tokio::test]
async fn follow_shows_lines_as_the_container_writes_them() {
    let server = started().await;
    let (logs, _follow) = following(
        &server,
        request(ObjectKind::Pod, "user-a", false),
        LogLimits::default(),
    )
    .await;
    wait(&logs, "the three lines written so far", |b| b.len() == 3).await;
    server.write_log("shop", "user-a", "user", &["INFO GET /users/7 200 9ms"]);
    wait(&logs, "the new line", |b| b.len() == 4).await;
    assert_eq!(
        texts(&logs).last().map(String::as_str),
        Some("INFO GET /users/7 200 9ms")
    );
    let (state, containers, stamped) = logs.read(|b| {
        (
            b.state.clone(),
            b.containers.clone(),
            b.iter().all(|l| l.at.is_some()),
        )
    });
    assert_eq!(state, LogState::Following);
    assert_eq!(containers, ["user"]);
    assert!(stamped, "lines are read with their timestamps");
    let queries = log_requests(&server);
    assert_eq!(queries.len(), 1, "one stream, not re-fetched: {queries:?}");
    assert!(queries[0].contains("follow=true") && queries[0].contains("timestamps=true"));
    assert!(queries[0].contains("container=user"), "{queries:?}");
}

#[tokio::test]
async fn previous_reads_the_crashed_container_and_ends() {
    let server = started().await;
    let (logs, _follow) = following(
        &server,
        request(ObjectKind::Pod, "user-c", true),
        LogLimits::default(),
    )
    .await;
    wait(&logs, "the end of the previous log", |b| {
        matches!(b.state, LogState::Ended(_))
    })
    .await;
    assert_eq!(
        texts(&logs).last().map(String::as_str),
        Some("fatal error: runtime: out of memory")
    );
    assert_eq!(texts(&logs).len(), 4);
    let queries = log_requests(&server);
    assert!(queries[0].contains("previous=true") && !queries[0].contains("follow=true"));
    // A pod that never crashed has no previous container: the server's words come through.
    let (none, _f) = following(
        &server,
        request(ObjectKind::Pod, "user-b", true),
        LogLimits::default(),
    )
    .await;
    wait(&none, "the refusal", |b| {
        matches!(b.state, LogState::Failed(_))
    })
    .await;
    let state = none.read(|b| b.state.clone());
    assert!(
        matches!(&state, LogState::Failed(m) if m.contains("previous terminated container")),
        "{state:?}"
    );
}

#[tokio::test]
async fn a_server_hiccup_resumes_from_the_last_line_without_repeats_or_gaps() {
    let server = started().await;
    let lines: Vec<String> = (0..50).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    server.write_log("shop", "user-b", "user", &refs);
    let (logs, _follow) = following(
        &server,
        request(ObjectKind::Pod, "user-b", false),
        LogLimits::default(),
    )
    .await;
    wait(&logs, "the first 50 lines", |b| b.len() == 50).await;
    server.stop();
    wait(&logs, "the stream to notice", |b| {
        matches!(b.state, LogState::Reconnecting(_))
    })
    .await;
    // Written while the console could not read them: none may be lost.
    let more: Vec<String> = (50..100).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = more.iter().map(String::as_str).collect();
    server.write_log("shop", "user-b", "user", &refs);
    server.restart().await;
    wait(&logs, "all 100 lines", |b| b.len() >= 100).await;
    server.write_log("shop", "user-b", "user", &["after"]);
    wait(&logs, "the line after the resume", |b| {
        b.iter().any(|l| &*l.text == "after")
    })
    .await;
    let want: Vec<String> = (0..100)
        .map(|i| format!("line {i}"))
        .chain(["after".to_string()])
        .collect();
    assert_eq!(texts(&logs), want);
    let queries = log_requests(&server);
    assert!(
        queries.iter().skip(1).any(|q| q.contains("sinceTime=")),
        "the resume asks from the last line's time: {queries:?}"
    );
}

#[tokio::test]
async fn a_forbidden_log_names_the_verb_and_resource() {
    let server = started().await;
    server.forbid("pods/log");
    let (logs, _follow) = following(
        &server,
        request(ObjectKind::Pod, "user-a", false),
        LogLimits::default(),
    )
    .await;
    wait(&logs, "the refusal", |b| {
        matches!(b.state, LogState::Failed(_))
    })
    .await;
    let state = logs.read(|b| b.state.clone());
    let LogState::Failed(message) = state else {
        unreachable!()
    };
    assert!(
        message.contains("get") && message.contains("pods/log") && message.contains("shop/user-a"),
        "{message}"
    );
    assert!(logs.read(|b| b.is_empty()));
}

#[tokio::test]
async fn a_pod_deleted_mid_stream_ends_it_saying_so() {
    let server = started().await;
    let (logs, _follow) = following(
        &server,
        request(ObjectKind::Pod, "user-a", false),
        LogLimits::default(),
    )
    .await;
    wait(&logs, "the lines so far", |b| b.len() == 3).await;
    server.remove("pods", "shop", "user-a");
    wait(&logs, "the end", |b| matches!(b.state, LogState::Ended(_))).await;
    let state = logs.read(|b| b.state.clone());
    assert!(
        matches!(&state, LogState::Ended(m) if m.contains("shop/user-a is gone")),
        "{state:?}"
    );
    assert_eq!(texts(&logs).len(), 3, "what was read stays");
}

#[tokio::test]
async fn a_deployment_merges_its_pods_with_a_prefix() {
    let server = started().await;
    server.write_log("shop", "user-b", "user", &["INFO b serving"]);
    let (logs, _follow) = following(
        &server,
        request(ObjectKind::Deployment, "user", false),
        LogLimits::default(),
    )
    .await;
    // user-a's three, user-b's one, user-c's current one.
    wait(&logs, "every pod's lines", |b| b.len() == 5).await;
    let text = logs.read(|b| b.render(false));
    assert!(
        text.contains("[user-a] INFO GET /users/42 200 12ms\n"),
        "{text}"
    );
    assert!(text.contains("[user-b] INFO b serving\n"), "{text}");
    assert!(text.contains("[user-c] INFO starting"), "{text}");
    assert!(
        !text.contains("[admin"),
        "only the Deployment's pods: {text}"
    );
    server.write_log("shop", "user-b", "user", &["INFO b again"]);
    wait(&logs, "a later line of one pod", |b| b.len() == 6).await;
    // A rollout: a new pod appears while the view is open and joins the merge once.
    server.put(&fixtures::pod("shop", "user-d", "node-1", "user"));
    server.write_log("shop", "user-d", "user", &["INFO d new replica"]);
    wait(&logs, "the new pod's line", |b| b.len() == 7).await;
    let text = logs.read(|b| b.render(false));
    assert!(text.contains("[user-d] INFO d new replica\n"), "{text}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        log_requests(&server)
            .iter()
            .filter(|q| q.contains("follow=true") && !q.contains("sinceTime"))
            .count(),
        4,
        "one stream per pod, none started twice (a resume carries sinceTime): {:?}",
        log_requests(&server)
    );
}

#[tokio::test]
async fn a_million_lines_stay_within_the_buffer_limits() {
    let server = started().await;
    server.flood_log("shop", "user-b", "user", 1_000_000);
    let limits = LogLimits {
        max_lines: 20_000,
        max_bytes: 1 << 20,
    };
    let (logs, _follow) =
        following(&server, request(ObjectKind::Pod, "user-b", false), limits).await;
    wait(&logs, "the millionth line", |b| b.total() == 1_000_000).await;
    logs.read(|b| {
        assert!(b.bytes() <= limits.max_bytes, "{} bytes", b.bytes());
        assert!(
            b.len() <= limits.max_lines && b.len() > 1000,
            "{} lines",
            b.len()
        );
        assert_eq!(b.dropped().0, 1_000_000 - b.len() as u64);
        assert_eq!(b.iter().last().map(|l| &*l.text), Some("flood 999999"));
        let first = b.iter().next().map(|l| l.text.to_string());
        assert_eq!(first, Some(format!("flood {}", 1_000_000 - b.len())));
    });
}
