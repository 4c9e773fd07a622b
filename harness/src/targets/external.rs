//! Servers that already run (a managed database, a staging server), given by URL.
//! The URL's password goes into the connection and nowhere else: descriptions of the
//! target show the URL without it.

use url::Url;

use super::server::Endpoint;
use crate::backends::{Backend, UrlForm};
use crate::redact::{self, Parts};

/// Reads `postgres://user:pass@host:port/db`, `mysql://...` (`mariadb://` too), or
/// `oracle://user:pass@host:port/SERVICE`. The user and password end at the last `@`, so
/// a password may hold `@ / # ? : =` unencoded; `?password=` is read when the userinfo
/// has none. Errors show the URL through [`redact::url`].
pub fn parse_url(backend: Backend, text: &str) -> Result<Endpoint, String> {
    let text = text.trim();
    let parts = Parts::split(text);
    let Some(scheme) = parts.scheme else {
        return Err(format!("not a URL (expected SCHEME://USER:PASSWORD@HOST/DATABASE): {}", redact::url(text)));
    };
    let dialect = backend.dialect();
    let Some(UrlForm { schemes, default_port }) = dialect.url() else {
        return Err(format!("{backend} is not reached by URL; use launch = \"embedded\" or \"library\""));
    };
    if !schemes.contains(&scheme) {
        return Err(format!("a {backend} URL starts with {}://, not {scheme}://", schemes[0]));
    }
    // Host, port and path only: the secrets are not in what the URL parser sees.
    let location = Url::parse(&format!("{scheme}://{}", parts.location)).map_err(|e| format!("not a URL ({e}): {}", redact::url(text)))?;
    let host = location.host_str().filter(|h| !h.is_empty()).ok_or("the URL has no host")?.to_string();
    let (user, password) = match parts.userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
        None | Some(("", _)) => return Err("the URL has no user name".into()),
        Some((user, password)) => (redact::decode(user), redact::decode(password)),
    };
    let password = if password.is_empty() { query_password(parts.query).unwrap_or_default() } else { password };
    dialect.check_password(&password)?;
    let database = location.path().trim_start_matches('/');
    Ok(Endpoint {
        host,
        port: location.port().unwrap_or(default_port),
        user,
        password,
        database: (!database.is_empty()).then(|| redact::decode(database)),
    })
}

/// The `password` query parameter, as libpq reads it.
fn query_password(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|p| p.split_once('=').filter(|(k, _)| redact::decode(k).eq_ignore_ascii_case("password")).map(|(_, v)| redact::decode(v)))
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
    fn unencoded_special_characters_stay_in_the_password() {
        for password in ["pa=ss", "pa@ss", "pa/ss", "pa#ss", "pa?ss", "pa:ss"] {
            let e = parse_url(Backend::Postgres, &format!("postgres://app:{password}@db.example:6543/prod")).unwrap();
            assert_eq!((e.host.as_str(), e.port, e.user.as_str(), e.password.as_str()), ("db.example", 6543, "app", password));
            assert_eq!(e.database.as_deref(), Some("prod"));
        }
    }

    #[test]
    fn the_password_parameter_is_read_when_the_userinfo_has_none() {
        let e = parse_url(Backend::Postgres, "postgres://app@h/db?sslmode=disable&password=s%26cret").unwrap();
        assert_eq!(e.password, "s&cret");
    }

    #[test]
    fn an_oracle_password_with_a_double_quote_is_refused() {
        let e = parse_url(Backend::Oracle, "oracle://system:top%22secret@ora/FREEPDB1").unwrap_err();
        assert!(e.contains("double quote") && !e.contains("secret\""), "{e}");
    }

    #[test]
    fn malformed_urls_never_show_the_password() {
        for text in ["u:topsecret@h/db", "postgres://u:topsecret@h:99999999/db", "postgres://u:topsecret@[bad/db"] {
            let e = parse_url(Backend::Postgres, text).unwrap_err();
            assert!(!e.contains("topsecret"), "{e}");
        }
    }

    #[test]
    fn the_endpoint_debug_form_has_no_password() {
        let e = parse_url(Backend::Postgres, "postgres://app:topsecret@h/db").unwrap();
        assert!(!format!("{e:?}").contains("topsecret"));
    }
}
