//! PostgreSQL streaming replication: status from the catalog views, failover through
//! `pg_promote()` and `primary_conninfo`.

pub mod conninfo;
pub mod failover;
pub mod rejoin;
pub mod status;

use super::config::{DbConfig, MemberConfig, split_host_port};
use super::secret::{Secret, scrub};
use super::tls::TlsMode;
use super::{CONNECT_TIMEOUT, QUERY_TIMEOUT};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A connection to one member. The connection task ends when the client is dropped.
pub struct PgConn {
    pub client: Client,
    pub member: String,
    secrets: Vec<Secret>,
}

pub async fn connect(
    cfg: &DbConfig,
    member: &MemberConfig,
    password: Option<&Secret>,
) -> Result<PgConn, String> {
    let place = format!("{} ({})", member.name, member.address);
    let (host, port) = split_host_port(&member.address).map_err(|e| format!("{place}: {e}"))?;
    let mut pg = tokio_postgres::Config::new();
    pg.host(&host)
        .port(port)
        .user(cfg.user())
        .dbname(cfg.database())
        .application_name("opsdeck")
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(p) = password {
        pg.password(p.expose());
    }
    let secrets: Vec<Secret> = password.into_iter().cloned().collect();
    let connecting = async {
        let rustls = match cfg.tls.mode {
            TlsMode::Disable => return Ok::<_, String>(open(&pg, NoTls).await),
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyFull => SslMode::Require,
        };
        pg.ssl_mode(rustls);
        let tls = cfg.tls.client_config()?;
        Ok(open(&pg, MakeRustlsConnect::new(tls)).await)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(Ok(client))) => Ok(PgConn {
            client,
            member: member.name.clone(),
            secrets,
        }),
        Ok(Ok(Err(e))) => {
            let refs: Vec<&Secret> = secrets.iter().collect();
            let text = match cfg.tls.explain(&host, &e, &refs) {
                Some(tls) => tls,
                None => {
                    let text = clean(&e, &secrets);
                    // tokio-postgres says so in words only, with no error kind to match.
                    if text.contains("server does not support TLS") {
                        cfg.tls.no_server_tls()
                    } else {
                        text
                    }
                }
            };
            Err(format!("{place}: {text}"))
        }
        Ok(Err(e)) => Err(format!("{place}: {e}")),
        Err(_) => Err(format!(
            "{place}: no answer within {} ms (connect)",
            CONNECT_TIMEOUT.as_millis()
        )),
    }
}

/// Connects and leaves the connection to a task of its own: errors surface on the next
/// query through the client.
async fn open<T>(pg: &tokio_postgres::Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = pg.connect(tls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A driver error as one line, with its cause, and with no credentials in it.
fn clean(e: &tokio_postgres::Error, secrets: &[Secret]) -> String {
    let mut text = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    };
    if e.as_db_error().is_none() {
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            let more = s.to_string();
            if !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            source = s.source();
        }
    }
    let refs: Vec<&Secret> = secrets.iter().collect();
    scrub(&text, &refs)
}

/// One result row as text columns, by name.
#[derive(Debug, Default)]
pub struct TextRow(Vec<(String, Option<String>)>);

impl TextRow {
    pub fn get(&self, column: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == column)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn flag(&self, column: &str) -> Option<bool> {
        self.get(column).map(|v| v == "t" || v == "on")
    }

    pub fn float(&self, column: &str) -> Option<f64> {
        self.get(column).and_then(|v| v.parse().ok())
    }
}

impl PgConn {
    /// Runs `sql` (one or more statements) in one round trip with the simple protocol, so a
    /// poll costs one exchange per member; rows of every statement, in order.
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<TextRow>>, String> {
        let run = self.client.simple_query(sql);
        let messages = match tokio::time::timeout(QUERY_TIMEOUT, run).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(format!("{}: {}", self.member, clean(&e, &self.secrets))),
            Err(_) => {
                return Err(format!(
                    "{}: no answer within {} ms",
                    self.member,
                    QUERY_TIMEOUT.as_millis()
                ));
            }
        };
        let mut sets = vec![Vec::new()];
        for m in messages {
            match m {
                SimpleQueryMessage::Row(row) => {
                    let cols = row
                        .columns()
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.name().to_string(), row.get(i).map(str::to_string)))
                        .collect();
                    if let Some(set) = sets.last_mut() {
                        set.push(TextRow(cols));
                    }
                }
                SimpleQueryMessage::CommandComplete(_) => sets.push(Vec::new()),
                _ => {}
            }
        }
        sets.pop();
        Ok(sets)
    }

    /// The first row of the first statement.
    pub async fn row(&self, sql: &str) -> Result<TextRow, String> {
        self.rows(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|set| set.into_iter().next())
            .ok_or_else(|| format!("{}: no row from {sql}", self.member))
    }

    pub async fn exec(&self, sql: &str) -> Result<(), String> {
        self.rows(sql).await.map(drop)
    }
}

/// A string literal for SQL text (standard_conforming_strings is on since 9.1).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
