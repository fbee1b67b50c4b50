//! `serve` against the simulated API server, over real TLS: readiness, live policy, namespace
//! and VulnerabilityReport changes, certificate rotation, bad input, failing closed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

/// A CA and a serving certificate for 127.0.0.1, written as PEM files.
struct Certs {
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path, name: &str) -> Certs {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {name}"));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.signed_by(&key, &issuer).unwrap();
    let (cert_path, key_path) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Certs {
        ca_pem: ca.pem(),
        cert: cert_path,
        key: key_path,
    }
}

fn https_client(cas: &[&str]) -> reqwest::Client {
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

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

struct Harness {
    sim: sim::Simulator,
    client: kube::Client,
    address: SocketAddr,
    metrics: SocketAddr,
    https: reqwest::Client,
    certs: Certs,
    dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn install_policy_crd(client: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &ContainerAdmissionPolicy::crd())
        .await
        .unwrap();
}

async fn start(install_crd: bool, scan_results: Option<PathBuf>) -> Harness {
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
    let address = free_port();
    let metrics = free_port();
    let options = ServeOptions {
        listen: address,
        metrics_listen: metrics,
        tls_cert: certs.cert.clone(),
        tls_key: certs.key.clone(),
        scan_results,
        thresholds: SeverityThresholds::default(),
        identities: ControllerIdentities::default(),
        max_body_bytes: 1024 * 1024,
        deadline: Duration::from_secs(3),
        shutdown_grace: Duration::from_secs(1),
        cert_poll: Duration::from_millis(100),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_client = client.clone();
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stopped.await;
        };
        if let Err(error) = serve(options, server_client, stopped).await {
            panic!("serve failed: {error}");
        }
    });
    let https = https_client(&[&certs.ca_pem]);
    let harness = Harness {
        sim,
        client,
        address,
        metrics,
        https,
        certs,
        dir,
        stop: Some(stop),
    };
    // The listener is up once healthz answers.
    assert!(
        eventually(Duration::from_secs(5), || async {
            harness.get("/healthz").await.0 == 200
        })
        .await,
        "serve did not start"
    );
    harness
}

async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
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

fn review(image: &str, labels: Value) -> Value {
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

fn uuid_like() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "00000000-0000-0000-0000-{:012}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        match self.https.get(self.url(path)).send().await {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(_) => (0, String::new()),
        }
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
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
    async fn decide(&self, image: &str, labels: Value) -> (bool, String) {
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

    async fn wait_ready(&self) {
        assert!(
            eventually(Duration::from_secs(10), || async {
                self.get("/readyz").await.0 == 200
            })
            .await,
            "never ready: {:?}",
            self.get("/readyz").await
        );
    }

    fn policies(&self) -> Api<ContainerAdmissionPolicy> {
        Api::all(self.client.clone())
    }
}

fn policy(name: &str, spec: Value) -> ContainerAdmissionPolicy {
    serde_json::from_value(json!({"apiVersion": "containersecurity.tigera.io/v1beta1", "kind": "ContainerAdmissionPolicy", "metadata": {"name": name}, "spec": spec})).unwrap()
}

