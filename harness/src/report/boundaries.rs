//! Where a probe's behaviour changes between versions of one backend, as measured, and
//! the version boundaries its expectations and claims document, checked against that.
//!
//! A measured change lies between two consecutive measured versions whose behaviour
//! differs: "changed between 10.5.29 and 10.11.19", never "since 10.11", because nothing
//! between them was measured. A `dbcompat bisect` finding recorded in the results file
//! narrows it. A documented boundary is a bound of a version-ranged selector
//! (`mariadb<10.6`, `sqlite>=3.35`) in the probe's expectations or a claim's predictions,
//! where what they expect on either side differs.

use crate::backends::Backend;
use crate::outcome::Outcome;
use crate::result::{BisectRecord, CaseResult, ProbeRecord};
use crate::suite::Selector;
use crate::version::{Version, VersionRange};

use super::model::{outcome_text, runs, Cell, Model, Status, TargetView};

/// What a cell says about the server's behaviour, as opposed to the harness: the observed
/// outcome, or that the probe does not apply. Errors and unrun cases say nothing.
pub(crate) fn behaviour(cell: &Cell) -> Option<String> {
    match cell.status? {
        Status::Pass | Status::Fail | Status::NoExpectation | Status::Undefined => cell.outcome.map(outcome_text),
        Status::NotApplicable => Some("not applicable".to_string()),
        Status::Error | Status::Flaky | Status::NotRun | Status::Unsupported => None,
    }
}

/// One measured version: its full version (`10.5.29`) and its behaviour.
#[derive(Debug, Clone)]
pub(crate) struct Point<'a> {
    pub target: &'a TargetView,
    pub version: String,
    pub behaviour: String,
}

/// The measured versions of one backend, oldest first (targets come in version order).
pub(crate) fn points<'a>(targets: &'a [TargetView], cells: &[Cell]) -> Vec<Point<'a>> {
    targets
        .iter()
        .zip(cells)
        .filter_map(|(t, c)| {
            let version = t.version.as_ref().map_or_else(|| t.version_label.clone(), ToString::to_string);
            Some(Point { target: t, version, behaviour: behaviour(c)? })
        })
        .collect()
}

/// A change between two measured versions, narrowed by a bisection where one lies
/// inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub last_old: String,
    pub first_new: String,
    pub old: String,
    pub new: String,
    pub narrowed: Option<Narrowed>,
}

/// What a bisection adds to a change: the narrower interval and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Narrowed {
    pub last_old: String,
    pub first_new: String,
    pub versions_run: usize,
    pub versions_listed: usize,
    pub monotone: bool,
}

impl Change {
    /// The tightest interval known: the bisection's, else the run's.
    pub fn interval(&self) -> (&str, &str) {
        match &self.narrowed {
            Some(n) => (&n.last_old, &n.first_new),
            None => (&self.last_old, &self.first_new),
        }
    }
}

/// Behaviour `(version, behaviour)` in version order, as runs of one behaviour:
/// (behaviour, first version, last version).
pub(crate) fn segments<T: AsRef<str>>(items: &[(T, String)]) -> Vec<(String, String, String)> {
    runs(items, |a, b| a.1 == b.1)
        .into_iter()
        .filter_map(|r| {
            let (first, last) = (items.get(r.start)?, items.get(r.end - 1)?);
            Some((first.1.clone(), first.0.as_ref().to_string(), last.0.as_ref().to_string()))
        })
        .collect()
}

/// Every change between consecutive segments, then what bisections of this probe and
/// backend found outside them (a change before the oldest or after the newest version
/// measured, or between two versions that behave alike).
pub(crate) fn changes(points: &[Point], bisections: &[&BisectRecord]) -> Vec<Change> {
    let items: Vec<(&str, String)> = points.iter().map(|p| (p.version.as_str(), p.behaviour.clone())).collect();
    let segs = segments(&items);
    let mut used = vec![false; bisections.len()];
    let mut out: Vec<Change> = segs
        .windows(2)
        .map(|w| {
            let (old, new) = (&w[0], &w[1]);
            let inside = bisections.iter().position(|b| within(b, &old.2, &new.1));
            if let Some(i) = inside {
                used[i] = true;
            }
            Change { last_old: old.2.clone(), first_new: new.1.clone(), old: old.0.clone(), new: new.0.clone(), narrowed: inside.map(|i| narrowed(bisections[i])) }
        })
        .collect();
    for (b, _) in bisections.iter().zip(&used).filter(|(_, used)| !**used) {
        if let (Some(a), Some(z)) = (&b.last_old, &b.first_new) {
            out.push(Change {
                last_old: a.version.clone(),
                first_new: z.version.clone(),
                old: b.old_outcome.clone(),
                new: b.new_outcome.clone(),
                narrowed: Some(narrowed(b)),
            });
        }
    }
    out
}

