//! `dbcompat crosscheck`: a second instrument. Each single-session probe runs twice on a
//! target, once through dbcompat's driver and once through the backend's own
//! command-line client ([`crate::driver::client`]), each in its own namespace, with the
//! same interpreter; every case where the two observations disagree is reported. A
//! reading the harness shaped (a session setting, a dropped warning) shows up here.
//!
//! Only probes a client can replay are cross-checked: one session, and cursors only
//! where the client session holds them as the driver does. A `runs_alone` probe (a
//! server-wide setting, a restart) has the target to itself for both instruments, as
//! in a run; a restart reconnects the client. The others are counted, with why.

pub mod compare;
pub mod explain;
pub mod page;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::backends::Backend;
use crate::driver::client::ClientLog;
use crate::driver::Session;
use crate::result::{CaseResult, Verdict};
use crate::run::{self, Case, TargetPool, Timing};
use crate::suite::{Action, Probe, RestartKind};
use crate::targets::{Launched, Namespace, RestartReport, Target};
use crate::version::Version;
pub use explain::Explanation;

/// Why a probe cannot be replayed through a client on a backend, if it cannot. psql
/// declares and fetches PostgreSQL's cursors as the driver does; the MySQL/MariaDB
/// driver's cursors are buffered by the driver itself, which no client replays.
pub fn not_cross_checkable(probe: &Probe, backend: Backend) -> Option<String> {
    if probe.sessions.len() != 1 {
        return Some(format!("it has {} sessions; a client is one session", probe.sessions.len()));
    }
    if !backend.dialect().client_holds_cursors() && probe.steps.iter().any(|s| matches!(s.action, Action::Cursor { .. })) {
        return Some("it uses a cursor, which a client does not hold open across steps".into());
    }
    None
}

/// The target as seen through its client: namespaces are the target's own; sessions
/// are client sessions.
struct ViaClient {
    inner: Arc<dyn Target>,
    log: ClientLog,
}

#[async_trait]
impl Target for ViaClient {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    fn version(&self) -> &Version {
        self.inner.version()
    }

    async fn create_namespace(&self, hint: &str) -> Result<Namespace, String> {
        self.inner.create_namespace(hint).await
    }

    /// The client is the server's own: it has no other profile than the server's defaults.
    async fn connect(&self, namespace: &Namespace, _profile: crate::profile::Profile) -> Result<Box<dyn Session>, String> {
        self.inner.client(namespace, self.log.clone()).await
    }

    /// The server restarts as for the driver; the interpreter then starts the
    /// client again, as it reconnects a driver's sessions.
    async fn restart(&self, kind: RestartKind) -> Result<RestartReport, String> {
        self.inner.restart(kind).await
    }

    async fn drop_namespace(&self, namespace: &Namespace) {
        self.inner.drop_namespace(namespace).await;
    }

    async fn explain_failure(&self, error: String) -> String {
        self.inner.explain_failure(error).await
    }
}

/// What one instrument observed: the outcome, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Vec<crate::outcome::Outcome>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The probe session's settings as the server reported them right after this
    /// instrument connected (the `session state` record), setting by setting.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub session_state: BTreeMap<String, String>,
}

impl Observed {
    fn of(r: &CaseResult) -> Observed {
        let error = match &r.verdict {
            _ if r.outcome.is_some() => None,
            Verdict::Error { reason } | Verdict::NotRun { reason } | Verdict::NotApplicable { reason } => Some(reason.clone()),
            other => Some(other.label().to_string()),
        };
        Observed { outcome: r.outcome.clone(), error, session_state: session_state(r) }
    }

