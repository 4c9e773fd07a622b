//! The seam between the interpreter and a database: a [`Session`] is one connection that
//! executes one statement at a time and reports what the server did.
//!
//! Every driver turns its native results into the same [`Response`] (rows rendered to
//! canonical text, or an affected count) or a [`DbError`] with a portable class. Failures
//! of the harness or of the connection itself are [`SessionError`]s: they are never
//! mistaken for a server's answer.

pub mod client;
pub mod error;
pub mod mysql;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod postgres;
pub mod sqlite;
pub mod sqlite_api;
pub mod text_rows;
pub mod threaded;

use std::fmt::Write as _;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use error::{DbError, ErrorClass};

/// One thing a session can be asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run one SQL statement to completion.
    Sql(String),
    /// Start a statement and read only `fetch` rows now; the cursor stays open.
    /// `streamed`: read the result as the server sends it, not buffered in full when it
    /// opens (MySQL/MariaDB's unbuffered result; PostgreSQL's and SQLite's cursors always
    /// read as they go).
    OpenCursor { name: String, sql: String, fetch: Option<u64>, streamed: bool },
    /// Read up to `count` more rows (all remaining when `None`) from an open cursor.
    Fetch { name: String, count: Option<u64> },
    /// Close a cursor: a streamed MySQL/MariaDB result is read to its end and discarded,
    /// as a client's cursor close does.
    CloseCursor { name: String },
}

impl Command {
    /// How the command reads in a transcript.
    pub fn text(&self) -> String {
        match self {
            Command::Sql(sql) => sql.clone(),
            Command::OpenCursor { name, sql, fetch, streamed } => {
                format!("OPEN {name}{} FOR {sql}{}", if *streamed { " STREAMED" } else { "" }, fetch_suffix(*fetch))
            }
            Command::Fetch { name, count } => format!("FETCH {name}{}", fetch_suffix(*count)),
            Command::CloseCursor { name } => format!("CLOSE {name}"),
        }
    }
}

fn fetch_suffix(n: Option<u64>) -> String {
    n.map_or(String::new(), |n| format!(" (fetch {n})"))
}

/// What a statement returned when it succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// A result set: column names and rows of values in canonical text.
    Rows { columns: Vec<String>, rows: Vec<Vec<String>> },
    /// No result set; the number of rows the statement changed.
    Affected { count: u64 },
}

impl Response {
    /// The canonical outcome text: `rows:(1,'a'),(2,NULL)`, `rows:none`, `affected:3`, `ok`.
    pub fn canonical(&self) -> String {
        match self {
            Response::Rows { rows, .. } if rows.is_empty() => "rows:none".to_string(),
            Response::Rows { rows, .. } => {
                let mut out = String::from("rows:");
                for (i, row) in rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "({})", row.join(","));
                }
                out
            }
            Response::Affected { count: 0 } => "ok".to_string(),
            Response::Affected { count } => format!("affected:{count}"),
        }
    }
}

/// A server's answer to one command.
pub type StatementResult = Result<Response, DbError>;

/// Something the server said beside a statement's result: a MySQL/MariaDB warning or
/// note (what `SHOW WARNINGS` lists), a PostgreSQL notice or warning (its severity and
/// SQLSTATE). Errors are not diagnostics: they are the statement's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The server's own level word in lower case: `warning`, `note`, `notice`, ...
    pub level: String,
    /// MySQL's error number or PostgreSQL's SQLSTATE.
    pub code: String,
    pub message: String,
}

impl Diagnostic {
    /// How the diagnostic reads in an observation: `warning:1265`, `notice:42622`.
    pub fn canonical(&self) -> String {
        format!("{}:{}", self.level, self.code)
    }
}

/// What the server said about the last command besides its result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    pub diagnostics: Vec<Diagnostic>,
    /// The server's own word on the statement: PostgreSQL's command tag (`UPDATE 1`,
    /// `ROLLBACK`), MySQL's info text (`Rows matched: 1  Changed: 0  Warnings: 0`).
    pub tag: Option<String>,
}

/// Canonical text of one value: NULL is `NULL`, text is single-quoted with quotes
/// doubled (so '' and NULL differ), integers are plain, reals always carry a decimal
/// point or exponent (1.0, not 1), bytes are x'..'.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    /// Exact decimals and other numbers a server sends as text, rendered unquoted.
    Number(String),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn canonical(&self) -> String {
        match self {
            Value::Null => "NULL".to_string(),
            Value::Int(i) => i.to_string(),
            Value::Real(f) => format!("{f:?}"),
            Value::Number(n) => n.clone(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Bytes(b) => {
                let mut out = String::with_capacity(b.len() * 2 + 3);
                out.push_str("x'");
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
                out.push('\'');
                out
            }
        }
    }
}

