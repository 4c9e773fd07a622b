//! Rows as server backends send them in their text protocols, rendered canonically.
//!
//! PostgreSQL's simple query protocol and MySQL's text protocol send every value as the
//! server's own text. The column type decides only how that text is written: numbers
//! bare, reals with a decimal point, everything else quoted.

use super::Value;

/// How a column's text is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Integer,
    Real,
    /// Exact decimals: the server's digits, unquoted.
    Decimal,
    Boolean,
    Bytes,
    Text,
}

pub fn render(kind: ColumnKind, text: Option<&[u8]>) -> String {
    let Some(bytes) = text else { return Value::Null.canonical() };
    let text = String::from_utf8_lossy(bytes);
    match kind {
        ColumnKind::Integer => text.parse::<i64>().map(Value::Int).unwrap_or(Value::Number(text.into_owned())).canonical(),
        ColumnKind::Real => text.parse::<f64>().map(Value::Real).unwrap_or(Value::Number(text.into_owned())).canonical(),
        ColumnKind::Decimal => Value::Number(text.into_owned()).canonical(),
        // PostgreSQL writes booleans as t/f.
        ColumnKind::Boolean => match text.as_ref() {
            "t" | "true" | "1" => "true".into(),
            "f" | "false" | "0" => "false".into(),
            other => Value::Text(other.into()).canonical(),
        },
        ColumnKind::Bytes => Value::Bytes(bytes.to_vec()).canonical(),
        ColumnKind::Text => Value::Text(text.into_owned()).canonical(),
    }
}

/// Whether a statement produces a result set. Text protocols report an empty result
/// set and "0 rows changed" alike, so the statement's leading keyword decides between
/// `rows:none` and `ok`; a statement that returns rows is rows whatever it starts with.
pub fn expects_rows(sql: &str) -> bool {
    let lead: String = strip_leading_comments(sql)
        .trim_start_matches('(')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    let upper = sql.to_ascii_uppercase();
    matches!(lead.as_str(), "SELECT" | "WITH" | "VALUES" | "TABLE" | "SHOW" | "EXPLAIN" | "DESCRIBE" | "DESC" | "FETCH" | "CHECK" | "ANALYZE")
        || lead == "HANDLER" && upper.contains(" READ")
        || upper.contains(" RETURNING ")
}

fn strip_leading_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_render_by_column_kind() {
        assert_eq!(render(ColumnKind::Integer, Some(b"42")), "42");
        assert_eq!(render(ColumnKind::Real, Some(b"1")), "1.0");
        assert_eq!(render(ColumnKind::Decimal, Some(b"1.50")), "1.50");
        assert_eq!(render(ColumnKind::Boolean, Some(b"t")), "true");
        assert_eq!(render(ColumnKind::Text, Some(b"it's")), "'it''s'");
        assert_eq!(render(ColumnKind::Text, Some(b"")), "''");
        assert_eq!(render(ColumnKind::Text, None), "NULL");
        assert_eq!(render(ColumnKind::Bytes, Some(&[1, 255])), "x'01ff'");
    }

    #[test]
    fn result_sets_are_recognised_by_their_statement() {
        assert!(expects_rows("SELECT 1"));
        assert!(expects_rows("  with x as (select 1) select * from x"));
        assert!(expects_rows("-- note\nSHOW VARIABLES LIKE 'x'"));
        assert!(expects_rows("/* c */ (SELECT 1)"));
        assert!(expects_rows("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(expects_rows("HANDLER t READ FIRST"));
        assert!(!expects_rows("HANDLER t OPEN"));
        assert!(!expects_rows("INSERT INTO t VALUES (1)"));
        assert!(!expects_rows("BEGIN"));
        assert!(!expects_rows("UPDATE t SET a = 'SELECT'"));
    }
}
