//! Reports rendered from a results file: the HTML matrix and pages, Markdown, JUnit.
