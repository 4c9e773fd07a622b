//! Reports rendered from a results file: the HTML matrix and pages, Markdown, JUnit.
//!
//! Everything here reads a [`RunResults`](crate::result::RunResults) and nothing else, so a
//! report can be rendered long after the run, on a machine without any server. A results
//! file is input: every string from it is escaped for its context and every id that
//! becomes a file name or an anchor goes through `names` first.
//!
//! One concern per module: `model` arranges the results (target order, probe areas,
//! the status vocabulary), `html` holds the page shell, escaping and CSS, and each
//! page or format has a module of its own. `site` writes them all, whole or not at all.

mod anomalies;
mod flags;
mod backend_page;
mod boundaries;
mod claims;
pub mod console;
pub mod diff;
pub(crate) mod html;
mod junit;
mod markdown;
mod matrix;
mod model;
mod names;
mod probe_page;
mod site;

pub use diff::{compare, CaseChange, CaseRef, Diff};
pub use junit::junit_xml;
pub use markdown::markdown_summary;
pub use model::Status;
pub use site::{check_replaceable, write_site, SiteSummary, SITE_MARKER};

/// Renders the site into `out` (replacing it), with the results it was made from.
pub fn write_report(results: &crate::result::RunResults, previous: Option<&crate::result::RunResults>, out: &std::path::Path) -> Result<SiteSummary, String> {
    let summary = write_site(results, previous, out).map_err(|e| format!("cannot write the report: {e}"))?;
    crate::result::write_results(results, out)?;
    Ok(summary)
}
