//! Reading suite files into [`Suite`]s, reporting every problem with its location.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use toml::de::DeValue;

use super::model::*;
use super::template::Template;
use crate::backend::{is_dialect_key, Backend};
use crate::source::reader::{Located, Reader, Table, Value};
use crate::source::{Diagnostic, Diagnostics, SourceFile};

/// The most rows one `fetch` may ask for; more is a typo, not a probe.
pub const MAX_FETCH: u64 = 1_000_000;

/// Placeholders the interpreter fills in itself.
pub const BUILTIN_PLACEHOLDERS: &[&str] = &["namespace"];

/// Loads every `*.toml` file in a directory (sorted by name), in parallel.
pub fn load_dir(dir: &Path) -> Result<Vec<Suite>, Diagnostics> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Diagnostics(vec![Diagnostic::unlocated(dir, format!("cannot read the suites directory: {e}"))])
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    load_files(&paths)
}

/// Loads the given files; probe ids must be unique across all of them.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<Suite>, Diagnostics> {
    let loaded: Vec<(Option<Suite>, Diagnostics)> = paths
        .par_iter()
        .map(|path| match SourceFile::read(path) {
            Ok(file) => {
                let (suite, diags) = parse(&file);
                (Some(suite), diags)
            }
            Err(d) => (None, Diagnostics(vec![d])),
        })
        .collect();
    let mut diags = Diagnostics::default();
    let mut suites = Vec::new();
    for (suite, d) in loaded {
        diags.extend(d);
        suites.extend(suite);
    }
    let mut seen: HashMap<&str, (&Path, usize)> = HashMap::new();
    for probe in suites.iter().flat_map(|s| &s.probes) {
        if let Some((path, line)) = seen.insert(&probe.id, (&probe.file, probe.line)) {
            let mut d = Diagnostic::unlocated(&probe.file, format!(
                "duplicate probe id `{}` (first defined at {}:{line})",
                probe.id,
                path.display()
            ));
            d.line = probe.line;
            d.column = 1;
            diags.push(d.expected("a probe id used once across all suites"));
        }
    }
    if diags.is_empty() { Ok(suites) } else { Err(diags.sorted()) }
}

/// Parses one suite file. The suite holds the probes that were valid; the diagnostics
/// name everything that was not.
pub fn parse(file: &SourceFile) -> (Suite, Diagnostics) {
    let reader = Reader::new(file);
    let doc = reader.parse();
    let mut top = reader.table(doc.get_ref(), doc.span(), "the suite file");
    let default_area = top.str("area");
    let snippets = Arc::new(top.get("snippets").map(|v| read_snippets(&reader, v)).unwrap_or_default());
    let probe_values = top.get("probe");
    top.finish();
    let mut probes = Vec::new();
    if let Some(v) = probe_values {
        for table in reader.tables(v, "a probe") {
            if let Some(p) = read_probe(table, default_area.as_ref(), &snippets) {
                probes.push(Arc::new(p));
            }
        }
    } else if !reader.has_errors() {
        reader.error(0..0, "the suite has no probes", Some("at least one [[probe]] table".into()));
    }
    let suite = Suite { path: file.path.clone(), probes };
    (suite, reader.into_diagnostics())
}

fn read_snippets(reader: &Reader<'_>, value: &Value<'_>) -> Snippets {
    let mut out = BTreeMap::new();
    if let Some(table) = reader.as_table(value, "snippets") {
        for (name, v) in table.entries() {
            if let Some(sql) = read_sql(reader, v, "a snippet") {
                out.insert(name.value, sql);
            }
        }
    }
    out
}

/// SQL as a string, an array of statements, or a table of those keyed by dialect.
fn read_sql(reader: &Reader<'_>, value: &Value<'_>, what: &str) -> Option<Sql> {
    match value.get_ref() {
        DeValue::Table(_) => {
            let table = reader.as_table(value, "per-dialect SQL")?;
            let mut sql = Sql::default();
            for (dialect, v) in table.entries() {
                if !is_dialect_key(&dialect.value) {
                    reader.error(
                        dialect.span.clone(),
                        format!("unknown dialect `{}` in {what}", dialect.value),
                        Some(format!("one of: default, {}", Backend::names())),
                    );
                    continue;
                }
                let statements = reader.strings(v, what)?;
                if statements.is_empty() && what == "sql" {
                    reader.error(v.span(), format!("empty SQL for `{}` in a step", dialect.value), Some("at least one statement".into()));
                }
                sql.by_dialect.insert(dialect.value, templates(reader, statements, what));
            }
            Some(sql)
        }
        _ => {
            let statements = reader.strings(value, what)?;
            // An empty list would pass as a step that did nothing; setup and teardown may be empty.
            if statements.is_empty() && what == "sql" {
                reader.error(value.span(), "a step with empty SQL", Some("at least one statement".into()));
            }
            Some(Sql::shared(templates(reader, statements, what)))
        }
    }
}

