//! SQLite sessions over SQLite's C API (see `sqlite_api`), for any SQLite library.
//!
//! Each session is a thread that owns one connection (SQLite's API is blocking) and
//! serves commands from a channel. An open cursor is a statement stepped part way;
//! other statements may run on the same connection before it is stepped again —
//! exactly the "modify a table while iterating it" case SQLite documents as undefined,
//! which the suites measure.
//!
//! Sessions start with `busy_timeout = 0`, SQLite's own default, so waiting for a lock
//! is something a probe asks for (`PRAGMA busy_timeout = 5000`), never an accident.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::error::sqlite_class;
use super::sqlite_api::*;
use super::{Canceller, Command, DbError, Response, Session, SessionError, StatementResult, Value};

/// The version of the SQLite compiled into this build.
pub fn library_version() -> String {
    Api::bundled().version()
}

type Reply = oneshot::Sender<Result<StatementResult, SessionError>>;

pub struct SqliteSession {
    requests: mpsc::Sender<(Command, Reply)>,
    interrupt: Arc<Interrupt>,
    /// Fires once the thread has closed the connection.
    closed: oneshot::Receiver<()>,
}

/// The connection pointer as far as other threads may use it: for sqlite3_interrupt,
/// which SQLite allows from any thread while the connection is open. It is cleared,
/// under the lock, before the connection closes.
struct Interrupt {
    api: Arc<Api>,
    db: Mutex<*mut sqlite3>,
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
}

/// A connection, owned by its session thread.
struct Connection {
    api: Arc<Api>,
    db: *mut sqlite3,
    interrupt: Arc<Interrupt>,
}

// SAFETY: a connection is used by one thread at a time (its session thread).
unsafe impl Send for Connection {}

impl SqliteSession {
    /// Opens (creating if needed) the database file and starts the session's thread.
    pub fn open(api: Arc<Api>, path: &Path) -> Result<Self, SessionError> {
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
        let interrupt = Arc::new(Interrupt { api: api.clone(), db: Mutex::new(db) });
        let connection = Connection { api, db, interrupt: interrupt.clone() };
        let (requests, inbox) = mpsc::channel();
        let (closing, closed) = oneshot::channel();
        std::thread::Builder::new()
            .name("dbcompat-sqlite".into())
            .spawn(move || {
                serve(&connection, inbox);
                connection.close();
                let _ = closing.send(());
            })
            .map_err(|e| SessionError::Harness(format!("cannot start a session thread: {e}")))?;
        Ok(SqliteSession { requests, interrupt, closed })
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
        Box::new(self.interrupt.clone())
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

fn errmsg(api: &Api, db: *mut sqlite3) -> String {
    // SAFETY: errmsg returns a NUL-terminated string owned by the connection.
    unsafe { CStr::from_ptr((api.errmsg)(db)) }.to_string_lossy().into_owned()
}

/// A prepared statement, finalized when dropped.
struct Statement<'c> {
    conn: &'c Connection,
    ptr: *mut sqlite3_stmt,
    columns: Vec<String>,
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        // SAFETY: ptr came from prepare_v2 and is finalized once.
        unsafe { (self.conn.api.finalize)(self.ptr) };
    }
}

impl Connection {
    /// The server's answer to a failed call, with its extended code.
    fn error(&self) -> StatementResult {
        let message = errmsg(&self.api, self.db);
        // SAFETY: db is open.
        let code = unsafe { (self.api.extended_errcode)(self.db) };
        Err(DbError { class: sqlite_class(code, &message), code: code.to_string(), message })
    }

    /// Prepares one statement; `Ok(None)` for SQL that holds no statement (a comment).
    fn prepare(&self, sql: &str) -> Result<Result<Option<Statement<'_>>, DbError>, SessionError> {
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
        let statement = Statement { conn: self, ptr, columns };
        // SAFETY: tail points into `text`, which is still alive.
        let rest = unsafe { CStr::from_ptr(tail) }.to_string_lossy();
        if !rest.trim().is_empty() {
            return Err(SessionError::Harness("one SQL string holds several statements; give each statement its own entry".into()));
        }
        Ok(Ok(Some(statement)))
    }

    fn close(&self) {
        *self.interrupt.db.lock().unwrap_or_else(|p| p.into_inner()) = std::ptr::null_mut();
        // SAFETY: no statement is left (cursors are dropped before), and no other
        // thread can reach the pointer any more.
        unsafe { (self.api.close)(self.db) };
    }
}

fn serve(conn: &Connection, inbox: mpsc::Receiver<(Command, Reply)>) {
    let mut cursors: HashMap<String, Statement<'_>> = HashMap::new();
    while let Ok((command, reply)) = inbox.recv() {
        let result = match command {
            Command::Sql(sql) => run_statement(conn, &sql),
            Command::OpenCursor { name, sql, fetch } => {
                cursors.remove(&name);
                match conn.prepare(&sql) {
                    Ok(Ok(Some(statement))) => {
                        let cursor = cursors.entry(name).or_insert(statement);
                        fetch_rows(cursor, fetch)
                    }
                    Ok(Ok(None)) => Err(SessionError::Harness("the cursor's SQL holds no statement".into())),
                    Ok(Err(e)) => Ok(Err(e)),
                    Err(e) => Err(e),
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
    let mut statement = match conn.prepare(sql)? {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(Ok(Response::Affected { count: 0 })),
        Err(e) => return Ok(Err(e)),
    };
    if !statement.columns.is_empty() {
        return fetch_rows(&mut statement, None);
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
fn fetch_rows(statement: &mut Statement<'_>, limit: Option<u64>) -> Result<StatementResult, SessionError> {
    let api = &statement.conn.api;
    let width = statement.columns.len() as i32;
    let mut rows = Vec::new();
    while limit.is_none_or(|n| (rows.len() as u64) < n) {
        // SAFETY: the statement is prepared and not finalized.
        match unsafe { (api.step)(statement.ptr) } {
            SQLITE_ROW => rows.push((0..width).map(|i| value(api, statement.ptr, i).canonical()).collect()),
            SQLITE_DONE => break,
            _ => return Ok(statement.conn.error()),
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

    fn open(dir: &tempfile::TempDir, name: &str) -> SqliteSession {
        SqliteSession::open(Arc::new(Api::bundled()), &dir.path().join(name)).unwrap()
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
        let open = Command::OpenCursor { name: "c".into(), sql: "SELECT id FROM t ORDER BY id".into(), fetch: Some(1) };
        assert_eq!(s.execute(&open).await.unwrap().unwrap().canonical(), "rows:(1)");
        assert_eq!(sql(&mut s, "DELETE FROM t WHERE id = 3").await, "affected:1");
        let rest = Command::Fetch { name: "c".into(), count: None };
        assert_eq!(s.execute(&rest).await.unwrap().unwrap().canonical(), "rows:(2)");
        let missing = Command::Fetch { name: "nope".into(), count: None };
        assert!(s.execute(&missing).await.is_err());
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
}
