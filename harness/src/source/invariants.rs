//! What every diagnostic of the loaders promises, whatever the input: it is located (a
//! path, line and column inside the file) and bounded in size. Checked by the fuzzers
//! (`harness/examples/fuzz_loaders.rs`, `fuzz/`) and by `cargo test`.

use super::diagnostics::{MAX_MESSAGE_CHARS, MAX_SHOWN_PER_FILE, MAX_SNIPPET_CHARS};
use super::{Diagnostics, SourceFile};

/// The most bytes one rendered diagnostic may take: message, expectation, the snippet
/// window (4 bytes a character at most) and the fixed decoration around them.
pub const MAX_RENDERED_BYTES: usize = 4 * (2 * MAX_MESSAGE_CHARS + 2 * (MAX_SNIPPET_CHARS + 2)) + 256;

/// Parses `text` as a suite file and checks its diagnostics; `Err` says what broke.
pub fn check_suite_text(text: &str) -> Result<(), String> {
    let file = SourceFile::new("fuzz.toml", text.to_string());
    let (_, diags) = crate::suite::parse(&file);
    check(&file, &diags)
}

/// Parses `text` as a matrix file and checks its diagnostics; `Err` says what broke.
pub fn check_matrix_text(text: &str) -> Result<(), String> {
    let file = SourceFile::new("fuzz.toml", text.to_string());
    let (_, diags) = crate::matrix::parse(&file);
    check(&file, &diags)
}

/// Every diagnostic is in `file`, at a line and column that exist, and bounded in size;
/// so is the whole report.
pub fn check(file: &SourceFile, diags: &Diagnostics) -> Result<(), String> {
    for d in diags.iter() {
        if d.path != file.path {
            return Err(format!("a diagnostic names {} instead of {}", d.path.display(), file.path.display()));
        }
        if d.line == 0 || d.line > file.line_count() || d.column == 0 || d.column > file.line_chars(d.line) + 1 {
            return Err(format!("a diagnostic at {}:{} is not in the file ({} lines): {}", d.line, d.column, file.line_count(), d.message));
        }
        let rendered = d.to_string().len();
        if rendered > MAX_RENDERED_BYTES {
            return Err(format!("a diagnostic takes {rendered} bytes: {}", d.message));
        }
    }
    let total = diags.to_string().len();
    let bound = (MAX_SHOWN_PER_FILE + 1) * MAX_RENDERED_BYTES;
    if total > bound {
        return Err(format!("the diagnostics take {total} bytes, more than {bound}"));
    }
    Ok(())
}
