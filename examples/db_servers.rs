//! A MariaDB primary with two GTID replicas on loopback, to try the database pane and the
//! failover playbooks by hand, as the tests start them:
//!
//! ```sh
//! cargo run --example db_servers -- /tmp/db              # writes /tmp/db/config.toml
//! cargo run --example db_servers -- /tmp/db --dead-primary   # the primary killed first
//! cargo run -- --config /tmp/db/config.toml
//! ```
//!
//! `--dead-primary` is the 3 a.m. case: the primary is gone before the console starts. Runs
//! until Ctrl-C (or SIGTERM, or its terminal closing), then stops the servers.

#[path = "../tests/dbsupport/certs.rs"]
mod certs;
#[path = "../tests/dbsupport/common.rs"]
mod common;
#[path = "../tests/dbsupport/maria.rs"]
mod maria;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "db-servers".into()));
    let dead = args.any(|a| a == "--dead-primary");
    std::fs::create_dir_all(&dir)?;
    let mut cluster = maria::MyCluster::with_orders(2).await;
    if dead {
        cluster.node_mut("my0").kill();
    }
    let table = common::config_text(
        "shop-mariadb",
        "mariadb",
        "opsdeck",
        &cluster.password_file,
        &cluster.members(),
        "lag_threshold_s = 5.0",
    );
    let config = dir.join("config.toml");
    std::fs::write(&config, format!("[[databases]]\n{table}"))?;
    let ports: Vec<String> = cluster
        .members()
        .iter()
        .map(|(n, p)| format!("{n} on {p}"))
        .collect();
    println!(
        "{}{}\nconfig: {}",
        ports.join(", "),
        if dead { " (my0 killed)" } else { "" },
        config.display()
    );
    // Any way the terminal goes away stops the servers (dropping the cluster does).
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut hup) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
    );
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    drop(cluster);
    Ok(())
}
