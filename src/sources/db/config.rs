//! `[[databases]]` in config.toml. Credentials are named, never written: the file says which
//! environment variable or file holds a password, and the secret is read when it is needed.
//!
//! ```toml
//! [[databases]]
//! name = "shop-mariadb"
//! kind = "mariadb"                      # postgres | mariadb | rds
//! user = "opsdeck"
//! password_env = "OPSDECK_MARIADB_PASSWORD"   # or password_file = "/run/secrets/db"
//! tls = "verify-full"                  # the default; disable | prefer | require | verify-full
//! ca_file = "/etc/opsdeck/db-ca.pem"    # PEM; without it, the system trust store
//! lag_threshold_s = 5.0                 # flagged beyond it, never promoted beyond it
//! anti_flap_s = 3600                    # a second promotion inside it is refused
//! verify_timeout_s = 10.0
//! members = [
//!   { name = "mariadb-0", address = "10.0.1.10:3306" },
//!   { name = "mariadb-1", address = "10.0.1.11:3306", priority = 10 },
//!   { name = "mariadb-2", address = "10.0.1.12:3306", never_promote = true },
//! ]
//! [databases.replication]               # MariaDB switchover: login for a demoted primary
//! user = "repl"
//! password_file = "/run/secrets/repl"
//! [databases.proxysql]                  # optional: move the writer hostgroup on re-point
//! admin = "10.0.1.5:6032"
//! user = "radmin"
//! password_env = "OPSDECK_PROXYSQL_PASSWORD"
//! writer_hostgroup = 10
//! reader_hostgroup = 20
//!
//! [[databases]]
//! name = "billing-pg"
//! kind = "postgres"
//! user = "opsdeck"
//! password_file = "/run/secrets/billing-pg"
//! ca_file = "/etc/opsdeck/db-ca.pem"
//! rejoin_timeout_s = 300                # how long a rejoin_command may take
//! members = [
//!   # Switchover: after the promotion opsdeck runs this with the new primary in
//!   # OPSDECK_PRIMARY_HOST / OPSDECK_PRIMARY_PORT, then checks the old primary streams from it.
//!   { name = "pg-0", address = "10.0.2.10:5432", rejoin_command = ["/usr/local/sbin/pg-rejoin", "pg-0"] },
//!   { name = "pg-1", address = "10.0.2.11:5432", rejoin_command = ["/usr/local/sbin/pg-rejoin", "pg-1"] },
//! ]
//!
//! [[databases]]
//! name = "orders-rds"
//! kind = "rds"
//! region = "ap-northeast-2"
//! profile = "ops"                       # optional; else the standard AWS chain
//! members = [
//!   { name = "orders", address = "orders-db" },            # DB instance identifiers
//!   { name = "orders-replica", address = "orders-db-replica" },
//! ]
//! ```

use super::secret::Secret;
use super::tls::{TlsConfig, TlsMode};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Postgres,
    Mariadb,
    Rds,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawDbConfig")]
pub struct DbConfig {
    /// The cluster's name in the pane, the journal and playbook steps.
    pub name: String,
    pub kind: DbKind,
    pub members: Vec<MemberConfig>,
    /// Login for status queries and failover; needs replication-admin rights.
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// PostgreSQL database to connect to (default `postgres`).
    pub database: Option<String>,
    /// PostgreSQL and MariaDB: how connections to the members are encrypted.
    pub tls: TlsConfig,
    /// A replica further behind than this is flagged, and never promoted.
    pub lag_threshold_s: f64,
    /// A second promotion of this cluster within this window is refused unless overridden.
    pub anti_flap_s: u64,
    /// How long VerifyReplication waits for every replica to show the marker row.
    pub verify_timeout_s: f64,
    /// PostgreSQL switchover: how long a member's `rejoin_command` may run.
    pub rejoin_timeout_s: f64,
    /// MariaDB: the replication login a demoted primary uses (`CHANGE MASTER TO`) in a
    /// switchover. Other replicas keep the login they already have.
    pub replication: Option<Credentials>,
    pub proxysql: Option<ProxySqlConfig>,
    /// RDS only: AWS region and an endpoint override (moto, LocalStack, a VPC endpoint).
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// RDS only: an AWS profile, and a credentials file to read it from instead of
    /// ~/.aws/credentials. Without them the standard AWS credential chain is used.
    pub profile: Option<String>,
    pub credentials_file: Option<PathBuf>,
}

