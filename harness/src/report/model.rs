//! The results file arranged for rendering: targets in version order, probes grouped by
//! area, cases by (probe, target), and the status vocabulary every report shares.
//!
//! A results file is input, so nothing here assumes it is consistent: duplicate ids keep
//! their first occurrence, cases may name probes or targets the file does not list, and
//! claim indexes may point nowhere.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::outcome::Outcome;
use crate::backends::Backend;
use crate::result::{CaseResult, ProbeRecord, RunResults, TargetRecord, Verdict};
use crate::version::Version;

use super::names::Names;

/// What a report says about one case: a small fixed vocabulary, each with a colour, a
/// symbol (so it reads without colour) and a plain label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Fail,
    Error,
    /// The runs of a repeated case disagreed.
    Flaky,
    NoExpectation,
    /// Recorded, never judged: the vendor documents the behaviour as undefined.
    Undefined,
    NotApplicable,
    /// dbcompat cannot run it there: a limit of the harness, not of the database.
    Unsupported,
    NotRun,
}

impl Status {
    /// In the order summaries list them: findings first.
    pub const ALL: [Status; 9] = [
        Status::Pass,
        Status::Fail,
        Status::Error,
        Status::Flaky,
        Status::NoExpectation,
        Status::Undefined,
        Status::NotApplicable,
        Status::Unsupported,
        Status::NotRun,
    ];

    pub fn of(verdict: &Verdict) -> Status {
        match verdict {
            Verdict::Pass => Status::Pass,
            Verdict::Fail { .. } => Status::Fail,
            Verdict::NoExpectation => Status::NoExpectation,
            Verdict::Undefined { .. } => Status::Undefined,
            Verdict::NotApplicable { .. } => Status::NotApplicable,
            Verdict::Unsupported { .. } => Status::Unsupported,
            Verdict::NotRun { .. } => Status::NotRun,
            Verdict::Error { .. } => Status::Error,
            Verdict::Flaky { .. } => Status::Flaky,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Status::Pass => "✓",
            Status::Fail => "✗",
            Status::Error => "!",
            Status::Flaky => "≈",
            Status::NoExpectation => "?",
            Status::Undefined => "~",
            Status::NotApplicable => "–",
            Status::Unsupported => "⊘",
            Status::NotRun => "∅",
        }
    }

    /// What the status means, for legends and tooltips.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "as expected",
            Status::Fail => "differs from expectation",
            Status::Error => "error",
            Status::Flaky => "flaky (repeated runs disagreed)",
            Status::NoExpectation => "no expectation yet",
            Status::Undefined => "undefined by the vendor (recorded, not judged)",
            Status::NotApplicable => "not applicable",
            Status::Unsupported => "not supported by dbcompat (a limit of the harness)",
            Status::NotRun => "not run",
        }
    }

    /// A short stable name: CSS class, `data-status`, column headings.
    pub fn key(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Flaky => "flaky",
            Status::NoExpectation => "no-expectation",
            Status::Undefined => "undefined",
            Status::NotApplicable => "not-applicable",
            Status::Unsupported => "unsupported",
            Status::NotRun => "not-run",
        }
    }
}

/// Counts per status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts([usize; Status::ALL.len()]);

impl Counts {
    pub fn add(&mut self, status: Status) {
        self.0[Status::ALL.iter().position(|s| *s == status).unwrap_or(0)] += 1;
    }

    pub fn get(&self, status: Status) -> usize {
        Status::ALL.iter().position(|s| *s == status).map_or(0, |i| self.0[i])
    }
}

/// A target column: its record (or one made up for a case whose target is not listed),
/// the version it is ordered by, and how headers name it.
#[derive(Debug, Clone)]
pub(crate) struct TargetView {
    pub record: TargetRecord,
    pub version: Option<Version>,
    /// `17.2` (major.minor of what the server reported, else of the id); the id when
    /// neither has a version.
    pub version_label: String,
}

