//! `probe-<id>.html`: one probe in full. The question, the documentation it checks, the
//! SQL per dialect, and for every target the verdict and the transcript: which session
//! ran which statement, what the server answered, which steps blocked, and when they
//! finished or were cancelled.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::driver::Response;
use crate::result::{CaseResult, ProbeRecord, StatementRecord, StepKind, StepRecord, Verdict};

use super::backend_page::change_html;
use super::boundaries::{self, Documented};
use super::claims::{claim_block, evaluate_probe};
use super::html::{chip, code, esc, outcome_code, truncate, Current, Shell};
use super::model::{outcome_text, verdict_reason, Cell, Model, ProbeView, Status};

/// A result set this long is cut on the page (the canonical observation is complete).
const MAX_ROWS: usize = 50;
const MAX_COLUMNS: usize = 20;

pub(crate) fn render(model: &Model, shell: &Shell, probe: &ProbeView) -> String {
    let mut body = String::with_capacity(32 * 1024);
    let _ = writeln!(
        body,
        "<p class=\"meta\"><a href=\"index.html\">Matrix</a> › {}</p>\n<h1 class=\"mono\">{}</h1>",
        esc(probe.area),
        esc(probe.id)
    );
    match probe.record {
        Some(r) => {
            let _ = writeln!(body, "<p class=\"lead\">{}</p>", esc(&r.asks));
            if let Some(note) = &r.note {
                let _ = writeln!(body, "<p>{}</p>", esc(note));
            }
            let _ = writeln!(body, "<p class=\"meta\">defined at {}</p>", code(&r.defined_at));
        }
        None => body.push_str("<p class=\"muted\">The results file has cases for this probe but no record of it.</p>\n"),
    }
    let cases = model.cases_of(probe.id);
    overview(&mut body, model, &cases);
    version_boundaries(&mut body, model, probe);
    if let Some(record) = probe.record {
        let reports = evaluate_probe(model, probe);
        if !reports.is_empty() {
            body.push_str("<h2>Documentation claims</h2>\n");
            for r in &reports {
                claim_block(&mut body, model, r, false);
            }
        }
        expectations(&mut body, model, record, &cases);
        sql(&mut body, record);
    }
    body.push_str("<h2>Transcripts</h2>\n");
    if cases.is_empty() {
        body.push_str("<p class=\"muted\">No case of this probe is in the results.</p>\n");
    }
    for case in &cases {
        case_section(&mut body, model, probe.record, case);
    }
    shell.page(Current::Probe, probe.id, &body)
}

/// Every target in one table: verdict, expected, observed.
fn overview(out: &mut String, model: &Model, cases: &[&CaseResult]) {
    out.push_str("<h2>Results</h2>\n<table class=\"data\"><thead><tr><th>target</th><th>server</th><th>verdict</th><th>expected</th><th>observed</th></tr></thead><tbody>");
    for c in cases {
        let version = model.target(&c.target).and_then(|t| t.record.server_version.as_deref()).unwrap_or("");
        let _ = write!(
            out,
            "<tr data-target=\"{}\" data-status=\"{}\"><td><a class=\"mono\" href=\"#{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.target),
            Status::of(&c.verdict).key(),
            model.names.target_anchor(&c.target),
            esc(&c.target),
            esc(&truncate(version, 60)),
            chip(Status::of(&c.verdict)),
            expected_html(c),
            match verdict_reason(&c.verdict) {
                Some(reason) if c.outcome.is_none() => format!("<span class=\"muted\">{}</span>", esc(&truncate(reason, 160))),
                _ => outcome_code(c.outcome.as_deref()),
            }
        );
    }
    out.push_str("</tbody></table>\n");
}

