//! The interpreter against a scripted fake target, so that blocking, timeouts,
//! cancellation and broken connections can be made to happen on cue.
//!
//! The fake's "SQL" is a tiny script: `ok`, `rows N`, `sleep MS`, `busy MS` (slow, and
//! the fake server says it is not waiting for a lock), `hang` (waits for a lock until
//! cancelled), `stuck` (ignores cancellation), `fail` (a unique violation), `drop` (the
//! connection is lost).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dbcompat::backends::Backend;
use dbcompat::driver::{Canceller, Command, DbError, ErrorClass, Response, Session, SessionError, StatementResult};
use dbcompat::run::{run_case, Timing};
use dbcompat::source::SourceFile;
use dbcompat::suite::{parse, Probe};
use dbcompat::targets::{Namespace, Target};
use dbcompat::version::Version;
use tokio::sync::Notify;

struct Fake {
    version: Version,
}

/// What the fake server says when asked whether a session waits for a lock.
const UNKNOWN: u8 = 0;
const WAITING: u8 = 1;
const NOT_WAITING: u8 = 2;

struct FakeSession {
    cancel: Arc<Notify>,
    state: Arc<AtomicU8>,
    /// The argument of the running `hang NAME`, so a test can see its cancellation.
    running: Arc<std::sync::Mutex<String>>,
}

/// The names of the `hang NAME` statements that were cancelled, across all tests.
static CANCELLED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Cancel(Arc<Notify>, Arc<AtomicU8>, Arc<std::sync::Mutex<String>>);

impl Canceller for Cancel {
    fn cancel(&self) {
        CANCELLED.lock().unwrap().push(self.2.lock().unwrap().clone());
        self.0.notify_one();
    }

    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        let state = self.1.load(Ordering::SeqCst);
        Box::pin(async move {
            match state {
                WAITING => Some(true),
                NOT_WAITING => Some(false),
                _ => None,
            }
        })
    }
}

#[async_trait]
impl Session for FakeSession {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        let Command::Sql(sql) = command else { return Err(SessionError::Unsupported("no cursors".into())) };
        let (verb, arg) = sql.split_once(' ').unwrap_or((sql.as_str(), ""));
        self.state.store(UNKNOWN, Ordering::SeqCst);
        match verb {
            "busy" => {
                *self.running.lock().unwrap() = format!("busy {arg}");
                self.state.store(NOT_WAITING, Ordering::SeqCst);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(arg.parse().unwrap())) => Ok(Ok(Response::Affected { count: 0 })),
                    _ = self.cancel.notified() => Ok(Err(DbError { class: ErrorClass::QueryCanceled, code: "57014".into(), message: "canceled".into() })),
                }
            }
            // What the harness sends for `begin = true` and `isolation`.
            "ok" | "BEGIN" | "SET" => Ok(Ok(Response::Affected { count: 0 })),
            // The harness reads every new session's settings.
            "SELECT" => Ok(Ok(Response::Rows { columns: vec!["name".into(), "setting".into()], rows: vec![vec!["'TimeZone'".into(), "'UTC'".into()]] })),
            "rows" => Ok(Ok(Response::Rows { columns: vec!["n".into()], rows: vec![vec![arg.to_string()]] })),
            "sleep" => {
                tokio::time::sleep(Duration::from_millis(arg.parse().unwrap())).await;
                Ok(Ok(Response::Affected { count: 0 }))
            }
            "hang" => {
                *self.running.lock().unwrap() = arg.to_string();
                self.state.store(WAITING, Ordering::SeqCst);
                self.cancel.notified().await;
                Ok(Err(DbError { class: ErrorClass::QueryCanceled, code: "57014".into(), message: "canceled".into() }))
            }
            "stuck" => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            "fail" => Ok(Err(DbError { class: ErrorClass::UniqueViolation, code: "23505".into(), message: "dup".into() })),
            "drop" => Err(SessionError::ConnectionLost("server closed the connection".into())),
            other => panic!("unknown fake statement {other}"),
        }
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(Cancel(self.cancel.clone(), self.state.clone(), self.running.clone()))
    }

    async fn close(self: Box<Self>) {}
}