/// The file's shape. Refusals are raised for the whole `[[databases]]` table, so the error
/// excerpt shows its first line, never the line holding a pasted password.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDbConfig {
    name: String,
    kind: DbKind,
    members: Vec<MemberConfig>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    /// Only read to be refused.
    #[serde(default)]
    password: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    tls: Option<TlsMode>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default = "default_lag_threshold")]
    lag_threshold_s: f64,
    #[serde(default = "default_anti_flap")]
    anti_flap_s: u64,
    #[serde(default = "default_verify_timeout")]
    verify_timeout_s: f64,
    #[serde(default = "default_rejoin_timeout")]
    rejoin_timeout_s: f64,
    #[serde(default)]
    replication: Option<Credentials>,
    #[serde(default)]
    proxysql: Option<ProxySqlConfig>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    endpoint_url: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    credentials_file: Option<PathBuf>,
}

impl TryFrom<RawDbConfig> for DbConfig {
    type Error = String;

    fn try_from(raw: RawDbConfig) -> Result<DbConfig, String> {
        if raw.password.is_some() {
            return Err(format!(
                "database {}: a password is never written in the config: name an environment \
                 variable (password_env = \"VAR\") or a file (password_file = \"path\")",
                raw.name
            ));
        }
        if raw.kind == DbKind::Rds && (raw.tls.is_some() || raw.ca_file.is_some()) {
            return Err(format!(
                "database {}: tls and ca_file are for PostgreSQL and MariaDB; the AWS API is \
                 always HTTPS",
                raw.name
            ));
        }
        let cfg = DbConfig {
            tls: TlsConfig {
                mode: raw.tls.unwrap_or_default(),
                ca_file: raw.ca_file,
                whose: format!("database {}", raw.name),
            },
            name: raw.name,
            kind: raw.kind,
            members: raw.members,
            user: raw.user,
            password_env: raw.password_env,
            password_file: raw.password_file,
            database: raw.database,
            lag_threshold_s: raw.lag_threshold_s,
            anti_flap_s: raw.anti_flap_s,
            verify_timeout_s: raw.verify_timeout_s,
            rejoin_timeout_s: raw.rejoin_timeout_s,
            replication: raw.replication,
            proxysql: raw.proxysql,
            region: raw.region,
            endpoint_url: raw.endpoint_url,
            profile: raw.profile,
            credentials_file: raw.credentials_file,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    pub name: String,
    /// `host:port` for PostgreSQL and MariaDB, the DB instance identifier for RDS.
    pub address: String,
    /// Among equally advanced replicas the highest priority is promoted.
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub never_promote: bool,
    /// PostgreSQL switchover: turns this member, once fenced and replaced, into a replica
    /// of the new primary (stop, pg_rewind, standby.signal, primary_conninfo, start). Run as
    /// argv, no shell, with `OPSDECK_PRIMARY_HOST`/`_PORT`/`_NAME` of the new primary.
    #[serde(default)]
    pub rejoin_command: Option<Vec<String>>,
}

/// Where a password lives. Both empty means no password (trust or socket auth).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PasswordRef {
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub user: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl Credentials {
    pub fn password(&self) -> PasswordRef {
        PasswordRef {
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySqlConfig {
    /// The admin interface, `host:port` (usually port 6032).
    pub admin: String,
    pub user: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Re-pointing makes the new primary this hostgroup's only member.
    pub writer_hostgroup: u32,
    /// Shown with the router; replicas stay where they are (ProxySQL's monitor shuns the
    /// ones that are down).
    pub reader_hostgroup: u32,
}

fn default_lag_threshold() -> f64 {
    5.0
}

/// Orchestrator's default recovery block period.
fn default_anti_flap() -> u64 {
    3600
}

fn default_verify_timeout() -> f64 {
    10.0
}

/// A stop, a pg_rewind of a small divergence and a start fit in well under this.
fn default_rejoin_timeout() -> f64 {
    300.0
}

impl PasswordRef {
    /// Reads the secret now, so a rotated password is picked up on the next connection.
    pub fn resolve(&self, whose: &str) -> Result<Option<Secret>, String> {
        self.resolve_as(whose, "password")
    }

    /// Like [`PasswordRef::resolve`] for a secret whose keys are `{what}_env` and
    /// `{what}_file` (`bearer_token_env`, say), so errors name the keys the user wrote.
    pub fn resolve_as(&self, whose: &str, what: &str) -> Result<Option<Secret>, String> {
        match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => Err(format!("{whose}: give {what}_env or {what}_file, not both")),
            (Some(var), None) => match std::env::var(var) {
                Ok(v) => Ok(Some(Secret::new(v))),
                Err(_) => Err(format!(
                    "{whose}: environment variable {var} ({what}_env) is not set"
                )),
            },
            (None, Some(path)) => match std::fs::read_to_string(path) {
                // A trailing newline is an artefact of how the file was written, not the secret.
                Ok(v) => Ok(Some(Secret::new(
                    v.trim_end_matches(['\n', '\r']).to_string(),
                ))),
                Err(e) => Err(format!(
                    "{whose}: cannot read {what}_file {}: {e}",
                    path.display()
                )),
            },
            (None, None) => Ok(None),
        }
    }
}

impl ProxySqlConfig {
    pub fn password(&self) -> PasswordRef {
        PasswordRef {
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

impl DbConfig {
    pub fn password(&self) -> PasswordRef {
        PasswordRef {
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
        }
    }

    pub fn member(&self, name: &str) -> Option<&MemberConfig> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn user(&self) -> &str {
        self.user.as_deref().unwrap_or(match self.kind {
            DbKind::Postgres => "postgres",
            DbKind::Mariadb | DbKind::Rds => "root",
        })
    }

    pub fn database(&self) -> &str {
        self.database.as_deref().unwrap_or("postgres")
    }

    /// Checks what serde cannot: names unique, addresses parse, numbers sensible.
    pub fn validate(&self) -> Result<(), String> {
        let whose = format!("database {}", self.name);
        if self.members.is_empty() {
            return Err(format!("{whose}: no members"));
        }
        for (i, m) in self.members.iter().enumerate() {
            if self.members[..i].iter().any(|o| o.name == m.name) {
                return Err(format!("{whose}: member name {} used twice", m.name));
            }
            if self.kind != DbKind::Rds {
                split_host_port(&m.address)
                    .map_err(|e| format!("{whose}, member {}: {e}", m.name))?;
            }
            match (&m.rejoin_command, self.kind) {
                (None, _) => {}
                (Some(argv), DbKind::Postgres) => {
                    if argv.first().is_none_or(|p| p.trim().is_empty()) {
                        return Err(format!(
                            "{whose}, member {}: rejoin_command needs a program: \
                             [\"/path/to/script\", \"arg\", …]",
                            m.name
                        ));
                    }
                }
                (Some(_), _) => {
                    return Err(format!(
                        "{whose}, member {}: rejoin_command is for PostgreSQL; a MariaDB \
                         primary is demoted over SQL with [databases.replication]",
                        m.name
                    ));
                }
            }
        }
        if !(self.lag_threshold_s.is_finite() && self.lag_threshold_s >= 0.0) {
            return Err(format!("{whose}: lag_threshold_s must be a number ≥ 0"));
        }
        if !(self.rejoin_timeout_s.is_finite() && self.rejoin_timeout_s > 0.0) {
            return Err(format!("{whose}: rejoin_timeout_s must be a number > 0"));
        }
        self.tls.validate()?;
        if let Some(p) = &self.proxysql {
            split_host_port(&p.admin).map_err(|e| format!("{whose}, proxysql.admin: {e}"))?;
        }
        Ok(())
    }
}

/// `host:port`, `[v6]:port`.
pub fn split_host_port(address: &str) -> Result<(String, u16), String> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("address {address:?} is not host:port"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("address {address:?}: port {port:?} is not a number 1-65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(format!("address {address:?} is not host:port"));
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DbConfig, toml::de::Error> {
        toml::from_str(text)
    }

    const BASE: &str = r#"
name = "shop"
kind = "mariadb"
user = "opsdeck"
password_env = "SHOP_DB_PASSWORD"
members = [
  { name = "m0", address = "10.0.0.1:3306" },
  { name = "m1", address = "10.0.0.2:3306", priority = 5 },
  { name = "m2", address = "10.0.0.3:3306", never_promote = true },
]
"#;

    #[test]
    fn reads_a_cluster_with_defaults() {
        let cfg = parse(BASE).unwrap();
        assert_eq!(cfg.kind, DbKind::Mariadb);
        assert_eq!(cfg.members[1].priority, 5);
        assert!(cfg.members[2].never_promote);
        assert_eq!(cfg.lag_threshold_s, 5.0);
        assert_eq!(cfg.anti_flap_s, 3600);
        assert_eq!(cfg.password_env.as_deref(), Some("SHOP_DB_PASSWORD"));
        cfg.validate().unwrap();
    }

    /// The example at the top of this file is what users copy: it must load.
    #[test]
    fn the_documented_example_loads() {
        let source = include_str!("config.rs");
        let block = source
            .split("//! ```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("//! ```").next())
            .unwrap();
        let text: String = block
            .lines()
            .map(|l| {
                l.strip_prefix("//! ")
                    .or(l.strip_prefix("//!"))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        #[derive(Deserialize)]
        struct File {
            databases: Vec<DbConfig>,
        }
        let file: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let kinds: Vec<DbKind> = file.databases.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DbKind::Mariadb, DbKind::Postgres, DbKind::Rds]);
        let pg = &file.databases[1];
        assert_eq!(pg.tls.mode, TlsMode::VerifyFull, "safe by default");
        assert_eq!(pg.members[0].rejoin_command.as_ref().unwrap()[1], "pg-0");
        let maria = &file.databases[0];
        assert_eq!(maria.proxysql.as_ref().unwrap().writer_hostgroup, 10);
        assert_eq!(maria.replication.as_ref().unwrap().user, "repl");
        assert!(maria.members[2].never_promote);
    }

    #[test]
    fn an_inline_password_is_refused_with_directions() {
        let err = parse(&format!("{BASE}password = \"hunter2\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("password_env"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn config_file_errors_never_echo_a_pasted_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let text =
            format!("[ui]\ntheme = \"light\"\n\n[[databases]]{BASE}password = \"hunter2-x\"\n");
        std::fs::write(&path, text).unwrap();
        let err = crate::config::load(&path, true).unwrap_err().to_string();
        assert!(err.contains("password_env"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        std::fs::write(&path, format!("[[databases]]{BASE}")).unwrap();
        let cfg = crate::config::load(&path, true).unwrap().unwrap();
        assert_eq!(cfg.databases[0].members.len(), 3);
    }

    #[test]
    fn unknown_fields_and_bad_addresses_are_refused() {
        assert!(parse(&format!("{BASE}colour = 1\n")).is_err());
        let mut cfg = parse(BASE).unwrap();
        cfg.members[0].address = "10.0.0.1".into();
        assert!(cfg.validate().unwrap_err().contains("member m0"));
        cfg.members[0].address = "10.0.0.1:3306".into();
        cfg.members[1].name = "m0".into();
        assert!(cfg.validate().unwrap_err().contains("used twice"));
    }

    #[test]
    fn tls_settings_are_checked_with_their_place() {
        let cfg = parse(&format!("{BASE}tls = \"require\"\n")).unwrap();
        assert_eq!(cfg.tls.mode, TlsMode::Require);
        let err = parse(&format!("{BASE}tls = \"require\"\nca_file = \"/ca.pem\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("database shop: ca_file is only read"), "{err}");
        assert!(parse(&format!("{BASE}tls = \"verify-ca\"\n")).is_err());
        let rds = BASE.replace("kind = \"mariadb\"", "kind = \"rds\"");
        let err = parse(&format!("{rds}tls = \"require\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("always HTTPS"), "{err}");
    }

    #[test]
    fn a_rejoin_command_is_postgres_only_and_names_a_program() {
        let with = |kind: &str, argv: &str| {
            parse(&format!(
                "name = \"c\"\nkind = \"{kind}\"\nmembers = [{{ name = \"a\", address = \"h:1\", rejoin_command = {argv} }}]\n"
            ))
            .map_err(|e| e.to_string())
        };
        assert!(with("postgres", "[\"/bin/true\"]").is_ok());
        let err = with("postgres", "[]").unwrap_err();
        assert!(
            err.contains("member a: rejoin_command needs a program"),
            "{err}"
        );
        let err = with("mariadb", "[\"/bin/true\"]").unwrap_err();
        assert!(err.contains("[databases.replication]"), "{err}");
    }

    #[test]
    fn passwords_come_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        let by_file = PasswordRef {
            password_env: None,
            password_file: Some(path),
        };
        let secret = by_file.resolve("db x").unwrap().unwrap();
        assert_eq!(secret.expose(), "s3cret");
        let missing = PasswordRef {
            password_env: Some("OPSDECK_TEST_SURELY_UNSET_VAR".into()),
            password_file: None,
        };
        assert!(
            missing
                .resolve("db x")
                .unwrap_err()
                .contains("OPSDECK_TEST_SURELY_UNSET_VAR")
        );
    }

    #[test]
    fn host_port_parsing() {
        assert_eq!(
            split_host_port("127.0.0.1:5432").unwrap(),
            ("127.0.0.1".to_string(), 5432)
        );
        assert_eq!(
            split_host_port("[::1]:3306").unwrap(),
            ("::1".to_string(), 3306)
        );
        assert!(split_host_port("db:0").is_err());
        assert!(split_host_port("db:x").is_err());
    }
}