/// Polls until the decision for nginx is `allowed`, within one second.
async fn decision_within_a_second(harness: &Harness, allowed: bool) -> bool {
    eventually(Duration::from_secs(1), || async {
        harness.decide("nginx:1.27", json!({})).await.0 == allowed
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_waits_until_every_source_has_synced() {
    let harness = start(false, None).await;
    // The policy CRD does not exist yet, so policies cannot sync.
    let (code, body) = harness.get("/readyz").await;
    assert_eq!(code, 503);
    assert!(body.contains("ContainerAdmissionPolicies"), "{body}");
    install_policy_crd(&harness.client).await;
    harness.wait_ready().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_changes_change_decisions_within_a_second() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    assert!(
        harness.decide("nginx:1.27", json!({})).await.0,
        "no policy: default allow"
    );
    harness.policies().create(&PostParams::default(), &policy("deny-nginx", json!({"order": 1, "rules": [{"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": ["nginx"]}}]}))).await.unwrap();
    assert!(decision_within_a_second(&harness, false).await, "created");
    let (_, message) = harness.decide("nginx:1.27", json!({})).await;
    assert_eq!(
        message,
        "image \"nginx:1.27\" (container \"web\"): Action 'Reject' enforced by ContainerPolicy deny-nginx rule index 0"
    );
    harness
        .policies()
        .patch(
            "deny-nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rules": [{"action": "Allow"}]}})),
        )
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, true).await, "changed");
    harness
        .policies()
        .patch(
            "deny-nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"rules": [{"action": "Reject"}]}})),
        )
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "changed back"
    );
    harness
        .policies()
        .delete("deny-nginx", &DeleteParams::default())
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, true).await, "deleted");
    // Metrics count the decisions, on their own plain-HTTP port.
    let metrics = reqwest::get(format!("http://{}/metrics", harness.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("image_assurance_admission_requests_total{decision=\"rejected\",kind=\"Deployment\",endpoint=\"admission-review\"}"), "{metrics}");
    assert!(
        metrics.contains("image_assurance_policies_loaded 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("image_assurance_source_synced{source=\"policies\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_label_changes_change_decisions_within_a_second() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    harness
        .policies()
        .create(
            &PostParams::default(),
            &policy(
                "prod-only",
                json!({"namespaceSelector": "env == 'prod'", "rules": [{"action": "Reject"}]}),
            ),
        )
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(1), || async {
            harness.decide("nginx", json!({})).await.0
        })
        .await
    );
    let namespaces: Api<Namespace> = Api::all(harness.client.clone());
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": "prod"}}})),
        )
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, false).await, "labelled");
    namespaces
        .patch(
            "team-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"env": null}}})),
        )
        .await
        .unwrap();
    assert!(decision_within_a_second(&harness, true).await, "unlabelled");
}

