//! dbcompat: declarative behaviour suites run against real databases.
//!
//! The pipeline, one module per stage, declared in the order data flows:
//! [`outcome`] and [`version`] are the vocabulary every stage shares; [`source`] reads
//! files with located diagnostics, and [`suite`] and [`matrix`] load them into models;
//! [`backends`] holds what dbcompat knows of each database, [`driver`] the sessions that
//! speak to them and [`targets`] the servers they run on; [`run`] plans (probe × target)
//! cases and interprets them; [`result`] judges outcomes and writes the results JSON that
//! [`report`], [`crosscheck`], [`bless`] (measured outcomes written back into the suites) and
//! `cargo test` read; [`bisect`] runs probes over every obtainable version of a backend. [`cli`] is the command line.

pub mod outcome;
pub mod profile;
pub mod version;
pub mod redact;
pub mod source;
pub mod suite;
pub mod matrix;
pub mod backends;
pub mod driver;
pub mod targets;
pub mod run;
pub mod result;
pub mod report;
pub mod crosscheck;
pub mod bless;
pub mod bisect;
pub mod cli;
