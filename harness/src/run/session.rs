//! A whole run: the plan of (probe × target) cases, their targets, and the complete
//! [`RunResults`] at the end. `dbcompat run` and the `cargo test` runner both run
//! through it, so both record the same results; what they show while it goes is up to
//! the [`Reporter`](super::events::Reporter)s they subscribe.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use super::events::{EventKind, Reporters};
use super::interpreter::Timing;
use super::interrupt::{self, Interrupt};
use super::plan::{plan, shard, with_profile, Case};
use crate::profile::Profile;
use crate::matrix::{Launch, TargetSpec};
use crate::result::{CaseResult, ProbeRecord, RunResults, RunSettings};
use crate::suite::{Probe, Suite};
use crate::targets::container;

/// How a run goes: its waits, which cases, and how often each runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub timing: Timing,
    /// Only cases whose name contains one of these (all, when empty).
    pub filters: Vec<String>,
    /// Shard K of N (1-based).
    pub shard: Option<(usize, usize)>,
    /// How many times each case runs; outcomes that vary make it flaky.
    pub repeat: usize,
    /// One case and one target start at a time.
    pub sequential: bool,
    /// The profile of every probe that names none (`--profile`); `None`: the server's defaults.
    pub profile: Option<Profile>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { timing: Timing::default(), filters: Vec::new(), shard: None, repeat: 1, sequential: false, profile: None }
    }
}

/// No case matches the filters, targets and shard given: a run would test nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingToRun;

impl std::fmt::Display for NothingToRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no case matches the filters and targets given: nothing to test")
    }
}

/// Runs every planned case on the chosen targets and returns the complete results.
///
/// Containers that dead runs left are removed first (when a target runs in one). Only
/// the targets the plan needs are started. When `interrupt` is set, no case starts,
/// running ones are abandoned, each case kept from running is recorded as not run
/// (saying so), every container of this process is removed, and the results say which
/// signal stopped the run.
pub async fn run(
    suites: &[Suite],
    specs: Vec<TargetSpec>,
    options: RunOptions,
    interrupt: Arc<Interrupt>,
    reporters: Reporters,
) -> Result<RunResults, NothingToRun> {
    let session = Arc::new(Session::new(suites, specs, options, interrupt, reporters));
    if session.cases().is_empty() {
        return Err(NothingToRun);
    }
    session.prepare().await;
    session.start_targets().await;
    session.run_all().await;
    Ok(session.finish().await)
}

/// A run in progress. [`run`] drives one from start to end; the `cargo test` runner
/// drives its cases one by one, as test trials.
pub struct Session {
    pool: Arc<super::TargetPool>,
    cases: Vec<Case>,
    target_ids: Vec<String>,
    probes: Vec<Arc<Probe>>,
    options: RunOptions,
    interrupt: Arc<Interrupt>,
    reporters: Reporters,
    uses_containers: bool,
    started_at: String,
    done: std::sync::atomic::AtomicUsize,
    results: Mutex<Vec<Option<CaseResult>>>,
}

impl Session {
    /// Plans the run (filters, then the shard) and tells the reporters; starts nothing.
    pub fn new(suites: &[Suite], specs: Vec<TargetSpec>, options: RunOptions, interrupt: Arc<Interrupt>, reporters: Reporters) -> Session {
        let uses_containers = specs.iter().any(|t| matches!(t.launch, Launch::Container { .. }));
        let mut pool = super::TargetPool::new(specs, options.timing)
            .with_repeat(options.repeat)
            .with_interrupt(interrupt.clone())
            .with_reporters(reporters.clone());
        if options.sequential {
            pool = pool.sequential();
        }
        let target_ids = pool.planned_ids();
        let profiled;
        let suites = match options.profile {
            Some(profile) => {
                profiled = with_profile(suites, profile);
                &profiled[..]
            }
            None => suites,
        };
        let mut cases = plan(suites, &target_ids, &options.filters);
        if let Some((k, n)) = options.shard {
            cases = shard(cases, k, n);
        }
        let results = Mutex::new((0..cases.len()).map(|_| None).collect());
        let session = Session {
            pool: Arc::new(pool),
            cases,
            target_ids,
            probes: suites.iter().flat_map(|s| s.probes.iter().cloned()).collect(),
            options,
            interrupt,
            reporters,
            uses_containers,
            started_at: now(),
            done: Default::default(),
            results,
        };
        session.reporters.emit(EventKind::RunStarted { cases: &session.cases, targets: &session.target_ids });
        session
    }

