//! MySQL and MariaDB sessions through mysql_async, with the text protocol (as mysqlclient
//! and Connector/Python send statements by default): every value arrives as the
//! server's text.
//!
//! The session is meant to start as the vendor's own command-line client starts:
//! - Capability flags are mysql_async's: neither CLIENT_FOUND_ROWS (an UPDATE that
//!   changes nothing reports 0 rows, as the server's client shows; a framework profile
//!   may ask for it) nor IGNORE_SPACE (sql_mode is the server's global value).
//! - No statement runs at connect: max_allowed_packet and wait_timeout are given in
//!   the options instead of read with a SELECT, and the server socket is not looked
//!   up. The connection id comes from the handshake.
//! - Character set: mysql_async always asks for utf8mb4_general_ci (id 45) in the
//!   handshake. The `mysql` client of MySQL 8.0 and later asks for utf8mb4_0900_ai_ci
//!   (255), the server's default utf8mb4 collation, so on MySQL the session runs
//!   `SET NAMES utf8mb4 COLLATE utf8mb4_0900_ai_ci` once after connecting, which gives
//!   the client's character_set_client/connection/results and collation_connection.
//!   The `mariadb` client of 11.x asks for utf8mb4 too, and MariaDB (11.x maps it
//!   through character_set_collations) then gives the same session as it gives its own
//!   client, so nothing runs there. The 10.x client connects in utf8mb3 (its UTF-8
//!   locale maps to utf8mb3), so a 10.x session runs `SET NAMES utf8mb3` once after
//!   connecting; `dbcompat crosscheck` compares the two sessions setting by setting.
//!
//! After each statement whose OK or EOF packet counts warnings, and after each error
//! (MySQL keeps a failed statement's warnings), the session reads `SHOW WARNINGS`; its
//! warnings and notes are the statement's diagnostics (its `Error` rows repeat the
//! statement's own error and are left out). The OK packet's info text
//! (`Rows matched: 1  Changed: 0  Warnings: 0`) is the statement's tag.
//!
//! Cursors are buffered client-side by default, as mysqlclient's default cursor and
//! Django read results: opening one runs the query and reads its whole result at once,
//! and fetches hand out the buffered rows. Other statements may run on the session
//! meanwhile, and a buffered cursor sees the result as it was when its query ran.
//!
//! A streamed cursor (`stream = true`) is an unbuffered result, as mysqlclient's SSCursor
//! and Connector/Python's unbuffered cursor read it: rows are taken off the connection as
//! they are fetched, and the server, which writes rows as it reads them, waits once the
//! socket buffers are full, holding whatever its statement holds (a MyISAM table lock, the
//! row locks of a locking read so far). The protocol takes no other command on the
//! connection until the result has been read to its end, so while it is open the
//! session answers any other command with a harness error, and closing the cursor reads
//! and discards the rest, as a client's close does.

use std::collections::HashMap;

use async_trait::async_trait;
use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value};
use tokio::sync::{mpsc, oneshot};

use super::error::Classify;
use super::text_rows::{expects_rows, render, ColumnKind};
use super::{close_held, no_cursor, Canceller, Command, ConnectError, DbError, Diagnostic, Notes, Response, Session, SessionError, StatementResult};

/// The largest packet the client sends or accepts: the protocol's limit, so the
/// server's own max_allowed_packet is the one that decides.
const MAX_PACKET: usize = 1 << 30;

/// The binary character set's number (`SHOW CHARACTER SET`: binary, default collation 63).
const BINARY_CHARSET: u16 = 63;

/// Where a session connects and how it logs in.
#[derive(Clone)]
pub struct MySqlOptions {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: Option<String>,
    /// The CLIENT_FOUND_ROWS capability flag: an UPDATE then reports the rows it matched,
    /// not the rows it changed. The server's own client does not send it; Django does.
    pub found_rows: bool,
    /// What runs once after connecting, by the server's version: what the vendor's
    /// client's session has that mysql_async's handshake does not give.
    pub after_connect: fn((u16, u16, u16)) -> Option<&'static str>,
    /// The server's table of error numbers.
    pub classify: Classify,
    /// The statement that stops connection `id`'s running statement.
    pub cancel_sql: fn(id: u32) -> String,
    /// The query whose first value counts the lock waits of connection `id`.
    pub lock_wait_sql: fn(id: u32) -> String,
}

