//! The loader reports every planted mistake in `fixtures/broken` with its file, line and
//! column, and no input makes it panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use dbcompat::source::SourceFile;
use dbcompat::suite;

#[path = "../examples/fuzz_loaders/mutate.rs"]
mod mutate;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// (file, line, column, words the message must contain)
const PLANTED: &[(&str, usize, usize, &str)] = &[
    ("planted.toml", 10, 1, "unknown key `expcet`"),
    ("planted.toml", 16, 8, "wrong type"),
    ("planted.toml", 25, 11, "unknown session `c`"),
    ("planted.toml", 31, 10, "no snippet `autopk`"),
    ("planted.toml", 41, 1, "invalid version range"),
    ("planted.toml", 50, 1, "overlaps"),
    ("planted.toml", 58, 10, "unknown error class `lock_wait`"),
    ("planted.toml", 66, 1, "unknown backend `db2`"),
    ("planted.toml", 78, 10, "1 outcome(s) given but the probe observes 2"),
    ("planted.toml", 80, 1, "duplicate probe id `duplicate_here`"),
    ("planted.toml", 90, 10, "fetched before it is opened"),
    ("planted.toml", 92, 1, "restarts the server but is not marked runs_alone"),
    ("planted.toml", 102, 1, "a step is either a clean restart or a crash"),
    ("planted.toml", 110, 16, "a `{{` with no `}}` after it (after `SELECT '`)"),
    ("planted.toml", 116, 7, "a step with empty SQL"),
    ("planted.toml", 121, 1, "no sessions: every step would be dropped"),
    ("planted.toml", 129, 10, "invalid cursor name `c; DROP TABLE t`"),
    ("planted.toml", 138, 9, "`fetch` = 0 is out of range"),
    ("planted.toml", 141, 9, "`fetch` = 99999999999999999999999 is out of range"),
    ("planted.toml", 149, 1, "`stream` belongs on the step that opens the cursor"),
    ("planted.toml", 159, 1, "a step that closes a cursor neither opens it nor fetches from it"),
    ("planted.toml", 167, 1, "`close` needs a `cursor`"),
    ("planted.toml", 180, 10, "cursor `c` is fetched before it is opened"),
    ("syntax.toml", 5, 33, "invalid TOML"),
    ("variants.toml", 11, 1, "`mysql>=8.0,<9` restates the outcome of `mysql`"),
    ("variants.toml", 16, 16, "`oracle` cites documentation for an outcome the probe does not expect"),
    ("variants.toml", 25, 30, "unknown dialect `db2` in isolation"),
    ("variants.toml", 26, 28, "isolation `param` but the probe has no isolation parameter"),
    ("variants.toml", 27, 1, "a step that begins a transaction does not run in autocommit mode"),
    ("variants.toml", 36, 1, "a restart step sends no statements to begin or commit"),
    ("variants.toml", 43, 30, "unknown journal mode `journal`"),
    ("variants.toml", 48, 1, "`sqlite[delete]` names no variant of this probe"),
    ("variants.toml", 54, 7, "1 ids for 2 variants"),
    ("variants.toml", 61, 16, "permutations of steps without a name"),
    ("variants.toml", 71, 23, "no step is named `z`"),
    ("variants.toml", 85, 21, "`any_of` with fewer than two outcomes"),
    ("variants.toml", 86, 12, "an expectation with both `outcome` and `any_of`"),
    ("variants.toml", 101, 10, "`others` covers no backend"),
    ("variants.toml", 103, 1, "a probe with both `param` and `permutations`"),
    ("anomalies.toml", 6, 20, "unknown anomaly `G3`"),
    ("anomalies.toml", 13, 35, "2 outcome(s) in `occurs` but the probe observes 1 step(s)"),
    ("anomalies.toml", 20, 35, "`occurs` that matches every outcome"),
    ("anomalies.toml", 28, 17, "invalid SQLite variant `immediate`"),
    ("anomalies.toml", 35, 1, "`param` names one parameter"),
    ("django.toml", 5, 39, "invalid version `three`"),
    ("django.toml", 16, 11, "2 outcome(s) in `capable` but the probe observes 1 step(s)"),
    ("django.toml", 18, 20, "release `5.2.19` gives no value for mysql"),
    ("django.toml", 20, 12, "wrong type"),
    ("django.toml", 21, 20, "`4.0` is not a release declared in this file"),
];

