//! PostgreSQL sessions spoken directly in the frontend/backend protocol (rust-postgres's
//! message codec, `postgres-protocol`), with the simple query protocol (as psql and
//! psycopg send statements): every value arrives as the server's text.
//!
//! Why not a client library: a session must start in the state the server's own client
//! gets, and what the server says beside a result is an observation. sqlx sends
//! DateStyle, TimeZone and extra_float_digits in every startup packet (overriding the
//! server's, the database's and the role's settings) and drops notices and command tags;
//! tokio-postgres's simple query API gives no column types.
//!
//! The startup packet carries only `user`, `database`, `client_encoding=UTF8` (what psql
//! sends in a UTF-8 locale) and, for a case's namespace, `options=-c search_path=<schema>`:
//! the schema is the namespace, and the server applies it as a client setting.
//!
//! Cursors are PostgreSQL's own: `DECLARE name CURSOR FOR ...` and `FETCH`, so a probe
//! sees real server-side cursor behaviour (and PostgreSQL's rule that DECLARE needs a
//! transaction block). Cancelling sends a cancel request on a new connection, as psql's
//! Ctrl-C does.

use std::collections::BTreeMap;
use std::io;

use async_trait::async_trait;
use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::backend::{ErrorFields, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::Classify;
use super::text_rows::{expects_rows, render, ColumnKind};
use super::{Canceller, Command, ConnectError, DbError, Diagnostic, Notes, Response, Session, SessionError, StatementResult};

/// Where a server listens and how to log in; `search_path` makes a schema the session's own.
#[derive(Clone)]
pub struct PgConnect {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: Option<String>,
    pub search_path: Option<String>,
    /// The backend's table of SQLSTATEs.
    pub classify: Classify,
    /// The query, asked on another connection, whether the backend `pid` waits for a
    /// lock (true or false in its first value); `None` where the server cannot tell,
    /// and blocking is judged by time alone.
    pub lock_wait_sql: Option<fn(pid: i32) -> String>,
}

impl PgConnect {
    /// The startup packet's parameters, and nothing else.
    fn startup_parameters(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("user", self.user.clone())];
        if let Some(db) = &self.database {
            params.push(("database", db.clone()));
        }
        params.push(("client_encoding", "UTF8".into()));
        if let Some(schema) = &self.search_path {
            params.push(("options", format!("-c {}", escape_option(&format!("search_path={schema}")))));
        }
        params
    }

    fn address(&self) -> (String, u16) {
        (self.host.clone(), self.port)
    }
}

