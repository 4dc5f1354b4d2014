//! Real Alertmanagers (Debian's prometheus-alertmanager) on loopback ports for the alarm
//! tests, and a loopback server replaying one recorded AWS answer.
#![allow(dead_code)] // each test binary uses a different part of this module

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use opsdeck::sources::aws::{Aws, AwsConfig, Overrides};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn aws_config(profile: &str, regions: &[&str]) -> AwsConfig {
    AwsConfig {
        profile: Some(profile.into()),
        regions: regions.iter().map(|r| r.to_string()).collect(),
    }
}

/// The console's AWS factory pointed at this test's endpoint and credentials file (what
/// `AWS_ENDPOINT_URL` and ~/.aws do for the real console).
pub async fn aws(url: &str, credentials: &Path, cfg: &AwsConfig) -> Aws {
    let overrides = Overrides {
        endpoint_url: Some(url.to_string()),
        profile_files: Some(
            EnvConfigFiles::builder()
                .with_file(EnvConfigFileKind::Credentials, credentials)
                .build(),
        ),
    };
    Aws::load_from(cfg, overrides)
        .await
        .expect("regions are configured")
}

pub struct Alertmanager {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Alertmanager {
    /// Starts one with its own storage directory, HA gossip off (`--cluster.listen-address=`
    /// empty, so nothing listens beyond the API port) and a `null` receiver.
    pub fn start() -> Alertmanager {
        let dir = tempfile::Builder::new()
            .prefix("opsdeck-am-")
            .tempdir()
            .expect("temp dir");
        std::fs::write(
            dir.path().join("am.yml"),
            "route: {receiver: 'null', group_by: [alertname, service], group_wait: 1s, group_interval: 1s}\nreceivers: [{name: 'null'}]\n",
        )
        .unwrap();
        let mut am = Alertmanager {
            child: None,
            port: free_port(),
            url: String::new(),
            dir,
        };
        am.url = format!("http://127.0.0.1:{}", am.port);
        am.run();
        am
    }

    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("am.log")).expect("log file");
        let child = Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("am.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start prometheus-alertmanager: {e} (scripts/test-services installs it)"
                )
            });
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if ready(self.port) {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log =
                    std::fs::read_to_string(self.dir.path().join("am.log")).unwrap_or_default();
                panic!("alertmanager exited ({status}):\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "alertmanager not ready in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it, as an outage would; `restart` brings it back on the same port and storage.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// POST /api/v2/alerts with this JSON array.
    pub fn post_alerts(&self, json: &str) {
        let out = http("POST", self.port, "/api/v2/alerts", Some(json));
        assert!(out.starts_with("HTTP/1.1 200"), "posting alerts: {out}");
    }

    /// GET of an API path; the body.
    pub fn get(&self, path: &str) -> String {
        let out = http("GET", self.port, path, None);
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    pub fn config_entry(&self, name: &str) -> String {
        format!(
            "[[alertmanagers]]\nname = \"{name}\"\nurl = \"{}\"\n",
            self.url
        )
    }
}

fn ready(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        && http("GET", port, "/-/ready", None).starts_with("HTTP/1.1 200")
}

/// A plain HTTP/1.1 exchange, enough for Alertmanager's API (the tests need no client crate).
fn http(method: &str, port: u16, path: &str, body: Option<&str>) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// An alert as Alertmanager takes it, firing for the next hour.
pub fn alert(name: &str, labels: &[(&str, &str)], summary: &str) -> String {
    let now = jiff::Timestamp::now();
    let mut all = vec![format!("\"alertname\":\"{name}\"")];
    all.extend(labels.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")));
    format!(
        "{{\"labels\":{{{}}},\"annotations\":{{\"summary\":\"{summary}\",\"runbook_url\":\"https://runbooks.test/{name}\"}},\"startsAt\":\"{}\",\"endsAt\":\"{}\",\"generatorURL\":\"http://prometheus.test/graph\"}}",
        all.join(","),
        now - jiff::SignedDuration::from_mins(3),
        now + jiff::SignedDuration::from_hours(1)
    )
}

/// Forwards every request to `upstream` (moto) except those whose form body names one of
/// `recorded`'s actions, which get that action's recorded AWS answer: for calls moto has no
/// handler for. Keeps the bodies of the requests it answered itself.
pub struct Proxy {
    pub url: String,
    pub answered: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Proxy {
    pub fn start(upstream: &str, recorded: &'static [(&'static str, &'static str)]) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = answered.clone();
        let thread = std::thread::spawn(move || {
            use std::io::Write;
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(request) = read_request(&mut s) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&request).to_string();
                let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
                let hit = recorded
                    .iter()
                    .find(|(action, _)| body.contains(&format!("Action={action}&")));
                match hit {
                    Some((_, answer)) => {
                        log.lock().unwrap().push(body.to_string());
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        );
                        let _ = s.write_all(reply.as_bytes());
                    }
                    None => forward(&upstream, &text, &mut s),
                }
            }
        });
        Proxy {
            url,
            answered,
            _thread: thread,
        }
    }
}

/// Forwards every request to `upstream` (moto) but answers the actions in `script` with
/// their recorded AWS answers (status, body), in order, one per request: for the answers
/// AWS gives that moto never does. An action is the Query protocol's `Action=` (answered
/// as XML) or the JSON protocol's `X-Amz-Target` operation (answered as AWS JSON 1.1). An
/// action whose answers ran out goes to moto. Keeps the action of every request, when it
/// came, and the bodies of the requests it answered itself.
pub struct Scripted {
    pub url: String,
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<(String, Instant)>>>,
    pub answered: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    script: Script,
    _thread: std::thread::JoinHandle<()>,
}

type Script = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Answer>>>;
/// An action, the status line and the body it is answered with.
pub type Answer = (&'static str, &'static str, String);

/// The operation of a JSON-protocol request (`X-Amz-Target: AWSWAF_20190729.GetWebACL`).
fn json_target(head: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let (_, op) = v.trim().rsplit_once('.')?;
        k.eq_ignore_ascii_case("x-amz-target")
            .then(|| op.to_string())
    })
}

