//! The `mysql` and `mariadb` clients in batch mode, verbose twice (`-vv`): each
//! statement is echoed between dashes, then its result set (tab-separated, with
//! `\n`, `\t`, `\\` and `\0` escaped) and `N rows in set`, or `Query OK, N rows
//! affected` and the server's info line; `--show-warnings` lists the statement's
//! warnings and notes after it. Errors go to stderr, which the launch joins to stdout
//! (`--unbuffered` flushes stdout after each statement, so the two keep their order).
//! Statements end with a delimiter no SQL holds, so a body with semicolons is sent whole.
//!
//! The marker is `GET DIAGNOSTICS @dbcompat_mark = NUMBER`: a statement (so the client
//! flushes and errors keep their place) that leaves the session's diagnostics area,
//! FOUND_ROWS() and the warning list as the statement before it left them, where a
//! `SELECT` marker would clear them. It sets one user variable, `@dbcompat_mark`.

use super::ClientFormat;
use crate::driver::error::Classify;
use crate::driver::{DbError, Diagnostic, Notes, Response, SessionError, StatementResult, Value};

/// The statement delimiter given to the client (`--delimiter`).
pub const DELIMITER: &str = "~~;";
const DASHES: &str = "--------------";
const MARKER: &str = "GET DIAGNOSTICS @dbcompat_mark = NUMBER";

pub struct MysqlClient {
    pub name: &'static str,
    /// The server's table of error numbers.
    pub classify: Classify,
}

impl ClientFormat for MysqlClient {
    fn name(&self) -> &'static str {
        self.name
    }

    fn preamble(&self) -> String {
        String::new()
    }

    fn statement(&self, sql: &str, marker: &str) -> String {
        let sql = sql.trim_end().trim_end_matches(';');
        let sql = if sql.trim().is_empty() { String::new() } else { format!("{sql}\n{DELIMITER}\n") };
        // One marker serves every exchange: exchanges are strictly one after another.
        let _ = marker;
        format!("{sql}{MARKER}{DELIMITER}\n")
    }

    fn find_marker(&self, stdout: &str, _marker: &str) -> Option<(usize, usize)> {
        let echo = format!("{DASHES}\n{MARKER}\n{DASHES}\n");
        let answer = "\nQuery OK, 0 rows affected\n";
        let start = stdout.find(&echo)?;
        let after = start + echo.len();
        let end = stdout[after..].find(answer)? + after + answer.len();
        Some((start, end))
    }

    fn marks_stderr(&self) -> bool {
        false
    }

    /// The driver's cursors are buffered (driver/mysql.rs): the client reads the
    /// cursor's query whole, and its rows are handed out as the driver hands them.
    fn buffers_cursors(&self) -> bool {
        true
    }

    fn parse(&mut self, sql: &str, stdout: &str, _stderr: &str) -> Result<(StatementResult, Notes), SessionError> {
        // The client takes `USE db` as its own command (it changes the database itself,
        // COM_INIT_DB) and prints nothing when it succeeds.
        if is_use(sql) && stdout.trim().is_empty() {
            return Ok((Ok(Response::Affected { count: 0 }), Notes::default()));
        }
        parse(stdout, self.classify)
    }
}

pub fn parse(output: &str, classify: Classify) -> Result<(StatementResult, Notes), SessionError> {
    let mut notes = Notes::default();
    let mut error = None;
    let mut response = None;
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut in_echo = false;
    let mut unread = Vec::new();
    for line in output.lines() {
        if line == DASHES {
            in_echo = !in_echo;
            continue;
        }
        if in_echo || line.is_empty() || line == "Bye" {
            continue;
        }
        if let Some(e) = error_line(line, classify) {
            error.get_or_insert(e);
        } else if let Some(d) = warning_line(line) {
            // SHOW WARNINGS repeats the statement's own error as a row of level Error.
            if d.level != "error" {
                notes.diagnostics.push(d);
            }
        } else if let Some(rest) = line.strip_prefix("Query OK, ") {
            let count = rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            response = Some(Response::Affected { count });
        } else if response.is_some() && (line.starts_with("Records: ") || line.starts_with("Rows matched: ")) {
            notes.tag = Some(line.to_string());
        } else if line.starts_with("Empty set") || is_rows_in_set(line) {
            let mut records = std::mem::take(&mut table).into_iter();
            let columns = records.next().unwrap_or_default();
            let rows = records.map(|r| r.iter().map(|v| if v == "NULL" { Value::Null.canonical() } else { Value::Text(unescape(v)).canonical() }).collect()).collect();
            response = Some(Response::Rows { columns, rows });
        } else if response.is_none() && error.is_none() {
            table.push(line.split('\t').map(str::to_string).collect());
        } else {
            unread.push(line.to_string());
        }
    }
    if let Some(e) = error {
        return Ok((Err(e), notes));
    }
    match response {
        Some(r) if unread.is_empty() => Ok((Ok(r), notes)),
        _ => Err(SessionError::Harness(format!("the client's output was not understood:\n{output}"))),
    }
}

fn is_use(sql: &str) -> bool {
    let sql = sql.trim_start();
    sql.len() > 4 && sql[..4].eq_ignore_ascii_case("use ")
}