/// Per backend: where the measured behaviour changes between versions, and each version
/// boundary the expectations and claims document, checked against that.
fn version_boundaries(out: &mut String, model: &Model, probe: &ProbeView) {
    let mut rows = String::new();
    for (backend, targets) in model.backend_groups() {
        let cells: Vec<Cell> = targets.iter().map(|t| model.cell(probe.id, t.id())).collect();
        let points = boundaries::points(targets, &cells);
        let bisections = boundaries::bisections_of(model, probe.id, backend);
        let changes = boundaries::changes(&points, &bisections);
        let documented: Vec<Documented> =
            probe.record.map(|r| boundaries::documented(r, backend, &points, |t| model.case(probe.id, t), &bisections)).unwrap_or_default();
        if points.len() < 2 && changes.is_empty() && documented.is_empty() {
            continue;
        }
        let measured = if changes.is_empty() {
            match (points.first(), points.last()) {
                (Some(a), Some(z)) if points.len() > 1 => format!("<span class=\"muted\">the same on all {} measured versions ({}–{})</span>", points.len(), esc(&a.version), esc(&z.version)),
                (Some(a), _) => format!("<span class=\"muted\">one version measured ({})</span>", esc(&a.version)),
                _ => "<span class=\"muted\">not measured</span>".to_string(),
            }
        } else {
            changes.iter().map(|c| change_html(c, 120)).collect::<Vec<_>>().join("<br>")
        };
        let doc = if documented.is_empty() {
            "<span class=\"muted\">none</span>".to_string()
        } else {
            documented.iter().map(documented_html).collect::<Vec<_>>().join("<br>")
        };
        let _ = write!(rows, "<tr><td>{}</td><td>{measured}</td><td>{doc}</td></tr>", esc(backend.name()));
    }
    if !rows.is_empty() {
        let _ = write!(
            out,
            "<h2>Where the behaviour changes</h2>\n<p class=\"meta\">Between two consecutive measured versions, narrowed by <code>dbcompat bisect</code> where it ran; a documented boundary is a bound of a version-ranged selector in the expectations or a claim.</p>\n<table class=\"data\"><thead><tr><th>backend</th><th>measured</th><th>documented boundaries</th></tr></thead><tbody>{rows}</tbody></table>\n"
        );
    }
}

/// One documented boundary and what the measurements say of it.
pub(crate) fn documented_html(d: &Documented) -> String {
    let origin = match d.origin {
        boundaries::Origin::Expectation => "expectation".to_string(),
        boundaries::Origin::Claim(i) => format!("claim {}", i + 1),
    };
    let verdict = match &d.verdict {
        boundaries::Verdict::Agrees { last_old, first_new } => {
            format!("<span class=\"chip confirmed\">✓ agrees</span> changed between {} and {}", esc(last_old), esc(first_new))
        }
        boundaries::Verdict::Contradicted { last_old, first_new, behaviour } => format!(
            "<span class=\"chip contradicted\">✗ contradicted</span> <code>{}</code> on both {} and {}",
            esc(&truncate(behaviour, 120)),
            esc(last_old),
            esc(first_new)
        ),
        boundaries::Verdict::OneSide { measured, bisected } => {
            let bis = match bisected {
                Some((a, z, true)) => format!("; bisect: changed between {} and {}, across it", esc(a), esc(z)),
                Some((a, z, false)) => format!("; bisect: changed between {} and {}, not across it", esc(a), esc(z)),
                None => String::new(),
            };
            format!("<span class=\"chip unmeasured\">– one side</span> {}{bis}", esc(measured))
        }
    };
    format!("<code>{}</code> ({origin}, bound <code>{}</code>): {verdict}", esc(&d.selector), esc(&d.edge))
}

fn expected_html(c: &CaseResult) -> String {
    match (&c.verdict, &c.expected) {
        (Verdict::Fail { expected, .. }, _) => code(&outcome_text(expected)),
        (_, Some(e)) => code(&outcome_text(e)),
        (Verdict::NoExpectation, None) => "<span class=\"muted\">none yet</span>".to_string(),
        _ => "<span class=\"muted\">—</span>".to_string(),
    }
}

/// Which targets of this run a selector covers (targets that ran, with their version).
fn measured_on(model: &Model, cases: &[&CaseResult], selector: &str) -> Vec<String> {
    let Ok(sel) = crate::suite::Selector::parse(selector) else { return Vec::new() };
    cases
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::NotRun { .. }))
        .filter_map(|c| model.target(&c.target).map(|t| (c, t)))
        .filter(|(_, t)| t.record.not_run.is_none())
        .filter(|(_, t)| sel.matches(t.record.backend, t.record.server_version.as_deref().and_then(crate::version::Version::parse).as_ref()))
        .map(|(c, _)| c.target.clone())
        .collect()
}

