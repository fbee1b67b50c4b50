//! Starting and stopping the emulator: for tests (a free port, a `kube::Client`, a kubeconfig)
//! and for `cargo xtask sim`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{ServerState, SharedState, router};
use crate::catalogue::Catalogue;
use crate::kubeconfig;
use crate::store::{ObjectKey, Store};

/// Tunables; the defaults suit tests and people alike.
#[derive(Clone, Debug)]
pub struct Config {
    /// `127.0.0.1:0` picks a free port.
    pub address: SocketAddr,
    /// Changes kept for watches to resume from; older versions get `410 Gone`.
    pub event_log_capacity: usize,
    pub max_body_bytes: usize,
    pub bookmark_interval: Duration,
    /// `None`: an API server alone (objects are stored, nothing acts on them). `Some`: a
    /// cluster, with the workload controllers and a process kubelet running.
    pub cluster: Option<ClusterOptions>,
}

/// What runs besides the API server when the emulator is a whole cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The simulated nodes (DaemonSets get one pod per node).
    pub nodes: Vec<String>,
    /// Images the kubelet runs as local processes: image reference → executable.
    pub images: std::collections::BTreeMap<String, PathBuf>,
    /// Where pods' volumes and logs go (a private temporary directory when `None`).
    pub work_dir: Option<PathBuf>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            nodes: vec!["sim-node-1".into(), "sim-node-2".into()],
            images: Default::default(),
            work_dir: None,
        }
    }
}

