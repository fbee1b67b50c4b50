//! The process kubelet: joins an API server as one or more nodes and runs the pods bound to
//! them. A pod whose image is registered (`Options::images`) runs as local processes; any other
//! pod is simulated: kept Running without running anything (Ready unless it has a readiness
//! probe), with an event saying so. It records the kubelet's events on the pods (`events`) and
//! serves their containers' logs at its HTTPS endpoint (`logs`), which `pods/log` reaches.
//!
//! It serves two clusters: the simulator (`sim`) and Kubernetes' own control plane (the
//! conformance harness's `upstream` backend). What differs between them — how a node
//! authenticates, how a pod's service account gets its token and CA, where pods reach the API
//! server — is the caller's `ApiAccess`. Each node agent acts as `system:node:<name>` and only
//! reads what a node may read (its pods, and the Secrets and ConfigMaps they reference, by name).

mod agent;
mod atomic;
mod events;
mod ipam;
mod launch;
pub mod logs;
mod node;
mod pod;
mod probe;
mod process;
mod refresh;
mod runner;
mod status;
pub mod unverified_tls;
mod volumes;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use tokio::task::JoinHandle;

pub use ipam::{Ipam, Lease};
pub use node::KUBELET_VERSION;
pub use process::ProcessTable;

/// What a pod's processes are given to reach the API server as its service account.
#[derive(Clone, Debug)]
pub struct PodCredentials {
    /// The service account token (also written into projected token volumes).
    pub token: String,
    /// The kubeconfig handed to the pod's processes through `KUBECONFIG`: what in-cluster
    /// configuration gives a client (server, CA, token, namespace), as a file.
    pub kubeconfig: String,
}

/// How the kubelet reaches the API server: the cluster-specific half.
pub trait ApiAccess: Send + Sync + 'static {
    /// A client that acts as the node `name` (`system:node:<name>`, group `system:nodes`).
    fn node_client(&self, name: &str) -> Result<kube::Client, String>;

    /// The credentials of the pod's service account, obtained with its node's client.
    fn pod_credentials<'a>(
        &'a self,
        node: &'a kube::Client,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<PodCredentials, String>>;

    /// `(host, port)` of the API server for the `KUBERNETES_SERVICE_*` variables.
    fn service_address(&self) -> (String, String);
}

