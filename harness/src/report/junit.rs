//! JUnit XML for CI systems that show test results, written with quick-junit: one
//! testsuite per target, one testcase per (probe, target) named `area::probe` with the
//! target as classname. Fail is a failure, error an error; not run, not applicable and no
//! expectation are skipped with their reason.
//!
//! quick-junit escapes markup (`<`, `>`, `&`, quotes) in attributes and text. What it does
//! not do, or does in a way that loses text, is settled here before a string reaches it:
//!
//! - its strings drop ANSI escape sequences and every C0 control character except the line
//!   feed, tabs included; a tab becomes a space first so the words either side stay apart,
//!   and a carriage return not followed by a line feed becomes a line feed (what an XML
//!   parser would make of it anyway);
//! - an escape that opens a control string (`ESC ]`, `ESC P`, ...) which nothing closes
//!   would take all the text after it: that escape becomes U+FFFD, so the text stays;
//! - it passes U+FFFE and U+FFFF through, which XML 1.0 forbids: they become U+FFFD;
//! - it writes line breaks in attributes as they are, which a parser turns into spaces:
//!   attribute values are kept on one line, and a skip message that had line breaks is
//!   written whole in the element's text as well (failures and errors always carry their
//!   full text there).

use std::time::Duration;

use chrono::DateTime;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::result::{CaseResult, RunResults, TargetRecord, Verdict};

use super::model::{outcome_text, Model};

/// A string as quick-junit should get it (see the module documentation).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\t' => out.push(' '),
            '\r' if chars.peek().is_some_and(|(_, c)| *c == '\n') => {}
            '\r' => out.push('\n'),
            '\u{1b}' if opens_unclosed_control_string(&s[i + 1..]) => out.push('\u{FFFD}'),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Whether an escape followed by `rest` opens a control string (OSC, DCS, SOS, PM, APC)
/// that nothing closes: ANSI stripping would take the rest of the text with it.
fn opens_unclosed_control_string(rest: &str) -> bool {
    match rest.chars().next() {
        Some(']') => !rest.contains("\u{1b}\\") && !rest.contains('\u{7}'),
        Some('P' | 'X' | '^' | '_') => !rest.contains("\u{1b}\\"),
        _ => false,
    }
}

/// An attribute value: [`text`] on one line.
fn attr(s: &str) -> String {
    text(s).replace('\n', " ")
}

/// A case's duration; negative or absurd ones (not finite, or too long for a `Duration`)
/// count as zero.
fn duration(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
    } else {
        Duration::ZERO
    }
}

/// The total of the cases' durations (each counted as [`duration`] does).
fn total_duration<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> Duration {
    duration(cases.into_iter().map(|c| c.duration_ms).filter(|d| d.is_finite() && *d > 0.0).sum())
}

/// The run as a JUnit XML document.
pub fn junit_xml(results: &RunResults) -> String {
    let model = Model::new(results);
    // Suites in column order, then targets that only cases name.
    let mut suites: Vec<(&str, Option<&TargetRecord>)> = model.targets.iter().map(|t| (t.id(), Some(&t.record))).collect();
    for c in &results.cases {
        if !suites.iter().any(|(id, _)| *id == c.target) {
            suites.push((&c.target, None));
        }
    }

    let mut report = Report::new("dbcompat");
    // `timestamp` is an ISO 8601 date and time for JUnit readers: a start time that is not
    // one (results files are input) is left out rather than passed on.
    if let Ok(started) = DateTime::parse_from_rfc3339(&results.started_at) {
        report.set_timestamp(started);
    }
    report.set_time(total_duration(&results.cases));
    for (id, record) in suites {
        let cases: Vec<&CaseResult> = results.cases.iter().filter(|c| c.target == id).collect();
        let mut suite = TestSuite::new(attr(id));
        suite.set_time(total_duration(cases.iter().copied()));
        if let Some(t) = record {
            suite.add_property(Property::new("backend", attr(t.backend.name())));
            suite.add_property(Property::new("launch", attr(&t.launch)));
            if let Some(v) = &t.server_version {
                suite.add_property(Property::new("server_version", attr(v)));
            }
            if let Some(reason) = &t.not_run {
                suite.add_property(Property::new("not_run", attr(reason)));
            }
        }
        suite.add_test_cases(cases.into_iter().map(testcase));
        report.add_test_suite(suite);
    }
    // Serializing into memory fails only if quick-junit writes invalid UTF-8, which it does
    // not do with `str` input.
    report.to_string().expect("a JUnit report serializes into memory")
}

