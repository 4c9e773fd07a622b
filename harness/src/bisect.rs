//! `dbcompat bisect`: between which two obtainable versions of a backend a probe's
//! outcome changes.
//!
//! The versions are those a [`VersionSource`] can list and provide; today that is SQLite,
//! one version per `libsqlite3-sys` release on crates.io, built on demand (and cached) by
//! `ci/build-sqlite-libs.sh`. The search is a binary search per probe over the listed
//! versions, which assumes the outcome changes once between the two ends; a version in
//! between with a third outcome shows it does not, and the result says so. Every
//! version's run is shared by all probes being bisected, and recorded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde::Serialize;

use crate::backends::Backend;
use crate::matrix::{Launch, TargetSpec};
use crate::result::{RunResults, Verdict};

/// One obtainable version: where it comes from and what it reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Candidate {
    /// How the source names it (a `libsqlite3-sys` release).
    pub source_version: String,
}

/// Where the versions of a backend come from.
pub trait VersionSource {
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

impl SqliteReleases {
    fn script(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("bash")
            .arg(&self.script)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.script.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("{} {} failed: {}", self.script.display(), args.join(" "), err.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl VersionSource for SqliteReleases {
    fn describe(&self) -> String {
        "SQLite from the amalgamation of each libsqlite3-sys release on crates.io (0.17.0 on), built by ci/build-sqlite-libs.sh".to_string()
    }

    fn list(&self) -> Result<Vec<Candidate>, String> {
        let text = self.script(&["--list-crates"])?;
        let list: Vec<Candidate> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Candidate { source_version: l.to_string() }).collect();
        if list.len() < 2 {
            return Err(format!("{} listed {} release(s): nothing to bisect", self.script.display(), list.len()));
        }
        Ok(list)
    }

    fn provide(&self, candidate: &Candidate) -> Result<(String, TargetSpec), String> {
        let text = self.script(&["--crate", &candidate.source_version])?;
        let line = text.lines().last().unwrap_or_default();
        let (version, dir) = line.split_once(' ').ok_or_else(|| format!("unexpected answer from {}: `{line}`", self.script.display()))?;
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

/// What one version did, per probe: the outcome text, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRun {
    pub source_version: String,
    pub version: String,
    pub outcomes: BTreeMap<String, String>,
}

/// Where one probe's outcome changes.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub probe: String,
    /// `None` when the two ends agree: no change was found between them (it may have
    /// changed and changed back; a binary search cannot tell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_new: Option<String>,
    pub old_outcome: String,
    pub new_outcome: String,
    /// False when a version between the ends showed a third outcome.
    pub monotone: bool,
    /// How many versions this probe's search looked at.
    pub versions_run: usize,
}

#[derive(Debug, Serialize)]
pub struct Bisection {
    pub backend: Backend,
    pub source: String,
    pub versions_listed: usize,
    pub changes: Vec<Change>,
    /// Every version run, oldest first.
    pub runs: Vec<VersionRun>,
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
    let mut seen = std::collections::BTreeSet::new();
    let mut at = |i: usize, seen: &mut std::collections::BTreeSet<usize>| {
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
