//! The vocabulary of what a server did, shared by every stage: portable error classes,
//! isolation levels, and the outcome of a step as suites write it and runs observe it
//! (`rows:(1,'a')`, `affected:2 warning:1265`, `blocked, then error:deadlock`). Every
//! type's `Display` and `FromStr` round-trip; outcomes are serialized as that text. It
//! depends on nothing else in dbcompat.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The portable class of a server's error; each backend's module maps its native
/// codes to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    UniqueViolation,
    NotNullViolation,
    ForeignKeyViolation,
    CheckViolation,
    /// Refused at once because a lock is held (NOWAIT).
    LockNotAvailable,
    /// Gave up after waiting for a lock.
    LockTimeout,
    Deadlock,
    SerializationFailure,
    /// SQLite's SQLITE_BUSY / SQLITE_LOCKED: the database file is locked.
    Busy,
    Syntax,
    UndefinedObject,
    DuplicateObject,
    DataTooLong,
    InvalidValue,
    DatatypeMismatch,
    /// A table or column definition the server refuses (e.g. TEXT in a key without a length).
    InvalidDefinition,
    /// A size limit: key too long, identifier too long, too many columns.
    LimitExceeded,
    NotSupported,
    /// PostgreSQL: the transaction failed earlier and ignores commands until rollback.
    TransactionAborted,
    /// A transaction command in the wrong state (COMMIT with no transaction, ...).
    InvalidTransactionState,
    QueryCanceled,
    Other,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 22] = [
        ErrorClass::UniqueViolation,
        ErrorClass::NotNullViolation,
        ErrorClass::ForeignKeyViolation,
        ErrorClass::CheckViolation,
        ErrorClass::LockNotAvailable,
        ErrorClass::LockTimeout,
        ErrorClass::Deadlock,
        ErrorClass::SerializationFailure,
        ErrorClass::Busy,
        ErrorClass::Syntax,
        ErrorClass::UndefinedObject,
        ErrorClass::DuplicateObject,
        ErrorClass::DataTooLong,
        ErrorClass::InvalidValue,
        ErrorClass::DatatypeMismatch,
        ErrorClass::InvalidDefinition,
        ErrorClass::LimitExceeded,
        ErrorClass::NotSupported,
        ErrorClass::TransactionAborted,
        ErrorClass::InvalidTransactionState,
        ErrorClass::QueryCanceled,
        ErrorClass::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::UniqueViolation => "unique_violation",
            ErrorClass::NotNullViolation => "not_null_violation",
            ErrorClass::ForeignKeyViolation => "foreign_key_violation",
            ErrorClass::CheckViolation => "check_violation",
            ErrorClass::LockNotAvailable => "lock_not_available",
            ErrorClass::LockTimeout => "lock_timeout",
            ErrorClass::Deadlock => "deadlock",
            ErrorClass::SerializationFailure => "serialization_failure",
            ErrorClass::Busy => "busy",
            ErrorClass::Syntax => "syntax",
            ErrorClass::UndefinedObject => "undefined_object",
            ErrorClass::DuplicateObject => "duplicate_object",
            ErrorClass::DataTooLong => "data_too_long",
            ErrorClass::InvalidValue => "invalid_value",
            ErrorClass::DatatypeMismatch => "datatype_mismatch",
            ErrorClass::InvalidDefinition => "invalid_definition",
            ErrorClass::LimitExceeded => "limit_exceeded",
            ErrorClass::NotSupported => "not_supported",
            ErrorClass::TransactionAborted => "transaction_aborted",
            ErrorClass::InvalidTransactionState => "invalid_transaction_state",
            ErrorClass::QueryCanceled => "query_canceled",
            ErrorClass::Other => "other",
        }
    }

    pub fn parse(name: &str) -> Option<ErrorClass> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An isolation level by its SQL-standard name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    pub const NAMES: &'static str = "read uncommitted, read committed, repeatable read, serializable";

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "read uncommitted" => Some(Isolation::ReadUncommitted),
            "read committed" => Some(Isolation::ReadCommitted),
            "repeatable read" => Some(Isolation::RepeatableRead),
            "serializable" => Some(Isolation::Serializable),
            _ => None,
        }
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "READ UNCOMMITTED",
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name().to_ascii_lowercase())
    }
}

/// What a server answered to a step's last statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    /// Succeeded without a result set or a changed row (`ok`).
    Ok,
    /// Changed this many rows (`affected:N`, N > 0).
    Affected(u64),
    /// A result set: rows of values in canonical text (`rows:(1,'a'),(2,NULL)`; `rows:none`
    /// when empty).
    Rows(Vec<Vec<String>>),
    /// Refused, with the error's portable class (`error:unique_violation`).
    Error(ErrorClass),
}

