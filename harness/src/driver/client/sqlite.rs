//! SQLite's own shell (`sqlite3`), read in its `quote` mode with control-character
//! separators.
//!
//! The preamble turns `.bail` off (an error does not end the shell), headers on (a
//! result set's first record names its columns), `.mode quote` (each value printed as
//! an SQL literal: `NULL`, `12`, `1.5`, `'it''s'`, `X'00ff'`, so a value's type and a
//! NULL read back unambiguously), the unit and record separators between fields and
//! records, and `.changes on`: after each statement that succeeded the shell prints
//! `changes: N   total_changes: M` (`sqlite3_changes64`, `sqlite3_total_changes64`).
//! Errors go to stderr, which the launch joins to stdout (both unbuffered, so they keep
//! their order): `Parse error near line N: MESSAGE` or `Runtime error near line N:
//! MESSAGE (CODE)`, where the shell shows the primary result code only (1 is not shown);
//! a constraint's kind is in its message (`UNIQUE constraint failed: t.a`), as SQLite
//! words it, and gives the extended code SQLite's classifier reads. The marker is
//! `.print`.
//!
//! The shell prints nothing for a result set without rows, so the statement's leading
//! keyword decides between `rows:none` and `ok` there, as for other text clients
//! ([`expects_rows`]; a `PRAGMA` that sets nothing is a query).

use std::path::{Path, PathBuf};

use super::{ClientFormat, ClientLog, ClientSession, Host, Launch};
use crate::backends::Backend;
use crate::driver::error::Classify;
use crate::driver::text_rows::expects_rows;
use crate::driver::{Command, DbError, Notes, Response, Session, SessionError, StatementResult, Value};
use crate::version::Version;

/// Where `ci/build-sqlite-libs.sh` puts the `libsqlite3.so.0` of a SQLite version:
/// `$DBCOMPAT_CACHE/sqlite/VERSION` (`/var/cache/dbcompat` by default). For the
/// bundled version it is built from the amalgamation and flags of the bundled build.
pub fn library_dir(version: &str) -> PathBuf {
    cache().join(version)
}

fn cache() -> PathBuf {
    std::env::var_os("DBCOMPAT_CACHE").map_or_else(|| PathBuf::from("/var/cache/dbcompat"), PathBuf::from).join("sqlite")
}

/// What Debian's shell needs to start with another library than Debian's (see
/// `ci/build-sqlite-libs.sh`): its own start-up check of the library's source id
/// answered, and the session extension's functions it binds at start.
fn shell_shim() -> PathBuf {
    cache().join("shell-shim/libsqlite3-shell-shim.so")
}

/// Starts the `sqlite3` shell on `database` with `library` (a directory holding
/// `libsqlite3.so.0`) as its SQLite, and checks that the shell runs the target's
/// version; the check is the first exchange of the client's transcript.
pub async fn start_shell(library: &Path, database: &str, version: &Version, log: ClientLog) -> Result<Box<dyn Session>, String> {
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("sqlite3").is_file()));
    if !on_path {
        return Err("the sqlite3 shell is not installed (Debian's `sqlite3` package)".into());
    }
    let file = library.join("libsqlite3.so.0");
    if !file.is_file() {
        return Err(format!("no libsqlite3.so.0 for SQLite {version} in {} (ci/build-sqlite-libs.sh builds it)", library.display()));
    }
    let shim = shell_shim();
    if !shim.is_file() {
        return Err(format!("no {} for the sqlite3 shell (ci/build-sqlite-libs.sh builds it)", shim.display()));
    }
    let client = Backend::Sqlite.dialect().client("", database).ok_or("no sqlite3 shell launch")?;
    let env = [("LD_LIBRARY_PATH".to_string(), library.display().to_string()), ("LD_PRELOAD".to_string(), shim.display().to_string())];
    let launch = Launch::script(&Host::Local, &client.script, &env, None)?;
    let mut shell = ClientSession::start(launch, client.format, log.clone()).await?;
    let asked = shell.execute(&Command::Sql("select sqlite_version()".into())).await.map_err(|e| e.to_string())?;
    let reported = match &asked {
        Ok(Response::Rows { rows, .. }) if rows.len() == 1 && rows[0].len() == 1 => unquote(&rows[0][0]).unwrap_or_default(),
        other => return Err(format!("the shell did not tell its SQLite version: {other:?}")),
    };
    let same = Version::parse(&reported).is_some_and(|v| v == *version);
    let verdict = if same { "the target's version" } else { "NOT the target's version" };
    let run_as = format!("LD_LIBRARY_PATH={} LD_PRELOAD={}", library.display(), shim.display());
    log.lock().unwrap_or_else(|p| p.into_inner()).push(format!("-- sqlite_version() = {reported}: {verdict} ({version}); the shell runs as {run_as} {}", client.script));
    if !same {
        return Err(format!("the sqlite3 shell runs SQLite {reported} from {}, not the target's {version}", file.display()));
    }
    Ok(Box::new(shell))
}

