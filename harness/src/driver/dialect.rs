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
