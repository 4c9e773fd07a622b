//! A validating reader over spanned TOML values.
//!
//! serde's derive stops at the first problem; suite authors want every problem in a file
//! at once. The reader records a diagnostic for each missing key, wrong type or unknown
//! key (with the keys that were expected) and keeps reading.

use std::cell::RefCell;
use std::ops::{Range, RangeInclusive};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostics::{Diagnostic, Diagnostics, SourceFile};

pub type Value<'i> = Spanned<DeValue<'i>>;

/// A value read from a file, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Located<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Located { value, span }
    }
}

/// Parses a file and hands out readers; collects every diagnostic.
pub struct Reader<'f> {
    pub file: &'f SourceFile,
    diags: RefCell<Diagnostics>,
}

impl<'f> Reader<'f> {
    pub fn new(file: &'f SourceFile) -> Self {
        Reader { file, diags: RefCell::new(Diagnostics::default()) }
    }

    /// Parses the whole document, recovering from syntax errors where the parser can.
    pub fn parse(&self) -> Spanned<DeTable<'f>> {
        let (table, errors) = DeTable::parse_recoverable(&self.file.text);
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            self.error(span, format!("invalid TOML: {}", e.message().trim()), None);
        }
        table
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>, expected: Option<String>) {
        let mut d = Diagnostic::new(self.file, span, message);
        if let Some(e) = expected {
            d = d.expected(e);
        }
        // A table read once per variant of a probe reports each problem once.
        let mut diags = self.diags.borrow_mut();
        if !diags.0.contains(&d) {
            diags.push(d);
        }
    }

    pub fn has_errors(&self) -> bool {
        !self.diags.borrow().is_empty()
    }

    pub fn into_diagnostics(self) -> Diagnostics {
        self.diags.into_inner()
    }

    pub fn table<'v>(&'v self, table: &'v DeTable<'f>, span: Range<usize>, what: &'static str) -> Table<'v, 'f> {
        Table { reader: self, table, span, what, read: Vec::new() }
    }

    /// Reads a value that must be a table.
    pub fn as_table<'v>(&'v self, value: &'v Value<'f>, what: &'static str) -> Option<Table<'v, 'f>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(self.table(t, value.span(), what)),
            other => {
                self.wrong_type(value.span(), other, &format!("a table ({what})"));
                None
            }
        }
    }

    pub fn string(&self, value: &Value<'f>, what: &str) -> Option<Located<String>> {
        match value.get_ref() {
            DeValue::String(s) => Some(Located::new(s.to_string(), value.span())),
            other => {
                self.wrong_type(value.span(), other, &format!("a string ({what})"));
                None
            }
        }
    }

    /// A string, or an array of strings (e.g. one SQL statement or several).
    pub fn strings(&self, value: &Value<'f>, what: &str) -> Option<Vec<Located<String>>> {
        match value.get_ref() {
            DeValue::String(s) => Some(vec![Located::new(s.to_string(), value.span())]),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    out.push(self.string(item, what)?);
                }
                Some(out)
            }
            other => {
                self.wrong_type(value.span(), other, &format!("a string or an array of strings ({what})"));
                None
            }
        }
    }

    /// An array whose items are tables (`[[probe]]` or `probe = [{...}]`).
    pub fn tables<'v>(&'v self, value: &'v Value<'f>, what: &'static str) -> Vec<Table<'v, 'f>> {
        match value.get_ref() {
            DeValue::Array(items) => items.iter().filter_map(|v| self.as_table(v, what)).collect(),
            DeValue::Table(_) => self.as_table(value, what).into_iter().collect(),
            other => {
                self.wrong_type(value.span(), other, &format!("an array of tables ({what})"));
                Vec::new()
            }
        }
    }

    pub fn wrong_type(&self, span: Range<usize>, found: &DeValue<'_>, expected: &str) {
        self.error(span, format!("wrong type: found {}", found.type_str()), Some(expected.to_string()));
    }
}

/// A table being read; keys that are never asked for are reported as unknown by `finish`.
#[derive(Clone)]
pub struct Table<'v, 'f> {
    pub reader: &'v Reader<'f>,
    table: &'v DeTable<'f>,
    pub span: Range<usize>,
    what: &'static str,
    read: Vec<&'static str>,
}

