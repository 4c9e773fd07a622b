//! The database products dbcompat knows, one module each.
//!
//! Everything dbcompat knows about a product lives in its module, behind the [`Dialect`]
//! trait: how it is reached (URL schemes, container contract, driver), how a session is
//! set up (isolation levels, how a transaction begins, the settings read back), what
//! its error codes mean, how a namespace is made, how its own log and command-line
//! client read. Nothing outside this folder branches on the backend: adding one is a
//! module here and a variant of [`Backend`].

mod cockroachdb;
mod mariadb;
mod mysql;
mod oracle;
mod postgres;
mod sqlite;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::driver::client::ClientFormat;
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::{ConnectSetup, Profile};
use crate::version::Version;

pub use mysql::class as mysql_class;
pub use oracle::class as oracle_class;
pub use postgres::class as postgres_class;
pub use sqlite::class as sqlite_class;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
    Mariadb,
    Oracle,
    Cockroachdb,
}

impl Backend {
    pub const ALL: [Backend; 6] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql, Backend::Mariadb, Backend::Oracle, Backend::Cockroachdb];

    /// What dbcompat knows about this product.
    pub fn dialect(self) -> &'static dyn Dialect {
        match self {
            Backend::Sqlite => &sqlite::Sqlite,
            Backend::Postgres => &postgres::Postgres,
            Backend::Mysql => &mysql::Mysql,
            Backend::Mariadb => &mariadb::Mariadb,
            Backend::Oracle => &oracle::Oracle,
            Backend::Cockroachdb => &cockroachdb::Cockroachdb,
        }
    }

    pub fn name(self) -> &'static str {
        self.dialect().name()
    }

    /// Dialect keys to look for in a suite's SQL, most specific first.
    pub fn dialects(self) -> &'static [&'static str] {
        self.dialect().sql_keys()
    }

    pub fn names() -> String {
        Self::ALL.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend `{s}`"))
    }
}

/// Dialect keys a suite may use for per-dialect SQL: the backends plus `default`.
pub fn is_dialect_key(key: &str) -> bool {
    key == "default" || key.parse::<Backend>().is_ok()
}

/// Where a server listens and how to log in. The password is never printed.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The database administrative connections use (Oracle: the service name).
    pub database: Option<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

/// How a server's URL is written.
#[derive(Debug, Clone, Copy)]
pub struct UrlForm {
    /// The schemes accepted; the first is the one error messages show.
    pub schemes: &'static [&'static str],
    pub default_port: u16,
}

/// What a backend's official image needs: its port, its administrator and the
/// environment variable that sets the administrator's password.
#[derive(Debug, Clone, Copy)]
pub struct ContainerContract {
    pub port: u16,
    pub user: &'static str,
    /// `None` for an image that runs without a password.
    pub password_env: Option<&'static str>,
}

/// The log lines by which a server tells a clean shutdown from a crash.
#[derive(Debug, Clone, Copy)]
pub struct LogSigns {
    /// Written as the last act of a clean shutdown.
    pub clean_shutdown: &'static [&'static str],
    /// Written by a start that found the server had not been shut down cleanly.
    pub recovery: &'static [&'static str],
    /// Lines worth showing beside the evidence (shutdown requests, readiness).
    pub context: &'static [&'static str],
}

/// How the backend's own command-line client is started, in the server's container or
/// (SQLite's shell) here: a shell script that reads the password, if any, from its first
/// input line (so it is on no command line), and how the client's output reads.
pub struct ClientLaunch {
    pub script: String,
    pub format: Box<dyn ClientFormat>,
}

/// Everything dbcompat knows about one product. Defaults are what most SQL servers do.
#[async_trait]
pub trait Dialect: Send + Sync {
    /// The name in matrices, suites, results and reports.
    fn name(&self) -> &'static str;

