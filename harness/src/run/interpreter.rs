//! Runs one probe on one target: a fresh namespace, one connection per session, steps
//! in file order.
//!
//! Each step's statements run in a task of their own. The interpreter waits for a step
//! only as long as the blocking window; a step still running then is recorded as
//! blocked and left running while later steps go on (the way PostgreSQL's isolation
//! tester reports `<waiting ...>`). After every step the interpreter looks again, for
//! one more window, at the steps still blocked and records which step unblocked them.
//! A step that is still blocked when its session is needed again waits at most the
//! step timeout; one still blocked at the end is cancelled. No wait is unbounded, so a
//! probe never hangs the run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::backends::Backend;
use crate::driver::{Canceller, Command, Session, SessionError};
use crate::outcome::{Outcome, Reply};
use crate::profile::{Profile, SetupStatement};
use crate::driver::Response;
use crate::result::{StatementRecord, StepKind, StepRecord};
use crate::suite::{Action, Probe, RestartKind, SessionSpec, Sql, Step, Template};
use crate::targets::{Namespace, Target};

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a step may run before it counts as blocked.
    pub blocking_window: Duration,
    /// The longest the interpreter waits for any one step (or setup statement).
    pub step_timeout: Duration,
    /// How long a server restart may take.
    pub restart_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            blocking_window: Duration::from_millis(300),
            step_timeout: Duration::from_secs(10),
            restart_timeout: Duration::from_secs(180),
        }
    }
}

/// What happened when a case ran: its outcome (or why there is none) and the transcript.
#[derive(Debug)]
pub struct CaseRun {
    pub outcome: Result<Vec<Outcome>, String>,
    pub transcript: Vec<StepRecord>,
    pub duration: Duration,
}

/// Runs one case. Every wait inside is bounded; as a last line of defence the whole case
/// also has a deadline, so that a hang nobody foresaw fails this case — saying where it
/// was — and never the run.
pub async fn run_case(probe: &Probe, target: &dyn Target, timing: &Timing) -> CaseRun {
    run_case_watched(probe, target, timing, &|_, _| {}).await
}

/// Told, as it happens, of each step that blocks: its number and its session.
pub type OnBlocked<'a> = &'a (dyn Fn(usize, &str) + Sync);

/// [`run_case`], telling `on_blocked` of each step that blocks.
pub async fn run_case_watched(probe: &Probe, target: &dyn Target, timing: &Timing, on_blocked: OnBlocked<'_>) -> CaseRun {
    let started = Instant::now();
    let restarts = probe.steps.iter().filter(|s| matches!(s.action, Action::Restart(_))).count() as u32;
    let budget = timing.step_timeout * (probe.steps.len() as u32 + probe.sessions.len() as u32 + 6) + timing.restart_timeout * restarts;
    let stage = Arc::new(Mutex::new(String::from("starting")));
    let mut run = match tokio::time::timeout(budget, run_case_bounded(probe, target, timing, stage.clone(), on_blocked)).await {
        Ok(run) => run,
        Err(_) => {
            let at = stage.lock().unwrap_or_else(|p| p.into_inner()).clone();
            CaseRun { outcome: Err(format!("the case did not finish within {budget:?}; it was {at}")), transcript: Vec::new(), duration: started.elapsed() }
        }
    };
    // A lost connection reads "connection refused" or "EOF"; the target may know more.
    if let Err(e) = run.outcome {
        run.outcome = Err(target.explain_failure(e).await);
    }
    run
}

async fn run_case_bounded(probe: &Probe, target: &dyn Target, timing: &Timing, stage: Arc<Mutex<String>>, on_blocked: OnBlocked<'_>) -> CaseRun {
    let started = Instant::now();
    set_stage(&stage, "creating its namespace");
    let namespace = match target.create_namespace(&probe.id).await {
        Ok(ns) => ns,
        Err(e) => {
            return CaseRun { outcome: Err(format!("cannot create a namespace: {e}")), transcript: Vec::new(), duration: started.elapsed() }
        }
    };
    let mut case = Case {
        probe,
        target,
        backend: target.backend(),
        namespace,
        timing: *timing,
        sessions: HashMap::new(),
        pending: Vec::new(),
        transcript: Vec::new(),
        harness_tails: HashMap::new(),
        stage,
        on_blocked,
    };
    let outcome = case.run().await;
    case.at("closing its sessions");
    case.shut_down().await;
    case.at("running its teardown");
    let teardown = case.teardown().await;
    case.at("dropping its namespace");
    target.drop_namespace(&case.namespace).await;
    let outcome = outcome.and_then(|o| teardown.map(|()| o));
    CaseRun { outcome, transcript: std::mem::take(&mut case.transcript), duration: started.elapsed() }
}

