//! CockroachDB: PostgreSQL's wire protocol and SQLSTATEs, its own defaults. Configured
//! here but not run: no CockroachDB image or package can be had on the machines
//! dbcompat's CI uses, so its targets are reported as not run where it cannot start.
//! It exists as much to show what a backend is: this file and one variant of
//! [`super::Backend`].

use async_trait::async_trait;

use super::postgres;
use super::{ContainerContract, Dialect, Endpoint, UrlForm};
use crate::driver::postgres::{PgConnect, PgSession};
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::Profile;

pub struct Cockroachdb;

/// A namespace is a database (CockroachDB's databases are cheap, unlike PostgreSQL's).
fn pg_connect(endpoint: &Endpoint, database: Option<&str>) -> PgConnect {
    // CockroachDB's pg_stat_activity has no wait events: blocking is judged by time alone.
    PgConnect {
        database: database.map(str::to_string).or_else(|| endpoint.database.clone()),
        lock_wait_sql: None,
        ..postgres::pg_connect(endpoint, None, postgres::class)
    }
}

#[async_trait]
impl Dialect for Cockroachdb {
    fn name(&self) -> &'static str {
        "cockroachdb"
    }

    /// CockroachDB runs much of PostgreSQL's SQL, but not all: a suite says so per probe.
    fn sql_keys(&self) -> &'static [&'static str] {
        &["cockroachdb", "postgres"]
    }

    fn url(&self) -> Option<UrlForm> {
        Some(UrlForm { schemes: &["cockroachdb", "postgresql", "postgres"], default_port: 26257 })
    }

    /// cockroachdb/cockroach started with `start-single-node --insecure`: root, no password.
    fn container(&self) -> Option<ContainerContract> {
        Some(ContainerContract { port: 26257, user: "root", password_env: None })
    }

    async fn connect(&self, endpoint: &Endpoint, namespace: Option<&str>, _profile: Profile) -> Result<Box<dyn Session>, ConnectError> {
        let session = PgSession::connect(&pg_connect(endpoint, namespace), pg_connect(endpoint, None)).await?;
        Ok(Box::new(session))
    }

    fn check_identity(&self, version_text: &str) -> Result<(), String> {
        if !version_text.contains("CockroachDB") {
            return Err(format!("the server reports `{version_text}`, which is not cockroachdb"));
        }
        Ok(())
    }

    fn drop_namespace(&self, ident: &str) -> String {
        format!("DROP DATABASE IF EXISTS {ident} CASCADE")
    }

    /// SERIALIZABLE is the default; READ COMMITTED since 23.2 (where the cluster allows it).
    fn isolation_levels(&self) -> &'static [Isolation] {
        &[Isolation::Serializable, Isolation::ReadCommitted]
    }

    fn isolation_sql(&self, level: Isolation) -> Option<String> {
        Some(format!("SET default_transaction_isolation = '{}'", level.sql_name().to_ascii_lowercase()))
    }

    fn session_state_sql(&self) -> &'static str {
        "SELECT variable, value FROM [SHOW ALL] WHERE variable IN ('timezone', 'datestyle', 'intervalstyle', 'client_encoding', \
         'extra_float_digits', 'standard_conforming_strings', 'default_transaction_isolation', 'search_path') ORDER BY variable"
    }

    fn classify(&self, code: &str, message: &str) -> ErrorClass {
        postgres::class(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Backend;
    use super::*;
    use crate::source::SourceFile;

    #[test]
    fn a_cockroachdb_target_is_configured_like_any_server() {
        let text = "[[target]]\nname = \"crdb\"\nbackend = \"cockroachdb\"\nlaunch = \"container\"\nimage = \"cockroachdb/cockroach\"\ntag = \"v24.1.0\"\nargs = [\"start-single-node\", \"--insecure\"]\n";
        let (matrix, diagnostics) = crate::matrix::parse(&SourceFile::new("m.toml", text.into()));
        assert!(diagnostics.is_empty(), "{diagnostics}");
        assert_eq!(matrix.find("crdb").unwrap().backend, Backend::Cockroachdb);
    }

    #[test]
    fn its_urls_sql_and_errors_are_its_own() {
        let e = crate::targets::external::parse_url(Backend::Cockroachdb, "cockroachdb://root@db.example/defaultdb").unwrap();
        assert_eq!((e.port, e.database.as_deref()), (26257, Some("defaultdb")));
        assert_eq!(Backend::Cockroachdb.dialects(), ["cockroachdb", "postgres"]);
        assert!(Cockroachdb.check_identity("PostgreSQL 16.4").is_err());
        assert!(Cockroachdb.check_identity("CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu)").is_ok());
        assert_eq!(Cockroachdb.classify("40001", "restart transaction"), ErrorClass::SerializationFailure);
        assert!(Backend::Cockroachdb.dialect().set_isolation(Isolation::RepeatableRead).is_err());
        assert_eq!(pg_connect(&e, Some("dbc_p_1")).database.as_deref(), Some("dbc_p_1"));
    }
}
