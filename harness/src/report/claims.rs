//! Documentation claims checked against what servers did: `claims.html`, and the claim
//! blocks of the probe pages and the Markdown summary.
//!
//! For each claim and target the finding is *confirmed*, *contradicted* (the server did
//! something else than the document says), or *not measurable here* (the claim predicts
//! nothing for that target, or the case did not run). A hedged claim ("may", "might") is
//! never contradicted by one run: what it says may happen was *consistent* with the run or
//! *not observed*. Contradicted claims are the findings of the whole exercise, so they
//! come first.

use std::fmt::Write as _;

use crate::outcome::Outcome;
use crate::result::{ClaimRecord, Verdict};

use super::html::{code, esc, outcome_code, Current, Shell};
use super::model::{outcome_text, range_label, runs, Model, ProbeView, TargetView};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Finding {
    Contradicted,
    Confirmed,
    /// A hedged claim whose possible outcome happened.
    Consistent,
    /// A hedged claim whose possible outcome did not happen in this run.
    NotObserved,
    NotMeasurable,
}

impl Finding {
    /// The finding of one check on one target.
    pub fn of(holds: bool, hedged: bool) -> Finding {
        match (holds, hedged) {
            (true, false) => Finding::Confirmed,
            (false, false) => Finding::Contradicted,
            (true, true) => Finding::Consistent,
            (false, true) => Finding::NotObserved,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Finding::Contradicted => "contradicted",
            Finding::Confirmed => "confirmed",
            Finding::Consistent => "consistent",
            Finding::NotObserved => "not-observed",
            Finding::NotMeasurable => "unmeasured",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Finding::Contradicted => "contradicted",
            Finding::Confirmed => "confirmed",
            Finding::Consistent => "consistent (hedged claim)",
            Finding::NotObserved => "not observed (hedged claim)",
            Finding::NotMeasurable => "not measurable here",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Finding::Contradicted => "✗",
            Finding::Confirmed => "✓",
            Finding::Consistent => "≈",
            Finding::NotObserved => "○",
            Finding::NotMeasurable => "–",
        }
    }
}

/// One claim on one target.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TargetFinding<'a> {
    pub finding: Finding,
    pub predicted: Option<&'a [Outcome]>,
    pub observed: Option<&'a [Outcome]>,
    /// Why it could not be measured.
    pub why: Option<&'static str>,
}

/// One claim of one probe with its finding on every target column.
pub(crate) struct ClaimReport<'a> {
    pub probe: ProbeView<'a>,
    pub index: usize,
    pub claim: &'a ClaimRecord,
    /// One per target column, in column order.
    pub findings: Vec<TargetFinding<'a>>,
}

impl ClaimReport<'_> {
    /// The most telling finding: contradicted anywhere beats confirmed anywhere.
    pub fn overall(&self) -> Finding {
        self.findings.iter().map(|f| f.finding).min().unwrap_or(Finding::NotMeasurable)
    }
}

pub(crate) fn evaluate_probe<'a>(model: &Model<'a>, probe: &ProbeView<'a>) -> Vec<ClaimReport<'a>> {
    let Some(record) = probe.record else { return Vec::new() };
    record
        .claims
        .iter()
        .enumerate()
        .map(|(index, claim)| ClaimReport {
            probe: *probe,
            index,
            claim,
            findings: model.targets.iter().map(|t| finding(model, probe.id, t.id(), index)).collect(),
        })
        .collect()
}

fn finding<'a>(model: &Model<'a>, probe: &str, target: &str, index: usize) -> TargetFinding<'a> {
    let unmeasured = |why| TargetFinding { finding: Finding::NotMeasurable, predicted: None, observed: None, why: Some(why) };
    let Some(case) = model.case(probe, target) else { return unmeasured("not in this run") };
    if let Some(check) = case.claims.iter().find(|k| k.claim == index) {
        return TargetFinding {
            finding: Finding::of(check.holds, check.hedged),
            predicted: Some(&check.predicted),
            observed: check.observed.as_deref().or(case.outcome.as_deref()),
            why: None,
        };
    }
    unmeasured(match case.verdict {
        Verdict::NotRun { .. } => "not run",
        Verdict::NotApplicable { .. } => "not applicable",
        Verdict::Error { .. } => "error",
        Verdict::Flaky { .. } => "flaky",
        _ => "no prediction",
    })
}

