//! `kubectl apply`, client-side (three-way strategic merge with the last-applied annotation)
//! and `--server-side`, against the simulator, with the repository's fixtures.

mod common;

use common::data::fixture;
use common::kubectl::{Cluster, lines};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn policies_api(client: kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(
        "containersecurity.tigera.io",
        "v1beta1",
        "ContainerAdmissionPolicy",
    );
    Api::all_with(
        client,
        &ApiResource::from_gvk_with_plural(&gvk, "containeradmissionpolicies"),
    )
}

const WORKLOADS: [&str; 8] = [
    "cronjob.batch/hourly-report",
    "daemonset.apps/log-agent",
    "deployment.apps/api",
    "job.batch/nightly-export",
    "pod/nginx",
    "replicaset.apps/cache",
    "replicationcontroller/legacy-frontend",
    "statefulset.apps/ledger",
];

fn each(objects: &[&str], outcome: &str) -> Vec<String> {
    objects
        .iter()
        .map(|object| format!("{object} {outcome}"))
        .collect()
}

async fn apply_fixtures(cluster: &Cluster, outcome: &str) {
    let crd = cluster
        .ok(&["apply", "-f", &fixture("webhook/deploy/crd.yaml")])
        .await;
    assert_eq!(
        lines(&crd),
        [format!(
            "customresourcedefinition.apiextensions.k8s.io/containeradmissionpolicies.containersecurity.tigera.io {outcome}"
        )]
    );
    let namespaces = cluster
        .ok(&["apply", "-f", &fixture("fixtures/namespaces/")])
        .await;
    assert_eq!(
        lines(&namespaces),
        [format!("namespace/production {outcome}")]
    );
    let policies = cluster
        .ok(&["apply", "-f", &fixture("fixtures/policies/")])
        .await;
    let expected = each(
        &[
            "containeradmissionpolicy.containersecurity.tigera.io/reject-failed-and-non-gcr",
            "containeradmissionpolicy.containersecurity.tigera.io/reject-outdated-scans",
        ],
        outcome,
    );
    assert_eq!(lines(&policies), expected);
    let workloads = cluster
        .ok(&["apply", "-f", &fixture("fixtures/workloads/")])
        .await;
    assert_eq!(lines(&workloads), each(&WORKLOADS, outcome));
}

