//! What makes the emulator a cluster in which pods run: the process kubelet (the `kubelet`
//! crate, which also serves the upstream control plane) joined to the emulator, and the two
//! companions a real cluster gets from kube-scheduler and kube-controller-manager.
//!
//! Each component is an API client with its own identity, as in a real cluster: node agents
//! (`system:node:<name>`) register their Node and run the pods bound to it, a scheduler
//! (`system:kube-scheduler`) binds pending pods, and the endpoints controller
//! (`system:serviceaccount:kube-system:endpoint-controller`) keeps Endpoints in step with ready
//! pods. See `sim/README.md`.

pub mod endpoint_slices;
pub mod endpoints;
mod scheduler;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kubelet::{ApiAccess, Ipam, Kubelet, PodCredentials};
use tokio::task::JoinHandle;

use crate::api::SharedState;
use crate::auth::UserInfo;
use crate::server::{ClusterOptions, StartError, client_for};

/// The emulator's side of the kubelet: tokens the emulator issues itself, plain HTTP.
struct SimAccess {
    /// `http://host:port` of the API server.
    url: String,
    /// `host:port` of the API server.
    address: String,
    state: SharedState,
}

impl SimAccess {
    fn client_as(&self, user: &UserInfo) -> Result<kube::Client, StartError> {
        client_for(&self.url, Some(self.state.tokens.issue(user)))
    }
}

impl ApiAccess for SimAccess {
    fn node_client(&self, name: &str) -> Result<kube::Client, String> {
        self.client_as(&UserInfo::node(name))
            .map_err(|error| error.to_string())
    }

    fn pod_credentials<'a>(
        &'a self,
        _node: &'a kube::Client,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<PodCredentials, String>> {
        Box::pin(async move {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let user = UserInfo::service_account(&namespace, &kubelet::service_account(pod));
            let token = self.state.tokens.issue(&user);
            // What in-cluster configuration gives a client: its service account, its namespace.
            let kubeconfig = crate::kubeconfig::render(&self.address, Some(&token), &namespace);
            Ok(PodCredentials { token, kubeconfig })
        })
    }

    fn service_address(&self) -> (String, String) {
        self.address
            .rsplit_once(':')
            .map(|(host, port)| (host.to_string(), port.to_string()))
            .unwrap_or_default()
    }
}

/// The running cluster components. Stopping (or dropping) it ends every task and kills every
/// process it started.
pub struct Cluster {
    kubelet: Kubelet,
    tasks: Vec<JoinHandle<()>>,
}

impl Cluster {
    /// Registers the nodes (they are listed when this returns), then starts the node agents,
    /// the scheduler and the endpoints controller against the API server at `state.address`.
    pub async fn start(
        state: &SharedState,
        options: &ClusterOptions,
    ) -> Result<Cluster, StartError> {
        let access = Arc::new(SimAccess {
            url: format!("http://{}", state.address),
            address: state.address.clone(),
            state: state.clone(),
        });
        let kubelet = Kubelet::start(
            access.clone(),
            kubelet::Options {
                nodes: options.nodes.clone(),
                host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                images: options.images.clone(),
                work_dir: options.work_dir.clone(),
                // Every pod its own loopback address, shared by all simulators of a process.
                ipam: Ipam::default(),
            },
        )
        .await
        .map_err(StartError::Client)?;
        let scheduler = access.client_as(&scheduler::user())?;
        let endpoints = access.client_as(&UserInfo::controller("endpoint"))?;
        let endpoint_slices = access.client_as(&UserInfo::controller("endpointslice"))?;
        let tasks = vec![
            tokio::spawn(scheduler::run(scheduler, options.nodes.clone())),
            tokio::spawn(endpoints::run(endpoints, endpoint_slices)),
        ];
        Ok(Cluster { kubelet, tasks })
    }

    /// Where pods' directories (volumes, kubeconfig, logs) are written.
    pub fn work_dir(&self) -> &Path {
        self.kubelet.work_dir()
    }

    /// How many container processes are running.
    pub fn running_processes(&self) -> usize {
        self.kubelet.running_processes()
    }

    /// Kills every process and ends every task.
    pub fn stop(&mut self) {
        self.kubelet.stop();
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}
