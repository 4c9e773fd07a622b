//! SQLite sessions over SQLite's C API (see `sqlite_api`), for any SQLite library.
//!
//! Each session is a thread that owns one connection (SQLite's API is blocking) and
//! serves commands from a channel (see `threaded`). An open cursor is a statement
//! stepped part way; other statements may run on the same connection before it is
//! stepped again — exactly the "modify a table while iterating it" case SQLite
//! documents as undefined, which the suites measure.
//!
//! Sessions start with `busy_timeout = 0`, SQLite's own default, so waiting for a lock
//! is something a probe asks for (`PRAGMA busy_timeout = 5000`), never an accident.
//! With a timeout of 0 SQLite never waits for a lock (a locked database answers
//! SQLITE_BUSY at once), so a statement still running after the blocking window is
//! slow, not blocked; the session tells the interpreter so (`lock_wait`). With a
//! timeout it cannot tell, and the time decides.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::Classify;
use super::sqlite_api::*;
use super::threaded::{BlockingConnection, ThreadSession};
use super::{close_held, no_cursor, Canceller, Command, DbError, Response, SessionError, StatementResult, Value};

/// The version of the SQLite compiled into this build.
pub fn library_version() -> String {
    Api::bundled().version()
}

/// A session on one connection, served by a thread of its own.
pub type SqliteSession = ThreadSession<Connection>;

/// The connection pointer as far as other threads may use it: for sqlite3_interrupt,
/// which SQLite allows from any thread while the connection is open. It is cleared,
/// under the lock, before the connection closes.
pub struct Interrupt {
    api: Arc<Api>,
    db: Mutex<*mut sqlite3>,
    /// The connection's busy timeout in ms, as `PRAGMA busy_timeout` last reported it.
    busy_timeout_ms: std::sync::atomic::AtomicI64,
}

// SAFETY: the pointer is only used for sqlite3_interrupt, under the mutex, while open.
unsafe impl Send for Interrupt {}
unsafe impl Sync for Interrupt {}

impl Canceller for Arc<Interrupt> {
    fn cancel(&self) {
        let db = self.db.lock().unwrap_or_else(|p| p.into_inner());
        if !db.is_null() {
            // SAFETY: the connection is open while the pointer is set.
            unsafe { (self.api.interrupt)(*db) };
        }
    }

    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        let waits_never = self.busy_timeout_ms.load(std::sync::atomic::Ordering::Relaxed) == 0;
        Box::pin(async move { waits_never.then_some(false) })
    }
}

/// A connection, owned by its session thread, with the cursors open on it.
pub struct Connection {
    handle: Handle,
    cursors: HashMap<String, Statement>,
    interrupt: Arc<Interrupt>,
}

/// An open connection handle and the library it belongs to.
struct Handle {
    api: Arc<Api>,
    db: *mut sqlite3,
    /// SQLite's table of result codes.
    classify: Classify,
}

// SAFETY: a connection is used by one thread at a time (its session thread).
unsafe impl Send for Connection {}

impl SqliteSession {
    /// Opens (creating if needed) the database file and starts the session's thread.
    pub fn open(api: Arc<Api>, path: &Path, classify: Classify) -> Result<Self, SessionError> {
        let connection = Connection::open(api, path, classify)?;
        ThreadSession::spawn("dbcompat-sqlite", connection)
            .map_err(|e| SessionError::Harness(format!("cannot start a session thread: {e}")))
    }
}

impl Connection {
    /// Opens (creating if needed) the database file.
    fn open(api: Arc<Api>, path: &Path, classify: Classify) -> Result<Self, SessionError> {
        let name = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| SessionError::Harness(format!("the path {} holds a NUL byte", path.display())))?;
        let mut db: *mut sqlite3 = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated name and out-pointer; flags from SQLite's API.
        let rc = unsafe { (api.open_v2)(name.as_ptr(), &mut db, OPEN_READWRITE | OPEN_CREATE | OPEN_NOMUTEX, std::ptr::null()) };
        if rc != SQLITE_OK {
            let message = if db.is_null() { format!("error code {rc}") } else { errmsg(&api, db) };
            // SAFETY: sqlite3_close accepts the handle open_v2 returned, even on failure.
            unsafe { (api.close)(db) };
            return Err(SessionError::ConnectionLost(format!("cannot open {}: {message}", path.display())));
        }
        // SAFETY: db is open.
        unsafe {
            (api.extended_result_codes)(db, 1);
            (api.busy_timeout)(db, 0);
        }
        let interrupt = Arc::new(Interrupt { api: api.clone(), db: Mutex::new(db), busy_timeout_ms: 0.into() });
        Ok(Connection { handle: Handle { api, db, classify }, cursors: HashMap::new(), interrupt })
    }
}