#[test]
fn every_planted_error_is_reported_with_its_location() {
    let dir = fixtures().join("broken");
    let diags = suite::load_dir(&dir).expect_err("the broken suites must not load");
    for (file, line, col, words) in PLANTED {
        let found = diags.iter().any(|d| d.path.ends_with(file) && d.line == *line && d.column == *col && d.message.contains(words));
        assert!(found, "no diagnostic `{words}` at {file}:{line}:{col}; got:\n{diags}");
    }
    for d in diags.iter() {
        assert!(d.line > 0, "every diagnostic has a place: {d}");
    }
}

#[test]
fn check_exits_non_zero_and_prints_locations() {
    let out = Command::new(env!("CARGO_BIN_EXE_dbcompat"))
        .args(["check", "--suites"])
        .arg(fixtures().join("broken"))
        .args(["--matrix"])
        .arg(fixtures().join("broken-matrix/matrix.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("planted.toml:10:1"), "{stderr}");
    assert!(stderr.contains("matrix.toml:4:10"), "the matrix is checked too: {stderr}");
    assert!(stderr.contains("unknown launch `embeded`"), "{stderr}");
    assert!(stderr.contains("matrix.toml:12:21") && stderr.contains("`startup_timeout_s` = 9223372036854775807 is out of range") && stderr.contains("from 1 to 86400"), "a timeout run would overflow on is refused: {stderr}");
    assert!(stderr.contains("matrix.toml:20:21") && stderr.contains("`startup_timeout_s` = 0 is out of range"), "{stderr}");
}

#[test]
fn the_real_suites_and_matrix_check_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).arg("check").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Every prefix of every suite file (valid and broken) parses without a panic.
#[test]
fn truncated_files_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [root.join("suites"), fixtures().join("broken")] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // At most 300 evenly spaced cuts a file: parsing is linear, so all cuts of a
        // large suite would make the sweep quadratic.
        let step = (text.len() / 300).max(1);
        let cuts: Vec<usize> = (0..text.len()).step_by(step).filter(|i| text.is_char_boundary(*i)).collect();
        for cut in cuts {
            let file = SourceFile::new(&path, text[..cut].to_string());
            let _ = suite::parse(&file);
            // Also a byte flipped to a quote, a bracket and a newline at the cut.
            for c in ['"', '[', '\n', '='] {
                let mut mangled = text.clone();
                if let Some(ch) = mangled[cut..].chars().next() {
                    mangled.replace_range(cut..cut + ch.len_utf8(), &c.to_string());
                }
                let _ = suite::parse(&SourceFile::new(&path, mangled));
            }
        }
    }
}

/// The complete example in `suites/README.md` is a valid suite.
#[test]
fn an_unclosed_placeholder_is_located_at_its_braces_and_says_what_was_expected() {
    let text = "area = \"a\"\n[[probe]]\nid = \"p\"\nasks = \"?\"\n[[probe.step]]\nsql = \"SELECT '{{' || v FROM t\"\n\
                [[probe.step]]\nsql = '''\nSELECT 1,\n  {{ x\n'''\n[[probe.step]]\nsql = \"SELECT '\\u007b{' || v\"\n";
    let (_, diags) = suite::parse(&SourceFile::new("t.toml", text.to_string()));
    let found: Vec<(usize, usize)> = diags.iter().filter(|d| d.message.starts_with("a `{{` with no `}}` after it")).map(|d| (d.line, d.column)).collect();
    // At the braces themselves where the string has no escapes; at the string otherwise.
    assert_eq!(found, [(6, 16), (10, 3), (13, 7)], "{diags}");
    let first = diags.iter().find(|d| d.line == 6).unwrap();
    assert!(first.message.contains("(after `SELECT '`)"), "{first}");
    assert!(first.expected.as_deref().is_some_and(|e| e.contains("{{name}}")), "{first}");
}

