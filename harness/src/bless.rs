//! Record mode: observed outcomes become expectations for targets that have none.
//!
//! Suite files are edited in place with `toml_edit`, keeping their formatting and
//! comments, so the change can be read as a diff before it is committed. Nothing a
//! suite already expects is changed, and documented expectations are never touched.
//!
//! Keys: where every target of a backend that ran agrees, one bare key (`postgres`);
//! otherwise one key per version (`"postgres=17"`, `"mariadb=10.11"`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use crate::outcome::Outcome;
use crate::backends::Backend;
use crate::result::{RunResults, Verdict};
use crate::suite::{Probe, Selector, Suite};
use crate::version::Version;

/// One expectation written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blessed {
    pub file: PathBuf,
    /// The probe's `id` as written in the file (a parameterised or permuted probe's
    /// copies share one; their keys then carry the copy's `[variant]`).
    pub probe: String,
    pub key: String,
    pub outcome: Vec<Outcome>,
}

/// Works out which expectations to add for every probe the results observed.
pub fn plan(results: &RunResults, suites: &[Suite]) -> Vec<Blessed> {
    let versions: BTreeMap<&str, (Backend, Option<Version>)> = results
        .targets
        .iter()
        .map(|t| (t.id.as_str(), (t.backend, t.server_version.as_deref().and_then(Version::parse))))
        .collect();
    let mut out = Vec::new();
    for probe in suites.iter().flat_map(|s| &s.probes) {
        // Per backend: what each version without an expectation observed.
        let mut observed: BTreeMap<Backend, Vec<(Version, Vec<Outcome>)>> = BTreeMap::new();
        let mut judged: BTreeMap<Backend, bool> = BTreeMap::new();
        for case in results.cases.iter().filter(|c| c.probe == probe.id) {
            let Some((backend, Some(version))) = versions.get(case.target.as_str()).cloned() else { continue };
            match (&case.verdict, &case.outcome) {
                (Verdict::NoExpectation, Some(outcome)) => observed.entry(backend).or_default().push((version, outcome.clone())),
                (Verdict::Pass | Verdict::Fail { .. }, _) => {
                    judged.insert(backend, true);
                }
                _ => {}
            }
        }
        // A copy of a parameterised or permuted probe gets keys for its variant only.
        let (table_id, suffix) = match &probe.variant {
            Some(v) => (v.base_id.clone(), format!("[{}]", v.key)),
            None => (probe.id.clone(), String::new()),
        };
        for (backend, seen) in observed {
            let has_keys = probe.expect.iter().any(|e| e.target.backend == backend) || judged.contains_key(&backend);
            let all_agree = seen.windows(2).all(|w| w[0].1 == w[1].1);
            if !has_keys && all_agree {
                out.push(Blessed { file: probe.file.clone(), probe: table_id.clone(), key: format!("{backend}{suffix}"), outcome: seen[0].1.clone() });
                continue;
            }
            let mut keys: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
            for (version, outcome) in seen {
                keys.entry(backend.dialect().version_key(&version)).or_insert(outcome);
            }
            for (key, outcome) in keys {
                if fits(probe, &key) {
                    out.push(Blessed { file: probe.file.clone(), probe: table_id.clone(), key: format!("{key}{suffix}"), outcome });
                }
            }
        }
    }
    out
}

/// A new version key must not overlap a range the probe already has.
fn fits(probe: &Probe, key: &str) -> bool {
    let Ok(new) = Selector::parse(key) else { return false };
    !probe.expect.iter().any(|e| e.target.backend == new.backend && !e.target.range.is_any() && e.target.range.overlaps(&new.range))
}

