//! Runs planned cases: concurrently across targets, and side by side on one target up
//! to its limit. A probe marked `runs_alone` takes its target for itself.

use std::sync::Arc;

use tokio::sync::{RwLock, Semaphore};
use tokio::task::JoinSet;

use super::interpreter::{run_case, Timing};
use super::plan::Case;
use crate::result::{judge, CaseResult, Verdict};
use crate::suite::Probe;
use crate::target::Launched;

/// Told about each case as it finishes (terminal progress, log lines).
pub trait Progress: Send + Sync {
    fn case_done(&self, result: &CaseResult, done: usize, total: usize);
}

/// Runs one probe on one launched target and judges it. Not-run targets and
/// not-applicable probes are recorded without touching a server.
pub async fn run_one(probe: &Probe, launched: &Launched, timing: &Timing) -> CaseResult {
    let record = &launched.record;
    let mut result = CaseResult {
        probe: probe.id.clone(),
        area: probe.area.clone(),
        suite: probe.file.display().to_string(),
        target: record.id.clone(),
        verdict: Verdict::NoExpectation,
        outcome: None,
        expected: None,
        expectation_key: None,
        expectation_documented: None,
        transcript: Vec::new(),
        duration_ms: 0.0,
    };
    let Some(target) = &launched.target else {
        result.verdict = Verdict::NotRun { reason: record.not_run.clone().unwrap_or_else(|| "the target did not start".into()) };
        return result;
    };
    let (backend, version) = (target.backend(), target.version());
    if let Some(e) = probe.expected_for(backend, Some(version)) {
        result.expected = Some(e.value.outcome.clone());
        result.expectation_key = Some(e.target.text.clone());
        result.expectation_documented = e.value.documented.clone();
    }
    if let Some(reason) = probe.not_applicable_for(backend, Some(version)) {
        result.verdict = Verdict::NotApplicable { reason: reason.to_string() };
        return result;
    }
    let run = run_case(probe, target.as_ref(), timing).await;
    result.verdict = judge(probe, backend, Some(version), &run.outcome);
    result.outcome = run.outcome.ok();
    result.transcript = run.transcript;
    result.duration_ms = run.duration.as_secs_f64() * 1000.0;
    result
}

/// Runs every case; results come back in plan order.
pub async fn execute(cases: Vec<Case>, targets: Arc<Vec<Launched>>, timing: Timing, progress: Arc<dyn Progress>) -> Vec<CaseResult> {
    let total = cases.len();
    let limits: Vec<Arc<Semaphore>> = targets.iter().map(|t| Arc::new(Semaphore::new(t.jobs.max(1)))).collect();
    let alone: Vec<Arc<RwLock<()>>> = targets.iter().map(|_| Arc::new(RwLock::new(()))).collect();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for (index, case) in cases.into_iter().enumerate() {
        let (targets, progress, done) = (targets.clone(), progress.clone(), done.clone());
        let (limit, alone) = (limits[case.target].clone(), alone[case.target].clone());
        set.spawn(async move {
            let launched = &targets[case.target];
            let result = if case.probe.runs_alone {
                let _only = alone.write().await;
                run_one(&case.probe, launched, &timing).await
            } else {
                let _shared = alone.read().await;
                let _slot = limit.acquire().await.expect("semaphores are never closed");
                run_one(&case.probe, launched, &timing).await
            };
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.case_done(&result, n, total);
            (index, result)
        });
    }
    let mut results: Vec<Option<CaseResult>> = (0..total).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => results[i] = Some(r),
            Err(e) => eprintln!("dbcompat: a case task failed: {e}"),
        }
    }
    results.into_iter().flatten().collect()
}
