//! File names and anchors for ids that come from a results file.
//!
//! A results file is input, so its ids are not trusted: only `[a-z0-9_.~-]` ever reaches
//! a path or a URL fragment, and two distinct ids never share a name (a lossy mapping is
//! disambiguated by a hash of the original id, then by a counter).

use std::collections::{HashMap, HashSet};

use crate::backends::Backend;

/// Ids longer than this are shortened (file names have a length limit).
const MAX_CLEAN_LEN: usize = 64;
/// How much of an unclean id stays readable in front of its hash.
const READABLE_PREFIX: usize = 40;

/// The id itself when it is already a safe name, else a readable prefix plus a hash.
/// Safe names are lowercase, so a case-insensitive file system cannot merge two of them.
pub(crate) fn slug(raw: &str) -> String {
    // Dots are fine inside a name (`sqlite-3.54`), never first (`..`, hidden files).
    let clean = raw.len() <= MAX_CLEAN_LEN
        && raw.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if clean {
        return raw.to_string();
    }
    let readable: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '_' })
        .take(READABLE_PREFIX)
        .collect();
    let readable = readable.trim_matches(|c| c == '_' || c == '-');
    // `~` never occurs in a clean slug, so a hashed name cannot equal a clean one.
    format!("{readable}~{:012x}", fnv1a(raw) & 0xffff_ffff_ffff)
}

/// FNV-1a, 64 bit: stable across runs and platforms (unlike `DefaultHasher`).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The names every page uses, decided once so that links and files agree.
#[derive(Debug, Default)]
pub(crate) struct Names {
    probes: HashMap<String, String>,
    targets: HashMap<String, String>,
}

impl Names {
    pub fn new<'a>(probe_ids: impl IntoIterator<Item = &'a str>, target_ids: impl IntoIterator<Item = &'a str>) -> Names {
        Names { probes: unique_slugs(probe_ids), targets: unique_slugs(target_ids) }
    }

    fn probe_slug(&self, id: &str) -> String {
        self.probes.get(id).cloned().unwrap_or_else(|| slug(id))
    }

    /// `probe-<slug>.html`
    pub fn probe_page(&self, id: &str) -> String {
        format!("probe-{}.html", self.probe_slug(id))
    }

    /// The anchor of a target's section on a probe page: `t-<slug>`.
    pub fn target_anchor(&self, id: &str) -> String {
        format!("t-{}", self.targets.get(id).cloned().unwrap_or_else(|| slug(id)))
    }

    /// A probe's anchor on pages that list many probes (claims, backend pages).
    pub fn probe_anchor(&self, id: &str) -> String {
        format!("p-{}", self.probe_slug(id))
    }

    pub fn backend_page(backend: Backend) -> String {
        format!("backend-{}.html", backend.name())
    }
}

fn unique_slugs<'a>(ids: impl IntoIterator<Item = &'a str>) -> HashMap<String, String> {
    let mut by_id = HashMap::new();
    let mut used = HashSet::new();
    for id in ids {
        if by_id.contains_key(id) {
            continue;
        }
        let base = slug(id);
        let mut name = base.clone();
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{base}~{n}");
            n += 1;
        }
        by_id.insert(id.to_string(), name);
    }
    by_id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_safe(name: &str) -> bool {
        !name.is_empty() && !name.starts_with('.') && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.~-".contains(&b))
    }

    #[test]
    fn clean_ids_stay_as_they_are() {
        assert_eq!(slug("select_for_update_nowait"), "select_for_update_nowait");
        assert_eq!(slug("postgres-17"), "postgres-17");
        assert_eq!(slug("sqlite-3.54"), "sqlite-3.54");
    }

    #[test]
    fn hostile_ids_become_safe_and_distinct() {
        let hostile = ["../../x", "..", ".", "", "/etc/passwd", "<script>", "A", "a/b", "a\\b", "é", &"x".repeat(300)];
        let slugs: Vec<String> = hostile.iter().map(|h| slug(h)).collect();
        for s in &slugs {
            assert!(is_safe(s), "unsafe slug {s:?}");
            assert!(s.len() < 80);
        }
        let distinct: HashSet<&String> = slugs.iter().collect();
        assert_eq!(distinct.len(), slugs.len());
    }

    #[test]
    fn colliding_ids_get_distinct_names() {
        let names = Names::new(["a", "a", "b"], ["x"]);
        assert_eq!(names.probe_page("a"), "probe-a.html");
        assert_eq!(names.probe_page("b"), "probe-b.html");
        let forced = unique_slugs(["same", "same"]);
        assert_eq!(forced.len(), 1);
    }
}
