//! Sessions through a backend's own command-line client (psql, mysql, mariadb, the
//! sqlite3 shell): the second instrument of `dbcompat crosscheck`.
//!
//! The client runs as one long-lived process, fed statements on its standard input:
//! in the server's container (`podman exec`) or, for SQLite, here (see [`Host`]).
//! After each statement the session sends a marker the client echoes back (psql's
//! `\echo`/`\warn`, a `SELECT` of the marker elsewhere); what the client printed before
//! the marker is that statement's answer, which the backend's [`ClientFormat`] reads into the
//! same [`Response`], [`DbError`] and [`Diagnostic`]s the drivers give. Values come as
//! the client prints them, with no type: every non-NULL value is text.

pub mod mysql;
pub mod psql;
pub mod sqlite;

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};

use super::{Canceller, Command, Notes, Response, Session, SessionError, StatementResult};

/// What the client was sent and printed, exchange by exchange, for the crosscheck report.
pub type ClientLog = Arc<Mutex<Vec<String>>>;

/// How one client is spoken to and read.
pub trait ClientFormat: Send + Sync + 'static {
    /// The client's name, for messages.
    fn name(&self) -> &'static str;
    /// What is sent once, before the first statement (the client's own settings).
    fn preamble(&self) -> String;
    /// One statement followed by the marker.
    fn statement(&self, sql: &str, marker: &str) -> String;
    /// Where the marker's output starts and ends in what stdout printed so far.
    fn find_marker(&self, stdout: &str, marker: &str) -> Option<(usize, usize)>;
    /// Whether the marker is also written to stderr (a line of its own), so that
    /// stderr can be read as a stream of its own.
    fn marks_stderr(&self) -> bool;
    /// The statements that carry out a cursor command through this client (PostgreSQL's
    /// DECLARE and FETCH, as its driver sends them); `None` where a client has none.
    fn cursor_statements(&self, _command: &Command) -> Option<Vec<String>> {
        None
    }
    /// Whether a cursor is the result of its query read whole when it opens and handed
    /// out by fetches, as the MySQL/MariaDB driver's buffered cursors are.
    fn buffers_cursors(&self) -> bool {
        false
    }
    /// Reads the statement's answer from what the client printed before the marker
    /// (a client whose output depends on what it printed before keeps that here).
    fn parse(&mut self, sql: &str, stdout: &str, stderr: &str) -> Result<(StatementResult, Notes), SessionError>;
}

/// The marker of the n-th exchange: a line no statement's output contains.
fn marker(n: usize) -> String {
    format!("~~dbcompat-mark-{n}~~")
}

/// Where a marker line is in a stream: it starts the text or follows a newline, and
/// is followed by a newline.
pub fn find_line(text: &str, line: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = text[from..].find(line) {
        let start = from + i;
        let end = start + line.len();
        if (start == 0 || text.as_bytes()[start - 1] == b'\n') && text.as_bytes().get(end) == Some(&b'\n') {
            return Some((start, end + 1));
        }
        from = start + 1;
    }
    None
}

/// How a client process is started: the program and arguments, and lines written to
/// its standard input before anything else (a password read by a wrapper shell, so
/// that it appears on no command line).
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin_first: Option<String>,
}

/// Where a client's shell script runs: in a server's container (`exec` with the
/// container engine's own command line) or on this machine (SQLite's shell, run
/// against the target's own library).
pub enum Host {
    Container { id: String },
    Local,
}

impl Launch {
    /// `sh -c script` on `host`, in a UTF-8 locale (as a terminal's: clients pick their
    /// character set from it), with `env` set for the script.
    pub fn script(host: &Host, script: &str, env: &[(String, String)], stdin_first: Option<String>) -> Result<Launch, String> {
        let mut env: Vec<(String, String)> = env.to_vec();
        env.insert(0, ("LC_ALL".into(), "C.UTF-8".into()));
        let shell = ["sh".to_string(), "-c".into(), script.to_string()];
        Ok(match host {
            Host::Container { id } => {
                let mut args = vec!["exec".to_string(), "-i".into()];
                for (k, v) in &env {
                    args.extend(["-e".to_string(), format!("{k}={v}")]);
                }
                args.push(id.clone());
                args.extend(shell);
                Launch { program: container_cli()?, args, env: Vec::new(), stdin_first }
            }
            Host::Local => {
                let [program, args @ ..] = shell;
                Launch { program, args: args.to_vec(), env, stdin_first }
            }
        })
    }
}

pub struct ClientSession {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
    format: Box<dyn ClientFormat>,
    exchanges: usize,
    notes: Notes,
    log: ClientLog,
    /// Buffered cursors (see [`ClientFormat::buffers_cursors`]): the rows not yet fetched.
    cursors: std::collections::HashMap<String, (Vec<String>, std::collections::VecDeque<Vec<String>>)>,
}