impl TargetView {
    fn new(record: TargetRecord) -> TargetView {
        let version = record.server_version.as_deref().and_then(Version::parse).or_else(|| Version::parse(&record.id));
        let version_label = version.as_ref().map_or_else(|| record.id.clone(), Version::short);
        TargetView { record, version, version_label }
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn backend(&self) -> Backend {
        self.record.backend
    }

    pub fn ran(&self) -> bool {
        self.record.not_run.is_none()
    }

    /// `postgres 17.2`, or the id when there is no version to show.
    pub fn display(&self) -> String {
        match &self.version {
            Some(_) => format!("{} {}", self.backend(), self.version_label),
            None => self.record.id.clone(),
        }
    }
}

/// `postgres 14–17` for a run of adjacent targets of one backend.
pub(crate) fn range_label(targets: &[TargetView]) -> String {
    match targets {
        [] => String::new(),
        [one] => one.display(),
        [first, .., last] => format!("{} {}–{}", first.backend(), first.version_label, last.version_label),
    }
}

/// A matrix row: the probe's record, or only its id and area when just cases name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeView<'a> {
    pub id: &'a str,
    pub area: &'a str,
    pub record: Option<&'a ProbeRecord>,
}

impl ProbeView<'_> {
    /// `area::probe`, the name a case has in `cargo test` without its target.
    pub fn qualified(&self) -> String {
        format!("{}::{}", self.area, self.id)
    }
}

/// What one (probe, target) cell shows. Two adjacent cells that are equal collapse into one.
#[derive(Debug, Clone)]
pub(crate) struct Cell<'a> {
    pub status: Option<Status>,
    pub outcome: Option<&'a [Outcome]>,
    /// What a failing case expected instead.
    pub expected: Option<&'a [Outcome]>,
    /// Why it did not run, does not apply, or failed to run.
    pub reason: Option<&'a str>,
}

impl Cell<'_> {
    /// Same status, outcome, expectation and reason: the cells say the same thing.
    pub fn same_as(&self, other: &Cell) -> bool {
        self.status == other.status && self.outcome == other.outcome && self.expected == other.expected && self.reason == other.reason
    }

    /// The one line a cell shows: the outcome, else the reason, else the status.
    pub fn text(&self) -> String {
        match (self.outcome, self.reason, self.status) {
            (Some(o), _, _) => outcome_text(o),
            (None, Some(r), _) => r.to_string(),
            (None, None, Some(s)) => s.label().to_string(),
            (None, None, None) => "not in this run".to_string(),
        }
    }
}

pub(crate) fn verdict_reason(v: &Verdict) -> Option<&str> {
    match v {
        Verdict::NotApplicable { reason } | Verdict::NotRun { reason } | Verdict::Error { reason } | Verdict::Flaky { reason } => Some(reason),
        _ => None,
    }
}

/// One line for an outcome of one or more observed steps.
pub(crate) fn outcome_text(outcome: &[Outcome]) -> String {
    if outcome.is_empty() {
        "(no outcome)".to_string()
    } else {
        crate::outcome::joined(outcome, " · ")
    }
}

/// The results, indexed and ordered once for all pages.
pub(crate) struct Model<'a> {
    pub results: &'a RunResults,
    /// Ordered by backend, then version; targets without a version last.
    pub targets: Vec<TargetView>,
    /// Grouped by area (areas in name order), in suite order within an area.
    pub probes: Vec<ProbeView<'a>>,
    pub names: Names,
    cases: HashMap<(&'a str, &'a str), &'a CaseResult>,
    /// Every case of a probe, in file order (duplicates included).
    by_probe: HashMap<&'a str, Vec<&'a CaseResult>>,
}

