//! What a suite says, after loading and validation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::template::Template;
use crate::backends::Backend;
pub use crate::outcome::Isolation;
use crate::outcome::Outcome;
use crate::profile::Profile;
use crate::version::{Version, VersionRange};

/// One suite file: a behaviour area's probes.
#[derive(Debug)]
pub struct Suite {
    pub path: PathBuf,
    pub probes: Vec<Arc<Probe>>,
}

/// One question asked of a server.
#[derive(Debug, Clone)]
pub struct Probe {
    pub id: String,
    pub area: String,
    pub asks: String,
    pub claims: Vec<Claim>,
    pub note: Option<String>,
    pub setup: Sql,
    pub teardown: Sql,
    /// In declaration order; steps without a session run on the first.
    pub sessions: Vec<SessionSpec>,
    pub steps: Vec<Step>,
    pub expect: Vec<Keyed<Expected>>,
    pub not_applicable: Vec<Keyed<String>>,
    /// Targets where the vendor documents the behaviour as undefined: the outcome is
    /// recorded with the reason and never judged.
    pub undefined: Vec<Keyed<String>>,
    /// Targets where dbcompat itself cannot run the probe (a limit of the harness, not
    /// of the database): counted and shown apart from not applicable.
    pub unsupported: Vec<Keyed<String>>,
    /// Vendor documentation by target selector, for targets that cannot run here and
    /// whose documented outcome is the one their backend's other keys give: the
    /// citation without a restated outcome. (A documented *different* outcome is an
    /// `expect` entry with its own `documented`.)
    pub documented: Vec<Keyed<String>>,
    /// Set when the probe is one of several the loader made from one `[[probe]]`
    /// (a parameter or a step order): the id written in the file and the variant.
    pub variant: Option<Variant>,
    /// The isolation anomaly the probe tests for (`anomaly = { name = "G0", ... }`).
    pub anomaly: Option<Anomaly>,
    /// The Django feature flag the probe measures (`[probe.django]`).
    pub django: Option<FrameworkFlag>,
    /// Must not share its target with other cases (restarts, server-wide settings).
    pub runs_alone: bool,
    /// The state its sessions start in, where a session names none; `None` takes the
    /// run's (`--profile`, by default the server's defaults).
    pub profile: Option<Profile>,
    pub snippets: Arc<Snippets>,
    pub file: PathBuf,
    pub line: usize,
}

/// Which copy of a parameterised or permuted `[[probe]]` a probe is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The `id` written in the file.
    pub base_id: String,
    /// The parameter value or the step order (names joined by `_`), as written in
    /// `[...]` after keys that hold for this variant only (`"sqlite[wal]"`).
    pub key: String,
}

/// The anomalies of Adya's classification as Hermitage tests them: the columns of the
/// report's anomalies page, in its order.
pub const ANOMALIES: [&str; 10] = ["G0", "G1a", "G1b", "G1c", "OTV", "PMP", "P4", "G-single", "G2-item", "G2"];

/// `anomaly = { name = "G0", occurs = ["affected:1", "*"], read_only = false }`: the
/// probe tests whether an isolation anomaly can happen, and says what its observation
/// is when it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// One of [`ANOMALIES`].
    pub name: String,
    /// Observations that mean the anomaly happened: alternatives, each one outcome per
    /// outcome step, `None` (written `*`) where any outcome of that step will do.
    pub occurs: Vec<Vec<Option<Outcome>>>,
    /// The transaction whose view the anomaly is about only reads (Hermitage's "R/O":
    /// a level may prevent the anomaly for such transactions only).
    pub read_only: bool,
}

/// A framework release whose feature flags a suite file gives (`[django.release."5.2.19"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FrameworkRelease {
    /// As written, e.g. `5.2.19`.
    pub version: String,
    /// Why this release is in the table (the current one, the one a seed describes).
    pub about: String,
    /// The seed document that describes this release, if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// The oldest server version of each backend the release supports, by backend name.
    pub minimum: BTreeMap<String, String>,
}

impl FrameworkRelease {
    /// Whether the release supports this server version (unknown versions are given the
    /// benefit of the doubt; a backend with no minimum is supported at every version).
    pub fn supports(&self, backend: Backend, version: Option<&Version>) -> bool {
        let key = backend.name();
        match (self.minimum.get(key).and_then(|m| Version::parse(m)), version) {
            (Some(min), Some(v)) => *v >= min,
            _ => true,
        }
    }
}

/// `[probe.django]`: the probe measures the capability a framework's feature flag
/// claims, and the flag's value per release and server version.
#[derive(Debug, Clone)]
pub struct FrameworkFlag {
    /// The flag's name in the framework's code (`has_select_for_update_skip_locked`).
    pub flag: String,
    /// Observations that mean the server has the capability: alternatives, one outcome
    /// per outcome step each, `None` (written `*`) for any outcome of that step.
    pub capable: Vec<Vec<Option<Outcome>>>,
    /// The gate in words: where the framework decides the flag and on what.
    pub gate: String,
    /// The flag's value by release (in the file's order) and target selector.
    pub says: Vec<(FrameworkRelease, Vec<Keyed<bool>>)>,
    /// Why the flag and the server disagree, by target selector, where they do.
    pub explain: Vec<Keyed<String>>,
}

