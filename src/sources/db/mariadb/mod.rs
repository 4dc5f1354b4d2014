//! MariaDB GTID replication: status from `SHOW REPLICA STATUS` and the gtid variables,
//! failover the way orchestrator and MHA do it.

pub mod failover;
pub mod status;

use super::config::{MemberConfig, split_host_port};
use super::secret::{Secret, scrub};
use super::tls::{TlsConfig, TlsMode, provider};
use super::{CONNECT_TIMEOUT, QUERY_TIMEOUT};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, DriverError, OptsBuilder, Row, SslOpts};

pub struct MyConn {
    pub conn: Conn,
    pub member: String,
    secrets: Vec<Secret>,
}

/// Connects over TCP (never the local socket, even for localhost) with a bounded wait, the
/// whole TLS handshake included.
pub async fn connect(
    user: &str,
    member: &MemberConfig,
    password: Option<&Secret>,
    tls: &TlsConfig,
) -> Result<MyConn, String> {
    let place = format!("{} ({})", member.name, member.address);
    let (host, port) = split_host_port(&member.address).map_err(|e| format!("{place}: {e}"))?;
    let secrets: Vec<Secret> = password.into_iter().cloned().collect();
    let ssl = ssl_opts(tls).map_err(|e| format!("{place}: {e}"))?;
    let attempt = |ssl: Option<SslOpts>| Conn::new(opts(&host, port, user, password).ssl_opts(ssl));
    let connecting = async {
        match attempt(ssl.clone()).await {
            // `prefer` falls back to plain text only when the server has no TLS at all,
            // never after a failed handshake.
            Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer))
                if tls.mode == TlsMode::Prefer =>
            {
                attempt(None).await
            }
            other => other,
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(MyConn {
            conn,
            member: member.name.clone(),
            secrets,
        }),
        Ok(Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer))) => {
            Err(format!("{place}: {}", tls.no_server_tls()))
        }
        Ok(Err(e)) => {
            let text = tls
                .explain(&host, &e, &refs(&secrets))
                .unwrap_or_else(|| scrub(&e.to_string(), &refs(&secrets)));
            Err(format!("{place}: {text}"))
        }
        Err(_) => Err(format!(
            "{place}: no answer within {} ms (connect)",
            CONNECT_TIMEOUT.as_millis()
        )),
    }
}

fn opts(host: &str, port: u16, user: &str, password: Option<&Secret>) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port)
        .user(Some(user))
        .pass(password.map(|p| p.expose().to_string()))
        .prefer_socket(false)
        .stmt_cache_size(0)
        // Known values skip the driver's extra round trip after the handshake.
        .max_allowed_packet(Some(16 << 20))
        .wait_timeout(Some(28_800))
}

/// mysql_async's rustls settings for `tls`. For verify-full its built-in roots are replaced by
/// the trust the PostgreSQL side uses, so both engines trust exactly the same CAs.
fn ssl_opts(tls: &TlsConfig) -> Result<Option<SslOpts>, String> {
    let opts = match tls.mode {
        TlsMode::Disable => return Ok(None),
        // The driver still builds a verifier it then ignores, which needs some roots: its
        // built-in ones.
        TlsMode::Prefer | TlsMode::Require => {
            SslOpts::default().with_danger_accept_invalid_certs(true)
        }
        TlsMode::VerifyFull => {
            let roots = tls
                .roots()?
                .into_iter()
                .map(|der| der.as_ref().to_vec().into())
                .collect();
            SslOpts::default()
                .with_disable_built_in_roots(true)
                .with_root_certs(roots)
        }
    };
    // mysql_async builds its rustls configuration with the process's default provider.
    provider();
    Ok(Some(opts))
}

fn refs(secrets: &[Secret]) -> Vec<&Secret> {
    secrets.iter().collect()
}

impl MyConn {
    pub async fn rows(&mut self, sql: &str) -> Result<Vec<Row>, String> {
        match tokio::time::timeout(QUERY_TIMEOUT, self.conn.query::<Row, _>(sql)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(format!(
                "{}: {}",
                self.member,
                scrub(&e.to_string(), &refs(&self.secrets))
            )),
            Err(_) => Err(format!(
                "{}: no answer within {} ms",
                self.member,
                QUERY_TIMEOUT.as_millis()
            )),
        }
    }

    pub async fn exec(&mut self, sql: &str) -> Result<(), String> {
        self.rows(sql).await.map(drop)
    }

    /// Closes politely; a server that went away is not an error here.
    pub async fn close(self) {
        let _ = tokio::time::timeout(QUERY_TIMEOUT, self.conn.disconnect()).await;
    }
}

/// A column as text; NULL and absent columns are `None`.
pub fn text(row: &Row, column: &str) -> Option<String> {
    let idx = row
        .columns_ref()
        .iter()
        .position(|c| c.name_str() == column)?;
    match row.as_ref(idx)? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// The first of several column names that is present: MariaDB and MySQL renamed the
/// `Slave_*` columns of `SHOW REPLICA STATUS` at different versions.
pub fn text_any(row: &Row, columns: &[&str]) -> Option<String> {
    columns.iter().find_map(|c| text(row, c))
}

/// A string literal for MariaDB SQL text.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}
