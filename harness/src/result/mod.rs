//! Observations, verdicts and the results JSON.
//!
//! The results file is the contract between a run and everything downstream (reports,
//! merges, diffs): it carries a schema version and everything needed to judge a case
//! again without a server.

pub mod bisected;
pub mod merge;
pub mod probe;
pub mod verdict;
pub mod write;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::driver::{DbError, Diagnostic, Response};
use crate::outcome::Outcome;
use crate::profile::Profile;
use crate::redact;

pub use bisected::{merge_bisections, BisectRecord, BisectedVersion};
pub use probe::{AnomalyRecord, ClaimCheck, ClaimRecord, FlagRecord, ProbeRecord, ReleaseValues};
pub use verdict::{judge, Verdict};
pub use write::{write_results, ResultsFile};

/// Bumped whenever a field changes meaning or is removed.
/// Version 2: outcomes are typed (a file whose outcome text is not an outcome is
/// refused), and flaky cases have a verdict of their own. Version 1 files are read and
/// upgraded: their flaky cases were errors whose reason began "flaky: ".
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    pub schema_version: u32,
    pub dbcompat_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub host: String,
    pub settings: RunSettings,
    /// The signal that stopped the run before it finished ("SIGINT"); cases it kept
    /// from running are not run, saying so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    pub targets: Vec<TargetRecord>,
    /// What every probe in the run asks and claims, so reports need no suite files.
    pub probes: Vec<ProbeRecord>,
    pub cases: Vec<CaseResult>,
    /// What `dbcompat bisect --record` found for probes of this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bisections: Vec<BisectRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSettings {
    pub blocking_window_ms: u64,
    pub step_timeout_ms: u64,
    pub filters: Vec<String>,
    /// `K/N` when the run was one shard of a larger one.
    #[serde(default)]
    pub shard: Option<String>,
    #[serde(default = "one")]
    pub repeat: usize,
    /// The profile of every probe that names none (older files: the server's defaults).
    #[serde(default)]
    pub profile: Profile,
}

fn one() -> usize {
    1
}

pub use crate::targets::TargetRecord;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseResult {
    pub probe: String,
    pub area: String,
    pub suite: String,
    pub target: String,
    pub verdict: Verdict,
    /// What the server did, one entry per observed step; absent when the case did not run.
    pub outcome: Option<Vec<Outcome>>,
    pub expected: Option<Vec<Outcome>>,
    /// The expectation key that matched, e.g. `mysql>=8.0.1`.
    pub expectation_key: Option<String>,
    /// Set when the expectation comes from vendor documentation, not a measurement.
    pub expectation_documented: Option<String>,
    /// For each documentation claim that predicts this target's outcome: did it hold?
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<ClaimCheck>,
    /// With `--repeat`: each distinct outcome and how many runs gave it, when the runs
    /// disagreed (the verdict is then flaky).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky: Vec<OutcomeCount>,
    pub transcript: Vec<StepRecord>,
    pub duration_ms: f64,
}

impl CaseResult {
    /// A case before it runs: no outcome, expectation or transcript yet.
    pub fn new(probe: &str, area: &str, suite: &str, target: &str) -> CaseResult {
        CaseResult {
            probe: probe.to_string(),
            area: area.to_string(),
            suite: suite.to_string(),
            target: target.to_string(),
            verdict: Verdict::NoExpectation,
            outcome: None,
            expected: None,
            expectation_key: None,
            expectation_documented: None,
            claims: Vec::new(),
            flaky: Vec::new(),
            transcript: Vec::new(),
            duration_ms: 0.0,
        }
    }

