//! The process kubelet and its companions: what makes the emulator a cluster in which pods run.
//!
//! Each component is an API client with its own identity, as in a real cluster: node agents
//! (`system:node:<name>`) register their Node and run the pods bound to it, a scheduler
//! (`system:kube-scheduler`) binds pending pods, and the endpoints controller
//! (`system:serviceaccount:kube-system:endpoint-controller`) keeps Endpoints in step with ready
//! pods. A pod whose image is registered (`ClusterOptions::images`) runs as a local process;
//! any other pod is simulated (Running and Ready at once). See `sim/README.md`.

mod agent;
mod atomic;
pub mod endpoints;
mod ipam;
mod launch;
mod node;
mod pod;
mod probe;
mod process;
mod refresh;
mod runner;
mod scheduler;
mod status;
mod volumes;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::api::SharedState;
use crate::auth::UserInfo;
use crate::server::{ClusterOptions, StartError, client_for};

pub use ipam::Ipam;
pub use process::ProcessTable;

/// What every component of the cluster shares.
pub(crate) struct Context {
    /// `http://host:port` of the API server.
    pub url: String,
    /// `host:port` of the API server (kubeconfigs and `KUBERNETES_SERVICE_*`).
    pub address: String,
    pub state: SharedState,
    pub images: std::collections::BTreeMap<String, PathBuf>,
    /// Pods' private directories live under `<work_dir>/pods`.
    pub work_dir: PathBuf,
    pub ipam: Ipam,
    pub processes: Arc<ProcessTable>,
}

impl Context {
    /// A client that authenticates as `user`, with a token the API server has issued for it.
    pub fn client_as(&self, user: &UserInfo) -> Result<kube::Client, StartError> {
        client_for(&self.url, Some(self.state.tokens.issue(user)))
    }
}

/// The running cluster components. Stopping (or dropping) it ends every task and kills every
/// process it started.
pub struct Cluster {
    tasks: Vec<JoinHandle<()>>,
    processes: Arc<ProcessTable>,
    work_dir: PathBuf,
    /// Removed on drop when the work directory is ours (no `ClusterOptions::work_dir`).
    temporary: bool,
}

impl Cluster {
    /// Registers the nodes (they are listed when this returns), then starts the node agents,
    /// the scheduler and the endpoints controller against the API server at `state.address`.
    pub async fn start(
        state: &SharedState,
        options: &ClusterOptions,
    ) -> Result<Cluster, StartError> {
        let (work_dir, temporary) = match &options.work_dir {
            Some(dir) => (dir.clone(), false),
            None => (
                std::env::temp_dir().join(format!("sim-cluster-{}", uuid::Uuid::new_v4())),
                true,
            ),
        };
        std::fs::create_dir_all(work_dir.join("pods")).map_err(|source| {
            StartError::Client(format!(
                "cannot create the cluster's work directory {}: {source}",
                work_dir.display()
            ))
        })?;
        let processes = Arc::new(ProcessTable::default());
        let context = Arc::new(Context {
            url: format!("http://{}", state.address),
            address: state.address.clone(),
            state: state.clone(),
            images: options.images.clone(),
            work_dir: work_dir.clone(),
            ipam: Ipam::default(),
            processes: processes.clone(),
        });
        let mut cluster = Cluster {
            tasks: Vec::new(),
            processes,
            work_dir,
            temporary,
        };
        for name in &options.nodes {
            let client = context.client_as(&UserInfo::node(name))?;
            node::register(&client, name)
                .await
                .map_err(StartError::Client)?;
            cluster
                .tasks
                .push(tokio::spawn(node::keep_ready(client.clone(), name.clone())));
            cluster.tasks.push(tokio::spawn(agent::run(
                context.clone(),
                client,
                name.clone(),
            )));
        }
        let scheduler = context.client_as(&scheduler::user())?;
        cluster.tasks.push(tokio::spawn(scheduler::run(
            scheduler,
            options.nodes.clone(),
        )));
        let endpoints = context.client_as(&UserInfo::controller("endpoint"))?;
        cluster.tasks.push(tokio::spawn(endpoints::run(endpoints)));
        Ok(cluster)
    }

    /// Where pods' directories (volumes, kubeconfig, logs) are written.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
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

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        if self.temporary {
            // Best effort: a leftover temporary directory is harmless.
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}