type StepOutput = (Box<dyn Session>, Vec<StatementRecord>, Option<SessionError>);

enum Slot {
    Idle(Box<dyn Session>),
    /// Its step is in `pending`.
    Busy,
    Lost(String),
}

struct Pending {
    record: usize,
    session: String,
    handle: JoinHandle<StepOutput>,
    canceller: Box<dyn Canceller>,
}

struct Case<'a> {
    probe: &'a Probe,
    target: &'a dyn Target,
    backend: Backend,
    namespace: Namespace,
    timing: Timing,
    sessions: HashMap<String, Slot>,
    pending: Vec<Pending>,
    transcript: Vec<StepRecord>,
    /// Steps (by transcript record) that end with statements the harness added (Oracle's
    /// COMMIT of an autocommit step): how many commands were sent, and how many of the
    /// last ones are the harness's. Their observation is the step's own statements'.
    harness_tails: HashMap<usize, (usize, usize)>,
    /// Where the case is, for the message if its deadline passes.
    stage: Arc<Mutex<String>>,
    on_blocked: OnBlocked<'a>,
}

fn set_stage(stage: &Mutex<String>, at: &str) {
    *stage.lock().unwrap_or_else(|p| p.into_inner()) = at.to_string();
}

/// How long closing a connection may take before it is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a cancelled statement's session has to come back before it is given up.
const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// How long asking the server whether a session waits for a lock may take.
const LOCK_WAIT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

async fn close(session: Box<dyn Session>) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close()).await;
}

/// A step whose future is dropped before it finishes (the run was interrupted, or the
/// case's deadline passed) cancels its statement, so the server does not go on with it.
struct CancelIfAbandoned<F> {
    step: std::pin::Pin<Box<F>>,
    canceller: Option<Box<dyn Canceller>>,
}

impl<F: std::future::Future> CancelIfAbandoned<F> {
    fn new(step: F, canceller: Box<dyn Canceller>) -> Self {
        CancelIfAbandoned { step: Box::pin(step), canceller: Some(canceller) }
    }
}

impl<F: std::future::Future> std::future::Future for CancelIfAbandoned<F> {
    type Output = F::Output;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        let output = std::task::ready!(self.step.as_mut().poll(cx));
        self.canceller = None;
        std::task::Poll::Ready(output)
    }
}

impl<F> Drop for CancelIfAbandoned<F> {
    fn drop(&mut self) {
        // Cancellers reach the server from a task of the runtime; without one (the
        // process is ending) there is nothing to reach it with.
        if let (Some(c), Ok(_)) = (self.canceller.take(), tokio::runtime::Handle::try_current()) {
            c.cancel();
        }
    }
}

impl Drop for Case<'_> {
    /// Steps moved to tasks of their own do not end with the case: abort them, which
    /// cancels their statements (see `CancelIfAbandoned`).
    fn drop(&mut self) {
        for p in &self.pending {
            p.handle.abort();
        }
    }
}

