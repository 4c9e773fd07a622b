//! A database server in a container, through the Docker API (Docker itself, or Podman's
//! compatible service: set DOCKER_HOST). Containers carry the labels `dbcompat=1` and
//! `dbcompat.pid=<the harness's process id>`, and are removed when the target shuts
//! down, when the process is interrupted (testcontainers' watchdog), and when dropped.
//! `podman rm -f $(podman ps -aq --filter label=dbcompat)` clears any left by a crash.

use std::time::Duration;

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::sync::Mutex;

use crate::backend::Backend;
use crate::suite::RestartKind;

pub const PASSWORD: &str = "dbcompat";
/// The label holding the process id of the harness that started a container.
pub const PID_LABEL: &str = "dbcompat.pid";
/// A label unique to each container, so that one whose start failed half way (created,
/// never started, no handle returned) can still be found and removed.
pub const INSTANCE_LABEL: &str = "dbcompat.instance";

static INSTANCES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// The longest a call to the container engine may take (start and restart have their own).
const ENGINE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server is given for its own clean shutdown before the engine kills it.
/// Always passed explicitly: Podman's Docker API creates containers with a stop timeout
/// of 0, which makes a plain stop a kill.
pub const STOP_TIMEOUT_S: i32 = 60;

/// How far the container's log had got: lines on stdout and on stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMark {
    stdout: usize,
    stderr: usize,
}

pub struct Container {
    inner: Mutex<Option<ContainerAsync<GenericImage>>>,
    /// The host port the server's port is mapped to; fixed, so it survives restarts.
    port: u16,
}

/// What a backend's official image needs: its port, user and environment.
pub fn image_contract(backend: Backend) -> Option<(u16, &'static str, Vec<(&'static str, &'static str)>)> {
    match backend {
        Backend::Postgres => Some((5432, "postgres", vec![("POSTGRES_PASSWORD", PASSWORD)])),
        Backend::Mariadb => Some((3306, "root", vec![("MARIADB_ROOT_PASSWORD", PASSWORD)])),
        Backend::Mysql => Some((3306, "root", vec![("MYSQL_ROOT_PASSWORD", PASSWORD)])),
        // gvenzl/oracle-free: the administrator is SYSTEM; the service is FREEPDB1.
        Backend::Oracle => Some((1521, "system", vec![("ORACLE_PASSWORD", PASSWORD)])),
        Backend::Sqlite => None,
    }
}

/// Whether a container engine answers; the error says how to point dbcompat at one.
pub async fn engine_available() -> Result<(), String> {
    let hint = "no container engine (set DOCKER_HOST to a Docker or Podman API socket, e.g. unix:///run/podman/podman.sock)";
    let client = testcontainers::core::client::docker_client_instance().await.map_err(|e| format!("{hint}: {e}"))?;
    match tokio::time::timeout(Duration::from_secs(5), client.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{hint}: {e}")),
        Err(_) => Err(format!("{hint}: the engine did not answer a ping within 5 s")),
    }
}

/// Removes any container carrying this instance label (one whose start failed after it
/// was created leaves no handle to remove it by).
pub async fn remove_labelled(instance: &str) {
    use testcontainers::bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
    let cleanup = async {
        let Ok(docker) = testcontainers::core::client::docker_client_instance().await else { return };
        let filters = std::collections::HashMap::from([("label".to_string(), vec![format!("{INSTANCE_LABEL}={instance}")])]);
        let listed = docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() })).await;
        for id in listed.unwrap_or_default().into_iter().filter_map(|c| c.id) {
            let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, v: true, link: false })).await;
        }
    };
    let _ = tokio::time::timeout(ENGINE_TIMEOUT, cleanup).await;
}

/// A call to the container engine, bounded in time.
async fn engine<T>(what: &str, call: impl std::future::Future<Output = testcontainers::core::error::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(ENGINE_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what} failed: {e}")),
        Err(_) => Err(format!("{what} did not finish within {ENGINE_TIMEOUT:?}")),
    }
}

/// A port nothing listens on now (the kernel's choice, released at once).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

