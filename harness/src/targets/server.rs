//! A database server reached over the network: namespaces are databases created for
//! each case, sessions are connections of the backend's driver. Containers and external servers differ
//! only in how the endpoint came to be, so both are this one type.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::container::Container;
use super::{server_log, Namespace, RestartReport, Target};
pub use crate::backends::Endpoint;
use crate::backends::Backend;
use crate::driver::client::ClientLog;
use crate::driver::{Command, ConnectError, Session};
use crate::profile::Profile;
use crate::suite::RestartKind;
use crate::version::Version;

/// Runs one statement on a connection of its own (the server may not be a target yet,
/// or may be starting) and returns its first value as text. Bounded like every
/// administrative call: a connect that never answers must not outlast a deadline.
async fn query_fresh(endpoint: &Endpoint, backend: Backend, sql: &str) -> Result<String, ConnectError> {
    tokio::time::timeout(ADMIN_TIMEOUT, query_fresh_unbounded(endpoint, backend, sql))
        .await
        .unwrap_or_else(|_| Err(ConnectError::transient(format!("`{sql}` did not finish within {ADMIN_TIMEOUT:?}"))))
}

async fn query_fresh_unbounded(endpoint: &Endpoint, backend: Backend, sql: &str) -> Result<String, ConnectError> {
    let mut session = backend.dialect().connect(endpoint, None, Profile::ServerDefaults).await?;
    let result = session.execute(&Command::Sql(sql.to_string())).await;
    session.close().await;
    match result {
        Ok(Ok(crate::driver::Response::Rows { rows, .. })) => Ok(rows.first().and_then(|r| r.first()).cloned().unwrap_or_default()),
        Ok(Ok(_)) => Ok(String::new()),
        Ok(Err(e)) => Err(ConnectError::transient(format!("`{sql}` failed: {} {}", e.code, e.message))),
        Err(e) => Err(ConnectError::transient(e.to_string())),
    }
}

/// Waits until the server accepts a connection and answers `SELECT 1`. Gives up at
/// once on an error that waiting cannot mend (a refused login), and, for a container,
/// as soon as the container has exited, with its exit code and last log lines.
pub async fn wait_ready(endpoint: &Endpoint, backend: Backend, container: Option<&Container>, deadline: Instant) -> Result<(), String> {
    let mut last = String::from("no attempt made");
    let mut attempts = 0u32;
    while Instant::now() < deadline {
        match query_fresh(endpoint, backend, backend.dialect().ping_sql()).await {
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
        let dialect = backend.dialect();
        let version_text = query_fresh(&endpoint, backend, dialect.version_sql()).await.map_err(String::from)?.trim_matches('\'').to_string();
        dialect.check_identity(&version_text)?;
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
                *slot = Some(self.backend.dialect().connect(&self.endpoint(), None, Profile::ServerDefaults).await?);
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
    /// and in the namespace. The client reads the password from its first input line,
    /// so it is on no command line.
    pub async fn client_session(&self, namespace: &Namespace, log: ClientLog) -> Result<Box<dyn Session>, String> {
        use crate::driver::client::{ClientSession, Host, Launch};
        let container = self.container.as_ref().ok_or("an external server has no container to run its own client in")?;
        let id = container.id().await.ok_or("the server's container was removed")?;
        let endpoint = self.endpoint();
        let client = self
            .backend
            .dialect()
            .client(&endpoint.user, &namespace.location)
            .ok_or_else(|| format!("dbcompat has no command-line client session for {}", self.backend))?;
        let launch = Launch::script(&Host::Container { id }, &client.script, &[], Some(endpoint.password.clone()))?;
        let session = ClientSession::start(launch, client.format, log).await?;
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
        let dialect = self.backend.dialect();
        let name = dialect.namespace_name(format!("dbc_{short}_{n}"));
        let ident = dialect.quote_ident(&name);
        let statements = dialect.create_namespace(&ident, &self.endpoint().password)?;
        for (sql, shown) in statements {
            if let Err(e) = self.admin_shown_as(&sql, &shown).await {
                return Err(self.diagnose(e).await);
            }
        }
        Ok(Namespace { location: name.clone(), name })
    }

    async fn connect(&self, namespace: &Namespace, profile: Profile) -> Result<Box<dyn Session>, String> {
        if let Some(reason) = self.dead() {
            return Err(reason);
        }
        match self.backend.dialect().connect(&self.endpoint(), Some(&namespace.location), profile).await {
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
        let dialect = self.backend.dialect();
        let _ = self.admin(&dialect.drop_namespace(&dialect.quote_ident(&namespace.location))).await;
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
