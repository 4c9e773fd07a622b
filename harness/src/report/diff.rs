//! What changed between two runs: cases keyed by (probe, target), targets by id.
//!
//! A *regression* is what should fail a CI job: a case that passed before and now fails
//! or errors, or a target that ran before and now did not run (its cases silently
//! stopped being checked).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::outcome::Outcome;
use crate::result::{CaseResult, RunResults, Verdict};

use super::html::{chip, code, esc, outcome_code, Current, Shell};
use super::model::{outcome_text, verdict_reason, Model, Status};

/// A case as one run recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRef {
    pub probe: String,
    pub area: String,
    pub target: String,
    pub verdict: Verdict,
    pub outcome: Option<Vec<Outcome>>,
}

impl CaseRef {
    fn of(c: &CaseResult) -> CaseRef {
        CaseRef { probe: c.probe.clone(), area: c.area.clone(), target: c.target.clone(), verdict: c.verdict.clone(), outcome: c.outcome.clone() }
    }

    /// `area::probe::target`
    pub fn name(&self) -> String {
        format!("{}::{}::{}", self.area, self.probe, self.target)
    }
}

/// A case present in both runs, before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseChange {
    pub old: CaseRef,
    pub new: CaseRef,
}

impl CaseChange {
    pub fn name(&self) -> String {
        self.new.name()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Cases in both runs.
    pub compared: usize,
    /// Cases that fail or error now and did neither before.
    pub new_failures: Vec<CaseChange>,
    /// Cases that failed or errored before and pass now.
    pub fixed: Vec<CaseChange>,
    /// Cases whose verdict stayed the same but whose observed outcome changed.
    pub changed_outcomes: Vec<CaseChange>,
    /// Any other change of verdict (pass to not run, fail to error, ...).
    pub other_changes: Vec<CaseChange>,
    pub added_cases: Vec<CaseRef>,
    pub removed_cases: Vec<CaseRef>,
    pub added_targets: Vec<String>,
    /// Targets the old results list and the new ones do not.
    pub removed_targets: Vec<String>,
    /// Targets that ran before and did not run now (listed as not run, or gone).
    pub lost_targets: Vec<String>,
    /// Targets that did not run before (or were not listed) and ran now.
    pub gained_targets: Vec<String>,
}

/// Compares two runs case by case ((probe, target) pairs) and target by target.
pub fn compare(old: &RunResults, new: &RunResults) -> Diff {
    let mut diff = Diff::default();

    let index = |r: &RunResults| -> HashMap<(String, String), CaseResult> {
        let mut m = HashMap::new();
        for c in &r.cases {
            m.entry((c.probe.clone(), c.target.clone())).or_insert_with(|| c.clone());
        }
        m
    };
    let old_cases = index(old);
    let new_cases = index(new);

    let mut seen = HashSet::new();
    for c in &new.cases {
        let key = (c.probe.clone(), c.target.clone());
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(before) = old_cases.get(&key) else {
            diff.added_cases.push(CaseRef::of(c));
            continue;
        };
        diff.compared += 1;
        let change = CaseChange { old: CaseRef::of(before), new: CaseRef::of(c) };
        let (was, is) = (Status::of(&before.verdict), Status::of(&c.verdict));
        if !before.verdict.is_failure() && c.verdict.is_failure() {
            diff.new_failures.push(change);
        } else if before.verdict.is_failure() && is == Status::Pass {
            diff.fixed.push(change);
        } else if was != is {
            diff.other_changes.push(change);
        } else if before.outcome != c.outcome {
            diff.changed_outcomes.push(change);
        }
    }
    let mut seen = HashSet::new();
    for c in &old.cases {
        let key = (c.probe.clone(), c.target.clone());
        if seen.insert(key.clone()) && !new_cases.contains_key(&key) {
            diff.removed_cases.push(CaseRef::of(c));
        }
    }

    let ran = |r: &RunResults, id: &str| r.targets.iter().find(|t| t.id == id).map(|t| t.not_run.is_none());
    let mut seen = HashSet::new();
    for t in new.targets.iter().filter(|t| seen.insert(t.id.as_str())) {
        match ran(old, &t.id) {
            None => diff.added_targets.push(t.id.clone()),
            Some(true) if t.not_run.is_some() => diff.lost_targets.push(t.id.clone()),
            _ => {}
        }
        if t.not_run.is_none() && ran(old, &t.id) != Some(true) {
            diff.gained_targets.push(t.id.clone());
        }
    }
    let mut seen = HashSet::new();
    for t in old.targets.iter().filter(|t| seen.insert(t.id.as_str())) {
        if ran(new, &t.id).is_none() {
            diff.removed_targets.push(t.id.clone());
            if t.not_run.is_none() {
                diff.lost_targets.push(t.id.clone());
            }
        }
    }
    diff
}

fn describe(c: &CaseRef) -> String {
    match (&c.outcome, verdict_reason(&c.verdict)) {
        (Some(o), _) => format!("{} {}", c.verdict.label(), outcome_text(o)),
        (None, Some(reason)) => format!("{} ({reason})", c.verdict.label()),
        (None, None) => c.verdict.label().to_string(),
    }
}

impl Diff {
    /// A case that passed and now fails or errors, or a target that stopped running.
    pub fn is_regression(&self) -> bool {
        self.new_failures.iter().any(|c| c.old.verdict == Verdict::Pass) || !self.lost_targets.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.new_failures.is_empty()
            && self.fixed.is_empty()
            && self.changed_outcomes.is_empty()
            && self.other_changes.is_empty()
            && self.added_cases.is_empty()
            && self.removed_cases.is_empty()
            && self.added_targets.is_empty()
            && self.removed_targets.is_empty()
            && self.lost_targets.is_empty()
            && self.gained_targets.is_empty()
    }

