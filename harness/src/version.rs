//! Server versions and version ranges (`>=8.0.1`, `>=10.3,<10.6`).
//!
//! A range is a conjunction of comparisons, i.e. one interval; that makes "do two
//! expectation keys overlap?" a question the loader can answer without any server.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A dotted numeric version. Parsing takes the leading numbers of what a server
/// reports, so `10.11.6-MariaDB-0+deb12u1` is 10.11.6.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Version(pub Vec<u64>);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let start = text.find(|c: char| c.is_ascii_digit())?;
        let mut parts = Vec::new();
        for piece in text[start..].split('.') {
            let digits: String = piece.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                break;
            }
            parts.push(digits.parse().ok()?);
            if digits.len() != piece.len() {
                break;
            }
        }
        (!parts.is_empty()).then_some(Version(parts))
    }

    /// `major.minor`, the form used in target names (`sqlite-3.51`).
    pub fn short(&self) -> String {
        self.0.iter().take(2).map(u64::to_string).collect::<Vec<_>>().join(".")
    }
}

impl Ord for Version {
    /// Missing components count as zero: 8.0 == 8.0.0 < 8.0.1.
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().max(other.0.len());
        (0..n)
            .map(|i| self.0.get(i).unwrap_or(&0).cmp(other.0.get(i).unwrap_or(&0)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&s.join("."))
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.to_string()
    }
}

impl TryFrom<String> for Version {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Version::parse(&s).ok_or_else(|| format!("not a version: {s}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Bound {
    Unbounded,
    Inclusive(Version),
    Exclusive(Version),
}

/// An interval of versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    lower: Bound,
    upper: Bound,
    text: String,
}

impl VersionRange {
    pub fn any() -> Self {
        VersionRange { lower: Bound::Unbounded, upper: Bound::Unbounded, text: String::new() }
    }

    pub fn is_any(&self) -> bool {
        self.lower == Bound::Unbounded && self.upper == Bound::Unbounded
    }

    /// Parses `>=8.0.1`, `<10.6`, `>=10.3,<10.6`, `=17` (an exact version matches that
    /// prefix: `=17` is every 17.x).
    pub fn parse(text: &str) -> Result<VersionRange, String> {
        let mut range = VersionRange { text: text.trim().to_string(), ..VersionRange::any() };
        if text.trim().is_empty() {
            return Err("an empty version range".into());
        }
        for part in text.split(',') {
            let part = part.trim();
            let (op, rest) = ["<=", ">=", "<", ">", "=="]
                .iter()
                .chain(std::iter::once(&"="))
                .find_map(|op| part.strip_prefix(op).map(|rest| (*op, rest.trim())))
                .ok_or_else(|| format!("`{part}` does not start with one of <, <=, >, >=, ="))?;
            let v = Version::parse(rest)
                .filter(|v| v.to_string() == rest)
                .ok_or_else(|| format!("`{rest}` is not a version like 8.0 or 10.11.6"))?;
            match op {
                ">=" => range.lower = tighter_lower(range.lower, Bound::Inclusive(v)),
                ">" => range.lower = tighter_lower(range.lower, Bound::Exclusive(v)),
                "<=" => range.upper = tighter_upper(range.upper, Bound::Inclusive(v)),
                "<" => range.upper = tighter_upper(range.upper, Bound::Exclusive(v)),
                _ => {
                    // `=17` means 17 <= v < 18; `=10.11` means 10.11 <= v < 10.12.
                    let mut next = v.clone();
                    *next.0.last_mut().expect("parsed versions are not empty") += 1;
                    range.lower = tighter_lower(range.lower, Bound::Inclusive(v));
                    range.upper = tighter_upper(range.upper, Bound::Exclusive(next));
                }
            }
        }
        if range.is_empty() {
            return Err(format!("`{text}` matches no version"));
        }
        Ok(range)
    }

    pub fn contains(&self, v: &Version) -> bool {
        let above = match &self.lower {
            Bound::Unbounded => true,
            Bound::Inclusive(l) => v >= l,
            Bound::Exclusive(l) => v > l,
        };
        let below = match &self.upper {
            Bound::Unbounded => true,
            Bound::Inclusive(u) => v <= u,
            Bound::Exclusive(u) => v < u,
        };
        above && below
    }

