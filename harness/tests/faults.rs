//! Faults against a real container engine: a server that exits at once, a refused login,
//! a failed start beside a running target. Each must be reported at once and clearly,
//! fail only its own target, and leave no container behind.
//!
//! Needs a container engine (DOCKER_HOST) and the local images (ci/build-images.sh).
//! Without an engine each test says so and passes, unless `DBCOMPAT_REQUIRE_ALL=1` (as
//! in CI), where it fails.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbcompat::backends::Backend;
use dbcompat::result::RunResults;
use dbcompat::targets::container::{Container, PASSWORD, PID_LABEL};
use dbcompat::targets::server::{wait_ready, Endpoint};
use testcontainers::bollard::query_parameters::ListContainersOptions;

async fn containers_of(pid: u32) -> usize {
    let docker = testcontainers::core::client::docker_client_instance().await.unwrap();
    let filters = HashMap::from([("label".to_string(), vec![format!("{PID_LABEL}={pid}")])]);
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    docker.list_containers(Some(options)).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_exits_at_once_fails_fast_beside_a_running_target() {
    if !common::engine_or_skip().await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let matrix = dir.path().join("matrix.toml");
    // The first server stops at once on a setting it does not know; its start-up
    // timeout is long, so only noticing the exit can make the run quick.
    std::fs::write(
        &matrix,
        r#"
[[target]]
name = "doomed"
backend = "postgres"
launch = "container"
image = "localhost/dbcompat/postgres"
tag = "17"
args = ["-c", "no_such_setting_here=1"]
startup_timeout_s = 600

[[target]]
name = "healthy"
backend = "postgres"
launch = "container"
image = "localhost/dbcompat/postgres"
tag = "17"
"#,
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = dir.path().join("out");
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_dbcompat"))
        .current_dir(root)
        .args(["--matrix", matrix.to_str().unwrap(), "run", "-t", "doomed", "-t", "healthy", "rollback_to_savepoint", "--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let child = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(took < Duration::from_secs(120), "the dead server is noticed long before its 600 s start-up timeout ({took:?}): {stderr}");
    let results = RunResults::read(&out.join("results.json")).unwrap();
    let doomed = results.targets.iter().find(|t| t.id == "doomed").unwrap();
    let reason = doomed.not_run.as_deref().expect("the doomed target is not run");
    assert!(reason.contains("exited with code"), "the reason gives the exit code: {reason}");
    assert!(reason.contains("no_such_setting_here"), "the reason quotes the server's own last lines: {reason}");
    let healthy = results.cases.iter().find(|c| c.target == "healthy").unwrap();
    assert_eq!(healthy.verdict, dbcompat::result::Verdict::Pass, "the running target is untouched");
    assert_eq!(containers_of(pid).await, 0, "no container is left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_not_retried() {
    if !common::engine_or_skip().await {
        return;
    }
    for (backend, tag) in [(Backend::Postgres, "17"), (Backend::Mariadb, "11.8")] {
        let image = format!("localhost/dbcompat/{backend}");
        let (container, host, port, user) = Container::start(backend, &image, tag, &[], Duration::from_secs(180)).await.unwrap();
        let good = Endpoint { host: host.clone(), port, user: user.to_string(), password: PASSWORD.into(), database: None };
        wait_ready(&good, backend, Some(&container), Instant::now() + Duration::from_secs(180)).await.expect("the server starts");
        let wrong = Endpoint { password: "not-the-password".into(), ..good.clone() };
        let started = Instant::now();
        let error = wait_ready(&wrong, backend, Some(&container), Instant::now() + Duration::from_secs(60)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{backend}: a wrong password is not retried for the whole deadline ({:?})", started.elapsed());
        assert!(error.contains("not retried"), "{backend}: {error}");
        assert!(!error.contains("not-the-password"), "{backend}: the password is not echoed: {error}");
        container.remove().await;
    }
    assert_eq!(containers_of(std::process::id()).await, 0, "no container is left behind");
}
