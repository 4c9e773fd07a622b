//! `anomalies.html`: which isolation anomalies each backend's levels prevent, and how.
//!
//! Rows are backend × version × level, columns the anomalies of Adya's classification as
//! Hermitage tests them. Nothing here knows what a backend does: every cell is derived
//! from the typed outcomes of the probes that carry an `anomaly` record (the suite's
//! `anomaly = { name, occurs, read_only }`). An outcome that matches one of the probe's
//! `occurs` alternatives means the anomaly happened; any other outcome means it was
//! prevented, and the outcome says how: the first error among the observed steps (and
//! whether that step had waited for a lock), else a COMMIT answered with ROLLBACK, else a
//! step that waited, else nothing at all (the reads simply did not see the other write).
//! A column with several probes (PMP, G-single, G2) is "prevented" only when every probe
//! was, "prevented only for read-only transactions" when every read-only probe was and
//! only probes whose transaction also writes showed the anomaly.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::backends::Backend;
use crate::outcome::{Answer, ErrorClass, Isolation, Outcome, SaidKind};
use crate::result::{AnomalyRecord, CaseResult, Verdict};
use crate::suite::ANOMALIES;

use super::html::{esc, Current, Shell};
use super::model::{outcome_text, Model, TargetView};

/// SQLite's default variant: its BEGIN is BEGIN DEFERRED and its default journal mode is
/// DELETE (a rollback journal).
const SQLITE_DEFAULT: &str = "deferred delete";

/// How a level kept an anomaly from happening in one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// A step was refused with this error class; `waited` when it had waited for a lock.
    Error { class: ErrorClass, waited: bool },
    /// A COMMIT was answered with ROLLBACK (the transaction had failed).
    Rollback,
    /// A step waited for the other transaction's lock and then ran after it.
    Blocked,
    /// Nothing waited or failed: the reads did not see the other transaction's writes.
    Neither,
}

impl How {
    pub fn text(self) -> String {
        match self {
            How::Error { class, waited: true } => format!("error:{class} after waiting"),
            How::Error { class, waited: false } => format!("error:{class}"),
            How::Rollback => "COMMIT rolled back".to_string(),
            How::Blocked => "blocked until the other committed".to_string(),
            How::Neither => "no wait, no error".to_string(),
        }
    }
}

/// What one probe's outcome says about its anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finding {
    Occurs,
    Prevented(How),
}

/// The probe's anomaly happened, or how it was prevented.
pub(crate) fn classify(anomaly: &AnomalyRecord, outcome: &[Outcome]) -> Finding {
    if crate::outcome::matches_pattern(&anomaly.occurs, outcome) {
        return Finding::Occurs;
    }
    let error = outcome.iter().find_map(|o| match o {
        Outcome::Answered(r) | Outcome::BlockedThen(r) => match r.answer {
            Answer::Error(class) => Some(How::Error { class, waited: matches!(o, Outcome::BlockedThen(_)) }),
            _ => None,
        },
        _ => None,
    });
    let rollback = outcome
        .iter()
        .filter_map(Outcome::reply)
        .any(|r| r.said.iter().any(|s| s.kind == SaidKind::Tag && s.code.eq_ignore_ascii_case("ROLLBACK")));
    let waited = outcome.iter().any(|o| matches!(o, Outcome::BlockedThen(_) | Outcome::Blocked));
    Finding::Prevented(match (error, rollback, waited) {
        (Some(e), _, _) => e,
        (None, true, _) => How::Rollback,
        (None, false, true) => How::Blocked,
        (None, false, false) => How::Neither,
    })
}

/// One probe of one cell.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    /// The case's probe id (the variant's).
    pub probe: &'a str,
    /// The probe id written in the suite.
    pub base: &'a str,
    pub target: &'a str,
    pub read_only: bool,
    /// `None` when the case gave no outcome to judge (an error, flaky, not run).
    pub finding: Option<Finding>,
    /// The finding comes from the documented expectation of a target that did not run.
    pub documented: bool,
    pub note: Option<String>,
}

