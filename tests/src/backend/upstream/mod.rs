//! upstream: Kubernetes' own control plane (kube-apiserver, kube-controller-manager,
//! kube-scheduler and etcd, built from its Go modules at `KUBERNETES_VERSION`) as local
//! processes, with the process kubelet joined as two nodes. Validation, defaulting, built-in
//! admission, RBAC, the webhook dispatcher and the workload controllers are upstream's code.
//!
//! The whole cluster lives in the run's own network namespace (`netns`); the caller enters it
//! before any thread starts. Everything goes under `target/e2e-upstream/`: each process's log,
//! the PKI, etcd's data, the admin kubeconfig and the pods' directories.

pub mod binaries;
pub mod control_plane;
pub mod netns;
pub mod pki;
pub mod processes;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use kubelet::{ApiAccess, Ipam, Kubelet, PodCredentials};

use super::{Backend, BackendOptions};
use binaries::Binaries;
use control_plane::{APISERVER_PORT, ControlPlane, Credentials, kubeconfig, server_url};
use netns::{CONTROL_PLANE_IP, NETWORK};

/// The nodes the kubelet registers.
pub const NODES: [&str; 2] = ["upstream-node-1", "upstream-node-2"];

/// How long a pod's bound token lives (what the kubelet asks for a projected token).
const TOKEN_SECONDS: i64 = 3607;

/// The kubelet's side of this cluster: node client certificates, bound tokens from the
/// TokenRequest API, and the CA from the namespace's `kube-root-ca.crt`, as a real kubelet.
struct UpstreamAccess {
    nodes: BTreeMap<String, kube::Client>,
}

impl ApiAccess for UpstreamAccess {
    fn node_client(&self, name: &str) -> Result<kube::Client, String> {
        self.nodes
            .get(name)
            .cloned()
            .ok_or_else(|| format!("no credentials for node {name:?}"))
    }

    fn pod_credentials<'a>(
        &'a self,
        node: &'a kube::Client,
        pod: &'a Pod,
    ) -> BoxFuture<'a, Result<PodCredentials, String>> {
        Box::pin(async move {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let account = kubelet::service_account(pod);
            let request = TokenRequest {
                spec: Some(TokenRequestSpec {
                    bound_object_ref: Some(BoundObjectReference {
                        api_version: Some("v1".into()),
                        kind: Some("Pod".into()),
                        name: Some(name.clone()),
                        uid: pod.metadata.uid.clone(),
                    }),
                    expiration_seconds: Some(TOKEN_SECONDS),
                    ..TokenRequestSpec::default()
                }),
                ..TokenRequest::default()
            };
            let token = Api::<ServiceAccount>::namespaced(node.clone(), &namespace)
                .create_token_request(&account, &PostParams::default(), &request)
                .await
                .map_err(|error| {
                    format!("pod {namespace}/{name}: TokenRequest for service account {account}: {error}")
                })?
                .status
                .and_then(|status| status.token)
                .ok_or_else(|| format!("pod {namespace}/{name}: TokenRequest gave no token"))?;
            let ca = Api::<ConfigMap>::namespaced(node.clone(), &namespace)
                .get("kube-root-ca.crt")
                .await
                .map_err(|error| {
                    format!("pod {namespace}/{name}: ConfigMap kube-root-ca.crt: {error}")
                })?
                .data
                .and_then(|mut data| data.remove("ca.crt"))
                .ok_or_else(|| {
                    format!("pod {namespace}/{name}: ConfigMap kube-root-ca.crt has no ca.crt")
                })?;
            let kubeconfig = kubeconfig(&server_url(), &ca, Credentials::Token(&token), &namespace);
            Ok(PodCredentials { token, kubeconfig })
        })
    }

    fn service_address(&self) -> (String, String) {
        (CONTROL_PLANE_IP.to_string(), APISERVER_PORT.to_string())
    }
}

/// The running cluster.
pub struct UpstreamBackend {
    control_plane: ControlPlane,
    kubelet: Kubelet,
    image: String,
    description: String,
}

impl UpstreamBackend {
    /// Where the run keeps everything.
    pub fn dir(root: &Path) -> PathBuf {
        root.join("target").join("e2e-upstream")
    }

    /// Starts the control plane from the cached binaries (`Binaries::ensure` builds them; do
    /// that before entering the network namespace, which has no network) and joins the nodes.
    pub async fn start(options: &BackendOptions) -> Result<UpstreamBackend, String> {
        let binaries = Binaries::cached().ok_or(
            "upstream: the control plane is not built (cargo xtask e2e --cluster upstream builds it)",
        )?;
        if !options.binary.is_file() {
            return Err(format!(
                "upstream: the kubelet runs the webhook from {}, which does not exist (cargo build -p image-assurance)",
                options.binary.display()
            ));
        }
        let dir = UpstreamBackend::dir(&options.root);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|error| format!("cannot clear {}: {error}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        let control_plane = ControlPlane::start(&binaries, &dir).await?;
        let mut nodes = BTreeMap::new();
        for name in NODES {
            let identity = control_plane
                .pki
                .client(&format!("system:node:{name}"), &["system:nodes"])?;
            let yaml = kubeconfig(
                &server_url(),
                &control_plane.pki.ca.cert_pem,
                Credentials::Certificate(&identity),
                "default",
            );
            nodes.insert(name.to_string(), control_plane::client(&yaml).await?);
        }
        let kubelet = Kubelet::start(
            Arc::new(UpstreamAccess { nodes }),
            kubelet::Options {
                nodes: NODES.iter().map(|name| name.to_string()).collect(),
                host_ip: IpAddr::V4(CONTROL_PLANE_IP),
                images: BTreeMap::from([(options.image.clone(), options.binary.clone())]),
                work_dir: Some(dir.clone()),
                ipam: Ipam::in_network(NETWORK, 0),
            },
        )
        .await
        .map_err(|error| format!("upstream: the kubelet did not start: {error}"))?;
        println!(
            "upstream: kube-apiserver {} at https://127.0.0.1:{APISERVER_PORT} (kubeconfig {}), nodes {}, image {} runs {}",
            control_plane.version,
            control_plane.admin_kubeconfig.display(),
            NODES.join(", "),
            options.image,
            options.binary.display()
        );
        Ok(UpstreamBackend {
            description: format!("upstream (kube-apiserver {})", control_plane.version),
            control_plane,
            kubelet,
            image: options.image.clone(),
        })
    }

    pub fn admin_kubeconfig(&self) -> &Path {
        &self.control_plane.admin_kubeconfig
    }
}

impl Backend for UpstreamBackend {
    fn name(&self) -> &'static str {
        "upstream"
    }

    fn description(&self) -> String {
        self.description.clone()
    }

    fn client(&self) -> kube::Client {
        self.control_plane.admin.clone()
    }

    fn webhook_image(&self) -> &str {
        &self.image
    }

    fn teardown(self: Box<Self>) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(async move {
            let mut this = *self;
            // The pods' processes first, then the control plane.
            this.kubelet.stop();
            let logs = this.control_plane.logs.clone();
            this.control_plane
                .supervisor
                .stop(Duration::from_secs(10))
                .map_err(|error| format!("{error} (logs in {})", logs.display()))
        })
    }
}
