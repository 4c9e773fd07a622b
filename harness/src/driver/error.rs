//! A server's error as a driver reports it. The native code and message always travel
//! beside the portable class, so a report can show exactly what the server said; each
//! backend's module (backends/) holds the table from its codes to classes.

use serde::{Deserialize, Serialize};

pub use crate::outcome::ErrorClass;

/// A backend's table from its native error code (and message) to a portable class.
pub type Classify = fn(code: &str, message: &str) -> ErrorClass;

/// An error the server returned for a statement: an observation, not a harness failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbError {
    pub class: ErrorClass,
    /// The native code as the backend names it: SQLSTATE, MySQL error number, ORA-nnnnn,
    /// SQLite extended result code.
    pub code: String,
    pub message: String,
}

/// SQLite's table (backends/sqlite.rs), by extended result code.
pub fn sqlite_class(extended_code: i32, message: &str) -> ErrorClass {
    crate::backends::sqlite_class(&extended_code.to_string(), message)
}

/// Oracle's table (backends/oracle.rs), by ORA- number.
pub fn oracle_class(ora: u32) -> ErrorClass {
    crate::backends::oracle_class(&ora.to_string(), "")
}
