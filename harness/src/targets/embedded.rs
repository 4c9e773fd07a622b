//! SQLite in process: the compiled-in library (the default target, which needs nothing
//! installed), or another version loaded from its own `libsqlite3.so.0`.
//!
//! Several SQLite libraries can share the process: each is loaded into its own function
//! table with its symbols kept to itself (`driver::sqlite_api`), and each target's
//! database files are its own, so no two libraries ever lock the same file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Namespace, RestartReport, Target};
use crate::suite::RestartKind;
use crate::backends::Backend;
use std::sync::Arc;

use crate::driver::sqlite::{library_version, SqliteSession};
use crate::driver::sqlite_api::Api;
use crate::driver::Session;
use crate::profile::Profile;
use crate::version::Version;

/// Each case gets its own database file in a directory removed with the target.
pub struct EmbeddedSqlite {
    dir: tempfile::TempDir,
    version: Version,
    counter: AtomicUsize,
    api: Arc<Api>,
    /// The directory of the loaded `libsqlite3.so.0`; `None` for the bundled library.
    library_dir: Option<PathBuf>,
}

fn scratch_dir() -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix("dbcompat-sqlite-")
        .tempdir()
        .map_err(|e| format!("cannot create a directory for SQLite databases: {e}"))
}

impl EmbeddedSqlite {
    pub fn start() -> Result<Self, String> {
        Self::with_api(Api::bundled(), None)
    }

    /// SQLite from a directory holding `libsqlite3.so.0`.
    pub fn start_library(library_dir: &std::path::Path) -> Result<Self, String> {
        let file = library_dir.join("libsqlite3.so.0");
        if !file.is_file() {
            return Err(format!("no libsqlite3.so.0 in {}", library_dir.display()));
        }
        Self::with_api(Api::load(&file)?, Some(library_dir.to_path_buf()))
    }

    fn with_api(api: Api, library_dir: Option<PathBuf>) -> Result<Self, String> {
        // The version is the library's own answer, not what the matrix calls it.
        let reported = api.version();
        let version = Version::parse(&reported).ok_or_else(|| format!("SQLite reported no version: {reported}"))?;
        Ok(EmbeddedSqlite { dir: scratch_dir()?, version, counter: AtomicUsize::new(0), api: Arc::new(api), library_dir })
    }

    /// The version of the linked SQLite, known without starting anything.
    pub fn library_version() -> Version {
        Version::parse(&library_version()).unwrap_or(Version(vec![3]))
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

    /// A SQLite handshake has nothing to ask for: profiles only run pragmas afterwards.
    async fn connect(&self, namespace: &Namespace, _profile: Profile) -> Result<Box<dyn Session>, String> {
        SqliteSession::open(self.api.clone(), std::path::Path::new(&namespace.location), crate::backends::sqlite_class)
            .map(|s| Box::new(s) as Box<dyn Session>)
            .map_err(|e| e.to_string())
    }

    async fn restart(&self, kind: RestartKind) -> Result<RestartReport, String> {
        match kind {
            // There is no server: the interpreter has closed every connection, and
            // reopening the file is what a restart means for SQLite.
            RestartKind::Clean => Ok(RestartReport { summary: "closed every connection; the database file is reopened".into(), server_log: Vec::new() }),
            // Killing the process that holds the connections would kill dbcompat itself.
            RestartKind::Crash => Err("dbcompat cannot crash an embedded SQLite: its connections live in dbcompat's own process".into()),
        }
    }

    async fn drop_namespace(&self, namespace: &Namespace) {
        for f in self.files(namespace) {
            let _ = std::fs::remove_file(f);
        }
    }

    /// The `sqlite3` shell with this target's library (the bundled one's twin, built
    /// from the same amalgamation, for the embedded target).
    async fn client(&self, namespace: &Namespace, log: crate::driver::client::ClientLog) -> Result<Box<dyn Session>, String> {
        use crate::driver::client::sqlite::{library_dir, start_shell};
        let dir = self.library_dir.clone().unwrap_or_else(|| library_dir(&self.api.version()));
        start_shell(&dir, &namespace.location, &self.version, log).await
    }
}