impl Case<'_> {
    fn at(&self, at: &str) {
        set_stage(&self.stage, at);
    }

    async fn run(&mut self) -> Result<Vec<Outcome>, String> {
        let setup = setup_statements(self.backend, self.statements(&self.probe.setup, "setup")?);
        if !setup.is_empty() {
            self.at("running its setup");
            let session = self.connect("setup", self.probe_profile()).await?;
            let session = self.run_now(session, StepKind::Setup, "setup", setup).await?;
            close(session).await;
        }
        self.at("connecting its sessions");
        self.connect_all().await?;
        let probe = self.probe;
        for (i, step) in probe.steps.iter().enumerate() {
            let number = i + 1;
            self.at(&format!("at step {number} (line {})", step.line));
            match &step.action {
                Action::Restart(kind) => self.restart(number, *kind).await?,
                Action::Sql(sql) => {
                    let commands = self.statements(sql, &format!("step {number}"))?.into_iter().map(Command::Sql).collect();
                    let (commands, tail) = step_commands(self.backend, step, commands);
                    self.dispatch(number, StepKind::Sql, &step.session, commands, tail).await?;
                }
                Action::Cursor { name, sql, fetch, streamed, close } => {
                    let command = match sql {
                        None if *close => Command::CloseCursor { name: name.clone() },
                        Some(sql) => {
                            let mut statements = self.statements(sql, &format!("step {number}"))?;
                            if statements.len() != 1 {
                                return Err(format!("step {number} opens cursor `{name}` with {} statements; a cursor needs exactly one", statements.len()));
                            }
                            Command::OpenCursor { name: name.clone(), sql: statements.remove(0), fetch: Some(fetch.unwrap_or(1)), streamed: *streamed }
                        }
                        None => Command::Fetch { name: name.clone(), count: *fetch },
                    };
                    let (commands, tail) = step_commands(self.backend, step, vec![command]);
                    self.dispatch(number, StepKind::Cursor, &step.session, commands, tail).await?;
                }
            }
            self.settle(number).await?;
        }
        self.cancel_all_pending().await;
        self.outcome()
    }

    /// The outcomes of the steps marked `outcome` (or of the last step). A step the
    /// server gave no answer to (the connection broke) is the case's error, not an
    /// outcome.
    fn outcome(&self) -> Result<Vec<Outcome>, String> {
        let marked: Vec<usize> = self.probe.steps.iter().enumerate().filter(|(_, s)| s.outcome).map(|(i, _)| i + 1).collect();
        let wanted = if marked.is_empty() { vec![self.probe.steps.len()] } else { marked };
        wanted
            .iter()
            .map(|n| {
                let record = self
                    .transcript
                    .iter()
                    .rfind(|r| r.step == *n && matches!(r.kind, StepKind::Sql | StepKind::Cursor | StepKind::Restart))
                    .ok_or_else(|| format!("step {n} was not reached"))?;
                step_outcome(record).map_err(|e| format!("step {n}: {e}"))
            })
            .collect()
    }

    /// The statements of some SQL for this backend, with placeholders filled in.
    fn statements(&self, sql: &Sql, what: &str) -> Result<Vec<String>, String> {
        if sql.is_empty() {
            return Ok(Vec::new());
        }
        let templates = sql
            .for_backend(self.backend)
            .ok_or_else(|| format!("{what} has no SQL for {} (and no `default`)", self.backend))?;
        templates.iter().map(|t| self.expand(t)).collect()
    }

    fn expand(&self, template: &Template) -> Result<String, String> {
        template.expand(|name| {
            if name == "namespace" {
                return Ok(self.namespace.name.clone());
            }
            let snippet = self.probe.snippets.get(name).ok_or_else(|| format!("no snippet `{name}`"))?;
            let text = snippet.for_backend(self.backend).ok_or_else(|| format!("snippet `{name}` has no SQL for {}", self.backend))?;
            Ok(text.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
        })
    }

    /// The profile of the probe's sessions that name none (and of its setup and teardown).
    fn probe_profile(&self) -> Profile {
        self.probe.profile.unwrap_or_default()
    }

    /// Connects a session as `profile` has it: the handshake it asks for, then the
    /// statements it runs, recorded as a step of their own.
    async fn connect(&mut self, what: &str, profile: Profile) -> Result<Box<dyn Session>, String> {
        let setup = self.backend.dialect().profile_setup(profile).map_err(|e| format!("session `{what}`: {e}"))?;
        let session = tokio::time::timeout(self.timing.step_timeout, self.target.connect(&self.namespace, profile))
            .await
            .map_err(|_| format!("connecting session `{what}` timed out"))?
            .map_err(|e| format!("cannot connect session `{what}`: {e}"))?;
        if setup.statements.is_empty() {
            return Ok(session);
        }
        self.run_profile(session, what, profile, &setup.statements).await
    }

    /// Runs a profile's connection set-up; a statement the framework sends only when
    /// the session's setting differs is preceded by the query that decides.
    async fn run_profile(&mut self, mut session: Box<dyn Session>, what: &str, profile: Profile, statements: &[SetupStatement]) -> Result<Box<dyn Session>, String> {
        let started = Instant::now();
        let mut records = Vec::new();
        for statement in statements {
            if let Some(unless) = statement.unless {
                let (back, mut asked) = self.profile_statement(session, what, unless.query).await?;
                session = back;
                let value = asked.first().and_then(first_value);
                records.append(&mut asked);
                if value.as_deref() == Some(unless.value) {
                    records.push(StatementRecord::new(format!("-- not sent: {} ({} is {})", statement.sql, unless.query, unless.value), 0.0));
                    continue;
                }
            }
            let (back, mut sent) = self.profile_statement(session, what, statement.sql).await?;
            session = back;
            records.append(&mut sent);
        }
        let observation = observation(&records);
        self.transcript.push(StepRecord { statements: records, observation, elapsed_ms: ms(started.elapsed()), profile: Some(profile), ..StepRecord::new(0, StepKind::Profile, what) });
        Ok(session)
    }

    async fn profile_statement(&self, session: Box<dyn Session>, what: &str, sql: &str) -> Result<(Box<dyn Session>, Vec<StatementRecord>), String> {
        let (session, records, failure) = tokio::time::timeout(self.timing.step_timeout, execute_all(session, vec![Command::Sql(sql.to_string())]))
            .await
            .map_err(|_| format!("session `{what}`: its profile's `{sql}` did not finish within {:?}", self.timing.step_timeout))?;
        if let Some(f) = failure {
            return Err(format!("session `{what}`: its profile's `{sql}`: {f}"));
        }
        if let Some(e) = records.iter().find_map(|r| r.error.as_ref()) {
            return Err(format!("session `{what}`: its profile's `{sql}` failed: {} ({} {})", e.class, e.code, e.message));
        }
        Ok((session, records))
    }

    /// Connects every session and applies its settings.
    async fn connect_all(&mut self) -> Result<(), String> {
        let specs: Vec<SessionSpec> = self.probe.sessions.clone();
        for spec in specs {
            let profile = spec.profile.unwrap_or(self.probe_profile());
            let session = self.connect(&spec.name, profile).await?;
            let session = self.record_session_state(session, &spec.name, profile).await?;
            let mut init = Vec::new();
            if let Some(level) = spec.isolation.for_backend(self.backend) {
                init.extend(self.backend.dialect().set_isolation(level).map_err(|e| format!("session `{}`: {e}", spec.name))?);
            }
            init.extend(self.statements(&spec.init, &format!("session `{}` init", spec.name))?);
            let session = self.run_now(session, StepKind::Init, &spec.name, init).await?;
            self.sessions.insert(spec.name.clone(), Slot::Idle(session));
        }
        Ok(())
    }

    /// Records the settings the session starts with, as the server reports them. A server
    /// that cannot answer is shown in the transcript; it does not stop the case.
    async fn record_session_state(&mut self, session: Box<dyn Session>, name: &str, profile: Profile) -> Result<Box<dyn Session>, String> {
        let command = Command::Sql(self.backend.dialect().session_state_sql().to_string());
        let started = Instant::now();
        let (session, statements, failure) = tokio::time::timeout(self.timing.step_timeout, execute_all(session, vec![command]))
            .await
            .map_err(|_| format!("session `{name}`: reading its settings did not finish within {:?}", self.timing.step_timeout))?;
        let observation = observation(&statements);
        self.transcript.push(StepRecord { statements, observation, elapsed_ms: ms(started.elapsed()), profile: Some(profile), ..StepRecord::new(0, StepKind::Session, name) });
        match failure {
            Some(f) => Err(format!("session `{name}`: {f}")),
            None => Ok(session),
        }
    }

    /// Runs harness statements (setup, init, teardown) that must simply succeed.
    async fn run_now(&mut self, session: Box<dyn Session>, kind: StepKind, name: &str, sql: Vec<String>) -> Result<Box<dyn Session>, String> {
        if sql.is_empty() {
            return Ok(session);
        }
        let canceller = session.canceller();
        let mut handle = tokio::spawn(execute_all(session, sql.into_iter().map(Command::Sql).collect()));
        let started = Instant::now();
        let output = match tokio::time::timeout(self.timing.step_timeout, &mut handle).await {
            Ok(joined) => joined.map_err(|e| format!("{name}: the session task failed: {e}"))?,
            Err(_) => {
                canceller.cancel();
                handle.abort();
                return Err(format!("{name}: a {kind:?} statement did not finish within {:?}", self.timing.step_timeout).to_lowercase());
            }
        };
        let (session, statements, failure) = output;
        let observation = observation(&statements);
        let error = statements.iter().find_map(|s| s.error.as_ref().map(|e| (s.sql.clone(), e.clone())));
        self.transcript.push(StepRecord { statements, observation, elapsed_ms: ms(started.elapsed()), ..StepRecord::new(0, kind, name) });
        if let Some(f) = failure {
            return Err(format!("{name}: {f}"));
        }
        if let Some((sql, e)) = error {
            return Err(format!("{name}: `{sql}` failed: {} ({} {})", e.class, e.code, e.message));
        }
        Ok(session)
    }

    /// Starts a step; waits for it only as long as the blocking window.
    async fn dispatch(&mut self, number: usize, kind: StepKind, session_name: &str, commands: Vec<Command>, tail: usize) -> Result<(), String> {
        if matches!(self.sessions.get(session_name), Some(Slot::Busy)) {
            // The session's previous step is still blocked: like a client, wait for it.
            // If it never finishes, nothing later in the script can release it: the
            // probe waits on itself, which is the probe's error, not an observation.
            if let Some(blocked_step) = self.finish_pending(session_name, self.timing.step_timeout, number).await {
                return Err(format!(
                    "step {number} needs session `{session_name}`, whose step {blocked_step} was still blocked after {:?}: \
                     the probe waits on itself (step {blocked_step} was cancelled)",
                    self.timing.step_timeout
                ));
            }
        }
        let session = match self.sessions.remove(session_name) {
            Some(Slot::Idle(s)) => s,
            Some(Slot::Lost(reason)) => return Err(format!("session `{session_name}` is unusable: {reason}")),
            _ => return Err(format!("session `{session_name}` is not connected")),
        };
        self.sessions.insert(session_name.to_string(), Slot::Busy);
        let canceller = session.canceller();
        // The step runs on this task for the blocking window; only a step that blocks
        // is moved to a task of its own (most steps finish well inside the window, and
        // a spawn per step would cost more than the statement).
        let abandoned = session.canceller();
        let sent = commands.len();
        let mut step = CancelIfAbandoned::new(execute_all(session, commands), abandoned);
        self.transcript.push(StepRecord::new(number, kind, session_name));
        let record = self.transcript.len() - 1;
        if tail > 0 {
            self.harness_tails.insert(record, (sent, tail));
        }
        // Past the window a step counts as blocked, unless the server can tell and says
        // it is not waiting for a lock: then it is only slow (a busy machine, or a
        // statement that takes long), and is waited for, window by window, up to the step
        // timeout; past that it is cancelled and observed as `timeout`, never `blocked`.
        let started = Instant::now();
        loop {
            match tokio::time::timeout(self.timing.blocking_window, &mut step).await {
                Ok(output) => return self.complete(record, session_name, Ok(output), None),
                Err(_) => {
                    let waits = tokio::time::timeout(LOCK_WAIT_CHECK_TIMEOUT, canceller.lock_wait()).await.ok().flatten();
                    if waits != Some(false) {
                        self.transcript[record].blocked = true;
                        (self.on_blocked)(number, session_name);
                        let handle = tokio::spawn(step);
                        self.pending.push(Pending { record, session: session_name.to_string(), handle, canceller });
                        return Ok(());
                    }
                    if started.elapsed() >= self.timing.step_timeout {
                        canceller.cancel();
                        self.transcript[record].cancelled = true;
                        let finished = tokio::time::timeout(CANCEL_GRACE.min(self.timing.step_timeout), &mut step).await;
                        let result = match finished {
                            Ok(output) => self.complete(record, session_name, Ok(output), None),
                            Err(_) => {
                                self.sessions.insert(session_name.to_string(), Slot::Lost("a slow statement could not be cancelled".into()));
                                Ok(())
                            }
                        };
                        self.transcript[record].observation = "timeout".into();
                        return result;
                    }
                }
            }
        }
    }

    /// Records a finished step and returns its session to the idle pool.
    fn complete(&mut self, record: usize, session_name: &str, joined: Result<StepOutput, tokio::task::JoinError>, after: Option<usize>) -> Result<(), String> {
        let (session, statements, failure) = joined.map_err(|e| format!("session `{session_name}`: the session task failed: {e}"))?;
        let own = match self.harness_tails.get(&record) {
            Some(&(sent, tail)) => own_statements(&statements, sent, tail),
            None => &statements[..],
        };
        let observed = observation(own);
        let r = &mut self.transcript[record];
        r.elapsed_ms = statements.iter().map(|s| s.elapsed_ms).sum();
        r.observation = observed;
        r.statements = statements;
        r.completed_after_step = after;
        match failure {
            None | Some(SessionError::Cancelled) => {
                self.sessions.insert(session_name.to_string(), Slot::Idle(session));
                Ok(())
            }
            Some(e) => {
                self.sessions.insert(session_name.to_string(), Slot::Lost(e.to_string()));
                Err(format!("session `{session_name}`, step {}: {e}", self.transcript[record].step))
            }
        }
    }

    /// Gives blocked steps one more window to finish, recording those that did. One that
    /// the server says no longer waits for a lock has been granted it and is running (on
    /// a busy machine that can take longer than a window): it is given up to the step
    /// timeout, so that it is not cancelled as if it were still blocked.
    async fn settle(&mut self, after_step: usize) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + self.timing.blocking_window;
        let mut still = Vec::new();
        let mut result = Ok(());
        for mut p in std::mem::take(&mut self.pending) {
            let mut joined = tokio::time::timeout_at(deadline, &mut p.handle).await;
            if joined.is_err() {
                let waits = tokio::time::timeout(LOCK_WAIT_CHECK_TIMEOUT, p.canceller.lock_wait()).await.ok().flatten();
                if waits == Some(false) {
                    joined = tokio::time::timeout(self.timing.step_timeout, &mut p.handle).await;
                }
            }
            match joined {
                Ok(joined) => {
                    let r = self.complete(p.record, &p.session, joined, Some(after_step));
                    result = result.and(r);
                }
                Err(_) => still.push(p),
            }
        }
        self.pending = still;
        result
    }

    /// Waits up to `limit` for a session's blocked step, then cancels it and returns the
    /// number of the step that had to be cancelled.
    async fn finish_pending(&mut self, session_name: &str, limit: Duration, now_at_step: usize) -> Option<usize> {
        let pos = self.pending.iter().position(|p| p.session == session_name)?;
        let mut p = self.pending.remove(pos);
        match tokio::time::timeout(limit, &mut p.handle).await {
            Ok(joined) => {
                let _ = self.complete(p.record, session_name, joined, Some(now_at_step.saturating_sub(1)));
                None
            }
            Err(_) => {
                let step = self.transcript[p.record].step;
                self.cancel(p).await;
                Some(step)
            }
        }
    }

    /// Interrupts a blocked step. A session that does not come back within a grace
    /// period is given up (its connection is dropped, which ends the statement).
    async fn cancel(&mut self, mut p: Pending) {
        p.canceller.cancel();
        let grace = self.timing.step_timeout.min(CANCEL_GRACE);
        self.transcript[p.record].cancelled = true;
        match tokio::time::timeout(grace, &mut p.handle).await {
            Ok(Ok((session, statements, _))) => {
                let r = &mut self.transcript[p.record];
                r.elapsed_ms = statements.iter().map(|s| s.elapsed_ms).sum();
                r.statements = statements;
                r.observation = "blocked".into();
                self.sessions.insert(p.session, Slot::Idle(session));
            }
            _ => {
                p.handle.abort();
                self.transcript[p.record].observation = "blocked".into();
                self.sessions.insert(p.session, Slot::Lost("a blocked statement could not be cancelled".into()));
            }
        }
    }

    async fn cancel_all_pending(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            self.cancel(p).await;
        }
    }

    /// Closes every session, restarts (or crashes) the server, reconnects every session.
    /// A restart the server's log does not confirm is an error of the case.
    async fn restart(&mut self, number: usize, kind: RestartKind) -> Result<(), String> {
        self.cancel_all_pending().await;
        self.shut_down().await;
        let started = Instant::now();
        let what = kind.name();
        let done = tokio::time::timeout(self.timing.restart_timeout, self.target.restart(kind))
            .await
            .map_err(|_| format!("step {number}: the {what} did not finish within {:?}", self.timing.restart_timeout))?
            .map_err(|e| format!("step {number}: {what} failed: {e}"))?;
        let elapsed_ms = ms(started.elapsed());
        let mut statement = StatementRecord::new(format!("-- {what}: {}", done.summary), elapsed_ms);
        statement.server_log = done.server_log;
        self.transcript.push(StepRecord { statements: vec![statement], observation: "ok".into(), elapsed_ms, ..StepRecord::new(number, StepKind::Restart, "") });
        self.connect_all().await
    }

    async fn shut_down(&mut self) {
        self.cancel_all_pending().await;
        for (_, slot) in self.sessions.drain() {
            if let Slot::Idle(s) = slot {
                close(s).await;
            }
        }
    }

    /// Teardown runs on a connection of its own; its failure is the case's error.
    async fn teardown(&mut self) -> Result<(), String> {
        let statements = self.statements(&self.probe.teardown, "teardown")?;
        if statements.is_empty() {
            return Ok(());
        }
        let session = self.connect("teardown", self.probe_profile()).await?;
        let session = self.run_now(session, StepKind::Teardown, "teardown", statements).await?;
        close(session).await;
        Ok(())
    }
}