    fn text(&self) -> String {
        match (&self.outcome, &self.error) {
            (Some(o), _) => crate::outcome::joined(o, " | "),
            (None, Some(e)) => format!("no outcome: {e}"),
            (None, None) => "no outcome".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Agree,
    Disagree {
        #[serde(skip_serializing_if = "Option::is_none")]
        explained: Option<String>,
    },
    NotCrossChecked { reason: String },
    /// The probe does not apply to the target: there is nothing to check.
    NotApplicable { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct CrossCase {
    pub name: String,
    pub probe: String,
    pub target: String,
    /// Whether coverage counts it: a probe of one session that dbcompat runs on the target.
    pub single_session: bool,
    #[serde(flatten)]
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<Observed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<Observed>,
    /// What the client was sent and printed, statement by statement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_transcript: Vec<String>,
    /// Settings on which the driver's session and the client's started differently.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub session_differences: Vec<String>,
}

impl CrossCase {
    fn not_checked(case: &Case, target: &str, reason: String) -> CrossCase {
        CrossCase {
            name: case.name.clone(),
            probe: case.probe.id.clone(),
            target: target.to_string(),
            single_session: case.probe.sessions.len() == 1,
            status: Status::NotCrossChecked { reason },
            driver: None,
            client: None,
            client_transcript: Vec::new(),
            session_differences: Vec::new(),
        }
    }

    pub fn is_unexplained_disagreement(&self) -> bool {
        matches!(self.status, Status::Disagree { explained: None })
    }
}

/// The settings of the case's first `session state` record: (name, value) rows, or
/// one row with a column per setting (SQLite's pragmas).
fn session_state(r: &CaseResult) -> BTreeMap<String, String> {
    let record = r.transcript.iter().find(|s| s.kind == crate::result::StepKind::Session);
    let (columns, rows) = match record.and_then(|s| s.statements.last()).and_then(|st| st.response.as_ref()) {
        Some(crate::driver::Response::Rows { columns, rows }) => (columns.clone(), rows.clone()),
        _ => return BTreeMap::new(),
    };
    if columns.len() != 2 && rows.len() == 1 {
        return columns.into_iter().zip(&rows[0]).map(|(name, value)| (name, as_namespace(value))).collect();
    }
    rows.into_iter()
        .filter_map(|row| Some((row.first()?.trim_matches('\'').to_string(), as_namespace(row.get(1)?))))
        .collect()
}

/// Each instrument runs in a namespace of its own (`dbc_<probe>_<n>`, see
/// target/server.rs): a setting naming it is the same setting on both sides.
fn as_namespace(value: &str) -> String {
    let bare = value.trim_matches(|c| c == '\'' || c == '"');
    let numbered = bare.rsplit_once('_').is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if bare.starts_with("dbc_") && numbered { "{{namespace}}".to_string() } else { value.to_string() }
}

/// Settings on which the two instruments' sessions started differently:
/// `name: driver VALUE, client VALUE`.
fn session_differences(driver: &BTreeMap<String, String>, client: &BTreeMap<String, String>) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = driver.keys().chain(client.keys()).collect();
    let shown = |v: Option<&String>| v.map_or_else(|| "(not reported)".to_string(), String::clone);
    names
        .into_iter()
        .filter(|n| driver.get(*n) != client.get(*n))
        .map(|n| format!("{n}: driver {}, client {}", shown(driver.get(n)), shown(client.get(n))))
        .collect()
}

/// Runs one case through both instruments and compares them.
async fn cross_check(case: &Case, launched: &Launched, timing: &Timing, explanations: &[Explanation]) -> CrossCase {
    let id = launched.record.id.clone();
    let Some(target) = &launched.target else {
        return CrossCase::not_checked(case, &id, format!("the target did not run: {}", launched.record.not_run.clone().unwrap_or_default()));
    };
    if let Some(reason) = case.probe.not_applicable_for(target.backend(), Some(target.version())) {
        let mut c = CrossCase::not_checked(case, &id, String::new());
        c.status = Status::NotApplicable { reason: reason.to_string() };
        return c;
    }
    if let Some(reason) = not_cross_checkable(&case.probe, target.backend()) {
        return CrossCase::not_checked(case, &id, reason);
    }
    // A probe dbcompat does not run on the target gives neither instrument an outcome.
    if let Some(reason) = case.probe.unsupported_for(target.backend(), Some(target.version())) {
        let mut c = CrossCase::not_checked(case, &id, format!("dbcompat does not run it here: {reason}"));
        c.single_session = false;
        return c;
    }
    let driver = Observed::of(&run::run_one(&case.probe, launched, timing).await);
    let (mut client, mut transcript) = through_client(case, launched, target, timing).await;
    // Starting a client is a process in the container (`exec`): on a busy machine it can
    // outlast the step timeout. That says nothing of the server, so it is tried once more.
    if client.error.as_deref().is_some_and(|e| e.contains("connecting session") && e.contains("timed out")) {
        (client, transcript) = through_client(case, launched, target, timing).await;
    }
    // A client that cannot run here (no client for the backend, a missing binary) or did
    // not start twice makes the case not cross-checked, saying why; a client that ran and
    // failed is a disagreement.
    if client.outcome.is_none() {
        let not_started = |e: &&str| e.contains("cannot connect session") || (e.contains("connecting session") && e.contains("timed out"));
        if let Some(e) = client.error.as_deref().filter(not_started) {
            return CrossCase::not_checked(case, &id, format!("no client session: {e}"));
        }
    }
    let agree = match (&driver.outcome, &client.outcome) {
        (Some(d), Some(c)) => compare::outcomes_agree(d, c),
        _ => false,
    };
    let status = if agree {
        Status::Agree
    } else {
        Status::Disagree { explained: explanations.iter().find(|e| e.covers(&case.probe.id, &id)).map(|e| e.reason.clone()) }
    };
    let session_differences = match (driver.session_state.is_empty(), client.session_state.is_empty()) {
        (false, false) => session_differences(&driver.session_state, &client.session_state),
        _ => Vec::new(),
    };
    CrossCase { name: case.name.clone(), probe: case.probe.id.clone(), target: id, single_session: true, status, driver: Some(driver), client: Some(client), client_transcript: transcript, session_differences }
}

/// Runs the case through the target's client: what it observed, and the client's transcript.
async fn through_client(case: &Case, launched: &Launched, target: &Arc<dyn Target>, timing: &Timing) -> (Observed, Vec<String>) {
    let log = ClientLog::default();
    let via = Launched { record: launched.record.clone(), target: Some(Arc::new(ViaClient { inner: target.clone(), log: log.clone() })), jobs: launched.jobs };
    let client = Observed::of(&run::run_one(&case.probe, &via, timing).await);
    let transcript = std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()));
    (client, transcript)
}

/// How many cases are cross-checked at once on the whole machine: each starts client
/// processes inside containers (`exec`), which cost the engine far more than a
/// statement; with every target's cases at once (about a hundred on 26 targets), the
/// engine fell so far behind that restarts of the probes' own servers timed out. At four
/// per core the machine's load average stayed below 1 (a case mostly waits for its
/// `exec`s) and the 26 targets took 2657 s.
pub fn machine_limit() -> usize {
    8 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Cross-checks every case, a few at a time per target and at most `machine` at once in
/// all; results in plan order. When the pool's run is interrupted, the cases still
/// running are abandoned and those finished are returned.
pub async fn run_all(cases: Vec<Case>, pool: Arc<TargetPool>, timing: Timing, explanations: Arc<Vec<Explanation>>, jobs: usize, machine: usize) -> Vec<CrossCase> {
    let needed: Vec<usize> = cases.iter().map(|c| c.target).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    pool.launch_some(&needed).await;
    let limits: BTreeMap<usize, Arc<tokio::sync::Semaphore>> = needed.iter().map(|&i| (i, Arc::new(tokio::sync::Semaphore::new(jobs.max(1))))).collect();
    let machine = Arc::new(tokio::sync::Semaphore::new(machine.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let total = cases.len();
    for (index, case) in cases.into_iter().enumerate() {
        let (pool, explanations, limit, machine) = (pool.clone(), explanations.clone(), limits[&case.target].clone(), machine.clone());
        set.spawn(async move {
            let _turn = limit.acquire().await.expect("semaphores are never closed");
            // As in a run: a `runs_alone` probe has the target to itself.
            let _target = pool.turn(case.target, case.probe.runs_alone).await;
            // Taken last: a case holding a machine slot never waits for a target's turn,
            // so the slots always belong to cases that are running.
            let _slot = machine.acquire().await.expect("semaphores are never closed");
            let launched = pool.launch(case.target).await;
            (index, cross_check(&case, launched, &timing, &explanations).await)
        });
    }
    let mut out: Vec<Option<CrossCase>> = (0..total).map(|_| None).collect();
    loop {
        let joined = tokio::select! {
            j = set.join_next() => j,
            () = pool.interrupted() => {
                set.abort_all();
                break;
            }
        };
        match joined {
            Some(Ok((i, c))) => out[i] = Some(c),
            Some(Err(e)) if e.is_cancelled() => {}
            Some(Err(e)) => eprintln!("dbcompat: a crosscheck task failed: {e}"),
            None => break,
        }
    }
    out.into_iter().flatten().collect()
}

/// Per target: cross-checked, agreeing, disagreeing (of which explained), not cross-checked.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    pub cross_checked: usize,
    pub agree: usize,
    pub disagree: usize,
    pub explained: usize,
    pub not_cross_checked: usize,
    pub not_applicable: usize,
    /// Applicable cases of one session, cross-checked or not: what coverage is of.
    pub single_session: usize,
    /// Cross-checked cases per hundred applicable single-session cases.
    pub coverage_percent: f64,
    /// Cases whose two sessions both reported their settings, and of those, the ones
    /// where the settings were equal.
    pub session_compared: usize,
    pub session_equal: usize,
    /// Every setting seen to differ, once.
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub session_differences: std::collections::BTreeSet<String>,
}

pub fn tally(cases: &[CrossCase]) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for c in cases {
        let t = out.entry(c.target.clone()).or_default();
        let both = |o: &Option<Observed>| o.as_ref().is_some_and(|o| !o.session_state.is_empty());
        if both(&c.driver) && both(&c.client) {
            t.session_compared += 1;
            t.session_equal += usize::from(c.session_differences.is_empty());
            t.session_differences.extend(c.session_differences.iter().cloned());
        }
        match &c.status {
            Status::Agree => {
                t.cross_checked += 1;
                t.agree += 1;
            }
            Status::Disagree { explained } => {
                t.cross_checked += 1;
                t.disagree += 1;
                t.explained += usize::from(explained.is_some());
            }
            Status::NotCrossChecked { .. } => t.not_cross_checked += 1,
            Status::NotApplicable { .. } => t.not_applicable += 1,
        }
        if c.single_session && !matches!(c.status, Status::NotApplicable { .. }) {
            t.single_session += 1;
        }
    }
    for t in out.values_mut() {
        t.coverage_percent = if t.single_session == 0 { 0.0 } else { (1000.0 * t.cross_checked as f64 / t.single_session as f64).round() / 10.0 };
    }
    out
}

/// `crosscheck.json`: the tally and every case.
#[derive(Serialize)]
pub struct Report<'a> {
    pub comparison: &'static str,
    /// The signal that stopped the crosscheck: the cases are those finished before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<&'static str>,
    pub targets: BTreeMap<String, Tally>,
    pub cases: &'a [CrossCase],
}

pub const COMPARISON: &str = "values compared without quoting (a client prints no types): 'a' equals a, NULL only NULL, \
    a number equals the same number's text, true/false equal t/f and 1/0, x'..' equals 0x..; \
    the kind of result, error classes, affected counts, row count and order, warning and notice codes and tags must be equal";

/// How a disagreement reads on the terminal.
pub fn describe(c: &CrossCase) -> String {
    let side = |o: &Option<Observed>| o.as_ref().map_or_else(|| "-".to_string(), Observed::text);
    format!("{}\n      driver: {}\n      client: {}", c.name, side(&c.driver), side(&c.client))
}

#[cfg(test)]
mod session_tests {
    use super::*;

    #[test]
    fn sessions_are_compared_setting_by_setting_with_namespaces_alike() {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), as_namespace(v))).collect::<BTreeMap<_, _>>();
        let driver = map(&[("search_path", "'dbc_p_1'"), ("character_set_client", "'utf8mb4'"), ("TimeZone", "'UTC'")]);
        let client = map(&[("search_path", "'dbc_p_2'"), ("character_set_client", "'utf8mb3'"), ("DateStyle", "'ISO, MDY'")]);
        assert_eq!(
            session_differences(&driver, &client),
            [
                "DateStyle: driver (not reported), client 'ISO, MDY'",
                "TimeZone: driver 'UTC', client (not reported)",
                "character_set_client: driver 'utf8mb4', client 'utf8mb3'",
            ]
        );
        assert!(session_differences(&driver, &driver).is_empty());
        assert_eq!(as_namespace("'dbc_rollback_to_savepoint_0'"), "{{namespace}}");
        assert_eq!(as_namespace("'dbc_x'"), "'dbc_x'", "not a numbered namespace");
    }
}
