//! PostgreSQL sessions through sqlx, with the simple query protocol (as psycopg sends
//! statements): every value arrives as the server's text.
//!
//! Cursors are PostgreSQL's own: `DECLARE name CURSOR FOR ...` and `FETCH`, so a probe
//! sees real server-side cursor behaviour (and PostgreSQL's rule that DECLARE needs a
//! transaction block).

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow, Postgres};
use sqlx::{AssertSqlSafe, ConnectOptions, Row, ValueRef};

use super::error::postgres_class;
use super::text_rows::{collect, ColumnKind, Failure};
use super::{Canceller, Command, DbError, Session, SessionError, StatementResult};

pub struct PgSession {
    conn: PgConnection,
    pid: i32,
    admin: PgConnectOptions,
}

impl PgSession {
    /// Connects; `admin` is where a cancel request is sent from.
    pub async fn connect(options: &PgConnectOptions, admin: PgConnectOptions) -> Result<Self, String> {
        let mut conn = options.connect().await.map_err(|e| e.to_string())?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut conn).await.map_err(|e| e.to_string())?;
        Ok(PgSession { conn, pid, admin })
    }
}

struct PgCancel {
    admin: PgConnectOptions,
    pid: i32,
}

impl Canceller for PgCancel {
    fn cancel(&self) {
        let (admin, pid) = (self.admin.clone(), self.pid);
        tokio::spawn(async move {
            if let Ok(mut c) = admin.connect().await {
                let _ = sqlx::query("SELECT pg_cancel_backend($1)").bind(pid).execute(&mut c).await;
            }
        });
    }

    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        let (admin, pid) = (self.admin.clone(), self.pid);
        Box::pin(async move {
            let mut c = admin.connect().await.ok()?;
            let waiting: Option<bool> = sqlx::query_scalar("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1")
                .bind(pid)
                .fetch_optional(&mut c)
                .await
                .ok()?
                .flatten();
            let _ = sqlx::Connection::close(c).await;
            Some(waiting.unwrap_or(false))
        })
    }
}

#[async_trait]
impl Session for PgSession {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        match command {
            Command::Sql(sql) => run(&mut self.conn, sql).await,
            Command::OpenCursor { name, sql, fetch } => {
                match run(&mut self.conn, &format!("DECLARE {name} CURSOR FOR {sql}")).await? {
                    Ok(_) => run(&mut self.conn, &fetch_sql(name, *fetch)).await,
                    Err(e) => Ok(Err(e)),
                }
            }
            Command::Fetch { name, count } => run(&mut self.conn, &fetch_sql(name, *count)).await,
        }
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(PgCancel { admin: self.admin.clone(), pid: self.pid })
    }

    async fn close(self: Box<Self>) {
        let _ = sqlx::Connection::close(self.conn).await;
    }
}

fn fetch_sql(name: &str, count: Option<u64>) -> String {
    match count {
        Some(n) => format!("FETCH {n} FROM {name}"),
        None => format!("FETCH ALL FROM {name}"),
    }
}

async fn run(conn: &mut PgConnection, sql: &str) -> Result<StatementResult, SessionError> {
    let stream = sqlx::raw_sql(AssertSqlSafe(sql.to_string())).fetch_many(conn);
    match collect::<Postgres>(stream, sql, |done| done.rows_affected(), kind, raw).await {
        Ok(response) => Ok(Ok(response)),
        Err(Failure::Server(e)) => failure(e),
        Err(Failure::Decode(e)) => Err(SessionError::Harness(e)),
    }
}

/// The value's bytes as the server sent them (text, in the simple query protocol).
fn raw(row: &PgRow, i: usize) -> Result<Option<&[u8]>, String> {
    let value = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if value.is_null() { Ok(None) } else { value.as_bytes().map(Some).map_err(|e| e.to_string()) }
}

fn kind(type_name: &str) -> ColumnKind {
    match type_name {
        "INT2" | "INT4" | "INT8" | "OID" => ColumnKind::Integer,
        "FLOAT4" | "FLOAT8" => ColumnKind::Real,
        "NUMERIC" => ColumnKind::Decimal,
        "BOOL" => ColumnKind::Boolean,
        _ => ColumnKind::Text,
    }
}

fn failure(e: sqlx::Error) -> Result<StatementResult, SessionError> {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let message = db.message().to_string();
            Ok(Err(DbError { class: postgres_class(&code, &message), code, message }))
        }
        other => Err(SessionError::ConnectionLost(other.to_string())),
    }
}