#[async_trait]
impl Target for Fake {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }
    fn version(&self) -> &Version {
        &self.version
    }
    async fn create_namespace(&self, hint: &str) -> Result<Namespace, String> {
        Ok(Namespace { name: hint.into(), location: hint.into() })
    }
    async fn connect(&self, _: &Namespace, _: dbcompat::profile::Profile) -> Result<Box<dyn Session>, String> {
        Ok(Box::new(FakeSession { cancel: Arc::new(Notify::new()), state: Arc::new(AtomicU8::new(UNKNOWN)), running: Default::default() }))
    }
    /// A clean restart the fake server's log confirms; a crash its log contradicts.
    async fn restart(&self, kind: dbcompat::suite::RestartKind) -> Result<dbcompat::targets::RestartReport, String> {
        match kind {
            dbcompat::suite::RestartKind::Clean => {
                Ok(dbcompat::targets::RestartReport { summary: "restarted".into(), server_log: vec!["LOG:  database system is shut down".into()] })
            }
            dbcompat::suite::RestartKind::Crash => Err("the server's log shows a clean shutdown: the kill was not a crash".into()),
        }
    }
    async fn drop_namespace(&self, _: &Namespace) {}
}

fn probe(body: &str) -> Arc<Probe> {
    let text = format!("[[probe]]\nid = \"p\"\narea = \"test\"\nasks = \"?\"\nsessions.a = {{}}\nsessions.b = {{}}\n{body}");
    let (suite, diags) = parse(&SourceFile::new("fake.toml", text));
    assert!(diags.is_empty(), "{diags}");
    suite.probes[0].clone()
}

fn timing() -> Timing {
    Timing { blocking_window: Duration::from_millis(100), step_timeout: Duration::from_millis(800), restart_timeout: Duration::from_secs(1) }
}

/// The record of a probe step (harness records such as session state have step 0).
fn step(run: &dbcompat::run::CaseRun, n: usize) -> &dbcompat::result::StepRecord {
    run.transcript.iter().find(|r| r.step == n).expect("the step ran")
}

async fn run(body: &str) -> (dbcompat::run::CaseRun, Duration) {
    let target = Fake { version: Version::parse("17.2").unwrap() };
    let started = Instant::now();
    let run = run_case(&probe(body), &target, &timing()).await;
    (run, started.elapsed())
}

#[tokio::test]
async fn a_slow_step_is_blocked_and_completes_after_a_later_step() {
    let (run, _) = run(
        r#"
[[probe.step]]
session = "a"
sql = "sleep 250"
outcome = true
[[probe.step]]
session = "b"
sql = "sleep 120"
[[probe.step]]
session = "b"
sql = "rows 7"
outcome = true
"#,
    )
    .await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["blocked, then ok".to_string(), "rows:(7)".to_string()]);
    let first = &run.transcript.iter().find(|r| r.step == 1).unwrap();
    assert!(first.blocked && !first.cancelled);
    assert_eq!(first.completed_after_step, Some(2), "seen to finish while step 2 ran");
}

