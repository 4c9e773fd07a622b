//! JUnit XML for CI systems that show test results: one testsuite per target, one
//! testcase per (probe, target) named `area::probe` with the target as classname.
//! Fail is a failure, error an error; not run, not applicable and no expectation are
//! skipped with their reason.

use std::fmt::Write as _;

use crate::result::{CaseResult, RunResults, Verdict};

use super::model::{outcome_text, Model};

/// Escapes for XML attribute values: characters XML 1.0 forbids become U+FFFD, and line
/// breaks are kept as character references (a parser would turn literal ones into spaces).
fn xml(text: &str) -> String {
    escape(text, true)
}

/// Escapes for XML element content, where line breaks stay as they are.
fn xml_text(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Seconds with millisecond precision; negative or absurd durations count as zero.
fn seconds(ms: f64) -> String {
    let s = if ms.is_finite() && ms > 0.0 { ms / 1000.0 } else { 0.0 };
    format!("{s:.3}")
}

/// The run as a JUnit XML document.
pub fn junit_xml(results: &RunResults) -> String {
    let model = Model::new(results);
    // Suites in column order, then targets that only cases name.
    let mut suites: Vec<(&str, Option<&crate::result::TargetRecord>)> = model.targets.iter().map(|t| (t.id(), Some(&t.record))).collect();
    for c in &results.cases {
        if !suites.iter().any(|(id, _)| *id == c.target) {
            suites.push((&c.target, None));
        }
    }

    let total = |f: fn(&Verdict) -> bool| results.cases.iter().filter(|c| f(&c.verdict)).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"dbcompat\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">",
        results.cases.len(),
        total(|v| matches!(v, Verdict::Fail { .. })),
        total(|v| matches!(v, Verdict::Error { .. })),
        total(is_skipped),
        seconds(results.cases.iter().map(|c| c.duration_ms).filter(|d| d.is_finite() && *d > 0.0).sum()),
        xml(&results.started_at)
    );
    for (id, record) in suites {
        let cases: Vec<&CaseResult> = results.cases.iter().filter(|c| c.target == id).collect();
        let count = |f: fn(&Verdict) -> bool| cases.iter().filter(|c| f(&c.verdict)).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">",
            xml(id),
            cases.len(),
            count(|v| matches!(v, Verdict::Fail { .. })),
            count(|v| matches!(v, Verdict::Error { .. })),
            count(is_skipped),
            seconds(cases.iter().map(|c| c.duration_ms).filter(|d| d.is_finite() && *d > 0.0).sum())
        );
        if let Some(t) = record {
            out.push_str("    <properties>\n");
            let _ = writeln!(out, "      <property name=\"backend\" value=\"{}\"/>", t.backend.name());
            let _ = writeln!(out, "      <property name=\"launch\" value=\"{}\"/>", xml(&t.launch));
            if let Some(v) = &t.server_version {
                let _ = writeln!(out, "      <property name=\"server_version\" value=\"{}\"/>", xml(v));
            }
            if let Some(reason) = &t.not_run {
                let _ = writeln!(out, "      <property name=\"not_run\" value=\"{}\"/>", xml(reason));
            }
            out.push_str("    </properties>\n");
        }
        for c in cases {
            testcase(&mut out, c);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn is_skipped(v: &Verdict) -> bool {
    matches!(v, Verdict::NotRun { .. } | Verdict::NotApplicable { .. } | Verdict::Unsupported { .. } | Verdict::NoExpectation | Verdict::Undefined { .. })
}

fn testcase(out: &mut String, c: &CaseResult) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
        xml(&format!("{}::{}", c.area, c.probe)),
        xml(&c.target),
        seconds(c.duration_ms)
    );
    let observed = c.outcome.as_deref().map(outcome_text).unwrap_or_default();
    match &c.verdict {
        Verdict::Pass => out.push_str("/>\n"),
        Verdict::Fail { expected, observed } => {
            let (e, o) = (outcome_text(expected), outcome_text(observed));
            let key = c.expectation_key.as_deref().map(|k| format!("\nexpectation: {k}")).unwrap_or_default();
            let _ = writeln!(
                out,
                ">\n      <failure type=\"fail\" message=\"{}\">{}</failure>\n    </testcase>",
                xml(&format!("expected {e}, observed {o}")),
                xml_text(&format!("expected: {e}\nobserved: {o}{key}"))
            );
        }
        Verdict::Error { reason } => {
            let _ = writeln!(out, ">\n      <error type=\"error\" message=\"{}\">{}</error>\n    </testcase>", xml(reason), xml_text(reason));
        }
        Verdict::NotRun { reason } => {
            let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&format!("not run: {reason}")));
        }
        Verdict::NotApplicable { reason } => {
            let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&format!("not applicable: {reason}")));
        }
        Verdict::Unsupported { reason } => {
            let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&format!("not supported by dbcompat: {reason}")));
        }
        Verdict::NoExpectation => {
            let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&format!("no expectation yet; observed {observed}")));
        }
        Verdict::Undefined { reason } => {
            let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(&format!("undefined ({reason}); observed {observed}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_keeps_documents_well_formed() {
        assert_eq!(xml("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
        assert_eq!(xml("a\u{1}b\nc"), "a\u{FFFD}b&#10;c");
        assert_eq!(xml_text("a\nb"), "a\nb");
    }

    #[test]
    fn seconds_are_never_negative() {
        assert_eq!(seconds(-5.0), "0.000");
        assert_eq!(seconds(1234.0), "1.234");
    }
}