/// How a backend begins a transaction; `None` where a transaction starts with the first
/// statement (Oracle).
pub fn begin_statement(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Oracle => None,
        _ => Some("BEGIN"),
    }
}

/// What makes statements take effect as in autocommit mode on a backend whose sessions
/// never autocommit (Oracle: COMMIT); `None` where sessions autocommit.
pub fn autocommit_statement(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Oracle => Some("COMMIT"),
        _ => None,
    }
}

/// A probe's setup as sent: on a backend whose sessions never autocommit, the harness
/// commits it (a COMMIT after it, unless it ends with one).
pub fn setup_statements(backend: Backend, mut statements: Vec<String>) -> Vec<String> {
    if let (Some(commit), Some(last)) = (autocommit_statement(backend), statements.last()) {
        if !last.trim().trim_end_matches(';').trim().eq_ignore_ascii_case(commit) {
            statements.push(commit.to_string());
        }
    }
    statements
}

/// The commands a step sends: the backend's BEGIN first for a step that begins a
/// transaction, then its own, then the backend's COMMIT for an autocommit step. Also
/// returns how many trailing commands the harness added.
pub fn step_commands(backend: Backend, step: &Step, own: Vec<Command>) -> (Vec<Command>, usize) {
    let mut commands = Vec::with_capacity(own.len() + 2);
    if step.begin {
        commands.extend(begin_statement(backend).map(|b| Command::Sql(b.to_string())));
    }
    commands.extend(own);
    let mut tail = 0;
    if step.autocommit {
        if let Some(commit) = autocommit_statement(backend) {
            commands.push(Command::Sql(commit.to_string()));
            tail = 1;
        }
    }
    (commands, tail)
}