/// A documentation sentence the probe checks.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// The seed document's file name.
    pub source: String,
    pub section: String,
    pub text: String,
    /// What the claim says each backend does, in outcome form, where it says so.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub predicts: Vec<Keyed<Vec<Outcome>>>,
    /// The claim is about these of the probe's outcomes only (1-based; all when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<usize>,
    /// The claim is about these columns of a rows outcome only (1-based; all when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<usize>,
    /// The document hedges ("may", "might"): one run can show the prediction happen
    /// (consistent) or not happen (not observed), never contradict it.
    pub hedged: bool,
}

/// SQL that may differ per dialect. Keys are backend names or `default`; each
/// statement is a template parsed when the suite was loaded.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub by_dialect: BTreeMap<String, Vec<Template>>,
}

impl Sql {
    pub fn shared(statements: Vec<Template>) -> Self {
        Sql { by_dialect: BTreeMap::from([("default".to_string(), statements)]) }
    }

    pub fn is_empty(&self) -> bool {
        self.by_dialect.is_empty()
    }

    /// The statements for a backend: its own dialect, a related one, then `default`.
    pub fn for_backend(&self, backend: Backend) -> Option<&[Template]> {
        backend
            .dialects()
            .iter()
            .chain(std::iter::once(&"default"))
            .find_map(|d| self.by_dialect.get(*d))
            .map(Vec::as_slice)
    }
}

/// Named per-dialect SQL fragments, written `{{name}}` inside SQL.
pub type Snippets = BTreeMap<String, Sql>;

/// A session's isolation level, one for every backend or keyed by dialect (a backend
/// takes its own key, then a related one, then `default`, like SQL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IsolationSpec {
    pub by_dialect: BTreeMap<String, Isolation>,
}

impl IsolationSpec {
    pub fn all(level: Isolation) -> Self {
        IsolationSpec { by_dialect: BTreeMap::from([("default".to_string(), level)]) }
    }

    pub fn for_backend(&self, backend: Backend) -> Option<Isolation> {
        backend.dialects().iter().chain(std::iter::once(&"default")).find_map(|d| self.by_dialect.get(*d)).copied()
    }
}

/// A named connection and how it is set up after connecting.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub name: String,
    pub isolation: IsolationSpec,
    /// Statements run right after connecting (sql_mode, PRAGMAs, collation).
    pub init: Sql,
    /// The state it starts in, over the probe's.
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Sql(Sql),
    /// Open a cursor (with SQL) or fetch more from it (without); `streamed` opens it
    /// unbuffered, `close` closes it.
    Cursor { name: String, sql: Option<Sql>, fetch: Option<u64>, streamed: bool, close: bool },
    /// Bring the server down and up again, keeping its data.
    Restart(RestartKind),
}

/// How a restart step brings the server down. "After a restart" and "after a crash" are
/// two questions, and the server's own log must confirm which one was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartKind {
    /// `restart = true`: a clean shutdown (SQLite: every connection closed, the file reopened).
    Clean,
    /// `crash = true`: the server process is killed (SIGKILL) and started again.
    Crash,
}

impl RestartKind {
    pub fn name(self) -> &'static str {
        match self {
            RestartKind::Clean => "restart",
            RestartKind::Crash => "crash",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub session: String,
    pub action: Action,
    /// This step's observation is (part of) the probe's outcome.
    pub outcome: bool,
    /// The step begins a transaction: the harness sends the backend's BEGIN first
    /// (Oracle: nothing; a transaction starts with the first statement).
    pub begin: bool,
    /// The step's statements run as in autocommit mode: Oracle, whose sessions never
    /// autocommit, gets a COMMIT after them. The observation stays the step's own.
    pub autocommit: bool,
    /// Rows are compared without regard to order (both sides sorted by the judge).
    pub unordered: bool,
    /// The step's name, for `permutations`.
    pub name: Option<String>,
    pub line: usize,
}

/// Which targets an entry applies to: a backend and a version range.
#[derive(Debug, Clone, Serialize)]
pub struct Selector {
    pub backend: Backend,
    #[serde(skip)]
    pub range: VersionRange,
    /// As written in the file, e.g. `mysql>=8.0.1`.
    pub text: String,
}

impl Selector {
    /// Parses `backend` or `backend<range>`, e.g. `mysql>=8.0.1`, `mariadb>=10.3,<10.6`.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let split = text.find(['<', '>', '=']).unwrap_or(text.len());
        let (name, range_text) = text.split_at(split);
        let backend = name.trim().parse::<Backend>().map_err(|_| format!("unknown backend `{}` in `{text}`", name.trim()))?;
        let range = if range_text.is_empty() {
            VersionRange::any()
        } else {
            VersionRange::parse(range_text).map_err(|e| format!("invalid version range in `{text}`: {e}"))?
        };
        Ok(Selector { backend, range, text: text.to_string() })
    }

