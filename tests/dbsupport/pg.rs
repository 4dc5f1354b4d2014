//! A real PostgreSQL 15 primary with streaming replicas, in a temp dir on loopback ports,
//! run as the `postgres` user (PostgreSQL refuses root). Dropped → every server stopped.
#![allow(dead_code)]

use super::certs::Certs;
use super::common::{ADMIN_PASSWORD, REPL_PASSWORD, eventually, free_port, require, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PgNode {
    pub name: String,
    pub port: u16,
    pub dir: PathBuf,
    running: bool,
}

pub struct PgCluster {
    pub nodes: Vec<PgNode>,
    pub root: tempfile::TempDir,
    pub password_file: PathBuf,
    /// With `Setup::tls`: the CA the servers' certificate chains to, and another one.
    pub certs: Option<Certs>,
}

/// What a test needs beyond plain streaming replication.
#[derive(Default, Clone, Copy)]
pub struct Setup {
    /// `ssl = on` with a certificate for 127.0.0.1 from a CA made for the test.
    pub tls: bool,
    /// `wal_log_hints` and `full_page_writes`, which pg_rewind needs, so an old primary
    /// can rejoin as a replica; `wal_keep_size` so it still has the WAL back to the last
    /// checkpoint both servers share.
    pub rewindable: bool,
}

fn as_postgres(args: &[&str]) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", "postgres", "--"]).args(args);
    cmd
}

pub fn bin(name: &str) -> String {
    format!("{BIN}/{name}")
}

impl PgNode {
    pub fn start(&mut self) {
        let log = self.dir.with_extension("log");
        run(&mut as_postgres(&[
            &bin("pg_ctl"),
            "-D",
            self.dir.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "start",
        ]));
        self.running = true;
    }

    /// `pg_ctl stop -m immediate`: the server dies without a checkpoint, like a crash.
    pub fn kill(&mut self) {
        if self.running {
            let _ = as_postgres(&[
                &bin("pg_ctl"),
                "-D",
                self.dir.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
            self.running = false;
        }
    }

    pub async fn client(&self) -> Client {
        let (client, conn) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(ADMIN_PASSWORD)
            .dbname("postgres")
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect to {} on {}: {e}", self.name, self.port));
        tokio::spawn(conn);
        client
    }

    /// One text value from `sql`.
    pub async fn value(&self, sql: &str) -> Option<String> {
        let c = self.client().await;
        let msgs = c
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.name));
        msgs.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(0).map(str::to_string)),
            _ => None,
        })?
    }

    pub async fn exec(&self, sql: &str) {
        let c = self.client().await;
        for one in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            // One statement at a time: ALTER SYSTEM refuses to run inside a batch.
            c.simple_query(one)
                .await
                .unwrap_or_else(|e| panic!("{}: {one}: {e:?}", self.name));
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.write_all(text.as_bytes()).unwrap();
}

impl PgCluster {
    /// `pg0` primary and `pg1`…`pgN` replicas streaming from it, each with
    /// `application_name` set to its name.
    pub async fn start(replicas: usize) -> PgCluster {
        PgCluster::start_with(replicas, Setup::default()).await
    }

