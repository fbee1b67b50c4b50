//! The audit against the simulated API server: `image-assurance audit` (the built binary, with
//! KUBECONFIG), and `serve`'s periodic audit publishing PolicyReports, policy statuses and the
//! violations gauge.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use image_assurance::audit::policy_report::PolicyReport;
use image_assurance::policy::crd::ContainerAdmissionPolicy;
use image_assurance::scan::SeverityThresholds;
use image_assurance::server::audit_task::AuditSettings;
use image_assurance::server::{ServeOptions, serve};
use image_assurance::workload::ControllerIdentities;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{CustomResourceExt, ResourceExt};
use serde_json::{Value, json};
use serve_support::{eventually, free_port, install_policy_crd, make_certs, policy};

const WEBHOOK_NAMESPACE: &str = "tigera-image-assurance";

async fn create(client: &kube::Client, value: Value) -> DynamicObject {
    let api_version = value["apiVersion"].as_str().unwrap().to_string();
    let kind = value["kind"].as_str().unwrap().to_string();
    let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
    let plural = format!("{}s", kind.to_lowercase());
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, &kind), &plural);
    let object: DynamicObject = serde_json::from_value(value.clone()).unwrap();
    let api: Api<DynamicObject> = match value["metadata"]["namespace"].as_str() {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|error| panic!("creating {kind}: {error}"))
}

fn template(image: &str) -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}})
}

fn deployment(namespace: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
           "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(image)}})
}

fn owner(kind: &str, object: &DynamicObject) -> Value {
    json!([{"apiVersion": if kind == "Pod" { "v1" } else { "apps/v1" }, "kind": kind,
            "name": object.name_any(), "uid": object.uid().unwrap(), "controller": true}])
}

/// The cluster the tests audit: namespace `covered` (selected by the webhook configuration)
/// with Deployment `web` (nginx, rejected by `no-nginx`) and its ReplicaSet and two Pods, and
/// Deployment `api` (allowed); namespace `uncovered` with another nginx Deployment; and, when
/// `broken`, an invalid policy that applies to nothing.
async fn cluster(broken: bool) -> (sim::Simulator, kube::Client) {
    let sim = sim::Simulator::start(sim::Config::default()).await.unwrap();
    let client = sim.client().unwrap();
    install_policy_crd(&client).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &PolicyReport::crd())
        .await
        .unwrap();
    for (name, labels) in [
        ("covered", json!({"audit": "on"})),
        ("uncovered", json!({})),
        (WEBHOOK_NAMESPACE, json!({})),
    ] {
        create(
            &client,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
        )
        .await;
    }
    // The installed webhook's configuration: only its name, its webhook's name and its
    // namespaceSelector matter to the audit (its rules name a kind no test creates).
    create(&client, json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "image-assurance.tigera.io"},
        "webhooks": [{
            "name": "image-assurance.tigera.io",
            "namespaceSelector": {"matchLabels": {"audit": "on"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]}],
            "clientConfig": {"url": "https://127.0.0.1:9/admission-review"},
            "failurePolicy": "Ignore", "sideEffects": "None", "admissionReviewVersions": ["v1"],
        }],
    }))
    .await;
    let policies: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    let no_nginx = policy(
        "no-nginx",
        json!({"rules": [{"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": ["/nginx:"]}}]}),
    );
    policies
        .create(&PostParams::default(), &no_nginx)
        .await
        .unwrap();
    if broken {
        let broken = policy(
            "broken",
            json!({"namespaceSelector": "kubernetes.io/metadata.name == 'nowhere'",
                   "rules": [{"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": ["("]}}]}),
        );
        policies
            .create(&PostParams::default(), &broken)
            .await
            .unwrap();
    }
    let web = create(&client, deployment("covered", "web", "nginx:1.27")).await;
    let mut replica_set = deployment("covered", "web-5d9", "nginx:1.27");
    replica_set["kind"] = json!("ReplicaSet");
    replica_set["metadata"]["ownerReferences"] = owner("Deployment", &web);
    let replica_set = create(&client, replica_set).await;
    for pod in ["web-5d9-a", "web-5d9-b"] {
        create(&client, json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": "covered", "ownerReferences": owner("ReplicaSet", &replica_set)},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}))
        .await;
    }
    create(
        &client,
        deployment("covered", "api", "gcr.io/company/api:1.2"),
    )
    .await;
    create(&client, deployment("uncovered", "web", "nginx:1.27")).await;
    (sim, client)
}

/// Polls `check` until it gives a value, for up to `limit`.
async fn poll<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn audit_command(kubeconfig: &Path, args: &[&str]) -> Output {
    let kubeconfig = kubeconfig.to_path_buf();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_image-assurance"))
            .arg("audit")
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn rows(output: &Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|cell| cell.to_string()).collect()
}

