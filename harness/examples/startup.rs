//! Time from "run" to ready for each target of a matrix: the target is started (for a
//! container: created, started, and answering SELECT 1 on a real connection) and shut
//! down again, several times; the median is printed.
//!
//!     DOCKER_HOST=unix:///run/podman/podman.sock \
//!       cargo run --release --example startup -- ci/matrix.local.toml 5

use std::time::{Duration, Instant};

use dbcompat::matrix::Matrix;
use dbcompat::targets::{launch, planned_id};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "ci/matrix.local.toml".into());
    let starts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let matrix = Matrix::load(std::path::Path::new(&path)).unwrap_or_else(|d| panic!("{d}"));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("{:<16} {:>10} {:>10} {:>10}   ({starts} starts each)", "target", "median", "min", "max");
    for spec in matrix.targets.iter().filter(|t| t.enabled) {
        let mut times: Vec<Duration> = Vec::new();
        let mut failure = None;
        for _ in 0..starts {
            let started = Instant::now();
            let launched = rt.block_on(launch(spec));
            let elapsed = started.elapsed();
            if let Some(reason) = &launched.record.not_run {
                failure = Some(reason.clone());
                break;
            }
            times.push(elapsed);
            if let Some(t) = &launched.target {
                rt.block_on(t.shut_down());
            }
        }
        match failure {
            Some(reason) => println!("{:<16} not run: {reason}", planned_id(spec)),
            None => {
                times.sort();
                let s = |d: Duration| format!("{:.2} s", d.as_secs_f64());
                println!("{:<16} {:>10} {:>10} {:>10}", planned_id(spec), s(times[times.len() / 2]), s(times[0]), s(times[times.len() - 1]));
            }
        }
    }
}
