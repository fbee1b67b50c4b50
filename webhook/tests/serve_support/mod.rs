//! The webhook (`serve`) against the simulated API server, over real TLS: a harness shared by
//! the `serve*` tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use image_assurance::policy::crd::ContainerAdmissionPolicy;
use image_assurance::scan::SeverityThresholds;
use image_assurance::server::{ServeOptions, serve};
use image_assurance::workload::ControllerIdentities;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, PostParams};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

#[path = "../certs_support/mod.rs"]
mod certs_support;
pub use certs_support::{Certs, make_certs};

pub fn https_client(cas: &[&str]) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .unwrap()
}

pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

pub struct Harness {
    pub sim: sim::Simulator,
    pub client: kube::Client,
    pub address: SocketAddr,
    pub metrics: SocketAddr,
    pub https: reqwest::Client,
    pub certs: Certs,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub async fn install_policy_crd(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &ContainerAdmissionPolicy::crd())
        .await
        .unwrap();
}

pub async fn start(install_crd: bool, scan_results: Option<PathBuf>) -> Harness {
    let sim = sim::Simulator::start(sim::Config::default()).await.unwrap();
    let client = sim.client().unwrap();
    if install_crd {
        install_policy_crd(&client).await;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path(), "first");
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
            scan_results: scan_results.clone(),
            thresholds: SeverityThresholds::default(),
            identities: ControllerIdentities::default(),
            every_enforcement: None,
            max_body_bytes: 1024 * 1024,
            deadline: Duration::from_secs(3),
            shutdown_grace: Duration::from_secs(1),
            cert_poll: Duration::from_millis(100),
            audit: image_assurance::server::audit_task::AuditSettings::disabled(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (failed, mut failure) = tokio::sync::oneshot::channel::<String>();
        let server_client = client.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            if let Err(error) = serve(options, server_client, stopped).await {
                let _ = failed.send(error.to_string());
            }
        });
        let https = https_client(&[&certs.ca_pem]);
        let healthz = format!("https://localhost:{}/healthz", address.port());
        // The listener is up once healthz answers.
        let up = eventually(Duration::from_secs(5), || async {
            https
                .get(&healthz)
                .send()
                .await
                .is_ok_and(|response| response.status().as_u16() == 200)
        })
        .await;
        if up {
            return Harness {
                sim,
                client,
                address,
                metrics,
                https,
                certs,
                dir,
                stop: Some(stop),
            };
        }
        match failure.try_recv() {
            Ok(error) if error.contains("Address already in use") => continue,
            Ok(error) => panic!("serve failed: {error}"),
            Err(_) => panic!("serve did not start"),
        }
    }
    panic!("no free ports for the webhook after 5 tries")
}

pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn review(image: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": uuid_like(), "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": "web", "namespace": "team-a", "operation": "CREATE",
            "userInfo": {"username": "jane"}, "dryRun": false,
            "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "team-a", "labels": labels},
                       "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}}},
        },
    })
}

pub fn uuid_like() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "00000000-0000-0000-0000-{:012}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        match self.https.get(self.url(path)).send().await {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(_) => (0, String::new()),
        }
    }

    pub async fn post(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .https
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        (code, response.json().await.unwrap_or(Value::Null))
    }

    /// `(allowed, message)` for a Deployment of `image` labelled `labels`.
    pub async fn decide(&self, image: &str, labels: Value) -> (bool, String) {
        let (code, body) = self
            .post(
                "/admission-review",
                review(image, labels).to_string().into_bytes(),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        let response = &body["response"];
        (
            response["allowed"].as_bool().unwrap(),
            response["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    }

    pub async fn wait_ready(&self) {
        assert!(
            eventually(Duration::from_secs(10), || async {
                self.get("/readyz").await.0 == 200
            })
            .await,
            "never ready: {:?}",
            self.get("/readyz").await
        );
    }

    pub fn policies(&self) -> Api<ContainerAdmissionPolicy> {
        Api::all(self.client.clone())
    }
}

pub fn policy(name: &str, spec: Value) -> ContainerAdmissionPolicy {
    serde_json::from_value(json!({"apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy", "metadata": {"name": name}, "spec": spec})).unwrap()
}

/// Polls until the decision for nginx is `allowed`, within one second.
pub async fn decision_within_a_second(harness: &Harness, allowed: bool) -> bool {
    eventually(Duration::from_secs(1), || async {
        harness.decide("nginx:1.27", json!({})).await.0 == allowed
    })
    .await
}
