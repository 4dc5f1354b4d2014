//! A real nginx with ModSecurity 3 and the OWASP CRS in blocking mode (Debian's
//! libnginx-mod-http-modsecurity and modsecurity-crs, installed by scripts/test-services),
//! on 127.0.0.1 at an ephemeral port, everything in its own temp dir: its nginx.conf, pid,
//! error log, temp paths, the JSON audit log and the deny list opsdeck writes. Stopped when
//! dropped.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const NGINX: &str = "/usr/sbin/nginx";

pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    pub fn start() -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for sub in ["logs", "tmp", "html"] {
            std::fs::create_dir_all(p.join(sub)).unwrap();
        }
        std::fs::write(p.join("html/index.html"), "shop\n").unwrap();
        std::fs::write(p.join("deny.conf"), "").unwrap();
        let port = free_port();
        let d = p.display();
        std::fs::write(
            p.join("nginx.conf"),
            format!(
                "load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;
user root; worker_processes 1; pid {d}/nginx.pid; error_log {d}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{ access_log {d}/logs/access.log;
  client_body_temp_path {d}/tmp/body; proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fcgi; uwsgi_temp_path {d}/tmp/uwsgi; scgi_temp_path {d}/tmp/scgi;
  server {{ listen 127.0.0.1:{port}; modsecurity on; modsecurity_rules_file {d}/modsec-main.conf;
    include {d}/deny.conf;
    location / {{ root {d}/html; }} }} }}
"
            ),
        )
        .unwrap();
        // Debian's owasp-crs.load uses IncludeOptional, which libmodsecurity3 refuses.
        std::fs::write(
            p.join("modsec-main.conf"),
            format!(
                "Include /etc/nginx/modsecurity.conf
SecRuleEngine On
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus \"^(?:5|4(?!04))\"
SecAuditLogParts ABIJDEFHZ
SecAuditLogType Serial
SecAuditLogFormat JSON
SecAuditLog {d}/logs/modsec_audit.json
Include /etc/modsecurity/crs/crs-setup.conf
Include /etc/modsecurity/crs/REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf
Include /usr/share/modsecurity-crs/rules/*.conf
Include /etc/modsecurity/crs/RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf
"
            ),
        )
        .unwrap();
        let nginx = Nginx { dir, port };
        nginx.run_master();
        nginx
    }

    fn run_master(&self) {
        let out = Command::new(NGINX).args(self.args()).output().unwrap();
        assert!(
            out.status.success(),
            "nginx did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nginx never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn audit_log(&self) -> PathBuf {
        self.path("logs/modsec_audit.json")
    }

    pub fn deny_file(&self) -> PathBuf {
        self.path("deny.conf")
    }

    /// `-p PREFIX -c PREFIX/nginx.conf`, the start of every nginx command for this one.
    pub fn args(&self) -> Vec<String> {
        let p = self.dir.path().display().to_string();
        vec![
            "-p".into(),
            p.clone(),
            "-c".into(),
            format!("{p}/nginx.conf"),
        ]
    }

    /// The argv opsdeck's `modsecurity_reload` runs for this nginx.
    pub fn reload_argv(&self) -> Vec<String> {
        let mut argv = vec![NGINX.to_string()];
        argv.extend(self.args());
        argv.extend(["-s".to_string(), "reload".to_string()]);
        argv
    }

    pub fn signal(&self, what: &str) {
        let mut args = self.args();
        args.extend(["-s".into(), what.into()]);
        let out = Command::new(NGINX).args(args).output().unwrap();
        assert!(out.status.success(), "nginx -s {what}: {out:?}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The status nginx answers `path_and_query` with, asked from `from` (a loopback
    /// address such as 127.0.0.2 plays the attacker: the client socket is bound to it).
    /// `Host: localhost`, since CRS scores a numeric Host header.
    pub async fn status_from(&self, from: IpAddr, path_and_query: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = match from {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let mut stream = socket.connect(addr).await.unwrap();
        let ask = format!(
            "GET {path_and_query} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: opsdeck-test\r\n\r\n"
        );
        stream.write_all(ask.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("nginx answers within 10 s")
            .ok();
        let answer = String::from_utf8_lossy(&answer);
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"))
    }

    pub async fn status(&self, path_and_query: &str) -> u16 {
        self.status_from([127, 0, 0, 1].into(), path_and_query)
            .await
    }

    /// Stops the master and starts it again on the same files: the only thing that makes
    /// libmodsecurity open its audit log anew.
    pub fn restart(&self) {
        self.stop();
        self.run_master();
    }

    fn stop(&self) {
        let pid_file = self.path("nginx.pid");
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            return;
        };
        Command::new("kill").arg(pid.trim()).status().ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Lines of the audit log, for tests that count what nginx wrote.
pub fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}