#[tokio::test]
async fn the_audit_command_reports_each_rejected_workload_once_through_its_owner() {
    let (mut sim, client) = cluster(false).await;
    let kubeconfig: PathBuf = sim.kubeconfig_path().unwrap();
    let scans = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        scans.path(),
        "images:\n  - image: nginx:1.27\n    status: Fail\n    lastScan: \"2026-11-25T10:00:00Z\"\n",
    )
    .unwrap();
    let scans_path = scans.path().to_str().unwrap().to_string();

    // The table: the Deployment once (not its ReplicaSet, not its Pods), not `api` (allowed),
    // not the uncovered namespace's Deployment.
    let output = audit_command(&kubeconfig, &["--scans", &scans_path]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        rows(&output),
        [
            row(&[
                "NAMESPACE",
                "KIND",
                "NAME",
                "CONTAINER",
                "IMAGE",
                "STATUS",
                "POLICY",
                "RULE"
            ]),
            row(&[
                "covered",
                "Deployment",
                "web",
                "web",
                "nginx:1.27",
                "Fail",
                "no-nginx",
                "0"
            ]),
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("audit: 2 objects decided in 1 namespaces (3 more reported through their owners): 1 rejected images"),
        "{stderr}"
    );

    // JSON lines: one object per rejected image.
    let output = audit_command(&kubeconfig, &["--output", "json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let line = &lines[0];
    for (field, expected) in [
        ("namespace", json!("covered")),
        ("kind", json!("Deployment")),
        ("apiVersion", json!("apps/v1")),
        ("name", json!("web")),
        ("container", json!("web")),
        ("image", json!("nginx:1.27")),
        ("status", json!("Unknown")),
        ("policy", json!("no-nginx")),
        ("ruleIndex", json!(0)),
        ("enforcement", json!("Enforce")),
        ("result", json!("fail")),
        (
            "message",
            json!(
                "image \"nginx:1.27\" (container \"web\"): Action 'Reject' enforced by ContainerPolicy no-nginx rule index 0"
            ),
        ),
    ] {
        assert_eq!(line[field], expected, "{field} in {line}");
    }
    assert!(line["uid"].is_string(), "{line}");

    // Every namespace, whatever the webhook covers.
    let output = audit_command(&kubeconfig, &["--all-namespaces"]).await;
    assert_eq!(output.status.code(), Some(1));
    let names: Vec<(String, String)> = rows(&output)
        .into_iter()
        .skip(1)
        .map(|row| (row[0].clone(), row[2].clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("covered".to_string(), "web".to_string()),
            ("uncovered".to_string(), "web".to_string())
        ]
    );

    // Bad input: a configuration that does not exist.
    let output = audit_command(&kubeconfig, &["--webhook-configuration", "nope"]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ValidatingWebhookConfiguration \"nope\" not found"),
        "{stderr}"
    );
    let output = audit_command(&kubeconfig, &["--audit-nothing"]).await;
    assert_eq!(output.status.code(), Some(2));

    // Nothing rejected once the policy is gone.
    let policies: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    policies
        .delete("no-nginx", &DeleteParams::default())
        .await
        .unwrap();
    let output = audit_command(&kubeconfig, &[]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());

    // An unreachable cluster.
    sim.shutdown().await;
    let output = audit_command(&kubeconfig, &[]).await;
    assert_eq!(output.status.code(), Some(2));
}

fn serve_options(audit: AuditSettings, dir: &Path) -> (ServeOptions, std::net::SocketAddr) {
    let certs = make_certs(dir, "audit");
    let metrics = free_port();
    (
        ServeOptions {
            listen: free_port(),
            metrics_listen: metrics,
            tls_cert: certs.cert,
            tls_key: certs.key,
            scan_results: None,
            thresholds: SeverityThresholds::default(),
            identities: ControllerIdentities::default(),
            every_enforcement: None,
            max_body_bytes: 1024 * 1024,
            deadline: Duration::from_secs(3),
            shutdown_grace: Duration::from_secs(1),
            cert_poll: Duration::from_millis(100),
            audit,
        },
        metrics,
    )
}

type Serving = tokio::task::JoinHandle<Result<(), image_assurance::server::ServeError>>;

/// Starts `serve` on ports picked free, and again on others when a parallel test took one
/// meanwhile (the race `serve_support::start` handles too); returns once metrics answer.
async fn start_serving(
    settings: &AuditSettings,
    dir: &Path,
    client: &kube::Client,
) -> (
    Serving,
    tokio::sync::oneshot::Sender<()>,
    std::net::SocketAddr,
) {
    for _ in 0..5 {
        let (options, metrics) = serve_options(settings.clone(), dir);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_client = client.clone();
        let server = tokio::spawn(async move {
            serve(options, server_client, async move {
                let _ = stopped.await;
            })
            .await
        });
        let url = format!("http://{metrics}/metrics");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if server.is_finished() {
                match server.await {
                    Ok(Err(error)) if error.to_string().contains("Address already in use") => break,
                    other => panic!("serve stopped: {other:?}"),
                }
            }
            // Our own metrics, not another process's listener on the same port.
            if let Ok(response) = reqwest::get(&url).await
                && response
                    .text()
                    .await
                    .is_ok_and(|text| text.contains("image_assurance_"))
            {
                return (server, stop, metrics);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "serve did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("no free ports for the webhook after 5 tries")
}

#[tokio::test]
async fn serve_publishes_policy_reports_statuses_and_the_gauge_as_the_lease_holder() {
    let (_sim, client) = cluster(true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = AuditSettings::new(
        Duration::from_secs(1),
        WEBHOOK_NAMESPACE.to_string(),
        "webhook-pod-a".to_string(),
    );
    settings.debounce = Duration::from_millis(200);
    let (server, stop, metrics) = start_serving(&settings, dir.path(), &client).await;

    let reports: Api<PolicyReport> = Api::namespaced(client.clone(), "covered");
    let report = poll(Duration::from_secs(30), || async {
        reports.get_opt("image-assurance").await.unwrap()
    })
    .await
    .expect("a PolicyReport in the covered namespace");
    let report = serde_json::to_value(report).unwrap();
    assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
    assert_eq!(
        report["summary"],
        json!({"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0})
    );
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{report}");
    let result = &results[0];
    assert_eq!(result["policy"], "no-nginx");
    assert_eq!(result["rule"], "rules[0]");
    assert_eq!(result["result"], "fail");
    assert_eq!(result["source"], "image-assurance");
    assert!(result["timestamp"]["seconds"].as_i64().unwrap() > 0);
    assert_eq!(
        result["resources"][0],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "covered",
               "uid": result["resources"][0]["uid"].clone()})
    );
    let uncovered: Api<PolicyReport> = Api::namespaced(client.clone(), "uncovered");
    assert!(
        uncovered
            .get_opt("image-assurance")
            .await
            .unwrap()
            .is_none()
    );

    // Statuses: the rejecting policy counts one workload; the invalid one says why.
    let policies: Api<ContainerAdmissionPolicy> = Api::all(client.clone());
    let (no_nginx, broken) = poll(Duration::from_secs(10), || async {
        let status =
            |policy: ContainerAdmissionPolicy| serde_json::to_value(policy.status).unwrap();
        let statuses = (
            status(policies.get("no-nginx").await.unwrap()),
            status(policies.get("broken").await.unwrap()),
        );
        (!statuses.0.is_null() && !statuses.1.is_null()).then_some(statuses)
    })
    .await
    .expect("both policies' statuses written");
    assert_eq!(no_nginx["violations"], 1, "{no_nginx}");
    assert_eq!(no_nginx["observedGeneration"], 1, "{no_nginx}");
    assert!(no_nginx["violationsCountedAt"].is_string());
    assert_eq!(no_nginx["conditions"][0]["type"], "Ready");
    assert_eq!(no_nginx["conditions"][0]["status"], "True");
    assert_eq!(no_nginx["conditions"][0]["reason"], "Valid");
    assert_eq!(broken["conditions"][0]["status"], "False");
    assert_eq!(broken["conditions"][0]["reason"], "Invalid");
    let message = broken["conditions"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("ContainerAdmissionPolicy broken: field `spec.rules[0].imagePath"),
        "{message}"
    );
    assert_eq!(broken["violations"], 0);

    // The lease, held as client-go holds one.
    let leases: Api<Lease> = Api::namespaced(client.clone(), WEBHOOK_NAMESPACE);
    let lease = leases.get("image-assurance-audit").await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("webhook-pod-a"));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert!(spec.acquire_time.is_some() && spec.renew_time.is_some());

    // The gauge.
    let url = format!("http://{metrics}/metrics");
    let gauge = "image_assurance_audit_violations{namespace=\"covered\",policy=\"no-nginx\"} 1";
    let scraped = poll(Duration::from_secs(5), || async {
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        text.contains(gauge).then_some(())
    })
    .await;
    assert!(
        scraped.is_some(),
        "{}",
        reqwest::get(&url).await.unwrap().text().await.unwrap()
    );

    // The violation goes: the report goes, the count drops, the series disappears.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "covered");
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "covered");
    let replica_sets: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
        Api::namespaced(client.clone(), "covered");
    // The simulator without controllers leaves children; deleted here as the garbage
    // collector would.
    let _ = replica_sets
        .delete("web-5d9", &DeleteParams::default())
        .await;
    for pod in ["web-5d9-a", "web-5d9-b"] {
        let _ = pods.delete(pod, &DeleteParams::default()).await;
    }
    let gone = eventually(Duration::from_secs(15), || async {
        reports.get_opt("image-assurance").await.unwrap().is_none()
            && policies
                .get("no-nginx")
                .await
                .unwrap()
                .status
                .and_then(|s| s.violations)
                == Some(0)
    })
    .await;
    assert!(gone, "the report or the count stayed");
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        !text.contains("image_assurance_audit_violations{"),
        "{text}"
    );

    let _ = stop.send(());
    let _ = server.await;
}
