//! The page "Django's feature flags against the servers" (`django-flags.html`).
//!
//! A probe with `[probe.django]` measures the capability one of Django's feature flags
//! claims. For every release the suite names and every target, the page sets the flag's
//! value at that server version (from the suite's reading of Django's code) beside what
//! the server did: capable when its outcome matches the probe's `capable`. A target that
//! did not run is read from its documented expectation and marked so; a version the
//! release does not support is shown but never counted as a disagreement.

use std::fmt::Write as _;

use crate::backends::Backend;
use crate::result::{CaseResult, FlagRecord, ReleaseValues, Verdict};
use crate::suite::FrameworkRelease;

use super::html::{esc, Current, Shell};
use super::model::{outcome_text, range_label, Model, TargetView};

/// What one server did, as far as the flag is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reading {
    /// `None` when the case says nothing (not run without documentation, an error, ...).
    pub capable: Option<bool>,
    /// Taken from the vendor's documentation, not measured.
    pub documented: bool,
    /// The outcome, or why there is none.
    pub note: String,
}

/// How Django's value and the server's capability compare on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agreement {
    Agree,
    /// Django says no; the server can.
    Conservative,
    /// Django says yes; the server cannot.
    Permissive,
    /// The release does not support this server version.
    Unsupported,
    /// No value, or no reading.
    Unknown,
}

impl Agreement {
    fn class(self) -> &'static str {
        match self {
            Agreement::Agree => "fl-agree",
            Agreement::Conservative => "fl-conservative",
            Agreement::Permissive => "fl-permissive",
            Agreement::Unsupported => "fl-unsupported",
            Agreement::Unknown => "fl-unknown",
        }
    }

    fn is_disagreement(self) -> bool {
        matches!(self, Agreement::Conservative | Agreement::Permissive)
    }
}

pub(crate) fn compare(django: Option<bool>, supported: bool, reading: &Reading) -> Agreement {
    match (django, reading.capable) {
        _ if !supported => Agreement::Unsupported,
        (Some(d), Some(m)) if d == m => Agreement::Agree,
        (Some(false), Some(true)) => Agreement::Conservative,
        (Some(true), Some(false)) => Agreement::Permissive,
        _ => Agreement::Unknown,
    }
}

/// The reading of one case.
pub(crate) fn read(flag: &FlagRecord, case: Option<&CaseResult>) -> Reading {
    let none = |note: &str| Reading { capable: None, documented: false, note: note.to_string() };
    let Some(case) = case else { return none("not in this run") };
    match (&case.verdict, &case.outcome) {
        (Verdict::NotRun { reason }, _) => match (&case.expected, &case.expectation_documented) {
            (Some(expected), Some(_)) => Reading { capable: Some(flag.capable(expected)), documented: true, note: outcome_text(expected) },
            _ => none(&format!("not run: {reason}")),
        },
        (Verdict::NotApplicable { reason }, _) => none(&format!("not applicable: {reason}")),
        (Verdict::Unsupported { reason }, _) => none(&format!("not supported by dbcompat: {reason}")),
        (Verdict::Error { reason }, _) => none(&format!("error: {reason}")),
        (Verdict::Flaky { reason }, _) => none(&format!("flaky: {reason}")),
        (_, Some(outcome)) => Reading { capable: Some(flag.capable(outcome)), documented: false, note: outcome_text(outcome) },
        (_, None) => none("no outcome"),
    }
}

/// One cell: a flag, a release and a target.
struct Cell {
    django: Option<bool>,
    reading: Reading,
    agreement: Agreement,
}

/// A flag probe and its cells, per release, per target.
struct Row<'a> {
    probe: &'a str,
    flag: &'a FlagRecord,
    cells: Vec<Vec<Cell>>,
}

impl Row<'_> {
    fn disagreements(&self) -> usize {
        self.cells.iter().flatten().filter(|c| c.agreement.is_disagreement()).count()
    }
}

/// Targets of the backends Django has a backend for.
fn targets<'m>(model: &'m Model) -> Vec<&'m TargetView> {
    model.targets.iter().filter(|t| t.backend().dialect().django_module().is_some()).collect()
}

