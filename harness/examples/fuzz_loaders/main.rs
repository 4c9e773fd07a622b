//! Fuzzes the suite and matrix loaders: `cargo run --release --example fuzz_loaders --
//! [INPUTS] [SEED]` (defaults: 100000 inputs, seed 1). Findings are written to
//! `target/fuzz-findings/` and the command exits 1 if there are any; `-- --replay FILE…`
//! checks those files again, with the time each takes.

mod mutate;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--replay") {
        return replay(args.skip(1));
    }
    let count: usize = args.next().map_or(100_000, |a| a.parse().expect("INPUTS is a number"));
    let seed: u64 = args.next().map_or(1, |a| a.parse().expect("SEED is a number"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the harness is inside the repository");
    // Panics are findings, reported below with their input; not printed as they happen.
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let findings = mutate::run(root, seed, count);
    let took = started.elapsed();
    let _ = std::panic::take_hook();
    println!("{count} inputs (seed {seed}) in {:.1} s: {} finding(s)", took.as_secs_f64(), findings.len());
    if findings.is_empty() {
        return ExitCode::SUCCESS;
    }
    let dir = root.join("target/fuzz-findings");
    std::fs::create_dir_all(&dir).expect("create target/fuzz-findings");
    for (i, f) in findings.iter().enumerate() {
        let path = dir.join(format!("finding-{seed}-{i}.toml"));
        std::fs::write(&path, &f.input).expect("write a finding");
        println!("{}: {}", path.display(), f.what);
    }
    ExitCode::FAILURE
}

/// Checks saved inputs again (e.g. findings), with the time each one takes.
fn replay(paths: impl Iterator<Item = String>) -> ExitCode {
    let mut failed = false;
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("a UTF-8 file to replay");
        let started = Instant::now();
        let result = mutate::check_input(&text);
        println!("{path}: {} bytes, {:.3} s: {}", text.len(), started.elapsed().as_secs_f64(), result.as_ref().map_or_else(|e| e.as_str(), |_| "ok"));
        failed |= result.is_err();
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
