//! `backend-<name>.html`: the feature report of one backend. Every area, every probe's
//! outcome on each version, and where the behaviour changes between versions, in words
//! ("… until 10.6; … since 10.11").

use std::fmt::Write as _;

use crate::backends::Backend;

use super::html::{breakable_id, count_chip, esc, legend, truncate, Current, Shell};
use super::matrix::cell_html;
use super::model::{outcome_text, runs, Cell, Model, Status, TargetView};

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
            let _ = writeln!(body, "<td class=\"changes bstart\">{}</td></tr>", changes_html(targets, &cells));
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

/// What a cell says about the server's behaviour, as opposed to the harness: the observed
/// outcome, or that the probe does not apply. Errors and unrun cases say nothing.
fn behaviour(cell: &Cell) -> Option<String> {
    match cell.status? {
        Status::Pass | Status::Fail | Status::NoExpectation | Status::Undefined => cell.outcome.map(outcome_text),
        Status::NotApplicable => Some("not applicable".to_string()),
        Status::Error | Status::Flaky | Status::NotRun | Status::Unsupported => None,
    }
}

/// How the behaviour changes with the version, in words; `None` when nothing was measured.
pub(crate) fn version_changes(targets: &[TargetView], cells: &[Cell]) -> Option<VersionChanges> {
    let measured: Vec<(&TargetView, String)> =
        targets.iter().zip(cells).filter_map(|(t, c)| Some((t, behaviour(c)?))).collect();
    let segments: Vec<(String, &str, &str)> = runs(&measured, |a, b| a.1 == b.1)
        .into_iter()
        .filter_map(|r| {
            let first = measured.get(r.start)?;
            let last = measured.get(r.end - 1)?;
            Some((first.1.clone(), first.0.version_label.as_str(), last.0.version_label.as_str()))
        })
        .collect();
    match segments.as_slice() {
        [] => None,
        [_] => Some(VersionChanges::Same { versions: measured.len() }),
        _ => {
            let last = segments.len() - 1;
            let phrases = segments
                .iter()
                .enumerate()
                .map(|(i, (b, from, to))| {
                    let when = if i == 0 {
                        format!("until {to}")
                    } else if i == last {
                        format!("since {from}")
                    } else if from == to {
                        format!("in {from}")
                    } else {
                        format!("in {from}–{to}")
                    };
                    (b.clone(), when)
                })
                .collect();
            Some(VersionChanges::Changes(phrases))
        }
    }
}

pub(crate) enum VersionChanges {
    /// One behaviour on every measured version.
    Same { versions: usize },
    /// (behaviour, `until 10.6` / `in 10.11–11.4` / `since 11.8`), oldest first.
    Changes(Vec<(String, String)>),
}

fn changes_html(targets: &[TargetView], cells: &[Cell]) -> String {
    match version_changes(targets, cells) {
        None => "<span class=\"muted\">not measured</span>".to_string(),
        Some(VersionChanges::Same { versions: 1 }) => "<span class=\"muted\">one version measured</span>".to_string(),
        Some(VersionChanges::Same { versions }) => format!("<span class=\"muted\">same on all {versions} measured versions</span>"),
        Some(VersionChanges::Changes(phrases)) => {
            let parts: Vec<String> = phrases
                .iter()
                .map(|(b, when)| format!("<code>{}</code> <span class=\"changed\">{}</span>", esc(&truncate(b, CELL_TEXT)), esc(when)))
                .collect();
            parts.join("; ")
        }
    }
}
