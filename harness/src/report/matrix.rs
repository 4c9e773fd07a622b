//! `index.html`: the compatibility matrix. Rows are probes grouped by area, columns are
//! targets grouped by backend in version order; adjacent versions of a backend that say
//! the same thing share one cell. The page carries no transcripts (those are on the
//! probe pages), so it stays small with hundreds of probes.

use std::fmt::Write as _;

use super::html::{breakable_id, count_chip, esc, legend, truncate, Current, Shell};
use super::model::{outcome_text, range_label, runs, Cell, Counts, Model, ProbeView, Status, TargetView};
use super::names::Names;

/// How much of an outcome a cell shows; the tooltip and the probe page have all of it.
const CELL_TEXT: usize = 26;
const TOOLTIP_PART: usize = 300;
const ASKS_TEXT: usize = 120;

pub(crate) fn render(model: &Model, shell: &Shell) -> String {
    let mut body = String::with_capacity(64 * 1024);
    let ran = model.targets.iter().filter(|t| t.ran()).count();
    let _ = writeln!(
        body,
        "<h1>Compatibility matrix</h1>\n<p class=\"meta\">{} probes in {} areas × {} targets ({} ran) · {} cases</p>",
        model.probes.len(),
        model.areas().len(),
        model.targets.len(),
        ran,
        model.results.cases.len()
    );
    summary(&mut body, model);
    body.push_str("<p>Also: <a href=\"claims.html\">documentation claims</a> · <a href=\"anomalies.html\">isolation anomalies</a> (which anomalies each backend's levels prevent, and how)</p>\n");
    body.push_str(&legend());
    matrix(&mut body, model);
    shell.page(Current::Matrix, "Compatibility matrix", &body)
}

