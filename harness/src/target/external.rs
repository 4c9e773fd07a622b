//! Servers that already run (a managed database, a staging server), given by URL.
//! The URL's password goes into the connection and nowhere else: descriptions of the
//! target show the URL without it.

use url::Url;

use super::server::Endpoint;
use crate::backend::Backend;

/// Reads `postgres://user:pass@host:port/db`, `mysql://...` (`mariadb://` too), or
/// `oracle://user:pass@host:port/SERVICE`.
pub fn parse_url(backend: Backend, text: &str) -> Result<Endpoint, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e}): {}", redact(text)))?;
    let (schemes, default_port): (&[&str], u16) = match backend {
        Backend::Postgres => (&["postgres", "postgresql"], 5432),
        Backend::Mysql | Backend::Mariadb => (&["mysql", "mariadb"], 3306),
        Backend::Oracle => (&["oracle"], 1521),
        Backend::Sqlite => return Err("SQLite is not reached by URL; use launch = \"library\"".into()),
    };
    if !schemes.contains(&url.scheme()) {
        return Err(format!("a {backend} URL starts with {}://, not {}://", schemes[0], url.scheme()));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("the URL has no host")?.to_string();
    let user = match url.username() {
        "" => return Err("the URL has no user name".into()),
        u => percent_decode(u),
    };
    let database = url.path().trim_start_matches('/');
    Ok(Endpoint {
        host,
        port: url.port().unwrap_or(default_port),
        user,
        password: url.password().map(percent_decode).unwrap_or_default(),
        database: (!database.is_empty()).then(|| percent_decode(database)),
    })
}

/// The URL with its password replaced, for logs and reports.
pub fn redact(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        // Not a URL: show nothing that might be a secret.
        Err(_) => "<unparsable URL>".into(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 && s.is_char_boundary(i + 1) && s.is_char_boundary(i + 3) {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_endpoints() {
        let e = parse_url(Backend::Postgres, "postgres://app:s%40cret@db.example:6543/prod").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.user.as_str(), e.password.as_str()), ("db.example", 6543, "app", "s@cret"));
        assert_eq!(e.database.as_deref(), Some("prod"));
        let o = parse_url(Backend::Oracle, "oracle://system:pw@ora:1522/FREEPDB1").unwrap();
        assert_eq!((o.port, o.database.as_deref()), (1522, Some("FREEPDB1")));
        let m = parse_url(Backend::Mariadb, "mysql://root@127.0.0.1").unwrap();
        assert_eq!((m.port, m.password.as_str(), m.database), (3306, "", None));
    }

    #[test]
    fn bad_urls_are_refused_without_showing_the_password() {
        let e = parse_url(Backend::Postgres, "mysql://u:topsecret@h/db").unwrap_err();
        assert!(e.contains("postgres://") && !e.contains("topsecret"), "{e}");
        assert!(parse_url(Backend::Postgres, "postgres://h/db").unwrap_err().contains("no user"));
        assert!(!parse_url(Backend::Postgres, "::not a url topsecret").unwrap_err().contains("topsecret"));
    }

    #[test]
    fn redaction_hides_the_password() {
        assert_eq!(redact("postgres://app:topsecret@h:5432/db"), "postgres://app:***@h:5432/db");
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
        assert!(!redact("garbage topsecret").contains("topsecret"));
    }

    #[test]
    fn the_endpoint_debug_form_has_no_password() {
        let e = parse_url(Backend::Postgres, "postgres://app:topsecret@h/db").unwrap();
        assert!(!format!("{e:?}").contains("topsecret"));
    }
}
