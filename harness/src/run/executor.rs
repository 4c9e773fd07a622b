//! Runs planned cases: concurrently across targets, and side by side on one target up
//! to its limit. A probe marked `runs_alone` takes its target for itself.

use std::sync::Arc;

use tokio::sync::{OnceCell, RwLock, Semaphore};

use super::events::{EventKind, Reporters};
use super::interpreter::{run_case_watched, OnBlocked, Timing};
use super::interrupt::Interrupt;
use crate::matrix::TargetSpec;
use crate::result::{judge, CaseResult, OutcomeCount, TargetRecord, Verdict};
use crate::suite::Probe;
use crate::targets::{self, Launched};

/// One target of a run: started on first use, with the rules for sharing it.
struct Slot {
    spec: TargetSpec,
    launched: OnceCell<Launched>,
    /// Cases run side by side up to the target's job limit...
    jobs: OnceCell<Semaphore>,
    /// ...except `runs_alone` probes, which take the write side.
    alone: RwLock<()>,
}

/// The targets of a run. `dbcompat run` and the `cargo test` runner both go through it,
/// so both honour the same limits.
pub struct TargetPool {
    slots: Vec<Slot>,
    timing: Timing,
    /// How many times each case runs (`--repeat`); outcomes that vary make it flaky.
    repeat: usize,
    /// `--sequential`: one case at a time across all targets (for measuring what
    /// concurrency buys); targets are then also started one after another.
    sequential: Option<Semaphore>,
    /// Once set, no case starts and running ones are abandoned.
    interrupt: Arc<Interrupt>,
    /// Told when a target starts, and when a case starts or one of its steps blocks.
    reporters: Reporters,
}

impl TargetPool {
    pub fn new(specs: Vec<TargetSpec>, timing: Timing) -> Self {
        let slots = specs
            .into_iter()
            .map(|spec| Slot { spec, launched: OnceCell::new(), jobs: OnceCell::new(), alone: RwLock::new(()) })
            .collect();
        TargetPool { slots, timing, repeat: 1, sequential: None, interrupt: Interrupt::new(), reporters: Reporters::default() }
    }

    /// Tells `reporters` of targets as they start and of cases as they run.
    pub fn with_reporters(mut self, reporters: Reporters) -> Self {
        self.reporters = reporters;
        self
    }

    /// Resolves when the run is interrupted.
    pub async fn interrupted(&self) {
        self.interrupt.wait().await
    }

    /// Stops starting and running cases when `interrupt` is set.
    pub fn with_interrupt(mut self, interrupt: Arc<Interrupt>) -> Self {
        self.interrupt = interrupt;
        self
    }

    pub fn with_repeat(mut self, repeat: usize) -> Self {
        self.repeat = repeat.max(1);
        self
    }

    pub fn sequential(mut self) -> Self {
        self.sequential = Some(Semaphore::new(1));
        self
    }

    /// Names cases use, known before anything starts.
    pub fn planned_ids(&self) -> Vec<String> {
        self.slots.iter().map(|s| targets::planned_id(&s.spec)).collect()
    }

    /// Starts the target (once) and returns it, ready or not run.
    pub async fn launch(&self, index: usize) -> &Launched {
        let slot = &self.slots[index];
        slot.launched
            .get_or_init(|| async {
                let launched = targets::launch(&slot.spec).await;
                match &launched.record.not_run {
                    Some(reason) => self.reporters.emit(EventKind::TargetNotRun { target: &launched.record, reason }),
                    None => self.reporters.emit(EventKind::TargetReady { target: &launched.record }),
                }
                launched
            })
            .await
    }

    /// Starts every target concurrently.
    pub async fn launch_all(&self) -> Vec<&Launched> {
        let all: Vec<usize> = (0..self.slots.len()).collect();
        self.launch_some(&all).await
    }

    /// Starts the given targets, concurrently unless the pool is sequential. Returns
    /// early, with the targets ready so far, when the run is interrupted.
    pub async fn launch_some(&self, indices: &[usize]) -> Vec<&Launched> {
        tokio::select! {
            launched = self.launch_some_unbounded(indices) => launched,
            () = self.interrupt.wait() => indices.iter().filter_map(|&i| self.slots[i].launched.get()).collect(),
        }
    }