    /// Keys whose SQL this backend runs, most specific first (MariaDB runs MySQL's SQL
    /// unless a suite gives it its own). `default` is always tried last.
    fn sql_keys(&self) -> &'static [&'static str];

    /// The module of Django's own backend for this database (`django/db/backends/NAME`),
    /// where its feature flags are decided; `None` where Django has none.
    fn django_module(&self) -> Option<&'static str> {
        None
    }

    /// The backend whose bare expectation key applies where a probe has no key for
    /// this one (MariaDB takes MySQL's, as its SQL does); version ranges never carry over.
    fn expectations_fall_back_to(&self) -> Option<Backend> {
        None
    }

    // How it is reached.

    /// Whether it runs inside dbcompat's process (from a library) instead of as a server.
    fn embedded(&self) -> bool {
        false
    }

    /// How its URL is written; `None` when it is not reached by URL.
    fn url(&self) -> Option<UrlForm>;

    /// What its image needs; `None` when it does not run in a container.
    fn container(&self) -> Option<ContainerContract>;

    /// Why this build or machine cannot reach it, if it cannot.
    fn driver_missing(&self) -> Option<String> {
        None
    }

    /// Refuses a password the backend's SQL cannot carry.
    fn check_password(&self, _password: &str) -> Result<(), String> {
        Ok(())
    }

    /// Connects a session to a namespace (the administrative database when `None`), with
    /// the handshake `profile` asks for (capability flags, character set); the
    /// statements a profile runs afterwards are [`Dialect::profile_setup`]'s.
    async fn connect(&self, endpoint: &Endpoint, namespace: Option<&str>, profile: Profile) -> Result<Box<dyn Session>, ConnectError>;

    /// What `profile` runs on a new session after the handshake; an error when the
    /// profile does not cover this backend. `server-defaults` runs nothing.
    fn profile_setup(&self, profile: Profile) -> Result<ConnectSetup, String> {
        match profile {
            Profile::ServerDefaults => Ok(ConnectSetup::default()),
            other => Err(format!("the {other} profile has no connection set-up for {}", self.name())),
        }
    }

    /// The statement that shows a server is ready.
    fn ping_sql(&self) -> &'static str {
        "SELECT 1"
    }

    /// The statement whose first value is the server's version text.
    fn version_sql(&self) -> &'static str {
        "SELECT VERSION()"
    }

    /// Refuses a server that is another product than the one configured (a MariaDB
    /// behind a `mysql` target).
    fn check_identity(&self, _version_text: &str) -> Result<(), String> {
        Ok(())
    }

    /// The key a version's expectations are written under (`postgres=16`, `mariadb=11.8`):
    /// the first two numbers; backends whose major version is one number say so.
    fn version_key(&self, version: &Version) -> String {
        let short: Vec<String> = version.0.iter().take(2).map(u64::to_string).collect();
        format!("{}={}", self.name(), short.join("."))
    }

    // Namespaces: what a case's tables live in.

    fn quote_ident(&self, name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// The namespace's name as the backend keeps it (Oracle's unquoted names are upper case).
    fn namespace_name(&self, name: String) -> String {
        name
    }

    /// The statements that create a namespace, each with the form its errors show (a
    /// password hidden).
    fn create_namespace(&self, ident: &str, _password: &str) -> Result<Vec<(String, String)>, String> {
        let sql = format!("CREATE DATABASE {ident}");
        Ok(vec![(sql.clone(), sql)])
    }

    fn drop_namespace(&self, ident: &str) -> String {
        format!("DROP DATABASE IF EXISTS {ident}")
    }

    // Sessions.

    /// The isolation levels the backend offers, default first.
    fn isolation_levels(&self) -> &'static [Isolation];

    /// The statement that sets a session's isolation level (`None`: nothing to set).
    fn isolation_sql(&self, level: Isolation) -> Option<String>;

    /// The statement that begins a transaction (`None`: one begins with the first
    /// statement, as on Oracle).
    fn begin_sql(&self) -> Option<&'static str> {
        Some("BEGIN")
    }

    /// The query that reads back a new session's effective settings as the server
    /// reports them: the settings that change what statements do. Its answer goes into
    /// every case's transcript, so a reader sees the state each session started in.
    fn session_state_sql(&self) -> &'static str;

    /// The portable class of a native error code (and message, where one code covers
    /// several conditions).
    fn classify(&self, code: &str, message: &str) -> ErrorClass;

    // Evidence beside the driver's.

    /// The log lines that tell a clean shutdown from a crash; `None` for a backend
    /// without a server log.
    fn log_signs(&self) -> Option<LogSigns> {
        None
    }

    /// How its own command-line client runs in the server's container, logged in as
    /// `user` in `namespace`; `None` where dbcompat has no client session for it.
    fn client(&self, _user: &str, _namespace: &str) -> Option<ClientLaunch> {
        None
    }

    /// Whether its client holds a cursor open across steps as the driver does.
    fn client_holds_cursors(&self) -> bool {
        false
    }
}

