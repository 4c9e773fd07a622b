//! A database server in a container, through the Docker API (Docker itself, or Podman's
//! compatible service: set DOCKER_HOST). Containers carry the labels `dbcompat=1`,
//! `dbcompat.host`, `dbcompat.pid` and `dbcompat.pid-start` (which process on which host
//! started them), and are removed when the target shuts down, when the run is
//! interrupted (run/interrupt.rs), and when dropped. Those of a process that died
//! without removing them (SIGKILL) are removed by the next run or by `dbcompat clean`
//! (see `remove_orphans`), and only those: other live runs' containers are left alone.

use std::time::Duration;

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::sync::Mutex;

use crate::backends::Backend;
use crate::suite::RestartKind;

pub const PASSWORD: &str = "dbcompat";
/// The label holding the process id of the harness that started a container.
pub const PID_LABEL: &str = "dbcompat.pid";
/// The host the harness ran on: a process id means something only there.
pub const HOST_LABEL: &str = "dbcompat.host";
/// When that process started (clock ticks since boot), so a reused process id is
/// not taken for the process that started the container.
pub const PID_START_LABEL: &str = "dbcompat.pid-start";
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
    let _ = tokio::time::timeout(ENGINE_TIMEOUT, remove_matching(&format!("{INSTANCE_LABEL}={instance}"), |_| true)).await;
}

/// Removes every container this process started, finished or half started; returns
/// how many. What an interrupted run does last.
pub async fn remove_all_of_this_process() -> Result<usize, String> {
    let pid = std::process::id().to_string();
    let host = this_host();
    let mine = move |labels: &Labels| labels.get(HOST_LABEL).is_none_or(|h| *h == host) && labels.get(PID_LABEL) == Some(&pid);
    tokio::time::timeout(ENGINE_TIMEOUT, remove_matching(&format!("{PID_LABEL}={}", std::process::id()), mine))
        .await
        .unwrap_or_else(|_| Err(format!("the container engine did not answer within {ENGINE_TIMEOUT:?}")))
}

/// Removes the containers left by dbcompat processes of this host that are gone;
/// returns how many. Containers of live processes, and of other hosts, are kept.
pub async fn remove_orphans() -> Result<usize, String> {
    let host = this_host();
    tokio::time::timeout(ENGINE_TIMEOUT, remove_matching("dbcompat=1", move |labels| is_orphan(labels, &host, process_start)))
        .await
        .unwrap_or_else(|_| Err(format!("the container engine did not answer within {ENGINE_TIMEOUT:?}")))
}

/// Before a run starts containers: removes those that dead runs of this host left,
/// saying how many on stderr. Without an engine it says nothing (the targets will).
pub async fn remove_orphans_before_run() {
    if engine_available().await.is_err() {
        return;
    }
    match remove_orphans().await {
        Ok(0) => {}
        Ok(n) => eprintln!("removed {n} container(s) left by dbcompat runs that are gone"),
        Err(e) => eprintln!("warning: could not look for containers left by earlier runs: {e}"),
    }
}

type Labels = std::collections::HashMap<String, String>;

/// Whether a container's labels name a process of `host` that no longer runs.
/// `start_of(pid)` is the running process's start time, `None` when there is none.
/// A container without the host label (older dbcompat) is never taken for an orphan.
fn is_orphan(labels: &Labels, host: &str, start_of: impl Fn(u32) -> Option<String>) -> bool {
    let Some(pid) = labels.get(PID_LABEL).and_then(|p| p.parse::<u32>().ok()) else { return false };
    if labels.get(HOST_LABEL).map(String::as_str) != Some(host) {
        return false;
    }
    match start_of(pid) {
        None => true,
        // The id was reused by a process that started at another time.
        Some(now) => labels.get(PID_START_LABEL).is_some_and(|then| !then.is_empty() && !now.is_empty() && *then != now),
    }
}

