//! Running cases: planning (probe × target), the per-case interpreter, concurrency.

pub mod executor;
pub mod interpreter;
pub mod interrupt;
pub mod plan;

pub use executor::{execute, run_one, Progress, TargetPool};
pub use interpreter::{run_case, CaseRun, Timing};
pub use interrupt::{Interrupt, StopSignal};
pub use plan::{parse_shard, plan, shard, Case};
