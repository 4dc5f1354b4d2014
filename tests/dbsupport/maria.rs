//! A real MariaDB 10.11 primary with GTID replicas, in a temp dir on loopback ports.
//! Each server is a child process: dropped (or the test panics) → killed.
#![allow(dead_code)]

use super::certs::Certs;
use super::common::{ADMIN_PASSWORD, REPL_PASSWORD, free_port, require, run};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "/usr/sbin/mariadbd";

pub struct MyNode {
    pub name: String,
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    /// `--ssl-cert`, `--ssl-key`, `--ssl-ca` when the cluster serves TLS.
    tls_args: Vec<String>,
}

pub struct MyCluster {
    pub nodes: Vec<MyNode>,
    pub root: tempfile::TempDir,
    pub password_file: PathBuf,
    /// With TLS: the CA the servers' certificate chains to, and another one.
    pub certs: Option<Certs>,
}

impl MyNode {
    fn socket(&self) -> PathBuf {
        self.dir.with_extension("sock")
    }

    fn start(&mut self, server_id: usize, read_only: bool) {
        let err = self.dir.with_extension("err");
        let mut cmd = Command::new(SERVER);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.dir.display()))
            .arg("--user=root")
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--pid-file={}",
                self.dir.with_extension("pid").display()
            ))
            .arg(format!("--log-error={}", err.display()))
            .arg(format!(
                "--tmpdir={}",
                self.dir.with_extension("tmp").display()
            ))
            .arg(format!("--server-id={server_id}"))
            .arg("--log-bin=mysql-bin")
            .arg("--relay-log=relay-bin")
            .arg("--log-slave-updates")
            .arg("--gtid-strict-mode=ON")
            // The packaged install has anonymous users that would shadow repl@127.0.0.1.
            .arg("--skip-name-resolve")
            .arg("--innodb-buffer-pool-size=32M")
            .arg("--innodb-flush-log-at-trx-commit=2")
            .arg("--sync-binlog=0")
            .arg(format!(
                "--read-only={}",
                if read_only { "ON" } else { "OFF" }
            ))
            .args(&self.tls_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {SERVER}: {e} (run scripts/test-services)"));
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let ok = Command::new("mariadb-admin")
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket().display()))
                .args(["-uroot", "ping"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "{} exited ({status}):\n{}",
                    self.name,
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{} not up in 60 s:\n{}",
                self.name,
                std::fs::read_to_string(&err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL, like a crashed host.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// As root over the server's socket, for setting up.
    pub fn root_sql(&self, sql: &str) -> String {
        run(Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-uroot", "-N", "-B", "-e", sql]))
    }

    /// As the opsdeck login over TCP, like the console connects.
    pub async fn conn(&self) -> Conn {
        let opts = OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some("opsdeck"))
            .pass(Some(ADMIN_PASSWORD))
            .prefer_socket(false);
        Conn::new(opts)
            .await
            .unwrap_or_else(|e| panic!("connect to {} on {}: {e}", self.name, self.port))
    }

    pub async fn rows(&self, sql: &str) -> Vec<Row> {
        let mut c = self.conn().await;
        let rows = c
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name));
        let _ = c.disconnect().await;
        rows
    }

    /// The first column of the first row as text (`None` for NULL or no row).
    pub async fn value(&self, sql: &str) -> Option<String> {
        let rows = self.rows(sql).await;
        let row = rows.first()?;
        match row.as_ref(0)? {
            mysql_async::Value::NULL => None,
            mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            other => Some(other.as_sql(true)),
        }
    }

    /// A column of `SHOW REPLICA STATUS` by name.
    pub async fn replica_status(&self, column: &str) -> Option<String> {
        let rows = self.rows("SHOW REPLICA STATUS").await;
        let row = rows.first()?;
        let idx = row
            .columns_ref()
            .iter()
            .position(|c| c.name_str() == column)?;
        match row.as_ref(idx)? {
            mysql_async::Value::NULL => None,
            mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            other => Some(other.as_sql(true)),
        }
    }

    pub async fn exec(&self, sql: &str) {
        let mut c = self.conn().await;
        c.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name));
        let _ = c.disconnect().await;
    }
}

impl Drop for MyCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    run(Command::new("cp").arg("-a").arg(from).arg(to));
}

