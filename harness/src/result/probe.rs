//! Probe definitions and claim checks as recorded in the results file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backends::Backend;
use crate::outcome::Outcome;
use crate::suite::{Action, Probe, Sql};
use crate::version::Version;

/// A probe as the results file records it: enough to render its page without the suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub id: String,
    pub area: String,
    pub asks: String,
    pub note: Option<String>,
    /// `suites/locking.toml:12`
    pub defined_at: String,
    pub claims: Vec<ClaimRecord>,
    /// Setup SQL by dialect key (`default`, `mysql`, ...).
    pub setup: BTreeMap<String, Vec<String>>,
    pub steps: Vec<StepSpec>,
    /// Expected outcomes by target selector (`mysql>=8.0.1`).
    pub expect: BTreeMap<String, Vec<Outcome>>,
    /// Further outcomes an expectation allows (`any_of`), by target selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub any_of: BTreeMap<String, Vec<Vec<Outcome>>>,
    /// The vendor documentation the suite cites, by target selector: for expectations
    /// that are not measured here, and for versions whose documented outcome is the one
    /// their backend's other keys give. Whether a version was measured is the run's to
    /// say (a target of it in the results).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub documented: BTreeMap<String, String>,
    pub not_applicable: BTreeMap<String, String>,
    /// Where dbcompat cannot run the probe, by target selector, with the reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsupported: BTreeMap<String, String>,
    /// The isolation anomaly the probe tests for, if it is one of those probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyRecord>,
    /// The framework feature flag the probe measures, if it is one of those probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub django: Option<FlagRecord>,
}

/// A probe's `[probe.django]`, as the report's flags page reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagRecord {
    pub flag: String,
    /// Observations that mean the server has the capability (as `AnomalyRecord::occurs`).
    pub capable: Vec<Vec<Option<Outcome>>>,
    pub gate: String,
    /// The flag's value per release, in the suite's order of releases.
    pub says: Vec<ReleaseValues>,
    /// Why the flag and the server disagree, by target selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub explain: BTreeMap<String, String>,
}

/// The entry of a map keyed by selector text (as results files keep them) for a target,
/// chosen as `suite::select` chooses (a ranged key beats a bare one).
fn select_by_text<'a, T>(map: &'a BTreeMap<String, T>, backend: Backend, version: Option<&Version>) -> Option<&'a T> {
    let keyed: Vec<crate::suite::Keyed<&T>> = map
        .iter()
        .filter_map(|(k, v)| crate::suite::Selector::parse(k).ok().map(|target| crate::suite::Keyed { target, value: v }))
        .collect();
    crate::suite::select(&keyed, backend, version).map(|k| k.value)
}

/// What one release of the framework sets the flag to, by target selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseValues {
    pub release: crate::suite::FrameworkRelease,
    pub values: BTreeMap<String, bool>,
}

impl FlagRecord {
    /// The flag's value in a release on a target: `None` where no key of the release
    /// names the target (a backend the framework has no backend for).
    pub fn value(&self, release: &ReleaseValues, backend: Backend, version: Option<&Version>) -> Option<bool> {
        select_by_text(&release.values, backend, version).copied()
    }

    /// The suite's explanation of a disagreement on this target, if it gives one.
    pub fn explanation(&self, backend: Backend, version: Option<&Version>) -> Option<&str> {
        select_by_text(&self.explain, backend, version).map(String::as_str)
    }

    /// Whether the observation shows the capability.
    pub fn capable(&self, outcome: &[Outcome]) -> bool {
        crate::outcome::matches_pattern(&self.capable, outcome)
    }
}

/// A probe's `anomaly`, as the report's anomalies page reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    /// `G0`, `G1a`, ... `G2`.
    pub name: String,
    /// The probe id written in the suite (the variants share it).
    pub probe: String,
    /// The variant's parameter: an isolation level, or SQLite's transaction and journal
    /// mode (`immediate wal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Observations that mean the anomaly happened: alternatives, one outcome per outcome
    /// step each, `null` where any outcome of that step will do.
    pub occurs: Vec<Vec<Option<Outcome>>>,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepSpec {
    pub session: String,
    /// `sql`, `cursor NAME`, `fetch NAME` or `restart`.
    pub action: String,
    pub sql: BTreeMap<String, Vec<String>>,
    pub outcome: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub source: String,
    pub section: String,
    pub text: String,
    /// What the document says each target does, by selector.
    pub predicts: BTreeMap<String, Vec<Outcome>>,
    /// Which outcomes and columns the claim is about (1-based; all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<usize>,
    #[serde(default)]
    pub hedged: bool,
}

