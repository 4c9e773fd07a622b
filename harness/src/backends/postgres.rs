//! PostgreSQL: reached over its wire protocol (driver/postgres.rs); a case's namespace
//! is a schema in the administrative database.

use async_trait::async_trait;

use super::{sh_quote, ClientLaunch, ContainerContract, Dialect, Endpoint, LogSigns, UrlForm};
use crate::driver::client::psql::Psql;
use crate::driver::postgres::{PgConnect, PgSession};
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::{ConnectSetup, Profile, SetupStatement};
use crate::version::Version;

pub struct Postgres;

/// SQLSTATEs the table names (PostgreSQL manual, Appendix A, "PostgreSQL Error Codes").
mod sqlstate {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const CHECK_VIOLATION: &str = "23514";
    /// Both NOWAIT and lock_timeout: the message tells them apart.
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const UNDEFINED: [&str; 9] = [
        "42P01", // undefined_table
        "42703", // undefined_column
        "42883", // undefined_function
        "42704", // undefined_object
        "3F000", // invalid_schema_name
        "3D000", // invalid_catalog_name
        "42P02", // undefined_parameter
        "3B001", // invalid_savepoint_specification
        "34000", // invalid_cursor_name
    ];
    pub const DUPLICATE: [&str; 7] = [
        "42P07", // duplicate_table
        "42710", // duplicate_object
        "42P06", // duplicate_schema
        "42P04", // duplicate_database
        "42723", // duplicate_function
        "42701", // duplicate_column
        "3B000", // savepoint_exception
    ];
    pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
    pub const DATATYPE_MISMATCH: [&str; 2] = ["42804", "42846"]; // datatype_mismatch, cannot_coerce
    pub const INVALID_DEFINITION: [&str; 3] = ["42P16", "42611", "42P17"]; // invalid_table_definition, invalid_column_definition, invalid_object_definition
    pub const NAME_TOO_LONG: &str = "42622";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const QUERY_CANCELED: &str = "57014";
    /// Class 54: program limit exceeded.
    pub const LIMIT_CLASS: &str = "54";
    /// Class 22: data exception.
    pub const DATA_EXCEPTION_CLASS: &str = "22";
    /// Class 25: invalid transaction state.
    pub const TRANSACTION_STATE_CLASS: &str = "25";
    /// Class 42: syntax error or access rule violation (42000 itself is access).
    pub const SYNTAX_CLASS: &str = "42";
    pub const SYNTAX_OR_ACCESS: &str = "42000";
}

/// PostgreSQL: SQLSTATE (and message, to tell lock_timeout from NOWAIT under 55P03).
pub fn class(code: &str, message: &str) -> ErrorClass {
    use sqlstate::*;
    use ErrorClass::*;
    match code {
        UNIQUE_VIOLATION => UniqueViolation,
        NOT_NULL_VIOLATION => NotNullViolation,
        FOREIGN_KEY_VIOLATION => ForeignKeyViolation,
        CHECK_VIOLATION => CheckViolation,
        LOCK_NOT_AVAILABLE if message.contains("lock timeout") => LockTimeout,
        LOCK_NOT_AVAILABLE => LockNotAvailable,
        DEADLOCK_DETECTED => Deadlock,
        SERIALIZATION_FAILURE => SerializationFailure,
        SYNTAX_ERROR => Syntax,
        c if UNDEFINED.contains(&c) => UndefinedObject,
        c if DUPLICATE.contains(&c) => DuplicateObject,
        STRING_DATA_RIGHT_TRUNCATION => DataTooLong,
        c if DATATYPE_MISMATCH.contains(&c) => DatatypeMismatch,
        c if INVALID_DEFINITION.contains(&c) => InvalidDefinition,
        NAME_TOO_LONG => LimitExceeded,
        FEATURE_NOT_SUPPORTED => NotSupported,
        IN_FAILED_SQL_TRANSACTION => TransactionAborted,
        QUERY_CANCELED => QueryCanceled,
        c if c.starts_with(LIMIT_CLASS) => LimitExceeded,
        c if c.starts_with(DATA_EXCEPTION_CLASS) => InvalidValue,
        c if c.starts_with(TRANSACTION_STATE_CLASS) => InvalidTransactionState,
        c if c.starts_with(SYNTAX_CLASS) && c != SYNTAX_OR_ACCESS => Syntax,
        _ => Other,
    }
}

/// On PostgreSQL a namespace is a schema in the administrative database: creating a
/// database copies template1 and costs a hundred times more than a schema, and the
/// session's search_path makes the schema its own.
pub(super) fn pg_connect(endpoint: &Endpoint, schema: Option<&str>, classify: crate::driver::error::Classify) -> PgConnect {
    PgConnect {
        host: endpoint.host.clone(),
        port: endpoint.port,
        user: endpoint.user.clone(),
        password: endpoint.password.clone(),
        database: endpoint.database.clone(),
        search_path: schema.map(str::to_string),
        classify,
        lock_wait_sql: Some(lock_wait_sql),
    }
}

/// Whether a backend waits for a lock, as the server's activity view says (the
/// question PostgreSQL's own isolation tester asks).
fn lock_wait_sql(pid: i32) -> String {
    format!("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = {pid}")
}

/// psql logged in as the harness's sessions are, with the schema as its search_path
/// (the startup option the driver sends too).
pub(super) fn psql(user: &str, namespace: &str, classify: crate::driver::error::Classify) -> ClientLaunch {
    let script = format!(
        "read -r PGPASSWORD; export PGPASSWORD; PGOPTIONS={}; export PGOPTIONS; exec psql -X -h 127.0.0.1 -U {} -v ON_ERROR_STOP=0",
        sh_quote(&format!("-c search_path={namespace}")),
        sh_quote(user)
    );
    ClientLaunch { script, format: Box::new(Psql { classify }) }
}

