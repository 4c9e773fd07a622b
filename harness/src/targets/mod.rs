//! Targets: a database at one version that cases run against.
//!
//! A target hands out fresh namespaces (a database file, a database, a schema) so that
//! cases never see each other's tables and can run side by side, and connections into
//! them. How the server came to be (in process, container, given URL) is the target's
//! business; the interpreter only sees this trait.

pub mod container;
pub mod embedded;
pub mod external;
pub mod server;
pub mod server_log;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backends::Backend;
use crate::driver::client::ClientLog;
use crate::driver::Session;
use crate::profile::Profile;
use crate::suite::RestartKind;
use crate::version::Version;

/// A target as it was run: what the matrix asked for and what the server said it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetRecord {
    /// The name cases use, e.g. `sqlite-3.51` or `postgres-17`.
    pub id: String,
    pub backend: crate::backends::Backend,
    /// The version the server itself reports; absent when it did not run.
    pub server_version: Option<String>,
    /// How it was started: `embedded`, `container postgres:17`, `external`.
    pub launch: String,
    /// Why it did not run, when it did not.
    pub not_run: Option<String>,
}

/// What a restart or crash did, in the harness's words and in the server's own.
#[derive(Debug, Clone, Default)]
pub struct RestartReport {
    pub summary: String,
    /// The server's log lines that show how it went down and came back.
    pub server_log: Vec<String>,
}

/// A namespace of one case: its name (for `{{namespace}}`) and where it lives.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub location: String,
}

#[async_trait]
pub trait Target: Send + Sync {
    fn backend(&self) -> Backend;

    /// The version the server reports about itself.
    fn version(&self) -> &Version;

    /// Creates an empty namespace for one case; `hint` makes its name readable.
    async fn create_namespace(&self, hint: &str) -> Result<Namespace, String>;

    /// A session in `namespace`, with the handshake `profile` asks for.
    async fn connect(&self, namespace: &Namespace, profile: Profile) -> Result<Box<dyn Session>, String>;

    /// Brings the server down (cleanly, or by killing it) and up again, keeping its data.
    /// Fails when the server's own log contradicts the kind asked for.
    async fn restart(&self, kind: RestartKind) -> Result<RestartReport, String>;

    /// Removes a namespace; failures are not the case's concern.
    async fn drop_namespace(&self, namespace: &Namespace);

    /// A case's error, with what the target knows of why (a server that died says so).
    async fn explain_failure(&self, error: String) -> String {
        error
    }

    /// A session through the backend's own command-line client, for `crosscheck`;
    /// what the client was sent and printed goes to `log`.
    async fn client(&self, _namespace: &Namespace, _log: ClientLog) -> Result<Box<dyn Session>, String> {
        Err(format!("dbcompat has no command-line client session for {}", self.backend()))
    }

    /// Releases what the target started (its container). Called once, at the end.
    async fn shut_down(&self) {}
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::matrix::{Launch, TargetSpec};

/// A target after trying to start it: ready, or the reason it cannot run.
pub struct Launched {
    pub record: TargetRecord,
    pub target: Option<Arc<dyn Target>>,
    /// How many cases may run on it at once (each in its own namespace).
    pub jobs: usize,
}

/// The name a target has in case names before it is started: SQLite's is known from
/// the linked library; a server's comes from the matrix.
pub fn planned_id(spec: &TargetSpec) -> String {
    match &spec.launch {
        Launch::Embedded => format!("{}-{}", spec.backend, embedded::EmbeddedSqlite::library_version().short()),
        _ => spec.name.clone(),
    }
}

/// Starts a target. Never fails: a target that cannot start is returned as not run,
/// with the reason.
pub async fn launch(spec: &TargetSpec) -> Launched {
    let id = planned_id(spec);
    let record = |server_version: Option<String>, not_run: Option<String>| TargetRecord {
        id: id.clone(),
        backend: spec.backend,
        server_version,
        launch: spec.launch.describe(),
        not_run,
    };
    let started: Result<(Arc<dyn Target>, String), String> = match &spec.launch {
        Launch::Embedded => embedded::EmbeddedSqlite::start().map(|t| {
            let v = t.version().to_string();
            (Arc::new(t) as Arc<dyn Target>, v)
        }),
        Launch::Library { dir } => embedded::EmbeddedSqlite::start_library(dir).map(|t| {
            let v = t.version().to_string();
            (Arc::new(t) as Arc<dyn Target>, v)
        }),
        Launch::Container { image, tag, startup_timeout_s, args } => {
            start_container(spec.backend, image, tag, args, Duration::from_secs(*startup_timeout_s)).await
        }
        Launch::External { url } => start_external(spec.backend, url).await,
    };
    match started {
        Ok((target, version)) => Launched { record: record(Some(version), None), target: Some(target), jobs: 4 },
        Err(reason) => Launched { record: record(None, Some(reason)), target: None, jobs: 1 },
    }
}

async fn start_container(backend: Backend, image: &str, tag: &str, args: &[String], timeout: Duration) -> Result<(Arc<dyn Target>, String), String> {
    if let Some(reason) = backend.dialect().driver_missing() {
        return Err(reason);
    }
    container::engine_available().await?;
    let deadline = Instant::now() + timeout;
    let (c, host, port, user) = container::Container::start(backend, image, tag, args, timeout).await?;
    let endpoint = server::Endpoint { host, port, user: user.into(), password: container::PASSWORD.into(), database: None };
    if let Err(e) = server::wait_ready(&endpoint, backend, Some(&c), deadline).await {
        let e = if e.contains("last log lines") { e } else { format!("{e}; the server's last log lines:\n{}", c.log_tail(15).await) };
        c.remove().await;
        return Err(e);
    }
    match server::ServerTarget::new(backend, endpoint, Some(c), timeout).await {
        Ok(t) => {
            let v = t.version_text.clone();
            Ok((Arc::new(t), v))
        }
        // The container went with the target that was not made (its handle removes it).
        Err(e) => Err(e),
    }
}

async fn start_external(backend: Backend, url: &crate::matrix::UrlSource) -> Result<(Arc<dyn Target>, String), String> {
    if let Some(reason) = backend.dialect().driver_missing() {
        return Err(reason);
    }
    let endpoint = external::parse_url(backend, &url.resolve()?)?;
    server::wait_ready(&endpoint, backend, None, Instant::now() + Duration::from_secs(30)).await?;
    let t = server::ServerTarget::new(backend, endpoint, None, Duration::from_secs(30)).await?;
    let v = t.version_text.clone();
    Ok((Arc::new(t), v))
}
