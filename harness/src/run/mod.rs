//! Running cases: planning (probe × target), the per-case interpreter, concurrency, a
//! whole run with its results, and the events it tells reporters.

pub mod events;
pub mod executor;
pub mod interpreter;
pub mod interrupt;
pub mod plan;
pub mod session;

pub use events::{Event, EventKind, Reporter, Reporters};
pub use executor::{run_one, run_one_watched, TargetPool, Turn};
pub use interpreter::{run_case, run_case_watched, CaseRun, Timing};
pub use interrupt::{Interrupt, StopSignal};
pub use plan::{parse_shard, plan, shard, Case};
pub use session::{run, NothingToRun, RunOptions, Session};
