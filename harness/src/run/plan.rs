//! Which (probe × target) cases a run holds, in a stable order.

use std::sync::Arc;

use crate::profile::Profile;
use crate::suite::{Probe, Suite};

#[derive(Debug, Clone)]
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

/// The suites with `profile` for every probe that names none (a run's `--profile`).
pub fn with_profile(suites: &[Suite], profile: Profile) -> Vec<Suite> {
    let set = |p: &Arc<Probe>| match p.profile {
        Some(_) => p.clone(),
        None => Arc::new(Probe { profile: Some(profile), ..(**p).clone() }),
    };
    suites.iter().map(|s| Suite { path: s.path.clone(), probes: s.probes.iter().map(set).collect() }).collect()
}

/// A deterministic share of the cases: shard `k` of `n` (1-based). Cases are dealt to
/// the shards target by target with one running count, so every shard gets an even
/// share of every target's cases (targets differ in speed, so this balances the work,
/// where dealing in plan order would give each shard whole targets when `n` divides
/// their number). The shards together are exactly the plan; each keeps plan order.
pub fn shard(cases: Vec<Case>, k: usize, n: usize) -> Vec<Case> {
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| (cases[i].target, i));
    let mut mine = vec![false; cases.len()];
    for (dealt, &i) in order.iter().enumerate() {
        mine[i] = dealt % n == k - 1;
    }
    cases.into_iter().zip(mine).filter(|(_, m)| *m).map(|(c, _)| c).collect()
}

/// Parses `K/N` with 1 <= K <= N.
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (k, n) = text.split_once('/').ok_or("a shard is written K/N, e.g. 2/3")?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| "K is not a number")?, n.trim().parse().map_err(|_| "N is not a number")?);
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: K must be between 1 and N"));
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    #[test]
    fn shards_are_disjoint_balanced_and_complete() {
        let mut text = String::from("area = \"a\"\n");
        for i in 0..10 {
            text.push_str(&format!("[[probe]]\nid = \"p{i}\"\nasks = \"?\"\n[[probe.step]]\nsql = \"SELECT 1\"\n"));
        }
        let (suite, d) = crate::suite::parse(&SourceFile::new("s.toml", text));
        assert!(d.is_empty(), "{d}");
        let targets = vec!["t1".to_string(), "t2".to_string(), "t3".to_string()];
        let suites = vec![suite];
        let all: Vec<String> = plan(&suites, &targets, &[]).into_iter().map(|c| c.name).collect();
        let mut together: Vec<String> = Vec::new();
        for k in 1..=3 {
            let part: Vec<String> = shard(plan(&suites, &targets, &[]), k, 3).into_iter().map(|c| c.name).collect();
            assert_eq!(part.len(), 10, "30 cases split evenly");
            for t in &targets {
                assert!(part.iter().any(|n| n.ends_with(t.as_str())), "every shard has cases of {t}");
            }
            together.extend(part);
        }
        together.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(together, expected);
    }

    #[test]
    fn shard_syntax_is_checked() {
        assert_eq!(parse_shard("2/3"), Ok((2, 3)));
        assert!(parse_shard("0/3").is_err());
        assert!(parse_shard("4/3").is_err());
        assert!(parse_shard("3").is_err());
    }
}
