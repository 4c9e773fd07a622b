#![no_main]
//! Any text parses as a matrix without a panic, and every diagnostic is located and bounded.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        dbcompat::source::invariants::check_matrix_text(text).unwrap();
    }
});
