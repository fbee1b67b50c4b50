//! The pod worker: one task per pod on a node. It gives the pod its IP and private
//! directory, runs the init containers one after another and then the containers (see
//! `runner`), posts the pod's status through `pods/status` whenever it changes, and on
//! deletion stops the containers (SIGTERM, then SIGKILL after the grace period) and frees the IP.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, Patch};
use tokio::sync::{broadcast, mpsc, watch};

use super::Context;
use super::events::{Recorder, WARNING};
use super::logs::Registration;
use super::refresh::{self, Changed};
use super::runner::{AbortOnDrop, Report, Runner};
use super::status::{self, State};
use super::volumes;

/// The longest a container is given to stop after SIGTERM (its
/// `terminationGracePeriodSeconds` is honoured up to this, to keep deletions quick).
pub const MAX_GRACE: Duration = Duration::from_secs(2);
/// How long to wait before posting a status again after a failed post.
const STATUS_RETRY: Duration = Duration::from_millis(200);
/// How long to wait before retrying volumes that cannot be written yet.
const VOLUME_RETRY: Duration = Duration::from_millis(250);

/// The latest version of the pod, `None` once it is deleted (or the agent dropped it).
pub type Updates = watch::Receiver<Option<Arc<Pod>>>;

/// The grace period if the pod is being deleted.
fn deleting(update: Option<&Arc<Pod>>) -> Option<Duration> {
    match update {
        None => Some(MAX_GRACE),
        Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
            let seconds = pod
                .metadata
                .deletion_grace_period_seconds
                .or_else(|| pod.spec.as_ref()?.termination_grace_period_seconds)
                .unwrap_or(30);
            Some(Duration::from_secs(u64::try_from(seconds.max(0)).unwrap_or(0)).min(MAX_GRACE))
        }
        Some(_) => None,
    }
}

struct Worker {
    context: Arc<Context>,
    client: kube::Client,
    pod: Arc<Pod>,
    model: status::Pod,
    posted: Option<serde_json::Value>,
    pod_dir: PathBuf,
    kubeconfig: PathBuf,
    volumes: volumes::Volumes,
    /// Secrets and ConfigMaps that changed on the cluster (`None` once the agent is gone).
    changes: Option<broadcast::Receiver<Changed>>,
    ip: IpAddr,
    stop: watch::Sender<Option<Duration>>,
    reports: mpsc::UnboundedSender<Report>,
    runners: Vec<AbortOnDrop>,
    containers_started: bool,
    events: Recorder,
    /// The pod's logs, readable while the worker runs.
    logs: Arc<Registration>,
}

impl Worker {
    fn name(&self) -> (&str, &str) {
        (
            self.pod.metadata.namespace.as_deref().unwrap_or(""),
            self.pod.metadata.name.as_deref().unwrap_or(""),
        )
    }

    /// Posts the status if it changed since the last post; `false` once the pod is gone.
    /// A post that failed otherwise is retried by the next call (see `unposted`).
    async fn publish(&mut self) -> bool {
        let body = self.model.render();
        if self.posted.as_ref() == Some(&body) {
            return true;
        }
        let (namespace, name) = self.name();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match pods
            .patch_status(name, &super::node::kubelet_params(), &Patch::Merge(&body))
            .await
        {
            Ok(_) => {
                self.posted = Some(body);
                true
            }
            Err(kube::Error::Api(status)) if status.code == 404 => false,
            Err(error) => {
                tracing::warn!(%error, namespace, name, "cannot post the pod's status");
                true
            }
        }
    }

    /// Whether the last post failed and the status still has to be posted.
    fn unposted(&mut self) -> bool {
        let body = self.model.render();
        self.posted.as_ref() != Some(&body)
    }

    fn spawn_runner(&mut self, init: bool, index: usize) {
        let spec = self.pod.spec.clone().unwrap_or_default();
        let container = if init {
            spec.init_containers.unwrap_or_default().get(index).cloned()
        } else {
            spec.containers.get(index).cloned()
        };
        let Some(container) = container else { return };
        let runner = Runner {
            context: self.context.clone(),
            client: self.client.clone(),
            pod: self.pod.clone(),
            container,
            init,
            index,
            ip: self.ip,
            pod_dir: self.pod_dir.clone(),
            kubeconfig: self.kubeconfig.clone(),
            volumes: self.volumes.dirs.clone(),
            stop: self.stop.subscribe(),
            reports: self.reports.clone(),
            events: self.events.clone(),
            logs: self.logs.clone(),
        };
        self.runners.push(AbortOnDrop(tokio::spawn(runner.run())));
    }

