//! Sessions over a blocking connection: a thread of its own owns the connection and
//! serves commands from a channel, one at a time, while the async side sends a command
//! and awaits its answer.
//!
//! A backend supplies a [`BlockingConnection`] (running one command, closing, a handle
//! that interrupts a running command from another thread); [`ThreadSession`] is the
//! [`Session`] around it. SQLite's C API and the `oracle` crate are served this way.

use std::sync::mpsc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::{Canceller, Command, Notes, Session, SessionError, StatementResult};

/// A connection whose calls block, used by one thread (its session thread) at a time.
pub trait BlockingConnection: Send + 'static {
    /// What interrupts a running command from another thread.
    type Canceller: Canceller + Clone + 'static;

    /// How long `Session::close` waits for the thread to close the connection; `None`
    /// leaves the thread to close it on its own while the caller goes on.
    const CLOSE_WAIT: Option<Duration>;

    /// A handle that can interrupt `execute` while it runs; taken once, before the
    /// connection moves to its thread.
    fn canceller(&self) -> Self::Canceller;

    /// Runs one command to its answer.
    fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError>;

    /// What the server said beside the last command's result, taken after each command.
    fn take_notes(&mut self) -> Notes {
        Notes::default()
    }

    /// Closes the connection. Called once, on the session thread, when the session is
    /// closed or dropped, or when a command panicked (so it must not panic itself).
    fn close(self);
}

type Answer = (Result<StatementResult, SessionError>, Notes);
type Request = (Command, oneshot::Sender<Answer>);

/// A [`Session`] whose connection lives on a thread of its own.
pub struct ThreadSession<C: BlockingConnection> {
    requests: mpsc::Sender<Request>,
    canceller: C::Canceller,
    /// Fires (or is dropped) once the thread has closed the connection.
    closed: oneshot::Receiver<()>,
    notes: Notes,
}

/// The connection as its thread holds it: closed when dropped, after the last command
/// or while a panicking command unwinds, and only then is the closing reported.
struct Owner<C: BlockingConnection> {
    connection: Option<C>,
    closing: Option<oneshot::Sender<()>>,
}

impl<C: BlockingConnection> Drop for Owner<C> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            connection.close();
        }
        if let Some(closing) = self.closing.take() {
            let _ = closing.send(());
        }
    }
}

impl<C: BlockingConnection> ThreadSession<C> {
    /// Starts the thread, named `thread_name`, that serves `connection`. If the thread
    /// cannot start, the connection is closed here.
    pub fn spawn(thread_name: &str, connection: C) -> std::io::Result<Self> {
        let canceller = connection.canceller();
        let (requests, inbox) = mpsc::channel::<Request>();
        let (closing, closed) = oneshot::channel();
        let mut owner = Owner { connection: Some(connection), closing: Some(closing) };
        std::thread::Builder::new().name(thread_name.into()).spawn(move || {
            if let Some(connection) = owner.connection.as_mut() {
                serve(connection, inbox);
            }
            drop(owner);
        })?;
        Ok(ThreadSession { requests, canceller, closed, notes: Notes::default() })
    }
}

fn serve<C: BlockingConnection>(connection: &mut C, inbox: mpsc::Receiver<Request>) {
    while let Ok((command, reply)) = inbox.recv() {
        let result = connection.execute(&command);
        let notes = connection.take_notes();
        let _ = reply.send((result, notes));
    }
}