impl BlockingConnection for Connection {
    type Canceller = Arc<Interrupt>;

    // Waiting for the close matters: a closing connection may checkpoint a WAL file
    // under an exclusive lock, which the next case step would otherwise run into.
    const CLOSE_WAIT: Option<Duration> = Some(Duration::from_secs(10));

    fn canceller(&self) -> Arc<Interrupt> {
        self.interrupt.clone()
    }

    fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        let conn = &self.handle;
        match command {
            Command::Sql(sql) => {
                let result = run_statement(conn, sql);
                // A statement that may have changed the busy timeout: read it back.
                if sql.to_ascii_lowercase().contains("busy_timeout") {
                    if let Ok(Ok(Response::Rows { rows, .. })) = run_statement(conn, "PRAGMA busy_timeout") {
                        if let Some(ms) = rows.first().and_then(|r| r.first()).and_then(|v| v.parse::<i64>().ok()) {
                            self.interrupt.busy_timeout_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                result
            }
            Command::OpenCursor { name, sql, fetch, .. } => {
                self.cursors.remove(name);
                match conn.prepare(sql) {
                    Ok(Ok(Some(statement))) => {
                        let cursor = self.cursors.entry(name.clone()).or_insert(statement);
                        fetch_rows(conn, cursor, *fetch)
                    }
                    Ok(Ok(None)) => Err(SessionError::Harness("the cursor's SQL holds no statement".into())),
                    Ok(Err(e)) => Ok(Err(e)),
                    Err(e) => Err(e),
                }
            }
            Command::Fetch { name, count } => match self.cursors.get_mut(name) {
                Some(cursor) => fetch_rows(conn, cursor, *count),
                None => Err(no_cursor(name)),
            },
            // Dropping the statement finalizes it.
            Command::CloseCursor { name } => close_held(&mut self.cursors, name),
        }
    }

    fn close(mut self) {
        // sqlite3_close leaves a connection with unfinalized statements open.
        self.cursors.clear();
        *self.interrupt.db.lock().unwrap_or_else(|p| p.into_inner()) = std::ptr::null_mut();
        // SAFETY: no statement is left, and no other thread can reach the pointer any
        // more.
        unsafe { (self.handle.api.close)(self.handle.db) };
    }
}

fn errmsg(api: &Api, db: *mut sqlite3) -> String {
    // SAFETY: errmsg returns a NUL-terminated string owned by the connection.
    unsafe { CStr::from_ptr((api.errmsg)(db)) }.to_string_lossy().into_owned()
}

/// A prepared statement, finalized when dropped.
struct Statement {
    api: Arc<Api>,
    ptr: *mut sqlite3_stmt,
    columns: Vec<String>,
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: ptr came from prepare_v2 and is finalized once.
        unsafe { (self.api.finalize)(self.ptr) };
    }
}

impl Handle {
    /// The server's answer to a failed call, with its extended code.
    fn error(&self) -> StatementResult {
        let message = errmsg(&self.api, self.db);
        // SAFETY: db is open.
        let code = unsafe { (self.api.extended_errcode)(self.db) };
        Err(DbError { class: (self.classify)(&code.to_string(), &message), code: code.to_string(), message })
    }