/// The statements whose result is a step's observation: all of them, less the harness's
/// trailing ones when those were all sent and succeeded.
fn own_statements(statements: &[StatementRecord], sent: usize, tail: usize) -> &[StatementRecord] {
    let n = statements.len();
    let tail_ok = n == sent && n >= tail && statements[n - tail..].iter().all(|s| s.error.is_none() && s.failure.is_none());
    if tail_ok && n > tail {
        &statements[..n - tail]
    } else {
        statements
    }
}

/// Runs commands in order, stopping at the first error; gives the session back.
async fn execute_all(mut session: Box<dyn Session>, commands: Vec<Command>) -> StepOutput {
    let mut records = Vec::with_capacity(commands.len());
    for command in commands {
        let started = Instant::now();
        let result = session.execute(&command).await;
        let mut record = StatementRecord::new(command.text(), ms(started.elapsed()));
        let notes = session.take_notes();
        record.diagnostics = notes.diagnostics;
        record.tag = notes.tag;
        match result {
            Ok(Ok(response)) => record.response = Some(response),
            Ok(Err(error)) => {
                record.error = Some(error);
                records.push(record);
                break;
            }
            Err(e) => {
                record.failure = Some(e.to_string());
                records.push(record);
                return (session, records, Some(e));
            }
        }
        records.push(record);
    }
    (session, records, None)
}

