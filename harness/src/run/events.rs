//! What a run tells the world while it goes: typed events, handed to every [`Reporter`]
//! that subscribed. The terminal progress view, the `cargo test` runner's results file
//! and tests all subscribe; none of them takes part in running cases.

use std::sync::Arc;
use std::time::Duration;

use crate::result::{CaseResult, RunResults, TargetRecord};

use super::plan::Case;

/// One thing that happened in a run, and when (since the run started).
#[derive(Debug)]
pub struct Event<'a> {
    pub elapsed: Duration,
    pub kind: EventKind<'a>,
}

#[derive(Debug)]
pub enum EventKind<'a> {
    /// The cases of the run, in plan order, and the planned names of its targets
    /// (`Case::target` indexes them). Sent once, before anything starts.
    RunStarted { cases: &'a [Case], targets: &'a [String] },
    /// A target started and takes cases.
    TargetReady { target: &'a TargetRecord },
    /// A target could not start: each of its cases is not run, for this reason.
    TargetNotRun { target: &'a TargetRecord, reason: &'a str },
    /// A case got its turn on its target and starts (`attempt` counts from 1; above 1
    /// only with `--repeat`).
    CaseStarted { case: &'a str, target: &'a str, attempt: usize },
    /// A step of a running case did not finish within the blocking window and waits
    /// (for a lock, as far as the server can tell); the case goes on with its next step.
    StepBlocked { case: &'a str, step: usize, session: &'a str },
    /// A case has its verdict. `done` cases of `total` are finished.
    CaseFinished { result: &'a CaseResult, done: usize, total: usize },
    /// Something went wrong beside the cases (e.g. containers that may be left behind).
    Warning { message: &'a str },
    /// The run is over; these are its results, scrubbed of secrets.
    RunFinished { results: &'a RunResults },
}

/// Subscribes to a run's events. Called from the run's tasks, possibly at the same
/// time from several: an implementation keeps its own state behind a lock.
pub trait Reporter: Send + Sync {
    fn report(&self, event: &Event<'_>);
}

/// Hands every event to each subscriber in turn, with the run's clock.
#[derive(Clone)]
pub struct Reporters {
    started: std::time::Instant,
    subscribers: Arc<Vec<Arc<dyn Reporter>>>,
}

impl Default for Reporters {
    fn default() -> Self {
        Reporters::new(Vec::new())
    }
}

impl Reporters {
    pub fn new(subscribers: Vec<Arc<dyn Reporter>>) -> Self {
        Reporters { started: std::time::Instant::now(), subscribers: Arc::new(subscribers) }
    }

    pub fn emit(&self, kind: EventKind<'_>) {
        if self.subscribers.is_empty() {
            return;
        }
        let event = Event { elapsed: self.started.elapsed(), kind };
        for s in self.subscribers.iter() {
            s.report(&event);
        }
    }
}

impl std::fmt::Debug for Reporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reporters({})", self.subscribers.len())
    }
}
