//! Disagreements between the two instruments that are the client's own doing, each
//! with the reason, in `crosscheck.toml`:
//!
//! ```toml
//! [[explained]]
//! case = "probe_id::postgres-*"     # probe id, `::`, a target name (`*` matches any text)
//! reason = "psql ... (what the transcripts show)"
//! ```

use std::path::Path;

use crate::source::reader::Reader;
use crate::source::{Diagnostics, SourceFile};

#[derive(Debug, Clone)]
pub struct Explanation {
    pub case: String,
    pub reason: String,
    pub line: usize,
}

impl Explanation {
    /// Whether it explains `probe` on `target`.
    pub fn covers(&self, probe: &str, target: &str) -> bool {
        glob(&self.case, &format!("{probe}::{target}"))
    }
}

/// `*` matches any run of characters; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => text.strip_prefix(head).is_some_and(|rest| (0..=rest.len()).filter(|&i| rest.is_char_boundary(i)).any(|i| glob(tail, &rest[i..]))),
    }
}

/// Reads the explanations; a missing file is none.
pub fn load(path: &Path) -> Result<Vec<Explanation>, Diagnostics> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let file = SourceFile::read(path).map_err(|d| Diagnostics(vec![d]))?;
    let (explanations, diagnostics) = parse(&file);
    if diagnostics.is_empty() { Ok(explanations) } else { Err(diagnostics) }
}

pub fn parse(file: &SourceFile) -> (Vec<Explanation>, Diagnostics) {
    let reader = Reader::new(file);
    let doc = reader.parse();
    let mut top = reader.table(doc.get_ref(), doc.span(), "the crosscheck explanations");
    let entries = top.get("explained");
    top.finish();
    let mut out = Vec::new();
    if let Some(v) = entries {
        for mut t in reader.tables(v, "an explained disagreement") {
            let line = file.line_col(t.span.start).0;
            let case = t.required_str("case");
            let reason = t.required_str("reason");
            t.finish();
            let (Some(case), Some(reason)) = (case, reason) else { continue };
            if !case.value.contains("::") {
                reader.error(case.span, format!("`{}` names no target", case.value), Some("PROBE::TARGET, e.g. `probe_id::postgres-*`".into()));
            } else if reason.value.trim().is_empty() {
                reader.error(reason.span, "an explanation needs its reason", Some("what the transcripts show the client did".into()));
            } else {
                out.push(Explanation { case: case.value, reason: reason.value, line });
            }
        }
    }
    (out, reader.into_diagnostics())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_probe_and_target() {
        let e = Explanation { case: "p::postgres-*".into(), reason: "r".into(), line: 1 };
        assert!(e.covers("p", "postgres-16"));
        assert!(!e.covers("p", "mysql-9.7"));
        assert!(!e.covers("p2", "postgres-16"));
        assert!(glob("*::*", "a::b"));
    }

    #[test]
    fn every_problem_in_the_file_is_reported_with_its_place() {
        let file = SourceFile::new("x.toml", "[[explained]]\ncase = \"nope\"\nreason = \"r\"\n[[explained]]\nreason = \"r\"\nextra = 1\n".into());
        let (ok, d) = parse(&file);
        assert!(ok.is_empty());
        let text = d.to_string();
        assert!(text.contains("names no target"), "{text}");
        assert!(text.contains("case"), "{text}");
        assert!(text.contains("extra"), "{text}");
        let file = SourceFile::new("x.toml", "[[explained]]\ncase = \"p::mysql-*\"\nreason = \"the client ...\"\n".into());
        let (ok, d) = parse(&file);
        assert!(d.is_empty());
        assert_eq!((ok[0].case.as_str(), ok[0].line), ("p::mysql-*", 1));
    }
}