#[async_trait]
impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn django_module(&self) -> Option<&'static str> {
        Some("postgresql")
    }

    fn sql_keys(&self) -> &'static [&'static str] {
        &["postgres"]
    }

    fn url(&self) -> Option<UrlForm> {
        Some(UrlForm { schemes: &["postgres", "postgresql"], default_port: 5432 })
    }

    fn container(&self) -> Option<ContainerContract> {
        Some(ContainerContract { port: 5432, user: "postgres", password_env: Some("POSTGRES_PASSWORD") })
    }

    async fn connect(&self, endpoint: &Endpoint, namespace: Option<&str>, _profile: Profile) -> Result<Box<dyn Session>, ConnectError> {
        let session = PgSession::connect(&pg_connect(endpoint, namespace, class), pg_connect(endpoint, None, class)).await?;
        Ok(Box::new(session))
    }

    /// Django's handshake asks for client_encoding UTF8, as dbcompat's always does
    /// (django/db/backends/postgresql/base.py, get_connection_params); then it may set
    /// the time zone.
    fn profile_setup(&self, profile: Profile) -> Result<ConnectSetup, String> {
        Ok(match profile {
            Profile::ServerDefaults => ConnectSetup::default(),
            Profile::Django => ConnectSetup {
                statements: vec![SetupStatement::unless(
                    "SELECT set_config('TimeZone', 'UTC', false)",
                    "SHOW TimeZone",
                    "UTC",
                    "django/db/backends/postgresql/base.py, _configure_timezone: with USE_TZ (the default since Django 5.0) and no TIME_ZONE \
                     for the database, the session's time zone is set to UTC when the server reports another",
                )],
                not_reproduced: &[
                    "psycopg's adapters and Django's JSON loaders convert values in Python; the server sees none of them",
                    "the isolation level: Django leaves psycopg's at the server's default unless OPTIONS name one",
                ],
            },
        })
    }

    fn version_sql(&self) -> &'static str {
        "SHOW server_version"
    }

    /// Since PostgreSQL 10 the major version is the first number alone.
    fn version_key(&self, version: &Version) -> String {
        let parts = if version.0.first().is_some_and(|m| *m >= 10) { 1 } else { 2 };
        let short: Vec<String> = version.0.iter().take(parts).map(u64::to_string).collect();
        format!("postgres={}", short.join("."))
    }

    fn create_namespace(&self, ident: &str, _password: &str) -> Result<Vec<(String, String)>, String> {
        let sql = format!("CREATE SCHEMA {ident}");
        Ok(vec![(sql.clone(), sql)])
    }

    fn drop_namespace(&self, ident: &str) -> String {
        format!("DROP SCHEMA IF EXISTS {ident} CASCADE")
    }

    fn isolation_levels(&self) -> &'static [Isolation] {
        // READ UNCOMMITTED is accepted and behaves as READ COMMITTED (the manual, 13.2).
        &[Isolation::ReadCommitted, Isolation::ReadUncommitted, Isolation::RepeatableRead, Isolation::Serializable]
    }

    fn isolation_sql(&self, level: Isolation) -> Option<String> {
        Some(format!("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {}", level.sql_name()))
    }

    fn session_state_sql(&self) -> &'static str {
        "SELECT name, setting FROM pg_settings WHERE name IN ('TimeZone', 'DateStyle', 'IntervalStyle', 'client_encoding', \
         'extra_float_digits', 'standard_conforming_strings', 'default_transaction_isolation', 'search_path') ORDER BY name"
    }

    fn classify(&self, code: &str, message: &str) -> ErrorClass {
        class(code, message)
    }

    fn log_signs(&self) -> Option<LogSigns> {
        Some(LogSigns {
            clean_shutdown: &["database system is shut down"],
            recovery: &["database system was not properly shut down", "database system was interrupted", "automatic recovery in progress"],
            context: &["shutdown request", "database system was shut down at", "ready to accept connections"],
        })
    }

    fn client(&self, user: &str, namespace: &str) -> Option<ClientLaunch> {
        Some(psql(user, namespace, class))
    }

    /// psql runs the driver's own DECLARE and FETCH, so its cursors live across steps.
    fn client_holds_cursors(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn sqlstates() {
        assert_eq!(class("23505", "duplicate key value"), UniqueViolation);
        assert_eq!(class("55P03", "could not obtain lock on row in relation \"t\""), LockNotAvailable);
        assert_eq!(class("55P03", "canceling statement due to lock timeout"), LockTimeout);
        assert_eq!(class("40P01", "deadlock detected"), Deadlock);
        assert_eq!(class("40001", "could not serialize access"), SerializationFailure);
        assert_eq!(class("25P02", "current transaction is aborted"), TransactionAborted);
        assert_eq!(class("25P01", "SAVEPOINT can only be used in transaction blocks"), InvalidTransactionState);
        assert_eq!(class("3B001", "savepoint \"s\" does not exist"), UndefinedObject);
        assert_eq!(class("42601", "syntax error at or near"), Syntax);
        assert_eq!(class("42P01", "relation \"t\" does not exist"), UndefinedObject);
        assert_eq!(class("22001", "value too long for type character varying(3)"), DataTooLong);
        assert_eq!(class("22007", "invalid input syntax for type timestamp"), InvalidValue);
        assert_eq!(class("0A000", "FOR UPDATE is not allowed with aggregate functions"), NotSupported);
        assert_eq!(class("54000", "index row size exceeds maximum"), LimitExceeded);
        assert_eq!(class("42000", "permission denied"), Other);
        assert_eq!(class("XX000", "internal error"), Other);
    }
}