/// The service account a pod runs as (`default` when the spec names none).
pub fn service_account(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.service_account_name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// What to run.
#[derive(Clone)]
pub struct Options {
    /// The nodes to register and serve.
    pub nodes: Vec<String>,
    /// The address the nodes report (`InternalIP`, pods' `hostIP`).
    pub host_ip: IpAddr,
    /// Images run as local processes: image reference → executable (a relative path is taken
    /// from the current directory, not from a pod's).
    pub images: BTreeMap<String, PathBuf>,
    /// Pods' private directories live under `<work_dir>/pods`; a temporary directory (removed
    /// on drop) when `None`.
    pub work_dir: Option<PathBuf>,
    /// Where pod IPs come from.
    pub ipam: Ipam,
}

/// What every part of the kubelet shares.
pub(crate) struct Context {
    pub access: Arc<dyn ApiAccess>,
    pub host_ip: IpAddr,
    pub images: BTreeMap<String, PathBuf>,
    pub work_dir: PathBuf,
    pub ipam: Ipam,
    pub processes: Arc<ProcessTable>,
    /// The pods' logs, as the HTTPS endpoint serves them.
    pub logs: Arc<logs::Table>,
}

/// The running node agents. Stopping (or dropping) it ends every task and kills every process
/// it started.
pub struct Kubelet {
    tasks: Vec<JoinHandle<()>>,
    processes: Arc<ProcessTable>,
    work_dir: PathBuf,
    /// Where the HTTPS endpoint listens (on `Options::host_ip`).
    port: u16,
    /// Removed on drop when the work directory is ours (no `Options::work_dir`).
    temporary: bool,
}

impl Kubelet {
    /// Starts the HTTPS endpoint, registers the nodes (they are listed when this returns), then
    /// starts one agent per node.
    pub async fn start(access: Arc<dyn ApiAccess>, options: Options) -> Result<Kubelet, String> {
        let (work_dir, temporary) = match &options.work_dir {
            Some(dir) => (dir.clone(), false),
            None => (
                std::env::temp_dir().join(format!("kubelet-{}", uuid::Uuid::new_v4())),
                true,
            ),
        };
        std::fs::create_dir_all(work_dir.join("pods")).map_err(|source| {
            format!(
                "cannot create the kubelet's work directory {}: {source}",
                work_dir.display()
            )
        })?;
        let images = absolute(&options.images)?;
        let processes = Arc::new(ProcessTable::default());
        let table = Arc::new(logs::Table::default());
        let (port, server) =
            logs::server::start(options.host_ip, &options.nodes, table.clone()).await?;
        let context = Arc::new(Context {
            access: access.clone(),
            host_ip: options.host_ip,
            images,
            work_dir: work_dir.clone(),
            ipam: options.ipam.clone(),
            processes: processes.clone(),
            logs: table,
        });
        let mut kubelet = Kubelet {
            tasks: vec![server],
            processes,
            work_dir,
            port,
            temporary,
        };
        for name in &options.nodes {
            let client = access.node_client(name)?;
            node::register(&client, name, options.host_ip, port).await?;
            kubelet.tasks.push(tokio::spawn(node::keep_ready(
                client.clone(),
                name.clone(),
                options.host_ip,
                port,
            )));
            let (events, writer) = events::Recorder::start(client.clone(), name.clone());
            kubelet.tasks.push(writer);
            kubelet.tasks.push(tokio::spawn(agent::run(
                context.clone(),
                client,
                events,
                name.clone(),
            )));
        }
        Ok(kubelet)
    }

    /// Where pods' directories (volumes, kubeconfig, logs) are written: each pod's
    /// `<work_dir>/pods/<namespace>_<name>_<uid>/`, with `<container>.log` (all runs'
    /// output as written) and `logs/<container>/<restart>.log` (a run's, for `kubectl logs`).
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The port of the kubelet's HTTPS endpoint (every node's
    /// `daemonEndpoints.kubeletEndpoint.Port`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many container processes are running.
    pub fn running_processes(&self) -> usize {
        self.processes.running()
    }

    /// Kills every process and ends every task.
    pub fn stop(&mut self) {
        // Processes first, and none may start after this: a task that has not seen its abort
        // yet must not leave a new process behind.
        self.processes.close();
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop();
        if self.temporary {
            // Best effort: a leftover temporary directory is harmless.
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

/// The registered images with relative executables made absolute against the current
/// directory: containers start in their pods' directories, where a relative path names
/// nothing.
fn absolute(images: &BTreeMap<String, PathBuf>) -> Result<BTreeMap<String, PathBuf>, String> {
    if images.values().all(|path| path.is_absolute()) {
        return Ok(images.clone());
    }
    let here = std::env::current_dir()
        .map_err(|error| format!("cannot read the current directory: {error}"))?;
    Ok(images
        .iter()
        .map(|(image, path)| (image.clone(), here.join(path)))
        .collect())
}

/// `2026-01-02T03:04:05Z`: the form of every timestamp the kubelet writes.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relative executable would be looked up in each pod's own directory, where containers
    /// start: it is taken from where the kubelet was started instead.
    #[test]
    fn relative_executables_are_taken_from_the_current_directory() {
        let images = BTreeMap::from([
            ("a:1".to_string(), PathBuf::from("target/debug/a")),
            ("b:1".to_string(), PathBuf::from("/usr/bin/b")),
        ]);
        let resolved = absolute(&images).unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(resolved["a:1"], here.join("target/debug/a"));
        assert_eq!(resolved["b:1"], PathBuf::from("/usr/bin/b"));
    }
}
