//! Which (probe × target) cases a run holds, in a stable order.

use std::sync::Arc;

use crate::suite::{Probe, Suite};

#[derive(Clone)]
pub struct Case {
    pub probe: Arc<Probe>,
    /// Index into the run's targets.
    pub target: usize,
    /// `area::probe::target`, as in `cargo test`.
    pub name: String,
}

/// Every probe on every target, suite by suite, probe by probe, target by target,
/// keeping those whose name contains any filter (all, when there are none).
pub fn plan(suites: &[Suite], target_ids: &[String], filters: &[String]) -> Vec<Case> {
    let mut cases = Vec::new();
    for probe in suites.iter().flat_map(|s| &s.probes) {
        for (target, id) in target_ids.iter().enumerate() {
            let name = format!("{}::{}::{id}", probe.area, probe.id);
            if filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())) {
                cases.push(Case { probe: probe.clone(), target, name });
            }
        }
    }
    cases
}