/// Every claim of the run, contradicted first, then confirmed, then the rest; suite order
/// within each group.
pub(crate) fn evaluate<'a>(model: &Model<'a>) -> Vec<ClaimReport<'a>> {
    let mut all: Vec<ClaimReport> = model.probes.iter().flat_map(|p| evaluate_probe(model, p)).collect();
    all.sort_by_key(ClaimReport::overall);
    all
}

/// A finding over adjacent targets of one backend.
pub(crate) struct FindingRun<'r, 'a> {
    pub targets: &'r [TargetView],
    pub finding: &'r TargetFinding<'a>,
}

/// Adjacent targets of one backend with the same finding, collapsed.
pub(crate) fn finding_runs<'r, 'a>(targets: &'r [TargetView], report: &'r ClaimReport<'a>) -> Vec<FindingRun<'r, 'a>> {
    let pairs: Vec<(&TargetView, &TargetFinding)> = targets.iter().zip(&report.findings).collect();
    runs(&pairs, |a, b| a.0.backend() == b.0.backend() && a.1 == b.1)
        .into_iter()
        .filter_map(|r| Some(FindingRun { targets: targets.get(r.clone())?, finding: report.findings.get(r.start)? }))
        .collect()
}

fn anchor(model: &Model, report: &ClaimReport) -> String {
    format!("c-{}-{}", model.names.probe_anchor(report.probe.id), report.index + 1)
}

/// A claim as a block: the quote with its source, what it predicts, and the findings.
pub(crate) fn claim_block(out: &mut String, model: &Model, report: &ClaimReport, with_probe: bool) {
    let overall = report.overall();
    let _ = write!(out, "<div class=\"claim is-{}\" id=\"{}\" data-finding=\"{}\">", overall.key(), anchor(model, report), overall.key());
    if with_probe {
        let _ = write!(
            out,
            "<h3><a href=\"{}\">{}</a> <span class=\"muted\">claim {}</span></h3>",
            model.names.probe_page(report.probe.id),
            esc(&report.probe.qualified()),
            report.index + 1
        );
    }
    let c = report.claim;
    let _ = write!(out, "<blockquote>{}<cite>{} § {}</cite></blockquote>", esc(&c.text), esc(&c.source), esc(&c.section));
    if c.predicts.is_empty() {
        out.push_str("<p class=\"muted\">The claim predicts no outcome, so no server can confirm or contradict it.</p>");
    } else {
        let predicts: Vec<String> = c.predicts.iter().map(|(sel, o)| format!("{} → {}", code(sel), code(&outcome_text(o)))).collect();
        let _ = write!(out, "<p>Predicts: {}</p>", predicts.join(", "));
    }
    out.push_str("<ul class=\"findings\">");
    let mut runs = finding_runs(&model.targets, report);
    runs.sort_by_key(|r| r.finding.finding); // contradicted first; stable keeps column order
    for run in runs.iter().filter(|r| r.finding.finding != Finding::NotMeasurable) {
        let f = run.finding;
        let _ = write!(
            out,
            "<li><span class=\"chip {}\"><span class=\"sym\" aria-hidden=\"true\">{}</span> {}</span> <b>{}</b>",
            f.finding.key(),
            f.finding.symbol(),
            f.finding.label(),
            esc(&range_label(run.targets))
        );
        match f.finding {
            Finding::Contradicted | Finding::NotObserved => {
                let _ = write!(out, " predicted {}, observed {}", outcome_code(f.predicted), outcome_code(f.observed));
            }
            _ => {
                let _ = write!(out, " {}", outcome_code(f.observed));
            }
        }
        out.push_str("</li>");
    }
    // Unmeasurable targets in one line per reason: they are context, not findings.
    let mut by_why: Vec<(&str, Vec<String>)> = Vec::new();
    for run in runs.iter().filter(|r| r.finding.finding == Finding::NotMeasurable) {
        let why = run.finding.why.unwrap_or("not measurable");
        let label = range_label(run.targets);
        match by_why.iter_mut().find(|(w, _)| *w == why) {
            Some((_, labels)) => labels.push(label),
            None => by_why.push((why, vec![label])),
        }
    }
    for (why, labels) in by_why {
        let _ = write!(
            out,
            "<li><span class=\"chip unmeasured\"><span class=\"sym\" aria-hidden=\"true\">–</span> not measurable here</span> <span class=\"muted\">{}:</span> {}</li>",
            esc(why),
            esc(&labels.join(", "))
        );
    }
    out.push_str("</ul></div>\n");
}