impl MySqlOptions {
    fn opts(&self) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .db_name(self.database.clone())
            .prefer_socket(false)
            .client_found_rows(self.found_rows)
            .max_allowed_packet(Some(MAX_PACKET))
            .wait_timeout(Some(28800))
            .into()
    }

    async fn connect(&self) -> Result<Conn, mysql_async::Error> {
        let mut conn = Conn::new(self.opts()).await?;
        if let Some(sql) = (self.after_connect)(conn.server_version()) {
            conn.query_drop(sql).await?;
        }
        Ok(conn)
    }
}

pub struct MySqlSession {
    /// `None` while a streamed result holds the connection.
    conn: Option<Conn>,
    id: u32,
    admin: MySqlOptions,
    notes: Notes,
    cursors: HashMap<String, Cursor>,
    stream: Option<Streamed>,
}

/// A streamed result being read. Its task owns the connection until the result has been
/// read to its end, then hands it back.
struct Streamed {
    name: String,
    requests: mpsc::Sender<FetchRequest>,
    task: tokio::task::JoinHandle<Conn>,
}

/// Up to `count` more rows (all the rest when `None`).
struct FetchRequest {
    count: Option<u64>,
    reply: oneshot::Sender<Result<Chunk, mysql_async::Error>>,
}

/// Rows read off a streamed result; `ended` once its terminator has been read.
struct Chunk {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    ended: bool,
}

/// A buffered result: its columns and the rows not yet fetched.
struct Cursor {
    columns: Vec<String>,
    rows: std::collections::VecDeque<Vec<String>>,
}

impl MySqlSession {
    fn streaming(&self, name: &str) -> bool {
        self.stream.as_ref().is_some_and(|s| s.name == name)
    }

    /// Connects; `admin` is where KILL QUERY and lock questions are sent from.
    pub async fn connect(options: &MySqlOptions, admin: MySqlOptions) -> Result<Self, ConnectError> {
        let conn = options.connect().await.map_err(connect_error)?;
        let id = conn.id();
        Ok(MySqlSession { conn: Some(conn), id, admin, notes: Notes::default(), cursors: HashMap::new(), stream: None })
    }

    /// The connection, unless a streamed result holds it.
    fn conn(&mut self) -> Result<&mut Conn, SessionError> {
        match (&mut self.conn, &self.stream) {
            (Some(conn), _) => Ok(conn),
            (None, Some(s)) => Err(SessionError::Unsupported(format!(
                "cursor `{}` is a streamed result not yet read to its end: the MySQL protocol takes no other command on its connection until then (close the cursor first)",
                s.name
            ))),
            (None, None) => Err(SessionError::ConnectionLost("the connection was lost with a streamed result".into())),
        }
    }

    /// Runs one statement to its end on the session's connection; what the server said
    /// beside it becomes the session's notes.
    async fn run(&mut self, sql: &str) -> Result<Result<Outcome, DbError>, SessionError> {
        let classify = self.admin.classify;
        let mut notes = Notes::default();
        let result = run(self.conn()?, sql, &mut notes, classify).await;
        self.notes = notes;
        result
    }

    /// Starts a streamed result in a task of its own and reads its first rows.
    async fn open_stream(&mut self, name: &str, sql: &str, fetch: Option<u64>) -> Result<StatementResult, SessionError> {
        self.conn()?;
        let conn = self.conn.take().expect("checked above");
        let (requests, inbox) = mpsc::channel(1);
        let task = tokio::spawn(stream_result(conn, sql.to_string(), inbox));
        self.stream = Some(Streamed { name: name.to_string(), requests, task });
        self.stream_fetch(fetch).await
    }

    async fn stream_fetch(&mut self, count: Option<u64>) -> Result<StatementResult, SessionError> {
        let stream = self.stream.as_ref().expect("a streamed cursor is open");
        let (reply, answer) = oneshot::channel();
        let sent = stream.requests.send(FetchRequest { count, reply }).await;
        let chunk = match sent {
            Ok(()) => answer.await.ok(),
            Err(_) => None,
        };
        match chunk {
            Some(Ok(chunk)) => {
                if chunk.ended {
                    // Read to its end, the cursor stays open with nothing left, as a
                    // buffered one does.
                    let rest = Cursor { columns: chunk.columns.clone(), rows: Default::default() };
                    self.cursors.insert(stream.name.clone(), rest);
                    self.end_stream().await?;
                    let conn = self.conn()?;
                    if conn.get_warnings() > 0 {
                        self.notes.diagnostics = show_warnings(conn).await?;
                    }
                }
                Ok(Ok(Response::Rows { columns: chunk.columns, rows: chunk.rows }))
            }
            Some(Err(mysql_async::Error::Server(e))) => {
                self.end_stream().await?;
                self.notes.diagnostics = show_warnings(self.conn()?).await?;
                Ok(Err(db_error(e, self.admin.classify)))
            }
            Some(Err(e)) => {
                self.end_stream().await?;
                Err(session_error(e))
            }
            None => {
                self.stream = None;
                Err(SessionError::ConnectionLost("the streamed result's reader stopped".into()))
            }
        }
    }

