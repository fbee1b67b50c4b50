//! kubectl's typed generators (`kubectl create deployment|namespace|configmap`) send Kubernetes
//! protobuf bodies (`application/vnd.kubernetes.protobuf`), with no fallback to JSON: these
//! commands work only if the simulator decodes protobuf.

mod common;

use common::kubectl::{Cluster, lines};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;

#[tokio::test(flavor = "multi_thread")]
async fn create_deployment_sends_protobuf() {
    let cluster = Cluster::start().await;
    let created = cluster
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
        ])
        .await;
    assert_eq!(lines(&created), ["deployment.apps/web created"]);
    let web = Api::<Deployment>::namespaced(cluster.client(), "default")
        .get("web")
        .await
        .unwrap();
    assert_eq!(web.metadata.labels.unwrap()["app"], "web");
    assert_eq!(web.metadata.generation, Some(1));
    let managers: Vec<String> = web
        .metadata
        .managed_fields
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.manager)
        .collect();
    assert_eq!(managers, ["kubectl-create"]);
    assert_eq!(web.spec.replicas, Some(2));
    assert_eq!(web.spec.selector.match_labels.unwrap()["app"], "web");
    let template = web.spec.template;
    assert_eq!(template.metadata.unwrap().labels.unwrap()["app"], "web");
    let containers = template.spec.unwrap().containers;
    assert_eq!(containers.len(), 1);
    assert_eq!(
        (containers[0].name.as_str(), containers[0].image.as_deref()),
        ("nginx", Some("nginx:1.27"))
    );

    // The object kubectl made from protobuf is an ordinary one for the next commands.
    let updated = cluster
        .ok(&["set", "image", "deploy/web", "nginx=nginx:1.28"])
        .await;
    assert_eq!(lines(&updated), ["deployment.apps/web image updated"]);
    let again = cluster
        .fails(&["create", "deployment", "web", "--image=nginx:1.27"])
        .await;
    assert_eq!(
        lines(&again),
        [r#"error: failed to create deployment: deployments.apps "web" already exists"#]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_namespace_and_configmap_send_protobuf() {
    let cluster = Cluster::start().await;
    let client = cluster.client();
    let created = cluster.ok(&["create", "namespace", "x"]).await;
    assert_eq!(lines(&created), ["namespace/x created"]);
    let x = Api::<Namespace>::all(client.clone())
        .get("x")
        .await
        .unwrap();
    assert_eq!(
        x.metadata.labels.unwrap()["kubernetes.io/metadata.name"],
        "x"
    );
    assert_eq!(
        x.status.and_then(|status| status.phase).as_deref(),
        Some("Active")
    );

    let created = cluster
        .ok(&[
            "create",
            "configmap",
            "settings",
            "-n",
            "x",
            "--from-literal=mode=prod",
            "--from-literal=level=3",
        ])
        .await;
    assert_eq!(lines(&created), ["configmap/settings created"]);
    let settings = Api::<ConfigMap>::namespaced(client, "x")
        .get("settings")
        .await
        .unwrap();
    let data = settings.data.unwrap();
    assert_eq!(
        (data["mode"].as_str(), data["level"].as_str(), data.len()),
        ("prod", "3", 2)
    );
}