impl Config {
    /// A whole cluster with default options.
    pub fn cluster() -> Config {
        Config {
            cluster: Some(ClusterOptions::default()),
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            event_log_capacity: 100_000,
            max_body_bytes: 3 * 1024 * 1024,
            bookmark_interval: Duration::from_secs(5),
            cluster: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build a client: {0}")]
    Client(String),
    #[error("cannot generate the cluster's root CA: {0}")]
    RootCa(String),
}

/// A running emulator. Dropping it stops the server.
pub struct Simulator {
    address: SocketAddr,
    state: SharedState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    kubeconfig: Option<(PathBuf, Option<tempfile_dir::TempDir>)>,
    /// The nodes, scheduler, kubelets and endpoints controller (`Config::cluster`).
    kubelet: Option<crate::kubelet::Cluster>,
    /// The workload controllers of a cluster (`Config::cluster`); stopped on drop.
    controllers: Option<crate::controllers::Controllers>,
}

/// A private temporary directory for the kubeconfig of tests (removed on drop).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    #[derive(Debug)]
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<TempDir> {
            let path = std::env::temp_dir().join(format!("sim-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path)?;
            Ok(TempDir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            // Best effort: a leftover temp dir is harmless.
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The namespaces every cluster starts with.
pub const INITIAL_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

impl ServerState {
    /// The next free ClusterIP from 10.96.0.0/12: 10.96.0.1 goes to the `kubernetes` service,
    /// created first; addresses clients asked for are skipped.
    pub fn allocate_service_ip(self: &Arc<Self>) -> String {
        let in_use = crate::allocation::cluster_ips_in_use(self);
        let base = u32::from(std::net::Ipv4Addr::new(10, 96, 0, 0));
        let size = 1 << 20;
        let mut ip = String::new();
        // Bounded: after a whole round every address has been looked at.
        for _ in 0..size {
            let n = self.next_service_ip.fetch_add(1, Ordering::Relaxed) % size;
            if n == 0 || n == size - 1 {
                continue; // the network and broadcast addresses
            }
            ip = std::net::Ipv4Addr::from(base + n).to_string();
            if !in_use.contains(&ip) {
                break;
            }
        }
        ip
    }
}

impl Simulator {
    pub async fn start(config: Config) -> Result<Simulator, StartError> {
        let listener =
            TcpListener::bind(config.address)
                .await
                .map_err(|source| StartError::Listen {
                    address: config.address,
                    source,
                })?;
        let address = listener.local_addr().map_err(|source| StartError::Listen {
            address: config.address,
            source,
        })?;
        let state = Arc::new(ServerState {
            store: Store::new(config.event_log_capacity),
            catalogue: Catalogue::default(),
            address: address.to_string(),
            max_body_bytes: config.max_body_bytes,
            bookmark_interval: config.bookmark_interval,
            next_service_ip: AtomicU32::new(1),
            tokens: Default::default(),
            webhook_client: Default::default(),
        });
        seed(&state).await;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = server.await {
                tracing::error!(%error, "the simulated API server stopped");
            }
        });
        let kubelet = match &config.cluster {
            Some(options) => Some(crate::kubelet::Cluster::start(&state, options).await?),
            None => None,
        };
        let controllers = match &config.cluster {
            Some(_) => Some(crate::controllers::Controllers::start(
                &format!("http://{address}"),
                &state.tokens,
                crate::controllers::root_ca::generate_ca()
                    .map_err(|error| StartError::RootCa(error.to_string()))?,
                &state,
            )?),
            None => None,
        };
        Ok(Simulator {
            address,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
            kubeconfig: None,
            kubelet,
            controllers,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// The process kubelet and its companions, when started as a cluster.
    pub fn kubelet(&self) -> Option<&crate::kubelet::Cluster> {
        self.kubelet.as_ref()
    }

    /// Writes a kubeconfig for this server at `path`.
    pub fn write_kubeconfig(&mut self, path: &Path) -> Result<PathBuf, StartError> {
        kubeconfig::write(path, &self.address.to_string(), None).map_err(|source| {
            StartError::Kubeconfig {
                path: path.to_path_buf(),
                source,
            }
        })?;
        self.kubeconfig = Some((path.to_path_buf(), None));
        Ok(path.to_path_buf())
    }

    /// A kubeconfig in a private temporary directory (removed when the simulator drops).
    pub fn kubeconfig_path(&mut self) -> Result<PathBuf, StartError> {
        if let Some((path, _)) = &self.kubeconfig {
            return Ok(path.clone());
        }
        let dir = tempfile_dir::TempDir::new().map_err(|source| StartError::Kubeconfig {
            path: std::env::temp_dir(),
            source,
        })?;
        let path = dir.path().join("kubeconfig");
        kubeconfig::write(&path, &self.address.to_string(), None).map_err(|source| {
            StartError::Kubeconfig {
                path: path.clone(),
                source,
            }
        })?;
        self.kubeconfig = Some((path.clone(), Some(dir)));
        Ok(path)
    }

    /// A kube-rs client for this server, as the cluster admin.
    pub fn client(&self) -> Result<kube::Client, StartError> {
        client_for(&self.url(), None)
    }

    /// A kube-rs client that authenticates as `user` (a controller, a kubelet, a pod's
    /// service account).
    pub fn client_as(&self, user: &crate::auth::UserInfo) -> Result<kube::Client, StartError> {
        client_for(&self.url(), Some(self.state.tokens.issue(user)))
    }

    /// Writes a kubeconfig at `path` that authenticates as `user`.
    pub fn write_kubeconfig_as(
        &self,
        path: &Path,
        user: &crate::auth::UserInfo,
    ) -> Result<(), StartError> {
        let token = self.state.tokens.issue(user);
        kubeconfig::write(path, &self.address.to_string(), Some(&token)).map_err(|source| {
            StartError::Kubeconfig {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Stops serving and waits for the server task (open watches are ended).
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        if let Some(controllers) = self.controllers.take() {
            controllers.stop().await;
        }
        if let Some(mut kubelet) = self.kubelet.take() {
            kubelet.stop();
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            // Open watch streams would keep a graceful shutdown waiting: end the task now, and
            // wait until it has ended (a cancelled task resolves at once).
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(mut kubelet) = self.kubelet.take() {
            kubelet.stop();
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A client for the server at `url`, with a bearer token when given.
pub fn client_for(url: &str, token: Option<String>) -> Result<kube::Client, StartError> {
    let url = url
        .parse()
        .map_err(|error: axum::http::uri::InvalidUri| StartError::Client(error.to_string()))?;
    let mut config = kube::Config::new(url);
    config.default_namespace = "default".into();
    if let Some(token) = token {
        config.auth_info.token = Some(token.into());
    }
    kube::Client::try_from(config).map_err(|error| StartError::Client(error.to_string()))
}

/// What a fresh cluster has: the four namespaces, the `default` service account of each, the
/// `kubernetes` Service and the APIServices.
async fn seed(state: &SharedState) {
    seed_namespaces(state).await;
    // First, so that it gets the first address of the service range, 10.96.0.1.
    crate::api::kubernetes_service::create(state).await;
    crate::api::apiservices::sync(state);
}

async fn seed_namespaces(state: &SharedState) {
    for namespace in INITIAL_NAMESPACES {
        let target = crate::api::Target {
            info: match state.catalogue.get("", "v1", "namespaces") {
                Some(info) => info,
                None => return,
            },
            namespace: None,
            name: None,
            subresource: None,
        };
        let object =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        let caller = crate::admission::Caller::admin();
        let created =
            crate::api::objects::create(state, &target, object, &Default::default(), &caller).await;
        if created.is_err() {
            tracing::error!(namespace, "cannot create an initial namespace");
        }
        let account = ObjectKey::new("", "serviceaccounts", namespace, "default");
        let object = json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": crate::api::lifecycle::now_rfc3339()},
        });
        let _ = state.store.create(account, object);
    }
}
