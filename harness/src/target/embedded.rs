//! SQLite in process: the default target, which needs nothing installed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Namespace, Target};
use crate::backend::Backend;
use crate::driver::sqlite::{library_version, SqliteSession};
use crate::driver::Session;
use crate::version::Version;

/// Each case gets its own database file in a directory removed with the target.
pub struct EmbeddedSqlite {
    dir: tempfile::TempDir,
    version: Version,
    counter: AtomicUsize,
}

impl EmbeddedSqlite {
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("dbcompat-sqlite-")
            .tempdir()
            .map_err(|e| format!("cannot create a directory for SQLite databases: {e}"))?;
        let version = Version::parse(library_version()).ok_or("SQLite reported no version")?;
        Ok(EmbeddedSqlite { dir, version, counter: AtomicUsize::new(0) })
    }

    /// The version of the linked SQLite, known without starting anything.
    pub fn library_version() -> Version {
        Version::parse(library_version()).unwrap_or(Version(vec![3]))
    }

    fn files(&self, ns: &Namespace) -> Vec<PathBuf> {
        ["", "-journal", "-wal", "-shm"].iter().map(|s| PathBuf::from(format!("{}{s}", ns.location))).collect()
    }
}

#[async_trait]
impl Target for EmbeddedSqlite {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn version(&self) -> &Version {
        &self.version
    }

    async fn create_namespace(&self, hint: &str) -> Result<Namespace, String> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("{hint}_{n}");
        let location = self.dir.path().join(format!("{name}.db")).display().to_string();
        Ok(Namespace { name, location })
    }

    async fn connect(&self, namespace: &Namespace) -> Result<Box<dyn Session>, String> {
        SqliteSession::open(std::path::Path::new(&namespace.location))
            .map(|s| Box::new(s) as Box<dyn Session>)
            .map_err(|e| e.to_string())
    }

    async fn restart(&self) -> Result<String, String> {
        // There is no server: the interpreter has closed every connection, and reopening
        // the file is what a restart means for SQLite.
        Ok("closed every connection; the database file is reopened".into())
    }

    async fn drop_namespace(&self, namespace: &Namespace) {
        for f in self.files(namespace) {
            let _ = std::fs::remove_file(f);
        }
    }
}