/// A failure that is not the server's answer to a statement: the connection broke, the
/// session was cancelled, or the suite asked for something this driver cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Harness(String),
}

/// The answer to a fetch or close of a cursor the session does not have open.
pub fn no_cursor(name: &str) -> SessionError {
    SessionError::Harness(format!("no open cursor named `{name}` on this session"))
}

/// Closes a cursor the session holds itself (a buffered result, a prepared statement):
/// dropping it is the whole close.
pub fn close_held<T>(cursors: &mut std::collections::HashMap<String, T>, name: &str) -> Result<StatementResult, SessionError> {
    match cursors.remove(name) {
        Some(_) => Ok(Ok(Response::Affected { count: 0 })),
        None => Err(no_cursor(name)),
    }
}

/// Why a connection could not be made. `permanent` errors (a refused login, a database
/// that does not exist) do not go away by waiting, so readiness does not retry them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub message: String,
    pub permanent: bool,
}

impl ConnectError {
    /// A failure that may pass: the server is not listening yet, or is starting up.
    pub fn transient(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), permanent: false }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        ConnectError { message: message.into(), permanent: true }
    }
}

impl From<ConnectError> for String {
    fn from(e: ConnectError) -> String {
        e.message
    }
}

/// Reaches a running session from another task: stops its statement (PostgreSQL's
/// cancel request, MySQL's KILL QUERY, sqlite3_interrupt) and asks whether it is waiting
/// for a lock.
pub trait Canceller: Send + Sync {
    fn cancel(&self);

    /// Whether the session is waiting for a lock right now, asked of the server on
    /// another connection (as PostgreSQL's isolation tester does); `None` where the
    /// backend cannot tell, and blocking is then judged by time alone.
    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        Box::pin(async { None })
    }
}

/// One connection to a target, in its own namespace.
#[async_trait]
pub trait Session: Send + Sync + 'static {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError>;

    /// A handle that can interrupt `execute` while it runs.
    fn canceller(&self) -> Box<dyn Canceller>;

    /// What the server said beside the result of the last `execute` (warnings, notices,
    /// its command tag), taken so the next command starts empty. Backends whose servers
    /// say nothing of the kind keep the default.
    fn take_notes(&mut self) -> Notes {
        Notes::default()
    }

    /// Closes the connection; a session that is dropped without `close` is closed too.
    async fn close(self: Box<Self>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_unambiguously() {
        assert_eq!(Value::Null.canonical(), "NULL");
        assert_eq!(Value::Text(String::new()).canonical(), "''");
        assert_eq!(Value::Text("NULL".into()).canonical(), "'NULL'");
        assert_eq!(Value::Text("it's".into()).canonical(), "'it''s'");
        assert_eq!(Value::Int(-3).canonical(), "-3");
        assert_eq!(Value::Real(1.0).canonical(), "1.0");
        assert_eq!(Value::Real(0.1).canonical(), "0.1");
        assert_eq!(Value::Number("1.50".into()).canonical(), "1.50");
        assert_eq!(Value::Bytes(vec![0, 255]).canonical(), "x'00ff'");
    }

    #[test]
    fn cursor_commands_read_in_a_transcript_as_what_they_ask() {
        let open = |streamed| Command::OpenCursor { name: "c".into(), sql: "SELECT 1".into(), fetch: Some(1), streamed };
        assert_eq!(open(false).text(), "OPEN c FOR SELECT 1 (fetch 1)");
        assert_eq!(open(true).text(), "OPEN c STREAMED FOR SELECT 1 (fetch 1)");
        assert_eq!(Command::Fetch { name: "c".into(), count: None }.text(), "FETCH c");
        assert_eq!(Command::CloseCursor { name: "c".into() }.text(), "CLOSE c");
    }

    #[test]
    fn responses_render_canonically() {
        let rows = Response::Rows {
            columns: vec!["a".into(), "b".into()],
            rows: vec![vec!["1".into(), "'x'".into()], vec!["2".into(), "NULL".into()]],
        };
        assert_eq!(rows.canonical(), "rows:(1,'x'),(2,NULL)");
        assert_eq!(Response::Rows { columns: vec!["a".into()], rows: vec![] }.canonical(), "rows:none");
        assert_eq!(Response::Affected { count: 0 }.canonical(), "ok");
        assert_eq!(Response::Affected { count: 2 }.canonical(), "affected:2");
    }
}
