//! Oracle: reached through ODPI-C (driver/oracle.rs, built with `--features oracle`);
//! a case's namespace is a user. Sessions never autocommit, and a transaction begins
//! with the first statement.

use async_trait::async_trait;

use super::{ContainerContract, Dialect, Endpoint, LogSigns, UrlForm};
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::{ConnectSetup, Profile, SetupStatement};

pub struct Oracle;

/// ORA- numbers the table names (Oracle Database Error Messages).
mod ora {
    pub const UNIQUE_CONSTRAINT: u32 = 1;
    pub const CANNOT_INSERT_NULL: [u32; 2] = [1400, 1407];
    pub const INTEGRITY_CONSTRAINT: [u32; 2] = [2291, 2292]; // parent key not found; child record found
    pub const CHECK_CONSTRAINT: u32 = 2290;
    /// Resource busy and acquire with NOWAIT specified.
    pub const RESOURCE_BUSY_NOWAIT: u32 = 54;
    /// Resource busy; acquire with WAIT timeout expired.
    pub const RESOURCE_BUSY_TIMEOUT: u32 = 30006;
    pub const DEADLOCK: u32 = 60;
    pub const CANNOT_SERIALIZE: u32 = 8177;
    /// The parser's errors: missing keywords, invalid identifiers and the like.
    pub fn is_syntax(n: u32) -> bool {
        // 979: not a GROUP BY expression (PostgreSQL's 42803, also class 42 there).
        matches!(n, 900..=903 | 905..=911 | 917 | 920..=921 | 923 | 926..=928 | 933 | 936 | 969 | 971 | 979)
    }
    pub const UNDEFINED: [u32; 6] = [904, 942, 1086, 2289, 4043, 1918]; // invalid identifier, no such table, savepoint, sequence, object, user
    pub const DUPLICATE: [u32; 5] = [955, 1408, 1430, 2261, 2264]; // 1408: such column list already indexed
    pub const VALUE_TOO_LARGE: u32 = 12899;
    pub const INVALID_VALUE: [u32; 11] = [1438, 1722, 1830, 1840, 1841, 1843, 1847, 1858, 1861, 1863, 40441]; // 40441: JSON syntax error
    pub const INCONSISTENT_DATATYPES: [u32; 2] = [932, 22848];
    pub const LIMIT: [u32; 3] = [972, 1450, 1792]; // identifier too long, key too long, too many columns
    pub const USER_REQUESTED_CANCEL: u32 = 1013;
    /// 22816: a RETURNING clause where it is not supported; 43929: a collation while
    /// MAX_STRING_SIZE is not EXTENDED.
    pub const NOT_SUPPORTED: [u32; 5] = [3001, 439, 22816, 22859, 43929];
    /// A LOB column in an index (2327) or a primary or unique key (2329), as MySQL's
    /// 1170 (a TEXT key without a prefix length).
    pub const INVALID_KEY_COLUMN: [u32; 2] = [2327, 2329];
    /// Cannot insert into a GENERATED ALWAYS identity column.
    pub const GENERATED_ALWAYS_IDENTITY: u32 = 32795;
}

/// Oracle: the ORA- number, written `ORA-00001` or `1`.
pub fn class(code: &str, _message: &str) -> ErrorClass {
    use ora::*;
    use ErrorClass::*;
    let Ok(n) = code.trim_start_matches("ORA-").parse::<u32>() else { return Other };
    match n {
        UNIQUE_CONSTRAINT => UniqueViolation,
        n if CANNOT_INSERT_NULL.contains(&n) => NotNullViolation,
        n if INTEGRITY_CONSTRAINT.contains(&n) => ForeignKeyViolation,
        CHECK_CONSTRAINT => CheckViolation,
        RESOURCE_BUSY_NOWAIT => LockNotAvailable,
        RESOURCE_BUSY_TIMEOUT => LockTimeout,
        DEADLOCK => Deadlock,
        CANNOT_SERIALIZE => SerializationFailure,
        n if is_syntax(n) => Syntax,
        n if UNDEFINED.contains(&n) => UndefinedObject,
        n if DUPLICATE.contains(&n) => DuplicateObject,
        VALUE_TOO_LARGE => DataTooLong,
        n if INVALID_VALUE.contains(&n) => InvalidValue,
        n if INCONSISTENT_DATATYPES.contains(&n) => DatatypeMismatch,
        n if LIMIT.contains(&n) => LimitExceeded,
        USER_REQUESTED_CANCEL => QueryCanceled,
        n if NOT_SUPPORTED.contains(&n) => NotSupported,
        GENERATED_ALWAYS_IDENTITY => InvalidDefinition,
        n if INVALID_KEY_COLUMN.contains(&n) => InvalidDefinition,
        _ => Other,
    }
}