    async fn launch_some_unbounded(&self, indices: &[usize]) -> Vec<&Launched> {
        if self.sequential.is_some() {
            let mut out = Vec::new();
            for &i in indices {
                out.push(self.launch(i).await);
            }
            return out;
        }
        futures_util::future::join_all(indices.iter().map(|&i| self.launch(i))).await
    }

    /// Records of the targets that were launched (in matrix order).
    pub fn records(&self) -> Vec<TargetRecord> {
        self.slots.iter().filter_map(|s| s.launched.get().map(|l| l.record.clone())).collect()
    }

    /// Shuts down every target that was started (removing its container).
    pub async fn shut_down(&self) {
        let all = self.slots.iter().filter_map(|s| s.launched.get()).filter_map(|l| l.target.clone());
        futures_util::future::join_all(all.map(|t| async move { t.shut_down().await })).await;
    }

    /// Runs one probe on one target, waiting for its turn on that target; with
    /// `repeat` > 1, runs it that many times and reports varying outcomes as flaky.
    /// An interrupted run gives the case as not run, saying so.
    pub async fn run(&self, probe: &Probe, index: usize) -> CaseResult {
        let interrupted = |when: &str| {
            let id = targets::planned_id(&self.slots[index].spec);
            let mut r = CaseResult::new(&probe.id, &probe.area, &probe.file.display().to_string(), &id);
            let by = self.interrupt.signal().map_or("a signal", |s| s.name());
            r.verdict = Verdict::NotRun { reason: format!("the run was interrupted ({by}) {when}") };
            r
        };
        if self.interrupt.is_set() {
            return interrupted("before this case started");
        }
        tokio::select! {
            result = self.run_repeated(probe, index) => result,
            () = self.interrupt.wait() => interrupted("before this case finished (its sessions, if any, were closed)"),
        }
    }

    async fn run_repeated(&self, probe: &Probe, index: usize) -> CaseResult {
        let mut first = self.run_once(probe, index, 1).await;
        if self.repeat == 1 || first.outcome.is_none() && !matches!(first.verdict, Verdict::Error { .. }) {
            return first;
        }
        let mut seen: Vec<OutcomeCount> = vec![OutcomeCount { outcome: observed(&first), runs: 1 }];
        for attempt in 2..=self.repeat {
            let again = observed(&self.run_once(probe, index, attempt).await);
            match seen.iter_mut().find(|s| s.outcome == again) {
                Some(s) => s.runs += 1,
                None => seen.push(OutcomeCount { outcome: again, runs: 1 }),
            }
        }
        if seen.len() > 1 {
            let list: Vec<String> = seen.iter().map(|s| format!("{} ({}x)", s.outcome.join(" | "), s.runs)).collect();
            first.verdict = Verdict::Flaky { reason: format!("{} runs gave {}", self.repeat, list.join(", ")) };
            first.flaky = seen;
        }
        first
    }

    async fn run_once(&self, probe: &Probe, index: usize, attempt: usize) -> CaseResult {
        let launched = self.launch(index).await;
        let _global = match &self.sequential {
            Some(one) => Some(one.acquire().await.expect("semaphores are never closed")),
            None => None,
        };
        let target = &launched.record.id;
        let case = format!("{}::{}::{target}", probe.area, probe.id);
        let on_blocked = |step: usize, session: &str| self.reporters.emit(EventKind::StepBlocked { case: &case, step, session });
        let _turn = self.turn(index, probe.runs_alone).await;
        self.reporters.emit(EventKind::CaseStarted { case: &case, target, attempt });
        run_one_watched(probe, launched, &self.timing, &on_blocked).await
    }

    /// Waits for a turn on target `index`: side by side with other cases up to the
    /// target's job limit, or (`alone`, for a `runs_alone` probe) the target to itself.
    pub async fn turn(&self, index: usize, alone: bool) -> Turn<'_> {
        let launched = self.launch(index).await;
        let slot = &self.slots[index];
        let jobs = slot.jobs.get_or_init(|| async { Semaphore::new(launched.jobs.max(1)) }).await;
        if alone {
            Turn::Alone(slot.alone.write().await)
        } else {
            let shared = slot.alone.read().await;
            Turn::Shared(shared, jobs.acquire().await.expect("semaphores are never closed"))
        }
    }
}