impl MyCluster {
    /// `my0` primary and `my1`…`myN` GTID replicas (`MASTER_USE_GTID=slave_pos`,
    /// `MASTER_CONNECT_RETRY=1`), all with binary logs so any of them can be promoted.
    /// A primary with 100 committed rows in `test.orders`, replicated to every replica.
    pub async fn with_orders(replicas: usize) -> MyCluster {
        let c = MyCluster::start(replicas).await;
        let primary = c.node("my0");
        primary
            .exec("CREATE TABLE test.orders (id VARCHAR(20) PRIMARY KEY)")
            .await;
        primary
            .exec("INSERT INTO test.orders SELECT seq FROM test.seq_1_to_100")
            .await;
        for r in 1..=replicas {
            c.caught_up("my0", &format!("my{r}")).await;
        }
        c
    }

    pub async fn start(replicas: usize) -> MyCluster {
        MyCluster::start_with(replicas, false).await
    }

    /// With `tls`, every server has a certificate for 127.0.0.1 from a CA made for the test.
    pub async fn start_with(replicas: usize, tls: bool) -> MyCluster {
        require(SERVER);
        let root = tempfile::Builder::new()
            .prefix("opsdeck-my-")
            .tempdir()
            .expect("temp dir");
        let password_file = root.path().join("admin-password");
        std::fs::write(&password_file, ADMIN_PASSWORD).unwrap();
        let template = root.path().join("template");
        let tmp = root.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        // Servers sharing /tmp collide on temporary table names: each gets its own.
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", template.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ]));
        let certs = tls.then(|| Certs::new(root.path()));
        let tls_args: Vec<String> = certs
            .iter()
            .flat_map(|c| {
                [
                    format!("--ssl-cert={}", c.cert.display()),
                    format!("--ssl-key={}", c.key.display()),
                    format!("--ssl-ca={}", c.ca.display()),
                ]
            })
            .collect();
        let mut cluster = MyCluster {
            nodes: Vec::new(),
            root,
            password_file,
            certs,
        };
        for i in 0..=replicas {
            let name = format!("my{i}");
            let dir = cluster.root.path().join(&name);
            copy_dir(&template, &dir);
            std::fs::create_dir(dir.with_extension("tmp")).unwrap();
            let mut node = MyNode {
                name,
                port: free_port(),
                dir,
                child: None,
                tls_args: tls_args.clone(),
            };
            node.start(i + 1, i > 0);
            cluster.nodes.push(node);
        }
        let primary_port = cluster.nodes[0].port;
        cluster.nodes[0].root_sql(&format!(
            "CREATE USER 'opsdeck'@'127.0.0.1' IDENTIFIED BY '{ADMIN_PASSWORD}'; \
             GRANT ALL ON *.* TO 'opsdeck'@'127.0.0.1' WITH GRANT OPTION; \
             CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '{REPL_PASSWORD}'; \
             GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'; \
             CREATE DATABASE test;"
        ));
        for node in &cluster.nodes[1..] {
            node.root_sql(&format!(
                "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {primary_port}, \
                 MASTER_USER = 'repl', MASTER_PASSWORD = '{REPL_PASSWORD}', \
                 MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1; START SLAVE;"
            ));
        }
        // The logins reach the replicas through replication.
        let head = cluster.nodes[0].root_sql("SELECT @@gtid_binlog_pos");
        for node in &cluster.nodes[1..] {
            let waited = node.root_sql(&format!("SELECT MASTER_GTID_WAIT('{}', 30)", head.trim()));
            assert_eq!(
                waited.trim(),
                "0",
                "{} did not catch up with the primary",
                node.name
            );
        }
        cluster
    }

    pub fn members(&self) -> Vec<(String, u16)> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.port))
            .collect()
    }

    pub fn node(&self, name: &str) -> &MyNode {
        self.nodes.iter().find(|n| n.name == name).expect("node")
    }

    pub fn node_mut(&mut self, name: &str) -> &mut MyNode {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .expect("node")
    }

    /// Waits until `replica` has applied everything the primary `from` has written.
    pub async fn caught_up(&self, from: &str, replica: &str) {
        let head = self
            .node(from)
            .value("SELECT @@gtid_binlog_pos")
            .await
            .unwrap_or_default();
        let waited = self
            .node(replica)
            .value(&format!("SELECT MASTER_GTID_WAIT('{head}', 20)"))
            .await;
        assert_eq!(
            waited.as_deref(),
            Some("0"),
            "{replica} did not reach {head}"
        );
    }
}