const FIELD: char = '\x1f';
const RECORD: char = '\x1e';
const CHANGES: &str = "changes: ";

/// The shell, with SQLite's table of result codes.
pub struct SqliteShell {
    pub classify: Classify,
    /// `total_changes` as last printed: a statement changed rows only if it moved
    /// (as the driver counts, since `changes` keeps the last DML statement's count).
    total_changes: u64,
}

impl SqliteShell {
    pub fn new(classify: Classify) -> Self {
        SqliteShell { classify, total_changes: 0 }
    }
}

impl ClientFormat for SqliteShell {
    fn name(&self) -> &'static str {
        "sqlite3"
    }

    fn preamble(&self) -> String {
        ".bail off\n.headers on\n.mode quote\n.separator \"\\037\" \"\\036\"\n.changes on\n".into()
    }

    fn statement(&self, sql: &str, marker: &str) -> String {
        let sql = sql.trim_end().trim_end_matches(';');
        let sql = if sql.trim().is_empty() { String::new() } else { format!("{sql}\n;\n") };
        format!("{sql}.print {marker}\n")
    }

    /// The marker's line: it starts the output or follows a line or a record.
    fn find_marker(&self, stdout: &str, marker: &str) -> Option<(usize, usize)> {
        let line = format!("{marker}\n");
        let mut from = 0;
        while let Some(i) = stdout[from..].find(&line) {
            let start = from + i;
            if start == 0 || matches!(stdout.as_bytes()[start - 1], b'\n' | b'\x1e') {
                return Some((start, start + line.len()));
            }
            from = start + 1;
        }
        None
    }

    fn marks_stderr(&self) -> bool {
        false
    }

    fn parse(&mut self, sql: &str, stdout: &str, _stderr: &str) -> Result<(StatementResult, Notes), SessionError> {
        let printed = parse(stdout, self.classify)?;
        if let Some(e) = printed.error {
            return Ok((Err(e), Notes::default()));
        }
        let response = match printed.records {
            Some((columns, rows)) => Response::Rows { columns, rows },
            None if printed.changes.is_none() => {
                // The shell ran nothing: SQL that holds no statement (a comment).
                if !sql_is_only_comments(sql) {
                    return Err(SessionError::Harness(format!("the shell printed nothing for a statement:\n{stdout}")));
                }
                Response::Affected { count: 0 }
            }
            None if is_query(sql) => Response::Rows { columns: Vec::new(), rows: Vec::new() },
            None => {
                let (changes, total) = printed.changes.unwrap_or((0, self.total_changes));
                Response::Affected { count: if total != self.total_changes { changes } else { 0 } }
            }
        };
        if let Some((_, total)) = printed.changes {
            self.total_changes = total;
        }
        Ok((Ok(response), Notes::default()))
    }
}

/// Whether an empty answer is an empty result set: a statement that returns rows, or a
/// `PRAGMA` that sets nothing (`PRAGMA foreign_key_check`, `PRAGMA journal_mode`).
fn is_query(sql: &str) -> bool {
    let lead = sql.trim_start().get(..6).is_some_and(|w| w.eq_ignore_ascii_case("pragma"));
    expects_rows(sql) || lead && !sql.contains('=')
}

fn sql_is_only_comments(sql: &str) -> bool {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return s.trim_matches(|c: char| c == ';' || c.is_whitespace()).is_empty();
        }
    }
}

/// What the shell printed for one statement.
#[derive(Debug, Default)]
struct Printed {
    /// The header and the rows, each value in canonical text.
    records: Option<(Vec<String>, Vec<Vec<String>>)>,
    /// `changes` and `total_changes`, printed when the statement succeeded.
    changes: Option<(u64, u64)>,
    error: Option<DbError>,
}

fn parse(output: &str, classify: Classify) -> Result<Printed, SessionError> {
    let not_understood = |why: &str| SessionError::Harness(format!("the shell's output was not understood ({why}):\n{output}"));
    let mut printed = Printed::default();
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut rest = output;
    while !rest.is_empty() {
        if let Some(line) = rest.strip_prefix(CHANGES) {
            let (line, after) = line.split_once('\n').unwrap_or((line, ""));
            let (changes, total) = line.split_once("   total_changes: ").ok_or_else(|| not_understood("a changes line"))?;
            let number = |s: &str| s.trim().parse::<u64>().map_err(|_| not_understood("a changes count"));
            printed.changes = Some((number(changes)?, number(total)?));
            rest = after;
        } else if let Some((error, after)) = error_line(rest, classify) {
            printed.error.get_or_insert(error);
            rest = after;
        } else if printed.changes.is_none() && printed.error.is_none() {
            let (record, after) = record(rest).ok_or_else(|| not_understood("a record"))?;
            records.push(record);
            rest = after;
        } else {
            return Err(not_understood("text after the statement's end"));
        }
    }
    if !records.is_empty() {
        let mut records = records.into_iter();
        let columns = records.next().unwrap_or_default().into_iter().map(|c| unquote(&c).unwrap_or(c)).collect();
        let rows: Vec<Vec<String>> = records.map(|r| r.iter().map(|v| canonical(v)).collect::<Option<_>>()).collect::<Option<_>>().ok_or_else(|| not_understood("a value"))?;
        printed.records = Some((columns, rows));
    }
    Ok(printed)
}

