//! The `dbcompat` command line: a thin layer over the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::matrix::{Matrix, TargetSpec};
use crate::redact;
use crate::report::console::{print_summary, ConsoleProgress};
use crate::result::{write_results, RunResults};
use crate::run::{self, Reporters, RunOptions, Timing};
use crate::source::Diagnostics;
use crate::suite::{self, Suite};
use crate::targets::planned_id;

#[derive(Parser)]
#[command(name = "dbcompat", version, about = "Measure how databases really behave, with declarative behaviour suites")]
pub struct Cli {
    /// The matrix of targets.
    #[arg(long, global = true, default_value = "matrix.toml")]
    matrix: PathBuf,
    /// The directory of suite files.
    #[arg(long, global = true, default_value = "suites")]
    suites: PathBuf,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run suites against targets and write a results JSON.
    Run(RunArgs),
    /// List targets, suites, probes or cases.
    List {
        #[arg(value_enum, default_value = "probes")]
        what: ListWhat,
    },
    /// Validate every suite and the matrix without any server.
    Check,
    /// Find between which obtainable versions of a backend a probe's outcome changes.
    Bisect(BisectArgs),
    /// Render results files (merged) as an HTML site with a Markdown summary and JUnit XML.
    Report {
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// The site's directory; it is replaced as a whole (only if it is a dbcompat site,
        /// empty or absent).
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// An earlier results file to compare with (adds the changes to the report).
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// What changed between two results files; exits 1 on a regression.
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Exit 1 on any difference in cases, targets or outcomes, not only regressions
        /// (e.g. to check that merged shards equal an unsharded run).
        #[arg(long)]
        exact: bool,
    },
    /// Write observed outcomes as expectations for targets that have none, editing the
    /// suite files in place (formatting and comments kept).
    Bless { results: PathBuf },
    /// Remove the containers that dbcompat runs of this host left behind when they died
    /// (SIGKILL, a crash); those of runs still going are kept.
    Clean,
    /// Run single-session probes again through each backend's own command-line client
    /// and report every case where it and the driver disagree; exits 1 on a
    /// disagreement that the explanations file does not explain.
    Crosscheck(CrosscheckArgs),
    /// Merge results files (e.g. shards) into one; exits 1 if they conflict.
    Merge {
        #[arg(required = true)]
        results: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Only cases whose name (`area::probe::target`) contains one of these.
    filters: Vec<String>,
    /// Targets to run, by matrix name, or BACKEND=URL for a server that already runs
    /// (repeatable). Default: the matrix's default targets.
    #[arg(short, long = "target")]
    targets: Vec<String>,
    /// Run every enabled target in the matrix.
    #[arg(long, conflicts_with = "targets")]
    all_targets: bool,
    /// Where the results JSON is written (`reports/` itself holds the committed run).
    #[arg(long, default_value = "reports/last-run")]
    out: PathBuf,
    /// A step still running after this long is recorded as blocked (1 to 86400000, a day).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_MS))]
    blocking_window_ms: u64,
    /// The longest any step is waited for before it is cancelled (1 to 86400000, a day).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_MS))]
    step_timeout_ms: u64,
    /// Also render the HTML report into the output directory.
    #[arg(long)]
    html: bool,
    /// After the run, write observed outcomes as expectations where there are none.
    #[arg(long)]
    bless: bool,
    /// Run only shard K of N (e.g. 2/3): a deterministic, balanced share of the cases.
    #[arg(long, value_parser = run::parse_shard)]
    shard: Option<(usize, usize)>,
    /// Run every case N times (1 to 1000); a case whose outcome varies is reported as flaky.
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    repeat: usize,
    /// One case at a time and one target start at a time (to measure what concurrency buys).
    #[arg(long)]
    sequential: bool,
    /// The state sessions start in, where a probe names none: `server-defaults` (what the
    /// server's own client gets) or a framework's connection set-up (`django`).
    #[arg(long, value_parser = |s: &str| s.parse::<crate::profile::Profile>())]
    profile: Option<crate::profile::Profile>,
}

/// The longest wait the command line accepts: a day. Durations are added to the clock and
/// multiplied by step counts in `run`; a day keeps that far from overflow.
const MAX_WAIT_MS: u64 = 86_400_000;

#[derive(clap::Args)]
struct BisectArgs {
    /// The probes: cases whose name (`area::probe::target`) contains one of these.
    #[arg(required = true)]
    filters: Vec<String>,
    /// The backend whose versions are searched: `sqlite` (libsqlite3-sys releases),
    /// `postgres` (npm's minor releases) or `mariadb` (the Debian suites' packages).
    #[arg(long, default_value = "sqlite")]
    backend: crate::backends::Backend,
    /// Where `bisect.json` is written.
    #[arg(long, default_value = "target/bisect")]
    out: PathBuf,
    /// A results file to record the findings in (replacing earlier findings for the same
    /// probes), so that its reports say where behaviour changed; `dbcompat report`
    /// renders it again.
    #[arg(long)]
    record: Option<PathBuf>,
    /// The script that lists and builds the versions: by default
    /// `ci/build-sqlite-libs.sh` (`--list-crates`, `--crate V`) for SQLite and
    /// `ci/build-images.sh` (`--list-npm-postgres`, `--npm-postgres V`;
    /// `--list-debian-mariadb`, `--debian-mariadb TAG`) for PostgreSQL and MariaDB.
    #[arg(long)]
    script: Option<PathBuf>,
}

#[derive(clap::Args)]
struct CrosscheckArgs {
    /// Only cases whose name (`area::probe::target`) contains one of these.
    filters: Vec<String>,
    /// Targets to cross-check, by matrix name (repeatable). Default: the matrix's default targets.
    #[arg(short, long = "target")]
    targets: Vec<String>,
    /// Cross-check every enabled target in the matrix.
    #[arg(long, conflicts_with = "targets")]
    all_targets: bool,
    /// Where `crosscheck.json` is written.
    #[arg(long, default_value = "target/crosscheck")]
    out: PathBuf,
    /// Disagreements that are the client's own doing, each with its reason.
    #[arg(long, default_value = "crosscheck.toml")]
    explained: PathBuf,
    /// The longest any step is waited for before it is cancelled.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_MS))]
    step_timeout_ms: u64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ListWhat {
    Targets,
    Suites,
    Probes,
    Cases,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Commands::Check => check(&cli.matrix, &cli.suites),
        Commands::List { what } => list(&cli.matrix, &cli.suites, what),
        Commands::Run(ref args) => run_command(&cli.matrix, &cli.suites, args),
        Commands::Report { ref results, ref out, ref previous } => report_command(results, out, previous.as_deref()),
        Commands::Diff { ref old, ref new, exact } => diff_command(old, new, exact),
        Commands::Bless { ref results } => match RunResults::read(results) {
            Ok(r) => bless(&r, &cli.suites),
            Err(e) => {
                print_error(&e);
                ExitCode::from(2)
            }
        },
        Commands::Merge { ref results, ref out } => merge_command(results, out),
        Commands::Clean => clean_command(),
        Commands::Crosscheck(ref args) => crosscheck_command(&cli.matrix, &cli.suites, args),
        Commands::Bisect(ref args) => bisect_command(&cli.suites, args),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

/// The runtime of a command that starts cases, listening for SIGINT and SIGTERM.
fn runtime_with_signals() -> Result<(tokio::runtime::Runtime, Arc<run::Interrupt>), ExitCode> {
    let runtime = runtime()?;
    let interrupt = run::Interrupt::new();
    if let Err(e) = runtime.block_on(async { run::interrupt::listen(interrupt.clone()) }) {
        eprintln!("error: {e}");
        return Err(ExitCode::FAILURE);
    }
    Ok((runtime, interrupt))
}

fn clean_command() -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async {
        if let Err(e) = crate::targets::container::engine_available().await {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        match crate::targets::container::remove_orphans().await {
            Ok(n) => {
                println!("removed {n} container(s) left by dbcompat runs that are gone");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Invalid input: exit code 2, every diagnostic on stderr.
fn invalid(d: &Diagnostics) -> ExitCode {
    // A diagnostic shows its source line, which may hold a URL with a password.
    eprintln!("{}", redact::text(&d.to_string()));
    ExitCode::from(2)
}

/// An error on stderr, scrubbed of secrets: it may quote a URL or a driver's message.
fn print_error(e: &dyn std::fmt::Display) {
    eprintln!("error: {}", redact::text(&e.to_string()));
}

fn load(matrix: &PathBuf, suites: &PathBuf) -> Result<(Matrix, Vec<Suite>), Diagnostics> {
    let (m, s) = rayon::join(|| Matrix::load(matrix), || suite::load_dir(suites));
    match (m, s) {
        (Ok(m), Ok(s)) => Ok((m, s)),
        (m, s) => {
            let mut d = Diagnostics::default();
            if let Err(e) = m {
                d.extend(e);
            }
            if let Err(e) = s {
                d.extend(e);
            }
            Err(d)
        }
    }
}

fn check(matrix: &PathBuf, suites: &PathBuf) -> ExitCode {
    match load(matrix, suites) {
        Ok((m, s)) => {
            let probes: usize = s.iter().map(|x| x.probes.len()).sum();
            if probes == 0 {
                eprintln!("error: {} holds no probe: nothing was checked", suites.display());
                return ExitCode::from(2);
            }
            // The crosscheck explanations sit beside the matrix, as `crosscheck` reads them by default.
            if let Err(d) = crate::crosscheck::explain::load(std::path::Path::new("crosscheck.toml")) {
                return invalid(&d);
            }
            println!("ok: {} suite file(s), {probes} probe(s), {} target(s)", s.len(), m.targets.len());
            ExitCode::SUCCESS
        }
        Err(d) => invalid(&d),
    }
}

fn list(matrix: &PathBuf, suites: &PathBuf, what: ListWhat) -> ExitCode {
    let (m, s) = match load(matrix, suites) {
        Ok(x) => x,
        Err(d) => return invalid(&d),
    };
    let lines: Vec<String> = match what {
        ListWhat::Targets => m
            .targets
            .iter()
            .map(|t| {
                let flags = match (t.enabled, t.default) {
                    (false, _) => " (disabled)",
                    (true, true) => " (default)",
                    _ => "",
                };
                format!("{:<20} {:<9} {}{flags}", planned_id(t), t.backend, t.launch.describe())
            })
            .collect(),
        ListWhat::Suites => s.iter().map(|suite| format!("{} ({} probes)", suite.path.display(), suite.probes.len())).collect(),
        ListWhat::Probes => s.iter().flat_map(|x| &x.probes).map(|p| format!("{}::{}  {}", p.area, p.id, p.asks)).collect(),
        ListWhat::Cases => {
            let ids: Vec<String> = m.targets.iter().filter(|t| t.enabled).map(planned_id).collect();
            run::plan(&s, &ids, &[]).into_iter().map(|c| c.name).collect()
        }
    };
    // A reader that stops early (`| head`) ends the listing; it is not an error.
    let mut out = std::io::stdout().lock();
    for line in lines {
        if writeln!(out, "{}", crate::redact::text(&line)).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}

fn choose_targets(m: &Matrix, all_targets: bool, targets: &[String]) -> Result<Vec<TargetSpec>, String> {
    if all_targets {
        return Ok(m.targets.iter().filter(|t| t.enabled).cloned().collect());
    }
    if targets.is_empty() {
        let defaults: Vec<TargetSpec> = m.targets.iter().filter(|t| t.default && t.enabled).cloned().collect();
        return if defaults.is_empty() { Err(format!("{} marks no target as default; name one with --target", m.path.display())) } else { Ok(defaults) };
    }
    targets
        .iter()
        .map(|name| {
            // `BACKEND=URL` even when the URL lacks `://`: such an argument is never echoed.
            if name.contains("://") || (m.find(name).is_none() && name.contains('=')) {
                return TargetSpec::from_url_argument(name);
            }
            m.find(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = m.targets.iter().map(|t| t.name.as_str()).collect();
                format!("no target `{name}` in {}; the targets are: {}", m.path.display(), names.join(", "))
            })
        })
        .collect()
}

fn run_command(matrix: &PathBuf, suites: &PathBuf, args: &RunArgs) -> ExitCode {
    let (m, s) = match load(matrix, suites) {
        Ok(x) => x,
        Err(d) => return invalid(&d),
    };
    let specs = match choose_targets(&m, args.all_targets, &args.targets) {
        Ok(t) => t,
        Err(e) => {
            print_error(&e);
            return ExitCode::from(2);
        }
    };
    // The output is checked before any case runs: a run that cannot be written must not
    // spend its time first.
    if args.html {
        if let Err(e) = crate::report::check_replaceable(&args.out) {
            print_error(&e);
            return ExitCode::from(2);
        }
    }
    let options = RunOptions {
        timing: Timing {
            blocking_window: Duration::from_millis(args.blocking_window_ms),
            step_timeout: Duration::from_millis(args.step_timeout_ms),
            ..Timing::default()
        },
        filters: args.filters.clone(),
        shard: args.shard,
        repeat: args.repeat,
        sequential: args.sequential,
        profile: args.profile,
    };
    let (runtime, interrupt) = match runtime_with_signals() {
        Ok(x) => x,
        Err(code) => return code,
    };
    let reporters = Reporters::new(vec![Arc::new(ConsoleProgress::default())]);
    let results = match runtime.block_on(run::run(&s, specs, options, interrupt.clone(), reporters)) {
        Ok(r) => r,
        Err(nothing) => {
            eprintln!("error: {nothing}");
            return ExitCode::from(2);
        }
    };
    let written = if args.html { crate::report::write_report(&results, None, &args.out).map(|_| ()) } else { write_results(&results, &args.out).map(|_| ()) };
    if let Err(e) = written {
        print_error(&e);
        // What was measured is kept even when the report could not be written.
        let fallback = std::env::temp_dir().join(format!("dbcompat-results-{}.json", std::process::id()));
        match results.write(&fallback) {
            Ok(()) => eprintln!("the results were written to {}", fallback.display()),
            Err(e) => eprintln!("error: the results could not be written anywhere: {e}"),
        }
        return ExitCode::FAILURE;
    }
    print_summary(&results);
    println!("results: {}", args.out.join("results.json").display());
    if let Some(signal) = interrupt.signal() {
        eprintln!("interrupted by {}: the cases it kept from running are recorded as not run", signal.name());
        // Exit now: the targets' handles would try to remove containers already gone.
        let _ = std::io::stdout().flush();
        std::process::exit(i32::from(signal.exit_code()));
    }
    if results.cases.iter().all(|c| matches!(c.verdict, crate::result::Verdict::NotRun { .. })) {
        eprintln!("error: nothing was tested: no target that this run needed could run");
        return ExitCode::FAILURE;
    }
    if args.bless && bless(&results, suites) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    if args.html {
        println!("report:  {}", args.out.join("index.html").display());
    }
    if results.cases.iter().any(|c| c.verdict.is_failure()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn crosscheck_command(matrix: &PathBuf, suites: &PathBuf, args: &CrosscheckArgs) -> ExitCode {
    let (m, s) = match load(matrix, suites) {
        Ok(x) => x,
        Err(d) => return invalid(&d),
    };
    let explanations = match crate::crosscheck::explain::load(&args.explained) {
        Ok(e) => Arc::new(e),
        Err(d) => return invalid(&d),
    };
    let specs = match choose_targets(&m, args.all_targets, &args.targets) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let timing = Timing { step_timeout: Duration::from_millis(args.step_timeout_ms), ..Timing::default() };
    let (runtime, interrupt) = match runtime_with_signals() {
        Ok(x) => x,
        Err(code) => return code,
    };
    let uses_containers = specs.iter().any(|t| matches!(t.launch, crate::matrix::Launch::Container { .. }));
    let pool = Arc::new(run::TargetPool::new(specs, timing).with_interrupt(interrupt.clone()));
    let cases = run::plan(&s, &pool.planned_ids(), &args.filters);
    if cases.is_empty() {
        eprintln!("error: no case matches the filters and targets given: nothing to cross-check");
        return ExitCode::from(2);
    }
    let started = std::time::Instant::now();
    let checked = runtime.block_on(async {
        if uses_containers {
            crate::targets::container::remove_orphans_before_run().await;
        }
        let checked = crate::crosscheck::run_all(cases, pool.clone(), timing, explanations.clone(), 4, crate::crosscheck::machine_limit()).await;
        if interrupt.is_set() {
            let _ = tokio::time::timeout(run::interrupt::REMOVAL_BOUND, crate::targets::container::remove_all_of_this_process()).await;
        } else {
            pool.shut_down().await;
        }
        checked
    });
    let stopped_by = interrupt.signal();
    let tally = crate::crosscheck::tally(&checked);
    let report = crate::crosscheck::Report { comparison: crate::crosscheck::COMPARISON, interrupted: stopped_by.map(|s| s.name()), targets: tally.clone(), cases: &checked };
    let path = args.out.join("crosscheck.json");
    let written = std::fs::create_dir_all(&args.out)
        .map_err(|e| e.to_string())
        .and_then(|()| serde_json::to_string_pretty(&report).map_err(|e| e.to_string()))
        .and_then(|json| std::fs::write(&path, json).map_err(|e| e.to_string()))
        .and_then(|()| std::fs::write(args.out.join("index.html"), crate::crosscheck::page::render(&report)).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    for c in checked.iter().filter(|c| matches!(c.status, crate::crosscheck::Status::Disagree { .. })) {
        let mark = if c.is_unexplained_disagreement() { "DIFFER" } else { "EXPLAINED" };
        println!("{mark} {}", crate::crosscheck::describe(c));
    }
    for e in explanations.iter().filter(|e| !checked.iter().any(|c| matches!(c.status, crate::crosscheck::Status::Disagree { .. }) && e.covers(&c.probe, &c.target))) {
        eprintln!("warning: {}:{}: `{}` explains no disagreement of this run", args.explained.display(), e.line, e.case);
    }
    println!(
        "{:<16} {:>13} {:>6} {:>9} {:>10} {:>18} {:>15} {:>14} {:>24}",
        "target", "cross-checked", "agree", "disagree", "explained", "not cross-checked", "not applicable", "same session", "single-session coverage"
    );
    for (target, t) in &tally {
        let same = format!("{}/{}", t.session_equal, t.session_compared);
        let coverage = format!("{}/{} {:.1}%", t.cross_checked, t.single_session, t.coverage_percent);
        println!(
            "{target:<16} {:>13} {:>6} {:>9} {:>10} {:>18} {:>15} {same:>14} {coverage:>24}",
            t.cross_checked, t.agree, t.disagree, t.explained, t.not_cross_checked, t.not_applicable
        );
    }
    // The sessions each instrument started with: where they differ, the two instruments
    // did not measure the same session.
    for (target, t) in tally.iter().filter(|(_, t)| !t.session_differences.is_empty()) {
        for d in &t.session_differences {
            println!("SESSION {target}: {d}");
        }
    }
    println!("crosscheck: {} ({:.1} s)", path.display(), started.elapsed().as_secs_f64());
    if let Some(signal) = stopped_by {
        eprintln!("interrupted by {}: {} case(s) finished before it were written", signal.name(), checked.len());
        // Its containers are removed; the pool's handles must not be dropped outside the runtime.
        std::process::exit(i32::from(signal.exit_code()));
    }
    if checked.iter().any(|c| c.is_unexplained_disagreement()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn bisect_command(suites: &std::path::Path, args: &BisectArgs) -> ExitCode {
    let loaded = match suite::load_dir(suites) {
        Ok(s) => s,
        Err(d) => return invalid(&d),
    };
    let script = |default: &str| args.script.clone().unwrap_or_else(|| PathBuf::from(default));
    let source: Box<dyn crate::bisect::VersionSource> = match args.backend {
        crate::backends::Backend::Sqlite => Box::new(crate::bisect::SqliteReleases { script: script("ci/build-sqlite-libs.sh") }),
        crate::backends::Backend::Postgres => Box::new(crate::bisect::PostgresReleases { script: script("ci/build-images.sh") }),
        crate::backends::Backend::Mariadb => Box::new(crate::bisect::DebianMariadb { script: script("ci/build-images.sh") }),
        other => {
            eprintln!("error: bisect can obtain SQLite, PostgreSQL and MariaDB versions only; no source of {other} versions is built yet");
            return ExitCode::from(2);
        }
    };
    let (runtime, interrupt) = match runtime_with_signals() {
        Ok(x) => x,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    let bisection = match crate::bisect::bisect(source.as_ref(), &loaded, &args.filters, &runtime, interrupt.clone(), |line| eprintln!("bisect: {line}")) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for change in &bisection.changes {
        println!("{}", change.describe());
    }
    let path = args.out.join("bisect.json");
    let written = std::fs::create_dir_all(&args.out)
        .map_err(|e| e.to_string())
        .and_then(|()| serde_json::to_string_pretty(&bisection).map_err(|e| e.to_string()))
        .and_then(|json| std::fs::write(&path, json).map_err(|e| e.to_string()));
    if let Err(e) = written {
        eprintln!("error: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    if let Some(results_path) = &args.record {
        let recorded = RunResults::read(results_path).and_then(|mut results| {
            crate::result::merge_bisections(&mut results.bisections, bisection.changes.clone());
            results.write(results_path).map_err(|e| e.to_string())
        });
        match recorded {
            Ok(()) => println!("bisect: recorded in {}", results_path.display()),
            Err(e) => {
                eprintln!("error: cannot record in {}: {e}", results_path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!("bisect: {} versions listed, {} run; {} ({:.1} s)", bisection.versions_listed, bisection.runs.len(), path.display(), started.elapsed().as_secs_f64());
    if let Some(signal) = interrupt.signal() {
        std::process::exit(i32::from(signal.exit_code()));
    }
    ExitCode::SUCCESS
}

fn bless(results: &RunResults, suites: &std::path::Path) -> ExitCode {
    let loaded = match suite::load_dir(suites) {
        Ok(s) => s,
        Err(d) => return invalid(&d),
    };
    let planned = crate::bless::plan(results, &loaded);
    if let Err(e) = crate::bless::apply(&planned) {
        print_error(&e);
        return ExitCode::FAILURE;
    }
    for b in &planned {
        println!("blessed {}: {} {} = {}", b.file.display(), b.probe, b.key, crate::outcome::joined(&b.outcome, " | "));
    }
    println!("{} expectation(s) written; review them with `git diff {}`", planned.len(), suites.display());
    ExitCode::SUCCESS
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<RunResults>, String> {
    paths.iter().map(|p| RunResults::read(p)).collect()
}

fn report_command(inputs: &[PathBuf], out: &std::path::Path, previous: Option<&std::path::Path>) -> ExitCode {
    let loaded = read_all(inputs).and_then(crate::result::merge::merge);
    let previous = previous.map(RunResults::read).transpose();
    let ((results, merge_report), previous) = match (loaded, previous) {
        (Ok(r), Ok(p)) => (r, p),
        (Err(e), _) | (_, Err(e)) => {
            print_error(&e);
            return ExitCode::from(2);
        }
    };
    for c in &merge_report.conflicts {
        eprintln!("conflict: {c}");
    }
    match crate::report::write_report(&results, previous.as_ref(), out) {
        Ok(summary) => {
            println!(
                "report: {} ({} files, {} probe pages, {} claims of which {} contradicted)",
                out.join("index.html").display(),
                summary.files.len(),
                summary.probe_pages,
                summary.claims,
                summary.contradicted_claims
            );
            if merge_report.conflicts.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            print_error(&e);
            ExitCode::FAILURE
        }
    }
}

fn diff_command(old: &std::path::Path, new: &std::path::Path, exact: bool) -> ExitCode {
    match (RunResults::read(old), RunResults::read(new)) {
        (Ok(old), Ok(new)) => {
            let diff = crate::report::compare(&old, &new);
            print!("{}", diff.to_text());
            let failed = if exact { !diff.is_empty() } else { diff.is_regression() };
            if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        (Err(e), _) | (_, Err(e)) => {
            print_error(&e);
            ExitCode::from(2)
        }
    }
}

fn merge_command(inputs: &[PathBuf], out: &std::path::Path) -> ExitCode {
    let (merged, report) = match read_all(inputs).and_then(crate::result::merge::merge) {
        Ok(m) => m,
        Err(e) => {
            print_error(&e);
            return ExitCode::from(2);
        }
    };
    for d in &report.duplicates {
        eprintln!("duplicate: {d}");
    }
    for c in &report.conflicts {
        eprintln!("conflict: {c}");
    }
    if let Err(e) = merged.write(out) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!("merged {} file(s): {} cases, {} targets -> {}", inputs.len(), merged.cases.len(), merged.targets.len(), out.display());
    if report.conflicts.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