pub(crate) fn render(model: &Model, shell: &Shell) -> String {
    let reports = evaluate(model);
    let count = |f: Finding| reports.iter().filter(|r| r.overall() == f).count();
    let mut body = String::with_capacity(32 * 1024);
    body.push_str("<h1>Documentation claims</h1>\n<p class=\"lead\">Every claim quoted from vendor documentation, checked against what the servers did. Claims a server contradicts come first: those are the findings.</p>\n");
    let _ = writeln!(
        body,
        "<div class=\"totals\"><span class=\"chip contradicted\">✗ {} contradicted</span><span class=\"chip confirmed\">✓ {} confirmed</span><span class=\"chip consistent\">≈ {} consistent</span><span class=\"chip not-observed\">○ {} not observed</span><span class=\"chip unmeasured\">– {} not measurable here</span></div>",
        count(Finding::Contradicted),
        count(Finding::Confirmed),
        count(Finding::Consistent),
        count(Finding::NotObserved),
        count(Finding::NotMeasurable)
    );
    boundaries_section(&mut body, model);
    if reports.is_empty() {
        body.push_str("<p class=\"muted\">No probe in this run quotes a documentation claim.</p>");
    }
    for finding in [Finding::Contradicted, Finding::Confirmed, Finding::Consistent, Finding::NotObserved, Finding::NotMeasurable] {
        let group: Vec<&ClaimReport> = reports.iter().filter(|r| r.overall() == finding).collect();
        if group.is_empty() {
            continue;
        }
        let heading = match finding {
            Finding::Contradicted => "Contradicted on at least one target",
            Finding::Confirmed => "Confirmed",
            Finding::Consistent => "Hedged claims consistent with the run",
            Finding::NotObserved => "Hedged claims whose possible outcome was not observed",
            Finding::NotMeasurable => "Not measurable here",
        };
        let _ = writeln!(body, "<h2 id=\"{}\">{heading} ({})</h2>", finding.key(), group.len());
        for r in group {
            claim_block(&mut body, model, r, true);
        }
    }
    shell.page(Current::Claims, "Documentation claims", &body)
}

/// Every version boundary the expectations and claims document, against the
/// measurements: the contradicted ones listed, the others counted and listed folded.
fn boundaries_section(out: &mut String, model: &Model) {
    use super::boundaries::Verdict;
    let all = super::boundaries::all_documented(model);
    if all.is_empty() {
        return;
    }
    let is = |v: fn(&Verdict) -> bool| all.iter().filter(|(_, d)| v(&d.verdict)).count();
    let contradicted = is(|v| matches!(v, Verdict::Contradicted { .. }));
    let agrees = is(|v| matches!(v, Verdict::Agrees { .. }));
    let one_side = is(|v| matches!(v, Verdict::OneSide { .. }));
    let _ = writeln!(
        out,
        "<h2 id=\"boundaries\">Documented version boundaries</h2>\n<p>A bound of a version-ranged selector in a probe's expectations or claims (<code>mariadb&lt;10.6</code>) documents that behaviour changes there. Measured on the consecutive versions either side of it: <span class=\"chip contradicted\">✗ {contradicted} contradicted</span> <span class=\"chip confirmed\">✓ {agrees} agree</span> <span class=\"chip unmeasured\">– {one_side} measured on one side only</span></p>"
    );
    let item = |(probe, d): &(String, super::boundaries::Documented)| {
        format!("<li><a class=\"probe\" href=\"{}\">{}</a> · {}: {}</li>", model.names.probe_page(probe), esc(probe), esc(d.backend.name()), super::probe_page::documented_html(d))
    };
    let list = |v: fn(&Verdict) -> bool| all.iter().filter(|(_, d)| v(&d.verdict)).map(item).collect::<Vec<_>>().join("");
    if contradicted > 0 {
        let _ = writeln!(out, "<h3>Contradicted by the measurements</h3><ul>{}</ul>", list(|v| matches!(v, Verdict::Contradicted { .. })));
    } else {
        out.push_str("<p class=\"muted\">No documented boundary is contradicted by the measured versions.</p>\n");
    }
    for (n, title, pick) in [
        (agrees, "agree with the measurements", (|v: &Verdict| matches!(v, Verdict::Agrees { .. })) as fn(&Verdict) -> bool),
        (one_side, "are measured on one side only", |v: &Verdict| matches!(v, Verdict::OneSide { .. })),
    ] {
        if n > 0 {
            let _ = writeln!(out, "<details><summary>{n} boundaries {title}</summary><ul>{}</ul></details>", list(pick));
        }
    }
}