    fn apply(&mut self, report: Report) {
        self.logs.update(&report.container);
        let list = if report.init {
            &mut self.model.init
        } else {
            &mut self.model.containers
        };
        if let Some(slot) = list.get_mut(report.index) {
            *slot = report.container;
        }
    }

    /// Starts the next init container when the previous one completed, or the containers
    /// when all have.
    fn advance(&mut self) {
        if !self.model.initialized {
            match self.model.init.iter().position(|c| !c.done) {
                // A failed init container that will not be restarted: the pod has failed.
                Some(index) if index > 0 && !self.model.init[index - 1].succeeded() => {}
                Some(index) => {
                    let pending = matches!(&self.model.init[index].state, State::Waiting { reason, .. } if reason == "PodInitializing");
                    if pending {
                        // Marked before the runner reports, so it is started only once.
                        self.model.init[index].state = State::Waiting {
                            reason: "ContainerCreating".into(),
                            message: None,
                        };
                        self.spawn_runner(true, index);
                    }
                }
                None => {
                    self.model.initialized =
                        self.model.init.iter().all(status::Container::succeeded);
                }
            }
        }
        if self.model.initialized && !self.containers_started {
            self.containers_started = true;
            for index in 0..self.model.containers.len() {
                self.spawn_runner(false, index);
            }
        }
    }

    /// Stops every container within `grace`, then lets the pod go: if it still exists (a
    /// graceful deletion), deletes it for good, as the kubelet does.
    async fn terminate(&mut self, grace: Duration, exists: bool) {
        let _ = self.stop.send(Some(grace));
        let runners = std::mem::take(&mut self.runners);
        let wait = futures::future::join_all(runners.into_iter().map(|mut runner| async move {
            let _ = (&mut runner.0).await;
        }));
        let _ = tokio::time::timeout(grace + Duration::from_secs(1), wait).await;
        if exists {
            let (namespace, name) = self.name();
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
            let _ = pods
                .delete(name, &DeleteParams::default().grace_period(0))
                .await;
        }
    }
}

fn images_registered(context: &Context, pod: &Pod) -> bool {
    pod.spec.iter().any(|spec| {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| {
                c.image
                    .as_ref()
                    .is_some_and(|image| context.images.contains_key(image))
            })
    })
}

