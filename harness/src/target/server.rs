//! A database server reached over the network: namespaces are databases created for
//! each case, sessions are connections of the backend's driver. Containers and external servers differ
//! only in how the endpoint came to be, so both are this one type.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::container::Container;
use super::{server_log, Namespace, RestartReport, Target};
use crate::backend::Backend;
use crate::driver::mysql::{MySqlOptions, MySqlSession};
use crate::driver::postgres::{PgConnect, PgSession};
use crate::driver::client::ClientLog;
use crate::driver::{Command, ConnectError, Session};
use crate::suite::RestartKind;
use crate::version::Version;

/// Where a server listens and how to log in. The password is never printed.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The database administrative connections use.
    pub database: Option<String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.user, self.host, self.port)
    }
}

impl Endpoint {
    /// On PostgreSQL a namespace is a schema in the administrative database: creating
    /// a database copies template1 and costs a hundred times more than a schema, and
    /// the session's search_path makes the schema its own.
    fn pg(&self, schema: Option<&str>) -> PgConnect {
        PgConnect {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            database: self.database.clone(),
            search_path: schema.map(str::to_string),
        }
    }

    /// Sessions start as the vendor's own client's do (see driver/mysql.rs).
    fn mysql(&self, backend: Backend, database: Option<&str>) -> MySqlOptions {
        MySqlOptions {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone(),
            database: database.or(self.database.as_deref()).map(str::to_string),
            mariadb: backend == Backend::Mariadb,
        }
    }

    /// Connects a session to a database (the administrative one when `None`). On Oracle
    /// a namespace is a user: `database` is the user to log in as.
    pub async fn connect(&self, backend: Backend, database: Option<&str>) -> Result<Box<dyn Session>, ConnectError> {
        match backend {
            #[cfg(feature = "oracle")]
            Backend::Oracle => {
                // The endpoint's database is the service name (FREEPDB1 in Oracle Free).
                let service = self.database.as_deref().unwrap_or("FREEPDB1");
                let connect_string = format!("//{}:{}/{service}", self.host, self.port);
                let user = database.unwrap_or(&self.user).to_string();
                crate::driver::oracle::OracleSession::connect(user, self.password.clone(), connect_string)
                    .await
                    .map(|s| Box::new(s) as Box<dyn Session>)
            }
            Backend::Postgres => PgSession::connect(&self.pg(database), self.pg(None)).await.map(|s| Box::new(s) as Box<dyn Session>),
            Backend::Mysql | Backend::Mariadb => {
                MySqlSession::connect(&self.mysql(backend, database), self.mysql(backend, None)).await.map(|s| Box::new(s) as Box<dyn Session>)
            }
            other => Err(ConnectError::permanent(format!("{other} is not reached through this driver"))),
        }
    }
}

/// Runs one statement on a connection of its own (the server may not be a target yet,
/// or may be starting) and returns its first value as text. Bounded like every
/// administrative call: a connect that never answers must not outlast a deadline.
async fn query_fresh(endpoint: &Endpoint, backend: Backend, sql: &str) -> Result<String, ConnectError> {
    tokio::time::timeout(ADMIN_TIMEOUT, query_fresh_unbounded(endpoint, backend, sql))
        .await
        .unwrap_or_else(|_| Err(ConnectError::transient(format!("`{sql}` did not finish within {ADMIN_TIMEOUT:?}"))))
}

async fn query_fresh_unbounded(endpoint: &Endpoint, backend: Backend, sql: &str) -> Result<String, ConnectError> {
    let mut session = endpoint.connect(backend, None).await?;
    let result = session.execute(&Command::Sql(sql.to_string())).await;
    session.close().await;
    match result {
        Ok(Ok(crate::driver::Response::Rows { rows, .. })) => Ok(rows.first().and_then(|r| r.first()).cloned().unwrap_or_default()),
        Ok(Ok(_)) => Ok(String::new()),
        Ok(Err(e)) => Err(ConnectError::transient(format!("`{sql}` failed: {} {}", e.code, e.message))),
        Err(e) => Err(ConnectError::transient(e.to_string())),
    }
}

fn ping_sql(backend: Backend) -> &'static str {
    if backend == Backend::Oracle { "SELECT 1 FROM dual" } else { "SELECT 1" }
}

