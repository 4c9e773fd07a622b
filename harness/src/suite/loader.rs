//! Reading suite files into [`Suite`]s, reporting every problem with its location.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use toml::de::DeValue;

use super::model::*;
use super::template::Template;
use crate::outcome::Outcome;
use crate::version::Version;
use crate::profile::Profile;
use crate::backends::{is_dialect_key, Backend};
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
    let releases = top.get("django").map(|v| read_framework(&reader, v)).unwrap_or_default();
    let probe_values = top.get("probe");
    top.finish();
    let mut probes = Vec::new();
    if let Some(v) = probe_values {
        for table in reader.tables(v, "a probe") {
            let variants = read_variants(table.clone());
            let keys: Vec<String> = variants.iter().map(|v| v.key.clone()).collect();
            if variants.is_empty() {
                probes.extend(read_probe(table.clone(), default_area.as_ref(), &snippets, &releases, Var { this: None, keys: &keys }).map(Arc::new));
            }
            for variant in &variants {
                let var = Var { this: Some(variant), keys: &keys };
                probes.extend(read_probe(table.clone(), default_area.as_ref(), &snippets, &releases, var).map(Arc::new));
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
            if let Some(sql) = read_sql(reader, v, "a snippet", Var::NONE) {
                out.insert(name.value, sql);
            }
        }
    }
    out
}