    pub fn matches(&self, backend: Backend, version: Option<&Version>) -> bool {
        self.backend == backend && (self.range.is_any() || version.is_some_and(|v| self.range.contains(v)))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Keyed<T> {
    pub target: Selector,
    pub value: T,
}

/// Picks the entry for a target: one with a version range beats a bare backend key.
/// (The loader rejects overlapping ranges, so at most one ranged entry matches.)
pub fn select<'a, T>(entries: &'a [Keyed<T>], backend: Backend, version: Option<&Version>) -> Option<&'a Keyed<T>> {
    let mut matching = entries.iter().filter(|e| e.target.matches(backend, version));
    let first = matching.next()?;
    Some(if first.target.range.is_any() { matching.next().unwrap_or(first) } else { first })
}

/// An expected outcome and where the expectation comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Expected {
    /// The expected outcome; with `any_of`, the first of those allowed.
    pub outcome: Vec<Outcome>,
    /// Further outcomes allowed where the database documents that either may happen
    /// (`any_of`); empty for one expected outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Vec<Outcome>>,
    /// `None` when the expectation was measured on a real server; otherwise the vendor
    /// documentation it was taken from (for targets that cannot run here).
    pub documented: Option<String>,
}

impl Expected {
    /// Every allowed outcome, the first one first.
    pub fn allowed(&self) -> impl Iterator<Item = &Vec<Outcome>> {
        std::iter::once(&self.outcome).chain(&self.alternatives)
    }
}

impl Probe {
    /// The documentation cited for a target, if the suite cites one: its expectation's
    /// own, or the probe's `documented` entry for it.
    pub fn documented_for(&self, backend: Backend, version: Option<&Version>) -> Option<&Keyed<String>> {
        select(&self.documented, backend, version)
    }

    /// Per outcome (in order), whether its rows are compared without regard to order.
    pub fn unordered_outcomes(&self) -> Vec<bool> {
        let marked: Vec<&Step> = self.steps.iter().filter(|s| s.outcome).collect();
        match (marked.is_empty(), self.steps.last()) {
            (true, Some(last)) => vec![last.unordered],
            _ => marked.iter().map(|s| s.unordered).collect(),
        }
    }

    /// The expectation for a target. MariaDB, for which no key of its own matches, takes
    /// the bare `mysql` key's (as its SQL falls back to MySQL's); a ranged `mysql` key
    /// never applies to MariaDB, whose version numbers are its own.
    pub fn expected_for(&self, backend: Backend, version: Option<&Version>) -> Option<&Keyed<Expected>> {
        select(&self.expect, backend, version).or_else(|| {
            let related = backend.dialect().expectations_fall_back_to()?;
            self.expect.iter().find(|e| e.target.backend == related && e.target.range.is_any())
        })
    }

    pub fn undefined_for(&self, backend: Backend, version: Option<&Version>) -> Option<&str> {
        select(&self.undefined, backend, version).map(|k| k.value.as_str())
    }

    pub fn unsupported_for(&self, backend: Backend, version: Option<&Version>) -> Option<&str> {
        select(&self.unsupported, backend, version).map(|k| k.value.as_str())
    }

    pub fn not_applicable_for(&self, backend: Backend, version: Option<&Version>) -> Option<&str> {
        select(&self.not_applicable, backend, version).map(|k| k.value.as_str())
    }

    pub fn session(&self, name: &str) -> Option<&SessionSpec> {
        self.sessions.iter().find(|s| s.name == name)
    }
}

impl Claim {
    /// The part of a probe's outcome this claim is about.
    pub fn about(&self, outcome: &[Outcome]) -> Vec<Outcome> {
        let chosen: Vec<&Outcome> =
            if self.outcomes.is_empty() { outcome.iter().collect() } else { self.outcomes.iter().filter_map(|&n| outcome.get(n - 1)).collect() };
        chosen.into_iter().map(|o| o.project_columns(&self.columns)).collect()
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_falls_back_like_sql() {
        let spec = IsolationSpec { by_dialect: BTreeMap::from([("mysql".to_string(), Isolation::ReadCommitted)]) };
        assert_eq!(spec.for_backend(Backend::Mariadb), Some(Isolation::ReadCommitted));
        assert_eq!(spec.for_backend(Backend::Postgres), None);
        assert_eq!(IsolationSpec::all(Isolation::Serializable).for_backend(Backend::Oracle), Some(Isolation::Serializable));
    }
}