/// In `options`, spaces separate arguments: a space or backslash in a value is escaped.
fn escape_option(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ' ' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub struct PgSession<S = TcpStream> {
    stream: S,
    read: BytesMut,
    parameters: BTreeMap<String, String>,
    pid: i32,
    secret: i32,
    /// Where cancel requests go and lock waits are asked (without the namespace).
    admin: PgConnect,
    notes: Notes,
}

impl PgSession<TcpStream> {
    /// Connects; `admin` is where a cancel request and the lock-wait question are sent.
    pub async fn connect(options: &PgConnect, admin: PgConnect) -> Result<Self, ConnectError> {
        let stream = TcpStream::connect(options.address())
            .await
            .map_err(|e| ConnectError::transient(format!("cannot connect to {}:{}: {e}", options.host, options.port)))?;
        let _ = stream.set_nodelay(true);
        PgSession::start(stream, options, admin).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> PgSession<S> {
    /// Sends the startup packet on an open stream, authenticates and waits for the
    /// server to be ready.
    pub async fn start(stream: S, options: &PgConnect, admin: PgConnect) -> Result<Self, ConnectError> {
        let mut session = PgSession { stream, read: BytesMut::with_capacity(8192), parameters: BTreeMap::new(), pid: 0, secret: 0, admin, notes: Notes::default() };
        session.handshake(options).await.map_err(|e| match e {
            Startup::Io(e) => ConnectError::transient(format!("connection lost during startup: {e}")),
            Startup::Refused(e) => ConnectError::permanent(e),
            Startup::Error { code, message } => {
                // Class 28 is a refused login and 3D000 a missing database; anything
                // else at startup (57P03 "starting up", 53300 too many clients) may pass.
                let text = format!("{code}: {message}");
                if code.starts_with("28") || code == "3D000" { ConnectError::permanent(text) } else { ConnectError::transient(text) }
            }
        })?;
        Ok(session)
    }

    /// The server's reported parameters (ParameterStatus), as they stand now.
    pub fn parameters(&self) -> &BTreeMap<String, String> {
        &self.parameters
    }

    /// The backend's process id and cancel key (BackendKeyData).
    pub fn backend_key(&self) -> (i32, i32) {
        (self.pid, self.secret)
    }

    async fn handshake(&mut self, options: &PgConnect) -> Result<(), Startup> {
        let mut out = BytesMut::new();
        let params = options.startup_parameters();
        frontend::startup_message(params.iter().map(|(k, v)| (*k, v.as_str())), &mut out)?;
        self.send(&out).await?;
        let mut scram: Option<ScramSha256> = None;
        loop {
            let mut out = BytesMut::new();
            match self.receive().await? {
                Message::AuthenticationOk => {}
                Message::AuthenticationCleartextPassword => frontend::password_message(options.password.as_bytes(), &mut out)?,
                Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(options.user.as_bytes(), options.password.as_bytes(), body.salt());
                    frontend::password_message(hash.as_bytes(), &mut out)?;
                }
                Message::AuthenticationSasl(body) => {
                    let mechanisms: Vec<String> = body.mechanisms().map(|m| Ok(m.to_string())).collect()?;
                    if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                        return Err(Startup::Refused(format!("the server offers SASL mechanisms {mechanisms:?}, none of which is SCRAM-SHA-256")));
                    }
                    let s = ScramSha256::new(options.password.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)?;
                    scram = Some(s);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let s = scram.as_mut().ok_or_else(|| Startup::Refused("SASL continue without a SASL exchange".into()))?;
                    s.update(body.data())?;
                    frontend::sasl_response(s.message(), &mut out)?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let s = scram.as_mut().ok_or_else(|| Startup::Refused("SASL final without a SASL exchange".into()))?;
                    s.finish(body.data())?;
                }
                Message::AuthenticationKerberosV5
                | Message::AuthenticationScmCredential
                | Message::AuthenticationGss
                | Message::AuthenticationGssContinue(_)
                | Message::AuthenticationSspi => {
                    return Err(Startup::Refused("the server asks for an authentication method other than password, MD5 or SCRAM-SHA-256".into()))
                }
                Message::BackendKeyData(body) => {
                    self.pid = body.process_id();
                    self.secret = body.secret_key();
                }
                Message::ParameterStatus(body) => {
                    self.parameters.insert(body.name()?.to_string(), body.value()?.to_string());
                }
                Message::NoticeResponse(_) => {}
                Message::ErrorResponse(body) => {
                    let e = db_error(body.fields(), options.classify)?;
                    return Err(Startup::Error { code: e.code, message: e.message });
                }
                Message::ReadyForQuery(_) => return Ok(()),
                _ => return Err(Startup::Refused("unexpected message during startup".into())),
            }
            if !out.is_empty() {
                self.send(&out).await?;
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// The next backend message; the end of the stream is an error.
    async fn receive(&mut self) -> io::Result<Message> {
        loop {
            if let Some(message) = Message::parse(&mut self.read)? {
                return Ok(message);
            }
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
            }
        }
    }

    /// Sends one Query message and reads every message up to ReadyForQuery: rows of all
    /// result sets, affected counts summed, the first error, notices and the last tag.
    async fn run(&mut self, sql: &str) -> Result<StatementResult, SessionError> {
        let lost = |e: io::Error| SessionError::ConnectionLost(e.to_string());
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(|e| SessionError::Harness(e.to_string()))?;
        self.send(&out).await.map_err(lost)?;
        let mut columns: Vec<String> = Vec::new();
        let mut current: Vec<(String, ColumnKind)> = Vec::new();
        let mut rows = Vec::new();
        let mut count = 0;
        let mut error: Option<DbError> = None;
        let mut harness: Option<String> = None;
        loop {
            match self.receive().await.map_err(lost)? {
                Message::RowDescription(body) => {
                    current = body.fields().map(|f| Ok((f.name().to_string(), kind(f.type_oid())))).collect().map_err(lost)?;
                }
                Message::DataRow(body) => {
                    if columns.is_empty() {
                        columns = current.iter().map(|(name, _)| name.clone()).collect();
                    }
                    let buffer = body.buffer();
                    let ranges: Vec<_> = body.ranges().collect().map_err(lost)?;
                    let mut values = Vec::with_capacity(ranges.len());
                    for (i, range) in ranges.into_iter().enumerate() {
                        let column = current.get(i).map_or(ColumnKind::Text, |(_, k)| *k);
                        values.push(render(column, range.map(|r| &buffer[r])));
                    }
                    rows.push(values);
                }
                Message::CommandComplete(body) => {
                    let tag = body.tag().map_err(lost)?.to_string();
                    count += affected(&tag);
                    self.notes.tag = Some(tag);
                }
                Message::EmptyQueryResponse => {}
                Message::ErrorResponse(body) => {
                    let e = db_error(body.fields(), self.admin.classify).map_err(lost)?;
                    error.get_or_insert(e);
                }
                Message::NoticeResponse(body) => {
                    let d = diagnostic(body.fields()).map_err(lost)?;
                    self.notes.diagnostics.push(d);
                }
                Message::ParameterStatus(body) => {
                    self.parameters.insert(body.name().map_err(lost)?.to_string(), body.value().map_err(lost)?.to_string());
                }
                Message::NotificationResponse(_) => {}
                Message::CopyInResponse(_) => {
                    let mut out = BytesMut::new();
                    frontend::copy_fail("COPY FROM STDIN is not supported by this session", &mut out).map_err(lost)?;
                    self.send(&out).await.map_err(lost)?;
                    harness.get_or_insert("COPY FROM STDIN is not supported".into());
                }
                Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {
                    harness.get_or_insert("COPY TO STDOUT is not supported".into());
                }
                Message::ReadyForQuery(_) => break,
                _ => harness = Some("unexpected message from the server".into()),
            }
        }
        if let Some(h) = harness {
            return Err(SessionError::Unsupported(h));
        }
        Ok(match error {
            Some(e) => Err(e),
            None if !rows.is_empty() || expects_rows(sql) => Ok(Response::Rows { columns, rows }),
            None => Ok(Response::Affected { count }),
        })
    }
}

enum Startup {
    Io(io::Error),
    /// The server's ErrorResponse.
    Error { code: String, message: String },
    /// The exchange cannot succeed (an authentication method this session lacks).
    Refused(String),
}

impl From<io::Error> for Startup {
    fn from(e: io::Error) -> Self {
        Startup::Io(e)
    }
}

/// A command tag's row count: its last word when that is a number (`INSERT 0 3`, `UPDATE 1`).
fn affected(tag: &str) -> u64 {
    tag.rsplit_once(' ').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

/// Column rendering by type OID.
fn kind(oid: u32) -> ColumnKind {
    match oid {
        21 | 23 | 20 | 26 => ColumnKind::Integer,
        700 | 701 => ColumnKind::Real,
        1700 => ColumnKind::Decimal,
        16 => ColumnKind::Boolean,
        _ => ColumnKind::Text,
    }
}

/// The fields of an ErrorResponse or NoticeResponse, by their one-byte type.
fn fields(mut fields: ErrorFields<'_>) -> io::Result<BTreeMap<u8, String>> {
    let mut map = BTreeMap::new();
    while let Some(f) = fields.next()? {
        map.insert(f.type_(), String::from_utf8_lossy(f.value_bytes()).into_owned());
    }
    Ok(map)
}

fn db_error(body: ErrorFields<'_>, classify: Classify) -> io::Result<DbError> {
    let mut f = fields(body)?;
    let code = f.remove(&b'C').unwrap_or_default();
    let message = f.remove(&b'M').unwrap_or_default();
    Ok(DbError { class: classify(&code, &message), code, message })
}

/// A notice: its severity as the server names it untranslated ('V'; 'S' before 9.6).
fn diagnostic(body: ErrorFields<'_>) -> io::Result<Diagnostic> {
    let mut f = fields(body)?;
    let level = f.remove(&b'V').or_else(|| f.remove(&b'S')).unwrap_or_default().to_lowercase();
    Ok(Diagnostic { level, code: f.remove(&b'C').unwrap_or_default(), message: f.remove(&b'M').unwrap_or_default() })
}

struct PgCancel {
    admin: PgConnect,
    pid: i32,
    secret: i32,
}

impl Canceller for PgCancel {
    fn cancel(&self) {
        let (address, pid, secret) = (self.admin.address(), self.pid, self.secret);
        tokio::spawn(async move {
            if let Ok(mut stream) = TcpStream::connect(address).await {
                let mut out = BytesMut::new();
                frontend::cancel_request(pid, secret, &mut out);
                if stream.write_all(&out).await.is_ok() {
                    // The server closes the connection once it has read the request.
                    let _ = stream.read(&mut [0u8; 1]).await;
                }
            }
        });
    }

    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        let (admin, pid) = (self.admin.clone(), self.pid);
        Box::pin(async move {
            let sql = (admin.lock_wait_sql?)(pid);
            let mut c = PgSession::connect(&admin, admin.clone()).await.ok()?;
            let result = c.run(&sql).await;
            Box::new(c).close().await;
            match result.ok()?.ok()? {
                Response::Rows { rows, .. } => Some(rows.first().and_then(|r| r.first()).is_some_and(|v| v == "true")),
                Response::Affected { .. } => Some(false),
            }
        })
    }
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static> Session for PgSession<S> {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        self.notes = Notes::default();
        match command {
            Command::Sql(sql) => self.run(sql).await,
            Command::OpenCursor { name, sql, fetch, .. } => match self.run(&format!("DECLARE {name} CURSOR FOR {sql}")).await? {
                Ok(_) => self.run(&fetch_sql(name, *fetch)).await,
                Err(e) => Ok(Err(e)),
            },
            Command::Fetch { name, count } => self.run(&fetch_sql(name, *count)).await,
            Command::CloseCursor { name } => self.run(&format!("CLOSE {name}")).await,
        }
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(PgCancel { admin: self.admin.clone(), pid: self.pid, secret: self.secret })
    }

    fn take_notes(&mut self) -> Notes {
        std::mem::take(&mut self.notes)
    }

    async fn close(mut self: Box<Self>) {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.send(&out).await;
        let _ = self.stream.shutdown().await;
    }
}

pub(crate) fn fetch_sql(name: &str, count: Option<u64>) -> String {
    match count {
        Some(n) => format!("FETCH {n} FROM {name}"),
        None => format!("FETCH ALL FROM {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::ErrorClass;
    use tokio::io::DuplexStream;

    /// A backend message: its type byte, its length, its body.
    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn row_description(columns: &[(&str, u32)]) -> Vec<u8> {
        let mut body = (columns.len() as u16).to_be_bytes().to_vec();
        for (name, oid) in columns {
            body.extend(cstr(name));
            body.extend(0u32.to_be_bytes()); // table oid
            body.extend(0i16.to_be_bytes()); // column number
            body.extend(oid.to_be_bytes());
            body.extend((-1i16).to_be_bytes()); // type size
            body.extend((-1i32).to_be_bytes()); // type modifier
            body.extend(0i16.to_be_bytes()); // text format
        }
        message(b'T', &body)
    }

    fn data_row(values: &[Option<&str>]) -> Vec<u8> {
        let mut body = (values.len() as u16).to_be_bytes().to_vec();
        for v in values {
            match v {
                Some(v) => {
                    body.extend((v.len() as i32).to_be_bytes());
                    body.extend(v.as_bytes());
                }
                None => body.extend((-1i32).to_be_bytes()),
            }
        }
        message(b'D', &body)
    }

    fn complete(tag: &str) -> Vec<u8> {
        message(b'C', &cstr(tag))
    }

    fn ready(status: u8) -> Vec<u8> {
        message(b'Z', &[status])
    }

    /// An ErrorResponse ('E') or NoticeResponse ('N') with the given fields.
    fn report(tag: u8, fields: &[(u8, &str)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in fields {
            body.push(*t);
            body.extend(cstr(v));
        }
        body.push(0);
        message(tag, &body)
    }

    fn params() -> PgConnect {
        PgConnect { host: "localhost".into(), port: 5432, user: "u".into(), password: "p".into(), database: Some("d".into()), search_path: Some("dbc_x 1".into()), classify: crate::backends::postgres_class, lock_wait_sql: None }
    }

    /// Reads one frontend message (type byte and body) the session sent.
    async fn read_frontend(server: &mut DuplexStream) -> (u8, Vec<u8>) {
        let tag = server.read_u8().await.unwrap();
        let len = server.read_u32().await.unwrap() as usize;
        let mut body = vec![0; len - 4];
        server.read_exact(&mut body).await.unwrap();
        (tag, body)
    }

    /// A session started against a scripted server that accepts the login at once.
    async fn started() -> (PgSession<DuplexStream>, DuplexStream, Vec<u8>) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let script = async {
            let len = server.read_u32().await.unwrap() as usize;
            let mut startup = vec![0; len - 4];
            server.read_exact(&mut startup).await.unwrap();
            let mut reply = message(b'R', &0i32.to_be_bytes());
            reply.extend(message(b'S', &[cstr("TimeZone"), cstr("Etc/UTC")].concat()));
            reply.extend(message(b'K', &[7i32.to_be_bytes(), 99i32.to_be_bytes()].concat()));
            reply.extend(ready(b'I'));
            server.write_all(&reply).await.unwrap();
            startup
        };
        let options = params();
        let (session, startup) = tokio::join!(PgSession::start(client, &options, params()), script);
        (session.unwrap(), server, startup)
    }

    #[tokio::test]
    async fn startup_sends_only_the_session_parameters_and_keeps_the_servers() {
        let (session, _server, startup) = started().await;
        // Protocol 3.0, then name/value pairs, then a terminating zero.
        assert_eq!(&startup[..4], &196608i32.to_be_bytes());
        let pairs: Vec<&str> = startup[4..startup.len() - 2].split(|b| *b == 0).map(|s| std::str::from_utf8(s).unwrap()).collect();
        assert_eq!(pairs, ["user", "u", "database", "d", "client_encoding", "UTF8", "options", r"-c search_path=dbc_x\ 1"]);
        assert_eq!(session.parameters().get("TimeZone").map(String::as_str), Some("Etc/UTC"));
        assert_eq!(session.backend_key(), (7, 99));
    }

    #[tokio::test]
    async fn results_notices_and_tags_are_read_to_ready_for_query() {
        let (mut session, mut server, _) = started().await;

        let mut reply = report(b'N', &[(b'S', "AVISO"), (b'V', "NOTICE"), (b'C', "42622"), (b'M', "identifier will be truncated")]);
        reply.extend(row_description(&[("i", 23), ("r", 701), ("n", 1700), ("b", 16), ("t", 25)]));
        reply.extend(data_row(&[Some("1"), Some("1"), Some("1.50"), Some("t"), Some("it's")]));
        reply.extend(data_row(&[Some("2"), None, None, None, None]));
        reply.extend(complete("SELECT 2"));
        reply.extend(ready(b'I'));
        server.write_all(&reply).await.unwrap();
        let result = session.execute(&Command::Sql("SELECT 1".into())).await.unwrap().unwrap();
        assert_eq!(result.canonical(), "rows:(1,1.0,1.50,true,'it''s'),(2,NULL,NULL,NULL,NULL)");
        let Response::Rows { columns, .. } = &result else { unreachable!() };
        assert_eq!(columns, &["i", "r", "n", "b", "t"]);
        assert_eq!(read_frontend(&mut server).await, (b'Q', cstr("SELECT 1")));
        let notes = session.take_notes();
        assert_eq!(notes.tag.as_deref(), Some("SELECT 2"));
        assert_eq!(notes.diagnostics, [Diagnostic { level: "notice".into(), code: "42622".into(), message: "identifier will be truncated".into() }]);
        assert_eq!(session.take_notes(), Notes::default());

        // Several statements: counts are summed, the tag is the last one's.
        let mut reply = complete("INSERT 0 2");
        reply.extend(complete("UPDATE 3"));
        reply.extend(ready(b'I'));
        server.write_all(&reply).await.unwrap();
        let result = session.execute(&Command::Sql("INSERT ...; UPDATE ...".into())).await.unwrap().unwrap();
        assert_eq!(result, Response::Affected { count: 5 });
        assert_eq!(session.take_notes().tag.as_deref(), Some("UPDATE 3"));

        // No rows: the statement decides between rows:none and ok.
        let mut reply = row_description(&[("i", 23)]);
        reply.extend(complete("SELECT 0"));
        reply.extend(ready(b'I'));
        server.write_all(&reply).await.unwrap();
        assert_eq!(session.execute(&Command::Sql("SELECT 1 WHERE false".into())).await.unwrap().unwrap().canonical(), "rows:none");
        let mut reply = complete("COMMIT");
        reply.extend(ready(b'I'));
        server.write_all(&reply).await.unwrap();
        assert_eq!(session.execute(&Command::Sql("COMMIT".into())).await.unwrap().unwrap().canonical(), "ok");
    }

    #[tokio::test]
    async fn an_error_is_the_result_and_the_session_stays_usable() {
        let (mut session, mut server, _) = started().await;
        let mut reply = report(b'E', &[(b'S', "ERROR"), (b'V', "ERROR"), (b'C', "23505"), (b'M', "duplicate key value violates unique constraint \"t_pkey\"")]);
        reply.extend(ready(b'E'));
        server.write_all(&reply).await.unwrap();
        let error = session.execute(&Command::Sql("INSERT INTO t VALUES (1)".into())).await.unwrap().unwrap_err();
        assert_eq!((error.class, error.code.as_str()), (ErrorClass::UniqueViolation, "23505"));

        let mut reply = report(b'N', &[(b'S', "WARNING"), (b'C', "25P01"), (b'M', "there is no transaction in progress")]);
        reply.extend(complete("ROLLBACK"));
        reply.extend(ready(b'I'));
        server.write_all(&reply).await.unwrap();
        assert_eq!(session.execute(&Command::Sql("COMMIT".into())).await.unwrap().unwrap().canonical(), "ok");
        let notes = session.take_notes();
        assert_eq!(notes.tag.as_deref(), Some("ROLLBACK"));
        assert_eq!(notes.diagnostics[0].canonical(), "warning:25P01");
    }

    #[tokio::test]
    async fn a_closed_stream_is_a_lost_connection() {
        let (mut session, server, _) = started().await;
        drop(server);
        assert!(matches!(session.execute(&Command::Sql("SELECT 1".into())).await, Err(SessionError::ConnectionLost(_))));
    }

    #[test]
    fn tags_give_affected_counts() {
        assert_eq!(affected("INSERT 0 1214"), 1214);
        assert_eq!(affected("UPDATE 5"), 5);
        assert_eq!(affected("BEGIN"), 0);
        assert_eq!(affected("CREATE TABLE"), 0);
    }

    #[tokio::test]
    async fn a_refused_login_is_permanent_and_a_starting_server_is_not() {
        for (code, permanent) in [("28P01", true), ("3D000", true), ("57P03", false)] {
            let (client, mut server) = tokio::io::duplex(1 << 16);
            let script = async {
                let len = server.read_u32().await.unwrap() as usize;
                let mut startup = vec![0; len - 4];
                server.read_exact(&mut startup).await.unwrap();
                let reply = report(b'E', &[(b'S', "FATAL"), (b'C', code), (b'M', "no")]);
                server.write_all(&reply).await.unwrap();
            };
            let options = params();
            let (session, ()) = tokio::join!(PgSession::start(client, &options, params()), script);
            let error = session.err().expect("the login fails");
            assert_eq!(error.permanent, permanent, "{code}: {error}");
            assert!(error.message.starts_with(code), "{error}");
        }
    }

}
