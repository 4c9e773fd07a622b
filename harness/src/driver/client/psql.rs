//! psql, read in its unaligned format with separators no value holds.
//!
//! The preamble sets `VERBOSITY verbose` (errors and notices carry their SQLSTATE), a
//! title (so a result set, even an empty one, is told from a command tag), the unit
//! and record separators, no footer and a NULL no text spells. psql is not quiet, so
//! it prints each command's tag (`INSERT 0 2`, `ROLLBACK`). stdout holds result sets
//! and tags; stderr errors and notices: each gets the marker (`\echo`, `\warn`).

use super::{find_line, ClientFormat};
use crate::driver::error::Classify;
use crate::driver::postgres::fetch_sql;
use crate::driver::Command;
use crate::driver::text_rows::expects_rows;
use crate::driver::{DbError, Diagnostic, Notes, Response, SessionError, StatementResult, Value};

const TITLE: &str = "\x1dT";
const FIELD: char = '\x1f';
const RECORD: char = '\x1e';
const NULL: &str = "\x1bNULL";

/// psql, with PostgreSQL's table of SQLSTATEs.
pub struct Psql {
    pub classify: Classify,
}

impl ClientFormat for Psql {
    fn name(&self) -> &'static str {
        "psql"
    }

    fn preamble(&self) -> String {
        "\\set VERBOSITY verbose\n\\pset null '\\033NULL'\n\\pset footer off\n\\pset format unaligned\n\
         \\pset fieldsep '\\037'\n\\pset recordsep '\\036'\n\\pset title '\\035T'\n"
            .into()
    }

    fn statement(&self, sql: &str, marker: &str) -> String {
        let sql = sql.trim_end().trim_end_matches(';');
        let sql = if sql.trim().is_empty() { String::new() } else { format!("{sql}\n;\n") };
        format!("{sql}\\echo {marker}\n\\warn {marker}\n")
    }

    fn find_marker(&self, stdout: &str, marker: &str) -> Option<(usize, usize)> {
        find_line(stdout, marker)
    }

    fn marks_stderr(&self) -> bool {
        true
    }

    fn cursor_statements(&self, command: &Command) -> Option<Vec<String>> {
        match command {
            Command::OpenCursor { name, sql, fetch, .. } => Some(vec![format!("DECLARE {name} CURSOR FOR {sql}"), fetch_sql(name, *fetch)]),
            Command::Fetch { name, count } => Some(vec![fetch_sql(name, *count)]),
            Command::CloseCursor { name } => Some(vec![format!("CLOSE {name}")]),
            Command::Sql(_) => None,
        }
    }

    fn parse(&mut self, sql: &str, stdout: &str, stderr: &str) -> Result<(StatementResult, Notes), SessionError> {
        parse(sql, stdout, stderr, self.classify)
    }
}

pub fn parse(sql: &str, stdout: &str, stderr: &str, classify: Classify) -> Result<(StatementResult, Notes), SessionError> {
    let mut notes = Notes::default();
    let (error, diagnostics, unread) = messages(stderr, classify);
    notes.diagnostics = diagnostics;
    if let Some(e) = error {
        return Ok((Err(e), notes));
    }
    if !unread.is_empty() {
        return Err(SessionError::Harness(format!("psql said: {}", unread.join("\n"))));
    }
    let (table, tag) = split_table(stdout);
    notes.tag = tag.clone();
    let response = match table {
        Some(records) => rows(&records),
        None if expects_rows(sql) => Response::Rows { columns: Vec::new(), rows: Vec::new() },
        None => Response::Affected { count: tag.as_deref().map_or(0, tag_count) },
    };
    Ok((Ok(response), notes))
}

/// The table psql printed (its records, after the title) and the command tag.
fn split_table(stdout: &str) -> (Option<Vec<&str>>, Option<String>) {
    let Some(table) = stdout.strip_prefix(TITLE).and_then(|t| t.strip_prefix(RECORD)) else {
        let tag = stdout.lines().rfind(|l| !l.trim().is_empty()).map(|l| l.trim().to_string());
        return (None, tag);
    };
    let table = table.strip_suffix('\n').unwrap_or(table);
    // A statement with RETURNING is followed by its tag on a line of its own.
    let (table, tag) = match table.rsplit_once('\n') {
        Some((t, last)) if is_row_tag(last) => (t, Some(last.to_string())),
        _ => (table, None),
    };
    (Some(table.split(RECORD).collect()), tag)
}