fn is_rows_in_set(line: &str) -> bool {
    let mut words = line.splitn(2, ' ');
    words.next().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) && words.next().is_some_and(|r| r.starts_with("row in set") || r.starts_with("rows in set"))
}

/// `ERROR 1062 (23000) at line 4: Duplicate entry '1' for key 'PRIMARY'`.
fn error_line(line: &str, classify: Classify) -> Option<DbError> {
    let rest = line.strip_prefix("ERROR ")?;
    let (number, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let number: u16 = number.parse().ok()?;
    let message = rest.split_once(": ").map_or(rest, |(_, m)| m).to_string();
    Some(DbError { class: classify(&number.to_string(), &message), code: number.to_string(), message })
}

/// `Warning (Code 1265): Data truncated for column 'b' at row 1`.
fn warning_line(line: &str) -> Option<Diagnostic> {
    let (level, rest) = line.split_once(" (Code ")?;
    if !matches!(level, "Warning" | "Note" | "Error") {
        return None;
    }
    let (code, message) = rest.split_once("): ")?;
    Some(Diagnostic { level: level.to_lowercase(), code: code.to_string(), message: message.to_string() })
}

/// Batch mode's escapes undone.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    const MY: Classify = crate::backends::mysql_class;
    use crate::driver::ErrorClass;

    const ECHO: &str = "--------------\nINSERT INTO t2 VALUES (3,'abc','x')\n--------------\n\n";

    #[test]
    fn affected_rows_and_warnings_read_from_the_verbose_output() {
        let out = format!("\n{ECHO}Query OK, 1 row affected, 2 warnings\n\nWarning (Code 1265): Data truncated for column 'b' at row 1\nWarning (Code 1366): Incorrect integer value: 'x'\n");
        let (r, n) = parse(&out, MY).unwrap();
        assert_eq!(r.unwrap().canonical(), "affected:1");
        let codes: Vec<String> = n.diagnostics.iter().map(Diagnostic::canonical).collect();
        assert_eq!(codes, ["warning:1265", "warning:1366"]);
    }

    #[test]
    fn the_info_line_is_the_tag() {
        let out = "--------------\nUPDATE t2 SET b='a' WHERE a=1\n--------------\n\nQuery OK, 0 rows affected\nRows matched: 1  Changed: 0  Warnings: 0\n\n";
        let (r, n) = parse(out, MY).unwrap();
        assert_eq!(r.unwrap().canonical(), "ok");
        assert_eq!(n.tag.as_deref(), Some("Rows matched: 1  Changed: 0  Warnings: 0"));
    }

    #[test]
    fn a_result_set_unescapes_its_values_and_reads_null() {
        let out = "--------------\nSELECT a, b, c FROM t\n--------------\n\na\tb\tc\n1\tmulti\\nline\tNULL\n2\tit's\t\n2 rows in set\n\n";
        let (r, _) = parse(out, MY).unwrap();
        let r = r.unwrap();
        assert_eq!(r.canonical(), "rows:('1','multi\nline',NULL),('2','it''s','')");
        assert!(matches!(r, Response::Rows { ref columns, .. } if columns == &["a", "b", "c"]));
        let empty = "--------------\nSELECT * FROM t WHERE a > 5\n--------------\n\nEmpty set\n\n";
        assert_eq!(parse(empty, MY).unwrap().0.unwrap().canonical(), "rows:none");
    }

    #[test]
    fn an_error_reads_with_its_number_and_a_repeated_error_row_is_dropped() {
        let out = format!("ERROR 1062 (23000) at line 4: Duplicate entry '1' for key 'PRIMARY'\n{ECHO}Error (Code 1062): Duplicate entry '1' for key 'PRIMARY'\n");
        let (r, n) = parse(&out, MY).unwrap();
        let e = r.unwrap_err();
        assert_eq!((e.code.as_str(), e.class), ("1062", ErrorClass::UniqueViolation));
        assert!(n.diagnostics.is_empty());
    }

    #[test]
    fn output_that_is_not_understood_is_a_harness_error() {
        assert!(parse("--------------\nSELECT 1\n--------------\n\n", MY).is_err());
    }

    #[test]
    fn a_use_the_client_ran_itself_is_ok() {
        let mut m = MysqlClient { name: "mariadb", classify: MY };
        assert_eq!(m.parse("USE information_schema", "\n", "").unwrap().0.unwrap().canonical(), "ok");
        assert!(m.parse("SELECT 1", "\n", "").is_err());
        let e = m.parse("use nope", "ERROR 1049 (42000) at line 9: Unknown database 'nope'\n", "").unwrap().0.unwrap_err();
        assert_eq!(e.code, "1049");
    }

    #[test]
    fn the_marker_is_found_after_its_echo() {
        let m = MysqlClient { name: "mariadb", classify: MY };
        let out = "Query OK, 1 row affected\n\n--------------\nGET DIAGNOSTICS @dbcompat_mark = NUMBER\n--------------\n\nQuery OK, 0 rows affected\n\n";
        let (start, end) = m.find_marker(out, "~m~").unwrap();
        assert_eq!(&out[..start], "Query OK, 1 row affected\n\n");
        assert_eq!(&out[end..], "\n");
        assert_eq!(m.statement("SELECT 1;", "~m~"), "SELECT 1\n~~;\nGET DIAGNOSTICS @dbcompat_mark = NUMBER~~;\n");
    }
}
