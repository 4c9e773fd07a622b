//! MySQL, and what MariaDB shares with it: the protocol (driver/mysql.rs), the error
//! numbers, backtick quoting, a database per namespace, the session variables read
//! back, the command-line client.

use async_trait::async_trait;

use super::{sh_quote, ClientLaunch, ContainerContract, Dialect, Endpoint, LogSigns, UrlForm};
use crate::driver::client::mysql::{MysqlClient, DELIMITER};
use crate::driver::mysql::{MySqlOptions, MySqlSession};
use crate::driver::error::Classify;
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::{ConnectSetup, Profile, SetupStatement};

pub struct Mysql;

/// Server error numbers the table names (MySQL Server Error Message Reference; MariaDB
/// uses the same numbers below 1900 and adds its own above).
mod er {
    pub const DUP_ENTRY: u16 = 1062;
    pub const DUP_ENTRY_WITH_KEY_NAME: u16 = 1586;
    pub const DUP_KEY: u16 = 1022;
    pub const DUP_UNIQUE: u16 = 1169;
    pub const BAD_NULL_ERROR: u16 = 1048;
    pub const NO_DEFAULT_FOR_FIELD: u16 = 1364;
    pub const WARN_NULL_TO_NOTNULL: u16 = 1263;
    pub const ROW_IS_REFERENCED: u16 = 1217;
    pub const NO_REFERENCED_ROW: u16 = 1216;
    pub const ROW_IS_REFERENCED_2: u16 = 1451;
    pub const NO_REFERENCED_ROW_2: u16 = 1452;
    pub const CHECK_CONSTRAINT_VIOLATED: u16 = 3819;
    /// MariaDB's ER_CONSTRAINT_FAILED.
    pub const CONSTRAINT_FAILED: u16 = 4025;
    /// ER_LOCK_NOWAIT (MySQL 8.0.1+).
    pub const LOCK_NOWAIT: u16 = 3572;
    /// ER_LOCK_WAIT_TIMEOUT, also what MariaDB's NOWAIT returns.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    pub const LOCK_DEADLOCK: u16 = 1213;
    /// ER_CHECKREAD: InnoDB's snapshot write conflict on MariaDB (innodb_snapshot_isolation).
    pub const CHECKREAD: u16 = 1020;
    pub const PARSE_ERROR: u16 = 1064;
    pub const SYNTAX_ERROR: u16 = 1149;
    pub const UNDEFINED: [u16; 11] = [
        1193, // UNKNOWN_SYSTEM_VARIABLE
        1273, // UNKNOWN_COLLATION
        1824, // FK_CANNOT_OPEN_PARENT
        1146, // NO_SUCH_TABLE
        1054, // BAD_FIELD_ERROR
        1305, // SP_DOES_NOT_EXIST (also a missing savepoint)
        1049, // BAD_DB_ERROR
        1091, // CANT_DROP_FIELD_OR_KEY
        1051, // BAD_TABLE_ERROR
        1176, // KEY_DOES_NOT_EXITS
        1109, // UNKNOWN_TABLE
    ];
    pub const DUPLICATE: [u16; 5] = [
        1050, // TABLE_EXISTS_ERROR
        1007, // DB_CREATE_EXISTS
        1060, // DUP_FIELDNAME
        1061, // DUP_KEYNAME
        1826, // FK_DUP_NAME
    ];
    pub const DATA_TOO_LONG: u16 = 1406;
    pub const INVALID_VALUE: [u16; 9] = [
        1231, // WRONG_VALUE_FOR_VAR
        1264, // WARN_DATA_OUT_OF_RANGE
        1265, // WARN_DATA_TRUNCATED
        1292, // TRUNCATED_WRONG_VALUE
        1366, // TRUNCATED_WRONG_VALUE_FOR_FIELD
        1367, // ILLEGAL_VALUE_FOR_TYPE
        1411, // WRONG_VALUE_FOR_TYPE
        1690, // DATA_OUT_OF_RANGE
        1210, // WRONG_ARGUMENTS
    ];
    pub const INVALID_DEFINITION: [u16; 7] = [
        1005, // CANT_CREATE_TABLE (e.g. a foreign key InnoDB cannot make, errno 150)
        1103, // WRONG_TABLE_NAME
        1170, // BLOB_KEY_WITHOUT_LENGTH
        1063, // WRONG_FIELD_SPEC
        1075, // WRONG_AUTO_KEY
        1067, // INVALID_DEFAULT
        1101, // BLOB_CANT_HAVE_DEFAULT
    ];
    pub const LIMIT: [u16; 6] = [
        1071, // TOO_LONG_KEY
        1059, // TOO_LONG_IDENT
        1074, // TOO_BIG_FIELDLENGTH
        1118, // TOO_BIG_ROWSIZE
        1117, // TOO_MANY_FIELDS
        1069, // TOO_MANY_KEYS
    ];
    pub const NOT_SUPPORTED: [u16; 5] = [
        1093, // UPDATE_TABLE_USED (MySQL: a target table read in its own subquery)
        1235, // NOT_SUPPORTED_YET
        1178, // CHECK_NOT_IMPLEMENTED
        1295, // UNSUPPORTED_PS
        1221, // WRONG_USAGE
    ];
    pub const TRANSACTION_STATE: [u16; 4] = [
        1568, // CANT_CHANGE_TX_CHARACTERISTICS
        1399, // XAER_RMFAIL
        1400, // XAER_OUTSIDE
        1179, // CANT_DO_THIS_DURING_AN_TRANSACTION
    ];
    /// MySQL's own numbers (from 3000 on MariaDB's numbers mean other errors).
    pub const MYSQL_ONLY: [(u16, super::ErrorClass); 5] = [
        (3057, super::ErrorClass::InvalidValue),   // USER_LOCK_WRONG_NAME (an empty or NULL GET_LOCK name)
        (3058, super::ErrorClass::Deadlock),       // USER_LOCK_DEADLOCK (GET_LOCK waits in a cycle)
        (3140, super::ErrorClass::InvalidValue),   // INVALID_JSON_TEXT
        (3500, super::ErrorClass::NotSupported),   // UNSUPPORT_COMPRESSED_TEMPORARY_TABLE
        (4163, super::ErrorClass::LimitExceeded),  // USER_LOCK_OVERLONG_NAME
    ];
    pub const CANCELED: [u16; 3] = [
        1317, // QUERY_INTERRUPTED
        3024, // QUERY_TIMEOUT (MySQL's max_execution_time)
        1969, // STATEMENT_TIMEOUT (MariaDB's max_statement_time)
    ];
}