/// A step's observation is its last statement's result, followed by what the server
/// said beside it: each distinct warning or notice code (`affected:1 warning:1265`),
/// and the command tag where a transaction-control statement was answered with
/// another verb (PostgreSQL's COMMIT of a failed transaction: `ok tag:ROLLBACK`).
/// The first value of a statement's first row, unquoted.
fn first_value(record: &StatementRecord) -> Option<String> {
    match &record.response {
        Some(Response::Rows { rows, .. }) => rows.first()?.first().map(|v| v.trim_matches('\'').to_string()),
        _ => None,
    }
}

fn observation(statements: &[StatementRecord]) -> String {
    let Some(s) = statements.last() else { return "ok".into() };
    let mut text = match (&s.response, &s.error, &s.failure) {
        (Some(r), _, _) => r.canonical(),
        (_, Some(e), _) => format!("error:{}", e.class),
        (_, _, Some(f)) => return format!("failed: {f}"),
        _ => "ok".into(),
    };
    let mut seen = Vec::new();
    for d in &s.diagnostics {
        let c = d.canonical();
        if !seen.contains(&c) {
            text.push(' ');
            text.push_str(&c);
            seen.push(c);
        }
    }
    if let Some(tag) = s.tag.as_deref().and_then(|t| answered_with_another_verb(&s.sql, t)) {
        text.push_str(" tag:");
        text.push_str(tag);
    }
    text
}

