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