/// Parses statements as templates, reporting each malformed one where it goes wrong.
/// A snippet's own SQL is text: it is not expanded again.
fn templates(reader: &Reader<'_>, statements: Vec<Located<String>>, what: &str) -> Vec<Template> {
    statements
        .into_iter()
        .filter_map(|s| {
            if what == "a snippet" {
                return Some(Template::literal(s.value));
            }
            match Template::parse(&s.value) {
                Ok(t) => Some(t),
                Err(e) => {
                    reader.error(within_string(reader, &s, e.offset), e.message, Some(e.expected));
                    None
                }
            }
        })
        .collect()
}

/// The span of byte `offset` of a string's value in the file, when the string is written
/// without escapes (so that its value is its text); otherwise the string's own span.
fn within_string(reader: &Reader<'_>, s: &Located<String>, offset: usize) -> std::ops::Range<usize> {
    let raw = reader.file.text.get(s.span.clone()).unwrap_or_default();
    for quote in ["\"\"\"", "'''", "\"", "'"] {
        let Some(body) = raw.strip_prefix(quote).and_then(|r| r.strip_suffix(quote)) else { continue };
        // A multi-line string drops the newline right after its opening quotes.
        let (lead, body) = match (quote.len(), body.strip_prefix("\r\n").or_else(|| body.strip_prefix('\n'))) {
            (3, Some(rest)) => (body.len() - rest.len(), rest),
            _ => (0, body),
        };
        if body == s.value {
            let at = s.span.start + quote.len() + lead + offset;
            return at..at + 2;
        }
        break;
    }
    s.span.clone()
}

/// Every SQL string under a value, with its span, for placeholder checks.
fn sql_strings<'a>(value: &'a Value<'_>, out: &mut Vec<Located<&'a str>>) {
    match value.get_ref() {
        DeValue::String(s) => out.push(Located::new(s.as_ref(), value.span())),
        DeValue::Array(items) => items.iter().for_each(|v| sql_strings(v, out)),
        DeValue::Table(t) => t.values().for_each(|v| sql_strings(v, out)),
        _ => {}
    }
}

/// Every snippet a template names must be defined (templates that do not parse are
/// reported where they are read).
fn check_placeholders(reader: &Reader<'_>, value: &Value<'_>, snippets: &Snippets) {
    let mut strings = Vec::new();
    sql_strings(value, &mut strings);
    for s in strings {
        let Ok(template) = Template::parse(s.value) else { continue };
        for name in template.references() {
            if !snippets.contains_key(name) && !BUILTIN_PLACEHOLDERS.contains(&name) {
                let mut known: Vec<&str> = snippets.keys().map(String::as_str).collect();
                known.extend(BUILTIN_PLACEHOLDERS);
                reader.error(
                    s.span.clone(),
                    format!("the SQL uses `{{{{{name}}}}}` but no snippet `{name}` is defined"),
                    Some(format!("a snippet defined under [snippets] ({})", known.join(", "))),
                );
            }
        }
    }
}