/// Removes the containers the engine lists for `filter` whose labels pass `chosen`;
/// returns how many.
async fn remove_matching(filter: &str, chosen: impl Fn(&Labels) -> bool) -> Result<usize, String> {
    use testcontainers::bollard::query_parameters::RemoveContainerOptions;
    let docker = testcontainers::core::client::docker_client_instance().await.map_err(|e| format!("no container engine: {e}"))?;
    let mut removed = 0;
    // A container that was in a state the listing could not show is looked for again.
    for pass in 0..4 {
        let (ids, complete) = list_ids(&docker, filter, &chosen).await?;
        let removals = ids.iter().map(|id| docker.remove_container(id, Some(RemoveContainerOptions { force: true, v: true, link: false })));
        removed += futures_util::future::join_all(removals).await.iter().filter(|r| r.is_ok()).count();
        if complete {
            break;
        }
        if pass < 3 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(removed)
}

/// The ids of the containers listed for `filter` whose labels pass `chosen`, and whether
/// the listing was complete. Podman reports a container that is being stopped in the
/// state "stopped", which the Docker API client cannot read, and then the whole listing
/// fails: the containers are then listed state by state, without that one.
async fn list_ids(docker: &testcontainers::bollard::Docker, filter: &str, chosen: &impl Fn(&Labels) -> bool) -> Result<(Vec<String>, bool), String> {
    use testcontainers::bollard::query_parameters::ListContainersOptions;
    let list = |status: Option<&str>| {
        let mut filters = std::collections::HashMap::from([("label".to_string(), vec![filter.to_string()])]);
        if let Some(s) = status {
            filters.insert("status".to_string(), vec![s.to_string()]);
        }
        docker.list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }))
    };
    let pick = |listed: Vec<testcontainers::bollard::models::ContainerSummary>| {
        listed.into_iter().filter(|c| chosen(&c.labels.clone().unwrap_or_default())).filter_map(|c| c.id).collect::<Vec<_>>()
    };
    let whole = match list(None).await {
        Ok(listed) => return Ok((pick(listed), true)),
        Err(e) => e,
    };
    let mut ids = Vec::new();
    let mut any = false;
    for status in ["created", "running", "paused", "restarting", "exited", "dead", "removing"] {
        if let Ok(listed) = list(Some(status)).await {
            any = true;
            ids.extend(pick(listed));
        }
    }
    if any { Ok((ids, false)) } else { Err(format!("listing containers failed: {whole}")) }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// A running process's start time (field 22 of /proc/PID/stat), `None` when no such
/// process runs. Where /proc is missing, a process that answers signal 0 counts as
/// running, with an unknown start time.
fn process_start(pid: u32) -> Option<String> {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The command name (field 2) is in parentheses and may hold spaces.
        Ok(stat) => Some(stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().nth(19).unwrap_or("").to_string()).unwrap_or_default()),
        Err(_) if std::path::Path::new("/proc/self/stat").exists() => None,
        Err(_) => {
            let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
            alive.then(String::new)
        }
    }
}

/// A call to the container engine, bounded in time.
async fn engine<T>(what: &str, call: impl std::future::Future<Output = testcontainers::core::error::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(ENGINE_TIMEOUT, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what} failed: {e}")),
        Err(_) => Err(format!("{what} did not finish within {ENGINE_TIMEOUT:?}")),
    }
}

/// How many free ports a start tries before it gives up on a port that was taken.
const PORT_ATTEMPTS: u32 = 3;

/// The engine's answer when the host port it was to bind had been taken meanwhile.
fn is_port_taken(message: &str) -> bool {
    message.contains("address already in use")
}

