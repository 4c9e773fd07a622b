//! dbcompat: declarative behaviour suites run against real databases.
//!
//! The pipeline, one module per stage:
//! [`suite`] and [`matrix`] load files into models (with located diagnostics),
//! [`run`] plans (probe × target) cases and interprets them against [`target`]s through
//! [`driver`] sessions, and [`result`] judges outcomes and writes the results JSON that
//! reports and `cargo test` read.

pub mod outcome;
pub mod backends;
/// The old path of [`backends`], for code written before it had a module per backend.
pub use backends as backend;
pub mod driver;
pub mod source;
pub mod version;
pub mod suite;
pub mod report;
pub mod result;
pub mod target;
pub mod run;
pub mod matrix;
pub mod redact;
pub mod cli;
pub mod crosscheck;
