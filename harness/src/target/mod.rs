//! Targets: a database at one version that cases run against.
//!
//! A target hands out fresh namespaces (a database file, a database, a schema) so that
//! cases never see each other's tables and can run side by side, and connections into
//! them. How the server came to be (in process, container, given URL) is the target's
//! business; the interpreter only sees this trait.

pub mod embedded;

use async_trait::async_trait;

use crate::backend::Backend;
use crate::driver::Session;
use crate::version::Version;

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

    async fn connect(&self, namespace: &Namespace) -> Result<Box<dyn Session>, String>;

    /// Restarts the server, keeping its data. Returns what was done, for the transcript.
    async fn restart(&self) -> Result<String, String>;

    /// Removes a namespace; failures are not the case's concern.
    async fn drop_namespace(&self, namespace: &Namespace);
}

use std::sync::Arc;

use crate::matrix::{Launch, TargetSpec};
use crate::result::TargetRecord;

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
    match (&spec.launch, spec.backend) {
        (Launch::Embedded, Backend::Sqlite) => format!("sqlite-{}", embedded::EmbeddedSqlite::library_version().short()),
        _ => spec.name.clone(),
    }
}

/// Starts a target. Never fails: a target that cannot start is returned as not run,
/// with the reason.
pub async fn launch(spec: &TargetSpec) -> Launched {
    let id = planned_id(spec);
    let not_run = |reason: String| Launched {
        record: TargetRecord { id: id.clone(), backend: spec.backend, server_version: None, launch: spec.launch.describe(), not_run: Some(reason) },
        target: None,
        jobs: 1,
    };
    match &spec.launch {
        Launch::Embedded => match embedded::EmbeddedSqlite::start() {
            Ok(t) => Launched {
                record: TargetRecord {
                    id: id.clone(),
                    backend: spec.backend,
                    server_version: Some(t.version().to_string()),
                    launch: spec.launch.describe(),
                    not_run: None,
                },
                target: Some(Arc::new(t)),
                jobs: 4,
            },
            Err(e) => not_run(e),
        },
        Launch::Container { .. } => not_run("container targets are not supported by this build yet".into()),
        Launch::External { .. } => not_run("external targets are not supported by this build yet".into()),
    }
}