/// Waits until the server accepts a connection and answers `SELECT 1`. Gives up at
/// once on an error that waiting cannot mend (a refused login), and, for a container,
/// as soon as the container has exited, with its exit code and last log lines.
pub async fn wait_ready(endpoint: &Endpoint, backend: Backend, container: Option<&Container>, deadline: Instant) -> Result<(), String> {
    let mut last = String::from("no attempt made");
    let mut attempts = 0u32;
    while Instant::now() < deadline {
        match query_fresh(endpoint, backend, ping_sql(backend)).await {
            Ok(_) => return Ok(()),
            Err(e) if e.permanent => return Err(format!("the server refused the connection (not retried: waiting does not change this answer): {e}")),
            Err(e) => last = e.message,
        }
        attempts += 1;
        // Asking the engine costs more than a connect: every fifth failed attempt.
        if let Some(c) = container.filter(|_| attempts % 5 == 1) {
            if let Some(status) = c.exit_status().await {
                return Err(format!("the container {status} while the server was starting; its last log lines:\n{}", c.log_tail(15).await));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the server did not answer SELECT 1 in time; last error: {last}"))
}

/// The longest an administrative statement (create or drop a namespace) may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ServerTarget {
    backend: Backend,
    version: Version,
    /// The full version text the server reported.
    pub version_text: String,
    endpoint: Mutex<Endpoint>,
    container: Option<Container>,
    counter: AtomicUsize,
    /// Set once the container is found dead; later cases fail at once with this.
    dead: Mutex<Option<String>>,
    ready_timeout: Duration,
    /// One administrative connection, kept for creating and dropping namespaces.
    admin: tokio::sync::Mutex<Option<Box<dyn Session>>>,
}

impl ServerTarget {
    /// Asks a ready server for its version and checks it is the backend it claims to be.
    pub async fn new(backend: Backend, endpoint: Endpoint, container: Option<Container>, ready_timeout: Duration) -> Result<Self, String> {
        let query = match backend {
            Backend::Postgres => "SHOW server_version",
            Backend::Oracle => "SELECT version_full FROM product_component_version WHERE product LIKE 'Oracle%'",
            _ => "SELECT VERSION()",
        };
        let version_text = query_fresh(&endpoint, backend, query).await.map_err(String::from)?.trim_matches('\'').to_string();
        let is_mariadb = version_text.to_ascii_lowercase().contains("mariadb");
        if backend == Backend::Mysql && is_mariadb || backend == Backend::Mariadb && !is_mariadb {
            return Err(format!("the server reports `{version_text}`, which is not {backend}"));
        }
        let version = Version::parse(&version_text).ok_or_else(|| format!("cannot read a version from `{version_text}`"))?;
        Ok(ServerTarget {
            backend,
            version,
            version_text,
            endpoint: Mutex::new(endpoint),
            container,
            counter: AtomicUsize::new(0),
            dead: Mutex::new(None),
            ready_timeout,
            admin: tokio::sync::Mutex::new(None),
        })
    }

    /// Runs an administrative statement on the kept connection, reconnecting once if
    /// it was lost (after a restart, say). Bounded: a server that stops answering fails
    /// the statement, and the connection is dropped and made anew next time.
    async fn admin(&self, sql: &str) -> Result<(), String> {
        self.admin_shown_as(sql, sql).await
    }

    /// [`Self::admin`] for a statement that holds a secret: errors name it as `shown`.
    async fn admin_shown_as(&self, sql: &str, shown: &str) -> Result<(), String> {
        match tokio::time::timeout(ADMIN_TIMEOUT, self.admin_unbounded(sql, shown)).await {
            Ok(result) => result,
            Err(_) => {
                if let Ok(mut slot) = self.admin.try_lock() {
                    *slot = None;
                }
                Err(format!("`{shown}` did not finish within {ADMIN_TIMEOUT:?}"))
            }
        }
    }

    async fn admin_unbounded(&self, sql: &str, shown: &str) -> Result<(), String> {
        let mut slot = self.admin.lock().await;
        for attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(self.endpoint().connect(self.backend, None).await?);
            }
            let session = slot.as_mut().expect("connected above");
            match session.execute(&Command::Sql(sql.to_string())).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(format!("`{shown}` failed: {} {}", e.code, e.message)),
                Err(e) if attempt == 0 => {
                    let _ = e;
                    *slot = None;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    fn endpoint(&self) -> Endpoint {
        self.endpoint.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn dead(&self) -> Option<String> {
        self.dead.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// After a failure: if the container has died, remember why, so the target's
    /// remaining cases fail at once instead of each waiting on a dead server, and say
    /// so in the error (a bare "connection refused" does not name the dead server).
    async fn diagnose(&self, error: String) -> String {
        if let Some(reason) = self.dead() {
            return format!("{reason}\n(the case's own error: {error})");
        }
        if let Some(c) = &self.container {
            if !c.is_running().await {
                let status = c.exit_status().await.unwrap_or_else(|| "stopped".into());
                let reason = format!(
                    "the {} {} server's container stopped running ({status}); its last log lines:\n{}",
                    self.backend,
                    self.version,
                    c.log_tail(20).await
                );
                *self.dead.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
                return format!("{reason}\n(the case's own error: {error})");
            }
        }
        error
    }

    /// A session through the backend's own client, run in the server's container (the
    /// image's `psql`, `mariadb` or `mysql`), logged in as the harness's sessions are
    /// and in the namespace: psql with the schema as its search_path (the startup
    /// option the driver sends too), mysql with the database. The client reads the
    /// password from its first input line, so it is on no command line.
    pub async fn client_session(&self, namespace: &Namespace, log: ClientLog) -> Result<Box<dyn Session>, String> {
        use crate::driver::client::{container_cli, mysql::{MysqlClient, DELIMITER}, psql::Psql, sh_quote, ClientSession, Dialect, Launch};
        let container = self.container.as_ref().ok_or("an external server has no container to run its own client in")?;
        let id = container.id().await.ok_or("the server's container was removed")?;
        let endpoint = self.endpoint();
        let user = sh_quote(&endpoint.user);
        let (script, dialect): (String, Box<dyn Dialect>) = match self.backend {
            Backend::Postgres => (
                format!(
                    "read -r PGPASSWORD; export PGPASSWORD; PGOPTIONS={}; export PGOPTIONS; exec psql -X -h 127.0.0.1 -U {user} -v ON_ERROR_STOP=0",
                    sh_quote(&format!("-c search_path={}", namespace.location))
                ),
                Box::new(Psql),
            ),
            Backend::Mysql | Backend::Mariadb => {
                let name = if self.backend == Backend::Mysql { "mysql" } else { "mariadb" };
                // An option file, as the client's manual advises for passwords; removed when the client ends.
                let script = format!(
                    "read -r p; f=$(mktemp); printf '[client]\\npassword=%s\\n' \"$p\" > \"$f\"; \
                     {name} --defaults-extra-file=\"$f\" -h 127.0.0.1 --protocol=tcp -u {user} -D {} --batch --force --unbuffered \
                     --show-warnings --binary-as-hex -vv --delimiter={} 2>&1; rm -f \"$f\"",
                    sh_quote(&namespace.location),
                    sh_quote(DELIMITER)
                );
                (script, Box::new(MysqlClient { name }))
            }
            other => return Err(format!("dbcompat has no command-line client session for {other}")),
        };
        let launch = Launch {
            program: container_cli()?,
            // A UTF-8 locale, as a terminal's: the clients pick their character set from it.
            args: ["exec", "-i", "-e", "LC_ALL=C.UTF-8", &id, "sh", "-c", &script].iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            stdin_first: Some(endpoint.password.clone()),
        };
        let session = ClientSession::start(launch, dialect, log).await?;
        Ok(Box::new(session))
    }

    pub async fn shut_down(&self) {
        if let Ok(Some(session)) = tokio::time::timeout(ADMIN_TIMEOUT, self.admin.lock()).await.map(|mut s| s.take()) {
            let _ = tokio::time::timeout(ADMIN_TIMEOUT, session.close()).await;
        }
        if let Some(c) = &self.container {
            c.remove().await;
        }
    }
}

fn quote_ident(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Mysql | Backend::Mariadb => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A password as Oracle's `IDENTIFIED BY "..."` takes it. A quoted Oracle password has no
/// escape for `"`; such a password is refused when the URL is read, and here again.
fn oracle_quoted_password(password: &str) -> Result<String, String> {
    if password.contains('"') {
        return Err("an Oracle password cannot contain a double quote (\")".into());
    }
    Ok(format!("\"{password}\""))
}

/// The statements that create a namespace, each with the form its errors show (the
/// Oracle user's password hidden).
fn namespace_statements(backend: Backend, ident: &str, password: &str) -> Result<Vec<(String, String)>, String> {
    Ok(match backend {
        // On Oracle a schema is a user, with the rights a probe needs, and the
        // administrator's password (so sessions log in with the endpoint's).
        Backend::Oracle => {
            let password = oracle_quoted_password(password)?;
            let create = |password: &str| format!("CREATE USER {ident} IDENTIFIED BY {password} QUOTA UNLIMITED ON USERS");
            let grant = format!("GRANT CREATE SESSION, CREATE TABLE, CREATE SEQUENCE, CREATE VIEW, CREATE PROCEDURE, CREATE TRIGGER TO {ident}");
            vec![(create(&password), create(crate::redact::MASK)), (grant.clone(), grant)]
        }
        other => {
            let sql = if other == Backend::Postgres { format!("CREATE SCHEMA {ident}") } else { format!("CREATE DATABASE {ident}") };
            vec![(sql.clone(), sql)]
        }
    })
}

#[async_trait]
impl Target for ServerTarget {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn version(&self) -> &Version {
        &self.version
    }

    async fn create_namespace(&self, hint: &str) -> Result<Namespace, String> {
        if let Some(reason) = self.dead() {
            return Err(reason);
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        // Database names are limited to 63 (PostgreSQL) or 64 (MySQL) characters.
        let short: String = hint.chars().take(40).collect();
        let mut name = format!("dbc_{short}_{n}");
        if self.backend == Backend::Oracle {
            // Unquoted Oracle names are upper case; keep the user's name usable unquoted.
            name = name.to_ascii_uppercase();
        }
        let ident = quote_ident(self.backend, &name);
        let endpoint = self.endpoint();
        let statements = namespace_statements(self.backend, &ident, &endpoint.password)?;
        for (sql, shown) in statements {
            if let Err(e) = self.admin_shown_as(&sql, &shown).await {
                return Err(self.diagnose(e).await);
            }
        }
        Ok(Namespace { location: name.clone(), name })
    }

    async fn connect(&self, namespace: &Namespace) -> Result<Box<dyn Session>, String> {
        if let Some(reason) = self.dead() {
            return Err(reason);
        }
        match self.endpoint().connect(self.backend, Some(&namespace.location)).await {
            Ok(s) => Ok(s),
            Err(e) => Err(self.diagnose(e.message).await),
        }
    }

    async fn restart(&self, kind: RestartKind) -> Result<RestartReport, String> {
        let Some(container) = &self.container else {
            return Err(format!("dbcompat does not {} an external server", kind.name()));
        };
        let started = Instant::now();
        // The kept administrative connection does not survive the restart, and a
        // connection whose server went away silently can wait forever: let it go first.
        if let Some(session) = self.admin.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), session.close()).await;
        }
        let before = container.log_mark().await;
        container.bring_down(kind).await?;
        let (down, after_down) = container.log_since(before).await;
        let port = container.bring_up().await?;
        let endpoint = {
            let mut e = self.endpoint.lock().unwrap_or_else(|p| p.into_inner());
            e.port = port;
            e.clone()
        };
        wait_ready(&endpoint, self.backend, Some(container), Instant::now() + self.ready_timeout).await?;
        let (up, _) = container.log_since(after_down).await;
        let verdict = server_log::judge(self.backend, kind, &down, &up);
        if let Some(contradiction) = verdict.contradiction {
            return Err(format!("{contradiction}; the server wrote:\n{}", verdict.evidence.join("\n")));
        }
        let how = match kind {
            RestartKind::Clean => format!("stopped (the server given {} s for its own shutdown) and started", super::container::STOP_TIMEOUT_S),
            RestartKind::Crash => "killed (SIGKILL) and started".to_string(),
        };
        Ok(RestartReport {
            summary: format!("container {how}; ready again after {:.1} s", started.elapsed().as_secs_f64()),
            server_log: verdict.evidence,
        })
    }

    async fn drop_namespace(&self, namespace: &Namespace) {
        let ident = quote_ident(self.backend, &namespace.location);
        let sql = match self.backend {
            Backend::Postgres => format!("DROP SCHEMA IF EXISTS {ident} CASCADE"),
            Backend::Oracle => format!("DROP USER {ident} CASCADE"),
            _ => format!("DROP DATABASE IF EXISTS {ident}"),
        };
        let _ = self.admin(&sql).await;
    }

    async fn explain_failure(&self, error: String) -> String {
        self.diagnose(error).await
    }

    async fn client(&self, namespace: &Namespace, log: ClientLog) -> Result<Box<dyn Session>, String> {
        self.client_session(namespace, log).await
    }

    async fn shut_down(&self) {
        ServerTarget::shut_down(self).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oracle_password_is_double_quoted_and_one_with_a_quote_refused() {
        assert_eq!(oracle_quoted_password("pa'ss@w/rd").unwrap(), "\"pa'ss@w/rd\"");
        let e = oracle_quoted_password("pa\"ss").unwrap_err();
        assert!(e.contains("double quote") && !e.contains("pa\"ss"), "{e}");
    }

    #[test]
    fn the_oracle_user_gets_the_password_and_its_errors_do_not_show_it() {
        let statements = namespace_statements(Backend::Oracle, "\"DBC_X_1\"", "Se@cr/et").unwrap();
        let (sql, shown) = &statements[0];
        assert!(sql.contains("IDENTIFIED BY \"Se@cr/et\""), "{sql}");
        assert_eq!(shown, "CREATE USER \"DBC_X_1\" IDENTIFIED BY *** QUOTA UNLIMITED ON USERS");
        assert!(statements.iter().all(|(_, shown)| !shown.contains("Se@cr/et")));
        assert!(namespace_statements(Backend::Oracle, "\"X\"", "a\"b").is_err());
        assert_eq!(namespace_statements(Backend::Postgres, "\"s\"", "pw").unwrap(), vec![("CREATE SCHEMA \"s\"".to_string(), "CREATE SCHEMA \"s\"".to_string())]);
    }
}
