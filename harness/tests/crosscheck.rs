//! The second instrument against real servers: a few single-session probes replayed
//! through psql and the mariadb client agree with the driver's observations.
//!
//! Needs a container engine (DOCKER_HOST) and the images of `postgres-16` and
//! `mariadb-11.8` in `DBCOMPAT_MATRIX` (default `ci/matrix.local.toml`). Without an
//! engine the test says so and passes, unless `DBCOMPAT_REQUIRE_ALL=1` (as in CI).

mod common;

use std::path::Path;
use std::sync::Arc;

use dbcompat::crosscheck::{run_all, tally, Status};
use dbcompat::matrix::Matrix;
use dbcompat::run::{plan, TargetPool, Timing};
use dbcompat::suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_session_probes_agree_through_the_vendors_clients() {
    if !common::engine_or_skip().await {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let matrix = Matrix::load(&root.join(std::env::var("DBCOMPAT_MATRIX").unwrap_or_else(|_| "ci/matrix.local.toml".into()))).unwrap();
    let specs = vec![matrix.find("postgres-16").unwrap().clone(), matrix.find("mariadb-11.8").unwrap().clone()];
    let suites = suite::load_dir(&root.join("suites")).unwrap();
    // An error, a warning or notice, affected rows, rows with NULL and text, a transaction.
    let filters: Vec<String> = ["::rolled_back_insert_consumes_value::", "::explicit_null_id_gets_generated_value::", "::unique_rejects_case_variant::", "::empty_string_is_null::", "::over_long_string_non_strict_truncates::"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let pool = Arc::new(TargetPool::new(specs, Timing::default()));
    let cases = plan(&suites, &pool.planned_ids(), &filters);
    assert!(!cases.is_empty(), "the filters name probes of the suites");
    let checked = run_all(cases, pool.clone(), Timing::default(), Arc::new(Vec::new()), 2, 4).await;
    pool.shut_down().await;
    for c in &checked {
        assert!(matches!(c.status, Status::Agree | Status::NotApplicable { .. }), "{}: {:?}\n{:#?}", c.name, c.status, (&c.driver, &c.client, &c.client_transcript));
    }
    let t = tally(&checked);
    for target in ["postgres-16", "mariadb-11.8"] {
        assert!(t.get(target).is_some_and(|t| t.agree >= 2), "{target} cross-checks cases: {t:?}");
    }
    let client_saw_sql = checked.iter().filter(|c| matches!(c.status, Status::Agree)).all(|c| !c.client_transcript.is_empty());
    assert!(client_saw_sql, "every agreeing case went through the client");
}
