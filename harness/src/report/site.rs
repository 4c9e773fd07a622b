//! Writing the static site: every page rendered into a fresh sibling directory, which is
//! then renamed into place, so `out` is always either the old site or the new one.
//!
//! `out` is replaced as a whole, so it must be a directory this function wrote before
//! (it carries [`SITE_MARKER`]) or empty or absent: a mistyped `--out .` must not delete
//! someone's files.

use rayon::prelude::*;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::result::{RunResults, Tally};

use super::claims::{evaluate, Finding};
use super::diff::{compare, render as render_diff};
use super::html::Shell;
use super::junit::junit_xml;
use super::markdown::markdown_summary;
use super::model::Model;
use super::names::Names;
use super::{anomalies, backend_page, claims, flags, matrix, probe_page};

/// The file that marks a directory as a site `write_site` may replace.
pub const SITE_MARKER: &str = ".dbcompat-site";

/// What `write_site` wrote.
#[derive(Debug, Clone, Default)]
pub struct SiteSummary {
    /// Every file, as its final path under `out`, in the order written.
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub probe_pages: usize,
    pub backend_pages: usize,
    /// Documentation claims in the run, and how many some target contradicts.
    pub claims: usize,
    pub contradicted_claims: usize,
    /// Verdicts of the run.
    pub tally: Tally,
    /// With a previous run: whether the comparison found a regression.
    pub regression: Option<bool>,
}

/// Where `dbcompat crosscheck --out <site>/crosscheck` puts its report inside a site.
pub const CROSSCHECK_DIR: &str = "crosscheck";

/// Writes the HTML site, `summary.md` and `junit.xml` for `results` into the directory
/// `out`, with a `diff.html` page when `previous` is given. `out` ends up holding the
/// complete new site or, on any error, whatever it held before.
pub fn write_site(results: &RunResults, previous: Option<&RunResults>, out: &Path) -> io::Result<SiteSummary> {
    let name = out
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a directory name a site can be written to", out.display())))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let replaces = check_replaceable(out)?;
    fs::create_dir_all(&parent)?;
    // A crosscheck report in the site is another command's measurement: it stays, and
    // every page links it.
    let crosscheck = replaces && out.join(CROSSCHECK_DIR).join("index.html").is_file();

    let staging = Staging::create(&parent, &name.to_string_lossy())?;
    // Every page, summary.md and junit.xml are made from these, so no secret gets in.
    let (results, previous) = (results.scrubbed(), previous.map(RunResults::scrubbed));
    let mut summary = render_into(&staging.path, &results, previous.as_ref(), crosscheck)?;

    if replaces {
        let old = unique_sibling(&parent, &name.to_string_lossy(), "old");
        fs::rename(out, &old)?;
        if let Err(e) = fs::rename(&staging.path, out) {
            let _ = fs::rename(&old, out); // put the old site back
            return Err(e);
        }
        // The old site goes only once its crosscheck report has moved into the new one.
        if !crosscheck || fs::rename(old.join(CROSSCHECK_DIR), out.join(CROSSCHECK_DIR)).is_ok() {
            let _ = fs::remove_dir_all(&old);
        }
    } else {
        fs::rename(&staging.path, out)?;
    }
    staging.keep();
    summary.files = summary.files.iter().map(|f| out.join(f)).collect();
    Ok(summary)
}

/// Whether `out` exists and may be replaced; an error when it exists and may not.
/// Asked before a run starts too, so that a run's results never wait on a directory
/// that will be refused.
pub fn check_replaceable(out: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
        Ok(meta) if !meta.is_dir() => {
            Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{}: exists and is not a directory", out.display())))
        }
        Ok(_) => {
            let mut entries = fs::read_dir(out)?;
            if entries.next().is_none() || out.join(SITE_MARKER).is_file() {
                Ok(true)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: a non-empty directory that is not a dbcompat site ({SITE_MARKER} missing); not replacing it", out.display()),
                ))
            }
        }
    }
}

/// A hidden sibling name no one else uses: `.site.new-<pid>-<nanos>`.
fn unique_sibling(parent: &Path, name: &str, what: &str) -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    parent.join(format!(".{name}.{what}-{}-{nanos}", std::process::id()))
}

/// The directory pages are written into; removed again unless the site was swapped in.
struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    fn create(parent: &Path, name: &str) -> io::Result<Staging> {
        for attempt in 0..100 {
            let path = unique_sibling(parent, name, &format!("new{attempt}"));
            // create_dir, unlike a temp-dir crate, leaves the permissions to the umask.
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Staging { path, keep: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free staging directory name"))
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Files go only into `dir`, under names made of safe characters.
struct Writer<'d> {
    dir: &'d Path,
    summary: SiteSummary,
}

impl Writer<'_> {
    fn put(&mut self, name: &str, content: &str) -> io::Result<()> {
        let safe = !name.is_empty()
            && !name.starts_with("..")
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
        if !safe {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("refusing to write file name {name:?}")));
        }
        fs::write(self.dir.join(name), content)?;
        self.summary.files.push(PathBuf::from(name));
        self.summary.bytes += content.len() as u64;
        Ok(())
    }
}

fn render_into(dir: &Path, results: &RunResults, previous: Option<&RunResults>, crosscheck: bool) -> io::Result<SiteSummary> {
    let model = Model::new(results);
    let groups = model.backend_groups();
    let shell = Shell::new(results, groups.iter().map(|(b, _)| *b).collect(), previous.is_some(), crosscheck);
    let mut w = Writer { dir, summary: SiteSummary { tally: results.tally(), ..SiteSummary::default() } };

    w.put(SITE_MARKER, "This directory is a report written by dbcompat; `dbcompat report` replaces it as a whole.\n")?;
    w.put("index.html", &matrix::render(&model, &shell))?;
    for (backend, targets) in &groups {
        w.put(&Names::backend_page(*backend), &backend_page::render(&model, &shell, *backend, targets))?;
        w.summary.backend_pages += 1;
    }
    // Probe pages are most of the rendering work: render them on all cores, then write
    // them in order.
    let pages: Vec<(String, String)> = model
        .probes
        .par_iter()
        .map(|probe| (model.names.probe_page(probe.id), probe_page::render(&model, &shell, probe)))
        .collect();
    for (name, page) in pages {
        w.put(&name, &page)?;
        w.summary.probe_pages += 1;
    }
    let reports = evaluate(&model);
    w.summary.claims = reports.len();
    w.summary.contradicted_claims = reports.iter().filter(|r| r.overall() == Finding::Contradicted).count();
    w.put("claims.html", &claims::render(&model, &shell))?;
    w.put("anomalies.html", &anomalies::render(&model, &shell))?;
    w.put("django-flags.html", &flags::render(&model, &shell))?;
    if let Some(previous) = previous {
        let diff = compare(previous, results);
        w.summary.regression = Some(diff.is_regression());
        w.put("diff.html", &render_diff(&diff, &model, &shell))?;
    }
    w.put("summary.md", &markdown_summary(results, previous))?;
    w.put("junit.xml", &junit_xml(results))?;
    Ok(w.summary)
}