    /// Takes the connection back from a streamed result that has ended.
    async fn end_stream(&mut self) -> Result<(), SessionError> {
        let Some(stream) = self.stream.take() else { return Ok(()) };
        drop(stream.requests);
        let conn = stream.task.await.map_err(|e| SessionError::ConnectionLost(format!("the streamed result's reader failed: {e}")))?;
        self.conn = Some(conn);
        Ok(())
    }
}

/// Serves the fetches of one streamed result, then gives the connection back.
async fn stream_result(mut conn: Conn, sql: String, mut inbox: mpsc::Receiver<FetchRequest>) -> Conn {
    serve_stream(&mut conn, &sql, &mut inbox).await;
    conn
}

/// Answers fetches until the result ends or fails, or the session stops asking.
async fn serve_stream(conn: &mut Conn, sql: &str, inbox: &mut mpsc::Receiver<FetchRequest>) {
    let Some(first) = inbox.recv().await else { return };
    let mut result = match conn.query_iter(sql).await {
        Ok(result) => result,
        Err(e) => {
            let _ = first.reply.send(Err(e));
            return;
        }
    };
    let columns = result.columns().unwrap_or_else(|| Vec::new().into());
    let kinds: Vec<ColumnKind> = columns.iter().map(kind).collect();
    let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
    let mut request = first;
    loop {
        let mut rows = Vec::new();
        let ended = loop {
            if request.count.is_some_and(|c| rows.len() as u64 >= c) {
                break false;
            }
            match result.next().await.and_then(|row| row.map(|row| render_row(&kinds, &row)).transpose()) {
                Ok(Some(values)) => rows.push(values),
                Ok(None) => break true,
                Err(e) => {
                    let _ = request.reply.send(Err(e));
                    return;
                }
            }
        };
        let chunk = Chunk { columns: names.clone(), rows, ended };
        if ended {
            // Later result sets (a CALL's) are read and dropped.
            let _ = request.reply.send(result.drop_result().await.map(|()| chunk));
            return;
        }
        let _ = request.reply.send(Ok(chunk));
        let Some(next) = inbox.recv().await else { return };
        request = next;
    }
}

struct KillQuery {
    admin: MySqlOptions,
    id: u32,
}

impl Canceller for KillQuery {
    fn cancel(&self) {
        let (admin, id) = (self.admin.clone(), self.id);
        tokio::spawn(async move {
            if let Ok(mut c) = Conn::new(admin.opts()).await {
                let _ = c.query_drop((admin.cancel_sql)(id)).await;
                let _ = c.disconnect().await;
            }
        });
    }

    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        let (admin, id) = (self.admin.clone(), self.id);
        Box::pin(async move {
            let mut c = Conn::new(admin.opts()).await.ok()?;
            let sql = (admin.lock_wait_sql)(id);
            let n: Option<i64> = c.query_first(sql).await.ok()?;
            let _ = c.disconnect().await;
            Some(n? > 0)
        })
    }
}

#[async_trait]
impl Session for MySqlSession {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        self.notes = Notes::default();
        match command {
            Command::Sql(sql) => Ok(self.run(sql).await?.map(|r| r.response(sql))),
            Command::OpenCursor { name, sql, fetch, streamed: true } => {
                self.cursors.remove(name);
                self.open_stream(name, sql, *fetch).await
            }
            Command::OpenCursor { name, sql, fetch, streamed: false } => {
                self.cursors.remove(name);
                match self.run(sql).await? {
                    Ok(outcome) => {
                        let mut cursor = Cursor { columns: outcome.columns, rows: outcome.rows.into() };
                        let first = cursor.take(*fetch);
                        self.cursors.insert(name.clone(), cursor);
                        Ok(Ok(first))
                    }
                    Err(e) => Ok(Err(e)),
                }
            }
            Command::Fetch { name, count } if self.streaming(name) => self.stream_fetch(*count).await,
            Command::Fetch { name, count } => match self.cursors.get_mut(name) {
                Some(cursor) => Ok(Ok(cursor.take(*count))),
                None => Err(no_cursor(name)),
            },
            Command::CloseCursor { name } if self.streaming(name) => {
                self.stream_fetch(None).await.map(|r| r.map(|_| Response::Affected { count: 0 }))
            }
            Command::CloseCursor { name } => close_held(&mut self.cursors, name),
        }
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(KillQuery { admin: self.admin.clone(), id: self.id })
    }

    fn take_notes(&mut self) -> Notes {
        std::mem::take(&mut self.notes)
    }

    async fn close(self: Box<Self>) {
        if let Some(stream) = self.stream {
            // The connection goes with the task; the server sees it close.
            stream.task.abort();
        }
        if let Some(conn) = self.conn {
            let _ = conn.disconnect().await;
        }
    }
}