    pub async fn start_with(replicas: usize, setup: Setup) -> PgCluster {
        for b in ["initdb", "pg_ctl", "pg_basebackup", "postgres"] {
            require(&bin(b));
        }
        let root = tempfile::Builder::new()
            .prefix("opsdeck-pg-")
            .tempdir()
            .expect("temp dir");
        let password_file = root.path().join("admin-password");
        std::fs::write(&password_file, ADMIN_PASSWORD).unwrap();
        let certs = setup.tls.then(|| Certs::new(root.path()));
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(root.path()));
        let mut cluster = PgCluster {
            nodes: Vec::new(),
            root,
            password_file,
            certs,
        };
        let root = cluster.root.path().to_path_buf();
        let primary_dir = root.join("pg0");
        run(&mut as_postgres(&[
            &bin("initdb"),
            "-D",
            primary_dir.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            &format!("--pwfile={}", cluster.password_file.display()),
            "--no-sync",
        ]));
        let port = free_port();
        let mut conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             wal_level = replica\nmax_wal_senders = 10\nhot_standby = on\nfsync = off\n\
             shared_buffers = 16MB\nwal_receiver_status_interval = 1s\n",
            root.display()
        );
        conf.push_str(if setup.rewindable {
            "wal_log_hints = on\nfull_page_writes = on\nwal_keep_size = 128MB\n"
        } else {
            "full_page_writes = off\n"
        });
        if let Some(c) = &cluster.certs {
            conf.push_str(&format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                c.cert.display(),
                c.key.display()
            ));
        }
        append(&primary_dir.join("postgresql.conf"), &conf);
        let mut primary = PgNode {
            name: "pg0".into(),
            port,
            dir: primary_dir,
            running: false,
        };
        primary.start();
        primary
            .exec(&format!(
                "CREATE ROLE repl WITH REPLICATION LOGIN PASSWORD '{REPL_PASSWORD}'"
            ))
            .await;
        let primary_port = primary.port;
        cluster.nodes.push(primary);
        for i in 1..=replicas {
            let name = format!("pg{i}");
            let dir = root.join(&name);
            run(&mut as_postgres(&[
                "env",
                &format!("PGPASSWORD={REPL_PASSWORD}"),
                &bin("pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                &primary_port.to_string(),
                "-U",
                "repl",
                "-D",
                dir.to_str().unwrap(),
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                "--no-sync",
            ]));
            let port = free_port();
            append(
                &dir.join("postgresql.auto.conf"),
                &format!(
                    "port = {port}\nprimary_conninfo = 'host=127.0.0.1 port={primary_port} user=repl password={REPL_PASSWORD} application_name={name}'\n"
                ),
            );
            let mut node = PgNode {
                name,
                port,
                dir,
                running: false,
            };
            node.start();
            cluster.nodes.push(node);
        }
        cluster
    }

    /// A rejoin_command for `name`: what an operator's script does on an old primary's
    /// host — stop it, pg_rewind it against the new primary (named by opsdeck in
    /// `OPSDECK_PRIMARY_HOST`/`_PORT`), make it a standby of that primary, start it.
    pub fn rejoin_script(&self, name: &str) -> PathBuf {
        let node = self.node(name);
        let script = self.root.path().join(format!("rejoin-{name}.sh"));
        let text = format!(
            r#"#!/bin/sh
set -eu
D='{dir}'
as_pg() {{ runuser -u postgres -- "$@"; }}
as_pg '{pg_ctl}' -D "$D" -m fast -w stop
as_pg env PGPASSWORD="$(cat '{password_file}')" '{pg_rewind}' --target-pgdata="$D" \
  --source-server="host=$OPSDECK_PRIMARY_HOST port=$OPSDECK_PRIMARY_PORT user=postgres dbname=postgres"
# pg_rewind copies the new primary's configuration: this server keeps its own port.
cat >> "$D/postgresql.auto.conf" <<CONF
port = {port}
primary_conninfo = 'host=$OPSDECK_PRIMARY_HOST port=$OPSDECK_PRIMARY_PORT user=repl password={repl} application_name=$OPSDECK_MEMBER'
CONF
as_pg touch "$D/standby.signal"
as_pg '{pg_ctl}' -D "$D" -l '{log}' -w -t 60 start
"#,
            dir = node.dir.display(),
            pg_ctl = bin("pg_ctl"),
            pg_rewind = bin("pg_rewind"),
            password_file = self.password_file.display(),
            port = node.port,
            repl = REPL_PASSWORD,
            log = node.dir.with_extension("log").display(),
        );
        std::fs::write(&script, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    /// Waits until every one of `replicas` has replayed all that `primary` has written.
    pub async fn caught_up(&self, primary: &str, replicas: &[&str]) {
        let head = self
            .node(primary)
            .value("SELECT pg_current_wal_lsn()::text")
            .await
            .unwrap();
        for r in replicas {
            let node = self.node(r);
            let head = head.clone();
            eventually(
                &format!("{r} replays up to {head}"),
                Duration::from_secs(20),
                || async {
                    node.value(&format!(
                        "SELECT pg_last_wal_replay_lsn() >= '{head}'::pg_lsn"
                    ))
                    .await
                        == Some("t".into())
                },
            )
            .await;
        }
    }

    pub fn members(&self) -> Vec<(String, u16)> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), n.port))
            .collect()
    }

    pub fn node(&self, name: &str) -> &PgNode {
        self.nodes.iter().find(|n| n.name == name).expect("node")
    }

    pub fn node_mut(&mut self, name: &str) -> &mut PgNode {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .expect("node")
    }
}