/// MySQL: the server's error number (the message never decides).
pub fn class(code: &str, message: &str) -> ErrorClass {
    own_number(code, &er::MYSQL_ONLY).unwrap_or_else(|| shared_class(code, message))
}

/// The class of a number in a backend's own table.
pub(super) fn own_number(code: &str, own: &[(u16, ErrorClass)]) -> Option<ErrorClass> {
    let number = code.parse::<u16>().ok()?;
    own.iter().find(|(n, _)| *n == number).map(|(_, c)| *c)
}

/// The numbers MySQL and MariaDB share (those of MySQL 5.5, from which MariaDB forked).
pub(super) fn shared_class(code: &str, _message: &str) -> ErrorClass {
    use er::*;
    use ErrorClass::*;
    let Ok(number) = code.parse::<u16>() else { return Other };
    match number {
        DUP_ENTRY | DUP_ENTRY_WITH_KEY_NAME | DUP_KEY | DUP_UNIQUE => UniqueViolation,
        BAD_NULL_ERROR | NO_DEFAULT_FOR_FIELD | WARN_NULL_TO_NOTNULL => NotNullViolation,
        NO_REFERENCED_ROW | ROW_IS_REFERENCED | ROW_IS_REFERENCED_2 | NO_REFERENCED_ROW_2 => ForeignKeyViolation,
        CHECK_CONSTRAINT_VIOLATED | CONSTRAINT_FAILED => CheckViolation,
        LOCK_NOWAIT => LockNotAvailable,
        LOCK_WAIT_TIMEOUT => LockTimeout,
        LOCK_DEADLOCK => Deadlock,
        CHECKREAD => SerializationFailure,
        PARSE_ERROR | SYNTAX_ERROR => Syntax,
        n if UNDEFINED.contains(&n) => UndefinedObject,
        n if DUPLICATE.contains(&n) => DuplicateObject,
        DATA_TOO_LONG => DataTooLong,
        n if INVALID_VALUE.contains(&n) => InvalidValue,
        n if INVALID_DEFINITION.contains(&n) => InvalidDefinition,
        n if LIMIT.contains(&n) => LimitExceeded,
        n if NOT_SUPPORTED.contains(&n) => NotSupported,
        n if TRANSACTION_STATE.contains(&n) => InvalidTransactionState,
        n if CANCELED.contains(&n) => QueryCanceled,
        _ => Other,
    }
}

