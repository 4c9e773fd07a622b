//! Writing a run's results: `results.json` in an output directory, and the reporter
//! that writes it when a run finishes (the `cargo test` runner's `DBCOMPAT_RESULTS`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::RunResults;
use crate::run::events::{Event, EventKind, Reporter};

/// Writes `results.json` into `out` (atomically: a reader sees the old file or the new
/// one). A directory dbcompat creates (or finds empty) is marked as its own, so
/// `dbcompat report` may later replace it with a site.
pub fn write_results(results: &RunResults, out: &Path) -> Result<PathBuf, String> {
    let fresh = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(true);
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    if fresh {
        let marker = out.join(crate::report::SITE_MARKER);
        std::fs::write(&marker, "Written by dbcompat; `dbcompat report` may replace this directory.\n")
            .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    }
    let path = out.join("results.json");
    results.write(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Writes the results when the run finishes: to `path` itself when it names a `.json`
/// file, else to `results.json` in the directory `path` (as `dbcompat run --out`).
pub struct ResultsFile {
    path: PathBuf,
    written: Mutex<Option<Result<PathBuf, String>>>,
}

impl ResultsFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ResultsFile { path: path.into(), written: Mutex::new(None) }
    }

    /// Where the results were written, or why they could not be; `None` before the run
    /// finished.
    pub fn written(&self) -> Option<Result<PathBuf, String>> {
        self.written.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn write(&self, results: &RunResults) -> Result<PathBuf, String> {
        if self.path.extension().is_some_and(|x| x == "json") {
            results.write(&self.path).map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
            return Ok(self.path.clone());
        }
        write_results(results, &self.path)
    }
}

impl Reporter for ResultsFile {
    fn report(&self, event: &Event<'_>) {
        if let EventKind::RunFinished { results } = &event.kind {
            let written = self.write(results);
            *self.written.lock().unwrap_or_else(|p| p.into_inner()) = Some(written);
        }
    }
}