/// Runs the pod until it is deleted.
pub async fn run(
    context: Arc<Context>,
    client: kube::Client,
    events: Recorder,
    pod: Arc<Pod>,
    mut updates: Updates,
    changes: broadcast::Receiver<Changed>,
) {
    let Some(lease) = context.ipam.allocate() else {
        tracing::error!(pod = pod.metadata.name, "no pod IP left");
        return;
    };
    let mut lease = Some(lease);
    let ip = lease
        .as_ref()
        .map_or(IpAddr::from([127, 0, 0, 1]), |l| IpAddr::V4(l.ip));
    let spec = pod.spec.clone().unwrap_or_default();
    let image = |c: &k8s_openapi::api::core::v1::Container| c.image.clone().unwrap_or_default();
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| status::Container::waiting(&c.name, &image(c), "PodInitializing"))
        .collect();
    let containers = spec
        .containers
        .iter()
        .map(|c| {
            let reason = if spec.init_containers.as_ref().is_some_and(|i| !i.is_empty()) {
                "PodInitializing"
            } else {
                "ContainerCreating"
            };
            status::Container::waiting(&c.name, &image(c), reason)
        })
        .collect();
    let (reports, mut reported) = mpsc::unbounded_channel();
    let (stop, _) = watch::channel(None);
    let pod_dir = volumes::pod_dir(&context.work_dir, &pod);
    let logs = context
        .logs
        .register(&pod, &|image| context.images.contains_key(image));
    let mut worker = Worker {
        kubeconfig: pod_dir.join("kubeconfig"),
        pod_dir,
        model: status::Pod::new(
            ip.to_string(),
            context.host_ip.to_string(),
            init,
            containers,
        ),
        posted: None,
        context: context.clone(),
        client,
        pod: pod.clone(),
        volumes: Default::default(),
        changes: Some(changes),
        ip,
        stop,
        reports,
        runners: Vec::new(),
        containers_started: false,
        events,
        logs,
    };
    for container in worker.model.init.iter().chain(&worker.model.containers) {
        worker.logs.update(container);
    }
    // Processes need their directory, volumes and kubeconfig; simulated pods need none.
    if images_registered(&context, &pod) {
        loop {
            match prepare(&worker).await {
                Ok(volumes) => {
                    worker.volumes = volumes;
                    break;
                }
                Err(message) => {
                    worker
                        .events
                        .pod(&worker.pod, WARNING, "FailedMount", message.clone());
                    for container in &mut worker.model.containers {
                        container.state = State::Waiting {
                            reason: "ContainerCreating".into(),
                            message: Some(message.clone()),
                        };
                    }
                    if !worker.publish().await {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(VOLUME_RETRY) => {}
                        changed = updates.changed() => {
                            let update = if changed.is_ok() { updates.borrow_and_update().clone() } else { None };
                            if deleting(update.as_ref()).is_some() {
                                worker.terminate(Duration::ZERO, update.is_some()).await;
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
    worker.advance();
    // Let runners that report at once (simulated containers) do so before the first post.
    tokio::task::yield_now().await;
    loop {
        while let Ok(report) = reported.try_recv() {
            worker.apply(report);
            worker.advance();
        }
        if !worker.publish().await {
            worker.terminate(Duration::ZERO, false).await;
            return;
        }
        if worker.model.terminal() {
            // A finished pod keeps its status but not its address.
            lease = None;
        }
        let retry = worker.unposted();
        let refreshing = !worker.volumes.written.is_empty() && worker.changes.is_some();
        tokio::select! {
            _ = tokio::time::sleep(STATUS_RETRY), if retry => {}
            change = next_change(&mut worker.changes), if refreshing => match change {
                Ok(changed) => worker.refresh(Some(&changed)).await,
                Err(broadcast::error::RecvError::Lagged(_)) => worker.refresh(None).await,
                Err(broadcast::error::RecvError::Closed) => worker.changes = None,
            },
            Some(report) = reported.recv() => {
                worker.apply(report);
                worker.advance();
            }
            changed = updates.changed() => {
                let update = if changed.is_ok() { updates.borrow_and_update().clone() } else { None };
                if let Some(grace) = deleting(update.as_ref()) {
                    worker.terminate(grace, update.is_some()).await;
                    drop(lease);
                    return;
                }
            }
        }
    }
}

async fn next_change(
    changes: &mut Option<broadcast::Receiver<Changed>>,
) -> Result<Changed, broadcast::error::RecvError> {
    match changes {
        Some(changes) => changes.recv().await,
        None => Err(broadcast::error::RecvError::Closed),
    }
}

impl Worker {
    /// Rewrites the volumes whose Secret or ConfigMap changed (`None`: all of them).
    async fn refresh(&mut self, changed: Option<&Changed>) {
        let token = match self
            .context
            .access
            .pod_credentials(&self.client, &self.pod)
            .await
        {
            Ok(credentials) => credentials.token,
            Err(error) => {
                tracing::warn!(%error, pod = self.pod.metadata.name, "kubelet: no token to refresh volumes with");
                return;
            }
        };
        let issue = || token.clone();
        refresh::refresh(&self.client, &self.pod, &mut self.volumes, changed, &issue).await;
    }
}

/// The pod's directory, volumes and service-account kubeconfig.
async fn prepare(worker: &Worker) -> Result<volumes::Volumes, String> {
    std::fs::create_dir_all(&worker.pod_dir)
        .map_err(|error| format!("cannot create {}: {error}", worker.pod_dir.display()))?;
    let credentials = worker
        .context
        .access
        .pod_credentials(&worker.client, &worker.pod)
        .await?;
    std::fs::write(&worker.kubeconfig, &credentials.kubeconfig)
        .map_err(|error| format!("cannot write {}: {error}", worker.kubeconfig.display()))?;
    let issue = || credentials.token.clone();
    volumes::prepare(&worker.client, &worker.pod, &worker.pod_dir, &issue).await
}