/// Sessions start as the vendor's own client's do (see driver/mysql.rs); `after_connect`
/// is what that client's session has that mysql_async's handshake does not give.
pub(super) fn options(endpoint: &Endpoint, database: Option<&str>, after_connect: fn((u16, u16, u16)) -> Option<&'static str>, classify: Classify) -> MySqlOptions {
    MySqlOptions {
        found_rows: false,
        host: endpoint.host.clone(),
        port: endpoint.port,
        user: endpoint.user.clone(),
        password: endpoint.password.clone(),
        database: database.or(endpoint.database.as_deref()).map(str::to_string),
        after_connect,
        classify,
        cancel_sql: |id| format!("KILL QUERY {id}"),
        lock_wait_sql,
    }
}

/// Row locks show in InnoDB's transaction list; table, metadata and user (GET_LOCK)
/// locks in the connection's state: `Waiting for table metadata lock` and the other
/// `Waiting for ... lock` states, `Waiting for table flush`, `User lock` (GET_LOCK),
/// `Locked` and `Table lock`. Not `System lock` (a table being opened) nor
/// `waiting for handler commit` (a commit's flush): a DDL slowed by a loaded disk shows
/// those, and is slow, not blocked.
fn lock_wait_sql(id: u32) -> String {
    format!(
        "SELECT (SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = {id} AND trx_state = 'LOCK WAIT') \
         + (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND (STATE LIKE 'Waiting for % lock' \
         OR STATE IN ('Waiting for table flush', 'User lock', 'Locked', 'Table lock')))"
    )
}

/// The `mysql` client of MySQL 8.0 and later asks for utf8mb4_0900_ai_ci (255), the
/// server's default utf8mb4 collation; mysql_async's handshake asks for
/// utf8mb4_general_ci (45).
fn mysql_client_charset(server: (u16, u16, u16)) -> Option<&'static str> {
    (server >= (8, 0, 0)).then_some("SET NAMES utf8mb4 COLLATE utf8mb4_0900_ai_ci")
}

/// `after_connect` is what the server's own client's session has that mysql_async's
/// handshake does not give; a framework profile asks for its own handshake instead.
pub(super) async fn connect(endpoint: &Endpoint, namespace: Option<&str>, profile: Profile, after_connect: fn((u16, u16, u16)) -> Option<&'static str>, classify: Classify) -> Result<Box<dyn Session>, ConnectError> {
    let admin = options(endpoint, None, after_connect, classify);
    let session = match profile {
        Profile::ServerDefaults => options(endpoint, namespace, after_connect, classify),
        // mysqlclient's handshake asks for Django's utf8mb4 (its SET NAMES follows in
        // profile_setup) with the FOUND_ROWS flag.
        Profile::Django => MySqlOptions { found_rows: true, after_connect: |_| None, ..options(endpoint, namespace, after_connect, classify) },
    };
    Ok(Box::new(MySqlSession::connect(&session, admin).await?))
}

