//! MySQL and MariaDB sessions through sqlx, with the text protocol (as mysqlclient and
//! Connector/Python send statements by default).
//!
//! The protocol cannot run a statement while another's result is still being read on
//! the same connection, so same-connection cursors are not supported here.

use async_trait::async_trait;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Row};

use super::error::mysql_class;
use super::text_rows::{collect, ColumnKind, Failure};
use super::{Canceller, Command, DbError, Session, SessionError, StatementResult};

pub struct MySqlSession {
    conn: MySqlConnection,
    id: u64,
    admin: MySqlConnectOptions,
}

impl MySqlSession {
    pub async fn connect(options: &MySqlConnectOptions, admin: MySqlConnectOptions) -> Result<Self, String> {
        let mut conn = options.connect().await.map_err(|e| e.to_string())?;
        let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()").fetch_one(&mut conn).await.map_err(|e| e.to_string())?;
        Ok(MySqlSession { conn, id, admin })
    }
}

struct KillQuery {
    admin: MySqlConnectOptions,
    id: u64,
}

impl Canceller for KillQuery {
    fn cancel(&self) {
        let (admin, id) = (self.admin.clone(), self.id);
        tokio::spawn(async move {
            if let Ok(mut c) = admin.connect().await {
                let _ = sqlx::raw_sql(AssertSqlSafe(format!("KILL QUERY {id}"))).execute(&mut c).await;
            }
        });
    }

    /// Row locks show in InnoDB's transaction list; table, metadata and user (GET_LOCK)
    /// locks in the connection's state.
    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        let (admin, id) = (self.admin.clone(), self.id);
        Box::pin(async move {
            let mut c = admin.connect().await.ok()?;
            let sql = format!(
                "SELECT (SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = {id} AND trx_state = 'LOCK WAIT') \
                 + (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = {id} AND (STATE LIKE '%lock%' OR STATE LIKE 'Waiting for%'))"
            );
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut c).await.ok()?;
            let _ = sqlx::Connection::close(c).await;
            Some(n > 0)
        })
    }
}

#[async_trait]
impl Session for MySqlSession {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        match command {
            Command::Sql(sql) => run(&mut self.conn, sql).await,
            _ => Err(SessionError::Unsupported(
                "MySQL and MariaDB cannot run a statement on a connection while a result is still being read".into(),
            )),
        }
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(KillQuery { admin: self.admin.clone(), id: self.id })
    }

    async fn close(self: Box<Self>) {
        let _ = sqlx::Connection::close(self.conn).await;
    }
}

async fn run(conn: &mut MySqlConnection, sql: &str) -> Result<StatementResult, SessionError> {
    let stream = sqlx::raw_sql(AssertSqlSafe(sql.to_string())).fetch_many(conn);
    match collect::<MySql>(stream, sql, |done| done.rows_affected(), kind, raw).await {
        Ok(response) => Ok(Ok(response)),
        Err(Failure::Server(e)) => failure(e),
        Err(Failure::Decode(e)) => Err(SessionError::Harness(e)),
    }
}

/// The value's bytes as the server sent them (text, in the text protocol).
fn raw(row: &MySqlRow, i: usize) -> Result<Option<&[u8]>, String> {
    row.try_get_unchecked(i).map_err(|e| e.to_string())
}

fn kind(type_name: &str) -> ColumnKind {
    match type_name {
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED"
        | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" | "BIGINT UNSIGNED" => ColumnKind::Integer,
        "FLOAT" | "DOUBLE" => ColumnKind::Real,
        "DECIMAL" => ColumnKind::Decimal,
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT" | "GEOMETRY" => ColumnKind::Bytes,
        _ => ColumnKind::Text,
    }
}

fn failure(e: sqlx::Error) -> Result<StatementResult, SessionError> {
    match e {
        sqlx::Error::Database(db) => {
            let message = db.message().to_string();
            let (number, state) = match db.try_downcast_ref::<MySqlDatabaseError>() {
                Some(m) => (m.number(), m.code().unwrap_or("").to_string()),
                None => (0, String::new()),
            };
            Ok(Err(DbError { class: mysql_class(number), code: format!("{number} ({state})"), message }))
        }
        other => Err(SessionError::ConnectionLost(other.to_string())),
    }
}