impl Cursor {
    fn take(&mut self, count: Option<u64>) -> Response {
        let n = count.map_or(self.rows.len(), |c| (c as usize).min(self.rows.len()));
        Response::Rows { columns: self.columns.clone(), rows: self.rows.drain(..n).collect() }
    }
}

/// Everything one statement returned: rows of every result set, affected counts summed.
struct Outcome {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    affected: u64,
}

impl Outcome {
    /// A text protocol reports an empty result set and "0 rows changed" alike: the
    /// statement decides (see [`expects_rows`]).
    fn response(self, sql: &str) -> Response {
        if !self.rows.is_empty() || expects_rows(sql) {
            Response::Rows { columns: self.columns, rows: self.rows }
        } else {
            Response::Affected { count: self.affected }
        }
    }
}

async fn run(conn: &mut Conn, sql: &str, notes: &mut Notes, classify: Classify) -> Result<Result<Outcome, DbError>, SessionError> {
    let mut warnings = 0u16;
    let outcome = read_all(conn, sql, &mut warnings, notes).await;
    match outcome {
        Ok(outcome) => {
            if warnings > 0 {
                notes.diagnostics = show_warnings(conn).await?;
            }
            Ok(Ok(outcome))
        }
        Err(mysql_async::Error::Server(e)) => {
            notes.diagnostics = show_warnings(conn).await?;
            Ok(Err(db_error(e, classify)))
        }
        Err(e) => Err(session_error(e)),
    }
}

fn db_error(e: mysql_async::ServerError, classify: Classify) -> DbError {
    DbError { class: classify(&e.code.to_string(), &e.message), code: format!("{} ({})", e.code, e.state), message: e.message }
}

/// Refused logins (1044, 1045, 1698), a missing database (1049) and an authentication
/// plugin the client lacks (1251, 2059) do not pass by waiting; a server still starting
/// up (connection refused, reset, 1053 shutdown in progress) may.
fn connect_error(e: mysql_async::Error) -> ConnectError {
    let permanent = match &e {
        mysql_async::Error::Server(s) => matches!(s.code, 1044 | 1045 | 1049 | 1251 | 1698),
        mysql_async::Error::Driver(d) => matches!(d, mysql_async::DriverError::UnknownAuthPlugin { .. }),
        _ => false,
    };
    ConnectError { message: e.to_string(), permanent }
}

fn session_error(e: mysql_async::Error) -> SessionError {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => SessionError::ConnectionLost(e.to_string()),
        other => SessionError::Harness(other.to_string()),
    }
}

/// Reads every result set of one statement (a CALL may send several), noting the
/// warning count and info text of each OK or EOF packet on the way.
async fn read_all(conn: &mut Conn, sql: &str, warnings: &mut u16, notes: &mut Notes) -> Result<Outcome, mysql_async::Error> {
    let mut outcome = Outcome { columns: Vec::new(), rows: Vec::new(), affected: 0 };
    let mut result = conn.query_iter(sql).await?;
    loop {
        let columns = result.columns();
        match columns.as_deref() {
            None | Some([]) => {
                // A set without columns is one OK packet, already read.
                outcome.affected += result.affected_rows();
                note(&mut *warnings, notes, result.warnings(), &result.info());
                let _: Vec<Row> = result.collect().await?;
            }
            Some(columns) => {
                let kinds: Vec<ColumnKind> = columns.iter().map(kind).collect();
                let rows: Vec<Row> = result.collect().await?;
                if outcome.columns.is_empty() && !rows.is_empty() {
                    outcome.columns = columns.iter().map(|c| c.name_str().into_owned()).collect();
                }
                for row in rows {
                    outcome.rows.push(render_row(&kinds, &row)?);
                }
            }
        }
        if result.is_empty() {
            break;
        }
    }
    // The last packet (a result set's terminator, or the final OK of a CALL).
    note(warnings, notes, conn.get_warnings(), &conn.info());
    Ok(outcome)
}

