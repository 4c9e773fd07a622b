//! Located error messages: `file:line:col: message`, rendered with the offending line.
//!
//! Output stays bounded whatever the input: a long line is shown as a window around the
//! column, echoed names and values are cut, and at most [`MAX_SHOWN_PER_FILE`] errors of
//! one file are printed (the rest are counted).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// At most this many characters of a source line are shown under a diagnostic.
pub const MAX_SNIPPET_CHARS: usize = 120;
/// Messages and expectations echo names and values from the file; past this they are cut.
pub const MAX_MESSAGE_CHARS: usize = 300;
/// Errors printed per file; a file with more ends with "... and K more errors in FILE".
pub const MAX_SHOWN_PER_FILE: usize = 20;

/// A file's text with an index of line starts, so byte offsets become line:column.
///
/// A line ends at `\n`, `\r\n` or a bare `\r`. TOML itself knows only the first two,
/// but a file written with bare CRs (old Mac line endings) is shown as lines by editors,
/// and counting them keeps its errors on short, findable lines instead of one huge one.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Self> {
        let bytes = text.as_bytes();
        let line_starts = std::iter::once(0)
            .chain(bytes.iter().enumerate().filter_map(|(i, &b)| {
                let ends_line = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
                ends_line.then_some(i + 1)
            }))
            .collect();
        Arc::new(SourceFile { path: path.into(), text, line_starts })
    }

    /// Reads a regular file (or a link to one). Anything else named like a suite (a FIFO,
    /// a socket, a device, a directory) is refused without blocking on it, and so is a
    /// file larger than [`MAX_FILE_BYTES`].
    pub fn read(path: &Path) -> Result<Arc<Self>, Diagnostic> {
        match read_regular(path) {
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
            Err(message) => Err(Diagnostic::unlocated(path, message)),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let (line, offset) = self.place(offset);
        let col = self.text[self.line_starts[line - 1]..offset].chars().count();
        (line, col + 1)
    }

    /// The 1-based line of a byte offset, and the offset moved onto a character of it.
    fn place(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        // A span inside a multi-byte character points at the character.
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        // A span in a CRLF line break is at the end of its line, not past it.
        (line + 1, offset.min(start + self.line_text(line + 1).len()))
    }

    /// How many lines the file has (an empty file has one, empty).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// How many characters a line (1-based) has, without its line break.
    pub fn line_chars(&self, line: usize) -> usize {
        self.line_text(line).chars().count()
    }

    fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("").trim_end_matches(['\n', '\r'])
    }
}

/// No suite or matrix is anywhere near this large; a larger file is a mistake.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The bytes of a regular file, or why it was not read.
fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes; non-blocking, it returns at
    // once and fstat below tells what it is. Regular files ignore the flag.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let cannot = |e: std::io::Error| format!("cannot read the file: {e}");
    let file = options.open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(format!("not a regular file but {}: only files (or links to files) are read", file_kind(&meta.file_type())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("the file is {} bytes, more than the {MAX_FILE_BYTES} a suite or matrix may have", meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // `take`: a file that grows while it is read still stops at the bound.
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("the file is more than the {MAX_FILE_BYTES} bytes a suite or matrix may have"));
    }
    Ok(bytes)
}

