//! No password given to a run appears in anything the run writes: stdout, stderr, the
//! results file and every page of the report. Each run is planted with a distinctive
//! password in one position and points at 127.0.0.1:1, which refuses connections, so no
//! server is needed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every planted password contains this; it must appear nowhere.
const PLANT: &str = "PLANT";

/// A probe every server backend has, so each target plans a case or two.
const FILTER: &str = "autoincrement::explicit_high_id_moves_counter";

struct Scenario {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// A matrix file's text; the repository's matrix otherwise.
    matrix: Option<String>,
}

fn target(arg: &str) -> Scenario {
    Scenario { name: "", args: vec!["-t".into(), arg.into()], env: vec![], matrix: None }
}

fn external_matrix(key_and_value: &str) -> String {
    format!("[[target]]\nname = \"staging\"\nbackend = \"postgres\"\nlaunch = \"external\"\n{key_and_value}\ndefault = true\n")
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "userinfo", ..target("postgres=postgres://u:PLANTuser@127.0.0.1:1/db") },
        Scenario { name: "password parameter", ..target("postgres=postgres://u@127.0.0.1:1/db?sslmode=disable&password=PLANTparam") },
        Scenario { name: "sslpassword parameter", ..target("postgres=postgres://u:x@127.0.0.1:1/db?sslpassword=PLANTssl") },
        Scenario {
            name: "unencoded = @ # / in the password",
            ..target("postgres=postgres://u:PLANTa=PLANTb@PLANTc#PLANTd/PLANTe@127.0.0.1:1/db")
        },
        Scenario { name: "unencoded ? : in the password", ..target("mysql=mysql://root:PLANTf?PLANTg:PLANTh@127.0.0.1:1/db") },
        Scenario { name: "BACKEND=URL without ://", ..target("postgres=u:PLANTnoscheme@127.0.0.1:1/db") },
        Scenario { name: "BACKEND=URL with a bad port", ..target("mariadb=mariadb://root:PLANTport@127.0.0.1:99999/db") },
        Scenario { name: "a URL where a BACKEND=URL was expected", ..target("postgres://u:PLANTbare@127.0.0.1:1/db?password=PLANTbare2") },
        Scenario { name: "Oracle", ..target("oracle=oracle://system:PLANTora@127.0.0.1:1/FREEPDB1") },
        Scenario {
            name: "matrix url entry",
            args: vec![],
            env: vec![],
            matrix: Some(external_matrix("url = \"postgres://u:PLANTmatrix@127.0.0.1:1/db\"")),
        },
        Scenario {
            name: "matrix url_env entry",
            args: vec![],
            env: vec![("DBCOMPAT_TEST_SECRET_URL", "postgres://u:PLANTenv%40x@127.0.0.1:1/db?password=PLANTenv2".into())],
            matrix: Some(external_matrix("url_env = \"DBCOMPAT_TEST_SECRET_URL\"")),
        },
        Scenario {
            name: "matrix url_env entry that is not a URL",
            args: vec![],
            env: vec![("DBCOMPAT_TEST_SECRET_URL", "u:PLANTenvbad@127.0.0.1:1/db".into())],
            matrix: Some(external_matrix("url_env = \"DBCOMPAT_TEST_SECRET_URL\"")),
        },
    ]
}

/// Runs one scenario (`run --html`, then `list targets` and `check`) and returns every
/// output with where it came from.
fn outputs(s: &Scenario, dir: &Path) -> Vec<(String, String)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let matrix = match &s.matrix {
        Some(text) => {
            let path = dir.join("matrix.toml");
            std::fs::write(&path, text).unwrap();
            path
        }
        None => repo.join("matrix.toml"),
    };
    let out = dir.join("out");
    let mut found = Vec::new();
    let commands: [Vec<String>; 3] = [
        [vec!["run".to_string(), FILTER.into(), "--html".into(), "--out".into(), out.display().to_string()], s.args.clone()].concat(),
        vec!["list".into(), "targets".into()],
        vec!["check".into()],
    ];
    for args in commands {
        let o = Command::new(env!("CARGO_BIN_EXE_dbcompat"))
            .arg("--matrix")
            .arg(&matrix)
            .arg("--suites")
            .arg(repo.join("suites"))
            .args(&args)
            .envs(s.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("dbcompat runs");
        let what = args[0].clone();
        found.push((format!("{what}: stdout"), String::from_utf8_lossy(&o.stdout).into_owned()));
        found.push((format!("{what}: stderr"), String::from_utf8_lossy(&o.stderr).into_owned()));
    }
    for file in files_under(&out) {
        found.push((file.display().to_string(), String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned()));
    }
    found
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { files_under(&e.path()) } else { vec![e.path()] })
        .collect()
}

#[test]
fn no_planted_password_appears_in_any_output() {
    let tmp = tempfile::tempdir().unwrap();
    // Each run waits out its connection attempts (about 30 s): all at once.
    let leaks: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = scenarios()
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let dir = tmp.path().join(i.to_string());
                std::fs::create_dir_all(&dir).unwrap();
                scope.spawn(move || {
                    let found = outputs(&s, &dir);
                    // The runs really ran (or were refused), so there was something to leak.
                    assert!(found.iter().any(|(_, text)| text.contains("error") || text.contains("not run")), "{}: {found:?}", s.name);
                    found
                        .into_iter()
                        .filter(|(_, text)| text.contains(PLANT))
                        .map(|(place, text)| {
                            let line = text.lines().find(|l| l.contains(PLANT)).unwrap_or_default().to_string();
                            format!("{}: {place}: {line}", s.name)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    assert!(leaks.is_empty(), "planted passwords leaked:\n{}", leaks.join("\n"));
}