/// What the server said beside an answer: a diagnostic's level and code, or the
/// statement's tag where the server answered with another verb than the one sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Said {
    pub kind: SaidKind,
    /// MySQL's error number, PostgreSQL's SQLSTATE, or the tag's verb.
    pub code: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaidKind {
    Warning,
    Note,
    Notice,
    Info,
    Error,
    Tag,
}

impl SaidKind {
    pub const ALL: [SaidKind; 6] = [SaidKind::Warning, SaidKind::Note, SaidKind::Notice, SaidKind::Info, SaidKind::Error, SaidKind::Tag];

    pub fn name(self) -> &'static str {
        match self {
            SaidKind::Warning => "warning",
            SaidKind::Note => "note",
            SaidKind::Notice => "notice",
            SaidKind::Info => "info",
            SaidKind::Error => "error",
            SaidKind::Tag => "tag",
        }
    }
}

/// An answer and what was said beside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reply {
    pub answer: Answer,
    pub said: Vec<Said>,
}

/// The outcome of one step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Answered without waiting for a lock.
    Answered(Reply),
    /// Waited for a lock (the server said so, or the step outlasted the blocking
    /// window), then answered once another session let go (`blocked, then ...`).
    BlockedThen(Reply),
    /// Still waiting for a lock at the step timeout, and cancelled (`blocked`).
    Blocked,
    /// Still running at the step timeout though the server says it waits for no lock,
    /// and cancelled (`timeout`).
    Timeout,
}

/// Whether an observation matches one of a pattern's alternatives (`anomaly.occurs`,
/// a flag's `capable`), step by step: `None` matches anything; an outcome that names no
/// warning or notice matches the observation without its warnings and notices (a
/// command tag, such as a COMMIT answered ROLLBACK, always counts).
pub fn matches_pattern(pattern: &[Vec<Option<Outcome>>], outcome: &[Outcome]) -> bool {
    let step_matches = |want: &Option<Outcome>, got: &Outcome| match want {
        None => true,
        Some(w) if w.says_anything_beside() && *w == w.without_diagnostics() => *w == got.without_diagnostics(),
        Some(w) if w.says_anything_beside() => w == got,
        Some(w) => *w == got.without_diagnostics(),
    };
    pattern.iter().any(|alt| alt.len() == outcome.len() && alt.iter().zip(outcome).all(|(w, g)| step_matches(w, g)))
}

impl Outcome {
    /// The outcome with only its command tags kept beside the answer.
    pub fn without_diagnostics(&self) -> Outcome {
        let keep = |r: &Reply| Reply { answer: r.answer.clone(), said: r.said.iter().filter(|s| s.kind == SaidKind::Tag).cloned().collect() };
        match self {
            Outcome::Answered(r) => Outcome::Answered(keep(r)),
            Outcome::BlockedThen(r) => Outcome::BlockedThen(keep(r)),
            other => other.clone(),
        }
    }