fn file_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() { "a directory" } else { "neither a file nor a directory" }
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
        let (_, start) = file.place(span.start);
        let line_start = file.line_starts[line - 1];
        let text = file.line_text(line);
        // The caret runs to the span's end or the end of the line; the window cuts it anyway.
        let end = span.end.clamp(start, line_start + text.len());
        let width = file.text.get(start..end).map_or(1, |s| s.chars().take(MAX_SNIPPET_CHARS + 1).count().max(1));
        let (shown, caret_at, width) = snippet_window(text, start - line_start, width);
        let gutter = line.to_string().len();
        let snippet = format!(
            "{:gutter$} |\n{line} | {shown}\n{:gutter$} | {}{}",
            "",
            "",
            " ".repeat(caret_at),
            "^".repeat(width),
        );
        Diagnostic {
            path: file.path.clone(),
            line,
            column,
            message: clip(&message.into(), MAX_MESSAGE_CHARS),
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
        self.expected = Some(clip(&what.into(), MAX_MESSAGE_CHARS));
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

/// The part of a line shown under a diagnostic: at most [`MAX_SNIPPET_CHARS`] characters
/// around byte `at` (`…` where it was cut), the caret's offset in it and the caret's
/// width. Walks only the window, so a diagnostic on a huge line costs little; counts
/// characters, never bytes, so multi-byte text is never split.
fn snippet_window(line: &str, at: usize, width: usize) -> (String, usize, usize) {
    let (before, after) = line.split_at(at);
    // Some context before the column, the rest of the window after it, and more before
    // if the line ends first.
    let ahead = after.char_indices().nth(MAX_SNIPPET_CHARS - MAX_SNIPPET_CHARS / 3).map_or(line.len(), |(i, _)| at + i);
    let shown_after = line[at..ahead].chars().count();
    let behind = MAX_SNIPPET_CHARS - shown_after;
    let from = before.char_indices().rev().nth(behind.saturating_sub(1)).map_or(0, |(i, _)| i);
    let cut_before = from > 0;
    let mut shown = String::new();
    if cut_before {
        shown.push('…');
    }
    // Control characters would move the terminal's cursor (a tab, an escape sequence);
    // each is shown as one visible character so the caret stays under its column.
    shown.extend(line[from..ahead].chars().map(|c| if c == '\t' { ' ' } else if c.is_control() { '\u{FFFD}' } else { c }));
    if ahead < line.len() {
        shown.push('…');
    }
    let caret_at = line[from..at].chars().count() + usize::from(cut_before);
    let width = width.min(shown_after).max(1);
    (shown, caret_at, width)
}

/// `text` cut to at most `max` characters, with `…` where it was cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
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

/// Every error, at most [`MAX_SHOWN_PER_FILE`] of them per file; the total at the end.
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut per_file: BTreeMap<&Path, usize> = BTreeMap::new();
        for d in &self.0 {
            let seen = per_file.entry(&d.path).or_default();
            *seen += 1;
            if *seen <= MAX_SHOWN_PER_FILE {
                writeln!(f, "{d}")?;
            }
        }
        for (path, &count) in &per_file {
            if count > MAX_SHOWN_PER_FILE {
                writeln!(f, "... and {} more errors in {}\n", count - MAX_SHOWN_PER_FILE, path.display())?;
            }
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

    /// The snippet's source line and caret line, without the gutter.
    fn shown(d: &Diagnostic) -> (String, String) {
        let text = d.to_string();
        let lines: Vec<&str> = text.lines().collect();
        let source = lines[3].split_once(" | ").unwrap().1.to_string();
        let caret = lines[4].split_once(" | ").unwrap().1.to_string();
        (source, caret)
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_with_the_caret_under_the_column() {
        let mut line = "é".repeat(30_000);
        line.push_str("X = 1");
        line.push_str(&"é".repeat(20_000));
        let f = SourceFile::new("long.toml", line);
        let at = f.text.find('X').unwrap();
        let d = Diagnostic::new(&f, at..at + 1, "here");
        assert_eq!((d.line, d.column), (1, 30_001));
        let (source, caret) = shown(&d);
        assert!(source.chars().count() <= MAX_SNIPPET_CHARS + 2, "{source}");
        assert!(source.starts_with('…') && source.ends_with('…'), "{source}");
        let caret_col = caret.chars().position(|c| c == '^').unwrap();
        assert_eq!(source.chars().nth(caret_col), Some('X'), "the caret is under X:\n{source}\n{caret}");
        assert!(d.to_string().len() < 1_000);
    }

    #[test]
    fn the_window_reaches_the_ends_of_a_long_line() {
        let line = format!("Y{}Z", "a".repeat(500));
        let f = SourceFile::new("long.toml", line.clone());
        let (source, caret) = shown(&Diagnostic::new(&f, 0..1, "start"));
        assert!(source.starts_with('Y') && source.ends_with('…') && caret == "^", "{source}\n{caret}");
        let end = line.len() - 1;
        let (source, caret) = shown(&Diagnostic::new(&f, end..end + 1, "end"));
        assert!(source.starts_with('…') && source.ends_with('Z'), "{source}");
        assert_eq!(caret.chars().count(), source.chars().count(), "the caret is under the last character");
    }

    /// Thousands of errors on a 100 000-character line took seconds when every snippet
    /// walked the whole line; the window is walked alone now.
    #[test]
    fn many_errors_on_one_huge_line_are_rendered_quickly() {
        let f = SourceFile::new("long.toml", "x".repeat(100_000));
        let started = std::time::Instant::now();
        for i in 0..4_000 {
            let at = i * 25;
            let d = Diagnostic::new(&f, at..at + 1, "bad");
            assert!(d.to_string().len() < 1_000);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[test]
    fn a_bare_carriage_return_ends_a_line() {
        let f = SourceFile::new("cr.toml", "a = 1\rb = \rc = 3\r\nd = 4".to_string());
        let at = f.text.find('b').unwrap();
        assert_eq!(f.line_col(at), (2, 1));
        assert_eq!(f.line_col(f.text.find('d').unwrap()), (4, 1), "CRLF is one line break");
        let (source, _) = shown(&Diagnostic::new(&f, at..at + 1, "b"));
        assert_eq!(source, "b = ");
    }

    #[test]
    fn a_span_in_a_crlf_line_break_is_at_the_end_of_its_line() {
        let f = SourceFile::new("x.toml", "a = \"open\r\nb = 1".to_string());
        let lf = f.text.find('\n').unwrap();
        assert_eq!(f.line_col(lf), (1, 10), "one past `a = \"open`, not two");
        assert_eq!(f.line_col(lf - 1), (1, 10));
    }

    #[test]
    fn a_span_inside_a_character_points_at_the_character() {
        let f = SourceFile::new("x.toml", "a = 'é'".to_string());
        let inside = f.text.find('é').unwrap() + 1;
        assert_eq!(f.line_col(inside), (1, 6));
    }

    #[test]
    fn control_characters_are_not_sent_to_the_terminal() {
        let f = SourceFile::new("x.toml", "a = \u{1b}[2J\tb".to_string());
        let at = f.text.find('b').unwrap();
        let (source, caret) = shown(&Diagnostic::new(&f, at..at + 1, "b"));
        assert!(!source.contains('\u{1b}') && !source.contains('\t'), "{source:?}");
        assert_eq!(source.chars().nth(caret.len() - 1), Some('b'));
    }

    #[test]
    fn echoed_text_is_cut() {
        let f = SourceFile::new("x.toml", "a = 1".to_string());
        let d = Diagnostic::new(&f, 0..1, format!("unknown key `{}`", "k".repeat(10_000))).expected("x".repeat(10_000));
        assert!(d.message.chars().count() <= MAX_MESSAGE_CHARS + 1 && d.message.ends_with('…'));
        assert!(d.expected.unwrap().chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn at_most_twenty_errors_of_a_file_are_printed_and_the_rest_counted() {
        let f = SourceFile::new("many.toml", "x\n".repeat(1_000));
        let g = SourceFile::new("few.toml", "y\n".to_string());
        let mut d = Diagnostics::default();
        for line in 0..957 {
            d.push(Diagnostic::new(&f, line * 2..line * 2 + 1, "bad"));
        }
        d.push(Diagnostic::new(&g, 0..1, "bad too"));
        let text = d.to_string();
        assert_eq!(text.matches("--> many.toml:").count(), MAX_SHOWN_PER_FILE);
        assert!(text.contains("... and 937 more errors in many.toml"), "{text}");
        assert!(text.contains("--> few.toml:1:1") && !text.contains("more errors in few.toml"), "{text}");
        assert!(text.ends_with("958 error(s)"), "{text}");
    }
}