fn testcase(c: &CaseResult) -> TestCase {
    let observed = c.outcome.as_deref().map(outcome_text).unwrap_or_default();
    let status = match &c.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Fail { expected, observed } => {
            let (e, o) = (outcome_text(expected), outcome_text(observed));
            let key = c.expectation_key.as_deref().map(|k| format!("\nexpectation: {k}")).unwrap_or_default();
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("fail")
                .set_message(attr(&format!("expected {e}, observed {o}")))
                .set_description(text(&format!("expected: {e}\nobserved: {o}{key}")));
            s
        }
        Verdict::Error { reason } => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_type("error").set_message(attr(reason)).set_description(text(reason));
            s
        }
        Verdict::Flaky { reason } => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("flaky").set_message(attr(&format!("flaky: {reason}"))).set_description(text(reason));
            s
        }
        Verdict::NotRun { reason } => skipped(&format!("not run: {reason}")),
        Verdict::NotApplicable { reason } => skipped(&format!("not applicable: {reason}")),
        Verdict::Unsupported { reason } => skipped(&format!("not supported by dbcompat: {reason}")),
        Verdict::NoExpectation => skipped(&format!("no expectation yet; observed {observed}")),
        Verdict::Undefined { reason } => skipped(&format!("undefined ({reason}); observed {observed}")),
    };
    let mut case = TestCase::new(attr(&format!("{}::{}", c.area, c.probe)), status);
    case.set_classname(attr(&c.target)).set_time(duration(c.duration_ms));
    case
}

/// A skip with its message; the message whole in the element's text too when the
/// attribute could not keep its line breaks.
fn skipped(message: &str) -> TestCaseStatus {
    let mut s = TestCaseStatus::skipped();
    let full = text(message);
    s.set_message(attr(message));
    if full.contains('\n') {
        s.set_description(full);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_prepared_for_quick_junit() {
        assert_eq!(text("a\tb\r\nc\rd\u{FFFE}e\u{FFFF}"), "a b\nc\nd\u{FFFD}e\u{FFFD}");
        assert_eq!(attr("a\nb\r\nc"), "a b c");
        // Closed control strings are left to quick-junit to remove, unclosed ones kept as text.
        assert_eq!(text("a\u{1b}]0;title\u{7}b\u{1b}Pq\u{1b}\\c"), "a\u{1b}]0;title\u{7}b\u{1b}Pq\u{1b}\\c");
        assert_eq!(text("a\u{1b}]8;;b \u{1b}_c"), "a\u{FFFD}]8;;b \u{FFFD}_c");
        // Markup is quick-junit's to escape: left as it is here.
        assert_eq!(text("<a href=\"x\">'&'</a>"), "<a href=\"x\">'&'</a>");
    }

    #[test]
    fn durations_are_never_negative_or_absurd() {
        assert_eq!(duration(-5.0), Duration::ZERO);
        assert_eq!(duration(f64::NAN), Duration::ZERO);
        assert_eq!(duration(1e300), Duration::ZERO);
        assert_eq!(format!("{:.3}", duration(1234.0).as_secs_f64()), "1.234");
    }

    #[test]
    fn skip_messages_with_line_breaks_keep_their_text() {
        let xml = Report::new("r")
            .add_test_suite({
                let mut suite = TestSuite::new("s");
                suite.add_test_case(TestCase::new("one", skipped("not run: a")));
                suite.add_test_case(TestCase::new("two", skipped("not run: a\nb")));
                suite
            })
            .to_string()
            .unwrap();
        assert!(xml.contains("<skipped message=\"not run: a\"/>"), "{xml}");
        assert!(xml.contains("<skipped message=\"not run: a b\">not run: a\nb</skipped>"), "{xml}");
    }
}
