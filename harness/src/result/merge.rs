//! Combining results files (shards of one run, or runs on different machines) into one.
//!
//! Nothing is hidden: files of another schema version are refused, and a case or a
//! target that two files disagree about is a conflict, reported instead of silently
//! keeping one side.

use std::collections::BTreeMap;

use super::{CaseResult, RunResults, SCHEMA_VERSION};

#[derive(Debug, Default)]
pub struct MergeReport {
    /// The same case in two files with the same outcome (e.g. overlapping shards).
    pub duplicates: Vec<String>,
    /// The same case or target in two files, disagreeing.
    pub conflicts: Vec<String>,
}

/// Merges runs; the result keeps the earliest start, the latest end, and every case in
/// a stable order (by probe order of the first file that has it, then target).
pub fn merge(runs: Vec<RunResults>) -> Result<(RunResults, MergeReport), String> {
    let mut report = MergeReport::default();
    let mut runs = runs.into_iter();
    let mut merged = runs.next().ok_or("nothing to merge")?;
    if merged.schema_version != SCHEMA_VERSION {
        return Err(format!("schema version {} cannot be merged by this dbcompat (it reads {SCHEMA_VERSION})", merged.schema_version));
    }
    let mut cases: BTreeMap<(String, String), CaseResult> = BTreeMap::new();
    for c in std::mem::take(&mut merged.cases) {
        cases.insert((c.probe.clone(), c.target.clone()), c);
    }
    for run in runs {
        if run.schema_version != SCHEMA_VERSION {
            return Err(format!("schema version {} cannot be merged by this dbcompat (it reads {SCHEMA_VERSION})", run.schema_version));
        }
        merged.started_at = merged.started_at.min(run.started_at);
        merged.finished_at = merged.finished_at.max(run.finished_at);
        // One interrupted shard makes the whole incomplete.
        merged.interrupted = merged.interrupted.take().or(run.interrupted);
        if !merged.host.split(", ").any(|h| h == run.host) {
            merged.host = format!("{}, {}", merged.host, run.host);
        }
        for t in run.targets {
            match merged.targets.iter().find(|x| x.id == t.id) {
                None => merged.targets.push(t),
                Some(x) if x.server_version == t.server_version && x.not_run == t.not_run => {}
                Some(x) => report.conflicts.push(format!(
                    "target {}: {:?} in one file, {:?} in another",
                    t.id,
                    x.server_version.as_deref().or(x.not_run.as_deref()),
                    t.server_version.as_deref().or(t.not_run.as_deref())
                )),
            }
        }
        for p in run.probes {
            if !merged.probes.iter().any(|x| x.id == p.id) {
                merged.probes.push(p);
            }
        }
        super::merge_bisections(&mut merged.bisections, run.bisections);
        for c in run.cases {
            let key = (c.probe.clone(), c.target.clone());
            match cases.get(&key) {
                None => {
                    cases.insert(key, c);
                }
                Some(x) if x.outcome == c.outcome && x.verdict == c.verdict => report.duplicates.push(c.name()),
                Some(x) => report.conflicts.push(format!(
                    "{}: {} ({}) in one file, {} ({}) in another",
                    c.name(),
                    x.verdict.label(),
                    crate::outcome::joined(x.outcome.as_deref().unwrap_or_default(), " | "),
                    c.verdict.label(),
                    crate::outcome::joined(c.outcome.as_deref().unwrap_or_default(), " | ")
                )),
            }
        }
    }
    let probe_order: BTreeMap<&str, usize> = merged.probes.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let target_order: BTreeMap<&str, usize> = merged.targets.iter().enumerate().map(|(i, t)| (t.id.as_str(), i)).collect();
    let mut all: Vec<CaseResult> = cases.into_values().collect();
    all.sort_by_key(|c| (probe_order.get(c.probe.as_str()).copied(), target_order.get(c.target.as_str()).copied()));
    merged.cases = all;
    Ok((merged, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{RunSettings, TargetRecord};

    fn run(host: &str, cases: &[(&str, &str, &str)]) -> RunResults {
        RunResults {
            schema_version: SCHEMA_VERSION,
            dbcompat_version: "test".into(),
            started_at: format!("2026-01-01T00:00:0{}Z", host.len() % 10),
            finished_at: "2026-01-01T00:01:00Z".into(),
            host: host.into(),
            settings: RunSettings { blocking_window_ms: 300, step_timeout_ms: 10_000, filters: vec![], shard: None, repeat: 1, profile: Default::default() },
            interrupted: None,
            targets: cases
                .iter()
                .map(|(_, t, _)| TargetRecord { id: t.to_string(), backend: crate::backends::Backend::Sqlite, server_version: Some("3".into()), launch: "embedded".into(), not_run: None })
                .collect(),
            probes: vec![],
            cases: cases
                .iter()
                .map(|(p, t, o)| CaseResult { outcome: Some(vec![o.parse().unwrap()]), ..CaseResult::new(p, "a", "s", t) })
                .collect(),
            bisections: vec![],
        }
    }

    #[test]
    fn shards_merge_into_one_run() {
        let (m, r) = merge(vec![run("h1", &[("p1", "t1", "ok")]), run("h2", &[("p2", "t1", "ok")])]).unwrap();
        assert_eq!(m.cases.len(), 2);
        assert_eq!(m.targets.len(), 1);
        assert!(r.conflicts.is_empty() && r.duplicates.is_empty());
        assert_eq!(m.host, "h1, h2");
    }

    #[test]
    fn disagreements_are_conflicts_and_repeats_are_duplicates() {
        let (_, r) = merge(vec![run("h", &[("p1", "t1", "ok")]), run("h", &[("p1", "t1", "ok")]), run("h", &[("p1", "t1", "rows:(1)")])]).unwrap();
        assert_eq!(r.duplicates.len(), 1);
        assert_eq!(r.conflicts.len(), 1);
        assert!(r.conflicts[0].contains("rows:(1)"), "{:?}", r.conflicts);
    }

    #[test]
    fn another_schema_version_is_refused() {
        let mut old = run("h", &[]);
        old.schema_version = 0;
        assert!(merge(vec![run("h", &[]), old]).unwrap_err().contains("schema version 0"));
    }
}