/// One record: SQL literals separated by the unit separator, ended by the record
/// separator; a quoted literal may hold either.
fn record(text: &str) -> Option<(Vec<String>, &str)> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '\'' => {
                quoted = !quoted;
                field.push(c);
            }
            FIELD if !quoted => fields.push(std::mem::take(&mut field)),
            RECORD if !quoted => {
                fields.push(field);
                return Some((fields, &text[i + 1..]));
            }
            '\n' if !quoted => return None,
            _ => field.push(c),
        }
    }
    None
}

/// `'it''s'` as its text.
fn unquote(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

/// A literal of quote mode in the driver's canonical text.
fn canonical(literal: &str) -> Option<String> {
    if literal == "NULL" {
        return Some(Value::Null.canonical());
    }
    if let Some(text) = unquote(literal) {
        return Some(Value::Text(text).canonical());
    }
    if let Some(hex) = literal.strip_prefix("X'").or_else(|| literal.strip_prefix("x'")).and_then(|h| h.strip_suffix('\'')) {
        return Some(format!("x'{}'", hex.to_ascii_lowercase()));
    }
    // Numbers: integers as printed; reals with 20 significant digits, infinities as
    // `Inf`/`-Inf` (3.40) or `9.0e+999` (later shells).
    match literal {
        "Inf" | "9.0e+999" => return Some("inf".into()),
        "-Inf" | "-9.0e+999" => return Some("-inf".into()),
        _ => {}
    }
    literal.parse::<f64>().is_ok().then(|| literal.to_string())
}

/// `Parse error near line 3: no such table: t` or `Runtime error near line 5: UNIQUE
/// constraint failed: t.a (19)`, and the context lines that follow it (indented).
fn error_line(text: &str, classify: Classify) -> Option<(DbError, &str)> {
    let (line, mut after) = text.split_once('\n').unwrap_or((text, ""));
    let rest = ["Parse error", "Runtime error", "Error"].iter().find_map(|p| line.strip_prefix(p))?;
    // Input from a pipe always names its line; `Error: ...` alone is the shell's own
    // complaint (a dot-command it did not take), not a statement's error.
    let rest = rest.strip_prefix(" near line ").and_then(|r| r.split_once(':').map(|(_, m)| m))?;
    let message = rest.trim_start();
    let (message, primary) = match message.rsplit_once(" (") {
        Some((m, code)) if code.strip_suffix(')').is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit())) => (m, code.trim_end_matches(')').parse().unwrap_or(1)),
        _ => (message, 1),
    };
    while after.starts_with("  ") {
        after = after.split_once('\n').map_or("", |(_, r)| r);
    }
    let code = extended_code(primary, message);
    Some((DbError { class: classify(&code.to_string(), message), code: code.to_string(), message: message.to_string() }, after))
}

