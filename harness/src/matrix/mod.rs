//! `matrix.toml`: which targets exist, how each is obtained, which run by default.

use std::path::{Path, PathBuf};

use crate::backends::Backend;
use crate::source::reader::{Reader, Table};
use crate::source::{Diagnostics, SourceFile};

#[derive(Debug, Clone)]
pub struct Matrix {
    pub path: PathBuf,
    pub targets: Vec<TargetSpec>,
}

#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Unique name, used to choose targets (`--target postgres-17`).
    pub name: String,
    pub backend: Backend,
    pub launch: Launch,
    /// Runs when no target is named on the command line.
    pub default: bool,
    pub enabled: bool,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum Launch {
    /// In process (SQLite).
    Embedded,
    /// SQLite from a directory holding another `libsqlite3.so.0`, loaded at run time.
    Library { dir: PathBuf },
    Container { image: String, tag: String, startup_timeout_s: u64, args: Vec<String> },
    /// A server that already runs. In a matrix file the URL comes from an environment
    /// variable, so that passwords stay out of files; on the command line it is given.
    External { url: UrlSource },
}

#[derive(Clone)]
pub enum UrlSource {
    Env(String),
    Given(String),
}

impl UrlSource {
    /// The URL, its secrets remembered so that no output shows them.
    pub fn resolve(&self) -> Result<String, String> {
        let url = match self {
            UrlSource::Env(var) => std::env::var(var).map_err(|_| format!("the environment variable {var} is not set"))?,
            UrlSource::Given(url) => url.clone(),
        };
        crate::redact::remember_url(&url);
        Ok(url)
    }
}

/// Never shows a given URL's password, not even in debug output.
impl std::fmt::Debug for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlSource::Env(var) => write!(f, "${var}"),
            UrlSource::Given(url) => f.write_str(&crate::redact::url(url)),
        }
    }
}

impl Launch {
    pub fn describe(&self) -> String {
        match self {
            Launch::Embedded => "embedded".into(),
            Launch::Library { dir } => format!("library {}", dir.display()),
            Launch::Container { image, tag, .. } => format!("container {image}:{tag}"),
            Launch::External { url } => format!("external {url:?}"),
        }
    }
}

impl TargetSpec {
    /// `--target postgres=postgres://user:pass@host/db`: an external target from the
    /// command line, named after its backend. Errors never echo the argument: it may
    /// hold a password.
    pub fn from_url_argument(arg: &str) -> Result<TargetSpec, String> {
        const EXPECTED: &str = "expected BACKEND=URL, e.g. postgres=postgres://user:pass@host/db";
        let (backend, url) = arg.split_once('=').ok_or(EXPECTED)?;
        crate::redact::remember_url(url);
        if backend.contains([':', '/', '@']) {
            // A URL with no `BACKEND=` before it, cut at a `=` of its query.
            crate::redact::remember_url(arg);
            return Err(EXPECTED.into());
        }
        let backend: Backend = backend.trim().parse()?;
        Ok(TargetSpec {
            name: format!("{backend}-external"),
            backend,
            launch: Launch::External { url: UrlSource::Given(url.trim().to_string()) },
            default: false,
            enabled: true,
            line: 0,
        })
    }
}

impl Matrix {
    pub fn load(path: &Path) -> Result<Matrix, Diagnostics> {
        let file = SourceFile::read(path).map_err(|d| Diagnostics(vec![d]))?;
        let (matrix, diags) = parse(&file);
        if diags.is_empty() { Ok(matrix) } else { Err(diags) }
    }

    pub fn find(&self, name: &str) -> Option<&TargetSpec> {
        self.targets.iter().find(|t| t.name == name)
    }
}

pub fn parse(file: &SourceFile) -> (Matrix, Diagnostics) {
    let reader = Reader::new(file);
    let doc = reader.parse();
    let mut top = reader.table(doc.get_ref(), doc.span(), "the matrix file");
    let target_values = top.get("target");
    top.finish();
    let mut targets: Vec<TargetSpec> = Vec::new();
    match target_values {
        Some(v) => {
            for t in reader.tables(v, "a target") {
                let span = t.span.clone();
                if let Some(spec) = read_target(t) {
                    if targets.iter().any(|x| x.name == spec.name) {
                        reader.error(span, format!("duplicate target name `{}`", spec.name), Some("a name used once".into()));
                    } else {
                        targets.push(spec);
                    }
                }
            }
        }
        None => reader.error(0..0, "the matrix has no targets", Some("at least one [[target]]".into())),
    }
    (Matrix { path: file.path.clone(), targets }, reader.into_diagnostics())
}