fn is_row_tag(line: &str) -> bool {
    let mut words = line.split(' ');
    matches!(words.next(), Some("INSERT" | "UPDATE" | "DELETE" | "MERGE" | "SELECT")) && words.all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
}

fn rows(records: &[&str]) -> Response {
    let columns = records.first().map(|h| h.split(FIELD).map(str::to_string).collect()).unwrap_or_default();
    let rows = records[1.min(records.len())..]
        .iter()
        .map(|r| r.split(FIELD).map(|v| if v == NULL { Value::Null.canonical() } else { Value::Text(v.to_string()).canonical() }).collect())
        .collect();
    Response::Rows { columns, rows }
}

/// A tag's row count, as the driver reads it: its last word when that is a number.
fn tag_count(tag: &str) -> u64 {
    tag.rsplit_once(' ').and_then(|(_, n)| n.parse().ok()).unwrap_or(0)
}

/// The first error, the notices, and lines that are neither (psql's own complaints).
fn messages(stderr: &str, classify: Classify) -> (Option<DbError>, Vec<Diagnostic>, Vec<String>) {
    let mut error = None;
    let mut diagnostics = Vec::new();
    let mut unread = Vec::new();
    for line in stderr.lines() {
        // Read from a pipe, psql may name its input: `psql:<stdin>:12: ERROR:  ...`.
        let body = match line.strip_prefix("psql:") {
            Some(rest) => rest.splitn(3, ':').nth(2).map_or(line, str::trim_start),
            None => line,
        };
        match message(body) {
            Some((level, code, text)) if level == "ERROR" || level == "FATAL" => {
                if error.is_none() {
                    error = Some(DbError { class: classify(&code, &text), code, message: text });
                }
            }
            Some((level, code, text)) => diagnostics.push(Diagnostic { level: level.to_lowercase(), code, message: text }),
            None if is_detail(body) || body.trim().is_empty() => {}
            None => unread.push(line.to_string()),
        }
    }
    (error, diagnostics, unread)
}

/// `LEVEL:  SQLSTATE: text`, as psql prints a message in verbose mode.
fn message(line: &str) -> Option<(String, String, String)> {
    let (level, rest) = line.split_once(":  ")?;
    if !matches!(level, "ERROR" | "FATAL" | "PANIC" | "WARNING" | "NOTICE" | "INFO" | "LOG" | "DEBUG") {
        return None;
    }
    let (code, text) = rest.split_once(": ")?;
    (code.len() == 5 && code.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| (level.to_string(), code.to_string(), text.to_string()))
}

/// The lines that follow a message: its detail, hint, context, location and names, and
/// the continuation lines of a long context (indented or not, they name no level).
fn is_detail(line: &str) -> bool {
    let label = line.split_once(':').map_or("", |(l, _)| l);
    matches!(label, "DETAIL" | "HINT" | "QUERY" | "CONTEXT" | "LOCATION" | "STATEMENT" | "SCHEMA NAME" | "TABLE NAME" | "COLUMN NAME" | "DATATYPE NAME" | "CONSTRAINT NAME")
        || line.starts_with(' ')
        || line.starts_with('\t')
        || line.starts_with("LINE ")
        || line.starts_with("PL/pgSQL ")
        || line.starts_with("SQL ")
}

#[cfg(test)]
mod tests {
    use super::*;
    const PG: Classify = crate::backends::postgres_class;
    const PSQL: Psql = Psql { classify: PG };
    use crate::driver::ErrorClass;

    fn ok(sql: &str, stdout: &str) -> (Response, Notes) {
        let (r, n) = parse(sql, stdout, "", PG).unwrap();
        (r.unwrap(), n)
    }