/// Django's MySQL backend connects through mysqlclient (MySQLdb); MariaDB the same.
pub(super) fn profile_setup(profile: Profile) -> ConnectSetup {
    match profile {
        Profile::ServerDefaults => ConnectSetup::default(),
        Profile::Django => ConnectSetup {
            statements: vec![
                SetupStatement::always(
                    "SET NAMES utf8mb4",
                    "django/db/backends/mysql/base.py, get_connection_params: charset \"utf8mb4\"; mysqlclient's Connection.__init__ \
                     then calls set_character_set(charset), whose mysql_set_character_set() sends SET NAMES",
                ),
                SetupStatement::always("set autocommit=0", "mysqlclient's Connection.__init__: autocommit defaults to False (PEP 249), so mysql_autocommit(0)"),
                SetupStatement::always(
                    "set autocommit=1",
                    "django/db/backends/base/base.py, connect(): set_autocommit(AUTOCOMMIT, True by default) before init_connection_state",
                ),
                SetupStatement::unless(
                    "SET SQL_AUTO_IS_NULL = 0",
                    "SELECT @@sql_auto_is_null",
                    "0",
                    "django/db/backends/mysql/base.py, init_connection_state: only when features.is_sql_auto_is_null_enabled",
                ),
                SetupStatement::always(
                    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                    "django/db/backends/mysql/base.py, get_connection_params: OPTIONS isolation_level defaults to \"read committed\"; \
                     init_connection_state sets it",
                ),
            ],
            not_reproduced: &[
                "the CLIENT_FOUND_ROWS flag is reproduced (django/db/backends/mysql/base.py, get_connection_params); mysqlclient's \
                 MULTI_STATEMENTS and MULTI_RESULTS flags let one query hold several statements and change no single statement's result",
                "Django sends its two init_connection_state statements as one query joined by \"; \"; they run here one by one, to the same effect",
                "Django's value conversions (conv) are Python-side",
            ],
        },
    }
}

/// The client (`mysql` or `mariadb`) with an option file for the password, as the
/// client's manual advises; removed when the client ends.
pub(super) fn client(name: &'static str, user: &str, namespace: &str, classify: Classify) -> ClientLaunch {
    let script = format!(
        "read -r p; f=$(mktemp); printf '[client]\\npassword=%s\\n' \"$p\" > \"$f\"; \
         {name} --defaults-extra-file=\"$f\" -h 127.0.0.1 --protocol=tcp -u {} -D {} --batch --force --unbuffered \
         --show-warnings --binary-as-hex -vv --delimiter={} 2>&1; rm -f \"$f\"",
        sh_quote(user),
        sh_quote(namespace),
        sh_quote(DELIMITER)
    );
    ClientLaunch { script, format: Box::new(MysqlClient { name, classify }) }
}

pub(super) const ISOLATION_LEVELS: &[Isolation] = &[Isolation::RepeatableRead, Isolation::ReadUncommitted, Isolation::ReadCommitted, Isolation::Serializable];

pub(super) fn isolation_sql(level: Isolation) -> Option<String> {
    Some(format!("SET SESSION TRANSACTION ISOLATION LEVEL {}", level.sql_name()))
}

pub(super) const SESSION_STATE_SQL: &str = "SHOW SESSION VARIABLES WHERE Variable_name IN ('sql_mode', 'time_zone', 'character_set_client', \
     'character_set_connection', 'character_set_results', 'collation_connection', 'autocommit', 'transaction_isolation', 'tx_isolation')";

pub(super) const URL: UrlForm = UrlForm { schemes: &["mysql", "mariadb"], default_port: 3306 };

pub(super) const LOG_SIGNS: LogSigns = LogSigns {
    clean_shutdown: &["Shutdown complete"],
    recovery: &["crash recovery", "Recovering after a crash", "Database was not shutdown normally"],
    context: &["Normal shutdown", "Received SHUTDOWN", "Shutdown completed;", "ready for connections"],
};

