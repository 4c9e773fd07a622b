//! A seeded, structure-aware mutation fuzzer for the suite and matrix loaders.
//!
//! Inputs are real suite and matrix files changed in the ways that break TOML and the
//! loaders' checks: TOML-significant characters, lines duplicated, dropped or swapped,
//! truncation, numbers past every integer type, long lines, CR line endings. The oracle
//! is [`dbcompat::source::invariants`]: no panic, every diagnostic located and bounded;
//! and no input may take more than [`SLOW`]. Shared by `examples/fuzz_loaders` and by
//! `cargo test` (a short fixed-seed run).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dbcompat::source::invariants::{check_matrix_text, check_suite_text};

/// An input that takes longer than this to load is a finding.
pub const SLOW: Duration = Duration::from_secs(1);

/// Inputs are cut to this size.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// The seed corpus: the real suites and matrices and the refused fixtures.
pub fn seed_files(repo_root: &Path) -> Vec<PathBuf> {
    let mut files = vec![repo_root.join("matrix.toml"), repo_root.join("ci/matrix.local.toml")];
    for dir in ["suites", "harness/tests/fixtures/broken", "harness/tests/fixtures/broken-matrix"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(repo_root.join(dir))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Text that means something to TOML or to the loaders.
const TOKENS: &[&str] = &[
    "\"", "'", "\"\"\"", "'''", "[", "]", "[[", "]]", "{", "}", "=", ",", ".", "#", "\n", "\r", "\r\n", "\\", "\\u", "\u{0}",
    "\t", " ", "{{", "}}", "{{namespace}}", "é", "🦀", "\u{202e}", "inf", "nan", "-0", "1979-05-27T07:32:00Z", "0x", "0o", "_",
    "true", "[]", "{}", "[[probe]]\n", "[[probe.step]]\n", "[[target]]\n", "[snippets]\n", "[probe.expect]\n", "id = ",
    "sql = ", "cursor = \"c\"\n", "fetch = ", "outcome = ", "restart = true\n", "crash = true\n", "sessions = {}\n",
    "startup_timeout_s = ", "mysql>=8.0,<", "sqlite = \"ok\"\n",
];

/// Numbers at and past the edges of every integer type a loader reads.
const NUMBERS: &[&str] = &[
    "0", "-1", "1", "86400", "86401", "1000000", "1000001", "10001", "4294967296", "9223372036854775807",
    "9223372036854775808", "18446744073709551616", "99999999999999999999999", "-9223372036854775808", "1e308", "0x7fffffffffffffff",
    "0b1", "1_000", "3.5",
];

pub struct Mutator {
    rng: fastrand::Rng,
    seeds: Vec<String>,
}

impl Mutator {
    pub fn new(seed: u64, seeds: Vec<String>) -> Self {
        assert!(!seeds.is_empty(), "a mutator needs at least one seed text");
        Mutator { rng: fastrand::Rng::with_seed(seed), seeds }
    }

    /// The next input: a seed changed one to four times.
    pub fn next_input(&mut self) -> String {
        let mut text = self.seeds[self.rng.usize(..self.seeds.len())].clone();
        for _ in 0..self.rng.usize(1..=4) {
            self.mutate(&mut text);
            // Long lines, not huge files, are the point: the file reader refuses those.
            if text.len() > MAX_INPUT_BYTES {
                let at = (0..=MAX_INPUT_BYTES).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                text.truncate(at);
            }
        }
        text
    }

    fn mutate(&mut self, text: &mut String) {
        match self.rng.u8(..10) {
            0 => {
                let at = self.boundary(text);
                let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                let byte = char::from(self.rng.u8(0x20..0x7f));
                text.replace_range(at..end, &byte.to_string());
            }
            1 | 2 => {
                let at = self.boundary(text);
                text.insert_str(at, TOKENS[self.rng.usize(..TOKENS.len())]);
            }
            3 => self.edit_lines(text),
            4 => {
                let at = self.boundary(text);
                text.truncate(at);
            }
            5 => self.replace_number(text),
            6 => {
                let at = self.boundary(text);
                let unit = ["a", "é", " ", "\"", "[", "{{"][self.rng.usize(..6)];
                text.insert_str(at, &unit.repeat(self.rng.usize(1_000..20_000)));
            }
            7 => *text = if self.rng.bool() { text.replace("\r\n", "\n").replace('\n', "\r") } else { text.replace('\n', "\r\n") },
            8 => {
                // A line from another seed, where it may not belong.
                let other = &self.seeds[self.rng.usize(..self.seeds.len())];
                let lines: Vec<&str> = other.lines().collect();
                if let Some(line) = lines.get(self.rng.usize(..lines.len().max(1))) {
                    let line = format!("{line}\n");
                    let at = self.line_start(text);
                    text.insert_str(at, &line);
                }
            }
            _ => {
                // A value of another type after a `=`.
                let eqs: Vec<usize> = text.match_indices("= ").map(|(i, _)| i + 2).collect();
                if !eqs.is_empty() {
                    let at = eqs[self.rng.usize(..eqs.len())];
                    let value = ["[1, 2]", "{}", "true", "1.5", "\"\"", "[]", "{ a = 1 }", "[[]]", "1979-05-27"][self.rng.usize(..9)];
                    text.insert_str(at, value);
                }
            }
        }
    }

    fn edit_lines(&mut self, text: &mut String) {
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let n = lines.len();
        let (a, b) = (self.rng.usize(..n), self.rng.usize(..n));
        match self.rng.u8(..3) {
            0 => {
                let copies = if self.rng.u8(..10) == 0 { 500 } else { 1 };
                for _ in 0..copies {
                    lines.insert(a, lines[a].clone());
                }
            }
            1 => {
                lines.remove(a);
            }
            _ => lines.swap(a, b),
        }
        *text = lines.join("\n");
    }

    fn replace_number(&mut self, text: &mut String) {
        let digits: Vec<(usize, usize)> = text
            .char_indices()
            .filter(|(i, c)| c.is_ascii_digit() && !text[..*i].ends_with(|p: char| p.is_ascii_digit()))
            .map(|(i, _)| (i, i + text[i..].find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len() - i)))
            .collect();
        let number = NUMBERS[self.rng.usize(..NUMBERS.len())];
        match digits.get(self.rng.usize(..digits.len().max(1))) {
            Some(&(start, end)) => text.replace_range(start..end, number),
            None => text.push_str(number),
        }
    }

    /// A random char boundary in `text` (its end included).
    fn boundary(&mut self, text: &str) -> usize {
        let mut at = self.rng.usize(..=text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    fn line_start(&mut self, text: &str) -> usize {
        let at = self.boundary(text);
        text[..at].rfind('\n').map_or(0, |i| i + 1)
    }
}

/// What was wrong with one input.
#[derive(Debug)]
pub struct Finding {
    pub what: String,
    pub input: String,
}

/// Loads `text` as a suite and as a matrix; `Err` names the first broken promise.
pub fn check_input(text: &str) -> Result<(), String> {
    for (loader, check) in [("suite", check_suite_text as fn(&str) -> Result<(), String>), ("matrix", check_matrix_text)] {
        let started = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| check(text)));
        let took = started.elapsed();
        match result {
            Ok(Ok(())) if took > SLOW => return Err(format!("the {loader} loader took {took:?}")),
            Ok(Ok(())) => {}
            Ok(Err(broken)) => return Err(format!("the {loader} loader: {broken}")),
            Err(panic) => {
                let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                return Err(format!("the {loader} loader panicked: {}", message.unwrap_or_default()));
            }
        }
    }
    Ok(())
}

/// Runs `count` inputs from `seed`; every finding with its input.
pub fn run(repo_root: &Path, seed: u64, count: usize) -> Vec<Finding> {
    let seeds: Vec<String> = seed_files(repo_root).iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect();
    let mut findings = Vec::new();
    for text in &seeds {
        if let Err(what) = check_input(text) {
            findings.push(Finding { what, input: text.clone() });
        }
    }
    let mut mutator = Mutator::new(seed, seeds);
    for _ in 0..count {
        let input = mutator.next_input();
        if let Err(what) = check_input(&input) {
            findings.push(Finding { what, input });
        }
    }
    findings
}
