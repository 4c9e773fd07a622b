//! What `dbcompat run` shows on the terminal: targets as they start, progress while
//! cases run (a reporter of the run's events), and the summary at the end.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::outcome::joined;
use crate::redact;
use crate::result::{RunResults, Verdict};
use crate::run::events::{Event, EventKind, Reporter};

/// On a terminal, a live block with one line per target (cases done of total,
/// failures, time left); otherwise one plain line per case, for CI logs. Target starts
/// and warnings are lines of their own on stderr.
pub struct ConsoleProgress {
    terminal: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    targets: Vec<TargetProgress>,
    /// When the first case started (the time shown counts from there).
    cases_since: Option<std::time::Duration>,
}

struct TargetProgress {
    id: String,
    done: usize,
    total: usize,
    failures: usize,
}

impl Default for ConsoleProgress {
    fn default() -> Self {
        ConsoleProgress { terminal: std::io::stderr().is_terminal(), state: Mutex::new(State::default()) }
    }
}

impl Reporter for ConsoleProgress {
    fn report(&self, event: &Event<'_>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut err = std::io::stderr().lock();
        match &event.kind {
            EventKind::RunStarted { cases, targets } => {
                state.targets = targets
                    .iter()
                    .enumerate()
                    .map(|(i, id)| TargetProgress { id: id.clone(), done: 0, total: cases.iter().filter(|c| c.target == i).count(), failures: 0 })
                    .filter(|t| t.total > 0)
                    .collect();
            }
            EventKind::TargetReady { target } => {
                let _ = writeln!(err, "target {}: ready ({})", target.id, redact::text(&target.launch));
            }
            EventKind::TargetNotRun { target, reason } => {
                let _ = writeln!(err, "target {}: not run: {}", target.id, redact::text(reason));
            }
            EventKind::Warning { message } => {
                let _ = writeln!(err, "warning: {}", redact::text(message));
            }
            EventKind::CaseFinished { result, done, total } => {
                let (done, total) = (*done, *total);
                if let Some(t) = state.targets.iter_mut().find(|t| t.id == result.target) {
                    t.done += 1;
                    t.failures += usize::from(result.verdict.is_failure());
                }
                if !self.terminal {
                    let _ = writeln!(err, "[{done}/{total}] {:<14} {} ({:.0} ms)", result.verdict.label(), result.name(), result.duration_ms);
                    return;
                }
                // Redraw the block in place: move up over the previous one, rewrite each line.
                if done > 1 {
                    let _ = write!(err, "\x1b[{}A", state.targets.len() + 1);
                }
                let elapsed = event.elapsed.saturating_sub(state.cases_since.unwrap_or_default()).as_secs_f64();
                for t in state.targets.iter() {
                    let eta = if t.done == 0 || t.done == t.total { String::new() } else { format!("~{:.0} s left", elapsed / t.done as f64 * (t.total - t.done) as f64) };
                    let _ = writeln!(err, "\x1b[2K  {:<16} {:>4}/{:<4} {:>3} failing  {eta}", t.id, t.done, t.total, t.failures);
                }
                let _ = writeln!(err, "\x1b[2K  {done}/{total} cases, {:.1} s", elapsed);
            }
            EventKind::CaseStarted { .. } => {
                state.cases_since.get_or_insert(event.elapsed);
            }
            EventKind::StepBlocked { .. } | EventKind::RunFinished { .. } => {}
        }
    }
}

/// Failures, errors and new observations case by case, then the tally per target and
/// in total (on stdout).
pub fn print_summary(results: &RunResults) {
    for c in &results.cases {
        match &c.verdict {
            Verdict::Fail { expected, observed } => {
                println!("FAIL  {}\n      expected {}\n      observed {}", c.name(), joined(expected, " | "), joined(observed, " | "))
            }
            Verdict::Error { reason } => println!("ERROR {}\n      {reason}", c.name()),
            Verdict::NoExpectation => println!("NEW   {}  observed {}", c.name(), joined(c.outcome.as_deref().unwrap_or_default(), " | ")),
            _ => {}
        }
    }
    for t in &results.targets {
        let mine = RunResults { cases: results.cases.iter().filter(|c| c.target == t.id).cloned().collect(), ..results.clone() };
        println!("{:<16} {}", t.id, mine.tally());
    }
    println!("total            {}", results.tally());
}