/// The tag's verb, when a transaction-control statement was answered with a different one.
fn answered_with_another_verb<'t>(sql: &str, tag: &'t str) -> Option<&'t str> {
    let sent = sql.trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("").to_ascii_uppercase();
    let answered = tag.split_whitespace().next()?;
    let control = ["COMMIT", "END", "RELEASE", "PREPARE"];
    (control.contains(&sent.as_str()) && matches!(answered, "ROLLBACK" | "COMMIT") && !(sent == "END" && answered == "COMMIT") && answered != sent)
        .then_some(answered)
}

/// A step's outcome: its observation (written from the server's answer by
/// [`observation`]) and whether it waited for a lock.
fn step_outcome(r: &StepRecord) -> Result<Outcome, String> {
    if r.observation == "timeout" {
        return Ok(Outcome::Timeout);
    }
    if r.observation.starts_with("failed: ") {
        return Err(r.observation.clone());
    }
    let reply = || r.observation.parse::<Reply>().map_err(|e| format!("the observation `{}` is not an outcome: {e}", r.observation));
    Ok(match (r.blocked, r.cancelled) {
        (true, true) => Outcome::Blocked,
        (true, false) => Outcome::BlockedThen(reply()?),
        _ => Outcome::Answered(reply()?),
    })
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Diagnostic, Response};

    fn statement(sql: &str, response: Response, diagnostics: &[(&str, &str)], tag: Option<&str>) -> StatementRecord {
        let mut r = StatementRecord::new(sql.into(), 0.0);
        r.response = Some(response);
        r.diagnostics = diagnostics.iter().map(|(l, c)| Diagnostic { level: (*l).into(), code: (*c).into(), message: String::new() }).collect();
        r.tag = tag.map(Into::into);
        r
    }

    fn step(begin: bool, autocommit: bool) -> Step {
        Step { session: "a".into(), action: Action::Sql(Sql::default()), outcome: false, begin, autocommit, unordered: false, name: None, line: 1 }
    }

    fn texts(commands: &[Command]) -> Vec<String> {
        commands.iter().map(Command::text).collect()
    }

    #[test]
    fn oracle_begins_with_the_first_statement_and_commits_autocommit_steps() {
        let own = || vec![Command::Sql("INSERT INTO t VALUES (1)".into())];
        let (c, tail) = step_commands(Backend::Oracle, &step(true, false), own());
        assert_eq!((texts(&c), tail), (vec!["INSERT INTO t VALUES (1)".to_string()], 0));
        let (c, tail) = step_commands(Backend::Oracle, &step(false, true), own());
        assert_eq!((texts(&c), tail), (vec!["INSERT INTO t VALUES (1)".to_string(), "COMMIT".to_string()], 1));
        for backend in [Backend::Postgres, Backend::Mysql, Backend::Mariadb, Backend::Sqlite] {
            let (c, tail) = step_commands(backend, &step(true, false), own());
            assert_eq!((texts(&c), tail), (vec!["BEGIN".to_string(), "INSERT INTO t VALUES (1)".to_string()], 0));
            let (c, tail) = step_commands(backend, &step(false, true), own());
            assert_eq!((texts(&c), tail), (vec!["INSERT INTO t VALUES (1)".to_string()], 0));
        }
    }

    #[test]
    fn oracle_setup_is_committed_once() {
        let setup = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(setup_statements(Backend::Oracle, setup(&["CREATE TABLE t (id INT)", "INSERT INTO t VALUES (1)"])), setup(&["CREATE TABLE t (id INT)", "INSERT INTO t VALUES (1)", "COMMIT"]));
        assert_eq!(setup_statements(Backend::Oracle, setup(&["INSERT INTO t VALUES (1)", "commit"])), setup(&["INSERT INTO t VALUES (1)", "commit"]));
        assert_eq!(setup_statements(Backend::Oracle, Vec::new()), Vec::<String>::new());
        assert_eq!(setup_statements(Backend::Postgres, setup(&["CREATE TABLE t (id INT)"])), setup(&["CREATE TABLE t (id INT)"]));
    }

    #[test]
    fn an_autocommit_step_is_observed_without_the_harness_commit() {
        let ok = Response::Affected { count: 0 };
        let insert = statement("INSERT INTO t VALUES (1)", Response::Affected { count: 1 }, &[], None);
        let commit = statement("COMMIT", ok, &[], None);
        assert_eq!(observation(own_statements(&[insert.clone(), commit.clone()], 2, 1)), "affected:1");
        assert_eq!(observation(own_statements(&[insert.clone(), commit], 2, 0)), "ok");
        assert_eq!(observation(own_statements(&[insert], 2, 1)), "affected:1");
    }

    #[test]
    fn warnings_and_notices_join_the_observation_once_per_code() {
        let s = statement("UPDATE t SET v = 'abc'", Response::Affected { count: 2 }, &[("warning", "1265"), ("warning", "1265"), ("note", "1051")], None);
        assert_eq!(observation(&[s]), "affected:2 warning:1265 note:1051");
    }

    #[test]
    fn only_a_transaction_verb_answered_with_another_shows_its_tag() {
        let ok = Response::Affected { count: 0 };
        assert_eq!(observation(&[statement("COMMIT", ok.clone(), &[], Some("ROLLBACK"))]), "ok tag:ROLLBACK");
        assert_eq!(observation(&[statement("COMMIT", ok.clone(), &[], Some("COMMIT"))]), "ok");
        assert_eq!(observation(&[statement("END", ok.clone(), &[], Some("COMMIT"))]), "ok");
        assert_eq!(observation(&[statement("end", ok.clone(), &[], Some("ROLLBACK"))]), "ok tag:ROLLBACK");
        assert_eq!(observation(&[statement("WITH x AS (SELECT 1) SELECT 1", ok.clone(), &[], Some("SELECT 1"))]), "ok");
        assert_eq!(observation(&[statement("UPDATE t SET v = 1", ok, &[], Some("UPDATE 0"))]), "ok");
    }
}