#[test]
fn the_documented_example_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("suites/README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let (suite, diags) = suite::parse(&SourceFile::new("suites/README.md", readme[start..end].to_string()));
    assert!(diags.is_empty(), "{diags}");
    let probe = &suite.probes[0];
    assert_eq!(probe.sessions.len(), 2);
    assert_eq!(probe.steps.len(), 3);
    assert_eq!(probe.expect.len(), 5);
    assert!(probe.expect.iter().any(|e| e.value.documented.is_some()));
}

#[test]
fn claims_are_judged_one_by_one_on_the_columns_they_are_about() {
    use dbcompat::backends::Backend;
    use dbcompat::result::probe::check_claims;
    let text = r#"
[[probe]]
id = "p"
area = "test"
asks = "?"
claim = [
  { source = "s", section = "x", text = "NaN is refused", columns = [1, 2], predicts = { mysql = "rows:(0,0)" } },
  { source = "s", section = "x", text = "tabs are allowed inside objects", columns = [3, 4], predicts = { mysql = "rows:(1,0)" } },
  { source = "s", section = "x", text = "it may fail", hedged = true, predicts = { mysql = "error:syntax" } },
]
undefined = { sqlite = "documented as undefined" }
[[probe.step]]
sql = "SELECT 1"
"#;
    let (suite, diags) = dbcompat::suite::parse(&dbcompat::source::SourceFile::new("claims.toml", text.to_string()));
    assert!(diags.is_empty(), "{diags}");
    let probe = &suite.probes[0];
    let checks = check_claims(probe, Backend::Mysql, None, &["rows:(0,0,0,0)".parse().unwrap()]);
    let holds: Vec<(bool, bool)> = checks.iter().map(|c| (c.holds, c.hedged)).collect();
    assert_eq!(holds, [(true, false), (false, false), (false, true)]);
    assert_eq!(checks[1].observed.as_deref().unwrap(), ["rows:(0,0)"], "judged on columns 3 and 4 only");
    let verdict = dbcompat::result::judge(probe, Backend::Sqlite, None, &Ok(vec!["rows:(1)".parse().unwrap()]));
    assert_eq!(verdict.label(), "undefined (recorded)");
}

#[test]
fn a_run_into_a_directory_it_may_not_replace_stops_before_any_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "someone's file").unwrap();
    let started = std::time::Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).args(["run", "--html", "--out"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a dbcompat site"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("passed"), "no case ran");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(dir.path().join("notes.txt").is_file(), "nothing was touched");
}

#[test]
fn commands_that_would_test_nothing_exit_non_zero() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).args(["check", "--suites"]).arg(empty.path()).output().unwrap();
    assert_eq!(check.status.code(), Some(2), "{}", String::from_utf8_lossy(&check.stderr));
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).args(["run", "no_probe_has_this_name", "--out"]).arg(out.path()).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing to test"));
    // bisect: a backend with no source of versions, and a source that lists one version.
    let bisect = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).args(["bisect", "--backend", "mysql", "x"]).output().unwrap();
    assert_eq!(bisect.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bisect.stderr).contains("no source of mysql versions"), "{}", String::from_utf8_lossy(&bisect.stderr));
    let one = out.path().join("one-version.sh");
    std::fs::write(&one, "echo 0.30.1\n").unwrap();
    let bisect = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).args(["bisect", "--script"]).arg(&one).arg("insert_returning_id").output().unwrap();
    assert_eq!(bisect.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bisect.stderr).contains("nothing to bisect"), "{}", String::from_utf8_lossy(&bisect.stderr));
}

