//! `backend-<name>.html`: the feature report of one backend. Every area, every probe's
//! outcome on each version, and where the behaviour changes between versions, in words
//! ("changed between 10.6.21 and 10.11.19: … → …").

use std::fmt::Write as _;

use crate::backends::Backend;

use super::html::{breakable_id, count_chip, esc, legend, truncate, Current, Shell};
use super::matrix::cell_html;
use super::boundaries;
use super::model::{runs, Cell, Model, Status, TargetView};

/// Outcomes are shown whole here (the page has a handful of columns), within reason.
const CELL_TEXT: usize = 80;

pub(crate) fn render(model: &Model, shell: &Shell, backend: Backend, targets: &[TargetView]) -> String {
    let mut body = String::with_capacity(32 * 1024);
    let _ = writeln!(
        body,
        "<h1>{b}</h1>\n<p class=\"lead\">What {b} does, probe by probe, on each version of it in this run, and where that changes between versions.</p>",
        b = backend.name()
    );
    targets_table(&mut body, model, targets);
    body.push_str(&legend());
    for (area, probes) in model.areas() {
        let _ = write!(body, "<h2>{}</h2>\n<div class=\"scroll-x\"><table class=\"matrix features\"><thead><tr><th class=\"corner\" scope=\"col\">probe</th>", esc(area));
        for (i, t) in targets.iter().enumerate() {
            let _ = write!(
                body,
                "<th scope=\"col\" class=\"{}\" title=\"{}\">{}</th>",
                if i == 0 { "bstart" } else { "" },
                esc(t.id()),
                esc(&t.version_label)
            );
        }
        body.push_str("<th scope=\"col\" class=\"bstart\">across versions</th></tr></thead>\n<tbody>");
        for p in probes {
            let page = model.names.probe_page(p.id);
            let asks = p.record.map_or("", |r| r.asks.as_str());
            let _ = write!(
                body,
                "<tr id=\"{}\" data-probe=\"{}\"><th scope=\"row\"><a class=\"probe\" href=\"{page}\">{}</a><span class=\"asks\">{}</span></th>",
                model.names.probe_anchor(p.id),
                esc(p.id),
                breakable_id(p.id),
                esc(&truncate(asks, 240))
            );
            let cells: Vec<Cell> = targets.iter().map(|t| model.cell(p.id, t.id())).collect();
            for (n, run) in runs(&cells, |a, b| a.same_as(b)).into_iter().enumerate() {
                let span = &targets[run.clone()];
                let (Some(first), Some(cell)) = (span.first(), cells.get(run.start)) else { continue };
                let href = format!("{page}#{}", model.names.target_anchor(first.id()));
                cell_html(&mut body, cell, span, &href, n == 0, CELL_TEXT);
            }
            let _ = writeln!(body, "<td class=\"changes bstart\">{}</td></tr>", changes_html(model, p.id, backend, targets, &cells));
        }
        body.push_str("</tbody></table></div>\n");
    }
    shell.page(Current::Backend(backend), &format!("{} feature report", backend.name()), &body)
}

fn targets_table(out: &mut String, model: &Model, targets: &[TargetView]) {
    out.push_str("<table class=\"data\"><thead><tr><th>target</th><th>server version</th><th>launch</th><th>cases</th></tr></thead><tbody>");
    for t in targets {
        let version = match (&t.record.server_version, &t.record.not_run) {
            (_, Some(reason)) => format!("<span class=\"chip not-run\">∅ not run</span> <span class=\"muted\">{}</span>", esc(reason)),
            (Some(v), None) => esc(v),
            (None, None) => "<span class=\"muted\">unknown</span>".to_string(),
        };
        let counts = model.counts(std::slice::from_ref(t));
        let chips: Vec<String> = Status::ALL.iter().filter(|s| counts.get(**s) > 0).map(|s| count_chip(*s, counts.get(*s))).collect();
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{version}</td><td>{}</td><td>{}</td></tr>",
            esc(t.id()),
            esc(&t.record.launch),
            chips.join(" ")
        );
    }
    out.push_str("</tbody></table>\n");
}

fn changes_html(model: &Model, probe: &str, backend: Backend, targets: &[TargetView], cells: &[Cell]) -> String {
    let points = boundaries::points(targets, cells);
    let changes = boundaries::changes(&points, &boundaries::bisections_of(model, probe, backend));
    if changes.is_empty() {
        return match points.len() {
            0 => "<span class=\"muted\">not measured</span>".to_string(),
            1 => "<span class=\"muted\">one version measured</span>".to_string(),
            n => format!("<span class=\"muted\">same on all {n} measured versions</span>"),
        };
    }
    changes.iter().map(|c| change_html(c, CELL_TEXT)).collect::<Vec<_>>().join("; ")
}

/// `changed between 10.5.29 and 10.11.19: old → new`, with the bisection's narrower
/// interval where there is one.
pub(crate) fn change_html(c: &boundaries::Change, width: usize) -> String {
    let (lo, hi) = c.interval();
    let how = match &c.narrowed {
        Some(n) => format!(
            " <span class=\"muted\">(bisect: {} of {} versions run{})</span>",
            n.versions_run,
            n.versions_listed,
            if n.monotone { "" } else { "; not monotone" }
        ),
        None => String::new(),
    };
    format!(
        "<span class=\"changed\">changed between {} and {}</span>{how}: <code>{}</code> → <code>{}</code>",
        esc(lo),
        esc(hi),
        esc(&truncate(&c.old, width)),
        esc(&truncate(&c.new, width))
    )
}