impl dyn Dialect {
    /// The statement that sets `level`, or why the backend has no such level.
    pub fn set_isolation(&self, level: Isolation) -> Result<Option<String>, String> {
        if !self.isolation_levels().contains(&level) {
            return Err(format!("{} has no {} isolation level", self.name(), level.sql_name()));
        }
        Ok(self.isolation_sql(level))
    }
}

/// Single-quotes a word for a POSIX shell.
fn sh_quote(s: &str) -> String {
    crate::driver::client::sh_quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_each_backend_has_its_own_module() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
            assert_eq!(b.dialects().first(), Some(&b.name()), "a backend's own key comes first");
        }
        assert!("db2".parse::<Backend>().is_err());
    }

    #[test]
    fn isolation_statements_follow_each_dialect() {
        let set = |b: Backend, l| b.dialect().set_isolation(l);
        assert_eq!(set(Backend::Mariadb, Isolation::ReadCommitted).unwrap().unwrap(), "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
        assert!(set(Backend::Postgres, Isolation::RepeatableRead).unwrap().unwrap().contains("CHARACTERISTICS"));
        assert_eq!(set(Backend::Sqlite, Isolation::Serializable).unwrap(), None);
        assert!(set(Backend::Sqlite, Isolation::ReadCommitted).is_err());
        assert!(set(Backend::Oracle, Isolation::RepeatableRead).is_err());
        assert_eq!(set(Backend::Oracle, Isolation::Serializable).unwrap().unwrap(), "ALTER SESSION SET ISOLATION_LEVEL = SERIALIZABLE");
    }

    #[test]
    fn every_default_isolation_level_is_offered() {
        for b in Backend::ALL {
            assert!(!b.dialect().isolation_levels().is_empty(), "{b}");
        }
    }

    #[test]
    fn version_keys_name_the_major_version() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(Backend::Postgres.dialect().version_key(&v("17.2 (Debian)")), "postgres=17");
        assert_eq!(Backend::Postgres.dialect().version_key(&v("9.6.24")), "postgres=9.6");
        assert_eq!(Backend::Mariadb.dialect().version_key(&v("10.11.6-MariaDB")), "mariadb=10.11");
        assert_eq!(Backend::Mysql.dialect().version_key(&v("9.7.0")), "mysql=9.7");
    }

    #[test]
    fn namespaces_are_quoted_in_each_dialect() {
        assert_eq!(Backend::Mysql.dialect().quote_ident("a`b"), "`a``b`");
        assert_eq!(Backend::Postgres.dialect().quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Backend::Postgres.dialect().create_namespace("\"s\"", "pw").unwrap(), vec![("CREATE SCHEMA \"s\"".to_string(), "CREATE SCHEMA \"s\"".to_string())]);
        assert_eq!(Backend::Oracle.dialect().namespace_name("dbc_x_1".into()), "DBC_X_1");
    }
}