    /// One line of counts, naming only what changed.
    pub fn headline(&self) -> String {
        if self.is_empty() {
            return format!("no changes in {} cases compared", self.compared);
        }
        let parts: Vec<String> = [
            (self.new_failures.len(), "new failure", "new failures"),
            (self.fixed.len(), "fixed", "fixed"),
            (self.changed_outcomes.len(), "changed outcome", "changed outcomes"),
            (self.other_changes.len(), "other verdict change", "other verdict changes"),
            (self.added_cases.len(), "case added", "cases added"),
            (self.removed_cases.len(), "case removed", "cases removed"),
            (self.added_targets.len(), "target added", "targets added"),
            (self.removed_targets.len(), "target removed", "targets removed"),
            (self.lost_targets.len(), "target stopped running", "targets stopped running"),
            (self.gained_targets.len(), "target started running", "targets started running"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
        format!("{} cases compared: {}", self.compared, parts.join(", "))
    }

    /// Plain text for a terminal or a CI log, one case per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if self.is_regression() {
            out.push_str("REGRESSION: ");
        }
        out.push_str(&self.headline());
        out.push('\n');
        let changes = |out: &mut String, title: &str, list: &[CaseChange]| {
            if list.is_empty() {
                return;
            }
            let _ = writeln!(out, "\n{title} ({}):", list.len());
            for c in list {
                let _ = writeln!(out, "  {}: {} -> {}", c.name(), describe(&c.old), describe(&c.new));
            }
        };
        changes(&mut out, "New failures", &self.new_failures);
        changes(&mut out, "Fixed", &self.fixed);
        changes(&mut out, "Changed outcomes", &self.changed_outcomes);
        changes(&mut out, "Other verdict changes", &self.other_changes);
        let cases = |out: &mut String, title: &str, list: &[CaseRef]| {
            if list.is_empty() {
                return;
            }
            let _ = writeln!(out, "\n{title} ({}):", list.len());
            for c in list {
                let _ = writeln!(out, "  {}: {}", c.name(), describe(c));
            }
        };
        cases(&mut out, "Cases added", &self.added_cases);
        cases(&mut out, "Cases removed", &self.removed_cases);
        let targets = |out: &mut String, title: &str, list: &[String]| {
            if !list.is_empty() {
                let _ = writeln!(out, "\n{title}: {}", list.join(", "));
            }
        };
        targets(&mut out, "Targets added", &self.added_targets);
        targets(&mut out, "Targets removed", &self.removed_targets);
        targets(&mut out, "Targets that ran before and did not run now", &self.lost_targets);
        targets(&mut out, "Targets that run now and did not before", &self.gained_targets);
        out
    }
}

/// `diff.html`: the same content as [`Diff::to_text`], with links to the probe pages.
pub(crate) fn render(diff: &Diff, model: &Model, shell: &Shell) -> String {
    let mut body = String::from("<h1>Changes since the previous run</h1>\n");
    let _ = writeln!(
        body,
        "<p class=\"lead\">{}{}</p>",
        if diff.is_regression() { "<span class=\"chip fail\">✗ regression</span> " } else { "" },
        esc(&diff.headline())
    );
    let link = |c: &CaseRef| -> String {
        let name = esc(&c.name());
        if model.case(&c.probe, &c.target).is_some() {
            format!("<a class=\"mono\" href=\"{}#{}\">{name}</a>", model.names.probe_page(&c.probe), model.names.target_anchor(&c.target))
        } else {
            format!("<span class=\"mono\">{name}</span>")
        }
    };
    let side = |c: &CaseRef| format!("{} {}", chip(Status::of(&c.verdict)), outcome_code(c.outcome.as_deref()));
    for (title, id, list) in [
        ("New failures", "new-failures", &diff.new_failures),
        ("Fixed", "fixed", &diff.fixed),
        ("Changed outcomes", "changed-outcomes", &diff.changed_outcomes),
        ("Other verdict changes", "other-changes", &diff.other_changes),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(body, "<h2 id=\"{id}\">{title} ({})</h2>\n<table class=\"data\"><thead><tr><th>case</th><th>before</th><th>now</th></tr></thead><tbody>", list.len());
        for c in list.iter() {
            let _ = write!(body, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", link(&c.new), side(&c.old), side(&c.new));
        }
        body.push_str("</tbody></table>\n");
    }
    for (title, id, list) in [("Cases added", "added", &diff.added_cases), ("Cases removed", "removed", &diff.removed_cases)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(body, "<h2 id=\"{id}\">{title} ({})</h2>\n<table class=\"data\"><thead><tr><th>case</th><th>verdict</th></tr></thead><tbody>", list.len());
        for c in list.iter() {
            let _ = write!(body, "<tr><td>{}</td><td>{}</td></tr>", link(c), side(c));
        }
        body.push_str("</tbody></table>\n");
    }
    for (title, list) in [
        ("Targets added", &diff.added_targets),
        ("Targets removed", &diff.removed_targets),
        ("Targets that ran before and did not run now", &diff.lost_targets),
        ("Targets that run now and did not before", &diff.gained_targets),
    ] {
        if !list.is_empty() {
            let ids: Vec<String> = list.iter().map(|t| code(t)).collect();
            let _ = writeln!(body, "<h2>{title}</h2><p>{}</p>", ids.join(", "));
        }
    }
    if diff.is_empty() {
        body.push_str("<p class=\"muted\">Nothing changed.</p>\n");
    }
    shell.page(Current::Diff, "Changes since the previous run", &body)
}