fn rows<'a>(model: &'a Model<'a>, releases: &[FrameworkRelease], targets: &[&TargetView]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row> = model
        .probes
        .iter()
        .filter_map(|p| Some((p.id, p.record.and_then(|r| r.django.as_ref())?)))
        .map(|(probe, flag)| {
            let cells = releases
                .iter()
                .map(|release| {
                    let values = flag.says.iter().find(|r| r.release.version == release.version);
                    targets
                        .iter()
                        .map(|t| {
                            let django = values.and_then(|v| flag.value(v, t.backend(), t.version.as_ref()));
                            let supported = release.supports(t.backend(), t.version.as_ref());
                            let reading = read(flag, model.case(probe, t.id()));
                            let agreement = compare(django, supported, &reading);
                            Cell { django, reading, agreement }
                        })
                        .collect()
                })
                .collect();
            Row { probe, flag, cells }
        })
        .collect();
    // Disagreements first, then the suite's order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.disagreements().min(1)));
    rows
}

/// The releases the flag probes name, in the suite's order.
fn releases(model: &Model) -> Vec<FrameworkRelease> {
    let mut out: Vec<FrameworkRelease> = Vec::new();
    for values in model.probes.iter().filter_map(|p| p.record.and_then(|r| r.django.as_ref())).flat_map(|f| &f.says) {
        if !out.iter().any(|r| r.version == values.release.version) {
            out.push(values.release.clone());
        }
    }
    out
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

pub(crate) fn render(model: &Model, shell: &Shell) -> String {
    let releases = releases(model);
    let targets = targets(model);
    let rows = rows(model, &releases, &targets);
    let mut body = String::with_capacity(64 * 1024);
    body.push_str("<h1>Django's feature flags against the servers</h1>\n<p class=\"lead\">Django keeps a table of what each database version can do (<code>DatabaseFeatures</code> in each backend's <code>features.py</code>, a flag a backend does not set taking <code>base/features.py</code>'s default). Each probe of the <code>django_features</code> area measures the capability one flag claims; here Django's value at each server's version stands beside what the server did. <em>Too conservative</em>: Django says no, the server can. <em>Too permissive</em>: Django says yes, the server refuses.</p>\n");
    if rows.is_empty() {
        body.push_str("<p class=\"muted\">No probe in this run measures a framework's feature flag.</p>\n");
        return shell.page(Current::Flags, "Django's feature flags", &body);
    }
    body.push_str("<ul class=\"legend\"><li><span class=\"chip fl-agree\">agrees</span></li><li><span class=\"chip fl-conservative\">too conservative</span></li><li><span class=\"chip fl-permissive\">too permissive</span></li><li><span class=\"chip fl-unsupported\">version the release does not support</span></li><li class=\"muted\">each cell: Django's value / the server's (▸ the case's page and transcript); <em>doc</em>: the server's side taken from the vendor's documentation, not measured</li></ul>\n");
    body.push_str("<p>Releases: ");
    let described: Vec<String> = releases
        .iter()
        .map(|r| {
            let seed = r.seed.as_deref().map(|s| format!(", seed <code>{}</code>", esc(s))).unwrap_or_default();
            let minimum: Vec<String> = r.minimum.iter().map(|(b, v)| format!("{} {}", esc(b), esc(v))).collect();
            format!("<strong>Django {}</strong> ({}{seed}; supports {}+)", esc(&r.version), esc(&r.about), minimum.join(", "))
        })
        .collect();
    body.push_str(&described.join("; "));
    body.push_str(".</p>\n");
    disagreements(&mut body, model, &releases, &targets, &rows);
    for (i, release) in releases.iter().enumerate() {
        table(&mut body, model, release, i, &targets, &rows);
    }
    gates(&mut body, model, &rows);
    shell.page(Current::Flags, "Django's feature flags", &body)
}

/// Every disagreement: per flag, runs of adjacent targets of one backend that disagree
/// with the same releases in the same direction, with the suite's explanation.
fn disagreements(out: &mut String, model: &Model, releases: &[FrameworkRelease], targets: &[&TargetView], rows: &[Row]) {
    let cells: usize = rows.iter().map(Row::disagreements).sum();
    let mut lines = Vec::new();
    for row in rows.iter().filter(|r| r.disagreements() > 0) {
        // (direction, the releases that disagree, explanation, targets)
        let mut groups: Vec<(Agreement, Vec<&str>, Option<&str>, Vec<TargetView>)> = Vec::new();
        for (ti, t) in targets.iter().enumerate() {
            let disagreeing: Vec<(usize, Agreement)> = (0..releases.len()).map(|ri| (ri, row.cells[ri][ti].agreement)).filter(|(_, a)| a.is_disagreement()).collect();
            let Some(&(_, direction)) = disagreeing.first() else { continue };
            let which: Vec<&str> = disagreeing.iter().map(|(ri, _)| releases[*ri].version.as_str()).collect();
            let why = row.flag.explanation(t.backend(), t.version.as_ref());
            match groups.last_mut() {
                Some((d, w, r, ts)) if *d == direction && *w == which && *r == why && ts.last().is_some_and(|l| l.backend() == t.backend()) => ts.push((*t).clone()),
                _ => groups.push((direction, which, why, vec![(*t).clone()])),
            }
        }
        for (direction, which, why, ts) in groups {
            let (label, says) = match direction {
                Agreement::Conservative => ("too conservative", "no, the server can"),
                _ => ("too permissive", "yes, the server refuses"),
            };
            let verb = if which.len() == 1 { "says" } else { "say" };
            let first = ts.first().map(|t| t.id().to_string()).unwrap_or_default();
            let href = format!("{}#{}", model.names.probe_page(row.probe), model.names.target_anchor(&first));
            let why = match why {
                Some(w) => format!(" — {}", esc(w)),
                None => " — <strong class=\"fl-unexplained\">not explained</strong>".to_string(),
            };
            lines.push(format!(
                "<li data-flag=\"{flag}\"><code>{flag}</code> <span class=\"chip {cls}\">{label}</span> on <a href=\"{href}\">{targets}</a>: Django {rels} {verb} {says}{why}</li>",
                flag = esc(&row.flag.flag),
                cls = direction.class(),
                targets = esc(&range_label(&ts)),
                rels = esc(&list(&which)),
            ));
        }
    }
    let _ = writeln!(out, "<h2 id=\"disagreements\">Disagreements ({} flag × target × release)</h2>", cells);
    if lines.is_empty() {
        out.push_str("<p>On every target this run measured, each flag's value at that version matches what the server did.</p>\n");
        return;
    }
    out.push_str("<ul class=\"flags-disagree\">\n");
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str("</ul>\n");
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn table(out: &mut String, model: &Model, release: &FrameworkRelease, ri: usize, targets: &[&TargetView], rows: &[Row]) {
    let _ = write!(out, "<h2 id=\"r-{v}\">Django {v}</h2>\n<div class=\"scroll-x\"><table class=\"data flags\"><thead><tr><th>flag</th>", v = esc(&release.version));
    for t in targets {
        let _ = write!(out, "<th scope=\"col\" class=\"mono\" title=\"{}\">{}</th>", esc(t.id()), esc(&t.display()));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        let _ = write!(out, "<tr data-flag=\"{f}\"><th scope=\"row\" class=\"mono\"><a href=\"#g-{f}\">{f}</a></th>", f = esc(&row.flag.flag));
        for (ti, t) in targets.iter().enumerate() {
            let cell = &row.cells[ri][ti];
            let href = format!("{}#{}", model.names.probe_page(row.probe), model.names.target_anchor(t.id()));
            let doc = if cell.reading.documented { " <em>doc</em>" } else { "" };
            let title = match cell.agreement {
                Agreement::Unsupported => format!("Django {} does not support this version; {}", release.version, cell.reading.note),
                _ => cell.reading.note.clone(),
            };
            let _ = write!(
                out,
                "<td class=\"fl {}\" data-target=\"{}\"><a href=\"{href}\" title=\"{}\">{} / {}</a>{doc}</td>",
                cell.agreement.class(),
                esc(t.id()),
                esc(&title),
                yes_no(cell.django),
                yes_no(cell.reading.capable)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// What the suite read in Django's code, per flag: the claim each probe checks.
fn gates(out: &mut String, model: &Model, rows: &[Row]) {
    out.push_str("<h2 id=\"gates\">The flags and their gates</h2>\n<p class=\"muted\">Each flag as the suite reads Django's code: where it is decided, on what, and the values per release. The prediction on each side of a gate: where Django says yes the server should show the capability (the probe's <em>capable</em> outcome), where it says no it should not.</p>\n<dl class=\"gates\">\n");
    for row in rows {
        let mut files: Vec<String> = Backend::ALL.iter().filter_map(|b| b.dialect().django_module()).map(|m| format!("django/db/backends/{m}/features.py")).collect();
        files.dedup();
        let _ = write!(
            out,
            "<dt id=\"g-{f}\"><code>{f}</code> · <a href=\"{page}\">{probe}</a></dt><dd><p>{gate}</p><p class=\"muted\">capable when the outcome is {capable}; decided in {files}</p><ul>",
            f = esc(&row.flag.flag),
            page = model.names.probe_page(row.probe),
            probe = esc(row.probe),
            gate = esc(&row.flag.gate),
            capable = esc(&capable_text(row.flag)),
            files = files.iter().map(|f| format!("<code>{}</code>", esc(f))).collect::<Vec<_>>().join(", "),
        );
        for values in &row.flag.says {
            let _ = write!(out, "<li>Django {}: {}</li>", esc(&values.release.version), esc(&values_text(values)));
        }
        out.push_str("</ul></dd>\n");
    }
    out.push_str("</dl>\n");
}

fn capable_text(flag: &FlagRecord) -> String {
    flag.capable
        .iter()
        .map(|alt| alt.iter().map(|o| o.as_ref().map_or_else(|| "*".to_string(), ToString::to_string)).collect::<Vec<_>>().join(" · "))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn values_text(values: &ReleaseValues) -> String {
    values.values.iter().map(|(k, v)| format!("{k} {}", yes_no(Some(*v)))).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn flag() -> FlagRecord {
        let release = FrameworkRelease {
            version: "5.2.19".into(),
            about: "test".into(),
            seed: None,
            minimum: BTreeMap::from([("mariadb".to_string(), "10.5".to_string())]),
        };
        FlagRecord {
            flag: "has_select_for_update_skip_locked".into(),
            capable: vec![vec![Some("rows:(2)".parse().unwrap())]],
            gate: "MariaDB from 10.6".into(),
            says: vec![ReleaseValues { release, values: BTreeMap::from([("mariadb>=10.6".to_string(), true), ("mariadb<10.6".to_string(), false), ("sqlite".to_string(), false)]) }],
            explain: BTreeMap::from([("sqlite".to_string(), "why".to_string())]),
        }
    }

    #[test]
    fn the_value_follows_the_version_and_the_ranged_key() {
        let f = flag();
        let v = |s: &str| crate::version::Version::parse(s);
        assert_eq!(f.value(&f.says[0], Backend::Mariadb, v("10.11.9").as_ref()), Some(true));
        assert_eq!(f.value(&f.says[0], Backend::Mariadb, v("10.5.23").as_ref()), Some(false));
        assert_eq!(f.value(&f.says[0], Backend::Postgres, v("17.1").as_ref()), None, "no key names it");
        assert_eq!(f.explanation(Backend::Sqlite, None), Some("why"));
        assert_eq!(f.explanation(Backend::Mariadb, None), None);
    }

    #[test]
    fn a_disagreement_has_a_direction_and_unsupported_versions_are_not_counted() {
        let reading = |capable| Reading { capable: Some(capable), documented: false, note: String::new() };
        assert_eq!(compare(Some(true), true, &reading(true)), Agreement::Agree);
        assert_eq!(compare(Some(false), true, &reading(true)), Agreement::Conservative);
        assert_eq!(compare(Some(true), true, &reading(false)), Agreement::Permissive);
        assert_eq!(compare(Some(true), false, &reading(false)), Agreement::Unsupported);
        assert_eq!(compare(None, true, &reading(false)), Agreement::Unknown);
        let nothing = Reading { capable: None, documented: false, note: String::new() };
        assert_eq!(compare(Some(true), true, &nothing), Agreement::Unknown);
    }

    #[test]
    fn a_case_is_read_through_capable() {
        let f = flag();
        let mut case = CaseResult::new("p", "django_features", "s", "mariadb-11.8");
        case.verdict = Verdict::Pass;
        case.outcome = Some(vec!["rows:(2)".parse().unwrap()]);
        assert_eq!(read(&f, Some(&case)).capable, Some(true));
        case.outcome = Some(vec!["error:syntax".parse().unwrap()]);
        assert_eq!(read(&f, Some(&case)).capable, Some(false));
        case.verdict = Verdict::Error { reason: "x".into() };
        assert_eq!(read(&f, Some(&case)).capable, None, "an error says nothing about the server");
        assert_eq!(read(&f, None).capable, None);
    }
}
