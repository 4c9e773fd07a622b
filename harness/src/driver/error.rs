//! Portable error classes and the tables that map each backend's native codes to them.
//!
//! The native code and message always travel beside the class, so a report can show
//! exactly what the server said. Mapping is by code first; only where a backend uses one
//! generic code for many conditions (SQLite's SQLITE_ERROR, PostgreSQL's 55P03 for both
//! NOWAIT and lock_timeout) does the message decide.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    UniqueViolation,
    NotNullViolation,
    ForeignKeyViolation,
    CheckViolation,
    /// Refused at once because a lock is held (NOWAIT).
    LockNotAvailable,
    /// Gave up after waiting for a lock.
    LockTimeout,
    Deadlock,
    SerializationFailure,
    /// SQLite's SQLITE_BUSY / SQLITE_LOCKED: the database file is locked.
    Busy,
    Syntax,
    UndefinedObject,
    DuplicateObject,
    DataTooLong,
    InvalidValue,
    DatatypeMismatch,
    /// A table or column definition the server refuses (e.g. TEXT in a key without a length).
    InvalidDefinition,
    /// A size limit: key too long, identifier too long, too many columns.
    LimitExceeded,
    NotSupported,
    /// PostgreSQL: the transaction failed earlier and ignores commands until rollback.
    TransactionAborted,
    /// A transaction command in the wrong state (COMMIT with no transaction, ...).
    InvalidTransactionState,
    QueryCanceled,
    Other,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 22] = [
        ErrorClass::UniqueViolation,
        ErrorClass::NotNullViolation,
        ErrorClass::ForeignKeyViolation,
        ErrorClass::CheckViolation,
        ErrorClass::LockNotAvailable,
        ErrorClass::LockTimeout,
        ErrorClass::Deadlock,
        ErrorClass::SerializationFailure,
        ErrorClass::Busy,
        ErrorClass::Syntax,
        ErrorClass::UndefinedObject,
        ErrorClass::DuplicateObject,
        ErrorClass::DataTooLong,
        ErrorClass::InvalidValue,
        ErrorClass::DatatypeMismatch,
        ErrorClass::InvalidDefinition,
        ErrorClass::LimitExceeded,
        ErrorClass::NotSupported,
        ErrorClass::TransactionAborted,
        ErrorClass::InvalidTransactionState,
        ErrorClass::QueryCanceled,
        ErrorClass::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::UniqueViolation => "unique_violation",
            ErrorClass::NotNullViolation => "not_null_violation",
            ErrorClass::ForeignKeyViolation => "foreign_key_violation",
            ErrorClass::CheckViolation => "check_violation",
            ErrorClass::LockNotAvailable => "lock_not_available",
            ErrorClass::LockTimeout => "lock_timeout",
            ErrorClass::Deadlock => "deadlock",
            ErrorClass::SerializationFailure => "serialization_failure",
            ErrorClass::Busy => "busy",
            ErrorClass::Syntax => "syntax",
            ErrorClass::UndefinedObject => "undefined_object",
            ErrorClass::DuplicateObject => "duplicate_object",
            ErrorClass::DataTooLong => "data_too_long",
            ErrorClass::InvalidValue => "invalid_value",
            ErrorClass::DatatypeMismatch => "datatype_mismatch",
            ErrorClass::InvalidDefinition => "invalid_definition",
            ErrorClass::LimitExceeded => "limit_exceeded",
            ErrorClass::NotSupported => "not_supported",
            ErrorClass::TransactionAborted => "transaction_aborted",
            ErrorClass::InvalidTransactionState => "invalid_transaction_state",
            ErrorClass::QueryCanceled => "query_canceled",
            ErrorClass::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<ErrorClass> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error the server returned for a statement: an observation, not a harness failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbError {
    pub class: ErrorClass,
    /// The native code as the backend names it: SQLSTATE, MySQL error number, ORA-nnnnn,
    /// SQLite extended result code.
    pub code: String,
    pub message: String,
}

/// SQLite: extended result code (and message, for the generic SQLITE_ERROR).
pub fn sqlite_class(extended_code: i32, message: &str) -> ErrorClass {
    use ErrorClass::*;
    match extended_code {
        2067 | 1555 => UniqueViolation,        // CONSTRAINT_UNIQUE, CONSTRAINT_PRIMARYKEY
        1299 => NotNullViolation,              // CONSTRAINT_NOTNULL
        787 => ForeignKeyViolation,            // CONSTRAINT_FOREIGNKEY
        275 => CheckViolation,                 // CONSTRAINT_CHECK
        3091 => DatatypeMismatch,              // CONSTRAINT_DATATYPE (STRICT tables)
        517 => SerializationFailure,           // BUSY_SNAPSHOT: a WAL reader's snapshot is stale
        9 => QueryCanceled,                    // INTERRUPT
        18 => DataTooLong,                     // TOOBIG
        20 => DatatypeMismatch,                // MISMATCH
        c if c & 0xff == 5 || c & 0xff == 6 => Busy, // BUSY*, LOCKED*
        c if c & 0xff == 1 => sqlite_generic_error(message),
        _ => Other,
    }
}

fn sqlite_generic_error(message: &str) -> ErrorClass {
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

/// PostgreSQL: SQLSTATE (and message, to tell lock_timeout from NOWAIT under 55P03).
pub fn postgres_class(sqlstate: &str, message: &str) -> ErrorClass {
    use ErrorClass::*;
    match sqlstate {
        "23505" => UniqueViolation,
        "23502" => NotNullViolation,
        "23503" => ForeignKeyViolation,
        "23514" => CheckViolation,
        "55P03" if message.contains("lock timeout") => LockTimeout,
        "55P03" => LockNotAvailable,
        "40P01" => Deadlock,
        "40001" => SerializationFailure,
        "42601" => Syntax,
        "42P01" | "42703" | "42883" | "42704" | "3F000" | "3D000" | "42P02" | "3B001" | "34000" => UndefinedObject,
        "42P07" | "42710" | "42P06" | "42P04" | "42723" | "42701" | "3B000" => DuplicateObject,
        "22001" => DataTooLong,
        "42804" | "42846" => DatatypeMismatch,
        "42P16" | "42611" | "42P17" => InvalidDefinition,
        "42622" => LimitExceeded,
        "0A000" => NotSupported,
        "25P02" => TransactionAborted,
        "57014" => QueryCanceled,
        s if s.starts_with("54") => LimitExceeded,
        s if s.starts_with("22") => InvalidValue,
        s if s.starts_with("25") => InvalidTransactionState,
        s if s.starts_with("42") && s != "42000" => Syntax,
        _ => Other,
    }
}

/// MySQL and MariaDB: the server's error number.
pub fn mysql_class(number: u16) -> ErrorClass {
    use ErrorClass::*;
    match number {
        1062 | 1586 | 1022 | 1169 => UniqueViolation,
        1048 | 1364 | 1263 => NotNullViolation,
        1216 | 1217 | 1451 | 1452 => ForeignKeyViolation,
        3819 | 4025 => CheckViolation,
        3572 => LockNotAvailable, // ER_LOCK_NOWAIT (MySQL 8.0.1+)
        1205 => LockTimeout,      // ER_LOCK_WAIT_TIMEOUT (also what MariaDB's NOWAIT returns)
        1213 => Deadlock,
        // MariaDB's ER_CHECKREAD: InnoDB's snapshot write conflict (innodb_snapshot_isolation).
        1020 => SerializationFailure,
        1064 | 1149 => Syntax,
        1146 | 1054 | 1305 | 1049 | 1091 | 1051 | 1176 | 1109 => UndefinedObject,
        1050 | 1007 | 1060 | 1061 | 1826 => DuplicateObject,
        1406 => DataTooLong,
        1264 | 1265 | 1292 | 1366 | 1367 | 1411 | 1690 | 1210 => InvalidValue,
        1170 | 1063 | 1075 | 1067 | 1101 => InvalidDefinition,
        1071 | 1059 | 1074 | 1118 | 1117 | 1069 => LimitExceeded,
        1235 | 1178 | 1295 | 1221 => NotSupported,
        1568 | 1399 | 1400 | 1179 => InvalidTransactionState,
        1317 | 3024 | 1969 => QueryCanceled,
        _ => Other,
    }
}

/// Oracle: the ORA- number.
pub fn oracle_class(ora: u32) -> ErrorClass {
    use ErrorClass::*;
    match ora {
        1 => UniqueViolation,
        1400 | 1407 => NotNullViolation,
        2291 | 2292 => ForeignKeyViolation,
        2290 => CheckViolation,
        54 => LockNotAvailable, // resource busy and acquire with NOWAIT specified
        30006 => LockTimeout,   // resource busy; acquire with WAIT timeout expired
        60 => Deadlock,
        8177 => SerializationFailure,
        900..=903 | 905..=911 | 917 | 920..=921 | 923 | 926..=928 | 933 | 936 | 969 | 971 => Syntax,
        904 | 942 | 1086 | 2289 | 4043 | 1918 => UndefinedObject,
        955 | 1430 | 2261 | 2264 => DuplicateObject,
        12899 => DataTooLong,
        1438 | 1722 | 1830 | 1840 | 1841 | 1843 | 1847 | 1858 | 1861 | 1863 => InvalidValue,
        932 | 22848 => DatatypeMismatch,
        972 | 1450 | 1792 => LimitExceeded,
        1013 => QueryCanceled,
        3001 | 439 | 22859 => NotSupported,
        32795 => InvalidDefinition, // cannot insert into a GENERATED ALWAYS identity column
        _ => Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    #[test]
    fn class_names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.name()), Some(c));
        }
        assert_eq!(ErrorClass::parse("nope"), None);
    }

    #[test]
    fn sqlite_extended_codes() {
        assert_eq!(sqlite_class(2067, "UNIQUE constraint failed: t.a"), UniqueViolation);
        assert_eq!(sqlite_class(1555, "UNIQUE constraint failed: t.id"), UniqueViolation);
        assert_eq!(sqlite_class(1299, "NOT NULL constraint failed: t.a"), NotNullViolation);
        assert_eq!(sqlite_class(787, "FOREIGN KEY constraint failed"), ForeignKeyViolation);
        assert_eq!(sqlite_class(5, "database is locked"), Busy);
        assert_eq!(sqlite_class(261, "database is locked"), Busy); // BUSY_RECOVERY
        assert_eq!(sqlite_class(6, "database table is locked"), Busy);
        assert_eq!(sqlite_class(517, "database is locked"), SerializationFailure);
        assert_eq!(sqlite_class(1, "near \"FOR\": syntax error"), Syntax);
        assert_eq!(sqlite_class(1, "no such table: t"), UndefinedObject);
        assert_eq!(sqlite_class(1, "no such savepoint: s1"), UndefinedObject);
        assert_eq!(sqlite_class(1, "table t already exists"), DuplicateObject);
        assert_eq!(sqlite_class(1, "cannot commit - no transaction is active"), InvalidTransactionState);
        assert_eq!(sqlite_class(1, "cannot start a transaction within a transaction"), InvalidTransactionState);
        assert_eq!(sqlite_class(9, "interrupted"), QueryCanceled);
    }

    #[test]
    fn postgres_sqlstates() {
        assert_eq!(postgres_class("23505", "duplicate key value"), UniqueViolation);
        assert_eq!(postgres_class("55P03", "could not obtain lock on row in relation \"t\""), LockNotAvailable);
        assert_eq!(postgres_class("55P03", "canceling statement due to lock timeout"), LockTimeout);
        assert_eq!(postgres_class("40P01", "deadlock detected"), Deadlock);
        assert_eq!(postgres_class("40001", "could not serialize access"), SerializationFailure);
        assert_eq!(postgres_class("25P02", "current transaction is aborted"), TransactionAborted);
        assert_eq!(postgres_class("25P01", "SAVEPOINT can only be used in transaction blocks"), InvalidTransactionState);
        assert_eq!(postgres_class("3B001", "savepoint \"s\" does not exist"), UndefinedObject);
        assert_eq!(postgres_class("42601", "syntax error at or near"), Syntax);
        assert_eq!(postgres_class("42P01", "relation \"t\" does not exist"), UndefinedObject);
        assert_eq!(postgres_class("22001", "value too long for type character varying(3)"), DataTooLong);
        assert_eq!(postgres_class("22007", "invalid input syntax for type timestamp"), InvalidValue);
        assert_eq!(postgres_class("0A000", "FOR UPDATE is not allowed with aggregate functions"), NotSupported);
        assert_eq!(postgres_class("54000", "index row size exceeds maximum"), LimitExceeded);
        assert_eq!(postgres_class("XX000", "internal error"), Other);
    }

    #[test]
    fn mysql_error_numbers() {
        assert_eq!(mysql_class(1062), UniqueViolation);
        assert_eq!(mysql_class(1205), LockTimeout);
        assert_eq!(mysql_class(1213), Deadlock);
        assert_eq!(mysql_class(3572), LockNotAvailable);
        assert_eq!(mysql_class(1064), Syntax);
        assert_eq!(mysql_class(1406), DataTooLong);
        assert_eq!(mysql_class(1366), InvalidValue);
        assert_eq!(mysql_class(1170), InvalidDefinition);
        assert_eq!(mysql_class(1071), LimitExceeded);
        assert_eq!(mysql_class(1059), LimitExceeded);
        assert_eq!(mysql_class(1305), UndefinedObject);
        assert_eq!(mysql_class(1235), NotSupported);
        assert_eq!(mysql_class(3819), CheckViolation);
        assert_eq!(mysql_class(9999), Other);
    }

    #[test]
    fn oracle_numbers() {
        assert_eq!(oracle_class(1), UniqueViolation);
        assert_eq!(oracle_class(54), LockNotAvailable);
        assert_eq!(oracle_class(30006), LockTimeout);
        assert_eq!(oracle_class(60), Deadlock);
        assert_eq!(oracle_class(8177), SerializationFailure);
        assert_eq!(oracle_class(1400), NotNullViolation);
        assert_eq!(oracle_class(942), UndefinedObject);
        assert_eq!(oracle_class(12899), DataTooLong);
        assert_eq!(oracle_class(932), DatatypeMismatch);
        assert_eq!(oracle_class(972), LimitExceeded);
        assert_eq!(oracle_class(933), Syntax);
        assert_eq!(oracle_class(32795), InvalidDefinition);
        assert_eq!(oracle_class(12345), Other);
    }
}
