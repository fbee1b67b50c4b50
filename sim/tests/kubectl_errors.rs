//! Errors as kubectl prints them from the simulator's Status answers: kube-apiserver's reasons
//! and wording, word for word.

mod common;

use common::data::fixture;
use common::kubectl::{Cluster, lines};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

/// kubectl words an Invalid Status from its details (kind, name, causes), also for `create -f`.
const INVALID: &str = concat!(
    r#"The Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "#,
    r#"and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
);

#[tokio::test(flavor = "multi_thread")]
async fn missing_existing_and_invalid_objects_are_reported_like_kube_apiserver() {
    let cluster = Cluster::start().await;
    let pods = Api::<Pod>::namespaced(cluster.client(), "default");
    let pod = fixture("fixtures/workloads/pod.yaml");

    let missing = cluster.fails(&["get", "pod", "nope"]).await;
    assert_eq!(
        lines(&missing),
        [r#"Error from server (NotFound): pods "nope" not found"#]
    );
    let missing = cluster
        .fails(&["get", "deploy", "nope", "-n", "kube-system"])
        .await;
    assert_eq!(
        lines(&missing),
        [r#"Error from server (NotFound): deployments.apps "nope" not found"#]
    );

    cluster.ok(&["create", "-f", &pod]).await;
    let before = pods.get("nginx").await.unwrap();
    let existing = cluster.fails(&["create", "-f", &pod]).await;
    assert_eq!(
        lines(&existing),
        [format!(
            r#"Error from server (AlreadyExists): error when creating "{pod}": pods "nginx" already exists"#
        )]
    );
    let after = pods.get("nginx").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "the existing pod is untouched"
    );
    let existing = cluster.fails(&["run", "nginx", "--image=nginx"]).await;
    assert_eq!(
        lines(&existing),
        [r#"Error from server (AlreadyExists): pods "nginx" already exists"#]
    );

    let ghost = cluster
        .fails(&["create", "-f", &pod, "--namespace", "ghost"])
        .await;
    assert_eq!(
        lines(&ghost),
        [format!(
            r#"Error from server (NotFound): error when creating "{pod}": namespaces "ghost" not found"#
        )]
    );
    assert!(
        cluster
            .sim
            .state()
            .store
            .list("", "pods", Some("ghost"))
            .0
            .is_empty()
    );

    let invalid = cluster.fails(&["run", "Bad_Name", "--image=nginx"]).await;
    assert_eq!(lines(&invalid), [INVALID]);
    let manifest = std::fs::read_to_string(&pod)
        .unwrap()
        .replace("name: nginx\n  labels", "name: Bad_Name\n  labels");
    let path = cluster.write("bad.yaml", &manifest);
    let invalid = cluster.fails(&["create", "-f", &path]).await;
    assert_eq!(lines(&invalid), [INVALID]);
    let names: Vec<String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(names, ["nginx"], "nothing invalid was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_resource_types_are_refused_by_kubectl_after_discovery() {
    let cluster = Cluster::start().await;
    let unknown = cluster.fails(&["get", "gizmos"]).await;
    assert_eq!(
        lines(&unknown),
        [r#"error: the server doesn't have a resource type "gizmos""#]
    );
}

/// kubectl asks for `fieldValidation=Strict` on create, replace and apply: a typo in a
/// manifest is refused, not silently stored.
#[tokio::test(flavor = "multi_thread")]
async fn fields_the_kind_does_not_declare_are_refused() {
    let cluster = Cluster::start().await;
    let pods = Api::<Pod>::namespaced(cluster.client(), "default");
    let good = std::fs::read_to_string(fixture("fixtures/workloads/pod.yaml")).unwrap();
    let typo = good.replace(
        "      image: nginx:1.27\n",
        "      image: nginx:1.27\n      imagePullPolcy: Always\n",
    );
    assert_ne!(typo, good, "the fixture still has the line this test edits");
    let path = cluster.write("typo.yaml", &typo);
    let unknown = r#"strict decoding error: unknown field "spec.containers[0].imagePullPolcy""#;
    let refused = format!(r#"Pod in version "v1" cannot be handled as a Pod: {unknown}"#);

    let created = cluster.fails(&["create", "-f", &path]).await;
    assert_eq!(
        lines(&created),
        [format!(
            r#"Error from server (BadRequest): error when creating "{path}": {refused}"#
        )]
    );
    let applied = cluster.fails(&["apply", "-f", &path]).await;
    assert_eq!(
        lines(&applied),
        [format!(
            r#"Error from server (BadRequest): error when creating "{path}": {refused}"#
        )]
    );
    assert!(pods.get_opt("nginx").await.unwrap().is_none());

    // On an existing object client-side apply patches, and the patch is what is invalid.
    let good_path = cluster.write("good.yaml", &good);
    cluster.ok(&["apply", "-f", &good_path]).await;
    let before = pods.get("nginx").await.unwrap();
    let patched = cluster.fails(&["apply", "-f", &path]).await;
    let patched = lines(&patched);
    assert_eq!(patched.len(), 1, "{patched:?}");
    assert!(
        patched[0].starts_with(r#"The request is invalid: patch: Invalid value: "map[metadata:map[annotations:map[kubectl.kubernetes.io/last-applied-configuration:{\"apiVersion\":\"v1\""#),
        "{patched:?}"
    );
    assert!(
        patched[0].ends_with(&format!(r#" spec:map[$setElementOrder/containers:[map[name:nginx]] containers:[map[imagePullPolcy:Always name:nginx]]]]": {unknown}"#)),
        "{patched:?}"
    );
    let replaced = cluster.fails(&["replace", "-f", &path]).await;
    assert_eq!(
        lines(&replaced),
        [format!(
            r#"Error from server (BadRequest): error when replacing "{path}": {refused}"#
        )]
    );
    let after = pods.get("nginx").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "nothing was written"
    );
}