#[tokio::test]
async fn a_fast_step_is_not_blocked() {
    let (run, _) = run("[[probe.step]]\nsql = \"sleep 10\"\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["ok"]);
    assert!(!step(&run, 1).blocked);
}

#[tokio::test]
async fn a_step_blocked_at_the_end_is_cancelled() {
    let (run, elapsed) = run(
        r#"
[[probe.step]]
session = "a"
sql = "hang"
outcome = true
[[probe.step]]
session = "b"
sql = "ok"
"#,
    )
    .await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["blocked"]);
    let hung = run.transcript.iter().find(|r| r.step == 1).unwrap();
    assert!(hung.blocked && hung.cancelled);
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test]
async fn a_statement_that_ignores_cancellation_does_not_hang_the_case() {
    let (run, elapsed) = run("[[probe.step]]\nsql = \"stuck\"\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["blocked"]);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn a_session_still_blocked_when_needed_again_waits_at_most_the_step_timeout() {
    let (run, elapsed) = run(
        r#"
[[probe.step]]
session = "a"
sql = "hang"
[[probe.step]]
session = "a"
sql = "rows 1"
outcome = true
"#,
    )
    .await;
    // The hung step is cancelled after the step timeout; nothing in the script could have
    // released it, so the probe waited on itself: an error of the case, never an outcome.
    let error = run.outcome.unwrap_err();
    assert!(error.contains("step 2 needs session `a`, whose step 1 was still blocked") && error.contains("waits on itself"), "{error}");
    assert!(run.transcript.iter().any(|r| r.step == 1 && r.cancelled));
    assert!(elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn a_server_error_is_an_observation_and_stops_the_step() {
    let (run, _) = run("[[probe.step]]\nsql = [\"fail\", \"rows 1\"]\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["error:unique_violation"]);
    assert_eq!(step(&run, 1).statements.len(), 1, "statements after the error do not run");
}

#[tokio::test]
async fn a_lost_connection_is_an_error_not_an_outcome() {
    let (run, _) = run("[[probe.step]]\nsql = \"drop\"\n").await;
    let reason = run.outcome.unwrap_err();
    assert!(reason.contains("connection lost"), "{reason}");
}

#[tokio::test]
async fn a_failing_setup_is_an_error_naming_the_statement() {
    let (run, _) = run("setup = [\"ok\", \"fail\"]\n[[probe.step]]\nsql = \"ok\"\n").await;
    let reason = run.outcome.unwrap_err();
    assert!(reason.contains("`fail` failed: unique_violation"), "{reason}");
}

#[tokio::test]
async fn sql_for_another_dialect_only_is_an_error() {
    let (run, _) = run("[[probe.step]]\nsql.sqlite = \"ok\"\n").await;
    assert!(run.outcome.unwrap_err().contains("no SQL for postgres"));
}

#[tokio::test]
async fn a_restart_reconnects_every_session() {
    let (run, _) = run("runs_alone = true\n[[probe.step]]\nrestart = true\n[[probe.step]]\nsession = \"b\"\nsql = \"rows 2\"\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["rows:(2)"]);
    let restart = run.transcript.iter().find(|r| r.kind == dbcompat::result::StepKind::Restart).expect("a restart record");
    assert_eq!(restart.statements[0].sql, "-- restart: restarted");
    assert_eq!(restart.statements[0].server_log, vec!["LOG:  database system is shut down"], "the server's own lines are kept");
    // Every session's settings are read once after it connects, and again after the restart.
    let states = run.transcript.iter().filter(|r| r.kind == dbcompat::result::StepKind::Session).count();
    assert_eq!(states, 4, "two sessions, connected twice");
}

#[tokio::test]
async fn a_crash_the_server_does_not_confirm_is_an_error_of_the_case() {
    let (run, _) = run("runs_alone = true\n[[probe.step]]\ncrash = true\n[[probe.step]]\nsql = \"rows 2\"\n").await;
    let error = run.outcome.unwrap_err();
    assert!(error.contains("step 1: crash failed") && error.contains("not a crash"), "{error}");
}

#[tokio::test]
async fn a_slow_step_the_server_says_is_not_waiting_is_not_blocked() {
    let (run, _) = run("[[probe.step]]\nsql = \"busy 350\"\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["ok"], "slow under load, but never waiting for a lock");
    assert!(!step(&run, 1).blocked);
}

#[tokio::test]
async fn a_step_the_server_says_is_waiting_is_blocked() {
    let (run, _) = run("[[probe.step]]\nsession = \"a\"\nsql = \"hang\"\noutcome = true\n[[probe.step]]\nsession = \"b\"\nsql = \"ok\"\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["blocked"]);
}

#[tokio::test]
async fn a_slow_step_past_the_step_timeout_is_a_timeout_not_blocked() {
    let started = Instant::now();
    let (run, _) = run("[[probe.step]]\nsql = \"busy 5000\"\n").await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["timeout"]);
    assert!(!step(&run, 1).blocked && step(&run, 1).cancelled);
    // Cancelled at the step timeout (800 ms), within one window (100 ms), not after 2x.
    assert!(started.elapsed() < Duration::from_millis(1400), "{:?}", started.elapsed());
}

/// A case dropped mid-statement (an interrupted run, or the case's deadline) cancels
/// its running statements, inline or moved to a task of their own, so the server does
/// not go on with them.
#[tokio::test]
async fn an_abandoned_case_cancels_its_running_statements() {
    let timing = Timing { blocking_window: Duration::from_millis(50), step_timeout: Duration::from_secs(30), ..Timing::default() };
    // Step 1 blocks (moved to a task); step 2, on another session, hangs inline.
    let p = probe(
        r#"
[[probe.step]]
session = "a"
sql = "hang abandoned-pending"
[[probe.step]]
session = "b"
sql = "busy 61234"
"#,
    );
    let target = Fake { version: Version::parse("1.0").unwrap() };
    let abandoned = tokio::time::timeout(Duration::from_millis(400), run_case(&p, &target, &timing)).await;
    assert!(abandoned.is_err(), "the case was still running when it was dropped");
    tokio::task::yield_now().await;
    let cancelled = CANCELLED.lock().unwrap().clone();
    assert!(cancelled.iter().any(|n| n == "abandoned-pending"), "the blocked statement was cancelled: {cancelled:?}");
    assert!(cancelled.iter().any(|n| n == "busy 61234"), "the statement running inline was cancelled: {cancelled:?}");
}

#[tokio::test]
async fn the_begin_and_isolation_the_harness_sends_are_in_the_transcript() {
    let (run, _) = run(
        r#"
sessions.c = { isolation = { postgres = "repeatable read", oracle = "serializable" } }
[[probe.step]]
session = "c"
begin = true
sql = "rows 1"
"#,
    )
    .await;
    assert_eq!(run.outcome.as_ref().unwrap(), &["rows:(1)"]);
    let sent: Vec<&str> = step(&run, 1).statements.iter().map(|s| s.sql.as_str()).collect();
    assert_eq!(sent, ["BEGIN", "rows 1"]);
    let init: Vec<&str> = run
        .transcript
        .iter()
        .filter(|r| r.kind == dbcompat::result::StepKind::Init)
        .flat_map(|r| r.statements.iter().map(|s| s.sql.as_str()))
        .collect();
    assert_eq!(init, ["SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"]);
}

/// A slow statement on real SQLite: counting to a few million in a recursive CTE takes
/// far longer than the blocking window.
const SLOW_SQLITE: &str = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000000) SELECT count(*) FROM c";

async fn on_embedded_sqlite(body: &str) -> dbcompat::run::CaseRun {
    let target = dbcompat::targets::embedded::EmbeddedSqlite::start().expect("the bundled SQLite opens");
    let timing = Timing { blocking_window: Duration::from_millis(20), step_timeout: Duration::from_secs(30), restart_timeout: Duration::from_secs(1) };
    run_case(&probe(body), &target, &timing).await
}

#[tokio::test]
async fn a_slow_sqlite_statement_with_no_busy_timeout_is_slow_not_blocked() {
    let run = on_embedded_sqlite(&format!("[[probe.step]]\nsql = \"{SLOW_SQLITE}\"\n")).await;
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["rows:(3000000)"], "SQLite with busy_timeout 0 never waits for a lock");
    assert!(!step(&run, 1).blocked);
}

#[tokio::test]
async fn with_a_busy_timeout_sqlite_cannot_tell_so_a_slow_last_step_counts_as_blocked() {
    let run = on_embedded_sqlite(&format!("[[probe.step]]\nsql = [\"PRAGMA busy_timeout = 2000\", \"{SLOW_SQLITE}\"]\n")).await;
    // The limit this names: blocked by time alone, then cancelled as the last step.
    assert_eq!(run.outcome.as_ref().unwrap(), &vec!["blocked"]);
    assert!(step(&run, 1).blocked);
}