    /// Prepares one statement; `Ok(None)` for SQL that holds no statement (a comment).
    fn prepare(&self, sql: &str) -> Result<Result<Option<Statement>, DbError>, SessionError> {
        let text = CString::new(sql).map_err(|_| SessionError::Harness("the SQL holds a NUL byte".into()))?;
        let mut ptr = std::ptr::null_mut();
        let mut tail = std::ptr::null();
        // SAFETY: valid connection, NUL-terminated SQL, out-pointers.
        let rc = unsafe { (self.api.prepare_v2)(self.db, text.as_ptr(), -1, &mut ptr, &mut tail) };
        if rc != SQLITE_OK {
            return Ok(Err(self.error().unwrap_err()));
        }
        if ptr.is_null() {
            return Ok(Ok(None));
        }
        // SAFETY: ptr is a prepared statement; names are NUL-terminated strings.
        let columns = unsafe {
            (0..(self.api.column_count)(ptr))
                .map(|i| CStr::from_ptr((self.api.column_name)(ptr, i)).to_string_lossy().into_owned())
                .collect()
        };
        let statement = Statement { api: self.api.clone(), ptr, columns };
        // SAFETY: tail points into `text`, which is still alive.
        let rest = unsafe { CStr::from_ptr(tail) }.to_string_lossy();
        if !rest.trim().is_empty() {
            return Err(SessionError::Harness("one SQL string holds several statements; give each statement its own entry".into()));
        }
        Ok(Ok(Some(statement)))
    }
}

fn run_statement(conn: &Handle, sql: &str) -> Result<StatementResult, SessionError> {
    let mut statement = match conn.prepare(sql)? {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(Ok(Response::Affected { count: 0 })),
        Err(e) => return Ok(Err(e)),
    };
    if !statement.columns.is_empty() {
        return fetch_rows(conn, &mut statement, None);
    }
    // sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE, so a BEGIN
    // after an UPDATE would report its count; total_changes moves only when this
    // statement changed rows.
    // SAFETY: db is open; the statement belongs to it.
    unsafe {
        let before = (conn.api.total_changes)(conn.db);
        loop {
            match (conn.api.step)(statement.ptr) {
                SQLITE_ROW => continue,
                SQLITE_DONE => break,
                _ => return Ok(conn.error()),
            }
        }
        let count = if (conn.api.total_changes)(conn.db) != before { (conn.api.changes)(conn.db) as u64 } else { 0 };
        Ok(Ok(Response::Affected { count }))
    }
}

/// Steps a statement for up to `limit` rows (all when `None`).
fn fetch_rows(conn: &Handle, statement: &mut Statement, limit: Option<u64>) -> Result<StatementResult, SessionError> {
    let api = &conn.api;
    let width = statement.columns.len() as i32;
    let mut rows = Vec::new();
    while limit.is_none_or(|n| (rows.len() as u64) < n) {
        // SAFETY: the statement is prepared and not finalized.
        match unsafe { (api.step)(statement.ptr) } {
            SQLITE_ROW => rows.push((0..width).map(|i| value(api, statement.ptr, i).canonical()).collect()),
            SQLITE_DONE => break,
            _ => return Ok(conn.error()),
        }
    }
    Ok(Ok(Response::Rows { columns: statement.columns.clone(), rows }))
}

fn value(api: &Api, stmt: *mut sqlite3_stmt, i: i32) -> Value {
    // SAFETY: stmt is on a row; text and blob pointers are valid for column_bytes bytes
    // until the next step, and are copied at once.
    unsafe {
        match (api.column_type)(stmt, i) {
            SQLITE_INTEGER => Value::Int((api.column_int64)(stmt, i)),
            SQLITE_FLOAT => Value::Real((api.column_double)(stmt, i)),
            SQLITE_TEXT => {
                let p = (api.column_text)(stmt, i);
                let n = (api.column_bytes)(stmt, i) as usize;
                Value::Text(if p.is_null() { String::new() } else { String::from_utf8_lossy(std::slice::from_raw_parts(p, n)).into_owned() })
            }
            SQLITE_BLOB => {
                let p = (api.column_blob)(stmt, i) as *const u8;
                let n = (api.column_bytes)(stmt, i) as usize;
                Value::Bytes(if p.is_null() { Vec::new() } else { std::slice::from_raw_parts(p, n).to_vec() })
            }
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::Session;

    fn open(dir: &tempfile::TempDir, name: &str) -> SqliteSession {
        SqliteSession::open(Arc::new(Api::bundled()), &dir.path().join(name), crate::backends::sqlite_class).unwrap()
    }

    async fn sql(s: &mut SqliteSession, text: &str) -> String {
        match s.execute(&Command::Sql(text.into())).await.unwrap() {
            Ok(r) => r.canonical(),
            Err(e) => format!("error:{}", e.class),
        }
    }

    #[tokio::test]
    async fn statements_report_rows_counts_and_classes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(&dir, "t.db");
        assert_eq!(sql(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)").await, "ok");
        assert_eq!(sql(&mut s, "INSERT INTO t (v) VALUES ('a'), (''), (NULL)").await, "affected:3");
        assert_eq!(sql(&mut s, "BEGIN").await, "ok");
        assert_eq!(sql(&mut s, "SELECT id, v FROM t ORDER BY id").await, "rows:(1,'a'),(2,''),(3,NULL)");
        assert_eq!(sql(&mut s, "SELECT 1.0, 2, x'01' WHERE 0").await, "rows:none");
        assert_eq!(sql(&mut s, "SELECT 1.0, 2, x'01ff'").await, "rows:(1.0,2,x'01ff')");
        assert_eq!(sql(&mut s, "INSERT INTO t (v) VALUES ('a')").await, "error:unique_violation");
        assert_eq!(sql(&mut s, "SELECT * FROM t FOR UPDATE").await, "error:syntax");
        assert_eq!(sql(&mut s, "SELECT * FROM missing").await, "error:undefined_object");
        assert_eq!(sql(&mut s, "-- only a comment").await, "ok");
        let multi = s.execute(&Command::Sql("SELECT 1; SELECT 2".into())).await;
        assert!(matches!(multi, Err(SessionError::Harness(_))), "{multi:?}");
        Box::new(s).close().await;
    }

    #[tokio::test]
    async fn a_cursor_interleaves_with_writes_on_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(&dir, "c.db");
        sql(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY)").await;
        sql(&mut s, "INSERT INTO t VALUES (1), (2), (3)").await;
        let open = Command::OpenCursor { name: "c".into(), sql: "SELECT id FROM t ORDER BY id".into(), fetch: Some(1), streamed: false };
        assert_eq!(s.execute(&open).await.unwrap().unwrap().canonical(), "rows:(1)");
        assert_eq!(sql(&mut s, "DELETE FROM t WHERE id = 3").await, "affected:1");
        let rest = Command::Fetch { name: "c".into(), count: None };
        assert_eq!(s.execute(&rest).await.unwrap().unwrap().canonical(), "rows:(2)");
        let missing = Command::Fetch { name: "nope".into(), count: None };
        assert!(s.execute(&missing).await.is_err());
        let close = Command::CloseCursor { name: "c".into() };
        assert_eq!(s.execute(&close).await.unwrap().unwrap().canonical(), "ok");
        assert!(s.execute(&rest).await.is_err(), "a closed cursor cannot be fetched from");
        assert!(s.execute(&close).await.is_err(), "nor closed twice");
        Box::new(s).close().await;
    }

    #[tokio::test]
    async fn cancelling_interrupts_a_running_statement() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = open(&dir, "i.db");
        let canceller = s.canceller();
        let endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n";
        let command = Command::Sql(endless.into());
        let run = s.execute(&command);
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            canceller.cancel();
        };
        let (result, ()) = tokio::join!(run, cancel);
        assert_eq!(result.unwrap().unwrap_err().class, crate::driver::ErrorClass::QueryCanceled);
    }

