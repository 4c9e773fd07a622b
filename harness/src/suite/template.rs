//! SQL templates: text with `{{name}}` references to snippets (and to the placeholders
//! the interpreter fills in itself, such as `{{namespace}}`).
//!
//! A template is parsed once, when its suite is loaded; the loader reports a malformed
//! one with its location, and the interpreter only expands parsed templates. There is
//! one grammar, here:
//!
//! - `{{` opens a reference and the next `}}` closes it;
//! - the name between them, without surrounding whitespace, is not empty and holds no
//!   `{` or `}`;
//! - a `{{` that no `}}` closes is an error (SQL cannot hold a literal `{{`);
//! - everything else, a lone `{` or `}` or a `}}` included, is text.

use std::fmt;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// A reference written `{{name}}`; `written` is the text between the braces as it
    /// was written (with its whitespace), so that the template prints as it was read.
    Snippet { name: String, written: String },
}

/// A parsed SQL template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// Why a template does not parse: the byte offset in the template and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
    pub expected: String,
}

impl Template {
    /// Parses a template; the first problem is returned with its byte offset.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut at = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let inner = &rest[open + 2..];
            let Some(close) = inner.find("}}") else {
                let before: String = text[..at + open].chars().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
                return Err(TemplateError {
                    offset: at + open,
                    message: format!("a `{{{{` with no `}}}}` after it (after `{before}`)"),
                    expected: "a placeholder written {{name}}; SQL cannot hold a literal `{{` without its `}}`".into(),
                });
            };
            let written = &inner[..close];
            let name = written.trim();
            if name.is_empty() || name.contains(['{', '}']) {
                return Err(TemplateError {
                    offset: at + open,
                    message: format!("`{{{{{written}}}}}` is not a placeholder"),
                    expected: "a snippet name between `{{` and `}}`, e.g. {{name}}".into(),
                });
            }
            parts.push(Part::Snippet { name: name.to_string(), written: written.to_string() });
            let consumed = open + 2 + close + 2;
            at += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// A template of text only, with no references (snippets' own SQL).
    pub fn literal(text: impl Into<String>) -> Template {
        let text = text.into();
        Template { parts: if text.is_empty() { Vec::new() } else { vec![Part::Text(text)] } }
    }

    /// The names referenced, in order (with repeats).
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Snippet { name, .. } => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The text with every reference replaced by what `fill` gives for its name.
    pub fn expand<E>(&self, mut fill: impl FnMut(&str) -> Result<String, E>) -> Result<String, E> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Snippet { name, .. } => out.push_str(&fill(name)?),
            }
        }
        Ok(out)
    }
}

/// The template as it was written: `Template::parse(&t.to_string()) == Ok(t)`.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Text(t) => f.write_str(t)?,
                Part::Snippet { written, .. } => write!(f, "{{{{{written}}}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_round_trip() {
        let text = "SELECT {{ cols }} FROM {{namespace}}.t WHERE a = '}}' AND b = '{'";
        let t = Template::parse(text).unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), ["cols", "namespace"]);
        assert_eq!(t.parts[0], Part::Text("SELECT ".into()));
        assert_eq!(t.to_string(), text);
        assert_eq!(Template::parse(&t.to_string()), Ok(t));
        for text in ["", "SELECT 1", "{{a}}", "{{a}}{{b}}", "x{{ a }}y", "}} {", "é{{n}}ü"] {
            let t = Template::parse(text).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(Template::parse(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn expansion_writes_each_text_once() {
        let t = Template::parse("INSERT INTO {{namespace}}.t VALUES ({{v}}), ({{v}})").unwrap();
        let out = t.expand(|n| Ok::<_, String>(if n == "v" { "1".into() } else { "ns".into() })).unwrap();
        assert_eq!(out, "INSERT INTO ns.t VALUES (1), (1)");
        let missing = t.expand(|n| if n == "namespace" { Ok("ns".into()) } else { Err(format!("no snippet `{n}`")) });
        assert_eq!(missing, Err("no snippet `v`".to_string()));
        assert_eq!(Template::literal("SELECT '{{'").expand(|_| Err::<String, ()>(())), Ok("SELECT '{{'".into()));
    }

    #[test]
    fn an_unclosed_or_empty_reference_is_an_error_at_its_offset() {
        let e = Template::parse("SELECT '{{' || v").unwrap_err();
        assert_eq!(e.offset, 8);
        assert!(e.message.starts_with("a `{{` with no `}}` after it (after `SELECT '`)"), "{}", e.message);
        let e = Template::parse("SELECT {{a}}, '{{' || v").unwrap_err();
        assert_eq!(e.offset, 15);
        assert_eq!(Template::parse("SELECT {{ }}").unwrap_err().offset, 7);
        // A `{{` inside a reference: the reference would end at the first `}}`.
        assert_eq!(Template::parse("SELECT {{ {{x}}").unwrap_err().offset, 7);
    }
}
