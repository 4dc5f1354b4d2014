//! moto's server standing in for the AWS APIs (RDS, CloudWatch) on a loopback port.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The fake account's secret key: the leak checks look for it.
pub const AWS_SECRET: &str = "Moto-S3cret-Key-5c3e7a";

pub struct Moto {
    child: Child,
    serial: bool,
    log: PathBuf,
    pub url: String,
    pub root: tempfile::TempDir,
    pub credentials_file: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's own server, but answering one request at a time. `moto_server` is threaded, and
/// moto 5's S3 checks `If-None-Match: *` and writes the object as two steps without a lock,
/// so two consoles claiming one key at once can both win — which real S3 never lets happen.
/// Served one at a time, the check and the write are one step again, as on S3.
const SERIAL: &str = "import sys
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)
";

fn server(serial: bool, port: &str) -> Command {
    let mut cmd = if serial {
        let mut c = Command::new("python3");
        c.args(["-c", SERIAL, "127.0.0.1", port]);
        c
    } else {
        let mut c = Command::new("moto_server");
        c.args(["-H", "127.0.0.1", "-p", port]);
        c
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    cmd
}

impl Moto {
    /// Starts `moto_server` on an ephemeral port and reads the port from its banner.
    pub fn start() -> Moto {
        Moto::launch(false)
    }

    /// Like [`Moto::start`], one request at a time: for S3's conditional writes under
    /// concurrent writers (see [`SERIAL`]).
    pub fn start_serial() -> Moto {
        Moto::launch(true)
    }

    fn launch(serial: bool) -> Moto {
        let root = tempfile::Builder::new()
            .prefix("opsdeck-moto-")
            .tempdir()
            .expect("temp dir");
        let log = root.path().join("moto.log");
        let child = server(serial, "0")
            .stderr(std::fs::File::create(&log).expect("moto log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server: {e} (install it with scripts/test-services)")
            });
        let credentials_file = root.path().join("credentials");
        std::fs::write(
            &credentials_file,
            format!(
                "[opsdeck-test]\naws_access_key_id = AKIAOPSDECKTEST0001\naws_secret_access_key = {AWS_SECRET}\n"
            ),
        )
        .unwrap();
        let mut moto = Moto {
            child,
            serial,
            log: log.clone(),
            url: String::new(),
            root,
            credentials_file,
        };
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("Running on http://127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                moto.url = format!("http://127.0.0.1:{port}");
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}):\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not start in 60 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server, as an outage would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts moto again on the same port after [`Moto::stop`], as an endpoint coming back
    /// from an outage. moto keeps nothing across a restart: the caller seeds it again.
    pub fn restart(&mut self) {
        self.stop();
        let port = self.url.rsplit(':').next().unwrap_or_default().to_string();
        // The old banner must not be taken for the new one.
        let log = std::fs::File::create(&self.log).expect("moto log file");
        self.child = server(self.serial, &port)
            .stderr(log)
            .spawn()
            .expect("moto_server");
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains("Running on http://127.0.0.1:") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited ({status}):\n{text}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not restart in 60 s:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many requests moto answered with `status` so far, from its request log.
    pub fn answered(&self, status: u16) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains(&format!("HTTP/1.1\" {status} ")))
            .count()
    }
}