#[tokio::test(flavor = "multi_thread")]
async fn client_side_apply_of_the_fixtures_creates_then_reports_unchanged_then_configured() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    apply_fixtures(&cluster, "created").await;

    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get("containeradmissionpolicies.containersecurity.tigera.io")
        .await
        .unwrap();
    assert_eq!(crd.spec.scope, "Cluster");
    let production = Api::<Namespace>::all(client.clone())
        .get("production")
        .await
        .unwrap();
    let labels = production.metadata.labels.unwrap();
    assert_eq!(labels["apply-container-policies"], "true");
    assert_eq!(labels["kubernetes.io/metadata.name"], "production");
    let policy = policies_api(client.clone())
        .get("reject-outdated-scans")
        .await
        .unwrap();
    assert_eq!(policy.data["spec"]["order"], 1);
    assert_eq!(policy.data["spec"]["rules"][1]["action"], "Reject");
    let deployments = Api::<Deployment>::namespaced(client.clone(), "default");
    let api = deployments.get("api").await.unwrap();
    let annotations = api.metadata.annotations.clone().unwrap_or_default();
    assert!(
        annotations[LAST_APPLIED].contains("api:1.2"),
        "{annotations:?}"
    );
    assert_eq!(api.metadata.generation, Some(1));

    apply_fixtures(&cluster, "unchanged").await;
    let unchanged = deployments.get("api").await.unwrap();
    assert_eq!(
        unchanged.metadata.resource_version, api.metadata.resource_version,
        "an unchanged apply writes nothing"
    );

    // Another writer's change to the same list (an env var by `kubectl set env`) must survive
    // the next apply: client-side apply merges containers by name and env by name.
    let set_env = cluster
        .ok(&["set", "env", "deployment/api", "FROM_CLI=1"])
        .await;
    assert_eq!(lines(&set_env), ["deployment.apps/api env updated"]);
    let original = std::fs::read_to_string(fixture("fixtures/workloads/deployment.yaml")).unwrap();
    let changed = original.replace("api:1.2", "api:1.3").replace(
        "          ports: [{containerPort: 8080}]\n",
        "          ports: [{containerPort: 8080}]\n          env: [{name: MODE, value: prod}]\n",
    );
    assert_ne!(
        changed, original,
        "the fixture still has the lines this test edits"
    );
    let path = cluster.write("changed/deployment.yaml", &changed);
    let configured = cluster.ok(&["apply", "-f", &path]).await;
    assert_eq!(lines(&configured), ["deployment.apps/api configured"]);

    let api = deployments.get("api").await.unwrap();
    let resource_version = api.metadata.resource_version.clone();
    assert_eq!(
        api.metadata.generation,
        Some(3),
        "set env and apply each change the spec"
    );
    let spec = api.spec;
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.containers.len(), 1);
    let container = &pod.containers[0];
    assert_eq!(container.name, "api");
    assert_eq!(
        container.image.as_deref(),
        Some("gcr.io/company/production-repository/api:1.3")
    );
    let mut env: Vec<(String, Option<String>)> = container
        .env
        .iter()
        .flatten()
        .map(|var| (var.name.clone(), var.value.clone()))
        .collect();
    env.sort();
    assert_eq!(
        env,
        [
            ("FROM_CLI".into(), Some("1".into())),
            ("MODE".into(), Some("prod".into()))
        ]
    );
    let ports: Vec<i32> = container
        .ports
        .iter()
        .flatten()
        .map(|port| port.container_port)
        .collect();
    assert_eq!(ports, [8080]);
    let init: Vec<(&str, Option<&str>)> = pod
        .init_containers
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.image.as_deref()))
        .collect();
    assert_eq!(
        init,
        [(
            "migrate",
            Some("gcr.io/company/production-repository/migrations:5")
        )]
    );
    let annotations = api.metadata.annotations.unwrap_or_default();
    let last_applied: serde_json::Value = serde_json::from_str(&annotations[LAST_APPLIED]).unwrap();
    assert_eq!(
        last_applied["spec"]["template"]["spec"]["containers"][0]["env"],
        serde_json::json!([{"name": "MODE", "value": "prod"}])
    );
    let managers: Vec<String> = api
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|entry| entry.manager.clone())
        .collect();
    assert!(
        managers.contains(&"kubectl-client-side-apply".to_string()),
        "{managers:?}"
    );

    // Applying it again changes nothing, although kubectl says `configured`: the live env list
    // is longer than the file's, so kubectl's three-way diff sends a `$setElementOrder/env`
    // directive (it does so against kube-apiserver too), which the server merges to no change.
    let again = cluster.ok(&["apply", "-f", &path]).await;
    assert_eq!(lines(&again), ["deployment.apps/api configured"]);
    let same = deployments.get("api").await.unwrap();
    assert_eq!(
        same.metadata.resource_version, resource_version,
        "a no-op patch writes nothing"
    );
}

