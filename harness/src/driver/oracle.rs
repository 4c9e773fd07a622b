//! Oracle sessions through the `oracle` crate (ODPI-C), built with `--features oracle`.
//!
//! The crate is blocking, so each session is a thread owning its connection, like
//! SQLite's (see `threaded`). It loads the Oracle client library (Instant Client) at
//! run time; where it is missing, Oracle targets are reported as not run with how to
//! install it.

use std::sync::Arc;
use std::time::Duration;

use oracle::sql_type::OracleType;
use oracle::Connection;

use super::error::Classify;
use super::text_rows::{render, ColumnKind};
use super::threaded::{BlockingConnection, ThreadSession};
use super::{Canceller, Command, ConnectError, DbError, Response, SessionError, StatementResult};

/// Whether the Oracle client library can be loaded; the error says how to get it.
pub fn client_available() -> Result<(), String> {
    oracle::Version::client().map(|_| ()).map_err(|e| {
        format!("Oracle client library not found (install Oracle Instant Client and add its directory to LD_LIBRARY_PATH): {e}")
    })
}

/// A session on one connection, served by a thread of its own.
pub type OracleSession = ThreadSession<OracleConnection>;

/// A connection, owned by its session thread; shared only with its [`Break`].
pub struct OracleConnection {
    conn: Arc<Connection>,
    /// Oracle's table of ORA- numbers.
    classify: Classify,
}

impl OracleSession {
    /// Connects as `user` to `//host:port/service`, off the async runtime's threads.
    pub async fn connect(user: String, password: String, connect_string: String, classify: Classify) -> Result<Self, ConnectError> {
        let conn = tokio::task::spawn_blocking(move || Connection::connect(user, password, connect_string))
            .await
            .map_err(|e| ConnectError::transient(e.to_string()))?
            .map_err(|e| {
                // ORA-01017 wrong user or password, ORA-28000 locked, ORA-28001 expired,
                // ORA-01045 no CREATE SESSION: none passes by waiting. The listener's
                // errors while the database opens (ORA-12514, ORA-12541) may.
                let permanent = e.db_error().is_some_and(|d| matches!(d.code(), 1017 | 1045 | 28000 | 28001));
                ConnectError { message: e.to_string(), permanent }
            })?;
        ThreadSession::spawn("dbcompat-oracle", OracleConnection { conn: Arc::new(conn), classify })
            .map_err(|e| ConnectError::transient(format!("cannot start a session thread: {e}")))
    }
}

/// Stops a running statement with OCI's break (`break_execution`), from any thread.
#[derive(Clone)]
pub struct Break(Arc<Connection>);

impl Canceller for Break {
    fn cancel(&self) {
        let _ = self.0.break_execution();
    }
}

impl BlockingConnection for OracleConnection {
    type Canceller = Break;

    // Closing logs off on the thread while the caller goes on.
    const CLOSE_WAIT: Option<Duration> = None;

    fn canceller(&self) -> Break {
        Break(self.conn.clone())
    }

    fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        execute(&self.conn, command, self.classify)
    }

    fn close(self) {
        let _ = self.conn.close();
    }
}

fn execute(conn: &Connection, command: &Command, classify: Classify) -> Result<StatementResult, SessionError> {
    let Command::Sql(sql) = command else {
        return Err(SessionError::Unsupported("cursors are not supported on Oracle targets".into()));
    };
    let mut stmt = match conn.statement(sql).build() {
        Ok(s) => s,
        Err(e) => return failure(e, classify),
    };
    if stmt.is_query() {
        let rows = match stmt.query(&[]) {
            Ok(r) => r,
            Err(e) => return failure(e, classify),
        };
        let info: Vec<(String, ColumnKind)> = rows.column_info().iter().map(|c| (c.name().to_string(), kind(c.oracle_type()))).collect();
        let mut out = Vec::new();
        for row in rows {
            let row = match row {
                Ok(r) => r,
                Err(e) => return failure(e, classify),
            };
            let mut values = Vec::with_capacity(info.len());
            for (i, (_, kind)) in info.iter().enumerate() {
                let text: Option<String> = row.get(i).map_err(|e| SessionError::Harness(e.to_string()))?;
                values.push(render(*kind, text.as_deref().map(str::as_bytes)));
            }
            out.push(values);
        }
        Ok(Ok(Response::Rows { columns: info.into_iter().map(|(n, _)| n).collect(), rows: out }))
    } else {
        match stmt.execute(&[]) {
            Ok(()) => Ok(Ok(Response::Affected { count: stmt.row_count().unwrap_or(0) })),
            Err(e) => failure(e, classify),
        }
    }
}

fn kind(t: &OracleType) -> ColumnKind {
    match t {
        OracleType::Number(_, 0) | OracleType::Int64 | OracleType::UInt64 => ColumnKind::Integer,
        OracleType::Number(..) | OracleType::Float(_) => ColumnKind::Decimal,
        OracleType::BinaryFloat | OracleType::BinaryDouble => ColumnKind::Real,
        OracleType::Boolean => ColumnKind::Boolean,
        _ => ColumnKind::Text,
    }
}

fn failure(e: oracle::Error, classify: Classify) -> Result<StatementResult, SessionError> {
    match e.db_error() {
        Some(db) if db.code() != 0 => {
            let code = db.code().unsigned_abs();
            Ok(Err(DbError { class: classify(&code.to_string(), db.message()), code: format!("ORA-{code:05}"), message: db.message().to_string() }))
        }
        _ => Err(SessionError::ConnectionLost(e.to_string())),
    }
}
