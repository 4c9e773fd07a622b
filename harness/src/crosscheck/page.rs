//! `crosscheck/index.html`: per target, how many cases the second instrument checked and
//! how many agree, every disagreement with both observations and its explanation, and
//! every session setting the two instruments started with differently.

use std::fmt::Write as _;

use super::{Report, Status};
use crate::report::html::esc;

pub fn render(report: &Report<'_>) -> String {
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dbcompat crosscheck</title>\
         <style>body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1f2328}table{border-collapse:collapse}\
         td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}\
         code{background:#f6f8fa;padding:0 3px}.muted{color:#656d76}</style></head><body>\n\
         <h1>Second instrument: the vendors' own clients</h1>\n",
    );
    let _ = writeln!(
        out,
        "<p>Every single-session case, run once through dbcompat's driver and once through the backend's own \
         command-line client in the server's container, each in a namespace of its own. <span class=\"muted\">{}.</span></p>",
        esc(report.comparison)
    );
    if let Some(signal) = report.interrupted {
        let _ = writeln!(out, "<p><strong>Interrupted by {}</strong>: only the cases finished before it are counted.</p>", esc(signal));
    }
    out.push_str("<table><thead><tr><th>target</th><th>cross-checked</th><th>agree</th><th>disagree</th><th>explained</th><th>not cross-checked</th><th>not applicable</th><th>same session</th><th>single-session coverage</th></tr></thead><tbody>\n");
    for (target, t) in &report.targets {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} of {}</td><td>{} of {} ({:.1}%)</td></tr>",
            esc(target),
            t.cross_checked,
            t.agree,
            t.disagree,
            t.explained,
            t.not_cross_checked,
            t.not_applicable,
            t.session_equal,
            t.session_compared,
            t.cross_checked,
            t.single_session,
            t.coverage_percent
        );
    }
    out.push_str("</tbody></table>\n<h2>Disagreements</h2>\n");
    let disagreements: Vec<_> = report.cases.iter().filter(|c| matches!(c.status, Status::Disagree { .. })).collect();
    if disagreements.is_empty() {
        out.push_str("<p>None.</p>\n");
    }
    for c in disagreements {
        let side = |o: &Option<super::Observed>| o.as_ref().map_or_else(|| "-".to_string(), super::Observed::text);
        let why = match &c.status {
            Status::Disagree { explained: Some(reason) } => format!("explained: {}", esc(reason)),
            _ => "<strong>not explained</strong>".to_string(),
        };
        let _ = writeln!(
            out,
            "<h3><code>{}</code></h3><p>driver: <code>{}</code><br>client: <code>{}</code><br>{why}</p>",
            esc(&c.name),
            esc(&side(&c.driver)),
            esc(&side(&c.client))
        );
    }
    out.push_str("<h2>Sessions that started differently</h2>\n");
    let differing: Vec<_> = report.targets.iter().filter(|(_, t)| !t.session_differences.is_empty()).collect();
    if differing.is_empty() {
        out.push_str("<p>None: on every target the driver's session reported the settings the client's did.</p>\n");
    }
    for (target, t) in differing {
        let _ = writeln!(out, "<h3><code>{}</code></h3><ul>", esc(target));
        for d in &t.session_differences {
            let _ = writeln!(out, "<li><code>{}</code></li>", esc(d));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<p class=\"muted\">Both observations of every case, and what the client was sent and printed, are in <a href=\"crosscheck.json\">crosscheck.json</a>.</p>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crosscheck::{tally, CrossCase, Observed};

    #[test]
    fn the_page_counts_each_target_and_escapes_what_it_shows() {
        let observed = |o: &str, tz: &str| Observed {
            outcome: Some(vec![o.parse().unwrap()]),
            error: None,
            session_state: [("TimeZone".to_string(), tz.to_string())].into_iter().collect(),
        };
        let cases = vec![CrossCase {
            single_session: true,
            name: "a::p::<t>".into(),
            probe: "p".into(),
            target: "<t>".into(),
            status: Status::Disagree { explained: None },
            driver: Some(observed("rows:('<b>')", "'UTC'")),
            client: Some(observed("rows:(1)", "'Etc/UTC'")),
            client_transcript: vec![],
            session_differences: vec!["TimeZone: driver 'UTC', client 'Etc/UTC'".into()],
        }];
        let report = Report { comparison: "c", interrupted: None, targets: tally(&cases), cases: &cases };
        let page = render(&report);
        assert!(!page.contains("<b>") && !page.contains("<t>"), "text is escaped");
        assert!(page.contains("<td>1</td><td>0</td><td>1</td><td>0</td>"), "one cross-checked, none agreeing, one disagreeing");
        assert!(page.contains("<strong>not explained</strong>"));
        assert!(page.contains("0 of 1"), "the sessions differed");
        assert!(page.contains("TimeZone: driver &#39;UTC&#39;") || page.contains("TimeZone: driver &apos;UTC&apos;") || page.contains("TimeZone: driver 'UTC'"));
    }
}