/// A cited source, and whether this run measured what it documents.
fn citation(model: &Model, cases: &[&CaseResult], selector: &str, source: &str) -> String {
    let measured = measured_on(model, cases, selector);
    if measured.is_empty() {
        format!(" <span class=\"muted\">documented, not measured in this run: {}</span>", esc(source))
    } else {
        format!(" <span class=\"muted\">documented: {}; measured in this run on {}</span>", esc(source), esc(&measured.join(", ")))
    }
}

fn expectations(out: &mut String, model: &Model, r: &ProbeRecord, cases: &[&CaseResult]) {
    if r.expect.is_empty() && r.not_applicable.is_empty() && r.unsupported.is_empty() {
        return;
    }
    out.push_str("<h2>Expectations</h2>\n<table class=\"data\"><thead><tr><th>target selector</th><th>expected outcome</th></tr></thead><tbody>");
    for (selector, outcome) in &r.expect {
        let mut expected = code(&outcome_text(outcome));
        for other in r.any_of.get(selector).into_iter().flatten() {
            let _ = write!(expected, " or {}", code(&outcome_text(other)));
        }
        let cited = r.documented.get(selector).map_or(String::new(), |s| citation(model, cases, selector, s));
        let _ = write!(out, "<tr><td>{}</td><td>{expected}{cited}</td></tr>", code(selector));
    }
    for (selector, source) in r.documented.iter().filter(|(s, _)| !r.expect.contains_key(*s)) {
        // The outcome is the bare key's (MariaDB: else MySQL's bare key).
        let backend = selector.split(['<', '>', '=']).next().unwrap_or(selector).trim();
        let bare = r.expect.get_key_value(backend).or_else(|| (backend == "mariadb").then(|| r.expect.get_key_value("mysql")).flatten());
        let outcome = bare.map_or(String::new(), |(key, o)| format!("{} <span class=\"muted\">(as {})</span>", code(&outcome_text(o)), code(key)));
        let _ = write!(out, "<tr><td>{}</td><td>{outcome}{}</td></tr>", code(selector), citation(model, cases, selector, source));
    }
    for (selector, reason) in &r.not_applicable {
        let _ = write!(out, "<tr><td>{}</td><td><span class=\"chip not-applicable\">– not applicable</span> {}</td></tr>", code(selector), esc(reason));
    }
    for (selector, reason) in &r.unsupported {
        let _ = write!(out, "<tr><td>{}</td><td><span class=\"chip unsupported\">⊘ not supported by dbcompat</span> {}</td></tr>", code(selector), esc(reason));
    }
    out.push_str("</tbody></table>\n");
}

fn dialect_blocks(out: &mut String, by_dialect: &BTreeMap<String, Vec<String>>) {
    for (dialect, statements) in by_dialect {
        let _ = write!(
            out,
            "<div class=\"dialect\"><span class=\"key\">{}</span><pre><code>{}</code></pre></div>",
            esc(dialect),
            esc(&statements.join(";\n"))
        );
    }
}

fn sql(out: &mut String, r: &ProbeRecord) {
    out.push_str("<h2>SQL</h2>\n<div class=\"card steps\">");
    if !r.setup.is_empty() {
        out.push_str("<h3>Setup</h3>");
        dialect_blocks(out, &r.setup);
    }
    if !r.steps.is_empty() {
        out.push_str("<h3>Steps</h3><ol>");
        for step in &r.steps {
            let _ = write!(out, "<li><span class=\"badge kind\">session {}</span> <span class=\"badge kind\">{}</span>", esc(&step.session), esc(&step.action));
            if step.outcome {
                out.push_str(" <span class=\"badge outcome\">outcome</span>");
            }
            dialect_blocks(out, &step.sql);
            out.push_str("</li>");
        }
        out.push_str("</ol>");
    }
    out.push_str("</div>\n");
}

