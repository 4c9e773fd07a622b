//! When the driver's observation and the client's agree.
//!
//! A client prints values without their types, so the client's values are all text.
//! Values are compared without their quoting (`'a'` equals `a`), NULL only equals
//! NULL, a number the driver gave equals the client's text of the same number (`1.0`
//! and `1`), a boolean equals PostgreSQL's `t`/`f`, bytes equal the client's hex
//! (`x'00ff'` and `0x00FF`). Everything else in an observation — its kind (rows,
//! affected count, error class), the number and order of rows, warnings and notices,
//! the tag — must be the same text.

/// One value of a `rows:` observation, as written.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Quoted(String),
    Bare(String),
}

/// An observation split around its rows: text before `rows:`, the rows, the text after.
struct Split<'a> {
    before: &'a str,
    rows: Vec<Vec<Val>>,
    after: &'a str,
}

fn split(text: &str) -> Option<Split<'_>> {
    let at = text.find("rows:")?;
    let (before, body) = (&text[..at], &text[at + 5..]);
    if before.contains('\'') {
        return None;
    }
    if let Some(after) = body.strip_prefix("none") {
        return Some(Split { before, rows: Vec::new(), after });
    }
    let bytes: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut rows = Vec::new();
    loop {
        if bytes.get(i) != Some(&'(') {
            return None;
        }
        i += 1;
        let mut row = Vec::new();
        loop {
            if bytes.get(i) == Some(&'\'') {
                let mut s = String::new();
                i += 1;
                loop {
                    match (bytes.get(i), bytes.get(i + 1)) {
                        (Some('\''), Some('\'')) => {
                            s.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => {
                            i += 1;
                            break;
                        }
                        (Some(c), _) => {
                            s.push(*c);
                            i += 1;
                        }
                        (None, _) => return None,
                    }
                }
                row.push(Val::Quoted(s));
            } else {
                let start = i;
                // A bare value may itself hold quotes (x'00ff'); it ends at `,` or `)`.
                let mut quoted = false;
                while let Some(&c) = bytes.get(i) {
                    if c == '\'' {
                        quoted = !quoted;
                    } else if !quoted && (c == ',' || c == ')') {
                        break;
                    }
                    i += 1;
                }
                row.push(Val::Bare(bytes[start..i].iter().collect()));
            }
            match bytes.get(i) {
                Some(',') => i += 1,
                Some(')') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
        rows.push(row);
        if bytes.get(i) == Some(&',') && bytes.get(i + 1) == Some(&'(') {
            i += 1;
        } else {
            break;
        }
    }
    let consumed: usize = bytes[..i].iter().map(|c| c.len_utf8()).sum();
    Some(Split { before, rows, after: &body[consumed..] })
}

fn value_agrees(driver: &Val, client: &Val) -> bool {
    let null = |v: &Val| matches!(v, Val::Bare(s) if s == "NULL");
    if null(driver) || null(client) {
        return null(driver) && null(client);
    }
    let text = |v: &Val| match v {
        Val::Quoted(s) | Val::Bare(s) => s.clone(),
    };
    let (d, c) = (text(driver), text(client));
    if d == c {
        return true;
    }
    let Val::Bare(d) = driver else { return false };
    if let (Ok(x), Ok(y)) = (d.parse::<f64>(), c.parse::<f64>()) {
        return x == y || x.is_nan() && y.is_nan();
    }
    match d.as_str() {
        "true" => return c == "t" || c == "1",
        "false" => return c == "f" || c == "0",
        _ => {}
    }
    if let Some(hex) = d.strip_prefix("x'").and_then(|h| h.strip_suffix('\'')) {
        return c.eq_ignore_ascii_case(&format!("0x{hex}")) || c.eq_ignore_ascii_case(&format!("\\x{hex}"));
    }
    false
}

/// Whether one observation of the driver and one of the client say the same.
pub fn agree(driver: &str, client: &str) -> bool {
    if driver == client {
        return true;
    }
    match (split(driver), split(client)) {
        (Some(d), Some(c)) => {
            d.before == c.before
                && d.after == c.after
                && d.rows.len() == c.rows.len()
                && d.rows.iter().zip(&c.rows).all(|(dr, cr)| dr.len() == cr.len() && dr.iter().zip(cr).all(|(a, b)| value_agrees(a, b)))
        }
        _ => false,
    }
}

/// Whether two outcomes (one observation per outcome step) agree.
pub fn outcomes_agree(driver: &[crate::outcome::Outcome], client: &[crate::outcome::Outcome]) -> bool {
    driver.len() == client.len() && driver.iter().zip(client).all(|(d, c)| agree(&d.to_string(), &c.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_ignored_but_null_is_null() {
        assert!(agree("rows:(1,'a'),(2,NULL)", "rows:('1','a'),('2',NULL)"));
        assert!(!agree("rows:('NULL')", "rows:(NULL)"));
        assert!(!agree("rows:(NULL)", "rows:('')"));
        assert!(agree("rows:('it''s, (x)')", "rows:('it''s, (x)')"));
        assert!(agree("rows:none", "rows:none"));
    }

    #[test]
    fn numbers_booleans_and_bytes_agree_with_their_client_text() {
        assert!(agree("rows:(1.0,true,x'00ff')", "rows:('1','t','0x00FF')"));
        assert!(agree("rows:(1.5e20)", "rows:('1.5e+20')"));
        assert!(!agree("rows:(1.5)", "rows:('1.50x')"));
        assert!(!agree("rows:('true')", "rows:('t')"));
    }

    #[test]
    fn everything_but_values_must_be_the_same() {
        assert!(agree("affected:2 warning:1265", "affected:2 warning:1265"));
        assert!(!agree("affected:2 warning:1265", "affected:2"));
        assert!(!agree("rows:(1) notice:00000", "rows:('1')"));
        assert!(agree("rows:(1) notice:00000", "rows:('1') notice:00000"));
        assert!(!agree("rows:(1),(2)", "rows:('2'),('1')"));
        assert!(!agree("rows:(1)", "rows:('1','2')"));
        assert!(!agree("rows:none", "ok"));
        assert!(!agree("error:unique_violation", "error:syntax_error"));
        assert!(agree("blocked, then rows:(1)", "blocked, then rows:('1')"));
        assert!(!outcomes_agree(&["ok".parse().unwrap()], &["ok".parse().unwrap(), "ok".parse().unwrap()]));
    }
}
