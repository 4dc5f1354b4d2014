//! Shared by the database tests: ports, commands that must succeed, config building.
#![allow(dead_code)]

use opsdeck::sources::db::DbConfig;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The password opsdeck logs in with, and the replication login's: distinctive strings the
/// leak checks search for in everything opsdeck prints.
pub const ADMIN_PASSWORD: &str = "Adm1n-S3cret-9f2c71";
pub const REPL_PASSWORD: &str = "R3pl-S3cret-4be0d9";

/// A port nobody listens on right now. The tiny race with other tests is covered by
/// the servers failing loudly if the port was taken in between.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
    l.local_addr().expect("local address").port()
}

/// Runs a command and panics with its output if it fails: a missing server binary must
/// fail the test, never skip it.
pub fn run(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e} (run scripts/test-services)"));
    if !out.status.success() {
        panic!(
            "{shown} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn require(path: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the database servers with scripts/test-services"
    );
}

/// Polls `check` every 50 ms until it is true or `limit` passes.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not true within {limit:?}");
}

/// A `[[databases]]` entry for the servers a test started.
pub fn config(
    name: &str,
    kind: &str,
    user: &str,
    password_file: &Path,
    members: &[(String, u16)],
    extra: &str,
) -> DbConfig {
    let text = config_text(name, kind, user, password_file, members, extra);
    toml::from_str(&text).unwrap_or_else(|e| panic!("test config: {e}\n{text}"))
}

/// The body of a `[[databases]]` table for the test servers.
pub fn config_text(
    name: &str,
    kind: &str,
    user: &str,
    password_file: &Path,
    members: &[(String, u16)],
    extra: &str,
) -> String {
    let members: Vec<String> = members
        .iter()
        .map(|(n, port)| format!("{{ name = \"{n}\", address = \"127.0.0.1:{port}\" }}"))
        .collect();
    // The test servers speak plain TCP unless a test turns TLS on.
    let tls = if extra.contains("tls =") {
        ""
    } else {
        "tls = \"disable\"\n"
    };
    format!(
        "name = \"{name}\"\nkind = \"{kind}\"\nuser = \"{user}\"\npassword_file = \"{}\"\n{tls}members = [{}]\n{extra}\n",
        password_file.display(),
        members.join(", ")
    )
}

/// Asserts that none of the test passwords occurs in `text`.
pub fn assert_no_secret(what: &str, text: &str) {
    for s in [ADMIN_PASSWORD, REPL_PASSWORD] {
        assert!(!text.contains(s), "{what} leaks a password: {text}");
    }
}

/// Everything opsdeck logs in this test binary, at every level. A global subscriber,
/// because a per-test (thread-local) one misses events whose callsites another test thread
/// hit first.
pub fn captured_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the database tests");
        logs
    })
    .clone()
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = self.0.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