fn narrowed(b: &BisectRecord) -> Narrowed {
    let v = |x: &Option<crate::result::BisectedVersion>| x.as_ref().map_or_else(String::new, |x| x.version.clone());
    Narrowed { last_old: v(&b.last_old), first_new: v(&b.first_new), versions_run: b.versions_run, versions_listed: b.versions_listed, monotone: b.monotone }
}

/// Whether a bisection's interval lies inside `lo`..`hi` (inclusive).
fn within(b: &BisectRecord, lo: &str, hi: &str) -> bool {
    let parse = |s: &str| Version::parse(s);
    match (b.last_old.as_ref().and_then(|v| parse(&v.version)), b.first_new.as_ref().and_then(|v| parse(&v.version)), parse(lo), parse(hi)) {
        (Some(a), Some(z), Some(lo), Some(hi)) => lo <= a && z <= hi,
        _ => false,
    }
}

/// The bisections recorded for one probe and backend.
pub(crate) fn bisections_of<'a>(model: &Model<'a>, probe: &str, backend: Backend) -> Vec<&'a BisectRecord> {
    model.results.bisections.iter().filter(|b| b.probe == probe && b.backend == backend).collect()
}

/// Where a documented boundary comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Expectation,
    /// Index into the probe's claims.
    Claim(usize),
}

