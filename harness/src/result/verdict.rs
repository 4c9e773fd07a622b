//! Comparing what a server did with what the suite expects of it.

use serde::{Deserialize, Serialize};

use crate::backends::Backend;
use crate::outcome::Outcome;
use crate::suite::Probe;
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// The outcome is the expected one.
    Pass,
    /// The outcome differs from the expectation.
    Fail { expected: Vec<Outcome>, observed: Vec<Outcome> },
    /// Observed and recorded, but no expectation covers this target yet.
    NoExpectation,
    /// Observed and recorded, never judged: the vendor documents the behaviour as
    /// undefined on this target, so any outcome is allowed and none is promised.
    Undefined { reason: String },
    /// The suite says the question does not apply to this target.
    NotApplicable { reason: String },
    /// dbcompat itself cannot run the probe on this target (a limit of the harness,
    /// not of the database).
    Unsupported { reason: String },
    /// The target could not run (no engine, no client library, ...).
    NotRun { reason: String },
    /// The harness or the server failed before an outcome could be observed.
    Error { reason: String },
    /// With `--repeat`, the runs of the case did not agree; `reason` lists each outcome
    /// and how many runs gave it.
    Flaky { reason: String },
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::NoExpectation => "no expectation",
            Verdict::Undefined { .. } => "undefined (recorded)",
            Verdict::NotApplicable { .. } => "not applicable",
            Verdict::Unsupported { .. } => "not supported by dbcompat",
            Verdict::NotRun { .. } => "not run",
            Verdict::Error { .. } => "error",
            Verdict::Flaky { .. } => "flaky",
        }
    }

    /// Whether the case counts against a run (and fails `cargo test`).
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Fail { .. } | Verdict::Error { .. } | Verdict::Flaky { .. })
    }
}

/// The verdict for an observed outcome (or a harness failure) on a target.
pub fn judge(probe: &Probe, backend: Backend, version: Option<&Version>, observed: &Result<Vec<Outcome>, String>) -> Verdict {
    let outcome = match observed {
        Ok(o) => o,
        Err(reason) => return Verdict::Error { reason: reason.clone() },
    };
    if let Some(reason) = probe.undefined_for(backend, version) {
        return Verdict::Undefined { reason: reason.to_string() };
    }
    match probe.expected_for(backend, version) {
        None => Verdict::NoExpectation,
        Some(e) if e.value.allowed().any(|allowed| same_outcome(probe, allowed, outcome)) => Verdict::Pass,
        Some(e) => Verdict::Fail { expected: e.value.outcome.clone(), observed: outcome.clone() },
    }
}

/// Equal outcomes, where rows of an outcome the probe marks `unordered` may come in any
/// order.
fn same_outcome(probe: &Probe, expected: &[Outcome], observed: &[Outcome]) -> bool {
    if expected == observed {
        return true;
    }
    let unordered = probe.unordered_outcomes();
    expected.len() == observed.len()
        && expected.iter().zip(observed).enumerate().all(|(i, (e, o))| {
            e == o || (unordered.get(i).copied().unwrap_or(false) && e.sorted_rows() == o.sorted_rows())
        })
}