/// What a cell says, from its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Summary {
    Prevented(Vec<How>),
    /// Every read-only probe was prevented; only probes that also write showed it.
    PreventedReadOnly(Vec<How>),
    Occurs,
    /// Some probes showed it, others (not just the read-only ones) did not.
    Some { occurs: usize, of: usize },
    NotMeasured,
}

impl Summary {
    pub fn label(&self) -> String {
        match self {
            Summary::Prevented(_) => "prevented".to_string(),
            Summary::PreventedReadOnly(_) => "prevented only for read-only transactions".to_string(),
            Summary::Occurs => "occurs".to_string(),
            Summary::Some { occurs, of } => format!("occurs in {occurs} of {of} probes"),
            Summary::NotMeasured => "not measured".to_string(),
        }
    }

    fn class(&self) -> &'static str {
        match self {
            Summary::Prevented(_) => "an-prevented",
            Summary::PreventedReadOnly(_) => "an-ro",
            Summary::Occurs => "an-occurs",
            Summary::Some { .. } => "an-some",
            Summary::NotMeasured => "an-none",
        }
    }

    /// The label and how, in one line: what the version comparison compares.
    pub fn text(&self) -> String {
        match self {
            Summary::Prevented(h) | Summary::PreventedReadOnly(h) if !h.is_empty() => {
                format!("{} ({})", self.label(), h.iter().map(|h| h.text()).collect::<Vec<_>>().join("; "))
            }
            _ => self.label(),
        }
    }
}

pub(crate) fn summarize(entries: &[Entry]) -> Summary {
    let judged: Vec<(&Entry, Finding)> = entries.iter().filter_map(|e| Some((e, e.finding?))).collect();
    if judged.is_empty() {
        return Summary::NotMeasured;
    }
    let mut hows: Vec<How> = Vec::new();
    for (_, f) in &judged {
        if let Finding::Prevented(h) = f {
            if !hows.contains(h) {
                hows.push(*h);
            }
        }
    }
    let occurs = judged.iter().filter(|(_, f)| *f == Finding::Occurs).count();
    if occurs == 0 {
        return Summary::Prevented(hows);
    }
    if occurs == judged.len() {
        return Summary::Occurs;
    }
    let read_only_prevented = judged.iter().any(|(e, _)| e.read_only) && judged.iter().all(|(e, f)| !e.read_only || *f != Finding::Occurs);
    if read_only_prevented {
        let hows = judged
            .iter()
            .filter(|(e, _)| e.read_only)
            .filter_map(|(_, f)| match f {
                Finding::Prevented(h) => Some(*h),
                Finding::Occurs => None,
            })
            .fold(Vec::new(), |mut v, h| {
                if !v.contains(&h) {
                    v.push(h);
                }
                v
            });
        return Summary::PreventedReadOnly(hows);
    }
    Summary::Some { occurs, of: judged.len() }
}

/// The entry of one case, if it says something (not applicable cases say nothing).
fn entry<'a>(case: &'a CaseResult, anomaly: &'a AnomalyRecord) -> Option<Entry<'a>> {
    let base = Entry {
        probe: &case.probe,
        base: &anomaly.probe,
        target: &case.target,
        read_only: anomaly.read_only,
        finding: None,
        documented: false,
        note: None,
    };
    match (&case.verdict, &case.outcome) {
        (Verdict::NotApplicable { .. } | Verdict::Unsupported { .. }, _) => None,
        (Verdict::NotRun { .. }, _) => match (&case.expected, &case.expectation_documented) {
            (Some(expected), Some(_)) => Some(Entry { finding: Some(classify(anomaly, expected)), documented: true, note: Some(outcome_text(expected)), ..base }),
            _ => Some(Entry { note: Some("not run".to_string()), ..base }),
        },
        (Verdict::Error { .. }, _) => Some(Entry { note: Some("error".to_string()), ..base }),
        (Verdict::Flaky { .. }, _) => Some(Entry { note: Some("flaky".to_string()), ..base }),
        (_, Some(outcome)) => Some(Entry { finding: Some(classify(anomaly, outcome)), note: Some(outcome_text(outcome)), ..base }),
        (_, None) => Some(Entry { note: Some("no outcome".to_string()), ..base }),
    }
}

