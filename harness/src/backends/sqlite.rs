//! SQLite: embedded, from the linked library or one loaded at run time
//! (target/embedded.rs, driver/sqlite.rs); a case's namespace is a database file.

use async_trait::async_trait;

use super::{sh_quote, ClientLaunch, ContainerContract, Dialect, Endpoint, UrlForm};
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::{ConnectSetup, Profile, SetupStatement};

pub struct Sqlite;

/// Result codes the table names (sqlite.org/rescode.html): extended codes, whose low
/// byte is the primary code.
mod code {
    pub const ERROR: i32 = 1;
    pub const BUSY: i32 = 5;
    pub const LOCKED: i32 = 6;
    pub const INTERRUPT: i32 = 9;
    pub const TOOBIG: i32 = 18;
    pub const MISMATCH: i32 = 20;
    pub const CONSTRAINT_CHECK: i32 = 275;
    pub const CONSTRAINT_FOREIGNKEY: i32 = 787;
    pub const CONSTRAINT_NOTNULL: i32 = 1299;
    pub const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    pub const CONSTRAINT_UNIQUE: i32 = 2067;
    /// STRICT tables.
    pub const CONSTRAINT_DATATYPE: i32 = 3091;
    /// A WAL reader's snapshot is stale.
    pub const BUSY_SNAPSHOT: i32 = 517;
}

/// SQLite: extended result code (and message, for the generic SQLITE_ERROR).
pub fn class(code: &str, message: &str) -> ErrorClass {
    use code::*;
    use ErrorClass::*;
    let Ok(extended) = code.parse::<i32>() else { return Other };
    match extended {
        CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY => UniqueViolation,
        CONSTRAINT_NOTNULL => NotNullViolation,
        CONSTRAINT_FOREIGNKEY => ForeignKeyViolation,
        CONSTRAINT_CHECK => CheckViolation,
        CONSTRAINT_DATATYPE => DatatypeMismatch,
        BUSY_SNAPSHOT => SerializationFailure,
        INTERRUPT => QueryCanceled,
        TOOBIG => DataTooLong,
        MISMATCH => DatatypeMismatch,
        c if c & 0xff == BUSY || c & 0xff == LOCKED => Busy,
        c if c & 0xff == ERROR => generic_error(message),
        _ => Other,
    }
}

/// SQLITE_ERROR covers many conditions; its message is all that tells them apart.
fn generic_error(message: &str) -> ErrorClass {
    use ErrorClass::*;
    let m = message.to_ascii_lowercase();
    if m.contains("syntax error") || m.contains("unrecognized token") || m.contains("incomplete input") {
        Syntax
    } else if m.starts_with("no such") || m.contains("has no column named") {
        UndefinedObject
    } else if m.contains("already exists") {
        DuplicateObject
    } else if m.contains("no transaction is active") || m.contains("within a transaction") {
        InvalidTransactionState
    } else if m.contains("too many") {
        LimitExceeded
    } else if m.contains("datatype mismatch") {
        DatatypeMismatch
    } else {
        Other
    }
}

#[async_trait]
impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn django_module(&self) -> Option<&'static str> {
        Some("sqlite3")
    }

    fn sql_keys(&self) -> &'static [&'static str] {
        &["sqlite"]
    }

    fn embedded(&self) -> bool {
        true
    }

    fn url(&self) -> Option<UrlForm> {
        None
    }

    fn container(&self) -> Option<ContainerContract> {
        None
    }

    async fn connect(&self, _endpoint: &Endpoint, _namespace: Option<&str>, _profile: Profile) -> Result<Box<dyn Session>, ConnectError> {
        Err(ConnectError::permanent("SQLite is not reached over the network; use launch = \"embedded\" or \"library\""))
    }

    /// Django opens SQLite through Python's sqlite3 module and sets two pragmas.
    fn profile_setup(&self, profile: Profile) -> Result<ConnectSetup, String> {
        Ok(match profile {
            Profile::ServerDefaults => ConnectSetup::default(),
            Profile::Django => ConnectSetup {
                statements: vec![
                    SetupStatement::always(
                        "PRAGMA busy_timeout = 5000",
                        "Python's sqlite3.connect() waits 5 s for a lock by default (timeout=5.0, sqlite3_busy_timeout(db, 5000)); \
                         django/db/backends/sqlite3/base.py get_connection_params passes no timeout unless OPTIONS do",
                    ),
                    SetupStatement::always("PRAGMA foreign_keys = ON", "django/db/backends/sqlite3/base.py, get_new_connection"),
                    SetupStatement::always("PRAGMA legacy_alter_table = OFF", "django/db/backends/sqlite3/base.py, get_new_connection"),
                ],
                not_reproduced: &["the SQL functions Django registers (django/db/backends/sqlite3/_functions.py, register: django_date_extract, regexp, LPAD, MD5, SHA1, ..., and math functions where SQLite lacks them) are Python code; no probe calls them"],
            },
        })
    }

    /// SQLite transactions are serializable; there is nothing to set.
    fn isolation_levels(&self) -> &'static [Isolation] {
        &[Isolation::Serializable]
    }

    fn isolation_sql(&self, _level: Isolation) -> Option<String> {
        None
    }

    fn session_state_sql(&self) -> &'static str {
        "SELECT (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
         (SELECT synchronous FROM pragma_synchronous) AS synchronous, (SELECT timeout FROM pragma_busy_timeout) AS busy_timeout, \
         (SELECT recursive_triggers FROM pragma_recursive_triggers) AS recursive_triggers"
    }

    fn classify(&self, code: &str, message: &str) -> ErrorClass {
        class(code, message)
    }

    /// The `sqlite3` shell on the namespace's database file, unbuffered, its errors
    /// joined to its output; the target runs it against its own library.
    fn client(&self, _user: &str, namespace: &str) -> Option<ClientLaunch> {
        let script = format!("exec stdbuf -o0 -e0 sqlite3 -batch -init /dev/null {} 2>&1", sh_quote(namespace));
        Some(ClientLaunch { script, format: Box::new(crate::driver::client::sqlite::SqliteShell::new(class)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn extended_codes() {
        let c = |code: i32, m: &str| class(&code.to_string(), m);
        assert_eq!(c(2067, "UNIQUE constraint failed: t.a"), UniqueViolation);
        assert_eq!(c(1555, "UNIQUE constraint failed: t.id"), UniqueViolation);
        assert_eq!(c(1299, "NOT NULL constraint failed: t.a"), NotNullViolation);
        assert_eq!(c(787, "FOREIGN KEY constraint failed"), ForeignKeyViolation);
        assert_eq!(c(5, "database is locked"), Busy);
        assert_eq!(c(261, "database is locked"), Busy); // BUSY_RECOVERY
        assert_eq!(c(6, "database table is locked"), Busy);
        assert_eq!(c(517, "database is locked"), SerializationFailure);
        assert_eq!(c(1, "near \"FOR\": syntax error"), Syntax);
        assert_eq!(c(1, "no such table: t"), UndefinedObject);
        assert_eq!(c(1, "no such savepoint: s1"), UndefinedObject);
        assert_eq!(c(1, "table t already exists"), DuplicateObject);
        assert_eq!(c(1, "cannot commit - no transaction is active"), InvalidTransactionState);
        assert_eq!(c(1, "cannot start a transaction within a transaction"), InvalidTransactionState);
        assert_eq!(c(9, "interrupted"), QueryCanceled);
    }
}
