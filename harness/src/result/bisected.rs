//! What `dbcompat bisect` found, kept in a results file so that reports can say where a
//! probe's behaviour changed more narrowly than the run's own targets can.

use serde::{Deserialize, Serialize};

use crate::backends::Backend;

/// One version a bisection ran: the server's version and the name its source gives it
/// (a libsqlite3-sys release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectedVersion {
    pub version: String,
    pub source_version: String,
}

/// Where one probe's outcome changes among the versions a source can obtain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectRecord {
    pub probe: String,
    pub backend: Backend,
    /// Where the versions came from, in words.
    pub source: String,
    /// The last version with the old outcome and the first with the new; both `None`
    /// when the two ends agree: no change was found between them (it may have changed
    /// and changed back; a binary search cannot tell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_old: Option<BisectedVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_new: Option<BisectedVersion>,
    pub old_outcome: String,
    pub new_outcome: String,
    /// False when a version between the ends showed a third outcome.
    pub monotone: bool,
    /// How many versions this probe's search ran, of how many listed.
    pub versions_run: usize,
    pub versions_listed: usize,
}

impl BisectRecord {
    /// The line `dbcompat bisect` prints.
    pub fn describe(&self) -> String {
        let name = |v: &BisectedVersion| format!("{} {} ({})", self.backend, v.version, v.source_version);
        match (&self.last_old, &self.first_new) {
            (Some(a), Some(b)) => format!(
                "{}: `{}` until {}, `{}` from {}{}; {} of {} versions run",
                self.probe,
                self.old_outcome,
                name(a),
                self.new_outcome,
                name(b),
                if self.monotone { "" } else { " (not monotone: a version between the ends showed a third outcome)" },
                self.versions_run,
                self.versions_listed
            ),
            _ => format!(
                "{}: `{}` at both ends: no change found between them; {} of {} versions run",
                self.probe, self.old_outcome, self.versions_run, self.versions_listed
            ),
        }
    }
}

/// `records` with `found` added, replacing what an earlier bisection of the same probe
/// and backend found. Kept sorted by backend and probe so the file diffs well.
pub fn merge_bisections(records: &mut Vec<BisectRecord>, found: Vec<BisectRecord>) {
    records.retain(|r| !found.iter().any(|f| f.probe == r.probe && f.backend == r.backend));
    records.extend(found);
    records.sort_by(|a, b| (a.backend.name(), &a.probe).cmp(&(b.backend.name(), &b.probe)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(probe: &str, old: &str, new: &str) -> BisectRecord {
        let v = |s: &str| Some(BisectedVersion { version: s.into(), source_version: format!("crate {s}") });
        BisectRecord {
            probe: probe.into(),
            backend: Backend::Sqlite,
            source: "test".into(),
            last_old: v(old),
            first_new: v(new),
            old_outcome: "error:syntax".into(),
            new_outcome: "ok".into(),
            monotone: true,
            versions_run: 5,
            versions_listed: 40,
        }
    }

    #[test]
    fn a_new_bisection_replaces_the_old_one_of_its_probe_only() {
        let mut records = vec![record("b", "3.30", "3.31"), record("a", "3.1", "3.2")];
        merge_bisections(&mut records, vec![record("b", "3.34.0", "3.35.0")]);
        let got: Vec<(&str, &str)> = records.iter().map(|r| (r.probe.as_str(), r.last_old.as_ref().unwrap().version.as_str())).collect();
        assert_eq!(got, [("a", "3.1"), ("b", "3.34.0")]);
    }

    #[test]
    fn describe_names_both_versions_and_the_cost() {
        assert_eq!(
            record("p", "3.34.0", "3.35.0").describe(),
            "p: `error:syntax` until sqlite 3.34.0 (crate 3.34.0), `ok` from sqlite 3.35.0 (crate 3.35.0); 5 of 40 versions run"
        );
    }
}