/// A case's turn on a target, held while the case runs.
pub enum Turn<'a> {
    Shared(tokio::sync::RwLockReadGuard<'a, ()>, tokio::sync::SemaphorePermit<'a>),
    Alone(tokio::sync::RwLockWriteGuard<'a, ()>),
}

/// What a run observed: its outcome, or the reason it has none.
fn observed(r: &CaseResult) -> Vec<String> {
    match (&r.outcome, &r.verdict) {
        (Some(o), _) => o.iter().map(ToString::to_string).collect(),
        (None, Verdict::Error { reason }) => vec![format!("error: {reason}")],
        (None, v) => vec![v.label().to_string()],
    }
}

/// Runs one probe on one launched target and judges it. Not-run targets and
/// not-applicable probes are recorded without touching a server.
pub async fn run_one(probe: &Probe, launched: &Launched, timing: &Timing) -> CaseResult {
    run_one_watched(probe, launched, timing, &|_, _| {}).await
}

/// [`run_one`], telling `on_blocked` of each step that blocks.
pub async fn run_one_watched(probe: &Probe, launched: &Launched, timing: &Timing, on_blocked: OnBlocked<'_>) -> CaseResult {
    let record = &launched.record;
    let mut result = CaseResult::new(&probe.id, &probe.area, &probe.file.display().to_string(), &record.id);
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
    if let Some(reason) = probe.unsupported_for(backend, Some(version)) {
        result.verdict = Verdict::Unsupported { reason: reason.to_string() };
        return result;
    }
    let run = run_case_watched(probe, target.as_ref(), timing, on_blocked).await;
    result.verdict = judge(probe, backend, Some(version), &run.outcome);
    if let Ok(outcome) = &run.outcome {
        result.claims = crate::result::probe::check_claims(probe, backend, Some(version), outcome);
    }
    result.outcome = run.outcome.ok();
    result.transcript = run.transcript;
    result.duration_ms = run.duration.as_secs_f64() * 1000.0;
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::Backend;
    use crate::matrix::Launch;
    use crate::source::SourceFile;

    #[tokio::test]
    async fn a_limit_of_dbcompat_is_its_own_verdict_and_touches_no_server() {
        let text = "area = \"a\"\n\n[[probe]]\nid = \"p\"\nasks = \"?\"\n[[probe.step]]\nsql = \"SELECT 1\"\n[probe.unsupported]\nsqlite = \"dbcompat cannot do this here\"\n";
        let (suite, d) = crate::suite::parse(&SourceFile::new("s.toml", text.into()));
        assert!(d.is_empty(), "{d}");
        let spec = TargetSpec { name: "sqlite".into(), backend: Backend::Sqlite, launch: Launch::Embedded, default: true, enabled: true, line: 1 };
        let launched = targets::launch(&spec).await;
        let result = run_one(&suite.probes[0], &launched, &Timing::default()).await;
        assert_eq!(result.verdict, Verdict::Unsupported { reason: "dbcompat cannot do this here".into() });
        assert!(result.transcript.is_empty(), "nothing ran");
        assert!(!result.verdict.is_failure());
        let results = crate::result::RunResults {
            schema_version: crate::result::SCHEMA_VERSION,
            dbcompat_version: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            host: String::new(),
            settings: crate::result::RunSettings { blocking_window_ms: 0, step_timeout_ms: 0, filters: vec![], shard: None, repeat: 1, profile: Default::default() },
            interrupted: None,
            targets: vec![],
            probes: vec![],
            cases: vec![result],
            bisections: vec![],
        };
        let tally = results.tally();
        assert_eq!((tally.unsupported, tally.not_applicable), (1, 0), "counted apart from not applicable");
        assert!(tally.to_string().contains("1 not supported by dbcompat"), "{tally}");
    }
}