    /// The answer, if the step got one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Outcome::Answered(r) | Outcome::BlockedThen(r) => Some(r),
            Outcome::Blocked | Outcome::Timeout => None,
        }
    }

    /// The rows of a rows answer.
    pub fn rows(&self) -> Option<&[Vec<String>]> {
        match self.reply()?.answer {
            Answer::Rows(ref rows) => Some(rows),
            _ => None,
        }
    }

    fn map_reply(&self, f: impl FnOnce(&Reply) -> Reply) -> Outcome {
        match self {
            Outcome::Answered(r) => Outcome::Answered(f(r)),
            Outcome::BlockedThen(r) => Outcome::BlockedThen(f(r)),
            other => other.clone(),
        }
    }

    /// A rows answer narrowed to some columns (1-based; a missing column reads `?`), as a
    /// claim about part of a result compares it; nothing said beside it is kept. Other
    /// outcomes are unchanged.
    pub fn project_columns(&self, columns: &[usize]) -> Outcome {
        if columns.is_empty() || self.rows().is_none() {
            return self.clone();
        }
        self.map_reply(|r| {
            let Answer::Rows(rows) = &r.answer else { unreachable!("checked above") };
            let rows = rows.iter().map(|row| columns.iter().map(|&c| row.get(c - 1).cloned().unwrap_or_else(|| "?".into())).collect()).collect();
            Reply { answer: Answer::Rows(rows), said: Vec::new() }
        })
    }

    /// Whether the server said anything beside the answer.
    pub fn says_anything_beside(&self) -> bool {
        self.reply().is_some_and(|r| !r.said.is_empty())
    }

    /// The same outcome without what was said beside the answer, for a prediction that
    /// is about the result alone.
    pub fn without_said(&self) -> Outcome {
        self.map_reply(|r| Reply { answer: r.answer.clone(), said: Vec::new() })
    }

    /// The same outcome with its rows sorted, for a probe that compares rows without
    /// regard to order.
    pub fn sorted_rows(&self) -> Outcome {
        self.map_reply(|r| match &r.answer {
            Answer::Rows(rows) => {
                let mut rows = rows.clone();
                rows.sort();
                Reply { answer: Answer::Rows(rows), said: r.said.clone() }
            }
            _ => r.clone(),
        })
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Ok => f.write_str("ok"),
            Answer::Affected(n) => write!(f, "affected:{n}"),
            Answer::Rows(rows) if rows.is_empty() => f.write_str("rows:none"),
            Answer::Rows(rows) => {
                f.write_str("rows:")?;
                for (i, row) in rows.iter().enumerate() {
                    write!(f, "{}({})", if i > 0 { "," } else { "" }, row.join(","))?;
                }
                Ok(())
            }
            Answer::Error(class) => write!(f, "error:{class}"),
        }
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.code)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.answer)?;
        self.said.iter().try_for_each(|s| write!(f, " {s}"))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Answered(r) => write!(f, "{r}"),
            Outcome::BlockedThen(r) => write!(f, "blocked, then {r}"),
            Outcome::Blocked => f.write_str("blocked"),
            Outcome::Timeout => f.write_str("timeout"),
        }
    }
}

/// Outcomes as one line: `ok | rows:(1)`.
pub fn joined(outcomes: &[Outcome], separator: &str) -> String {
    outcomes.iter().map(ToString::to_string).collect::<Vec<_>>().join(separator)
}

/// What an outcome may be, for error messages.
pub const OUTCOME_FORMS: &str = "an outcome: ok, affected:N, rows:(...), rows:none, error:<class>, blocked, `blocked, then <outcome>`, or timeout \
     (a statement the server says waits for no lock, cancelled at the step timeout), \
     each optionally followed by what the server said beside it (` warning:1265`, ` note:1051`, ` notice:42622`, ` tag:ROLLBACK`)";

impl FromStr for Said {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, code) = s.split_once(':').ok_or_else(|| format!("`{s}` is not level:code"))?;
        let kind = SaidKind::ALL.into_iter().find(|k| k.name() == kind).ok_or_else(|| format!("`{kind}` is not one of warning, note, notice, info, error, tag"))?;
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("`{code}` is not a code (letters and digits)"));
        }
        Ok(Said { kind, code: code.to_string() })
    }
}

/// Splits the values of `rows:(...)`'s body, row by row, minding quotes ('it''s' is one value).
fn parse_rows(body: &str) -> Option<Vec<Vec<String>>> {
    let body = body.strip_prefix('(')?.strip_suffix(')')?;
    let (mut rows, mut row, mut value) = (Vec::new(), Vec::new(), String::new());
    let mut chars = body.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' if quoted && chars.peek() == Some(&'\'') => {
                value.push_str("''");
                chars.next();
            }
            '\'' => {
                quoted = !quoted;
                value.push(c);
            }
            ',' if !quoted => row.push(std::mem::take(&mut value)),
            ')' if !quoted && chars.peek() == Some(&',') => {
                chars.next();
                if chars.next() != Some('(') {
                    return None;
                }
                row.push(std::mem::take(&mut value));
                rows.push(std::mem::take(&mut row));
            }
            _ => value.push(c),
        }
    }
    if quoted {
        return None;
    }
    row.push(value);
    rows.push(row);
    Some(rows)
}

impl FromStr for Answer {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "ok" {
            return Ok(Answer::Ok);
        }
        if text == "rows:none" {
            return Ok(Answer::Rows(Vec::new()));
        }
        if let Some(n) = text.strip_prefix("affected:") {
            return match n.parse::<u64>() {
                Ok(0) => Err("no row changed is written ok, not affected:0".into()),
                Ok(n) => Ok(Answer::Affected(n)),
                Err(_) => Err(format!("`{n}` is not a row count")),
            };
        }
        if let Some(rows) = text.strip_prefix("rows:") {
            return parse_rows(rows).map(Answer::Rows).ok_or_else(|| "rows are written rows:(v1,v2),(v3,v4) or rows:none".into());
        }
        if let Some(class) = text.strip_prefix("error:") {
            return ErrorClass::parse(class).map(Answer::Error).ok_or_else(|| {
                let all: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.name()).collect();
                format!("unknown error class `{class}`; the classes are: {}", all.join(", "))
            });
        }
        Err(OUTCOME_FORMS.into())
    }
}