fn report(summary: Value, updated: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1", "kind": "VulnerabilityReport",
        "metadata": {"name": "replicaset-web-web", "namespace": "team-a"},
        "report": {"updateTimestamp": updated, "registry": {"server": "index.docker.io"}, "artifact": {"repository": "library/nginx", "tag": "1.27"}, "summary": summary},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn vulnerability_reports_set_the_status_even_when_their_crd_arrives_later() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    harness.policies().create(&PostParams::default(), &policy("pass-only", json!({"rules": [{"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}}, {"action": "Reject"}]}))).await.unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "never scanned: Unknown, rejected"
    );
    let crd: CustomResourceDefinition = serde_saphyr::from_str(include_str!(
        "../../fixtures/crds/vulnerabilityreports.yaml"
    ))
    .unwrap();
    Api::<CustomResourceDefinition>::all(harness.client.clone())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("aquasecurity.github.io", "v1alpha1", "VulnerabilityReport"),
        "vulnerabilityreports",
    );
    let reports: Api<DynamicObject> =
        Api::namespaced_with(harness.client.clone(), "team-a", &resource);
    reports
        .create(
            &PostParams::default(),
            &report(
                json!({"criticalCount": 0, "highCount": 0, "mediumCount": 0, "lowCount": 2}),
                "2026-11-25T10:00:00Z",
            ),
        )
        .await
        .unwrap();
    // The CRD is polled every 2 s, then the reports are listed.
    assert!(
        eventually(Duration::from_secs(5), || async {
            harness.decide("nginx:1.27", json!({})).await.0
        })
        .await,
        "a Pass report allows"
    );
    reports
        .patch("replicaset-web-web", &PatchParams::default(), &Patch::Merge(json!({"report": {"summary": {"criticalCount": 1}, "updateTimestamp": "2026-11-26T10:00:00Z"}})))
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "a critical finding makes it Fail"
    );

    // The report's updateTimestamp is the scan time: a 3-day window admits a fresh scan only.
    harness
        .policies()
        .delete("pass-only", &DeleteParams::default())
        .await
        .unwrap();
    harness.policies().create(&PostParams::default(), &policy("fresh-scans", json!({"rules": [{"action": "Allow", "imageLastScan": {"operator": "gt", "duration": {"days": 3}}}, {"action": "Reject"}]}))).await.unwrap();
    let ago = |days: i64| {
        (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    reports
        .patch(
            "replicaset-web-web",
            &PatchParams::default(),
            &Patch::Merge(json!({"report": {"updateTimestamp": ago(1)}})),
        )
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, true).await,
        "scanned a day ago"
    );
    reports
        .patch(
            "replicaset-web-web",
            &PatchParams::default(),
            &Patch::Merge(json!({"report": {"updateTimestamp": ago(5)}})),
        )
        .await
        .unwrap();
    assert!(
        decision_within_a_second(&harness, false).await,
        "scanned five days ago"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_certificate_is_served_to_new_connections_without_failed_requests() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    let second = make_certs(harness.dir.path(), "second");
    // A client trusting both CAs keeps posting through the rotation: nothing may fail.
    let both = https_client(&[&harness.certs.ca_pem, &second.ca_pem]);
    let failures = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel::<()>();
    let url = harness.url("/admission-review");
    let loop_task = {
        let (failures, sent) = (failures.clone(), sent.clone());
        tokio::spawn(async move {
            while done_rx.try_recv().is_err() {
                let body = review("nginx", json!({})).to_string();
                match both.post(&url).body(body).send().await {
                    Ok(response) if response.status() == 200 => {}
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    std::fs::copy(&second.cert, &harness.certs.cert).unwrap();
    std::fs::copy(&second.key, &harness.certs.key).unwrap();
    let only_second = https_client(&[&second.ca_pem]);
    let url = harness.url("/healthz");
    assert!(
        eventually(Duration::from_secs(5), || async {
            only_second
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await,
        "new connections never got the new certificate"
    );
    let _ = done_tx.send(());
    loop_task.await.unwrap();
    assert!(sent.load(Ordering::Relaxed) > 0);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "requests failed during the rotation"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_answer_and_the_server_keeps_serving() {
    let harness = start(true, None).await;
    harness.wait_ready().await;
    harness
        .policies()
        .create(
            &PostParams::default(),
            &policy("deny-all", json!({"rules": [{"action": "Reject"}]})),
        )
        .await
        .unwrap();
    let mut no_uid = review("nginx", json!({}));
    no_uid["request"]["uid"] = json!("");
    let mut bad_version = review("nginx", json!({}));
    bad_version["apiVersion"] = json!("admission.k8s.io/v2");
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed JSON", b"{\"apiVersion\":".to_vec(), 400),
        (
            "no request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            400,
        ),
        ("no uid", no_uid.to_string().into_bytes(), 400),
        ("unknown version", bad_version.to_string().into_bytes(), 400),
        ("huge body", vec![b' '; 2 * 1024 * 1024], 413),
    ];
    for (what, body, code) in cases {
        let (got, answer) = harness.post("/admission-review", body).await;
        assert_eq!(got, code, "{what}: {answer}");
    }
    // An object that does not parse for its kind: a denial with the reason, never an allow.
    let mut garbled = review("nginx", json!({}));
    garbled["request"]["object"]["spec"]["replicas"] = json!("many");
    let (code, answer) = harness
        .post("/admission-review", garbled.to_string().into_bytes())
        .await;
    assert_eq!(code, 200);
    assert_eq!(answer["response"]["allowed"], false);
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("spec.replicas"),
        "{answer}"
    );
    // A slow client that never finishes its headers is cut off; others are unaffected.
    let mut slow = tokio::net::TcpStream::connect(harness.address)
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"\x16\x03\x01")
        .await
        .unwrap();
    // Still serving correctly.
    assert!(
        eventually(Duration::from_secs(1), || async {
            !harness.decide("nginx", json!({})).await.0
        })
        .await
    );
    let (allowed, message) = harness.decide("nginx", json!({})).await;
    assert!(
        !allowed && message.contains("ContainerPolicy deny-all rule index 0"),
        "{message}"
    );
    drop(slow);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_scan_file_fails_closed_with_a_message() {
    let missing = std::env::temp_dir().join(format!("no-such-scans-{}.yaml", std::process::id()));
    let harness = start(true, Some(missing)).await;
    assert!(
        eventually(Duration::from_secs(2), || async {
            harness.get("/readyz").await.1.contains("scan-results file")
        })
        .await
    );
    harness.policies().create(&PostParams::default(), &policy("pass-only", json!({"rules": [{"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}}, {"action": "Reject"}]}))).await.unwrap();
    assert!(
        eventually(Duration::from_secs(2), || async {
            let (allowed, message) = harness.decide("nginx", json!({})).await;
            !allowed
                && message.contains("scan data is unavailable")
                && message.contains("scan-results file")
        })
        .await,
        "{:?}",
        harness.decide("nginx", json!({})).await
    );
    let _ = &harness.sim;
}
