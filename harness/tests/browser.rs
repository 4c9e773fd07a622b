//! The generated site in a real browser: headless Chromium loads the pages from disk,
//! `--dump-dom` gives the DOM as the browser built it, and `--screenshot` renders them.
//!
//! Chromium is found at `$DBCOMPAT_CHROMIUM` or `/usr/bin/chromium`. Without it the tests
//! are skipped with a message, except under CI (`CI` set), where they fail: CI installs it.
//! Every Chromium run has a fresh profile and is killed after [`TIMEOUT`].

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbcompat::report::write_site;
use dbcompat::result::RunResults;

const TIMEOUT: Duration = Duration::from_secs(60);

fn chromium() -> Option<PathBuf> {
    let from_env = std::env::var_os("DBCOMPAT_CHROMIUM").map(PathBuf::from);
    let candidates: Vec<PathBuf> = from_env.into_iter().chain([PathBuf::from("/usr/bin/chromium")]).collect();
    if let Some(found) = candidates.iter().find(|c| c.is_file()) {
        return Some(found.clone());
    }
    let looked = candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ");
    if std::env::var_os("CI").is_some() {
        panic!("Chromium not found (looked at {looked}; set DBCOMPAT_CHROMIUM): CI must install it");
    }
    // Straight to stderr: libtest captures `eprintln!` of passing tests, and a skip
    // should be seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED: Chromium not found (looked at {looked}); set DBCOMPAT_CHROMIUM to run the browser tests");
    None
}

fn fixture(name: &str) -> RunResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results").join(name);
    RunResults::read(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs Chromium on one page with a fresh profile; returns what it printed on stdout.
fn run_chromium(browser: &Path, work: &Path, page: &Path, extra: &[&str]) -> String {
    let profile = tempfile::tempdir_in(work).expect("profile dir");
    // stdout goes to a file: a DOM larger than the pipe buffer would otherwise stall
    // Chromium while this process waits for it to exit.
    let stdout_path = profile.path().join("stdout.txt");
    let stderr_path = profile.path().join("stderr.txt");
    let url = format!("file://{}", page.canonicalize().expect("page exists").display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        .spawn()
        .expect("Chromium starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for Chromium") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish within {TIMEOUT:?} on {url}");
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "Chromium failed ({status}) on {url}:\n{stderr}");
    eprintln!("chromium {:?} on {} took {:?}", extra, page.file_name().unwrap_or_default().to_string_lossy(), start.elapsed());
    fs::read_to_string(&stdout_path).expect("stdout")
}

fn dump_dom(browser: &Path, work: &Path, page: &Path) -> String {
    let dom = run_chromium(browser, work, page, &["--dump-dom"]);
    assert!(dom.contains("<body>"), "no DOM from {}: {dom:.200}", page.display());
    dom
}

/// The start tags of `tag` elements whose attributes contain every `needle`, with the
/// markup up to the end tag.
fn find_elements<'a>(dom: &'a str, tag: &str, needles: &[&str]) -> Vec<&'a str> {
    let open = format!("<{tag} ");
    let close = format!("</{tag}>");
    dom.match_indices(&open)
        .filter_map(|(i, _)| {
            let rest = &dom[i..];
            let start_tag = &rest[..rest.find('>')? + 1];
            let end = rest.find(&close).map_or(rest.len(), |e| e + close.len());
            needles.iter().all(|n| start_tag.contains(n)).then_some(&rest[..end])
        })
        .collect()
}

