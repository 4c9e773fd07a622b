//! Container targets against a real engine: a container killed in the middle of a run
//! fails only its own target's remaining cases, and nothing is left behind.
//!
//! Needs a container engine (DOCKER_HOST) and the image of the target named by
//! `DBCOMPAT_KILL_TARGET` (default `postgres-17`) in `DBCOMPAT_MATRIX` (default
//! `ci/matrix.local.toml`). Without an engine the test says so and passes, unless
//! `DBCOMPAT_REQUIRE_ALL=1` (as in CI), where it fails.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use dbcompat::matrix::Matrix;
use dbcompat::result::Verdict;
use dbcompat::run::{TargetPool, Timing};
use dbcompat::suite;
use dbcompat::targets::container::PID_LABEL;
use testcontainers::bollard::query_parameters::{KillContainerOptions, ListContainersOptions};

async fn my_containers() -> Vec<String> {
    let docker = testcontainers::core::client::docker_client_instance().await.unwrap();
    let filters = HashMap::from([("label".to_string(), vec![format!("{PID_LABEL}={}", std::process::id())])]);
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    docker.list_containers(Some(options)).await.unwrap().into_iter().filter_map(|c| c.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_container_fails_only_its_own_remaining_cases() {
    if !common::engine_or_skip().await {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // Relative to the workspace, wherever cargo runs the test from.
    let matrix_path = root.join(std::env::var("DBCOMPAT_MATRIX").unwrap_or_else(|_| "ci/matrix.local.toml".into()));
    let matrix = Matrix::load(&matrix_path).unwrap();
    let victim = std::env::var("DBCOMPAT_KILL_TARGET").unwrap_or_else(|_| "postgres-17".into());
    let specs = vec![matrix.find("sqlite").unwrap().clone(), matrix.find(&victim).unwrap().clone()];
    let suites = suite::load_dir(&root.join("suites")).unwrap();
    let probe = suites.iter().flat_map(|s| &s.probes).find(|p| p.id == "rollback_to_savepoint").unwrap().clone();

    let pool = TargetPool::new(specs, Timing::default());
    let launched = pool.launch_all().await;
    assert!(launched.iter().all(|l| l.record.not_run.is_none()), "both targets start: {:?}", launched.iter().map(|l| &l.record).collect::<Vec<_>>());

    let before = pool.run(&probe, 1).await;
    assert!(!before.verdict.is_failure(), "the server answers before it is killed: {:?}", before.verdict);

    let docker = testcontainers::core::client::docker_client_instance().await.unwrap();
    let mine = my_containers().await;
    assert_eq!(mine.len(), 1, "one container was started");
    docker.kill_container(&mine[0], None::<KillContainerOptions>).await.unwrap();

    let after = pool.run(&probe, 1).await;
    let Verdict::Error { reason } = &after.verdict else { panic!("a case on the killed target is an error, not {:?}", after.verdict) };
    assert!(reason.contains("container stopped running"), "{reason}");
    assert!(reason.contains("postgres") && reason.contains("exited with code 137"), "the error names the server and how it died: {reason}");

    let started = Instant::now();
    let again = pool.run(&probe, 1).await;
    assert!(matches!(again.verdict, Verdict::Error { .. }), "{:?}", again.verdict);
    assert!(started.elapsed() < Duration::from_secs(2), "later cases fail at once, not after a timeout");

    let sqlite = pool.run(&probe, 0).await;
    assert_eq!(sqlite.verdict, Verdict::Pass, "the other target is untouched");

    pool.shut_down().await;
    assert!(my_containers().await.is_empty(), "no container is left behind");
}

/// A container created but never started (its start failed) is found by its instance
/// label and removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_whose_start_failed_is_removed_by_its_label() {
    use dbcompat::targets::container::{remove_labelled, INSTANCE_LABEL};
    use testcontainers::bollard::models::ContainerCreateBody;
    use testcontainers::bollard::query_parameters::CreateContainerOptions;
    if !common::engine_or_skip().await {
        return;
    }
    let docker = testcontainers::core::client::docker_client_instance().await.unwrap();
    let instance = format!("test-{}", std::process::id());
    // Only the instance label: the other test here counts this process's containers.
    let labels = HashMap::from([(INSTANCE_LABEL.to_string(), instance.clone())]);
    let body = ContainerCreateBody { image: Some("localhost/dbcompat/postgres:17".into()), labels: Some(labels), ..Default::default() };
    docker.create_container(None::<CreateContainerOptions>, body).await.expect("a container is created (not started)");
    let labelled = || async {
        let filters = HashMap::from([("label".to_string(), vec![format!("{INSTANCE_LABEL}={instance}")])]);
        let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
        docker.list_containers(Some(options)).await.unwrap().len()
    };
    assert_eq!(labelled().await, 1);
    remove_labelled(&instance).await;
    assert_eq!(labelled().await, 0, "the created container is removed");
}
