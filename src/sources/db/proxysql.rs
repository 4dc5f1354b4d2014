//! Moving ProxySQL's writer hostgroup to a new primary through its admin interface, which
//! speaks the MySQL protocol with SQLite's dialect.

use super::calls::Calls;
use super::config::{MemberConfig, ProxySqlConfig, split_host_port};
use super::mariadb;
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

pub async fn move_writer(
    p: &ProxySqlConfig,
    primary: &MemberConfig,
    mode: Mode,
    calls: &mut Calls,
) -> Result<(), OpError> {
    let sql = statements(p, primary)?;
    let admin = MemberConfig {
        name: format!("proxysql {}", p.admin),
        address: p.admin.clone(),
        priority: 0,
        never_promote: true,
    };
    for s in &sql {
        calls.sql(&admin.name, s);
    }
    if mode == Mode::DryRun {
        return Ok(());
    }
    let password = p
        .password()
        .resolve("proxysql admin")
        .map_err(OpError::Failed)?;
    let mut conn = mariadb::connect(&p.user, &admin, password.as_ref())
        .await
        .map_err(OpError::Failed)?;
    for s in &sql {
        conn.exec(s).await.map_err(OpError::Failed)?;
    }
    conn.close().await;
    Ok(())
}
