//! One container's life on a node: a simulated container (image not registered) runs at
//! once, with a `Simulated` event saying so; a registered image runs as a local process, with
//! probes, restarts per the pod's `restartPolicy` with backoff, and a graceful stop when the
//! pod goes away. Each step is recorded as the kubelet records it (`Pulled`, `Created`,
//! `Started`, `Failed`, `BackOff`, `Unhealthy`, `Killing` events) and each run's output is kept
//! for `kubectl logs` (`logs`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::sync::{mpsc, watch};

use super::Context;
use super::events::{NORMAL, Recorder, WARNING};
use super::launch::{self, Sources};
use super::logs::{self, Registration};
use super::probe::{self, Probed, Unhealthy};
use super::process::{Launch, Process, exit_code};
use super::status::{self, State, Terminated};
use crate::now_rfc3339;

/// How long a simulated container of a run-to-completion pod runs.
const SIMULATED_RUN: Duration = Duration::from_millis(200);
/// Restart backoff: doubles from this, up to `MAX_BACKOFF` (the kubelet's 10 s and 5 min,
/// shortened so tests and features see restarts promptly).
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long to wait before retrying a container whose configuration cannot be built yet
/// (a Secret not there yet).
const CONFIG_RETRY: Duration = Duration::from_millis(250);

/// A container's state change, for the pod worker.
#[derive(Debug)]
pub struct Report {
    pub init: bool,
    pub index: usize,
    pub container: status::Container,
}

/// Everything a runner needs.
pub struct Runner {
    pub context: Arc<Context>,
    pub client: kube::Client,
    pub pod: Arc<Pod>,
    pub container: Container,
    pub init: bool,
    pub index: usize,
    pub ip: IpAddr,
    pub pod_dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub volumes: BTreeMap<String, PathBuf>,
    /// `Some(grace)` once the pod is being deleted.
    pub stop: watch::Receiver<Option<Duration>>,
    pub reports: mpsc::UnboundedSender<Report>,
    /// The node's events.
    pub events: Recorder,
    /// The pod's logs, for `kubectl logs`.
    pub logs: Arc<Registration>,
}

/// Why a process run ended.
enum Ended {
    Exited(Terminated),
    Stopped,
}

