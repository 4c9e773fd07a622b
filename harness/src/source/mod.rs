//! Source files and diagnostics shared by every file dbcompat reads (suites, matrix).
//!
//! Files are parsed into spanned TOML values and read by [`reader`], which keeps going
//! after an error so that every problem in a file is reported in one pass, each with
//! file, line, column and what was expected.

pub mod diagnostics;
pub mod invariants;
pub mod reader;

pub use diagnostics::{Diagnostic, Diagnostics, SourceFile};