/// SQL as a string, an array of statements, or a table of those keyed by dialect.
fn read_sql(reader: &Reader<'_>, value: &Value<'_>, what: &str, var: Var<'_>) -> Option<Sql> {
    match value.get_ref() {
        DeValue::Table(_) => {
            let table = reader.as_table(value, "per-dialect SQL")?;
            let mut sql = Sql::default();
            for (dialect, v) in var.entries(reader, &table) {
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

fn is_probe_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn read_probe(mut t: Table<'_, '_>, default_area: Option<&Located<String>>, snippets: &Arc<Snippets>, releases: &[FrameworkRelease], var: Var<'_>) -> Option<Probe> {
    let reader = t.reader;
    let line = reader.file.line_col(t.span.start).0;
    let written_id = t.required_str("id");
    if let Some(id) = &written_id {
        if !is_probe_id(&id.value) {
            reader.error(id.span.clone(), format!("invalid probe id `{}`", id.value), Some("lower-case letters, digits and _".into()));
        }
    }
    // Read by `read_variants`.
    let _ = (t.get("param"), t.get("permutations"), t.get("ids"));
    let variant = var.this.zip(written_id.as_ref()).map(|(v, id)| Variant { base_id: id.value.clone(), key: v.key.clone() });
    let id = match var.this {
        Some(v) => written_id.as_ref().map(|w| Located::new(v.id.clone(), w.span.clone())),
        None => written_id.clone(),
    };
    let area = t.str("area").or_else(|| default_area.cloned());
    if area.is_none() {
        t.missing("area", "a behaviour area (here or as `area` at the top of the file)");
    }
    let asks = t.required_str("asks");
    let claims = t.get("claim").map(|v| read_claims(reader, v, var)).unwrap_or_default();
    let note = t.str("note").map(|n| n.value);
    let mut setup = read_sql_checked(&mut t, "setup", snippets, var);
    if let Some(mode) = var.this.and_then(|v| v.journal_mode.as_deref()) {
        // The journal mode is the database file's: set first, before any table exists.
        let setup = setup.get_or_insert_with(Sql::default);
        let mut sqlite = vec![Template::literal(format!("PRAGMA journal_mode = {}", mode.to_ascii_uppercase()))];
        sqlite.extend(setup.for_backend(Backend::Sqlite).unwrap_or_default().iter().cloned());
        setup.by_dialect.insert("sqlite".into(), sqlite);
    }
    let teardown = read_sql_checked(&mut t, "teardown", snippets, var);
    let sessions = match t.get("sessions") {
        Some(v) => read_sessions(reader, v, snippets, var),
        None => vec![SessionSpec { name: "a".into(), isolation: IsolationSpec::default(), init: Sql::default(), profile: None }],
    };
    let unordered = t.bool("unordered").unwrap_or(false);
    let mut steps: Vec<(Step, Option<Located<String>>)> = match t.get("step") {
        Some(v) => reader.tables(v, "a step").into_iter().filter_map(|s| read_step(s, &sessions, snippets, var)).collect(),
        None => {
            t.missing("step", "at least one [[probe.step]]");
            Vec::new()
        }
    };
    for (step, _) in &mut steps {
        step.unordered |= unordered;
    }
    if let Some(order) = var.this.and_then(|v| v.order.as_ref()) {
        steps = order.iter().filter_map(|name| steps.iter().find(|(s, _)| s.name.as_deref() == Some(name.as_str())).cloned()).collect();
    }
    let outcome_count = steps.iter().filter(|(s, _)| s.outcome).count().max(1);
    let mut expect = t.get("expect").map(|v| read_expect(reader, v, outcome_count, var)).unwrap_or_default();
    let (mut not_applicable, others) = t.get("not_applicable").map(|v| read_not_applicable(reader, v, var)).unwrap_or_default();
    let undefined = t.get("undefined").map(|v| read_reasons(reader, v, "undefined", var)).unwrap_or_default();
    let unsupported = t.get("unsupported").map(|v| read_reasons(reader, v, "unsupported", var)).unwrap_or_default();
    if let Some(reason) = others {
        // MariaDB has an expectation through a bare `mysql` key, too.
        let expected = |b: Backend| expect.iter().any(|k| k.target.backend == b || (b == Backend::Mariadb && k.target.backend == Backend::Mysql && k.target.range.is_any()));
        let named = |b: Backend| [&not_applicable, &undefined, &unsupported].iter().any(|l| l.iter().any(|k| k.target.backend == b)) || expected(b);
        let rest: Vec<Backend> = Backend::ALL.into_iter().filter(|b| !named(*b)).collect();
        if rest.is_empty() {
            reader.error(reason.span.clone(), "`others` covers no backend: every backend has a key of its own", Some("no `others` key, or fewer keys of single backends".into()));
        }
        for b in rest {
            let target = Selector::parse(b.name()).expect("a backend's name is a selector");
            not_applicable.push(Keyed { target, value: reason.value.clone() });
        }
    }
    if let Some(v) = var.this.filter(|v| v.sqlite_split) {
        // `param.sqlite`: SQLite runs only in its own variants, every other backend
        // only in those of `param.isolation`.
        let (reason, only) = if v.sqlite_begin.is_some() {
            (format!("the variant `{}` of param.sqlite is SQLite's", v.key), false)
        } else {
            ("SQLite runs this probe in the variants of param.sqlite (its transaction modes by journal mode)".to_string(), true)
        };
        for b in Backend::ALL.into_iter().filter(|b| (*b == Backend::Sqlite) == only) {
            if !not_applicable.iter().any(|k| k.target.backend == b && k.target.range.is_any()) {
                let target = Selector::parse(b.name()).expect("a backend's name is a selector");
                not_applicable.push(Keyed { target, value: reason.clone() });
            }
        }
    }
    if let Some(mode) = var.this.and_then(|v| v.sqlite_begin.as_deref()).filter(|m| *m != "deferred") {
        // SQLite's BEGIN is deferred; the other modes are spelled out in its SQL.
        for (step, _) in steps.iter_mut().filter(|(s, _)| s.begin) {
            if let Action::Sql(sql) = &mut step.action {
                let mut sqlite = vec![Template::literal(format!("BEGIN {}", mode.to_ascii_uppercase()))];
                sqlite.extend(sql.for_backend(Backend::Sqlite).unwrap_or_default().iter().cloned());
                sql.by_dialect.insert("sqlite".into(), sqlite);
                step.begin = false;
            }
        }
    }
    let anomaly = t.get("anomaly").and_then(|v| read_anomaly(reader, v, outcome_count));
    let django = t.get("django").and_then(|v| read_framework_flag(reader, v, outcome_count, releases));
    let documented = t.get("documented").map(|v| read_documented(reader, v, &mut expect, var)).unwrap_or_default();
    let runs_alone = t.bool("runs_alone").unwrap_or(false);
    let profile = t.get("profile").and_then(|v| read_profile(reader, v));
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
        documented,
        variant,
        anomaly,
        django,
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
        profile,
        snippets: snippets.clone(),
        file: reader.file.path.clone(),
        line,
    })
}

fn read_profile(reader: &Reader<'_>, value: &Value<'_>) -> Option<Profile> {
    let text = reader.string(value, "a profile name")?;
    match text.value.parse() {
        Ok(p) => Some(p),
        Err(_) => {
            reader.error(text.span.clone(), format!("unknown profile `{}`", text.value), Some(format!("one of: {}", Profile::names())));
            None
        }
    }
}

/// `anomaly = { name = "...", occurs = ..., read_only = ... }`. `occurs` is an array of
/// outcomes, one per outcome step (`*` for any), or an array of such arrays
/// (alternatives, any of which means the anomaly happened).
fn read_anomaly(reader: &Reader<'_>, value: &Value<'_>, count: usize) -> Option<Anomaly> {
    let mut a = reader.as_table(value, "anomaly")?;
    let name = a.required_str("name");
    let occurs_value = a.get("occurs");
    let read_only = a.bool("read_only").unwrap_or(false);
    let head = a.span.start..a.span.start;
    a.finish();
    if let Some(n) = &name {
        if !ANOMALIES.contains(&n.value.as_str()) {
            reader.error(n.span.clone(), format!("unknown anomaly `{}`", n.value), Some(ANOMALIES.join(", ")));
        }
    }
    let Some(occurs_value) = occurs_value else {
        reader.error(head, "an anomaly without `occurs`", Some("occurs = the outcomes (one per outcome step, * for any) that mean the anomaly happened".into()));
        return None;
    };
    let occurs = read_outcome_pattern(reader, occurs_value, count, "occurs")?;
    if name.as_ref().is_some_and(|n| ANOMALIES.contains(&n.value.as_str())) { Some(Anomaly { name: name?.value, occurs, read_only }) } else { None }
}

/// Outcomes that an observation is matched against: an array of outcomes, one per
/// outcome step (`*` for any), or an array of such arrays (alternatives).
fn read_outcome_pattern(reader: &Reader<'_>, value: &Value<'_>, count: usize, key: &str) -> Option<Vec<Vec<Option<Outcome>>>> {
    let alternatives: Vec<&Value<'_>> = match value.get_ref() {
        DeValue::Array(items) if items.iter().any(|i| matches!(i.get_ref(), DeValue::Array(_))) => items.iter().collect(),
        _ => vec![value],
    };
    let mut pattern = Vec::new();
    for alt in alternatives {
        let texts = reader.strings(alt, "an outcome, or * for any")?;
        let mut outcomes = Vec::with_capacity(texts.len());
        for o in &texts {
            if o.value.trim() == "*" {
                outcomes.push(None);
                continue;
            }
            match o.value.parse::<Outcome>() {
                Ok(parsed) => outcomes.push(Some(parsed)),
                Err(e) => {
                    reader.error(o.span.clone(), format!("invalid outcome `{}`: {e}", o.value), Some("an outcome like ok, affected:1, rows:(1,'a'), error:busy, blocked, then ok; or * for any".into()));
                    return None;
                }
            }
        }
        if outcomes.len() != count {
            reader.error(alt.span(), format!("{} outcome(s) in `{key}` but the probe observes {count} step(s)", outcomes.len()), Some(format!("{count} outcome(s), one per step marked outcome = true (* for any)")));
            return None;
        }
        if outcomes.iter().all(Option::is_none) {
            reader.error(alt.span(), format!("`{key}` that matches every outcome"), Some("at least one outcome that is not *".into()));
            return None;
        }
        pattern.push(outcomes);
    }
    Some(pattern)
}

/// `[django.release."5.2.19"]` tables: `about`, optional `seed`, and `minimum`, the
/// oldest supported server version per backend.
fn read_framework(reader: &Reader<'_>, value: &Value<'_>) -> Vec<FrameworkRelease> {
    let Some(mut top) = reader.as_table(value, "django") else { return Vec::new() };
    let releases = top.get("release");
    top.finish();
    let Some(releases) = releases.and_then(|v| reader.as_table(v, "django.release")) else {
        reader.error(value.span(), "a [django] table without releases", Some("[django.release.\"VERSION\"] tables".into()));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (version, v) in releases.entries() {
        if Version::parse(&version.value).is_none_or(|p| p.to_string() != version.value) {
            reader.error(version.span.clone(), format!("invalid release `{}`", version.value), Some("a dotted version like 5.2.19".into()));
            continue;
        }
        let Some(mut r) = reader.as_table(v, "a release") else { continue };
        let about = r.required_str("about");
        let seed = r.str("seed").map(|s| s.value);
        let minimum_value = r.get("minimum");
        r.finish();
        let mut minimum = BTreeMap::new();
        if let Some(table) = minimum_value.and_then(|m| reader.as_table(m, "minimum")) {
            for (backend, m) in table.entries() {
                if backend.value.parse::<Backend>().is_err() {
                    reader.error(backend.span.clone(), format!("unknown backend `{}`", backend.value), Some(Backend::names().to_string()));
                    continue;
                }
                let Some(text) = reader.string(m, "a version") else { continue };
                if Version::parse(&text.value).is_none() {
                    reader.error(text.span.clone(), format!("invalid version `{}`", text.value), Some("a dotted version like 10.5".into()));
                    continue;
                }
                minimum.insert(backend.value, text.value);
            }
        }
        if let Some(about) = about {
            out.push(FrameworkRelease { version: version.value, about: about.value, seed, minimum });
        }
    }
    out
}

/// `[probe.django]`: `flag`, `capable` (as `occurs`), `gate` in words, and
/// `says."RELEASE"`, the flag's value per target selector for each release the file
/// declares. Every backend needs a key in every release.
fn read_framework_flag(reader: &Reader<'_>, value: &Value<'_>, count: usize, releases: &[FrameworkRelease]) -> Option<FrameworkFlag> {
    let mut t = reader.as_table(value, "django")?;
    let flag = t.required_str("flag");
    let gate = t.required_str("gate");
    let capable_value = t.get("capable");
    let says_value = t.get("says");
    let explain = t.get("explain").map(|v| read_reasons(reader, v, "explain", Var::NONE)).unwrap_or_default();
    let head = t.span.start..t.span.start;
    t.finish();
    if let Some(f) = &flag {
        if !is_probe_id(&f.value) {
            reader.error(f.span.clone(), format!("invalid flag name `{}`", f.value), Some("a Python attribute name: lower-case letters, digits and _".into()));
        }
    }
    let Some(capable_value) = capable_value else {
        reader.error(head, "a flag without `capable`", Some("capable = the outcomes (one per outcome step, * for any) that mean the server has the capability".into()));
        return None;
    };
    let capable = read_outcome_pattern(reader, capable_value, count, "capable");
    let Some(says_table) = says_value.and_then(|v| reader.as_table(v, "says")) else {
        reader.error(head, "a flag without `says`", Some("[probe.django.says.\"RELEASE\"] tables, one per release the file declares".into()));
        return None;
    };
    let mut says = Vec::new();
    let mut seen = Vec::new();
    for (release, v) in says_table.entries() {
        let Some(declared) = releases.iter().find(|r| r.version == release.value) else {
            let known: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
            reader.error(release.span.clone(), format!("`{}` is not a release declared in this file", release.value), Some(if known.is_empty() { "a [django.release.\"VERSION\"] table at the top of the file".to_string() } else { format!("one of: {}", known.join(", ")) }));
            continue;
        };
        seen.push(release.value.clone());
        let Some(table) = reader.as_table(v, "a release's values") else { continue };
        let mut entries = Vec::new();
        for (key, b) in table.entries() {
            let Some(target) = read_selector(reader, &key) else { continue };
            match b.get_ref() {
                DeValue::Boolean(value) => entries.push((Keyed { target, value: *value }, key)),
                other => reader.wrong_type(b.span(), other, "true or false (the flag's value)"),
            }
        }
        check_overlaps(reader, &entries);
        for backend in Backend::ALL.into_iter().filter(|b| b.dialect().django_module().is_some()) {
            if !entries.iter().any(|(k, _)| k.target.backend == backend) {
                reader.error(release.span.clone(), format!("release `{}` gives no value for {backend}", release.value), Some(format!("a `{backend}` key (or ranged keys) with true or false")));
            }
        }
        says.push((declared.clone(), entries.into_iter().map(|(k, _)| k).collect()));
    }
    // Keep the file's order of releases, so that every flag's columns line up.
    says.sort_by_key(|(r, _)| releases.iter().position(|d| d.version == r.version));
    Some(FrameworkFlag { flag: flag?.value, capable: capable?, gate: gate?.value, says, explain })
}

fn read_sql_checked(t: &mut Table<'_, '_>, key: &'static str, snippets: &Snippets, var: Var<'_>) -> Option<Sql> {
    let v = t.get(key)?;
    check_placeholders(t.reader, v, snippets);
    read_sql(t.reader, v, key, var)
}

fn read_claims(reader: &Reader<'_>, value: &Value<'_>, var: Var<'_>) -> Vec<Claim> {
    reader
        .tables(value, "a claim")
        .into_iter()
        .filter_map(|mut c| {
            let source = c.required_str("source");
            let section = c.required_str("section");
            let text = c.required_str("text");
            let predicts = c.get("predicts").map(|v| read_keyed_outcomes(reader, v, var)).unwrap_or_default();
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

fn read_sessions(reader: &Reader<'_>, value: &Value<'_>, snippets: &Snippets, var: Var<'_>) -> Vec<SessionSpec> {
    let Some(table) = reader.as_table(value, "sessions") else { return Vec::new() };
    if table.entries().next().is_none() {
        reader.error(value.span(), "no sessions: every step would be dropped", Some("at least one session, e.g. sessions.a = {}".into()));
    }
    let mut out = Vec::new();
    for (name, v) in table.entries() {
        let Some(mut s) = reader.as_table(v, "a session") else { continue };
        let isolation = s.get("isolation").map(|i| read_isolation(reader, i, var)).unwrap_or_default();
        let init = read_sql_checked(&mut s, "init", snippets, var).unwrap_or_default();
        let profile = s.get("profile").and_then(|v| read_profile(reader, v));
        s.finish();
        out.push(SessionSpec { name: name.value, isolation, init, profile });
    }
    out
}

/// One level for every backend (`"serializable"`) or a table keyed by dialect; `"param"`
/// is the level of the probe's `param.isolation` variant.
fn read_isolation(reader: &Reader<'_>, value: &Value<'_>, var: Var<'_>) -> IsolationSpec {
    let level = |text: &Located<String>| -> Option<Isolation> {
        if text.value == "param" {
            let level = var.this.and_then(|v| v.isolation);
            if level.is_none() {
                reader.error(text.span.clone(), "isolation `param` but the probe has no isolation parameter", Some("param.isolation = [\"read committed\", ...] on the probe".into()));
            }
            return level;
        }
        let parsed = Isolation::parse(&text.value);
        if parsed.is_none() {
            reader.error(text.span.clone(), format!("unknown isolation level `{}`", text.value), Some(format!("{}, or param", Isolation::NAMES)));
        }
        parsed
    };
    let mut spec = IsolationSpec::default();
    match value.get_ref() {
        DeValue::Table(_) => {
            let Some(table) = reader.as_table(value, "isolation by dialect") else { return spec };
            for (dialect, v) in var.entries(reader, &table) {
                if !is_dialect_key(&dialect.value) {
                    reader.error(dialect.span.clone(), format!("unknown dialect `{}` in isolation", dialect.value), Some(format!("one of: default, {}", Backend::names())));
                    continue;
                }
                if let Some(l) = reader.string(v, "an isolation level").as_ref().and_then(level) {
                    spec.by_dialect.insert(dialect.value, l);
                }
            }
        }
        _ => {
            if let Some(l) = reader.string(value, "an isolation level, or a table of them keyed by dialect").as_ref().and_then(level) {
                spec = IsolationSpec::all(l);
            }
        }
    }
    spec
}

fn read_step(mut s: Table<'_, '_>, sessions: &[SessionSpec], snippets: &Snippets, var: Var<'_>) -> Option<(Step, Option<Located<String>>)> {
    let reader = s.reader;
    let line = reader.file.line_col(s.span.start).0;
    let session = s.str("session");
    let sql = read_sql_checked(&mut s, "sql", snippets, var);
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
    let streamed = s.bool("stream").unwrap_or(false);
    let close = s.bool("close").unwrap_or(false);
    let restart = s.bool("restart").unwrap_or(false);
    let crash = s.bool("crash").unwrap_or(false);
    let outcome = s.bool("outcome").unwrap_or(false);
    let begin = s.bool("begin").unwrap_or(false);
    let autocommit = s.bool("autocommit").unwrap_or(false);
    let unordered = s.bool("unordered").unwrap_or(false);
    let name = s.str("name");
    if let Some(n) = &name {
        if !is_probe_id(&n.value) {
            reader.error(n.span.clone(), format!("invalid step name `{}`", n.value), Some("lower-case letters, digits and _".into()));
        }
    }
    let head = s.span.start..s.span.start;
    s.finish();
    if begin && autocommit {
        reader.error(head.clone(), "a step that begins a transaction does not run in autocommit mode", Some("begin = true or autocommit = true, not both".into()));
    }

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
        (true, None, None) if begin || autocommit => {
            reader.error(head, format!("a {} step sends no statements to begin or commit", kind.name()), Some(format!("{} = true alone", kind.name())));
            return None;
        }
        (true, None, None) => Action::Restart(kind),
        (true, _, _) => {
            reader.error(head, format!("a {} step has no `sql` or `cursor`", kind.name()), Some(format!("{} = true alone", kind.name())));
            return None;
        }
        (false, Some(c), sql) => {
            if streamed && sql.is_none() {
                reader.error(head.clone(), "`stream` belongs on the step that opens the cursor", Some("sql beside cursor and stream = true".into()));
            }
            if close && (sql.is_some() || fetch.is_some()) {
                reader.error(head.clone(), "a step that closes a cursor neither opens it nor fetches from it", Some("cursor = \"name\" and close = true alone".into()));
            }
            Action::Cursor { name: c.value.clone(), sql, fetch, streamed, close }
        }
        (_, None, _) if streamed || close => {
            reader.error(head, format!("`{}` needs a `cursor`", if streamed { "stream" } else { "close" }), Some("cursor = \"name\" beside it".into()));
            return None;
        }
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
    let name = name.map(|n| n.value);
    Some((Step { session: session_name, action, outcome, begin, autocommit, unordered, name, line }, cursor))
}

/// A fetch or close must follow an open of the same cursor on the same session, and no
/// close since.
fn check_cursors(reader: &Reader<'_>, steps: &[(Step, Option<Located<String>>)]) {
    let mut open: Vec<(&str, &str)> = Vec::new();
    for (step, name) in steps {
        if let (Action::Cursor { name: cursor, sql, close, .. }, Some(located)) = (&step.action, name) {
            let key = (step.session.as_str(), cursor.as_str());
            if sql.is_some() {
                open.push(key);
            } else if !open.contains(&key) {
                reader.error(
                    located.span.clone(),
                    format!("cursor `{cursor}` is {} before it is opened on session `{}`", if *close { "closed" } else { "fetched" }, step.session),
                    Some("an earlier step on the same session with cursor and sql".into()),
                );
            } else if *close {
                open.retain(|k| *k != key);
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

fn read_outcomes(reader: &Reader<'_>, value: &Value<'_>, count: Option<usize>) -> Option<Vec<Outcome>> {
    let texts = reader.strings(value, "an outcome")?;
    let mut ok = true;
    let mut outcomes = Vec::with_capacity(texts.len());
    for o in &texts {
        match o.value.parse::<Outcome>() {
            Ok(parsed) => outcomes.push(parsed),
            Err(e) => {
                reader.error(o.span.clone(), format!("invalid outcome `{}`: {e}", o.value), Some("an outcome like ok, affected:1, rows:(1,'a'), error:syntax, blocked".into()));
                ok = false;
            }
        }
    }
    if let Some(n) = count {
        if outcomes.len() != n {
            reader.error(value.span(), format!("{} outcome(s) given but the probe observes {n} step(s)", outcomes.len()), Some(format!("{n} outcome(s), one per step marked outcome = true")));
            ok = false;
        }
    }
    ok.then_some(outcomes)
}

fn read_keyed_outcomes(reader: &Reader<'_>, value: &Value<'_>, var: Var<'_>) -> Vec<Keyed<Vec<Outcome>>> {
    let Some(table) = reader.as_table(value, "outcomes by backend") else { return Vec::new() };
    let mut entries = Vec::new();
    for (key, v) in var.entries(reader, &table) {
        if let (Some(target), Some(value)) = (read_selector(reader, &key), read_outcomes(reader, v, None)) {
            entries.push((Keyed { target, value }, key));
        }
    }
    check_overlaps(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}

/// `any_of = [...]`: outcomes of which the database documents that either may happen.
fn read_any_of(reader: &Reader<'_>, value: &Value<'_>, count: usize) -> Option<Vec<Vec<Outcome>>> {
    let DeValue::Array(items) = value.get_ref() else {
        reader.wrong_type(value.span(), value.get_ref(), "an array of outcomes (any_of)");
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        let one = match item.get_ref() {
            DeValue::String(_) if count > 1 => {
                reader.error(item.span(), format!("one outcome in `any_of` of a probe that observes {count} steps"), Some(format!("an array of {count} outcomes per alternative")));
                None
            }
            _ => read_outcomes(reader, item, Some(count)),
        };
        match one {
            Some(o) if out.contains(&o) => reader.error(item.span(), "the same outcome twice in `any_of`", Some("different outcomes".into())),
            Some(o) => out.push(o),
            None => ok = false,
        }
    }
    if ok && out.len() < 2 {
        reader.error(value.span(), "`any_of` with fewer than two outcomes", Some("two or more outcomes; one is written as the expectation itself".into()));
        return None;
    }
    ok.then_some(out)
}

fn read_expect(reader: &Reader<'_>, value: &Value<'_>, count: usize, var: Var<'_>) -> Vec<Keyed<Expected>> {
    let Some(table) = reader.as_table(value, "expectations") else { return Vec::new() };
    let mut entries = Vec::new();
    for (key, v) in var.entries(reader, &table) {
        let target = read_selector(reader, &key);
        let expected = match v.get_ref() {
            DeValue::Table(_) => reader.as_table(v, "an expectation").and_then(|mut e| {
                let outcome = e.get("outcome");
                let any_of = e.get("any_of");
                let documented = e.str("documented").map(|d| d.value);
                let head = e.span.start..e.span.start;
                e.finish();
                match (outcome, any_of) {
                    (Some(o), None) => Some(Expected { outcome: read_outcomes(reader, o, Some(count))?, alternatives: Vec::new(), documented }),
                    (None, Some(a)) => {
                        let mut all = read_any_of(reader, a, count)?;
                        let first = all.remove(0);
                        Some(Expected { outcome: first, alternatives: all, documented })
                    }
                    (Some(_), Some(_)) => {
                        reader.error(head, "an expectation with both `outcome` and `any_of`", Some("outcome = ... for one outcome, any_of = [...] for several".into()));
                        None
                    }
                    (None, None) => {
                        reader.error(head, "an expectation is missing the key `outcome`", Some("the expected outcome (outcome = ...) or the outcomes allowed (any_of = [...])".into()));
                        None
                    }
                }
            }),
            _ => read_outcomes(reader, v, Some(count)).map(|outcome| Expected { outcome, alternatives: Vec::new(), documented: None }),
        };
        if let (Some(target), Some(value)) = (target, expected) {
            entries.push((Keyed { target, value }, key));
        }
    }
    check_overlaps(reader, &entries);
    check_restated(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}

/// The key a ranged expectation falls back to: the same backend's bare key (MariaDB:
/// else MySQL's bare key).
fn fallback<'e, T>(entries: &'e [(Keyed<T>, Located<String>)], ranged: &Keyed<T>) -> Option<&'e (Keyed<T>, Located<String>)> {
    let bare = |b: Backend| entries.iter().find(|(k, _)| k.target.backend == b && k.target.range.is_any());
    bare(ranged.target.backend).or_else(|| (ranged.target.backend == Backend::Mariadb).then(|| bare(Backend::Mysql)).flatten())
}

/// A documented expectation for a version range that says what its backend's bare key
/// says adds only a citation: that belongs in `documented`.
fn check_restated(reader: &Reader<'_>, entries: &[(Keyed<Expected>, Located<String>)]) {
    for (e, key) in entries {
        if e.value.documented.is_none() || e.target.range.is_any() {
            continue;
        }
        if let Some((bare, bare_key)) = fallback(entries, e) {
            if bare.value.outcome == e.value.outcome && bare.value.alternatives == e.value.alternatives {
                reader.error(
                    key.span.clone(),
                    format!("`{}` restates the outcome of `{}`; only its documentation is new", key.value, bare_key.value),
                    Some(format!("the citation alone, in the probe's documented = {{ \"{}\" = \"...\" }}; an expectation here only where the documentation predicts another outcome", key.value)),
                );
            }
        }
    }
}

/// `documented = { selector = "source" }`: where the documentation for targets that do
/// not run here comes from, for targets whose outcome the other keys already give. A key
/// that has a plain expectation of its own takes the citation into that expectation.
fn read_documented(reader: &Reader<'_>, value: &Value<'_>, expect: &mut [Keyed<Expected>], var: Var<'_>) -> Vec<Keyed<String>> {
    let Some(table) = reader.as_table(value, "documented") else { return Vec::new() };
    let mut entries: Vec<(Keyed<String>, Located<String>)> = Vec::new();
    for (key, v) in var.entries(reader, &table) {
        let (Some(target), Some(source)) = (read_selector(reader, &key), reader.string(v, "the documentation cited")) else { continue };
        if source.value.trim().is_empty() {
            reader.error(source.span.clone(), "an empty citation", Some("the document and section the outcome is taken from".into()));
            continue;
        }
        if let Some(own) = expect.iter_mut().find(|e| e.target.text == target.text) {
            if own.value.documented.is_some() {
                reader.error(key.span.clone(), format!("`{}` is cited twice: here and in its expectation", key.value), Some("one citation, in the expectation or in documented".into()));
            } else {
                own.value.documented = Some(source.value);
            }
            continue;
        }
        let covered = expect.iter().any(|e| {
            (e.target.backend == target.backend && (e.target.range.is_any() || e.target.range.overlaps(&target.range)))
                || (target.backend == Backend::Mariadb && e.target.backend == Backend::Mysql && e.target.range.is_any())
        });
        if !covered {
            reader.error(
                key.span.clone(),
                format!("`{}` cites documentation for an outcome the probe does not expect", key.value),
                Some(format!("an expectation for {} in [probe.expect] (a bare key, or this key with its documented outcome)", target.backend)),
            );
            continue;
        }
        entries.push((Keyed { target, value: source.value }, key));
    }
    check_overlaps(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}

/// `not_applicable`: reasons by selector, and `others`, the reason for every backend that
/// no key of the probe's expectations or reasons names.
fn read_not_applicable(reader: &Reader<'_>, value: &Value<'_>, var: Var<'_>) -> (Vec<Keyed<String>>, Option<Located<String>>) {
    let Some(table) = reader.as_table(value, "not_applicable") else { return (Vec::new(), None) };
    let mut entries = Vec::new();
    let mut others = None;
    for (key, v) in var.entries(reader, &table) {
        if key.value == "others" {
            others = reader.string(v, "the reason");
            continue;
        }
        if let (Some(target), Some(reason)) = (read_selector(reader, &key), reader.string(v, "the reason")) {
            entries.push((Keyed { target, value: reason.value }, key));
        }
    }
    check_overlaps(reader, &entries);
    (entries.into_iter().map(|(k, _)| k).collect(), others)
}

/// A table of reasons keyed by backend selector (`not_applicable`, `undefined`).
fn read_reasons(reader: &Reader<'_>, value: &Value<'_>, what: &'static str, var: Var<'_>) -> Vec<Keyed<String>> {
    let Some(table) = reader.as_table(value, what) else { return Vec::new() };
    let mut entries = Vec::new();
    for (key, v) in var.entries(reader, &table) {
        if let (Some(target), Some(reason)) = (read_selector(reader, &key), reader.string(v, "the reason")) {
            entries.push((Keyed { target, value: reason.value }, key));
        }
    }
    check_overlaps(reader, &entries);
    entries.into_iter().map(|(k, _)| k).collect()
}

/// One copy of a parameterised or permuted probe.
#[derive(Debug, Clone)]
struct VariantSpec {
    /// Written in `[...]` after keys that hold for this copy only.
    key: String,
    id: String,
    isolation: Option<Isolation>,
    journal_mode: Option<String>,
    /// A variant of `param.sqlite`: SQLite's transaction mode (`deferred`, `immediate`,
    /// `exclusive`); its journal mode is `journal_mode`.
    sqlite_begin: Option<String>,
    /// The probe has `param.sqlite` beside `param.isolation`.
    sqlite_split: bool,
    /// The step names in the order this copy runs them.
    order: Option<Vec<String>>,
}

/// The variant a probe is read for, and the keys of all its variants.
#[derive(Clone, Copy)]
struct Var<'a> {
    this: Option<&'a VariantSpec>,
    keys: &'a [String],
}

impl<'a> Var<'a> {
    const NONE: Var<'static> = Var { this: None, keys: &[] };

    /// A table's entries as they hold for this variant: `key[v]` stands in for `key`
    /// in variant `v` and is left out of the others.
    fn entries<'v, 'f>(&self, reader: &Reader<'_>, table: &Table<'v, 'f>) -> Vec<(Located<String>, &'v Value<'f>)> {
        let all: Vec<(Located<String>, &'v Value<'f>)> = table.entries().collect();
        let mut for_this = Vec::new();
        let mut plain = Vec::new();
        for (key, v) in all {
            let Some((base, variant)) = key.value.strip_suffix(']').and_then(|k| k.split_once('[')) else {
                plain.push((key, v));
                continue;
            };
            let (base, variant) = (base.trim().to_string(), variant.trim());
            if !self.keys.iter().any(|k| k == variant) {
                let expected = if self.keys.is_empty() {
                    "a key without [...]: the probe has no param or permutations".to_string()
                } else {
                    format!("one of the probe's variants in [...]: {}", self.keys.join(", "))
                };
                reader.error(key.span.clone(), format!("`{}` names no variant of this probe", key.value), Some(expected));
                continue;
            }
            if self.this.is_some_and(|t| t.key == variant) {
                for_this.push((Located::new(base, key.span.clone()), v));
            }
        }
        plain.retain(|(k, _)| !for_this.iter().any(|(o, _)| o.value == k.value));
        plain.extend(for_this);
        plain
    }
}

/// SQLite's transaction modes (`BEGIN DEFERRED` is its plain `BEGIN`).
const SQLITE_BEGINS: [&str; 3] = ["deferred", "immediate", "exclusive"];

/// Journal modes SQLite knows.
const JOURNAL_MODES: [&str; 6] = ["delete", "truncate", "persist", "memory", "wal", "off"];

/// The copies a `[[probe]]` stands for: one per value of `param.isolation`,
/// `param.journal_mode` or `param.values`, or one per step order of `permutations`;
/// none for a plain probe. Ids are `ids[i]`, or the written id, `_` and the variant.
fn read_variants(mut t: Table<'_, '_>) -> Vec<VariantSpec> {
    let reader = t.reader;
    let id = t.get("id").and_then(|v| match v.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        _ => None,
    });
    let param = t.get("param");
    let permutations = t.get("permutations");
    let ids = t.get("ids");
    let head = t.span.start..t.span.start;
    let mut variants: Vec<VariantSpec> = Vec::new();
    let blank = |key: String| VariantSpec { key, id: String::new(), isolation: None, journal_mode: None, sqlite_begin: None, sqlite_split: false, order: None };
    match (param, permutations) {
        (Some(_), Some(_)) => {
            reader.error(head.clone(), "a probe with both `param` and `permutations`", Some("one of them; write two probes for both".into()));
            return Vec::new();
        }
        (Some(p), None) => {
            let Some(mut table) = reader.as_table(p, "param") else { return Vec::new() };
            let kinds = [table.get("isolation"), table.get("journal_mode"), table.get("values"), table.get("sqlite")];
            let pspan = table.span.clone();
            table.finish();
            let given: Vec<(usize, &Value<'_>)> = kinds.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
            // `sqlite` stands alone or beside `isolation`; the others alone.
            let sqlite_split = given.iter().any(|(k, _)| *k == 3);
            if given.is_empty() || (given.len() > 1 && !matches!(given.as_slice(), [(0, _), (3, _)])) {
                reader.error(pspan, "`param` names one parameter", Some("one of: isolation = [...], journal_mode = [...], values = [...], sqlite = [...]; or isolation and sqlite".into()));
                return Vec::new();
            }
            let mut lists = Vec::new();
            for (kind, values) in &given {
                let Some(values) = reader.strings(values, "parameter values") else { return Vec::new() };
                lists.push((*kind, values));
            }
            for (kind, v) in lists.iter().flat_map(|(k, vs)| vs.iter().map(move |v| (*k, v))) {
                let mut spec = blank(v.value.clone());
                match kind {
                    0 => match Isolation::parse(&v.value) {
                        Some(level) => spec.isolation = Some(level),
                        None => reader.error(v.span.clone(), format!("unknown isolation level `{}`", v.value), Some(Isolation::NAMES.into())),
                    },
                    1 if JOURNAL_MODES.contains(&v.value.to_ascii_lowercase().as_str()) => spec.journal_mode = Some(v.value.to_ascii_lowercase()),
                    1 => reader.error(v.span.clone(), format!("unknown journal mode `{}`", v.value), Some(JOURNAL_MODES.join(", "))),
                    3 => match v.value.to_ascii_lowercase().split_once(' ') {
                        Some((mode, journal)) if SQLITE_BEGINS.contains(&mode) && JOURNAL_MODES.contains(&journal.trim()) => {
                            spec.sqlite_begin = Some(mode.to_string());
                            spec.journal_mode = Some(journal.trim().to_string());
                            // A session's `isolation = "param"` is SQLite's one level.
                            spec.isolation = Some(Isolation::Serializable);
                        }
                        _ => reader.error(
                            v.span.clone(),
                            format!("invalid SQLite variant `{}`", v.value),
                            Some(format!("a transaction mode ({}) and a journal mode ({}), e.g. \"immediate wal\"", SQLITE_BEGINS.join(", "), JOURNAL_MODES.join(", "))),
                        ),
                    },
                    _ if v.value.trim().is_empty() || v.value.contains(['[', ']']) => {
                        reader.error(v.span.clone(), format!("invalid parameter value `{}`", v.value), Some("a short name without [ or ]".into()))
                    }
                    _ => {}
                }
                if variants.iter().any(|x| x.key == spec.key) {
                    reader.error(v.span.clone(), format!("the value `{}` twice", v.value), Some("different parameter values".into()));
                }
                spec.sqlite_split = sqlite_split;
                variants.push(spec);
            }
        }
        (None, Some(p)) => {
            let DeValue::Array(orders) = p.get_ref() else {
                reader.wrong_type(p.span(), p.get_ref(), "an array of step orders, e.g. [[\"a\", \"b\"], [\"b\", \"a\"]] (permutations)");
                return Vec::new();
            };
            let names: Vec<Option<String>> = t
                .get("step")
                .map(|s| match s.get_ref() {
                    DeValue::Array(steps) => steps
                        .iter()
                        .map(|st| match st.get_ref() {
                            DeValue::Table(tb) => tb.get("name").and_then(|n| match n.get_ref() {
                                DeValue::String(s) => Some(s.to_string()),
                                _ => None,
                            }),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                })
                .unwrap_or_default();
            if names.iter().any(Option::is_none) {
                reader.error(p.span(), "permutations of steps without a name", Some("name = \"...\" on every step of a probe with permutations".into()));
                return Vec::new();
            }
            let names: Vec<String> = names.into_iter().flatten().collect();
            for (i, n) in names.iter().enumerate() {
                if names[..i].contains(n) {
                    reader.error(p.span(), format!("two steps are named `{n}`"), Some("step names used once in a probe".into()));
                    return Vec::new();
                }
            }
            for order in orders.iter() {
                let Some(steps) = reader.strings(order, "step names") else { continue };
                if steps.is_empty() {
                    reader.error(order.span(), "an empty permutation", Some("the names of the steps to run, in order".into()));
                    continue;
                }
                for (i, s) in steps.iter().enumerate() {
                    if !names.contains(&s.value) {
                        reader.error(s.span.clone(), format!("no step is named `{}`", s.value), Some(format!("one of the probe's steps: {}", names.join(", "))));
                    } else if steps[..i].iter().any(|x| x.value == s.value) {
                        reader.error(s.span.clone(), format!("step `{}` twice in one permutation", s.value), Some("each step at most once".into()));
                    }
                }
                let order: Vec<String> = steps.into_iter().map(|s| s.value).collect();
                let key = order.join("_");
                if variants.iter().any(|v| v.key == key) {
                    reader.error(p.span(), format!("the permutation `{key}` twice"), Some("different step orders".into()));
                }
                variants.push(VariantSpec { order: Some(order), ..blank(key) });
            }
            if variants.is_empty() {
                reader.error(p.span(), "no permutations", Some("at least one step order".into()));
            }
        }
        (None, None) => {
            if let Some(i) = ids {
                reader.error(i.span(), "`ids` on a probe without `param` or `permutations`", Some("ids beside param or permutations, one per variant".into()));
            }
            return Vec::new();
        }
    }
    let given_ids = ids.and_then(|v| reader.strings(v, "probe ids"));
    if let Some(given) = &given_ids {
        if given.len() != variants.len() {
            let span = ids.map(|v| v.span()).unwrap_or(head);
            reader.error(span, format!("{} ids for {} variants", given.len(), variants.len()), Some(format!("{} ids, one per variant in order", variants.len())));
            return Vec::new();
        }
        for g in given {
            if !is_probe_id(&g.value) {
                reader.error(g.span.clone(), format!("invalid probe id `{}`", g.value), Some("lower-case letters, digits and _".into()));
            }
        }
    }
    let base = id.unwrap_or_default();
    for (i, v) in variants.iter_mut().enumerate() {
        v.id = match &given_ids {
            Some(g) => g[i].value.clone(),
            None => {
                let slug: String = v.key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
                format!("{base}_{slug}")
            }
        };
    }
    variants
}
