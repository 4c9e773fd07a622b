//! Interpreter overhead: a probe of N trivial steps run by the interpreter, against a
//! plain loop sending the same statements through the same driver session.
//!
//!     cargo run --release --example overhead -- [STEPS] [ROUNDS]
//!
//! Prints the median time per step of each and their ratio.
//!
//!     cargo run --release --example overhead -- cases [CASES] [ROUNDS]
//!
//! Per case instead: CASES one-step cases through `run_case` (fresh namespace, connect,
//! step, close, drop) against a plain loop doing the same with the driver directly.

use std::time::{Duration, Instant};

use dbcompat::driver::sqlite::SqliteSession;
use dbcompat::driver::{Command, Session};
use dbcompat::run::{run_case, Timing};
use dbcompat::source::SourceFile;
use dbcompat::suite::parse;
use dbcompat::targets::embedded::EmbeddedSqlite;
use dbcompat::targets::Target;

const STATEMENT: &str = "SELECT 1";

fn main() {
    if std::env::args().nth(1).as_deref() == Some("cases") {
        return per_case();
    }
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let mut text = String::from("[[probe]]\nid = \"overhead\"\narea = \"bench\"\nasks = \"?\"\n");
    for _ in 0..steps {
        text.push_str(&format!("[[probe.step]]\nsql = \"{STATEMENT}\"\n"));
    }
    let (suite, diags) = parse(&SourceFile::new("overhead.toml", text));
    assert!(diags.is_empty(), "{diags}");
    let probe = suite.probes[0].clone();
    let target = EmbeddedSqlite::start().unwrap();

    let mut interpreted = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..rounds {
        // The interpreter: connect, run every step, close (per-case costs included).
        let started = Instant::now();
        let run = rt.block_on(run_case(&probe, &target, &Timing::default()));
        interpreted.push(started.elapsed());
        assert!(run.outcome.is_ok(), "{:?}", run.outcome);

        // The plain loop: the same connect, statements and close, no interpreter.
        let started = Instant::now();
        rt.block_on(async {
            let ns = target.create_namespace("plain").await.unwrap();
            let api = std::sync::Arc::new(dbcompat::driver::sqlite_api::Api::bundled());
            let mut s = SqliteSession::open(api, std::path::Path::new(&ns.location), dbcompat::backends::sqlite_class).unwrap();
            let command = Command::Sql(STATEMENT.into());
            for _ in 0..steps {
                s.execute(&command).await.unwrap().unwrap();
            }
            Box::new(s).close().await;
            target.drop_namespace(&ns).await;
        });
        plain.push(started.elapsed());
    }
    let per_step = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6 / steps as f64
    };
    let (i, p) = (per_step(&mut interpreted), per_step(&mut plain));
    println!("steps per probe: {steps}, rounds: {rounds}, SQLite {}", target.version());
    println!("interpreter: {i:.2} us/step");
    println!("plain loop:  {p:.2} us/step");
    println!("ratio:       {:.2}x", i / p);
}

fn per_case() {
    let mut args = std::env::args().skip(2);
    let cases: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let text = format!("[[probe]]\nid = \"overhead\"\narea = \"bench\"\nasks = \"?\"\n[[probe.step]]\nsql = \"{STATEMENT}\"\n");
    let (suite, diags) = parse(&SourceFile::new("overhead.toml", text));
    assert!(diags.is_empty(), "{diags}");
    let probe = suite.probes[0].clone();
    let target = EmbeddedSqlite::start().unwrap();
    let (mut interpreted, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        rt.block_on(async {
            for _ in 0..cases {
                let run = run_case(&probe, &target, &Timing::default()).await;
                assert!(run.outcome.is_ok());
            }
        });
        interpreted.push(started.elapsed());
        let started = Instant::now();
        rt.block_on(async {
            let api = std::sync::Arc::new(dbcompat::driver::sqlite_api::Api::bundled());
            for _ in 0..cases {
                let ns = target.create_namespace("plain").await.unwrap();
                let mut s = SqliteSession::open(api.clone(), std::path::Path::new(&ns.location), dbcompat::backends::sqlite_class).unwrap();
                s.execute(&Command::Sql(STATEMENT.into())).await.unwrap().unwrap();
                Box::new(s).close().await;
                target.drop_namespace(&ns).await;
            }
        });
        plain.push(started.elapsed());
    }
    let per_case = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6 / cases as f64
    };
    let (i, p) = (per_case(&mut interpreted), per_case(&mut plain));
    println!("cases: {cases}, rounds: {rounds}, SQLite {}", target.version());
    println!("interpreter: {i:.1} us/case");
    println!("plain loop:  {p:.1} us/case");
    println!("ratio:       {:.2}x", i / p);
}
