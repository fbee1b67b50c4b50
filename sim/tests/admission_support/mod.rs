//! Shared by the `admission_*.rs` tests and those of other groups that need a webhook: a
//! throwaway CA, an HTTPS test webhook that records what it receives and answers as the test
//! says (including on purpose badly), and the Service + Endpoints + ValidatingWebhookConfiguration
//! that point the simulator at it.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

use crate::common::api::raw;
use crate::common::objects::service;
use crate::common::start;

/// A CA whose certificates the tests issue.
pub struct Ca {
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("test CA {name}"));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// `caBundle` as stored in a webhook configuration.
    pub fn bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.pem)
    }

    /// A serving certificate and key for `names`.
    pub fn issue(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// How the test webhook answers one request.
#[derive(Clone, Debug)]
pub enum Answer {
    Allow {
        warnings: Vec<String>,
    },
    Deny {
        status: Value,
        warnings: Vec<String>,
    },
    /// A whole response of the test's making.
    Raw {
        code: u16,
        content_type: &'static str,
        body: String,
    },
    /// Allows, after this long.
    Slowly(Duration),
    /// Never answers.
    Hang,
    /// Closes the connection without an answer.
    Close,
}

impl Answer {
    pub fn allow() -> Answer {
        Answer::Allow { warnings: vec![] }
    }
}

type Decide = dyn Fn(&str, &Value) -> Answer + Send + Sync;

/// An HTTPS webhook on 127.0.0.1: records every AdmissionReview, answers with `decide(path,
/// review)`.
pub struct TestWebhook {
    pub address: SocketAddr,
    pub received: Arc<Mutex<Vec<(String, Value)>>>,
    /// TLS connections accepted so far.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestWebhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestWebhook {
    /// Serves with a certificate from `ca` for `names`.
    pub async fn start(
        ca: &Ca,
        names: &[&str],
        decide: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static,
    ) -> TestWebhook {
        let (cert, key) = ca.issue(names);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let decide: Arc<Decide> = Arc::new(decide);
        let recorder = received.clone();
        let connections: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (acceptor, recorder, decide) =
                    (acceptor.clone(), recorder.clone(), decide.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, recorder.clone(), decide.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TestWebhook {
            address,
            received,
            connections,
            task,
        }
    }

    /// Serves with a certificate from `ca` behind Service `service` in `default` (its name
    /// `<service>.default.svc`).
    pub async fn serve(
        client: &kube::Client,
        ca: &Ca,
        service: &str,
        decide: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static,
    ) -> TestWebhook {
        let name = format!("{service}.default.svc");
        let hook = TestWebhook::start(ca, &[name.as_str()], decide).await;
        service_for(client, "default", service, hook.address).await;
        hook
    }

    pub fn reviews(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    recorder: Arc<Mutex<Vec<(String, Value)>>>,
    decide: Arc<Decide>,
) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    recorder
        .lock()
        .unwrap()
        .push((path.clone(), review.clone()));
    let uid = review["request"]["uid"].clone();
    let api_version = review["apiVersion"].clone();
    let reply = |response: Value| {
        let body =
            json!({"apiVersion": api_version, "kind": "AdmissionReview", "response": response});
        hyper::Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    match decide(&path, &review) {
        Answer::Allow { warnings } => Ok(reply(
            json!({"uid": uid, "allowed": true, "warnings": warnings}),
        )),
        Answer::Deny { status, warnings } => Ok(reply(
            json!({"uid": uid, "allowed": false, "status": status, "warnings": warnings}),
        )),
        Answer::Raw {
            code,
            content_type,
            body,
        } => Ok(hyper::Response::builder()
            .status(code)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap()),
        Answer::Slowly(delay) => {
            tokio::time::sleep(delay).await;
            Ok(reply(json!({"uid": uid, "allowed": true})))
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(std::io::Error::other("hung"))
        }
        Answer::Close => Err(std::io::Error::other("closing on purpose")),
    }
}

/// A simulator (API server only), a client of it, and a test webhook behind Service `hook` in
/// `default` with a certificate from `ca`.
pub struct Setup {
    pub sim: sim::Simulator,
    pub client: kube::Client,
    pub ca: Ca,
    pub hook: TestWebhook,
}

/// Starts a [`Setup`] whose webhook answers `decide(path, review)`.
pub async fn setup(decide: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static) -> Setup {
    let (sim, client) = start::api().await;
    let ca = Ca::new("webhooks");
    let hook = TestWebhook::serve(&client, &ca, "hook", decide).await;
    Setup {
        sim,
        client,
        ca,
        hook,
    }
}

/// A Service `name` in `namespace` on port 443 whose only ready endpoint is `endpoint`.
pub async fn service_for(client: &kube::Client, namespace: &str, name: &str, endpoint: SocketAddr) {
    let service = service(
        name,
        json!({"ports": [{"name": "https", "port": 443, "targetPort": endpoint.port()}]}),
    );
    let created = raw(
        client,
        "POST",
        &format!("/api/v1/namespaces/{namespace}/services"),
        Some(service),
    )
    .await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": endpoint.ip().to_string()}],
                     "ports": [{"name": "https", "port": endpoint.port(), "protocol": "TCP"}]}]});
    let created = raw(
        client,
        "POST",
        &format!("/api/v1/namespaces/{namespace}/endpoints"),
        Some(endpoints),
    )
    .await;
    assert_eq!(created.code, 201, "{:?}", created.body);
}

/// A webhook entry calling Service `svc` in `default` at `path`, for pods (all operations)
/// unless `fields` override it.
pub fn webhook(name: &str, svc: &str, path: &str, ca: &Ca, fields: Value) -> Value {
    let mut webhook = json!({
        "name": name,
        "clientConfig": {
            "service": {"name": svc, "namespace": "default", "path": path},
            "caBundle": ca.bundle(),
        },
        "rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                   "resources": ["pods", "pods/*"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    });
    for (key, value) in fields.as_object().unwrap() {
        webhook[key] = value.clone();
    }
    webhook
}

/// Where ValidatingWebhookConfigurations are.
pub const CONFIGURATIONS: &str =
    "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";

/// A ValidatingWebhookConfiguration.
pub fn configuration(name: &str, webhooks: Vec<Value>) -> Value {
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": webhooks,
    })
}

/// Stores a ValidatingWebhookConfiguration.
pub async fn configure(client: &kube::Client, name: &str, webhooks: Vec<Value>) {
    let configuration = configuration(name, webhooks);
    let created = raw(client, "POST", CONFIGURATIONS, Some(configuration)).await;
    assert_eq!(created.code, 201, "{:?}", created.body);
}

pub async fn unconfigure(client: &kube::Client, name: &str) {
    let deleted = raw(client, "DELETE", &format!("{CONFIGURATIONS}/{name}"), None).await;
    assert_eq!(deleted.code, 200, "{:?}", deleted.body);
}