    /// The planned cases, in plan order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Removes the containers that dbcompat runs of this host left when they died, if
    /// this run starts containers itself.
    pub async fn prepare(&self) {
        if self.uses_containers {
            container::remove_orphans_before_run().await;
        }
    }

    /// Starts the targets the plan needs (concurrently unless sequential). Cases start
    /// their target themselves when it was not started before.
    pub async fn start_targets(&self) {
        let needed: std::collections::BTreeSet<usize> = self.cases.iter().map(|c| c.target).collect();
        self.pool.launch_some(&needed.into_iter().collect::<Vec<_>>()).await;
    }

    /// Runs case `index` of the plan (waiting for its turn on its target), records its
    /// result and tells the reporters.
    pub async fn run_case(&self, index: usize) -> CaseResult {
        let case = &self.cases[index];
        let result = self.pool.run(&case.probe, case.target).await;
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        self.reporters.emit(EventKind::CaseFinished { result: &result, done, total: self.cases.len() });
        self.results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(result.clone());
        result
    }

    /// Runs every case of the plan concurrently (each waits for its turn on its target).
    pub async fn run_all(self: &Arc<Self>) {
        let mut set = JoinSet::new();
        for index in 0..self.cases.len() {
            let session = self.clone();
            set.spawn(async move {
                session.run_case(index).await;
            });
        }
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined {
                self.reporters.emit(EventKind::Warning { message: &format!("a case task failed: {e}") });
            }
        }
    }

    /// Ends the run: shuts the targets down (on an interrupt, removes every container of
    /// this process at once instead) and returns the results of the cases that ran, in
    /// plan order, scrubbed of secrets.
    pub async fn finish(&self) -> RunResults {
        if self.interrupt.is_set() {
            // Fast and complete: every container of this process, started or half
            // started, removed by force; the targets' own shut-down would wait on them.
            if self.uses_containers {
                let warning = match tokio::time::timeout(interrupt::REMOVAL_BOUND, container::remove_all_of_this_process()).await {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(format!("containers may be left behind ({e}); the next run or `dbcompat clean` removes them")),
                    Err(_) => Some("the container engine did not remove this run's containers in time; the next run or `dbcompat clean` removes them".to_string()),
                };
                if let Some(message) = warning {
                    self.reporters.emit(EventKind::Warning { message: &message });
                }
            }
        } else {
            self.pool.shut_down().await;
        }
        let cases: Vec<CaseResult> = self.results.lock().unwrap_or_else(|p| p.into_inner()).iter().flatten().cloned().collect();
        let results = RunResults {
            schema_version: crate::result::SCHEMA_VERSION,
            dbcompat_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: self.started_at.clone(),
            finished_at: now(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            settings: RunSettings {
                blocking_window_ms: millis(self.options.timing.blocking_window),
                step_timeout_ms: millis(self.options.timing.step_timeout),
                filters: self.options.filters.clone(),
                shard: self.options.shard.map(|(k, n)| format!("{k}/{n}")),
                repeat: self.options.repeat,
                profile: self.options.profile.unwrap_or_default(),
            },
            interrupted: self.interrupt.signal().map(|s| s.name().to_string()),
            targets: self.pool.records(),
            probes: self.probes.iter().filter(|p| cases.iter().any(|c| c.probe == p.id)).map(|p| ProbeRecord::from_probe(p)).collect(),
            cases,
            bisections: Vec::new(),
        }
        .scrubbed(); // before anything is shown or written
        self.reporters.emit(EventKind::RunFinished { results: &results });
        results
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::Backend;
    use crate::result::Verdict;
    use crate::run::events::{Event, Reporter};
    use crate::source::SourceFile;

    /// Each event as one line, in the order the run sent them.
    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Reporter for Log {
        fn report(&self, event: &Event<'_>) {
            let line = match &event.kind {
                EventKind::RunStarted { cases, targets } => format!("run started: {} case(s) on {}", cases.len(), targets.join(",")),
                EventKind::TargetReady { target } => format!("target ready: {}", target.id),
                EventKind::TargetNotRun { target, reason } => format!("target not run: {} ({reason})", target.id),
                EventKind::CaseStarted { case, attempt, .. } => format!("case started: {case} #{attempt}"),
                EventKind::StepBlocked { case, step, session } => format!("step blocked: {case} step {step} on {session}"),
                EventKind::CaseFinished { result, done, total } => format!("case finished: {} {} [{done}/{total}]", result.name(), result.verdict.label()),
                EventKind::Warning { message } => format!("warning: {message}"),
                EventKind::RunFinished { results } => format!("run finished: {} case(s)", results.cases.len()),
            };
            self.0.lock().unwrap().push(line);
        }
    }

    const SUITE: &str = r#"
area = "tiny"

[[probe]]
id = "one"
asks = "?"
[[probe.step]]
sql = "SELECT 1"
[probe.expect]
sqlite = "rows:(1)"

[[probe]]
id = "waits"
asks = "?"
setup = "CREATE TABLE t (v INTEGER)"
sessions.a = {}
sessions.b = { init = ["PRAGMA busy_timeout = 5000"] }
[[probe.step]]
session = "a"
sql = ["BEGIN IMMEDIATE", "INSERT INTO t VALUES (1)"]
[[probe.step]]
session = "b"
sql = "BEGIN IMMEDIATE"
[[probe.step]]
session = "a"
sql = "COMMIT"
[[probe.step]]
session = "b"
sql = ["COMMIT", "SELECT count(*) FROM t"]
"#;

    fn suites() -> Vec<Suite> {
        let (suite, d) = crate::suite::parse(&SourceFile::new("tiny.toml", SUITE.into()));
        assert!(d.is_empty(), "{d}");
        vec![suite]
    }

    fn sqlite() -> TargetSpec {
        TargetSpec { name: "sqlite".into(), backend: Backend::Sqlite, launch: Launch::Embedded, default: true, enabled: true, line: 1 }
    }

    #[tokio::test]
    async fn a_run_tells_its_reporters_each_step_and_returns_complete_results() {
        let log = Arc::new(Log::default());
        let options = RunOptions { timing: Timing { blocking_window: Duration::from_millis(100), ..Timing::default() }, ..RunOptions::default() };
        let results = run(&suites(), vec![sqlite()], options, Interrupt::new(), Reporters::new(vec![log.clone()])).await.unwrap();
        let lines = log.0.lock().unwrap().clone();
        let id = crate::targets::planned_id(&sqlite());
        assert_eq!(lines[0], format!("run started: 2 case(s) on {id}"));
        assert_eq!(lines[1], format!("target ready: {id}"));
        assert_eq!(lines.last().unwrap(), "run finished: 2 case(s)");
        for case in [format!("tiny::one::{id}"), format!("tiny::waits::{id}")] {
            let started = lines.iter().position(|l| *l == format!("case started: {case} #1")).expect("started");
            let finished = lines.iter().position(|l| l.starts_with(&format!("case finished: {case} "))).expect("finished");
            assert!(started < finished, "{lines:#?}");
        }
        let blocked = lines.iter().position(|l| *l == format!("step blocked: tiny::waits::{id} step 2 on b")).expect("blocked");
        assert!(blocked < lines.iter().position(|l| l.starts_with(&format!("case finished: tiny::waits::{id}"))).unwrap(), "{lines:#?}");
        assert_eq!(lines.iter().filter(|l| l.starts_with("case finished")).count(), 2);
        assert!(lines.iter().any(|l| l.ends_with("[2/2]")), "{lines:#?}");

        assert_eq!(results.cases.len(), 2);
        assert_eq!(results.cases[0].verdict, Verdict::Pass);
        assert_eq!(results.cases[1].verdict, Verdict::NoExpectation);
        assert_eq!(results.cases[1].outcome.as_deref().map(|o| crate::outcome::joined(o, "|")).as_deref(), Some("rows:(1)"));
        assert!(results.cases[1].transcript.iter().any(|s| s.blocked), "the second session waited");
        assert_eq!(results.targets.len(), 1);
        assert_eq!(results.probes.len(), 2);
        assert_eq!(results.settings.blocking_window_ms, 100);
        assert_eq!(results.interrupted, None);
    }

    #[tokio::test]
    async fn filters_and_shards_plan_the_run_and_nothing_to_run_is_refused() {
        let only = RunOptions { filters: vec!["::one::".into()], ..RunOptions::default() };
        let results = run(&suites(), vec![sqlite()], only, Interrupt::new(), Reporters::default()).await.unwrap();
        assert_eq!(results.cases.len(), 1);
        assert_eq!(results.settings.filters, ["::one::"]);
        let second = RunOptions { shard: Some((2, 2)), ..RunOptions::default() };
        let results = run(&suites(), vec![sqlite()], second, Interrupt::new(), Reporters::default()).await.unwrap();
        assert_eq!(results.cases.iter().map(|c| c.probe.as_str()).collect::<Vec<_>>(), ["waits"]);
        assert_eq!(results.settings.shard.as_deref(), Some("2/2"));
        let none = RunOptions { filters: vec!["nothing-is-called-this".into()], ..RunOptions::default() };
        assert_eq!(run(&suites(), vec![sqlite()], none, Interrupt::new(), Reporters::default()).await.unwrap_err(), NothingToRun);
    }

    #[tokio::test]
    async fn an_interrupted_run_records_every_case_it_kept_from_running() {
        let interrupt = Interrupt::new();
        interrupt.trigger(interrupt::StopSignal::Terminate);
        let log = Arc::new(Log::default());
        let results = run(&suites(), vec![sqlite()], RunOptions::default(), interrupt, Reporters::new(vec![log.clone()])).await.unwrap();
        assert_eq!(results.interrupted.as_deref(), Some("SIGTERM"));
        assert_eq!(results.cases.len(), 2);
        for c in &results.cases {
            assert!(matches!(&c.verdict, Verdict::NotRun { reason } if reason.contains("interrupted (SIGTERM)")), "{:?}", c.verdict);
        }
        assert!(!log.0.lock().unwrap().iter().any(|l| l.starts_with("case started")));
    }

    /// The `cargo test` runner's way: one trial per case, then `finish`, with a
    /// `ResultsFile` subscribed (as `DBCOMPAT_RESULTS` does).
    #[test]
    fn trial_by_trial_the_results_file_is_written_when_the_run_finishes() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (into_dir, into_file) = (dir.path().join("out"), dir.path().join("named.json"));
        let writers = [Arc::new(crate::result::ResultsFile::new(&into_dir)), Arc::new(crate::result::ResultsFile::new(&into_file))];
        let reporters = Reporters::new(writers.iter().map(|w| w.clone() as Arc<dyn Reporter>).collect());
        let session = Session::new(&suites(), vec![sqlite()], RunOptions::default(), Interrupt::new(), reporters);
        runtime.block_on(session.prepare());
        // A trial filter may leave cases out: the file holds those that ran.
        let ran = session.cases().iter().position(|c| c.name.contains("::one::")).unwrap();
        assert_eq!(runtime.block_on(session.run_case(ran)).verdict, Verdict::Pass);
        assert!(writers[0].written().is_none(), "nothing is written before the run finishes");
        runtime.block_on(session.finish());
        assert_eq!(writers[0].written(), Some(Ok(into_dir.join("results.json"))));
        assert_eq!(writers[1].written(), Some(Ok(into_file.clone())));
        for path in [into_dir.join("results.json"), into_file] {
            let read = RunResults::read(&path).unwrap();
            assert_eq!(read.cases.len(), 1);
            assert_eq!(read.cases[0].probe, "one");
            assert_eq!(read.probes.len(), 1);
            assert_eq!(read.targets.len(), 1);
        }
        assert!(into_dir.join(crate::report::SITE_MARKER).exists(), "a directory of dbcompat's own, as `run --out` makes");
        // A path that cannot be written is reported, not a panic.
        let unwritable = Arc::new(crate::result::ResultsFile::new(dir.path().join("named.json").join("x.json")));
        let session = Session::new(&suites(), vec![sqlite()], RunOptions::default(), Interrupt::new(), Reporters::new(vec![unwritable.clone()]));
        runtime.block_on(session.finish());
        assert!(matches!(unwritable.written(), Some(Err(e)) if e.contains("cannot write")), "{:?}", unwritable.written());
    }
}