fn case_section(out: &mut String, model: &Model, record: Option<&ProbeRecord>, c: &CaseResult) {
    let status = Status::of(&c.verdict);
    let target = model.target(&c.target);
    let compact = c.transcript.is_empty();
    let _ = write!(
        out,
        "<section class=\"target{}\" id=\"{}\" data-target=\"{}\" data-status=\"{}\"><h3><span class=\"mono\">{}</span>",
        if compact { " compact" } else { "" },
        model.names.target_anchor(&c.target),
        esc(&c.target),
        status.key(),
        esc(&c.target)
    );
    if let Some(v) = target.and_then(|t| t.record.server_version.as_deref()) {
        let _ = write!(out, " <span class=\"muted\">{}</span>", esc(&truncate(v, 80)));
    }
    let _ = write!(out, " {}", chip(status));
    if compact {
        if let Some(reason) = verdict_reason(&c.verdict) {
            let _ = write!(out, " <span class=\"muted\">{}</span>", esc(reason));
        }
        out.push_str("</h3></section>\n");
        return;
    }
    out.push_str("</h3><dl class=\"kv\">");
    let _ = write!(out, "<dt>expected</dt><dd>{}</dd>", expected_html(c));
    let _ = write!(out, "<dt>observed</dt><dd>{}</dd>", outcome_code(c.outcome.as_deref()));
    if let Some(key) = &c.expectation_key {
        let _ = write!(out, "<dt>expectation</dt><dd>{}", code(key));
        if let Some(doc) = &c.expectation_documented {
            let _ = write!(out, " <span class=\"muted\">documented, not measured: {}</span>", esc(doc));
        }
        out.push_str("</dd>");
    }
    if let Some(reason) = verdict_reason(&c.verdict) {
        let _ = write!(out, "<dt>reason</dt><dd>{}</dd>", esc(reason));
    }
    for check in &c.claims {
        let source = record.and_then(|r| r.claims.get(check.claim)).map(|k| format!("{} § {}", k.source, k.section));
        let _ = write!(
            out,
            "<dt>claim {}</dt><dd>{} {} predicted {}{}</dd>",
            check.claim.saturating_add(1),
            {
                let f = super::claims::Finding::of(check.holds, check.hedged);
                format!("<span class=\"chip {}\">{} {}</span>", f.key(), f.symbol(), f.label())
            },
            code(&check.selector),
            code(&outcome_text(&check.predicted)),
            source.map_or(String::new(), |s| format!(" <span class=\"muted\">({})</span>", esc(&s)))
        );
    }
    let _ = write!(out, "<dt>duration</dt><dd>{}</dd></dl>", ms(c.duration_ms));
    transcript(out, record, &c.transcript);
    out.push_str("</section>\n");
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// Whether the probe marks this step as (part of) the outcome; with none marked, the
/// last step is the outcome.
fn is_outcome_step(record: Option<&ProbeRecord>, step: &StepRecord) -> bool {
    let Some(r) = record else { return false };
    if step.step == 0 {
        return false;
    }
    if r.steps.iter().any(|s| s.outcome) {
        r.steps.get(step.step - 1).is_some_and(|s| s.outcome)
    } else {
        step.step == r.steps.len()
    }
}

fn transcript(out: &mut String, record: Option<&ProbeRecord>, steps: &[StepRecord]) {
    out.push_str("<table class=\"transcript\"><thead><tr><th>step</th><th>statement</th><th>result</th><th class=\"ms\">time</th></tr></thead>");
    for step in steps {
        let mut class = String::from("step");
        if step.blocked {
            class.push_str(" blocked");
        }
        if step.cancelled {
            class.push_str(" cancelled");
        }
        let _ = write!(out, "<tbody class=\"{class}\" data-step=\"{}\">", step.step);
        let rows = step.statements.len().max(1);
        let mut head = String::new();
        let label = match step.kind {
            StepKind::Setup => "setup".to_string(),
            StepKind::Init => "init".to_string(),
            StepKind::Session => "session state".to_string(),
            StepKind::Profile => "profile".to_string(),
            StepKind::Teardown => "teardown".to_string(),
            StepKind::Restart => format!("step {} · restart", step.step),
            StepKind::Cursor => format!("step {} · cursor", step.step),
            StepKind::Sql => format!("step {}", step.step),
        };
        let _ = write!(head, "<b>{}</b><br><span class=\"muted\">session</span> <span class=\"mono\">{}</span><br>", esc(&label), esc(&step.session));
        if is_outcome_step(record, step) {
            head.push_str("<span class=\"badge outcome\">outcome</span> ");
        }
        if step.blocked {
            head.push_str("<span class=\"badge blocked\">blocked</span> ");
        }
        if let Some(after) = step.completed_after_step {
            let _ = write!(head, "<span class=\"badge completed\">completed after step {after}</span> ");
        }
        if step.cancelled {
            head.push_str("<span class=\"badge cancelled\">cancelled</span> ");
        }
        let _ = write!(head, "<br><span class=\"muted\">observed</span> {}", code(&step.observation));
        let _ = write!(out, "<tr><td class=\"stepcell\" rowspan=\"{rows}\">{head}</td>");
        if step.statements.is_empty() {
            let _ = write!(out, "<td class=\"sql muted\">(no statement)</td><td></td><td class=\"ms\">{}</td></tr>", ms(step.elapsed_ms));
        }
        for (i, s) in step.statements.iter().enumerate() {
            if i > 0 {
                out.push_str("<tr>");
            }
            let _ = write!(out, "<td class=\"sql\"><pre><code>{}</code></pre></td><td>{}</td><td class=\"ms\">{}</td></tr>", esc(&s.sql), statement_result(s), ms(s.elapsed_ms));
        }
        out.push_str("</tbody>");
    }
    out.push_str("</table>\n");
}

/// What the server answered: a small table of rows, an affected count, an error with its
/// class, native code and message, or a failure of the connection or harness.
fn statement_result(s: &StatementRecord) -> String {
    let mut out = String::new();
    match &s.response {
        Some(Response::Rows { columns, rows }) => rows_table(&mut out, columns, rows),
        Some(Response::Affected { count: 0 }) => out.push_str("ok"),
        Some(Response::Affected { count }) => {
            let _ = write!(out, "affected: {count} row{}", if *count == 1 { "" } else { "s" });
        }
        None => {}
    }
    if let Some(e) = &s.error {
        let _ = write!(
            out,
            "<div class=\"errtxt\"><span class=\"cls\">error:{}</span> {} {}</div>",
            esc(e.class.name()),
            code(&e.code),
            esc(&e.message)
        );
    }
    if let Some(f) = &s.failure {
        let _ = write!(out, "<div class=\"errtxt\"><span class=\"cls\">failure</span> {}</div>", esc(f));
    }
    for d in &s.diagnostics {
        let _ = write!(out, "<div class=\"diag\"><span class=\"cls\">{}</span> {} {}</div>", esc(&d.level), code(&d.code), esc(&d.message));
    }
    if let Some(tag) = &s.tag {
        let _ = write!(out, "<div class=\"muted\">{}</div>", esc(tag));
    }
    if !s.server_log.is_empty() {
        let _ = write!(out, "<div class=\"muted\">the server's log:</div><pre class=\"log\">{}</pre>", esc(&s.server_log.join("\n")));
    }
    if out.is_empty() {
        out.push_str("<span class=\"muted\">no answer</span>");
    }
    out
}

fn rows_table(out: &mut String, columns: &[String], rows: &[Vec<String>]) {
    if rows.is_empty() {
        out.push_str("<span class=\"muted\">no rows</span>");
        if !columns.is_empty() {
            let names: Vec<&str> = columns.iter().take(MAX_COLUMNS).map(String::as_str).collect();
            let _ = write!(out, " <span class=\"muted\">(columns {})</span>", esc(&names.join(", ")));
        }
        return;
    }
    out.push_str("<table class=\"rows\">");
    if !columns.is_empty() {
        out.push_str("<tr>");
        for c in columns.iter().take(MAX_COLUMNS) {
            let _ = write!(out, "<th>{}</th>", esc(&truncate(c, 60)));
        }
        out.push_str("</tr>");
    }
    for row in rows.iter().take(MAX_ROWS) {
        out.push_str("<tr>");
        for v in row.iter().take(MAX_COLUMNS) {
            let _ = write!(out, "<td>{}</td>", esc(&truncate(v, 200)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    if rows.len() > MAX_ROWS {
        let _ = write!(out, "<span class=\"muted\">… {} more rows</span>", rows.len() - MAX_ROWS);
    }
}