/// Whether a claim's prediction held on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCheck {
    /// Index into the probe's claims.
    pub claim: usize,
    pub selector: String,
    pub predicted: Vec<Outcome>,
    /// The part of the outcome the claim is about, when that is not the whole outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Vec<Outcome>>,
    pub holds: bool,
    /// A hedged claim: holding means consistent, not holding means not observed.
    #[serde(default)]
    pub hedged: bool,
}

fn sql_map(sql: &Sql) -> BTreeMap<String, Vec<String>> {
    sql.by_dialect.iter().map(|(d, statements)| (d.clone(), statements.iter().map(ToString::to_string).collect())).collect()
}

impl ProbeRecord {
    pub fn from_probe(p: &Probe) -> Self {
        ProbeRecord {
            id: p.id.clone(),
            area: p.area.clone(),
            asks: p.asks.clone(),
            note: p.note.clone(),
            defined_at: format!("{}:{}", p.file.display(), p.line),
            claims: p
                .claims
                .iter()
                .map(|c| ClaimRecord {
                    source: c.source.clone(),
                    section: c.section.clone(),
                    text: c.text.clone(),
                    predicts: c.predicts.iter().map(|k| (k.target.text.clone(), k.value.clone())).collect(),
                    outcomes: c.outcomes.clone(),
                    columns: c.columns.clone(),
                    hedged: c.hedged,
                })
                .collect(),
            setup: sql_map(&p.setup),
            steps: p
                .steps
                .iter()
                .map(|s| {
                    let (action, sql) = match &s.action {
                        Action::Sql(sql) => ("sql".to_string(), sql_map(sql)),
                        Action::Cursor { name, sql: Some(sql), streamed: true, .. } => (format!("streamed cursor {name}"), sql_map(sql)),
                        Action::Cursor { name, sql: Some(sql), .. } => (format!("cursor {name}"), sql_map(sql)),
                        Action::Cursor { name, close: true, .. } => (format!("close {name}"), BTreeMap::new()),
                        Action::Cursor { name, sql: None, .. } => (format!("fetch {name}"), BTreeMap::new()),
                        Action::Restart(kind) => (kind.name().to_string(), BTreeMap::new()),
                    };
                    StepSpec { session: s.session.clone(), action, sql, outcome: s.outcome }
                })
                .collect(),
            expect: p.expect.iter().map(|k| (k.target.text.clone(), k.value.outcome.clone())).collect(),
            any_of: p
                .expect
                .iter()
                .filter(|k| !k.value.alternatives.is_empty())
                .map(|k| (k.target.text.clone(), k.value.alternatives.clone()))
                .collect(),
            documented: p
                .expect
                .iter()
                .filter_map(|k| k.value.documented.clone().map(|d| (k.target.text.clone(), d)))
                .chain(p.documented.iter().map(|k| (k.target.text.clone(), k.value.clone())))
                .collect(),
            not_applicable: p.not_applicable.iter().map(|k| (k.target.text.clone(), k.value.clone())).collect(),
            unsupported: p.unsupported.iter().map(|k| (k.target.text.clone(), k.value.clone())).collect(),
            anomaly: p.anomaly.as_ref().map(|a| AnomalyRecord {
                name: a.name.clone(),
                probe: p.variant.as_ref().map_or_else(|| p.id.clone(), |v| v.base_id.clone()),
                level: p.variant.as_ref().map(|v| v.key.clone()),
                occurs: a.occurs.clone(),
                read_only: a.read_only,
            }),
            django: p.django.as_ref().map(|f| FlagRecord {
                flag: f.flag.clone(),
                capable: f.capable.clone(),
                gate: f.gate.clone(),
                says: f
                    .says
                    .iter()
                    .map(|(release, values)| ReleaseValues { release: release.clone(), values: values.iter().map(|k| (k.target.text.clone(), k.value)).collect() })
                    .collect(),
                explain: f.explain.iter().map(|k| (k.target.text.clone(), k.value.clone())).collect(),
            }),
        }
    }
}

/// Checks every claim that predicts an outcome for this target against what happened.
pub fn check_claims(p: &Probe, backend: Backend, version: Option<&Version>, outcome: &[Outcome]) -> Vec<ClaimCheck> {
    p.claims
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let k = crate::suite::select(&c.predicts, backend, version)?;
            let about = c.about(outcome);
            // A prediction that names no warning is about the result, not about what
            // the server said beside it.
            let names_diagnostics = k.value.iter().any(Outcome::says_anything_beside);
            let compared: Vec<Outcome> = if names_diagnostics { about.clone() } else { about.iter().map(Outcome::without_said).collect() };
            let holds = k.value == compared;
            let observed = (about != outcome).then_some(about);
            Some(ClaimCheck { claim: i, selector: k.target.text.clone(), predicted: k.value.clone(), observed, holds, hedged: c.hedged })
        })
        .collect()
}