/// Podman's Docker API can report a container that exits at once as `stopped`, a state
/// the Docker API does not have, so the engine client's inspection after the start fails;
/// a new container is tried (its exit is then seen, with its code, by the server watch).
fn is_podman_transient_state(message: &str) -> bool {
    message.contains("unknown variant `stopped`")
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
        let contract = backend.dialect().container().ok_or_else(|| format!("{backend} does not run in a container"))?;
        let (port, user) = (contract.port, contract.user);
        // An explicit mapping to a free port: Podman's Docker API does not publish
        // exposed ports on its own as Docker does, and the port then survives restarts.
        // The port is free when chosen but may be taken before the engine binds it (a
        // container of another run coming up or going down): then a new port is tried.
        let mut attempt = 1;
        let (container, host_port) = loop {
            let host_port = free_port()?;
            let instance = format!("{}-{}", std::process::id(), INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            let mut request = GenericImage::new(image, tag)
                .with_exposed_port(port.tcp())
                .with_wait_for(WaitFor::Nothing)
                .with_mapped_port(host_port, port.tcp())
                .with_labels([
                    ("dbcompat".to_string(), "1".to_string()),
                    (HOST_LABEL.to_string(), this_host()),
                    (PID_LABEL.to_string(), std::process::id().to_string()),
                    (PID_START_LABEL.to_string(), process_start(std::process::id()).unwrap_or_default()),
                    (INSTANCE_LABEL.to_string(), instance.clone()),
                ])
                .with_startup_timeout(timeout);
            if let Some(variable) = contract.password_env {
                request = request.with_env_var(variable, PASSWORD);
            }
            if !args.is_empty() {
                request = request.with_cmd(args.to_vec());
            }
            match request.start().await {
                Ok(c) => break (c, host_port),
                Err(e) => {
                    remove_labelled(&instance).await;
                    let message = e.to_string();
                    if (is_port_taken(&message) || is_podman_transient_state(&message)) && attempt < PORT_ATTEMPTS {
                        attempt += 1;
                        continue;
                    }
                    return Err(format!("the container did not start: {message}"));
                }
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

    /// How the container ended ("exited with code 137 (killed)"), `None` while it runs
    /// or when the engine cannot tell.
    pub async fn exit_status(&self) -> Option<String> {
        let ask = async {
            let guard = self.inner.lock().await;
            let c = guard.as_ref()?;
            let docker = testcontainers::core::client::docker_client_instance().await.ok()?;
            let state = docker.inspect_container(c.id(), None).await.ok()?.state?;
            if state.running == Some(true) {
                return None;
            }
            let code = state.exit_code.unwrap_or(-1);
            let why = match (code, state.oom_killed) {
                (_, Some(true)) => " (killed: out of memory)",
                (137, _) => " (killed by SIGKILL)",
                (143, _) => " (stopped by SIGTERM)",
                _ => "",
            };
            Some(format!("exited with code {code}{why}"))
        };
        tokio::time::timeout(ENGINE_TIMEOUT, ask).await.ok().flatten()
    }

    /// The last lines the server wrote, for a target that died.
    pub async fn log_tail(&self, lines: usize) -> String {
        let Some((mut all, err)) = self.log_streams().await else { return "(the container's log could not be read in time)".into() };
        all.extend(err);
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The engine's id of the container, for running commands in it; `None` once removed.
    pub async fn id(&self) -> Option<String> {
        self.inner.lock().await.as_ref().map(|c| c.id().to_string())
    }

    pub async fn remove(&self) {
        let taken = tokio::time::timeout(ENGINE_TIMEOUT, self.inner.lock()).await.ok().and_then(|mut g| g.take());
        if let Some(c) = taken {
            let _ = tokio::time::timeout(ENGINE_TIMEOUT, c.rm()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn only_containers_of_dead_processes_of_this_host_are_orphans() {
        let gone = |_: u32| None;
        let alive = |_: u32| Some("500".to_string());
        let ours = labels(&[(HOST_LABEL, "h"), (PID_LABEL, "42"), (PID_START_LABEL, "500")]);
        assert!(is_orphan(&ours, "h", gone), "its process is gone");
        assert!(!is_orphan(&ours, "h", alive), "its process still runs");
        assert!(!is_orphan(&ours, "other", gone), "a process id of another host says nothing here");
        let reused = |_: u32| Some("900".to_string());
        assert!(is_orphan(&ours, "h", reused), "the id now belongs to a process started later");
        let older = labels(&[(PID_LABEL, "42")]);
        assert!(!is_orphan(&older, "h", gone), "without a host label nothing is assumed");
        let unknown_start = labels(&[(HOST_LABEL, "h"), (PID_LABEL, "42")]);
        assert!(!is_orphan(&unknown_start, "h", alive), "a live process with no recorded start time is kept");
    }

    #[test]
    fn only_a_taken_port_is_retried() {
        let podman = "Docker responded with status code 500: cannot listen on the TCP port: listen tcp4 :38059: bind: address already in use";
        assert!(is_port_taken(podman));
        assert!(!is_port_taken("Docker responded with status code 404: no such image"));
        assert!(is_podman_transient_state("failed to inspect a container: Failed to deserialize JSON: unknown variant `stopped`, expected one of ``, `created`"));
    }

    #[test]
    fn this_process_is_running_with_a_start_time() {
        let me = process_start(std::process::id()).expect("this process runs");
        assert!(!me.is_empty() && me.chars().all(|c| c.is_ascii_digit()), "{me}");
        assert_eq!(process_start(std::process::id()), Some(me), "the start time is stable");
    }
}
