//! The page shell every HTML page shares: escaping, navigation, status chips and the
//! inline stylesheet. Pages are self-contained: no scripts, fonts or external styles,
//! and a Content-Security-Policy that would stop any script even if one slipped in.

use std::fmt::Write as _;

use crate::outcome::Outcome;
use crate::backends::Backend;
use crate::result::RunResults;

use super::model::{outcome_text, Status};
use super::names::Names;

/// Escapes text for HTML element content and for quoted attribute values alike.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // NUL and other C0 controls (except tab and newlines) are not allowed in HTML.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when something was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// A probe id that may break after its underscores rather than anywhere.
pub(crate) fn breakable_id(id: &str) -> String {
    esc(id).replace('_', "_<wbr>")
}

/// `<code>…</code>` around escaped text.
pub(crate) fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

/// An outcome in code style, or a dash when there is none.
pub(crate) fn outcome_code(outcome: Option<&[Outcome]>) -> String {
    match outcome {
        Some(o) => code(&outcome_text(o)),
        None => "<span class=\"muted\">—</span>".to_string(),
    }
}

/// A status as a coloured chip with its symbol and label.
pub(crate) fn chip(status: Status) -> String {
    format!(
        "<span class=\"chip {}\"><span class=\"sym\" aria-hidden=\"true\">{}</span> {}</span>",
        status.key(),
        status.symbol(),
        status.label()
    )
}

/// A chip for a count: `✓ 12`, titled with the label.
pub(crate) fn count_chip(status: Status, count: usize) -> String {
    let zero = if count == 0 { " zero" } else { "" };
    format!(
        "<span class=\"chip {}{zero}\" title=\"{}\"><span class=\"sym\" aria-hidden=\"true\">{}</span> {count}</span>",
        status.key(),
        status.label(),
        status.symbol()
    )
}

/// The legend of the status vocabulary.
pub(crate) fn legend() -> String {
    let mut out = String::from("<ul class=\"legend\" aria-label=\"Legend\">");
    for s in Status::ALL {
        let _ = write!(out, "<li>{}</li>", chip(s));
    }
    out.push_str("<li class=\"muted\">cells spanning several versions: same status and outcome on each</li></ul>");
    out
}

/// Which page is being rendered, to mark it in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    Matrix,
    Claims,
    Anomalies,
    Flags,
    Backend(Backend),
    Probe,
    Diff,
}

/// What the navigation bar and footer show on every page.
pub(crate) struct Shell {
    pub backends: Vec<Backend>,
    pub has_diff: bool,
    /// The site holds a crosscheck report (`crosscheck/`, written by `dbcompat crosscheck`).
    pub has_crosscheck: bool,
    footer: String,
}

impl Shell {
    pub fn new(results: &RunResults, backends: Vec<Backend>, has_diff: bool, has_crosscheck: bool) -> Shell {
        let footer = format!(
            "dbcompat {} · run {} to {} on {}",
            esc(&results.dbcompat_version),
            esc(&results.started_at),
            esc(&results.finished_at),
            esc(&results.host)
        );
        Shell { backends, has_diff, has_crosscheck, footer }
    }

    /// A whole page around `body` (which must already be escaped HTML).
    pub fn page(&self, current: Current, title: &str, body: &str) -> String {
        let mut out = String::with_capacity(body.len() + CSS.len() + 2048);
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light\">\n");
        out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
        let _ = writeln!(out, "<title>{} · dbcompat</title>", esc(title));
        out.push_str("<style>");
        out.push_str(CSS);
        out.push_str("</style>\n</head>\n<body>\n<header class=\"top\"><a class=\"brand\" href=\"index.html\">dbcompat</a><nav>");
        let link = |out: &mut String, href: &str, label: &str, here: bool| {
            let cls = if here { " class=\"current\" aria-current=\"page\"" } else { "" };
            let _ = write!(out, "<a href=\"{href}\"{cls}>{label}</a>");
        };
        link(&mut out, "index.html", "Matrix", current == Current::Matrix);
        for b in &self.backends {
            link(&mut out, &Names::backend_page(*b), b.name(), current == Current::Backend(*b));
        }
        link(&mut out, "claims.html", "Claims", current == Current::Claims);
        link(&mut out, "anomalies.html", "Anomalies", current == Current::Anomalies);
        link(&mut out, "django-flags.html", "Django flags", current == Current::Flags);
        if self.has_crosscheck {
            link(&mut out, "crosscheck/index.html", "Crosscheck", false);
        }
        if self.has_diff {
            link(&mut out, "diff.html", "Changes", current == Current::Diff);
        }
        out.push_str("</nav></header>\n<main>\n");
        out.push_str(body);
        let _ = writeln!(out, "\n</main>\n<footer>{}</footer>\n</body>\n</html>", self.footer);
        out
    }
}

