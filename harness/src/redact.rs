//! No secret leaves the process.
//!
//! Two defences, both here:
//! - [`url`] shows a connection URL without its secrets: the userinfo password, every
//!   credential query parameter ([`CREDENTIAL_PARAMS`]) and whatever follows it. It never
//!   needs the URL to be well formed: a password with unencoded `@ / # ? : =` is hidden too.
//! - [`text`] scrubs any text of the secrets the run was given ([`remember_url`] is
//!   called wherever a URL enters: `UrlSource::resolve` and `-t BACKEND=URL`) and masks
//!   URLs found inside it, so that driver and server messages that echo a connection
//!   string are clean too.
//!
//! Text leaves the process at few places, and each scrubs there: the results file
//! (`RunResults::write`), the site with its Markdown and JUnit (`report::write_site`),
//! and the command line's stdout and stderr (`cli`), which scrubs the run's results
//! before printing them.

use std::sync::RwLock;

use percent_encoding::percent_decode_str;

/// Query parameters whose value is a credential (compared without case).
pub const CREDENTIAL_PARAMS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "sslpassword",
    "token",
    "access_token",
    "auth_token",
    "secret",
    "client_secret",
    "apikey",
    "api_key",
    "auth",
];

/// What replaces a secret.
pub const MASK: &str = "***";

/// Shorter secrets are only hidden inside URLs: scrubbing every "abc" from results would
/// destroy measured data.
pub const MIN_SCRUBBED_LEN: usize = 4;