/// One line per backend: its targets and the count of each status.
fn summary(out: &mut String, model: &Model) {
    out.push_str("<table class=\"data summary\" aria-label=\"Summary per backend\"><thead><tr><th>backend</th><th>targets</th>");
    for s in Status::ALL {
        let _ = write!(out, "<th class=\"st\" title=\"{}\">{} {}</th>", s.label(), s.symbol(), short_label(s));
    }
    out.push_str("</tr></thead><tbody>");
    let mut all = Counts::default();
    for (backend, targets) in model.backend_groups() {
        let counts = model.counts(targets);
        let ran = targets.iter().filter(|t| t.ran()).count();
        let _ = write!(
            out,
            "<tr data-backend=\"{b}\"><th><a href=\"{href}\">{b}</a></th><td>{} <span class=\"muted\">({} of {} ran)</span></td>",
            esc(&range_label(targets)),
            ran,
            targets.len(),
            b = backend.name(),
            href = Names::backend_page(backend),
        );
        for s in Status::ALL {
            let _ = write!(out, "<td class=\"num\">{}</td>", count_chip(s, counts.get(s)));
            for _ in 0..counts.get(s) {
                all.add(s);
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody><tfoot><tr><th>all</th><td></td>");
    for s in Status::ALL {
        let _ = write!(out, "<td class=\"num\">{}</td>", count_chip(s, all.get(s)));
    }
    out.push_str("</tr></tfoot></table>\n");
}

/// Column headings of the summary; the legend right below spells them out.
fn short_label(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
        Status::Flaky => "flaky",
        Status::NoExpectation => "no expectation",
        Status::Undefined => "undefined",
        Status::NotApplicable => "n/a",
        Status::Unsupported => "unsupported",
        Status::NotRun => "not run",
    }
}

fn matrix(out: &mut String, model: &Model) {
    let groups = model.backend_groups();
    out.push_str("<div class=\"matrix-wrap\"><table class=\"matrix\" aria-label=\"Compatibility matrix\">\n<thead><tr class=\"backends\"><th class=\"corner\" rowspan=\"2\" scope=\"col\">probe</th>");
    for (backend, targets) in &groups {
        let _ = write!(
            out,
            "<th class=\"bstart\" colspan=\"{}\" scope=\"colgroup\"><a href=\"{}\">{}</a></th>",
            targets.len(),
            Names::backend_page(*backend),
            backend.name()
        );
    }
    out.push_str("</tr>\n<tr class=\"versions\">");
    for (_, targets) in &groups {
        for (i, t) in targets.iter().enumerate() {
            let mut class = String::new();
            if i == 0 {
                class.push_str("bstart");
            }
            if !t.ran() {
                class.push_str(" dim");
            }
            let _ = write!(
                out,
                "<th scope=\"col\" class=\"{}\" data-target=\"{}\" title=\"{}\">{}{}</th>",
                class.trim(),
                esc(t.id()),
                esc(&target_tooltip(t)),
                esc(&truncate(&t.version_label, 16)),
                if t.ran() { "" } else { " <span aria-label=\"not run\">∅</span>" }
            );
        }
    }
    out.push_str("</tr></thead>\n");
    let columns = model.targets.len();
    for (area, probes) in model.areas() {
        let _ = writeln!(
            out,
            "<tbody><tr class=\"area\"><th scope=\"rowgroup\">{} <span class=\"n\">· {} probe{}</span></th><td colspan=\"{}\"></td></tr>",
            esc(area),
            probes.len(),
            if probes.len() == 1 { "" } else { "s" },
            columns.max(1)
        );
        for p in probes {
            row(out, model, p, &groups);
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table></div>\n");
}

fn target_tooltip(t: &TargetView) -> String {
    let mut tip = format!("{} · {}", t.id(), t.record.launch);
    match (&t.record.server_version, &t.record.not_run) {
        (_, Some(reason)) => {
            let _ = write!(tip, "\nnot run: {reason}");
        }
        (Some(v), None) => {
            let _ = write!(tip, "\nserver: {v}");
        }
        (None, None) => {}
    }
    truncate(&tip, TOOLTIP_PART * 2)
}

fn row(out: &mut String, model: &Model, probe: &ProbeView, groups: &[(crate::backends::Backend, &[TargetView])]) {
    let page = model.names.probe_page(probe.id);
    let asks = probe.record.map_or("", |r| r.asks.as_str());
    let _ = write!(
        out,
        "<tr data-probe=\"{}\"><th scope=\"row\"><a class=\"probe\" href=\"{page}\">{}</a><span class=\"asks\" title=\"{}\">{}</span></th>",
        esc(probe.id),
        breakable_id(probe.id),
        esc(&truncate(asks, TOOLTIP_PART * 2)),
        esc(&truncate(asks, ASKS_TEXT)),
    );
    for (_, targets) in groups {
        let cells: Vec<Cell> = targets.iter().map(|t| model.cell(probe.id, t.id())).collect();
        for (n, run) in runs(&cells, |a, b| a.same_as(b)).into_iter().enumerate() {
            let span = &targets[run.clone()];
            let (Some(first), Some(cell)) = (span.first(), cells.get(run.start)) else { continue };
            let href = format!("{page}#{}", model.names.target_anchor(first.id()));
            cell_html(out, cell, span, &href, n == 0, CELL_TEXT);
        }
    }
    out.push_str("</tr>\n");
}

/// One (possibly spanning) cell: symbol, version range, the start of the outcome, and all
/// of it in the tooltip. Shared with the backend pages.
pub(crate) fn cell_html(out: &mut String, cell: &Cell, span: &[TargetView], href: &str, group_start: bool, text_limit: usize) {
    let (class, key) = cell.status.map_or(("none", "none"), |s| (s.key(), s.key()));
    let ids: Vec<&str> = span.iter().map(|t| t.id()).collect();
    let _ = write!(
        out,
        "<td class=\"c {class}{}\"{} data-status=\"{key}\" data-targets=\"{}\" title=\"{}\"><a href=\"{href}\">",
        if group_start { " bstart" } else { "" },
        if span.len() > 1 { format!(" colspan=\"{}\"", span.len()) } else { String::new() },
        esc(&ids.join(" ")),
        esc(&cell_tooltip(cell, span)),
    );
    match cell.status {
        Some(s) => {
            let _ = write!(out, "<span class=\"sym\">{}</span>", s.symbol());
        }
        None => out.push_str("<span class=\"sym\">·</span>"),
    }
    if span.len() > 1 {
        // Only the versions: the column group already names the backend.
        let (first, last) = (&span[0].version_label, &span[span.len() - 1].version_label);
        let _ = write!(out, " <span class=\"rng\">{}–{}</span>", esc(&truncate(first, 12)), esc(&truncate(last, 12)));
    }
    let shown = match cell.status {
        Some(Status::Pass | Status::Fail | Status::NoExpectation) => cell.outcome.map(|_| cell.text()),
        Some(Status::Error) => Some("error".to_string()),
        _ => None,
    };
    if let Some(text) = shown {
        let _ = write!(out, " <span class=\"o\">{}</span>", esc(&truncate(&text, text_limit)));
    }
    out.push_str("</a></td>");
}

fn cell_tooltip(cell: &Cell, span: &[TargetView]) -> String {
    let mut tip = range_label(span);
    match cell.status {
        None => tip.push_str(": not in this run"),
        Some(s) => {
            let _ = write!(tip, ": {}", s.label());
        }
    }
    if let Some(o) = cell.outcome {
        let _ = write!(tip, "\nobserved: {}", truncate(&outcome_text(o), TOOLTIP_PART));
    }
    if let Some(expected) = cell.expected {
        let _ = write!(tip, "\nexpected: {}", truncate(&outcome_text(expected), TOOLTIP_PART));
    }
    if let Some(reason) = cell.reason {
        let _ = write!(tip, "\n{}", truncate(reason, TOOLTIP_PART));
    }
    tip
}