/// A 50 KB suite saved with bare CR line endings once printed 957 errors in 74 MB: each
/// error reprinted the whole file as its "line". Now errors are on their own lines, each
/// shown in a bounded window, and at most twenty of a file are printed.
#[test]
fn a_file_with_bare_carriage_returns_gives_bounded_located_errors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join("suites/locking.toml")).unwrap().replace('\n', "\r");
    let cut = (0..=50_000.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cr.toml"), &text[..cut]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dbcompat")).current_dir(root).args(["check", "--suites"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.len() < 64 * 1024, "{} bytes on stderr", stderr.len());
    assert!(stderr.contains("more errors in"), "{stderr}");
    let first = stderr.lines().find(|l| l.contains("--> ")).unwrap();
    let line: usize = first.rsplit(':').nth(1).unwrap().parse().unwrap();
    assert!(line > 1, "the first error is on its own line, not line 1 of one huge line: {first}");
}

/// Runs dbcompat, killing it if it has not finished within `limit` (a hang fails the test
/// instead of stalling it).
fn dbcompat_within(limit: std::time::Duration, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbcompat"))
        .current_dir(root)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("dbcompat {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}

/// A FIFO named like a suite once hung `check` (reading it waits for a writer forever).
#[test]
fn a_fifo_or_directory_named_like_a_suite_is_refused_without_a_hang() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("suites/savepoints.toml"), dir.path().join("a.toml")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("a.toml"), dir.path().join("linked.toml")).unwrap();
    mkfifo(&dir.path().join("pipe.toml"));
    std::fs::create_dir(dir.path().join("folder.toml")).unwrap();
    let limit = std::time::Duration::from_secs(20);
    let out = dbcompat_within(limit, &["check".as_ref(), "--suites".as_ref(), dir.path().as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pipe.toml") && stderr.contains("not a regular file but a FIFO"), "{stderr}");
    assert!(stderr.contains("folder.toml") && stderr.contains("not a regular file but a directory"), "{stderr}");
    assert!(stderr.contains("duplicate probe id"), "the link to a suite is read like the suite: {stderr}");

    // The matrix is read the same way.
    let pipe = dir.path().join("pipe.toml");
    let out = dbcompat_within(limit, &["check".as_ref(), "--matrix".as_ref(), pipe.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file but a FIFO"));
}

#[test]
fn a_file_too_large_to_be_a_suite_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let huge = std::fs::File::create(dir.path().join("huge.toml")).unwrap();
    huge.set_len(dbcompat::source::diagnostics::MAX_FILE_BYTES + 1).unwrap();
    let out = dbcompat_within(std::time::Duration::from_secs(20), &["check".as_ref(), "--suites".as_ref(), dir.path().as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("huge.toml") && stderr.contains("more than the 16777216"), "{stderr}");
}

#[test]
fn command_line_waits_and_counts_outside_what_run_can_honour_are_refused() {
    let limit = std::time::Duration::from_secs(20);
    for (flag, value, says) in [
        ("--step-timeout-ms", "86400001", "not in 1..=86400000"),
        ("--blocking-window-ms", "18446744073709551615", "not in 1..=86400000"),
        ("--step-timeout-ms", "0", "not in 1..=86400000"),
        ("--repeat", "0", "not in 1..=1000"),
        ("--repeat", "1001", "not in 1..=1000"),
    ] {
        let out = dbcompat_within(limit, &["run".as_ref(), flag.as_ref(), value.as_ref()]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag) && stderr.contains(says), "{flag} {value}: {stderr}");
    }
}

/// The largest waits the command line accepts are added to the clock and multiplied by
/// step counts; a run with them must work, not overflow. (`--repeat 1000`, the largest
/// count, is a loop bound with no arithmetic; it is left out to keep the test quick.)
#[test]
fn a_run_with_the_largest_accepted_waits_works() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = dbcompat_within(
        std::time::Duration::from_secs(60),
        &[
            "run".as_ref(),
            "sqlite_rowid_reuse_without_autoincrement::sqlite".as_ref(),
            "--step-timeout-ms".as_ref(),
            "86400000".as_ref(),
            "--blocking-window-ms".as_ref(),
            "86400000".as_ref(),
            "--repeat".as_ref(),
            "2".as_ref(),
            "--out".as_ref(),
            out_dir.path().as_os_str(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

/// A short, fixed-seed run of the loaders' fuzzer (`examples/fuzz_loaders` runs it long).
#[test]
fn a_fixed_seed_fuzz_run_finds_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let findings = mutate::run(root, 7, 3_000);
    let shown: Vec<String> = findings.iter().take(5).map(|f| format!("{}\n--- input (first 300 chars) ---\n{}", f.what, f.input.chars().take(300).collect::<String>())).collect();
    assert!(findings.is_empty(), "{} finding(s):\n{}", findings.len(), shown.join("\n\n"));
}

/// Inputs the fuzzer once found (each took over a second to load) stay quick and sound.
#[test]
fn earlier_fuzz_findings_stay_fixed() {
    let dir = fixtures().join("fuzz");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(what) = mutate::check_input(&text) {
            panic!("{}: {what}", path.display());
        }
    }
}

fn parse_ok(text: &str) -> dbcompat::suite::Suite {
    let (suite, diags) = suite::parse(&SourceFile::new("t.toml", text.to_string()));
    assert!(diags.is_empty(), "{diags}");
    suite
}

#[test]
fn a_parameter_expands_into_probes_with_their_own_ids_setup_and_expectations() {
    use dbcompat::backends::Backend;
    let suite = parse_ok(
        r#"area = "a"
[[probe]]
id = "reader_blocks"
param.journal_mode = ["delete", "wal"]
ids = ["reader_blocks_rollback_journal", "reader_blocks_wal"]
asks = "?"
setup = ["CREATE TABLE t (id INT)"]
sessions.a = { isolation = { postgres = "read committed" } }
[[probe.step]]
begin = true
sql = "SELECT count(*) FROM t"
[probe.expect]
sqlite = "error:busy"
"sqlite[wal]" = "rows:(1)"
postgres = "rows:(0)"
[probe.not_applicable]
others = "journal modes are SQLite's"
"#,
    );
    let ids: Vec<&str> = suite.probes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["reader_blocks_rollback_journal", "reader_blocks_wal"]);
    let (delete, wal) = (&suite.probes[0], &suite.probes[1]);
    assert_eq!(delete.setup.for_backend(Backend::Sqlite).unwrap().iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["PRAGMA journal_mode = DELETE", "CREATE TABLE t (id INT)"]);
    assert_eq!(wal.setup.for_backend(Backend::Sqlite).unwrap().iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["PRAGMA journal_mode = WAL", "CREATE TABLE t (id INT)"]);
    assert_eq!(wal.setup.for_backend(Backend::Postgres).unwrap().iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["CREATE TABLE t (id INT)"]);
    assert_eq!(delete.expected_for(Backend::Sqlite, None).unwrap().value.outcome, ["error:busy"]);
    assert_eq!(wal.expected_for(Backend::Sqlite, None).unwrap().value.outcome, ["rows:(1)"]);
    assert_eq!(wal.variant.as_ref().map(|v| (v.base_id.as_str(), v.key.as_str())), Some(("reader_blocks", "wal")));
    assert!(wal.steps[0].begin);
    // others: every backend no key names, and only those.
    assert!(wal.not_applicable_for(Backend::Oracle, None).is_some() && wal.not_applicable_for(Backend::Mysql, None).is_some());
    assert!(wal.not_applicable_for(Backend::Postgres, None).is_none());
    assert_eq!(wal.sessions[0].isolation.for_backend(Backend::Postgres).map(|l| l.sql_name()), Some("READ COMMITTED"));
    assert_eq!(wal.sessions[0].isolation.for_backend(Backend::Sqlite), None);
}

#[test]
fn an_isolation_parameter_sets_the_sessions_that_ask_for_it() {
    use dbcompat::backends::Backend;
    let suite = parse_ok(
        r#"area = "a"
[[probe]]
id = "insert_during_cursor"
param.isolation = ["read committed", "serializable"]
asks = "?"
sessions.a = { isolation = "param" }
sessions.b = {}
[[probe.step]]
sql = "SELECT 1"
[probe.expect]
postgres = "rows:(1)"
"#,
    );
    let ids: Vec<&str> = suite.probes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["insert_during_cursor_read_committed", "insert_during_cursor_serializable"]);
    let level = |i: usize, s: usize| suite.probes[i].sessions[s].isolation.for_backend(Backend::Mysql).map(|l| l.sql_name());
    assert_eq!((level(0, 0), level(1, 0), level(1, 1)), (Some("READ COMMITTED"), Some("SERIALIZABLE"), None));
}

#[test]
fn permutations_run_named_steps_in_each_order() {
    let suite = parse_ok(
        r#"area = "a"
[[probe]]
id = "write_skew"
permutations = [["r1", "w1", "r2"], ["r2", "r1", "w1"]]
asks = "?"
[[probe.step]]
name = "r1"
sql = "SELECT 1"
[[probe.step]]
name = "w1"
sql = "SELECT 2"
outcome = true
[[probe.step]]
name = "r2"
sql = "SELECT 3"
[probe.expect]
sqlite = "rows:(2)"
"sqlite[r2_r1_w1]" = { any_of = ["rows:(2)", "error:busy"] }
"#,
    );
    let orders: Vec<(String, Vec<String>)> =
        suite.probes.iter().map(|p| (p.id.clone(), p.steps.iter().map(|s| s.name.clone().unwrap()).collect())).collect();
    assert_eq!(orders[0], ("write_skew_r1_w1_r2".to_string(), vec!["r1".to_string(), "w1".into(), "r2".into()]));
    assert_eq!(orders[1], ("write_skew_r2_r1_w1".to_string(), vec!["r2".to_string(), "r1".into(), "w1".into()]));
    let e = &suite.probes[1].expect[0].value;
    assert_eq!(e.allowed().count(), 2);
}

#[test]
fn a_citation_stands_without_a_restated_outcome_and_mariadb_falls_back_to_mysql() {
    use dbcompat::backends::Backend;
    use dbcompat::result::verdict::{judge, Verdict};
    use dbcompat::version::Version;
    let suite = parse_ok(
        r#"area = "a"
[[probe]]
id = "default_level"
asks = "?"
unordered = true
documented = { "mysql>=8.0,<9" = "MySQL 8.0 Reference Manual", "mariadb=10.6" = "MariaDB Server Documentation" }
[[probe.step]]
sql = "SELECT 1"
[probe.expect]
mysql = "rows:(1),(2)"
"mariadb=11.4" = { outcome = "rows:(3)", documented = "MariaDB 11.4 notes" }
postgres = { any_of = ["rows:(1)", "error:serialization_failure"] }
"#,
    );
    let p = &suite.probes[0];
    let v = |s: &str| Version::parse(s);
    assert_eq!(p.documented.len(), 2);
    assert_eq!(p.expected_for(Backend::Mysql, v("8.0.36").as_ref()).unwrap().target.text, "mysql");
    assert_eq!(p.expected_for(Backend::Mariadb, v("10.6.20").as_ref()).unwrap().target.text, "mysql");
    assert_eq!(p.expected_for(Backend::Mariadb, v("11.4.5").as_ref()).unwrap().value.outcome, ["rows:(3)"]);
    assert_eq!(p.documented_for(Backend::Mysql, v("8.4.2").as_ref()).unwrap().value, "MySQL 8.0 Reference Manual");
    let observed = |o: &str| Ok(vec![o.parse().unwrap()]);
    assert_eq!(judge(p, Backend::Mysql, v("9.7.4").as_ref(), &observed("rows:(2),(1)")), Verdict::Pass, "rows compared unordered");
    assert!(matches!(judge(p, Backend::Mysql, v("9.7.4").as_ref(), &observed("rows:(2)")), Verdict::Fail { .. }));
    assert_eq!(judge(p, Backend::Postgres, v("17.2").as_ref(), &observed("error:serialization_failure")), Verdict::Pass);
    assert!(matches!(judge(p, Backend::Postgres, v("17.2").as_ref(), &observed("rows:(2)")), Verdict::Fail { .. }));
}

#[test]
fn sqlite_transaction_modes_are_variants_of_their_own_beside_the_isolation_levels() {
    use dbcompat::backends::Backend;
    use dbcompat::suite::{Action, Isolation};
    let suite = parse_ok(
        r#"area = "a"
[[probe]]
id = "g0"
asks = "?"
anomaly = { name = "G0", occurs = [["affected:1", "*"], ["blocked, then affected:1", "rows:(1)"]], read_only = true }
param.isolation = ["read committed", "serializable"]
param.sqlite = ["deferred delete", "immediate wal"]
setup = ["CREATE TABLE t (id INT)"]
sessions.a = { isolation = "param" }
sessions.b = { isolation = "param" }
[[probe.claim]]
source = "s"
section = "s"
text = "t"
predicts = { "postgres[read committed]" = ["affected:1", "rows:(1)"] }
[[probe.step]]
session = "a"
begin = true
sql = "UPDATE t SET id = 1"
outcome = true
[[probe.step]]
session = "b"
sql = "SELECT id FROM t"
outcome = true
[probe.expect]
postgres = ["affected:1", "rows:(1)"]
sqlite = ["affected:1", "rows:(1)"]
"#,
    );
    let ids: Vec<&str> = suite.probes.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["g0_read_committed", "g0_serializable", "g0_deferred_delete", "g0_immediate_wal"]);
    let (rc, deferred, immediate) = (&suite.probes[0], &suite.probes[2], &suite.probes[3]);
    // Isolation variants are not SQLite's; SQLite's variants are no other backend's.
    assert!(rc.not_applicable_for(Backend::Sqlite, None).is_some());
    assert!(rc.not_applicable_for(Backend::Postgres, None).is_none());
    for b in [Backend::Postgres, Backend::Mysql, Backend::Mariadb, Backend::Oracle] {
        assert!(immediate.not_applicable_for(b, None).is_some(), "{b}");
    }
    assert!(immediate.not_applicable_for(Backend::Sqlite, None).is_none());
    // The journal mode is set first; BEGIN IMMEDIATE replaces the harness's BEGIN.
    let sqlite_setup = |p: &dbcompat::suite::Probe| p.setup.for_backend(Backend::Sqlite).unwrap().iter().map(|t| t.to_string()).collect::<Vec<_>>();
    assert_eq!(sqlite_setup(deferred), ["PRAGMA journal_mode = DELETE", "CREATE TABLE t (id INT)"]);
    assert_eq!(sqlite_setup(immediate), ["PRAGMA journal_mode = WAL", "CREATE TABLE t (id INT)"]);
    assert!(deferred.steps[0].begin);
    assert!(!immediate.steps[0].begin);
    let Action::Sql(sql) = &immediate.steps[0].action else { panic!("a SQL step") };
    assert_eq!(sql.for_backend(Backend::Sqlite).unwrap().iter().map(|t| t.to_string()).collect::<Vec<_>>(), ["BEGIN IMMEDIATE", "UPDATE t SET id = 1"]);
    // `isolation = "param"` is SQLite's one level there.
    assert_eq!(immediate.sessions[1].isolation.for_backend(Backend::Sqlite), Some(Isolation::Serializable));
    // The anomaly, and claim predictions that hold in one variant only.
    let a = rc.anomaly.as_ref().unwrap();
    assert_eq!((a.name.as_str(), a.occurs.len(), a.read_only), ("G0", 2, true));
    assert_eq!(a.occurs[0][1], None);
    assert_eq!(rc.claims[0].predicts.len(), 1);
    assert!(suite.probes[1].claims[0].predicts.is_empty());
    let record = dbcompat::result::ProbeRecord::from_probe(immediate);
    let r = record.anomaly.unwrap();
    assert_eq!((r.probe.as_str(), r.level.as_deref()), ("g0", Some("immediate wal")));
}