impl ClientSession {
    /// Starts the client and waits until it has taken its preamble.
    pub async fn start(launch: Launch, format: Box<dyn ClientFormat>, log: ClientLog) -> Result<Self, String> {
        let mut command = tokio::process::Command::new(&launch.program);
        command.args(&launch.args).envs(launch.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", launch.program))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            return Err(format!("{} started without its pipes", launch.program));
        };
        let mut session = ClientSession { child, stdin, stdout, stderr, out_buf: Vec::new(), err_buf: Vec::new(), format, exchanges: 0, notes: Notes::default(), log, cursors: Default::default() };
        if let Some(first) = &launch.stdin_first {
            session.write(&format!("{first}\n")).await.map_err(|e| e.to_string())?;
        }
        let preamble = session.format.preamble();
        // The preamble's own output (psql's `\pset` confirmations) is read and dropped.
        session.exchange(&preamble, "").await.map_err(|e| format!("{} did not start: {e}", session.format.name()))?;
        Ok(session)
    }

    async fn write(&mut self, text: &str) -> Result<(), SessionError> {
        let lost = |e: std::io::Error| SessionError::ConnectionLost(format!("writing to the client: {e}"));
        self.stdin.write_all(text.as_bytes()).await.map_err(lost)?;
        self.stdin.flush().await.map_err(lost)
    }

    /// Sends `before` and then the statement-and-marker text for `sql` (none when
    /// empty), and returns what stdout and stderr printed before the marker.
    async fn exchange(&mut self, before: &str, sql: &str) -> Result<(String, String), SessionError> {
        self.exchanges += 1;
        let marker = marker(self.exchanges);
        let text = format!("{before}{}", self.format.statement(sql, &marker));
        self.write(&text).await?;
        let stdout = loop {
            let seen = String::from_utf8_lossy(&self.out_buf).into_owned();
            if let Some((start, end)) = self.format.find_marker(&seen, &marker) {
                let block = seen[..start].to_string();
                self.out_buf = seen.as_bytes()[end..].to_vec();
                break block;
            }
            if !read_more(&mut self.stdout, &mut self.out_buf).await? {
                let status = self.child.try_wait().ok().flatten().map_or("still running".to_string(), |s| s.to_string());
                let err = String::from_utf8_lossy(&self.err_buf).into_owned();
                return Err(SessionError::ConnectionLost(format!("the {} client closed its output ({status}); it printed: {}{err}", self.format.name(), seen)));
            }
        };
        let stderr = if self.format.marks_stderr() {
            loop {
                let seen = String::from_utf8_lossy(&self.err_buf).into_owned();
                if let Some((start, end)) = find_line(&seen, &marker) {
                    self.err_buf = seen.as_bytes()[end..].to_vec();
                    break seen[..start].to_string();
                }
                if !read_more(&mut self.stderr, &mut self.err_buf).await? {
                    return Err(SessionError::ConnectionLost(format!("the {} client closed its error output; it printed: {seen}", self.format.name())));
                }
            }
        } else {
            String::new()
        };
        let mut entry = format!("> {}\n{stdout}", sql.trim_end());
        if !stderr.is_empty() {
            entry.push_str("stderr:\n");
            entry.push_str(&stderr);
        }
        if !sql.is_empty() {
            self.log.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
        }
        Ok((stdout, stderr))
    }
}

impl ClientSession {
    /// A cursor command on a client whose cursors are buffered: opening runs the query
    /// through the client and keeps its rows; fetches hand them out in order. `None`
    /// for a statement.
    async fn buffered_cursor(&mut self, command: &Command) -> Result<Option<StatementResult>, SessionError> {
        let take = |rows: &mut std::collections::VecDeque<Vec<String>>, n: Option<u64>| -> Vec<Vec<String>> {
            let n = n.map_or(rows.len(), |n| usize::try_from(n).unwrap_or(usize::MAX).min(rows.len()));
            rows.drain(..n).collect()
        };
        match command {
            Command::Sql(_) => Ok(None),
            Command::OpenCursor { name, sql, fetch, .. } => {
                self.cursors.remove(name);
                let (stdout, stderr) = self.exchange("", sql).await?;
                let (result, notes) = self.format.parse(sql, &stdout, &stderr)?;
                self.notes = notes;
                Ok(Some(match result {
                    Ok(Response::Rows { columns, rows }) => {
                        let mut rows: std::collections::VecDeque<Vec<String>> = rows.into();
                        let first = take(&mut rows, *fetch);
                        self.cursors.insert(name.clone(), (columns.clone(), rows));
                        Ok(Response::Rows { columns, rows: first })
                    }
                    other => other,
                }))
            }
            Command::Fetch { name, count } => match self.cursors.get_mut(name) {
                Some((columns, rows)) => Ok(Some(Ok(Response::Rows { columns: columns.clone(), rows: take(rows, *count) }))),
                None => Err(super::no_cursor(name)),
            },
            Command::CloseCursor { name } => super::close_held(&mut self.cursors, name).map(Some),
        }
    }
}