#[async_trait]
impl<C: BlockingConnection> Session for ThreadSession<C> {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        self.notes = Notes::default();
        let (reply, answer) = oneshot::channel();
        self.requests
            .send((command.clone(), reply))
            .map_err(|_| SessionError::ConnectionLost("the session thread has stopped".into()))?;
        let (result, notes) = answer
            .await
            .map_err(|_| SessionError::ConnectionLost("the session thread stopped mid-statement".into()))?;
        self.notes = notes;
        result
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(self.canceller.clone())
    }

    fn take_notes(&mut self) -> Notes {
        std::mem::take(&mut self.notes)
    }

    async fn close(self: Box<Self>) {
        // Dropping the sender ends the thread, which closes the connection.
        let ThreadSession { requests, closed, .. } = *self;
        drop(requests);
        if let Some(wait) = C::CLOSE_WAIT {
            let _ = tokio::time::timeout(wait, closed).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use super::*;
    use crate::driver::Response;

    /// What a fake connection did, seen from the test.
    #[derive(Default)]
    struct Log {
        executed: Mutex<Vec<(String, Option<String>)>>,
        closed: AtomicBool,
        cancelled: AtomicBool,
    }

    #[derive(Clone)]
    struct Cancel(Arc<Log>);

    impl Canceller for Cancel {
        fn cancel(&self) {
            self.0.cancelled.store(true, Ordering::SeqCst);
        }
    }

    /// Answers `SELECT n` with n, panics on `panic`, blocks on `wait` until cancelled,
    /// says a note on `note`; closing takes `close_delay`, or blocks until `release`
    /// sends.
    struct Fake {
        log: Arc<Log>,
        note: Option<String>,
        close_delay: Duration,
        release: Option<mpsc::Receiver<()>>,
    }

    impl Fake {
        fn new() -> (Self, Arc<Log>) {
            let log = Arc::new(Log::default());
            (Fake { log: log.clone(), note: None, close_delay: Duration::ZERO, release: None }, log)
        }
    }

    impl BlockingConnection for Fake {
        type Canceller = Cancel;
        const CLOSE_WAIT: Option<Duration> = Some(Duration::from_millis(500));

        fn canceller(&self) -> Cancel {
            Cancel(self.log.clone())
        }

        fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
            let text = command.text();
            let thread = std::thread::current().name().map(str::to_string);
            self.log.executed.lock().unwrap().push((text.clone(), thread));
            match text.as_str() {
                "panic" => panic!("a statement that panics"),
                "wait" => {
                    while !self.log.cancelled.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(SessionError::Cancelled)
                }
                "note" => {
                    self.note = Some("said".into());
                    Ok(Ok(Response::Affected { count: 0 }))
                }
                other => {
                    let n = other.strip_prefix("SELECT ").ok_or_else(|| SessionError::Unsupported(other.into()))?;
                    Ok(Ok(Response::Rows { columns: vec!["n".into()], rows: vec![vec![n.into()]] }))
                }
            }
        }

        fn take_notes(&mut self) -> Notes {
            Notes { diagnostics: Vec::new(), tag: self.note.take() }
        }

        fn close(self) {
            if let Some(release) = &self.release {
                let _ = release.recv();
            }
            std::thread::sleep(self.close_delay);
            self.log.closed.store(true, Ordering::SeqCst);
        }
    }

    /// The fake, for a backend whose close does not wait.
    struct Detached(Fake);

    impl BlockingConnection for Detached {
        type Canceller = Cancel;
        const CLOSE_WAIT: Option<Duration> = None;

        fn canceller(&self) -> Cancel {
            self.0.canceller()
        }

        fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
            self.0.execute(command)
        }

        fn close(self) {
            self.0.close();
        }
    }

    fn sql(text: &str) -> Command {
        Command::Sql(text.into())
    }

    async fn answer<C: BlockingConnection>(s: &mut ThreadSession<C>, text: &str) -> String {
        match s.execute(&sql(text)).await {
            Ok(Ok(r)) => r.canonical(),
            Ok(Err(e)) => format!("error:{}", e.class),
            Err(e) => format!("session:{e}"),
        }
    }

    /// Waits up to two seconds for `flag`.
    async fn eventually(flag: &AtomicBool) -> bool {
        let until = Instant::now() + Duration::from_secs(2);
        while !flag.load(Ordering::SeqCst) && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        flag.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn commands_run_in_order_on_the_named_thread() {
        let (fake, log) = Fake::new();
        let mut s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        assert_eq!(answer(&mut s, "SELECT 1").await, "rows:(1)");
        assert_eq!(answer(&mut s, "SELECT 2").await, "rows:(2)");
        assert_eq!(answer(&mut s, "other").await, "session:other");
        assert_eq!(answer(&mut s, "SELECT 3").await, "rows:(3)");
        let executed = log.executed.lock().unwrap().clone();
        let texts: Vec<&str> = executed.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(texts, ["SELECT 1", "SELECT 2", "other", "SELECT 3"]);
        assert!(executed.iter().all(|(_, thread)| thread.as_deref() == Some("dbcompat-fake")), "{executed:?}");
        assert!(!log.closed.load(Ordering::SeqCst));
        Box::new(s).close().await;
        assert!(log.closed.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn notes_belong_to_the_last_command() {
        let (fake, _log) = Fake::new();
        let mut s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        assert_eq!(s.take_notes(), Notes::default());
        answer(&mut s, "note").await;
        assert_eq!(s.take_notes().tag.as_deref(), Some("said"));
        assert_eq!(s.take_notes(), Notes::default(), "taken once");
        answer(&mut s, "note").await;
        answer(&mut s, "SELECT 1").await;
        assert_eq!(s.take_notes(), Notes::default(), "the next command starts empty");
        Box::new(s).close().await;
    }

    #[tokio::test]
    async fn a_panicking_command_loses_the_connection_and_closes_it() {
        let (fake, log) = Fake::new();
        let mut s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        assert_eq!(answer(&mut s, "panic").await, "session:connection lost: the session thread stopped mid-statement");
        assert!(eventually(&log.closed).await, "the connection is closed as the thread unwinds");
        // The thread is gone: nothing more runs, whether the command was still queued
        // as the thread ended or sent after.
        assert!(answer(&mut s, "SELECT 1").await.starts_with("session:connection lost: the session thread"));
        assert_eq!(answer(&mut s, "SELECT 2").await, "session:connection lost: the session thread has stopped");
        assert_eq!(log.executed.lock().unwrap().len(), 1);
        Box::new(s).close().await;
    }

    #[tokio::test]
    async fn the_canceller_reaches_a_running_command() {
        let (fake, log) = Fake::new();
        let mut s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        let canceller = s.canceller();
        let command = sql("wait");
        let run = s.execute(&command);
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            canceller.cancel();
        };
        let (result, ()) = tokio::join!(run, cancel);
        assert_eq!(result, Err(SessionError::Cancelled));
        assert!(log.cancelled.load(Ordering::SeqCst));
        assert_eq!(answer(&mut s, "SELECT 1").await, "rows:(1)", "the session goes on");
        Box::new(s).close().await;
    }

    #[tokio::test]
    async fn close_waits_until_the_thread_has_closed_the_connection() {
        let (mut fake, log) = Fake::new();
        fake.close_delay = Duration::from_millis(150);
        let mut s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        answer(&mut s, "SELECT 1").await;
        let started = Instant::now();
        Box::new(s).close().await;
        assert!(log.closed.load(Ordering::SeqCst));
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn close_gives_up_waiting_after_its_bound() {
        let (mut fake, log) = Fake::new();
        let (release, held) = mpsc::channel();
        fake.release = Some(held);
        let s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        let started = Instant::now();
        Box::new(s).close().await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(500) && waited < Duration::from_secs(5), "{waited:?}");
        assert!(!log.closed.load(Ordering::SeqCst));
        release.send(()).unwrap();
        assert!(eventually(&log.closed).await);
    }

    #[tokio::test]
    async fn a_dropped_session_closes_its_connection() {
        let (fake, log) = Fake::new();
        let mut s = ThreadSession::spawn("dbcompat-fake", fake).unwrap();
        answer(&mut s, "SELECT 1").await;
        drop(s);
        assert!(eventually(&log.closed).await);
    }

    #[tokio::test]
    async fn a_backend_without_a_close_wait_closes_behind_the_caller() {
        let (fake, log) = Fake::new();
        let (release, held) = mpsc::channel();
        let fake = Fake { release: Some(held), ..fake };
        let mut s = ThreadSession::spawn("dbcompat-fake", Detached(fake)).unwrap();
        assert_eq!(answer(&mut s, "SELECT 1").await, "rows:(1)");
        let started = Instant::now();
        Box::new(s).close().await;
        assert!(started.elapsed() < Duration::from_millis(400));
        assert!(!log.closed.load(Ordering::SeqCst));
        release.send(()).unwrap();
        assert!(eventually(&log.closed).await);
    }
}