/// Writes the planned expectations into the suite files.
pub fn apply(blessed: &[Blessed]) -> Result<(), String> {
    let mut by_file: BTreeMap<&Path, Vec<&Blessed>> = BTreeMap::new();
    for b in blessed {
        by_file.entry(&b.file).or_default().push(b);
    }
    for (file, entries) in by_file {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut doc: DocumentMut = text.parse().map_err(|e| format!("{}: {e}", file.display()))?;
        let probes = doc
            .get_mut("probe")
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(|| format!("{}: no [[probe]] tables", file.display()))?;
        for b in entries {
            let probe = probes
                .iter_mut()
                .find(|p| p.get("id").and_then(Item::as_str) == Some(b.probe.as_str()))
                .ok_or_else(|| format!("{}: no probe `{}`", file.display(), b.probe))?;
            if probe.get("expect").is_none() {
                probe.insert("expect", Item::Table(Table::new()));
            }
            let expect = probe["expect"].as_table_like_mut().ok_or_else(|| format!("{}: `expect` of `{}` is not a table", file.display(), b.probe))?;
            let value = match b.outcome.as_slice() {
                [one] => Value::from(one.to_string()),
                many => Value::Array(many.iter().map(ToString::to_string).collect::<Array>()),
            };
            expect.insert(&b.key, Item::Value(value));
        }
        let tmp = file.with_extension("toml.tmp");
        std::fs::write(&tmp, doc.to_string()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{CaseResult, RunSettings, TargetRecord, SCHEMA_VERSION};
    use crate::source::SourceFile;

    fn case(probe: &str, target: &str, outcome: &str) -> CaseResult {
        CaseResult { outcome: Some(vec![outcome.parse().unwrap()]), ..CaseResult::new(probe, "a", "s", target) }
    }

    fn target(id: &str, backend: Backend, version: &str) -> TargetRecord {
        TargetRecord { id: id.into(), backend, server_version: Some(version.into()), launch: "x".into(), not_run: None }
    }

    fn run(targets: Vec<TargetRecord>, cases: Vec<CaseResult>) -> RunResults {
        RunResults {
            schema_version: SCHEMA_VERSION,
            dbcompat_version: "t".into(),
            started_at: String::new(),
            finished_at: String::new(),
            host: String::new(),
            settings: RunSettings { blocking_window_ms: 0, step_timeout_ms: 0, filters: vec![], shard: None, repeat: 1, profile: Default::default() },
            interrupted: None,
            targets,
            probes: vec![],
            cases,
            bisections: vec![],
        }
    }

    #[test]
    fn agreeing_versions_get_one_key_and_differing_ones_one_each() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        let text = "area = \"a\"\n\n[[probe]]\nid = \"p\"\nasks = \"?\"\n[[probe.step]]\nsql = \"SELECT 1\"\n[probe.expect]\nsqlite = \"rows:(1)\" # measured\n";
        std::fs::write(&file, text).unwrap();
        let (suite, d) = crate::suite::parse(&SourceFile::new(&file, text.into()));
        assert!(d.is_empty(), "{d}");
        let results = run(
            vec![
                target("pg16", Backend::Postgres, "16.4"),
                target("pg17", Backend::Postgres, "17.2 (Debian)"),
                target("m1", Backend::Mariadb, "10.11.6-MariaDB"),
                target("m2", Backend::Mariadb, "11.8.2-MariaDB"),
            ],
            vec![case("p", "pg16", "rows:(1)"), case("p", "pg17", "rows:(1)"), case("p", "m1", "ok"), case("p", "m2", "rows:(2)")],
        );
        let planned = plan(&results, &[suite]);
        let keys: Vec<&str> = planned.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, ["postgres", "mariadb=10.11", "mariadb=11.8"]);
        apply(&planned).unwrap();
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.contains("sqlite = \"rows:(1)\" # measured"), "comments and existing keys stay:\n{written}");
        assert!(written.contains("postgres = \"rows:(1)\""), "{written}");
        assert!(written.contains("\"mariadb=10.11\" = \"ok\""), "{written}");
        let (again, d) = crate::suite::parse(&SourceFile::new(&file, written));
        assert!(d.is_empty(), "the blessed file loads: {d}");
        assert_eq!(again.probes[0].expect.len(), 4);
    }

    #[test]
    fn a_copy_of_a_parameterised_probe_gets_a_key_for_its_variant() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        let text = "area = \"a\"\n\n[[probe]]\nid = \"p\"\nparam.journal_mode = [\"delete\", \"wal\"]\nasks = \"?\"\ndocumented = { \"postgres=13\" = \"PostgreSQL 13 manual\" }\n[[probe.step]]\nsql = \"SELECT 1\"\n[probe.expect]\n\"sqlite[wal]\" = \"rows:(1)\"\npostgres = \"rows:(1)\"\n";
        std::fs::write(&file, text).unwrap();
        let (suite, d) = crate::suite::parse(&SourceFile::new(&file, text.into()));
        assert!(d.is_empty(), "{d}");
        let results = run(vec![target("s", Backend::Sqlite, "3.46.0")], vec![case("p_delete", "s", "error:busy")]);
        let planned = plan(&results, &[suite]);
        assert_eq!(planned.iter().map(|b| (b.probe.as_str(), b.key.as_str())).collect::<Vec<_>>(), [("p", "sqlite[delete]")]);
        apply(&planned).unwrap();
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.contains("\"sqlite[delete]\" = \"error:busy\""), "{written}");
        assert!(!written.contains("documented = \"PostgreSQL 13"), "the citation is not restated as an outcome: {written}");
        let (again, d) = crate::suite::parse(&SourceFile::new(&file, written));
        assert!(d.is_empty(), "the blessed file loads: {d}");
        let delete = again.probes.iter().find(|p| p.id == "p_delete").unwrap();
        assert_eq!(crate::outcome::joined(&delete.expected_for(Backend::Sqlite, None).unwrap().value.outcome, ""), "error:busy");
    }
}