pub(super) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[async_trait]
impl Dialect for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn django_module(&self) -> Option<&'static str> {
        Some("mysql")
    }

    fn sql_keys(&self) -> &'static [&'static str] {
        &["mysql"]
    }

    fn url(&self) -> Option<UrlForm> {
        Some(URL)
    }

    fn container(&self) -> Option<ContainerContract> {
        Some(ContainerContract { port: 3306, user: "root", password_env: Some("MYSQL_ROOT_PASSWORD") })
    }

    async fn connect(&self, endpoint: &Endpoint, namespace: Option<&str>, profile: Profile) -> Result<Box<dyn Session>, ConnectError> {
        connect(endpoint, namespace, profile, mysql_client_charset, class).await
    }

    fn profile_setup(&self, profile: Profile) -> Result<ConnectSetup, String> {
        Ok(profile_setup(profile))
    }

    fn check_identity(&self, version_text: &str) -> Result<(), String> {
        if version_text.to_ascii_lowercase().contains("mariadb") {
            return Err(format!("the server reports `{version_text}`, which is not mysql"));
        }
        Ok(())
    }

    fn quote_ident(&self, name: &str) -> String {
        quote(name)
    }

    fn isolation_levels(&self) -> &'static [Isolation] {
        ISOLATION_LEVELS
    }

    fn isolation_sql(&self, level: Isolation) -> Option<String> {
        isolation_sql(level)
    }

    fn session_state_sql(&self) -> &'static str {
        SESSION_STATE_SQL
    }

    fn classify(&self, code: &str, message: &str) -> ErrorClass {
        class(code, message)
    }

    fn log_signs(&self) -> Option<LogSigns> {
        Some(LOG_SIGNS)
    }

    fn client(&self, user: &str, namespace: &str) -> Option<ClientLaunch> {
        Some(client("mysql", user, namespace, class))
    }

    /// Its client session buffers cursors as the driver does (driver/client/mysql.rs).
    fn client_holds_cursors(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn error_numbers() {
        let c = |n: u16| class(&n.to_string(), "");
        assert_eq!(c(1062), UniqueViolation);
        assert_eq!(c(1205), LockTimeout);
        assert_eq!(c(1213), Deadlock);
        assert_eq!(c(3058), Deadlock, "a user-lock deadlock is a deadlock");
        assert_eq!(c(3057), InvalidValue);
        assert_eq!(c(3572), LockNotAvailable);
        assert_eq!(c(1064), Syntax);
        assert_eq!(c(1406), DataTooLong);
        assert_eq!(c(1366), InvalidValue);
        assert_eq!(c(1170), InvalidDefinition);
        assert_eq!(c(1071), LimitExceeded);
        assert_eq!(c(1059), LimitExceeded);
        assert_eq!(c(1305), UndefinedObject);
        assert_eq!(c(1235), NotSupported);
        assert_eq!(c(3819), CheckViolation);
        assert_eq!(c(1273), UndefinedObject);
        assert_eq!(c(1093), NotSupported);
        assert_eq!(c(3140), InvalidValue);
        assert_eq!(c(4163), LimitExceeded);
        assert_eq!(c(4161), Other, "MariaDB's unknown data type is another error on MySQL");
        assert_eq!(c(9999), Other);
        assert_eq!(class("HY000", ""), Other);
    }

    #[test]
    fn a_mysql_session_asks_for_the_clients_collation_from_8_0_on() {
        assert_eq!(mysql_client_charset((5, 7, 44)), None);
        assert!(mysql_client_charset((9, 7, 0)).unwrap().contains("utf8mb4_0900_ai_ci"));
    }

    #[test]
    fn a_mariadb_server_is_not_taken_for_mysql() {
        assert!(Mysql.check_identity("11.8.6-MariaDB-0+deb13u1").is_err());
        assert!(Mysql.check_identity("9.7.0").is_ok());
    }
}