fn read_probe(mut t: Table<'_, '_>, default_area: Option<&Located<String>>, snippets: &Arc<Snippets>) -> Option<Probe> {
    let reader = t.reader;
    let line = reader.file.line_col(t.span.start).0;
    let id = t.required_str("id");
    if let Some(id) = &id {
        if id.value.is_empty() || !id.value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            reader.error(id.span.clone(), format!("invalid probe id `{}`", id.value), Some("lower-case letters, digits and _".into()));
        }
    }
    let area = t.str("area").or_else(|| default_area.cloned());
    if area.is_none() {
        t.missing("area", "a behaviour area (here or as `area` at the top of the file)");
    }
    let asks = t.required_str("asks");
    let claims = t.get("claim").map(|v| read_claims(reader, v)).unwrap_or_default();
    let note = t.str("note").map(|n| n.value);
    let setup = read_sql_checked(&mut t, "setup", snippets);
    let teardown = read_sql_checked(&mut t, "teardown", snippets);
    let sessions = match t.get("sessions") {
        Some(v) => read_sessions(reader, v, snippets),
        None => vec![SessionSpec { name: "a".into(), isolation: None, init: Sql::default() }],
    };
    let steps: Vec<(Step, Option<Located<String>>)> = match t.get("step") {
        Some(v) => reader.tables(v, "a step").into_iter().filter_map(|s| read_step(s, &sessions, snippets)).collect(),
        None => {
            t.missing("step", "at least one [[probe.step]]");
            Vec::new()
        }
    };
    let outcome_count = steps.iter().filter(|(s, _)| s.outcome).count().max(1);
    let expect = t.get("expect").map(|v| read_expect(reader, v, outcome_count)).unwrap_or_default();
    let not_applicable = t.get("not_applicable").map(|v| read_not_applicable(reader, v)).unwrap_or_default();
    let undefined = t.get("undefined").map(|v| read_reasons(reader, v, "undefined")).unwrap_or_default();
    let unsupported = t.get("unsupported").map(|v| read_reasons(reader, v, "unsupported")).unwrap_or_default();
    let runs_alone = t.bool("runs_alone").unwrap_or(false);
    let head = t.span.start..t.span.start;
    t.finish();

    check_cursors(reader, &steps);
    if claims.iter().any(|c| c.outcomes.iter().any(|&n| n > outcome_count)) {
        reader.error(head.clone(), format!("a claim names an outcome past the probe's {outcome_count}"), Some(format!("outcome = 1..{outcome_count}")));
    }
    let steps: Vec<Step> = steps.into_iter().map(|(s, _)| s).collect();
    if steps.iter().any(|s| matches!(s.action, Action::Restart(_))) && !runs_alone {
        reader.error(
            head,
            format!("probe `{}` restarts the server but is not marked runs_alone", id.as_ref().map_or("", |i| &i.value)),
            Some("runs_alone = true on a probe with a restart step".into()),
        );
    }
    Some(Probe {
        id: id?.value,
        area: area?.value,
        asks: asks?.value,
        claims,
        note,
        setup: setup.unwrap_or_default(),
        teardown: teardown.unwrap_or_default(),
        sessions,
        steps,
        expect,
        not_applicable,
        undefined,
        unsupported,
        runs_alone,
        snippets: snippets.clone(),
        file: reader.file.path.clone(),
        line,
    })
}

fn read_sql_checked(t: &mut Table<'_, '_>, key: &'static str, snippets: &Snippets) -> Option<Sql> {
    let v = t.get(key)?;
    check_placeholders(t.reader, v, snippets);
    read_sql(t.reader, v, key)
}

fn read_claims(reader: &Reader<'_>, value: &Value<'_>) -> Vec<Claim> {
    reader
        .tables(value, "a claim")
        .into_iter()
        .filter_map(|mut c| {
            let source = c.required_str("source");
            let section = c.required_str("section");
            let text = c.required_str("text");
            let predicts = c.get("predicts").map(|v| read_keyed_outcomes(reader, v, None)).unwrap_or_default();
            let outcomes = c.positions("outcome").unwrap_or_default();
            let columns = c.positions("columns").unwrap_or_default();
            let hedged = c.bool("hedged").unwrap_or(false);
            let head = c.span.start..c.span.start;
            if outcomes.len() > 1 && !columns.is_empty() {
                reader.error(head, "a claim about some columns is about one outcome", Some("outcome = N beside columns".into()));
            }
            c.finish();
            Some(Claim { source: source?.value, section: section?.value, text: text?.value, predicts, outcomes, columns, hedged })
        })
        .collect()
}