impl Container {
    /// Creates and starts the container; readiness is the caller's (a real connection).
    pub async fn start(backend: Backend, image: &str, tag: &str, args: &[String], timeout: Duration) -> Result<(Container, String, u16, &'static str), String> {
        let (port, user, env) = image_contract(backend).ok_or("SQLite does not run in a container")?;
        // An explicit mapping to a free port: Podman's Docker API does not publish
        // exposed ports on its own as Docker does, and the port then survives restarts.
        let host_port = free_port()?;
        let instance = format!("{}-{}", std::process::id(), INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let mut request = GenericImage::new(image, tag)
            .with_exposed_port(port.tcp())
            .with_wait_for(WaitFor::Nothing)
            .with_mapped_port(host_port, port.tcp())
            .with_labels([
                ("dbcompat".to_string(), "1".to_string()),
                (PID_LABEL.to_string(), std::process::id().to_string()),
                (INSTANCE_LABEL.to_string(), instance.clone()),
            ])
            .with_startup_timeout(timeout);
        for (k, v) in env {
            request = request.with_env_var(k, v);
        }
        if !args.is_empty() {
            request = request.with_cmd(args.to_vec());
        }
        let container = match request.start().await {
            Ok(c) => c,
            Err(e) => {
                remove_labelled(&instance).await;
                return Err(format!("the container did not start: {e}"));
            }
        };
        let host = container.get_host().await.map_err(|e| e.to_string())?.to_string();
        // Not read back from the engine: Podman reports the binding with an empty host
        // address, which testcontainers does not take for IPv4.
        Ok((Container { inner: Mutex::new(Some(container)), port: host_port }, host, host_port, user))
    }

    /// Brings the server down: a stop that gives it time for its own clean shutdown,
    /// or SIGKILL. The container keeps its data.
    pub async fn bring_down(&self, kind: RestartKind) -> Result<(), String> {
        let guard = self.inner.lock().await;
        let c = guard.as_ref().ok_or("the container was removed")?;
        match kind {
            RestartKind::Clean => {
                let bounded = Duration::from_secs(STOP_TIMEOUT_S as u64) + ENGINE_TIMEOUT;
                match tokio::time::timeout(bounded, c.stop_with_timeout(Some(STOP_TIMEOUT_S))).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("stopping the container failed: {e}")),
                    Err(_) => Err(format!("stopping the container did not finish within {bounded:?}")),
                }
            }
            RestartKind::Crash => {
                use testcontainers::bollard::query_parameters::KillContainerOptions;
                let docker = testcontainers::core::client::docker_client_instance().await.map_err(|e| format!("no container engine: {e}"))?;
                let kill = docker.kill_container(c.id(), Some(KillContainerOptions { signal: "KILL".into() }));
                match tokio::time::timeout(ENGINE_TIMEOUT, kill).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("killing the container failed: {e}")),
                    Err(_) => Err(format!("killing the container did not finish within {ENGINE_TIMEOUT:?}")),
                }
            }
        }
    }

    /// Starts a container that was brought down; returns the host port.
    pub async fn bring_up(&self) -> Result<u16, String> {
        let guard = self.inner.lock().await;
        let c = guard.as_ref().ok_or("the container was removed")?;
        engine("starting the container again", c.start()).await?;
        Ok(self.port)
    }

    /// Where the container's log is now, to read what comes after it.
    pub async fn log_mark(&self) -> LogMark {
        let (out, err) = self.log_streams().await.unwrap_or_default();
        LogMark { stdout: out.len(), stderr: err.len() }
    }

    /// The lines written since a mark (stdout's, then stderr's), and the new mark.
    pub async fn log_since(&self, mark: LogMark) -> (Vec<String>, LogMark) {
        let (out, err) = self.log_streams().await.unwrap_or_default();
        let next = LogMark { stdout: out.len(), stderr: err.len() };
        let mut lines: Vec<String> = out.into_iter().skip(mark.stdout).collect();
        lines.extend(err.into_iter().skip(mark.stderr));
        (lines, next)
    }

    /// The container's stdout and stderr lines; `None` when the engine did not answer in time.
    async fn log_streams(&self) -> Option<(Vec<String>, Vec<String>)> {
        let read = async {
            let guard = self.inner.lock().await;
            let Some(c) = guard.as_ref() else { return (Vec::new(), Vec::new()) };
            let split = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).lines().map(String::from).collect::<Vec<_>>();
            (split(c.stdout_to_vec().await.unwrap_or_default()), split(c.stderr_to_vec().await.unwrap_or_default()))
        };
        tokio::time::timeout(ENGINE_TIMEOUT, read).await.ok()
    }

    /// Whether the container runs; `true` when the engine cannot tell in time, so that
    /// a slow engine is never taken for a dead server.
    pub async fn is_running(&self) -> bool {
        let ask = async {
            match self.inner.lock().await.as_ref() {
                Some(c) => c.is_running().await.unwrap_or(true),
                None => false,
            }
        };
        tokio::time::timeout(ENGINE_TIMEOUT, ask).await.unwrap_or(true)
    }

    /// The last lines the server wrote, for a target that died.
    pub async fn log_tail(&self, lines: usize) -> String {
        let Some((mut all, err)) = self.log_streams().await else { return "(the container's log could not be read in time)".into() };
        all.extend(err);
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub async fn remove(&self) {
        let taken = tokio::time::timeout(ENGINE_TIMEOUT, self.inner.lock()).await.ok().and_then(|mut g| g.take());
        if let Some(c) = taken {
            let _ = tokio::time::timeout(ENGINE_TIMEOUT, c.rm()).await;
        }
    }
}