const SERVER_SIDE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_creates_updates_and_removes_what_the_manifest_drops() {
    let cluster = Cluster::start().await;
    let deployments = Api::<Deployment>::namespaced(cluster.client(), "default");
    let path = cluster.write("web.yaml", SERVER_SIDE);
    let created = cluster.ok(&["apply", "--server-side", "-f", &path]).await;
    assert_eq!(lines(&created), ["deployment.apps/web serverside-applied"]);
    let web = deployments.get("web").await.unwrap();
    let labels = web.metadata.labels.clone().unwrap();
    assert_eq!(
        (labels["app"].as_str(), labels["tier"].as_str()),
        ("web", "front")
    );
    let entries = web.metadata.managed_fields.clone().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (
            entries[0].manager.as_deref(),
            entries[0].operation.as_deref()
        ),
        (Some("kubectl"), Some("Apply"))
    );
    assert!(
        !web.metadata
            .annotations
            .unwrap_or_default()
            .contains_key(LAST_APPLIED),
        "server-side apply keeps no annotation"
    );

    // A label another manager set stays; the label the manifest no longer has goes.
    let labelled = cluster
        .ok(&["label", "deployment", "web", "owner=ops"])
        .await;
    assert_eq!(lines(&labelled), ["deployment.apps/web labeled"]);
    let changed = SERVER_SIDE
        .replace("nginx:1.27", "nginx:1.28")
        .replace(", tier: front", "");
    let path = cluster.write("web.yaml", &changed);
    let updated = cluster.ok(&["apply", "--server-side", "-f", &path]).await;
    assert_eq!(lines(&updated), ["deployment.apps/web serverside-applied"]);
    let web = deployments.get("web").await.unwrap();
    let labels = web.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("tier"), None, "{labels:?}");
    assert_eq!(
        (labels["app"].as_str(), labels["owner"].as_str()),
        ("web", "ops")
    );
    let container = &web.spec.template.spec.unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("nginx:1.28"));
    assert_eq!(web.metadata.generation, Some(2));

    // Another manager changing the image conflicts with the owner, as kube-apiserver reports.
    let other = changed.replace("nginx:1.28", "nginx:1.29");
    let path = cluster.write("other.yaml", &other);
    let conflict = cluster
        .fails(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            &path,
        ])
        .await;
    assert_eq!(
        lines(&conflict)[0],
        "error: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.template.spec.containers[name=\"web\"].image"
    );
    let forced = cluster
        .ok(&[
            "apply",
            "--server-side",
            "--field-manager=other",
            "--force-conflicts",
            "-f",
            &path,
        ])
        .await;
    assert_eq!(lines(&forced), ["deployment.apps/web serverside-applied"]);
    let web = deployments.get("web").await.unwrap();
    let container = &web.spec.template.spec.unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("nginx:1.29"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crd_and_its_objects_in_one_apply_need_a_second_apply_as_with_kube_apiserver() {
    let cluster = Cluster::start().await;
    let crd = fixture("webhook/deploy/crd.yaml");
    let policies = fixture("fixtures/policies/");
    // kubectl maps every object before it creates any, so the policies find no resource yet.
    // Validation must not stop it first: kubectl validates kinds that the OpenAPI v3 index does
    // not list against the v2 document, which has to be there (and skips kinds it lacks).
    let first = cluster.run(&["apply", "-f", &crd, "-f", &policies]).await;
    assert!(!first.success);
    assert_eq!(
        lines(&first.stdout),
        [
            "customresourcedefinition.apiextensions.k8s.io/containeradmissionpolicies.containersecurity.tigera.io created"
        ]
    );
    let mut expected = Vec::new();
    for name in ["reject-failed-and-non-gcr", "reject-outdated-scans"] {
        expected.push(format!(
            r#"resource mapping not found for name: "{name}" namespace: "" from "{policies}{name}.yaml": no matches for kind "ContainerAdmissionPolicy" in version "containersecurity.tigera.io/v1beta1""#
        ));
        expected.push("ensure CRDs are installed first".to_string());
    }
    assert_eq!(lines(&first.stderr), expected);

    let second = cluster.ok(&["apply", "-f", &crd, "-f", &policies]).await;
    assert_eq!(
        lines(&second),
        [
            "customresourcedefinition.apiextensions.k8s.io/containeradmissionpolicies.containersecurity.tigera.io unchanged",
            "containeradmissionpolicy.containersecurity.tigera.io/reject-failed-and-non-gcr created",
            "containeradmissionpolicy.containersecurity.tigera.io/reject-outdated-scans created",
        ]
    );
    let stored = policies_api(cluster.client())
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(stored.items.len(), 2);
}