/// The stylesheet, inline in every page. Status colours meet WCAG AA contrast for their
/// text; every status also has a symbol, so nothing depends on colour alone.
pub(crate) const CSS: &str = r#"
:root{--bg:#f6f7f9;--card:#fff;--fg:#111827;--muted:#5b6472;--line:#e3e6eb;--line2:#cbd1da;--accent:#1d4ed8;--head:#eef1f5;
--pass-bg:#d9f5e1;--pass-fg:#135a2c;--fail-bg:#fde0e0;--fail-fg:#8f1515;--error-bg:#efe3fd;--error-fg:#5b1d91;
--noexp-bg:#fdf0c8;--noexp-fg:#6f4409;--na-bg:#eceff3;--na-fg:#4a5361;--notrun-fg:#5f6b7a}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
code,pre{font-size:12.5px}
td.mono,a.mono,span.mono{font-size:12.5px}
code{background:#eef1f5;border-radius:3px;padding:0 .25em;overflow-wrap:break-word}
pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:.45rem .6rem}
pre code{background:none;padding:0}
header.top{position:sticky;top:0;z-index:20;display:flex;align-items:center;gap:1rem;flex-wrap:wrap;padding:.45rem 1.25rem;background:#14213d;color:#e5e9f0}
header.top .brand{font-weight:700;color:#fff;text-decoration:none;letter-spacing:.02em}
header.top nav{display:flex;gap:.15rem;flex-wrap:wrap}
header.top nav a{color:#d2d9e4;text-decoration:none;padding:.2rem .55rem;border-radius:5px}
header.top nav a:hover{background:#23345a;color:#fff}
header.top nav a.current{background:#2c4270;color:#fff}
main{padding:1rem 1.25rem 2rem}
footer{padding:.75rem 1.25rem 1.5rem;color:var(--muted);font-size:12px}
h1{font-size:1.45rem;margin:.2rem 0 .35rem;line-height:1.25;overflow-wrap:anywhere}
h1.mono{font-size:1.3rem}
h2{font-size:1.12rem;margin:1.6rem 0 .5rem}
h3{font-size:1rem;margin:1.1rem 0 .4rem}
p{margin:.35rem 0}
.muted{color:var(--muted)}
.lead{font-size:1.05rem;max-width:60rem}
.meta{color:var(--muted);font-size:12.5px;margin:.15rem 0 .75rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem;margin:.75rem 0}
.chip{display:inline-flex;align-items:center;gap:.3em;padding:.05rem .5rem;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap;border:1px solid transparent}
.chip .sym{font-weight:800}
.chip.zero{opacity:.45}
.pass{background:var(--pass-bg);color:var(--pass-fg)}
.fail{background:var(--fail-bg);color:var(--fail-fg)}
.error{background:var(--error-bg);color:var(--error-fg)}
.no-expectation,.undefined{background:var(--noexp-bg);color:var(--noexp-fg)}
.not-applicable{background:var(--na-bg);color:var(--na-fg)}
.unsupported{background:repeating-linear-gradient(45deg,#fdf6ec 0 5px,#f6ead6 5px 10px);color:var(--na-fg)}
.not-run{background:repeating-linear-gradient(135deg,#fafbfc 0 5px,#eef1f4 5px 10px);color:var(--notrun-fg)}
.chip.not-run{border-color:var(--line2)}
.confirmed{background:var(--pass-bg);color:var(--pass-fg)}
.contradicted{background:var(--fail-bg);color:var(--fail-fg)}
.consistent{background:var(--pass-bg);color:var(--pass-fg);opacity:.85}
.not-observed{background:var(--noexp-bg);color:var(--noexp-fg)}
.unmeasured{background:var(--na-bg);color:var(--na-fg)}
ul.legend{list-style:none;display:flex;flex-wrap:wrap;gap:.4rem .5rem;padding:0;margin:.5rem 0;align-items:center;font-size:12px}
table{border-collapse:collapse}
table.data{background:var(--card);border:1px solid var(--line);border-radius:8px;border-collapse:separate;border-spacing:0;overflow:hidden;margin:.4rem 0}
table.data th,table.data td{padding:.3rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.data tr:last-child>td,table.data tr:last-child>th{border-bottom:0}
table.data thead th{background:var(--head);font-size:12px;color:#374151;font-weight:600}
table.data a.mono{white-space:nowrap}
.card>h3:first-child{margin-top:.1rem}
table.data td.num{text-align:right;font-variant-numeric:tabular-nums}
.totals{display:flex;gap:.4rem;flex-wrap:wrap;margin:.4rem 0}
.matrix-wrap{width:fit-content;max-width:100%;overflow:auto;max-height:calc(100vh - 3.5rem);border:1px solid var(--line2);border-radius:8px;background:var(--card);margin-top:.5rem}
table.matrix{border-collapse:separate;border-spacing:0;font-size:12px}
table.matrix th,table.matrix td{border-right:1px solid var(--line);border-bottom:1px solid var(--line)}
table.matrix thead th{position:sticky;background:var(--head);z-index:3;font-weight:600;white-space:nowrap}
table.matrix thead tr.backends th{top:0;height:30px;padding:0 .5rem;text-align:center;font-size:12.5px;text-transform:uppercase;letter-spacing:.04em}
table.matrix thead tr.backends th a{color:#1f2a44;text-decoration:none}
table.matrix thead tr.backends th a:hover{text-decoration:underline}
table.matrix thead tr.versions th{top:30px;padding:.25rem .4rem;text-align:center;min-width:4.6rem;font-variant-numeric:tabular-nums;border-bottom:1px solid var(--line2)}
table.matrix thead tr.versions th.dim{color:var(--notrun-fg);font-weight:400}
table.matrix thead th.corner{left:0;top:0;z-index:5;text-align:left;vertical-align:bottom;padding:.35rem .6rem;border-bottom:1px solid var(--line2)}
table.matrix tbody th{position:sticky;left:0;z-index:2;background:var(--card);text-align:left;font-weight:400;padding:.3rem .6rem;min-width:19rem;max-width:26rem;border-right:1px solid var(--line2)}
table.matrix tbody th a.probe{font-weight:600;color:#16213a;text-decoration:none;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:break-word}
table.matrix tbody th a.probe:hover{color:var(--accent);text-decoration:underline}
table.matrix tbody th .asks{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2;line-clamp:2;overflow:hidden;color:var(--muted);font-size:11.5px;line-height:1.3;margin-top:1px}
table.matrix tr.area th{background:#e6eaf0;font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#283247;padding:.35rem .6rem}
table.matrix tr.area td{background:#e6eaf0}
table.matrix tr.area th .n{font-weight:400;text-transform:none;letter-spacing:0;color:var(--muted)}
table.matrix tbody tr:hover th{background:#f3f6fb}
td.c{padding:0;text-align:center;vertical-align:middle;min-width:4.6rem}
td.c a{display:block;padding:.3rem .35rem;color:inherit;text-decoration:none;height:100%}
td.c a:hover,td.c a:focus{outline:2px solid var(--accent);outline-offset:-2px}
td.c .sym{display:block;font-size:15px;font-weight:800;line-height:1.15}
td.c .rng{display:block;font-size:10.5px;font-weight:600;opacity:.85}
td.c .o{display:block;font-size:10.5px;line-height:1.25;max-width:10rem;margin:0 auto;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
td.c.none{background:var(--card);color:#b4bcc8}
.bstart{border-left:2px solid var(--line2)}
.scroll-x{overflow-x:auto}
table.features{background:var(--card);border:1px solid var(--line2);border-radius:8px}
table.features tbody th{width:22rem;min-width:16rem}
table.features td.changes{width:24rem}
table.features thead th,table.features tbody th{position:static}
table.features thead th{padding:.35rem .5rem;text-align:center}
table.features thead th.corner{text-align:left}
table.features td.c .o{white-space:normal;overflow-wrap:anywhere;max-width:14rem}
table.features td.changes{font-size:12.5px;max-width:26rem;vertical-align:middle}
table.features td.c{min-width:6rem}
.changed{color:#8a4b00;font-weight:600}
.an-prevented{background:var(--pass-bg);color:var(--pass-fg)}
.an-occurs{background:var(--fail-bg);color:var(--fail-fg)}
.an-ro,.an-some{background:var(--noexp-bg);color:var(--noexp-fg)}
.an-none{background:var(--na-bg);color:var(--na-fg)}
table.anomalies td.an{font-size:12px;min-width:7.5rem;max-width:12rem}
table.anomalies td.an .an-label{display:block;font-weight:700}
table.anomalies td.an .an-probe{display:block;font-size:11px;line-height:1.3;overflow-wrap:anywhere}
table.anomalies td.an a{color:inherit}
.fl-agree{background:var(--pass-bg);color:var(--pass-fg)}
.fl-conservative{background:var(--noexp-bg);color:var(--noexp-fg)}
.fl-permissive{background:var(--fail-bg);color:var(--fail-fg)}
.fl-unsupported,.fl-unknown{background:var(--na-bg);color:var(--na-fg)}
table.flags td.fl{font-size:12px;white-space:nowrap;text-align:center}
table.flags td.fl a{color:inherit;text-decoration:none}
.fl-unexplained{color:var(--fail-fg)}
dl.gates dd{margin:0 0 .8rem 1rem}
table.summary td,table.summary th{white-space:nowrap;padding:.2rem .55rem}
table.summary td.num,table.summary thead th.st{text-align:center}
section.target{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem 1rem .8rem;margin:.8rem 0;scroll-margin-top:3.5rem}
section.target:target{border-color:var(--accent);box-shadow:0 0 0 3px #c7d6fb}
section.target h3{margin:.1rem 0 .45rem;display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}
section.target.compact{padding:.4rem 1rem}
section.target.compact h3{margin:0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .9rem;margin:.3rem 0 .6rem}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0}
table.transcript{width:100%;background:var(--card);border:1px solid var(--line);border-collapse:separate;border-spacing:0;border-radius:6px;overflow:hidden;margin-top:.4rem}
table.transcript th,table.transcript td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.transcript thead th{background:var(--head);font-size:12px;font-weight:600}
table.transcript tbody.step tr:first-child td{border-top:1px solid var(--line2)}
table.transcript td.stepcell{white-space:nowrap;background:#fafbfc;width:9rem}
table.transcript td.sql{width:45%}
table.transcript pre{background:none;border:0;padding:0}
table.transcript td.ms{text-align:right;white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums;width:5rem}
table.transcript tbody.blocked td.stepcell{background:#fff7e6}
table.transcript tbody.cancelled td.stepcell{background:#fdecec}
.badge{display:inline-block;font-size:11px;font-weight:700;border-radius:4px;padding:0 .35rem;margin:.1rem .15rem 0 0;white-space:nowrap}
.badge.blocked{background:#ffe9b8;color:#6b3f00}
.badge.cancelled{background:#fcd4d4;color:#7f1111}
.badge.completed{background:#dbeafe;color:#1e3a8a}
.badge.outcome{background:#e0e7ff;color:#312e81}
.badge.kind{background:#eceff3;color:#374151}
table.rows{border-collapse:collapse;font-size:12px;margin:.1rem 0}
table.rows th,table.rows td{border:1px solid var(--line2);padding:.05rem .4rem;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;text-align:left}
table.rows th{background:var(--head);font-weight:600}
.errtxt{color:var(--fail-fg)}
.errtxt .cls{font-weight:700}
blockquote{margin:.4rem 0;padding:.4rem .9rem;border-left:4px solid #9db4e8;background:#f4f7fd;border-radius:0 6px 6px 0}
blockquote cite{display:block;font-style:normal;color:var(--muted);font-size:12px;margin-top:.25rem}
.claim{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem 1rem;margin:.7rem 0}
.claim.is-contradicted{border-left:4px solid #d33}
.claim.is-confirmed{border-left:4px solid #2e9a57}
.claim h3{margin:.1rem 0 .3rem;font-size:.95rem}
ul.findings{list-style:none;padding:0;margin:.4rem 0;display:flex;flex-direction:column;gap:.25rem}
ul.findings li{line-height:1.9}
ul.findings .chip{margin-right:.35rem}
.vs{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .7rem}
.steps ol{padding-left:1.4rem;margin:.3rem 0}
.steps li{margin:.35rem 0}
.dialect{display:grid;grid-template-columns:6rem 1fr;gap:.3rem .6rem;align-items:start;margin:.25rem 0}
.dialect .key{font-size:12px;color:var(--muted);padding-top:.4rem;text-align:right}
@media (max-width:700px){main{padding:.75rem}table.matrix tbody th{min-width:11rem;max-width:14rem}}
@media print{header.top{position:static}.matrix-wrap{max-height:none;overflow:visible}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(esc(r#"<script>alert("x")</script> & 'y'"#), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;");
        assert_eq!(esc("a\0b"), "a\u{FFFD}b");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("äöü", 2), "äö…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