/// Whether `level` (an isolation level, or SQLite's transaction and journal mode) is
/// the one a backend's sessions start with.
fn is_default(backend: Backend, level: &str) -> bool {
    match Isolation::parse(level) {
        Some(l) => {
            let levels = backend.dialect().isolation_levels();
            levels.len() > 1 && levels.first() == Some(&l)
        }
        None => level == SQLITE_DEFAULT,
    }
}

/// Every cell of the page: (target, level) → anomaly → entries.
pub(crate) struct Table<'a> {
    /// Levels in the order the suites list them.
    pub levels: Vec<&'a str>,
    cells: HashMap<(String, String), HashMap<String, Vec<Entry<'a>>>>,
}

impl<'a> Table<'a> {
    pub fn new(model: &Model<'a>) -> Table<'a> {
        let mut levels: Vec<&str> = Vec::new();
        let mut cells: HashMap<(String, String), HashMap<String, Vec<Entry>>> = HashMap::new();
        for p in &model.probes {
            let Some(anomaly) = p.record.and_then(|r| r.anomaly.as_ref()) else { continue };
            let level = anomaly.level.as_deref().unwrap_or("default");
            if !levels.contains(&level) {
                levels.push(level);
            }
            for case in model.cases_of(p.id) {
                if let Some(e) = entry(case, anomaly) {
                    cells.entry((case.target.clone(), level.to_string())).or_default().entry(anomaly.name.clone()).or_default().push(e);
                }
            }
        }
        Table { levels, cells }
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn entries(&self, target: &str, level: &str, anomaly: &str) -> &[Entry<'a>] {
        self.cells.get(&(target.to_string(), level.to_string())).and_then(|m| m.get(anomaly)).map_or(&[], Vec::as_slice)
    }

    /// The levels a target has a row for.
    pub fn levels_of(&self, target: &str) -> Vec<&'a str> {
        self.levels.iter().copied().filter(|l| self.cells.contains_key(&(target.to_string(), l.to_string()))).collect()
    }
}

pub(crate) fn render(model: &Model, shell: &Shell) -> String {
    let table = Table::new(model);
    let mut body = String::with_capacity(64 * 1024);
    body.push_str("<h1>Isolation anomalies</h1>\n<p class=\"lead\">Which anomalies of Adya's classification (as Hermitage tests them) each level of each backend prevents, and how: measured by the probes of the <code>isolation_anomalies</code> area, one row per backend, version and level (★ the level a new session starts with).</p>\n");
    if table.is_empty() {
        body.push_str("<p class=\"muted\">No probe in this run tests an isolation anomaly.</p>\n");
        return shell.page(Current::Anomalies, "Isolation anomalies", &body);
    }
    body.push_str("<ul class=\"legend\"><li><span class=\"chip an-prevented\">prevented</span></li><li><span class=\"chip an-ro\">prevented only for read-only transactions</span></li><li><span class=\"chip an-some\">occurs in some probes</span></li><li><span class=\"chip an-occurs\">occurs</span></li><li class=\"muted\">each cell lists its probes (▸ the case's page and transcript) with what they showed; <em>documented</em>: taken from the vendor's documentation, not measured</li></ul>\n");
    for (backend, targets) in model.backend_groups() {
        let rows: Vec<(&TargetView, &str)> = targets.iter().flat_map(|t| table.levels_of(t.id()).into_iter().map(move |l| (t, l))).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(body, "<h2 id=\"b-{b}\">{b}</h2>\n<div class=\"scroll-x\"><table class=\"data anomalies\"><thead><tr><th>version</th><th>level</th>", b = backend.name());
        for a in ANOMALIES {
            let _ = write!(body, "<th scope=\"col\">{}</th>", esc(a));
        }
        body.push_str("</tr></thead><tbody>\n");
        for (t, level) in &rows {
            let star = if is_default(backend, level) { " <span title=\"default level\">★</span>" } else { "" };
            let _ = write!(
                body,
                "<tr data-target=\"{}\" data-level=\"{}\"><td class=\"mono\" title=\"{}\">{}</td><td>{}{star}</td>",
                esc(t.id()),
                esc(level),
                esc(t.id()),
                esc(&t.version_label),
                esc(level)
            );
            for a in ANOMALIES {
                cell(&mut body, model, table.entries(t.id(), level, a), a);
            }
            body.push_str("</tr>\n");
        }
        body.push_str("</tbody></table></div>\n");
        changes(&mut body, &table, backend, targets);
    }
    shell.page(Current::Anomalies, "Isolation anomalies", &body)
}

fn cell(out: &mut String, model: &Model, entries: &[Entry], anomaly: &str) {
    let summary = summarize(entries);
    let _ = write!(out, "<td class=\"an {}\" data-anomaly=\"{}\"><span class=\"an-label\">{}</span>", summary.class(), esc(anomaly), esc(&summary.label()));
    for e in entries {
        let href = format!("{}#{}", model.names.probe_page(e.probe), model.names.target_anchor(e.target));
        let what = match e.finding {
            Some(Finding::Occurs) => "occurs".to_string(),
            Some(Finding::Prevented(h)) => h.text(),
            None => "not measured".to_string(),
        };
        let doc = if e.documented { " <em>documented</em>" } else { "" };
        let _ = write!(
            out,
            "<span class=\"an-probe\"><a href=\"{href}\" title=\"{}\">▸ {}</a> {}{doc}</span>",
            esc(e.note.as_deref().unwrap_or("")),
            esc(e.base),
            esc(&what)
        );
    }
    out.push_str("</td>");
}

/// Per level and anomaly, where the cell changes between versions of the backend.
fn changes(out: &mut String, table: &Table, backend: Backend, targets: &[TargetView]) {
    let mut lines = Vec::new();
    for level in &table.levels {
        for a in ANOMALIES {
            let measured: Vec<(&TargetView, String)> = targets
                .iter()
                .filter_map(|t| {
                    let s = summarize(table.entries(t.id(), level, a));
                    (s != Summary::NotMeasured).then(|| (t, s.text()))
                })
                .collect();
            let items: Vec<(String, String)> =
                measured.iter().map(|(t, s)| (t.version.as_ref().map_or_else(|| t.version_label.clone(), ToString::to_string), s.clone())).collect();
            let segments = super::boundaries::segments(&items);
            if segments.len() < 2 {
                continue;
            }
            let phrases: Vec<String> = segments
                .windows(2)
                .map(|w| {
                    format!(
                        "<span class=\"changed\">changed between {} and {}</span>: {} → {}",
                        esc(&w[0].2),
                        esc(&w[1].1),
                        esc(&w[0].0),
                        esc(&w[1].0)
                    )
                })
                .collect();
            lines.push(format!("<li><strong>{}</strong> · {}: {}</li>", esc(level), esc(a), phrases.join("; ")));
        }
    }
    if lines.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}: the table is the same on every measured version.</p>", backend.name());
    } else {
        let _ = writeln!(out, "<h3>Where {} changes between versions</h3><ul class=\"an-changes\">{}</ul>", backend.name(), lines.join(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(occurs: &[&[&str]], read_only: bool) -> AnomalyRecord {
        AnomalyRecord {
            name: "P4".into(),
            probe: "p".into(),
            level: Some("read committed".into()),
            occurs: occurs.iter().map(|alt| alt.iter().map(|o| if *o == "*" { None } else { Some(o.parse().unwrap()) }).collect()).collect(),
            read_only,
        }
    }

    fn outcomes(texts: &[&str]) -> Vec<Outcome> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn an_outcome_named_in_occurs_is_the_anomaly() {
        let r = record(&[&["*", "blocked, then affected:1", "ok"], &["*", "affected:1", "ok"]], false);
        assert_eq!(classify(&r, &outcomes(&["affected:1", "blocked, then affected:1", "ok"])), Finding::Occurs);
        assert_eq!(classify(&r, &outcomes(&["error:busy", "affected:1", "ok"])), Finding::Occurs);
        // A warning beside the result does not hide the anomaly; a COMMIT answered
        // ROLLBACK is no COMMIT.
        assert_eq!(classify(&r, &outcomes(&["ok", "affected:1 warning:1265", "ok"])), Finding::Occurs);
        assert_eq!(classify(&r, &outcomes(&["ok", "affected:1", "ok tag:ROLLBACK"])), Finding::Prevented(How::Rollback));
        // Fewer or more steps than `occurs` names never match.
        assert_eq!(classify(&r, &outcomes(&["affected:1", "ok"])), Finding::Prevented(How::Neither));
    }

    #[test]
    fn anything_else_is_prevented_and_says_how() {
        let r = record(&[&["*", "blocked, then affected:1", "ok"]], false);
        let how = |o: &[&str]| classify(&r, &outcomes(o));
        assert_eq!(
            how(&["affected:1", "blocked, then error:serialization_failure", "ok tag:ROLLBACK"]),
            Finding::Prevented(How::Error { class: ErrorClass::SerializationFailure, waited: true })
        );
        assert_eq!(how(&["affected:1", "error:deadlock", "ok"]), Finding::Prevented(How::Error { class: ErrorClass::Deadlock, waited: false }));
        assert_eq!(how(&["affected:1", "affected:1", "ok tag:ROLLBACK"]), Finding::Prevented(How::Rollback));
        assert_eq!(how(&["blocked, then affected:1", "affected:1", "rows:none"]), Finding::Prevented(How::Blocked));
        assert_eq!(how(&["affected:1", "affected:1", "rows:none"]), Finding::Prevented(How::Neither));
    }

    fn e(read_only: bool, finding: Option<Finding>) -> Entry<'static> {
        Entry { probe: "p", base: "p", target: "t", read_only, finding, documented: false, note: None }
    }

    #[test]
    fn a_column_of_several_probes_is_summarized() {
        let p = Some(Finding::Prevented(How::Neither));
        let o = Some(Finding::Occurs);
        assert_eq!(summarize(&[e(true, p), e(false, p)]), Summary::Prevented(vec![How::Neither]));
        assert_eq!(summarize(&[e(true, o), e(false, o)]), Summary::Occurs);
        // Hermitage's "R/O": the read-only probes prevented, a writing one shows it.
        assert_eq!(summarize(&[e(true, p), e(true, p), e(false, o)]), Summary::PreventedReadOnly(vec![How::Neither]));
        assert_eq!(summarize(&[e(true, o), e(false, p)]), Summary::Some { occurs: 1, of: 2 });
        assert_eq!(summarize(&[e(false, p), e(false, o)]), Summary::Some { occurs: 1, of: 2 });
        // Cases without an outcome say nothing; with none left the cell is not measured.
        assert_eq!(summarize(&[e(true, None), e(false, o)]), Summary::Occurs);
        assert_eq!(summarize(&[e(true, None)]), Summary::NotMeasured);
        assert_eq!(summarize(&[]), Summary::NotMeasured);
    }

    #[test]
    fn the_default_level_is_the_backends_first() {
        assert!(is_default(Backend::Postgres, "read committed"));
        assert!(!is_default(Backend::Postgres, "serializable"));
        assert!(is_default(Backend::Mysql, "repeatable read"));
        assert!(is_default(Backend::Sqlite, "deferred delete"));
        assert!(!is_default(Backend::Sqlite, "immediate wal"));
        // SQLite's one isolation level is no choice to mark.
        assert!(!is_default(Backend::Sqlite, "serializable"));
    }
}
