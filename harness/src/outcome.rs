//! The vocabulary of what a server did, shared by every stage: portable error classes
//! and isolation levels. It depends on nothing else in dbcompat.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The portable class of a server's error; each backend's module maps its native
/// codes to these.
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

/// An isolation level by its SQL-standard name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    pub const NAMES: &'static str = "read uncommitted, read committed, repeatable read, serializable";

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "read uncommitted" => Some(Isolation::ReadUncommitted),
            "read committed" => Some(Isolation::ReadCommitted),
            "repeatable read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "READ UNCOMMITTED",
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name().to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.name()), Some(c));
        }
        assert_eq!(ErrorClass::parse("nope"), None);
    }

    #[test]
    fn isolation_names_round_trip() {
        for l in [Isolation::ReadUncommitted, Isolation::ReadCommitted, Isolation::RepeatableRead, Isolation::Serializable] {
            assert_eq!(Isolation::parse(&l.to_string()), Some(l));
        }
    }
}