    #[test]
    fn a_result_set_reads_with_its_columns_nulls_and_multiline_values() {
        let out = "\x1dT\x1ea\x1fb\x1fc\x1e1\x1fx\x1f\x1bNULL\x1e2\x1fmulti\nline\x1f\n";
        let (r, _) = ok("SELECT a, b, c FROM t", out);
        assert_eq!(r.canonical(), "rows:('1','x',NULL),('2','multi\nline','')");
        assert!(matches!(r, Response::Rows { ref columns, .. } if columns == &["a", "b", "c"]));
    }

    #[test]
    fn an_empty_result_set_is_rows_not_a_tag() {
        assert_eq!(ok("SELECT 1 AS x WHERE false", "\x1dT\x1ex\n").0.canonical(), "rows:none");
    }

    #[test]
    fn returning_rows_keep_their_tag() {
        let (r, n) = ok("UPDATE t SET b='z' RETURNING *", "\x1dT\x1ea\x1fb\x1e1\x1fz\x1e2\x1fz\nUPDATE 2\n");
        assert_eq!(r.canonical(), "rows:('1','z'),('2','z')");
        assert_eq!(n.tag.as_deref(), Some("UPDATE 2"));
    }

    #[test]
    fn a_command_tag_gives_the_affected_count() {
        assert_eq!(ok("INSERT INTO t VALUES (1),(2)", "INSERT 0 2\n").0.canonical(), "affected:2");
        let (r, n) = ok("COMMIT", "ROLLBACK\n");
        assert_eq!(r.canonical(), "ok");
        assert_eq!(n.tag.as_deref(), Some("ROLLBACK"));
    }

    #[test]
    fn errors_and_notices_carry_their_sqlstate() {
        let stderr = "ERROR:  23505: duplicate key value violates unique constraint \"t_pkey\"\nDETAIL:  Key (a)=(1) already exists.\n\
                      SCHEMA NAME:  public\nTABLE NAME:  t\nCONSTRAINT NAME:  t_pkey\nLOCATION:  _bt_check_unique, nbtinsert.c:673\n";
        let (r, _) = parse("INSERT INTO t VALUES (1)", "", stderr, PG).unwrap();
        let e = r.unwrap_err();
        assert_eq!((e.code.as_str(), e.class), ("23505", ErrorClass::UniqueViolation));
        let stderr = "NOTICE:  00000: table \"nope\" does not exist, skipping\nLOCATION:  DropErrorMsgNonExistent, tablecmds.c:1317\n\
                      WARNING:  01000: hi\nCONTEXT:  PL/pgSQL function inline_code_block line 1 at RAISE\n";
        let (r, n) = parse("DROP TABLE IF EXISTS nope", "DROP TABLE\n", stderr, PG).unwrap();
        assert_eq!(r.unwrap().canonical(), "ok");
        let codes: Vec<String> = n.diagnostics.iter().map(Diagnostic::canonical).collect();
        assert_eq!(codes, ["notice:00000", "warning:01000"]);
    }

    #[test]
    fn psqls_own_complaints_are_not_taken_for_an_answer() {
        assert!(parse("x", "", "invalid command \\q2\n", PG).is_err());
        let (r, _) = parse("SELECT 1/0", "", "psql:<stdin>:9: ERROR:  22012: division by zero\n", PG).unwrap();
        assert_eq!(r.unwrap_err().code, "22012");
    }

    #[test]
    fn a_cursor_is_declared_and_fetched_as_the_driver_does() {
        let open = Command::OpenCursor { name: "c".into(), sql: "SELECT 1".into(), fetch: Some(1), streamed: false };
        assert_eq!(PSQL.cursor_statements(&open).unwrap(), ["DECLARE c CURSOR FOR SELECT 1", "FETCH 1 FROM c"]);
        assert_eq!(PSQL.cursor_statements(&Command::Fetch { name: "c".into(), count: None }).unwrap(), ["FETCH ALL FROM c"]);
    }

    #[test]
    fn a_statement_is_sent_once_with_its_markers() {
        assert_eq!(PSQL.statement("SELECT 1;  ", "~m~"), "SELECT 1\n;\n\\echo ~m~\n\\warn ~m~\n");
        assert_eq!(PSQL.statement("", "~m~"), "\\echo ~m~\n\\warn ~m~\n");
    }
}