fn read_sessions(reader: &Reader<'_>, value: &Value<'_>, snippets: &Snippets) -> Vec<SessionSpec> {
    let Some(table) = reader.as_table(value, "sessions") else { return Vec::new() };
    if table.entries().next().is_none() {
        reader.error(value.span(), "no sessions: every step would be dropped", Some("at least one session, e.g. sessions.a = {}".into()));
    }
    let mut out = Vec::new();
    for (name, v) in table.entries() {
        let Some(mut s) = reader.as_table(v, "a session") else { continue };
        let isolation = s.str("isolation").and_then(|i| {
            let parsed = Isolation::parse(&i.value);
            if parsed.is_none() {
                reader.error(i.span, format!("unknown isolation level `{}`", i.value), Some(Isolation::NAMES.into()));
            }
            parsed
        });
        let init = read_sql_checked(&mut s, "init", snippets).unwrap_or_default();
        s.finish();
        out.push(SessionSpec { name: name.value, isolation, init });
    }
    out
}

fn read_step(mut s: Table<'_, '_>, sessions: &[SessionSpec], snippets: &Snippets) -> Option<(Step, Option<Located<String>>)> {
    let reader = s.reader;
    let line = reader.file.line_col(s.span.start).0;
    let session = s.str("session");
    let sql = read_sql_checked(&mut s, "sql", snippets);
    let cursor = s.str("cursor");
    if let Some(c) = &cursor {
        let mut chars = c.value.chars();
        let is_identifier = chars.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !is_identifier || c.value.len() > 30 {
            reader.error(c.span.clone(), format!("invalid cursor name `{}`", c.value), Some("a plain identifier: a letter or _, then letters, digits or _ (at most 30)".into()));
        }
    }
    // PostgreSQL's FETCH 0 re-reads the current row where the others read none: no
    // portable meaning, so a fetch reads at least one row.
    let fetch = s.u64_in("fetch", 1..=MAX_FETCH, "rows").map(|f| f.value);
    let restart = s.bool("restart").unwrap_or(false);
    let crash = s.bool("crash").unwrap_or(false);
    let outcome = s.bool("outcome").unwrap_or(false);
    let head = s.span.start..s.span.start;
    s.finish();

    let session_name = match &session {
        Some(name) if sessions.iter().any(|x| x.name == name.value) => name.value.clone(),
        Some(name) => {
            let known: Vec<&str> = sessions.iter().map(|x| x.name.as_str()).collect();
            reader.error(name.span.clone(), format!("unknown session `{}`", name.value), Some(format!("one of the probe's sessions: {}", known.join(", "))));
            return None;
        }
        None => sessions.first()?.name.clone(),
    };
    if restart && crash {
        reader.error(head.clone(), "a step is either a clean restart or a crash", Some("restart = true or crash = true, not both".into()));
        return None;
    }
    let kind = if crash { RestartKind::Crash } else { RestartKind::Clean };
    let action = match (restart || crash, &cursor, sql) {
        (true, None, None) => Action::Restart(kind),
        (true, _, _) => {
            reader.error(head, format!("a {} step has no `sql` or `cursor`", kind.name()), Some(format!("{} = true alone", kind.name())));
            return None;
        }
        (false, Some(c), sql) => Action::Cursor { name: c.value.clone(), sql, fetch },
        (false, None, Some(sql)) => {
            if fetch.is_some() {
                reader.error(head, "`fetch` needs a `cursor`", Some("cursor = \"name\" beside fetch".into()));
            }
            Action::Sql(sql)
        }
        (false, None, None) => {
            reader.error(head, "the step does nothing", Some("one of: sql, cursor, restart = true, crash = true".into()));
            return None;
        }
    };
    Some((Step { session: session_name, action, outcome, line }, cursor))
}

/// A fetch must follow an open of the same cursor on the same session.
fn check_cursors(reader: &Reader<'_>, steps: &[(Step, Option<Located<String>>)]) {
    let mut open: Vec<(&str, &str)> = Vec::new();
    for (step, name) in steps {
        if let (Action::Cursor { name: cursor, sql, .. }, Some(located)) = (&step.action, name) {
            if sql.is_some() {
                open.push((step.session.as_str(), cursor.as_str()));
            } else if !open.contains(&(step.session.as_str(), cursor.as_str())) {
                reader.error(
                    located.span.clone(),
                    format!("cursor `{cursor}` is fetched before it is opened on session `{}`", step.session),
                    Some("an earlier step on the same session with cursor and sql".into()),
                );
            }
        }
    }
}