/// Reads what is there; `false` at the end of the stream.
async fn read_more(stream: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Result<bool, SessionError> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await.map_err(|e| SessionError::ConnectionLost(format!("reading from the client: {e}")))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// A client's statement cannot be interrupted from outside without ending the client;
/// a statement that runs too long is left to the interpreter's timeout.
struct NoCancel;

impl Canceller for NoCancel {
    fn cancel(&self) {}

    /// Client sessions serve only probes of one session (`crosscheck` replays no
    /// other), whose statements have no other session of theirs to wait for: a slow
    /// statement (a client process on a busy machine) is slow, not blocked.
    fn lock_wait(&self) -> futures_util::future::BoxFuture<'static, Option<bool>> {
        Box::pin(async { Some(false) })
    }
}

#[async_trait]
impl Session for ClientSession {
    async fn execute(&mut self, command: &Command) -> Result<StatementResult, SessionError> {
        self.notes = Notes::default();
        if self.format.buffers_cursors() {
            if let Some(result) = self.buffered_cursor(command).await? {
                return Ok(result);
            }
        }
        let statements = match command {
            Command::Sql(sql) => vec![sql.clone()],
            other => self
                .format
                .cursor_statements(other)
                .ok_or_else(|| SessionError::Unsupported(format!("{} holds no cursor for dbcompat", self.format.name())))?,
        };
        // A cursor's statements stop at the first error, as the driver's do.
        let mut last = None;
        for sql in &statements {
            let (stdout, stderr) = self.exchange("", sql).await?;
            let (result, notes) = self.format.parse(sql, &stdout, &stderr)?;
            // What the server said stays with the command, as in the driver's session.
            self.notes.diagnostics.extend(notes.diagnostics);
            self.notes.tag = notes.tag.or(self.notes.tag.take());
            let failed = result.is_err();
            last = Some(result);
            if failed {
                break;
            }
        }
        last.ok_or_else(|| SessionError::Harness("a command with no statement".into()))
    }

    fn canceller(&self) -> Box<dyn Canceller> {
        Box::new(NoCancel)
    }

    fn take_notes(&mut self) -> Notes {
        std::mem::take(&mut self.notes)
    }

    async fn close(mut self: Box<Self>) {
        let _ = self.stdin.shutdown().await;
        if tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The command-line program that runs commands in containers: `podman` when the
/// engine dbcompat talks to is Podman's (DOCKER_HOST names its socket) or when it is
/// the only one installed, `docker` otherwise.
pub fn container_cli() -> Result<String, String> {
    let on_path = |name: &str| std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    let podman_api = std::env::var("DOCKER_HOST").is_ok_and(|h| h.contains("podman"));
    match (on_path("podman"), on_path("docker")) {
        (true, _) if podman_api => Ok("podman".into()),
        (_, true) => Ok("docker".into()),
        (true, false) => Ok("podman".into()),
        (false, false) => Err("neither podman nor docker is on PATH, so a container's own client cannot be run".into()),
    }
}

/// Quotes a word for `sh -c`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_found_only_as_a_line_of_its_own() {
        assert_eq!(find_line("a\n~~m~~\nb", "~~m~~"), Some((2, 8)));
        assert_eq!(find_line("~~m~~\n", "~~m~~"), Some((0, 6)));
        assert_eq!(find_line("x~~m~~\n", "~~m~~"), None);
        assert_eq!(find_line("~~m~~", "~~m~~"), None);
    }

    #[test]
    fn one_script_runs_in_a_container_or_here() {
        let env = [("LD_LIBRARY_PATH".to_string(), "/lib/x".to_string())];
        let here = Launch::script(&Host::Local, "exec sqlite3", &env, None).unwrap();
        assert_eq!((here.program.as_str(), here.args.as_slice()), ("sh", &["-c".to_string(), "exec sqlite3".into()][..]));
        assert_eq!(here.env, [("LC_ALL".to_string(), "C.UTF-8".to_string()), env[0].clone()]);
        if let Ok(there) = Launch::script(&Host::Container { id: "c1".into() }, "exec psql", &[], Some("pw".into())) {
            assert_eq!(there.args, ["exec", "-i", "-e", "LC_ALL=C.UTF-8", "c1", "sh", "-c", "exec psql"]);
            assert!(there.env.is_empty());
            assert_eq!(there.stdin_first.as_deref(), Some("pw"));
        }
    }

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
