//! SQLite sessions, in process.
//!
//! Each session is a thread that owns one `rusqlite::Connection` (SQLite's API is
//! blocking) and serves commands from a channel. An open cursor is a live statement
//! that has been stepped part way; other statements may run on the same connection
//! before it is stepped again — exactly the "modify a table while iterating it" case
//! SQLite documents as undefined, which the suites measure.
//!
//! Sessions start with `busy_timeout = 0`, SQLite's own default, so waiting for a lock
//! is something a probe asks for (`PRAGMA busy_timeout = 5000`), never an accident.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Rows};
use tokio::sync::oneshot;
use typed_arena::Arena;

use super::error::sqlite_class;
use super::{Canceller, Command, DbError, Response, Session, SessionError, StatementResult, Value};

/// The version of the SQLite library linked into this build.
pub fn library_version() -> &'static str {
    rusqlite::version()
}

type Reply = oneshot::Sender<Result<StatementResult, SessionError>>;

pub struct SqliteSession {
    requests: mpsc::Sender<(Command, Reply)>,
    interrupt: Arc<rusqlite::InterruptHandle>,
    /// Fires once the thread has closed the connection.
    closed: oneshot::Receiver<()>,
}

impl SqliteSession {
    /// Opens (creating if needed) the database file and starts the session's thread.
    pub fn open(path: &Path) -> Result<Self, SessionError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| SessionError::ConnectionLost(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| SessionError::Harness(format!("cannot reset busy_timeout: {e}")))?;
        let interrupt = Arc::new(conn.get_interrupt_handle());
        let (requests, inbox) = mpsc::channel();
        let (closing, closed) = oneshot::channel();
        std::thread::Builder::new()
            .name("dbcompat-sqlite".into())
            .spawn(move || {
                serve(conn, inbox);
                let _ = closing.send(());
            })
            .map_err(|e| SessionError::Harness(format!("cannot start a session thread: {e}")))?;
        Ok(SqliteSession { requests, interrupt, closed })
    }
}

struct Interrupt(Arc<rusqlite::InterruptHandle>);

impl Canceller for Interrupt {
    fn cancel(&self) {
        self.0.interrupt();
    }
}

#[async_trait]
impl Session for SqliteSession {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((command.clone(), reply))
            .map_err(|_| SessionError::ConnectionLost("the session thread has stopped".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(SessionError::ConnectionLost("the session thread stopped mid-statement".into())))
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(Interrupt(self.interrupt.clone()))
    }

    async fn close(self: Box<Self>) {
        // Dropping the sender ends the thread, which closes the connection. Waiting for
        // that matters: a closing connection may checkpoint a WAL file under an
        // exclusive lock, which the next case step would otherwise run into.
        let SqliteSession { requests, closed, .. } = *self;
        drop(requests);
        let _ = tokio::time::timeout(Duration::from_secs(10), closed).await;
    }
}

/// An open cursor: its column names and the statement being stepped.
struct Cursor<'s> {
    columns: Vec<String>,
    rows: Rows<'s>,
}

/// Serves commands until the session is closed; the connection is closed on return.
fn serve(conn: Connection, inbox: mpsc::Receiver<(Command, Reply)>) {
    // Statements behind open cursors live in the arena, which outlives the cursors map
    // and is outlived by the connection: the borrow checker sees the whole lifetime.
    let statements = Arena::new();
    let mut cursors: HashMap<String, Cursor<'_>> = HashMap::new();
    while let Ok((command, reply)) = inbox.recv() {
        let result = match command {
            Command::Sql(sql) => run_statement(&conn, &sql),
            Command::OpenCursor { name, sql, fetch } => {
                cursors.remove(&name);
                match conn.prepare(&sql) {
                    Err(e) => failure(e),
                    Ok(stmt) => {
                        let columns = stmt.column_names().map(|c| c.to_string()).collect();
                        let stmt = statements.alloc(stmt);
                        match stmt.query([]) {
                            Err(e) => failure(e),
                            Ok(rows) => {
                                let cursor = cursors.entry(name).or_insert(Cursor { columns, rows });
                                fetch_rows(cursor, fetch)
                            }
                        }
                    }
                }
            }
            Command::Fetch { name, count } => match cursors.get_mut(&name) {
                Some(cursor) => fetch_rows(cursor, count),
                None => Err(SessionError::Harness(format!("no open cursor named `{name}` on this session"))),
            },
        };
        let _ = reply.send(result);
    }
}