/// A password as Oracle's `IDENTIFIED BY "..."` takes it. A quoted Oracle password has no
/// escape for `"`; such a password is refused when the URL is read, and here again.
fn quoted_password(password: &str) -> Result<String, String> {
    if password.contains('"') {
        return Err("an Oracle password cannot contain a double quote (\"): dbcompat gives it to each case's user in IDENTIFIED BY \"...\"".into());
    }
    Ok(format!("\"{password}\""))
}

#[async_trait]
impl Dialect for Oracle {
    fn name(&self) -> &'static str {
        "oracle"
    }

    fn django_module(&self) -> Option<&'static str> {
        Some("oracle")
    }

    fn sql_keys(&self) -> &'static [&'static str] {
        &["oracle"]
    }

    fn url(&self) -> Option<UrlForm> {
        Some(UrlForm { schemes: &["oracle"], default_port: 1521 })
    }

    /// gvenzl/oracle-free: the administrator is SYSTEM; the service is FREEPDB1.
    fn container(&self) -> Option<ContainerContract> {
        Some(ContainerContract { port: 1521, user: "system", password_env: Some("ORACLE_PASSWORD") })
    }

    fn driver_missing(&self) -> Option<String> {
        #[cfg(feature = "oracle")]
        return crate::driver::oracle::client_available().err();
        #[cfg(not(feature = "oracle"))]
        Some("this dbcompat was built without Oracle support (build with `--features oracle`)".into())
    }

    fn check_password(&self, password: &str) -> Result<(), String> {
        quoted_password(password).map(|_| ())
    }

    fn profile_setup(&self, profile: Profile) -> Result<ConnectSetup, String> {
        Ok(match profile {
            Profile::ServerDefaults => ConnectSetup::default(),
            Profile::Django => ConnectSetup {
                statements: vec![
                    SetupStatement::always("ALTER SESSION SET NLS_TERRITORY = 'AMERICA'", "django/db/backends/oracle/base.py, init_connection_state (the territory first)"),
                    SetupStatement::always(
                        "ALTER SESSION SET NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS' NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF' TIME_ZONE = 'UTC'",
                        "django/db/backends/oracle/base.py, init_connection_state; TIME_ZONE = 'UTC' because USE_TZ is on (the default since Django 5.0)",
                    ),
                ],
                not_reproduced: &[
                    "NLS_LANG=.AL32UTF8 and ORA_NCHAR_LITERAL_REPLACE=TRUE in the client's environment (django/db/backends/oracle/base.py, \
                     _setup_environment): the oracle crate's sessions are AL32UTF8 already; N'' literal replacement is not set",
                ],
            },
        })
    }

    /// A namespace is a user: `namespace` is the user to log in as.
    async fn connect(&self, endpoint: &Endpoint, namespace: Option<&str>, _profile: Profile) -> Result<Box<dyn Session>, ConnectError> {
        #[cfg(feature = "oracle")]
        {
            // The endpoint's database is the service name (FREEPDB1 in Oracle Free).
            let service = endpoint.database.as_deref().unwrap_or("FREEPDB1");
            let connect_string = format!("//{}:{}/{service}", endpoint.host, endpoint.port);
            let user = namespace.unwrap_or(&endpoint.user).to_string();
            let session = crate::driver::oracle::OracleSession::connect(user, endpoint.password.clone(), connect_string, class).await?;
            Ok(Box::new(session))
        }
        #[cfg(not(feature = "oracle"))]
        {
            let _ = (endpoint, namespace);
            Err(ConnectError::permanent(self.driver_missing().unwrap_or_default()))
        }
    }

    fn ping_sql(&self) -> &'static str {
        "SELECT 1 FROM dual"
    }

    fn version_sql(&self) -> &'static str {
        "SELECT version_full FROM product_component_version WHERE product LIKE 'Oracle%'"
    }

    /// Unquoted Oracle names are upper case; the user's name stays usable unquoted.
    fn namespace_name(&self, name: String) -> String {
        name.to_ascii_uppercase()
    }

    /// A user with the rights a probe needs, and the administrator's password (so
    /// sessions log in with the endpoint's); its errors show the password masked.
    fn create_namespace(&self, ident: &str, password: &str) -> Result<Vec<(String, String)>, String> {
        let password = quoted_password(password)?;
        let create = |password: &str| format!("CREATE USER {ident} IDENTIFIED BY {password} QUOTA UNLIMITED ON USERS");
        let grant = format!("GRANT CREATE SESSION, CREATE TABLE, CREATE SEQUENCE, CREATE VIEW, CREATE PROCEDURE, CREATE TRIGGER TO {ident}");
        Ok(vec![(create(&password), create(crate::redact::MASK)), (grant.clone(), grant)])
    }

    fn drop_namespace(&self, ident: &str) -> String {
        format!("DROP USER {ident} CASCADE")
    }

    fn isolation_levels(&self) -> &'static [Isolation] {
        &[Isolation::ReadCommitted, Isolation::Serializable]
    }

    fn isolation_sql(&self, level: Isolation) -> Option<String> {
        Some(format!("ALTER SESSION SET ISOLATION_LEVEL = {}", level.sql_name()))
    }

    fn begin_sql(&self) -> Option<&'static str> {
        None
    }

    fn session_state_sql(&self) -> &'static str {
        "SELECT parameter, value FROM nls_session_parameters WHERE parameter IN ('NLS_DATE_FORMAT', 'NLS_TIMESTAMP_FORMAT', \
         'NLS_TIMESTAMP_TZ_FORMAT', 'NLS_SORT', 'NLS_COMP', 'NLS_LENGTH_SEMANTICS') ORDER BY parameter"
    }

    fn classify(&self, code: &str, message: &str) -> ErrorClass {
        class(code, message)
    }

    fn log_signs(&self) -> Option<LogSigns> {
        Some(LogSigns {
            clean_shutdown: &["Shutting down instance", "Instance shutdown complete"],
            recovery: &["crash recovery", "Beginning crash recovery"],
            context: &["Starting ORACLE instance", "DATABASE IS READY TO USE"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn ora_numbers() {
        let c = |n: u32| class(&format!("ORA-{n:05}"), "");
        assert_eq!(c(1), UniqueViolation);
        assert_eq!(c(54), LockNotAvailable);
        assert_eq!(c(30006), LockTimeout);
        assert_eq!(c(60), Deadlock);
        assert_eq!(c(8177), SerializationFailure);
        assert_eq!(c(1400), NotNullViolation);
        assert_eq!(c(942), UndefinedObject);
        assert_eq!(c(12899), DataTooLong);
        assert_eq!(c(932), DatatypeMismatch);
        assert_eq!(c(972), LimitExceeded);
        assert_eq!(c(979), Syntax);
        assert_eq!(c(1408), DuplicateObject);
        assert_eq!(c(2327), InvalidDefinition);
        assert_eq!(c(2329), InvalidDefinition);
        assert_eq!(c(22816), NotSupported);
        assert_eq!(c(43929), NotSupported);
        assert_eq!(c(40441), InvalidValue);
        assert_eq!(c(1031), Other, "insufficient privileges has no portable class");
        assert_eq!(c(933), Syntax);
        assert_eq!(c(32795), InvalidDefinition);
        assert_eq!(c(12345), Other);
        assert_eq!(class("1", ""), UniqueViolation);
    }

    #[test]
    fn an_oracle_password_is_double_quoted_and_one_with_a_quote_refused() {
        assert_eq!(quoted_password("pa'ss@w/rd").unwrap(), "\"pa'ss@w/rd\"");
        let e = quoted_password("pa\"ss").unwrap_err();
        assert!(e.contains("double quote") && !e.contains("pa\"ss"), "{e}");
    }

    #[test]
    fn the_oracle_user_gets_the_password_and_its_errors_do_not_show_it() {
        let statements = Oracle.create_namespace("\"DBC_X_1\"", "Se@cr/et").unwrap();
        let (sql, shown) = &statements[0];
        assert!(sql.contains("IDENTIFIED BY \"Se@cr/et\""), "{sql}");
        assert_eq!(shown, "CREATE USER \"DBC_X_1\" IDENTIFIED BY *** QUOTA UNLIMITED ON USERS");
        assert!(statements.iter().all(|(_, shown)| !shown.contains("Se@cr/et")));
        assert!(Oracle.create_namespace("\"X\"", "a\"b").is_err());
    }
}