/// Every secret given to this run, longest first (so a secret containing another is
/// replaced whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a secret so that [`text`] hides it wherever it appears.
pub fn remember(secret: &str) {
    if secret.chars().count() < MIN_SCRUBBED_LEN {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_string());
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Remembers every secret in a connection URL (or in what was meant to be one), as
/// written and percent-decoded.
pub fn remember_url(text: &str) {
    let parts = Parts::split(text);
    for secret in parts.secrets() {
        remember(secret);
        remember(&decode(secret));
    }
}

/// The URL with its secrets replaced by [`MASK`], for messages and reports. Something
/// without `scheme://` is not shown at all.
pub fn url(text: &str) -> String {
    let text = text.trim();
    let parts = Parts::split(text);
    let Some(scheme) = parts.scheme else { return "<not a URL: hidden>".into() };
    let mut out = format!("{scheme}://");
    if let Some(userinfo) = parts.userinfo {
        match userinfo.split_once(':') {
            Some((user, _)) if looks_like_user(user) => out.push_str(&format!("{user}:{MASK}@")),
            None if looks_like_user(userinfo) => out.push_str(&format!("{userinfo}@")),
            _ => out.push_str(&format!("{MASK}@")),
        }
    }
    out.push_str(parts.location);
    if let Some(query) = parts.query {
        out.push('?');
        out.push_str(&mask_query(query));
    }
    if let Some(fragment) = parts.fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The text with every remembered secret and every URL's secrets replaced.
pub fn text(text: &str) -> String {
    let mut out = text.to_string();
    for secret in SECRETS.read().unwrap_or_else(|p| p.into_inner()).iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    mask_urls_in(&out)
}

/// A connection URL cut where a reader of database URLs cuts it: the userinfo ends at
/// the last `@` (a password may hold any character), the location at `?` or `#`.
pub(crate) struct Parts<'a> {
    pub scheme: Option<&'a str>,
    pub userinfo: Option<&'a str>,
    /// Host, port and path.
    pub location: &'a str,
    /// Everything after the first `?` (a `#` in it is taken as part of a value).
    pub query: Option<&'a str>,
    /// After a `#` that comes before any `?`.
    pub fragment: Option<&'a str>,
}

impl<'a> Parts<'a> {
    pub fn split(text: &'a str) -> Parts<'a> {
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) if is_scheme(s) => (Some(s), rest),
            _ => (None, text),
        };
        let (userinfo, after) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (mut query, mut fragment) = (None, None);
        let location = match after.find(['?', '#']) {
            Some(i) => {
                if after[i..].starts_with('?') {
                    query = Some(&after[i + 1..]);
                } else {
                    fragment = Some(&after[i + 1..]);
                }
                &after[..i]
            }
            None => after,
        };
        Parts { scheme, userinfo, location, query, fragment }
    }

    /// The userinfo password and the values of credential parameters; a value is taken
    /// both up to the next `&` and to the end, in case it held an unencoded `&`.
    fn secrets(&self) -> Vec<&'a str> {
        let mut found = Vec::new();
        if let Some((_, password)) = self.userinfo.and_then(|u| u.split_once(':')) {
            found.push(password);
        }
        if let Some(query) = self.query {
            let mut rest = query;
            while !rest.is_empty() {
                let (param, next) = rest.split_once('&').unwrap_or((rest, ""));
                if let Some((key, value)) = param.split_once('=') {
                    if is_credential(key) {
                        found.push(value);
                        found.push(&rest[key.len() + 1..]);
                    }
                }
                rest = next;
            }
        }
        found.into_iter().filter(|s| !s.is_empty()).collect()
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// A user name has none of the characters that would mean the URL was cut wrongly.
fn looks_like_user(user: &str) -> bool {
    !user.contains(['/', '?', '#', '&', '=', '@'])
}

pub fn is_credential(key: &str) -> bool {
    let key = decode(key).to_ascii_lowercase();
    CREDENTIAL_PARAMS.contains(&key.as_str())
}

/// Keeps the parameters before the first credential and hides that one's value and
/// everything after it (the value may hold an unencoded `&`).
fn mask_query(query: &str) -> String {
    let mut kept: Vec<String> = Vec::new();
    for param in query.split('&') {
        let key = param.split_once('=').map_or(param, |(k, _)| k);
        if is_credential(key) {
            kept.push(format!("{key}={MASK}"));
            break;
        }
        kept.push(param.to_string());
    }
    kept.join("&")
}

/// Percent-decoded text (invalid UTF-8 replaced).
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Replaces each `scheme://...` in free text by its [`url`] form. A URL in text ends at
/// white space or a quote.
fn mask_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(sep) = rest.find("://") {
        let scheme_start = rest[..sep]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || "+-.".contains(*c))
            .last()
            .map_or(sep, |(i, _)| i);
        let end = rest[sep..].find(|c: char| c.is_whitespace() || "\"'`<>".contains(c)).map_or(rest.len(), |e| sep + e);
        if scheme_start == sep {
            out.push_str(&rest[..sep + 3]);
            rest = &rest[sep + 3..];
            continue;
        }
        out.push_str(&rest[..scheme_start]);
        out.push_str(&url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_userinfo_password_is_hidden() {
        assert_eq!(url("postgres://app:topsecret@h:5432/db"), "postgres://app:***@h:5432/db");
        assert_eq!(url("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(url("oracle://system:s%40cret@ora:1522/FREEPDB1"), "oracle://system:***@ora:1522/FREEPDB1");
    }

    #[test]
    fn credential_parameters_and_what_follows_them_are_hidden() {
        assert_eq!(url("postgres://h/db?sslmode=require&password=topsecret&x=1"), "postgres://h/db?sslmode=require&password=***");
        assert_eq!(url("postgres://u@h/db?SSLPassword=topsecret"), "postgres://u@h/db?SSLPassword=***");
        for key in CREDENTIAL_PARAMS {
            let shown = url(&format!("mysql://h/db?{key}=topsecret"));
            assert!(!shown.contains("topsecret"), "{key}: {shown}");
        }
        // An unencoded `&` or `#` in the value does not let its second half through.
        assert!(!url("postgres://h/db?password=top&secret").contains("secret"));
        assert!(!url("postgres://h/db?password=top#secret").contains("secret"));
    }

    #[test]
    fn unencoded_special_characters_in_the_password_hide_all_of_it() {
        for password in ["pa=ss", "pa@ss", "pa/ss", "pa#ss", "pa?ss", "pa:ss", "a@b/c#d?e:f=g"] {
            let shown = url(&format!("postgres://app:{password}@db.example:5432/prod"));
            assert_eq!(shown, "postgres://app:***@db.example:5432/prod", "{password}");
        }
    }

    #[test]
    fn malformed_urls_show_scheme_and_host_or_nothing() {
        assert_eq!(url("u:topsecret@h/db"), "<not a URL: hidden>");
        assert_eq!(url("topsecret"), "<not a URL: hidden>");
        // A cut that leaves something odd where the user name would be hides that too.
        assert_eq!(url("postgres://h/db?user=a@b"), "postgres://***@b");
        assert_eq!(url("postgres://app:top secret@h:99999/db"), "postgres://app:***@h:99999/db");
    }

    #[test]
    fn remembered_secrets_are_scrubbed_from_any_text() {
        remember_url("postgres://app:Pl%40ntedOne@h/db?token=PlantedTok");
        let t = text("FATAL: password authentication failed (Pl@ntedOne) token PlantedTok");
        assert!(!t.contains("Pl@ntedOne") && !t.contains("PlantedTok"), "{t}");
        remember_url("u:PlantedBare@h/db");
        assert!(!text("connect u:PlantedBare").contains("PlantedBare"));
    }

    #[test]
    fn urls_inside_text_are_masked() {
        let t = text("cannot connect to \"mysql://root:Unremembered@10.0.0.1:3306/x\": refused");
        assert_eq!(t, "cannot connect to \"mysql://root:***@10.0.0.1:3306/x\": refused");
        assert_eq!(text("see https://example.org/docs#limits and ://odd"), "see https://example.org/docs#limits and ://odd");
    }

    #[test]
    fn short_secrets_are_not_scrubbed_from_data() {
        remember("ab1");
        assert_eq!(text("rows:(ab1)"), "rows:(ab1)");
    }
}
