//! The webhook served in-process against the simulated API server, and raw clients for the
//! attacks of the hostile-input tests: TLS connections that misbehave at the byte level.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use image_assurance::policy::crd::ContainerAdmissionPolicy;
use image_assurance::scan::SeverityThresholds;
use image_assurance::server::{Limits, ServeOptions, serve_with_limits};
use image_assurance::workload::ControllerIdentities;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, PostParams};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

#[path = "../certs_support/mod.rs"]
mod certs_support;
pub use certs_support::{Certs, make_certs};

pub fn client_tls(ca_pem: &str, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Every log line the webhook writes in this test process, for assertions on their size.
pub fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        captured_logs().lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
    });
}

pub struct Server {
    pub sim: sim::Simulator,
    pub client: kube::Client,
    pub address: SocketAddr,
    /// The plain-HTTP metrics port.
    pub metrics: SocketAddr,
    pub certs: Certs,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What a test may change about the server it starts.
pub struct Setup {
    pub limits: Limits,
    pub deadline: Duration,
    pub max_body_bytes: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            limits: Limits::default(),
            deadline: Duration::from_secs(3),
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Starts the simulator (with the policy CRD and namespace `team-a`) and the webhook, and
/// waits until the webhook is ready.
pub async fn start(setup: Setup) -> Server {
    capture_logs();
    let sim = sim::Simulator::start(sim::Config::default()).await.unwrap();
    let client = sim.client().unwrap();
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &ContainerAdmissionPolicy::crd())
        .await
        .unwrap();
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path(), "tls");
    // A port picked free may be taken by a parallel test before the webhook binds it: then
    // the webhook is started again on others.
    for _ in 0..5 {
        let address = free_port();
        let metrics = free_port();
        let options = ServeOptions {
            listen: address,
            metrics_listen: metrics,
            tls_cert: certs.cert.clone(),
            tls_key: certs.key.clone(),
            scan_results: None,
            thresholds: SeverityThresholds::default(),
            identities: ControllerIdentities::default(),
            every_enforcement: None,
            max_body_bytes: setup.max_body_bytes,
            deadline: setup.deadline,
            shutdown_grace: Duration::from_secs(1),
            cert_poll: Duration::from_secs(1),
            audit: image_assurance::server::audit_task::AuditSettings::disabled(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (failed, failure) = tokio::sync::oneshot::channel::<String>();
        let server_client = client.clone();
        let limits = setup.limits.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            if let Err(error) = serve_with_limits(options, limits, server_client, stopped).await {
                let _ = failed.send(error.to_string());
            }
        });
        let https = reqwest::Client::builder()
            .use_preconfigured_tls(client_tls(&certs.ca_pem, &[]))
            .build()
            .unwrap();
        let readyz = format!("https://localhost:{}/readyz", address.port());
        let ready = async {
            loop {
                if let Ok(response) = https.get(&readyz).send().await
                    && response.status().as_u16() == 200
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            () = ready => {
                return Server {
                    sim,
                    client,
                    address,
                    metrics,
                    certs,
                    dir,
                    stop: Some(stop),
                };
            }
            Ok(error) = failure => {
                assert!(error.contains("Address already in use"), "serve failed: {error}");
            }
            () = tokio::time::sleep(Duration::from_secs(20)) => {
                panic!("the webhook never became ready")
            }
        }
    }
    panic!("no free ports for the webhook after 5 tries")
}

impl Server {
    pub fn https(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(client_tls(&self.certs.ca_pem, &[]))
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<(u16, String)> {
        let response = self.https().get(self.url(path)).send().await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// The status and the body's text.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let response = self
            .https()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A TLS connection that has completed its handshake, offering `alpn`.
    pub async fn tls(&self, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        let config = client_tls(&self.certs.ca_pem, alpn);
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(self.address).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        connector.connect(name, tcp).await.unwrap()
    }

    pub async fn create_policy(&self, name: &str, spec: Value) {
        let policy: ContainerAdmissionPolicy = serde_json::from_value(json!({
            "apiVersion": "containersecurity.tigera.io/v1beta1",
            "kind": "ContainerAdmissionPolicy", "metadata": {"name": name}, "spec": spec,
        }))
        .unwrap();
        Api::<ContainerAdmissionPolicy>::all(self.client.clone())
            .create(&PostParams::default(), &policy)
            .await
            .unwrap();
    }
}

/// Reads until the peer closes (or resets) the connection; `None` if it is still open after
/// `limit`. Returns what was read.
pub async fn read_until_closed<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read_all = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok()?;
    Some(received)
}

/// Writes raw bytes, ignoring a peer that has already closed.
pub async fn send<S: tokio::io::AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) {
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
}

pub fn uid() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "00000000-0000-0000-0000-{:012}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An AdmissionReview of a CREATE of `pod` in namespace `team-a`.
pub fn pod_review(pod: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid(), "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": "team-a", "operation": "CREATE",
            "userInfo": {"username": "jane"}, "dryRun": false, "object": pod,
        },
    })
}

/// A Pod of `containers` containers, all of `image`.
pub fn pod(containers: usize, image: &str) -> Value {
    let containers: Vec<Value> = (0..containers)
        .map(|index| json!({"name": format!("c{index}"), "image": image}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"},
           "spec": {"containers": containers}})
}

/// An AdmissionReview of a CREATE of ContainerAdmissionPolicy `spec` (for /validate-policy).
pub fn policy_review(spec: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uid(),
            "kind": {"group": "containersecurity.tigera.io", "version": "v1beta1", "kind": "ContainerAdmissionPolicy"},
            "resource": {"group": "containersecurity.tigera.io", "version": "v1beta1", "resource": "containeradmissionpolicies"},
            "name": "p", "operation": "CREATE", "userInfo": {"username": "jane"}, "dryRun": false,
            "object": {"apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy",
                       "metadata": {"name": "p"}, "spec": spec},
        },
    })
}

/// `(allowed, message)` of an AdmissionReview response body.
pub fn verdict(body: &str) -> (bool, String) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|error| {
        panic!(
            "not an AdmissionReview ({error}): {}",
            &body[..body.len().min(500)]
        )
    });
    let response = &value["response"];
    (
        response["allowed"].as_bool().unwrap(),
        response["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}
