//! Moving ProxySQL's writer hostgroup to a new primary through its admin interface, which
//! speaks the MySQL protocol with SQLite's dialect.

use super::calls::Calls;
use super::config::{MemberConfig, ProxySqlConfig, split_host_port};
use super::mariadb;
use super::tls::{TlsConfig, TlsMode};
use crate::ops::{Mode, OpError};

pub fn statements(p: &ProxySqlConfig, primary: &MemberConfig) -> Result<Vec<String>, OpError> {
    let (host, port) = split_host_port(&primary.address)
        .map_err(|e| OpError::Failed(format!("member {} address: {e}", primary.name)))?;
    let w = p.writer_hostgroup;
    Ok(vec![
        format!("DELETE FROM mysql_servers WHERE hostgroup_id = {w}"),
        format!(
            "INSERT OR REPLACE INTO mysql_servers (hostgroup_id, hostname, port) VALUES ({w}, {}, {port})",
            mariadb::quote_literal(&host)
        ),
        "LOAD MYSQL SERVERS TO RUNTIME".into(),
        "SAVE MYSQL SERVERS TO DISK".into(),
    ])
}

fn admin_name(p: &ProxySqlConfig) -> String {
    format!("proxysql {}", p.admin)
}

async fn admin(p: &ProxySqlConfig) -> Result<mariadb::MyConn, String> {
    let admin = MemberConfig {
        name: admin_name(p),
        address: p.admin.clone(),
        priority: 0,
        never_promote: true,
        rejoin_command: None,
    };
    let password = p.password().resolve("proxysql admin")?;
    // [databases.proxysql] has no TLS settings yet: the admin interface is reached in plain
    // text, as ProxySQL serves it by default.
    let plain = TlsConfig {
        mode: TlsMode::Disable,
        ca_file: None,
        whose: "proxysql admin".into(),
    };
    mariadb::connect(&p.user, &admin, password.as_ref(), &plain).await
}

/// `host:port` of the server ProxySQL routes writes to now, if its writer hostgroup has one.
pub async fn writer(p: &ProxySqlConfig) -> Result<Option<String>, String> {
    let mut conn = admin(p).await?;
    let rows = conn
        .rows(&format!(
            "SELECT hostname, port FROM runtime_mysql_servers WHERE hostgroup_id = {} \
             ORDER BY weight DESC LIMIT 1",
            p.writer_hostgroup
        ))
        .await;
    conn.close().await;
    Ok(rows?.first().and_then(|r| {
        Some(format!(
            "{}:{}",
            mariadb::text(r, "hostname")?,
            mariadb::text(r, "port")?
        ))
    }))
}

pub async fn move_writer(
    p: &ProxySqlConfig,
    primary: &MemberConfig,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let sql = statements(p, primary)?;
    for s in &sql {
        calls.sql(&admin_name(p), s);
    }
    if mode == Mode::DryRun {
        return Ok(());
    }
    let mut conn = admin(p).await.map_err(OpError::Failed)?;
    for s in &sql {
        conn.exec(s).await.map_err(OpError::Failed)?;
    }
    conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dry_run_lists_the_admin_statements_and_connects_nowhere() {
        let p = ProxySqlConfig {
            // Nothing listens here: a dry-run must not try.
            admin: "127.0.0.1:9".into(),
            user: "radmin".into(),
            password_env: Some("OPSDECK_TEST_SURELY_UNSET_VAR".into()),
            password_file: None,
            writer_hostgroup: 10,
            reader_hostgroup: 20,
        };
        let primary = MemberConfig {
            name: "mariadb-1".into(),
            address: "10.0.1.11:3306".into(),
            priority: 0,
            never_promote: false,
            rejoin_command: None,
        };
        let mut calls = Calls::default();
        move_writer(&p, &primary, Mode::DryRun, &mut calls)
            .await
            .unwrap();
        assert_eq!(
            calls.0,
            [
                "SQL proxysql 127.0.0.1:9: DELETE FROM mysql_servers WHERE hostgroup_id = 10",
                "SQL proxysql 127.0.0.1:9: INSERT OR REPLACE INTO mysql_servers (hostgroup_id, hostname, port) VALUES (10, '10.0.1.11', 3306)",
                "SQL proxysql 127.0.0.1:9: LOAD MYSQL SERVERS TO RUNTIME",
                "SQL proxysql 127.0.0.1:9: SAVE MYSQL SERVERS TO DISK",
            ]
        );
        let err = move_writer(&p, &primary, Mode::Apply, &mut Calls::default())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("OPSDECK_TEST_SURELY_UNSET_VAR"),
            "{err}"
        );
    }
}