impl Runner {
    fn restart_policy(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|spec| spec.restart_policy.as_deref())
            .unwrap_or("Always")
    }

    /// An event about this container.
    fn event(&self, kind: &'static str, reason: &'static str, message: String) {
        self.events
            .container(&self.pod, &self.container.name, kind, reason, message);
    }

    /// `<name>_<namespace>(<uid>)`, how the kubelet names a pod in messages (`format.Pod`).
    fn pod_name(&self) -> String {
        let meta = &self.pod.metadata;
        format!(
            "{}_{}({})",
            meta.name.as_deref().unwrap_or(""),
            meta.namespace.as_deref().unwrap_or(""),
            meta.uid.as_deref().unwrap_or("")
        )
    }

    fn report(&self, container: &status::Container) {
        let _ = self.reports.send(Report {
            init: self.init,
            index: self.index,
            container: container.clone(),
        });
    }

    /// Resolves once the pod is being deleted, with the grace period.
    async fn stopping(stop: &mut watch::Receiver<Option<Duration>>) -> Duration {
        loop {
            if let Some(grace) = *stop.borrow_and_update() {
                return grace;
            }
            if stop.changed().await.is_err() {
                return Duration::ZERO;
            }
        }
    }

    pub async fn run(self) {
        let image = self.container.image.clone().unwrap_or_default();
        match self.context.images.get(&image).cloned() {
            Some(program) => self.run_process(program, image).await,
            None => self.run_simulated(image).await,
        }
    }

    async fn run_simulated(mut self, image: String) {
        let started_at = now_rfc3339();
        let container_id = format!("sim://{}", uuid::Uuid::new_v4().simple());
        // Nothing runs to answer a readiness probe: such a container is never ready, so a pod
        // of a mistyped image does not look healthy.
        let probed = self.container.readiness_probe.is_some();
        let mut message = format!(
            "Container {} is simulated: no process runs (image {image:?} is not registered with the kubelet)",
            self.container.name
        );
        if probed && !self.init {
            message.push_str("; it cannot answer its readiness probe, so it is never ready");
        }
        self.event(WARNING, "Simulated", message);
        let mut model = status::Container {
            state: State::Running {
                started_at: started_at.clone(),
            },
            ready: !self.init && !probed,
            started: true,
            container_id: container_id.clone(),
            ..status::Container::waiting(&self.container.name, &image, "ContainerCreating")
        };
        let completes = self.init || self.restart_policy() != "Always";
        if completes {
            if !self.init {
                self.report(&model);
                let mut stop = self.stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(SIMULATED_RUN) => {}
                    _ = Self::stopping(&mut stop) => return,
                }
            }
            model.state = State::Terminated(Terminated {
                exit_code: 0,
                reason: "Completed".into(),
                message: None,
                started_at,
                finished_at: now_rfc3339(),
                container_id,
            });
            model.ready = false;
            model.started = false;
            model.done = true;
        }
        self.report(&model);
        Self::stopping(&mut self.stop).await;
    }

    /// Whether the policy restarts a container that exited with `code`.
    fn restarts(&self, code: i32) -> bool {
        match self.restart_policy() {
            "Never" => false,
            // Init containers are restarted on failure only, even with `Always`.
            "Always" if !self.init => true,
            _ => code != 0,
        }
    }

    async fn run_process(mut self, program: PathBuf, image: String) {
        let mut model =
            status::Container::waiting(&self.container.name, &image, "ContainerCreating");
        let mut backoff = FIRST_BACKOFF;
        let mut stop = self.stop.clone();
        loop {
            let launch = match self.launch(&program, model.restart_count).await {
                Ok(launch) => launch,
                Err(message) => {
                    self.event(WARNING, "Failed", format!("Error: {message}"));
                    model.state = State::Waiting {
                        reason: "CreateContainerConfigError".into(),
                        message: Some(message),
                    };
                    self.report(&model);
                    tokio::select! {
                        _ = tokio::time::sleep(CONFIG_RETRY) => continue,
                        _ = Self::stopping(&mut stop) => return,
                    }
                }
            };
            // The image is the executable on this machine: always present.
            self.event(
                NORMAL,
                "Pulled",
                format!("Container image {image:?} already present on machine"),
            );
            let ended = self.run_once(&launch, &mut model).await;
            let terminated = match ended {
                Ended::Stopped => return,
                Ended::Exited(terminated) => terminated,
            };
            let code = terminated.exit_code;
            model.ready = false;
            model.started = false;
            if !self.restarts(code) {
                model.state = State::Terminated(terminated);
                model.done = true;
                self.report(&model);
                Self::stopping(&mut stop).await;
                return;
            }
            model.last = Some(terminated);
            model.state = State::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(format!(
                    "back-off {backoff:?} restarting failed container={} pod={}",
                    self.container.name,
                    self.pod_name()
                )),
            };
            self.report(&model);
            self.event(
                WARNING,
                "BackOff",
                format!(
                    "Back-off restarting failed container {} in pod {}",
                    self.container.name,
                    self.pod_name()
                ),
            );
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = Self::stopping(&mut stop) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            model.restart_count += 1;
        }
    }

    /// The process to start: program, arguments and environment with `$(VAR)` expanded and
    /// mount paths and wildcard listen addresses rewritten; run `run` (the restart count) logs
    /// to `logs/<container>/<run>.log`.
    async fn launch(&self, program: &std::path::Path, run: i32) -> Result<Launch, String> {
        let pod_ip = self.ip.to_string();
        let sources = Sources {
            client: self.client.clone(),
            namespace: self.pod.metadata.namespace.clone().unwrap_or_default(),
        };
        let container_env =
            launch::environment(&self.pod, &self.container, &pod_ip, &sources).await?;
        let mounts = super::volumes::mounts(&self.container, &self.volumes);
        let rewrite =
            |text: &str| launch::rewrite_listen(&launch::rewrite_mounts(text, &mounts), &pod_ip);
        let (host, port) = self.context.access.service_address();
        let mut env: Vec<(String, String)> = vec![
            (
                "PATH".into(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
            ),
            ("HOME".into(), self.pod_dir.to_string_lossy().into_owned()),
            (
                "HOSTNAME".into(),
                self.pod.metadata.name.clone().unwrap_or_default(),
            ),
            ("KUBERNETES_SERVICE_HOST".into(), host.clone()),
            ("KUBERNETES_SERVICE_PORT".into(), port.clone()),
            ("KUBERNETES_SERVICE_PORT_HTTPS".into(), port.clone()),
            ("KUBERNETES_PORT".into(), format!("tcp://{host}:{port}")),
            (
                "KUBECONFIG".into(),
                self.kubeconfig.to_string_lossy().into_owned(),
            ),
        ];
        for (name, value) in container_env {
            env.retain(|(existing, _)| *existing != name);
            env.push((name, rewrite(&value)));
        }
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let args = launch::arguments(program, &self.container)
            .iter()
            .map(|arg| rewrite(&launch::expand(arg, &lookup)))
            .collect();
        Ok(Launch {
            program: program.to_path_buf(),
            args,
            env,
            dir: self.pod_dir.clone(),
            log: self.pod_dir.join(format!("{}.log", self.container.name)),
            run_log: self
                .pod_dir
                .join("logs")
                .join(&self.container.name)
                .join(format!("{run}.log")),
        })
    }

    /// Deletes the logs of runs before the previous one (the kubelet keeps one dead container
    /// per container), before run `run` starts.
    fn forget_old_runs(&self, run: i32) {
        let dir = self.pod_dir.join("logs").join(&self.container.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let number = name
                .to_str()
                .and_then(|name| name.strip_suffix(".log"))
                .and_then(|number| number.parse::<i32>().ok());
            if number.is_some_and(|number| number < run - 1) {
                // Best effort: a leftover log takes space, nothing else.
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn grace(&self) -> Duration {
        let seconds = self
            .pod
            .spec
            .as_ref()
            .and_then(|spec| spec.termination_grace_period_seconds)
            .unwrap_or(30);
        Duration::from_secs(u64::try_from(seconds.max(0)).unwrap_or(0)).min(super::pod::MAX_GRACE)
    }

    /// Starts the process once and follows it until it exits or the pod is deleted.
    async fn run_once(&mut self, launch: &Launch, model: &mut status::Container) -> Ended {
        let started_at = now_rfc3339();
        let container_id = format!("sim://{}", uuid::Uuid::new_v4().simple());
        self.forget_old_runs(model.restart_count);
        self.event(
            NORMAL,
            "Created",
            format!("Created container: {}", self.container.name),
        );
        let mut process = match Process::spawn(launch, &self.context.processes) {
            Ok(process) => {
                self.event(
                    NORMAL,
                    "Started",
                    format!("Started container {}", self.container.name),
                );
                let previous = model.last.as_ref().map(|last| last.container_id.as_str());
                let run = logs::Run {
                    path: launch.run_log.clone(),
                    written: process.written.clone(),
                };
                self.logs
                    .add_run(&self.container.name, &container_id, run, previous);
                process
            }
            Err(message) => {
                self.event(WARNING, "Failed", format!("Error: {message}"));
                return Ended::Exited(Terminated {
                    exit_code: 128,
                    reason: "StartError".into(),
                    message: Some(message),
                    started_at: started_at.clone(),
                    finished_at: started_at,
                    container_id,
                });
            }
        };
        let readiness = self.probe(self.container.readiness_probe.as_ref());
        let liveness = self.probe(self.container.liveness_probe.as_ref());
        model.state = State::Running {
            started_at: started_at.clone(),
        };
        model.container_id = container_id.clone();
        model.started = true;
        model.ready = !self.init && readiness.is_none();
        self.report(model);
        let (probe_tx, mut probe_rx) = mpsc::unbounded_channel::<Probed>();
        let mut probes = Vec::new();
        let unhealthy = || Unhealthy {
            events: self.events.clone(),
            pod: self.pod.clone(),
            container: self.container.name.clone(),
        };
        if let Some(spec) = readiness.filter(|_| !self.init) {
            probes.push(AbortOnDrop(tokio::spawn(probe::readiness_loop(
                spec,
                probe_tx.clone(),
                unhealthy(),
            ))));
        }
        if let Some(spec) = liveness.filter(|_| !self.init) {
            probes.push(AbortOnDrop(tokio::spawn(probe::liveness_loop(
                spec,
                probe_tx.clone(),
                unhealthy(),
            ))));
        }
        let mut stop = self.stop.clone();
        let terminated = |status: Result<std::process::ExitStatus, String>,
                          message: Option<String>| {
            let (exit_code, reason) = match &status {
                Ok(status) => exit_code(status),
                Err(_) => (1, "Error"),
            };
            Terminated {
                exit_code,
                reason: reason.into(),
                message: message.or_else(|| status.err()),
                started_at: started_at.clone(),
                finished_at: now_rfc3339(),
                container_id: container_id.clone(),
            }
        };
        loop {
            tokio::select! {
                status = process.wait() => return Ended::Exited(terminated(status, None)),
                grace = Self::stopping(&mut stop) => {
                    self.event(NORMAL, "Killing", format!("Stopping container {}", self.container.name));
                    let _ = process.stop(grace).await;
                    return Ended::Stopped;
                }
                Some(probed) = probe_rx.recv() => match probed {
                    Probed::Ready(ready) => {
                        if model.ready != ready {
                            model.ready = ready;
                            self.report(model);
                        }
                    }
                    Probed::LivenessFailed(message) => {
                        self.event(
                            NORMAL,
                            "Killing",
                            format!("Container {} failed liveness probe, will be restarted", self.container.name),
                        );
                        let status = process.stop(self.grace()).await;
                        return Ended::Exited(terminated(status, Some(format!("Liveness probe failed: {message}"))));
                    }
                },
            }
        }
    }

    fn probe(&self, probe: Option<&k8s_openapi::api::core::v1::Probe>) -> Option<probe::Spec> {
        let probe = probe?;
        match probe::spec(probe, &self.container, self.ip) {
            Ok(spec) => Some(spec),
            Err(error) => {
                // An unusable probe never succeeds, as on a real node.
                tracing::warn!(%error, container = self.container.name, "probe cannot run");
                Some(probe::Spec {
                    action: probe::Action::Tcp(std::net::SocketAddr::new(self.ip, 0)),
                    initial_delay: Duration::ZERO,
                    period: Duration::from_secs(10),
                    timeout: Duration::from_secs(1),
                    success_threshold: 1,
                    failure_threshold: 1,
                })
            }
        }
    }
}

/// Aborts the task when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
