//! Small pieces of SQL the harness itself writes, per backend.

use crate::backend::Backend;
use crate::suite::Isolation;

/// The statement that sets a session's isolation level, if the backend has one.
pub fn set_isolation(backend: Backend, level: Isolation) -> Result<Option<String>, String> {
    let name = level.sql_name();
    match backend {
        Backend::Postgres => Ok(Some(format!("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {name}"))),
        Backend::Mysql | Backend::Mariadb => Ok(Some(format!("SET SESSION TRANSACTION ISOLATION LEVEL {name}"))),
        Backend::Oracle => match level {
            Isolation::ReadCommitted | Isolation::Serializable => Ok(Some(format!("ALTER SESSION SET ISOLATION_LEVEL = {name}"))),
            _ => Err(format!("Oracle has no {name} isolation level")),
        },
        // SQLite transactions are serializable; there is nothing to set.
        Backend::Sqlite => match level {
            Isolation::Serializable => Ok(None),
            _ => Err(format!("SQLite has no {name} isolation level")),
        },
    }
}

/// The query that reads back a new session's effective settings, as the server reports
/// them: the settings that change what statements do (time zone, date style, sql_mode,
/// character sets, autocommit, isolation, pragmas). Its answer goes into every case's
/// transcript, so a reader sees the state each session started in.
pub fn session_state(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "SELECT name, setting FROM pg_settings WHERE name IN ('TimeZone', 'DateStyle', 'IntervalStyle', 'client_encoding', \
             'extra_float_digits', 'standard_conforming_strings', 'default_transaction_isolation', 'search_path') ORDER BY name"
        }
        Backend::Mysql | Backend::Mariadb => {
            "SHOW SESSION VARIABLES WHERE Variable_name IN ('sql_mode', 'time_zone', 'character_set_client', 'character_set_connection', \
             'character_set_results', 'collation_connection', 'autocommit', 'transaction_isolation', 'tx_isolation')"
        }
        Backend::Oracle => {
            "SELECT parameter, value FROM nls_session_parameters WHERE parameter IN ('NLS_DATE_FORMAT', 'NLS_TIMESTAMP_FORMAT', \
             'NLS_TIMESTAMP_TZ_FORMAT', 'NLS_SORT', 'NLS_COMP', 'NLS_LENGTH_SEMANTICS') ORDER BY parameter"
        }
        Backend::Sqlite => {
            "SELECT (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
             (SELECT synchronous FROM pragma_synchronous) AS synchronous, (SELECT timeout FROM pragma_busy_timeout) AS busy_timeout, \
             (SELECT recursive_triggers FROM pragma_recursive_triggers) AS recursive_triggers"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_statements_follow_each_dialect() {
        assert_eq!(
            set_isolation(Backend::Mariadb, Isolation::ReadCommitted).unwrap().unwrap(),
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
        );
        assert!(set_isolation(Backend::Postgres, Isolation::RepeatableRead).unwrap().unwrap().contains("CHARACTERISTICS"));
        assert_eq!(set_isolation(Backend::Sqlite, Isolation::Serializable).unwrap(), None);
        assert!(set_isolation(Backend::Sqlite, Isolation::ReadCommitted).is_err());
        assert!(set_isolation(Backend::Oracle, Isolation::RepeatableRead).is_err());
    }
}