impl FromStr for Reply {
    type Err = String;
    /// The answer, then what was said beside it, each after a space. A rows answer's
    /// values may hold spaces, so the said words are taken from the end.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut head = text;
        let mut said = Vec::new();
        while let Some((before, last)) = head.rsplit_once(' ') {
            let Ok(s) = last.parse::<Said>() else { break };
            said.push(s);
            head = before;
        }
        said.reverse();
        if let Some((_, last)) = head.rsplit_once(' ').filter(|_| !head.starts_with("rows:")) {
            return Err(match last.parse::<Said>() {
                Err(e) if last.contains(':') => format!("`{last}` is not what a server says beside an answer: {e}"),
                _ => OUTCOME_FORMS.into(),
            });
        }
        Ok(Reply { answer: head.parse()?, said })
    }
}

impl FromStr for Outcome {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "blocked" => Ok(Outcome::Blocked),
            "timeout" => Ok(Outcome::Timeout),
            _ => match text.strip_prefix("blocked, then ") {
                Some(rest) => rest.parse().map(Outcome::BlockedThen),
                None => text.parse().map(Outcome::Answered),
            },
        }
    }
}

/// An outcome equals the text it is written as (handy in tests and messages).
impl PartialEq<&str> for Outcome {
    fn eq(&self, text: &&str) -> bool {
        self.to_string() == *text
    }
}

impl PartialEq<String> for Outcome {
    fn eq(&self, text: &String) -> bool {
        self.to_string() == *text
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for c in ErrorClass::ALL {
            assert_eq!(ErrorClass::parse(c.name()), Some(c));
        }
        assert_eq!(ErrorClass::parse("nope"), None);
    }

    #[test]
    fn outcomes_round_trip_through_their_text() {
        for text in [
            "ok",
            "affected:3",
            "rows:none",
            "rows:(1,'a'),(2,NULL)",
            "rows:('it''s),(x',x'00ff')",
            "rows:('a b') notice:42622",
            "error:deadlock",
            "affected:1 warning:1265",
            "blocked, then ok note:1051 warning:1292",
            "blocked",
            "timeout",
            "ok tag:ROLLBACK",
            "rows:(1.0,-3)",
        ] {
            let outcome: Outcome = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(outcome.to_string(), text);
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
        }
    }

    #[test]
    fn malformed_outcomes_say_what_is_wrong() {
        let err = |t: &str| t.parse::<Outcome>().unwrap_err();
        assert!(err("affected:x").contains("not a row count"));
        assert!(err("affected:0").contains("written ok"));
        assert!(err("error:nope").contains("unknown error class `nope`"));
        assert!(err("rows:1,2").contains("rows:(v1,v2)"));
        assert!(err("rows:('a)").contains("rows:(v1,v2)"));
        assert!(err("affected:1 shout:1").contains("not what a server says"));
        assert!(err("affected:1 warning:").contains("not a code"));
        assert!(err("fine").contains("an outcome:"));
        assert!(err("blocked, then").contains("an outcome:"));
    }

    #[test]
    fn rows_are_narrowed_to_columns_and_sorted() {
        let o: Outcome = "rows:(1,2),(3,4) warning:1265".parse().unwrap();
        assert_eq!(o.project_columns(&[2]).to_string(), "rows:(2),(4)");
        assert_eq!(o.project_columns(&[3]).to_string(), "rows:(?),(?)");
        assert_eq!(o.project_columns(&[]), o);
        let e: Outcome = "error:syntax".parse().unwrap();
        assert_eq!(e.project_columns(&[1]), e);
        let u: Outcome = "blocked, then rows:(2,'b'),(1,'a')".parse().unwrap();
        assert_eq!(u.sorted_rows().to_string(), "blocked, then rows:(1,'a'),(2,'b')");
    }

    #[test]
    fn isolation_names_round_trip() {
        for l in [Isolation::ReadUncommitted, Isolation::ReadCommitted, Isolation::RepeatableRead, Isolation::Serializable] {
            assert_eq!(Isolation::parse(&l.to_string()), Some(l));
        }
    }
}