#[test]
fn the_matrix_renders_in_chromium_with_its_statuses_and_ranges() {
    let Some(browser) = chromium() else { return };
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("site");
    write_site(&fixture("basic.json"), Some(&fixture("previous.json")), &out).unwrap();
    let dom = dump_dom(&browser, work.path(), &out.join("index.html"));

    // The collapsed range: one cell over postgres 16 and 17, its range shown as text.
    let range = find_elements(&dom, "td", &["data-targets=\"postgres-16 postgres-17\"", "data-status=\"pass\"", "colspan=\"2\""]);
    assert_eq!(range.len(), 1, "one passing postgres 16–17 cell (equality_ignores_case)");
    assert!(range[0].contains("16.6–17.2") && range[0].contains("rows:(0)"), "{}", range[0]);
    assert!(range[0].contains("href=\"probe-equality_ignores_case.html#t-postgres-16\""));

    // Every status of the vocabulary appears as a cell.
    for (status, targets) in [
        ("pass", "sqlite-3.54"),
        ("fail", "mariadb-10.11"),
        ("error", "postgres-17"),
        ("no-expectation", "postgres-16 postgres-17"),
        ("not-applicable", "mariadb-10.6 mariadb-10.11"),
        ("not-run", "mysql-8.0"),
    ] {
        let cells = find_elements(&dom, "td", &[&format!("data-status=\"{status}\""), &format!("data-targets=\"{targets}\"")]);
        assert!(!cells.is_empty(), "no {status} cell for {targets}");
    }
    let fail = find_elements(&dom, "td", &["data-status=\"fail\"", "data-targets=\"mariadb-10.11\""]);
    assert!(fail[0].contains("✗") && fail[0].contains("rows:(0)"));

    assert!(!dom.contains("<script"));
}

#[test]
fn probe_pages_show_transcripts_and_hostile_text_as_text() {
    let Some(browser) = chromium() else { return };
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("site");
    write_site(&fixture("basic.json"), None, &out).unwrap();
    let dom = dump_dom(&browser, work.path(), &out.join("probe-sqlite_busy_timeout_waits_for_writer.html"));
    let section = find_elements(&dom, "section", &["id=\"t-sqlite-3.54\""]);
    assert_eq!(section.len(), 1);
    assert!(section[0].contains("class=\"transcript\""));
    assert!(section[0].contains("completed after step 3"));
    assert!(find_elements(section[0], "tbody", &["class=\"step blocked\"", "data-step=\"2\""]).len() == 1);

    let hostile = work.path().join("hostile");
    write_site(&fixture("hostile.json"), None, &hostile).unwrap();
    let page = fs::read_dir(&hostile)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("probe-script"))
        .expect("hostile probe page");
    let dom = dump_dom(&browser, work.path(), &page);
    // The browser kept the text as text: serialised back, it is escaped again, and no
    // script element (nor the bold tag planted in the run's start time) was created.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "hostile text missing");
    assert!(!dom.to_ascii_lowercase().contains("<script"), "an injected script element");
    assert!(!dom.contains("Z<b>"));
    let h1 = find_elements(&dom, "h1", &["class=\"mono\""]);
    assert_eq!(h1.len(), 1);
    assert!(h1[0].contains("&lt;script&gt;alert(1)&lt;/script&gt;\"'&amp;"), "{}", h1[0]);
    assert!(dom.contains("class=\"transcript\""));
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[..8] != b"\x89PNG\r\n\x1a\n" || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

#[test]
fn pages_render_to_screenshots() {
    let Some(browser) = chromium() else { return };
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("site");
    write_site(&fixture("basic.json"), Some(&fixture("previous.json")), &out).unwrap();
    // Kept for a look when DBCOMPAT_SCREENSHOTS names a directory.
    let keep = std::env::var_os("DBCOMPAT_SCREENSHOTS").map(PathBuf::from);
    for page in ["index.html", "probe-select_for_update_nowait.html", "backend-mariadb.html", "claims.html"] {
        let png = work.path().join(format!("{page}.png"));
        run_chromium(&browser, work.path(), &out.join(page), &[&format!("--screenshot={}", png.display()), "--window-size=1400,900"]);
        let bytes = fs::read(&png).unwrap_or_else(|e| panic!("no screenshot of {page}: {e}"));
        assert_eq!(png_size(&bytes), Some((1400, 900)), "{page}");
        // A blank page compresses to a few kilobytes; a rendered matrix is far larger.
        assert!(bytes.len() > 30_000, "{page}: screenshot of {} bytes looks empty", bytes.len());
        if let Some(dir) = &keep {
            fs::create_dir_all(dir).unwrap();
            fs::copy(&png, dir.join(format!("{page}.png"))).unwrap();
        }
    }
}
