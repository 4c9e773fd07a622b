//! MariaDB: MySQL's protocol, error numbers and SQL (a suite's `mysql` SQL runs here
//! unless it gives `mariadb` its own), with its own image, client and version line.

use async_trait::async_trait;

use super::mysql::{self, ISOLATION_LEVELS, LOG_SIGNS, SESSION_STATE_SQL, URL};
use super::{ClientLaunch, ContainerContract, Dialect, Endpoint, LogSigns, UrlForm};
use crate::driver::{ConnectError, Session};
use crate::outcome::{ErrorClass, Isolation};
use crate::profile::{ConnectSetup, Profile};

pub struct Mariadb;

/// What the `mariadb` client of the server's own release gets: the 11.x client asks
/// for utf8mb4, as the driver's handshake does, so nothing runs after connecting; the
/// 10.x client maps its UTF-8 locale to utf8mb3 (`character_set_client` and
/// `collation_connection` utf8mb3 / utf8mb3_general_ci, as `dbcompat crosscheck`
/// measured it), so the session is set to that.
fn mariadb_client_charset(server: (u16, u16, u16)) -> Option<&'static str> {
    (server < (11, 0, 0)).then_some("SET NAMES utf8mb3")
}

/// MariaDB's own numbers (from 3000 on MySQL's numbers mean other errors).
const MARIADB_ONLY: [(u16, ErrorClass); 3] = [
    (4022, ErrorClass::NotSupported),    // FRAME_EXCLUSION_NOT_SUPPORTED
    (4047, ErrorClass::NotSupported),    // UNSUPPORTED_COMPRESSED_TABLE
    (4161, ErrorClass::UndefinedObject), // UNKNOWN_DATA_TYPE
];

/// MariaDB: the server's error number (the message never decides).
pub fn class(code: &str, message: &str) -> ErrorClass {
    mysql::own_number(code, &MARIADB_ONLY).unwrap_or_else(|| mysql::shared_class(code, message))
}

#[async_trait]
impl Dialect for Mariadb {
    fn name(&self) -> &'static str {
        "mariadb"
    }

    fn django_module(&self) -> Option<&'static str> {
        Some("mysql")
    }

    fn sql_keys(&self) -> &'static [&'static str] {
        &["mariadb", "mysql"]
    }

    fn expectations_fall_back_to(&self) -> Option<super::Backend> {
        Some(super::Backend::Mysql)
    }

    fn url(&self) -> Option<UrlForm> {
        Some(URL)
    }

    fn container(&self) -> Option<ContainerContract> {
        Some(ContainerContract { port: 3306, user: "root", password_env: Some("MARIADB_ROOT_PASSWORD") })
    }

    async fn connect(&self, endpoint: &Endpoint, namespace: Option<&str>, profile: Profile) -> Result<Box<dyn Session>, ConnectError> {
        mysql::connect(endpoint, namespace, profile, mariadb_client_charset, class).await
    }

    fn profile_setup(&self, profile: Profile) -> Result<ConnectSetup, String> {
        Ok(mysql::profile_setup(profile))
    }

    fn check_identity(&self, version_text: &str) -> Result<(), String> {
        if !version_text.to_ascii_lowercase().contains("mariadb") {
            return Err(format!("the server reports `{version_text}`, which is not mariadb"));
        }
        Ok(())
    }

    fn quote_ident(&self, name: &str) -> String {
        mysql::quote(name)
    }

    fn isolation_levels(&self) -> &'static [Isolation] {
        ISOLATION_LEVELS
    }

    fn isolation_sql(&self, level: Isolation) -> Option<String> {
        mysql::isolation_sql(level)
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
        Some(mysql::client("mariadb", user, namespace, class))
    }

    /// Its client session buffers cursors as the driver does (driver/client/mysql.rs).
    fn client_holds_cursors(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_own_numbers_are_its_own() {
        assert_eq!(class("4161", ""), ErrorClass::UndefinedObject);
        assert_eq!(class("4022", ""), ErrorClass::NotSupported);
        assert_eq!(class("4163", ""), ErrorClass::Other, "MySQL's overlong lock name is another error on MariaDB");
        assert_eq!(class("1062", ""), ErrorClass::UniqueViolation);
    }

    #[test]
    fn a_mysql_server_is_not_taken_for_mariadb() {
        assert!(Mariadb.check_identity("9.7.0").is_err());
        assert!(Mariadb.check_identity("10.11.14-MariaDB-0+deb12u2").is_ok());
    }
}