impl<'a> Model<'a> {
    pub fn new(results: &'a RunResults) -> Model<'a> {
        let mut cases = HashMap::new();
        let mut by_probe: HashMap<&str, Vec<&CaseResult>> = HashMap::new();
        for c in &results.cases {
            cases.entry((c.probe.as_str(), c.target.as_str())).or_insert(c);
            by_probe.entry(c.probe.as_str()).or_default().push(c);
        }

        let mut seen = HashSet::new();
        let mut targets: Vec<TargetView> = results
            .targets
            .iter()
            .filter(|t| seen.insert(t.id.as_str()))
            .map(|t| TargetView::new(t.clone()))
            .collect();
        // A case whose target the file does not list still gets a column when its id
        // names a backend (`mysql-8.0`); otherwise only the probe page shows it.
        for c in &results.cases {
            if seen.contains(c.target.as_str()) {
                continue;
            }
            let prefix = c.target.split('-').next().unwrap_or_default();
            if let Ok(backend) = prefix.parse::<Backend>() {
                seen.insert(c.target.as_str());
                targets.push(TargetView::new(TargetRecord {
                    id: c.target.clone(),
                    backend,
                    server_version: None,
                    launch: "not listed in the results file".to_string(),
                    not_run: None,
                }));
            }
        }
        targets.sort_by(|a, b| {
            (a.backend(), a.version.is_none(), &a.version, a.id()).cmp(&(b.backend(), b.version.is_none(), &b.version, b.id()))
        });

        let mut seen = HashSet::new();
        let mut probes: Vec<ProbeView> = results
            .probes
            .iter()
            .filter(|p| seen.insert(p.id.as_str()))
            .map(|p| ProbeView { id: &p.id, area: &p.area, record: Some(p) })
            .collect();
        for c in &results.cases {
            if seen.insert(c.probe.as_str()) {
                probes.push(ProbeView { id: &c.probe, area: &c.area, record: None });
            }
        }
        probes.sort_by(|a, b| a.area.cmp(b.area)); // stable: suite order within an area

        let names = Names::new(probes.iter().map(|p| p.id), targets.iter().map(|t| t.record.id.as_str()).chain(results.cases.iter().map(|c| c.target.as_str())));
        Model { results, targets, probes, names, cases, by_probe }
    }

    pub fn case(&self, probe: &str, target: &str) -> Option<&'a CaseResult> {
        self.cases.get(&(probe, target)).copied()
    }

    pub fn cell(&self, probe: &str, target: &str) -> Cell<'a> {
        match self.case(probe, target) {
            None => Cell { status: None, outcome: None, expected: None, reason: None },
            Some(c) => Cell {
                status: Some(Status::of(&c.verdict)),
                outcome: c.outcome.as_deref(),
                expected: match &c.verdict {
                    Verdict::Fail { expected, .. } => Some(expected),
                    _ => None,
                },
                reason: verdict_reason(&c.verdict),
            },
        }
    }

    /// Targets by backend, each group in version order.
    pub fn backend_groups(&self) -> Vec<(Backend, &[TargetView])> {
        self.targets.chunk_by(|a, b| a.backend() == b.backend()).filter_map(|g| Some((g.first()?.backend(), g))).collect()
    }

    pub fn areas(&self) -> Vec<(&'a str, &[ProbeView<'a>])> {
        self.probes.chunk_by(|a, b| a.area == b.area).filter_map(|g| Some((g.first()?.area, g))).collect()
    }

    pub fn target(&self, id: &str) -> Option<&TargetView> {
        self.targets.iter().find(|t| t.id() == id)
    }

    /// The cases of one probe, in column order, then any whose target has no column.
    pub fn cases_of(&self, probe: &str) -> Vec<&'a CaseResult> {
        let mut out: Vec<&CaseResult> = self.targets.iter().filter_map(|t| self.case(probe, t.id())).collect();
        let mut listed: HashSet<&str> = out.iter().map(|c| c.target.as_str()).collect();
        for c in self.by_probe.get(probe).into_iter().flatten() {
            if listed.insert(c.target.as_str()) {
                out.push(c);
            }
        }
        out
    }

    /// Counts of the cases on the given targets.
    pub fn counts(&self, targets: &[TargetView]) -> Counts {
        let ids: HashSet<&str> = targets.iter().map(|t| t.id()).collect();
        let mut counts = Counts::default();
        for p in &self.probes {
            for id in &ids {
                if let Some(c) = self.case(p.id, id) {
                    counts.add(Status::of(&c.verdict));
                }
            }
        }
        counts
    }
}

/// Maximal runs of adjacent items that `same` says are alike.
pub(crate) fn runs<T>(items: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=items.len() {
        if i == items.len() || !same(&items[start], &items[i]) {
            if start < i {
                out.push(start..i);
            }
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_adjacent_equal_items() {
        assert_eq!(runs(&[1, 1, 2, 1, 1, 1], |a, b| a == b), vec![0..2, 2..3, 3..6]);
        assert_eq!(runs::<i32>(&[], |a, b| a == b), Vec::<Range<usize>>::new());
        assert_eq!(runs(&[7], |a, b| a == b), vec![0..1]);
    }

    #[test]
    fn counts_count_each_status() {
        let mut c = Counts::default();
        c.add(Status::Fail);
        c.add(Status::Fail);
        c.add(Status::NotRun);
        assert_eq!((c.get(Status::Fail), c.get(Status::NotRun), c.get(Status::Pass)), (2, 1, 0));
    }
}