impl<'v, 'f> Table<'v, 'f> {
    pub fn get(&mut self, key: &'static str) -> Option<&'v Value<'f>> {
        self.read.push(key);
        self.table.get(key)
    }

    pub fn str(&mut self, key: &'static str) -> Option<Located<String>> {
        let v = self.get(key)?;
        self.reader.string(v, key)
    }

    pub fn required_str(&mut self, key: &'static str) -> Option<Located<String>> {
        match self.get(key) {
            Some(v) => self.reader.string(v, key),
            None => {
                self.missing(key, "a string");
                None
            }
        }
    }

    pub fn strings(&mut self, key: &'static str) -> Option<Vec<Located<String>>> {
        let v = self.get(key)?;
        self.reader.strings(v, key)
    }

    pub fn bool(&mut self, key: &'static str) -> Option<bool> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.reader.wrong_type(v.span(), other, &format!("true or false ({key})"));
                None
            }
        }
    }

    pub fn u64(&mut self, key: &'static str) -> Option<Located<u64>> {
        let v = self.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => integer(i),
            other => {
                self.reader.wrong_type(v.span(), other, &format!("a non-negative integer ({key})"));
                return None;
            }
        };
        match parsed {
            Some(n) if n >= 0 => Some(Located::new(n as u64, v.span())),
            _ => {
                self.reader.error(v.span(), format!("`{key}` is out of range"), Some("a non-negative integer".into()));
                None
            }
        }
    }

    /// A count or duration that `run` must be able to honour: a located error outside
    /// `bounds` (`unit` says what is counted, e.g. "seconds").
    pub fn u64_in(&mut self, key: &'static str, bounds: RangeInclusive<u64>, unit: &str) -> Option<Located<u64>> {
        let v = self.get(key)?;
        let expected = format!("{unit}, from {} to {}", bounds.start(), bounds.end());
        match v.get_ref() {
            DeValue::Integer(i) => match integer(i).and_then(|n| u64::try_from(n).ok()) {
                Some(n) if bounds.contains(&n) => Some(Located::new(n, v.span())),
                _ => {
                    self.reader.error(v.span(), format!("`{key}` = {} is out of range", i.as_str()), Some(expected));
                    None
                }
            },
            other => {
                self.reader.wrong_type(v.span(), other, &format!("{expected} ({key})"));
                None
            }
        }
    }

    /// 1-based positions: one integer or an array of them (`column = 2`, `columns = [1, 2]`).
    pub fn positions(&mut self, key: &'static str) -> Option<Vec<usize>> {
        let v = self.get(key)?;
        let items: Vec<&Value<'f>> = match v.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            DeValue::Integer(_) => vec![v],
            other => {
                self.reader.wrong_type(v.span(), other, &format!("a position from 1, or an array of them ({key})"));
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.get_ref() {
                DeValue::Integer(i) => match integer(i) {
                    Some(n) if (1..=10_000).contains(&n) => out.push(n as usize),
                    _ => self.reader.error(item.span(), format!("`{key}` is out of range"), Some("positions count from 1".into())),
                },
                other => self.reader.wrong_type(item.span(), other, &format!("a position from 1 ({key})")),
            }
        }
        (!out.is_empty()).then_some(out)
    }

    pub fn missing(&self, key: &str, expected: &str) {
        let head = self.span.start..self.span.start;
        self.reader.error(head, format!("{} is missing the key `{key}`", self.what), Some(expected.to_string()));
    }

    /// Every entry, for tables whose keys are data (expectations, snippets).
    pub fn entries(&self) -> impl Iterator<Item = (Located<String>, &'v Value<'f>)> {
        self.table.iter().map(|(k, v)| (Located::new(k.get_ref().to_string(), k.span()), v))
    }

    /// Reports keys that were never asked for.
    pub fn finish(self) {
        for (key, _) in self.table.iter() {
            if !self.read.iter().any(|k| *k == key.get_ref().as_ref()) {
                let mut expected: Vec<&str> = self.read.clone();
                expected.dedup();
                self.reader.error(
                    key.span(),
                    format!("unknown key `{}` in {}", key.get_ref(), self.what),
                    Some(format!("one of: {}", expected.join(", "))),
                );
            }
        }
    }
}

/// A TOML integer's value, in any radix and with `_` separators; `None` past i64.
fn integer(i: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
}
