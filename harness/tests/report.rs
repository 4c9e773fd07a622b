//! Reports rendered from the hand-made results files in `fixtures/results`:
//!
//! - `basic.json`: six targets (listed out of version order) and four probes covering every
//!   verdict, a blocked step, a cancelled step, a claim that holds and one contradicted,
//!   and versions of one backend that say the same thing (so their cells collapse);
//! - `previous.json`: the run before, with a planted regression;
//! - `hostile.json`: ids, questions, SQL, outcomes and messages that try to inject markup;
//! - `pathlike.json`: probe ids that look like paths (`../../x`, `/etc/passwd`, ...).
//!
//! Markdown, JUnit and diff text are compared with insta snapshots in `snapshots/`
//! (`NAME.snap`: a short header, then the text as written); after a change,
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test report`) updates them.
//! With `CI=true` a mismatch fails and nothing is written.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use dbcompat::report::{compare, junit_xml, markdown_summary, write_site, SITE_MARKER};
use dbcompat::result::{RunResults, Verdict};

fn fixture(name: &str) -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results").join(name);
    RunResults::read(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A site in a fresh temporary directory; the directory lives as long as the guard.
fn site(results: &RunResults, previous: Option<&RunResults>) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let out = root.path().join("site");
    write_site(results, previous, &out).expect("site written");
    (root, out)
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares with `snapshots/NAME.snap` (insta). Outside CI a mismatch also writes
/// `NAME.snap.new` for `cargo insta review`; with `CI=true` nothing is written.
fn assert_snapshot(name: &str, actual: &str) {
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, actual);
    });
}

// ---- reading the pages: scraper's HTML parser, and the text a reader sees ----

/// An element found in a page: its attributes, its text and its own markup (to look
/// for elements inside it).
struct Element {
    attrs: Vec<(String, String)>,
    text: String,
    html: String,
    tag: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The text content, whitespace collapsed.
    fn text(&self) -> String {
        self.text.clone()
    }

    /// Every `<tag>` inside this element.
    fn elements(&self, tag: &str) -> Vec<Element> {
        // Table parts are parsed in a table, as where they were found (the parser drops
        // a row or cell found outside one).
        let wrapped = match self.tag.as_str() {
            "tr" => format!("<table><tbody>{}</tbody></table>", self.html),
            "tbody" | "thead" | "tfoot" => format!("<table>{}</table>", self.html),
            "td" | "th" => format!("<table><tbody><tr>{}</tr></tbody></table>", self.html),
            _ => self.html.clone(),
        };
        select(&scraper::Html::parse_fragment(&wrapped), tag)
    }
}

/// Every `<tag>` of a page, in document order.
fn elements(html: &str, tag: &str) -> Vec<Element> {
    select(&scraper::Html::parse_document(html), tag)
}

fn select(doc: &scraper::Html, tag: &str) -> Vec<Element> {
    let selector = scraper::Selector::parse(tag).unwrap_or_else(|e| panic!("selector {tag}: {e}"));
    doc.select(&selector)
        .map(|e| Element {
            attrs: e.value().attrs().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            text: text_of(e),
            html: e.html(),
            tag: e.value().name().to_string(),
        })
        .collect()
}

/// Roughly what a reader sees: inline tags vanish, block and cell boundaries become spaces.
fn text_of(element: scraper::ElementRef<'_>) -> String {
    fn collect(element: scraper::ElementRef<'_>, out: &mut String) {
        const BLOCKS: &[&str] = &["td", "th", "tr", "br", "div", "li", "p", "dt", "dd", "h1", "h2", "h3", "table", "pre", "tbody", "section", "cite", "blockquote"];
        for child in element.children() {
            match child.value() {
                scraper::Node::Text(t) => out.push_str(t),
                scraper::Node::Element(e) => {
                    let block = BLOCKS.contains(&e.name());
                    if block {
                        out.push(' ');
                    }
                    if let Some(inner) = scraper::ElementRef::wrap(child) {
                        collect(inner, out);
                    }
                    if block {
                        out.push(' ');
                    }
                }
                _ => {}
            }
        }
    }
    let mut raw = String::new();
    collect(element, &mut raw);
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The matrix cells of one probe's row: (status, targets it spans, colspan, link, text).
fn row_cells(index: &str, probe: &str) -> Vec<(String, String, String, String, String)> {
    let row = elements(index, "tr").into_iter().find(|r| r.attr("data-probe") == Some(probe)).unwrap_or_else(|| panic!("no row for {probe}"));
    row.elements("td")
        .into_iter()
        .map(|td| {
            let link = td.elements("a").first().and_then(|a| a.attr("href").map(str::to_string)).unwrap_or_default();
            (
                td.attr("data-status").unwrap_or_default().to_string(),
                td.attr("data-targets").unwrap_or_default().to_string(),
                td.attr("colspan").unwrap_or("1").to_string(),
                link,
                td.text(),
            )
        })
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        }
        out.push(path);
    }
    out
}

// ---- the matrix ----

#[test]
fn matrix_has_a_cell_per_status_and_collapses_equal_versions() {
    let (_root, out) = site(&fixture("basic.json"), None);
    let index = read(&out, "index.html");

    let cells = row_cells(&index, "equality_ignores_case");
    let shape: Vec<(&str, &str, &str)> = cells.iter().map(|(s, t, c, _, _)| (s.as_str(), t.as_str(), c.as_str())).collect();
    assert_eq!(
        shape,
        [
            ("pass", "sqlite-3.54", "1"),
            ("pass", "postgres-16 postgres-17", "2"),
            ("not-run", "mysql-8.0", "1"),
            ("pass", "mariadb-10.6", "1"),
            ("fail", "mariadb-10.11", "1"),
        ]
    );
    let (_, _, _, link, text) = &cells[1];
    assert_eq!(link, "probe-equality_ignores_case.html#t-postgres-16");
    assert_eq!(text, "✓ 16.6–17.2 rows:(0)");
    assert_eq!(cells[4].4, "✗ rows:(0)");

    let statuses = |probe| row_cells(&index, probe).into_iter().map(|c| (c.0, c.1)).collect::<Vec<_>>();
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    assert_eq!(
        statuses("like_ascii_case_insensitive"),
        pairs(&[("pass", "sqlite-3.54"), ("no-expectation", "postgres-16 postgres-17"), ("not-run", "mysql-8.0"), ("pass", "mariadb-10.6 mariadb-10.11")])
    );
    assert_eq!(
        statuses("sqlite_busy_timeout_waits_for_writer"),
        pairs(&[("pass", "sqlite-3.54"), ("not-applicable", "postgres-16 postgres-17"), ("not-run", "mysql-8.0"), ("not-applicable", "mariadb-10.6 mariadb-10.11")])
    );
    assert_eq!(
        statuses("select_for_update_nowait"),
        pairs(&[("pass", "sqlite-3.54"), ("pass", "postgres-16"), ("error", "postgres-17"), ("not-run", "mysql-8.0"), ("fail", "mariadb-10.6"), ("pass", "mariadb-10.11")])
    );

    // Columns: backends in a fixed order, versions in version order (10.6 before 10.11).
    let columns: Vec<String> = elements(&index, "th").iter().filter_map(|th| th.attr("data-target").map(str::to_string)).collect();
    assert_eq!(columns, ["sqlite-3.54", "postgres-16", "postgres-17", "mysql-8.0", "mariadb-10.6", "mariadb-10.11"]);

    // A summary line per backend.
    let summary = |backend: &str| elements(&index, "tr").into_iter().find(|r| r.attr("data-backend") == Some(backend)).map(|r| r.text()).unwrap_or_default();
    assert_eq!(summary("mariadb"), "mariadb mariadb 10.6–10.11 (2 of 2 ran) ✓ 4 ✗ 2 ! 0 ≈ 0 ? 0 ~ 0 – 2 ⊘ 0 ∅ 0");
    assert_eq!(summary("mysql"), "mysql mysql 8.0 (0 of 1 ran) ✓ 0 ✗ 0 ! 0 ≈ 0 ? 0 ~ 0 – 0 ⊘ 0 ∅ 4");

    // The legend names the whole vocabulary; the tooltip carries the observed outcome.
    for label in ["as expected", "differs from expectation", "no expectation yet", "not applicable", "not run", "error"] {
        assert!(index.contains(&format!("</span> {label}</span>")), "legend lacks {label}");
    }
    let fail_cell = elements(&index, "td").into_iter().find(|td| td.attr("data-targets") == Some("mariadb-10.11") && td.attr("data-status") == Some("fail")).unwrap();
    assert_eq!(fail_cell.attr("title"), Some("mariadb 10.11: differs from expectation\nobserved: rows:(0)\nexpected: rows:(1)"));

    // The matrix carries no transcripts and no SQL.
    assert!(!index.contains("class=\"transcript\""));
    assert!(!index.contains("CREATE TABLE"));
}

#[test]
fn pages_are_self_contained() {
    let (_root, out) = site(&fixture("basic.json"), Some(&fixture("previous.json")));
    for file in files_under(&out).iter().filter(|f| f.extension().is_some_and(|e| e == "html")) {
        let html = fs::read_to_string(file).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{}", file.display());
        assert!(html.contains("<style>"));
        for external in ["<script", "<link", "@import", "url(http", "src=\"http", "@font-face"] {
            assert!(!html.contains(external), "{} contains {external}", file.display());
        }
    }
}

#[test]
fn every_link_resolves_to_a_file_and_an_anchor() {
    let (_root, out) = site(&fixture("basic.json"), Some(&fixture("previous.json")));
    let mut checked = 0;
    for file in files_under(&out).iter().filter(|f| f.extension().is_some_and(|e| e == "html")) {
        let html = fs::read_to_string(file).unwrap();
        for a in elements(&html, "a") {
            let href = a.attr("href").unwrap_or_default();
            let (page, anchor) = href.split_once('#').unwrap_or((href, ""));
            let target = if page.is_empty() { html.clone() } else { read(&out, page) };
            if !anchor.is_empty() {
                assert!(target.contains(&format!("id=\"{anchor}\"")), "{}: {href} has no anchor", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links");
}

// ---- the other pages ----

#[test]
fn probe_pages_show_transcripts_with_blocked_and_cancelled_steps() {
    let (_root, out) = site(&fixture("basic.json"), None);

    let busy = read(&out, "probe-sqlite_busy_timeout_waits_for_writer.html");
    let section = elements(&busy, "section").into_iter().find(|s| s.attr("id") == Some("t-sqlite-3.54")).expect("sqlite section");
    let step2 = section.elements("tbody").into_iter().find(|t| t.attr("data-step") == Some("2")).expect("step 2");
    assert_eq!(step2.attr("class"), Some("step blocked"));
    assert!(step2.text().starts_with("step 2 session b outcome blocked completed after step 3 observed ok BEGIN IMMEDIATE ok 630 ms"), "{}", step2.text());
    assert!(section.text().contains("SELECT count(*) FROM t count(*) 2"), "rows render as a table: {}", section.text());
    assert!(busy.contains("With busy_timeout set, does BEGIN IMMEDIATE wait"));

    let nowait = read(&out, "probe-select_for_update_nowait.html");
    let sections = elements(&nowait, "section");
    let by_target = |id: &str| sections.iter().find(|s| s.attr("data-target") == Some(id)).unwrap_or_else(|| panic!("no section {id}"));
    let mariadb = by_target("mariadb-10.6");
    assert_eq!(mariadb.attr("data-status"), Some("fail"));
    let cancelled = mariadb.elements("tbody").into_iter().find(|t| t.attr("data-step") == Some("2")).unwrap();
    assert_eq!(cancelled.attr("class"), Some("step blocked cancelled"));
    assert!(cancelled.text().contains("blocked cancelled observed blocked"));
    assert!(cancelled.text().contains("failure cancelled"));
    assert!(mariadb.text().contains("expected error:lock_not_available observed blocked"));

    let postgres = by_target("postgres-16");
    assert!(postgres.text().contains("error:lock_not_available 55P03 could not obtain lock on row in relation \"t\""), "{}", postgres.text());
    assert!(nowait.contains("relation &quot;t&quot;"), "the quotes are escaped in the markup");
    let errored = by_target("postgres-17");
    assert_eq!(errored.attr("data-status"), Some("error"));
    assert!(errored.text().contains("reason setup failed: connection lost"));
    let not_run = by_target("mysql-8.0");
    assert_eq!(not_run.text(), "mysql-8.0 ∅ not run container targets are not supported by this build yet");

    // The SQL per dialect, with the sqlite variant of step 1.
    let dialects: Vec<String> = elements(&nowait, "div").into_iter().filter(|d| d.attr("class") == Some("dialect")).map(|d| d.text()).collect();
    assert!(dialects.contains(&"sqlite BEGIN IMMEDIATE".to_string()), "{dialects:?}");
    assert!(dialects.contains(&"default BEGIN; SELECT v FROM t WHERE id = 1 FOR UPDATE".to_string()), "{dialects:?}");

    // The claim, quoted with its source, and its finding on this probe's page.
    let eq = read(&out, "probe-equality_ignores_case.html");
    assert!(eq.contains("<cite>002_d58c8b011d38fec7.txt § Collation settings</cite>"));
}

#[test]
fn backend_pages_say_where_behaviour_changes() {
    let (_root, out) = site(&fixture("basic.json"), None);
    let mariadb = read(&out, "backend-mariadb.html");
    let changes = |probe: &str| {
        let row = elements(&mariadb, "tr").into_iter().find(|r| r.attr("data-probe") == Some(probe)).unwrap();
        row.elements("td").into_iter().find(|td| td.attr("class") == Some("changes bstart")).unwrap().text()
    };
    assert_eq!(changes("equality_ignores_case"), "changed between 10.6.20 and 10.11.10: rows:(1) → rows:(0)");
    assert_eq!(changes("like_ascii_case_insensitive"), "same on all 2 measured versions");
    assert_eq!(changes("select_for_update_nowait"), "changed between 10.6.20 and 10.11.10: blocked → error:lock_not_available");
    let postgres = read(&out, "backend-postgres.html");
    assert!(postgres.contains("one version measured"), "postgres-17 errored, so only 16 measured nowait");
    assert!(!out.join("backend-oracle.html").exists(), "no page for a backend without targets");
}

#[test]
fn claims_page_puts_contradicted_claims_first() {
    let (_root, out) = site(&fixture("basic.json"), None);
    let claims = read(&out, "claims.html");
    let blocks: Vec<Element> = elements(&claims, "div").into_iter().filter(|d| d.attr("data-finding").is_some()).collect();
    let order: Vec<(&str, &str)> = blocks.iter().map(|b| (b.attr("id").unwrap(), b.attr("data-finding").unwrap())).collect();
    assert_eq!(order, [("c-p-equality_ignores_case-1", "contradicted"), ("c-p-like_ascii_case_insensitive-1", "confirmed")]);
    let text = blocks[0].text();
    for finding in [
        "✓ confirmed mariadb 10.6 rows:(1)",
        "✗ contradicted mariadb 10.11 predicted rows:(1), observed rows:(0)",
        "not measurable here no prediction: sqlite 3.54, postgres 16.6–17.2",
        "not measurable here not run: mysql 8.0",
    ] {
        assert!(text.contains(finding), "missing `{finding}` in {text}");
    }
}

// ---- hostile input ----

const HOSTILE: &str = "<script>alert(1)</script>\"'&";
const HOSTILE_ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";

#[test]
fn hostile_strings_are_escaped_in_every_page() {
    let results = fixture("hostile.json");
    let (_root, out) = site(&results, Some(&results));
    let files = files_under(&out);
    let probe_page = files
        .iter()
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with("probe-script"))
        .expect("a page for the hostile probe");
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "html")) {
        let html = fs::read_to_string(file).unwrap();
        assert!(!html.to_ascii_lowercase().contains("<script"), "{} has a raw <script", file.display());
        assert!(!html.contains("Z<b>") && html.contains("Z&lt;b&gt;"), "{}: markup from the input", file.display());
    }
    let page = fs::read_to_string(probe_page).unwrap();
    // Text contexts: id, question, note, claim, SQL, outcome, error message, row values.
    for text in [
        format!("<h1 class=\"mono\">{HOSTILE_ESCAPED}</h1>"),
        format!("Asks {HOSTILE_ESCAPED}?"),
        format!("Note {HOSTILE_ESCAPED}"),
        format!("Claim {HOSTILE_ESCAPED}<cite>src{HOSTILE_ESCAPED} § sec{HOSTILE_ESCAPED}</cite>"),
        format!("<code>SELECT &#39;{HOSTILE_ESCAPED}&#39;</code>"),
        format!("near {HOSTILE_ESCAPED}"),
        format!("<th>col{HOSTILE_ESCAPED}</th>"),
    ] {
        assert!(page.contains(&text), "missing {text}");
    }
    // Attribute contexts keep their quotes.
    let sections = elements(&page, "section");
    let ids: BTreeSet<&str> = sections.iter().filter_map(|s| s.attr("data-target")).collect();
    assert!(ids.contains(format!("postgres-16{}", "\"'&<script>alert(1)</script>").as_str()), "{ids:?}");
    for s in &sections {
        let anchor = s.attr("id").unwrap();
        assert!(anchor.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.~-".contains(&b)), "anchor {anchor:?}");
    }
    let index = read(&out, "index.html");
    assert!(index.contains(&format!("data-probe=\"{HOSTILE_ESCAPED}\"")));
    assert!(elements(&index, "tr").iter().any(|r| r.attr("data-probe") == Some(HOSTILE)));

    // JUnit: escaped in attributes and text; Markdown: only inside code spans or escaped.
    let junit = junit_xml(&results);
    assert!(!junit.contains("<script"));
    assert!(junit.contains("name=\"area&lt;script&gt;alert(1)&lt;/script&gt;&quot;&apos;&amp;::&lt;script&gt;"));
    // Read back, the document has the four cases, named with the input's text: none of it
    // became markup.
    let read_back = read_junit(&junit);
    let names: Vec<&str> = read_back.test_suites.iter().flat_map(|s| &s.test_cases).map(|c| c.name.as_str()).collect();
    let (name, orphan) = (format!("area{HOSTILE}::{HOSTILE}"), format!("area2{HOSTILE}::orphan{HOSTILE}"));
    assert_eq!(names, [&name, &name, &name, &orphan]);
    // The start time `2026-11-20T10:00:00Z<b>` is not RFC 3339, so the report has no
    // timestamp rather than a made-up one (quick-junit takes only a parsed date and time).
    assert!(read_back.timestamp.is_none() && !junit.contains("timestamp="));
    let md = markdown_summary(&results, None);
    for line in md.lines() {
        let outside = outside_code_spans(line);
        for special in ['<', '>', '&'] {
            let unescaped = outside.match_indices(special).any(|(i, _)| !outside[..i].ends_with('\\'));
            assert!(!unescaped, "unescaped {special} outside a code span: {line}");
        }
    }
    assert_snapshot("hostile.junit.xml", &junit);
    assert_snapshot("hostile.summary.md", &md);
}

/// A Markdown line without its code spans (a run of N backticks up to the next run of N).
fn outside_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let fence_len = rest[start..].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(fence_len);
        let after = &rest[start + fence_len..];
        match after.find(&fence) {
            Some(end) => rest = &after[end + fence_len..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn path_like_ids_write_nothing_outside_the_out_dir() {
    let results = fixture("pathlike.json");
    let root = tempfile::tempdir().unwrap();
    let outer = root.path().join("outer");
    fs::create_dir(&outer).unwrap();
    let out = outer.join("site");
    let summary = write_site(&results, None, &out).unwrap();

    let top: Vec<String> = fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(top, ["outer"]);
    let beside: Vec<String> = fs::read_dir(&outer).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(beside, ["site"], "no staging directory left behind");
    let mut names = HashSet::new();
    for f in files_under(&out) {
        assert_eq!(f.parent(), Some(out.as_path()), "{} is not directly in the site", f.display());
        assert!(f.is_file());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)), "unsafe file name {name:?}");
        names.insert(name);
    }
    assert_eq!(summary.probe_pages, 10, "one page per distinct id");
    assert_eq!(names.iter().filter(|n| n.starts_with("probe-")).count(), 10);
    assert!(names.contains("probe-probe-index.html"));
    for f in &summary.files {
        assert!(f.starts_with(&out), "{} reported outside the site", f.display());
    }
}

// ---- writing the site ----

#[test]
fn the_site_is_replaced_whole_and_only_when_it_is_ours() {
    let basic = fixture("basic.json");
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("site");

    let first = write_site(&basic, Some(&fixture("previous.json")), &out).unwrap();
    assert!(out.join(SITE_MARKER).is_file());
    assert_eq!((first.probe_pages, first.backend_pages, first.claims, first.contradicted_claims), (4, 4, 2, 1));
    assert_eq!(first.regression, Some(true));
    assert_eq!((first.tally.pass, first.tally.fail, first.tally.error, first.tally.not_run), (11, 2, 1, 4));
    for name in ["index.html", "claims.html", "diff.html", "summary.md", "junit.xml", "backend-mariadb.html", "probe-equality_ignores_case.html"] {
        assert!(first.files.contains(&out.join(name)), "{name} not reported");
        assert!(out.join(name).is_file(), "{name} not written");
    }
    assert_eq!(first.bytes, first.files.iter().map(|f| fs::metadata(f).unwrap().len()).sum::<u64>());

    // Rewriting replaces everything: a stale page and the diff page of the first run go.
    fs::write(out.join("probe-stale.html"), "old").unwrap();
    let second = write_site(&basic, None, &out).unwrap();
    assert!(!out.join("probe-stale.html").exists());
    assert!(!out.join("diff.html").exists());
    assert_eq!(second.regression, None);
    let beside: Vec<String> = fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(beside, ["site"]);

    // A crosscheck report inside the site is kept, and every page links it.
    assert!(!read(&out, "index.html").contains("crosscheck/index.html"), "no link without a crosscheck report");
    fs::create_dir(out.join("crosscheck")).unwrap();
    fs::write(out.join("crosscheck/index.html"), "the second instrument").unwrap();
    write_site(&basic, None, &out).unwrap();
    assert_eq!(read(&out, "crosscheck/index.html"), "the second instrument");
    assert!(read(&out, "index.html").contains("<a href=\"crosscheck/index.html\">Crosscheck</a>"));
    assert!(read(&out, "claims.html").contains("crosscheck/index.html"));
    let beside: Vec<String> = fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(beside, ["site"], "the old site is gone once its crosscheck report has moved");

    // A directory that is not a site is never replaced, nor is a file.
    let precious = root.path().join("precious");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("results.json"), "{}").unwrap();
    let err = write_site(&basic, None, &precious).unwrap_err();
    assert!(err.to_string().contains("not a dbcompat site"), "{err}");
    assert!(precious.join("results.json").is_file());
    let file = root.path().join("file.html");
    fs::write(&file, "x").unwrap();
    assert!(write_site(&basic, None, &file).is_err());
    assert!(write_site(&basic, None, Path::new("/")).is_err());
    let mut left: Vec<String> = fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["file.html", "precious", "site"], "nothing staged is left behind");

    // An empty directory is fine.
    let empty = root.path().join("empty");
    fs::create_dir(&empty).unwrap();
    write_site(&basic, None, &empty).unwrap();
    assert!(empty.join("index.html").is_file());
}

#[test]
fn empty_and_inconsistent_results_render() {
    let mut results = fixture("basic.json");
    results.targets.clear();
    results.probes.clear();
    let (_root, out) = site(&results, None);
    assert!(read(&out, "index.html").contains("data-probe=\"equality_ignores_case\""), "cases alone still give rows and columns");

    results.cases.clear();
    let (_root, out) = site(&results, Some(&fixture("basic.json")));
    assert!(read(&out, "claims.html").contains("No probe in this run quotes a documentation claim"));
    assert!(markdown_summary(&results, None).starts_with("## dbcompat results\n\n0 cases on 0 targets"));
    assert!(junit_xml(&results).contains("<testsuites name=\"dbcompat\" tests=\"0\""));
}

#[test]
fn odd_results_render_without_panicking() {
    use dbcompat::driver::Response;
    let mut r = fixture("basic.json");
    let odd_versions = ["", "99999999999999999999999.1", "no digits", "…", "7", "1.2.3.4.5.6.7.8"];
    for (t, v) in r.targets.iter_mut().zip(odd_versions) {
        t.server_version = Some(v.to_string());
    }
    r.targets.push(r.targets[0].clone()); // a duplicate target
    r.cases.push(r.cases[0].clone()); // a duplicate case
    for (i, c) in r.cases.iter_mut().enumerate() {
        c.duration_ms = if i % 2 == 0 { -1.0 } else { 1e300 };
        c.outcome = match i % 3 {
            0 => Some(vec![]),
            1 => Some(vec![hostile_rows()]),
            _ => None,
        };
        for k in &mut c.claims {
            k.claim = usize::MAX;
        }
        for step in &mut c.transcript {
            step.step = usize::MAX - i;
            step.completed_after_step = Some(usize::MAX);
            for st in &mut step.statements {
                st.response = Some(Response::Rows { columns: vec![], rows: vec![vec![], vec!["a".into(); 100]] });
            }
        }
    }
    for p in &mut r.probes {
        p.id.push('🦀');
        p.steps.clear();
        p.claims.push(p.claims.first().cloned().unwrap_or_else(|| dbcompat::result::ClaimRecord {
            source: String::new(),
            section: String::new(),
            text: String::new(),
            predicts: Default::default(),
            outcomes: Vec::new(),
            columns: Vec::new(),
            hedged: false,
        }));
    }
    let (_root, out) = site(&r, Some(&fixture("hostile.json")));
    assert!(out.join("index.html").is_file());
    let _ = markdown_summary(&r, Some(&fixture("pathlike.json")));
    read_junit(&junit_xml(&r));
    let _ = compare(&fixture("hostile.json"), &r).to_text();
}

// ---- Markdown, JUnit ----

/// A JUnit document read back with quick-junit's reader, once it is known to hold only
/// characters XML 1.0 allows (which that reader does not check).
fn read_junit(xml: &str) -> quick_junit::Report {
    let forbidden = xml.chars().find(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..));
    assert_eq!(forbidden, None, "a character XML 1.0 forbids in {xml}");
    quick_junit::Report::deserialize_from_str(xml).unwrap_or_else(|e| panic!("{e}: {xml}"))
}

#[test]
fn markdown_summary_matches_the_snapshot() {
    let md = markdown_summary(&fixture("basic.json"), Some(&fixture("previous.json")));
    assert_snapshot("basic.summary.md", &md);
    let (_root, out) = site(&fixture("basic.json"), Some(&fixture("previous.json")));
    assert_eq!(read(&out, "summary.md"), md);
}

#[test]
fn junit_matches_the_snapshot() {
    let xml = junit_xml(&fixture("basic.json"));
    assert_snapshot("basic.junit.xml", &xml);
    let (_root, out) = site(&fixture("basic.json"), None);
    assert_eq!(read(&out, "junit.xml"), xml);
}

#[test]
fn junit_text_survives_control_characters_and_line_breaks() {
    use quick_junit::TestCaseStatus;
    let mut results = fixture("basic.json");
    let odd = "line one\r\nline two\rthree\tfour \u{1b}]0;title\u{7}\u{1b}[31mred\u{1b}[0m\u{0}\u{7}\u{FFFE}<b> \u{1b}]8;;unclosed";
    let skipped = results.cases.iter().position(|c| c.target == "mysql-8.0").unwrap();
    results.cases[skipped].verdict = Verdict::NotRun { reason: odd.into() };
    let errored = results.cases.iter().position(|c| c.target == "sqlite-3.54").unwrap();
    results.cases[errored].verdict = Verdict::Error { reason: odd.into() };
    let xml = junit_xml(&results);
    let report = read_junit(&xml);
    let status = |target: &str, i: usize| {
        let suite = report.test_suites.iter().find(|s| s.name.as_str() == target).unwrap();
        suite.test_cases[i].status.clone()
    };
    // quick-junit removes ANSI escape sequences and control characters (its XmlString):
    // the writer it replaced kept them as U+FFFD, so `\u{1b}[31m` read `\u{FFFD}[31m`.
    // Tabs and carriage returns, which it would drop too, arrive as a space and a line feed;
    // U+FFFE, which XML forbids, as U+FFFD; an escape opening a control string nothing
    // closes (which would take the text after it) as U+FFFD. Attributes stay on one line,
    // and the element's text keeps the line breaks.
    let flat = "line one line two three four red\u{FFFD}<b> \u{FFFD}]8;;unclosed";
    let full = "line one\nline two\nthree four red\u{FFFD}<b> \u{FFFD}]8;;unclosed";
    let TestCaseStatus::Skipped { message, description, .. } = status("mysql-8.0", 0) else { panic!("not skipped") };
    assert_eq!(message.as_deref(), Some(format!("not run: {flat}").as_str()));
    assert_eq!(description.as_deref(), Some(format!("not run: {full}").as_str()));
    let TestCaseStatus::NonSuccess { message, description, .. } = status("sqlite-3.54", 0) else { panic!("not an error") };
    assert_eq!(message.as_deref(), Some(flat));
    assert_eq!(description.as_deref(), Some(full));
    assert!(!xml.contains("<b>") && xml.contains("&lt;b&gt;"));
}

// ---- diff ----

#[test]
fn diff_finds_the_planted_regression() {
    let old = fixture("previous.json");
    let new = fixture("basic.json");
    let diff = compare(&old, &new);
    let names = |list: &[dbcompat::report::CaseChange]| list.iter().map(|c| c.name()).collect::<Vec<_>>();
    assert_eq!(names(&diff.new_failures), ["collation::equality_ignores_case::mariadb-10.11", "locking::select_for_update_nowait::postgres-17"]);
    assert_eq!(names(&diff.fixed), ["collation::like_ascii_case_insensitive::mariadb-10.6"]);
    assert_eq!(names(&diff.changed_outcomes), ["collation::like_ascii_case_insensitive::postgres-16"]);
    assert_eq!(diff.other_changes.len(), 3, "mysql-8.0 cases went from run to not run");
    assert_eq!(diff.added_cases.len(), 6);
    assert_eq!(diff.removed_cases.iter().map(|c| c.name()).collect::<Vec<_>>(), ["autoincrement::next_id_after_deleting_highest::sqlite-3.54"]);
    assert_eq!(diff.removed_targets, ["oracle-23"]);
    assert_eq!(diff.lost_targets, ["mysql-8.0"]);
    assert!(diff.added_targets.is_empty());
    assert!(diff.is_regression());
    assert_snapshot("previous-to-basic.diff.txt", &diff.to_text());

    let back = compare(&new, &old);
    assert_eq!(back.added_targets, ["oracle-23"]);
    assert_eq!(back.gained_targets, ["mysql-8.0"]);
    assert_eq!(names(&back.fixed), ["collation::equality_ignores_case::mariadb-10.11", "locking::select_for_update_nowait::postgres-17"]);
    assert!(back.is_regression(), "like_ascii on mariadb-10.6 passes now and failed before");

    let same = compare(&new, &new);
    assert!(same.is_empty() && !same.is_regression());
    assert_eq!(same.to_text(), "no changes in 24 cases compared\n");
}

#[test]
fn only_passing_cases_that_break_or_targets_that_stop_are_regressions() {
    let old = fixture("basic.json");

    // No expectation before, failing now: a new failure, but nothing that passed broke.
    let mut new = old.clone();
    let case = new.cases.iter_mut().find(|c| c.probe == "like_ascii_case_insensitive" && c.target == "postgres-16").unwrap();
    case.verdict = Verdict::Fail { expected: vec!["rows:(1)".parse().unwrap()], observed: vec!["rows:(0)".parse().unwrap()] };
    let diff = compare(&old, &new);
    assert_eq!(diff.new_failures.len(), 1);
    assert!(!diff.is_regression());

    // A target that ran and now did not: a regression even though no case fails.
    let mut new = old.clone();
    new.targets.iter_mut().find(|t| t.id == "sqlite-3.54").unwrap().not_run = Some("no engine".into());
    let diff = compare(&old, &new);
    assert_eq!(diff.lost_targets, ["sqlite-3.54"]);
    assert!(diff.is_regression());
    assert!(diff.to_text().starts_with("REGRESSION: "));
}

/// A rows outcome whose values hold markdown and control characters.
fn hostile_rows() -> dbcompat::outcome::Outcome {
    use dbcompat::outcome::{Answer, Outcome, Reply};
    Outcome::Answered(Reply { answer: Answer::Rows(vec![vec!["'`|`'".into(), "'\n\r\t\u{0}\u{1b}[31m'".into()]]), said: Vec::new() })
}

#[test]
fn anomalies_page_derives_each_cell_from_the_outcomes() {
    use dbcompat::result::AnomalyRecord;
    let mut results = fixture("basic.json");
    // select_for_update_nowait observes one step: call "blocked" the anomaly.
    let probe = results.probes.iter_mut().find(|p| p.id == "select_for_update_nowait").unwrap();
    probe.anomaly = Some(AnomalyRecord {
        name: "G0".into(),
        probe: "select_for_update_nowait".into(),
        level: Some("read committed".into()),
        occurs: vec![vec![Some("blocked".parse().unwrap())]],
        read_only: false,
    });
    let (_root, out) = site(&results, None);
    let page = read(&out, "anomalies.html");
    let cell = |target: &str| {
        let row = elements(&page, "tr").into_iter().find(|r| r.attr("data-target") == Some(target)).unwrap_or_else(|| panic!("no row {target}"));
        row.elements("td").into_iter().find(|td| td.attr("data-anomaly") == Some("G0")).unwrap()
    };
    assert_eq!(cell("mariadb-10.6").attr("class"), Some("an an-occurs"));
    assert!(cell("mariadb-10.6").text().starts_with("occurs"), "{}", cell("mariadb-10.6").text());
    assert_eq!(cell("mariadb-10.11").attr("class"), Some("an an-prevented"));
    assert!(cell("mariadb-10.11").text().contains("error:lock_not_available"), "{}", cell("mariadb-10.11").text());
    // An errored case measures nothing.
    assert_eq!(cell("postgres-17").attr("class"), Some("an an-none"));
    // The backend's default level is marked; a cell links to the case on its probe page.
    assert!(page.contains("read committed <span title=\"default level\">★</span>"));
    assert!(page.contains("href=\"probe-select_for_update_nowait.html#t-mariadb-10.11\""));
    assert!(page.contains("<span class=\"changed\">changed between 10.6.20 and 10.11.10</span>: occurs → prevented (error:lock_not_available)"), "{page}");
    // Every link of the page resolves, and the index links to it.
    for a in elements(&page, "a") {
        let href = a.attr("href").unwrap_or_default();
        let (file, anchor) = href.split_once('#').unwrap_or((href, ""));
        let target = read(&out, file);
        assert!(anchor.is_empty() || target.contains(&format!("id=\"{anchor}\"")), "{href}");
    }
    assert!(read(&out, "index.html").contains("href=\"anomalies.html\""));
    // Without anomaly probes the page says so.
    let (_root, plain) = site(&fixture("basic.json"), None);
    assert!(read(&plain, "anomalies.html").contains("No probe in this run tests an isolation anomaly"));
}

/// The basic fixture with version boundaries written in: `equality_ignores_case` expects
/// a change at MariaDB 10.11 (where it changes), `like_ascii_case_insensitive` a change at
/// 10.11 that the servers do not show, and a claim bounds 10.6, below every version run.
/// A bisection of `like_ascii_case_insensitive` on SQLite is recorded beside them.
fn with_boundaries() -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results/basic.json");
    let mut v: serde_json::Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    for p in v["probes"].as_array_mut().unwrap() {
        match p["id"].as_str() {
            Some("equality_ignores_case") => {
                p["expect"]["mariadb>=10.11"] = serde_json::json!(["rows:(0)"]);
                p["claims"][0]["predicts"]["mariadb<10.6"] = serde_json::json!(["rows:(1)"]);
            }
            Some("like_ascii_case_insensitive") => p["expect"]["mariadb>=10.11"] = serde_json::json!(["rows:(0)"]),
            _ => {}
        }
    }
    for c in v["cases"].as_array_mut().unwrap() {
        let (probe, target) = (c["probe"].as_str().unwrap().to_string(), c["target"].as_str().unwrap().to_string());
        if target == "mariadb-10.11" && (probe == "equality_ignores_case" || probe == "like_ascii_case_insensitive") {
            c["expected"] = serde_json::json!(["rows:(0)"]);
        }
    }
    v["bisections"] = serde_json::json!([{
        "probe": "like_ascii_case_insensitive", "backend": "sqlite", "source": "test releases",
        "last_old": {"version": "3.30.1", "source_version": "libsqlite3-sys 0.17.3"},
        "first_new": {"version": "3.31.1", "source_version": "libsqlite3-sys 0.18.0"},
        "old_outcome": "rows:(0)", "new_outcome": "rows:(1)", "monotone": true, "versions_run": 6, "versions_listed": 40
    }]);
    serde_json::from_value(v).unwrap()
}

#[test]
fn documented_boundaries_are_checked_against_the_measured_versions() {
    let (_root, out) = site(&with_boundaries(), None);
    let probe = read(&out, "probe-equality_ignores_case.html");
    assert!(probe.contains("<h2>Where the behaviour changes</h2>"), "{probe}");
    assert!(probe.contains("<code>mariadb&gt;=10.11</code> (expectation, bound <code>&gt;=10.11</code>): <span class=\"chip confirmed\">✓ agrees</span> changed between 10.6.20 and 10.11.10"), "{probe}");
    assert!(probe.contains("<code>mariadb&lt;10.6</code> (claim 1, bound <code>&lt;10.6</code>): <span class=\"chip unmeasured\">– one side</span> no version &lt;10.6 measured"), "{probe}");
    let like = read(&out, "probe-like_ascii_case_insensitive.html");
    assert!(like.contains("<span class=\"chip contradicted\">✗ contradicted</span> <code>rows:(1)</code> on both 10.6.20 and 10.11.10"), "{like}");
    // The bisection is a change of its own on SQLite, where the run measured one version.
    assert!(like.contains("changed between 3.30.1 and 3.31.1</span> <span class=\"muted\">(bisect: 6 of 40 versions run)</span>"), "{like}");
    let claims = read(&out, "claims.html");
    assert!(claims.contains("✗ 1 contradicted</span> <span class=\"chip confirmed\">✓ 1 agree</span> <span class=\"chip unmeasured\">– 1 measured on one side only"), "{claims}");
    let contradicted = claims.split("<h3>Contradicted by the measurements</h3>").nth(1).unwrap().split("</ul>").next().unwrap();
    assert!(contradicted.contains("like_ascii_case_insensitive") && !contradicted.contains("equality_ignores_case"), "{contradicted}");
}
