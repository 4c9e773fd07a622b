//! A Markdown summary for a pull-request comment or a CI job summary: totals per target,
//! the failures with expected and observed, contradicted claims, and the diff.
//!
//! Everything from the results goes into code spans (which render their content
//! literally) or is backslash-escaped, so a hostile outcome cannot inject markup or
//! break a table. Lists are capped: PR comments have a size limit.

use std::fmt::Write as _;

use crate::result::{RunResults, Verdict};

use super::claims::{evaluate, finding_runs, Finding};
use super::diff::compare;
use super::model::{outcome_text, range_label, Model, Status};

const MAX_LISTED: usize = 50;
const MAX_CLAIM_TEXT: usize = 280;
const MAX_DIFF_LINES: usize = 200;

/// Inline code that shows `text` literally, also inside a table cell.
fn md_code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ").replace('|', "\\|");
    // The fence must be longer than any run of backticks inside.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Plain text with every character Markdown (or HTML inside it) could act on escaped.
fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn cut(text: &str, max: usize) -> String {
    super::html::truncate(text, max)
}

/// The summary as GitHub-flavoured Markdown; with `previous`, the changes since that run.
pub fn markdown_summary(results: &RunResults, previous: Option<&RunResults>) -> String {
    let model = Model::new(results);
    let mut out = String::from("## dbcompat results\n\n");
    let tally = results.tally();
    let ran = model.targets.iter().filter(|t| t.ran()).count();
    let _ = writeln!(
        out,
        "{} cases on {} targets ({} ran): ✓ {} as expected · ✗ {} differ from expectation · ! {} error{} · ? {} without expectation{} · – {} not applicable{} · ∅ {} not run\n",
        results.cases.len(),
        model.targets.len(),
        ran,
        tally.pass,
        tally.fail,
        tally.error,
        if tally.error == 1 { "" } else { "s" },
        tally.no_expectation,
        if tally.undefined > 0 { format!(" · ~ {} undefined (recorded, not judged)", tally.undefined) } else { String::new() },
        tally.not_applicable,
        if tally.unsupported > 0 { format!(" · ⊘ {} not supported by dbcompat", tally.unsupported) } else { String::new() },
        tally.not_run
    );

    out.push_str("| target | server | ✓ pass | ✗ fail | ! error | ? no expectation | – n/a | ⊘ unsupported | ∅ not run |\n");
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for t in &model.targets {
        let counts = model.counts(std::slice::from_ref(t));
        let server = match (&t.record.server_version, &t.record.not_run) {
            (_, Some(reason)) => format!("not run: {}", md_text(&cut(reason, 120))),
            (Some(v), None) => md_text(&cut(v, 60)),
            (None, None) => String::new(),
        };
        let _ = write!(out, "| {} | {server} |", md_code(t.id()));
        for s in [Status::Pass, Status::Fail, Status::Error, Status::NoExpectation, Status::NotApplicable, Status::Unsupported, Status::NotRun] {
            let _ = write!(out, " {} |", counts.get(s));
        }
        out.push('\n');
    }

    let failures: Vec<_> = results.cases.iter().filter(|c| matches!(c.verdict, Verdict::Fail { .. })).collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\n### ✗ Differs from expectation ({})\n", failures.len());
        out.push_str("| case | target | expected | observed |\n|---|---|---|---|\n");
        for c in failures.iter().take(MAX_LISTED) {
            if let Verdict::Fail { expected, observed } = &c.verdict {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    md_code(&format!("{}::{}", c.area, c.probe)),
                    md_code(&c.target),
                    md_code(&cut(&outcome_text(expected), 200)),
                    md_code(&cut(&outcome_text(observed), 200))
                );
            }
        }
        more(&mut out, failures.len());
    }

    let errors: Vec<_> = results.cases.iter().filter(|c| matches!(c.verdict, Verdict::Error { .. } | Verdict::Flaky { .. })).collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\n### ! Errors ({})\n", errors.len());
        out.push_str("| case | target | reason |\n|---|---|---|\n");
        for c in errors.iter().take(MAX_LISTED) {
            if let Verdict::Error { reason } | Verdict::Flaky { reason } = &c.verdict {
                let _ = writeln!(out, "| {} | {} | {} |", md_code(&format!("{}::{}", c.area, c.probe)), md_code(&c.target), md_text(&cut(reason, 300)));
            }
        }
        more(&mut out, errors.len());
    }

    let contradicted: Vec<_> = evaluate(&model).into_iter().filter(|r| r.overall() == Finding::Contradicted).collect();
    if !contradicted.is_empty() {
        let _ = writeln!(out, "\n### Contradicted documentation claims ({})\n", contradicted.len());
        for r in contradicted.iter().take(MAX_LISTED) {
            let _ = writeln!(
                out,
                "- {} claim {}, {} § {}: “{}”",
                md_code(&r.probe.qualified()),
                r.index + 1,
                md_text(&r.claim.source),
                md_text(&r.claim.section),
                md_text(&cut(&r.claim.text, MAX_CLAIM_TEXT))
            );
            for run in finding_runs(&model.targets, r).iter().filter(|f| f.finding.finding == Finding::Contradicted) {
                let _ = writeln!(
                    out,
                    "  - {}: predicted {}, observed {}",
                    md_text(&range_label(run.targets)),
                    md_code(&run.finding.predicted.map(outcome_text).unwrap_or_default()),
                    md_code(&run.finding.observed.map(outcome_text).unwrap_or_else(|| "nothing".to_string()))
                );
            }
        }
        more(&mut out, contradicted.len());
    }

    if let Some(previous) = previous {
        let diff = compare(previous, results);
        out.push_str("\n### Changes since the previous run\n\n");
        if diff.is_regression() {
            out.push_str("**Regression**: a case that passed now fails, or a target that ran no longer does.\n\n");
        }
        let text = diff.to_text();
        let mut lines: Vec<&str> = text.lines().collect();
        let hidden = lines.len().saturating_sub(MAX_DIFF_LINES);
        lines.truncate(MAX_DIFF_LINES);
        let body = lines.join("\n");
        let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        let _ = writeln!(out, "{fence}text\n{body}\n{fence}");
        if hidden > 0 {
            let _ = writeln!(out, "\n… {hidden} more lines");
        }
    }
    out
}

fn more(out: &mut String, total: usize) {
    if total > MAX_LISTED {
        let _ = writeln!(out, "\n… and {} more", total - MAX_LISTED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(md_code("rows:(1)"), "`rows:(1)`");
        assert_eq!(md_code("a`b"), "``a`b``");
        assert_eq!(md_code("`x`"), "`` `x` ``");
        assert_eq!(md_code("a|b"), "`a\\|b`");
        assert_eq!(md_code("a\nb"), "`a b`");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(md_text("<script>*x*</script>"), "\\<script\\>\\*x\\*\\</script\\>");
    }
}