fn run_statement(conn: &Connection, sql: &str) -> Result<StatementResult, SessionError> {
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    if stmt.column_count() > 0 {
        let columns = stmt.column_names().map(|c| c.to_string()).collect();
        let rows = match stmt.query([]) {
            Ok(r) => r,
            Err(e) => return failure(e),
        };
        let mut cursor = Cursor { columns, rows };
        fetch_rows(&mut cursor, None)
    } else {
        // sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE, so a
        // BEGIN after an UPDATE would report its count; total_changes moves only when
        // this statement changed rows.
        let before = conn.total_changes();
        match stmt.raw_execute() {
            Ok(_) => {
                let count = if conn.total_changes() != before { conn.changes() } else { 0 };
                Ok(Ok(Response::Affected { count }))
            }
            Err(e) => failure(e),
        }
    }
}

fn fetch_rows(cursor: &mut Cursor<'_>, limit: Option<u64>) -> Result<StatementResult, SessionError> {
    let width = cursor.columns.len();
    let mut rows = Vec::new();
    while limit.is_none_or(|n| (rows.len() as u64) < n) {
        match cursor.rows.next() {
            Ok(Some(row)) => {
                let values = (0..width)
                    .map(|i| row.get_ref(i).map(|v| value(v).canonical()).unwrap_or_else(|e| format!("<{e}>")))
                    .collect();
                rows.push(values);
            }
            Ok(None) => break,
            Err(e) => return failure(e),
        }
    }
    Ok(Ok(Response::Rows { columns: cursor.columns.clone(), rows }))
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

/// SQLite's answer (an observation) or a misuse by the suite (a harness error).
fn failure(e: rusqlite::Error) -> Result<StatementResult, SessionError> {
    match e {
        rusqlite::Error::SqliteFailure(err, message) => {
            let message = message.unwrap_or_else(|| err.to_string());
            Ok(Err(DbError {
                class: sqlite_class(err.extended_code, &message),
                code: err.extended_code.to_string(),
                message,
            }))
        }
        // Errors found while preparing (syntax, unknown table) carry the SQL and offset.
        rusqlite::Error::SqlInputError { error, msg, .. } => Ok(Err(DbError {
            class: sqlite_class(error.extended_code, &msg),
            code: error.extended_code.to_string(),
            message: msg,
        })),
        rusqlite::Error::MultipleStatement => Err(SessionError::Harness(
            "one SQL string holds several statements; give each statement its own entry".into(),
        )),
        other => Err(SessionError::Harness(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sql(s: &mut SqliteSession, text: &str) -> String {
        match s.execute(&Command::Sql(text.into())).await.unwrap() {
            Ok(r) => r.canonical(),
            Err(e) => format!("error:{}", e.class),
        }
    }

    #[tokio::test]
    async fn statements_report_rows_counts_and_classes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteSession::open(&dir.path().join("t.db")).unwrap();
        assert_eq!(sql(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)").await, "ok");
        assert_eq!(sql(&mut s, "INSERT INTO t (v) VALUES ('a'), (''), (NULL)").await, "affected:3");
        assert_eq!(sql(&mut s, "BEGIN").await, "ok");
        assert_eq!(sql(&mut s, "SELECT id, v FROM t ORDER BY id").await, "rows:(1,'a'),(2,''),(3,NULL)");
        assert_eq!(sql(&mut s, "SELECT 1.0, 2, x'01' WHERE 0").await, "rows:none");
        assert_eq!(sql(&mut s, "INSERT INTO t (v) VALUES ('a')").await, "error:unique_violation");
        assert_eq!(sql(&mut s, "SELECT * FROM t FOR UPDATE").await, "error:syntax");
        assert_eq!(sql(&mut s, "SELECT * FROM missing").await, "error:undefined_object");
        let multi = s.execute(&Command::Sql("SELECT 1; SELECT 2".into())).await;
        assert!(matches!(multi, Err(SessionError::Harness(_))), "{multi:?}");
    }

    #[tokio::test]
    async fn a_cursor_interleaves_with_writes_on_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteSession::open(&dir.path().join("c.db")).unwrap();
        sql(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY)").await;
        sql(&mut s, "INSERT INTO t VALUES (1), (2), (3)").await;
        let open = Command::OpenCursor { name: "c".into(), sql: "SELECT id FROM t ORDER BY id".into(), fetch: Some(1) };
        assert_eq!(s.execute(&open).await.unwrap().unwrap().canonical(), "rows:(1)");
        assert_eq!(sql(&mut s, "DELETE FROM t WHERE id = 3").await, "affected:1");
        let rest = Command::Fetch { name: "c".into(), count: None };
        assert_eq!(s.execute(&rest).await.unwrap().unwrap().canonical(), "rows:(2)");
        let missing = Command::Fetch { name: "nope".into(), count: None };
        assert!(s.execute(&missing).await.is_err());
    }
}