    /// `area::probe::target`, the name the case has in `cargo test`.
    pub fn name(&self) -> String {
        format!("{}::{}::{}", self.area, self.probe, self.target)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCount {
    /// The outcome, or the reason when there was none.
    pub outcome: Vec<String>,
    pub runs: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Setup,
    /// A session's settings as the server reported them right after it connected.
    Session,
    /// A session profile's connection set-up (a framework's statements at connect).
    Profile,
    Init,
    Sql,
    Cursor,
    Restart,
    Teardown,
}

/// One step of a case as it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based position among the probe's steps; 0 for setup, init and teardown.
    pub step: usize,
    pub kind: StepKind,
    pub session: String,
    pub statements: Vec<StatementRecord>,
    /// The step had not finished within the blocking window.
    pub blocked: bool,
    /// For a blocked step: the step after which it was seen to finish.
    pub completed_after_step: Option<usize>,
    /// Still blocked when the probe ended (or its session was needed) and cancelled.
    pub cancelled: bool,
    /// The step's observation in canonical form (see `suites/README.md`).
    pub observation: String,
    pub elapsed_ms: f64,
    /// For a session's state and its profile's set-up: the profile it connected with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

impl StepRecord {
    /// A step as it starts: nothing run, not blocked.
    pub fn new(step: usize, kind: StepKind, session: &str) -> StepRecord {
        StepRecord {
            step,
            kind,
            session: session.to_string(),
            statements: Vec::new(),
            blocked: false,
            completed_after_step: None,
            cancelled: false,
            observation: String::new(),
            elapsed_ms: 0.0,
            profile: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementRecord {
    pub sql: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DbError>,
    /// A failure that is not the server's answer (connection lost, cancelled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Warnings and notices the server sent with the result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// The server's command tag or info text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// For a restart or crash: the server's own log lines that show what happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_log: Vec<String>,
    pub elapsed_ms: f64,
}

impl StatementRecord {
    /// A statement that was run, with what the server answered and said beside it.
    pub fn new(sql: String, elapsed_ms: f64) -> StatementRecord {
        StatementRecord { sql, response: None, error: None, failure: None, diagnostics: Vec::new(), tag: None, server_log: Vec::new(), elapsed_ms }
    }
}

impl RunResults {
    /// Writes the file whole or not at all: a temporary file renamed into place.
    /// Scrubbed of secrets (see [`Self::scrubbed`]) on the way out.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(&self.scrubbed()).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    }

    /// The results with every message a driver, server or target start wrote (where a
    /// connection string or password could be echoed) passed through [`redact::text`].
    /// Outcomes, SQL and expectations are the suite's and the server's data: left as
    /// they are.
    pub fn scrubbed(&self) -> RunResults {
        let mut r = self.clone();
        let scrub = |s: &mut String| *s = redact::text(s);
        for t in &mut r.targets {
            scrub(&mut t.launch);
            t.not_run.iter_mut().for_each(scrub);
        }
        for c in &mut r.cases {
            if let Verdict::Error { reason } | Verdict::NotRun { reason } | Verdict::Flaky { reason } = &mut c.verdict {
                scrub(reason);
            }
            c.flaky.iter_mut().flat_map(|f| &mut f.outcome).for_each(scrub);
            for st in c.transcript.iter_mut().flat_map(|step| &mut step.statements) {
                st.failure.iter_mut().for_each(scrub);
                st.error.iter_mut().for_each(|e| scrub(&mut e.message));
                st.diagnostics.iter_mut().for_each(|d| scrub(&mut d.message));
                st.server_log.iter_mut().for_each(scrub);
            }
        }
        r
    }

    pub fn read(path: &Path) -> Result<RunResults, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        let version = value.get("schema_version").and_then(|v| v.as_u64());
        if version != Some(SCHEMA_VERSION as u64) && version != Some(1) {
            return Err(format!("{}: schema_version {version:?}, this dbcompat reads 1 and {SCHEMA_VERSION}", path.display()));
        }
        let mut results: RunResults = serde_json::from_value(value).map_err(|e| format!("{}: {e}", path.display()))?;
        if results.schema_version == 1 {
            results.upgrade_from_version_1();
        }
        Ok(results)
    }

    /// A version 1 file as version 2 would have written it.
    fn upgrade_from_version_1(&mut self) {
        for c in &mut self.cases {
            if let Verdict::Error { reason } = &c.verdict {
                if let Some(rest) = reason.strip_prefix("flaky: ") {
                    c.verdict = Verdict::Flaky { reason: rest.to_string() };
                }
            }
        }
        self.schema_version = SCHEMA_VERSION;
    }

    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.cases {
            match c.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Fail { .. } => t.fail += 1,
                Verdict::NoExpectation => t.no_expectation += 1,
                Verdict::Undefined { .. } => t.undefined += 1,
                Verdict::NotApplicable { .. } => t.not_applicable += 1,
                Verdict::Unsupported { .. } => t.unsupported += 1,
                Verdict::NotRun { .. } => t.not_run += 1,
                Verdict::Error { .. } => t.error += 1,
                Verdict::Flaky { .. } => t.flaky += 1,
            }
        }
        t
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub no_expectation: usize,
    /// Recorded without a verdict: documented as undefined.
    pub undefined: usize,
    pub not_applicable: usize,
    /// Not run because of a limit of dbcompat, not of the database.
    pub unsupported: usize,
    pub not_run: usize,
    pub error: usize,
    /// Runs of the case (`--repeat`) that did not agree.
    pub flaky: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed, {} errors, {} without expectation", self.pass, self.fail, self.error, self.no_expectation)?;
        if self.undefined > 0 {
            write!(f, ", {} undefined (recorded)", self.undefined)?;
        }
        if self.flaky > 0 {
            write!(f, ", {} flaky", self.flaky)?;
        }
        write!(f, ", {} not applicable", self.not_applicable)?;
        if self.unsupported > 0 {
            write!(f, ", {} not supported by dbcompat", self.unsupported)?;
        }
        write!(f, ", {} not run", self.not_run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_scrubbed_and_measured_data_kept() {
        redact::remember_url("postgres://app:ScrubbedPw@h/db");
        let mut case = CaseResult::new("p", "a", "s", "t");
        case.verdict = Verdict::Error { reason: "FATAL for ScrubbedPw".into() };
        case.outcome = Some(vec!["rows:('ScrubbedPw')".parse().unwrap()]);
        let mut step = StepRecord::new(1, StepKind::Sql, "a");
        let mut st = StatementRecord::new("SELECT 'ScrubbedPw'".into(), 1.0);
        st.failure = Some("lost postgres://app:Unknown@h/db".into());
        st.error = Some(DbError { class: crate::driver::ErrorClass::Other, code: "28P01".into(), message: "bad ScrubbedPw".into() });
        step.statements.push(st);
        case.transcript.push(step);
        let target = TargetRecord { id: "t".into(), backend: crate::backends::Backend::Postgres, server_version: None, launch: "external".into(), not_run: Some("ScrubbedPw refused".into()) };
        let settings = RunSettings { blocking_window_ms: 1, step_timeout_ms: 1, filters: vec![], shard: None, repeat: 1, profile: Default::default() };
        let run = RunResults {
            schema_version: SCHEMA_VERSION,
            dbcompat_version: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            host: String::new(),
            settings,
            interrupted: None,
            targets: vec![target],
            probes: vec![],
            cases: vec![case],
            bisections: vec![],
        };
        let clean = run.scrubbed();
        let messages = serde_json::to_string(&(&clean.targets, &clean.cases[0].verdict, &clean.cases[0].transcript[0].statements[0].failure, &clean.cases[0].transcript[0].statements[0].error)).unwrap();
        assert!(!messages.contains("ScrubbedPw") && !messages.contains("Unknown"), "{messages}");
        // What the server returned and the suite's SQL are data, not messages.
        assert_eq!(clean.cases[0].outcome, run.cases[0].outcome);
        assert_eq!(clean.cases[0].transcript[0].statements[0].sql, "SELECT 'ScrubbedPw'");
    }

    #[test]
    fn a_version_1_file_is_read_and_its_flaky_errors_become_flaky() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = RunResults {
            schema_version: 1,
            dbcompat_version: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            host: String::new(),
            settings: RunSettings { blocking_window_ms: 1, step_timeout_ms: 1, filters: vec![], shard: None, repeat: 3, profile: Default::default() },
            interrupted: None,
            targets: vec![],
            probes: vec![],
            cases: vec![CaseResult::new("p", "a", "s", "t")],
            bisections: vec![],
        };
        run.cases[0].verdict = Verdict::Error { reason: "flaky: 3 runs gave ok (2x), rows:(1) (1x)".into() };
        let path = dir.path().join("v1.json");
        std::fs::write(&path, serde_json::to_string(&run).unwrap()).unwrap();
        let read = RunResults::read(&path).unwrap();
        assert_eq!(read.schema_version, SCHEMA_VERSION);
        assert_eq!(read.cases[0].verdict, Verdict::Flaky { reason: "3 runs gave ok (2x), rows:(1) (1x)".into() });
        assert_eq!(read.tally().flaky, 1);
        run.schema_version = 7;
        std::fs::write(&path, serde_json::to_string(&run).unwrap()).unwrap();
        assert!(RunResults::read(&path).unwrap_err().contains("reads 1 and 2"));
    }

    #[test]
    fn a_results_file_whose_outcome_is_not_an_outcome_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        let mut case = serde_json::to_value(CaseResult::new("p", "a", "s", "t")).unwrap();
        case["outcome"] = serde_json::json!(["rows:('unclosed)"]);
        let run = serde_json::json!({"schema_version": 2, "dbcompat_version": "", "started_at": "", "finished_at": "", "host": "",
            "settings": {"blocking_window_ms": 1, "step_timeout_ms": 1, "filters": [], "shard": null, "repeat": 1},
            "targets": [], "probes": [], "cases": [case]});
        std::fs::write(&path, run.to_string()).unwrap();
        assert!(RunResults::read(&path).unwrap_err().contains("rows are written"));
    }
}