fn read_target(mut t: Table<'_, '_>) -> Option<TargetSpec> {
    let reader = t.reader;
    let line = reader.file.line_col(t.span.start).0;
    let name = t.required_str("name");
    let backend = t.required_str("backend").and_then(|b| match b.value.parse::<Backend>() {
        Ok(x) => Some(x),
        Err(e) => {
            reader.error(b.span, e, Some(format!("one of: {}", Backend::names())));
            None
        }
    });
    let launch_kind = t.required_str("launch");
    let image = t.str("image");
    let tag = t.str("tag");
    // `run` adds it to the clock: past a day it is a typo, and past the clock's range a crash.
    let startup = t.u64_in("startup_timeout_s", 1..=86_400, "seconds (at most a day)").map(|v| v.value);
    let args = t.strings("args").unwrap_or_default();
    let url_env = t.str("url_env");
    let url = t.str("url");
    if let Some(u) = &url {
        // The file would hold the password; the diagnostic (which shows the line) must not.
        crate::redact::remember_url(&u.value);
        reader.error(u.span.clone(), "a URL in the matrix file would keep its password in the file", Some("url_env = \"VARIABLE\", naming an environment variable that holds the URL".into()));
    }
    let library = t.str("library");
    let default = t.bool("default").unwrap_or(false);
    let enabled = t.bool("enabled").unwrap_or(true);
    let head = t.span.start..t.span.start;
    let launch = match launch_kind.as_ref().map(|l| l.value.as_str()) {
        Some("embedded") => {
            if backend.is_some_and(|b| !b.dialect().embedded()) {
                reader.error(head, "only SQLite can be embedded", Some("launch = \"container\" or \"external\" for servers".into()));
                None
            } else {
                Some(Launch::Embedded)
            }
        }
        Some("library") => match (library, backend) {
            (Some(dir), Some(b)) if b.dialect().embedded() => Some(Launch::Library { dir: PathBuf::from(dir.value) }),
            (None, _) => {
                t.missing("library", "the directory holding libsqlite3.so.0");
                None
            }
            _ => {
                reader.error(head, "only SQLite is loaded from a library", Some("backend = \"sqlite\"".into()));
                None
            }
        },
        Some("container") => match (image, tag) {
            (Some(image), Some(tag)) => Some(Launch::Container {
                image: image.value,
                tag: tag.value,
                startup_timeout_s: startup.unwrap_or(180),
                args: args.into_iter().map(|a| a.value).collect(),
            }),
            _ => {
                t.missing("image` and `tag", "the container image and tag");
                None
            }
        },
        Some("external") => match url_env {
            Some(u) => Some(Launch::External { url: UrlSource::Env(u.value) }),
            None if url.is_some() => None,
            None => {
                t.missing("url_env", "the environment variable holding the server's URL");
                None
            }
        },
        Some(_) => {
            let l = launch_kind.as_ref().expect("matched Some");
            reader.error(l.span.clone(), format!("unknown launch `{}`", l.value), Some("one of: embedded, library, container, external".into()));
            None
        }
        None => None,
    };
    t.finish();
    Some(TargetSpec { name: name?.value, backend: backend?, launch: launch?, default, enabled, line })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_with_every_launch_kind_loads() {
        let text = r#"
[[target]]
name = "sqlite"
backend = "sqlite"
launch = "embedded"
default = true

[[target]]
name = "postgres-17"
backend = "postgres"
launch = "container"
image = "postgres"
tag = "17"
args = ["-c", "fsync=off"]

[[target]]
name = "staging"
backend = "oracle"
launch = "external"
url_env = "STAGING_ORACLE_URL"
enabled = false
"#;
        let (m, d) = parse(&SourceFile::new("matrix.toml", text.into()));
        assert!(d.is_empty(), "{d}");
        assert_eq!(m.targets.len(), 3);
        assert!(m.targets[0].default);
        assert!(matches!(&m.targets[1].launch, Launch::Container { tag, .. } if tag == "17"));
        assert!(!m.targets[2].enabled);
    }

    #[test]
    fn a_url_in_the_matrix_is_refused_for_url_env() {
        let text = "[[target]]\nname = \"s\"\nbackend = \"postgres\"\nlaunch = \"external\"\nurl = \"postgres://u:MatrixPw@h/db\"\n";
        let (m, d) = parse(&SourceFile::new("matrix.toml", text.into()));
        assert!(m.targets.is_empty());
        assert_eq!(d.len(), 1, "{d}");
        let only = d.iter().next().unwrap();
        assert!(only.line == 5 && only.message.contains("password") && only.expected.as_deref().unwrap_or("").contains("url_env"), "{d}");
        // The rendered diagnostic quotes the line; the exit scrubs it.
        assert!(!crate::redact::text(&d.to_string()).contains("MatrixPw"));
    }

    #[test]
    fn a_url_argument_is_never_echoed() {
        for arg in ["postgres://u:ArgPw@h/db?password=ArgPw", "nosuch=u:ArgPw@h"] {
            let e = TargetSpec::from_url_argument(arg).unwrap_err();
            assert!(!e.contains("ArgPw"), "{e}");
        }
    }

    #[test]
    fn every_mistake_is_reported_with_its_line() {
        let text = "[[target]]\nname = \"a\"\nbackend = \"db2\"\nlaunch = \"embedded\"\n\n[[target]]\nname = \"b\"\nbackend = \"mysql\"\nlaunch = \"container\"\nimage = \"mysql\"\ntag = 8\ncolour = \"red\"\n";
        let (_, d) = parse(&SourceFile::new("matrix.toml", text.into()));
        let lines: Vec<usize> = d.iter().map(|x| x.line).collect();
        assert!(d.iter().any(|x| x.message.contains("unknown backend `db2`")), "{d}");
        assert!(d.iter().any(|x| x.message.contains("wrong type") && x.line == 11), "{d}");
        assert!(d.iter().any(|x| x.message.contains("unknown key `colour`") && x.line == 12), "{d}");
        assert!(lines.contains(&3), "{lines:?}");
    }
}