    #[test]
    fn closing_clears_the_interrupt_pointer_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(Arc::new(Api::bundled()), &dir.path().join("p.db"), crate::backends::sqlite_class).unwrap();
        let interrupt = conn.canceller();
        let open = Command::OpenCursor { name: "c".into(), sql: "SELECT 1 UNION ALL SELECT 2".into(), fetch: Some(1), streamed: false };
        assert_eq!(conn.execute(&open).unwrap().unwrap().canonical(), "rows:(1)");
        assert!(!interrupt.db.lock().unwrap().is_null());
        conn.close();
        assert!(interrupt.db.lock().unwrap().is_null());
        // A canceller kept past the session's end reaches nothing.
        interrupt.cancel();
    }

    #[tokio::test]
    async fn close_returns_once_the_connection_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let mut s = open(&dir, "w.db");
        assert_eq!(sql(&mut s, "PRAGMA journal_mode = WAL").await, "rows:('wal')");
        sql(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY)").await;
        sql(&mut s, "INSERT INTO t VALUES (1)").await;
        let wal = dir.path().join("w.db-wal");
        assert!(wal.exists());
        Box::new(s).close().await;
        // The last connection to close checkpoints the WAL file and removes it.
        assert!(!wal.exists(), "{} is still there after close", wal.display());
        assert!(path.exists());
    }
}