impl Scripted {
    pub fn start(upstream: &str, script: Vec<Answer>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let bodies = answered.clone();
        let script: Script = std::sync::Arc::new(std::sync::Mutex::new(script.into()));
        let answers = script.clone();
        let thread = std::thread::spawn(move || {
            use std::io::Write;
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(request) = read_request(&mut s) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&request).to_string();
                let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                let target = json_target(head);
                let content_type = match target {
                    Some(_) => "application/x-amz-json-1.1",
                    None => "text/xml",
                };
                let action = target.unwrap_or_else(|| {
                    body.split('&')
                        .find_map(|kv| kv.strip_prefix("Action="))
                        .unwrap_or("")
                        .to_string()
                });
                log.lock().unwrap().push((action.clone(), Instant::now()));
                let scripted = {
                    let mut answers = answers.lock().unwrap();
                    let at = answers.iter().position(|(a, _, _)| *a == action);
                    at.and_then(|at| answers.remove(at))
                };
                match scripted {
                    Some((_, status, answer)) => {
                        bodies.lock().unwrap().push(body.to_string());
                        let reply = format!(
                            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: 7a62c49f-347e-4fc4-9331-6e8eEXAMPLE\r\nConnection: close\r\n\r\n{answer}",
                            answer.len()
                        );
                        let _ = s.write_all(reply.as_bytes());
                    }
                    None => forward(&upstream, &text, &mut s),
                }
            }
        });
        Scripted {
            url,
            seen,
            answered,
            script,
            _thread: thread,
        }
    }

    /// Adds answers to the script mid-run: an outage or a refusal from now on.
    pub fn push(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }

    /// The actions asked so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// An IAM (Query protocol) error as AWS sends it.
pub fn iam_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n  <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>\n</ErrorResponse>\n"
    )
}

/// Passes one request on to `upstream` and its answer back. One request per connection:
/// the client reconnects for the next.
pub fn forward(upstream: &str, request: &str, client: &mut std::net::TcpStream) {
    use std::io::{Read, Write};
    let forwarded = request.replacen("\r\n", "\r\nConnection: close\r\n", 1);
    let Ok(mut up) = std::net::TcpStream::connect(upstream) else {
        return;
    };
    let _ = up.write_all(forwarded.as_bytes());
    let mut reply = Vec::new();
    let _ = up.read_to_end(&mut reply);
    let _ = client.write_all(&reply);
}

/// One HTTP/1.1 request: the head, then as many body bytes as Content-Length says.
pub fn read_request(s: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= head_end + 4 + length {
                return Some(buf);
            }
        }
    }
}

/// Serves one recorded AWS answer (status, content type, body) to every request on a
/// loopback port, counting requests: for a call moto cannot answer the way AWS does.
pub struct Recorded {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The head of the last request, to see what was sent.
    pub last: std::sync::Arc<std::sync::Mutex<String>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Recorded {
    pub fn serve(status: &'static str, content_type: &'static str, body: &'static str) -> Recorded {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        let last = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen = last.clone();
        let thread = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                // Read the head and whatever body arrives with it; the answer never depends on it.
                let mut buf = [0u8; 65536];
                let n = s.read(&mut buf).unwrap_or(0);
                *seen.lock().unwrap() = String::from_utf8_lossy(&buf[..n]).into_owned();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: 5b0a6ab0-1f1e-4c58-9a57-2f9c8b6f3c11\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes());
            }
        });
        Recorded {
            url,
            requests,
            last,
            _thread: thread,
        }
    }
}

/// moto in a Python process of its own, with a composite alarm seeded in-process (moto has
/// no PutCompositeAlarm): `checkout-degraded` = `ALARM("checkout-5xx-high")`, both firing.
pub struct CompositeMoto {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub credentials_file: std::path::PathBuf,
}

impl Drop for CompositeMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl CompositeMoto {
    pub fn start(region: &str) -> CompositeMoto {
        use std::io::BufRead;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/alarmsupport/composite_moto.py"
        );
        let mut child = Command::new("python3")
            .args([script, region])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto (scripts/test-services installs it)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let port = line
            .strip_prefix("PORT ")
            .map(str::trim)
            .unwrap_or_else(|| panic!("composite_moto.py did not start: {line:?}"))
            .to_string();
        let dir = tempfile::tempdir().expect("temp dir");
        let credentials_file = dir.path().join("credentials");
        std::fs::write(
            &credentials_file,
            "[opsdeck-test]\naws_access_key_id = AKIAOPSDECKTEST0001\naws_secret_access_key = composite\n",
        )
        .unwrap();
        CompositeMoto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            credentials_file,
        }
    }
}