/// One row's values in canonical text.
fn render_row(kinds: &[ColumnKind], row: &Row) -> Result<Vec<String>, mysql_async::Error> {
    (0..row.len())
        .map(|i| match row.as_ref(i) {
            Some(Value::Bytes(b)) => Ok(render(kinds[i], Some(b))),
            Some(Value::NULL) | None => Ok(render(kinds[i], None)),
            Some(other) => Err(other.as_sql(false)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|v| mysql_async::Error::Other(format!("a text-protocol value arrived decoded: {v}").into()))
}

fn note(warnings: &mut u16, notes: &mut Notes, count: u16, info: &str) {
    *warnings = (*warnings).max(count);
    if !info.is_empty() {
        notes.tag = Some(info.to_string());
    }
}

/// The last statement's warnings and notes, as `SHOW WARNINGS` lists them.
async fn show_warnings(conn: &mut Conn) -> Result<Vec<Diagnostic>, SessionError> {
    let rows: Vec<Row> = match conn.query("SHOW WARNINGS").await {
        Ok(rows) => rows,
        Err(mysql_async::Error::Server(_)) => return Ok(Vec::new()),
        Err(e) => return Err(session_error(e)),
    };
    let text = |row: &Row, i: usize| match row.as_ref(i) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::Int(n)) => n.to_string(),
        Some(Value::UInt(n)) => n.to_string(),
        _ => String::new(),
    };
    Ok(rows
        .iter()
        .map(|row| Diagnostic { level: text(row, 0).to_ascii_lowercase(), code: text(row, 1), message: text(row, 2) })
        .filter(|d| d.level != "error")
        .collect())
}

/// How a column's text is rendered, from its protocol type and character set.
fn kind(column: &mysql_async::Column) -> ColumnKind {
    use ColumnType::*;
    let binary = column.character_set() == BINARY_CHARSET;
    match column.column_type() {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR => ColumnKind::Integer,
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => ColumnKind::Real,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => ColumnKind::Decimal,
        MYSQL_TYPE_BIT | MYSQL_TYPE_GEOMETRY => ColumnKind::Bytes,
        MYSQL_TYPE_STRING | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_VARCHAR | MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB
            if binary =>
        {
            ColumnKind::Bytes
        }
        _ => ColumnKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffered_cursor_hands_out_its_rows_in_order_and_then_none() {
        let mut c = Cursor { columns: vec!["id".into()], rows: (1..=5).map(|i| vec![i.to_string()]).collect() };
        assert_eq!(c.take(Some(2)).canonical(), "rows:(1),(2)");
        assert_eq!(c.take(None).canonical(), "rows:(3),(4),(5)");
        assert_eq!(c.take(Some(1)).canonical(), "rows:none");
    }

    #[test]
    fn an_empty_result_is_rows_or_ok_by_its_statement() {
        let empty = || Outcome { columns: Vec::new(), rows: Vec::new(), affected: 0 };
        assert_eq!(empty().response("SELECT 1 FROM t WHERE 0").canonical(), "rows:none");
        assert_eq!(empty().response("UPDATE t SET v = v").canonical(), "ok");
        assert_eq!(Outcome { affected: 2, ..empty() }.response("DELETE FROM t").canonical(), "affected:2");
    }

    #[test]
    fn columns_render_by_protocol_type_and_character_set() {
        use mysql_async::consts::ColumnType::*;
        let column = |t, charset| mysql_async::Column::new(t).with_character_set(charset);
        assert_eq!(kind(&column(MYSQL_TYPE_LONGLONG, 63)), ColumnKind::Integer);
        assert_eq!(kind(&column(MYSQL_TYPE_NEWDECIMAL, 63)), ColumnKind::Decimal);
        assert_eq!(kind(&column(MYSQL_TYPE_DOUBLE, 63)), ColumnKind::Real);
        assert_eq!(kind(&column(MYSQL_TYPE_VAR_STRING, 63)), ColumnKind::Bytes, "VARBINARY");
        assert_eq!(kind(&column(MYSQL_TYPE_VAR_STRING, 255)), ColumnKind::Text, "a utf8mb4 VARCHAR, also under a _bin collation");
        assert_eq!(kind(&column(MYSQL_TYPE_BLOB, 45)), ColumnKind::Text, "TEXT");
    }
}