/// The extended result code of a constraint failure, from its message: the shell
/// shows SQLITE_CONSTRAINT (19) for all of them.
fn extended_code(primary: i32, message: &str) -> i32 {
    const CONSTRAINT: i32 = 19;
    if primary != CONSTRAINT {
        return primary;
    }
    let kinds = [("UNIQUE constraint failed", 2067), ("NOT NULL constraint failed", 1299), ("FOREIGN KEY constraint failed", 787), ("CHECK constraint failed", 275), ("cannot store ", 3091)];
    kinds.iter().find(|(start, _)| message.starts_with(start)).map_or(primary, |(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::ErrorClass;
    const LITE: Classify = crate::backends::sqlite_class;

    fn answer(shell: &mut SqliteShell, sql: &str, out: &str) -> String {
        match shell.parse(sql, out, "").unwrap().0 {
            Ok(r) => r.canonical(),
            Err(e) => format!("error:{} {}", e.class, e.code),
        }
    }

    #[test]
    fn a_result_set_reads_typed_literals_with_separators_inside_quotes() {
        let mut s = SqliteShell::new(LITE);
        let out = "'a'\x1f'b''s'\x1f'c'\x1e1\x1f'it''s\x1fx\x1enl'\x1fNULL\x1e2\x1fX'00FF'\x1f0.10000000000000000555\x1e-3\x1f'NULL'\x1fInf\x1echanges: 0   total_changes: 0\n";
        let (r, _) = s.parse("SELECT a, b AS \"b's\", c FROM t", out, "").unwrap();
        let r = r.unwrap();
        assert_eq!(r.canonical(), "rows:(1,'it''s\x1fx\x1enl',NULL),(2,x'00ff',0.10000000000000000555),(-3,'NULL',inf)");
        assert!(matches!(r, Response::Rows { ref columns, .. } if columns == &["a", "b's", "c"]));
    }

    #[test]
    fn an_empty_answer_is_rows_for_a_query_and_a_count_otherwise() {
        let mut s = SqliteShell::new(LITE);
        assert_eq!(answer(&mut s, "SELECT * FROM t WHERE 0", "changes: 0   total_changes: 0\n"), "rows:none");
        assert_eq!(answer(&mut s, "PRAGMA foreign_key_check", "changes: 0   total_changes: 0\n"), "rows:none");
        assert_eq!(answer(&mut s, "INSERT INTO t VALUES (1), (2)", "changes: 2   total_changes: 2\n"), "affected:2");
        // `changes` keeps the INSERT's count; only a moved total is a change of this statement.
        assert_eq!(answer(&mut s, "BEGIN", "changes: 2   total_changes: 2\n"), "ok");
        assert_eq!(answer(&mut s, "PRAGMA foreign_keys = ON", "changes: 2   total_changes: 2\n"), "ok");
        assert_eq!(answer(&mut s, "DELETE FROM t", "changes: 2   total_changes: 4\n"), "affected:2");
        assert_eq!(answer(&mut s, "-- a comment", ""), "ok");
        assert!(s.parse("UPDATE t SET a = 1", "", "").is_err(), "a statement the shell said nothing about");
    }

    #[test]
    fn errors_read_their_message_and_constraint_kind() {
        let mut s = SqliteShell::new(LITE);
        assert_eq!(answer(&mut s, "INSERT INTO t VALUES (1)", "Runtime error near line 12: UNIQUE constraint failed: t.a (19)\n"), "error:unique_violation 2067");
        assert_eq!(answer(&mut s, "x", "Runtime error near line 16: NOT NULL constraint failed: t.c (19)\n"), "error:not_null_violation 1299");
        assert_eq!(answer(&mut s, "x", "Runtime error near line 15: CHECK constraint failed: a < 100 (19)\n"), "error:check_violation 275");
        assert_eq!(answer(&mut s, "x", "Parse error near line 14: no such table: nope\n"), "error:undefined_object 1");
        assert_eq!(answer(&mut s, "COMMIT", "Runtime error near line 20: cannot commit - no transaction is active\n"), "error:invalid_transaction_state 1");
        assert_eq!(answer(&mut s, "x", "Runtime error near line 3: database is locked (5)\n"), "error:busy 5");
        let context = "Parse error near line 24: near \"UPDATE\": syntax error\n  SELECT * FROM t FOR UPDATE;\n                      ^--- error here\n";
        assert_eq!(answer(&mut s, "SELECT * FROM t FOR UPDATE", context), "error:syntax 1");
        // Rows printed before a runtime error do not make it an answer.
        assert_eq!(answer(&mut s, "SELECT 1/0", "'x'\x1e1\x1eRuntime error near line 2: integer overflow\n"), "error:other 1");
        let e = s.parse("x", "Runtime error near line 1: FOREIGN KEY constraint failed (19)\n", "").unwrap().0.unwrap_err();
        assert_eq!(e.class, ErrorClass::ForeignKeyViolation);
    }

    #[test]
    fn output_that_is_not_understood_is_a_harness_error() {
        let mut s = SqliteShell::new(LITE);
        assert!(s.parse("SELECT 1", "Error: unknown command or invalid arguments\nchanges: x\n", "").is_err());
        assert!(s.parse("SELECT 1", "'a'\x1e1\n", "").is_err(), "a record without its separator");
        assert!(s.parse("SELECT 1", "'a'\x1ebare words\x1echanges: 0   total_changes: 0\n", "").is_err());
    }

    #[test]
    fn statements_and_markers() {
        let s = SqliteShell::new(LITE);
        assert_eq!(s.statement("SELECT 1; ", "~m~"), "SELECT 1\n;\n.print ~m~\n");
        assert_eq!(s.statement("", "~m~"), ".print ~m~\n");
        let out = "changes: 0   total_changes: 0\nx~m~\n~m~\n";
        assert_eq!(s.find_marker(out, "~m~"), Some((out.len() - 4, out.len())));
        assert_eq!(s.find_marker("x\x1e~m~\n", "~m~"), Some((2, 6)));
    }
}
