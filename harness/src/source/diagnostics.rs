//! Located error messages: `file:line:col: message`, rendered with the offending line.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file's text with an index of line starts, so byte offsets become line:column.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Self> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(SourceFile { path: path.into(), text, line_starts })
    }

    pub fn read(path: &Path) -> Result<Arc<Self>, Diagnostic> {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(Self::new(path, text)),
                Err(e) => {
                    let offset = e.utf8_error().valid_up_to();
                    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    let file = Self::new(path, text);
                    Err(Diagnostic::new(&file, offset..offset, "the file is not valid UTF-8")
                        .expected("UTF-8 text"))
                }
            },
            Err(e) => Err(Diagnostic::unlocated(path, format!("cannot read the file: {e}"))),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("").trim_end_matches(['\n', '\r'])
    }
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based; 0 when the problem is not at a place in the file (e.g. it cannot be read).
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub expected: Option<String>,
    /// The source line and a caret marker, pre-rendered so a diagnostic outlives its file.
    snippet: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &SourceFile, span: Range<usize>, message: impl Into<String>) -> Self {
        let (line, column) = file.line_col(span.start);
        let text = file.line_text(line);
        let width = if span.end > span.start {
            let (end_line, end_col) = file.line_col(span.end);
            if end_line == line { (end_col - column).max(1) } else { text.chars().count().saturating_sub(column - 1).max(1) }
        } else {
            1
        };
        let gutter = line.to_string().len();
        let snippet = format!(
            "{:gutter$} |\n{line} | {text}\n{:gutter$} | {}{}",
            "",
            "",
            " ".repeat(column - 1),
            "^".repeat(width),
        );
        Diagnostic {
            path: file.path.clone(),
            line,
            column,
            message: message.into(),
            expected: None,
            snippet: Some(snippet),
        }
    }

    pub fn unlocated(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            expected: None,
            snippet: None,
        }
    }

    pub fn expected(mut self, what: impl Into<String>) -> Self {
        self.expected = Some(what.into());
        self
    }

    /// `path:line:col`, the form editors and terminals turn into links.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.path.display().to_string()
        } else {
            format!("{}:{}:{}", self.path.display(), self.line, self.column)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        writeln!(f, "  --> {}", self.location())?;
        if let Some(snippet) = &self.snippet {
            for line in snippet.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(expected) = &self.expected {
            writeln!(f, "  = expected {expected}")?;
        }
        Ok(())
    }
}

/// Every problem found while reading a set of files.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    /// Sorted by file and position, so output is stable whatever order files were read in.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        write!(f, "{} error(s)", self.0.len())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let f = SourceFile::new("x.toml", "a = 1\nbé = 'x'\n".to_string());
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(6), (2, 1));
        // 'é' is two bytes but one column.
        let eq = f.text.find('=').unwrap();
        let second_eq = f.text[eq + 1..].find('=').unwrap() + eq + 1;
        assert_eq!(f.line_col(second_eq), (2, 4));
    }

    #[test]
    fn rendering_names_location_and_expectation() {
        let f = SourceFile::new("s.toml", "[[probe]]\nidd = 'x'\n".to_string());
        let d = Diagnostic::new(&f, 10..13, "unknown key `idd`").expected("one of: id, area");
        let text = d.to_string();
        assert!(text.contains("s.toml:2:1"), "{text}");
        assert!(text.contains("^^^"), "{text}");
        assert!(text.contains("expected one of: id, area"), "{text}");
    }
}
