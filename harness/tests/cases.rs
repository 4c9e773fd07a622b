//! Every (probe × target) case as a test: `cargo test -p dbcompat --test cases -- locking`.
//!
//! Trials are named `area::probe::target`. A target that cannot run makes its cases
//! ignored, with the reason; a probe without an expectation for a target is ignored
//! with what was observed. Neither ever counts as a pass.
//!
//! `DBCOMPAT_MATRIX` names another matrix file (CI uses `ci/matrix.local.toml`);
//! `DBCOMPAT_TARGETS` (comma-separated matrix names, or `all`) chooses the targets, by
//! default every enabled one. With `DBCOMPAT_REQUIRE_ALL=1` a target that cannot run
//! fails its cases instead of being ignored: CI uses it so that a server that did not
//! start can never go unnoticed.
//!
//! With `DBCOMPAT_RESULTS=PATH` the run's results are written when the trials end, as
//! `dbcompat run` writes them: to PATH itself when it ends in `.json`, else to
//! `PATH/results.json` (a relative PATH is taken from the workspace). The file holds the
//! trials that ran (a filter leaves the others out).
//!
//! Trials mostly wait on servers, so unless `--test-threads` is given 16 run at once;
//! the first trials (one probe on every target) then start every target concurrently.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dbcompat::matrix::Matrix;
use dbcompat::result::{CaseResult, ResultsFile, Verdict};
use dbcompat::run::{interrupt, Interrupt, Reporter, Reporters, RunOptions, Session};
use dbcompat::suite;
use libtest_mimic::{Arguments, Completion, Failed, Trial};

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(16);
    }
    let require_all = std::env::var("DBCOMPAT_REQUIRE_ALL").is_ok_and(|v| v == "1");
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the crate sits in the workspace").into();
    // Relative to the workspace, wherever cargo runs the test from.
    let matrix_path = std::env::var_os("DBCOMPAT_MATRIX").map(|p| root.join(p)).unwrap_or_else(|| root.join("matrix.toml"));
    let loaded = (Matrix::load(&matrix_path), suite::load_dir(&root.join("suites")));
    let (matrix, suites) = match loaded {
        (Ok(m), Ok(s)) => (m, s),
        (m, s) => {
            // Invalid input is one failing trial that shows every diagnostic.
            let mut text = String::new();
            for d in [m.err(), s.err()].into_iter().flatten() {
                text.push_str(&d.to_string());
            }
            let trial = Trial::test("suites::load", move || Err(Failed::from(text)));
            libtest_mimic::run(&args, vec![trial]).exit();
        }
    };
    let wanted = std::env::var("DBCOMPAT_TARGETS").unwrap_or_default();
    let specs: Vec<_> = matrix
        .targets
        .iter()
        .filter(|t| match wanted.as_str() {
            "" | "all" => t.enabled,
            list => list.split(',').any(|n| n.trim() == t.name),
        })
        .cloned()
        .collect();

    let runtime = Arc::new(tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime"));
    // As `dbcompat run`: a signal stops the trials and removes the containers, and
    // containers that dead runs left are removed first.
    let interrupt = Interrupt::new();
    // `DBCOMPAT_RESULTS` names where the run's results are written: a `.json` file, or a
    // directory that gets `results.json` (as `dbcompat run --out`).
    let results_file = std::env::var_os("DBCOMPAT_RESULTS").filter(|p| !p.is_empty()).map(|p| Arc::new(ResultsFile::new(root.join(p))));
    let reporters: Vec<Arc<dyn Reporter>> = results_file.iter().map(|r| r.clone() as Arc<dyn Reporter>).collect();
    let session = Arc::new(Session::new(&suites, specs, RunOptions::default(), interrupt.clone(), Reporters::new(reporters)));
    runtime.block_on(async {
        interrupt::listen(interrupt.clone()).expect("signal handlers");
        session.prepare().await;
    });
    let trials = session
        .cases()
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let (runtime, session) = (runtime.clone(), session.clone());
            Trial::ignorable_test(case.name.clone(), move || {
                let result = runtime.block_on(session.run_case(index));
                if let (true, Verdict::NotRun { reason }) = (require_all, &result.verdict) {
                    return Err(Failed::from(format!("the target did not run (DBCOMPAT_REQUIRE_ALL=1): {reason}")));
                }
                completion(&result)
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Targets are shut down (containers removed, at once after a signal) and the results
    // of the trials that ran are written before the process exits.
    runtime.block_on(session.finish());
    let written = results_file.and_then(|r| r.written());
    match &written {
        Some(Ok(path)) => eprintln!("results: {}", path.display()),
        Some(Err(e)) => eprintln!("error: {e}"),
        None => {}
    }
    if let Some(signal) = interrupt.signal() {
        std::process::exit(i32::from(signal.exit_code()));
    }
    if matches!(written, Some(Err(_))) {
        std::process::exit(101);
    }
    conclusion.exit();
}

fn completion(result: &CaseResult) -> Result<Completion, Failed> {
    match &result.verdict {
        Verdict::Pass => Ok(Completion::Completed),
        Verdict::NoExpectation => Ok(Completion::ignored_with(format!(
            "no expectation for {}; observed {}",
            result.target,
            dbcompat::outcome::joined(result.outcome.as_deref().unwrap_or_default(), " | ")
        ))),
        // It ran, but nothing was promised: recorded, never a pass.
        Verdict::Undefined { reason } => Ok(Completion::ignored_with(format!(
            "undefined ({reason}); observed {}",
            dbcompat::outcome::joined(result.outcome.as_deref().unwrap_or_default(), " | ")
        ))),
        Verdict::NotApplicable { reason } => Ok(Completion::ignored_with(format!("not applicable: {reason}"))),
        Verdict::Unsupported { reason } => Ok(Completion::ignored_with(format!("not supported by dbcompat: {reason}"))),
        Verdict::NotRun { reason } => Ok(Completion::ignored_with(format!("not run: {reason}"))),
        Verdict::Fail { expected, observed } => Err(Failed::from(format!(
            "expected {}\nobserved {}\n{}",
            dbcompat::outcome::joined(expected, " | "),
            dbcompat::outcome::joined(observed, " | "),
            transcript(result)
        ))),
        Verdict::Error { reason } => Err(Failed::from(format!("{reason}\n{}", transcript(result)))),
        Verdict::Flaky { reason } => Err(Failed::from(format!("flaky: {reason}\n{}", transcript(result)))),
    }
}

/// The steps as they happened, for the failure message.
fn transcript(result: &CaseResult) -> String {
    let mut out = String::from("transcript:\n");
    for step in &result.transcript {
        let blocked = match (step.blocked, step.cancelled, step.completed_after_step) {
            (true, true, _) => " [blocked, cancelled]",
            (true, false, Some(_)) => " [blocked, then completed]",
            _ => "",
        };
        for s in &step.statements {
            out.push_str(&format!("  {:>2} {:<8} {}\n", step.step, step.session, s.sql));
        }
        out.push_str(&format!("           -> {}{blocked}\n", step.observation));
    }
    out
}