/// A documented boundary against the measurements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Measured on both sides, and the behaviour changes there as documented.
    Agrees { last_old: String, first_new: String },
    /// Measured on both sides, and both behave alike: the documented change is not there.
    Contradicted { last_old: String, first_new: String, behaviour: String },
    /// The run measured one side only (or none); what a bisection found, if any.
    OneSide { measured: String, bisected: Option<(String, String, bool)> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Documented {
    pub backend: Backend,
    /// The selector as written (`mariadb<10.6`) and the bound it documents (`<10.6`).
    pub selector: String,
    pub edge: String,
    pub origin: Origin,
    pub verdict: Verdict,
}

/// Every documented boundary of a probe on one backend, each checked against the
/// measured versions (and, where the run measured one side only, the bisections).
pub(crate) fn documented<'c>(record: &ProbeRecord, backend: Backend, points: &[Point], cases: impl Fn(&str) -> Option<&'c CaseResult>, bisections: &[&BisectRecord]) -> Vec<Documented> {
    let mut selectors: Vec<(&str, Origin)> = record.expect.keys().map(|k| (k.as_str(), Origin::Expectation)).collect();
    for (i, claim) in record.claims.iter().enumerate() {
        selectors.extend(claim.predicts.keys().map(|k| (k.as_str(), Origin::Claim(i))));
    }
    let mut out: Vec<Documented> = Vec::new();
    for (text, origin) in selectors {
        // A variant's key (`mysql[serializable]`) documents a boundary of that variant
        // only, which is a probe of its own in the results.
        let Ok(selector) = Selector::parse(text) else { continue };
        if selector.backend != backend {
            continue;
        }
        for (_, edge) in selector.range.edges() {
            let documented_here = |a: &Point, b: &Point| {
                let said = |p: &Point| -> Option<Vec<Outcome>> {
                    let case = cases(p.target.id())?;
                    match origin {
                        Origin::Expectation => case.expected.clone(),
                        Origin::Claim(i) => case.claims.iter().find(|c| c.claim == i).map(|c| c.predicted.clone()),
                    }
                };
                matches!((said(a), said(b)), (Some(x), Some(y)) if x != y)
            };
            let side = |p: &Point| Version::parse(&p.version).map(|v| edge.contains(&v));
            let straddle = points.windows(2).find(|w| matches!((side(&w[0]), side(&w[1])), (Some(x), Some(y)) if x != y));
            let verdict = match straddle {
                Some([a, b]) if !documented_here(a, b) => continue,
                Some([a, b]) if a.behaviour != b.behaviour => Verdict::Agrees { last_old: a.version.clone(), first_new: b.version.clone() },
                Some([a, b]) => Verdict::Contradicted { last_old: a.version.clone(), first_new: b.version.clone(), behaviour: a.behaviour.clone() },
                _ => Verdict::OneSide { measured: one_side(points, &edge), bisected: bisected_across(bisections, &edge) },
            };
            let item = Documented { backend, selector: text.to_string(), edge: edge.to_string(), origin, verdict };
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    out
}

fn one_side(points: &[Point], edge: &VersionRange) -> String {
    let inside = points.iter().filter(|p| Version::parse(&p.version).is_some_and(|v| edge.contains(&v))).count();
    match (inside, points.len() - inside) {
        (0, 0) => "no version measured".to_string(),
        (_, 0) => format!("only versions {edge} measured"),
        (0, _) => format!("no version {edge} measured"),
        _ => "measured on both sides, but not on consecutive versions".to_string(),
    }
}

/// A bisection's interval, and whether it straddles the bound.
fn bisected_across(bisections: &[&BisectRecord], edge: &VersionRange) -> Option<(String, String, bool)> {
    bisections.iter().find_map(|b| {
        let (a, z) = (b.last_old.as_ref()?, b.first_new.as_ref()?);
        let side = |s: &str| Version::parse(s).map(|v| edge.contains(&v));
        Some((a.version.clone(), z.version.clone(), side(&a.version) != side(&z.version)))
    })
}

/// Every documented boundary of every probe and backend in the run, for the claims page.
pub(crate) fn all_documented(model: &Model) -> Vec<(String, Documented)> {
    let mut out = Vec::new();
    for probe in &model.probes {
        let Some(record) = probe.record else { continue };
        for (backend, targets) in model.backend_groups() {
            let cells: Vec<Cell> = targets.iter().map(|t| model.cell(probe.id, t.id())).collect();
            let pts = points(targets, &cells);
            let bis = bisections_of(model, probe.id, backend);
            for d in documented(record, backend, &pts, |target| model.case(probe.id, target), &bis) {
                out.push((probe.id.to_string(), d));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::BisectedVersion;

    fn bisection(old: &str, new: &str) -> BisectRecord {
        let v = |s: &str| Some(BisectedVersion { version: s.into(), source_version: String::new() });
        BisectRecord {
            probe: "p".into(),
            backend: Backend::Sqlite,
            source: String::new(),
            last_old: v(old),
            first_new: v(new),
            old_outcome: "error:syntax".into(),
            new_outcome: "ok".into(),
            monotone: true,
            versions_run: 6,
            versions_listed: 40,
        }
    }

    fn target(version: &str) -> TargetView {
        TargetView {
            record: crate::targets::TargetRecord { id: format!("sqlite-{version}"), backend: Backend::Sqlite, server_version: Some(version.into()), launch: String::new(), not_run: None },
            version: Version::parse(version),
            version_label: version.into(),
        }
    }

    fn pts<'a>(targets: &'a [TargetView], behaviours: &[&str]) -> Vec<Point<'a>> {
        targets.iter().zip(behaviours).map(|(t, b)| Point { target: t, version: t.version_label.clone(), behaviour: (*b).to_string() }).collect()
    }

    #[test]
    fn a_change_lies_between_the_last_old_and_the_first_new_version() {
        let t = [target("3.31.1"), target("3.34.0"), target("3.35.4"), target("3.46.0")];
        let c = changes(&pts(&t, &["error:syntax", "error:syntax", "ok", "ok"]), &[]);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].last_old.as_str(), c[0].first_new.as_str(), c[0].interval()), ("3.34.0", "3.35.4", ("3.34.0", "3.35.4")));
    }

    #[test]
    fn a_bisection_inside_the_interval_narrows_it_and_one_outside_is_a_change_of_its_own() {
        let t = [target("3.31.1"), target("3.34.0"), target("3.35.4")];
        let p = pts(&t, &["error:syntax", "error:syntax", "ok"]);
        let inside = bisection("3.34.1", "3.35.0");
        let c = changes(&p, &[&inside]);
        assert_eq!(c[0].interval(), ("3.34.1", "3.35.0"));
        let before = bisection("3.24.0", "3.25.0");
        let c = changes(&p, &[&before]);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].interval(), ("3.24.0", "3.25.0"));
    }
}