fn read_selector(reader: &Reader<'_>, key: &Located<String>) -> Option<Selector> {
    match Selector::parse(&key.value) {
        Ok(s) => Some(s),
        Err(e) => {
            let expected = if e.starts_with("unknown backend") {
                format!("a backend ({}) optionally followed by a version range, e.g. mysql>=8.0.1", Backend::names())
            } else {
                "a range like >=10.3,<10.6".to_string()
            };
            reader.error(key.span.clone(), e, Some(expected));
            None
        }
    }
}

/// Ranged keys of one backend must not overlap, so a target matches at most one.
fn check_overlaps<T>(reader: &Reader<'_>, entries: &[(Keyed<T>, Located<String>)]) {
    for (i, (a, _)) in entries.iter().enumerate() {
        for (b, b_key) in &entries[i + 1..] {
            if a.target.backend == b.target.backend
                && !a.target.range.is_any()
                && !b.target.range.is_any()
                && a.target.range.overlaps(&b.target.range)
            {
                reader.error(
                    b_key.span.clone(),
                    format!("`{}` overlaps `{}`: a version would match both", b.target.text, a.target.text),
                    Some("version ranges of one backend that do not overlap".into()),
                );
            }
        }
    }
}

fn read_outcomes(reader: &Reader<'_>, value: &Value<'_>, count: Option<usize>) -> Option<Vec<String>> {
    let outcomes = reader.strings(value, "an outcome")?;
    let mut ok = true;
    for o in &outcomes {
        if let Err(e) = is_outcome_text(&o.value) {
            reader.error(o.span.clone(), format!("invalid outcome `{}`: {e}", o.value), Some("an outcome like ok, affected:1, rows:(1,'a'), error:syntax, blocked".into()));
            ok = false;
        }
    }
    if let Some(n) = count {
        if outcomes.len() != n {
            reader.error(value.span(), format!("{} outcome(s) given but the probe observes {n} step(s)", outcomes.len()), Some(format!("{n} outcome(s), one per step marked outcome = true")));
            ok = false;
        }
    }
    ok.then(|| outcomes.into_iter().map(|o| o.value).collect())
}

fn read_keyed_outcomes(reader: &Reader<'_>, value: &Value<'_>, count: Option<usize>) -> Vec<Keyed<Vec<String>>> {
    let Some(table) = reader.as_table(value, "outcomes by backend") else { return Vec::new() };
    let mut entries = Vec::new();
    for (key, v) in table.entries() {
        if let (Some(target), Some(value)) = (read_selector(reader, &key), read_outcomes(reader, v, count)) {
            entries.push((Keyed { target, value }, key));
        }
    }
    check_overlaps(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}

fn read_expect(reader: &Reader<'_>, value: &Value<'_>, count: usize) -> Vec<Keyed<Expected>> {
    let Some(table) = reader.as_table(value, "expectations") else { return Vec::new() };
    let mut entries = Vec::new();
    for (key, v) in table.entries() {
        let target = read_selector(reader, &key);
        let expected = match v.get_ref() {
            DeValue::Table(_) => reader.as_table(v, "an expectation").and_then(|mut e| {
                let outcome = e.get("outcome").and_then(|o| read_outcomes(reader, o, Some(count)));
                if outcome.is_none() && e.get("outcome").is_none() {
                    e.missing("outcome", "the expected outcome");
                }
                let documented = e.str("documented").map(|d| d.value);
                e.finish();
                Some(Expected { outcome: outcome?, documented })
            }),
            _ => read_outcomes(reader, v, Some(count)).map(|outcome| Expected { outcome, documented: None }),
        };
        if let (Some(target), Some(value)) = (target, expected) {
            entries.push((Keyed { target, value }, key));
        }
    }
    check_overlaps(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}

fn read_not_applicable(reader: &Reader<'_>, value: &Value<'_>) -> Vec<Keyed<String>> {
    read_reasons(reader, value, "not_applicable")
}

/// A table of reasons keyed by backend selector (`not_applicable`, `undefined`).
fn read_reasons(reader: &Reader<'_>, value: &Value<'_>, what: &'static str) -> Vec<Keyed<String>> {
    let Some(table) = reader.as_table(value, what) else { return Vec::new() };
    let mut entries = Vec::new();
    for (key, v) in table.entries() {
        if let (Some(target), Some(reason)) = (read_selector(reader, &key), reader.string(v, "the reason")) {
            entries.push((Keyed { target, value: reason.value }, key));
        }
    }
    check_overlaps(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}