    fn is_empty(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Bound::Inclusive(l), Bound::Inclusive(u)) => l > u,
            (Bound::Inclusive(l) | Bound::Exclusive(l), Bound::Exclusive(u)) | (Bound::Exclusive(l), Bound::Inclusive(u)) => l >= u,
            _ => false,
        }
    }

    /// Each bound the range was written with (`>=`, `>`, `<=`, `<`), alone as a
    /// one-sided range: `>=10.3,<10.6` gives `>=10.3` and `<10.6`. These are where a
    /// selector says behaviour changes. An exact `=17` gives none: it names versions,
    /// not a boundary.
    pub fn edges(&self) -> Vec<(Version, VersionRange)> {
        if self.text.split(',').any(|part| !part.trim().starts_with(['<', '>'])) {
            return Vec::new();
        }
        let one = |lower: Bound, upper: Bound, op: &str, v: &Version| (v.clone(), VersionRange { lower, upper, text: format!("{op}{v}") });
        let mut edges = Vec::new();
        match &self.lower {
            Bound::Inclusive(v) => edges.push(one(Bound::Inclusive(v.clone()), Bound::Unbounded, ">=", v)),
            Bound::Exclusive(v) => edges.push(one(Bound::Exclusive(v.clone()), Bound::Unbounded, ">", v)),
            Bound::Unbounded => {}
        }
        match &self.upper {
            Bound::Inclusive(v) => edges.push(one(Bound::Unbounded, Bound::Inclusive(v.clone()), "<=", v)),
            Bound::Exclusive(v) => edges.push(one(Bound::Unbounded, Bound::Exclusive(v.clone()), "<", v)),
            Bound::Unbounded => {}
        }
        edges
    }

    /// Whether some version lies in both ranges.
    pub fn overlaps(&self, other: &VersionRange) -> bool {
        let both = VersionRange {
            lower: tighter_lower(self.lower.clone(), other.lower.clone()),
            upper: tighter_upper(self.upper.clone(), other.upper.clone()),
            text: String::new(),
        };
        !both.is_empty()
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn tighter_lower(a: Bound, b: Bound) -> Bound {
    match (&a, &b) {
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
        (Bound::Inclusive(x) | Bound::Exclusive(x), Bound::Inclusive(y) | Bound::Exclusive(y)) => match x.cmp(y) {
            Ordering::Less => b,
            Ordering::Greater => a,
            Ordering::Equal => if matches!(a, Bound::Exclusive(_)) { a } else { b },
        },
    }
}

fn tighter_upper(a: Bound, b: Bound) -> Bound {
    match (&a, &b) {
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
        (Bound::Inclusive(x) | Bound::Exclusive(x), Bound::Inclusive(y) | Bound::Exclusive(y)) => match x.cmp(y) {
            Ordering::Less => a,
            Ordering::Greater => b,
            Ordering::Equal => if matches!(a, Bound::Exclusive(_)) { a } else { b },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_the_written_bounds_alone_and_exact_versions_have_none() {
        let texts = |r: &str| VersionRange::parse(r).unwrap().edges().into_iter().map(|(v, e)| format!("{v} {e}")).collect::<Vec<_>>();
        assert_eq!(texts(">=10.3,<10.6"), ["10.3 >=10.3", "10.6 <10.6"]);
        assert_eq!(texts("<=3.34"), ["3.34 <=3.34"]);
        assert!(texts("=17").is_empty());
        let (_, below) = &VersionRange::parse("<10.6").unwrap().edges()[0];
        assert!(below.contains(&Version::parse("10.5.29").unwrap()) && !below.contains(&Version::parse("10.6").unwrap()));
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_parse_from_server_banners() {
        assert_eq!(v("10.11.6-MariaDB-0+deb12u1"), Version(vec![10, 11, 6]));
        assert_eq!(v("PostgreSQL 17.2 (Debian 17.2-1) on x86_64"), Version(vec![17, 2]));
        assert_eq!(v("8.0.36"), Version(vec![8, 0, 36]));
        assert_eq!(v("Oracle Database 23ai Free Release 23.0.0.0.0"), Version(vec![23]));
        assert_eq!(Version::parse("no digits"), None);
    }

    #[test]
    fn missing_components_compare_as_zero() {
        assert_eq!(v("8.0"), v("8.0.0"));
        assert!(v("8.0") < v("8.0.1"));
        assert!(v("10.11") > v("10.6"));
    }

    #[test]
    fn ranges_contain_what_they_say() {
        let r = VersionRange::parse(">=10.3,<10.6").unwrap();
        assert!(!r.contains(&v("10.2.44")));
        assert!(r.contains(&v("10.3")));
        assert!(r.contains(&v("10.5.99")));
        assert!(!r.contains(&v("10.6.0")));
        let exact = VersionRange::parse("=17").unwrap();
        assert!(exact.contains(&v("17.4")));
        assert!(!exact.contains(&v("18")));
        assert!(VersionRange::parse("<=8.0.1").unwrap().contains(&v("8.0.1")));
        assert!(!VersionRange::parse(">8.0.1").unwrap().contains(&v("8.0.1")));
    }

    #[test]
    fn bad_ranges_are_rejected_with_a_reason() {
        assert!(VersionRange::parse("~8").unwrap_err().contains("does not start"));
        assert!(VersionRange::parse(">=8.x").unwrap_err().contains("not a version"));
        assert!(VersionRange::parse(">=10,<9").unwrap_err().contains("matches no version"));
        assert!(VersionRange::parse("").is_err());
        assert!(VersionRange::parse(",").is_err());
    }

    #[test]
    fn overlap_is_decided_on_intervals() {
        let a = VersionRange::parse(">=8.0.1").unwrap();
        let b = VersionRange::parse("<8.0.1").unwrap();
        let c = VersionRange::parse(">=8.4,<9").unwrap();
        assert!(!a.overlaps(&b));
        assert!(a.overlaps(&c));
        assert!(VersionRange::any().overlaps(&b));
        assert!(!VersionRange::parse("<=8").unwrap().overlaps(&VersionRange::parse(">8").unwrap()));
    }
}
